//! Re-creating a pinned tree from servers.lock alone: `add --locked` and
//! `run` on an empty cache fetch exactly the locked files (the artifact
//! from its recorded URL, each package against its integrity), lay the
//! tree out without any resolver, and refuse anything that does not give
//! the pinned tree digest, naming the package. The registries are the
//! real captured trees of tests/it/npm_tree.rs and tests/it/pypi_tree.rs.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::add::{cache_dir, files, lock_text, os};
use super::everything::{exercise_everything, run_through_warden};
use super::npm_tree::{self, everything_registry};
use super::support::tls_server::{Response, TlsServer};
use super::support::util::*;

/// The cache removed, as on another machine.
fn wipe_cache(env: &TestEnv) {
    let dir = cache_dir(env, "");
    let _ = std::process::Command::new("chmod")
        .args(["-R", "u+rwx"])
        .arg(&dir)
        .status();
    fs::remove_dir_all(&dir).unwrap();
}

/// A PATH with node alone: no npm, no pip.
fn node_only(env: &TestEnv) -> PathBuf {
    let dir = env.root.join("node-only");
    fs::create_dir_all(&dir).unwrap();
    let node = ["/usr/bin/node", "/usr/local/bin/node"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("node");
    let _ = std::os::unix::fs::symlink(node, dir.join("node"));
    dir
}

fn locked_args(server: &TlsServer, extra: &[&str]) -> Vec<OsString> {
    let mut args = os(&["add", "--locked"]);
    args.extend(os(extra));
    args.push("--ca-file".into());
    args.push(server.ca_file().into());
    args
}

fn pinned_everything() -> (TestEnv, TlsServer, String) {
    let env = TestEnv::new();
    let server = everything_registry();
    npm_tree::policy(&env, &["everything"]);
    env.run(npm_tree::add_args(&server, "everything", npm_tree::SOURCE))
        .code(0);
    let lock = lock_text(&env);
    assert!(lock.contains("url = \"https://"), "{lock}");
    (env, server, lock)
}

/// The distinct tarballs the lock pins for `everything`, its own included.
fn tarballs(env: &TestEnv) -> usize {
    let e = npm_tree::entry(env, "everything");
    let mut keys: Vec<&str> = e["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sha256"].as_str().unwrap())
        .collect();
    keys.push(e["sha256"].as_str().unwrap());
    keys.sort();
    keys.dedup();
    keys.len()
}

fn nothing_cached(env: &TestEnv, what: &str) {
    for sub in ["blobs", "trees"] {
        let left: Vec<_> = files(&cache_dir(env, sub))
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with(".lck"))
            .collect();
        assert!(left.is_empty(), "{what}: cache/{sub} holds {left:?}");
    }
}

#[test]
fn run_on_an_empty_cache_fetches_the_locked_files_and_talks_mcp_without_npm() {
    let (env, server, lock) = pinned_everything();
    wipe_cache(&env);
    let before = server.requests().len();
    let path = node_only(&env);
    let ca = server.ca_file();
    exercise_everything(run_through_warden(
        &env,
        "everything",
        &[
            ("PATH", path.to_str().unwrap()),
            ("MCP_WARDEN_CA_FILE", ca.to_str().unwrap()),
        ],
    ));
    let fetched: Vec<String> = server.requests()[before..]
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    // Only tarballs, each once (packages of the same integrity share
    // one): no packument, nothing resolved.
    assert_eq!(fetched.len(), tarballs(&env), "{fetched:?}");
    assert!(fetched.iter().all(|p| p.ends_with(".tgz")), "{fetched:?}");
    assert_eq!(lock_text(&env), lock, "servers.lock changed");
}

#[test]
fn add_locked_restores_the_npm_tree_without_npm_and_leaves_the_lock_alone() {
    let (env, server, lock) = pinned_everything();
    let tree = npm_tree::tree_of(&env, "everything");
    wipe_cache(&env);
    env.cmd()
        .args(locked_args(&server, &[]))
        .var("PATH", env.root.join("nothing-here"))
        .run()
        .code(0)
        .stdout_has(&format!(
            "everything: the locked files are in the cache and verified ({} fetched)",
            tarballs(&env)
        ));
    assert!(tree.join("node_modules/express/package.json").is_file());
    assert_eq!(lock_text(&env), lock, "servers.lock changed");
    // The SBOM judged at add is made again, byte for byte, and served.
    let pinned: toml::Value = toml::from_str(&lock).unwrap();
    let sbom = pinned["servers"]["everything"]["sbom"].as_str().unwrap();
    let out = env.run(["sbom", "everything", "--json"]);
    out.code(0);
    use sha2::Digest as _;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(out.stdout.as_bytes())),
        sbom
    );
    // Warm: nothing fetched, verified again.
    let before = server.requests().len();
    env.run(locked_args(&server, &["everything"]))
        .code(0)
        .stdout_has("(0 fetched)");
    assert_eq!(server.requests().len(), before);
    env.run(locked_args(&server, &["nobody"]))
        .code(2)
        .diag("server-unknown");
}

#[test]
fn a_locked_package_changed_on_the_registry_is_refused_by_name_and_nothing_kept() {
    let (env, server, lock) = pinned_everything();
    wipe_cache(&env);
    let packs = npm_tree::packuments(&server);
    let url = packs["express"]["versions"]["5.3.0"]["dist"]["tarball"]
        .as_str()
        .unwrap()
        .to_string();
    let path = url.strip_prefix(&server.base_url()).unwrap().to_string();
    for (what, bytes) in [
        ("changed", {
            let mut b = npm_tree::captured("express", "5.3.0");
            let mid = b.len() / 2;
            b[mid] ^= 1;
            b
        }),
        ("truncated", {
            let b = npm_tree::captured("express", "5.3.0");
            b[..b.len() / 2].to_vec()
        }),
        ("malformed", b"<html>not a tarball</html>".to_vec()),
    ] {
        server.route(&path, Response::ok(bytes));
        env.run(locked_args(&server, &[]))
            .code(2)
            .diag("integrity-mismatch")
            .stderr_has("node_modules/express (express@5.3.0)");
        nothing_cached(&env, what);
        assert_eq!(lock_text(&env), lock, "{what}: servers.lock changed");
    }
    // Larger than --max-size.
    server.route(&path, Response::ok(vec![0u8; 2 << 20]));
    env.run(locked_args(&server, &["--max-size", "1200000"]))
        .diag("artifact-too-large")
        .stderr_has("node_modules/express");
    nothing_cached(&env, "oversized");
}

#[test]
fn a_lock_edited_to_another_integrity_is_refused_by_name() {
    let (env, server, lock) = pinned_everything();
    wipe_cache(&env);
    let e = npm_tree::entry(&env, "everything");
    let express = e["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"].as_str() == Some("node_modules/express"))
        .unwrap();
    let integrity = express["integrity"].as_str().unwrap();
    let other = format!("sha512-{}==", "A".repeat(86));
    let lock_path = env.root.join("home/config/servers.lock");
    fs::write(&lock_path, lock.replace(integrity, &other)).unwrap();
    env.run(locked_args(&server, &[]))
        .code(2)
        .diag("integrity-mismatch")
        .stderr_has("node_modules/express (express@5.3.0)");
    nothing_cached(&env, "edited integrity");
    // The same at run, which fetches from the lock too.
    env.cmd()
        .args(["run", "everything"])
        .var("MCP_WARDEN_CA_FILE", server.ca_file())
        .stdin("")
        .run()
        .diag("integrity-mismatch")
        .stderr_has("node_modules/express");
    nothing_cached(&env, "edited integrity, run");
    // A lock path bent out of the tree is refused before anything is fetched.
    fs::write(
        &lock_path,
        lock.replace(
            "path = \"node_modules/express\"",
            "path = \"node_modules/../../x\"",
        ),
    )
    .unwrap();
    env.run(locked_args(&server, &[]))
        .code(2)
        .diag("dependency-refused");
}

#[test]
fn an_offline_run_on_an_empty_cache_says_how_to_fetch_once() {
    let (env, server, lock) = pinned_everything();
    wipe_cache(&env);
    let before = server.requests().len();
    env.cmd()
        .args(["run", "--offline", "everything"])
        .stdin("")
        .run()
        .code(2)
        .diag("fetch-failed")
        .stderr_has("--offline")
        .stderr_has("mcp-warden add --locked");
    assert_eq!(server.requests().len(), before);
    env.run(locked_args(&server, &["--offline"]))
        .diag("fetch-failed")
        .stderr_has("mcp-warden add --locked");
    nothing_cached(&env, "offline");
    assert_eq!(lock_text(&env), lock);
}

#[test]
fn add_locked_restores_the_pypi_tree_without_resolving() {
    use super::pypi_tree;
    let env = TestEnv::new();
    let server = pypi_tree::time_index();
    pypi_tree::policy(&env, &["time"]);
    env.run(pypi_tree::add_args(&server, "time", pypi_tree::SOURCE))
        .code(0);
    let lock = lock_text(&env);
    wipe_cache(&env);
    let before = server.requests().len();
    env.run(locked_args(&server, &["time"]))
        .code(0)
        .stdout_has("time: the locked files are in the cache and verified");
    let fetched: Vec<String> = server.requests()[before..]
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    // Wheels only: no index page, so pip resolved nothing.
    assert!(!fetched.is_empty());
    assert!(fetched.iter().all(|p| p.ends_with(".whl")), "{fetched:?}");
    assert_eq!(lock_text(&env), lock, "servers.lock changed");
}

// ------------------------------------------------------------------ update

/// The captured registry with `ms` changed by `edit` (its packument) and
/// the made tarballs `made` (`name@version` → bytes) served beside the
/// captured ones.
fn reserve(
    server: &TlsServer,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    made: Vec<(String, Vec<u8>)>,
) {
    let mut packs = npm_tree::packuments(server);
    edit(&mut packs);
    let made: std::collections::HashMap<String, Vec<u8>> = made.into_iter().collect();
    npm_tree::serve(server, &packs, &move |n: &str, v: &str| {
        made.get(&format!("{n}@{v}"))
            .cloned()
            .unwrap_or_else(|| npm_tree::captured(n, v))
    });
}

/// A made package: its version document and tarball.
fn made(server: &TlsServer, pj: serde_json::Value) -> (serde_json::Value, Vec<u8>) {
    let bytes = npm_tree::tgz(&[
        ("package.json", &pj.to_string()),
        ("index.js", "module.exports = function () { return 0; };\n"),
    ]);
    let (n, v) = (
        pj["name"].as_str().unwrap(),
        pj["version"].as_str().unwrap(),
    );
    let mut doc = pj.clone();
    doc["dist"] = serde_json::json!({
        "tarball": server.url(&format!("/{n}/-/{n}-{v}.tgz")),
        "integrity": npm_tree::integrity(&bytes),
    });
    (doc, bytes)
}

fn update_args(server: &TlsServer, extra: &[&str]) -> Vec<OsString> {
    let mut args = os(&["update", "everything", "--registry"]);
    args.push(server.base_url().into());
    args.push("--ca-file".into());
    args.push(server.ca_file().into());
    args.extend(os(extra));
    args
}

#[test]
fn update_shows_the_packages_added_and_changed_before_pinning() {
    let (env, server, lock) = pinned_everything();
    let (ms, ms_bytes) = made(
        &server,
        serde_json::json!({"name": "ms", "version": "2.1.4", "main": "./index",
            "dependencies": {"warden-new-dep": "^1.0.0"}}),
    );
    let (dep, dep_bytes) = made(
        &server,
        serde_json::json!({"name": "warden-new-dep", "version": "1.0.0", "main": "./index"}),
    );
    reserve(
        &server,
        |packs| {
            packs["ms"]["versions"]["2.1.4"] = ms;
            packs["ms"]["dist-tags"]["latest"] = "2.1.4".into();
            packs.insert(
                "warden-new-dep".into(),
                serde_json::json!({"name": "warden-new-dep", "dist-tags": {"latest": "1.0.0"},
                    "versions": {"1.0.0": dep}}),
            );
        },
        vec![
            ("ms@2.1.4".into(), ms_bytes),
            ("warden-new-dep@1.0.0".into(), dep_bytes),
        ],
    );
    env.run(update_args(&server, &["--dry-run"]))
        .code(0)
        .stderr_has("changed ms 2.1.3 -> 2.1.4")
        .stderr_has("added warden-new-dep@1.0.0")
        .stderr_has("--dry-run: nothing changed")
        .no_diag("package-republished");
    assert_eq!(lock_text(&env), lock);
    env.run(update_args(&server, &[]))
        .code(0)
        .stderr_has("changed ms 2.1.3 -> 2.1.4")
        .stdout_has("pinned everything");
    let e = npm_tree::entry(&env, "everything");
    let versions: Vec<String> = e["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"].as_str() == Some("ms"))
        .map(|p| p["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(versions, ["2.1.4"]);
}

#[test]
fn a_package_republished_under_the_same_version_is_not_pinned_without_yes() {
    let (env, server, lock) = pinned_everything();
    // Other bytes under ms 2.1.3, with an integrity that matches them.
    let (ms, ms_bytes) = made(
        &server,
        serde_json::json!({"name": "ms", "version": "2.1.3", "main": "./index"}),
    );
    reserve(
        &server,
        |packs| packs["ms"]["versions"]["2.1.3"] = ms,
        vec![("ms@2.1.3".into(), ms_bytes)],
    );
    env.run(update_args(&server, &[]))
        .code(1)
        .diag("package-republished")
        .stderr_has("REPUBLISHED ms@2.1.3: same version, other integrity")
        .stderr_has("--yes");
    assert_eq!(lock_text(&env), lock, "pinned without --yes");
    env.run(update_args(&server, &["--yes"]))
        .code(0)
        .diag("package-republished")
        .stdout_has("pinned everything");
    assert_ne!(lock_text(&env), lock);
}

// ------------------------------------------------------------------ naming

#[test]
fn a_changed_tree_names_each_package_whose_files_changed() {
    let (env, _server, _lock) = pinned_everything();
    let tree = npm_tree::tree_of(&env, "everything");
    let writable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    };
    // A file planted in one dependency, one removed from another, and the
    // server's own package.json rewritten.
    let zod = tree.join("node_modules/zod");
    writable(&zod);
    fs::write(zod.join("planted.js"), "require('child_process');\n").unwrap();
    let ms = tree.join("node_modules/ms");
    writable(&ms);
    fs::remove_file(ms.join("index.js")).unwrap();
    writable(&tree);
    writable(&tree.join("package.json"));
    let mut pj = fs::read(tree.join("package.json")).unwrap();
    pj.extend_from_slice(b"\n");
    fs::write(tree.join("package.json"), pj).unwrap();
    let out = env.cmd().args(["run", "everything"]).stdin("").run();
    out.code(1)
        .diag("cache-mismatch")
        .stderr_has("the files of node_modules/ms (ms@2.1.3) changed since they were pinned: node_modules/ms/index.js")
        .stderr_has("(zod@")
        .stderr_has("changed since they were pinned: node_modules/zod/planted.js")
        .stderr_has("the server's own files changed since they were pinned: package.json");
}

#[test]
fn a_server_pinned_from_a_local_file_cannot_be_fetched_again() {
    let env = TestEnv::new();
    let file = env.path("server.sh");
    fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    env.pin_signed("local", &file, "publisher", &["local"]);
    let lock = lock_text(&env);
    assert!(!lock.contains("url ="), "{lock}");
    wipe_cache(&env);
    for args in [vec!["add", "--locked", "local"], vec!["run", "local"]] {
        env.cmd()
            .args(args)
            .stdin("")
            .run()
            .code(1)
            .diag("cache-mismatch")
            .stderr_has("servers.lock records no")
            .stderr_has("mcp-warden add local");
    }
    nothing_cached(&env, "local");
    assert_eq!(lock_text(&env), lock);
}
