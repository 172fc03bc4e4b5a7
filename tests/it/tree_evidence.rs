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
use super::pypi_tree::{add_args as pypi_add_args, time_index};
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

/// The real attestations document of sigstore@2.3.1 (publish attestation
/// and SLSA v1 provenance, as registry.npmjs.org serves it).
fn sigstore_attestations() -> Vec<u8> {
    fs::read(fixture("sources/npm/sigstore-2.3.1.attestations.json")).unwrap()
}

const VARY_ATT: &str = "/-/npm/v1/attestations/vary@1.1.2";

/// The captured tree, signed, with `vary@1.1.2`'s `dist.attestations`
/// listing `url` (relative to the registry when it starts with `/`) and
/// the document served there as `doc`.
fn registry_with_attestations(
    key: &p256::ecdsa::SigningKey,
    url: &str,
    doc: Response,
) -> TlsServer {
    let server = registry_with(|s| {
        let mut packs = signed_packuments(s, key, KEYID, &no_edit);
        let url = if url.starts_with('/') {
            s.url(url)
        } else {
            url.to_string()
        };
        packs["vary"]["versions"]["1.1.2"]["dist"]["attestations"] = json!({
            "url": url,
            "provenance": { "predicateType": "https://slsa.dev/provenance/v1" }
        });
        packs
    });
    server.route(VARY_ATT, doc);
    server
}

#[test]
fn provenance_about_another_tarball_is_refused_whatever_the_policy() {
    // vary@1.1.2 offers sigstore@2.3.1's real, valid provenance: it
    // verifies, but is about another package and tarball.
    let key = signing_key(7);
    let env = TestEnv::new();
    let server = registry_with_attestations(&key, VARY_ATT, Response::ok(sigstore_attestations()));
    pin_key(&env, &server, KEYID, &public_b64(&key), None);
    policy_with(&env.user_policy(), "provenance = \"off\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(2)
        .diag("provenance-not-bound")
        .stderr_has("npm provenance of vary@1.1.2")
        .stderr_has("nothing was pinned");
    assert_untouched(&env, "provenance of another tarball");
    let reads = server
        .requests()
        .iter()
        .filter(|r| r.path() == VARY_ATT)
        .count();
    assert_eq!(reads, 1, "the attestations document is fetched once");
}

#[test]
fn malformed_truncated_tampered_or_oversized_attestations_are_refused() {
    let key = signing_key(7);
    let real = sigstore_attestations();
    let mut flipped: Value = serde_json::from_slice(&real).unwrap();
    for a in flipped["attestations"].as_array_mut().unwrap() {
        let sig = a["bundle"]["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap()
            .to_string();
        let mut b = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .unwrap();
        b[20] ^= 1;
        a["bundle"]["dsseEnvelope"]["signatures"][0]["sig"] =
            base64::engine::general_purpose::STANDARD.encode(b).into();
    }
    let cases: Vec<(&str, &str, Response, &str)> = vec![
        (
            "truncated",
            VARY_ATT,
            Response::ok(real[..real.len() / 2].to_vec()),
            "provenance-invalid",
        ),
        (
            "not a list",
            VARY_ATT,
            Response::ok(&b"{\"attestations\": 5}"[..]),
            "provenance-invalid",
        ),
        (
            "signature flipped",
            VARY_ATT,
            Response::ok(serde_json::to_vec(&flipped).unwrap()),
            "",
        ),
        ("listed, not served", VARY_ATT, Response::status(404), ""),
        (
            "not https",
            "http://127.0.0.1:1/-/npm/v1/attestations/vary@1.1.2",
            Response::status(404),
            "provenance-invalid",
        ),
        // Past the bound (16 MiB): not read.
        ("oversized", VARY_ATT, Response::generated(17 << 20, 5), ""),
    ];
    for (what, url, doc, code) in cases {
        let env = TestEnv::new();
        let server = registry_with_attestations(&key, url, doc);
        pin_key(&env, &server, KEYID, &public_b64(&key), None);
        policy_with(&env.user_policy(), "provenance = \"off\"");
        let out = env.run(add_args(&server, "everything", SOURCE));
        assert_eq!(out.code, Some(2), "{what}: {}", out.context());
        let out = out.stderr_has("vary@1.1.2");
        if !code.is_empty() {
            out.diag(code);
        }
        assert_untouched(&env, what);
    }
}

#[test]
fn a_mirror_without_provenance_is_refused_under_tree_and_said_under_off() {
    let key = signing_key(7);
    let env = TestEnv::new();
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &no_edit));
    pin_key(&env, &server, KEYID, &public_b64(&key), None);
    policy_with(&env.user_policy(), "provenance = \"tree\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("evidence-missing")
        .stderr_has("111 package(s) without verified provenance: @modelcontextprotocol/server-everything@2026.8.31 (none offered)")
        .stderr_has("and 101 more")
        .stderr_has("`[sources] provenance = \"tree\"`")
        .stderr_has("nothing was pinned");
    assert_untouched(&env, "provenance tree, none offered");
    policy_with(&env.user_policy(), "provenance = \"top\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("evidence-missing")
        .stderr_has("1 package(s) without verified provenance: @modelcontextprotocol/server-everything@2026.8.31 (none offered);");
    assert_untouched(&env, "provenance top, none offered");
    // "off": pinned; the report says none was offered, the lock claims none.
    policy_with(&env.user_policy(), "provenance = \"off\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(0)
        .stderr_has("note: 111 packages: 111 with a valid registry signature; the registry offered no provenance for 111 packages");
    let e = entry(&env, "everything");
    for p in e["packages"].as_array().unwrap() {
        let ev = p["evidence"].as_array().unwrap();
        assert!(
            ev.iter()
                .all(|v| !v.as_str().unwrap().starts_with("provenance:")),
            "{p}"
        );
    }
}

#[test]
fn a_user_provenance_off_cannot_relax_a_system_tree() {
    let key = signing_key(7);
    let env = TestEnv::new();
    let server = registry_with(|s| signed_packuments(s, &key, KEYID, &no_edit));
    pin_key(&env, &server, KEYID, &public_b64(&key), None);
    policy_with(&env.system_policy(), "provenance = \"tree\"");
    policy_with(&env.user_policy(), "provenance = \"off\"");
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("evidence-missing");
    assert_untouched(&env, "system provenance tree");
    env.run(["policy", "check"]).diag("policy-loosening");
    env.run(["policy", "explain", "everything"])
        .code(0)
        .stdout_has("npm provenance: required of every package of the tree");
    for bad in ["\"all\"", "true", "[\"tree\"]"] {
        policy_with(&env.user_policy(), &format!("provenance = {bad}"));
        env.run(["policy", "check"]).code(1).diag("policy-type");
    }
}

const PYPI_SOURCE: &str = "pypi:mcp-server-time==2026.10.19";

#[test]
fn pypi_provenance_per_wheel_is_required_said_when_none_and_bound_when_offered() {
    // The captured index offers no PEP 740 provenance (as this machine's
    // mirror): "tree" refuses, naming the wheels; "off" pins and says so.
    let server = time_index();
    let env = TestEnv::new();
    policy_with(&env.user_policy(), "provenance = \"tree\"");
    env.run(pypi_add_args(&server, "everything", PYPI_SOURCE))
        .code(1)
        .diag("evidence-missing")
        .stderr_has(
            "31 wheel(s) without verified PEP 740 provenance: mcp-server-time (none offered)",
        )
        .stderr_has("and 21 more")
        .stderr_has("nothing was pinned");
    assert_untouched(&env, "pypi provenance tree, none offered");
    policy_with(&env.user_policy(), "provenance = \"off\"");
    env.run(pypi_add_args(&server, "everything", PYPI_SOURCE))
        .code(0)
        .stderr_has("note: the index offered no PEP 740 provenance for 31 wheels");
    // tzlocal's link names a provenance object: a real one, about another
    // file, so it does not bind to the wheel fetched.
    let env = TestEnv::new();
    let file = "tzlocal-5.4.5-py3-none-any.whl";
    let bytes = fs::read(fixture(&format!("pypi-tree/{file}"))).unwrap();
    let hash = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    server.route(
        "/simple/tzlocal/",
        Response::ok(format!(
            "<!DOCTYPE html>\n<html><body>\n<a href=\"../../files/{file}#sha256={hash}\" data-provenance=\"{}\">{file}</a><br/>\n</body></html>\n",
            server.url("/provenance/tzlocal")
        ))
        .header("Content-Type", "text/html; charset=utf-8"),
    );
    server.route(
        "/provenance/tzlocal",
        Response::ok(
            fs::read(fixture(
                "sources/pypi/gcb_attestation_test-0.0.0.tar.gz.provenance",
            ))
            .unwrap(),
        ),
    );
    policy_with(&env.user_policy(), "provenance = \"off\"");
    env.run(pypi_add_args(&server, "everything", PYPI_SOURCE))
        .code(2)
        .diag("provenance-not-bound")
        .stderr_has(file)
        .stderr_has("nothing was pinned");
    assert_untouched(&env, "pypi provenance of another file");
}
