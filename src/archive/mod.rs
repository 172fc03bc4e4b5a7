//! Safe extraction of tar.gz and zip archives into a fresh directory.
//!
//! Archives are hostile input: every path is checked before anything is
//! written, sizes are counted while writing (headers are not trusted),
//! and the output is bounded in entries, bytes and compression ratio.
//! A zip's layout is checked first ([`zip_layout`]) and the zip reader is
//! shown only the zip that check accepted (for a signed `.mcpb`, the bytes
//! its signature covers). Symlinks are created only once everything else
//! is written, so no write can ever pass through one. On error the
//! destination is left partially written: the caller extracts into a
//! temporary directory and removes it (see `cache::Cache::unpack`).

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub mod signed_zip;
pub mod zip_layout;

pub use zip_layout::Bound as ZipBound;

/// Archive formats, told apart by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    TarGz,
    Zip,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::TarGz => "tar.gz",
            Kind::Zip => "zip",
        }
    }
}

/// The format of an archive from its first bytes: gzip (`1f 8b`) is taken
/// to be tar.gz, `PK\x03\x04` (or `PK\x05\x06`, an empty zip) a zip.
/// The extension is not consulted: a name can lie, and the extractor for
/// the wrong format would only fail later and less clearly.
pub fn kind_of(magic: &[u8]) -> Option<Kind> {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Some(Kind::TarGz)
    } else if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        Some(Kind::Zip)
    } else {
        None
    }
}

/// [`kind_of`] on the first bytes of a file.
pub fn kind_of_file(path: &Path) -> io::Result<Option<Kind>> {
    let mut f = File::open(path)?;
    let mut buf = [0u8; 4];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(kind_of(&buf[..n]))
}

/// Bounds on what one archive may produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Entries of any kind (files, directories, links, tar metadata).
    pub max_entries: u64,
    /// Bytes written in all (hard-link copies included); for tar.gz also
    /// the whole decompressed stream, headers included.
    pub max_total_bytes: u64,
    /// Uncompressed bytes per compressed byte, checked as the bytes come
    /// once more than [`RATIO_GRACE`] bytes were produced.
    pub max_ratio: u64,
    /// Bytes of one file.
    pub max_entry_bytes: u64,
    /// Whether each file is fsynced as it is written. Off where the caller
    /// makes the whole result durable at once ([`crate::cache::Cache::put_built`]):
    /// one fsync per file of an npm tree (4,500 of them) costs a second.
    pub fsync_each: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 100_000,
            max_total_bytes: 2 << 30,
            max_ratio: 200,
            max_entry_bytes: 1 << 30,
            fsync_each: true,
        }
    }
}

/// Output allowed before the ratio is enforced: tiny archives of
/// repetitive text compress far better than 200:1 and are harmless.
pub const RATIO_GRACE: u64 = 1 << 20;
/// Tar metadata (GNU long names, pax headers, skipped padding) read
/// between two entries; the tar crate buffers it whole, so it is bounded.
const HEADER_BUDGET: u64 = 1 << 20;
const BUF: usize = 64 * 1024;

/// What an extraction produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Bytes written to files.
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the archive is damaged or truncated: {detail}")]
    Corrupt { detail: String },
    #[error("archive entry {entry}: unsafe path ({reason})")]
    UnsafePath { entry: String, reason: &'static str },
    #[error("archive entry {entry}: link to {target} refused ({reason})")]
    UnsafeLink {
        entry: String,
        target: String,
        reason: &'static str,
    },
    #[error("archive entry {entry}: {what} entries are not extracted")]
    Unsupported { entry: String, what: &'static str },
    #[error("archive entry {entry} appears twice or clashes with another entry")]
    Duplicate { entry: String },
    #[error("archive entry {entry} is encrypted")]
    Encrypted { entry: String },
    #[error("the archive has more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("the archive unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("archive entry {entry} is larger than {limit} bytes")]
    EntryTooLarge { entry: String, limit: u64 },
    #[error("the archive expands more than {limit} times its compressed size (a zip or gzip bomb)")]
    Ratio { limit: u64 },
    #[error("archive metadata between entries exceeds {limit} bytes")]
    HeaderTooLarge { limit: u64 },
    #[error(
        "the zip holds data outside its entries or records a reader could read another way: {detail}"
    )]
    Layout { detail: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl crate::diag::Diagnose for ArchiveError {
    fn code(&self) -> crate::diag::Code {
        crate::diag::Code::ArchiveUnsafe
    }

    fn hint(&self) -> Option<String> {
        let hint = match self {
            ArchiveError::Corrupt { .. } => {
                "download the artifact again; if it stays broken, the publisher's file is bad"
            }
            ArchiveError::UnsafePath { .. }
            | ArchiveError::UnsafeLink { .. }
            | ArchiveError::Unsupported { .. }
            | ArchiveError::Duplicate { .. } => {
                "the archive tries to write outside its directory or create special files; do not use it, and report it to the publisher"
            }
            ArchiveError::Encrypted { .. } => "encrypted archives are not supported",
            ArchiveError::Layout { .. } => {
                "a zip must hold only its entries, packed from its first byte, so that every reader sees the same files; do not use this one, and report it to the publisher"
            }
            ArchiveError::TooManyEntries { .. }
            | ArchiveError::TooLarge { .. }
            | ArchiveError::EntryTooLarge { .. }
            | ArchiveError::Ratio { .. }
            | ArchiveError::HeaderTooLarge { .. } => {
                "the archive is far larger than an MCP server should be; treat it as hostile unless the publisher explains"
            }
            ArchiveError::Io { .. } => "check that the cache directory is writable and has space",
        };
        Some(hint.to_string())
    }
}

impl ArchiveError {
    fn io(path: &Path, source: io::Error) -> Self {
        ArchiveError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn corrupt(e: impl std::fmt::Display) -> Self {
        ArchiveError::Corrupt {
            detail: e.to_string(),
        }
    }
}

/// Extracts `archive` into `dest`, which must not exist yet (its parent
/// must). Paths are kept as they are in the archive (npm's `package/`
/// prefix included).
pub fn extract(
    archive: &Path,
    kind: Kind,
    dest: &Path,
    limits: &Limits,
) -> Result<Summary, ArchiveError> {
    let file = File::open(archive).map_err(|e| ArchiveError::io(archive, e))?;
    extract_file(file, kind, dest, limits)
}

/// [`extract`] from a file already open; its bytes are all there is. A zip
/// that ends with a `.mcpb` signature block is read only up to where the
/// signature's verifier says the signed zip ends (the block's validity is
/// the verifier's business, not checked here; a block that does not add
/// up is refused).
pub fn extract_file(
    mut file: File,
    kind: Kind,
    dest: &Path,
    limits: &Limits,
) -> Result<Summary, ArchiveError> {
    // The zip's layout is checked before anything is written.
    let layout = match kind {
        Kind::Zip => {
            let bound = signed_zip::zip_bound(&mut file).map_err(|e| ArchiveError::Layout {
                detail: format!(
                    "the file ends with a .mcpb signature block that does not add up: {e}"
                ),
            })?;
            let len = file
                .metadata()
                .map_err(|e| ArchiveError::corrupt(format!("cannot read the archive: {e}")))?
                .len();
            Some(zip_layout::check(
                &mut file,
                len,
                bound,
                limits.max_entries,
            )?)
        }
        Kind::TarGz => None,
    };
    file.seek(io::SeekFrom::Start(0))
        .map_err(|e| ArchiveError::corrupt(format!("cannot read the archive: {e}")))?;
    fs::create_dir(dest).map_err(|e| ArchiveError::io(dest, e))?;
    set_mode(dest, 0o755)?;
    let mut w = Writer::new(dest, limits);
    match layout {
        None => extract_tar_gz(file, &mut w)?,
        Some(layout) => extract_zip(file, &layout, &mut w)?,
    }
    w.finish()
}

/// Shared between the byte counters under and over the gzip decoder and
/// the extraction loop, so a limit tripped inside the tar reader is
/// reported as that limit, not as the I/O error the reader had to return.
struct Meter {
    compressed: Cell<u64>,
    stream: Cell<u64>,
    in_header: Cell<bool>,
    header_bytes: Cell<u64>,
    tripped: Cell<Option<Trip>>,
    limits: Limits,
}

#[derive(Debug, Clone, Copy)]
enum Trip {
    Total,
    Ratio,
    Header,
}

struct CountCompressed<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for CountCompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter
            .compressed
            .set(self.meter.compressed.get() + n as u64);
        Ok(n)
    }
}

struct CountStream<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for CountStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let m = &self.meter;
        if let Some(t) = m.tripped.get() {
            return Err(io::Error::other(format!("limit exceeded: {t:?}")));
        }
        let n = self.inner.read(buf)?;
        let total = m.stream.get() + n as u64;
        m.stream.set(total);
        let trip = if total > m.limits.max_total_bytes {
            Some(Trip::Total)
        } else if total > RATIO_GRACE
            && total > m.compressed.get().saturating_mul(m.limits.max_ratio)
        {
            Some(Trip::Ratio)
        } else if m.in_header.get() {
            let h = m.header_bytes.get() + n as u64;
            m.header_bytes.set(h);
            (h > HEADER_BUDGET).then_some(Trip::Header)
        } else {
            None
        };
        if let Some(t) = trip {
            m.tripped.set(Some(t));
            return Err(io::Error::other(format!("limit exceeded: {t:?}")));
        }
        Ok(n)
    }
}

impl Meter {
    fn error(&self, fallback: impl FnOnce() -> ArchiveError) -> ArchiveError {
        match self.tripped.get() {
            Some(Trip::Total) => ArchiveError::TooLarge {
                limit: self.limits.max_total_bytes,
            },
            Some(Trip::Ratio) => ArchiveError::Ratio {
                limit: self.limits.max_ratio,
            },
            Some(Trip::Header) => ArchiveError::HeaderTooLarge {
                limit: HEADER_BUDGET,
            },
            None => fallback(),
        }
    }
}

fn extract_tar_gz(file: File, w: &mut Writer<'_>) -> Result<(), ArchiveError> {
    let meter = Rc::new(Meter {
        compressed: Cell::new(0),
        stream: Cell::new(0),
        in_header: Cell::new(false),
        header_bytes: Cell::new(0),
        tripped: Cell::new(None),
        limits: w.limits.clone(),
    });
    let gz = flate2::read::GzDecoder::new(CountCompressed {
        inner: io::BufReader::with_capacity(BUF, file),
        meter: Rc::clone(&meter),
    });
    let mut ar = tar::Archive::new(CountStream {
        inner: gz,
        meter: Rc::clone(&meter),
    });
    {
        let mut entries = ar
            .entries()
            .map_err(|e| meter.error(|| ArchiveError::corrupt(e)))?;
        loop {
            meter.in_header.set(true);
            meter.header_bytes.set(0);
            let next = entries.next();
            meter.in_header.set(false);
            let mut entry = match next {
                None => break,
                Some(Ok(e)) => e,
                Some(Err(e)) => return Err(meter.error(|| ArchiveError::corrupt(e))),
            };
            w.count_entry()?;
            let raw = entry.path_bytes().into_owned();
            let ty = entry.header().entry_type();
            if ty.is_pax_global_extensions() {
                continue;
            }
            let rel = clean_path(&raw)?;
            if ty.is_file() || ty.is_contiguous() {
                let mode = entry.header().mode().map_err(ArchiveError::corrupt)?;
                let declared = entry.size();
                let comp = || meter.compressed.get();
                let n = w
                    .file(&raw, &rel, mode & 0o111 != 0, declared, &mut entry, &comp)
                    .map_err(|e| match e {
                        ArchiveError::Corrupt { .. } => meter.error(|| e),
                        e => e,
                    })?;
                if n != declared {
                    return Err(ArchiveError::Corrupt {
                        detail: format!("{} ends early", show(&raw)),
                    });
                }
            } else if ty.is_dir() {
                w.dir(&raw, &rel)?;
            } else if ty.is_symlink() {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                w.symlink(&raw, &rel, target)?;
            } else if ty.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let comp = || meter.compressed.get();
                w.hard_link(&raw, &rel, &target, &comp)?;
            } else {
                let what = if ty.is_character_special() {
                    "character device"
                } else if ty.is_block_special() {
                    "block device"
                } else if ty.is_fifo() {
                    "fifo"
                } else if ty.is_gnu_sparse() {
                    "sparse file"
                } else {
                    "unknown type"
                };
                return Err(ArchiveError::Unsupported {
                    entry: show(&raw),
                    what,
                });
            }
        }
    }
    // Read to the end of the gzip stream so its CRC and length trailer are
    // checked: a tarball cut after the tar end marker is still refused.
    let mut rest = ar.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| meter.error(|| ArchiveError::corrupt(e)))?;
    Ok(())
}

/// Counts the bytes read from the zip file, to hold inflated output to
/// the compressed input actually consumed.
struct CountSeek<R> {
    inner: R,
    n: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountSeek<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get() + k as u64);
        Ok(k)
    }
}

impl<R: io::Seek> io::Seek for CountSeek<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Extracts exactly the zip that [`zip_layout::check`] accepted: the
/// `zip` crate reads through a window that ends at the end record the
/// check used, from offset 0, and must see the same entries.
fn extract_zip(
    file: File,
    layout: &zip_layout::Layout,
    w: &mut Writer<'_>,
) -> Result<(), ArchiveError> {
    let view = zip_layout::ZipView::new(file, layout);
    let archive_len = view.visible_len();
    let consumed = Rc::new(Cell::new(0u64));
    let counted = CountSeek {
        inner: view,
        n: Rc::clone(&consumed),
    };
    let config = zip::read::Config {
        archive_offset: zip::read::ArchiveOffset::Known(0),
    };
    let mut zip = zip::ZipArchive::with_config(config, io::BufReader::with_capacity(BUF, counted))
        .map_err(ArchiveError::corrupt)?;
    zip_layout::same_entries(&mut zip, layout)?;
    // Output may grow with the compressed bytes read so far, but never
    // with more than the file: entries that overlap the same data (a
    // "non-recursive" zip bomb) re-read it, and must not earn twice.
    let budget = || consumed.get().min(archive_len);
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(ArchiveError::corrupt)?;
        w.count_entry()?;
        let raw = f.name_raw().to_vec();
        if raw.contains(&b'\\') {
            return Err(ArchiveError::UnsafePath {
                entry: show(&raw),
                reason: "backslash in a zip name",
            });
        }
        if f.encrypted() {
            return Err(ArchiveError::Encrypted { entry: show(&raw) });
        }
        let rel = clean_path(&raw)?;
        let unix = f.unix_mode();
        let fmt = unix.map(|m| m & 0o170_000).unwrap_or(0);
        if f.is_symlink() || fmt == 0o120_000 {
            return Err(ArchiveError::UnsafeLink {
                entry: show(&raw),
                target: String::new(),
                reason: "symlinks in zip archives are not extracted",
            });
        }
        match fmt {
            0 | 0o100_000 | 0o040_000 => {}
            0o020_000 | 0o060_000 => {
                return Err(ArchiveError::Unsupported {
                    entry: show(&raw),
                    what: "device",
                });
            }
            0o010_000 => {
                return Err(ArchiveError::Unsupported {
                    entry: show(&raw),
                    what: "fifo",
                });
            }
            _ => {
                return Err(ArchiveError::Unsupported {
                    entry: show(&raw),
                    what: "special file",
                });
            }
        }
        if f.is_dir() || fmt == 0o040_000 {
            w.dir(&raw, &rel)?;
            continue;
        }
        let declared = f.size();
        let exec = unix.is_some_and(|m| m & 0o111 != 0);
        let n = w.file(&raw, &rel, exec, declared, &mut f, &budget)?;
        if n != declared {
            return Err(ArchiveError::Corrupt {
                detail: format!(
                    "{} has {n} bytes where the archive says {declared}",
                    show(&raw)
                ),
            });
        }
    }
    Ok(())
}

/// Writes entries under `dest`, keeping track of what exists so that no
/// entry replaces or passes through another.
struct Writer<'a> {
    dest: &'a Path,
    limits: &'a Limits,
    summary: Summary,
    files: HashSet<PathBuf>,
    dirs: HashSet<PathBuf>,
    links: Vec<(Vec<u8>, PathBuf, Vec<u8>)>,
    link_set: HashSet<PathBuf>,
}

impl<'a> Writer<'a> {
    fn new(dest: &'a Path, limits: &'a Limits) -> Self {
        Writer {
            dest,
            limits,
            summary: Summary::default(),
            files: HashSet::new(),
            dirs: HashSet::new(),
            links: Vec::new(),
            link_set: HashSet::new(),
        }
    }

    fn count_entry(&mut self) -> Result<(), ArchiveError> {
        self.summary.entries += 1;
        if self.summary.entries > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// Refuses a new non-directory entry at `rel` that already exists, or
    /// that lies under a file or symlink; creates the parent directories.
    fn prepare(&mut self, raw: &[u8], rel: &Path) -> Result<(), ArchiveError> {
        if rel.as_os_str().is_empty()
            || self.files.contains(rel)
            || self.dirs.contains(rel)
            || self.link_set.contains(rel)
        {
            return Err(ArchiveError::Duplicate { entry: show(raw) });
        }
        self.make_parents(raw, rel)
    }

    fn make_parents(&mut self, raw: &[u8], rel: &Path) -> Result<(), ArchiveError> {
        let mut cur = PathBuf::new();
        let parents: Vec<_> = rel
            .parent()
            .map(|p| p.components().collect())
            .unwrap_or_default();
        for c in parents {
            cur.push(c);
            if self.files.contains(&cur) || self.link_set.contains(&cur) {
                return Err(ArchiveError::Duplicate { entry: show(raw) });
            }
            if self.dirs.insert(cur.clone()) {
                let p = self.dest.join(&cur);
                fs::create_dir(&p).map_err(|e| ArchiveError::io(&p, e))?;
                set_mode(&p, 0o755)?;
            }
        }
        Ok(())
    }

    fn dir(&mut self, raw: &[u8], rel: &Path) -> Result<(), ArchiveError> {
        if rel.as_os_str().is_empty() || self.dirs.contains(rel) {
            return Ok(());
        }
        if self.files.contains(rel) || self.link_set.contains(rel) {
            return Err(ArchiveError::Duplicate { entry: show(raw) });
        }
        self.make_parents(raw, rel)?;
        let p = self.dest.join(rel);
        fs::create_dir(&p).map_err(|e| ArchiveError::io(&p, e))?;
        set_mode(&p, 0o755)?;
        self.dirs.insert(rel.to_path_buf());
        self.summary.dirs += 1;
        Ok(())
    }

    /// Writes one file from `data`, counting bytes as they are written;
    /// returns how many were written.
    fn file(
        &mut self,
        raw: &[u8],
        rel: &Path,
        exec: bool,
        declared: u64,
        data: &mut dyn Read,
        compressed: &dyn Fn() -> u64,
    ) -> Result<u64, ArchiveError> {
        if declared > self.limits.max_entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                entry: show(raw),
                limit: self.limits.max_entry_bytes,
            });
        }
        self.prepare(raw, rel)?;
        let p = self.dest.join(rel);
        let mut out = create_new(&p)?;
        self.files.insert(rel.to_path_buf());
        self.summary.files += 1;
        let n = self.copy(raw, data, &mut out, &p, compressed)?;
        if self.limits.fsync_each {
            out.sync_all().map_err(|e| ArchiveError::io(&p, e))?;
        }
        set_mode(&p, if exec { 0o755 } else { 0o644 })?;
        Ok(n)
    }

    fn copy(
        &mut self,
        raw: &[u8],
        data: &mut dyn Read,
        out: &mut File,
        p: &Path,
        compressed: &dyn Fn() -> u64,
    ) -> Result<u64, ArchiveError> {
        let mut buf = vec![0u8; BUF];
        let mut n = 0u64;
        loop {
            let k = match data.read(&mut buf) {
                Ok(0) => return Ok(n),
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ArchiveError::corrupt(format!("{}: {e}", show(raw)))),
            };
            n += k as u64;
            self.summary.bytes += k as u64;
            if n > self.limits.max_entry_bytes {
                return Err(ArchiveError::EntryTooLarge {
                    entry: show(raw),
                    limit: self.limits.max_entry_bytes,
                });
            }
            if self.summary.bytes > self.limits.max_total_bytes {
                return Err(ArchiveError::TooLarge {
                    limit: self.limits.max_total_bytes,
                });
            }
            if self.summary.bytes > RATIO_GRACE
                && self.summary.bytes > compressed().saturating_mul(self.limits.max_ratio)
            {
                return Err(ArchiveError::Ratio {
                    limit: self.limits.max_ratio,
                });
            }
            out.write_all(&buf[..k])
                .map_err(|e| ArchiveError::io(p, e))?;
        }
    }

    /// A tar hard link: only to a regular file written earlier, and made
    /// as a copy so that the tree holds no shared inodes.
    fn hard_link(
        &mut self,
        raw: &[u8],
        rel: &Path,
        target: &[u8],
        compressed: &dyn Fn() -> u64,
    ) -> Result<(), ArchiveError> {
        let bad = |reason| ArchiveError::UnsafeLink {
            entry: show(raw),
            target: show(target),
            reason,
        };
        let t = clean_path(target).map_err(|_| bad("target path is unsafe"))?;
        if !self.files.contains(&t) {
            return Err(bad("target is not a regular file extracted earlier"));
        }
        let src_path = self.dest.join(&t);
        let mut src = File::open(&src_path).map_err(|e| ArchiveError::io(&src_path, e))?;
        self.prepare(raw, rel)?;
        let p = self.dest.join(rel);
        let mut out = create_new(&p)?;
        self.files.insert(rel.to_path_buf());
        self.summary.files += 1;
        self.copy(raw, &mut src, &mut out, &p, compressed)?;
        if self.limits.fsync_each {
            out.sync_all().map_err(|e| ArchiveError::io(&p, e))?;
        }
        let mode = fs::metadata(&src_path)
            .map_err(|e| ArchiveError::io(&src_path, e))?
            .permissions();
        fs::set_permissions(&p, mode).map_err(|e| ArchiveError::io(&p, e))?;
        Ok(())
    }

    fn symlink(&mut self, raw: &[u8], rel: &Path, target: Vec<u8>) -> Result<(), ArchiveError> {
        self.prepare(raw, rel)?;
        self.link_set.insert(rel.to_path_buf());
        self.links.push((raw.to_vec(), rel.to_path_buf(), target));
        Ok(())
    }

    /// Creates the symlinks, now that the set of them is final.
    fn finish(self) -> Result<Summary, ArchiveError> {
        let mut summary = self.summary;
        for (raw, rel, target) in &self.links {
            check_link(rel, target, &self.link_set).map_err(|reason| ArchiveError::UnsafeLink {
                entry: show(raw),
                target: show(target),
                reason,
            })?;
            let p = self.dest.join(rel);
            make_symlink(target, &p)?;
            summary.symlinks += 1;
        }
        Ok(summary)
    }
}

/// Checks a symlink target, resolved lexically from the link's directory:
/// it must be relative, stay inside the root, and never step back (`..`)
/// out of a path that passes through another symlink, where the physical
/// parent differs from the lexical one.
pub(crate) fn check_link(
    link: &Path,
    target: &[u8],
    links: &HashSet<PathBuf>,
) -> Result<(), &'static str> {
    if target.is_empty() {
        return Err("empty target");
    }
    if target.contains(&0) {
        return Err("NUL byte in target");
    }
    if target.starts_with(b"/") {
        return Err("absolute target");
    }
    let mut stack: Vec<PathBuf> = Vec::new();
    let mut cur = PathBuf::new();
    if let Some(parent) = link.parent() {
        for c in parent.components() {
            cur.push(c);
            stack.push(cur.clone());
        }
    }
    for comp in target.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if stack.iter().any(|p| links.contains(p)) {
                    return Err("`..` after a symlink");
                }
                if stack.pop().is_none() {
                    return Err("target leaves the archive root");
                }
            }
            name => {
                let mut next = stack.last().cloned().unwrap_or_default();
                next.push(bytes_to_path(name).ok_or("target is not valid UTF-8")?);
                stack.push(next);
            }
        }
    }
    Ok(())
}

/// The entry's path as a relative path of plain components (`.` and empty
/// components dropped); empty for the archive root itself.
pub(crate) fn clean_path(raw: &[u8]) -> Result<PathBuf, ArchiveError> {
    let bad = |reason| ArchiveError::UnsafePath {
        entry: show(raw),
        reason,
    };
    if raw.is_empty() {
        return Err(bad("empty name"));
    }
    if raw.contains(&0) {
        return Err(bad("NUL byte"));
    }
    if raw.starts_with(b"/") {
        return Err(bad("absolute path"));
    }
    let mut out = PathBuf::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err(bad("`..` component")),
            name => out.push(bytes_to_path(name).ok_or_else(|| bad("not valid UTF-8"))?),
        }
    }
    // Belt and braces: whatever the platform makes of the bytes, only
    // plain components may remain.
    if !out
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err(bad("path does not normalise to a plain relative path"));
    }
    Ok(out)
}

#[cfg(unix)]
fn bytes_to_path(b: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(b)))
}

#[cfg(not(unix))]
fn bytes_to_path(b: &[u8]) -> Option<PathBuf> {
    std::str::from_utf8(b).ok().map(PathBuf::from)
}

/// An entry name for messages: lossy UTF-8, control characters escaped,
/// cut at 200 characters.
pub(crate) fn show(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    format!("`{}`", crate::text::quoted(&s, 200))
}

/// Opens a new file; never follows or replaces an existing path.
fn create_new(p: &Path) -> Result<File, ArchiveError> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    o.open(p).map_err(|e| ArchiveError::io(p, e))
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) -> Result<(), ArchiveError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(|e| ArchiveError::io(p, e))
}

#[cfg(not(unix))]
fn set_mode(_p: &Path, _mode: u32) -> Result<(), ArchiveError> {
    Ok(())
}

#[cfg(unix)]
fn make_symlink(target: &[u8], p: &Path) -> Result<(), ArchiveError> {
    let t = bytes_to_path(target).unwrap_or_default();
    std::os::unix::fs::symlink(t, p).map_err(|e| ArchiveError::io(p, e))
}

#[cfg(not(unix))]
fn make_symlink(target: &[u8], p: &Path) -> Result<(), ArchiveError> {
    Err(ArchiveError::Unsupported {
        entry: format!("{} -> {}", p.display(), show(target)),
        what: "symlink",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    use tar::{EntryType, Header};

    type Tgz = tar::Builder<flate2::write::GzEncoder<File>>;

    fn tgz(path: &Path, build: impl FnOnce(&mut Tgz)) {
        let f = File::create(path).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        let mut b = tar::Builder::new(gz);
        build(&mut b);
        b.into_inner().unwrap().finish().unwrap();
    }

    /// A header with the path bytes set directly: the builder refuses
    /// `..` and absolute paths, an attacker's tool does not.
    fn raw(path: &[u8], ty: EntryType, size: u64, link: Option<&[u8]>) -> Header {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..path.len()].copy_from_slice(path);
        h.set_entry_type(ty);
        h.set_size(size);
        h.set_mode(0o644);
        if let Some(l) = link {
            h.set_link_name_literal(l).unwrap();
        }
        h.set_cksum();
        h
    }

    fn file(b: &mut Tgz, path: &[u8], data: &[u8]) {
        b.append(
            &raw(path, EntryType::Regular, data.len() as u64, None),
            data,
        )
        .unwrap();
    }

    fn run(cmd: &mut Command) {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {out:?}");
    }

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// Every path under `root`, relative, sorted.
    fn listing(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                out.push(p.strip_prefix(root).unwrap().display().to_string());
                if fs::symlink_metadata(&p).unwrap().is_dir() {
                    stack.push(p);
                }
            }
        }
        out.sort();
        out
    }

    struct T {
        dir: tempfile::TempDir,
    }

    impl T {
        fn new() -> T {
            T {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn p(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
        /// Extracts into `<tmp>/out/dest`, so anything escaping one or
        /// two levels up lands where the test can see it.
        fn extract(
            &self,
            archive: &Path,
            kind: Kind,
            limits: &Limits,
        ) -> Result<Summary, ArchiveError> {
            let _ = fs::create_dir(self.p("out"));
            extract(archive, kind, &self.p("out/dest"), limits)
        }
        fn outside(&self) -> Vec<String> {
            listing(&self.p("out"))
                .into_iter()
                .filter(|p| !p.starts_with("dest"))
                .collect()
        }
    }

    #[test]
    fn kind_by_magic_not_name() {
        assert_eq!(kind_of(&[0x1f, 0x8b, 8, 0]), Some(Kind::TarGz));
        assert_eq!(kind_of(b"PK\x03\x04"), Some(Kind::Zip));
        assert_eq!(kind_of(b"PK\x05\x06"), Some(Kind::Zip));
        assert_eq!(kind_of(b"ustar"), None);
        assert_eq!(kind_of(b""), None);
        let t = T::new();
        fs::write(t.p("x.zip"), [0x1f, 0x8b, 8, 0, 0]).unwrap();
        assert_eq!(kind_of_file(&t.p("x.zip")).unwrap(), Some(Kind::TarGz));
    }

    #[test]
    fn tar_cli_archive_extracts_with_modes_normalised() {
        let t = T::new();
        let src = t.p("src/package");
        fs::create_dir_all(src.join("bin")).unwrap();
        fs::write(src.join("index.js"), "module.exports = 1;\n").unwrap();
        fs::write(src.join("bin/cli"), "#!/bin/sh\n").unwrap();
        fs::write(src.join("suid"), "x").unwrap();
        fs::write(src.join("sgid"), "y").unwrap();
        fs::set_permissions(src.join("bin/cli"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(src.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::set_permissions(src.join("sgid"), fs::Permissions::from_mode(0o2640)).unwrap();
        fs::set_permissions(src.join("bin"), fs::Permissions::from_mode(0o700)).unwrap();
        let a = t.p("a.tgz");
        run(Command::new("tar")
            .arg("-C")
            .arg(t.p("src"))
            .arg("-czf")
            .arg(&a)
            .arg("package"));
        assert_eq!(kind_of_file(&a).unwrap(), Some(Kind::TarGz));
        let s = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap();
        let d = t.p("out/dest/package");
        assert_eq!(
            fs::read_to_string(d.join("index.js")).unwrap(),
            "module.exports = 1;\n"
        );
        assert_eq!(mode(&d.join("index.js")), 0o644);
        assert_eq!(mode(&d.join("bin/cli")), 0o755);
        assert_eq!(mode(&d.join("suid")), 0o755, "setuid bit must be dropped");
        assert_eq!(mode(&d.join("sgid")), 0o644, "setgid bit must be dropped");
        assert_eq!(mode(&d.join("bin")), 0o755);
        assert_eq!(s.files, 4);
        assert_eq!(s.bytes, 20 + 10 + 2);
    }

    #[test]
    fn refuses_parent_and_absolute_paths() {
        for name in [
            &b"../evil"[..],
            b"a/../../evil",
            b"/tmp/mcp-warden-test-abs-evil",
            b"a/./../evil",
        ] {
            let t = T::new();
            let a = t.p("a.tgz");
            tgz(&a, |b| {
                file(b, b"ok", b"fine");
                file(b, name, b"pwned");
            });
            let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
            assert!(
                matches!(e, ArchiveError::UnsafePath { .. }),
                "{name:?}: {e}"
            );
            assert!(t.outside().is_empty(), "{:?}", t.outside());
        }
        assert!(!Path::new("/tmp/mcp-warden-test-abs-evil").exists());
    }

    #[test]
    fn refuses_dotdot_written_by_gnu_tar() {
        // GNU tar keeps `../` in names with -P, as a hostile packer would.
        let t = T::new();
        fs::create_dir(t.p("d")).unwrap();
        fs::write(t.p("evil"), "pwned").unwrap();
        let a = t.p("a.tgz");
        run(Command::new("tar")
            .arg("-C")
            .arg(t.p("d"))
            .arg("-P")
            .arg("-czf")
            .arg(&a)
            .arg("../evil"));
        let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                e,
                ArchiveError::UnsafePath {
                    reason: "`..` component",
                    ..
                }
            ),
            "{e}"
        );
        assert!(t.outside().is_empty());
    }

    #[test]
    fn refuses_symlink_escapes() {
        // link -> ../../etc, then a file written through it.
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| {
            b.append(
                &raw(b"link", EntryType::Symlink, 0, Some(b"../..")),
                io::empty(),
            )
            .unwrap();
            file(b, b"link/file", b"pwned");
        });
        let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
        assert!(matches!(e, ArchiveError::Duplicate { .. }), "{e}");
        assert!(t.outside().is_empty());
        assert!(!t.p("file").exists());

        // The link alone, made by GNU tar.
        let t = T::new();
        fs::create_dir(t.p("d")).unwrap();
        std::os::unix::fs::symlink("../../etc", t.p("d/link")).unwrap();
        let a = t.p("a.tgz");
        run(Command::new("tar")
            .arg("-C")
            .arg(t.p("d"))
            .arg("-czf")
            .arg(&a)
            .arg("link"));
        let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                e,
                ArchiveError::UnsafeLink {
                    reason: "target leaves the archive root",
                    ..
                }
            ),
            "{e}"
        );
        assert!(fs::symlink_metadata(t.p("out/dest/link")).is_err());

        // Absolute target.
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| {
            b.append(
                &raw(b"l", EntryType::Symlink, 0, Some(b"/etc/passwd")),
                io::empty(),
            )
            .unwrap();
        });
        let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                e,
                ArchiveError::UnsafeLink {
                    reason: "absolute target",
                    ..
                }
            ),
            "{e}"
        );

        // `a -> .` makes `a/..` the root's parent on disk, while lexically
        // it is the root: refused.
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| {
            b.append(&raw(b"a", EntryType::Symlink, 0, Some(b".")), io::empty())
                .unwrap();
            b.append(
                &raw(b"b", EntryType::Symlink, 0, Some(b"a/../x")),
                io::empty(),
            )
            .unwrap();
        });
        let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                e,
                ArchiveError::UnsafeLink {
                    reason: "`..` after a symlink",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn symlinks_inside_the_root_are_kept() {
        let t = T::new();
        let d = t.p("src/package");
        fs::create_dir_all(d.join("lib")).unwrap();
        fs::create_dir_all(d.join("bin")).unwrap();
        fs::write(d.join("lib/x.js"), "x").unwrap();
        std::os::unix::fs::symlink("../lib/x.js", d.join("bin/run")).unwrap();
        let a = t.p("a.tgz");
        run(Command::new("tar")
            .arg("-C")
            .arg(t.p("src"))
            .arg("-czf")
            .arg(&a)
            .arg("package"));
        let s = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap();
        assert_eq!(s.symlinks, 1);
        let link = t.p("out/dest/package/bin/run");
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("../lib/x.js"));
        assert_eq!(fs::read_to_string(&link).unwrap(), "x");
    }

    #[test]
    fn hard_links_only_to_earlier_files_inside() {
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| {
            file(b, b"a", b"content");
            b.append(&raw(b"b", EntryType::Link, 0, Some(b"a")), io::empty())
                .unwrap();
        });
        t.extract(&a, Kind::TarGz, &Limits::default()).unwrap();
        assert_eq!(fs::read(t.p("out/dest/b")).unwrap(), b"content");

        for target in [&b"../../etc/passwd"[..], b"/etc/passwd", b"later", b"dir"] {
            let t = T::new();
            let a = t.p("a.tgz");
            tgz(&a, |b| {
                b.append(&raw(b"dir", EntryType::Directory, 0, None), io::empty())
                    .unwrap();
                b.append(&raw(b"h", EntryType::Link, 0, Some(target)), io::empty())
                    .unwrap();
                file(b, b"later", b"x");
            });
            let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
            assert!(
                matches!(e, ArchiveError::UnsafeLink { .. }),
                "{target:?}: {e}"
            );
            assert!(!t.p("out/dest/h").exists());
        }
    }

    #[test]
    fn refuses_devices_and_fifos() {
        for (ty, what) in [
            (EntryType::Char, "character device"),
            (EntryType::Block, "block device"),
            (EntryType::Fifo, "fifo"),
        ] {
            let t = T::new();
            let a = t.p("a.tgz");
            tgz(&a, |b| {
                let mut h = raw(b"dev", ty, 0, None);
                h.set_device_major(1).unwrap();
                h.set_device_minor(3).unwrap();
                h.set_cksum();
                b.append(&h, io::empty()).unwrap();
            });
            let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
            assert!(
                matches!(e, ArchiveError::Unsupported { what: w, .. } if w == what),
                "{e}"
            );
            assert!(fs::symlink_metadata(t.p("out/dest/dev")).is_err());
        }
        // A real fifo, archived by GNU tar.
        let t = T::new();
        fs::create_dir(t.p("d")).unwrap();
        run(Command::new("mkfifo").arg(t.p("d/pipe")));
        let a = t.p("a.tgz");
        run(Command::new("tar")
            .arg("-C")
            .arg(t.p("d"))
            .arg("-czf")
            .arg(&a)
            .arg("pipe"));
        let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
        assert!(
            matches!(e, ArchiveError::Unsupported { what: "fifo", .. }),
            "{e}"
        );
    }

    const GIB: u64 = 1 << 30;

    #[test]
    fn gzip_bomb_stops_early() {
        let t = T::new();
        let a = t.p("bomb.tgz");
        // 1 GiB of zeros, streamed through the compressor.
        tgz(&a, |b| {
            let mut h = Header::new_gnu();
            h.set_path("zeros").unwrap();
            h.set_size(GIB);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, io::repeat(0).take(GIB)).unwrap();
        });
        let compressed = fs::metadata(&a).unwrap().len();
        assert!(compressed < 4 << 20, "{compressed}");
        let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
        assert!(matches!(e, ArchiveError::Ratio { limit: 200 }), "{e}");
        let written = fs::metadata(t.p("out/dest/zeros")).unwrap().len();
        assert!(written < 64 << 20, "stopped only after {written} bytes");
        // With the ratio out of the way, the size limits stop it.
        let t2 = T::new();
        let limits = Limits {
            max_ratio: u64::MAX,
            max_entry_bytes: 16 << 20,
            ..Limits::default()
        };
        let e = t2.extract(&a, Kind::TarGz, &limits).unwrap_err();
        assert!(matches!(e, ArchiveError::EntryTooLarge { .. }), "{e}");
        let limits = Limits {
            max_ratio: u64::MAX,
            max_total_bytes: 8 << 20,
            ..Limits::default()
        };
        let t3 = T::new();
        let e = t3.extract(&a, Kind::TarGz, &limits).unwrap_err();
        assert!(matches!(e, ArchiveError::TooLarge { .. }), "{e}");
        assert!(fs::metadata(t3.p("out/dest/zeros")).unwrap().len() <= 8 << 20);
    }

    #[test]
    fn zip_bomb_stops_early() {
        let t = T::new();
        let a = t.p("bomb.zip");
        {
            let mut z = zip::ZipWriter::new(File::create(&a).unwrap());
            let o = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true);
            z.start_file("zeros", o).unwrap();
            let chunk = vec![0u8; 1 << 20];
            for _ in 0..1024 {
                z.write_all(&chunk).unwrap();
            }
            z.finish().unwrap();
        }
        let compressed = fs::metadata(&a).unwrap().len();
        assert!(compressed < 4 << 20, "{compressed}");
        let e = t.extract(&a, Kind::Zip, &Limits::default()).unwrap_err();
        assert!(matches!(e, ArchiveError::Ratio { limit: 200 }), "{e}");
        let written = fs::metadata(t.p("out/dest/zeros")).unwrap().len();
        assert!(written < 64 << 20, "stopped only after {written} bytes");
    }

    #[test]
    fn too_many_entries() {
        let limits = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| {
            for i in 0..11 {
                file(b, format!("f{i}").as_bytes(), b"x");
            }
        });
        let e = t.extract(&a, Kind::TarGz, &limits).unwrap_err();
        assert!(
            matches!(e, ArchiveError::TooManyEntries { limit: 10 }),
            "{e}"
        );
        let t = T::new();
        let a = t.p("a.zip");
        let mut z = zip::ZipWriter::new(File::create(&a).unwrap());
        for i in 0..11 {
            z.start_file(format!("f{i}"), zip::write::SimpleFileOptions::default())
                .unwrap();
        }
        z.finish().unwrap();
        let e = t.extract(&a, Kind::Zip, &limits).unwrap_err();
        assert!(
            matches!(e, ArchiveError::TooManyEntries { limit: 10 }),
            "{e}"
        );
        // Exactly at the limit is fine.
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| {
            for i in 0..10 {
                file(b, format!("f{i}").as_bytes(), b"x");
            }
        });
        assert_eq!(t.extract(&a, Kind::TarGz, &limits).unwrap().files, 10);
    }

    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn truncated_tar_gz_is_refused() {
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| {
            file(b, b"package/big.bin", &noise(300_000));
            file(b, b"package/small", b"x");
        });
        let whole = fs::read(&a).unwrap();
        assert!(
            T::new()
                .extract(&a, Kind::TarGz, &Limits::default())
                .is_ok()
        );
        // Cut in the middle of the data, and cut only the gzip trailer
        // (the tar end marker is intact then; only the CRC check sees it).
        for cut in [whole.len() / 2, whole.len() - 4] {
            let t2 = T::new();
            let p = t2.p("cut.tgz");
            fs::write(&p, &whole[..cut]).unwrap();
            let e = t2.extract(&p, Kind::TarGz, &Limits::default()).unwrap_err();
            assert!(
                matches!(e, ArchiveError::Corrupt { .. }),
                "cut at {cut}: {e}"
            );
        }
    }

    #[test]
    fn corrupt_zip_is_refused() {
        let t = T::new();
        let a = t.p("a.zip");
        let data = noise(100_000);
        run(Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   z.writestr('package/data.bin', open(sys.argv[2], 'rb').read())\n",
            )
            .arg(&a)
            .arg({
                fs::write(t.p("data"), &data).unwrap();
                t.p("data")
            }));
        T::new().extract(&a, Kind::Zip, &Limits::default()).unwrap();
        let mut bytes = fs::read(&a).unwrap();
        bytes[50_000] ^= 0xff;
        fs::write(t.p("flip.zip"), &bytes).unwrap();
        let e = T::new()
            .extract(&t.p("flip.zip"), Kind::Zip, &Limits::default())
            .unwrap_err();
        assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
        let mut junk = b"PK\x03\x04".to_vec();
        junk.extend(noise(5000));
        fs::write(t.p("junk.zip"), &junk).unwrap();
        let e = T::new()
            .extract(&t.p("junk.zip"), Kind::Zip, &Limits::default())
            .unwrap_err();
        assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
    }

    /// Writes a zip with python's zipfile: (name, data, unix mode).
    fn py_zip(path: &Path, entries: &[(&str, &str, u32)]) {
        let mut script =
            String::from("import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\n");
        for (name, data, mode) in entries {
            script.push_str(&format!(
                "i = zipfile.ZipInfo({name:?}); i.create_system = 3; i.external_attr = {mode} << 16\nz.writestr(i, {data:?})\n"
            ));
        }
        script.push_str("z.close()\n");
        run(Command::new("python3").arg("-c").arg(script).arg(path));
    }

    #[test]
    fn zip_attacks_are_refused() {
        let cases: &[(&str, &str, u32, &str)] = &[
            ("../evil", "x", 0o100644, "path"),
            ("/tmp/mcp-warden-zip-abs", "x", 0o100644, "path"),
            ("a\\..\\..\\evil", "x", 0o100644, "path"),
            ("link", "../../etc", 0o120777, "link"),
            ("dev", "", 0o020644, "device"),
            ("pipe", "", 0o010644, "fifo"),
        ];
        for (name, data, mode, want) in cases {
            let t = T::new();
            let a = t.p("a.zip");
            py_zip(&a, &[("ok", "fine", 0o100644), (name, data, *mode)]);
            let e = t.extract(&a, Kind::Zip, &Limits::default()).unwrap_err();
            let got = match e {
                ArchiveError::UnsafePath { .. } => "path",
                ArchiveError::UnsafeLink { .. } => "link",
                ArchiveError::Unsupported { what: "device", .. } => "device",
                ArchiveError::Unsupported { what: "fifo", .. } => "fifo",
                ref e => panic!("{name}: {e}"),
            };
            assert_eq!(got, *want, "{name}");
            assert!(t.outside().is_empty());
            assert!(fs::symlink_metadata(t.p("out/dest/link")).is_err());
        }
        assert!(!Path::new("/tmp/mcp-warden-zip-abs").exists());
    }

    #[test]
    fn zip_cli_archive_with_symlink_is_refused_and_modes_normalised() {
        let t = T::new();
        let d = t.p("src/package");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("run.sh"), "#!/bin/sh\n").unwrap();
        fs::write(d.join("data"), "d").unwrap();
        fs::set_permissions(d.join("run.sh"), fs::Permissions::from_mode(0o4750)).unwrap();
        let a = t.p("a.zip");
        run(Command::new("zip")
            .current_dir(t.p("src"))
            .arg("-qr")
            .arg(&a)
            .arg("package"));
        assert_eq!(kind_of_file(&a).unwrap(), Some(Kind::Zip));
        let s = t.extract(&a, Kind::Zip, &Limits::default()).unwrap();
        assert_eq!(s.files, 2);
        assert_eq!(mode(&t.p("out/dest/package/run.sh")), 0o755);
        assert_eq!(mode(&t.p("out/dest/package/data")), 0o644);
        assert_eq!(mode(&t.p("out/dest/package")), 0o755);

        std::os::unix::fs::symlink("/etc/passwd", d.join("pw")).unwrap();
        let b = t.p("b.zip");
        run(Command::new("zip")
            .current_dir(t.p("src"))
            .arg("-qry")
            .arg(&b)
            .arg("package"));
        let e = T::new()
            .extract(&b, Kind::Zip, &Limits::default())
            .unwrap_err();
        assert!(matches!(e, ArchiveError::UnsafeLink { .. }), "{e}");
    }

    #[test]
    fn duplicates_and_entry_limit() {
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| {
            file(b, b"a", b"first");
            file(b, b"./a", b"second");
        });
        let e = t.extract(&a, Kind::TarGz, &Limits::default()).unwrap_err();
        assert!(matches!(e, ArchiveError::Duplicate { .. }), "{e}");
        assert_eq!(fs::read(t.p("out/dest/a")).unwrap(), b"first");

        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| file(b, b"big", &noise(5000)));
        let limits = Limits {
            max_entry_bytes: 4096,
            ..Limits::default()
        };
        let e = t.extract(&a, Kind::TarGz, &limits).unwrap_err();
        assert!(
            matches!(e, ArchiveError::EntryTooLarge { limit: 4096, .. }),
            "{e}"
        );

        // The destination must be new.
        let t = T::new();
        let a = t.p("a.tgz");
        tgz(&a, |b| file(b, b"x", b"x"));
        fs::create_dir_all(t.p("out/dest")).unwrap();
        assert!(matches!(
            t.extract(&a, Kind::TarGz, &Limits::default()),
            Err(ArchiveError::Io { .. })
        ));
    }

    #[test]
    fn zips_with_hidden_data_or_duplicates_are_refused_before_writing() {
        let t = T::new();
        let a = t.p("a.zip");
        py_zip(
            &a,
            &[("manifest.json", "{}", 0o100644), ("x", "1", 0o100644)],
        );
        let good = fs::read(&a).unwrap();
        t.extract(&a, Kind::Zip, &Limits::default()).unwrap();
        let hidden = t.p("hidden.zip");
        py_zip(&hidden, &[("manifest.json", "{\"evil\":1}", 0o100644)]);
        let both = [good.clone(), fs::read(&hidden).unwrap()].concat();
        let cases = [
            ("appended zip", both),
            ("prepended", [b"MZ".to_vec(), good.clone()].concat()),
            (
                "trailing bytes",
                [good.clone(), b"MCPB_SIG_V1".to_vec()].concat(),
            ),
        ];
        for (what, bytes) in cases {
            let t = T::new();
            let p = t.p("x.zip");
            fs::write(&p, &bytes).unwrap();
            let e = t.extract(&p, Kind::Zip, &Limits::default()).unwrap_err();
            assert!(matches!(e, ArchiveError::Layout { .. }), "{what}: {e}");
            assert!(!t.p("out/dest").exists(), "{what}");
        }
        // An exact duplicate, which the zip crate would fold into one entry.
        let t = T::new();
        let p = t.p("dup.zip");
        run(Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, zipfile, warnings\nwarnings.simplefilter('ignore')\n\
                 with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
                 \x20   z.writestr('server/index.js', 'good')\n\
                 \x20   z.writestr('server/index.js', 'evil')\n",
            )
            .arg(&p));
        let e = t.extract(&p, Kind::Zip, &Limits::default()).unwrap_err();
        assert!(matches!(e, ArchiveError::Duplicate { .. }), "{e}");
        assert!(!t.p("out/dest").exists());
    }

    #[test]
    fn extract_file_reads_only_the_signed_zip_of_a_bundle() {
        let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mcpb");
        let mut trees = Vec::new();
        for name in ["signed-mcpb-2.1.2.mcpb", "unsigned.mcpb"] {
            let t = T::new();
            fs::create_dir(t.p("out")).unwrap();
            let file = File::open(fx.join(name)).unwrap();
            let s = extract_file(file, Kind::Zip, &t.p("out/dest"), &Limits::default()).unwrap();
            assert!(s.files >= 2, "{name}: {s:?}");
            trees.push(listing(&t.p("out/dest")));
        }
        assert!(
            trees[0].contains(&"manifest.json".to_string()),
            "{:?}",
            trees[0]
        );
        assert_eq!(trees[0], trees[1]);
    }
}
