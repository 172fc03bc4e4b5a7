//! Pinned output, from the checked-in fixtures (fixtures/keys,
//! fixtures/signed) so that every byte is stable: the human and JSON
//! reports of an allowed and a denied verification, and `policy check`.

use super::support::util::*;

/// Runs the snapshot assertions with the test's temporary paths replaced.
fn settings(env: &TestEnv) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(env.root.to_str().unwrap()), "[TMP]");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The fixture key trusted for `server.bin`, and the fixture artifact
/// with its prehashed minisign signature.
fn fixture_env() -> TestEnv {
    let env = TestEnv::new();
    env.copy_fixture("keys/minisign.pub", "release.pub");
    env.copy_fixture("signed/server.bin", "server.bin");
    env.copy_fixture("signed/server.bin.minisig", "server.bin.minisig");
    env.trust_key(&env.path("release.pub"), "fixture-release", &["server.*"]);
    env
}

#[test]
fn verify_allowed() {
    let env = fixture_env();
    let human = env.run(["verify", "server.bin", "--signature", "server.bin.minisig"]);
    human.code(0);
    let json = env.run([
        "--format",
        "json",
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
    ]);
    json.code(0);
    settings(&env).bind(|| {
        insta::assert_snapshot!("verify_allowed_human", human.stdout);
        insta::assert_json_snapshot!("verify_allowed_json", json.json());
    });
}

#[test]
fn verify_denied_tampered() {
    let env = fixture_env();
    let text = String::from_utf8(env.read("server.bin")).unwrap();
    let tampered = text.replace("0.1.0", "0.1.1");
    assert_ne!(text, tampered);
    env.write("server.bin", tampered);
    let human = env.run(["verify", "server.bin", "--signature", "server.bin.minisig"]);
    human.code(1);
    let json = env.run([
        "--format",
        "json",
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
    ]);
    json.code(1);
    settings(&env).bind(|| {
        insta::assert_snapshot!("verify_denied_tampered_human", human.stdout);
        insta::assert_json_snapshot!("verify_denied_tampered_json", json.json());
    });
}

#[test]
fn policy_check_bad_file() {
    let env = fixture_env();
    env.write(
        "policy.toml",
        r#"version = 1
mode = "strict"
colour = "blue"

[defaults]
require = ["signature", "vibes"]

[[servers]]
name = "github"
signers = ["fixture-release", "nobody"]
digests = ["sha256:1234"]

[[servers]]
name = "github"
signers = []

[[exceptions]]
servers = ["legacy-["]
waive = ["signature"]
"#,
    );
    let human = env.run(["policy", "check", "policy.toml"]);
    human.code(1);
    let json = env.run(["--format", "json", "policy", "check", "policy.toml"]);
    json.code(1);
    settings(&env).bind(|| {
        insta::assert_snapshot!("policy_check_bad_human", human.stdout);
        insta::assert_json_snapshot!("policy_check_bad_json", json.json());
    });
}

/// The other fixture signatures verify as well: they are what the README
/// section "Test keys" says they are.
#[test]
fn every_fixture_signature_verifies() {
    let env = TestEnv::new();
    env.copy_fixture("signed/server.bin", "server.bin");
    env.copy_fixture("keys/minisign.pub", "minisign.pub");
    env.copy_fixture("keys/ssh_ed25519.pub", "ssh.pub");
    env.copy_fixture("keys/openssl_ed25519.pub.pem", "pem.pub.pem");
    let h = sha256_hex(&env.read("server.bin"));
    for (sig, key, scheme) in [
        ("server.bin.minisig", "minisign.pub", "minisign-prehashed"),
        (
            "server.bin.legacy.minisig",
            "minisign.pub",
            "minisign-legacy",
        ),
        ("server.bin.ssh.sig", "ssh.pub", "ssh"),
        ("server.bin.ssh-sha256.sig", "ssh.pub", "ssh"),
        ("server.bin.dsse.json", "pem.pub.pem", "dsse"),
    ] {
        env.copy_fixture(&format!("signed/{sig}"), sig);
        let out = env.run([
            "--format",
            "json",
            "verify",
            "server.bin",
            "--signature",
            sig,
            "--key",
            key,
        ]);
        out.code(0);
        let v = out.json();
        let sig = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "signature")
            .unwrap()
            .clone();
        out.check(sig["scheme"] == scheme && sig["status"] == "pass", scheme);
    }
    env.run([
        "verify",
        &format!("sha256:{h}"),
        "--signature",
        "server.bin.ssh-sha256.sig",
        "--key",
        "ssh.pub",
    ])
    .code(0);
    env.run([
        "verify",
        &format!("sha256:{h}"),
        "--signature",
        "server.bin.dsse.json",
        "--key",
        "pem.pub.pem",
    ])
    .code(0);
}
