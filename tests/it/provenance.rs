//! Build provenance (`verify --provenance`): the slsa-verifier fixtures
//! judged as their names say, the binding of a statement to the artifact's
//! own digest, `[servers.provenance]` rules each failing with its own code,
//! who may vouch for a builder, DSSE provenance signed by a pinned ed25519
//! key made here with openssl, malformed files, and the reports.

use std::ffi::OsString;
use std::fs;

use serde_json::{Value, json};

use super::support::util::*;

pub(super) const GHA: &str = "https://token.actions.githubusercontent.com";

/// SLSA v0.2 by the generic generator, from slsa-framework/example-package.
pub(super) const GHA_GENERIC: &str = "slsa/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch";
pub(super) const GHA_GENERIC_PROV: &str =
    "slsa/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl";
pub(super) const GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0";
pub(super) const GENERATOR_GLOB: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v*";
const GENERIC_TYPE: &str = "https://github.com/slsa-framework/slsa-github-generator/generic@v1";
const EXAMPLE_REPO: &str = "https://github.com/slsa-framework/example-package";
const EXAMPLE_COMMIT: &str = "4d329c75e7ec1725f7c9ce917a8799d408d06be3";

/// SLSA v1 by the publish-to-bcr reusable workflow, from aspect-build/rules_lint.
const BCR: &str = "slsa/bcr/MODULE.bazel";
const BCR_PROV: &str = "slsa/bcr/MODULE.bazel.intoto.jsonl";
const BCR_WRONG_SIGNER: &str = "slsa/bcr/MODULE-wrong-signer.bazel.intoto.jsonl";
const BCR_BUILDER: &str = "https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml@refs/tags/v0.0.1";

/// npm attestations: the registry's publish attestation and SLSA v1 by
/// GitHub's hosted runner, from sigstore/sigstore-js.
const NPM_TGZ: &str = "slsa/npm/gha/provenance-npm-test-cli-v1-prega.tgz";
const NPM_DOC: &str = "slsa/npm/gha/provenance-npm-test-cli-v1-prega.tgz.json";
const NPM_BAD_TGZ: &str = "slsa/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigprov.tgz";
const NPM_BAD_DOC: &str = "slsa/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigprov.tgz.json";
const GITHUB_HOSTED: &str = "https://github.com/actions/runner/github-hosted";
const SIGSTORE_JS: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const NPM_PUBLISH: &str = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1";

/// A bare DSSE envelope with a Fulcio certificate and no log proof.
const UNTRUSTED: &str = "slsa/binary-linux-amd64-untrusted-builder";
const UNTRUSTED_PROV: &str = "slsa/binary-linux-amd64-untrusted-builder.intoto.jsonl";

const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
const SLSA_V1: &str = "https://slsa.dev/provenance/v1";

/// `[--policy P] --format json verify ARTIFACT ARGS...`.
fn verify(env: &TestEnv, policy: Option<&str>, artifact: OsString, args: &[OsString]) -> Output {
    let mut all: Vec<OsString> = Vec::new();
    if let Some(p) = policy {
        all.extend([o("--policy"), o(p)]);
    }
    all.extend([o("--format"), o("json"), o("verify"), artifact]);
    all.extend(args.iter().cloned());
    env.run(&all)
}

/// `--provenance FILE --server NAME`.
fn prov(file: OsString, server: &str) -> Vec<OsString> {
    vec![o("--provenance"), file, o("--server"), o(server)]
}

/// Writes `NAME` with `require = ["provenance"]` and one server entry,
/// whose `[servers.provenance]` holds `rules` (none when empty).
fn provenance_policy(env: &TestEnv, name: &str, server: &str, rules: &str) -> String {
    let mut body = format!(
        "version = 1\n\n[defaults]\nrequire = [\"provenance\"]\n\n[[servers]]\nname = \"{server}\"\n"
    );
    if !rules.is_empty() {
        body.push_str("\n[servers.provenance]\n");
        body.push_str(rules);
    }
    env.write(name, body);
    name.to_string()
}

/// Allowed, exit 0, no error at all, and one passing provenance check
/// naming `builder`.
#[track_caller]
fn allowed_by(out: &Output, builder: &str) -> Value {
    out.code(0);
    let v = out.json();
    out.check(v["verdict"] == "allowed", "verdict allowed")
        .check(
            error_codes(&v).is_empty(),
            &format!("no errors, got {:?}", error_codes(&v)),
        );
    let passed: Vec<Value> = checks_of(&v, "provenance")
        .into_iter()
        .filter(|c| c["status"] == "pass" && !c["provenance"].is_null())
        .collect();
    out.check(passed.len() == 1, "exactly one passing provenance check")
        .check(
            passed[0]["provenance"]["builder_id"] == builder,
            &format!("the provenance names builder {builder}"),
        );
    passed[0].clone()
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

/// A copy of the fixture in the working directory with one bit of the
/// byte at `at` flipped.
fn tampered(env: &TestEnv, rel: &str, name: &str, at: impl Fn(usize) -> usize) -> OsString {
    let mut bytes = fs::read(fixture(rel)).unwrap();
    let i = at(bytes.len());
    bytes[i] ^= 0x01;
    env.write(name, &bytes).into()
}

// ---------------------------------------------------------------------------
// The slsa-verifier fixtures.

#[test]
fn slsa_fixtures_are_judged_as_their_names_say() {
    let env = TestEnv::new();
    let any = provenance_policy(&env, "any.toml", "s", "builder-id = \"*\"\n");

    // gha_generic: SLSA v0.2 by the generic generator, allowed by a glob
    // over its tags.
    let p = provenance_policy(
        &env,
        "gha.toml",
        "example-package",
        &format!("builder-id = \"{GENERATOR_GLOB}\"\n"),
    );
    let c = allowed_by(
        &verify(
            &env,
            Some(&p),
            f(GHA_GENERIC),
            &prov(f(GHA_GENERIC_PROV), "example-package"),
        ),
        GENERATOR,
    );
    assert_eq!(c["provenance"]["predicate_type"], SLSA_V02);
    assert_eq!(c["signer"]["identity"], GENERATOR);

    // bcr: SLSA v1 by a reusable workflow, allowed under its exact id.
    let p = provenance_policy(
        &env,
        "bcr.toml",
        "rules_lint",
        &format!("builder-id = [\"{BCR_BUILDER}\"]\n"),
    );
    let c = allowed_by(
        &verify(&env, Some(&p), f(BCR), &prov(f(BCR_PROV), "rules_lint")),
        BCR_BUILDER,
    );
    assert_eq!(c["provenance"]["predicate_type"], SLSA_V1);
    assert_eq!(
        c["provenance"]["source_repo"],
        "https://github.com/aspect-build/rules_lint"
    );

    // bcr, wrong signer: the same statement signed by another identity
    // names a builder that did not sign it, whatever the policy allows.
    for (policy, server) in [(Some(p.as_str()), "rules_lint"), (Some(&*any), "s")] {
        let out = verify(&env, policy, f(BCR), &prov(f(BCR_WRONG_SIGNER), server));
        denied_with(&out, &["builder-identity-mismatch"]);
        let msg = out.diagnostic("builder-identity-mismatch")["message"]
            .as_str()
            .unwrap()
            .to_string();
        out.check(
            msg.contains(BCR_BUILDER)
                && msg.contains(
                    "https://github.com/loosebazooka/aa-test/.github/workflows/malicious_attestation.yaml@refs/heads/main",
                ),
            "the message names the claimed builder and the real signer",
        )
        .check(
            checks_of(&out.json(), "provenance")[0]["status"] == "fail",
            "the provenance check fails",
        );
    }

    // npm: SLSA v1 by GitHub's hosted runner beside the registry's publish
    // attestation, which is shown as SKIP and neither counts nor denies.
    let p = provenance_policy(
        &env,
        "npm.toml",
        "npm-test-cli",
        &format!("builder-id = \"{GITHUB_HOSTED}\"\nsource-repo = \"sigstore/sigstore-js\"\n"),
    );
    let out = verify(
        &env,
        Some(&p),
        f(NPM_TGZ),
        &prov(f(NPM_DOC), "npm-test-cli"),
    );
    let c = allowed_by(&out, GITHUB_HOSTED);
    assert_eq!(c["signer"]["identity"], SIGSTORE_JS);
    let v = out.json();
    let checks = checks_of(&v, "provenance");
    out.check(checks.len() == 2, "one check per attestation")
        .check(
            checks[0]["status"] == "skip" && checks[0]["provenance"].is_null(),
            "the publish attestation is a SKIP without provenance",
        )
        .check(
            checks[1]["provenance"]
                == json!({
                    "predicate_type": SLSA_V1,
                    "builder_id": GITHUB_HOSTED,
                    "build_type": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                    "source_repo": "https://github.com/sigstore/sigstore-js",
                    "source_ref": "refs/heads/main",
                    "source_digest": "46e7056ff9912ebfee5298d94024895a9fea76c0",
                    "entry_point": ".github/workflows/release.yml",
                }),
            "the npm provenance object",
        )
        .diag("key-unknown");
    // Its sha512 subjects bind it to the package by digest as well.
    let tgz = fs::read(fixture(NPM_TGZ)).unwrap();
    allowed_by(
        &verify(
            &env,
            Some(&p),
            format!("sha512:{}", sha512_hex(&tgz)).into(),
            &prov(f(NPM_DOC), "npm-test-cli"),
        ),
        GITHUB_HOSTED,
    );

    // npm, invalid signature on the provenance.
    for (policy, server) in [(Some(p.as_str()), "npm-test-cli"), (Some(&*any), "s")] {
        let out = verify(&env, policy, f(NPM_BAD_TGZ), &prov(f(NPM_BAD_DOC), server));
        denied_with(&out, &["signature-invalid"]);
        out.no_diag("provenance-not-bound");
    }

    // The untrusted builder's bare envelope: a certificate without a log
    // proof cannot be verified offline. Never allowed, however asked.
    let untrusted_runs: Vec<(Option<&str>, Vec<OsString>)> = vec![
        (Some(&any), prov(f(UNTRUSTED_PROV), "s")),
        (None, prov(f(UNTRUSTED_PROV), "s")),
        (
            Some(&any),
            [
                prov(f(UNTRUSTED_PROV), "s"),
                vec![
                    o("--certificate-identity-regexp"),
                    o(".*"),
                    o("--certificate-oidc-issuer-regexp"),
                    o(".*"),
                ],
            ]
            .concat(),
        ),
        // Offered as a signature too.
        (
            None,
            [
                prov(f(UNTRUSTED_PROV), "s"),
                vec![o("--signature"), f(UNTRUSTED_PROV)],
            ]
            .concat(),
        ),
    ];
    // Each way, and again with every GitHub identity trusted for every
    // server.
    for round in 0..2 {
        if round == 1 {
            env.run([
                "trust",
                "add-identity",
                "--name",
                "anyone",
                "--issuer",
                GHA,
                "--identity-regexp",
                ".*",
                "--scope",
                "*",
            ])
            .code(0);
        }
        for (policy, args) in &untrusted_runs {
            let out = verify(&env, *policy, f(UNTRUSTED), args);
            out.code(1).diag("signature-unsupported");
            let v = out.json();
            out.check(v["verdict"] == "denied", "never allowed")
                .check(
                    checks_of(&v, "provenance")
                        .iter()
                        .all(|c| c["status"] == "fail" && c["provenance"].is_null()),
                    "no provenance is read from it",
                )
                .check(
                    out.diagnostic("signature-unsupported")["message"]
                        .as_str()
                        .unwrap()
                        .contains("no transparency-log proof"),
                    "the message says why",
                );
        }
    }
}

// ---------------------------------------------------------------------------
// Binding: a statement counts only for the artifact it names.

#[test]
fn provenance_is_bound_to_the_artifacts_own_digest() {
    let env = TestEnv::new();
    let p = provenance_policy(&env, "any.toml", "s", "builder-id = \"*\"\n");
    let not_bound = |artifact: OsString, provenance: &str| {
        let out = verify(&env, Some(&p), artifact, &prov(f(provenance), "s"));
        denied_with(&out, &["provenance-not-bound"]);
        let d = out.diagnostic("provenance-not-bound");
        out.check(
            d["hint"]
                .as_str()
                .unwrap_or_default()
                .contains("the artifact was changed"),
            "the hint says the artifact may have been changed",
        )
        .check(
            checks_of(&out.json(), "provenance")
                .iter()
                .all(|c| c["provenance"].is_null()),
            "nothing is read from a statement about something else",
        );
    };

    // The right provenance, the wrong artifact.
    not_bound(f(BCR), GHA_GENERIC_PROV);
    not_bound(f(GHA_GENERIC), BCR_PROV);
    not_bound(f(GHA_GENERIC), NPM_DOC);
    not_bound(f(NPM_TGZ), GHA_GENERIC_PROV);

    // One bit flipped in the artifact: at the start, the middle, the end.
    for (i, at) in [
        (&|_: usize| 0usize) as &dyn Fn(usize) -> usize,
        &|n| n / 2,
        &|n| n - 1,
    ]
    .into_iter()
    .enumerate()
    {
        not_bound(
            tampered(&env, GHA_GENERIC, &format!("gha-{i}"), at),
            GHA_GENERIC_PROV,
        );
        not_bound(tampered(&env, BCR, &format!("bcr-{i}"), at), BCR_PROV);
        not_bound(
            tampered(&env, NPM_TGZ, &format!("npm-{i}.tgz"), at),
            NPM_DOC,
        );
    }

    // The untouched copy still verifies: the file name plays no part.
    fs::copy(fixture(GHA_GENERIC), env.path("copy")).unwrap();
    allowed_by(
        &verify(&env, Some(&p), o("copy"), &prov(f(GHA_GENERIC_PROV), "s")),
        GENERATOR,
    );

    // By digest: the artifact's own digest verifies, a changed one is not bound.
    let bytes = fs::read(fixture(GHA_GENERIC)).unwrap();
    allowed_by(
        &verify(
            &env,
            Some(&p),
            format!("sha256:{}", sha256_hex(&bytes)).into(),
            &prov(f(GHA_GENERIC_PROV), "s"),
        ),
        GENERATOR,
    );
    let mut other = bytes.clone();
    other[0] ^= 1;
    not_bound(
        format!("sha256:{}", sha256_hex(&other)).into(),
        GHA_GENERIC_PROV,
    );
}

// ---------------------------------------------------------------------------
// [servers.provenance]: each rule fails with its own code.

#[test]
fn policy_rules_each_fail_with_their_own_code() {
    let env = TestEnv::new();
    let server = "example-package";
    let run = |rules: &str| {
        let p = provenance_policy(&env, "policy.toml", server, rules);
        env.run(["--policy", &p, "policy", "check"]).code(0);
        verify(
            &env,
            Some(&p),
            f(GHA_GENERIC),
            &prov(f(GHA_GENERIC_PROV), server),
        )
    };
    let allowed = [
        format!("builder-id = \"{GENERATOR_GLOB}\"\n"),
        format!("builder-id = \"{GENERATOR}\"\n"),
        format!("builder-id = [\"https://example.com/other@v1\", \"{GENERATOR_GLOB}\"]\n"),
        format!(
            "builder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"slsa-framework/example-package\"\n"
        ),
        format!(
            "builder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"github.com/slsa-framework/example-package\"\n"
        ),
        format!("builder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"{EXAMPLE_REPO}\"\n"),
        format!("builder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"{EXAMPLE_REPO}.git\"\n"),
        format!("builder-id = \"{GENERATOR_GLOB}\"\nsource-ref = \"refs/heads/main\"\n"),
        format!("builder-id = \"{GENERATOR_GLOB}\"\nsource-ref = \"refs/heads/*\"\n"),
        format!("builder-id = \"{GENERATOR_GLOB}\"\nbuild-type = \"{GENERIC_TYPE}\"\n"),
        format!(
            "builder-id = \"{GENERATOR_GLOB}\"\nbuild-type = [\"https://example.com/t@v1\", \"{GENERIC_TYPE}\"]\n"
        ),
        format!(
            "builder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"slsa-framework/example-package\"\n\
             source-ref = \"refs/heads/main\"\nbuild-type = \"{GENERIC_TYPE}\"\n"
        ),
    ];
    for rules in &allowed {
        let out = run(rules);
        allowed_by(&out, GENERATOR);
        out.check(
            out.json()["decision"]["rule"]
                .as_str()
                .unwrap()
                .contains(&format!("provenance by builder `{GENERATOR}`")),
            "the decision names the builder",
        );
    }

    let denied: [(String, &str, &str); 8] = [
        (
            "builder-id = \"https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v1*\"\n".into(),
            "builder-untrusted",
            "is not among the allowed builders",
        ),
        (
            format!("builder-id = \"{BCR_BUILDER}\"\n"),
            "builder-untrusted",
            "is not among the allowed builders",
        ),
        (
            format!("builder-id = \"{GENERATOR_GLOB}\"\nsource-ref = \"refs/tags/*\"\n"),
            "source-mismatch",
            "the source ref is `refs/heads/main`, which `refs/tags/*` does not match",
        ),
        (
            format!("builder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"slsa-framework/slsa-verifier\"\n"),
            "source-mismatch",
            "the source repository is `https://github.com/slsa-framework/example-package`, not `slsa-framework/slsa-verifier`",
        ),
        (
            format!("builder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"{EXAMPLE_REPO}-evil\"\n"),
            "source-mismatch",
            "the source repository is",
        ),
        (
            format!("builder-id = \"{GENERATOR_GLOB}\"\nsource-repo = \"gitlab.com/slsa-framework/example-package\"\n"),
            "source-mismatch",
            "the source repository is",
        ),
        (
            format!("builder-id = \"{GENERATOR_GLOB}\"\nbuild-type = \"https://github.com/slsa-framework/slsa-github-generator/generic@v2\"\n"),
            "build-type-mismatch",
            "the build type is `https://github.com/slsa-framework/slsa-github-generator/generic@v1`",
        ),
        (
            format!("builder-id = \"{GENERATOR_GLOB}\"\nbuild-type = [\"https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1\"]\n"),
            "build-type-mismatch",
            "the build type is",
        ),
    ];
    for (rules, code, words) in &denied {
        let out = run(rules);
        denied_with(&out, &[code]);
        let d = out.diagnostic(code);
        let msg = d["message"].as_str().unwrap();
        out.check(msg.contains(words), &format!("the message says {words:?}"))
            .check(
                msg.contains("[servers.provenance] at policy.toml:"),
                "the message names the rule's place",
            )
            .check(
                checks_of(&out.json(), "provenance")[0]["status"] == "pass",
                "the provenance itself verified; the policy denied it",
            );
    }

    // The rules bind the server they are written for: another server has
    // no entry, so nothing vouches for the builder.
    let p = provenance_policy(
        &env,
        "policy.toml",
        server,
        &format!("builder-id = \"{GENERATOR_GLOB}\"\n"),
    );
    denied_with(
        &verify(
            &env,
            Some(&p),
            f(GHA_GENERIC),
            &prov(f(GHA_GENERIC_PROV), "other"),
        ),
        &["builder-untrusted"],
    );

    // A rule on the npm provenance: the hosted runner's source is checked
    // like any other.
    let p = provenance_policy(
        &env,
        "npm.toml",
        "npm-test-cli",
        &format!("builder-id = \"{GITHUB_HOSTED}\"\nsource-repo = \"sigstore/sigstore-go\"\n"),
    );
    denied_with(
        &verify(
            &env,
            Some(&p),
            f(NPM_TGZ),
            &prov(f(NPM_DOC), "npm-test-cli"),
        ),
        &["source-mismatch"],
    );
}

// ---------------------------------------------------------------------------
// Who vouches for the builder when the policy names none.

fn trust_identity(env: &TestEnv, name: &str, identity: &str, scope: &str) {
    env.run([
        "trust",
        "add-identity",
        "--name",
        name,
        "--issuer",
        GHA,
        "--identity",
        identity,
        "--scope",
        scope,
    ])
    .code(0);
}

#[test]
fn without_builder_id_the_signer_must_be_trusted_in_scope() {
    let env = TestEnv::new();
    let server = "example-package";
    let no_rules = provenance_policy(&env, "none.toml", server, "");
    let source_only = provenance_policy(
        &env,
        "source.toml",
        server,
        "source-repo = \"slsa-framework/example-package\"\n",
    );
    let run = |p: &str, server: &str, extra: &[OsString]| {
        let mut args = prov(f(GHA_GENERIC_PROV), server);
        args.extend(extra.iter().cloned());
        verify(&env, Some(p), f(GHA_GENERIC), &args)
    };
    for p in [&no_rules, &source_only] {
        let out = run(p, server, &[]);
        denied_with(&out, &["builder-untrusted"]);
        out.check(
            out.diagnostic("builder-untrusted")["message"]
                .as_str()
                .unwrap()
                .contains(&format!("signed by {GENERATOR} from {GHA}")),
            "the message names the signer",
        );
        // Under a policy file, identity flags vouch for nothing: only the
        // trust store does (as for signatures).
        let flags = [
            o("--certificate-identity"),
            o(GENERATOR),
            o("--certificate-oidc-issuer"),
            o(GHA),
        ];
        denied_with(&run(p, server, &flags), &["builder-untrusted"]);
    }

    // The builder's identity, trusted for the server: allowed.
    trust_identity(&env, "slsa-generator", GENERATOR, "example-*");
    for p in [&no_rules, &source_only] {
        let out = run(p, server, &[]);
        let c = allowed_by(&out, GENERATOR);
        out.check(
            c["signer"]["trust_names"] == json!(["slsa-generator"]),
            "the signer carries its trust name",
        );
    }
    // Out of its scope: the same provenance vouches for nothing.
    let other = provenance_policy(&env, "other.toml", "other-server", "");
    denied_with(&run(&other, "other-server", &[]), &["builder-untrusted"]);
    // A trusted signer does not excuse a rule that fails.
    let wrong_source = provenance_policy(
        &env,
        "wrong.toml",
        server,
        "source-repo = \"slsa-framework/slsa-verifier\"\n",
    );
    denied_with(&run(&wrong_source, server, &[]), &["source-mismatch"]);
    // Identity flags, when given, must match, for provenance as for signatures.
    let out = run(
        &no_rules,
        server,
        &[
            o("--certificate-identity"),
            o(SIGSTORE_JS),
            o("--certificate-oidc-issuer"),
            o(GHA),
        ],
    );
    denied_with(&out, &["identity-mismatch"]);
    let out = run(
        &no_rules,
        server,
        &[
            o("--certificate-identity"),
            o(GENERATOR),
            o("--certificate-oidc-issuer"),
            o("https://accounts.google.com"),
        ],
    );
    denied_with(&out, &["issuer-mismatch"]);

    // npm: the release workflow's identity, trusted, vouches for the
    // hosted runner's provenance.
    let npm = provenance_policy(&env, "npm.toml", "npm-test-cli", "");
    let out = verify(
        &env,
        Some(&npm),
        f(NPM_TGZ),
        &prov(f(NPM_DOC), "npm-test-cli"),
    );
    denied_with(&out, &["builder-untrusted"]);
    trust_identity(&env, "sigstore-js", SIGSTORE_JS, "npm-*");
    allowed_by(
        &verify(
            &env,
            Some(&npm),
            f(NPM_TGZ),
            &prov(f(NPM_DOC), "npm-test-cli"),
        ),
        GITHUB_HOSTED,
    );
}

#[test]
fn default_policy_takes_identity_flags_and_provenance_is_not_a_signature() {
    let env = TestEnv::new();
    let flags = |id: &str| {
        vec![
            o("--certificate-identity"),
            o(id),
            o("--certificate-oidc-issuer"),
            o(GHA),
        ]
    };
    // No policy file: the bundle is the signature (its identity matched by
    // the flags), the provenance is read and shown.
    let args = [
        vec![o("--bundle"), f(GHA_GENERIC_PROV)],
        prov(f(GHA_GENERIC_PROV), "example-package"),
        flags(GENERATOR),
    ]
    .concat();
    let out = verify(&env, None, f(GHA_GENERIC), &args);
    let c = allowed_by(&out, GENERATOR);
    let v = out.json();
    out.check(c["signer"]["by_flags"] == true, "matched by the flags")
        .check(
            checks_of(&v, "signature").len() == 1
                && checks_of(&v, "signature")[0]["status"] == "pass",
            "the bundle passes as a signature",
        )
        .diag("default-policy");
    // Other flags: both the signature and the provenance are refused.
    let args = [
        vec![o("--bundle"), f(GHA_GENERIC_PROV)],
        prov(f(GHA_GENERIC_PROV), "example-package"),
        flags(SIGSTORE_JS),
    ]
    .concat();
    denied_with(
        &verify(&env, None, f(GHA_GENERIC), &args),
        &["identity-mismatch", "identity-mismatch"],
    );

    // A provenance file given that fails denies, whatever the policy
    // requires: here it is about another artifact.
    let args = [
        vec![o("--bundle"), f(GHA_GENERIC_PROV)],
        prov(f(BCR_PROV), "example-package"),
        flags(GENERATOR),
    ]
    .concat();
    denied_with(
        &verify(&env, None, f(GHA_GENERIC), &args),
        &["provenance-not-bound"],
    );

    // Provenance is not a signature: the default policy requires one.
    let out = verify(
        &env,
        None,
        f(GHA_GENERIC),
        &[
            prov(f(GHA_GENERIC_PROV), "example-package"),
            flags(GENERATOR),
        ]
        .concat(),
    );
    denied_with(&out, &["signature-missing"]);
    out.check(
        checks_of(&out.json(), "provenance")[0]["status"] == "pass",
        "the provenance verified, and still is no signature",
    );
    // Nor under `require = ["signature"]`, signed by a trusted identity.
    trust_identity(&env, "slsa-generator", GENERATOR, "*");
    env.write(
        "sig.toml",
        "version = 1\n\n[defaults]\nrequire = [\"signature\"]\n",
    );
    denied_with(
        &verify(
            &env,
            Some("sig.toml"),
            f(GHA_GENERIC),
            &prov(f(GHA_GENERIC_PROV), "example-package"),
        ),
        &["signature-missing"],
    );
    // The same file as a signature satisfies it.
    let out = verify(
        &env,
        Some("sig.toml"),
        f(GHA_GENERIC),
        &[o("--bundle"), f(GHA_GENERIC_PROV), o("--server"), o("x")],
    );
    out.code(0);
}

#[test]
fn required_provenance_that_is_missing_is_evidence_missing() {
    let env = TestEnv::new();
    trust_identity(&env, "slsa-generator", GENERATOR, "*");
    let p = provenance_policy(
        &env,
        "p.toml",
        "example-package",
        &format!("builder-id = \"{GENERATOR_GLOB}\"\n"),
    );
    // Nothing given.
    let out = verify(
        &env,
        Some(&p),
        f(GHA_GENERIC),
        &[o("--server"), o("example-package")],
    );
    denied_with(&out, &["evidence-missing"]);
    out.check(
        out.diagnostic("evidence-missing")["message"]
            .as_str()
            .unwrap()
            .contains("[defaults] require (p.toml:4:11) requires provenance"),
        "the message names the rule",
    );
    // A signature is not provenance, even the same statement given as one.
    denied_with(
        &verify(
            &env,
            Some(&p),
            f(GHA_GENERIC),
            &[
                o("--bundle"),
                f(GHA_GENERIC_PROV),
                o("--server"),
                o("example-package"),
            ],
        ),
        &["evidence-missing"],
    );
    // Both required, both given: allowed.
    env.write(
        "both.toml",
        format!(
            "version = 1\n\n[defaults]\nrequire = [\"signature\", \"provenance\"]\n\n[[servers]]\nname = \"example-package\"\n\n[servers.provenance]\nbuilder-id = \"{GENERATOR_GLOB}\"\n"
        ),
    );
    let args = [
        vec![o("--bundle"), f(GHA_GENERIC_PROV)],
        prov(f(GHA_GENERIC_PROV), "example-package"),
    ]
    .concat();
    let out = verify(&env, Some("both.toml"), f(GHA_GENERIC), &args);
    allowed_by(&out, GENERATOR);
    out.check(
        out.json()["decision"]["rule"]
            .as_str()
            .unwrap()
            .contains("signature by `slsa-generator`"),
        "both requirements are named in the decision",
    );

    // A file whose only members are skipped (npm's registry-signed publish
    // attestation, twice) holds no provenance: the requirement is unmet.
    let mut doc: Value = serde_json::from_slice(&fs::read(fixture(NPM_DOC)).unwrap()).unwrap();
    let publish = doc["attestations"][0].clone();
    assert_eq!(publish["predicateType"], NPM_PUBLISH);
    doc["attestations"] = json!([publish, publish]);
    env.write("publish-only.json", serde_json::to_vec(&doc).unwrap());
    let npm = provenance_policy(
        &env,
        "npm.toml",
        "npm-test-cli",
        &format!("builder-id = \"{GITHUB_HOSTED}\"\n"),
    );
    let out = verify(
        &env,
        Some(&npm),
        f(NPM_TGZ),
        &prov(o("publish-only.json"), "npm-test-cli"),
    );
    denied_with(&out, &["evidence-missing"]);
    out.diag("key-unknown");
}

// ---------------------------------------------------------------------------
// DSSE provenance signed by a pinned ed25519 key (made here with openssl).

const OUR_BUILDER: &str = "https://ci.example.com/builders/release@v3";
const OUR_TYPE: &str = "https://ci.example.com/buildtypes/release/v1";
const OUR_REPO: &str = "https://github.com/acme/widget";
const OUR_REF: &str = "refs/tags/v1.2.3";
const OUR_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A SLSA v1 predicate by `OUR_BUILDER` from acme/widget.
fn slsa_v1() -> Value {
    json!({
        "buildDefinition": {
            "buildType": OUR_TYPE,
            "externalParameters": {"workflow": {
                "repository": OUR_REPO,
                "ref": OUR_REF,
                "path": ".github/workflows/release.yml",
            }},
            "resolvedDependencies": [{
                "uri": format!("git+{OUR_REPO}@{OUR_REF}"),
                "digest": {"gitCommit": OUR_COMMIT},
            }],
        },
        "runDetails": {"builder": {"id": OUR_BUILDER}},
    })
}

/// The same build as SLSA v0.2.
fn slsa_v02() -> Value {
    json!({
        "builder": {"id": OUR_BUILDER},
        "buildType": OUR_TYPE,
        "invocation": {"configSource": {
            "uri": format!("git+{OUR_REPO}.git@{OUR_REF}"),
            "digest": {"sha1": OUR_COMMIT},
            "entryPoint": ".github/workflows/release.yml",
        }},
    })
}

fn statement(subject: Value, predicate_type: &str, predicate: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subject,
        "predicateType": predicate_type,
        "predicate": predicate,
    }))
    .unwrap()
}

/// A DSSE test world: an artifact, a key trusted for `widget`, and a
/// policy that allows `OUR_BUILDER` for it.
struct Dsse {
    env: TestEnv,
    key: PemKey,
    artifact: Vec<u8>,
}

impl Dsse {
    fn new() -> Self {
        let env = TestEnv::new();
        let key = PemKey::generate(&env, "ci");
        let artifact = noise(64 * 1024 + 7, 0x5eed);
        env.write("widget.bin", &artifact);
        env.trust_key(&key.public, "acme-ci", &["widget"]);
        Dsse { env, key, artifact }
    }

    fn subject(&self) -> Value {
        json!([{"name": "widget.bin", "digest": {"sha256": sha256_hex(&self.artifact)}}])
    }

    /// Signs `payload` as an in-toto DSSE envelope into `out`.
    fn sign(&self, out: &str, payload: &[u8]) -> OsString {
        self.key
            .dsse_payload(&self.env, out, IN_TOTO, payload)
            .file_name()
            .unwrap()
            .into()
    }

    fn policy(&self, rules: &str) -> String {
        provenance_policy(&self.env, "policy.toml", "widget", rules)
    }

    fn verify(&self, policy: &str, envelope: &OsString) -> Output {
        verify(
            &self.env,
            Some(policy),
            o("widget.bin"),
            &prov(envelope.clone(), "widget"),
        )
    }
}

#[test]
fn dsse_provenance_signed_by_a_pinned_key() {
    let w = Dsse::new();
    let env = &w.env;
    let rules = format!(
        "builder-id = \"https://ci.example.com/builders/release@v*\"\nsource-repo = \"acme/widget\"\n\
         source-ref = \"refs/tags/v*\"\nbuild-type = \"{OUR_TYPE}\"\n"
    );
    let p = w.policy(&rules);
    let want = json!({
        "predicate_type": SLSA_V1,
        "builder_id": OUR_BUILDER,
        "build_type": OUR_TYPE,
        "source_repo": OUR_REPO,
        "source_ref": OUR_REF,
        "source_digest": OUR_COMMIT,
        "entry_point": ".github/workflows/release.yml",
    });

    let v1 = w.sign("v1.json", &statement(w.subject(), SLSA_V1, slsa_v1()));
    let out = w.verify(&p, &v1);
    let c = allowed_by(&out, OUR_BUILDER);
    out.check(c["provenance"] == want, "the provenance object")
        .check(c["scheme"] == "dsse", "a DSSE envelope")
        .check(
            c["signer"]["kind"] == "key" && c["signer"]["trust_names"] == json!(["acme-ci"]),
            "signed by the trusted key",
        )
        .check(
            c["details"]["subject"] == "widget.bin"
                && c["details"]["predicate-type"] == SLSA_V1
                && c["details"]["builder"] == OUR_BUILDER
                && c["details"]["source-commit"] == OUR_COMMIT,
            "the details",
        );

    // SLSA v0.2, in-toto Statement v0.1, the same facts.
    let mut st: Value =
        serde_json::from_slice(&statement(w.subject(), SLSA_V02, slsa_v02())).unwrap();
    st["_type"] = json!("https://in-toto.io/Statement/v0.1");
    let v02 = w.sign("v02.json", &serde_json::to_vec(&st).unwrap());
    let c = allowed_by(&w.verify(&p, &v02), OUR_BUILDER);
    let mut want02 = want.clone();
    want02["predicate_type"] = json!(SLSA_V02);
    assert_eq!(c["provenance"], want02);

    // By digest, and with the key given by file rather than found in the
    // trust store.
    allowed_by(
        &verify(
            env,
            Some(&p),
            format!("sha256:{}", sha256_hex(&w.artifact)).into(),
            &prov(v1.clone(), "widget"),
        ),
        OUR_BUILDER,
    );
    allowed_by(
        &verify(
            env,
            Some(&p),
            o("widget.bin"),
            &[
                prov(v1.clone(), "widget"),
                vec![o("--key"), o("ci.pub.pem")],
            ]
            .concat(),
        ),
        OUR_BUILDER,
    );

    // The trusted key vouches for the builder without a builder-id rule;
    // outside its scope it vouches for nothing.
    let p = w.policy("source-repo = \"acme/widget\"\n");
    allowed_by(&w.verify(&p, &v1), OUR_BUILDER);
    let other = provenance_policy(env, "other.toml", "gadget", "");
    denied_with(
        &verify(
            env,
            Some(&other),
            o("widget.bin"),
            &prov(v1.clone(), "gadget"),
        ),
        &["builder-untrusted"],
    );

    // The policy's rules read what the key signed.
    for (rules, code) in [
        (
            "builder-id = \"https://ci.example.com/builders/release@v2\"\n",
            "builder-untrusted",
        ),
        ("source-repo = \"acme/gadget\"\n", "source-mismatch"),
        ("source-ref = \"refs/heads/*\"\n", "source-mismatch"),
        (
            "build-type = \"https://ci.example.com/buildtypes/nightly/v1\"\n",
            "build-type-mismatch",
        ),
    ] {
        let p = w.policy(rules);
        denied_with(&w.verify(&p, &v1), &[code]);
    }

    // A statement that names no source: allowed when nothing asks for
    // one, and never matched by a source rule.
    let bare = json!({
        "buildDefinition": {"buildType": OUR_TYPE},
        "runDetails": {"builder": {"id": OUR_BUILDER}},
    });
    let bare = w.sign("bare.json", &statement(w.subject(), SLSA_V1, bare));
    let p = w.policy(&format!("builder-id = \"{OUR_BUILDER}\"\n"));
    let c = allowed_by(&w.verify(&p, &bare), OUR_BUILDER);
    assert_eq!(
        c["provenance"],
        json!({
            "predicate_type": SLSA_V1,
            "builder_id": OUR_BUILDER,
            "build_type": OUR_TYPE,
            "source_repo": null,
            "source_ref": null,
            "source_digest": null,
            "entry_point": null,
        })
    );
    for rules in [
        "source-repo = \"acme/widget\"\n",
        "source-repo = \"(none)\"\n",
        "source-ref = \"*\"\n",
        "source-ref = \"(none)\"\n",
    ] {
        let p = w.policy(rules);
        denied_with(&w.verify(&p, &bare), &["source-mismatch"]);
    }
}

#[test]
fn a_key_given_on_the_command_line_does_not_vouch_under_a_policy() {
    // A statement signed by a key nobody trusts can name any builder: a
    // builder-id rule is no anchor for it (as for signatures, a policy
    // counts only trust-store signers).
    let env = TestEnv::new();
    let key = PemKey::generate(&env, "stranger");
    let artifact = noise(4096, 7);
    env.write("widget.bin", &artifact);
    let payload = statement(
        json!([{"name": "widget.bin", "digest": {"sha256": sha256_hex(&artifact)}}]),
        SLSA_V1,
        slsa_v1(),
    );
    key.dsse_payload(&env, "prov.json", IN_TOTO, &payload);
    let p = provenance_policy(
        &env,
        "policy.toml",
        "widget",
        &format!("builder-id = \"{OUR_BUILDER}\"\n"),
    );
    let args = [
        prov(o("prov.json"), "widget"),
        vec![o("--key"), o("stranger.pub.pem")],
    ]
    .concat();
    let out = verify(&env, Some(&p), o("widget.bin"), &args);
    denied_with(&out, &["builder-untrusted"]);
    out.check(
        out.diagnostic("builder-untrusted")["hint"]
            .as_str()
            .unwrap()
            .contains("trust add-key"),
        "the hint says to trust the key",
    )
    .check(
        checks_of(&out.json(), "provenance")[0]["status"] == "pass",
        "the envelope itself verified",
    );
    // Without the key at all, nobody can check the envelope.
    denied_with(
        &verify(
            &env,
            Some(&p),
            o("widget.bin"),
            &prov(o("prov.json"), "widget"),
        ),
        &["key-unknown"],
    );
    // Trusted for the server, the key is an anchor.
    env.trust_key(&env.path("stranger.pub.pem"), "stranger", &["widget"]);
    allowed_by(&verify(&env, Some(&p), o("widget.bin"), &args), OUR_BUILDER);
}

#[test]
fn dsse_statements_that_are_not_usable_provenance_are_refused() {
    let w = Dsse::new();
    let env = &w.env;
    let p = w.policy("builder-id = \"*\"\n");

    let mut no_builder = slsa_v1();
    no_builder["runDetails"]
        .as_object_mut()
        .unwrap()
        .remove("builder");
    let mut empty_builder = slsa_v1();
    empty_builder["runDetails"]["builder"] = json!({"version": {}});
    let mut numeric_builder = slsa_v1();
    numeric_builder["runDetails"]["builder"]["id"] = json!(42);
    let mut no_type = slsa_v1();
    no_type["buildDefinition"]
        .as_object_mut()
        .unwrap()
        .remove("buildType");
    let mut v02_no_builder = slsa_v02();
    v02_no_builder.as_object_mut().unwrap().remove("builder");
    let mut v02_no_type = slsa_v02();
    v02_no_type.as_object_mut().unwrap().remove("buildType");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "custom",
            statement(w.subject(), "https://example.com/custom", slsa_v1()),
            "provenance-unsupported",
        ),
        (
            "v0.1-predicate",
            statement(w.subject(), "https://slsa.dev/provenance/v0.1", slsa_v02()),
            "provenance-unsupported",
        ),
        (
            "v1-no-builder",
            statement(w.subject(), SLSA_V1, no_builder),
            "provenance-malformed",
        ),
        (
            "v1-empty-builder",
            statement(w.subject(), SLSA_V1, empty_builder),
            "provenance-malformed",
        ),
        (
            "v1-numeric-builder",
            statement(w.subject(), SLSA_V1, numeric_builder),
            "provenance-malformed",
        ),
        (
            "v1-no-build-type",
            statement(w.subject(), SLSA_V1, no_type),
            "provenance-malformed",
        ),
        (
            "v1-no-predicate",
            statement(w.subject(), SLSA_V1, Value::Null),
            "provenance-malformed",
        ),
        (
            "v02-no-builder",
            statement(w.subject(), SLSA_V02, v02_no_builder),
            "provenance-malformed",
        ),
        (
            "v02-no-build-type",
            statement(w.subject(), SLSA_V02, v02_no_type),
            "provenance-malformed",
        ),
        // No subjects: about nothing, so not about this artifact.
        (
            "no-subjects",
            statement(json!([]), SLSA_V1, slsa_v1()),
            "provenance-not-bound",
        ),
        (
            "another-artifact",
            statement(
                json!([{"name": "widget.bin", "digest": {"sha256": sha256_hex(b"another")}}]),
                SLSA_V1,
                slsa_v1(),
            ),
            "provenance-not-bound",
        ),
        (
            "unknown-algorithm-only",
            statement(
                json!([{"name": "widget.bin", "digest": {"md5": "00"}}]),
                SLSA_V1,
                slsa_v1(),
            ),
            "provenance-not-bound",
        ),
        // No subject field at all: not an in-toto statement.
        (
            "subject-missing",
            serde_json::to_vec(&json!({
                "_type": "https://in-toto.io/Statement/v1",
                "predicateType": SLSA_V1,
                "predicate": slsa_v1(),
            }))
            .unwrap(),
            "signature-malformed",
        ),
        (
            "not-a-statement",
            b"{\"hello\": \"world\"}".to_vec(),
            "signature-malformed",
        ),
    ];
    for (name, payload, code) in &cases {
        let envelope = w.sign(&format!("{name}.json"), payload);
        let out = w.verify(&p, &envelope);
        denied_with(&out, &[code]);
        out.check(
            checks_of(&out.json(), "provenance")
                .iter()
                .all(|c| c["status"] == "fail" && c["provenance"].is_null()),
            &format!("{name}: no provenance is read"),
        );
        // Never allowed, whoever is trusted and whatever the policy.
        let out = verify(
            env,
            None,
            o("widget.bin"),
            &[
                prov(envelope.clone(), "widget"),
                vec![o("--key"), o("ci.pub.pem")],
            ]
            .concat(),
        );
        out.code(1).diag(code);
    }

    // The messages say what is wrong.
    let out = w.verify(&p, &o("custom.json"));
    out.check(
        out.diagnostic("provenance-unsupported")["message"]
            .as_str()
            .unwrap()
            .contains("`https://example.com/custom` is not SLSA provenance"),
        "names the predicate type",
    );
    let out = w.verify(&p, &o("v1-no-builder.json"));
    out.check(
        out.diagnostic("provenance-malformed")["message"]
            .as_str()
            .unwrap()
            .contains("runDetails.builder.id"),
        "names the missing field",
    );

    // A payload that is not in-toto at all.
    let e = w
        .key
        .dsse_payload(env, "text.json", "text/plain", b"hello")
        .file_name()
        .unwrap()
        .to_owned();
    denied_with(&w.verify(&p, &e), &["signature-unsupported"]);

    // npm's publish attestation, signed by the trusted key: recognised,
    // shown, and not provenance, so the requirement is unmet.
    let publish = w.sign(
        "publish.json",
        &statement(
            w.subject(),
            NPM_PUBLISH,
            json!({"name": "widget", "version": "1.0.0", "registry": "https://registry.npmjs.org"}),
        ),
    );
    let out = w.verify(&p, &publish);
    denied_with(&out, &["evidence-missing"]);
    let c = &checks_of(&out.json(), "provenance")[0];
    out.check(
        c["status"] == "pass"
            && c["provenance"].is_null()
            && c["details"]["predicate-type"] == NPM_PUBLISH,
        "the publish attestation verifies and carries no provenance",
    );
    // Beside real provenance it neither counts nor denies.
    let v1 = w.sign("v1.json", &statement(w.subject(), SLSA_V1, slsa_v1()));
    let args = [prov(publish.clone(), "widget"), vec![o("--provenance"), v1]].concat();
    allowed_by(&verify(env, Some(&p), o("widget.bin"), &args), OUR_BUILDER);
}

#[test]
fn tampered_dsse_provenance_is_signature_invalid() {
    let w = Dsse::new();
    let env = &w.env;
    let p = w.policy("builder-id = \"*\"\n");
    let good = w.sign("good.json", &statement(w.subject(), SLSA_V1, slsa_v1()));
    allowed_by(&w.verify(&p, &good), OUR_BUILDER);

    // The payload rewritten to name another builder after signing.
    let mut envelope: Value = serde_json::from_slice(&env.read("good.json")).unwrap();
    let mut pred = slsa_v1();
    pred["runDetails"]["builder"]["id"] = json!("https://evil.example.com/builder");
    use base64::Engine as _;
    envelope["payload"] = json!(base64::engine::general_purpose::STANDARD.encode(statement(
        w.subject(),
        SLSA_V1,
        pred
    )));
    env.write("forged.json", serde_json::to_vec(&envelope).unwrap());
    denied_with(&w.verify(&p, &o("forged.json")), &["signature-invalid"]);

    // Signed by another key than the trusted one.
    let other = PemKey::generate(env, "other");
    other.dsse_payload(
        env,
        "other.json",
        IN_TOTO,
        &statement(w.subject(), SLSA_V1, slsa_v1()),
    );
    denied_with(&w.verify(&p, &o("other.json")), &["signature-invalid"]);
}

// ---------------------------------------------------------------------------
// Files that are not provenance at all.

#[test]
fn a_message_signature_is_not_provenance() {
    let env = TestEnv::new();
    let conf = "sigstore-conformance/bundle-verify";
    let p = provenance_policy(&env, "p.toml", "a", "builder-id = \"*\"\n");
    let out = verify(
        &env,
        Some(&p),
        f(&format!("{conf}/a.txt")),
        &prov(
            f(&format!("{conf}/happy-path-v0.3/bundle.sigstore.json")),
            "a",
        ),
    );
    denied_with(&out, &["provenance-malformed"]);
    out.check(
        out.diagnostic("provenance-malformed")["message"]
            .as_str()
            .unwrap()
            .contains("holds no in-toto statement"),
        "says there is no statement",
    );
    // A SLSA statement in a DSSE bundle whose builder is not the
    // certificate's identity.
    let out = verify(
        &env,
        Some(&p),
        f(&format!("{conf}/a.txt")),
        &prov(
            f(&format!(
                "{conf}/happy-path-intoto-in-dsse-v3/bundle.sigstore.json"
            )),
            "a",
        ),
    );
    denied_with(&out, &["builder-identity-mismatch"]);
}

#[test]
fn malformed_provenance_files_fail_cleanly() {
    let env = TestEnv::new();
    let p = provenance_policy(&env, "p.toml", "s", "builder-id = \"*\"\n");
    let good_line = fs::read_to_string(fixture(GHA_GENERIC_PROV)).unwrap();
    let good_line = good_line.trim();
    let deep_arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("deep-arrays.json", deep_arrays.clone().into_bytes()),
        ("deep-objects.json", deep_objects.clone().into_bytes()),
        ("deep-unclosed.json", "[".repeat(10_000).into_bytes()),
        (
            "deep-line.intoto.jsonl",
            format!("{good_line}\n{deep_objects}\n").into_bytes(),
        ),
        (
            "deep-in-envelope.json",
            format!("{{\"payloadType\": {deep_arrays}}}").into_bytes(),
        ),
        ("empty.intoto.jsonl", Vec::new()),
        ("blank.intoto.jsonl", b"\n\n  \n".to_vec()),
        ("garbage.intoto.jsonl", b"not json\n".to_vec()),
        (
            "truncated.intoto.jsonl",
            good_line.as_bytes()[..good_line.len() / 2].to_vec(),
        ),
        (
            "good-then-garbage.intoto.jsonl",
            format!("{good_line}\n{{\"mediaType\": \n").into_bytes(),
        ),
        ("object.intoto.jsonl", b"{}\n".to_vec()),
        ("array.intoto.jsonl", b"[]\n".to_vec()),
        ("null.intoto.jsonl", b"null\n".to_vec()),
        ("number.intoto.jsonl", b"42\n".to_vec()),
        ("binary.intoto.jsonl", noise(4096, 3)),
        (
            "npm-no-attestations.json",
            b"{\"attestations\": []}".to_vec(),
        ),
        (
            "npm-bad-member.json",
            b"{\"attestations\": [{\"predicateType\": 1, \"bundle\": 2}]}".to_vec(),
        ),
        (
            "bare-envelope-no-signatures.json",
            b"{\"payloadType\": \"application/vnd.in-toto+json\", \"payload\": \"e30=\", \"signatures\": []}".to_vec(),
        ),
        (
            "bare-envelope-bad-base64.json",
            b"{\"payloadType\": \"application/vnd.in-toto+json\", \"payload\": \"!!\", \"signatures\": [{\"sig\": \"AA==\"}]}".to_vec(),
        ),
    ];
    for (name, bytes) in &files {
        env.write(name, bytes);
        // Bare DSSE envelopes (judged by their top-level keys, however deep
        // their values) are signatures to parse; everything else is taken
        // for a sigstore wrapper.
        let code = if name.starts_with("bare-envelope") || *name == "deep-in-envelope.json" {
            "signature-malformed"
        } else {
            "bundle-malformed"
        };
        let out = verify(&env, Some(&p), f(GHA_GENERIC), &prov(o(name), "s"));
        denied_with(&out, &[code]);
        out.check(
            checks_of(&out.json(), "provenance")
                .iter()
                .all(|c| c["status"] == "fail" && c["provenance"].is_null()),
            &format!("{name}: no provenance is read"),
        );
        // Human output too: a clean message, no panic.
        env.run([
            o("--policy"),
            o(&p),
            o("verify"),
            f(GHA_GENERIC),
            o("--provenance"),
            o(name),
            o("--server"),
            o("s"),
        ])
        .code(1)
        .stdout_has("FAIL  provenance");
    }
    // The deep files are refused for their depth, quickly.
    let out = verify(
        &env,
        Some(&p),
        f(GHA_GENERIC),
        &prov(o("deep-arrays.json"), "s"),
    );
    out.check(
        out.elapsed.as_secs() < 10,
        "a deep file is refused without a long parse",
    )
    .check(
        out.stdout.contains("recursion limit"),
        "the message says the nesting is too deep",
    );
    // A signed statement whose predicate is 10,000 levels deep.
    let w = Dsse::new();
    let payload = format!(
        "{{\"_type\": \"https://in-toto.io/Statement/v1\", \"subject\": {}, \"predicateType\": \"{SLSA_V1}\", \"predicate\": {deep_objects}}}",
        w.subject()
    );
    let e = w.sign("deep-payload.json", payload.as_bytes());
    let pw = w.policy("builder-id = \"*\"\n");
    denied_with(&w.verify(&pw, &e), &["signature-malformed"]);

    // A provenance file that is not there is an input error.
    let out = verify(
        &env,
        Some(&p),
        f(GHA_GENERIC),
        &prov(o("missing.json"), "s"),
    );
    out.code(2);
    out.check(out.json()["verdict"] == "error", "verdict error")
        .diag("input-invalid");
}

// ---------------------------------------------------------------------------
// Reports.

#[test]
fn reports_show_the_provenance() {
    let env = TestEnv::new();
    let p = provenance_policy(
        &env,
        "p.toml",
        "example-package",
        &format!("builder-id = \"{GENERATOR_GLOB}\"\n"),
    );
    let args = prov(f(GHA_GENERIC_PROV), "example-package");
    let out = verify(&env, Some(&p), f(GHA_GENERIC), &args);
    let c = allowed_by(&out, GENERATOR);
    out.check(
        c["provenance"]
            == json!({
                "predicate_type": SLSA_V02,
                "builder_id": GENERATOR,
                "build_type": GENERIC_TYPE,
                "source_repo": EXAMPLE_REPO,
                "source_ref": "refs/heads/main",
                "source_digest": EXAMPLE_COMMIT,
                "entry_point": ".github/workflows/verifier-e2e.all.workflow_dispatch.main.all.slsa3.yml",
            }),
        "the JSON provenance object",
    )
    .check(
        c["kind"] == "provenance" && c["scheme"] == "sigstore",
        "a provenance check, verified by sigstore",
    )
    .check(
        c["details"]["builder"] == GENERATOR
            && c["details"]["build-type"] == GENERIC_TYPE
            && c["details"]["source"] == EXAMPLE_REPO
            && c["details"]["source-ref"] == "refs/heads/main"
            && c["details"]["source-commit"] == EXAMPLE_COMMIT,
        "the details repeat the provenance",
    );
    let v = out.json();
    out.check(
        checks_of(&v, "signature").is_empty(),
        "no signature check: provenance is its own kind",
    )
    .check(
        checks_of(&v, "policy")[0]["status"] == "pass",
        "the policy passes",
    );

    let mut human: Vec<OsString> = vec![o("--policy"), o(&p), o("verify"), f(GHA_GENERIC)];
    human.extend(args.iter().cloned());
    let out = env.run(&human);
    out.code(0)
        .stdout_has(&format!(
            "PASS  provenance {} [sigstore]\n",
            fixture(GHA_GENERIC_PROV).display()
        ))
        .stdout_has("      signer: certificate identity, judged by the builder it names\n")
        .stdout_has(&format!("      builder: {GENERATOR}\n"))
        .stdout_has(&format!("      build type: {GENERIC_TYPE}\n"))
        .stdout_has(&format!("      source: {EXAMPLE_REPO}\n"))
        .stdout_has("      source ref: refs/heads/main\n")
        .stdout_has(&format!("      source commit: {EXAMPLE_COMMIT}\n"))
        .stdout_has(&format!(
            "ALLOWED  user policy: provenance by builder `{GENERATOR}` meets [defaults] require (p.toml:4:11)"
        ));

    // A failing provenance check names its code in the human report.
    let mut human: Vec<OsString> = vec![o("--policy"), o(&p), o("verify"), f(BCR)];
    human.extend(args.iter().cloned());
    env.run(&human)
        .code(1)
        .stdout_has("FAIL  provenance")
        .stdout_has("      provenance-not-bound\n")
        .stdout_has("error[provenance-not-bound]: ")
        .stdout_lacks("      builder: ");
}
