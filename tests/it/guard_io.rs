//! The guard's I/O layer through the real binary: `mcp-warden run` of a
//! pinned node server, with the guard on. Bounds violations from the
//! client are answered and the session goes on; garbage from the server
//! is dropped and reported; the server's stderr is redacted.

use serde_json::Value;

use super::run::pin_node;
use super::support::util::TestEnv;

/// Answers each request line with the method it was asked, and writes a
/// token to stderr (for the redaction check).
const ANSWER: &str = r#"
process.stderr.write('connecting with Authorization: Bearer abcdefghijklmnopqrstuvwx\n');
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  const m = JSON.parse(l);
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { method: m.method } }) + '\n');
});
rl.on('close', () => process.exit(0));
"#;

/// Writes garbage (a banner, broken JSON, a 10,000-deep document) before
/// each valid answer.
const GARBAGE: &str = r#"
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  const m = JSON.parse(l);
  process.stdout.write('Server listening on stdio\n{"jsonrpc":"2.0",\n');
  process.stdout.write('{"jsonrpc":"2.0","id":0,"result":' + '['.repeat(10000) + ']'.repeat(10000) + '}\n');
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: 'ok' }) + '\n');
});
rl.on('close', () => process.exit(0));
"#;

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn refused_client_lines_are_answered_and_the_next_request_is_served() {
    let env = TestEnv::new();
    pin_node(&env, "answer", ANSWER, "");
    let oversized = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"big\",\"params\":{{\"x\":\"{}\"}}}}\n",
        "a".repeat(5 << 20)
    );
    let deep = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":\"deep\",\"method\":\"d\",\"params\":{}{}}}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let input = format!(
        "{oversized}{{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\n{deep}{{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}}\n"
    );
    let out = env.cmd().args(["run", "answer"]).stdin(input).run();
    out.code(0);
    let got = lines(&out.stdout);
    assert_eq!(got.len(), 4, "{}", out.context());
    let by_id = |id: Value| {
        got.iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| out.fail(&format!("no answer for id {id}")))
    };
    let big = by_id(1.into());
    assert_eq!(big["error"]["code"], -32600);
    let msg = big["error"]["message"].as_str().unwrap();
    assert!(msg.contains("exceeds the 4194304-byte limit"), "{msg}");
    // The malformed line's id is found even though the line is not JSON.
    let bad = by_id(2.into());
    assert_eq!(bad["error"]["code"], -32700);
    let deep = by_id("deep".into());
    assert_eq!(deep["error"]["code"], -32600);
    assert!(
        deep["error"]["message"]
            .as_str()
            .unwrap()
            .contains("64-level limit")
    );
    assert_eq!(by_id(3.into())["result"]["method"], "tools/list");
    // The server saw only the valid request, and its stderr came through
    // with the token redacted.
    out.stderr_has("connecting with Authorization: [REDACTED]");
    assert!(
        !out.stderr.contains("abcdefghijklmnop"),
        "{}",
        out.context()
    );
}

#[test]
fn server_garbage_is_dropped_and_reported() {
    let env = TestEnv::new();
    pin_node(&env, "garbage", GARBAGE, "");
    let out = env
        .cmd()
        .args(["run", "garbage"])
        .stdin("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n")
        .run();
    out.code(0);
    assert_eq!(
        out.stdout,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"ok\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"ok\"}\n",
        "{}",
        out.context()
    );
    assert_eq!(
        out.stderr
            .matches("mcp-warden: dropped a message from the server")
            .count(),
        6,
        "{}",
        out.context()
    );
    out.stderr_has("deeper than the 64-level limit");
}
