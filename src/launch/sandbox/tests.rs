//! Each test runs a small `sh` script as the server, under a sandbox
//! prepared for this machine's kernel, and proves a denial by the
//! script's exit code; most also run the same script unconfined (the
//! control), so that a denial for an unrelated reason cannot pass.

use super::imp::{Kernel, prepare_for};
use super::*;
use crate::diag::Diagnose as _;
use crate::launch::spawn::{Launch, LaunchError, Program, run_with_input};
use crate::launch::sys;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

struct Setup {
    _t: tempfile::TempDir,
    root: PathBuf,
    dirs: StateDirs,
}

fn setup() -> Setup {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    let dirs = state_dirs(&root.join("data"), "srv").unwrap();
    Setup { _t: t, root, dirs }
}

fn plan(s: &Setup, mode: Mode, network: bool) -> Plan {
    let mut p = Plan::new(mode, network);
    p.read_write.push(s.dirs.home.clone());
    p.read_write.push(s.dirs.tmp.clone());
    p
}

/// The script's exit code, confined by `plan` (None: unconfined).
fn run_sh(s: &Setup, plan: Option<&Plan>, script: &str, env: &[(&str, &str)]) -> u8 {
    let prepared = plan.map(|p| p.prepare().unwrap());
    run_prepared(s, prepared, script, env).unwrap().code
}

fn run_prepared(
    s: &Setup,
    prepared: Option<Prepared>,
    script: &str,
    env: &[(&str, &str)],
) -> Result<crate::launch::Exit, LaunchError> {
    let mut vars: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("HOME".into(), s.dirs.home.clone().into()),
        ("TMPDIR".into(), s.dirs.tmp.clone().into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.into(), v.into())));
    let launch = Launch {
        program: Program::Path("/bin/sh".into()),
        argv0: None,
        args: vec!["-c".into(), script.into(), "sh".into()],
        env: vars,
        secret_env: vec![],
        cwd: s.dirs.home.clone(),
        grace: Duration::from_secs(60),
        sandbox: prepared,
        guard: None,
        anchor: None,
        limits: None,
        unit: crate::launch::Unit::Group,
        gate: None,
    };
    // A pipe held open: no client EOF while the script runs.
    let (input, keep) = std::io::pipe().unwrap();
    let r = run_with_input(launch, input);
    drop(keep);
    r
}

/// The real python3 executable (not a pyenv shim).
fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .or_else(|_| {
            Command::new("/usr/bin/python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
        })
        .expect("python3 is needed by these tests (scripts/test installs it)");
    let exe = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(Path::new(&exe).is_absolute(), "python3 gave {exe:?}");
    exe
}

/// What `program` (a Python) is granted in `s`'s plan, asked for real.
fn python_grants(s: &Setup, program: &Path, keep_out: &KeepOut) -> Grants {
    let facts = interp::python_facts(&s.root.join("interp-cache"), program).unwrap();
    let writable = plan(s, Mode::Require, false).read_write;
    interpreter_grants(program, Some(&facts), keep_out, &writable).unwrap()
}

fn python_plan(s: &Setup, network: bool) -> (String, Plan) {
    let py = python();
    let g = python_grants(s, Path::new(&py), &KeepOut::default());
    let mut p = plan(s, Mode::Require, network);
    p.read_exec.extend(g.read_exec);
    p.read.extend(g.read);
    (py, p)
}

#[test]
fn report_on_this_kernel() {
    let s = setup();
    let p = plan(&s, Mode::Require, false).prepare().unwrap();
    let r = p.report();
    assert!(r.landlock_abi >= 6, "{r:?}");
    assert_eq!(r.landlock, ["filesystem", "tcp", "scopes"]);
    assert!(r.seccomp_denied > 30, "{r:?}");
    assert!(r.not_enforced.is_empty(), "{r:?}");
    let line = r.summary();
    assert!(
        line.starts_with(&format!(
            "landlock ABI {}: filesystem, tcp, scopes; seccomp: ",
            r.landlock_abi
        )),
        "{line}"
    );
    assert!(
        line.contains("unix/inet/all other sockets denied"),
        "{line}"
    );
    assert!(line.ends_with("network off"), "{line}");
    for name in ["ptrace", "keyctl", "bpf", "unshare", "setns", "mount"] {
        assert!(imp::denied_call_names().contains(&name), "{name}");
    }
    // Network on: TCP is not handled by Landlock.
    let p = plan(&s, Mode::Require, true).prepare().unwrap();
    assert_eq!(p.report().landlock, ["filesystem", "scopes"]);
    assert!(p.report().summary().ends_with("network on (unrestricted)"));
    // Off: nothing.
    let p = plan(&s, Mode::Off, false).prepare().unwrap();
    assert_eq!(p.report().summary(), "sandbox off");
}

#[test]
fn writes_only_in_the_state_dirs() {
    let s = setup();
    let outside = s.root.join("outside");
    let script = r#"echo x 2>/dev/null > "$1/escaped" && exit 10
            echo ok > "$HOME/f" || exit 11
            echo ok > "$TMPDIR/f" || exit 12
            mkdir "$HOME/d" && mv "$HOME/f" "$HOME/d/g" || exit 13
            touch /tmp/mcp-warden-sandbox-escape-$$ 2>/dev/null && exit 14
            echo x > /dev/null || exit 15
            exit 0"#;
    std::fs::create_dir(&outside).unwrap();
    let script = script.replace("$1", outside.to_str().unwrap());
    let p = plan(&s, Mode::Require, false);
    assert_eq!(run_sh(&s, Some(&p), &script, &[]), 0);
    assert!(!outside.join("escaped").exists());
    assert_eq!(
        std::fs::read_to_string(s.dirs.home.join("d/g")).unwrap(),
        "ok\n"
    );
    assert!(s.dirs.tmp.join("f").exists());
    // Control: unconfined, the same script escapes.
    assert_eq!(run_sh(&s, None, &script, &[]), 10);
    assert!(outside.join("escaped").exists());
    // Mode off: no confinement either.
    std::fs::remove_file(outside.join("escaped")).unwrap();
    let off = plan(&s, Mode::Off, false);
    assert_eq!(run_sh(&s, Some(&off), &script, &[]), 10);
}

#[test]
fn ssh_key_and_shadow_are_unreadable() {
    let s = setup();
    let fake_home = s.root.join("user");
    std::fs::create_dir_all(fake_home.join(".ssh")).unwrap();
    let key = fake_home.join(".ssh/id_ed25519");
    std::fs::write(&key, "-----BEGIN OPENSSH PRIVATE KEY-----\ncanary\n").unwrap();
    let script = r#"cat "$KEY" > /dev/null 2>&1 && exit 10
            ls "$KEYDIR" > /dev/null 2>&1 && exit 11
            cat /etc/shadow > /dev/null 2>&1 && exit 12
            cat /etc/passwd > /dev/null || exit 13
            exit 0"#;
    let env = [
        ("KEY", key.to_str().unwrap()),
        ("KEYDIR", fake_home.to_str().unwrap()),
    ];
    let p = plan(&s, Mode::Require, false);
    assert_eq!(run_sh(&s, Some(&p), script, &env), 0);
    assert_eq!(run_sh(&s, None, script, &env), 10);
}

#[test]
fn other_processes_cannot_be_signalled_or_read() {
    let s = setup();
    // This test process stands for `run` and for another server.
    let me = std::process::id().to_string();
    let script = r#"kill -0 "$TARGET" 2>/dev/null && exit 10
            cat "/proc/$TARGET/environ" > /dev/null 2>&1 && exit 11
            cat "/proc/$TARGET/cmdline" > /dev/null 2>&1 && exit 12
            ls "/proc/$TARGET/fd/" > /dev/null 2>&1 && exit 13
            ls /proc > /dev/null 2>&1 && exit 14
            read -r first < /proc/self/status || exit 15
            grep -q . /proc/cpuinfo /proc/meminfo /proc/sys/kernel/pid_max || exit 16
            exit 0"#;
    let env = [("TARGET", me.as_str())];
    let p = plan(&s, Mode::Require, false);
    assert_eq!(run_sh(&s, Some(&p), script, &env), 0);
    // Controls: unconfined, each of the first two steps succeeds.
    assert_eq!(run_sh(&s, None, script, &env), 10);
    let unsignalled = script.replacen(r#"kill -0 "$TARGET" 2>/dev/null && exit 10"#, ":", 1);
    assert_eq!(run_sh(&s, None, &unsignalled, &env), 11);
    // Without the /proc/self rule, the server cannot read its own
    // (the shell itself opens it: a child would have another pid).
    let mut p = plan(&s, Mode::Require, false);
    p.proc_self = false;
    assert_eq!(run_sh(&s, Some(&p), script, &env), 15);
}

#[test]
fn program_outside_the_plan_cannot_be_executed() {
    let s = setup();
    let art = s.root.join("artifact");
    std::fs::create_dir(&art).unwrap();
    let tool = art.join("tool");
    std::fs::copy("/bin/true", &tool).unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = format!("{} || exit 10; exit 0", tool.display());
    // Nor in a writable directory (W^X).
    let in_home = s.dirs.home.join("tool");
    std::fs::copy(&tool, &in_home).unwrap();
    let script_home = format!("{} || exit 10; exit 0", in_home.display());
    let mut p = plan(&s, Mode::Require, false);
    assert_eq!(run_sh(&s, Some(&p), &script, &[]), 10);
    assert_eq!(run_sh(&s, Some(&p), &script_home, &[]), 10);
    p.read_exec.push(art.clone());
    assert_eq!(run_sh(&s, Some(&p), &script, &[]), 0);
}

#[test]
fn tcp_connect_only_with_network_on() {
    let s = setup();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let script = r#"exec "$PY" -c '
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10).close()
except OSError as e:
    print("connect:", e, file=sys.stderr)
    sys.exit(20)
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
except OSError:
    sys.exit(21)
sys.exit(0)
' "$PORT""#;
    let (py, off) = python_plan(&s, false);
    let env = [("PY", py.as_str()), ("PORT", port.as_str())];
    assert_eq!(run_sh(&s, Some(&off), script, &env), 20);
    let (_, on) = python_plan(&s, true);
    assert_eq!(run_sh(&s, Some(&on), script, &env), 0);
    drop(listener);
}

#[test]
fn unix_sockets_are_denied_socketpair_is_not() {
    let s = setup();
    let path = s.root.join("bus.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let script = r#"exec "$PY" -c '
import socket, sys
a, b = socket.socketpair()
a.send(b"x")
if b.recv(1) != b"x":
    sys.exit(22)
try:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sys.argv[1])
except OSError as e:
    print("unix:", e, file=sys.stderr)
    sys.exit(20)
sys.exit(0)
' "$SOCK""#;
    let py = python();
    let env = [("PY", py.as_str()), ("SOCK", path.to_str().unwrap())];
    for network in [false, true] {
        let (_, p) = python_plan(&s, network);
        assert_eq!(run_sh(&s, Some(&p), script, &env), 20, "network {network}");
    }
    assert_eq!(run_sh(&s, None, script, &env), 0);
}

/// A real session bus, stopped when dropped.
struct Bus {
    pid: libc::pid_t,
    address: String,
}
impl Drop for Bus {
    fn drop(&mut self) {
        let _ = sys::kill_pid(self.pid, libc::SIGTERM);
    }
}

#[test]
fn dbus_session_bus_is_out_of_reach() {
    let s = setup();
    let out = Command::new("dbus-daemon")
        .args(["--session", "--print-address=1", "--print-pid=1", "--fork"])
        .output()
        .expect("dbus-daemon is needed by this test (scripts/test installs dbus)");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let address = lines.next().unwrap().to_string();
    let pid = lines.next().unwrap().trim().parse().unwrap();
    let bus = Bus { pid, address };
    let script = r#"dbus-send --session --dest=org.freedesktop.DBus --type=method_call \
            --print-reply / org.freedesktop.DBus.ListNames > /dev/null || exit 20; exit 0"#;
    let env = [("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str())];
    for network in [false, true] {
        let p = plan(&s, Mode::Require, network);
        assert_eq!(run_sh(&s, Some(&p), script, &env), 20, "network {network}");
    }
    assert_eq!(run_sh(&s, None, script, &env), 0);
}

#[test]
fn keyring_is_out_of_reach() {
    let s = setup();
    assert!(
        Path::new("/usr/bin/keyctl").exists() || Path::new("/bin/keyctl").exists(),
        "keyctl is needed by this test (scripts/test installs keyutils)"
    );
    let script = "keyctl show @s > /dev/null 2>&1 && exit 10; \
                      keyctl add user mcp-warden-sandbox-probe x @s > /dev/null 2>&1 && exit 11; exit 0";
    let p = plan(&s, Mode::Require, true);
    assert_eq!(run_sh(&s, Some(&p), script, &[]), 0);
    assert_eq!(
        run_sh(&s, None, "keyctl show @s > /dev/null || exit 10", &[]),
        0
    );
}

#[test]
fn ptrace_and_namespaces_are_denied() {
    let s = setup();
    let script = r#"exec "$PY" -c '
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    os.execv("/bin/sleep", ["sleep", "30"])
PTRACE_ATTACH = 16
r = libc.ptrace(PTRACE_ATTACH, pid, None, None)
e = ctypes.get_errno()
os.kill(pid, 9)
os.waitpid(pid, 0)
if r == 0:
    sys.exit(20)
if e != errno.EPERM:
    sys.exit(21)
if libc.unshare(0x10000000) == 0:  # CLONE_NEWUSER
    sys.exit(22)
x86 = os.uname().machine == "x86_64"
# clone(CLONE_NEWUSER | SIGCHLD): namespaces through clone are denied too.
r = libc.syscall(56 if x86 else 220, 0x10000000 | 17, 0, 0, 0, 0)
if r == 0:
    os._exit(0)
if r > 0:
    os.waitpid(r, 0)
    sys.exit(23)
if ctypes.get_errno() != errno.EPERM:
    sys.exit(24)
# clone3 (flags behind a pointer): ENOSYS, so that libc falls back to clone.
if libc.syscall(435, None, 0) != -1 or ctypes.get_errno() != errno.ENOSYS:
    sys.exit(25)
# Keystrokes into a terminal: EPERM (unconfined: ENOTTY, stderr is no tty).
import fcntl, termios
try:
    fcntl.ioctl(2, termios.TIOCSTI, b"x")
    sys.exit(27)
except OSError as e:
    if e.errno != errno.EPERM:
        sys.exit(28)
# x32 calls (bit 30) on x86_64: refused whatever the number.
if x86 and (libc.syscall(0x40000000 | 39) != -1 or ctypes.get_errno() != errno.EPERM):
    sys.exit(26)
sys.exit(0)
'"#;
    let (py, p) = python_plan(&s, false);
    let env = [("PY", py.as_str())];
    assert_eq!(run_sh(&s, Some(&p), script, &env), 0);
    // Control: unconfined, attaching to our own child works.
    assert_eq!(run_sh(&s, None, script, &env), 20);
}

#[test]
fn node_runs_under_the_sandbox() {
    let s = setup();
    let node = Command::new("sh")
        .args(["-c", "command -v node"])
        .output()
        .expect("sh");
    let node = String::from_utf8(node.stdout).unwrap().trim().to_string();
    assert!(
        !node.is_empty(),
        "node is needed by this test (scripts/test installs nodejs)"
    );
    let node = std::fs::canonicalize(&node).unwrap();
    let mut p = plan(&s, Mode::Require, false);
    let g = interpreter_grants(&node, None, &KeepOut::default(), &p.read_write).unwrap();
    p.read_exec.extend(g.read_exec);
    let script = r#"exec "$NODE" -e '
const fs = require("fs"), os = require("os"), cp = require("child_process");
fs.writeFileSync(os.homedir() + "/n", String(os.cpus().length));
const r = cp.spawnSync("/bin/echo", ["child"]);
if (r.stdout.toString() !== "child\n") process.exit(30);
try { fs.writeFileSync("/tmp/mcp-warden-node-escape", "x"); process.exit(31); } catch (e) {}
process.exit(0);
'"#;
    let env = [("NODE", node.to_str().unwrap())];
    assert_eq!(run_sh(&s, Some(&p), script, &env), 0);
    assert!(s.dirs.home.join("n").exists());
    // Node as a child of the server (as under npx), without its own
    // /proc/PID: it still runs.
    let child = format!("{}; exit $?", script.strip_prefix("exec ").unwrap());
    std::fs::remove_file(s.dirs.home.join("n")).unwrap();
    assert_eq!(run_sh(&s, Some(&p), &child, &env), 0);
    assert!(s.dirs.home.join("n").exists());
}

#[test]
fn require_refuses_a_weaker_kernel() {
    // A test double for the kernel: this machine has Landlock ABI 7
    // and seccomp; a kernel without them cannot be had here.
    let s = setup();
    let p = plan(&s, Mode::Require, false);
    for (kernel, what) in [
        (
            Kernel {
                landlock_abi: 0,
                seccomp: true,
            },
            "Landlock",
        ),
        (
            Kernel {
                landlock_abi: 2,
                seccomp: true,
            },
            "truncate",
        ),
        (
            Kernel {
                landlock_abi: 7,
                seccomp: false,
            },
            "seccomp",
        ),
    ] {
        let e = prepare_for(&p, kernel).unwrap_err();
        assert!(matches!(e, SandboxError::Unavailable { .. }), "{e:?}");
        assert!(e.to_string().contains(what), "{e}");
        assert!(e.hint().unwrap().contains("best-effort"), "{:?}", e.hint());
    }
}

#[test]
fn best_effort_on_a_weaker_kernel_says_what_is_missing() {
    let s = setup();
    let mut p = plan(&s, Mode::BestEffort, false);
    // ABI 2 is a real, older ruleset: enforced by this kernel too.
    let weak = Kernel {
        landlock_abi: 2,
        seccomp: true,
    };
    let prepared = prepare_for(&p, weak).unwrap();
    let r = prepared.report().clone();
    assert_eq!(r.landlock_abi, 2);
    assert_eq!(r.landlock, ["filesystem"]);
    let line = r.summary();
    for gap in ["truncate", "ioctl", "signals"] {
        assert!(line.contains(gap), "{gap}: {line}");
    }
    let outside = s.root.join("outside");
    let script = format!("echo x > {} && exit 10; exit 0", outside.display());
    let code = run_prepared(&s, Some(prepared), &script, &[]).unwrap().code;
    assert_eq!(code, 0);
    assert!(!outside.exists());

    // No Landlock, no seccomp: runs, and says nothing was enforced.
    let none = Kernel {
        landlock_abi: 0,
        seccomp: false,
    };
    let r = prepare_for(&p, none).unwrap().report().clone();
    let line = r.summary();
    assert!(
        line.starts_with("landlock: not enforced; seccomp: not enforced"),
        "{line}"
    );
    assert!(line.contains("D-Bus"), "{line}");
    assert!(
        line.contains("network off (no Landlock TCP rules"),
        "{line}"
    );

    // A writable path that does not exist is an error, not a skip.
    p.read_write.push(s.root.join("missing"));
    let e = prepare_for(&p, Kernel::current()).unwrap_err();
    assert!(matches!(e, SandboxError::Path { .. }), "{e:?}");
}

#[test]
fn a_failing_sandbox_step_fails_the_spawn() {
    let s = setup();
    let marker = s.dirs.home.join("ran");
    // Not a Landlock ruleset: landlock_restrict_self refuses it.
    let bogus = std::fs::File::open("/dev/null").unwrap();
    let prepared = Prepared {
        report: SandboxReport::unenforced(Mode::Require, false, "test"),
        exec: sys::SandboxExec {
            ruleset: Some(bogus.into()),
            proc_self_access: 0,
            filter: None,
            drop_caps: false,
        },
    };
    let script = format!("echo > {}", marker.display());
    let e = run_prepared(&s, Some(prepared), &script, &[]).unwrap_err();
    match &e {
        LaunchError::Sandbox { step, .. } => assert_eq!(*step, "landlock_restrict_self"),
        other => panic!("{other:?}"),
    }
    assert!(e.hint().is_some_and(|h| !h.is_empty()));
    assert!(!marker.exists());
}

#[test]
fn state_dirs_are_private() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let d = state_dirs(&data, "my-server").unwrap();
    for dir in [&d.home, &d.tmp, &data.join("state/my-server")] {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    }
    // Loosened permissions are tightened again; a second call is fine.
    std::fs::set_permissions(&d.home, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(state_dirs(&data, "my-server").unwrap(), d);
    let mode = std::fs::metadata(&d.home).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    for bad in ["", ".", "..", "a//b", "../x", "a\0b", "/a"] {
        let e = state_dirs(&data, bad).unwrap_err();
        assert!(
            matches!(e, SandboxError::ServerName { .. }),
            "{bad:?}: {e:?}"
        );
    }
    // A registry-style name gets one directory, named as the mapping says.
    let d = state_dirs(&data, "io.github.acme/srv").unwrap();
    assert_eq!(d.home, data.join("state/io.github.acme+srv/home"));
    assert_eq!(d.tmp, data.join("state/io.github.acme+srv/tmp"));
    // A symlink where a state directory goes is refused.
    let other = t.path().join("elsewhere");
    std::fs::create_dir(&other).unwrap();
    std::fs::create_dir_all(data.join("state/linked")).unwrap();
    std::os::unix::fs::symlink(&other, data.join("state/linked/home")).unwrap();
    let e = state_dirs(&data, "linked").unwrap_err();
    assert!(matches!(e, SandboxError::StateDir { .. }), "{e:?}");
}

/// A user's world: HOME, mcp-warden's directories where `directories`
/// puts them on Linux (~/.local/share/mcp-warden, …: here all under
/// ~/.local/share/mcp-warden), a server's state directories and a
/// planted keyring file.
struct World {
    s: Setup,
    home: PathBuf,
    ctx: Context,
    keyring: PathBuf,
}

fn world() -> World {
    let t = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(t.path()).unwrap();
    let home = root.join("home");
    let ctx = Context::new(
        Some(&home.join(".local/share/mcp-warden")),
        None,
        Some(&root.join("system")),
    )
    .unwrap();
    let dirs = state_dirs(&ctx.data_dir, "srv").unwrap();
    let keyring = home.join(".local/share/keyrings/login.keyring");
    std::fs::create_dir_all(keyring.parent().unwrap()).unwrap();
    std::fs::write(&keyring, "canary-keyring\n").unwrap();
    std::fs::create_dir_all(ctx.data_dir.join("audit")).unwrap();
    std::fs::write(ctx.data_dir.join("audit/audit.jsonl"), "canary-audit\n").unwrap();
    World {
        s: Setup { _t: t, root, dirs },
        home,
        ctx,
        keyring,
    }
}

impl World {
    fn keep_out(&self) -> KeepOut {
        KeepOut::new(&self.ctx, Some(&self.home))
    }

    fn writable(&self) -> Vec<PathBuf> {
        plan(&self.s, Mode::Require, false).read_write
    }

    /// `python3` at `rel` under HOME: a symlink to the real one.
    fn python_at(&self, rel: &str) -> PathBuf {
        let p = self.home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(python(), &p).unwrap();
        p
    }

    /// What no grant may hold or be: HOME, mcp-warden's directories
    /// and their ancestors; and no executable grant overlaps a
    /// writable path.
    #[track_caller]
    fn assert_safe(&self, g: &Grants) {
        for p in g.read_exec.iter().chain(&g.read) {
            for k in [
                &self.home,
                &self.ctx.data_dir,
                &self.ctx.config_dir,
                &self.ctx.cache_dir,
            ] {
                assert!(
                    !k.starts_with(p),
                    "{} holds {}: {g:?}",
                    p.display(),
                    k.display()
                );
            }
        }
        for x in &g.read_exec {
            for w in self.writable() {
                assert!(
                    !w.starts_with(x) && !x.starts_with(&w),
                    "{} and the writable {} overlap: {g:?}",
                    x.display(),
                    w.display()
                );
            }
        }
    }
}

/// The attacks on an interpreter granted too much, from inside the
/// sandbox, one bit each in the exit code: the keyring file read (1),
/// mcp-warden's audit log read (2), a program written into the state
/// HOME run (4), `SECRET` read (8). 64: the interpreter did not work.
const ATTACKS: &str = r#""$PY" -I -c 'import json, ssl, ctypes, socket' || exit 64
        r=0
        cat "$KEYRING" > /dev/null 2>&1 && r=$((r | 1))
        cat "$AUDIT" > /dev/null 2>&1 && r=$((r | 2))
        # cp makes the copy executable through the open file: the sandbox
        # refuses chmod by path.
        cp /bin/true "$HOME/tool" || exit 65
        "$HOME/tool" 2>/dev/null && r=$((r | 4))
        cat "$SECRET" > /dev/null 2>&1 && r=$((r | 8))
        exit $r"#;

/// [`ATTACKS`] with `g` granted (None: unconfined).
fn attack(w: &World, py: &Path, g: Option<&Grants>, secret: &Path) -> u8 {
    let p = g.map(|g| {
        let mut p = plan(&w.s, Mode::Require, false);
        p.read_exec.extend(g.read_exec.iter().cloned());
        p.read.extend(g.read.iter().cloned());
        // Without the write-xor-execute check of `prepare`, which
        // refuses the old grants outright (below).
        prepare_for(&p, Kernel::current()).unwrap()
    });
    let audit = w.ctx.data_dir.join("audit/audit.jsonl");
    let env = [
        ("PY", py.to_str().unwrap()),
        ("KEYRING", w.keyring.to_str().unwrap()),
        ("AUDIT", audit.to_str().unwrap()),
        ("SECRET", secret.to_str().unwrap()),
    ];
    run_prepared(&w.s, p, ATTACKS, &env).unwrap().code
}

/// python3 in ~/.local/bin (uv, pipx) and in ~/bin, each a symlink to
/// the real one: only the real installation is granted, and it works.
#[test]
fn python_in_the_home_gets_only_its_installation() {
    let w = world();
    let key = w.home.join(".ssh/id_ed25519");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "canary-key\n").unwrap();
    // The old grant, the directory above bin/, let through: from
    // ~/.local the keyring, the audit log and running from the state
    // HOME (all under ~/.local); from ~ everything.
    for (rel, old_leaks) in [
        (".local/bin/python3", 1 | 2 | 4),
        ("bin/python3", 1 | 2 | 4 | 8),
    ] {
        let py = w.python_at(rel);
        let g = python_grants(&w.s, &py, &w.keep_out());
        w.assert_safe(&g);
        for p in g.read_exec.iter().chain(&g.read) {
            assert!(!p.starts_with(&w.home), "{rel}: {g:?}");
        }
        assert_eq!(attack(&w, &py, Some(&g), &key), 0, "{rel}");
        let mut old = g.clone();
        old.read_exec
            .push(py.parent().unwrap().parent().unwrap().to_path_buf());
        assert_eq!(attack(&w, &py, Some(&old), &key), old_leaks, "{rel}");
        // Such a grant holds the state HOME: now refused as a whole.
        let mut p = plan(&w.s, Mode::Require, false);
        p.read_exec.extend(old.read_exec);
        let e = p.prepare().unwrap_err();
        assert!(
            matches!(e, SandboxError::WritableExecutable { .. }),
            "{e:?}"
        );
        assert_eq!(attack(&w, &py, None, &key), 1 | 2 | 4 | 8, "{rel}");
    }
}

/// A venv under HOME: its pyvenv.cfg and lib/ are read, its base
/// installation runs, and it is a venv inside the sandbox too.
#[test]
fn a_venv_in_the_home() {
    let w = world();
    let venv = w.home.join("project/.venv");
    let st = Command::new(python())
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(st.success());
    let py = venv.join("bin/python3");
    let g = python_grants(&w.s, &py, &w.keep_out());
    w.assert_safe(&g);
    assert!(g.read.contains(&venv.join("lib")), "{g:?}");
    assert!(g.read.contains(&venv.join("pyvenv.cfg")), "{g:?}");
    assert!(!g.read_exec.iter().any(|x| x.starts_with(&venv)), "{g:?}");
    let mut p = plan(&w.s, Mode::Require, false);
    p.read_exec.extend(g.read_exec.clone());
    p.read.extend(g.read.clone());
    let script = r#""$PY" -I -c 'import sys, json; sys.exit(0 if sys.prefix == sys.argv[1] else 20)' "$VENV""#;
    let env = [
        ("PY", py.to_str().unwrap()),
        ("VENV", venv.to_str().unwrap()),
    ];
    assert_eq!(run_sh(&w.s, Some(&p), script, &env), 0);
    let key = w.home.join("project/secret");
    std::fs::write(&key, "canary\n").unwrap();
    assert_eq!(attack(&w, &py, Some(&g), &key), 0);
}

/// Layouts built by hand, with the answers such a Python would give:
/// pyenv (a version, and its shim), a system Python, nvm's node.
#[test]
fn interpreter_grants_of_real_layouts() {
    let w = world();
    let (ko, wr) = (w.keep_out(), w.writable());
    let touch = |p: &Path| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    };
    let facts = |root: &Path, exe: &Path| PythonFacts {
        executable: exe.to_path_buf(),
        prefix: root.to_path_buf(),
        base_prefix: root.to_path_buf(),
        platlibdir: "lib".into(),
        stdlib: root.join("lib/python3.12"),
        platstdlib: root.join("lib/python3.12"),
        purelib: root.join("lib/python3.12/site-packages"),
        platlib: root.join("lib/python3.12/site-packages"),
        libs: vec![
            root.join("lib/libpython3.12.so.1.0"),
            root.join("lib/python3.12/lib-dynload/_json.so"),
            PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6"),
        ],
    };
    // pyenv: ~/.pyenv/versions/3.12.1, bin/python3 -> python3.12.
    let v = w.home.join(".pyenv/versions/3.12.1");
    for f in [
        "bin/python3.12",
        "lib/python3.12/os.py",
        "lib/python3.12/site-packages/x.pth",
        "lib/python3.12/lib-dynload/_json.so",
        "lib/libpython3.12.so.1.0",
    ] {
        touch(&v.join(f));
    }
    std::os::unix::fs::symlink("python3.12", v.join("bin/python3")).unwrap();
    let py = v.join("bin/python3");
    let g = interpreter_grants(&py, Some(&facts(&v, &py)), &ko, &wr).unwrap();
    assert_eq!(g.read_exec, [v.join("bin/python3.12")]);
    assert_eq!(
        g.read,
        [v.join("lib/python3.12"), v.join("lib/libpython3.12.so.1.0")]
    );
    w.assert_safe(&g);
    // Its shim: the manager's root, which runs the manager and then
    // the version.
    let shim = w.home.join(".pyenv/shims/python3");
    touch(&shim);
    let g = interpreter_grants(&shim, None, &ko, &wr).unwrap();
    assert_eq!(g.read_exec, [w.home.join(".pyenv")]);
    assert!(g.read.is_empty());
    w.assert_safe(&g);
    assert_eq!(
        shim_root(Path::new("/home/u/.pyenv/shims/python3")),
        Some(PathBuf::from("/home/u/.pyenv"))
    );
    assert_eq!(shim_root(Path::new("/usr/shims/python3")), None);
    // The system's: all under /usr, nothing to add.
    if Path::new("/usr/bin/python3").exists() {
        let g = python_grants(&w.s, Path::new("/usr/bin/python3"), &ko);
        assert_eq!(g, Grants::default());
    }
    for p in ["/usr/bin/node", "/bin/sh"] {
        assert_eq!(
            interpreter_grants(Path::new(p), None, &ko, &wr).unwrap(),
            Grants::default()
        );
    }
    // nvm's node: the binary alone.
    let node = w.home.join(".nvm/versions/node/v22.1.0/bin/node");
    touch(&node);
    let g = interpreter_grants(&node, None, &ko, &wr).unwrap();
    assert_eq!(
        g,
        Grants {
            read_exec: vec![node],
            read: vec![]
        }
    );
    // A path that does not exist is not granted.
    let g = interpreter_grants(Path::new("/opt/none/bin/tool"), None, &ko, &wr).unwrap();
    assert_eq!(g, Grants::default());
}

/// What cannot be granted safely is refused, with a hint, rather than
/// granted.
#[test]
fn unsafe_interpreter_grants_are_refused() {
    let w = world();
    let (ko, wr) = (w.keep_out(), w.writable());
    let py = w.python_at("bin/python3");
    let real = interp::python_facts(&w.s.root.join("interp-cache"), &py).unwrap();
    let keep_out = |e: SandboxError, kept: &Path| {
        match &e {
            SandboxError::InterpreterKeepOut { kept: k, .. } => assert_eq!(k, kept, "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(
            e.hint().unwrap().contains("interpreter = "),
            "{:?}",
            e.hint()
        );
    };
    // A shim whose manager root is HOME, or holds mcp-warden's data.
    for (rel, kept) in [
        ("shims/python3", w.home.clone()),
        (".local/shims/python3", w.ctx.data_dir.clone()),
    ] {
        let shim = w.home.join(rel);
        std::fs::create_dir_all(shim.parent().unwrap()).unwrap();
        std::fs::write(&shim, b"").unwrap();
        keep_out(
            interpreter_grants(&shim, None, &ko, &wr).unwrap_err(),
            &kept,
        );
    }
    // An installation that says its library is HOME, ~/.local or /,
    // or inside mcp-warden's cache.
    let inside = w.ctx.cache_dir.join("py/lib");
    std::fs::create_dir_all(&inside).unwrap();
    for (dir, kept) in [
        (w.home.clone(), w.home.clone()),
        (w.home.join(".local"), w.ctx.data_dir.clone()),
        (PathBuf::from("/"), w.home.clone()),
        (inside, w.ctx.cache_dir.clone()),
    ] {
        let f = PythonFacts {
            purelib: dir,
            ..real.clone()
        };
        keep_out(
            interpreter_grants(&py, Some(&f), &ko, &wr).unwrap_err(),
            &kept,
        );
    }
    // A binary where the server may write: in its state HOME, or under
    // a policy write-path.
    let copy = w.s.dirs.home.join("python3");
    std::fs::copy("/bin/true", &copy).unwrap();
    let e = interpreter_grants(&copy, None, &ko, &wr).unwrap_err();
    assert!(
        matches!(e, SandboxError::InterpreterWritable { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("never runs what it can write"),
        "{e}"
    );
    let tools = w.home.join("tools");
    let node = tools.join("node/bin/node");
    std::fs::create_dir_all(node.parent().unwrap()).unwrap();
    std::fs::copy("/bin/true", &node).unwrap();
    let mut wr2 = wr.clone();
    wr2.push(tools.join("node"));
    let e = interpreter_grants(&node, None, &ko, &wr2).unwrap_err();
    assert!(
        matches!(e, SandboxError::InterpreterWritable { .. }),
        "{e:?}"
    );
    assert!(e.hint().unwrap().contains("write-paths"), "{:?}", e.hint());
    assert!(interpreter_grants(&node, None, &ko, &wr).is_ok());
}

/// The plan as a whole: no writable path under or above an executable
/// one (a policy write-path inside the verified files, or holding them).
#[test]
fn writable_and_executable_never_overlap() {
    let s = setup();
    let art = s.root.join("artifact");
    std::fs::create_dir_all(art.join("out")).unwrap();
    for w in [art.join("out"), art.clone(), s.root.clone()] {
        let mut p = plan(&s, Mode::Require, false);
        p.read_exec.push(art.clone());
        p.read_write.push(w.clone());
        let e = p.prepare().unwrap_err();
        assert!(
            matches!(&e, SandboxError::WritableExecutable { write, .. } if *write == w),
            "{e:?}"
        );
        assert!(e.hint().unwrap().contains("write-paths"), "{:?}", e.hint());
        // Off confines nothing, so there is nothing to refuse.
        p.mode = Mode::Off;
        assert!(p.prepare().is_ok());
    }
    let mut p = plan(&s, Mode::Require, false);
    p.read_exec.push(art.clone());
    p.read_write.push(s.root.join("beside"));
    std::fs::create_dir_all(s.root.join("beside")).unwrap();
    assert!(p.prepare().is_ok());
}

#[test]
fn errors_report_their_codes() {
    use crate::diag::{Code, Diagnose, EXIT_DENIED, EXIT_INPUT};
    let e = SandboxError::Unavailable {
        missing: vec!["landlock".into()],
    };
    assert_eq!(
        (Diagnose::code(&e), Diagnose::exit(&e)),
        (Code::SandboxUnavailable, EXIT_DENIED)
    );
    let e = SandboxError::Seccomp("x".into());
    assert_eq!(
        (Diagnose::code(&e), Diagnose::exit(&e)),
        (Code::LaunchFailed, EXIT_INPUT)
    );
}
