//! The audit log: one JSON line per event under the home, each carrying
//! the SHA-256 of the line before it, so an edited, removed, inserted or
//! reordered record breaks the chain at that line.
//!
//! Layout: `DATA_DIR/audit/audit.jsonl` (mode 0600, directory 0700) and
//! beside it `audit.head`, a fixed-width line with the last record's seq
//! and hash, the log's identity and a MAC by the audit key held in the
//! keychain ([`anchor`]), rewritten after every append, so that records
//! cut off the end are caught too, and a log rewritten by someone without
//! the key is told from one mcp-warden wrote. Several `run` processes share the log: each append
//! takes an exclusive `flock` on the log, reads the tail (only when another
//! process wrote since this one last did), and appends the whole line in
//! one `write` on an O_APPEND descriptor, so the chain stays linear.

pub mod anchor;
mod decision;
mod otlp;
mod verify;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{
    DirBuilderExt as _, FileExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::redact::Redactor;

pub use anchor::{Anchor, AnchorError, AuditKey, Head, HeadError, KeyStore, KeychainView};
pub use decision::{CallDecision, GuardKind, LaunchVerdict};
pub use otlp::otlp_endpoint_valid;
pub use verify::{
    Entry, Finding, Problem, Verdict, parse_since, read_records, verify_anchored, verify_log,
};

/// A line longer than this is not a record (records are a few hundred
/// bytes); readers stop there instead of buffering without limit.
pub const MAX_LINE: usize = 64 * 1024;

/// The `prev` of the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The head file's one line (see [`anchor`]), fixed width so that it is
/// rewritten in place with one `pwrite`.
const HEAD_LEN: usize = anchor::HEAD_LEN;

/// What the guard and `run` record.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `run` decided whether to start a server.
    Launch {
        server: String,
        /// `sha256:HEX` of the artifact.
        digest: String,
        /// Signer names from the trust store.
        signers: Vec<String>,
        /// What each signed (`NAME: artifact, SBOM`); empty where the
        /// lock did not record it.
        signed: Vec<String>,
        /// `sha256:HEX` over the policy and trust files in force.
        policy_digest: String,
        verdict: LaunchVerdict,
        /// What the sandbox enforced, in one line.
        sandbox: String,
    },
    /// One `tools/call`, when it was answered or refused.
    ToolCall {
        server: String,
        tool: String,
        /// `sha256:HEX` of the canonical JSON of the arguments; never the
        /// arguments themselves (they may carry secrets).
        arguments: String,
        decision: CallDecision,
        duration_ms: Option<u64>,
        /// The JSON-RPC error message, or "tool error" for `isError`.
        error: Option<String>,
    },
    /// Something the guard noticed: a changed tool list, a refused or
    /// dropped message.
    Guard {
        server: String,
        kind: GuardKind,
        detail: String,
    },
}

impl Event {
    /// The record's `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Launch { .. } => "launch",
            Event::ToolCall { .. } => "tool-call",
            Event::Guard { .. } => "guard",
        }
    }

    pub fn server(&self) -> &str {
        match self {
            Event::Launch { server, .. }
            | Event::ToolCall { server, .. }
            | Event::Guard { server, .. } => server,
        }
    }

    /// The same event with every string passed through `r` (server names,
    /// tool names, error messages, details: whatever a server could have
    /// put a secret in).
    pub fn redacted(self, r: &Redactor) -> Event {
        let f = |v: String| r.redact_str(&v);
        match self {
            Event::Launch {
                server,
                digest,
                signers,
                signed,
                policy_digest,
                verdict,
                sandbox,
            } => Event::Launch {
                server: f(server),
                digest: f(digest),
                signers: signers.into_iter().map(f).collect(),
                signed: signed.into_iter().map(f).collect(),
                policy_digest: f(policy_digest),
                verdict,
                sandbox: f(sandbox),
            },
            Event::ToolCall {
                server,
                tool,
                arguments,
                decision,
                duration_ms,
                error,
            } => Event::ToolCall {
                server: f(server),
                tool: f(tool),
                arguments: f(arguments),
                decision,
                duration_ms,
                error: error.map(f),
            },
            Event::Guard {
                server,
                kind,
                detail,
            } => Event::Guard {
                server: f(server),
                kind,
                detail: f(detail),
            },
        }
    }

    /// The event's own fields, kebab-case, in a fixed order.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let s = |v: &str| Value::String(v.to_string());
        match self {
            Event::Launch {
                server,
                digest,
                signers,
                signed,
                policy_digest,
                verdict,
                sandbox,
            } => {
                let mut v = vec![
                    ("server", s(server)),
                    ("digest", s(digest)),
                    (
                        "signers",
                        Value::Array(signers.iter().map(|x| s(x)).collect()),
                    ),
                ];
                // Only where known, so that records of locks that did not
                // record it read as before.
                if !signed.is_empty() {
                    v.push((
                        "signed",
                        Value::Array(signed.iter().map(|x| s(x)).collect()),
                    ));
                }
                v.extend([
                    ("policy-digest", s(policy_digest)),
                    ("verdict", s(verdict.as_str())),
                    ("sandbox", s(sandbox)),
                ]);
                v
            }
            Event::ToolCall {
                server,
                tool,
                arguments,
                decision,
                duration_ms,
                error,
            } => vec![
                ("server", s(server)),
                ("tool", s(tool)),
                ("arguments", s(arguments)),
                ("decision", s(decision.as_str())),
                ("duration-ms", duration_ms.map_or(Value::Null, Value::from)),
                ("error", error.as_deref().map_or(Value::Null, s)),
            ],
            Event::Guard {
                server,
                kind,
                detail,
            } => vec![
                ("server", s(server)),
                ("kind", s(kind.as_str())),
                ("detail", s(detail)),
            ],
        }
    }
}

/// Where events go. Recording never fails the caller: a sink that cannot
/// write reports on stderr and goes on (the server must not stop because
/// a disk filled).
pub trait Sink: Send {
    fn record(&mut self, event: Event);

    /// Waits up to `deadline` for events still on their way (an exporter's
    /// queue); true when nothing is left. Added for the audit log's OTLP
    /// export; sinks that write synchronously need not override it.
    fn flush(&mut self, _deadline: std::time::Duration) -> bool {
        true
    }
}

/// Discards everything (tests, `guard = false`).
pub struct Discard;

impl Sink for Discard {
    fn record(&mut self, _: Event) {}
}

/// `sha256:HEX` of one record line, newline excluded.
pub fn line_hash(line: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(line)))
}

/// One record as the line written to the log (without the newline):
/// `seq`, `time`, `prev`, `event`, then the event's fields.
pub fn format_record(seq: u64, time: Timestamp, prev: &str, event: &Event) -> String {
    let mut m = Map::new();
    m.insert("seq".into(), Value::from(seq));
    m.insert("time".into(), Value::String(time.to_string()));
    m.insert("prev".into(), Value::String(prev.to_string()));
    m.insert("event".into(), Value::String(event.name().into()));
    for (k, v) in event.fields() {
        m.insert(k.into(), v);
    }
    Value::Object(m).to_string()
}

/// Where the log and its head file live.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub log: PathBuf,
    pub head: PathBuf,
}

impl Paths {
    pub fn new(ctx: &crate::context::Context) -> Self {
        let dir = ctx.data_dir.join("audit");
        Paths {
            log: dir.join("audit.jsonl"),
            head: dir.join("audit.head"),
            dir,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot create the audit directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot open the audit log {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("reading {path} failed: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write to the audit log {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid OTLP endpoint {url}: {reason}")]
    OtlpEndpoint { url: String, reason: String },
    #[error("invalid time {value:?}: {reason}")]
    Since { value: String, reason: String },
}

impl crate::diag::Diagnose for AuditError {
    fn code(&self) -> crate::diag::Code {
        match self {
            AuditError::OtlpEndpoint { .. } | AuditError::Since { .. } => crate::diag::Code::Usage,
            _ => crate::diag::Code::AuditUnavailable,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            AuditError::Dir { .. } | AuditError::Open { .. } | AuditError::Read { .. } => {
                "check that the home's data directory exists and belongs to this user (--home DIR moves it)".into()
            }
            AuditError::Write { .. } => {
                "free space on the disk that holds the home's data directory (the servers' state under data/state/ is on it too), or fix its permissions".into()
            }
            AuditError::OtlpEndpoint { .. } => {
                "give the collector's base URL, e.g. http://127.0.0.1:4318 (/v1/logs and /v1/traces are appended)".into()
            }
            AuditError::Since { .. } => {
                "give an RFC 3339 time (2026-01-31T12:00:00Z) or a span such as 30m, 1h, 2d".into()
            }
        })
    }
}

/// What this process knows of the log's end: valid while the file still
/// has `len` bytes (no other process appended since).
#[derive(Debug, Clone)]
struct Tail {
    len: u64,
    next_seq: u64,
    prev: String,
    /// The log's identity, from the head (a new one when the head has
    /// none).
    id: String,
    /// The file does not end with a newline (a cut-off record): the next
    /// append starts a new line first.
    needs_newline: bool,
}

/// The hash-chained log; implements [`Sink`].
pub struct AuditLog {
    paths: Paths,
    log: File,
    head: File,
    tail: Option<Tail>,
    /// The head file was checked for its fixed length by this process.
    head_sized: bool,
    warned: bool,
    otlp: Option<otlp::Exporter>,
    /// Every event passes it before it is hashed, written or exported.
    redactor: Arc<Redactor>,
    /// The audit key and the keychain anchor (`None`: unanchored).
    anchor: Option<Anchor>,
    anchor_warned: bool,
    /// Events that could not be written since the last one that was, and
    /// the first error: said in an `audit-gap` record once writes work.
    lost: u64,
    lost_error: String,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("log", &self.paths.log)
            .field("otlp", &self.otlp.is_some())
            .finish()
    }
}

impl AuditLog {
    /// Opens (creating) the log under the home's data directory.
    pub fn open(ctx: &crate::context::Context) -> Result<AuditLog, AuditError> {
        Self::open_at(Paths::new(ctx))
    }

    /// Opens (creating) the log at explicit paths.
    pub fn open_at(paths: Paths) -> Result<AuditLog, AuditError> {
        let dir_err = |source| AuditError::Dir {
            path: paths.dir.clone(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&paths.dir)
            .map_err(dir_err)?;
        // An existing directory keeps its mode unless we tighten it.
        let meta = fs::metadata(&paths.dir).map_err(dir_err)?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&paths.dir, fs::Permissions::from_mode(0o700)).map_err(dir_err)?;
        }
        let open = |p: &Path, append: bool| {
            let mut o = OpenOptions::new();
            o.read(true).create(true).mode(0o600);
            if append {
                o.append(true);
            } else {
                o.write(true);
            }
            o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(p)
                .map_err(|source| AuditError::Open {
                    path: p.to_path_buf(),
                    source,
                })
        };
        let log = open(&paths.log, true)?;
        let head = open(&paths.head, false)?;
        Ok(AuditLog {
            paths,
            log,
            head,
            tail: None,
            head_sized: false,
            warned: false,
            otlp: None,
            redactor: Arc::new(Redactor::shapes_only()),
            anchor: None,
            anchor_warned: false,
            lost: 0,
            lost_error: String::new(),
        })
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Authenticates the head with the anchor's key from now on, and
    /// updates the keychain's anchor with every launch record.
    pub fn with_anchor(mut self, anchor: Anchor) -> AuditLog {
        self.anchor = Some(anchor);
        self
    }

    /// [`AuditLog::with_anchor`] with the anchor opened (its key read or,
    /// on first use, created) under the log's lock, so that two first
    /// launches at once agree on one key.
    pub fn with_keychain(self, store: Box<dyn KeyStore>) -> Result<AuditLog, AnchorError> {
        let locked = self.log.lock();
        let anchor = Anchor::open(store);
        if locked.is_ok() {
            let _ = self.log.unlock();
        }
        Ok(self.with_anchor(anchor?))
    }

    /// Lets go of the keychain (see [`Anchor::release`]).
    pub fn release_anchor(&mut self) {
        if let Some(a) = &mut self.anchor {
            a.release();
        }
    }

    /// Compares the log as it is now with what the keychain's anchor
    /// remembers; says what does not match (a log or head deleted,
    /// replaced, cut short, or rewritten without the key). `run` records
    /// the answer in the log before its launch record moves the anchor.
    pub fn check_anchor(&self) -> Option<String> {
        let a = self.anchor.as_ref()?;
        let head = read_head(&self.paths.head);
        let len = self.log.metadata().map(|m| m.len()).unwrap_or(0);
        // A key made now has nothing to check yet: the log, whatever it
        // holds, is adopted (a v1 head is migrated) unless it says it was
        // authenticated by another key. With a key that existed, a head
        // without a valid MAC was not written by mcp-warden: this run will
        // authenticate what follows, so the mismatch is recorded first.
        let head = match head {
            Ok(h) => h,
            Err(HeadError::OldFormat) if a.created => return None,
            Err(HeadError::OldFormat) => {
                return Some("the head file is in the old unauthenticated v1 format, but the log is anchored: it was rewritten without the key".into());
            }
            Err(_) => {
                return Some("the head file audit.head is unreadable or malformed".into());
            }
        };
        if let Some(h) = &head {
            match (&h.mac, a.created) {
                (Some(_), true) if !h.authentic(&a.key) => return Some("the head is authenticated by an audit key the keychain no longer has (a new key was made): records before this one cannot be checked".into()),
                (Some(_), false) if !h.authentic(&a.key) => return Some("the head's MAC does not verify with the audit key: the log or its head was rewritten without the key".into()),
                (None, false) => return Some("the head carries no MAC, but the log is anchored: the log or its head was rewritten without the key (or written with `[audit] anchor = \"off\"`)".into()),
                _ => {}
            }
        }
        // Records cut off the end with the head left as it was: the last
        // line's seq is read (a bounded read), not the whole log.
        let held = self.read_tail(len).map(|t| t.next_seq).unwrap_or(0);
        if let Some(h) = &head
            && h.count() > held
        {
            return Some(format!(
                "the log holds {held} records but its head records {} (last {}): records were removed from the end",
                h.count(),
                h.hash
            ));
        }
        let prev = match &a.previous {
            None => return None,
            Some(Err(_)) => return Some("the keychain's audit anchor is malformed".into()),
            Some(Ok(p)) => p,
        };
        match head {
            None if len == 0 => Some(format!(
                "the audit log and its head are missing, but the keychain's anchor records {} records (log {}, last {}): the log was deleted; a new log starts here",
                prev.count(),
                prev.id,
                prev.hash
            )),
            None => Some(format!(
                "the head file is missing, but the keychain's anchor records {} records (log {}, last {})",
                prev.count(),
                prev.id,
                prev.hash
            )),
            Some(h) if h.id != prev.id => Some(format!(
                "the log {} is not the anchored log {} ({} records, last {}): it was replaced or started again",
                h.id,
                prev.id,
                prev.count(),
                prev.hash
            )),
            Some(h) if h.count() < prev.count() => Some(format!(
                "the log holds {} records but the keychain's anchor records {} (last {}): records were removed",
                h.count(),
                prev.count(),
                prev.hash
            )),
            Some(_) => None,
        }
    }

    /// Redacts with `r` from now on (the launch's secrets, once known).
    /// Until then token shapes alone are redacted.
    pub fn set_redactor(&mut self, r: Arc<Redactor>) {
        self.redactor = r;
    }

    /// Also exports every event to an OTLP/HTTP collector at `url` (the
    /// base URL: `/v1/logs` and `/v1/traces` are appended), from a
    /// background thread that never blocks `record`.
    pub fn with_otlp(mut self, url: &str) -> Result<AuditLog, AuditError> {
        self.otlp = Some(otlp::Exporter::start(url)?);
        Ok(self)
    }

    /// Waits up to `deadline` for queued exports to be sent (when `run`
    /// ends). Returns false when they were not all sent in time. Without
    /// an exporter, returns true at once.
    pub fn flush(&mut self, deadline: Duration) -> bool {
        match &self.otlp {
            Some(x) => x.flush(deadline),
            None => true,
        }
    }

    /// Events the exporter dropped because its queue was full.
    pub fn otlp_dropped(&self) -> u64 {
        self.otlp.as_ref().map_or(0, |x| x.dropped())
    }

    /// Appends one record; returns its seq and line hash.
    fn append(&mut self, event: &Event, now: Timestamp) -> io::Result<(u64, String)> {
        self.log.lock()?;
        let r = self.append_locked(event, now);
        // The anchor moves with launch records, under the lock so that it
        // never goes back to an older head.
        if let (Ok((seq, hash)), Event::Launch { .. }) = (&r, event)
            && let Some(id) = self.tail.as_ref().map(|t| t.id.clone())
            && let Some(a) = &self.anchor
            && let Err(e) = a.store(&Head::new(*seq, hash, &id, Some(&a.key)))
            && !self.anchor_warned
        {
            self.anchor_warned = true;
            tracing::warn!("cannot update the audit log's anchor in the keychain: {e}");
        }
        let _ = self.log.unlock();
        r
    }

    fn append_locked(&mut self, event: &Event, now: Timestamp) -> io::Result<(u64, String)> {
        let len = self.log.metadata()?.len();
        let tail = match self.tail.take() {
            Some(t) if t.len == len => t,
            _ => self.read_tail(len)?,
        };
        let line = format_record(tail.next_seq, now, &tail.prev, event);
        let hash = line_hash(line.as_bytes());
        let mut buf = Vec::with_capacity(line.len() + 2);
        if tail.needs_newline {
            buf.push(b'\n');
        }
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        // One write of the whole line (O_APPEND): a short write is an error
        // rather than a second write that could interleave.
        let written = (&self.log).write(&buf).and_then(|n| match n == buf.len() {
            true => Ok(()),
            false => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write to the audit log ({n} of {} bytes)", buf.len()),
            )),
        });
        if let Err(e) = written.and_then(|()| self.write_head(tail.next_seq, &hash, &tail.id)) {
            // The log goes back to its last whole record (we hold the
            // lock): a record cut off by a full disk would break the chain
            // there, and `audit verify` would report an edit nobody made.
            if self.log.set_len(len).is_ok() {
                self.tail = Some(tail);
            }
            return Err(e);
        }
        self.tail = Some(Tail {
            len: len + buf.len() as u64,
            next_seq: tail.next_seq.saturating_add(1),
            prev: hash.clone(),
            id: tail.id,
            needs_newline: false,
        });
        Ok((tail.next_seq, hash))
    }

    /// One `pwrite` of the fixed-width line; the length is checked once
    /// per process (a longer file left by hand would keep a tail).
    fn write_head(&mut self, seq: u64, hash: &str, id: &str) -> io::Result<()> {
        let key = self.anchor.as_ref().map(|a| &a.key);
        let line = Head::new(seq, hash, id, key).line();
        self.head.write_all_at(line.as_bytes(), 0)?;
        if !self.head_sized {
            if self.head.metadata()?.len() != HEAD_LEN as u64 {
                self.head.set_len(HEAD_LEN as u64)?;
            }
            self.head_sized = true;
        }
        Ok(())
    }

    /// Finds the previous record from the last line only (bounded read).
    fn read_tail(&self, len: u64) -> io::Result<Tail> {
        let head = read_head(&self.paths.head).ok().flatten();
        if len == 0 {
            // A new log: a new identity.
            return Ok(Tail {
                len,
                next_seq: 0,
                prev: GENESIS.into(),
                id: anchor::new_log_id(),
                needs_newline: false,
            });
        }
        let id = head
            .as_ref()
            .map_or_else(anchor::new_log_id, |h| h.id.clone());
        let start = len.saturating_sub(MAX_LINE as u64 + 2);
        let mut buf = vec![0u8; (len - start) as usize];
        self.log.read_exact_at(&mut buf, start)?;
        let needs_newline = buf.last() != Some(&b'\n');
        let body = if needs_newline {
            &buf[..]
        } else {
            &buf[..buf.len() - 1]
        };
        let line = match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => Some(&body[i + 1..]),
            None if start == 0 => Some(body),
            // The last line is longer than any record: continue from the
            // head file; `audit verify` reports the line.
            None => None,
        };
        let head = head.map(|h| (h.seq, h.hash));
        let (next_seq, prev) = match line {
            Some(l) => {
                let seq = serde_json::from_slice::<Value>(l)
                    .ok()
                    .and_then(|v| v.get("seq").and_then(Value::as_u64));
                let next = match (seq, &head) {
                    (Some(s), _) => s.saturating_add(1),
                    (None, Some((s, _))) => s.saturating_add(1),
                    (None, None) => 0,
                };
                (next, line_hash(l))
            }
            None => match head {
                Some((s, h)) => (s.saturating_add(1), h),
                None => (0, GENESIS.into()),
            },
        };
        Ok(Tail {
            len,
            next_seq,
            prev,
            id,
            needs_newline,
        })
    }

    fn warn_once(&mut self, e: &io::Error) {
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                "cannot write the audit log {}: {e}; the server goes on, further audit errors are not reported",
                self.paths.log.display()
            );
        }
    }
}

/// One log written from two places (`run`'s launch record and the guard's
/// session), and flushed by `run` when the server has exited.
#[derive(Clone)]
pub struct Shared(std::sync::Arc<std::sync::Mutex<AuditLog>>);

impl Shared {
    pub fn new(log: AuditLog) -> Shared {
        Shared(std::sync::Arc::new(std::sync::Mutex::new(log)))
    }

    /// [`AuditLog::release_anchor`].
    pub fn release_anchor(&self) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release_anchor();
    }

    /// [`AuditLog::check_anchor`].
    pub fn check_anchor(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check_anchor()
    }

    /// [`AuditLog::try_record`].
    pub fn try_record(&self, event: Event) -> Result<(), AuditError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .try_record(event)
    }

    /// [`AuditLog::set_redactor`].
    pub fn set_redactor(&self, r: Arc<Redactor>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_redactor(r);
    }
}

impl Sink for Shared {
    fn record(&mut self, event: Event) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(event);
    }

    fn flush(&mut self, deadline: Duration) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flush(deadline)
    }
}

impl Sink for AuditLog {
    fn flush(&mut self, deadline: Duration) -> bool {
        AuditLog::flush(self, deadline)
    }

    fn record(&mut self, event: Event) {
        if let Err(AuditError::Write { source, .. }) = self.try_record(event) {
            self.warn_once(&source);
        }
    }
}

impl AuditLog {
    /// Records `event` like [`Sink::record`], and says when it could not
    /// be written to the log (which is then left as it was): `run` starts
    /// no server whose launch record this fails for.
    pub fn try_record(&mut self, event: Event) -> Result<(), AuditError> {
        // The one choke point: what is hashed, written and exported is
        // the redacted event, never the one the caller gave.
        let event = event.redacted(&self.redactor);
        let now = Timestamp::now();
        if self.lost > 0 {
            let gap = Event::Guard {
                server: event.server().to_string(),
                kind: GuardKind::AuditGap,
                detail: format!(
                    "{} earlier audit event(s) of this run could not be written to the log: {}",
                    self.lost, self.lost_error
                ),
            };
            if self.append(&gap, now).is_ok() {
                self.lost = 0;
            }
        }
        let appended = self.append(&event, now);
        let (seq, hash, result) = match appended {
            Ok((seq, hash)) => (Some(seq), line_hash_bytes(&hash), Ok(())),
            Err(source) => {
                if self.lost == 0 {
                    self.lost_error = source.to_string();
                }
                self.lost += 1;
                // Ids for the export only: unique enough without the chain.
                let h = sha2::Sha256::digest(format!("{now}{event:?}").as_bytes());
                let path = self.paths.log.clone();
                (None, h.into(), Err(AuditError::Write { path, source }))
            }
        };
        if let Some(x) = &self.otlp {
            x.send(otlp::Item {
                time: now,
                seq,
                hash,
                event,
            });
        }
        result
    }
}

/// The 32 bytes behind a `sha256:HEX` string (zeros when malformed).
fn line_hash_bytes(h: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Some(x) = h.strip_prefix("sha256:") {
        let _ = hex::decode_to_slice(x, &mut out);
    }
    out
}

/// Reads the head file: `Ok(None)` when it does not exist (or was
/// created and not yet written), an error when it is unreadable,
/// malformed or in the old v1 format.
pub fn read_head(path: &Path) -> Result<Option<Head>, HeadError> {
    let bytes = match crate::fsutil::read_bounded(path, 4096) {
        Ok(b) => b,
        Err(crate::fsutil::ReadError::Missing { .. }) => return Ok(None),
        Err(crate::fsutil::ReadError::TooLarge { .. }) => return Err(HeadError::Malformed),
        Err(e) => return Err(HeadError::Read(e.to_string())),
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| HeadError::Malformed)?;
    Head::parse(text).map(Some)
}

#[cfg(test)]
mod tests;
