//! `mcp-warden verify`.

use anyhow::Result;

use super::Global;
use super::args::VerifyArgs;
use crate::ops::verify::{self, Target};

pub fn run(g: &Global, a: &VerifyArgs) -> Result<u8> {
    let ctx = g.context()?;
    let target = match &a.artifact {
        Some(text) => Target::Artifact(text),
        // clap requires --server without an artifact.
        None => Target::Pinned(a.server.as_deref().unwrap_or_default()),
    };
    let report = verify::verify(&ctx, target, a.server.as_deref(), &a.evidence.request())?;
    if g.json() {
        g.out(&report.to_json());
    } else {
        g.out(&report.to_human(g.cli.globals.quiet, a.summary));
    }
    Ok(report.verdict.exit_code())
}
