//! The audit log anchored in a real keychain (gnome-keyring on a private
//! D-Bus): logs written by `mcp-warden run`, tampered with by a process
//! that can write the files but does not hold the audit key, and judged by
//! `mcp-warden audit verify`.

use std::fs;

use mcp_warden::audit::{GENESIS, Head, Paths, line_hash};
use mcp_warden::context::Context;
use serde_json::{Map, Value};

use super::run::{PING, pin_node};
use super::support::keyring::SecretService;
use super::support::util::{Output, TestEnv};

/// Answers each line with `{}`.
const PONG: &str = r#"
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', () => process.stdout.write('{"jsonrpc":"2.0","id":1,"result":{}}\n'));
rl.on('close', () => process.exit(0));
"#;

struct Setup {
    ss: SecretService,
    env: TestEnv,
    paths: Paths,
}

/// A server pinned and launched `runs` times.
fn launched(runs: usize) -> Setup {
    let ss = SecretService::start();
    let env = TestEnv::new();
    pin_node(&env, "pong", PONG, "");
    let paths = Paths::new(&Context::new(Some(&env.home), None, None).unwrap());
    let s = Setup { ss, env, paths };
    for _ in 0..runs {
        s.run().code(0);
    }
    s
}

impl Setup {
    fn run(&self) -> Output {
        self.ss
            .cmd(&self.env)
            .args(["run", "pong"])
            .stdin(PING)
            .run()
    }

    fn verify(&self) -> (Output, Value) {
        let out = self
            .ss
            .cmd(&self.env)
            .args(["--format", "json", "audit", "verify"])
            .run();
        let v = out.json();
        (out, v)
    }

    #[track_caller]
    fn assert_broken(&self, problem: &str, line: Option<u64>) -> String {
        let (out, v) = self.verify();
        out.code(1)
            .diag("audit-broken")
            .check(v["status"] == "broken", "status broken")
            .check(v["problem"] == problem, &format!("problem {problem}"))
            .check(
                v["line"] == line.map_or(Value::Null, Value::from),
                &format!("line {line:?}"),
            );
        v["diagnostics"][0]["message"].as_str().unwrap().to_string()
    }

    fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.paths.log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Rewrites the log from `lines` with the chain recomputed, and the
    /// head as a forger without the key can: no MAC, or a MAC by a key of
    /// its own.
    fn forge(&self, lines: &[String], with_own_mac: bool) {
        let mut prev = GENESIS.to_string();
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let mut v: Map<String, Value> = serde_json::from_str(l).unwrap();
            v.insert("seq".into(), Value::from(i as u64));
            v.insert("prev".into(), Value::from(prev.clone()));
            let line = Value::Object(v).to_string();
            prev = line_hash(line.as_bytes());
            out.push_str(&line);
            out.push('\n');
        }
        fs::write(&self.paths.log, out).unwrap();
        let old = Head::parse(&fs::read_to_string(&self.paths.head).unwrap()).unwrap();
        let mut head = Head::new(lines.len() as u64 - 1, &prev, &old.id, None);
        if with_own_mac {
            head.mac = Some("ab".repeat(32));
        }
        fs::write(&self.paths.head, head.line()).unwrap();
    }
}

#[test]
fn an_untouched_log_is_intact_and_its_key_lives_in_the_keychain() {
    let s = launched(2);
    let (out, v) = s.verify();
    out.code(0);
    assert_eq!(v["status"], "intact", "{}", out.context());
    assert_eq!(v["records"], 2);
    // The key and the anchor are keychain items, not files.
    let (found, _) =
        s.ss.secret_tool(&["search", "--all", "account", "audit-key"]);
    assert!(found, "secret-tool finds the audit key");
    let head = Head::parse(&fs::read_to_string(&s.paths.head).unwrap()).unwrap();
    assert!(head.mac.is_some());
}

#[test]
fn a_deleted_log_and_head_are_reported_against_the_anchor() {
    let s = launched(2);
    fs::remove_file(&s.paths.log).unwrap();
    fs::remove_file(&s.paths.head).unwrap();
    let msg = s.assert_broken("missing", None);
    assert!(
        msg.contains("missing") && msg.contains("anchor in the keychain records 2 records"),
        "{msg}"
    );
    // The next launch says so, on stderr and as the new log's first record.
    let out = s.run();
    out.code(0)
        .stderr_has("does not match its anchor in the keychain");
    let first: Value = serde_json::from_str(&s.lines()[0]).unwrap();
    assert_eq!(first["kind"], "audit-anchor", "{first}");
    assert!(
        first["detail"]
            .as_str()
            .unwrap()
            .contains("the log was deleted"),
        "{first}"
    );
    // From then on the new log verifies, with a warning naming that line.
    let (out, v) = s.verify();
    out.code(0);
    assert_eq!(v["status"], "intact");
    assert_eq!(v["diagnostics"][0]["severity"], "warning", "{v}");
    assert_eq!(v["diagnostics"][0]["code"], "audit-broken", "{v}");
    let human = s.ss.cmd(&s.env).args(["audit", "verify"]).run();
    human
        .code(0)
        .stderr_has("warning[audit-broken]")
        .stderr_has("audit.jsonl:1:");
}

#[test]
fn a_forged_head_is_not_laundered_by_the_next_launch() {
    let s = launched(2);
    let mut ls = s.lines();
    ls[0] = ls[0].replace("\"allowed\"", "\"denied\"");
    s.forge(&ls, false);
    s.run()
        .code(0)
        .stderr_has("does not match its anchor in the keychain");
    // The next head is authentic again, and the forgery stays on record.
    let (out, v) = s.verify();
    out.code(0);
    let msg = v["diagnostics"][0]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("carries no MAC"), "{v}");
}

#[test]
fn an_edited_record_with_the_chain_and_head_recomputed_is_detected() {
    let s = launched(3);
    for own_mac in [false, true] {
        let mut ls = s.lines();
        ls[1] = ls[1].replace("\"allowed\"", "\"denied\"");
        s.forge(&ls, own_mac);
        let msg = s.assert_broken("head", None);
        assert!(msg.contains("MAC"), "{msg}");
    }
}

#[test]
fn a_truncated_log_is_detected() {
    let s = launched(3);
    let (saved_log, saved_head) = (
        fs::read(&s.paths.log).unwrap(),
        fs::read(&s.paths.head).unwrap(),
    );
    s.run().code(0);
    // The last record cut, the head left: the head catches it.
    let ls = s.lines();
    fs::write(&s.paths.log, ls[..3].join("\n") + "\n").unwrap();
    s.assert_broken("truncated", Some(3));
    // The head recomputed without the key: its MAC does not verify.
    s.forge(&ls[..3], false);
    s.assert_broken("head", None);
    // Both files put back as they were one launch ago (an authentic head):
    // the keychain's anchor knows of the fourth record.
    fs::write(&s.paths.log, saved_log).unwrap();
    fs::write(&s.paths.head, saved_head).unwrap();
    let msg = s.assert_broken("truncated", Some(3));
    assert!(msg.contains("anchor in the keychain records 4"), "{msg}");
}

#[test]
fn a_copy_of_the_last_line_appended_is_named() {
    let s = launched(3);
    let mut ls = s.lines();
    ls.push(ls[2].clone());
    fs::write(&s.paths.log, ls.join("\n") + "\n").unwrap();
    let msg = s.assert_broken("inserted", Some(4));
    assert!(
        msg.contains("line 4") && msg.contains("copy of line 3"),
        "{msg}"
    );
}

#[test]
fn without_a_keychain_run_refuses_unless_the_policy_opts_out() {
    let env = TestEnv::new();
    pin_node(&env, "pong", PONG, "");
    let no_keychain = || {
        env.cmd()
            .var("MCP_WARDEN_KEYRING", "secret-service")
            .var("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .var("MCP_WARDEN_KEYRING_TIMEOUT", "5")
    };
    let out = no_keychain().args(["run", "pong"]).stdin(PING).run();
    out.code(2).diag_in_stderr("audit-unavailable");
    assert!(out.stdout.is_empty(), "the server did not start");
    no_keychain()
        .args(["audit", "verify"])
        .run()
        .code(2)
        .diag_in_stderr("audit-unavailable");

    fs::write(
        env.user_policy(),
        "version = 1\n[audit]\nanchor = \"off\"\n",
    )
    .unwrap();
    no_keychain()
        .args(["run", "pong"])
        .stdin(PING)
        .run()
        .code(0);
    let out = no_keychain()
        .args(["--format", "json", "audit", "verify"])
        .run();
    out.code(0);
    assert_eq!(out.json()["records"], 1);
}
