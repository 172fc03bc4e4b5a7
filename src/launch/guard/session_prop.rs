//! Property test of the guard's protocol layer (issue 16): random message
//! sequences from both sides, fed to a [`GuardSession`] without I/O.
//!
//! Requests, notifications and answers with random ids (colliding ones,
//! ids spelled with escapes or as `40.0`, ids the guard issued, `null`),
//! `tools/call`s of denied, confirm-required and look-alike tools spelled
//! in several ways, random arguments, server requests under forged ids,
//! list changes. After every message, over everything that reached the
//! server's input (what passed, what replaced it, what the guard sent of
//! its own accord), decoded as the server decodes it:
//!
//! - no `tools/call` of a denied tool, and none without an id;
//! - no `tools/call` of a confirm tool unless it is the very call the
//!   guard asked about, released by the client's `accept` of that ask;
//! - no request id in flight twice towards the server, and none towards
//!   the client;
//! - the in-flight map stays within `max-in-flight`.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::envelope::{Envelope, Id, MsgKind};
use super::frame::scan_message;
use super::pins::PinStore;
use super::session::GuardSession;
use super::{Limits, Outbox, Rules, Session, Verdict};

const DIGEST: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

use super::test_rng::Rng;

/// The server's tools: the real ones and look-alikes.
const LISTED: &[&str] = &[
    "echo",
    "delete_all",
    "run_shell",
    "read_file",
    "DELETE_ALL",
    "delete_all ",
    "ｄelete_all",
    "run_shelL",
    "run_shell2",
];

/// Tool names as a client spells them in a call (JSON string text).
const CALLED: &[&str] = &[
    r#""echo""#,
    r#""delete_all""#,
    r#""delete_\u0061ll""#,
    r#""\u0064elete_all""#,
    r#""delete_all ""#,
    r#""DELETE_ALL""#,
    r#""ｄelete_all""#,
    r#""delete_everything""#,
    r#""run_shell""#,
    r#""run\u005fshell""#,
    r#""run_shel\u006c""#,
    r#""run_shelL""#,
    r#""run_shell2""#,
    r#""read_file""#,
    r#""nope""#,
];

fn denied(name: &str) -> bool {
    name.starts_with("delete_")
}

fn to_confirm(name: &str) -> bool {
    name == "run_shell"
}

fn rules(r: &mut Rng) -> Rules {
    let mut rules = Rules::new("srv", DIGEST);
    rules.deny_tools = vec!["delete_*".into()];
    rules.confirm_tools = vec!["run_shell".into()];
    rules.max_in_flight = r.pick(&[1, 3, 8, 64]);
    rules.strict_arguments = r.one_in(2);
    rules.rate_overall = None;
    if r.one_in(4) {
        rules.rate_overall = Some(super::Bucket {
            per_second: 1000.0,
            burst: 5,
        });
    }
    rules
}

fn tool(name: &str) -> Value {
    json!({"name": name, "description": "d",
        "inputSchema": {"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}})
}

/// An id's JSON text: the usual spelling, or now and then another one of
/// the same value (escaped) or a form the guard must refuse.
fn spell(r: &mut Rng, id: &Value) -> String {
    match id {
        Value::Number(n) if r.one_in(8) => r
            .pick(&["{n}.0", "{n}e0", "\"{n}\""])
            .replace("{n}", &n.to_string()),
        Value::String(s) if r.one_in(4) && !s.is_empty() => {
            let mut out = String::from("\"");
            for (j, c) in s.chars().enumerate() {
                if j == 0 && c.is_ascii() {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    let quoted = Value::String(c.to_string()).to_string();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
            }
            out.push('"');
            out
        }
        v => v.to_string(),
    }
}

/// A fresh id for a request of `r`'s choosing, often colliding.
fn some_id(r: &mut Rng, seen: &[Value]) -> Value {
    match r.below(10) {
        0..=4 => json!(r.below(12)),
        5 => json!(format!("{}", r.below(6))),
        6 => json!(format!("mcp-warden-{}", r.below(3))),
        7 | 8 if !seen.is_empty() => seen[r.below(seen.len())].clone(),
        _ => json!(format!("r{}", r.below(30))),
    }
}

struct Model {
    /// Requests that reached the server's input, awaiting its answer.
    at_server: HashSet<Id>,
    /// Requests that reached the client, awaiting its answer.
    at_client: HashSet<Id>,
    /// The guard's confirmation asks the client saw: the call each one
    /// would release.
    asks: HashMap<Id, Vec<u8>>,
    /// Ids of requests each side received (to answer, or to forge).
    server_saw: Vec<Value>,
    client_saw: Vec<Value>,
}

/// The strict decode's view of a message (as the guard reads it).
fn decoded(m: &[u8]) -> Option<(MsgKind, Option<Id>)> {
    let sc = scan_message(m, Limits::default()).ok()?;
    match Envelope::decode(m, &sc) {
        Ok(e) => Some((e.kind, e.id)),
        Err((_, id)) => id.map(|id| (MsgKind::Response, Some(id))),
    }
}

fn client_message(r: &mut Rng, model: &Model) -> String {
    let id = |r: &mut Rng| {
        let v = some_id(r, &model.client_saw);
        spell(r, &v)
    };
    match r.below(20) {
        0..=7 => {
            let args = r.pick(&[
                r#"{"text":"x"}"#,
                r#"{"text":"rm -rf /"}"#,
                r#"{"text":5}"#,
                r#"{}"#,
                r#"{"text":"x","extra":1}"#,
            ]);
            let name = r.pick(CALLED);
            let head = match r.below(12) {
                0 => String::new(),
                1 => r#""id":null,"#.to_string(),
                _ => format!(r#""id":{},"#, id(r)),
            };
            format!(
                r#"{{"jsonrpc":"2.0",{head}"method":"tools/call","params":{{"name":{name},"arguments":{args}}}}}"#
            )
        }
        8 | 9 => {
            let m = r.pick(&["ping", "tools/list", "prompts/list", "resources/list"]);
            format!(r#"{{"jsonrpc":"2.0","id":{},"method":"{m}"}}"#, id(r))
        }
        10 | 11 => format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{}}}}}"#,
            id(r)
        ),
        12..=17 => {
            // An answer: to something the client received, or not.
            let to = if !model.client_saw.is_empty() && !r.one_in(5) {
                let k = r.below(model.client_saw.len());
                spell(r, &model.client_saw[k])
            } else {
                id(r)
            };
            let body = match r.below(6) {
                0..=2 => r#""result":{"action":"accept","content":{}}"#,
                3 => r#""result":{"action":"decline"}"#,
                4 => r#""result":{}"#,
                _ => r#""error":{"code":-1,"message":"no"}"#,
            };
            format!(r#"{{"jsonrpc":"2.0","id":{to},{body}}}"#)
        }
        _ => r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string(),
    }
}

fn server_message(r: &mut Rng, model: &Model) -> String {
    match r.below(20) {
        0..=8 => {
            let to = if !model.server_saw.is_empty() && !r.one_in(6) {
                let k = r.below(model.server_saw.len());
                spell(r, &model.server_saw[k])
            } else {
                let v = some_id(r, &model.client_saw);
                spell(r, &v)
            };
            let body = match r.below(5) {
                0 | 1 => r#""result":{"content":[{"type":"text","text":"ok"}]}"#.to_string(),
                2 => {
                    let mut names: Vec<&str> = LISTED.to_vec();
                    if r.one_in(2) {
                        names.push("delete_everything");
                    }
                    let tools: Vec<Value> = names.into_iter().map(tool).collect();
                    format!(r#""result":{}"#, json!({ "tools": tools }))
                }
                3 => r#""result":{}"#.to_string(),
                _ => r#""error":{"code":-32000,"message":"e"}"#.to_string(),
            };
            format!(r#"{{"jsonrpc":"2.0","id":{to},{body}}}"#)
        }
        9..=13 => {
            // A server request to the client, under a forged id now and then
            // (one the guard gave the client, or one already in flight).
            let id = if !model.client_saw.is_empty() && r.one_in(3) {
                model.client_saw[r.below(model.client_saw.len())].clone()
            } else {
                some_id(r, &[])
            };
            let m = r.pick(&["elicitation/create", "sampling/createMessage", "ping", "roots/list"]);
            format!(
                r#"{{"jsonrpc":"2.0","id":{},"method":"{m}","params":{{"message":"Allow?","requestedSchema":{{"type":"object","properties":{{}}}}}}}}"#,
                spell(r, &id)
            )
        }
        14 | 15 => r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#.into(),
        16 => r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#.into(),
        _ => r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#.into(),
    }
}

/// One sequence; panics with the history on a broken invariant.
fn sequence(seed: u64) -> (usize, usize, usize) {
    let mut r = Rng(seed);
    let rules = rules(&mut r);
    let max_in_flight = rules.max_in_flight;
    let dir = tempfile::tempdir().unwrap();
    let store = PinStore::open(dir.path(), "srv", DIGEST, None).unwrap();
    let mut s = GuardSession::new(rules, store, Box::new(crate::audit::Discard)).unwrap();
    let elicitation = !r.one_in(4);
    let mut model = Model {
        at_server: HashSet::new(),
        at_client: HashSet::new(),
        asks: HashMap::new(),
        server_saw: Vec::new(),
        client_saw: Vec::new(),
    };
    let caps = if elicitation {
        json!({"elicitation": {}})
    } else {
        json!({})
    };
    let mut script: Vec<(bool, String)> = vec![
        (
            true,
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                "protocolVersion":"2025-11-25","capabilities":caps,"clientInfo":{"name":"t","version":"1"}}})
            .to_string(),
        ),
        (
            false,
            r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"s","version":"1"}}}"#.into(),
        ),
        (true, r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.into()),
        (
            false,
            json!({"jsonrpc":"2.0","id":1,"result":{"tools": LISTED.iter().map(|n| tool(n)).collect::<Vec<_>>()}}).to_string(),
        ),
    ];
    let steps = 40;
    let (mut forwarded, mut confirmed, mut denied_seen) = (0, 0, 0);
    let mut history: Vec<String> = Vec::new();
    for step in 0..script.len() + steps {
        let (from_client, msg) = if step < script.len() {
            std::mem::take(&mut script[step])
        } else if r.one_in(2) {
            (true, client_message(&mut r, &model))
        } else {
            (false, server_message(&mut r, &model))
        };
        history.push(format!("{} {msg}", if from_client { "C>" } else { "S>" }));
        let fail = |what: String, history: &[String]| -> ! {
            panic!("seed {seed:#x}: {what}\n{}", history.join("\n"))
        };
        let raw = msg.as_bytes();
        let mut out = Outbox::default();
        let verdict = if from_client {
            s.from_client(raw, &mut out)
        } else {
            s.from_server(raw, &mut out)
        };
        let passed = match &verdict {
            Verdict::Pass => Some(raw.to_vec()),
            Verdict::Replace(b) => Some(b.clone()),
            Verdict::Drop => None,
        };
        let (mut to_server, mut to_client) = (out.to_server, out.to_client);
        // Which messages of the client are the guard's own (its asks).
        let own_to_client = to_client.len();
        if let Some(p) = passed {
            if from_client {
                to_server.insert(0, p);
            } else {
                to_client.push(p);
            }
        }

        // What the message itself ends, as the guard decodes it.
        let mut released: Option<Vec<u8>> = None;
        match decoded(raw) {
            Some((MsgKind::Response, Some(id))) if from_client => {
                let ask = model.asks.remove(&id);
                let v: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
                if v["result"]["action"] == "accept" && model.at_client.contains(&id) {
                    released = ask;
                }
                model.at_client.remove(&id);
            }
            Some((MsgKind::Response, Some(id))) => {
                model.at_server.remove(&id);
            }
            _ => {}
        }

        for m in &to_server {
            let v: Value = serde_json::from_slice(m).unwrap_or_else(|e| {
                fail(
                    format!("the server got a line it cannot parse ({e})"),
                    &history,
                )
            });
            history.push(format!("  ->S {}", String::from_utf8_lossy(m)));
            let method = v.get("method").and_then(Value::as_str);
            let id = v.get("id");
            if method == Some("notifications/cancelled")
                && let Some(k) = v["params"].get("requestId").and_then(Id::from_value)
            {
                model.at_server.remove(&k);
            }
            if method == Some("tools/call") {
                let name = v["params"]["name"].as_str().unwrap_or_default();
                if id.and_then(Id::from_value).is_none() {
                    fail(
                        format!("a tools/call of `{name}` without an id reached the server"),
                        &history,
                    );
                }
                if denied(name) {
                    fail(
                        format!("the denied tool `{name}` reached the server"),
                        &history,
                    );
                }
                if to_confirm(name) {
                    if released.as_deref() != Some(&m[..]) {
                        fail(
                            format!(
                                "`{name}` reached the server without an accepted ask for this call"
                            ),
                            &history,
                        );
                    }
                    released = None;
                    confirmed += 1;
                }
                forwarded += 1;
            }
            if let (Some(_), Some(id)) = (method, id) {
                let Some(k) = Id::from_value(id) else {
                    fail(
                        format!("a request with id {id} reached the server"),
                        &history,
                    );
                };
                if !model.at_server.insert(k.clone()) {
                    fail(
                        format!("id {id} is in flight twice at the server"),
                        &history,
                    );
                }
                model.server_saw.push(id.clone());
            }
        }
        for (j, m) in to_client.iter().enumerate() {
            let v: Value = serde_json::from_slice(m).unwrap_or_else(|e| {
                fail(
                    format!("the client got a line it cannot parse ({e})"),
                    &history,
                )
            });
            history.push(format!("  ->C {}", String::from_utf8_lossy(m)));
            if v.get("error").is_some()
                && v["error"]["message"]
                    .as_str()
                    .is_some_and(|t| t.contains("denied"))
            {
                denied_seen += 1;
            }
            let method = v.get("method").and_then(Value::as_str);
            if let (Some(method), Some(id)) = (method, v.get("id")) {
                let Some(k) = Id::from_value(id) else {
                    fail(
                        format!("a request with id {id} reached the client"),
                        &history,
                    );
                };
                if !model.at_client.insert(k.clone()) {
                    fail(
                        format!("id {id} is in flight twice at the client"),
                        &history,
                    );
                }
                if j < own_to_client && method == "elicitation/create" && from_client {
                    model.asks.insert(k, raw.to_vec());
                }
                model.client_saw.push(id.clone());
            }
        }
        if s.in_flight_len() > max_in_flight {
            fail(
                format!(
                    "{} requests in flight, over {max_in_flight}",
                    s.in_flight_len()
                ),
                &history,
            );
        }
    }
    (forwarded, confirmed, denied_seen)
}

#[test]
fn random_sequences_never_forward_denied_or_unconfirmed_calls() {
    let started = std::time::Instant::now();
    let (mut forwarded, mut confirmed, mut denied) = (0, 0, 0);
    let sequences = 2000;
    for n in 0..sequences {
        let (f, c, d) = sequence(0x5e55_1011_u64.wrapping_mul(n + 1) ^ n);
        forwarded += f;
        confirmed += c;
        denied += d;
    }
    // The sequences reached every branch that matters.
    assert!(
        forwarded > 1000 && confirmed > 50 && denied > 1000,
        "{forwarded} {confirmed} {denied}"
    );
    println!(
        "session property: {sequences} sequences of 44 messages; {forwarded} calls forwarded \
         ({confirmed} after an accepted ask), {denied} denied; {:.1?}",
        started.elapsed()
    );
}

/// Found by the property test: a second server request under an id the
/// client has not answered yet was passed, so the client had two requests
/// with one id in flight. It is dropped and reported.
#[test]
fn a_server_request_id_already_in_flight_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = PinStore::open(dir.path(), "srv", DIGEST, None).unwrap();
    let mut s = GuardSession::new(
        Rules::new("srv", DIGEST),
        store,
        Box::new(crate::audit::Discard),
    )
    .unwrap();
    let ask = |id: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"sampling/createMessage","params":{{}}}}"#)
    };
    let mut out = Outbox::default();
    assert_eq!(s.from_server(ask("5").as_bytes(), &mut out), Verdict::Pass);
    assert_eq!(s.from_server(ask("5").as_bytes(), &mut out), Verdict::Drop);
    assert!(out.to_server.is_empty() && out.to_client.is_empty());
    assert!(
        out.notes.iter().any(|n| n.contains("still awaiting")),
        "{:?}",
        out.notes
    );
    // Another id passes; once the client answered, the id is free again.
    assert_eq!(
        s.from_server(ask(r#""5""#).as_bytes(), &mut out),
        Verdict::Pass
    );
    let answer = br#"{"jsonrpc":"2.0","id":5,"result":{}}"#;
    assert_eq!(s.from_client(answer, &mut out), Verdict::Pass);
    assert_eq!(s.from_server(ask("5").as_bytes(), &mut out), Verdict::Pass);
}
