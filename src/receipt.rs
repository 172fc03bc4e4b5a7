//! Receipts of a full check, one rule for `add` and `run`: `add` answers
//! "pinned already" and `run` spares the re-hash only while nothing the
//! verdict depends on may have changed.
//!
//! A receipt records the artifact's digest, a digest of the verdict's
//! inputs (for `run`: the lock entry, the policy and trust files, the
//! advisory database's identity, this version; for `add`: the request,
//! see `ops::pin`), a [`Fingerprint`] of the files on disk (device, inode,
//! size, mtime, ctime and mode of every file) and when the full check
//! passed. ctime cannot be set back by a user, so rewriting a file and
//! restoring its mtime still changes the fingerprint. Any difference, or
//! a receipt older than [`MAX_AGE`], means the full check: re-hash,
//! signatures, policy.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};
use sha2::Digest as _;

use crate::context::Context;
use crate::fsutil;

const VERSION: u32 = 1;
/// How long a full check stands in for the next ones.
pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Files in a tree beyond this are not fingerprinted (and so always
/// re-hashed); the cache's own unpack limits stay far below.
const MAX_TREE_ENTRIES: usize = 1_000_000;
/// A stored receipt's size at most, its kept entry point included.
const MAX_RECEIPT: u64 = 64 * 1024;
/// A kept entry point's size at most: a larger one is not kept.
pub const MAX_KEPT: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Receipt {
    pub version: u32,
    pub sha256: String,
    pub inputs: String,
    pub fingerprint: Fingerprint,
    /// When the full check passed (RFC 3339).
    pub verified: String,
    /// What the full check found besides, kept for the starts it spares
    /// (`run`: the entry point found in the verified files, as JSON).
    /// Trusted as the rest of the receipt is: it stands for files whose
    /// fingerprint still matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

impl Receipt {
    pub fn new(sha256: &str, inputs: &str, fingerprint: &Fingerprint) -> Self {
        Receipt {
            version: VERSION,
            sha256: sha256.into(),
            inputs: inputs.into(),
            fingerprint: fingerprint.clone(),
            verified: jiff::Timestamp::now().to_string(),
            entry: None,
        }
    }

    /// Whether the full check this receipt records still stands for the
    /// same artifact, inputs and files. Also false once the receipt is
    /// older than [`MAX_AGE`] (or dated in the future): verdicts can
    /// depend on the clock (certificate validity, an SBOM's `max-age`),
    /// so they are reached again at least daily.
    pub fn matches(&self, sha256: &str, inputs: &str, fingerprint: &Fingerprint) -> bool {
        let fresh = self
            .verified
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| jiff::Timestamp::now().duration_since(t).try_into().ok())
            .is_some_and(|age: std::time::Duration| age <= MAX_AGE);
        self.version == VERSION
            && self.sha256 == sha256
            && self.inputs == inputs
            && self.fingerprint == *fingerprint
            && fresh
    }
}

/// For a receipt kept inside another file (servers.lock): one that does
/// not read as the current format, such as the `request`/`file` pair
/// earlier versions wrote, is dropped rather than failing the whole file.
/// Dropped means stale: the full check runs and writes a new one.
pub fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Receipt>, D::Error> {
    let value = Option::<toml::Value>::deserialize(d)?;
    Ok(value.and_then(|v| v.try_into().ok()))
}

fn path(ctx: &Context, server: &str) -> PathBuf {
    // Server names are checked when pinned; hex keeps any name a plain
    // file name all the same.
    ctx.data_dir
        .join("receipts")
        .join(format!("{}.toml", hex::encode(server.as_bytes())))
}

/// The stored receipt, or `None` when there is none or it is unreadable
/// (which only means the full check runs).
pub fn load(ctx: &Context, server: &str) -> Option<Receipt> {
    let text = fsutil::read_text_bounded(&path(ctx, server), MAX_RECEIPT).ok()?;
    toml::from_str(&text).ok()
}

pub fn save(ctx: &Context, server: &str, r: &Receipt) -> io::Result<()> {
    let p = path(ctx, server);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = toml::to_string(r).map_err(io::Error::other)?;
    // Renamed into place but not fsynced: a receipt lost in a crash only
    // means one more full check, and the fsync would cost every re-hash
    // about a millisecond.
    let dir = p.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(&p).map_err(|e| e.error)?;
    Ok(())
}

pub fn remove(ctx: &Context, server: &str) {
    let _ = std::fs::remove_file(path(ctx, server));
}

/// `sha256:HEX` over the policy and trust files in force: part of a
/// receipt's key, and named in the audit log's launch records.
pub fn policy_digest(ctx: &Context) -> String {
    let mut h = crate::digest::FieldHasher::default();
    for p in ctx.judgement_files() {
        h.file("state", &p);
    }
    format!("sha256:{}", h.finish())
}

/// SHA-256 over everything besides the bytes that the verdict depends on,
/// which a receipt is keyed by besides the files' identities: this
/// version, the lock entry, the policy and trust files (as
/// [`policy_digest`] gave them), the advisory databases.
pub fn inputs(policy_digest: &str, entry_toml: &str, advisories: &[PathBuf]) -> String {
    let mut h = crate::digest::FieldHasher::default();
    h.field("version", env!("CARGO_PKG_VERSION").as_bytes());
    h.field("entry", entry_toml.as_bytes());
    h.field("state", policy_digest.as_bytes());
    // A database of thousands of files is not hashed on every launch: the
    // identity of every file in it is (a record added or rewritten at any
    // depth changes one).
    for db in advisories {
        h.field("advisories", db.to_string_lossy().as_bytes());
        let id = crate::sbom::advisories::AdvisoryDb::identity(db);
        h.field("advisories", id.as_bytes());
    }
    h.finish()
}

/// The identity of one file as the fingerprint sees it: what a rewrite,
/// replacement or `chmod` changes (ctime included, which cannot be set
/// back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// Seconds and nanoseconds.
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub mode: u32,
}

impl Stat {
    /// The fields as fixed-width bytes, for hashing many of them.
    pub fn bytes(&self) -> [u8; 60] {
        let mut b = [0u8; 60];
        let fields = [
            self.dev,
            self.ino,
            self.size,
            self.mtime.0 as u64,
            self.mtime.1 as u64,
            self.ctime.0 as u64,
            self.ctime.1 as u64,
        ];
        for (i, f) in fields.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&f.to_le_bytes());
        }
        b[56..60].copy_from_slice(&self.mode.to_le_bytes());
        b
    }

    #[cfg(unix)]
    pub fn of(m: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt as _;
        Stat {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            mode: m.mode(),
        }
    }

    /// The same fields from a stat made relative to an open directory
    /// (the receipt walk's), equal to [`Stat::of`] of that entry.
    #[cfg(target_os = "linux")]
    // The casts are no-ops on x86_64 only: the field types vary by arch.
    #[allow(clippy::unnecessary_cast)]
    fn of_raw(st: &rustix::fs::Stat) -> Stat {
        Stat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
            mode: st.st_mode as u32,
        }
    }

    /// Without inode and ctime the fingerprint is weaker here: size and
    /// mtime only.
    #[cfg(not(unix))]
    pub fn of(m: &std::fs::Metadata) -> Stat {
        let t = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        let mtime = (t.as_secs() as i64, i64::from(t.subsec_nanos()));
        Stat {
            dev: 0,
            ino: 0,
            size: m.len(),
            mtime,
            ctime: mtime,
            mode: 0,
        }
    }

    /// The line hashed into fingerprints; receipts already on disk were
    /// made from this exact text, so it stays as it is.
    pub(crate) fn line(&self) -> String {
        format!(
            "{}:{}:{}:{}.{}:{}.{}:{:o}",
            self.dev,
            self.ino,
            self.size,
            self.mtime.0,
            self.mtime.1,
            self.ctime.0,
            self.ctime.1,
            self.mode
        )
    }
}

/// Hex SHA-256 over the [`Stat`] of every file a verdict rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of_stat(s: &Stat) -> Fingerprint {
        Fingerprint(hex::encode(sha2::Sha256::digest(s.line().as_bytes())))
    }

    /// The fingerprint of one open file (its own metadata, not the path's).
    pub fn of_file(m: &std::fs::Metadata) -> Fingerprint {
        Fingerprint::of_stat(&Stat::of(m))
    }

    /// The regular file at `path`, not followed if it is a link: anything
    /// else is an error, so no receipt stands for it.
    pub fn of_regular_file(path: &Path) -> io::Result<Fingerprint> {
        let m = std::fs::symlink_metadata(path)?;
        if !m.is_file() {
            return Err(io::Error::other(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        Ok(Fingerprint::of_file(&m))
    }

    /// The fingerprint of a tree: every entry's relative path, type, and
    /// metadata, in sorted order. Symbolic links are not followed.
    ///
    /// This is the warm path of every `run` of a pinned tree (thousands of
    /// files for an npm server), so each entry is stat'ed relative to its
    /// open directory (no path walk from the root per file), and the
    /// directories are shared out among a few threads.
    pub fn of_tree(root: &Path) -> io::Result<Fingerprint> {
        Fingerprint::of_tree_with(root, Walkers::All)
    }

    /// [`Fingerprint::of_tree`], walked by `walkers` threads.
    pub fn of_tree_with(root: &Path, walkers: Walkers) -> io::Result<Fingerprint> {
        let entries = walk(root, walkers)?;
        let mut h = sha2::Sha256::new();
        // The root itself is followed: it may be reached through
        // /proc/self/fd/N (launch::anchor), whose own entry changes each run.
        h.update(Stat::of(&std::fs::metadata(root)?).line().as_bytes());
        for (rel, m) in &entries {
            let bytes = rel.as_os_str().as_encoded_bytes();
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
            h.update(m.bytes());
        }
        Ok(Fingerprint(hex::encode(h.finalize())))
    }

    /// One fingerprint for two sets of files (an archive and its unpacked
    /// tree): either changing changes it.
    pub fn and(&self, other: &Fingerprint) -> Fingerprint {
        let mut h = crate::digest::FieldHasher::default();
        h.field("first", self.0.as_bytes());
        h.field("second", other.0.as_bytes());
        Fingerprint(h.finish())
    }
}

/// How many threads walk a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walkers {
    /// As many as help: the walk is all there is to wait for.
    All,
    /// Half the cores: the walk runs beside a starting interpreter, which
    /// a walk on every core would slow by as much as it gains (measured
    /// with node on two cores).
    Half,
}

/// Every entry under `root` (not followed), with its [`Stat`], sorted by
/// relative path; at most [`MAX_TREE_ENTRIES`].
fn walk(root: &Path, walkers: Walkers) -> io::Result<Vec<(PathBuf, Stat)>> {
    use std::sync::{Condvar, Mutex};
    struct Work {
        dirs: Vec<PathBuf>,
        busy: usize,
        found: Vec<(PathBuf, Stat)>,
        failed: Option<io::Error>,
    }
    let work = Mutex::new(Work {
        dirs: vec![PathBuf::new()],
        busy: 0,
        found: Vec::new(),
        failed: None,
    });
    let ready = Condvar::new();
    let top = Top::open(root)?;
    let lock = || work.lock().unwrap_or_else(|p| p.into_inner());
    let worker = || {
        loop {
            let rel = {
                let mut w = lock();
                loop {
                    if w.failed.is_some() {
                        return;
                    }
                    if let Some(d) = w.dirs.pop() {
                        w.busy += 1;
                        break d;
                    }
                    if w.busy == 0 {
                        return;
                    }
                    w = ready.wait(w).unwrap_or_else(|p| p.into_inner());
                }
            };
            let mut found = Vec::new();
            let mut dirs = Vec::new();
            let read = list(&top, &rel, &mut found, &mut dirs);
            let mut w = lock();
            w.busy -= 1;
            match read {
                Err(e) => w.failed = Some(e),
                Ok(()) => {
                    w.dirs.extend(dirs);
                    w.found.extend(found);
                    if w.found.len() > MAX_TREE_ENTRIES {
                        w.failed = Some(io::Error::other("too many files to fingerprint"));
                    }
                }
            }
            ready.notify_all();
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match walkers {
        // Mostly waiting on the kernel: more threads than cores help.
        Walkers::All => (cores * 2).clamp(2, 8),
        Walkers::Half => (cores / 2).clamp(1, 8),
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(worker);
        }
        worker();
    });
    let w = work.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = w.failed {
        return Err(e);
    }
    let mut found = w.found;
    // By bytes: comparing paths component by component is much slower.
    found.sort_unstable_by(|a, b| {
        (a.0.as_os_str().as_encoded_bytes()).cmp(b.0.as_os_str().as_encoded_bytes())
    });
    Ok(found)
}

/// The root of a walk: an open directory on Linux, where every directory
/// is opened relative to it (not through the root's path, which may be a
/// /proc/self/fd/N link, again for each).
#[cfg(target_os = "linux")]
struct Top(std::os::fd::OwnedFd);
#[cfg(not(target_os = "linux"))]
struct Top(PathBuf);

impl Top {
    #[cfg(target_os = "linux")]
    fn open(root: &Path) -> io::Result<Top> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(Top(rustix::fs::open(root, flags, Mode::empty())?))
    }

    #[cfg(not(target_os = "linux"))]
    fn open(root: &Path) -> io::Result<Top> {
        Ok(Top(root.to_path_buf()))
    }
}

/// The entries of the directory `rel` (relative to the walk's root), each
/// stat'ed relative to the open directory and not followed; directories
/// are also added to `dirs`.
fn list(
    top: &Top,
    rel: &Path,
    found: &mut Vec<(PathBuf, Stat)>,
    dirs: &mut Vec<PathBuf>,
) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{AtFlags, FileType, Mode, OFlags};
        use std::os::unix::ffi::OsStrExt as _;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fd = match rel.as_os_str().is_empty() {
            true => rustix::fs::openat(&top.0, c".", flags, Mode::empty())?,
            false => rustix::fs::openat(&top.0, rel, flags, Mode::empty())?,
        };
        let mut dir = rustix::fs::Dir::new(fd)?;
        while let Some(e) = dir.read() {
            let e = e?;
            let name = e.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let st = rustix::fs::statat(dir.fd()?, name, AtFlags::SYMLINK_NOFOLLOW)?;
            let rel = rel.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
            if FileType::from_raw_mode(st.st_mode as _) == FileType::Directory {
                dirs.push(rel.clone());
            }
            found.push((rel, Stat::of_raw(&st)));
        }
    }
    #[cfg(not(target_os = "linux"))]
    for e in std::fs::read_dir(top.0.join(rel))? {
        let e = e?;
        // Relative to the open directory, not followed.
        let m = e.metadata()?;
        let rel = rel.join(e.file_name());
        if m.is_dir() {
            dirs.push(rel.clone());
        }
        found.push((rel, Stat::of(&m)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Duration;

    fn stat() -> Stat {
        Stat {
            dev: 2049,
            ino: 1234,
            size: 42,
            mtime: (1_700_000_000, 5),
            ctime: (1_700_000_000, 6),
            mode: 0o100444,
        }
    }

    fn hours_ago(h: i64) -> String {
        (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(h)).to_string()
    }

    #[test]
    fn every_part_of_a_files_identity_changes_the_fingerprint() {
        let base = Fingerprint::of_stat(&stat());
        assert_eq!(base, Fingerprint::of_stat(&stat()));
        type Change = fn(&mut Stat);
        let changes: [(&str, Change); 8] = [
            ("device", |s| s.dev += 1),
            ("inode", |s| s.ino += 1),
            ("size", |s| s.size += 1),
            ("mtime", |s| s.mtime.0 += 1),
            ("mtime ns", |s| s.mtime.1 += 1),
            ("ctime", |s| s.ctime.0 += 1),
            ("ctime ns", |s| s.ctime.1 += 1),
            ("mode", |s| s.mode = 0o100755),
        ];
        for (what, change) in changes {
            let mut s = stat();
            change(&mut s);
            let fp = Fingerprint::of_stat(&s);
            assert_ne!(fp, base, "{what}");
            let r = Receipt::new("aa", "bb", &base);
            assert!(r.matches("aa", "bb", &base));
            assert!(
                !r.matches("aa", "bb", &fp),
                "{what}: a stale receipt was used"
            );
        }
    }

    #[test]
    fn the_fingerprint_is_read_from_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "aaaa").unwrap();
        let fp = || Fingerprint::of_regular_file(&p).unwrap();
        let first = fp();
        assert_eq!(first, fp());
        // A chmod to the same mode changes ctime alone.
        std::thread::sleep(Duration::from_millis(20));
        let mode = std::fs::metadata(&p).unwrap().permissions();
        std::fs::set_permissions(&p, mode.clone()).unwrap();
        let same_mode = fp();
        assert_ne!(first, same_mode, "ctime");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_ne!(same_mode, fp(), "mode");
        // A link, a directory or nothing: no fingerprint, so no receipt.
        std::os::unix::fs::symlink(&p, d.path().join("l")).unwrap();
        assert!(Fingerprint::of_regular_file(&d.path().join("l")).is_err());
        assert!(Fingerprint::of_regular_file(d.path()).is_err());
        assert!(Fingerprint::of_regular_file(&d.path().join("none")).is_err());
    }

    #[test]
    fn a_rewrite_with_the_old_mtime_still_changes_the_fingerprint() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "aaaa").unwrap();
        let before = std::fs::metadata(&p).unwrap();
        let fp = Fingerprint::of_file(&before);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&p, "bbbb").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(before.modified().unwrap()).unwrap();
        let after = std::fs::metadata(&p).unwrap();
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        assert_eq!(before.len(), after.len());
        assert_ne!(fp, Fingerprint::of_file(&after));
        // Replaced by another file of the same size and mtime: a new inode.
        let q = d.path().join("g");
        std::fs::write(&q, "cccc").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&q)
            .unwrap()
            .set_modified(before.modified().unwrap())
            .unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert_ne!(
            Fingerprint::of_file(&after),
            Fingerprint::of_regular_file(&p).unwrap()
        );
    }

    #[test]
    fn tree_fingerprint_sees_content_mode_and_new_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a.js"), "1").unwrap();
        let a = Fingerprint::of_tree(d.path()).unwrap();
        assert_eq!(a, Fingerprint::of_tree(d.path()).unwrap());
        std::fs::write(d.path().join("sub/a.js"), "2").unwrap();
        let b = Fingerprint::of_tree(d.path()).unwrap();
        assert_ne!(a, b);
        std::fs::write(d.path().join("sub/b.js"), "").unwrap();
        let c = Fingerprint::of_tree(d.path()).unwrap();
        assert_ne!(b, c);
        std::fs::set_permissions(
            d.path().join("sub/b.js"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_ne!(c, Fingerprint::of_tree(d.path()).unwrap());
    }

    #[test]
    fn the_walk_sees_every_entry_as_its_own_metadata_says_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::write(root.join("a/b/c/deep.py"), "x").unwrap();
        std::fs::write(root.join("top.txt"), "y").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("a/link")).unwrap();
        std::os::unix::fs::symlink("b", root.join("a/dirlink")).unwrap();
        let expected: Vec<(PathBuf, Stat)> = {
            let mut v: Vec<_> = [
                "a",
                "a/b",
                "a/b/c",
                "a/b/c/deep.py",
                "a/dirlink",
                "a/link",
                "top.txt",
            ]
            .iter()
            .map(|r| {
                let m = std::fs::symlink_metadata(root.join(r)).unwrap();
                (PathBuf::from(r), Stat::of(&m))
            })
            .collect();
            v.sort_by(|x, y| x.0.cmp(&y.0));
            v
        };
        for walkers in [Walkers::Half, Walkers::All] {
            assert_eq!(walk(root, walkers).unwrap(), expected);
            // Through an open descriptor, as `run` walks the pinned tree.
            let f = std::fs::File::open(root).unwrap();
            let via = PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()));
            assert_eq!(walk(&via, walkers).unwrap(), expected);
        }
        // A root that is not a directory is an error, not an empty tree.
        assert!(walk(&root.join("top.txt"), Walkers::Half).is_err());
        assert!(walk(&root.join("missing"), Walkers::Half).is_err());
    }

    #[test]
    fn joined_fingerprints_change_with_either_part() {
        let a = Fingerprint::of_stat(&stat());
        let mut s = stat();
        s.ino += 1;
        let b = Fingerprint::of_stat(&s);
        assert_eq!(a.and(&b), a.and(&b));
        assert_ne!(a.and(&b), b.and(&a));
        assert_ne!(a.and(&b), a.and(&a));
        assert_ne!(a.and(&b), b.and(&b));
    }

    #[test]
    fn a_receipt_is_fresh_for_24_hours_only() {
        let fp = Fingerprint::of_stat(&stat());
        let mut r = Receipt::new("aa", "bb", &fp);
        assert!(r.matches("aa", "bb", &fp));
        r.verified = hours_ago(23);
        assert!(r.matches("aa", "bb", &fp));
        // A day old, or from the future, or undated: the full check runs.
        r.verified = hours_ago(25);
        assert!(!r.matches("aa", "bb", &fp));
        r.verified = hours_ago(-1);
        assert!(!r.matches("aa", "bb", &fp));
        r.verified = "yesterday".into();
        assert!(!r.matches("aa", "bb", &fp));
        // Another artifact, other inputs, another version: not used.
        let r = Receipt::new("aa", "bb", &fp);
        assert!(!r.matches("ab", "bb", &fp));
        assert!(!r.matches("aa", "bc", &fp));
        let other = Receipt {
            version: VERSION + 1,
            ..r
        };
        assert!(!other.matches("aa", "bb", &fp));
    }

    #[test]
    fn a_receipt_for_another_policy_or_lock_entry_is_not_used() {
        let fp = Fingerprint::of_stat(&stat());
        let entry = "source = \"npm:a@1\"\nkind = \"npm-tarball\"\n";
        let inputs = super::inputs("sha256:11", entry, &[]);
        let r = Receipt::new("aa", &inputs, &fp);
        assert!(r.matches("aa", &super::inputs("sha256:11", entry, &[]), &fp));
        let other_policy = super::inputs("sha256:12", entry, &[]);
        let other_entry = super::inputs("sha256:11", &entry.replace("a@1", "a@2"), &[]);
        let d = tempfile::tempdir().unwrap();
        let db = [d.path().to_path_buf()];
        let with_db = super::inputs("sha256:11", entry, &db);
        // Each layer's database counts: a second one is another input.
        let two = [d.path().to_path_buf(), d.path().join("second")];
        let with_two = super::inputs("sha256:11", entry, &two);
        assert_ne!(with_two, with_db);
        for other in [&other_policy, &other_entry, &with_db] {
            assert_ne!(other, &inputs);
            assert!(!r.matches("aa", other, &fp));
        }
        // A file added to the advisory database changes its identity.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(d.path().join("GHSA-x.json"), "{}").unwrap();
        assert_ne!(with_db, super::inputs("sha256:11", entry, &db));
    }

    #[test]
    fn the_policy_digest_follows_the_policy_and_trust_files() {
        let d = tempfile::tempdir().unwrap();
        let ctx = Context::new(Some(d.path()), None, Some(d.path())).unwrap();
        let before = policy_digest(&ctx);
        assert_eq!(before, policy_digest(&ctx));
        let files = ctx.judgement_files();
        let first = files.first().expect("a policy or trust file path");
        std::fs::create_dir_all(first.parent().unwrap()).unwrap();
        std::fs::write(first, "version = 1\n").unwrap();
        assert_ne!(before, policy_digest(&ctx));
    }

    #[test]
    fn receipts_round_trip_for_files_and_trees_and_garbage_reads_as_none() {
        let d = tempfile::tempdir().unwrap();
        let ctx = Context::new(Some(d.path()), None, Some(d.path())).unwrap();
        assert!(load(&ctx, "srv").is_none());
        let blob = d.path().join("blob");
        std::fs::write(&blob, "x").unwrap();
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(tree.path().join("index.js"), "x").unwrap();
        // A kept entry point as large as may be kept, with quotes, TOML's
        // own quoting, a newline and a NUL escape in it.
        let big = format!(
            r#"{{"args":["\u0000","a'''\nb"],"x":"{}"}}"#,
            "y".repeat(MAX_KEPT - 40)
        );
        for (fp, entry) in [
            (Fingerprint::of_regular_file(&blob).unwrap(), None),
            (Fingerprint::of_tree(tree.path()).unwrap(), None),
            (Fingerprint::of_tree(tree.path()).unwrap(), Some(big)),
        ] {
            let mut r = Receipt::new("aa", "bb", &fp);
            r.entry = entry;
            save(&ctx, "srv", &r).unwrap();
            let back = load(&ctx, "srv").unwrap();
            assert_eq!(back, r);
            assert!(back.matches("aa", "bb", &fp));
        }
        remove(&ctx, "srv");
        assert!(load(&ctx, "srv").is_none());
        std::fs::write(path(&ctx, "srv"), "garbage = [").unwrap();
        assert!(load(&ctx, "srv").is_none());
        std::fs::write(path(&ctx, "srv"), vec![b'x'; MAX_RECEIPT as usize + 1]).unwrap();
        assert!(load(&ctx, "srv").is_none());
    }

    #[test]
    fn an_old_receipt_in_the_lock_reads_as_none() {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(default, deserialize_with = "lenient")]
            receipt: Option<Receipt>,
        }
        // What `add` wrote before receipts were one format.
        let old = "[receipt]\nrequest = \"ab\"\nfile = \"1:2:3:4\"\n";
        assert_eq!(toml::from_str::<Holder>(old).unwrap().receipt, None);
        assert_eq!(toml::from_str::<Holder>("").unwrap().receipt, None);
        let r = Receipt::new("aa", "bb", &Fingerprint::of_stat(&stat()));
        let text = format!("[receipt]\n{}", toml::to_string(&r).unwrap());
        assert_eq!(toml::from_str::<Holder>(&text).unwrap().receipt, Some(r));
    }
}
