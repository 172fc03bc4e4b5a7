//! `mcp-warden sbom NAME`: the SBOM of a pinned server's resolved tree.

use std::io::IsTerminal as _;

use anyhow::Result;

use super::Global;
use super::args::SbomArgs;
use crate::ops::sbom;

pub fn run(g: &Global, a: &SbomArgs) -> Result<u8> {
    let ctx = g.context()?;
    let shown = sbom::show(&ctx, &a.name)?;
    let json = a.json || (!a.tree && (g.json() || !std::io::stdout().is_terminal()));
    if json {
        let mut o = std::io::stdout().lock();
        use std::io::Write as _;
        let _ = o.write_all(&shown.bytes);
        let _ = o.flush();
    } else {
        g.out(&sbom::render_tree(&shown.document));
    }
    Ok(0)
}
