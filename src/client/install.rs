//! `client install`: the plan (which servers are wrapped, which secrets
//! move to the keychain) and its application, checked before writing.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstRootNode};
use serde::Serialize;
use serde_json::Value;

use crate::fsutil;

use super::config::{
    Config, ServerKind, classify, describe, parse_cst, string_array, wrapped_name,
};
use super::launcher::parse_launcher;
use super::secrets::{arg_looks_secret, looks_secret};
use super::{ClientError, MAX_CONFIG_BYTES};

/// The reason an unpinned server is not wrapped.
pub const NOT_PINNED: &str = "not pinned, and `mcp-warden run` starts only pinned servers";

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

pub(super) fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Collects, as they appear in the text and as JSON would write them,
/// the string literals that look like secrets: by the key that holds them
/// or by their own shape.
pub(super) fn collect_secrets(node: &CstNode, key: Option<&str>, out: &mut BTreeSet<String>) {
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
pub(super) struct Move {
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
/// A server is wrapped only if `pinned(name)`: `run` would refuse any
/// other, and the client would lose it.
pub fn plan_install(
    cfg: &Config,
    warden: &Path,
    pinned: &dyn Fn(&str) -> bool,
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
                        server: crate::text::quoted(name, 140),
                        var: crate::text::quoted(var, 140),
                    });
                }
                match wrap(
                    &mut plan,
                    value,
                    warden_str,
                    pinned,
                    &mut decide,
                    &mut moves,
                ) {
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
pub(super) struct Edit {
    launcher: &'static str,
    args: Vec<String>,
    drop_env: Vec<String>,
    command: String,
}

/// A server whose launcher `install` could pin before wrapping it: a
/// registry package (`npx PKG`, `uvx PKG`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pinnable {
    pub name: String,
    /// The source `mcp-warden add NAME SOURCE` would be given.
    pub source: String,
}

/// The local servers not wrapped yet, not `pinned`, that could be wrapped
/// once pinned, and whose launcher names a registry package to pin.
pub fn pin_candidates(cfg: &Config, pinned: &dyn Fn(&str) -> bool) -> Vec<Pinnable> {
    cfg.servers_value()
        .into_iter()
        .filter(|(name, v)| matches!(classify(v), ServerKind::NotWrapped) && !pinned(name))
        .filter(|(_, v)| unpassable_env(v).is_none())
        .filter_map(|(name, v)| {
            let (launch, _) = wrappable(name, v).ok()?;
            Some(Pinnable {
                name: name.to_string(),
                source: launch.pin_source?,
            })
        })
        .collect()
}

/// What a local server runs and its literal `env`, or why `install`
/// cannot wrap it.
pub(super) fn wrappable(
    name: &str,
    value: &Value,
) -> Result<(super::launcher::Launch, Vec<(String, String)>), String> {
    let obj = value.as_object().ok_or("not an object")?;
    if !crate::names::valid_server_name(name) {
        return Err(format!(
            "its name is not one mcp-warden can pin ({}); rename it in the config first",
            crate::names::SERVER_NAME_RULE
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
                if !crate::names::valid_env_name(k) {
                    return Err(format!("env `{k}` is not a valid variable name"));
                }
                env_literals.push((k.clone(), s.to_string()));
            }
        }
        Some(other) => return Err(format!("`env` is {}, not an object", describe(other))),
    }
    Ok((launch, env_literals))
}

pub(super) fn wrap(
    plan: &mut ServerPlan,
    value: &Value,
    warden: &str,
    pinned: &dyn Fn(&str) -> bool,
    decide: &mut impl FnMut(&str, &[String]) -> bool,
    moves: &mut Vec<Move>,
) -> Result<Edit, String> {
    let (launch, env_literals) = wrappable(&plan.name, value)?;
    plan.source = Some(launch.pin_source.clone().unwrap_or(launch.source.clone()));
    if !pinned(&plan.name) {
        return Err(NOT_PINNED.to_string());
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
    Ok(Edit {
        launcher: launch.launcher,
        args: new_args,
        drop_env: plan.moved.clone(),
        command: warden.to_string(),
    })
}

/// The first `env` key that `run --env` would refuse: `run` and install
/// share one rule ([`crate::names::valid_env_name`]).
pub(super) fn unpassable_env(server: &Value) -> Option<&str> {
    server
        .get("env")?
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| !crate::names::valid_env_name(k))
}

pub(super) fn apply_edit(obj: &CstObject, edit: &Edit) {
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
pub(super) fn check_rewrite(cfg: &Config, plan: &Plan, warden: &str) -> Result<(), ClientError> {
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
    let (old_servers, new_servers) =
        super::servers_alone_changed(cfg.kind.servers_key(), &cfg.value, &new).map_err(fail)?;
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

pub(super) fn comments(root: &CstRootNode) -> Vec<String> {
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
pub(super) fn write_backup(path: &Path, bytes: &[u8]) -> Result<PathBuf, ClientError> {
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
    use crate::client::*;

    #[test]
    fn args_are_added_after_command_and_duplicates_refused() {
        let text = r#"{"mcpServers": {"t": {"command": "/opt/t/bin/srv", "env": {"A": "1"}}}}"#;
        let cfg = Config::parse(ClientKind::Claude, Path::new("c.json"), text.into()).unwrap();
        let plan = plan_install(&cfg, Path::new("/w/mcp-warden"), &|_| true, |_, _| false).unwrap();
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
        let plan = plan_install(&cfg, Path::new("/bin/mcp-warden"), &|_| true, |_, _| false);
        // b's args hold a comment: the rewrite would drop it, so it fails closed.
        assert!(
            matches!(plan, Err(ClientError::SelfCheck { .. })),
            "{plan:?}"
        );
        let text = text.replace("// a comment inside args would be lost", "");
        let cfg = Config::parse(ClientKind::Vscode, Path::new("mcp.json"), text).unwrap();
        let plan =
            plan_install(&cfg, Path::new("/bin/mcp-warden"), &|_| true, |_, _| false).unwrap();
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
