//! `mcp-warden run NAME`: start what `ops::launch` prepared and wait for it.
//!
//! Nothing goes to stdout here: stdout belongs to the server's MCP
//! messages. Every message of mcp-warden's own goes to stderr.

use anyhow::Result;

use super::args::RunArgs;
use super::{Failure, Global};
use crate::audit::Sink as _;
use crate::ops::launch::{self, FLUSH};

pub fn run(g: &Global, a: &RunArgs) -> Result<u8> {
    let ctx = g.context()?;
    let name = a.name.as_str();
    let ready = match launch::prepare(&ctx, &a.request()) {
        Ok(r) => r,
        Err(refused) => {
            // stdout is the server's: the report goes to stderr.
            if let Some(report) = refused.report {
                if g.json() {
                    eprint!("{}", report.to_json());
                } else {
                    eprint!("{}", report.to_human(false, false));
                }
            }
            return Err(refused.failure.into());
        }
    };
    let launch::Prepared {
        launch,
        banner,
        gaps,
        mut audit,
    } = ready;
    g.note(&banner);
    for gap in &gaps {
        g.note(&format!("mcp-warden: {name}: not enforced: {gap}"));
    }
    let outcome = crate::launch::spawn::run(launch);
    audit.flush(FLUSH);
    match outcome {
        Ok(exit) => Ok(exit.code),
        Err(e) => Err(Failure::from(e).about(name).into()),
    }
}
