//! `mcp-warden run NAME`: start what `ops::launch` prepared and wait for it.
//!
//! Nothing goes to stdout here: stdout belongs to the server's MCP
//! messages. Every message of mcp-warden's own goes to stderr.

use anyhow::Result;

use super::args::RunArgs;
use super::{Failure, Global};
use crate::audit::Sink as _;
use crate::launch::spawn::{self, NotRun};
use crate::ops::launch::{self, FLUSH, Refused};

pub fn run(g: &Global, a: &RunArgs) -> Result<u8> {
    let ctx = g.context()?;
    let name = a.name.as_str();
    let launch::Prepared {
        launch,
        gaps,
        mut audit,
        admission,
    } = launch::prepare(&ctx, &a.request()).map_err(|r| refused(g, r))?;
    // The server (or its interpreter, held at its gate) starts once its
    // files are judged sound, or while they are.
    let mut admission = Some(admission);
    let outcome = spawn::run_admitted(launch, || {
        let banner = (admission.take())
            .map(|a| a.decide(&mut audit))
            .transpose()?
            .unwrap_or_default();
        g.note(&banner);
        for gap in &gaps {
            g.note(&format!("mcp-warden: {name}: not enforced: {gap}"));
        }
        Ok::<(), Refused>(())
    });
    // A start that failed before the verdict was asked for: the launch is
    // on record all the same.
    let late = admission.take().map(|a| a.decide(&mut audit));
    audit.flush(FLUSH);
    if let Some(Err(r)) = late {
        return Err(refused(g, r));
    }
    match outcome {
        Ok(exit) => Ok(exit.code),
        Err(NotRun::Refused(r)) => Err(refused(g, r)),
        Err(NotRun::Failed(e)) => Err(Failure::from(e).about(name).into()),
    }
}

/// The refusal's report on stderr (stdout is the server's), and its error.
fn refused(g: &Global, refused: Refused) -> anyhow::Error {
    if let Some(report) = refused.report {
        if g.json() {
            eprint!("{}", report.to_json());
        } else {
            eprint!("{}", report.to_human(false, false));
        }
    }
    refused.failure.into()
}
