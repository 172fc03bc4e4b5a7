//! Fixtures and record builders shared by the advisory tests.

use super::osv::Ordered;
use super::*;

pub(super) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/osv")
}

pub(super) fn fixture_db() -> AdvisoryDb {
    let db = AdvisoryDb::load(&fixtures()).expect("fixtures load");
    assert_eq!(db.warnings(), &[] as &[LoadWarning]);
    db
}

/// The ids matched for a purl, with their status.
pub(super) fn ids(db: &AdvisoryDb, purl: &str) -> Vec<(String, Status)> {
    db.matches(purl, None)
        .unwrap()
        .into_iter()
        .map(|m| (m.advisory.id.clone(), m.status))
        .collect()
}

pub(super) fn affected_ids(db: &AdvisoryDb, purl: &str) -> Vec<String> {
    ids(db, purl)
        .into_iter()
        .filter(|(_, s)| *s == Status::Affected)
        .map(|(id, _)| id)
        .collect()
}

pub(super) fn record(
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

pub(super) fn intro(v: &str) -> Event {
    Event::Introduced(v.to_string())
}

pub(super) fn fixed(v: &str) -> Event {
    Event::Fixed(v.to_string())
}
