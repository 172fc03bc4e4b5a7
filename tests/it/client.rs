//! `client install|list` on real client configs (fixtures/clients), in a
//! temporary home: the rewrite, its idempotence, the backup, `--dry-run`,
//! refusals that leave the file as it was, and that the literal token in
//! the fixtures never reaches any output.

use std::fs;

use serde_json::Value;

use super::support::util::*;

/// The made-up token planted in the Claude fixture (and, as an API key, in
/// the Cursor one): no output may ever show it.
const CANARY: &str = "ghp_C4NARYt0kenV4lue1234567890abcdefXY";
const CURSOR_KEY: &str = "BSAq8Zr2LmX0vTn5Kp9Wd3Yh7Bc1Fg4J";
const WARDEN: &str = "/opt/mcp-warden/bin/mcp-warden";

fn install(env: &TestEnv, client: &str, config: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "client",
        "install",
        "--client",
        client,
        "--config",
        config,
        "--warden-path",
        WARDEN,
    ];
    args.extend_from_slice(extra);
    env.run(&args)
}

fn no_secret_in(out: &Output) {
    for secret in [CANARY, CURSOR_KEY] {
        if out.stdout.contains(secret) || out.stderr.contains(secret) {
            out.fail("a literal secret from the config appears in the output");
        }
    }
}

fn backups(env: &TestEnv, file: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(&env.work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{file}.mcp-warden-backup-")))
        })
        .collect();
    v.sort();
    v
}

fn json_file(env: &TestEnv, rel: &str) -> Value {
    serde_json::from_slice(&env.read(rel)).unwrap()
}

/// A JSONC file as a value (comments and trailing commas allowed).
fn jsonc_file(env: &TestEnv, rel: &str) -> Value {
    let text = String::from_utf8(env.read(rel)).unwrap();
    jsonc_parser::cst::CstRootNode::parse(&text, &Default::default())
        .unwrap()
        .value()
        .and_then(|v| v.to_serde_value())
        .unwrap()
}

fn args_of(v: &Value, key: &str, name: &str) -> Vec<String> {
    v[key][name]["args"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} has no args: {v}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Parse → write → parse: everything but the wrapped servers' `command`
/// and `args` (and moved env entries) is equal, in the same order.
fn assert_round_trip(old: &Value, new: &Value, key: &str, wrapped: &[&str]) {
    let (o, n) = (old.as_object().unwrap(), new.as_object().unwrap());
    assert!(
        o.keys().eq(n.keys()),
        "top-level keys or their order changed"
    );
    for (k, v) in o {
        if k != key {
            assert_eq!(&n[k], v, "`{k}` changed");
        }
    }
    let (os, ns) = (o[key].as_object().unwrap(), n[key].as_object().unwrap());
    assert!(os.keys().eq(ns.keys()), "server names or order changed");
    for (name, ov) in os {
        let nv = &ns[name];
        if !wrapped.contains(&name.as_str()) {
            assert_eq!(nv, ov, "server `{name}` was not to change");
            continue;
        }
        assert_eq!(nv["command"], WARDEN, "server `{name}` is not wrapped");
        let (om, nm) = (ov.as_object().unwrap(), nv.as_object().unwrap());
        assert!(
            om.keys().eq(nm.keys()) || !om.contains_key("args"),
            "keys of `{name}` changed"
        );
        for (k, v) in om {
            if k != "command" && k != "args" {
                assert_eq!(&nm[k], v, "`{k}` of `{name}` changed");
            }
        }
    }
}

/// Pins `names` by hand (made-up digests): `install` wraps only pinned
/// servers, and these tests are about the rewrite, not the pinning.
pub(super) fn pin_by_hand(env: &TestEnv, names: &[&str]) {
    let mut lock = String::from("version = 1\n");
    for n in names {
        lock.push_str(&format!(
            "\n[servers.{n}]\nsource = \"npm:{n}@1.0.0\"\nsha256 = \"{}\"\nsha512 = \"{}\"\nsize = 1\nkind = \"npm-tarball\"\npinned = \"2026-01-01T00:00:00Z\"\n",
            "a".repeat(64),
            "b".repeat(128)
        ));
    }
    fs::create_dir_all(env.home.join("config")).unwrap();
    fs::write(env.home.join("config/servers.lock"), lock).unwrap();
}

const CLAUDE_LOCAL: &[&str] = &["filesystem", "github", "git", "weather", "time", "sqlite"];

#[test]
fn claude_install_wraps_local_servers_and_keeps_the_rest() {
    let env = TestEnv::new();
    pin_by_hand(&env, CLAUDE_LOCAL);
    env.copy_fixture("clients/claude_desktop_config.json", "claude.json");
    let original = env.read("claude.json");
    let out = install(&env, "claude", "claude.json", &[]);
    out.code(0);
    no_secret_in(&out);
    out.stdout_has("github-docker: left as it is: `docker` runs the server in a container")
        .stdout_has("literal secrets");
    assert!(!out.stdout.contains("not pinned"), "{}", out.context());
    // Not a terminal and no --yes: the token stays, with a warning.
    out.stderr_has("GITHUB_PERSONAL_ACCESS_TOKEN is still a literal secret");
    // Package specs and paths are not mistaken for secrets.
    assert!(
        !out.stderr.contains("look like secrets"),
        "{}",
        out.context()
    );

    let new = json_file(&env, "claude.json");
    let m = "mcpServers";
    assert_eq!(
        args_of(&new, m, "filesystem"),
        strs(&[
            "run",
            "filesystem",
            "--",
            "/Users/alice/Desktop",
            "/Users/alice/Downloads"
        ])
    );
    assert_eq!(
        args_of(&new, m, "github"),
        strs(&[
            "run",
            "github",
            "--env",
            "GITHUB_PERSONAL_ACCESS_TOKEN",
            "--env",
            "GITHUB_TOOLSETS"
        ])
    );
    assert_eq!(
        new[m]["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"],
        CANARY
    );
    assert_eq!(
        args_of(&new, m, "git"),
        strs(&["run", "git", "--", "--repository", "/Users/alice/src/app"])
    );
    assert_eq!(args_of(&new, m, "weather"), strs(&["run", "weather"]));
    assert_eq!(
        args_of(&new, m, "time"),
        strs(&["run", "time", "--", "--local-timezone", "Europe/Paris"])
    );
    assert_eq!(new[m]["github-docker"]["command"], "docker");
    assert_round_trip(
        &serde_json::from_slice(&original).unwrap(),
        &new,
        m,
        &["filesystem", "github", "git", "weather", "time", "sqlite"],
    );
    let s = settings(&env);
    s.bind(|| {
        insta::assert_snapshot!(
            "client_claude_installed",
            String::from_utf8(env.read("claude.json")).unwrap()
        )
    });

    // One backup, equal to the original, readable by the owner alone.
    let b = backups(&env, "claude.json");
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(fs::read(&b[0]).unwrap(), original);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            fs::metadata(&b[0]).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let name = b[0].file_name().unwrap().to_str().unwrap();
    assert!(!name.contains(CANARY));
    assert!(
        regex::Regex::new(r"^claude\.json\.mcp-warden-backup-\d{8}T\d{6}Z$")
            .unwrap()
            .is_match(name),
        "{name}"
    );

    // Again: nothing changes, no second backup.
    let wrapped = env.read("claude.json");
    let again = install(&env, "claude", "claude.json", &[]);
    again.code(0).stdout_has("nothing to change");
    again.stdout_has("filesystem: already wrapped (run filesystem)");
    no_secret_in(&again);
    assert_eq!(env.read("claude.json"), wrapped);
    assert_eq!(backups(&env, "claude.json").len(), 1);
}

#[test]
fn dry_run_shows_a_redacted_diff_and_changes_nothing() {
    let env = TestEnv::new();
    env.copy_fixture("clients/claude_desktop_config.json", "claude.json");
    let original = env.read("claude.json");
    let out = install(&env, "claude", "claude.json", &["--dry-run"]);
    out.code(0);
    no_secret_in(&out);
    out.stdout_has("-      \"command\": \"npx\",")
        .stdout_has(&format!("+      \"command\": \"{WARDEN}\","))
        .stdout_has("\"GITHUB_PERSONAL_ACCESS_TOKEN\": \"<redacted>\"")
        .stdout_has("dry run: nothing was changed");
    assert_eq!(env.read("claude.json"), original);
    assert!(backups(&env, "claude.json").is_empty());

    // --yes with --dry-run previews the move without touching the keychain
    // (the entry leaves `env` in the diff; nothing is stored).
    let out = install(&env, "claude", "claude.json", &["--dry-run", "--yes"]);
    out.code(0);
    no_secret_in(&out);
    out.stdout_has("GITHUB_PERSONAL_ACCESS_TOKEN would move into the keychain")
        .stdout_has("-        \"GITHUB_PERSONAL_ACCESS_TOKEN\": \"<redacted>\",")
        .stdout_has("\"--env\", \"GITHUB_TOOLSETS\"]");
    assert!(
        !out.stdout
            .contains("\"--env\", \"GITHUB_PERSONAL_ACCESS_TOKEN\"")
    );
    assert_eq!(env.read("claude.json"), original);

    // The JSON document carries the same redacted diff.
    let out = env.run([
        "--format",
        "json",
        "client",
        "install",
        "--client",
        "claude",
        "--config",
        "claude.json",
        "--warden-path",
        WARDEN,
        "--dry-run",
    ]);
    out.code(0);
    no_secret_in(&out);
    let doc = out.json();
    assert_eq!(doc["changed"], true);
    assert!(doc["diff"].as_str().unwrap().contains("<redacted>"));
    assert_eq!(doc["servers"][6]["action"], "skip");
    assert_eq!(
        doc["servers"][1]["literal_secrets"][0],
        "GITHUB_PERSONAL_ACCESS_TOKEN"
    );
    assert_eq!(env.read("claude.json"), original);
}

#[test]
fn vscode_jsonc_keeps_comments_inputs_and_references() {
    let env = TestEnv::new();
    pin_by_hand(&env, &["perplexity", "memory", "playwright"]);
    env.copy_fixture("clients/vscode_mcp.json", "mcp.json");
    let original = jsonc_file(&env, "mcp.json");
    let out = install(&env, "vscode", "mcp.json", &[]);
    out.code(0);
    out.stdout_has("github: remote server, left alone");
    // A `${input:...}` reference is not a literal: no warning, passed through.
    assert!(
        !out.stderr.contains("PERPLEXITY_API_KEY"),
        "{}",
        out.context()
    );
    let text = String::from_utf8(env.read("mcp.json")).unwrap();
    for comment in [
        "// Servers for this machine",
        "// Perplexity, with the key asked for by VS Code",
        "// knowledge graph",
        "/* the hosted GitHub server */",
    ] {
        assert!(text.contains(comment), "lost {comment}:\n{text}");
    }
    let new = jsonc_file(&env, "mcp.json");
    assert_eq!(
        args_of(&new, "servers", "perplexity"),
        strs(&[
            "run",
            "perplexity",
            "--env",
            "PERPLEXITY_API_KEY",
            "--env",
            "LOG_LEVEL"
        ])
    );
    assert_eq!(
        new["servers"]["perplexity"]["env"]["PERPLEXITY_API_KEY"],
        "${input:perplexity-key}"
    );
    assert_eq!(
        args_of(&new, "servers", "playwright"),
        strs(&["run", "playwright", "--", "--headless"])
    );
    assert_round_trip(
        &original,
        &new,
        "servers",
        &["perplexity", "memory", "playwright"],
    );
    let s = settings(&env);
    s.bind(|| insta::assert_snapshot!("client_vscode_installed", text));
    let again = install(&env, "vscode", "mcp.json", &[]);
    again.code(0).stdout_has("nothing to change");
    assert_eq!(String::from_utf8(env.read("mcp.json")).unwrap(), text);
}

#[test]
fn vscode_comment_that_would_be_lost_is_refused() {
    let env = TestEnv::new();
    let text = r#"{
  "servers": {
    "x": {
      "command": "npx",
      "args": [
        // pinned on purpose
        "-y", "pkg@1.0.0"
      ]
    }
  }
}
"#;
    env.write("mcp.json", text);
    pin_by_hand(&env, &["x"]);
    let out = install(&env, "vscode", "mcp.json", &[]);
    out.code(2).stderr_has("a comment would be lost");
    assert_eq!(env.read("mcp.json"), text.as_bytes());
    assert!(backups(&env, "mcp.json").is_empty());
}

#[test]
fn cursor_leaves_remote_and_shell_servers_and_keeps_declined_secret() {
    let env = TestEnv::new();
    pin_by_hand(&env, &["brave-search"]);
    env.copy_fixture("clients/cursor_mcp.json", "cursor.json");
    let out = install(&env, "cursor", "cursor.json", &[]);
    out.code(0);
    no_secret_in(&out);
    out.stdout_has("linear: remote server, left alone")
        .stdout_has("shell-wrapped: left as it is: `sh` runs a shell command")
        .stdout_has(
            "fetch: left as it is: not pinned, and `mcp-warden run` starts only pinned servers",
        )
        .stdout_has(
            "pass --yes to pin it from pypi:mcp-server-fetch (stdin is not a terminal to ask on)",
        )
        .stdout_has("not pinned yet: mcp-warden add fetch pypi:mcp-server-fetch");
    out.stderr_has("BRAVE_API_KEY is still a literal secret");
    let new = json_file(&env, "cursor.json");
    assert_eq!(
        new["mcpServers"]["brave-search"]["env"]["BRAVE_API_KEY"],
        CURSOR_KEY
    );
    assert_eq!(
        args_of(&new, "mcpServers", "brave-search"),
        strs(&["run", "brave-search", "--env", "BRAVE_API_KEY"])
    );
    assert_eq!(
        new["mcpServers"]["linear"]["url"],
        "https://mcp.linear.app/sse"
    );
    assert_eq!(new["mcpServers"]["shell-wrapped"]["command"], "sh");
    // Not pinned, so not wrapped: `run` would refuse it and the client lose it.
    assert_eq!(new["mcpServers"]["fetch"]["command"], "uvx");
}

#[test]
fn secrets_in_args_and_headers_never_reach_the_output() {
    let env = TestEnv::new();
    let header = format!("Bearer {CANARY}");
    let text = format!(
        r#"{{
  "mcpServers": {{
    "remote": {{
      "url": "https://mcp.example.com/mcp",
      "headers": {{ "Authorization": "{header}" }}
    }},
    "search": {{
      "command": "npx",
      "args": ["-y", "@acme/search-mcp@1.0.0", "--api-key={CURSOR_KEY}", "{CANARY}"]
    }},
    "odd": {{
      "command": "npx",
      "args": ["-y", "--token={CANARY}"]
    }},
    "-dash": {{ "command": "uvx", "args": ["x==1.0"] }}
  }}
}}
"#
    );
    env.write("cursor.json", &text);
    pin_by_hand(&env, &["search"]);
    for extra in [&["--dry-run"][..], &[]] {
        let out = install(&env, "cursor", "cursor.json", extra);
        out.code(0);
        no_secret_in(&out);
        out.stderr_has("server `search`: 2 argument(s) look like secrets");
    }
    // The wrapped server keeps its arguments (after `--`), secrets included:
    // they were there before, and only a warning can help.
    let new = json_file(&env, "cursor.json");
    assert_eq!(
        args_of(&new, "mcpServers", "search"),
        strs(&[
            "run",
            "search",
            "--",
            &format!("--api-key={CURSOR_KEY}"),
            CANARY
        ])
    );
    assert_eq!(
        new["mcpServers"]["remote"]["headers"]["Authorization"],
        header
    );
    // Names `add` would refuse are left alone.
    assert_eq!(new["mcpServers"]["-dash"]["command"], "uvx");
    assert_eq!(new["mcpServers"]["odd"]["command"], "npx");
}

#[test]
fn bad_configs_fail_cleanly_and_leave_the_file() {
    let env = TestEnv::new();
    let fixture = fs::read(fixture("clients/claude_desktop_config.json")).unwrap();
    let truncated = fixture[..fixture.len() / 2].to_vec();
    let mut oversized = b"{\"mcpServers\": {}, \"pad\": \"".to_vec();
    oversized.resize(4 * 1024 * 1024 + 10, b'a');
    oversized.extend_from_slice(b"\"}");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", truncated, "not valid JSON"),
        (
            "malformed",
            b"{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"npx\" \"args\": []}\n  }\n}\n"
                .to_vec(),
            "malformed.json:3:",
        ),
        (
            "comments",
            b"{\n  // no\n  \"mcpServers\": {}\n}\n".to_vec(),
            "Comments are not allowed",
        ),
        (
            "trailing",
            b"{\"mcpServers\": {},}".to_vec(),
            "not valid JSON",
        ),
        ("array", b"[1, 2]".to_vec(), "the top level is an array"),
        ("empty", Vec::new(), "the top level is empty"),
        (
            "servers",
            b"{\"mcpServers\": [\"npx\"]}".to_vec(),
            "`mcpServers` is an array",
        ),
        ("oversized", oversized, "limit"),
        ("deep", deep.into_bytes(), "nesting depth"),
        ("binary", vec![0xff, 0xfe, b'{', b'}'], "UTF-8"),
    ];
    for (name, bytes, expect) in cases {
        let file = format!("{name}.json");
        env.write(&file, &bytes);
        let out = install(&env, "claude", &file, &[]);
        out.code(2).stderr_has(expect);
        assert_eq!(env.read(&file), bytes, "{name} was changed");
        assert!(backups(&env, &file).is_empty(), "{name} got a backup");
        let listed = env.run(["client", "list", "--client", "claude", "--config", &file]);
        listed.code(2);
    }
    // A server entry of the wrong shape is reported, the rest still wrapped.
    env.write(
        "mixed.json",
        r#"{"mcpServers": {"bad": 7, "noargs": {"command": "npx", "args": "x"}, "ok": {"command": "uvx", "args": ["a==1.0"]}}}"#,
    );
    pin_by_hand(&env, &["ok"]);
    let out = install(&env, "claude", "mixed.json", &[]);
    out.code(0)
        .stdout_has("bad: left as it is: the entry is a number, not an object")
        .stdout_has("noargs: left as it is: `args` is a string, not an array")
        .stdout_has("ok: wrapped");
    // A missing config names the way out.
    let out = install(&env, "claude", "nope.json", &[]);
    out.code(2)
        .stderr_has("no such file")
        .stderr_has("--config");
}

#[test]
fn an_env_name_run_would_refuse_fails_the_install_and_leaves_the_file() {
    let env = TestEnv::new();
    let bad = br#"{"mcpServers": {"ok": {"command": "uvx", "args": ["a==1.0"]}, "dash": {"command": "npx", "args": ["-y", "@acme/x@1.0.0"], "env": {"LOG": "1", "A-B": "x"}}}}"#;
    env.write("bad.json", bad);
    let out = install(&env, "claude", "bad.json", &[]);
    out.code(2).diag_in_stderr("client-config").stderr_has(
        "server `dash` sets the variable `A-B` in `env`, which `mcp-warden run` cannot pass \
         (a name is a letter or _ followed by letters, digits or _, at most 128); nothing was written",
    );
    out.stderr_has("hint: remove `A-B` from the `env` of `dash`");
    assert_eq!(env.read("bad.json"), bad, "the config was changed");
    assert!(backups(&env, "bad.json").is_empty(), "a backup was made");
    // The name is refused by run's own parser, which is why install refuses it.
    env.run(["run", "dash", "--env", "A-B"])
        .code(2)
        .stderr_has("invalid value 'A-B' for '--env <VAR>'");

    // Valid names install, and the written arguments get past run's parser
    // (the pin is made up, so run stops at its missing artifact, not at
    // the usage).
    env.write(
        "good.json",
        r#"{"mcpServers": {"under": {"command": "npx", "args": ["-y", "@acme/x@1.0.0"], "env": {"A_B": "x", "_c1": "y"}}}}"#,
    );
    pin_by_hand(&env, &["under"]);
    install(&env, "claude", "good.json", &[])
        .code(0)
        .stdout_has("under: wrapped");
    let args = args_of(&json_file(&env, "good.json"), "mcpServers", "under");
    assert_eq!(
        args,
        strs(&["run", "under", "--env", "A_B", "--env", "_c1"])
    );
    let out = env.run(&args);
    out.code(1).diag_in_stderr("cache-mismatch");
}

#[test]
fn list_reports_wrapped_pinned_and_remote() {
    let env = TestEnv::new();
    pin_by_hand(&env, &["brave-search", "fetch"]);
    env.copy_fixture("clients/cursor_mcp.json", "cursor.json");
    install(&env, "cursor", "cursor.json", &[]).code(0);
    // Pin one of the wrapped servers by hand.
    let lock = format!(
        "version = 1\n\n[servers.fetch]\nsource = \"pypi:mcp-server-fetch==2025.4.7\"\nsha256 = \"{}\"\nsha512 = \"{}\"\nsize = 1\nkind = \"wheel\"\npinned = \"2026-01-01T00:00:00Z\"\n",
        "a".repeat(64),
        "b".repeat(128)
    );
    fs::create_dir_all(env.home.join("config")).unwrap();
    fs::write(env.home.join("config/servers.lock"), lock).unwrap();
    let out = env.run([
        "client",
        "list",
        "--client",
        "cursor",
        "--config",
        "cursor.json",
    ]);
    out.code(0)
        .stdout_has("linear: remote")
        .stdout_has("fetch: wrapped (run fetch, pinned)")
        .stdout_has("brave-search: wrapped (run brave-search, NOT pinned")
        .stdout_has("shell-wrapped: not wrapped");
    no_secret_in(&out);
    let out = env.run([
        "--format",
        "json",
        "client",
        "list",
        "--client",
        "cursor",
        "--config",
        "cursor.json",
    ]);
    out.code(0);
    let doc = out.json();
    let servers = doc["clients"][0]["servers"].as_array().unwrap();
    let by = |n: &str| servers.iter().find(|s| s["name"] == n).unwrap().clone();
    assert_eq!(by("fetch")["pinned"], true);
    assert_eq!(by("brave-search")["pinned"], false);
    assert_eq!(by("linear")["status"], "remote");
    assert_eq!(by("shell-wrapped")["status"], "not-wrapped");
    // Install now suggests `add` only for the unpinned one.
    let out = install(&env, "cursor", "cursor.json", &[]);
    out.code(0).stdout_has("mcp-warden add brave-search");
    assert!(
        !out.stdout.contains("mcp-warden add fetch"),
        "{}",
        out.context()
    );
}

#[test]
fn default_paths_come_from_home() {
    let env = TestEnv::new();
    let home = env.root.join("userhome");
    pin_by_hand(&env, &["brave-search", "fetch"]);
    fs::create_dir_all(home.join(".cursor")).unwrap();
    fs::copy(
        fixture("clients/cursor_mcp.json"),
        home.join(".cursor/mcp.json"),
    )
    .unwrap();
    let out = env.cmd().var("HOME", &home).args(["client", "list"]).run();
    out.code(0)
        .stdout_has("cursor: ")
        .stdout_has(".cursor/mcp.json")
        .stdout_has("brave-search: not wrapped");
    assert!(!out.stdout.contains("claude:"), "{}", out.context());
    let out = env
        .cmd()
        .var("HOME", &home)
        .args([
            "client",
            "install",
            "--client",
            "cursor",
            "--warden-path",
            WARDEN,
        ])
        .run();
    out.code(0).stdout_has("brave-search: wrapped");
    let v: Value =
        serde_json::from_slice(&fs::read(home.join(".cursor/mcp.json")).unwrap()).unwrap();
    assert_eq!(v["mcpServers"]["fetch"]["command"], WARDEN);
    // Claude Desktop's file is under the XDG config directory.
    let out = env
        .cmd()
        .var("HOME", &home)
        .args([
            "client",
            "install",
            "--client",
            "claude",
            "--warden-path",
            WARDEN,
        ])
        .run();
    out.code(2)
        .stderr_has(".config/Claude/claude_desktop_config.json");
}

#[cfg(unix)]
#[test]
fn symlinked_config_keeps_link_and_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = TestEnv::new();
    fs::create_dir_all(env.path("dotfiles")).unwrap();
    env.copy_fixture("clients/cursor_mcp.json", "dotfiles/mcp.json");
    fs::set_permissions(
        env.path("dotfiles/mcp.json"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::symlink("dotfiles/mcp.json", env.path("mcp.json")).unwrap();
    pin_by_hand(&env, &["brave-search", "fetch"]);
    install(&env, "cursor", "mcp.json", &[]).code(0);
    assert!(
        fs::symlink_metadata(env.path("mcp.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let target = env.path("dotfiles/mcp.json");
    assert_eq!(
        fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let v: Value = serde_json::from_slice(&fs::read(&target).unwrap()).unwrap();
    assert_eq!(v["mcpServers"]["fetch"]["command"], WARDEN);
    // The backup sits beside the real file.
    assert_eq!(
        fs::read_dir(env.path("dotfiles")).unwrap().count(),
        2,
        "expected the file and its backup"
    );
}

#[test]
fn relative_warden_path_is_refused() {
    let env = TestEnv::new();
    env.copy_fixture("clients/cursor_mcp.json", "cursor.json");
    let before = env.read("cursor.json");
    env.run([
        "client",
        "install",
        "--client",
        "cursor",
        "--config",
        "cursor.json",
        "--warden-path",
        "bin/mcp-warden",
    ])
    .code(2)
    .stderr_has("not an absolute path");
    assert_eq!(env.read("cursor.json"), before);
}

fn settings(env: &TestEnv) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex::escape(env.root.to_str().unwrap()), "[TMP]");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

/// Declining at the terminal prompt keeps the literal and warns. The
/// binary runs under `script` (util-linux) so that its stdin and stderr
/// are a real terminal, and the answer is typed into it.
#[cfg(target_os = "linux")]
#[test]
fn declined_at_the_prompt_keeps_the_literal() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    require_tool("script", &["--version"]);
    let env = TestEnv::new();
    env.copy_fixture("clients/claude_desktop_config.json", "claude.json");
    pin_by_hand(&env, CLAUDE_LOCAL);
    let cmdline =
        format!("{BIN} client install --client claude --config claude.json --warden-path {WARDEN}");
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
    child.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("move GITHUB_PERSONAL_ACCESS_TOKEN from the config into the keychain? [y/N]"),
        "{text}"
    );
    assert!(
        text.contains("GITHUB_PERSONAL_ACCESS_TOKEN is still a literal secret"),
        "{text}"
    );
    assert!(!text.contains(CANARY), "the token was shown: {text}");
    let new = json_file(&env, "claude.json");
    assert_eq!(
        new["mcpServers"]["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"],
        CANARY
    );
    assert_eq!(new["mcpServers"]["github"]["command"], WARDEN);
}
