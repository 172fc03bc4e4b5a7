//! `add npm:PKG` pins the package with its whole dependency tree, and
//! `run` starts it from that tree. The registry is a real HTTPS server
//! (tests/it/support/tls_server.rs) serving the real tarballs of
//! server-everything 2026.8.31 and its 110 dependencies
//! (fixtures/npm-tree/) with metadata generated from them; npm resolves
//! against it in lock-only mode, mcp-warden fetches and checks every
//! tarball.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::add::{assert_untouched, cache_dir, files, lock_text, os};
use super::everything::{exercise_everything, run_through_warden};
use super::support::tls_server::{Response, TlsServer};
use super::support::util::*;

pub(super) const DIR: &str = "npm-tree/server-everything";
pub(super) const TOP: &str = "@modelcontextprotocol/server-everything";
pub(super) const SOURCE: &str = "npm:@modelcontextprotocol/server-everything@2026.8.31";

/// The packuments of the captured tree, pointed at `server`.
pub(super) fn packuments(server: &TlsServer) -> serde_json::Map<String, Value> {
    let text = fs::read_to_string(fixture(&format!("{DIR}/packuments.json"))).unwrap();
    let text = text.replace("@@REGISTRY@@", &server.base_url());
    match serde_json::from_str(&text).unwrap() {
        Value::Object(m) => m,
        other => panic!("{other}"),
    }
}

/// The path of `url` on `server`.
fn path_of(server: &TlsServer, url: &str) -> String {
    url.strip_prefix(&server.base_url())
        .unwrap_or_else(|| panic!("{url} is not on the test registry"))
        .to_string()
}

/// Serves packuments the way the npm registry does (scoped names as
/// `@scope%2fname`), the version document of each, and every tarball.
pub(super) fn serve(
    server: &TlsServer,
    packs: &serde_json::Map<String, Value>,
    tarball: &dyn Fn(&str, &str) -> Vec<u8>,
) {
    for (name, p) in packs {
        let body = serde_json::to_vec(p).unwrap();
        for encoded in [name.replacen('/', "%2f", 1), name.replacen('/', "%2F", 1)] {
            server.route(&format!("/{encoded}"), Response::ok(body.clone()));
            for (v, doc) in p["versions"].as_object().unwrap() {
                server.route(
                    &format!("/{encoded}/{v}"),
                    Response::ok(serde_json::to_vec(doc).unwrap()),
                );
            }
        }
        for (v, doc) in p["versions"].as_object().unwrap() {
            let url = doc["dist"]["tarball"].as_str().unwrap();
            server.route(&path_of(server, url), Response::ok(tarball(name, v)));
        }
    }
}

/// A captured tarball.
pub(super) fn captured(name: &str, version: &str) -> Vec<u8> {
    let file = format!("{DIR}/tarballs/{}-{version}.tgz", name.replace('/', "__"));
    fs::read(fixture(&file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

pub(super) fn everything_registry() -> TlsServer {
    let server = TlsServer::start();
    serve(&server, &packuments(&server), &captured);
    server
}

/// Nothing is required of the servers named: the tree is what is tested.
pub(super) fn policy(env: &TestEnv, names: &[&str]) {
    let mut p = String::from("version = 1\n");
    for n in names {
        p.push_str(&format!("\n[[servers]]\nname = \"{n}\"\nrequire = []\n"));
    }
    let path = env.user_policy();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, p).unwrap();
}

pub(super) fn add_args(server: &TlsServer, name: &str, source: &str) -> Vec<OsString> {
    let mut args = os(&["add", name, source, "--registry"]);
    args.push(server.base_url().into());
    args.push("--ca-file".into());
    args.push(server.ca_file().into());
    args
}

pub(super) fn entry(env: &TestEnv, name: &str) -> toml::Value {
    let text = lock_text(env);
    let lock: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    lock["servers"]
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no [servers.{name}] in\n{text}"))
}

pub(super) fn tree_of(env: &TestEnv, name: &str) -> PathBuf {
    let e = entry(env, name);
    cache_dir(env, "trees/sha256").join(e["tree"].as_str().unwrap())
}

fn tarball_requests(server: &TlsServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with(".tgz"))
        .count()
}

fn make_writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if p.is_dir() { 0o755 } else { 0o644 };
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn an_npm_server_is_pinned_with_its_whole_tree_and_runs() {
    let env = TestEnv::new();
    let server = everything_registry();
    policy(&env, &["everything", "again"]);
    let out = env.run(add_args(&server, "everything", SOURCE));
    out.code(0)
        .stdout_has("pinned everything")
        .stderr_has("110 dependencies resolved by npm");
    let e = entry(&env, "everything");
    let packages = e["packages"].as_array().unwrap_or_else(|| panic!("{e}"));
    assert_eq!(packages.len(), 110, "{e}");
    let base = server.base_url();
    for p in packages {
        let path = p["path"].as_str().unwrap();
        assert!(path.starts_with("node_modules/"), "{p}");
        assert!(p["resolved"].as_str().unwrap().starts_with(&base), "{p}");
        assert!(
            p["integrity"].as_str().unwrap().starts_with("sha512-"),
            "{p}"
        );
        assert_eq!(p["sha256"].as_str().unwrap().len(), 64, "{p}");
        assert!(
            p["version"].as_str().is_some() && p["name"].as_str().is_some(),
            "{p}"
        );
    }
    let sdk = packages
        .iter()
        .find(|p| p["path"].as_str() == Some("node_modules/@modelcontextprotocol/sdk"))
        .unwrap_or_else(|| panic!("no sdk in {e}"));
    assert_eq!(sdk["name"].as_str(), Some("@modelcontextprotocol/sdk"));
    // The package at the root, each dependency at its lock path.
    let tree = tree_of(&env, "everything");
    let pj: Value = serde_json::from_slice(&fs::read(tree.join("package.json")).unwrap()).unwrap();
    assert_eq!(pj["name"].as_str(), Some(TOP));
    for p in packages {
        let at = tree.join(p["path"].as_str().unwrap()).join("package.json");
        let pj: Value = serde_json::from_slice(&fs::read(&at).unwrap()).unwrap();
        assert_eq!(pj["version"].as_str(), p["version"].as_str(), "{at:?}");
    }
    assert_eq!(
        e["tree-digest"].as_str(),
        e["tree"].as_str(),
        "the tree is stored under its own digest: {e}"
    );
    // Only the tree that runs is kept, with the tarballs it came from.
    let trees: Vec<_> = fs::read_dir(cache_dir(&env, "trees/sha256"))
        .unwrap()
        .flatten()
        .filter(|d| d.path().is_dir())
        .collect();
    assert_eq!(trees.len(), 1);

    // run: initialize, tools/list, tools/call through the guard.
    exercise_everything(run_through_warden(&env, "everything", &[]));

    // The same add again fetches nothing; another name for the same
    // package takes every tarball from the cache.
    let before = server.requests().len();
    env.run(add_args(&server, "everything", SOURCE)).code(0);
    assert_eq!(server.requests().len(), before);
    let tarballs = tarball_requests(&server);
    env.run(add_args(&server, "again", SOURCE)).code(0);
    assert_eq!(
        tarball_requests(&server),
        tarballs + 1,
        "only the package's own tarball is fetched again"
    );
    assert_eq!(
        entry(&env, "again")["tree"],
        entry(&env, "everything")["tree"]
    );
}

#[test]
fn a_dependency_changed_on_the_registry_is_not_pinned() {
    for (what, bytes) in [
        ("changed", {
            let mut b = captured("express", "5.3.0");
            let mid = b.len() / 2;
            b[mid] ^= 1;
            b
        }),
        ("truncated", {
            let b = captured("express", "5.3.0");
            b[..b.len() - 100].to_vec()
        }),
        ("grown", {
            let mut b = captured("express", "5.3.0");
            b.extend(vec![0u8; 4096]);
            b
        }),
        // Larger than --max-size (the largest real tarball, zod's).
        ("oversized", vec![0u8; 2 << 20]),
    ] {
        let env = TestEnv::new();
        let server = TlsServer::start();
        let packs = packuments(&server);
        assert!(packs["express"]["versions"].get("5.3.0").is_some());
        let tampered = bytes.clone();
        serve(&server, &packs, &move |n: &str, v: &str| {
            if n == "express" {
                tampered.clone()
            } else {
                captured(n, v)
            }
        });
        policy(&env, &["everything"]);
        let mut args = add_args(&server, "everything", SOURCE);
        args.extend(os(&["--max-size", "1200000"]));
        let out = env.run(args);
        out.stderr_has("node_modules/express");
        if what == "oversized" {
            out.diag("artifact-too-large");
        } else {
            out.diag("integrity-mismatch");
        }
        assert_untouched(&env, what);
    }
}

#[test]
fn a_dependency_changed_in_the_cache_stops_run() {
    let env = TestEnv::new();
    let server = everything_registry();
    policy(&env, &["everything"]);
    env.run(add_args(&server, "everything", SOURCE)).code(0);
    let tree = tree_of(&env, "everything");
    let file = tree.join("node_modules/express/index.js");
    make_writable(file.parent().unwrap());
    make_writable(&file);
    let mut f = fs::OpenOptions::new().append(true).open(&file).unwrap();
    f.write_all(b"\nrequire('child_process');\n").unwrap();
    drop(f);
    env.cmd()
        .args(["run", "everything"])
        .stdin("")
        .run()
        .code(1)
        .diag("cache-mismatch")
        .stderr_has("not the pinned")
        .stderr_has("the files of node_modules/express (express@5.3.0) changed since they were pinned: node_modules/express/index.js");
}

#[test]
fn a_lock_edited_to_another_digest_is_refused() {
    let env = TestEnv::new();
    let server = everything_registry();
    policy(&env, &["everything"]);
    env.run(add_args(&server, "everything", SOURCE)).code(0);
    let lock = env.root.join("home/config/servers.lock");
    let text = fs::read_to_string(&lock).unwrap();
    let digest = entry(&env, "everything")["tree-digest"]
        .as_str()
        .unwrap()
        .to_string();
    let other = "0".repeat(64);
    fs::write(
        &lock,
        text.replace(
            &format!("tree-digest = \"{digest}\""),
            &format!("tree-digest = \"{other}\""),
        ),
    )
    .unwrap();
    env.cmd()
        .args(["run", "everything"])
        .stdin("")
        .run()
        .code(1)
        .diag("cache-mismatch")
        .stderr_has(&other);
    // A package's cache key that is not a digest.
    let sdk_sha = entry(&env, "everything")["packages"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    fs::write(&lock, text.replace(&sdk_sha, "not-a-digest")).unwrap();
    env.cmd()
        .args(["run", "everything"])
        .stdin("")
        .run()
        .code(2)
        .diag("lock-invalid");
}

// ------------------------------------------------------------------ scripts

/// An npm tarball of `files` under `package/`.
pub(super) fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (name, body) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("package/{name}"), body.as_bytes())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }
    out
}

pub(super) fn integrity(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes))
    )
}

/// Serves one-version packuments for `(package.json, tarball)` pairs.
pub(super) fn serve_made(server: &TlsServer, made: &[(Value, Vec<u8>)]) {
    let mut packs = serde_json::Map::new();
    let mut bodies = std::collections::HashMap::new();
    for (pj, bytes) in made {
        let name = pj["name"].as_str().unwrap().to_string();
        let v = pj["version"].as_str().unwrap().to_string();
        let mut doc = pj.clone();
        doc["dist"] = json!({
            "tarball": server.url(&format!("/{name}/-/{name}-{v}.tgz")),
            "integrity": integrity(bytes),
        });
        if pj["scripts"].get("postinstall").is_some() {
            doc["hasInstallScript"] = true.into();
        }
        packs.insert(
            name.clone(),
            json!({"name": name, "dist-tags": {"latest": v}, "versions": {v.clone(): doc}}),
        );
        bodies.insert(name, bytes.clone());
    }
    serve(server, &packs, &move |n: &str, _v: &str| bodies[n].clone());
}

/// A registry serving `warden-npm-top`, whose own postinstall and whose
/// dependency `evil-dep`'s postinstall would write `marker` if run.
fn scripts_registry(marker: &Path) -> TlsServer {
    let server = TlsServer::start();
    let script = format!(
        "node -e \"require('fs').writeFileSync('{}', 'ran')\"",
        marker.display()
    );
    let dep_pj = json!({"name": "evil-dep", "version": "1.0.0", "main": "index.js",
        "scripts": {"postinstall": script}});
    let dep = tgz(&[
        ("package.json", &dep_pj.to_string()),
        ("index.js", "module.exports = 1;\n"),
    ]);
    let top_pj = json!({"name": "warden-npm-top", "version": "1.0.0", "bin": "server.js",
        "dependencies": {"evil-dep": "^1.0.0"},
        "scripts": {"postinstall": script}});
    let top = tgz(&[
        ("package.json", &top_pj.to_string()),
        ("server.js", "require('evil-dep');\n"),
    ]);
    serve_made(&server, &[(dep_pj, dep), (top_pj, top)]);
    server
}

#[test]
fn install_scripts_are_listed_and_never_run() {
    let env = TestEnv::new();
    let marker = env.path("postinstall-ran");
    let server = scripts_registry(&marker);
    policy(&env, &["top"]);
    let out = env.run(add_args(&server, "top", "npm:warden-npm-top@1.0.0"));
    out.code(0)
        .stderr_has("install scripts not run: the package itself (postinstall)")
        .stderr_has("install scripts not run: node_modules/evil-dep (evil-dep@1.0.0)")
        // `[sources] install-scripts` is "warn" by default: a warning too.
        .diag("install-scripts-present")
        .stdout_has(
            "`top`: 2 package(s) of the tree declare install scripts (the package itself (postinstall), evil-dep@1.0.0); they were not run and never are",
        );
    assert!(!marker.exists(), "a postinstall script ran");
    let e = entry(&env, "top");
    assert_eq!(
        e["packages"][0]["install-scripts"].as_bool(),
        Some(true),
        "{e}"
    );
    assert!(
        tree_of(&env, "top")
            .join("node_modules/evil-dep/index.js")
            .is_file()
    );
    assert!(!marker.exists(), "a postinstall script ran");
}

/// `[sources] install-scripts = "deny"` in `[sources]` text.
fn deny_scripts(path: &Path, extra: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        format!(
            "version = 1\n\n[sources]\ninstall-scripts = {extra}\n\n[[servers]]\nname = \"top\"\nrequire = []\n"
        ),
    )
    .unwrap();
}

#[test]
fn install_scripts_deny_refuses_the_tree_and_keeps_nothing() {
    let env = TestEnv::new();
    let marker = env.path("postinstall-ran");
    let server = scripts_registry(&marker);
    deny_scripts(&env.user_policy(), "\"deny\"");
    let out = env.run(add_args(&server, "top", "npm:warden-npm-top@1.0.0"));
    out.code(1)
        .diag("install-scripts-denied")
        .stdout_has("the package itself (postinstall), evil-dep@1.0.0")
        .stdout_has("refuses such trees; nothing was pinned")
        .stderr_has("not pinned: top was not added");
    assert!(!marker.exists(), "a postinstall script ran");
    assert_untouched(&env, "denied for install scripts");
    // As JSON: the verdict and the code.
    let mut args = os(&["--format", "json"]);
    args.extend(add_args(&server, "top", "npm:warden-npm-top@1.0.0"));
    let out = env.run(args);
    out.code(1).diag("install-scripts-denied");
    assert_eq!(out.json()["verdict"], "denied");
    assert_untouched(&env, "denied for install scripts (json)");
    // `policy explain` names the line that decides.
    env.run(["policy", "explain", "top"])
        .code(0)
        .stdout_has("add refuses the tree");
}

#[test]
fn a_user_warn_cannot_relax_a_system_deny() {
    let env = TestEnv::new();
    let marker = env.path("postinstall-ran");
    let server = scripts_registry(&marker);
    deny_scripts(&env.system_policy(), "\"deny\"");
    deny_scripts(&env.user_policy(), "\"warn\"");
    let out = env.run(add_args(&server, "top", "npm:warden-npm-top@1.0.0"));
    out.code(1)
        .diag("install-scripts-denied")
        .diag("policy-loosening");
    assert_untouched(&env, "system deny");
    // A tree without scripts is not concerned.
    let everything = everything_registry();
    let out = env.run(add_args(&everything, "top", SOURCE));
    out.code(0).no_diag("install-scripts-denied");
}

#[test]
fn a_bad_install_scripts_value_is_a_policy_error() {
    let env = TestEnv::new();
    for bad in ["\"allow\"", "true", "[\"deny\"]"] {
        deny_scripts(&env.user_policy(), bad);
        env.run(["policy", "check"]).code(1).diag("policy-type");
    }
}

#[test]
fn without_npm_the_add_stops_with_a_hint() {
    let env = TestEnv::new();
    let server = everything_registry();
    policy(&env, &["everything"]);
    env.cmd()
        .args(add_args(&server, "everything", SOURCE))
        .var("PATH", env.path("no-npm-here"))
        .run()
        .code(2)
        .diag("dependency-unresolved")
        .stderr_has("`npm` was not found on PATH")
        .stderr_has("--no-dependencies");
    assert_untouched(&env, "no npm");
    // --no-dependencies pins the tarball alone, which then cannot run.
    env.cmd()
        .args(add_args(&server, "everything", SOURCE))
        .args(["--no-dependencies"])
        .var("PATH", env.path("no-npm-here"))
        .run()
        .code(0);
    assert!(entry(&env, "everything").get("packages").is_none());
    env.cmd()
        .args(["run", "everything"])
        .stdin("")
        .run()
        .code(2)
        .diag("entry-point");
    let _ = files;
}
