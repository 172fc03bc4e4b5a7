//! Source resolution end to end: what `source::resolve` returns from real
//! registry metadata verifies with the real binary. PyPI's PEP 740
//! provenance, converted to a sigstore bundle, and npm's attestations
//! document, both judged by `verify --bundle`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;

use mcp_warden::source::{self, Fetch, FetchError, ResolveOptions, Source};

use super::support::util::*;

const GHA: &str = "https://token.actions.githubusercontent.com";
const GOOGLE: &str = "https://accounts.google.com";
/// The Cloud Build service account that published gcb-attestation-test.
const GCB_IDENTITY: &str = "919436158236-compute@developer.gserviceaccount.com";
const SIGSTORE_JS: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const GCB_SDIST: &str = "sources/pypi/gcb_attestation_test-0.0.0.tar.gz";
const SIGSTORE_TGZ: &str = "slsa/npm/gha/provenance-npm-test-cli-v1-prega.tgz";

/// Fixture documents served by URL: a stand-in for the network.
struct Fixtures(HashMap<String, Vec<u8>>);

impl Fixtures {
    fn new(pairs: &[(&str, &str)]) -> Self {
        Fixtures(
            pairs
                .iter()
                .map(|(url, rel)| (url.to_string(), fs::read(fixture(rel)).unwrap()))
                .collect(),
        )
    }
}

impl Fetch for Fixtures {
    fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        match self.0.get(url) {
            Some(b) if b.len() as u64 <= limit => Ok(b.clone()),
            Some(_) => Err(FetchError::other("over the limit")),
            None => Err(FetchError::not_found(format!("404 {url}"))),
        }
    }
}

fn verify(env: &TestEnv, artifact: &OsString, bundle: &OsString, id: &str, issuer: &str) -> Output {
    env.run([
        OsString::from("--format"),
        "json".into(),
        "verify".into(),
        artifact.clone(),
        "--bundle".into(),
        bundle.clone(),
        "--certificate-identity".into(),
        id.into(),
        "--certificate-oidc-issuer".into(),
        issuer.into(),
    ])
}

struct Converted {
    bytes: Vec<u8>,
}

/// What PyPI publishes for gcb-attestation-test 0.0.0: its PEP 740
/// provenance (converted to sigstore bundles, as `add` does) and the sdist's
/// sha256 from the real simple-API page. (`add` itself refuses the sdist:
/// building one runs its code; the conversion is what is checked here.)
struct GcbResolved {
    attestations: Vec<Converted>,
    expected: Vec<String>,
}

fn gcb_resolved() -> GcbResolved {
    let url = "https://pypi.org/integrity/gcb-attestation-test/0.0.0/gcb_attestation_test-0.0.0.tar.gz/provenance";
    let prov = fs::read(fixture(
        "sources/pypi/gcb_attestation_test-0.0.0.tar.gz.provenance",
    ))
    .unwrap();
    let attestations = source::pypi::provenance_to_bundles(url, &prov)
        .unwrap()
        .into_iter()
        .map(|c| Converted { bytes: c.bundle })
        .collect();
    let page: serde_json::Value = serde_json::from_slice(
        &fs::read(fixture("pypi/gcb-attestation-test.simple.json")).unwrap(),
    )
    .unwrap();
    let sha = page["files"][0]["hashes"]["sha256"].as_str().unwrap();
    GcbResolved {
        attestations,
        expected: vec![format!("sha256:{sha}")],
    }
}

#[test]
fn pypi_provenance_converted_to_a_bundle_verifies_with_the_binary() {
    let env = TestEnv::new();
    let r = gcb_resolved();
    assert_eq!(r.attestations.len(), 1);
    let bundle = env.write("gcb.sigstore.json", &r.attestations[0].bytes);
    let sdist = env.copy_fixture(GCB_SDIST, "gcb_attestation_test-0.0.0.tar.gz");
    // The digest the index published is the file's.
    let bytes = fs::read(&sdist).unwrap();
    assert_eq!(
        r.expected[0].to_string(),
        format!("sha256:{}", sha256_hex(&bytes))
    );

    let out = verify(
        &env,
        &sdist.clone().into(),
        &bundle.clone().into(),
        GCB_IDENTITY,
        GOOGLE,
    );
    out.code(0);
    out.check(error_codes(&out.json()).is_empty(), "no error");

    // By digest, as `add` may check before the download is kept.
    verify(
        &env,
        &r.expected[0].to_string().into(),
        &bundle.clone().into(),
        GCB_IDENTITY,
        GOOGLE,
    )
    .code(0);

    // Another identity or issuer is denied.
    verify(
        &env,
        &sdist.clone().into(),
        &bundle.clone().into(),
        "someone@example.com",
        GOOGLE,
    )
    .code(1)
    .diag("identity-mismatch");
    verify(
        &env,
        &sdist.clone().into(),
        &bundle.clone().into(),
        GCB_IDENTITY,
        GHA,
    )
    .code(1);

    // A tampered sdist is denied.
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let bad = env.write("tampered.tar.gz", &tampered);
    verify(&env, &bad.into(), &bundle.into(), GCB_IDENTITY, GOOGLE).code(1);
}

#[test]
fn a_tampered_conversion_is_denied() {
    let env = TestEnv::new();
    let r = gcb_resolved();
    let mut b: serde_json::Value = serde_json::from_slice(&r.attestations[0].bytes).unwrap();
    // The signature of another statement: flip one base64 character.
    let sig = b["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped: String = sig
        .char_indices()
        .map(|(i, c)| {
            if i == 10 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    b["dsseEnvelope"]["signatures"][0]["sig"] = flipped.into();
    let bundle = env.write("bad.sigstore.json", serde_json::to_vec(&b).unwrap());
    let sdist = env.copy_fixture(GCB_SDIST, "gcb_attestation_test-0.0.0.tar.gz");
    verify(&env, &sdist.into(), &bundle.into(), GCB_IDENTITY, GOOGLE).code(1);
}

#[test]
fn npm_attestations_from_resolution_verify_with_the_binary() {
    let env = TestEnv::new();
    let fetch = Fixtures::new(&[
        (
            "https://registry.npmjs.org/sigstore/2.3.1",
            "sources/npm/sigstore-2.3.1.json",
        ),
        (
            "https://registry.npmjs.org/-/npm/v1/attestations/sigstore@2.3.1",
            "sources/npm/sigstore-2.3.1.attestations.json",
        ),
    ]);
    let src: Source = "npm:sigstore@2.3.1".parse().unwrap();
    let r = source::resolve(&src, &fetch, &ResolveOptions::default()).unwrap();
    let doc = env.write("sigstore-2.3.1.attestations.json", &r.attestations[0].bytes);
    let tgz = env.copy_fixture(SIGSTORE_TGZ, "sigstore-2.3.1.tgz");
    assert_eq!(
        r.expected[0].to_string(),
        format!("sha512:{}", sha512_hex(&fs::read(&tgz).unwrap()))
    );
    verify(
        &env,
        &tgz.clone().into(),
        &doc.clone().into(),
        SIGSTORE_JS,
        GHA,
    )
    .code(0);
    verify(
        &env,
        &r.expected[0].to_string().into(),
        &doc.into(),
        SIGSTORE_JS,
        GHA,
    )
    .code(0);
}
