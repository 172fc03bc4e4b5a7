//! SBOMs and advisories (`verify --sbom`, `--advisories`, `--summary`):
//! how an SBOM is bound to the artifact (top-component hash, the policy's
//! `source`, an attestation's subject) and when it counts as signed;
//! `[servers.sbom]` content rules (age, denied components, licences);
//! offline OSV advisories on the juice-shop SBOM; every generated fixture;
//! malformed, unsupported, huge and hostile input through the CLI; the
//! policy-check errors of the SBOM and advisory sections; the reports.
//!
//! SBOMs the tests need are made here as CycloneDX 1.6 JSON that passes
//! the official schema (the binary checks it), and attestations are DSSE
//! envelopes signed with a fresh ed25519 key by the real openssl.

use std::ffi::OsString;
use std::fs;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::util::*;

const JUICE: &str = "sbom/cyclonedx/bom-examples/SBOM/juice-shop/via_npm/flat/bom.1.4.json";
const JUICE_SOURCE: &str = "npm:juice-shop@14.1.1";
const LODASH_GHSA: &str = "GHSA-p6mc-m468-83gw";
const CYCLONEDX: &str = "https://cyclonedx.org/bom";
const SPDX: &str = "https://spdx.dev/Document";
pub(super) const SERIAL: &str = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79";
/// The server name every policy here describes (`--server srv`).
pub(super) const SRV: &str = "srv";

/// `[--policy P] --format json verify ARTIFACT ARGS...`.
pub(super) fn verify(
    env: &TestEnv,
    policy: Option<&str>,
    artifact: &str,
    args: &[OsString],
) -> Output {
    let mut all: Vec<OsString> = Vec::new();
    if let Some(p) = policy {
        all.extend([o("--policy"), o(p)]);
    }
    all.extend([o("--format"), o("json"), o("verify")]);
    all.extend(artifact_arg(env, artifact));
    all.extend(args.iter().cloned());
    env.run(&all)
}

/// `--server srv --sbom FILE`.
pub(super) fn sbom_args(file: &str) -> Vec<OsString> {
    vec![o("--server"), o(SRV), o("--sbom"), o(file)]
}

/// Pins `server.bin` as `srv`, fetched from the package `source`
/// (`npm:NAME@VERSION`, `pypi:NAME==VERSION`), as `add` records it: the
/// file in the cache, the entry in the lock. A local file has no source,
/// so an SBOM bound by its package's purl is judged on the pinned copy
/// (`verify --server srv`, which [`artifact_arg`] then chooses).
pub(super) fn pin_as_fetched(env: &TestEnv, source: &str) {
    let version = source
        .rsplit_once("==")
        .or_else(|| source.rsplit_once('@'))
        .map(|(_, v)| v)
        .unwrap();
    let bytes = env.read("server.bin");
    let sha = sha256_hex(&bytes);
    let blobs = env.root.join("home/cache/blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    fs::write(blobs.join(&sha), &bytes).unwrap();
    let lock = env.root.join("home/config/servers.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    fs::write(
        lock,
        format!(
            "version = 1\n\n[servers.{SRV}]\nsource = \"{source}\"\nversion = \"{version}\"\nsha256 = \"{sha}\"\nsha512 = \"{}\"\nsize = {}\nkind = \"file\"\npinned = \"2026-01-01T00:00:00Z\"\n",
            sha512_hex(&bytes),
            bytes.len()
        ),
    )
    .unwrap();
}

/// The artifact to verify: `server.bin` as pinned by [`pin_as_fetched`]
/// when it was (`--server srv` then names it), else the file.
pub(super) fn artifact_arg(env: &TestEnv, artifact: &str) -> Vec<OsString> {
    if artifact == "server.bin" && env.root.join("home/config/servers.lock").exists() {
        Vec::new()
    } else {
        vec![o(artifact)]
    }
}

/// `args` without the positional `server.bin` when it is pinned (see
/// [`artifact_arg`]).
pub(super) fn pinned(env: &TestEnv, args: &[OsString]) -> Vec<OsString> {
    let drop = artifact_arg(env, "server.bin").is_empty();
    args.iter()
        .filter(|a| !(drop && a.as_os_str() == "server.bin"))
        .cloned()
        .collect()
}

/// Writes `policy.toml`: server `srv` requiring an SBOM, with `server`
/// lines in its entry (`source = ...`), loose files accepted
/// (`signed = false`) and `sbom_rules` in [servers.sbom], and `tail`
/// (an `[advisories]` table) after it.
pub(super) fn policy_with(
    env: &TestEnv,
    server: &str,
    sbom_rules: &str,
    tail: &str,
) -> &'static str {
    env.write(
        "policy.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = [\"sbom\"]\n{server}\n[servers.sbom]\nsigned = false\n{sbom_rules}\n{tail}"
        ),
    );
    "policy.toml"
}

/// [`policy_with`] without a source or advisories.
pub(super) fn loose_policy(env: &TestEnv, sbom_rules: &str) -> &'static str {
    policy_with(env, "", sbom_rules, "")
}

/// A CycloneDX 1.6 JSON document that passes the official schema.
pub(super) fn cdx(top: Value, components: Vec<Value>, timestamp: Option<&str>) -> Value {
    let mut metadata = json!({ "component": top });
    if let Some(t) = timestamp {
        metadata["timestamp"] = json!(t);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": SERIAL,
        "version": 1,
        "metadata": metadata,
        "components": components,
    })
}

/// A library component; `licence` is an SPDX expression.
pub(super) fn lib(name: &str, version: &str, purl: Option<&str>, licence: Option<&str>) -> Value {
    let mut c = json!({ "type": "library", "name": name, "version": version });
    if let Some(p) = purl {
        c["purl"] = json!(p);
    }
    if let Some(l) = licence {
        c["licenses"] = json!([{ "expression": l }]);
    }
    c
}

pub(super) fn npm(name: &str, version: &str) -> Value {
    lib(
        name,
        version,
        Some(&format!("pkg:npm/{name}@{version}")),
        Some("MIT"),
    )
}

/// The top component describing `server.bin`, carrying `hashes`
/// (`(CycloneDX alg, hex)`).
pub(super) fn top_with_hashes(hashes: &[(&str, String)]) -> Value {
    let hashes: Vec<Value> = hashes
        .iter()
        .map(|(alg, hex)| json!({ "alg": alg, "content": hex }))
        .collect();
    // The server is judged like its parts: it has a purl and a licence.
    json!({
        "type": "application",
        "bom-ref": "server",
        "name": "server",
        "version": "1.0.0",
        "purl": "pkg:npm/server@1.0.0",
        "licenses": [{ "expression": "MIT" }],
        "hashes": hashes,
    })
}

pub(super) const TIMESTAMP: &str = "2024-01-01T00:00:00Z";

/// Writes `server.bin` (4 KiB of noise) and returns its SHA-256.
pub(super) fn artifact(env: &TestEnv) -> String {
    let bytes = noise(4096, 0x5b0b);
    env.write("server.bin", &bytes);
    sha256_hex(&bytes)
}

/// Writes `server.bin` and `name`: an SBOM whose top component carries the
/// artifact's SHA-256, listing `components`.
pub(super) fn bound_sbom(
    env: &TestEnv,
    name: &str,
    components: Vec<Value>,
    timestamp: Option<&str>,
) {
    let sha = artifact(env);
    let doc = cdx(top_with_hashes(&[("SHA-256", sha)]), components, timestamp);
    env.write(name, serde_json::to_vec_pretty(&doc).unwrap());
}

/// A DSSE envelope signed by `key` over an in-toto Statement v1 whose
/// subject is the work file `subject`, carrying `predicate`.
fn attest(
    env: &TestEnv,
    key: &PemKey,
    out: &str,
    subject: &str,
    predicate_type: &str,
    predicate: &Value,
) -> String {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": subject, "digest": { "sha256": sha256_hex(&env.read(subject)) } }],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    key.dsse_payload(env, out, IN_TOTO, &serde_json::to_vec(&statement).unwrap());
    out.to_string()
}

pub(super) fn diags_of(v: &Value, code: &str) -> Vec<Value> {
    v["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["code"] == code)
        .cloned()
        .collect()
}

pub(super) fn messages(v: &Value, code: &str) -> Vec<String> {
    diags_of(v, code)
        .iter()
        .map(|d| d["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn rule(v: &Value) -> String {
    v["decision"]["rule"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Exit 0, verdict allowed, no error; returns the report.
#[track_caller]
pub(super) fn allowed(out: &Output) -> Value {
    out.code(0);
    let v = out.json();
    out.check(v["verdict"] == "allowed", "verdict allowed")
        .check(
            error_codes(&v).is_empty(),
            &format!("no errors, got {:?}", error_codes(&v)),
        );
    v
}

/// Exit 1, verdict denied, and `code` among the errors; returns the report.
#[track_caller]
pub(super) fn denied_with(out: &Output, code: &str) -> Value {
    out.code(1);
    let v = out.json();
    out.check(v["verdict"] == "denied", "verdict denied").check(
        error_codes(&v).iter().any(|c| c == code),
        &format!("an error `{code}`, got {:?}", error_codes(&v)),
    );
    v
}

// ---------------------------------------------------------------------------
// Binding

#[test]
fn bound_by_the_top_components_sha256() {
    let env = TestEnv::new();
    bound_sbom(
        &env,
        "bom.json",
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    let p = loose_policy(&env, "");
    let out = verify(&env, Some(p), "server.bin", &sbom_args("bom.json"));
    let v = allowed(&out);
    out.check(
        rule(&v).contains("SBOM bom.json (1 components, bound by its top component's sha256 hash)"),
        "bound by the sha256 hash",
    );
    let sboms = checks_of(&v, "sbom");
    out.check(
        sboms.len() == 1 && sboms[0]["status"] == "read",
        "one sbom check, read",
    )
    .check(
        sboms[0]["summary"]["format"] == "CycloneDX 1.6 JSON",
        "format",
    );

    // The same SBOM against the bare digest.
    let sha = sha256_hex(&env.read("server.bin"));
    let out = verify(
        &env,
        Some(p),
        &format!("sha256:{sha}"),
        &sbom_args("bom.json"),
    );
    allowed(&out);
}

/// npm's integrity hashes are SHA-512: a top component carrying only a
/// SHA-512 binds too, so the artifact must be hashed with it.
#[test]
fn bound_by_the_top_components_sha512() {
    let env = TestEnv::new();
    let bytes = noise(4096, 0x5b0b);
    env.write("server.bin", &bytes);
    let doc = cdx(
        top_with_hashes(&[("SHA-512", sha512_hex(&bytes))]),
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    env.write("bom.json", serde_json::to_vec(&doc).unwrap());
    let p = loose_policy(&env, "");
    let out = verify(&env, Some(p), "server.bin", &sbom_args("bom.json"));
    let v = allowed(&out);
    out.check(
        rule(&v).contains("bound by its top component's sha512 hash"),
        "bound by the sha512 hash",
    );
}

#[test]
fn bound_by_the_sources_purl_or_name_and_version() {
    // Bound by the purl of the package it was fetched from.
    let env = TestEnv::new();
    artifact(&env);
    pin_as_fetched(&env, JUICE_SOURCE);
    let p = policy_with(&env, &format!("source = \"{JUICE_SOURCE}\""), "", "");
    let out = verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args(&fixture(JUICE).display().to_string()),
    );
    let v = allowed(&out);
    out.check(
        rule(&v).contains("bound by its top component's purl pkg:npm/juice-shop@14.1.1"),
        "bound by the purl",
    );

    // Another version of the same package is another artifact.
    pin_as_fetched(&env, "npm:juice-shop@14.1.0");
    let p = policy_with(&env, "", "", "");
    let out = verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args(&fixture(JUICE).display().to_string()),
    );
    let v = denied_with(&out, "sbom-not-bound");
    out.check(
        messages(&v, "sbom-not-bound")[0].contains("`pkg:npm/juice-shop@14.1.1"),
        "names what the SBOM describes",
    );

    // A top component without a purl binds by name and version.
    let doc = cdx(
        json!({"type": "application", "name": "acme-server", "version": "2.0.0"}),
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    env.write("named.json", serde_json::to_vec(&doc).unwrap());
    pin_as_fetched(&env, "npm:acme-server@2.0.0");
    let p = policy_with(&env, "source = \"npm:acme-server@2.0.0\"", "", "");
    let v = allowed(&verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args("named.json"),
    ));
    assert!(
        rule(&v).contains("bound by its top component acme-server 2.0.0"),
        "{}",
        rule(&v)
    );
    pin_as_fetched(&env, "npm:acme-server@2.0.1");
    let p = policy_with(&env, "", "", "");
    denied_with(
        &verify(&env, Some(p), "server.bin", &sbom_args("named.json")),
        "sbom-not-bound",
    );
}

#[test]
fn not_bound_sboms_are_refused() {
    let env = TestEnv::new();
    artifact(&env);
    let p = loose_policy(&env, "");

    // A top-component hash of other bytes.
    let doc = cdx(
        top_with_hashes(&[("SHA-256", sha256_hex(b"another build"))]),
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    env.write("wrong-hash.json", serde_json::to_vec(&doc).unwrap());
    let out = verify(&env, Some(p), "server.bin", &sbom_args("wrong-hash.json"));
    let v = denied_with(&out, "sbom-not-bound");
    out.check(
        messages(&v, "sbom-not-bound")[0]
            .contains("wrong-hash.json: the SBOM describes `pkg:npm/server@1.0.0`"),
        "says what the SBOM describes",
    )
    .check(
        diags_of(&v, "sbom-not-bound")[0]["hint"].is_string(),
        "a hint",
    )
    .check(
        diags_of(&v, "evidence-missing").is_empty(),
        "the failure is the reason, not a missing SBOM",
    );

    // Another package's SBOM, under a source of its own.
    let p2 = policy_with(&env, "source = \"npm:left-pad@1.3.0\"", "", "");
    let out = verify(
        &env,
        Some(p2),
        "server.bin",
        &sbom_args(&fixture(JUICE).display().to_string()),
    );
    denied_with(&out, "sbom-not-bound");

    // No source and no hash: nothing binds it.
    let out = verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args(&fixture(JUICE).display().to_string()),
    );
    denied_with(&out, "sbom-not-bound");

    // An attestation about another artifact, however well signed.
    let key = PemKey::generate(&env, "att");
    env.write("other.bin", b"another artifact");
    let doc = cdx(
        json!({"type": "application", "name": "other"}),
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    attest(&env, &key, "other.att.json", "other.bin", CYCLONEDX, &doc);
    let mut args = sbom_args("other.att.json");
    args.extend([o("--key"), key.public.clone().into()]);
    let out = verify(&env, Some(p), "server.bin", &args);
    let v = denied_with(&out, "sbom-not-bound");
    let att = checks_of(&v, "sbom-attestation");
    out.check(
        att.len() == 1 && att[0]["status"] == "fail" && att[0]["code"] == "sbom-not-bound",
        "the attestation check fails as not bound",
    )
    .check(checks_of(&v, "sbom").is_empty(), "its SBOM is not read");
}

// ---------------------------------------------------------------------------
// Attestations and signing

#[test]
fn attestation_bound_by_subject_and_signed_by_a_given_key() {
    let env = TestEnv::new();
    let sha = artifact(&env);
    let key = PemKey::generate(&env, "publisher");
    // The default policy requires a signature of the artifact too.
    key.dsse(&env, "server.bin.dsse.json", &[("server.bin", &sha)]);
    let doc = cdx(
        json!({"type": "application", "name": "server"}),
        vec![npm("left-pad", "1.3.0"), npm("chalk", "4.1.2")],
        Some(TIMESTAMP),
    );
    attest(&env, &key, "bom.att.json", "server.bin", CYCLONEDX, &doc);
    let args = [
        o("--signature"),
        o("server.bin.dsse.json"),
        o("--key"),
        key.public.clone().into(),
        o("--sbom"),
        o("bom.att.json"),
    ];
    let out = verify(&env, None, "server.bin", &args);
    let v = allowed(&out);
    out.check(
        rule(&v).contains("SBOM bom.att.json (2 components, bound by the attestation's subject)"),
        "the SBOM counts, bound by the subject",
    );
    let att = checks_of(&v, "sbom-attestation");
    out.check(
        att.len() == 1
            && att[0]["status"] == "pass"
            && att[0]["details"]["predicate-type"] == CYCLONEDX
            && att[0]["signer"]["kind"] == "key",
        "the attestation verified",
    );
    let sboms = checks_of(&v, "sbom");
    out.check(
        sboms.len() == 1
            && sboms[0]["signer"]["kind"] == "key"
            && sboms[0]["summary"]["components"] == 2,
        "the SBOM check carries the signer",
    );

    // The human report names the attestation, its format and signer.
    let mut human: Vec<OsString> = vec![o("verify"), o("server.bin")];
    human.extend(args.iter().cloned());
    let out = env.run(&human);
    out.code(0)
        .stdout_has("PASS  sbom-attestation bom.att.json [DSSE]")
        .stdout_has("      signer: key given with --key")
        .stdout_has("      predicate type: https://cyclonedx.org/bom")
        .stdout_has("READ  sbom       bom.att.json [CycloneDX 1.6 JSON, 2 components]");
}

#[test]
fn attestation_signer_must_be_trusted_under_a_policy() {
    let env = TestEnv::new();
    artifact(&env);
    let key = PemKey::generate(&env, "publisher");
    let doc = cdx(
        json!({"type": "application", "name": "server"}),
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    attest(&env, &key, "bom.att.json", "server.bin", CYCLONEDX, &doc);
    // Signed SBOMs only (the default of [servers.sbom]).
    env.write(
        "policy.toml",
        format!("version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = [\"sbom\"]\n"),
    );
    let with_key = |extra: bool| {
        let mut a = sbom_args("bom.att.json");
        if extra {
            a.extend([o("--key"), key.public.clone().into()]);
        }
        a
    };
    // A key given on the command line does not count under a policy.
    let out = verify(&env, Some("policy.toml"), "server.bin", &with_key(true));
    let v = denied_with(&out, "sbom-unsigned");
    out.check(
        messages(&v, "sbom-unsigned")[0].contains("whom nothing trusts for `srv`"),
        "says who signed",
    );

    // Trusted for another server: still not.
    env.trust_key(&key.public, "elsewhere", &["other-*"]);
    let out = verify(&env, Some("policy.toml"), "server.bin", &with_key(false));
    denied_with(&out, "sbom-unsigned");

    // Trusted for this server: counts.
    env.run(["trust", "remove", "elsewhere"]).code(0);
    env.trust_key(&key.public, "publisher", &[SRV]);
    let out = verify(&env, Some("policy.toml"), "server.bin", &with_key(false));
    let v = allowed(&out);
    assert!(
        rule(&v).contains("bound by the attestation's subject"),
        "{}",
        rule(&v)
    );

    // SPDX as the predicate: a real generator's document.
    let spdx: Value = serde_json::from_slice(
        &fs::read(fixture("sbom/generated/syft-npm-2.3.spdx.json")).unwrap(),
    )
    .unwrap();
    attest(&env, &key, "spdx.att.json", "server.bin", SPDX, &spdx);
    let out = verify(
        &env,
        Some("policy.toml"),
        "server.bin",
        &sbom_args("spdx.att.json"),
    );
    let v = allowed(&out);
    assert!(
        rule(&v).contains("SBOM spdx.att.json (12 components"),
        "{}",
        rule(&v)
    );
    out.check(
        checks_of(&v, "sbom")[0]["summary"]["format"] == "SPDX 2.3 JSON",
        "read as SPDX",
    );

    // A statement that is not an SBOM is refused.
    attest(
        &env,
        &key,
        "slsa.att.json",
        "server.bin",
        "https://slsa.dev/provenance/v1",
        &json!({"buildDefinition": {"buildType": "https://example.invalid/x"}}),
    );
    let out = verify(
        &env,
        Some("policy.toml"),
        "server.bin",
        &sbom_args("slsa.att.json"),
    );
    denied_with(&out, "sbom-unsupported");
}

#[test]
fn signed_versus_loose() {
    let env = TestEnv::new();
    bound_sbom(
        &env,
        "bom.json",
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    let write = |rules: &str| {
        env.write(
            "policy.toml",
            format!("version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\n{rules}\n"),
        );
    };
    // Signed required, explicitly and by default: a loose file does not count.
    for rules in ["signed = true", ""] {
        write(rules);
        let out = verify(
            &env,
            Some("policy.toml"),
            "server.bin",
            &sbom_args("bom.json"),
        );
        let v = denied_with(&out, "sbom-unsigned");
        out.check(
            messages(&v, "sbom-unsigned")[0].contains("bom.json: the SBOM is a loose file"),
            "says it is loose",
        )
        .check(
            diags_of(&v, "evidence-missing").is_empty(),
            "not also missing",
        );
    }
    write("signed = false");
    allowed(&verify(
        &env,
        Some("policy.toml"),
        "server.bin",
        &sbom_args("bom.json"),
    ));

    // Not required: a loose SBOM neither counts nor denies.
    env.write(
        "policy.toml",
        format!("version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = []\n\n[servers.sbom]\nsigned = true\n"),
    );
    let out = verify(
        &env,
        Some("policy.toml"),
        "server.bin",
        &sbom_args("bom.json"),
    );
    let v = allowed(&out);
    out.check(diags_of(&v, "sbom-unsigned").is_empty(), "no sbom-unsigned")
        .check(
            rule(&v).contains("nothing is required"),
            "nothing was required",
        );
}

#[test]
fn require_by_list_and_by_table() {
    let env = TestEnv::new();
    bound_sbom(
        &env,
        "bom.json",
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    for (name, body) in [
        (
            "list.toml",
            format!(
                "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\n"
            ),
        ),
        (
            "table.toml",
            format!(
                "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = []\n\n[servers.sbom]\nrequire = true\nsigned = false\n"
            ),
        ),
        (
            "defaults.toml",
            format!(
                "version = 1\n\n[defaults]\nrequire = [\"sbom\"]\n\n[[servers]]\nname = \"{SRV}\"\n\n[servers.sbom]\nsigned = false\n"
            ),
        ),
    ] {
        env.write(name, body);
        let out = verify(&env, Some(name), "server.bin", &[o("--server"), o(SRV)]);
        let v = denied_with(&out, "evidence-missing");
        out.check(
            messages(&v, "evidence-missing")[0].contains("requires an SBOM"),
            "says an SBOM is required",
        );
        allowed(&verify(
            &env,
            Some(name),
            "server.bin",
            &sbom_args("bom.json"),
        ));
    }
    // Neither: nothing is required.
    env.write(
        "none.toml",
        format!("version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = []\n"),
    );
    allowed(&verify(
        &env,
        Some("none.toml"),
        "server.bin",
        &[o("--server"), o(SRV)],
    ));
}

// ---------------------------------------------------------------------------
// Content rules

#[test]
fn max_age() {
    let env = TestEnv::new();
    let now = jiff::Timestamp::now().as_second();
    let at = |secs_ago: i64| {
        jiff::Timestamp::from_second(now - secs_ago)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let p = loose_policy(&env, "max-age = \"90d\"");

    bound_sbom(
        &env,
        "fresh.json",
        vec![npm("a", "1.0.0")],
        Some(&at(86_400)),
    );
    allowed(&verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args("fresh.json"),
    ));

    bound_sbom(
        &env,
        "stale.json",
        vec![npm("a", "1.0.0")],
        Some(&at(91 * 86_400)),
    );
    let out = verify(&env, Some(p), "server.bin", &sbom_args("stale.json"));
    let v = denied_with(&out, "sbom-stale");
    out.check(
        messages(&v, "sbom-stale")[0].contains("more than 90d ago"),
        "says how old",
    );

    // An hour ahead is clock skew; a week ahead is a wrong date.
    bound_sbom(
        &env,
        "skewed.json",
        vec![npm("a", "1.0.0")],
        Some(&at(-3600)),
    );
    allowed(&verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args("skewed.json"),
    ));
    bound_sbom(
        &env,
        "future.json",
        vec![npm("a", "1.0.0")],
        Some(&at(-7 * 86_400)),
    );
    let out = verify(&env, Some(p), "server.bin", &sbom_args("future.json"));
    let v = denied_with(&out, "sbom-stale");
    out.check(
        messages(&v, "sbom-stale")[0].contains("in the future"),
        "says it is dated in the future",
    );

    bound_sbom(&env, "undated.json", vec![npm("a", "1.0.0")], None);
    let out = verify(&env, Some(p), "server.bin", &sbom_args("undated.json"));
    let v = denied_with(&out, "sbom-stale");
    out.check(
        messages(&v, "sbom-stale")[0].contains("does not say when it was made"),
        "says it is undated",
    );

    // Hours and weeks are units too.
    let p = loose_policy(&env, "max-age = \"2w\"");
    bound_sbom(
        &env,
        "week.json",
        vec![npm("a", "1.0.0")],
        Some(&at(7 * 86_400)),
    );
    allowed(&verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args("week.json"),
    ));
    let p = loose_policy(&env, "max-age = \"12h\"");
    denied_with(
        &verify(&env, Some(p), "server.bin", &sbom_args("week.json")),
        "sbom-stale",
    );
}

#[test]
fn deny_components() {
    let env = TestEnv::new();
    bound_sbom(
        &env,
        "bom.json",
        vec![
            npm("event-stream", "3.3.6"),
            npm("flatmap-stream", "0.1.1"),
            npm("left-pad", "1.3.0"),
            lib("vendored-thing", "2.0.0", None, Some("MIT")),
            lib(
                "odd-version",
                "latest",
                Some("pkg:npm/odd-version@latest"),
                Some("MIT"),
            ),
        ],
        Some(TIMESTAMP),
    );
    // `vendored-thing` has no purl: what that means is
    // `component_without_a_purl_is_unidentified`'s concern.
    let run = |rules: &str| {
        let p = loose_policy(
            &env,
            &format!("unidentified = \"warn\"\ndeny-components = [{rules}]"),
        );
        verify(&env, Some(p), "server.bin", &sbom_args("bom.json"))
    };

    // By purl, without a range: every version.
    let out = run(r#"{ purl = "pkg:npm/left-pad", reason = "unpublished once" }"#);
    let v = denied_with(&out, "component-denied");
    let m = messages(&v, "component-denied");
    out.check(m.len() == 1, "one finding").check(
        m[0].contains("`pkg:npm/left-pad@1.3.0` is denied by the rule at policy.toml:")
            && m[0].contains("unpublished once (every version)"),
        "names the component, the rule, the reason",
    );

    // By purl with a range: only the matching version.
    let v = denied_with(
        &run(r#"{ purl = "pkg:npm/event-stream", versions = "=3.3.6", reason = "compromised" }"#),
        "component-denied",
    );
    assert!(messages(&v, "component-denied")[0].contains("version 3.3.6 matches =3.3.6"));
    allowed(&run(
        r#"{ purl = "pkg:npm/event-stream", versions = "<3.3.6", reason = "old" }"#,
    ));
    allowed(&run(
        r#"{ purl = "pkg:npm/event-stream", versions = ">=3.3.7, <4", reason = "x" }"#,
    ));

    // Another package of the same name in another ecosystem does not match.
    allowed(&run(r#"{ purl = "pkg:pypi/left-pad", reason = "x" }"#));

    // By name, also for a component without a purl.
    let v = denied_with(
        &run(r#"{ name = "vendored-thing", reason = "must come from the registry" }"#),
        "component-denied",
    );
    assert!(messages(&v, "component-denied")[0].contains("`vendored-thing 2.0.0`"));

    // A version that is not semver cannot be placed in a range: denied.
    let v = denied_with(
        &run(r#"{ purl = "pkg:npm/odd-version", versions = "<1", reason = "x" }"#),
        "component-denied",
    );
    assert!(
        messages(&v, "component-denied")[0].contains("version `latest` cannot be compared with <1"),
        "{:?}",
        messages(&v, "component-denied")
    );

    // Several rules, several findings.
    let v = denied_with(
        &run(
            r#"{ purl = "pkg:npm/event-stream", reason = "a" }, { purl = "pkg:npm/flatmap-stream", reason = "b" }"#,
        ),
        "component-denied",
    );
    assert_eq!(messages(&v, "component-denied").len(), 2);
}

/// Verifies a hash-bound SBOM with one component per licence expression
/// (`lic-N`, `None`: no licence at all) under `rules`.
/// `lic-0` is the top component (bound by the artifact's hash): the server
/// is judged like its parts.
fn licence_run(env: &TestEnv, exprs: &[Option<&str>], rules: &str) -> Output {
    let mut comps: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            lib(
                &format!("lic-{i}"),
                "1.0.0",
                Some(&format!("pkg:npm/lic-{i}@1.0.0")),
                *e,
            )
        })
        .collect();
    let mut top = comps.remove(0);
    top["type"] = json!("application");
    top["hashes"] = json!([{ "alg": "SHA-256", "content": artifact(env) }]);
    let doc = cdx(top, comps, Some(TIMESTAMP));
    env.write("lic.json", serde_json::to_vec_pretty(&doc).unwrap());
    let p = loose_policy(env, rules);
    verify(env, Some(p), "server.bin", &sbom_args("lic.json"))
}

/// The finding for the six NOASSERTION packages of syft-py-2.3.spdx.json.
const LAUNCHER: &str =
    "py.att.json: `pkg:nuget/Simple%20Launcher@1.1.0.14`: the licence is NOASSERTION";

/// Which `lic-N` components a code names.
fn flagged(v: &Value, code: &str) -> Vec<usize> {
    let mut out: Vec<usize> = messages(v, code)
        .iter()
        .filter_map(|m| {
            let at = m.find("pkg:npm/lic-")? + "pkg:npm/lic-".len();
            m[at..].split('@').next()?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn licences_and_or_with() {
    let env = TestEnv::new();
    let exprs = [
        Some("MIT AND Apache-2.0"),                        // 0
        Some("GPL-3.0-only OR MIT"),                       // 1
        Some("GPL-3.0-only AND MIT"),                      // 2
        Some("GPL-2.0-only WITH Classpath-exception-2.0"), // 3
        Some("GPL-2.0-only"),                              // 4
        Some("(MIT OR AGPL-3.0-only) AND BSD-3-Clause"),   // 5
    ];

    // An allow list: AND needs both, OR either.
    let out = licence_run(
        &env,
        &exprs,
        "allow-licenses = [\"MIT\", \"Apache-2.0\", \"BSD-3-Clause\"]\nnoassertion = \"deny\"",
    );
    let v = denied_with(&out, "license-denied");
    assert_eq!(flagged(&v, "license-denied"), vec![2, 3, 4]);

    // A deny list: an alternative that avoids it passes.
    let out = licence_run(
        &env,
        &exprs,
        "deny-licenses = [\"GPL-3.0-only\", \"AGPL-3.0-only\"]\nnoassertion = \"deny\"",
    );
    let v = denied_with(&out, "license-denied");
    assert_eq!(flagged(&v, "license-denied"), vec![2]);

    // WITH stays with its licence: `L` covers `L WITH E`, `L WITH E`
    // covers only that pair.
    let out = licence_run(
        &env,
        &exprs[3..5],
        "allow-licenses = [\"GPL-2.0-only\"]\nnoassertion = \"deny\"",
    );
    allowed(&out);
    let out = licence_run(
        &env,
        &exprs[3..5],
        "allow-licenses = [\"GPL-2.0-only WITH Classpath-exception-2.0\"]\nnoassertion = \"deny\"",
    );
    let v = denied_with(&out, "license-denied");
    // exprs[4] is lic-1 here.
    assert_eq!(flagged(&v, "license-denied"), vec![1]);
    let out = licence_run(
        &env,
        &exprs[3..5],
        "deny-licenses = [\"GPL-2.0-only\"]\nnoassertion = \"allow\"",
    );
    let v = denied_with(&out, "license-denied");
    assert_eq!(flagged(&v, "license-denied"), vec![0, 1]);
}

#[test]
fn licences_noassertion_allow_deny_warn() {
    let env = TestEnv::new();
    let exprs = [Some("MIT"), None, Some("MIT"), None];
    let lists = "allow-licenses = [\"MIT\"]\n";

    let out = licence_run(&env, &exprs, &format!("{lists}noassertion = \"allow\""));
    let v = allowed(&out);
    out.check(
        diags_of(&v, "license-unknown").is_empty(),
        "nothing to warn about",
    );

    let out = licence_run(&env, &exprs, &format!("{lists}noassertion = \"deny\""));
    let v = denied_with(&out, "license-denied");
    assert_eq!(flagged(&v, "license-denied"), vec![1, 3]);

    let out = licence_run(&env, &exprs, &format!("{lists}noassertion = \"warn\""));
    let v = allowed(&out);
    assert_eq!(flagged(&v, "license-unknown"), vec![1, 3]);
    out.check(
        diags_of(&v, "license-unknown")
            .iter()
            .all(|d| d["severity"] == "warning"),
        "warnings",
    );

    // Text that is not an SPDX expression (cyclonedx-py writes trove
    // classifiers) says no more than NOASSERTION: the same rule decides.
    let odd = [
        Some("MIT"),
        Some("License :: OSI Approved :: MIT License"),
        Some("MIT AND"),
    ];
    let out = licence_run(&env, &odd, &format!("{lists}noassertion = \"deny\""));
    let v = denied_with(&out, "license-denied");
    assert_eq!(flagged(&v, "license-denied"), vec![1, 2]);
    let out = licence_run(&env, &odd, &format!("{lists}noassertion = \"warn\""));
    let v = allowed(&out);
    assert_eq!(flagged(&v, "license-unknown"), vec![1, 2]);
    out.check(
        messages(&v, "license-unknown")
            .iter()
            .all(|m| !m.contains('\n')),
        "one line per finding",
    );

    // A real generator's SPDX document, six packages NOASSERTION.
    let key = PemKey::generate(&env, "publisher");
    let spdx: Value =
        serde_json::from_slice(&fs::read(fixture("sbom/generated/syft-py-2.3.spdx.json")).unwrap())
            .unwrap();
    attest(&env, &key, "py.att.json", "server.bin", SPDX, &spdx);
    let allow = "allow-licenses = [\"MIT\", \"Apache-2.0\", \"BSD-3-Clause\", \"MPL-2.0\"]\n";
    let run = |rule: &str| {
        let p = loose_policy(&env, &format!("{allow}noassertion = \"{rule}\""));
        let mut args = sbom_args("py.att.json");
        args.extend([o("--key"), key.public.clone().into()]);
        verify(&env, Some(p), "server.bin", &args)
    };
    let v = allowed(&run("allow"));
    assert!(diags_of(&v, "license-unknown").is_empty());
    // The six are syft's "Simple Launcher" entries (pip's Windows
    // launchers), alike to the letter: their findings are one line. The
    // project syft describes (`target`, the top component) has no licence
    // either, and is judged first.
    let v = denied_with(&run("deny"), "license-denied");
    assert_eq!(
        checks_of(&v, "sbom")[0]["summary"]["licenses"]["NOASSERTION"],
        6
    );
    let because = ", and the policy denies components without a licence it can judge (`noassertion = \"deny\"`)";
    assert_eq!(
        messages(&v, "license-denied"),
        vec![
            format!("py.att.json: `target`: the licence is NOASSERTION{because}"),
            format!("{LAUNCHER}{because}"),
        ]
    );
    let out = run("warn");
    let v = allowed(&out);
    let unknown = messages(&v, "license-unknown");
    assert!(
        unknown.len() == 2 && unknown[1].starts_with(LAUNCHER),
        "{unknown:?}"
    );
    // With a deny list instead, the same.
    let p = loose_policy(
        &env,
        "deny-licenses = [\"GPL-3.0-only\"]\nnoassertion = \"deny\"",
    );
    let mut args = sbom_args("py.att.json");
    args.extend([o("--key"), key.public.clone().into()]);
    let v = denied_with(
        &verify(&env, Some(p), "server.bin", &args),
        "license-denied",
    );
    assert_eq!(diags_of(&v, "license-denied").len(), 2);
}

// ---------------------------------------------------------------------------
// Advisories

/// juice-shop bound by its source, with `[advisories]` `advisories` after
/// the server entry.
fn juice_policy(env: &TestEnv, advisories: &str) -> &'static str {
    policy_with(env, &format!("source = \"{JUICE_SOURCE}\""), "", advisories)
}

/// Writes `server.bin`; `--server srv --sbom JUICE [--advisories fixtures/osv]`.
fn juice_args(env: &TestEnv, advisories: bool) -> Vec<OsString> {
    artifact(env);
    pin_as_fetched(env, JUICE_SOURCE);
    let mut a = sbom_args(&fixture(JUICE).display().to_string());
    if advisories {
        a.extend([o("--advisories"), f("osv")]);
    }
    a
}

#[test]
fn juice_shop_lodash_is_vulnerable() {
    let env = TestEnv::new();
    let args = juice_args(&env, true);
    let p = juice_policy(&env, "");
    let out = verify(&env, Some(p), "server.bin", &args);
    let v = denied_with(&out, "vulnerable-component");
    let m = messages(&v, "vulnerable-component");
    out.check(
        m.iter().any(|m| {
            m.contains(&format!(
                "pkg:npm/lodash@2.4.2 is affected by {LODASH_GHSA} (high)"
            ))
        }),
        "lodash 2.4.2 by GHSA-p6mc-m468-83gw",
    )
    .check(
        !m.iter().any(|m| m.contains("lodash@4.17.21")),
        "the fixed lodash 4.17.21 is not",
    );
    // Without the database there is nothing to find.
    let args = juice_args(&env, false);
    allowed(&verify(&env, Some(p), "server.bin", &args));
}

#[test]
fn severity_threshold() {
    // The record is rated high (GitHub's word, and CVSS 3.1 7.4): below
    // critical.
    let record: Value =
        serde_json::from_slice(&fs::read(fixture(&format!("osv/npm/{LODASH_GHSA}.json"))).unwrap())
            .unwrap();
    assert_eq!(record["database_specific"]["severity"], "HIGH");
    assert_eq!(
        record["severity"][0]["score"],
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H"
    );

    let env = TestEnv::new();
    let args = juice_args(&env, true);
    let p = juice_policy(&env, "[advisories]\nseverity = \"critical\"\n");
    let v = allowed(&verify(&env, Some(p), "server.bin", &args));
    assert!(diags_of(&v, "vulnerable-component").is_empty());
    for sev in ["high", "medium", "low"] {
        let p = juice_policy(&env, &format!("[advisories]\nseverity = \"{sev}\"\n"));
        denied_with(
            &verify(&env, Some(p), "server.bin", &args),
            "vulnerable-component",
        );
    }
}

#[test]
fn ignores_suppress_and_unused_ones_warn() {
    let env = TestEnv::new();
    let args = juice_args(&env, true);
    let p = juice_policy(
        &env,
        &format!(
            "[advisories]\nignore = [{{ id = \"{LODASH_GHSA}\", reason = \"the templates never reach _.merge\" }}]\n"
        ),
    );
    let v = allowed(&verify(&env, Some(p), "server.bin", &args));
    assert!(diags_of(&v, "vulnerable-component").is_empty());
    assert!(diags_of(&v, "advisory-ignore-unused").is_empty());

    // Case does not matter for GHSA ids.
    let p = juice_policy(
        &env,
        &format!(
            "[advisories]\nignore = [{{ id = \"{}\", reason = \"r\" }}]\n",
            LODASH_GHSA.to_uppercase()
        ),
    );
    allowed(&verify(&env, Some(p), "server.bin", &args));

    // An ignore that matches nothing warns, at its line; the real finding
    // still denies.
    let p = juice_policy(
        &env,
        "[advisories]\nignore = [{ id = \"GHSA-xxxx-xxxx-xxxx\", reason = \"stale\" }]\n",
    );
    let out = verify(&env, Some(p), "server.bin", &args);
    let v = denied_with(&out, "vulnerable-component");
    let unused = diags_of(&v, "advisory-ignore-unused");
    out.check(
        unused.len() == 1
            && unused[0]["severity"] == "warning"
            && unused[0]["message"]
                .as_str()
                .unwrap()
                .contains("GHSA-xxxx-xxxx-xxxx")
            && unused[0]["location"]
                .as_str()
                .unwrap()
                .starts_with("policy.toml:"),
        "one unused-ignore warning at its line",
    );

    // Both: allowed, with the warning.
    let p = juice_policy(
        &env,
        &format!(
            "[advisories]\nignore = [\n  {{ id = \"{LODASH_GHSA}\", reason = \"r\" }},\n  {{ id = \"GHSA-xxxx-xxxx-xxxx\", reason = \"stale\" }},\n]\n"
        ),
    );
    let v = allowed(&verify(&env, Some(p), "server.bin", &args));
    assert_eq!(diags_of(&v, "advisory-ignore-unused").len(), 1);
}

/// An ignore is unused only when no SBOM of the run needed it: a second
/// SBOM without the package does not make it stale.
#[test]
fn an_ignore_used_by_one_of_two_sboms_is_used() {
    let env = TestEnv::new();
    let mut args = juice_args(&env, true);
    bound_sbom(
        &env,
        "small.json",
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    args.extend([o("--sbom"), o("small.json")]);
    let p = juice_policy(
        &env,
        &format!("[advisories]\nignore = [{{ id = \"{LODASH_GHSA}\", reason = \"r\" }}]\n"),
    );
    let out = verify(&env, Some(p), "server.bin", &args);
    let v = allowed(&out);
    out.check(checks_of(&v, "sbom").len() == 2, "two SBOMs read")
        .no_diag("advisory-ignore-unused");
    // In either order.
    let mut swapped = vec![o("--sbom"), o("small.json")];
    swapped.extend(juice_args(&env, true));
    let out = verify(&env, Some(p), "server.bin", &swapped);
    allowed(&out);
    out.no_diag("advisory-ignore-unused");
}

#[test]
fn advisory_unknown_versions_and_unchecked_components() {
    let env = TestEnv::new();
    bound_sbom(
        &env,
        "bom.json",
        vec![
            // lodash has an advisory, and `latest` cannot be placed in it.
            lib(
                "lodash",
                "latest",
                Some("pkg:npm/lodash@latest"),
                Some("MIT"),
            ),
            // No OSV ecosystem for generic packages: not checked at all.
            lib("blob", "1.0.0", Some("pkg:generic/blob@1.0.0"), Some("MIT")),
            npm("left-pad", "1.3.0"),
        ],
        Some(TIMESTAMP),
    );
    let p = loose_policy(&env, "");
    let mut args = sbom_args("bom.json");
    args.extend([o("--advisories"), f("osv")]);
    let out = verify(&env, Some(p), "server.bin", &args);
    let v = denied_with(&out, "advisory-unknown");
    let unknown = diags_of(&v, "advisory-unknown");
    out.check(
        unknown.iter().any(|d| {
            d["severity"] == "error"
                && d["message"]
                    .as_str()
                    .unwrap()
                    .contains("pkg:npm/lodash@latest")
                && d["message"].as_str().unwrap().contains(LODASH_GHSA)
        }),
        "lodash@latest cannot be placed: an error",
    )
    .check(
        unknown.iter().any(|d| {
            d["severity"] == "warning"
                && d["message"].as_str().unwrap().contains("pkg:generic/blob")
        }),
        "the generic package is not checked: a warning",
    );
}

#[test]
fn advisories_path_problems() {
    let env = TestEnv::new();
    let p = juice_policy(&env, "");
    let mut args = juice_args(&env, false);
    args.extend([o("--advisories"), o("no-such-db")]);
    let out = verify(&env, Some(p), "server.bin", &args);
    out.code(2).diag("input-invalid");
    out.check(
        messages(&out.json(), "input-invalid")[0].contains("no-such-db"),
        "names the path",
    );

    // `db` in the policy is relative to the policy file, not to the
    // working directory.
    let dir = env.path("policies");
    fs::create_dir_all(dir.join("osv/npm")).unwrap();
    fs::copy(
        fixture(&format!("osv/npm/{LODASH_GHSA}.json")),
        dir.join(format!("osv/npm/{LODASH_GHSA}.json")),
    )
    .unwrap();
    env.write(
        "policies/policy.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nsource = \"{JUICE_SOURCE}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\n\n[advisories]\ndb = \"osv\"\n"
        ),
    );
    assert!(!env.path("osv").exists());
    let args = juice_args(&env, false);
    let out = verify(&env, Some("policies/policy.toml"), "server.bin", &args);
    denied_with(&out, "vulnerable-component");

    // A missing `db` is an input error too, naming the resolved path.
    env.write(
        "policies/missing.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nsource = \"{JUICE_SOURCE}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\n\n[advisories]\ndb = \"nowhere\"\n"
        ),
    );
    let out = verify(&env, Some("policies/missing.toml"), "server.bin", &args);
    out.code(2);
    out.check(
        messages(&out.json(), "input-invalid")[0].contains("policies/nowhere"),
        "resolved against the policy's directory",
    );

    // --advisories adds to the policy's db and does not replace it: the
    // missing one is still an error (tests/it/sbom_advisories.rs).
    let mut over = args.clone();
    over.extend([o("--advisories"), f("osv")]);
    let out = verify(&env, Some("policies/missing.toml"), "server.bin", &over);
    out.code(2);
    out.check(
        messages(&out.json(), "input-invalid")[0].contains("policies/nowhere"),
        "the policy's db is still loaded",
    );
}

// ---------------------------------------------------------------------------
// Fixtures and formats

#[test]
fn every_generated_fixture_is_read() {
    let env = TestEnv::new();
    artifact(&env);
    let mut files: Vec<_> = fs::read_dir(fixture("sbom/generated"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 21, "{files:?}");
    for file in files {
        let out = verify(
            &env,
            None,
            "server.bin",
            &[o("--sbom"), file.clone().into()],
        );
        let v = out.json();
        let sboms = checks_of(&v, "sbom");
        out.check(
            sboms.len() == 1 && sboms[0]["status"] == "read",
            &format!("{} is read", file.display()),
        )
        .check(
            sboms[0]["summary"]["components"].as_u64().unwrap_or(0) > 0,
            "with components",
        )
        .no_diag("sbom-malformed")
        .no_diag("sbom-unsupported");
    }
}

#[test]
fn spec_invalid_files_are_malformed() {
    let env = TestEnv::new();
    artifact(&env);
    let p = loose_policy(&env, "");
    for name in [
        "1.6/invalid-bomformat-1.6.json",
        "1.6/invalid-hash-sha256-1.6.json",
        "1.6/invalid-license-choice-1.6.json",
        "1.6/invalid-serialnumber-1.6.json",
        "1.5/invalid-metadata-timestamp-1.5.json",
        "1.5/invalid-component-type-1.5.json",
    ] {
        let file = fixture(&format!("sbom/cyclonedx/spec-tests/{name}"));
        let out = verify(
            &env,
            Some(p),
            "server.bin",
            &sbom_args(&file.display().to_string()),
        );
        let v = denied_with(&out, "sbom-malformed");
        let sboms = checks_of(&v, "sbom");
        out.check(
            sboms.len() == 1
                && sboms[0]["status"] == "fail"
                && sboms[0]["code"] == "sbom-malformed",
            "the sbom check fails",
        )
        .check(
            diags_of(&v, "evidence-missing").is_empty(),
            "not also missing",
        );
    }
    // And a valid one of the same suite is read.
    let file = fixture("sbom/cyclonedx/spec-tests/1.6/valid-bom-1.6.json");
    let out = verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args(&file.display().to_string()),
    );
    out.no_diag("sbom-malformed");
}

#[test]
fn spdx_3_is_unsupported() {
    let env = TestEnv::new();
    artifact(&env);
    let p = loose_policy(&env, "");
    let file = fixture("sbom/spdx/spdx3-package_sbom.jsonld.json");
    let out = verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args(&file.display().to_string()),
    );
    let v = denied_with(&out, "sbom-unsupported");
    assert!(messages(&v, "sbom-unsupported")[0].contains("SPDX 3"));
    // The empty SPDX 2.2 example is malformed, not a crash.
    let file = fixture("sbom/spdx/SPDXJSONExample-v2.2.spdx.json");
    let out = verify(
        &env,
        Some(p),
        "server.bin",
        &sbom_args(&file.display().to_string()),
    );
    denied_with(&out, "sbom-malformed");
}

// ---------------------------------------------------------------------------
// Bad input through the CLI

/// `n` components `pkg:npm/NAME@1.0.i` (all MIT), each with `pad` bytes of
/// description, under a top component `pkg:npm/big@1.0.0`.
fn big_sbom(n: usize, name: &str, pad: usize) -> String {
    let pad = "x".repeat(pad);
    let mut s = String::with_capacity(n * (170 + pad.len()) + 400);
    s.push_str(&format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"{SERIAL}","version":1,"metadata":{{"timestamp":"{TIMESTAMP}","component":{{"type":"application","name":"big","version":"1.0.0","purl":"pkg:npm/big@1.0.0"}}}},"components":["#
    ));
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"type":"library","name":"{name}","version":"1.0.{i}","purl":"pkg:npm/{name}@1.0.{i}","licenses":[{{"license":{{"id":"MIT"}}}}],"description":"{pad}"}}"#
        ));
    }
    s.push_str("]}");
    s
}

#[test]
fn a_fifty_megabyte_sbom() {
    let env = TestEnv::new();
    artifact(&env);
    let doc = big_sbom(24_000, "pkg", 2000);
    assert!(
        doc.len() > 50_000_000 && doc.len() < 64 << 20,
        "{}",
        doc.len()
    );
    env.write("big.json", &doc);
    let size = doc.len() as u64;
    drop(doc);
    let p = policy_with(&env, "source = \"npm:big@1.0.0\"", "", "");
    pin_as_fetched(&env, "npm:big@1.0.0");
    let out = env
        .cmd()
        .args([o("--policy"), o(p), o("--format"), o("json"), o("verify")])
        .args(sbom_args("big.json"))
        .measure_rss()
        .run();
    let v = allowed(&out);
    out.check(
        checks_of(&v, "sbom")[0]["summary"]["components"] == 24_000,
        "every component read",
    );
    println!(
        "50 MB SBOM: {:?}, peak RSS {:?} KiB",
        out.elapsed, out.peak_rss_kib
    );
    // Bounded memory: the items are checked one at a time, so the whole
    // process (the file's bytes included) stays within 3x the file.
    let rss = out.peak_rss_kib.expect("peak RSS measured");
    out.check(
        rss * 1024 < 3 * size,
        &format!("peak RSS {rss} KiB within 3x the {size}-byte file"),
    );
}

#[test]
fn a_hundred_thousand_components_list_twenty_findings_per_kind() {
    let env = TestEnv::new();
    artifact(&env);
    let n = 100_000;
    env.write("many.json", big_sbom(n, "evil", 0));
    let p = policy_with(
        &env,
        "source = \"npm:big@1.0.0\"",
        "deny-components = [{ purl = \"pkg:npm/evil\", reason = \"typosquat\" }]\ndeny-licenses = [\"MIT\"]\nnoassertion = \"allow\"",
        "",
    );
    pin_as_fetched(&env, "npm:big@1.0.0");
    let started = Instant::now();
    let out = env
        .cmd()
        .args([o("--policy"), o(p), o("--format"), o("json"), o("verify")])
        .args(sbom_args("many.json"))
        .timeout(Duration::from_secs(120))
        .run();
    let took = started.elapsed();
    println!("{n} components, every one denied twice: {took:?} (debug build)");
    let v = denied_with(&out, "component-denied");
    for (code, what) in [
        ("component-denied", "denied components"),
        ("license-denied", "components with denied licences"),
    ] {
        let m = messages(&v, code);
        out.check(
            m.len() == 21,
            &format!("{code}: 20 listed and one count, got {}", m.len()),
        )
        .check(
            m.last()
                .unwrap()
                .ends_with(&format!("and {} more {what}", n - 20)),
            &format!("{code}: the count line"),
        );
    }
    out.check(out.stdout.len() < 64 << 10, "the report stays small")
        .check(
            took < Duration::from_secs(60),
            "finishes in reasonable time",
        );

    // The human report is as bounded.
    let out = env.run([
        o("--policy"),
        o(p),
        o("verify"),
        o("--server"),
        o(SRV),
        o("--sbom"),
        o("many.json"),
    ]);
    out.code(1)
        .stdout_has("and 99980 more denied components")
        .check(out.stdout.lines().count() < 150, "a bounded human report");
}

#[test]
fn deep_nesting_fails_cleanly() {
    let env = TestEnv::new();
    artifact(&env);
    let p = loose_policy(&env, "");
    let depth = 10_000;
    // Valid JSON nested 10,000 deep: as a top-level member and inside a
    // component.
    env.write(
        "arrays.json",
        format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    );
    env.write(
        "components.json",
        format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":{}[]{}}}"#,
            r#"[{"type":"library","name":"x","components":"#.repeat(depth),
            "}]".repeat(depth)
        ),
    );
    // A bare array is not an SBOM, however deep.
    env.write(
        "bare.json",
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
    );
    let out = verify(&env, Some(p), "server.bin", &sbom_args("bare.json"));
    let v = denied_with(&out, "sbom-malformed");
    out.check(
        messages(&v, "sbom-malformed")[0].contains("not an object"),
        "says why",
    );
    for file in ["arrays.json", "components.json"] {
        let out = verify(&env, Some(p), "server.bin", &sbom_args(file));
        let v = denied_with(&out, "sbom-malformed");
        out.check(
            messages(&v, "sbom-malformed")[0].contains("recursion limit"),
            "says why",
        );
    }
}

#[test]
fn invalid_purls_are_warnings() {
    let env = TestEnv::new();
    bound_sbom(
        &env,
        "bom.json",
        vec![
            npm("left-pad", "1.3.0"),
            lib("bad", "1.0.0", Some("not-a-purl"), Some("MIT")),
            lib("no-type", "1.0.0", Some("pkg:/x@1"), Some("MIT")),
        ],
        Some(TIMESTAMP),
    );
    let p = loose_policy(&env, "");
    let out = verify(&env, Some(p), "server.bin", &sbom_args("bom.json"));
    let v = allowed(&out);
    let sbom = &checks_of(&v, "sbom")[0];
    out.check(sbom["summary"]["warnings"] == 2, "two warnings counted")
        .check(
            sbom["summary"]["without_purl"] == 2,
            "two components without purl",
        )
        .check(
            sbom["warnings"].as_array().is_some_and(|w| {
                w.len() == 2
                    && w[0]
                        .as_str()
                        .unwrap()
                        .contains("`bad`: invalid purl `not-a-purl`")
            }),
            "the warnings are in the report",
        );
    let out = env.run([
        "--policy",
        p,
        "verify",
        "server.bin",
        "--server",
        SRV,
        "--sbom",
        "bom.json",
    ]);
    out.code(0)
        .stdout_has("      warning: component `bad`: invalid purl `not-a-purl` left out");

    // With advisories on, the two components without a purl escape them:
    // under a required SBOM that denies, unless the policy says to warn.
    let mut args = sbom_args("bom.json");
    args.extend([o("--advisories"), f("osv")]);
    let out = verify(&env, Some(p), "server.bin", &args);
    let v = denied_with(&out, "component-unidentified");
    let m = messages(&v, "component-unidentified");
    out.check(
        m.len() == 2
            && m[0].contains("`bad 1.0.0` has no valid purl")
            && m[1].contains("`no-type 1.0.0`"),
        "both components without a purl are named",
    );
    let p = loose_policy(&env, "unidentified = \"warn\"\n");
    let out = verify(&env, Some(p), "server.bin", &args);
    let v = allowed(&out);
    out.check(
        diags_of(&v, "component-unidentified")
            .iter()
            .all(|d| d["severity"] == "warning")
            && diags_of(&v, "component-unidentified").len() == 2,
        "`unidentified = \"warn\"` makes them warnings",
    );
}

#[test]
fn unknown_spec_versions_are_unsupported() {
    let env = TestEnv::new();
    let sha = artifact(&env);
    let p = loose_policy(&env, "");
    let mut doc = cdx(
        top_with_hashes(&[("SHA-256", sha)]),
        vec![npm("left-pad", "1.3.0")],
        Some(TIMESTAMP),
    );
    doc["specVersion"] = json!("1.9");
    env.write("future.json", serde_json::to_vec(&doc).unwrap());
    let out = verify(&env, Some(p), "server.bin", &sbom_args("future.json"));
    let v = denied_with(&out, "sbom-unsupported");
    assert!(messages(&v, "sbom-unsupported")[0].contains("`1.9`"));

    env.write(
        "old.xml",
        r#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.1" version="1"/>"#,
    );
    denied_with(
        &verify(&env, Some(p), "server.bin", &sbom_args("old.xml")),
        "sbom-unsupported",
    );
    env.write(
        "spdx9.json",
        r#"{"spdxVersion":"SPDX-9.0","SPDXID":"SPDXRef-DOCUMENT"}"#,
    );
    denied_with(
        &verify(&env, Some(p), "server.bin", &sbom_args("spdx9.json")),
        "sbom-unsupported",
    );
}

#[test]
fn an_oversized_sbom_is_an_input_error() {
    let env = TestEnv::new();
    artifact(&env);
    // Sparse: takes no disk.
    let file = fs::File::create(env.path("huge.json")).unwrap();
    file.set_len((64 << 20) + 1).unwrap();
    drop(file);
    let p = loose_policy(&env, "");
    let out = verify(&env, Some(p), "server.bin", &sbom_args("huge.json"));
    out.code(2).diag("input-invalid");
    out.check(
        messages(&out.json(), "input-invalid")[0].contains("limit"),
        "says it is over the limit",
    );
    // Empty and missing files.
    env.write("empty.json", "");
    denied_with(
        &verify(&env, Some(p), "server.bin", &sbom_args("empty.json")),
        "sbom-malformed",
    );
    verify(&env, Some(p), "server.bin", &sbom_args("missing.json"))
        .code(2)
        .diag("input-invalid");
}

// ---------------------------------------------------------------------------
// Policy check

#[test]
fn policy_check_errors_in_sbom_and_advisory_rules() {
    let env = TestEnv::new();
    env.write(
        "bad.toml",
        r#"version = 1

[[servers]]
name = "a"

[servers.sbom]
max-age = "ninety days"
deny-components = [
  { purl = "pkg:npm/event-stream" },
  { purl = "npm/not a purl", reason = "x" },
  { purl = "pkg:npm/lodash@4.17.21", reason = "x" },
  { reason = "names nothing" },
  { name = "x", versions = "not a range", reason = "x" },
]
allow-licenses = ["MIT"]

[[servers]]
name = "b"

[servers.sbom]
deny-licenses = ["GPL-3.0-only"]
noassertion = "sometimes"

[[servers]]
name = "c"

[servers.sbom]
allow-licenses = ["Not A Licence!"]
noassertion = "deny"

[advisories]
severity = "severe"
ignore = [{ id = "GHSA-p6mc-m468-83gw" }, { reason = "no id" }]
"#,
    );
    let want = [
        (
            "policy-type",
            "bad.toml:6:1",
            "licence lists need an explicit rule",
        ),
        (
            "policy-bad-pattern",
            "bad.toml:7:11",
            "invalid duration `ninety days`",
        ),
        (
            "policy-missing-reason",
            "bad.toml:9:3",
            "a denied component has no `reason`",
        ),
        (
            "policy-bad-pattern",
            "bad.toml:10:3",
            "`npm/not a purl` is not a valid purl",
        ),
        (
            "policy-bad-pattern",
            "bad.toml:11:3",
            "`pkg:npm/lodash@4.17.21` names a version",
        ),
        (
            "policy-type",
            "bad.toml:12:3",
            "a denied component has neither `purl` nor `name`",
        ),
        (
            "policy-bad-pattern",
            "bad.toml:13:28",
            "invalid version range `not a range`",
        ),
        (
            "policy-type",
            "bad.toml:22:15",
            "unknown `noassertion` rule `sometimes`",
        ),
        (
            "policy-bad-pattern",
            "bad.toml:28:19",
            "`Not A Licence!` in the licence allow list",
        ),
        ("policy-type", "bad.toml:32:12", "unknown severity `severe`"),
        (
            "policy-missing-reason",
            "bad.toml:33:11",
            "an ignored advisory has no `reason`",
        ),
        (
            "policy-type",
            "bad.toml:33:43",
            "an ignored advisory has no `id`",
        ),
    ];
    let out = env.run(["policy", "check", "bad.toml"]);
    out.code(1)
        .stdout_has(&format!("bad.toml: {} error(s), 0 warning(s)", want.len()));
    for (code, loc, msg) in want {
        out.stdout_has(&format!("error[{code}]: {loc}: {msg}"));
    }
    // Every one has a hint.
    let out = env.run(["--format", "json", "policy", "check", "bad.toml"]);
    out.code(1);
    for d in out.json()["diagnostics"].as_array().unwrap() {
        out.check(d["hint"].is_string(), &format!("a hint for {d}"));
    }
    // verify refuses to work under it.
    artifact(&env);
    verify(
        &env,
        Some("bad.toml"),
        "server.bin",
        &[o("--server"), o("a")],
    )
    .code(2);

    // noassertion without a list is a contradiction; the good forms pass.
    env.write(
        "ok.toml",
        "version = 1\n\n[[servers]]\nname = \"a\"\n\n[servers.sbom]\nrequire = true\nsigned = false\nmax-age = \"90d\"\ndeny-components = [{ purl = \"pkg:npm/event-stream\", versions = \"=3.3.6\", reason = \"compromised\" }, { name = \"left-pad\", reason = \"x\" }]\nallow-licenses = [\"MIT\", \"GPL-2.0-only WITH Classpath-exception-2.0\"]\ndeny-licenses = [\"AGPL-3.0-only\"]\nnoassertion = \"warn\"\n\n[advisories]\ndb = \"osv\"\nseverity = \"critical\"\nignore = [{ id = \"GHSA-p6mc-m468-83gw\", reason = \"not reachable\" }]\n",
    );
    env.run(["policy", "check", "ok.toml"])
        .code(0)
        .stdout_has("ok.toml: 0 error(s), 0 warning(s)");
    env.write(
        "lonely.toml",
        "version = 1\n\n[[servers]]\nname = \"a\"\n\n[servers.sbom]\nnoassertion = \"deny\"\n",
    );
    env.run(["policy", "check", "lonely.toml"])
        .code(1)
        .stdout_has("error[policy-contradiction]: lonely.toml:7:15:");
}

// ---------------------------------------------------------------------------
// Reports

#[test]
fn json_report_summarises_juice_shop() {
    let env = TestEnv::new();
    let args = juice_args(&env, false);
    let p = juice_policy(&env, "");
    let out = verify(&env, Some(p), "server.bin", &args);
    let v = allowed(&out);
    let sboms = checks_of(&v, "sbom");
    out.check(sboms.len() == 1, "one sbom check");
    let s = &sboms[0]["summary"];
    out.check(sboms[0]["status"] == "read", "read")
        .check(
            sboms[0]["file"].as_str().unwrap().ends_with("bom.1.4.json"),
            "names the file",
        )
        .check(s["format"] == "CycloneDX 1.4 JSON", "format")
        .check(s["components"] == 1115, "1,115 components")
        .check(s["ecosystems"]["npm"] == 1115, "all npm")
        .check(s["without_purl"] == 0, "all with purls")
        .check(s["licenses"]["MIT"] == 931, "931 MIT")
        .check(s["without_license"] == 9, "9 without a licence")
        .check(s["warnings"] == 0, "no warnings");
    let licensed: u64 = s["licenses"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    out.check(licensed + 9 == 1115, "the licence counts add up");
    let policy = checks_of(&v, "policy");
    out.check(
        policy.len() == 1 && policy[0]["status"] == "pass",
        "the policy check passes",
    );
}

#[test]
fn human_summary_lines() {
    let env = TestEnv::new();
    artifact(&env);
    pin_as_fetched(&env, JUICE_SOURCE);
    let p = juice_policy(&env, "");
    let juice = fixture(JUICE).display().to_string();
    let base = [
        "--policy",
        p,
        "verify",
        "--server",
        SRV,
        "--sbom",
        juice.as_str(),
    ];
    let out = env.run(base);
    out.code(0)
        .stdout_has(&format!(
            "READ  sbom       {juice} [CycloneDX 1.4 JSON, 1115 components]\n"
        ))
        .stdout_lacks("licences:")
        .stdout_lacks("ecosystems:");
    let mut with = base.to_vec();
    with.push("--summary");
    let out = env.run(&with);
    out.code(0)
        .stdout_has(&format!(
            "READ  sbom       {juice} [CycloneDX 1.4 JSON, 1115 components]\n      licences: MIT 931, ISC 108, BSD-3-Clause 18, Apache-2.0 16,"
        ))
        .stdout_has(", and 7 more (none given: 9)\n      ecosystems: npm 1115\n")
        .stdout_has("ALLOWED  user policy: SBOM ");
    // --summary changes nothing in JSON, which always has the summary.
    let mut json = vec!["--format", "json"];
    json.extend(with.iter().copied());
    let out = env.run(&json);
    out.code(0);
    out.check(
        checks_of(&out.json(), "sbom")[0]["summary"]["components"] == 1115,
        "the summary is there",
    );
}
