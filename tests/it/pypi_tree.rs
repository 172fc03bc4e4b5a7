//! `add pypi:NAME` pins the wheel with every wheel pip resolves for it,
//! and `run` starts its console script from that tree. The index is a real
//! HTTPS server (tests/it/support/tls_server.rs) serving the real wheels of
//! mcp-server-time 2026.10.19 and its 30 dependencies
//! (fixtures/pypi-tree/) as a PEP 503 simple index of relative links; pip
//! resolves against it in report mode, mcp-warden fetches and checks every
//! wheel.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::Digest as _;

use super::add::{assert_untouched, cache_dir, lock_text, os};
use super::everything::run_through_warden;
use super::support::mcp_client::text_of;
use super::support::tls_server::{Response, TlsServer};
use super::support::util::*;

const DIR: &str = "pypi-tree";
pub(super) const SOURCE: &str = "pypi:mcp-server-time==2026.10.19";

/// The captured wheels: file name → bytes.
fn wheels() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(fixture(DIR))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".whl"))
        .map(|n| {
            let b = fs::read(fixture(&format!("{DIR}/{n}"))).unwrap();
            (n, b)
        })
        .collect();
    out.sort();
    out
}

/// The PEP 503 name of a wheel's project.
fn project(file: &str) -> String {
    file.split('-')
        .next()
        .unwrap()
        .to_ascii_lowercase()
        .replace(['_', '.'], "-")
}

/// Serves `files` (file name → bytes) as a PEP 503 index at `/simple/`:
/// one HTML page per project, relative links with the sha256 of `listed`
/// (the real bytes unless a test says otherwise).
fn serve(server: &TlsServer, files: &[(String, Vec<u8>)], listed: &HashMap<String, Vec<u8>>) {
    let mut pages: HashMap<String, String> = HashMap::new();
    for (name, bytes) in files {
        let hash = hex::encode(sha2::Sha256::digest(listed.get(name).unwrap_or(bytes)));
        pages.entry(project(name)).or_default().push_str(&format!(
            "<a href=\"../../files/{name}#sha256={hash}\">{name}</a><br/>\n"
        ));
        server.route(&format!("/files/{name}"), Response::ok(bytes.clone()));
    }
    for (p, links) in pages {
        let page = format!(
            "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for {p}</title></head><body><h1>Links for {p}</h1>\n{links}</body></html>\n"
        );
        server.route(
            &format!("/simple/{p}/"),
            Response::ok(page).header("Content-Type", "text/html; charset=utf-8"),
        );
    }
}

pub(super) fn time_index() -> TlsServer {
    let server = TlsServer::start();
    serve(&server, &wheels(), &HashMap::new());
    server
}

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
    let mut args = os(&["add", name, source, "--pypi-url"]);
    args.push(server.url("/simple").into());
    args.push("--ca-file".into());
    args.push(server.ca_file().into());
    args
}

fn entry(env: &TestEnv, name: &str) -> toml::Value {
    let text = lock_text(env);
    let lock: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    lock["servers"]
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no [servers.{name}] in\n{text}"))
}

fn tree_of(env: &TestEnv, name: &str) -> PathBuf {
    let e = entry(env, name);
    cache_dir(env, "trees/sha256").join(e["tree"].as_str().unwrap())
}

/// Wheels fetched by mcp-warden itself (pip says who it is).
fn wheel_requests(server: &TlsServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with(".whl"))
        .filter(|r| {
            !r.header("user-agent")
                .is_some_and(|u| u.starts_with("pip/"))
        })
        .count()
}

fn make_writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if p.is_dir() { 0o755 } else { 0o644 };
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// initialize, tools/list, tools/call get_current_time in UTC.
fn exercise_time(env: &TestEnv, name: &str) {
    let s = run_through_warden(env, name, &[]);
    let info = s
        .server_info()
        .unwrap_or_else(|e| panic!("{e}\n{}", s.stderr()));
    let server_name = info.server_info.as_ref().map(|i| i.name.clone());
    assert_eq!(server_name.as_deref(), Some("mcp-time"), "{info:?}");
    let tools = s.list_tools().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"get_current_time"), "{names:?}");
    let r = s
        .call_tool("get_current_time", json!({"timezone": "UTC"}))
        .unwrap_or_else(|e| panic!("{e}\n{}", s.stderr()));
    let text = text_of(&r);
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["timezone"].as_str(), Some("UTC"), "{text}");
    let dt = v["datetime"].as_str().unwrap_or_else(|| panic!("{text}"));
    assert!(dt.ends_with("+00:00"), "{text}");
    let year: i32 = dt[..4].parse().unwrap();
    assert!(year >= 2025, "{text}");
    s.close().unwrap();
}

#[test]
fn a_pypi_server_is_pinned_with_its_whole_tree_and_runs() {
    let env = TestEnv::new();
    let server = time_index();
    policy(&env, &["time", "again"]);
    let out = env.run(add_args(&server, "time", SOURCE));
    out.code(0)
        .stdout_has("pinned time")
        .stderr_has("30 dependencies resolved by pip");
    let e = entry(&env, "time");
    assert_eq!(e["kind"].as_str(), Some("wheel"), "{e}");
    let packages = e["packages"].as_array().unwrap_or_else(|| panic!("{e}"));
    assert_eq!(packages.len(), 30, "{e}");
    let files: HashMap<String, Vec<u8>> = wheels().into_iter().collect();
    let base = server.url("/files/");
    let tree = tree_of(&env, "time");
    for p in packages {
        let url = p["resolved"].as_str().unwrap();
        let file = url.strip_prefix(&base).unwrap_or_else(|| panic!("{p}"));
        let bytes = &files[file];
        let sha = hex::encode(sha2::Sha256::digest(bytes));
        assert_eq!(p["sha256"].as_str(), Some(sha.as_str()), "{p}");
        use base64::Engine as _;
        let sri = format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
        );
        assert_eq!(p["integrity"].as_str(), Some(sri.as_str()), "{p}");
        // Each wheel's dist-info at the tree's root.
        let info = tree.join(p["path"].as_str().unwrap());
        assert!(info.join("METADATA").is_file(), "{p}");
    }
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for n in ["mcp", "pydantic_core", "tzdata", "cryptography"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert!(!names.contains(&"mcp-server-time"), "{names:?}");
    // Every wheel installed at the root, byte-code compiled beside it.
    assert!(tree.join("mcp_server_time/server.py").is_file());
    assert!(tree.join("mcp/__init__.py").is_file());
    assert!(tree.join("zoneinfo").exists() || tree.join("tzdata/zoneinfo/UTC").is_file());
    let pyc = fs::read_dir(tree.join("mcp_server_time/__pycache__"))
        .unwrap()
        .flatten()
        .count();
    assert!(pyc > 0, "no byte-code compiled");
    assert_eq!(e["tree-digest"].as_str(), e["tree"].as_str(), "{e}");
    // Only the tree that runs is kept.
    let trees: Vec<_> = fs::read_dir(cache_dir(&env, "trees/sha256"))
        .unwrap()
        .flatten()
        .filter(|d| d.path().is_dir())
        .collect();
    assert_eq!(trees.len(), 1);

    // run: initialize, tools/list, tools/call through the guard.
    exercise_time(&env, "time");
    // Its full check kept the entry point it found in the verified tree,
    // the tree's path left out; the next start takes it from there.
    let receipt = env
        .root
        .join("home/data/receipts")
        .join(format!("{}.toml", hex::encode("time")));
    let receipt: toml::Value = toml::from_str(&fs::read_to_string(receipt).unwrap()).unwrap();
    let kept = receipt["entry"]
        .as_str()
        .unwrap_or_else(|| panic!("{receipt}"));
    let kept: serde_json::Value = serde_json::from_str(kept).unwrap();
    let args: Vec<&str> = (kept["args"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args[5..],
        ["\0", "mcp_server_time", "main", "mcp-server-time"],
        "{kept}"
    );
    assert!(!kept.to_string().contains("trees/sha256"), "{kept}");
    exercise_time(&env, "time");

    // The same add again fetches nothing; another name for the same
    // package takes every wheel from the cache (pip reads the index).
    let before = server.requests().len();
    env.run(add_args(&server, "time", SOURCE)).code(0);
    assert_eq!(server.requests().len(), before);
    let mine = wheel_requests(&server);
    assert_eq!(mine, 31, "each wheel fetched once by mcp-warden");
    env.run(add_args(&server, "again", SOURCE)).code(0);
    assert_eq!(
        wheel_requests(&server),
        mine + 1,
        "only the server's own wheel is fetched again"
    );
    assert_eq!(
        entry(&env, "again")["packages"].as_array().unwrap().len(),
        30
    );
}

#[test]
fn a_dependency_changed_on_the_index_is_not_pinned() {
    let file = "tzlocal-5.4.5-py3-none-any.whl";
    let real = fs::read(fixture(&format!("{DIR}/{file}"))).unwrap();
    for (what, bytes) in [
        ("changed", {
            let mut b = real.clone();
            let mid = b.len() / 2;
            b[mid] ^= 1;
            b
        }),
        ("truncated", real[..real.len() - 100].to_vec()),
        ("grown", {
            let mut b = real.clone();
            b.extend(vec![0u8; 4096]);
            b
        }),
    ] {
        let env = TestEnv::new();
        let server = TlsServer::start();
        // The page lists the real sha256; the file served is another.
        let mut files = wheels();
        for f in &mut files {
            if f.0 == file {
                f.1 = bytes.clone();
            }
        }
        let listed: HashMap<String, Vec<u8>> = [(file.to_string(), real.clone())].into();
        serve(&server, &files, &listed);
        policy(&env, &["time"]);
        let out = env.run(add_args(&server, "time", SOURCE));
        out.code(2);
        // pip checks the hash the page lists as it reads the wheel; if it
        // did not, mcp-warden's own check against pip's report would.
        out.check(
            out.stderr.contains("tzlocal"),
            "the message names the dependency",
        );
        assert_untouched(&env, what);
    }
}

#[test]
fn a_dependency_changed_after_pip_read_it_is_refused_by_mcp_warden() {
    // pip reads the real wheel (and reports its sha256); the index then
    // serves other bytes at the same URL, which mcp-warden fetches and
    // checks against pip's report. The server picks a response before it
    // records the request, so the swap only reaches the next request.
    let file = "tzlocal-5.4.5-py3-none-any.whl";
    let path = format!("/files/{file}");
    let tampered = {
        let mut b = fs::read(fixture(&format!("{DIR}/{file}"))).unwrap();
        let n = b.len();
        b[n / 3] ^= 0x40;
        b
    };
    let env = TestEnv::new();
    let server = time_index();
    policy(&env, &["time"]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            let t0 = std::time::Instant::now();
            while t0.elapsed() < std::time::Duration::from_secs(300)
                && !stop.load(std::sync::atomic::Ordering::SeqCst)
            {
                if server.requests().iter().any(|r| r.path() == path) {
                    server.route(&path, Response::ok(tampered.clone()));
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        let out = env.run(add_args(&server, "time", SOURCE));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        out
    });
    out.code(2).diag("integrity-mismatch").stderr_has(file);
    assert_untouched(&env, "changed after pip read it");
}

#[test]
fn a_dependency_with_only_an_sdist_is_refused_by_name() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let files: Vec<(String, Vec<u8>)> = wheels()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("tzlocal-"))
        .chain([("tzlocal-5.4.5.tar.gz".to_string(), b"not built".to_vec())])
        .collect();
    serve(&server, &files, &HashMap::new());
    policy(&env, &["time"]);
    let out = env.run(add_args(&server, "time", SOURCE));
    out.code(2)
        .diag("dependency-unresolved")
        .stderr_has("tzlocal")
        .stderr_has("sdist is never built");
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.path().ends_with(".tar.gz")),
        "the sdist was downloaded"
    );
    assert_untouched(&env, "sdist only");
}

#[test]
fn a_file_changed_in_the_cached_tree_stops_run_until_added_again() {
    let env = TestEnv::new();
    let server = time_index();
    policy(&env, &["time"]);
    env.run(add_args(&server, "time", SOURCE)).code(0);
    let tree = tree_of(&env, "time");
    let file = tree.join("tzlocal/__init__.py");
    make_writable(file.parent().unwrap());
    make_writable(&file);
    let mut f = fs::OpenOptions::new().append(true).open(&file).unwrap();
    f.write_all(b"\nimport os\n").unwrap();
    drop(f);
    env.cmd()
        .args(["run", "time"])
        .stdin("")
        .run()
        .code(1)
        .diag("cache-mismatch")
        .stderr_has("not the pinned")
        .stderr_has("(tzlocal@")
        .stderr_has("changed since they were pinned: tzlocal/__init__.py");
    // The hint's way back: `add` again lays the files out anew, in place
    // of the changed ones, and the server runs.
    env.run(add_args(&server, "time", SOURCE)).code(0);
    assert_eq!(tree_of(&env, "time"), tree);
    assert!(!fs::read_to_string(&file).unwrap().contains("import os"));
    exercise_time(&env, "time");
}

#[test]
fn without_pip_the_add_stops_with_a_hint() {
    let env = TestEnv::new();
    let server = time_index();
    policy(&env, &["time"]);
    env.cmd()
        .args(add_args(&server, "time", SOURCE))
        .var("PATH", env.path("no-python-here"))
        .run()
        .code(2)
        .diag("dependency-unresolved")
        .stderr_has("pip is needed")
        .stderr_has("python3-pip");
    assert_untouched(&env, "no pip");
}

#[test]
fn a_dependency_larger_than_max_size_is_not_pinned() {
    // cryptography's wheel (4.9 MB) is over the limit; the server's own
    // (a few KiB) is not.
    let env = TestEnv::new();
    let server = time_index();
    policy(&env, &["time"]);
    let mut args = add_args(&server, "time", SOURCE);
    args.extend(os(&["--max-size", "3000000"]));
    env.run(args)
        .code(2)
        .diag("artifact-too-large")
        .stderr_has("cryptography");
    assert_untouched(&env, "oversized");
}

// ------------------------------------------------------------ made wheels

/// A wheel of `files` (path, text).
fn wheel(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default();
        for (name, body) in files {
            z.start_file(*name, opts).unwrap();
            z.write_all(body.as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }
    out.into_inner()
}

fn dist(name: &str, requires: &[&str], files: &[(&str, &str)]) -> (String, Vec<u8>) {
    let module = name.replace('-', "_");
    let info = format!("{module}-1.0.dist-info");
    let mut meta = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
    for r in requires {
        meta.push_str(&format!("Requires-Dist: {r}\n"));
    }
    let wheel_txt =
        "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let entry = format!("[console_scripts]\n{name} = {module}:main\n");
    let mut all: Vec<(String, String)> = vec![
        (format!("{info}/METADATA"), meta),
        (format!("{info}/WHEEL"), wheel_txt.into()),
        (format!("{info}/entry_points.txt"), entry),
        (format!("{info}/RECORD"), String::new()),
    ];
    all.extend(files.iter().map(|(p, b)| (p.to_string(), b.to_string())));
    let refs: Vec<(&str, &str)> = all.iter().map(|(p, b)| (p.as_str(), b.as_str())).collect();
    (format!("{module}-1.0-py3-none-any.whl"), wheel(&refs))
}

#[test]
fn a_wheel_installing_outside_the_tree_or_over_another_is_refused() {
    let top = dist(
        "warden-py-top",
        &["warden-py-dep"],
        &[("warden_py_top/__init__.py", "def main():\n    pass\n")],
    );
    for (what, dep, want) in [
        (
            "scripts",
            dist(
                "warden-py-dep",
                &[],
                &[
                    ("warden_py_dep/__init__.py", ""),
                    ("warden_py_dep-1.0.data/scripts/evil", "#!/bin/sh\n"),
                ],
            ),
            "installs `scripts` files",
        ),
        (
            "headers",
            dist(
                "warden-py-dep",
                &[],
                &[("warden_py_dep-1.0.data/headers/x.h", "int x;\n")],
            ),
            "installs `headers` files",
        ),
        (
            "overwrite",
            dist(
                "warden-py-dep",
                &[],
                &[("warden_py_top/__init__.py", "import os\n")],
            ),
            "installed by another wheel",
        ),
    ] {
        let env = TestEnv::new();
        let server = TlsServer::start();
        serve(&server, &[top.clone(), dep], &HashMap::new());
        policy(&env, &["top"]);
        env.run(add_args(&server, "top", "pypi:warden-py-top==1.0"))
            .code(2)
            .stderr_has("warden_py_dep-1.0-py3-none-any.whl")
            .stderr_has(want);
        assert_untouched(&env, what);
    }
    // purelib and platlib are merged into the root, as pip installs them.
    let env = TestEnv::new();
    let server = TlsServer::start();
    let dep = dist(
        "warden-py-dep",
        &[],
        &[
            (
                "warden_py_dep-1.0.data/purelib/warden_py_dep/__init__.py",
                "",
            ),
            ("warden_py_dep-1.0.data/platlib/warden_py_dep/fast.py", ""),
        ],
    );
    serve(&server, &[top, dep], &HashMap::new());
    policy(&env, &["top"]);
    env.run(add_args(&server, "top", "pypi:warden-py-top==1.0"))
        .code(0)
        .stderr_has("1 dependencies resolved by pip");
    let tree = tree_of(&env, "top");
    assert!(tree.join("warden_py_dep/__init__.py").is_file());
    assert!(tree.join("warden_py_dep/fast.py").is_file());
    assert!(!tree.join("warden_py_dep-1.0.data").exists());
    assert!(tree.join("warden_py_top-1.0.dist-info/REQUESTED").is_file());
    assert!(!tree.join("warden_py_dep-1.0.dist-info/REQUESTED").exists());
}
