//! `add` from PyPI, the MCP registry and `.mcpb` bundles, through the real
//! binary against a real HTTPS server (tests/it/support/tls_server.rs)
//! serving the registries' layouts with real metadata, artifacts and
//! signatures: a real wheel from a devpi-style page of relative links and
//! from PEP 691 JSON, sigstore@2.3.1's npm attestations, and a bundle signed by the real `mcpb` CLI. Every
//! refusal leaves the lock as it was and nothing unpacked or half-written.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use super::add::{assert_untouched, cache_dir, files, lock_text, npm_registry, os};
use super::support::tls_server::{Response, TlsServer};
use super::support::util::*;

const GCB_FILE: &str = "gcb_attestation_test-0.0.0.tar.gz";
const WHEEL_FILE: &str = "sampleproject-4.0.0-py3-none-any.whl";
const WHEEL_SHA256: &str = "c23e447ea90d796d1e645c35c4b2de125040add12a845825546f91c93f391b6b";
const SIGSTORE_TGZ: &str = "slsa/npm/gha/provenance-npm-test-cli-v1-prega.tgz";

/// A refusal after verification: the lock unchanged, nothing unpacked,
/// nothing half-written. (The fetched file may stay in blobs/, unused,
/// for `cache gc`.)
fn assert_not_pinned(env: &TestEnv, what: &str) {
    assert!(
        !lock_text(env).contains("[servers."),
        "{what}: the lock changed:\n{}",
        lock_text(env)
    );
    for sub in ["trees", "tmp"] {
        let left = files(&cache_dir(env, sub));
        assert!(left.is_empty(), "{what}: cache/{sub} holds {left:?}");
    }
}

/// The lock's entry for `name`, parsed.
fn entry(env: &TestEnv, name: &str) -> toml::Value {
    let text = lock_text(env);
    let lock: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    lock["servers"]
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no [servers.{name}] in\n{text}"))
}

fn tree_files(env: &TestEnv) -> Vec<PathBuf> {
    files(&cache_dir(env, "trees"))
}

fn assert_unpacked(env: &TestEnv, suffix: &str) {
    let tree = tree_files(env);
    assert!(
        tree.iter().any(|p| p.ends_with(suffix)),
        "{suffix}: {tree:?}"
    );
}

fn paths_asked(server: &TlsServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect()
}

pub(super) fn tls_args(server: &TlsServer) -> Vec<OsString> {
    vec!["--ca-file".into(), server.ca_file().into()]
}

// ------------------------------------------------------------------ PyPI

/// mcp-server-time 0.5.1's wheel as pypi.org serves it (MIT).
pub(super) const MST_WHEEL: &str = "mcp_server_time-0.5.1-py3-none-any.whl";
pub(super) const MST_SHA256: &str =
    "2c6a25e3877b13a135efe0546989722b37469b1287e8310c27709048d3e79722";
/// Where a devpi-style index keeps the wheel (relative to its page).
const DEVPI_FILE: &str = "/root/pypi/+f/2c6/a25e3877b13a1/mcp_server_time-0.5.1-py3-none-any.whl";
pub(super) const DEVPI_PAGE: &str = "/root/pypi/+simple/mcp-server-time/";
const PEP691: &str = "application/vnd.pypi.simple.v1+json";

pub(super) fn mst_wheel() -> Vec<u8> {
    fs::read(fixture(&format!("pypi/{MST_WHEEL}"))).unwrap()
}

/// A devpi-style project page: relative links, HTML only (no JSON API,
/// no integrity API), `attrs` added to the wheel's anchor.
pub(super) fn devpi_page(sha256: &str, attrs: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html>\n<head><title>mcp-server-time</title></head>\n<body>\n\
         <h1>root/pypi: links for mcp-server-time</h1>\n\
         <a href=\"../../+f/2c6/a25e3877b13a1/{MST_WHEEL}#sha256={sha256}\" data-requires-python=\"&gt;=3.10\"{attrs}>{MST_WHEEL}</a><br/>\n\
         <a href=\"../../+f/cb1/c76c2b2fadcb7/mcp_server_time-0.5.1.tar.gz#sha256=cb1c76c2b2fadcb78c987b8e305148bbd43f590c55566d2d8d24039416eeceb1\" data-requires-python=\"&gt;=3.10\">mcp_server_time-0.5.1.tar.gz</a><br/>\n\
         </body>\n</html>\n"
    )
    .into_bytes()
}

pub(super) fn serve_devpi(server: &TlsServer, page: Vec<u8>, wheel: Vec<u8>) {
    server.route(
        DEVPI_PAGE,
        Response::ok(page).header("Content-Type", "text/html; charset=utf-8"),
    );
    server.route(DEVPI_FILE, Response::ok(wheel));
}

/// A trusted minisign key and its signature of the real wheel (the index
/// publishes no provenance for it).
fn signed_wheel(env: &TestEnv) -> PathBuf {
    let wheel = env.copy_fixture(&format!("pypi/{MST_WHEEL}"), MST_WHEEL);
    let key = Minisign::generate(env, "publisher");
    let sig = key.sign(&wheel, None);
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    sig
}

fn add_mst(
    env: &TestEnv,
    server: &TlsServer,
    spec: &str,
    index: &str,
    extra: &[OsString],
) -> Output {
    // The wheel alone: its tree is pypi_tree.rs's.
    let mut args = os(&["add", "time", spec, "--no-dependencies", "--pypi-url"]);
    args.push(server.url(index).into());
    args.extend(tls_args(server));
    args.extend(extra.iter().cloned());
    env.run(args)
}

fn sig_args(sig: &std::path::Path) -> Vec<OsString> {
    vec!["--signature".into(), sig.into()]
}

#[test]
fn a_pypi_wheel_from_a_devpi_page_of_relative_links_is_pinned() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    serve_devpi(&server, devpi_page(MST_SHA256, ""), mst_wheel());
    let sig = signed_wheel(&env);
    let out = add_mst(
        &env,
        &server,
        "pypi:mcp-server-time",
        "/root/pypi/+simple",
        &sig_args(&sig),
    );
    out.code(0).stdout_has("pinned time");
    out.check(
        out.stdout.contains("no PEP 740 provenance")
            || out.stderr.contains("no PEP 740 provenance"),
        "the report says the index publishes no provenance",
    );
    let e = entry(&env, "time");
    assert_eq!(e["kind"].as_str(), Some("wheel"), "{e}");
    assert_eq!(e["version"].as_str(), Some("0.5.1"), "{e}");
    assert_eq!(e["sha256"].as_str(), Some(MST_SHA256), "{e}");
    assert_unpacked(&env, "mcp_server_time/server.py");
    // The page and the wheel only: no JSON API, no guessed integrity URL,
    // never the sdist.
    assert_eq!(
        paths_asked(&server),
        vec![DEVPI_PAGE.to_string(), DEVPI_FILE.to_string()]
    );
    let page_req = &server.requests()[0];
    assert!(
        page_req
            .header("accept")
            .is_some_and(|a| a.starts_with(PEP691)),
        "{:?}",
        page_req.headers
    );
}

#[test]
fn a_pypi_wheel_from_a_pep691_json_page_is_pinned() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    // The real pypi.org page, its file URLs pointed at this server by
    // relative links.
    let mut page: Value =
        serde_json::from_slice(&fs::read(fixture("pypi/mcp-server-time.simple.json")).unwrap())
            .unwrap();
    for f in page["files"].as_array_mut().unwrap() {
        let name = f["filename"].as_str().unwrap().to_string();
        f["url"] = format!("../../files/{name}").into();
    }
    server.route(
        "/simple/mcp-server-time/",
        Response::ok(serde_json::to_vec(&page).unwrap()).header("Content-Type", PEP691),
    );
    server.route(&format!("/files/{MST_WHEEL}"), Response::ok(mst_wheel()));
    let sig = signed_wheel(&env);
    add_mst(
        &env,
        &server,
        "pypi:mcp-server-time==0.5.1",
        "/",
        &sig_args(&sig),
    )
    .code(0)
    .stdout_has("pinned time");
    let e = entry(&env, "time");
    assert_eq!(e["sha256"].as_str(), Some(MST_SHA256), "{e}");
    assert_eq!(
        e["source"].as_str(),
        Some("pypi:mcp-server-time==0.5.1"),
        "{e}"
    );
    let asked = paths_asked(&server);
    assert!(!asked.iter().any(|p| p.starts_with("/pypi/")), "{asked:?}");
    // pypi.org's layout: its integrity API is asked (404 here: none).
    assert!(
        asked
            .iter()
            .any(|p| p.starts_with("/integrity/mcp-server-time/0.5.1/")),
        "{asked:?}"
    );

    // Served as something else than JSON or HTML: refused.
    let env = TestEnv::new();
    server.route(
        "/simple/mcp-server-time/",
        Response::ok(serde_json::to_vec(&page).unwrap())
            .header("Content-Type", "application/octet-stream"),
    );
    add_mst(&env, &server, "pypi:mcp-server-time==0.5.1", "/", &[])
        .code(2)
        .diag("source-invalid")
        .stderr_has("Content-Type");
    assert_untouched(&env, "unknown content type");
}

#[test]
fn a_tampered_or_misdescribed_pypi_wheel_is_not_pinned() {
    let server = TlsServer::start();

    // The wheel served differs from the digest on the page.
    let env = TestEnv::new();
    let sig = signed_wheel(&env);
    let mut tampered = mst_wheel();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 1;
    serve_devpi(&server, devpi_page(MST_SHA256, ""), tampered);
    add_mst(
        &env,
        &server,
        "pypi:mcp-server-time==0.5.1",
        "/root/pypi/+simple",
        &sig_args(&sig),
    )
    .code(2)
    .diag("integrity-mismatch");
    assert_untouched(&env, "tampered wheel");

    // A truncated page.
    let env = TestEnv::new();
    let page = devpi_page(MST_SHA256, "");
    serve_devpi(&server, page[..page.len() / 3].to_vec(), mst_wheel());
    add_mst(
        &env,
        &server,
        "pypi:mcp-server-time",
        "/root/pypi/+simple",
        &[],
    )
    .code(2)
    .diag("source-invalid");
    assert_untouched(&env, "truncated page");

    // No sha256 for the wheel.
    let env = TestEnv::new();
    let page = String::from_utf8(devpi_page(MST_SHA256, ""))
        .unwrap()
        .replace(&format!("#sha256={MST_SHA256}"), "");
    serve_devpi(&server, page.into_bytes(), mst_wheel());
    add_mst(
        &env,
        &server,
        "pypi:mcp-server-time",
        "/root/pypi/+simple",
        &[],
    )
    .code(2)
    .diag("source-invalid")
    .stderr_has(&format!("no sha256 for {MST_WHEEL}"));
    assert_untouched(&env, "no sha256");

    // A link that resolves to http.
    let env = TestEnv::new();
    let port = server.port();
    let page = String::from_utf8(devpi_page(MST_SHA256, ""))
        .unwrap()
        .replace(
            "../../+f/2c6",
            &format!("http://127.0.0.1:{port}/root/pypi/+f/2c6"),
        );
    serve_devpi(&server, page.into_bytes(), mst_wheel());
    add_mst(
        &env,
        &server,
        "pypi:mcp-server-time",
        "/root/pypi/+simple",
        &[],
    )
    .code(2)
    .diag("source-invalid")
    .stderr_has("not an https URL");
    assert_untouched(&env, "http link");

    // Provenance the index names: another file's (gcb-attestation-test's
    // real PEP 740 provenance) is denied.
    let env = TestEnv::new();
    serve_devpi(
        &server,
        devpi_page(MST_SHA256, " data-provenance=\"../../+p/prov\""),
        mst_wheel(),
    );
    server.route("/root/pypi/+p/prov", Response::ok(gcb_provenance()));
    let out = add_mst(
        &env,
        &server,
        "pypi:mcp-server-time",
        "/root/pypi/+simple",
        &[],
    );
    out.code(1);
    assert_not_pinned(&env, "another file's provenance");

    // Named but failing, or not JSON: refused, not taken as "none".
    let env = TestEnv::new();
    server.route("/root/pypi/+p/prov", Response::status(500));
    add_mst(
        &env,
        &server,
        "pypi:mcp-server-time",
        "/root/pypi/+simple",
        &[],
    )
    .code(2)
    .diag("fetch-failed");
    assert_untouched(&env, "provenance 500");
    let env = TestEnv::new();
    server.route("/root/pypi/+p/prov", Response::ok(b"{\"attest".to_vec()));
    add_mst(
        &env,
        &server,
        "pypi:mcp-server-time",
        "/root/pypi/+simple",
        &[],
    )
    .code(2)
    .diag("source-invalid");
    assert_untouched(&env, "truncated provenance");
}

#[test]
fn a_pypi_sdist_is_not_built_or_pinned() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let mut page: Value = serde_json::from_slice(
        &fs::read(fixture("pypi/gcb-attestation-test.simple.json")).unwrap(),
    )
    .unwrap();
    page["files"][0]["url"] = server.url(&format!("/files/{GCB_FILE}")).into();
    server.route(
        "/simple/gcb-attestation-test/",
        Response::ok(serde_json::to_vec(&page).unwrap()).header("Content-Type", PEP691),
    );
    server.route(
        &format!("/files/{GCB_FILE}"),
        Response::ok(fs::read(fixture(&format!("sources/pypi/{GCB_FILE}"))).unwrap()),
    );
    let mut args = os(&[
        "add",
        "gcb",
        "pypi:gcb-attestation-test==0.0.0",
        "--pypi-url",
    ]);
    args.push(server.base_url().into());
    args.extend(tls_args(&server));
    env.run(args)
        .code(2)
        .diag("source-not-found")
        .stderr_has("gcb-attestation-test 0.0.0 has no file to install")
        .stderr_has("no wheel for this platform")
        .stderr_has(&format!("{GCB_FILE} is not used"));
    assert_untouched(&env, "sdist");
    assert!(
        !paths_asked(&server)
            .iter()
            .any(|p| p.starts_with("/files/")),
        "the sdist was fetched"
    );
}

fn gcb_provenance() -> Vec<u8> {
    fs::read(fixture(&format!("sources/pypi/{GCB_FILE}.provenance"))).unwrap()
}

#[test]
fn a_pypi_wheel_is_pinned_on_a_minisign_signature_and_unpacked() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    // The real pypi.org page (HTML), file URLs pointed at this server.
    let real = fs::read_to_string(fixture("pypi/sampleproject.simple.html")).unwrap();
    let page = real.replace(
        "https://files.pythonhosted.org/packages/",
        &server.url("/packages/"),
    );
    server.route("/simple/sampleproject/", Response::ok(page.clone()));
    let wheel_path = "/packages/d7/73/c16e5f3f0d37c60947e70865c255a58dc408780a6474de0523afd0ec553a/sampleproject-4.0.0-py3-none-any.whl";
    server.route(
        wheel_path,
        Response::ok(fs::read(fixture(&format!("sources/pypi/{WHEEL_FILE}"))).unwrap()),
    );
    let wheel = env.copy_fixture(&format!("sources/pypi/{WHEEL_FILE}"), WHEEL_FILE);
    let key = Minisign::generate(&env, "publisher");
    let sig = key.sign(&wheel, None);
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let add = |env: &TestEnv, name: &str| {
        let mut args = os(&[
            "add",
            name,
            "pypi:sampleproject==4.0.0",
            "--no-dependencies",
            "--pypi-url",
        ]);
        args.push(server.base_url().into());
        args.extend(tls_args(&server));
        args.push("--signature".into());
        args.push(sig.clone().into());
        env.run(args)
    };
    add(&env, "sample").code(0).stdout_has("pinned sample");
    let e = entry(&env, "sample");
    assert_eq!(e["kind"].as_str(), Some("wheel"), "{e}");
    assert_eq!(e["sha256"].as_str(), Some(WHEEL_SHA256), "{e}");
    assert_eq!(e["signers"].as_array().map(|a| a.len()), Some(1), "{e}");
    assert_eq!(e["signers"][0].as_str(), Some("publisher"), "{e}");
    assert_unpacked(&env, "sample/simple.py");
    assert_unpacked(&env, "sampleproject-4.0.0.dist-info/RECORD");
    assert!(
        paths_asked(&server).iter().any(|p| p == wheel_path),
        "the wheel was fetched, not the sdist"
    );

    // The signature does not cover another wheel under the same name.
    let env2 = TestEnv::new();
    env2.trust_key(&key.public, "publisher", &["*"]).code(0);
    let mut other = fs::read(fixture(&format!("sources/pypi/{WHEEL_FILE}"))).unwrap();
    other.extend_from_slice(b"\0");
    let other_sha = sha256_hex(&other);
    server.route(wheel_path, Response::ok(other));
    server.route(
        "/simple/sampleproject/",
        Response::ok(page.replace(WHEEL_SHA256, &other_sha)),
    );
    add(&env2, "sample").code(1).diag("signature-invalid");
    assert_not_pinned(&env2, "re-signed wheel");
}

// ----------------------------------------------------------- MCP registry

const BRAVE: &str = "io.modelcontextprotocol.anonymous/brave-search";

/// brave-search's server.json (a real example) with its npm package
/// pointed at sigstore@2.3.1 on this server, plus a secret with a default,
/// a plain variable with a default, and fixed package arguments.
pub(super) fn brave_server_json(server: &TlsServer) -> Value {
    let mut s: Value = serde_json::from_slice(
        &fs::read(fixture("sources/registry/brave-search.server.json")).unwrap(),
    )
    .unwrap();
    let p = &mut s["packages"][0];
    p["identifier"] = "sigstore".into();
    p["version"] = "2.3.1".into();
    p["registryBaseUrl"] = server.base_url().into();
    let env = p["environmentVariables"].as_array_mut().unwrap();
    env.push(
        serde_json::json!({"name": "SESSION_TOKEN", "isSecret": true,
        "default": "hunter2-default", "description": "session token"}),
    );
    env.push(serde_json::json!({"name": "LOG_LEVEL", "default": "info"}));
    p["packageArguments"] = serde_json::json!([
        {"type": "positional", "value": "mcp"},
        {"type": "named", "name": "-t", "default": "stdio"},
        {"type": "named", "name": "--port", "valueHint": "port"}
    ]);
    s
}

pub(super) fn npm_tarball() -> Vec<u8> {
    fs::read(fixture(SIGSTORE_TGZ)).unwrap()
}

/// `add` keeps no identity flags: sigstore-js is trusted first.
trait TrustingSigstoreJs {
    fn trusting_sigstore_js(&self) -> &Self;
}

impl TrustingSigstoreJs for TestEnv {
    fn trusting_sigstore_js(&self) -> &Self {
        super::add::trust_sigstore_js(self);
        self
    }
}

pub(super) fn registry_args(server: &TlsServer, name: &str, source: &str) -> Vec<OsString> {
    // sigstore's own dependencies are not served here.
    let mut args = os(&["add", name, source, "--no-dependencies", "--registry"]);
    args.push(server.base_url().into());
    args.push("--registry-url".into());
    args.push(server.base_url().into());
    args.extend(tls_args(server));
    args
}

/// The run settings server.json gave: arguments and variables, a secret's
/// default dropped.
fn assert_run_settings(env: &TestEnv, name: &str) {
    let e = entry(env, name);
    let run = &e["run"];
    let args: Vec<&str> = run["args"]
        .as_array()
        .unwrap_or_else(|| panic!("no run.args: {e}"))
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(args, ["mcp", "-t", "stdio"], "{e}");
    let vars = run["env"].as_array().unwrap_or_else(|| panic!("{e}"));
    let var = |n: &str| {
        vars.iter()
            .find(|v| v["name"].as_str() == Some(n))
            .unwrap_or_else(|| panic!("no {n}: {e}"))
            .clone()
    };
    let key = var("BRAVE_API_KEY");
    assert_eq!(key["secret"].as_bool(), Some(true), "{e}");
    assert_eq!(key["required"].as_bool(), Some(true), "{e}");
    let token = var("SESSION_TOKEN");
    assert_eq!(token["secret"].as_bool(), Some(true), "{e}");
    assert!(token.get("default").is_none(), "a secret's default: {e}");
    assert!(!lock_text(env).contains("hunter2"), "{}", lock_text(env));
    let level = var("LOG_LEVEL");
    assert_eq!(level["default"].as_str(), Some("info"), "{e}");
    assert_eq!(level["secret"].as_bool(), Some(false), "{e}");
}

#[test]
fn a_local_server_json_pins_its_npm_package_with_its_run_settings() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let tgz = npm_tarball();
    npm_registry(&server, tgz.clone());
    env.write(
        "server.json",
        serde_json::to_vec_pretty(&brave_server_json(&server)).unwrap(),
    );
    let out =
        env.trusting_sigstore_js()
            .run(registry_args(&server, "brave", "registry:./server.json"));
    out.code(0).stdout_has("pinned brave");
    // What the unsigned server.json adds to the verified package is shown.
    out.stderr_has("from the source's metadata, which no signature covers:")
        .stderr_has("env BRAVE_API_KEY (secret, from the keychain)")
        .stderr_has("env LOG_LEVEL (default \"info\")")
        .stderr_has("server argument \"mcp\" (after the entry point)");
    assert!(!out.stderr.contains("hunter2"), "{}", out.context());
    let e = entry(&env, "brave");
    assert_eq!(e["kind"].as_str(), Some("npm-tarball"), "{e}");
    assert_eq!(e["version"].as_str(), Some("2.3.1"), "{e}");
    assert_eq!(e["sha256"].as_str(), Some(sha256_hex(&tgz).as_str()), "{e}");
    assert!(e["evidence"].to_string().contains("sigstore by"), "{e}");
    assert_run_settings(&env, "brave");
    assert_unpacked(&env, "package/package.json");

    // A package that names a registry the user did not choose.
    let env = TestEnv::new();
    let mut s = brave_server_json(&server);
    s["packages"][0]["registryBaseUrl"] = "https://registry.evil.example".into();
    env.write("server.json", serde_json::to_vec(&s).unwrap());
    env.trusting_sigstore_js()
        .run(registry_args(&server, "brave", "registry:./server.json"))
        .code(2)
        .diag("source-invalid")
        .stderr_has("registryBaseUrl");
    assert_untouched(&env, "foreign registryBaseUrl");

    // A value written for a shell is refused, not passed on.
    let env = TestEnv::new();
    let mut s = brave_server_json(&server);
    s["packages"][0]["packageArguments"][0]["value"] = "$(curl evil)".into();
    env.write("server.json", serde_json::to_vec(&s).unwrap());
    env.trusting_sigstore_js()
        .run(registry_args(&server, "brave", "registry:./server.json"))
        .code(2)
        .diag("source-invalid");
    assert_untouched(&env, "shell argument");
}

#[test]
fn registry_metadata_may_not_make_the_runtime_load_code() {
    let server = TlsServer::start();
    npm_registry(&server, npm_tarball());
    for (var, default) in [
        (
            "NODE_OPTIONS",
            Some("--import=data:text/javascript,console.log(1)"),
        ),
        ("LD_PRELOAD", Some("/tmp/x.so")),
        ("PYTHONPATH", None),
        ("node_path", None),
        ("BASH_ENV", Some("/tmp/rc")),
    ] {
        let env = TestEnv::new();
        let mut s = brave_server_json(&server);
        let mut v = serde_json::json!({"name": var, "description": "tuning"});
        if let Some(d) = default {
            v["default"] = d.into();
        }
        s["packages"][0]["environmentVariables"]
            .as_array_mut()
            .unwrap()
            .push(v);
        env.write("server.json", serde_json::to_vec(&s).unwrap());
        env.trusting_sigstore_js()
            .run(registry_args(&server, "brave", "registry:./server.json"))
            .code(2)
            .diag("source-invalid")
            .stderr_has(var)
            .stderr_has("would make the runtime load code");
        assert_not_pinned(&env, var);
    }
}

#[test]
fn a_registry_name_is_resolved_through_the_registry_api() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let tgz = npm_tarball();
    npm_registry(&server, tgz.clone());
    let wrapped = serde_json::json!({"server": brave_server_json(&server),
        "_meta": {"io.modelcontextprotocol.registry/official": {"status": "active"}}});
    let api = "/v0.1/servers/io.modelcontextprotocol.anonymous%2Fbrave-search/versions/latest";
    server.route(api, Response::ok(serde_json::to_vec(&wrapped).unwrap()));
    env.trusting_sigstore_js()
        .run(registry_args(
            &server,
            "brave",
            &format!("registry:{BRAVE}"),
        ))
        .code(0)
        .stdout_has("pinned brave");
    let e = entry(&env, "brave");
    assert_eq!(
        e["source"].as_str(),
        Some(&*format!("registry:{BRAVE}")),
        "{e}"
    );
    assert_eq!(e["sha256"].as_str(), Some(sha256_hex(&tgz).as_str()), "{e}");
    assert_run_settings(&env, "brave");
    assert!(
        server.requests().iter().any(|r| r.target == api),
        "{:?}",
        paths_asked(&server)
    );

    // A pinned version asks for that version; one the registry does not
    // know is not found.
    let env = TestEnv::new();
    env.trusting_sigstore_js()
        .run(registry_args(
            &server,
            "brave",
            &format!("registry:{BRAVE}@9.9.9"),
        ))
        .code(2)
        .diag("source-not-found");
    assert_untouched(&env, "unknown version");

    // The registry answering with another server's document is refused.
    let env = TestEnv::new();
    let mut other = wrapped.clone();
    other["server"]["name"] = "io.github.evil/brave-search".into();
    server.route(api, Response::ok(serde_json::to_vec(&other).unwrap()));
    env.trusting_sigstore_js()
        .run(registry_args(
            &server,
            "brave",
            &format!("registry:{BRAVE}"),
        ))
        .code(2)
        .diag("source-invalid");
    assert_untouched(&env, "other server's document");

    // A truncated answer.
    let env = TestEnv::new();
    let body = serde_json::to_vec(&wrapped).unwrap();
    server.route(api, Response::ok(body[..body.len() / 2].to_vec()));
    env.trusting_sigstore_js()
        .run(registry_args(
            &server,
            "brave",
            &format!("registry:{BRAVE}"),
        ))
        .code(2)
        .diag("source-invalid");
    assert_untouched(&env, "truncated server.json");
}

#[test]
fn a_server_json_with_only_an_oci_package_is_refused_clearly() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    env.copy_fixture(
        "sources/registry/database-manager.server.json",
        "server.json",
    );
    let out =
        env.trusting_sigstore_js()
            .run(registry_args(&server, "db", "registry:./server.json"));
    out.code(2)
        .diag("source-invalid")
        .stderr_has("oci")
        .stderr_has("no package that mcp-warden can fetch");
    assert_untouched(&env, "oci only");
    assert!(server.requests().is_empty(), "nothing was fetched");
    // A remote-only server.json says so.
    env.copy_fixture("sources/registry/remote.server.json", "remote.json");
    env.trusting_sigstore_js()
        .run(registry_args(&server, "remote", "registry:./remote.json"))
        .code(2)
        .diag("source-invalid")
        .stderr_has("remote");
    assert_untouched(&env, "remote only");
}

#[test]
fn a_server_json_mcpb_package_is_checked_by_its_file_sha256_and_signature() {
    let server = TlsServer::start();
    let bytes = signed_bundle();
    server.route("/dl/text-editor.mcpb", Response::ok(bytes.clone()));
    let server_json = |sha: &str| {
        let mut s: Value = serde_json::from_slice(
            &fs::read(fixture("sources/registry/text-editor.server.json")).unwrap(),
        )
        .unwrap();
        s["packages"][0]["identifier"] = server.url("/dl/text-editor.mcpb").into();
        s["packages"][0]["fileSha256"] = sha.into();
        serde_json::to_vec(&s).unwrap()
    };
    let add = |env: &TestEnv| {
        let mut args = os(&["add", "editor", "registry:./server.json"]);
        args.extend(tls_args(&server));
        env.run(args)
    };

    let env = TestEnv::new();
    add_ca(&env, "*");
    env.write("server.json", server_json(&sha256_hex(&bytes)));
    add(&env).code(0).stdout_has("pinned editor");
    let e = entry(&env, "editor");
    assert_eq!(e["kind"].as_str(), Some("mcpb"), "{e}");
    assert_eq!(e["version"].as_str(), Some("1.0.2"), "{e}");
    assert_eq!(
        e["sha256"].as_str(),
        Some(sha256_hex(&bytes).as_str()),
        "{e}"
    );
    assert_eq!(e["signers"][0].as_str(), Some("acme-ca"), "{e}");
    assert_unpacked(&env, "manifest.json");

    // server.json's digest is not the served file's.
    let env = TestEnv::new();
    add_ca(&env, "*");
    env.write("server.json", server_json(&"ab".repeat(32)));
    add(&env).code(2).diag("integrity-mismatch");
    assert_untouched(&env, "fileSha256 mismatch");

    // The digest matches but nobody trusted signed it.
    let env = TestEnv::new();
    env.write("server.json", server_json(&sha256_hex(&bytes)));
    add(&env).code(1).diag("certificate-invalid");
    assert_not_pinned(&env, "untrusted mcpb package");
}

// ------------------------------------------------------------------ .mcpb

fn add_ca(env: &TestEnv, scope: &str) {
    env.copy_fixture("mcpb/root.pem", "root.pem");
    env.run([
        "trust", "add-ca", "root.pem", "--name", "acme-ca", "--scope", scope,
    ])
    .code(0);
}

fn signed_bundle() -> Vec<u8> {
    fs::read(fixture("mcpb/signed-mcpb-2.1.2.mcpb")).unwrap()
}

#[test]
fn a_signed_mcpb_is_pinned_on_its_publisher_signature_alone() {
    let env = TestEnv::new();
    add_ca(&env, "*");
    let bytes = signed_bundle();
    env.write("signed.mcpb", &bytes);
    env.run(["add", "bundle", "./signed.mcpb"])
        .code(0)
        .stdout_has("pinned bundle");
    let e = entry(&env, "bundle");
    assert_eq!(e["kind"].as_str(), Some("mcpb"), "{e}");
    assert_eq!(
        e["sha256"].as_str(),
        Some(sha256_hex(&bytes).as_str()),
        "{e}"
    );
    let signers: Vec<&str> = e["signers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(signers, ["acme-ca"], "{e}");
    assert_unpacked(&env, "manifest.json");
    assert_unpacked(&env, "server/index.js");

    // The JSON report names the bundle's own signature.
    let out = env.run(["--format", "json", "add", "bundle2", "./signed.mcpb"]);
    out.code(0);
    let v = out.json();
    let sigs = checks_of(&v, "signature");
    assert_eq!(sigs.len(), 1, "{v}");
    assert_eq!(sigs[0]["scheme"], "mcpb", "{v}");
    assert_eq!(sigs[0]["status"], "pass", "{v}");
    assert_eq!(v["verdict"], "allowed", "{v}");
    assert_eq!(v["pinned"]["kind"], "mcpb", "{v}");
    assert_eq!(v["pinned"]["signers"][0], "acme-ca", "{v}");

    // A policy may name the CA among a server's signers.
    env.write(
        "policy.toml",
        "version = 1\n[[servers]]\nname = \"bundle3\"\nsigners = [\"acme-ca\"]\n",
    );
    env.run(["policy", "check", "policy.toml"]).code(0);
    env.run(["--policy", "policy.toml", "policy", "explain", "bundle3"])
        .code(0)
        .stdout_has("X.509 root");
    env.run(["--policy", "policy.toml", "add", "bundle3", "./signed.mcpb"])
        .code(0);
}

#[test]
fn a_signed_mcpb_is_pinned_over_https() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    add_ca(&env, "*");
    let bytes = signed_bundle();
    server.route("/dl/x.mcpb", Response::ok(bytes.clone()));
    let mut args = os(&["add", "remote"]);
    args.push(server.url("/dl/x.mcpb").into());
    args.extend(tls_args(&server));
    env.run(args).code(0).stdout_has("pinned remote");
    let e = entry(&env, "remote");
    assert_eq!(e["kind"].as_str(), Some("mcpb"), "{e}");
    assert_eq!(
        e["sha256"].as_str(),
        Some(sha256_hex(&bytes).as_str()),
        "{e}"
    );
    assert_eq!(e["signers"][0].as_str(), Some("acme-ca"), "{e}");
    assert_unpacked(&env, "manifest.json");

    // Served with a changed byte: the bundle's signature fails.
    let env = TestEnv::new();
    add_ca(&env, "*");
    let mut bad = bytes.clone();
    bad[200] ^= 1;
    server.route("/dl/x.mcpb", Response::ok(bad));
    let mut args = os(&["add", "remote"]);
    args.push(server.url("/dl/x.mcpb").into());
    args.extend(tls_args(&server));
    env.run(args).code(1).diag("signature-invalid");
    assert_not_pinned(&env, "tampered over https");
}

/// `add bundle ./b.mcpb` of `bytes` in a fresh home with the CA trusted
/// for `scope` (or not at all); the JSON report.
fn add_bundle(bytes: &[u8], scope: Option<&str>) -> (TestEnv, Output) {
    let env = TestEnv::new();
    if let Some(s) = scope {
        add_ca(&env, s);
    }
    env.write("b.mcpb", bytes);
    let out = env.run(["--format", "json", "add", "bundle", "./b.mcpb"]);
    (env, out)
}

#[test]
fn an_unsigned_tampered_or_untrusted_mcpb_is_denied() {
    // Unsigned: no signature at all.
    let unsigned = fs::read(fixture("mcpb/unsigned.mcpb")).unwrap();
    let (env, out) = add_bundle(&unsigned, Some("*"));
    out.code(1).diag("signature-missing");
    assert_eq!(out.json()["verdict"], "denied");
    assert_not_pinned(&env, "unsigned");

    // One byte changed in the signed part (inside the zip's first entry).
    let signed = signed_bundle();
    let signed_len = unsigned.len();
    assert!(signed.len() > signed_len);
    for at in [40, signed_len / 2, signed_len - 10] {
        let mut bad = signed.clone();
        bad[at] ^= 0x20;
        let (env, out) = add_bundle(&bad, Some("*"));
        out.assert_no_panic();
        assert_eq!(out.code, Some(1), "byte {at}: {}", out.context());
        let v = out.json();
        let sigs = checks_of(&v, "signature");
        assert_eq!(sigs.len(), 1, "byte {at}: {v}");
        assert_eq!(sigs[0]["scheme"], "mcpb", "byte {at}: {v}");
        assert_eq!(sigs[0]["status"], "fail", "byte {at}: {v}");
        let d = out.diagnostic("signature-invalid");
        let msg = d["message"].as_str().unwrap_or_default();
        assert!(msg.contains("changed after signing"), "byte {at}: {msg}");
        // Named once, by the file checked.
        assert_eq!(msg.matches("blobs/sha256/").count(), 1, "byte {at}: {msg}");
        assert_not_pinned(&env, &format!("byte {at} changed"));
    }

    // The signature block itself truncated.
    let (env, out) = add_bundle(&signed[..signed.len() - 40], Some("*"));
    out.code(1).diag("signature-malformed");
    assert_not_pinned(&env, "truncated block");

    // The CA not trusted at all.
    let (env, out) = add_bundle(&signed, None);
    out.code(1);
    let d = out.diagnostic("certificate-invalid");
    assert!(
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not chain to a trusted CA")),
        "{d}"
    );
    let v = out.json();
    assert_eq!(checks_of(&v, "signature")[0]["status"], "fail", "{v}");
    assert!(out.has_diag("certificate-invalid"), "{}", out.context());
    assert_not_pinned(&env, "untrusted CA");

    // Trusted, but only for other servers.
    let (env, out) = add_bundle(&signed, Some("other-*"));
    out.code(1);
    let d = out.diagnostic("certificate-invalid");
    assert!(
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("not trusted for server `bundle`")),
        "{d}"
    );
    let v = out.json();
    assert_eq!(checks_of(&v, "signature")[0]["status"], "fail", "{v}");
    assert!(out.has_diag("certificate-invalid"), "{}", out.context());
    assert_not_pinned(&env, "out of scope");
    // ...and for the right name it is allowed.
    env.run(["--format", "json", "add", "other-bundle", "./b.mcpb"])
        .code(0);
}
