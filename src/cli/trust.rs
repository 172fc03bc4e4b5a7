//! `mcp-warden trust …`.

use anyhow::Result;
use serde_json::json;

use super::args::TrustCommand;
use super::{Failure, Global};
use crate::ops::judge::load_trust;
use crate::trust::{self, Added, TrustError};

fn failure(e: TrustError) -> anyhow::Error {
    Failure::from(e).into()
}

pub fn run(g: &Global, cmd: &TrustCommand) -> Result<u8> {
    let ctx = g.context()?;
    match cmd {
        TrustCommand::AddKey {
            file,
            name,
            scopes,
            ssh_namespace,
        } => {
            let (added, summary) =
                trust::add_key(&ctx, file, name, scopes, Some(ssh_namespace)).map_err(failure)?;
            let (status, text) = match &added {
                Added::New => (
                    "added",
                    format!(
                        "trusted {} key `{name}` ({}) for {}",
                        summary.format,
                        summary.fingerprint,
                        scopes.join(", ")
                    ),
                ),
                Added::AlreadyPresent(existing) => (
                    "unchanged",
                    format!(
                        "this key ({}) is trusted already as `{existing}`; nothing changed",
                        summary.fingerprint
                    ),
                ),
            };
            if g.json() {
                g.out(&format!("{}\n", json!({"status": status, "name": name, "fingerprint": summary.fingerprint, "minisign_key_id": summary.minisign_id})));
            } else {
                g.note(&text);
            }
        }
        TrustCommand::AddIdentity {
            name,
            issuer,
            identity,
            identity_regexp,
            scopes,
        } => {
            let added = trust::add_identity(
                &ctx,
                name,
                issuer,
                identity.as_deref(),
                identity_regexp.as_deref(),
                scopes,
            )
            .map_err(failure)?;
            let (status, text) = match &added {
                Added::New => (
                    "added",
                    format!(
                        "trusted sigstore identity `{name}` for {}",
                        scopes.join(", ")
                    ),
                ),
                Added::AlreadyPresent(existing) => (
                    "unchanged",
                    format!("this identity is trusted already as `{existing}`; nothing changed"),
                ),
            };
            if g.json() {
                g.out(&format!("{}\n", json!({"status": status, "name": name})));
            } else {
                g.note(&text);
            }
        }
        TrustCommand::AddCa { file, name, scopes } => {
            let (added, summary) = trust::add_ca(&ctx, file, name, scopes).map_err(failure)?;
            if let Some(w) = &summary.warning {
                g.note(&format!(
                    "warning: the certificate {w}; bundles will not verify under it until it is valid"
                ));
            }
            let (status, text) = match &added {
                Added::New => (
                    "added",
                    format!(
                        "trusted CA `{name}` ({}, {}) for {}",
                        summary.subject,
                        summary.fingerprint,
                        scopes.join(", ")
                    ),
                ),
                Added::AlreadyPresent(existing) => (
                    "unchanged",
                    format!(
                        "this CA ({}) is trusted already as `{existing}`; nothing changed",
                        summary.fingerprint
                    ),
                ),
            };
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    json!({"status": status, "name": name, "subject": summary.subject,
                           "fingerprint": summary.fingerprint, "not_after": summary.not_after,
                           "warning": summary.warning})
                ));
            } else {
                g.note(&text);
            }
        }
        TrustCommand::AddRegistryKey {
            registry,
            keyid,
            key,
            expires,
        } => {
            let added = trust::add_registry_key(&ctx, registry, keyid, key, expires.as_deref())
                .map_err(failure)?;
            let shown = crate::text::printable(keyid, 200);
            let reg = crate::deps::evidence::registry_id(registry);
            let (status, text) = match added {
                Added::New => ("added", format!("trusted registry key `{shown}` for {reg}")),
                Added::AlreadyPresent(_) => (
                    "unchanged",
                    format!("registry key `{shown}` is trusted already for {reg}; nothing changed"),
                ),
            };
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    json!({"status": status, "registry": reg, "keyid": keyid})
                ));
            } else {
                g.note(&text);
            }
        }
        TrustCommand::List => {
            let store = load_trust(&ctx)?;
            if g.json() {
                let keys: Vec<_> = store
                    .keys
                    .iter()
                    .map(|k| {
                        json!({"name": k.name, "kind": "key", "algorithm": k.key.algorithm(), "format": k.key.format, "fingerprint": k.fingerprint,
                               "minisign_key_id": k.key.minisign_id.as_ref().map(crate::signature::keys::minisign_id_hex),
                               "scopes": k.scopes.patterns, "ssh_namespace": k.ssh_namespace, "origin": k.origin})
                    })
                    .chain(store.identities.iter().map(|i| {
                        json!({"name": i.name, "kind": "identity", "issuer": i.issuer, "identity": i.identity.describe(),
                               "scopes": i.scopes.patterns, "origin": i.origin})
                    }))
                    .chain(store.cas.iter().map(|c| {
                        json!({"name": c.name, "kind": "ca", "subject": c.subject, "fingerprint": c.fingerprint,
                               "scopes": c.scopes.patterns, "origin": c.origin})
                    }))
                    .chain(store.registry_keys.iter().map(|k| {
                        json!({"name": k.keyid, "kind": "registry-key", "registry": k.registry,
                               "expires": k.expires.map(|t| t.to_string())})
                    }))
                    .collect();
                g.out(&format!("{}\n", serde_json::to_string_pretty(&keys)?));
            } else if store.keys.is_empty()
                && store.identities.is_empty()
                && store.cas.is_empty()
                && store.registry_keys.is_empty()
            {
                g.out("The trust store is empty. Add a key with `mcp-warden trust add-key FILE --name NAME --scope GLOB`.\n");
            } else {
                let mut s = String::new();
                for k in &store.keys {
                    s.push_str(&format!(
                        "{}  key {} ({}{})\n    scopes: {}\n    origin: {}\n",
                        k.name,
                        k.fingerprint,
                        k.key.algorithm(),
                        k.key
                            .minisign_id
                            .as_ref()
                            .map(|id| format!(
                                ", minisign id {}",
                                crate::signature::keys::minisign_id_hex(id)
                            ))
                            .unwrap_or_default(),
                        k.scopes.patterns.join(", "),
                        k.file.display()
                    ));
                }
                for i in &store.identities {
                    s.push_str(&format!(
                        "{}  identity {} from {}\n    scopes: {}\n    origin: {}\n",
                        i.name,
                        i.identity.describe(),
                        i.issuer,
                        i.scopes.patterns.join(", "),
                        i.file.display()
                    ));
                }
                for c in &store.cas {
                    s.push_str(&format!(
                        "{}  ca {} ({})\n    scopes: {}\n    origin: {}\n",
                        c.name,
                        c.fingerprint,
                        c.subject,
                        c.scopes.patterns.join(", "),
                        c.file.display()
                    ));
                }
                for k in &store.registry_keys {
                    s.push_str(&format!(
                        "{}  registry key for {}{}\n",
                        crate::text::printable(&k.keyid, 200),
                        k.registry,
                        k.expires
                            .map(|t| format!(", expires {t}"))
                            .unwrap_or_default()
                    ));
                }
                g.out(&s);
            }
        }
        TrustCommand::Roots => {
            let roots = crate::signature::sigstore::describe_embedded();
            if g.json() {
                g.out(&format!("{}\n", serde_json::to_string_pretty(&roots)?));
            } else {
                let mut s = String::new();
                for r in &roots {
                    let default =
                        crate::signature::sigstore::DEFAULT_ROOTS.contains(&r.name.as_str());
                    s.push_str(&format!(
                        "{}{}\n",
                        r.name,
                        if default {
                            " (used by default)"
                        } else {
                            " (only with --trusted-root NAME)"
                        }
                    ));
                    for (kind, items) in [
                        ("transparency log", &r.tlogs),
                        ("certificate authority", &r.cas),
                        ("CT log", &r.ctlogs),
                        ("timestamp authority", &r.tsas),
                    ] {
                        for i in items {
                            s.push_str(&format!(
                                "  {kind:<22} {}\n      valid {} .. {}\n",
                                i.name, i.start, i.end
                            ));
                        }
                    }
                    s.push('\n');
                }
                s.push_str(
                    "Pass --trusted-root FILE to `verify` to use another root for one call.\n",
                );
                g.out(&s);
            }
        }
        TrustCommand::Remove { name } => {
            trust::remove(&ctx, name).map_err(failure)?;
            if g.json() {
                g.out(&format!("{}\n", json!({"status": "removed", "name": name})));
            } else {
                g.note(&format!("removed `{name}` from the trust store"));
            }
        }
    }
    Ok(0)
}
