//! `mcp-warden client install|list`: route MCP client configs through
//! `mcp-warden run`.

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use super::args::{ClientCommand, InstallArgs, ListArgs, UninstallArgs};
use super::{Failure, Global};
use crate::client::{
    Action, ClientError, ClientKind, Config, NOT_PINNED, ServerKind, apply_install, pin_candidates,
    plan_install,
};
use crate::context::Context;
use crate::diag::Code;
use crate::lock::Lock;
use crate::ops::judge::EvidenceRequest;
use crate::ops::pin::{AddRequest, PinOutcome};

pub fn run(g: &Global, cmd: &ClientCommand) -> Result<u8> {
    match cmd {
        ClientCommand::Install(a) => install(g, a),
        ClientCommand::List(a) => list(g, a),
        ClientCommand::Uninstall(a) => uninstall(g, a),
    }
}

fn failure(e: ClientError) -> anyhow::Error {
    Failure::from(e).into()
}

fn config_path(kind: ClientKind, given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None => kind
            .default_path()
            .ok_or_else(|| failure(ClientError::NoDefaultPath { client: kind })),
    }
}

fn load_lock(ctx: &Context) -> Result<Lock> {
    Ok(Lock::load(&ctx.config_dir.join("servers.lock")).map_err(Failure::from)?)
}

/// This executable, canonical: Claude Desktop starts servers with a
/// trimmed PATH, so the config must name mcp-warden by absolute path.
fn warden_path(given: Option<&Path>) -> Result<PathBuf> {
    let p = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()?.canonicalize()?,
    };
    if !p.is_absolute() {
        return Err(Failure::input(
            Code::Usage,
            format!("--warden-path {} is not an absolute path", p.display()),
            Some("give the absolute path of the mcp-warden binary".to_string()),
        )
        .into());
    }
    Ok(p)
}

/// Quotes a word for a POSIX shell when it needs it.
fn sh(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Asks on the terminal; anything but y/yes is no. The answer is read
/// from stdin, at most one short line.
fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    let stdin = std::io::stdin();
    let mut limited = stdin.lock().take(256);
    let mut reader = std::io::BufReader::new(&mut limited);
    if reader.read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn install(g: &Global, a: &InstallArgs) -> Result<u8> {
    let ctx = g.context()?;
    let kind = ClientKind::from(a.client);
    let path = config_path(kind, a.config.as_deref())?;
    let warden = warden_path(a.warden_path.as_deref())?;
    let cfg = Config::load(kind, &path).map_err(failure)?;
    let lock = load_lock(&ctx)?;
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let pins = pin_unpinned(g, &ctx, a, &cfg, &lock, tty)?;
    let pinned = |name: &str| {
        lock.servers.contains_key(name)
            || pins.iter().any(|p| {
                p.name == name && matches!(p.status, PinStatus::Pinned | PinStatus::WouldPin)
            })
    };
    let mut unasked = Vec::new();
    let plan = plan_install(&cfg, &warden, &pinned, |server, vars| {
        if a.yes {
            return true;
        }
        if a.dry_run || !tty {
            unasked.push(server.to_string());
            return false;
        }
        ask(&format!(
            "server `{server}`: move {} from the config into the keychain?",
            vars.join(", ")
        ))
    })
    .map_err(failure)?;

    let label = cfg.path.display().to_string();
    let mut text = format!("{kind} config: {label}\n");
    let mut warnings = Vec::new();
    for s in &plan.servers {
        let pin = pins.iter().find(|p| p.name == s.name);
        match &s.action {
            Action::Wrap { launcher } => {
                let how = match pin.map(|p| p.status) {
                    Some(PinStatus::WouldPin) => format!(
                        "would be pinned from {} (as `mcp-warden add` would, if the policy allows it), then wrapped",
                        sh(pin.map(|p| p.source.as_str()).unwrap_or_default())
                    ),
                    Some(PinStatus::Pinned) => format!(
                        "pinned from {}, wrapped",
                        sh(pin.map(|p| p.source.as_str()).unwrap_or_default())
                    ),
                    _ if a.dry_run => "would be wrapped".to_string(),
                    _ => "wrapped".to_string(),
                };
                text.push_str(&format!(
                    "  {}: {how} (was started by {launcher})\n",
                    s.name,
                ));
                if !s.moved.is_empty() {
                    text.push_str(&format!(
                        "    {} {} into the keychain\n",
                        s.moved.join(", "),
                        if a.dry_run { "would move" } else { "moved" }
                    ));
                }
                for var in &s.literal_secrets {
                    warnings.push(format!(
                        "warning: server `{}`: {var} is still a literal secret in the config; \
                         move it with `mcp-warden secret set {} {var}` and delete it from the file, \
                         or run `client install` again with --yes",
                        s.name,
                        sh(&s.name)
                    ));
                }
            }
            Action::AlreadyWrapped { run_name } => {
                text.push_str(&format!("  {}: already wrapped (run {run_name})\n", s.name));
            }
            Action::Remote => {
                text.push_str(&format!(
                    "  {}: remote server, left alone (nothing runs locally)\n",
                    s.name
                ));
            }
            Action::Skip { reason } => {
                text.push_str(&format!("  {}: left as it is: {reason}\n", s.name));
                if let Some(p) = pin {
                    let why = match p.status {
                        PinStatus::Denied | PinStatus::Failed => format!(
                            "pinning it from {} failed: {}",
                            sh(&p.source),
                            p.reason.as_deref().unwrap_or_default()
                        ),
                        PinStatus::NotAsked => format!(
                            "pass --yes to pin it from {} (stdin is not a terminal to ask on)",
                            sh(&p.source)
                        ),
                        _ => format!("not pinned from {}: declined", sh(&p.source)),
                    };
                    text.push_str(&format!("    {why}\n"));
                }
            }
        }
        if s.secret_args > 0 {
            warnings.push(format!(
                "warning: server `{}`: {} argument(s) look like secrets and stay in the config, \
                 readable by anyone who can read the file; pass them as env variables instead",
                s.name, s.secret_args
            ));
        }
        let run_name = match &s.action {
            Action::AlreadyWrapped { run_name } => Some(run_name.as_str()),
            Action::Skip { reason } if reason == NOT_PINNED => Some(s.name.as_str()),
            _ => None,
        };
        if let Some(n) = run_name.filter(|n| !pinned(n)) {
            let source = s.source.as_deref().unwrap_or("SOURCE");
            text.push_str(&format!(
                "    not pinned yet: mcp-warden add {} {}\n",
                sh(n),
                sh(source)
            ));
        }
    }
    if !unasked.is_empty() {
        warnings.push(format!(
            "note: secret-looking env values of {} were not moved ({}); pass --yes to move them into the keychain",
            unasked.join(", "),
            if a.dry_run {
                "dry run"
            } else {
                "stdin is not a terminal to ask on"
            }
        ));
    }

    let changed = plan.changed();
    let diff = (a.dry_run && changed).then(|| plan.diff(&label));
    let servers = plan.servers.clone();
    let applied = if a.dry_run {
        None
    } else {
        // The keychain is opened only when there is something to store.
        let mut keychain: Option<crate::secrets::Secrets> = None;
        apply_install(&cfg, plan, |server, var, value| -> Result<()> {
            if keychain.is_none() {
                keychain = Some(crate::secrets::Secrets::open(&ctx)?);
            }
            match &keychain {
                Some(k) => Ok(k.set(server, var, &crate::secrets::SecretValue::new(value))?),
                None => Ok(()),
            }
        })
        .map_err(failure)?
    };

    if g.json() {
        g.out(&format!(
            "{}\n",
            json!({
                "client": kind,
                "config": cfg.path,
                "dry_run": a.dry_run,
                "changed": changed,
                "backup": applied.as_ref().map(|x| &x.backup),
                "diff": diff,
                "pins": pins,
                "servers": servers,
            })
        ));
    } else {
        if let Some(d) = &diff {
            text.push('\n');
            text.push_str(d);
        }
        if !changed {
            text.push_str("nothing to change\n");
        } else if a.dry_run {
            text.push_str("dry run: nothing was changed\n");
        } else if let Some(x) = &applied {
            text.push_str(&format!(
                "wrote {label}\nbackup of the original: {} (mode 0600; `client uninstall` restores the original entries from it; it still holds any literal secrets the original had)\n",
                x.backup.display()
            ));
        }
        g.out(&text);
    }
    for w in warnings {
        g.note(&w);
    }
    Ok(0)
}

/// What `install` did about a server that was not pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum PinStatus {
    Pinned,
    WouldPin,
    Denied,
    Failed,
    NotAsked,
    Declined,
}

#[derive(Debug, Clone, Serialize)]
struct PinResult {
    name: String,
    source: String,
    status: PinStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Offers to pin each server that is not pinned and whose command names a
/// registry package: with --yes without asking, on a terminal by asking,
/// never in a dry run. Each pin goes through `ops::pin::add`, as `add`
/// would: the same policy, the same evidence rules.
fn pin_unpinned(
    g: &Global,
    ctx: &Context,
    a: &InstallArgs,
    cfg: &Config,
    lock: &Lock,
    tty: bool,
) -> Result<Vec<PinResult>> {
    let mut out = Vec::new();
    for c in pin_candidates(cfg, &|n| lock.servers.contains_key(n)) {
        let status = if a.dry_run {
            PinStatus::WouldPin
        } else if a.yes {
            PinStatus::Pinned
        } else if !tty {
            PinStatus::NotAsked
        } else if ask(&format!(
            "server `{}` is not pinned: pin it from {} now?",
            c.name, c.source
        )) {
            PinStatus::Pinned
        } else {
            PinStatus::Declined
        };
        let mut r = PinResult {
            name: c.name.clone(),
            source: c.source.clone(),
            status,
            reason: None,
        };
        if status == PinStatus::Pinned {
            let req = AddRequest {
                name: c.name.clone(),
                source: c.source.clone(),
                evidence: EvidenceRequest::default(),
                fetch: a
                    .fetch
                    .request(std::io::stderr().is_terminal() && !g.cli.globals.quiet),
                allow_downgrade: false,
                // The entry's own arguments stay in the client config,
                // after `run NAME --`.
                args: Vec::new(),
            };
            match crate::ops::pin::add(ctx, &req) {
                Ok(PinOutcome::Pinned { notes, .. }) => {
                    for n in &notes {
                        g.note(&format!("{}: {n}", c.name));
                    }
                }
                Ok(PinOutcome::Unchanged { .. }) => {}
                Ok(PinOutcome::Denied { report }) => {
                    r.status = PinStatus::Denied;
                    r.reason = Some(reasons(&report.diagnostics, "the policy denied it"));
                }
                Err(f) => {
                    r.status = PinStatus::Failed;
                    r.reason = Some(reasons(&f.diagnostics, "it could not be pinned"));
                }
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// The errors among `diags`, each as `message [code]`, on one line.
fn reasons(diags: &[crate::diag::Diagnostic], fallback: &str) -> String {
    let v: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .map(|d| format!("{} [{}]", d.message, d.code.as_str()))
        .collect();
    if v.is_empty() {
        fallback.to_string()
    } else {
        v.join("; ")
    }
}

fn list(g: &Global, a: &ListArgs) -> Result<u8> {
    let ctx = g.context()?;
    let lock = load_lock(&ctx)?;
    let kinds: Vec<ClientKind> = match a.client {
        Some(c) => vec![c.into()],
        None => ClientKind::ALL.to_vec(),
    };
    let mut docs = Vec::new();
    let mut text = String::new();
    for kind in kinds {
        let path = config_path(kind, a.config.as_deref())?;
        // Without --client, a client that is not configured is skipped.
        if a.client.is_none() && !path.exists() {
            continue;
        }
        let cfg = Config::load(kind, &path).map_err(failure)?;
        text.push_str(&format!("{kind}: {}\n", cfg.path.display()));
        let mut servers = Vec::new();
        for s in cfg.servers() {
            let (status, detail) = match &s.kind {
                ServerKind::Wrapped { run_name } => {
                    let pinned = lock.servers.contains_key(run_name);
                    servers.push(json!({"name": s.name, "status": "wrapped", "run_name": run_name, "pinned": pinned}));
                    (
                        "wrapped",
                        if pinned {
                            format!("run {run_name}, pinned")
                        } else {
                            format!(
                                "run {run_name}, NOT pinned (mcp-warden add {} SOURCE)",
                                sh(run_name)
                            )
                        },
                    )
                }
                ServerKind::NotWrapped => {
                    servers.push(json!({"name": s.name, "status": "not-wrapped"}));
                    ("not wrapped", String::new())
                }
                ServerKind::Remote => {
                    servers.push(json!({"name": s.name, "status": "remote"}));
                    ("remote", String::new())
                }
                ServerKind::Invalid { reason } => {
                    servers.push(json!({"name": s.name, "status": "invalid", "reason": reason}));
                    ("invalid", reason.clone())
                }
            };
            if detail.is_empty() {
                text.push_str(&format!("  {}: {status}\n", s.name));
            } else {
                text.push_str(&format!("  {}: {status} ({detail})\n", s.name));
            }
        }
        docs.push(json!({"client": kind, "config": cfg.path, "servers": servers}));
    }
    if g.json() {
        g.out(&format!("{}\n", json!({ "clients": docs })));
    } else if docs.is_empty() {
        g.note("no client config found (Claude Desktop, Cursor, VS Code); pass --client and --config FILE");
    } else {
        g.out(&text);
    }
    Ok(0)
}

fn uninstall(g: &Global, a: &UninstallArgs) -> Result<u8> {
    use crate::client::{Restore, apply_uninstall, plan_uninstall, uninstall::backups};
    let kind = ClientKind::from(a.client);
    let path = config_path(kind, a.config.as_deref())?;
    let cfg = Config::load(kind, &path).map_err(failure)?;
    let found = backups(&cfg.path);
    let plan = plan_uninstall(&cfg, a.server.as_deref(), &found).map_err(failure)?;
    let label = cfg.path.display().to_string();
    let changed = plan.changed();
    let diff = (a.dry_run && changed).then(|| plan.diff(&label));
    if !a.dry_run {
        apply_uninstall(&cfg, &plan).map_err(failure)?;
    }
    if g.json() {
        g.out(&format!(
            "{}\n",
            json!({
                "client": kind,
                "config": cfg.path,
                "dry_run": a.dry_run,
                "changed": changed,
                "diff": diff,
                "servers": plan.servers,
                "unreadable_backups": plan.unreadable,
            })
        ));
    } else {
        let mut text = format!("{kind} config: {label}\n");
        for s in &plan.servers {
            match &s.action {
                Restore::Restore { backup } => text.push_str(&format!(
                    "  {}: {} (from {})\n",
                    s.name,
                    if a.dry_run {
                        "would get its original entry back"
                    } else {
                        "original entry restored"
                    },
                    backup.display()
                )),
                Restore::Skip { reason } => {
                    text.push_str(&format!("  {}: {reason}\n", s.name));
                }
            }
        }
        if let Some(d) = &diff {
            text.push('\n');
            text.push_str(d);
        }
        if !changed {
            text.push_str("nothing to change\n");
        } else if a.dry_run {
            text.push_str("dry run: nothing was changed\n");
        } else {
            text.push_str(&format!("wrote {label}\n"));
        }
        g.out(&text);
    }
    for u in &plan.unreadable {
        g.note(&format!("warning: a backup was not used: {u}"));
    }
    Ok(0)
}
