//! `policy explain NAME`: what a server needs, layer by layer, and which
//! line of which file says so.

use serde::Serialize;

use super::{Mode, Policy, PolicySet, RequireSource, Requirement, requirements};
use crate::trust::{Entry, TrustStore};

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub server: String,
    pub layers: Vec<LayerExplanation>,
}

#[derive(Debug, Serialize)]
pub struct LayerExplanation {
    pub policy: String,
    pub mode: &'static str,
    /// Each line: a rule and where it comes from.
    pub rules: Vec<Rule>,
}

#[derive(Debug, Serialize)]
pub struct Rule {
    pub what: String,
    pub from: String,
}

const UNSIGNED_ALLOWED: &str =
    "unsigned pins (add --unsigned --reason): allowed, the signature waived with the reason shown";

const SCRIPTS_WARN: &str =
    "npm install scripts in a pinned tree: warned about in the add report, never run";
const SCRIPTS_DENY: &str =
    "npm install scripts in a pinned tree: add refuses the tree, naming the packages (never run)";

fn rule(what: impl Into<String>, from: impl Into<String>) -> Rule {
    Rule {
        what: what.into(),
        from: from.into(),
    }
}

pub fn explain(set: &PolicySet, trust: &TrustStore, server: &str) -> Explanation {
    let mut layers = Vec::new();
    if set.is_default() {
        layers.push(LayerExplanation {
            policy: "default (no policy file)".into(),
            mode: "enforce",
            rules: vec![
                rule("require: signature", "built-in default"),
                rule(
                    format!("signers: any trusted key whose scope covers `{server}`, or a key given with --key"),
                    "built-in default",
                ),
                rule(UNSIGNED_ALLOWED, "built-in default"),
                rule(SCRIPTS_WARN, "built-in default"),
            ],
        });
    }
    for p in &set.layers {
        layers.push(explain_layer(p, trust, server));
    }
    Explanation {
        server: server.into(),
        layers,
    }
}

/// For a pinned server: the entries of other names that apply to it by
/// the source it was fetched from or by `signed-by`
/// ([`Policy::rules_for`]), one line each, with the index of their layer
/// in `set`, so that `explain` names every entry a judgement applies.
pub fn also_applies(set: &PolicySet, subject: &super::Subject) -> Vec<(usize, Rule)> {
    let mut out = Vec::new();
    for (i, p) in set.layers.iter().enumerate() {
        for e in p.rules_for(subject) {
            if e.name == subject.name {
                continue;
            }
            let by = match e
                .source
                .as_ref()
                .filter(|s| s.names(subject.origin).is_some())
            {
                Some(s) => format!("by its source {}", s.text),
                None => "by its signed-by".to_string(),
            };
            out.push((
                i,
                rule(
                    format!(
                        "entry `{}` applies too, {by}: every rule of it must hold as well (`mcp-warden policy explain {}`)",
                        e.name, e.name
                    ),
                    e.loc.to_string(),
                ),
            ));
        }
    }
    out
}

fn explain_layer(p: &Policy, trust: &TrustStore, server: &str) -> LayerExplanation {
    let entry = p.server(server);
    let mut rules = Vec::new();
    match entry {
        Some(e) => rules.push(rule(format!("entry for `{server}`"), e.loc.to_string())),
        None => rules.push(rule(
            format!("no entry for `{server}`: [defaults] apply"),
            p.file.display().to_string(),
        )),
    }
    let names = |r: &[Requirement]| r.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ");
    let reqs = requirements(Some(p), server);
    let before_waivers: Vec<Requirement> = {
        let mut all = reqs.required.clone();
        all.extend(reqs.waived.iter().map(|(_, w)| *w));
        all.sort();
        all
    };
    match reqs.source {
        RequireSource::Server(loc) => rules.push(rule(
            format!("require: {}", names(&before_waivers)),
            loc.to_string(),
        )),
        RequireSource::Defaults(loc) => rules.push(rule(
            format!("require: {}", names(&before_waivers)),
            format!("[defaults] {loc}"),
        )),
        RequireSource::BuiltIn => rules.push(rule(
            "require: signature",
            "built-in default (no `require` in the file)",
        )),
    }
    for (e, w) in &reqs.waived {
        rules.push(rule(
            format!("waived: {} — {}", w.name(), e.reason),
            e.loc.to_string(),
        ));
    }
    rules.push(match &p.allow_unsigned {
        Some(a) if !a.value => rule(
            "unsigned pins (add --unsigned): forbidden, also for those pinned before",
            format!("[sources] {}", a.loc),
        ),
        Some(a) => rule(UNSIGNED_ALLOWED, format!("[sources] {}", a.loc)),
        None => rule(
            UNSIGNED_ALLOWED,
            "built-in default (no `[sources] allow-unsigned` in the file)",
        ),
    });
    rules.push(match &p.install_scripts {
        Some(a) if a.value == crate::policy::InstallScripts::Deny => {
            rule(SCRIPTS_DENY, format!("[sources] {}", a.loc))
        }
        Some(a) => rule(SCRIPTS_WARN, format!("[sources] {}", a.loc)),
        None => rule(
            SCRIPTS_WARN,
            "built-in default (no `[sources] install-scripts` in the file)",
        ),
    });
    if let Some(a) = &p.registry_signatures {
        use crate::policy::Require;
        let what = match a.value {
            Require::Off => "npm registry signatures: verified where offered, required of none",
            Require::Top => {
                "npm registry signatures: required of the package itself (add refuses it without)"
            }
            Require::Tree => {
                "npm registry signatures: required of every package of the tree (add refuses it without)"
            }
        };
        rules.push(rule(what, format!("[sources] {}", a.loc)));
    }
    if let Some(a) = &p.provenance {
        use crate::policy::Require;
        let what = match a.value {
            Require::Off => "npm provenance: verified where offered, required of none",
            Require::Top => {
                "npm provenance: required of the package itself (add refuses it without)"
            }
            Require::Tree => {
                "npm provenance: required of every package of the tree (add refuses it without)"
            }
        };
        rules.push(rule(what, format!("[sources] {}", a.loc)));
    }
    if reqs.required.contains(&Requirement::Signature) {
        match reqs.signers {
            Some(sg) => {
                rules.push(rule(
                    format!("signers: {}", sg.value.join(", ")),
                    sg.loc.to_string(),
                ));
                for name in &sg.value {
                    rules.push(signer_line(trust, name, server));
                }
            }
            None => {
                rules.push(rule(
                    format!("signers: any trusted signer whose scope covers `{server}`"),
                    "no `signers` in the file",
                ));
                for name in trust
                    .keys
                    .iter()
                    .filter(|k| k.scopes.matches(server))
                    .map(|k| &k.name)
                    .chain(
                        trust
                            .identities
                            .iter()
                            .filter(|i| i.scopes.matches(server))
                            .map(|i| &i.name),
                    )
                {
                    rules.push(signer_line(trust, name, server));
                }
            }
        }
    }
    if let Some(id) = entry.and_then(|e| e.identity.as_ref()) {
        let mut parts = Vec::new();
        if let Some(r) = &id.repository {
            parts.push(format!("repository {r}"));
        }
        if let Some(r) = &id.git_ref_text {
            parts.push(format!("ref {r}"));
        }
        if let Some(w) = &id.workflow_text {
            parts.push(format!("workflow {w}"));
        }
        rules.push(rule(
            format!("keyless signer's workflow claims: {}", parts.join(", ")),
            id.loc.to_string(),
        ));
    }
    if let Some(d) = entry.and_then(|e| e.digests.as_ref()) {
        let list: Vec<String> = d.value.iter().map(ToString::to_string).collect();
        rules.push(rule(
            format!("digest must be one of: {}", list.join(", ")),
            d.loc.to_string(),
        ));
    }
    if let Some(src) = entry.and_then(|e| e.source.as_ref()) {
        rules.push(rule(
            format!(
                "must be fetched from {} (the entry applies to every server fetched from that package, whatever its name)",
                src.text
            ),
            src.loc.to_string(),
        ));
    }
    if let Some(b) = entry.and_then(|e| e.signed_by.as_ref()) {
        rules.push(rule(
            format!(
                "the entry applies to every server whose artifact {} signed, whatever its name",
                b.value.join(", ")
            ),
            b.loc.to_string(),
        ));
    }
    if let Some(v) = entry.and_then(|e| e.versions.as_ref()) {
        rules.push(rule(
            format!("the version fetched must be in {}", v.value),
            v.loc.to_string(),
        ));
    }
    if let Some(run) = entry.and_then(|e| e.run.as_ref()) {
        let mut parts = Vec::new();
        let on = |b: bool| if b { "on" } else { "off" };
        if let Some(g) = run.guard {
            parts.push(format!("guard {}", on(g)));
        }
        if let Some(m) = run.sandbox {
            parts.push(format!("sandbox {}", m.as_str()));
        }
        if let Some(n) = run.network {
            parts.push(format!("network {}", on(n)));
        }
        if let Some(n) = run.grant_arg_paths {
            parts.push(format!("grant-arg-paths {}", on(n)));
        }
        for (what, list) in [
            ("confirm-tools", &run.confirm_tools),
            ("deny-tools", &run.deny_tools),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what} {}", list.join(" ")));
            }
        }
        if let Some(r) = run.rate_overall {
            parts.push(format!("rate {r}/s overall"));
        }
        if let Some(r) = run.rate_per_tool {
            parts.push(format!("rate {r}/s per tool"));
        }
        if run.strict_arguments == Some(true) {
            parts.push("strict arguments".into());
        }
        for (what, v) in [
            ("max-processes", run.max_processes),
            ("max-memory-mib", run.max_memory_mib),
            ("max-file-size-mib", run.max_file_size_mib),
            ("max-open-files", run.max_open_files),
        ] {
            if let Some(v) = v {
                parts.push(format!("{what} {v}"));
            }
        }
        if !parts.is_empty() {
            let at = entry.map(|e| e.loc.to_string()).unwrap_or_default();
            rules.push(rule(format!("run: {}", parts.join(", ")), at));
        }
    }
    if let Some(pin) = entry.and_then(|e| e.tools_pinned.as_ref()) {
        rules.push(rule(
            format!("tool list pinned to {}", pin.value),
            pin.loc.to_string(),
        ));
    }
    LayerExplanation {
        policy: format!("{} {}", p.layer.name(), p.file.display()),
        mode: match p.mode.value {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        },
        rules,
    }
}

fn signer_line(trust: &TrustStore, name: &str, server: &str) -> Rule {
    match trust.get(name) {
        Some(Entry::Key(k)) => rule(
            format!(
                "  `{name}`: key {}, scopes {} — {}",
                k.fingerprint,
                k.scopes.patterns.join(", "),
                if k.scopes.matches(server) {
                    "covers this server"
                } else {
                    "does NOT cover this server"
                }
            ),
            k.file.display().to_string(),
        ),
        Some(Entry::Identity(i)) => rule(
            format!(
                "  `{name}`: sigstore identity {} from {}, scopes {} — {}",
                i.identity.describe(),
                i.issuer,
                i.scopes.patterns.join(", "),
                if i.scopes.matches(server) {
                    "covers this server"
                } else {
                    "does NOT cover this server"
                }
            ),
            i.file.display().to_string(),
        ),
        None => match trust.ca(name) {
            Some(c) => rule(
                format!(
                    "  `{name}`: X.509 root {} ({}) for .mcpb publishers, scopes {} — {}",
                    c.subject,
                    c.fingerprint,
                    c.scopes.patterns.join(", "),
                    if c.scopes.matches(server) {
                        "covers this server"
                    } else {
                        "does NOT cover this server"
                    }
                ),
                c.file.display().to_string(),
            ),
            None => rule(format!("  `{name}`: not in the trust store"), "trust store"),
        },
    }
}
