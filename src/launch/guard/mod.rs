//! The guard: a stdio proxy between the MCP client and the server.
//!
//! Two layers. The I/O layer (`io`, `frame`) reads newline-delimited
//! messages from both sides within bounds (size, depth), strict JSON
//! (no lone surrogates, numbers within the f64 range, no member name
//! twice in any object, integers exact as doubles), and carries out
//! what the protocol layer decides. The protocol layer (`session`) sees
//! each well-formed message once, decodes its envelope strictly
//! (`envelope`: batches, null or non-integer ids, ambiguous messages
//! refused; ids as decoded values) and says whether it passes, is replaced
//! or dropped, and what else goes to either side; it holds the rules
//! (rate, in-flight, tool pins, argument checks, confirmation).

use std::time::Duration;

#[cfg(test)]
mod differential;
pub mod envelope;
pub mod frame;
pub mod io;

/// `s` cut to at most `max` bytes on a character boundary, marked with
/// an ellipsis when cut (for messages that quote what a peer sent).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
pub use frame::Scanned;

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
    /// [`Session::from_client`] with what the I/O layer's validator found
    /// at the message's top level (`scanned` describes `raw`), so that the
    /// session need not parse the envelope again.
    fn from_client_scanned(&mut self, raw: &[u8], scanned: &Scanned, out: &mut Outbox) -> Verdict {
        let _ = scanned;
        self.from_client(raw, out)
    }
    /// [`Session::from_server`], likewise.
    fn from_server_scanned(&mut self, raw: &[u8], scanned: &Scanned, out: &mut Outbox) -> Verdict {
        let _ = scanned;
        self.from_server(raw, out)
    }
    /// The I/O layer refused a line from `side` itself (`what` says why:
    /// too large, too deep, not JSON); for the audit log.
    fn refused(&mut self, side: Side, what: &str) {
        let _ = (side, what);
    }
    /// The same, with the request id the I/O layer's scan caught in the
    /// refused line (a server's answer, say): the session answers for it
    /// through `out` where it waits on that id. By default only
    /// [`Session::refused`].
    fn refused_message(
        &mut self,
        side: Side,
        what: &str,
        id: Option<&serde_json::Value>,
        out: &mut Outbox,
    ) {
        let _ = (id, out);
        self.refused(side, what);
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
    /// The argument variant whose pins apply ([`pins::variant`]).
    pub variant: Option<String>,
}

impl Limits {
    /// The policy's `max-message-size` and `max-depth` over the defaults.
    pub fn from_policy(run: &crate::policy::RunRules) -> Limits {
        let d = Limits::default();
        Limits {
            max_message: run.max_message_size.map_or(d.max_message, |n| {
                usize::try_from(n).unwrap_or(d.max_message)
            }),
            max_depth: run
                .max_depth
                .map_or(d.max_depth, |n| usize::try_from(n).unwrap_or(d.max_depth)),
        }
    }
}

impl Rules {
    /// The defaults of [`Rules::new`] with what `[servers.run]` and
    /// `[servers.tools] pinned` say.
    pub fn from_policy(
        server: &str,
        digest: &str,
        run: &crate::policy::RunRules,
        pinned: Option<String>,
    ) -> Rules {
        let mut r = Rules::new(server, digest);
        // A bucket holds two seconds' worth of calls unless `burst` says.
        let bucket = |per_second: f64| Bucket {
            per_second,
            burst: run
                .rate_burst
                .unwrap_or_else(|| (per_second * 2.0).ceil().clamp(1.0, 1e6) as u32),
        };
        if let Some(p) = run.rate_overall {
            r.rate_overall = Some(bucket(p));
        }
        if let Some(p) = run.rate_per_tool {
            r.rate_per_tool = Some(bucket(p));
        }
        if let Some(n) = run.max_in_flight {
            r.max_in_flight = usize::try_from(n).unwrap_or(r.max_in_flight);
        }
        r.confirm_tools = run.confirm_tools.clone();
        r.deny_tools = run.deny_tools.clone();
        r.strict_arguments = run.strict_arguments.unwrap_or(false);
        r.pinned = pinned;
        r
    }

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
            variant: None,
        }
    }

    /// The command that approves this launch's pending changes.
    pub fn approve_command(&self) -> String {
        match &self.variant {
            None => format!("mcp-warden approve {}", self.server),
            Some(v) => format!("mcp-warden approve {} --variant {v}", self.server),
        }
    }
}

pub mod pins;
pub mod rate;
pub mod schema;
pub mod session;
#[cfg(test)]
mod session_prop;
#[cfg(test)]
pub(crate) mod test_rng;
pub mod tokens;

pub use session::GuardSession;
