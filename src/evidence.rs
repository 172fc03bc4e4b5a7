//! Evidence: what the verification steps found, before any decision.

use std::path::PathBuf;

use serde::Serialize;

use crate::diag::{Code, Diagnostic};
use crate::digest::{Algorithm, Digest};
use crate::provenance::Provenance;
use crate::signature::Scheme;
use crate::signature::dsse::Statement;
use crate::source::{Location, Source};

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
    /// Where the artifact was fetched from: local for `verify FILE`.
    pub origin: Origin,
}

/// Where an artifact was fetched from, as `add` resolved it (or the lock
/// recorded it): what `[[servers]] source` and `versions` are checked
/// against, and the only package an SBOM may be bound to by purl. Nothing
/// the user can merely claim: a local file is local whatever it is named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub kind: OriginKind,
    /// The package's name (npm, PyPI), the MCP registry server's name, or
    /// the URL (https, a remote `.mcpb`); none for a local file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The version fetched; none where the source has none (a local file,
    /// a bare https URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// For an MCP registry source (or a local server.json): the package it
    /// resolved to, whose artifact was fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<Box<Origin>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginKind {
    /// A file or directory of this machine, or a bare digest.
    #[default]
    Local,
    Https,
    Npm,
    Pypi,
    Registry,
    Mcpb,
}

impl Origin {
    /// The origin of an artifact resolved from `source` to `version`;
    /// `package` is the package a registry source (or server.json)
    /// resolved to.
    pub fn of(source: &Source, version: Option<&str>, package: Option<&Source>) -> Origin {
        let v = version.map(str::to_string);
        let one = |kind, name: &str, version: Option<String>| Origin {
            kind,
            name: Some(name.to_string()),
            version,
            package: None,
        };
        let nested = || {
            package
                .filter(|p| !matches!(p, Source::Registry { .. } | Source::ServerJson(_)))
                .map(|p| Box::new(Origin::of(p, version, None)))
        };
        match source {
            Source::Path(_) | Source::Mcpb(Location::Path(_)) => Origin::default(),
            Source::Https(u) => one(OriginKind::Https, u, None),
            // A bare `.mcpb` URL publishes no version; through a registry
            // it has the one server.json gives.
            Source::Mcpb(Location::Url(u)) => one(OriginKind::Mcpb, u, v),
            Source::Npm {
                name,
                version: asked,
            } => one(OriginKind::Npm, name, v.or(asked.clone())),
            Source::Pypi {
                name,
                version: asked,
            } => one(OriginKind::Pypi, name, v.or(asked.clone())),
            Source::Registry {
                name,
                version: asked,
            } => Origin {
                package: nested(),
                // The server's own version when one was asked for (the
                // document was checked to be that one), else the package's.
                ..one(OriginKind::Registry, name, asked.clone().or(v))
            },
            // A local server.json is no registry: what counts is the
            // package it named, as fetched.
            Source::ServerJson(_) => nested().map(|b| *b).unwrap_or_default(),
        }
    }

    /// The origin of a pinned entry, as the lock records it.
    pub fn of_pinned(source: &str, version: Option<&str>, package: Option<&str>) -> Origin {
        let Ok(source) = source.parse::<Source>() else {
            return Origin::default();
        };
        let package = package.and_then(|p| p.parse::<Source>().ok());
        Origin::of(&source, version, package.as_ref())
    }

    /// This origin and the package it resolved to, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &Origin> {
        std::iter::successors(Some(self), |o| o.package.as_deref())
    }

    /// The purl of the package fetched (npm, PyPI) with its version, for
    /// binding an SBOM; none for anything else.
    pub fn purl(&self) -> Option<String> {
        self.chain().find_map(|o| {
            let (name, version) = (o.name.as_deref()?, o.version.as_deref()?);
            match o.kind {
                OriginKind::Npm => Some(match name.strip_prefix('@') {
                    Some(scoped) => format!("pkg:npm/%40{scoped}@{version}"),
                    None => format!("pkg:npm/{name}@{version}"),
                }),
                OriginKind::Pypi => Some(format!(
                    "pkg:pypi/{}@{version}",
                    crate::sbom::package::pep503(name)
                )),
                _ => None,
            }
        })
    }

    /// In words, for messages: `npm:NAME@VERSION`, `a local file`.
    pub fn describe(&self) -> String {
        let name = self.name.as_deref().unwrap_or_default();
        let at = |sep: &str| {
            self.version
                .as_deref()
                .map(|v| format!("{sep}{v}"))
                .unwrap_or_default()
        };
        let own = match self.kind {
            OriginKind::Local => "a local file (no source)".to_string(),
            OriginKind::Https => name.to_string(),
            OriginKind::Npm => format!("npm:{name}{}", at("@")),
            OriginKind::Pypi => format!("pypi:{name}{}", at("==")),
            OriginKind::Registry => format!("registry:{name}{}", at("@")),
            OriginKind::Mcpb => format!("{name}{}", at(" version ")),
        };
        match &self.package {
            Some(p) => format!("{own} (package {})", p.describe()),
            None => own,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerFrom {
    Flag,
    FileName,
    Digest,
}
