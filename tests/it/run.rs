//! `mcp-warden run`: what starts is exactly what was pinned, re-checked
//! under the current policy and trust store, with a clean environment.
//! Test servers are small node packages signed by the real `minisign`.

use std::fs;
use std::path::{Path, PathBuf};

use super::support::util::{Minisign, TestEnv, require_tool, tool};

/// A server that answers each request on stdin with a JSON-RPC result:
/// its sorted environment, the line, its arguments.
const ECHO_ENV: &str = r#"
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(l).id, result: {
    env: Object.fromEntries(Object.entries(process.env).sort()),
    got: l,
    argv: process.argv.slice(2),
  }}) + '\n');
});
rl.on('close', () => process.exit(0));
"#;

/// Packs `files` as an npm-style `package/` tarball with a `bin`, signs it
/// with a fresh trusted minisign key and pins it as `name`.
pub(super) fn pin_node(env: &TestEnv, name: &str, js: &str, extra_pkg: &str) -> Minisign {
    require_tool("node", &["--version"]);
    let tgz = pack_node(env, name, js, extra_pkg);
    env.pin_signed(name, &tgz, &format!("{name}-signer"), &["*"])
}

pub(super) fn pack_node(env: &TestEnv, name: &str, js: &str, extra_pkg: &str) -> PathBuf {
    let dir = format!("src-{name}");
    env.write(
        &format!("{dir}/package/package.json"),
        format!(
            r#"{{"name": "{name}", "version": "1.0.0", "bin": {{"{name}": "server.js"}}{extra_pkg}}}"#
        ),
    );
    env.write(&format!("{dir}/package/server.js"), js);
    let tgz = env.path(&format!("{name}.tgz"));
    tool(
        &env.work,
        "tar",
        ["czf", tgz.to_str().unwrap(), "-C", &dir, "package"],
    );
    tgz
}

/// One MCP request: what the fixture servers read before answering.
pub(super) const PING: &str = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";

/// The `result` of the first line on stdout: the server's answer.
pub(super) fn answer(out: &super::support::util::Output) -> serde_json::Value {
    let line = out
        .stdout
        .lines()
        .next()
        .unwrap_or_else(|| out.fail("the server answered nothing"));
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| out.fail(&format!("not JSON: {e}")));
    match v.get("result") {
        Some(r) => r.clone(),
        None => out.fail("the first line is not a JSON-RPC result"),
    }
}

/// The unpacked tree of the one server pinned in `env`.
fn cached_tree(env: &TestEnv) -> PathBuf {
    let trees = env.home.join("cache/trees/sha256");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&trees)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one tree in {}", trees.display());
    dirs.pop().unwrap()
}

fn make_writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut perms = fs::metadata(p).unwrap().permissions();
    perms.set_mode(perms.mode() | 0o200);
    fs::set_permissions(p, perms).unwrap();
}

#[test]
fn starts_the_pinned_server_with_a_clean_environment_and_its_arguments() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    let out = env
        .cmd()
        .args(["run", "echo", "--env", "LOG_LEVEL", "--", "--flag", "value"])
        .var("AWS_SECRET_ACCESS_KEY", "canary-aws-7c1e")
        .var("GITHUB_TOKEN", "canary-gh-7c1e")
        .var("NODE_OPTIONS", "--require /nonexistent.js")
        .var("LOG_LEVEL", "debug")
        .var("LANG", "C.UTF-8")
        .var("LC_ALL", "C.UTF-8")
        .stdin("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .run();
    out.code(0);
    let a = answer(&out);
    assert_eq!(
        a["got"],
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"
    );
    assert_eq!(a["argv"], serde_json::json!(["--flag", "value"]));
    let keys: Vec<&str> = a["env"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["HOME", "LANG", "LC_ALL", "LOG_LEVEL", "PATH", "TMPDIR"],
        "only the allowlist and --env reach the server:\n{}",
        out.context()
    );
    assert_eq!(a["env"]["LOG_LEVEL"], "debug");
    // Under the sandbox, HOME and TMPDIR are the server's own directories.
    let state = env.home.join("data/state/echo");
    assert_eq!(a["env"]["HOME"], state.join("home").to_str().unwrap());
    assert_eq!(a["env"]["TMPDIR"], state.join("tmp").to_str().unwrap());
    // Only the server's line is on stdout; mcp-warden speaks on stderr.
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.context());
    out.stderr_has("starting echo").stderr_has("/usr/bin/node");
    assert!(!out.stderr.contains("canary"), "{}", out.context());
}

#[test]
fn a_registry_style_name_runs_under_the_sandbox_in_its_own_state_dir() {
    let env = TestEnv::new();
    require_tool("node", &["--version"]);
    let name = "io.github.acme/srv";
    let tgz = pack_node(&env, "srv", ECHO_ENV, "");
    env.pin_signed(name, &tgz, "acme-signer", &["io.github.acme/*"]);
    fs::write(
        env.user_policy(),
        format!("version = 1\n[[servers]]\nname = \"{name}\"\n[servers.run]\nsandbox = \"best-effort\"\n"),
    )
    .unwrap();
    let out = env.cmd().args(["run", name]).stdin(PING).run();
    out.code(0).stderr_has("starting io.github.acme/srv");
    // One directory per name: each `/` is a `+`, which no name contains.
    let state = env.home.join("data/state/io.github.acme+srv");
    let a = answer(&out);
    assert_eq!(a["env"]["HOME"], state.join("home").to_str().unwrap());
    assert_eq!(a["env"]["TMPDIR"], state.join("tmp").to_str().unwrap());
    let entries: Vec<String> = fs::read_dir(env.home.join("data/state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries, ["io.github.acme+srv"], "{}", out.context());
    assert!(state.join("home").is_dir() && state.join("tmp").is_dir());
}

#[test]
fn a_receipt_spares_the_rehash_until_something_changes() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    let run = |extra: &[&str]| {
        env.cmd()
            .args(["run", "echo"])
            .args(extra)
            .stdin(PING)
            .run()
    };
    run(&[]).code(0).stderr_has(", verified)");
    run(&[]).code(0).stderr_has(", receipt)");
    run(&["--rehash"]).code(0).stderr_has(", re-hashed)");
    // A policy file appearing is a change of the verdict's inputs.
    fs::write(env.user_policy(), "version = 1\n").unwrap();
    run(&[]).code(0).stderr_has(", verified)");
    run(&[]).code(0).stderr_has(", receipt)");
}

#[test]
fn a_tampered_cached_file_stops_the_launch() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    env.cmd().args(["run", "echo"]).stdin(PING).run().code(0);
    // Same size, same mtime: only the content and the ctime differ.
    let server = cached_tree(&env).join("package/server.js");
    let before = fs::metadata(&server).unwrap();
    make_writable(&server);
    let evil = ECHO_ENV.replace("got: l", "got: 'pwned'");
    let mut padded = evil.into_bytes();
    padded.resize(before.len() as usize, b' ');
    fs::write(&server, &padded).unwrap();
    fs::File::options()
        .write(true)
        .open(&server)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(1).diag_in_stderr("cache-mismatch");
    assert!(out.stdout.is_empty(), "{}", out.context());
    assert!(!out.stderr.contains("starting echo"), "{}", out.context());
}

/// node starts beside the check of the files and waits at its gate: a
/// tree changed since its receipt is refused and not one line of it runs,
/// and the refusal is on record.
#[test]
fn a_changed_tree_is_refused_before_its_waiting_interpreter_loads_it() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(0).stderr_has("starting echo");
    let got = answer(&out)["got"].as_str().unwrap_or_default().to_string();
    assert!(got.contains("\"ping\""), "{}", out.context());
    let server = cached_tree(&env).join("package/server.js");
    make_writable(&server);
    let evil = format!("process.stderr.write(\"TAMPERED CODE RAN\\n\");\n{ECHO_ENV}");
    fs::write(&server, evil).unwrap();
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(1).diag_in_stderr("cache-mismatch");
    assert!(out.stdout.is_empty(), "{}", out.context());
    assert!(
        !out.stderr.contains("TAMPERED CODE RAN"),
        "{}",
        out.context()
    );
    assert!(!out.stderr.contains("starting echo"), "{}", out.context());
    let records = super::guard_rules::audit_records(&env);
    let launches = super::guard_rules::events(&records, "launch");
    assert_eq!(launches.len(), 2, "{records:#?}");
    assert_eq!(launches[0]["verdict"], "allowed", "{records:#?}");
    assert_eq!(launches[1]["verdict"], "denied", "{records:#?}");
}

#[test]
fn a_tampered_cached_archive_stops_the_launch() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    let blobs = env.home.join("cache/blobs/sha256");
    let lock = fs::read_to_string(env.home.join("config/servers.lock")).unwrap();
    let sha = lock
        .lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let blob = blobs.join(&sha);
    make_writable(&blob);
    let mut bytes = fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&blob, bytes).unwrap();
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(1).diag_in_stderr("cache-mismatch");
    assert!(out.stdout.is_empty(), "{}", out.context());
}

#[test]
fn removing_the_signer_from_the_trust_store_stops_the_launch() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    env.cmd().args(["run", "echo"]).stdin(PING).run().code(0);
    env.run(["trust", "remove", "echo-signer"]).code(0);
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(1);
    out.stderr_has("DENIED");
    assert!(out.stdout.is_empty(), "{}", out.context());
    assert!(!out.stderr.contains("starting echo"), "{}", out.context());
}

#[test]
fn a_tightened_policy_stops_the_launch_and_says_why() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    fs::write(
        env.user_policy(),
        "version = 1\n[defaults]\nrequire = [\"signature\", \"provenance\"]\n",
    )
    .unwrap();
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(1).stderr_has("provenance");
    assert!(out.stdout.is_empty(), "{}", out.context());
}

#[test]
fn the_servers_exit_code_is_runs_exit_code() {
    let env = TestEnv::new();
    pin_node(&env, "seven", "process.exit(7);\n", "");
    env.cmd().args(["run", "seven"]).stdin("").run().code(7);
    pin_node(
        &env,
        "selfkill",
        "process.kill(process.pid, 'SIGKILL');\n",
        "",
    );
    env.cmd()
        .args(["run", "selfkill"])
        .stdin("")
        .run()
        .code(128 + 9);
}

#[test]
fn the_policy_interpreter_is_used_and_reported() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    let node = super::support::util::which("node");
    // A copy of node elsewhere proves the policy's choice, not PATH's.
    let mine = env.path("bin/my-node");
    fs::create_dir_all(mine.parent().unwrap()).unwrap();
    fs::copy(&node, &mine).unwrap();
    fs::write(
        env.user_policy(),
        format!(
            "version = 1\n[[servers]]\nname = \"echo\"\n[servers.run]\ninterpreter = \"{}\"\n",
            mine.display()
        ),
    )
    .unwrap();
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(0)
        .stderr_has(&format!("[{} from policy]", mine.display()));
    answer(&out);
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"echo\"\n[servers.run]\ninterpreter = \"/nonexistent/node\"\n",
    )
    .unwrap();
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(2).diag_in_stderr("launch-failed");
}

/// An interpreter that ends before it reads the gate (a node without
/// `--import` stops at the flag) is not told as a refusal: its own exit
/// code and message come through.
#[test]
fn an_interpreter_gone_before_its_gate_exits_with_its_own_code_and_words() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    let old = env.path("bin/old-node");
    fs::create_dir_all(old.parent().unwrap()).unwrap();
    fs::write(
        &old,
        "#!/bin/sh\necho \"old-node: bad option: $3\" | cut -c1-40 >&2\nexit 9\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&old, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::write(
        env.user_policy(),
        format!(
            "version = 1\n[[servers]]\nname = \"echo\"\n[servers.run]\ninterpreter = \"{}\"\n",
            old.display()
        ),
    )
    .unwrap();
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(9)
        .stderr_has("old-node: bad option: --import=data:");
    assert!(!out.stderr.contains("refused"), "{}", out.context());
    assert!(out.stdout.is_empty(), "{}", out.context());
}

#[test]
fn dependencies_missing_from_the_artifact_stop_the_launch() {
    let env = TestEnv::new();
    pin_node(
        &env,
        "needy",
        "require('left-pad');\n",
        r#", "dependencies": {"left-pad": "^1.3.0", "@scope/x": "1"}"#,
    );
    let out = env.cmd().args(["run", "needy"]).stdin("").run();
    out.code(2)
        .diag_in_stderr("entry-point")
        .stderr_has("left-pad")
        .stderr_has("@scope/x")
        .stderr_has("never installs dependencies");
    assert!(out.stdout.is_empty());
}

#[test]
fn variables_the_policy_requires_from_the_client_must_be_there() {
    let env = TestEnv::new();
    pin_node(&env, "echo", ECHO_ENV, "");
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"echo\"\n[servers.run]\nenv = { REGION = \"inherit\" }\n",
    )
    .unwrap();
    let out = env.cmd().args(["run", "echo"]).stdin(PING).run();
    out.code(2)
        .diag_in_stderr("env-missing")
        .stderr_has("REGION");
    let out = env
        .cmd()
        .args(["run", "echo"])
        .var("REGION", "eu-west-1")
        .stdin(PING)
        .run();
    out.code(0);
    assert_eq!(answer(&out)["env"]["REGION"], "eu-west-1");
}

#[test]
fn errors_never_reach_stdout_even_as_json() {
    let env = TestEnv::new();
    let out = env.run(["--format", "json", "run", "nope"]);
    out.code(2);
    assert!(out.stdout.is_empty(), "{}", out.context());
    let v: serde_json::Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(v["diagnostics"][0]["code"], "server-unknown");
    let out = env.run(["run", "nope"]);
    out.code(2).stderr_has("mcp-warden add nope");
    assert!(out.stdout.is_empty());
}

/// A notification, which `cat` echoes back as the server's own.
const NOTE: &str = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n";

#[test]
fn a_native_executable_runs_from_the_verified_inode() {
    // /bin/cat is a native stdio "server": it echoes what it reads.
    let env = TestEnv::new();
    let cat = env.path("cat");
    fs::copy(super::support::util::which("cat"), &cat).unwrap();
    let key = Minisign::generate(&env, "k");
    env.trust_key(&key.public, "k", &["*"]).code(0);
    let sig = key.sign(&cat, None);
    env.run(["add", "cat", "./cat", "--signature", sig.to_str().unwrap()])
        .code(0);
    let out = env.cmd().args(["run", "cat"]).stdin(NOTE).run();
    out.code(0);
    assert_eq!(out.stdout, NOTE, "{}", out.context());
    out.stderr_has("native executable");
}
