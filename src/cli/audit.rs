//! `mcp-warden audit show|verify`: read and check the hash-chained audit log.

use std::io::Write as _;

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::Global;
use super::args::AuditCommand;
use crate::audit::{
    AuditError, Entry, Finding, KeychainView, Paths, Verdict, parse_since, read_records,
    verify_anchored, verify_log,
};

fn io_failure(e: AuditError) -> anyhow::Error {
    super::Failure::from(e).into()
}

pub fn run(g: &Global, cmd: &AuditCommand) -> Result<u8> {
    let ctx = g.context()?;
    let paths = Paths::new(&ctx);
    match cmd {
        AuditCommand::Verify => {
            let trust = crate::ops::judge::load_trust(&ctx)?;
            let policies = crate::ops::judge::load_policies(&ctx, &trust)?;
            let keychain = match policies.audit_anchor() {
                false => None,
                true => Some(read_keychain(&ctx)?),
            };
            verify(g, &paths, keychain.as_ref())
        }
        AuditCommand::Show { server, since } => {
            show(g, &paths, server.as_deref(), since.as_deref())
        }
    }
}

/// The audit key and anchor, read (never created) from the keychain.
fn read_keychain(ctx: &crate::context::Context) -> Result<KeychainView> {
    let unavailable = |what: String| -> anyhow::Error {
        super::Failure::input(
            crate::diag::Code::AuditUnavailable,
            format!("cannot read the audit log's anchor from the keychain: {what}"),
            Some("unlock the OS keychain and try again; with `[audit] anchor = \"off\"` in the policy the log is checked without its anchor".into()),
        )
        .into()
    };
    let secrets = crate::secrets::Secrets::open(ctx).map_err(|e| unavailable(e.to_string()))?;
    KeychainView::read(&secrets).map_err(|e| unavailable(e.to_string()))
}

fn verify(g: &Global, paths: &Paths, keychain: Option<&KeychainView>) -> Result<u8> {
    let verdict = match keychain {
        Some(k) => verify_anchored(&paths.log, &paths.head, k),
        None => verify_log(&paths.log, &paths.head),
    }
    .map_err(io_failure)?;
    match verdict {
        Verdict::Intact {
            records,
            last_hash,
            warnings,
        } => {
            let hint = "the chain holds after that line; what the log held before it was lost or rewritten: compare with a copy kept elsewhere (the OTLP collector)";
            if g.json() {
                let diagnostics: Vec<Value> = warnings
                    .iter()
                    .map(|w| {
                        json!({"code": crate::diag::Code::AuditBroken.as_str(), "severity": "warning",
                            "message": w.message, "hint": hint, "location": location(paths, w)})
                    })
                    .collect();
                g.out(&format!(
                    "{}\n",
                    json!({"status": "intact", "records": records, "last-hash": last_hash,
                        "log": paths.log, "diagnostics": diagnostics})
                ));
            } else {
                for w in &warnings {
                    eprintln!(
                        "warning[{}]: {}: {}\n  hint: {hint}",
                        crate::diag::Code::AuditBroken.as_str(),
                        location(paths, w),
                        w.message
                    );
                }
                if records == 0 {
                    g.out("the audit log is empty: intact, 0 records\n");
                } else {
                    g.out(&format!(
                        "the audit log is intact: {records} records, last {}\n",
                        last_hash.unwrap_or_default()
                    ));
                }
            }
            Ok(0)
        }
        Verdict::Broken { records, finding } => {
            let hint = "the log was changed outside mcp-warden: keep a copy for investigation; \
                        records before that line still chain";
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    json!({"status": "broken", "records": records, "log": paths.log,
                        "line": finding.line, "problem": finding.problem.as_str(),
                        "diagnostics": [{"code": crate::diag::Code::AuditBroken.as_str(), "severity": "error",
                            "message": finding.message, "hint": hint,
                            "location": location(paths, &finding)}]})
                ));
            } else {
                eprintln!(
                    "error[{}]: {}: {} ({})\n  hint: {hint}",
                    crate::diag::Code::AuditBroken.as_str(),
                    location(paths, &finding),
                    finding.message,
                    finding.problem.as_str()
                );
            }
            Ok(1)
        }
    }
}

fn location(paths: &Paths, f: &Finding) -> String {
    match f.line {
        Some(n) => format!("{}:{n}", paths.log.display()),
        None => paths.head.display().to_string(),
    }
}

fn show(g: &Global, paths: &Paths, server: Option<&str>, since: Option<&str>) -> Result<u8> {
    let since = since
        .map(|s| parse_since(s, jiff::Timestamp::now()))
        .transpose()
        .map_err(io_failure)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut first = true;
    let mut shown = 0u64;
    let mut bad = 0u64;
    // A closed pipe (`| head`) ends the output, not the command.
    let mut closed = false;
    if g.json() {
        closed |= out.write_all(b"{\"records\":[").is_err();
    }
    read_records(&paths.log, |entry| match entry {
        Entry::Bad {
            line,
            problem,
            message,
        } => {
            bad += 1;
            eprintln!(
                "warning: {}:{line}: not a record ({}): {message}; `mcp-warden audit verify` checks the chain",
                paths.log.display(),
                problem.as_str()
            );
        }
        Entry::Record { value, .. } => {
            if !keep(&value, server, since) || closed {
                return;
            }
            shown += 1;
            let text = if g.json() {
                let sep = if first { "\n" } else { ",\n" };
                format!("{sep}{}", Value::Object(value))
            } else {
                format!("{}\n", human(&value))
            };
            first = false;
            closed |= out.write_all(text.as_bytes()).is_err();
        }
    })
    .map_err(io_failure)?;
    if g.json() {
        let _ = write!(out, "\n],\"skipped-lines\":{bad}}}\n");
    } else if shown == 0 && !closed {
        g.note("no matching audit records");
    }
    let _ = out.flush();
    Ok(0)
}

fn keep(v: &Map<String, Value>, server: Option<&str>, since: Option<jiff::Timestamp>) -> bool {
    if let Some(s) = server
        && v.get("server").and_then(Value::as_str) != Some(s)
    {
        return false;
    }
    if let Some(t) = since {
        // A record whose time cannot be read is shown: hiding it would
        // hide exactly the odd ones.
        let time = v
            .get("time")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<jiff::Timestamp>().ok());
        if time.is_some_and(|rt| rt < t) {
            return false;
        }
    }
    true
}

fn human(v: &Map<String, Value>) -> String {
    let s = |k: &str| match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        Some(x) => x.to_string(),
    };
    let event = s("event");
    let fields: &[&str] = match event.as_str() {
        "launch" => &["verdict", "digest", "signers", "signed", "sandbox"],
        "tool-call" => &["tool", "decision", "duration-ms", "error", "arguments"],
        "guard" => &["kind", "detail"],
        _ => &[],
    };
    let mut line = format!(
        "{:<5} {}  {:<9} {}",
        s("seq"),
        s("time"),
        event,
        s("server")
    );
    for f in fields {
        let val = s(f);
        if !val.is_empty() {
            line.push_str(&format!("  {f}={val}"));
        }
    }
    // Control characters in a field would let a record forge lines.
    crate::text::printable(&line, usize::MAX)
}
