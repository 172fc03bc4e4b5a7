//! `run` with secrets from a real Secret Service (gnome-keyring on a
//! private D-Bus): the value reaches the server's environment and no
//! output, log or file of mcp-warden's.

use std::fs;

use super::run::{PING, answer, pin_node};
use super::support::keyring::SecretService;
use super::support::util::{TestEnv, assert_not_in_tree};

const CANARY: &str = "canary-run-9d2f7a-s3cr3t";

/// Answers each line with the SHA-256 of every variable's value, so the
/// test can check the secret arrived without the server printing it.
const HASH_ENV: &str = r#"
const crypto = require('crypto');
const h = (v) => crypto.createHash('sha256').update(v).digest('hex');
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  const env = Object.fromEntries(Object.entries(process.env).map(([k, v]) => [k, h(v)]));
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(l).id, result: { env } }) + '\n');
});
rl.on('close', () => process.exit(0));
"#;

fn sha256(s: &str) -> String {
    super::support::util::sha256_hex(s.as_bytes())
}

#[test]
fn a_keychain_secret_reaches_the_server_and_nothing_else() {
    let ss = SecretService::start();
    let env = TestEnv::new();
    pin_node(&env, "hasher", HASH_ENV, "");
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"hasher\"\n[servers.run]\nenv = { GITHUB_TOKEN = \"keychain\" }\n",
    )
    .unwrap();

    // Not stored yet: the launch stops and names the command to run.
    let missing = ss.cmd(&env).args(["run", "hasher"]).stdin(PING).run();
    missing
        .code(2)
        .diag_in_stderr("secret-missing")
        .stderr_has("mcp-warden secret set hasher GITHUB_TOKEN");
    assert!(missing.stdout.is_empty());

    ss.cmd(&env)
        .args(["secret", "set", "hasher", "GITHUB_TOKEN"])
        .stdin(format!("{CANARY}\n"))
        .run()
        .code(0);
    // A value in the client's environment does not replace the keychain's.
    let out = ss
        .cmd(&env)
        .args(["-vvv", "run", "hasher"])
        .var("MCP_WARDEN_LOG", "trace")
        .var("GITHUB_TOKEN", "from-the-config")
        .stdin(PING)
        .run();
    out.code(0);
    let a = answer(&out);
    assert_eq!(
        a["env"]["GITHUB_TOKEN"],
        sha256(CANARY),
        "{}",
        out.context()
    );
    for o in [&missing, &out] {
        assert!(
            !o.stdout.contains(CANARY) && !o.stderr.contains(CANARY),
            "the secret was printed:\n{}",
            o.context()
        );
    }
    assert_not_in_tree(&env.root, CANARY.as_bytes());
}

#[test]
fn client_install_moves_a_literal_token_to_the_keychain_and_the_wrapped_command_runs() {
    let ss = SecretService::start();
    let env = TestEnv::new();
    pin_node(&env, "hasher", HASH_ENV, "");
    let config = env.write(
        "claude_desktop_config.json",
        format!(
            r#"{{"mcpServers": {{"hasher": {{"command": "npx", "args": ["-y", "hasher@1.0.0"], "env": {{"API_TOKEN": "{CANARY}", "LOG_LEVEL": "debug"}}}}}}}}"#
        ),
    );
    let warden = env!("CARGO_BIN_EXE_mcp-warden");
    let install = ss
        .cmd(&env)
        .args([
            "client",
            "install",
            "--client",
            "claude",
            "--config",
            config.to_str().unwrap(),
            "--warden-path",
            warden,
            "--yes",
        ])
        .run();
    install.code(0);
    assert!(!install.stdout.contains(CANARY) && !install.stderr.contains(CANARY));
    let text = fs::read_to_string(&config).unwrap();
    assert!(
        !text.contains(CANARY),
        "the token is still in the config:\n{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let server = &v["mcpServers"]["hasher"];
    assert_eq!(server["command"], warden);

    // Start what the client would start: the config's command, args and env.
    let args: Vec<String> = server["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(args[..2], ["run", "hasher"]);
    let mut c = ss.cmd(&env).args(["run"]).args(&args[1..]).stdin(PING);
    if let Some(e) = server["env"].as_object() {
        for (k, val) in e {
            c = c.var(k, val.as_str().unwrap());
        }
    }
    let out = c.run();
    out.code(0);
    let a = answer(&out);
    assert_eq!(a["env"]["API_TOKEN"], sha256(CANARY), "{}", out.context());
    assert_eq!(a["env"]["LOG_LEVEL"], sha256("debug"), "{}", out.context());
    assert!(!out.stdout.contains(CANARY) && !out.stderr.contains(CANARY));
}
