//! Signatures that verify, in every supported scheme, with a key given on
//! the command line, with a trusted key found in the store, and with a
//! trusted key picked by name.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::support::util::*;

const ARTIFACT: &str = "acme-server.bin";
const COMMENT: &str = "acme-server 1.2.3 (build 42)";

#[derive(Clone, Copy)]
enum Scheme {
    Prehashed,
    Legacy,
    Ssh,
    Dsse,
}

impl Scheme {
    fn json_name(self) -> &'static str {
        match self {
            Scheme::Prehashed => "minisign-prehashed",
            Scheme::Legacy => "minisign-legacy",
            Scheme::Ssh => "ssh",
            Scheme::Dsse => "dsse",
        }
    }
}

struct Setup {
    env: TestEnv,
    key: String,
    sig: String,
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// A publisher key of `scheme` and its signature over ARTIFACT.
fn make(env: &TestEnv, scheme: Scheme, key_name: &str) -> (PathBuf, PathBuf) {
    let art = env.path(ARTIFACT);
    if !art.exists() {
        env.write(ARTIFACT, noise(10_000, 7));
    }
    match scheme {
        Scheme::Prehashed => {
            let k = Minisign::generate(env, key_name);
            let sig = k.sign_to(
                &art,
                &env.path(&format!("{key_name}.minisig")),
                Some(COMMENT),
                false,
            );
            (k.public, sig)
        }
        Scheme::Legacy => {
            let k = Minisign::generate(env, key_name);
            let sig = k.sign_to(
                &art,
                &env.path(&format!("{key_name}.minisig")),
                Some(COMMENT),
                true,
            );
            (k.public, sig)
        }
        Scheme::Ssh => {
            let k = SshKey::generate(env, key_name);
            let sig = k.sign_to(&art, &env.path(&format!("{key_name}.sshsig")), "file", None);
            (k.public, sig)
        }
        Scheme::Dsse => {
            let k = PemKey::generate(env, key_name);
            let h = sha256_hex(&env.read(ARTIFACT));
            let sig = k.dsse(env, &format!("{key_name}.dsse.json"), &[(ARTIFACT, &h)]);
            (k.public, sig)
        }
    }
}

fn setup(scheme: Scheme) -> Setup {
    let env = TestEnv::new();
    let (key, sig) = make(&env, scheme, "publisher");
    Setup {
        key: name(&key),
        sig: name(&sig),
        env,
    }
}

fn signature_check(v: &Value) -> Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "signature")
        .cloned()
        .expect("a signature check")
}

fn with_key(scheme: Scheme) {
    let s = setup(scheme);
    let out = s
        .env
        .run(["verify", ARTIFACT, "--signature", &s.sig, "--key", &s.key]);
    out.code(0)
        .stdout_has("PASS  signature")
        .stdout_has(&format!("key given with --key {}", s.key))
        .stdout_has("\nALLOWED  default policy: signature by the key given with --key")
        .diag("default-policy");

    let out = s.env.run([
        "--format",
        "json",
        "verify",
        ARTIFACT,
        "--signature",
        &s.sig,
        "--key",
        &s.key,
    ]);
    out.code(0).diag("default-policy");
    let v = out.json();
    let sig = signature_check(&v);
    out.check(v["verdict"] == "allowed", "verdict allowed")
        .check(sig["status"] == "pass", "signature check passes")
        .check(sig["scheme"] == scheme.json_name(), "scheme named")
        .check(
            sig["signer"]["key_file"] == s.key.as_str(),
            "signer is the --key file",
        )
        .check(
            sig["signer"]["trust_names"] == json!([]),
            "the key is not trusted",
        )
        .check(
            v["decision"]["signer"].is_null(),
            "no trust-store signer decided",
        );
}

fn trusted(scheme: Scheme) {
    let s = setup(scheme);
    s.env
        .trust_key(Path::new(&s.key), "acme-release", &["acme-*"]);
    let out = s.env.run(["verify", ARTIFACT, "--signature", &s.sig]);
    out.code(0)
        .stdout_has("signer: trusted key acme-release, fingerprint SHA256:")
        .stdout_has("ALLOWED  default policy: signature by `acme-release` (scope acme-*)");

    let out = s.env.run([
        "--format",
        "json",
        "verify",
        ARTIFACT,
        "--signature",
        &s.sig,
    ]);
    out.code(0);
    let v = out.json();
    let sig = signature_check(&v);
    out.check(
        v["decision"]["signer"] == "acme-release",
        "decision.signer names the trusted key",
    )
    .check(
        sig["signer"]["trust_names"] == json!(["acme-release"]),
        "trust_names",
    )
    .check(
        sig["signer"].get("key_file").is_none(),
        "no key file: the key came from the store",
    );
}

fn key_name(scheme: Scheme) {
    let s = setup(scheme);
    let (other_key, _) = make(&s.env, scheme, "other");
    s.env
        .trust_key(Path::new(&s.key), "acme-release", &["acme-*"]);
    s.env.trust_key(&other_key, "other-release", &["*"]);
    s.env
        .run([
            "verify",
            ARTIFACT,
            "--signature",
            &s.sig,
            "--key-name",
            "acme-release",
        ])
        .code(0)
        .stdout_has("trusted key acme-release");
    // Only the named key is tried: another trusted key that did not sign
    // is no substitute, and a missing name is an input error.
    let out = s.env.run([
        "verify",
        ARTIFACT,
        "--signature",
        &s.sig,
        "--key-name",
        "other-release",
    ]);
    out.code(1).stdout_has("DENIED");
    s.env
        .run([
            "verify",
            ARTIFACT,
            "--signature",
            &s.sig,
            "--key-name",
            "nobody",
        ])
        .code(2)
        .diag("key-unknown")
        .stderr_has("no trusted key is named `nobody`");
}

macro_rules! scheme_tests {
    ($($module:ident => $scheme:expr,)*) => {$(
        mod $module {
            use super::*;

            #[test]
            fn verifies_with_key_flag() {
                with_key($scheme);
            }

            #[test]
            fn verifies_with_trusted_key_in_scope() {
                trusted($scheme);
            }

            #[test]
            fn verifies_with_key_name() {
                key_name($scheme);
            }
        }
    )*};
}

scheme_tests! {
    minisign_prehashed => Scheme::Prehashed,
    minisign_legacy => Scheme::Legacy,
    ssh => Scheme::Ssh,
    dsse => Scheme::Dsse,
}

#[test]
fn trusted_comment_is_shown_in_human_output() {
    for scheme in [Scheme::Prehashed, Scheme::Legacy] {
        let s = setup(scheme);
        s.env
            .run(["verify", ARTIFACT, "--signature", &s.sig, "--key", &s.key])
            .code(0)
            .stdout_has(&format!("      trusted comment: {COMMENT}\n"))
            .stdout_has(match scheme {
                Scheme::Prehashed => "[minisign, prehashed]",
                _ => "[minisign, legacy]",
            });
    }
}

#[test]
fn json_document_has_the_documented_fields() {
    let s = setup(Scheme::Prehashed);
    s.env
        .trust_key(Path::new(&s.key), "acme-release", &["acme-*"]);
    let out = s.env.run([
        "--format",
        "json",
        "verify",
        ARTIFACT,
        "--signature",
        &s.sig,
    ]);
    out.code(0);
    let v = out.json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "verdict",
        "artifact",
        "server",
        "checks",
        "decision",
        "diagnostics",
    ];
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    out.check(got == want, &format!("top-level keys {keys:?}"));

    let bytes = s.env.read(ARTIFACT);
    let a = &v["artifact"];
    out.check(a["name"] == ARTIFACT, "artifact.name")
        .check(a["path"] == ARTIFACT, "artifact.path")
        .check(a["size"] == bytes.len(), "artifact.size")
        .check(
            a["sha256"] == sha256_hex(&bytes).as_str(),
            "artifact.sha256 is the file's sha256",
        );
    out.check(
        v["server"] == json!({"name": ARTIFACT, "from": "file-name"}),
        "server defaults to the file name",
    );

    let checks = v["checks"].as_array().unwrap();
    let kinds: Vec<&str> = checks.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    out.check(
        kinds == ["digest", "signature", "policy"],
        &format!("check kinds {kinds:?}"),
    );
    for c in checks {
        out.check(c["status"] == "pass", "every check passes");
    }
    out.check(
        checks[0]["algorithm"] == "sha256" && checks[0]["value"] == a["sha256"],
        "digest check",
    );

    let sig = &checks[1];
    let pub_text = String::from_utf8(s.env.read(&s.key)).unwrap();
    // minisign writes "untrusted comment: minisign public key <ID>".
    let key_id = pub_text.lines().next().unwrap().rsplit(' ').next().unwrap();
    out.check(sig["file"] == s.sig.as_str(), "signature file")
        .check(
            sig["details"]["trusted-comment"] == COMMENT,
            "trusted comment detail",
        )
        .check(
            sig["signer"]["minisign_key_id"] == key_id,
            &format!("minisign key id {key_id}, as minisign prints it"),
        )
        .check(
            sig["signer"]["fingerprint"]
                .as_str()
                .unwrap()
                .starts_with("SHA256:"),
            "fingerprint",
        );

    let policy = &checks[2];
    out.check(
        policy["policy"] == "default" && policy["allowed"] == true && policy["audit"] == false,
        "policy check",
    );
    out.check(v["decision"]["signer"] == "acme-release", "decision.signer")
        .check(
            v["decision"]["rule"]
                .as_str()
                .unwrap()
                .contains("`acme-release`"),
            "decision.rule names the signer",
        );
    for d in v["diagnostics"].as_array().unwrap() {
        out.check(
            d["code"].is_string() && d["severity"].is_string() && d["message"].is_string(),
            "every diagnostic has code, severity and message",
        );
    }
    out.check(
        out.diag_codes() == ["default-policy"],
        "only the default-policy note",
    );
}

#[test]
fn ssh_fingerprint_is_the_one_ssh_keygen_prints() {
    let s = setup(Scheme::Ssh);
    let printed = String::from_utf8(tool(&s.env.work, "ssh-keygen", ["-l", "-f", &s.key])).unwrap();
    let fp = printed.split_whitespace().nth(1).unwrap().to_string();
    let out = s.env.run([
        "--format",
        "json",
        "verify",
        ARTIFACT,
        "--signature",
        &s.sig,
        "--key",
        &s.key,
    ]);
    out.code(0);
    let v = out.json();
    out.check(
        signature_check(&v)["signer"]["fingerprint"] == fp.as_str(),
        &format!("fingerprint {fp}"),
    );
}

#[test]
fn server_flag_overrides_the_file_name() {
    let s = setup(Scheme::Prehashed);
    s.env
        .trust_key(Path::new(&s.key), "acme-release", &["io.github.acme/*"]);
    // The file name is out of the key's scope; the registry name is in it.
    s.env
        .run(["verify", ARTIFACT, "--signature", &s.sig])
        .code(1)
        .diag("signer-out-of-scope");
    let out = s.env.run([
        "--format",
        "json",
        "verify",
        ARTIFACT,
        "--signature",
        &s.sig,
        "--server",
        "io.github.acme/tools",
    ]);
    out.code(0).check(
        out.json()["server"] == json!({"name": "io.github.acme/tools", "from": "flag"}),
        "server from the flag",
    );
}

#[test]
fn several_good_signatures_of_different_schemes() {
    let env = TestEnv::new();
    let (mkey, msig) = make(&env, Scheme::Prehashed, "m");
    let (skey, ssig) = make(&env, Scheme::Ssh, "s");
    let (dkey, dsig) = make(&env, Scheme::Dsse, "d");
    let (mkey, msig, skey, ssig, dkey, dsig) = (
        name(&mkey),
        name(&msig),
        name(&skey),
        name(&ssig),
        name(&dkey),
        name(&dsig),
    );
    let out = env.run([
        "--format",
        "json",
        "verify",
        ARTIFACT,
        "--signature",
        &msig,
        "--signature",
        &ssig,
        "--signature",
        &dsig,
        "--key",
        &mkey,
        "--key",
        &skey,
        "--key",
        &dkey,
    ]);
    out.code(0);
    let v = out.json();
    let passed = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "signature" && c["status"] == "pass")
        .count();
    out.check(passed == 3, "all three signatures verify");
}

#[test]
fn quiet_prints_only_the_verdict() {
    let s = setup(Scheme::Ssh);
    let out = s.env.run([
        "-q",
        "verify",
        ARTIFACT,
        "--signature",
        &s.sig,
        "--key",
        &s.key,
    ]);
    out.code(0)
        .stdout_lacks("artifact")
        .stdout_lacks("note[")
        .stdout_has("ALLOWED");
    out.check(out.stdout.trim().lines().count() == 1, "one line");
}

#[test]
fn home_flag_works_like_the_environment_variable() {
    let s = setup(Scheme::Prehashed);
    let home = s.env.root.join("other-home");
    let home_arg = home.to_str().unwrap();
    s.env
        .cmd()
        .without_home_env()
        .args([
            "--home",
            home_arg,
            "trust",
            "add-key",
            &s.key,
            "--name",
            "acme-release",
            "--scope",
            "*",
        ])
        .run()
        .code(0);
    assert!(
        home.join("config/trust.toml").is_file(),
        "the trust store is under --home"
    );
    s.env
        .cmd()
        .without_home_env()
        .args([
            "--home",
            home_arg,
            "verify",
            ARTIFACT,
            "--signature",
            &s.sig,
        ])
        .run()
        .code(0)
        .stdout_has("trusted key acme-release");
    // The environment's home does not hold that key.
    s.env
        .run(["verify", ARTIFACT, "--signature", &s.sig])
        .code(1)
        .diag("key-unknown");
}
