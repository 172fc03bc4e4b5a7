//! Evidence that must not pass (exit 1) and input that cannot be read
//! (exit 2), each with its diagnostic code.

use std::fs;

use super::support::util::*;

fn minisign_setup() -> (TestEnv, Minisign) {
    let env = TestEnv::new();
    env.write("server.bin", noise(5_000, 3));
    let key = Minisign::generate(&env, "pub");
    key.sign(&env.path("server.bin"), Some("server 1.0"));
    (env, key)
}

#[test]
fn unknown_key_is_denied() {
    let (env, _) = minisign_setup();
    let out = env.run(["verify", "server.bin", "--signature", "server.bin.minisig"]);
    out.code(1)
        .diag("key-unknown")
        .stdout_has("which is neither given nor trusted")
        .stdout_has("DENIED");

    let ssh = SshKey::generate(&env, "ssh");
    ssh.sign(&env.path("server.bin"));
    env.run(["verify", "server.bin", "--signature", "server.bin.sig"])
        .code(1)
        .diag("key-unknown");

    let pem = PemKey::generate(&env, "pem");
    pem.dsse(
        &env,
        "server.dsse.json",
        &[("server.bin", &sha256_hex(&env.read("server.bin")))],
    );
    env.run(["verify", "server.bin", "--signature", "server.dsse.json"])
        .code(1)
        .diag("key-unknown");

    // A trusted key that did not sign is no better.
    let other = Minisign::generate(&env, "other");
    env.trust_key(&other.public, "other", &["*"]);
    env.run(["verify", "server.bin", "--signature", "server.bin.minisig"])
        .code(1)
        .diag("key-unknown");
}

#[test]
fn wrong_key_is_denied() {
    let (env, _) = minisign_setup();
    // Another minisign key: its key id differs, so it cannot have signed.
    Minisign::generate(&env, "wrong");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--key",
        "wrong.pub",
    ])
    .code(1)
    .diag("key-unknown");
    // A key with no minisign id (PEM) is tried, does not verify, and the
    // signer is reported as unknown rather than the signature as damaged.
    let pem = PemKey::generate(&env, "pem");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--key",
        "pem.pub.pem",
    ])
    .code(1)
    .diag("key-unknown");
    // A DSSE envelope checked with another key.
    pem.dsse(
        &env,
        "server.dsse.json",
        &[("server.bin", &sha256_hex(&env.read("server.bin")))],
    );
    PemKey::generate(&env, "pem2");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.dsse.json",
        "--key",
        "pem2.pub.pem",
    ])
    .code(1)
    .diag("signature-invalid");
    // An OpenSSH signature names its key; another key is not it.
    let ssh = SshKey::generate(&env, "ssh");
    ssh.sign(&env.path("server.bin"));
    SshKey::generate(&env, "ssh2");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.sig",
        "--key",
        "ssh2.pub",
    ])
    .code(1)
    .diag("key-unknown");
}

#[test]
fn signature_made_for_another_file_is_invalid() {
    let env = TestEnv::new();
    env.write("server.bin", noise(5_000, 3));
    env.write("other.bin", noise(5_000, 4));
    let mini = Minisign::generate(&env, "mini");
    let other = env.path("other.bin");
    mini.sign(&other, None);
    mini.sign_legacy(&other, None);
    let ssh = SshKey::generate(&env, "ssh");
    ssh.sign(&other);
    for (sig, key) in [
        ("other.bin.minisig", "mini.pub"),
        ("other.bin.legacy.minisig", "mini.pub"),
        ("other.bin.sig", "ssh.pub"),
    ] {
        env.run(["verify", "server.bin", "--signature", sig, "--key", key])
            .code(1)
            .diag("signature-invalid")
            .stdout_has("does not match the file");
    }
    let pem = PemKey::generate(&env, "pem");
    pem.dsse(
        &env,
        "other.dsse.json",
        &[("other.bin", &sha256_hex(&env.read("other.bin")))],
    );
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "other.dsse.json",
        "--key",
        "pem.pub.pem",
    ])
    .code(1)
    .diag("digest-mismatch");
}

#[test]
fn one_failing_signature_denies_even_beside_a_good_one() {
    let env = TestEnv::new();
    env.write("server.bin", noise(5_000, 3));
    env.write("other.bin", noise(5_000, 4));
    let mini = Minisign::generate(&env, "mini");
    mini.sign(&env.path("server.bin"), None);
    mini.sign(&env.path("other.bin"), None);
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--signature",
        "other.bin.minisig",
        "--key",
        "mini.pub",
    ])
    .code(1)
    .diag("signature-invalid")
    .stdout_has("other.bin.minisig: the signature does not match the file");
    env.write("garbage.sig", "not a signature\n");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--signature",
        "garbage.sig",
        "--key",
        "mini.pub",
    ])
    .code(1)
    .diag("signature-malformed");
}

#[test]
fn truncated_minisign_signature_never_verifies() {
    let (env, _) = minisign_setup();
    let full = env.read("server.bin.minisig");
    let end = full.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap() + 1;
    let mut lens: Vec<usize> = (0..end).step_by(3).collect();
    lens.push(end - 1);
    for len in lens {
        env.write("cut.minisig", &full[..len]);
        let out = env.run([
            "--format",
            "json",
            "verify",
            "server.bin",
            "--signature",
            "cut.minisig",
            "--key",
            "pub.pub",
        ]);
        out.code(1);
        out.check(
            out.has_diag("signature-malformed") || out.has_diag("signature-invalid"),
            &format!("a {len}-byte prefix is malformed or invalid"),
        );
    }
    // The whole signature, with or without its final newline, verifies.
    env.write("cut.minisig", &full[..end]);
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "cut.minisig",
        "--key",
        "pub.pub",
    ])
    .code(0);
}

#[test]
fn truncated_ssh_signature_never_verifies() {
    let env = TestEnv::new();
    env.write("server.bin", noise(5_000, 3));
    let ssh = SshKey::generate(&env, "ssh");
    ssh.sign(&env.path("server.bin"));
    let full = env.read("server.bin.sig");
    let end = full.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap() + 1;
    for len in (0..end).step_by(4).chain([end - 1]) {
        env.write("cut.sig", &full[..len]);
        env.run([
            "verify",
            "server.bin",
            "--signature",
            "cut.sig",
            "--key",
            "ssh.pub",
        ])
        .code(1)
        .diag("signature-malformed");
    }
}

#[test]
fn garbled_signatures_are_malformed() {
    let (env, _) = minisign_setup();
    let good = String::from_utf8(env.read("server.bin.minisig")).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let deep = format!("{{\"payload\": {}", "[".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("whitespace", b" \n\t\n".to_vec()),
        ("binary noise", noise(300, 99)),
        ("prose", b"this is not a signature\n".to_vec()),
        (
            "minisign header only",
            b"untrusted comment: hello\n".to_vec(),
        ),
        (
            "minisign bad base64",
            format!("{}\n%%%%\n{}\n{}\n", lines[0], lines[2], lines[3]).into_bytes(),
        ),
        (
            "minisign lines swapped",
            format!("{}\n{}\n{}\n{}\n", lines[0], lines[3], lines[2], lines[1]).into_bytes(),
        ),
        (
            "minisign trailing text",
            format!("{good}more\n").into_bytes(),
        ),
        (
            "minisign not utf-8",
            [lines[0].as_bytes(), b"\n\xff\xfe\n"].concat(),
        ),
        (
            "ssh armor, bad body",
            b"-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----\n".to_vec(),
        ),
        (
            "ssh armor, no end",
            b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n".to_vec(),
        ),
        ("json, not an envelope", br#"{"payload": 1}"#.to_vec()),
        (
            "json, no signature",
            br#"{"payload":"e30=","payloadType":"x","signatures":[]}"#.to_vec(),
        ),
        ("json, deeply nested", deep.into_bytes()),
    ];
    for (what, bytes) in cases {
        env.write("bad.sig", &bytes);
        let out = env.run([
            "--format",
            "json",
            "verify",
            "server.bin",
            "--signature",
            "bad.sig",
            "--key",
            "pub.pub",
        ]);
        out.code(1);
        out.check(
            out.has_diag("signature-malformed"),
            &format!("{what}: signature-malformed"),
        );
    }
}

#[test]
fn trusted_key_outside_its_scope_is_denied() {
    let (env, key) = minisign_setup();
    env.trust_key(&key.public, "acme-release", &["acme-*", "io.github.acme/*"]);
    env.run(["verify", "server.bin", "--signature", "server.bin.minisig"])
        .code(1)
        .diag("signer-out-of-scope")
        .stdout_has("`acme-release` signed, but may vouch only for acme-*, io.github.acme/* and not for `server.bin`");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--server",
        "evil-acme-tools",
    ])
    .code(1)
    .diag("signer-out-of-scope");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--server",
        "acme-tools",
    ])
    .code(0);
}

#[test]
fn ssh_namespace_must_match() {
    let env = TestEnv::new();
    env.write("server.bin", noise(5_000, 3));
    let ssh = SshKey::generate(&env, "ssh");
    ssh.sign_to(
        &env.path("server.bin"),
        &env.path("other-ns.sig"),
        "other",
        None,
    );
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "other-ns.sig",
        "--key",
        "ssh.pub",
    ])
    .code(1)
    .diag("namespace-mismatch")
    .stdout_has(
        "the signature is for namespace `other`, but the key is trusted for namespace `file`",
    );
    // Trusted for that namespace, the key verifies it; a `file` signature
    // is then the mismatch.
    env.run([
        "trust",
        "add-key",
        "ssh.pub",
        "--name",
        "ns-key",
        "--scope",
        "*",
        "--ssh-namespace",
        "other",
    ])
    .code(0);
    env.run(["verify", "server.bin", "--signature", "other-ns.sig"])
        .code(0);
    ssh.sign(&env.path("server.bin"));
    env.run(["verify", "server.bin", "--signature", "server.bin.sig"])
        .code(1)
        .diag("namespace-mismatch");
}

#[test]
fn empty_artifact() {
    let env = TestEnv::new();
    env.write("empty.bin", b"");
    let key = Minisign::generate(&env, "pub");
    key.sign(&env.path("empty.bin"), None);
    key.sign_legacy(&env.path("empty.bin"), None);
    let ssh = SshKey::generate(&env, "ssh");
    ssh.sign(&env.path("empty.bin"));
    for (sig, k) in [
        ("empty.bin.minisig", "pub.pub"),
        ("empty.bin.legacy.minisig", "pub.pub"),
        ("empty.bin.sig", "ssh.pub"),
    ] {
        let out = env.run([
            "--format",
            "json",
            "verify",
            "empty.bin",
            "--signature",
            sig,
            "--key",
            k,
        ]);
        out.code(0);
        out.check(out.json()["artifact"]["size"] == 0, "size 0")
            .check(
                out.json()["artifact"]["sha256"]
                    == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "sha256 of nothing",
            );
    }
    env.run(["verify", "empty.bin", "--key", "pub.pub"])
        .code(1)
        .diag("signature-missing")
        .stdout_has("no signature was given");
    // A signature of an empty file does not vouch for a non-empty one.
    env.write("one.bin", b"\0");
    env.run([
        "verify",
        "one.bin",
        "--signature",
        "empty.bin.minisig",
        "--key",
        "pub.pub",
    ])
    .code(1)
    .diag("signature-invalid");
}

/// A 2 GiB file (sparse, so it costs no disk) verifies with the
/// checked-in minisign signature of 2 GiB of zeros, in bounded memory:
/// the artifact is streamed, never loaded.
#[test]
fn two_gib_sparse_file_streams_in_bounded_memory() {
    const LIMIT_KIB: u64 = 64 * 1024;
    let env = TestEnv::new();
    let f = fs::File::create(env.path("zeros.bin")).unwrap();
    f.set_len(2 << 30).unwrap();
    drop(f);
    env.copy_fixture("keys/minisign.pub", "fixture.pub");
    env.copy_fixture("signed/zeros-2GiB.minisig", "zeros.bin.minisig");
    let out = env
        .cmd()
        .args([
            "--format",
            "json",
            "verify",
            "zeros.bin",
            "--signature",
            "zeros.bin.minisig",
            "--key",
            "fixture.pub",
        ])
        .measure_rss()
        .run();
    out.code(0);
    let v = out.json();
    // `head -c 2147483648 /dev/zero | sha256sum`
    out.check(v["artifact"]["size"] == 2u64 << 30, "size 2 GiB")
        .check(
            v["artifact"]["sha256"]
                == "a7c744c13cc101ed66c29f672f92455547889cc586ce6d44fe76ae824958ea51",
            "the sha256 of 2 GiB of zeros",
        );
    let rss = out
        .peak_rss_kib
        .unwrap_or_else(|| out.fail("the peak RSS could not be measured"));
    eprintln!(
        "2 GiB verify: peak RSS {rss} KiB, {:.1} s",
        out.elapsed.as_secs_f64()
    );
    out.check(
        rss < LIMIT_KIB,
        &format!("peak RSS {rss} KiB must stay under {LIMIT_KIB} KiB"),
    );
}

#[test]
fn a_directory_is_not_an_artifact() {
    let (env, _) = minisign_setup();
    fs::create_dir(env.path("dir")).unwrap();
    env.run([
        "verify",
        "dir",
        "--signature",
        "server.bin.minisig",
        "--key",
        "pub.pub",
    ])
    .code(2)
    .diag("artifact-unreadable")
    .stderr_has("is a directory")
    .stderr_has("hint: pass the server's file, not its directory");
    let out = env.run([
        "--format",
        "json",
        "verify",
        "dir",
        "--signature",
        "server.bin.minisig",
        "--key",
        "pub.pub",
    ]);
    out.code(2).diag("artifact-unreadable");
    out.check(out.json()["verdict"] == "error", "verdict error");
}

#[test]
fn symlink_loop_and_missing_artifact_are_unreadable() {
    let (env, _) = minisign_setup();
    std::os::unix::fs::symlink("loop-b", env.path("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", env.path("loop-b")).unwrap();
    env.run([
        "verify",
        "loop-a",
        "--signature",
        "server.bin.minisig",
        "--key",
        "pub.pub",
    ])
    .code(2)
    .diag("artifact-unreadable")
    .stderr_has("symbolic links");
    env.run([
        "verify",
        "nope.bin",
        "--signature",
        "server.bin.minisig",
        "--key",
        "pub.pub",
    ])
    .code(2)
    .diag("artifact-unreadable")
    .stderr_has("nope.bin: no such file");
}

/// Opening a FIFO blocks until a writer comes: mcp-warden must refuse it
/// as "not a regular file" instead of hanging.
#[test]
fn a_fifo_is_refused_not_waited_on() {
    let (env, _) = minisign_setup();
    tool(&env.work, "mkfifo", ["pipe"]);
    let quick = std::time::Duration::from_secs(20);
    env.cmd()
        .args([
            "verify",
            "pipe",
            "--signature",
            "server.bin.minisig",
            "--key",
            "pub.pub",
        ])
        .timeout(quick)
        .run()
        .code(2)
        .diag("artifact-unreadable")
        .stderr_has("pipe: is not a regular file");
    env.cmd()
        .args([
            "verify",
            "server.bin",
            "--signature",
            "pipe",
            "--key",
            "pub.pub",
        ])
        .timeout(quick)
        .run()
        .code(2)
        .diag("input-invalid")
        .stderr_has("is not a regular file");
    env.cmd()
        .args([
            "verify",
            "server.bin",
            "--signature",
            "server.bin.minisig",
            "--key",
            "pipe",
        ])
        .timeout(quick)
        .run()
        .code(2)
        .diag("key-malformed");
    env.cmd()
        .args([
            "--policy",
            "pipe",
            "verify",
            "server.bin",
            "--signature",
            "server.bin.minisig",
            "--key",
            "pub.pub",
        ])
        .timeout(quick)
        .run()
        .code(2)
        .diag("policy-unreadable");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "/dev/null",
        "--key",
        "pub.pub",
    ])
    .code(2)
    .diag("input-invalid");
}

#[test]
fn missing_or_oversized_signature_file_is_an_input_error() {
    let (env, _) = minisign_setup();
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "nope.minisig",
        "--key",
        "pub.pub",
    ])
    .code(2)
    .diag("input-invalid")
    .stderr_has("cannot read the signature: nope.minisig: no such file");
    let big = fs::File::create(env.path("big.minisig")).unwrap();
    big.set_len(16 * 1024 * 1024 + 1).unwrap();
    drop(big);
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "big.minisig",
        "--key",
        "pub.pub",
    ])
    .code(2)
    .diag("input-invalid")
    .stderr_has("larger than the 16777216-byte limit");
    // Exactly at the limit it is read (and is no signature).
    let at = fs::File::create(env.path("at.minisig")).unwrap();
    at.set_len(16 * 1024 * 1024).unwrap();
    drop(at);
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "at.minisig",
        "--key",
        "pub.pub",
    ])
    .code(1)
    .diag("signature-malformed");
}

#[test]
fn bad_key_files_are_input_errors() {
    let (env, key) = minisign_setup();
    env.write("garbage.pub", "hello\n");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--key",
        "garbage.pub",
    ])
    .code(2)
    .diag("key-malformed");
    // The secret key is refused, not used.
    let secret = key
        .secret
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--key",
        &secret,
    ])
    .code(2)
    .diag("key-malformed");
    let ssh = SshKey::generate(&env, "ssh");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--key",
        ssh.private.to_str().unwrap(),
    ])
    .code(2)
    .diag("key-malformed")
    .stderr_has("private key");
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--key",
        "missing.pub",
    ])
    .code(2)
    .diag("key-malformed");
}
