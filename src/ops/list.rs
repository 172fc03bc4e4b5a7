//! `list`: the pinned servers as typed rows, with the newest `launch`
//! record of each from the audit log.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::context::Context;
use crate::diag::Failure;
use crate::lock::{Entry, Lock};
use crate::source::ArtifactKind;

/// How much of the end of the audit log `list` reads for the last runs:
/// a server whose newest launch lies further back shows no last run.
pub const MAX_AUDIT_TAIL: u64 = 16 << 20;

/// One pinned server.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub source: String,
    pub version: Option<String>,
    pub kind: ArtifactKind,
    pub sha256: String,
    pub evidence: Evidence,
    /// Packages pinned in its dependency tree (0: none recorded).
    pub packages: usize,
    /// Of those, the ones that declare install scripts (never run).
    pub install_scripts: usize,
    pub pinned: String,
    pub last_run: Option<LastRun>,
}

/// What the pin's verdict rested on.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub signers: Vec<String>,
    /// What each signed; empty where the lock did not record it.
    pub signed: Vec<crate::lock::Signed>,
    /// The same in words (`artifact signed by b, SBOM signed by a`).
    pub signed_summary: Option<String>,
    pub provenance: bool,
    pub sbom: bool,
    /// Pinned without a signature on purpose: the reason.
    pub unsigned: Option<String>,
}

/// The newest `launch` record of a server in the part of the log read.
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub time: String,
    pub verdict: String,
}

/// The rows, by name, and whether the audit log was longer than the part
/// read ([`MAX_AUDIT_TAIL`]).
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub servers: Vec<Row>,
    pub audit_truncated: bool,
}

pub fn list(ctx: &Context) -> Result<Listing, Failure> {
    let lock = Lock::load(&ctx.config_dir.join("servers.lock"))?;
    let log = crate::audit::Paths::new(ctx).log;
    let (runs, audit_truncated) = last_runs(&log, MAX_AUDIT_TAIL);
    let servers = lock
        .servers
        .iter()
        .map(|(name, e)| row(name, e, runs.get(name).cloned()))
        .collect();
    Ok(Listing {
        servers,
        audit_truncated,
    })
}

fn row(name: &str, e: &Entry, last_run: Option<LastRun>) -> Row {
    let has = |prefix: &str| e.evidence.iter().any(|l| l.starts_with(prefix));
    Row {
        name: name.to_string(),
        source: e.source.clone(),
        version: e.version.clone(),
        kind: e.kind,
        sha256: e.sha256.clone(),
        evidence: Evidence {
            signers: e.signers.clone(),
            signed: e.signed.clone(),
            signed_summary: e.signed_summary(),
            provenance: has("provenance:"),
            sbom: has("sbom"),
            unsigned: e.unsigned.clone(),
        },
        packages: e.packages.len(),
        install_scripts: e.packages.iter().filter(|p| p.install_scripts).count(),
        pinned: e.pinned.clone(),
        last_run,
    }
}

/// The newest `launch` record per server in the last `max` bytes of the
/// log. A log that cannot be read gives no last runs: `list` shows the
/// pins whatever state the log is in (`audit verify` judges the log).
fn last_runs(log: &Path, max: u64) -> (BTreeMap<String, LastRun>, bool) {
    let mut out = BTreeMap::new();
    let Ok(mut f) = File::open(log) else {
        return (out, false);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return (out, false);
    }
    let mut buf = Vec::new();
    if f.take(max).read_to_end(&mut buf).is_err() {
        return (out, start > 0);
    }
    let mut lines = buf.split(|b| *b == b'\n');
    if start > 0 {
        // The first line read is most likely cut: skip it.
        lines.next();
    }
    for line in lines {
        if line.is_empty() || line.len() > crate::audit::MAX_LINE {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if v["event"] != "launch" {
            continue;
        }
        let (Some(server), Some(time)) = (v["server"].as_str(), v["time"].as_str()) else {
            continue;
        };
        out.insert(
            server.to_string(),
            LastRun {
                time: time.to_string(),
                verdict: v["verdict"].as_str().unwrap_or("").to_string(),
            },
        );
    }
    (out, start > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_launch_wins_and_a_cut_first_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        let rec = |t: &str, s: &str, ev: &str| {
            format!(r#"{{"seq":1,"time":"{t}","event":"{ev}","server":"{s}","verdict":"allowed"}}"#)
        };
        let text = [
            rec("2026-01-01T00:00:00Z", "a", "launch"),
            rec("2026-01-02T00:00:00Z", "a", "launch"),
            rec("2026-01-03T00:00:00Z", "a", "tool-call"),
            "not json".to_string(),
            rec("2026-01-04T00:00:00Z", "b", "launch"),
        ]
        .join("\n");
        std::fs::write(&log, &text).unwrap();
        let (runs, cut) = last_runs(&log, 1 << 20);
        assert!(!cut);
        assert_eq!(runs["a"].time, "2026-01-02T00:00:00Z");
        assert_eq!(runs["b"].time, "2026-01-04T00:00:00Z");
        // Only the tail: the last record, its predecessor cut and skipped.
        let last = rec("2026-01-04T00:00:00Z", "b", "launch").len() as u64 + 3;
        let (runs, cut) = last_runs(&log, last);
        assert!(cut);
        assert!(!runs.contains_key("a"), "{runs:?}");
        assert!(runs.contains_key("b"));
        let (runs, cut) = last_runs(&dir.path().join("none"), 10);
        assert!(runs.is_empty() && !cut);
    }
}
