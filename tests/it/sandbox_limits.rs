//! What a server can take from the machine, and what outlives it, through
//! the real `mcp-warden run` and the `probe` fixture server (its `exec` op
//! runs python3, which tries each thing and prints what happened):
//!
//! - resource limits: 300 children, gigabytes of memory, a file past the
//!   file-size limit, thousands of open files are each bounded by the
//!   defaults and by `[servers.run]` fields, which the server sees as its
//!   own limits (`resource.getrlimit`);
//! - a `setsid` double-forked daemon dies with the server when `run` ends
//!   normally and when `run` is killed with SIGKILL;
//! - a launch record that cannot be written to the audit log (the file
//!   size limit of `run` itself: writes fail as on a full disk) refuses
//!   the launch, and leaves the log whole.
//!
//! Before these, none of the limits was set (the server had `run`'s
//! limits, here unlimited but for open files), the daemon survived both
//! ends of `run`, and the server started with its launch record cut off.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::everything::run_through_warden;
use super::run::pin_node;
use super::sandbox::{pin_probe, probe, set_policy, start_line};
use super::support::mcp_client::McpSession;
use super::support::util::*;

const PYTHON: &str = "/usr/bin/python3";

/// Runs `code` with python3 inside the server; its stdout (at most 200
/// bytes: the probe's detail), which must be one JSON value.
#[track_caller]
fn py(s: &McpSession, code: &str) -> Value {
    let r = probe(s, json!({"op": "exec", "argv": [PYTHON, "-c", code]}));
    assert_eq!(r["ok"], true, "python failed: {r}\n{}", s.stderr());
    let out = r["detail"].as_str().unwrap_or_default();
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// The server's own limits, soft and hard: {"NPROC": [s, h], ...}.
const GETRLIMIT: &str = "import json, resource as r
print(json.dumps({n: r.getrlimit(getattr(r, 'RLIMIT_' + n)) for n in ('NPROC', 'DATA', 'FSIZE', 'NOFILE')}))";

/// Forks up to N children that sleep; prints how many it got.
fn forks(n: u32) -> String {
    format!(
        "import os, time, json
pids, err = [], None
try:
    for _ in range({n}):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        pids.append(pid)
except OSError as e:
    err = e.errno
for p in pids:
    os.kill(p, 9)
for p in pids:
    os.waitpid(p, 0)
print(json.dumps([len(pids), err]))"
    )
}

/// Allocates MIB MiB (calloc'd pages, never touched): "ok" or "MemoryError".
fn alloc(mib: u64) -> String {
    format!(
        "import json
try:
    b = bytearray({mib} << 20)
    print(json.dumps('ok'))
except MemoryError:
    print(json.dumps('MemoryError'))"
    )
}

/// Writes one byte at offset AT (a sparse file, in the server's TMPDIR):
/// "ok" or the errno's name. Python ignores SIGXFSZ, so a write past the
/// limit fails with EFBIG instead of killing it.
fn write_at(at: u64) -> String {
    format!(
        "import os, json, errno
p = os.path.join(os.environ['TMPDIR'], 'big')
try:
    with open(p, 'wb') as f:
        f.seek({at})
        f.write(b'x')
    print(json.dumps('ok'))
except OSError as e:
    print(json.dumps(errno.errorcode[e.errno]))
finally:
    if os.path.exists(p):
        os.remove(p)"
    )
}

/// Opens /dev/null up to N times: [how many, errno name or null].
fn opens(n: u32) -> String {
    format!(
        "import os, json, errno
fds, err = [], None
try:
    while len(fds) < {n}:
        fds.append(os.open('/dev/null', os.O_RDONLY))
except OSError as e:
    err = errno.errorcode[e.errno]
print(json.dumps([len(fds), err]))"
    )
}

/// This process's hard limit of a resource, from /proc/self/limits (what
/// `run` inherits, and never raises).
fn hard_limit(name: &str) -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().nth(1)?.parse().ok()
}

/// CAP_SYS_ADMIN in the effective set: `run` can then give the server a
/// PID namespace of its own.
fn can_make_pid_namespaces() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    let caps = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
    caps & (1 << 21) != 0
}

/// Whether the kernel keeps `pid_max` per PID namespace (Linux 6.14).
fn pid_max_per_namespace() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut v = release
        .split(['.', '-'])
        .map(|p| p.trim().parse::<u32>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0)) >= (6, 14)
}

/// What the 300 forks are held to: for a user other than root, by
/// RLIMIT_NPROC; for root (whom RLIMIT_NPROC does not bind), by the
/// server's PID namespace's `pid_max` where the kernel has one per
/// namespace. `false`: nothing holds them here, said on stderr.
fn forks_are_bounded() -> bool {
    if real_uid() != 0 || (can_make_pid_namespaces() && pid_max_per_namespace()) {
        return true;
    }
    eprintln!(
        "note: as root without a per-namespace pid_max (Linux 6.14), nothing bounds the number of tasks; not checked"
    );
    false
}

/// Checks the limits the server sees against `want` (NPROC, DATA MiB,
/// FSIZE MiB, NOFILE), each capped at this process's hard limit.
#[track_caller]
fn assert_limits(s: &McpSession, want: [u64; 4]) {
    let got = py(s, GETRLIMIT);
    let cap = |name: &str, v: u64| hard_limit(name).map_or(v, |h| v.min(h));
    let expect = [
        ("DATA", cap("Max data size", want[1] << 20)),
        ("FSIZE", cap("Max file size", want[2] << 20)),
        ("NOFILE", cap("Max open files", want[3])),
    ];
    for (name, v) in expect {
        assert_eq!(got[name], json!([v, v]), "{name}: {got}");
    }
    // RLIMIT_NPROC counts all the user's tasks: for anyone but root, what
    // the user ran already is added to the policy's number.
    let nproc = &got["NPROC"];
    assert_eq!(nproc[0], nproc[1], "{got}");
    let n = nproc[0].as_u64().unwrap();
    match real_uid() {
        0 => assert_eq!(n, cap("Max processes", want[0]), "{got}"),
        _ => assert!(n > want[0], "{got}"),
    }
}

/// Defaults: 256 tasks, 2048 MiB data, 1024 MiB files, 4096 open files.
/// Before the limits, each probe below got what it asked for (300
/// children, 3 GiB, a byte past 1 GiB, 5000 descriptors) and getrlimit
/// showed `run`'s own limits.
#[test]
fn resource_limits_bound_the_server_by_default_and_by_policy() {
    let env = TestEnv::new();
    pin_probe(&env);
    let bounded = forks_are_bounded();
    let gib = 1u64 << 30;

    // The defaults.
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let line = start_line(&s, "probe");
    assert!(
        line.contains("limits: 256 tasks, 2048 MiB data, 1024 MiB files, 4096 open files"),
        "{line}"
    );
    assert_limits(&s, [256, 2048, 1024, 4096]);
    let got = py(&s, &forks(300));
    if bounded {
        let n = got[0].as_u64().unwrap();
        assert!(n < 300, "300 children under the default limit: {got}");
        assert_eq!(got[1], libc::EAGAIN, "{got}");
    }
    assert_eq!(py(&s, &alloc(1024)), "ok");
    assert_eq!(py(&s, &alloc(3072)), "MemoryError");
    assert_eq!(py(&s, &write_at(gib - 1)), "ok");
    assert_eq!(py(&s, &write_at(gib)), "EFBIG");
    let got = py(&s, &opens(5000));
    assert_eq!(got[1], "EMFILE", "{got}");
    assert!(got[0].as_u64().unwrap() < 4096, "{got}");
    s.close().unwrap_or_else(|e| panic!("{e}"));

    // Lowered.
    set_policy(
        &env,
        "probe",
        Some(
            "max-processes = 40\nmax-memory-mib = 512\nmax-file-size-mib = 1\nmax-open-files = 64",
        ),
    );
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    assert_limits(&s, [40, 512, 1, 64]);
    if real_uid() != 0 {
        // Root's bound, pid_max, cannot go below 299 tasks.
        let got = py(&s, &forks(300));
        assert!(got[0].as_u64().unwrap() < 40, "{got}");
    }
    assert_eq!(py(&s, &alloc(1024)), "MemoryError");
    assert_eq!(py(&s, &alloc(256)), "ok");
    assert_eq!(py(&s, &write_at(2 << 20)), "EFBIG");
    assert_eq!(py(&s, &write_at((1 << 20) - 1)), "ok");
    let got = py(&s, &opens(100));
    assert_eq!(got[1], "EMFILE", "{got}");
    assert!(got[0].as_u64().unwrap() < 64, "{got}");
    s.close().unwrap_or_else(|e| panic!("{e}"));

    // Raised.
    set_policy(
        &env,
        "probe",
        Some(
            "max-processes = 1000\nmax-memory-mib = 4096\nmax-file-size-mib = 2048\nmax-open-files = 8192",
        ),
    );
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    assert_limits(&s, [1000, 4096, 2048, 8192]);
    assert_eq!(py(&s, &forks(300)), json!([300, null]));
    assert_eq!(py(&s, &alloc(3072)), "ok");
    assert_eq!(py(&s, &write_at(gib)), "ok");
    if hard_limit("Max open files").is_none_or(|h| h >= 8192) {
        assert_eq!(py(&s, &opens(5000)), json!([5000, null]));
    }
    s.close().unwrap_or_else(|e| panic!("{e}"));
}

/// Layers only tighten: a user policy cannot raise the system's limits,
/// and `policy explain` names each layer's.
#[test]
fn a_user_policy_cannot_raise_the_systems_limits() {
    let env = TestEnv::new();
    pin_probe(&env);
    std::fs::write(
        env.system_policy(),
        "version = 1\n[[servers]]\nname = \"probe\"\n[servers.run]\nmax-open-files = 64\nmax-memory-mib = 1024\n",
    )
    .unwrap();
    set_policy(
        &env,
        "probe",
        Some("max-open-files = 8192\nmax-memory-mib = 512"),
    );
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    assert_limits(&s, [256, 512, 1024, 64]);
    s.close().unwrap_or_else(|e| panic!("{e}"));
    env.run(["policy", "explain", "probe"])
        .code(0)
        .stdout_has("run: max-memory-mib 1024, max-open-files 64")
        .stdout_has("run: max-memory-mib 512, max-open-files 8192");
}

/// Double-forks a daemon (fork, setsid, fork) that closes its stdio,
/// writes its pid as the test sees it (the /proc/self link: the server
/// may be in a PID namespace of its own) to TMPDIR/daemon, and sleeps.
const DAEMON: &str = "import os, time
p = os.path.join(os.environ['TMPDIR'], 'daemon')
if os.path.exists(p):
    os.remove(p)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open('/dev/null', os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        with open(p + '.new', 'w') as f:
            f.write(os.readlink('/proc/self'))
        os.rename(p + '.new', p)
        time.sleep(600)
    os._exit(0)
os.wait()
while not os.path.exists(p):
    time.sleep(0.01)
print(open(p).read())";

/// Kills `pid` if the test fails while it lives.
struct Reaper(u32);
impl Drop for Reaper {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
}

#[track_caller]
fn assert_dies(pid: u32, what: &str) {
    let until = Instant::now() + Duration::from_secs(15);
    while alive(pid) {
        assert!(Instant::now() < until, "the daemon {pid} outlived {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the daemon from inside the server; its pid.
#[track_caller]
fn start_daemon(s: &McpSession) -> u32 {
    let pid = py(s, DAEMON).as_u64().expect("the daemon's pid") as u32;
    assert!(alive(pid), "the daemon {pid} is not running");
    pid
}

/// Before the server had a unit that dies with it, the setsid daemon left
/// its process group, which was all that `run` and its sentinel killed:
/// it survived `run`'s normal end and `kill -9` of `run` (with `network =
/// true`, network and all).
#[test]
fn a_setsid_daemon_dies_with_run_normally_and_after_kill_9() {
    let env = TestEnv::new();
    pin_probe(&env);

    // Normal end: the client closes, the server exits, run exits 0.
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let daemon = start_daemon(&s);
    let _reap = Reaper(daemon);
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
    assert_dies(daemon, "the normal end of run");

    // kill -9 of run, with the network on.
    set_policy(&env, "probe", Some("network = true"));
    let s = run_through_warden(&env, "probe", &[]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let daemon = start_daemon(&s);
    let _reap = Reaper(daemon);
    let run = s.pid().expect("run's pid");
    let killed = Command::new("kill")
        .args(["-9", &run.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    if can_make_pid_namespaces() {
        assert_dies(daemon, "kill -9 of run");
    } else {
        // Without a PID namespace (not root), only the server's group
        // dies with a killed `run`: the documented limit.
        eprintln!("note: no PID namespace here; a daemon outlives kill -9 of run");
    }
    drop(s);
}

/// The node script of a server that marks its start in its HOME, then
/// waits for stdin to close.
const MARKS_ITS_START: &str =
    "require('fs').writeFileSync(require('path').join(process.env.HOME, 'started'), 'yes\\n');
process.stdin.on('data', () => {});
process.stdin.on('end', () => process.exit(0));
";

/// `mcp-warden run NAME` with `run`'s own file-size limit at `fsize`
/// bytes (and SIGXFSZ ignored, so that writes past it fail with EFBIG as
/// they would with ENOSPC on a full disk, rather than kill it).
fn run_with_fsize(env: &TestEnv, name: &str, fsize: u64) -> std::process::Output {
    let code = "import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
n = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
os.execv(sys.argv[2], sys.argv[2:])";
    Command::new(PYTHON)
        .args([
            "-c",
            code,
            &fsize.to_string(),
            env!("CARGO_BIN_EXE_mcp-warden"),
        ])
        .args(["run", name])
        .current_dir(&env.work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MCP_WARDEN_SYSTEM_DIR", &env.system)
        .env("MCP_WARDEN_HOME", &env.home)
        .stdin(Stdio::null())
        .output()
        .expect("start mcp-warden run")
}

/// A launch whose record cannot be written is refused before the server
/// starts, with `audit-unavailable`, and the log keeps no cut-off record.
/// Before, the failed write was only warned about: the server started
/// (the marker appeared) with its launch record cut off at the limit, and
/// `audit verify` then reported the log as edited.
#[test]
fn a_launch_record_that_cannot_be_written_refuses_the_launch() {
    let env = TestEnv::new();
    pin_node(&env, "marker", MARKS_ITS_START, "");
    let marker: PathBuf = env.home.join("data/state/marker/home/started");
    let log: PathBuf = env.home.join("data/audit/audit.jsonl");

    // A first launch: the log, its head and the receipt exist, and the
    // server marks its start.
    env.cmd().args(["run", "marker"]).stdin("").run().code(0);
    assert!(marker.is_file(), "the server did not start");
    std::fs::remove_file(&marker).unwrap();
    let before = std::fs::read(&log).unwrap();
    env.run(["audit", "verify"]).code(0);

    // Room for 10 more bytes: the launch record is cut short.
    let out = run_with_fsize(&env, "marker", before.len() as u64 + 10);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("audit-unavailable"), "{stderr}");
    assert!(
        stderr.contains("the launch record could not be written, so the server was not started"),
        "{stderr}"
    );
    assert!(
        stderr.contains("short write to the audit log (10 of"),
        "{stderr}"
    );
    assert!(!marker.exists(), "the server started without its record");
    assert_eq!(std::fs::read(&log).unwrap(), before, "the log changed");
    env.run(["audit", "verify"]).code(0);

    // No room at all: the same.
    let out = run_with_fsize(&env, "marker", before.len() as u64);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(!marker.exists(), "the server started without its record");
    assert_eq!(std::fs::read(&log).unwrap(), before, "the log changed");

    // With room again, it starts.
    env.cmd().args(["run", "marker"]).stdin("").run().code(0);
    assert!(marker.is_file());
    env.run(["audit", "verify"]).code(0);
}
