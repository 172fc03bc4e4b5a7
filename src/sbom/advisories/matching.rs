//! Matching components against the database: purls to OSV package keys,
//! and matches sorted by severity threshold and ignores into findings.

use std::collections::HashMap;
use std::str::FromStr;

use packageurl::PackageUrl;

use super::osv::{Ignore, Match, Severity, Status};
use super::versions::{Outcome, judge};
use super::{AdvisoryDb, AdvisoryError};
use crate::sbom::package;

impl AdvisoryDb {
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
        let mut out = self.matches_indexed(target, version);
        // A record that could not be read but names the package: whether
        // this version is affected is unknown.
        for &u in self.unreadable_index.get(&target.key).into_iter().flatten() {
            let r = &self.unreadable[u];
            out.push(Match {
                advisory: &r.advisory,
                status: Status::Unknown,
                why: format!(
                    "the advisory record {} names the package but could not be read ({}), so whether version {} is affected cannot be decided",
                    crate::text::printable(&r.warning.source, 200),
                    crate::text::printable(&r.warning.message, 200),
                    version.unwrap_or("(none)")
                ),
            });
        }
        out
    }

    fn matches_indexed(&self, target: &Target, version: Option<&str>) -> Vec<Match<'_>> {
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
    pub(super) db: &'a AdvisoryDb,
    pub(super) threshold: Severity,
    pub(super) ignores: &'a [Ignore],
    /// Ignore ids, lower-cased: GHSA ids appear in both cases.
    pub(super) by_id: HashMap<String, usize>,
    pub(super) used: Vec<bool>,
    pub(super) findings: Findings<'a>,
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

/// A component's package as the index knows it.
pub(super) struct Target {
    pub(super) ecosystem: &'static str,
    pub(super) key: String,
    pub(super) version: Option<String>,
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
        let ecosystem =
            package::osv_ecosystem(p.ty()).ok_or_else(|| AdvisoryError::UnsupportedPurlType {
                purl: purl.to_string(),
                ty: p.ty().to_string(),
            })?;
        Ok(Target {
            ecosystem,
            key: package::purl_key(p),
            version: p.version().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::advisories::test_support::*;
    use crate::sbom::advisories::*;

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
}
