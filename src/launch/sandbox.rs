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
}

/// The sandbox `run` puts around one server: the system paths, the
/// verified files, what the interpreter needs ([`interpreter_grants`]),
/// and the server's own state directories, which become its HOME and
/// TMPDIR.
pub fn for_server(s: &Server) -> Result<(Prepared, StateDirs), SandboxError> {
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
        let keep_out = KeepOut::new(s.ctx, s.home);
        let g = interpreter_grants(program, facts.as_ref(), &keep_out, &plan.read_write)?;
        plan.read_exec.extend(g.read_exec);
        plan.read.extend(g.read);
    }
    Ok((plan.prepare()?, dirs))
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
fn resolve(p: &Path) -> PathBuf {
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
/// ([`crate::lock::server_dir_name`]: `io.github.acme/srv` is
/// `io.github.acme+srv`).
pub fn state_dirs(data_dir: &Path, server: &str) -> Result<StateDirs, SandboxError> {
    let Some(dir) = crate::lock::server_dir_name(server) else {
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
}

impl SandboxError {
    pub fn hint(&self) -> &'static str {
        match self {
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
            SandboxError::ServerName { .. } => crate::lock::SERVER_NAME_RULE,
            SandboxError::InterpreterKeepOut { .. } => {
                "use an interpreter whose installation is neither your whole home directory nor mixed with mcp-warden's files (the system's /usr/bin/python3, or a version manager's ~/.pyenv/versions/X/bin/python3) and name it in the policy: [servers.run] interpreter = \"/path/to/it\""
            }
            SandboxError::InterpreterWritable { .. } => {
                "take the interpreter's directory out of the policy's write-paths, or name an interpreter installed elsewhere: [servers.run] interpreter = \"/path/to/it\""
            }
            SandboxError::Interpreter(_) => {
                "check that the interpreter runs (`python3 -I -c pass`), or name another in the policy: [servers.run] interpreter = \"/usr/bin/python3\""
            }
            SandboxError::WritableExecutable { .. } => {
                "take the path out of the policy's write-paths (a server may not write where it may execute: its verified files, its interpreter, /usr, /bin, /lib), or move mcp-warden's home (--home) out of those"
            }
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
mod tests {
    //! Each test runs a small `sh` script as the server, under a sandbox
    //! prepared for this machine's kernel, and proves a denial by the
    //! script's exit code; most also run the same script unconfined (the
    //! control), so that a denial for an unrelated reason cannot pass.
    use super::imp::{Kernel, prepare_for};
    use super::*;
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
            assert!(e.hint().contains("best-effort"), "{}", e.hint());
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
        assert!(!e.hint().is_empty());
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
            assert!(e.hint().contains("interpreter = "), "{}", e.hint());
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
        assert!(e.hint().contains("write-paths"), "{}", e.hint());
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
            assert!(e.hint().contains("write-paths"), "{}", e.hint());
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
}
