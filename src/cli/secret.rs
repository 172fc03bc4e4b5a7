//! `mcp-warden secret set|rm|list`: server credentials in the OS keychain.

use std::io::IsTerminal;

use anyhow::Result;
use serde_json::json;

use super::args::SecretCommand;
use super::{Failure, Global};
use crate::diag::Code;
use crate::fsutil;
use crate::secrets::{MAX_VALUE_BYTES, SecretError, SecretValue, Secrets};

fn failure(e: SecretError) -> anyhow::Error {
    Failure::from(e).into()
}

pub fn run(g: &Global, cmd: &SecretCommand) -> Result<u8> {
    let ctx = g.context()?;
    match cmd {
        SecretCommand::Set { server, var } => {
            // Names first: no prompt for a value that would be refused.
            crate::secrets::check_names(server, var).map_err(failure)?;
            let value = read_value(server, var)?;
            let secrets = Secrets::open(&ctx).map_err(failure)?;
            secrets.set(server, var, &value).map_err(failure)?;
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    json!({"status": "stored", "server": server, "var": var, "backend": secrets.backend()})
                ));
            }
            g.note(&format!("stored {server}/{var} in {}", secrets.backend()));
            Ok(0)
        }
        SecretCommand::Rm { server, var } => {
            let secrets = Secrets::open(&ctx).map_err(failure)?;
            if !secrets.remove(server, var).map_err(failure)? {
                return Err(Failure::input(
                    Code::SecretMissing,
                    format!("no secret {server}/{var} is stored"),
                    Some("`mcp-warden secret list` shows the stored names".into()),
                )
                .into());
            }
            if g.json() {
                g.out(&format!(
                    "{}\n",
                    json!({"status": "removed", "server": server, "var": var, "backend": secrets.backend()})
                ));
            }
            g.note(&format!(
                "removed {server}/{var} from {}",
                secrets.backend()
            ));
            Ok(0)
        }
        SecretCommand::List { server } => {
            let secrets = Secrets::open(&ctx).map_err(failure)?;
            let names = secrets.names(server.as_deref()).map_err(failure)?;
            let mut rows = Vec::with_capacity(names.len());
            for (s, v) in names {
                // Only presence is asked; the value is dropped (and wiped) here.
                let present = secrets.get(&s, &v).map_err(failure)?.is_some();
                rows.push((s, v, if present { "present" } else { "missing" }));
            }
            if g.json() {
                let items: Vec<_> = rows
                    .iter()
                    .map(|(s, v, st)| json!({"server": s, "var": v, "status": st}))
                    .collect();
                g.out(&format!(
                    "{}\n",
                    json!({"backend": secrets.backend(), "secrets": items})
                ));
            } else if rows.is_empty() {
                g.note("no secrets stored");
            } else {
                let width = rows
                    .iter()
                    .map(|(s, v, _)| s.len() + v.len() + 1)
                    .max()
                    .unwrap_or(0);
                let mut text = String::new();
                for (s, v, st) in &rows {
                    text.push_str(&format!("{:<width$}  {st}\n", format!("{s}/{v}")));
                }
                g.out(&text);
            }
            Ok(0)
        }
    }
}

/// The value from a no-echo prompt on a terminal, else from stdin:
/// bounded, one trailing newline (LF or CRLF) dropped, UTF-8.
fn read_value(server: &str, var: &str) -> Result<SecretValue> {
    let bad = |message: String, hint: &str| -> anyhow::Error {
        Failure::input(Code::InputInvalid, message, Some(hint.to_string())).into()
    };
    let mut text = zeroize::Zeroizing::new(String::new());
    if std::io::stdin().is_terminal() {
        *text = rpassword::prompt_password(format!("value for {server}/{var}: ")).map_err(|e| {
            bad(
                format!("cannot read the value for {server}/{var} from the terminal: {e}"),
                "pipe the value on stdin instead",
            )
        })?;
    } else {
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        // Room for a CRLF after the largest value.
        let limit = MAX_VALUE_BYTES as u64 + 2;
        let too_large = match fsutil::read_at_most(std::io::stdin().lock(), limit, &mut bytes) {
            Ok(()) => false,
            Err(fsutil::LimitError::TooLarge { .. }) => true,
            Err(fsutil::LimitError::Io(e)) => {
                return Err(bad(
                    format!("cannot read the value for {server}/{var} from stdin: {e}"),
                    "pipe the value on stdin",
                ));
            }
        };
        let end = if bytes.ends_with(b"\r\n") {
            bytes.len() - 2
        } else if bytes.ends_with(b"\n") {
            bytes.len() - 1
        } else {
            bytes.len()
        };
        if too_large || end > MAX_VALUE_BYTES {
            return Err(failure(SecretError::ValueTooLarge {
                server: server.into(),
                var: var.into(),
                limit: MAX_VALUE_BYTES,
            }));
        }
        text.push_str(std::str::from_utf8(&bytes[..end]).map_err(|_| {
            bad(
                format!("the value for {server}/{var} is not UTF-8 text"),
                "environment values are stored as text; encode binary credentials (base64)",
            )
        })?);
    }
    Ok(SecretValue::new(std::mem::take(&mut *text)))
}
