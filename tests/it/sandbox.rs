//! The sandbox end to end: the `probe` fixture server
//! (fixtures/servers/probe) pinned and started by the real `mcp-warden
//! run`, driven by a real MCP client (rmcp), tries what the sandbox must
//! stop: a write outside its state directory, a read of the user's
//! `~/.ssh`, a TCP connect with the network off, `keyctl`, a connect to a
//! real D-Bus session bus. Each denial must carry the sandbox's error
//! (EACCES from Landlock, EPERM from seccomp), and each operation must
//! succeed under `sandbox = "off"`, so that a test passes only because of
//! the sandbox. The real servers (server-everything, mcp-server-time)
//! still work under it, and the audit log records what was enforced.
//!
//! One MCP session per policy: probes are grouped, server starts are few.

use std::io::{BufRead as _, BufReader, ErrorKind};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::everything::{pin_everything, run_through_warden};
use super::guard_e2e::pin_time;
use super::run::pin_node;
use super::support::mcp_client::{McpSession, text_of};
use super::support::util::*;

/// The planted private key's first line, which a successful read returns.
const KEY_LINE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";

/// Pins fixtures/servers/probe as `probe`, signed by a trusted key.
pub(super) fn pin_probe(env: &TestEnv) {
    let js = std::fs::read_to_string(fixture("servers/probe/server.js"))
        .expect("read fixtures/servers/probe/server.js");
    pin_node(env, "probe", &js, "");
}

/// `[servers.run]` for `server` in the user policy; `None` removes the
/// policy file (the defaults: best-effort sandbox, network off).
pub(super) fn set_policy(env: &TestEnv, server: &str, run: Option<&str>) {
    let path = env.user_policy();
    match run {
        None => {
            let _ = std::fs::remove_file(&path);
        }
        Some(run) => {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(
                &path,
                format!("version = 1\n[[servers]]\nname = \"{server}\"\n[servers.run]\n{run}\n"),
            )
            .unwrap();
        }
    }
}

/// Calls the `probe` tool and returns its `{ok, code, detail}`.
#[track_caller]
pub(super) fn probe(s: &McpSession, args: Value) -> Value {
    let r = s
        .call_tool("probe", args.clone())
        .unwrap_or_else(|e| panic!("probe {args}: {e}"));
    assert_ne!(r.is_error, Some(true), "probe {args}: {r:?}");
    let text = text_of(&r);
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("probe {args}: not JSON ({e}): {text}"));
    // Shown with --nocapture, and on failure.
    println!("probe {args} -> {v}");
    v
}

/// The operation failed with the sandbox's error: EACCES (Landlock) or
/// EPERM (seccomp), and not e.g. ENOENT or ECONNREFUSED.
#[track_caller]
pub(super) fn assert_denied(s: &McpSession, what: &str, r: &Value) {
    assert_eq!(r["ok"], false, "{what} must be denied: {r}\n{}", s.stderr());
    let code = r["code"].as_str().unwrap_or_default();
    assert!(
        code == "EACCES" || code == "EPERM",
        "{what}: denied, but not by the sandbox (EACCES/EPERM): {r}"
    );
}

#[track_caller]
pub(super) fn assert_allowed(s: &McpSession, what: &str, r: &Value) {
    assert_eq!(r["ok"], true, "{what} must succeed: {r}\n{}", s.stderr());
}

/// `mcp-warden: starting NAME …` from the session's stderr.
#[track_caller]
pub(super) fn start_line(s: &McpSession, name: &str) -> String {
    let prefix = format!("mcp-warden: starting {name}");
    let stderr = s.stderr_until(|e| e.lines().any(|l| l.starts_with(&prefix)));
    stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no start line for {name} on stderr:\n{stderr}"))
        .to_string()
}

/// The Landlock ABI the start line names ("landlock ABI 7: …").
#[track_caller]
fn landlock_abi(line: &str) -> u32 {
    let rest = line
        .split_once("landlock ABI ")
        .unwrap_or_else(|| panic!("the start line names no Landlock ABI: {line}"))
        .1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no ABI number in: {line}"))
}

/// A TCP listener on 127.0.0.1 that counts the connections it accepts.
struct Listener {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start() -> Listener {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, st) = (Arc::clone(&accepted), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if conn.is_ok() {
                    a.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Listener {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until at least `n` connections were accepted.
    fn wait_for(&self, n: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.accepted() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.accepted()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A real D-Bus session bus listening on a pathname socket; killed and
/// reaped on drop.
struct Bus {
    child: Child,
    socket: PathBuf,
}

impl Bus {
    fn start(dir: &Path) -> Bus {
        std::fs::create_dir_all(dir).unwrap();
        let socket = dir.join("bus");
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                if e.kind() == ErrorKind::NotFound {
                    panic!(
                        "`dbus-daemon` is required by the sandbox tests and is not installed \
                         (on Debian: apt-get install dbus; scripts/test installs it). The suite \
                         fails instead of skipping so that a missing tool is never mistaken for \
                         a pass."
                    )
                }
                panic!("cannot start dbus-daemon: {e}")
            });
        // The address is printed once the bus listens.
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
        let bus = Bus { child, socket };
        assert!(
            read.is_ok() && line.contains(&bus.socket.display().to_string()),
            "dbus-daemon printed no address on {}: {line:?}",
            bus.socket.display()
        );
        bus
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The world the probe runs in: a fake user home with a planted SSH key,
/// a directory outside the server's state, a TCP listener, a session bus.
pub(super) struct World {
    pub(super) env: TestEnv,
    pub(super) user_home: PathBuf,
    pub(super) key: PathBuf,
    pub(super) outside: PathBuf,
    tcp: Listener,
    bus: Bus,
    keyctl: PathBuf,
}

impl World {
    pub(super) fn new() -> World {
        let env = TestEnv::new();
        pin_probe(&env);
        let user_home = env.root.join("user-home");
        let key = user_home.join(".ssh/id_ed25519");
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        std::fs::write(&key, format!("{KEY_LINE}\ncanary-key-material\n")).unwrap();
        let outside = env.path("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let tcp = Listener::start();
        let bus = Bus::start(&env.root.join("bus"));
        World {
            user_home,
            key,
            outside,
            tcp,
            bus,
            keyctl: which("keyctl"),
            env,
        }
    }

    /// `mcp-warden run probe`, with the fake home as the client's HOME.
    pub(super) fn session(&self) -> McpSession {
        let home = self.user_home.to_str().unwrap();
        let s = run_through_warden(&self.env, "probe", &[("HOME", home)]);
        // The guard pins the first list; calls go to listed tools.
        let tools = s.list_tools().unwrap_or_else(|e| panic!("{e}"));
        assert!(tools.iter().any(|t| t.name == "probe"), "{tools:?}");
        s
    }

    /// The server's own state directories (its HOME and TMPDIR).
    pub(super) fn state(&self, which: &str) -> PathBuf {
        self.env.home.join("data/state/probe").join(which)
    }

    fn keyctl_show(&self) -> Value {
        json!({"op": "exec", "argv": [self.keyctl.to_str().unwrap(), "show", "@s"]})
    }

    /// The `launch` records of `audit show --format json`, oldest first.
    pub(super) fn launches(&self) -> Vec<Value> {
        let out = self
            .env
            .run(["--format", "json", "audit", "show", "--server", "probe"]);
        out.code(0);
        let v = out.json();
        assert_eq!(v["skipped-lines"], 0, "{}", out.context());
        v["records"]
            .as_array()
            .unwrap_or_else(|| out.fail("no `records` array"))
            .iter()
            .filter(|r| r["event"] == "launch")
            .cloned()
            .collect()
    }
}

#[test]
fn the_default_sandbox_denies_what_it_must_and_off_allows_it() {
    let w = World::new();
    let escaped = w.outside.join("escaped");
    let write_outside = json!({"op": "write", "path": escaped.to_str().unwrap()});
    let read_key = json!({"op": "read", "path": w.key.to_str().unwrap()});
    let tcp = json!({"op": "tcp", "port": w.tcp.port});
    let bus = json!({"op": "unix", "path": w.bus.socket.to_str().unwrap()});

    // The defaults: best-effort sandbox, network off.
    let s = w.session();
    let line = start_line(&s, "probe");
    assert!(landlock_abi(&line) >= 1, "{line}");
    for part in ["seccomp: ", "network off", "guard on"] {
        assert!(line.contains(part), "{part:?} is not in: {line}");
    }
    assert!(!line.contains("not enforced"), "{line}");
    assert_denied(
        &s,
        "a write outside the state dir",
        &probe(&s, write_outside.clone()),
    );
    assert!(
        !escaped.exists(),
        "the denied write left {}",
        escaped.display()
    );
    let r = probe(&s, read_key.clone());
    assert_denied(&s, "a read of the user's ~/.ssh", &r);
    assert!(!r.to_string().contains("canary-key-material"), "{r}");
    assert_denied(&s, "TCP with the network off", &probe(&s, tcp.clone()));
    assert_eq!(w.tcp.accepted(), 0, "a denied connect reached the listener");
    assert_denied(
        &s,
        "a connect to the D-Bus session bus",
        &probe(&s, bus.clone()),
    );
    // keyctl runs, and its keyctl(2) call is refused with EPERM.
    let r = probe(&s, w.keyctl_show());
    assert_eq!(r["ok"], false, "keyctl show @s must fail: {r}");
    assert!(
        r["code"].as_str().is_some_and(|c| c.starts_with("exit ")),
        "keyctl must run and fail, not fail to start: {r}"
    );
    assert!(
        r["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Operation not permitted")),
        "keyctl's failure must be EPERM (seccomp): {r}"
    );
    // The server's own HOME and TMPDIR are writable.
    for dir in ["home", "tmp"] {
        let f = w.state(dir).join("probe-wrote");
        let r = probe(&s, json!({"op": "write", "path": f.to_str().unwrap()}));
        assert_allowed(&s, &format!("a write into the state {dir}"), &r);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "probe\n");
        let r = probe(&s, json!({"op": "read", "path": f.to_str().unwrap()}));
        assert_allowed(&s, &format!("a read back from the state {dir}"), &r);
    }
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");

    // The launch record carries what was enforced.
    let launches = w.launches();
    assert_eq!(launches.len(), 1, "{launches:?}");
    assert_eq!(launches[0]["verdict"], "allowed", "{launches:?}");
    let sandbox = launches[0]["sandbox"].as_str().unwrap_or_default();
    assert!(sandbox.contains("landlock ABI"), "{launches:?}");
    assert!(
        line.contains(sandbox),
        "the log says {sandbox:?}, the start line {line:?}"
    );

    // The same operations with the sandbox off all succeed: the denials
    // above are the sandbox's.
    set_policy(&w.env, "probe", Some("sandbox = \"off\""));
    let s = w.session();
    let line = start_line(&s, "probe");
    assert!(line.contains("sandbox off"), "{line}");
    assert_allowed(&s, "a write outside, unconfined", &probe(&s, write_outside));
    assert_eq!(std::fs::read_to_string(&escaped).unwrap(), "probe\n");
    let r = probe(&s, read_key);
    assert_allowed(&s, "a read of ~/.ssh, unconfined", &r);
    assert!(
        r["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with(KEY_LINE)),
        "{r}"
    );
    assert_allowed(&s, "TCP, unconfined", &probe(&s, tcp));
    assert!(w.tcp.wait_for(1) >= 1, "the listener saw no connection");
    assert_allowed(&s, "the D-Bus socket, unconfined", &probe(&s, bus));
    assert_allowed(
        &s,
        "keyctl show @s, unconfined",
        &probe(&s, w.keyctl_show()),
    );
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");

    let launches = w.launches();
    assert_eq!(launches.len(), 2, "{launches:?}");
    assert_eq!(launches[1]["sandbox"], "sandbox off", "{launches:?}");
}

/// `network = true` opens TCP and nothing else; under `require` on this
/// kernel the sandbox is enforced and the start line names the ABI.
#[test]
fn network_true_allows_tcp_only_and_require_starts_here() {
    let w = World::new();
    set_policy(
        &w.env,
        "probe",
        Some("sandbox = \"require\"\nnetwork = true"),
    );
    let s = w.session();
    let line = start_line(&s, "probe");
    // `require` accepts only ABI 3 and up (the truncate right).
    assert!(landlock_abi(&line) >= 3, "{line}");
    assert!(line.contains("network on"), "{line}");
    assert!(!line.contains("not enforced"), "{line}");
    assert_allowed(
        &s,
        "TCP with network = true",
        &probe(&s, json!({"op": "tcp", "port": w.tcp.port})),
    );
    assert!(w.tcp.wait_for(1) >= 1, "the listener saw no connection");
    let escaped = w.outside.join("escaped");
    let r = probe(
        &s,
        json!({"op": "write", "path": escaped.to_str().unwrap()}),
    );
    assert_denied(&s, "a write outside with network = true", &r);
    assert!(!escaped.exists());
    let r = probe(&s, json!({"op": "read", "path": w.key.to_str().unwrap()}));
    assert_denied(&s, "a read of ~/.ssh with network = true", &r);
    let r = probe(
        &s,
        json!({"op": "unix", "path": w.bus.socket.to_str().unwrap()}),
    );
    assert_denied(&s, "the D-Bus socket with network = true", &r);
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
    let launches = w.launches();
    assert_eq!(launches.len(), 1, "{launches:?}");
    assert!(
        launches[0]["sandbox"]
            .as_str()
            .is_some_and(|s| s.contains("landlock ABI") && s.ends_with("network on (unrestricted)")),
        "{launches:?}"
    );
}

/// The npm reference server works under the default sandbox.
#[test]
fn everything_works_under_the_default_sandbox() {
    let env = TestEnv::new();
    pin_everything(&env);
    let s = run_through_warden(&env, "everything", &[]);
    let line = start_line(&s, "everything");
    assert!(landlock_abi(&line) >= 1, "{line}");
    for part in ["seccomp: ", "network off", "guard on"] {
        assert!(line.contains(part), "{part:?} is not in: {line}");
    }
    let tools = s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    assert!(tools.iter().any(|t| t.name == "echo"), "{tools:?}");
    let r = s
        .call_tool("echo", json!({"message": "inside the sandbox"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_eq!(text_of(&r), "Echo: inside the sandbox");
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
}

/// PyPI's mcp-server-time works under `sandbox = "require"`.
#[test]
fn time_server_works_under_require() {
    let env = TestEnv::new();
    pin_time(&env);
    set_policy(&env, "time", Some("sandbox = \"require\""));
    let s = run_through_warden(&env, "time", &[]);
    let line = start_line(&s, "time");
    assert!(landlock_abi(&line) >= 3, "{line}");
    assert!(line.contains("network off"), "{line}");
    assert!(!line.contains("not enforced"), "{line}");
    let tools = s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        tools.iter().any(|t| t.name == "get_current_time"),
        "{tools:?}"
    );
    let r = s
        .call_tool(
            "convert_time",
            json!({"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert!(text_of(&r).contains("21:00"), "{r:?}");
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
}

/// Layers only tighten: a user policy that turns the sandbox off and the
/// network on does not loosen a system policy that says neither.
#[test]
fn a_user_policy_cannot_loosen_the_systems_sandbox() {
    let w = World::new();
    std::fs::write(
        w.env.system_policy(),
        "version = 1\n[[servers]]\nname = \"probe\"\n[servers.run]\nsandbox = \"best-effort\"\nnetwork = false\n",
    )
    .unwrap();
    set_policy(&w.env, "probe", Some("sandbox = \"off\"\nnetwork = true"));
    let s = w.session();
    let line = start_line(&s, "probe");
    assert!(landlock_abi(&line) >= 1, "{line}");
    assert!(line.contains("network off"), "{line}");
    let r = probe(&s, json!({"op": "tcp", "port": w.tcp.port}));
    assert_denied(&s, "TCP that only the user policy allows", &r);
    assert_eq!(w.tcp.accepted(), 0, "a denied connect reached the listener");
    let escaped = w.outside.join("escaped");
    let r = probe(
        &s,
        json!({"op": "write", "path": escaped.to_str().unwrap()}),
    );
    assert_denied(&s, "a write outside under the system's sandbox", &r);
    assert!(!escaped.exists());
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
}

/// `read-paths` and `write-paths` open the user's directories a server is
/// for (a filesystem server's project), and nothing beside them; `~/` is
/// the client's HOME. A path that does not exist stops the launch.
#[test]
fn read_and_write_paths_open_exactly_what_they_name() {
    let env = TestEnv::new();
    pin_probe(&env);
    let user_home = env.root.join("user-home");
    let docs = user_home.join("docs");
    let out = user_home.join("out");
    for d in [&docs, &out] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(docs.join("notes.txt"), "readable\n").unwrap();
    std::fs::write(user_home.join("secret.txt"), "not for the server\n").unwrap();
    set_policy(
        &env,
        "probe",
        Some("read-paths = [\"~/docs\"]\nwrite-paths = [\"~/out\"]"),
    );
    let home = user_home.to_str().unwrap();
    let s = run_through_warden(&env, "probe", &[("HOME", home)]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let r = probe(
        &s,
        json!({"op": "read", "path": path(&docs.join("notes.txt"))}),
    );
    assert_allowed(&s, "read in read-paths", &r);
    assert_eq!(r["detail"], "readable\n");
    let r = probe(
        &s,
        json!({"op": "write", "path": path(&docs.join("new.txt"))}),
    );
    assert_denied(&s, "write in read-paths", &r);
    let r = probe(
        &s,
        json!({"op": "write", "path": path(&out.join("new.txt"))}),
    );
    assert_allowed(&s, "write in write-paths", &r);
    assert!(out.join("new.txt").is_file());
    let r = probe(
        &s,
        json!({"op": "read", "path": path(&user_home.join("secret.txt"))}),
    );
    assert_denied(&s, "read beside the paths", &r);
    s.close().unwrap_or_else(|e| panic!("{e}"));

    set_policy(&env, "probe", Some("read-paths = [\"~/missing\"]"));
    let out = env
        .cmd()
        .args(["run", "probe"])
        .var("HOME", home)
        .stdin("")
        .run();
    out.code(2)
        .diag_in_stderr("launch-failed")
        .stderr_has("missing")
        .stderr_has("read-paths");
}

/// `probe` pinned, signed; returns its tarball and signature for
/// [`add_probe_args`].
fn pin_probe_signed(env: &TestEnv) -> (PathBuf, PathBuf) {
    let js = std::fs::read_to_string(fixture("servers/probe/server.js")).unwrap();
    let tgz = super::run::pack_node(env, "probe", &js, "");
    let key = env.pin_signed("probe", &tgz, "probe-signer", &["*"]);
    let sig = key.sign(&tgz, None);
    (tgz, sig)
}

/// `probe` pinned again with `args` as its server arguments (`add --
/// ARGS`).
fn add_probe_args(env: &TestEnv, (tgz, sig): &(PathBuf, PathBuf), args: &[&Path]) {
    let mut add: Vec<std::ffi::OsString> = ["add", "probe"].map(Into::into).to_vec();
    add.extend([
        tgz.clone().into_os_string(),
        "--signature".into(),
        sig.clone().into_os_string(),
        "--".into(),
    ]);
    add.extend(args.iter().map(|p| p.as_os_str().to_owned()));
    env.run(add).code(0);
}

#[test]
fn grant_arg_paths_opens_the_pinned_argument_paths_and_denials_are_told() {
    let env = TestEnv::new();
    let docs = env.root.join("docs");
    let other = env.root.join("other");
    for d in [&docs, &other] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(docs.join("notes.txt"), "granted\n").unwrap();
    std::fs::write(other.join("secret.txt"), "not for the server\n").unwrap();
    let signed = pin_probe_signed(&env);
    add_probe_args(&env, &signed, &[&docs]);
    let lock = std::fs::read_to_string(env.home.join("config/servers.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&lock).unwrap();
    assert_eq!(
        lock["servers"]["probe"]["run"]["server-args"][0].as_str(),
        docs.to_str(),
        "{lock}"
    );
    let path = |p: &Path| p.to_str().unwrap().to_string();

    // Without the switch the pinned directory stays closed, and stderr
    // says which path was denied and which key would open it.
    set_policy(&env, "probe", None);
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let notes = docs.join("notes.txt");
    let r = probe(&s, json!({"op": "read", "path": path(&notes)}));
    assert_denied(&s, "a pinned argument without grant-arg-paths", &r);
    let r = probe(&s, json!({"op": "tcp", "port": 9}));
    assert_denied(&s, "tcp with the network off", &r);
    let (_, stderr) = s.close_with_stderr().unwrap_or_else(|e| panic!("{e}"));
    let told = |what: &str| {
        stderr
            .lines()
            .find(|l| l.starts_with("mcp-warden: the sandbox denied") && l.contains(what))
            .unwrap_or_else(|| panic!("no denial line naming {what}:\n{stderr}"))
            .to_string()
    };
    let line = told(&path(&notes));
    assert!(line.contains("grant-arg-paths = true"), "{line}");
    assert!(line.contains(&path(&env.user_policy())), "{line}");
    let line = told("the network");
    assert!(line.contains("network = true"), "{line}");

    // With it: read and write inside the argument, nothing beside it.
    set_policy(&env, "probe", Some("grant-arg-paths = true"));
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        start_line(&s, "probe").contains(&format!("arguments granted: {}", path(&docs))),
        "{}",
        s.stderr()
    );
    let r = probe(&s, json!({"op": "read", "path": path(&notes)}));
    assert_allowed(&s, "read in a granted argument", &r);
    assert_eq!(r["detail"], "granted\n");
    let r = probe(
        &s,
        json!({"op": "write", "path": path(&docs.join("new.txt"))}),
    );
    assert_allowed(&s, "write in a granted argument", &r);
    let r = probe(
        &s,
        json!({"op": "read", "path": path(&other.join("secret.txt"))}),
    );
    assert_denied(&s, "read beside the granted argument", &r);
    s.close().unwrap_or_else(|e| panic!("{e}"));

    // A system policy saying no wins over the user's yes.
    std::fs::create_dir_all(env.system_policy().parent().unwrap()).unwrap();
    std::fs::write(
        env.system_policy(),
        "version = 1\n[[servers]]\nname = \"probe\"\n[servers.run]\ngrant-arg-paths = false\n",
    )
    .unwrap();
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let r = probe(&s, json!({"op": "read", "path": path(&notes)}));
    assert_denied(&s, "a user yes under a system no", &r);
    s.close().unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(env.system_policy()).unwrap();

    // An argument that would open mcp-warden's own files (or the whole
    // home) stops the launch rather than grant it.
    for wide in [env.home.clone(), PathBuf::from("/")] {
        add_probe_args(&env, &signed, &[&wide]);
        env.cmd()
            .args(["run", "probe"])
            .stdin("")
            .run()
            .code(2)
            .diag_in_stderr("launch-failed")
            .stderr_has("cannot be granted")
            .stderr_has("grant-arg-paths");
    }
}
