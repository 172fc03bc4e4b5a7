//! `verify`: one artifact, or the copy a pinned server runs, judged under
//! the policy without pinning anything.

use super::judge::{EvidenceRequest, identity_rule, judge, load_policies, load_trust};
use crate::context::Context;
use crate::diag::{Code, Failure};
use crate::report::Report;
use crate::verify::ArtifactRef;

/// What `verify` is asked about: a file or digest, or a pinned server.
pub enum Target<'a> {
    Artifact(&'a str),
    Pinned(&'a str),
}

/// `verify`: the artifact (or the copy `add` pinned, with the evidence it
/// kept unless other evidence is given) judged under the policy.
pub fn verify(
    ctx: &Context,
    target: Target,
    server: Option<&str>,
    ev: &EvidenceRequest,
) -> Result<Report, Failure> {
    let trust = load_trust(ctx)?;
    let mut policies = load_policies(ctx, &trust)?;
    if let Some(name) = server {
        super::judge::warn_name_case(&mut policies, name);
    }
    let identity = identity_rule(ev)?;
    let mut ev = ev.clone();
    let artifact: ArtifactRef = match target {
        Target::Artifact(text) => text.parse().map_err(|e| {
            Failure::input(
                Code::InputInvalid,
                format!("{e}"),
                Some("give a file path, or sha256:<64 hex> / sha512:<128 hex>".into()),
            )
        })?,
        Target::Pinned(name) => super::pinned::artifact(ctx, name, &mut ev, true)?,
    };
    let db = super::judge::load_advisories(ev.advisories.as_deref(), &policies)?;
    Ok(judge(
        artifact,
        server,
        &ev,
        identity,
        (&trust, &policies, db.as_ref()),
    )?
    .report)
}
