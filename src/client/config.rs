//! Client config files: parsed as each client parses them (JSON, or JSONC
//! for VS Code), duplicate keys refused, servers listed and classified.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self};
use std::path::{Path, PathBuf};

use jsonc_parser::cst::{CstNode, CstRootNode};
use serde::Serialize;
use serde_json::Value;

use crate::fsutil::{self, ReadError};

use super::{ClientError, ClientKind, MAX_CONFIG_BYTES};

/// A parsed client config: the text as read and where it came from.
pub struct Config {
    pub kind: ClientKind,
    /// The file itself (symlinks resolved, so a rewrite replaces the file
    /// and not the link).
    pub path: PathBuf,
    pub(super) text: String,
    pub(super) value: Value,
}

impl fmt::Debug for Config {
    // The text holds literal secrets: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("kind", &self.kind)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads and parses `path` (bounded in size; nesting is bounded by the
    /// parser, at 512 levels).
    pub fn load(kind: ClientKind, path: &Path) -> Result<Config, ClientError> {
        let read = |source| ClientError::Read {
            client: kind,
            source,
        };
        let path = match fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(read(ReadError::Missing {
                    path: path.to_path_buf(),
                }));
            }
            Err(source) => {
                return Err(read(ReadError::Io {
                    path: path.to_path_buf(),
                    source,
                }));
            }
        };
        let text = fsutil::read_text_bounded(&path, MAX_CONFIG_BYTES).map_err(read)?;
        Config::parse(kind, &path, text)
    }

    /// Parses `text` as `kind`'s config found at `path`.
    pub fn parse(kind: ClientKind, path: &Path, text: String) -> Result<Config, ClientError> {
        let root = parse_cst(kind, path, &text)?;
        // JSON.parse keeps the last of two equal keys, the syntax tree
        // edits the first: refuse rather than guess which one the client uses.
        if let Some(key) = root.value().and_then(|v| duplicate_key(&v)) {
            return Err(ClientError::Shape {
                path: path.to_path_buf(),
                message: format!("the key `{key}` appears twice in one object"),
            });
        }
        let value = root
            .value()
            .and_then(|v| v.to_serde_value())
            .unwrap_or(Value::Null);
        let shape = |message: String| ClientError::Shape {
            path: path.to_path_buf(),
            message,
        };
        let Value::Object(top) = &value else {
            return Err(shape(format!(
                "the top level is {}, a JSON object was expected",
                describe(&value)
            )));
        };
        match top.get(kind.servers_key()) {
            None | Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(shape(format!(
                    "`{}` is {}, an object of servers was expected",
                    kind.servers_key(),
                    describe(other)
                )));
            }
        }
        Ok(Config {
            kind,
            path: path.to_path_buf(),
            text,
            value,
        })
    }

    /// The text as read.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub(super) fn servers_value(&self) -> Vec<(&str, &Value)> {
        self.value
            .get(self.kind.servers_key())
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default()
    }

    /// Every server with what it is.
    pub fn servers(&self) -> Vec<ServerInfo> {
        self.servers_value()
            .into_iter()
            .map(|(name, v)| ServerInfo {
                name: name.to_string(),
                kind: classify(v),
            })
            .collect()
    }
}

pub(super) fn parse_cst(
    kind: ClientKind,
    path: &Path,
    text: &str,
) -> Result<CstRootNode, ClientError> {
    let syntax = |e: jsonc_parser::errors::ParseError| ClientError::Syntax {
        path: path.to_path_buf(),
        line: e.line_display(),
        column: e.column_display(),
        format: if kind.allows_jsonc() {
            "JSON with comments"
        } else {
            "JSON"
        },
        message: e.kind().to_string(),
    };
    // jsonc-parser 0.34's CST parse collects comments as tokens and then
    // ignores `allow_comments`; the plain parse honours it, so strict
    // files are checked with it first.
    if !kind.allows_jsonc() {
        jsonc_parser::parse_to_value(text, &kind.parse_options()).map_err(syntax)?;
    }
    CstRootNode::parse(text, &kind.parse_options()).map_err(syntax)
}

pub(super) fn duplicate_key(node: &CstNode) -> Option<String> {
    if let Some(obj) = node.as_object() {
        let mut seen = BTreeSet::new();
        for prop in obj.properties() {
            let name = prop.name().and_then(|n| n.decoded_value().ok())?;
            if let Some(dup) = prop.value().and_then(|v| duplicate_key(&v)) {
                return Some(dup);
            }
            if !seen.insert(name.clone()) {
                return Some(name);
            }
        }
    } else if let Some(arr) = node.as_array() {
        return arr.elements().iter().find_map(duplicate_key);
    }
    None
}

pub(super) fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty or null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One server of a config, as `client list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerInfo {
    pub name: String,
    pub kind: ServerKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum ServerKind {
    /// Starts through `mcp-warden run RUN_NAME`.
    Wrapped { run_name: String },
    /// A local server started by its own command.
    NotWrapped,
    /// Reached over the network (`url`, or type http/sse): nothing to wrap.
    Remote,
    /// An entry that is neither (no command, wrong types).
    Invalid { reason: String },
}

pub(super) fn classify(v: &Value) -> ServerKind {
    let Some(obj) = v.as_object() else {
        return ServerKind::Invalid {
            reason: format!("the entry is {}, not an object", describe(v)),
        };
    };
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
    if obj.contains_key("url")
        || matches!(ty, "http" | "sse" | "streamable-http" | "streamableHttp")
    {
        return ServerKind::Remote;
    }
    if !matches!(ty, "" | "stdio") {
        return ServerKind::Invalid {
            reason: format!("unknown server type `{ty}`"),
        };
    }
    let Some(command) = obj.get("command").and_then(Value::as_str) else {
        return ServerKind::Invalid {
            reason: "it has no `command` string".to_string(),
        };
    };
    let args = match string_array(obj.get("args")) {
        Ok(a) => a,
        Err(reason) => return ServerKind::Invalid { reason },
    };
    match wrapped_name(command, &args) {
        Some(run_name) => ServerKind::Wrapped { run_name },
        None => ServerKind::NotWrapped,
    }
}

pub(super) fn string_array(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "`args` holds a value that is not a string".to_string())
            })
            .collect(),
        Some(other) => Err(format!("`args` is {}, not an array", describe(other))),
    }
}

/// The last component of a command, in either separator, lowercased and
/// without a Windows extension: `C:\x\NPX.CMD` and `/usr/bin/npx` are `npx`.
pub(super) fn base_name(command: &str) -> String {
    let last = command.rsplit(['/', '\\']).next().unwrap_or(command);
    let lower = last.to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat"] {
        if let Some(stem) = lower.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    lower
}

/// `mcp-warden … run NAME …` names NAME.
pub(super) fn wrapped_name(command: &str, args: &[String]) -> Option<String> {
    if base_name(command) != "mcp-warden" || args.first().map(String::as_str) != Some("run") {
        return None;
    }
    args.get(1).cloned()
}
