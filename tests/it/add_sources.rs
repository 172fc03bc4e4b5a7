//! `add` from PyPI, the MCP registry and `.mcpb` bundles, through the real
//! binary against a real HTTPS server (tests/it/support/tls_server.rs)
//! serving the registries' layouts with real metadata, artifacts and
//! signatures: PEP 740 provenance by a Cloud Build identity, sigstore@2.3.1's
//! npm attestations, and a bundle signed by the real `mcpb` CLI. Every
//! refusal leaves the lock as it was and nothing unpacked or half-written.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use super::add::{
    GHA, SIGSTORE_JS, assert_untouched, cache_dir, files, lock_text, npm_registry, os,
};
use super::support::tls_server::{Response, TlsServer};
use super::support::util::*;

const GOOGLE: &str = "https://accounts.google.com";
/// The Cloud Build service account that published gcb-attestation-test.
const GCB_IDENTITY: &str = "919436158236-compute@developer.gserviceaccount.com";
const GCB_SHA256: &str = "461317362419124b6012e855423a9078d6de8aed3e74fa78cc74d669b23dc6cf";
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

/// Serves a PyPI project as pypi.org does: the release's JSON document
/// (file URLs pointed at this server, `edit` applied), the file, and its
/// PEP 740 provenance (or whatever `provenance` says).
pub(super) fn pypi(
    server: &TlsServer,
    name: &str,
    version: &str,
    doc: &str,
    file: &str,
    provenance: Option<Response>,
    edit: impl FnOnce(&mut Value),
) {
    let mut v: Value = serde_json::from_slice(&fs::read(fixture(doc)).unwrap()).unwrap();
    for u in v["urls"].as_array_mut().unwrap() {
        let f = u["filename"].as_str().unwrap().to_string();
        u["url"] = server.url(&format!("/files/{f}")).into();
    }
    edit(&mut v);
    server.route(
        &format!("/pypi/{name}/{version}/json"),
        Response::ok(serde_json::to_vec(&v).unwrap()),
    );
    server.route(
        &format!("/files/{file}"),
        Response::ok(fs::read(fixture(&format!("sources/pypi/{file}"))).unwrap()),
    );
    let prov = format!("/integrity/{name}/{version}/{file}/provenance");
    match provenance {
        Some(r) => server.route(&prov, r),
        None => server.route(&prov, Response::status(404)),
    };
}

fn gcb(server: &TlsServer, provenance: Option<Response>, edit: impl FnOnce(&mut Value)) {
    pypi(
        server,
        "gcb-attestation-test",
        "0.0.0",
        "sources/pypi/gcb-attestation-test.json",
        GCB_FILE,
        provenance,
        edit,
    );
}

fn gcb_provenance() -> Vec<u8> {
    fs::read(fixture(&format!("sources/pypi/{GCB_FILE}.provenance"))).unwrap()
}

fn add_gcb(env: &TestEnv, server: &TlsServer, extra: &[&str]) -> Output {
    let mut args = os(&[
        "add",
        "gcb",
        "pypi:gcb-attestation-test==0.0.0",
        "--pypi-url",
    ]);
    args.push(server.base_url().into());
    args.extend(tls_args(server));
    args.extend(os(&[
        "--certificate-identity",
        GCB_IDENTITY,
        "--certificate-oidc-issuer",
        GOOGLE,
    ]));
    args.extend(os(extra));
    env.run(args)
}

#[test]
fn a_pypi_sdist_is_pinned_on_its_pep740_provenance_and_unpacked() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    gcb(&server, Some(Response::ok(gcb_provenance())), |_| {});
    add_gcb(&env, &server, &[]).code(0).stdout_has("pinned gcb");
    let e = entry(&env, "gcb");
    assert_eq!(e["kind"].as_str(), Some("sdist"), "{e}");
    assert_eq!(e["version"].as_str(), Some("0.0.0"), "{e}");
    assert_eq!(e["sha256"].as_str(), Some(GCB_SHA256), "{e}");
    assert_eq!(
        e["source"].as_str(),
        Some("pypi:gcb-attestation-test==0.0.0"),
        "{e}"
    );
    let evidence = e["evidence"].to_string();
    assert!(evidence.contains(GCB_IDENTITY), "{evidence}");
    assert_unpacked(&env, "gcb_attestation_test-0.0.0/setup.py");
    let blob = cache_dir(&env, "blobs/sha256").join(GCB_SHA256);
    assert_eq!(
        fs::read(blob).unwrap(),
        fs::read(fixture(&format!("sources/pypi/{GCB_FILE}"))).unwrap()
    );
    let asked = paths_asked(&server);
    assert!(
        asked.iter().any(|p| p.starts_with("/integrity/")),
        "{asked:?}"
    );

    // Another identity than the publisher's: the same provenance denies.
    let env = TestEnv::new();
    let mut args = os(&[
        "add",
        "gcb",
        "pypi:gcb-attestation-test==0.0.0",
        "--pypi-url",
    ]);
    args.push(server.base_url().into());
    args.extend(tls_args(&server));
    args.extend(os(&[
        "--certificate-identity",
        "someone-else@example.com",
        "--certificate-oidc-issuer",
        GOOGLE,
    ]));
    let out = env.run(args);
    out.code(1);
    assert_not_pinned(&env, "other identity");
}

#[test]
fn a_pypi_file_that_fails_its_digest_or_provenance_is_not_pinned() {
    let server = TlsServer::start();

    // The index's sha256 does not match the file served.
    let env = TestEnv::new();
    gcb(&server, Some(Response::ok(gcb_provenance())), |v| {
        v["urls"][0]["digests"]["sha256"] = "00".repeat(32).into();
    });
    add_gcb(&env, &server, &[])
        .code(2)
        .diag("integrity-mismatch");
    assert_untouched(&env, "wrong sha256");

    // No provenance and no other signature: the default policy denies.
    let env = TestEnv::new();
    gcb(&server, None, |_| {});
    add_gcb(&env, &server, &[])
        .code(1)
        .diag("signature-missing");
    assert_not_pinned(&env, "provenance 404");

    // The provenance's signature changed by one byte.
    let env = TestEnv::new();
    let mut prov: Value = serde_json::from_slice(&gcb_provenance()).unwrap();
    let sig = &mut prov["attestation_bundles"][0]["attestations"][0]["envelope"]["signature"];
    let mut s = sig.as_str().unwrap().to_string();
    // Base64 of a DER signature: flip one character in the middle.
    let mid = s.len() / 2;
    let c = if &s[mid..mid + 1] == "A" { "B" } else { "A" };
    s.replace_range(mid..mid + 1, c);
    *sig = s.into();
    gcb(
        &server,
        Some(Response::ok(serde_json::to_vec(&prov).unwrap())),
        |_| {},
    );
    let out = add_gcb(&env, &server, &[]);
    out.code(1);
    assert!(
        out.has_diag("signature-invalid"),
        "tampered provenance: {}",
        out.context()
    );
    assert_not_pinned(&env, "tampered provenance");

    // The provenance of another file (the statement's subject differs).
    let env = TestEnv::new();
    let mut prov: Value = serde_json::from_slice(&gcb_provenance()).unwrap();
    prov["attestation_bundles"][0]["attestations"][0]["envelope"]["statement"] = "e30=".into();
    gcb(
        &server,
        Some(Response::ok(serde_json::to_vec(&prov).unwrap())),
        |_| {},
    );
    add_gcb(&env, &server, &[]).code(1).diag("bundle-malformed");
    assert_not_pinned(&env, "other statement");

    // Provenance that is not JSON: a malformed registry answer.
    let env = TestEnv::new();
    gcb(&server, Some(Response::ok(b"{\"attest".to_vec())), |_| {});
    let out = add_gcb(&env, &server, &[]);
    out.code(2).diag("source-invalid");
    assert_untouched(&env, "truncated provenance");

    // A file URL that is not https is refused before anything is fetched.
    let env = TestEnv::new();
    let port = server.port();
    gcb(&server, Some(Response::ok(gcb_provenance())), |v| {
        v["urls"][0]["url"] = format!("http://127.0.0.1:{port}/files/{GCB_FILE}").into();
    });
    add_gcb(&env, &server, &[])
        .code(2)
        .diag("source-invalid")
        .stderr_has("not an https URL");
    assert_untouched(&env, "http file URL");

    // The index failing on the provenance is not taken as "none".
    let env = TestEnv::new();
    gcb(&server, Some(Response::status(500)), |_| {});
    add_gcb(&env, &server, &[]).code(2).diag("fetch-failed");
    assert_untouched(&env, "provenance 500");
}

#[test]
fn a_pypi_wheel_is_pinned_on_a_minisign_signature_and_unpacked() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    pypi(
        &server,
        "sampleproject",
        "4.0.0",
        "sources/pypi/sampleproject.json",
        WHEEL_FILE,
        None,
        |_| {},
    );
    let wheel = env.copy_fixture(&format!("sources/pypi/{WHEEL_FILE}"), WHEEL_FILE);
    let key = Minisign::generate(&env, "publisher");
    let sig = key.sign(&wheel, None);
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let add = |name: &str| {
        let mut args = os(&["add", name, "pypi:sampleproject==4.0.0", "--pypi-url"]);
        args.push(server.base_url().into());
        args.extend(tls_args(&server));
        args.push("--signature".into());
        args.push(sig.clone().into());
        env.run(args)
    };
    add("sample").code(0).stdout_has("pinned sample");
    let e = entry(&env, "sample");
    assert_eq!(e["kind"].as_str(), Some("wheel"), "{e}");
    assert_eq!(e["sha256"].as_str(), Some(WHEEL_SHA256), "{e}");
    assert_eq!(e["signers"].as_array().map(|a| a.len()), Some(1), "{e}");
    assert_eq!(e["signers"][0].as_str(), Some("publisher"), "{e}");
    assert_unpacked(&env, "sample/simple.py");
    assert_unpacked(&env, "sampleproject-4.0.0.dist-info/RECORD");
    assert!(
        paths_asked(&server)
            .iter()
            .any(|p| p == &format!("/files/{WHEEL_FILE}")),
        "the wheel was fetched, not the sdist"
    );

    // The signature does not cover another wheel under the same name.
    let env2 = TestEnv::new();
    env2.trust_key(&key.public, "publisher", &["*"]).code(0);
    let mut other = fs::read(fixture(&format!("sources/pypi/{WHEEL_FILE}"))).unwrap();
    other.extend_from_slice(b"\0");
    let other_sha = sha256_hex(&other);
    server.route(&format!("/files/{WHEEL_FILE}"), Response::ok(other));
    pypi_route_doc(&server, |v| {
        for u in v["urls"].as_array_mut().unwrap() {
            if u["filename"] == WHEEL_FILE {
                u["digests"]["sha256"] = other_sha.clone().into();
            }
        }
    });
    let mut args = os(&["add", "sample", "pypi:sampleproject==4.0.0", "--pypi-url"]);
    args.push(server.base_url().into());
    args.extend(tls_args(&server));
    args.push("--signature".into());
    args.push(sig.clone().into());
    env2.run(args).code(1).diag("signature-invalid");
    assert_not_pinned(&env2, "re-signed wheel");
}

/// Replaces sampleproject's JSON document (file URLs on this server).
fn pypi_route_doc(server: &TlsServer, edit: impl FnOnce(&mut Value)) {
    let mut v: Value =
        serde_json::from_slice(&fs::read(fixture("sources/pypi/sampleproject.json")).unwrap())
            .unwrap();
    for u in v["urls"].as_array_mut().unwrap() {
        let f = u["filename"].as_str().unwrap().to_string();
        u["url"] = server.url(&format!("/files/{f}")).into();
    }
    edit(&mut v);
    server.route(
        "/pypi/sampleproject/4.0.0/json",
        Response::ok(serde_json::to_vec(&v).unwrap()),
    );
}

// ----------------------------------------------------------- MCP registry

const BRAVE: &str = "io.modelcontextprotocol.anonymous/brave-search";

/// brave-search's server.json (a real example) with its npm package
/// pointed at sigstore@2.3.1 on this server, plus a secret with a default,
/// a plain variable with a default, and fixed package arguments.
fn brave_server_json(server: &TlsServer) -> Value {
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

fn npm_tarball() -> Vec<u8> {
    fs::read(fixture(SIGSTORE_TGZ)).unwrap()
}

fn registry_args(server: &TlsServer, name: &str, source: &str) -> Vec<OsString> {
    let mut args = os(&["add", name, source, "--registry"]);
    args.push(server.base_url().into());
    args.push("--registry-url".into());
    args.push(server.base_url().into());
    args.extend(tls_args(server));
    args.extend(os(&[
        "--certificate-identity",
        SIGSTORE_JS,
        "--certificate-oidc-issuer",
        GHA,
    ]));
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
    let out = env.run(registry_args(&server, "brave", "registry:./server.json"));
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
    env.run(registry_args(&server, "brave", "registry:./server.json"))
        .code(2)
        .diag("source-invalid")
        .stderr_has("registryBaseUrl");
    assert_untouched(&env, "foreign registryBaseUrl");

    // A value written for a shell is refused, not passed on.
    let env = TestEnv::new();
    let mut s = brave_server_json(&server);
    s["packages"][0]["packageArguments"][0]["value"] = "$(curl evil)".into();
    env.write("server.json", serde_json::to_vec(&s).unwrap());
    env.run(registry_args(&server, "brave", "registry:./server.json"))
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
        env.run(registry_args(&server, "brave", "registry:./server.json"))
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
    env.run(registry_args(
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
    env.run(registry_args(
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
    env.run(registry_args(
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
    env.run(registry_args(
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
    let out = env.run(registry_args(&server, "db", "registry:./server.json"));
    out.code(2)
        .diag("source-invalid")
        .stderr_has("oci")
        .stderr_has("no package that mcp-warden can fetch");
    assert_untouched(&env, "oci only");
    assert!(server.requests().is_empty(), "nothing was fetched");
    // A remote-only server.json says so.
    env.copy_fixture("sources/registry/remote.server.json", "remote.json");
    env.run(registry_args(&server, "remote", "registry:./remote.json"))
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
