//! End to end with a real MCP server and a real MCP client: the reference
//! server `@modelcontextprotocol/server-everything`, installed pinned by
//! scripts/test (fixtures/servers/everything/package-lock.json, `npm ci`)
//! into `target/test-tools/everything/`, packed here as an npm-style
//! tarball that carries its node_modules, signed with the real minisign,
//! `add`ed, and driven with rmcp (tests/it/support/mcp_client.rs).
//!
//! Also checks that the small servers in fixtures/servers/ behave as their
//! README says, since the launch tests rest on them.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::support::mcp_client::{McpSession, text_of};
use super::support::util::*;

/// The pinned version; keep in step with fixtures/servers/everything/.
pub const EVERYTHING_VERSION: &str = "2026.8.31";
const EVERYTHING_PKG: &str = "@modelcontextprotocol/server-everything";

/// `target/test-tools/everything/node_modules`, as scripts/test installs it.
fn everything_modules() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/everything");
    let marker = fs::read_to_string(root.join(".installed")).unwrap_or_default();
    let marker = marker.lines().next().unwrap_or_default();
    let want = format!("{EVERYTHING_PKG}@{EVERYTHING_VERSION}");
    assert!(
        marker == want && root.join("node_modules").join(EVERYTHING_PKG).is_dir(),
        "{want} is not installed in {}: run scripts/test, which installs it with `npm ci` from \
         fixtures/servers/everything/package-lock.json. The test fails instead of skipping, so \
         that a missing server is never mistaken for a pass.",
        root.display()
    );
    root.join("node_modules")
}

/// The absolute path of `node` on PATH, so the server can run with an
/// empty environment.
pub fn node() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("node"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`node` (Node.js 20 or newer) is not on PATH; the MCP end-to-end tests need it")
        })
}

/// `node SCRIPT ARGS` with a cleared environment.
pub fn node_cmd(script: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(node());
    c.arg(script).args(args).env_clear();
    c
}

/// Packs an npm package directory as an npm tarball does (`package/...`,
/// gzip), with `deps`, if given, as `package/node_modules/`: mcp-warden
/// runs only verified code, so the dependencies travel inside the signed
/// artifact (npm's `bundleDependencies`). Left out, as npm leaves them
/// out: `node_modules/.bin` (links for npm scripts, not needed to run),
/// npm's `.package-lock.json` and the package itself inside `deps`.
/// Entries are sorted, with fixed times and owners, so the same tree
/// always gives the same bytes.
pub fn pack_npm(pkg: &Path, deps: Option<&Path>, out: &Path) {
    let file = fs::File::create(out).unwrap_or_else(|e| panic!("create {}: {e}", out.display()));
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    let skip_in_pkg = |rel: &Path| rel.starts_with("node_modules");
    add_tree(&mut tar, pkg, Path::new("package"), &skip_in_pkg);
    if let Some(deps) = deps {
        let own = pkg.canonicalize().ok();
        let skip_in_deps = |rel: &Path| {
            rel.starts_with(".bin")
                || rel == Path::new(".package-lock.json")
                || own.as_deref() == deps.join(rel).canonicalize().ok().as_deref()
        };
        add_tree(
            &mut tar,
            deps,
            Path::new("package/node_modules"),
            &skip_in_deps,
        );
    }
    let gz = tar.into_inner().expect("finish the tar stream");
    gz.finish()
        .expect("finish the gzip stream")
        .flush()
        .unwrap();
}

fn add_tree<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    prefix: &Path,
    skip: &dyn Fn(&Path) -> bool,
) {
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").file_name())
            .collect();
        names.sort();
        // Pushed in reverse so that they come off the stack in order.
        for name in names.into_iter().rev() {
            let r = rel.join(&name);
            if skip(&r) {
                continue;
            }
            let p = root.join(&r);
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                tar.append_dir(prefix.join(&r), &p).unwrap();
                stack.push(r);
            } else if meta.is_file() {
                tar.append_path_with_name(&p, prefix.join(&r))
                    .unwrap_or_else(|e| panic!("pack {}: {e}", p.display()));
            } else {
                panic!(
                    "{}: not a file or directory; the packer takes none",
                    p.display()
                );
            }
        }
    }
}

/// The entry names of a .tgz, as the real tar lists them.
fn tar_entries(tgz: &Path) -> Vec<String> {
    let out = tool(
        tgz.parent().unwrap(),
        "tar",
        [std::ffi::OsStr::new("-tzf"), tgz.as_os_str()],
    );
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_string)
        .collect()
}

/// server-everything packed with its dependencies into `work/everything.tgz`.
/// Packed once per test run (the bytes are the same every time) and
/// copied: packing 4,500 files takes seconds on a small machine.
pub fn pack_everything(env: &TestEnv) -> PathBuf {
    static PACKED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let bytes = PACKED.get_or_init(|| {
        let modules = everything_modules();
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let out = tmp.path().join("everything.tgz");
        pack_npm(&modules.join(EVERYTHING_PKG), Some(&modules), &out);
        fs::read(&out).expect("read the packed artifact")
    });
    env.write("everything.tgz", bytes)
}

/// The server's entry script inside an unpacked `package/` tree: its
/// package.json's `bin` (the only entry), as `run` is to find it.
pub fn bin_of(tree: &Path) -> PathBuf {
    let pj: Value =
        serde_json::from_slice(&fs::read(tree.join("package/package.json")).unwrap()).unwrap();
    let rel = match &pj["bin"] {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 1 => m.values().next().unwrap().as_str().unwrap().into(),
        other => panic!("package.json `bin` is not one entry: {other}"),
    };
    tree.join("package").join(rel)
}

/// initialize, tools/list has `echo`, tools/call echo echoes, close exits 0.
pub(super) fn exercise_everything(s: McpSession) {
    let info = s.server_info().unwrap_or_else(|e| panic!("{e}"));
    let name = info.server_info.as_ref().map(|i| i.name.as_str());
    assert_eq!(name, Some("mcp-servers/everything"), "{info:?}");
    assert!(info.capabilities.tools.is_some(), "{info:?}");
    let tools = s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"echo"), "tools: {names:?}");
    let r = s
        .call_tool("echo", json!({"message": "through the warden ✓"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_eq!(text_of(&r), "Echo: through the warden ✓");
    // A call the server refuses is an answer, not a hang.
    let bad = s.call_tool("echo", json!({"nomessage": 1}));
    match bad {
        Ok(r) => assert_eq!(r.is_error, Some(true), "{r:?}"),
        Err(e) => assert!(e.what.contains("echo"), "{e}"),
    }
    let (status, stderr) = s.close_with_stderr().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
}

#[test]
fn everything_answers_from_its_packed_artifact() {
    let env = TestEnv::new();
    let tgz = pack_everything(&env);
    // The real tar unpacks it: the artifact stands on its own.
    let unpacked = env.path("unpacked");
    fs::create_dir_all(&unpacked).unwrap();
    tool(
        &unpacked,
        "tar",
        [std::ffi::OsStr::new("-xzf"), tgz.as_os_str()],
    );
    let entry = bin_of(&unpacked);
    assert!(entry.ends_with("package/dist/index.js"), "{entry:?}");
    let s = McpSession::spawn(node_cmd(&entry, &["stdio"])).unwrap_or_else(|e| panic!("{e}"));
    exercise_everything(s);
}

/// What `add` of the signed tarball pins, and the server run from the
/// cache's unpacked tree, the way `run` is to start it.
#[test]
fn everything_is_added_signed_and_runs_from_the_cache() {
    let env = TestEnv::new();
    let tgz = pack_everything(&env);
    let entries = tar_entries(&tgz);
    assert!(
        entries.len() < 100_000,
        "{} entries: more than archive::Limits allows",
        entries.len()
    );
    assert!(entries.iter().all(|e| e.starts_with("package/")));
    let key = Minisign::generate(&env, "publisher");
    key.sign(&tgz, Some("server-everything packed for mcp-warden"));
    env.trust_key(&key.public, "publisher", &["everything"]);
    let out = env.run([
        "--format",
        "json",
        "add",
        "everything",
        "./everything.tgz",
        "--signature",
        "everything.tgz.minisig",
    ]);
    out.code(0);
    let lock_path = env.home.join("config/servers.lock");
    let lock = fs::read_to_string(&lock_path).unwrap();
    println!("--- {} ---\n{lock}", lock_path.display());
    let lock: toml::Table = toml::from_str(&lock).unwrap();
    let e = &lock["servers"]["everything"];
    let sha = sha256_hex(&fs::read(&tgz).unwrap());
    assert_eq!(e["sha256"].as_str(), Some(sha.as_str()));
    // A local .tgz is a `file`, unpacked because it is gzip by content;
    // the tree is keyed by the tarball's sha256.
    assert_eq!(e["kind"].as_str(), Some("file"), "{e}");
    assert_eq!(e["tree"].as_str(), Some(sha.as_str()), "{e}");
    assert_eq!(e["signers"][0].as_str(), Some("publisher"), "{e}");
    let tree = env.home.join("cache/trees/sha256").join(&sha);
    let entry = bin_of(&tree);
    assert!(entry.is_file(), "{entry:?}");
    let s = McpSession::spawn(node_cmd(&entry, &["stdio"])).unwrap_or_else(|e| panic!("{e}"));
    exercise_everything(s);
}

/// One byte changed, or the tail cut off, after signing: nothing pinned.
#[test]
fn a_tampered_or_truncated_everything_is_not_added() {
    let env = TestEnv::new();
    let tgz = pack_everything(&env);
    let key = Minisign::generate(&env, "publisher");
    key.sign(&tgz, None);
    env.trust_key(&key.public, "publisher", &["*"]);
    let good = fs::read(&tgz).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    fs::write(&tgz, &bad).unwrap();
    env.run([
        "add",
        "everything",
        "./everything.tgz",
        "--signature",
        "everything.tgz.minisig",
    ])
    .code(1)
    .diag("signature-invalid");
    fs::write(&tgz, &good[..good.len() - 4096]).unwrap();
    env.run([
        "add",
        "everything",
        "./everything.tgz",
        "--signature",
        "everything.tgz.minisig",
    ])
    .code(1)
    .diag("signature-invalid");
    // Signed as truncated: the signature holds, the archive does not.
    key.sign(&tgz, None);
    let out = env.run([
        "add",
        "everything",
        "./everything.tgz",
        "--signature",
        "everything.tgz.minisig",
    ]);
    out.code(2).diag("archive-unsafe");
    let lock = fs::read_to_string(env.home.join("config/servers.lock")).unwrap_or_default();
    assert!(!lock.contains("[servers.everything]"), "{lock}");
    let trees = env.home.join("cache/trees/sha256");
    let left: Vec<_> = fs::read_dir(&trees)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "unpacked trees left behind: {left:?}");
}

// ---------------------------------------------------------------------------
// Through `mcp-warden run`.

/// Starts `mcp-warden run NAME` in the test's home with a scrubbed
/// environment (as `TestEnv::cmd` does) and runs the MCP handshake
/// through it; the session's stderr is mcp-warden's and the server's.
pub fn run_through_warden(env: &TestEnv, name: &str, extra: &[(&str, &str)]) -> McpSession {
    let mut c = env.command();
    c.args(["run", name]);
    for (k, v) in extra {
        c.env(k, v);
    }
    McpSession::spawn(c).unwrap_or_else(|e| panic!("mcp-warden run {name}: {e}"))
}

/// Packs, signs (real minisign) and pins the reference server as
/// `everything`.
pub fn pin_everything(env: &TestEnv) {
    let tgz = pack_everything(env);
    env.pin_signed("everything", &tgz, "publisher", &["everything"]);
}

#[test]
fn everything_through_warden_run() {
    let env = TestEnv::new();
    pin_everything(&env);
    // `run` finds node on PATH and `package/dist/index.js` from the tree's
    // package.json `bin`; the server's dependencies are in the artifact.
    let s = run_through_warden(&env, "everything", &[]);
    exercise_everything(s);
}

// ---------------------------------------------------------------------------
// The small servers of fixtures/servers/.

fn small(name: &str) -> PathBuf {
    fixture(&format!("servers/{name}/server.js"))
}

/// Each small server is a valid npm-style package that `add` pins.
#[test]
fn small_servers_pack_and_pin() {
    let env = TestEnv::new();
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &["*"]);
    for name in ["echo-once", "env-dump", "crash", "stubborn", "fds"] {
        let tgz = env.path(&format!("{name}.tgz"));
        pack_npm(&fixture(&format!("servers/{name}")), None, &tgz);
        key.sign(&tgz, None);
        let sig = format!("{name}.tgz.minisig");
        env.run(["add", name, &format!("./{name}.tgz"), "--signature", &sig])
            .code(0);
        let sha = sha256_hex(&fs::read(&tgz).unwrap());
        let entry = bin_of(&env.home.join("cache/trees/sha256").join(&sha));
        assert!(entry.ends_with("package/server.js"), "{entry:?}");
    }
}

#[test]
fn env_dump_shows_its_environment() {
    let mut c = node_cmd(&small("env-dump"), &["--flag"]);
    c.env("CANARY_SECRET", "s3cr3t-canary");
    let s = McpSession::spawn(c).unwrap_or_else(|e| panic!("{e}"));
    let info = s.server_info().unwrap();
    let seen: Value = serde_json::from_str(info.instructions.as_deref().unwrap()).unwrap();
    assert_eq!(seen["env"], json!({"CANARY_SECRET": "s3cr3t-canary"}));
    assert_eq!(seen["argv"][2], "--flag");
    assert!(s.list_tools().unwrap().is_empty());
    assert!(s.close().unwrap().success());
}

#[test]
fn fds_lists_its_descriptors() {
    let s = McpSession::spawn(node_cmd(&small("fds"), &[])).unwrap_or_else(|e| panic!("{e}"));
    let info = s.server_info().unwrap();
    let fds: Vec<Value> = serde_json::from_str(info.instructions.as_deref().unwrap()).unwrap();
    let nums: Vec<i64> = fds.iter().filter_map(|f| f["fd"].as_i64()).collect();
    for fd in [0, 1, 2] {
        assert!(nums.contains(&fd), "{fds:?}");
    }
    assert!(
        fds.iter()
            .any(|f| f["fd"] == 0 && f["target"].as_str().unwrap_or("").starts_with("pipe:")),
        "{fds:?}"
    );
    assert!(s.close().unwrap().success());
}

#[test]
fn crash_exits_3_and_the_client_says_why() {
    let err = McpSession::spawn(node_cmd(&small("crash"), &[]))
        .err()
        .expect("the handshake with `crash` must fail");
    let msg = err.to_string();
    assert!(msg.contains("exit status: 3"), "{msg}");
    assert!(msg.contains("crash: read one line, exiting 3"), "{msg}");
}

/// echo-once, spoken to by hand: the first request is answered, then exit 0.
#[test]
fn echo_once_answers_one_request_and_exits() {
    let mut child = node_cmd(&small("echo-once"), &[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{\"k\":1}}\n")
        .unwrap();
    // stdin stays open: the server must exit on its own after answering.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("echo-once did not exit within 60 s of answering");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], 7);
    assert_eq!(
        v["result"]["echo"],
        json!({"method": "ping", "params": {"k": 1}})
    );
}

/// stubborn outlives SIGTERM and stdin closing; the client's deadline
/// ends the wait (no hang), and the test kills both processes itself.
#[test]
fn stubborn_ignores_sigterm_and_stdin_closing() {
    let s = McpSession::spawn_with_deadline(
        node_cmd(&small("stubborn"), &[]),
        std::time::Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let info = s.server_info().unwrap();
    let pids: Value = serde_json::from_str(info.instructions.as_deref().unwrap()).unwrap();
    let (pid, child) = (
        pids["pid"].as_u64().unwrap(),
        pids["childPid"].as_u64().unwrap(),
    );
    assert_eq!(s.pid().map(u64::from), Some(pid));
    let alive = |p: u64| Path::new(&format!("/proc/{p}")).exists();
    assert!(alive(pid) && alive(child));
    tool(Path::new("/"), "kill", ["-TERM", &pid.to_string()]);
    let err = s.close().expect_err("stubborn must not exit on SIGTERM");
    assert!(err.what.contains("did not exit"), "{err}");
    assert!(err.stderr.contains("stubborn: ignoring SIGTERM"), "{err}");
    // The session killed `stubborn`; its child is ours to end.
    assert!(
        alive(child),
        "the child should outlive its parent's SIGKILL"
    );
    tool(Path::new("/"), "kill", ["-KILL", &child.to_string()]);
}

/// The client itself: a server that never answers, answers with
/// garbage, or sends a line over rmcp's 16 MiB cap (dropped, not
/// buffered) fails within the deadline with a message; it never hangs.
#[test]
fn a_silent_or_garbled_server_fails_the_handshake_in_time() {
    for (what, want, script) in [
        (
            "silent",
            "no answer to `initialize`",
            "setInterval(() => {}, 1 << 30);",
        ),
        (
            "garbled",
            "MCP handshake with",
            "console.log('not json'); console.log('{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":7}'); \
             setInterval(() => {}, 1 << 30);",
        ),
        (
            "oversized",
            "no answer to `initialize`",
            "process.stdout.write('{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":\"' + \
             'x'.repeat(17 << 20) + '\"}\\n'); setInterval(() => {}, 1 << 30);",
        ),
    ] {
        let mut c = Command::new(node());
        c.args(["-e", script]).env_clear();
        let err = McpSession::spawn_with_deadline(c, std::time::Duration::from_secs(3))
            .err()
            .unwrap_or_else(|| panic!("{what}: the handshake succeeded"));
        assert!(err.what.contains(want), "{what}: {err}");
    }
}

/// A session dropped without `close` (a failing test) kills its server,
/// even one that ignores SIGTERM and stdin closing.
#[test]
fn dropping_a_session_kills_its_server() {
    let s = McpSession::spawn(node_cmd(&small("stubborn"), &[])).unwrap_or_else(|e| panic!("{e}"));
    let pids: Value =
        serde_json::from_str(s.server_info().unwrap().instructions.as_deref().unwrap()).unwrap();
    let (pid, child) = (
        pids["pid"].as_u64().unwrap(),
        pids["childPid"].as_u64().unwrap(),
    );
    drop(s);
    // Gone, or a zombie nobody reaps any more: either way not running.
    let running = |p: u64| {
        fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|st| {
                !st.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while running(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let still = running(pid);
    tool(Path::new("/"), "kill", ["-KILL", &child.to_string()]);
    assert!(!still, "stubborn (pid {pid}) outlived its dropped session");
}
