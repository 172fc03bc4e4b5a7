//! Pins of every kind, through the real binary: what `add` writes to
//! servers.lock is read back by every later command (`verify --server`,
//! `run`, `cache verify`, `policy check`), whatever else the lock holds.
//! `add --unsigned --reason` pins a server without a signature as a
//! recorded exception, which the lock and every report show and a policy
//! can forbid; and an exception that let a server in is not called unused.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;

use base64::Engine as _;
use sha2::Digest as _;

use super::add::{lock_text, os};
use super::add_sources::{DEVPI_PAGE, MST_SHA256, devpi_page, mst_wheel, serve_devpi, tls_args};
use super::run::{PING, answer, pack_node};
use super::support::tls_server::{Response, TlsServer};
use super::support::util::{Output, TestEnv, require_tool};

/// A server that answers each request with the kind it was pinned as.
fn server_js(kind: &str) -> String {
    format!(
        r#"
const rl = require('readline').createInterface({{ input: process.stdin }});
rl.on('line', (l) => {{
  process.stdout.write(JSON.stringify({{ jsonrpc: '2.0', id: JSON.parse(l).id, result: {{ kind: '{kind}' }} }}) + '\n');
}});
rl.on('close', () => process.exit(0));
"#
    )
}

/// Serves `name@1.0.0` as an npm registry does, with its integrity.
fn npm_package(server: &TlsServer, name: &str, tgz: Vec<u8>) {
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tgz))
    );
    let path = format!("/{name}/-/{name}-1.0.0.tgz");
    let doc = serde_json::json!({"name": name, "version": "1.0.0",
        "dist": {"tarball": server.url(&path), "integrity": integrity}});
    server.route(
        &format!("/{name}/1.0.0"),
        Response::ok(serde_json::to_vec(&doc).unwrap()),
    );
    server.route(&path, Response::ok(tgz));
}

/// An unsigned `.mcpb` whose mcp_config starts `js` under node.
fn mcpb(js: &str) -> Vec<u8> {
    let manifest = br#"{"manifest_version":"0.3","name":"pins-bundle","version":"1.0.0",
 "display_name":"Pins","author":{"name":"mcp-warden tests"},
 "server":{"type":"node","entry_point":"server/index.js",
   "mcp_config":{"command":"node","args":["${__dirname}/server/index.js"]}}}"#;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("manifest.json", opts).unwrap();
    w.write_all(manifest).unwrap();
    w.start_file("server/index.js", opts).unwrap();
    w.write_all(js.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

/// One pin: its name, source, extra flags, the kind the lock records, and
/// whether it is a node server `run` can drive.
struct Pin {
    name: &'static str,
    source: String,
    extra: Vec<OsString>,
    kind: &'static str,
    runs: bool,
}

/// A server of every kind the sources give, served locally.
fn every_kind(env: &TestEnv, server: &TlsServer) -> Vec<Pin> {
    // A local file and directory.
    env.write("file-srv.js", server_js("file"));
    env.write(
        "dir-srv/package.json",
        r#"{"name": "dir-srv", "version": "1.0.0", "bin": {"dir-srv": "server.js"}}"#,
    );
    env.write("dir-srv/server.js", server_js("directory"));
    // A release file over https.
    server.route(
        "/releases/https-srv.js",
        Response::ok(server_js("https").into_bytes()),
    );
    // An npm package, and a server.json naming another.
    let tgz = pack_node(env, "npm-srv", &server_js("npm"), "");
    npm_package(server, "npm-srv", fs::read(tgz).unwrap());
    let tgz = pack_node(env, "reg-srv", &server_js("registry"), "");
    npm_package(server, "reg-srv", fs::read(tgz).unwrap());
    let doc = serde_json::json!({
        "name": "io.github.acme/reg-srv", "description": "pins test", "version": "1.0.0",
        "packages": [{"registryType": "npm", "registryBaseUrl": server.base_url(),
            "identifier": "reg-srv", "version": "1.0.0", "transport": {"type": "stdio"}}]
    });
    env.write("server.json", serde_json::to_vec_pretty(&doc).unwrap());
    // A PyPI wheel, and a bundle.
    serve_devpi(server, devpi_page(MST_SHA256, ""), mst_wheel());
    env.write("pins.mcpb", mcpb(&server_js("mcpb")));

    let tls = tls_args(server);
    let with = |flags: &[&str]| -> Vec<OsString> {
        let mut v = Vec::new();
        for f in flags {
            v.push(OsString::from(*f));
            v.push(server.base_url().into());
        }
        v.extend(tls.iter().cloned());
        v
    };
    vec![
        Pin {
            name: "file",
            source: "./file-srv.js".into(),
            extra: vec![],
            kind: "file",
            runs: true,
        },
        Pin {
            name: "directory",
            source: "./dir-srv".into(),
            extra: vec![],
            kind: "directory",
            runs: true,
        },
        Pin {
            name: "https",
            source: server.url("/releases/https-srv.js"),
            extra: with(&[]),
            kind: "file",
            runs: true,
        },
        Pin {
            name: "npm",
            source: "npm:npm-srv@1.0.0".into(),
            extra: with(&["--registry"]),
            kind: "npm-tarball",
            runs: true,
        },
        Pin {
            name: "registry",
            source: "registry:./server.json".into(),
            extra: with(&["--registry", "--registry-url"]),
            kind: "npm-tarball",
            runs: true,
        },
        Pin {
            name: "pypi",
            source: "pypi:mcp-server-time==0.5.1".into(),
            extra: {
                let mut v = vec![
                    // The wheel alone (its tree is pypi_tree.rs's).
                    OsString::from("--no-dependencies"),
                    OsString::from("--pypi-url"),
                    server
                        .url(DEVPI_PAGE.trim_end_matches("mcp-server-time/"))
                        .into(),
                ];
                v.extend(tls.iter().cloned());
                v
            },
            kind: "wheel",
            // The wheel alone does not run: its dependencies (the `mcp`
            // SDK) are not part of the pin.
            runs: false,
        },
        Pin {
            name: "mcpb",
            source: "./pins.mcpb".into(),
            extra: vec![],
            kind: "mcpb",
            runs: true,
        },
    ]
}

fn reason(name: &str) -> String {
    format!("{name}: the publisher signs nothing; reviewed by hand")
}

fn add_unsigned(env: &TestEnv, p: &Pin) -> Output {
    let mut args = os(&["add", p.name]);
    args.push(p.source.clone().into());
    args.extend(p.extra.iter().cloned());
    args.extend(os(&["--unsigned", "--reason"]));
    args.push(reason(p.name).into());
    env.run(args)
}

fn lock(env: &TestEnv) -> toml::Value {
    let text = lock_text(env);
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn is_hex(v: &toml::Value, len: usize) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn run(env: &TestEnv, name: &str) -> Output {
    env.cmd().args(["run", name]).stdin(PING).run()
}

#[test]
fn every_kind_of_pin_round_trips_through_add_verify_and_run() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    let server = TlsServer::start();
    let pins = every_kind(&env, &server);
    for p in &pins {
        add_unsigned(&env, p)
            .code(0)
            .stdout_has(&format!("pinned {}: ", p.name))
            .stdout_has(&format!("unsigned on purpose: {}", reason(p.name)))
            .stdout_has("note[unsigned-pinned]");
        // Every entry so far reads back after each add.
        env.run(["cache", "verify"]).code(0);
    }
    let lock = lock(&env);
    for p in &pins {
        let e = &lock["servers"][p.name];
        assert_eq!(e["kind"].as_str(), Some(p.kind), "{}: {e}", p.name);
        assert!(is_hex(&e["sha256"], 64), "{}: {e}", p.name);
        assert_eq!(e["unsigned"].as_str(), Some(reason(p.name).as_str()), "{e}");
        if p.kind == "directory" {
            // Pinned by its tree digest: no file was fetched whose SHA-512
            // could be pinned, so the lock holds none.
            assert!(e.get("sha512").is_none(), "{e}");
            assert_eq!(e["tree-digest"], e["sha256"], "{e}");
        } else {
            assert!(is_hex(&e["sha512"], 128), "{}: {e}", p.name);
        }
    }
    for p in &pins {
        env.run(["verify", "--server", p.name])
            .code(0)
            .stdout_has(&format!(
                "unsigned  on purpose (--unsigned): {}",
                reason(p.name)
            ))
            .stdout_has("ALLOWED");
        let v = env
            .run(["--format", "json", "verify", "--server", p.name])
            .code(0)
            .json();
        assert_eq!(
            v["decision"]["unsigned"].as_str(),
            Some(reason(p.name).as_str())
        );
        // The same add again is answered from its receipt (or, for a
        // local source, judged again) without a change.
        add_unsigned(&env, p).code(0);
        if p.runs {
            let out = run(&env, p.name);
            out.code(0)
                .stderr_has(&format!("starting {}", p.name))
                .stderr_has(&format!("unsigned on purpose: {}", reason(p.name)));
            assert_eq!(answer(&out)["kind"], p.name, "{}", out.context());
        }
    }
    env.run(["cache", "verify"]).code(0);
    // Removing each reads and rewrites the whole lock.
    for p in &pins {
        env.run(["remove", p.name]).code(0);
    }
    assert!(
        !lock_text(&env).contains("[servers."),
        "{}",
        lock_text(&env)
    );
}

/// A one-file node server, unsigned, in the working directory.
fn unsigned_server(env: &TestEnv) {
    env.write("srv.js", server_js("unsigned"));
    fs::create_dir_all(env.home.join("config")).unwrap();
}

fn add_srv(env: &TestEnv, extra: &[&str]) -> Output {
    let mut args = os(&["add", "srv", "./srv.js"]);
    args.extend(os(extra));
    env.run(args)
}

#[test]
fn unsigned_takes_a_usable_reason_and_nothing_else_changes_without_it() {
    let env = TestEnv::new();
    unsigned_server(&env);
    env.write("srv.js.minisig", "untrusted comment: x\nnot a signature\n");
    // Without --unsigned, as before: denied, and the hint names both ways.
    add_srv(&env, &[])
        .code(1)
        .diag("signature-missing")
        .stdout_has("--signature FILE")
        .stdout_has("--unsigned --reason TEXT");
    // The flags come together, and not with a signature.
    for (flags, want) in [
        (&["--unsigned"][..], "--reason"),
        (&["--reason", "why"][..], "--unsigned"),
        (
            &[
                "--unsigned",
                "--reason",
                "why",
                "--signature",
                "srv.js.minisig",
            ][..],
            "cannot be used with",
        ),
    ] {
        add_srv(&env, flags).code(2).stderr_has(want);
    }
    // An empty, blank, multi-line, control-character, reordering or
    // oversized reason is refused before anything is fetched or pinned.
    let long = "x".repeat(501);
    for bad in [
        "",
        "   ",
        "one\nline",
        "bell\u{7}",
        "esc\u{1b}[2J",
        "rtl\u{202e}txt",
        &long,
    ] {
        add_srv(&env, &["--unsigned", "--reason", bad])
            .code(2)
            .diag("usage")
            .stderr_has("--reason: it ");
    }
    assert!(
        !lock_text(&env).contains("[servers."),
        "{}",
        lock_text(&env)
    );
    // 500 characters is the limit, not beyond.
    add_srv(&env, &["--unsigned", "--reason", &"x".repeat(500)]).code(0);
    // Adding again without --unsigned is judged as before: denied, and the
    // unsigned pin stays as it was.
    let before = lock_text(&env);
    add_srv(&env, &[]).code(1).diag("signature-missing");
    assert_eq!(lock_text(&env), before);
}

#[test]
fn a_policy_can_forbid_unsigned_pins_at_add_and_at_every_run() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    unsigned_server(&env);
    let forbid = "version = 1\n[sources]\nallow-unsigned = false\n";
    fs::write(env.user_policy(), forbid).unwrap();
    let out = add_srv(&env, &["--unsigned", "--reason", "no signature upstream"]);
    out.code(1)
        .diag("unsigned-forbidden")
        .stdout_has("`[sources] allow-unsigned = false` (")
        .stdout_has("policy.toml:3:18) forbids that");
    // Where the policy forbids it, the hint does not offer it.
    out.stdout_lacks("--unsigned --reason TEXT");
    assert!(
        !lock_text(&env).contains("[servers."),
        "{}",
        lock_text(&env)
    );
    env.run(["policy", "explain", "srv"])
        .code(0)
        .stdout_has("unsigned pins (add --unsigned): forbidden");

    // Allowed (the default), pinned and run; then forbidden: run refuses.
    fs::write(env.user_policy(), "version = 1\n").unwrap();
    env.run(["policy", "explain", "srv"])
        .code(0)
        .stdout_has("unsigned pins (add --unsigned --reason): allowed");
    add_srv(&env, &["--unsigned", "--reason", "no signature upstream"]).code(0);
    let out = run(&env, "srv");
    out.code(0)
        .stderr_has("unsigned on purpose: no signature upstream");
    assert_eq!(answer(&out)["kind"], "unsigned");
    fs::write(env.user_policy(), forbid).unwrap();
    let out = run(&env, "srv");
    out.code(1).diag_in_stderr("unsigned-forbidden");
    assert!(out.stdout.is_empty(), "{}", out.context());
    env.run(["verify", "--server", "srv"])
        .code(1)
        .diag("unsigned-forbidden");

    // A user layer cannot allow what the system layer forbids.
    fs::write(env.system_policy(), forbid).unwrap();
    fs::write(
        env.user_policy(),
        "version = 1\n[sources]\nallow-unsigned = true\n",
    )
    .unwrap();
    env.run(["policy", "check"])
        .code(0)
        .stdout_has("warning[policy-loosening]")
        .stdout_has("cannot relax the system policy's `allow-unsigned = false`");
    run(&env, "srv")
        .code(1)
        .diag_in_stderr("unsigned-forbidden");
}

#[test]
fn tampered_unsigned_reasons_and_directory_digests_in_the_lock_are_refused() {
    let env = TestEnv::new();
    unsigned_server(&env);
    env.write(
        "dir/package.json",
        r#"{"name":"d","version":"1.0.0","bin":"s.js"}"#,
    );
    env.write("dir/s.js", server_js("d"));
    add_srv(&env, &["--unsigned", "--reason", "no signature upstream"]).code(0);
    env.run([
        "add",
        "dir",
        "./dir",
        "--unsigned",
        "--reason",
        "local checkout",
    ])
    .code(0);
    let good = lock_text(&env);
    let path = env.home.join("config/servers.lock");
    let dir_sha = lock(&env)["servers"]["dir"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let tree_line = format!("tree-digest = \"{dir_sha}\"\n");
    for (bad, want) in [
        // What a directory pin used to write.
        (
            good.replace(&tree_line, &format!("{tree_line}sha512 = \"\"\n")),
            "server `dir` is a directory and has a sha512",
        ),
        (
            good.replace(
                &tree_line,
                &format!("{tree_line}sha512 = \"{}\"\n", "a".repeat(128)),
            ),
            "server `dir` is a directory and has a sha512",
        ),
        (
            good.replace(
                &tree_line,
                &format!("tree-digest = \"{}\"\n", "0".repeat(64)),
            ),
            "server `dir` is a directory whose tree and tree-digest are not its sha256",
        ),
        (
            good.replace("\"no signature upstream\"", "\"\""),
            "server `srv` has an unusable `unsigned` reason: it is empty",
        ),
        (
            good.replace("\"no signature upstream\"", "\"a\\u001b[2Jb\""),
            "server `srv` has an unusable `unsigned` reason: it contains a control character",
        ),
        (
            good.replace("\"no signature upstream\"", "true"),
            "not a valid lock file",
        ),
    ] {
        assert_ne!(bad, good, "{want}");
        fs::write(&path, &bad).unwrap();
        for args in [
            &["verify", "--server", "srv"][..],
            &["run", "srv"],
            &["cache", "verify"],
        ] {
            env.run(args).code(2).diag("lock-invalid").stderr_has(want);
        }
    }
    // A file entry without its sha512 is refused too.
    let sha512_line = good
        .lines()
        .find(|l| l.starts_with("sha512 = "))
        .unwrap()
        .to_string();
    fs::write(&path, good.replace(&format!("{sha512_line}\n"), "")).unwrap();
    env.run(["cache", "verify"])
        .code(2)
        .stderr_has("server `srv` has no sha512");
    fs::write(&path, &good).unwrap();
    env.run(["cache", "verify"]).code(0);
}

#[test]
fn an_exception_that_let_an_unsigned_server_in_is_not_called_unused() {
    let env = TestEnv::new();
    unsigned_server(&env);
    let policy = "version = 1\n[[exceptions]]\nservers = [\"legacy-*\"]\nwaive = [\"signature\"]\nreason = \"the vendor signs nothing\"\n";
    fs::write(env.user_policy(), policy).unwrap();
    env.write("p.toml", policy);
    // Nothing pinned yet: unused, and said so.
    env.run(["policy", "check"])
        .code(0)
        .stdout_has("warning[exception-unused]");
    // The exception lets the unsigned server in...
    env.run(["add", "legacy-srv", "./srv.js"])
        .code(0)
        .diag("exception-applied")
        .stdout_lacks("exception-unused");
    // ...so neither the policy in force, nor the same file given by path,
    // nor the same exception in the system layer is called unused.
    for args in [&["policy", "check"][..], &["policy", "check", "p.toml"]] {
        env.run(args)
            .code(0)
            .stdout_lacks("exception-unused")
            .stdout_has("0 error(s), 0 warning(s)");
    }
    fs::write(env.system_policy(), policy).unwrap();
    env.run(["policy", "check"])
        .code(0)
        .stdout_lacks("exception-unused");
    // Once nothing uses it any more, it is reported again.
    env.run(["remove", "legacy-srv"]).code(0);
    env.run(["policy", "check", "p.toml"])
        .code(0)
        .stdout_has("warning[exception-unused]");
}
