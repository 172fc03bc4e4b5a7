//! Tool, prompt and resource pins: what a server's lists said the first
//! time they were seen for one artifact digest, and what changed since.
//!
//! One JSON file per server and digest under the data dir
//! (`pins/<server>/<sha256>.json`), replaced atomically. Each definition
//! is kept in canonical form (only the fields that steer a model, keys
//! sorted), so comparing two definitions is comparing two values, and the
//! digest of a whole list is the SHA-256 of the canonical JSON array of
//! its definitions sorted by name (the form `[servers.tools] pinned`
//! ships).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

use crate::fsutil::{self, ReadError};

/// A pin file far beyond this is not one mcp-warden wrote.
pub const MAX_PIN_FILE: u64 = 64 << 20;
/// Items per kind kept in a store (pins and pending each).
pub const MAX_ITEMS: usize = 10_000;

/// What a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Tools,
    Prompts,
    Resources,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Tools, Kind::Prompts, Kind::Resources];

    /// The list method (`tools/list`) and the key of its items in a result.
    pub fn method(self) -> &'static str {
        match self {
            Kind::Tools => "tools/list",
            Kind::Prompts => "prompts/list",
            Kind::Resources => "resources/list",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Kind::Tools => "tools",
            Kind::Prompts => "prompts",
            Kind::Resources => "resources",
        }
    }

    /// One item, for messages: "tool", "prompt", "resource".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Tools => "tool",
            Kind::Prompts => "prompt",
            Kind::Resources => "resource",
        }
    }

    /// The audit record's kind when a pinned item of this list changed.
    pub fn changed(self) -> crate::audit::GuardKind {
        match self {
            Kind::Tools => crate::audit::GuardKind::ToolChanged,
            Kind::Prompts => crate::audit::GuardKind::PromptChanged,
            Kind::Resources => crate::audit::GuardKind::ResourceChanged,
        }
    }

    pub fn from_list_method(m: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.method() == m)
    }

    pub fn from_changed_notification(m: &str) -> Option<Kind> {
        match m {
            "notifications/tools/list_changed" => Some(Kind::Tools),
            "notifications/prompts/list_changed" => Some(Kind::Prompts),
            "notifications/resources/list_changed" => Some(Kind::Resources),
            _ => None,
        }
    }

    /// The fields of an item that are pinned.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Tools => &[
                "name",
                "title",
                "description",
                "inputSchema",
                "outputSchema",
                "annotations",
            ],
            Kind::Prompts => &["name", "title", "description", "arguments"],
            Kind::Resources => &["uri", "name", "title", "description", "mimeType"],
        }
    }

    /// The field that names an item: resources are named by URI (names
    /// need not be unique there).
    fn id_field(self) -> &'static str {
        match self {
            Kind::Resources => "uri",
            _ => "name",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("cannot read the pin file: {0}")]
    Read(ReadError),
    #[error("{path}: not a pin file mcp-warden wrote: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the pin file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{0}` is not a usable server name for pins")]
    BadServer(String),
    #[error("`{0}` is not a SHA-256 digest in hex")]
    BadDigest(String),
    #[error("`{0}` is not an argument variant (16 hex digits, as run and approve print them)")]
    BadVariant(String),
}

impl crate::diag::Diagnose for PinError {
    fn code(&self) -> crate::diag::Code {
        crate::diag::Code::CacheError
    }

    fn hint(&self) -> Option<String> {
        let hint = match self {
            PinError::Invalid { .. } => Some(
                "remove the file: the next run pins the server's lists again (check them with `mcp-warden approve NAME`)",
            ),
            PinError::Write { .. } => {
                Some("check that the data directory is writable (or pass --home DIR)")
            }
            PinError::BadServer(_) | PinError::BadDigest(_) => {
                Some("pins are kept per server name and artifact digest from servers.lock")
            }
            PinError::BadVariant(_) => Some(
                "copy the variant from the message that sent you to approve, or give the server's arguments after `--`",
            ),
            PinError::Read(_) => None,
        };
        hint.map(str::to_string)
    }
}

/// The file: pinned and pending definitions per kind, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinFile {
    pub version: u32,
    #[serde(default)]
    pub pinned: BTreeMap<Kind, BTreeMap<String, Value>>,
    /// Changed or new definitions seen after the pin, waiting for
    /// `mcp-warden approve`.
    #[serde(default)]
    pub pending: BTreeMap<Kind, BTreeMap<String, Value>>,
}

/// The pins of one server at one artifact digest.
#[derive(Debug, Clone)]
pub struct PinStore {
    path: PathBuf,
    pub file: PinFile,
}

/// The argument variant of a launch: `None` when the server gets no
/// arguments beyond its entry point's, else the first 16 hex digits of a
/// SHA-256 over them (each length-prefixed, so `a b` and `ab` differ).
/// The same server with other arguments may list other tools, so each
/// variant has its own pins and approvals; no argument text is kept.
pub fn variant<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Option<String> {
    use sha2::Digest as _;
    use std::os::unix::ffi::OsStrExt as _;
    if args.is_empty() {
        return None;
    }
    let mut h = sha2::Sha256::new();
    for a in args {
        let b = a.as_ref().as_bytes();
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    }
    Some(hex::encode(&h.finalize()[..8]))
}

/// A variant as [`variant`] writes it.
pub fn valid_variant(v: &str) -> bool {
    v.len() == 16 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The pin file's path for `server` at `digest` (hex, or `sha256:HEX`)
/// and argument `variant`: `DATA/pins/DIR/DIGEST.json` without
/// arguments, `DATA/pins/DIR/DIGEST+VARIANT.json` with, DIR as
/// [`crate::names::server_dir_name`] says.
pub fn pin_path(
    data_dir: &Path,
    server: &str,
    digest: &str,
    variant: Option<&str>,
) -> Result<PathBuf, PinError> {
    let Some(dir) = crate::names::server_dir_name(server) else {
        return Err(PinError::BadServer(crate::text::quoted(server, 140)));
    };
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PinError::BadDigest(digest.to_string()));
    }
    let hex = hex.to_ascii_lowercase();
    let file = match variant {
        None => format!("{hex}.json"),
        Some(v) if valid_variant(v) => format!("{hex}+{v}.json"),
        Some(v) => return Err(PinError::BadVariant(crate::text::quoted(v, 40))),
    };
    Ok(data_dir.join("pins").join(dir).join(file))
}

/// The variants of `server` at `digest` with changes pending approval
/// (`None`: the one without arguments), for `approve` to point at.
pub fn pending_variants(data_dir: &Path, server: &str, digest: &str) -> Vec<Option<String>> {
    let Ok(base) = pin_path(data_dir, server, digest, None) else {
        return Vec::new();
    };
    let (Some(dir), Some(stem)) = (base.parent(), base.file_stem()) else {
        return Vec::new();
    };
    let stem = stem.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten().take(10_000) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(&stem)
            .and_then(|r| r.strip_suffix(".json"))
        else {
            continue;
        };
        let variant = match rest.strip_prefix('+') {
            None if rest.is_empty() => None,
            Some(v) if valid_variant(v) => Some(v.to_string()),
            _ => continue,
        };
        if PinStore::open(data_dir, server, digest, variant.as_deref())
            .is_ok_and(|s| s.has_pending())
        {
            out.push(variant);
        }
    }
    out.sort();
    out
}

/// Before names with `/` were mapped, their pins sat in nested
/// directories (`pins/a/b/DIGEST.json`); moving such a file to the mapped
/// path keeps what was approved, rather than pinning anew whatever the
/// server says next.
fn adopt_nested_pins(data_dir: &Path, server: &str, path: &Path) {
    if !server.contains('/') || path.exists() {
        return;
    }
    let Some(file) = path.file_name() else {
        return;
    };
    let old = data_dir.join("pins").join(server).join(file);
    if std::fs::symlink_metadata(&old).is_ok_and(|m| m.is_file()) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::rename(&old, path) {
            tracing::warn!("cannot move the pins at {}: {e}", old.display());
        }
    }
}

impl PinStore {
    /// Opens (reads, when it exists) the pins of `server` at `digest`
    /// for the argument `variant` ([`variant`]).
    pub fn open(
        data_dir: &Path,
        server: &str,
        digest: &str,
        variant: Option<&str>,
    ) -> Result<PinStore, PinError> {
        let path = pin_path(data_dir, server, digest, variant)?;
        if variant.is_none() {
            adopt_nested_pins(data_dir, server, &path);
        }
        let mut s = PinStore {
            path,
            file: PinFile {
                version: 1,
                ..PinFile::default()
            },
        };
        s.reload()?;
        Ok(s)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file again (another process, `approve`, may have
    /// changed it). A missing file is an empty store. Returns whether
    /// anything changed.
    pub fn reload(&mut self) -> Result<bool, PinError> {
        let file = match fsutil::read_bounded(&self.path, MAX_PIN_FILE) {
            Ok(bytes) => {
                let f: PinFile = serde_json::from_slice(&bytes).map_err(|e| PinError::Invalid {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
                if f.version != 1 {
                    return Err(PinError::Invalid {
                        path: self.path.clone(),
                        message: format!("version {}, this mcp-warden reads version 1", f.version),
                    });
                }
                f
            }
            Err(ReadError::Missing { .. }) => PinFile {
                version: 1,
                ..PinFile::default()
            },
            Err(e) => return Err(PinError::Read(e)),
        };
        let changed = file != self.file;
        self.file = file;
        Ok(changed)
    }

    pub fn save(&self) -> Result<(), PinError> {
        let mut text = serde_json::to_vec_pretty(&self.file).map_err(|e| PinError::Invalid {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        text.push(b'\n');
        fsutil::write_atomic(&self.path, &text).map_err(|source| PinError::Write {
            path: self.path.clone(),
            source,
        })
    }

    pub fn pinned(&self, kind: Kind) -> Option<&BTreeMap<String, Value>> {
        self.file.pinned.get(&kind).filter(|m| !m.is_empty())
    }

    pub fn pin(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.file.pinned.get(&kind)?.get(name)
    }

    pub fn has_pending(&self) -> bool {
        self.file.pending.values().any(|m| !m.is_empty())
    }

    /// Records `def` as the pin of `name` (at most [`MAX_ITEMS`] per kind).
    pub fn set_pin(&mut self, kind: Kind, name: &str, def: Value) -> bool {
        let m = self.file.pinned.entry(kind).or_default();
        if m.len() >= MAX_ITEMS && !m.contains_key(name) {
            return false;
        }
        m.insert(name.to_string(), def);
        true
    }

    /// Records `def` as pending for `name`; returns whether that is new.
    pub fn set_pending(&mut self, kind: Kind, name: &str, def: &Value) -> bool {
        let m = self.file.pending.entry(kind).or_default();
        if m.get(name) == Some(def) || (m.len() >= MAX_ITEMS && !m.contains_key(name)) {
            return false;
        }
        m.insert(name.to_string(), def.clone());
        true
    }

    /// Makes every pending definition the pin; returns what was approved.
    pub fn approve_all(&mut self) -> Vec<(Kind, String)> {
        let mut done = Vec::new();
        let pending = std::mem::take(&mut self.file.pending);
        for (kind, items) in pending {
            for (name, def) in items {
                self.file
                    .pinned
                    .entry(kind)
                    .or_default()
                    .insert(name.clone(), def);
                done.push((kind, name));
            }
        }
        done
    }

    /// The digest of the pinned list of `kind` (see [`list_digest`]).
    pub fn digest(&self, kind: Kind) -> String {
        match self.file.pinned.get(&kind) {
            Some(m) => list_digest(m),
            None => list_digest(&BTreeMap::new()),
        }
    }
}

/// `sha256:HEX` of the canonical JSON array of the definitions, sorted by
/// name (a `BTreeMap` iterates in that order).
pub fn list_digest(defs: &BTreeMap<String, Value>) -> String {
    let mut text = String::from("[");
    for (i, v) in defs.values().enumerate() {
        if i > 0 {
            text.push(',');
        }
        canonical_into(v, &mut text);
    }
    text.push(']');
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    )
}

/// An item's name and its canonical definition: only the pinned fields,
/// keys sorted. `None` when the item has no string name (uri).
pub fn definition(kind: Kind, item: &Value) -> Option<(String, Value)> {
    let obj = item.as_object()?;
    let name = obj.get(kind.id_field())?.as_str()?.to_string();
    let mut out = serde_json::Map::new();
    let mut fields: Vec<&str> = kind.fields().to_vec();
    fields.sort_unstable();
    for f in fields {
        if let Some(v) = obj.get(f) {
            out.insert(f.to_string(), sorted(v));
        }
    }
    Some((name, Value::Object(out)))
}

/// A copy with object keys sorted at every level (the map keeps
/// insertion order under serde_json's `preserve_order`).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            let mut out = serde_json::Map::with_capacity(m.len());
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Canonical JSON: keys sorted by their UTF-8 bytes, no whitespace,
/// strings escaped as serde_json does.
pub fn canonical_json(v: &Value) -> String {
    let mut s = String::new();
    canonical_into(v, &mut s);
    s
}

fn canonical_into(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(k, out);
                out.push(':');
                canonical_into(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_into(x, out);
            }
            out.push(']');
        }
        Value::String(s) => push_string(s, out),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
}

fn push_string(s: &str, out: &mut String) {
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

/// `sha256:HEX` of the canonical JSON of `v`.
pub fn value_digest(v: &Value) -> String {
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(canonical_json(v).as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let v: Value =
            serde_json::from_str(r#"{ "b": [1, {"z":1, "a":"é\n"}], "a": null }"#).unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"a":null,"b":[1,{"a":"é\n","z":1}]}"#
        );
    }

    #[test]
    fn definition_keeps_pinned_fields_only() {
        let t = json!({"name":"x","description":"d","inputSchema":{"type":"object"},"icons":[1],"_meta":{}});
        let (n, d) = definition(Kind::Tools, &t).unwrap();
        assert_eq!(n, "x");
        assert_eq!(
            canonical_json(&d),
            r#"{"description":"d","inputSchema":{"type":"object"},"name":"x"}"#
        );
        assert!(definition(Kind::Tools, &json!({"name": 3})).is_none());
        let (u, _) = definition(Kind::Resources, &json!({"uri":"file:///a","name":"a"})).unwrap();
        assert_eq!(u, "file:///a");
    }

    #[test]
    fn store_round_trip_pending_and_approve() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = PinStore::open(dir.path(), "srv", D, None).unwrap();
        assert!(s.pinned(Kind::Tools).is_none());
        s.set_pin(Kind::Tools, "a", json!({"name":"a"}));
        let before = s.digest(Kind::Tools);
        assert!(s.set_pending(Kind::Tools, "a", &json!({"name":"a","description":"evil"})));
        assert!(!s.set_pending(Kind::Tools, "a", &json!({"name":"a","description":"evil"})));
        s.save().unwrap();
        let mut t = PinStore::open(dir.path(), "srv", D, None).unwrap();
        assert!(t.has_pending());
        assert_eq!(t.approve_all(), vec![(Kind::Tools, "a".to_string())]);
        assert_ne!(t.digest(Kind::Tools), before);
        t.save().unwrap();
        assert!(s.reload().unwrap());
        assert!(!s.has_pending());
        assert_eq!(s.pin(Kind::Tools, "a").unwrap()["description"], "evil");
    }

    #[test]
    fn registry_names_get_one_directory_and_keep_nested_pins() {
        let dir = tempfile::tempdir().unwrap();
        let d = D.to_ascii_lowercase();
        assert_eq!(
            pin_path(dir.path(), "io.github.acme/srv", D, None).unwrap(),
            dir.path().join(format!("pins/io.github.acme+srv/{d}.json"))
        );
        assert_eq!(
            pin_path(dir.path(), "srv", D, None).unwrap(),
            dir.path().join(format!("pins/srv/{d}.json"))
        );
        // Pins written where the unmapped name put them are adopted.
        let old = dir.path().join(format!("pins/acme/srv/{d}.json"));
        let mut s = PinStore::open(dir.path(), "acme/srv", D, None).unwrap();
        s.set_pin(Kind::Tools, "a", json!({"name":"a"}));
        s.save().unwrap();
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        std::fs::rename(s.path(), &old).unwrap();
        let t = PinStore::open(dir.path(), "acme/srv", D, None).unwrap();
        assert_eq!(t.path(), s.path());
        assert!(t.pin(Kind::Tools, "a").is_some());
        assert!(!old.exists());
    }

    #[test]
    fn bad_names_and_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            PinStore::open(dir.path(), "../x", D, None),
            Err(PinError::BadServer(_))
        ));
        assert!(matches!(
            PinStore::open(dir.path(), "x", "abc", None),
            Err(PinError::BadDigest(_))
        ));
        let p = pin_path(dir.path(), "x", D, None).unwrap();
        fsutil::write_atomic(&p, b"{\"version\":1,\"pinned\":{\"tools\":").unwrap();
        assert!(matches!(
            PinStore::open(dir.path(), "x", D, None),
            Err(PinError::Invalid { .. })
        ));
        fsutil::write_atomic(&p, b"{\"version\":2}").unwrap();
        assert!(matches!(
            PinStore::open(dir.path(), "x", D, None),
            Err(PinError::Invalid { .. })
        ));
    }

    #[test]
    fn each_argument_variant_has_its_own_pins() {
        let dir = tempfile::tempdir().unwrap();
        let d = D.to_ascii_lowercase();
        assert_eq!(variant::<&str>(&[]), None);
        let a = variant(&["/srv/a"]).unwrap();
        let b = variant(&["/srv/b"]).unwrap();
        assert!(valid_variant(&a) && a != b);
        // Length-prefixed: other splits of the same bytes differ.
        assert_ne!(variant(&["a b"]), variant(&["a", "b"]));
        assert_ne!(variant(&["ab", ""]), variant(&["a", "b"]));
        assert_eq!(
            pin_path(dir.path(), "srv", D, Some(&a)).unwrap(),
            dir.path().join(format!("pins/srv/{d}+{a}.json"))
        );
        for bad in ["", "../../x", "ABCDEF0123456789", "0123"] {
            assert!(
                matches!(
                    PinStore::open(dir.path(), "srv", D, Some(bad)),
                    Err(PinError::BadVariant(_))
                ),
                "{bad}"
            );
        }
        let mut sa = PinStore::open(dir.path(), "srv", D, Some(&a)).unwrap();
        sa.set_pin(Kind::Tools, "read", json!({"name":"read"}));
        sa.set_pending(
            Kind::Tools,
            "read",
            &json!({"name":"read","description":"x"}),
        );
        sa.save().unwrap();
        let plain = PinStore::open(dir.path(), "srv", D, None).unwrap();
        assert!(plain.pin(Kind::Tools, "read").is_none());
        let sb = PinStore::open(dir.path(), "srv", D, Some(&b)).unwrap();
        assert!(sb.pin(Kind::Tools, "read").is_none());
        assert_eq!(pending_variants(dir.path(), "srv", D), vec![Some(a)]);
    }

    #[test]
    fn list_digest_is_order_independent_and_sensitive() {
        let mut a = BTreeMap::new();
        a.insert("b".to_string(), json!({"name":"b"}));
        a.insert("a".to_string(), json!({"name":"a"}));
        let d = list_digest(&a);
        assert!(d.starts_with("sha256:") && d.len() == 71);
        a.insert("a".to_string(), json!({"name":"a","description":"x"}));
        assert_ne!(list_digest(&a), d);
    }
}
