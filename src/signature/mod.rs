//! Signature formats. Each parser turns bytes into a typed signature and
//! each verifier answers yes or no for one key; which keys to try and what
//! a good signature means is for `verify` and `policy`.

pub mod dsse;
pub mod keys;
pub mod minisign;
pub mod sigstore;
pub mod ssh;

use serde::Serialize;

/// Largest signature file read: DSSE envelopes with provenance run to a
/// few hundred KiB; anything near this is not a signature.
pub const MAX_SIGNATURE_FILE: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SigError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unsupported(String),
    /// A sigstore check failed; the code says which one.
    #[error("{message}")]
    Check {
        code: crate::diag::Code,
        message: String,
    },
    #[error(
        "the signature is for namespace `{got}`, but the key is trusted for namespace `{want}`"
    )]
    Namespace { want: String, got: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    MinisignPrehashed,
    MinisignLegacy,
    Ssh,
    Dsse,
    Sigstore,
    /// The PKCS#7 signature block of an `.mcpb` bundle.
    Mcpb,
}

#[derive(Debug, Clone)]
pub enum SignatureFile {
    Minisign(minisign::MinisignSignature),
    Ssh(ssh::SshSignature),
    Dsse(dsse::Envelope),
}

impl SignatureFile {
    /// Detects the format from the content, never from the file name.
    pub fn parse(bytes: &[u8]) -> Result<Self, SigError> {
        let text = std::str::from_utf8(bytes);
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| &bytes[i..])
            .unwrap_or(&[]);
        if start.starts_with(b"untrusted comment:") {
            let text =
                text.map_err(|_| SigError::Malformed("minisign signature: not UTF-8 text".into()))?;
            return minisign::MinisignSignature::parse(text).map(SignatureFile::Minisign);
        }
        if start.starts_with(b"-----BEGIN SSH SIGNATURE-----") {
            let text =
                text.map_err(|_| SigError::Malformed("OpenSSH signature: not UTF-8 text".into()))?;
            return ssh::SshSignature::parse(text).map(SignatureFile::Ssh);
        }
        if start.starts_with(b"{") {
            return dsse::Envelope::parse(bytes).map(SignatureFile::Dsse);
        }
        if start.is_empty() {
            return Err(SigError::Malformed("the signature file is empty".into()));
        }
        Err(SigError::Malformed(
            "not a signature in a known format (minisign .minisig, OpenSSH `SSH SIGNATURE`, or a DSSE JSON envelope)".into(),
        ))
    }

    pub fn scheme(&self) -> Scheme {
        match self {
            SignatureFile::Minisign(m) if m.prehashed => Scheme::MinisignPrehashed,
            SignatureFile::Minisign(_) => Scheme::MinisignLegacy,
            SignatureFile::Ssh(_) => Scheme::Ssh,
            SignatureFile::Dsse(_) => Scheme::Dsse,
        }
    }
}
