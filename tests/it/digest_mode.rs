//! `verify sha256:HEX`: checking a signature against a bare digest, which
//! only schemes that sign a digest of that algorithm allow.

use serde_json::json;

use super::support::util::*;

fn artifact(env: &TestEnv) -> (std::path::PathBuf, Vec<u8>) {
    let bytes = noise(50_000, 11);
    (env.write("server.bin", &bytes), bytes)
}

#[test]
fn ssh_signature_with_sha256_verifies_against_the_digest() {
    let env = TestEnv::new();
    let (art, bytes) = artifact(&env);
    let key = SshKey::generate(&env, "ssh");
    key.sign_to(&art, &env.path("server.sha256.sig"), "file", Some("sha256"));
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    let out = env.run([
        "--format",
        "json",
        "verify",
        &digest,
        "--signature",
        "server.sha256.sig",
        "--key",
        "ssh.pub",
    ]);
    out.code(0);
    let v = out.json();
    out.check(v["verdict"] == "allowed", "allowed")
        .check(
            v["artifact"]["name"] == digest.as_str(),
            "the artifact is named by its digest",
        )
        .check(
            v["artifact"].get("path").is_none() && v["artifact"].get("size").is_none(),
            "no path, no size",
        )
        .check(
            v["server"] == json!({"name": digest, "from": "digest"}),
            "the server is named by the digest",
        );
    // Upper-case hex is the same digest.
    env.run([
        "verify",
        &digest.to_uppercase().replace("SHA256", "sha256"),
        "--signature",
        "server.sha256.sig",
        "--key",
        "ssh.pub",
    ])
    .code(0);
    // The same signature still verifies against the file.
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.sha256.sig",
        "--key",
        "ssh.pub",
    ])
    .code(0);
}

#[test]
fn default_ssh_signature_is_sha512_so_a_sha256_digest_cannot_check_it() {
    let env = TestEnv::new();
    let (art, bytes) = artifact(&env);
    let key = SshKey::generate(&env, "ssh");
    key.sign(&art);
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    env.run([
        "verify",
        &digest,
        "--signature",
        "server.bin.sig",
        "--key",
        "ssh.pub",
    ])
    .code(1)
    .diag("digest-mode-unsupported")
    .stdout_has("covers the sha512 hash of the file, and only a sha256 digest was given")
    .stdout_has("hint: pass the artifact's path, or its sha512:HEX digest")
    .stdout_has("DENIED");
    // With the sha512 digest it does verify.
    env.run([
        "verify",
        &format!("sha512:{}", sha512_hex(&bytes)),
        "--signature",
        "server.bin.sig",
        "--key",
        "ssh.pub",
    ])
    .code(0);
}

#[test]
fn minisign_cannot_be_checked_against_a_digest() {
    let env = TestEnv::new();
    let (art, bytes) = artifact(&env);
    let key = Minisign::generate(&env, "mini");
    let sig = key.sign(&art, None);
    let legacy = key.sign_legacy(&art, None);
    for s in [sig, legacy] {
        let s = s.file_name().unwrap().to_str().unwrap().to_string();
        for digest in [
            format!("sha256:{}", sha256_hex(&bytes)),
            format!("sha512:{}", sha512_hex(&bytes)),
        ] {
            let out = env.run([
                "--format",
                "json",
                "verify",
                &digest,
                "--signature",
                &s,
                "--key",
                "mini.pub",
            ]);
            out.code(1).diag("digest-mode-unsupported");
            out.check(out.json()["verdict"] == "denied", "denied");
            let d = out.diagnostic("digest-mode-unsupported");
            out.check(d["severity"] == "error", "an error").check(
                d["hint"]
                    .as_str()
                    .unwrap()
                    .contains("pass the artifact's path"),
                "hint says to pass the path",
            );
        }
    }
}

#[test]
fn dsse_subject_matches_a_sha256_digest() {
    let env = TestEnv::new();
    let (_, bytes) = artifact(&env);
    let key = PemKey::generate(&env, "pem");
    let h = sha256_hex(&bytes);
    key.dsse(&env, "server.dsse.json", &[("server.bin", &h)]);
    let out = env.run([
        "--format",
        "json",
        "verify",
        &format!("sha256:{h}"),
        "--signature",
        "server.dsse.json",
        "--key",
        "pem.pub.pem",
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
    out.check(
        sig["details"]["subject"] == "server.bin",
        "the subject is named",
    )
    .check(
        sig["details"]["predicate-type"] == "https://slsa.dev/provenance/v1",
        "predicate type",
    );

    // A digest that is not the subject's is a mismatch, not a pass.
    let other = sha256_hex(b"another build");
    env.run([
        "verify",
        &format!("sha256:{other}"),
        "--signature",
        "server.dsse.json",
        "--key",
        "pem.pub.pem",
    ])
    .code(1)
    .diag("digest-mismatch")
    .stdout_has("the signed statement is about other artifacts (server.bin)");
}

#[test]
fn malformed_digests_are_usage_errors() {
    let env = TestEnv::new();
    let (art, _) = artifact(&env);
    let key = SshKey::generate(&env, "ssh");
    key.sign(&art);
    for (arg, msg) in [
        (
            "sha256:xyz",
            "the sha256 digest must be 64 hex characters, got 3",
        ),
        (
            "sha256:",
            "the sha256 digest must be 64 hex characters, got 0",
        ),
        (&*format!("sha256:{}", "g".repeat(64)), "not hex"),
        (
            &*format!("sha512:{}", "a".repeat(64)),
            "the sha512 digest must be 128 hex characters, got 64",
        ),
    ] {
        env.run([
            "verify",
            arg,
            "--signature",
            "server.bin.sig",
            "--key",
            "ssh.pub",
        ])
        .code(2)
        .diag("input-invalid")
        .stderr_has(msg);
        let out = env.run([
            "--format",
            "json",
            "verify",
            arg,
            "--signature",
            "server.bin.sig",
            "--key",
            "ssh.pub",
        ]);
        out.code(2).diag("input-invalid");
        out.check(out.json()["verdict"] == "error", "verdict error");
    }
}

#[test]
fn digest_prefix_is_case_insensitive() {
    let env = TestEnv::new();
    let (art, bytes) = artifact(&env);
    let key = SshKey::generate(&env, "ssh");
    key.sign_to(&art, &env.path("server.sha256.sig"), "file", Some("sha256"));
    let digest = format!("SHA256:{}", sha256_hex(&bytes).to_uppercase());
    env.run([
        "verify",
        &digest,
        "--signature",
        "server.sha256.sig",
        "--key",
        "ssh.pub",
    ])
    .code(0);
}
