//! Confirmations, per protocol era (see the module documentation of
//! [`super`]): an `elicitation/create` of the guard's to the client, which
//! holds the call (2025-11-25 and earlier); an `input_required` result
//! with a `requestState` token of the guard's, honoured once on the
//! retry (2026-07-28), and the server's own rounds carried inside such
//! tokens. Confirmations nobody answers in time are declined.

use std::time::Instant;

use serde_json::{Value, json};

use super::{GuardSession, REFUSED, error_response, shown};
use crate::audit::{CallDecision, GuardKind};
use crate::launch::guard::envelope::{Envelope, Id};
use crate::launch::guard::tokens::{Rejected, Round};
use crate::launch::guard::{Outbox, Verdict, truncate};

/// Confirmations waiting for the user at once.
pub const MAX_HELD: usize = 16;
/// The key of the guard's confirmation among a call's `inputRequests`
/// (2026-07-28).
pub(super) const CONFIRM_KEY: &str = "mcp-warden-confirm";

/// The guard's confirmation question, sent to the client
/// (`elicitation/create`, 2025-11-25 era), and the call it holds.
#[derive(Debug)]
pub(super) struct GuardConfirm {
    pub(super) client_id: Id,
    pub(super) raw: Vec<u8>,
    pub(super) tool: String,
    pub(super) args: String,
    pub(super) expires: Instant,
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
        let key = crate::text::printable(k, 40);
        parts.push(format!("{key} ({what})"));
    }
    truncate(&parts.join(", "), 160)
}

impl GuardSession {
    /// Confirmations nobody answered in time are declined.
    /// Reads the clock only when a confirmation is held.
    pub(super) fn expire_held(&mut self, out: &mut Outbox) {
        if self.asking_client.is_empty() {
            return;
        }
        let now = self.now();
        let expired: Vec<Id> = self
            .asking_client
            .iter()
            .filter(|(_, r)| r.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            if let Some(GuardConfirm {
                client_id,
                tool,
                args,
                ..
            }) = self.asking_client.remove(&k)
            {
                let started = self.in_flight.remove(&client_id).and_then(|f| f.started);
                let msg = format!(
                    "mcp-warden: tool `{}` needs confirmation and none came within {} s; call it again to be asked again",
                    shown(&tool),
                    self.rules.confirm_timeout.as_secs()
                );
                out.to_client
                    .push(error_response(&client_id, REFUSED, &msg, None));
                let d = started.map(|s| now.saturating_duration_since(s));
                self.tool_event(&tool, &args, CallDecision::Declined, d, Some(msg));
            }
        }
    }

    /// Confirmation in the 2025-11-25 era: the call is held and the
    /// client asked with an `elicitation/create` of the guard's, under a
    /// fresh id; refused when the client cannot ask or too many
    /// confirmations wait.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn confirm_elicitation(
        &mut self,
        id: &Id,
        name: &str,
        arguments: Option<&Value>,
        raw: &[u8],
        tool: String,
        args: String,
        now: Instant,
        out: &mut Outbox,
    ) -> Verdict {
        let why = if !self.elicitation {
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
                CallDecision::Declined,
                REFUSED,
                format!(
                    "mcp-warden: tool `{}` needs confirmation, and {why}; use a client with elicitation support or change confirm-tools in the policy",
                    shown(name)
                ),
                None,
            );
        }
        let gid = Self::guard_id();
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
        text.insert_str(1, &format!("\"id\":{gid},"));
        out.to_client.push(text.into_bytes());
        self.asking_client.insert(
            gid,
            GuardConfirm {
                client_id: id.clone(),
                raw: raw.to_vec(),
                tool: tool.clone(),
                args: args.clone(),
                expires: now + self.rules.confirm_timeout,
            },
        );
        self.track_call(id, tool, args, CallDecision::Confirmed, now);
        Verdict::Drop
    }

    /// The client's answer to the guard's `elicitation/create`
    /// (2025-11-25 era): the held call goes on to the server when the user
    /// accepted, and is refused otherwise.
    pub(super) fn confirmation_answered(
        &mut self,
        req: GuardConfirm,
        env: &Envelope,
        out: &mut Outbox,
    ) -> Verdict {
        let GuardConfirm {
            client_id,
            raw,
            tool,
            args,
            ..
        } = req;
        let action = env
            .result
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
            .and_then(|r| r.get("action").and_then(Value::as_str).map(str::to_string));
        if action.as_deref() == Some("accept") {
            out.to_server.push(raw);
            return Verdict::Drop;
        }
        let started = self.in_flight.remove(&client_id).and_then(|f| f.started);
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
        self.tool_event(&tool, &args, CallDecision::Declined, d, Some(msg));
        Verdict::Drop
    }

    /// Confirmation in the 2026-07-28 era (see the module documentation
    /// of [`super`]).
    ///
    /// A retry whose `requestState` is a token the guard issued (see
    /// [`tokens::StateKeys`](super::super::tokens::StateKeys)) for this
    /// tool and these arguments, unspent and unexpired, goes on to the
    /// server: after the guard's own round when the user accepted (without
    /// the guard's `requestState` and answer), after a round the server
    /// asked for with the server's own `requestState` put back. A call without a token, or whose token is
    /// forged, from another session, for another tool or other
    /// arguments, already used or expired, is asked again with a fresh
    /// `input_required` result, as a server answers a retry whose state it
    /// cannot use (and the audit log records the token refused); it never
    /// reaches the server unconfirmed. A retry whose user declined is
    /// refused (-32001).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn confirm_stateless(
        &mut self,
        id: &Id,
        name: &str,
        params: Option<&Value>,
        tool: &str,
        args: &str,
        now: Instant,
        out: &mut Outbox,
    ) -> Verdict {
        let now_ms = self.session_ms(now);
        if let Some(state) = params.and_then(|p| p.get("requestState")) {
            let redeemed = match state.as_str() {
                // Bound to the full name (`tool` is cut for the audit log).
                Some(t) => self.state_keys.redeem(t, now_ms, name, args),
                None => Err(Rejected::Forged),
            };
            match redeemed {
                Ok(round) => {
                    return self.confirmed_retry(id, name, params, tool, args, round, now, out);
                }
                Err(why) => {
                    out.notes.push(format!(
                        "the requestState of a call of tool `{}` {}: asked again",
                        shown(name),
                        why.describe()
                    ));
                    self.guard_event(
                        GuardKind::Refused,
                        format!(
                            "client: requestState of a tools/call of `{}` {}; asked again",
                            shown(name),
                            why.describe()
                        ),
                    );
                }
            }
        }
        if !self.elicitation {
            return self.refuse_call(
                out,
                id,
                tool,
                args,
                CallDecision::Declined,
                REFUSED,
                format!(
                    "mcp-warden: tool `{}` needs confirmation, and this client cannot ask (no elicitation capability); use a client with elicitation support or change confirm-tools in the policy",
                    shown(name)
                ),
                None,
            );
        }
        let expires = self.session_ms(now + self.rules.confirm_timeout);
        let state = self.state_keys.issue(expires, name, args, &Round::Guard);
        let message = truncate(
            &format!(
                "Allow the tool `{}` of server {} to run? Arguments: {}",
                shown(name),
                shown(&self.rules.server),
                summarize_arguments(params.and_then(|p| p.get("arguments")))
            ),
            200,
        );
        let result = json!({
            "resultType": "input_required",
            "inputRequests": {CONFIRM_KEY: {
                "method": "elicitation/create",
                "params": {"mode": "form", "message": message,
                    "requestedSchema": {"type": "object", "properties": {}}}}},
            "requestState": state,
        });
        let mut text = json!({"jsonrpc": "2.0", "result": result}).to_string();
        text.insert_str(1, &format!("\"id\":{id},"));
        out.to_client.push(text.into_bytes());
        Verdict::Drop
    }

    /// A retry whose token the guard honoured: forwarded as the server
    /// expects it, or refused when the user did not accept.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn confirmed_retry(
        &mut self,
        id: &Id,
        name: &str,
        params: Option<&Value>,
        tool: &str,
        args: &str,
        round: Round,
        now: Instant,
        out: &mut Outbox,
    ) -> Verdict {
        let mut p = params.cloned().unwrap_or_else(|| json!({}));
        let Some(o) = p.as_object_mut() else {
            unreachable!("a call with a requestState has object params")
        };
        match round {
            Round::Guard => {
                let action = (o.get("inputResponses"))
                    .and_then(|r| r.get(CONFIRM_KEY))
                    .and_then(|a| a.get("action"))
                    .and_then(Value::as_str);
                if action != Some("accept") {
                    return self.refuse_call(
                        out,
                        id,
                        tool,
                        args,
                        CallDecision::Declined,
                        REFUSED,
                        format!(
                            "mcp-warden: tool `{}` was not run: the user did not accept",
                            shown(name)
                        ),
                        None,
                    );
                }
                // The server sees the call as the client first made it.
                o.remove("requestState");
                if let Some(r) = o.get_mut("inputResponses").and_then(Value::as_object_mut) {
                    r.remove(CONFIRM_KEY);
                    if r.is_empty() {
                        o.remove("inputResponses");
                    }
                }
            }
            // The server's own round: its state back, its answers as given.
            Round::Server(Some(state)) => {
                o.insert("requestState".into(), Value::String(state));
            }
            Round::Server(None) => {
                o.remove("requestState");
            }
        }
        let msg = json!({"jsonrpc": "2.0", "id": id.value(), "method": "tools/call", "params": p});
        self.track_call(
            id,
            tool.to_string(),
            args.to_string(),
            CallDecision::Confirmed,
            now,
        );
        Verdict::Replace(msg.to_string().into_bytes())
    }

    /// The server answered a confirmed call (2026-07-28) with its own
    /// `input_required` round: its `requestState` is carried inside a
    /// token of the guard's, so that the retry is honoured once, for this
    /// call, without asking the user again, and a made-up one is not.
    /// (`tool` is the name as recorded, cut at 200 bytes: a longer name's
    /// retry does not match and is asked again.)
    pub(super) fn wrap_server_round(
        &mut self,
        tool: &str,
        args: &str,
        raw: &[u8],
    ) -> Option<Vec<u8>> {
        let mut msg: Value = serde_json::from_slice(raw).ok()?;
        let result = msg.get_mut("result")?.as_object_mut()?;
        if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
            return None;
        }
        let state = match result.get("requestState") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            // Not a state a client can echo: its retry is asked again.
            Some(_) => return None,
        };
        let expires = self.session_ms(self.now() + self.rules.confirm_timeout);
        let token = self
            .state_keys
            .issue(expires, tool, args, &Round::Server(state));
        result.insert("requestState".into(), Value::String(token));
        Some(msg.to_string().into_bytes())
    }
}
