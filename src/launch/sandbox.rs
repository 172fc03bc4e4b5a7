//! The confinement of a launched server (Linux): Landlock for the
//! filesystem, TCP and scopes, a seccomp filter for dangerous calls and
//! for sockets, on top of the no_new_privs that `spawn` always sets.
//!
//! [`Plan::prepare`] does everything that allocates or can fail with a
//! message, in the parent before fork: it asks the kernel what it offers,
//! builds the Landlock ruleset (an fd) and compiles the BPF program. The
//! forked child then makes only the two final syscalls (src/launch/sys.rs),
//! right before `execve`. The `landlock` crate's `restrict_self()` is not
//! used there: in 0.4.7 its success path happens not to allocate, but
//! nothing promises that (its error path builds error values), it repeats
//! the no_new_privs prctl, and it consumes the ruleset, whose drop would
//! run in the child. The crate hands over the ruleset's fd instead
//! (`Option<OwnedFd>::from(RulesetCreated)`), and sys.rs makes the
//! `landlock_restrict_self` call on it.
//!
//! What keeps the D-Bus session bus and the keyring out of reach:
//! - no unix socket can be created at all (seccomp denies
//!   `socket(AF_UNIX, …)`; `socketpair` stays allowed for child stdio):
//!   the session bus and gnome-keyring's control socket are pathname
//!   sockets, which Landlock (ABI ≤ 7) cannot refuse a connect to;
//! - abstract unix sockets (some buses listen on one) are covered by the
//!   same denial, and by Landlock's scope at ABI ≥ 6;
//! - keyctl/add_key/request_key are denied: the kernel keyring (the
//!   secrets store's fallback) cannot be read or joined;
//! - /run/user/UID is in no Landlock rule, and `run` passes no
//!   DBUS_SESSION_BUS_ADDRESS in the server's environment.
//!
//! /proc is not readable as a whole: Landlock refuses ptrace *attach*
//! from inside a domain to a process outside it, but on Linux 6.18 it
//! lets PTRACE_MODE_READ through, so /proc/PID/environ, maps and cmdline
//! of every same-uid process (other servers and their secrets, the user's
//! shell) would be readable. The server gets its own /proc/PID (a rule
//! added in the child, where /proc/self names it) and a few system-wide
//! files ([`system_read`]).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::interp::{self, InterpError, PythonFacts, Runtime};
use crate::context::Context;

/// How much confinement `run` insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// No sandbox (no_new_privs and the clean environment still apply).
    Off,
    /// Whatever the kernel offers; the report says what was not enforced.
    #[default]
    BestEffort,
    /// Refuse to start unless Landlock's filesystem rules (ABI ≥ 3) and
    /// the seccomp filter are both enforced.
    Require,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::BestEffort => "best-effort",
            Mode::Require => "require",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the server may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Read and execute: the artifact's directory or tree, the
    /// interpreter's binary ([`interpreter_grants`]), the system
    /// directories ([`system_read_exec`]). A path that does not exist is
    /// skipped (e.g. /lib64 on aarch64). None may overlap a `read_write`
    /// path ([`Plan::prepare`] refuses).
    pub read_exec: Vec<PathBuf>,
    /// Read-only, no execute: /proc, a few /sys directories and the /etc
    /// files programs need ([`system_read`]), the interpreter's libraries
    /// ([`interpreter_grants`]), the policy's `read-paths`.
    pub read: Vec<PathBuf>,
    /// Read and write (create, remove, rename, truncate), never execute:
    /// the state directories ([`state_dirs`]) and the harmless devices
    /// ([`system_read_write`]). A path that does not exist is an error.
    pub read_write: Vec<PathBuf>,
    /// The server's own /proc/PID readable (node and python read
    /// /proc/self). Processes it starts do not get theirs.
    pub proc_self: bool,
    /// TCP and UDP sockets (AF_INET, AF_INET6) allowed.
    pub network: bool,
    pub mode: Mode,
}

impl From<crate::policy::SandboxMode> for Mode {
    fn from(m: crate::policy::SandboxMode) -> Mode {
        match m {
            crate::policy::SandboxMode::Off => Mode::Off,
            crate::policy::SandboxMode::BestEffort => Mode::BestEffort,
            crate::policy::SandboxMode::Require => Mode::Require,
        }
    }
}

/// What `run` confines one server to.
#[derive(Debug, Clone, Copy)]
pub struct Server<'a> {
    /// mcp-warden's directories: the server's state goes under the data
    /// directory, the interpreter's answers under the cache directory, and
    /// no grant for the interpreter may hold any of them.
    pub ctx: &'a Context,
    /// The user's HOME, which no grant for the interpreter may hold.
    pub home: Option<&'a Path>,
    pub name: &'a str,
    pub mode: Mode,
    pub network: bool,
    /// The verified files: the unpacked tree, or the pinned file itself.
    pub artifact: &'a Path,
    pub interpreter: Option<(&'a Path, Runtime)>,
    /// The policy's `read-paths` and `write-paths`, already absolute.
    pub read: &'a [PathBuf],
    pub write: &'a [PathBuf],
    /// `grant-arg-paths`: the existing paths among the pinned arguments,
    /// granted read and write unless one would reach what [`KeepOut`]
    /// names.
    pub arg_paths: &'a [PathBuf],
}

/// What a plan lets the server reach, as planned (the explainer resolves
/// symlinks when a denial is told): for telling a denial made by the
/// sandbox from one made by the file's own permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Granted {
    /// Read (with or without execute).
    pub read: Vec<PathBuf>,
    /// Read and write.
    pub write: Vec<PathBuf>,
}

/// The sandbox `run` puts around one server: the system paths, the
/// verified files, what the interpreter needs ([`interpreter_grants`]),
/// and the server's own state directories, which become its HOME and
/// TMPDIR.
pub fn for_server(s: &Server) -> Result<(Prepared, StateDirs, Granted), SandboxError> {
    let dirs = state_dirs(&s.ctx.data_dir, s.name)?;
    let mut plan = Plan::new(s.mode, s.network);
    for p in s.read.iter().chain(s.write) {
        if let Err(source) = std::fs::symlink_metadata(p) {
            return Err(SandboxError::Path {
                path: p.clone(),
                source,
            });
        }
    }
    plan.read.extend(s.read.iter().cloned());
    plan.read_write.extend(s.write.iter().cloned());
    let keep_out = KeepOut::new(s.ctx, s.home);
    for p in s.arg_paths {
        // Granted as it resolves now: Landlock holds the opened inode,
        // so a later rename or symlink swap moves nothing into reach.
        let Ok(real) = std::fs::canonicalize(p) else {
            continue;
        };
        if let Some(kept) = keep_out.reached_by(&real, true) {
            return Err(SandboxError::ArgPathKeepOut {
                arg: p.clone(),
                kept: kept.to_path_buf(),
            });
        }
        plan.read_write.push(real);
    }
    plan.read_exec.push(s.artifact.to_path_buf());
    plan.read_write.push(dirs.home.clone());
    plan.read_write.push(dirs.tmp.clone());
    if let Some((program, runtime)) = s.interpreter {
        // A shim's manager root is granted whole: nothing to ask.
        let facts = match runtime {
            Runtime::Python if shim_root(program).is_none() => {
                Some(interp::python_facts(&s.ctx.cache_dir, program)?)
            }
            _ => None,
        };
        let g = interpreter_grants(program, facts.as_ref(), &keep_out, &plan.read_write)?;
        plan.read_exec.extend(g.read_exec);
        plan.read.extend(g.read);
    }
    // As planned; the explainer resolves them if a denial is ever told.
    let granted = Granted {
        read: (plan.read.iter().chain(&plan.read_exec)).cloned().collect(),
        write: plan.read_write.clone(),
    };
    Ok((plan.prepare()?, dirs, granted))
}

/// What no grant made for an interpreter may reach: the user's home as a
/// whole (where the SSH and cloud keys, the keyring files and every other
/// program's data live; a version manager's tree beneath it is fine), and
/// mcp-warden's own directories (the audit log, receipts, pins, other
/// servers' state, the lock and policy), neither held by a grant nor
/// holding one.
#[derive(Debug, Clone, Default)]
pub struct KeepOut {
    pub home: Option<PathBuf>,
    pub own: Vec<PathBuf>,
}

impl KeepOut {
    pub fn new(ctx: &Context, home: Option<&Path>) -> KeepOut {
        KeepOut {
            home: home.map(resolve),
            own: [
                &ctx.data_dir,
                &ctx.config_dir,
                &ctx.cache_dir,
                &ctx.system_dir,
            ]
            .map(|d| resolve(d))
            .to_vec(),
        }
    }

    /// What granting `g` (resolved) would open that it must not: what it
    /// holds, or (`inside`) the directory of mcp-warden's it lies in.
    fn reached_by(&self, g: &Path, inside: bool) -> Option<&Path> {
        let home = self.home.as_deref().filter(|h| h.starts_with(g));
        home.or_else(|| {
            (self.own.iter())
                .find(|o| o.starts_with(g) || (inside && g.starts_with(o)))
                .map(PathBuf::as_path)
        })
    }
}

/// Paths granted for an interpreter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub read_exec: Vec<PathBuf>,
    pub read: Vec<PathBuf>,
}

/// What an interpreter needs, and no more: execute on its binary (the
/// file the path resolves to, and `sys.executable`'s when that differs,
/// e.g. behind a wrapper script); for Python, read on the standard
/// library, the site directories and the shared libraries it maps, and
/// in a venv on its pyvenv.cfg and `lib` directory. Read suffices for
/// shared objects: Landlock's execute right is checked by execve only,
/// an mmap with PROT_EXEC of a readable file is not governed by it.
/// A version manager's shim (pyenv, rbenv, nodenv, asdf:
/// `ROOT/shims/NAME`) runs the manager from ROOT, then the interpreter
/// under ROOT: ROOT is granted read and execute.
///
/// Paths under the system directories are left out (already granted).
/// Fails, rather than grant too much, when a grant would reach what
/// `keep_out` names, or when an executable grant and one of `writable`
/// (the plan's read-write paths) overlap: a server must never run what
/// it can write.
pub fn interpreter_grants(
    program: &Path,
    facts: Option<&PythonFacts>,
    keep_out: &KeepOut,
    writable: &[PathBuf],
) -> Result<Grants, SandboxError> {
    let mut exec = Vec::new();
    let mut read = Vec::new();
    if let Some(root) = shim_root(program) {
        exec.push(root);
    } else {
        exec.push(program.to_path_buf());
        if let Some(f) = facts {
            exec.push(f.executable.clone());
            read.extend([&f.stdlib, &f.platstdlib, &f.purelib, &f.platlib].map(PathBuf::from));
            read.extend(f.libs.iter().cloned());
            if let Some(venv) = f.venv() {
                read.push(venv.join("pyvenv.cfg"));
                read.push(venv.join("lib"));
                read.push(venv.join(&f.platlibdir));
            }
        }
    }
    // What does not exist is not granted (a venv without lib64, a
    // purelib never created).
    let exec: Vec<PathBuf> = exec
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let read: Vec<PathBuf> = read
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let writable: Vec<PathBuf> = writable.iter().map(|w| resolve(w)).collect();
    let kept = |inside: bool| {
        exec.iter().chain(&read).find_map(|g| {
            keep_out
                .reached_by(g, inside)
                .map(|k| SandboxError::InterpreterKeepOut {
                    program: program.to_path_buf(),
                    grant: g.clone(),
                    kept: k.to_path_buf(),
                })
        })
    };
    // The most telling refusal first: a grant above the home or
    // mcp-warden's files, then one overlapping a writable path (often
    // inside mcp-warden's data: the state directories), then any other
    // inside mcp-warden's files.
    if let Some(e) = kept(false) {
        return Err(e);
    }
    for g in &exec {
        if let Some(w) = writable
            .iter()
            .find(|w| w.starts_with(g) || g.starts_with(w))
        {
            return Err(SandboxError::InterpreterWritable {
                program: program.to_path_buf(),
                grant: g.clone(),
                write: w.clone(),
            });
        }
    }
    if let Some(e) = kept(true) {
        return Err(e);
    }
    let system: Vec<PathBuf> = system_read_exec()
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut out = Grants::default();
    for g in exec {
        let covered = system
            .iter()
            .chain(&out.read_exec)
            .any(|s| g.starts_with(s));
        if !covered {
            out.read_exec.push(g);
        }
    }
    for g in read {
        let covered = (system.iter())
            .chain(&out.read_exec)
            .chain(&out.read)
            .any(|s| g.starts_with(s));
        if !covered {
            out.read.retain(|r| !r.starts_with(&g));
            out.read.push(g);
        }
    }
    Ok(out)
}

/// The root of the version manager whose shim `program` is (as given or
/// resolved): `ROOT/shims/NAME` gives ROOT, unless ROOT is / or /usr.
pub fn shim_root(program: &Path) -> Option<PathBuf> {
    let resolved = std::fs::canonicalize(program).ok();
    std::iter::once(program)
        .chain(resolved.as_deref())
        .filter_map(|p| p.parent())
        .filter(|dir| dir.file_name().is_some_and(|n| n == "shims"))
        .filter_map(Path::parent)
        .find(|root| *root != Path::new("/") && *root != Path::new("/usr"))
        .map(Path::to_path_buf)
}

/// `p` with symlinks resolved as far as it exists (a directory not made
/// yet keeps its name under its resolved parent).
pub(crate) fn resolve(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => resolve(parent).join(name),
        _ => p.to_path_buf(),
    }
}

impl Plan {
    /// A plan with the system paths and nothing of the server's yet.
    pub fn new(mode: Mode, network: bool) -> Plan {
        Plan {
            read_exec: system_read_exec(),
            read: system_read(),
            read_write: system_read_write(),
            proc_self: true,
            network,
            mode,
        }
    }

    /// Builds the sandbox for this kernel. Under [`Mode::Require`], fails
    /// when Landlock's filesystem rules (ABI ≥ 3) or seccomp are missing.
    pub fn prepare(&self) -> Result<Prepared, SandboxError> {
        if self.mode != Mode::Off {
            self.check_write_xor_execute()?;
        }
        imp::prepare(self)
    }

    /// No path is both writable and executable: Landlock's rights on a
    /// directory apply to everything beneath it, so a writable path under
    /// an executable one (or above it) would let the server run what it
    /// wrote.
    fn check_write_xor_execute(&self) -> Result<(), SandboxError> {
        let exec: Vec<PathBuf> = self.read_exec.iter().map(|p| resolve(p)).collect();
        for w in &self.read_write {
            let rw = resolve(w);
            if let Some(x) = exec
                .iter()
                .find(|x| rw.starts_with(x) || x.starts_with(&rw))
            {
                return Err(SandboxError::WritableExecutable {
                    write: w.clone(),
                    exec: x.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Program directories: read and execute. /etc is not among them (root
/// would read /etc/shadow and the SSH host keys), only its files that
/// programs need ([`system_read`]); nor is /opt (third-party software: an
/// interpreter there comes in through [`interpreter_grants`]), nor /home, /root,
/// /run, /var, /tmp, /mnt, /media, /srv.
pub fn system_read_exec() -> Vec<PathBuf> {
    [
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    ]
    .iter()
    .map(PathBuf::from)
    .collect()
}

/// Read-only system paths: the system-wide /proc files that runtimes read
/// (CPU, memory, load, kernel limits; not /proc as a whole, see the module
/// doc, and no symlink into /proc/self, which would resolve to `run`'s own
/// entry here), the CPU and cgroup facts under /sys that runtimes size
/// themselves by, and the /etc files that the dynamic loader, name
/// resolution, TLS and time zones use.
pub fn system_read() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = [
        "/proc/cpuinfo",
        "/proc/meminfo",
        "/proc/stat",
        "/proc/loadavg",
        "/proc/uptime",
        "/proc/version",
        "/proc/filesystems",
        "/proc/sys",
        "/sys/devices/system/cpu",
        "/sys/fs/cgroup",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    for f in [
        "ld.so.cache",
        "ld.so.conf",
        "ld.so.conf.d",
        "nsswitch.conf",
        "passwd",
        "group",
        "hosts",
        "host.conf",
        "resolv.conf",
        "gai.conf",
        "services",
        "protocols",
        "localtime",
        "timezone",
        // The certificate bundles and OpenSSL's configuration only, not
        // /etc/ssl or /etc/pki whole: their private/ holds host keys.
        "ssl/certs",
        "ssl/openssl.cnf",
        "ca-certificates",
        "ca-certificates.conf",
        "pki/tls/certs",
        "pki/tls/cert.pem",
        "pki/tls/openssl.cnf",
        "pki/ca-trust/extracted",
        "crypto-policies",
        "mime.types",
        "os-release",
        "alternatives",
        "locale.alias",
        "locale.conf",
        "default/locale",
    ] {
        v.push(Path::new("/etc").join(f));
    }
    v
}

/// Devices a program may open for reading and writing. Not /dev/tty or
/// /dev/pts (a server has no terminal), not /dev/shm (shared with other
/// processes).
pub fn system_read_write() -> Vec<PathBuf> {
    [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
    ]
    .iter()
    .map(PathBuf::from)
    .collect()
}

/// A server's private directories: its HOME and its TMPDIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDirs {
    pub home: PathBuf,
    pub tmp: PathBuf,
}

/// Creates (if needed) `DATA/state/DIR/{home,tmp}`, mode 0700, and
/// checks that each is a real directory (not a symlink) owned by us.
/// DIR is the server name as one file-name component
/// ([`crate::names::server_dir_name`]: `io.github.acme/srv` is
/// `io.github.acme+srv`).
pub fn state_dirs(data_dir: &Path, server: &str) -> Result<StateDirs, SandboxError> {
    let Some(dir) = crate::names::server_dir_name(server) else {
        return Err(SandboxError::ServerName {
            name: crate::text::quoted(server, 140),
        });
    };
    let base = data_dir.join("state").join(dir);
    let dirs = StateDirs {
        home: base.join("home"),
        tmp: base.join("tmp"),
    };
    for d in [&base, &dirs.home, &dirs.tmp] {
        make_private_dir(d)?;
    }
    Ok(dirs)
}

fn make_private_dir(path: &Path) -> Result<(), SandboxError> {
    let err = |source| SandboxError::StateDir {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(err)?;
        let meta = std::fs::symlink_metadata(path).map_err(err)?;
        if !meta.is_dir() {
            return Err(err(std::io::Error::other("not a directory (a symlink?)")));
        }
        // /proc/self belongs to our effective uid (geteuid itself would
        // need `unsafe` outside sys.rs); without /proc, no check.
        let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        if me.is_some_and(|uid| uid != meta.uid()) {
            return Err(err(std::io::Error::other("owned by another user")));
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(path).map_err(err)?;
        if !std::fs::symlink_metadata(path).map_err(err)?.is_dir() {
            return Err(err(std::io::Error::other("not a directory")));
        }
    }
    Ok(())
}

/// What was enforced, for `run`'s start line and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxReport {
    pub mode: Mode,
    /// The Landlock ABI used (0: none).
    pub landlock_abi: u8,
    /// Parts of Landlock enforced: "filesystem", "tcp", "scopes".
    pub landlock: Vec<&'static str>,
    /// Number of system calls the seccomp filter denies outright (0: no
    /// filter).
    pub seccomp_denied: usize,
    /// Socket families denied: "unix", and "inet" with network off.
    pub sockets_denied: Vec<&'static str>,
    /// Every capability is dropped before exec (all but `off`).
    pub capabilities_dropped: bool,
    pub network: bool,
    /// What the plan asked for and this kernel or OS could not enforce.
    pub not_enforced: Vec<String>,
}

impl SandboxReport {
    /// One line, e.g. "landlock ABI 7: filesystem, tcp, scopes; seccomp:
    /// 35 calls denied, unix sockets denied; network off".
    pub fn summary(&self) -> String {
        if self.mode == Mode::Off {
            return "sandbox off".to_string();
        }
        let mut parts = Vec::new();
        if self.landlock_abi == 0 {
            parts.push("landlock: not enforced".to_string());
        } else {
            parts.push(format!(
                "landlock ABI {}: {}",
                self.landlock_abi,
                self.landlock.join(", ")
            ));
        }
        if self.seccomp_denied == 0 {
            parts.push("seccomp: not enforced".to_string());
        } else {
            let socks = if self.sockets_denied.is_empty() {
                String::new()
            } else {
                format!(", {} sockets denied", self.sockets_denied.join("/"))
            };
            parts.push(format!(
                "seccomp: {} calls denied{socks}",
                self.seccomp_denied
            ));
        }
        if self.capabilities_dropped {
            parts.push("no capabilities".to_string());
        }
        // `on` restricts nothing but the socket kinds above: no egress
        // allowlist yet.
        parts.push(format!(
            "network {}",
            if self.network {
                "on (unrestricted)"
            } else {
                "off"
            }
        ));
        let mut s = parts.join("; ");
        if !self.not_enforced.is_empty() {
            s.push_str(&format!(
                " (not enforced: {})",
                self.not_enforced.join("; ")
            ));
        }
        s
    }

    fn unenforced(mode: Mode, network: bool, why: &str) -> SandboxReport {
        SandboxReport {
            mode,
            landlock_abi: 0,
            landlock: vec![],
            seccomp_denied: 0,
            sockets_denied: vec![],
            capabilities_dropped: false,
            network,
            not_enforced: vec![why.to_string()],
        }
    }
}

/// A sandbox ready to be applied between fork and exec: put it in
/// [`crate::launch::Launch::sandbox`].
pub struct Prepared {
    report: SandboxReport,
    #[cfg(unix)]
    exec: super::sys::SandboxExec,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    pub fn report(&self) -> &SandboxReport {
        &self.report
    }

    #[cfg(unix)]
    pub(crate) fn into_exec(self) -> super::sys::SandboxExec {
        self.exec
    }
}

/// Why the sandbox could not be prepared.
#[derive(Debug, Error)]
pub enum SandboxError {
    #[error("the sandbox is required but cannot be enforced here: {}", missing.join("; "))]
    Unavailable { missing: Vec<String> },
    #[error("building the Landlock ruleset failed: {0}")]
    Landlock(String),
    #[error("sandbox path {}: {source}", path.display())]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("compiling the seccomp filter failed: {0}")]
    Seccomp(String),
    #[error("state directory {}: {source}", path.display())]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{name}` is not a usable server name for a state directory")]
    ServerName { name: String },
    #[error(
        "the interpreter {} cannot be confined safely: it needs {}, which would open {} to the server",
        program.display(), grant.display(), kept.display()
    )]
    InterpreterKeepOut {
        program: PathBuf,
        grant: PathBuf,
        kept: PathBuf,
    },
    #[error(
        "the interpreter {} cannot be confined safely: it runs from {}, which overlaps the writable {} (a server never runs what it can write)",
        program.display(), grant.display(), write.display()
    )]
    InterpreterWritable {
        program: PathBuf,
        grant: PathBuf,
        write: PathBuf,
    },
    #[error(transparent)]
    Interpreter(#[from] InterpError),
    #[error(
        "the server could run what it writes: the writable {} overlaps {}, which it may execute",
        write.display(), exec.display()
    )]
    WritableExecutable { write: PathBuf, exec: PathBuf },
    #[error(
        "the pinned argument {} cannot be granted to the server: it would open {} (grant-arg-paths)",
        arg.display(), kept.display()
    )]
    ArgPathKeepOut { arg: PathBuf, kept: PathBuf },
}

impl crate::diag::Diagnose for SandboxError {
    fn code(&self) -> crate::diag::Code {
        match self {
            SandboxError::Unavailable { .. } => crate::diag::Code::SandboxUnavailable,
            _ => crate::diag::Code::LaunchFailed,
        }
    }

    fn hint(&self) -> Option<String> {
        let hint: &'static str = match self {
            SandboxError::Unavailable { .. } => {
                "set `sandbox = \"best-effort\"` for this server, or run on a kernel with Landlock ABI >= 3 (Linux 6.2+) and seccomp enabled"
            }
            SandboxError::Landlock(_) | SandboxError::Seccomp(_) => {
                "report this as a bug; meanwhile `sandbox = \"off\"` runs the server unconfined"
            }
            SandboxError::Path { .. } => {
                "create the path, or remove it from the policy's [servers.run] read-paths or write-paths"
            }
            SandboxError::StateDir { .. } => {
                "check the permissions of mcp-warden's data directory (--home)"
            }
            SandboxError::ServerName { .. } => crate::names::SERVER_NAME_RULE,
            SandboxError::InterpreterKeepOut { .. } => {
                "use an interpreter whose installation is neither your whole home directory nor mixed with mcp-warden's files (the system's /usr/bin/python3, or a version manager's ~/.pyenv/versions/X/bin/python3) and name it in the policy: [servers.run] interpreter = \"/path/to/it\""
            }
            SandboxError::InterpreterWritable { .. } => {
                "take the interpreter's directory out of the policy's write-paths, or name an interpreter installed elsewhere: [servers.run] interpreter = \"/path/to/it\""
            }
            SandboxError::Interpreter(_) => {
                "check that the interpreter runs (`python3 -I -c pass`), or name another in the policy: [servers.run] interpreter = \"/usr/bin/python3\""
            }
            SandboxError::ArgPathKeepOut { .. } => {
                "pin a narrower path (a project directory, not your home directory or /, nor anything holding mcp-warden's own files), or set grant-arg-paths = false and name the paths in read-paths or write-paths"
            }
            SandboxError::WritableExecutable { .. } => {
                "take the path out of the policy's write-paths (a server may not write where it may execute: its verified files, its interpreter, /usr, /bin, /lib), or move mcp-warden's home (--home) out of those"
            }
        };
        Some(hint.to_string())
    }

    /// A required sandbox that cannot be enforced is a refusal, not bad input.
    fn exit(&self) -> u8 {
        match self {
            SandboxError::Unavailable { .. } => crate::diag::EXIT_DENIED,
            _ => crate::diag::EXIT_INPUT,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    pub(super) fn prepare(plan: &Plan) -> Result<Prepared, SandboxError> {
        if plan.mode == Mode::Off {
            return Ok(off(plan));
        }
        let why = "sandbox: not enforced on this OS";
        if plan.mode == Mode::Require {
            return Err(SandboxError::Unavailable {
                missing: vec![why.to_string()],
            });
        }
        Ok(Prepared {
            report: SandboxReport::unenforced(plan.mode, plan.network, why),
            #[cfg(unix)]
            exec: Default::default(),
        })
    }

    fn off(plan: &Plan) -> Prepared {
        Prepared {
            report: SandboxReport {
                not_enforced: vec![],
                ..SandboxReport::unenforced(Mode::Off, plan.network, "")
            },
            #[cfg(unix)]
            exec: Default::default(),
        }
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use crate::launch::sys::{self, SandboxExec};
    use landlock::{
        ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd,
        Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
    };
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    use std::collections::BTreeMap;
    use std::os::fd::OwnedFd;

    /// What the kernel offers; [`prepare`] asks it, tests substitute a
    /// weaker kernel than this machine's to exercise `Require`'s refusal
    /// (a test double: a kernel without Landlock cannot be had here).
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Kernel {
        pub(crate) landlock_abi: i32,
        pub(crate) seccomp: bool,
    }

    impl Kernel {
        pub(crate) fn current() -> Kernel {
            Kernel {
                landlock_abi: sys::landlock_abi(),
                seccomp: sys::seccomp_errno_available(),
            }
        }
    }

    /// The least Landlock ABI that `Require` accepts: ABI 3 adds the
    /// truncate right, without which files outside the writable paths
    /// could still be truncated.
    const REQUIRED_ABI: i32 = 3;

    pub(super) fn prepare(plan: &Plan) -> Result<Prepared, SandboxError> {
        prepare_for(plan, Kernel::current())
    }

    pub(crate) fn prepare_for(plan: &Plan, kernel: Kernel) -> Result<Prepared, SandboxError> {
        if plan.mode == Mode::Off {
            return Ok(Prepared {
                report: SandboxReport {
                    not_enforced: vec![],
                    ..SandboxReport::unenforced(Mode::Off, plan.network, "")
                },
                exec: SandboxExec::default(),
            });
        }
        let mut report = SandboxReport {
            mode: plan.mode,
            landlock_abi: 0,
            landlock: vec![],
            seccomp_denied: 0,
            sockets_denied: vec![],
            capabilities_dropped: true,
            network: plan.network,
            not_enforced: vec![],
        };
        let mut missing = Vec::new();
        if kernel.landlock_abi < 1 {
            missing.push("Landlock (not built into this kernel or disabled at boot)".to_string());
        } else if kernel.landlock_abi < REQUIRED_ABI {
            missing.push(format!(
                "Landlock ABI {} lacks the truncate right (ABI 3, Linux 6.2)",
                kernel.landlock_abi
            ));
        }
        if !kernel.seccomp {
            missing.push("seccomp filters (not built into this kernel)".to_string());
        }
        if plan.mode == Mode::Require && !missing.is_empty() {
            return Err(SandboxError::Unavailable { missing });
        }
        report.not_enforced.extend(missing);

        let (ruleset, proc_self_access) = if kernel.landlock_abi >= 1 {
            let (fd, access) = landlock_ruleset(plan, kernel, &mut report)?;
            (Some(fd), access)
        } else {
            (None, 0)
        };
        let filter = if kernel.seccomp {
            Some(seccomp_filter(plan, &mut report)?)
        } else {
            None
        };
        // What neither mechanism covers on this kernel.
        if !plan.network && kernel.landlock_abi < 4 && !kernel.seccomp {
            report
                .not_enforced
                .push("network off (no Landlock TCP rules, no seccomp)".to_string());
        }
        if kernel.landlock_abi >= 1 && kernel.landlock_abi < 5 {
            report
                .not_enforced
                .push("ioctl on devices (Landlock ABI 5)".to_string());
        }
        if kernel.landlock_abi >= 1 && kernel.landlock_abi < 6 {
            report
                .not_enforced
                .push("signals to processes outside the sandbox (Landlock ABI 6)".to_string());
        }
        if kernel.landlock_abi >= 1 && kernel.landlock_abi < 6 && !kernel.seccomp {
            report
                .not_enforced
                .push("abstract unix sockets (Landlock ABI 6 or seccomp)".to_string());
        }
        if !kernel.seccomp {
            report.not_enforced.push(
                "unix sockets, ptrace and keyctl (the D-Bus session bus and the keyring stay reachable)"
                    .to_string(),
            );
        }
        Ok(Prepared {
            report,
            exec: SandboxExec {
                ruleset,
                proc_self_access,
                filter: filter.map(Vec::into_boxed_slice),
                drop_caps: true,
            },
        })
    }

    fn ll(e: impl fmt::Display) -> SandboxError {
        SandboxError::Landlock(e.to_string())
    }

    fn landlock_ruleset(
        plan: &Plan,
        kernel: Kernel,
        report: &mut SandboxReport,
    ) -> Result<(OwnedFd, u64), SandboxError> {
        let abi = ABI::from(kernel.landlock_abi);
        let all = AccessFs::from_all(abi);
        let read_exec = AccessFs::from_read(abi);
        let read = read_exec & !AccessFs::Execute;
        // Never execute in a writable place (W^X), never make device
        // nodes (root could mknod a disk there and read it raw).
        let read_write = all & !(AccessFs::Execute | AccessFs::MakeChar | AccessFs::MakeBlock);

        // Hard requirement: everything asked for below is within `abi`,
        // so a refusal is a bug to report, not a silent downgrade.
        let mut rs = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(all)
            .map_err(ll)?;
        let mut parts = vec!["filesystem"];
        if !plan.network && kernel.landlock_abi >= 4 {
            rs = rs.handle_access(AccessNet::from_all(abi)).map_err(ll)?;
            parts.push("tcp");
        }
        if kernel.landlock_abi >= 6 {
            rs = rs.scope(Scope::from_all(abi)).map_err(ll)?;
            parts.push("scopes");
        }
        let mut created = rs.create().map_err(ll)?;
        let groups: [(&[PathBuf], BitFlags<AccessFs>, bool); 3] = [
            (&plan.read_exec, read_exec, false),
            (&plan.read, read, false),
            (&plan.read_write, read_write, true),
        ];
        for (paths, access, required) in groups {
            for path in paths {
                let fd = match PathFd::new(path) {
                    Ok(fd) => fd,
                    Err(_) if !required && !path.exists() => {
                        tracing::debug!(path = %path.display(), "sandbox: no such path, skipped");
                        continue;
                    }
                    Err(e) => {
                        return Err(SandboxError::Path {
                            path: path.clone(),
                            source: std::io::Error::other(e.to_string()),
                        });
                    }
                };
                // A file takes only the rights that apply to files.
                let access = if path.is_dir() {
                    access
                } else {
                    access & AccessFs::from_file(abi)
                };
                created = created.add_rule(PathBeneath::new(fd, access)).map_err(ll)?;
            }
        }
        let fd: Option<OwnedFd> = created.into();
        let fd = fd.ok_or_else(|| ll("the kernel gave no ruleset"))?;
        report.landlock_abi = kernel.landlock_abi.clamp(0, u8::MAX.into()) as u8;
        report.landlock = parts;
        // /proc/self is the child's only after fork: sys.rs adds that rule
        // there, with these rights.
        let proc_self = if plan.proc_self { read.bits() } else { 0 };
        Ok((fd, proc_self))
    }

    /// Denied outright, with EPERM (not a kill: a server that probes gets
    /// an error it can report). Tracing and other processes' memory, the
    /// kernel keyring, mounts and namespaces, kernel modules and kexec,
    /// BPF, perf, userfaultfd, io_uring (whose ops bypass this filter's
    /// socket check), handle-based opens (bypass paths), fds and
    /// comparisons of other processes, and the host's clock, swap,
    /// accounting and reboot.
    ///
    /// And every call that changes a file's metadata by path: Landlock has
    /// no right for mode, owner, times or extended attributes, so these
    /// would reach any file the server can name, even one it cannot open
    /// (`chmod 644 ~/.ssh/id_ed25519`). Their descriptor forms (`fchmod`,
    /// `fchown`, `futimens`, `fsetxattr`) stay: they need an open file,
    /// which Landlock decides on. `mknod` too: device nodes, FIFOs and
    /// socket files are nothing a server needs.
    fn denied_calls() -> Vec<(&'static str, libc::c_long)> {
        use libc::*;
        // Not in libc yet; one number on every architecture (Linux 6.13).
        const SYS_SETXATTRAT: c_long = 463;
        const SYS_REMOVEXATTRAT: c_long = 466;
        let mut v = vec![
            ("fchmodat", SYS_fchmodat),
            ("fchmodat2", SYS_fchmodat2),
            ("fchownat", SYS_fchownat),
            ("setxattr", SYS_setxattr),
            ("lsetxattr", SYS_lsetxattr),
            ("setxattrat", SYS_SETXATTRAT),
            ("removexattr", SYS_removexattr),
            ("lremovexattr", SYS_lremovexattr),
            ("removexattrat", SYS_REMOVEXATTRAT),
            ("mknodat", SYS_mknodat),
            ("ptrace", SYS_ptrace),
            ("process_vm_readv", SYS_process_vm_readv),
            ("process_vm_writev", SYS_process_vm_writev),
            ("pidfd_getfd", SYS_pidfd_getfd),
            ("kcmp", SYS_kcmp),
            ("keyctl", SYS_keyctl),
            ("add_key", SYS_add_key),
            ("request_key", SYS_request_key),
            ("mount", SYS_mount),
            ("umount2", SYS_umount2),
            ("pivot_root", SYS_pivot_root),
            ("chroot", SYS_chroot),
            ("fsopen", SYS_fsopen),
            ("fsconfig", SYS_fsconfig),
            ("fsmount", SYS_fsmount),
            ("fspick", SYS_fspick),
            ("move_mount", SYS_move_mount),
            ("open_tree", SYS_open_tree),
            ("mount_setattr", SYS_mount_setattr),
            ("unshare", SYS_unshare),
            ("setns", SYS_setns),
            ("bpf", SYS_bpf),
            ("perf_event_open", SYS_perf_event_open),
            ("userfaultfd", SYS_userfaultfd),
            ("io_uring_setup", SYS_io_uring_setup),
            ("io_uring_enter", SYS_io_uring_enter),
            ("io_uring_register", SYS_io_uring_register),
            ("kexec_load", SYS_kexec_load),
            ("kexec_file_load", SYS_kexec_file_load),
            ("init_module", SYS_init_module),
            ("finit_module", SYS_finit_module),
            ("delete_module", SYS_delete_module),
            ("open_by_handle_at", SYS_open_by_handle_at),
            ("name_to_handle_at", SYS_name_to_handle_at),
            ("swapon", SYS_swapon),
            ("swapoff", SYS_swapoff),
            ("reboot", SYS_reboot),
            ("acct", SYS_acct),
            ("settimeofday", SYS_settimeofday),
            ("clock_settime", SYS_clock_settime),
            ("clock_adjtime", SYS_clock_adjtime),
            ("adjtimex", SYS_adjtimex),
            ("syslog", SYS_syslog),
            ("quotactl", SYS_quotactl),
        ];
        #[cfg(target_arch = "x86_64")]
        v.extend([
            ("iopl", SYS_iopl),
            ("ioperm", SYS_ioperm),
            ("uselib", SYS_uselib),
            ("chmod", SYS_chmod),
            ("chown", SYS_chown),
            ("lchown", SYS_lchown),
            ("utime", SYS_utime),
            ("utimes", SYS_utimes),
            ("futimesat", SYS_futimesat),
            ("mknod", SYS_mknod),
        ]);
        v
    }

    /// Socket ioctls that only read (SIOCGIFNAME, SIOCGIFCONF,
    /// SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFDSTADDR, SIOCGIFBRDADDR,
    /// SIOCGIFNETMASK, SIOCGIFMETRIC, SIOCGIFMTU, SIOCGIFHWADDR,
    /// SIOCGIFINDEX, SIOCGIFCOUNT, SIOCGIFTXQLEN); 0x8901..=0x8907
    /// (socket owner, out-of-band mark, receive timestamps) are below
    /// the denied range.
    const NET_IOCTL_GETTERS: [u64; 13] = [
        0x8910, 0x8912, 0x8913, 0x8915, 0x8917, 0x8919, 0x891b, 0x891d, 0x8921, 0x8927, 0x8933,
        0x8938, 0x8942,
    ];

    fn sc(e: impl fmt::Display) -> SandboxError {
        SandboxError::Seccomp(e.to_string())
    }

    fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SandboxError> {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(sc)
    }

    fn seccomp_filter(
        plan: &Plan,
        report: &mut SandboxReport,
    ) -> Result<Vec<libc::sock_filter>, SandboxError> {
        let arch = if cfg!(target_arch = "x86_64") {
            TargetArch::x86_64
        } else if cfg!(target_arch = "aarch64") {
            TargetArch::aarch64
        } else {
            return Err(sc("no seccomp filter for this CPU architecture"));
        };
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        let calls = denied_calls();
        for (_, nr) in &calls {
            // An empty rule list matches the call whatever its arguments.
            rules.insert(*nr, vec![]);
        }
        // socket(): unix sockets never (the D-Bus bus and the keyring's
        // control socket are pathname sockets that Landlock cannot keep a
        // connect from); with network on only AF_INET/AF_INET6 (no
        // netlink: root could change routes), with network off none.
        // socketpair(2) is another call and stays allowed.
        // The type (its low four bits; the rest are SOCK_NONBLOCK and
        // SOCK_CLOEXEC) too: no raw IP socket and no legacy packet socket
        // (SOCK_PACKET on AF_INET captures every frame).
        let socket_rules = if plan.network {
            let mut r = vec![
                SeccompRule::new(vec![
                    cond(0, SeccompCmpOp::Ne, libc::AF_INET as u64)?,
                    cond(0, SeccompCmpOp::Ne, libc::AF_INET6 as u64)?,
                ])
                .map_err(sc)?,
            ];
            // libc deprecates the constant; it is exactly what to refuse.
            const SOCK_PACKET: libc::c_int = 10;
            for ty in [libc::SOCK_RAW, SOCK_PACKET] {
                r.push(
                    SeccompRule::new(vec![cond(1, SeccompCmpOp::MaskedEq(0xf), ty as u64)?])
                        .map_err(sc)?,
                );
            }
            r
        } else {
            vec![]
        };
        rules.insert(libc::SYS_socket, socket_rules);
        report.sockets_denied = if plan.network {
            vec!["unix", "netlink", "raw", "packet"]
        } else {
            vec!["unix", "inet", "all other"]
        };
        // utimensat with a path (a null path is futimens, on an open file).
        rules.insert(
            libc::SYS_utimensat,
            vec![
                SeccompRule::new(vec![
                    SeccompCondition::new(1, SeccompCmpArgLen::Qword, SeccompCmpOp::Ne, 0)
                        .map_err(sc)?,
                ])
                .map_err(sc)?,
            ],
        );
        // fchmod may not add set-user-id, set-group-id or write for
        // others: root owns the system's files and may open them for
        // reading, so without this it could make /usr/bin/X setuid.
        let mut fchmod_rules = Vec::new();
        for bit in [0o4000u64, 0o2000, 0o0002] {
            fchmod_rules.push(
                SeccompRule::new(vec![cond(1, SeccompCmpOp::MaskedEq(bit), bit)?]).map_err(sc)?,
            );
        }
        rules.insert(libc::SYS_fchmod, fchmod_rules);
        // An executable memfd runs code that no path check saw (Landlock
        // does not see the memfd's internal mount): only memfds sealed
        // against execution (MFD_NOEXEC_SEAL, Linux 6.3) may be made.
        const MFD_NOEXEC_SEAL: u64 = 0x8;
        const MFD_EXEC: u64 = 0x10;
        rules.insert(
            libc::SYS_memfd_create,
            vec![
                SeccompRule::new(vec![cond(1, SeccompCmpOp::MaskedEq(MFD_NOEXEC_SEAL), 0)?])
                    .map_err(sc)?,
                SeccompRule::new(vec![cond(1, SeccompCmpOp::MaskedEq(MFD_EXEC), MFD_EXEC)?])
                    .map_err(sc)?,
            ],
        );
        // clone() with a namespace flag is unshare() by another name.
        let mut clone_rules = Vec::new();
        for flag in [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWCGROUP,
        ] {
            let flag = flag as u64;
            clone_rules.push(
                SeccompRule::new(vec![cond(0, SeccompCmpOp::MaskedEq(flag), flag)?]).map_err(sc)?,
            );
        }
        rules.insert(libc::SYS_clone, clone_rules);
        // Typing into the terminal that stderr may still be (TIOCSTI, the
        // bubblewrap escape of CVE-2017-5226), or driving its console.
        let mut ioctl_rules = Vec::new();
        for req in [libc::TIOCSTI, libc::TIOCLINUX] {
            ioctl_rules.push(SeccompRule::new(vec![cond(1, SeccompCmpOp::Eq, req)?]).map_err(sc)?);
        }
        // The socket ioctls that configure the network (routes, ARP,
        // interface addresses, flags and names, bridges, bonds, ethtool,
        // device-private ones): every request in 0x8908..=0x89ff but the
        // getters that runtimes use to list interfaces.
        let mut net = vec![
            cond(1, SeccompCmpOp::Ge, 0x8908)?,
            cond(1, SeccompCmpOp::Le, 0x89ff)?,
        ];
        for getter in NET_IOCTL_GETTERS {
            net.push(cond(1, SeccompCmpOp::Ne, getter)?);
        }
        ioctl_rules.push(SeccompRule::new(net).map_err(sc)?);
        rules.insert(libc::SYS_ioctl, ioctl_rules);

        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            arch,
        )
        .map_err(sc)?;
        let body: BpfProgram = filter.try_into().map_err(sc)?;
        let mut prog = prefix();
        prog.extend(body.into_iter().map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        }));
        if prog.len() > usize::from(u16::MAX) {
            return Err(sc("the BPF program is too long"));
        }
        report.seccomp_denied = calls.len() + 1; // + clone3
        Ok(prog)
    }

    /// Hand-written BPF run before seccompiler's program: clone3 fails with
    /// ENOSYS (its flags are behind a pointer a filter cannot read; libc
    /// then falls back to clone(), whose flags are checked), and on x86_64
    /// every x32 call (numbers with bit 30 set, which the rules above would
    /// not match) fails with EPERM.
    fn prefix() -> Vec<libc::sock_filter> {
        const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
        const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
        #[cfg(target_arch = "x86_64")]
        const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
        const RET_K: u16 = 0x06; // BPF_RET | BPF_K
        const KILL_PROCESS: u32 = 0x8000_0000;
        const RET_ERRNO: u32 = 0x0005_0000;
        #[cfg(target_arch = "x86_64")]
        const AUDIT_ARCH: u32 = 0xC000_003E;
        #[cfg(not(target_arch = "x86_64"))]
        const AUDIT_ARCH: u32 = 0xC000_00B7; // aarch64
        let i = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
        let mut p = vec![
            i(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
            i(JEQ_K, 1, 0, AUDIT_ARCH),
            i(RET_K, 0, 0, KILL_PROCESS),
            i(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        ];
        #[cfg(target_arch = "x86_64")]
        p.extend([
            i(JGE_K, 0, 1, 0x4000_0000),
            i(RET_K, 0, 0, RET_ERRNO | libc::EPERM as u32),
        ]);
        p.extend([
            i(JEQ_K, 0, 1, libc::SYS_clone3 as u32),
            i(RET_K, 0, 0, RET_ERRNO | libc::ENOSYS as u32),
        ]);
        p
    }

    #[cfg(test)]
    pub(crate) fn denied_call_names() -> Vec<&'static str> {
        denied_calls().into_iter().map(|(n, _)| n).collect()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests;
