//! The policy file: `init`, `check` with positions and codes, `explain`,
//! and how verify decides under a policy (signers, pinned digests, audit
//! mode, layering, required evidence and exceptions).

use std::fs;

use super::support::util::*;

/// A trusted key `acme` (scope `*`), and `server.bin` signed by it.
fn signed_env() -> TestEnv {
    let env = TestEnv::new();
    env.write("server.bin", noise(3_000, 21));
    let key = Minisign::generate(&env, "acme");
    key.sign(&env.path("server.bin"), None);
    env.trust_key(&key.public, "acme", &["*"]);
    env
}

const SIGNED: [&str; 4] = ["verify", "server.bin", "--signature", "server.bin.minisig"];

fn verify_with<'a>(policy: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--policy", policy];
    v.extend(SIGNED);
    v.extend(extra);
    v
}

#[test]
fn init_writes_a_template_that_check_accepts() {
    let env = signed_env();
    env.run(["policy", "init"]).code(0).stderr_has("wrote ");
    let template =
        fs::read_to_string(env.user_policy()).expect("policy init wrote the home's policy.toml");
    assert!(template.contains("version = 1"));
    env.run(["policy", "check"])
        .code(0)
        .stdout_has("0 error(s), 0 warning(s)");
    env.run(["policy", "check", env.user_policy().to_str().unwrap()])
        .code(0);
    // The template is in force now: a trusted signature passes, and a
    // missing one is denied by the template's rule.
    env.run(SIGNED)
        .code(0)
        .no_diag("default-policy")
        .stdout_has("user policy: signature by `acme` (scope *) meets [defaults] require");
    env.run(["verify", "server.bin"])
        .code(1)
        .diag("signature-missing");

    // With --policy the template goes to that file instead.
    env.run(["--policy", "mine.toml", "policy", "init"]).code(0);
    assert_eq!(fs::read_to_string(env.path("mine.toml")).unwrap(), template);
    env.run(["--policy", "mine.toml", "policy", "check"])
        .code(0);
    let out = env.run(["--format", "json", "policy", "check", "mine.toml"]);
    out.code(0);
    let v = out.json();
    out.check(v["errors"] == 0 && v["warnings"] == 0, "no findings")
        .check(v["files"] == serde_json::json!(["mine.toml"]), "files");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let env = TestEnv::new();
    env.run(["policy", "init"]).code(0);
    let template = fs::read(env.user_policy()).unwrap();
    fs::write(env.user_policy(), "version = 1\n# mine\n").unwrap();
    env.run(["policy", "init"])
        .code(2)
        .diag("input-invalid")
        .stderr_has("exists already")
        .stderr_has("--force");
    assert_eq!(
        fs::read(env.user_policy()).unwrap(),
        b"version = 1\n# mine\n",
        "the file is untouched"
    );
    env.run(["policy", "init", "--force"]).code(0);
    assert_eq!(
        fs::read(env.user_policy()).unwrap(),
        template,
        "--force rewrote the template"
    );
}

const BAD: &str = r#"version = 1
colour = "blue"

[defaults]
require = ["signature"]

[[servers]]
name = "alpha"
signers = ["nobody"]

[[servers]]
name = "beta"
signers = []

[[exceptions]]
servers = ["alpha", "gam[ma"]
waive = ["provenance"]
"#;

#[test]
fn check_reports_every_problem_with_its_position() {
    let env = signed_env();
    env.write("bad.toml", BAD);
    let want = [
        (
            "policy-unknown-key",
            "bad.toml:2:1",
            "unknown key `colour` in the top level",
        ),
        (
            "policy-unknown-signer",
            "bad.toml:9:12",
            "signer `nobody` is not in the trust store",
        ),
        (
            "policy-contradiction",
            "bad.toml:13:11",
            "`beta` requires a signature but allows no signer",
        ),
        (
            "policy-missing-reason",
            "bad.toml:15:1",
            "an exception has no `reason`",
        ),
        (
            "policy-bad-pattern",
            "bad.toml:16:21",
            "invalid glob `gam[ma`",
        ),
    ];
    let out = env.run(["policy", "check", "bad.toml"]);
    out.code(1).stdout_has("bad.toml: 5 error(s), 0 warning(s)");
    for (code, loc, msg) in want {
        out.stdout_has(&format!("error[{code}]: {loc}: {msg}"));
    }
    let out = env.run(["--format", "json", "policy", "check", "bad.toml"]);
    out.code(1);
    let v = out.json();
    out.check(v["errors"] == 5, "5 errors");
    let got: Vec<(String, String)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["location"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (code, loc, _) in want {
        out.check(
            got.contains(&(code.to_string(), loc.to_string())),
            &format!("{code} at {loc}"),
        );
    }
    for d in v["diagnostics"].as_array().unwrap() {
        out.check(
            d["severity"] == "error" && d["hint"].is_string(),
            "each finding is an error with a hint",
        );
    }
}

#[test]
fn check_reports_more_codes() {
    let env = TestEnv::new();
    env.write(
        "more.toml",
        r#"version = 2
mode = "lenient"

[[servers]]
name = "a"
[servers.run]
network = "yes"

[[servers]]
name = "a"
digests = ["sha256:abc"]
versions = "not a requirement"
"#,
    );
    let out = env.run(["policy", "check", "more.toml"]);
    out.code(1);
    for (code, loc) in [
        ("policy-version", "more.toml:1:11"),
        ("policy-type", "more.toml:2:8"),
        ("policy-type", "more.toml:7:11"),
        ("policy-duplicate", "more.toml:10:8"),
        ("policy-bad-pattern", "more.toml:11:12"),
        ("policy-bad-pattern", "more.toml:12:12"),
    ] {
        out.stdout_has(&format!("error[{code}]: {loc}: "));
    }
    // Warnings alone do not fail the check.
    env.write(
        "warn.toml",
        "version = 1\n[[exceptions]]\nservers = [\"legacy-*\"]\nwaive = [\"provenance\"]\nreason = \"vendor has no CI\"\n",
    );
    env.run(["policy", "check", "warn.toml"])
        .code(0)
        .stdout_has("warning[exception-unused]: warn.toml:2:1:")
        .stdout_has("0 error(s), 1 warning(s)");
}

#[test]
fn syntax_error_has_a_position() {
    let env = TestEnv::new();
    env.write("syn.toml", "version = 1\n[defaults\nrequire = []\n");
    env.run(["policy", "check", "syn.toml"])
        .code(1)
        .stdout_has("error[policy-syntax]: syn.toml:2:10: ");
    let out = env.run(["--format", "json", "policy", "check", "syn.toml"]);
    out.code(1);
    out.check(
        out.diagnostic("policy-syntax")["location"] == "syn.toml:2:10",
        "location",
    );
}

#[test]
fn check_without_any_policy_is_an_input_error() {
    let env = TestEnv::new();
    env.run(["policy", "check"])
        .code(2)
        .diag("policy-unreadable")
        .stderr_has("no policy file to check");
    env.run(["policy", "check", "missing.toml"])
        .code(2)
        .diag("policy-unreadable");
}

#[test]
fn server_entry_with_other_signers_denies() {
    let env = signed_env();
    let other = Minisign::generate(&env, "other");
    env.trust_key(&other.public, "other", &["*"]);
    env.write(
        "policy.toml",
        "version = 1\n\n[[servers]]\nname = \"github\"\nsigners = [\"other\"]\n",
    );
    let out = env.run(verify_with("policy.toml", &["--server", "github"]));
    out.code(1)
        .diag("signer-not-allowed")
        .stdout_has("`acme` signed, but `github` accepts only other (policy.toml:5:11)")
        .stdout_has("DENIED   user policy denies:");
    // Other servers fall back to [defaults]: any trusted signer in scope.
    env.run(verify_with("policy.toml", &["--server", "gitlab"]))
        .code(0);
    // And the right signer passes.
    env.write(
        "policy.toml",
        "version = 1\n\n[[servers]]\nname = \"github\"\nsigners = [\"other\", \"acme\"]\n",
    );
    env.run(verify_with("policy.toml", &["--server", "github"]))
        .code(0);
}

#[test]
fn pinned_digest_mismatch_denies() {
    let env = signed_env();
    let actual = sha256_hex(&env.read("server.bin"));
    let zeros = "0".repeat(64);
    env.write(
        "policy.toml",
        format!(
            "version = 1\n[[servers]]\nname = \"server.bin\"\ndigests = [\"sha256:{zeros}\"]\n"
        ),
    );
    env.run(verify_with("policy.toml", &[]))
        .code(1)
        .diag("digest-mismatch")
        .stdout_has(&format!("the artifact's digest sha256:{actual} is not one that `server.bin` pins (policy.toml:4:11)"));
    env.write(
        "policy.toml",
        format!("version = 1\n[[servers]]\nname = \"server.bin\"\ndigests = [\"sha256:{zeros}\", \"sha256:{}\"]\n", actual.to_uppercase()),
    );
    env.run(verify_with("policy.toml", &[])).code(0);
}

#[test]
fn audit_mode_allows_and_warns() {
    let env = signed_env();
    env.write("audit.toml", "version = 1\nmode = \"audit\"\n");
    let out = env.run(["--policy", "audit.toml", "verify", "server.bin"]);
    out.code(0)
        .diag("audit-mode")
        .stdout_has("warning[audit-mode]: the user policy is in audit mode: `server.bin` would have been denied, and is allowed")
        .stdout_has("warning[signature-missing]")
        .stdout_has("ALLOWED  user policy (audit mode) would deny: no signature was given")
        .stdout_lacks("user policy denies");
    let out = env.run([
        "--format",
        "json",
        "--policy",
        "audit.toml",
        "verify",
        "server.bin",
    ]);
    out.code(0);
    out.check(out.json()["verdict"] == "allowed", "allowed")
        .check(
            out.diagnostic("audit-mode")["severity"] == "warning",
            "a warning",
        )
        .check(
            out.diagnostic("signature-missing")["severity"] == "warning",
            "the denial is downgraded",
        );
    // Nothing to report: no audit warning.
    env.run(verify_with("audit.toml", &[]))
        .code(0)
        .no_diag("audit-mode");
}

#[test]
fn user_audit_cannot_relax_system_enforce() {
    let env = signed_env();
    fs::write(env.system_policy(), "version = 1\nmode = \"enforce\"\n").unwrap();
    fs::create_dir_all(env.user_policy().parent().unwrap()).unwrap();
    fs::write(env.user_policy(), "version = 1\nmode = \"audit\"\n").unwrap();
    let out = env.run(["verify", "server.bin"]);
    out.code(1)
        .diag("signature-missing")
        .diag("policy-loosening")
        .stdout_has("DENIED   system policy denies:");
    env.run(SIGNED).code(0);
    let user = env.user_policy();
    env.run(["policy", "check"])
        .code(0)
        .stdout_has(&format!(
            "warning[policy-loosening]: {}:2:8: `mode = \"audit\"` cannot relax",
            user.display()
        ))
        .stdout_has("0 error(s), 1 warning(s)");
    // --policy replaces the user file, never the system one.
    env.write("audit.toml", "version = 1\nmode = \"audit\"\n");
    env.run(["--policy", "audit.toml", "verify", "server.bin"])
        .code(1)
        .diag("policy-loosening");
    env.run(["--policy", "audit.toml", "policy", "check"])
        .code(0)
        .stdout_has("warning[policy-loosening]: audit.toml:2:8:");
}

#[test]
fn user_exception_cannot_waive_what_the_system_requires() {
    let env = signed_env();
    fs::write(env.system_policy(), "version = 1\n").unwrap();
    env.write(
        "user.toml",
        "version = 1\n[[servers]]\nname = \"server.bin\"\n[[exceptions]]\nservers = [\"server.bin\"]\nwaive = [\"signature\"]\nreason = \"trust me\"\n",
    );
    env.run(["--policy", "user.toml", "verify", "server.bin"])
        .code(1)
        .diag("signature-missing")
        .diag("policy-loosening")
        .stdout_has("DENIED   system policy denies:");
    env.run(["--policy", "user.toml", "policy", "check"])
        .code(0)
        .stdout_has("warning[policy-loosening]: user.toml:4:1: the exception waives `signature`, which the system policy requires");
}

#[test]
fn system_policy_applies_without_a_user_policy() {
    let env = signed_env();
    let other = Minisign::generate(&env, "other");
    env.trust_key(&other.public, "other", &["*"]);
    fs::write(
        env.system_policy(),
        "version = 1\n[defaults]\nsigners = [\"other\"]\n",
    )
    .unwrap();
    let sys = env.system_policy();
    env.run(SIGNED)
        .code(1)
        .diag("signer-not-allowed")
        .stdout_has(&format!("accepts only other ({}:3:11)", sys.display()));
}

#[test]
fn the_environment_cannot_move_the_administrators_directory_away() {
    let env = signed_env();
    let other = Minisign::generate(&env, "other");
    env.trust_key(&other.public, "other", &["*"]);
    // The administrator's directory exists (debug builds let the tests say
    // where it is) and allows only `other`.
    fs::write(
        env.system_policy(),
        "version = 1\n[defaults]\nsigners = [\"other\"]\n",
    )
    .unwrap();
    for moved_to in [env.path("missing"), env.work.clone()] {
        let out = env
            .cmd()
            .args(SIGNED)
            .var("MCP_WARDEN_BUILTIN_SYSTEM_DIR", &env.system)
            .var("MCP_WARDEN_SYSTEM_DIR", &moved_to)
            .run();
        out.code(1).diag("signer-not-allowed").stderr_has(&format!(
            "MCP_WARDEN_SYSTEM_DIR={} is ignored: the administrator's directory {} exists",
            moved_to.display(),
            env.system.display()
        ));
    }
    // Where there is no administrator's directory, there is nothing to
    // drop: the variable moves it (packaging, tests).
    let out = env
        .cmd()
        .args(SIGNED)
        .var("MCP_WARDEN_BUILTIN_SYSTEM_DIR", env.path("no-admin"))
        .var("MCP_WARDEN_SYSTEM_DIR", env.path("missing"))
        .run();
    out.code(0);
    assert!(!out.stderr.contains("is ignored"), "{}", out.context());
}

#[test]
fn explain_names_the_rule_and_its_line() {
    let env = signed_env();
    env.write(
        "policy.toml",
        "version = 1\n\n[[servers]]\nname = \"github\"\nrequire = [\"signature\"]\nsigners = [\"acme\"]\n",
    );
    let out = env.run(["--policy", "policy.toml", "policy", "explain", "github"]);
    out.code(0)
        .stdout_has("server `github`")
        .stdout_has("user policy policy.toml (mode enforce)")
        .stdout_has("  entry for `github`\n      from policy.toml:4:8")
        .stdout_has("  require: signature\n      from policy.toml:5:11")
        .stdout_has("  signers: acme (bind every signed thing: signature, provenance, SBOM)\n      from policy.toml:6:11")
        .stdout_has("`acme`: key SHA256:")
        .stdout_has("covers this server");
    env.run(["--policy", "policy.toml", "policy", "explain", "gitlab"])
        .code(0)
        .stdout_has("no entry for `gitlab`: [defaults] apply");
    let out = env.run([
        "--format",
        "json",
        "--policy",
        "policy.toml",
        "policy",
        "explain",
        "github",
    ]);
    out.code(0);
    let v = out.json();
    out.check(v["server"] == "github", "server").check(
        v["layers"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["from"] == "policy.toml:6:11"),
        "the signers rule with its position",
    );
    // Without a policy file, the built-in default is explained.
    env.run(["policy", "explain", "github"])
        .code(0)
        .stdout_has("default (no policy file)");
}

#[test]
fn check_and_explain_agree_on_a_catch_all_exception() {
    let env = signed_env();
    let policy = "version = 1\n[defaults]\nrequire = [\"signature\", \"provenance\"]\n\
                  [[exceptions]]\nservers = [\"*\"]\nwaive = [\"provenance\"]\nreason = \"no CI yet\"\n";
    env.write("p.toml", policy);
    // Nothing pinned and no entry: the exception matches nothing yet.
    env.run(["policy", "check", "p.toml"])
        .code(0)
        .stdout_has("warning[exception-unused]: p.toml:4:1: the exception for * matches no server: no `[[servers]]` entry and no pinned server")
        .stdout_has("0 error(s), 1 warning(s)");
    env.run([
        "add",
        "srv",
        "./server.bin",
        "--signature",
        "server.bin.minisig",
    ])
    .code(0);
    fs::write(env.user_policy(), policy).unwrap();
    // With a pinned server, check does not call it unused, and explain
    // shows it waiving provenance for that server.
    let out = env.run(["policy", "check"]);
    out.code(0)
        .stdout_lacks("exception-unused")
        .stdout_has("0 error(s), 0 warning(s)");
    env.run(["policy", "explain", "srv"])
        .code(0)
        .stdout_has("  waived: provenance — no CI yet\n      from ");
    // A glob that matches no pinned server is still reported.
    fs::write(env.user_policy(), policy.replace("\"*\"", "\"legacy-*\"")).unwrap();
    env.run(["policy", "check"])
        .code(0)
        .stdout_has("the exception for legacy-* matches no server");
}

#[test]
fn a_glob_as_a_server_entry_name_is_refused_with_its_position() {
    let env = signed_env();
    env.write(
        "glob.toml",
        "version = 1\n[[servers]]\nname = \"io.github.acme/*\"\nsigners = [\"acme\"]\n",
    );
    env.run(["policy", "check", "glob.toml"])
        .code(1)
        .stdout_has(
            "error[policy-type]: glob.toml:3:8: `[[servers]] name = \"io.github.acme/*\"` is a glob; a server entry names one server\n  \
             hint: give each server its own `[[servers]]` entry with its exact name; for many servers use `source`, `[defaults]` (every server) or an exception's `servers` globs\n",
        );
    // The policy is refused as a whole, not read as a literal name.
    env.run(verify_with("glob.toml", &["--server", "io.github.acme/x"]))
        .code(2)
        .diag("policy-type");
    // A registry-style literal name is a valid entry.
    env.write(
        "lit.toml",
        "version = 1\n[[servers]]\nname = \"io.github.acme/srv\"\nsigners = [\"acme\"]\n",
    );
    env.run(["policy", "check", "lit.toml"])
        .code(0)
        .stdout_has("0 error(s), 0 warning(s)");
}

#[test]
fn key_flag_is_not_enough_under_a_policy() {
    let env = TestEnv::new();
    env.write("server.bin", "x");
    let key = Minisign::generate(&env, "k");
    key.sign(&env.path("server.bin"), None);
    env.write("policy.toml", "version = 1\n");
    // Without a policy, --key is enough; with one, only trusted signers count.
    env.run([
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
        "--key",
        "k.pub",
    ])
    .code(0);
    env.run(verify_with("policy.toml", &["--key", "k.pub"]))
        .code(1)
        .diag("signer-untrusted")
        .stdout_has(
            "which the trust store does not hold; the user policy accepts trusted signers only",
        );
}

#[test]
fn required_provenance_denies_unless_waived_with_a_reason() {
    let env = signed_env();
    env.write(
        "policy.toml",
        "version = 1\n[defaults]\nrequire = [\"signature\", \"provenance\"]\n",
    );
    env.run(verify_with("policy.toml", &[]))
        .code(1)
        .diag("evidence-missing")
        .stdout_has("[defaults] require (policy.toml:3:11) requires provenance");
    env.write(
        "policy.toml",
        "version = 1\n[defaults]\nrequire = [\"signature\", \"provenance\"]\n\n[[servers]]\nname = \"server.bin\"\n\n\
         [[exceptions]]\nservers = [\"server.*\"]\nwaive = [\"provenance\"]\nreason = \"vendor publishes no provenance yet (SEC-1)\"\n",
    );
    env.run(["policy", "check", "policy.toml"]).code(0);
    let out = env.run(verify_with("policy.toml", &[]));
    out.code(0)
        .diag("exception-applied")
        .no_diag("evidence-missing")
        .stdout_has("note[exception-applied]: `provenance` is waived for `server.bin` by the exception at policy.toml:8:1: vendor publishes no provenance yet (SEC-1)");
    // The exception waives provenance only: the signature is still needed.
    env.run(["--policy", "policy.toml", "verify", "server.bin"])
        .code(1)
        .diag("signature-missing");
    // Without a reason the policy is invalid, and verify refuses it.
    env.write(
        "policy.toml",
        "version = 1\n[defaults]\nrequire = [\"signature\", \"provenance\"]\n\n[[servers]]\nname = \"server.bin\"\n\n\
         [[exceptions]]\nservers = [\"server.*\"]\nwaive = [\"provenance\"]\n",
    );
    env.run(verify_with("policy.toml", &[]))
        .code(2)
        .diag("policy-missing-reason");
}

#[test]
fn verify_with_an_invalid_policy_is_an_input_error() {
    let env = signed_env();
    env.write("bad.toml", BAD);
    let out = env.run(verify_with("bad.toml", &[]));
    out.code(2)
        .diag("policy-unknown-key")
        .diag("policy-contradiction")
        .stderr_has("bad.toml:2:1");
    let out = env.run([
        "--format",
        "json",
        "--policy",
        "bad.toml",
        "verify",
        "server.bin",
        "--signature",
        "server.bin.minisig",
    ]);
    out.code(2);
    out.check(out.json()["verdict"] == "error", "verdict error");
    env.write("syn.toml", "version = \n");
    env.run(verify_with("syn.toml", &[]))
        .code(2)
        .diag("policy-syntax");
    env.run(verify_with("missing.toml", &[]))
        .code(2)
        .diag("policy-unreadable");
    // A broken system policy stops every verification, too.
    fs::write(env.system_policy(), "version = 7\n").unwrap();
    env.run(SIGNED).code(2).diag("policy-version");
}

#[test]
fn explain_shows_the_guard_and_sandbox_rules_with_their_lines() {
    let env = TestEnv::new();
    env.write(
        "p.toml",
        "version = 1\n[[servers]]\nname = \"x\"\n[servers.run]\nsandbox = \"require\"\nnetwork = true\nconfirm-tools = [\"delete_*\"]\nrate = { per-tool = \"2/s\" }\n[servers.tools]\npinned = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n",
    );
    let out = env.run(["--policy", "p.toml", "policy", "explain", "x"]);
    out.code(0)
        .stdout_has("run: sandbox require, network on, confirm-tools delete_*, rate 2/s per tool")
        .stdout_has("tool list pinned to sha256:0000")
        .stdout_has("p.toml:10:10");
}
