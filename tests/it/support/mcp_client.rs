//! A real MCP client for tests: rmcp (the official Rust SDK) speaking
//! newline-delimited JSON-RPC over a child process's stdio.
//!
//! The child is ours (a tokio child made from a `std::process::Command`),
//! not rmcp's child-process transport, so that `close` can close stdin,
//! wait, and hand back the exit status, and stderr is captured for the
//! failure message. Every call has a deadline: a hung server fails the
//! test with what it printed, it never hangs the suite.

use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ClientHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, ElicitationCapability, ProtocolVersion, ServerPeerInfo, Tool,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt as _, RequestContext, RoleClient, RunningService,
};
use serde_json::Value;
use tokio::io::AsyncReadExt as _;

/// How long one MCP call (or the handshake, or the exit after `close`)
/// may take before the session gives up. Generous: node starts slowly on
/// a busy 2-core machine, and a test that times out fails anyway.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// The child's stderr kept for messages; more is counted but dropped.
const STDERR_KEEP: usize = 1 << 20;

/// What went wrong in a session; `Display` includes the server's stderr.
#[derive(Debug)]
pub struct McpError {
    pub what: String,
    pub stderr: String,
}

impl fmt::Display for McpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n--- server stderr ---\n{}\n---------------------",
            self.what, self.stderr
        )
    }
}

impl std::error::Error for McpError {}

pub type Result<T> = std::result::Result<T, McpError>;

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: u64,
}

/// Which lifecycle the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-11-25: `initialize`, then `notifications/initialized`.
    Initialize,
    /// 2026-07-28: `server/discover`, per-request `_meta`.
    Discover,
}

/// The client side: declares the elicitation capability only when it
/// has an answer to give, and records every question it was asked.
#[derive(Clone, Default)]
pub struct Asker {
    pub answer: Option<ElicitationAction>,
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl Asker {
    pub fn answering(action: ElicitationAction) -> Asker {
        Asker {
            answer: Some(action),
            ..Asker::default()
        }
    }

    pub fn questions(&self) -> Vec<String> {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ClientHandler for Asker {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        if self.answer.is_some() {
            let mut caps = ClientCapabilities::default();
            caps.elicitation = Some(ElicitationCapability::default());
            info.capabilities = caps;
        }
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> std::result::Result<ElicitResult, rmcp::ErrorData> {
        let message = match &request {
            ElicitRequestParams::FormElicitationParams { message, .. } => message.clone(),
            other => format!("{other:?}"),
        };
        self.asked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message);
        let action = self.answer.clone().unwrap_or(ElicitationAction::Decline);
        let content = (action == ElicitationAction::Accept).then(|| serde_json::json!({}));
        let mut r = ElicitResult::new(action);
        r.content = content;
        Ok(r)
    }
}

/// One initialized MCP session with a child process.
/// Fields drop in order: the session and the child (killed on drop, so
/// a panicking test leaves no server behind) before their runtime.
pub struct McpSession {
    service: Option<RunningService<RoleClient, Asker>>,
    child: tokio::process::Child,
    stderr: Arc<Mutex<Captured>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    deadline: Duration,
    rt: tokio::runtime::Runtime,
}

impl McpSession {
    /// Starts `cmd` with piped stdio and runs the MCP handshake
    /// (`initialize`, then `notifications/initialized`), within
    /// [`DEFAULT_DEADLINE`]. The caller sets program, args and env
    /// (clear it for a reproducible server); stdio is taken over here.
    pub fn spawn(cmd: std::process::Command) -> Result<McpSession> {
        Self::spawn_as(cmd, Era::Initialize, Asker::default(), DEFAULT_DEADLINE)
    }

    pub fn spawn_with_deadline(
        cmd: std::process::Command,
        deadline: Duration,
    ) -> Result<McpSession> {
        Self::spawn_as(cmd, Era::Initialize, Asker::default(), deadline)
    }

    /// Starts `cmd` and opens the session in `era`, with `asker` as the
    /// client's handler.
    pub fn spawn_as(
        cmd: std::process::Command,
        era: Era,
        asker: Asker,
        deadline: Duration,
    ) -> Result<McpSession> {
        let shown = format!("{cmd:?}");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| McpError {
                what: format!("cannot start a tokio runtime: {e}"),
                stderr: String::new(),
            })?;
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let (child, stderr, stderr_task, started) = {
            let _g = rt.enter();
            let mut child = cmd.spawn().map_err(|e| McpError {
                what: format!("cannot start {shown}: {e}"),
                stderr: String::new(),
            })?;
            let (Some(stdin), Some(stdout), Some(mut err)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err(McpError {
                    what: format!("{shown}: stdio was not piped"),
                    stderr: String::new(),
                });
            };
            let captured = Arc::new(Mutex::new(Captured::default()));
            let sink = Arc::clone(&captured);
            let task = rt.spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    match err.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let mut c = sink.lock().unwrap_or_else(|p| p.into_inner());
                            let room = STDERR_KEEP.saturating_sub(c.bytes.len()).min(n);
                            c.bytes.extend_from_slice(&buf[..room]);
                            c.dropped += (n - room) as u64;
                        }
                    }
                }
            });
            (child, captured, task, (stdout, stdin))
        };
        let lifecycle = match era {
            Era::Initialize => ClientLifecycleMode::Initialize,
            Era::Discover => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        };
        let handshake = rt.block_on(async {
            tokio::time::timeout(deadline, asker.serve_with_lifecycle(started, lifecycle)).await
        });
        let mut s = McpSession {
            rt,
            service: None,
            child,
            stderr,
            stderr_task: Some(stderr_task),
            deadline,
        };
        match handshake {
            Ok(Ok(service)) => {
                s.service = Some(service);
                Ok(s)
            }
            Ok(Err(e)) => {
                let status = s.reap();
                Err(s.error(format!("MCP handshake with {shown} failed: {e} ({status})")))
            }
            Err(_) => {
                let status = s.reap();
                Err(s.error(format!(
                    "no answer to `initialize` from {shown} within {deadline:?} ({status})"
                )))
            }
        }
    }

    /// What the server answered to `initialize`.
    pub fn server_info(&self) -> Result<ServerPeerInfo> {
        self.service()?
            .peer_info()
            .map(|i| (*i).clone())
            .ok_or_else(|| self.error("the session has no InitializeResult".into()))
    }

    /// `tools/list`, following `nextCursor` through every page.
    pub fn list_tools(&self) -> Result<Vec<Tool>> {
        let svc = self.service()?;
        self.call("tools/list", svc.list_all_tools())
    }

    /// `tools/call NAME` with `args` (a JSON object, or `null` for none).
    /// A tool's own failure is `Ok` with `is_error: Some(true)`.
    pub fn call_tool(&self, name: &str, args: Value) -> Result<CallToolResult> {
        let mut params = CallToolRequestParams::new(name.to_string());
        match args {
            Value::Null => {}
            Value::Object(m) => params = params.with_arguments(m),
            other => {
                return Err(self.error(format!(
                    "tools/call {name}: arguments must be a JSON object, not {other}"
                )));
            }
        }
        let svc = self.service()?;
        self.call(&format!("tools/call {name}"), svc.call_tool(params))
    }

    /// Closes the session: stops the client, which closes the server's
    /// stdin, then waits (within the deadline) for the server to exit and
    /// returns its status. A server still running at the deadline is
    /// killed and that is an error.
    pub fn close(mut self) -> Result<ExitStatus> {
        if let Some(svc) = self.service.take() {
            let deadline = self.deadline;
            // cancel() drops the transport and with it the child's stdin.
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(deadline, svc.cancel()).await });
        }
        let deadline = self.deadline;
        let waited = self
            .rt
            .block_on(async { tokio::time::timeout(deadline, self.child.wait()).await });
        match waited {
            Ok(Ok(status)) => {
                self.drain_stderr();
                Ok(status)
            }
            Ok(Err(e)) => Err(self.error(format!("waiting for the server failed: {e}"))),
            Err(_) => {
                let _ = self.child.start_kill();
                let status = self.reap();
                Err(self.error(format!(
                    "the server did not exit within {deadline:?} of its stdin closing (killed; {status})"
                )))
            }
        }
    }

    /// [`close`](Self::close), then everything the child wrote to stderr:
    /// what it wrote just before its answers may still be in the pipe
    /// when the answers arrive, so a test that asserts on it closes first.
    pub fn close_with_stderr(self) -> Result<(ExitStatus, String)> {
        let captured = Arc::clone(&self.stderr);
        let status = self.close()?;
        let c = captured.lock().unwrap_or_else(|p| p.into_inner());
        Ok((status, render_captured(&c)))
    }

    /// Waits (up to the session's deadline) until what the child wrote to
    /// stderr satisfies `done`, and returns it: stderr is read by its own
    /// task, so a line written before an answer may land after it.
    pub fn stderr_until(&self, done: impl Fn(&str) -> bool) -> String {
        let end = std::time::Instant::now() + self.deadline;
        loop {
            let s = self.stderr();
            if done(&s) || std::time::Instant::now() >= end {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process id of the child (the command spawned: `mcp-warden run`
    /// when driven through it, not the server behind it).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// What the child wrote to stderr so far (lossy UTF-8, first MiB).
    pub fn stderr(&self) -> String {
        let c = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        render_captured(&c)
    }

    fn service(&self) -> Result<&RunningService<RoleClient, Asker>> {
        self.service
            .as_ref()
            .ok_or_else(|| self.error("the session is closed".into()))
    }

    /// Runs one request under the deadline.
    fn call<T, E: fmt::Display>(
        &self,
        what: &str,
        fut: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        let deadline = self.deadline;
        match self
            .rt
            .block_on(async { tokio::time::timeout(deadline, fut).await })
        {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(format!("{what} failed: {e}"))),
            Err(_) => Err(self.error(format!("no answer to {what} within {deadline:?}"))),
        }
    }

    /// Gives a failing child a moment to exit on its own (so that its
    /// own exit code shows), then kills it; returns how it ended, for
    /// the message.
    fn reap(&mut self) -> String {
        let mut waited = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await
        });
        if waited.is_err() {
            let _ = self.child.start_kill();
            waited = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await
            });
        }
        self.drain_stderr();
        match waited {
            Ok(Ok(st)) => format!("exit: {st}"),
            Ok(Err(e)) => format!("wait failed: {e}"),
            Err(_) => "still running after SIGKILL".into(),
        }
    }

    /// Lets the stderr reader reach end of file once the child is gone
    /// (a grandchild holding the pipe open is not waited for long).
    fn drain_stderr(&mut self) {
        if let Some(t) = self.stderr_task.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), t).await });
        }
    }

    fn error(&self, what: String) -> McpError {
        McpError {
            what,
            stderr: self.stderr(),
        }
    }
}

/// The text parts of a tool result, joined by newlines.
fn render_captured(c: &Captured) -> String {
    let mut s = String::from_utf8_lossy(&c.bytes).into_owned();
    if c.dropped > 0 {
        s.push_str(&format!("\n[{} more bytes not kept]", c.dropped));
    }
    s
}

pub fn text_of(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}
