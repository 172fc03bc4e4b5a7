//! Evaluation: evidence in, a decision with its reasons out.

use std::path::PathBuf;

use serde::Serialize;

use super::vouch::{Binding, Signed, Vouched};
use super::{
    Layer, Mode, Policy, PolicySet, RequireSource, Requirement, requirements_for, scheme_of,
};
use crate::diag::{Code, Diagnostic, Severity};
use crate::evidence::{Evidence, Role};
use crate::trust::TrustStore;

/// One layer's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct LayerDecision {
    /// `default` when no policy file is in force.
    pub policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    pub allowed: bool,
    pub audit: bool,
    /// The rule that decided, in words, with its file position.
    pub rule: String,
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub allowed: bool,
    pub layers: Vec<LayerDecision>,
    /// Evidence failures first, then each layer's findings, then warnings
    /// about the policy files themselves.
    pub diagnostics: Vec<Diagnostic>,
    /// The signer that satisfied the signature rule, for the report.
    pub signer: Option<String>,
    /// The reason of a pin without a signature (`add --unsigned`), as
    /// shown.
    pub unsigned: Option<String>,
}

impl Decision {
    /// The rule that decided: the first denying layer's, or all of them.
    pub fn rule(&self) -> String {
        match self.layers.iter().find(|l| !l.allowed) {
            Some(l) => l.rule.clone(),
            None => self
                .layers
                .iter()
                .map(|l| l.rule.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// Decides on `ev` under every layer of `set`. `advisories` is the offline
/// OSV database, when one was given; `unsigned` the reason of a pin
/// without a signature (`add --unsigned --reason`), which waives the
/// signature requirement wherever the policy allows unsigned pins.
pub fn evaluate(
    set: &PolicySet,
    ev: &Evidence,
    trust: &TrustStore,
    advisories: Option<&crate::sbom::advisories::AdvisoryDb>,
    unsigned: Option<&str>,
) -> Decision {
    let unsigned = unsigned.map(|r| crate::text::printable(r, crate::lock::MAX_REASON_CHARS));
    let now = jiff::Timestamp::now();
    // What is said of the database itself, once, where advisories were
    // looked up (or would have been): some SBOM was read.
    let advisory_db = if ev.sboms.iter().any(|s| s.sbom.is_ok()) {
        super::advisories::advisory_db_findings(set, advisories, now)
    } else {
        Vec::new()
    };
    let ctx = Ctx {
        trust,
        advisories,
        advisory_db: &advisory_db,
        now,
        unsigned: unsigned.as_deref(),
    };
    // A signature that was given and fails is never ignored, whatever the
    // policy requires: it is either damage or an attack.
    let (failures, notes): (Vec<Diagnostic>, Vec<Diagnostic>) = ev
        .signatures
        .iter()
        .filter_map(|s| {
            s.outcome
                .as_ref()
                .err()
                .map(|d| prefixed(d, &s.file.display().to_string()))
        })
        .partition(|d| d.severity == Severity::Error);

    let mut layers = Vec::new();
    let mut signer = None;
    // Who signed the artifact (trust-store names), for `signed-by`.
    let signed_by: Vec<String> = ev
        .signatures
        .iter()
        .filter(|s| s.role == Role::Signature)
        .filter_map(|s| s.outcome.as_ref().ok())
        .flat_map(|sg| sg.trust_names().iter().cloned())
        .collect();
    if set.is_default() {
        layers.push(evaluate_layer(None, None, ev, &ctx, &failures, &mut signer));
    } else {
        for p in &set.layers {
            // Every entry that applies (by name, by the source the
            // artifact was fetched from, by `signed-by`) is judged, and
            // all must allow.
            let entries = p.rules_for(&super::Subject {
                name: &ev.server,
                origin: &ev.origin,
                signers: &signed_by,
            });
            if entries.is_empty() {
                layers.push(evaluate_layer(
                    Some(p),
                    None,
                    ev,
                    &ctx,
                    &failures,
                    &mut signer,
                ));
            }
            for e in entries {
                layers.push(evaluate_layer(
                    Some(p),
                    Some(e),
                    ev,
                    &ctx,
                    &failures,
                    &mut signer,
                ));
            }
        }
    }
    let allowed = layers.iter().all(|l| l.allowed);
    let mut diagnostics = Vec::new();
    let audited = layers.iter().any(|l| l.audit && !l.diagnostics.is_empty()) && allowed;
    for d in &failures {
        let mut d = d.clone();
        if audited {
            d.severity = Severity::Warning;
        }
        diagnostics.push(d);
    }
    diagnostics.extend(notes);
    for l in &layers {
        for d in &l.diagnostics {
            // Both layers may find the same thing; say it once, at the
            // weight of the layer that enforces it.
            match diagnostics
                .iter_mut()
                .find(|e| e.code == d.code && e.message == d.message)
            {
                Some(e) => e.severity = e.severity.max(d.severity),
                None => diagnostics.push(d.clone()),
            }
        }
    }
    if set.is_default() {
        diagnostics.push(
            Diagnostic::info(
                Code::DefaultPolicy,
                "no policy file was found, so the default policy was used: a valid signature by a trusted key in scope, or by a key given with --key",
            )
            .hint("write a policy with `mcp-warden policy init` to pin signers, digests and required evidence"),
        );
    }
    diagnostics.extend(set.warnings.iter().cloned());
    Decision {
        allowed,
        layers,
        diagnostics,
        signer,
        unsigned,
    }
}

/// The provenance requirement: some verified statement about this artifact
/// that meets `[servers.provenance]` and whose signer counts for the server
/// under the layer's [`Binding`], as for signatures; a `builder-id` rule is
/// a further condition, and anchors trust in the certificate-bound builder
/// only where the layer wrote no `signers`.
fn judge_provenance(
    ev: &Evidence,
    entry: Option<&super::ServerRule>,
    binding: &Binding,
    label: &str,
    require_src: &str,
) -> Result<String, Vec<Diagnostic>> {
    let rules = entry.and_then(|e| e.provenance.as_ref());
    let mut problems = Vec::new();
    // A given provenance file that failed has its own error already; one
    // that only held members that were skipped or are not provenance (npm's
    // publish attestation) leaves the requirement unmet.
    let failed = ev.signatures.iter().any(|s| {
        s.role == Role::Provenance
            && s.outcome
                .as_ref()
                .is_err_and(|d| d.severity == Severity::Error)
    });
    for s in ev.signatures.iter().filter(|s| s.role == Role::Provenance) {
        let (Ok(signer), Some(p)) = (&s.outcome, &s.provenance) else {
            continue;
        };
        if let Some(r) = rules
            && let Err((code, why)) = r.check(p)
        {
            problems.push(
                Diagnostic::error(code, format!("{}: {why} ([servers.provenance] at {})", s.file.display(), r.loc))
                    .hint("if the build moved legitimately, update [servers.provenance]; otherwise do not run this artifact"),
            );
            continue;
        }
        // A builder-id rule binds the builder only where the builder was
        // bound to a certificate; a key holder can name any builder it likes.
        let kind = Signed::Provenance {
            builder_named: rules.is_some_and(|r| !r.builder_id.is_empty()),
        };
        match binding.vouches(signer, kind) {
            Ok(_) => return Ok(format!("provenance by builder `{}`", p.builder_id)),
            Err(refused) => {
                let file = format!("{} (builder `{}`)", s.file.display(), p.builder_id);
                problems.extend(
                    refused
                        .iter()
                        .map(|r| binding.diagnostic(r, signer, kind, &file, label)),
                );
            }
        }
    }
    if problems.is_empty() && !failed {
        problems.push(
            Diagnostic::error(
                Code::EvidenceMissing,
                format!("{require_src} requires provenance, and no verified provenance about this artifact was given"),
            )
            .hint("pass the build's provenance with --provenance FILE (a .intoto.jsonl, sigstore bundle or npm attestations document)"),
        );
    }
    Err(problems)
}

fn prefixed(d: &Diagnostic, file: &str) -> Diagnostic {
    let mut d = d.clone();
    d.message = format!("{file}: {}", d.message);
    d
}

/// What every layer is evaluated with.
struct Ctx<'a> {
    trust: &'a TrustStore,
    advisories: Option<&'a crate::sbom::advisories::AdvisoryDb>,
    /// Findings about the database, weighed in every layer like the
    /// SBOM's: an error (a stale database under `stale = "deny"`) denies.
    advisory_db: &'a [Diagnostic],
    now: jiff::Timestamp,
    /// The reason of an unsigned pin, made printable.
    unsigned: Option<&'a str>,
}

fn evaluate_layer(
    policy: Option<&Policy>,
    entry: Option<&super::ServerRule>,
    ev: &Evidence,
    ctx: &Ctx,
    failures: &[Diagnostic],
    signer_out: &mut Option<String>,
) -> LayerDecision {
    let trust = ctx.trust;
    let server = ev.server.as_str();
    let where_ = |loc: &super::Loc| format!(" ({loc})");
    let label = match (policy, entry) {
        (None, _) => "default policy".to_string(),
        // An entry of another name applies by the source it names, or
        // by `signed-by`.
        (Some(p), Some(e)) if e.name != server => {
            let by = match e.source.as_ref().and_then(|s| s.names(&ev.origin)) {
                Some(_) => "its source",
                None => "its signed-by",
            };
            format!("{} (entry `{}`, by {by})", p.layer.name(), e.name)
        }
        (Some(p), _) => p.layer.name().to_string(),
    };

    // What is required, and which line says so.
    let reqs = requirements_for(policy, entry, server);
    let mut require = reqs.required;
    let require_src = match reqs.source {
        RequireSource::Server(loc) => format!(
            "[[servers]] `{}` require{}",
            entry.map_or(server, |e| e.name.as_str()),
            where_(loc)
        ),
        RequireSource::Defaults(loc) => format!("[defaults] require{}", where_(loc)),
        RequireSource::BuiltIn => "the built-in `require = [\"signature\"]`".to_string(),
    };
    let mut diags: Vec<Diagnostic> = reqs
        .waived
        .iter()
        .map(|(e, w)| {
            Diagnostic::info(
                Code::ExceptionApplied,
                format!(
                    "`{}` is waived for `{server}` by the exception at {}: {}",
                    w.name(),
                    e.loc,
                    e.reason
                ),
            )
        })
        .collect();
    let signers = reqs.signers;

    let mut denials: Vec<Diagnostic> = Vec::new();
    let mut satisfied_by: Option<String> = None;

    // A pin without a signature on purpose: the signature requirement is
    // waived, unless this policy forbids unsigned pins altogether.
    let mut unsigned_by = None;
    let forbids = policy
        .and_then(|p| p.allow_unsigned.as_ref())
        .filter(|a| !a.value);
    let unsigned_forbidden = forbids.is_some();
    if let Some(reason) = ctx.unsigned {
        match forbids {
            Some(a) => denials.push(
                Diagnostic::error(
                    Code::UnsignedForbidden,
                    format!(
                        "`{server}` is pinned without a signature (--unsigned: {reason}), and `[sources] allow-unsigned = false` ({}) forbids that",
                        a.loc
                    ),
                )
                .hint("add it again with the publisher's signature (--signature FILE); or ask whoever owns that policy to allow unsigned pins"),
            ),
            None => {
                if require.contains(&Requirement::Signature) {
                    require.retain(|r| *r != Requirement::Signature);
                    unsigned_by = Some(reason);
                }
                diags.push(Diagnostic::info(
                    Code::UnsignedPinned,
                    format!("`{server}` is pinned without a signature on purpose (--unsigned): {reason}"),
                ));
            }
        }
    }

    let binding = Binding {
        policy,
        trust,
        server,
        signers,
        claims: entry.and_then(|e| e.identity.as_ref()),
    };
    if require.contains(&Requirement::Signature) {
        let mut problems = Vec::new();
        for s in ev.signatures.iter().filter(|s| s.role == Role::Signature) {
            let Ok(sg) = &s.outcome else { continue };
            // A signed statement endorses the artifact only by what it
            // says: a failed test report signed by the publisher is
            // evidence, not a signature of the artifact.
            if let Some(st) = &s.statement
                && let Err(why) = crate::provenance::endorsement(&st.predicate_type, &st.predicate)
            {
                diags.push(
                    Diagnostic::warning(
                        Code::StatementNotEndorsement,
                        format!(
                            "{}: {why}, so it is recorded and does not count as a signature of `{server}`",
                            s.file.display()
                        ),
                    )
                    .hint("pass the publisher's signature of the artifact, its SLSA provenance or a PASSED verification summary"),
                );
                continue;
            }
            match binding.vouches(sg, Signed::Signature) {
                Ok(v) => {
                    if let Vouched::Trusted { name, .. } = &v {
                        *signer_out = Some(name.clone());
                    }
                    satisfied_by = Some(v.describe());
                    break;
                }
                Err(refused) => {
                    let file = s.file.display().to_string();
                    problems.extend(
                        refused
                            .iter()
                            .map(|r| binding.diagnostic(r, sg, Signed::Signature, &file, &label)),
                    );
                }
            }
        }
        if satisfied_by.is_none() {
            if problems.is_empty() && failures.is_empty() {
                denials.push(
                    Diagnostic::error(
                        Code::SignatureMissing,
                        if ev.signatures.is_empty() {
                            format!("no signature was given, and {require_src} requires one")
                        } else {
                            format!("no signature verified, and {require_src} requires one")
                        },
                    )
                    .hint(if unsigned_forbidden {
                        "pass the publisher's signature with --signature FILE"
                    } else {
                        "pass the publisher's signature with --signature FILE; if the publisher signs nothing, `mcp-warden add NAME SOURCE --unsigned --reason TEXT` pins it as a recorded exception"
                    }),
                );
            }
            denials.extend(problems);
        }
    }
    let mut provenance_by = None;
    if require.contains(&Requirement::Provenance) {
        match judge_provenance(ev, entry, &binding, &label, &require_src) {
            Ok(by) => provenance_by = Some(by),
            Err(d) => denials.extend(d),
        }
    }
    let sbom_required = require.contains(&Requirement::Sbom)
        || entry
            .and_then(|e| e.sbom.as_ref())
            .is_some_and(|r| r.require);
    let sbom = super::sbom::judge(&super::sbom::Inputs {
        ev,
        policy,
        entry,
        required: sbom_required,
        require_src: &require_src,
        signer_ok: &|s, file| {
            binding
                .vouches(s, Signed::Sbom)
                .map(|_| ())
                .map_err(|refused| {
                    refused
                        .iter()
                        .map(|r| binding.diagnostic(r, s, Signed::Sbom, file, &label))
                        .collect()
                })
        },
        db: ctx.advisories,
        now: ctx.now,
    });
    let mut sbom_notes = Vec::new();
    for d in sbom
        .diagnostics
        .into_iter()
        .chain(ctx.advisory_db.iter().cloned())
    {
        if d.severity == Severity::Error {
            denials.push(d);
        } else {
            sbom_notes.push(d);
        }
    }
    let sbom_by = sbom.met;
    if let Some(pins) = entry.and_then(|e| e.digests.as_ref())
        && !pins.value.is_empty()
    {
        let comparable: Vec<_> = pins
            .value
            .iter()
            .filter(|d| ev.artifact.digest(d.algorithm).is_some())
            .collect();
        if !comparable
            .iter()
            .any(|d| ev.artifact.digest(d.algorithm) == Some(d))
        {
            let actual = ev
                .artifact
                .digests
                .first()
                .map(|d| d.to_string())
                .unwrap_or_default();
            denials.push(
                Diagnostic::error(
                    Code::DigestMismatch,
                    if comparable.is_empty() {
                        format!("`{server}` pins digests of another algorithm than the one given ({actual}){}", where_(&pins.loc))
                    } else {
                        format!("the artifact's digest {actual} is not one that `{server}` pins{}", where_(&pins.loc))
                    },
                )
                .hint("if this is a legitimate new release, update the pinned digest in the policy; otherwise do not run it"),
            );
        }
    }
    denials.extend(entry.and_then(|e| source_denial(e, ev)));
    denials.extend(entry.and_then(|e| version_denial(e, ev)));

    let fails = !denials.is_empty() || !failures.is_empty();
    let audit = policy.is_some_and(|p| p.mode.value == Mode::Audit);
    let rule = if fails {
        let first = denials
            .first()
            .or(failures.first())
            .map(|d| d.message.clone())
            .unwrap_or_default();
        if audit {
            format!("{label} (audit mode) would deny: {first}")
        } else {
            format!("{label} denies: {first}")
        }
    } else {
        let mut met: Vec<String> = Vec::new();
        if let Some(by) = &satisfied_by {
            met.push(format!("signature by {by}"));
        }
        if let Some(by) = &provenance_by {
            met.push(by.clone());
        }
        if let Some(by) = &sbom_by {
            met.push(by.clone());
        }
        match (met.is_empty(), unsigned_by) {
            (true, None) => format!("{label}: nothing is required of `{server}` ({require_src})"),
            (false, None) => format!("{label}: {} meets {require_src}", met.join(" and ")),
            (true, Some(r)) => {
                format!(
                    "{label}: the signature {require_src} requires is waived by --unsigned ({r})"
                )
            }
            (false, Some(r)) => format!(
                "{label}: {} meets {require_src}, its signature waived by --unsigned ({r})",
                met.join(" and ")
            ),
        }
    };
    if fails && audit {
        for d in &mut denials {
            d.severity = Severity::Warning;
        }
        denials.push(
            Diagnostic::warning(
                Code::AuditMode,
                format!("the {label} is in audit mode: `{server}` would have been denied, and is allowed"),
            )
            .hint("fix the findings above before switching the policy to `mode = \"enforce\"`"),
        );
    }
    diags.extend(denials);
    diags.extend(sbom_notes);
    LayerDecision {
        policy: match policy.map(|p| p.layer) {
            None => "default".into(),
            Some(Layer::System) => "system".into(),
            Some(Layer::User) => "user".into(),
        },
        file: policy.map(|p| p.file.clone()),
        allowed: !fails || audit,
        audit,
        rule,
        diagnostics: diags,
    }
}

/// `[[servers]] source`: the artifact must have been fetched from it.
fn source_denial(entry: &super::ServerRule, ev: &Evidence) -> Option<Diagnostic> {
    let src = entry.source.as_ref()?;
    let why = src.check(&ev.origin).err()?;
    Some(
        Diagnostic::error(
            Code::SourceNotAllowed,
            format!(
                "`{}` must come from {} ([[servers]] `{}` source at {}), and {why}",
                ev.server, src.text, entry.name, src.loc
            ),
        )
        .hint(if ev.origin.kind == crate::evidence::OriginKind::Local {
            "a local file has no source: add the server from the source the policy names (`mcp-warden add NAME SOURCE`), and verify it with `verify --server NAME`"
        } else {
            "add the server from the source the policy names; if the source moved legitimately, update `source` in the policy"
        }),
    )
}

/// `versions`: the version the artifact was fetched as (of the package
/// `source` names, else the source's own), in its ecosystem's order.
fn version_denial(entry: &super::ServerRule, ev: &Evidence) -> Option<Diagnostic> {
    let v = entry.versions.as_ref()?;
    let server = &ev.server;
    let origin = entry
        .source
        .as_ref()
        .and_then(|s| s.names(&ev.origin))
        .unwrap_or(&ev.origin);
    let Some(version) = origin.version.as_deref() else {
        return Some(
            Diagnostic::error(
                Code::VersionUnknown,
                format!(
                    "`{server}` allows only versions {} ({}), and {} has no version to check",
                    v.value,
                    v.loc,
                    origin.describe()
                ),
            )
            .hint("pin the artifact by `digests` instead, or add it from a versioned source (npm, PyPI, the MCP registry)"),
        );
    };
    match v.value.contains(scheme_of(origin.kind), version) {
        Ok(true) => None,
        Ok(false) => Some(
            Diagnostic::error(
                Code::VersionNotAllowed,
                format!(
                    "`{server}` was fetched as {}, and `versions = \"{}\"` ({}) does not allow {version}",
                    origin.describe(),
                    v.value,
                    v.loc
                ),
            )
            .hint("add an allowed version; if this release is legitimate, widen `versions` in the policy"),
        ),
        Err(why) => Some(
            Diagnostic::error(
                Code::VersionNotAllowed,
                format!(
                    "`{server}` was fetched as {}, which `versions = \"{}\"` ({}) cannot judge: {why}",
                    origin.describe(),
                    v.value,
                    v.loc
                ),
            )
            .hint("write `versions` in the version scheme of the server's source"),
        ),
    }
}
