//! `client uninstall`: each wrapped server gets back the entry it had
//! before `client install`, taken from the backups install wrote beside
//! the config (`FILE.mcp-warden-backup-<UTC time>`, the whole original
//! file), the newest that holds an unwrapped entry of that name.

use std::fs;
use std::path::{Path, PathBuf};

use jsonc_parser::cst::CstInputValue;
use serde::Serialize;
use serde_json::Value;

use super::config::{Config, ServerKind, classify, parse_cst};
use super::install::collect_secrets;
use super::{ClientError, MAX_CONFIG_BYTES};
use crate::fsutil;

/// At most this many backups are read.
pub const MAX_BACKUPS: usize = 100;

/// What `uninstall` does with one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Restore {
    /// Its original entry comes back, from `backup`.
    Restore { backup: PathBuf },
    /// Left as it is, for `reason`.
    Skip { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerRestore {
    pub name: String,
    #[serde(flatten)]
    pub action: Restore,
}

pub struct UninstallPlan {
    pub servers: Vec<ServerRestore>,
    /// Backups that could not be read or parsed, with why.
    pub unreadable: Vec<String>,
    old: String,
    new: String,
    redact: Vec<String>,
}

impl UninstallPlan {
    pub fn changed(&self) -> bool {
        self.old != self.new
    }

    /// A unified diff old → new, with every secret literal redacted.
    pub fn diff(&self, label: &str) -> String {
        let red = |t: &str| {
            let mut out = t.to_string();
            for r in &self.redact {
                out = out.replace(r.as_str(), super::REDACTED);
            }
            out
        };
        let (old, new) = (red(&self.old), red(&self.new));
        similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(3)
            .header(&format!("{label} (old)"), &format!("{label} (new)"))
            .to_string()
    }
}

/// The backups of `path`, newest first (their names sort by time).
pub fn backups(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}.mcp-warden-backup-");
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|e| e.path())
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(backup_order(p)));
    v.truncate(MAX_BACKUPS);
    v
}

/// `…-<stamp>[.<n>]`: by stamp, then n.
fn backup_order(p: &Path) -> (String, u32) {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stamp = name.rsplit("-backup-").next().unwrap_or("");
    match stamp.split_once('.') {
        Some((s, n)) => (s.to_string(), n.parse().unwrap_or(0)),
        None => (stamp.to_string(), 0),
    }
}

fn input(v: &Value) -> CstInputValue {
    match v {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(a) => CstInputValue::Array(a.iter().map(input).collect()),
        Value::Object(o) => {
            CstInputValue::Object(o.iter().map(|(k, v)| (k.clone(), input(v))).collect())
        }
    }
}

/// Plans giving `only` (or every wrapped server) its original entry back
/// from `backups` (newest first).
pub fn plan_uninstall(
    cfg: &Config,
    only: Option<&str>,
    backups: &[PathBuf],
) -> Result<UninstallPlan, ClientError> {
    let mut originals: Vec<(PathBuf, Config)> = Vec::new();
    let mut unreadable = Vec::new();
    for b in backups {
        let text = match fsutil::read_text_bounded(b, MAX_CONFIG_BYTES) {
            Ok(t) => t,
            Err(e) => {
                unreadable.push(format!("{}: {e}", b.display()));
                continue;
            }
        };
        match Config::parse(cfg.kind, b, text) {
            Ok(c) => originals.push((b.clone(), c)),
            Err(e) => unreadable.push(e.to_string()),
        }
    }
    let root = parse_cst(cfg.kind, &cfg.path, &cfg.text)?;
    let servers_obj = root
        .object_value()
        .and_then(|o| o.object_value(cfg.kind.servers_key()));
    let all = cfg.servers_value();
    if let Some(n) = only
        && !all.iter().any(|(name, _)| *name == n)
    {
        return Err(ClientError::Shape {
            path: cfg.path.clone(),
            message: format!(
                "there is no server `{}` in the config",
                crate::text::quoted(n, 140)
            ),
        });
    }
    let mut out = Vec::new();
    let mut redact = std::collections::BTreeSet::new();
    if let Some(v) = root.value() {
        collect_secrets(&v, None, &mut redact);
    }
    let mut restored: Vec<(String, Value)> = Vec::new();
    for (name, value) in all {
        if only.is_some_and(|n| n != name) {
            continue;
        }
        let action = match classify(value) {
            ServerKind::Wrapped { run_name } if run_name == name => {
                let found = originals.iter().find_map(|(p, c)| {
                    c.servers_value()
                        .into_iter()
                        .find(|(n, v)| *n == name && matches!(classify(v), ServerKind::NotWrapped))
                        .map(|(_, v)| (p.clone(), v.clone()))
                });
                match found {
                    Some((backup, original)) => {
                        let prop = servers_obj.as_ref().and_then(|o| o.get(name));
                        let Some(prop) = prop else {
                            return Err(ClientError::SelfCheck {
                                path: cfg.path.clone(),
                                message: format!("server `{name}` vanished from the syntax tree"),
                            });
                        };
                        prop.set_value(input(&original));
                        if let Some(orig_root) =
                            parse_cst(cfg.kind, &backup, &serde_json::to_string(&original).unwrap_or_default())
                                .ok()
                                .and_then(|r| r.value())
                        {
                            collect_secrets(&orig_root, None, &mut redact);
                        }
                        restored.push((name.to_string(), original));
                        Restore::Restore { backup }
                    }
                    None => Restore::Skip {
                        reason: "no backup beside the config holds its entry from before `client install`; left as it is".to_string(),
                    },
                }
            }
            ServerKind::Wrapped { run_name } => Restore::Skip {
                reason: format!(
                    "it runs `{}`, another name than its own: changed since `client install`; left as it is",
                    crate::text::quoted(&run_name, 140)
                ),
            },
            ServerKind::NotWrapped => Restore::Skip {
                reason: "not wrapped (never, or changed since `client install`); left as it is"
                    .to_string(),
            },
            ServerKind::Remote => continue,
            ServerKind::Invalid { reason } => Restore::Skip { reason },
        };
        out.push(ServerRestore {
            name: name.to_string(),
            action,
        });
    }
    let plan = UninstallPlan {
        servers: out,
        unreadable,
        old: cfg.text.clone(),
        new: root.to_string(),
        redact: redact.into_iter().collect(),
    };
    check(cfg, &plan, &restored)?;
    Ok(plan)
}

/// The new text parses, and differs from the old only in the restored
/// servers, which equal their originals.
fn check(
    cfg: &Config,
    plan: &UninstallPlan,
    restored: &[(String, Value)],
) -> Result<(), ClientError> {
    let fail = |message: String| ClientError::SelfCheck {
        path: cfg.path.clone(),
        message,
    };
    let new = Config::parse(cfg.kind, &cfg.path, plan.new.clone())
        .map_err(|e| fail(format!("it does not parse: {e}")))?;
    let (old_s, new_s) =
        super::servers_alone_changed(cfg.kind.servers_key(), &cfg.value, &new.value)
            .map_err(fail)?;
    for (name, old) in old_s {
        let want = restored
            .iter()
            .find(|(n, _)| n == name)
            .map_or(old, |(_, v)| v);
        if new_s.get(name) != Some(want) {
            return Err(fail(format!("server `{name}` is not as planned")));
        }
    }
    Ok(())
}

/// Writes the plan: the file is read again and must be as planned from,
/// then replaced atomically with its permissions kept; on any failure it
/// stays as it was.
pub fn apply_uninstall(cfg: &Config, plan: &UninstallPlan) -> Result<(), ClientError> {
    if !plan.changed() {
        return Ok(());
    }
    let path = &cfg.path;
    let current =
        fsutil::read_bounded(path, MAX_CONFIG_BYTES).map_err(|source| ClientError::Read {
            client: cfg.kind,
            source,
        })?;
    if current != cfg.text.as_bytes() {
        return Err(ClientError::Changed { path: path.clone() });
    }
    let meta = fs::metadata(path).map_err(|source| ClientError::Write {
        path: path.clone(),
        source,
    })?;
    fsutil::write_atomic(path, plan.new.as_bytes()).map_err(|source| ClientError::Write {
        path: path.clone(),
        source,
    })?;
    fs::set_permissions(path, meta.permissions()).map_err(|source| ClientError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(())
}
