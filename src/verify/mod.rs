//! `verify`: gathers evidence for one artifact (digests, signatures) and
//! hands it to the policy. Reads the artifact once, whatever the number of
//! signatures, and never decides anything itself.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::diag::{Code, Diagnostic};
use crate::digest::{self, Algorithm, Digest, Sink};
use crate::evidence::{
    ArtifactInfo, Evidence, KeySigner, Role, SbomEvidence, ServerFrom, SignatureEvidence, Signer,
};
use crate::fsutil::{self, ReadError};
use crate::provenance;
use crate::signature::keys::{self, KeyError, PublicKey};
use crate::signature::minisign::LegacyVerifier;
use crate::signature::sigstore;
use crate::signature::{MAX_SIGNATURE_FILE, SigError, SignatureFile};
// The command line builds its rule through `verify::IdentityRule`.
pub use crate::identity::IdentityRule;
use crate::trust::{DEFAULT_SSH_NAMESPACE, Entry, TrustStore};
use ed25519_dalek::VerifyingKey;

mod bundle;
mod detached;

/// What is verified: a file, or only its digest (`sha256:HEX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRef {
    Path(PathBuf),
    Digest(Digest),
}

impl FromStr for ArtifactRef {
    type Err = digest::ParseDigestError;

    /// `sha256:`/`sha512:` prefixes mean a digest; anything else a path
    /// (write `./sha256:x` for a file with such a name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let prefix = s.get(..7).map(str::to_ascii_lowercase);
        if matches!(prefix.as_deref(), Some("sha256:" | "sha512:")) {
            format!("{}{}", prefix.unwrap_or_default(), &s[7..])
                .parse()
                .map(ArtifactRef::Digest)
        } else {
            Ok(ArtifactRef::Path(PathBuf::from(s)))
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub artifact: ArtifactRef,
    pub signatures: Vec<PathBuf>,
    /// Sigstore bundles (plain, npm attestations, `.intoto.jsonl`).
    pub bundles: Vec<PathBuf>,
    pub keys: Vec<PathBuf>,
    pub key_names: Vec<String>,
    pub server: Option<String>,
    /// `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`.
    pub identity: Option<IdentityRule>,
    /// Replaces the embedded sigstore roots for this call.
    pub trusted_root: Option<PathBuf>,
    /// Provenance attestations (`--provenance`).
    pub provenance: Vec<PathBuf>,
    /// SBOMs (`--sbom`): plain documents or attestations carrying one.
    pub sboms: Vec<PathBuf>,
    /// Detached signatures over loose SBOMs (`--sbom-signature`).
    pub sbom_signatures: Vec<PathBuf>,
}

/// Problems with the input itself (exit 2), as opposed to evidence that
/// fails to verify (a denial, exit 1).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read the artifact: {0}")]
    Artifact(ReadError),
    #[error("cannot read the signature: {0}")]
    Signature(ReadError),
    #[error("cannot read the key: {0}")]
    KeyFile(ReadError),
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: KeyError },
    #[error("no trusted key is named `{0}`")]
    KeyName(String),
    #[error("`{0}` is a sigstore identity, not a key; identities verify sigstore bundles")]
    NotAKey(String),
    #[error("cannot read the bundle: {0}")]
    Bundle(ReadError),
    #[error("cannot read the evidence file: {0}")]
    Evidence(ReadError),
    #[error("cannot use the trusted root: {0}")]
    TrustedRoot(String),
}

impl crate::diag::Diagnose for InputError {
    fn code(&self) -> Code {
        match self {
            InputError::Artifact(_) => Code::ArtifactUnreadable,
            InputError::Key { .. } | InputError::KeyFile(_) => Code::KeyMalformed,
            InputError::KeyName(_) | InputError::NotAKey(_) => Code::KeyUnknown,
            InputError::Signature(_) | InputError::Bundle(_) | InputError::Evidence(_) => {
                Code::InputInvalid
            }
            InputError::TrustedRoot(_) => Code::TrustedRootInvalid,
        }
    }

    fn hint(&self) -> Option<String> {
        let hint: Option<&'static str> = match self {
            InputError::KeyName(_) => Some("`mcp-warden trust list` shows the trusted keys"),
            InputError::Key { .. } => Some(
                "pass a minisign .pub file, an OpenSSH `ssh-ed25519` public key line or a PEM public key",
            ),
            InputError::Artifact(ReadError::Directory { .. }) => {
                Some("pass the server's file, not its directory")
            }
            _ => None,
        };
        hint.map(str::to_string)
    }
}

/// A key to try: from `--key`, `--key-name`, or the whole trust store.
pub(crate) struct Candidate {
    key: PublicKey,
    fingerprint: String,
    trust_names: Vec<String>,
    key_file: Option<PathBuf>,
    ssh_namespace: String,
}

impl Candidate {
    pub(crate) fn signer(&self) -> KeySigner {
        KeySigner {
            fingerprint: self.fingerprint.clone(),
            minisign_key_id: self.key.minisign_id.as_ref().map(keys::minisign_id_hex),
            trust_names: self.trust_names.clone(),
            key_file: self.key_file.clone(),
        }
    }
}

fn candidates(req: &Request, trust: &TrustStore) -> Result<Vec<Candidate>, InputError> {
    let from_trust = |fp: &str| -> (Vec<String>, Option<String>) {
        let entries: Vec<_> = trust.keys_with_fingerprint(fp).collect();
        (
            entries.iter().map(|k| k.name.clone()).collect(),
            entries.first().map(|k| k.ssh_namespace.clone()),
        )
    };
    let mut out: Vec<Candidate> = Vec::new();
    for path in &req.keys {
        let bytes = fsutil::read_bounded(path, keys::MAX_KEY_FILE).map_err(InputError::KeyFile)?;
        let key = PublicKey::parse(&bytes).map_err(|source| InputError::Key {
            path: path.clone(),
            source,
        })?;
        let fingerprint = key.fingerprint();
        let (trust_names, ns) = from_trust(&fingerprint);
        out.push(Candidate {
            key,
            fingerprint,
            trust_names,
            key_file: Some(path.clone()),
            ssh_namespace: ns.unwrap_or_else(|| DEFAULT_SSH_NAMESPACE.into()),
        });
    }
    for name in &req.key_names {
        match trust.get(name) {
            Some(Entry::Key(k)) => out.push(Candidate {
                key: k.key.clone(),
                fingerprint: k.fingerprint.clone(),
                trust_names: from_trust(&k.fingerprint).0,
                key_file: None,
                ssh_namespace: k.ssh_namespace.clone(),
            }),
            Some(Entry::Identity(_)) => return Err(InputError::NotAKey(name.clone())),
            None => return Err(InputError::KeyName(name.clone())),
        }
    }
    if req.keys.is_empty() && req.key_names.is_empty() {
        for k in &trust.keys {
            if out.iter().any(|c| c.fingerprint == k.fingerprint) {
                continue;
            }
            out.push(Candidate {
                key: k.key.clone(),
                fingerprint: k.fingerprint.clone(),
                trust_names: from_trust(&k.fingerprint).0,
                key_file: None,
                ssh_namespace: k.ssh_namespace.clone(),
            });
        }
    }
    Ok(out)
}

#[derive(Clone)]
struct Parsed {
    file: PathBuf,
    sig: Result<SignatureFile, SigError>,
    role: Role,
}

/// What an evidence file holds, judged from its top-level JSON keys only:
/// the values are skipped, not built, so a 50 MB SBOM costs one light pass.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// `{"payloadType": …}`: a DSSE envelope signed by a key.
    BareDsse,
    /// A sigstore bundle, an npm attestations document, or bundles one per
    /// line.
    SigstoreWrapper,
    /// Anything else: for `--sbom`, a plain SBOM document.
    Other,
}

/// [`classify`] on an `--sbom` file already scanned: its scan serves the
/// SBOM parser too. Where the scan could not tell, the key-only pass does.
fn classify_scanned(bytes: &[u8], scanned: &crate::sbom::Scanned) -> Kind {
    let has = |k| scanned.has_key(k);
    match (has("mediaType"), has("attestations"), has("payloadType")) {
        (Some(true), ..) | (_, Some(true), _) => Kind::SigstoreWrapper,
        (.., Some(true)) => Kind::BareDsse,
        (Some(false), Some(false), Some(false)) => Kind::Other,
        _ => classify(bytes),
    }
}

/// Judged by a key-only pass: values are skipped, not built.
fn classify(bytes: &[u8]) -> Kind {
    type Keys = std::collections::HashMap<String, serde::de::IgnoredAny>;
    let of = |keys: &Keys| {
        if keys.contains_key("mediaType") || keys.contains_key("attestations") {
            Kind::SigstoreWrapper
        } else if keys.contains_key("payloadType") {
            Kind::BareDsse
        } else {
            Kind::Other
        }
    };
    match serde_json::from_slice::<Keys>(bytes) {
        Ok(keys) => of(&keys),
        // JSON lines: the first line decides.
        Err(_) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
            .and_then(|l| serde_json::from_str::<Keys>(l).ok())
            .map(|keys| match of(&keys) {
                Kind::BareDsse => Kind::Other,
                k => k,
            })
            .unwrap_or(Kind::Other),
    }
}

/// Collects the evidence for `req`. Input problems are errors; everything
/// about the signatures themselves is evidence, good or bad.
pub fn collect(req: &Request, trust: &TrustStore) -> Result<Evidence, InputError> {
    let cands = candidates(req, trust)?;
    let mut parsed = Vec::with_capacity(req.signatures.len());
    for file in &req.signatures {
        let bytes =
            fsutil::read_bounded(file, MAX_SIGNATURE_FILE).map_err(InputError::Signature)?;
        parsed.push(Parsed {
            file: file.clone(),
            sig: SignatureFile::parse(&bytes),
            role: Role::Signature,
        });
    }
    // Provenance comes as a bare DSSE envelope (signed by a pinned key) or
    // in sigstore wrappers; the envelopes join the signatures so that one
    // pass over the artifact hashes what their subjects need.
    let mut bundle_files: Vec<(PathBuf, Role)> = req
        .bundles
        .iter()
        .map(|b| (b.clone(), Role::Signature))
        .collect();
    // Detached signatures over loose SBOMs are checked against each SBOM's
    // bytes as it is read, so that the bytes signed are the bytes parsed
    // (sigstore goes by their SHA-256, and reads the file again only for
    // an Ed25519 message signature or a sha512 subject).
    let mut sbom_sigs = detached::read(req)?;
    let mut sboms = Vec::new();
    for file in &req.sboms {
        let bytes = fsutil::read_bounded(file, crate::sbom::MAX_SBOM as u64)
            .map_err(InputError::Evidence)?;
        let scanned = crate::sbom::Scanned::new(&bytes);
        match classify_scanned(&bytes, &scanned) {
            Kind::BareDsse => parsed.push(Parsed {
                file: file.clone(),
                sig: SignatureFile::parse(&bytes),
                role: Role::Sbom,
            }),
            Kind::SigstoreWrapper => bundle_files.push((file.clone(), Role::Sbom)),
            Kind::Other => {
                detached::check_sbom(
                    &mut sbom_sigs,
                    sboms.len(),
                    file,
                    &bytes,
                    &cands,
                    req,
                    trust,
                )?;
                sboms.push(SbomEvidence {
                    file: file.clone(),
                    signer: None,
                    signatures: Vec::new(),
                    subject_bound: false,
                    sbom: scanned.parse().map_err(sbom_diag),
                });
            }
        }
    }
    for file in &req.provenance {
        let bytes = fsutil::read_bounded(file, MAX_SIGNATURE_FILE).map_err(InputError::Evidence)?;
        if classify(&bytes) == Kind::BareDsse {
            parsed.push(Parsed {
                file: file.clone(),
                sig: SignatureFile::parse(&bytes),
                role: Role::Provenance,
            });
        } else {
            bundle_files.push((file.clone(), Role::Provenance));
        }
    }

    // A loose SBOM is bound by its top component's hash, which may be a
    // SHA-512 only (npm's integrity): hash what the SBOMs carry.
    let sbom_algs: Vec<Algorithm> = sboms
        .iter()
        .filter_map(|s| s.sbom.as_ref().ok()?.top.as_ref())
        .flat_map(|t| &t.hashes)
        .filter_map(|(alg, _)| match alg.as_str() {
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        })
        .collect();
    let (artifact, server_default, mut stream) = match &req.artifact {
        ArtifactRef::Path(p) => {
            let (info, stream) = hash_file(p, &parsed, &cands, &sbom_algs)?;
            let name = file_name(p);
            (info, (name, ServerFrom::FileName), Some(stream))
        }
        ArtifactRef::Digest(d) => (
            ArtifactInfo {
                name: d.to_string(),
                path: None,
                size: None,
                digests: vec![d.clone()],
            },
            (d.to_string(), ServerFrom::Digest),
            None,
        ),
    };
    let (server, server_from) = match &req.server {
        Some(s) => (s.clone(), ServerFrom::Flag),
        None => server_default,
    };

    let mut signatures: Vec<SignatureEvidence> = parsed
        .into_iter()
        .enumerate()
        .map(|(i, p)| judge(i, p, &cands, &artifact, stream.as_mut()))
        .collect();
    if !bundle_files.is_empty() {
        let input = match &req.artifact {
            ArtifactRef::Path(p) => sigstore::Input::File {
                path: p,
                sha256: artifact.digest(Algorithm::Sha256),
            },
            ArtifactRef::Digest(d) => sigstore::Input::Digest(d),
        };
        signatures.extend(bundle::judge_all(
            req,
            &bundle_files,
            &input,
            &cands,
            trust,
        )?);
    }
    for ev in signatures.iter_mut() {
        match ev.role {
            Role::Provenance => read_provenance(ev),
            Role::Sbom => sboms.extend(read_sbom_attestation(ev)),
            Role::Signature | Role::SbomSignature => {}
        }
    }
    if !sbom_sigs.is_empty() {
        signatures.extend(detached::finish(
            sbom_sigs, &mut sboms, req, &cands, trust, &artifact,
        )?);
    }
    if let ArtifactRef::Path(p) = &req.artifact {
        signatures.extend(mcpb_signature(p, trust, &server));
    }
    Ok(Evidence {
        artifact,
        server,
        server_from,
        signatures,
        sboms,
        // Set by the caller that knows where the artifact came from.
        origin: Default::default(),
    })
}

/// The signature an `.mcpb` bundle carries at its end, checked against the
/// trust store's CAs in scope for `server`; nothing for other files.
fn mcpb_signature(path: &Path, trust: &TrustStore, server: &str) -> Option<SignatureEvidence> {
    use crate::evidence::PublisherSigner;
    let block = crate::mcpb::find_signature(path);
    if matches!(block, Ok(None)) {
        return None;
    }
    let mut ev = SignatureEvidence::new(
        path.to_path_buf(),
        Some(crate::signature::Scheme::Mcpb),
        Role::Signature,
    );
    ev.outcome = block
        .and_then(|_| {
            crate::mcpb::verify_for_server(path, trust, server, std::time::SystemTime::now())
        })
        .map(|p| {
            ev.details.push(("publisher".into(), p.subject.clone()));
            ev.details.push(("ca".into(), p.ca_name.clone()));
            Signer::Publisher(PublisherSigner {
                subject: p.subject,
                fingerprint: p.fingerprint,
                trust_names: vec![p.ca_name],
            })
        })
        // The report names the file; the message says what failed.
        .map_err(|e| crate::diag::Diagnose::diagnostic(&e));
    Some(ev)
}

/// in-toto predicate types that carry an SBOM.
const SBOM_PREDICATES: &[&str] = &["https://cyclonedx.org/bom", "https://spdx.dev/Document"];

fn sbom_diag(e: crate::sbom::SbomError) -> Diagnostic {
    let code = match &e {
        crate::sbom::SbomError::Unsupported(_)
        | crate::sbom::SbomError::UnsupportedVersion { .. } => Code::SbomUnsupported,
        _ => Code::SbomMalformed,
    };
    Diagnostic::error(code, e.to_string()).hint(
        "pass a CycloneDX (JSON or XML, 1.2-1.7) or SPDX 2.2/2.3 (JSON, tag-value) document as its generator wrote it",
    )
}

/// The SBOM inside a verified `--sbom` attestation. Its subject was checked
/// to be this artifact, which binds the SBOM to it.
fn read_sbom_attestation(ev: &mut SignatureEvidence) -> Option<SbomEvidence> {
    let signer = match &mut ev.outcome {
        Err(d) => {
            if d.code == Code::DigestMismatch {
                d.code = Code::SbomNotBound;
                d.hint = Some("pass the SBOM attestation made for this artifact".into());
            }
            return None;
        }
        Ok(s) => s.clone(),
    };
    let Some(st) = ev.statement.clone() else {
        ev.outcome = Err(Diagnostic::error(
            Code::SbomMalformed,
            "the file is signed, but holds no in-toto statement to read an SBOM from",
        ));
        return None;
    };
    ev.details
        .push(("predicate type".into(), st.predicate_type.clone()));
    if st.predicate_type == provenance::NPM_PUBLISH {
        return None;
    }
    if !SBOM_PREDICATES.contains(&st.predicate_type.as_str()) {
        ev.outcome = Err(Diagnostic::error(
            Code::SbomUnsupported,
            format!(
                "predicate type `{}` is not an SBOM (CycloneDX or SPDX)",
                st.predicate_type
            ),
        ));
        return None;
    }
    let bytes = serde_json::to_vec(&st.predicate).unwrap_or_default();
    Some(SbomEvidence {
        file: ev.file.clone(),
        signer: Some(signer),
        signatures: Vec::new(),
        subject_bound: true,
        sbom: crate::sbom::parse(&bytes).map_err(sbom_diag),
    })
}

/// Turns a verified `--provenance` statement into provenance evidence, or
/// the evidence into a failure: a statement about another artifact, an
/// unknown predicate, or a builder the certificate does not vouch for.
fn read_provenance(ev: &mut SignatureEvidence) {
    let signer = match &mut ev.outcome {
        Err(d) => {
            // For provenance, "the digest does not match" means the
            // statement is about something else.
            if d.code == Code::DigestMismatch {
                d.code = Code::ProvenanceNotBound;
                d.hint = Some("pass the provenance that was made for this artifact; if it should match, the artifact was changed".into());
            }
            return;
        }
        Ok(s) => s.clone(),
    };
    let Some(st) = ev.statement.clone() else {
        ev.outcome = Err(Diagnostic::error(
            Code::ProvenanceMalformed,
            "the file is signed, but holds no in-toto statement to read provenance from",
        )
        .hint("pass the provenance attestation (.intoto.jsonl or a DSSE bundle), not the artifact's signature"));
        return;
    };
    if st.predicate_type == provenance::NPM_PUBLISH {
        // npm's publish attestation rides along with the provenance; it
        // says nothing about the build.
        ev.details
            .push(("predicate type".into(), st.predicate_type));
        return;
    }
    let p = match provenance::parse(&st.predicate_type, &st.predicate) {
        Ok(p) => p,
        Err(e @ provenance::ProvenanceError::Unsupported(_)) => {
            ev.outcome = Err(Diagnostic::error(Code::ProvenanceUnsupported, e.to_string())
                .hint("mcp-warden reads SLSA provenance v0.2 and v1; other predicates are refused, never guessed at"));
            return;
        }
        Err(e @ provenance::ProvenanceError::Invalid(_)) => {
            ev.outcome = Err(Diagnostic::error(Code::IdentityValueInvalid, e.to_string())
                .hint("no genuine build writes such a value: do not trust this provenance"));
            return;
        }
        Err(e) => {
            ev.outcome = Err(Diagnostic::error(Code::ProvenanceMalformed, e.to_string()));
            return;
        }
    };
    if let Signer::Identity(id) = &signer
        && let Err((code, why)) = crate::identity::builder_matches_certificate(&p, id)
    {
        ev.outcome = Err(Diagnostic::error(code, why).hint(match code {
            Code::CertificateSourceMismatch => {
                "the statement claims a source its builder did not build for: do not trust this provenance"
            }
            Code::IdentityValueInvalid => {
                "no genuine certificate carries such a value: do not trust this provenance"
            }
            _ => "the statement claims a builder that did not sign it: do not trust this provenance",
        }));
        return;
    }
    ev.details.push(("builder".into(), p.builder_id.clone()));
    ev.details.push(("build type".into(), p.build_type.clone()));
    if let Some(r) = &p.source_repo {
        ev.details.push(("source".into(), r.clone()));
    }
    if let Some(r) = &p.source_ref {
        ev.details.push(("source ref".into(), r.clone()));
    }
    if let Some(d) = &p.source_digest {
        ev.details.push(("source commit".into(), d.clone()));
    }
    ev.provenance = Some(p);
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// What streaming the file produced beyond the plain digests.
struct Streamed {
    blake2b512: Option<Vec<u8>>,
    /// (signature index, candidate index) → legacy minisign result.
    legacy: Vec<((usize, usize), Result<(), SigError>)>,
}

fn hash_file(
    path: &Path,
    parsed: &[Parsed],
    cands: &[Candidate],
    extra: &[Algorithm],
) -> Result<(ArtifactInfo, Streamed), InputError> {
    let (file, meta) = fsutil::open_file(path).map_err(InputError::Artifact)?;
    let (info, streamed) = hash_stream(file, path, parsed, cands, extra).map_err(|e| {
        InputError::Artifact(ReadError::Io {
            path: path.to_path_buf(),
            source: e,
        })
    })?;
    tracing::debug!(bytes = info.size, expected = meta.len(), "hashed artifact");
    Ok((info, streamed))
}

/// Hashes what `reader` yields (the artifact, or a loose SBOM's bytes)
/// with every algorithm the signatures in `parsed` need, and streams it
/// through their verifiers; `path` names it in the result.
fn hash_stream(
    reader: impl std::io::Read,
    path: &Path,
    parsed: &[Parsed],
    cands: &[Candidate],
    extra: &[Algorithm],
) -> std::io::Result<(ArtifactInfo, Streamed)> {
    let mut algs = vec![Algorithm::Sha256];
    for a in extra {
        if !algs.contains(a) {
            algs.push(*a);
        }
    }
    let mut blake = None;
    let mut legacy: Vec<((usize, usize), LegacyVerifier)> = Vec::new();
    for (i, p) in parsed.iter().enumerate() {
        match &p.sig {
            Ok(SignatureFile::Ssh(s)) if !algs.contains(&s.hash_alg) => algs.push(s.hash_alg),
            Ok(SignatureFile::Dsse(env)) => {
                if let Ok(st) = env.statement() {
                    for a in st.algorithms() {
                        if !algs.contains(&a) {
                            algs.push(a);
                        }
                    }
                }
            }
            Ok(SignatureFile::Minisign(m)) if m.prehashed => {
                blake.get_or_insert_with(|| blake2b_simd::Params::new().hash_length(64).to_state());
            }
            Ok(SignatureFile::Minisign(m)) => {
                // Only keys that can have made it; the trusted comment is
                // checked first so a forged one costs no pass over the file.
                for (j, c) in cands.iter().enumerate() {
                    if let Some(ed) = minisign_key(c, &m.key_id)
                        && m.verify_trusted_comment(ed).is_ok()
                        && let Ok(v) = m.legacy_verifier(ed)
                    {
                        legacy.push(((i, j), v));
                    }
                }
            }
            _ => {}
        }
    }
    let mut hashers: Vec<digest::Hasher> = algs.iter().map(|a| a.hasher()).collect();
    let size = {
        let mut sinks: Vec<&mut dyn Sink> =
            hashers.iter_mut().map(|h| h as &mut dyn Sink).collect();
        if let Some(b) = blake.as_mut() {
            sinks.push(b);
        }
        for (_, v) in legacy.iter_mut() {
            sinks.push(v);
        }
        digest::feed(reader, &mut sinks)?
    };
    let info = ArtifactInfo {
        name: path.display().to_string(),
        path: Some(path.to_path_buf()),
        size: Some(size),
        digests: hashers.into_iter().map(digest::Hasher::finish).collect(),
    };
    let streamed = Streamed {
        blake2b512: blake.map(|b| b.finalize().as_bytes().to_vec()),
        legacy: legacy.into_iter().map(|(k, v)| (k, v.finish())).collect(),
    };
    Ok((info, streamed))
}

/// The candidate's ed25519 key, if it can have made a minisign signature
/// with key id `id`.
fn minisign_key<'a>(c: &'a Candidate, id: &[u8; 8]) -> Option<&'a VerifyingKey> {
    c.key
        .ed25519()
        .filter(|_| c.key.minisign_id.is_none_or(|k| &k == id))
}

pub(crate) fn sig_diag(e: SigError) -> Diagnostic {
    match e {
        SigError::Malformed(m) => Diagnostic::error(Code::SignatureMalformed, m)
            .hint("the signature file is damaged or not a signature: fetch it again from the publisher"),
        SigError::Invalid(m) => Diagnostic::error(Code::SignatureInvalid, m)
            .hint("do not run this artifact: fetch the artifact and its signature again from the publisher, and check that the key is the publisher's"),
        SigError::Unsupported(m) => Diagnostic::error(Code::SignatureUnsupported, m),
        SigError::Check { code, message } => {
            let d = Diagnostic::error(code, message);
            match bundle::hint(code) {
                Some(h) => d.hint(h),
                None => d,
            }
        }
        e @ SigError::Namespace { .. } => Diagnostic::error(Code::NamespaceMismatch, e.to_string())
            .hint("the publisher signed for another purpose; ask for a signature made with `-n file`, or trust the key with `--ssh-namespace`"),
    }
}

pub(crate) fn key_unknown(what: String) -> Diagnostic {
    Diagnostic::error(Code::KeyUnknown, what).hint(
        "pass the publisher's public key with --key FILE, or trust it once: mcp-warden trust add-key FILE --name NAME --scope GLOB",
    )
}

fn judge(
    index: usize,
    p: Parsed,
    cands: &[Candidate],
    artifact: &ArtifactInfo,
    stream: Option<&mut Streamed>,
) -> SignatureEvidence {
    let mut ev = SignatureEvidence::new(p.file, None, p.role);
    let sig = match p.sig {
        Ok(s) => s,
        Err(e) => {
            ev.outcome = Err(sig_diag(e));
            return ev;
        }
    };
    ev.scheme = Some(sig.scheme());
    ev.outcome = match sig {
        SignatureFile::Minisign(m) => {
            let fitting: Vec<(usize, &Candidate, &VerifyingKey)> = cands
                .iter()
                .enumerate()
                .filter_map(|(j, c)| minisign_key(c, &m.key_id).map(|k| (j, c, k)))
                .collect();
            if fitting.is_empty() {
                Err(key_unknown(format!(
                    "signed by minisign key {}, which is neither given nor trusted",
                    keys::minisign_id_hex(&m.key_id)
                )))
            } else if stream.is_none() {
                Err(Diagnostic::error(
                    Code::DigestModeUnsupported,
                    "a minisign signature covers the file itself (BLAKE2b or raw), so it cannot be checked against a sha256/sha512 digest",
                )
                .hint("pass the artifact's path instead of its digest"))
            } else {
                let stream = stream.expect("checked above");
                let mut last = None;
                let mut ok = None;
                for (j, c, ed) in fitting {
                    let r = m.verify_trusted_comment(ed).and_then(|_| {
                        if m.prehashed {
                            m.verify_prehashed(ed, stream.blake2b512.as_deref().expect("hashed when prehashed"))
                        } else {
                            stream
                                .legacy
                                .iter()
                                .find(|(k, _)| *k == (index, j))
                                .map(|(_, r)| r.clone())
                                .unwrap_or_else(|| Err(SigError::Invalid("the trusted comment's global signature does not verify (the comment was changed, or another key signed)".into())))
                        }
                    });
                    match r {
                        Ok(()) => {
                            ok = Some(Signer::Key(c.signer()));
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                // Keys without a minisign id (OpenSSH, PEM) are tried too;
                // when only those were tried, the signer is simply unknown.
                let id_matched = cands.iter().any(|c| c.key.minisign_id == Some(m.key_id));
                match ok {
                    Some(signer) => {
                        // Shown only once the global signature has vouched for it.
                        ev.details
                            .push(("trusted comment".into(), m.trusted_comment.clone()));
                        Ok(signer)
                    }
                    None if !id_matched => Err(key_unknown(format!(
                        "signed by minisign key {}, which is neither given nor trusted",
                        keys::minisign_id_hex(&m.key_id)
                    ))),
                    None => Err(sig_diag(last.expect("at least one candidate was tried"))),
                }
            }
        }
        SignatureFile::Ssh(s) => {
            ev.details.push(("namespace".into(), s.namespace.clone()));
            match cands.iter().find(|c| c.key.ed25519() == Some(&s.public_key)) {
                None => Err(key_unknown(format!(
                    "signed by key {}, which is neither given nor trusted",
                    keys::fingerprint_of(&s.public_key)
                ))),
                Some(c) => match artifact.digest(s.hash_alg) {
                    None => Err(Diagnostic::error(
                        Code::DigestModeUnsupported,
                        format!(
                            "the OpenSSH signature covers the {} hash of the file, and only a {} digest was given",
                            s.hash_alg.name(),
                            artifact.digests.first().map(|d| d.algorithm.name()).unwrap_or("different")
                        ),
                    )
                    .hint(format!("pass the artifact's path, or its {}:HEX digest", s.hash_alg.name()))),
                    Some(d) => s.verify(&s.public_key, &c.ssh_namespace, &d.bytes).map(|_| Signer::Key(c.signer())).map_err(sig_diag),
                },
            }
        }
        SignatureFile::Dsse(env) => {
            let signer = cands
                .iter()
                .find(|c| c.key.ed25519().is_some_and(|k| env.verify(k).is_ok()));
            match signer {
                None if env.has_certificate => Err(Diagnostic::error(
                    Code::SignatureUnsupported,
                    "the DSSE envelope is signed with a sigstore certificate but carries no transparency-log proof, so it cannot be verified offline",
                )
                .hint("ask for the sigstore bundle form (.sigstore.json, or .intoto.jsonl lines with mediaType), which carries the proof")),
                None if cands.is_empty() => Err(key_unknown("no key was given or is trusted to check the DSSE envelope".into())),
                None => Err(Diagnostic::error(
                    Code::SignatureInvalid,
                    "no signature in the DSSE envelope verifies with a given or trusted key (the envelope was changed, or an unknown key signed it)",
                )
                .hint("check that the envelope and the key are the publisher's; a key not yet trusted can be passed with --key FILE")),
                Some(c) => match env.statement() {
                    Err(e) => Err(sig_diag(e)),
                    Ok(st) => {
                        ev.details.push(("predicate type".into(), st.predicate_type.clone()));
                        match st.subject_for(&artifact.digests) {
                            Some(subj) => {
                                ev.details.push(("subject".into(), subj.name.clone()));
                                ev.statement = Some(st.clone());
                                Ok(Signer::Key(c.signer()))
                            }
                            None => Err(Diagnostic::error(
                                Code::DigestMismatch,
                                format!(
                                    "the signed statement is about other artifacts ({}), not about this one",
                                    st.subject.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                                ),
                            )
                            .hint("pass the envelope that was made for this artifact; if the artifact should match, it was changed")),
                        }
                    }
                },
            }
        }
    };
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnose;

    #[test]
    fn input_errors_report_their_codes() {
        let e = InputError::KeyName("acme".into());
        assert_eq!(Diagnose::code(&e), Code::KeyUnknown);
        assert!(Diagnose::hint(&e).is_some_and(|h| h.contains("trust list")));
        assert_eq!(
            Diagnose::code(&InputError::TrustedRoot("x".into())),
            Code::TrustedRootInvalid
        );
    }
}
