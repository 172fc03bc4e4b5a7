//! The `.mcpb` signature block at the end of a zip: where it is, which
//! signing method wrote it, and so which bytes are the signed zip. Its
//! validity is the verifier's business (`mcpb`); extraction only needs
//! the bound.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::ZipBound;

/// The DER SignedData in a signature block.
pub const MAX_SIGNATURE: u64 = 1024 * 1024;
/// `mcpb prepare-for-signing` pads the block to exactly this size.
pub const PREPARED_BLOCK_SIZE: u64 = 16384;

const HEADER: &[u8] = b"MCPB_SIG_V1";
const FOOTER: &[u8] = b"MCPB_SIG_END";
const OVERHEAD: u64 = (HEADER.len() + 4 + FOOTER.len()) as u64;
const EOCD_SIG: &[u8] = b"PK\x05\x06";
const EOCD_LEN: u64 = 22;
const MAX_COMMENT: u64 = 65535;

/// A signature block that cannot be located or does not add up.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the signature block is malformed: {0}")]
    Malformed(String),
}

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
    pub fn zip_bound(&self) -> ZipBound {
        ZipBound {
            eocd: self.eocd_offset,
            end: self.signed_len,
        }
    }
}

/// The zip inside an open file that may be a signed bundle: where the
/// verifier of its signature block finds the signed zip; `None` for a file
/// without a block. The file's bytes are all there is (no path is opened).
pub fn zip_bound(file: &mut File) -> Result<Option<ZipBound>, BlockError> {
    let path = Path::new("the bundle");
    let len = file
        .metadata()
        .map_err(|source| BlockError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    Ok(block_in(file, len, path)?.map(|b| b.zip_bound()))
}

/// The signature block of `file` (`len` bytes long; `bundle` names it in
/// errors), reading only its tail; `Ok(None)` when it has none.
pub fn block_in(
    file: &mut File,
    len: u64,
    bundle: &Path,
) -> Result<Option<SignatureBlock>, BlockError> {
    let io_err = |source| BlockError::Io {
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
        return Err(BlockError::Malformed(
            "the file changed while it was read".into(),
        ));
    }
    parse_tail(&tail, base).map(|o| o.map(|(b, _)| b))
}

/// Parses the block out of the last bytes of a file (`base` is the offset
/// of `tail` in the file). Also returns the EOCD offset within `tail`.
fn parse_tail(tail: &[u8], base: u64) -> Result<Option<(SignatureBlock, usize)>, BlockError> {
    let malformed = |m: String| BlockError::Malformed(m);
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
fn block_at(tail: &[u8], i: usize) -> Result<(&[u8], bool), BlockError> {
    let malformed = |m: String| BlockError::Malformed(m);
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
        assert!(matches!(parse_tail(&f, 0), Err(BlockError::Malformed(_))));
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
            let l = super::super::zip_layout::check(&mut f, len, Some(b), 10).unwrap();
            assert_eq!(l.entries.len(), 1, "{name}");
            // Without the bound the unchanged block is data after the zip;
            // the others' end records count it as their comment.
            let unbound = super::super::zip_layout::check(&mut f, len, None, 10);
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
        assert!(matches!(parse_tail(&f, 0), Err(BlockError::Malformed(_))));
        // Wrong length field.
        let mut f = zip_with_comment(b"");
        let mut blk = block(b"abc", None);
        blk[HEADER.len()] = 4;
        f.extend(blk);
        assert!(matches!(parse_tail(&f, 0), Err(BlockError::Malformed(_))));
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
        assert!(matches!(parse_tail(&f, 0), Err(BlockError::Malformed(_))));
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
        assert!(matches!(parse_tail(&f, 0), Err(BlockError::Malformed(_))));
    }
}
