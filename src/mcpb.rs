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
//! that is read and extracted is exactly the signed one ([`zip_bound`]):
//! from offset 0 to the end record the verifier located, laid out strictly
//! (`archive::zip_layout`), so that nothing outside the signed bytes, nor a
//! second zip inside them, can be what runs.
//!
//! Certificates are checked at the time the caller passes (normally now):
//! the `signingTime` attribute is chosen by the signer, so it proves
//! nothing and is not used. There is no revocation checking.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use serde_json::Value;
use sha2::Digest as _;
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::asn1::{Ia5StringRef, OctetString, PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::fsutil::{self, ReadError};
use crate::trust::{TrustStore, TrustedCa};

/// `manifest.json` larger than this is refused.
pub const MAX_MANIFEST: u64 = 1024 * 1024;
/// Entries in one bundle; real bundles with `node_modules` reach thousands.
pub const MAX_ENTRIES: usize = 100_000;
/// The DER SignedData in a signature block.
pub const MAX_SIGNATURE: u64 = 1024 * 1024;
/// `mcpb prepare-for-signing` pads the block to exactly this size.
pub const PREPARED_BLOCK_SIZE: u64 = 16384;
/// Signer certificate, intermediates and root.
pub const MAX_CHAIN: usize = 5;
/// Certificates carried in one SignedData.
const MAX_CERTS: usize = 16;

const HEADER: &[u8] = b"MCPB_SIG_V1";
const FOOTER: &[u8] = b"MCPB_SIG_END";
const OVERHEAD: u64 = (HEADER.len() + 4 + FOOTER.len()) as u64;
const EOCD_SIG: &[u8] = b"PK\x05\x06";
const EOCD_LEN: u64 = 22;
const MAX_COMMENT: u64 = 65535;

mod oid {
    use super::ObjectIdentifier as O;
    pub const SIGNED_DATA: O = O::new_unwrap("1.2.840.113549.1.7.2");
    pub const DATA: O = O::new_unwrap("1.2.840.113549.1.7.1");
    pub const CONTENT_TYPE: O = O::new_unwrap("1.2.840.113549.1.9.3");
    pub const MESSAGE_DIGEST: O = O::new_unwrap("1.2.840.113549.1.9.4");
    pub const SHA256: O = O::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: O = O::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: O = O::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const RSA: O = O::new_unwrap("1.2.840.113549.1.1.1");
    pub const RSA_SHA256: O = O::new_unwrap("1.2.840.113549.1.1.11");
    pub const RSA_SHA384: O = O::new_unwrap("1.2.840.113549.1.1.12");
    pub const RSA_SHA512: O = O::new_unwrap("1.2.840.113549.1.1.13");
    pub const EC_PUBLIC_KEY: O = O::new_unwrap("1.2.840.10045.2.1");
    pub const P256: O = O::new_unwrap("1.2.840.10045.3.1.7");
    pub const P384: O = O::new_unwrap("1.3.132.0.34");
    pub const ECDSA_SHA256: O = O::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_SHA384: O = O::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_SHA512: O = O::new_unwrap("1.2.840.10045.4.3.4");
    pub const BASIC_CONSTRAINTS: O = O::new_unwrap("2.5.29.19");
    pub const KEY_USAGE: O = O::new_unwrap("2.5.29.15");
    pub const EXT_KEY_USAGE: O = O::new_unwrap("2.5.29.37");
    pub const SUBJECT_ALT_NAME: O = O::new_unwrap("2.5.29.17");
    pub const SUBJECT_KEY_ID: O = O::new_unwrap("2.5.29.14");
    pub const AUTHORITY_KEY_ID: O = O::new_unwrap("2.5.29.35");
    pub const CODE_SIGNING: O = O::new_unwrap("1.3.6.1.5.5.7.3.3");
    pub const ANY_EKU: O = O::new_unwrap("2.5.29.37.0");
    pub const CN: O = O::new_unwrap("2.5.4.3");
    pub const O: O = O::new_unwrap("2.5.4.10");
}

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

impl McpbError {
    /// What the user can do about it, shown apart from the message.
    pub fn hint(&self) -> Option<String> {
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
            McpbError::Layout(e) => e.hint().into(),
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

// ---------------------------------------------------------------- manifest

/// The parts of `manifest.json` that mcp-warden uses; the rest is in `raw`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `manifest_version`, or `dxt_version` in older bundles.
    pub manifest_version: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub display_name: Option<String>,
    pub author: Option<String>,
    /// `node`, `python`, `binary` or `uv`.
    pub server_type: Option<String>,
    pub entry_point: Option<String>,
    pub mcp_config: Option<McpConfig>,
    pub user_config: BTreeMap<String, UserConfigField>,
    /// The whole document (at most [`MAX_MANIFEST`] bytes).
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpConfig {
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct UserConfigField {
    /// `string`, `number`, `boolean`, `directory` or `file`.
    pub kind: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub required: bool,
    pub sensitive: bool,
    pub default: Option<Value>,
}

/// Reads `manifest.json` from the root of the bundle. Every entry name is
/// checked for path tricks (the bundle is extracted later), the entry count
/// and the manifest size are bounded. The zip is read exactly as
/// extraction reads it: for a signed bundle, only the zip the signature
/// covers (see [`zip_bound`]); no data outside its entries, no name twice.
pub fn read_manifest(bundle: &Path) -> Result<Manifest, McpbError> {
    let (mut file, meta) = fsutil::open_file(bundle)?;
    let bound = block_in(&mut file, meta.len(), bundle)?.map(|b| b.zip_bound());
    let layout =
        crate::archive::zip_layout::check(&mut file, meta.len(), bound, MAX_ENTRIES as u64)
            .map_err(|e| match e {
                crate::archive::ArchiveError::TooManyEntries { .. } => {
                    McpbError::TooManyEntries(MAX_ENTRIES as u64 + 1)
                }
                crate::archive::ArchiveError::Duplicate { entry }
                    if entry == "`manifest.json`" || entry == "`./manifest.json`" =>
                {
                    McpbError::ManifestDuplicate
                }
                crate::archive::ArchiveError::Corrupt { detail } => McpbError::Zip(detail),
                e => McpbError::Layout(e),
            })?;
    let view = crate::archive::zip_layout::ZipView::new(file, &layout);
    let config = zip::read::Config {
        archive_offset: zip::read::ArchiveOffset::Known(0),
    };
    let mut zip =
        zip::ZipArchive::with_config(config, view).map_err(|e| McpbError::Zip(e.to_string()))?;
    crate::archive::zip_layout::same_entries(&mut zip, &layout).map_err(McpbError::Layout)?;
    let mut manifests = 0;
    for name in zip.file_names() {
        let name = name.map_err(|e| McpbError::Zip(e.to_string()))?;
        if !safe_entry_name(&name) {
            return Err(McpbError::UnsafeEntry(name.to_string()));
        }
        if name == "manifest.json" {
            manifests += 1;
        }
    }
    match manifests {
        0 => return Err(McpbError::ManifestMissing),
        1 => {}
        _ => return Err(McpbError::ManifestDuplicate),
    }
    let entry = zip
        .by_name("manifest.json")
        .map_err(|e| McpbError::Zip(e.to_string()))?;
    if entry.size() > MAX_MANIFEST {
        return Err(McpbError::ManifestTooLarge);
    }
    let mut bytes = Vec::new();
    // The header's size may lie; the read is bounded either way.
    entry
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| McpbError::Zip(format!("manifest.json: {e}")))?;
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(McpbError::ManifestTooLarge);
    }
    parse_manifest(&bytes)
}

fn safe_entry_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && !name.split('/').any(|c| c == ".." || c.contains(':'))
}

/// Parses a manifest document (already bounded by the caller).
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, McpbError> {
    let bad = |m: String| McpbError::ManifestInvalid(m);
    let raw: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let obj = raw
        .as_object()
        .ok_or_else(|| bad("the document is not a JSON object".into()))?;
    let opt_str = |v: Option<&Value>, what: &str| -> Result<Option<String>, McpbError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("`{what}` is not a string"))),
        }
    };
    let name = opt_str(obj.get("name"), "name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("`name` is missing".into()))?;
    let manifest_version = match opt_str(obj.get("manifest_version"), "manifest_version")? {
        Some(v) => Some(v),
        None => opt_str(obj.get("dxt_version"), "dxt_version")?,
    };
    let author = match obj.get("author") {
        Some(Value::Object(a)) => opt_str(a.get("name"), "author.name")?,
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (mut server_type, mut entry_point, mut mcp_config) = (None, None, None);
    if let Some(server) = obj.get("server") {
        let server = server
            .as_object()
            .ok_or_else(|| bad("`server` is not an object".into()))?;
        server_type = opt_str(server.get("type"), "server.type")?;
        entry_point = opt_str(server.get("entry_point"), "server.entry_point")?;
        if let Some(c) = server.get("mcp_config") {
            let c = c
                .as_object()
                .ok_or_else(|| bad("`server.mcp_config` is not an object".into()))?;
            let command = opt_str(c.get("command"), "server.mcp_config.command")?
                .ok_or_else(|| bad("`server.mcp_config.command` is missing".into()))?;
            let args = match c.get("args") {
                None => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            bad("`server.mcp_config.args` holds a non-string".into())
                        })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(bad("`server.mcp_config.args` is not an array".into())),
            };
            let env = match c.get("env") {
                None => BTreeMap::new(),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        v.as_str()
                            .map(|s| (k.clone(), s.to_string()))
                            .ok_or_else(|| {
                                bad(format!("`server.mcp_config.env.{k}` is not a string"))
                            })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(bad("`server.mcp_config.env` is not an object".into())),
            };
            mcp_config = Some(McpConfig { command, args, env });
        }
    }
    let mut user_config = BTreeMap::new();
    if let Some(uc) = obj.get("user_config") {
        let uc = uc
            .as_object()
            .ok_or_else(|| bad("`user_config` is not an object".into()))?;
        for (k, v) in uc {
            let f = v
                .as_object()
                .ok_or_else(|| bad(format!("`user_config.{k}` is not an object")))?;
            let flag = |key: &str| f.get(key).and_then(Value::as_bool).unwrap_or(false);
            user_config.insert(
                k.clone(),
                UserConfigField {
                    kind: opt_str(f.get("type"), "user_config type")?,
                    title: opt_str(f.get("title"), "user_config title")?,
                    description: opt_str(f.get("description"), "user_config description")?,
                    required: flag("required"),
                    sensitive: flag("sensitive"),
                    default: f.get("default").cloned(),
                },
            );
        }
    }
    Ok(Manifest {
        manifest_version,
        version: opt_str(obj.get("version"), "version")?,
        display_name: opt_str(obj.get("display_name"), "display_name")?,
        name,
        author,
        server_type,
        entry_point,
        mcp_config,
        user_config,
        raw,
    })
}

// --------------------------------------------------------- signature block

/// How the signer treated the zip's end-of-central-directory comment length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentVariant {
    /// `mcpb sign` before the fix of mcpb#204: the block is trailing bytes
    /// after the comment; the signed bytes are the file up to the block.
    Unchanged,
    /// `mcpb sign` since mcpb#204: it signs the zip as it was, then raises
    /// the comment length to cover the block. The signed bytes are the
    /// file up to the block with the comment length put back.
    Covering {
        eocd_offset: u64,
        signed_comment_len: u16,
    },
    /// `mcpb prepare-for-signing` + external signer + `apply-signature`:
    /// the comment length is set to 16384 before signing and the block is
    /// zero-padded to exactly that size; signed bytes are the file up to it.
    Prepared,
}

#[derive(Debug, Clone)]
pub struct SignatureBlock {
    /// Bytes of the file covered by the signature (the block starts here).
    pub signed_len: u64,
    /// The zip end record the variant was recognised by.
    pub eocd_offset: u64,
    pub pkcs7_der: Vec<u8>,
    pub variant: CommentVariant,
}

impl SignatureBlock {
    /// Where the signed zip lies, the same in all three variants: its end
    /// record where the verifier found it, its bytes ending where the
    /// block starts (Unchanged: the comment ends there; Covering: the
    /// comment as signed ends there; Prepared: the comment *is* the block,
    /// so the signed zip ends right after the record).
    pub fn zip_bound(&self) -> crate::archive::ZipBound {
        crate::archive::ZipBound {
            eocd: self.eocd_offset,
            end: self.signed_len,
        }
    }
}

/// Finds the signature block at the end of the bundle, reading only the
/// tail. `Ok(None)`: no block. A block that is there but does not add up
/// (cut short, wrong length, not where any known signer puts it) is an error.
pub fn find_signature(bundle: &Path) -> Result<Option<SignatureBlock>, McpbError> {
    let (mut file, meta) = fsutil::open_file(bundle)?;
    block_in(&mut file, meta.len(), bundle)
}

/// The zip inside an open file that may be a signed bundle: where the
/// verifier of its signature block finds the signed zip; `None` for a file
/// without a block. The file's bytes are all there is (no path is opened).
pub fn zip_bound(file: &mut File) -> Result<Option<crate::archive::ZipBound>, McpbError> {
    let path = Path::new("the bundle");
    let len = file
        .metadata()
        .map_err(|source| McpbError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    Ok(block_in(file, len, path)?.map(|b| b.zip_bound()))
}

fn block_in(file: &mut File, len: u64, bundle: &Path) -> Result<Option<SignatureBlock>, McpbError> {
    let io_err = |source| McpbError::Io {
        path: bundle.to_path_buf(),
        source,
    };
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    // A bundle is a zip, which starts with a local file header (or, empty,
    // with its end record): anything else carries no bundle signature,
    // and is not scanned (`run --rehash` checks native executables too).
    let mut magic = [0u8; 4];
    let got = (&mut *file).take(4).read(&mut magic).map_err(io_err)?;
    if got < 4 || (magic != *b"PK\x03\x04" && magic != *b"PK\x05\x06") {
        return Ok(None);
    }
    let tail_len = len.min(MAX_SIGNATURE + OVERHEAD + EOCD_LEN + MAX_COMMENT);
    let base = len - tail_len;
    file.seek(SeekFrom::Start(base)).map_err(io_err)?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    (&mut *file)
        .take(tail_len)
        .read_to_end(&mut tail)
        .map_err(io_err)?;
    if tail.len() as u64 != tail_len {
        return Err(McpbError::MalformedBlock(
            "the file changed while it was read".into(),
        ));
    }
    parse_tail(&tail, base).map(|o| o.map(|(b, _)| b))
}

/// Parses the block out of the last bytes of a file (`base` is the offset
/// of `tail` in the file). Also returns the EOCD offset within `tail`.
fn parse_tail(tail: &[u8], base: u64) -> Result<Option<(SignatureBlock, usize)>, McpbError> {
    let malformed = |m: String| McpbError::MalformedBlock(m);
    if !tail.ends_with(FOOTER) {
        // A header after the zip's last end record, but no footer: cut short.
        if let Some(eocd) = rfind(tail, EOCD_SIG)
            && find(&tail[eocd..], HEADER).is_some()
        {
            return Err(malformed(
                "MCPB_SIG_V1 is present but the file does not end with MCPB_SIG_END: it was cut short or appended to".into(),
            ));
        }
        return Ok(None);
    }
    let mut last_err = None;
    let mut end = tail.len() - FOOTER.len();
    // The DER could hold the header's bytes by chance: try candidates from
    // the end, keeping the first that adds up. A few at most: each costs a
    // scan of the tail, and a crafted file could hold thousands.
    let mut tries = 0;
    while let Some(i) = rfind(&tail[..end], HEADER) {
        end = i;
        tries += 1;
        if tries > 8 {
            break;
        }
        match block_at(tail, i) {
            Ok((der, padded)) => {
                let variant = match comment_variant(&tail[..i], tail.len(), padded) {
                    Some((v, eocd)) => (v, eocd),
                    None => {
                        last_err = Some(malformed(
                            "no zip end record before the block has a comment length that one of mcpb's signing methods writes".into(),
                        ));
                        continue;
                    }
                };
                let variant_abs = match variant.0 {
                    CommentVariant::Covering {
                        eocd_offset,
                        signed_comment_len,
                    } => CommentVariant::Covering {
                        eocd_offset: base + eocd_offset,
                        signed_comment_len,
                    },
                    v => v,
                };
                return Ok(Some((
                    SignatureBlock {
                        signed_len: base + i as u64,
                        eocd_offset: base + variant.1 as u64,
                        pkcs7_der: der.to_vec(),
                        variant: variant_abs,
                    },
                    variant.1,
                )));
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        malformed("the file ends with MCPB_SIG_END but has no MCPB_SIG_V1 header".into())
    }))
}

/// The DER of a block starting at `i`, and whether it is zero-padded.
fn block_at(tail: &[u8], i: usize) -> Result<(&[u8], bool), McpbError> {
    let malformed = |m: String| McpbError::MalformedBlock(m);
    let block_len = (tail.len() - i) as u64;
    if block_len < OVERHEAD {
        return Err(malformed("the block is shorter than its markers".into()));
    }
    let at = i + HEADER.len();
    let der_len = u64::from(u32::from_le_bytes([
        tail[at],
        tail[at + 1],
        tail[at + 2],
        tail[at + 3],
    ]));
    if der_len > MAX_SIGNATURE {
        return Err(malformed(format!(
            "it declares a {der_len}-byte signature, more than the limit of {MAX_SIGNATURE}"
        )));
    }
    let der_start = at + 4;
    let der_end = der_start + der_len as usize;
    let padded = if der_len + OVERHEAD == block_len {
        false
    } else if block_len == PREPARED_BLOCK_SIZE
        && der_len + OVERHEAD < block_len
        && tail[der_end..tail.len() - FOOTER.len()]
            .iter()
            .all(|b| *b == 0)
    {
        true
    } else {
        return Err(malformed(format!(
            "its length field says {der_len} bytes of signature, which does not fit the {block_len}-byte block"
        )));
    };
    Ok((&tail[der_start..der_end], padded))
}

/// Which signer wrote this: finds the zip end record before the block
/// whose comment length fits one variant. Offsets are within `before`.
fn comment_variant(before: &[u8], total: usize, padded: bool) -> Option<(CommentVariant, usize)> {
    let block_start = before.len();
    let lowest = block_start.saturating_sub((EOCD_LEN + MAX_COMMENT) as usize);
    let mut end = block_start;
    while let Some(j) = rfind(&before[..end], EOCD_SIG) {
        end = j + EOCD_SIG.len() - 1;
        if j < lowest {
            return None;
        }
        if j + EOCD_LEN as usize > block_start {
            continue;
        }
        let l = usize::from(u16::from_le_bytes([before[j + 20], before[j + 21]]));
        let covers = j + EOCD_LEN as usize + l;
        let found = if padded {
            (covers == total && (l as u64) == PREPARED_BLOCK_SIZE)
                .then_some(CommentVariant::Prepared)
        } else if covers == block_start {
            Some(CommentVariant::Unchanged)
        } else if covers == total {
            let signed = block_start - j - EOCD_LEN as usize;
            u16::try_from(signed)
                .ok()
                .map(|signed_comment_len| CommentVariant::Covering {
                    eocd_offset: j as u64,
                    signed_comment_len,
                })
        } else {
            None
        };
        if let Some(v) = found {
            return Some((v, j));
        }
    }
    None
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Streams the signed bytes of the bundle into `hash`, with the comment
/// length restored for [`CommentVariant::Covering`].
fn hash_signed(bundle: &Path, block: &SignatureBlock, alg: Hash) -> Result<Vec<u8>, McpbError> {
    let (file, _) = fsutil::open_file(bundle)?;
    let io_err = |source| McpbError::Io {
        path: bundle.to_path_buf(),
        source,
    };
    let patch = match block.variant {
        CommentVariant::Covering {
            eocd_offset,
            signed_comment_len,
        } => Some((eocd_offset + 20, signed_comment_len.to_le_bytes())),
        _ => None,
    };
    let mut h = alg.hasher();
    let mut r = file.take(block.signed_len);
    let mut buf = vec![0u8; 256 * 1024];
    let mut pos = 0u64;
    loop {
        let n = r.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        let chunk = &mut buf[..n];
        if let Some((at, bytes)) = patch {
            for (k, b) in bytes.iter().enumerate() {
                let p = at + k as u64;
                if p >= pos && p < pos + n as u64 {
                    chunk[(p - pos) as usize] = *b;
                }
            }
        }
        h.update(chunk);
        pos += n as u64;
    }
    if pos != block.signed_len {
        return Err(McpbError::MalformedBlock(
            "the file changed while it was read".into(),
        ));
    }
    Ok(h.finish())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hash {
    fn from_oid(o: &ObjectIdentifier) -> Option<Hash> {
        match *o {
            oid::SHA256 => Some(Hash::Sha256),
            oid::SHA384 => Some(Hash::Sha384),
            oid::SHA512 => Some(Hash::Sha512),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Hash::Sha256 => "SHA-256",
            Hash::Sha384 => "SHA-384",
            Hash::Sha512 => "SHA-512",
        }
    }
    fn hasher(self) -> Hasher {
        match self {
            Hash::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Hash::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Hash::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

impl Hasher {
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

// ------------------------------------------------------------- DER walking

/// One DER element: its tag byte, the whole encoding and its contents.
/// Signatures cover exact bytes (the signed attributes as the signer wrote
/// them, in its order; a certificate's TBS part), so they are taken from
/// the input rather than re-encoded.
struct Tlv<'a> {
    tag: u8,
    full: &'a [u8],
    value: &'a [u8],
}

fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *input.get(1)?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for k in 0..n {
            len = (len << 8) | usize::from(*input.get(2 + k)?);
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((
        Tlv {
            tag,
            full: &input[..end],
            value: &input[hdr..end],
        },
        &input[end..],
    ))
}

fn children(value: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (t, r) = tlv(rest)?;
        out.push(t);
        rest = r;
        if out.len() > 64 {
            return None;
        }
    }
    Some(out)
}

/// The raw pieces of a SignedData that signatures cover: each certificate
/// and the signer's attributes (re-tagged as SET OF, RFC 5652 §5.4).
struct RawSignedData<'a> {
    certs: Vec<&'a [u8]>,
    signed_attrs: Option<Vec<u8>>,
}

fn raw_signed_data(der: &[u8]) -> Option<RawSignedData<'_>> {
    let (ci, rest) = tlv(der)?;
    if !rest.is_empty() || ci.tag != 0x30 {
        return None;
    }
    let ci = children(ci.value)?;
    let explicit = ci.get(1).filter(|t| t.tag == 0xa0)?;
    let (sd, _) = tlv(explicit.value)?;
    let sd = children(sd.value)?;
    let mut certs = Vec::new();
    if let Some(set) = sd.iter().find(|t| t.tag == 0xa0) {
        let mut rest = set.value;
        while !rest.is_empty() {
            let (c, r) = tlv(rest)?;
            certs.push(c.full);
            rest = r;
            if certs.len() > MAX_CERTS {
                return None;
            }
        }
    }
    let infos = sd.last().filter(|t| t.tag == 0x31)?;
    let infos = children(infos.value)?;
    let mut signed_attrs = None;
    if let [info] = infos.as_slice()
        && let Some(a) = children(info.value)?.iter().find(|t| t.tag == 0xa0)
    {
        let mut v = a.full.to_vec();
        v[0] = 0x31;
        signed_attrs = Some(v);
    }
    Some(RawSignedData {
        certs,
        signed_attrs,
    })
}

// ------------------------------------------------------------ certificates

/// A certificate with the exact bytes its issuer signed.
struct Cert {
    der: Vec<u8>,
    tbs: Vec<u8>,
    cert: Certificate,
}

impl Cert {
    fn parse(der: &[u8]) -> Result<Cert, String> {
        let cert = Certificate::from_der(der).map_err(|e| e.to_string())?;
        let (outer, _) = tlv(der).ok_or("bad DER")?;
        let tbs = children(outer.value)
            .and_then(|c| c.into_iter().next())
            .ok_or("bad DER")?
            .full
            .to_vec();
        Ok(Cert {
            der: der.to_vec(),
            tbs,
            cert,
        })
    }

    fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    fn ext<'a>(&'a self, id: &ObjectIdentifier) -> Option<&'a x509_cert::ext::Extension> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == *id)
    }

    fn decode_ext<'a, T: Decode<'a>>(
        &'a self,
        id: &ObjectIdentifier,
    ) -> Result<Option<T>, McpbError> {
        match self.ext(id) {
            None => Ok(None),
            Some(e) => T::from_der(e.extn_value.as_bytes())
                .map(Some)
                .map_err(|err| self.bad(format!("extension {id} does not parse: {err}"))),
        }
    }

    fn bad(&self, problem: String) -> McpbError {
        McpbError::BadCertificate {
            subject: self.subject(),
            problem,
        }
    }

    fn fingerprint(&self) -> String {
        fingerprint(&self.der)
    }

    /// CA=true, and keyCertSign if keyUsage is present.
    fn check_ca(&self) -> Result<Option<u8>, McpbError> {
        let bc: Option<BasicConstraints> = self.decode_ext(&oid::BASIC_CONSTRAINTS)?;
        let bc = bc.filter(|b| b.ca).ok_or_else(|| {
            self.bad(
                "it issues certificates but is not a CA (basicConstraints CA is not true)".into(),
            )
        })?;
        let ku: Option<KeyUsage> = self.decode_ext(&oid::KEY_USAGE)?;
        if ku.is_some_and(|k| !k.key_cert_sign()) {
            return Err(self.bad("its keyUsage lacks keyCertSign".into()));
        }
        Ok(bc.path_len_constraint)
    }

    fn check_time(&self, now: u64) -> Result<(), McpbError> {
        let v = &self.cert.tbs_certificate.validity;
        let nb = v.not_before.to_unix_duration().as_secs();
        let na = v.not_after.to_unix_duration().as_secs();
        let problem = if now < nb {
            format!("is not valid yet (from {})", v.not_before)
        } else if now > na {
            format!("expired on {}", v.not_after)
        } else {
            return Ok(());
        };
        Err(McpbError::CertificateTime {
            subject: self.subject(),
            problem,
        })
    }

    /// Refuses critical extensions this verifier does not enforce.
    fn check_critical(&self) -> Result<(), McpbError> {
        const KNOWN: [ObjectIdentifier; 6] = [
            oid::BASIC_CONSTRAINTS,
            oid::KEY_USAGE,
            oid::EXT_KEY_USAGE,
            oid::SUBJECT_ALT_NAME,
            oid::SUBJECT_KEY_ID,
            oid::AUTHORITY_KEY_ID,
        ];
        for e in self.cert.tbs_certificate.extensions.iter().flatten() {
            if e.critical && !KNOWN.contains(&e.extn_id) {
                return Err(self.bad(format!("unsupported critical extension {}", e.extn_id)));
            }
        }
        Ok(())
    }

    /// Verifies that `issuer` signed this certificate.
    fn signed_by(&self, issuer: &Cert) -> Result<(), McpbError> {
        let sig = self
            .cert
            .signature
            .as_bytes()
            .ok_or_else(|| self.bad("its signature is not a whole number of bytes".into()))?;
        verify_signature(
            &issuer.cert.tbs_certificate.subject_public_key_info,
            &self.cert.signature_algorithm,
            None,
            &self.tbs,
            sig,
        )
    }
}

/// `sha256:` and the lowercase hex SHA-256 of the DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(der)))
}

/// What `trust add-ca` learns about a certificate.
#[derive(Debug, Clone)]
pub struct CaInfo {
    pub subject: String,
    pub fingerprint: String,
    pub not_before: String,
    pub not_after: String,
    /// `Some(problem)` when the certificate is not valid at `at`.
    pub time_problem: Option<String>,
}

/// Checks that `der` is an X.509 CA certificate with a supported key.
pub fn inspect_ca(der: &[u8], at: SystemTime) -> Result<CaInfo, McpbError> {
    let c = Cert::parse(der).map_err(|e| McpbError::BadCertificate {
        subject: "?".into(),
        problem: format!("it does not parse as an X.509 certificate: {e}"),
    })?;
    c.check_ca()?;
    c.check_critical()?;
    key_kind(&c.cert.tbs_certificate.subject_public_key_info)?;
    let v = &c.cert.tbs_certificate.validity;
    Ok(CaInfo {
        subject: c.subject(),
        fingerprint: c.fingerprint(),
        not_before: v.not_before.to_string(),
        not_after: v.not_after.to_string(),
        time_problem: c.check_time(unix(at)).err().map(|e| match e {
            McpbError::CertificateTime { problem, .. } => problem,
            other => other.to_string(),
        }),
    })
}

/// The subject of a DER certificate in RFC 4514 form, if it parses.
pub fn certificate_subject(der: &[u8]) -> Option<String> {
    Certificate::from_der(der)
        .ok()
        .map(|c| c.tbs_certificate.subject.to_string())
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// -------------------------------------------------------------- signatures

enum KeyKind {
    Rsa,
    Ec(ObjectIdentifier),
}

fn key_kind(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<KeyKind, McpbError> {
    match spki.algorithm.oid {
        oid::RSA => Ok(KeyKind::Rsa),
        oid::EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| {
                    McpbError::UnsupportedAlgorithm("EC key without a named curve".into())
                })?;
            if curve == oid::P256 || curve == oid::P384 {
                Ok(KeyKind::Ec(curve))
            } else {
                Err(McpbError::UnsupportedAlgorithm(format!("EC curve {curve}")))
            }
        }
        other => Err(McpbError::UnsupportedAlgorithm(format!(
            "public key {other}"
        ))),
    }
}

/// Verifies `sig` over `msg`. `digest` is the hash to use when `alg`
/// names only the key type (CMS signers often write plain rsaEncryption).
fn verify_signature(
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    digest: Option<Hash>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), McpbError> {
    use aws_lc_rs::signature as s;
    let unsupported =
        || McpbError::UnsupportedAlgorithm(format!("signature algorithm {}", alg.oid));
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| McpbError::UnsupportedAlgorithm("public key bit string".into()))?;
    let params: &dyn s::VerificationAlgorithm = match key_kind(spki)? {
        KeyKind::Rsa => {
            let hash = match alg.oid {
                oid::RSA_SHA256 => Hash::Sha256,
                oid::RSA_SHA384 => Hash::Sha384,
                oid::RSA_SHA512 => Hash::Sha512,
                oid::RSA => digest.ok_or_else(unsupported)?,
                _ => return Err(unsupported()),
            };
            match hash {
                Hash::Sha256 => &s::RSA_PKCS1_2048_8192_SHA256,
                Hash::Sha384 => &s::RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => &s::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        KeyKind::Ec(curve) => {
            let hash = match alg.oid {
                oid::ECDSA_SHA256 => Hash::Sha256,
                oid::ECDSA_SHA384 => Hash::Sha384,
                oid::ECDSA_SHA512 => Hash::Sha512,
                oid::EC_PUBLIC_KEY => digest.ok_or_else(unsupported)?,
                _ => return Err(unsupported()),
            };
            match (curve == oid::P256, hash) {
                (true, Hash::Sha256) => &s::ECDSA_P256_SHA256_ASN1,
                (true, Hash::Sha384) => &s::ECDSA_P256_SHA384_ASN1,
                (true, Hash::Sha512) => &s::ECDSA_P256_SHA512_ASN1,
                (false, Hash::Sha256) => &s::ECDSA_P384_SHA256_ASN1,
                (false, Hash::Sha384) => &s::ECDSA_P384_SHA384_ASN1,
                (false, Hash::Sha512) => &s::ECDSA_P384_SHA512_ASN1,
            }
        }
    };
    s::UnparsedPublicKey::new(params, key)
        .verify(msg, sig)
        .map_err(|_| {
            McpbError::BadSignature(format!("the {} signature does not match the key", alg.oid))
        })
}

// ----------------------------------------------------------------- verify

/// Who signed a verified bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// RFC 4514 form of the signer certificate's subject.
    pub subject: String,
    pub common_name: Option<String>,
    pub organization: Option<String>,
    /// Trust store name of the pinned root that anchors the chain.
    pub ca_name: String,
    /// `sha256:HEX` of the signer certificate.
    pub fingerprint: String,
    /// Which signing method produced the block.
    pub variant: CommentVariant,
}

/// Verifies the bundle's signature: the digest of the signed bytes, the
/// signer's signature over its attributes, and a chain of at most
/// [`MAX_CHAIN`] certificates to one of `roots`, each valid at `at` (pass
/// the current time: the signer's `signingTime` is not trusted).
pub fn verify(bundle: &Path, roots: &[TrustedCa], at: SystemTime) -> Result<Publisher, McpbError> {
    let block = find_signature(bundle)?.ok_or(McpbError::NoSignature)?;
    let parsed = parse_cms(&block.pkcs7_der)?;
    let actual = hash_signed(bundle, &block, parsed.digest)?;
    if actual != parsed.message_digest {
        return Err(McpbError::DigestMismatch {
            algorithm: parsed.digest.name(),
        });
    }
    let leaf = &parsed.certs[parsed.signer];
    verify_signature(
        &leaf.cert.tbs_certificate.subject_public_key_info,
        &parsed.signature_algorithm,
        Some(parsed.digest),
        &parsed.signed_attrs,
        &parsed.signature,
    )?;
    check_layout(bundle, &block)?;
    let ca_name = build_chain(&parsed.certs, parsed.signer, roots, unix(at))?;
    let subject = &leaf.cert.tbs_certificate.subject;
    Ok(Publisher {
        subject: subject.to_string(),
        common_name: name_attr(subject, &oid::CN),
        organization: name_attr(subject, &oid::O),
        ca_name,
        fingerprint: leaf.fingerprint(),
        variant: block.variant,
    })
}

/// [`verify`] against the CAs of `store` whose scopes cover `server`; a
/// chain to a CA that is pinned but not scoped for it is reported as such.
pub fn verify_for_server(
    bundle: &Path,
    store: &TrustStore,
    server: &str,
    at: SystemTime,
) -> Result<Publisher, McpbError> {
    let in_scope: Vec<TrustedCa> = store.cas_for(server).cloned().collect();
    match verify(bundle, &in_scope, at) {
        Err(McpbError::UntrustedChain(why)) => match verify(bundle, &store.cas, at) {
            Ok(p) => Err(McpbError::OutOfScope {
                ca: p.ca_name,
                server: server.to_string(),
            }),
            Err(_) => Err(McpbError::UntrustedChain(why)),
        },
        other => other,
    }
}

/// The signed zip must be the one extraction will read: packed from the
/// first byte to the end record the block was recognised by, and nothing
/// in the rest of the file that a zip reader could take for another zip.
fn check_layout(bundle: &Path, block: &SignatureBlock) -> Result<(), McpbError> {
    let (mut file, meta) = fsutil::open_file(bundle)?;
    crate::archive::zip_layout::check(
        &mut file,
        meta.len(),
        Some(block.zip_bound()),
        MAX_ENTRIES as u64,
    )
    .map(|_| ())
    .map_err(McpbError::Layout)
}

struct ParsedCms {
    certs: Vec<Cert>,
    signer: usize,
    digest: Hash,
    message_digest: Vec<u8>,
    signed_attrs: Vec<u8>,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: Vec<u8>,
}

fn parse_cms(der: &[u8]) -> Result<ParsedCms, McpbError> {
    let bad = |m: String| McpbError::MalformedCms(m);
    let ci = ContentInfo::from_der(der).map_err(|e| bad(e.to_string()))?;
    if ci.content_type != oid::SIGNED_DATA {
        return Err(bad(format!(
            "content type {} is not SignedData",
            ci.content_type
        )));
    }
    let sd: SignedData = ci.content.decode_as().map_err(|e| bad(e.to_string()))?;
    let raw = raw_signed_data(der).ok_or_else(|| bad("unexpected structure".into()))?;
    if sd.encap_content_info.econtent.is_some() {
        return Err(bad(
            "the signature embeds content; mcpb signatures are detached".into(),
        ));
    }
    if sd.encap_content_info.econtent_type != oid::DATA {
        return Err(bad("the signed content type is not id-data".into()));
    }
    // Neither CRLs nor unsigned attributes are covered by the signature, and
    // no field mcp-warden reads needs them (there is no revocation checking,
    // no countersignature or timestamp support): anything there was written
    // by whoever last held the file. mcpb sign (node-forge) and openssl cms
    // leave both out. Empty sets hold nothing and are let through.
    if sd.crls.as_ref().is_some_and(|c| !c.0.is_empty()) {
        return Err(McpbError::UnsignedContent("CRLs"));
    }
    let infos = &sd.signer_infos.0;
    if infos.len() != 1 {
        return Err(bad(format!(
            "exactly one signer is required, found {}",
            infos.len()
        )));
    }
    let Some(si) = infos.iter().next() else {
        return Err(bad("no signer".into()));
    };
    if si.unsigned_attrs.as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(McpbError::UnsignedContent("unsigned attributes"));
    }
    let digest = Hash::from_oid(&si.digest_alg.oid)
        .ok_or_else(|| McpbError::UnsupportedAlgorithm(format!("digest {}", si.digest_alg.oid)))?;
    let attrs = si.signed_attrs.as_ref().ok_or_else(|| {
        bad("the signer has no signed attributes (mcpb always writes them)".into())
    })?;
    let signed_attrs = raw
        .signed_attrs
        .ok_or_else(|| bad("signed attributes not found".into()))?;
    let mut message_digest = None;
    let mut content_type = None;
    for a in attrs.iter() {
        let single = || {
            if a.values.len() == 1 {
                a.values
                    .iter()
                    .next()
                    .ok_or_else(|| bad("empty attribute".into()))
            } else {
                Err(bad(format!(
                    "attribute {} must have exactly one value",
                    a.oid
                )))
            }
        };
        // One of each: a second messageDigest could tell two readers two stories.
        if a.oid == oid::MESSAGE_DIGEST {
            let v = single()?
                .decode_as::<OctetString>()
                .map_err(|e| bad(format!("messageDigest: {e}")))?;
            if message_digest.replace(v.as_bytes().to_vec()).is_some() {
                return Err(bad("more than one messageDigest attribute".into()));
            }
        } else if a.oid == oid::CONTENT_TYPE {
            let v = single()?
                .decode_as::<ObjectIdentifier>()
                .map_err(|e| bad(format!("contentType: {e}")))?;
            if content_type.replace(v).is_some() {
                return Err(bad("more than one contentType attribute".into()));
            }
        }
    }
    // RFC 5652 §5.3: with signed attributes, contentType is mandatory.
    if content_type != Some(oid::DATA) {
        return Err(bad(
            "the contentType attribute is missing or is not id-data".into(),
        ));
    }
    let message_digest =
        message_digest.ok_or_else(|| bad("the messageDigest attribute is missing".into()))?;
    let certs = raw
        .certs
        .iter()
        .map(|d| Cert::parse(d).map_err(|e| bad(format!("a certificate does not parse: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let signer = match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => certs.iter().position(|c| {
            c.cert.tbs_certificate.issuer == isn.issuer
                && c.cert.tbs_certificate.serial_number == isn.serial_number
        }),
        SignerIdentifier::SubjectKeyIdentifier(ski) => certs.iter().position(|c| {
            c.decode_ext::<SubjectKeyIdentifier>(&oid::SUBJECT_KEY_ID)
                .ok()
                .flatten()
                .is_some_and(|k| k == *ski)
        }),
    }
    .ok_or_else(|| bad("the signer's certificate is not in the signature".into()))?;
    Ok(ParsedCms {
        certs,
        signer,
        digest,
        message_digest,
        signed_attrs,
        signature_algorithm: si.signature_algorithm.clone(),
        signature: si.signature.as_bytes().to_vec(),
    })
}

/// From the signer up through the bundled certificates to a pinned root.
/// Returns the root's trust store name.
fn build_chain(
    certs: &[Cert],
    signer: usize,
    roots: &[TrustedCa],
    now: u64,
) -> Result<String, McpbError> {
    let leaf = &certs[signer];
    leaf.check_critical()?;
    let ku: Option<KeyUsage> = leaf.decode_ext(&oid::KEY_USAGE)?;
    if ku.is_some_and(|k| !k.digital_signature()) {
        return Err(leaf.bad("its keyUsage lacks digitalSignature".into()));
    }
    let eku: Option<ExtendedKeyUsage> = leaf.decode_ext(&oid::EXT_KEY_USAGE)?;
    if eku.is_some_and(|e| {
        !e.0.iter()
            .any(|o| *o == oid::CODE_SIGNING || *o == oid::ANY_EKU)
    }) {
        return Err(leaf.bad("its extendedKeyUsage does not allow code signing".into()));
    }
    let roots: Vec<(&TrustedCa, Cert)> = roots
        .iter()
        .filter_map(|r| Cert::parse(&r.cert_der).ok().map(|c| (r, c)))
        .collect();
    let mut used = vec![signer];
    let mut current = leaf;
    for depth in 0..MAX_CHAIN - 1 {
        current.check_time(now)?;
        let issuer: &Name = &current.cert.tbs_certificate.issuer;
        // A pinned root first: it ends the chain.
        let mut root_err = None;
        for (r, rc) in &roots {
            if rc.cert.tbs_certificate.subject != *issuer {
                continue;
            }
            match current.signed_by(rc) {
                Ok(()) => {
                    let path_len = rc.check_ca()?;
                    if path_len.is_some_and(|p| usize::from(p) < depth) {
                        return Err(rc.bad("its pathLenConstraint is exceeded".into()));
                    }
                    rc.check_time(now)?;
                    return Ok(r.name.clone());
                }
                Err(e) => root_err = Some(e),
            }
        }
        let next = certs.iter().enumerate().find(|(k, c)| {
            !used.contains(k)
                && c.cert.tbs_certificate.subject == *issuer
                && current.signed_by(c).is_ok()
        });
        let Some((k, next)) = next else {
            return Err(match root_err {
                Some(e) => e,
                None => McpbError::UntrustedChain(format!(
                    "no pinned CA issued `{}` (issuer `{issuer}`)",
                    current.subject()
                )),
            });
        };
        let path_len = next.check_ca()?;
        if path_len.is_some_and(|p| usize::from(p) < depth) {
            return Err(next.bad("its pathLenConstraint is exceeded".into()));
        }
        next.check_critical()?;
        used.push(k);
        current = next;
    }
    Err(McpbError::UntrustedChain(format!(
        "no pinned CA within {MAX_CHAIN} certificates"
    )))
}

fn name_attr(name: &Name, id: &ObjectIdentifier) -> Option<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find_map(|atv| {
        if atv.oid != *id {
            return None;
        }
        let v = &atv.value;
        v.decode_as::<Utf8StringRef<'_>>()
            .map(|s| s.to_string())
            .or_else(|_| {
                v.decode_as::<PrintableStringRef<'_>>()
                    .map(|s| s.to_string())
            })
            .or_else(|_| v.decode_as::<Ia5StringRef<'_>>().map(|s| s.to_string()))
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_with_comment(comment: &[u8]) -> Vec<u8> {
        // Smallest zip: just an end record.
        let mut z = b"PK\x05\x06".to_vec();
        z.extend_from_slice(&[0; 16]);
        z.extend_from_slice(&(comment.len() as u16).to_le_bytes());
        z.extend_from_slice(comment);
        z
    }

    fn block(der: &[u8], pad_to: Option<usize>) -> Vec<u8> {
        let mut b = HEADER.to_vec();
        b.extend_from_slice(&(der.len() as u32).to_le_bytes());
        b.extend_from_slice(der);
        if let Some(p) = pad_to {
            b.resize(p - FOOTER.len(), 0);
        }
        b.extend_from_slice(FOOTER);
        b
    }

    #[test]
    fn unchanged_variant() {
        let mut f = zip_with_comment(b"");
        let n = f.len();
        f.extend(block(b"\x30\x00", None));
        let (b, _) = parse_tail(&f, 0).unwrap().unwrap();
        assert_eq!(b.variant, CommentVariant::Unchanged);
        assert_eq!(b.signed_len, n as u64);
        assert_eq!(b.pkcs7_der, b"\x30\x00");
    }

    #[test]
    fn covering_variant_restores_the_comment_length() {
        let blk = block(b"abc", None);
        let mut f = zip_with_comment(b"hi");
        let n = f.len();
        let l = (2 + blk.len()) as u16;
        f[20..22].copy_from_slice(&l.to_le_bytes());
        f.extend(blk);
        let (b, _) = parse_tail(&f, 100).unwrap().unwrap();
        assert_eq!(
            b.variant,
            CommentVariant::Covering {
                eocd_offset: 100,
                signed_comment_len: 2
            }
        );
        assert_eq!(b.signed_len, 100 + n as u64);
    }

    #[test]
    fn prepared_variant_is_padded_to_16384() {
        let mut f = zip_with_comment(b"");
        f[20..22].copy_from_slice(&16384u16.to_le_bytes());
        f.extend(block(b"abc", Some(16384)));
        let (b, _) = parse_tail(&f, 0).unwrap().unwrap();
        assert_eq!(b.variant, CommentVariant::Prepared);
        // Padding must be zeros.
        let k = f.len() - FOOTER.len() - 1;
        f[k] = 1;
        assert!(matches!(
            parse_tail(&f, 0),
            Err(McpbError::MalformedBlock(_))
        ));
    }

    #[test]
    fn zip_bound_is_the_signed_zip_in_each_variant() {
        use std::io::Write as _;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("manifest.json", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"{}").unwrap();
        w.set_comment("signed comment").unwrap();
        let zip = w.finish().unwrap().into_inner();
        let eocd = rfind(&zip, EOCD_SIG).unwrap();
        let comment = (zip.len() - eocd - EOCD_LEN as usize) as u16;
        let blk = block(b"\x30\x00", None);
        let unchanged = [zip.clone(), blk.clone()].concat();
        let mut covering = unchanged.clone();
        covering[eocd + 20..eocd + 22].copy_from_slice(&(comment + blk.len() as u16).to_le_bytes());
        // Prepared: the comment is the block, so the zip has none of its own.
        let mut prepared = zip[..eocd + EOCD_LEN as usize].to_vec();
        prepared[eocd + 20..eocd + 22].copy_from_slice(&16384u16.to_le_bytes());
        let prepared_end = prepared.len() as u64;
        prepared.extend(block(b"\x30\x00", Some(16384)));
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes, end) in [
            ("unchanged", unchanged, zip.len() as u64),
            ("covering", covering, zip.len() as u64),
            ("prepared", prepared, prepared_end),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            let mut f = File::open(&p).unwrap();
            let b = zip_bound(&mut f).unwrap().unwrap();
            assert_eq!((b.eocd, b.end), (eocd as u64, end), "{name}");
            let len = bytes.len() as u64;
            let l = crate::archive::zip_layout::check(&mut f, len, Some(b), 10).unwrap();
            assert_eq!(l.entries.len(), 1, "{name}");
            // Without the bound the unchanged block is data after the zip;
            // the others' end records count it as their comment.
            let unbound = crate::archive::zip_layout::check(&mut f, len, None, 10);
            match name {
                "unchanged" => assert!(unbound.is_err()),
                _ => assert_eq!(unbound.unwrap().entries, l.entries, "{name}"),
            }
        }
        let p = dir.path().join("plain");
        std::fs::write(&p, &zip).unwrap();
        assert!(zip_bound(&mut File::open(&p).unwrap()).unwrap().is_none());
    }

    #[test]
    fn refuses_blocks_that_do_not_add_up() {
        // Comment length that covers neither the zip nor the block.
        let mut f = zip_with_comment(b"");
        f[20..22].copy_from_slice(&7u16.to_le_bytes());
        f.extend(block(b"abc", None));
        assert!(matches!(
            parse_tail(&f, 0),
            Err(McpbError::MalformedBlock(_))
        ));
        // Wrong length field.
        let mut f = zip_with_comment(b"");
        let mut blk = block(b"abc", None);
        blk[HEADER.len()] = 4;
        f.extend(blk);
        assert!(matches!(
            parse_tail(&f, 0),
            Err(McpbError::MalformedBlock(_))
        ));
        // Oversized length field.
        let mut f = zip_with_comment(b"");
        let mut blk = block(b"abc", None);
        blk[HEADER.len()..HEADER.len() + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        f.extend(blk);
        let e = parse_tail(&f, 0).unwrap_err().to_string();
        assert!(e.contains("limit"), "{e}");
        // Cut short.
        let mut f = zip_with_comment(b"");
        f.extend(block(b"abc", None));
        f.truncate(f.len() - 3);
        assert!(matches!(
            parse_tail(&f, 0),
            Err(McpbError::MalformedBlock(_))
        ));
        // No block at all.
        assert!(parse_tail(&zip_with_comment(b"x"), 0).unwrap().is_none());
    }

    #[test]
    fn many_fake_headers_cost_a_bounded_search() {
        // Thousands of headers, each with a length field that fits the end
        // of the file: refused after a few tries, not each one scanned.
        let mut f = zip_with_comment(b"");
        let mut at = Vec::new();
        for _ in 0..20_000 {
            at.push(f.len());
            f.extend_from_slice(HEADER);
            f.extend_from_slice(&[0; 4]);
        }
        f.extend_from_slice(FOOTER);
        let total = f.len();
        for p in at {
            let der_len = (total - p) as u64 - OVERHEAD;
            f[p + HEADER.len()..p + HEADER.len() + 4]
                .copy_from_slice(&(der_len as u32).to_le_bytes());
        }
        assert!(block_at(&f, total - FOOTER.len() - 15).is_ok());
        assert!(matches!(
            parse_tail(&f, 0),
            Err(McpbError::MalformedBlock(_))
        ));
    }

    #[test]
    fn der_walker_bounds() {
        assert!(tlv(&[0x30, 0x05, 0x00]).is_none());
        assert!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(tlv(&[0x1f, 0x00]).is_none());
        let (t, rest) = tlv(&[0x04, 0x01, 0xaa, 0xbb]).unwrap();
        assert_eq!((t.tag, t.value, rest), (0x04, &[0xaa][..], &[0xbb][..]));
    }

    #[test]
    fn manifest_fields() {
        let m = parse_manifest(
            br#"{"manifest_version":"0.3","name":"x","version":"1.0.0",
                "server":{"type":"node","entry_point":"server/index.js",
                  "mcp_config":{"command":"node","args":["${__dirname}/server/index.js"],"env":{"K":"${user_config.k}"}}},
                "user_config":{"k":{"type":"string","sensitive":true,"required":true}}}"#,
        )
        .unwrap();
        assert_eq!(m.name, "x");
        assert_eq!(m.server_type.as_deref(), Some("node"));
        assert_eq!(m.mcp_config.unwrap().env["K"], "${user_config.k}");
        assert!(m.user_config["k"].sensitive);
        assert!(matches!(
            parse_manifest(b"[]"),
            Err(McpbError::ManifestInvalid(_))
        ));
        assert!(matches!(
            parse_manifest(br#"{"version":"1"}"#),
            Err(McpbError::ManifestInvalid(_))
        ));
    }

    #[test]
    fn entry_names() {
        assert!(safe_entry_name("server/index.js"));
        for bad in ["/etc/x", "../x", "a/../../x", "a\\b", "C:/x", ""] {
            assert!(!safe_entry_name(bad), "{bad}");
        }
    }
}
