//! `mcp-warden verify`.

use anyhow::Result;

use super::args::{EvidenceArgs, VerifyArgs};
use super::{Failure, Global};
use crate::diag::Code;
use crate::policy::{self, PolicySet};
use crate::report::Report;
use crate::sbom::advisories::AdvisoryDb;
use crate::source::ArtifactKind;
use crate::verify::{self, ArtifactRef, InputError};
use crate::{identity::IdentityMatcher, trust::TrustStore};

pub fn run(g: &Global, a: &VerifyArgs) -> Result<u8> {
    let ctx = g.context()?;
    let trust = load_trust(&ctx)?;
    let policies = load_policies(&ctx, &trust)?;
    let identity = identity_rule(&a.evidence)?;
    let mut ev = a.evidence.clone();
    let artifact: ArtifactRef = match &a.artifact {
        Some(text) => text.parse().map_err(|e| {
            Failure::input(
                Code::InputInvalid,
                format!("{e}"),
                Some("give a file path, or sha256:<64 hex> / sha512:<128 hex>".into()),
            )
        })?,
        // clap requires --server without an artifact.
        None => pinned(&ctx, a.server.as_deref().unwrap_or_default(), &mut ev, true)?,
    };
    let req = verify::Request {
        bundles: ev.bundle.clone(),
        provenance: ev.provenance.clone(),
        sboms: ev.sbom.clone(),
        sbom_signatures: ev.sbom_signature.clone(),
        identity,
        trusted_root: ev.trusted_root.clone(),
        artifact,
        signatures: ev.signature.clone(),
        keys: ev.key.clone(),
        key_names: ev.key_name.clone(),
        server: a.server.clone(),
    };
    let evidence = verify::collect(&req, &trust).map_err(input_failure)?;
    let db = load_advisories(ev.advisories.as_deref(), &policies)?;
    let decision = policy::evaluate(&policies, &evidence, &trust, db.as_ref());
    let report = Report::from_decision(&evidence, &decision);
    if g.json() {
        g.out(&report.to_json());
    } else {
        g.out(&report.to_human(g.cli.quiet, a.summary));
    }
    Ok(report.verdict.exit_code())
}

/// The artifact `add` pinned for `server`, re-hashed in the cache; when no
/// evidence file was given, the evidence `add` kept goes into `ev`.
pub(super) fn pinned(
    ctx: &crate::context::Context,
    server: &str,
    ev: &mut EvidenceArgs,
    rehash_artifact: bool,
) -> Result<ArtifactRef> {
    let lock_path = ctx.config_dir.join("servers.lock");
    let lock = crate::lock::Lock::load(&lock_path).map_err(Failure::from)?;
    let Some(entry) = lock.servers.get(server) else {
        return Err(Failure::input(
            Code::ServerUnknown,
            format!("no server named `{server}` is pinned, and no artifact was given"),
            Some("pass the artifact, or pin the server with `mcp-warden add NAME SOURCE`".into()),
        )
        .into());
    };
    let cache = crate::cache::Cache::open(&ctx.cache_dir)
        .map_err(|e| Failure::input(Code::CacheError, e.to_string(), Some(e.hint().into())))?;
    let damaged = |what: String| -> anyhow::Error {
        Failure::input(
            Code::CacheMismatch,
            what,
            Some(format!(
                "the cached copy changed since `add`; run `mcp-warden cache gc`, then `mcp-warden add {server} ...` again"
            )),
        )
        .into()
    };
    let artifact = if entry.kind == ArtifactKind::Directory {
        let tree = entry
            .tree
            .as_deref()
            .and_then(|t| cache.tree(t).ok().flatten())
            .ok_or_else(|| {
                damaged(format!(
                    "{server}: the pinned directory is not in the cache"
                ))
            })?;
        let now = crate::cache::tree_digest(&tree.path).map_err(|e| damaged(e.to_string()))?;
        if now != entry.sha256 {
            return Err(damaged(format!(
                "{server}: the cached directory has tree digest {now}, not the pinned {}",
                entry.sha256
            )));
        }
        ArtifactRef::Digest(
            format!("sha256:{now}")
                .parse()
                .map_err(|e| damaged(format!("{e}")))?,
        )
    } else {
        // Without the re-hash here the caller must compare the SHA-256
        // that verification computes anyway with the pinned one.
        let found = match rehash_artifact {
            true => cache.blob_verified(&entry.sha256),
            false => cache.blob(&entry.sha256),
        };
        match found {
            Ok(Some(b)) => ArtifactRef::Path(b.path),
            Ok(None) => {
                return Err(damaged(format!(
                    "{server}: the pinned artifact sha256:{} is not in the cache",
                    entry.sha256
                )));
            }
            Err(e) => return Err(damaged(format!("{server}: {e}"))),
        }
    };
    if ev.files().next().is_none() {
        for f in &entry.evidence_files {
            let path = match cache.blob_verified(&f.sha256) {
                Ok(Some(b)) => b.path,
                _ => {
                    return Err(damaged(format!(
                        "{server}: the kept {} file sha256:{} is missing or changed",
                        f.role, f.sha256
                    )));
                }
            };
            match ev.files_mut(&f.role) {
                Some(list) => list.push(path),
                None => {
                    return Err(damaged(format!(
                        "{server}: unknown evidence role `{}`",
                        f.role
                    )));
                }
            }
        }
    }
    Ok(artifact)
}

/// The OSV database from `--advisories`, or else the first policy layer's
/// `[advisories] db` (relative to that policy file).
pub fn load_advisories(
    given: Option<&std::path::Path>,
    policies: &PolicySet,
) -> Result<Option<AdvisoryDb>> {
    let path = given
        .map(std::path::Path::to_path_buf)
        .or_else(|| policies.advisories_db());
    let Some(path) = path else { return Ok(None) };
    let db = AdvisoryDb::load(&path).map_err(|e| {
        Failure::input(
            Code::InputInvalid,
            format!("cannot use the advisory database {}: {e}", path.display()),
            Some("pass a directory of OSV JSON files or an ecosystem's all.zip".into()),
        )
    })?;
    Ok(Some(db))
}

/// The cosign-style identity flags as one rule; clap ensures both halves
/// come together.
pub fn identity_rule(a: &EvidenceArgs) -> Result<Option<verify::IdentityRule>> {
    let matcher = |exact: &Option<String>,
                   re: &Option<String>,
                   flag: &str|
     -> Result<Option<IdentityMatcher>> {
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
        (Some(identity), Some(issuer)) => Some(verify::IdentityRule { identity, issuer }),
        _ => None,
    })
}

pub fn load_trust(ctx: &crate::context::Context) -> Result<TrustStore> {
    TrustStore::load(ctx).map_err(|e| {
        let hint = e.hint();
        Failure::input(Code::TrustStoreInvalid, e.to_string(), hint).into()
    })
}

pub fn load_policies(ctx: &crate::context::Context, trust: &TrustStore) -> Result<PolicySet> {
    PolicySet::load(ctx, trust).map_err(|e| match e {
        policy::PolicyError::Read(r) => Failure::input(
            Code::PolicyUnreadable,
            format!("cannot read the policy: {r}"),
            Some("check the --policy path; `mcp-warden policy init` writes a template".into()),
        )
        .into(),
        policy::PolicyError::Invalid { diagnostics, .. } => Failure {
            diagnostics: diagnostics
                .into_iter()
                .filter(|d| d.severity == crate::diag::Severity::Error)
                .collect(),
            exit: 2,
        }
        .into(),
    })
}

pub(super) fn input_failure(e: InputError) -> anyhow::Error {
    let code = match &e {
        InputError::Artifact(_) => Code::ArtifactUnreadable,
        InputError::Key { .. } | InputError::KeyFile(_) => Code::KeyMalformed,
        InputError::KeyName(_) | InputError::NotAKey(_) => Code::KeyUnknown,
        InputError::Signature(_) | InputError::Bundle(_) | InputError::Evidence(_) => {
            Code::InputInvalid
        }
        InputError::TrustedRoot(_) => Code::TrustedRootInvalid,
    };
    let hint = e.hint().map(str::to_string);
    Failure::input(code, e.to_string(), hint).into()
}
