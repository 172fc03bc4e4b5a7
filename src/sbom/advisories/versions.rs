//! Whether a version is affected: the explicit `versions` list, then each
//! range's events ordered by the ecosystem's version scheme.

use std::str::FromStr;

use super::osv::{Affected, Event, Events, Range, RangeKind};

#[derive(Clone, Copy)]
pub(super) enum Scheme {
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

    fn parses(self, v: &str) -> bool {
        match self {
            Scheme::Semver => parse_semver(v).is_some(),
            Scheme::Pep440 => parse_pep440(v).is_some(),
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
pub(super) fn parse_semver(s: &str) -> Option<semver::Version> {
    let s = s.trim();
    let s = s.strip_prefix(['v', '=']).unwrap_or(s);
    let mut v = semver::Version::parse(s).ok()?;
    v.build = semver::BuildMetadata::EMPTY;
    Some(v)
}

pub(super) fn parse_pep440(s: &str) -> Option<pep440_rs::Version> {
    pep440_rs::Version::from_str(s.trim()).ok()
}

pub(super) enum Outcome {
    Affected(String),
    Unknown(String),
    Clear,
}

/// One affected entry against one version: the explicit list first, then
/// the ranges.
pub(super) fn judge(ecosystem: &str, aff: &Affected, version: Option<&str>) -> Outcome {
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
    // Not listed proves nothing when the version cannot be compared with
    // the list: `3.3.06` and `3.3.6.0` are not SemVer, yet npm may mean
    // `3.3.6` by them. Under a known scheme such a version is unknown.
    if let Some(s) = scheme
        && !aff.versions.is_empty()
        && !s.parses(v)
    {
        unknown = Some(format!(
            "version {v} is not a valid {} version and is not listed as it is, so it cannot be compared with the advisory's affected versions",
            s.name()
        ));
    }
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

pub(super) fn events_text(events: &[Event]) -> String {
    let parts: Vec<String> = events.iter().map(Event::to_string).collect();
    parts.join(", ")
}

/// Listed as is, or equal under the ecosystem's ordering (`2.0` and
/// `2.0.0` are one PEP 440 version).
pub(super) fn listed(scheme: Option<Scheme>, versions: &[String], v: &str) -> bool {
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

pub(super) fn contains(scheme: Scheme, v: &str, range: &Range) -> Result<bool, String> {
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
pub(super) fn order<V: Ord>(
    events: &[Event],
    parse: impl Fn(&str) -> Option<V>,
) -> Option<Events<V>> {
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
pub(super) fn in_range<V: Ord>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::advisories::test_support::*;
    use crate::sbom::advisories::*;

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

    /// A versions-only record (event-stream's compromised 3.3.6) cannot
    /// clear a version that does not parse under the ecosystem's scheme.
    #[test]
    fn versions_only_records_do_not_clear_what_they_cannot_place() {
        let mut listed = record("X-20", "npm", "event-stream", RangeKind::Semver, vec![]);
        listed.affected[0].ranges.clear();
        listed.affected[0].versions = vec!["3.3.6".into()];
        let mut py = record("X-21", "PyPI", "evil", RangeKind::Semver, vec![]);
        py.affected[0].ranges.clear();
        py.affected[0].versions = vec!["1.0".into(), "not-pep440".into()];
        let db = AdvisoryDb::from_records(vec![listed, py]);
        let one = |purl: &str| {
            let m = db.matches(purl, None).unwrap();
            assert!(m.len() <= 1, "{m:?}");
            m.first().map(|m| (m.status, m.why.clone()))
        };
        for v in ["3.3.06", "3.3.6.0", "3.3", "V3.3.6", "3.3.6-01", "latest"] {
            let (status, why) = one(&format!("pkg:npm/event-stream@{v}")).expect(v);
            assert_eq!(status, Status::Unknown, "{v}");
            assert!(
                why.starts_with(&format!("version {v} is not a valid SemVer version")),
                "{why}"
            );
        }
        // Equal under SemVer, or listed as it is: affected.
        for v in ["3.3.6", "v3.3.6", "=3.3.6", "3.3.6+build.1"] {
            let purl = format!("pkg:npm/event-stream@{v}");
            assert_eq!(one(&purl).map(|m| m.0), Some(Status::Affected), "{v}");
        }
        // A valid version not listed is clear.
        assert_eq!(one("pkg:npm/event-stream@3.3.5"), None);
        assert_eq!(one("pkg:npm/event-stream@3.3.6-rc.1"), None);
        // PEP 440 likewise; an entry listed verbatim matches whatever it is.
        assert_eq!(
            one("pkg:pypi/evil@1.0.0").map(|m| m.0),
            Some(Status::Affected)
        );
        assert_eq!(
            one("pkg:pypi/evil@not-pep440").map(|m| m.0),
            Some(Status::Affected)
        );
        assert_eq!(one("pkg:pypi/evil@1.1"), None);
        assert_eq!(
            one("pkg:pypi/evil@1.0_x").map(|m| m.0),
            Some(Status::Unknown)
        );
        // A GIT range beside the list: the list still decides, and a
        // version it cannot place is unknown.
        let mut git = record("X-22", "npm", "gitted", RangeKind::Git, vec![intro("abc")]);
        git.affected[0].versions = vec!["1.0.0".into()];
        let db = AdvisoryDb::from_records(vec![git]);
        assert_eq!(ids(&db, "pkg:npm/gitted@1.0.1"), []);
        assert_eq!(
            ids(&db, "pkg:npm/gitted@1.0.01"),
            [("X-22".to_string(), Status::Unknown)]
        );
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
}
