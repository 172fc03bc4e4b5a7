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
//!   writes to kills the whole group when that pipe closes. The server's
//!   pre-exec hook tells the sentinel its group id, so the watchdog is
//!   armed before the server's first instruction. (In a PID namespace,
//!   below, the kernel does the sentinel's work.)
//!
//! A descendant that leaves the group (setsid/setpgid) is reached by
//! neither; [`Unit`] says what catches it:
//!
//! - [`Unit::Namespace`] (what `run` uses): where `run` may create one
//!   (Linux, CAP_SYS_ADMIN: root), the server gets a PID namespace of its
//!   own. The forked child is that namespace's init: it starts the server
//!   (with `CLONE_VFORK`, as posix_spawn does) and reaps orphans; when the
//!   server exits, so does the init, and the kernel kills every process
//!   left in the namespace. When `run` dies, the init dies of its
//!   parent-death signal, with the same effect; a pipe only `run` writes
//!   to tells the init whether `run` died before that signal was set. No
//!   sentinel is forked then. The server is pid 2 there, not pid 1, so
//!   its signals behave as usual. Elsewhere, as `Descendants`.
//! - [`Unit::Descendants`]: after the group, every process still left
//!   under `run` is killed: as a child subreaper `run` inherits every
//!   orphan of the server, so each survivor is a child of `run` or below
//!   one, found in /proc. Not when `run` itself is killed: a daemon that
//!   left the group then survives (re-parented to the nearest subreaper
//!   or init).
//! - [`Unit::Group`]: the group only (a process supervising several
//!   servers at once, such as the tests).
//!
//! Threads: the caller's thread waits for events; one thread pumps the
//! client's input into the server's stdin; one waits for the server's
//! exit; one forwards SIGINT/SIGTERM/SIGHUP to the group. Without a
//! guard, stdout and stderr are inherited. With one (`Launch::guard`),
//! the stdin pump is the guard's client-to-server direction, and two more
//! threads carry the server's stdout (framed, to the client) and stderr
//! (redacted, to run's stderr), and one writes what the session sends the
//! server while handling the server's messages; `run` waits for both to drain, within
//! [`OUTPUT_DRAIN`], after the server exits.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

pub use crate::launch::guard::io::Guard;
pub use crate::secrets::SecretValue;

/// How long `run` waits, after the server exited, for the guard to pass
/// on what the server wrote last (a descendant outside the group may hold
/// the pipes open).
pub const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

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
    /// The confinement applied between fork and exec (see
    /// [`crate::launch::sandbox`]); `None` runs the server unconfined.
    pub sandbox: Option<crate::launch::sandbox::Prepared>,
    /// The stdio guard between client and server; `None` (policy
    /// `guard = false`): stdout and stderr are inherited, stdin is copied.
    pub guard: Option<Guard>,
    /// The verified files, which `program` and `args` reach through
    /// `/proc/self/fd/N`: kept open at that number in the server.
    pub anchor: Option<crate::launch::anchor::Anchor>,
    /// Resource limits of the server's processes; `None` leaves `run`'s.
    pub limits: Option<crate::launch::limits::Limits>,
    /// What is killed with the server.
    pub unit: Unit,
    /// The pipe the server's interpreter waits on before it loads anything
    /// of the server ([`crate::launch::entry::Gate`]); `None`: the verdict
    /// comes before the server is started.
    pub gate: Option<GatePipe>,
}

/// A gate: its read end is kept open in the server at its number (which
/// the interpreter's gate code names); `run` writes
/// [`crate::launch::entry::GATE_OPEN`] to the other once the files are
/// judged, or kills the server.
#[derive(Debug)]
pub struct GatePipe {
    rx: std::os::fd::OwnedFd,
    tx: std::os::fd::OwnedFd,
}

impl GatePipe {
    /// A new pipe, both ends close-on-exec.
    pub fn new() -> io::Result<GatePipe> {
        let (rx, tx) = io::pipe()?;
        Ok(GatePipe {
            rx: rx.into(),
            tx: tx.into(),
        })
    }

    /// The read end's number, in `run` and in the server.
    #[cfg(unix)]
    pub fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd as _;
        self.rx.as_raw_fd()
    }
}

/// What ends with the server (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    /// Its process group.
    #[default]
    Group,
    /// Its group, then every process left under this one: only for a
    /// process that supervises this one server alone.
    Descendants,
    /// A PID namespace of its own where the OS allows, `Descendants`
    /// otherwise.
    Namespace,
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
    #[error("an argument or environment entry of the server contains a NUL byte or a bad name")]
    Invalid,
    #[error("starting servers is not yet supported on this platform")]
    Unsupported,
    /// The verdict given to [`run_admitted`] refused the start.
    #[error("the server was refused before it could load anything")]
    NotAdmitted,
    #[error("could not confine {path}: {step} failed: {source}")]
    Sandbox {
        path: String,
        step: &'static str,
        source: io::Error,
    },
}

impl crate::diag::Diagnose for LaunchError {
    fn code(&self) -> crate::diag::Code {
        crate::diag::Code::LaunchFailed
    }

    fn hint(&self) -> Option<String> {
        let hint: &'static str = match self {
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
            LaunchError::Invalid => {
                "remove NUL bytes from the arguments and environment, and '=' from variable names"
            }
            LaunchError::Unsupported => "run the server on Linux or macOS for now",
            LaunchError::NotAdmitted => "see the refusal above",
            LaunchError::Sandbox { .. } => {
                "the kernel refused the prepared sandbox; set `sandbox = \"off\"` for this server only if you accept running it unconfined"
            }
        };
        Some(hint.to_string())
    }
}

/// Starts the server on this process's stdin and supervises it until it
/// exits; returns its exit code.
pub fn run(launch: Launch) -> Result<Exit, LaunchError> {
    run_with_input(launch, io::stdin())
}

/// Why [`run_admitted`] did not run the server to its end.
#[derive(Debug)]
pub enum NotRun<E> {
    /// `admit` refused it (nothing of the server was loaded).
    Refused(E),
    Failed(LaunchError),
}

/// [`run`], once `admit` says yes. With a gate (`launch.gate`), the
/// server's interpreter starts first and `admit` decides while it does:
/// the interpreter waits at its gate, before anything of the server is
/// loaded, and is killed on a refusal. Without one, `admit` decides
/// before anything is started. The client's input reaches the server
/// only after the verdict.
pub fn run_admitted<E>(
    launch: Launch,
    admit: impl FnOnce() -> Result<(), E>,
) -> Result<Exit, NotRun<E>> {
    let mut admit = Some(admit);
    let mut refusal = None;
    let mut decide = || -> bool {
        match admit.take().map(|f| f()) {
            Some(Ok(())) => true,
            Some(Err(e)) => {
                refusal = Some(e);
                false
            }
            None => false,
        }
    };
    let outcome = imp::run(launch, io::stdin(), None, &mut decide);
    match (outcome, refusal) {
        (_, Some(e)) => Err(NotRun::Refused(e)),
        (Ok(exit), None) => Ok(exit),
        (Err(e), None) => Err(NotRun::Failed(e)),
    }
}

/// [`run`] with the client's input read from `input` instead of stdin.
/// The pump thread that reads `input` is left behind if the server exits
/// first (it ends at the input's next EOF or error).
pub fn run_with_input<R: Read + Send + 'static>(
    launch: Launch,
    input: R,
) -> Result<Exit, LaunchError> {
    imp::run(launch, input, None, &mut || true)
}

/// [`run_with_input`] with the client's side of the guard written to
/// `client_out` instead of stdout (without a guard, the server's stdout is
/// inherited and `client_out` is unused).
pub fn run_with_io<R: Read + Send + 'static>(
    launch: Launch,
    input: R,
    client_out: Box<dyn Write + Send>,
) -> Result<Exit, LaunchError> {
    imp::run(launch, input, Some(client_out), &mut || true)
}

#[cfg(not(unix))]
mod imp {
    use super::*;
    pub(super) fn run<R: Read + Send + 'static>(
        _: Launch,
        _: R,
        _: Option<Box<dyn Write + Send>>,
        _: &mut dyn FnMut() -> bool,
    ) -> Result<Exit, LaunchError> {
        Err(LaunchError::Unsupported)
    }
}

#[cfg(unix)]
mod imp {
    use super::*;
    use crate::launch::guard::io::GuardIo;
    use crate::launch::sys::{self, Reaped, Sentinel, Watch};
    use std::ffi::OsStr;
    use std::os::fd::{AsFd, AsRawFd};
    use std::os::unix::fs::FileExt;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::sync::Arc;
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
        mut launch: Launch,
        input: R,
        client_out: Option<Box<dyn Write + Send>>,
        admit: &mut dyn FnMut() -> bool,
    ) -> Result<Exit, LaunchError> {
        let gate = launch.gate.take();
        // Without a gate the verdict comes first: nothing is started.
        if gate.is_none() && !admit() {
            return Err(LaunchError::NotAdmitted);
        }
        let sandbox = launch.sandbox.take().map(|p| p.into_exec());
        let guard = launch.guard.take();
        let (out_cfg, err_cfg) = match guard {
            Some(_) => (Stdio::piped(), Stdio::piped()),
            None => (Stdio::inherit(), Stdio::inherit()),
        };
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
                let keep = launch.anchor.as_ref().map(|a| a.fd().as_raw_fd());
                (p.clone(), p.display().to_string(), keep)
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

        let argv0 = launch.argv0.as_deref().unwrap_or(exe.as_os_str());
        let env = (launch.env.iter()).map(|(k, v)| (k.as_os_str(), v.as_os_str()));
        let secrets =
            (launch.secret_env.iter()).map(|(k, v)| (OsStr::new(k), OsStr::new(v.expose())));
        let args = launch.args.iter().map(|a| a.as_os_str());
        let exec = sys::Exec::new(&exe, argv0, args, env.chain(secrets))
            .map_err(|_| LaunchError::Invalid)?;
        let mut procs = sys::ProcExec {
            rlimits: launch.limits.map(|l| l.rlimits()).unwrap_or_default(),
            ..Default::default()
        };

        sys::set_child_subreaper().map_err(supervise("PR_SET_CHILD_SUBREAPER"))?;
        // The namespace first: this thread's next child is its init. In
        // one, the kernel ends every process with the init, and a
        // lifeline covers the init's first instants; elsewhere a forked
        // sentinel watches (forked before the namespace would be made).
        let pid_ns = new_pid_ns(launch.unit, launch.limits.as_ref(), &mut procs);
        let watch = match pid_ns.is_some() {
            true => sys::Lifeline::new().map(Watch::Lifeline),
            false => Sentinel::fork().map(Watch::Sentinel),
        };
        let watch = watch.map_err(supervise("the watch over the server"))?;
        // Registered before the spawn: a signal in between is queued and
        // forwarded once the group exists.
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ])
        .map_err(supervise("signal handlers"))?;

        // std sets up stdin and the working directory; program, argv and
        // environment are the hook's own execve (see sys::Exec), so none
        // are given here (and the secrets are not copied twice).
        let mut cmd = Command::new(&exe);
        cmd.env_clear()
            .current_dir(&launch.cwd)
            .stdin(Stdio::piped())
            .stdout(out_cfg)
            .stderr(err_cfg);
        let sweep = match launch.unit {
            Unit::Group => false,
            Unit::Descendants => true,
            Unit::Namespace => !procs.pid_ns,
        };
        let keep = [keep_fd, gate.as_ref().map(GatePipe::fd)];
        sys::server_pre_exec(&mut cmd, keep, &watch, exec, sandbox, procs);
        let spawned = cmd.spawn();
        // Later children of this thread start in our namespace again.
        drop(pid_ns);
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                signals.handle().close();
                let _ = watch.disarm();
                return Err(spawn_error(e, &launch.program, &exe, shown));
            }
        };
        // Our own process (not the Child handle) reaps the server.
        let pid = child.id() as libc::pid_t;
        if let Some(GatePipe { rx, tx }) = gate {
            drop(rx);
            // The interpreter starts while the verdict is reached; it
            // loads nothing of the server before the gate opens.
            if !admit() {
                let _ = sys::kill_group(pid, libc::SIGKILL);
                drop(child);
                let _ = finish(pid);
                signals.handle().close();
                let _ = watch.disarm();
                if sweep {
                    kill_descendants();
                }
                return Err(LaunchError::NotAdmitted);
            }
            // A write that fails means the interpreter is gone already (a
            // node without `--import` says so on stderr): it is supervised
            // to its exit like any other.
            let _ = File::from(tx).write_all(&[crate::launch::entry::GATE_OPEN]);
        }
        let stdin = child.stdin.take();
        let (server_out, server_err) = (child.stdout.take(), child.stderr.take());
        drop(child);
        tracing::debug!(pid, program = %shown, "server started");
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
        // Output threads of the guard report here when drained.
        let (drained_tx, drained_rx) = mpsc::channel::<()>();
        let mut outputs = 0;
        match (stdin, guard) {
            (Some(stdin), None) => {
                let pump_tx = tx;
                let _ = std::thread::Builder::new()
                    .name("warden-stdin".into())
                    .spawn(move || {
                        pump(input, stdin);
                        let _ = pump_tx.send(Event::ClientEof);
                    });
            }
            (Some(stdin), Some(guard)) => {
                let client_out = client_out.unwrap_or_else(stdout_sink);
                let gio = Arc::new(GuardIo::new(
                    guard,
                    Box::new(stdin),
                    client_out,
                    Box::new(io::stderr()),
                ));
                let (g, pump_tx) = (gio.clone(), tx);
                let _ = std::thread::Builder::new()
                    .name("warden-stdin".into())
                    .spawn(move || {
                        g.client_to_server(input);
                        let _ = pump_tx.send(Event::ClientEof);
                    });
                {
                    let g = gio.clone();
                    let _ = std::thread::Builder::new()
                        .name("warden-to-server".into())
                        .spawn(move || g.server_writer());
                }
                if let Some(out) = server_out {
                    let (g, done) = (gio.clone(), drained_tx.clone());
                    let spawned = std::thread::Builder::new()
                        .name("warden-stdout".into())
                        .spawn(move || {
                            g.server_to_client(out);
                            let _ = done.send(());
                        });
                    outputs += usize::from(spawned.is_ok());
                }
                if let Some(err) = server_err {
                    let (g, done) = (gio, drained_tx);
                    let spawned = std::thread::Builder::new()
                        .name("warden-stderr".into())
                        .spawn(move || {
                            g.server_stderr(err);
                            let _ = done.send(());
                        });
                    outputs += usize::from(spawned.is_ok());
                }
            }
            (None, _) => {}
        }

        let outcome = match (&forwarder, &waiter) {
            (Ok(_), Ok(_)) => wait_events(&rx, pid, launch.grace),
            _ => Err(io::Error::other("could not start a supervision thread")),
        };
        // Whatever happened, nothing of the group survives this point.
        let _ = sys::kill_group(pid, libc::SIGKILL);
        let status = finish(pid);
        // Nor anything the server started outside its group. The group is
        // gone, and with it the sentinel's watch: once it is disarmed, any
        // child of ours left is the server's.
        let mut watch = Some(watch);
        let mut disarmed = Ok(());
        if sweep && let Some(s) = watch.take() {
            disarmed = s.disarm();
            kill_descendants();
        }
        // What the server wrote before it exited still reaches the client.
        let until = Instant::now() + OUTPUT_DRAIN;
        for _ in 0..outputs {
            if drained_rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
                .is_err()
            {
                tracing::warn!("the server's output pipes stayed open after it exited");
                break;
            }
        }
        if let Some(s) = watch {
            disarmed = s.disarm();
        }
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

    /// Under [`Unit::Namespace`], makes this thread's next child (the
    /// server's init) start a new PID namespace, bounded by `pid_max`
    /// where the kernel keeps it per namespace; `None` where that is not
    /// allowed (not root) or not Linux. The value undoes it when dropped.
    #[cfg(target_os = "linux")]
    fn new_pid_ns(
        unit: Unit,
        limits: Option<&crate::launch::limits::Limits>,
        procs: &mut sys::ProcExec,
    ) -> Option<sys::NewPidNs> {
        if unit != Unit::Namespace {
            return None;
        }
        let ns = match sys::new_pid_ns() {
            Ok(ns) => ns,
            Err(e) => {
                tracing::debug!(error = %e, "no PID namespace for the server; its descendants are swept at exit");
                return None;
            }
        };
        procs.pid_ns = true;
        let release = sys::kernel_release().unwrap_or_default();
        if let Some(max) = limits.and_then(|l| l.pid_max(&release)) {
            procs.pid_max = max.to_string().into_bytes();
        }
        Some(ns)
    }

    #[cfg(not(target_os = "linux"))]
    fn new_pid_ns(
        _: Unit,
        _: Option<&crate::launch::limits::Limits>,
        _: &mut sys::ProcExec,
    ) -> Option<()> {
        None
    }

    /// Kills every process below this one, until none is left or
    /// [`REAP_LIMIT`] passes, reaping our children. As a child subreaper
    /// we are the parent of every orphan of the server, so every survivor
    /// is a child of ours or below one: with no child left, nothing is (and
    /// /proc is not read); the others' ancestry is read from /proc. Each
    /// round kills all it finds at once (a process killed cannot fork
    /// again), then re-reads: a child forked meanwhile has been re-parented
    /// to us. A pid found in /proc could only be another process by the
    /// time of the kill if the kernel had allocated every other pid since:
    /// it allocates them in a cycle.
    fn kill_descendants() {
        let me = std::process::id() as libc::pid_t;
        let until = Instant::now() + REAP_LIMIT;
        loop {
            loop {
                match sys::reap(-1, false) {
                    Ok(Reaped::Child(..)) => continue,
                    Ok(Reaped::Running) => break,
                    Ok(Reaped::NoChild) | Err(_) => return,
                }
            }
            let Some(victims) = descendants(me) else {
                return;
            };
            if victims.is_empty() {
                // A child that exited after the reap above: reaped next.
                if Instant::now() >= until {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            if Instant::now() >= until {
                tracing::warn!(
                    left = victims.len(),
                    "processes the server started outside its group did not exit after SIGKILL"
                );
                return;
            }
            tracing::debug!(?victims, "killing what the server left outside its group");
            for pid in victims {
                let _ = sys::kill_pid(pid, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Every live process below `root` (zombies are not counted: they are
    /// ours to reap, or their parent's); `None` without /proc.
    fn descendants(root: libc::pid_t) -> Option<Vec<libc::pid_t>> {
        let dir = std::fs::read_dir("/proc").ok()?;
        let mut parent = std::collections::HashMap::new();
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "PID (COMM) STATE PPID ...": COMM may hold spaces and ')'.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let mut f = rest.split_whitespace();
            let (Some(state), Some(Ok(ppid))) = (f.next(), f.next().map(str::parse)) else {
                continue;
            };
            if state != "Z" && state != "X" {
                parent.insert(pid, ppid);
            }
        }
        let mut out = Vec::new();
        for &pid in parent.keys() {
            let mut p = pid;
            // Walk up; bounded against a cycle from pid reuse mid-scan.
            for _ in 0..parent.len() {
                match parent.get(&p) {
                    Some(&pp) if pp == root => {
                        out.push(pid);
                        break;
                    }
                    Some(&pp) => p = pp,
                    None => break,
                }
            }
        }
        Some(out)
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

    /// The client's side of the guard: run's stdout as a plain file (a
    /// duplicate of fd 1), since std's stdout flushes at every newline and
    /// the guard flushes itself; std's stdout if the dup fails.
    fn stdout_sink() -> Box<dyn Write + Send> {
        match io::stdout().as_fd().try_clone_to_owned() {
            Ok(fd) => Box::new(File::from(fd)),
            Err(_) => Box::new(io::stdout()),
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
        if let Some((step, source)) = e.raw_os_error().and_then(sys::sandbox_failure) {
            return LaunchError::Sandbox { path, step, source };
        }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    //! The servers here are small `sh` scripts (test servers only: `run`
    //! itself never uses a shell). Waits use deadlines, never sleeps as
    //! assertions.
    use super::*;
    use crate::launch::sys;
    use std::collections::BTreeSet;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    const DEADLINE: Duration = Duration::from_secs(20);
    const HARNESS_SCRIPT: &str = "MCP_WARDEN_SPAWN_HARNESS";
    const HARNESS_DIR: &str = "MCP_WARDEN_SPAWN_HARNESS_DIR";
    const HARNESS_UNIT: &str = "MCP_WARDEN_SPAWN_HARNESS_UNIT";

    #[test]
    fn errors_report_their_codes() {
        use crate::diag::{Code, Diagnose, EXIT_INPUT};
        let e = LaunchError::Busy { path: "/x".into() };
        assert_eq!(Diagnose::code(&e), Code::LaunchFailed);
        assert!(Diagnose::hint(&e).is_some_and(|h| h.contains("retry")));
        assert_eq!(Diagnose::exit(&e), EXIT_INPUT);
    }

    fn sh(script: &str, dir: &Path, extra: &[&str]) -> Launch {
        let mut args: Vec<OsString> = vec!["-c".into(), script.into(), "sh".into()];
        args.extend(extra.iter().map(OsString::from));
        Launch {
            program: Program::Path("/bin/sh".into()),
            argv0: None,
            args,
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            secret_env: vec![],
            cwd: dir.to_path_buf(),
            grace: Duration::from_secs(60),
            sandbox: None,
            guard: None,
            anchor: None,
            limits: None,
            unit: Unit::Group,
            gate: None,
        }
    }

    /// Client input that never ends while the returned writer lives.
    fn open_input() -> (io::PipeReader, io::PipeWriter) {
        io::pipe().expect("pipe")
    }

    /// Client input that ends (EOF) once `file` exists: lets a server get
    /// ready (e.g. install a trap) before the EOF escalation starts.
    struct EofWhen(PathBuf);
    impl Read for EofWhen {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            wait_file(&self.0);
            Ok(0)
        }
    }

    fn wait_file(path: &Path) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Ok(s) = std::fs::read_to_string(path)
                && s.ends_with('\n')
            {
                return s;
            }
            assert!(Instant::now() < until, "{} never appeared", path.display());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn read_pid(path: &Path) -> libc::pid_t {
        wait_file(path).trim().parse().expect("pid")
    }

    /// (state, pgrp) of a live or zombie process; None once it is gone.
    fn stat(pid: libc::pid_t) -> Option<(char, libc::pid_t)> {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &s[s.rfind(')')? + 2..];
        let mut f = rest.split(' ');
        let state = f.next()?.chars().next()?;
        let _ppid = f.next()?;
        Some((state, f.next()?.parse().ok()?))
    }

    /// Every process (zombies included) whose group is `pgid`.
    fn group_members(pgid: libc::pid_t) -> Vec<libc::pid_t> {
        std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&pid| stat(pid).is_some_and(|(_, g)| g == pgid))
            .collect()
    }

    /// Dead: gone, or a zombie (the test process may be a subreaper).
    fn wait_dead(pid: libc::pid_t) {
        let until = Instant::now() + DEADLINE;
        while let Some((state, _)) = stat(pid) {
            if state == 'Z' {
                let _ = sys::reap(pid, false);
                return;
            }
            assert!(Instant::now() < until, "process {pid} still alive");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the recorded processes when a test fails half-way, so that
    /// nothing it started outlives it (and holds the runner's pipes).
    #[derive(Default)]
    struct Cleanup(Vec<libc::pid_t>);
    impl Cleanup {
        fn pid(&mut self, path: &Path) -> libc::pid_t {
            let pid = read_pid(path);
            self.0.push(pid);
            pid
        }
    }
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if std::thread::panicking() {
                for &pid in &self.0 {
                    let _ = sys::kill_pid(pid, libc::SIGKILL);
                }
            }
        }
    }

    #[test]
    fn exit_code_passes_through() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _keep) = open_input();
        let exit = run_with_input(sh("exit 7", dir.path(), &[]), input).unwrap();
        assert_eq!(exit, Exit { code: 7 });
    }

    /// A shared in-memory client side for guarded runs.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Captured {
        fn lines(&self) -> Vec<String> {
            let v = self.0.lock().unwrap().clone();
            String::from_utf8(v)
                .unwrap()
                .lines()
                .map(String::from)
                .collect()
        }
    }

    fn guarded(
        script: &str,
        dir: &Path,
        session: Box<dyn crate::launch::guard::Session>,
    ) -> Launch {
        Launch {
            guard: Some(Guard {
                session,
                limits: crate::launch::guard::Limits::default(),
                redactor: std::sync::Arc::new(crate::redact::Redactor::shapes_only()),
                denials: None,
            }),
            ..sh(script, dir, &[])
        }
    }

    #[test]
    fn guard_passthrough_carries_messages_and_keeps_the_exit_code() {
        use crate::launch::guard::Passthrough;
        let dir = tempfile::tempdir().unwrap();
        // The server echoes each line, after a line of garbage of its own.
        let launch = guarded(
            "echo 'not json'; cat; exit 5",
            dir.path(),
            Box::new(Passthrough),
        );
        let input = io::Cursor::new(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}\nnope\n{\"id\":2, \"method\":\"b\"}\n".to_vec(),
        );
        let out = Captured::default();
        let exit = run_with_io(launch, input, Box::new(out.clone())).unwrap();
        assert_eq!(exit.code, 5);
        // The two directions interleave in any order; each keeps its own.
        let lines = out.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        let (errors, echoes): (Vec<&String>, Vec<&String>) =
            lines.iter().partition(|l| l.contains("\"error\""));
        assert_eq!(
            echoes,
            [
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}",
                "{\"id\":2, \"method\":\"b\"}"
            ]
        );
        let err: serde_json::Value = serde_json::from_str(errors[0]).unwrap();
        assert_eq!(err["id"], serde_json::Value::Null);
        assert_eq!(err["error"]["code"], -32700);
    }

    /// Answers `ping` itself; everything else passes.
    struct Pinger;
    impl crate::launch::guard::Session for Pinger {
        fn from_client(
            &mut self,
            raw: &[u8],
            out: &mut crate::launch::guard::Outbox,
        ) -> crate::launch::guard::Verdict {
            use crate::launch::guard::Verdict;
            let v: serde_json::Value = serde_json::from_slice(raw).unwrap_or_default();
            if v["method"] == "ping" {
                let answer = serde_json::json!({"jsonrpc": "2.0", "id": v["id"], "result": {}});
                out.to_client.push(serde_json::to_vec(&answer).unwrap());
                return Verdict::Drop;
            }
            Verdict::Pass
        }
        fn from_server(
            &mut self,
            _: &[u8],
            _: &mut crate::launch::guard::Outbox,
        ) -> crate::launch::guard::Verdict {
            crate::launch::guard::Verdict::Pass
        }
    }

    #[test]
    fn guard_session_answers_a_request_itself() {
        let dir = tempfile::tempdir().unwrap();
        // The server records what reached it.
        let launch = guarded(
            "cat > got; echo '{\"done\":1}'",
            dir.path(),
            Box::new(Pinger),
        );
        let input = io::Cursor::new(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\"}\n".to_vec(),
        );
        let out = Captured::default();
        let exit = run_with_io(launch, input, Box::new(out.clone())).unwrap();
        assert_eq!(exit.code, 0);
        assert_eq!(
            out.lines(),
            [
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
                "{\"done\":1}"
            ]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("got")).unwrap(),
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\"}\n"
        );
    }

    #[test]
    fn guarded_client_eof_then_sigterm_after_grace() {
        use crate::launch::guard::Passthrough;
        let dir = tempfile::tempdir().unwrap();
        let mut launch = guarded(
            "echo > ready; while :; do sleep 1; done",
            dir.path(),
            Box::new(Passthrough),
        );
        launch.grace = Duration::from_millis(100);
        let out = Captured::default();
        let exit = run_with_io(launch, EofWhen(dir.path().join("ready")), Box::new(out)).unwrap();
        assert_eq!(exit.code, 128 + libc::SIGTERM as u8);
    }

    #[test]
    fn killed_by_signal_is_128_plus_signal() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _keep) = open_input();
        let exit = run_with_input(sh("kill -9 $$", dir.path(), &[]), input).unwrap();
        assert_eq!(exit.code, 128 + 9);
        let (input, _keep) = open_input();
        let exit = run_with_input(sh("kill -TERM $$", dir.path(), &[]), input).unwrap();
        assert_eq!(exit.code, 128 + 15);
    }

    #[test]
    fn client_eof_closes_server_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let script = "read line; printf '%s\\n' \"$line\" > got; cat > rest; exit 3";
        let input = io::Cursor::new(b"hello\nworld\n".to_vec());
        // A grace of 60 s: had the EOF not reached the server, it would
        // end by SIGTERM (143), not by itself (3).
        let exit = run_with_input(sh(script, dir.path(), &[]), input).unwrap();
        assert_eq!(exit.code, 3);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("got")).unwrap(),
            "hello\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("rest")).unwrap(),
            "world\n"
        );
    }

    #[test]
    fn client_eof_then_sigterm_after_grace() {
        let dir = tempfile::tempdir().unwrap();
        let mut launch = sh("echo > ready; while :; do sleep 1; done", dir.path(), &[]);
        launch.grace = Duration::from_millis(100);
        let exit = run_with_input(launch, EofWhen(dir.path().join("ready"))).unwrap();
        assert_eq!(exit.code, 128 + libc::SIGTERM as u8);
    }

    #[test]
    fn server_ignoring_sigterm_gets_sigkill() {
        let dir = tempfile::tempdir().unwrap();
        let script = "trap '' TERM; echo > ready; while :; do sleep 1; done";
        let mut launch = sh(script, dir.path(), &[]);
        launch.grace = Duration::from_millis(100);
        let exit = run_with_input(launch, EofWhen(dir.path().join("ready"))).unwrap();
        assert_eq!(exit.code, 128 + libc::SIGKILL as u8);
    }

    #[test]
    fn nothing_of_the_group_survives_the_server() {
        let dir = tempfile::tempdir().unwrap();
        // A direct child, and an orphan (its parent subshell exits at once).
        let script = "sleep 60 >/dev/null 2>&1 & echo $! > child; (sleep 60 >/dev/null 2>&1 & echo $! > orphan); \
                      echo $$ > server; exit 4";
        let (input, _keep) = open_input();
        let exit = run_with_input(sh(script, dir.path(), &[]), input).unwrap();
        assert_eq!(exit.code, 4);
        let server = read_pid(&dir.path().join("server"));
        for name in ["child", "orphan"] {
            let pid = read_pid(&dir.path().join(name));
            assert_eq!(stat(pid), None, "{name} {pid} survived (or was not reaped)");
        }
        assert_eq!(group_members(server), Vec::<libc::pid_t>::new());
    }

    #[test]
    fn orphans_of_the_server_are_reparented_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let script = "(sleep 60 >/dev/null 2>&1 & echo $! > orphan); echo $$ > server; \
                      cat > /dev/null; exit 0";
        let (input, client) = open_input();
        let launch = sh(script, dir.path(), &[]);
        let runner = std::thread::spawn(move || run_with_input(launch, input));
        let mut cleanup = Cleanup::default();
        cleanup.pid(&dir.path().join("server"));
        let orphan = cleanup.pid(&dir.path().join("orphan"));
        let until = Instant::now() + DEADLINE;
        // The subshell exits at once; its child then belongs to `run`.
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{orphan}/stat")).unwrap();
            let ppid: u32 = stat[stat.rfind(')').unwrap() + 4..]
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            if ppid == std::process::id() {
                break;
            }
            assert!(Instant::now() < until, "orphan's parent is {ppid}, not run");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(client); // client EOF: cat ends, the server exits
        assert_eq!(runner.join().unwrap().unwrap().code, 0);
        assert_eq!(stat(orphan), None, "orphan survived or was not reaped");
    }

    #[test]
    fn server_cannot_gain_privileges() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("status");
        let launch = sh(
            "grep NoNewPrivs /proc/self/status > \"$1\"",
            dir.path(),
            &[out.to_str().unwrap()],
        );
        let (input, _keep) = open_input();
        assert_eq!(run_with_input(launch, input).unwrap().code, 0);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "NoNewPrivs:\t1\n");
    }

    /// Not a test on its own: the supervising process of the tests below,
    /// when re-invoked with its environment variables set.
    #[test]
    fn harness() {
        let (Some(script), Some(dir)) = (
            std::env::var_os(HARNESS_SCRIPT),
            std::env::var_os(HARNESS_DIR),
        ) else {
            return;
        };
        let mut launch = sh(script.to_str().unwrap(), Path::new(&dir), &[]);
        launch.unit = match std::env::var(HARNESS_UNIT).as_deref() {
            Ok("Descendants") => Unit::Descendants,
            Ok("Namespace") => Unit::Namespace,
            _ => Unit::Group,
        };
        let exit = run(launch).unwrap();
        std::process::exit(exit.code.into());
    }

    fn start_harness(script: &str, dir: &Path) -> std::process::Child {
        start_harness_as(script, dir, Unit::Group)
    }

    /// The harness supervises one server alone, so it may sweep its
    /// descendants (the test process runs other tests' servers).
    fn start_harness_as(script: &str, dir: &Path, unit: Unit) -> std::process::Child {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "launch::spawn::tests::harness",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HARNESS_SCRIPT, script)
            .env(HARNESS_DIR, dir)
            .env(HARNESS_UNIT, format!("{unit:?}"))
            .stdin(Stdio::piped()) // held open: no client EOF
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }

    /// Whether this process may give a server a PID namespace (root).
    fn pid_ns_allowed() -> bool {
        sys::new_pid_ns().is_ok()
    }

    /// Starts a daemon that leaves the server's group and session
    /// (setsid) and writes its pid, as the test sees it, to `daemon`: the
    /// shell's own /proc/self (a builtin `read`, no fork), then exec.
    const DAEMON: &str = "setsid sh -c 'read s < /proc/self/stat; echo \"${s%% *}\" > daemon; exec sleep 60' \
                          </dev/null >/dev/null 2>&1 & while [ ! -s daemon ]; do sleep 0.01; done; ";

    fn alive(pid: libc::pid_t) -> bool {
        stat(pid).is_some_and(|(s, _)| s != 'Z')
    }

    /// Before `Unit`, a setsid daemon outlived the server under every
    /// supervisor (as it still does under `Unit::Group`, the control).
    #[test]
    fn a_setsid_daemon_ends_with_the_server_unless_only_its_group_does() {
        for unit in [Unit::Group, Unit::Descendants, Unit::Namespace] {
            let dir = tempfile::tempdir().unwrap();
            let mut harness = start_harness_as(&format!("{DAEMON} exit 3"), dir.path(), unit);
            let mut cleanup = Cleanup::default();
            let daemon = cleanup.pid(&dir.path().join("daemon"));
            assert_eq!(harness.wait().unwrap().code(), Some(3), "{unit:?}");
            if unit == Unit::Group {
                assert!(alive(daemon), "{unit:?}: the control daemon is gone");
                sys::kill_pid(daemon, libc::SIGKILL).unwrap();
            }
            wait_dead(daemon);
        }
    }

    /// When the supervisor is killed, only a namespace takes the daemon
    /// along (the documented limit of `Descendants`).
    #[test]
    fn sigkill_of_the_supervisor_takes_a_setsid_daemon_with_a_namespace() {
        let ns = pid_ns_allowed();
        for unit in [Unit::Descendants, Unit::Namespace] {
            let dir = tempfile::tempdir().unwrap();
            let script =
                format!("{DAEMON} read s < /proc/self/stat; echo \"${{s%% *}}\" > server; wait");
            let mut harness = start_harness_as(&script, dir.path(), unit);
            let mut cleanup = Cleanup::default();
            let daemon = cleanup.pid(&dir.path().join("daemon"));
            let server = cleanup.pid(&dir.path().join("server"));
            harness.kill().unwrap(); // SIGKILL
            harness.wait().unwrap();
            wait_dead(server);
            if unit == Unit::Namespace && ns {
                wait_dead(daemon);
            } else {
                assert!(alive(daemon), "{unit:?}: the daemon is gone");
                sys::kill_pid(daemon, libc::SIGKILL).unwrap();
                wait_dead(daemon);
            }
        }
    }

    /// In a namespace of its own the server is pid 2, under an init: a
    /// signal it sends itself works as anywhere (pid 1 would ignore it),
    /// and its exit status is `run`'s.
    #[test]
    fn in_its_own_namespace_the_server_is_no_init() {
        if !pid_ns_allowed() {
            eprintln!("skipped: creating a PID namespace needs CAP_SYS_ADMIN");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut launch = sh("echo $$ > pid; kill -TERM $$", dir.path(), &[]);
        launch.unit = Unit::Namespace;
        let (input, _keep) = open_input();
        let exit = run_with_input(launch, input).unwrap();
        assert_eq!(exit.code, 128 + libc::SIGTERM as u8);
        assert_eq!(wait_file(&dir.path().join("pid")), "2\n");
        let mut launch = sh("exit 9", dir.path(), &[]);
        launch.unit = Unit::Namespace;
        let (input, _keep) = open_input();
        assert_eq!(run_with_input(launch, input).unwrap().code, 9);
    }

    #[test]
    fn resource_limits_are_set_soft_and_hard() {
        let dir = tempfile::tempdir().unwrap();
        let mut launch = sh(
            "cat /proc/self/limits > limits; head -c 3000000 /dev/zero > big",
            dir.path(),
            &[],
        );
        launch.limits = Some(crate::launch::limits::Limits {
            processes: 100,
            memory_mib: 64,
            file_size_mib: 2,
            open_files: 50,
        });
        let (input, _keep) = open_input();
        run_with_input(launch, input).unwrap();
        let limits = std::fs::read_to_string(dir.path().join("limits")).unwrap();
        let row = |name: &str| -> Vec<String> {
            let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
            line[name.len()..]
                .split_whitespace()
                .take(2)
                .map(String::from)
                .collect()
        };
        assert_eq!(row("Max open files"), ["50", "50"]);
        assert_eq!(row("Max file size"), ["2097152", "2097152"]);
        assert_eq!(row("Max data size"), ["67108864", "67108864"]);
        let nproc: Vec<u64> = (row("Max processes").iter())
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(nproc[0], nproc[1]);
        // Root is not bound by it; anyone else has its tasks added.
        match sys::real_uid() {
            0 => assert_eq!(nproc[0], 100),
            _ => assert!(nproc[0] > 100, "{nproc:?}"),
        }
        let big = std::fs::metadata(dir.path().join("big")).unwrap().len();
        assert_eq!(big, 2 << 20);
    }

    #[test]
    fn sigkill_of_the_supervisor_kills_server_and_children() {
        let dir = tempfile::tempdir().unwrap();
        let script = "sleep 60 >/dev/null 2>&1 & echo $! > child; (sleep 60 >/dev/null 2>&1 & echo $! > orphan); \
                      echo $$ > server; wait";
        let mut harness = start_harness(script, dir.path());
        let mut cleanup = Cleanup::default();
        let server = cleanup.pid(&dir.path().join("server"));
        let child = cleanup.pid(&dir.path().join("child"));
        let orphan = cleanup.pid(&dir.path().join("orphan"));
        assert!(
            stat(child).is_some_and(|(s, _)| s != 'Z'),
            "child not running"
        );
        harness.kill().unwrap(); // SIGKILL
        harness.wait().unwrap();
        for pid in [server, child, orphan] {
            wait_dead(pid);
        }
        let until = Instant::now() + DEADLINE;
        while !group_members(server)
            .iter()
            .all(|&p| stat(p).is_none_or(|(s, _)| s == 'Z'))
        {
            assert!(
                Instant::now() < until,
                "group {server} still has live members"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn sigterm_to_the_supervisor_is_forwarded() {
        let dir = tempfile::tempdir().unwrap();
        let script = "trap 'echo term > got; exit 42' TERM; echo $$ > server; \
                      while :; do sleep 1; done";
        let mut harness = start_harness(script, dir.path());
        let mut cleanup = Cleanup::default();
        cleanup.pid(&dir.path().join("server"));
        sys::kill_pid(harness.id() as libc::pid_t, libc::SIGTERM).unwrap();
        let status = harness.wait().unwrap();
        assert_eq!(status.code(), Some(42));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("got")).unwrap(),
            "term\n"
        );
    }

    #[test]
    fn server_inherits_no_descriptor_but_stdio() {
        let dir = tempfile::tempdir().unwrap();
        let canary_path = dir.path().join("fd-canary");
        let canary = File::create(&canary_path).unwrap();
        sys::set_inheritable(&canary, true).unwrap();
        let script = "exec ls -l /proc/self/fd > \"$1\"";
        // Control: a plain spawn does pass the planted fd on.
        let out = dir.path().join("plain");
        let st = Command::new("/bin/sh")
            .args(["-c", script, "sh"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success());
        assert!(std::fs::read_to_string(&out).unwrap().contains("fd-canary"));

        let out = dir.path().join("run");
        let (input, _keep) = open_input();
        let launch = sh(script, dir.path(), &[out.to_str().unwrap()]);
        assert_eq!(run_with_input(launch, input).unwrap().code, 0);
        let listing = std::fs::read_to_string(&out).unwrap();
        assert!(!listing.contains("fd-canary"), "{listing}");
        // 0, 1, 2 and the directory ls itself opened; nothing else.
        let fds: Vec<&str> = listing.lines().filter(|l| l.contains(" -> ")).collect();
        assert!(fds.len() <= 4, "{listing}");
        drop(canary);
    }

    #[test]
    fn environment_is_exactly_the_given_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let mut launch = sh(
            "cat /proc/$$/environ > \"$1\"",
            dir.path(),
            &[out.to_str().unwrap()],
        );
        launch.env.push(("PLAIN".into(), "1".into()));
        launch.env.push(("TOKEN".into(), "plain-value".into()));
        launch.secret_env.push((
            "TOKEN".into(),
            SecretValue::new("canary-s3cret".to_string()),
        ));
        assert!(!format!("{launch:?}").contains("canary-s3cret"));
        let (input, _keep) = open_input();
        assert_eq!(run_with_input(launch, input).unwrap().code, 0);
        let raw = std::fs::read(&out).unwrap();
        let got: BTreeSet<&[u8]> = raw.split(|&b| b == 0).filter(|s| !s.is_empty()).collect();
        let want: BTreeSet<&[u8]> = [
            &b"PATH=/usr/bin:/bin"[..],
            b"PLAIN=1",
            b"TOKEN=canary-s3cret",
        ]
        .into();
        assert_eq!(got, want);
    }

    /// Runs `launch()` until the exec is not refused with ETXTBSY (another
    /// test thread's fork may briefly hold a writable fd of a fresh copy).
    fn run_retrying(launch: impl Fn() -> Launch) -> Result<Exit, LaunchError> {
        let until = Instant::now() + DEADLINE;
        loop {
            let (input, _keep) = open_input();
            match run_with_input(launch(), input) {
                Err(LaunchError::Busy { .. }) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                r => return r,
            }
        }
    }

    fn executable(path: &Path, bytes: &[u8], mode: u32) {
        std::fs::write(path, bytes).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn program_file_runs_the_opened_inode() {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("prog");
        executable(&prog, &std::fs::read("/bin/cp").unwrap(), 0o755);
        let file = File::open(&prog).unwrap();
        // Replace the path: what runs must still be the opened copy of cp.
        std::fs::remove_file(&prog).unwrap();
        executable(&prog, b"#!/bin/sh\nexit 99\n", 0o755);
        std::fs::write(dir.path().join("src"), b"payload").unwrap();
        let exit = run_retrying(|| Launch {
            program: Program::File(file.try_clone().unwrap()),
            argv0: Some("cp".into()),
            args: vec!["src".into(), "dst".into()],
            env: vec![],
            secret_env: vec![],
            cwd: dir.path().to_path_buf(),
            grace: Duration::from_secs(60),
            sandbox: None,
            guard: None,
            anchor: None,
            limits: None,
            unit: Unit::Group,
            gate: None,
        })
        .unwrap();
        assert_eq!(exit.code, 0);
        assert_eq!(std::fs::read(dir.path().join("dst")).unwrap(), b"payload");
    }

    #[test]
    fn program_file_script_runs_through_its_fd() {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("server.sh");
        executable(&prog, b"#!/bin/sh\nexit 5\n", 0o755);
        let file = File::open(&prog).unwrap();
        std::fs::remove_file(&prog).unwrap();
        let exit = run_retrying(|| Launch {
            program: Program::File(file.try_clone().unwrap()),
            ..sh("", dir.path(), &[])
        })
        .unwrap();
        assert_eq!(exit.code, 5);
    }

    /// The init of a namespace starts nothing once `run` is gone (here:
    /// its lifeline cut before the spawn); with the lifeline whole, the
    /// same start runs.
    #[test]
    fn an_init_whose_supervisor_died_starts_no_server() {
        if !pid_ns_allowed() {
            eprintln!("skipped: creating a PID namespace needs CAP_SYS_ADMIN");
            return;
        }
        for cut in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut lifeline = sys::Lifeline::new().unwrap();
            if cut {
                lifeline.cut();
            }
            let watch = sys::Watch::Lifeline(lifeline);
            let exec = sys::Exec::new(
                Path::new("/bin/sh"),
                std::ffi::OsStr::new("sh"),
                ["-c", "echo started > started"].map(std::ffi::OsStr::new),
                [],
            )
            .unwrap();
            let procs = sys::ProcExec {
                pid_ns: true,
                ..Default::default()
            };
            let mut cmd = Command::new("/bin/sh");
            cmd.current_dir(dir.path()).stdin(Stdio::null());
            let ns = sys::new_pid_ns().unwrap();
            sys::server_pre_exec(&mut cmd, [None, None], &watch, exec, None, procs);
            let spawned = cmd.spawn();
            drop(ns);
            let started = dir.path().join("started");
            match cut {
                true => {
                    let e = spawned.unwrap_err();
                    assert_eq!(e.raw_os_error(), Some(libc::ESRCH), "{e}");
                    std::thread::sleep(Duration::from_millis(100));
                    assert!(!started.exists(), "the server ran");
                }
                false => {
                    assert!(spawned.unwrap().wait().unwrap().success());
                    assert_eq!(wait_file(&started), "started\n");
                }
            }
        }
    }

    #[test]
    fn start_errors_name_the_file() {
        for unit in [Unit::Group, Unit::Namespace] {
            start_errors_name_the_file_under(unit);
        }
    }

    /// Under a namespace the server is started from its init, whose errors
    /// come back from the server's process through shared memory.
    fn start_errors_name_the_file_under(unit: Unit) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let with = |program: PathBuf| Launch {
            program: Program::Path(program),
            args: vec![],
            unit,
            ..sh("", d, &[])
        };
        let cp = std::fs::read("/bin/cp").unwrap();
        executable(&d.join("noexec"), b"#!/bin/sh\nexit 0\n", 0o644);
        executable(&d.join("garbage"), b"\x00\x01 not a program", 0o755);
        executable(&d.join("truncated"), &cp[..cp.len().min(100)], 0o755);
        executable(&d.join("badinterp"), b"#!/nonexistent/interp\n", 0o755);

        let err = |p: PathBuf| run_retrying(|| with(p.clone())).unwrap_err();
        let e = err("sh".into());
        assert!(matches!(e, LaunchError::NotAbsolute { .. }), "{e:?}");
        let e = err(d.join("missing"));
        assert!(matches!(e, LaunchError::NotFound { .. }), "{e:?}");
        let e = err(d.join("noexec"));
        assert!(matches!(e, LaunchError::NotExecutable { .. }), "{e:?}");
        for name in ["garbage", "truncated"] {
            let e = err(d.join(name));
            assert!(matches!(e, LaunchError::ExecFormat { .. }), "{name}: {e:?}");
            assert!(e.to_string().contains(name), "{e}");
            assert!(crate::diag::Diagnose::hint(&e).is_some_and(|h| !h.is_empty()));
        }
        let e = err(d.join("badinterp"));
        assert!(
            matches!(e, LaunchError::InterpreterNotFound { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("badinterp"), "{e}");

        let mut launch = with("/bin/true".into());
        launch.args.push("a\0b".into());
        let e = run_with_input(launch, io::empty()).unwrap_err();
        assert!(matches!(e, LaunchError::Invalid), "{e:?}");
        let mut launch = with("/bin/true".into());
        launch.env.push(("A=B".into(), "c".into()));
        let e = run_with_input(launch, io::empty()).unwrap_err();
        assert!(matches!(e, LaunchError::Invalid), "{e:?}");

        let mut launch = with("/bin/true".into());
        launch.cwd = d.join("no-such-dir");
        let e = run_with_input(launch, io::empty()).unwrap_err();
        assert!(matches!(e, LaunchError::Cwd { .. }), "{e:?}");
    }
}
