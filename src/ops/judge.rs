//! The one path from evidence to a judgement: collect and verify the
//! evidence, apply the policy, report. `verify`, `add` and `run` all use it.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::diag::{Code, Failure, Severity};
use crate::evidence::{Evidence, Origin};
use crate::identity::IdentityMatcher;
use crate::policy::{self, PolicySet};
use crate::report::Report;
use crate::sbom::advisories::AdvisoryDb;
use crate::trust::TrustStore;
use crate::verify::{self, ArtifactRef, IdentityRule};

/// The evidence-file roles, as servers.lock records them.
pub const EVIDENCE_ROLES: [&str; 5] = [
    "signature",
    "bundle",
    "provenance",
    "sbom",
    "sbom-signature",
];

/// The evidence given for one judgement: files, keys, the identity rule in
/// cosign's words and the advisory database.
#[derive(Debug, Clone, Default)]
pub struct EvidenceRequest {
    pub signature: Vec<PathBuf>,
    pub bundle: Vec<PathBuf>,
    pub certificate_identity: Option<String>,
    pub certificate_identity_regexp: Option<String>,
    pub certificate_oidc_issuer: Option<String>,
    pub certificate_oidc_issuer_regexp: Option<String>,
    pub provenance: Vec<PathBuf>,
    pub sbom: Vec<PathBuf>,
    pub sbom_signature: Vec<PathBuf>,
    pub advisories: Option<PathBuf>,
    pub trusted_root: Option<PathBuf>,
    pub key: Vec<PathBuf>,
    pub key_name: Vec<String>,
    /// The reason of a pin without a signature on purpose (`add
    /// --unsigned --reason`, or the pinned entry's `unsigned`).
    pub unsigned: Option<String>,
    /// Where the artifact was fetched from (`add`, or the lock for a
    /// pinned server); `None` is a local file.
    pub origin: Option<Origin>,
}

impl EvidenceRequest {
    /// The files given for `role` (one of [`EVIDENCE_ROLES`]).
    pub fn files_mut(&mut self, role: &str) -> Option<&mut Vec<PathBuf>> {
        Some(match role {
            "signature" => &mut self.signature,
            "bundle" => &mut self.bundle,
            "provenance" => &mut self.provenance,
            "sbom" => &mut self.sbom,
            "sbom-signature" => &mut self.sbom_signature,
            _ => return None,
        })
    }

    /// Every evidence file with its role, in [`EVIDENCE_ROLES`] order.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, &PathBuf)> {
        [
            &self.signature,
            &self.bundle,
            &self.provenance,
            &self.sbom,
            &self.sbom_signature,
        ]
        .into_iter()
        .zip(EVIDENCE_ROLES)
        .flat_map(|(list, role)| list.iter().map(move |p| (role, p)))
    }
}

/// The evidence and the report of one judgement.
pub struct Judgement {
    pub evidence: Evidence,
    pub report: Report,
}

/// Verifies the evidence about `artifact` and judges it under `policies`;
/// `identity` is the rule [`identity_rule`] made of the same request.
pub fn judge(
    artifact: ArtifactRef,
    server: Option<&str>,
    ev: &EvidenceRequest,
    identity: Option<IdentityRule>,
    (trust, policies, db): (&TrustStore, &PolicySet, Option<&AdvisoryDb>),
) -> Result<Judgement, Failure> {
    let evidence = collect(artifact, server, ev, identity, trust)?;
    let report = decide(&evidence, ev, (trust, policies), db);
    Ok(Judgement { evidence, report })
}

/// The first half of [`judge`]: the evidence, verified, not yet judged.
pub fn collect(
    artifact: ArtifactRef,
    server: Option<&str>,
    ev: &EvidenceRequest,
    identity: Option<IdentityRule>,
    trust: &TrustStore,
) -> Result<Evidence, Failure> {
    let req = verify::Request {
        artifact,
        signatures: ev.signature.clone(),
        bundles: ev.bundle.clone(),
        keys: ev.key.clone(),
        key_names: ev.key_name.clone(),
        server: server.map(str::to_string),
        identity,
        trusted_root: ev.trusted_root.clone(),
        provenance: ev.provenance.clone(),
        sboms: ev.sbom.clone(),
        sbom_signatures: ev.sbom_signature.clone(),
    };
    let mut evidence = verify::collect(&req, trust).map_err(Failure::from)?;
    evidence.origin = ev.origin.clone().unwrap_or_default();
    Ok(evidence)
}

/// `add` keeps the evidence files, not the command line that vouched for
/// them: a key given with --key, the identity flags and --trusted-root
/// would hold at `add` and never at `run`, which judges under the trust
/// store alone. Refused before anything is fetched.
pub fn refuse_unkept(ev: &EvidenceRequest, command: &str) -> Result<(), Failure> {
    let mut given = Vec::new();
    if !ev.key.is_empty() {
        given.push("--key");
    }
    if ev.certificate_identity.is_some() || ev.certificate_identity_regexp.is_some() {
        given.push("--certificate-identity");
    }
    if ev.certificate_oidc_issuer.is_some() || ev.certificate_oidc_issuer_regexp.is_some() {
        given.push("--certificate-oidc-issuer");
    }
    if ev.trusted_root.is_some() {
        given.push("--trusted-root");
    }
    if given.is_empty() {
        return Ok(());
    }
    Err(Failure::input(
        Code::EvidenceNotKept,
        format!(
            "`{command}` does not keep {}: `run` judges the pinned server under the trust store only, so a pin that rests on them could never run",
            given.join(", ")
        ),
        Some("trust the signer first (`mcp-warden trust add-key FILE --name NAME --scope GLOB`, or `mcp-warden trust add-identity ...`), then add without these flags; `verify` accepts them for a one-off check".into()),
    ))
}

/// The second half of [`judge`]: the policy's verdict on the evidence,
/// with the advisory database [`load_advisories`] read for the request.
pub fn decide(
    evidence: &Evidence,
    ev: &EvidenceRequest,
    (trust, policies): (&TrustStore, &PolicySet),
    db: Option<&AdvisoryDb>,
) -> Report {
    let decision = policy::evaluate(policies, evidence, trust, db, ev.unsigned.as_deref());
    Report::from_decision(evidence, &decision)
}

/// The OSV database in force: every policy layer's `[advisories] db`
/// (each relative to its policy file) and `--advisories`, loaded together.
/// A database given on the command line adds to the policy's and never
/// replaces it; each one that cannot be used is an error naming it.
pub fn load_advisories(
    given: Option<&Path>,
    policies: &PolicySet,
) -> Result<Option<AdvisoryDb>, Failure> {
    let mut paths = policies.advisories_dbs();
    paths.extend(given.map(Path::to_path_buf));
    // One database named twice (a layer's and --advisories) is read once,
    // or each of its matches would be reported twice.
    let mut seen = Vec::new();
    paths.retain(|p| {
        let id = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        let new = !seen.contains(&id);
        seen.push(id);
        new
    });
    let mut dbs = Vec::with_capacity(paths.len());
    for path in &paths {
        dbs.push(AdvisoryDb::load(path).map_err(|e| {
            Failure::input(
                Code::InputInvalid,
                format!("cannot use the advisory database {}: {e}", path.display()),
                Some("pass a directory of OSV JSON files or an ecosystem's all.zip".into()),
            )
        })?);
    }
    Ok(match dbs.len() {
        0 => None,
        1 => dbs.pop(),
        _ => Some(AdvisoryDb::merge(dbs)),
    })
}

/// The cosign-style identity flags as one rule; the command line ensures
/// both halves come together.
pub fn identity_rule(a: &EvidenceRequest) -> Result<Option<IdentityRule>, Failure> {
    let matcher = |exact: &Option<String>,
                   re: &Option<String>,
                   flag: &str|
     -> Result<Option<IdentityMatcher>, Failure> {
        Ok(match (exact, re) {
            (Some(e), _) => Some(IdentityMatcher::Exact(e.clone())),
            (None, Some(r)) => Some(IdentityMatcher::regexp(r).map_err(|e| {
                Failure::input(
                    Code::Usage,
                    format!("--{flag}-regexp: {e}"),
                    Some("write a regular expression in Rust regex syntax".into()),
                )
            })?),
            (None, None) => None,
        })
    };
    let identity = matcher(
        &a.certificate_identity,
        &a.certificate_identity_regexp,
        "certificate-identity",
    )?;
    let issuer = matcher(
        &a.certificate_oidc_issuer,
        &a.certificate_oidc_issuer_regexp,
        "certificate-oidc-issuer",
    )?;
    Ok(match (identity, issuer) {
        (Some(identity), Some(issuer)) => Some(IdentityRule { identity, issuer }),
        _ => None,
    })
}

pub fn load_trust(ctx: &Context) -> Result<TrustStore, Failure> {
    TrustStore::load(ctx).map_err(|e| {
        // Whatever is wrong inside it, the store as a whole cannot be used.
        let mut f = Failure::from(e);
        f.diagnostics[0].code = Code::TrustStoreInvalid;
        f
    })
}

pub fn load_policies(ctx: &Context, trust: &TrustStore) -> Result<PolicySet, Failure> {
    let mut set = load_policy_files(ctx, trust)?;
    // Entries that miss a pinned server by case only; a lock that cannot
    // be read is reported by whoever needs it.
    if let Ok(lock) = crate::lock::Lock::load(&ctx.config_dir.join("servers.lock")) {
        let names: Vec<&str> = lock.servers.keys().map(String::as_str).collect();
        let w = policy::name_case_clashes(&set.layers, &names);
        set.warnings.extend(w);
    }
    Ok(set)
}

/// Adds the case-only clashes of the policies' entries with `name`, the
/// server being judged (not pinned yet, or pinned and said already).
pub fn warn_name_case(set: &mut PolicySet, name: &str) {
    for d in policy::name_case_clashes(&set.layers, &[name]) {
        if !set.warnings.iter().any(|w| w.message == d.message) {
            set.warnings.push(d);
        }
    }
}

fn load_policy_files(ctx: &Context, trust: &TrustStore) -> Result<PolicySet, Failure> {
    PolicySet::load(ctx, trust).map_err(|e| match e {
        policy::PolicyError::Read(r) => Failure::input(
            Code::PolicyUnreadable,
            format!("cannot read the policy: {r}"),
            Some("check the --policy path; `mcp-warden policy init` writes a template".into()),
        ),
        policy::PolicyError::Invalid { diagnostics, .. } => Failure {
            diagnostics: diagnostics
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect(),
            exit: 2,
        },
    })
}
