//! The SBOM policy read the way an attacker writes SBOMs (or the package
//! metadata an SBOM is made from): the server itself is judged, a broken
//! or missing purl does not hide a component, the purl's version is the
//! one judged, names fold as their ecosystems fold them, ranges compare in
//! each ecosystem's order, every purl of a package counts, and hashes that
//! contradict each other do not bind. Each attack goes through the binary
//! (`verify --sbom`, and `add` where package metadata carries it).

use std::fs;

use serde_json::{Value, json};

use super::add::os;
use super::npm_tree::{add_args, serve_made, tgz};
use super::sbom::*;
use super::support::tls_server::TlsServer;
use super::support::util::*;

const EVST: &str = "pkg:npm/event-stream@3.3.6";
const DENY_EVST: &str =
    r#"deny-components = [{ purl = "pkg:npm/event-stream", reason = "compromised release" }]"#;

/// An OSV directory with one record against npm event-stream 3.3.6, the
/// form of the real records in fixtures/osv/npm/.
fn evst_db(env: &TestEnv) -> String {
    let mut osv: Value =
        serde_json::from_slice(&fs::read(fixture("osv/npm/GHSA-p6mc-m468-83gw.json")).unwrap())
            .unwrap();
    osv["id"] = "GHSA-test-evst-0000".into();
    osv["aliases"] = json!([]);
    osv["affected"] = json!([{
        "package": {"ecosystem": "npm", "name": "event-stream"},
        "ranges": [{"type": "SEMVER", "events": [{"introduced": "3.3.6"}, {"fixed": "3.3.7"}]}]
    }]);
    let db = env.path("osv");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("GHSA-test-evst-0000.json"), osv.to_string()).unwrap();
    db.display().to_string()
}

/// `verify` of `server.bin` with `bom.json`, `--advisories DB` when given.
fn run(env: &TestEnv, policy: &str, db: Option<&str>) -> Output {
    let mut args = sbom_args("bom.json");
    if let Some(db) = db {
        args.extend([o("--advisories"), o(db)]);
    }
    verify(env, Some(policy), "server.bin", &args)
}

/// How many of `code`'s messages mention `needle`.
fn count(v: &Value, code: &str, needle: &str) -> usize {
    messages(v, code)
        .iter()
        .filter(|m| m.contains(needle))
        .count()
}

#[test]
fn the_server_itself_is_judged_like_its_parts() {
    let env = TestEnv::new();
    let db = evst_db(&env);
    let sha = artifact(&env);
    let top = json!({
        "type": "application", "name": "event-stream", "version": "3.3.6",
        "purl": EVST, "licenses": [{ "expression": "AGPL-3.0-only" }],
        "hashes": [{ "alg": "SHA-256", "content": sha }],
    });
    let doc = cdx(top, vec![npm("left-pad", "1.3.0")], Some(TIMESTAMP));
    env.write("bom.json", serde_json::to_vec(&doc).unwrap());
    let p = loose_policy(
        &env,
        &format!("deny-licenses = [\"AGPL-3.0-only\"]\nnoassertion = \"allow\"\n{DENY_EVST}"),
    );
    let out = run(&env, p, Some(&db));
    let v = denied_with(&out, "component-denied");
    out.check(
        count(&v, "component-denied", EVST) == 1,
        "the deny rule names the top component",
    )
    .check(
        count(&v, "license-denied", EVST) == 1,
        "its licence is denied",
    )
    .check(
        count(&v, "vulnerable-component", "GHSA-test-evst-0000") == 1,
        "its advisory is found",
    );
}

#[test]
fn a_component_without_a_usable_purl_is_still_judged() {
    let env = TestEnv::new();
    let db = evst_db(&env);
    let rules = r#"deny-components = [
  { purl = "pkg:npm/event-stream", reason = "compromised release" },
  { name = "flatmap-stream", reason = "the payload" },
]"#;
    let p = loose_policy(&env, rules);
    // Each spelling alone (the report folds identical findings into one).
    for (what, c) in [
        // Bad qualifiers: the package is still event-stream 3.3.6.
        (
            "a bad qualifier key",
            lib(
                "es",
                "3.3.6",
                Some("pkg:npm/event-stream@3.3.6?a%ZZ=1"),
                Some("MIT"),
            ),
        ),
        (
            "a space in a qualifier key",
            lib(
                "es",
                "3.3.6",
                Some("pkg:npm/event-stream@3.3.6?a b=c"),
                Some("MIT"),
            ),
        ),
        // The purl only as the bom-ref.
        (
            "the purl as bom-ref",
            json!({"type": "library", "name": "es", "version": "3.3.6",
                "bom-ref": EVST, "licenses": [{ "expression": "MIT" }]}),
        ),
    ] {
        bound_sbom(&env, "bom.json", vec![c], Some(TIMESTAMP));
        let out = run(&env, p, Some(&db));
        let v = denied_with(&out, "component-denied");
        out.check(
            count(
                &v,
                "component-denied",
                "`pkg:npm/event-stream@3.3.6` (`es`)",
            ) == 1,
            &format!("{what}: denied as event-stream"),
        )
        .check(
            count(&v, "vulnerable-component", "GHSA-test-evst-0000") == 1,
            &format!("{what}: the advisory meets it"),
        )
        .check(
            diags_of(&v, "component-unidentified").is_empty(),
            &format!("{what}: identified"),
        );
        let repaired = checks_of(&v, "sbom")[0]["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| {
                w.as_str()
                    .unwrap()
                    .contains("read as `pkg:npm/event-stream@3.3.6`")
            });
        out.check(
            repaired == what.contains("qualifier"),
            &format!("{what}: a repaired purl says so"),
        );
    }

    let comps = vec![
        // Name and version only: the name rule still applies.
        lib("flatmap-stream", "0.1.1", None, Some("MIT")),
        // A CPE only.
        json!({"type": "library", "name": "mystery", "version": "1.0",
            "cpe": "cpe:2.3:a:acme:mystery:1.0:*:*:*:*:*:*:*"}),
    ];
    bound_sbom(&env, "bom.json", comps, Some(TIMESTAMP));
    let out = run(&env, p, Some(&db));
    let v = denied_with(&out, "component-unidentified");
    out.check(
        count(&v, "component-denied", "`flatmap-stream 0.1.1`") == 1,
        "the name rule meets the component without a purl",
    )
    .check(
        messages(&v, "component-unidentified").len() == 2
            && count(&v, "component-unidentified", "`flatmap-stream 0.1.1`") == 1
            && count(&v, "component-unidentified", "`mystery 1.0`") == 1,
        "the two without a purl are unidentified",
    );
    // Not required: the policy warns instead.
    env.write(
        "loose.toml",
        format!("version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = []\n\n[servers.sbom]\nsigned = false\n"),
    );
    let out = run(&env, "loose.toml", Some(&db));
    let v = out.json();
    let unidentified = diags_of(&v, "component-unidentified");
    out.check(
        unidentified.len() == 2 && unidentified.iter().all(|d| d["severity"] == "warning"),
        "warnings when the SBOM is not required",
    );
}

#[test]
fn the_purls_version_is_judged_and_a_different_version_field_is_a_finding() {
    let env = TestEnv::new();
    let db = evst_db(&env);
    bound_sbom(
        &env,
        "bom.json",
        vec![lib("event-stream", "3.3.5", Some(EVST), Some("MIT"))],
        Some(TIMESTAMP),
    );
    let p = loose_policy(
        &env,
        r#"deny-components = [{ purl = "pkg:npm/event-stream", versions = "3.3.6", reason = "compromised release" }]"#,
    );
    let out = run(&env, p, Some(&db));
    let v = denied_with(&out, "component-version-conflict");
    out.check(
        count(
            &v,
            "component-version-conflict",
            "says version 3.3.5, its purl",
        ) == 1,
        "the conflict is named",
    )
    .check(
        count(&v, "component-denied", "version 3.3.6 matches 3.3.6") == 1,
        "the purl's version meets the rule",
    )
    .check(
        count(&v, "vulnerable-component", "GHSA-test-evst-0000") == 1,
        "and the advisory",
    );

    // The reverse: no version field, a clean version in the purl.
    let clean = json!({"type": "library", "name": "event-stream",
        "purl": "pkg:npm/event-stream@3.3.7", "licenses": [{ "expression": "MIT" }]});
    // And `v3.3.7` beside 3.3.7 is one version.
    let same = lib(
        "event-stream",
        "v3.3.7",
        Some("pkg:npm/event-stream@3.3.7"),
        Some("MIT"),
    );
    bound_sbom(&env, "bom.json", vec![clean, same], Some(TIMESTAMP));
    let p = loose_policy(
        &env,
        r#"deny-components = [{ purl = "pkg:npm/event-stream", versions = ">=3.3.6, <3.3.7", reason = "compromised release" }]"#,
    );
    allowed(&run(&env, p, Some(&db)));
}

#[test]
fn names_fold_as_their_ecosystems_fold_them() {
    let env = TestEnv::new();
    let denied_ones = [
        "pkg:pypi/ruamel.yaml@0.17.21",
        "pkg:pypi/ruamel--yaml@0.17.21",
        "pkg:pypi/Ruamel_YAML@0.17.21",
        "pkg:cargo/serde-yaml@0.9.34",
        "pkg:cargo/Serde_Yaml@0.9.34",
        "pkg:npm/./event-stream@3.3.6",
        "pkg:npm/Event-Stream@3.3.6",
    ];
    let mut comps: Vec<Value> = denied_ones
        .iter()
        .enumerate()
        .map(|(i, p)| lib(&format!("c{i}"), "", Some(p), Some("MIT")))
        .collect();
    // npm keeps `_` and `-` apart: another package.
    comps.push(lib(
        "c-other",
        "3.3.6",
        Some("pkg:npm/event_stream@3.3.6"),
        Some("MIT"),
    ));
    for c in &mut comps {
        c.as_object_mut().unwrap().remove("version");
    }
    bound_sbom(&env, "bom.json", comps, Some(TIMESTAMP));
    let p = loose_policy(
        &env,
        r#"deny-components = [
  { purl = "pkg:pypi/ruamel-yaml", reason = "r" },
  { purl = "pkg:cargo/serde_yaml", reason = "r" },
  { purl = "pkg:npm/event-stream", reason = "r" },
]"#,
    );
    let out = run(&env, p, None);
    let v = denied_with(&out, "component-denied");
    let m = messages(&v, "component-denied");
    for purl in denied_ones {
        out.check(
            m.iter().filter(|x| x.contains(purl)).count() == 1,
            &format!("{purl} is denied"),
        );
    }
    out.check(
        !m.iter().any(|x| x.contains("event_stream")),
        "event_stream is another npm package",
    );

    // A name rule meets the purl's name, whatever the `name` field says.
    bound_sbom(
        &env,
        "bom.json",
        vec![lib("innocent", "3.3.6", Some(EVST), Some("MIT"))],
        Some(TIMESTAMP),
    );
    let p = loose_policy(
        &env,
        r#"deny-components = [{ name = "Event-Stream", reason = "r" }]"#,
    );
    let out = run(&env, p, None);
    let v = denied_with(&out, "component-denied");
    out.check(
        count(&v, "component-denied", "(`innocent`)") == 1,
        "denied by the purl's name",
    );
}

#[test]
fn ranges_compare_in_each_ecosystems_order() {
    let env = TestEnv::new();
    let comps = vec![
        lib(
            "evt",
            "3.4.0-beta.1",
            Some("pkg:npm/evt@3.4.0-beta.1"),
            Some("MIT"),
        ),
        lib(
            "pyx",
            "1.0.0-post1",
            Some("pkg:pypi/pyx@1.0.0-post1"),
            Some("MIT"),
        ),
        lib(
            "pyy",
            "2.0.0-dev1",
            Some("pkg:pypi/pyy@2.0.0-dev1"),
            Some("MIT"),
        ),
        lib("bare", "3.4.0", Some("pkg:npm/bare@3.4.0"), Some("MIT")),
        lib("pyz", "0.9", Some("pkg:pypi/pyz@0.9"), Some("MIT")),
    ];
    bound_sbom(&env, "bom.json", comps, Some(TIMESTAMP));
    let p = loose_policy(
        &env,
        r#"deny-components = [
  { purl = "pkg:npm/evt", versions = ">=3.3.0, <4.0.0", reason = "r" },
  { purl = "pkg:pypi/pyx", versions = ">=1.0.0", reason = "r" },
  { purl = "pkg:pypi/pyy", versions = ">=1.0.0", reason = "r" },
  { purl = "pkg:npm/bare", versions = "3.3.6", reason = "r" },
  { purl = "pkg:pypi/pyz", versions = ">=1.0.0", reason = "r" },
]"#,
    );
    let out = run(&env, p, None);
    let v = denied_with(&out, "component-denied");
    let m = messages(&v, "component-denied");
    out.check(m.len() == 3, &format!("three denied: {m:?}"))
        .check(
            count(&v, "component-denied", "pkg:npm/evt@3.4.0-beta.1") == 1
                && count(&v, "component-denied", "pkg:pypi/pyx@1.0.0-post1") == 1
                && count(&v, "component-denied", "pkg:pypi/pyy@2.0.0-dev1") == 1,
            "the pre-, post- and dev releases inside the ranges",
        );

    // `policy check` says when a range matches nothing, and refuses one
    // it cannot read.
    env.write(
        "odd.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\ndeny-components = [{{ purl = \"pkg:npm/evt\", versions = \">=2.0.0, <1.0.0\", reason = \"r\" }}]\n"
        ),
    );
    env.run(["--policy", "odd.toml", "policy", "check"])
        .code(0)
        .stdout_has("matches no version");
    env.write(
        "bad.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\ndeny-components = [{{ purl = \"pkg:npm/evt\", versions = \">= banana\", reason = \"r\" }}]\n"
        ),
    );
    env.run(["--policy", "bad.toml", "policy", "check"])
        .code(1)
        .diag("policy-bad-pattern");
}

#[test]
fn every_purl_of_an_spdx_package_is_judged() {
    let env = TestEnv::new();
    let sha = artifact(&env);
    let purl = |p: &str| json!({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p});
    let doc = json!({
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": "server", "documentNamespace": "https://example.com/server",
        "creationInfo": {"created": TIMESTAMP, "creators": ["Tool: hand"]},
        "documentDescribes": ["SPDXRef-server"],
        "packages": [
            {"SPDXID": "SPDXRef-server", "name": "server", "versionInfo": "1.0.0",
             "downloadLocation": "NOASSERTION", "licenseConcluded": "MIT",
             "checksums": [{"algorithm": "SHA256", "checksumValue": sha}],
             "externalRefs": [purl("pkg:npm/server@1.0.0")]},
            {"SPDXID": "SPDXRef-dep", "name": "innocent", "versionInfo": "3.3.6",
             "downloadLocation": "NOASSERTION", "licenseConcluded": "MIT",
             "externalRefs": [purl("pkg:npm/innocent@3.3.6"), purl(EVST)]},
        ],
    });
    env.write("bom.json", serde_json::to_vec(&doc).unwrap());
    let p = loose_policy(&env, DENY_EVST);
    let out = run(&env, p, None);
    let v = denied_with(&out, "component-denied");
    out.check(
        count(&v, "component-denied", EVST) == 1,
        "the second purl is judged",
    );
}

#[test]
fn hashes_that_contradict_each_other_do_not_bind() {
    let env = TestEnv::new();
    let sha = artifact(&env);
    let p = loose_policy(&env, "");
    let other512 = "ab".repeat(64);
    let other256 = "cd".repeat(32);
    for (name, hashes) in [
        (
            "another SHA-512",
            vec![("SHA-256", sha.clone()), ("SHA-512", other512)],
        ),
        (
            "a second SHA-256",
            vec![("SHA-256", sha.clone()), ("SHA-256", other256)],
        ),
    ] {
        let doc = cdx(
            top_with_hashes(&hashes),
            vec![npm("left-pad", "1.3.0")],
            Some(TIMESTAMP),
        );
        env.write("bom.json", serde_json::to_vec(&doc).unwrap());
        let out = run(&env, p, None);
        let v = denied_with(&out, "sbom-binding-conflict");
        out.check(
            count(&v, "sbom-binding-conflict", "which is not this artifact's") == 1,
            name,
        );
    }
    // The artifact's hashes alone bind.
    let doc = cdx(
        top_with_hashes(&[("SHA-256", sha)]),
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    env.write("bom.json", serde_json::to_vec(&doc).unwrap());
    allowed(&run(&env, p, None));
}

// ---------------------------------------------------------------------------
// Through `add`: the SBOM mcp-warden makes of the resolved tree.

/// A registry serving `warden-evasion-top` 1.0.0 (licence `licence`),
/// depending on `evt` at `evt_version`.
fn evasion_registry(licence: &str, evt_version: &str) -> TlsServer {
    let server = TlsServer::start();
    let evt = json!({"name": "evt", "version": evt_version, "license": "MIT"});
    let top = json!({"name": "warden-evasion-top", "version": "1.0.0", "bin": "server.js",
        "license": licence, "dependencies": {"evt": evt_version}});
    let made = vec![
        (
            evt.clone(),
            tgz(&[("package.json", &evt.to_string()), ("index.js", "")]),
        ),
        (
            top.clone(),
            tgz(&[("package.json", &top.to_string()), ("server.js", "")]),
        ),
    ];
    serve_made(&server, &made);
    server
}

fn add_policy(env: &TestEnv, rules: &str) {
    let path = env.user_policy();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        format!(
            "version = 1\n\n[[servers]]\nname = \"top\"\nrequire = []\n\n[servers.sbom]\n{rules}\n"
        ),
    )
    .unwrap();
}

const TOP_SOURCE: &str = "npm:warden-evasion-top@1.0.0";

#[test]
fn add_judges_the_server_package_itself() {
    let env = TestEnv::new();
    let server = evasion_registry("AGPL-3.0-only", "1.0.0");
    add_policy(
        &env,
        "deny-licenses = [\"AGPL-3.0-only\"]\nnoassertion = \"allow\"",
    );
    env.run(add_args(&server, "top", TOP_SOURCE))
        .code(1)
        .diag("license-denied")
        .stdout_has("pkg:npm/warden-evasion-top@1.0.0")
        .stderr_has("not pinned");
    add_policy(
        &env,
        r#"deny-components = [{ purl = "pkg:npm/warden-evasion-top", reason = "withdrawn" }]"#,
    );
    env.run(add_args(&server, "top", TOP_SOURCE))
        .code(1)
        .diag("component-denied")
        .stdout_has("withdrawn");
    env.run(os(&["list"])).code(0).stdout_lacks("top");
}

#[test]
fn add_denies_a_pre_release_inside_a_denied_range() {
    let env = TestEnv::new();
    let server = evasion_registry("MIT", "3.4.0-beta.1");
    add_policy(
        &env,
        r#"deny-components = [{ purl = "pkg:npm/evt", versions = ">=3.3.0, <4.0.0", reason = "the 3.x line is compromised" }]"#,
    );
    env.run(add_args(&server, "top", TOP_SOURCE))
        .code(1)
        .diag("component-denied")
        .stdout_has("pkg:npm/evt@3.4.0-beta.1");
    add_policy(
        &env,
        r#"deny-components = [{ purl = "pkg:npm/evt", versions = ">=4.0.0", reason = "not yet reviewed" }]"#,
    );
    env.run(add_args(&server, "top", TOP_SOURCE)).code(0);
}
