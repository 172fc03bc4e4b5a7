//! Loading a database: a directory of OSV JSON files, zip archives of
//! them, or one file, within [`Limits`].

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use crate::fsutil::{self, ReadError};

use super::osv::{Advisory, Affected, LoadWarning, Parsed, parse_record, salvage};
use super::{AdvisoryDb, AdvisoryError, KEPT_WARNINGS, Limits, Source, Unreadable};

impl AdvisoryDb {
    /// Reads a directory of OSV JSON files and zip archives of them
    /// (recursively; osv-scanner's offline cache is such a directory), one
    /// zip archive (an ecosystem's `all.zip`), or one JSON file, with the
    /// default [`Limits`].
    pub fn load(path: &Path) -> Result<Self, AdvisoryError> {
        Self::load_with(path, &Limits::default())
    }

    /// Like [`AdvisoryDb::load`]. Malformed, truncated and oversized records
    /// are skipped and counted ([`AdvisoryDb::warnings`], [`Source`]), and
    /// those whose packages can still be read make those packages unknown
    /// ([`Unreadable`]); a path that cannot be read, a limit crossed, or no
    /// usable record at all is an error, because a partial database would
    /// pass what it does not know.
    pub fn load_with(path: &Path, limits: &Limits) -> Result<Self, AdvisoryError> {
        let meta = fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => AdvisoryError::Read(ReadError::Missing {
                path: path.to_path_buf(),
            }),
            _ => AdvisoryError::io(path, e),
        })?;
        let mut loader = Loader::new(path, limits);
        if meta.is_dir() {
            loader.walk()?;
        } else {
            let (mut file, meta) = fsutil::open_file(path)?;
            let mut magic = [0u8; 4];
            let n = read_prefix(&mut file, &mut magic).map_err(|e| AdvisoryError::io(path, e))?;
            if n == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06") {
                loader.read_zip(path, &path.display().to_string(), file, meta.len())?;
            } else {
                loader.read_file(path, path.display().to_string())?;
            }
        }
        if loader.records.is_empty() {
            return Err(AdvisoryError::Empty {
                path: path.to_path_buf(),
                skipped: loader.skipped,
                withdrawn: loader.withdrawn,
            });
        }
        // A day of clock skew is tolerated, as for an SBOM's `max-age`.
        let horizon = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap_or(jiff::Timestamp::MAX);
        let newest = (loader.records.iter())
            .filter_map(|a| {
                a.modified
                    .as_deref()?
                    .trim()
                    .parse::<jiff::Timestamp>()
                    .ok()
            })
            .filter(|t| *t <= horizon)
            .max();
        let source = Source {
            path: path.to_path_buf(),
            records: loader.records.len(),
            skipped: loader.skipped,
            skips: loader.skips,
            newest,
        };
        let mut db = Self::from_records(loader.records);
        db.set_unreadable(loader.unreadable);
        db.sources = vec![source];
        db.warnings = loader.warnings;
        db.warning_count = loader.warning_count;
        db.skipped = loader.skipped;
        db.withdrawn = loader.withdrawn;
        Ok(db)
    }
}

/// What [`walk`] finds below a database directory.
enum Found {
    Json {
        path: PathBuf,
        source: String,
    },
    Zip {
        path: PathBuf,
        source: String,
    },
    /// A directory below `max_depth`, not entered.
    TooDeep {
        source: String,
    },
}

/// The files a database directory's records are read from, in name
/// order: every `*.json` and `*.zip` below `root`. Hidden entries
/// (`.git`) are passed over, and symbolic links to directories are not
/// followed, so a link cannot make a loop. The one walk both the loader
/// and [`AdvisoryDb::identity`] use, so that what is fingerprinted is what
/// is read.
fn walk(
    root: &Path,
    limits: &Limits,
    on: &mut dyn FnMut(Found) -> Result<(), AdvisoryError>,
) -> Result<(), AdvisoryError> {
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let mut entries = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| AdvisoryError::io(&dir, e))? {
            let entry = entry.map_err(|e| AdvisoryError::io(&dir, e))?;
            seen += 1;
            if seen > limits.max_entries {
                return Err(AdvisoryError::TooManyEntries {
                    path: root.to_path_buf(),
                    limit: limits.max_entries,
                });
            }
            entries.push(entry);
        }
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let source = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let ty = entry.file_type().map_err(|e| AdvisoryError::io(&path, e))?;
            if ty.is_dir() {
                if depth < limits.max_depth {
                    subdirs.push(path);
                } else {
                    on(Found::TooDeep { source })?;
                }
            } else if has_suffix(&name, ".json") {
                on(Found::Json { path, source })?;
            } else if has_suffix(&name, ".zip") {
                on(Found::Zip { path, source })?;
            }
        }
        stack.extend(subdirs.into_iter().rev().map(|d| (d, depth + 1)));
    }
    Ok(())
}

impl AdvisoryDb {
    /// What a change to the database at `path` changes, without reading
    /// it: the identity (device, inode, size, mtime, ctime, mode; links to
    /// files followed, as the loader follows them) of every file the
    /// loader would read, with its name. A record added, removed or
    /// rewritten anywhere below, at any depth, changes it; a launch
    /// receipt keyed by it is then stale. Stats only: a database of
    /// thousands of files costs milliseconds, not a load.
    pub fn identity(path: &Path) -> String {
        let mut h = crate::digest::FieldHasher::default();
        let stat = |h: &mut crate::digest::FieldHasher, source: &str, path: &Path| {
            h.field("file", source.as_bytes());
            let line = match fs::metadata(path) {
                Ok(m) => crate::receipt::Stat::of(&m).line(),
                Err(e) => format!("unreadable: {e}"),
            };
            h.field("stat", line.as_bytes());
        };
        match fs::metadata(path) {
            Err(e) => h.field("missing", e.to_string().as_bytes()),
            Ok(m) if m.is_dir() => {
                let walked = walk(path, &Limits::default(), &mut |found| {
                    match found {
                        Found::Json { path, source } | Found::Zip { path, source } => {
                            stat(&mut h, &source, &path)
                        }
                        Found::TooDeep { source } => h.field("too-deep", source.as_bytes()),
                    }
                    Ok(())
                });
                if let Err(e) = walked {
                    h.field("unreadable", e.to_string().as_bytes());
                }
            }
            Ok(_) => stat(&mut h, "", path),
        }
        h.finish()
    }
}

struct Loader<'l> {
    pub(super) root: &'l Path,
    pub(super) limits: &'l Limits,
    pub(super) records: Vec<Advisory>,
    pub(super) by_id: HashMap<String, usize>,
    pub(super) warnings: Vec<LoadWarning>,
    pub(super) warning_count: usize,
    pub(super) skipped: usize,
    /// The first skips, also when other warnings fill `warnings`.
    pub(super) skips: Vec<LoadWarning>,
    pub(super) unreadable: Vec<Unreadable>,
    pub(super) withdrawn: usize,
    pub(super) total_bytes: u64,
}

impl<'l> Loader<'l> {
    fn new(root: &'l Path, limits: &'l Limits) -> Self {
        Loader {
            root,
            limits,
            records: Vec::new(),
            by_id: HashMap::new(),
            warnings: Vec::new(),
            warning_count: 0,
            skipped: 0,
            skips: Vec::new(),
            unreadable: Vec::new(),
            withdrawn: 0,
            total_bytes: 0,
        }
    }

    fn warn(&mut self, source: &str, message: String) {
        self.warning_count += 1;
        if self.warnings.len() < KEPT_WARNINGS {
            self.warnings.push(LoadWarning {
                source: source.to_string(),
                message,
            });
        }
    }

    fn skip(&mut self, source: &str, message: String) {
        self.skipped += 1;
        if self.skips.len() < KEPT_WARNINGS {
            self.skips.push(LoadWarning {
                source: source.to_string(),
                message: message.clone(),
            });
        }
        self.warn(source, message);
    }

    fn count_bytes(&mut self, n: usize) -> Result<(), AdvisoryError> {
        self.total_bytes = self.total_bytes.saturating_add(n as u64);
        if self.total_bytes > self.limits.max_total_bytes {
            return Err(AdvisoryError::TooLarge {
                path: self.root.to_path_buf(),
                limit: self.limits.max_total_bytes,
            });
        }
        Ok(())
    }

    fn add(&mut self, source: &str, bytes: &[u8]) -> Result<(), AdvisoryError> {
        match parse_record(bytes) {
            Ok(Parsed::Record(adv, notes)) => {
                for n in notes {
                    self.warn(source, n);
                }
                self.insert(source, adv)
            }
            Ok(Parsed::Withdrawn) => {
                self.withdrawn += 1;
                Ok(())
            }
            Err(why) => {
                if let Some((id, packages)) = salvage(bytes) {
                    self.unreadable.push(Unreadable {
                        advisory: Advisory {
                            id: crate::text::printable(
                                &id.unwrap_or_else(|| format!("the record in {source}")),
                                200,
                            ),
                            aliases: Vec::new(),
                            summary: None,
                            modified: None,
                            severity: None,
                            cvss_score: None,
                            informational: None,
                            affected: (packages.into_iter())
                                .map(|package| Affected {
                                    package,
                                    versions: Vec::new(),
                                    ranges: Vec::new(),
                                })
                                .collect(),
                        },
                        warning: LoadWarning {
                            source: source.to_string(),
                            message: why.clone(),
                        },
                    });
                }
                self.skip(source, why);
                Ok(())
            }
        }
    }

    /// The same id twice (two feeds, or a repository and its export):
    /// the copy modified last wins, so a match is reported once.
    fn insert(&mut self, source: &str, adv: Advisory) -> Result<(), AdvisoryError> {
        if let Some(&i) = self.by_id.get(&adv.id) {
            let id = adv.id.clone();
            // RFC 3339 UTC timestamps compare as strings.
            if adv.modified > self.records[i].modified {
                self.records[i] = adv;
            }
            self.warn(
                source,
                format!("{id} appears more than once; the copy modified last is used"),
            );
            return Ok(());
        }
        if self.records.len() >= self.limits.max_records {
            return Err(AdvisoryError::TooManyRecords {
                path: self.root.to_path_buf(),
                limit: self.limits.max_records,
            });
        }
        self.by_id.insert(adv.id.clone(), self.records.len());
        self.records.push(adv);
        Ok(())
    }

    fn read_file(&mut self, path: &Path, source: String) -> Result<(), AdvisoryError> {
        match fsutil::read_bounded(path, self.limits.max_record_bytes) {
            Ok(bytes) => {
                self.count_bytes(bytes.len())?;
                self.add(&source, &bytes)
            }
            Err(ReadError::TooLarge { limit, .. }) => {
                self.skip(
                    &source,
                    format!("larger than the {limit}-byte limit for one record"),
                );
                Ok(())
            }
            // Gone since the listing, or not a regular file: not a record.
            Err(
                e @ (ReadError::Missing { .. }
                | ReadError::NotFile { .. }
                | ReadError::Directory { .. }),
            ) => {
                self.skip(&source, e.to_string());
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every `*.json` below the root, and every record in a `*.zip` there,
    /// in name order (see [`walk`]).
    fn walk(&mut self) -> Result<(), AdvisoryError> {
        let (root, limits) = (self.root, self.limits);
        walk(root, limits, &mut |found| match found {
            Found::Json { path, source } => self.read_file(&path, source),
            Found::Zip { path, source } => {
                // osv-scanner's offline cache: one `all.zip` per ecosystem.
                let (file, meta) = fsutil::open_file(&path)?;
                self.read_zip(&path, &source, file, meta.len())
            }
            Found::TooDeep { source } => {
                // Records may be in there: the database is incomplete.
                self.skip(
                    &source,
                    format!(
                        "nested deeper than {} directories; not read",
                        limits.max_depth
                    ),
                );
                Ok(())
            }
        })
    }

    /// Every `*.json` entry of a zip, read in memory only: entry names are
    /// never used as paths. Each entry is bounded while it is inflated, so
    /// a lying header or a bomb stops at the limit.
    fn read_zip(
        &mut self,
        path: &Path,
        archive_name: &str,
        file: fs::File,
        size: u64,
    ) -> Result<(), AdvisoryError> {
        if size > self.limits.max_total_bytes {
            return Err(AdvisoryError::TooLarge {
                path: path.to_path_buf(),
                limit: self.limits.max_total_bytes,
            });
        }
        let mut archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| AdvisoryError::Zip {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if archive.len() > self.limits.max_entries {
            return Err(AdvisoryError::TooManyEntries {
                path: path.to_path_buf(),
                limit: self.limits.max_entries,
            });
        }
        let max = self.limits.max_record_bytes;
        for i in 0..archive.len() {
            let mut entry = match archive.by_index(i) {
                Ok(entry) => entry,
                Err(e) => {
                    self.skip(
                        &format!("{archive_name}!#{i}"),
                        format!("unreadable zip entry: {e}"),
                    );
                    continue;
                }
            };
            // Entry names come from the archive: no control characters reach a
            // terminal through a warning.
            let name =
                crate::text::printable(&String::from_utf8_lossy(entry.name_raw()), usize::MAX);
            if entry.is_dir() || !has_suffix(&name, ".json") {
                continue;
            }
            let source = format!("{archive_name}!{name}");
            if entry.size() > max {
                self.skip(
                    &source,
                    format!("larger than the {max}-byte limit for one record"),
                );
                continue;
            }
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            let read = fsutil::read_at_most(&mut entry, max, &mut bytes);
            drop(entry);
            self.count_bytes(bytes.len())?;
            match read {
                Err(fsutil::LimitError::Io(e)) => {
                    self.skip(&source, format!("could not be decompressed: {e}"))
                }
                Err(fsutil::LimitError::TooLarge { .. }) => self.skip(
                    &source,
                    format!("larger than the {max}-byte limit for one record"),
                ),
                Ok(()) => self.add(&source, &bytes)?,
            }
        }
        Ok(())
    }
}

/// `name` ends in `suffix` (ASCII, any case) after something.
fn has_suffix(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len()
        && name.is_char_boundary(name.len() - suffix.len())
        && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// Reads up to `buf.len()` bytes and rewinds.
fn read_prefix(file: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    file.rewind()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::advisories::test_support::*;
    use crate::sbom::advisories::*;
    use std::io::Write;

    fn write(dir: &Path, rel: &str, bytes: &[u8]) {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }

    fn fixture_files() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![fixtures()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    let name = p.strip_prefix(fixtures()).unwrap().display().to_string();
                    out.push((name, fs::read(&p).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn malformed_records_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in fixture_files() {
            write(dir.path(), &name, &bytes);
        }
        let lodash = fs::read(fixtures().join("npm/GHSA-p6mc-m468-83gw.json")).unwrap();
        write(
            dir.path(),
            "bad/truncated.json",
            &lodash[..lodash.len() / 2],
        );
        write(dir.path(), "bad/array.json", b"[1, 2, 3]");
        write(dir.path(), "bad/no-id.json", br#"{"affected": []}"#);
        write(dir.path(), "bad/empty-id.json", br#"{"id": " "}"#);
        write(dir.path(), "bad/two-keys.json", br#"{"id": "X-10", "affected": [{"package": {"ecosystem": "npm", "name": "a"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1.0.0"}]}]}]}"#);
        write(dir.path(), "bad/binary.json", &[0xff, 0xfe, 0, 1, 2]);
        let deep = format!(
            r#"{{"id": "X-14", "database_specific": {}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        write(dir.path(), "bad/deep.json", deep.as_bytes());
        let mut big = b"{\"id\": \"X-11\", \"summary\": \"".to_vec();
        big.resize(4 * 1024 * 1024 + 1, b'a');
        write(dir.path(), "bad/oversized.json", &big);
        write(
            dir.path(),
            "ok/withdrawn.json",
            br#"{"id": "X-12", "withdrawn": "2024-01-01T00:00:00Z"}"#,
        );
        write(dir.path(), "ok/notes.txt", b"not a record, not read");
        write(dir.path(), ".git/objects/x.json", b"hidden, not read");
        // The same id again, modified later: that copy is kept.
        let newer = String::from_utf8(lodash.clone())
            .unwrap()
            .replace("2022-02-08T22:04:28Z", "2030-01-01T00:00:00Z")
            .replace("\"HIGH\"", "\"CRITICAL\"");
        write(dir.path(), "zz/lodash-again.json", newer.as_bytes());

        let db = AdvisoryDb::load(dir.path()).unwrap();
        assert_eq!(db.len(), 8);
        assert_eq!(db.skipped(), 8, "{:#?}", db.warnings());
        assert_eq!(db.withdrawn(), 1);
        assert_eq!(db.warning_count(), 9); // the duplicate is a warning, not a skip
        let sources: Vec<&str> = db.warnings().iter().map(|w| w.source.as_str()).collect();
        for s in [
            "bad/truncated.json",
            "bad/deep.json",
            "bad/oversized.json",
            "zz/lodash-again.json",
        ] {
            assert!(sources.contains(&s), "{s} in {sources:?}");
        }
        let deep = db
            .warnings()
            .iter()
            .find(|w| w.source == "bad/deep.json")
            .unwrap();
        assert!(deep.message.contains("recursion limit"), "{}", deep.message);
        assert_eq!(
            db.get("GHSA-p6mc-m468-83gw").unwrap().severity,
            Some(Severity::Critical)
        );
        assert_eq!(
            affected_ids(&db, "pkg:npm/lodash@4.17.19"),
            ["GHSA-p6mc-m468-83gw"]
        );
        // The malformed record whose package is still legible (two keys in
        // one event) leaves that package unknown, not clear.
        let m = db.matches("pkg:npm/a@0.5.0", None).unwrap();
        assert_eq!(
            (m.len(), m[0].advisory.id.as_str(), m[0].status),
            (1, "X-10", Status::Unknown)
        );
        assert!(
            m[0].why.starts_with(
                "the advisory record bad/two-keys.json names the package but could not be read (X-10: a range event must have exactly one of"
            ),
            "{}",
            m[0].why
        );
        assert!(ids(&db, "pkg:npm/b@0.5.0").is_empty());
        // What a report says of the database: the skips, and its age by the
        // newest record not dated in the future (the 2030 copy is not).
        let [src] = db.sources() else {
            panic!("one source")
        };
        assert_eq!(
            (src.path.as_path(), src.records, src.skipped),
            (dir.path(), 8, 8)
        );
        assert_eq!(src.skips.len(), 8);
        assert!(src.skips.iter().all(|w| w.source.starts_with("bad/")));
        assert_eq!(
            src.newest,
            Some("2024-02-10T15:57:43Z".parse::<jiff::Timestamp>().unwrap())
        );
    }

    #[test]
    fn salvage_reads_only_packages_and_id() {
        let ok = br#"{"id": " X-1 ", "affected": [{"package": {"ecosystem": "npm", "name": "a"}}, {"package": {"ecosystem": 1, "name": "b"}}, {"ranges": []}, {"package": {"ecosystem": "PyPI", "name": "c"}, "versions": 7}]}"#;
        let (id, packages) = salvage(ok).unwrap();
        assert_eq!(id.as_deref(), Some("X-1"));
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(
            salvage(br#"{"id": 5, "affected": [{"package": {"ecosystem": "npm", "name": "a"}}]}"#)
                .unwrap()
                .0,
            None
        );
        for none in [
            &b"{"[..],
            b"[]",
            br#"{"id": "X"}"#,
            br#"{"id": "X", "affected": {}}"#,
            br#"{"id": "X", "affected": [{"package": {"name": "a"}}]}"#,
        ] {
            assert!(salvage(none).is_none(), "{}", String::from_utf8_lossy(none));
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(salvage(deep.as_bytes()).is_none());
    }

    #[test]
    fn unreadable_empty_and_bounded_paths() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            AdvisoryDb::load(&dir.path().join("nope")),
            Err(AdvisoryError::Read(ReadError::Missing { .. }))
        ));
        assert!(matches!(
            AdvisoryDb::load(dir.path()),
            Err(AdvisoryError::Empty { .. })
        ));
        write(dir.path(), "broken.json", b"{");
        let e = AdvisoryDb::load(dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: no usable OSV records (1 skipped as malformed, 0 withdrawn)",
                dir.path().display()
            )
        );

        for i in 0..5 {
            write(
                dir.path(),
                &format!("r{i}.json"),
                format!(r#"{{"id": "R-{i}"}}"#).as_bytes(),
            );
        }
        let limits = Limits {
            max_records: 4,
            ..Limits::default()
        };
        assert!(matches!(
            AdvisoryDb::load_with(dir.path(), &limits),
            Err(AdvisoryError::TooManyRecords { limit: 4, .. })
        ));
        let limits = Limits {
            max_entries: 3,
            ..Limits::default()
        };
        assert!(matches!(
            AdvisoryDb::load_with(dir.path(), &limits),
            Err(AdvisoryError::TooManyEntries { .. })
        ));
        let limits = Limits {
            max_total_bytes: 40,
            ..Limits::default()
        };
        assert!(matches!(
            AdvisoryDb::load_with(dir.path(), &limits),
            Err(AdvisoryError::TooLarge { .. })
        ));
        write(dir.path(), "a/b/c/deep.json", br#"{"id": "D-1"}"#);
        let limits = Limits {
            max_depth: 2,
            ..Limits::default()
        };
        let db = AdvisoryDb::load_with(dir.path(), &limits).unwrap();
        assert!(db.get("D-1").is_none() && db.len() == 5);
        assert_eq!(db.warnings()[db.warning_count() - 1].source, "a/b/c");
        // A directory not read may hold records: the database is incomplete
        // (broken.json is the other skip).
        assert_eq!((db.skipped(), db.sources()[0].skipped), (2, 2));
        // No record says when it was modified: the age is unknown.
        assert_eq!(db.sources()[0].newest, None);
        // One JSON file on its own is a database too.
        assert_eq!(
            AdvisoryDb::load(&dir.path().join("r0.json")).unwrap().len(),
            1
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_identity_follows_every_record_the_loader_reads_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        write(dir.path(), "osv/npm/A.json", b"{}");
        write(other.path(), "linked.json", b"{}");
        std::os::unix::fs::symlink(
            other.path().join("linked.json"),
            dir.path().join("osv/npm/linked.json"),
        )
        .unwrap();
        let id = || AdvisoryDb::identity(dir.path());
        let first = id();
        assert_eq!(first, id(), "stable while nothing changes");
        // Not read by the loader: not part of the identity.
        write(dir.path(), ".git/x.json", b"{}");
        write(dir.path(), "osv/npm/notes.txt", b"x");
        assert_eq!(first, id());
        let changes: [&dyn Fn(); 4] = [
            // A record added two directories down.
            &|| write(dir.path(), "osv/npm/B.json", b"{}"),
            // Rewritten in place, same size.
            &|| write(dir.path(), "osv/npm/A.json", b"[]"),
            // Behind a link to a file, which the loader follows.
            &|| write(other.path(), "linked.json", b"[]"),
            // Removed.
            &|| std::fs::remove_file(dir.path().join("osv/npm/B.json")).unwrap(),
        ];
        let mut seen = vec![first];
        for change in changes {
            std::thread::sleep(std::time::Duration::from_millis(10));
            change();
            let now = id();
            assert!(!seen.contains(&now), "every change is seen");
            seen.push(now);
        }
        // A single file, and a path that is not there.
        let file = dir.path().join("osv/npm/A.json");
        assert_ne!(
            AdvisoryDb::identity(&file),
            AdvisoryDb::identity(&dir.path().join("nope"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn directory_symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "db/r.json", br#"{"id": "R-1"}"#);
        std::os::unix::fs::symlink(dir.path().join("db"), dir.path().join("db/loop")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("db"), dir.path().join("db/loop.json")).unwrap();
        let db = AdvisoryDb::load(&dir.path().join("db")).unwrap();
        assert_eq!(db.len(), 1);
        assert_eq!(db.skipped(), 1); // loop.json: a directory, not a record
    }

    fn zip_of(path: &Path, entries: &[(String, Vec<u8>)], method: zip::CompressionMethod) {
        let mut w = zip::ZipWriter::new(fs::File::create(path).unwrap());
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        w.add_directory("nested/", opts).unwrap();
        for (name, bytes) in entries {
            w.start_file(name.as_str(), opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn zip_archive_like_osv_all_zip() {
        let dir = tempfile::tempdir().unwrap();
        let mut entries: Vec<(String, Vec<u8>)> = fixture_files()
            .into_iter()
            .map(|(name, bytes)| (name.rsplit('/').next().unwrap().to_string(), bytes))
            .collect();
        entries.push(("../../etc/evil.json".into(), b"{\"id\": ".to_vec()));
        entries.push(("README.txt".into(), b"ignored".to_vec()));
        let all = dir.path().join("all.zip");
        zip_of(&all, &entries, zip::CompressionMethod::Deflated);
        let db = AdvisoryDb::load(&all).unwrap();
        assert_eq!((db.len(), db.skipped()), (8, 1));
        assert_eq!(
            db.warnings()[0].source,
            format!("{}!../../etc/evil.json", all.display())
        );
        assert_eq!(
            affected_ids(&db, "pkg:npm/lodash@4.17.19"),
            ["GHSA-p6mc-m468-83gw"]
        );
        assert_eq!(
            affected_ids(&db, "pkg:cargo/tokio@1.9.0"),
            ["RUSTSEC-2021-0124"]
        );
        assert!(!dir.path().join("etc").exists());

        // A bomb: 8 MiB of spaces inflates past the per-entry limit, and
        // the declared size says so before anything is read.
        let mut bomb = b"{\"id\": \"B-1\"}".to_vec();
        bomb.resize(8 << 20, b' ');
        let bombed = dir.path().join("bomb.zip");
        zip_of(
            &bombed,
            &[
                ("b.json".into(), bomb),
                ("ok.json".into(), br#"{"id": "OK-1"}"#.to_vec()),
            ],
            zip::CompressionMethod::Deflated,
        );
        assert!(fs::metadata(&bombed).unwrap().len() < 64 << 10);
        let db = AdvisoryDb::load(&bombed).unwrap();
        assert_eq!((db.len(), db.skipped()), (1, 1));
        assert!(
            db.warnings()[0]
                .message
                .starts_with("larger than the 4194304-byte limit")
        );

        // Totals and entry counts are bounded for archives too.
        let limits = Limits {
            max_total_bytes: 2_000,
            ..Limits::default()
        };
        assert!(matches!(
            AdvisoryDb::load_with(&all, &limits),
            Err(AdvisoryError::TooLarge { .. })
        ));
        let limits = Limits {
            max_entries: 5,
            ..Limits::default()
        };
        assert!(matches!(
            AdvisoryDb::load_with(&all, &limits),
            Err(AdvisoryError::TooManyEntries { .. })
        ));
        // A directory of per-ecosystem archives, as osv-scanner caches them.
        let cache = dir.path().join("cache");
        write(&cache, "npm/all.zip", &fs::read(&all).unwrap());
        write(&cache, "PyPI/extra.json", br#"{"id": "EXTRA-1"}"#);
        let db = AdvisoryDb::load(&cache).unwrap();
        assert_eq!((db.len(), db.skipped()), (9, 1));
        assert_eq!(db.warnings()[0].source, "npm/all.zip!../../etc/evil.json");
        // A truncated archive is an error, not an empty database.
        let bytes = fs::read(&all).unwrap();
        let cut = dir.path().join("cut.zip");
        fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
        assert!(matches!(
            AdvisoryDb::load(&cut),
            Err(AdvisoryError::Zip { .. })
        ));
    }

    fn generated(n: usize) -> Vec<(String, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let (eco, name) = match i % 3 {
                    0 => ("npm", format!("pkg-{i}")),
                    1 => ("PyPI", format!("py_pkg.{i}")),
                    _ => ("crates.io", format!("crate_{i}")),
                };
                let text = format!(
                    r#"{{"id": "GEN-{i}", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2024-{i}"],
                    "severity": [{{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}],
                    "affected": [{{"package": {{"ecosystem": "{eco}", "name": "{name}"}},
                    "ranges": [{{"type": "{kind}", "events": [{{"introduced": "1.0.0"}}, {{"fixed": "1.{minor}.0"}}]}}]}}]}}"#,
                    kind = if eco == "PyPI" { "ECOSYSTEM" } else { "SEMVER" },
                    minor = 1 + i % 7,
                );
                (format!("GEN-{i}.json"), text.into_bytes())
            })
            .collect()
    }

    #[test]
    fn ten_thousand_records_and_a_hundred_thousand_components() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.zip");
        zip_of(&path, &generated(10_000), zip::CompressionMethod::Stored);
        let db = AdvisoryDb::load(&path).unwrap();
        assert_eq!((db.len(), db.warning_count()), (10_000, 0));

        let purls: Vec<String> = (0..100_000)
            .map(|i| {
                let n = i % 12_000; // some packages have no advisory
                match n % 3 {
                    0 => format!("pkg:npm/pkg-{n}@1.{}.0", i % 9),
                    1 => format!("pkg:pypi/py-pkg-{n}@1.{}", i % 9),
                    _ => format!("pkg:cargo/crate-{n}@1.{}.0", i % 9),
                }
            })
            .collect();
        let f = evaluate(
            &db,
            purls.iter().map(|p| (p.as_str(), None)),
            Severity::High,
            &[],
        );
        assert_eq!(f.components, 100_000);
        assert!(f.unchecked.is_empty() && f.unknown.is_empty());
        // Recount the expectation directly: affected when 1.m.0 < 1.(1 + n % 7).0.
        let expected = (0..100_000usize)
            .filter(|i| {
                let n = i % 12_000;
                n < 10_000 && i % 9 < 1 + n % 7
            })
            .count();
        assert_eq!(f.denied.len(), expected);
    }
}
