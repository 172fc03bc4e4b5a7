//! The strict decode of one message's envelope, the value every decision
//! of the session is made on.
//!
//! The framer's validator has already checked the whole line (strict
//! RFC 8259, UTF-8, no lone surrogates, numbers within the f64 range,
//! no member name twice in any object, integers exact as doubles,
//! bounded depth). Here the top level is decoded into an [`Envelope`]:
//! exactly one JSON object (a batch, any top-level array, is refused: MCP
//! has no batches since 2025-06-18), each envelope member at most once
//! and spelled without escapes where the framer's scan read it, an `id`
//! that is a string or an integer ([`Id`], compared by decoded value),
//! a `method` that is a string, and exactly one of a method, a result or
//! an error. What does not decode so is refused, never forwarded.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Scanned, truncate};

/// A JSON-RPC request id, as decoded: `"70"`, `"\u0037\u0030"` are the
/// same id, `70` another one; `70.0`, `7e1` and `null` are no id at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Int(i64),
    Str(String),
}

impl Id {
    /// The id's canonical JSON text (for the guard's own messages).
    pub fn json(&self) -> String {
        match self {
            Id::Int(n) => n.to_string(),
            Id::Str(s) => Value::String(s.clone()).to_string(),
        }
    }

    pub fn value(&self) -> Value {
        match self {
            Id::Int(n) => Value::from(*n),
            Id::Str(s) => Value::String(s.clone()),
        }
    }

    /// The id a decoded JSON value names, if it is one (a string or an
    /// integer within i64).
    pub fn from_value(v: &Value) -> Option<Id> {
        match v {
            Value::String(s) => Some(Id::Str(s.clone())),
            Value::Number(n) => n.as_i64().map(Id::Int),
            _ => None,
        }
    }

    /// Decodes an id from its JSON text (validated by the framer).
    fn decode(text: &[u8]) -> Result<Id, Invalid> {
        match text.first() {
            Some(b'"') => {
                let inner = &text[1..text.len().saturating_sub(1)];
                if memchr::memchr(b'\\', inner).is_none() {
                    let s = std::str::from_utf8(inner).map_err(|_| Invalid::Malformed)?;
                    return Ok(Id::Str(s.to_string()));
                }
                serde_json::from_slice::<String>(text)
                    .map(Id::Str)
                    .map_err(|_| Invalid::Malformed)
            }
            Some(b'-' | b'0'..=b'9') => {
                let t = std::str::from_utf8(text).map_err(|_| Invalid::Malformed)?;
                // Integers only: no fraction, no exponent, within i64.
                if t.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
                    return Err(Invalid::BadId);
                }
                t.parse::<i64>().map(Id::Int).map_err(|_| Invalid::BadId)
            }
            Some(b'n') => Err(Invalid::NullId),
            _ => Err(Invalid::BadId),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json())
    }
}

/// The JSON text of one value of a validated message.
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a>(pub &'a [u8]);

impl<'a> Raw<'a> {
    pub fn get(&self) -> &'a str {
        // Checked as UTF-8 by the validator (or serde) already.
        std::str::from_utf8(self.0).unwrap_or("null")
    }

    fn is_null(&self) -> bool {
        self.0 == b"null"
    }

    /// The value in full; an error is a message the guard cannot decode.
    pub fn decode(&self) -> Result<Value, Invalid> {
        serde_json::from_slice(self.0).map_err(|_| Invalid::Undecodable)
    }
}

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgKind {
    Request,
    Notification,
    Response,
}

/// One decoded message: its kind, its id and method as decoded values,
/// and the JSON text of `params`, `result` and `error`.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub kind: MsgKind,
    /// Present for requests and responses, never for notifications.
    pub id: Option<Id>,
    /// Present for requests and notifications, never for responses.
    pub method: Option<Cow<'a, str>>,
    /// `None` when absent or `null`.
    pub params: Option<Raw<'a>>,
    /// For responses: exactly one of these (`"result": null` is a result).
    pub result: Option<Raw<'a>>,
    pub error: Option<Raw<'a>>,
}

/// Why a message was refused by the strict decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// A top-level array.
    Batch,
    /// Not an object, a duplicate or wrongly typed envelope member.
    Malformed,
    /// `"id": null`.
    NullId,
    /// An id that is neither a string nor an integer within i64.
    BadId,
    /// A method beside a result or an error, or both of those.
    Ambiguous,
    /// An id without a method, a result or an error.
    NoBody,
    /// Neither a method nor an id.
    Empty,
    /// A part the guard acts on does not decode.
    Undecodable,
}

impl Invalid {
    /// The JSON-RPC error code for a client.
    pub fn code(self) -> i64 {
        match self {
            Invalid::Undecodable => -32700,
            _ => -32600,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Invalid::Batch => "batches are not part of MCP since 2025-06-18",
            Invalid::Malformed => "the message is not a JSON-RPC request or response",
            Invalid::NullId => "the id is null (MCP ids are strings or integers)",
            Invalid::BadId => "the id is neither a string nor an integer",
            Invalid::Ambiguous => {
                "the message has more than one of a method, a result and an error"
            }
            Invalid::NoBody => "the message has an id but no method, result or error",
            Invalid::Empty => "the message has neither a method nor an id",
            Invalid::Undecodable => "the message's parameters cannot be decoded",
        }
    }

    /// What the sender can do about it.
    pub fn hint(self) -> &'static str {
        match self {
            Invalid::Batch => "send each message on its own line",
            Invalid::Undecodable => {
                "send strict JSON (no lone surrogates, numbers within the f64 range)"
            }
            _ => {
                "send JSON-RPC 2.0 messages: an integer or string id, and one of method, result or error"
            }
        }
    }
}

/// The envelope members as read by serde (duplicates refused by the
/// derive; a member given as `null` is kept, as `Some("null")`).
#[derive(Deserialize)]
struct Members<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<Raw<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<Raw<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<Raw<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<Raw<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<Raw<'a>>,
}

fn present<'de: 'a, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Raw<'a>>, D::Error> {
    <&'de RawValue>::deserialize(d).map(|r| Some(Raw(r.get().as_bytes())))
}

/// Whether the document is an array (a JSON-RPC batch).
pub fn is_batch(raw: &[u8]) -> bool {
    raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

impl<'a> Envelope<'a> {
    /// The strict decode of `raw`, from the framer's scan when it could
    /// tell ([`Scanned::plain`]), else by serde. On a refusal, the id
    /// when it could be decoded (to answer with).
    pub fn decode(raw: &'a [u8], sc: &Scanned) -> Result<Envelope<'a>, (Invalid, Option<Id>)> {
        if is_batch(raw) {
            return Err((Invalid::Batch, None));
        }
        let m = match Self::members_scanned(raw, sc) {
            Some(m) => m,
            None => {
                serde_json::from_slice::<Members>(raw).map_err(|_| (Invalid::Malformed, None))?
            }
        };
        let id = match m.id {
            Some(t) => Some(Id::decode(t.0).map_err(|e| (e, None))?),
            None => None,
        };
        let fail = |e: Invalid| (e, id.clone());
        let method = match m.method {
            None => None,
            Some(t) if t.0.first() == Some(&b'"') => {
                let inner = &t.0[1..t.0.len() - 1];
                Some(if memchr::memchr(b'\\', inner).is_none() {
                    Cow::Borrowed(std::str::from_utf8(inner).map_err(|_| fail(Invalid::Malformed))?)
                } else {
                    Cow::Owned(
                        serde_json::from_slice::<String>(t.0)
                            .map_err(|_| fail(Invalid::Malformed))?,
                    )
                })
            }
            Some(_) => return Err(fail(Invalid::Malformed)),
        };
        let kind = match (&method, &id, m.result.is_some(), m.error.is_some()) {
            (Some(_), _, false, false) if id.is_some() => MsgKind::Request,
            (Some(_), _, false, false) => MsgKind::Notification,
            (Some(_), _, _, _) | (None, _, true, true) => return Err(fail(Invalid::Ambiguous)),
            (None, Some(_), true, false) | (None, Some(_), false, true) => MsgKind::Response,
            (None, Some(_), false, false) => return Err(fail(Invalid::NoBody)),
            (None, None, _, _) => return Err(fail(Invalid::Empty)),
        };
        Ok(Envelope {
            kind,
            id,
            method,
            params: m.params.filter(|p| !p.is_null()),
            result: m.result,
            error: m.error,
        })
    }

    fn members_scanned(raw: &'a [u8], sc: &Scanned) -> Option<Members<'a>> {
        if !sc.plain {
            return None;
        }
        let span = |s: Option<(usize, usize)>, null: bool| match s {
            Some((a, b)) => raw.get(a..b).map(Raw),
            None if null => Some(Raw(b"null")),
            None => None,
        };
        Some(Members {
            id: span(sc.id, sc.id_null),
            // The scan's method span is the string's contents: quote it
            // back (no escapes in it, or the scan is not plain).
            method: match sc.method {
                Some((a, b)) if a >= 1 && b < raw.len() => raw.get(a - 1..b + 1).map(Raw),
                Some(_) => return None,
                None => span(None, sc.method_null),
            },
            params: span(sc.params, false),
            result: span(sc.result, sc.result_null),
            error: span(sc.error, sc.error_null),
        })
    }
}

/// The error of a `tools/call` answer: the JSON-RPC error message, or
/// "tool error" when the result says `isError`.
pub(crate) fn call_error(env: &Envelope) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::guard::Limits;

    type Decoded = Result<(MsgKind, Option<Id>, Option<String>), (Invalid, Option<Id>)>;

    fn dec(m: &str) -> Decoded {
        let sc = super::super::frame::scan_message(m.as_bytes(), Limits::default()).unwrap();
        let both = [sc.clone(), Scanned::default()].map(|sc| {
            Envelope::decode(m.as_bytes(), &sc)
                .map(|e| (e.kind, e.id, e.method.map(|m| m.into_owned())))
        });
        // The scan's fast path and serde's decode agree.
        assert_eq!(both[0], both[1], "{m}");
        both[0].clone()
    }

    #[test]
    fn ids_are_decoded_values() {
        let id = |m: &str| dec(m).unwrap().1;
        assert_eq!(id(r#"{"id":70,"method":"x"}"#), Some(Id::Int(70)));
        assert_eq!(id(r#"{"id":-0,"method":"x"}"#), Some(Id::Int(0)));
        assert_eq!(
            id(r#"{"id":"70","method":"x"}"#),
            Some(Id::Str("70".into()))
        );
        assert_eq!(
            id(r#"{"id":"\u0037\u0030","method":"x"}"#),
            Some(Id::Str("70".into()))
        );
        assert_ne!(Id::Int(70), Id::Str("70".into()));
        for bad in [
            "70.0",
            "4.2e1",
            "7E1",
            "9223372036854775808",
            "true",
            "{}",
            "[]",
        ] {
            let m = format!(r#"{{"id":{bad},"method":"x"}}"#);
            assert_eq!(dec(&m).unwrap_err().0, Invalid::BadId, "{m}");
        }
        assert_eq!(
            dec(r#"{"id":null,"method":"x"}"#).unwrap_err().0,
            Invalid::NullId
        );
        assert_eq!(Id::Str("a\"b".into()).json(), r#""a\"b""#);
    }

    #[test]
    fn kinds_and_refusals() {
        assert_eq!(dec(r#"{"method":"n"}"#).unwrap().0, MsgKind::Notification);
        assert_eq!(
            dec(r#"{"id":1,"result":null}"#).unwrap().0,
            MsgKind::Response
        );
        assert_eq!(dec(r#"{"id":1,"error":{}}"#).unwrap().0, MsgKind::Response);
        let err = |m: &str| dec(m).unwrap_err();
        assert_eq!(
            err(r#"{"id":1,"method":"x","result":{}}"#),
            (Invalid::Ambiguous, Some(Id::Int(1)))
        );
        assert_eq!(
            err(r#"{"id":1,"method":"x","error":{}}"#).0,
            Invalid::Ambiguous
        );
        assert_eq!(
            err(r#"{"id":1,"result":{},"error":{}}"#).0,
            Invalid::Ambiguous
        );
        assert_eq!(
            err(r#"{"id":1,"result":{},"error":null}"#).0,
            Invalid::Ambiguous
        );
        assert_eq!(err(r#"{"id":1}"#), (Invalid::NoBody, Some(Id::Int(1))));
        assert_eq!(err(r#"{"jsonrpc":"2.0"}"#).0, Invalid::Empty);
        assert_eq!(err(r#"{"result":{}}"#).0, Invalid::Empty);
        assert_eq!(err(r#"{"id":1,"method":null}"#).0, Invalid::Malformed);
        assert_eq!(err(r#"{"id":1,"method":3}"#).0, Invalid::Malformed);
        // A duplicate member: the framer's strict check refuses it before
        // the envelope is decoded; serde's decode refuses it too.
        let dup = r#"{"id":1,"i\u0064":1,"method":"x"}"#;
        assert!(matches!(
            super::super::frame::scan_message(dup.as_bytes(), Limits::default()),
            Err(super::super::frame::Fault::Ambiguous { .. })
        ));
        assert_eq!(
            Envelope::decode(dup.as_bytes(), &Scanned::default())
                .unwrap_err()
                .0,
            Invalid::Malformed
        );
        assert_eq!(err("[]").0, Invalid::Batch);
        assert_eq!(err(r#" [[{"id":1,"method":"x"}]]"#).0, Invalid::Batch);
        assert_eq!(err("42").0, Invalid::Malformed);
        assert_eq!(
            dec(r#"{"id":1,"m\u0065thod":"tools/call"}"#)
                .unwrap()
                .2
                .as_deref(),
            Some("tools/call")
        );
    }
}
