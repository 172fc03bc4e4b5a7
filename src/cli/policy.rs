//! `mcp-warden policy …`.

use anyhow::Result;
use serde_json::json;

use super::Global;
use super::args::PolicyCommand;
use crate::diag::Severity;
use crate::ops::{
    self,
    judge::{load_policies, load_trust},
};
use crate::policy;
use crate::report::render_diagnostic;

pub fn run(g: &Global, cmd: &PolicyCommand) -> Result<u8> {
    let ctx = g.context()?;
    match cmd {
        PolicyCommand::Init { force } => {
            let path = ops::policy::init(&ctx, *force)?;
            if g.json() {
                g.out(&format!("{}\n", json!({"status": "written", "path": path})));
            } else {
                g.note(&format!(
                    "wrote {}; check it with `mcp-warden policy check`",
                    path.display()
                ));
            }
            Ok(0)
        }
        PolicyCommand::Check { file } => {
            let ops::policy::Checked { files, diags } = ops::policy::check(&ctx, file.as_deref())?;
            let errors = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let warnings = diags.len() - errors;
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&json!({
                        "files": &files,
                        "errors": errors, "warnings": warnings, "diagnostics": diags}))?
                ));
            } else {
                let mut s = String::new();
                for d in &diags {
                    render_diagnostic(&mut s, d);
                }
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                s.push_str(&format!(
                    "{}: {errors} error(s), {warnings} warning(s)\n",
                    names.join(", ")
                ));
                g.out(&s);
            }
            Ok(if errors > 0 { 1 } else { 0 })
        }
        PolicyCommand::Explain { name } => {
            let trust = load_trust(&ctx)?;
            let set = load_policies(&ctx, &trust)?;
            let mut ex = policy::explain(&set, &trust, name);
            // A pinned server is also judged by the entries its source or
            // signer selects.
            let lock = crate::lock::Lock::load(&ctx.config_dir.join("servers.lock"))?;
            if let Some(entry) = lock.servers.get(name.as_str()) {
                let origin = entry.origin();
                let subject = policy::Subject {
                    name,
                    origin: &origin,
                    signers: &entry.signers,
                };
                for (i, r) in policy::also_applies(&set, &subject) {
                    if let Some(l) = ex.layers.get_mut(i) {
                        l.rules.push(r);
                    }
                }
            }
            if g.json() {
                g.out(&format!("{}\n", serde_json::to_string_pretty(&ex)?));
            } else {
                let mut s = format!("server `{}`\n", ex.server);
                for l in &ex.layers {
                    s.push_str(&format!("\n{} (mode {})\n", l.policy, l.mode));
                    let mut section = "policy";
                    for r in &l.rules {
                        if r.section != section {
                            section = r.section;
                            s.push_str(&format!("  [{section}]\n"));
                        }
                        s.push_str(&format!("  {}\n      from {}\n", r.what, r.from));
                    }
                }
                if set.layers.len() > 1 {
                    s.push_str("\nEvery layer must allow the server: the user policy can only tighten the system policy.\n");
                }
                g.out(&s);
            }
            Ok(0)
        }
    }
}
