//! The guard: a stdio proxy between the MCP client and the server.
//!
//! Two layers. The I/O layer (`io`, `frame`) reads newline-delimited
//! messages from both sides within bounds (size, depth) and carries out
//! what the protocol layer decides. The protocol layer (`session`) sees
//! each well-formed message once and says whether it passes, is replaced
//! or dropped, and what else goes to either side; it holds the rules
//! (rate, in-flight, tool pins, argument checks, confirmation).

use std::time::Duration;

pub mod frame;
pub mod io;
pub mod redact;

/// Which side a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// What happens to the message the session was shown.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Forwarded to the other side byte for byte.
    Pass,
    /// Forwarded as these bytes instead (one JSON document, no newline).
    Replace(Vec<u8>),
    /// Not forwarded (answered through the outbox, held, or refused).
    Drop,
}

/// Messages the session sends of its own accord, and notes for stderr.
/// Each message is one JSON document without the trailing newline.
#[derive(Debug, Default)]
pub struct Outbox {
    pub to_client: Vec<Vec<u8>>,
    pub to_server: Vec<Vec<u8>>,
    /// One line each, written to `run`'s stderr prefixed `mcp-warden: `.
    pub notes: Vec<String>,
}

/// The protocol layer. Called from the guard's one I/O thread, one
/// message at a time, in the order the messages arrived.
#[allow(clippy::wrong_self_convention)] // `from_client`: the side a message came from
pub trait Session: Send {
    /// A message from the client: one line, valid JSON within the bounds,
    /// without its newline.
    fn from_client(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict;
    /// A message from the server, likewise.
    fn from_server(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict;
    /// The I/O layer refused a line from `side` itself (`what` says why:
    /// too large, too deep, not JSON); for the audit log.
    fn refused(&mut self, side: Side, what: &str) {
        let _ = (side, what);
    }
}

/// A session with no rules: everything passes.
pub struct Passthrough;

impl Session for Passthrough {
    fn from_client(&mut self, _: &[u8], _: &mut Outbox) -> Verdict {
        Verdict::Pass
    }
    fn from_server(&mut self, _: &[u8], _: &mut Outbox) -> Verdict {
        Verdict::Pass
    }
}

/// Bounds the I/O layer enforces on every line, in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message in bytes, newline excluded.
    pub max_message: usize,
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 4 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// A token bucket: `burst` calls at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub per_second: f64,
    pub burst: u32,
}

/// The rules of the protocol layer, from the policy's `[servers.run]`
/// and `[servers.tools]`.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Server name (for pins, reports and the audit log).
    pub server: String,
    /// The pinned artifact's SHA-256, hex; tool pins are per digest.
    pub digest: String,
    /// `tools/call` rate over all tools, and per tool.
    pub rate_overall: Option<Bucket>,
    pub rate_per_tool: Option<Bucket>,
    /// Client requests awaiting the server's answer, at most.
    pub max_in_flight: usize,
    /// Glob patterns over tool names (globset syntax).
    pub confirm_tools: Vec<String>,
    pub deny_tools: Vec<String>,
    /// Reject unexpected argument fields even where the schema allows them.
    pub strict_arguments: bool,
    /// `[servers.tools] pinned`: the digest of the approved tool list
    /// (`sha256:HEX` of its canonical form), shipped by policy.
    pub pinned: Option<String>,
    /// How long a confirmation request may wait for the user.
    pub confirm_timeout: Duration,
}

impl Rules {
    pub fn new(server: &str, digest: &str) -> Rules {
        Rules {
            server: server.to_string(),
            digest: digest.to_string(),
            rate_overall: Some(Bucket {
                per_second: 20.0,
                burst: 40,
            }),
            rate_per_tool: None,
            max_in_flight: 64,
            confirm_tools: Vec::new(),
            deny_tools: Vec::new(),
            strict_arguments: false,
            pinned: None,
            confirm_timeout: Duration::from_secs(300),
        }
    }
}
