//! A strict reading of a zip's layout, done before any zip reader sees it.
//!
//! Zip readers disagree about files that are more than one zip: the `zip`
//! crate takes the last end record it finds and tolerates leading data,
//! `unzip` warns and carries on, streaming readers follow the local headers
//! from offset 0. So a file that holds bytes outside its entries can show
//! one reader (or a verifier) one set of files and another reader another.
//! This checker accepts only a zip that every reader sees the same way:
//! local headers packed from offset 0, each exactly followed by the next,
//! the central directory right after the last entry, the end record (and
//! zip64 records) right after it, nothing after the comment but what the
//! caller declares (a verified `.mcpb` signature block), no second end
//! record a reader could pick, and no name twice.
//!
//! Every offset and size comes from the file, so all arithmetic is checked
//! and every read is bounded by the file's length before it is made.

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::{ArchiveError, clean_path, show};

/// End of central directory record, without its comment.
pub const EOCD_LEN: u64 = 22;
const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const LOCATOR_SIG: &[u8; 4] = b"PK\x06\x07";
const LOCATOR_LEN: u64 = 20;
const ZIP64_EOCD_SIG: &[u8; 4] = b"PK\x06\x06";
const ZIP64_EOCD_LEN: u64 = 56;
const CDH_SIG: &[u8; 4] = b"PK\x01\x02";
const CDH_LEN: usize = 46;
const LFH_SIG: &[u8; 4] = b"PK\x03\x04";
const LFH_LEN: u64 = 30;
const DD_SIG: &[u8; 4] = b"PK\x07\x08";
const MAX_COMMENT: u64 = 65535;
/// Central directory held in memory; 100,000 entries with long names and
/// extra fields stay well below it.
const MAX_CD: u64 = 256 << 20;
/// Bytes after the zip that a caller may declare (a `.mcpb` signature
/// block is at most 1 MiB of DER and its markers).
const MAX_TRAILER: u64 = 4 << 20;
/// General purpose flag: sizes and CRC follow the data in a descriptor.
const FLAG_DESCRIPTOR: u16 = 1 << 3;

/// Where a verifier found the zip's end, for a zip followed by bytes it
/// accounts for (a signed `.mcpb`): the end record at `eocd`, the zip's
/// bytes ending at `end` (the record, then `end - eocd - 22` bytes of
/// comment). The record's own comment length is not used: the signers
/// write it in three ways (see `signed_zip::CommentVariant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub eocd: u64,
    pub end: u64,
}

/// One entry, from the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub header_offset: u64,
    pub compressed_size: u64,
    pub flags: u16,
    crc: u32,
}

/// A zip that passed [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// In central directory order.
    pub entries: Vec<Entry>,
    pub cd_offset: u64,
    /// Offset of the end of central directory record.
    pub eocd: u64,
    /// Where the zip ends: after the record's comment, or the bound's end.
    pub end: u64,
}

fn bad(detail: impl Into<String>) -> ArchiveError {
    ArchiveError::Layout {
        detail: detail.into(),
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Reads `n` bytes at `off`, which the caller checked lie within the file.
fn read_at<R: Read + Seek>(r: &mut R, off: u64, n: u64) -> Result<Vec<u8>, ArchiveError> {
    let io = |e: io::Error| ArchiveError::Corrupt {
        detail: format!("reading {n} bytes at offset {off}: {e}"),
    };
    let n = usize::try_from(n).map_err(|_| bad("a record is too large"))?;
    r.seek(SeekFrom::Start(off)).map_err(io)?;
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf).map_err(io)?;
    Ok(buf)
}

/// Checks the layout of the zip in the first `len` bytes of `r`. With a
/// `bound`, the end record is the one the caller located and the bytes
/// after `bound.end` are the caller's; without, the zip must end exactly
/// after its end record's comment, and only one end record may fit there.
pub fn check<R: Read + Seek>(
    r: &mut R,
    len: u64,
    bound: Option<Bound>,
    max_entries: u64,
) -> Result<Layout, ArchiveError> {
    let (eocd, end) = match bound {
        Some(b) => {
            let comment = b
                .end
                .checked_sub(b.eocd)
                .and_then(|d| d.checked_sub(EOCD_LEN))
                .ok_or_else(|| bad("the declared end lies before the end record"))?;
            if comment > MAX_COMMENT || b.end > len {
                return Err(bad("the declared end record does not fit the file"));
            }
            (b.eocd, b.end)
        }
        None => find_eocd(r, len)?,
    };
    if len - end > MAX_TRAILER {
        return Err(bad(format!(
            "{} bytes follow the zip, more than the {MAX_TRAILER} a signature block may take",
            len - end
        )));
    }
    let rec = read_at(r, eocd, EOCD_LEN)?;
    if &rec[..4] != EOCD_SIG {
        return Err(bad(format!("no end record at offset {eocd}")));
    }
    // Whatever follows the record (its comment, a signature block) must not
    // hold another end record that a reader scanning from the end could pick.
    let after = read_at(r, eocd + 4, len - eocd - 4)?;
    if let Some(k) = plausible_eocd(&after, eocd + 4) {
        return Err(bad(format!(
            "a second end of central directory record at offset {k}, after the zip's own: readers could see two different archives"
        )));
    }

    let mut disk = u32::from(u16_at(&rec, 4));
    let mut cd_disk = u32::from(u16_at(&rec, 6));
    let mut n_disk = u64::from(u16_at(&rec, 8));
    let mut n_total = u64::from(u16_at(&rec, 10));
    let mut cd_size = u64::from(u32_at(&rec, 12));
    let mut cd_offset = u64::from(u32_at(&rec, 16));
    let mut cd_end = eocd;
    if eocd >= LOCATOR_LEN {
        let loc = read_at(r, eocd - LOCATOR_LEN, LOCATOR_LEN)?;
        if &loc[..4] == LOCATOR_SIG {
            let z64 = u64_at(&loc, 8);
            if u32_at(&loc, 4) != 0 || u32_at(&loc, 16) > 1 {
                return Err(bad("the zip64 locator names another disk"));
            }
            let limit = eocd - LOCATOR_LEN;
            if z64.checked_add(ZIP64_EOCD_LEN).is_none_or(|e| e > limit) {
                return Err(bad("the zip64 end record lies outside the file"));
            }
            let z = read_at(r, z64, ZIP64_EOCD_LEN)?;
            if &z[..4] != ZIP64_EOCD_SIG {
                return Err(bad(format!("no zip64 end record at offset {z64}")));
            }
            // Its size field counts what follows it: extensible data may
            // follow, but then the locator must come right after.
            if z64
                .checked_add(12)
                .and_then(|x| x.checked_add(u64_at(&z, 4)))
                != Some(limit)
            {
                return Err(bad("bytes between the zip64 end record and its locator"));
            }
            let pick = |short: u64, sat: u64, long: u64| -> Result<u64, ArchiveError> {
                if short == sat || short == long {
                    Ok(long)
                } else {
                    Err(bad("the zip64 end record disagrees with the end record"))
                }
            };
            disk = pick(u64::from(disk), 0xffff, u64::from(u32_at(&z, 16)))? as u32;
            cd_disk = pick(u64::from(cd_disk), 0xffff, u64::from(u32_at(&z, 20)))? as u32;
            n_disk = pick(n_disk, 0xffff, u64_at(&z, 24))?;
            n_total = pick(n_total, 0xffff, u64_at(&z, 32))?;
            cd_size = pick(cd_size, 0xffff_ffff, u64_at(&z, 40))?;
            cd_offset = pick(cd_offset, 0xffff_ffff, u64_at(&z, 48))?;
            cd_end = z64;
        }
    }
    if disk != 0 || cd_disk != 0 || n_disk != n_total {
        return Err(bad("multi-disk archives are not supported"));
    }
    if n_total > max_entries {
        return Err(ArchiveError::TooManyEntries { limit: max_entries });
    }
    match cd_offset.checked_add(cd_size) {
        Some(e) if e == cd_end => {}
        Some(e) if e < cd_end => {
            return Err(bad(format!(
                "{} bytes between the central directory and the end record",
                cd_end - e
            )));
        }
        _ => return Err(bad("the central directory overlaps the end record")),
    }
    if cd_size > MAX_CD {
        return Err(bad(format!(
            "the central directory takes {cd_size} bytes, more than {MAX_CD}"
        )));
    }
    if n_total.saturating_mul(CDH_LEN as u64) > cd_size {
        return Err(bad(format!(
            "{n_total} entries cannot fit a {cd_size}-byte central directory"
        )));
    }
    let cd = read_at(r, cd_offset, cd_size)?;
    let entries = central_directory(&cd, n_total)?;
    local_headers(r, &entries, cd_offset)?;
    Ok(Layout {
        entries,
        cd_offset,
        eocd,
        end,
    })
}

/// The one end record whose comment reaches exactly the end of the file.
fn find_eocd<R: Read + Seek>(r: &mut R, len: u64) -> Result<(u64, u64), ArchiveError> {
    let tail_len = len.min(EOCD_LEN + MAX_COMMENT);
    let base = len - tail_len;
    let tail = read_at(r, base, tail_len)?;
    let mut exact = Vec::new();
    let mut any = false;
    for k in (0..tail.len().saturating_sub(EOCD_LEN as usize - 1)).rev() {
        if &tail[k..k + 4] != EOCD_SIG {
            continue;
        }
        any = true;
        let comment = usize::from(u16_at(&tail, k + 20));
        if k + EOCD_LEN as usize + comment == tail.len() {
            exact.push(base + k as u64);
        }
    }
    match exact.as_slice() {
        [k] => Ok((*k, len)),
        [] if any => Err(bad(
            "data after the end of central directory record and its comment",
        )),
        [] => Err(ArchiveError::Corrupt {
            detail: "no end of central directory record".into(),
        }),
        _ => Err(bad(
            "more than one end of central directory record reaches the end of the file",
        )),
    }
}

/// The first end record signature in `b` (at file offset `base`) whose
/// fields hang together, so that a reader could take it for the real one.
/// Random bytes (a signature's DER) pass this by chance about once in 2^64.
/// Records before the zip's own (in a stored entry, a nested zip) are left
/// alone: a reader scanning from the end meets the zip's own first.
fn plausible_eocd(b: &[u8], base: u64) -> Option<u64> {
    let mut k = 0;
    while let Some(i) = b[k..].windows(4).position(|w| w == EOCD_SIG) {
        let at = k + i;
        k = at + 1;
        if b.len() < at + EOCD_LEN as usize {
            continue;
        }
        let r = &b[at..at + EOCD_LEN as usize];
        let disk_ok = |v: u16| v == 0 || v == 0xffff;
        let pos = base + at as u64;
        let cd_end = u64::from(u32_at(r, 12)) + u64::from(u32_at(r, 16));
        if disk_ok(u16_at(r, 4))
            && disk_ok(u16_at(r, 6))
            && u16_at(r, 8) == u16_at(r, 10)
            && (cd_end <= pos || u32_at(r, 16) == 0xffff_ffff)
        {
            return Some(pos);
        }
    }
    None
}

/// Walks the central directory: exactly `n` headers filling it, each name
/// once after normalisation.
fn central_directory(cd: &[u8], n: u64) -> Result<Vec<Entry>, ArchiveError> {
    let short = || bad("the central directory is cut short");
    let mut out = Vec::with_capacity(n as usize);
    let mut seen: HashSet<Result<PathBuf, Vec<u8>>> = HashSet::new();
    let mut pos = 0usize;
    for _ in 0..n {
        let h = cd.get(pos..pos + CDH_LEN).ok_or_else(short)?;
        if &h[..4] != CDH_SIG {
            return Err(bad(format!(
                "no central directory header at its offset {pos}"
            )));
        }
        let flags = u16_at(h, 8);
        let crc = u32_at(h, 16);
        let mut csize = u64::from(u32_at(h, 20));
        let mut usize_ = u64::from(u32_at(h, 24));
        let (nlen, xlen, clen) = (
            usize::from(u16_at(h, 28)),
            usize::from(u16_at(h, 30)),
            usize::from(u16_at(h, 32)),
        );
        let mut disk = u32::from(u16_at(h, 34));
        let mut offset = u64::from(u32_at(h, 42));
        let name_at = pos + CDH_LEN;
        let name = cd.get(name_at..name_at + nlen).ok_or_else(short)?.to_vec();
        let extra = cd
            .get(name_at + nlen..name_at + nlen + xlen)
            .ok_or_else(short)?;
        let next = name_at + nlen + xlen + clen;
        if next > cd.len() {
            return Err(short());
        }
        // Zip64: the saturated fields' real values, in this order.
        if csize == 0xffff_ffff || usize_ == 0xffff_ffff || offset == 0xffff_ffff || disk == 0xffff
        {
            let z = zip64_extra(extra)
                .ok_or_else(|| bad(format!("{} lacks its zip64 sizes", show(&name))))?;
            let mut at = 0;
            let mut take = |field: &mut u64, sat: u64, width: usize| -> Option<()> {
                if *field == sat {
                    let b = z.get(at..at + width)?;
                    *field = if width == 8 {
                        u64_at(b, 0)
                    } else {
                        u64::from(u32_at(b, 0))
                    };
                    at += width;
                }
                Some(())
            };
            let mut d = u64::from(disk);
            take(&mut usize_, 0xffff_ffff, 8)
                .and_then(|_| take(&mut csize, 0xffff_ffff, 8))
                .and_then(|_| take(&mut offset, 0xffff_ffff, 8))
                .and_then(|_| take(&mut d, 0xffff, 4))
                .ok_or_else(|| bad(format!("{}: zip64 extra field too short", show(&name))))?;
            disk = d as u32;
        }
        if disk != 0 {
            return Err(bad("multi-disk archives are not supported"));
        }
        let key = clean_path(&name).map_err(|_| name.clone());
        if !seen.insert(key) {
            return Err(ArchiveError::Duplicate { entry: show(&name) });
        }
        out.push(Entry {
            name,
            header_offset: offset,
            compressed_size: csize,
            flags,
            crc,
        });
        pos = next;
    }
    if pos != cd.len() {
        return Err(bad(format!(
            "{} bytes in the central directory after its {n} entries",
            cd.len() - pos
        )));
    }
    Ok(out)
}

fn zip64_extra(mut extra: &[u8]) -> Option<&[u8]> {
    while extra.len() >= 4 {
        let id = u16_at(extra, 0);
        let size = usize::from(u16_at(extra, 2));
        let body = extra.get(4..4 + size)?;
        if id == 1 {
            return Some(body);
        }
        extra = &extra[4 + size..];
    }
    None
}

/// Follows the entries in file order: the first at offset 0, each local
/// header naming its entry, each entry's data (and descriptor) ending
/// where the next begins, the last where the central directory begins.
fn local_headers<R: Read + Seek>(
    r: &mut R,
    entries: &[Entry],
    cd_offset: u64,
) -> Result<(), ArchiveError> {
    let mut order: Vec<&Entry> = entries.iter().collect();
    order.sort_by_key(|e| e.header_offset);
    let mut pos = 0u64;
    for (i, e) in order.iter().enumerate() {
        let name = show(&e.name);
        if e.header_offset != pos {
            return Err(if e.header_offset < pos {
                bad(format!("entry {name} overlaps the entry before it"))
            } else if pos == 0 {
                bad(format!("{} bytes before the first entry", e.header_offset))
            } else {
                bad(format!(
                    "{} bytes between entries, before {name}",
                    e.header_offset - pos
                ))
            });
        }
        let fixed_end = pos
            .checked_add(LFH_LEN)
            .filter(|x| *x <= cd_offset)
            .ok_or_else(|| {
                bad(format!(
                    "the local header of {name} runs into the central directory"
                ))
            })?;
        let h = read_at(r, pos, LFH_LEN)?;
        if &h[..4] != LFH_SIG {
            return Err(bad(format!("no local header at offset {pos} for {name}")));
        }
        let lflags = u16_at(&h, 6);
        let lcsize = u32_at(&h, 18);
        let nlen = u64::from(u16_at(&h, 26));
        let xlen = u64::from(u16_at(&h, 28));
        let data = fixed_end + nlen + xlen;
        let data_end = data
            .checked_add(e.compressed_size)
            .filter(|x| *x <= cd_offset)
            .ok_or_else(|| {
                bad(format!(
                    "the data of {name} runs into the central directory"
                ))
            })?;
        if read_at(r, fixed_end, nlen)? != e.name {
            return Err(bad(format!(
                "the local header of {name} names another file than the central directory"
            )));
        }
        if (lflags ^ e.flags) & FLAG_DESCRIPTOR != 0 {
            return Err(bad(format!(
                "the local and central headers of {name} disagree about a data descriptor"
            )));
        }
        let next = order
            .get(i + 1)
            .map_or(cd_offset, |n| n.header_offset.min(cd_offset));
        pos = if e.flags & FLAG_DESCRIPTOR == 0 {
            if lcsize != 0xffff_ffff && u64::from(lcsize) != e.compressed_size {
                return Err(bad(format!(
                    "the local and central headers of {name} disagree about its size"
                )));
            }
            data_end
        } else {
            data_end + descriptor(r, e, data_end, next)?
        };
    }
    if pos != cd_offset {
        return Err(bad(format!(
            "{} bytes between the last entry and the central directory",
            cd_offset - pos
        )));
    }
    Ok(())
}

/// The length of the data descriptor at `at`, which must end at `next`:
/// CRC and sizes (4 or 8 bytes each), optionally after `PK\x07\x08`.
fn descriptor<R: Read + Seek>(
    r: &mut R,
    e: &Entry,
    at: u64,
    next: u64,
) -> Result<u64, ArchiveError> {
    let room = next.saturating_sub(at);
    let fail = || {
        bad(format!(
            "the data descriptor of {} does not match the central directory or is not followed by the next entry",
            show(&e.name)
        ))
    };
    if !matches!(room, 12 | 16 | 20 | 24) {
        return Err(fail());
    }
    let d = read_at(r, at, room)?;
    // CRC, then sizes of 4 or 8 bytes; a CRC could equal the signature, so
    // the unsigned reading is tried too.
    let fits = |body: &[u8]| {
        let csize = match body.len() {
            12 => u64::from(u32_at(body, 4)),
            20 => u64_at(body, 4),
            _ => return false,
        };
        u32_at(body, 0) == e.crc && csize == e.compressed_size
    };
    if (&d[..4] == DD_SIG && fits(&d[4..])) || fits(&d) {
        Ok(room)
    } else {
        Err(fail())
    }
}

/// A read-only view of a zip that passed [`check`]: its bytes up to the
/// end record, with the record's comment length shown as 0, so that a zip
/// reader finds that record and no other.
pub struct ZipView<R> {
    inner: R,
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> ZipView<R> {
    pub fn new(inner: R, layout: &Layout) -> Self {
        ZipView {
            inner,
            len: layout.eocd + EOCD_LEN,
            pos: 0,
        }
    }

    /// Bytes the reader sees: up to and with the end record.
    pub fn visible_len(&self) -> u64 {
        self.len
    }
}

impl<R: Read + Seek> Read for ZipView<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.inner.seek(SeekFrom::Start(self.pos))?;
        let n = self.inner.read(&mut buf[..n])?;
        let comment_len_at = self.len - 2;
        for (k, b) in buf[..n].iter_mut().enumerate() {
            if self.pos + k as u64 >= comment_len_at {
                *b = 0;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for ZipView<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .filter(|t| *t <= self.len)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek outside the archive"))?;
        self.pos = target;
        Ok(target)
    }
}

/// Checks that the `zip` crate read the same entries as [`check`]: same
/// count, and for each index the same name, local header and size.
pub fn same_entries<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    layout: &Layout,
) -> Result<(), ArchiveError> {
    let differ = |what: String| {
        bad(format!(
            "the zip reader and the layout check disagree: {what}"
        ))
    };
    if zip.len() != layout.entries.len() {
        return Err(differ(format!(
            "{} entries against {}",
            zip.len(),
            layout.entries.len()
        )));
    }
    for (i, e) in layout.entries.iter().enumerate() {
        let f = zip.by_index_raw(i).map_err(|err| ArchiveError::Corrupt {
            detail: err.to_string(),
        })?;
        if f.name_raw() != e.name.as_slice()
            || f.header_start() != e.header_offset
            || f.compressed_size() != e.compressed_size
        {
            return Err(differ(format!("entry {i} ({})", show(&e.name))));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use std::path::Path;
    use std::process::Command;

    const MAX: u64 = 100_000;

    fn check_bytes(b: &[u8], bound: Option<Bound>) -> Result<Layout, ArchiveError> {
        check(&mut Cursor::new(b), b.len() as u64, bound, MAX)
    }

    fn layout_err(b: &[u8]) -> String {
        match check_bytes(b, None) {
            Err(ArchiveError::Layout { detail }) => detail,
            other => panic!("expected a layout error, got {other:?}"),
        }
    }

    /// A zip written by the `zip` crate: (name, data, deflated).
    fn crate_zip(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let o = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, data) in entries {
            w.start_file(*name, o).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn eocd_of(z: &[u8]) -> usize {
        z.windows(4).rposition(|w| w == EOCD_SIG).unwrap()
    }

    /// Inserts `junk` at `at` and moves every offset at or after it, so
    /// the zip stays self-consistent: the hard case for a layout check.
    fn splice(z: &[u8], at: usize, junk: &[u8]) -> Vec<u8> {
        let mut out = z[..at].to_vec();
        out.extend_from_slice(junk);
        out.extend_from_slice(&z[at..]);
        let e = eocd_of(&out);
        let shift = |v: u32| {
            if v as usize >= at {
                v + junk.len() as u32
            } else {
                v
            }
        };
        let cd = shift(u32_at(&out, e + 16));
        out[e + 16..e + 20].copy_from_slice(&cd.to_le_bytes());
        let mut p = cd as usize;
        for _ in 0..u16_at(&out, e + 10) {
            let off = shift(u32_at(&out, p + 42));
            out[p + 42..p + 46].copy_from_slice(&off.to_le_bytes());
            p += 46
                + usize::from(u16_at(&out, p + 28))
                + usize::from(u16_at(&out, p + 30))
                + usize::from(u16_at(&out, p + 32));
        }
        out
    }

    fn run(cmd: &mut Command) {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {out:?}");
    }

    fn python(script: &str, out: &Path) -> Vec<u8> {
        run(Command::new("python3").arg("-c").arg(script).arg(out));
        std::fs::read(out).unwrap()
    }

    fn names(l: &Layout) -> Vec<String> {
        l.entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    #[test]
    fn real_zips_pass() {
        let d = tempfile::tempdir().unwrap();
        // The zip crate, stored and deflated.
        for deflate in [false, true] {
            let z = crate_zip(&[("a", b"one"), ("dir/b", &[7u8; 5000])], deflate);
            let l = check_bytes(&z, None).unwrap();
            assert_eq!(names(&l), ["a", "dir/b"]);
            assert_eq!(l.entries[0].header_offset, 0);
            assert_eq!(l.end, z.len() as u64);
            assert_eq!(l.eocd, eocd_of(&z) as u64);
        }
        // Info-ZIP: plain, zip64 end records (-fz), and streamed to a pipe,
        // which writes data descriptors.
        std::fs::create_dir_all(d.path().join("src/pkg")).unwrap();
        std::fs::write(d.path().join("src/pkg/a"), "hello\n".repeat(100)).unwrap();
        std::fs::write(d.path().join("src/pkg/b"), "x").unwrap();
        for (name, flags) in [("plain.zip", "-qr"), ("z64.zip", "-qrfz")] {
            run(Command::new("zip")
                .current_dir(d.path().join("src"))
                .arg(flags)
                .arg(d.path().join(name))
                .arg("pkg"));
            let z = std::fs::read(d.path().join(name)).unwrap();
            let l = check_bytes(&z, None).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(l.entries.len(), 3, "{name}");
            if name == "z64.zip" {
                assert!(z.windows(4).any(|w| w == ZIP64_EOCD_SIG));
            }
        }
        let streamed = d.path().join("streamed.zip");
        run(Command::new("sh")
            .current_dir(d.path().join("src"))
            .arg("-c")
            .arg("zip -qr - pkg | cat > \"$1\"")
            .arg("sh")
            .arg(&streamed));
        let z = std::fs::read(&streamed).unwrap();
        let l = check_bytes(&z, None).unwrap();
        assert!(l.entries.iter().any(|e| e.flags & FLAG_DESCRIPTOR != 0));
        // Python's zipfile: seekable, streamed (descriptors), forced zip64
        // extras, and an empty archive.
        let py = python(
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   z.writestr('a.txt', 'hello' * 100)\n\
             \x20   z.mkdir('d')\n\
             \x20   with z.open('d/big', 'w', force_zip64=True) as f: f.write(b'x' * 1000)\n",
            &d.path().join("py.zip"),
        );
        assert_eq!(
            names(&check_bytes(&py, None).unwrap()),
            ["a.txt", "d/", "d/big"]
        );
        let py = python(
            "import sys, io, zipfile\n\
             class W(io.RawIOBase):\n\
             \x20   def __init__(s, f): s.f = f\n\
             \x20   def writable(s): return True\n\
             \x20   def write(s, b): return s.f.write(b)\n\
             with open(sys.argv[1], 'wb') as f:\n\
             \x20   with zipfile.ZipFile(W(f), 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20       z.writestr('a.txt', 'hello' * 100)\n\
             \x20       z.writestr('b.txt', '')\n",
            &d.path().join("pystream.zip"),
        );
        let l = check_bytes(&py, None).unwrap();
        assert!(l.entries.iter().all(|e| e.flags & FLAG_DESCRIPTOR != 0));
        assert!(py.windows(4).any(|w| w == DD_SIG));
        let empty = python(
            "import sys, zipfile\nzipfile.ZipFile(sys.argv[1], 'w').close()\n",
            &d.path().join("empty.zip"),
        );
        assert_eq!(empty.len(), 22);
        assert!(check_bytes(&empty, None).unwrap().entries.is_empty());
        assert!(
            check_bytes(&crate_zip(&[], false), None)
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[test]
    fn fixtures_pass() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let wheel =
            std::fs::read(root.join("sources/pypi/sampleproject-4.0.0-py3-none-any.whl")).unwrap();
        check_bytes(&wheel, None).unwrap();
        let unsigned = std::fs::read(root.join("mcpb/unsigned.mcpb")).unwrap();
        check_bytes(&unsigned, None).unwrap();
        // The signed bundle: a zip only up to the block its verifier finds.
        let path = root.join("mcpb/signed-mcpb-2.1.2.mcpb");
        let signed = std::fs::read(&path).unwrap();
        let bound = crate::archive::signed_zip::zip_bound(&mut std::fs::File::open(&path).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(bound.end, unsigned.len() as u64);
        let l = check_bytes(&signed, Some(bound)).unwrap();
        assert_eq!(l.entries, check_bytes(&unsigned, None).unwrap().entries);
        let d = layout_err(&signed);
        assert!(d.contains("data after the end"), "{d}");
    }

    #[test]
    fn data_outside_the_entries_is_refused() {
        let z = crate_zip(&[("a", b"one"), ("b", b"two")], false);
        let e = eocd_of(&z);
        let cd = u32_at(&z, e + 16) as usize;
        let second = u32_at(&z, cd + 46 + 1 + 42) as usize;
        assert!(second > 0);
        let cases: [(&str, Vec<u8>, &str); 5] = [
            (
                "prepended",
                splice(&z, 0, b"#!/bin/sh\n"),
                "before the first entry",
            ),
            (
                "between entries",
                splice(&z, second, b"JUNK"),
                "between entries",
            ),
            (
                "before the CD",
                splice(&z, cd, b"JUNK"),
                "between the last entry and the central directory",
            ),
            (
                "between CD and EOCD",
                splice(&z, e, b"JUNK"),
                "between the central directory and the end record",
            ),
            (
                "appended",
                [z.as_slice(), b"JUNK"].concat(),
                "data after the end",
            ),
        ];
        for (what, bytes, want) in cases {
            let d = layout_err(&bytes);
            assert!(d.contains(want), "{what}: {d}");
        }
        // A whole second zip after the first, as the zip crate would read it
        // (it takes the last end record and finds the archive's start).
        let hidden = crate_zip(&[("a", b"evil")], false);
        let both = [z.as_slice(), hidden.as_slice()].concat();
        assert!(zip::ZipArchive::new(Cursor::new(both.clone())).is_ok());
        let d = layout_err(&both);
        assert!(
            d.contains("between the central directory and the end record"),
            "{d}"
        );
        // With its offsets moved to fit, the first zip is data before it.
        let e2 = eocd_of(&both);
        let mut moved = both.clone();
        let cd2 = u32_at(&moved, e2 + 16) + z.len() as u32;
        moved[e2 + 16..e2 + 20].copy_from_slice(&cd2.to_le_bytes());
        let off = u32_at(&moved, cd2 as usize + 42) + z.len() as u32;
        moved[cd2 as usize + 42..cd2 as usize + 46].copy_from_slice(&off.to_le_bytes());
        let d = layout_err(&moved);
        assert!(d.contains("before the first entry"), "{d}");
    }

    #[test]
    fn a_second_end_record_is_refused() {
        let z = crate_zip(&[("a", b"one")], false);
        // In the comment: the zip's comment length covers a record that
        // could itself be the last one.
        let e = eocd_of(&z);
        let mut fake = z[e..].to_vec();
        fake[20..22].copy_from_slice(&100u16.to_le_bytes());
        fake.extend_from_slice(b"abc");
        let mut with = z.clone();
        with[e + 20..e + 22].copy_from_slice(&(fake.len() as u16).to_le_bytes());
        with.extend_from_slice(&fake);
        let d = layout_err(&with);
        assert!(d.contains("second end of central directory record"), "{d}");
        // Both reach the end of the file: ambiguous by construction.
        let mut two = with.clone();
        let n = two.len();
        two[n - 5..n - 3].copy_from_slice(&3u16.to_le_bytes());
        let d = layout_err(&two);
        assert!(d.contains("more than one end"), "{d}");
        // After a bound: in the caller's trailing bytes.
        let mut trailer = z.clone();
        trailer.extend_from_slice(b"MCPB_SIG_V1");
        trailer.extend_from_slice(&fake);
        let bound = Bound {
            eocd: e as u64,
            end: z.len() as u64,
        };
        let ArchiveError::Layout { detail } = check_bytes(&trailer, Some(bound)).unwrap_err()
        else {
            panic!()
        };
        assert!(detail.contains("second end"), "{detail}");
        // The same trailer without a record is the caller's business.
        let mut ok = z.clone();
        ok.extend_from_slice(b"MCPB_SIG_V1 anything MCPB_SIG_END");
        check_bytes(&ok, Some(bound)).unwrap();
        // A bound that is not where the record is.
        assert!(check_bytes(&ok, Some(Bound { eocd: 3, end: 25 })).is_err());
        assert!(
            check_bytes(
                &ok,
                Some(Bound {
                    eocd: e as u64,
                    end: e as u64 + 10
                })
            )
            .is_err()
        );
        assert!(
            check_bytes(
                &ok,
                Some(Bound {
                    eocd: e as u64,
                    end: u64::MAX
                })
            )
            .is_err()
        );
    }

    #[test]
    fn duplicate_names_after_normalisation() {
        for (a, b) in [
            ("a/b", "a/b"),
            ("a/b", "a//b"),
            ("a/b", "./a/b"),
            ("d/", "d"),
        ] {
            // The zip crate refuses duplicates on write; rename afterwards.
            let mut z = crate_zip(&[(a, b"1"), ("X".repeat(b.len()).as_str(), b"2")], false);
            let x = "X".repeat(b.len());
            for _ in 0..2 {
                let at = z.windows(x.len()).position(|w| w == x.as_bytes()).unwrap();
                z[at..at + x.len()].copy_from_slice(b.as_bytes());
            }
            let e = check_bytes(&z, None).unwrap_err();
            assert!(matches!(e, ArchiveError::Duplicate { .. }), "{a} {b}: {e}");
        }
        // Python's zipfile writes exact duplicates (with a warning).
        let d = tempfile::tempdir().unwrap();
        let z = python(
            "import sys, zipfile, warnings\nwarnings.simplefilter('ignore')\n\
             with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
             \x20   z.writestr('manifest.json', '{}')\n\
             \x20   z.writestr('manifest.json', '{\"evil\": 1}')\n",
            &d.path().join("dup.zip"),
        );
        assert!(matches!(
            check_bytes(&z, None),
            Err(ArchiveError::Duplicate { .. })
        ));
    }

    #[test]
    fn local_headers_must_match() {
        let z = crate_zip(&[("a", b"one"), ("b", b"two")], false);
        let mut renamed = z.clone();
        renamed[30] = b'c';
        assert!(layout_err(&renamed).contains("names another file"));
        let mut sig = z.clone();
        sig[0] = b'Q';
        assert!(layout_err(&sig).contains("no local header"));
        // The central directory claims a larger entry than the local one.
        let e = eocd_of(&z);
        let cd = u32_at(&z, e + 16) as usize;
        let mut size = z.clone();
        size[cd + 20] += 1;
        assert!(check_bytes(&size, None).is_err());
    }

    #[test]
    fn data_descriptors_must_match_and_be_followed() {
        let d = tempfile::tempdir().unwrap();
        let z = python(
            "import sys, io, zipfile\n\
             class W(io.RawIOBase):\n\
             \x20   def __init__(s, f): s.f = f\n\
             \x20   def writable(s): return True\n\
             \x20   def write(s, b): return s.f.write(b)\n\
             with open(sys.argv[1], 'wb') as f:\n\
             \x20   with zipfile.ZipFile(W(f), 'w') as z:\n\
             \x20       z.writestr('a', 'one')\n\
             \x20       z.writestr('b', 'two')\n",
            &d.path().join("s.zip"),
        );
        check_bytes(&z, None).unwrap();
        let dd = z.windows(4).position(|w| w == DD_SIG).unwrap();
        // Its CRC or its size changed: it no longer matches.
        for at in [dd + 4, dd + 8] {
            let mut b = z.clone();
            b[at] ^= 1;
            assert!(layout_err(&b).contains("data descriptor"), "{at}");
        }
        // Bytes after it, before the next entry.
        let d = layout_err(&splice(&z, dd + 16, b"JUNK"));
        assert!(d.contains("data descriptor"), "{d}");
    }

    #[test]
    fn hostile_numbers_are_errors_not_panics() {
        let z = crate_zip(&[("a", b"one"), ("dir/b", b"two")], true);
        let e = eocd_of(&z);
        let set = |at: usize, v: &[u8]| {
            let mut b = z.clone();
            b[at..at + v.len()].copy_from_slice(v);
            b
        };
        // Counts far beyond the limit, or beyond what the directory holds.
        let many = set(e + 8, &[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            check(&mut Cursor::new(&many), many.len() as u64, None, 10),
            Err(ArchiveError::TooManyEntries { limit: 10 })
        ));
        assert!(check_bytes(&many, None).is_err());
        for (at, v) in [
            (e + 12, &[0xff, 0xff, 0xff, 0xff][..]),
            (e + 16, &[0xff, 0xff, 0xff, 0xff]),
            (e + 16, &[0xfe, 0xff, 0xff, 0xff]),
            (e + 4, &[1, 0]),
        ] {
            assert!(check_bytes(&set(at, v), None).is_err(), "{at}");
        }
        // A central header whose offset and sizes are at the top of u64
        // through a zip64 extra field.
        let cd = u32_at(&z, e + 16) as usize;
        let mut b = set(cd + 42, &[0xff; 4]);
        b[cd + 20..cd + 28].copy_from_slice(&[0xff; 8]);
        assert!(check_bytes(&b, None).is_err());
        // A zip64 locator and record with absurd values.
        let mut z64 = z[..e].to_vec();
        let rec_at = z64.len() as u64;
        z64.extend_from_slice(ZIP64_EOCD_SIG);
        z64.extend_from_slice(&44u64.to_le_bytes());
        z64.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for _ in 0..4 {
            z64.extend_from_slice(&u64::MAX.to_le_bytes());
        }
        z64.extend_from_slice(LOCATOR_SIG);
        z64.extend_from_slice(&0u32.to_le_bytes());
        z64.extend_from_slice(&rec_at.to_le_bytes());
        z64.extend_from_slice(&1u32.to_le_bytes());
        let mut end = z[e..].to_vec();
        end[8..20].copy_from_slice(&[0xff; 12]);
        z64.extend_from_slice(&end);
        assert!(check_bytes(&z64, None).is_err());
        let n = z64.len();
        for v in [u64::MAX, u64::MAX - 10, n as u64] {
            let mut b = z64.clone();
            b[n - 22 - 12..n - 22 - 4].copy_from_slice(&v.to_le_bytes());
            assert!(check_bytes(&b, None).is_err());
        }
    }

    #[test]
    fn truncations_and_byte_flips_never_panic() {
        let z = crate_zip(&[("a", b"one"), ("dir/b", &[9u8; 300])], true);
        for cut in 0..z.len() {
            assert!(check_bytes(&z[..cut], None).is_err(), "cut at {cut}");
        }
        for at in 0..z.len() {
            for v in [0x00, 0xff, z[at] ^ 0x01] {
                let mut b = z.clone();
                b[at] = v;
                let _ = check_bytes(&b, None);
                let _ = check_bytes(
                    &b,
                    Some(Bound {
                        eocd: eocd_of(&z) as u64,
                        end: z.len() as u64,
                    }),
                );
            }
        }
    }
}
