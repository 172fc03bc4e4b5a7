//! `.mcpb` bundles (MCP Bundles, formerly `.dxt`): the manifest, the
//! signature block that `mcpb sign` appends, and verification of its
//! detached PKCS#7 (CMS) SignedData against X.509 roots pinned with
//! `trust add-ca`.
//!
//! Layout of a signed bundle (anthropics/mcpb `src/node/sign.ts`):
//!
//! ```text
//! zip bytes … EOCD(comment_length) [comment]
//! "MCPB_SIG_V1" u32le(len) DER(len) [zero padding] "MCPB_SIG_END"
//! ```
//!
//! The tool's versions disagree about the EOCD comment length, so three
//! variants exist, each with its own idea of which bytes were signed (see
//! [`CommentVariant`]). The verifier recognises exactly these three and
//! computes the signed bytes for each; anything else is refused. The zip
//! that is read and extracted is exactly the signed one (`archive::signed_zip`):
//! from offset 0 to the end record the verifier located, laid out strictly
//! (`archive::zip_layout`), so that nothing outside the signed bytes, nor a
//! second zip inside them, can be what runs.
//!
//! Certificates are checked at the time the caller passes (normally now):
//! the `signingTime` attribute is chosen by the signer, so it proves
//! nothing and is not used. There is no revocation checking.
//!
//! [`manifest`] reads the bundle's manifest, [`signature`] verifies the
//! signature; locating the block is `archive::signed_zip`'s, the X.509 and
//! CMS checks are `x509`'s.

use std::io;
use std::path::PathBuf;

use crate::archive::signed_zip::BlockError;
use crate::fsutil::ReadError;
use crate::x509::X509Error;

pub mod manifest;
pub mod signature;

pub use crate::archive::signed_zip::{CommentVariant, SignatureBlock};
pub use manifest::{Manifest, McpConfig, UserConfigField, parse_manifest, read_manifest};
pub use signature::{Publisher, find_signature, verify, verify_for_server};

/// `manifest.json` larger than this is refused.
pub const MAX_MANIFEST: u64 = 1024 * 1024;
/// Entries in one bundle; real bundles with `node_modules` reach thousands.
pub const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum McpbError {
    #[error("cannot read the bundle: {0}")]
    Read(#[from] ReadError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the bundle is not a readable zip archive: {0}")]
    Zip(String),
    #[error("the bundle has {0} entries, more than the limit of {MAX_ENTRIES}")]
    TooManyEntries(u64),
    #[error("the bundle holds an entry with an unsafe path: {0:?}")]
    UnsafeEntry(String),
    #[error("the bundle has no manifest.json at its root")]
    ManifestMissing,
    #[error("the bundle has more than one manifest.json entry")]
    ManifestDuplicate,
    #[error("the bundle's zip is not laid out strictly: {0}")]
    Layout(#[source] crate::archive::ArchiveError),
    #[error("manifest.json is larger than {MAX_MANIFEST} bytes")]
    ManifestTooLarge,
    #[error("manifest.json is invalid: {0}")]
    ManifestInvalid(String),
    #[error("the bundle is not signed (no MCPB_SIG_V1 … MCPB_SIG_END block at its end)")]
    NoSignature,
    #[error("the signature block is malformed: {0}")]
    MalformedBlock(String),
    #[error("the PKCS#7 signature is malformed: {0}")]
    MalformedCms(String),
    #[error(
        "the PKCS#7 signature carries {0}, which its signature does not cover: anyone could have added it after signing"
    )]
    UnsignedContent(&'static str),
    #[error(
        "the bundle's {algorithm} digest does not match the signed digest: the bundle was changed after signing"
    )]
    DigestMismatch { algorithm: &'static str },
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    #[error("the signer's certificate does not chain to a trusted CA: {0}")]
    UntrustedChain(String),
    #[error("certificate `{subject}` {problem}")]
    CertificateTime { subject: String, problem: String },
    #[error("the certificate `{subject}` is not acceptable: {problem}")]
    BadCertificate { subject: String, problem: String },
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    #[error("the signer chains to CA `{ca}`, which is not trusted for server `{server}`")]
    OutOfScope { ca: String, server: String },
}

impl crate::diag::Diagnose for McpbError {
    fn code(&self) -> crate::diag::Code {
        use crate::diag::Code;
        match self {
            McpbError::MalformedBlock(_)
            | McpbError::MalformedCms(_)
            | McpbError::UnsignedContent(_) => Code::SignatureMalformed,
            McpbError::Layout(_) => Code::ArchiveUnsafe,
            McpbError::UnsupportedAlgorithm(_) => Code::SignatureUnsupported,
            McpbError::UntrustedChain(_)
            | McpbError::CertificateTime { .. }
            | McpbError::BadCertificate { .. }
            | McpbError::OutOfScope { .. } => Code::CertificateInvalid,
            _ => Code::SignatureInvalid,
        }
    }

    /// What the user can do about it, shown apart from the message.
    fn hint(&self) -> Option<String> {
        Some(match self {
            McpbError::Zip(_) | McpbError::ManifestMissing | McpbError::ManifestInvalid(_) => {
                "rebuild the bundle with `mcpb pack`; a bundle is a zip with manifest.json at its root".into()
            }
            McpbError::TooManyEntries(_) | McpbError::ManifestTooLarge => {
                "the bundle exceeds mcp-warden's limits; check that it is the bundle you meant".into()
            }
            McpbError::UnsafeEntry(_) | McpbError::ManifestDuplicate => {
                "do not install this bundle: its entries could overwrite files outside its directory or mislead a reader".into()
            }
            McpbError::NoSignature => {
                "ask the publisher for a bundle signed with `mcpb sign`, or verify it by digest or another signature".into()
            }
            McpbError::Layout(e) => return crate::diag::Diagnose::hint(e),
            McpbError::UnsignedContent(_) => {
                "`mcpb sign` writes no CRLs and no unsigned attributes; do not install this copy, and ask the publisher for the bundle as `mcpb sign` wrote it".into()
            }
            McpbError::MalformedBlock(_) | McpbError::MalformedCms(_) => {
                "the file was truncated or altered after signing; download it again from the publisher".into()
            }
            McpbError::DigestMismatch { .. } | McpbError::BadSignature(_) => {
                "do not install this bundle: its contents are not what the publisher signed".into()
            }
            McpbError::UntrustedChain(_) => {
                "if you trust the publisher's CA, pin its root with `mcp-warden trust add-ca ROOT.pem --name NAME --scope GLOB`".into()
            }
            McpbError::CertificateTime { .. } => {
                "ask the publisher to re-sign with a current certificate; mcp-warden checks validity at the current time, not at the claimed signing time".into()
            }
            McpbError::BadCertificate { .. } => {
                "the certificate is not fit for signing bundles; ask the publisher to sign with a code-signing certificate".into()
            }
            McpbError::UnsupportedAlgorithm(_) => {
                "supported: RSA PKCS#1 v1.5 (2048 to 8192 bits) and ECDSA P-256/P-384, with SHA-256/384/512".into()
            }
            McpbError::OutOfScope { ca, .. } => format!(
                "widen the CA's scopes (`mcp-warden trust remove {ca}` and add it again with another --scope) if it may vouch for this server"
            ),
            McpbError::Read(_) | McpbError::Io { .. } => return None,
        })
    }
}

impl From<BlockError> for McpbError {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::Io { path, source } => McpbError::Io { path, source },
            BlockError::Malformed(m) => McpbError::MalformedBlock(m),
        }
    }
}

impl From<X509Error> for McpbError {
    fn from(e: X509Error) -> Self {
        match e {
            X509Error::MalformedCms(m) => McpbError::MalformedCms(m),
            X509Error::UnsignedContent(what) => McpbError::UnsignedContent(what),
            X509Error::BadSignature(m) => McpbError::BadSignature(m),
            X509Error::UntrustedChain(m) => McpbError::UntrustedChain(m),
            X509Error::CertificateTime { subject, problem } => {
                McpbError::CertificateTime { subject, problem }
            }
            X509Error::BadCertificate { subject, problem } => {
                McpbError::BadCertificate { subject, problem }
            }
            X509Error::UnsupportedAlgorithm(m) => McpbError::UnsupportedAlgorithm(m),
        }
    }
}
