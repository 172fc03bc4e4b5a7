//! `tools/call` admission: argument shape, deny-tools, the overall and
//! per-tool rates, pinned and listed ([`GuardSession::usable`]), the
//! pinned schema; then the call goes on (tracked in flight) or to a
//! confirmation of its era (`confirm.rs`).

use std::time::Instant;

use serde_json::{Value, json};

use super::inflight::{InFlight, Method};
use super::{Era, GuardSession, INVALID_PARAMS, RATE_LIMITED, REFUSED, shown};
use crate::audit::CallDecision;
use crate::launch::guard::envelope::Id;
use crate::launch::guard::pins::{self, Kind};
use crate::launch::guard::rate::TokenBucket;
use crate::launch::guard::schema::ArgSchema;
use crate::launch::guard::{Outbox, Verdict, truncate};

/// Why a call does not reach the server: its audit decision and the
/// JSON-RPC error the client gets.
pub(super) struct Refusal {
    pub(super) decision: CallDecision,
    pub(super) code: i64,
    pub(super) message: String,
    pub(super) data: Option<Value>,
}

impl Refusal {
    pub(super) fn new(decision: CallDecision, code: i64, message: String) -> Refusal {
        Refusal {
            decision,
            code,
            message,
            data: None,
        }
    }
}

impl GuardSession {
    /// The checks every `tools/call` passes before confirmation, in order:
    /// argument shape, deny-tools, the overall rate, pinned and listed, the
    /// tool's own rate, the pinned schema.
    pub(super) fn admit(
        &mut self,
        name: &str,
        arguments: Option<&Value>,
        now: Instant,
        out: &mut Outbox,
    ) -> Result<(), Refusal> {
        let server = &self.rules.server;
        if arguments.is_some_and(|a| !a.is_object() && !a.is_null()) {
            return Err(Refusal::new(
                CallDecision::InvalidArguments,
                INVALID_PARAMS,
                format!(
                    "mcp-warden: the arguments of tool `{}` must be a JSON object",
                    shown(name)
                ),
            ));
        }
        if self.deny.is_match(name) {
            return Err(Refusal::new(
                CallDecision::Denied,
                REFUSED,
                format!(
                    "mcp-warden: tool `{}` is denied by the policy (deny-tools of server {server}); ask the administrator if it is needed",
                    shown(name)
                ),
            ));
        }
        if let Some(b) = self.overall.as_mut()
            && let Err(wait) = b.take(now)
        {
            let ms = wait.as_millis().max(1) as u64;
            return Err(Refusal {
                data: Some(json!({"limit": "overall", "retryAfterMs": ms})),
                ..Refusal::new(
                    CallDecision::RateLimited,
                    RATE_LIMITED,
                    format!(
                        "mcp-warden: the rate limit over all tools of server {server} is reached; retry in {ms} ms"
                    ),
                )
            });
        }
        if !self.usable(name, out) {
            let server = &self.rules.server;
            return Err(Refusal::new(
                CallDecision::Unpinned,
                REFUSED,
                format!(
                    "mcp-warden: tool `{}` is not an approved tool of server {server} (changed, new, or not listed yet); list the tools first, and if it changed run `{}`",
                    shown(name),
                    self.rules.approve_command()
                ),
            ));
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
                return Err(Refusal {
                    data: Some(json!({"limit": "per-tool", "tool": name, "retryAfterMs": ms})),
                    ..Refusal::new(
                        CallDecision::RateLimited,
                        RATE_LIMITED,
                        format!(
                            "mcp-warden: the rate limit of tool `{}` is reached; retry in {ms} ms",
                            shown(name)
                        ),
                    )
                });
            }
        }
        self.check_arguments(name, arguments).map_err(|problem| {
            Refusal::new(
                CallDecision::InvalidArguments,
                INVALID_PARAMS,
                format!(
                    "mcp-warden: invalid arguments for tool `{}`: {problem}",
                    shown(name)
                ),
            )
        })
    }

    /// A call that goes on to the server (`decision`: allowed or
    /// confirmed), awaiting its answer.
    pub(super) fn track_call(
        &mut self,
        id: &Id,
        tool: String,
        args: String,
        decision: CallDecision,
        now: Instant,
    ) {
        let call = Some((tool, args, decision));
        let f = InFlight {
            method: Method::ToolsCall,
            started: Some(now),
            call,
            cursor: false,
        };
        self.in_flight.insert(id.clone(), f);
    }

    pub(super) fn client_call(
        &mut self,
        id: &Id,
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
                CallDecision::InvalidArguments,
                INVALID_PARAMS,
                "mcp-warden: tools/call needs params.name, the tool's name".into(),
                None,
            );
        };
        let arguments = params.as_ref().and_then(|p| p.get("arguments"));
        if let Err(r) = self.admit(name, arguments, now, out) {
            return self.refuse_call(out, id, &tool, &args, r.decision, r.code, r.message, r.data);
        }
        if self.confirm.is_match(name) && self.era == Era::Stateless {
            return self.confirm_stateless(id, name, params.as_ref(), &tool, &args, now, out);
        }
        if self.confirm.is_match(name) {
            return self.confirm_elicitation(id, name, arguments, raw, tool, args, now, out);
        }
        self.track_call(id, tool, args, CallDecision::Allowed, now);
        Verdict::Pass
    }

    /// Whether `name` is pinned and was listed unchanged; a hidden tool
    /// is looked up in the store again (an approval since).
    pub(super) fn usable(&mut self, name: &str, out: &mut Outbox) -> bool {
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

    pub(super) fn check_arguments(
        &mut self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Result<(), String> {
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
}

/// The tool name (as given, or "") and the argument digest of a call.
pub(super) fn call_parts(params: Option<&Value>) -> (String, String) {
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
