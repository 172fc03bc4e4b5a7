//! Running a helper program (npm, pip, python3 asked about itself) to its
//! end: bounded in time and in the output kept, never waiting forever on a
//! child that stops answering.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How the run failed before the program had finished.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {tool}: {source}")]
    Missing {
        tool: String,
        source: std::io::Error,
    },
    #[error("cannot start {tool}: {source}")]
    Spawn {
        tool: String,
        source: std::io::Error,
    },
    #[error("{tool} did not finish within {} s", .timeout.as_secs())]
    Timeout { tool: String, timeout: Duration },
    #[error("waiting for {tool}: {source}")]
    Wait {
        tool: String,
        source: std::io::Error,
    },
}

/// A finished program's status and what it printed, each stream cut at the
/// bound given (the rest was read and dropped, so the program never blocks
/// on a full pipe).
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` with stdin closed and stdout and stderr piped, until it ends
/// or `timeout` passes (then it is killed). Each stream keeps at most
/// `keep` bytes.
pub fn run_bounded(
    mut cmd: Command,
    tool: &str,
    timeout: Duration,
    keep: usize,
) -> Result<Finished, RunError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => RunError::Missing {
            tool: tool.into(),
            source,
        },
        _ => RunError::Spawn {
            tool: tool.into(),
            source,
        },
    })?;
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            if let Some(mut r) = r {
                let mut buf = [0u8; 8192];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let room = keep.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
            kept
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as _));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                // The readers end with the pipes; not waited for.
                return Err(RunError::Timeout {
                    tool: tool.into(),
                    timeout,
                });
            }
            Err(source) => {
                return Err(RunError::Wait {
                    tool: tool.into(),
                    source,
                });
            }
        }
    };
    Ok(Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn output_is_kept_up_to_the_bound_and_the_status_returned() {
        let f = run_bounded(
            sh("head -c 100000 /dev/zero; echo oops >&2; exit 3"),
            "sh",
            Duration::from_secs(20),
            10,
        )
        .unwrap();
        assert_eq!(f.stdout.len(), 10);
        assert_eq!(f.stderr, b"oops\n");
        assert_eq!(f.status.code(), Some(3));
    }

    #[test]
    fn a_missing_program_and_a_hung_one_are_told_apart() {
        let e = run_bounded(
            Command::new("/nonexistent/tool"),
            "tool",
            Duration::from_secs(5),
            10,
        );
        assert!(matches!(e, Err(RunError::Missing { .. })));
        let started = Instant::now();
        let e = run_bounded(sh("sleep 30"), "sh", Duration::from_millis(200), 10);
        assert!(matches!(e, Err(RunError::Timeout { .. })));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
