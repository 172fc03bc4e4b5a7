//! `mcp-warden policy …`.

use anyhow::Result;
use serde_json::json;

use super::args::PolicyCommand;
use super::{Failure, Global};
use crate::diag::{Code, Diagnostic, Severity};
use crate::ops::judge::{load_policies, load_trust};
use crate::policy::{self, Layer, PolicyError};
use crate::report::render_diagnostic;

pub fn run(g: &Global, cmd: &PolicyCommand) -> Result<u8> {
    let ctx = g.context()?;
    match cmd {
        PolicyCommand::Init { force } => {
            let path = ctx.user_policy_file();
            if path.exists() && !force {
                return Err(Failure::input(
                    Code::InputInvalid,
                    format!("{} exists already", path.display()),
                    Some("pass --force to replace it, or edit it".into()),
                )
                .into());
            }
            crate::fsutil::write_atomic(&path, policy::TEMPLATE.as_bytes())?;
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
            let trust = load_trust(&ctx)?;
            let files: Vec<(std::path::PathBuf, Layer)> = match file {
                Some(f) => vec![(f.clone(), Layer::User)],
                None => {
                    let mut v = Vec::new();
                    if ctx.system_policy_file().exists() {
                        v.push((ctx.system_policy_file(), Layer::System));
                    }
                    if ctx.policy_override.is_some() || ctx.user_policy_file().exists() {
                        v.push((ctx.user_policy_file(), Layer::User));
                    }
                    v
                }
            };
            if files.is_empty() {
                return Err(Failure::input(
                    Code::PolicyUnreadable,
                    "no policy file to check: none was given and none is in force",
                    Some("pass a FILE, or write one with `mcp-warden policy init`".into()),
                )
                .into());
            }
            let mut diags: Vec<Diagnostic> = Vec::new();
            let mut loaded = Vec::new();
            for (f, layer) in &files {
                match policy::load_file(f, *layer, &trust) {
                    Ok((p, w)) => {
                        diags.extend(w);
                        loaded.push(p);
                    }
                    Err(PolicyError::Invalid { diagnostics, .. }) => diags.extend(diagnostics),
                    Err(PolicyError::Read(e)) => {
                        return Err(
                            Failure::input(Code::PolicyUnreadable, e.to_string(), None).into()
                        );
                    }
                }
            }
            // An exception is used when it matches a server entry or a
            // pinned server, by the same globs that evaluation applies.
            let lock = crate::lock::Lock::load(&ctx.config_dir.join("servers.lock"))
                .map_err(Failure::from)?;
            let mut names: Vec<&str> = lock.servers.keys().map(String::as_str).collect();
            names.extend(
                loaded
                    .iter()
                    .flat_map(|p| p.servers.iter().map(|s| s.name.as_str())),
            );
            for p in &loaded {
                diags.extend(policy::unused_exceptions(p, &names));
            }
            if file.is_none() && files.len() == 2 {
                // Loosening is only visible with both layers loaded.
                if let Ok(set) = load_policies(&ctx, &trust) {
                    diags.extend(
                        set.warnings
                            .into_iter()
                            .filter(|d| d.code == Code::PolicyLoosening),
                    );
                }
            }
            let errors = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let warnings = diags.len() - errors;
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&json!({
                        "files": files.iter().map(|(f, _)| f).collect::<Vec<_>>(),
                        "errors": errors, "warnings": warnings, "diagnostics": diags}))?
                ));
            } else {
                let mut s = String::new();
                for d in &diags {
                    render_diagnostic(&mut s, d);
                }
                let names: Vec<String> =
                    files.iter().map(|(f, _)| f.display().to_string()).collect();
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
            let ex = policy::explain(&set, &trust, name);
            if g.json() {
                g.out(&format!("{}\n", serde_json::to_string_pretty(&ex)?));
            } else {
                let mut s = format!("server `{}`\n", ex.server);
                for l in &ex.layers {
                    s.push_str(&format!("\n{} (mode {})\n", l.policy, l.mode));
                    for r in &l.rules {
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
