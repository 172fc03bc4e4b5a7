//! Verifying a bundle's signature: the digest of the signed bytes, the
//! signer's signature and its chain to a CA pinned for the server.

use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use super::{CommentVariant, MAX_ENTRIES, McpbError, SignatureBlock};
use crate::archive::signed_zip;
use crate::fsutil;
use crate::trust::{TrustStore, TrustedCa};
use crate::x509::{self, Hash, oid};

/// Finds the signature block at the end of the bundle, reading only the
/// tail. `Ok(None)`: no block. A block that is there but does not add up
/// (cut short, wrong length, not where any known signer puts it) is an error.
pub fn find_signature(bundle: &Path) -> Result<Option<SignatureBlock>, McpbError> {
    let (mut file, meta) = fsutil::open_file(bundle)?;
    Ok(signed_zip::block_in(&mut file, meta.len(), bundle)?)
}

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
/// [`x509::MAX_CHAIN`] certificates to one of `roots`, each valid at `at` (pass
/// the current time: the signer's `signingTime` is not trusted).
pub fn verify(bundle: &Path, roots: &[TrustedCa], at: SystemTime) -> Result<Publisher, McpbError> {
    let block = find_signature(bundle)?.ok_or(McpbError::NoSignature)?;
    let parsed = x509::cms::parse_cms(&block.pkcs7_der)?;
    let actual = hash_signed(bundle, &block, parsed.digest)?;
    if actual != parsed.message_digest {
        return Err(McpbError::DigestMismatch {
            algorithm: parsed.digest.name(),
        });
    }
    let leaf = &parsed.certs[parsed.signer];
    x509::verify_signature(
        &leaf.cert.tbs_certificate.subject_public_key_info,
        &parsed.signature_algorithm,
        Some(parsed.digest),
        &parsed.signed_attrs,
        &parsed.signature,
    )?;
    check_layout(bundle, &block)?;
    let roots: Vec<(&str, &[u8])> = roots
        .iter()
        .map(|r| (r.name.as_str(), r.cert_der.as_slice()))
        .collect();
    let ca_name = x509::build_chain(&parsed.certs, parsed.signer, &roots, x509::unix(at))?;
    let subject = &leaf.cert.tbs_certificate.subject;
    Ok(Publisher {
        subject: subject.to_string(),
        common_name: x509::name_attr(subject, &oid::CN),
        organization: x509::name_attr(subject, &oid::O),
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
