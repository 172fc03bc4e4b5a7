//! The SBOM of a pinned tree: `add` generates a CycloneDX 1.6 document of
//! what it resolved (the real server-everything tree of
//! fixtures/npm-tree/, the real mcp-server-time wheels of
//! fixtures/pypi-tree/), judges it with the SBOM policy, compares it with
//! the SBOM the package ships, and `mcp-warden sbom NAME` prints it.

use std::collections::{BTreeMap, HashMap};
use std::fs;

use serde_json::{Value, json};

use super::add::{assert_untouched, cache_dir, os};
use super::npm_tree::{add_args, entry, everything_registry, policy, serve_made, tgz};
use super::pypi_tree::{add_args as pypi_args, time_index};
use super::support::tls_server::TlsServer;
use super::support::util::*;

const SOURCE: &str = "npm:@modelcontextprotocol/server-everything@2026.8.31";
const TOP_PURL: &str = "pkg:npm/%40modelcontextprotocol/server-everything@2026.8.31";

fn sbom_json(env: &TestEnv, name: &str) -> (String, Value) {
    let out = env.run(["sbom", name, "--json"]);
    out.code(0);
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout));
    (out.stdout.clone(), v)
}

/// purl -> component.
fn components(doc: &Value) -> HashMap<String, Value> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["purl"].as_str().unwrap().to_string(), c.clone()))
        .collect()
}

fn depends_on(doc: &Value, from: &str) -> Vec<String> {
    let d = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == from)
        .unwrap_or_else(|| panic!("no dependencies entry for {from}"));
    d["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn npm_purl(name: &str, version: &str) -> String {
    format!("pkg:npm/{}@{version}", name.replacen('@', "%40", 1))
}

fn hash(c: &Value, alg: &str) -> Option<String> {
    c["hashes"]
        .as_array()?
        .iter()
        .find(|h| h["alg"] == alg)
        .map(|h| h["content"].as_str().unwrap().to_string())
}

#[test]
fn the_resolved_npm_tree_is_described_judged_and_printed() {
    let env = TestEnv::new();
    let server = everything_registry();
    policy(&env, &["everything"]);
    env.run(add_args(&server, "everything", SOURCE))
        .code(0)
        // 110 packages, three of them twice in the tree (one component each).
        .stderr_has("SBOM of the resolved tree: 108 components")
        // The server's own package.json says "SEE LICENSE IN LICENSE".
        .stderr_has("declare no licence that is a valid SPDX expression")
        .stderr_has("@modelcontextprotocol/server-everything@2026.8.31");
    let e = entry(&env, "everything");
    let key = e["sbom"]
        .as_str()
        .unwrap_or_else(|| panic!("no sbom in {e}"));
    let (text, doc) = sbom_json(&env, "everything");
    // Byte for byte what was stored (and judged).
    assert_eq!(
        text.as_bytes(),
        fs::read(cache_dir(&env, "blobs/sha256").join(key)).unwrap()
    );
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.6");
    assert!(
        doc["serialNumber"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    let top = &doc["metadata"]["component"];
    assert_eq!(top["purl"], TOP_PURL);
    assert_eq!(top["group"], "@modelcontextprotocol");
    assert_eq!(top["name"], "server-everything");
    assert_eq!(hash(top, "SHA-256").as_deref(), e["sha256"].as_str());
    assert!(top.get("licenses").is_none(), "none is invented: {top}");

    // Every package of the lock, with its purl, hashes and source.
    let comps = components(&doc);
    let packages = e["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 110);
    let distinct: std::collections::HashSet<String> = packages
        .iter()
        .map(|p| npm_purl(p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    assert_eq!(comps.len(), distinct.len());
    assert_eq!(comps.len(), 107);
    for p in packages {
        let purl = npm_purl(p["name"].as_str().unwrap(), p["version"].as_str().unwrap());
        let c = comps.get(&purl).unwrap_or_else(|| panic!("{purl} missing"));
        assert_eq!(c["bom-ref"], purl.as_str());
        assert_eq!(hash(c, "SHA-256").as_deref(), p["sha256"].as_str(), "{c}");
        let sri = p["integrity"]
            .as_str()
            .unwrap()
            .strip_prefix("sha512-")
            .unwrap();
        use base64::Engine as _;
        let hex512 = hex::encode(
            base64::engine::general_purpose::STANDARD
                .decode(sri)
                .unwrap(),
        );
        assert_eq!(hash(c, "SHA-512"), Some(hex512), "{c}");
        assert_eq!(
            c["externalReferences"][0]["url"].as_str(),
            p["resolved"].as_str()
        );
    }
    // Licences as fixtures/npm-tree/server-everything/packages.tsv lists
    // them (taken from each tarball's package.json).
    let tsv = fs::read_to_string(fixture("npm-tree/server-everything/packages.tsv")).unwrap();
    let mut checked = 0;
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let purl = npm_purl(f[0], f[1]);
        if purl == TOP_PURL {
            continue;
        }
        let c = &comps[&purl];
        assert_eq!(c["licenses"][0]["expression"].as_str(), Some(f[2]), "{c}");
        checked += 1;
    }
    assert_eq!(checked, 110);
    // The graph: the server needs the SDK, the SDK ajv and zod, express
    // its middleware; every edge points at a component.
    let sdk = npm_purl("@modelcontextprotocol/sdk", "1.32.2");
    assert!(depends_on(&doc, TOP_PURL).contains(&sdk));
    let sdk_deps = depends_on(&doc, &sdk);
    for want in ["ajv", "zod", "express", "cors"] {
        assert!(
            sdk_deps
                .iter()
                .any(|d| d.starts_with(&format!("pkg:npm/{want}@"))),
            "{want} not in {sdk_deps:?}"
        );
    }
    for d in doc["dependencies"].as_array().unwrap() {
        for to in d["dependsOn"].as_array().unwrap() {
            assert!(comps.contains_key(to.as_str().unwrap()), "dangling {to}");
        }
    }

    // A tree like npm ls.
    let out = env.run(["sbom", "everything", "--tree"]);
    out.code(0)
        .stdout_has("@modelcontextprotocol/server-everything@2026.8.31 (no licence declared)\n")
        .stdout_has("── @modelcontextprotocol/sdk@1.32.2 (MIT)\n")
        .stdout_has("jszip@3.10.2 ((MIT OR GPL-3.0-or-later))")
        .stdout_has("(deduped)");

    // The same tree pinned again gives the same bytes.
    env.run(["remove", "everything"]).code(0);
    env.run(add_args(&server, "everything", SOURCE)).code(0);
    let (again, _) = sbom_json(&env, "everything");
    assert_eq!(text, again);

    // A changed cached SBOM is refused, as is a missing one.
    let blob = cache_dir(&env, "blobs/sha256").join(key);
    make_writable(&blob);
    fs::write(&blob, text.replace("MIT", "MIT-0")).unwrap();
    env.run(["sbom", "everything", "--json"])
        .code(2)
        .diag("cache-mismatch")
        .stderr_has("was changed in the cache")
        .stderr_has("`mcp-warden remove everything`, then `mcp-warden add everything npm:")
        .stdout_lacks("CycloneDX");
    fs::remove_file(&blob).unwrap();
    env.run(["sbom", "everything"])
        .code(2)
        .diag("cache-mismatch");
    env.run(["sbom", "nobody"]).code(2).diag("server-unknown");
}

fn make_writable(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
}

/// A policy for `everything` with `[servers.sbom]` `rules`, then `tail`.
fn sbom_policy(env: &TestEnv, rules: &str, tail: &str) {
    let path = env.user_policy();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        format!(
            "version = 1\n\n[[servers]]\nname = \"everything\"\nrequire = []\n\n[servers.sbom]\n{rules}\n{tail}"
        ),
    )
    .unwrap();
}

#[test]
fn a_licence_of_the_tree_the_policy_denies_refuses_the_add() {
    let env = TestEnv::new();
    let server = everything_registry();
    // Seven packages of the tree are ISC (once, wrappy, inherits, ...).
    sbom_policy(
        &env,
        "deny-licenses = [\"ISC\"]\nnoassertion = \"allow\"",
        "",
    );
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("license-denied")
        .stdout_has("pkg:npm/wrappy@1.0.2")
        .stderr_has("not pinned");
    assert_untouched(&env, "a denied licence in the tree");
}

#[test]
fn a_component_of_the_tree_the_policy_denies_refuses_the_add() {
    let env = TestEnv::new();
    let server = everything_registry();
    sbom_policy(
        &env,
        "deny-components = [{ purl = \"pkg:npm/qs\", versions = \">=6.0.0\", reason = \"not in our servers\" }]",
        "",
    );
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("component-denied")
        .stdout_has("not in our servers");
    assert_untouched(&env, "a denied component in the tree");
}

#[test]
fn an_advisory_against_a_package_of_the_tree_refuses_the_add() {
    let env = TestEnv::new();
    let server = everything_registry();
    // An OSV record in the form of fixtures/osv/npm/, against the tree's
    // qs 6.17.1.
    let osv = qs_advisory("GHSA-test-qs00-0000");
    let db = env.path("osv");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("GHSA-test-qs00-0000.json"), osv.to_string()).unwrap();
    sbom_policy(
        &env,
        "",
        &format!("[advisories]\ndb = \"{}\"\n", db.display()),
    );
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("vulnerable-component")
        .stdout_has("GHSA-test-qs00-0000");
    assert_untouched(&env, "an advisory against the tree");
}

/// An OSV record against the tree's qs 6.17.1, in the form of
/// fixtures/osv/npm/.
fn qs_advisory(id: &str) -> Value {
    let mut osv: Value =
        serde_json::from_slice(&fs::read(fixture("osv/npm/GHSA-p6mc-m468-83gw.json")).unwrap())
            .unwrap();
    osv["id"] = id.into();
    osv["aliases"] = json!([]);
    osv["affected"] = json!([{
        "package": {"ecosystem": "npm", "name": "qs"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "6.0.0"}, {"fixed": "6.99.0"}]}]
    }]);
    osv
}

#[test]
fn an_advisory_written_deep_in_the_database_stops_the_next_run() {
    let env = TestEnv::new();
    let server = everything_registry();
    // osv-scanner's layout: one directory per ecosystem. The record the
    // database starts with is the real one, against a qs the tree does not
    // hold.
    let db = env.path("osv");
    let npm = db.join("osv/npm");
    fs::create_dir_all(&npm).unwrap();
    fs::copy(
        fixture("osv/npm/GHSA-p6mc-m468-83gw.json"),
        npm.join("GHSA-p6mc-m468-83gw.json"),
    )
    .unwrap();
    sbom_policy(
        &env,
        "",
        &format!("[advisories]\ndb = \"{}\"\n", db.display()),
    );
    env.run(add_args(&server, "everything", SOURCE)).code(0);
    let run = || env.cmd().args(["run", "everything"]).stdin("").run();
    run().code(0).stderr_has(", verified)");
    run().code(0).stderr_has(", receipt)");
    // A new record two directories down: neither the database's directory
    // nor anything the lock names changed.
    let top = fs::metadata(&db).unwrap().modified().unwrap();
    fs::write(
        npm.join("GHSA-test-qs00-0001.json"),
        qs_advisory("GHSA-test-qs00-0001").to_string(),
    )
    .unwrap();
    assert_eq!(fs::metadata(&db).unwrap().modified().unwrap(), top);
    let out = run();
    out.code(1)
        .diag_in_stderr("vulnerable-component")
        .stderr_has("GHSA-test-qs00-0001");
    assert!(
        !out.stderr.contains("starting everything"),
        "{}",
        out.context()
    );
    // `add` of the same request is not answered "pinned already".
    env.run(add_args(&server, "everything", SOURCE))
        .code(1)
        .diag("vulnerable-component");
    // A record rewritten in place, same name and size: judged again too.
    fs::remove_file(npm.join("GHSA-test-qs00-0001.json")).unwrap();
    run().code(0).stderr_has(", verified)");
    run().code(0).stderr_has(", receipt)");
    let real = npm.join("GHSA-p6mc-m468-83gw.json");
    let mut rewritten: Value = serde_json::from_slice(&fs::read(&real).unwrap()).unwrap();
    let text = rewritten.to_string();
    rewritten = qs_advisory(rewritten["id"].as_str().unwrap());
    let mut bytes = rewritten.to_string().into_bytes();
    assert!(
        bytes.len() <= text.len(),
        "the rewrite fits in the record's size"
    );
    bytes.resize(text.len(), b' ');
    fs::write(&real, &bytes).unwrap();
    run().code(1).diag_in_stderr("vulnerable-component");
}

#[test]
fn a_component_denied_after_the_add_stops_the_next_run() {
    let env = TestEnv::new();
    let server = everything_registry();
    sbom_policy(&env, "", "");
    env.run(add_args(&server, "everything", SOURCE)).code(0);
    let run = || env.cmd().args(["run", "everything"]).stdin("").run();
    run().code(0).stderr_has(", verified)");
    // The package is deep in the tree, not the server itself: only the
    // SBOM `add` made of the tree names it.
    sbom_policy(
        &env,
        "deny-components = [{ purl = \"pkg:npm/qs\", reason = \"withdrawn by security\" }]",
        "",
    );
    let out = run();
    out.code(1)
        .diag_in_stderr("component-denied")
        .stderr_has("withdrawn by security");
    assert!(
        !out.stderr.contains("starting everything"),
        "{}",
        out.context()
    );
}

/// `warden-sbom-top` 1.0.0 depending on dep-a and dep-b, shipping `bom`
/// as `bom.json`; dep-b's package.json is `dep_b_pj` in its tarball.
fn shipping_registry(bom: &str, dep_b_pj: &str) -> TlsServer {
    let server = TlsServer::start();
    let a = json!({"name": "dep-a", "version": "1.0.0", "license": "MIT"});
    let b = json!({"name": "dep-b", "version": "2.0.0", "license": "Apache-2.0"});
    let top = json!({"name": "warden-sbom-top", "version": "1.0.0", "bin": "server.js",
        "license": "MIT", "dependencies": {"dep-a": "^1.0.0", "dep-b": "^2.0.0"}});
    let made = vec![
        (
            a.clone(),
            tgz(&[("package.json", &a.to_string()), ("index.js", "")]),
        ),
        (
            b.clone(),
            tgz(&[("package.json", dep_b_pj), ("index.js", "")]),
        ),
        (
            top.clone(),
            tgz(&[
                ("package.json", &top.to_string()),
                ("server.js", ""),
                ("bom.json", bom),
            ]),
        ),
    ];
    serve_made(&server, &made);
    server
}

/// A CycloneDX 1.6 SBOM of warden-sbom-top listing `components`.
fn shipped_bom(components: &[(&str, &str)]) -> String {
    json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "application", "name": "warden-sbom-top",
            "version": "1.0.0", "purl": "pkg:npm/warden-sbom-top@1.0.0"}},
        "components": components.iter().map(|(n, v)| json!({"type": "library", "name": n,
            "version": v, "purl": format!("pkg:npm/{n}@{v}")})).collect::<Vec<_>>(),
    })
    .to_string()
}

#[test]
fn the_sbom_a_package_ships_is_checked_against_the_resolved_tree() {
    let env = TestEnv::new();
    let b = json!({"name": "dep-b", "version": "2.0.0", "license": "Apache-2.0"}).to_string();
    // dep-b left out, dep-a at another version.
    let server = shipping_registry(&shipped_bom(&[("dep-a", "0.9.0")]), &b);
    policy(&env, &["top"]);
    env.run(add_args(&server, "top", "npm:warden-sbom-top@1.0.0"))
        .code(0)
        .diag("sbom-incomplete")
        .stdout_has("bom.json leaves out 1 package(s) of the resolved tree: dep-b@2.0.0")
        .stdout_has("bom.json lists at another version 1 package(s) of the resolved tree: dep-a@1.0.0 (it says 0.9.0)");
    let (_, doc) = sbom_json(&env, "top");
    assert_eq!(
        depends_on(&doc, "pkg:npm/warden-sbom-top@1.0.0"),
        ["pkg:npm/dep-a@1.0.0", "pkg:npm/dep-b@2.0.0"]
    );
    assert_eq!(
        components(&doc)["pkg:npm/dep-b@2.0.0"]["licenses"][0]["expression"],
        "Apache-2.0"
    );

    // A complete one is no finding.
    let env = TestEnv::new();
    let server = shipping_registry(&shipped_bom(&[("dep-a", "1.0.0"), ("dep-b", "2.0.0")]), &b);
    policy(&env, &["top"]);
    let out = env.run(add_args(&server, "top", "npm:warden-sbom-top@1.0.0"));
    out.code(0);
    assert!(!out.has_diag("sbom-incomplete"), "{}", out.stdout);

    // A shipped SBOM that is not one is said, and the add goes on.
    let env = TestEnv::new();
    let server = shipping_registry("{\"bomFormat\": \"CycloneDX\", \"specVer", &b);
    policy(&env, &["top"]);
    env.run(add_args(&server, "top", "npm:warden-sbom-top@1.0.0"))
        .code(0)
        .diag("sbom-malformed");
}

#[test]
fn malformed_metadata_in_the_tree_is_a_clear_error_and_pins_nothing() {
    // Valid JSON, but over the 4 MiB a package.json may take.
    // (Noise, so that the tarball is no gzip bomb.)
    let mut x: u64 = 7;
    let noise: String = (0..(5 << 20))
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b'a' + ((x >> 33) % 26) as u8)
        })
        .collect();
    let oversized = json!({"name": "dep-b", "version": "2.0.0", "description": noise}).to_string();
    for (what, pj, why) in [
        (
            "truncated",
            "{\"name\": \"dep-b\", \"vers",
            "package.json is not JSON",
        ),
        (
            "not an object",
            "[\"dep-b\"]",
            "package.json is not an object",
        ),
        ("oversized", oversized.as_str(), "limit"),
    ] {
        let env = TestEnv::new();
        let server = shipping_registry(&shipped_bom(&[]), pj);
        policy(&env, &["top"]);
        env.run(add_args(&server, "top", "npm:warden-sbom-top@1.0.0"))
            .code(2)
            .diag("package-metadata-invalid")
            .stderr_has("dep-b@2.0.0: cannot read its metadata for the SBOM: ")
            .stderr_has(why)
            .stdout_lacks("panicked");
        assert_untouched(&env, what);
    }
}

#[test]
fn the_resolved_wheels_are_described() {
    let env = TestEnv::new();
    let server = time_index();
    policy(&env, &["time"]);
    env.run(pypi_args(
        &server,
        "time",
        "pypi:mcp-server-time==2026.10.19",
    ))
    .code(0)
    .stderr_has("SBOM of the resolved tree");
    let e = entry(&env, "time");
    let (_, doc) = sbom_json(&env, "time");
    let top = &doc["metadata"]["component"];
    assert_eq!(top["purl"], "pkg:pypi/mcp-server-time@2026.10.19");
    let comps = components(&doc);
    let packages = e["packages"].as_array().unwrap();
    assert_eq!(comps.len(), packages.len());
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for p in packages {
        let name = p["name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .replace(['_', '.'], "-");
        let purl = format!("pkg:pypi/{name}@{}", p["version"].as_str().unwrap());
        let c = comps.get(&purl).unwrap_or_else(|| panic!("{purl} missing"));
        assert_eq!(hash(c, "SHA-256").as_deref(), p["sha256"].as_str());
        by_name.insert(name, purl);
    }
    // mcp-server-time requires mcp and tzdata; mcp requires anyio.
    let top_deps = depends_on(&doc, "pkg:pypi/mcp-server-time@2026.10.19");
    assert!(top_deps.contains(&by_name["mcp"]), "{top_deps:?}");
    assert!(depends_on(&doc, &by_name["mcp"]).contains(&by_name["anyio"]));
    // Licences come from each wheel's METADATA: some declare one.
    assert!(comps.values().any(|c| c.get("licenses").is_some()));
}

#[test]
fn a_single_file_has_the_sbom_of_its_one_component() {
    let env = TestEnv::new();
    env.write("tool.bin", b"#!/bin/sh\necho tool\n");
    policy(&env, &["tool"]);
    env.run(os(&["add", "tool", "./tool.bin"])).code(0);
    let (_, doc) = sbom_json(&env, "tool");
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["metadata"]["component"]["name"], "tool");
    assert_eq!(doc["components"].as_array().unwrap().len(), 0);
    assert_eq!(
        hash(&doc["metadata"]["component"], "SHA-256").as_deref(),
        entry(&env, "tool")["sha256"].as_str()
    );
}
