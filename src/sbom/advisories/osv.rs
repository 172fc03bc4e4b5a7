//! The OSV model: advisories, affected packages, ranges and severities,
//! and the lenient wire form records are parsed from.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

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
    pub(super) ordered: Ordered,
}

/// A range's events parsed and sorted under each scheme, on first use: a
/// database is loaded once and a range is judged for many versions.
#[derive(Default, Clone)]
pub(super) struct Ordered {
    pub(super) semver: OnceLock<Option<Events<semver::Version>>>,
    pub(super) pep440: OnceLock<Option<Events<pep440_rs::Version>>>,
}

/// `None` when some event is not a version of the scheme.
#[derive(Clone)]
pub(super) struct Events<V> {
    /// (version, index of the event), sorted; `None` is `introduced: "0"`.
    pub(super) sorted: Vec<(Option<V>, usize)>,
    /// `limit` events; `None` is `*`.
    pub(super) limits: Vec<Option<V>>,
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

// ---------------------------------------------------------------------------
// Records

/// The wire form, lenient where sources differ (RustSec writes `null`
/// where others leave a field out) and strict where meaning depends on it.
#[derive(Deserialize)]
pub(super) struct RawRecord {
    pub(super) id: String,
    pub(super) modified: Option<String>,
    pub(super) withdrawn: Option<String>,
    pub(super) aliases: Option<Vec<String>>,
    pub(super) summary: Option<String>,
    pub(super) severity: Option<Vec<RawSeverity>>,
    pub(super) affected: Option<Vec<RawAffected>>,
    pub(super) database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct RawSeverity {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) score: String,
}

#[derive(Deserialize)]
pub(super) struct RawAffected {
    pub(super) package: Option<RawPackage>,
    pub(super) severity: Option<Vec<RawSeverity>>,
    pub(super) ranges: Option<Vec<RawRange>>,
    pub(super) versions: Option<Vec<String>>,
    pub(super) database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct RawPackage {
    pub(super) ecosystem: String,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct RawRange {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) events: Vec<RawEvent>,
}

#[derive(Deserialize)]
pub(super) struct RawEvent {
    pub(super) introduced: Option<String>,
    pub(super) fixed: Option<String>,
    pub(super) last_affected: Option<String>,
    pub(super) limit: Option<String>,
}

pub(super) enum Parsed {
    Record(Advisory, Vec<String>),
    Withdrawn,
}

/// One record from its bytes; `Err` says why it is unusable. Notes are
/// parts that were ignored (an unscorable vector) without losing the record.
pub(super) fn parse_record(bytes: &[u8]) -> Result<Parsed, String> {
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

/// What can still be read of a record [`parse_record`] refused: its `id`
/// if it is a string, and each `affected[].package` whose ecosystem and
/// name are strings. `None` when the bytes are not JSON or name no
/// package. Nothing else of the record is trusted.
pub(super) fn salvage(bytes: &[u8]) -> Option<(Option<String>, Vec<Package>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // The recursion limit holds here too.
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let id = v
        .get("id")
        .and_then(|i| i.as_str())
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_string);
    let packages: Vec<Package> = v
        .get("affected")?
        .as_array()?
        .iter()
        .filter_map(|a| {
            let p = a.get("package")?;
            Some(Package {
                ecosystem: p.get("ecosystem")?.as_str()?.to_string(),
                name: p.get("name")?.as_str()?.to_string(),
            })
        })
        .collect();
    (!packages.is_empty()).then_some((id, packages))
}

pub(super) fn informational_of(database_specific: Option<&serde_json::Value>) -> Option<String> {
    database_specific?
        .get("informational")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
