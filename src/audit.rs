//! The audit log: one JSON line per event under the home, each carrying
//! the SHA-256 of the line before it, so an edited, removed, inserted or
//! reordered record breaks the chain at that line.

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
        /// `sha256:HEX` over the policy and trust files in force.
        policy_digest: String,
        /// "allowed" or "denied".
        verdict: String,
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
        /// allowed, denied, confirmed, declined, rate-limited,
        /// invalid-arguments, unpinned, too-many-in-flight
        decision: String,
        duration_ms: Option<u64>,
        /// The JSON-RPC error message, or "tool error" for `isError`.
        error: Option<String>,
    },
    /// Something the guard noticed: a changed tool list, a refused or
    /// dropped message.
    Guard {
        server: String,
        kind: String,
        detail: String,
    },
}

/// Where events go. Recording never fails the caller: a sink that cannot
/// write reports on stderr and goes on (the server must not stop because
/// a disk filled).
pub trait Sink: Send {
    fn record(&mut self, event: Event);
}

/// Discards everything (tests, `guard = false`).
pub struct Discard;

impl Sink for Discard {
    fn record(&mut self, _: Event) {}
}
