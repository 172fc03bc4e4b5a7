//! `client uninstall` gives wrapped servers their original entries back
//! from the backup `client install` wrote: all or one, `--dry-run`,
//! entries changed since left alone, broken backups skipped, and the file
//! as it was whenever something fails.

use std::fs;

use serde_json::Value;

use super::client::pin_by_hand;
use super::support::util::*;

const WARDEN: &str = "/opt/mcp-warden/bin/mcp-warden";
const CANARY: &str = "ghp_C4NARYt0kenV4lue1234567890abcdefXY";
const LOCAL: &[&str] = &["filesystem", "github", "git", "weather", "time", "sqlite"];

fn client(env: &TestEnv, cmd: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "client",
        cmd,
        "--client",
        "claude",
        "--config",
        "claude.json",
    ];
    if cmd == "install" {
        args.extend(["--warden-path", WARDEN]);
    }
    args.extend_from_slice(extra);
    env.run(&args)
}

fn value(env: &TestEnv) -> Value {
    serde_json::from_slice(&env.read("claude.json")).unwrap()
}

/// The fixture, installed with every local server pinned.
fn installed(env: &TestEnv) -> Value {
    env.copy_fixture("clients/claude_desktop_config.json", "claude.json");
    let original = value(env);
    pin_by_hand(env, LOCAL);
    client(env, "install", &[]).code(0);
    assert_eq!(value(env)["mcpServers"]["github"]["command"], WARDEN);
    original
}

fn no_secret_in(out: &Output) {
    assert!(
        !out.stdout.contains(CANARY) && !out.stderr.contains(CANARY),
        "a secret reached the output:\n{}",
        out.context()
    );
}

#[test]
fn uninstall_restores_every_original_entry() {
    let env = TestEnv::new();
    let original = installed(&env);
    let wrapped = env.read("claude.json");
    let out = client(&env, "uninstall", &["--dry-run"]);
    out.code(0)
        .stdout_has("github: would get its original entry back (from ")
        .stdout_has("+      \"command\": \"npx\",")
        .stdout_has("dry run: nothing was changed");
    no_secret_in(&out);
    assert_eq!(env.read("claude.json"), wrapped);
    let out = client(&env, "uninstall", &[]);
    out.code(0)
        .stdout_has("filesystem: original entry restored")
        .stdout_has("wrote ");
    no_secret_in(&out);
    assert_eq!(value(&env), original);
    // Again: nothing is wrapped any more.
    let out = client(&env, "uninstall", &[]);
    out.code(0)
        .stdout_has("github: not wrapped (never, or changed since `client install`)")
        .stdout_has("nothing to change");
    assert_eq!(value(&env), original);
}

#[test]
fn one_server_and_changed_entries() {
    let env = TestEnv::new();
    let original = installed(&env);
    let out = client(&env, "uninstall", &["git"]);
    out.code(0).stdout_has("git: original entry restored");
    let v = value(&env);
    assert_eq!(v["mcpServers"]["git"], original["mcpServers"]["git"]);
    assert_eq!(v["mcpServers"]["github"]["command"], WARDEN);
    // The user points one wrapped entry elsewhere and rewrites another by
    // hand: both are theirs now.
    let text = String::from_utf8(env.read("claude.json"))
        .unwrap()
        .replace("\"run\",\n        \"time\"", "\"run\",\n        \"other\"")
        .replace("\"run\", \"time\"", "\"run\", \"other\"");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["mcpServers"]["time"]["args"][1], "other", "{text}");
    v["mcpServers"]["weather"] = serde_json::json!({"command": "node", "args": ["/elsewhere.js"]});
    env.write("claude.json", serde_json::to_string_pretty(&v).unwrap());
    let out = client(&env, "uninstall", &[]);
    out.code(0)
        .stdout_has("time: it runs `other`, another name than its own: changed since `client install`; left as it is")
        .stdout_has("weather: not wrapped")
        .stdout_has("github: original entry restored");
    let after = value(&env);
    assert_eq!(after["mcpServers"]["time"], v["mcpServers"]["time"]);
    assert_eq!(after["mcpServers"]["weather"], v["mcpServers"]["weather"]);
    assert_eq!(
        after["mcpServers"]["github"],
        original["mcpServers"]["github"]
    );
    // A server the config does not have is an error, and nothing changes.
    let before = env.read("claude.json");
    client(&env, "uninstall", &["nope"])
        .code(2)
        .diag_in_stderr("client-config")
        .stderr_has("there is no server `nope`");
    assert_eq!(env.read("claude.json"), before);
}

#[test]
fn missing_truncated_or_tampered_backups_are_not_used() {
    let env = TestEnv::new();
    installed(&env);
    let wrapped = env.read("claude.json");
    let backup: Vec<_> = fs::read_dir(&env.work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".mcp-warden-backup-"))
        .collect();
    assert_eq!(backup.len(), 1);
    let good = fs::read(&backup[0]).unwrap();
    // Truncated: not JSON, reported, not used.
    fs::write(&backup[0], &good[..good.len() / 2]).unwrap();
    let out = client(&env, "uninstall", &[]);
    out.code(0)
        .stderr_has("warning: a backup was not used:")
        .stdout_has("github: no backup beside the config holds its entry");
    assert_eq!(env.read("claude.json"), wrapped);
    // Tampered so that it holds wrapped entries: nothing to restore from.
    fs::write(&backup[0], &wrapped).unwrap();
    client(&env, "uninstall", &[])
        .code(0)
        .stdout_has("nothing to change");
    assert_eq!(env.read("claude.json"), wrapped);
    // Oversized: refused by its size.
    let mut big = good.clone();
    big.resize(5 << 20, b' ');
    fs::write(&backup[0], &big).unwrap();
    client(&env, "uninstall", &[])
        .code(0)
        .stderr_has("warning: a backup was not used:");
    assert_eq!(env.read("claude.json"), wrapped);
    // None at all.
    fs::remove_file(&backup[0]).unwrap();
    client(&env, "uninstall", &[])
        .code(0)
        .stdout_has("no backup beside the config holds its entry");
    assert_eq!(env.read("claude.json"), wrapped);
    // Back in place: restored.
    fs::write(&backup[0], &good).unwrap();
    client(&env, "uninstall", &[]).code(0).stdout_has("wrote ");
    assert_eq!(value(&env), serde_json::from_slice::<Value>(&good).unwrap());
}

#[test]
fn a_malformed_config_fails_and_stays_as_it_was() {
    let env = TestEnv::new();
    installed(&env);
    let text = String::from_utf8(env.read("claude.json")).unwrap();
    let broken = &text[..text.len() / 2];
    env.write("claude.json", broken);
    client(&env, "uninstall", &[])
        .code(2)
        .diag_in_stderr("client-config");
    assert_eq!(env.read("claude.json"), broken.as_bytes());
}
