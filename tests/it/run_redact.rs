//! One redactor per launch: a server that holds a keychain secret puts it,
//! in clear and encoded, on its stderr, in a JSON-RPC error message and in
//! a new tool's name. None of those reach run's stderr, the audit log or
//! the OTLP export, in clear or encoded (the tool's result is the
//! client's: it passes unchanged).

use std::fs;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use mcp_warden::audit::{Paths, line_hash};
use mcp_warden::context::Context;
use serde_json::Value;

use super::audit::{Request, attr, serve_connection};
use super::run::pin_node;
use super::support::keyring::SecretService;
use super::support::util::TestEnv;

const CANARY: &str = "canary-redact-4e1b/s3cr3t?x";

/// Prints the secret (from its environment) on stderr at start, and
/// answers: tools/list with one tool, then with tools named after the
/// secret's encodings; tools/call `fail` with an error whose message
/// carries the secret, `echo` with a result that carries it.
const LEAKY: &str = r#"
const S = process.env.API_TOKEN;
const enc = {
  clear: S,
  b64: Buffer.from(S).toString('base64'),
  b64url: Buffer.from(S).toString('base64url'),
  hex: Buffer.from(S).toString('hex'),
  HEX: Buffer.from(S).toString('hex').toUpperCase(),
  pct: encodeURIComponent(S),
  basic: Buffer.from('user:' + S).toString('base64'),
};
for (const [k, v] of Object.entries(enc)) process.stderr.write(`stderr ${k}=${v}\n`);
let lists = 0;
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  const m = JSON.parse(l);
  if (m.id === undefined) return;
  const ok = (result) => send({ jsonrpc: '2.0', id: m.id, result });
  if (m.method === 'initialize') {
    ok({ protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'leaky', version: '1' } });
  } else if (m.method === 'tools/list') {
    const tools = [{ name: 'echo', inputSchema: { type: 'object' } }, { name: 'fail', inputSchema: { type: 'object' } }];
    if (lists++ > 0) {
      for (const [k, v] of Object.entries(enc)) tools.push({ name: `t_${k}_${v}`, inputSchema: { type: 'object' } });
    }
    ok({ tools });
  } else if (m.method === 'tools/call' && m.params.name === 'fail') {
    send({ jsonrpc: '2.0', id: m.id, error: { code: -32000, message: Object.entries(enc).map(([k, v]) => `${k} ${v}`).join('; ') } });
  } else if (m.method === 'tools/call') {
    ok({ content: [{ type: 'text', text: `result ${S} ${enc.b64}` }] });
  } else {
    ok({});
  }
});
rl.on('close', () => process.exit(0));
"#;

/// Every form of the canary that must not appear anywhere.
fn forbidden() -> Vec<(String, String)> {
    use base64::Engine as _;
    use base64::engine::general_purpose as gp;
    let pct: String = CANARY
        .bytes()
        .map(|b| match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let basic = gp::STANDARD.encode(format!("user:{CANARY}"));
    vec![
        ("clear".into(), CANARY.into()),
        ("base64".into(), gp::STANDARD.encode(CANARY)),
        ("base64 no pad".into(), gp::STANDARD_NO_PAD.encode(CANARY)),
        ("base64url".into(), gp::URL_SAFE_NO_PAD.encode(CANARY)),
        ("hex".into(), hex::encode(CANARY)),
        ("HEX".into(), hex::encode_upper(CANARY)),
        ("percent".into(), pct),
        // The middle of the base64 of a longer text holding the secret.
        ("inside base64".into(), basic[10..30].to_string()),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for (name, needle) in forbidden() {
        assert!(
            !text.contains(&needle),
            "the secret ({name}: {needle}) is in {what}:\n{text}"
        );
    }
}

struct Output {
    stdout: String,
    stderr: String,
    status: std::process::ExitStatus,
}

fn req(id: u64, method: &str, params: Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
        + "\n"
}

#[test]
fn a_secret_in_stderr_errors_and_tool_names_is_redacted_from_every_output() {
    let ss = SecretService::start();
    let env = TestEnv::new();
    pin_node(&env, "leaky", LEAKY, "");
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"leaky\"\n[servers.run]\nenv = { API_TOKEN = \"keychain\" }\n",
    )
    .unwrap();
    ss.cmd(&env)
        .args(["secret", "set", "leaky", "API_TOKEN"])
        .stdin(format!("{CANARY}\n"))
        .run()
        .code(0);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel::<Request>();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || serve_connection(s, tx));
        }
    });

    // Driven line by line: a call goes out once the list is answered.
    let mut c = env.command();
    c.env("MCP_WARDEN_KEYRING", "secret-service")
        .env("MCP_WARDEN_LOG", "trace")
        .args(["-vvv", "run", "leaky", "--otlp", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in ss.envs() {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    let mut ask = |id: u64, method: &str, params: Value| {
        stdin.write_all(req(id, method, params).as_bytes()).unwrap();
        if method == "initialize" {
            stdin
                .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
                .unwrap();
        }
        loop {
            let l = lines.next().expect("an answer").unwrap();
            stdout.push_str(&l);
            stdout.push('\n');
            let v: Value = serde_json::from_str(&l).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    };
    ask(
        1,
        "initialize",
        serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    ask(2, "tools/list", serde_json::json!({}));
    ask(3, "tools/list", serde_json::json!({}));
    let failed = ask(
        4,
        "tools/call",
        serde_json::json!({"name": "fail", "arguments": {}}),
    );
    assert!(failed["error"]["message"].is_string(), "{failed}");
    let echoed = ask(
        5,
        "tools/call",
        serde_json::json!({"name": "echo", "arguments": {}}),
    );
    assert!(echoed["result"].is_object(), "{echoed}");
    drop(stdin);
    let status = child.wait().unwrap();
    let stderr = stderr_thread.join().unwrap();
    let out = Output {
        stdout,
        stderr,
        status,
    };
    assert!(out.status.success(), "{}", out.stderr);
    assert_clean("run's stderr", &out.stderr);
    // What the guard redacted is still said to be there.
    assert!(
        out.stderr.contains("stderr clear=[REDACTED]"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("stderr basic="), "{}", out.stderr);
    // The tool result is the client's: it passes as the server sent it.
    assert!(
        out.stdout.contains(&format!("result {CANARY}")),
        "{}",
        out.stderr
    );

    let ctx = Context::new(Some(&env.home), None, None).unwrap();
    let paths = Paths::new(&ctx);
    let log = fs::read_to_string(&paths.log).unwrap();
    assert_clean("the audit log", &log);
    let records: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let error = records
        .iter()
        .find_map(|r| r["error"].as_str().filter(|e| e.starts_with("clear ")))
        .unwrap_or_else(|| panic!("no tool-call error in the log:\n{log}"));
    assert!(
        error.starts_with("clear [REDACTED]; b64 [REDACTED]"),
        "{error}"
    );
    let changed = records
        .iter()
        .find(|r| r["kind"] == "tool-changed")
        .unwrap_or_else(|| panic!("no tool-changed record:\n{log}"));
    assert!(
        changed["detail"]
            .as_str()
            .unwrap()
            .contains("t_clear_[REDACTED]"),
        "{changed}"
    );

    // The OTLP export: the same records, redacted, each with its seq and
    // the hash of its line in the log (a remote copy to compare with).
    let mut bodies = String::new();
    let mut hashes = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while hashes.len() < records.len() && std::time::Instant::now() < deadline {
        let Ok(r) = rx.recv_timeout(Duration::from_secs(5)) else {
            break;
        };
        bodies.push_str(&r.body.to_string());
        if r.path == "/v1/logs" {
            for rl in r.body["resourceLogs"].as_array().unwrap() {
                for sl in rl["scopeLogs"].as_array().unwrap() {
                    for lr in sl["logRecords"].as_array().unwrap() {
                        let a = &lr["attributes"];
                        hashes.push((
                            attr(a, "mcp_warden.seq")["intValue"]
                                .as_str()
                                .unwrap()
                                .to_string(),
                            attr(a, "mcp_warden.record_hash")["stringValue"]
                                .as_str()
                                .unwrap()
                                .to_string(),
                        ));
                    }
                }
            }
        }
    }
    assert_clean("the OTLP export", &bodies);
    hashes.sort_by_key(|(s, _)| s.parse::<u64>().unwrap());
    let want: Vec<(String, String)> = log
        .lines()
        .enumerate()
        .map(|(i, l)| (i.to_string(), line_hash(l.as_bytes())))
        .collect();
    assert_eq!(hashes, want, "the export carries each record's chain hash");
}

#[test]
fn a_secret_too_short_to_redact_is_warned_about_once() {
    let ss = SecretService::start();
    let env = TestEnv::new();
    pin_node(&env, "leaky", LEAKY, "");
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"leaky\"\n[servers.run]\nenv = { API_TOKEN = \"keychain\" }\n",
    )
    .unwrap();
    ss.cmd(&env)
        .args(["secret", "set", "leaky", "API_TOKEN"])
        .stdin("q7x2z\n")
        .run()
        .code(0);
    let out = ss
        .cmd(&env)
        .args(["run", "leaky"])
        .stdin(super::run::PING)
        .run();
    out.code(0);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("shorter than 6 bytes"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.context());
    assert!(
        warnings[0].contains("API_TOKEN") && !warnings[0].contains("q7x2z"),
        "{}",
        warnings[0]
    );
}
