//! What a decision says about the advisory database itself, once per
//! decision rather than per SBOM: an `[advisories]` table with no database
//! in force, records the load had to skip, and the database's age.

use super::{Loc, Mode, Policy, PolicySet};
use crate::diag::{Code, Diagnostic, Severity};
use crate::sbom::advisories::{AdvisoryDb, Source};

/// `[advisories] max-age` when no layer says: a week (as written, seconds).
pub const DEFAULT_MAX_AGE: (&str, u64) = ("7d", 7 * 86_400);

/// Skipped files named in a diagnostic; the rest are counted.
const NAMED_SKIPS: usize = 3;

/// The age rule in force over all layers: the smallest `max-age` any layer
/// says (the default when none does), and "deny" when a layer that
/// enforces says so. A layer in audit mode that says "deny" leaves a
/// warning, as its other denials do.
struct Freshness<'a> {
    text: &'a str,
    secs: u64,
    deny: bool,
    loc: Option<&'a Loc>,
}

fn freshness(set: &PolicySet) -> Freshness<'_> {
    let mut f = Freshness {
        text: DEFAULT_MAX_AGE.0,
        secs: DEFAULT_MAX_AGE.1,
        deny: false,
        loc: None,
    };
    let mut said = false;
    for p in &set.layers {
        let Some(a) = &p.advisories else { continue };
        if let Some(m) = &a.max_age
            && (!said || m.value.1 < f.secs)
        {
            said = true;
            f.text = &m.value.0;
            f.secs = m.value.1;
            f.loc = Some(&m.loc);
        }
        if a.stale_deny.as_ref().is_some_and(|s| s.value) && p.mode.value == Mode::Enforce {
            f.deny = true;
        }
    }
    f
}

/// `policy check`: `[advisories]` tables in `layers` when none of them
/// names a `db`. Its threshold, ignores and `max-age` then check nothing
/// unless `--advisories` is given, which the file cannot show.
pub fn advisory_tables_without_db(layers: &[Policy]) -> Vec<Diagnostic> {
    if layers
        .iter()
        .any(|p| p.advisories.as_ref().is_some_and(|a| a.db.is_some()))
    {
        return Vec::new();
    }
    layers
        .iter()
        .filter_map(|p| p.advisories.as_ref())
        .map(|a| {
            Diagnostic::warning(
                Code::AdvisoryDbMissing,
                "[advisories] names no `db`: unless --advisories is given, no advisory database is in force and its rules check nothing",
            )
            .hint("add `db = \"PATH\"` (a directory of OSV JSON files or an ecosystem's all.zip, relative to this file)")
            .at(a.loc.to_string())
        })
        .collect()
}

/// What a decision reports about the database in force (`db`, every
/// layer's and `--advisories` together), judged by the rules of `set`.
pub fn advisory_db_findings(
    set: &PolicySet,
    db: Option<&AdvisoryDb>,
    now: jiff::Timestamp,
) -> Vec<Diagnostic> {
    let Some(db) = db else {
        // A table that looks active while nothing is checked.
        return (set.layers.iter())
            .filter_map(|p| p.advisories.as_ref())
            .take(1)
            .map(|a| {
                Diagnostic::warning(
                    Code::AdvisoryDbMissing,
                    "the policy has an [advisories] table, but no advisory database is in force (no layer names a `db`, and --advisories was not given): no component was checked against advisories",
                )
                .hint("name the database in [advisories] `db`, or pass --advisories PATH")
                .at(a.loc.to_string())
            })
            .collect();
    };
    let rule = freshness(set);
    let mut out = Vec::new();
    for s in db.sources() {
        if s.skipped > 0 {
            out.push(incomplete(s));
        }
        if let Some(d) = stale(s, &rule, now) {
            out.push(d);
        }
    }
    out
}

fn incomplete(s: &Source) -> Diagnostic {
    let named: Vec<String> = (s.skips.iter().take(NAMED_SKIPS))
        .map(|w| {
            format!(
                "{} ({})",
                crate::text::printable(&w.source, 200),
                crate::text::printable(&w.message, 200)
            )
        })
        .collect();
    let more = s.skipped.saturating_sub(named.len());
    Diagnostic::warning(
        Code::AdvisoryDbIncomplete,
        format!(
            "the advisory database {} skipped {} record(s) it could not read, whose advisories were not checked: {}{}",
            s.path.display(),
            s.skipped,
            named.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ),
    )
    .hint("repair or download the database again; a component that a skipped record still names is reported as advisory-unknown")
}

fn stale(s: &Source, rule: &Freshness, now: jiff::Timestamp) -> Option<Diagnostic> {
    let message = match s.newest {
        None => format!(
            "the advisory database {} has no record with a valid `modified` time, so its age is unknown and it counts as older than `max-age = \"{}\"`",
            s.path.display(),
            rule.text
        ),
        Some(t) => {
            let age = now.as_second().saturating_sub(t.as_second());
            if age <= rule.secs as i64 {
                return None;
            }
            format!(
                "the advisory database {} was last updated {t} (its newest record), more than `max-age = \"{}\"` ago",
                s.path.display(),
                rule.text
            )
        }
    };
    let severity = if rule.deny {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut d = Diagnostic::new(Code::AdvisoryDbStale, severity, message)
        .hint("update the database (osv-scanner's offline download, or the ecosystem's all.zip from osv.dev); [advisories] `max-age` sets how old it may be");
    d.location = rule.loc.map(Loc::to_string);
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Layer;
    use crate::trust::TrustStore;
    use std::path::Path;

    use crate::policy::parse::tests::clean as layer;

    fn set(layers: Vec<Policy>) -> PolicySet {
        PolicySet {
            layers,
            warnings: Vec::new(),
        }
    }

    /// A database whose one record was modified `days` ago (or never).
    fn db_aged(dir: &Path, days: Option<i64>) -> AdvisoryDb {
        let modified = days.map(|d| {
            let t = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * d);
            format!(r#", "modified": "{}""#, t.strftime("%Y-%m-%dT%H:%M:%SZ"))
        });
        std::fs::write(
            dir.join("r.json"),
            format!(r#"{{"id": "R-1"{}}}"#, modified.unwrap_or_default()),
        )
        .unwrap();
        AdvisoryDb::load(dir).unwrap()
    }

    fn codes(d: &[Diagnostic]) -> Vec<(&'static str, Severity)> {
        d.iter().map(|d| (d.code.as_str(), d.severity)).collect()
    }

    #[test]
    fn keys_parse_and_bad_values_are_errors() {
        let p = layer(
            "[advisories]\nmax-age = \"2d\"\nstale = \"deny\"\n",
            Layer::User,
        );
        let a = p.advisories.unwrap();
        assert_eq!(a.max_age.unwrap().value, ("2d".to_string(), 2 * 86_400));
        assert!(a.stale_deny.unwrap().value);
        let (_, d) = super::super::parse(
            "version = 1\n[advisories]\nmax-age = \"soon\"\nstale = \"panic\"\n",
            Path::new("p.toml"),
            Layer::User,
            &TrustStore::default(),
        );
        let got: Vec<(&str, &str)> = d
            .iter()
            .map(|d| (d.code.as_str(), d.location.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            got,
            [
                ("policy-bad-pattern", "p.toml:3:11"),
                ("policy-type", "p.toml:4:9")
            ]
        );
    }

    #[test]
    fn age_default_strictest_layer_and_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let now = jiff::Timestamp::now();
        let none = set(vec![]);
        // Within the default week: nothing; past it: a warning.
        assert!(advisory_db_findings(&none, Some(&db_aged(dir.path(), Some(6))), now).is_empty());
        let old = db_aged(dir.path(), Some(8));
        let d = advisory_db_findings(&none, Some(&old), now);
        assert_eq!(codes(&d), [("advisory-db-stale", Severity::Warning)]);
        assert!(
            d[0].message.contains("more than `max-age = \"7d\"` ago"),
            "{}",
            d[0].message
        );
        // The smallest max-age of the layers, and deny from an enforcing one.
        let sys = layer(
            "[advisories]\nmax-age = \"30d\"\nstale = \"deny\"\n",
            Layer::System,
        );
        let user = layer("[advisories]\nmax-age = \"1d\"\n", Layer::User);
        let aged2 = db_aged(dir.path(), Some(2));
        let d = advisory_db_findings(&set(vec![sys.clone(), user.clone()]), Some(&aged2), now);
        assert_eq!(codes(&d), [("advisory-db-stale", Severity::Error)]);
        assert!(d[0].message.contains("`max-age = \"1d\"`"));
        assert_eq!(d[0].location.as_deref(), Some("p.toml:3:11"));
        // A longer max-age in one layer does not loosen the other's default.
        let d = advisory_db_findings(&set(vec![sys.clone()]), Some(&aged2), now);
        assert!(d.is_empty(), "{d:?}");
        // "deny" in a layer in audit mode reports, as its denials do.
        let audit = layer(
            "mode = \"audit\"\n[advisories]\nstale = \"deny\"\n",
            Layer::User,
        );
        let d = advisory_db_findings(&set(vec![audit]), Some(&old), now);
        assert_eq!(codes(&d), [("advisory-db-stale", Severity::Warning)]);
        // No usable `modified` at all: unknown age, stale.
        let unknown = db_aged(dir.path(), None);
        let d = advisory_db_findings(&set(vec![sys]), Some(&unknown), now);
        assert_eq!(codes(&d), [("advisory-db-stale", Severity::Error)]);
        assert!(
            d[0].message.contains("its age is unknown"),
            "{}",
            d[0].message
        );
        // A record dated in the future does not make a database fresh.
        let future = db_aged(dir.path(), Some(-30));
        let d = advisory_db_findings(&none, Some(&future), now);
        assert_eq!(codes(&d), [("advisory-db-stale", Severity::Warning)]);
    }

    #[test]
    fn skipped_records_are_named_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("bad{i}.json")), "{").unwrap();
        }
        db_aged(dir.path(), Some(0));
        let db = AdvisoryDb::load(dir.path()).unwrap();
        let d = advisory_db_findings(&set(vec![]), Some(&db), jiff::Timestamp::now());
        assert_eq!(codes(&d), [("advisory-db-incomplete", Severity::Warning)]);
        let m = &d[0].message;
        assert!(
            m.contains("skipped 5 record(s)")
                && m.contains("bad0.json (not an OSV record: ")
                && m.contains("bad2.json")
                && !m.contains("bad3.json")
                && m.ends_with("; and 2 more"),
            "{m}"
        );
    }

    #[test]
    fn tables_without_a_database() {
        let bare = layer("[advisories]\nseverity = \"low\"\n", Layer::User);
        let with_db = layer("[advisories]\ndb = \"osv\"\n", Layer::System);
        let d = advisory_tables_without_db(std::slice::from_ref(&bare));
        assert_eq!(codes(&d), [("advisory-db-missing", Severity::Warning)]);
        assert_eq!(d[0].location.as_deref(), Some("p.toml:2:1"));
        // Another layer's database serves this table too.
        assert!(advisory_tables_without_db(&[with_db, bare.clone()]).is_empty());
        assert!(advisory_tables_without_db(&[layer("", Layer::User)]).is_empty());
        // In a decision: only when no database is in force at all.
        let now = jiff::Timestamp::now();
        let d = advisory_db_findings(&set(vec![bare]), None, now);
        assert_eq!(codes(&d), [("advisory-db-missing", Severity::Warning)]);
        assert!(advisory_db_findings(&set(vec![]), None, now).is_empty());
    }
}
