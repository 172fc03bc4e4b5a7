//! `client install` wraps only pinned servers: an `npx`/`uvx` entry that is
//! not pinned is pinned first (with --yes, or when asked), through the same
//! `add` pipeline and policy, from a real HTTPS test registry serving made
//! npm packages; whatever is not pinned stays as it was.

use std::ffi::OsString;
use std::fs;

use serde_json::{Value, json};

use super::npm_tree::{entry, policy, serve_made, tgz};
use super::support::tls_server::{Response, TlsServer};
use super::support::util::*;

const WARDEN: &str = "/opt/mcp-warden/bin/mcp-warden";

/// A one-file npm server package `name@1.0.0`.
fn made(name: &str) -> (Value, Vec<u8>) {
    let pj = json!({"name": name, "version": "1.0.0", "bin": "server.js"});
    let bytes = tgz(&[
        ("package.json", &pj.to_string()),
        ("server.js", "process.stdin.pipe(process.stdout);\n"),
    ]);
    (pj, bytes)
}

fn registry(names: &[&str]) -> TlsServer {
    let server = TlsServer::start();
    let made: Vec<_> = names.iter().map(|n| made(n)).collect();
    serve_made(&server, &made);
    server
}

const CONFIG: &str = r#"{
  "mcpServers": {
    "top": {
      "command": "npx",
      "args": ["-y", "warden-top@1.0.0", "--root", "/srv/data"],
      "env": {"LOG_LEVEL": "debug"},
      "cwd": "/srv"
    },
    "latest": {"command": "npx", "args": ["warden-latest"]},
    "ranged": {"command": "npx", "args": ["-y", "warden-top@^1.0.0"]},
    "script": {"command": "node", "args": ["/srv/index.js"]}
  }
}
"#;

fn install(env: &TestEnv, server: &TlsServer, extra: &[&str]) -> Output {
    let mut args: Vec<OsString> = [
        "client",
        "install",
        "--client",
        "claude",
        "--config",
        "claude.json",
        "--warden-path",
        WARDEN,
        "--registry",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(server.base_url().into());
    args.push("--ca-file".into());
    args.push(server.ca_file().into());
    args.extend(extra.iter().map(OsString::from));
    env.run(args)
}

fn config(env: &TestEnv) -> Value {
    serde_json::from_slice(&env.read("claude.json")).unwrap()
}

fn lock_servers(env: &TestEnv) -> Vec<String> {
    let path = env.home.join("config/servers.lock");
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    let v: toml::Value = toml::from_str(&text).unwrap();
    v.get("servers")
        .and_then(|s| s.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn yes_pins_registry_packages_then_wraps_them_and_leaves_the_rest() {
    let env = TestEnv::new();
    let server = registry(&["warden-top", "warden-latest"]);
    policy(&env, &["top", "latest"]);
    env.write("claude.json", CONFIG);
    let out = install(&env, &server, &["--yes"]);
    out.code(0)
        .stdout_has("top: pinned from npm:warden-top@1.0.0, wrapped (was started by npx)")
        .stdout_has("latest: pinned from npm:warden-latest, wrapped")
        .stdout_has("ranged: left as it is: not pinned")
        .stdout_has("script: left as it is: not pinned")
        .stdout_has("not pinned yet: mcp-warden add script /srv/index.js");
    // Pinned as `add` pins: the source, the resolved version, the digest.
    assert_eq!(lock_servers(&env), ["latest", "top"]);
    let e = entry(&env, "top");
    assert_eq!(e["source"].as_str(), Some("npm:warden-top@1.0.0"));
    assert_eq!(e["version"].as_str(), Some("1.0.0"));
    assert_eq!(entry(&env, "latest")["version"].as_str(), Some("1.0.0"));
    // The wrapped entry carries the arguments, env and cwd over.
    let v = config(&env);
    let top = &v["mcpServers"]["top"];
    assert_eq!(top["command"], WARDEN);
    assert_eq!(
        top["args"],
        json!([
            "run",
            "top",
            "--env",
            "LOG_LEVEL",
            "--",
            "--root",
            "/srv/data"
        ])
    );
    assert_eq!(top["env"], json!({"LOG_LEVEL": "debug"}));
    assert_eq!(top["cwd"], "/srv");
    // Neither pinned nor pinnable: as it was.
    let orig: Value = serde_json::from_str(CONFIG).unwrap();
    for name in ["ranged", "script"] {
        assert_eq!(v["mcpServers"][name], orig["mcpServers"][name], "{name}");
    }
    // Again: nothing to pin, nothing to change.
    let before = env.read("claude.json");
    install(&env, &server, &["--yes"])
        .code(0)
        .stdout_has("nothing to change");
    assert_eq!(env.read("claude.json"), before);
}

#[test]
fn a_server_the_policy_denies_is_not_pinned_nor_wrapped() {
    let env = TestEnv::new();
    let server = registry(&["warden-top", "warden-latest"]);
    // Only `latest` is exempt from the signature requirement.
    policy(&env, &["latest"]);
    env.write("claude.json", CONFIG);
    let out = install(&env, &server, &["--yes", "--format", "json"]);
    out.code(0);
    let doc = out.json();
    let pins = doc["pins"].as_array().unwrap();
    let top = pins.iter().find(|p| p["name"] == "top").unwrap();
    assert_eq!(top["status"], "denied", "{doc}");
    assert!(!top["reason"].as_str().unwrap().is_empty());
    assert_eq!(lock_servers(&env), ["latest"]);
    let v = config(&env);
    assert_eq!(v["mcpServers"]["top"]["command"], "npx");
    assert_eq!(v["mcpServers"]["latest"]["command"], WARDEN);
    // In text: the reason, after the entry left alone.
    fs::remove_file(env.home.join("config/servers.lock")).unwrap();
    env.write("claude.json", CONFIG);
    let out = install(&env, &server, &["--yes"]);
    out.code(0)
        .stdout_has("top: left as it is: not pinned")
        .stdout_has("pinning it from npm:warden-top@1.0.0 failed: ");
}

#[test]
fn dry_run_and_no_terminal_pin_nothing() {
    let env = TestEnv::new();
    let server = registry(&["warden-top", "warden-latest"]);
    policy(&env, &["top", "latest"]);
    env.write("claude.json", CONFIG);
    let out = install(&env, &server, &["--dry-run", "--yes"]);
    out.code(0)
        .stdout_has("top: would be pinned from npm:warden-top@1.0.0")
        .stdout_has("dry run: nothing was changed");
    assert_eq!(env.read("claude.json"), CONFIG.as_bytes());
    assert!(lock_servers(&env).is_empty());
    assert!(server.requests().is_empty(), "a dry run fetched something");
    // Stdin is not a terminal and no --yes: nothing asked, nothing pinned,
    // nothing wrapped.
    let out = install(&env, &server, &[]);
    out.code(0)
        .stdout_has("pass --yes to pin it from npm:warden-top@1.0.0")
        .stdout_has("nothing to change");
    assert_eq!(env.read("claude.json"), CONFIG.as_bytes());
    assert!(lock_servers(&env).is_empty());
}

#[test]
fn a_tampered_or_truncated_tarball_is_not_pinned_and_the_entry_stays() {
    fn tampered(mut b: Vec<u8>) -> Vec<u8> {
        let n = b.len() / 2;
        b[n] ^= 1;
        b
    }
    fn truncated(b: Vec<u8>) -> Vec<u8> {
        b[..b.len() / 2].to_vec()
    }
    type Spoil = fn(Vec<u8>) -> Vec<u8>;
    let cases: [(&str, Spoil); 2] = [("tampered", tampered), ("truncated", truncated)];
    for (what, body) in cases {
        let env = TestEnv::new();
        let server = TlsServer::start();
        let (pj, bytes) = made("warden-top");
        serve_made(&server, &[(pj, bytes.clone())]);
        // The same URL now serves other bytes than the integrity names.
        server.route(
            "/warden-top/-/warden-top-1.0.0.tgz",
            Response::ok(body(bytes)),
        );
        policy(&env, &["top"]);
        env.write(
            "claude.json",
            r#"{"mcpServers": {"top": {"command": "npx", "args": ["-y", "warden-top@1.0.0"]}}}"#,
        );
        let before = env.read("claude.json");
        let out = install(&env, &server, &["--yes"]);
        out.code(0)
            .stdout_has("top: left as it is: not pinned")
            .stdout_has("pinning it from npm:warden-top@1.0.0 failed: ");
        assert_eq!(env.read("claude.json"), before, "{what}");
        assert!(lock_servers(&env).is_empty(), "{what}");
    }
}

/// On a terminal the pin is asked for: "y" pins and wraps, anything else
/// leaves the entry. The binary runs under `script` (util-linux) so that
/// its stdin and stderr are a real terminal.
#[cfg(target_os = "linux")]
#[test]
fn asked_on_a_terminal() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    require_tool("script", &["--version"]);
    for (answer, pinned) in [("y\n", true), ("n\n", false)] {
        let env = TestEnv::new();
        let server = registry(&["warden-top"]);
        policy(&env, &["top"]);
        env.write(
            "claude.json",
            r#"{"mcpServers": {"top": {"command": "npx", "args": ["-y", "warden-top@1.0.0"]}}}"#,
        );
        let cmdline = format!(
            "{BIN} client install --client claude --config claude.json --warden-path {WARDEN} --registry {} --ca-file {}",
            server.base_url(),
            server.ca_file().display()
        );
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &cmdline, "/dev/null"])
            .current_dir(&env.work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MCP_WARDEN_HOME", &env.home)
            .env("MCP_WARDEN_SYSTEM_DIR", &env.system)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start script");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains(
                "server `top` is not pinned: pin it from npm:warden-top@1.0.0 now? [y/N]"
            ),
            "{text}"
        );
        assert_eq!(lock_servers(&env) == ["top"], pinned, "{answer}: {text}");
        let command = if pinned { WARDEN } else { "npx" };
        assert_eq!(
            config(&env)["mcpServers"]["top"]["command"],
            command,
            "{text}"
        );
    }
}
