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
    warnings: Vec<LoadWarning>,
    warning_count: usize,
    skipped: usize,
    withdrawn: usize,
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
