//! The command line itself: every `--help` works, usage errors exit 2.

use super::support::util::*;

/// Every subcommand path, from the same clap definition the binary uses.
fn subcommand_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut out = vec![Vec::new()];
    walk(&mcp_warden::cli::docs::command(), &[], &mut out);
    out
}

/// The tools that make real keys and signatures are part of the test
/// setup: their absence is a failure, reported here in one place.
#[test]
fn signing_tools_are_installed() {
    require_tool("minisign", &["-v"]);
    require_tool("ssh-keygen", &["-?"]);
    require_tool("openssl", &["version"]);
}

#[test]
fn help_of_every_subcommand_exits_zero() {
    let env = TestEnv::new();
    let paths = subcommand_paths();
    assert!(
        paths.len() >= 10,
        "expected the verify, trust and policy subcommands: {paths:?}"
    );
    for path in paths {
        for flag in ["--help", "-h"] {
            let mut args = path.clone();
            args.push(flag.to_string());
            env.run(&args).code(0).stdout_has("Usage: mcp-warden");
        }
    }
    env.run(["verify", "--help"])
        .code(0)
        .stdout_has("Exit status:")
        .stdout_has("--key-name <NAME>");
    env.run(["--version"])
        .code(0)
        .stdout_has(env!("CARGO_PKG_VERSION"));
}

#[test]
fn usage_errors_exit_two() {
    let env = TestEnv::new();
    for args in [
        &[][..],
        &["verify"],
        &["frobnicate"],
        &["--format", "yaml", "trust", "list"],
        &["-v", "-q", "trust", "list"],
        &["trust", "add-key", "k.pub", "--scope", "*"],
        &[
            "trust",
            "add-identity",
            "--name",
            "x",
            "--issuer",
            "https://i",
            "--scope",
            "*",
        ],
        &[
            "trust",
            "add-identity",
            "--name",
            "x",
            "--issuer",
            "https://i",
            "--identity",
            "a",
            "--identity-regexp",
            "b",
            "--scope",
            "*",
        ],
        &["policy", "explain"],
    ] {
        let out = env.run(args);
        out.code(2);
        out.check(
            out.stdout.is_empty(),
            "usage errors print nothing on stdout",
        );
    }
}

#[test]
fn logs_go_to_stderr_and_json_stays_clean() {
    let env = TestEnv::new();
    env.write("a.bin", "a");
    let key = Minisign::generate(&env, "k");
    key.sign(&env.path("a.bin"), None);
    let out = env.run([
        "-vvv",
        "--format",
        "json",
        "verify",
        "a.bin",
        "--signature",
        "a.bin.minisig",
        "--key",
        "k.pub",
    ]);
    out.code(0);
    out.json();
    out.check(
        out.stderr.contains("hashed artifact"),
        "debug logs on stderr",
    );
}

#[test]
fn usage_errors_under_json_are_json_documents() {
    let env = TestEnv::new();
    for args in [
        &["--format", "json", "verify"][..],
        &["--format=json", "verify", "x", "--bogus"],
        &["--format", "json", "trust", "add-key", "k.pub"],
    ] {
        let out = env.run(args);
        out.code(2).diag("usage");
        out.check(out.json()["verdict"] == "error", "verdict error");
    }
    // Help is still help, not an error document.
    env.run(["--format", "json", "verify", "--help"])
        .code(0)
        .stdout_has("Usage: mcp-warden verify");
}
