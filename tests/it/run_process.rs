//! `run` as a supervisor: exit codes, signals, client EOF, grace periods,
//! and no process of the server left behind, checked in the process
//! table, whatever ends the session.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::run::pin_node;
use super::support::util::{Minisign, TestEnv, alive, which};

/// Sends a `notifications/message` with `{"server": PID, "child": PID}`
/// as its data once it has started a child
/// that sleeps, then lives until killed. `TERM` decides what SIGTERM does.
/// The pids are the test's: where the server has a PID namespace of its
/// own, `process.pid` is not, and the /proc/self link (resolved in the
/// namespace /proc was mounted for) is.
fn family(on_term: &str, on_close: &str) -> String {
    format!(
        r#"
const {{ spawn }} = require('child_process');
const own = (fs) => Number(fs.readlinkSync('/proc/self'));
const child = spawn(process.execPath,
  ['-e', "process.stdout.write(String((" + own + ")(require('fs')))); setInterval(() => {{}}, 1000)"],
  {{ stdio: ['ignore', 'pipe', 'ignore'] }});
process.on('SIGTERM', () => {{ {on_term} }});
process.stdin.on('data', () => {{}});
process.stdin.on('end', () => {{ {on_close} }});
child.stdout.once('data', (d) => {{
  process.stdout.write(JSON.stringify({{ jsonrpc: '2.0', method: 'notifications/message',
    params: {{ level: 'info', data: {{ server: own(require('fs')), child: Number(String(d)) }} }} }}) + '\n');
}});
setInterval(() => {{}}, 1000);
"#
    )
}

struct Session {
    child: Child,
    server: u32,
    grandchild: u32,
}

fn start(env: &TestEnv, name: &str, extra: &[&str]) -> Session {
    let mut child = env
        .command()
        .args(["run", name])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start mcp-warden run");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read the server's first line");
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    Session {
        child,
        server: v["params"]["data"]["server"].as_u64().unwrap() as u32,
        grandchild: v["params"]["data"]["child"].as_u64().unwrap() as u32,
    }
}

fn assert_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "still running after the session ended: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        assert!(Instant::now() < deadline, "run did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn client_eof_closes_the_servers_stdin_and_its_code_is_runs() {
    let env = TestEnv::new();
    pin_node(&env, "fam", &family("", "process.exit(5)"), "");
    let mut s = start(&env, "fam", &[]);
    assert!(alive(s.server) && alive(s.grandchild));
    drop(s.child.stdin.take());
    assert_eq!(wait_code(&mut s.child), Some(5));
    // The server's own child went with it.
    assert_gone(&[s.server, s.grandchild]);
}

#[test]
fn a_server_that_ignores_sigterm_is_killed_after_two_grace_periods() {
    let env = TestEnv::new();
    pin_node(&env, "stubborn", &family("", ""), "");
    let mut s = start(&env, "stubborn", &["--grace-period", "0.3"]);
    let t = Instant::now();
    drop(s.child.stdin.take());
    assert_eq!(wait_code(&mut s.child), Some(128 + 9));
    assert!(
        t.elapsed() >= Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    assert_gone(&[s.server, s.grandchild]);
}

#[test]
fn signals_to_run_reach_the_server() {
    let env = TestEnv::new();
    pin_node(&env, "polite", &family("process.exit(42)", ""), "");
    let mut s = start(&env, "polite", &[]);
    signal(s.child.id(), "TERM");
    assert_eq!(wait_code(&mut s.child), Some(42));
    assert_gone(&[s.server, s.grandchild]);

    // A server with no handler dies of the signal: 128 + 2.
    pin_node(
        &env,
        "plain",
        &family("process.exit(42)", "").replace("process.on('SIGTERM'", "process.on('SIGUSR2'"),
        "",
    );
    let mut s = start(&env, "plain", &[]);
    signal(s.child.id(), "INT");
    assert_eq!(wait_code(&mut s.child), Some(128 + 2));
    assert_gone(&[s.server, s.grandchild]);
}

#[test]
fn kill_9_of_run_leaves_no_process_behind() {
    let env = TestEnv::new();
    pin_node(&env, "orphan", &family("", ""), "");
    let mut s = start(&env, "orphan", &[]);
    signal(s.child.id(), "KILL");
    assert_eq!(wait_code(&mut s.child), None);
    assert_gone(&[s.server, s.grandchild]);
}

#[test]
fn a_crashing_server_takes_its_children_with_it() {
    let env = TestEnv::new();
    let js = family("", "").replace(
        "process.stdin.on('data', () => {});",
        "process.stdin.on('data', () => { process.exit(3); });",
    );
    pin_node(&env, "crash", &js, "");
    let mut s = start(&env, "crash", &[]);
    s.child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .unwrap();
    assert_eq!(wait_code(&mut s.child), Some(3));
    assert_gone(&[s.server, s.grandchild]);
}

#[test]
fn the_server_inherits_no_descriptor_but_its_stdio() {
    // A native server: ls lists its own descriptors (0-2, and 3 for the
    // directory it reads). mcp-warden starts with an extra descriptor 7
    // open and inheritable, as a careless client might leave it.
    let env = TestEnv::new();
    let ls = env.path("ls");
    std::fs::copy(which("ls"), &ls).unwrap();
    let key = Minisign::generate(&env, "k");
    env.trust_key(&key.public, "k", &["*"]).code(0);
    let sig = key.sign(&ls, None);
    env.run(["add", "ls", "./ls", "--signature", sig.to_str().unwrap()])
        .code(0);
    // ls is no MCP server: its output reaches stdout only without the
    // guard (which would drop it). The guard's own pipes are checked with
    // the `fds` server in tests/it/everything.rs.
    std::fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"ls\"\n[servers.run]\nguard = false\n",
    )
    .unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("exec 7</dev/null; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_mcp-warden"))
        .args(["run", "ls", "--", "/proc/self/fd"])
        .current_dir(&env.work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MCP_WARDEN_SYSTEM_DIR", &env.system)
        .env("MCP_WARDEN_HOME", &env.home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fds: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(
        fds,
        ["0", "1", "2", "3"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
