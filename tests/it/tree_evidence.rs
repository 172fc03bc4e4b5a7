//! Evidence per package of an npm tree: the registry's signatures
//! (`dist.signatures`) of server-everything 2026.8.31 and its 110
//! dependencies, checked against the registry's pinned keys and recorded
//! per package in the lock; `[sources] registry-signatures` requires
//! them of the package itself ("top") or of the whole tree ("tree").
//!
//! The test registry is not registry.npmjs.org, so its key is pinned in
//! the trust store (`[[registry-key]]`) as a user pins a mirror's; the
//! real npm keys and real npm signatures are checked by the unit tests
//! of src/deps/evidence.rs.

use std::fs;

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use serde_json::{Value, json};

use super::add::assert_untouched;
use super::npm_tree::{SOURCE, add_args, captured, entry, packuments, serve};
use super::support::tls_server::{Response, TlsServer};
use super::support::util::*;

const KEYID: &str = "SHA256:test-registry-key-1";

/// The registry's signing key (fixed, so runs are alike).
fn signing_key(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn public_b64(k: &p256::ecdsa::SigningKey) -> String {
    let der = k.verifying_key().to_public_key_der().unwrap();
    base64::engine::general_purpose::STANDARD.encode(der.as_bytes())
}

/// The signature the registry makes: ECDSA P-256 SHA-256 over
/// `NAME@VERSION:INTEGRITY`, base64 of DER.
fn sign(k: &p256::ecdsa::SigningKey, name: &str, version: &str, integrity: &str) -> String {
    let sig: p256::ecdsa::Signature = k.sign(format!("{name}@{version}:{integrity}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
}

/// Pins `key` for `server` in the user's trust store.
fn pin_key(env: &TestEnv, server: &TlsServer, keyid: &str, key: &str, expires: Option<&str>) {
    let mut text = fs::read_to_string(env.trust_file()).unwrap_or_default();
    text.push_str(&format!(
        "\n[[registry-key]]\nregistry = \"{}\"\nkeyid = \"{keyid}\"\nkey = \"{key}\"\n",
        server.base_url()
    ));
    if let Some(e) = expires {
        text.push_str(&format!("expires = \"{e}\"\n"));
    }
    fs::create_dir_all(env.trust_file().parent().unwrap()).unwrap();
    fs::write(env.trust_file(), text).unwrap();
}

/// The captured tree's packuments, each version signed by `key` as
/// `keyid`, then changed by `edit(name, dist)`.
fn signed_packuments(
    server: &TlsServer,
    key: &p256::ecdsa::SigningKey,
    keyid: &str,
    edit: &Edit,
) -> serde_json::Map<String, Value> {
    let mut packs = packuments(server);
    for (name, p) in packs.iter_mut() {
        for (v, doc) in p["versions"].as_object_mut().unwrap() {
            let dist = doc["dist"].as_object_mut().unwrap();
            let integrity = dist["integrity"].as_str().unwrap().to_string();
            dist.insert(
                "signatures".into(),
                json!([{ "keyid": keyid, "sig": sign(key, name, v, &integrity) }]),
            );
            edit(name, dist);
        }
    }
    packs
}

/// A registry whose metadata is made for it by `make`.
fn registry_with(make: impl FnOnce(&TlsServer) -> serde_json::Map<String, Value>) -> TlsServer {
    let server = TlsServer::start();
    let packs = make(&server);
    serve(&server, &packs, &captured);
    server
}

/// Nothing is required of `everything` but what `[sources]` says.
fn policy_with(path: &std::path::Path, sources: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        format!(
            "version = 1\n\n[sources]\n{sources}\n\n[[servers]]\nname = \"everything\"\nrequire = []\n"
        ),
    )
    .unwrap();
}

fn no_edit(_: &str, _: &mut Dist) {}

/// A version's `dist`.
type Dist = serde_json::Map<String, Value>;
/// A change made to each version's `dist` (given the package name).
type Edit = dyn Fn(&str, &mut Dist);
type EditFn = fn(&str, &mut Dist);

#[test]
fn registry_signatures_verify_and_are_recorded_per_package() {
    let env = TestEnv::new();
    let key = signing_key(7);
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &no_edit));
    // Pinned with the command, read back by `trust list`, used by `add`.
    env.run([
        "trust",
        "add-registry-key",
        "--registry",
        &format!("{}/", server.base_url()),
        "--keyid",
        KEYID,
        "--key",
        &public_b64(&key),
    ])
    .code(0)
    .stderr_has(&format!(
        "trusted registry key `{KEYID}` for {}",
        server.base_url()
    ));
    env.run(["trust", "list"])
        .code(0)
        .stdout_has(&format!("{KEYID}  registry key for {}", server.base_url()));
    env.run([
        "trust",
        "add-registry-key",
        "--registry",
        &server.base_url(),
        "--keyid",
        KEYID,
        "--key",
        "AAAA",
    ])
    .code(2)
    .diag("trust-input");
    policy_with(&env.user_policy(), "registry-signatures = \"tree\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(0)
        .stdout_has("pinned everything")
        .stderr_has("note: 111 packages: 111 with a valid registry signature");
    let e = entry(&env, "everything");
    let packages = e["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 110);
    for p in packages {
        let ev: Vec<&str> = (p["evidence"].as_array())
            .unwrap_or_else(|| panic!("{p}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ev, [format!("registry-signature:{KEYID}")], "{p}");
    }
    // Each version document is read once (not the full packument: the
    // key has no `expires`).
    let reads = |path: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.path() == path)
            .count()
    };
    assert_eq!(reads("/vary/1.1.2"), 1);
    assert_eq!(reads("/@hono%2fnode-server/2.1.11"), 1);
}

#[test]
fn a_signature_that_does_not_verify_is_refused_whatever_the_policy() {
    let key = signing_key(7);
    let other = signing_key(9);
    // The signature of `vary` changed; then one made for another
    // integrity; then one by another key under the pinned key's id.
    let cases: [(&str, Box<Edit>); 4] = [
        (
            "altered",
            Box::new(|n: &str, d: &mut serde_json::Map<String, Value>| {
                if n == "vary" {
                    let s = d["signatures"][0]["sig"].as_str().unwrap().to_string();
                    let mut b = base64::engine::general_purpose::STANDARD.decode(s).unwrap();
                    let last = b.len() - 1;
                    b[last] ^= 1;
                    d["signatures"][0]["sig"] =
                        base64::engine::general_purpose::STANDARD.encode(b).into();
                }
            }),
        ),
        (
            "other integrity",
            Box::new(|n: &str, d: &mut serde_json::Map<String, Value>| {
                if n == "vary" {
                    let v = "1.1.2";
                    d["signatures"][0]["sig"] = sign(
                        &signing_key(7),
                        n,
                        v,
                        &format!("sha512-{}==", "A".repeat(86)),
                    )
                    .into();
                }
            }),
        ),
        (
            "other key",
            Box::new(move |n: &str, d: &mut serde_json::Map<String, Value>| {
                if n == "vary" {
                    let i = d["integrity"].as_str().unwrap().to_string();
                    d["signatures"][0]["sig"] = sign(&other, n, "1.1.2", &i).into();
                }
            }),
        ),
        (
            "not base64",
            Box::new(|n: &str, d: &mut serde_json::Map<String, Value>| {
                if n == "vary" {
                    d["signatures"][0]["sig"] = "%%%".into();
                }
            }),
        ),
    ];
    for (what, edit) in &cases {
        let env = TestEnv::new();
        let server = registry_with(|s| signed_packuments(s, &key, KEYID, edit.as_ref()));
        pin_key(&env, &server, KEYID, &public_b64(&key), None);
        policy_with(&env.user_policy(), "registry-signatures = \"off\"");
        let out = env.run(add_args(&server, "everything", SOURCE));
        out.code(2)
            .diag("registry-signature-invalid")
            .stderr_has("vary@1.1.2")
            .stderr_has("nothing was pinned");
        assert_untouched(&env, what);
    }
}

#[test]
fn malformed_or_oversized_signature_fields_are_refused() {
    let key = signing_key(7);
    let edits: [(&str, EditFn); 3] = [
        ("not a list", |n, d| {
            if n == "vary" {
                d["signatures"] = json!({"keyid": "x", "sig": "y"});
            }
        }),
        ("oversized sig", |n, d| {
            if n == "vary" {
                d["signatures"][0]["sig"] = "A".repeat(100_000).into();
            }
        }),
        ("truncated sig", |n, d| {
            if n == "vary" {
                let s = d["signatures"][0]["sig"].as_str().unwrap().to_string();
                d["signatures"][0]["sig"] = s[..s.len() - 12].to_string().into();
            }
        }),
    ];
    for (what, edit) in edits {
        let env = TestEnv::new();
        let server = registry_with(|s| signed_packuments(s, &key, KEYID, &edit));
        pin_key(&env, &server, KEYID, &public_b64(&key), None);
        policy_with(&env.user_policy(), "registry-signatures = \"off\"");
        env.run(add_args(&server, "everything", SOURCE))
            .code(2)
            .diag("registry-signature-invalid");
        assert_untouched(&env, what);
    }
    // A version document past the bound (4 MiB) is not read.
    let env = TestEnv::new();
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &no_edit));
    server.route("/vary/1.1.2", Response::generated(5 << 20, 3));
    pin_key(&env, &server, KEYID, &public_b64(&key), None);
    policy_with(&env.user_policy(), "registry-signatures = \"off\"");
    let out = env.run(add_args(&server, "everything", SOURCE));
    assert_ne!(out.code, Some(0), "{}", out.context());
    assert_untouched(&env, "oversized version document");
}

#[test]
fn a_mirror_without_signatures_is_refused_under_tree_and_said_under_off() {
    let key = signing_key(7);
    let strip = |_: &str, d: &mut serde_json::Map<String, Value>| {
        d.remove("signatures");
    };
    let env = TestEnv::new();
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &strip));
    pin_key(&env, &server, KEYID, &public_b64(&key), None);
    policy_with(&env.user_policy(), "registry-signatures = \"tree\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("registry-signature-missing")
        .stderr_has("111 package(s) without a valid registry signature: @modelcontextprotocol/server-everything@2026.8.31 (none offered)")
        .stderr_has("and 101 more")
        .stderr_has("nothing was pinned");
    assert_untouched(&env, "tree, stripped");
    // "off": pinned, and the report says none were offered; nothing is
    // claimed in the lock.
    policy_with(&env.user_policy(), "registry-signatures = \"off\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(0)
        .stderr_has("note: the registry offered no signatures for 111 packages");
    let e = entry(&env, "everything");
    for p in e["packages"].as_array().unwrap() {
        assert!(p.get("evidence").is_none(), "{p}");
    }
}

#[test]
fn top_requires_the_package_itself_only() {
    let key = signing_key(7);
    // Only the package itself is signed.
    let only_top = |n: &str, d: &mut serde_json::Map<String, Value>| {
        if n != "@modelcontextprotocol/server-everything" {
            d.remove("signatures");
        }
    };
    let env = TestEnv::new();
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &only_top));
    pin_key(&env, &server, KEYID, &public_b64(&key), None);
    policy_with(&env.user_policy(), "registry-signatures = \"top\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(0)
        .stderr_has("note: 111 packages: 1 with a valid registry signature, 110 with none offered");
    // "tree" refuses the same tree.
    let env = TestEnv::new();
    pin_key(&env, &server, KEYID, &public_b64(&key), None);
    policy_with(&env.user_policy(), "registry-signatures = \"tree\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("registry-signature-missing")
        .stderr_has("110 package(s) without a valid registry signature: @hono/node-server@");
    assert_untouched(&env, "tree, only the top signed");
}

#[test]
fn a_key_not_pinned_is_no_evidence() {
    let key = signing_key(7);
    let env = TestEnv::new();
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &no_edit));
    // The registry's key is not pinned (the npm keys are for npmjs.org only).
    policy_with(&env.user_policy(), "registry-signatures = \"tree\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("registry-signature-missing")
        .stderr_has(&format!("(key {KEYID} not pinned)"));
    assert_untouched(&env, "unknown key");
    policy_with(&env.user_policy(), "registry-signatures = \"off\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(0)
        .stderr_has(
            "note: 111 packages: 0 with a valid registry signature, 111 signed by a key not pinned",
        );
}

#[test]
fn an_expired_key_verifies_only_what_was_published_before_it_expired() {
    let key = signing_key(7);
    let k = &key;
    let with_time = move |time: &'static str| {
        move |s: &TlsServer| {
            let mut packs = signed_packuments(s, k, KEYID, &no_edit);
            for p in packs.values_mut() {
                let versions: Vec<String> =
                    p["versions"].as_object().unwrap().keys().cloned().collect();
                let mut t = serde_json::Map::new();
                for v in versions {
                    t.insert(v, time.into());
                }
                p["time"] = Value::Object(t);
            }
            packs
        }
    };
    // Published before the key expired: valid.
    let env = TestEnv::new();
    let server = registry_with(with_time("2024-03-01T10:00:00.000Z"));
    pin_key(
        &env,
        &server,
        KEYID,
        &public_b64(&key),
        Some("2025-01-29T00:00:00.000Z"),
    );
    policy_with(&env.user_policy(), "registry-signatures = \"tree\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(0)
        .stderr_has("111 with a valid registry signature");
    // Published after: the signature cannot be the registry's.
    let env = TestEnv::new();
    let server = registry_with(with_time("2025-06-01T10:00:00.000Z"));
    pin_key(
        &env,
        &server,
        KEYID,
        &public_b64(&key),
        Some("2025-01-29T00:00:00.000Z"),
    );
    policy_with(&env.user_policy(), "registry-signatures = \"off\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(2)
        .diag("registry-signature-invalid")
        .stderr_has("expired");
    assert_untouched(&env, "expired key");
    // No publish time: the expired key verifies nothing.
    let env = TestEnv::new();
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &no_edit));
    pin_key(
        &env,
        &server,
        KEYID,
        &public_b64(&key),
        Some("2025-01-29T00:00:00.000Z"),
    );
    policy_with(&env.user_policy(), "registry-signatures = \"tree\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("registry-signature-missing")
        .stderr_has("expired, publish time unknown");
    assert_untouched(&env, "expired key, no time");
}

#[test]
fn a_user_off_cannot_relax_a_system_tree() {
    let key = signing_key(7);
    let strip = |_: &str, d: &mut serde_json::Map<String, Value>| {
        d.remove("signatures");
    };
    let env = TestEnv::new();
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &strip));
    policy_with(&env.system_policy(), "registry-signatures = \"tree\"");
    policy_with(&env.user_policy(), "registry-signatures = \"off\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("registry-signature-missing");
    assert_untouched(&env, "system tree");
    env.run(["policy", "check"]).diag("policy-loosening");
    env.run(["policy", "explain", "everything"])
        .code(0)
        .stdout_has("npm registry signatures: required of every package of the tree");
}

#[test]
fn a_bad_registry_signatures_value_or_key_is_an_error() {
    let env = TestEnv::new();
    for bad in ["\"all\"", "true", "[\"tree\"]"] {
        policy_with(&env.user_policy(), &format!("registry-signatures = {bad}"));
        env.run(["policy", "check"]).code(1).diag("policy-type");
    }
    // A registry key that is not a P-256 key makes the store invalid.
    fs::create_dir_all(env.trust_file().parent().unwrap()).unwrap();
    fs::write(
        env.trust_file(),
        "[[registry-key]]\nregistry = \"https://r.example\"\nkeyid = \"k\"\nkey = \"AAAA\"\n",
    )
    .unwrap();
    env.run(["trust", "list"])
        .code(2)
        .diag("trust-store-invalid");
}
