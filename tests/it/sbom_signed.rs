//! Detached signatures over loose SBOMs (`verify --sbom-signature`): an
//! SBOM "signed like any artifact". The SBOM is the juice-shop CycloneDX
//! document from `fixtures/sbom/`, bound to the test artifact by the
//! policy's `source` (its top component's purl); the signatures are made
//! at run time by the real minisign and ssh-keygen, and the sigstore
//! cases use the conformance suite's bundles as they are.

use std::ffi::OsString;
use std::fs;

use serde_json::Value;

use super::support::util::*;

const JUICE: &str = "sbom/cyclonedx/bom-examples/SBOM/juice-shop/via_npm/flat/bom.1.4.json";
/// The server every policy here describes (`--server srv`).
const SRV: &str = "srv";
const CONF_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GHA: &str = "https://token.actions.githubusercontent.com";

/// `server.bin` (noise), `bom.json` (the juice-shop SBOM) and
/// `policy.toml`: server `srv`, source juice-shop 14.1.1, an SBOM
/// required, `signed = <signed>`.
fn setup(env: &TestEnv, signed: bool) {
    env.write("server.bin", noise(4096, 0x51ed));
    env.copy_fixture(JUICE, "bom.json");
    write_policy(env, signed);
    super::sbom::pin_as_fetched(env, "npm:juice-shop@14.1.1");
}

fn write_policy(env: &TestEnv, signed: bool) {
    env.write(
        "policy.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nsource = \"npm:juice-shop@14.1.1\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = {signed}\n"
        ),
    );
}

/// `--policy policy.toml --format json verify server.bin --server srv ARGS...`.
fn verify(env: &TestEnv, args: &[OsString]) -> Output {
    let mut all = vec![
        o("--policy"),
        o("policy.toml"),
        o("--format"),
        o("json"),
        o("verify"),
        o("server.bin"),
        o("--server"),
        o(SRV),
    ];
    all.extend(args.iter().cloned());
    env.run(super::sbom::pinned(env, &all))
}

/// `--sbom bom.json --sbom-signature SIG`.
fn signed_by(sig: &str) -> Vec<OsString> {
    vec![o("--sbom"), o("bom.json"), o("--sbom-signature"), o(sig)]
}

/// Exit 0, allowed, no error.
#[track_caller]
fn allowed(out: &Output) -> Value {
    out.code(0);
    let v = out.json();
    out.check(v["verdict"] == "allowed", "verdict allowed")
        .check(
            error_codes(&v).is_empty(),
            &format!("no errors, got {:?}", error_codes(&v)),
        );
    v
}

/// Exit 1, denied, and every one of `codes` among the errors.
#[track_caller]
fn denied_with(out: &Output, codes: &[&str]) -> Value {
    out.code(1);
    let v = out.json();
    out.check(v["verdict"] == "denied", "verdict denied");
    for code in codes {
        out.check(
            error_codes(&v).iter().any(|c| c == code),
            &format!("an error `{code}`, got {:?}", error_codes(&v)),
        );
    }
    v
}

fn message(out: &Output, code: &str) -> String {
    out.diagnostic(code)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The one check of `kind`.
#[track_caller]
fn only(out: &Output, v: &Value, kind: &str) -> Value {
    let c = checks_of(v, kind);
    out.check(c.len() == 1, &format!("one `{kind}` check"));
    c[0].clone()
}

/// A detached signature that verified over `bom.json`, by the trusted
/// `name`: the signature check passes and names the SBOM, and the SBOM
/// check carries the signer and the signature.
#[track_caller]
fn assert_signed(out: &Output, v: &Value, sig: &str, name: &str) {
    let check = only(out, v, "sbom-signature");
    let sbom = only(out, v, "sbom");
    out.check(check["status"] == "pass", "the signature check passes")
        .check(check["file"] == sig, "it names the signature file")
        .check(check["details"]["sbom"] == "bom.json", "and the SBOM")
        .check(
            check["signer"]["trust_names"] == serde_json::json!([name]),
            "signed by the trusted key",
        )
        .check(
            sbom["signer"]["trust_names"] == serde_json::json!([name]),
            "the SBOM check names the signer",
        )
        .check(
            sbom["signatures"][0]["file"] == sig
                && sbom["signatures"][0]["signer"] == sbom["signer"],
            "and the signature",
        )
        .check(
            v["decision"]["rule"]
                .as_str()
                .unwrap_or_default()
                .contains("SBOM bom.json ("),
            "the SBOM meets the requirement",
        );
}

/// Not signed: no signer on the SBOM check.
#[track_caller]
fn assert_unsigned(out: &Output, v: &Value) {
    let sbom = only(out, v, "sbom");
    out.check(
        sbom.get("signer").is_none() && sbom.get("signatures").is_none(),
        "the SBOM is not signed",
    );
}

// ---------------------------------------------------------------------------
// Signed and trusted

#[test]
fn minisign_signed_sbom_by_a_trusted_key_is_allowed() {
    let env = TestEnv::new();
    setup(&env, true);
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &[SRV]);

    // Without the signature, the loose SBOM does not count.
    let out = verify(&env, &[o("--sbom"), o("bom.json")]);
    let v = denied_with(&out, &["sbom-unsigned"]);
    assert_unsigned(&out, &v);

    key.sign(&env.path("bom.json"), Some("juice-shop 14.1.1 SBOM"));
    let out = verify(&env, &signed_by("bom.json.minisig"));
    let v = allowed(&out);
    assert_signed(&out, &v, "bom.json.minisig", "publisher");
    out.check(
        only(&out, &v, "sbom-signature")["scheme"] == "minisign-prehashed",
        "prehashed minisign",
    );

    // The human report says so, on the signature and on the SBOM.
    let mut args = vec![
        o("--policy"),
        o("policy.toml"),
        o("verify"),
        o("server.bin"),
        o("--server"),
        o(SRV),
    ];
    args.extend(signed_by("bom.json.minisig"));
    let fp = only(&out, &v, "sbom")["signer"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    env.run(super::sbom::pinned(&env, &args))
        .code(0)
        .stdout_has("PASS  sbom-signature bom.json.minisig [minisign, prehashed]")
        .stdout_has("      trusted comment: juice-shop 14.1.1 SBOM")
        .stdout_has("      sbom: bom.json")
        .stdout_has("READ  sbom       bom.json [CycloneDX 1.4 JSON")
        .stdout_has(&format!(
            "      signer: trusted key publisher, fingerprint {fp}, signature bom.json.minisig"
        ));

    // Legacy minisign signatures stream through the same verifier.
    key.sign_legacy(&env.path("bom.json"), None);
    let out = verify(&env, &signed_by("bom.json.legacy.minisig"));
    let v = allowed(&out);
    assert_signed(&out, &v, "bom.json.legacy.minisig", "publisher");

    // The SBOM is a file even when the artifact is only a digest. A
    // digest has no source, so this SBOM carries the artifact's hash.
    let sha = sha256_hex(&env.read("server.bin"));
    let doc = super::sbom::cdx(
        super::sbom::top_with_hashes(&[("SHA-256", sha.clone())]),
        vec![super::sbom::npm("left-pad", "1.3.0")],
        Some(super::sbom::TIMESTAMP),
    );
    env.write("bom.json", serde_json::to_vec(&doc).unwrap());
    key.sign(&env.path("bom.json"), None);
    env.write(
        "policy.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = true\n"
        ),
    );
    let mut args = vec![
        o("--policy"),
        o("policy.toml"),
        o("--format"),
        o("json"),
        o("verify"),
        o(&format!("sha256:{sha}")),
        o("--server"),
        o(SRV),
    ];
    args.extend(signed_by("bom.json.minisig"));
    let out = env.run(super::sbom::pinned(&env, &args));
    let v = allowed(&out);
    assert_signed(&out, &v, "bom.json.minisig", "publisher");
}

#[test]
fn ssh_signed_sbom_by_a_trusted_key_is_allowed() {
    let env = TestEnv::new();
    setup(&env, true);
    let key = SshKey::generate(&env, "publisher_ssh");
    env.trust_key(&key.public, "publisher-ssh", &[SRV]);
    key.sign(&env.path("bom.json"));
    let out = verify(&env, &signed_by("bom.json.sig"));
    let v = allowed(&out);
    assert_signed(&out, &v, "bom.json.sig", "publisher-ssh");
    let check = only(&out, &v, "sbom-signature");
    out.check(check["scheme"] == "ssh", "an OpenSSH signature")
        .check(check["details"]["namespace"] == "file", "namespace file");
}

/// Signatures are matched to SBOMs by content, not by order or name.
#[test]
fn each_signature_finds_its_sbom_by_content() {
    let env = TestEnv::new();
    setup(&env, true);
    // The same document with one more trailing newline: other bytes,
    // bound the same way.
    let mut other = env.read("bom.json");
    other.push(b'\n');
    env.write("other.json", &other);
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &[SRV]);
    key.sign_to(
        &env.path("bom.json"),
        &env.path("first.minisig"),
        None,
        false,
    );
    key.sign_to(
        &env.path("other.json"),
        &env.path("second.minisig"),
        None,
        false,
    );
    let out = verify(
        &env,
        &[
            o("--sbom"),
            o("bom.json"),
            o("--sbom"),
            o("other.json"),
            o("--sbom-signature"),
            o("second.minisig"),
            o("--sbom-signature"),
            o("first.minisig"),
        ],
    );
    let v = allowed(&out);
    let sigs = checks_of(&v, "sbom-signature");
    out.check(
        sigs.len() == 2
            && sigs[0]["file"] == "second.minisig"
            && sigs[0]["details"]["sbom"] == "other.json"
            && sigs[1]["file"] == "first.minisig"
            && sigs[1]["details"]["sbom"] == "bom.json",
        "each signature names the SBOM it verified over",
    );
    let sboms = checks_of(&v, "sbom");
    out.check(
        sboms.len() == 2
            && sboms[0]["signatures"][0]["file"] == "first.minisig"
            && sboms[1]["signatures"][0]["file"] == "second.minisig",
        "each SBOM carries its own signature",
    );

    // Only one of them signed: the other is a loose file, which denies.
    let out = verify(
        &env,
        &[
            o("--sbom"),
            o("bom.json"),
            o("--sbom"),
            o("other.json"),
            o("--sbom-signature"),
            o("first.minisig"),
        ],
    );
    denied_with(&out, &["sbom-unsigned"]);
    out.check(
        message(&out, "sbom-unsigned").starts_with("other.json: the SBOM is a loose file"),
        "the unsigned one is named",
    );
}

// ---------------------------------------------------------------------------
// Failing closed

#[test]
fn sbom_changed_after_signing_is_not_signed() {
    let env = TestEnv::new();
    setup(&env, true);
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &[SRV]);
    let ssh = SshKey::generate(&env, "publisher_ssh");
    env.trust_key(&ssh.public, "publisher-ssh", &[SRV]);
    key.sign(&env.path("bom.json"), None);
    ssh.sign(&env.path("bom.json"));
    allowed(&verify(&env, &signed_by("bom.json.minisig")));
    allowed(&verify(&env, &signed_by("bom.json.sig")));

    // One byte of a component's description, and the document is still
    // valid JSON, still bound, still the same size.
    let mut bytes = env.read("bom.json");
    let at = bytes
        .windows(13)
        .position(|w| w == b"parse strings")
        .expect("the fixture describes a component that parses strings")
        + 12;
    bytes[at] = b'S';
    serde_json::from_slice::<Value>(&bytes).expect("still JSON");
    env.write("bom.json", &bytes);

    for sig in ["bom.json.minisig", "bom.json.sig"] {
        let out = verify(&env, &signed_by(sig));
        let v = denied_with(&out, &["signature-invalid", "sbom-unsigned"]);
        assert_unsigned(&out, &v);
        let check = only(&out, &v, "sbom-signature");
        out.check(
            check["status"] == "fail" && check["code"] == "signature-invalid",
            "the signature check fails",
        )
        .check(
            message(&out, "signature-invalid").starts_with(&format!(
                "{sig}: the signature verifies over none of the loose SBOMs given (bom.json): "
            )),
            "says that it verifies over no SBOM",
        )
        .check(
            message(&out, "sbom-unsigned").starts_with("bom.json: the SBOM is a loose file"),
            "the SBOM counts as unsigned",
        );
    }

    // A signature that fails denies even where loose SBOMs are accepted.
    write_policy(&env, false);
    let out = verify(&env, &signed_by("bom.json.minisig"));
    denied_with(&out, &["signature-invalid"]);
    out.no_diag("sbom-unsigned");
    allowed(&verify(&env, &[o("--sbom"), o("bom.json")]));
}

#[test]
fn malformed_sbom_signatures() {
    let env = TestEnv::new();
    setup(&env, true);
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &[SRV]);
    let ssh = SshKey::generate(&env, "publisher_ssh");
    env.trust_key(&ssh.public, "publisher-ssh", &[SRV]);
    let minisig = fs::read_to_string(key.sign(&env.path("bom.json"), None)).unwrap();
    let sshsig = fs::read_to_string(ssh.sign(&env.path("bom.json"))).unwrap();

    let first_line = |s: &str| format!("{}\n", s.lines().next().unwrap());
    let cases: Vec<(&str, String)> = vec![
        ("minisign-comment-only.minisig", first_line(&minisig)),
        (
            "minisign-no-global.minisig",
            minisig.lines().take(2).collect::<Vec<_>>().join("\n") + "\n",
        ),
        ("ssh-armour-only.sig", first_line(&sshsig)),
        ("garbage.sig", "this is not a signature\n".to_string()),
        ("empty.sig", String::new()),
    ];
    for (name, text) in cases {
        env.write(name, &text);
        let out = verify(&env, &signed_by(name));
        let v = denied_with(&out, &["signature-malformed", "sbom-unsigned"]);
        assert_unsigned(&out, &v);
        out.check(
            only(&out, &v, "sbom-signature")["code"] == "signature-malformed",
            &format!("{name}: the signature check says malformed"),
        );
    }

    // A file that cannot be read is an input error, as for --signature.
    let out = verify(&env, &signed_by("missing.minisig"));
    out.code(2).diag("input-invalid");
}

#[test]
fn sbom_signature_by_an_unknown_key() {
    let env = TestEnv::new();
    setup(&env, true);
    let trusted = Minisign::generate(&env, "publisher");
    env.trust_key(&trusted.public, "publisher", &[SRV]);
    let stranger = Minisign::generate(&env, "stranger");
    stranger.sign(&env.path("bom.json"), None);

    let out = verify(&env, &signed_by("bom.json.minisig"));
    let v = denied_with(&out, &["key-unknown", "sbom-unsigned"]);
    assert_unsigned(&out, &v);
    out.check(
        message(&out, "key-unknown").contains("which is neither given nor trusted"),
        "says the key is unknown",
    );

    // The same with OpenSSH.
    let ssh = SshKey::generate(&env, "stranger_ssh");
    ssh.sign(&env.path("bom.json"));
    let out = verify(&env, &signed_by("bom.json.sig"));
    denied_with(&out, &["key-unknown", "sbom-unsigned"]);

    // Given with --key, the signature verifies, but under a policy only
    // the trust store vouches for a signer.
    let mut args = signed_by("bom.json.minisig");
    args.extend([o("--key"), stranger.public.clone().into()]);
    let out = verify(&env, &args);
    let v = denied_with(&out, &["sbom-unsigned"]);
    out.check(
        only(&out, &v, "sbom-signature")["status"] == "pass",
        "the signature itself verifies",
    )
    .check(
        message(&out, "sbom-unsigned").contains("whom nothing trusts for `srv`"),
        "the signer is not trusted",
    );
}

#[test]
fn sbom_signer_out_of_scope_is_denied() {
    let env = TestEnv::new();
    setup(&env, true);
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "elsewhere", &["other-*"]);
    key.sign(&env.path("bom.json"), None);

    let out = verify(&env, &signed_by("bom.json.minisig"));
    let v = denied_with(&out, &["sbom-unsigned"]);
    let sbom = only(&out, &v, "sbom");
    out.check(
        sbom["signer"]["trust_names"] == serde_json::json!(["elsewhere"]),
        "the report says who signed",
    )
    .check(
        message(&out, "sbom-unsigned").contains("whom nothing trusts for `srv`"),
        "and that the signer is not trusted for this server",
    );

    // In scope, the same signature counts.
    env.run(["trust", "remove", "elsewhere"]).code(0);
    env.trust_key(&key.public, "publisher", &["s*"]);
    let out = verify(&env, &signed_by("bom.json.minisig"));
    let v = allowed(&out);
    assert_signed(&out, &v, "bom.json.minisig", "publisher");
}

#[test]
fn sbom_signer_must_be_among_the_servers_signers() {
    let env = TestEnv::new();
    setup(&env, true);
    let key = Minisign::generate(&env, "ci");
    env.trust_key(&key.public, "acme-ci", &["s*"]);
    let release = Minisign::generate(&env, "release");
    env.trust_key(&release.public, "acme-release", &["s*"]);
    key.sign(&env.path("bom.json"), None);
    // Trusted and in scope, but the server names another signer.
    env.write(
        "policy.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nsource = \"npm:juice-shop@14.1.1\"\nrequire = [\"sbom\"]\nsigners = [\"acme-release\"]\n\n[servers.sbom]\nsigned = true\n"
        ),
    );
    let out = verify(&env, &signed_by("bom.json.minisig"));
    // The same code a signature's signer gets: one rule for both.
    denied_with(&out, &["signer-not-allowed"]);
    // Named there, it counts.
    env.write(
        "policy.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nsource = \"npm:juice-shop@14.1.1\"\nrequire = [\"sbom\"]\nsigners = [\"acme-release\", \"acme-ci\"]\n\n[servers.sbom]\nsigned = true\n"
        ),
    );
    let out = verify(&env, &signed_by("bom.json.minisig"));
    let v = allowed(&out);
    assert_signed(&out, &v, "bom.json.minisig", "acme-ci");
}

#[test]
fn sbom_signature_requires_sbom() {
    let env = TestEnv::new();
    setup(&env, true);
    env.write("x.minisig", "untrusted comment: x\n");
    let out = env.run(["verify", "server.bin", "--sbom-signature", "x.minisig"]);
    out.code(2).stderr_has("--sbom <FILE>");
    let out = env.run([
        "--format",
        "json",
        "verify",
        "server.bin",
        "--sbom-signature",
        "x.minisig",
    ]);
    out.code(2).diag("usage");

    // Documented in --help.
    env.run(["verify", "--help"])
        .code(0)
        .stdout_has("--sbom-signature <FILE>");
}

#[test]
fn artifact_signature_given_as_sbom_signature() {
    let env = TestEnv::new();
    setup(&env, true);
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &[SRV]);
    let ssh = SshKey::generate(&env, "publisher_ssh");
    env.trust_key(&ssh.public, "publisher-ssh", &[SRV]);
    key.sign(&env.path("server.bin"), None);
    ssh.sign(&env.path("server.bin"));

    for sig in ["server.bin.minisig", "server.bin.sig"] {
        let out = verify(&env, &signed_by(sig));
        let v = denied_with(&out, &["signature-invalid", "sbom-unsigned"]);
        assert_unsigned(&out, &v);
        let d = out.diagnostic("signature-invalid");
        out.check(
            d["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("{sig}: this is a signature of the artifact ")),
            "says it signs the artifact",
        )
        .check(
            d["hint"]
                .as_str()
                .unwrap_or_default()
                .contains("pass it with --signature"),
            "and where it belongs",
        );
    }

    // A signature over some third file verifies over nothing given.
    env.write("notes.txt", "release notes\n");
    key.sign(&env.path("notes.txt"), None);
    let out = verify(&env, &signed_by("notes.txt.minisig"));
    denied_with(&out, &["signature-invalid", "sbom-unsigned"]);
    out.check(
        message(&out, "signature-invalid").contains("verifies over none of the loose SBOMs given"),
        "says it verifies over no SBOM",
    );
}

/// No sigstore bundle in the fixtures signs an SBOM, so these cases use
/// the conformance suite's bundles over its text file as they are: the
/// signature path is real, the SBOM is not.
#[test]
fn sigstore_bundles_as_sbom_signatures() {
    let env = TestEnv::new();
    setup(&env, false);
    let case = fixture("sigstore-conformance/bundle-verify/managed-key-happy-path");
    env.copy_fixture("sigstore-conformance/a.txt", "a.txt");

    // A managed-key bundle over a.txt, given as an SBOM: the signature
    // verifies over it (a.txt is no SBOM, which is reported on its own).
    let out = verify(
        &env,
        &[
            o("--sbom"),
            o("a.txt"),
            o("--sbom-signature"),
            case.join("bundle.sigstore.json").into(),
            o("--key"),
            case.join("key.pub").into(),
        ],
    );
    let v = denied_with(&out, &["sbom-malformed"]);
    let check = only(&out, &v, "sbom-signature");
    out.check(
        check["status"] == "pass"
            && check["scheme"] == "sigstore"
            && check["details"]["sbom"] == "a.txt"
            && check["signer"]["kind"] == "key",
        "the bundle verifies over a.txt",
    )
    .check(
        only(&out, &v, "sbom")["signatures"][0]["signer"]["kind"] == "key",
        "and a.txt is signed by its key",
    );

    // The same bundle against the real SBOM verifies over nothing.
    let out = verify(
        &env,
        &[
            o("--sbom"),
            o("bom.json"),
            o("--sbom-signature"),
            case.join("bundle.sigstore.json").into(),
            o("--key"),
            case.join("key.pub").into(),
        ],
    );
    denied_with(&out, &["signature-invalid"]);

    // A keyless bundle over the artifact, given as an SBOM's signature.
    env.copy_fixture("sigstore-conformance/a.txt", "server.bin");
    super::sbom::pin_as_fetched(&env, "npm:juice-shop@14.1.1");
    let out = verify(
        &env,
        &[
            o("--sbom"),
            o("bom.json"),
            o("--sbom-signature"),
            f("sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json"),
            o("--certificate-identity"),
            o(CONF_IDENTITY),
            o("--certificate-oidc-issuer"),
            o(GHA),
        ],
    );
    denied_with(&out, &["signature-invalid"]);
    out.check(
        message(&out, "signature-invalid").contains("this is a signature of the artifact "),
        "says it signs the artifact",
    );
}
