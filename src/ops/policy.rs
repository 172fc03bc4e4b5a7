//! `policy init` and `policy check`: the template written once, and the
//! files in force (or one given) checked, with the exceptions nothing uses
//! and the user layer's loosenings.

use std::path::{Path, PathBuf};

use super::judge::{load_policies, load_trust};
use crate::context::Context;
use crate::diag::{Code, Diagnostic, Failure};
use crate::policy::{self, Layer, PolicyError};

/// Writes the policy template to the user's policy file; an existing file
/// is replaced only with `force`.
pub fn init(ctx: &Context, force: bool) -> Result<PathBuf, Failure> {
    let path = ctx.user_policy_file();
    if path.exists() && !force {
        return Err(Failure::input(
            Code::InputInvalid,
            format!("{} exists already", path.display()),
            Some("pass --force to replace it, or edit it".into()),
        ));
    }
    crate::fsutil::write_atomic(&path, policy::TEMPLATE.as_bytes())
        .map_err(|e| super::internal(&e))?;
    Ok(path)
}

/// The files checked and every finding about them, in file order.
pub struct Checked {
    pub files: Vec<PathBuf>,
    pub diags: Vec<Diagnostic>,
}

/// Checks `file`, or else the system and user policies in force.
pub fn check(ctx: &Context, file: Option<&Path>) -> Result<Checked, Failure> {
    let trust = load_trust(ctx)?;
    let files: Vec<(std::path::PathBuf, Layer)> = match file {
        Some(f) => vec![(f.to_path_buf(), Layer::User)],
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
        ));
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
                return Err(Failure::input(Code::PolicyUnreadable, e.to_string(), None));
            }
        }
    }
    // An exception is used when it matches a server entry or a
    // pinned server, by the same globs that evaluation applies.
    let lock =
        crate::lock::Lock::load(&ctx.config_dir.join("servers.lock")).map_err(Failure::from)?;
    let mut names: Vec<&str> = lock.servers.keys().map(String::as_str).collect();
    names.extend(
        loaded
            .iter()
            .flat_map(|p| p.servers.iter().map(|s| s.name.as_str())),
    );
    for p in &loaded {
        diags.extend(policy::unused_exceptions(p, &names));
    }
    let pinned: Vec<&str> = lock.servers.keys().map(String::as_str).collect();
    diags.extend(policy::name_case_clashes(&loaded, &pinned));
    // Judged over the files checked together: one layer's `db` serves all.
    diags.extend(policy::advisory_tables_without_db(&loaded));
    if file.is_none() && files.len() == 2 {
        // Loosening is only visible with both layers loaded.
        if let Ok(set) = load_policies(ctx, &trust) {
            // Each pinned server as well, so that a system entry bound to
            // its source or signer is compared whatever its local name.
            let mut found: Vec<Diagnostic> = set.warnings.clone();
            for (name, e) in &lock.servers {
                let (origin, signers) = (e.origin(), e.artifact_signers());
                found.extend(set.run_loosening_for(&policy::Subject {
                    name,
                    origin: &origin,
                    signers: &signers,
                }));
            }
            for d in found
                .into_iter()
                .filter(|d| d.code == Code::PolicyLoosening)
            {
                let seen = |e: &Diagnostic| e.message == d.message && e.location == d.location;
                if !diags.iter().any(seen) {
                    diags.push(d);
                }
            }
        }
    }
    Ok(Checked {
        files: files.into_iter().map(|(f, _)| f).collect(),
        diags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> (tempfile::TempDir, Context) {
        let d = tempfile::tempdir().unwrap();
        let ctx = Context::new(Some(d.path()), None, Some(d.path())).unwrap();
        (d, ctx)
    }

    #[test]
    fn init_writes_the_template_once_and_replaces_it_only_when_forced() {
        let (_d, ctx) = home();
        let path = init(&ctx, false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), policy::TEMPLATE);
        std::fs::write(&path, "# mine\n").unwrap();
        let e = init(&ctx, false).unwrap_err();
        assert_eq!(e.diagnostics[0].code, Code::InputInvalid);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
        init(&ctx, true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), policy::TEMPLATE);
    }

    #[test]
    fn check_needs_a_file_and_reports_what_the_template_holds() {
        let (_d, ctx) = home();
        let e = check(&ctx, None).map(|_| ()).unwrap_err();
        assert_eq!(e.diagnostics[0].code, Code::PolicyUnreadable);
        let path = init(&ctx, false).unwrap();
        let checked = check(&ctx, None).unwrap();
        assert_eq!(checked.files, vec![path.clone()]);
        assert!(
            checked
                .diags
                .iter()
                .all(|d| d.severity != crate::diag::Severity::Error),
            "{:?}",
            checked.diags
        );
        std::fs::write(&path, "[servers\n").unwrap();
        let checked = check(&ctx, Some(&path)).unwrap();
        assert!(
            checked
                .diags
                .iter()
                .any(|d| d.severity == crate::diag::Severity::Error)
        );
    }
}
