//! `mcp-warden list`: the pinned servers, with their evidence, packages
//! and last run, as text and as JSON; a broken lock fails with
//! `lock-invalid`.

use std::fs;

use serde_json::json;

use super::npm_tree::{policy, serve_made, tgz};
use super::support::tls_server::TlsServer;
use super::support::util::*;

fn lock_path(env: &TestEnv) -> std::path::PathBuf {
    env.home.join("config/servers.lock")
}

#[test]
fn an_empty_lock_lists_nothing() {
    let env = TestEnv::new();
    env.run(["list"]).code(0).stdout_has("no server is pinned");
    let out = env.run(["--format", "json", "list"]);
    out.code(0);
    assert_eq!(out.json(), json!({"servers": [], "audit_truncated": false}));
}

/// A real npm tree pinned by `add` (a dependency with a postinstall), a
/// hand-written unsigned wheel pin, and launch records in the audit log.
#[test]
fn several_kinds_with_evidence_packages_and_last_run() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let dep_pj = json!({"name": "list-dep", "version": "1.0.0", "main": "index.js",
        "scripts": {"postinstall": "exit 1"}});
    let dep = tgz(&[
        ("package.json", &dep_pj.to_string()),
        ("index.js", "module.exports = 1;\n"),
    ]);
    let top_pj = json!({"name": "list-top", "version": "1.0.0", "bin": "server.js",
        "dependencies": {"list-dep": "^1.0.0"}});
    let top = tgz(&[
        ("package.json", &top_pj.to_string()),
        ("server.js", "require('list-dep');\n"),
    ]);
    serve_made(&server, &[(dep_pj, dep), (top_pj, top)]);
    policy(&env, &["top"]);
    let mut args = vec![
        "add".to_string(),
        "top".into(),
        "npm:list-top@1.0.0".into(),
        "--registry".into(),
        server.base_url(),
        "--ca-file".into(),
    ];
    args.push(server.ca_file().display().to_string());
    env.run(&args).code(0);
    // A second pin, by hand: unsigned on purpose.
    let mut lock = fs::read_to_string(lock_path(&env)).unwrap();
    lock.push_str(&format!(
        "\n[servers.fetch]\nsource = \"pypi:mcp-server-fetch==2025.4.7\"\nversion = \"2025.4.7\"\nsha256 = \"{}\"\nsha512 = \"{}\"\nsize = 1\nkind = \"wheel\"\nunsigned = \"internal mirror\"\nevidence = [\"provenance: sigstore by builder\", \"sbom: fetch.cdx.json\"]\npinned = \"2026-01-01T00:00:00Z\"\n",
        "a".repeat(64),
        "b".repeat(128)
    ));
    fs::write(lock_path(&env), lock).unwrap();
    // Launch records (the newest wins; a tool call is not a run).
    let audit = env.home.join("data/audit");
    fs::create_dir_all(&audit).unwrap();
    let rec = |seq: u32, time: &str, server: &str, event: &str| {
        json!({"seq": seq, "time": time, "prev": "sha256:00", "event": event,
            "server": server, "verdict": "allowed"})
        .to_string()
    };
    let log = [
        rec(1, "2026-02-01T10:00:00Z", "top", "launch"),
        rec(2, "2026-02-02T10:00:00Z", "top", "launch"),
        rec(3, "2026-02-03T10:00:00Z", "top", "tool-call"),
    ]
    .join("\n");
    fs::write(audit.join("audit.jsonl"), log + "\n").unwrap();

    let out = env.run(["list"]);
    out.code(0)
        .stdout_has(
            "top\n  source:   npm:list-top@1.0.0\n  version:  1.0.0\n  kind:     npm-tarball\n",
        )
        .stdout_has("  packages: 1 (1 declare install scripts, never run)\n")
        .stdout_has("  last run: 2026-02-02T10:00:00Z (allowed)\n")
        .stdout_has("fetch\n  source:   pypi:mcp-server-fetch==2025.4.7\n")
        .stdout_has("  evidence: unsigned: internal mirror; provenance; SBOM\n")
        .stdout_has("  last run: never");

    let out = env.run(["--format", "json", "list"]);
    out.code(0);
    let doc = out.json();
    let servers = doc["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    // By name: fetch, then top.
    let (fetch, top) = (&servers[0], &servers[1]);
    assert_eq!(fetch["name"], "fetch");
    assert_eq!(fetch["kind"], "wheel");
    assert_eq!(fetch["evidence"]["unsigned"], "internal mirror");
    assert_eq!(fetch["evidence"]["provenance"], true);
    assert_eq!(fetch["evidence"]["sbom"], true);
    assert_eq!(fetch["last_run"], serde_json::Value::Null);
    assert_eq!(top["name"], "top");
    assert_eq!(top["packages"], 1);
    assert_eq!(top["install_scripts"], 1);
    assert_eq!(top["evidence"]["provenance"], false);
    assert_eq!(top["last_run"]["time"], "2026-02-02T10:00:00Z");
    assert_eq!(doc["audit_truncated"], false);
    for key in ["source", "version", "sha256", "pinned"] {
        assert!(top[key].is_string(), "{key} in {top}");
    }
}

#[test]
fn a_malformed_truncated_or_oversized_lock_is_lock_invalid() {
    let env = TestEnv::new();
    fs::create_dir_all(lock_path(&env).parent().unwrap()).unwrap();
    let good = format!(
        "version = 1\n\n[servers.x]\nsource = \"npm:x@1.0.0\"\nsha256 = \"{}\"\nsha512 = \"{}\"\nsize = 1\nkind = \"npm-tarball\"\npinned = \"2026-01-01T00:00:00Z\"\n",
        "a".repeat(64),
        "b".repeat(128)
    );
    fs::write(lock_path(&env), &good).unwrap();
    env.run(["list"]).code(0).stdout_has("x\n");
    let mut oversized = good.clone().into_bytes();
    oversized.extend(std::iter::repeat_n(b'#', 5 << 20));
    for bad in [
        b"version = 1\n[servers.x\n".to_vec(),
        good.as_bytes()[..good.len() / 2].to_vec(),
        good.replace(&"a".repeat(64), "not-a-digest").into_bytes(),
        oversized,
    ] {
        fs::write(lock_path(&env), &bad).unwrap();
        env.run(["list"]).code(2).diag("lock-invalid");
        env.run(["--format", "json", "list"])
            .code(2)
            .diag("lock-invalid");
    }
}

#[test]
fn a_garbled_or_huge_audit_log_does_not_stop_the_listing() {
    let env = TestEnv::new();
    fs::create_dir_all(lock_path(&env).parent().unwrap()).unwrap();
    fs::write(
        lock_path(&env),
        format!(
            "version = 1\n\n[servers.x]\nsource = \"npm:x@1.0.0\"\nsha256 = \"{}\"\nsha512 = \"{}\"\nsize = 1\nkind = \"npm-tarball\"\npinned = \"2026-01-01T00:00:00Z\"\n",
            "a".repeat(64),
            "b".repeat(128)
        ),
    )
    .unwrap();
    let audit = env.home.join("data/audit");
    fs::create_dir_all(&audit).unwrap();
    // An old launch, then more than the part read: it is not seen, and
    // the listing says so.
    let mut log = json!({"seq": 1, "time": "2026-01-01T00:00:00Z", "event": "launch",
        "server": "x", "verdict": "allowed"})
    .to_string()
    .into_bytes();
    log.push(b'\n');
    log.extend(std::iter::repeat_n(b'\xff', 17 << 20));
    log.extend_from_slice(b"\n{\"event\":\"launch\",\"server\":\"x\"\n");
    fs::write(audit.join("audit.jsonl"), &log).unwrap();
    let out = env.run(["list"]);
    out.code(0)
        .stdout_has("last run: never")
        .stderr_has("only the last 16 MiB of the audit log were read");
    let out = env.run(["--format", "json", "list"]);
    out.code(0);
    assert_eq!(out.json()["audit_truncated"], true);
}
