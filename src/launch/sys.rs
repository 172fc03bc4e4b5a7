//! Every `unsafe` of the crate: the few OS calls that process supervision
//! needs and that std does not offer (process groups, parent-death signal,
//! subreaper, fd flags in the forked child, waiting without reaping, the
//! fork of the watchdog sentinel, resource limits, and the PID namespace
//! with its init), and syncfs for the cache. Each block says why it is
//! sound.
//!
//! Code that runs between `fork` and `exec` (the `pre_exec` hook and the
//! sentinel) may only make async-signal-safe calls: raw syscalls through
//! `libc`, no allocation, no locks, no `tracing`.
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The byte that tells the sentinel that `run` cleaned up by itself and
/// the group must not be killed (its id may already be reused).
const DISARM: u8 = b'D';

/// Upper bound on the fd loops used where `close_range` is missing: a
/// soft RLIMIT_NOFILE above this is treated as this (fds that high are
/// not opened by anything that calls `run`).
const FD_LOOP_CAP: libc::rlim_t = 1 << 20;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Flushes the whole file system `f` is on (syncfs): one call for a tree
/// of thousands of files written without fsync.
#[cfg(target_os = "linux")]
pub(crate) fn syncfs(f: &std::fs::File) -> io::Result<()> {
    // SAFETY: syncfs takes an fd we own (alive for the call); no memory.
    cvt(unsafe { libc::syncfs(f.as_raw_fd()) }).map(|_| ())
}

/// Makes this process a child subreaper: orphans among the server's
/// descendants are re-parented to us, so we can reap them (Linux only; a
/// no-op elsewhere).
pub(crate) fn set_child_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with integer arguments only; no memory is passed.
        cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) })?;
    }
    Ok(())
}

/// Sends `sig` to every process of group `pgid`. A group that no longer
/// exists is not an error.
pub(crate) fn kill_group(pgid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    if pgid <= 1 {
        // -1 and -0 would mean "every process" / "our own group".
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill takes plain integers.
    match cvt(unsafe { libc::kill(-pgid, sig) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        r => r.map(drop),
    }
}

/// Sends `sig` to one process (the sweep of a server's descendants;
/// tests use it to play the host client).
pub(crate) fn kill_pid(pid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    if pid <= 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill takes plain integers.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// Blocks until child `pid` has exited, without reaping it: while it is
/// a zombie its id, and so its process group id, cannot be reused, so
/// the group can still be killed safely.
pub(crate) fn wait_exited_nowait(pid: libc::pid_t) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain old data, all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t for the call.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        match cvt(r) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What `waitpid` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaped {
    /// A child was reaped: its id and raw wait status.
    Child(libc::pid_t, libc::c_int),
    /// Children match but none has exited yet (WNOHANG).
    Running,
    /// No child matches (ECHILD).
    NoChild,
}

/// `waitpid(target, WNOHANG?)`: `target` > 0 is one child, < -1 a group.
pub(crate) fn reap(target: libc::pid_t, block: bool) -> io::Result<Reaped> {
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid, writable c_int.
        let r = unsafe { libc::waitpid(target, &mut status, flags) };
        if r > 0 {
            return Ok(Reaped::Child(r, status));
        }
        if r == 0 {
            return Ok(Reaped::Running);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(Reaped::NoChild),
            _ => return Err(e),
        }
    }
}

/// The exit code `run` returns for a raw wait status: the server's own
/// code, or 128 + the signal that killed it.
pub(crate) fn exit_code(status: libc::c_int) -> u8 {
    if libc::WIFEXITED(status) {
        (libc::WEXITSTATUS(status) & 0xff) as u8
    } else if libc::WIFSIGNALED(status) {
        128u8.wrapping_add((libc::WTERMSIG(status) & 0x7f) as u8)
    } else {
        // Stopped/continued are never asked for; treat as a failure.
        1
    }
}

/// Marks every fd >= 3 close-on-exec. Async-signal-safe.
fn cloexec_from_3() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: close_range with integer arguments; CLOSE_RANGE_CLOEXEC
        // (Linux >= 5.11) only sets flags, it closes nothing.
        let r = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        if r == 0 {
            return Ok(());
        }
    }
    for fd in 3..fd_limit() {
        // SAFETY: fcntl on an int fd; EBADF for a closed fd is ignored.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            // SAFETY: as above, setting a flag on an fd we just read.
            cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
        }
    }
    Ok(())
}

/// The soft RLIMIT_NOFILE, capped. Async-signal-safe.
fn fd_limit() -> libc::c_int {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit.
    let cur = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
        rl.rlim_cur
    } else {
        FD_LOOP_CAP
    };
    cur.min(FD_LOOP_CAP) as libc::c_int
}

/// A prepared `execve`: every string and pointer array is built before
/// fork, because the child may not allocate.
///
/// std's `Command` execs with `execvp`, and glibc's `execvp` runs a file
/// that fails with ENOEXEC through `/bin/sh`: a file without a `#!` line
/// would become a shell script. The hook execs by itself with `execve`,
/// which never does that, and never searches PATH.
pub(crate) struct Exec {
    path: CString,
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

// SAFETY: the raw pointers point into the heap buffers of `_strings`
// (owned, never mutated or moved out while `Exec` lives); they are only
// read, by execve in the forked child.
unsafe impl Send for Exec {}
// SAFETY: as above; nothing mutates through `&Exec`.
unsafe impl Sync for Exec {}

impl Exec {
    /// Fails with InvalidInput on a NUL byte, or a `=` in a variable name.
    pub(crate) fn new<'a>(
        path: &Path,
        argv0: &OsStr,
        args: impl IntoIterator<Item = &'a OsStr>,
        env: impl IntoIterator<Item = (&'a OsStr, &'a OsStr)>,
    ) -> io::Result<Exec> {
        fn c(bytes: &[u8]) -> io::Result<CString> {
            CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"))
        }
        let path = c(path.as_os_str().as_bytes())?;
        let mut argv_s = vec![c(argv0.as_bytes())?];
        for a in args {
            argv_s.push(c(a.as_bytes())?);
        }
        // Later entries win, as with Command::env.
        let mut vars: Vec<(&[u8], &[u8])> = Vec::new();
        for (k, v) in env {
            let k = k.as_bytes();
            if k.is_empty() || k.contains(&b'=') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "bad variable name",
                ));
            }
            vars.retain(|(old, _)| *old != k);
            vars.push((k, v.as_bytes()));
        }
        let mut env_s = Vec::with_capacity(vars.len());
        for (k, v) in vars {
            env_s.push(c(&[k, b"=", v].concat())?);
        }
        let ptrs = |v: &[CString]| -> Vec<*const libc::c_char> {
            v.iter()
                .map(|s| s.as_ptr())
                .chain([std::ptr::null()])
                .collect()
        };
        let argv = ptrs(&argv_s);
        let envp = ptrs(&env_s);
        argv_s.extend(env_s);
        Ok(Exec {
            path,
            _strings: argv_s,
            argv,
            envp,
        })
    }
}

impl Exec {
    /// Replaces this process; returns only on failure. Async-signal-safe.
    fn execve(&self) -> io::Error {
        // SAFETY: path, argv and envp are NUL-terminated strings and
        // NULL-terminated arrays owned by `self`, alive for the call.
        unsafe { libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr()) };
        io::Error::last_os_error()
    }
}

/// Installs the hook that runs in the server's process after fork, before
/// exec: own process group, parent-death SIGKILL and no-new-privs
/// (Linux), every fd from 3 up close-on-exec except `keep_fds` (the
/// verified files, which the interpreter reaches through /proc/self/fd,
/// and the gate's read end), then `execve` of `exec`.
///
/// The hook also arms `watch`'s sentinel with the new group's id before
/// exec, so no moment exists where the server or a child of it runs
/// unguarded.
///
/// `sandbox` (Linux) is applied last, right before `execve`: the seccomp
/// filter then constrains nothing of the hook but `execve` itself (never
/// denied), and a failure fails the spawn (see [`sandbox_failure`]), so
/// the server never runs less confined than prepared. The resource limits
/// of `procs` come just before it.
///
/// With `procs.pid_ns` (Linux: `run` called [`new_pid_ns`] first), the
/// forked process is the init of a new PID namespace. There `watch` is a
/// [`Lifeline`], not a sentinel: when the init dies (of its parent-death
/// signal once `run` is gone), the kernel kills every process left in
/// the namespace, daemons that left the group included; the lifeline
/// covers the moment before that signal is set. The init starts the
/// server with `CLONE_VFORK` (no second copy of `run`'s address space)
/// and stays as its reaper ([`ns_init`]).
pub(crate) fn server_pre_exec(
    cmd: &mut Command,
    keep_fds: [Option<RawFd>; 2],
    watch: &Watch,
    exec: Exec,
    sandbox: Option<SandboxExec>,
    procs: ProcExec,
) {
    let (arm_fd, lifeline) = match watch {
        Watch::Sentinel(s) => (s.tx.as_ref().map(|tx| tx.as_raw_fd()), None),
        Watch::Lifeline(l) => (
            None,
            Some((l.rx.as_raw_fd(), l.tx.as_ref().map(|t| t.as_raw_fd()))),
        ),
    };
    let parent = std::process::id() as libc::pid_t;
    // The server's stack while it shares the init's memory (CLONE_VFORK),
    // allocated here: nothing is allocated after fork.
    #[cfg(target_os = "linux")]
    let mut stack: Vec<u8> = match procs.pid_ns {
        true => Vec::with_capacity(VFORK_STACK),
        false => Vec::new(),
    };
    let hook = move || -> io::Result<()> {
        // SAFETY: setpgid(0, 0) makes the calling (child) process the
        // leader of a new group; plain integers.
        cvt(unsafe { libc::setpgid(0, 0) })?;
        // While the process still has every privilege `run` had.
        #[cfg(target_os = "linux")]
        if procs.pid_ns {
            set_pid_max(&procs.pid_max);
        }
        #[cfg(target_os = "linux")]
        {
            // SAFETY: prctl with integer arguments only.
            cvt(unsafe {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                )
            })?;
            // No setuid/setgid/file-capability gains across exec: a
            // server that raised its privileges could no longer be
            // signalled by `run`, and would lose its parent-death signal.
            // SAFETY: prctl with integer arguments only.
            cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) })?;
            // The parent may have died before prctl: then we were already
            // re-parented and no signal will come. (A namespace's init
            // sees no parent, 0: there the sentinel, armed below and
            // holding the pipe until exec, covers that moment.)
            // SAFETY: getppid cannot fail.
            let ppid = unsafe { libc::getppid() };
            if ppid != parent && !(procs.pid_ns && ppid == 0) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        let _ = parent;
        if let Some((rx, tx)) = lifeline {
            // `run` holds the only other write end until its spawn
            // returns: a hang-up means it died before the parent-death
            // signal was set, which then never comes.
            // SAFETY: close of our copy of the write end, poll of the read
            // end through a pollfd on the stack, close; integers only.
            let n = unsafe {
                if let Some(tx) = tx {
                    libc::close(tx);
                }
                let mut p = libc::pollfd {
                    fd: rx,
                    events: libc::POLLIN,
                    revents: 0,
                };
                let n = loop {
                    let n = libc::poll(&mut p, 1, 0);
                    if !(n == -1 && interrupted()) {
                        break n;
                    }
                };
                libc::close(rx);
                n
            };
            if n != 0 {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        } else if let Some(fd) = arm_fd {
            // Our pid is now our group id: as `run` sees it, which in a
            // new namespace is not what getpid says (1).
            let pgid = leader_pid(procs.pid_ns)?.to_le_bytes();
            // SAFETY: writes 4 bytes from a stack buffer to the pipe (an
            // atomic pipe write, < PIPE_BUF).
            let n = unsafe { libc::write(fd, pgid.as_ptr().cast(), pgid.len()) };
            if n != pgid.len() as isize {
                return Err(io::Error::last_os_error());
            }
        } else {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        // The server's last steps and its execve; returns only on failure.
        let server = || -> io::Error {
            let steps = || -> io::Result<()> {
                cloexec_from_3()?;
                for fd in keep_fds.into_iter().flatten() {
                    // SAFETY: clears FD_CLOEXEC on an fd the parent keeps open.
                    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) })?;
                }
                apply_limits(&procs)?;
                #[cfg(target_os = "linux")]
                if let Some(s) = &sandbox {
                    apply_sandbox(s)?;
                }
                #[cfg(not(target_os = "linux"))]
                let _ = &sandbox;
                Ok(())
            };
            match steps() {
                Ok(()) => exec.execve(),
                Err(e) => e,
            }
        };
        // Std reports a failed start to `spawn`. In a namespace this
        // process stays as the init, and returns only on failure too.
        #[cfg(target_os = "linux")]
        if procs.pid_ns {
            return Err(start_under_init(&mut stack, &server));
        }
        Err(server())
    };
    // SAFETY: the hook only makes async-signal-safe syscalls (setpgid,
    // prctl, getppid, getpid, readlink, open, write, close, poll, clone,
    // waitpid, sigaction, close_range, getrlimit, setrlimit, fcntl,
    // landlock_restrict_self, seccomp, execve), allocates nothing and
    // takes no lock, as required between fork and exec.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// The watchdog: a forked (not exec'd) child that holds the read end of a
/// pipe whose write end only `run` has. It learns the server's group id
/// through the pipe, then blocks; when the write end closes without the
/// disarm byte (`run` died, even by SIGKILL), it kills the group.
pub(crate) struct Sentinel {
    pid: libc::pid_t,
    /// `None` once disarmed.
    tx: Option<io::PipeWriter>,
}

/// What kills the server's processes if `run` dies before it could: a
/// [`Sentinel`]; or, in a PID namespace of the server's own, the kernel
/// (which kills the namespace with its init) and a [`Lifeline`].
pub(crate) enum Watch {
    Sentinel(Sentinel),
    Lifeline(Lifeline),
}

impl Watch {
    /// Stops the watch without killing anything ([`Sentinel::disarm`]).
    pub(crate) fn disarm(self) -> io::Result<()> {
        match self {
            Watch::Sentinel(s) => s.disarm(),
            Watch::Lifeline(_) => Ok(()),
        }
    }
}

/// A pipe whose write end only `run` holds while a namespace's init
/// starts: the init sees a hang-up if `run` died before the init's
/// parent-death signal was set.
pub(crate) struct Lifeline {
    rx: OwnedFd,
    /// `None` once cut: as if `run` had died.
    tx: Option<OwnedFd>,
}

impl Lifeline {
    pub(crate) fn new() -> io::Result<Lifeline> {
        let (rx, tx) = io::pipe()?; // both ends close-on-exec
        Ok(Lifeline {
            rx: rx.into(),
            tx: Some(tx.into()),
        })
    }

    /// Closes `run`'s write end, as `run`'s death would.
    #[cfg(test)]
    pub(crate) fn cut(&mut self) {
        self.tx = None;
    }
}

impl Sentinel {
    /// Forks the sentinel. Call before spawning the server: the server's
    /// pre-exec hook tells it the group id ([`server_pre_exec`]).
    pub(crate) fn fork() -> io::Result<Sentinel> {
        let (rx, tx) = io::pipe()?; // both ends close-on-exec
        let rx: OwnedFd = rx.into();
        let rfd = rx.as_raw_fd();
        // SAFETY: the child runs only `sentinel_main`, which makes
        // async-signal-safe syscalls and never returns (it ends in
        // _exit), as required after fork in a multi-threaded process.
        let pid = cvt(unsafe { libc::fork() })?;
        if pid == 0 {
            sentinel_main(rfd);
        }
        drop(rx);
        Ok(Sentinel { pid, tx: Some(tx) })
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let Some(tx) = &mut self.tx else {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        };
        // Writes of a few bytes to a pipe are atomic (< PIPE_BUF).
        tx.write_all(bytes)
    }

    /// Stops the sentinel without killing anything, and reaps it.
    pub(crate) fn disarm(mut self) -> io::Result<()> {
        let r = self.write(&[DISARM]);
        self.tx = None; // closes the write end: the sentinel exits
        reap(self.pid, true)?;
        r
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if self.tx.take().is_some() {
            // Dropped without disarm (an error path): closing the pipe
            // makes it kill the group if it was armed; reap it.
            let _ = reap(self.pid, true);
        }
    }
}

/// The sentinel's whole life. Async-signal-safe only; never returns.
fn sentinel_main(rfd: RawFd) -> ! {
    // SAFETY (whole function): raw syscalls on integers and on stack
    // buffers we own; no allocation, no locks; ends in _exit.
    unsafe {
        close_all_but(rfd);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_IGN);
        }
        // Out of `run`'s group, so a terminal's ^C or a kill of `run`'s
        // group does not take the watchdog with it.
        libc::setpgid(0, 0);
        let mut buf = [0u8; 4];
        let mut got = 0usize;
        while got < buf.len() {
            let n = libc::read(rfd, buf[got..].as_mut_ptr().cast(), buf.len() - got);
            if n > 0 {
                got += n as usize;
            } else if n == -1 && interrupted() {
                continue;
            } else {
                // Closed before a group was named: nothing to guard.
                libc::_exit(0);
            }
        }
        let pgid = libc::pid_t::from_le_bytes(buf);
        let mut b = [0u8; 1];
        let n = loop {
            let n = libc::read(rfd, b.as_mut_ptr().cast(), 1);
            if n == -1 && interrupted() {
                continue;
            }
            break n;
        };
        if !(n == 1 && b[0] == DISARM) && pgid > 1 {
            libc::kill(-pgid, libc::SIGKILL);
        }
        libc::_exit(0);
    }
}

/// Whether the last call failed with EINTR. Async-signal-safe: it only
/// reads errno.
fn interrupted() -> bool {
    io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
}

/// Closes every fd except `keep`. Async-signal-safe.
unsafe fn close_all_but(keep: RawFd) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: close_range on integer ranges.
        let ok = unsafe {
            (keep == 0
                || libc::syscall(
                    libc::SYS_close_range,
                    0 as libc::c_uint,
                    (keep - 1) as libc::c_uint,
                    0,
                ) == 0)
                && libc::syscall(
                    libc::SYS_close_range,
                    (keep + 1) as libc::c_uint,
                    libc::c_uint::MAX,
                    0,
                ) == 0
        };
        if ok {
            return;
        }
    }
    for fd in 0..fd_limit().max(keep + 1) {
        if fd != keep {
            // SAFETY: close on an int; EBADF ignored.
            unsafe {
                libc::close(fd);
            }
        }
    }
}

/// Closes every fd from `first` up. Async-signal-safe.
#[cfg(target_os = "linux")]
unsafe fn close_from(first: RawFd) {
    // SAFETY: close_range on an integer range.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    };
    if r == 0 {
        return;
    }
    for fd in first..fd_limit() {
        // SAFETY: close on an int; EBADF ignored.
        unsafe {
            libc::close(fd);
        }
    }
}

/// The resource argument of `setrlimit` (glibc declares an enum type).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) type Resource = libc::c_int;

/// What confines the server as a tree of processes, prepared before fork
/// (src/launch/limits.rs, src/launch/spawn.rs): its resource limits, and
/// whether the hook's process is the init of a new PID namespace.
#[derive(Debug, Default)]
pub(crate) struct ProcExec {
    /// Each value is set as both the soft and the hard limit, so that the
    /// server cannot raise it again.
    pub(crate) rlimits: Vec<(Resource, u64)>,
    /// `run` called [`new_pid_ns`]: the hook's process is pid 1 there.
    pub(crate) pid_ns: bool,
    /// Written to that namespace's /proc/sys/kernel/pid_max (decimal;
    /// empty: left alone). See [`set_pid_max`].
    pub(crate) pid_max: Vec<u8>,
}

/// Sets the limits of `procs`. Async-signal-safe.
fn apply_limits(procs: &ProcExec) -> io::Result<()> {
    for &(resource, value) in &procs.rlimits {
        // Saturates where rlim_t is narrower (32-bit targets).
        let value = libc::rlim_t::try_from(value).unwrap_or(libc::RLIM_INFINITY - 1);
        let rl = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: setrlimit reads a valid rlimit from our stack.
        cvt(unsafe { libc::setrlimit(resource, &rl) })?;
    }
    Ok(())
}

/// This process's hard limit of `resource`; `None` when unlimited.
pub(crate) fn hard_limit(resource: Resource) -> Option<u64> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(resource, &mut rl) } != 0 || rl.rlim_max == libc::RLIM_INFINITY {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is narrower on 32-bit targets
    Some(rl.rlim_max as u64)
}

/// The real user id: RLIMIT_NPROC counts the tasks of the real uid, and
/// binds no task of uid 0.
pub(crate) fn real_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// The running kernel's release string (`uname -r`).
#[cfg(target_os = "linux")]
pub(crate) fn kernel_release() -> Option<String> {
    // SAFETY: utsname is plain old data, all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = (u.release.iter())
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok()
}

/// Makes this thread's next child the first process of a new PID
/// namespace (Linux; needs CAP_SYS_ADMIN, EPERM without). Dropping the
/// value puts later children back in our own namespace: only the calling
/// thread is affected, and `run` forks nothing else in between.
#[cfg(target_os = "linux")]
pub(crate) struct NewPidNs {
    own: OwnedFd,
}

#[cfg(target_os = "linux")]
pub(crate) fn new_pid_ns() -> io::Result<NewPidNs> {
    // Our own namespace, to come back to, opened first: a failure then
    // leaves nothing to undo.
    let own: OwnedFd = std::fs::File::open("/proc/self/ns/pid")?.into();
    // SAFETY: unshare with an integer flag; CLONE_NEWPID changes only the
    // namespace this thread's next children start in.
    cvt(unsafe { libc::unshare(libc::CLONE_NEWPID) })?;
    Ok(NewPidNs { own })
}

#[cfg(target_os = "linux")]
impl Drop for NewPidNs {
    fn drop(&mut self) {
        // SAFETY: setns on an fd we own, alive for the call; going back to
        // our own active namespace is allowed to whoever could unshare.
        if unsafe { libc::setns(self.own.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            tracing::warn!(
                error = %io::Error::last_os_error(),
                "cannot leave the server's PID namespace; later process starts of this thread may fail"
            );
        }
    }
}

/// This process's id as `run` sees it: getpid, except as the init of a
/// new PID namespace, where getpid says 1 and the /proc/self link tells
/// (/proc resolves it in the namespace it was mounted for: `run`'s or an
/// ancestor). Async-signal-safe.
fn leader_pid(in_new_ns: bool) -> io::Result<libc::pid_t> {
    if !in_new_ns {
        // SAFETY: getpid cannot fail.
        return Ok(unsafe { libc::getpid() });
    }
    let mut buf = [0u8; 16];
    // SAFETY: readlink writes at most buf.len() bytes into our stack buffer.
    let n = unsafe { libc::readlink(c"/proc/self".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_pid(&buf[..n as usize]).ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))
}

/// A decimal pid above 1 (never 0 or 1, which `kill(-pgid)` would make
/// "our group" or "every process"). Async-signal-safe.
fn parse_pid(digits: &[u8]) -> Option<libc::pid_t> {
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    (v > 1 && v <= i64::from(libc::pid_t::MAX)).then_some(v as libc::pid_t)
}

/// Bounds the tasks of the namespace: writes `value` to
/// /proc/sys/kernel/pid_max, which since Linux 6.14 belongs to each PID
/// namespace (`run` leaves `value` empty on older kernels, where it is the
/// whole system's). Only as a namespace's init (pid 1), so never in
/// `run`'s namespace. Best effort: a read-only /proc/sys (a container)
/// leaves the bound unset. Async-signal-safe.
#[cfg(target_os = "linux")]
fn set_pid_max(value: &[u8]) {
    // SAFETY: getpid cannot fail.
    if value.is_empty() || unsafe { libc::getpid() } != 1 {
        return;
    }
    // SAFETY: open of a static NUL-terminated path; write of a buffer we
    // own, alive for the call; close of the fd just opened.
    unsafe {
        let fd = libc::open(
            c"/proc/sys/kernel/pid_max".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd >= 0 {
            libc::write(fd, value.as_ptr().cast(), value.len());
            libc::close(fd);
        }
    }
}

/// The server's stack while it shares the init's memory: its last steps
/// are a few syscalls on data built before fork.
#[cfg(target_os = "linux")]
const VFORK_STACK: usize = 256 * 1024;

/// Starts the server under this process, the namespace's init, as
/// posix_spawn does: `clone(CLONE_VM | CLONE_VFORK)` on `stack`, the init
/// suspended until the server's `execve` (or its failure), so `run`'s
/// address space is not copied a second time. The server runs `server`,
/// which returns only on failure; that error comes back through the
/// shared memory and is returned here. After a successful start this
/// never returns: the init becomes [`ns_init`]. Async-signal-safe.
#[cfg(target_os = "linux")]
fn start_under_init(stack: &mut Vec<u8>, server: &dyn Fn() -> io::Error) -> io::Error {
    use std::sync::atomic::{AtomicI32, Ordering};
    struct Start<'a> {
        server: &'a dyn Fn() -> io::Error,
        failed: AtomicI32,
    }
    extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the `Start` below, alive while the init is
        // suspended (CLONE_VFORK), which is all of this function.
        let start = unsafe { &*(arg as *const Start) };
        let e = (start.server)();
        let raw = e.raw_os_error().filter(|&r| r != 0).unwrap_or(libc::EINVAL);
        start.failed.store(raw, Ordering::SeqCst);
        // SAFETY: _exit ends this process only; the init resumes.
        unsafe { libc::_exit(127) }
    }
    let start = Start {
        server,
        failed: AtomicI32::new(0),
    };
    // The stack grows down from the end of the allocation, 16-aligned.
    let top = (stack.as_mut_ptr() as usize + stack.capacity()) & !15;
    // SAFETY: `child` runs on `stack` (allocated before fork and used by
    // nothing else) in our memory while we are suspended, makes only
    // async-signal-safe syscalls and ends in execve or _exit; `start`
    // outlives it.
    let pid = unsafe {
        libc::clone(
            child,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            &start as *const Start as *mut libc::c_void,
        )
    };
    if pid < 0 {
        return io::Error::last_os_error();
    }
    match start.failed.load(Ordering::SeqCst) {
        0 => ns_init(pid),
        raw => {
            // SAFETY: reaps our own child; no status wanted.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            io::Error::from_raw_os_error(raw)
        }
    }
}

/// The namespace's init, until the server exits. It holds no descriptor
/// (so neither the server's pipes nor std's exec-error pipe stay open
/// through it), ignores the signals `run` sends the group (they are the
/// server's; an init dies of SIGKILL from outside only), reaps every
/// orphan, and exits with the server's status once the server is gone:
/// the kernel then kills whatever is left in the namespace. A server in
/// a namespace of its own is thus no pid 1, with pid 1's signal rules.
/// Async-signal-safe only; never returns.
#[cfg(target_os = "linux")]
fn ns_init(server: libc::pid_t) -> ! {
    // SAFETY (whole function): raw syscalls on integers and on a stack
    // variable; no allocation, no locks; ends in _exit.
    unsafe {
        close_from(0);
        // Handlers inherited from `run` (its signal forwarding) would run
        // here otherwise.
        for sig in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGPIPE,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGALRM,
        ] {
            libc::signal(sig, libc::SIG_IGN);
        }
        loop {
            let mut status: libc::c_int = 0;
            let r = libc::waitpid(-1, &mut status, 0);
            if r == server {
                libc::_exit(exit_code(status).into());
            }
            if r == -1 && !interrupted() {
                libc::_exit(1);
            }
        }
    }
}

/// Clears or sets FD_CLOEXEC (tests plant an inheritable fd with it).
#[cfg(test)]
pub(crate) fn set_inheritable(fd: &impl AsRawFd, inheritable: bool) -> io::Result<()> {
    let flags = if inheritable { 0 } else { libc::FD_CLOEXEC };
    // SAFETY: fcntl F_SETFD on an fd the caller owns.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags) }).map(drop)
}

/// What the sandbox leaves for the pre-exec hook: a Landlock ruleset fd
/// and a seccomp BPF program, both built before fork (src/launch/sandbox.rs),
/// so that the child only makes the two final syscalls.
#[derive(Debug, Default)]
pub(crate) struct SandboxExec {
    #[cfg(target_os = "linux")]
    pub(crate) ruleset: Option<OwnedFd>,
    /// Landlock rights on the child's own /proc/PID (0: no such rule),
    /// added to `ruleset` in the child: only there does /proc/self name it.
    #[cfg(target_os = "linux")]
    pub(crate) proc_self_access: u64,
    #[cfg(target_os = "linux")]
    pub(crate) filter: Option<Box<[libc::sock_filter]>>,
    /// Drop every capability (bounding, ambient, effective, permitted,
    /// inheritable) before exec.
    #[cfg(target_os = "linux")]
    pub(crate) drop_caps: bool,
}

/// Tags an errno of a failed sandbox step, so that the parent tells it
/// from an errno of `execve` (std passes the hook's raw errno back).
const SANDBOX_ERRNO_TAG: i32 = 0x5a00_0000;
const SANDBOX_STEP_SHIFT: u32 = 16;
/// The steps, by the tag's step number.
const SANDBOX_STEPS: [&str; 4] = [
    "landlock_restrict_self",
    "seccomp(SET_MODE_FILTER)",
    "landlock_add_rule(/proc/self)",
    "dropping capabilities",
];

#[cfg(target_os = "linux")]
fn sandbox_errno(step: usize) -> io::Error {
    sandbox_tagged(step, &io::Error::last_os_error())
}

#[cfg(target_os = "linux")]
fn sandbox_tagged(step: usize, e: &io::Error) -> io::Error {
    let errno = e.raw_os_error().unwrap_or(0) & 0xffff;
    io::Error::from_raw_os_error(SANDBOX_ERRNO_TAG | ((step as i32) << SANDBOX_STEP_SHIFT) | errno)
}

/// The step and errno of a failed sandbox step, from the raw errno that
/// `spawn` got back; `None` for any other errno.
pub(crate) fn sandbox_failure(raw: i32) -> Option<(&'static str, io::Error)> {
    if raw & 0x7f00_0000 != SANDBOX_ERRNO_TAG {
        return None;
    }
    let step = ((raw >> SANDBOX_STEP_SHIFT) & 0xff) as usize;
    let name = SANDBOX_STEPS.get(step)?;
    Some((name, io::Error::from_raw_os_error(raw & 0xffff)))
}

/// Applies the prepared sandbox to the calling (forked, single-threaded)
/// process. Async-signal-safe: two syscalls on data built before fork and
/// a `sock_fprog` on the stack. Must run after no_new_privs (both calls
/// require it) and after every other syscall of the hook but `execve`.
#[cfg(target_os = "linux")]
fn apply_sandbox(s: &SandboxExec) -> io::Result<()> {
    if s.drop_caps {
        drop_capabilities().map_err(|e| sandbox_tagged(3, &e))?;
    }
    if let (Some(fd), true) = (&s.ruleset, s.proc_self_access != 0) {
        add_proc_self_rule(fd.as_raw_fd(), s.proc_self_access)
            .map_err(|e| sandbox_tagged(2, &e))?;
    }
    if let Some(fd) = &s.ruleset {
        // SAFETY: landlock_restrict_self(ruleset_fd, flags = 0) takes an
        // fd we own (alive for the call) and an integer; no memory.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_restrict_self,
                fd.as_raw_fd(),
                0 as libc::c_uint,
            )
        };
        if r != 0 {
            return Err(sandbox_errno(0));
        }
    }
    if let Some(filter) = &s.filter {
        let Ok(len) = u16::try_from(filter.len()) else {
            return Err(io::Error::from_raw_os_error(
                SANDBOX_ERRNO_TAG | (1 << SANDBOX_STEP_SHIFT) | libc::E2BIG,
            ));
        };
        let prog = libc::sock_fprog {
            len,
            // The kernel only reads through this pointer (it copies the
            // program); the cast to *mut is what the C struct wants.
            filter: filter.as_ptr().cast_mut(),
        };
        // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog): `prog` is a
        // valid sock_fprog on our stack pointing at `len` instructions
        // owned by `s`, alive for the call; the kernel copies them.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
                0 as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if r != 0 {
            return Err(sandbox_errno(1));
        }
    }
    Ok(())
}

/// Drops every capability of the calling (forked, single-threaded)
/// process, for good: the bounding set first (a root server would
/// otherwise get the full set back at exec), then the ambient set, then
/// effective, permitted and inheritable. Without CAP_SETPCAP (not root)
/// the bounding set cannot be changed and need not be: such a process
/// has no capability to regain, and no_new_privs stops file capabilities.
/// Async-signal-safe: prctl, capget and capset on stack structs.
#[cfg(target_os = "linux")]
fn drop_capabilities() -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_SETPCAP: u32 = 8;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut now = [Data::default(); 2];
    // SAFETY: capget(&header, &data[2]) writes two Data structs (version
    // 3 uses two) into our stack array; plain C structs.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            now.as_mut_ptr(),
        ) as libc::c_int
    })?;
    if now[0].effective & (1 << CAP_SETPCAP) != 0 {
        for cap in 0..64 {
            // SAFETY: prctl with integer arguments only.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if r == -1 {
                // EINVAL: past this kernel's last capability.
                if io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                    break;
                }
                return Err(io::Error::last_os_error());
            }
        }
    }
    // SAFETY: prctl with integer arguments only. EINVAL: no ambient
    // capabilities on this kernel (before 4.3), so nothing to clear.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if r == -1 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(io::Error::last_os_error());
    }
    let none = [Data::default(); 2];
    header = Header {
        version: VERSION_3,
        pid: 0,
    };
    // SAFETY: capset(&header, &data[2]) reads two Data structs from our
    // stack array; dropping capabilities is always permitted.
    cvt(unsafe {
        libc::syscall(libc::SYS_capset, &mut header as *mut Header, none.as_ptr()) as libc::c_int
    })?;
    Ok(())
}

/// `struct landlock_path_beneath_attr` (packed in the UAPI header).
#[cfg(target_os = "linux")]
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// Adds "`access` beneath /proc/self" to the ruleset. Async-signal-safe:
/// open, landlock_add_rule and close, with a stack struct.
#[cfg(target_os = "linux")]
fn add_proc_self_rule(ruleset: RawFd, access: u64) -> io::Result<()> {
    const LANDLOCK_RULE_PATH_BENEATH: libc::c_uint = 1;
    // SAFETY: open of a NUL-terminated static path; O_PATH opens nothing
    // for reading.
    let dir = cvt(unsafe {
        libc::open(
            c"/proc/self".as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    let attr = PathBeneathAttr {
        allowed_access: access,
        parent_fd: dir,
    };
    // SAFETY: landlock_add_rule(ruleset, PATH_BENEATH, &attr, 0) reads the
    // packed attr from our stack, alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0 as libc::c_uint,
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: closes the fd opened above, which nothing else uses.
    unsafe { libc::close(dir) };
    if r != 0 { Err(err) } else { Ok(()) }
}

/// The kernel's Landlock ABI version: > 0 when available, 0 when not
/// built in or disabled at boot.
#[cfg(target_os = "linux")]
pub(crate) fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only returns the
    // ABI version; no memory is read or written.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0 as libc::size_t,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v > 0 { v as i32 } else { 0 }
}

/// Whether the kernel offers seccomp filters returning an errno
/// (SECCOMP_GET_ACTION_AVAIL, Linux >= 4.14).
#[cfg(target_os = "linux")]
pub(crate) fn seccomp_errno_available() -> bool {
    let action: u32 = libc::SECCOMP_RET_ERRNO;
    // SAFETY: seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) reads one u32
    // from a valid stack variable.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL as libc::c_ulong,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    r == 0
}
