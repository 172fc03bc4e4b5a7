//! Sigstore bundles (v0.1, v0.2, v0.3), verified offline against pinned
//! trusted roots with `sigstore-verify`: certificate chain, SCT,
//! transparency-log inclusion proof, checkpoint and SET, timestamps, and the
//! signature over the artifact or its DSSE subject. This module says who
//! signed (identity, issuer, CI claims, or a managed key); which identities
//! are acceptable is for `verify` and `policy`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sigstore_verify::bundle::Error as BundleError;
use sigstore_verify::error::{CertificateError, TransparencyLogError};
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{ArtifactDigest, Bundle, DerPublicKey, DigestBytes, HashAlgorithm};
use sigstore_verify::{
    Error as SsError, PublicKeyVerificationPolicy, VerificationPolicy, Verifier,
};

use super::SigError;
use crate::diag::Code;
use crate::digest::{Algorithm, Digest};

/// The trusted roots compiled in, in the order they are tried.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "sigstore-production",
        include_str!("../../trust-roots/sigstore-production.trusted_root.json"),
    ),
    (
        "github",
        include_str!("../../trust-roots/github.trusted_root.json"),
    ),
    (
        "sigstore-staging",
        include_str!("../../trust-roots/sigstore-staging.trusted_root.json"),
    ),
];

/// Largest artifact read whole, for Ed25519 message signatures (which sign
/// the message itself and cannot be streamed).
pub const MAX_WHOLE_FILE: u64 = 256 * 1024 * 1024;

/// Largest number of bundles one file may carry (`.intoto.jsonl` lines,
/// npm attestations).
pub const MAX_BUNDLES: usize = 64;

pub struct Root {
    pub name: String,
    pub root: TrustedRoot,
    verifier: Verifier,
}

impl Root {
    pub fn new(name: &str, json: &str) -> Result<Self, SigError> {
        let bad = |e: String| SigError::Check {
            code: Code::TrustedRootInvalid,
            message: format!("trusted root `{name}`: {e}"),
        };
        let root = TrustedRoot::from_json(json).map_err(|e| bad(e.to_string()))?;
        let verifier = Verifier::new(&root).map_err(|e| bad(e.to_string()))?;
        Ok(Root {
            name: name.to_string(),
            root,
            verifier,
        })
    }

    /// The base URL of the log that holds the bundle's entry, if this root
    /// knows it.
    pub fn log_for(&self, bundle: &Bundle) -> Option<String> {
        let entry = bundle.verification_material.tlog_entries.first()?;
        let want = serde_json::to_value(&entry.log_id).ok()?;
        self.root
            .tlogs
            .iter()
            .find(|t| serde_json::to_value(&t.log_id).ok().as_ref() == Some(&want))
            .map(|t| t.base_url.clone())
    }
}

/// Roots tried when no `--trusted-root` is given: the production
/// instances. Staging issues certificates to anyone for testing, so it is
/// used only when named (`--trusted-root sigstore-staging`).
pub const DEFAULT_ROOTS: &[&str] = &["sigstore-production", "github"];

/// The default embedded roots; a failure here is a build defect, caught by
/// tests.
pub fn embedded_roots() -> Result<Vec<Root>, SigError> {
    EMBEDDED
        .iter()
        .filter(|(n, _)| DEFAULT_ROOTS.contains(n))
        .map(|(n, j)| Root::new(n, j))
        .collect()
}

/// An embedded root by name, for `--trusted-root NAME`.
pub fn embedded_root(name: &str) -> Option<Result<Root, SigError>> {
    EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, j)| Root::new(n, j))
}

/// One authority of a trusted root, for `trust roots`.
#[derive(Debug, serde::Serialize)]
pub struct Authority {
    pub name: String,
    pub start: String,
    pub end: String,
}

#[derive(Debug, serde::Serialize)]
pub struct RootSummary {
    pub name: String,
    pub tlogs: Vec<Authority>,
    pub cas: Vec<Authority>,
    pub ctlogs: Vec<Authority>,
    pub tsas: Vec<Authority>,
}

/// The embedded roots as `trust roots` lists them, read from their JSON so
/// every field shows as published.
pub fn describe_embedded() -> Vec<RootSummary> {
    EMBEDDED
        .iter()
        .map(|(name, json)| {
            let v: Value = serde_json::from_str(json).unwrap_or_default();
            let list =
                |key: &str, name_of: &dyn Fn(&Value) -> String, window: &str| -> Vec<Authority> {
                    v.get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            let w = a.pointer(window);
                            let get = |k: &str| {
                                w.and_then(|w| w.get(k))
                                    .and_then(Value::as_str)
                                    .unwrap_or("open")
                                    .to_string()
                            };
                            Authority {
                                name: name_of(a),
                                start: get("start"),
                                end: get("end"),
                            }
                        })
                        .collect()
                };
            let url = |a: &Value| {
                a.get("baseUrl")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string()
            };
            let ca = |a: &Value| {
                let s = a.get("subject");
                let part = |k: &str| {
                    s.and_then(|s| s.get(k))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                };
                let uri = a.get("uri").and_then(Value::as_str).unwrap_or("");
                format!("{} {} {uri}", part("organization"), part("commonName"))
                    .trim()
                    .to_string()
            };
            RootSummary {
                name: name.to_string(),
                tlogs: list("tlogs", &url, "/publicKey/validFor"),
                cas: list("certificateAuthorities", &ca, "/validFor"),
                ctlogs: list("ctlogs", &url, "/publicKey/validFor"),
                tsas: list("timestampAuthorities", &ca, "/validFor"),
            }
        })
        .collect()
}

/// What kind of file `--bundle` was given, detected from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    Bundle,
    NpmAttestations,
    IntotoJsonl,
}

impl Wrapper {
    pub fn name(self) -> &'static str {
        match self {
            Wrapper::Bundle => "sigstore bundle",
            Wrapper::NpmAttestations => "npm attestations document",
            Wrapper::IntotoJsonl => "in-toto JSON lines",
        }
    }
}

/// One bundle of a file, with where it came from.
pub struct Item {
    pub label: String,
    pub bundle: Bundle,
}

fn malformed(msg: impl Into<String>) -> SigError {
    SigError::Check {
        code: Code::BundleMalformed,
        message: msg.into(),
    }
}

fn bundle_from(v: Value, label: &str) -> Result<Bundle, SigError> {
    if v.get("mediaType").is_none() {
        if v.get("payloadType").is_some() {
            return Err(SigError::Unsupported(format!(
                "{label} is a bare DSSE envelope, not a sigstore bundle; pass it with --signature"
            )));
        }
        return Err(malformed(format!(
            "{label} is not a sigstore bundle (no mediaType)"
        )));
    }
    serde_json::from_value(v).map_err(|e| malformed(format!("{label}: {e}")))
}

/// Splits a `--bundle` file into its bundles: a plain bundle, an npm
/// attestations document, or one bundle per line.
pub fn parse_file(bytes: &[u8]) -> Result<(Wrapper, Vec<Item>), SigError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| malformed("the bundle file is not UTF-8 JSON"))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return Err(malformed("the bundle file is empty"));
    }
    // A single document (possibly pretty-printed over many lines).
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        if let Some(atts) = v.get("attestations") {
            let atts = atts
                .as_array()
                .ok_or_else(|| malformed("`attestations` is not an array"))?;
            if atts.is_empty() || atts.len() > MAX_BUNDLES {
                return Err(malformed(format!(
                    "the document has {} attestations",
                    atts.len()
                )));
            }
            let mut items = Vec::new();
            for (i, a) in atts.iter().enumerate() {
                let pt = a
                    .get("predicateType")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown predicate");
                let label = format!("attestation {} ({pt})", i + 1);
                let b = a
                    .get("bundle")
                    .cloned()
                    .ok_or_else(|| malformed(format!("{label} has no bundle")))?;
                items.push(Item {
                    bundle: bundle_from(b, &label)?,
                    label,
                });
            }
            return Ok((Wrapper::NpmAttestations, items));
        }
        let label = "the bundle".to_string();
        return Ok((
            Wrapper::Bundle,
            vec![Item {
                bundle: bundle_from(v, &label)?,
                label,
            }],
        ));
    }
    if lines.len() < 2 {
        // One line that is not JSON.
        let e = serde_json::from_str::<Value>(text).expect_err("parsed above");
        return Err(malformed(format!("the bundle is not valid JSON: {e}")));
    }
    if lines.len() > MAX_BUNDLES {
        return Err(malformed(format!(
            "{} lines; at most {MAX_BUNDLES} bundles are read",
            lines.len()
        )));
    }
    let mut items = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let label = format!("line {}", i + 1);
        let v: Value =
            serde_json::from_str(l).map_err(|e| malformed(format!("{label} is not JSON: {e}")))?;
        items.push(Item {
            bundle: bundle_from(v, &label)?,
            label,
        });
    }
    Ok((Wrapper::IntotoJsonl, items))
}

/// The artifact as sigstore sees it.
pub enum Input<'a> {
    /// A file, with its SHA-256 when the caller has it already: that serves
    /// ECDSA message signatures and sha256 DSSE subjects without reading
    /// the file again.
    File {
        path: &'a Path,
        sha256: Option<&'a Digest>,
    },
    Digest(&'a Digest),
}

fn check<P: sigstore_verify::Policy>(
    v: &Verifier,
    bundle: &Bundle,
    input: &Input,
    policy: &P,
    whole_file: bool,
) -> Result<sigstore_verify::VerificationResult, SsError> {
    match input {
        Input::Digest(d) => v.verify(artifact_digest(d)?, bundle, policy),
        Input::File { path, sha256 } => {
            if !whole_file && let Some(d) = sha256 {
                match v.verify(artifact_digest(d)?, bundle, policy) {
                    // The bundle needs another digest (sha512 subjects) or
                    // the bytes: the file decides.
                    Err(SsError::UnsupportedArtifact(_) | SsError::ArtifactMismatch(_)) => {}
                    r => return r,
                }
            }
            if whole_file {
                // Bounded: such signatures are for small files; a larger
                // one is refused rather than read into memory.
                let bytes = crate::fsutil::read_bounded(path, MAX_WHOLE_FILE).map_err(|e| {
                    SsError::UnsupportedArtifact(format!(
                        "an Ed25519 message signature needs the whole file in memory: {e}"
                    ))
                })?;
                v.verify(bytes.as_slice(), bundle, policy)
            } else {
                let f = std::fs::File::open(path).map_err(SsError::ArtifactRead)?;
                v.verify_reader(
                    std::io::BufReader::with_capacity(1 << 20, f),
                    bundle,
                    policy,
                )
            }
        }
    }
}

/// How the bundle must be signed.
pub enum Rule<'a> {
    /// A Fulcio certificate; identity and issuer are returned for the caller
    /// to match (a bundle is never accepted for "any identity" by itself).
    Keyless,
    /// A managed key (`--key PEM`), SubjectPublicKeyInfo DER.
    Key(&'a [u8]),
}

/// A verified bundle.
#[derive(Debug, Clone)]
pub struct Verified {
    pub root: String,
    pub log: Option<String>,
    pub identity: Option<String>,
    pub issuer: Option<String>,
    /// GitHub workflow claims from the certificate, by short name.
    pub claims: BTreeMap<String, String>,
    pub integrated_time: Option<String>,
    pub media_type: &'static str,
    pub dsse: bool,
}

/// Verifies one bundle against each root in turn; the first root under
/// which everything checks out is the one reported.
pub fn verify(
    bundle: &Bundle,
    input: &Input,
    roots: &[Root],
    rule: &Rule,
) -> Result<Verified, SigError> {
    let mut first_err: Option<(bool, SigError)> = None;
    for root in roots {
        match verify_one(bundle, input, root, rule) {
            Ok(v) => return Ok(v),
            Err(e) => {
                // Prefer the error from a root that knows the bundle's log:
                // that is the root the signer used.
                let knows = root.log_for(bundle).is_some();
                match &first_err {
                    Some((true, _)) => {}
                    Some((false, _)) if !knows => {}
                    _ => first_err = Some((knows, e)),
                }
            }
        }
    }
    let err = first_err
        .map(|(_, e)| e)
        .unwrap_or_else(|| malformed("no trusted root to verify against"));
    Err(unknown_log(bundle, roots, err))
}

/// When no root knows the bundle's transparency log (a bundle from another
/// sigstore instance), the log checks fail on whichever proof comes first
/// (SET, checkpoint); the cause is the unknown log, so say that.
fn unknown_log(bundle: &Bundle, roots: &[Root], err: SigError) -> SigError {
    let Some(entry) = bundle.verification_material.tlog_entries.first() else {
        return err;
    };
    match err {
        SigError::Check { code, message }
            if matches!(
                code,
                Code::SetInvalid
                    | Code::CheckpointInvalid
                    | Code::InclusionProofInvalid
                    | Code::TlogInvalid
            ) && !roots.is_empty()
                && roots.iter().all(|r| r.log_for(bundle).is_none()) =>
        {
            let id = serde_json::to_value(&entry.log_id)
                .ok()
                .and_then(|v| v.get("keyId").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            let names: Vec<&str> = roots.iter().map(|r| r.name.as_str()).collect();
            let (root, know) = if names.len() == 1 {
                ("root", "does")
            } else {
                ("roots", "do")
            };
            SigError::Check {
                code: Code::TlogInvalid,
                message: format!(
                    "the bundle's log entry is from a transparency log (log ID {id}) that the trusted {root} ({}) {know} not know; {message}",
                    names.join(", ")
                ),
            }
        }
        e => e,
    }
}

fn verify_one(
    bundle: &Bundle,
    input: &Input,
    root: &Root,
    rule: &Rule,
) -> Result<Verified, SigError> {
    let result = match rule {
        Rule::Keyless => check(
            &root.verifier,
            bundle,
            input,
            &VerificationPolicy::any_identity(),
            false,
        ),
        Rule::Key(der) => {
            // Pure Ed25519 signs the message itself, not a digest of it, so
            // a message signature by an Ed25519 key needs the file's bytes.
            let whole_file = is_ed25519_spki(der)
                && matches!(
                    bundle.content,
                    sigstore_verify::types::SignatureContent::MessageSignature(_)
                );
            let p = PublicKeyVerificationPolicy::new(DerPublicKey::new(der.to_vec()));
            check(&root.verifier, bundle, input, &p, whole_file)
        }
    }
    .map_err(map_error)?;
    if matches!(rule, Rule::Keyless) && !result.certificate_verified() {
        return Err(SigError::Check {
            code: Code::CertificateInvalid,
            message: "the bundle's certificate was not verified".into(),
        });
    }
    let mut claims = BTreeMap::new();
    if let Some(c) = result.certificate() {
        let ci = &c.ci_claims;
        for (k, v) in [
            ("repository", &ci.source_repository_uri),
            ("ref", &ci.source_repository_ref),
            ("workflow", &ci.build_config_uri),
            ("trigger", &ci.build_trigger),
            ("commit", &ci.source_repository_digest),
            ("runner-environment", &ci.runner_environment),
        ] {
            if let Some(v) = v {
                claims.insert(k.to_string(), v.clone());
            }
        }
    }
    Ok(Verified {
        root: root.name.clone(),
        log: root.log_for(bundle),
        identity: result.identity().map(|s| s.as_str().to_string()),
        issuer: result.issuer().map(str::to_string),
        claims,
        integrated_time: result.integrated_time().map(|t| t.to_string()),
        media_type: bundle.media_type().as_str(),
        dsse: matches!(
            bundle.content,
            sigstore_verify::types::SignatureContent::DsseEnvelope(_)
        ),
    })
}

/// An Ed25519 SubjectPublicKeyInfo: `SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING (32 bytes) }`.
fn is_ed25519_spki(der: &[u8]) -> bool {
    const PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.len() == 44 && der.starts_with(&PREFIX)
}

fn artifact_digest(d: &Digest) -> Result<sigstore_verify::types::Artifact<'static>, SsError> {
    let alg = match d.algorithm {
        Algorithm::Sha256 => HashAlgorithm::Sha2256,
        Algorithm::Sha512 => HashAlgorithm::Sha2512,
    };
    Ok(ArtifactDigest::new(alg, DigestBytes::new(d.bytes.clone()))?.into())
}

/// Each failure gets its own code, so the report says which check failed.
fn map_error(e: SsError) -> SigError {
    let message = e.to_string();
    let code = match &e {
        SsError::IdentityMismatch { .. } => Code::IdentityMismatch,
        SsError::IssuerMismatch { .. } => Code::IssuerMismatch,
        SsError::SignatureInvalid(_) => Code::SignatureInvalid,
        SsError::ArtifactMismatch(_) => Code::DigestMismatch,
        SsError::UnsupportedArtifact(_) => Code::DigestModeUnsupported,
        SsError::Certificate(CertificateError::NoValidAuthority { .. }) => Code::TrustedRootExpired,
        SsError::Certificate(_) => Code::CertificateInvalid,
        SsError::TransparencyLog(t) => match t {
            TransparencyLogError::InclusionProof(_) => Code::InclusionProofInvalid,
            TransparencyLogError::Checkpoint(_) => Code::CheckpointInvalid,
            TransparencyLogError::InclusionPromise(_) => Code::SetInvalid,
            _ => Code::TlogInvalid,
        },
        SsError::Timestamp(_) => Code::TimestampInvalid,
        // Found by the structural pass, which runs before the log checks,
        // but they are log evidence that does not check out, not parse
        // failures: the proof's root is not the one the checkpoint signs
        // (Rekor checks this with the checkpoint), or the proof's index is
        // outside its tree.
        SsError::Bundle(BundleError::CheckpointRootMismatch) => Code::CheckpointInvalid,
        SsError::Bundle(BundleError::LogIndexOutOfRange { .. }) => Code::InclusionProofInvalid,
        SsError::UnsupportedBundle(_) => Code::BundleUnsupported,
        SsError::InvalidTrustRoot(_) | SsError::TrustRoot(_) | SsError::TrustedCertificate(_) => {
            Code::TrustedRootInvalid
        }
        SsError::ArtifactRead(_) => Code::ArtifactUnreadable,
        _ => Code::BundleMalformed,
    };
    SigError::Check { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_roots_load() {
        let roots = embedded_roots().unwrap();
        assert_eq!(roots.len(), 2, "staging is not a default root");
        assert!(embedded_root("sigstore-staging").unwrap().is_ok());
        assert!(
            roots
                .iter()
                .all(|r| !r.root.certificate_authorities.is_empty())
        );
    }

    #[test]
    fn ed25519_keys_are_told_from_p256_keys() {
        use crate::signature::keys::PublicKey;
        let ed = PublicKey::parse(include_bytes!(
            "../../fixtures/keys/openssl_ed25519.pub.pem"
        ))
        .unwrap();
        assert!(is_ed25519_spki(&ed.spki_der()));
        let p256 = PublicKey::parse(include_bytes!(
            "../../fixtures/sigstore-conformance/bundle-verify/managed-key-happy-path/key.pub"
        ))
        .unwrap();
        assert!(!is_ed25519_spki(&p256.spki_der()));
    }

    #[test]
    fn wrappers_are_detected_and_garbage_refused() {
        for bad in [
            &b""[..],
            b"   ",
            b"not json",
            b"{}",
            b"[]",
            b"{\"attestations\": 3}",
            b"{\"attestations\": []}",
        ] {
            assert!(
                parse_file(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(10_000);
        assert!(parse_file(deep.as_bytes()).is_err());
    }
}
