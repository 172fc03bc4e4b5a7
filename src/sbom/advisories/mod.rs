//! Offline OSV advisories: records read from a directory of OSV JSON files
//! or from an ecosystem's `all.zip` (the dump osv-scanner's offline mode
//! downloads), matched against components by purl and version.
//!
//! Like the verification modules, this one produces findings and does not
//! decide: [`evaluate`] sorts matches by a severity threshold and by
//! ignores, and the policy turns that into a verdict.
//!
//! Matching follows the OSV schema's evaluation algorithm: the explicit
//! `versions` list first, then each range's events sorted by version.
//! npm, crates.io and Go order versions by SemVer 2.0, also in their
//! `ECOSYSTEM` ranges (GitHub's database writes npm ranges that way); PyPI
//! orders by PEP 440. `SEMVER` ranges are SemVer in every ecosystem, as the
//! schema defines them. Whatever cannot be evaluated (a range of another
//! kind, a version that does not parse, a component without a version) is
//! reported as unknown, never passed silently.
//!
//! [`osv`] holds the records and their wire form, [`versions`] decides
//! whether a version is in a range, `load` reads a database, and
//! [`matching`] sorts matches into findings.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil::ReadError;

mod load;
pub mod matching;
pub mod osv;
#[cfg(test)]
mod test_support;
pub mod versions;

use crate::sbom::package::{base_ecosystem, key, normalise_name};
pub use matching::{Finding, Findings, Matcher, Query, Unchecked, evaluate};
pub use osv::{
    Advisory, Affected, Event, Ignore, LoadWarning, Match, Package, Range, RangeKind, Severity,
    Status,
};

/// Bounds on what [`AdvisoryDb::load_with`] reads, so that a hostile or
/// corrupt database costs bounded memory and time. A database past them is
/// refused as a whole, never read in part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Records kept (malformed and withdrawn ones not counted); more is an
    /// error rather than a silently partial database.
    pub max_records: usize,
    /// One JSON file or zip entry, uncompressed; a larger one is skipped.
    pub max_record_bytes: u64,
    /// All records read together, uncompressed; also caps a zip's own size.
    pub max_total_bytes: u64,
    /// Directory entries walked, or entries in a zip's central directory.
    pub max_entries: usize,
    /// Directory nesting below the given directory.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_records: 200_000,
            max_record_bytes: 4 << 20,
            max_total_bytes: 1 << 30,
            max_entries: 1_000_000,
            max_depth: 16,
        }
    }
}

/// At most this many warnings are kept with their text; all are counted.
const KEPT_WARNINGS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum AdvisoryError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: not a readable zip archive: {message}")]
    Zip { path: PathBuf, message: String },
    #[error("{path}: holds more than {limit} advisory records")]
    TooManyRecords { path: PathBuf, limit: usize },
    #[error("{path}: has more than {limit} entries")]
    TooManyEntries { path: PathBuf, limit: usize },
    #[error("{path}: the records add up to more than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error(
        "{path}: no usable OSV records ({skipped} skipped as malformed, {withdrawn} withdrawn)"
    )]
    Empty {
        path: PathBuf,
        skipped: usize,
        withdrawn: usize,
    },
    #[error("{purl}: not a valid package URL: {message}")]
    InvalidPurl { purl: String, message: String },
    #[error("{purl}: package type `{ty}` has no OSV ecosystem known to this version")]
    UnsupportedPurlType { purl: String, ty: String },
}

impl AdvisoryError {
    fn io(path: &Path, source: io::Error) -> Self {
        AdvisoryError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A database that cannot be used is an input problem, whatever the cause.
impl crate::diag::Diagnose for AdvisoryError {
    fn code(&self) -> crate::diag::Code {
        crate::diag::Code::InputInvalid
    }

    fn hint(&self) -> Option<String> {
        Some("pass a directory of OSV JSON files or an ecosystem's all.zip".into())
    }
}

/// OSV records indexed by ecosystem and normalised package name.
#[derive(Debug, Default)]
pub struct AdvisoryDb {
    advisories: Vec<Advisory>,
    /// `ecosystem \0 normalised name` -> (advisory, affected entry).
    index: HashMap<String, Vec<(usize, usize)>>,
    by_id: HashMap<String, usize>,
    /// Skipped records whose packages could still be read: a component
    /// they name cannot be cleared (see [`Unreadable`]).
    unreadable: Vec<Unreadable>,
    /// `ecosystem \0 normalised name` -> index in `unreadable`.
    unreadable_index: HashMap<String, Vec<usize>>,
    warnings: Vec<LoadWarning>,
    warning_count: usize,
    skipped: usize,
    withdrawn: usize,
    sources: Vec<Source>,
}

/// One database as it was loaded, for what a report says about it: where
/// it is, what was skipped, and how recent it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub path: PathBuf,
    /// Records kept.
    pub records: usize,
    /// Records skipped as malformed, truncated, oversized or not read.
    pub skipped: usize,
    /// The first skipped records, with why.
    pub skips: Vec<LoadWarning>,
    /// The newest `modified` time among the records, leaving out times
    /// more than a day ahead of the load (a record dated in the future
    /// says nothing of when the database was last updated); `None` when
    /// no record carries a usable one.
    pub newest: Option<jiff::Timestamp>,
}

/// A record that was skipped as malformed, but whose `affected[].package`
/// entries could still be read. Which versions it covers is unknown, so a
/// component of a package it names is reported as unknown, never cleared:
/// a record damaged in transit, or made unparsable on purpose, must not
/// make its package look safe.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unreadable {
    /// Its `id` if that could be read, else the file; no rating, so it
    /// counts as above any threshold.
    pub(crate) advisory: Advisory,
    /// The file, or `archive!entry`, and why it was skipped.
    pub(crate) warning: LoadWarning,
}

impl AdvisoryDb {
    /// Indexes records made elsewhere (tests, other feeds).
    pub fn from_records(records: Vec<Advisory>) -> Self {
        let mut index: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut by_id = HashMap::with_capacity(records.len());
        for (a, adv) in records.iter().enumerate() {
            by_id.entry(adv.id.clone()).or_insert(a);
            for (f, aff) in adv.affected.iter().enumerate() {
                let eco = base_ecosystem(&aff.package.ecosystem);
                let k = key(eco, &normalise_name(eco, &aff.package.name));
                index.entry(k).or_default().push((a, f));
            }
        }
        AdvisoryDb {
            advisories: records,
            index,
            by_id,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    pub fn get(&self, id: &str) -> Option<&Advisory> {
        self.by_id.get(id).map(|&i| &self.advisories[i])
    }

    /// The first warnings of the load, with their text.
    pub fn warnings(&self) -> &[LoadWarning] {
        &self.warnings
    }

    /// All warnings of the load, also those whose text was not kept.
    pub fn warning_count(&self) -> usize {
        self.warning_count
    }

    /// Records skipped as malformed, truncated or oversized.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Records left out because their source withdrew them.
    pub fn withdrawn(&self) -> usize {
        self.withdrawn
    }

    /// The databases loaded into this one, in order; empty for one made
    /// [`from_records`](AdvisoryDb::from_records).
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// One database of several (a policy layer's `db`, `--advisories`):
    /// every record of each is kept, also when two share an id, so that no
    /// database can hide another's affected ranges under the same id (a
    /// record with an empty `affected` would otherwise clear the package).
    pub fn merge(dbs: Vec<AdvisoryDb>) -> AdvisoryDb {
        let mut records = Vec::new();
        let mut unreadable = Vec::new();
        let mut warnings = Vec::new();
        let (mut warning_count, mut skipped, mut withdrawn) = (0, 0, 0);
        let mut sources = Vec::new();
        for db in dbs {
            records.extend(db.advisories);
            unreadable.extend(db.unreadable);
            warning_count += db.warning_count;
            skipped += db.skipped;
            withdrawn += db.withdrawn;
            sources.extend(db.sources);
            let room = KEPT_WARNINGS.saturating_sub(warnings.len());
            warnings.extend(db.warnings.into_iter().take(room));
        }
        let mut db = Self::from_records(records);
        db.set_unreadable(unreadable);
        db.warnings = warnings;
        db.warning_count = warning_count;
        db.skipped = skipped;
        db.withdrawn = withdrawn;
        db.sources = sources;
        db
    }

    pub(crate) fn set_unreadable(&mut self, unreadable: Vec<Unreadable>) {
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (u, r) in unreadable.iter().enumerate() {
            for aff in &r.advisory.affected {
                let eco = base_ecosystem(&aff.package.ecosystem);
                let k = key(eco, &normalise_name(eco, &aff.package.name));
                let slot = index.entry(k).or_default();
                if slot.last() != Some(&u) {
                    slot.push(u);
                }
            }
        }
        self.unreadable = unreadable;
        self.unreadable_index = index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::advisories::test_support::*;

    #[test]
    fn errors_carry_their_code() {
        use crate::diag::{Code, Diagnose};
        let e = AdvisoryError::TooManyEntries {
            path: "db".into(),
            limit: 1,
        };
        assert_eq!(e.code(), Code::InputInvalid);
        assert!(e.hint().is_some_and(|h| h.contains("all.zip")));
    }

    /// A second database only adds: a record under the same id with an
    /// empty `affected` (or other ranges) hides nothing of the first's.
    #[test]
    fn merged_databases_keep_every_record() {
        let system = AdvisoryDb::from_records(vec![record(
            "X-1",
            "npm",
            "event-stream",
            RangeKind::Semver,
            vec![intro("3.3.6"), fixed("3.3.7")],
        )]);
        let mut shadow = record("X-1", "npm", "event-stream", RangeKind::Semver, vec![]);
        shadow.affected.clear();
        let mut other = record(
            "X-1",
            "npm",
            "event-stream",
            RangeKind::Semver,
            vec![intro("9.0.0")],
        );
        other.severity = Some(Severity::Low);
        let user = AdvisoryDb::from_records(vec![
            shadow,
            other,
            record(
                "X-2",
                "npm",
                "left-pad",
                RangeKind::Semver,
                vec![intro("0")],
            ),
        ]);
        let db = AdvisoryDb::merge(vec![system, user]);
        assert_eq!(db.len(), 4);
        assert_eq!(affected_ids(&db, "pkg:npm/event-stream@3.3.6"), ["X-1"]);
        assert_eq!(db.get("X-1").unwrap().severity, Some(Severity::High));
        assert_eq!(affected_ids(&db, "pkg:npm/left-pad@1.0.0"), ["X-2"]);
        // Either order.
        let a = AdvisoryDb::from_records(vec![{
            let mut r = record("X-1", "npm", "event-stream", RangeKind::Semver, vec![]);
            r.affected.clear();
            r
        }]);
        let b = AdvisoryDb::from_records(vec![record(
            "X-1",
            "npm",
            "event-stream",
            RangeKind::Semver,
            vec![intro("3.3.6"), fixed("3.3.7")],
        )]);
        let db = AdvisoryDb::merge(vec![a, b]);
        assert_eq!(affected_ids(&db, "pkg:npm/event-stream@3.3.6"), ["X-1"]);
    }

    #[test]
    fn merged_sources_and_counts_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one");
        let two = dir.path().join("two");
        std::fs::create_dir_all(&one).unwrap();
        std::fs::create_dir_all(&two).unwrap();
        std::fs::write(
            one.join("r.json"),
            br#"{"id": "R-1", "modified": "2024-05-01T00:00:00Z"}"#,
        )
        .unwrap();
        std::fs::write(two.join("r.json"), br#"{"id": "R-2"}"#).unwrap();
        std::fs::write(
            two.join("bad.json"),
            br#"{"id": "R-3", "affected": [{"package": {"ecosystem": "npm", "name": "x"}, "ranges": 1}]}"#,
        )
        .unwrap();
        let db = AdvisoryDb::merge(vec![
            AdvisoryDb::load(&one).unwrap(),
            AdvisoryDb::load(&two).unwrap(),
        ]);
        assert_eq!((db.len(), db.skipped(), db.warning_count()), (2, 1, 1));
        let paths: Vec<&Path> = db.sources().iter().map(|s| s.path.as_path()).collect();
        assert_eq!(paths, [one.as_path(), two.as_path()]);
        assert!(db.sources()[0].newest.is_some() && db.sources()[1].newest.is_none());
        assert_eq!(
            ids(&db, "pkg:npm/x@1.0.0"),
            [("R-3".to_string(), Status::Unknown)]
        );
    }

    #[test]
    fn fixtures_load_with_ratings() {
        let db = fixture_db();
        assert_eq!(db.len(), 8);
        assert!(!db.is_empty());
        let lodash = db.get("GHSA-p6mc-m468-83gw").unwrap();
        assert_eq!(lodash.aliases, ["CVE-2020-8203"]);
        assert_eq!(lodash.severity, Some(Severity::High));
        assert_eq!(lodash.cvss_score, Some(7.4));
        // GitHub says MODERATE, the vector 6.1: both medium.
        assert_eq!(
            db.get("GHSA-p8p7-x288-28g6").unwrap().severity,
            Some(Severity::Medium)
        );
        assert_eq!(
            db.get("GHSA-h5c8-rqwp-cp95").unwrap().severity,
            Some(Severity::Medium)
        );
        // RustSec: tokio's record has no rating; failure's is informational
        // but carries a 9.8 vector.
        let tokio = db.get("RUSTSEC-2021-0124").unwrap();
        assert_eq!(
            (tokio.severity, tokio.informational.as_deref()),
            (None, None)
        );
        let failure = db.get("RUSTSEC-2020-0036").unwrap();
        assert_eq!(failure.severity, Some(Severity::Critical));
        assert_eq!(failure.cvss_score, Some(9.8));
        assert_eq!(failure.informational.as_deref(), Some("unmaintained"));
        // PYSEC's purl field is malformed (`pkg:pypi:jinja2`); it is not used.
        assert_eq!(db.get("PYSEC-2021-66").unwrap().severity, None);
    }
}
