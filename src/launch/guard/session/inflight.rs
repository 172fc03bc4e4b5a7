//! In-flight tracking: the requests of each side awaiting an answer
//! ([`InFlight`] for the client's, the server's ids, the guard's own
//! requests to either side under fresh random ids), and the routing of
//! answers, which pass only to an id in flight from the side they answer.

use std::time::Instant;

use serde_json::Value;

use super::lists::{GuardList, kind_index};
use super::{Era, GuardSession, SERVER_FAULT, error_response, shown};
use crate::audit::{CallDecision, GuardKind};
use crate::launch::guard::envelope::{Envelope, Id, call_error};
use crate::launch::guard::pins::Kind;
use crate::launch::guard::tokens::{self, GUARD_ID_PREFIX};
use crate::launch::guard::{Outbox, Verdict, truncate};

/// What a client request in flight asked for, as far as its answer matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    ToolsCall,
    List(Kind),
    Other,
}

/// A client request awaiting the server's answer.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) method: Method,
    /// When a `tools/call` arrived (for its audit record's duration);
    /// other requests read no clock.
    pub(super) started: Option<Instant>,
    /// For `tools/call`: tool, argument digest, decision.
    pub(super) call: Option<(String, String, CallDecision)>,
    /// A list request that asked for a later page.
    pub(super) cursor: bool,
}

impl GuardSession {
    /// A fresh id for one request of the guard (128 random bits).
    pub(super) fn guard_id() -> Id {
        Id::Str(tokens::guard_id())
    }

    /// Whether `id` is one of the guard's requests in flight, to either side.
    pub(super) fn is_guard_id_in_flight(&self, id: &Id) -> bool {
        self.asking_client.contains_key(id) || self.asking_server.contains_key(id)
    }

    /// Whether `id` has the shape of the guard's own ids (decoded: an
    /// escaped prefix is the same prefix).
    pub(super) fn is_guard_shaped(id: &Id) -> bool {
        matches!(id, Id::Str(s) if s.starts_with(GUARD_ID_PREFIX))
    }

    pub(super) fn client_response(&mut self, id: &Id, env: &Envelope, out: &mut Outbox) -> Verdict {
        // Only the guard's questions to the client: its re-lists went to
        // the server, whose ids the client never saw.
        let Some(req) = self.asking_client.remove(id) else {
            if self.server_reqs.remove(id) {
                return Verdict::Pass;
            }
            // Nothing asked for it: an answer the guard did not decide on.
            out.notes.push(format!(
                "dropped an answer from the client to id {}, which no request awaits",
                shown(&id.json())
            ));
            self.guard_event(
                GuardKind::Refused,
                format!("client: answer to id {} not in flight", shown(&id.json())),
            );
            return Verdict::Drop;
        };
        self.confirmation_answered(req, env, out)
    }

    pub(super) fn client_cancelled(&mut self, env: &Envelope) -> Verdict {
        let Some(p) = env
            .params
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
        else {
            return Verdict::Pass;
        };
        let Some(key) = p.get("requestId").and_then(Id::from_value) else {
            return Verdict::Pass;
        };
        if let Some(f) = self.in_flight.remove(&key) {
            if matches!(f.method, Method::List(_)) {
                self.note_stale_list(&key);
            }
            let held: Option<Id> = (self.asking_client.iter())
                .find_map(|(g, r)| (r.client_id == key).then(|| g.clone()));
            if let Some(g) = &held {
                self.asking_client.remove(g);
            }
            if let Some((tool, args, decision)) = f.call {
                let decision = if held.is_some() {
                    CallDecision::Declined
                } else {
                    decision
                };
                self.tool_event(
                    &tool,
                    &args,
                    decision,
                    f.started.map(|s| s.elapsed()),
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

    pub(super) fn server_response(
        &mut self,
        id: &Id,
        raw: &[u8],
        env: &Envelope,
        out: &mut Outbox,
    ) -> Verdict {
        // Only the guard's requests to the server: its questions to the
        // client have ids the server never saw, and an answer from the
        // server under one is dropped below as not in flight.
        if let Some(GuardList { kind, pages }) = self.asking_server.remove(id) {
            self.guard_list_answer(kind, pages, env, out);
            return Verdict::Drop;
        }
        // A call held for confirmation has not reached the server: an
        // answer to it is forged, and would be recorded as `confirmed`.
        let held = self.asking_client.values().any(|r| r.client_id == *id);
        let f = match held {
            true => None,
            false => self.in_flight.remove(id),
        };
        let Some(f) = f else {
            if self.stale_lists.iter().any(|s| s == id) {
                // The server's answer to a list the client cancelled, or
                // a second answer: it would reach the client unfiltered.
                out.notes.push(
                    "dropped an answer from the server to a list request that was cancelled or already answered"
                        .into(),
                );
                self.guard_event(
                    GuardKind::Dropped,
                    "server: answer to a finished list request".into(),
                );
                return Verdict::Drop;
            }
            // Nothing asked for it: an answer the guard did not decide on.
            out.notes.push(format!(
                "dropped an answer from the server to id {}, which no request awaits",
                shown(&id.json())
            ));
            self.guard_event(
                GuardKind::Dropped,
                format!("server: answer to id {} not in flight", shown(&id.json())),
            );
            return Verdict::Drop;
        };
        if matches!(f.method, Method::List(_)) {
            self.note_stale_list(id);
        }
        match f.method {
            Method::ToolsCall => {
                let Some((tool, args, decision)) = f.call else {
                    return Verdict::Pass;
                };
                let error = call_error(env);
                self.tool_event(
                    &tool,
                    &args,
                    decision,
                    f.started.map(|s| s.elapsed()),
                    error,
                );
                if decision == CallDecision::Confirmed
                    && self.era == Era::Stateless
                    && let Some(b) = self.wrap_server_round(&tool, &args, raw)
                {
                    return Verdict::Replace(b);
                }
                Verdict::Pass
            }
            Method::List(kind) => {
                if env.result.is_none() {
                    return Verdict::Pass;
                }
                let Ok(mut msg) = serde_json::from_slice::<Value>(raw) else {
                    // Checked strictly by the framer: not reached.
                    out.notes
                        .push("dropped a list answer from the server that does not decode".into());
                    return Verdict::Drop;
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

    /// The server's answer to `id` was refused: the guard's re-check ends,
    /// or the client's request is answered with an error.
    pub(super) fn answer_refused(&mut self, key: &Id, what: &str, out: &mut Outbox) {
        if let Some(GuardList { kind, .. }) = self.asking_server.remove(key) {
            out.notes.push(format!(
                "the server's answer to the guard's {} was refused; its {} stay as they were",
                kind.method(),
                kind.key()
            ));
            let st = &mut self.lists[kind_index(kind)];
            st.rechecking = false;
            if let Some(n) = st.held_notice.take() {
                out.to_client.push(n);
            }
            return;
        }
        let Some(f) = self.in_flight.remove(key) else {
            return;
        };
        if matches!(f.method, Method::List(_)) {
            self.note_stale_list(key);
        }
        let msg = format!(
            "mcp-warden: the server's answer was refused ({}); nothing of it was passed on",
            truncate(what, 200)
        );
        if let (Method::ToolsCall, Some((tool, args, decision))) = (f.method, f.call) {
            self.tool_event(
                &tool,
                &args,
                decision,
                f.started.map(|s| s.elapsed()),
                Some(msg.clone()),
            );
        }
        out.to_client
            .push(error_response(key, SERVER_FAULT, &msg, None));
    }
}
