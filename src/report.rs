//! The verdict as people and programs read it: human text or one JSON
//! document, rendered from the same data.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::diag::{Diagnostic, Severity};
use crate::evidence::{Evidence, Role};
use crate::policy::Decision;

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

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub kind: &'static str,
    pub status: &'static str,
    #[serde(flatten)]
    pub fields: serde_json::Map<String, Value>,
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

fn obj(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("built from json! objects"),
    }
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
                kind: "digest",
                status: "pass",
                fields: obj(json!({ "algorithm": dg.algorithm.name(), "value": dg.hex() })),
            });
        }
        for s in &ev.signatures {
            let mut f = obj(json!({ "file": s.file }));
            if let Some(sc) = s.scheme {
                f.insert("scheme".into(), json!(sc));
            }
            if !s.details.is_empty() {
                let details: serde_json::Map<String, Value> = s
                    .details
                    .iter()
                    .map(|(k, v)| (k.replace(' ', "-"), json!(v)))
                    .collect();
                f.insert("details".into(), Value::Object(details));
            }
            let status = match &s.outcome {
                Ok(k) => {
                    f.insert("signer".into(), json!(k));
                    "pass"
                }
                Err(diag) => {
                    f.insert("code".into(), json!(diag.code));
                    f.insert("message".into(), json!(diag.message));
                    // A member of a multi-bundle file that could not be
                    // checked is reported, but neither passes nor fails.
                    if diag.severity == Severity::Error {
                        "fail"
                    } else {
                        "skip"
                    }
                }
            };
            if let Some(p) = &s.provenance {
                f.insert("provenance".into(), json!(p));
            }
            checks.push(Check {
                kind: match s.role {
                    Role::Signature => "signature",
                    Role::Provenance => "provenance",
                    Role::Sbom => "sbom-attestation",
                    Role::SbomSignature => "sbom-signature",
                },
                status,
                fields: f,
            });
        }
        for sb in &ev.sboms {
            let mut f = obj(json!({ "file": sb.file }));
            match &sb.sbom {
                Ok(sbom) => {
                    f.insert("summary".into(), json!(crate::sbom::summary(sbom)));
                    if !sbom.warnings.is_empty() {
                        f.insert("warnings".into(), json!(sbom.warnings));
                    }
                }
                Err(diag) => {
                    f.insert("code".into(), json!(diag.code));
                    f.insert("message".into(), json!(diag.message));
                }
            }
            // Who signed it: the attestation's signer, or the first
            // detached signature's; every detached signature is listed.
            if let Some(s) = sb.signers().next() {
                f.insert("signer".into(), json!(s));
            }
            if !sb.signatures.is_empty() {
                f.insert("signatures".into(), json!(sb.signatures));
            }
            checks.push(Check {
                kind: "sbom",
                status: if sb.sbom.is_ok() { "read" } else { "fail" },
                fields: f,
            });
        }
        for l in &d.layers {
            checks.push(Check {
                kind: "policy",
                status: if l.allowed { "pass" } else { "fail" },
                fields: obj(json!(l)),
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
            decision: Some(json!({ "rule": d.rule(), "signer": d.signer })),
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
            if !self.checks.is_empty() {
                out.push('\n');
            }
            for c in self.checks.iter().filter(|c| c.kind != "digest") {
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
        "pass" => "PASS",
        "skip" => "SKIP",
        _ => "FAIL",
    };
    match c.kind {
        "signature" | "provenance" | "sbom-attestation" | "sbom-signature" => {
            let scheme = match c.fields.get("scheme").and_then(Value::as_str) {
                Some("minisign-prehashed") => "minisign, prehashed",
                Some("minisign-legacy") => "minisign, legacy",
                Some("ssh") => "OpenSSH",
                Some("dsse") => "DSSE",
                Some("sigstore") => "sigstore",
                _ => "unrecognised format",
            };
            let file = c
                .fields
                .get("file")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let _ = writeln!(out, "{mark}  {:<10} {file} [{scheme}]", c.kind);
            if let Some(s) = c.fields.get("signer") {
                render_signer(out, s, "");
            }
            if let Some(Value::Object(d)) = c.fields.get("details") {
                for (k, v) in d {
                    let _ = writeln!(
                        out,
                        "      {}: {}",
                        k.replace('-', " "),
                        v.as_str().unwrap_or_default()
                    );
                }
            }
            if let Some(code) = c.fields.get("code").and_then(Value::as_str) {
                let _ = writeln!(out, "      {code}");
            }
        }
        "sbom" => {
            let file = c
                .fields
                .get("file")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match c.fields.get("summary") {
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
                    for w in c
                        .fields
                        .get("warnings")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let _ = writeln!(out, "      warning: {}", w.as_str().unwrap_or_default());
                    }
                }
                None => {
                    let _ = writeln!(
                        out,
                        "FAIL  sbom       {file}\n      {}",
                        c.fields
                            .get("code")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    );
                }
            }
            match c.fields.get("signatures").and_then(Value::as_array) {
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
                    if let Some(s) = c.fields.get("signer") {
                        render_signer(out, s, "");
                    }
                }
            }
        }
        "policy" => {
            let _ = writeln!(
                out,
                "{mark}  policy     {}",
                c.fields
                    .get("rule")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
        }
        other => {
            let _ = writeln!(out, "{mark}  {other}");
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
