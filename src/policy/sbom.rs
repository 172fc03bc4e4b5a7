//! The SBOM part of a decision: which bills of materials count (bound to
//! the artifact, signed unless the policy says otherwise), and what their
//! contents may not hold (denied components, licences, advisories, age).

use crate::diag::{Code, Diagnostic, Severity};
use crate::evidence::{ArtifactInfo, Evidence, SbomEvidence};
use crate::sbom::advisories::{self, AdvisoryDb};
use crate::sbom::license::{self, LicenseVerdict};
use crate::sbom::package;
use crate::sbom::{Component, Sbom};
use packageurl::PackageUrl;

use super::range::Scheme;
use super::{Policy, SbomRules, ServerRule};

/// Findings of one kind beyond this many are counted, not listed: a
/// 100,000-component SBOM must not print 100,000 lines.
const MAX_LISTED: usize = 20;

pub(super) const SBOM_UNSIGNED_HINT: &str = "pass the SBOM's signature by a signer trusted for this server with --sbom-signature FILE, or the SBOM as a signed attestation (predicate https://cyclonedx.org/bom or https://spdx.dev/Document); or set `signed = false` in [servers.sbom]";

pub(super) struct Judged {
    /// How the requirement was met, when it was.
    pub met: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether a signer of the SBOM file named by the `&str` counts; why not.
pub(super) type SignerCheck<'a> =
    dyn Fn(&crate::evidence::Signer, &str) -> Result<(), Vec<Diagnostic>> + 'a;

/// Everything one layer's SBOM judgement needs.
pub(super) struct Inputs<'a> {
    pub ev: &'a Evidence,
    pub policy: Option<&'a Policy>,
    pub entry: Option<&'a ServerRule>,
    pub required: bool,
    pub require_src: &'a str,
    /// Whether a signer of the SBOM `file` (an attestation's, or a
    /// detached signature's) counts for this server, by the rule of every
    /// signed thing ([`super::vouch::Binding`]); why not, as diagnostics.
    pub signer_ok: &'a SignerCheck<'a>,
    pub db: Option<&'a AdvisoryDb>,
    pub now: jiff::Timestamp,
}

pub(super) fn judge(i: &Inputs) -> Judged {
    let Inputs {
        ev,
        policy,
        entry,
        required,
        require_src,
        signer_ok,
        db,
        now,
    } = *i;
    let rules = entry.and_then(|e| e.sbom.as_ref());
    let signed_required = rules.is_none_or(|r| r.signed);
    // Only the package the artifact was really fetched from binds an SBOM
    // by purl: a policy's `source` is a rule, not a fact about a file.
    let source = package_identity(&ev.origin);
    let mut diags = Vec::new();
    let mut met = None;
    // Which [advisories] ignores some SBOM needed; None until one SBOM
    // was checked against the database.
    let mut ignores_used: Option<Vec<bool>> = None;
    for s in &ev.sboms {
        let name = s.file.display().to_string();
        let sbom = match &s.sbom {
            Ok(sbom) => sbom,
            Err(d) => {
                let mut d = d.clone();
                d.message = format!("{name}: {}", d.message);
                diags.push(d);
                continue;
            }
        };
        let how = match binding(s, sbom, &ev.artifact, source.as_ref()) {
            Binding::Bound(how) => Some(how),
            Binding::Conflict(why) => {
                diags.push(
                    Diagnostic::error(Code::SbomBindingConflict, format!("{name}: {why}"))
                        .hint("pass the SBOM made for exactly this artifact: every hash of its top component must be the artifact's"),
                );
                continue;
            }
            Binding::None => None,
        };
        let Some(how) = how else {
            if sbom.top.is_none() && !s.subject_bound {
                diags.push(
                    Diagnostic::error(
                        Code::SbomNotBound,
                        format!(
                            "{name}: the SBOM names no top component (CycloneDX `metadata.component`, SPDX `documentDescribes`), so nothing ties it to this artifact"
                        ),
                    )
                    .hint("pass the SBOM made for this build, with its root component (cyclonedx-py: --pyproject; cyclonedx-npm and syft write one)"),
                );
                continue;
            }
            diags.push(
                Diagnostic::error(
                    Code::SbomNotBound,
                    format!(
                        "{name}: the SBOM describes {}, not this artifact ({})",
                        describe(sbom.top.as_ref()),
                        ev.artifact.digests.first().map(|d| d.to_string()).unwrap_or_default()
                    ),
                )
                .hint("pass the SBOM made for this build: its top component must carry the artifact's hash, or the purl of the package it was fetched from (`add` from its source)"),
            );
            continue;
        };
        // An attestation's signer, or the signer of any detached signature
        // that verified over the file, trusted as a signature's would be.
        let mut refusals = Vec::new();
        let signed = s.signers().any(|sg| match signer_ok(sg, &name) {
            Ok(()) => true,
            Err(d) => {
                refusals.extend(d);
                false
            }
        });
        let under = Under {
            rules,
            required,
            source_purl: source.as_ref().map(|(p, _, _)| p.clone()),
        };
        let content = judge_content(&name, sbom, &under, policy, db, now, &mut ignores_used);
        let clean = content.iter().all(|d| d.severity != Severity::Error);
        diags.extend(content);
        if signed_required && !signed {
            if required && refusals.is_empty() {
                diags.push(
                    Diagnostic::error(
                        Code::SbomUnsigned,
                        format!(
                            "{name}: the SBOM is a loose file, and the policy requires a signed one"
                        ),
                    )
                    .hint(SBOM_UNSIGNED_HINT),
                );
            } else if required {
                // Each signer refused with its own reason, by the codes
                // a signature's signer would get.
                diags.extend(refusals);
            }
            continue;
        }
        if clean && met.is_none() {
            met = Some(format!(
                "SBOM {name} ({} components, bound by {how})",
                sbom.components.len()
            ));
        }
    }
    // An ignore is stale only when no SBOM of this run needed it.
    let ignores = policy
        .and_then(|p| p.advisories.as_ref())
        .map(|a| a.ignore.as_slice())
        .unwrap_or_default();
    for ((ig, loc), used) in ignores.iter().zip(ignores_used.unwrap_or_default()) {
        if !used {
            let mut d = Diagnostic::warning(
                Code::AdvisoryIgnoreUnused,
                format!(
                    "the ignore for {} matched no advisory of any component ({})",
                    ig.id, ig.reason
                ),
            )
            .hint("remove it: a stale ignore would silently accept a future match");
            d.location = Some(loc.to_string());
            diags.push(d);
        }
    }
    if required && met.is_none() && diags.iter().all(|d| d.severity != Severity::Error) {
        diags.push(
            Diagnostic::error(
                Code::EvidenceMissing,
                format!("{require_src} requires an SBOM, and none about this artifact was given"),
            )
            .hint("pass the SBOM with --sbom FILE"),
        );
    }
    Judged {
        met,
        diagnostics: diags,
    }
}

fn describe(c: Option<&Component>) -> String {
    match c {
        None => "no top component".into(),
        Some(c) => match (&c.purl, &c.version) {
            (Some(p), _) => format!("`{p}`"),
            (None, Some(v)) => format!("`{} {v}`", c.name),
            (None, None) => format!("`{}`", c.name),
        },
    }
}

enum Binding {
    /// How it is bound.
    Bound(String),
    /// It would be bound, but a hash of its top component says it
    /// describes another artifact.
    Conflict(String),
    None,
}

/// How an SBOM is tied to the artifact, if it is: an attestation whose
/// subject is the artifact, a top component carrying the artifact's hash,
/// or the purl (or name and version) of the server's pinned source. Every
/// top-component hash of an algorithm the artifact was hashed with must
/// agree: one match does not outvote a contradiction.
fn binding(
    s: &SbomEvidence,
    sbom: &Sbom,
    artifact: &ArtifactInfo,
    source: Option<&(String, String, String)>,
) -> Binding {
    let top = sbom.top.as_ref();
    let mut matched = None;
    let mut contradicted = None;
    for (alg, hex) in top.map(|t| t.hashes.as_slice()).unwrap_or_default() {
        let Some(d) = artifact
            .digests
            .iter()
            .find(|d| d.algorithm.name() == alg.as_str())
        else {
            continue;
        };
        if hex.eq_ignore_ascii_case(&d.hex()) {
            matched.get_or_insert_with(|| format!("its top component's {alg} hash"));
        } else {
            contradicted.get_or_insert_with(|| format!("{alg} {hex}"));
        }
    }
    let how = if s.subject_bound {
        Some("the attestation's subject".to_string())
    } else {
        matched.or_else(|| by_source(top?, source?))
    };
    match (how, contradicted) {
        (Some(how), None) => Binding::Bound(how),
        (Some(how), Some(other)) => Binding::Conflict(format!(
            "the SBOM is bound by {how}, but its top component also carries {other}, which is not this artifact's"
        )),
        (None, _) => Binding::None,
    }
}

/// The purl (or name and version) of the package the artifact was
/// fetched from.
fn by_source(top: &Component, source: &(String, String, String)) -> Option<String> {
    let (want_purl, want_name, want_version) = source;
    if let Some(p) = &top.purl
        && same_purl(p, want_purl)
    {
        return Some(format!("its top component's purl {p}"));
    }
    if top.name == *want_name && top.version.as_deref() == Some(want_version.as_str()) {
        return Some(format!("its top component {want_name} {want_version}"));
    }
    None
}

/// (purl, name, version) of the npm or PyPI package the artifact was
/// fetched from (itself, or what a registry source resolved to).
fn package_identity(origin: &crate::evidence::Origin) -> Option<(String, String, String)> {
    let purl = origin.purl()?;
    let o = origin.chain().find(|o| {
        matches!(
            o.kind,
            crate::evidence::OriginKind::Npm | crate::evidence::OriginKind::Pypi
        )
    })?;
    Some((purl, o.name.clone()?, o.version.clone()?))
}

fn same_purl(a: &str, b: &str) -> bool {
    match (
        a.parse::<packageurl::PackageUrl>(),
        b.parse::<packageurl::PackageUrl>(),
    ) {
        (Ok(a), Ok(b)) => {
            a.ty() == b.ty()
                && a.namespace() == b.namespace()
                && a.name() == b.name()
                && a.version() == b.version()
        }
        _ => false,
    }
}

/// What one SBOM's contents are judged under.
struct Under<'a> {
    rules: Option<&'a SbomRules>,
    /// Whether the policy requires an SBOM of this server, which makes a
    /// component without identity deny unless `unidentified` says.
    required: bool,
    /// The purl of the server's pinned source: the server's identity when
    /// the top component names none of its own.
    source_purl: Option<String>,
}

fn judge_content(
    name: &str,
    sbom: &Sbom,
    under: &Under,
    policy: Option<&Policy>,
    db: Option<&AdvisoryDb>,
    now: jiff::Timestamp,
    ignores_used: &mut Option<Vec<bool>>,
) -> Vec<Diagnostic> {
    let rules = under.rules;
    let mut out = rules.map(|r| age(name, sbom, r, now)).unwrap_or_default();
    let (threshold, ignores): (advisories::Severity, Vec<advisories::Ignore>) =
        match policy.and_then(|p| p.advisories.as_ref()) {
            Some(a) => (
                a.severity,
                a.ignore.iter().map(|(i, _)| i.clone()).collect(),
            ),
            None => (advisories::Severity::High, Vec::new()),
        };
    // One walk, one purl parse per identity, for the deny rules and the
    // advisories alike; nothing is kept per component.
    let deny = rules.map(|r| DenyIndex::new(&r.deny_components));
    let mut denied = Listed::new(Code::ComponentDenied, name, "denied components");
    let mut conflicts = Listed::new(
        Code::ComponentVersionConflict,
        name,
        "components whose version and purl disagree",
    );
    // A component without a purl escapes the rules that need one: purl
    // deny rules and advisories. Names still meet the name rules.
    let needs_purl = db.is_some() || deny.as_ref().is_some_and(|d| !d.by_purl.is_empty());
    let mut unidentified = Listed::new(
        Code::ComponentUnidentified,
        name,
        "components without a package identity",
    );
    let unidentified_rule = rules
        .and_then(|r| r.unidentified)
        .unwrap_or(if under.required {
            super::Unidentified::Deny
        } else {
            super::Unidentified::Warn
        });
    if unidentified_rule == super::Unidentified::Warn {
        unidentified = unidentified.warn();
    }
    let mut matcher = db.map(|db| advisories::Matcher::new(db, threshold, &ignores));
    // The server itself first: it is judged like every part of it, by its
    // pinned source's purl when it names none.
    let source_purl = sbom
        .top
        .as_ref()
        .filter(|t| t.purl.is_none())
        .and(under.source_purl.as_ref());
    for (i, c) in sbom.top.iter().chain(&sbom.components).enumerate() {
        let fallback = source_purl.filter(|_| i == 0);
        let mut any = false;
        for purl in c.purl.iter().chain(&c.also).chain(fallback) {
            let Ok(package) = purl.parse::<PackageUrl>() else {
                continue;
            };
            any = true;
            let scheme = Scheme::of(package.ty());
            // The purl says which release this is; a `version` field that
            // says otherwise is a finding, and the purl is judged.
            let version = match (package.version(), c.version.as_deref()) {
                (Some(p), Some(f)) => {
                    if !same_version(scheme, p, f) {
                        conflicts.push(|| {
                            format!(
                                "`{}` says version {f}, its purl `{purl}` says {p}; judged as {p}",
                                c.name
                            )
                        });
                    }
                    Some(p)
                }
                (p, f) => p.or(f),
            };
            if let Some(ix) = &deny {
                ix.deny(c, Some((purl, &package)), version, &mut denied);
            }
            if let Some(m) = &mut matcher {
                m.check(advisories::Query {
                    purl,
                    package: Some(&package),
                    version,
                });
            }
        }
        if !any {
            if let Some(ix) = &deny {
                ix.deny(c, None, c.version.as_deref(), &mut denied);
            }
            if needs_purl {
                unidentified.push(|| {
                    format!(
                        "{} has no valid purl, so no advisory and no purl rule can judge it",
                        describe(Some(c))
                    )
                });
            }
        }
    }
    out.extend(
        conflicts.finish("regenerate the SBOM: a component's `version` must be its purl's version"),
    );
    out.extend(unidentified.finish(
        "give every component a purl (pkg:TYPE/NAME@VERSION), or set `unidentified = \"warn\"` in [servers.sbom]",
    ));
    if let Some(r) = rules {
        out.extend(
            denied
                .finish("remove the component, or update the rule if the denial no longer applies"),
        );
        if let Some(lp) = &r.licenses {
            out.extend(licences(name, sbom, lp));
        }
    }
    if let Some(m) = matcher {
        let f = m.finish();
        out.extend(advised(name, &f));
        // Reported by `judge` once every SBOM was checked.
        let used = ignores_used.get_or_insert_with(|| vec![false; ignores.len()]);
        for (u, ig) in used.iter_mut().zip(&ignores) {
            if !f.unused_ignores.iter().any(|x| std::ptr::eq(*x, ig)) {
                *u = true;
            }
        }
    }
    out
}

/// Whether two spellings name one version: the same text, or equal in the
/// ecosystem's order (`1.0` and `1.0.0` under PEP 440, `v1.2.3` and
/// `1.2.3` under SemVer).
fn same_version(scheme: Option<Scheme>, a: &str, b: &str) -> bool {
    a.trim() == b.trim() || super::range::equal(scheme, a, b)
}

/// A component as one of its purls names it, with the name when the purl
/// does not show it.
fn identify(c: &Component, purl: &str) -> String {
    if purl.contains(c.name.as_str()) {
        format!("`{purl}`")
    } else {
        format!("`{purl}` (`{}`)", c.name)
    }
}

/// `max-age`.
fn age(name: &str, sbom: &Sbom, r: &SbomRules, now: jiff::Timestamp) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some((text, secs)) = &r.max_age {
        match sbom.created.as_deref().and_then(|c| c.parse::<jiff::Timestamp>().ok()) {
            None => out.push(
                Diagnostic::error(Code::SbomStale, format!("{name}: the SBOM does not say when it was made, and `max-age = \"{text}\"` needs that"))
                    .hint("regenerate the SBOM with a creation time (CycloneDX metadata.timestamp, SPDX creationInfo.created)"),
            ),
            Some(t) => {
                let age = now.as_second().saturating_sub(t.as_second());
                // A day of clock skew is tolerated; a date further ahead
                // is not a fresh SBOM but a wrong (or forged) one.
                if age < -86_400 {
                    out.push(
                        Diagnostic::error(Code::SbomStale, format!("{name}: the SBOM says it was made {t}, in the future"))
                            .hint("check the generator's clock and regenerate the SBOM"),
                    );
                } else if age > *secs as i64 {
                    out.push(
                        Diagnostic::error(Code::SbomStale, format!("{name}: the SBOM was made {t}, more than {text} ago"))
                            .hint("regenerate the SBOM for this build"),
                    );
                }
            }
        }
    }
    out
}

/// Licence allow and deny lists.
fn licences(name: &str, sbom: &Sbom, lp: &license::LicensePolicy) -> Vec<Diagnostic> {
    let mut denied = Listed::new(Code::LicenseDenied, name, "components with denied licences");
    let mut unknown = Listed::new(
        Code::LicenseUnknown,
        name,
        "components with unknown licences",
    );
    // Thousands of components share a handful of expressions.
    let mut verdicts: std::collections::HashMap<Option<&str>, LicenseVerdict> =
        std::collections::HashMap::new();
    for c in sbom.top.iter().chain(&sbom.components) {
        let key = c.licenses.as_deref();
        let verdict = verdicts
            .entry(key)
            .or_insert_with(|| license::evaluate(key, lp));
        match verdict {
            LicenseVerdict::Allowed => {}
            LicenseVerdict::Denied { reason } => {
                denied.push(|| format!("{}: {reason}", describe(Some(c))))
            }
            LicenseVerdict::Unknown { reason } => {
                unknown.push(|| format!("{}: {reason}", describe(Some(c))))
            }
        }
    }
    let mut out =
        denied.finish("replace the component, or ask for a licence exception in the policy");
    out.extend(unknown.warn().finish(
        "check the component's licence by hand; `noassertion` sets what missing licences do",
    ));
    out
}

/// Known vulnerabilities.
fn advised(name: &str, f: &advisories::Findings) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut vuln = Listed::new(Code::VulnerableComponent, name, "vulnerable components");
    for d in &f.denied {
        vuln.push(|| {
            let sev = d
                .matched
                .advisory
                .severity
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_else(|| "unrated".into());
            format!(
                "{} is affected by {} ({sev}): {}",
                with_version(&d.purl, d.version.as_deref()),
                d.matched.advisory.id,
                d.matched.why
            )
        });
    }
    out.extend(vuln.finish("upgrade the component to a fixed version, or ignore the advisory in [advisories] with a reason"));
    // An advisory names the package and the version cannot be placed:
    // fail closed.
    let mut unknown = Listed::new(
        Code::AdvisoryUnknown,
        name,
        "components whose advisories could not be decided",
    );
    for d in &f.unknown {
        unknown.push(|| {
            format!(
                "{}: {} ({})",
                with_version(&d.purl, d.version.as_deref()),
                d.matched.advisory.id,
                d.matched.why
            )
        });
    }
    out.extend(unknown.finish("check by hand whether this version is affected, then ignore the advisory in [advisories] with a reason if it is not"));
    let mut unchecked = Listed::new(
        Code::AdvisoryUnknown,
        name,
        "components the advisory database cannot check",
    );
    for u in &f.unchecked {
        unchecked.push(|| format!("{}: {}", u.purl, u.reason));
    }
    out.extend(
        unchecked
            .warn()
            .finish("these components were not checked against advisories"),
    );
    out
}

/// The purl, with the version when the purl does not carry it already.
fn with_version(purl: &str, version: Option<&str>) -> String {
    match version {
        Some(v) if !purl.contains('@') => format!("{purl}@{v}"),
        _ => purl.to_string(),
    }
}

/// Deny rules indexed by package identity (ecosystem and name as the
/// ecosystem compares it, [`package::purl_key`]), so each component is
/// looked up, not compared with every rule (100,000 components × 50 rules
/// must stay milliseconds). Rules by name alone are indexed by the loosest
/// normalisation and then compared under the component's ecosystem.
struct DenyIndex<'a> {
    by_purl: std::collections::HashMap<String, Vec<&'a super::DenyComponent>>,
    by_name: std::collections::HashMap<String, Vec<&'a super::DenyComponent>>,
}

impl<'a> DenyIndex<'a> {
    fn new(rules: &'a [super::DenyComponent]) -> Self {
        let mut ix = DenyIndex {
            by_purl: Default::default(),
            by_name: Default::default(),
        };
        for d in rules {
            // `policy check` has refused purls that do not parse.
            if let Some(k) = d
                .purl
                .as_deref()
                .and_then(|p| p.parse::<PackageUrl>().ok())
                .map(|p| package::purl_key(&p))
            {
                ix.by_purl.entry(k).or_default().push(d);
            }
            if let Some(n) = d.name.as_deref() {
                ix.by_name.entry(package::loose(n)).or_default().push(d);
            }
        }
        ix
    }

    /// Lists in `denied` each rule that denies `c` at `version`, as
    /// `package` (one of its purls, and that purl parsed) names it, or by
    /// its name alone.
    fn deny(
        &self,
        c: &Component,
        package: Option<(&str, &PackageUrl)>,
        version: Option<&str>,
        denied: &mut Listed,
    ) {
        let scheme = package.and_then(|(_, p)| Scheme::of(p.ty()));
        for d in self.candidates(c, package.map(|(_, p)| p)) {
            if let Some(why) = version_match(scheme, version, d) {
                denied.push(|| {
                    let who = match package {
                        Some((purl, _)) => identify(c, purl),
                        None => describe(Some(c)),
                    };
                    format!(
                        "{who} is denied by the rule at {}: {} ({why})",
                        d.loc, d.reason
                    )
                });
            }
        }
    }

    /// The rules that name `c`'s package (as `package`, one of its purls,
    /// names it; or by the component's name alone), each once. A name rule
    /// is checked against the component's name and its purl's name: either
    /// may be the one an attacker left innocent.
    fn candidates(
        &self,
        c: &Component,
        package: Option<&PackageUrl>,
    ) -> Vec<&'a super::DenyComponent> {
        let mut out: Vec<&super::DenyComponent> = Vec::new();
        if !self.by_purl.is_empty()
            && let Some(p) = package
            && let Some(v) = self.by_purl.get(&package::purl_key(p))
        {
            out.extend(v);
        }
        if self.by_name.is_empty() {
            return out;
        }
        let eco = package.and_then(|p| package::osv_ecosystem(p.ty()));
        let purl_name = package.map(|p| p.name()).filter(|n| *n != c.name);
        for n in std::iter::once(c.name.as_str()).chain(purl_name) {
            let rules = if package::is_loose(n) {
                self.by_name.get(n)
            } else {
                self.by_name.get(&package::loose(n))
            };
            let Some(v) = rules else {
                continue;
            };
            for d in v {
                let same = match (eco, d.name.as_deref()) {
                    (Some(e), Some(rule)) => {
                        package::normalise_name(e, rule) == package::normalise_name(e, n)
                    }
                    // No ecosystem: the loose match stands (the safe side).
                    _ => true,
                };
                if same && !out.iter().any(|o| std::ptr::eq(*o, *d)) {
                    out.push(d);
                }
            }
        }
        out
    }
}

/// Why a component at `version` (ordered by `scheme`), whose package rule
/// `d` names, is denied by it.
fn version_match(
    scheme: Option<Scheme>,
    version: Option<&str>,
    d: &super::DenyComponent,
) -> Option<String> {
    let Some(range) = &d.versions else {
        return Some("every version".into());
    };
    let Some(v) = version else {
        return Some(format!(
            "the component has no version to compare with {range}"
        ));
    };
    match range.contains(scheme, v) {
        Ok(true) => Some(format!("version {v} matches {range}")),
        Ok(false) => None,
        // Fail closed: a version that cannot be compared is denied.
        Err(why) => Some(format!(
            "version `{v}` cannot be compared with {range}: {why}"
        )),
    }
}

/// Collects findings of one kind, lists the first few and counts the rest.
struct Listed {
    code: Code,
    file: String,
    what: &'static str,
    severity: Severity,
    items: Vec<String>,
    count: usize,
}

impl Listed {
    fn new(code: Code, file: &str, what: &'static str) -> Self {
        Listed {
            code,
            file: file.to_string(),
            what,
            severity: Severity::Error,
            items: Vec::new(),
            count: 0,
        }
    }

    fn warn(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Counts a finding; only the listed ones are worded (a large SBOM
    /// may have thousands).
    fn push(&mut self, item: impl FnOnce() -> String) {
        self.count += 1;
        if self.items.len() < MAX_LISTED {
            self.items.push(item());
        }
    }

    fn finish(self, hint: &str) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = self
            .items
            .iter()
            .map(|i| {
                Diagnostic::new(self.code, self.severity, format!("{}: {i}", self.file)).hint(hint)
            })
            .collect();
        if self.count > self.items.len() {
            out.push(Diagnostic::new(
                self.code,
                self.severity,
                format!(
                    "{}: and {} more {}",
                    self.file,
                    self.count - self.items.len(),
                    self.what
                ),
            ));
        }
        out
    }
}

/// The SBOM `add` generated of the tree it resolved for `server`, judged
/// by the content rules of every layer in force (denied components,
/// licences, advisories): what the layers deny are errors, except in a
/// layer in audit mode, where they are warnings. Nothing binds or signs
/// this SBOM: mcp-warden made it from the verified tree.
pub fn judge_resolved(
    set: &super::PolicySet,
    subject: &super::Subject,
    sbom: &Sbom,
    db: Option<&AdvisoryDb>,
) -> Vec<Diagnostic> {
    let now = jiff::Timestamp::now();
    let name = "the resolved tree's SBOM";
    // Each layer under every entry that applies (by name or by source).
    let mut layers: Vec<(Option<&Policy>, Option<&ServerRule>)> = Vec::new();
    if set.is_default() {
        layers.push((None, None));
    }
    for p in &set.layers {
        let entries = p.rules_for(subject);
        if entries.is_empty() {
            layers.push((Some(p), None));
        }
        layers.extend(entries.into_iter().map(|e| (Some(p), Some(e))));
    }
    let mut out: Vec<Diagnostic> = Vec::new();
    for (policy, entry) in layers {
        let rules = entry.and_then(|e| e.sbom.as_ref());
        // No `max-age` here: the document was made just now.
        let rules = rules.map(|r| SbomRules {
            max_age: None,
            ..r.clone()
        });
        let audit = policy.is_some_and(|p| p.mode.value == super::Mode::Audit);
        // mcp-warden made this SBOM with a purl for every package: one
        // without is judged as under a required SBOM.
        let under = Under {
            rules: rules.as_ref(),
            required: true,
            source_purl: None,
        };
        for mut d in judge_content(name, sbom, &under, policy, db, now, &mut None) {
            if audit && d.severity == Severity::Error {
                d.severity = Severity::Warning;
            }
            match out
                .iter_mut()
                .find(|e| e.code == d.code && e.message == d.message)
            {
                Some(e) => e.severity = e.severity.max(d.severity),
                None => out.push(d),
            }
        }
    }
    out
}
