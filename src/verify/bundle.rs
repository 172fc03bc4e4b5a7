//! Sigstore bundles as evidence: which keys or identities to try, and what
//! a verified bundle says about its signer.

use crate::diag::{Code, Diagnostic, Severity};
use std::path::PathBuf;

use crate::evidence::{Role, SignatureEvidence, Signer};
use crate::fsutil;
use crate::identity;
use crate::signature::dsse::Statement;
use crate::signature::sigstore::{self, Input, Root, Rule, Wrapper};
use crate::signature::{MAX_SIGNATURE_FILE, Scheme};
use crate::trust::TrustStore;
use sigstore_verify::types::{SignatureContent, VerificationMaterialContent};

use super::{Candidate, InputError, Request, key_unknown, sig_diag};

/// Largest trusted-root file read.
const MAX_ROOT_FILE: u64 = 4 * 1024 * 1024;

pub(super) fn roots(req: &Request) -> Result<Vec<Root>, InputError> {
    match &req.trusted_root {
        Some(p) if !p.exists() && sigstore::embedded_root(&p.to_string_lossy()).is_some() => {
            let r = sigstore::embedded_root(&p.to_string_lossy()).expect("checked");
            Ok(vec![r.map_err(|e| InputError::TrustedRoot(e.to_string()))?])
        }
        Some(p) => {
            let text = fsutil::read_text_bounded(p, MAX_ROOT_FILE)
                .map_err(|e| InputError::TrustedRoot(e.to_string()))?;
            let name = p.display().to_string();
            Ok(vec![
                Root::new(&name, &text).map_err(|e| InputError::TrustedRoot(e.to_string()))?,
            ])
        }
        None => sigstore::embedded_roots().map_err(|e| InputError::TrustedRoot(e.to_string())),
    }
}

pub(super) fn judge_all(
    req: &Request,
    files: &[(PathBuf, Role)],
    input: &Input,
    cands: &[Candidate],
    trust: &TrustStore,
) -> Result<Vec<SignatureEvidence>, InputError> {
    let roots = roots(req)?;
    let mut out = Vec::new();
    for (file, role) in files {
        let bytes = fsutil::read_bounded(file, MAX_SIGNATURE_FILE).map_err(InputError::Bundle)?;
        let (wrapper, items) = match sigstore::parse_file(&bytes) {
            Ok(x) => x,
            Err(e) => {
                let mut ev = SignatureEvidence::new(file.clone(), Some(Scheme::Sigstore), *role);
                ev.outcome = Err(sig_diag(e));
                out.push(ev);
                continue;
            }
        };
        let several = items.len() > 1;
        for item in items {
            let mut ev = SignatureEvidence::new(file.clone(), Some(Scheme::Sigstore), *role);
            ev.details.push((
                "format".into(),
                if several || wrapper != Wrapper::Bundle {
                    format!("{}, {}", wrapper.name(), item.label)
                } else {
                    wrapper.name().to_string()
                },
            ));
            ev.details.push((
                "media type".into(),
                item.bundle.media_type().as_str().to_string(),
            ));
            let managed = matches!(
                item.bundle.verification_material.content,
                VerificationMaterialContent::PublicKey(_)
            );
            ev.outcome = if managed {
                managed_key(&item.bundle, input, &roots, cands, &mut ev.details, several)
            } else {
                keyless(
                    &item.bundle,
                    input,
                    &roots,
                    req,
                    trust,
                    *role,
                    &mut ev.details,
                )
            };
            if ev.outcome.is_ok()
                && let SignatureContent::DsseEnvelope(env) = &item.bundle.content
            {
                // sigstore-verify has checked the envelope and that a
                // subject is this artifact; the statement is now evidence.
                match Statement::parse(env.payload.as_bytes()) {
                    Ok(st) => ev.statement = Some(st),
                    Err(e) => ev.outcome = Err(sig_diag(e)),
                }
            }
            out.push(ev);
        }
    }
    Ok(out)
}

fn push_root(details: &mut Vec<(String, String)>, v: &sigstore::Verified) {
    details.push(("trusted root".into(), v.root.clone()));
    if let Some(l) = &v.log {
        details.push(("log".into(), l.clone()));
    }
    if let Some(t) = &v.integrated_time {
        details.push(("integrated time".into(), t.clone()));
    }
    details.push((
        "content".into(),
        if v.dsse {
            "DSSE envelope"
        } else {
            "message signature"
        }
        .into(),
    ));
}

fn managed_key(
    bundle: &sigstore_verify::types::Bundle,
    input: &Input,
    roots: &[Root],
    cands: &[Candidate],
    details: &mut Vec<(String, String)>,
    in_multi: bool,
) -> Result<Signer, Diagnostic> {
    let hint = match &bundle.verification_material.content {
        VerificationMaterialContent::PublicKey(p) => p.hint.clone(),
        _ => String::new(),
    };
    if !hint.is_empty() {
        details.push(("key hint".into(), hint.clone()));
    }
    if cands.is_empty() {
        let mut d = key_unknown(format!(
            "signed by a managed key{}, and no key was given or is trusted",
            if hint.is_empty() {
                String::new()
            } else {
                format!(" (hint {hint})")
            }
        ));
        // In a file of several bundles (npm's registry-signed publish
        // attestation beside the provenance), one that cannot be checked
        // is reported but neither counts nor denies.
        if in_multi {
            d.severity = Severity::Warning;
            d.message = format!("not checked: {}", d.message);
        }
        return Err(d);
    }
    let mut last = None;
    for c in cands {
        let der = c.key.spki_der();
        match sigstore::verify(bundle, input, roots, &Rule::Key(&der)) {
            Ok(v) => {
                push_root(details, &v);
                return Ok(Signer::Key(c.signer()));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(sig_diag(last.expect("at least one candidate")))
}

fn keyless(
    bundle: &sigstore_verify::types::Bundle,
    input: &Input,
    roots: &[Root],
    req: &Request,
    trust: &TrustStore,
    role: Role,
    details: &mut Vec<(String, String)>,
) -> Result<Signer, Diagnostic> {
    // Provenance is judged by its builder, which must be the certificate's
    // identity (checked when the statement is read); a signature needs an
    // identity rule of its own.
    let builder_decides = role == Role::Provenance;
    identity::rule_needed(
        req.identity.is_some(),
        !trust.identities.is_empty(),
        builder_decides,
    )?;
    let v = sigstore::verify(bundle, input, roots, &Rule::Keyless).map_err(sig_diag)?;
    push_root(details, &v);
    let identity = v.identity.clone().unwrap_or_default();
    let issuer = v.issuer.clone().unwrap_or_default();
    details.push(("identity".into(), identity.clone()));
    details.push(("issuer".into(), issuer.clone()));
    for (k, val) in &v.claims {
        details.push((format!("claim {k}"), val.clone()));
    }
    let trusted = trust.identities.iter().map(|t| identity::Trusted {
        name: &t.name,
        issuer: &t.issuer,
        identity: &t.identity,
    });
    identity::keyless_signer(
        identity,
        issuer,
        v.claims,
        req.identity.as_ref(),
        trusted,
        builder_decides,
    )
    .map(Signer::Identity)
}

/// What to do about each sigstore failure, shown apart from the message.
pub(super) fn hint(code: Code) -> Option<&'static str> {
    Some(match code {
        Code::BundleMalformed => {
            "the bundle is damaged or not a sigstore bundle: fetch it again from the publisher"
        }
        Code::BundleUnsupported => {
            "this bundle needs a newer mcp-warden, or is not meant for artifact verification"
        }
        Code::CertificateInvalid => {
            "the certificate does not chain to the trusted root: the bundle may come from another sigstore instance (try --trusted-root) or be forged"
        }
        Code::TrustedRootExpired => {
            "the trusted root has no authority valid when this was signed; check --trusted-root, or update mcp-warden for newer roots"
        }
        Code::TrustedRootInvalid => {
            "pass a trusted_root.json as published by the sigstore instance"
        }
        Code::TlogInvalid => {
            "the log entry is from a log the trusted root does not know, or does not match the bundle: if the bundle comes from another sigstore instance, pass that instance's root with --trusted-root; otherwise it was altered, do not run this artifact"
        }
        Code::InclusionProofInvalid | Code::CheckpointInvalid | Code::SetInvalid => {
            "the transparency log evidence in the bundle does not check out: the bundle was altered; do not run this artifact"
        }
        Code::TimestampInvalid => {
            "the bundle's timestamps do not check out: the bundle was altered or uses an untrusted timestamp authority"
        }
        Code::DigestMismatch => {
            "the bundle was made for another artifact; pass the bundle that belongs to this one"
        }
        Code::SignatureInvalid => {
            "do not run this artifact: the artifact or the bundle was changed"
        }
        Code::DigestModeUnsupported => {
            "this signature covers the file itself, not a digest of it: pass the artifact's path"
        }
        _ => return None,
    })
}
