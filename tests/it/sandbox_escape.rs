//! What a malicious server tries beyond reading and writing files, through
//! the real `mcp-warden run`: the `probe` fixture server (pinned, driven by
//! a real MCP client) runs `python3` (the system's, /usr/bin) with one
//! attempt per call, and the test checks the outcome outside the sandbox:
//! the file's mode, owner, times and extended attributes unchanged, no
//! FIFO made, no raw or packet socket, no network configuration, no
//! capability, no executable memfd, no host key under /etc/ssl/private.
//! Each attempt also runs with `sandbox = "off"` (the control), so that a
//! test passes only because of the sandbox; where the control would
//! change the machine, it is made harmless (the same hostname, the same
//! interface flags, a route the kernel rejects for its address family).

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use serde_json::{Value, json};

use super::sandbox::{World, assert_allowed, probe, set_policy, start_line};
use super::support::mcp_client::McpSession;
use super::support::util::real_uid;

/// One attempt per run: `python3 -I -c ATTEMPT OP ARGS...` prints the
/// errno name of the refusal (`EPERM`, `EACCES`, ...) or `ok` (and for
/// `caps` the capability sets), and exits 0 either way.
const ATTEMPT: &str = r#"
import errno, fcntl, os, socket, struct, sys
op, a = sys.argv[1], sys.argv[2:]
def run(f):
    try:
        r = f()
        return "ok" if r is None else r
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def fd_of(path, flags):
    return os.open(path, flags)
def ifflags(s):
    req = struct.pack("16sH", b"lo", 0)
    flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req + b"\0" * 22)[:18])[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags) + b"\0" * 22)
def caps():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capget(hdr, data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    bounding = sum(libc.prctl(23, c, 0, 0, 0) == 1 for c in range(64))
    ambient = sum(libc.prctl(47, 1, c, 0, 0) == 1 for c in range(64))
    return "sets %x bounding %d ambient %d" % (sum(data), bounding, ambient)
ops = {
    "chmod": lambda: os.chmod(a[0], 0o644),
    "chown": lambda: os.chown(a[0], os.getuid(), os.getgid()),
    "lchown": lambda: os.lchown(a[0], os.getuid(), os.getgid()),
    "utime": lambda: os.utime(a[0], (0, 0)),
    "setxattr": lambda: os.setxattr(a[0], "user.mcp-warden-probe", b"1"),
    "removexattr": lambda: os.removexattr(a[0], "user.mcp-warden-keep"),
    "mkfifo": lambda: os.mkfifo(a[0]),
    "fchmod": lambda: os.fchmod(fd_of(a[0], os.O_RDWR), int(a[1], 8)),
    "futimens": lambda: os.utime(fd_of(a[0], os.O_RDWR), (0, 0)),
    "raw": lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close(),
    "packet": lambda: socket.socket(socket.AF_INET, 10, socket.htons(3)).close(),
    "tcp-socket": lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(),
    "ifflags": lambda: ifflags(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)),
    "route": lambda: fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x890B, b"\0" * 120),
    "caps": caps,
    "hostname": lambda: socket.sethostname(socket.gethostname()),
    "sched": lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1)),
    "memfd": lambda: os.close(os.memfd_create("probe", int(a[0], 16))),
    "listdir": lambda: ",".join(sorted(os.listdir(a[0])))[:100],
    "read": lambda: open(a[0]).read(40),
}
print(run(ops[op]))
"#;

/// The attempt's outcome: `ok`, an errno name, or what the op printed.
/// The script is read from the server's own TMPDIR (readable to it).
#[track_caller]
fn attempt(s: &McpSession, op: &str, args: &[&str]) -> String {
    let script = SCRIPT.with(|p| p.borrow().clone());
    let mut argv = vec!["/usr/bin/python3", "-I", script.as_str(), op];
    argv.extend_from_slice(args);
    let r: Value = probe(s, json!({"op": "exec", "argv": argv}));
    assert_allowed(s, &format!("python3 for {op}"), &r);
    r["detail"].as_str().unwrap_or_default().trim().to_string()
}

thread_local! {
    static SCRIPT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Writes [`ATTEMPT`] into the server's TMPDIR, for [`attempt`].
fn place_script(w: &World) {
    let tmp = w.state("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let path = tmp.join("attempt.py");
    std::fs::write(&path, ATTEMPT).unwrap();
    SCRIPT.with(|p| *p.borrow_mut() = path.to_str().unwrap().to_string());
}

#[track_caller]
fn refused(s: &McpSession, what: &str, got: &str) {
    assert!(
        got == "EPERM" || got == "EACCES",
        "{what} must be refused by the sandbox (EPERM/EACCES), got {got:?}\n{}",
        s.stderr()
    );
}

/// Mode, owner, times and extended attributes of a file, to compare
/// before and after.
fn metadata_of(p: &Path) -> (u32, u32, i64, i64, Vec<String>) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (
        m.permissions().mode(),
        m.uid(),
        m.mtime(),
        m.atime(),
        xattrs(p),
    )
}

fn xattrs(p: &Path) -> Vec<String> {
    let out = std::process::Command::new("/usr/bin/python3")
        .args([
            "-I",
            "-c",
            "import os,sys; print(','.join(sorted(os.listxattr(sys.argv[1]))))",
        ])
        .arg(p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn set_xattr(p: &Path, name: &str) {
    let st = std::process::Command::new("/usr/bin/python3")
        .args([
            "-I",
            "-c",
            "import os,sys; os.setxattr(sys.argv[1], sys.argv[2], b'1')",
        ])
        .arg(p)
        .arg(name)
        .status()
        .unwrap();
    assert!(st.success(), "set {name} on {}", p.display());
}

/// Item 1: metadata by path is refused on files the server cannot open
/// (the planted SSH key, mcp-warden's audit log) and on its own files;
/// the descriptor forms work on a file it may open, but cannot add
/// set-user-id or write for others.
#[test]
fn metadata_changes_by_path_are_refused() {
    let w = World::new();
    let key = w.key.clone();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    set_xattr(&key, "user.mcp-warden-keep");
    let audit_log = w.env.home.join("data/audit/audit.jsonl");
    let s = w.session();
    place_script(&w);
    let line = start_line(&s, "probe");
    assert!(line.contains("no capabilities"), "{line}");
    assert!(
        audit_log.exists(),
        "no audit log at {}",
        audit_log.display()
    );
    let lock = w.env.home.join("config/servers.lock");
    assert!(lock.exists(), "no lock at {}", lock.display());
    let before_key = metadata_of(&key);
    let before_log = metadata_of(&audit_log);
    let before_lock = metadata_of(&lock);
    let k = key.to_str().unwrap();
    let l = audit_log.to_str().unwrap();
    let lk = lock.to_str().unwrap();
    for op in [
        "chmod",
        "chown",
        "lchown",
        "utime",
        "setxattr",
        "removexattr",
    ] {
        refused(
            &s,
            &format!("{op} of ~/.ssh/id_ed25519"),
            &attempt(&s, op, &[k]),
        );
        refused(
            &s,
            &format!("{op} of the audit log"),
            &attempt(&s, op, &[l]),
        );
        refused(
            &s,
            &format!("{op} of servers.lock"),
            &attempt(&s, op, &[lk]),
        );
    }
    // Its own files: the same calls by path are refused, the descriptor
    // forms are not.
    let own = w.state("tmp").join("own-file");
    let o = own.to_str().unwrap();
    std::fs::write(&own, "x").unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(&s, "chmod of its own file", &attempt(&s, "chmod", &[o]));
    assert_eq!(attempt(&s, "fchmod", &[o, "600"]), "ok");
    assert_eq!(
        std::fs::metadata(&own).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    refused(&s, "fchmod u+s", &attempt(&s, "fchmod", &[o, "4755"]));
    refused(&s, "fchmod g+s", &attempt(&s, "fchmod", &[o, "2755"]));
    refused(&s, "fchmod o+w", &attempt(&s, "fchmod", &[o, "666"]));
    assert_eq!(
        std::fs::metadata(&own).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    assert_eq!(attempt(&s, "futimens", &[o]), "ok");
    assert_eq!(std::fs::metadata(&own).unwrap().mtime(), 0);
    let fifo = w.state("tmp").join("fifo");
    refused(
        &s,
        "mkfifo in its own tmp",
        &attempt(&s, "mkfifo", &[fifo.to_str().unwrap()]),
    );
    assert!(!fifo.exists());
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
    assert_eq!(metadata_of(&key), before_key, "the key's metadata changed");
    let after_log = metadata_of(&audit_log);
    assert_eq!(
        (after_log.0, after_log.1, after_log.4),
        (before_log.0, before_log.1, before_log.4),
        "the audit log's mode, owner or attributes changed"
    );
    assert_ne!(after_log.2, 0, "the audit log's mtime was set to 0");
    let after_lock = metadata_of(&lock);
    assert_eq!(
        (after_lock.0, after_lock.1, after_lock.2, after_lock.4),
        (before_lock.0, before_lock.1, before_lock.2, before_lock.4),
        "the lock's mode, owner, mtime or attributes changed"
    );
    // A later launch still works (a `chmod 000` of the log or the lock
    // would have stopped it).
    w.session().close().unwrap_or_else(|e| panic!("{e}"));

    // The control: unconfined, each call goes through.
    set_policy(&w.env, "probe", Some("sandbox = \"off\""));
    let s = w.session();
    assert_eq!(attempt(&s, "setxattr", &[k]), "ok");
    assert_eq!(attempt(&s, "removexattr", &[k]), "ok");
    assert_eq!(attempt(&s, "utime", &[k]), "ok");
    assert_eq!(attempt(&s, "chown", &[k]), "ok");
    assert_eq!(attempt(&s, "chmod", &[k]), "ok");
    assert_eq!(attempt(&s, "mkfifo", &[fifo.to_str().unwrap()]), "ok");
    assert_eq!(attempt(&s, "fchmod", &[o, "4755"]), "ok");
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
    let m = std::fs::metadata(&key).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o644);
    assert_eq!(m.mtime(), 0);
}

/// Items 3, 4 and 7 with the network on: no raw or packet socket, no
/// network configuration, no capability, no executable memfd, and of
/// /etc/ssl only the certificates.
#[test]
fn sockets_capabilities_memfd_and_host_keys() {
    let w = World::new();
    set_policy(&w.env, "probe", Some("network = true"));
    let root = real_uid() == 0;
    let s = w.session();
    place_script(&w);
    let line = start_line(&s, "probe");
    assert!(line.contains("network on (unrestricted)"), "{line}");
    assert_eq!(attempt(&s, "tcp-socket", &[]), "ok");
    refused(&s, "a raw ICMP socket", &attempt(&s, "raw", &[]));
    refused(&s, "a SOCK_PACKET socket", &attempt(&s, "packet", &[]));
    refused(&s, "SIOCSIFFLAGS on lo", &attempt(&s, "ifflags", &[]));
    refused(&s, "SIOCADDRT", &attempt(&s, "route", &[]));
    assert_eq!(
        attempt(&s, "caps", &[]),
        "sets 0 bounding 0 ambient 0",
        "the server must hold no capability (inheritable, permitted, effective, bounding, ambient)"
    );
    refused(&s, "sethostname", &attempt(&s, "hostname", &[]));
    refused(&s, "SCHED_FIFO", &attempt(&s, "sched", &[]));
    // MFD_CLOEXEC: executable by default; MFD_EXEC: asked for.
    refused(&s, "an executable memfd", &attempt(&s, "memfd", &["1"]));
    refused(&s, "a memfd with MFD_EXEC", &attempt(&s, "memfd", &["11"]));
    assert_eq!(
        attempt(&s, "memfd", &["9"]),
        "ok",
        "a memfd sealed against execution"
    );
    if Path::new("/etc/ssl/private").exists() {
        refused(
            &s,
            "listing /etc/ssl/private",
            &attempt(&s, "listdir", &["/etc/ssl/private"]),
        );
    }
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    if Path::new(bundle).exists() {
        assert!(
            attempt(&s, "read", &[bundle]).starts_with("-----BEGIN CERTIFICATE"),
            "the CA bundle must stay readable"
        );
    }
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");

    // The control. As root each succeeds unconfined (the route only
    // fails on its zeroed address family, after the capability check).
    set_policy(&w.env, "probe", Some("sandbox = \"off\"\nnetwork = true"));
    let s = w.session();
    assert_eq!(attempt(&s, "memfd", &["1"]), "ok");
    if root {
        assert_eq!(attempt(&s, "raw", &[]), "ok");
        assert_eq!(attempt(&s, "packet", &[]), "ok");
        assert_eq!(attempt(&s, "ifflags", &[]), "ok");
        assert_eq!(attempt(&s, "route", &[]), "EAFNOSUPPORT");
        assert_ne!(attempt(&s, "caps", &[]), ["0000000000000000"; 5].join(" "));
        assert_eq!(attempt(&s, "hostname", &[]), "ok");
        assert_eq!(attempt(&s, "sched", &[]), "ok");
        if Path::new("/etc/ssl/private").exists() {
            assert!(
                !["EPERM", "EACCES"]
                    .contains(&attempt(&s, "listdir", &["/etc/ssl/private"]).as_str())
            );
        }
    }
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
}
