//! Detached signatures over loose SBOMs (`--sbom-signature`): minisign,
//! OpenSSH or sigstore bundles, judged with the same keys and identities
//! as the artifact's signatures. Which SBOM a signature belongs to is
//! found by content: it is checked against the bytes of every loose
//! `--sbom` file, and the files it verifies over are signed by its signer.
//! One that verifies over none is a failure of its own, and no SBOM counts
//! as signed by it.

use std::path::Path;

use super::{
    ArtifactRef, Candidate, InputError, Kind, Parsed, Request, bundle, classify, hash_file,
    hash_stream, judge,
};
use crate::diag::{Code, Diagnostic, Severity};
use crate::digest::Algorithm;
use crate::evidence::{ArtifactInfo, DetachedSignature, Role, SbomEvidence, SignatureEvidence};
use crate::fsutil::{self, ReadError};
use crate::signature::sigstore::Input;
use crate::signature::{MAX_SIGNATURE_FILE, SignatureFile};
use crate::trust::TrustStore;

/// One `--sbom-signature` file and what it was found to verify over.
pub(super) struct Detached {
    parsed: Parsed,
    sigstore: bool,
    /// Per loose SBOM checked: its index among the SBOMs, and the outcome
    /// of each signature in the file (one for minisign and OpenSSH, one
    /// per bundle for a sigstore file).
    tries: Vec<(usize, Vec<SignatureEvidence>)>,
}

impl Detached {
    fn file(&self) -> &Path {
        &self.parsed.file
    }
}

/// Reads every `--sbom-signature` file (bounded, like other signatures)
/// and tells sigstore files from minisign and OpenSSH signatures.
pub(super) fn read(req: &Request) -> Result<Vec<Detached>, InputError> {
    req.sbom_signatures
        .iter()
        .map(|file| {
            let bytes =
                fsutil::read_bounded(file, MAX_SIGNATURE_FILE).map_err(InputError::Signature)?;
            let sigstore = classify(&bytes) == Kind::SigstoreWrapper;
            Ok(Detached {
                parsed: Parsed {
                    file: file.clone(),
                    sig: SignatureFile::parse(&bytes),
                    role: Role::SbomSignature,
                },
                sigstore,
                tries: Vec::new(),
            })
        })
        .collect()
}

/// A DSSE envelope carries a statement about its subjects, not a
/// signature over a file: an SBOM attestation is given with `--sbom`.
fn refuse_dsse(ev: &mut SignatureEvidence, what: &str) {
    ev.outcome = Err(Diagnostic::error(
        Code::SignatureUnsupported,
        format!("{what} holds an in-toto attestation, not a signature over an SBOM file"),
    )
    .hint("an SBOM attestation (predicate https://cyclonedx.org/bom or https://spdx.dev/Document) is given with --sbom itself; --sbom-signature takes a minisign, OpenSSH or sigstore signature made over the SBOM file"));
}

/// Checks every detached signature against the loose SBOM `index`, whose
/// file `path` held `bytes` (the very bytes that were parsed).
pub(super) fn check_sbom(
    sigs: &mut [Detached],
    index: usize,
    path: &Path,
    bytes: &[u8],
    cands: &[Candidate],
    req: &Request,
    trust: &TrustStore,
) -> Result<(), InputError> {
    if sigs.is_empty() {
        return Ok(());
    }
    let keyed: Vec<Parsed> = sigs
        .iter()
        .filter(|d| !d.sigstore)
        .map(|d| d.parsed.clone())
        .collect();
    let (info, mut stream) = hash_stream(bytes, path, &keyed, cands, &[]).map_err(|e| {
        InputError::Evidence(ReadError::Io {
            path: path.to_path_buf(),
            source: e,
        })
    })?;
    let mut k = 0;
    for d in sigs.iter_mut() {
        let evs = if d.sigstore {
            let input = Input::File {
                path,
                sha256: info.digest(Algorithm::Sha256),
            };
            let mut evs = bundle::judge_all(
                req,
                &[(d.parsed.file.clone(), Role::SbomSignature)],
                &input,
                cands,
                trust,
            )?;
            for ev in evs.iter_mut() {
                if ev.outcome.is_ok() && ev.statement.is_some() {
                    refuse_dsse(ev, "the bundle");
                }
            }
            evs
        } else if let Ok(SignatureFile::Dsse(env)) = &d.parsed.sig {
            let mut ev = SignatureEvidence::new(
                d.parsed.file.clone(),
                Some(SignatureFile::Dsse(env.clone()).scheme()),
                Role::SbomSignature,
            );
            refuse_dsse(&mut ev, "the DSSE envelope");
            k += 1;
            vec![ev]
        } else {
            let ev = judge(k, d.parsed.clone(), cands, &info, Some(&mut stream));
            k += 1;
            vec![ev]
        };
        d.tries.push((index, evs));
    }
    Ok(())
}

/// The outcome of each signature in `d` over the artifact itself, to tell
/// an artifact's signature given in the wrong place from a damaged one.
fn over_artifact(
    d: &Detached,
    req: &Request,
    cands: &[Candidate],
    trust: &TrustStore,
    artifact: &ArtifactInfo,
) -> Result<Vec<SignatureEvidence>, InputError> {
    if d.sigstore {
        let input = match &req.artifact {
            ArtifactRef::Path(p) => Input::File {
                path: p,
                sha256: artifact.digest(Algorithm::Sha256),
            },
            ArtifactRef::Digest(dg) => Input::Digest(dg),
        };
        return bundle::judge_all(
            req,
            &[(d.parsed.file.clone(), Role::SbomSignature)],
            &input,
            cands,
            trust,
        );
    }
    if matches!(d.parsed.sig, Ok(SignatureFile::Dsse(_))) {
        return Ok(Vec::new());
    }
    let parsed = [d.parsed.clone()];
    Ok(vec![match &req.artifact {
        ArtifactRef::Path(p) => {
            let (info, mut stream) = hash_file(p, &parsed, cands, &[])?;
            judge(0, d.parsed.clone(), cands, &info, Some(&mut stream))
        }
        ArtifactRef::Digest(_) => judge(0, d.parsed.clone(), cands, artifact, None),
    }])
}

/// Settles each detached signature: the SBOMs it verified over are signed
/// by its signer, and one that verified over none fails with the reason,
/// said in terms of SBOMs.
pub(super) fn finish(
    sigs: Vec<Detached>,
    sboms: &mut [SbomEvidence],
    req: &Request,
    cands: &[Candidate],
    trust: &TrustStore,
    artifact: &ArtifactInfo,
) -> Result<Vec<SignatureEvidence>, InputError> {
    let loose: Vec<String> = {
        let mut v: Vec<usize> = sigs
            .iter()
            .flat_map(|d| d.tries.iter().map(|(i, _)| *i))
            .collect();
        v.sort_unstable();
        v.dedup();
        v.iter()
            .map(|&i| sboms[i].file.display().to_string())
            .collect()
    };
    let mut out = Vec::new();
    for d in &sigs {
        let mut art: Option<Vec<SignatureEvidence>> = None;
        if d.tries.is_empty() {
            art = Some(over_artifact(d, req, cands, trust, artifact)?);
        }
        let n = match d.tries.first() {
            Some((_, evs)) => evs.len(),
            None => art.as_ref().map_or(0, Vec::len),
        };
        for i in 0..n {
            let verified: Vec<(usize, &SignatureEvidence)> = d
                .tries
                .iter()
                .filter_map(|(s, evs)| evs.get(i).filter(|e| e.outcome.is_ok()).map(|e| (*s, e)))
                .collect();
            if let Some((_, first)) = verified.first() {
                let mut ev = (*first).clone();
                let signer = ev.outcome.clone().expect("verified");
                for (s, _) in &verified {
                    ev.details
                        .push(("sbom".into(), sboms[*s].file.display().to_string()));
                    sboms[*s].signatures.push(DetachedSignature {
                        file: d.file().to_path_buf(),
                        signer: signer.clone(),
                    });
                }
                out.push(ev);
                continue;
            }
            let mut ev = match d.tries.first() {
                Some((_, evs)) => evs[i].clone(),
                None => art.as_ref().expect("checked when nothing was tried")[i].clone(),
            };
            let (code, severity) = match &ev.outcome {
                Err(e) => (e.code, e.severity),
                Ok(_) => (Code::SignatureInvalid, Severity::Error),
            };
            let mismatch = matches!(code, Code::SignatureInvalid | Code::DigestMismatch);
            if severity != Severity::Error || !(mismatch || d.tries.is_empty()) {
                out.push(ev);
                continue;
            }
            if art.is_none() {
                art = Some(over_artifact(d, req, cands, trust, artifact)?);
            }
            let of_artifact = art
                .as_ref()
                .and_then(|a| a.get(i))
                .is_some_and(|a| a.outcome.is_ok());
            if of_artifact {
                ev.outcome = Err(Diagnostic::error(
                    Code::SignatureInvalid,
                    format!(
                        "this is a signature of the artifact {}, not of an SBOM: it verifies over the artifact and over no file given with --sbom",
                        artifact.name
                    ),
                )
                .hint("pass it with --signature; --sbom-signature takes the signature made over the SBOM file"));
            } else if mismatch {
                let why = ev
                    .outcome
                    .as_ref()
                    .err()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                ev.outcome = Err(if loose.is_empty() {
                    Diagnostic::error(
                        Code::SignatureInvalid,
                        "no loose SBOM was given for it to sign: the --sbom files are attestations, which carry their own signatures",
                    )
                    .hint("pass the SBOM file the signature was made over with --sbom")
                } else {
                    Diagnostic::error(
                        Code::SignatureInvalid,
                        format!(
                            "the signature verifies over none of the loose SBOMs given ({}): {why}",
                            loose.join(", ")
                        ),
                    )
                    .hint("do not trust this SBOM: it was changed after it was signed, or the signature was made over another file; fetch the SBOM and its signature again from the publisher")
                });
            }
            out.push(ev);
        }
    }
    Ok(out)
}
