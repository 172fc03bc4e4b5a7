//! Evidence: what the verification steps found, before any decision.

use std::path::PathBuf;

use serde::Serialize;

use crate::diag::Diagnostic;
use crate::digest::{Algorithm, Digest};
use crate::signature::Scheme;

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

#[derive(Debug, Clone, Serialize)]
pub struct SignatureEvidence {
    pub file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,
    /// Verified signer, or why not.
    #[serde(skip)]
    pub outcome: Result<KeySigner, Diagnostic>,
    /// Facts worth showing: trusted comment, namespace, subject.
    pub details: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Evidence {
    pub artifact: ArtifactInfo,
    pub server: String,
    /// How the server name was chosen, for the report.
    pub server_from: ServerFrom,
    pub signatures: Vec<SignatureEvidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerFrom {
    Flag,
    FileName,
    Digest,
}
