//! `mcp-warden list`: the pinned servers.

use anyhow::Result;

use super::Global;
use crate::ops::list::{self, Row};

pub fn run(g: &Global) -> Result<u8> {
    let ctx = g.context()?;
    let listing = list::list(&ctx)?;
    if g.json() {
        g.out(&format!("{}\n", serde_json::to_string(&listing)?));
        return Ok(0);
    }
    if listing.servers.is_empty() {
        g.out("no server is pinned (mcp-warden add NAME SOURCE pins one)\n");
        return Ok(0);
    }
    let mut text = String::new();
    for r in &listing.servers {
        text.push_str(&describe(r));
    }
    g.out(&text);
    if listing.audit_truncated {
        g.note(&format!(
            "note: only the last {} MiB of the audit log were read for the last runs",
            list::MAX_AUDIT_TAIL >> 20
        ));
    }
    Ok(0)
}

fn describe(r: &Row) -> String {
    let p = |s: &str| crate::text::printable(s, 200);
    let kind = serde_json::to_value(r.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut s = format!("{}\n", p(&r.name));
    s.push_str(&format!("  source:   {}\n", p(&r.source)));
    if let Some(v) = &r.version {
        s.push_str(&format!("  version:  {}\n", p(v)));
    }
    s.push_str(&format!("  kind:     {kind}\n"));
    let mut ev = Vec::new();
    if let Some(signed) = &r.evidence.signed_summary {
        ev.push(p(signed));
    }
    if let Some(reason) = &r.evidence.unsigned {
        ev.push(format!(
            "unsigned: {}",
            crate::text::printable(reason, crate::lock::MAX_REASON_CHARS)
        ));
    }
    if r.evidence.provenance {
        ev.push("provenance".to_string());
    }
    if r.evidence.sbom {
        ev.push("SBOM".to_string());
    }
    if ev.is_empty() {
        ev.push("digest only".to_string());
    }
    s.push_str(&format!("  evidence: {}\n", ev.join("; ")));
    if r.packages > 0 {
        let scripts = if r.install_scripts > 0 {
            format!(
                " ({} declare install scripts, never run)",
                r.install_scripts
            )
        } else {
            String::new()
        };
        s.push_str(&format!("  packages: {}{scripts}\n", r.packages));
    }
    match &r.last_run {
        Some(l) => s.push_str(&format!("  last run: {} ({})\n", p(&l.time), p(&l.verdict))),
        None => s.push_str("  last run: never (in the audit log read)\n"),
    }
    s
}
