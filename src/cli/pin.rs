//! `mcp-warden add`, `update`, `remove` and `cache`: requests from the
//! flags, the outcomes of `ops::pin` printed.

use std::io::IsTerminal as _;

use anyhow::Result;

use super::args::{AddArgs, CacheCommand, FetchArgs, UpdateArgs};
use super::{Failure, Global};
use crate::cache::Cache;
use crate::lock::{Entry, Lock};
use crate::ops::pin::{self, AddRequest, FetchRequest, PinOutcome, UpdateOutcome, UpdateRequest};
use crate::report::Report;

fn fetch_request(g: &Global, f: &FetchArgs) -> FetchRequest {
    f.request(std::io::stderr().is_terminal() && !g.cli.globals.quiet)
}

pub fn add(g: &Global, a: &AddArgs) -> Result<u8> {
    let ctx = g.context()?;
    let (Some(name), Some(source)) = (&a.name, &a.source) else {
        return add_locked(g, a);
    };
    let mut evidence = a.evidence.request();
    evidence.unsigned = a.reason.clone().filter(|_| a.unsigned);
    let req = AddRequest {
        name: name.clone(),
        source: source.clone(),
        evidence,
        fetch: fetch_request(g, &a.fetch),
        allow_downgrade: a.allow_downgrade,
        args: a.args.clone(),
    };
    match pin::add(&ctx, &req)? {
        PinOutcome::Unchanged { entry: prev } => {
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    serde_json::json!({"verdict": "allowed", "status": "unchanged", "name": name,
                        "source": prev.source, "sha256": prev.sha256, "unsigned": prev.unsigned})
                ));
            } else {
                g.out(&format!(
                    "{} is pinned already: {}\n",
                    name,
                    describe(&prev)
                ));
            }
            Ok(0)
        }
        PinOutcome::Denied { report } => {
            print_denied(g, name, &report);
            Ok(1)
        }
        PinOutcome::Pinned {
            entry,
            previous,
            report,
            notes,
        } => {
            for n in &notes {
                g.note(n);
            }
            print_pinned(g, name, &entry, previous.as_deref(), &report);
            Ok(0)
        }
    }
}

/// `add --locked [NAME]`: what servers.lock pins, fetched and verified.
fn add_locked(g: &Global, a: &AddArgs) -> Result<u8> {
    let ctx = g.context()?;
    let fetch = fetch_request(g, &a.fetch);
    match crate::ops::restore::add_locked(&ctx, a.name.as_deref(), &fetch) {
        Ok(done) => {
            for (name, r) in &done {
                if g.json() {
                    g.out(&format!(
                        "{}\n",
                        serde_json::json!({"status": "verified", "name": name, "fetched": r.fetched})
                    ));
                } else {
                    g.out(&format!(
                        "{name}: the locked files are in the cache and verified ({} fetched)\n",
                        r.fetched
                    ));
                }
            }
            if done.is_empty() {
                g.note("servers.lock pins no server");
            }
            Ok(0)
        }
        Err(refused) => {
            if let Some(report) = refused.report {
                g.out(&if g.json() {
                    report.to_json()
                } else {
                    report.to_human(g.cli.globals.quiet, false)
                });
            }
            Err(refused.failure.into())
        }
    }
}

pub fn update(g: &Global, a: &UpdateArgs) -> Result<u8> {
    let ctx = g.context()?;
    let req = UpdateRequest {
        name: a.name.clone(),
        evidence: a.evidence.request(),
        fetch: fetch_request(g, &a.fetch),
        dry_run: a.dry_run,
        yes: a.yes,
    };
    match pin::update(&ctx, &req)? {
        UpdateOutcome::Denied { report } => {
            print_denied(g, &a.name, &report);
            Ok(1)
        }
        UpdateOutcome::UpToDate { entry, notes } => {
            for n in &notes {
                g.note(n);
            }
            g.note(&format!("{}: up to date ({})", a.name, describe(&entry)));
            Ok(0)
        }
        UpdateOutcome::Changed {
            entry,
            previous,
            changes,
            report,
            notes,
            written,
            republished,
        } => {
            for n in &notes {
                g.note(n);
            }
            g.note(&format!("{}: would change:", a.name));
            for c in &changes {
                g.note(&format!("  {c}"));
            }
            if !written && !republished.is_empty() && !a.dry_run {
                g.out(&if g.json() {
                    report.to_json()
                } else {
                    report.to_human(g.cli.globals.quiet, false)
                });
                g.note(&format!(
                    "not pinned: {} stays as it was; a package was republished under a version already pinned (--yes pins it anyway)",
                    a.name
                ));
                return Ok(1);
            }
            if !written {
                g.note("--dry-run: nothing changed");
                return Ok(0);
            }
            print_pinned(g, &a.name, &entry, Some(&previous), &report);
            Ok(0)
        }
    }
}

pub fn remove(g: &Global, name: &str) -> Result<u8> {
    let ctx = g.context()?;
    let pin::Removed { entry, freed } = pin::remove(&ctx, name)?;
    if g.json() {
        g.out(&format!(
            "{}\n",
            serde_json::json!({"status": "removed", "name": name, "source": entry.source,
                "freed": {"blobs": freed.blobs, "trees": freed.trees, "bytes": freed.bytes}})
        ));
    } else {
        g.out(&format!(
            "removed {name} ({}); freed {} cached artifact(s), {} tree(s), {} bytes\n",
            entry.source, freed.blobs, freed.trees, freed.bytes
        ));
    }
    Ok(0)
}

pub fn cache(g: &Global, c: &CacheCommand) -> Result<u8> {
    let ctx = g.context()?;
    match c {
        CacheCommand::List => {
            let cache = Cache::open(&ctx.cache_dir).map_err(Failure::from)?;
            let lock = Lock::load(&ctx.config_dir.join("servers.lock")).map_err(Failure::from)?;
            let entries = cache.list().map_err(Failure::from)?;
            let users = |key: &str| -> Vec<String> {
                lock.servers
                    .iter()
                    .filter(|(_, e)| {
                        e.sha256 == key
                            || e.tree.as_deref() == Some(key)
                            || e.evidence_files.iter().any(|f| f.sha256 == key)
                    })
                    .map(|(n, _)| n.clone())
                    .collect()
            };
            if g.json() {
                let list: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({"kind": kind_name(e.kind), "sha256": e.key,
                            "size": e.size, "path": e.path, "servers": users(&e.key)})
                    })
                    .collect();
                g.out(&format!("{}\n", serde_json::json!({ "entries": list })));
            } else if entries.is_empty() {
                g.out("the cache is empty\n");
            } else {
                let mut s = String::new();
                for e in &entries {
                    let u = users(&e.key);
                    s.push_str(&format!(
                        "{:<5} sha256:{} {:>12} bytes  {}\n",
                        kind_name(e.kind),
                        e.key,
                        e.size,
                        if u.is_empty() {
                            "(unused: `cache gc` removes it)".to_string()
                        } else {
                            u.join(", ")
                        }
                    ));
                }
                g.out(&s);
            }
            Ok(0)
        }
        CacheCommand::Verify => {
            pin::verify_cache(&ctx)?;
            g.out(if g.json() {
                "{\"status\":\"ok\",\"problems\":[]}\n"
            } else {
                "every cached artifact and tree has its digest\n"
            });
            Ok(0)
        }
        CacheCommand::Gc => {
            let r = pin::collect_garbage(&ctx)?;
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    serde_json::json!({"blobs": r.blobs, "trees": r.trees, "tmp": r.tmp, "bytes": r.bytes})
                ));
            } else {
                g.out(&format!(
                    "removed {} artifact(s), {} tree(s), {} temporary file(s): {} bytes\n",
                    r.blobs, r.trees, r.tmp, r.bytes
                ));
            }
            Ok(0)
        }
    }
}

/// The report of a denied `add` or `update`.
fn print_denied(g: &Global, name: &str, report: &Report) {
    if g.json() {
        g.out(&report.to_json());
    } else {
        g.out(&report.to_human(g.cli.globals.quiet, false));
        g.note(&format!("not pinned: {name} was not added"));
    }
}

fn kind_name(k: crate::cache::EntryKind) -> &'static str {
    match k {
        crate::cache::EntryKind::Blob => "blob",
        crate::cache::EntryKind::Tree => "tree",
    }
}

fn describe(e: &Entry) -> String {
    let unsigned = match &e.unsigned {
        Some(r) => format!(
            ", unsigned on purpose: {}",
            crate::text::printable(r, crate::lock::MAX_REASON_CHARS)
        ),
        None => String::new(),
    };
    match &e.version {
        Some(v) => format!("{} {v}, sha256:{}{unsigned}", e.source, e.sha256),
        None => format!("{}, sha256:{}{unsigned}", e.source, e.sha256),
    }
}

fn print_pinned(g: &Global, name: &str, e: &Entry, prev: Option<&Entry>, report: &Report) {
    if g.json() {
        let mut v: serde_json::Value =
            serde_json::from_str(&report.to_json()).unwrap_or(serde_json::Value::Null);
        if let Some(m) = v.as_object_mut() {
            m.insert(
                "pinned".into(),
                serde_json::json!({"name": name, "source": e.source, "version": e.version,
                    "sha256": e.sha256, "sha512": e.sha512, "kind": e.kind, "tree": e.tree,
                    "signers": e.signers, "unsigned": e.unsigned,
                    "replaced": prev.map(|p| p.sha256.clone())}),
            );
        }
        g.out(&format!("{v}\n"));
    } else {
        g.out(&report.to_human(g.cli.globals.quiet, false));
        g.out(&format!("pinned {name}: {}\n", describe(e)));
    }
}
