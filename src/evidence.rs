//! Evidence: what the verification steps found, before any decision.

use std::path::PathBuf;

use serde::Serialize;

use crate::diag::{Code, Diagnostic};
use crate::digest::{Algorithm, Digest};
use crate::provenance::Provenance;
use crate::signature::Scheme;
use crate::signature::dsse::Statement;

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactInfo {
    /// As the user named it: a path, or the digest itself.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip)]
    pub digests: Vec<Digest>,
}

impl ArtifactInfo {
    pub fn digest(&self, alg: Algorithm) -> Option<&Digest> {
        self.digests.iter().find(|d| d.algorithm == alg)
    }
}

/// Who made a signature that verified.
#[derive(Debug, Clone, Serialize)]
pub struct KeySigner {
    pub fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minisign_key_id: Option<String>,
    /// Trust-store entries that hold this key.
    pub trust_names: Vec<String>,
    /// Set when the key was given with `--key FILE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

/// Who signed, as far as the evidence shows.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Signer {
    Key(KeySigner),
    Identity(IdentitySigner),
    /// The publisher of a signed `.mcpb` bundle, by its X.509 certificate.
    Publisher(PublisherSigner),
}

/// An `.mcpb` signer whose certificate chains to a CA of the trust store
/// (`trust add-ca`).
#[derive(Debug, Clone, Serialize)]
pub struct PublisherSigner {
    /// The certificate's subject (RFC 4514).
    pub subject: String,
    /// `sha256:HEX` of the signer's certificate.
    pub fingerprint: String,
    /// The trust-store CA the chain ends in.
    pub trust_names: Vec<String>,
}

impl Signer {
    pub fn trust_names(&self) -> &[String] {
        match self {
            Signer::Key(k) => &k.trust_names,
            Signer::Identity(i) => &i.trust_names,
            Signer::Publisher(p) => &p.trust_names,
        }
    }

    /// How an untrusted signer was vouched for on the command line.
    pub fn adhoc(&self) -> Option<String> {
        match self {
            Signer::Key(k) => k
                .key_file
                .as_ref()
                .map(|p| format!("the key given with --key {}", p.display())),
            Signer::Identity(i) if i.by_flags => Some(format!(
                "{} from {} (matched by --certificate-identity/--certificate-oidc-issuer)",
                i.identity, i.issuer
            )),
            Signer::Identity(_) | Signer::Publisher(_) => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Signer::Key(k) => format!("key {}", k.fingerprint),
            Signer::Identity(i) => format!("{} from {}", i.identity, i.issuer),
            Signer::Publisher(p) => format!("publisher {}", p.subject),
        }
    }
}

/// A keyless sigstore signer: the identity in the Fulcio certificate.
#[derive(Debug, Clone, Serialize)]
pub struct IdentitySigner {
    pub identity: String,
    pub issuer: String,
    /// Trust-store identities that match it.
    pub trust_names: Vec<String>,
    /// Matched the identity flags given on the command line.
    pub by_flags: bool,
    /// GitHub workflow claims: repository, ref, workflow, trigger, commit,
    /// runner-environment.
    pub claims: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureEvidence {
    pub file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,
    /// Verified signer, or why not. A warning (not an error) marks a
    /// member of a multi-bundle file that could not be checked, which
    /// neither counts nor denies.
    #[serde(skip)]
    pub outcome: Result<Signer, Diagnostic>,
    /// Facts worth showing: trusted comment, namespace, subject.
    pub details: Vec<(String, String)>,
    /// What the file was given as.
    #[serde(skip)]
    pub role: Role,
    /// The verified in-toto statement, for DSSE content.
    #[serde(skip)]
    pub statement: Option<Statement>,
    /// The provenance read from the statement, for `--provenance` files.
    #[serde(skip)]
    pub provenance: Option<Provenance>,
}

impl SignatureEvidence {
    pub fn new(file: PathBuf, scheme: Option<Scheme>, role: Role) -> Self {
        SignatureEvidence {
            file,
            scheme,
            outcome: Err(Diagnostic::error(Code::SignatureInvalid, "not checked")),
            details: Vec::new(),
            role,
            statement: None,
            provenance: None,
        }
    }
}

/// Whether a file was given as a signature (`--signature`, `--bundle`) or
/// as provenance (`--provenance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Signature,
    Provenance,
    /// An SBOM attestation given with `--sbom`.
    Sbom,
    /// A detached signature over a loose SBOM (`--sbom-signature`).
    SbomSignature,
}

/// A bill of materials and how it arrived.
#[derive(Debug, Clone)]
pub struct SbomEvidence {
    pub file: PathBuf,
    /// Who signed the attestation that carried it; `None` for a loose file.
    pub signer: Option<Signer>,
    /// For a loose file: the detached signatures (`--sbom-signature`) that
    /// verified over its bytes, and who made them.
    pub signatures: Vec<DetachedSignature>,
    /// Set when an attestation's subject was checked to be this artifact.
    pub subject_bound: bool,
    pub sbom: Result<crate::sbom::Sbom, Diagnostic>,
}

impl SbomEvidence {
    /// Everyone who signed it: the attestation's signer, or the signers of
    /// its detached signatures. Empty for an unsigned loose file.
    pub fn signers(&self) -> impl Iterator<Item = &Signer> {
        self.signer
            .iter()
            .chain(self.signatures.iter().map(|d| &d.signer))
    }
}

/// A detached signature that verified over a loose SBOM.
#[derive(Debug, Clone, Serialize)]
pub struct DetachedSignature {
    /// The signature file.
    pub file: PathBuf,
    pub signer: Signer,
}

#[derive(Debug, Clone)]
pub struct Evidence {
    pub artifact: ArtifactInfo,
    pub server: String,
    /// How the server name was chosen, for the report.
    pub server_from: ServerFrom,
    pub signatures: Vec<SignatureEvidence>,
    pub sboms: Vec<SbomEvidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerFrom {
    Flag,
    FileName,
    Digest,
}
