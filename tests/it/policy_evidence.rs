//! Every signed thing answers to the same rule: `signers` and
//! `[servers.identity]` bind signatures, provenance and SBOMs alike, and
//! `builder-id` is a further condition, never an alternative; only
//! statements that endorse the artifact count as its signature; globs over
//! refs and workflow paths stop at `/`, and identity values with control
//! characters are refused; `policy explain` shows each kind's rules.

use std::ffi::OsString;

use serde_json::{Value, json};

use super::support::util::*;

// SLSA v0.2 by the generic generator, from slsa-framework/example-package
// at refs/heads/main (fixtures/README.md).
use super::provenance::{GENERATOR, GENERATOR_GLOB, GHA, GHA_GENERIC, GHA_GENERIC_PROV};

const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
const TEST_RESULT: &str = "https://in-toto.io/attestation/test-result/v0.1";
const VSA_V1: &str = "https://slsa.dev/verification_summary/v1";

/// `[--policy P] --format json ARGS...`.
fn json_run(env: &TestEnv, policy: &str, args: &[OsString]) -> Output {
    let mut all = vec![o("--policy"), o(policy), o("--format"), o("json")];
    all.extend(args.iter().cloned());
    env.run(&all)
}

/// Denied, exit 1, and the errors are exactly `codes`.
#[track_caller]
fn denied_with(out: &Output, codes: &[&str]) {
    out.code(1);
    let v = out.json();
    out.check(v["verdict"] == "denied", "verdict denied").check(
        error_codes(&v) == codes,
        &format!("errors {codes:?}, got {:?}", error_codes(&v)),
    );
}

#[track_caller]
fn allowed(out: &Output) {
    out.code(0);
    let v = out.json();
    out.check(v["verdict"] == "allowed", "verdict allowed")
        .check(error_codes(&v).is_empty(), "no errors");
}

fn trust_generator(env: &TestEnv) {
    env.run([
        "trust",
        "add-identity",
        "--name",
        "slsa-generator",
        "--issuer",
        GHA,
        "--identity",
        GENERATOR,
        "--scope",
        "*",
    ])
    .code(0);
}

/// A policy requiring provenance of `pkg`, with `entry` added to its
/// `[[servers]]` entry and the given tables after it.
fn policy(env: &TestEnv, name: &str, entry: &str, tables: &str) -> String {
    env.write(
        name,
        format!(
            "version = 1\n\n[defaults]\nrequire = [\"provenance\"]\n\n[[servers]]\nname = \"pkg\"\n{entry}\n{tables}"
        ),
    );
    name.to_string()
}

const ACME_CLAIMS: &str = "[servers.identity]\nrepository = \"acme/x\"\nref = \"refs/tags/v*\"\nworkflow = \".github/workflows/release.yml\"\n";

fn builder_rule() -> String {
    format!("[servers.provenance]\nbuilder-id = \"{GENERATOR_GLOB}\"\n")
}

fn verify_pkg(env: &TestEnv, p: &str) -> Output {
    json_run(
        env,
        p,
        &[
            o("verify"),
            f(GHA_GENERIC),
            o("--provenance"),
            f(GHA_GENERIC_PROV),
            o("--server"),
            o("pkg"),
        ],
    )
}

fn add_pkg(env: &TestEnv, p: &str) -> Output {
    env.copy_fixture(GHA_GENERIC, "artifact.bin");
    json_run(
        env,
        p,
        &[
            o("add"),
            o("pkg"),
            o("./artifact.bin"),
            o("--provenance"),
            f(GHA_GENERIC_PROV),
        ],
    )
}

fn pinned(env: &TestEnv) -> bool {
    let lock = env.home.join("config/servers.lock");
    std::fs::read_to_string(lock)
        .is_ok_and(|t| t.contains("[servers.pkg]") || t.contains("name = \"pkg\""))
}

// ---------------------------------------------------------------------------
// 1. `builder-id` is a condition, not a signer.

#[test]
fn builder_id_does_not_replace_signers_or_identity_claims() {
    let env = TestEnv::new();
    let key = PemKey::generate(&env, "acme");
    env.trust_key(&key.public, "acme-ci", &["*"]);

    // The attack: the author wrote who signs and from where; the real
    // provenance of another repository by the named builder is refused.
    let attack = policy(
        &env,
        "attack.toml",
        "signers = [\"acme-ci\"]\n",
        &format!("{ACME_CLAIMS}\n{}", builder_rule()),
    );
    let out = verify_pkg(&env, &attack);
    denied_with(&out, &["identity-claims-mismatch"]);
    out.check(
        out.diagnostic("identity-claims-mismatch")["message"]
            .as_str()
            .unwrap()
            .contains("repository `https://github.com/slsa-framework/example-package`"),
        "the message names the certificate's repository",
    );
    let out = add_pkg(&env, &attack);
    denied_with(&out, &["identity-claims-mismatch"]);
    out.check(!pinned(&env), "nothing is pinned");

    // Without identity claims, `signers` alone refuses the builder's
    // certificate, trusted or not.
    let signers_only = policy(
        &env,
        "signers.toml",
        "signers = [\"acme-ci\"]\n",
        &builder_rule(),
    );
    denied_with(&verify_pkg(&env, &signers_only), &["signer-not-allowed"]);
    denied_with(&add_pkg(&env, &signers_only), &["signer-not-allowed"]);
    trust_generator(&env);
    denied_with(&verify_pkg(&env, &signers_only), &["signer-not-allowed"]);

    // `[defaults] signers` binds as the entry's does.
    env.write(
        "defaults.toml",
        format!(
            "version = 1\n\n[defaults]\nrequire = [\"provenance\"]\nsigners = [\"acme-ci\"]\n\n[[servers]]\nname = \"pkg\"\n\n{}",
            builder_rule()
        ),
    );
    denied_with(&verify_pkg(&env, "defaults.toml"), &["signer-not-allowed"]);

    // No `signers`: the certificate-bound builder anchors trust, and the
    // identity claims still bind.
    let untrusted = TestEnv::new();
    let claims_only = policy(
        &untrusted,
        "claims.toml",
        "",
        &format!("{ACME_CLAIMS}\n{}", builder_rule()),
    );
    denied_with(
        &verify_pkg(&untrusted, &claims_only),
        &["identity-claims-mismatch"],
    );
    let builder_only = policy(&untrusted, "builder.toml", "", &builder_rule());
    allowed(&verify_pkg(&untrusted, &builder_only));

    // The legitimate policy: the repository, ref and workflow the
    // certificate carries, signed by the trusted generator.
    let good_claims = "[servers.identity]\nrepository = \"slsa-framework/example-package\"\nref = \"refs/heads/*\"\nworkflow = \".github/workflows/*.yml\"\n";
    let good = policy(
        &env,
        "good.toml",
        "signers = [\"slsa-generator\"]\n",
        &format!("{good_claims}\n{}", builder_rule()),
    );
    allowed(&verify_pkg(&env, &good));
    let out = add_pkg(&env, &good);
    allowed(&out);
    out.check(
        out.json()["pinned"]["signers"] == json!(["slsa-generator"]),
        "pinned, signed by the generator",
    );
    // Claims that stop at `/`: a workflow glob without the directory
    // does not match the workflow path.
    let shallow = policy(
        &env,
        "shallow.toml",
        "signers = [\"slsa-generator\"]\n",
        "[servers.identity]\nworkflow = \"*.yml\"\n",
    );
    denied_with(&verify_pkg(&env, &shallow), &["identity-claims-mismatch"]);
}

// ---------------------------------------------------------------------------
// DSSE statements signed here by a key the trust store holds.

struct World {
    env: TestEnv,
    key: PemKey,
    artifact: Vec<u8>,
}

impl World {
    fn new() -> Self {
        let env = TestEnv::new();
        let key = PemKey::generate(&env, "ci");
        let artifact = noise(4096 + 3, 0xe71d);
        env.write("widget.bin", &artifact);
        env.trust_key(&key.public, "acme-ci", &["widget"]);
        World { env, key, artifact }
    }

    fn statement(&self, predicate_type: &str, predicate: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "widget.bin", "digest": {"sha256": sha256_hex(&self.artifact)}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }))
        .unwrap()
    }

    fn sign(&self, out: &str, payload: &[u8]) -> OsString {
        self.key
            .dsse_payload(&self.env, out, IN_TOTO, payload)
            .file_name()
            .unwrap()
            .into()
    }

    fn run(&self, policy: &str, flag: &str, file: &OsString) -> Output {
        json_run(
            &self.env,
            policy,
            &[
                o("verify"),
                o("widget.bin"),
                o(flag),
                file.clone(),
                o("--server"),
                o("widget"),
            ],
        )
    }
}

fn test_result(result: &str) -> Value {
    json!({"result": result, "configuration": [], "passedTests": [], "failedTests": ["all"]})
}

fn vsa(result: &str) -> Value {
    json!({
        "verifier": {"id": "https://verifier.example.com"},
        "timeVerified": "2026-01-01T00:00:00Z",
        "resourceUri": "https://example.com/widget.bin",
        "policy": {"uri": "https://example.com/policy"},
        "verificationResult": result,
        "verifiedLevels": ["SLSA_BUILD_LEVEL_3"],
    })
}

fn slsa_v1(source_ref: &str) -> Value {
    json!({
        "buildDefinition": {
            "buildType": "https://ci.example.com/buildtypes/release/v1",
            "externalParameters": {"workflow": {
                "repository": "https://github.com/acme/widget",
                "ref": source_ref,
                "path": ".github/workflows/release.yml",
            }},
            "resolvedDependencies": [{
                "uri": format!("git+https://github.com/acme/widget@{source_ref}"),
                "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"},
            }],
        },
        "runDetails": {"builder": {"id": "https://ci.example.com/builders/release@v3"}},
    })
}

// 7. Only endorsements are signatures.

#[test]
fn a_signed_statement_that_does_not_endorse_is_no_signature() {
    let w = World::new();
    w.env.write(
        "sig.toml",
        "version = 1\n\n[defaults]\nrequire = [\"signature\"]\n",
    );
    let refused = [
        ("failed.json", TEST_RESULT, test_result("FAILED")),
        ("passed-test.json", TEST_RESULT, test_result("PASSED")),
        ("vsa-failed.json", VSA_V1, vsa("FAILED")),
        ("vsa-lower.json", VSA_V1, vsa("passed")),
        ("vsa-none.json", VSA_V1, json!({"verifier": {"id": "x"}})),
        // Predicate types are compared exactly: another spelling is
        // another predicate.
        (
            "case.json",
            "https://SLSA.dev/provenance/v1",
            slsa_v1("refs/tags/v1"),
        ),
        (
            "slash.json",
            "https://slsa.dev/provenance/v1/",
            slsa_v1("refs/tags/v1"),
        ),
    ];
    for (file, pt, predicate) in refused {
        let env_file = w.sign(file, &w.statement(pt, predicate));
        let out = w.run("sig.toml", "--signature", &env_file);
        denied_with(&out, &["signature-missing"]);
        let note = out.diagnostic("statement-not-endorsement");
        out.check(note["severity"] == "warning", "a warning").check(
            note["message"]
                .as_str()
                .unwrap()
                .contains("does not count as a signature of `widget`"),
            "the note says why",
        );
    }
    for (file, pt, predicate) in [
        ("vsa-passed.json", VSA_V1, vsa("PASSED")),
        ("slsa.json", SLSA_V1, slsa_v1("refs/tags/v1")),
    ] {
        let env_file = w.sign(file, &w.statement(pt, predicate));
        let out = w.run("sig.toml", "--signature", &env_file);
        allowed(&out);
        out.no_diag("statement-not-endorsement");
    }
    // A non-endorsement beside a real signature: allowed, and still said.
    let bad = w.sign(
        "failed2.json",
        &w.statement(TEST_RESULT, test_result("FAILED")),
    );
    let good = w.sign("slsa2.json", &w.statement(SLSA_V1, slsa_v1("refs/tags/v1")));
    let out = json_run(
        &w.env,
        "sig.toml",
        &[
            o("verify"),
            o("widget.bin"),
            o("--signature"),
            bad,
            o("--signature"),
            good,
            o("--server"),
            o("widget"),
        ],
    );
    allowed(&out);
    out.diag("statement-not-endorsement");
}

// 8. Globs over refs stop at `/`; identity values are printable.

#[test]
fn source_ref_globs_stop_at_slash_and_control_characters_are_refused() {
    let w = World::new();
    let rules = |source_ref: &str| {
        w.env.write(
            "prov.toml",
            format!(
                "version = 1\n\n[defaults]\nrequire = [\"provenance\"]\n\n[[servers]]\nname = \"widget\"\n\n[servers.provenance]\nsource-ref = \"{source_ref}\"\n"
            ),
        );
        "prov.toml"
    };
    let prov =
        |name: &str, source_ref: &str| w.sign(name, &w.statement(SLSA_V1, slsa_v1(source_ref)));

    let p = rules("refs/tags/v*");
    allowed(&w.run(p, "--provenance", &prov("tag.json", "refs/tags/v1.2.3")));
    let out = w.run(p, "--provenance", &prov("deeper.json", "refs/tags/v1/evil"));
    denied_with(&out, &["source-mismatch"]);
    for (name, value) in [
        ("dotdot.json", "refs/tags/v1/../../heads/main"),
        ("newline.json", "refs/tags/v1\n"),
        ("cr.json", "refs/tags/v1\r"),
        ("tab.json", "refs/tags/v1\tx"),
        ("nul.json", "refs/tags/v1\0"),
        ("bidi.json", "refs/tags/v1\u{202e}niam"),
        ("zwsp.json", "refs/tags/v\u{200b}1"),
        ("c1.json", "refs/tags/v1\u{85}"),
    ] {
        let out = w.run(p, "--provenance", &prov(name, value));
        denied_with(&out, &["identity-value-invalid"]);
    }
    // The same newline written as a JSON escape by hand.
    let raw = String::from_utf8(w.statement(SLSA_V1, slsa_v1("REF"))).unwrap();
    let escaped = raw
        .replace("\"REF\"", "\"refs/tags/v1\\u000a\"")
        .replace("@REF\"", "@refs/tags/v1\\u000a\"");
    let out = w.run(
        p,
        "--provenance",
        &w.sign("escaped.json", escaped.as_bytes()),
    );
    denied_with(&out, &["identity-value-invalid"]);
    // A builder id with a newline, whatever the rules.
    let mut bad_builder = slsa_v1("refs/tags/v1");
    bad_builder["runDetails"]["builder"]["id"] =
        json!("https://ci.example.com/builders/release@v3\nx");
    let out = w.run(
        p,
        "--provenance",
        &w.sign("builder.json", &w.statement(SLSA_V1, bad_builder)),
    );
    denied_with(&out, &["identity-value-invalid"]);

    // `**` as a whole segment crosses `/`, as documented.
    let p = rules("refs/tags/**");
    allowed(&w.run(
        p,
        "--provenance",
        &prov("deep-ok.json", "refs/tags/v1/evil"),
    ));
    // Elsewhere `**` is `*`.
    let p = rules("refs/tags/v**");
    denied_with(
        &w.run(
            p,
            "--provenance",
            &prov("deep-no.json", "refs/tags/v1/evil"),
        ),
        &["source-mismatch"],
    );
}

// Explain: each kind's rules, per layer.

#[test]
fn explain_shows_each_kinds_rules() {
    let env = TestEnv::new();
    let key = PemKey::generate(&env, "acme");
    env.trust_key(&key.public, "acme-ci", &["*"]);
    env.write("osv/README", "an empty advisory database\n");
    env.write(
        "full.toml",
        format!(
            "version = 1\n\n[defaults]\nrequire = [\"signature\", \"provenance\", \"sbom\"]\n\n\
             [[servers]]\nname = \"pkg\"\nsigners = [\"acme-ci\"]\n\n{ACME_CLAIMS}\n\
             [servers.provenance]\nbuilder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"acme/x\"\nsource-ref = \"refs/tags/v*\"\nbuild-type = \"https://github.com/slsa-framework/slsa-github-generator/generic@v1\"\n\n\
             [servers.sbom]\nmax-age = \"90d\"\ndeny-components = [{{ purl = \"pkg:npm/event-stream\", versions = \"3.3.6\", reason = \"compromised\" }}]\n\
             allow-licenses = [\"MIT\"]\ndeny-licenses = [\"AGPL-3.0-only\"]\nnoassertion = \"deny\"\nunidentified = \"warn\"\n\n\
             [advisories]\ndb = \"osv/\"\nseverity = \"high\"\nignore = [{{ id = \"GHSA-xxxx-xxxx-xxxx\", reason = \"not reachable\" }}]\nmax-age = \"7d\"\nstale = \"deny\"\n\n\
             [sources]\nprovenance = \"top\"\n"
        ),
    );
    let out = env.run([
        "--policy",
        "full.toml",
        "--format",
        "json",
        "policy",
        "explain",
        "pkg",
    ]);
    out.code(0);
    let v = out.json();
    let rules = v["layers"][0]["rules"].as_array().unwrap().clone();
    let section = |name: &str| -> Vec<String> {
        rules
            .iter()
            .filter(|r| r["section"] == name)
            .map(|r| r["what"].as_str().unwrap().to_string())
            .collect()
    };
    let has = |name: &str, needle: &str| {
        let s = section(name);
        assert!(
            s.iter().any(|w| w.contains(needle)),
            "section {name} should say {needle:?}: {s:#?}"
        );
    };
    for kind in ["signature", "provenance", "sbom"] {
        has(kind, &format!("{kind}: required"));
        has(kind, "signers: acme-ci (bind every signed thing");
        has(
            kind,
            "identity claims: the signer must be a keyless CI identity with repository acme/x, ref refs/tags/v*, workflow .github/workflows/release.yml",
        );
    }
    has("signature", "verification summary whose result is PASSED");
    has(
        "provenance",
        &format!(
            "builder-id: one of {GENERATOR_GLOB} (a condition on the builder, in addition to the signers)"
        ),
    );
    has("provenance", "source-repo: acme/x");
    has("provenance", "source-ref: refs/tags/v* (`*` stops at `/`");
    has(
        "provenance",
        "build-type: one of https://github.com/slsa-framework/slsa-github-generator/generic@v1",
    );
    has(
        "provenance",
        "source repository, ref and commit must be the certificate's",
    );
    has(
        "provenance",
        "([sources] provenance): required of the package itself",
    );
    has("sbom", "signed: yes");
    has("sbom", "max-age: 90d");
    has(
        "sbom",
        "deny-components: pkg:npm/event-stream 3.3.6 — compromised",
    );
    has("sbom", "allow-licenses: MIT");
    has("sbom", "deny-licenses: AGPL-3.0-only");
    has("sbom", "noassertion: deny");
    has("sbom", "unidentified: warn");
    has(
        "sbom",
        "advisories: db osv/, severity high and above denies",
    );
    has(
        "sbom",
        "advisories ignore: GHSA-xxxx-xxxx-xxxx — not reachable",
    );
    has("sbom", "advisory database max-age 7d, stale: deny");
    // With `signers` written, the builder does not anchor trust.
    assert!(
        !section("provenance")
            .iter()
            .any(|w| w.contains("or the certificate of a builder")),
        "{:#?}",
        section("provenance")
    );

    // The text form: one header per kind, the same lines.
    let out = env.run(["--policy", "full.toml", "policy", "explain", "pkg"]);
    out.code(0)
        .stdout_has("  [signature]\n  signature: required\n")
        .stdout_has("  [provenance]\n  provenance: required\n")
        .stdout_has("  [sbom]\n  sbom: required\n")
        .stdout_has("  builder-id: one of ")
        .stdout_has("  deny-components: pkg:npm/event-stream 3.3.6 — compromised\n");

    // No `signers`: the builder named by `builder-id` may anchor trust.
    env.write(
        "nosigners.toml",
        format!("version = 1\n\n[defaults]\nrequire = [\"provenance\"]\n\n[[servers]]\nname = \"pkg\"\n\n{}", builder_rule()),
    );
    let out = env.run([
        "--policy",
        "nosigners.toml",
        "--format",
        "json",
        "policy",
        "explain",
        "pkg",
    ]);
    out.code(0);
    let v = out.json();
    assert!(
        v["layers"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["section"] == "provenance"
                && r["what"]
                    .as_str()
                    .unwrap()
                    .contains("or the certificate of a builder `builder-id` names")),
        "{v:#}"
    );
}

// 1, for SBOMs: the same rule binds an SBOM attestation's signer.

#[test]
fn signers_and_identity_claims_bind_a_signed_sbom() {
    let w = World::new();
    let other = PemKey::generate(&w.env, "other");
    w.env.trust_key(&other.public, "other-ci", &["widget"]);
    let bom =
        json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []});
    let att = w.sign(
        "bom.att.json",
        &w.statement("https://cyclonedx.org/bom", bom),
    );
    let sbom_policy = |name: &str, entry: &str| {
        w.env.write(
            name,
            format!("version = 1\n\n[defaults]\nrequire = [\"sbom\"]\n\n[[servers]]\nname = \"widget\"\n{entry}"),
        );
        name.to_string()
    };
    let plain = sbom_policy("plain.toml", "");
    allowed(&w.run(&plain, "--sbom", &att));
    let listed = sbom_policy("listed.toml", "signers = [\"other-ci\"]\n");
    denied_with(&w.run(&listed, "--sbom", &att), &["signer-not-allowed"]);
    let claims = sbom_policy(
        "claims.toml",
        "\n[servers.identity]\nrepository = \"acme/widget\"\n",
    );
    let out = w.run(&claims, "--sbom", &att);
    denied_with(&out, &["identity-claims-mismatch"]);
    out.check(
        out.diagnostic("identity-claims-mismatch")["message"]
            .as_str()
            .unwrap()
            .contains("signed by a key, not by a CI workflow identity"),
        "the message says why",
    );
}
