//! The audit log through the real binary: logs written by the library
//! (`AuditLog`, as `run` writes them), then tampered with byte by byte and
//! judged by `mcp-warden audit verify`; `audit show` with its filters; many
//! appenders at once; and the OTLP export received by a real HTTP server on
//! 127.0.0.1.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use mcp_warden::audit::{
    AuditLog, CallDecision, Event, GENESIS, GuardKind, Head, LaunchVerdict, Paths, Sink,
    format_record, line_hash,
};
use mcp_warden::context::Context;
use serde_json::Value;

use super::support::util::*;

fn ctx(env: &TestEnv) -> Context {
    Context::new(Some(&env.home), None, None).unwrap()
}

fn call(server: &str, i: usize) -> Event {
    Event::ToolCall {
        server: server.into(),
        tool: format!("tool{i}"),
        arguments: format!("sha256:{}", "ab".repeat(32)),
        decision: CallDecision::Allowed,
        duration_ms: Some(i as u64),
        error: None,
    }
}

/// A log of `n` tool calls written by the library.
fn write_log(env: &TestEnv, n: usize) -> Paths {
    let mut log = AuditLog::open(&ctx(env)).unwrap();
    for i in 0..n {
        log.record(call("srv", i));
    }
    Paths::new(&ctx(env))
}

fn lines(p: &Paths) -> Vec<Vec<u8>> {
    let bytes = fs::read(&p.log).unwrap();
    let mut v: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if v.last().is_some_and(Vec::is_empty) {
        v.pop();
    }
    v
}

fn rewrite(p: &Paths, lines: &[Vec<u8>]) {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    fs::write(&p.log, out).unwrap();
}

fn verify_json(env: &TestEnv) -> (Output, Value) {
    let out = env.run(["--format", "json", "audit", "verify"]);
    let v = out.json();
    (out, v)
}

/// `audit verify` exits 1 and names `line` as the first bad one, as
/// `problem`, in JSON and in human output.
#[track_caller]
fn assert_broken(env: &TestEnv, line: Option<u64>, problem: &str) -> Value {
    let (out, v) = verify_json(env);
    out.code(1)
        .diag("audit-broken")
        .check(v["status"] == "broken", "status broken")
        .check(v["problem"] == problem, &format!("problem {problem}"))
        .check(
            v["line"] == line.map_or(Value::Null, Value::from),
            &format!("line {line:?}"),
        );
    let human = env.run(["audit", "verify"]);
    human.code(1).stderr_has("error[audit-broken]");
    if let Some(n) = line {
        human.stderr_has(&format!("audit.jsonl:{n}:"));
    }
    v
}

#[test]
fn intact_log_verifies() {
    let env = TestEnv::new();
    let p = write_log(&env, 5);
    let ls = lines(&p);
    let last = line_hash(ls.last().unwrap());
    let out = env.run(["audit", "verify"]);
    out.code(0)
        .stdout_has("intact: 5 records")
        .stdout_has(&last);
    let (out, v) = verify_json(&env);
    out.code(0)
        .check(v["status"] == "intact", "intact")
        .check(v["records"] == 5, "5 records")
        .check(v["last-hash"] == last.as_str(), "last hash");
    // The records are what the guard gave, chained from the genesis hash.
    let first: Value = serde_json::from_slice(&ls[0]).unwrap();
    assert_eq!(first["prev"], GENESIS);
    assert_eq!(first["tool"], "tool0");
    assert_eq!(first["event"], "tool-call");
}

#[test]
fn edited_field_names_the_line() {
    let env = TestEnv::new();
    let p = write_log(&env, 5);
    let mut ls = lines(&p);
    let text = String::from_utf8(ls[2].clone()).unwrap();
    ls[2] = text.replace("\"allowed\"", "\"denied\"").into_bytes();
    assert_ne!(ls[2], lines(&p)[2]);
    rewrite(&p, &ls);
    let v = assert_broken(&env, Some(3), "edited");
    assert_eq!(v["records"], 2, "lines 1 and 2 still chain");
}

#[test]
fn edited_last_line_is_caught_by_the_head() {
    let env = TestEnv::new();
    let p = write_log(&env, 4);
    let mut ls = lines(&p);
    ls[3] = String::from_utf8(ls[3].clone())
        .unwrap()
        .replace("tool3", "toolX")
        .into_bytes();
    rewrite(&p, &ls);
    assert_broken(&env, Some(4), "edited");
}

#[test]
fn removed_record_in_the_middle() {
    let env = TestEnv::new();
    let p = write_log(&env, 6);
    let mut ls = lines(&p);
    ls.remove(2);
    rewrite(&p, &ls);
    let v = assert_broken(&env, Some(3), "removed");
    assert!(
        v["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("seq 2")
    );
}

#[test]
fn inserted_record_with_a_forged_link() {
    let env = TestEnv::new();
    let p = write_log(&env, 5);
    let mut ls = lines(&p);
    // A well-formed record that links to line 2 and takes seq 2: the
    // genuine seq 2 after it no longer links.
    let forged = format_record(
        2,
        jiff::Timestamp::now(),
        &line_hash(&ls[1]),
        &call("srv", 99),
    );
    ls.insert(2, forged.into_bytes());
    rewrite(&p, &ls);
    assert_broken(&env, Some(3), "inserted");
}

#[test]
fn inserted_copy_of_a_record() {
    let env = TestEnv::new();
    let p = write_log(&env, 5);
    let mut ls = lines(&p);
    let copy = ls[1].clone();
    ls.insert(3, copy);
    rewrite(&p, &ls);
    assert_broken(&env, Some(4), "inserted");
}

#[test]
fn swapped_records_are_reordered() {
    let env = TestEnv::new();
    let p = write_log(&env, 5);
    let mut ls = lines(&p);
    ls.swap(1, 2);
    rewrite(&p, &ls);
    assert_broken(&env, Some(2), "reordered");
}

#[test]
fn removed_last_record_is_caught_by_the_head() {
    let env = TestEnv::new();
    let p = write_log(&env, 5);
    let mut ls = lines(&p);
    ls.pop();
    rewrite(&p, &ls);
    let v = assert_broken(&env, Some(4), "truncated");
    assert!(
        v["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("removed from the end")
    );
    // Everything removed, the head still says 5.
    fs::write(&p.log, b"").unwrap();
    assert_broken(&env, Some(1), "truncated");
    fs::remove_file(&p.log).unwrap();
    assert_broken(&env, Some(1), "truncated");
}

#[test]
fn last_line_cut_in_half() {
    let env = TestEnv::new();
    let p = write_log(&env, 5);
    let bytes = fs::read(&p.log).unwrap();
    let last_len = lines(&p).last().unwrap().len();
    fs::write(&p.log, &bytes[..bytes.len() - 1 - last_len / 2]).unwrap();
    assert_broken(&env, Some(5), "truncated");
    // Only the newline gone: still a cut record.
    fs::write(&p.log, &bytes[..bytes.len() - 1]).unwrap();
    assert_broken(&env, Some(5), "truncated");
}

#[test]
fn malformed_oversized_and_non_utf8_lines() {
    let env = TestEnv::new();
    let p = write_log(&env, 5);
    let good = lines(&p);
    let cases: [(Vec<u8>, &str); 5] = [
        (b"hello".to_vec(), "malformed"),
        (b"".to_vec(), "malformed"),
        (b"[1,2]".to_vec(), "malformed"),
        (vec![b'x'; 70 * 1024], "oversized"),
        (
            {
                let mut l = good[2].clone();
                l[10] = 0xff;
                l
            },
            "not-utf8",
        ),
    ];
    for (bad, problem) in cases {
        let mut ls = good.clone();
        ls[2] = bad;
        rewrite(&p, &ls);
        assert_broken(&env, Some(3), problem);
    }
    // `show` says so on stderr and goes on.
    let mut ls = good.clone();
    ls[2] = vec![b'y'; 70 * 1024];
    ls[3] = b"not json".to_vec();
    rewrite(&p, &ls);
    let out = env.run(["audit", "show"]);
    out.code(0)
        .stderr_has("audit.jsonl:3: not a record (oversized)")
        .stderr_has("audit.jsonl:4: not a record (malformed)")
        .stdout_has("tool0")
        .stdout_has("tool4");
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.context());
}

#[test]
fn empty_missing_and_headless_logs() {
    let env = TestEnv::new();
    let out = env.run(["audit", "verify"]);
    out.code(0).stdout_has("empty: intact, 0 records");
    let (out, v) = verify_json(&env);
    out.code(0)
        .check(v["records"] == 0 && v["status"] == "intact", "0 records");
    // Opened but nothing written: an empty log and no head.
    let p = Paths::new(&ctx(&env));
    drop(AuditLog::open(&ctx(&env)).unwrap());
    assert_eq!(fs::metadata(&p.log).unwrap().len(), 0);
    env.run(["audit", "verify"]).code(0);
    env.run(["audit", "show"]).code(0);

    let p = write_log(&env, 3);
    fs::remove_file(&p.head).unwrap();
    assert_broken(&env, None, "head");
    fs::write(&p.head, "garbage").unwrap();
    assert_broken(&env, None, "head");
}

#[test]
fn unreadable_log_is_an_io_error() {
    let env = TestEnv::new();
    let p = Paths::new(&ctx(&env));
    fs::create_dir_all(&p.log).unwrap();
    env.run(["audit", "verify"]).code(2);
    let out = env.run(["--format", "json", "audit", "show"]);
    out.code(2);
}

/// A log written by hand with chosen times and servers, chained and headed
/// as `AuditLog` does it.
fn handmade_log(env: &TestEnv, records: &[(&str, &str)]) -> Paths {
    let p = Paths::new(&ctx(env));
    fs::create_dir_all(&p.dir).unwrap();
    let mut prev = GENESIS.to_string();
    let mut out = String::new();
    for (seq, (time, server)) in records.iter().enumerate() {
        let e = Event::Guard {
            server: server.to_string(),
            kind: GuardKind::ToolChanged,
            detail: format!("record {seq}"),
        };
        let line = format_record(seq as u64, time.parse().unwrap(), &prev, &e);
        prev = line_hash(line.as_bytes());
        out.push_str(&line);
        out.push('\n');
    }
    fs::write(&p.log, out).unwrap();
    let head = Head::new(
        records.len() as u64 - 1,
        &prev,
        "0123456789abcdef0123456789abcdef",
        None,
    );
    fs::write(&p.head, head.line()).unwrap();
    p
}

#[test]
fn show_filters_by_server_and_time() {
    let env = TestEnv::new();
    let recent = jiff::Timestamp::now().to_string();
    handmade_log(
        &env,
        &[
            ("2020-01-01T00:00:00Z", "alpha"),
            ("2020-01-02T00:00:00Z", "beta"),
            (&recent, "alpha"),
            (&recent, "beta"),
        ],
    );
    env.run(["audit", "verify"]).code(0).stdout_has("4 records");

    let out = env.run(["audit", "show"]);
    out.code(0);
    assert_eq!(out.stdout.lines().count(), 4, "{}", out.context());

    let out = env.run(["audit", "show", "--server", "alpha"]);
    out.code(0)
        .stdout_has("record 0")
        .stdout_has("record 2")
        .stdout_lacks("record 1")
        .stdout_lacks("beta");

    let out = env.run(["audit", "show", "--since", "1h"]);
    out.code(0)
        .stdout_has("record 2")
        .stdout_has("record 3")
        .stdout_lacks("record 0")
        .stdout_lacks("record 1");

    let out = env.run([
        "--format",
        "json",
        "audit",
        "show",
        "--since",
        "2020-01-01T12:00:00Z",
        "--server",
        "beta",
    ]);
    out.code(0);
    let v = out.json();
    let recs = v["records"].as_array().unwrap();
    let details: Vec<_> = recs.iter().map(|r| r["detail"].as_str().unwrap()).collect();
    assert_eq!(details, ["record 1", "record 3"], "{}", out.context());
    assert_eq!(recs[0]["seq"], 1);
    assert_eq!(recs[0]["event"], "guard");

    for bad in ["yesterday", "5y", "1"] {
        env.run(["audit", "show", "--since", bad])
            .code(2)
            .stderr_has("invalid time");
    }
}

#[test]
fn concurrent_appenders_keep_one_chain() {
    let env = TestEnv::new();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let c = ctx(&env);
            std::thread::spawn(move || {
                // Each its own open file description, as separate processes.
                let mut log = AuditLog::open(&c).unwrap();
                for i in 0..40 {
                    log.record(call(&format!("s{t}"), i));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (out, v) = verify_json(&env);
    out.code(0).check(v["records"] == 240, "240 records");
    let out = env.run(["audit", "show", "--server", "s3"]);
    assert_eq!(out.stdout.lines().count(), 40, "{}", out.context());
}

// ---------------------------------------------------------------------------
// OTLP export.

pub(super) struct Request {
    pub(super) path: String,
    content_type: String,
    pub(super) body: Value,
}

/// Reads HTTP/1.1 requests (keep-alive) from one connection, answers 200.
pub(super) fn serve_connection(stream: TcpStream, tx: mpsc::Sender<Request>) {
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    loop {
        let mut start = String::new();
        if r.read_line(&mut start).unwrap_or(0) == 0 {
            return;
        }
        let path = start
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let (mut len, mut content_type) = (0usize, String::new());
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap(),
                "content-type" => content_type = v.trim().to_string(),
                _ => {}
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let _ = tx.send(Request {
            path,
            content_type,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let _ = w.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        );
    }
}

pub(super) fn attr<'a>(attrs: &'a Value, key: &str) -> &'a Value {
    attrs
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
        .unwrap_or_else(|| panic!("no attribute {key} in {attrs}"))
}

#[test]
fn otlp_export_sends_logs_and_spans() {
    let env = TestEnv::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || serve_connection(s, tx));
        }
    });
    let mut log = AuditLog::open(&ctx(&env)).unwrap().with_otlp(&url).unwrap();
    log.record(Event::Launch {
        server: "srv".into(),
        digest: format!("sha256:{}", "cd".repeat(32)),
        signers: vec!["acme".into()],
        signed: vec![],
        policy_digest: format!("sha256:{}", "ef".repeat(32)),
        verdict: LaunchVerdict::Allowed,
        sandbox: "landlock".into(),
    });
    log.record(Event::ToolCall {
        server: "srv".into(),
        tool: "echo".into(),
        arguments: format!("sha256:{}", "ab".repeat(32)),
        decision: CallDecision::Allowed,
        duration_ms: Some(42),
        error: None,
    });
    assert!(log.flush(Duration::from_secs(60)), "the export finished");
    assert_eq!(log.otlp_dropped(), 0);

    let mut logs = Vec::new();
    let mut spans = Vec::new();
    for req in rx.try_iter() {
        assert_eq!(req.content_type, "application/json");
        match req.path.as_str() {
            "/v1/logs" => logs.extend(
                req.body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                    .as_array()
                    .unwrap()
                    .clone(),
            ),
            "/v1/traces" => spans.extend(
                req.body["resourceSpans"][0]["scopeSpans"][0]["spans"]
                    .as_array()
                    .unwrap()
                    .clone(),
            ),
            p => panic!("unexpected path {p}"),
        }
    }
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert_eq!(spans.len(), 1, "{spans:?}");
    let p = Paths::new(&ctx(&env));
    let ls = lines(&p);
    let rec: Value = serde_json::from_slice(&ls[1]).unwrap();

    let launch = &logs[0];
    assert_eq!(
        attr(&launch["attributes"], "mcp_warden.event")["stringValue"],
        "launch"
    );
    assert_eq!(
        attr(&launch["attributes"], "mcp_warden.verdict")["stringValue"],
        "allowed"
    );
    assert_eq!(
        attr(&launch["attributes"], "mcp_warden.signers")["arrayValue"]["values"][0]["stringValue"],
        "acme"
    );
    let call = &logs[1];
    assert_eq!(
        attr(&call["attributes"], "mcp_warden.tool")["stringValue"],
        "echo"
    );
    assert_eq!(attr(&call["attributes"], "mcp_warden.seq")["intValue"], "1");
    assert_eq!(
        attr(&call["attributes"], "mcp_warden.record_hash")["stringValue"],
        line_hash(&ls[1]).as_str()
    );
    let t: jiff::Timestamp = rec["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(call["timeUnixNano"], t.as_nanosecond().to_string());

    let span = &spans[0];
    let hash_hex = line_hash(&ls[1]).trim_start_matches("sha256:").to_string();
    assert_eq!(span["name"], "tools/call echo");
    assert_eq!(span["traceId"], &hash_hex[..32]);
    assert_eq!(span["spanId"], &hash_hex[32..48]);
    assert_eq!(call["traceId"], span["traceId"]);
    let start: i128 = span["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
    let end: i128 = span["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert_eq!(end - start, 42_000_000);
    // Digests only: the arguments never leave.
    assert_eq!(
        attr(&span["attributes"], "mcp_warden.arguments")["stringValue"],
        format!("sha256:{}", "ab".repeat(32))
    );
    // And the log itself is intact.
    env.run(["audit", "verify"]).code(0).stdout_has("2 records");
}

#[test]
fn otlp_endpoint_that_never_answers_or_is_closed() {
    let env = TestEnv::new();
    // Accepts connections (the kernel does, through the backlog) and
    // never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let mut log = AuditLog::open(&ctx(&env)).unwrap().with_otlp(&url).unwrap();
    for i in 0..2000 {
        log.record(call("srv", i));
    }
    // record returned for every event, all written to the log; the export
    // is still stuck on its first request.
    assert!(!log.flush(Duration::from_millis(100)));
    drop(log);
    env.run(["audit", "verify"])
        .code(0)
        .stdout_has("2000 records");
    drop(silent);

    // A closed port: the export fails at once, the log is written.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut log = AuditLog::open(&ctx(&env)).unwrap().with_otlp(&url).unwrap();
    log.record(call("srv", 1));
    assert!(
        log.flush(Duration::from_secs(60)),
        "a refused connection ends the export"
    );
    env.run(["audit", "verify"])
        .code(0)
        .stdout_has("2001 records");

    for bad in [
        "ftp://127.0.0.1:1",
        "http://user:pw@127.0.0.1:1",
        "nonsense",
    ] {
        assert!(
            AuditLog::open(&ctx(&env)).unwrap().with_otlp(bad).is_err(),
            "{bad}"
        );
    }
}

/// The child half of `concurrent_processes_keep_one_chain`: appends when
/// started by it, does nothing in a normal test run.
#[test]
fn appender_child() {
    let Some(home) = std::env::var_os("MCP_WARDEN_TEST_AUDIT_CHILD") else {
        return;
    };
    let c = Context::new(Some(std::path::Path::new(&home)), None, None).unwrap();
    let mut log = AuditLog::open(&c).unwrap();
    let me = std::process::id().to_string();
    for i in 0..100 {
        log.record(call(&me, i));
    }
}

#[test]
fn concurrent_processes_keep_one_chain() {
    let env = TestEnv::new();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "it::audit::appender_child", "--test-threads=1"])
                .env("MCP_WARDEN_TEST_AUDIT_CHILD", &env.home)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let pids: Vec<String> = children.iter().map(|c| c.id().to_string()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let (out, v) = verify_json(&env);
    out.code(0)
        .check(v["records"] == 400, "400 records from 4 processes");
    for pid in &pids {
        let out = env.run(["audit", "show", "--server", pid]);
        assert_eq!(out.stdout.lines().count(), 100, "{}", out.context());
    }
}
