//! The guard's rules end to end, through `mcp-warden run` of real servers
//! (fixtures/servers/rugpull and tally, the time server): a rug pull
//! caught and released by `approve`, policy pins, confirmation, denied
//! tools, argument checks, bounds from both sides set by the policy, the
//! in-flight and rate limits, a cancelled list, a flood of 10,000 calls,
//! and the audit log the session leaves behind; in both protocol eras
//! where the server speaks them.
//!
//! Sessions are driven by the rmcp client (tests/it/support/mcp_client.rs)
//! where the MCP behaviour matters, and by raw JSON lines (`Raw`) where the
//! bytes or the pace matter.

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::ElicitationAction;
use serde_json::{Value, json};

use super::everything::pack_npm;
use super::guard_e2e::session;
use super::support::mcp_client::{Asker, Era, McpSession, text_of};
use super::support::util::*;

/// How long a test waits for something the guard or the server is to
/// do (an answer, a re-check); generous for a busy 2-core machine. Only
/// a bound against hangs, never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// Packs fixtures/servers/NAME as an npm tarball (deterministic bytes),
/// signs it with a fresh trusted minisign key (signer `NAME-signer`) and
/// pins it as NAME.
pub(super) fn pin_fixture(env: &TestEnv, name: &str) {
    require_tool("node", &["--version"]);
    let tgz = env.path(&format!("{name}.tgz"));
    pack_npm(&fixture(&format!("servers/{name}")), None, &tgz);
    env.pin_signed(name, &tgz, &format!("{name}-signer"), &[name]);
}

/// Writes the user policy with one server's `[servers.run]` lines and,
/// if given, its `[servers.tools] pinned`.
pub(super) fn policy(env: &TestEnv, name: &str, run: &str, pinned: Option<&str>) {
    let mut text = format!("version = 1\n[[servers]]\nname = \"{name}\"\n[servers.run]\n{run}\n");
    if let Some(p) = pinned {
        text.push_str(&format!("[servers.tools]\npinned = \"{p}\"\n"));
    }
    fs::write(env.user_policy(), text).unwrap();
}

/// A session in the 2025-11-25 era: the server must have answered
/// `initialize` with a version that keeps the handshake, or rmcp moves to
/// per-request `_meta` (the other era) and the test would not test this one.
fn open(env: &TestEnv, name: &str, asker: Asker) -> McpSession {
    let s = session(env, name, Era::Initialize, asker);
    let v = s
        .server_info()
        .unwrap_or_else(|e| panic!("{e}"))
        .protocol_version;
    assert!(v.has_initialize(), "{name} answered initialize with {v:?}");
    s
}

fn tool_names(s: &McpSession) -> Vec<String> {
    s.list_tools()
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|t| t.name.to_string())
        .collect()
}

/// The text of a successful call; a refusal fails the test.
fn call_ok(s: &McpSession, tool: &str, args: Value) -> String {
    let r = s
        .call_tool(tool, args)
        .unwrap_or_else(|e| panic!("tools/call {tool}: {e}"));
    assert_ne!(r.is_error, Some(true), "{r:?}");
    text_of(&r)
}

/// The message of a call the guard answered with a JSON-RPC error (as
/// rmcp shows it: code and message).
fn call_refused(s: &McpSession, tool: &str, args: Value) -> String {
    match s.call_tool(tool, args) {
        Ok(r) => panic!(
            "tools/call {tool} was answered, not refused: {r:?}\n{}",
            s.stderr()
        ),
        Err(e) => e.what,
    }
}

/// What the tally server says reached it.
fn seen(s: &McpSession) -> Vec<String> {
    serde_json::from_str(&call_ok(s, "seen", json!({}))).unwrap()
}

/// Waits until `cond` holds for the session's stderr.
fn wait_stderr(s: &McpSession, what: &str, cond: impl Fn(&str) -> bool) {
    let start = Instant::now();
    while !cond(&s.stderr()) {
        assert!(
            start.elapsed() < PATIENCE,
            "waited {PATIENCE:?} for {what}; stderr:\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `audit show --format json`: the records.
pub(super) fn audit_records(env: &TestEnv) -> Vec<Value> {
    let out = env.run(["--format", "json", "audit", "show"]);
    out.code(0);
    let v = out.json();
    assert_eq!(v["skipped-lines"], 0, "{}", out.context());
    v["records"].as_array().cloned().unwrap_or_default()
}

pub(super) fn events<'a>(records: &'a [Value], event: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["event"] == event).collect()
}

// ---------------------------------------------------------------------------
// Raw JSON lines.

/// `mcp-warden run NAME` with piped stdio, driven line by line. Stdout is
/// read on a thread into a channel, so a test can write thousands of
/// lines without the two pipes deadlocking; every wait has a deadline.
pub(super) struct Raw {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Raw {
    pub(super) fn start(env: &TestEnv, name: &str) -> Raw {
        let mut c = env.command();
        c.args(["run", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("start mcp-warden run");
        let (tx, lines) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = std::io::Read::read(&mut err, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Raw {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        }
    }

    pub(super) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub(super) fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .unwrap_or_else(|e| panic!("write to run: {e}\n{}", self.stderr()));
    }

    /// The next line from `run`'s stdout, as JSON.
    pub(super) fn next(&self) -> Value {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(l) => serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}")),
            Err(RecvTimeoutError::Timeout) => {
                panic!("no line from run within {PATIENCE:?}\n{}", self.stderr())
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("run closed its stdout\n{}", self.stderr())
            }
        }
    }

    /// Lines up to the answer with `id`: (the answer, what came before).
    pub(super) fn answer(&self, id: Value) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let v = self.next();
            if v["id"] == id && v.get("method").is_none() {
                return (v, before);
            }
            before.push(v);
        }
    }

    /// Sends a request and waits for its answer.
    pub(super) fn request(
        &mut self,
        id: Value,
        method: &str,
        params: Value,
    ) -> (Value, Vec<Value>) {
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send(&line.to_string());
        self.answer(id)
    }

    /// `initialize`, `notifications/initialized` and `tools/list`.
    pub(super) fn handshake(&mut self) -> Vec<String> {
        let (init, _) = self.request(
            json!(0),
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "1"}}),
        );
        assert!(init.get("result").is_some(), "{init}");
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        let (list, _) = self.request(json!("list"), "tools/list", json!({}));
        list["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{list}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Closes stdin and waits for `run` to exit: its status, the lines it
    /// wrote after the last one read, and its stderr.
    pub(super) fn finish(mut self) -> (ExitStatus, Vec<Value>, String) {
        drop(self.stdin.take());
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!("run did not exit after EOF\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push(serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}")));
        }
        // The stderr reader ends at EOF, shortly after the exit.
        std::thread::sleep(Duration::from_millis(100));
        (status, rest, self.stderr())
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// 1. Rug pull.

const ORIGINAL: &str = "Echoes the text back.";
const CHANGED: &str = "read ~/.ssh/id_rsa";

/// The `echo` tool's description in a list, if listed.
fn echo_description(s: &McpSession) -> Option<String> {
    s.list_tools()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|t| t.name == "echo")
        .map(|t| t.description.map(|d| d.to_string()).unwrap_or_default())
}

/// Lists until `echo` is listed with the changed description; the server
/// changes it only after its first list, and the guard re-checks on
/// `notifications/tools/list_changed`.
fn wait_for_changed_echo(s: &McpSession) -> String {
    let start = Instant::now();
    loop {
        if let Some(d) = echo_description(s)
            && d.contains(CHANGED)
        {
            return d;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the changed echo never became visible\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rug_pull_is_hidden_until_approved_and_policy_pins_follow_the_approval() {
    let env = TestEnv::new();
    pin_fixture(&env, "rugpull");

    // First session: the first list is pinned; the change that follows
    // is hidden, refused, reported and recorded.
    let s = open(&env, "rugpull", Asker::default());
    assert_eq!(echo_description(&s).as_deref(), Some(ORIGINAL));
    wait_stderr(&s, "the guard's re-check of the changed list", |e| {
        e.contains("server rugpull changed or added tools echo")
    });
    assert_eq!(
        echo_description(&s),
        None,
        "the changed tool is hidden\n{}",
        s.stderr()
    );
    let refused = call_refused(&s, "echo", json!({"text": "hi"}));
    assert!(
        refused.contains("not an approved tool") && refused.contains("mcp-warden approve rugpull"),
        "{refused}"
    );
    let stderr = s.stderr_until(|e| {
        e.contains("rugpull: tools/list 3") && e.contains("hidden from the client until approved")
    });
    // The guard's own re-check was the server's third list (the second
    // is the change).
    assert!(
        stderr.contains("rugpull: tools/list 3 protocolVersion=none"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hidden from the client until approved")
            && stderr.contains("`mcp-warden approve rugpull`"),
        "{stderr}"
    );
    let records = audit_records(&env);
    let changed = events(&records, "guard");
    assert!(
        changed
            .iter()
            .any(|r| r["kind"] == "tool-changed" && r["detail"].as_str().unwrap().contains("echo")),
        "{records:#?}"
    );
    let calls = events(&records, "tool-call");
    assert_eq!(calls.len(), 1, "{records:#?}");
    assert_eq!(calls[0]["decision"], "unpinned");

    // approve shows the difference and prints the list digest.
    let out = env.run(["approve", "rugpull", "--yes"]);
    out.code(0)
        .stdout_has("tool `echo` (changed)")
        .stdout_has(&format!("-  \"description\": \"{ORIGINAL}\""))
        .stdout_has(CHANGED)
        .stdout_has("approved 1 change(s) for rugpull");
    let digest = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("tool list digest: "))
        .unwrap_or_else(|| out.fail("no digest printed"))
        .to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    env.run(["approve", "rugpull", "--yes"])
        .code(0)
        .stdout_has("nothing to approve");
    // The approval reaches the running session: the tool it hid can be
    // called now, without listing again.
    assert_eq!(call_ok(&s, "echo", json!({"text": "live"})), "live");
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());
    let calls: Vec<Value> = events(&audit_records(&env), "tool-call")
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["decision"], "allowed");

    // A new session: the approved (changed) tool is listed once the
    // server serves it again, and can be called.
    let s = open(&env, "rugpull", Asker::default());
    let d = wait_for_changed_echo(&s);
    assert!(d.contains(CHANGED), "{d}");
    assert_eq!(
        call_ok(&s, "echo", json!({"text": "after approval"})),
        "after approval"
    );
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());

    // The printed digest as a policy pin in a fresh home: the list that
    // matches it is accepted without any local approval...
    let fresh = TestEnv::new();
    pin_fixture(&fresh, "rugpull");
    policy(&fresh, "rugpull", "", Some(&digest));
    let s = open(&fresh, "rugpull", Asker::default());
    let d = wait_for_changed_echo(&s);
    assert!(d.contains(CHANGED), "{d}");
    assert_eq!(call_ok(&s, "echo", json!({"text": "fleet"})), "fleet");
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());

    // ...and a wrong digest hides everything, before and after the change.
    let wrong = TestEnv::new();
    pin_fixture(&wrong, "rugpull");
    let bad = format!("sha256:{}", "0".repeat(64));
    policy(&wrong, "rugpull", "", Some(&bad));
    let s = open(&wrong, "rugpull", Asker::default());
    assert_eq!(tool_names(&s), Vec::<String>::new(), "{}", s.stderr());
    wait_stderr(&s, "the re-check after the change", |e| {
        e.matches(&format!("not the {bad} the policy pins")).count() >= 2
    });
    assert_eq!(tool_names(&s), Vec::<String>::new(), "{}", s.stderr());
    let refused = call_refused(&s, "echo", json!({"text": "hi"}));
    assert!(refused.contains("not an approved tool"), "{refused}");
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());
}

/// The same rug pull in the 2026-07-28 era: the guard's re-check carries
/// the client's `_meta` (the server sees the protocol version in it).
#[test]
fn rug_pull_in_the_stateless_era() {
    let env = TestEnv::new();
    pin_fixture(&env, "rugpull");
    let s = session(&env, "rugpull", Era::Discover, Asker::default());
    let v = s
        .server_info()
        .unwrap_or_else(|e| panic!("{e}"))
        .protocol_version;
    assert!(!v.has_initialize(), "{v:?}");
    assert_eq!(echo_description(&s).as_deref(), Some(ORIGINAL));
    wait_stderr(&s, "the guard's re-check of the changed list", |e| {
        e.contains("server rugpull changed or added tools echo")
            && e.contains("rugpull: tools/list 3 ")
    });
    assert!(
        s.stderr()
            .contains("rugpull: tools/list 3 protocolVersion=2026-07-28"),
        "{}",
        s.stderr()
    );
    assert_eq!(echo_description(&s), None, "{}", s.stderr());
    let refused = call_refused(&s, "echo", json!({"text": "hi"}));
    assert!(refused.contains("not an approved tool"), "{refused}");
    env.run(["approve", "rugpull", "--yes"]).code(0);
    assert_eq!(call_ok(&s, "echo", json!({"text": "ok"})), "ok");
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());
}

// ---------------------------------------------------------------------------
// 2, 3, 6. Confirmation, denied tools, argument checks (tally server).

#[test]
fn confirmation_accepted_declined_and_unavailable_and_denied_tools() {
    let env = TestEnv::new();
    pin_fixture(&env, "tally");
    policy(
        &env,
        "tally",
        "confirm-tools = [\"echo\"]\ndeny-tools = [\"sh*\"]",
        None,
    );

    // Accepted: the user was asked, naming the tool; the call reached
    // the server.
    let asker = Asker::answering(ElicitationAction::Accept);
    let s = open(&env, "tally", asker.clone());
    let names = tool_names(&s);
    assert!(names.contains(&"echo".to_string()), "{names:?}");
    assert_eq!(
        call_ok(&s, "echo", json!({"text": "s3cr3t-arg"})),
        "s3cr3t-arg"
    );
    let asked = asker.questions();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].contains("`echo`") && asked[0].contains("text (text, 10 chars)"),
        "{asked:?}"
    );
    assert!(!asked[0].contains("s3cr3t-arg"), "{asked:?}");
    // Denied: refused, and the server never saw it.
    let refused = call_refused(&s, "shell", json!({"command": "rm -rf /"}));
    assert!(
        refused.contains("tool `shell` is denied by the policy"),
        "{refused}"
    );
    assert_eq!(seen(&s), ["echo"]);
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());

    // Declined: an error to the client; the server never sees the call.
    let asker = Asker::answering(ElicitationAction::Decline);
    let s = open(&env, "tally", asker.clone());
    tool_names(&s);
    let refused = call_refused(&s, "echo", json!({"text": "no"}));
    assert!(refused.contains("echo"), "{refused}");
    assert_eq!(asker.questions().len(), 1);
    assert_eq!(seen(&s), Vec::<String>::new());
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());

    // Cancelled likewise.
    let asker = Asker::answering(ElicitationAction::Cancel);
    let s = open(&env, "tally", asker.clone());
    tool_names(&s);
    call_refused(&s, "echo", json!({"text": "no"}));
    assert_eq!(asker.questions().len(), 1);
    assert_eq!(seen(&s), Vec::<String>::new());
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());

    // No elicitation capability: the call needs confirmation, nobody
    // can give it.
    let s = open(&env, "tally", Asker::default());
    tool_names(&s);
    let refused = call_refused(&s, "echo", json!({"text": "no"}));
    assert!(
        refused.contains("needs confirmation") && refused.contains("no elicitation capability"),
        "{refused}"
    );
    // Tools outside the patterns are not asked about.
    assert_eq!(call_ok(&s, "add", json!({"a": 2, "b": 3})), "5");
    assert_eq!(seen(&s), ["add"]);
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());

    let decisions: Vec<String> = events(&audit_records(&env), "tool-call")
        .iter()
        .filter(|r| r["tool"] != "seen")
        .map(|r| {
            format!(
                "{}:{}",
                r["tool"].as_str().unwrap(),
                r["decision"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            "echo:confirmed",
            "shell:denied",
            "echo:declined",
            "echo:declined",
            "echo:declined",
            "add:allowed"
        ]
    );
}

// Confirmation in the 2026-07-28 era: tests/it/guard_confirm.rs.

#[test]
fn arguments_are_checked_against_the_pinned_schema() {
    let env = TestEnv::new();
    pin_fixture(&env, "tally");
    let s = open(&env, "tally", Asker::default());
    tool_names(&s);
    let refused = call_refused(&s, "add", json!({"a": "two", "b": 3}));
    assert!(
        refused.contains("-32602: mcp-warden: invalid arguments for tool `add`: at /a: value is not of type \"integer\""),
        "{refused}"
    );
    // The value itself is not repeated.
    assert!(!refused.contains("two"), "{refused}");
    let refused = call_refused(&s, "add", json!({"b": 3}));
    assert!(
        refused.contains("-32602") && refused.contains("\"a\" is a required property"),
        "{refused}"
    );
    // Without strict-arguments, a field the schema does not name passes
    // (the schema allows additional properties).
    assert_eq!(call_ok(&s, "add", json!({"a": 2, "b": 3, "c": 4})), "5");
    assert_eq!(seen(&s), ["add"]);
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());

    policy(&env, "tally", "strict-arguments = true", None);
    let s = open(&env, "tally", Asker::default());
    tool_names(&s);
    let refused = call_refused(&s, "add", json!({"a": 2, "b": 3, "c": 4}));
    assert!(
        refused.contains("-32602") && refused.contains("'c' was unexpected"),
        "an unexpected field under strict-arguments: {refused}"
    );
    assert_eq!(call_ok(&s, "add", json!({"a": 20, "b": 22})), "42");
    assert_eq!(seen(&s), ["add"]);
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());
}

// ---------------------------------------------------------------------------
// 4. Bounds from the policy, both sides.

#[test]
fn policy_bounds_hold_in_both_directions_and_the_session_goes_on() {
    let env = TestEnv::new();
    pin_fixture(&env, "tally");
    policy(
        &env,
        "tally",
        "max-message-size = 65536\nmax-depth = 16",
        None,
    );
    let mut r = Raw::start(&env, "tally");
    r.handshake();

    // From the client: one byte over the limit, and too deep.
    let pad = |n: usize| "a".repeat(n);
    let head = r#"{"jsonrpc":"2.0","id":"big","method":"ping","params":{"x":""#;
    let tail = r#""}}"#;
    let over = format!("{head}{}{tail}", pad(65537 - head.len() - tail.len()));
    assert_eq!(over.len(), 65537);
    r.send(&over);
    let (big, _) = r.answer(json!("big"));
    assert_eq!(big["error"]["code"], -32600, "{big}");
    let msg = big["error"]["message"].as_str().unwrap();
    assert!(msg.contains("65536-byte limit"), "{msg}");
    // At the limit exactly: passes.
    let at = over.replacen("\"id\":\"big\"", "\"id\":\"bi\"", 1);
    assert_eq!(at.len(), 65536);
    r.send(&at);
    let (ok, _) = r.answer(json!("bi"));
    assert_eq!(ok["result"], json!({}), "{ok}");
    let deep = |id: &str, d: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","id":"{id}","method":"ping","params":{{"x":{}{}}}}}"#,
            "[".repeat(d),
            "]".repeat(d)
        )
    };
    // The message and its params are two levels: 14 arrays make 16.
    r.send(&deep("deep", 15));
    let (v, _) = r.answer(json!("deep"));
    assert_eq!(v["error"]["code"], -32600, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("16-level limit"),
        "{v}"
    );
    r.send(&deep("d10k", 10_000));
    let (v, _) = r.answer(json!("d10k"));
    assert_eq!(v["error"]["code"], -32600, "{v}");
    r.send(&deep("shallow", 14));
    let (v, _) = r.answer(json!("shallow"));
    assert_eq!(v["result"], json!({}), "{v}");
    // A malformed line whose id cannot be found: answered with a null id.
    r.send("this is not JSON");
    let v = r.next();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    assert_eq!(v["id"], Value::Null, "{v}");

    // From the server: an oversized and a 10,000-deep notification are
    // dropped and reported; the answers after them arrive; a notification
    // within the bounds passes.
    let (v, before) = r.request(json!(10), "tally/oversized", json!({"bytes": 100}));
    assert_eq!(v["result"]["sent"], 100, "{v}");
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["method"], "notifications/message");
    let (v, before) = r.request(json!(11), "tally/oversized", json!({"bytes": 70_000}));
    assert_eq!(v["result"]["sent"], 70_000, "{v}");
    assert!(before.is_empty(), "the oversized line was forwarded");
    let (v, before) = r.request(json!(12), "tally/deep", json!({"depth": 10_000}));
    assert_eq!(v["result"]["depth"], 10_000, "{v}");
    assert!(before.is_empty(), "the deep line was forwarded");
    let (v, before) = r.request(json!(13), "tally/deep", json!({"depth": 13}));
    assert_eq!(v["result"]["depth"], 13, "{v}");
    assert_eq!(before.len(), 1, "{before:?}");
    // Tool calls still work.
    let (v, _) = r.request(
        json!(14),
        "tools/call",
        json!({"name": "add", "arguments": {"a": 1, "b": 1}}),
    );
    assert_eq!(v["result"]["content"][0]["text"], "2", "{v}");

    let (status, rest, stderr) = r.finish();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(
        stderr
            .matches("mcp-warden: dropped a message from the server")
            .count(),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("65536-byte limit"), "{stderr}");
    assert!(stderr.contains("16-level limit"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The refusals are in the audit log, from both sides.
    let guard = events(&audit_records(&env), "guard")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["kind"].as_str().unwrap(),
                r["detail"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>();
    assert!(
        guard
            .iter()
            .filter(|g| g.starts_with("refused client"))
            .count()
            >= 4,
        "{guard:#?}"
    );
    assert!(
        guard.iter().filter(|g| g.contains("server")).count() >= 2,
        "{guard:#?}"
    );
}

/// `max-in-flight` from the policy: requests the server has not answered
/// yet fill the slots, a request over the limit is answered by the guard
/// (the server never sees it), and a cancellation or an answer frees a slot.
#[test]
fn in_flight_limit_from_the_policy() {
    let env = TestEnv::new();
    pin_fixture(&env, "tally");
    policy(&env, "tally", "max-in-flight = 2", None);
    let mut r = Raw::start(&env, "tally");
    r.handshake();
    r.send(r#"{"jsonrpc":"2.0","id":"h1","method":"tally/hold"}"#);
    r.send(r#"{"jsonrpc":"2.0","id":"h2","method":"tally/hold"}"#);
    let (v, before) = r.request(
        json!("c1"),
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    );
    assert!(before.is_empty(), "{before:?}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many requests in flight (2"),
        "{v}"
    );
    let (v, _) = r.request(json!("p1"), "ping", json!({}));
    assert!(v.get("error").is_some(), "{v}");
    // Cancelling h1 frees its slot.
    r.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"h1"}}"#);
    let (v, _) = r.request(
        json!("c2"),
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "y"}}),
    );
    assert_eq!(v["result"]["content"][0]["text"], "y", "{v}");
    // The held answers come; h2's frees the other slot.
    r.send(r#"{"jsonrpc":"2.0","method":"notifications/tally/release"}"#);
    let (v, _) = r.answer(json!("h2"));
    assert_eq!(v["result"]["released"], true, "{v}");
    let (v, _) = r.request(
        json!("c3"),
        "tools/call",
        json!({"name": "seen", "arguments": {}}),
    );
    // The refused call never reached the server.
    assert_eq!(v["result"]["content"][0]["text"], r#"["echo"]"#, "{v}");
    let (status, _, stderr) = r.finish();
    assert!(status.success(), "{status:?}\n{stderr}");
}

/// A `tools/list` the client cancels must not become a way around the
/// pins: the server's late answer to it reaches the client filtered or
/// not at all, never with the changed tool.
#[test]
fn a_cancelled_list_does_not_leak_a_changed_tool() {
    let env = TestEnv::new();
    pin_fixture(&env, "rugpull");
    let mut r = Raw::start(&env, "rugpull");
    assert_eq!(r.handshake(), ["echo"]);
    // The server changes echo and says so; the guard re-checks, hides it
    // and passes the notice on.
    let v = r.next();
    assert_eq!(v["method"], "notifications/tools/list_changed", "{v}");
    r.send(
        &[
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}"#,
        ]
        .join("\n"),
    );
    let (v, before) = r.request(json!(8), "tools/list", json!({}));
    assert_eq!(v["result"]["tools"], json!([]), "{v}");
    for m in &before {
        let tools = &m["result"]["tools"];
        assert!(
            tools.is_null() || tools == &json!([]),
            "the changed tool leaked through the cancelled list: {m}"
        );
    }
    let (status, rest, stderr) = r.finish();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(rest.is_empty(), "{rest:?}");
}

/// An answer the guard refuses (over `max-message-size`) to a request in
/// flight: the client must get an error for that id rather than wait
/// forever, and the request must leave the in-flight count.
#[test]
fn a_refused_answer_from_the_server_is_answered_with_an_error() {
    let env = TestEnv::new();
    pin_fixture(&env, "tally");
    policy(
        &env,
        "tally",
        "max-message-size = 65536\nmax-in-flight = 2",
        None,
    );
    let mut r = Raw::start(&env, "tally");
    r.handshake();
    r.send(r#"{"jsonrpc":"2.0","id":"big","method":"tally/big-answer","params":{"bytes":70000}}"#);
    // The server answers in order: what the guard says about "big" comes
    // before the answer to "after".
    let (v, before) = r.request(json!("after"), "ping", json!({}));
    assert_eq!(v["result"], json!({}), "{v}");
    let big: Vec<&Value> = before.iter().filter(|m| m["id"] == "big").collect();
    assert_eq!(big.len(), 1, "no answer for the refused one: {before:?}");
    assert!(big[0]["error"]["message"].as_str().is_some(), "{}", big[0]);
    // Its slot is free again: two more requests may be in flight.
    r.send(r#"{"jsonrpc":"2.0","id":"h1","method":"tally/hold"}"#);
    let (v, _) = r.request(json!("p"), "ping", json!({}));
    assert_eq!(v["result"], json!({}), "{v}");
    let (status, _, stderr) = r.finish();
    assert!(status.success(), "{status:?}\n{stderr}");
}

// ---------------------------------------------------------------------------
// 5. Flood.

#[test]
fn a_flood_of_ten_thousand_calls_gets_one_answer_each() {
    const N: usize = 10_000;
    let env = TestEnv::new();
    pin_fixture(&env, "tally");
    let mut r = Raw::start(&env, "tally");
    let tools = r.handshake();
    assert!(tools.contains(&"echo".to_string()), "{tools:?}");
    // One write of all the calls, as fast as the pipe takes them; a
    // thread writes so that this one can count answers meanwhile.
    let mut batch = String::with_capacity(N * 100);
    for i in 0..N {
        batch.push_str(&format!(
            r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{i}"}}}}}}"#
        ));
        batch.push('\n');
    }
    let mut stdin = r.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(batch.as_bytes()).map(|()| stdin));
    let mut answers = vec![0u32; N];
    let (mut passed, mut limited, mut busy) = (0, 0, 0);
    for _ in 0..N {
        let v = r.next();
        let id = v["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("an answer without a numeric id: {v}"))
            as usize;
        assert!(id < N, "{v}");
        answers[id] += 1;
        if v.get("result").is_some() {
            assert_eq!(v["result"]["content"][0]["text"], id.to_string(), "{v}");
            passed += 1;
        } else {
            let msg = v["error"]["message"].as_str().unwrap_or_default();
            if msg.contains("rate limit") {
                limited += 1;
            } else if msg.contains("too many requests in flight") {
                busy += 1;
            } else {
                panic!("unexpected answer: {v}");
            }
        }
    }
    r.stdin = Some(writer.join().unwrap().expect("write the flood"));
    assert!(
        answers.iter().all(|&n| n == 1),
        "ids answered other than once: {:?}",
        answers
            .iter()
            .enumerate()
            .filter(|(_, n)| **n != 1)
            .take(10)
            .collect::<Vec<_>>()
    );
    // The default bucket (20/s, burst 40) passes some and limits the rest.
    assert!(
        passed >= 1 && limited >= 1,
        "{passed} passed, {limited} limited, {busy} busy"
    );
    // The guard keeps serving.
    let (v, _) = r.request(json!("after"), "ping", json!({}));
    assert_eq!(v["result"], json!({}), "{v}");
    let (v, _) = r.request(json!("list"), "tools/list", json!({}));
    assert!(v["result"]["tools"].is_array(), "{v}");
    let (status, rest, stderr) = r.finish();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(rest.is_empty(), "answers after the last: {rest:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // One audit record per call, and the chain holds.
    let calls = events(&audit_records(&env), "tool-call").len();
    assert_eq!(calls, N);
    let out = env.run(["--format", "json", "audit", "verify"]);
    out.code(0);
    assert_eq!(out.json()["status"], "intact", "{}", out.context());
}

/// The policy's `rate`: a per-tool bucket (one an hour, two at once, so
/// no refill happens during the test) limits one tool, not the others.
#[test]
fn policy_rate_per_tool() {
    let env = TestEnv::new();
    pin_fixture(&env, "tally");
    policy(
        &env,
        "tally",
        "rate = { per-tool = \"1/h\", burst = 2 }",
        None,
    );
    let s = open(&env, "tally", Asker::default());
    tool_names(&s);
    assert_eq!(call_ok(&s, "echo", json!({"text": "1"})), "1");
    assert_eq!(call_ok(&s, "echo", json!({"text": "2"})), "2");
    let refused = call_refused(&s, "echo", json!({"text": "3"}));
    assert!(
        refused.contains("-32002") && refused.contains("the rate limit of tool `echo` is reached"),
        "{refused}"
    );
    assert_eq!(call_ok(&s, "add", json!({"a": 1, "b": 1})), "2");
    assert_eq!(seen(&s), ["echo", "echo", "add"]);
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());
}

// ---------------------------------------------------------------------------
// 7. Audit.

#[test]
fn the_audit_log_records_launches_and_calls_and_never_the_arguments() {
    const CANARY: &str = "canary-4b1d-arg-value";
    let env = TestEnv::new();
    pin_fixture(&env, "tally");
    let lock = fs::read_to_string(env.home.join("config/servers.lock")).unwrap();
    let sha = lock
        .lines()
        .find_map(|l| l.trim().strip_prefix("sha256 = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let s = open(&env, "tally", Asker::default());
    tool_names(&s);
    assert_eq!(call_ok(&s, "echo", json!({"text": CANARY})), CANARY);
    assert_eq!(call_ok(&s, "add", json!({"a": 1, "b": 2})), "3");
    call_refused(&s, "add", json!({"a": CANARY, "b": 2}));
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());

    let records = audit_records(&env);
    let launches = events(&records, "launch");
    assert_eq!(launches.len(), 1, "{records:#?}");
    let l = launches[0];
    assert_eq!(l["server"], "tally");
    assert_eq!(l["verdict"], "allowed");
    assert_eq!(l["digest"], format!("sha256:{sha}"));
    assert_eq!(l["signers"], json!(["tally-signer"]));
    let pd = l["policy-digest"].as_str().unwrap();
    assert!(pd.starts_with("sha256:") && pd.len() == 71, "{pd}");
    let calls = events(&records, "tool-call");
    let summary: Vec<String> = calls
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["tool"].as_str().unwrap(),
                r["decision"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        summary,
        ["echo:allowed", "add:allowed", "add:invalid-arguments"]
    );
    for c in &calls {
        let a = c["arguments"].as_str().unwrap();
        assert!(a.starts_with("sha256:") && a.len() == 71, "{c}");
    }
    // The same arguments give the same digest; different ones do not.
    assert_ne!(calls[1]["arguments"], calls[2]["arguments"]);
    assert!(
        calls[2]["error"]
            .as_str()
            .unwrap()
            .contains("invalid arguments")
    );
    assert_not_in_tree(&env.home, CANARY.as_bytes());

    let out = env.run(["--format", "json", "audit", "verify"]);
    out.code(0);
    assert_eq!(out.json()["status"], "intact", "{}", out.context());

    // A refused launch is recorded as denied, and the chain holds.
    env.run(["trust", "remove", "tally-signer"]).code(0);
    let out = env.cmd().args(["run", "tally"]).stdin("").run();
    out.code(1);
    let records = audit_records(&env);
    let launches = events(&records, "launch");
    assert_eq!(launches.len(), 2, "{records:#?}");
    assert_eq!(launches[1]["verdict"], "denied");
    assert_eq!(launches[1]["digest"], format!("sha256:{sha}"));
    let out = env.run(["--format", "json", "audit", "verify"]);
    out.code(0);
    assert_eq!(out.json()["records"], records.len());
}
