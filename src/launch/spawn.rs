//! Starting and supervising the verified server over stdio.
//!
//! The server runs with exactly the environment it is given, no shell,
//! and no descriptor but 0, 1 and 2. It leads its own process group, so
//! one `kill(-pgid)` reaches it and everything it forked. Nothing of that
//! group outlives `run`:
//!
//! - normal end: when the server exits, `run` kills what is left of its
//!   group while the server is still an unreaped zombie (so the group id
//!   cannot have been reused), then reaps the whole group; as a child
//!   subreaper (Linux) `run` is the parent of every orphan of the server.
//! - `run` killed, even by SIGKILL: the server has PR_SET_PDEATHSIG(SIGKILL)
//!   (Linux), and a forked sentinel blocked on a pipe that only `run`
//!   writes to kills the whole group when that pipe closes.
//!
//! Known limit: a descendant that leaves the group (setsid/setpgid) is
//! not killed by either; it is still re-parented to `run` and reaped if it
//! exits while `run` waits. A PID namespace (the sandbox) closes that gap.
//!
//! Threads: the caller's thread waits for events; one thread pumps the
//! client's input into the server's stdin; one waits for the server's
//! exit; one forwards SIGINT/SIGTERM/SIGHUP to the group. stdout and
//! stderr are inherited (a later guard replaces them with pumps of the
//! same shape as the stdin pump).

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

/// A secret environment value (a stand-in for `crate::secrets::SecretValue`
/// until that module lands): never printed by `Debug`.
#[derive(Clone)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The value itself, for the child's environment only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// What to execute.
#[derive(Debug)]
pub enum Program {
    /// An absolute path (no PATH search, no shell).
    Path(PathBuf),
    /// The already-verified open file itself (Linux: exec'd through
    /// /proc/self/fd/N, so what runs is the inode that was hashed, even if
    /// its path was replaced since).
    File(File),
}

/// Everything needed to start the server.
#[derive(Debug)]
pub struct Launch {
    pub program: Program,
    /// argv[0] as the server sees it; the program's path by default.
    pub argv0: Option<OsString>,
    pub args: Vec<OsString>,
    /// The complete environment: the child's is cleared first.
    pub env: Vec<(OsString, OsString)>,
    /// Added to `env` (after it, so a secret wins over a plain value).
    pub secret_env: Vec<(String, SecretValue)>,
    pub cwd: PathBuf,
    /// After the client's EOF: wait this long for the server to exit,
    /// then SIGTERM its group, wait again, then SIGKILL.
    pub grace: Duration,
}

/// How the server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The server's exit code, or 128 + the signal that killed it.
    pub code: u8,
}

/// Why the server could not be started or supervised.
#[derive(Debug, Error)]
pub enum LaunchError {
    #[error("program path {} is not absolute", path.display())]
    NotAbsolute { path: PathBuf },
    #[error("program {path} not found")]
    NotFound { path: String },
    #[error("program {} exists but its interpreter or loader was not found", path)]
    InterpreterNotFound { path: String },
    #[error("program {} is not executable", path)]
    NotExecutable { path: String },
    #[error("program {} is not in an executable format for this machine", path)]
    ExecFormat { path: String },
    #[error("program {} is open for writing elsewhere (text file busy)", path)]
    Busy { path: String },
    #[error("working directory {} is not a directory", path.display())]
    Cwd { path: PathBuf },
    #[error("could not start {}: {source}", path)]
    Spawn { path: String, source: io::Error },
    #[error("could not set up supervision of the server: {what}: {source}")]
    Supervise {
        what: &'static str,
        source: io::Error,
    },
    #[error("starting servers is not yet supported on this platform")]
    Unsupported,
}

impl LaunchError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            LaunchError::NotAbsolute { .. } => {
                "resolve the program to an absolute path (no PATH search is done)"
            }
            LaunchError::NotFound { .. } => "check the server's command; re-run `mcp-warden add`",
            LaunchError::InterpreterNotFound { .. } => {
                "install the interpreter named on its `#!` line, or the dynamic loader it needs"
            }
            LaunchError::NotExecutable { .. } => {
                "make the file executable (chmod +x) or run it through its interpreter"
            }
            LaunchError::ExecFormat { .. } => {
                "the file is not a program for this OS/architecture, or is truncated; use a matching build"
            }
            LaunchError::Busy { .. } => "wait for whatever writes the file to finish, then retry",
            LaunchError::Cwd { .. } => "create the directory or fix the server's working directory",
            LaunchError::Spawn { .. } => "check the error above; re-run with -v for details",
            LaunchError::Supervise { .. } => {
                "the OS refused a process-control call; check resource limits (ulimit -u, -n)"
            }
            LaunchError::Unsupported => "run the server on Linux or macOS for now",
        }
    }
}

/// Starts the server on this process's stdin and supervises it until it
/// exits; returns its exit code.
pub fn run(launch: Launch) -> Result<Exit, LaunchError> {
    run_with_input(launch, io::stdin())
}

/// [`run`] with the client's input read from `input` instead of stdin.
/// The pump thread that reads `input` is left behind if the server exits
/// first (it ends at the input's next EOF or error).
pub fn run_with_input<R: Read + Send + 'static>(
    launch: Launch,
    input: R,
) -> Result<Exit, LaunchError> {
    imp::run(launch, input)
}

#[cfg(not(unix))]
mod imp {
    use super::*;
    pub(super) fn run<R: Read + Send + 'static>(_: Launch, _: R) -> Result<Exit, LaunchError> {
        Err(LaunchError::Unsupported)
    }
}

#[cfg(unix)]
mod imp {
    use super::*;
    use crate::launch::sys::{self, Reaped, Sentinel};
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Instant;

    /// How long `run` waits for killed group members to disappear before
    /// it gives up reaping them (a process in uninterruptible sleep).
    const REAP_LIMIT: Duration = Duration::from_secs(5);

    enum Event {
        ClientEof,
        ServerExited,
        WaitFailed(io::Error),
    }

    #[derive(Clone, Copy)]
    enum Phase {
        Term,
        Kill,
    }

    fn supervise(what: &'static str) -> impl FnOnce(io::Error) -> LaunchError {
        move |source| LaunchError::Supervise { what, source }
    }

    pub(super) fn run<R: Read + Send + 'static>(
        launch: Launch,
        input: R,
    ) -> Result<Exit, LaunchError> {
        if !launch.cwd.is_dir() {
            return Err(LaunchError::Cwd {
                path: launch.cwd.clone(),
            });
        }
        let (exe, shown, keep_fd) = match &launch.program {
            Program::Path(p) => {
                if !p.is_absolute() {
                    return Err(LaunchError::NotAbsolute { path: p.clone() });
                }
                (p.clone(), p.display().to_string(), None)
            }
            Program::File(f) => {
                let fd = f.as_raw_fd();
                let exe = fd_path(fd);
                let shown = match std::fs::read_link(&exe) {
                    Ok(target) => format!("{} (open file)", target.display()),
                    Err(_) => format!("open file (fd {fd})"),
                };
                // A `#!` script is reopened by its interpreter through
                // /proc/self/fd/N, so that fd must survive exec.
                let mut magic = [0u8; 2];
                let script = f.read_at(&mut magic, 0).ok() == Some(2) && &magic == b"#!";
                (exe, shown, script.then_some(fd))
            }
        };

        sys::set_child_subreaper().map_err(supervise("PR_SET_CHILD_SUBREAPER"))?;
        let mut sentinel = Sentinel::fork().map_err(supervise("fork of the sentinel"))?;
        // Registered before the spawn: a signal in between is queued and
        // forwarded once the group exists.
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ])
        .map_err(supervise("signal handlers"))?;

        let mut cmd = Command::new(&exe);
        cmd.arg0(launch.argv0.as_deref().unwrap_or(exe.as_os_str()))
            .args(&launch.args)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .envs(launch.secret_env.iter().map(|(k, v)| (k, v.expose())))
            .current_dir(&launch.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        sys::server_pre_exec(&mut cmd, keep_fd);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                signals.handle().close();
                let _ = sentinel.disarm();
                return Err(spawn_error(e, &launch.program, &exe, shown));
            }
        };
        // Our own process (not the Child handle) reaps the server.
        let pid = child.id() as libc::pid_t;
        let stdin = child.stdin.take();
        drop(child);
        tracing::debug!(pid, program = %shown, "server started");
        if let Err(e) = sentinel.arm(pid) {
            // Without a watchdog the guarantee is gone: fail closed.
            let _ = sys::kill_group(pid, libc::SIGKILL);
            let _ = finish(pid);
            return Err(LaunchError::Supervise {
                what: "arming the sentinel",
                source: e,
            });
        }

        let handle = signals.handle();
        let forwarder = std::thread::Builder::new()
            .name("warden-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    tracing::debug!(sig, "forwarding signal to the server");
                    let _ = sys::kill_group(pid, sig);
                }
            });

        let (tx, rx) = mpsc::channel();
        let waiter_tx = tx.clone();
        let waiter = std::thread::Builder::new()
            .name("warden-wait".into())
            .spawn(move || {
                let ev = match sys::wait_exited_nowait(pid) {
                    Ok(()) => Event::ServerExited,
                    Err(e) => Event::WaitFailed(e),
                };
                let _ = waiter_tx.send(ev);
            });
        if let Some(stdin) = stdin {
            let pump_tx = tx;
            let _ = std::thread::Builder::new()
                .name("warden-stdin".into())
                .spawn(move || {
                    pump(input, stdin);
                    let _ = pump_tx.send(Event::ClientEof);
                });
        }

        let outcome = match (&forwarder, &waiter) {
            (Ok(_), Ok(_)) => wait_events(&rx, pid, launch.grace),
            _ => Err(io::Error::other("could not start a supervision thread")),
        };
        // Whatever happened, nothing of the group survives this point.
        let _ = sys::kill_group(pid, libc::SIGKILL);
        let status = finish(pid);
        let disarmed = sentinel.disarm();
        handle.close();
        if let Ok(t) = forwarder {
            let _ = t.join();
        }
        if let Ok(t) = waiter {
            let _ = t.join();
        }
        outcome.map_err(supervise("waiting for the server"))?;
        disarmed.map_err(supervise("stopping the sentinel"))?;
        let status = status.map_err(supervise("reaping the server"))?;
        let code = sys::exit_code(status);
        tracing::debug!(code, "server exited");
        Ok(Exit { code })
    }

    /// Blocks until the server exits, applying the EOF → SIGTERM → SIGKILL
    /// escalation after the client closes its input.
    fn wait_events(
        rx: &mpsc::Receiver<Event>,
        pgid: libc::pid_t,
        grace: Duration,
    ) -> io::Result<()> {
        let mut deadline: Option<(Instant, Phase)> = None;
        loop {
            let ev = match deadline {
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some((at, _)) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            match ev {
                Ok(Event::ServerExited) => return Ok(()),
                Ok(Event::WaitFailed(e)) => return Err(e),
                Ok(Event::ClientEof) => {
                    if deadline.is_none() {
                        tracing::debug!("client closed its input; server stdin closed");
                        deadline = Some((Instant::now() + grace, Phase::Term));
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => match deadline {
                    Some((_, Phase::Term)) => {
                        tracing::debug!("server still running after the grace period: SIGTERM");
                        sys::kill_group(pgid, libc::SIGTERM)?;
                        deadline = Some((Instant::now() + grace, Phase::Kill));
                    }
                    Some((_, Phase::Kill)) => {
                        tracing::debug!("server ignored SIGTERM: SIGKILL");
                        sys::kill_group(pgid, libc::SIGKILL)?;
                        deadline = None;
                    }
                    None => {}
                },
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the server's waiter thread ended"));
                }
            }
        }
    }

    /// Copies the client's input to the server's stdin until either side
    /// closes; dropping `to` closes the server's stdin.
    fn pump<R: Read>(mut from: R, mut to: std::process::ChildStdin) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the client's input failed; treating as EOF");
                    return;
                }
            };
            if to.write_all(&buf[..n]).is_err() {
                // The server closed its stdin; it is the server's call.
                return;
            }
        }
    }

    /// Reaps the server (returning its raw status) and every other member
    /// of its group that is our child, within [`REAP_LIMIT`].
    fn finish(pid: libc::pid_t) -> io::Result<libc::c_int> {
        let status = match sys::reap(pid, true)? {
            Reaped::Child(_, status) => status,
            _ => return Err(io::Error::from_raw_os_error(libc::ECHILD)),
        };
        let until = Instant::now() + REAP_LIMIT;
        loop {
            match sys::reap(-pid, false)? {
                Reaped::Child(..) => continue,
                Reaped::NoChild => break,
                Reaped::Running if Instant::now() >= until => {
                    tracing::warn!(
                        pgid = pid,
                        "members of the server's group did not exit after SIGKILL"
                    );
                    break;
                }
                Reaped::Running => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        Ok(status)
    }

    fn fd_path(fd: std::os::fd::RawFd) -> PathBuf {
        if cfg!(target_os = "linux") {
            PathBuf::from(format!("/proc/self/fd/{fd}"))
        } else {
            PathBuf::from(format!("/dev/fd/{fd}"))
        }
    }

    fn spawn_error(e: io::Error, program: &Program, exe: &Path, shown: String) -> LaunchError {
        let path = shown;
        match e.raw_os_error() {
            Some(libc::ENOENT) => {
                // ENOENT from execve of a file that exists means its
                // interpreter (`#!`) or ELF loader is missing.
                let exists = match program {
                    Program::Path(_) => exe.exists(),
                    Program::File(_) => true,
                };
                if exists {
                    LaunchError::InterpreterNotFound { path }
                } else {
                    LaunchError::NotFound { path }
                }
            }
            Some(libc::EACCES) | Some(libc::EPERM) => LaunchError::NotExecutable { path },
            Some(libc::ENOEXEC) => LaunchError::ExecFormat { path },
            Some(libc::ETXTBSY) => LaunchError::Busy { path },
            _ => LaunchError::Spawn { path, source: e },
        }
    }
}
