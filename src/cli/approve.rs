//! `mcp-warden approve NAME [--yes]`: accept a server's changed tool
//! (prompt, resource) definitions that the guard hid, after showing the
//! difference to the pinned ones.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Result;
use serde_json::{Value, json};

use super::args::ApproveArgs;
use super::{Failure, Global};
use crate::diag::Code;
use crate::launch::guard::pins::{self, Kind, PinError, PinStore};
use crate::lock::Lock;

fn pin_failure(e: PinError) -> anyhow::Error {
    // Here a pin file is the user's input, not the launch's cache.
    let hint = crate::diag::Diagnose::hint(&e);
    Failure::input(Code::InputInvalid, e.to_string(), hint).into()
}

fn pretty(v: Option<&Value>) -> String {
    match v {
        Some(v) => {
            let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
            s.push('\n');
            s
        }
        None => String::new(),
    }
}

/// The human-readable difference, one section per item.
pub fn render_diff(store: &PinStore) -> String {
    let mut text = String::new();
    for (kind, items) in &store.file.pending {
        for (name, new) in items {
            let old = store.pin(*kind, name);
            let what = if old.is_some() { "changed" } else { "new" };
            let clean = crate::text::printable(name, usize::MAX);
            text.push_str(&format!("{} `{clean}` ({what}):\n", kind.noun()));
            let (a, b) = (pretty(old), pretty(Some(new)));
            let diff = similar::TextDiff::from_lines(&a, &b);
            text.push_str(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header("pinned", "pending")
                    .to_string(),
            );
            text.push('\n');
        }
    }
    text
}

pub fn run(g: &Global, a: &ApproveArgs) -> Result<u8> {
    let ctx = g.context()?;
    let lock = Lock::load(&ctx.config_dir.join("servers.lock")).map_err(Failure::from)?;
    let Some(entry) = lock.servers.get(&a.name) else {
        return Err(Failure::input(
            Code::ServerUnknown,
            format!("no server named `{}` is pinned", a.name),
            Some(
                "`mcp-warden add NAME SOURCE` pins one; the name is the one in servers.lock".into(),
            ),
        )
        .into());
    };
    // The variant as run computes it: pinned arguments, then those given.
    let variant = match &a.variant {
        Some(v) if v == "none" => None,
        Some(v) => Some(v.clone()),
        None => {
            let mut given: Vec<std::ffi::OsString> = entry
                .run
                .pinned_args()
                .map(std::ffi::OsString::from)
                .collect();
            given.extend(a.args.iter().cloned());
            pins::variant(&given)
        }
    };
    let mut store = PinStore::open(&ctx.data_dir, &a.name, &entry.sha256, variant.as_deref())
        .map_err(pin_failure)?;
    if !store.has_pending() {
        let others: Vec<String> = pins::pending_variants(&ctx.data_dir, &a.name, &entry.sha256)
            .into_iter()
            .filter(|v| *v != variant)
            .map(|v| match v {
                Some(v) => format!("mcp-warden approve {} --variant {v}", a.name),
                None => format!("mcp-warden approve {} --variant none", a.name),
            })
            .collect();
        if !others.is_empty() {
            g.note(&format!(
                "changes are pending for {} when run with other arguments: {}",
                a.name,
                others.join("; ")
            ));
        }
        if g.json() {
            g.out(&format!(
                "{}\n",
                json!({"status": "nothing-pending", "name": a.name, "tools-digest": store.digest(Kind::Tools)})
            ));
        } else {
            g.out(&format!(
                "nothing to approve for {}: no changed tools, prompts or resources are pending\n",
                a.name
            ));
        }
        return Ok(0);
    }
    if !g.json() {
        g.out(&render_diff(&store));
    }
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::input(
                Code::Usage,
                format!("approve {} needs a confirmation, and stdin is not a terminal", a.name),
                Some("run it on a terminal to be asked, or pass --yes after reviewing the difference".into()),
            )
            .into());
        }
        eprint!("approve these changes for {}? [y/N] ", a.name);
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(64)
            .read_line(&mut line)
            .map_err(|e| anyhow::anyhow!("cannot read the answer: {e}"))?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            g.note("nothing approved");
            return Ok(1);
        }
    }
    // What is approved is exactly what was shown: the store as read
    // above. A change the guard records meanwhile is not approved; it is
    // overwritten here and held again the next time the server lists it.
    let approved = store.approve_all();
    store.save().map_err(pin_failure)?;
    let digest = store.digest(Kind::Tools);
    if g.json() {
        let items: Vec<Value> = approved
            .iter()
            .map(|(k, n)| json!({"kind": k.noun(), "name": n}))
            .collect();
        g.out(&format!(
            "{}\n",
            json!({"status": "approved", "name": a.name, "approved": items, "tools-digest": digest})
        ));
    } else {
        g.out(&format!(
            "approved {} change(s) for {}\ntool list digest: {digest}\n(for a policy: [servers.tools] pinned = \"{digest}\")\n",
            approved.len(),
            a.name
        ));
    }
    Ok(0)
}

use std::io::Read as _;
