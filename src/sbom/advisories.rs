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

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use packageurl::PackageUrl;
use serde::{Deserialize, Serialize};

use crate::fsutil::{self, ReadError};

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

/// Qualitative severity, ordered. The names follow CVSS; GitHub's
/// `MODERATE` is `Medium`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    #[serde(alias = "moderate")]
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// GitHub's and Ubuntu's words; anything else (`UNKNOWN`, `untriaged`)
    /// is no rating.
    fn from_word(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" | "negligible" => Some(Severity::Low),
            "medium" | "moderate" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Severity::from_word(s)
            .filter(|_| !s.trim().eq_ignore_ascii_case("negligible"))
            .ok_or_else(|| format!("`{s}` is not a severity (low, medium, high, critical)"))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One OSV record, reduced to what matching and reporting need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub modified: Option<String>,
    /// The highest of the record's ratings: GitHub's `database_specific`
    /// word and the CVSS vectors' base scores. Sources can disagree, and
    /// the higher reading is the safe one.
    pub severity: Option<Severity>,
    /// The highest CVSS base score among the vectors that parsed.
    pub cvss_score: Option<f64>,
    /// RustSec's `informational` kind (`unmaintained`, `unsound`,
    /// `notice`): a notice rather than a vulnerability.
    pub informational: Option<String>,
    pub affected: Vec<Affected>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// As the record says it, suffix included (`Maven:https://…`).
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Affected {
    pub package: Package,
    pub versions: Vec<String>,
    pub ranges: Vec<Range>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    pub kind: RangeKind,
    pub events: Vec<Event>,
    #[serde(skip)]
    ordered: Ordered,
}

/// A range's events parsed and sorted under each scheme, on first use: a
/// database is loaded once and a range is judged for many versions.
#[derive(Default, Clone)]
struct Ordered {
    semver: OnceLock<Option<Events<semver::Version>>>,
    pep440: OnceLock<Option<Events<pep440_rs::Version>>>,
}

/// `None` when some event is not a version of the scheme.
#[derive(Clone)]
struct Events<V> {
    /// (version, index of the event), sorted; `None` is `introduced: "0"`.
    sorted: Vec<(Option<V>, usize)>,
    /// `limit` events; `None` is `*`.
    limits: Vec<Option<V>>,
}

// A cache of what `events` says: equal ranges are equal whatever it holds.
impl PartialEq for Ordered {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Ordered {}

impl fmt::Debug for Ordered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ordered")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Event {
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Event::Introduced(_) => "introduced",
            Event::Fixed(_) => "fixed",
            Event::LastAffected(_) => "last_affected",
            Event::Limit(_) => "limit",
        };
        write!(f, "{kind} {}", self.version())
    }
}

impl fmt::Display for RangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeKind::Semver => f.write_str("SEMVER"),
            RangeKind::Ecosystem => f.write_str("ECOSYSTEM"),
            RangeKind::Git => f.write_str("GIT"),
            RangeKind::Other(k) => f.write_str(k),
        }
    }
}

/// A record that could not be used, or a part of one that was ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadWarning {
    /// The file, or `archive!entry`, relative to the given path.
    pub source: String,
    pub message: String,
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// Whether a match is certain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Affected,
    /// The advisory names the package, but whether this version is affected
    /// cannot be decided here (see [`Match::why`]).
    Unknown,
}

/// An advisory that names a component's package, and why it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'a> {
    pub advisory: &'a Advisory,
    pub status: Status,
    /// E.g. "version 4.17.19 is in range introduced 0, fixed 4.17.20".
    pub why: String,
}

/// An accepted advisory: `id` may be the record's id or any of its aliases
/// (a CVE id covers every record that aliases it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    pub id: String,
    pub reason: String,
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
    /// Reads a directory of OSV JSON files and zip archives of them
    /// (recursively; osv-scanner's offline cache is such a directory), one
    /// zip archive (an ecosystem's `all.zip`), or one JSON file, with the
    /// default [`Limits`].
    pub fn load(path: &Path) -> Result<Self, AdvisoryError> {
        Self::load_with(path, &Limits::default())
    }

    /// Like [`AdvisoryDb::load`]. Malformed, truncated and oversized records
    /// are skipped and counted ([`AdvisoryDb::warnings`]); a path that
    /// cannot be read, a limit crossed, or no usable record at all is an
    /// error, because a partial database would pass what it does not know.
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
        let mut db = Self::from_records(loader.records);
        db.warnings = loader.warnings;
        db.warning_count = loader.warning_count;
        db.skipped = loader.skipped;
        db.withdrawn = loader.withdrawn;
        Ok(db)
    }

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

    /// The advisories that name the purl's package, each with whether
    /// `version` (or else the purl's own version) is affected. Advisories
    /// that name the package but not this version are not returned.
    pub fn matches(
        &self,
        purl: &str,
        version: Option<&str>,
    ) -> Result<Vec<Match<'_>>, AdvisoryError> {
        let target = Target::parse(purl)?;
        let version = version.or(target.version.as_deref());
        Ok(self.matches_target(&target, version))
    }

    fn matches_target(&self, target: &Target, version: Option<&str>) -> Vec<Match<'_>> {
        let Some(entries) = self.index.get(&target.key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut i = 0;
        // Entries of one advisory are adjacent (indexed in order); an
        // advisory may list the package twice (urllib3's 1.x and 2.x).
        while i < entries.len() {
            let a = entries[i].0;
            let mut affected = None;
            let mut unknown = None;
            while i < entries.len() && entries[i].0 == a {
                let aff = &self.advisories[a].affected[entries[i].1];
                match judge(target.ecosystem, aff, version) {
                    Outcome::Affected(why) => {
                        affected.get_or_insert(why);
                    }
                    Outcome::Unknown(why) => {
                        unknown.get_or_insert(why);
                    }
                    Outcome::Clear => {}
                }
                i += 1;
            }
            let advisory = &self.advisories[a];
            if let Some(why) = affected {
                out.push(Match {
                    advisory,
                    status: Status::Affected,
                    why,
                });
            } else if let Some(why) = unknown {
                out.push(Match {
                    advisory,
                    status: Status::Unknown,
                    why,
                });
            }
        }
        out
    }
}

/// One component's match, as sorted by [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finding<'a> {
    pub purl: String,
    pub version: Option<String>,
    pub matched: Match<'a>,
    /// Set in [`Findings::ignored`]: the ignore that accepted it.
    pub ignored_by: Option<&'a Ignore>,
}

/// A component that could not be checked at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked {
    pub purl: String,
    pub reason: String,
}

/// The result of [`evaluate`]. Only `denied`, `unknown` and `unchecked`
/// stand in the way of a clean result; the policy decides how `unknown`
/// and `unchecked` weigh.
#[derive(Debug, Default, PartialEq)]
pub struct Findings<'a> {
    /// Affected, and rated at or above the threshold, or not rated at all
    /// (an unrated vulnerability cannot be shown to be below it).
    pub denied: Vec<Finding<'a>>,
    /// Rated below the threshold, or an unrated informational notice; the
    /// status may be unknown, since even affected it would not deny.
    pub below_threshold: Vec<Finding<'a>>,
    /// Would deny if affected, and whether it is cannot be decided.
    pub unknown: Vec<Finding<'a>>,
    /// Accepted by an ignore (affected or unknown, any severity).
    pub ignored: Vec<Finding<'a>>,
    /// Components whose purl is invalid or of a type without an ecosystem.
    pub unchecked: Vec<Unchecked>,
    /// Ignores that matched no advisory of any component: stale entries
    /// that would silently accept a future match.
    pub unused_ignores: Vec<&'a Ignore>,
    /// Components evaluated.
    pub components: usize,
}

impl Findings<'_> {
    pub fn is_clean(&self) -> bool {
        self.denied.is_empty() && self.unknown.is_empty() && self.unchecked.is_empty()
    }

    /// One line per unused ignore, for the diagnostic that reports it.
    pub fn unused_ignore_messages(&self) -> Vec<String> {
        self.unused_ignores
            .iter()
            .map(|ig| {
                format!(
                    "ignored advisory `{}` ({}) matches no component; remove it, or it will silently accept a future match",
                    ig.id, ig.reason
                )
            })
            .collect()
    }
}

/// One component to look up: its purl, already parsed when it came from an
/// SBOM, and a version that overrides the purl's.
pub struct Query<'c> {
    pub purl: &'c str,
    pub package: Option<&'c PackageUrl<'c>>,
    pub version: Option<&'c str>,
}

impl<'c> From<(&'c str, Option<&'c str>)> for Query<'c> {
    fn from((purl, version): (&'c str, Option<&'c str>)) -> Self {
        Query {
            purl,
            package: None,
            version,
        }
    }
}

/// Matches every component (purl, and a version that overrides the purl's)
/// and sorts the matches by `threshold` and `ignores`.
pub fn evaluate<'a, 'c, Q: Into<Query<'c>>>(
    db: &'a AdvisoryDb,
    components: impl IntoIterator<Item = Q>,
    threshold: Severity,
    ignores: &'a [Ignore],
) -> Findings<'a> {
    let mut m = Matcher::new(db, threshold, ignores);
    for q in components {
        m.check(q.into());
    }
    m.finish()
}

/// [`evaluate`] one component at a time, for a caller that walks the
/// components for other rules too and parses each purl once.
pub struct Matcher<'a> {
    db: &'a AdvisoryDb,
    threshold: Severity,
    ignores: &'a [Ignore],
    /// Ignore ids, lower-cased: GHSA ids appear in both cases.
    by_id: HashMap<String, usize>,
    used: Vec<bool>,
    findings: Findings<'a>,
}

impl<'a> Matcher<'a> {
    pub fn new(db: &'a AdvisoryDb, threshold: Severity, ignores: &'a [Ignore]) -> Self {
        let by_id = ignores
            .iter()
            .enumerate()
            .rev()
            .map(|(i, ig)| (ig.id.trim().to_ascii_lowercase(), i))
            .collect();
        Matcher {
            db,
            threshold,
            ignores,
            by_id,
            used: vec![false; ignores.len()],
            findings: Findings::default(),
        }
    }

    pub fn check(&mut self, q: Query<'_>) {
        let Query {
            purl,
            package,
            version,
        } = q;
        self.findings.components += 1;
        let parsed = match package {
            Some(p) => Target::of(purl, p),
            None => Target::parse(purl),
        };
        let target = match parsed {
            Ok(t) => t,
            Err(e) => {
                self.findings.unchecked.push(Unchecked {
                    purl: purl.to_string(),
                    reason: e.to_string(),
                });
                return;
            }
        };
        let version = version.or(target.version.as_deref());
        for m in self.db.matches_target(&target, version) {
            let ignore = std::iter::once(&m.advisory.id)
                .chain(&m.advisory.aliases)
                .find_map(|id| self.by_id.get(&id.to_ascii_lowercase()).copied());
            let would_deny = match m.advisory.severity {
                Some(s) => s >= self.threshold,
                None => m.advisory.informational.is_none(),
            };
            let status = m.status;
            let mut finding = Finding {
                purl: purl.to_string(),
                version: version.map(str::to_string),
                matched: m,
                ignored_by: None,
            };
            let f = &mut self.findings;
            if let Some(i) = ignore {
                self.used[i] = true;
                finding.ignored_by = Some(&self.ignores[i]);
                f.ignored.push(finding);
            } else if !would_deny {
                f.below_threshold.push(finding);
            } else if status == Status::Unknown {
                f.unknown.push(finding);
            } else {
                f.denied.push(finding);
            }
        }
    }

    pub fn finish(mut self) -> Findings<'a> {
        self.findings.unused_ignores = self
            .ignores
            .iter()
            .zip(&self.used)
            .filter(|(_, u)| !**u)
            .map(|(ig, _)| ig)
            .collect();
        self.findings
    }
}

// ---------------------------------------------------------------------------
// Purls and names

/// A component's package as the index knows it.
struct Target {
    ecosystem: &'static str,
    key: String,
    version: Option<String>,
}

impl Target {
    fn parse(purl: &str) -> Result<Target, AdvisoryError> {
        let p = PackageUrl::from_str(purl).map_err(|e| AdvisoryError::InvalidPurl {
            purl: purl.to_string(),
            message: e.to_string(),
        })?;
        Target::of(purl, &p)
    }

    fn of(purl: &str, p: &PackageUrl) -> Result<Target, AdvisoryError> {
        let ns = p.namespace().filter(|n| !n.is_empty());
        let joined = |sep: &str| match ns {
            Some(ns) => format!("{ns}{sep}{}", p.name()),
            None => p.name().to_string(),
        };
        let (ecosystem, name) = match p.ty() {
            // The scope is the namespace; the purl spec writes it with `@`.
            "npm" => (
                "npm",
                match ns {
                    Some(ns) if ns.starts_with('@') => format!("{ns}/{}", p.name()),
                    Some(ns) => format!("@{ns}/{}", p.name()),
                    None => p.name().to_string(),
                },
            ),
            "pypi" => ("PyPI", p.name().to_string()),
            "cargo" => ("crates.io", p.name().to_string()),
            "golang" => ("Go", joined("/")),
            "maven" => ("Maven", joined(":")),
            "nuget" => ("NuGet", p.name().to_string()),
            "gem" => ("RubyGems", p.name().to_string()),
            "composer" => ("Packagist", joined("/")),
            "hex" => ("Hex", p.name().to_string()),
            "pub" => ("Pub", p.name().to_string()),
            "hackage" => ("Hackage", p.name().to_string()),
            "cran" => ("CRAN", p.name().to_string()),
            other => {
                return Err(AdvisoryError::UnsupportedPurlType {
                    purl: purl.to_string(),
                    ty: other.to_string(),
                });
            }
        };
        Ok(Target {
            ecosystem,
            key: key(ecosystem, &normalise_name(ecosystem, &name)),
            version: p.version().map(str::to_string),
        })
    }
}

fn key(ecosystem: &str, name: &str) -> String {
    let mut k = String::with_capacity(ecosystem.len() + 1 + name.len());
    k.push_str(ecosystem);
    k.push('\0');
    k.push_str(name);
    k
}

/// `Maven:https://maven.google.com` and `Debian:12` index under their base
/// ecosystem; a purl does not say which repository or release it means.
fn base_ecosystem(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// Names as the ecosystem compares them. npm and Go fold case too: the
/// purl spec lowercases npm names and Go namespaces, so a purl cannot tell
/// `JSONStream` from `jsonstream`; an extra match is the safe side.
fn normalise_name(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => pep503(name),
        "crates.io" => name.to_ascii_lowercase().replace('_', "-"),
        "npm" | "Go" | "NuGet" | "Packagist" | "Hex" => name.to_lowercase(),
        _ => name.to_string(),
    }
}

/// PEP 503: lowercase, and every run of `-`, `_` and `.` becomes one `-`.
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Versions

#[derive(Clone, Copy)]
enum Scheme {
    Semver,
    Pep440,
}

impl Scheme {
    /// The ordering of an ecosystem's `ECOSYSTEM` ranges, where known.
    fn of(ecosystem: &str) -> Option<Scheme> {
        match ecosystem {
            "npm" | "crates.io" | "Go" => Some(Scheme::Semver),
            "PyPI" => Some(Scheme::Pep440),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scheme::Semver => "SemVer",
            Scheme::Pep440 => "PEP 440",
        }
    }
}

/// SemVer with npm's and Go's leniencies: a leading `v` or `=`, and build
/// metadata ignored, as SemVer precedence says.
fn parse_semver(s: &str) -> Option<semver::Version> {
    let s = s.trim();
    let s = s.strip_prefix(['v', '=']).unwrap_or(s);
    let mut v = semver::Version::parse(s).ok()?;
    v.build = semver::BuildMetadata::EMPTY;
    Some(v)
}

fn parse_pep440(s: &str) -> Option<pep440_rs::Version> {
    pep440_rs::Version::from_str(s.trim()).ok()
}

enum Outcome {
    Affected(String),
    Unknown(String),
    Clear,
}

/// One affected entry against one version: the explicit list first, then
/// the ranges.
fn judge(ecosystem: &str, aff: &Affected, version: Option<&str>) -> Outcome {
    let Some(v) = version.map(str::trim).filter(|v| !v.is_empty()) else {
        return Outcome::Unknown("the component has no version".to_string());
    };
    let scheme = Scheme::of(ecosystem);
    if listed(scheme, &aff.versions, v) {
        return Outcome::Affected(format!(
            "version {v} is listed in the advisory's affected versions"
        ));
    }
    let mut unknown = None;
    let mut evaluable = !aff.versions.is_empty();
    for range in &aff.ranges {
        let range_scheme = match &range.kind {
            RangeKind::Semver => Some(Scheme::Semver),
            RangeKind::Ecosystem => scheme,
            // Commits need the repository; OSV.dev lists the tags they
            // cover in `versions`, which were checked above.
            RangeKind::Git => continue,
            RangeKind::Other(_) => None,
        };
        let Some(s) = range_scheme else {
            unknown.get_or_insert_with(|| {
                format!(
                    "the {} range ({}) of {ecosystem} cannot be ordered by this version, and {v} is not among the listed versions",
                    range.kind,
                    events_text(&range.events)
                )
            });
            continue;
        };
        evaluable = true;
        match contains(s, v, range) {
            Ok(true) => {
                return Outcome::Affected(format!(
                    "version {v} is in range {}",
                    events_text(&range.events)
                ));
            }
            Ok(false) => {}
            Err(why) => {
                unknown.get_or_insert(why);
            }
        }
    }
    match unknown {
        Some(why) => Outcome::Unknown(why),
        None if !evaluable => Outcome::Unknown(
            "the advisory lists no versions and no range but GIT commit ranges, which cannot be matched against a version"
                .to_string(),
        ),
        None => Outcome::Clear,
    }
}

fn events_text(events: &[Event]) -> String {
    let parts: Vec<String> = events.iter().map(Event::to_string).collect();
    parts.join(", ")
}

/// Listed as is, or equal under the ecosystem's ordering (`2.0` and
/// `2.0.0` are one PEP 440 version).
fn listed(scheme: Option<Scheme>, versions: &[String], v: &str) -> bool {
    if versions.iter().any(|x| x.trim() == v) {
        return true;
    }
    match scheme {
        Some(Scheme::Semver) => parse_semver(v).is_some_and(|p| {
            versions
                .iter()
                .any(|x| parse_semver(x).as_ref() == Some(&p))
        }),
        Some(Scheme::Pep440) => parse_pep440(v).is_some_and(|p| {
            versions
                .iter()
                .any(|x| parse_pep440(x).is_some_and(|x| x.cmp(&p).is_eq()))
        }),
        None => false,
    }
}

fn contains(scheme: Scheme, v: &str, range: &Range) -> Result<bool, String> {
    let events = &range.events;
    match scheme {
        Scheme::Semver => in_range(
            scheme,
            v,
            events,
            parse_semver,
            range
                .ordered
                .semver
                .get_or_init(|| order(events, parse_semver)),
        ),
        Scheme::Pep440 => in_range(
            scheme,
            v,
            events,
            parse_pep440,
            range
                .ordered
                .pep440
                .get_or_init(|| order(events, parse_pep440)),
        ),
    }
}

/// The events parsed and sorted; `None` when one is not a version.
fn order<V: Ord>(events: &[Event], parse: impl Fn(&str) -> Option<V>) -> Option<Events<V>> {
    let mut sorted: Vec<(Option<V>, usize)> = Vec::with_capacity(events.len());
    let mut limits: Vec<Option<V>> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let s = e.version().trim();
        match e {
            Event::Introduced(_) if s == "0" => sorted.push((None, i)),
            // `*` is infinity: no bound at all.
            Event::Limit(_) if s.contains('*') => limits.push(None),
            Event::Limit(_) => limits.push(Some(parse(s)?)),
            _ => sorted.push((Some(parse(s)?), i)),
        }
    }
    // Stable: equal versions keep the order the record gives them.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Some(Events { sorted, limits })
}

/// The OSV schema's `IncludedInRanges` for one range: events sorted by
/// version (`introduced: "0"` before all), a version is affected from an
/// `introduced` until a `fixed` (excluded) or past a `last_affected`, and
/// only below some `limit` when there are limits.
fn in_range<V: Ord>(
    scheme: Scheme,
    v: &str,
    events: &[Event],
    parse: impl Fn(&str) -> Option<V>,
    ordered: &Option<Events<V>>,
) -> Result<bool, String> {
    let version = parse(v).ok_or_else(|| {
        format!(
            "version {v} is not a valid {} version, so range {} cannot be evaluated",
            scheme.name(),
            events_text(events)
        )
    })?;
    let Some(ordered) = ordered else {
        let bad = events.iter().find(|e| {
            let s = e.version().trim();
            !(matches!(e, Event::Introduced(_) if s == "0")
                || matches!(e, Event::Limit(_) if s.contains('*'))
                || parse(s).is_some())
        });
        let bad = bad.map_or_else(|| events_text(events), Event::to_string);
        return Err(format!(
            "range event `{bad}` is not a valid {} version, so whether {v} is affected cannot be decided",
            scheme.name()
        ));
    };
    if !ordered.limits.is_empty()
        && !ordered
            .limits
            .iter()
            .any(|l| l.as_ref().is_none_or(|l| version < *l))
    {
        return Ok(false);
    }
    let mut affected = false;
    for (at, i) in &ordered.sorted {
        match &events[*i] {
            Event::Introduced(_) if at.as_ref().is_none_or(|at| version >= *at) => affected = true,
            Event::Fixed(_) if at.as_ref().is_some_and(|at| version >= *at) => affected = false,
            Event::LastAffected(_) if at.as_ref().is_some_and(|at| version > *at) => {
                affected = false
            }
            _ => {}
        }
    }
    Ok(affected)
}

// ---------------------------------------------------------------------------
// Records

/// The wire form, lenient where sources differ (RustSec writes `null`
/// where others leave a field out) and strict where meaning depends on it.
#[derive(Deserialize)]
struct RawRecord {
    id: String,
    modified: Option<String>,
    withdrawn: Option<String>,
    aliases: Option<Vec<String>>,
    summary: Option<String>,
    severity: Option<Vec<RawSeverity>>,
    affected: Option<Vec<RawAffected>>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    severity: Option<Vec<RawSeverity>>,
    ranges: Option<Vec<RawRange>>,
    versions: Option<Vec<String>>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

enum Parsed {
    Record(Advisory, Vec<String>),
    Withdrawn,
}

/// One record from its bytes; `Err` says why it is unusable. Notes are
/// parts that were ignored (an unscorable vector) without losing the record.
fn parse_record(bytes: &[u8]) -> Result<Parsed, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // serde_json's recursion limit stays on: deep nesting is an error, not
    // a stack overflow.
    let raw: RawRecord =
        serde_json::from_slice(bytes).map_err(|e| format!("not an OSV record: {e}"))?;
    let id = raw.id.trim().to_string();
    if id.is_empty() {
        return Err("the record's `id` is empty".to_string());
    }
    if raw.withdrawn.is_some() {
        return Ok(Parsed::Withdrawn);
    }
    let mut notes = Vec::new();
    let mut severity = raw
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
        .and_then(Severity::from_word);
    let mut cvss_score: Option<f64> = None;
    let mut informational = informational_of(raw.database_specific.as_ref());
    let per_package = raw
        .affected
        .iter()
        .flatten()
        .flat_map(|a| a.severity.iter().flatten());
    for s in raw.severity.iter().flatten().chain(per_package) {
        let rating = match s.kind.as_str() {
            "CVSS_V2" | "CVSS_V3" | "CVSS_V4" => match cvss::Cvss::from_str(s.score.trim()) {
                Ok(c) => {
                    let score = c.score();
                    if cvss_score.is_none_or(|best| score > best) {
                        cvss_score = Some(score);
                    }
                    Some(match c.severity() {
                        cvss::Severity::None | cvss::Severity::Low => Severity::Low,
                        cvss::Severity::Medium => Severity::Medium,
                        cvss::Severity::High => Severity::High,
                        cvss::Severity::Critical => Severity::Critical,
                    })
                }
                Err(e) => {
                    notes.push(format!(
                        "{id}: severity `{}` is not a CVSS vector this version can score ({e})",
                        s.score
                    ));
                    None
                }
            },
            "Ubuntu" => Severity::from_word(&s.score),
            _ => None,
        };
        severity = severity.max(rating);
    }
    let mut affected = Vec::new();
    for a in raw.affected.into_iter().flatten() {
        if informational.is_none() {
            informational = informational_of(a.database_specific.as_ref());
        }
        // Without a package the entry names no purl we could match.
        let Some(package) = a.package else {
            continue;
        };
        let mut ranges = Vec::new();
        for r in a.ranges.into_iter().flatten() {
            let kind = match r.kind.as_str() {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                "GIT" => RangeKind::Git,
                other => RangeKind::Other(other.to_string()),
            };
            let mut events = Vec::with_capacity(r.events.len());
            for e in r.events {
                let event = match (e.introduced, e.fixed, e.last_affected, e.limit) {
                    (Some(v), None, None, None) => Event::Introduced(v),
                    (None, Some(v), None, None) => Event::Fixed(v),
                    (None, None, Some(v), None) => Event::LastAffected(v),
                    (None, None, None, Some(v)) => Event::Limit(v),
                    _ => {
                        return Err(format!(
                            "{id}: a range event must have exactly one of introduced, fixed, last_affected, limit"
                        ));
                    }
                };
                events.push(event);
            }
            ranges.push(Range {
                kind,
                events,
                ordered: Ordered::default(),
            });
        }
        affected.push(Affected {
            package: Package {
                ecosystem: package.ecosystem,
                name: package.name,
            },
            versions: a.versions.unwrap_or_default(),
            ranges,
        });
    }
    Ok(Parsed::Record(
        Advisory {
            id,
            aliases: raw.aliases.unwrap_or_default(),
            summary: raw.summary,
            modified: raw.modified,
            severity,
            cvss_score,
            informational,
            affected,
        },
        notes,
    ))
}

fn informational_of(database_specific: Option<&serde_json::Value>) -> Option<String> {
    database_specific?
        .get("informational")?
        .as_str()
        .map(str::to_string)
}

// ---------------------------------------------------------------------------
// Loading

struct Loader<'l> {
    root: &'l Path,
    limits: &'l Limits,
    records: Vec<Advisory>,
    by_id: HashMap<String, usize>,
    warnings: Vec<LoadWarning>,
    warning_count: usize,
    skipped: usize,
    withdrawn: usize,
    total_bytes: u64,
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
    /// in name order. Hidden entries
    /// (`.git`) are passed over, and symbolic links to directories are not
    /// followed, so a link cannot make a loop.
    fn walk(&mut self) -> Result<(), AdvisoryError> {
        let mut stack = vec![(self.root.to_path_buf(), 0usize)];
        let mut seen = 0usize;
        while let Some((dir, depth)) = stack.pop() {
            let mut entries = Vec::new();
            for entry in fs::read_dir(&dir).map_err(|e| AdvisoryError::io(&dir, e))? {
                let entry = entry.map_err(|e| AdvisoryError::io(&dir, e))?;
                seen += 1;
                if seen > self.limits.max_entries {
                    return Err(AdvisoryError::TooManyEntries {
                        path: self.root.to_path_buf(),
                        limit: self.limits.max_entries,
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
                    .strip_prefix(self.root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                let ty = entry.file_type().map_err(|e| AdvisoryError::io(&path, e))?;
                if ty.is_dir() {
                    if depth < self.limits.max_depth {
                        subdirs.push(path);
                    } else {
                        self.warn(
                            &source,
                            format!(
                                "nested deeper than {} directories; not read",
                                self.limits.max_depth
                            ),
                        );
                    }
                } else if has_suffix(&name, ".json") {
                    self.read_file(&path, source)?;
                } else if has_suffix(&name, ".zip") {
                    // osv-scanner's offline cache: one `all.zip` per ecosystem.
                    let (file, meta) = fsutil::open_file(&path)?;
                    self.read_zip(&path, &source, file, meta.len())?;
                }
            }
            stack.extend(subdirs.into_iter().rev().map(|d| (d, depth + 1)));
        }
        Ok(())
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
            let name = printable(&String::from_utf8_lossy(entry.name_raw()));
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
            let read = (&mut entry).take(max + 1).read_to_end(&mut bytes);
            drop(entry);
            self.count_bytes(bytes.len())?;
            match read {
                Err(e) => self.skip(&source, format!("could not be decompressed: {e}")),
                Ok(_) if bytes.len() as u64 > max => self.skip(
                    &source,
                    format!("larger than the {max}-byte limit for one record"),
                ),
                Ok(_) => self.add(&source, &bytes)?,
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

/// Entry names come from the archive: no control characters reach a
/// terminal through a warning.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
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
    use std::io::Write;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/osv")
    }

    fn fixture_db() -> AdvisoryDb {
        let db = AdvisoryDb::load(&fixtures()).expect("fixtures load");
        assert_eq!(db.warnings(), &[] as &[LoadWarning]);
        db
    }

    /// The ids matched for a purl, with their status.
    fn ids(db: &AdvisoryDb, purl: &str) -> Vec<(String, Status)> {
        db.matches(purl, None)
            .unwrap()
            .into_iter()
            .map(|m| (m.advisory.id.clone(), m.status))
            .collect()
    }

    fn affected_ids(db: &AdvisoryDb, purl: &str) -> Vec<String> {
        ids(db, purl)
            .into_iter()
            .filter(|(_, s)| *s == Status::Affected)
            .map(|(id, _)| id)
            .collect()
    }

    fn record(
        id: &str,
        ecosystem: &str,
        name: &str,
        kind: RangeKind,
        events: Vec<Event>,
    ) -> Advisory {
        Advisory {
            id: id.to_string(),
            aliases: vec![],
            summary: None,
            modified: None,
            severity: Some(Severity::High),
            cvss_score: None,
            informational: None,
            affected: vec![Affected {
                package: Package {
                    ecosystem: ecosystem.to_string(),
                    name: name.to_string(),
                },
                versions: vec![],
                ranges: vec![Range {
                    kind,
                    events,
                    ordered: Ordered::default(),
                }],
            }],
        }
    }

    fn intro(v: &str) -> Event {
        Event::Introduced(v.to_string())
    }
    fn fixed(v: &str) -> Event {
        Event::Fixed(v.to_string())
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

    #[test]
    fn npm_lodash_vulnerable_and_fixed() {
        let db = fixture_db();
        let m = db.matches("pkg:npm/lodash@4.17.19", None).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].advisory.id, "GHSA-p6mc-m468-83gw");
        assert_eq!(m[0].status, Status::Affected);
        assert_eq!(
            m[0].why,
            "version 4.17.19 is in range introduced 0, fixed 4.17.20"
        );
        assert!(affected_ids(&db, "pkg:npm/lodash@4.17.20").is_empty());
        assert!(affected_ids(&db, "pkg:npm/lodash@4.17.21").is_empty());
        assert_eq!(
            affected_ids(&db, "pkg:npm/lodash-es@4.17.15"),
            ["GHSA-p6mc-m468-83gw"]
        );
        // The version argument wins over the purl's.
        assert!(
            db.matches("pkg:npm/lodash@4.17.0", Some("4.17.21"))
                .unwrap()
                .is_empty()
        );
        // Another ecosystem's package of the same name is not matched.
        assert!(ids(&db, "pkg:pypi/lodash@1.0").is_empty());
        assert!(ids(&db, "pkg:npm/left-pad@1.0.0").is_empty());
    }

    #[test]
    fn npm_prerelease_and_build_metadata() {
        let db = fixture_db();
        // A prerelease of the fixed version comes before it.
        assert_eq!(
            affected_ids(&db, "pkg:npm/lodash@4.17.20-rc.1"),
            ["GHSA-p6mc-m468-83gw"]
        );
        // "introduced 0" is below every version, prereleases of 0.0.0 too.
        assert_eq!(
            affected_ids(&db, "pkg:npm/lodash@0.0.0-alpha"),
            ["GHSA-p6mc-m468-83gw"]
        );
        // Build metadata does not count in precedence; a `v` is tolerated.
        assert!(affected_ids(&db, "pkg:npm/lodash@4.17.20+build.5").is_empty());
        assert_eq!(
            affected_ids(&db, "pkg:npm/lodash@v4.17.19"),
            ["GHSA-p6mc-m468-83gw"]
        );

        let db = AdvisoryDb::from_records(vec![record(
            "X-1",
            "npm",
            "pre",
            RangeKind::Semver,
            vec![intro("1.0.0-beta.2"), fixed("1.0.0")],
        )]);
        for (v, hit) in [
            ("1.0.0-alpha", false),
            ("1.0.0-beta.1", false),
            ("1.0.0-beta.2", true),
            ("1.0.0-beta.10", true), // numeric identifiers compare as numbers
            ("1.0.0-rc.1", true),
            ("1.0.0", false),
            ("1.0.1-alpha", false),
        ] {
            let purl = format!("pkg:npm/pre@{v}");
            assert_eq!(affected_ids(&db, &purl).len() == 1, hit, "{v}");
        }
    }

    #[test]
    fn npm_last_affected_and_scopes() {
        let db = fixture_db();
        let m = db.matches("pkg:npm/request@2.88.2", None).unwrap();
        assert_eq!(
            m[0].why,
            "version 2.88.2 is in range introduced 0, last_affected 2.88.2"
        );
        assert!(affected_ids(&db, "pkg:npm/request@2.88.3").is_empty());
        // Scoped names come from the purl's namespace, encoded or not.
        assert_eq!(
            affected_ids(&db, "pkg:npm/%40cypress/request@2.88.11"),
            ["GHSA-p8p7-x288-28g6"]
        );
        assert_eq!(
            affected_ids(&db, "pkg:npm/@cypress/request@2.88.10"),
            ["GHSA-p8p7-x288-28g6"]
        );
        assert!(affected_ids(&db, "pkg:npm/%40cypress/request@2.88.12").is_empty());
        assert!(affected_ids(&db, "pkg:npm/%40other/request@2.88.2").is_empty());
    }

    #[test]
    fn pypi_pep440_and_names() {
        let db = fixture_db();
        let jinja = |v: &str| {
            let mut got = affected_ids(&db, &format!("pkg:pypi/Jinja2@{v}"));
            got.sort();
            got
        };
        assert_eq!(jinja("3.1.2"), ["GHSA-h5c8-rqwp-cp95"]);
        assert!(jinja("3.1.3").is_empty());
        assert!(jinja("3.1.3.0").is_empty()); // the same version as 3.1.3
        assert!(jinja("3.1.3.post1").is_empty());
        assert_eq!(jinja("3.1.3rc1"), ["GHSA-h5c8-rqwp-cp95"]);
        assert_eq!(jinja("2.11.2"), ["GHSA-h5c8-rqwp-cp95", "PYSEC-2021-66"]);
        // The explicit list comes first and compares as PEP 440.
        let m = db.matches("pkg:pypi/jinja2@2.0.0", None).unwrap();
        let pysec = m.iter().find(|m| m.advisory.id == "PYSEC-2021-66").unwrap();
        assert_eq!(
            pysec.why,
            "version 2.0.0 is listed in the advisory's affected versions"
        );
        assert!(jinja("2.11.3").contains(&"GHSA-h5c8-rqwp-cp95".to_string()));
        assert!(!jinja("2.11.3").contains(&"PYSEC-2021-66".to_string()));

        // Two entries for one package: each range counts, one match.
        let urllib3 = |v: &str| affected_ids(&db, &format!("pkg:pypi/urllib3@{v}"));
        assert_eq!(urllib3("1.26.16"), ["GHSA-v845-jxx5-vc9f"]);
        assert!(urllib3("1.26.17").is_empty());
        assert!(urllib3("2.0.0a1").is_empty()); // after 1.26.17, before 2.0.0
        assert_eq!(urllib3("2.0.5"), ["GHSA-v845-jxx5-vc9f"]);
        assert!(urllib3("2.0.6").is_empty());

        // PEP 503 on the record's side too, and post/pre releases.
        let db = AdvisoryDb::from_records(vec![record(
            "X-2",
            "PyPI",
            "Zope_Interface",
            RangeKind::Ecosystem,
            vec![intro("1.0"), fixed("1.0.post1")],
        )]);
        for (purl, hit) in [
            ("pkg:pypi/zope-interface@1.0", true),
            ("pkg:pypi/zope.interface@1.0.0", true),
            ("pkg:pypi/ZOPE__interface@1.0", true),
            ("pkg:pypi/zope-interface@1.0rc1", false),
            ("pkg:pypi/zope-interface@1.0-post1", false),
            ("pkg:pypi/zope-interface@1.0.post1", false),
            ("pkg:pypi/zopeinterface@1.0", false),
        ] {
            assert_eq!(affected_ids(&db, purl).len() == 1, hit, "{purl}");
        }
    }

    #[test]
    fn crates_semver_ranges() {
        let db = fixture_db();
        let tokio = |v: &str| affected_ids(&db, &format!("pkg:cargo/tokio@{v}"));
        for (v, hit) in [
            ("0.1.13", false),
            ("0.1.14", true),
            ("1.8.3", true),
            ("1.8.4", false),
            ("1.9.0-alpha.1", false),
            ("1.9.0", true),
            ("1.13.1-rc.1", true),
            ("1.13.1", false),
        ] {
            assert_eq!(tokio(v).len() == 1, hit, "tokio {v}");
        }
        // `0.0.0-0` is RustSec's lowest version.
        assert_eq!(
            affected_ids(&db, "pkg:cargo/openssl@0.10.54"),
            ["RUSTSEC-2023-0044"]
        );
        assert!(affected_ids(&db, "pkg:cargo/openssl@0.10.55").is_empty());
        assert_eq!(
            affected_ids(&db, "pkg:cargo/failure@0.1.8"),
            ["RUSTSEC-2020-0036"]
        );
        // crates.io treats `-` and `_`, and case, as one name.
        let db = AdvisoryDb::from_records(vec![record(
            "X-13",
            "crates.io",
            "foo_bar",
            RangeKind::Semver,
            vec![intro("0")],
        )]);
        assert_eq!(affected_ids(&db, "pkg:cargo/Foo-Bar@1.0.0"), ["X-13"]);
    }

    #[test]
    fn explicit_versions_last_affected_and_limits() {
        let mut listed = record(
            "X-3",
            "Maven",
            "org.example:lib",
            RangeKind::Ecosystem,
            vec![intro("0"), fixed("2.0")],
        );
        listed.affected[0].versions = vec!["1.0".into(), "1.1".into()];
        let db = AdvisoryDb::from_records(vec![listed]);
        let m = db.matches("pkg:maven/org.example/lib@1.1", None).unwrap();
        assert_eq!(
            (m[0].status, m[0].why.as_str()),
            (
                Status::Affected,
                "version 1.1 is listed in the advisory's affected versions"
            )
        );
        // Maven's ordering is not known here: not listed is not "clear".
        let m = db.matches("pkg:maven/org.example/lib@3.0", None).unwrap();
        assert_eq!(m[0].status, Status::Unknown);
        assert!(
            m[0].why
                .contains("ECOSYSTEM range (introduced 0, fixed 2.0) of Maven"),
            "{}",
            m[0].why
        );

        let db = AdvisoryDb::from_records(vec![record(
            "X-4",
            "crates.io",
            "lim",
            RangeKind::Semver,
            vec![
                intro("1.0.0"),
                Event::LastAffected("1.2.0".into()),
                intro("2.0.0"),
                Event::Limit("2.5.0".into()),
            ],
        )]);
        for (v, hit) in [
            ("0.9.0", false),
            ("1.2.0", true),
            ("1.2.1", false),
            ("2.4.9", true),
            ("2.5.0", false),
        ] {
            assert_eq!(
                affected_ids(&db, &format!("pkg:cargo/lim@{v}")).len() == 1,
                hit,
                "{v}"
            );
        }
        // Events out of order are sorted first.
        let db = AdvisoryDb::from_records(vec![record(
            "X-5",
            "npm",
            "unsorted",
            RangeKind::Semver,
            vec![
                fixed("2.0.0"),
                intro("1.5.0"),
                fixed("1.2.0"),
                intro("1.0.0"),
            ],
        )]);
        for (v, hit) in [
            ("1.1.0", true),
            ("1.3.0", false),
            ("1.6.0", true),
            ("2.0.0", false),
        ] {
            assert_eq!(
                affected_ids(&db, &format!("pkg:npm/unsorted@{v}")).len() == 1,
                hit,
                "{v}"
            );
        }
    }

    #[test]
    fn undecidable_is_unknown_not_clear() {
        let git = record(
            "X-6",
            "PyPI",
            "gitonly",
            RangeKind::Git,
            vec![intro("abc123")],
        );
        let odd = record(
            "X-7",
            "npm",
            "odd",
            RangeKind::Semver,
            vec![intro("0"), fixed("not-a-version")],
        );
        let go = record(
            "X-8",
            "Go",
            "github.com/Example/Mod",
            RangeKind::Semver,
            vec![intro("0"), fixed("1.4.0")],
        );
        let db = AdvisoryDb::from_records(vec![git, odd, go]);
        assert_eq!(
            ids(&db, "pkg:pypi/gitonly@1.0"),
            [("X-6".to_string(), Status::Unknown)]
        );
        assert_eq!(
            ids(&db, "pkg:npm/odd@1.0.0"),
            [("X-7".to_string(), Status::Unknown)]
        );
        // The component's own version does not parse.
        let m = db.matches("pkg:npm/odd", Some("latest")).unwrap();
        assert_eq!(m[0].status, Status::Unknown);
        assert!(
            m[0].why
                .starts_with("version latest is not a valid SemVer version"),
            "{}",
            m[0].why
        );
        // No version at all.
        assert_eq!(
            db.matches("pkg:npm/odd", None).unwrap()[0].why,
            "the component has no version"
        );
        // Go: `v` prefixes and case folded by the purl spec.
        assert_eq!(
            affected_ids(&db, "pkg:golang/github.com/example/mod@v1.3.9"),
            ["X-8"]
        );
        assert!(affected_ids(&db, "pkg:golang/github.com/example/mod@v1.4.0").is_empty());
        assert!(matches!(
            db.matches("pkg:deb/debian/openssl@3.0.0", None),
            Err(AdvisoryError::UnsupportedPurlType { .. })
        ));
        assert!(matches!(
            db.matches("not a purl", None),
            Err(AdvisoryError::InvalidPurl { .. })
        ));
    }

    #[test]
    fn evaluate_threshold_ignores_and_unknowns() {
        let db = fixture_db();
        let components = [
            ("pkg:npm/lodash@4.17.19", None),       // high
            ("pkg:pypi/jinja2@3.1.2", None),        // medium
            ("pkg:cargo/tokio@1.8.3", None),        // unrated
            ("pkg:cargo/openssl", Some("0.10.40")), // unrated
            ("pkg:npm/request", None),              // no version: unknown, medium
            ("pkg:cargo/failure@0.1.8", None),      // critical
            ("pkg:deb/debian/curl@7.0", None),      // unsupported
            ("pkg:npm/lodash@4.17.21", None),       // clean
        ];
        let f = evaluate(&db, components, Severity::High, &[]);
        assert_eq!(f.components, 8);
        fn ids<'a>(v: &[Finding<'a>]) -> Vec<&'a str> {
            v.iter().map(|x| x.matched.advisory.id.as_str()).collect()
        }
        assert_eq!(
            ids(&f.denied),
            [
                "GHSA-p6mc-m468-83gw",
                "RUSTSEC-2021-0124",
                "RUSTSEC-2023-0044",
                "RUSTSEC-2020-0036"
            ]
        );
        assert_eq!(
            ids(&f.below_threshold),
            ["GHSA-h5c8-rqwp-cp95", "GHSA-p8p7-x288-28g6"]
        );
        assert_eq!(f.below_threshold[1].matched.status, Status::Unknown);
        assert!(f.unknown.is_empty());
        assert_eq!(f.unchecked.len(), 1);
        assert!(!f.is_clean());

        let f = evaluate(&db, components, Severity::Low, &[]);
        assert_eq!(ids(&f.unknown), ["GHSA-p8p7-x288-28g6"]);
        assert_eq!(f.denied.len(), 5);

        let f = evaluate(&db, components, Severity::Critical, &[]);
        assert_eq!(
            ids(&f.denied),
            [
                "RUSTSEC-2021-0124",
                "RUSTSEC-2023-0044",
                "RUSTSEC-2020-0036"
            ]
        );

        let ignores = [
            Ignore {
                id: "GHSA-p6mc-m468-83gw".into(),
                reason: "zipObjectDeep is not used".into(),
            },
            Ignore {
                id: "cve-2021-45710".into(),
                reason: "no oneshot::close".into(),
            },
            Ignore {
                id: "GHSA-0000-0000-0000".into(),
                reason: "was fixed long ago".into(),
            },
        ];
        let f = evaluate(&db, components, Severity::High, &ignores);
        assert_eq!(
            ids(&f.ignored),
            ["GHSA-p6mc-m468-83gw", "RUSTSEC-2021-0124"]
        );
        assert_eq!(f.ignored[1].ignored_by, Some(&ignores[1]));
        assert_eq!(ids(&f.denied), ["RUSTSEC-2023-0044", "RUSTSEC-2020-0036"]);
        assert_eq!(f.unused_ignores, [&ignores[2]]);
        assert_eq!(
            f.unused_ignore_messages(),
            [
                "ignored advisory `GHSA-0000-0000-0000` (was fixed long ago) matches no component; remove it, or it will silently accept a future match"
            ]
        );

        // An unrated informational notice does not deny.
        let mut notice = record(
            "X-9",
            "crates.io",
            "old",
            RangeKind::Semver,
            vec![intro("0")],
        );
        notice.severity = None;
        notice.informational = Some("unmaintained".into());
        let db = AdvisoryDb::from_records(vec![notice]);
        let f = evaluate(&db, [("pkg:cargo/old@1.0.0", None)], Severity::Low, &[]);
        assert_eq!((f.denied.len(), f.below_threshold.len()), (0, 1));
        assert!(f.is_clean());
    }

    #[test]
    fn severity_words_and_vectors() {
        assert_eq!("MODERATE".parse::<Severity>(), Ok(Severity::Medium));
        assert_eq!(" high ".parse::<Severity>(), Ok(Severity::High));
        assert!("severe".parse::<Severity>().is_err());
        assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
        let one = |severity: &str| {
            let text = format!(r#"{{"id": "X", "severity": [{severity}], "affected": []}}"#);
            match parse_record(text.as_bytes()) {
                Ok(Parsed::Record(a, notes)) => (a.severity, a.cvss_score, notes.len()),
                _ => panic!("record"),
            }
        };
        // CVSS v4 is scored too (9.3), and v2.
        assert_eq!(
            one(
                r#"{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}"#
            ),
            (Some(Severity::Critical), Some(9.3), 0)
        );
        assert_eq!(
            one(r#"{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}"#),
            (Some(Severity::High), Some(7.5), 0)
        );
        assert_eq!(
            one(r#"{"type": "Ubuntu", "score": "negligible"}"#),
            (Some(Severity::Low), None, 0)
        );
        // Garbage is a note, not a failure and not a panic.
        for bad in [
            "",
            "CVSS:3.1/",
            "CVSS:9.9/AV:N",
            "CVSS:3.1/AV:X/AC:L",
            "AV:N/AC:L/Au:N",
            "//::",
        ] {
            let s = format!(r#"{{"type": "CVSS_V3", "score": "{bad}"}}"#);
            assert_eq!(one(&s), (None, None, 1), "{bad}");
        }
    }

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
        // One JSON file on its own is a database too.
        assert_eq!(
            AdvisoryDb::load(&dir.path().join("r0.json")).unwrap().len(),
            1
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
