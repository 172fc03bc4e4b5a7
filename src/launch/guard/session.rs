//! The guard's protocol layer: [`GuardSession`], one per launched server.
//!
//! It sees each well-formed message once and decides from a light parse
//! (id, method, and whether it is a response, with `params`/`result`
//! kept as unparsed slices); only the methods it acts on are parsed in
//! full: `initialize`, `tools/call`, the `*/list` results and the
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
//!   `resultType: "input_required"` and the client retries (MRTR). The
//!   guard therefore cannot ask for a confirmation in this era and
//!   refuses calls of `confirm-tools` there (fail closed). Sources: the
//!   spec's 2026-07-28 changelog and versioning pages as quoted in public
//!   write-ups, the rust-mcp-sdk and turul-mcp-protocol-2026-07-28 crate
//!   sources (found with the search tool); not checked against a
//!   2026-07-28 client here.
//!
//! The era is taken from what the client sends: `initialize` means the
//! old era, a request whose `_meta` names a protocol version means the
//! new one (and updates the client's capabilities, request by request).
//!
//! The guard's own requests (its `tools/list` after `list_changed`, its
//! `elicitation/create`) carry ids `"mcp-warden-NONCE-N"`; a client
//! request or a server request with an id of that shape is refused, so
//! answers to the guard are never confused with others and never
//! forwarded.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::pins::{self, Kind, PinStore};
use super::rate::TokenBucket;
use super::schema::ArgSchema;
use super::{Outbox, Rules, Session, Side, Verdict};
use crate::audit::{Event, Sink};

/// Confirmations waiting for the user at once.
pub const MAX_HELD: usize = 16;
/// Pages the guard fetches itself in one re-check.
const MAX_GUARD_PAGES: u32 = 100;
/// Hard cap on in-flight requests, whatever the rules say.
const MAX_IN_FLIGHT_CAP: usize = 4096;
/// Items gathered across pages while a policy pin is checked.
const MAX_CANDIDATES: usize = pins::MAX_ITEMS;
const GUARD_ID_PREFIX: &str = "mcp-warden-";

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";

/// JSON-RPC error codes the guard answers with.
const INVALID_PARAMS: i64 = -32602;
const INVALID_REQUEST: i64 = -32600;
/// Refused by policy (denied, unpinned, not confirmed).
const REFUSED: i64 = -32001;
const RATE_LIMITED: i64 = -32002;
const BUSY: i64 = -32003;

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("`{pattern}` in {field} is not a valid glob: {message}")]
    Glob {
        field: &'static str,
        pattern: String,
        message: String,
    },
}

impl GuardError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            GuardError::Glob { .. } => Some(
                "fix the pattern in the policy's [servers.run] (globset syntax: *, ?, [abc], {a,b})",
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

/// The light parse of one message.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    ToolsCall,
    List(Kind),
    Other,
}

#[derive(Debug)]
struct InFlight {
    method: Method,
    started: Instant,
    /// For `tools/call`: tool, argument digest, decision.
    call: Option<(String, String, &'static str)>,
    /// A list request that asked for a later page.
    cursor: bool,
}

#[derive(Debug)]
enum GuardReq {
    List {
        kind: Kind,
        pages: u32,
    },
    Confirm {
        client_id: String,
        raw: Vec<u8>,
        tool: String,
        args: String,
        expires: Instant,
    },
}

#[derive(Debug, Default)]
struct ListState {
    /// The store had no pins of this kind when the current listing began:
    /// its items become the pins.
    initial: bool,
    /// Listed in this session and equal to the pin: usable.
    ok: HashSet<String>,
    /// Hidden from the client, with the definition the server gave.
    hidden: HashMap<String, Value>,
    /// A policy pin is being checked across pages: the items so far.
    candidates: BTreeMap<String, Value>,
    /// The guard's own re-check is under way.
    rechecking: bool,
    /// The server's `list_changed`, forwarded once the re-check is done.
    held_notice: Option<Vec<u8>>,
}

/// The guard's protocol layer (see the module documentation).
pub struct GuardSession {
    rules: Rules,
    store: PinStore,
    audit: Box<dyn Sink>,
    deny: GlobSet,
    confirm: GlobSet,
    nonce: String,
    next_id: u64,
    era: Era,
    elicitation: bool,
    /// The client's last `_meta` (new era), reused on the guard's requests.
    last_meta: Option<Value>,
    in_flight: HashMap<String, InFlight>,
    guard_reqs: HashMap<String, GuardReq>,
    overall: Option<TokenBucket>,
    per_tool: HashMap<String, TokenBucket>,
    lists: [ListState; 3],
    schemas: HashMap<String, Result<ArgSchema, String>>,
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

fn kind_index(k: Kind) -> usize {
    match k {
        Kind::Tools => 0,
        Kind::Prompts => 1,
        Kind::Resources => 2,
    }
}

/// A JSON-RPC error response; `id` is the request's raw id text.
fn error_response(id: &str, code: i64, message: &str, data: Option<Value>) -> Vec<u8> {
    let mut err = json!({"code": code, "message": message});
    if let Some(d) = data {
        err["data"] = d;
    }
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{err}}}"#).into_bytes()
}

/// A short, secret-safe summary of call arguments: keys with the type
/// and size of each value, never the values.
pub fn summarize_arguments(args: Option<&Value>) -> String {
    let Some(Value::Object(m)) = args else {
        return "no arguments".into();
    };
    if m.is_empty() {
        return "no arguments".into();
    }
    let mut parts = Vec::new();
    for (k, v) in m {
        let what = match v {
            Value::String(s) => format!("text, {} chars", s.chars().count()),
            Value::Number(_) => "number".into(),
            Value::Bool(_) => "true/false".into(),
            Value::Null => "null".into(),
            Value::Array(a) => format!("list of {}", a.len()),
            Value::Object(o) => format!("object with {} keys", o.len()),
        };
        let key: String = k.chars().filter(|c| !c.is_control()).take(40).collect();
        parts.push(format!("{key} ({what})"));
    }
    truncate(&parts.join(", "), 160)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The printable form of a name from a peer, for messages.
fn shown(name: &str) -> String {
    truncate(
        &name
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>(),
        80,
    )
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
        // Unpredictable enough that a peer cannot aim at the guard's ids.
        let nonce = {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            h.write_u32(std::process::id());
            format!("{:016x}", h.finish())
        };
        Ok(GuardSession {
            overall: rules.rate_overall.map(|b| TokenBucket::new(b, now)),
            rules,
            store: pins,
            audit,
            deny,
            confirm,
            nonce,
            next_id: 0,
            era: Era::Unknown,
            elicitation: false,
            last_meta: None,
            in_flight: HashMap::new(),
            guard_reqs: HashMap::new(),
            per_tool: HashMap::new(),
            lists: Default::default(),
            schemas: HashMap::new(),
        })
    }

    pub fn era(&self) -> Era {
        self.era
    }
    pub fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }
    pub fn held_len(&self) -> usize {
        self.guard_reqs
            .values()
            .filter(|r| matches!(r, GuardReq::Confirm { .. }))
            .count()
    }
    pub fn per_tool_buckets(&self) -> usize {
        self.per_tool.len()
    }
    pub fn store(&self) -> &PinStore {
        &self.store
    }

    fn guard_id(&mut self) -> String {
        self.next_id += 1;
        format!("\"{GUARD_ID_PREFIX}{}-{}\"", self.nonce, self.next_id)
    }

    fn is_guard_shaped(id: &str) -> bool {
        id.starts_with(&format!("\"{GUARD_ID_PREFIX}"))
    }

    fn guard_event(&mut self, kind: &str, detail: String) {
        self.audit.record(Event::Guard {
            server: self.rules.server.clone(),
            kind: kind.to_string(),
            detail,
        });
    }

    fn tool_event(
        &mut self,
        tool: &str,
        args: &str,
        decision: &str,
        duration: Option<Duration>,
        error: Option<String>,
    ) {
        self.audit.record(Event::ToolCall {
            server: self.rules.server.clone(),
            tool: tool.to_string(),
            arguments: args.to_string(),
            decision: decision.to_string(),
            duration_ms: duration.map(|d| d.as_millis().min(u128::from(u64::MAX)) as u64),
            error,
        });
    }

    /// Answers a refused `tools/call` and records it.
    #[allow(clippy::too_many_arguments)]
    fn refuse_call(
        &mut self,
        out: &mut Outbox,
        id: &str,
        tool: &str,
        args: &str,
        decision: &str,
        code: i64,
        message: String,
        data: Option<Value>,
    ) -> Verdict {
        out.to_client
            .push(error_response(id, code, &message, data));
        self.tool_event(tool, args, decision, Some(Duration::ZERO), Some(message));
        Verdict::Drop
    }

    /// Confirmations nobody answered in time are declined.
    fn expire_held(&mut self, now: Instant, out: &mut Outbox) {
        if self.guard_reqs.is_empty() {
            return;
        }
        let expired: Vec<String> = self
            .guard_reqs
            .iter()
            .filter(|(_, r)| matches!(r, GuardReq::Confirm { expires, .. } if *expires <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            if let Some(GuardReq::Confirm {
                client_id,
                tool,
                args,
                ..
            }) = self.guard_reqs.remove(&k)
            {
                let started = self.in_flight.remove(&client_id).map(|f| f.started);
                let msg = format!(
                    "mcp-warden: tool `{}` needs confirmation and none came within {} s; call it again to be asked again",
                    shown(&tool),
                    self.rules.confirm_timeout.as_secs()
                );
                out.to_client
                    .push(error_response(&client_id, REFUSED, &msg, None));
                let d = started.map(|s| now.saturating_duration_since(s));
                self.tool_event(&tool, &args, "declined", d, Some(msg));
            }
        }
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

    fn client_batch(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict {
        let items: Vec<Envelope> = match serde_json::from_slice(raw) {
            Ok(v) => v,
            Err(_) => {
                out.to_client.push(error_response(
                    "null",
                    INVALID_REQUEST,
                    "mcp-warden: a batch whose members are not JSON-RPC messages was refused",
                    None,
                ));
                self.guard_event("refused", "client: malformed batch".into());
                return Verdict::Drop;
            }
        };
        let acted = items.iter().any(|e| match (&e.method, e.id) {
            (Some(m), _) => {
                matches!(
                    m.as_ref(),
                    "tools/call"
                        | "initialize"
                        | "server/discover"
                        | "notifications/cancelled"
                        | "tools/list"
                        | "prompts/list"
                        | "resources/list"
                )
            }
            (None, Some(id)) => self.guard_reqs.contains_key(id.get()),
            _ => false,
        });
        if !acted {
            return Verdict::Pass;
        }
        let msg = "mcp-warden: batches with tool calls, lists or the handshake are refused; send those requests one per message";
        let errors: Vec<Value> = items
            .iter()
            .filter(|e| e.method.is_some())
            .filter_map(|e| e.id)
            .filter_map(|id| serde_json::from_str::<Value>(id.get()).ok())
            .map(|id| json!({"jsonrpc":"2.0","id":id,"error":{"code":INVALID_REQUEST,"message":msg}}))
            .collect();
        if errors.is_empty() {
            out.to_client
                .push(error_response("null", INVALID_REQUEST, msg, None));
        } else {
            out.to_client
                .push(Value::Array(errors).to_string().into_bytes());
        }
        self.guard_event("refused", "client: batch with guarded methods".into());
        Verdict::Drop
    }

    fn client_request(&mut self, id: &str, method: &str, env: &Envelope, raw: &[u8], out: &mut Outbox) -> Verdict {
        let now = Instant::now();
        if Self::is_guard_shaped(id) {
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
        // Parsed in full only where the guard acts on the parameters.
        let params: Option<Value> = match method {
            "tools/call" | "initialize" | "server/discover" | "tools/list" | "prompts/list"
            | "resources/list" => env
                .params
                .and_then(|p| serde_json::from_str(p.get()).ok()),
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
                return self.refuse_call(out, id, &tool, &args, "too-many-in-flight", BUSY, msg, None);
            }
            out.to_client.push(error_response(id, BUSY, &msg, None));
            self.guard_event("refused", format!("client: {method}: too many in flight"));
            return Verdict::Drop;
        }
        let mut flight = InFlight {
            method: Method::Other,
            started: now,
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
            "tools/call" => return self.client_call(id, params, raw, now, out),
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
        self.in_flight.insert(id.to_string(), flight);
        Verdict::Pass
    }

    fn client_call(
        &mut self,
        id: &str,
        params: Option<Value>,
        raw: &[u8],
        now: Instant,
        out: &mut Outbox,
    ) -> Verdict {
        let (tool, args) = call_parts(params.as_ref());
        let Some(name) = params
            .as_ref()
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
        else {
            return self.refuse_call(
                out,
                id,
                "",
                &args,
                "invalid-arguments",
                INVALID_PARAMS,
                "mcp-warden: tools/call needs params.name, the tool's name".into(),
                None,
            );
        };
        let arguments = params.as_ref().and_then(|p| p.get("arguments"));
        if arguments.is_some_and(|a| !a.is_object() && !a.is_null()) {
            return self.refuse_call(
                out,
                id,
                &tool,
                &args,
                "invalid-arguments",
                INVALID_PARAMS,
                format!(
                    "mcp-warden: the arguments of tool `{}` must be a JSON object",
                    shown(name)
                ),
                None,
            );
        }
        if self.deny.is_match(name) {
            return self.refuse_call(
                out,
                id,
                &tool,
                &args,
                "denied",
                REFUSED,
                format!(
                    "mcp-warden: tool `{}` is denied by the policy (deny-tools of server {}); ask the administrator if it is needed",
                    shown(name),
                    self.rules.server
                ),
                None,
            );
        }
        if let Some(b) = self.overall.as_mut()
            && let Err(wait) = b.take(now)
        {
            let ms = wait.as_millis().max(1) as u64;
            return self.refuse_call(
                out,
                id,
                &tool,
                &args,
                "rate-limited",
                RATE_LIMITED,
                format!(
                    "mcp-warden: the rate limit over all tools of server {} is reached; retry in {ms} ms",
                    self.rules.server
                ),
                Some(json!({"limit": "overall", "retryAfterMs": ms})),
            );
        }
        if !self.usable(name, out) {
            return self.refuse_call(
                out,
                id,
                &tool,
                &args,
                "unpinned",
                REFUSED,
                format!(
                    "mcp-warden: tool `{}` is not an approved tool of server {} (changed, new, or not listed yet); list the tools first, and if it changed run `mcp-warden approve {}`",
                    shown(name),
                    self.rules.server,
                    self.rules.server
                ),
                None,
            );
        }
        if let Some(rule) = self.rules.rate_per_tool {
            // Only usable (pinned, listed) tools get a bucket: the map is
            // bounded by the pinned list.
            let b = self
                .per_tool
                .entry(name.to_string())
                .or_insert_with(|| TokenBucket::new(rule, now));
            if let Err(wait) = b.take(now) {
                let ms = wait.as_millis().max(1) as u64;
                return self.refuse_call(
                    out,
                    id,
                    &tool,
                    &args,
                    "rate-limited",
                    RATE_LIMITED,
                    format!(
                        "mcp-warden: the rate limit of tool `{}` is reached; retry in {ms} ms",
                        shown(name)
                    ),
                    Some(json!({"limit": "per-tool", "tool": name, "retryAfterMs": ms})),
                );
            }
        }
        if let Err(problem) = self.check_arguments(name, arguments) {
            return self.refuse_call(
                out,
                id,
                &tool,
                &args,
                "invalid-arguments",
                INVALID_PARAMS,
                format!(
                    "mcp-warden: invalid arguments for tool `{}`: {problem}",
                    shown(name)
                ),
                None,
            );
        }
        if self.confirm.is_match(name) {
            let why = if self.era == Era::Stateless {
                Some("the 2026-07-28 protocol has no server-to-client requests, so the guard cannot ask")
            } else if !self.elicitation {
                Some("this client cannot ask (no elicitation capability)")
            } else if self.held_len() >= MAX_HELD {
                Some("too many confirmations are already waiting")
            } else {
                None
            };
            if let Some(why) = why {
                return self.refuse_call(
                    out,
                    id,
                    &tool,
                    &args,
                    "declined",
                    REFUSED,
                    format!(
                        "mcp-warden: tool `{}` needs confirmation, and {why}; use a client with elicitation support or change confirm-tools in the policy",
                        shown(name)
                    ),
                    None,
                );
            }
            let gid = self.guard_id();
            let message = truncate(
                &format!(
                    "Allow the tool `{}` of server {} to run? Arguments: {}",
                    shown(name),
                    shown(&self.rules.server),
                    summarize_arguments(arguments)
                ),
                200,
            );
            let req = json!({"jsonrpc":"2.0","method":"elicitation/create","params":{
                "message": message,
                "requestedSchema": {"type":"object","properties":{}}}});
            let mut text = req.to_string();
            // The id goes in as raw JSON text (it is a quoted string).
            text.insert_str(1, &format!("\"id\":{gid},"));
            out.to_client.push(text.into_bytes());
            self.guard_reqs.insert(
                gid,
                GuardReq::Confirm {
                    client_id: id.to_string(),
                    raw: raw.to_vec(),
                    tool: tool.clone(),
                    args: args.clone(),
                    expires: now + self.rules.confirm_timeout,
                },
            );
            self.in_flight.insert(
                id.to_string(),
                InFlight {
                    method: Method::ToolsCall,
                    started: now,
                    call: Some((tool, args, "confirmed")),
                    cursor: false,
                },
            );
            return Verdict::Drop;
        }
        self.in_flight.insert(
            id.to_string(),
            InFlight {
                method: Method::ToolsCall,
                started: now,
                call: Some((tool, args, "allowed")),
                cursor: false,
            },
        );
        Verdict::Pass
    }

    /// Whether `name` is pinned and was listed unchanged; a hidden tool
    /// is looked up in the store again (an approval since).
    fn usable(&mut self, name: &str, out: &mut Outbox) -> bool {
        let st = &self.lists[0];
        if st.ok.contains(name) {
            return true;
        }
        let Some(seen) = st.hidden.get(name).cloned() else {
            return false;
        };
        if let Err(e) = self.store.reload() {
            out.notes.push(format!("cannot read the tool pins: {e}"));
            return false;
        }
        if self.store.pin(Kind::Tools, name) == Some(&seen) {
            self.schemas.remove(name);
            let st = &mut self.lists[0];
            st.hidden.remove(name);
            st.ok.insert(name.to_string());
            return true;
        }
        false
    }

    fn check_arguments(&mut self, name: &str, arguments: Option<&Value>) -> Result<(), String> {
        if !self.schemas.contains_key(name) {
            let schema = self
                .store
                .pin(Kind::Tools, name)
                .and_then(|d| d.get("inputSchema"))
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"}));
            let compiled = ArgSchema::compile(&schema, self.rules.strict_arguments);
            self.schemas.insert(name.to_string(), compiled);
        }
        let empty = Value::Object(Default::default());
        let args = match arguments {
            Some(Value::Null) | None => &empty,
            Some(a) => a,
        };
        match self.schemas.get(name) {
            Some(Ok(s)) => s.check(args),
            Some(Err(e)) => Err(format!("{e}; the tool cannot be called")),
            None => Err("no schema".into()),
        }
    }

    fn client_response(&mut self, id: &str, env: &Envelope, out: &mut Outbox) -> Verdict {
        let Some(req) = self.guard_reqs.remove(id) else {
            return Verdict::Pass;
        };
        let GuardReq::Confirm {
            client_id,
            raw,
            tool,
            args,
            ..
        } = req
        else {
            // A list request goes to the server; the client cannot answer it.
            self.guard_reqs.insert(id.to_string(), req);
            return Verdict::Drop;
        };
        let action = env
            .result
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
            .and_then(|r| r.get("action").and_then(Value::as_str).map(str::to_string));
        if action.as_deref() == Some("accept") {
            out.to_server.push(raw);
            return Verdict::Drop;
        }
        let started = self.in_flight.remove(&client_id).map(|f| f.started);
        let what = match action.as_deref() {
            Some("decline") => "the user declined it",
            Some("cancel") => "the user cancelled",
            _ => "the client could not ask",
        };
        let msg = format!(
            "mcp-warden: tool `{}` was not run: it needs confirmation and {what}",
            shown(&tool)
        );
        out.to_client
            .push(error_response(&client_id, REFUSED, &msg, None));
        let d = started.map(|s| s.elapsed());
        self.tool_event(&tool, &args, "declined", d, Some(msg));
        Verdict::Drop
    }

    fn client_cancelled(&mut self, env: &Envelope) -> Verdict {
        let Some(p) = env
            .params
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
        else {
            return Verdict::Pass;
        };
        let Some(rid) = p.get("requestId") else {
            return Verdict::Pass;
        };
        let key = rid.to_string();
        if let Some(f) = self.in_flight.remove(&key) {
            let held: Option<String> = self.guard_reqs.iter().find_map(|(g, r)| match r {
                GuardReq::Confirm { client_id, .. } if *client_id == key => Some(g.clone()),
                _ => None,
            });
            if let Some(g) = &held {
                self.guard_reqs.remove(g);
            }
            if let Some((tool, args, decision)) = f.call {
                let decision = if held.is_some() { "declined" } else { decision };
                self.tool_event(
                    &tool,
                    &args,
                    decision,
                    Some(f.started.elapsed()),
                    Some("cancelled by the client".into()),
                );
            }
            if held.is_some() {
                // The server never saw the request.
                return Verdict::Drop;
            }
        }
        Verdict::Pass
    }

    // ---- server side ------------------------------------------------------

    fn server_batch(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict {
        let items: Vec<Envelope> = match serde_json::from_slice(raw) {
            Ok(v) => v,
            Err(_) => {
                out.notes
                    .push("dropped a malformed batch from the server".into());
                self.guard_event("dropped", "server: malformed batch".into());
                return Verdict::Drop;
            }
        };
        let acted = items.iter().any(|e| match (&e.method, e.id) {
            (Some(m), id) => {
                Kind::from_changed_notification(m).is_some()
                    || id.is_some_and(|i| Self::is_guard_shaped(i.get()))
            }
            (None, Some(id)) => {
                self.in_flight.contains_key(id.get()) || self.guard_reqs.contains_key(id.get())
            }
            _ => false,
        });
        if acted {
            out.notes.push(
                "dropped a batch from the server that answers guarded requests or changes lists"
                    .into(),
            );
            self.guard_event("dropped", "server: batch with guarded messages".into());
            return Verdict::Drop;
        }
        Verdict::Pass
    }

    fn server_response(&mut self, id: &str, raw: &[u8], env: &Envelope, out: &mut Outbox) -> Verdict {
        if let Some(req) = self.guard_reqs.remove(id) {
            match req {
                GuardReq::List { kind, pages } => self.guard_list_answer(kind, pages, env, out),
                other => {
                    // A server answering the guard's question to the client.
                    self.guard_reqs.insert(id.to_string(), other);
                }
            }
            return Verdict::Drop;
        }
        let Some(f) = self.in_flight.remove(id) else {
            return Verdict::Pass;
        };
        match f.method {
            Method::ToolsCall => {
                if let Some((tool, args, decision)) = f.call {
                    let error = call_error(env);
                    self.tool_event(&tool, &args, decision, Some(f.started.elapsed()), error);
                }
                Verdict::Pass
            }
            Method::List(kind) => {
                if env.result.is_none() {
                    return Verdict::Pass;
                }
                let Ok(mut msg) = serde_json::from_slice::<Value>(raw) else {
                    return Verdict::Pass;
                };
                let Some(result) = msg.get_mut("result") else {
                    return Verdict::Pass;
                };
                match self.list_page(kind, result, !f.cursor, true, out) {
                    true => Verdict::Replace(msg.to_string().into_bytes()),
                    false => Verdict::Pass,
                }
            }
            Method::Other => Verdict::Pass,
        }
    }

    fn guard_list_answer(&mut self, kind: Kind, pages: u32, env: &Envelope, out: &mut Outbox) {
        let idx = kind_index(kind);
        let result = env
            .result
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok());
        let mut more = None;
        if let Some(mut result) = result {
            self.list_page(kind, &mut result, pages == 0, false, out);
            more = result
                .get("nextCursor")
                .filter(|c| !c.is_null())
                .cloned();
        } else {
            out.notes.push(format!(
                "the server did not answer the guard's {}; its {} stay as they were",
                kind.method(),
                kind.key()
            ));
        }
        if let Some(cursor) = more
            && pages + 1 < MAX_GUARD_PAGES
        {
            self.send_guard_list(kind, pages + 1, Some(cursor), out);
            return;
        }
        let st = &mut self.lists[idx];
        st.rechecking = false;
        if let Some(n) = st.held_notice.take() {
            out.to_client.push(n);
        }
    }

    fn send_guard_list(&mut self, kind: Kind, pages: u32, cursor: Option<Value>, out: &mut Outbox) {
        let gid = self.guard_id();
        let mut params = serde_json::Map::new();
        if let Some(c) = cursor {
            params.insert("cursor".into(), c);
        }
        if self.era == Era::Stateless
            && let Some(m) = &self.last_meta
        {
            params.insert("_meta".into(), m.clone());
        }
        let body = json!({"jsonrpc":"2.0","method":kind.method(),"params":params}).to_string();
        let mut text = body;
        text.insert_str(1, &format!("\"id\":{gid},"));
        out.to_server.push(text.into_bytes());
        self.guard_reqs.insert(gid, GuardReq::List { kind, pages });
        self.lists[kind_index(kind)].rechecking = true;
    }

    /// One page of a list result: pins (first list), hides changed and
    /// new items, records them as pending and reports them. Returns
    /// whether `result` was changed (items removed).
    fn list_page(
        &mut self,
        kind: Kind,
        result: &mut Value,
        first_page: bool,
        for_client: bool,
        out: &mut Outbox,
    ) -> bool {
        let idx = kind_index(kind);
        let last_page = result.get("nextCursor").is_none_or(Value::is_null);
        let Some(items) = result.get_mut(kind.key()).and_then(Value::as_array_mut) else {
            return false;
        };
        if first_page {
            if let Err(e) = self.store.reload() {
                out.notes.push(format!(
                    "cannot read the pins of server {}: {e}; changed items stay hidden",
                    self.rules.server
                ));
            } else {
                self.schemas.clear();
            }
            let st = &mut self.lists[idx];
            st.ok.clear();
            st.candidates.clear();
            st.initial = self.store.pinned(kind).is_none();
        }
        let policy = if kind == Kind::Tools {
            self.rules.pinned.clone()
        } else {
            None
        };
        // A policy pin the store does not match yet: the list must match
        // it as a whole before anything of it is pinned.
        let gathering = policy
            .as_ref()
            .is_some_and(|p| self.store.pinned(kind).is_none_or(|m| &pins::list_digest(m) != p));
        let mut keep = Vec::with_capacity(items.len());
        let mut changed: Vec<String> = Vec::new();
        let mut new_pins: Vec<(String, Value)> = Vec::new();
        let mut new_pending: Vec<(String, Value)> = Vec::new();
        let st = &mut self.lists[idx];
        for item in items.iter() {
            let Some((name, def)) = pins::definition(kind, item) else {
                // Nothing to pin it by: it does not reach the client.
                keep.push(false);
                continue;
            };
            if gathering {
                if st.candidates.len() < MAX_CANDIDATES {
                    st.candidates.insert(name.clone(), def.clone());
                }
                keep.push(false);
                st.hidden.insert(name, def);
                continue;
            }
            match self.store.pin(kind, &name) {
                Some(p) if *p == def => {
                    st.hidden.remove(&name);
                    st.ok.insert(name);
                    keep.push(true);
                }
                None if st.initial => {
                    new_pins.push((name.clone(), def));
                    st.ok.insert(name);
                    keep.push(true);
                }
                _ => {
                    if st.hidden.get(&name) != Some(&def) {
                        changed.push(name.clone());
                    }
                    st.ok.remove(&name);
                    new_pending.push((name.clone(), def.clone()));
                    if st.hidden.len() < pins::MAX_ITEMS || st.hidden.contains_key(&name) {
                        st.hidden.insert(name, def);
                    }
                    keep.push(false);
                }
            }
        }
        let mut list_changed_to_client = false;
        if gathering && last_page {
            let candidates = std::mem::take(&mut st.candidates);
            let digest = pins::list_digest(&candidates);
            if Some(&digest) == policy.as_ref() {
                // The first list is the one the policy approved.
                if let Some(m) = self.store.file.pinned.get_mut(&kind) {
                    m.clear();
                }
                for (name, def) in &candidates {
                    st.hidden.remove(name);
                    st.ok.insert(name.clone());
                    new_pins.push((name.clone(), def.clone()));
                }
                if first_page {
                    keep.iter_mut().for_each(|k| *k = true);
                } else if for_client {
                    list_changed_to_client = true;
                }
            } else {
                for (name, def) in candidates {
                    changed.push(name.clone());
                    new_pending.push((name, def));
                }
                out.notes.push(format!(
                    "the tool list of server {} has digest {digest}, not the {} the policy pins",
                    self.rules.server,
                    policy.as_deref().unwrap_or("")
                ));
            }
        }
        if last_page {
            self.lists[idx].initial = false;
        }
        if !new_pins.is_empty() || !new_pending.is_empty() {
            self.persist(kind, new_pins, new_pending, out);
        }
        if !changed.is_empty() {
            changed.sort();
            let names: Vec<String> = changed.iter().take(20).map(|n| shown(n)).collect();
            let more = if changed.len() > 20 {
                format!(" and {} more", changed.len() - 20)
            } else {
                String::new()
            };
            out.notes.push(format!(
                "server {} changed or added {} {}{more}: hidden from the client until approved; review with `mcp-warden approve {}`",
                self.rules.server,
                kind.key(),
                names.join(", "),
                self.rules.server
            ));
            self.guard_event(
                &format!("{}-changed", kind.noun()),
                format!("{}{more}", names.join(", ")),
            );
        }
        if list_changed_to_client {
            out.to_client.push(
                format!(r#"{{"jsonrpc":"2.0","method":"notifications/{}/list_changed"}}"#, kind.key())
                    .into_bytes(),
            );
        }
        if keep.iter().all(|k| *k) {
            return false;
        }
        let mut it = keep.into_iter();
        items.retain(|_| it.next().unwrap_or(false));
        true
    }

    /// Writes new pins and pending items on top of the file as it is now
    /// (`approve` may have written it since it was read).
    fn persist(
        &mut self,
        kind: Kind,
        new_pins: Vec<(String, Value)>,
        new_pending: Vec<(String, Value)>,
        out: &mut Outbox,
    ) {
        let replace = kind == Kind::Tools
            && self.rules.pinned.is_some()
            && new_pins.len() == self.lists[0].ok.len()
            && !new_pins.is_empty();
        let _ = self.store.reload();
        if replace && let Some(m) = self.store.file.pinned.get_mut(&kind) {
            m.clear();
        }
        let mut dirty = false;
        for (n, d) in new_pins {
            dirty |= self.store.set_pin(kind, &n, d);
        }
        for (n, d) in &new_pending {
            if self.store.pin(kind, n) != Some(d) {
                dirty |= self.store.set_pending(kind, n, d);
            }
        }
        if dirty && let Err(e) = self.store.save() {
            out.notes.push(format!(
                "cannot record the pins of server {}: {e}",
                self.rules.server
            ));
        }
    }

    fn server_notification(&mut self, method: &str, raw: &[u8], out: &mut Outbox) -> Verdict {
        let Some(kind) = Kind::from_changed_notification(method) else {
            return Verdict::Pass;
        };
        let idx = kind_index(kind);
        if self.lists[idx].rechecking {
            // One re-check at a time; its end forwards one notice.
            self.lists[idx].held_notice = Some(raw.to_vec());
            return Verdict::Drop;
        }
        self.lists[idx].held_notice = Some(raw.to_vec());
        self.send_guard_list(kind, 0, None, out);
        Verdict::Drop
    }
}

/// The tool name (as given, or "") and the argument digest of a call.
fn call_parts(params: Option<&Value>) -> (String, String) {
    let tool = params
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(|s| truncate(s, 200))
        .unwrap_or_default();
    let args = params
        .and_then(|p| p.get("arguments"))
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    (tool, pins::value_digest(&args))
}

/// The error of a `tools/call` answer: the JSON-RPC error message, or
/// "tool error" when the result says `isError`.
fn call_error(env: &Envelope) -> Option<String> {
    #[derive(Deserialize)]
    struct Err {
        #[serde(default)]
        message: String,
    }
    #[derive(Deserialize)]
    struct Res {
        #[serde(default, rename = "isError")]
        is_error: Option<bool>,
    }
    if let Some(e) = env.error {
        return Some(
            serde_json::from_str::<Err>(e.get())
                .map(|e| truncate(&e.message, 500))
                .unwrap_or_else(|_| "malformed error".into()),
        );
    }
    let r = env.result?;
    match serde_json::from_str::<Res>(r.get()) {
        Ok(Res {
            is_error: Some(true),
        }) => Some("tool error".into()),
        _ => None,
    }
}

impl Session for GuardSession {
    fn from_client(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict {
        self.expire_held(Instant::now(), out);
        if raw.first().is_some_and(|b| *b == b'[')
            || raw
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'[')
        {
            return self.client_batch(raw, out);
        }
        let env: Envelope = match serde_json::from_slice(raw) {
            Ok(e) => e,
            Err(_) => {
                // Valid JSON, but not one message (a duplicate key, a
                // wrong type): nothing can say which id to answer.
                out.to_client.push(error_response(
                    "null",
                    INVALID_REQUEST,
                    "mcp-warden: the message is not a JSON-RPC request or response",
                    None,
                ));
                self.guard_event("refused", "client: not a JSON-RPC message".into());
                return Verdict::Drop;
            }
        };
        match (env.method.as_deref(), env.id) {
            (Some(m), Some(id)) => {
                let m = m.to_string();
                self.client_request(id.get(), &m, &env, raw, out)
            }
            (Some("notifications/cancelled"), None) => self.client_cancelled(&env),
            (Some(_), None) => Verdict::Pass,
            (None, Some(id)) => self.client_response(id.get(), &env, out),
            (None, None) => Verdict::Pass,
        }
    }

    fn from_server(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict {
        self.expire_held(Instant::now(), out);
        if raw
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'[')
        {
            return self.server_batch(raw, out);
        }
        let env: Envelope = match serde_json::from_slice(raw) {
            Ok(e) => e,
            Err(_) => {
                out.notes
                    .push("dropped a message from the server that is not JSON-RPC".into());
                self.guard_event("dropped", "server: not a JSON-RPC message".into());
                return Verdict::Drop;
            }
        };
        match (env.method.as_deref(), env.id) {
            (Some(_), Some(id)) if Self::is_guard_shaped(id.get()) => {
                out.to_server.push(error_response(
                    id.get(),
                    INVALID_REQUEST,
                    "mcp-warden: request ids starting with \"mcp-warden-\" are reserved for the guard",
                    None,
                ));
                Verdict::Drop
            }
            (Some(_), Some(_)) => Verdict::Pass,
            (Some(m), None) => {
                let m = m.to_string();
                self.server_notification(&m, raw, out)
            }
            (None, Some(id)) => {
                let id = id.get().to_string();
                self.server_response(&id, raw, &env, out)
            }
            (None, None) => Verdict::Pass,
        }
    }

    fn refused(&mut self, side: Side, what: &str) {
        let side = match side {
            Side::Client => "client",
            Side::Server => "server",
        };
        self.guard_event("refused", format!("{side}: {}", truncate(what, 200)));
    }
}
