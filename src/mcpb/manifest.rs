//! A bundle's `manifest.json`: read from the zip exactly as extraction
//! reads it, every entry name checked, and parsed into [`Manifest`].

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{MAX_ENTRIES, MAX_MANIFEST, McpbError};
use crate::archive::signed_zip;
use crate::fsutil;

/// The parts of `manifest.json` that mcp-warden uses; the rest is in `raw`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `manifest_version`, or `dxt_version` in older bundles.
    pub manifest_version: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub display_name: Option<String>,
    pub author: Option<String>,
    /// `node`, `python`, `binary` or `uv`.
    pub server_type: Option<String>,
    pub entry_point: Option<String>,
    pub mcp_config: Option<McpConfig>,
    pub user_config: BTreeMap<String, UserConfigField>,
    /// The whole document (at most [`MAX_MANIFEST`] bytes).
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpConfig {
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct UserConfigField {
    /// `string`, `number`, `boolean`, `directory` or `file`.
    pub kind: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub required: bool,
    pub sensitive: bool,
    pub default: Option<Value>,
}

/// Reads `manifest.json` from the root of the bundle. Every entry name is
/// checked for path tricks (the bundle is extracted later), the entry count
/// and the manifest size are bounded. The zip is read exactly as
/// extraction reads it: for a signed bundle, only the zip the signature
/// covers (see `archive::signed_zip`); no data outside its entries, no name twice.
pub fn read_manifest(bundle: &Path) -> Result<Manifest, McpbError> {
    let (mut file, meta) = fsutil::open_file(bundle)?;
    let bound = signed_zip::block_in(&mut file, meta.len(), bundle)?.map(|b| b.zip_bound());
    let layout =
        crate::archive::zip_layout::check(&mut file, meta.len(), bound, MAX_ENTRIES as u64)
            .map_err(|e| match e {
                crate::archive::ArchiveError::TooManyEntries { .. } => {
                    McpbError::TooManyEntries(MAX_ENTRIES as u64 + 1)
                }
                crate::archive::ArchiveError::Duplicate { entry }
                    if entry == "`manifest.json`" || entry == "`./manifest.json`" =>
                {
                    McpbError::ManifestDuplicate
                }
                crate::archive::ArchiveError::Corrupt { detail } => McpbError::Zip(detail),
                e => McpbError::Layout(e),
            })?;
    let view = crate::archive::zip_layout::ZipView::new(file, &layout);
    let config = zip::read::Config {
        archive_offset: zip::read::ArchiveOffset::Known(0),
    };
    let mut zip =
        zip::ZipArchive::with_config(config, view).map_err(|e| McpbError::Zip(e.to_string()))?;
    crate::archive::zip_layout::same_entries(&mut zip, &layout).map_err(McpbError::Layout)?;
    let mut manifests = 0;
    for name in zip.file_names() {
        let name = name.map_err(|e| McpbError::Zip(e.to_string()))?;
        if !safe_entry_name(&name) {
            return Err(McpbError::UnsafeEntry(name.to_string()));
        }
        if name == "manifest.json" {
            manifests += 1;
        }
    }
    match manifests {
        0 => return Err(McpbError::ManifestMissing),
        1 => {}
        _ => return Err(McpbError::ManifestDuplicate),
    }
    let entry = zip
        .by_name("manifest.json")
        .map_err(|e| McpbError::Zip(e.to_string()))?;
    if entry.size() > MAX_MANIFEST {
        return Err(McpbError::ManifestTooLarge);
    }
    let mut bytes = Vec::new();
    // The header's size may lie; the read is bounded either way.
    fsutil::read_at_most(entry, MAX_MANIFEST, &mut bytes).map_err(|e| match e {
        fsutil::LimitError::TooLarge { .. } => McpbError::ManifestTooLarge,
        fsutil::LimitError::Io(e) => McpbError::Zip(format!("manifest.json: {e}")),
    })?;
    parse_manifest(&bytes)
}

fn safe_entry_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && !name.split('/').any(|c| c == ".." || c.contains(':'))
}

/// Parses a manifest document (already bounded by the caller).
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, McpbError> {
    let bad = |m: String| McpbError::ManifestInvalid(m);
    let raw: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let obj = raw
        .as_object()
        .ok_or_else(|| bad("the document is not a JSON object".into()))?;
    let opt_str = |v: Option<&Value>, what: &str| -> Result<Option<String>, McpbError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("`{what}` is not a string"))),
        }
    };
    let name = opt_str(obj.get("name"), "name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("`name` is missing".into()))?;
    let manifest_version = match opt_str(obj.get("manifest_version"), "manifest_version")? {
        Some(v) => Some(v),
        None => opt_str(obj.get("dxt_version"), "dxt_version")?,
    };
    let author = match obj.get("author") {
        Some(Value::Object(a)) => opt_str(a.get("name"), "author.name")?,
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (mut server_type, mut entry_point, mut mcp_config) = (None, None, None);
    if let Some(server) = obj.get("server") {
        let server = server
            .as_object()
            .ok_or_else(|| bad("`server` is not an object".into()))?;
        server_type = opt_str(server.get("type"), "server.type")?;
        entry_point = opt_str(server.get("entry_point"), "server.entry_point")?;
        if let Some(c) = server.get("mcp_config") {
            let c = c
                .as_object()
                .ok_or_else(|| bad("`server.mcp_config` is not an object".into()))?;
            let command = opt_str(c.get("command"), "server.mcp_config.command")?
                .ok_or_else(|| bad("`server.mcp_config.command` is missing".into()))?;
            let args = match c.get("args") {
                None => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            bad("`server.mcp_config.args` holds a non-string".into())
                        })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(bad("`server.mcp_config.args` is not an array".into())),
            };
            let env = match c.get("env") {
                None => BTreeMap::new(),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        v.as_str()
                            .map(|s| (k.clone(), s.to_string()))
                            .ok_or_else(|| {
                                bad(format!("`server.mcp_config.env.{k}` is not a string"))
                            })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(bad("`server.mcp_config.env` is not an object".into())),
            };
            mcp_config = Some(McpConfig { command, args, env });
        }
    }
    let mut user_config = BTreeMap::new();
    if let Some(uc) = obj.get("user_config") {
        let uc = uc
            .as_object()
            .ok_or_else(|| bad("`user_config` is not an object".into()))?;
        for (k, v) in uc {
            let f = v
                .as_object()
                .ok_or_else(|| bad(format!("`user_config.{k}` is not an object")))?;
            let flag = |key: &str| f.get(key).and_then(Value::as_bool).unwrap_or(false);
            user_config.insert(
                k.clone(),
                UserConfigField {
                    kind: opt_str(f.get("type"), "user_config type")?,
                    title: opt_str(f.get("title"), "user_config title")?,
                    description: opt_str(f.get("description"), "user_config description")?,
                    required: flag("required"),
                    sensitive: flag("sensitive"),
                    default: f.get("default").cloned(),
                },
            );
        }
    }
    Ok(Manifest {
        manifest_version,
        version: opt_str(obj.get("version"), "version")?,
        display_name: opt_str(obj.get("display_name"), "display_name")?,
        name,
        author,
        server_type,
        entry_point,
        mcp_config,
        user_config,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_fields() {
        let m = parse_manifest(
            br#"{"manifest_version":"0.3","name":"x","version":"1.0.0",
                "server":{"type":"node","entry_point":"server/index.js",
                  "mcp_config":{"command":"node","args":["${__dirname}/server/index.js"],"env":{"K":"${user_config.k}"}}},
                "user_config":{"k":{"type":"string","sensitive":true,"required":true}}}"#,
        )
        .unwrap();
        assert_eq!(m.name, "x");
        assert_eq!(m.server_type.as_deref(), Some("node"));
        assert_eq!(m.mcp_config.unwrap().env["K"], "${user_config.k}");
        assert!(m.user_config["k"].sensitive);
        assert!(matches!(
            parse_manifest(b"[]"),
            Err(McpbError::ManifestInvalid(_))
        ));
        assert!(matches!(
            parse_manifest(br#"{"version":"1"}"#),
            Err(McpbError::ManifestInvalid(_))
        ));
    }

    #[test]
    fn entry_names() {
        assert!(safe_entry_name("server/index.js"));
        for bad in ["/etc/x", "../x", "a/../../x", "a\\b", "C:/x", ""] {
            assert!(!safe_entry_name(bad), "{bad}");
        }
    }
}
