//! `secret set|rm|list` against real keychains: gnome-keyring on a private
//! bus (tests/it/support/keyring.rs) and the kernel's keyutils, through the
//! real binary. A canary value must never show up in any output or any file
//! under the home.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::support::keyring::SecretService;
use super::support::util::{BIN, Output, TestEnv, assert_not_in_tree};

const CANARY: &str = "canary-4f1c9e-🔑-s3cr3t";

/// Runs `mcp-warden ARGS` with `stdin` piped in (util's `Cmd` gives the
/// child /dev/null), in the same scrubbed environment.
fn run_stdin(env: &TestEnv, vars: &[(String, String)], args: &[&str], stdin: &[u8]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(&env.work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MCP_WARDEN_SYSTEM_DIR", &env.system)
        .env("MCP_WARDEN_HOME", &env.home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("start mcp-warden");
    let mut pipe = child.stdin.take().expect("piped");
    let data = stdin.to_vec();
    // A writer thread: the child may refuse early and close its stdin.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for mcp-warden");
    let _ = writer.join();
    let o = Output {
        cmdline: format!(
            "{vars:?} mcp-warden {} <<< ({} bytes)",
            args.join(" "),
            stdin.len()
        ),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        peak_rss_kib: None,
        elapsed: Default::default(),
    };
    o.assert_no_panic();
    o
}

fn ss_vars(ss: &SecretService) -> Vec<(String, String)> {
    let mut v = ss.envs();
    v.push(("MCP_WARDEN_KEYRING".into(), "secret-service".into()));
    v
}

/// The service name mcp-warden uses for a `--home`.
fn service(env: &TestEnv) -> String {
    format!("mcp-warden:{}", env.home.display())
}

fn assert_no_canary(outs: &[&Output]) {
    for o in outs {
        o.check(
            !o.stdout.contains(CANARY) && !o.stderr.contains(CANARY),
            "the secret value was printed",
        );
    }
}

#[test]
fn secret_service_round_trip() {
    let ss = SecretService::start();
    let env = TestEnv::new();
    let vars = ss_vars(&ss);

    let set = run_stdin(
        &env,
        &vars,
        &["secret", "set", "github", "GITHUB_TOKEN"],
        format!("{CANARY}\n").as_bytes(),
    );
    set.code(0)
        .stderr_has("stored github/GITHUB_TOKEN in secret-service");

    // The item is really in gnome-keyring, newline stripped, under this
    // home's service name.
    let (ok, value) = ss.secret_tool(&[
        "lookup",
        "service",
        &service(&env),
        "username",
        "github/GITHUB_TOKEN",
    ]);
    assert!(ok, "secret-tool found no item");
    assert_eq!(value, CANARY);

    let list = ss.cmd(&env).args(["secret", "list"]).run();
    list.code(0).stdout_has("github/GITHUB_TOKEN  present");
    let json = ss
        .cmd(&env)
        .args(["--format", "json", "secret", "list", "github"])
        .run();
    json.code(0);
    assert_eq!(
        json.json(),
        serde_json::json!({"backend": "secret-service", "secrets": [
            {"server": "github", "var": "GITHUB_TOKEN", "status": "present"}]})
    );
    let other = ss.cmd(&env).args(["secret", "list", "gitlab"]).run();
    other.code(0).stdout_lacks("github");

    let index = std::fs::read_to_string(env.home.join("config/secrets.toml")).unwrap();
    assert!(index.contains("github = [\"GITHUB_TOKEN\"]"), "{index}");

    // Deleted behind mcp-warden's back: listed as missing.
    let (ok, _) = ss.secret_tool(&[
        "clear",
        "service",
        &service(&env),
        "username",
        "github/GITHUB_TOKEN",
    ]);
    assert!(ok);
    let missing = ss.cmd(&env).args(["secret", "list"]).run();
    missing.code(0).stdout_has("github/GITHUB_TOKEN  missing");

    // Set again (a second value replaces, not duplicates), then remove.
    let again = run_stdin(
        &env,
        &vars,
        &["secret", "set", "github", "GITHUB_TOKEN"],
        CANARY.as_bytes(),
    );
    again.code(0);
    let (_, all) = ss.secret_tool(&["search", "--all", "service", &service(&env)]);
    assert_eq!(all.matches("[/").count(), 1, "{all}");

    let rm = ss
        .cmd(&env)
        .args(["secret", "rm", "github", "GITHUB_TOKEN"])
        .run();
    rm.code(0)
        .stderr_has("removed github/GITHUB_TOKEN from secret-service");
    let (ok, _) = ss.secret_tool(&[
        "lookup",
        "service",
        &service(&env),
        "username",
        "github/GITHUB_TOKEN",
    ]);
    assert!(!ok, "the item is still in the keyring");
    let empty = ss.cmd(&env).args(["secret", "list"]).run();
    empty.code(0).stderr_has("no secrets stored");
    let rm2 = ss
        .cmd(&env)
        .args(["--format", "json", "secret", "rm", "github", "GITHUB_TOKEN"])
        .run();
    rm2.code(2).diag("secret-missing");
    assert!(
        rm2.stdout
            .contains("no secret github/GITHUB_TOKEN is stored")
    );

    assert_no_canary(&[
        &set, &list, &json, &other, &missing, &again, &rm, &empty, &rm2,
    ]);
    assert_not_in_tree(&env.root, CANARY.as_bytes());
}

#[test]
fn two_homes_do_not_see_each_other() {
    let ss = SecretService::start();
    let (a, b) = (TestEnv::new(), TestEnv::new());
    let vars = ss_vars(&ss);
    run_stdin(&a, &vars, &["secret", "set", "srv", "TOKEN"], b"value-a\n").code(0);
    let list_b = ss.cmd(&b).args(["secret", "list"]).run();
    list_b.code(0).stdout_lacks("srv/TOKEN");
    ss.cmd(&b)
        .args(["secret", "rm", "srv", "TOKEN"])
        .run()
        .code(2);
    run_stdin(&b, &vars, &["secret", "set", "srv", "TOKEN"], b"value-b\n").code(0);
    for (env, want) in [(&a, "value-a"), (&b, "value-b")] {
        let (ok, v) =
            ss.secret_tool(&["lookup", "service", &service(env), "username", "srv/TOKEN"]);
        assert!(ok);
        assert_eq!(v, want);
    }
    ss.cmd(&a)
        .args(["secret", "rm", "srv", "TOKEN"])
        .run()
        .code(0);
    let (ok, v) = ss.secret_tool(&["lookup", "service", &service(&b), "username", "srv/TOKEN"]);
    assert!(ok && v == "value-b", "removing a's secret touched b's");
}

#[test]
fn bad_names_and_values_are_refused() {
    let ss = SecretService::start();
    let env = TestEnv::new();
    let vars = ss_vars(&ss);
    let json = |args: &[&str]| {
        let mut v = vec!["--format", "json"];
        v.extend_from_slice(args);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let value = format!("{CANARY}\n");
    let mut outs = Vec::new();
    for (server, var) in [
        ("github", "1BAD"),
        ("github", "A-B"),
        ("github", "A=B"),
        ("github", ""),
        ("../x", "TOKEN"),
        ("-x", "TOKEN"),
        ("", "TOKEN"),
    ] {
        let args = json(&["secret", "set", server, var]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run_stdin(&env, &vars, &args, value.as_bytes());
        o.code(2).diag("usage");
        outs.push(o);
    }
    // A value never comes from the command line.
    let o = ss
        .cmd(&env)
        .args(["secret", "set", "github", "TOKEN", "--value", CANARY])
        .run();
    o.code(2);
    // Empty, a lone newline, oversized, not UTF-8, a NUL byte.
    for (stdin, want) in [
        (Vec::new(), "is empty"),
        (b"\n".to_vec(), "is empty"),
        (b"\r\n".to_vec(), "is empty"),
        (
            format!("{CANARY}{}", "x".repeat(64 * 1024)).into_bytes(),
            "65536-byte limit",
        ),
        (vec![b'x'; 10 << 20], "65536-byte limit"),
        (b"\xff\xfe token".to_vec(), "not UTF-8"),
        (b"a\0b".to_vec(), "NUL byte"),
    ] {
        let args = json(&["secret", "set", "github", "TOKEN"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run_stdin(&env, &vars, &args, &stdin);
        o.code(2).diag("input-invalid");
        o.check(o.stdout.contains(want), want);
        outs.push(o);
    }
    assert!(
        !env.home.join("config/secrets.toml").exists(),
        "a refused value reached the index"
    );
    let (_, all) = ss.secret_tool(&["search", "--all", "service", &service(&env)]);
    assert!(
        all.trim().is_empty(),
        "a refused value reached the keyring: {all}"
    );

    // Exactly the limit, with its newline, is accepted.
    let exact = format!("{}\n", "y".repeat(64 * 1024));
    run_stdin(
        &env,
        &vars,
        &["secret", "set", "github", "BIG"],
        exact.as_bytes(),
    )
    .code(0);
    let (ok, v) = ss.secret_tool(&[
        "lookup",
        "service",
        &service(&env),
        "username",
        "github/BIG",
    ]);
    assert!(ok && v.len() == 64 * 1024);

    // A malformed index is reported, not overwritten.
    std::fs::write(env.home.join("config/secrets.toml"), "[servers\n").unwrap();
    let o = ss.cmd(&env).args(["secret", "list"]).run();
    o.code(2).stderr_has("not a valid secrets index");
    ss.secret_tool(&["clear", "service", &service(&env), "username", "github/BIG"]);

    outs.push(o);
    assert_no_canary(&outs.iter().collect::<Vec<_>>());
    assert_not_in_tree(&env.root, CANARY.as_bytes());
}

#[test]
fn unreachable_secret_service_is_a_clear_error() {
    let env = TestEnv::new();
    let bogus = format!("unix:path={}", env.root.join("no-bus").display());
    let vars = vec![
        ("DBUS_SESSION_BUS_ADDRESS".to_string(), bogus.clone()),
        (
            "MCP_WARDEN_KEYRING".to_string(),
            "secret-service".to_string(),
        ),
    ];
    let o = run_stdin(
        &env,
        &vars,
        &["--format", "json", "secret", "set", "github", "TOKEN"],
        format!("{CANARY}\n").as_bytes(),
    );
    o.code(2).diag("keychain-unavailable");
    let d = o.diagnostic("keychain-unavailable");
    let msg = d["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("secret-service") && msg.contains("cannot be reached"),
        "{msg}"
    );
    assert!(d["hint"].as_str().unwrap_or_default().contains("keyutils"));
    assert_no_canary(&[&o]);
    assert!(!env.home.join("config/secrets.toml").exists());

    // An unknown backend name is refused, not guessed.
    let o = env
        .cmd()
        .var("MCP_WARDEN_KEYRING", "plaintext")
        .args(["secret", "list"])
        .run();
    o.code(2)
        .stderr_has("MCP_WARDEN_KEYRING=`plaintext` names no keychain backend");

    // Not forced: falls back to keyutils, and says why (read-only here,
    // so the user's keyrings are not touched).
    let o = env
        .cmd()
        .var("DBUS_SESSION_BUS_ADDRESS", &bogus)
        .args(["secret", "list"])
        .run();
    o.code(0)
        .stderr_has("no Secret Service answers")
        .stderr_has("keyutils");
}

/// Without a session keyring of its own (a service started outside a
/// login session), each mcp-warden process joins a new one, and the
/// persistent keyring carries the secret from `set` to `list` and `rm`.
#[test]
fn keyutils_works_without_a_session_keyring_of_its_own() {
    super::support::util::require_tool("keyctl", &["--version"]);
    let env = TestEnv::new();
    let vars = vec![("MCP_WARDEN_KEYRING".to_string(), "keyutils".to_string())];
    let set = run_stdin(
        &env,
        &vars,
        &["secret", "set", "acme", "API_KEY"],
        format!("{CANARY}\n").as_bytes(),
    );
    set.code(0).stderr_has("stored acme/API_KEY in keyutils");
    let list = env
        .cmd()
        .var("MCP_WARDEN_KEYRING", "keyutils")
        .args(["secret", "list"])
        .run();
    list.code(0).stdout_has("acme/API_KEY  present");
    let rm = env
        .cmd()
        .var("MCP_WARDEN_KEYRING", "keyutils")
        .args(["secret", "rm", "acme", "API_KEY"])
        .run();
    rm.code(0);
    assert_no_canary(&[&set, &list, &rm]);
}

#[test]
fn keyutils_round_trip() {
    super::support::util::require_tool("keyctl", &["--version"]);
    let env = TestEnv::new();
    let out = env.root.join("ku");
    std::fs::create_dir_all(&out).unwrap();
    let desc = format!("{}|acme/API_KEY", service(&env));
    // One private session keyring for the whole sequence (`keyctl session
    // -`), so that the test never reads or writes the user's own, and the
    // separate mcp-warden processes share it as a user's session would.
    let script = r#"
        set -u
        printf '%s\n' "$CANARY" | "$BIN" secret set acme API_KEY >"$OUT/set.out" 2>"$OUT/set.err"; echo $? >"$OUT/set.code"
        "$BIN" --format json secret list >"$OUT/list.out" 2>"$OUT/list.err"; echo $? >"$OUT/list.code"
        id=$(keyctl search @s user "$DESC" 2>/dev/null) && [ "$(keyctl pipe "$id")" = "$CANARY" ] && echo match >"$OUT/kernel"
        "$BIN" secret rm acme API_KEY >"$OUT/rm.out" 2>"$OUT/rm.err"; echo $? >"$OUT/rm.code"
        if keyctl search @s user "$DESC" >/dev/null 2>&1; then echo still >"$OUT/after"; else echo gone >"$OUT/after"; fi
        "$BIN" secret list >"$OUT/list2.out" 2>"$OUT/list2.err"; echo $? >"$OUT/list2.code"
    "#;
    let status = Command::new("keyctl")
        .args(["session", "-", "sh", "-c", script])
        .current_dir(&env.work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MCP_WARDEN_HOME", &env.home)
        .env("MCP_WARDEN_SYSTEM_DIR", &env.system)
        .env("MCP_WARDEN_KEYRING", "keyutils")
        .env("BIN", BIN)
        .env("OUT", &out)
        .env("DESC", &desc)
        .env("CANARY", CANARY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run keyctl session");
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap_or_default();
    let all = || {
        ["set", "list", "rm", "list2"]
            .iter()
            .map(|s| {
                format!(
                    "--- {s} ({}) ---\n{}{}",
                    read(&format!("{s}.code")).trim(),
                    read(&format!("{s}.out")),
                    read(&format!("{s}.err"))
                )
            })
            .collect::<String>()
    };
    assert!(status.success(), "keyctl session failed\n{}", all());
    for step in ["set", "list", "rm", "list2"] {
        assert_eq!(
            read(&format!("{step}.code")).trim(),
            "0",
            "{step}\n{}",
            all()
        );
    }
    assert!(
        read("set.err").contains("stored acme/API_KEY in keyutils"),
        "{}",
        all()
    );
    let list: serde_json::Value = serde_json::from_str(&read("list.out")).expect("list JSON");
    assert_eq!(
        list,
        serde_json::json!({"backend": "keyutils", "secrets": [
            {"server": "acme", "var": "API_KEY", "status": "present"}]})
    );
    assert_eq!(
        read("kernel").trim(),
        "match",
        "the kernel key holds another value\n{}",
        all()
    );
    assert_eq!(read("after").trim(), "gone", "rm left the key\n{}", all());
    assert!(read("list2.err").contains("no secrets stored"), "{}", all());
    // The canary is only in the script's environment, never in an output
    // or a file under the home.
    assert!(
        !all().contains(CANARY),
        "the secret value was printed\n{}",
        all()
    );
    assert_not_in_tree(&env.home, CANARY.as_bytes());
}

#[test]
fn the_helper_leaves_no_daemons() {
    let ss = SecretService::start();
    let pids = ss.pids();
    assert_eq!(pids.len(), 2);
    for p in &pids {
        assert!(Path::new(&format!("/proc/{p}")).exists());
    }
    let dir = ss.dir().to_path_buf();
    drop(ss);
    for p in &pids {
        assert!(
            !Path::new(&format!("/proc/{p}")).exists(),
            "process {p} outlived the SecretService helper"
        );
    }
    assert!(!dir.exists(), "the keyring directory was left behind");
}

#[test]
fn a_silent_bus_times_out() {
    let env = TestEnv::new();
    // A socket that takes connections into its backlog and never answers:
    // the D-Bus handshake waits forever unless mcp-warden bounds it.
    let sock = env.root.join("silent-bus");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let o = env
        .cmd()
        .var(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", sock.display()),
        )
        .var("MCP_WARDEN_KEYRING", "secret-service")
        .var("MCP_WARDEN_KEYRING_TIMEOUT", "1")
        .args(["secret", "list"])
        .timeout(std::time::Duration::from_secs(60))
        .run();
    o.code(2).stderr_has("did not answer within 1 s");
    for bad in ["0", "601", "soon"] {
        env.cmd()
            .var("MCP_WARDEN_KEYRING_TIMEOUT", bad)
            .args(["secret", "list"])
            .run()
            .code(2)
            .stderr_has("is not a number of seconds");
    }
}
