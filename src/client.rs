//! MCP client configs (Claude Desktop, Cursor, VS Code): read them, and
//! rewrite each local (stdio) server so that it starts through
//! `mcp-warden run NAME`.
//!
//! Edits go through a concrete syntax tree (`jsonc-parser`), so key order,
//! layout and, in VS Code's JSONC, comments stay as the user wrote them;
//! only the `command`, `args` and moved `env` entries of wrapped servers
//! change. Every rewrite is checked by parsing the result again before
//! anything is written.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstRootNode};
use serde::Serialize;
use serde_json::Value;

use crate::fsutil::{self, ReadError};

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

impl ClientError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
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

/// A parsed client config: the text as read and where it came from.
pub struct Config {
    pub kind: ClientKind,
    /// The file itself (symlinks resolved, so a rewrite replaces the file
    /// and not the link).
    pub path: PathBuf,
    text: String,
    value: Value,
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

    fn servers_value(&self) -> Vec<(&str, &Value)> {
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

fn parse_cst(kind: ClientKind, path: &Path, text: &str) -> Result<CstRootNode, ClientError> {
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

fn duplicate_key(node: &CstNode) -> Option<String> {
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

fn describe(v: &Value) -> &'static str {
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

fn classify(v: &Value) -> ServerKind {
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

fn string_array(v: Option<&Value>) -> Result<Vec<String>, String> {
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
fn base_name(command: &str) -> String {
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
fn wrapped_name(command: &str, args: &[String]) -> Option<String> {
    if base_name(command) != "mcp-warden" || args.first().map(String::as_str) != Some("run") {
        return None;
    }
    args.get(1).cloned()
}

/// What a server's own command turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Launch {
    /// `npx`, `uvx`, `node`, `python` or `binary`.
    pub launcher: &'static str,
    /// The arguments meant for the server itself (after the package,
    /// script or module).
    pub server_args: Vec<String>,
    /// A source for `mcp-warden add` (may hold a `<version>` placeholder).
    pub source: String,
}

/// Launchers that run something mcp-warden cannot pin from the command
/// line alone (a container, a shell string, another package runner).
const OPAQUE: &[(&str, &str)] = &[
    ("docker", "runs the server in a container image"),
    ("podman", "runs the server in a container image"),
    ("sh", "runs a shell command"),
    ("bash", "runs a shell command"),
    ("zsh", "runs a shell command"),
    ("dash", "runs a shell command"),
    ("fish", "runs a shell command"),
    ("cmd", "runs a shell command"),
    ("powershell", "runs a shell command"),
    ("pwsh", "runs a shell command"),
    ("env", "runs another command"),
    ("sudo", "runs another command"),
    ("npm", "runs a package script"),
    ("pnpm", "runs a package script"),
    ("pnpx", "runs a package"),
    ("yarn", "runs a package script"),
    ("bun", "runs a package or script"),
    ("bunx", "runs a package"),
    ("deno", "runs a script with its own permissions"),
    ("uv", "runs a project or tool"),
    ("pipx", "runs a package"),
];

/// Understands `npx [-y|--yes] PKG ARGS`, `uvx PKG ARGS`, `node SCRIPT
/// ARGS`, `python -m MOD ARGS` / `python SCRIPT ARGS` and a direct binary;
/// anything else is refused with the reason, so the server stays as it is.
pub fn parse_launcher(command: &str, args: &[String]) -> Result<Launch, String> {
    let base = base_name(command);
    if let Some((_, why)) = OPAQUE.iter().find(|(n, _)| *n == base) {
        return Err(format!(
            "`{base}` {why}; mcp-warden cannot tell which artifact it would run"
        ));
    }
    let unknown_flag = |f: &str| Err(format!("`{base}` option `{}` is not understood", shown(f)));
    match base.as_str() {
        "npx" => {
            let mut i = 0;
            while args.get(i).is_some_and(|a| a == "-y" || a == "--yes") {
                i += 1;
            }
            let Some(pkg) = args.get(i) else {
                return Err("`npx` without a package".to_string());
            };
            if pkg.starts_with('-') {
                return unknown_flag(pkg);
            }
            let (name, version) = npm_spec(pkg).ok_or_else(|| {
                format!("`{}` is not a package from the npm registry", shown(pkg))
            })?;
            Ok(Launch {
                launcher: "npx",
                server_args: args[i + 1..].to_vec(),
                source: format!("npm:{name}@{}", version.unwrap_or("<version>")),
            })
        }
        "uvx" => {
            let Some(pkg) = args.first() else {
                return Err("`uvx` without a package".to_string());
            };
            if pkg.starts_with('-') {
                return unknown_flag(pkg);
            }
            let (name, version) = pypi_spec(pkg)
                .ok_or_else(|| format!("`{}` is not a package from PyPI", shown(pkg)))?;
            Ok(Launch {
                launcher: "uvx",
                server_args: args[1..].to_vec(),
                source: format!("pypi:{name}=={}", version.unwrap_or("<version>")),
            })
        }
        "node" | "nodejs" => {
            let Some(script) = args.first() else {
                return Err("`node` without a script".to_string());
            };
            if script.starts_with('-') {
                return unknown_flag(script);
            }
            Ok(Launch {
                launcher: "node",
                server_args: args[1..].to_vec(),
                source: script.clone(),
            })
        }
        b if is_python(b) => match args.first().map(String::as_str) {
            Some("-m") => {
                let Some(module) = args.get(1).filter(|m| !m.starts_with('-')) else {
                    return Err("`python -m` without a module".to_string());
                };
                Ok(Launch {
                    launcher: "python",
                    server_args: args[2..].to_vec(),
                    source: format!(
                        "pypi:{}==<version>",
                        module.split('.').next().unwrap_or(module).replace('_', "-")
                    ),
                })
            }
            Some(f) if f.starts_with('-') => unknown_flag(f),
            Some(script) => Ok(Launch {
                launcher: "python",
                server_args: args[1..].to_vec(),
                source: script.to_string(),
            }),
            None => Err("`python` without a script or module".to_string()),
        },
        _ if command.trim().is_empty() => Err("the command is empty".to_string()),
        _ if command.contains(char::is_whitespace) && !Path::new(command).exists() => Err(
            "the command holds spaces: a shell string, which mcp-warden does not split".to_string(),
        ),
        _ => Ok(Launch {
            launcher: "binary",
            server_args: args.to_vec(),
            source: resolve_binary(command),
        }),
    }
}

fn is_python(base: &str) -> bool {
    let Some(rest) = base.strip_prefix("python") else {
        return false;
    };
    rest.is_empty() || rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// `@scope/name@1.2.3` → (`@scope/name`, Some(`1.2.3`)); a tag or a range
/// gives no version; a git URL, a path or a tarball gives None.
fn npm_spec(spec: &str) -> Option<(&str, Option<&str>)> {
    let (name, version) = match spec.strip_prefix('@') {
        Some(rest) => match rest.find('@') {
            Some(i) => (&spec[..i + 1], Some(&rest[i + 1..])),
            None => (spec, None),
        },
        None => match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        },
    };
    let valid = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
    };
    let ok = match name.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(s, n)| valid(s) && valid(n)),
        None => valid(name),
    };
    ok.then_some((name, version.filter(|v| exact_version(v))))
}

/// `name==1.2`, `name@1.2`, `name[extra]==1.2` → (`name`, Some(`1.2`)).
fn pypi_spec(spec: &str) -> Option<(&str, Option<&str>)> {
    let (name, version) = match spec.split_once("==") {
        Some((n, v)) => (n, Some(v)),
        None => match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        },
    };
    let name = name.split('[').next().unwrap_or(name);
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    ok.then_some((name, version.filter(|v| exact_version(v))))
}

fn exact_version(v: &str) -> bool {
    v.starts_with(|c: char| c.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
}

/// A bare command name is looked up on PATH, as the client would.
fn resolve_binary(command: &str) -> String {
    if command.contains(['/', '\\']) {
        return command.to_string();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(command))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| command.to_string())
}

/// Whether an env entry looks like a credential: by its name, or by the
/// shape of its value. References (`${input:x}`, `${env:X}`) are not
/// literals and never count.
pub fn looks_secret(name: &str, value: &str) -> bool {
    if is_reference(value) || value.is_empty() {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    const NAMES: &[&str] = &[
        "TOKEN",
        "SECRET",
        "KEY",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "AUTH",
    ];
    if NAMES.iter().any(|n| upper.contains(n)) {
        return true;
    }
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "AKIA",
        "ASIA",
        "sk-",
        "xoxb-",
        "xoxp-",
        "xapp-",
        "Bearer ",
        "Basic ",
        // A JWT's header, `{"` in base64url.
        "eyJ",
    ];
    if PREFIXES.iter().any(|p| value.starts_with(p)) {
        return true;
    }
    high_entropy(value)
}

/// A `${...}` reference that the client resolves itself.
pub fn is_reference(value: &str) -> bool {
    value.contains("${")
}

/// A long token-like string: only base64/base62/hex characters (so not a
/// path, URL, package spec or sentence), and either mixed case with
/// digits at 3.5 bits of entropy per character or more (random tokens;
/// slugs like `mcp-server-fetch-2025` are lowercase), or 32+ hex digits.
fn high_entropy(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() < 20
        || b[0] == b'-'
        || b[0] == b'/'
        || !b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=_-".contains(c))
    {
        return false;
    }
    if b.len() >= 32 && b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    let mixed = b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_digit);
    if !mixed {
        return false;
    }
    let mut counts = [0u32; 256];
    for &c in b {
        counts[c as usize] += 1;
    }
    let n = b.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    entropy >= 3.5
}

/// What `install` does with one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// Rewritten to start through `mcp-warden run`.
    Wrap { launcher: &'static str },
    /// Starts through `mcp-warden run` already.
    AlreadyWrapped { run_name: String },
    /// A remote server: left alone.
    Remote,
    /// Left as it is, for `reason`.
    Skip { reason: String },
}

/// One server's part of an install.
#[derive(Debug, Clone, Serialize)]
pub struct ServerPlan {
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
    /// The variables passed through with `--env`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Secret-looking variables moved into the keychain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<String>,
    /// Secret-looking variables that stay literal in the config.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub literal_secrets: Vec<String>,
    /// How many arguments look like secrets: they stay in the config.
    #[serde(skip_serializing_if = "is_zero")]
    pub secret_args: usize,
    /// The source to pin it with (`mcp-warden add NAME SOURCE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// An argument that looks like a credential: by its shape, or as
/// `--token=VALUE` by the option's name.
pub fn arg_looks_secret(arg: &str) -> bool {
    looks_secret("", arg)
        || arg
            .split_once('=')
            .is_some_and(|(k, v)| looks_secret(k.trim_start_matches('-'), v))
}

/// An argument as it may be shown in a message.
fn shown(arg: &str) -> &str {
    if arg_looks_secret(arg) {
        "<redacted>"
    } else {
        arg
    }
}

/// Collects, as they appear in the text and as JSON would write them,
/// the string literals that look like secrets: by the key that holds them
/// or by their own shape.
fn collect_secrets(node: &CstNode, key: Option<&str>, out: &mut BTreeSet<String>) {
    if let Some(obj) = node.as_object() {
        for prop in obj.properties() {
            let name = prop.name().and_then(|n| n.decoded_value().ok());
            if let Some(v) = prop.value() {
                collect_secrets(&v, Some(name.as_deref().unwrap_or("")), out);
            }
        }
    } else if let Some(arr) = node.as_array() {
        for el in arr.elements() {
            collect_secrets(&el, None, out);
        }
    } else if let Some(lit) = node.as_string_lit() {
        let Ok(value) = lit.decoded_value() else {
            return;
        };
        let secret = arg_looks_secret(&value) || key.is_some_and(|k| looks_secret(k, &value));
        if secret {
            out.insert(node.to_string());
            if let Ok(q) = serde_json::to_string(&value) {
                out.insert(q);
            }
        }
    }
}

/// A secret to move: the value is private so that nothing prints it.
struct Move {
    server: String,
    var: String,
    value: String,
}

/// The rewrite `install` would make: per-server outcomes and the new text.
pub struct Plan {
    pub servers: Vec<ServerPlan>,
    old: String,
    new: String,
    moves: Vec<Move>,
    /// Secret literals as they appear in the text (quoted), for redaction.
    redact: Vec<String>,
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("servers", &self.servers)
            .field("changed", &self.changed())
            .finish_non_exhaustive()
    }
}

/// Placeholder for a secret value in anything printed.
pub const REDACTED: &str = "\"<redacted>\"";

impl Plan {
    pub fn changed(&self) -> bool {
        self.old != self.new
    }

    /// The new config text. It may hold literal secrets (those not moved):
    /// write it, never print it.
    pub fn new_text(&self) -> &str {
        &self.new
    }

    /// A unified diff old → new, with every secret literal redacted.
    pub fn diff(&self, label: &str) -> String {
        let old = self.redacted(&self.old);
        let new = self.redacted(&self.new);
        similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(3)
            .header(&format!("{label} (old)"), &format!("{label} (new)"))
            .to_string()
    }

    fn redacted(&self, text: &str) -> String {
        let mut out = text.to_string();
        for r in &self.redact {
            out = out.replace(r.as_str(), REDACTED);
        }
        out
    }
}

/// Plans the rewrite of `cfg`: each local server whose launcher is
/// understood starts through `warden run NAME`. `decide(server, vars)` is
/// asked, once per server with secret-looking literals in its `env`,
/// whether to move them into the keychain (true: they leave the config).
pub fn plan_install(
    cfg: &Config,
    warden: &Path,
    mut decide: impl FnMut(&str, &[String]) -> bool,
) -> Result<Plan, ClientError> {
    let warden_str = warden.to_str().ok_or_else(|| ClientError::SelfCheck {
        path: cfg.path.clone(),
        message: "the path of mcp-warden is not valid UTF-8".to_string(),
    })?;
    let root = parse_cst(cfg.kind, &cfg.path, &cfg.text)?;
    let servers_obj = root
        .object_value()
        .and_then(|o| o.object_value(cfg.kind.servers_key()));
    let mut plans = Vec::new();
    let mut moves = Vec::new();
    // Every secret-looking string anywhere in the file (env values, args,
    // remote servers' headers) is redacted from the diff: unchanged lines
    // show up in it as context.
    let mut redact = BTreeSet::new();
    if let Some(v) = root.value() {
        collect_secrets(&v, None, &mut redact);
    }
    for (name, value) in cfg.servers_value() {
        let mut plan = ServerPlan {
            name: name.to_string(),
            action: Action::Remote,
            env: Vec::new(),
            moved: Vec::new(),
            literal_secrets: Vec::new(),
            secret_args: 0,
            source: None,
        };
        if let Some(args) = value.get("args").and_then(Value::as_array) {
            plan.secret_args = args
                .iter()
                .filter(|a| a.as_str().is_some_and(arg_looks_secret))
                .count();
        }
        plan.action = match classify(value) {
            ServerKind::Remote => Action::Remote,
            ServerKind::Invalid { reason } => Action::Skip { reason },
            ServerKind::Wrapped { run_name } => Action::AlreadyWrapped { run_name },
            ServerKind::NotWrapped => {
                // `run` refuses such a name, so the wrapped server would
                // never start: refuse the install as a whole, before any
                // edit, rather than write a config that cannot work.
                if let Some(var) = unpassable_env(value) {
                    return Err(ClientError::EnvName {
                        path: cfg.path.clone(),
                        server: name.escape_debug().take(140).collect(),
                        var: var.escape_debug().take(140).collect(),
                    });
                }
                match wrap(&mut plan, value, warden_str, &mut decide, &mut moves) {
                    Ok(edit) => {
                        let Some(obj) = servers_obj.as_ref().and_then(|o| o.object_value(name))
                        else {
                            return Err(ClientError::SelfCheck {
                                path: cfg.path.clone(),
                                message: format!("server `{name}` vanished from the syntax tree"),
                            });
                        };
                        apply_edit(&obj, &edit);
                        Action::Wrap {
                            launcher: edit.launcher,
                        }
                    }
                    Err(reason) => Action::Skip { reason },
                }
            }
        };
        plans.push(plan);
    }
    let new = root.to_string();
    let plan = Plan {
        servers: plans,
        old: cfg.text.clone(),
        new,
        moves,
        redact: redact.into_iter().collect(),
    };
    check_rewrite(cfg, &plan, warden_str)?;
    Ok(plan)
}

/// The new `command`/`args` of a server and the env entries to drop.
struct Edit {
    launcher: &'static str,
    args: Vec<String>,
    drop_env: Vec<String>,
    command: String,
}

fn wrap(
    plan: &mut ServerPlan,
    value: &Value,
    warden: &str,
    decide: &mut impl FnMut(&str, &[String]) -> bool,
    moves: &mut Vec<Move>,
) -> Result<Edit, String> {
    let obj = value.as_object().ok_or("not an object")?;
    if !crate::lock::valid_server_name(&plan.name) {
        return Err(format!(
            "its name is not one mcp-warden can pin ({}); rename it in the config first",
            crate::lock::SERVER_NAME_RULE
        ));
    }
    if obj.contains_key("envFile") {
        return Err(
            "it reads variables from `envFile`, which mcp-warden cannot pass through by name"
                .to_string(),
        );
    }
    let command = obj.get("command").and_then(Value::as_str).unwrap_or("");
    let args = string_array(obj.get("args"))?;
    let launch = parse_launcher(command, &args)?;
    let mut env_literals: Vec<(String, String)> = Vec::new();
    match obj.get("env") {
        None | Some(Value::Null) => {}
        Some(Value::Object(env)) => {
            for (k, v) in env {
                let Some(s) = v.as_str() else {
                    return Err(format!("env `{k}` is {}, not a string", describe(v)));
                };
                if !crate::launch::env::valid_name(k) {
                    return Err(format!("env `{k}` is not a valid variable name"));
                }
                env_literals.push((k.clone(), s.to_string()));
            }
        }
        Some(other) => return Err(format!("`env` is {}, not an object", describe(other))),
    }
    let secrets: Vec<String> = env_literals
        .iter()
        .filter(|(k, v)| looks_secret(k, v))
        .map(|(k, _)| k.clone())
        .collect();
    let move_them = !secrets.is_empty() && decide(&plan.name, &secrets);
    let mut new_args = vec!["run".to_string(), plan.name.clone()];
    for (k, v) in env_literals {
        if secrets.contains(&k) {
            if move_them {
                plan.moved.push(k.clone());
                moves.push(Move {
                    server: plan.name.clone(),
                    var: k,
                    value: v,
                });
                continue;
            }
            plan.literal_secrets.push(k.clone());
        }
        new_args.push("--env".to_string());
        new_args.push(k.clone());
        plan.env.push(k);
    }
    if !launch.server_args.is_empty() {
        new_args.push("--".to_string());
        new_args.extend(launch.server_args.iter().cloned());
    }
    plan.source = Some(launch.source.clone());
    Ok(Edit {
        launcher: launch.launcher,
        args: new_args,
        drop_env: plan.moved.clone(),
        command: warden.to_string(),
    })
}

/// The first `env` key that `run --env` would refuse: `run` and install
/// share one rule ([`crate::launch::env::valid_name`]).
fn unpassable_env(server: &Value) -> Option<&str> {
    server
        .get("env")?
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| !crate::launch::env::valid_name(k))
}

fn apply_edit(obj: &CstObject, edit: &Edit) {
    let args = CstInputValue::Array(
        edit.args
            .iter()
            .map(|a| CstInputValue::String(a.clone()))
            .collect(),
    );
    let command = obj.get("command");
    if let Some(c) = &command {
        c.set_value(CstInputValue::String(edit.command.clone()));
    }
    match obj.get("args") {
        Some(a) => a.set_value(args),
        None => {
            let at = command.map_or(0, |c| c.property_index() + 1);
            obj.insert(at, "args", args);
        }
    }
    if let Some(env) = obj.object_value("env") {
        for var in &edit.drop_env {
            if let Some(p) = env.get(var) {
                p.remove();
            }
        }
    }
}

/// Parses the rewritten text again and checks it says what was meant:
/// the same comments, the same top-level keys and servers in the same
/// order, untouched servers equal, wrapped ones changed only in
/// `command`, `args` and the moved `env` entries.
fn check_rewrite(cfg: &Config, plan: &Plan, warden: &str) -> Result<(), ClientError> {
    let fail = |message: String| ClientError::SelfCheck {
        path: cfg.path.clone(),
        message,
    };
    let new_root = parse_cst(cfg.kind, &cfg.path, &plan.new)
        .map_err(|e| fail(format!("it does not parse: {e}")))?;
    let old_root = parse_cst(cfg.kind, &cfg.path, &plan.old)
        .map_err(|e| fail(format!("the original does not parse: {e}")))?;
    if comments(&old_root) != comments(&new_root) {
        return Err(fail("a comment would be lost or changed".to_string()));
    }
    let new = new_root
        .value()
        .and_then(|v| v.to_serde_value())
        .unwrap_or(Value::Null);
    let (Some(old_top), Some(new_top)) = (cfg.value.as_object(), new.as_object()) else {
        return Err(fail("the top level is no longer an object".to_string()));
    };
    if !old_top.keys().eq(new_top.keys()) {
        return Err(fail("the top-level keys changed".to_string()));
    }
    let key = cfg.kind.servers_key();
    for (k, v) in old_top {
        if k != key && new_top.get(k) != Some(v) {
            return Err(fail(format!("`{k}` changed")));
        }
    }
    let empty = serde_json::Map::new();
    let old_servers = old_top
        .get(key)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_servers = new_top
        .get(key)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !old_servers.keys().eq(new_servers.keys()) {
        return Err(fail("the server names changed".to_string()));
    }
    for p in &plan.servers {
        let (Some(old), Some(new)) = (old_servers.get(&p.name), new_servers.get(&p.name)) else {
            return Err(fail(format!("server `{}` is missing", p.name)));
        };
        if !matches!(p.action, Action::Wrap { .. }) {
            if old != new {
                return Err(fail(format!("server `{}` changed", p.name)));
            }
            continue;
        }
        let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
            return Err(fail(format!("server `{}` is not an object", p.name)));
        };
        if new.get("command").and_then(Value::as_str) != Some(warden)
            || wrapped_name(warden, &string_array(new.get("args")).unwrap_or_default()).as_deref()
                != Some(p.name.as_str())
        {
            return Err(fail(format!("server `{}` is not wrapped", p.name)));
        }
        for (k, v) in old {
            match k.as_str() {
                "command" | "args" => {}
                "env" => {
                    let mut want = v.clone();
                    if let Some(m) = want.as_object_mut() {
                        for var in &p.moved {
                            m.shift_remove(var);
                        }
                    }
                    if new.get("env") != Some(&want) {
                        return Err(fail(format!("the env of `{}` changed", p.name)));
                    }
                }
                _ if new.get(k) != Some(v) => {
                    return Err(fail(format!("`{k}` of server `{}` changed", p.name)));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn comments(root: &CstRootNode) -> Vec<String> {
    fn walk(node: &CstNode, out: &mut Vec<String>) {
        if let Some(c) = node.as_comment() {
            out.push(c.raw_value());
        }
        for child in node.children() {
            walk(&child, out);
        }
    }
    let mut out = Vec::new();
    for child in root.children() {
        walk(&child, &mut out);
    }
    out
}

/// What an applied install left behind.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The copy of the original file (mode 0600: it holds whatever
    /// secrets the original held).
    pub backup: PathBuf,
}

/// Carries out `plan` on `cfg`: moves the secrets through `store(server,
/// var, value)`, writes a backup of the original beside it, then replaces
/// the file atomically with its permissions kept. Whatever fails first
/// leaves the config as it was.
pub fn apply_install<E: fmt::Display>(
    cfg: &Config,
    plan: Plan,
    mut store: impl FnMut(&str, &str, String) -> Result<(), E>,
) -> Result<Option<Applied>, ClientError> {
    if !plan.changed() {
        return Ok(None);
    }
    let path = &cfg.path;
    let current =
        fsutil::read_bounded(path, MAX_CONFIG_BYTES).map_err(|source| ClientError::Read {
            client: cfg.kind,
            source,
        })?;
    if current != cfg.text.as_bytes() {
        return Err(ClientError::Changed { path: path.clone() });
    }
    let meta = fs::metadata(path).map_err(|source| ClientError::Write {
        path: path.clone(),
        source,
    })?;
    for m in plan.moves {
        let Move { server, var, value } = m;
        store(&server, &var, value).map_err(|e| ClientError::Secret {
            server: server.clone(),
            var: var.clone(),
            message: e.to_string(),
        })?;
    }
    let backup = write_backup(path, cfg.text.as_bytes())?;
    fsutil::write_atomic(path, plan.new.as_bytes()).map_err(|source| ClientError::Write {
        path: path.clone(),
        source,
    })?;
    // write_atomic's temporary file is 0600; give the config back its mode.
    fs::set_permissions(path, meta.permissions()).map_err(|source| ClientError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(Some(Applied { backup }))
}

/// `FILE.mcp-warden-backup-<UTC time>`, created new (never over another
/// file) with mode 0600.
fn write_backup(path: &Path, bytes: &[u8]) -> Result<PathBuf, ClientError> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".mcp-warden-backup-{stamp}"));
    let base = PathBuf::from(name);
    let mut last_err = None;
    for n in 0..100 {
        let candidate = if n == 0 {
            base.clone()
        } else {
            let mut s = base.as_os_str().to_owned();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        };
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        match opts.open(&candidate) {
            Ok(mut f) => {
                let written = f.write_all(bytes).and_then(|()| f.sync_all());
                if let Err(source) = written {
                    let _ = fs::remove_file(&candidate);
                    return Err(ClientError::Backup {
                        path: candidate,
                        source,
                    });
                }
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(source) => {
                return Err(ClientError::Backup {
                    path: candidate,
                    source,
                });
            }
        }
    }
    Err(ClientError::Backup {
        path: base,
        source: last_err.unwrap_or_else(|| io::Error::other("no free backup name")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn launchers() {
        let l = parse_launcher("npx", &s(&["-y", "@acme/gh-mcp@1.2.3", "--ro"])).unwrap();
        assert_eq!(l.source, "npm:@acme/gh-mcp@1.2.3");
        assert_eq!(l.server_args, s(&["--ro"]));
        let l = parse_launcher("/usr/bin/npx", &s(&["pkg"])).unwrap();
        assert_eq!(l.source, "npm:pkg@<version>");
        assert!(parse_launcher("npx", &s(&["-p", "x", "y"])).is_err());
        assert!(parse_launcher("npx", &s(&["github:u/r"])).is_err());
        let l = parse_launcher("uvx", &s(&["mcp-server-git==0.6.2", "--repo", "."])).unwrap();
        assert_eq!(l.source, "pypi:mcp-server-git==0.6.2");
        assert_eq!(l.server_args, s(&["--repo", "."]));
        assert!(parse_launcher("uvx", &s(&["--from", "x", "y"])).is_err());
        let l = parse_launcher("python3", &s(&["-m", "mcp_server_time", "--tz", "UTC"])).unwrap();
        assert_eq!(l.source, "pypi:mcp-server-time==<version>");
        assert_eq!(l.server_args, s(&["--tz", "UTC"]));
        let l = parse_launcher("node", &s(&["/srv/index.js", "a"])).unwrap();
        assert_eq!(
            (l.source.as_str(), l.server_args.len()),
            ("/srv/index.js", 1)
        );
        assert!(parse_launcher("node", &s(&["--inspect", "x.js"])).is_err());
        assert!(parse_launcher("docker", &s(&["run", "-i", "img"])).is_err());
        assert!(parse_launcher("sh", &s(&["-c", "x"])).is_err());
        assert!(parse_launcher("C:\\Windows\\cmd.exe", &s(&["/c", "npx"])).is_err());
        let l = parse_launcher("/opt/srv/bin/server", &s(&["--stdio"])).unwrap();
        assert_eq!(l.launcher, "binary");
        assert_eq!(l.source, "/opt/srv/bin/server");
    }

    #[test]
    fn args_are_added_after_command_and_duplicates_refused() {
        let text = r#"{"mcpServers": {"t": {"command": "/opt/t/bin/srv", "env": {"A": "1"}}}}"#;
        let cfg = Config::parse(ClientKind::Claude, Path::new("c.json"), text.into()).unwrap();
        let plan = plan_install(&cfg, Path::new("/w/mcp-warden"), |_, _| false).unwrap();
        let v: Value = serde_json::from_str(plan.new_text()).unwrap();
        let keys: Vec<&String> = v["mcpServers"]["t"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["command", "args", "env"]);
        assert_eq!(
            v["mcpServers"]["t"]["args"],
            serde_json::json!(["run", "t", "--env", "A"])
        );
        let dup = r#"{"mcpServers": {"t": {"command": "a"}, "t": {"command": "b"}}}"#;
        let err = Config::parse(ClientKind::Claude, Path::new("c.json"), dup.into()).unwrap_err();
        assert!(err.to_string().contains("`t` appears twice"), "{err}");
        let dup = r#"{"mcpServers": {"t": {"command": "a", "command": "b"}}}"#;
        assert!(Config::parse(ClientKind::Claude, Path::new("c.json"), dup.into()).is_err());
    }

    #[test]
    fn secrets() {
        assert!(looks_secret("GITHUB_PERSONAL_ACCESS_TOKEN", "abc"));
        assert!(looks_secret(
            "X",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        ));
        assert!(looks_secret("X", "AKIAIOSFODNN7EXAMPLE"));
        assert!(looks_secret("X", "xoxb-1-2-3"));
        assert!(looks_secret("X", "Bearer abc"));
        assert!(looks_secret("X", "q8Zr2LmX0vTn5Kp9Wd3Yh7Bc1Fg4Js6A"));
        assert!(!looks_secret("API_KEY", "${input:api_key}"));
        assert!(!looks_secret("LOG_LEVEL", "debug"));
        assert!(!looks_secret(
            "ROOT",
            "/home/someone/projects/a-long-directory-name2"
        ));
        assert!(!looks_secret("GREETING", "hello-world-this-is-long-1"));
        assert!(!looks_secret(
            "",
            "@modelcontextprotocol/server-filesystem@2025.8.21"
        ));
        assert!(!looks_secret("", "mcp-server-git==2025.7.1"));
        assert!(!looks_secret("", "mcp-server-fetch-2025-v2-final"));
        assert!(!looks_secret("", "/Users/Alice/Projects/App2024"));
        assert!(looks_secret("", "0123456789abcdef0123456789abcdef"));
        assert!(arg_looks_secret("--api-key=abc"));
        assert!(!arg_looks_secret("--repository=/tmp/x"));
    }

    #[test]
    fn jsonc_edit_keeps_comments_and_refuses_comment_loss() {
        let text = r#"{
  // my servers
  "servers": {
    "a": { "type": "stdio", "command": "npx", "args": ["-y", "pkg@1.0.0"] }, // trailing
    "b": { "command": "uvx", "args": [
      // a comment inside args would be lost
      "x==1"
    ] }
  },
  "inputs": [],
}
"#;
        let cfg = Config::parse(ClientKind::Vscode, Path::new("mcp.json"), text.into()).unwrap();
        let plan = plan_install(&cfg, Path::new("/bin/mcp-warden"), |_, _| false);
        // b's args hold a comment: the rewrite would drop it, so it fails closed.
        assert!(
            matches!(plan, Err(ClientError::SelfCheck { .. })),
            "{plan:?}"
        );
        let text = text.replace("// a comment inside args would be lost", "");
        let cfg = Config::parse(ClientKind::Vscode, Path::new("mcp.json"), text).unwrap();
        let plan = plan_install(&cfg, Path::new("/bin/mcp-warden"), |_, _| false).unwrap();
        assert!(plan.new_text().contains("// my servers"));
        assert!(plan.new_text().contains("// trailing"));
        assert!(
            plan.new_text()
                .contains(r#""args": ["run", "a"] }, // trailing"#)
        );
        assert!(plan.new_text().contains(r#""args": ["run", "b"]"#));
        // Claude Desktop's file is strict JSON: a comment is refused.
        let strict = Config::parse(ClientKind::Claude, Path::new("c.json"), "{\n// x\n}".into());
        assert!(
            matches!(strict, Err(ClientError::Syntax { line: 2, .. })),
            "{strict:?}"
        );
    }
}
