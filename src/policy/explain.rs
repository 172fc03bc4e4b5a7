//! `policy explain NAME`: what a server needs, layer by layer, and which
//! line of which file says so.

use serde::Serialize;

use super::vouch::{Binding, Signed};
use super::{
    Mode, Policy, PolicySet, RequireSource, Requirement, Requirements, ServerRule, requirements,
};
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
    /// Which kind of evidence (or what else) it is about: `policy`,
    /// `signature`, `provenance`, `sbom`, `run`.
    pub section: &'static str,
    pub what: String,
    pub from: String,
}

const UNSIGNED_ALLOWED: &str =
    "unsigned pins (add --unsigned --reason): allowed, the signature waived with the reason shown";

const ENDORSEMENTS: &str = "counts as a signature: a detached signature (minisign, SSH, sigstore message signature, .mcpb), or a signed statement that endorses the artifact (SLSA provenance v0.2/v1, npm's or PyPI's publish attestation, a verification summary whose result is PASSED); any other signed statement is recorded only (statement-not-endorsement)";

const CERTIFICATE_BOUND: &str = "a keyless statement's builder must be its certificate's identity (a reusable workflow) or GitHub's hosted runner matching the certificate's claims, and its source repository, ref and commit must be the certificate's";

const SCRIPTS_WARN: &str =
    "npm install scripts in a pinned tree: warned about in the add report, never run";
const SCRIPTS_DENY: &str =
    "npm install scripts in a pinned tree: add refuses the tree, naming the packages (never run)";

fn rule(what: impl Into<String>, from: impl Into<String>) -> Rule {
    Rule {
        section: "policy",
        what: what.into(),
        from: from.into(),
    }
}

impl Rule {
    fn in_section(mut self, section: &'static str) -> Rule {
        self.section = section;
        self
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
                rule(UNSIGNED_ALLOWED, "built-in default"),
                rule(SCRIPTS_WARN, "built-in default"),
                rule(
                    format!("signers: any trusted key whose scope covers `{server}`, or a key given with --key"),
                    "built-in default",
                )
                .in_section("signature"),
                rule(ENDORSEMENTS, "built-in").in_section("signature"),
                rule("provenance: not required; a provenance file given is verified, and one that fails denies", "built-in default").in_section("provenance"),
                rule(CERTIFICATE_BOUND, "built-in").in_section("provenance"),
                rule("sbom: not required; an SBOM given counts when signed by a trusted signer in scope and bound to the artifact", "built-in default").in_section("sbom"),
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
    let binding = Binding {
        policy: Some(p),
        trust,
        server,
        signers: reqs.signers,
        claims: entry.and_then(|e| e.identity.as_ref()),
    };
    rules.extend(signature_section(&binding, &reqs));
    rules.extend(provenance_section(p, entry, &binding, &reqs));
    rules.extend(sbom_section(p, entry, &binding, &reqs));
    if let Some(d) = entry.and_then(|e| e.digests.as_ref()) {
        let list: Vec<String> = d.value.iter().map(ToString::to_string).collect();
        rules.push(
            rule(
                format!("digest must be one of: {}", list.join(", ")),
                d.loc.to_string(),
            )
            .in_section("artifact"),
        );
    }
    if let Some(src) = entry.and_then(|e| e.source.as_ref()) {
        rules.push(rule(
            format!(
                "must be fetched from {} (the entry applies to every server fetched from that package, whatever its name)",
                src.text
            ),
            src.loc.to_string(),
        ).in_section("artifact"));
    }
    if let Some(b) = entry.and_then(|e| e.signed_by.as_ref()) {
        rules.push(
            rule(
                format!(
                    "the entry applies to every server whose artifact {} signed, whatever its name",
                    b.value.join(", ")
                ),
                b.loc.to_string(),
            )
            .in_section("policy"),
        );
    }
    if let Some(v) = entry.and_then(|e| e.versions.as_ref()) {
        rules.push(
            rule(
                format!("the version fetched must be in {}", v.value),
                v.loc.to_string(),
            )
            .in_section("artifact"),
        );
    }
    // The layer's `[defaults.run]` under the entry's own settings: what
    // this file asks of the server, whatever its name.
    if let Some(run) = &p.layer_run(entry) {
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
        for (what, list) in [
            ("read-paths", &run.read_paths),
            ("write-paths", &run.write_paths),
        ] {
            if !list.is_empty() {
                let v: Vec<&str> = list.iter().map(|p| p.value.as_str()).collect();
                parts.push(format!("{what} {}", v.join(" ")));
            }
        }
        if !parts.is_empty() {
            let at = match (entry.filter(|e| e.run.is_some()), &p.defaults_run) {
                (Some(e), _) => e.loc.to_string(),
                (None, Some(d)) => format!(
                    "[defaults.run] {}",
                    d.at.values()
                        .min_by_key(|l| (l.line, l.column))
                        .map(|l| l.to_string())
                        .unwrap_or_default()
                ),
                (None, None) => String::new(),
            };
            rules.push(rule(format!("run: {}", parts.join(", ")), at).in_section("run"));
        }
    }
    if let Some(pin) = entry.and_then(|e| e.tools_pinned.as_ref()) {
        rules.push(
            rule(
                format!("tool list pinned to {}", pin.value),
                pin.loc.to_string(),
            )
            .in_section("run"),
        );
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

/// Who may sign `kind` for the server under this layer: the rule
/// [`Binding::vouches`] applies, in words.
fn binding_rules(b: &Binding, kind: Signed) -> Vec<Rule> {
    let server = b.server;
    let mut out = Vec::new();
    match b.signers {
        Some(sg) => {
            out.push(rule(
                format!(
                    "signers: {} (bind every signed thing: signature, provenance, SBOM)",
                    if sg.value.is_empty() {
                        "none".to_string()
                    } else {
                        sg.value.join(", ")
                    }
                ),
                sg.loc.to_string(),
            ));
            if kind == Signed::Signature {
                for name in &sg.value {
                    out.push(signer_line(b.trust, name, server));
                }
            }
        }
        None => {
            let mut what = format!("signers: any trusted signer whose scope covers `{server}`");
            if let Signed::Provenance {
                builder_named: true,
            } = kind
                && b.builder_anchors()
            {
                what.push_str(", or the certificate of a builder `builder-id` names (no `signers` is written)");
            }
            out.push(rule(what, "no `signers` in the file"));
            if kind == Signed::Signature {
                for name in b
                    .trust
                    .keys
                    .iter()
                    .filter(|k| k.scopes.matches(server))
                    .map(|k| &k.name)
                    .chain(
                        b.trust
                            .identities
                            .iter()
                            .filter(|i| i.scopes.matches(server))
                            .map(|i| &i.name),
                    )
                {
                    out.push(signer_line(b.trust, name, server));
                }
            }
        }
    }
    if let Some(id) = b.claims {
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
        out.push(rule(
            format!(
                "identity claims: the signer must be a keyless CI identity with {} (`*` stops at `/`)",
                parts.join(", ")
            ),
            format!("[servers.identity] {}", id.loc),
        ));
    }
    out
}

fn required_line(reqs: &Requirements, r: Requirement, also: Option<&super::Loc>) -> Rule {
    let from = match reqs.source {
        RequireSource::Server(loc) => loc.to_string(),
        RequireSource::Defaults(loc) => format!("[defaults] {loc}"),
        RequireSource::BuiltIn => "built-in default (no `require` in the file)".into(),
    };
    if reqs.required.contains(&r) {
        rule(format!("{}: required", r.name()), from)
    } else if let Some(loc) = also {
        rule(format!("{}: required", r.name()), loc.to_string())
    } else if let Some((e, _)) = reqs.waived.iter().find(|(_, w)| *w == r) {
        rule(
            format!("{}: waived — {}", r.name(), e.reason),
            e.loc.to_string(),
        )
    } else {
        let given = match r {
            Requirement::Sbom => "an SBOM given is still judged by the rules below",
            _ => "given, it is verified, and one that fails denies",
        };
        rule(format!("{}: not required; {given}", r.name()), from)
    }
}

fn signature_section(b: &Binding, reqs: &Requirements) -> Vec<Rule> {
    let mut out = vec![required_line(reqs, Requirement::Signature, None)];
    out.extend(binding_rules(b, Signed::Signature));
    out.push(rule(ENDORSEMENTS, "built-in"));
    out.into_iter().map(|r| r.in_section("signature")).collect()
}

fn provenance_section(
    p: &Policy,
    entry: Option<&ServerRule>,
    b: &Binding,
    reqs: &Requirements,
) -> Vec<Rule> {
    let rules = entry.and_then(|e| e.provenance.as_ref());
    let mut out = vec![required_line(reqs, Requirement::Provenance, None)];
    let kind = Signed::Provenance {
        builder_named: rules.is_some_and(|r| !r.builder_id.is_empty()),
    };
    out.extend(binding_rules(b, kind));
    if let Some(r) = rules {
        let at = format!("[servers.provenance] {}", r.loc);
        if !r.builder_id.is_empty() {
            let ids: Vec<&str> = r.builder_id.iter().map(|(t, _)| t.as_str()).collect();
            out.push(rule(
                format!(
                    "builder-id: one of {} (a condition on the builder, in addition to the signers)",
                    ids.join(", ")
                ),
                at.clone(),
            ));
        }
        if let Some(repo) = &r.source_repo {
            out.push(rule(format!("source-repo: {repo}"), at.clone()));
        }
        if let Some((text, _)) = &r.source_ref {
            out.push(rule(
                format!("source-ref: {text} (`*` stops at `/`; a statement naming no ref fails)"),
                at.clone(),
            ));
        }
        if !r.build_type.is_empty() {
            out.push(rule(
                format!("build-type: one of {}", r.build_type.join(", ")),
                at.clone(),
            ));
        }
    }
    out.push(rule(CERTIFICATE_BOUND, "built-in"));
    out.push(match &p.provenance {
        Some(a) => {
            use crate::policy::Require;
            let what = match a.value {
                Require::Off => "npm provenance per package ([sources] provenance): off",
                Require::Top => "npm provenance per package ([sources] provenance): required of the package itself",
                Require::Tree => "npm provenance per package ([sources] provenance): required of every package of the tree",
            };
            rule(what, format!("[sources] {}", a.loc))
        }
        None => rule(
            "npm provenance per package ([sources] provenance): off",
            "built-in default (no `[sources] provenance` in the file)",
        ),
    });
    out.into_iter()
        .map(|r| r.in_section("provenance"))
        .collect()
}

fn sbom_section(
    p: &Policy,
    entry: Option<&ServerRule>,
    b: &Binding,
    reqs: &Requirements,
) -> Vec<Rule> {
    let rules = entry.and_then(|e| e.sbom.as_ref());
    let also = rules.filter(|r| r.require).map(|r| &r.loc);
    let mut out = vec![required_line(reqs, Requirement::Sbom, also)];
    match rules {
        Some(r) if !r.signed => out.push(rule(
            "signed: no (an unsigned loose SBOM counts too; a signed one's signer is still bound)",
            format!("[servers.sbom] {}", r.loc),
        )),
        _ => out.push(rule(
            "signed: yes (a loose SBOM needs --sbom-signature, or an attestation)",
            match rules {
                Some(r) => format!("[servers.sbom] {}", r.loc),
                None => "built-in default".into(),
            },
        )),
    }
    out.extend(binding_rules(b, Signed::Sbom));
    if let Some(r) = rules {
        let at = format!("[servers.sbom] {}", r.loc);
        if let Some((text, _)) = &r.max_age {
            out.push(rule(format!("max-age: {text}"), at.clone()));
        }
        for d in &r.deny_components {
            let what = d.purl.as_deref().or(d.name.as_deref()).unwrap_or_default();
            let versions = d
                .versions
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            out.push(rule(
                format!("deny-components: {what}{versions} — {}", d.reason),
                d.loc.to_string(),
            ));
        }
        if let Some(l) = &r.licenses {
            if !l.allow().is_empty() {
                out.push(rule(
                    format!("allow-licenses: {}", l.allow().join(", ")),
                    at.clone(),
                ));
            }
            if !l.deny().is_empty() {
                out.push(rule(
                    format!("deny-licenses: {}", l.deny().join(", ")),
                    at.clone(),
                ));
            }
            use crate::sbom::license::NoAssertion;
            out.push(rule(
                format!(
                    "noassertion: {}",
                    match l.noassertion() {
                        NoAssertion::Allow => "allow",
                        NoAssertion::Deny => "deny",
                        NoAssertion::Warn => "warn",
                    }
                ),
                at.clone(),
            ));
        }
        if let Some(u) = r.unidentified {
            out.push(rule(
                format!(
                    "unidentified: {}",
                    match u {
                        super::Unidentified::Deny => "deny",
                        super::Unidentified::Warn => "warn",
                    }
                ),
                at.clone(),
            ));
        }
    }
    match &p.advisories {
        Some(a) => {
            let at = format!("[advisories] {}", a.loc);
            out.push(rule(
                format!(
                    "advisories: db {}, severity {} and above denies",
                    a.db.as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|| "(none in this file)".into()),
                    a.severity.as_str()
                ),
                at.clone(),
            ));
            for (i, loc) in &a.ignore {
                out.push(rule(
                    format!("advisories ignore: {} — {}", i.id, i.reason),
                    loc.to_string(),
                ));
            }
            out.push(rule(
                format!(
                    "advisory database max-age {}, stale: {}",
                    a.max_age
                        .as_ref()
                        .map(|m| m.value.0.clone())
                        .unwrap_or_else(|| "7d (default)".into()),
                    if a.stale_deny.as_ref().is_some_and(|s| s.value) {
                        "deny"
                    } else {
                        "warn"
                    }
                ),
                at,
            ));
        }
        None => out.push(rule(
            "advisories: none in this file (--advisories adds a database)",
            p.file.display().to_string(),
        )),
    }
    out.into_iter().map(|r| r.in_section("sbom")).collect()
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
