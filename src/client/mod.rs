//! MCP client configs (Claude Desktop, Cursor, VS Code): read them, and
//! rewrite each local (stdio) server so that it starts through
//! `mcp-warden run NAME`.
//!
//! Edits go through a concrete syntax tree (`jsonc-parser`), so key order,
//! layout and, in VS Code's JSONC, comments stay as the user wrote them;
//! only the `command`, `args` and moved `env` entries of wrapped servers
//! change. Every rewrite is checked by parsing the result again before
//! anything is written.
//!
//! [`config`] reads a config and its servers, [`launcher`] tells what a
//! server's command runs, [`secrets`] spots literal credentials, and
//! [`install`] plans and applies the rewrite.

use std::fmt;
use std::io;
use std::path::PathBuf;

use jsonc_parser::ParseOptions;
use serde::Serialize;

use crate::fsutil::ReadError;

pub mod config;
pub mod install;
pub mod launcher;
pub mod secrets;
pub mod uninstall;

pub use config::{Config, ServerInfo, ServerKind};
pub use install::{
    Action, Applied, NOT_PINNED, Pinnable, Plan, REDACTED, ServerPlan, apply_install,
    pin_candidates, plan_install,
};
pub use launcher::{Launch, parse_launcher};
pub use secrets::{arg_looks_secret, is_reference, looks_secret};
pub use uninstall::{Restore, ServerRestore, UninstallPlan, apply_uninstall, plan_uninstall};

/// Client configs are a few kilobytes; anything far beyond is not one.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// The MCP clients whose configs mcp-warden knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Claude,
    Cursor,
    Vscode,
}

impl ClientKind {
    pub const ALL: [ClientKind; 3] = [ClientKind::Claude, ClientKind::Cursor, ClientKind::Vscode];

    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Claude => "claude",
            ClientKind::Cursor => "cursor",
            ClientKind::Vscode => "vscode",
        }
    }

    /// The top-level key that holds the servers.
    pub fn servers_key(self) -> &'static str {
        match self {
            ClientKind::Claude | ClientKind::Cursor => "mcpServers",
            ClientKind::Vscode => "servers",
        }
    }

    /// Claude Desktop reads its file with `JSON.parse`: a comment there would
    /// break the client, so only strict JSON is accepted. VS Code's
    /// mcp.json is JSONC, and Cursor (a VS Code fork) reads it the same way.
    pub fn allows_jsonc(self) -> bool {
        !matches!(self, ClientKind::Claude)
    }

    /// Where the client keeps its config for this user: the platform's
    /// config directory (`~/.config` honouring XDG_CONFIG_HOME on Linux,
    /// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows),
    /// or the home directory for Cursor.
    pub fn default_path(self) -> Option<PathBuf> {
        let dirs = directories::BaseDirs::new()?;
        Some(match self {
            ClientKind::Claude => dirs
                .config_dir()
                .join("Claude")
                .join("claude_desktop_config.json"),
            ClientKind::Cursor => dirs.home_dir().join(".cursor").join("mcp.json"),
            ClientKind::Vscode => dirs.config_dir().join("Code").join("User").join("mcp.json"),
        })
    }

    fn parse_options(self) -> ParseOptions {
        let jsonc = self.allows_jsonc();
        ParseOptions {
            allow_comments: jsonc,
            allow_trailing_commas: jsonc,
            allow_loose_object_property_names: false,
            allow_missing_commas: false,
            allow_single_quoted_strings: false,
            allow_hexadecimal_numbers: false,
            allow_unary_plus_numbers: false,
            allow_bare_decimal_point_numbers: false,
            allow_non_finite_numbers: false,
            allow_extended_string_escapes: false,
        }
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the {client} config: {source}")]
    Read {
        client: ClientKind,
        #[source]
        source: ReadError,
    },
    #[error("no {client} config location is known on this system (no home directory)")]
    NoDefaultPath { client: ClientKind },
    #[error("{path}:{line}:{column}: not valid {format}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        format: &'static str,
        message: String,
    },
    #[error("{path}: {message}")]
    Shape { path: PathBuf, message: String },
    #[error("{path} changed on disk while mcp-warden was editing it; nothing was written")]
    Changed { path: PathBuf },
    #[error("cannot write the backup {path}: {source}; the config was not changed")]
    Backup {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the rewritten {path} failed mcp-warden's own check ({message}); nothing was written")]
    SelfCheck { path: PathBuf, message: String },
    #[error(
        "{path}: server `{server}` sets the variable `{var}` in `env`, which `mcp-warden run` \
         cannot pass (a name is a letter or _ followed by letters, digits or _, at most 128); \
         nothing was written"
    )]
    EnvName {
        path: PathBuf,
        server: String,
        var: String,
    },
    #[error(
        "cannot move {var} of server `{server}` into the keychain: {message}; the config was not changed"
    )]
    Secret {
        server: String,
        var: String,
        message: String,
    },
}

impl crate::diag::Diagnose for ClientError {
    fn code(&self) -> crate::diag::Code {
        match self {
            ClientError::Secret { .. } => crate::diag::Code::KeychainUnavailable,
            _ => crate::diag::Code::ClientConfig,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            ClientError::Read {
                source: ReadError::Missing { .. },
                client,
            } => format!(
                "is {client} installed and configured for this user? Pass --config FILE to name the file"
            ),
            ClientError::Read { .. } => return None,
            ClientError::NoDefaultPath { .. } => "pass --config FILE".to_string(),
            ClientError::Syntax { .. } | ClientError::Shape { .. } => {
                "fix the file (the client would not read it either), or restore it from a backup"
                    .to_string()
            }
            ClientError::Changed { .. } => {
                "quit the client, or wait until it has written the file, then run the command again"
                    .to_string()
            }
            ClientError::Backup { .. } | ClientError::Write { .. } => {
                "check that the config's directory is writable".to_string()
            }
            ClientError::SelfCheck { .. } => {
                "please report this; edit the file by hand meanwhile".to_string()
            }
            ClientError::EnvName { server, var, .. } => format!(
                "remove `{var}` from the `env` of `{server}`, or rename it if the server also reads it \
                 under a valid name (mcp-warden does not rename it: the server would not see it), \
                 then run `client install` again"
            ),
            ClientError::Secret { .. } => {
                "check that the keychain is unlocked, or decline moving and use `mcp-warden secret set` later"
                    .to_string()
            }
        })
    }
}

type Servers = serde_json::Map<String, serde_json::Value>;

/// The server tables of a config before and after a rewrite, once it is
/// checked that nothing else changed: the same top-level keys, every one
/// but `key` equal, and the same server names. The error says what moved.
fn servers_alone_changed<'a>(
    key: &str,
    old: &'a serde_json::Value,
    new: &'a serde_json::Value,
) -> Result<(&'a Servers, &'a Servers), String> {
    static EMPTY: std::sync::LazyLock<Servers> = std::sync::LazyLock::new(Servers::new);
    let (Some(old_top), Some(new_top)) = (old.as_object(), new.as_object()) else {
        return Err("the top level is no longer an object".to_string());
    };
    if !old_top.keys().eq(new_top.keys()) {
        return Err("the top-level keys changed".to_string());
    }
    for (k, v) in old_top {
        if k != key && new_top.get(k) != Some(v) {
            return Err(format!("`{k}` changed"));
        }
    }
    let servers = |top: &'a Servers| {
        top.get(key)
            .and_then(serde_json::Value::as_object)
            .unwrap_or(&EMPTY)
    };
    let (old_servers, new_servers) = (servers(old_top), servers(new_top));
    if !old_servers.keys().eq(new_servers.keys()) {
        return Err("the server names changed".to_string());
    }
    Ok((old_servers, new_servers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Code, Diagnose};

    #[test]
    fn errors_carry_their_code() {
        let e = ClientError::NoDefaultPath {
            client: ClientKind::Claude,
        };
        assert_eq!(e.code(), Code::ClientConfig);
        assert_eq!(Diagnose::hint(&e).as_deref(), Some("pass --config FILE"));
        let e = ClientError::Secret {
            server: "s".into(),
            var: "V".into(),
            message: "locked".into(),
        };
        assert_eq!(e.code(), Code::KeychainUnavailable);
    }
}
