//! The verdict as people and programs read it: human text or one JSON
//! document, rendered from the same data.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::diag::{Code, Diagnostic, Severity};
use crate::evidence::{Evidence, Role};
use crate::policy::Decision;
use crate::signature::Scheme;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    Denied,
    Error,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Allowed => 0,
            Verdict::Denied => 1,
            Verdict::Error => 2,
        }
    }
}

/// One line of the report: what was checked, how it went, and what it
/// found. The human renderer matches on these types, so every kind and
/// scheme has its rendering or the build fails.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub kind: CheckKind,
    pub status: Status,
    #[serde(flatten)]
    pub detail: Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    Digest,
    Signature,
    Provenance,
    SbomAttestation,
    SbomSignature,
    Sbom,
    Policy,
}

impl CheckKind {
    /// As the JSON and the human text spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Digest => "digest",
            CheckKind::Signature => "signature",
            CheckKind::Provenance => "provenance",
            CheckKind::SbomAttestation => "sbom-attestation",
            CheckKind::SbomSignature => "sbom-signature",
            CheckKind::Sbom => "sbom",
            CheckKind::Policy => "policy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Reported, neither passed nor failed (a member of a multi-bundle
    /// file that could not be checked).
    Skip,
    /// An SBOM that was read; what it says is judged by the policy.
    Read,
}

/// What a check found, flattened beside `kind` and `status` in the JSON
/// (fields in declaration order; absent ones left out).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Detail {
    Digest {
        algorithm: &'static str,
        value: String,
    },
    Signature(SignatureCheck),
    Sbom(SbomCheck),
    Policy(crate::policy::LayerDecision),
}

/// A signature, provenance or SBOM attestation or detached SBOM signature.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureCheck {
    pub file: std::path::PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Map<String, Value>>,
    /// Set when it verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<Value>,
    /// Set, with `message`, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SbomCheck {
    pub file: std::path::PathBuf,
    /// Set, with any `warnings`, when it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Set, with `message`, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<Value>,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn from_decision(ev: &Evidence, d: &Decision) -> Self {
        let mut artifact = json!({ "name": ev.artifact.name });
        if let Some(p) = &ev.artifact.path {
            artifact["path"] = json!(p);
        }
        if let Some(s) = ev.artifact.size {
            artifact["size"] = json!(s);
        }
        for dg in &ev.artifact.digests {
            artifact[dg.algorithm.name()] = json!(dg.hex());
        }
        let mut checks = Vec::new();
        for dg in &ev.artifact.digests {
            checks.push(Check {
                kind: CheckKind::Digest,
                status: Status::Pass,
                detail: Detail::Digest {
                    algorithm: dg.algorithm.name(),
                    value: dg.hex(),
                },
            });
        }
        for s in &ev.signatures {
            let details = (!s.details.is_empty()).then(|| {
                s.details
                    .iter()
                    .map(|(k, v)| (k.replace(' ', "-"), json!(v)))
                    .collect()
            });
            let mut c = SignatureCheck {
                file: s.file.clone(),
                scheme: s.scheme,
                details,
                signer: None,
                code: None,
                message: None,
                provenance: s.provenance.as_ref().map(|p| json!(p)),
            };
            let status = match &s.outcome {
                Ok(k) => {
                    c.signer = Some(json!(k));
                    Status::Pass
                }
                Err(diag) => {
                    c.code = Some(diag.code);
                    c.message = Some(diag.message.clone());
                    // A member of a multi-bundle file that could not be
                    // checked is reported, but neither passes nor fails.
                    if diag.severity == Severity::Error {
                        Status::Fail
                    } else {
                        Status::Skip
                    }
                }
            };
            checks.push(Check {
                kind: match s.role {
                    Role::Signature => CheckKind::Signature,
                    Role::Provenance => CheckKind::Provenance,
                    Role::Sbom => CheckKind::SbomAttestation,
                    Role::SbomSignature => CheckKind::SbomSignature,
                },
                status,
                detail: Detail::Signature(c),
            });
        }
        for sb in &ev.sboms {
            let mut c = SbomCheck {
                file: sb.file.clone(),
                summary: None,
                warnings: Vec::new(),
                code: None,
                message: None,
                // Who signed it: the attestation's signer, or the first
                // detached signature's; every detached signature is listed.
                signer: sb.signers().next().map(|s| json!(s)),
                signatures: (!sb.signatures.is_empty()).then(|| json!(sb.signatures)),
            };
            match &sb.sbom {
                Ok(sbom) => {
                    c.summary = Some(json!(crate::sbom::summary(sbom)));
                    c.warnings = sbom.warnings.clone();
                }
                Err(diag) => {
                    c.code = Some(diag.code);
                    c.message = Some(diag.message.clone());
                }
            }
            checks.push(Check {
                kind: CheckKind::Sbom,
                status: if sb.sbom.is_ok() {
                    Status::Read
                } else {
                    Status::Fail
                },
                detail: Detail::Sbom(c),
            });
        }
        for l in &d.layers {
            checks.push(Check {
                kind: CheckKind::Policy,
                status: if l.allowed {
                    Status::Pass
                } else {
                    Status::Fail
                },
                detail: Detail::Policy(l.clone()),
            });
        }
        let verdict = if d.allowed {
            Verdict::Allowed
        } else {
            Verdict::Denied
        };
        Report {
            verdict,
            artifact: Some(artifact),
            server: Some(json!({ "name": ev.server, "from": ev.server_from })),
            checks,
            decision: Some(match &d.unsigned {
                None => json!({ "rule": d.rule(), "signer": d.signer }),
                Some(r) => json!({ "rule": d.rule(), "signer": d.signer, "unsigned": r }),
            }),
            diagnostics: d.diagnostics.clone(),
        }
    }

    /// A run that could not get as far as a decision (bad input).
    pub fn error(diagnostics: Vec<Diagnostic>) -> Self {
        Report {
            verdict: Verdict::Error,
            artifact: None,
            server: None,
            checks: Vec::new(),
            decision: None,
            diagnostics,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises") + "\n"
    }

    /// Human text; `quiet` keeps only the verdict line and errors.
    pub fn to_human(&self, quiet: bool, summary: bool) -> String {
        let mut out = String::new();
        if !quiet {
            if let Some(a) = &self.artifact {
                let size = a
                    .get("size")
                    .and_then(Value::as_u64)
                    .map(|s| format!(" ({s} bytes)"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "artifact  {}{size}",
                    a["name"].as_str().unwrap_or_default()
                );
                for alg in ["sha256", "sha512"] {
                    if let Some(h) = a.get(alg).and_then(Value::as_str) {
                        let _ = writeln!(out, "{alg:<9} {h}");
                    }
                }
            }
            if let Some(s) = &self.server {
                let how = match s["from"].as_str() {
                    Some("file-name") => " (the file name; choose another with --server NAME)",
                    Some("digest") => " (no name given; choose one with --server NAME)",
                    _ => "",
                };
                let _ = writeln!(
                    out,
                    "server    {}{how}",
                    s["name"].as_str().unwrap_or_default()
                );
            }
            if let Some(r) = (self.decision.as_ref()).and_then(|d| d["unsigned"].as_str()) {
                let _ = writeln!(out, "unsigned  on purpose (--unsigned): {r}");
            }
            if !self.checks.is_empty() {
                out.push('\n');
            }
            for c in self.checks.iter().filter(|c| c.kind != CheckKind::Digest) {
                render_check(&mut out, c, summary);
            }
        }
        let shown: Vec<&Diagnostic> = self
            .diagnostics
            .iter()
            .filter(|d| !quiet || d.severity == Severity::Error)
            .collect();
        if !shown.is_empty() {
            out.push('\n');
        }
        for d in shown {
            render_diagnostic(&mut out, d);
        }
        let rule = self
            .decision
            .as_ref()
            .and_then(|d| d["rule"].as_str())
            .unwrap_or_default();
        match self.verdict {
            Verdict::Allowed => {
                let _ = writeln!(out, "\nALLOWED  {rule}");
            }
            Verdict::Denied => {
                let _ = writeln!(out, "\nDENIED   {rule}");
            }
            Verdict::Error => {}
        }
        out
    }
}

fn render_check(out: &mut String, c: &Check, summary: bool) {
    let mark = match c.status {
        Status::Pass => "PASS",
        Status::Skip => "SKIP",
        Status::Fail | Status::Read => "FAIL",
    };
    match &c.detail {
        Detail::Signature(s) => {
            let scheme = match s.scheme {
                Some(Scheme::MinisignPrehashed) => "minisign, prehashed",
                Some(Scheme::MinisignLegacy) => "minisign, legacy",
                Some(Scheme::Ssh) => "OpenSSH",
                Some(Scheme::Dsse) => "DSSE",
                Some(Scheme::Sigstore) => "sigstore",
                Some(Scheme::Mcpb) => "mcpb, PKCS#7",
                None => "unrecognised format",
            };
            let _ = writeln!(
                out,
                "{mark}  {:<10} {} [{scheme}]",
                c.kind.as_str(),
                s.file.display()
            );
            if let Some(signer) = &s.signer {
                render_signer(out, signer, "");
            }
            for (k, v) in s.details.iter().flatten() {
                let _ = writeln!(
                    out,
                    "      {}: {}",
                    k.replace('-', " "),
                    v.as_str().unwrap_or_default()
                );
            }
            if let Some(code) = s.code {
                let _ = writeln!(out, "      {code}");
            }
        }
        Detail::Sbom(sb) => {
            let file = sb.file.display();
            match &sb.summary {
                Some(s) => {
                    let _ = writeln!(
                        out,
                        "READ  sbom       {file} [{}, {} components]",
                        s["format"].as_str().unwrap_or_default(),
                        s["components"]
                    );
                    if summary {
                        render_summary(out, s);
                    }
                    for w in &sb.warnings {
                        let _ = writeln!(out, "      warning: {w}");
                    }
                }
                None => {
                    let code = sb.code.map(Code::as_str).unwrap_or_default();
                    let _ = writeln!(out, "FAIL  sbom       {file}\n      {code}");
                }
            }
            match sb.signatures.as_ref().and_then(Value::as_array) {
                Some(sigs) => {
                    for sig in sigs {
                        render_signer(
                            out,
                            &sig["signer"],
                            &format!(", signature {}", sig["file"].as_str().unwrap_or_default()),
                        );
                    }
                }
                None => {
                    if let Some(s) = &sb.signer {
                        render_signer(out, s, "");
                    }
                }
            }
        }
        Detail::Policy(l) => {
            let _ = writeln!(out, "{mark}  policy     {}", l.rule);
        }
        Detail::Digest { .. } => {
            let _ = writeln!(out, "{mark}  {}", c.kind.as_str());
        }
    }
}

/// A verified signer, as the report names it; `how` follows the line.
fn render_signer(out: &mut String, s: &Value, how: &str) {
    let names: Vec<&str> = s["trust_names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if s["kind"] == "identity" {
        let who = if s["by_flags"] == true {
            "identity matched by the --certificate-* flags".to_string()
        } else if names.is_empty() {
            "certificate identity, judged by the builder it names".to_string()
        } else {
            format!("trusted identity {}", names.join(", "))
        };
        let _ = writeln!(out, "      signer: {who}{how}");
    } else {
        let who = if names.is_empty() {
            format!(
                "key given with --key {}",
                s["key_file"].as_str().unwrap_or_default()
            )
        } else {
            format!("trusted key {}", names.join(", "))
        };
        let _ = writeln!(
            out,
            "      signer: {who}, fingerprint {}{how}",
            s["fingerprint"].as_str().unwrap_or_default()
        );
    }
    if let Some(id) = s.get("minisign_key_id").and_then(Value::as_str) {
        let _ = writeln!(out, "      minisign key id: {id}");
    }
}

/// `--summary`: licences and ecosystems, most common first.
fn render_summary(out: &mut String, s: &Value) {
    let top = |key: &str| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = s[key]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    for (label, key, none) in [
        ("licences", "licenses", "without_license"),
        ("ecosystems", "ecosystems", "without_purl"),
    ] {
        let items = top(key);
        let shown: Vec<String> = items
            .iter()
            .take(12)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let more = items.len().saturating_sub(12);
        let _ = writeln!(
            out,
            "      {label}: {}{}{}",
            shown.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            },
            match s[none].as_u64() {
                Some(n) if n > 0 => format!(" (none given: {n})"),
                _ => String::new(),
            }
        );
    }
}

pub fn render_diagnostic(out: &mut String, d: &Diagnostic) {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    };
    match &d.location {
        Some(l) => {
            let _ = writeln!(out, "{sev}[{}]: {l}: {}", d.code, d.message);
        }
        None => {
            let _ = writeln!(out, "{sev}[{}]: {}", d.code, d.message);
        }
    }
    if let Some(h) = &d.hint {
        let _ = writeln!(out, "  hint: {h}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature(scheme: Option<Scheme>, ok: bool) -> Check {
        let mut details = serde_json::Map::new();
        details.insert("key-id".into(), json!("ABCD"));
        Check {
            kind: CheckKind::Signature,
            status: if ok { Status::Pass } else { Status::Fail },
            detail: Detail::Signature(SignatureCheck {
                file: "a.minisig".into(),
                scheme,
                details: Some(details),
                signer: ok
                    .then(|| json!({"kind": "key", "trust_names": ["acme"], "fingerprint": "ff"})),
                code: (!ok).then_some(Code::SignatureInvalid),
                message: (!ok).then(|| "bad".into()),
                provenance: None,
            }),
        }
    }

    #[test]
    fn checks_serialise_as_before() {
        // The JSON the string-keyed checks produced: kind and status
        // first, then the fields in the order they were inserted.
        let digest = Check {
            kind: CheckKind::Digest,
            status: Status::Pass,
            detail: Detail::Digest {
                algorithm: "sha256",
                value: "ab".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&digest).unwrap(),
            r#"{"kind":"digest","status":"pass","algorithm":"sha256","value":"ab"}"#
        );
        assert_eq!(
            serde_json::to_string(&signature(Some(Scheme::MinisignPrehashed), false)).unwrap(),
            r#"{"kind":"signature","status":"fail","file":"a.minisig","scheme":"minisign-prehashed","details":{"key-id":"ABCD"},"code":"signature-invalid","message":"bad"}"#
        );
        let sbom = Check {
            kind: CheckKind::Sbom,
            status: Status::Read,
            detail: Detail::Sbom(SbomCheck {
                file: "bom.json".into(),
                summary: Some(json!({"format": "CycloneDX 1.6", "components": 2})),
                warnings: vec!["w".into()],
                code: None,
                message: None,
                signer: None,
                signatures: None,
            }),
        };
        assert_eq!(
            serde_json::to_string(&sbom).unwrap(),
            r#"{"kind":"sbom","status":"read","file":"bom.json","summary":{"format":"CycloneDX 1.6","components":2},"warnings":["w"]}"#
        );
    }

    #[test]
    fn every_scheme_has_its_name_in_the_human_text() {
        for scheme in [
            Scheme::MinisignPrehashed,
            Scheme::MinisignLegacy,
            Scheme::Ssh,
            Scheme::Dsse,
            Scheme::Sigstore,
            Scheme::Mcpb,
        ] {
            let mut out = String::new();
            render_check(&mut out, &signature(Some(scheme), true), false);
            assert!(out.starts_with("PASS  signature  a.minisig ["), "{out}");
            assert!(!out.contains("unrecognised"), "{scheme:?}: {out}");
        }
        let mut out = String::new();
        render_check(&mut out, &signature(None, false), false);
        assert!(out.contains("[unrecognised format]"), "{out}");
        assert!(
            out.contains("      key id: ABCD\n      signature-invalid\n"),
            "{out}"
        );
    }
}
