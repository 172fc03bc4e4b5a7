//! The trust store: adding with mandatory scopes, idempotence, refusals
//! that leave the file as it was, the read-only system store, and a
//! tampered store that stops verification.

use std::fs;

use serde_json::Value;

use super::support::util::*;

fn list_json(env: &TestEnv) -> Vec<Value> {
    let out = env.run(["--format", "json", "trust", "list"]);
    out.code(0);
    out.json()
        .as_array()
        .cloned()
        .unwrap_or_else(|| out.fail("trust list --format json is an array"))
}

/// Every file in the config directory, for "nothing was left behind".
fn config_files(env: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(env.home.join("config"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn add_key_requires_a_scope() {
    let env = TestEnv::new();
    Minisign::generate(&env, "k");
    let out = env.run(["trust", "add-key", "k.pub", "--name", "acme"]);
    out.code(2)
        .diag("trust-input")
        .stderr_has("no scope given")
        .stderr_has("--scope");
    assert!(!env.trust_file().exists(), "nothing was written");

    let out = env.run([
        "--format", "json", "trust", "add-key", "k.pub", "--name", "acme", "--scope", "*",
    ]);
    out.code(0);
    let v = out.json();
    out.check(v["status"] == "added" && v["name"] == "acme", "added")
        .check(
            v["fingerprint"].as_str().unwrap().starts_with("SHA256:"),
            "fingerprint",
        )
        .check(
            // As minisign writes it in the key's comment (no zero padding).
            {
                let pub_text = String::from_utf8(env.read("k.pub")).unwrap();
                let id = pub_text
                    .lines()
                    .next()
                    .unwrap()
                    .rsplit(' ')
                    .next()
                    .unwrap()
                    .to_string();
                v["minisign_key_id"] == id.as_str()
            },
            "minisign key id",
        );
    let list = list_json(&env);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "acme");
    assert_eq!(list[0]["scopes"], serde_json::json!(["*"]));
    assert_eq!(list[0]["origin"], "user");
    assert_eq!(list[0]["format"], "minisign");
    env.run(["trust", "list"])
        .code(0)
        .stdout_has("acme  key SHA256:")
        .stdout_has("scopes: *")
        .stdout_has("minisign id ");
}

#[test]
fn keys_of_every_format_can_be_trusted() {
    let env = TestEnv::new();
    Minisign::generate(&env, "m");
    SshKey::generate(&env, "s");
    PemKey::generate(&env, "p");
    env.trust_key(&env.path("m.pub"), "mini", &["a-*"]);
    env.trust_key(&env.path("s.pub"), "ssh", &["b-*", "c-*"]);
    env.trust_key(&env.path("p.pub.pem"), "pem", &["io.github.acme/*"]);
    let list = list_json(&env);
    let names: Vec<&str> = list.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mini", "ssh", "pem"]);
    assert_eq!(list[0]["format"], "minisign");
    assert_eq!(list[1]["format"], "openssh");
    assert_eq!(list[1]["scopes"], serde_json::json!(["b-*", "c-*"]));
}

#[test]
fn adding_the_same_key_twice_changes_nothing_and_says_so() {
    let env = TestEnv::new();
    Minisign::generate(&env, "k");
    env.trust_key(&env.path("k.pub"), "acme", &["acme-*"]);
    let before = fs::read(env.trust_file()).unwrap();
    // Under the same name or another one.
    for name in ["acme", "acme-again"] {
        env.run(["trust", "add-key", "k.pub", "--name", name, "--scope", "*"])
            .code(0)
            .stderr_has("is trusted already as `acme`; nothing changed");
        let out = env.run([
            "--format", "json", "trust", "add-key", "k.pub", "--name", name, "--scope", "*",
        ]);
        out.code(0)
            .check(out.json()["status"] == "unchanged", "status unchanged");
    }
    assert_eq!(
        fs::read(env.trust_file()).unwrap(),
        before,
        "the trust file is unchanged"
    );
    assert_eq!(list_json(&env).len(), 1);
}

#[test]
fn refused_changes_leave_the_trust_file_byte_identical() {
    let env = TestEnv::new();
    Minisign::generate(&env, "k");
    Minisign::generate(&env, "other");
    env.trust_key(&env.path("k.pub"), "acme", &["acme-*"]);
    let before = fs::read(env.trust_file()).unwrap();
    let files = config_files(&env);
    env.write("junk.pub", "not a key\n");

    let refusals: &[(&[&str], &str, &str)] = &[
        (
            &[
                "trust",
                "add-key",
                "other.pub",
                "--name",
                "acme",
                "--scope",
                "*",
            ],
            "trust-input",
            "exists already",
        ),
        (
            &["trust", "add-key", "other.pub", "--name", "fresh"],
            "trust-input",
            "--scope",
        ),
        (
            &[
                "trust",
                "add-key",
                "other.pub",
                "--name",
                "fresh",
                "--scope",
                "acme-[",
            ],
            "trust-input",
            "invalid scope",
        ),
        (
            &[
                "trust",
                "add-key",
                "other.pub",
                "--name",
                "bad name",
                "--scope",
                "*",
            ],
            "trust-input",
            "invalid name",
        ),
        (
            &[
                "trust", "add-key", "junk.pub", "--name", "fresh", "--scope", "*",
            ],
            "trust-input",
            "not a public key",
        ),
        (
            &[
                "trust",
                "add-key",
                "other.key",
                "--name",
                "fresh",
                "--scope",
                "*",
            ],
            "trust-input",
            "private key",
        ),
        (
            &[
                "trust",
                "add-key",
                "missing.pub",
                "--name",
                "fresh",
                "--scope",
                "*",
            ],
            "trust-input",
            "cannot read the key: missing.pub: no such file",
        ),
        (
            &["trust", "remove", "nobody"],
            "trust-input",
            "no trust entry is named `nobody`",
        ),
        (
            &[
                "trust",
                "add-identity",
                "--name",
                "acme",
                "--issuer",
                "https://issuer.example",
                "--identity",
                "x",
                "--scope",
                "*",
            ],
            "trust-input",
            "exists already",
        ),
        (
            &[
                "trust",
                "add-identity",
                "--name",
                "ci",
                "--issuer",
                "https://issuer.example",
                "--identity-regexp",
                "(",
                "--scope",
                "*",
            ],
            "trust-input",
            "regular expression",
        ),
    ];
    for (args, code, msg) in refusals {
        env.run(*args).code(2).diag(code).stderr_has(msg);
        assert_eq!(
            fs::read(env.trust_file()).unwrap(),
            before,
            "after `{}` the trust file is unchanged",
            args.join(" ")
        );
        assert_eq!(
            config_files(&env),
            files,
            "no temporary file is left behind"
        );
    }
}

#[test]
fn remove_and_remove_unknown() {
    let env = TestEnv::new();
    Minisign::generate(&env, "k");
    SshKey::generate(&env, "s");
    env.trust_key(&env.path("k.pub"), "acme", &["*"]);
    env.trust_key(&env.path("s.pub"), "ssh", &["*"]);
    env.run(["trust", "remove", "acme"])
        .code(0)
        .stderr_has("removed `acme`");
    let list = list_json(&env);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "ssh");
    env.run(["trust", "remove", "acme"])
        .code(2)
        .diag("trust-input")
        .stderr_has("no trust entry is named `acme`")
        .stderr_has("`mcp-warden trust list` shows the names");
    // The removed key no longer verifies anything.
    env.write("a.bin", "a");
    Minisign {
        public: env.path("k.pub"),
        secret: env.path("k.key"),
    }
    .sign(&env.path("a.bin"), None);
    env.run(["verify", "a.bin", "--signature", "a.bin.minisig"])
        .code(1)
        .stdout_lacks("acme");
    env.run(["trust", "remove", "ssh"]).code(0);
    env.run(["verify", "a.bin", "--signature", "a.bin.minisig"])
        .code(1)
        .diag("key-unknown");
}

#[test]
fn identities_are_listed_and_are_not_keys() {
    let env = TestEnv::new();
    env.run([
        "trust",
        "add-identity",
        "--name",
        "ci",
        "--issuer",
        "https://token.actions.githubusercontent.com",
        "--identity",
        "x",
    ])
    .code(2)
    .diag("trust-input")
    .stderr_has("--scope");
    env.run([
        "trust",
        "add-identity",
        "--name",
        "ci",
        "--issuer",
        "https://token.actions.githubusercontent.com",
        "--identity-regexp",
        "https://github.com/acme/.*",
        "--scope",
        "acme-*",
    ])
    .code(0)
    .stderr_has("trusted sigstore identity `ci`");
    let list = list_json(&env);
    assert_eq!(list[0]["kind"], "identity");
    assert_eq!(list[0]["identity"], "/https://github.com/acme/.*/");
    env.write("a.bin", "a");
    env.write("a.sig", "x");
    env.run([
        "verify",
        "a.bin",
        "--signature",
        "a.sig",
        "--key-name",
        "ci",
    ])
    .code(2)
    .diag("key-unknown")
    .stderr_has("is a sigstore identity, not a key");
}

#[test]
fn system_entries_are_listed_and_cannot_be_removed() {
    let env = TestEnv::new();
    let key = Minisign::generate(&env, "corp");
    // Let the tool write the entry under a scratch home, then install that
    // file as the system's.
    let scratch = env.root.join("scratch");
    env.run([
        "--home",
        scratch.to_str().unwrap(),
        "trust",
        "add-key",
        "corp.pub",
        "--name",
        "corp",
        "--scope",
        "*",
    ])
    .code(0);
    fs::create_dir_all(env.system_trust_dir()).unwrap();
    fs::copy(
        scratch.join("config/trust.toml"),
        env.system_trust_dir().join("corp.toml"),
    )
    .unwrap();
    // Files other than *.toml are ignored.
    fs::write(env.system_trust_dir().join("README"), "not toml").unwrap();

    let list = list_json(&env);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "corp");
    assert_eq!(list[0]["origin"], "system");
    env.run(["trust", "list"])
        .code(0)
        .stdout_has("trust.d/corp.toml");

    env.run(["trust", "remove", "corp"])
        .code(2)
        .diag("trust-input")
        .stderr_has("comes from the system trust store")
        .stderr_has("ask the administrator");
    Minisign::generate(&env, "mine");
    env.run([
        "trust", "add-key", "mine.pub", "--name", "corp", "--scope", "*",
    ])
    .code(2)
    .diag("trust-input")
    .stderr_has("system trust store");
    assert!(
        !env.trust_file().exists(),
        "the user's store was not created"
    );
    // The system key verifies.
    env.write("a.bin", "a");
    key.sign(&env.path("a.bin"), None);
    env.run(["verify", "a.bin", "--signature", "a.bin.minisig"])
        .code(0)
        .stdout_has("trusted key corp");
}

#[test]
fn tampered_trust_store_stops_verification() {
    let env = TestEnv::new();
    let key = Minisign::generate(&env, "k");
    Minisign::generate(&env, "evil");
    env.trust_key(&key.public, "acme", &["*"]);
    env.write("a.bin", "a");
    key.sign(&env.path("a.bin"), None);
    env.run(["verify", "a.bin", "--signature", "a.bin.minisig"])
        .code(0);

    // Swap the pinned key text for another valid key, keeping the
    // recorded fingerprint.
    let text = fs::read_to_string(env.trust_file()).unwrap();
    let ours = String::from_utf8(env.read("k.pub")).unwrap();
    let evil = String::from_utf8(env.read("evil.pub")).unwrap();
    let ours_line = ours.lines().nth(1).unwrap();
    let evil_line = evil.lines().nth(1).unwrap();
    assert!(
        text.contains(ours_line),
        "the store holds the key text:\n{text}"
    );
    fs::write(env.trust_file(), text.replace(ours_line, evil_line)).unwrap();

    for args in [
        &["verify", "a.bin", "--signature", "a.bin.minisig"][..],
        &[
            "verify",
            "a.bin",
            "--signature",
            "a.bin.minisig",
            "--key",
            "k.pub",
        ],
        &["trust", "list"],
        &[
            "trust", "add-key", "evil.pub", "--name", "evil", "--scope", "*",
        ],
    ] {
        env.run(args)
            .code(2)
            .diag("trust-store-invalid")
            .stderr_has("does not have the recorded fingerprint");
    }
    let out = env.run([
        "--format",
        "json",
        "verify",
        "a.bin",
        "--signature",
        "a.bin.minisig",
    ]);
    out.code(2).diag("trust-store-invalid");
    out.check(out.json()["verdict"] == "error", "verdict error");

    // Broken TOML is as bad.
    fs::write(env.trust_file(), "[[key]\n").unwrap();
    env.run(["verify", "a.bin", "--signature", "a.bin.minisig"])
        .code(2)
        .diag("trust-store-invalid");
}

#[test]
fn cas_share_the_namespace_and_the_system_store() {
    let env = TestEnv::new();
    env.copy_fixture("mcpb/root.pem", "root.pem");
    env.copy_fixture("mcpb/inter.pem", "inter.pem");
    let key = Minisign::generate(&env, "k");
    env.trust_key(&key.public, "acme", &["*"]).code(0);
    // One name, one entry, whatever its kind.
    env.run([
        "trust", "add-ca", "root.pem", "--name", "acme", "--scope", "*",
    ])
    .code(2)
    .diag("trust-input")
    .stderr_has("exists already");
    env.run([
        "trust", "add-ca", "root.pem", "--name", "corp-ca", "--scope", "*",
    ])
    .code(0);
    env.run([
        "trust", "add-key", "k.pub", "--name", "corp-ca", "--scope", "*",
    ])
    .code(0)
    .stderr_has("trusted already as `acme`");
    Minisign::generate(&env, "k2");
    env.run([
        "trust", "add-key", "k2.pub", "--name", "corp-ca", "--scope", "*",
    ])
    .code(2)
    .stderr_has("exists already");

    // A CA from the system store: listed as such, not removable here.
    let scratch = env.root.join("scratch");
    env.run([
        "--home",
        scratch.to_str().unwrap(),
        "trust",
        "add-ca",
        "inter.pem",
        "--name",
        "sys-ca",
        "--scope",
        "corp-*",
    ])
    .code(0);
    fs::create_dir_all(env.system_trust_dir()).unwrap();
    fs::copy(
        scratch.join("config/trust.toml"),
        env.system_trust_dir().join("ca.toml"),
    )
    .unwrap();
    let list = list_json(&env);
    let sys = list
        .iter()
        .find(|e| e["name"] == "sys-ca")
        .expect("the system CA is listed");
    assert_eq!(sys["kind"], "ca");
    assert_eq!(sys["origin"], "system");
    assert!(
        sys["subject"]
            .as_str()
            .unwrap()
            .contains("Fixture Intermediate")
    );
    env.run(["trust", "remove", "sys-ca"])
        .code(2)
        .stderr_has("comes from the system trust store");
    env.run(["trust", "remove", "corp-ca"]).code(0);
    assert!(!list_json(&env).iter().any(|e| e["name"] == "corp-ca"));
}
