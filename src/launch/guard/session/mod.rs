//! The guard's protocol layer: [`GuardSession`], one per launched server.
//!
//! It sees each well-formed message once and decides on its strict
//! decode ([`Envelope`]: kind, [`Id`] and method as decoded values, with
//! `params`/`result` kept as validated slices); a message that does not
//! decode is refused, never passed. Ids are compared by decoded value
//! everywhere (in flight, held, the guard's own). Only the methods it
//! acts on have their parameters decoded in full (and refused when they
//! do not decode): `initialize`, `tools/call`, the `*/list` results and the
//! `*/list_changed` notifications, `notifications/cancelled`, and the
//! answers to the guard's own requests.
//!
//! Protocol eras, as relied on here:
//! - 2025-11-25 and earlier: the client sends `initialize` with
//!   `params.capabilities` (`elicitation` present means the client can
//!   be asked), then `notifications/initialized`; the server may send the
//!   client requests such as `elicitation/create`, which the guard uses
//!   to ask for confirmation.
//! - 2026-07-28 (stateless): no `initialize` handshake; every request
//!   carries `params._meta["io.modelcontextprotocol/protocolVersion"]`
//!   and `["io.modelcontextprotocol/clientCapabilities"]`, and
//!   `server/discover` replaces the handshake's server half. Results gain
//!   `resultType` and list results cache hints (`ttlMs`, `cacheScope`),
//!   which the guard leaves as they are. Server-to-client requests no
//!   longer exist: a server that needs input answers with
//!   `resultType: "input_required"` and the client retries (MRTR): it
//!   fulfils the result's `inputRequests` (an `elicitation/create` among
//!   them) and sends the same request again with `inputResponses` and the
//!   echoed `requestState`. The guard asks for a confirmation this way:
//!   it answers the call itself with an `input_required` result whose
//!   `requestState` is a token of the guard's (HMAC-SHA256 under a key
//!   drawn for the session; bound to the session, the tool and the digest
//!   of its canonical arguments; single use; expiring after the
//!   confirmation timeout), and forwards the retried call, without the
//!   guard's `inputResponses` and `requestState`, only when the user
//!   accepted. A retry with no such token (missing, forged, for another
//!   call, used or expired) is asked again. When the server itself
//!   answers a confirmed call with `input_required`, its `requestState`
//!   is carried inside a token of the guard's the same way, and put back
//!   when the client retries.
//!   Sources: the spec's 2026-07-28 changelog as quoted in public
//!   write-ups, and the rmcp 3.9 sources (`model/mrtr.rs`), whose client
//!   is the one the end-to-end tests drive.
//!
//! The era is taken from what the client sends: `initialize` means the
//! old era, a request whose `_meta` names a protocol version means the
//! new one (and updates the client's capabilities, request by request).
//!
//! The guard's own requests (its `tools/list` after `list_changed` to the
//! server, its `elicitation/create` to the client) carry ids
//! `"mcp-warden-"` and 128 random bits, fresh for each request
//! ([`tokens::guard_id`](super::tokens::guard_id)); the ids sent to one
//! side are never shown to the other, and an answer is matched only against the guard's requests
//! to the side it came from. A client or server request whose decoded
//! id starts with `mcp-warden-` is refused, so a server cannot put its
//! own question under the id of the guard's pending confirmation and
//! capture the user's answer.
//!
//! The concerns, by file: this one holds the session, its dispatch of
//! each message and the refusals; `inflight.rs` the requests awaiting an
//! answer and the routing of answers; `calls.rs` the admission of
//! `tools/call`; `lists.rs` list pinning and filtering; `confirm.rs` the
//! confirmations of each era. None of them does I/O.

mod calls;
mod confirm;
mod inflight;
mod lists;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::{Value, json};

use super::envelope::{Envelope, Id, Invalid, MsgKind};
use super::tokens::StateKeys;

use super::pins::{Kind, PinStore};
use super::rate::TokenBucket;
use super::schema::ArgSchema;
use super::truncate;
use super::{Limits, Outbox, Rules, Scanned, Session, Side, Verdict};
use crate::audit::{CallDecision, Event, GuardKind, Sink};

use calls::call_parts;
use confirm::GuardConfirm;
pub use confirm::{MAX_HELD, summarize_arguments};
use inflight::{InFlight, Method};
use lists::{GuardList, ListState, kind_index};

/// Hard cap on in-flight requests, whatever the rules say.
const MAX_IN_FLIGHT_CAP: usize = 4096;

/// The session's clock: [`Instant::now`] but in tests.
pub type Clock = Box<dyn Fn() -> Instant + Send>;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";

/// JSON-RPC error codes the guard answers with.
const INVALID_PARAMS: i64 = -32602;
const INVALID_REQUEST: i64 = -32600;
/// Refused by policy (denied, unpinned, not confirmed).
const REFUSED: i64 = -32001;
const RATE_LIMITED: i64 = -32002;
const BUSY: i64 = -32003;
/// The server's answer broke a bound and was not passed on.
const SERVER_FAULT: i64 = -32004;

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("`{pattern}` in {field} is not a valid glob: {message}")]
    Glob {
        field: &'static str,
        pattern: String,
        message: String,
    },
}

impl crate::diag::Diagnose for GuardError {
    fn code(&self) -> crate::diag::Code {
        crate::diag::Code::PolicyType
    }

    fn hint(&self) -> Option<String> {
        match self {
            GuardError::Glob { .. } => Some(
                "fix the pattern in the policy's [servers.run] (globset syntax: *, ?, [abc], {a,b})"
                    .into(),
            ),
        }
    }
}

/// Which protocol era the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Unknown,
    /// 2025-11-25 and earlier: `initialize`.
    Handshake,
    /// 2026-07-28: per-request `_meta`, `server/discover`.
    Stateless,
}

/// The scan of a message handed to the session without one (its unit
/// tests, other callers): the framer's strict check, so that what the
/// framer would refuse is refused here too.
fn scan_own(raw: &[u8]) -> Result<Scanned, super::frame::Fault> {
    let limits = Limits {
        max_message: usize::MAX,
        max_depth: usize::MAX,
    };
    super::frame::scan_message(raw, limits)
}

/// The guard's protocol layer (see the module documentation).
pub struct GuardSession {
    rules: Rules,
    store: PinStore,
    audit: Box<dyn Sink>,
    deny: GlobSet,
    confirm: GlobSet,
    /// The key and spent set of 2026-07-28 `requestState` tokens.
    state_keys: StateKeys,
    /// The session's clock (injectable for tests) and its start.
    clock: Clock,
    epoch: Instant,
    era: Era,
    elicitation: bool,
    /// The client's last `_meta` (new era), reused on the guard's requests.
    last_meta: Option<Value>,
    /// Looked up on every message: foldhash, randomly seeded (the map is
    /// bounded by `max-in-flight`, so a peer choosing ids gains little).
    in_flight: HashMap<Id, InFlight, foldhash::fast::RandomState>,
    /// The guard's requests to the client (confirmations) and to the
    /// server (re-lists), by their random ids: an answer is matched only
    /// against the requests sent to the side it came from.
    asking_client: HashMap<Id, GuardConfirm, foldhash::fast::RandomState>,
    asking_server: HashMap<Id, GuardList, foldhash::fast::RandomState>,
    overall: Option<TokenBucket>,
    per_tool: HashMap<String, TokenBucket>,
    lists: [ListState; 3],
    schemas: HashMap<String, Result<ArgSchema, String>>,
    /// Ids of list requests cancelled or answered, oldest first: a late
    /// or second answer to one is dropped, never passed unfiltered.
    stale_lists: std::collections::VecDeque<Id>,
    /// The server's requests awaiting the client's answer (at most
    /// [`MAX_IN_FLIGHT_CAP`]): an answer to any other id is dropped.
    server_reqs: HashSet<Id, foldhash::fast::RandomState>,
}

fn globs(field: &'static str, patterns: &[String]) -> Result<GlobSet, GuardError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| GuardError::Glob {
            field,
            pattern: p.clone(),
            message: e.kind().to_string(),
        })?;
        b.add(g);
    }
    b.build().map_err(|e| GuardError::Glob {
        field,
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

/// A JSON-RPC error response to the request `id`.
fn error_response(id: &Id, code: i64, message: &str, data: Option<Value>) -> Vec<u8> {
    error_to(Some(id), code, message, data)
}

/// The same for a request whose id is not known (`null`).
fn error_to(id: Option<&Id>, code: i64, message: &str, data: Option<Value>) -> Vec<u8> {
    let mut err = json!({"code": code, "message": message});
    if let Some(d) = data {
        err["data"] = d;
    }
    let id = id.map_or_else(|| "null".to_string(), Id::json);
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{err}}}"#).into_bytes()
}

/// The printable form of a name from a peer, for messages.
fn shown(name: &str) -> String {
    crate::text::printable(name, 80)
}

impl GuardSession {
    pub fn new(
        rules: Rules,
        pins: PinStore,
        audit: Box<dyn Sink>,
    ) -> Result<GuardSession, GuardError> {
        let deny = globs("deny-tools", &rules.deny_tools)?;
        let confirm = globs("confirm-tools", &rules.confirm_tools)?;
        let now = Instant::now();
        Ok(GuardSession {
            overall: rules.rate_overall.map(|b| TokenBucket::new(b, now)),
            rules,
            store: pins,
            audit,
            deny,
            confirm,
            state_keys: StateKeys::new(),
            clock: Box::new(Instant::now),
            epoch: now,
            era: Era::Unknown,
            elicitation: false,
            last_meta: None,
            in_flight: HashMap::default(),
            asking_client: HashMap::default(),
            asking_server: HashMap::default(),
            per_tool: HashMap::new(),
            lists: Default::default(),
            schemas: HashMap::new(),
            stale_lists: Default::default(),
            server_reqs: HashSet::default(),
        })
    }

    pub fn era(&self) -> Era {
        self.era
    }
    pub fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }
    pub fn held_len(&self) -> usize {
        self.asking_client.len()
    }
    pub fn per_tool_buckets(&self) -> usize {
        self.per_tool.len()
    }
    pub fn store(&self) -> &PinStore {
        &self.store
    }

    /// The session's clock instead of the system's (tests: expiry).
    pub fn with_clock(mut self, clock: Clock) -> GuardSession {
        self.epoch = clock();
        self.clock = clock;
        self
    }

    fn now(&self) -> Instant {
        (self.clock)()
    }

    /// `t` in milliseconds of the session (the time in its tokens).
    fn session_ms(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch)
            .as_millis()
            .min(u128::from(u64::MAX)) as u64
    }

    fn guard_event(&mut self, kind: GuardKind, detail: String) {
        self.audit.record(Event::Guard {
            server: self.rules.server.clone(),
            kind,
            detail,
        });
    }

    fn tool_event(
        &mut self,
        tool: &str,
        args: &str,
        decision: CallDecision,
        duration: Option<Duration>,
        error: Option<String>,
    ) {
        self.audit.record(Event::ToolCall {
            server: self.rules.server.clone(),
            tool: tool.to_string(),
            arguments: args.to_string(),
            decision,
            duration_ms: duration.map(|d| d.as_millis().min(u128::from(u64::MAX)) as u64),
            error,
        });
    }

    /// Answers a refused `tools/call` and records it.
    #[allow(clippy::too_many_arguments)]
    fn refuse_call(
        &mut self,
        out: &mut Outbox,
        id: &Id,
        tool: &str,
        args: &str,
        decision: CallDecision,
        code: i64,
        message: String,
        data: Option<Value>,
    ) -> Verdict {
        out.to_client.push(error_response(id, code, &message, data));
        self.tool_event(tool, args, decision, Some(Duration::ZERO), Some(message));
        Verdict::Drop
    }

    fn note_meta(&mut self, params: Option<&Value>) {
        let Some(meta) = params.and_then(|p| p.get("_meta")) else {
            return;
        };
        if meta.get(META_VERSION).and_then(Value::as_str).is_some() {
            self.era = Era::Stateless;
            self.elicitation = meta
                .get(META_CAPS)
                .and_then(|c| c.get("elicitation"))
                .is_some_and(|e| !e.is_null());
            self.last_meta = Some(meta.clone());
        }
    }

    // ---- client side ------------------------------------------------------

    /// A client message the strict decode refused: answered with the
    /// error (with its id where that decoded) and recorded; never forwarded.
    fn refuse_client(&mut self, why: Invalid, id: Option<&Id>, out: &mut Outbox) -> Verdict {
        let msg = format!("mcp-warden: {}; {}", why.describe(), why.hint());
        out.to_client.push(error_to(id, why.code(), &msg, None));
        out.notes.push(format!(
            "refused a message from the client: {}",
            why.describe()
        ));
        self.guard_event(GuardKind::Refused, format!("client: {}", why.describe()));
        Verdict::Drop
    }

    /// A client message without an id whose method is not a notification
    /// (a request sent as one): nobody can be answered; dropped, recorded.
    fn refuse_idless(&mut self, side: Side, method: &str, out: &mut Outbox) -> Verdict {
        let side = match side {
            Side::Client => "client",
            Side::Server => "server",
        };
        let m = shown(method);
        out.notes.push(format!(
            "dropped `{m}` from the {side}: it has no id and is not a notification"
        ));
        self.guard_event(
            GuardKind::Refused,
            format!("{side}: {m} without an id (not a notification)"),
        );
        Verdict::Drop
    }

    fn client_request(
        &mut self,
        id: &Id,
        method: &str,
        env: &Envelope,
        raw: &[u8],
        out: &mut Outbox,
    ) -> Verdict {
        if Self::is_guard_shaped(id) || self.is_guard_id_in_flight(id) {
            out.to_client.push(error_response(
                id,
                INVALID_REQUEST,
                "mcp-warden: request ids starting with \"mcp-warden-\" are reserved for the guard; use another id",
                None,
            ));
            return Verdict::Drop;
        }
        if self.in_flight.contains_key(id) {
            out.to_client.push(error_response(
                id,
                INVALID_REQUEST,
                "mcp-warden: a request with this id is still awaiting its answer; use a new id per request",
                None,
            ));
            return Verdict::Drop;
        }
        let is_call = method == "tools/call";
        // Decoded in full only where the guard acts on the parameters
        // (the framer checked all of the message strictly); what does not
        // decode is refused, never taken for "no parameters".
        let params: Option<Value> = match method {
            "tools/call" | "initialize" | "server/discover" | "tools/list" | "prompts/list"
            | "resources/list" | "prompts/get" | "resources/read" => match env.params {
                Some(p) => match p.decode() {
                    Ok(v) => Some(v),
                    Err(why) => return self.refuse_client(why, Some(id), out),
                },
                None => None,
            },
            _ => None,
        };
        self.note_meta(params.as_ref());
        let limit = self.rules.max_in_flight.clamp(1, MAX_IN_FLIGHT_CAP);
        if self.in_flight.len() >= limit {
            let msg = format!(
                "mcp-warden: too many requests in flight ({limit} awaiting the server's answer); wait for answers before sending more"
            );
            if is_call {
                let (tool, args) = call_parts(params.as_ref());
                return self.refuse_call(
                    out,
                    id,
                    &tool,
                    &args,
                    CallDecision::TooManyInFlight,
                    BUSY,
                    msg,
                    None,
                );
            }
            out.to_client.push(error_response(id, BUSY, &msg, None));
            self.guard_event(
                GuardKind::Refused,
                format!("client: {method}: too many in flight"),
            );
            return Verdict::Drop;
        }
        let mut flight = InFlight {
            method: Method::Other,
            started: None,
            call: None,
            cursor: false,
        };
        match method {
            "initialize" => {
                self.era = Era::Handshake;
                self.elicitation = params
                    .as_ref()
                    .and_then(|p| p.get("capabilities"))
                    .and_then(|c| c.get("elicitation"))
                    .is_some_and(|e| !e.is_null());
            }
            "server/discover" => self.era = Era::Stateless,
            "tools/call" => {
                let now = self.now();
                return self.client_call(id, params, raw, now, out);
            }
            "prompts/get" | "resources/read" => {
                // A prompt or resource hidden since it changed is not
                // served either (tools: `usable`).
                let (kind, key) = match method {
                    "prompts/get" => (Kind::Prompts, "name"),
                    _ => (Kind::Resources, "uri"),
                };
                let item = params
                    .as_ref()
                    .and_then(|p| p.get(key))
                    .and_then(Value::as_str);
                if let Some(item) = item
                    && self.lists[kind_index(kind)].hidden.contains_key(item)
                {
                    let msg = format!(
                        "mcp-warden: {} `{}` of server {} changed since it was approved and is hidden; review it with `{}`",
                        kind.noun(),
                        shown(item),
                        self.rules.server,
                        self.rules.approve_command()
                    );
                    out.to_client.push(error_response(id, REFUSED, &msg, None));
                    self.guard_event(
                        GuardKind::Refused,
                        format!("client: {method} of a hidden {}", kind.noun()),
                    );
                    return Verdict::Drop;
                }
            }
            m => {
                if let Some(kind) = Kind::from_list_method(m) {
                    flight.method = Method::List(kind);
                    flight.cursor = params
                        .as_ref()
                        .and_then(|p| p.get("cursor"))
                        .is_some_and(|c| !c.is_null());
                }
            }
        }
        self.in_flight.insert(id.clone(), flight);
        Verdict::Pass
    }

    // ---- server side ------------------------------------------------------

    /// A server message the strict decode refused: dropped and reported;
    /// a request of the client it answers (its id decoded, in flight)
    /// gets the error of a refused answer.
    fn refuse_server(&mut self, why: Invalid, id: Option<&Id>, out: &mut Outbox) -> Verdict {
        let what = why.describe();
        out.notes
            .push(format!("dropped a message from the server: {what}"));
        self.guard_event(GuardKind::Dropped, format!("server: {what}"));
        if let Some(id) = id {
            self.answer_refused(id, what, out);
        }
        Verdict::Drop
    }
}

/// A notification's method: MCP's are all `notifications/...`.
fn is_notification(method: &str) -> bool {
    method.starts_with("notifications/")
}

impl Session for GuardSession {
    fn from_client(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict {
        match scan_own(raw) {
            Ok(sc) => self.from_client_scanned(raw, &sc, out),
            Err(_) => self.refuse_client(Invalid::Undecodable, None, out),
        }
    }

    fn from_server(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict {
        match scan_own(raw) {
            Ok(sc) => self.from_server_scanned(raw, &sc, out),
            Err(_) => self.refuse_server(Invalid::Undecodable, None, out),
        }
    }

    fn from_client_scanned(&mut self, raw: &[u8], scanned: &Scanned, out: &mut Outbox) -> Verdict {
        self.expire_held(out);
        let env = match Envelope::decode(raw, scanned) {
            Ok(e) => e,
            Err((why, id)) => return self.refuse_client(why, id.as_ref(), out),
        };
        match (env.kind, &env.id, env.method.as_deref()) {
            (MsgKind::Request, Some(id), Some(m)) => self.client_request(id, m, &env, raw, out),
            (MsgKind::Notification, _, Some("notifications/cancelled")) => {
                self.client_cancelled(&env)
            }
            (MsgKind::Notification, _, Some(m)) if is_notification(m) => Verdict::Pass,
            (MsgKind::Notification, _, Some(m)) => {
                let m = m.to_string();
                self.refuse_idless(Side::Client, &m, out)
            }
            (MsgKind::Response, Some(id), _) => {
                let id = id.clone();
                self.client_response(&id, &env, out)
            }
            // Not produced by the decode.
            _ => self.refuse_client(Invalid::Malformed, env.id.as_ref(), out),
        }
    }

    fn from_server_scanned(&mut self, raw: &[u8], scanned: &Scanned, out: &mut Outbox) -> Verdict {
        self.expire_held(out);
        let env = match Envelope::decode(raw, scanned) {
            Ok(e) => e,
            Err((why, id)) => return self.refuse_server(why, id.as_ref(), out),
        };
        match (env.kind, &env.id, env.method.as_deref()) {
            (MsgKind::Request, Some(id), Some(_))
                if Self::is_guard_shaped(id) || self.is_guard_id_in_flight(id) =>
            {
                out.to_server.push(error_response(
                    id,
                    INVALID_REQUEST,
                    "mcp-warden: request ids starting with \"mcp-warden-\" are reserved for the guard",
                    None,
                ));
                self.guard_event(GuardKind::Refused, "server: request with a guard id".into());
                Verdict::Drop
            }
            (MsgKind::Request, Some(id), Some(_)) => {
                if self.server_reqs.len() >= MAX_IN_FLIGHT_CAP && !self.server_reqs.contains(id) {
                    out.to_server.push(error_response(
                        id,
                        BUSY,
                        "mcp-warden: too many requests from the server await the client's answer",
                        None,
                    ));
                    self.guard_event(
                        GuardKind::Refused,
                        "server: too many requests in flight".into(),
                    );
                    return Verdict::Drop;
                }
                if !self.server_reqs.insert(id.clone()) {
                    // A second request under an id the client has yet to
                    // answer: any answer would be ambiguous (and an error
                    // to the server would read as the first one's).
                    out.notes.push(format!(
                        "dropped a request from the server: id {} is still awaiting the client's answer",
                        shown(&id.json())
                    ));
                    self.guard_event(
                        GuardKind::Refused,
                        "server: request id already in flight".into(),
                    );
                    return Verdict::Drop;
                }
                Verdict::Pass
            }
            (MsgKind::Notification, _, Some(m)) if is_notification(m) => {
                let m = m.to_string();
                self.server_notification(&m, &env, raw, out)
            }
            (MsgKind::Notification, _, Some(m)) => {
                let m = m.to_string();
                self.refuse_idless(Side::Server, &m, out)
            }
            (MsgKind::Response, Some(id), _) => {
                let id = id.clone();
                self.server_response(&id, raw, &env, out)
            }
            _ => self.refuse_server(Invalid::Malformed, env.id.as_ref(), out),
        }
    }

    fn refused(&mut self, side: Side, what: &str) {
        let side = match side {
            Side::Client => "client",
            Side::Server => "server",
        };
        self.guard_event(
            GuardKind::Refused,
            format!("{side}: {}", truncate(what, 200)),
        );
    }

    /// A server answer the I/O layer refused (too large, too deep, not
    /// JSON) still ends its request: the client gets an error instead of
    /// waiting for ever, and the in-flight slot or the guard's re-check
    /// is released.
    fn refused_message(&mut self, side: Side, what: &str, id: Option<&Value>, out: &mut Outbox) {
        self.refused(side, what);
        let (Side::Server, Some(id)) = (side, id.and_then(Id::from_value)) else {
            return;
        };
        self.answer_refused(&id, what, out);
    }
}
