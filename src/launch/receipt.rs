//! Verification receipts: `run` re-hashes a pinned artifact only when
//! something the verdict depends on may have changed.
//!
//! A receipt records the artifact's digest, a digest of the verdict's
//! inputs (the lock entry, the policy and trust files, the advisory
//! database's identity, this version) and a fingerprint of the files on
//! disk (device, inode, size, mtime, ctime and mode of every file). ctime
//! cannot be set back by a user, so rewriting a file and restoring its
//! mtime still changes the fingerprint. Any difference means the full
//! check: re-hash, signatures, policy.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::context::Context;
use crate::fsutil;

const VERSION: u32 = 1;
/// How long a full check stands in for the next ones.
pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Files in a tree beyond this are not fingerprinted (and so always
/// re-hashed); the cache's own unpack limits stay far below.
const MAX_TREE_ENTRIES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Receipt {
    pub version: u32,
    pub sha256: String,
    pub inputs: String,
    pub fingerprint: String,
    /// When the full check passed (RFC 3339).
    pub verified: String,
}

impl Receipt {
    pub fn new(sha256: &str, inputs: &str, fingerprint: &str) -> Self {
        Receipt {
            version: VERSION,
            sha256: sha256.into(),
            inputs: inputs.into(),
            fingerprint: fingerprint.into(),
            verified: jiff::Timestamp::now().to_string(),
        }
    }

    /// Also false once the receipt is older than [`MAX_AGE`] (or dated in
    /// the future): verdicts can depend on the clock (certificate validity,
    /// an SBOM's `max-age`), so they are reached again at least daily.
    pub fn matches(&self, sha256: &str, inputs: &str, fingerprint: &str) -> bool {
        let fresh = self
            .verified
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| jiff::Timestamp::now().duration_since(t).try_into().ok())
            .is_some_and(|age: std::time::Duration| age <= MAX_AGE);
        self.version == VERSION
            && self.sha256 == sha256
            && self.inputs == inputs
            && self.fingerprint == fingerprint
            && fresh
    }
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
    let text = fsutil::read_text_bounded(&path(ctx, server), 4096).ok()?;
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
/// [`policy_digest`] gave them), the advisory database.
pub fn inputs(policy_digest: &str, entry_toml: &str, advisories: Option<&Path>) -> String {
    let mut h = crate::digest::FieldHasher::default();
    h.field("version", env!("CARGO_PKG_VERSION").as_bytes());
    h.field("entry", entry_toml.as_bytes());
    h.field("state", policy_digest.as_bytes());
    // A database of thousands of files is not hashed on every launch: its
    // directory's identity changes when a file is added or removed.
    if let Some(db) = advisories {
        h.field("advisories", db.to_string_lossy().as_bytes());
        let id = std::fs::metadata(db)
            .map(|m| meta_line(&m))
            .unwrap_or_else(|_| "missing".into());
        h.field("advisories", id.as_bytes());
    }
    h.finish()
}

#[cfg(unix)]
fn meta_line(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt as _;
    format!(
        "{}:{}:{}:{}.{}:{}.{}:{:o}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.mode()
    )
}

#[cfg(not(unix))]
fn meta_line(m: &std::fs::Metadata) -> String {
    format!("{}:{:?}", m.len(), m.modified().ok())
}

/// The fingerprint of one open file (its own metadata, not the path's).
pub fn file_fingerprint(m: &std::fs::Metadata) -> String {
    let mut h = sha2::Sha256::new();
    h.update(meta_line(m).as_bytes());
    hex::encode(h.finalize())
}

/// The fingerprint of a tree: every entry's relative path, type, and
/// metadata line, in sorted order. Symbolic links are not followed.
pub fn tree_fingerprint(root: &Path) -> io::Result<String> {
    let mut entries = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let rel = rel.join(e.file_name());
            let m = std::fs::symlink_metadata(root.join(&rel))?;
            if m.is_dir() {
                stack.push(rel.clone());
            }
            entries.push((rel, m));
            if entries.len() > MAX_TREE_ENTRIES {
                return Err(io::Error::other("too many files to fingerprint"));
            }
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = sha2::Sha256::new();
    // The root itself is followed: it may be reached through
    // /proc/self/fd/N (launch::anchor), whose own entry changes each run.
    h.update(meta_line(&std::fs::metadata(root)?).as_bytes());
    for (rel, m) in &entries {
        let bytes = rel.as_os_str().as_encoded_bytes();
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
        h.update(meta_line(m).as_bytes());
        h.update(b"\n");
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_fingerprint_sees_content_mode_and_new_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a.js"), "1").unwrap();
        let a = tree_fingerprint(d.path()).unwrap();
        assert_eq!(a, tree_fingerprint(d.path()).unwrap());
        std::fs::write(d.path().join("sub/a.js"), "2").unwrap();
        let b = tree_fingerprint(d.path()).unwrap();
        assert_ne!(a, b);
        std::fs::write(d.path().join("sub/b.js"), "").unwrap();
        let c = tree_fingerprint(d.path()).unwrap();
        assert_ne!(b, c);
    }

    #[test]
    fn a_rewrite_with_the_old_mtime_still_changes_the_fingerprint() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "aaaa").unwrap();
        let before = std::fs::metadata(&p).unwrap();
        let fp = file_fingerprint(&before);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&p, "bbbb").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(before.modified().unwrap()).unwrap();
        let after = std::fs::metadata(&p).unwrap();
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        assert_ne!(fp, file_fingerprint(&after));
    }

    #[test]
    fn receipts_round_trip_and_garbage_reads_as_none() {
        let d = tempfile::tempdir().unwrap();
        let ctx = Context::new(Some(d.path()), None, Some(d.path())).unwrap();
        assert!(load(&ctx, "srv").is_none());
        let r = Receipt::new("aa", "bb", "cc");
        save(&ctx, "srv", &r).unwrap();
        assert_eq!(load(&ctx, "srv"), Some(r.clone()));
        assert!(r.matches("aa", "bb", "cc"));
        assert!(!r.matches("aa", "bb", "cd"));
        // A day old, or from the future: the full check runs again.
        let mut old = r.clone();
        old.verified = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(25)).to_string();
        assert!(!old.matches("aa", "bb", "cc"));
        old.verified = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
        assert!(!old.matches("aa", "bb", "cc"));
        old.verified = "yesterday".into();
        assert!(!old.matches("aa", "bb", "cc"));
        std::fs::write(path(&ctx, "srv"), "garbage = [").unwrap();
        assert!(load(&ctx, "srv").is_none());
        std::fs::write(path(&ctx, "srv"), vec![b'x'; 10_000]).unwrap();
        assert!(load(&ctx, "srv").is_none());
    }
}
