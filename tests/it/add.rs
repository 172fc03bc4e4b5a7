//! `add`, `update`, `remove` and `cache` against a real HTTPS server on
//! 127.0.0.1 (tests/it/support/tls_server.rs) serving files, an npm registry
//! layout and faults. After every failure, neither the lock nor the cache
//! holds anything half-written.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::Digest as _;

use super::support::tls_server::{Response, TlsServer};
use super::support::util::*;

pub(super) const GHA: &str = "https://token.actions.githubusercontent.com";
pub(super) const SIGSTORE_JS: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";

pub(super) fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn lock_file(env: &TestEnv) -> PathBuf {
    env.root.join("home/config/servers.lock")
}

pub(super) fn lock_text(env: &TestEnv) -> String {
    fs::read_to_string(lock_file(env)).unwrap_or_default()
}

/// Files under `dir`, recursively (none when it does not exist).
pub(super) fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub(super) fn cache_dir(env: &TestEnv, sub: &str) -> PathBuf {
    env.root.join("home/cache").join(sub)
}

/// Nothing pinned, nothing stored, nothing left in the cache's tmp/.
pub(super) fn assert_untouched(env: &TestEnv, what: &str) {
    assert!(
        !lock_text(env).contains("[servers."),
        "{what}: the lock changed:\n{}",
        lock_text(env)
    );
    for sub in ["blobs", "trees", "tmp"] {
        let left = files(&cache_dir(env, sub));
        assert!(left.is_empty(), "{what}: cache/{sub} holds {left:?}");
    }
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// A signed artifact served at /server.bin, its key trusted for every server.
fn signed_artifact(env: &TestEnv, server: &TlsServer) -> Vec<u8> {
    let bytes = noise(200_000, 7);
    env.write("server.bin", &bytes);
    let key = Minisign::generate(env, "publisher");
    key.sign(&env.path("server.bin"), Some("server 1.0"));
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    server.route("/server.bin", Response::ok(bytes.clone()));
    bytes
}

fn add_https(env: &TestEnv, server: &TlsServer, name: &str, extra: &[&str]) -> Output {
    let mut args = os(&["add", name]);
    args.push(server.url("/server.bin").into());
    args.extend(os(&["--signature", "server.bin.minisig", "--ca-file"]));
    args.push(server.ca_file().into());
    args.extend(os(extra));
    env.run(args)
}

#[test]
fn an_https_artifact_is_fetched_verified_and_pinned() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let bytes = signed_artifact(&env, &server);
    add_https(&env, &server, "demo", &[])
        .code(0)
        .stdout_has("pinned demo");
    let lock = lock_text(&env);
    assert!(lock.contains("[servers.demo]"), "{lock}");
    assert!(lock.contains(&sha256_hex(&bytes)), "{lock}");
    assert!(lock.contains("signers = [\"publisher\"]"), "{lock}");
    let blob = cache_dir(&env, "blobs/sha256").join(sha256_hex(&bytes));
    assert_eq!(fs::read(&blob).unwrap(), bytes);

    let list = env.run(["--format", "json", "cache", "list"]);
    list.code(0);
    let v = list.json();
    let entries = v["entries"].as_array().unwrap();
    // The artifact and the signature `add` kept, both used by demo.
    assert_eq!(entries.len(), 2, "{v}");
    assert!(entries.iter().all(|e| e["servers"][0] == "demo"), "{v}");
    env.run(["cache", "verify"]).code(0);

    // The same add again is answered from the receipt: nothing fetched.
    let fetches = || {
        server
            .requests()
            .iter()
            .filter(|r| r.path() == "/server.bin")
            .count()
    };
    let before = fetches();
    add_https(&env, &server, "demo", &[])
        .code(0)
        .stdout_has("demo is pinned already");
    assert_eq!(fetches(), before);
    assert_eq!(files(&cache_dir(&env, "blobs")).len(), 2);
    // A change to the trust store (or policy, or evidence) runs it all again.
    let other = Minisign::generate(&env, "other");
    env.trust_key(&other.public, "other", &["*"]).code(0);
    add_https(&env, &server, "demo", &[])
        .code(0)
        .stdout_has("pinned demo");
    assert_eq!(fetches(), before + 1);

    // `verify --server` judges the pinned copy again, from the cache and
    // the evidence `add` kept, without the network.
    let before = fetches();
    env.run(["verify", "--server", "demo"])
        .code(0)
        .stdout_has("ALLOWED");
    assert_eq!(fetches(), before);
    env.run(["verify", "--server", "nobody"])
        .code(2)
        .diag("server-unknown");

    // A changed byte in the cache is found.
    let mut perms = fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&blob, perms).unwrap();
    let mut tampered = bytes.clone();
    tampered[10] ^= 1;
    fs::write(&blob, &tampered).unwrap();
    env.run(["cache", "verify"]).code(1).diag("cache-mismatch");
    env.run(["verify", "--server", "demo"])
        .code(2)
        .diag("cache-mismatch");

    // remove drops the entry and what only it used.
    env.run(["remove", "demo"])
        .code(0)
        .stdout_has("removed demo");
    assert!(!lock_text(&env).contains("[servers.demo]"));
    assert!(files(&cache_dir(&env, "blobs")).is_empty());
    env.run(["remove", "demo"]).code(2).diag("server-unknown");
}

#[test]
fn an_unsigned_or_tampered_artifact_is_not_pinned() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let mut bytes = signed_artifact(&env, &server);
    let mut args = os(&["add", "demo"]);
    args.push(server.url("/server.bin").into());
    args.extend(os(&["--ca-file"]));
    args.push(server.ca_file().into());
    env.run(args).code(1).diag("signature-missing");
    assert_untouched(&env, "denied, unsigned");
    bytes[0] ^= 1;
    server.route("/server.bin", Response::ok(bytes));
    add_https(&env, &server, "demo", &[])
        .code(1)
        .diag("signature-invalid");
    assert_untouched(&env, "denied, tampered");
}

#[test]
fn fetch_faults_fail_cleanly_and_leave_nothing_behind() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let bytes = signed_artifact(&env, &server);
    let http_url = format!("http://127.0.0.1:{}/server.bin", server.port());
    let cases: Vec<(&str, Response, &[&str], &str)> = vec![
        (
            "truncated",
            Response::truncated(bytes[..1000].to_vec(), bytes.len() as u64),
            &[],
            "fetch-failed",
        ),
        ("not found", Response::status(404), &[], "source-not-found"),
        ("server error", Response::status(500), &[], "fetch-failed"),
        (
            "redirect to http",
            Response::redirect(&http_url),
            &[],
            "fetch-failed",
        ),
        (
            "oversized by Content-Length",
            Response::ok(bytes.clone()),
            &["--max-size", "1000"],
            "artifact-too-large",
        ),
        (
            "oversized without Content-Length",
            Response::no_length(bytes.clone()),
            &["--max-size", "1000"],
            "artifact-too-large",
        ),
        (
            "stalled",
            Response::stall(),
            &["--timeout", "1"],
            "fetch-failed",
        ),
    ];
    for (what, response, extra, code) in cases {
        server.route("/server.bin", response);
        let out = add_https(&env, &server, "demo", extra);
        out.assert_no_panic();
        assert_eq!(out.code, Some(2), "{what}: {}", out.context());
        assert!(out.has_diag(code), "{what}: {}", out.context());
        assert_untouched(&env, what);
    }
    // A server whose CA is not given is refused.
    server.route("/server.bin", Response::ok(bytes));
    let mut args = os(&["add", "demo"]);
    args.push(server.url("/server.bin").into());
    args.extend(os(&["--signature", "server.bin.minisig"]));
    let out = env.run(args);
    out.code(2).diag("fetch-failed");
    assert_untouched(&env, "unknown CA");
    // Plain http is refused before anything is fetched.
    let mut args = os(&["add", "demo"]);
    args.push(http_url.into());
    env.run(args).code(2).diag("source-invalid");
    assert!(
        server.requests().iter().all(|r| r.path() == "/server.bin"),
        "only the https route was asked for"
    );
}

/// Serves sigstore 2.3.1 as an npm registry does: the version document
/// (tarball URL pointed at this server), the tarball and the attestations.
pub(super) fn npm_registry(server: &TlsServer, tarball: Vec<u8>) {
    let doc = fs::read_to_string(fixture("sources/npm/sigstore-2.3.1.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    v["dist"]["tarball"] = server.url("/sigstore/-/sigstore-2.3.1.tgz").into();
    if v["dist"].get("attestations").is_some() {
        v["dist"]["attestations"]["url"] =
            server.url("/-/npm/v1/attestations/sigstore@2.3.1").into();
    }
    server.route(
        "/sigstore/2.3.1",
        Response::ok(serde_json::to_vec(&v).unwrap()),
    );
    server.route("/sigstore/-/sigstore-2.3.1.tgz", Response::ok(tarball));
    server.route(
        "/-/npm/v1/attestations/sigstore@2.3.1",
        Response::ok(fs::read(fixture("sources/npm/sigstore-2.3.1.attestations.json")).unwrap()),
    );
}

/// A body of `len` bytes dripped one byte per `every`: never idle long
/// enough for a read timeout, and far too slow to finish.
fn drip(len: usize, every: std::time::Duration) -> Response {
    Response::trickle(noise(len, 9), len, every)
}

#[test]
fn timeout_bounds_the_whole_download_of_a_dripping_server() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    signed_artifact(&env, &server);
    server.route(
        "/server.bin",
        drip(100_000, std::time::Duration::from_millis(500)),
    );
    let t = std::time::Instant::now();
    let out = add_https(&env, &server, "demo", &["--timeout", "3"]);
    let took = t.elapsed();
    out.code(2).diag("fetch-failed").stderr_has(&format!(
        "fetching {} took longer than the deadline of 3 s",
        server.url("/server.bin")
    ));
    out.stderr_has("hint: raise --timeout SECS");
    // The deadline is checked as each byte arrives: about 3 s, well under
    // the 50,000 s the body would take (wide margin for a loaded machine).
    assert!(
        took >= std::time::Duration::from_millis(2900) && took < std::time::Duration::from_secs(10),
        "took {took:?}: {}",
        out.context()
    );
    assert_untouched(&env, "dripping server");
}

#[test]
fn a_download_below_the_minimum_rate_is_stopped_after_one_window() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    signed_artifact(&env, &server);
    // About 20 bytes/s, moving all the time, under a deadline it would
    // take long to reach.
    server.route(
        "/server.bin",
        drip(100_000, std::time::Duration::from_millis(50)),
    );
    let t = std::time::Instant::now();
    let out = add_https(
        &env,
        &server,
        "demo",
        &["--min-rate", "500", "--min-rate-window", "2"],
    );
    let took = t.elapsed();
    out.code(2)
        .diag("fetch-failed")
        .stderr_has(&format!("{} came in at ", server.url("/server.bin")));
    out.stderr_has(" bytes/s over the last 2 s, below the minimum of 500 bytes/s")
        .stderr_has("hint: the server or the network is too slow");
    // One window of grace, then the first window's average stops it.
    assert!(
        took >= std::time::Duration::from_millis(1900) && took < std::time::Duration::from_secs(10),
        "took {took:?}: {}",
        out.context()
    );
    assert_untouched(&env, "slow server");
    // --min-rate 0 turns the check off: the same drip then runs into the
    // deadline instead.
    let out = add_https(
        &env,
        &server,
        "demo",
        &[
            "--min-rate",
            "0",
            "--min-rate-window",
            "1",
            "--timeout",
            "3",
        ],
    );
    out.code(2)
        .stderr_has("took longer than the deadline of 3 s");
    assert_untouched(&env, "slow server, no minimum rate");
}

fn add_npm(env: &TestEnv, server: &TlsServer, name: &str) -> Output {
    // sigstore's own dependencies are not served here.
    let mut args = os(&[
        "add",
        name,
        "npm:sigstore@2.3.1",
        "--no-dependencies",
        "--registry",
    ]);
    args.push(server.base_url().into());
    args.push("--ca-file".into());
    args.push(server.ca_file().into());
    trust_sigstore_js(env);
    env.run(args)
}

/// Trusts sigstore-js's release workflow for every server: `add` keeps
/// no identity flags, so the signer must be in the trust store. Once per
/// environment (a second time is refused as a duplicate, and ignored).
pub(super) fn trust_sigstore_js(env: &TestEnv) {
    let _ = env.run([
        "trust",
        "add-identity",
        "--name",
        "sigstore-js",
        "--issuer",
        GHA,
        "--identity",
        SIGSTORE_JS,
        "--scope",
        "*",
    ]);
}

#[test]
fn an_npm_package_is_checked_by_integrity_and_attestation_then_unpacked() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let tgz = fs::read(fixture("slsa/npm/gha/provenance-npm-test-cli-v1-prega.tgz")).unwrap();
    npm_registry(&server, tgz.clone());
    add_npm(&env, &server, "sigstore").code(0);
    let lock = lock_text(&env);
    assert!(lock.contains("version = \"2.3.1\""), "{lock}");
    assert!(lock.contains("kind = \"npm-tarball\""), "{lock}");
    assert!(lock.contains(&sha256_hex(&tgz)), "{lock}");
    assert!(lock.contains("signature: sigstore by"), "{lock}");
    let tree = files(&cache_dir(&env, "trees"));
    assert!(
        tree.iter().any(|p| p.ends_with("package/package.json")),
        "{tree:?}"
    );
    let asked: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert!(
        asked
            .iter()
            .any(|p| p.starts_with("/-/npm/v1/attestations/")),
        "{asked:?}"
    );

    // Another tarball under the same name fails the registry's integrity.
    let env = TestEnv::new();
    npm_registry(&server, noise(4096, 9));
    add_npm(&env, &server, "sigstore")
        .code(2)
        .diag("integrity-mismatch");
    assert_untouched(&env, "integrity mismatch");
}

/// An npm tarball built here: `package/package.json`, plus `extra`.
pub(super) fn tarball(version: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let pkg = format!(r#"{{"name":"demo-server","version":"{version}","bin":"index.js"}}"#);
    let mut entries: Vec<(&str, &[u8])> = vec![("package/package.json", pkg.as_bytes())];
    entries.extend_from_slice(extra);
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        // Written raw so that `../` names go in as an attacker writes them.
        let name = path.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// Serves `demo-server@version` with its integrity, signs the tarball with
/// `key`, and returns the signature's path.
pub(super) fn publish(
    env: &TestEnv,
    server: &TlsServer,
    key: &Minisign,
    version: &str,
    tgz: Vec<u8>,
) -> PathBuf {
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tgz))
    );
    let url = server.url(&format!("/demo-server/-/demo-server-{version}.tgz"));
    let doc = serde_json::json!({"name": "demo-server", "version": version,
        "dist": {"tarball": url, "integrity": integrity}});
    server.route(
        &format!("/demo-server/{version}"),
        Response::ok(serde_json::to_vec(&doc).unwrap()),
    );
    server.route(
        &format!("/demo-server/-/demo-server-{version}.tgz"),
        Response::ok(tgz.clone()),
    );
    let file = env.write(&format!("demo-server-{version}.tgz"), &tgz);
    key.sign(&file, None)
}

fn add_demo(
    env: &TestEnv,
    server: &TlsServer,
    version: &str,
    sig: &Path,
    extra: &[&str],
) -> Output {
    let mut args = os(&["add", "demo"]);
    args.push(format!("npm:demo-server@{version}").into());
    args.extend(os(&["--registry"]));
    args.push(server.base_url().into());
    args.push("--ca-file".into());
    args.push(server.ca_file().into());
    args.push("--signature".into());
    args.push(sig.into());
    args.extend(os(extra));
    env.run(args)
}

#[test]
fn rollback_is_refused_unless_allowed() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let new = publish(&env, &server, &key, "1.1.0", tarball("1.1.0", &[]));
    let old = publish(&env, &server, &key, "1.0.0", tarball("1.0.0", &[]));
    add_demo(&env, &server, "1.1.0", &new, &[]).code(0);
    let before = lock_text(&env);
    add_demo(&env, &server, "1.0.0", &old, &[])
        .code(2)
        .diag("downgrade");
    assert_eq!(
        lock_text(&env),
        before,
        "a refused downgrade changes nothing"
    );
    let asked = |v: &str| {
        server
            .requests()
            .iter()
            .any(|r| r.path() == format!("/demo-server/-/demo-server-{v}.tgz"))
    };
    assert!(!asked("1.0.0"), "refused before the download");
    add_demo(&env, &server, "1.0.0", &old, &["--allow-downgrade"]).code(0);
    assert!(lock_text(&env).contains("version = \"1.0.0\""));
}

#[test]
fn an_archive_that_escapes_its_root_is_refused_after_verification() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let evil = tarball("1.0.0", &[("../../escaped.txt", b"pwned")]);
    let sig = publish(&env, &server, &key, "1.0.0", evil);
    add_demo(&env, &server, "1.0.0", &sig, &[])
        .code(2)
        .diag("archive-unsafe");
    assert_untouched(&env, "archive escape");
    assert!(!env.root.join("home/escaped.txt").exists());
    assert!(!env.root.join("home/cache/escaped.txt").exists());
}

#[test]
fn two_concurrent_adds_of_the_same_server_both_succeed_once() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let bytes = signed_artifact(&env, &server);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| add_https(&env, &server, "demo", &[]));
        let b = s.spawn(|| add_https(&env, &server, "demo", &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    a.code(0);
    b.code(0);
    let lock = lock_text(&env);
    assert_eq!(lock.matches("[servers.demo]").count(), 1, "{lock}");
    assert!(lock.contains(&sha256_hex(&bytes)));
    assert_eq!(files(&cache_dir(&env, "blobs")).len(), 2);
    assert!(files(&cache_dir(&env, "tmp")).is_empty());
}

#[test]
fn local_files_and_directories_are_pinned() {
    let env = TestEnv::new();
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    env.write("local.bin", noise(3000, 1));
    key.sign(&env.path("local.bin"), None);
    env.run([
        "add",
        "local",
        "./local.bin",
        "--signature",
        "local.bin.minisig",
    ])
    .code(0);
    // Pinned by absolute path: `update` may run from anywhere.
    let lock = lock_text(&env);
    let abs = env.path("local.bin");
    assert!(lock.contains(&*abs.to_string_lossy()), "{lock}");
    env.run(["add", "nothing", "./missing.bin"])
        .code(2)
        .diag("artifact-unreadable");
    env.run(["add", "bad name", "./local.bin"])
        .code(2)
        .diag("usage");
    env.run(["add", "x", "oci:ghcr.io/acme/server:1"])
        .code(2)
        .diag("source-invalid")
        .stdout_lacks("panicked");
}

#[test]
fn offline_uses_only_the_cache() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let bytes = signed_artifact(&env, &server);
    // Nothing pinned yet: offline cannot fetch.
    add_https(&env, &server, "demo", &["--offline"])
        .code(2)
        .diag("fetch-failed");
    assert_untouched(&env, "offline, not pinned");
    assert!(server.requests().is_empty());
    add_https(&env, &server, "demo", &[]).code(0);
    let asked = server.requests().len();
    // The trust store changes, so the receipt no longer answers: offline,
    // the pinned copy and its kept signature are judged again.
    let other = Minisign::generate(&env, "other");
    env.trust_key(&other.public, "other", &["*"]).code(0);
    server.route("/server.bin", Response::status(500));
    add_https(&env, &server, "demo", &["--offline"])
        .code(0)
        .stdout_has("pinned demo");
    assert_eq!(server.requests().len(), asked, "offline fetched nothing");
    let lock = lock_text(&env);
    assert!(lock.contains(&sha256_hex(&bytes)), "{lock}");
    assert!(lock.contains(&server.url("/server.bin")), "{lock}");
    // A trust change that removes the signer denies, offline too.
    env.run(["trust", "remove", "publisher"]).code(0);
    add_https(&env, &server, "demo", &["--offline"]).code(1);
}

#[test]
fn update_shows_the_change_before_making_it() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let old = publish(&env, &server, &key, "1.0.0", tarball("1.0.0", &[]));
    let new = publish(&env, &server, &key, "1.1.0", tarball("1.1.0", &[]));
    // The packument `update` reads for the newest version.
    let doc = |v: &str| -> serde_json::Value {
        let tgz = fs::read(env.path(&format!("demo-server-{v}.tgz"))).unwrap();
        let integrity = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tgz))
        );
        serde_json::json!({"name": "demo-server", "version": v, "dist": {
            "tarball": server.url(&format!("/demo-server/-/demo-server-{v}.tgz")),
            "integrity": integrity}})
    };
    let packument = serde_json::json!({"name": "demo-server",
        "dist-tags": {"latest": "1.1.0"},
        "versions": {"1.0.0": doc("1.0.0"), "1.1.0": doc("1.1.0")}});
    server.route(
        "/demo-server",
        Response::ok(serde_json::to_vec(&packument).unwrap()),
    );
    add_demo(&env, &server, "1.0.0", &old, &[]).code(0);
    let pinned = lock_text(&env);

    let update = |extra: &[&str]| {
        let mut args = os(&["update", "demo", "--registry"]);
        args.push(server.base_url().into());
        args.push("--ca-file".into());
        args.push(server.ca_file().into());
        args.push("--signature".into());
        args.push(new.clone().into());
        args.extend(os(extra));
        env.run(args)
    };
    let dry = update(&["--dry-run"]);
    dry.code(0);
    assert!(
        dry.stderr.contains("version: 1.0.0 -> 1.1.0"),
        "{}",
        dry.context()
    );
    assert!(dry.stderr.contains("--dry-run: nothing changed"));
    assert_eq!(lock_text(&env), pinned, "--dry-run changed the lock");
    update(&[]).code(0);
    let lock = lock_text(&env);
    assert!(lock.contains("version = \"1.1.0\""), "{lock}");
    // The newest is pinned: nothing more to do.
    update(&[]).code(0).stderr_has("up to date");
    env.run(["update", "nobody"]).code(2).diag("server-unknown");
}

#[test]
fn ca_files_come_from_the_flag_or_the_environment() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    signed_artifact(&env, &server);
    // Another CA first, then the server's: MCP_WARDEN_CA_FILE is a list.
    let other = TlsServer::start();
    let list = std::env::join_paths([other.ca_file(), server.ca_file()]).unwrap();
    let mut args = os(&["add", "demo"]);
    args.push(server.url("/server.bin").into());
    args.extend(os(&["--signature", "server.bin.minisig"]));
    env.cmd()
        .args(&args)
        .var("MCP_WARDEN_CA_FILE", &list)
        .run()
        .code(0);
    // Without it the server's certificate is unknown; the flag repeats.
    let mut again = os(&["add", "demo2"]);
    again.push(server.url("/server.bin").into());
    again.extend(os(&["--signature", "server.bin.minisig"]));
    env.run(&again).code(2).diag("fetch-failed");
    again.push("--ca-file".into());
    again.push(other.ca_file().into());
    again.push("--ca-file".into());
    again.push(server.ca_file().into());
    env.run(&again).code(0);
    // A CA file that is not one is an input error, named.
    env.write("bad.pem", "not a certificate");
    let mut bad = os(&["add", "demo3"]);
    bad.push(server.url("/server.bin").into());
    bad.extend(os(&[
        "--signature",
        "server.bin.minisig",
        "--ca-file",
        "bad.pem",
    ]));
    env.run(&bad)
        .code(2)
        .diag("input-invalid")
        .stdout_lacks("panicked");
}
