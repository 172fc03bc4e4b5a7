//! Content-addressed store for artifacts and their unpacked trees.
//!
//! Layout under the root (`Context::cache_dir`):
//!
//! - `blobs/sha256/<hex>`: artifact files named by their SHA-256, 0444.
//! - `trees/sha256/<hex>/`: unpacked archives, keyed by the SHA-256 of the
//!   blob they came from (or by their own tree digest for a local
//!   directory); files 0444 (0555 when executable), directories 0555.
//! - `trees/sha256/<hex>.tree`: the tree digest ([`tree_digest`]) recorded
//!   when the tree was made, which `verify` compares against.
//! - `tmp/`: work files on the same file system, so `rename` is atomic.
//! - `.lock`: the lock file behind [`Cache::lock`].
//! - `interpreters/`: not the store's: what each Python interpreter said
//!   about its installation ([`crate::launch::interp`]).
//!
//! Writers never need the lock: everything is built in `tmp/` and renamed
//! into place, and when two processes race the second finds the first's
//! result and drops its own. The lock is for callers that must keep a
//! sequence consistent, such as "put, then pin in the lock file" against
//! `gc`, which would otherwise remove a blob not yet pinned.

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::archive::{self, ArchiveError, Kind, Limits};
use crate::digest::{self, Algorithm, Digest, Hasher, Sink};
use crate::fsutil::{self, ReadError};

/// `tmp/` entries older than this are left over from a crashed process;
/// younger ones may belong to a put or unpack running now.
pub const STALE_TMP: Duration = Duration::from_secs(3600);
/// Entries a tree may hold for [`tree_digest`]; far above any archive
/// limit, it only keeps a hostile local directory from exhausting memory.
const TREE_ENTRY_CAP: usize = 5_000_000;
/// Directory depth followed when walking a local directory.
const MAX_DEPTH: usize = 256;
const TREE_HEADER: &str = "mcp-warden-tree-v1\n";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache: {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("reading the artifact failed: {0}")]
    Read(#[source] io::Error),
    #[error(transparent)]
    Source(#[from] ReadError),
    #[error("the artifact is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Mismatch { expected: String, actual: String },
    #[error("`{key}` is not a SHA-256 cache key (64 lowercase hex characters)")]
    BadKey { key: String },
    #[error("cache entry {path} is damaged: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path}: {reason}")]
    UnsafeDir { path: PathBuf, reason: String },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl crate::diag::Diagnose for CacheError {
    fn code(&self) -> crate::diag::Code {
        use crate::diag::Code;
        // A network error surfaces through the reader the cache consumed.
        if let Some(n) = self.net() {
            return match n {
                crate::net::NetError::TooLarge { .. } => Code::ArtifactTooLarge,
                _ => Code::FetchFailed,
            };
        }
        match self {
            CacheError::TooLarge { .. } => Code::ArtifactTooLarge,
            CacheError::Mismatch { .. } => Code::IntegrityMismatch,
            CacheError::Archive(_) | CacheError::UnsafeDir { .. } => Code::ArchiveUnsafe,
            CacheError::Corrupt { .. } => Code::CacheMismatch,
            CacheError::Source(_) => Code::ArtifactUnreadable,
            _ => Code::CacheError,
        }
    }

    fn hint(&self) -> Option<String> {
        match self.net() {
            Some(n) => crate::diag::Diagnose::hint(n),
            None => self.hint_text(),
        }
    }

    fn diagnostic(&self) -> crate::diag::Diagnostic {
        // Reported as the network error itself, not as a cache failure.
        let message = match self.net() {
            Some(n) => n.to_string(),
            None => self.to_string(),
        };
        let mut d = crate::diag::Diagnostic::error(self.code(), message);
        d.hint = crate::diag::Diagnose::hint(self);
        d
    }
}

impl CacheError {
    /// The network error a download's reader failed with, if that is what
    /// ended the read.
    fn net(&self) -> Option<&crate::net::NetError> {
        match self {
            CacheError::Read(io) => crate::net::NetError::from_io(io),
            _ => None,
        }
    }

    fn hint_text(&self) -> Option<String> {
        let hint = match self {
            CacheError::Io { .. } => {
                "check that the cache directory exists, is yours and has space"
            }
            CacheError::Read(_) | CacheError::Source(_) => {
                "check that the artifact path or download is readable"
            }
            CacheError::TooLarge { .. } => {
                "the artifact is far larger than an MCP server should be; check the source"
            }
            CacheError::Mismatch { .. } => {
                "the bytes are not the ones pinned or published; do not use them, and fetch again from the real source"
            }
            CacheError::BadKey { .. } => "give the full sha256 as 64 hex characters",
            CacheError::Corrupt { .. } => {
                "run `mcp-warden cache verify`, then `mcp-warden cache gc` and fetch the artifact again"
            }
            CacheError::UnsafeDir { .. } => {
                "the directory may hold only regular files, directories and symlinks that stay inside it"
            }
            CacheError::Archive(e) => return crate::diag::Diagnose::hint(e),
        };
        Some(hint.to_string())
    }

    fn io(path: &Path, source: io::Error) -> Self {
        CacheError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A stored artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub sha256: String,
    /// Known when the blob was just stored or re-hashed; `None` from
    /// [`Cache::blob`], which does not read the content.
    pub sha512: Option<String>,
    pub size: u64,
    pub path: PathBuf,
}

/// An unpacked tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// Its name under `trees/sha256/`: the archive blob's SHA-256, or the
    /// tree digest for a local directory.
    pub key: String,
    /// [`tree_digest`] of the content, as recorded when it was made.
    pub digest: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Blob,
    Tree,
}

/// One item of [`Cache::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub key: String,
    /// Bytes of the blob, or of all files in the tree.
    pub size: u64,
    pub path: PathBuf,
}

/// What [`Cache::verify`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The blob's content hashes to something else than its name.
    BlobMismatch { actual: String },
    /// The tree's content no longer has the digest recorded at unpack.
    TreeMismatch { recorded: String, actual: String },
    /// The tree differs from what its archive blob unpacks to (its record
    /// may match: whoever changed the files could rewrite it too).
    TreeNotDerived { derived: String, actual: String },
    /// A tree without its `.tree` record.
    MissingRecord,
    /// A file or directory that the cache did not put there.
    Stray,
    /// Could not be read or walked.
    Unreadable { detail: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.kind {
            ProblemKind::BlobMismatch { actual } => {
                write!(f, "{p}: content has sha256 {actual}, not its name")
            }
            ProblemKind::TreeMismatch { recorded, actual } => write!(
                f,
                "{p}: tree digest is {actual}, recorded {recorded}: files were changed"
            ),
            ProblemKind::TreeNotDerived { derived, actual } => write!(
                f,
                "{p}: tree digest is {actual}, but its archive unpacks to {derived}: files were changed or planted"
            ),
            ProblemKind::MissingRecord => write!(f, "{p}: no recorded tree digest"),
            ProblemKind::Stray => write!(f, "{p}: not a cache entry"),
            ProblemKind::Unreadable { detail } => write!(f, "{p}: {detail}"),
        }
    }
}

/// What [`Cache::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub blobs: u64,
    pub trees: u64,
    pub tmp: u64,
    pub bytes: u64,
}

/// Held while a [`Cache::lock`] is in force; dropping it releases the lock.
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    blobs: PathBuf,
    trees: PathBuf,
    tmp: PathBuf,
}

impl Cache {
    /// Opens the cache at `root`, creating its directories (0700) as needed.
    pub fn open(root: &Path) -> Result<Cache, CacheError> {
        let c = Cache::at(root);
        for d in [&c.root, &c.blobs, &c.trees, &c.tmp] {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(d).map_err(|e| CacheError::io(d, e))?;
        }
        Ok(c)
    }

    /// The cache at `root`, for naming its paths; nothing is created or
    /// read ([`Cache::open`] for that).
    pub fn at(root: &Path) -> Cache {
        Cache {
            root: root.to_path_buf(),
            blobs: root.join("blobs").join("sha256"),
            trees: root.join("trees").join("sha256"),
            tmp: root.join("tmp"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock_file(&self) -> Result<File, CacheError> {
        let p = self.root.join(".lock");
        let mut o = OpenOptions::new();
        o.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        o.open(&p).map_err(|e| CacheError::io(&p, e))
    }

    /// Takes the cache's exclusive lock, waiting for other holders.
    /// Held per open file, so a second `lock` in the same process waits
    /// too: do not call it while holding one.
    pub fn lock(&self) -> Result<CacheLock, CacheError> {
        let f = self.lock_file()?;
        f.lock()
            .map_err(|e| CacheError::io(&self.root.join(".lock"), e))?;
        Ok(CacheLock { _file: f })
    }

    /// Like [`Cache::lock`], but returns `None` at once when another
    /// holder has it.
    pub fn try_lock(&self) -> Result<Option<CacheLock>, CacheError> {
        let f = self.lock_file()?;
        match f.try_lock() {
            Ok(()) => Ok(Some(CacheLock { _file: f })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(CacheError::io(&self.root.join(".lock"), e)),
        }
    }

    /// Where the blob `key` is (or would be) stored.
    pub fn blob_path(&self, key: &str) -> PathBuf {
        self.blobs.join(key)
    }

    /// Where the tree `key` records its digest.
    pub fn tree_record(&self, key: &str) -> PathBuf {
        self.trees.join(format!("{key}.tree"))
    }

    /// Stores what `r` yields, hashing SHA-256 and SHA-512 in the same
    /// pass as the write; more than `limit` bytes fail with `TooLarge`
    /// without reading further. Every digest in `expect` must match. No
    /// partial file survives an error; an existing blob with the same
    /// content is kept and returned.
    pub fn put_reader(
        &self,
        r: impl Read,
        limit: u64,
        expect: &[Digest],
    ) -> Result<Blob, CacheError> {
        let mut tmp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&self.tmp)
            .map_err(|e| CacheError::io(&self.tmp, e))?;
        let tmp_path = tmp.path().to_path_buf();
        let mut h256 = Algorithm::Sha256.hasher();
        let mut h512 = Algorithm::Sha512.hasher();
        let mut tee = Tee {
            inner: r,
            out: tmp.as_file_mut(),
            n: 0,
            limit,
            over: false,
            write_err: None,
        };
        let res = {
            let mut sinks: [&mut dyn Sink; 2] = [&mut h256, &mut h512];
            digest::feed(&mut tee, &mut sinks)
        };
        if tee.over {
            return Err(CacheError::TooLarge { limit });
        }
        if let Some(e) = tee.write_err.take() {
            return Err(CacheError::io(&tmp_path, e));
        }
        let size = res.map_err(CacheError::Read)?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| CacheError::io(&tmp_path, e))?;
        let got = [Hasher::finish(h256), Hasher::finish(h512)];
        for want in expect {
            if let Some(have) = got.iter().find(|d| d.algorithm == want.algorithm)
                && have != want
            {
                return Err(CacheError::Mismatch {
                    expected: want.to_string(),
                    actual: have.to_string(),
                });
            }
        }
        let sha256 = got[0].hex();
        let dest = self.blob_path(&sha256);
        set_mode(&tmp_path, 0o444)?;
        match tmp.persist_noclobber(&dest) {
            Ok(_) => sync_dir(&self.blobs),
            // Someone stored the same content first: theirs is complete
            // (it got there by rename), ours is dropped and deleted.
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(CacheError::io(&dest, e.error)),
        }
        Ok(Blob {
            sha256,
            sha512: Some(got[1].hex()),
            size,
            path: dest,
        })
    }

    /// [`Cache::put_reader`] on a local file.
    pub fn put_file(&self, path: &Path, limit: u64, expect: &[Digest]) -> Result<Blob, CacheError> {
        let (file, meta) = fsutil::open_file(path)?;
        if meta.len() > limit {
            return Err(CacheError::TooLarge { limit });
        }
        self.put_reader(file, limit, expect)
    }

    /// The stored blob named `sha256_hex`, if any, without reading it.
    pub fn blob(&self, sha256_hex: &str) -> Result<Option<Blob>, CacheError> {
        check_key(sha256_hex)?;
        let path = self.blob_path(sha256_hex);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CacheError::io(&path, e)),
        };
        if !meta.is_file() {
            return Err(CacheError::Corrupt {
                path,
                detail: "not a regular file".into(),
            });
        }
        Ok(Some(Blob {
            sha256: sha256_hex.to_string(),
            sha512: None,
            size: meta.len(),
            path,
        }))
    }

    /// The stored blob named `sha256_hex`, re-hashed: fails with `Corrupt`
    /// when its content does not match its name; fills in `sha512`.
    pub fn blob_verified(&self, sha256_hex: &str) -> Result<Option<Blob>, CacheError> {
        let Some(mut b) = self.blob(sha256_hex)? else {
            return Ok(None);
        };
        let (size, d) = hash_file(&b.path, &[Algorithm::Sha256, Algorithm::Sha512])?;
        if d[0].hex() != b.sha256 {
            return Err(CacheError::Corrupt {
                path: b.path,
                detail: format!("content has sha256 {}", d[0].hex()),
            });
        }
        b.size = size;
        b.sha512 = Some(d[1].hex());
        Ok(Some(b))
    }

    /// Re-hashes the blob's file: true when it still has the blob's
    /// SHA-256 (and SHA-512, when known).
    pub fn rehash(&self, blob: &Blob) -> Result<bool, CacheError> {
        let mut algs = vec![Algorithm::Sha256];
        if blob.sha512.is_some() {
            algs.push(Algorithm::Sha512);
        }
        let (_, d) = hash_file(&blob.path, &algs)?;
        Ok(d[0].hex() == blob.sha256
            && blob
                .sha512
                .as_ref()
                .is_none_or(|s| d.get(1).map(Digest::hex).as_ref() == Some(s)))
    }

    /// Unpacks an archive blob into `trees/sha256/<blob sha256>`.
    ///
    /// The tree is always derived from the blob's bytes, never taken on
    /// the word of what is already in the cache: the blob is copied into
    /// a private unlinked file while it is hashed, that copy (which no
    /// other process can reach by name) is what is extracted, and a tree
    /// already under the key is kept only when its content equals the
    /// derived one; otherwise it is replaced. So a planted tree, with a
    /// record to match, is never pinned, and `add` after a mismatch
    /// repairs it.
    pub fn unpack(&self, blob: &Blob, kind: Kind, limits: &Limits) -> Result<Tree, CacheError> {
        check_key(&blob.sha256)?;
        self.extract_private(blob, kind, limits, |dest| {
            self.install_derived(dest, &blob.sha256)
        })
    }

    /// Extracts a private copy of the blob ([`Cache::private_copy`]) into a
    /// work directory, hands it to `then`, and removes what is left.
    fn extract_private<T>(
        &self,
        blob: &Blob,
        kind: Kind,
        limits: &Limits,
        then: impl FnOnce(&Path) -> Result<T, CacheError>,
    ) -> Result<T, CacheError> {
        let private = self.private_copy(blob)?;
        let work = self.work_dir()?;
        let dest = work.path().join("tree");
        let res = archive::extract_file(private, kind, &dest, limits)
            .map_err(CacheError::from)
            .and_then(|_| then(&dest));
        finish_work(work, &dest);
        res
    }

    /// The blob's bytes in an unlinked file of `tmp/`, checked against its
    /// SHA-256 as they were copied.
    fn private_copy(&self, blob: &Blob) -> Result<File, CacheError> {
        let mut src = open_nofollow(&blob.path)?;
        let mut copy =
            tempfile::tempfile_in(&self.tmp).map_err(|e| CacheError::io(&self.tmp, e))?;
        let mut h = Algorithm::Sha256.hasher();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CacheError::io(&blob.path, e)),
            };
            h.update(&buf[..n]);
            copy.write_all(&buf[..n])
                .map_err(|e| CacheError::io(&self.tmp, e))?;
        }
        let actual = h.finish().hex();
        if actual != blob.sha256 {
            return Err(CacheError::Corrupt {
                path: blob.path.clone(),
                detail: format!("content has sha256 {actual}"),
            });
        }
        copy.seek(io::SeekFrom::Start(0))
            .map_err(|e| CacheError::io(&self.tmp, e))?;
        Ok(copy)
    }

    /// The tree digest the blob `key` unpacks to, or `None` when there is
    /// no such blob or it is not an archive (a local directory's tree).
    fn derive(&self, key: &str) -> Result<Option<String>, CacheError> {
        let path = self.blob_path(key);
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        let Some(kind) = archive::kind_of_file(&path).map_err(|e| CacheError::io(&path, e))? else {
            return Ok(None);
        };
        let blob = Blob {
            sha256: key.to_string(),
            sha512: None,
            size: 0,
            path,
        };
        self.extract_private(&blob, kind, &Limits::default(), tree_digest)
            .map(Some)
    }

    /// [`Cache::install_sealed`] for a tree derived from a blob, sealed and
    /// hashed once here: a tree already under `key` whose content differs
    /// from `dest` is replaced.
    fn install_derived(&self, dest: &Path, key: &str) -> Result<Tree, CacheError> {
        seal(dest)?;
        let derived = tree_digest(dest)?;
        let target = self.trees.join(key);
        if !self.sound_or_discarded(&target, &derived)? {
            return self.install_sealed(dest, key, derived);
        }
        let record = self.tree_record(key);
        if self.record(key).ok().flatten().as_deref() != Some(derived.as_str()) {
            fsutil::write_atomic(&record, format!("{derived}\n").as_bytes())
                .map_err(|e| CacheError::io(&record, e))?;
        }
        Ok(Tree {
            key: key.to_string(),
            digest: derived,
            path: target,
        })
    }

    /// Whether `target` is a tree with content `digest`. Anything else
    /// there (a tree changed after it was installed, or whatever took its
    /// name) is moved out of the way, so that the tree just made replaces
    /// it rather than being dropped for it.
    fn sound_or_discarded(&self, target: &Path, digest: &str) -> Result<bool, CacheError> {
        let Ok(meta) = fs::symlink_metadata(target) else {
            return Ok(false);
        };
        let sound = meta.is_dir() && tree_digest(target).is_ok_and(|d| d == digest);
        if !sound {
            tracing::warn!(
                "the cached tree {} differs from what was just laid out; replacing it",
                target.display()
            );
            self.discard(target)?;
        }
        Ok(sound)
    }

    /// Moves a damaged tree (or whatever took its name) out of the way
    /// atomically, then removes it.
    fn discard(&self, target: &Path) -> Result<(), CacheError> {
        let aside = self.tmp.join(format!(
            "discard-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        if let Ok(m) = fs::symlink_metadata(target)
            && m.is_dir()
        {
            // Moving a directory to another parent needs write access to it.
            set_mode(target, 0o755)?;
        }
        fs::rename(target, &aside).map_err(|e| CacheError::io(target, e))?;
        sync_dir(&self.trees);
        if fs::symlink_metadata(&aside).is_ok_and(|m| m.is_dir()) {
            remove_tree(&aside);
        } else {
            let _ = fs::remove_file(&aside);
        }
        Ok(())
    }

    /// Copies a local directory into `trees/sha256/<tree digest>`:
    /// regular files, directories, and symlinks whose target stays inside
    /// it; anything else is refused. Limits are those of an archive
    /// (the ratio does not apply).
    pub fn put_dir(&self, dir: &Path, limits: &Limits) -> Result<Tree, CacheError> {
        let meta = fs::symlink_metadata(dir).map_err(|e| CacheError::io(dir, e))?;
        if !meta.is_dir() {
            return Err(CacheError::UnsafeDir {
                path: dir.to_path_buf(),
                reason: "not a directory".into(),
            });
        }
        let work = self.work_dir()?;
        let dest = work.path().join("tree");
        let res = copy_dir(dir, &dest, limits).and_then(|()| self.install_own(&dest));
        finish_work(work, &dest);
        res
    }

    /// A tree that `build` lays out (in a directory of `tmp/` that does
    /// not exist yet; its parent is free for scratch work), installed under
    /// its own tree digest like [`Cache::put_dir`]. `build` need not fsync
    /// what it writes: the tree is made durable at once before it is put in
    /// place.
    pub fn put_built<E: From<CacheError>>(
        &self,
        build: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<Tree, E> {
        let work = self.work_dir()?;
        let dest = work.path().join("tree");
        let res = build(&dest).and_then(|()| {
            sync_written(&dest).map_err(|e| CacheError::io(&dest, e))?;
            Ok(self.install_own(&dest)?)
        });
        finish_work(work, &dest);
        res
    }

    /// Removes the tree `key` and its record, if there (best effort): what
    /// a failed `add` unpacked and no pinned server uses.
    pub fn discard_tree(&self, key: &str) {
        if key.is_empty() || key.contains(['/', '.']) {
            return;
        }
        let path = self.trees.join(key);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            remove_tree(&path);
        }
        let _ = fs::remove_file(self.tree_record(key));
    }

    fn work_dir(&self) -> Result<tempfile::TempDir, CacheError> {
        tempfile::Builder::new()
            .prefix("unpack-")
            .tempdir_in(&self.tmp)
            .map_err(|e| CacheError::io(&self.tmp, e))
    }

    /// [`Cache::install_sealed`] under the tree's own digest, hashed once,
    /// after it is sealed.
    fn install_own(&self, dest: &Path) -> Result<Tree, CacheError> {
        seal(dest)?;
        let digest = tree_digest(dest)?;
        // A tree already under this digest is kept only if it still has it.
        self.sound_or_discarded(&self.trees.join(&digest), &digest)?;
        self.install_sealed(dest, &digest.clone(), digest)
    }

    /// Renames a finished tree in `tmp/`, sealed already and whose digest
    /// is `digest`, to `key`; when another process got there first, keeps
    /// theirs.
    fn install_sealed(&self, dest: &Path, key: &str, digest: String) -> Result<Tree, CacheError> {
        // The record goes first: a tree in place always has one, and two
        // racing writers write the same text.
        let record = self.tree_record(key);
        fsutil::write_atomic(&record, format!("{digest}\n").as_bytes())
            .map_err(|e| CacheError::io(&record, e))?;
        let target = self.trees.join(key);
        match fs::rename(dest, &target) {
            Ok(()) => {
                sync_dir(&self.trees);
                set_mode(&target, 0o555)?;
            }
            Err(e) => {
                if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
                    remove_tree(dest);
                } else {
                    return Err(CacheError::io(&target, e));
                }
            }
        }
        Ok(Tree {
            key: key.to_string(),
            digest,
            path: target,
        })
    }

    /// The tree under `key`, if there is one, with its recorded digest.
    pub fn tree(&self, key: &str) -> Result<Option<Tree>, CacheError> {
        check_key(key)?;
        let path = self.trees.join(key);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(CacheError::Corrupt {
                    path,
                    detail: "not a directory".into(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CacheError::io(&path, e)),
        }
        let digest = self.record(key)?.ok_or_else(|| CacheError::Corrupt {
            path: path.clone(),
            detail: "no recorded tree digest".into(),
        })?;
        Ok(Some(Tree {
            key: key.to_string(),
            digest,
            path,
        }))
    }

    fn record(&self, key: &str) -> Result<Option<String>, CacheError> {
        let p = self.tree_record(key);
        match fsutil::read_text_bounded(&p, 200) {
            Ok(s) => {
                let d = s.trim_end().to_string();
                check_key(&d).map_err(|_| CacheError::Corrupt {
                    path: p,
                    detail: "the record is not a sha256 digest".into(),
                })?;
                Ok(Some(d))
            }
            Err(ReadError::Missing { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Blobs and trees, with sizes, sorted by kind then key.
    pub fn list(&self) -> Result<Vec<Entry>, CacheError> {
        let mut out = Vec::new();
        for (name, path) in read_names(&self.blobs)? {
            if check_key(&name).is_err() {
                continue;
            }
            let meta = fs::symlink_metadata(&path).map_err(|e| CacheError::io(&path, e))?;
            if meta.is_file() {
                out.push(Entry {
                    kind: EntryKind::Blob,
                    key: name,
                    size: meta.len(),
                    path,
                });
            }
        }
        for (name, path) in read_names(&self.trees)? {
            if check_key(&name).is_err() {
                continue;
            }
            out.push(Entry {
                kind: EntryKind::Tree,
                key: name,
                size: tree_size(&path),
                path,
            });
        }
        out.sort_by(|a, b| (a.kind as u8, &a.key).cmp(&(b.kind as u8, &b.key)));
        Ok(out)
    }

    /// Re-hashes every blob against its name and every tree against its
    /// recorded digest; also reports files the cache did not put there.
    pub fn verify(&self) -> Result<Vec<Problem>, CacheError> {
        let mut problems = Vec::new();
        let unreadable = |path: &Path, e: &dyn fmt::Display| Problem {
            path: path.to_path_buf(),
            kind: ProblemKind::Unreadable {
                detail: e.to_string(),
            },
        };
        for (name, path) in read_names(&self.blobs)? {
            if check_key(&name).is_err() {
                problems.push(Problem {
                    path,
                    kind: ProblemKind::Stray,
                });
                continue;
            }
            match hash_file(&path, &[Algorithm::Sha256]) {
                Ok((_, d)) if d[0].hex() == name => {}
                Ok((_, d)) => problems.push(Problem {
                    path,
                    kind: ProblemKind::BlobMismatch { actual: d[0].hex() },
                }),
                Err(e) => problems.push(unreadable(&path, &e)),
            }
        }
        for (name, path) in read_names(&self.trees)? {
            if let Some(k) = name.strip_suffix(".tree")
                && check_key(k).is_ok()
            {
                continue;
            }
            if check_key(&name).is_err() || !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                problems.push(Problem {
                    path,
                    kind: ProblemKind::Stray,
                });
                continue;
            }
            let recorded = match self.record(&name) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    problems.push(Problem {
                        path,
                        kind: ProblemKind::MissingRecord,
                    });
                    continue;
                }
                Err(e) => {
                    problems.push(unreadable(&path, &e));
                    continue;
                }
            };
            let actual = match tree_digest(&path) {
                Ok(actual) => actual,
                Err(e) => {
                    problems.push(unreadable(&path, &e));
                    continue;
                }
            };
            if actual != recorded {
                problems.push(Problem {
                    path,
                    kind: ProblemKind::TreeMismatch { recorded, actual },
                });
                continue;
            }
            // The record is only as good as the files beside it: a tree
            // whose archive is here is unpacked again and compared.
            match self.derive(&name) {
                Ok(Some(derived)) if derived != actual => problems.push(Problem {
                    path,
                    kind: ProblemKind::TreeNotDerived { derived, actual },
                }),
                Ok(_) => {}
                Err(e) => problems.push(unreadable(&path, &e)),
            }
        }
        Ok(problems)
    }

    /// Removes blobs and trees whose key is not in `keep`, records left
    /// without a tree, and `tmp/` entries older than [`STALE_TMP`].
    /// Hold [`Cache::lock`] around it and around "put, then pin", or a
    /// blob stored meanwhile but not yet pinned may go.
    pub fn gc(&self, keep: &HashSet<String>) -> Result<GcReport, CacheError> {
        let mut r = GcReport::default();
        for (name, path) in read_names(&self.blobs)? {
            if check_key(&name).is_err() || keep.contains(&name) {
                continue;
            }
            let size = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&path).map_err(|e| CacheError::io(&path, e))?;
            r.blobs += 1;
            r.bytes += size;
        }
        for (name, path) in read_names(&self.trees)? {
            if let Some(k) = name.strip_suffix(".tree") {
                if check_key(k).is_ok() && !keep.contains(k) {
                    fs::remove_file(&path).map_err(|e| CacheError::io(&path, e))?;
                }
                continue;
            }
            if check_key(&name).is_err() || keep.contains(&name) {
                continue;
            }
            r.bytes += tree_size(&path);
            remove_tree(&path);
            if fs::symlink_metadata(&path).is_ok() {
                return Err(CacheError::io(
                    &path,
                    io::Error::other("could not remove the tree"),
                ));
            }
            r.trees += 1;
        }
        let now = SystemTime::now();
        for (_, path) in read_names(&self.tmp)? {
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age < STALE_TMP {
                continue;
            }
            if meta.is_dir() {
                r.bytes += tree_size(&path);
                remove_tree(&path);
            } else {
                r.bytes += meta.len();
                let _ = fs::remove_file(&path);
            }
            r.tmp += 1;
        }
        Ok(r)
    }
}

/// Copies `r` into `out` while the digests read it, stopping past `limit`.
struct Tee<'a, R> {
    inner: R,
    out: &'a mut File,
    n: u64,
    limit: u64,
    over: bool,
    write_err: Option<io::Error>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never ask for more than one byte past the limit, so an endless
        // source costs at most `limit + 1` bytes.
        let room = (self.limit - self.n.min(self.limit)).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let k = self.inner.read(&mut buf[..want])?;
        self.n += k as u64;
        if self.n > self.limit {
            self.over = true;
            return Err(io::Error::other("size limit exceeded"));
        }
        if let Err(e) = self.out.write_all(&buf[..k]) {
            let kind = e.kind();
            self.write_err = Some(e);
            return Err(io::Error::new(kind, "writing the cache file failed"));
        }
        Ok(k)
    }
}

fn check_key(key: &str) -> Result<(), CacheError> {
    if key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(CacheError::BadKey {
            key: key.chars().take(80).collect(),
        })
    }
}

fn hash_file(path: &Path, algs: &[Algorithm]) -> Result<(u64, Vec<Digest>), CacheError> {
    let f = open_nofollow(path)?;
    digest::digest_reader(f, algs).map_err(|e| CacheError::io(path, e))
}

/// Opens a regular file without following a symlink at its last component.
fn open_nofollow(path: &Path) -> Result<File, CacheError> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let f = o.open(path).map_err(|e| CacheError::io(path, e))?;
    let m = f.metadata().map_err(|e| CacheError::io(path, e))?;
    if !m.is_file() {
        return Err(CacheError::UnsafeDir {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        });
    }
    Ok(f)
}

/// Names and paths in a directory, sorted by name; names that are not
/// UTF-8 are shown lossily (they are never valid keys).
fn read_names(dir: &Path) -> Result<Vec<(String, PathBuf)>, CacheError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| CacheError::io(dir, e))? {
        let e = e.map_err(|e| CacheError::io(dir, e))?;
        out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
    }
    out.sort();
    Ok(out)
}

fn finish_work(work: tempfile::TempDir, dest: &Path) {
    // A sealed tree that lost the race, or a half-written one, has
    // read-only directories that the TempDir's own removal cannot empty.
    remove_tree(dest);
    let _ = work.close();
}

/// Walks a tree without following symlinks, depth first; `f` sees each
/// entry's path relative to `root` and its metadata.
fn walk(
    root: &Path,
    f: &mut dyn FnMut(&Path, &Path, &fs::Metadata) -> Result<(), CacheError>,
) -> Result<(), CacheError> {
    let mut stack = vec![(root.to_path_buf(), PathBuf::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(CacheError::UnsafeDir {
                path: dir,
                reason: format!("nested deeper than {MAX_DEPTH} directories"),
            });
        }
        for e in fs::read_dir(&dir).map_err(|e| CacheError::io(&dir, e))? {
            let e = e.map_err(|e| CacheError::io(&dir, e))?;
            let path = e.path();
            let r = rel.join(e.file_name());
            let meta = fs::symlink_metadata(&path).map_err(|e| CacheError::io(&path, e))?;
            f(&path, &r, &meta)?;
            if meta.is_dir() {
                stack.push((path, r, depth + 1));
            }
        }
    }
    Ok(())
}

fn tree_size(root: &Path) -> u64 {
    let mut n = 0;
    let _ = walk(root, &mut |_, _, m| {
        if m.is_file() {
            n += m.len();
        }
        Ok(())
    });
    n
}

/// Makes a finished tree read-only: files 0444 (0555 when executable),
/// directories 0555; the top directory stays writable until it is renamed
/// into place (moving a directory needs write access to it).
fn seal(root: &Path) -> Result<(), CacheError> {
    walk(root, &mut |p, _, m| {
        if m.is_dir() {
            set_mode(p, 0o555)
        } else if m.is_file() {
            set_mode(p, if is_exec(m) { 0o555 } else { 0o444 })
        } else {
            Ok(())
        }
    })
}

/// Removes a tree that may have read-only directories; best effort, a
/// missing path is fine.
fn remove_tree(root: &Path) {
    if !fs::symlink_metadata(root).is_ok_and(|m| m.is_dir()) {
        let _ = fs::remove_file(root);
        return;
    }
    let _ = set_mode(root, 0o700);
    let _ = walk(root, &mut |p, _, m| {
        if m.is_dir() {
            let _ = set_mode(p, 0o700);
        }
        Ok(())
    });
    let _ = fs::remove_dir_all(root);
}

#[cfg(unix)]
fn is_exec(m: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_exec(_m: &fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) -> Result<(), CacheError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(|e| CacheError::io(p, e))
}

#[cfg(not(unix))]
fn set_mode(_p: &Path, _mode: u32) -> Result<(), CacheError> {
    Ok(())
}

/// Makes everything written under `dir` durable: one syncfs of its file
/// system (Linux), else an fsync of every file.
fn sync_written(dir: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        crate::launch::sys::syncfs(&File::open(dir)?)
    }
    #[cfg(not(target_os = "linux"))]
    {
        fn each(p: &Path) -> io::Result<()> {
            for e in fs::read_dir(p)? {
                let e = e?;
                let t = e.file_type()?;
                if t.is_dir() {
                    each(&e.path())?;
                } else if t.is_file() {
                    File::open(e.path())?.sync_all()?;
                }
            }
            Ok(())
        }
        each(dir)
    }
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().replace('\\', "/").into_bytes()
}

/// The digest of a directory's content, independent of timestamps,
/// ownership and the order the file system lists entries in.
///
/// The listing hashed is the line `mcp-warden-tree-v1`, then one line per
/// entry below `dir` (not `dir` itself), sorted by the bytes of the
/// relative path (components joined by `/`):
///
/// ```text
/// d - - <path>              a directory
/// f x <sha256> <path>       a regular file with any execute bit set
/// f - <sha256> <path>       any other regular file
/// l - <sha256> <path>       a symlink; the hash is of its target's bytes
/// ```
///
/// `<sha256>` is lowercase hex; in `<path>`, `%` is written `%25` and a
/// newline `%0A`, so every listing reads back one way. Each line ends in
/// `\n`. The result is the lowercase hex SHA-256 of the whole listing.
/// Any other kind of file (device, fifo, socket) is an error.
pub fn tree_digest(dir: &Path) -> Result<String, CacheError> {
    Ok(listing_digest(&tree_listing(dir)?))
}

/// What [`tree_digest`] hashes: each entry's path (relative, as bytes)
/// and its head (`f x HEX`, `d - -`, `l - HEX`), sorted by path. Compared
/// between two trees, it names the files that differ.
pub fn tree_listing(dir: &Path) -> Result<Vec<(Vec<u8>, String)>, CacheError> {
    let mut items: Vec<(Vec<u8>, String)> = Vec::new();
    walk(dir, &mut |p, rel, m| {
        if items.len() >= TREE_ENTRY_CAP {
            return Err(CacheError::UnsafeDir {
                path: dir.to_path_buf(),
                reason: format!("more than {TREE_ENTRY_CAP} entries"),
            });
        }
        let ft = m.file_type();
        let head = if ft.is_dir() {
            "d - -".to_string()
        } else if ft.is_file() {
            let (_, d) = hash_file(p, &[Algorithm::Sha256])?;
            format!("f {} {}", if is_exec(m) { "x" } else { "-" }, d[0].hex())
        } else if ft.is_symlink() {
            let t = fs::read_link(p).map_err(|e| CacheError::io(p, e))?;
            let (_, d) = digest::digest_reader(&path_bytes(&t)[..], &[Algorithm::Sha256])
                .map_err(|e| CacheError::io(p, e))?;
            format!("l - {}", d[0].hex())
        } else {
            return Err(CacheError::UnsafeDir {
                path: p.to_path_buf(),
                reason: "not a regular file, directory or symlink".into(),
            });
        };
        items.push((path_bytes(rel), head));
        Ok(())
    })?;
    items.sort();
    Ok(items)
}

/// The tree digest of a [`tree_listing`].
pub fn listing_digest(items: &[(Vec<u8>, String)]) -> String {
    let mut h = Algorithm::Sha256.hasher();
    h.update(TREE_HEADER.as_bytes());
    for (path, head) in items {
        h.update(head.as_bytes());
        h.update(b" ");
        let mut esc = Vec::with_capacity(path.len());
        for &b in path {
            match b {
                b'%' => esc.extend_from_slice(b"%25"),
                b'\n' => esc.extend_from_slice(b"%0A"),
                b => esc.push(b),
            }
        }
        h.update(&esc);
        h.update(b"\n");
    }
    h.finish().hex()
}

/// Copies a local directory for [`Cache::put_dir`], under `limits`.
fn copy_dir(src: &Path, dest: &Path, limits: &Limits) -> Result<(), CacheError> {
    fs::create_dir(dest).map_err(|e| CacheError::io(dest, e))?;
    set_mode(dest, 0o755)?;
    let mut entries = 0u64;
    let mut total = 0u64;
    let mut links: Vec<(PathBuf, PathBuf, Vec<u8>)> = Vec::new();
    walk(src, &mut |p, rel, m| {
        entries += 1;
        if entries > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: limits.max_entries,
            }
            .into());
        }
        let out = dest.join(rel);
        let ft = m.file_type();
        if ft.is_dir() {
            fs::create_dir(&out).map_err(|e| CacheError::io(&out, e))?;
            set_mode(&out, 0o755)
        } else if ft.is_file() {
            if m.len() > limits.max_entry_bytes {
                return Err(ArchiveError::EntryTooLarge {
                    entry: archive::show(&path_bytes(rel)),
                    limit: limits.max_entry_bytes,
                }
                .into());
            }
            let f = open_nofollow(p)?;
            let mut w = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)
                .map_err(|e| CacheError::io(&out, e))?;
            // Bounded by what the limits allow, whatever the file grows to.
            let room = limits
                .max_entry_bytes
                .min(limits.max_total_bytes.saturating_sub(total));
            let n = io::copy(&mut f.take(room.saturating_add(1)), &mut w)
                .map_err(|e| CacheError::io(p, e))?;
            total += n;
            if n > limits.max_entry_bytes {
                return Err(ArchiveError::EntryTooLarge {
                    entry: archive::show(&path_bytes(rel)),
                    limit: limits.max_entry_bytes,
                }
                .into());
            }
            if total > limits.max_total_bytes {
                return Err(ArchiveError::TooLarge {
                    limit: limits.max_total_bytes,
                }
                .into());
            }
            w.sync_all().map_err(|e| CacheError::io(&out, e))?;
            set_mode(&out, if is_exec(m) { 0o755 } else { 0o644 })
        } else if ft.is_symlink() {
            let t = fs::read_link(p).map_err(|e| CacheError::io(p, e))?;
            links.push((p.to_path_buf(), rel.to_path_buf(), path_bytes(&t)));
            Ok(())
        } else {
            Err(CacheError::UnsafeDir {
                path: p.to_path_buf(),
                reason: "devices, fifos and sockets are not copied".into(),
            })
        }
    })?;
    let set: HashSet<PathBuf> = links.iter().map(|(_, rel, _)| rel.clone()).collect();
    for (p, rel, target) in &links {
        archive::check_link(rel, target, &set).map_err(|reason| CacheError::UnsafeDir {
            path: p.clone(),
            reason: format!("symlink refused: {reason}"),
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let out = dest.join(rel);
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &out)
                .map_err(|e| CacheError::io(&out, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    use std::sync::{Arc, Barrier};

    const ABC256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    struct T {
        dir: tempfile::TempDir,
        cache: Cache,
    }

    impl T {
        fn new() -> T {
            let dir = tempfile::tempdir().unwrap();
            let cache = Cache::open(&dir.path().join("cache")).unwrap();
            T { dir, cache }
        }
        fn p(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
        fn count(&self, sub: &str) -> usize {
            fs::read_dir(self.cache.root().join(sub)).unwrap().count()
        }
        /// A real npm-style tarball made by GNU tar.
        fn tarball(&self) -> PathBuf {
            let d = self.p("src/package");
            fs::create_dir_all(d.join("bin")).unwrap();
            fs::write(d.join("package.json"), "{\"name\":\"x\"}\n").unwrap();
            fs::write(d.join("bin/cli.js"), "#!/usr/bin/env node\n").unwrap();
            fs::set_permissions(d.join("bin/cli.js"), fs::Permissions::from_mode(0o755)).unwrap();
            let a = self.p("x.tgz");
            let out = Command::new("tar")
                .arg("-C")
                .arg(self.p("src"))
                .arg("-czf")
                .arg(&a)
                .arg("package")
                .output()
                .unwrap();
            assert!(out.status.success());
            a
        }
    }

    impl Drop for T {
        fn drop(&mut self) {
            remove_tree(self.dir.path());
        }
    }

    fn sha256_cli(p: &Path) -> String {
        let out = Command::new("sha256sum").arg(p).output().unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    }

    #[test]
    fn put_dedupes_and_is_read_only() {
        let t = T::new();
        let b = t.cache.put_reader(&b"abc"[..], 10, &[]).unwrap();
        assert_eq!(b.sha256, ABC256);
        assert!(b.sha512.as_deref().unwrap().starts_with("ddaf35a193617aba"));
        assert_eq!(b.size, 3);
        assert_eq!(b.path, t.cache.root().join("blobs/sha256").join(ABC256));
        assert_eq!(sha256_cli(&b.path), ABC256);
        assert_eq!(
            fs::metadata(&b.path).unwrap().permissions().mode() & 0o777,
            0o444
        );
        let again = t.cache.put_reader(&b"abc"[..], 10, &[]).unwrap();
        assert_eq!(again, b);
        assert_eq!(t.count("blobs/sha256"), 1);
        assert_eq!(t.count("tmp"), 0);
        let got = t.cache.blob(ABC256).unwrap().unwrap();
        assert_eq!((got.size, got.sha512), (3, None));
        assert!(t.cache.rehash(&b).unwrap());
        assert_eq!(
            t.cache.blob_verified(ABC256).unwrap().unwrap().sha512,
            b.sha512
        );
        assert!(t.cache.blob(&"0".repeat(64)).unwrap().is_none());
        assert!(matches!(
            t.cache.blob("../etc"),
            Err(CacheError::BadKey { .. })
        ));
        assert!(matches!(
            t.cache.blob(&ABC256.to_uppercase()),
            Err(CacheError::BadKey { .. })
        ));
        // A file put by path, checked against the digest sha256sum gives.
        fs::write(t.p("f"), b"hello\n").unwrap();
        let want: Digest = format!("sha256:{}", sha256_cli(&t.p("f"))).parse().unwrap();
        let b = t.cache.put_file(&t.p("f"), 100, &[want]).unwrap();
        assert_eq!(fs::read(&b.path).unwrap(), b"hello\n");
    }

    #[test]
    fn digest_mismatch_leaves_nothing() {
        let t = T::new();
        let wrong: Digest = format!("sha256:{}", "0".repeat(64)).parse().unwrap();
        let e = t.cache.put_reader(&b"abc"[..], 10, &[wrong]).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, CacheError::Mismatch { .. }));
        assert!(
            msg.contains(&"0".repeat(64)) && msg.contains(ABC256),
            "{msg}"
        );
        // A wrong sha512 next to a right sha256 fails too.
        let right: Digest = format!("sha256:{ABC256}").parse().unwrap();
        let wrong512: Digest = format!("sha512:{}", "1".repeat(128)).parse().unwrap();
        let e = t
            .cache
            .put_reader(&b"abc"[..], 10, &[right, wrong512])
            .unwrap_err();
        assert!(matches!(e, CacheError::Mismatch { .. }), "{e}");
        assert_eq!(t.count("blobs/sha256"), 0);
        assert_eq!(t.count("tmp"), 0);
    }

    #[test]
    fn too_large_leaves_nothing_and_stops_reading() {
        let t = T::new();
        // An endless source: only the limit ends it.
        let e = t.cache.put_reader(io::repeat(7), 1 << 20, &[]).unwrap_err();
        assert!(
            matches!(e, CacheError::TooLarge { limit } if limit == 1 << 20),
            "{e}"
        );
        let e = t.cache.put_reader(&[0u8; 11][..], 10, &[]).unwrap_err();
        assert!(matches!(e, CacheError::TooLarge { limit: 10 }));
        fs::write(t.p("f"), [1u8; 11]).unwrap();
        assert!(matches!(
            t.cache.put_file(&t.p("f"), 10, &[]),
            Err(CacheError::TooLarge { limit: 10 })
        ));
        assert_eq!(t.count("blobs/sha256"), 0);
        assert_eq!(t.count("tmp"), 0);
        assert!(t.cache.put_reader(&[0u8; 10][..], 10, &[]).is_ok());
    }

    #[test]
    fn unpack_and_verify_detect_tampering() {
        let t = T::new();
        let blob = t.cache.put_file(&t.tarball(), 1 << 20, &[]).unwrap();
        let tree = t
            .cache
            .unpack(&blob, Kind::TarGz, &Limits::default())
            .unwrap();
        assert_eq!(tree.key, blob.sha256);
        assert_eq!(tree.digest, tree_digest(&tree.path).unwrap());
        let cli = tree.path.join("package/bin/cli.js");
        assert_eq!(fs::read_to_string(&cli).unwrap(), "#!/usr/bin/env node\n");
        assert_eq!(
            fs::metadata(&cli).unwrap().permissions().mode() & 0o777,
            0o555
        );
        assert_eq!(
            fs::metadata(tree.path.join("package/package.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o444
        );
        // Again: the same tree, nothing new.
        assert_eq!(
            t.cache
                .unpack(&blob, Kind::TarGz, &Limits::default())
                .unwrap(),
            tree
        );
        assert_eq!(t.count("tmp"), 0);
        assert!(t.cache.verify().unwrap().is_empty());
        assert_eq!(t.cache.list().unwrap().len(), 2);

        // Tamper with a tree file.
        let pj = tree.path.join("package/package.json");
        fs::set_permissions(&pj, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&pj, "{\"name\":\"evil\"}\n").unwrap();
        let problems = t.cache.verify().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(matches!(problems[0].kind, ProblemKind::TreeMismatch { .. }));
        // Tamper with the blob: one byte.
        fs::set_permissions(&blob.path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut bytes = fs::read(&blob.path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&blob.path, &bytes).unwrap();
        let problems = t.cache.verify().unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| matches!(
            &p.kind,
            ProblemKind::BlobMismatch { actual } if *actual == sha256_cli(&blob.path)
        )));
        assert!(!t.cache.rehash(&blob).unwrap());
        assert!(matches!(
            t.cache.blob_verified(&blob.sha256),
            Err(CacheError::Corrupt { .. })
        ));
        // A changed blob is not unpacked under its old name.
        remove_tree(&tree.path);
        assert!(matches!(
            t.cache.unpack(&blob, Kind::TarGz, &Limits::default()),
            Err(CacheError::Corrupt { .. })
        ));
    }

    #[test]
    fn failed_unpack_leaves_nothing() {
        let t = T::new();
        let a = t.tarball();
        let bytes = fs::read(&a).unwrap();
        let blob = t
            .cache
            .put_reader(&bytes[..bytes.len() / 2], 1 << 20, &[])
            .unwrap();
        let e = t
            .cache
            .unpack(&blob, Kind::TarGz, &Limits::default())
            .unwrap_err();
        assert!(
            matches!(e, CacheError::Archive(ArchiveError::Corrupt { .. })),
            "{e}"
        );
        assert_eq!(t.count("tmp"), 0);
        assert_eq!(t.count("trees/sha256"), 0);
    }

    #[test]
    fn tree_digest_ignores_times_sees_content_modes_names() {
        let t = T::new();
        let d = t.p("d");
        fs::create_dir_all(d.join("sub")).unwrap();
        fs::write(d.join("sub/a"), "a").unwrap();
        fs::write(d.join("b%\n"), "b").unwrap();
        let d0 = tree_digest(&d).unwrap();
        File::options()
            .write(true)
            .open(d.join("sub/a"))
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(tree_digest(&d).unwrap(), d0);
        fs::set_permissions(d.join("sub/a"), fs::Permissions::from_mode(0o744)).unwrap();
        let d1 = tree_digest(&d).unwrap();
        assert_ne!(d1, d0);
        fs::write(d.join("sub/a"), "A").unwrap();
        let d2 = tree_digest(&d).unwrap();
        assert_ne!(d2, d1);
        fs::rename(d.join("sub/a"), d.join("sub/c")).unwrap();
        assert_ne!(tree_digest(&d).unwrap(), d2);
        fs::create_dir(d.join("empty")).unwrap();
        let d3 = tree_digest(&d).unwrap();
        std::os::unix::fs::symlink("sub/c", d.join("l")).unwrap();
        assert_ne!(tree_digest(&d).unwrap(), d3);
        // The listing as documented, hashed by sha256sum.
        let e = t.p("e");
        fs::create_dir_all(e.join("s")).unwrap();
        fs::write(e.join("s/f"), "hi").unwrap();
        fs::write(t.p("hi"), "hi").unwrap();
        let listing = format!(
            "mcp-warden-tree-v1\nd - - s\nf - {} s/f\n",
            sha256_cli(&t.p("hi"))
        );
        fs::write(t.p("listing"), listing).unwrap();
        assert_eq!(tree_digest(&e).unwrap(), sha256_cli(&t.p("listing")));
    }

    /// A tree changed in place after it was installed is replaced by the
    /// next copy laid out under the same digest (`add` again), not kept
    /// for it: both for trees made here (put_dir, put_built) and for
    /// trees unpacked from an archive.
    #[test]
    fn a_changed_tree_is_replaced_when_laid_out_again() {
        let t = T::new();
        let d = t.p("d");
        fs::create_dir_all(d.join("lib")).unwrap();
        fs::write(d.join("lib/x.js"), "x").unwrap();
        let tree = t.cache.put_dir(&d, &Limits::default()).unwrap();
        let x = tree.path.join("lib/x.js");
        fs::set_permissions(&x, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&x, "evil").unwrap();
        assert_eq!(t.cache.verify().unwrap().len(), 1);
        let again = t.cache.put_dir(&d, &Limits::default()).unwrap();
        assert_eq!(again, tree);
        assert_eq!(fs::read_to_string(&x).unwrap(), "x");
        assert_eq!(tree_digest(&again.path).unwrap(), tree.key);
        assert!(t.cache.verify().unwrap().is_empty());
        assert_eq!(t.count("tmp"), 0);

        let blob = t.cache.put_file(&t.tarball(), 1 << 20, &[]).unwrap();
        let tree = t
            .cache
            .unpack(&blob, Kind::TarGz, &Limits::default())
            .unwrap();
        let pj = tree.path.join("package/package.json");
        let good = fs::read_to_string(&pj).unwrap();
        fs::set_permissions(&pj, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&pj, "{\"name\":\"evil\"}\n").unwrap();
        let again = t
            .cache
            .unpack(&blob, Kind::TarGz, &Limits::default())
            .unwrap();
        assert_eq!(again, tree);
        assert_eq!(fs::read_to_string(&pj).unwrap(), good);
        assert!(t.cache.verify().unwrap().is_empty());
    }

    #[test]
    fn put_dir_copies_and_refuses_escapes() {
        let t = T::new();
        let d = t.p("d");
        fs::create_dir_all(d.join("lib")).unwrap();
        fs::write(d.join("lib/x.js"), "x").unwrap();
        std::os::unix::fs::symlink("lib/x.js", d.join("main.js")).unwrap();
        let tree = t.cache.put_dir(&d, &Limits::default()).unwrap();
        assert_eq!(tree.key, tree_digest(&d).unwrap());
        assert_eq!(tree.digest, tree.key);
        assert_eq!(fs::read_to_string(tree.path.join("main.js")).unwrap(), "x");
        assert!(t.cache.verify().unwrap().is_empty());
        assert_eq!(t.cache.put_dir(&d, &Limits::default()).unwrap(), tree);

        std::os::unix::fs::symlink("../../etc/passwd", d.join("pw")).unwrap();
        let e = t.cache.put_dir(&d, &Limits::default()).unwrap_err();
        assert!(matches!(e, CacheError::UnsafeDir { .. }), "{e}");
        fs::remove_file(d.join("pw")).unwrap();
        let out = Command::new("mkfifo").arg(d.join("pipe")).output().unwrap();
        assert!(out.status.success());
        let e = t.cache.put_dir(&d, &Limits::default()).unwrap_err();
        assert!(matches!(e, CacheError::UnsafeDir { .. }), "{e}");
        fs::remove_file(d.join("pipe")).unwrap();
        let small = Limits {
            max_entry_bytes: 0,
            ..Limits::default()
        };
        assert!(matches!(
            t.cache.put_dir(&d, &small),
            Err(CacheError::Archive(ArchiveError::EntryTooLarge { .. }))
        ));
        assert_eq!(t.count("tmp"), 0);
        assert_eq!(t.count("trees/sha256"), 2);
    }

    #[test]
    fn gc_removes_only_unreferenced() {
        let t = T::new();
        let keep_blob = t.cache.put_reader(&b"keep"[..], 10, &[]).unwrap();
        let drop_blob = t.cache.put_reader(&b"drop"[..], 10, &[]).unwrap();
        let tgz = t.cache.put_file(&t.tarball(), 1 << 20, &[]).unwrap();
        let tree = t
            .cache
            .unpack(&tgz, Kind::TarGz, &Limits::default())
            .unwrap();
        let stale = t.cache.root().join("tmp/blob-stale");
        fs::write(&stale, "12345").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * STALE_TMP)
            .unwrap();
        let fresh = t.cache.root().join("tmp/blob-fresh");
        fs::write(&fresh, "x").unwrap();

        let keep: HashSet<String> = [keep_blob.sha256.clone()].into();
        let r = t.cache.gc(&keep).unwrap();
        assert_eq!((r.blobs, r.trees, r.tmp), (2, 1, 1), "{r:?}");
        assert_eq!(r.bytes, 4 + tgz.size + tree_size_of(&t) + 5);
        assert!(keep_blob.path.exists());
        assert!(!drop_blob.path.exists() && !tgz.path.exists());
        assert!(!tree.path.exists());
        assert!(
            !t.cache
                .root()
                .join(format!("trees/sha256/{}.tree", tgz.sha256))
                .exists()
        );
        assert!(!stale.exists() && fresh.exists());
        assert!(t.cache.verify().unwrap().is_empty());
        let l = t.cache.list().unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].key, keep_blob.sha256);
    }

    /// Bytes of the files in the test tarball.
    fn tree_size_of(_t: &T) -> u64 {
        ("{\"name\":\"x\"}\n".len() + "#!/usr/bin/env node\n".len()) as u64
    }

    #[test]
    fn concurrent_puts_and_unpacks_of_the_same_content() {
        let t = T::new();
        let a = t.tarball();
        let data = Arc::new({
            let mut v = fs::read(&a).unwrap();
            v.extend(std::iter::repeat_n(0x5a, 3 << 20));
            v
        });
        for _ in 0..5 {
            let barrier = Arc::new(Barrier::new(2));
            let results: Vec<Blob> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..2)
                    .map(|_| {
                        let (c, b, d) = (t.cache.clone(), Arc::clone(&barrier), Arc::clone(&data));
                        s.spawn(move || {
                            b.wait();
                            c.put_reader(&d[..], 16 << 20, &[]).unwrap()
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(results[0], results[1]);
            assert_eq!(t.count("blobs/sha256"), 1);
            assert_eq!(t.count("tmp"), 0);
            fs::remove_file(&results[0].path).unwrap();
        }

        let blob = t.cache.put_file(&a, 1 << 20, &[]).unwrap();
        for _ in 0..5 {
            let barrier = Arc::new(Barrier::new(2));
            let trees: Vec<Tree> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..2)
                    .map(|_| {
                        let (c, b, bl) = (t.cache.clone(), Arc::clone(&barrier), blob.clone());
                        s.spawn(move || {
                            b.wait();
                            c.unpack(&bl, Kind::TarGz, &Limits::default()).unwrap()
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(trees[0], trees[1]);
            assert_eq!(tree_digest(&trees[0].path).unwrap(), trees[0].digest);
            assert!(t.cache.verify().unwrap().is_empty());
            assert_eq!(t.count("tmp"), 0);
            assert_eq!(t.count("trees/sha256"), 2);
            remove_tree(&trees[0].path);
        }
    }

    #[test]
    fn lock_is_exclusive() {
        let t = T::new();
        let other = Cache::open(t.cache.root()).unwrap();
        let held = t.cache.lock().unwrap();
        assert!(other.try_lock().unwrap().is_none());
        drop(held);
        assert!(other.try_lock().unwrap().is_some());
    }
}

#[cfg(test)]
mod diagnose_tests {
    use super::*;
    use crate::diag::{Code, Diagnose};
    use crate::net::NetError;

    #[test]
    fn cache_errors_report_their_code_and_hint() {
        let e = CacheError::Mismatch {
            expected: "a".into(),
            actual: "b".into(),
        };
        assert_eq!(e.code(), Code::IntegrityMismatch);
        assert!(Diagnose::hint(&e).unwrap().contains("fetch again"));
    }

    #[test]
    fn a_network_error_inside_a_read_reports_as_itself() {
        let net = NetError::Truncated {
            url: "https://example.com/x".into(),
            got: 1,
            expected: 2,
        };
        let text = net.to_string();
        let e = CacheError::Read(io::Error::other(net));
        let d = e.diagnostic();
        assert_eq!(d.code, Code::FetchFailed);
        assert_eq!(d.message, text);
        assert_eq!(
            d.hint.as_deref(),
            Some("the connection closed early; retry the download")
        );
        let e = CacheError::Read(io::Error::other(NetError::TooLarge {
            url: "https://example.com/x".into(),
            limit: 1,
        }));
        assert_eq!(e.code(), Code::ArtifactTooLarge);
    }
}
