//! A CycloneDX 1.6 SBOM of what `add` resolved and laid out: the server's
//! own package as `metadata.component`, every package of its pinned tree
//! as a component (purl, the pinned hashes, the licence its own metadata
//! declares, where it was fetched from) and the dependency graph between
//! them.
//!
//! The document is a function of the lock entry and the verified tree
//! alone: components and edges are sorted, it carries no time, and the
//! serial number is derived from the tree digest, so the same tree pinned
//! under the same name always gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::diag::{Code, Diagnose};
use crate::fsutil;
use crate::lock::Entry;
use crate::source::ArtifactKind;

/// The largest `package.json` or `METADATA` read.
const MAX_METADATA: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{package}: cannot read its metadata for the SBOM: {detail}")]
    Metadata { package: String, detail: String },
    #[error("cannot make the SBOM: {0}")]
    Internal(String),
}

impl Diagnose for GenerateError {
    fn code(&self) -> Code {
        match self {
            GenerateError::Metadata { .. } => Code::PackageMetadataInvalid,
            GenerateError::Internal(_) => Code::Internal,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            GenerateError::Metadata { .. } => Some(
                "the package's own metadata (package.json, METADATA) is malformed; pin a version whose metadata is valid, or ask its publisher".into(),
            ),
            GenerateError::Internal(_) => None,
        }
    }
}

/// The generated document and what a report should say about it.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The CycloneDX JSON, byte for byte what is stored and printed.
    pub bytes: Vec<u8>,
    /// `name@version` of the packages whose metadata declares no licence
    /// that is a valid SPDX expression (none is invented for them).
    pub without_license: Vec<String>,
}

/// One package of the tree, as the SBOM describes it.
struct Node {
    purl: String,
    name: String,
    group: Option<String>,
    version: String,
    hashes: Vec<(&'static str, String)>,
    license: Option<String>,
    distribution: Option<String>,
    /// Names it depends on, resolved to purls afterwards.
    depends: Vec<String>,
}

/// The SBOM of the server `server` pinned as `entry`, its packages read
/// from `tree` (the entry's verified tree; `None` for a single file).
pub fn generate(
    server: &str,
    entry: &Entry,
    tree: Option<&Path>,
) -> Result<Generated, GenerateError> {
    let npm = entry.kind == ArtifactKind::NpmTarball;
    let pypi = entry.kind == ArtifactKind::Wheel;
    let (top_name, top_version) = top_identity(server, entry);
    let mut top_hashes = vec![("SHA-256", entry.sha256.clone())];
    if let Some(s) = &entry.sha512 {
        top_hashes.push(("SHA-512", s.clone()));
    }
    // (path in the tree, node); the top at "".
    let mut nodes: Vec<(String, Node)> = Vec::new();
    if npm {
        let dir = tree.map(npm_root).transpose()?;
        let pj = match &dir {
            Some(d) => Some(read_package_json(d, &top_name)?),
            None => None,
        };
        let top_purl = npm_purl(&top_name, &top_version)?;
        let (group, name) = split_scope(&top_name);
        nodes.push((
            String::new(),
            Node {
                purl: top_purl.clone(),
                name,
                group,
                version: top_version.clone(),
                hashes: top_hashes,
                license: pj.as_ref().and_then(npm_license),
                distribution: None,
                depends: pj.as_ref().map(npm_dependencies).unwrap_or_default(),
            },
        ));
        for p in &entry.packages {
            let about = format!("{}@{}", p.name, p.version);
            let pj = match &dir {
                Some(d) => read_package_json(&d.join(&p.path), &about)?,
                None => Value::Null,
            };
            let mut hashes = vec![("SHA-256", p.sha256.clone())];
            if let Some(h) = sri_hex(&p.integrity, "sha512") {
                hashes.push(("SHA-512", h));
            }
            let (group, name) = split_scope(&p.name);
            nodes.push((
                p.path.clone(),
                Node {
                    purl: npm_purl(&p.name, &p.version)?,
                    name,
                    group,
                    version: p.version.clone(),
                    hashes,
                    license: npm_license(&pj),
                    distribution: Some(p.resolved.clone()),
                    depends: npm_dependencies(&pj),
                },
            ));
        }
    } else if pypi {
        let top_info = match tree {
            Some(t) => Some(top_dist_info(t, &top_name, &top_version)?),
            None => None,
        };
        let top_purl = pypi_purl(&top_name, &top_version)?;
        let meta = match (&top_info, tree) {
            (Some(i), Some(t)) => Some(read_metadata(&t.join(i), &top_name)?),
            _ => None,
        };
        nodes.push((
            String::new(),
            Node {
                purl: top_purl.clone(),
                name: crate::source::spec::normalize_pypi_name(&top_name),
                group: None,
                version: top_version.clone(),
                hashes: top_hashes,
                license: meta.as_ref().and_then(|m| pypi_license(m)),
                distribution: None,
                depends: meta.as_ref().map(|m| pypi_requires(m)).unwrap_or_default(),
            },
        ));
        for p in &entry.packages {
            let about = format!("{}=={}", p.name, p.version);
            let meta = match tree {
                Some(t) => Some(read_metadata(&t.join(&p.path), &about)?),
                None => None,
            };
            nodes.push((
                p.path.clone(),
                Node {
                    purl: pypi_purl(&p.name, &p.version)?,
                    name: crate::source::spec::normalize_pypi_name(&p.name),
                    group: None,
                    version: p.version.clone(),
                    hashes: vec![("SHA-256", p.sha256.clone())],
                    license: meta.as_ref().and_then(|m| pypi_license(m)),
                    distribution: Some(p.resolved.clone()),
                    depends: meta.as_ref().map(|m| pypi_requires(m)).unwrap_or_default(),
                },
            ));
        }
    } else {
        // A single file or an archive of another kind: the one component.
        nodes.push((
            String::new(),
            Node {
                purl: String::new(),
                name: top_name.clone(),
                group: None,
                version: top_version.clone(),
                hashes: top_hashes,
                license: None,
                distribution: None,
                depends: Vec::new(),
            },
        ));
    }

    // The graph: npm by node's lookup from each package's directory
    // upward; PyPI by normalised name (one version of each in a tree).
    let by_path: BTreeMap<&str, &str> = nodes
        .iter()
        .map(|(path, n)| (path.as_str(), n.purl.as_str()))
        .collect();
    let by_pypi_name: BTreeMap<String, &str> = nodes
        .iter()
        .map(|(_, n)| (n.name.clone(), n.purl.as_str()))
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut components: BTreeMap<String, Value> = BTreeMap::new();
    let mut without_license = BTreeSet::new();
    let mut top_component = Value::Null;
    for (path, n) in &nodes {
        let mut edges = BTreeSet::new();
        for d in &n.depends {
            let to = if npm {
                npm_lookup(&by_path, path, d)
            } else {
                by_pypi_name.get(d).copied()
            };
            if let Some(to) = to
                && to != n.purl
            {
                edges.insert(to.to_string());
            }
        }
        if !n.purl.is_empty() {
            graph.entry(n.purl.clone()).or_default().extend(edges);
        }
        let c = component(n, path.is_empty() && !npm && !pypi);
        if n.license.is_none() && (npm || pypi) {
            let full = match &n.group {
                Some(g) => format!("{g}/{}@{}", n.name, n.version),
                None => format!("{}@{}", n.name, n.version),
            };
            without_license.insert(full);
        }
        if path.is_empty() {
            top_component = c;
        } else {
            // The same release at two places in a tree is one component.
            components.entry(n.purl.clone()).or_insert(c);
        }
    }
    let seed = entry
        .tree_digest
        .clone()
        .unwrap_or_else(|| entry.sha256.clone());
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial(&seed),
        "version": 1,
        "metadata": {
            "tools": {"components": [{
                "type": "application",
                "name": "mcp-warden",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": top_component,
            "properties": [{"name": "mcp-warden:server", "value": server}],
        },
        "components": components.into_values().collect::<Vec<_>>(),
        "dependencies": graph
            .into_iter()
            .map(|(r, to)| json!({"ref": r, "dependsOn": to.into_iter().collect::<Vec<_>>()}))
            .collect::<Vec<_>>(),
    });
    let mut bytes =
        serde_json::to_vec_pretty(&doc).map_err(|e| GenerateError::Internal(e.to_string()))?;
    bytes.push(b'\n');
    Ok(Generated {
        bytes,
        without_license: without_license.into_iter().collect(),
    })
}

fn component(n: &Node, bare: bool) -> Value {
    let mut c = serde_json::Map::new();
    c.insert(
        "type".into(),
        json!(if bare { "application" } else { "library" }),
    );
    if !bare {
        c.insert("bom-ref".into(), json!(n.purl));
    }
    if let Some(g) = &n.group {
        c.insert("group".into(), json!(g));
    }
    c.insert("name".into(), json!(n.name));
    if !n.version.is_empty() {
        c.insert("version".into(), json!(n.version));
    }
    c.insert(
        "hashes".into(),
        json!(
            n.hashes
                .iter()
                .map(|(alg, h)| json!({"alg": alg, "content": h}))
                .collect::<Vec<_>>()
        ),
    );
    if let Some(l) = &n.license {
        c.insert("licenses".into(), json!([{"expression": l}]));
    }
    if !bare {
        c.insert("purl".into(), json!(n.purl));
    }
    if let Some(d) = &n.distribution {
        c.insert(
            "externalReferences".into(),
            json!([{"type": "distribution", "url": d}]),
        );
    }
    Value::Object(c)
}

/// `urn:uuid:` of a version-4-shaped UUID made from the tree digest.
fn serial(seed: &str) -> String {
    let d = sha2::Sha256::digest(format!("mcp-warden sbom {seed}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The server's own package name and version: from its source.
fn top_identity(server: &str, entry: &Entry) -> (String, String) {
    let version = entry.version.clone().unwrap_or_default();
    if let Some(rest) = entry.source.strip_prefix("npm:")
        && let Some(at) = rest.rfind('@').filter(|&i| i > 0)
    {
        return (rest[..at].to_string(), version);
    }
    if let Some(rest) = entry.source.strip_prefix("pypi:") {
        let name = rest
            .split(['=', '<', '>', '!', '~', '[', ' '])
            .next()
            .unwrap_or(rest);
        return (name.to_string(), version);
    }
    (server.to_string(), version)
}

fn split_scope(name: &str) -> (Option<String>, String) {
    match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => (Some(scope.to_string()), n.to_string()),
        _ => (None, name.to_string()),
    }
}

/// `pkg:npm/%40scope/name@1.2.3`, by the purl spec's encoding.
pub fn npm_purl(name: &str, version: &str) -> Result<String, GenerateError> {
    let bad = |e: packageurl::Error| GenerateError::Metadata {
        package: format!("{name}@{version}"),
        detail: format!("no package URL: {e}"),
    };
    let (scope, n) = split_scope(name);
    let mut p = packageurl::PackageUrl::new("npm", n).map_err(bad)?;
    if let Some(s) = scope {
        p.with_namespace(s).map_err(bad)?;
    }
    p.with_version(version.to_string()).map_err(bad)?;
    Ok(p.to_string())
}

/// `pkg:pypi/name@1.2.3`, the name normalised (PEP 503).
pub fn pypi_purl(name: &str, version: &str) -> Result<String, GenerateError> {
    let bad = |e: packageurl::Error| GenerateError::Metadata {
        package: format!("{name}=={version}"),
        detail: format!("no package URL: {e}"),
    };
    let mut p = packageurl::PackageUrl::new("pypi", crate::source::spec::normalize_pypi_name(name))
        .map_err(bad)?;
    p.with_version(version.to_string()).map_err(bad)?;
    Ok(p.to_string())
}

/// The hex of the first `alg` digest of an SRI string.
fn sri_hex(sri: &str, alg: &str) -> Option<String> {
    sri.split_whitespace().find_map(|t| {
        let (a, b64) = t.split_once('-')?;
        (a == alg)
            .then(|| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .flatten()
            .map(hex::encode)
    })
}

/// The npm package's directory in its tree: the root of a laid-out tree,
/// or the one directory of an unpacked tarball.
fn npm_root(tree: &Path) -> Result<std::path::PathBuf, GenerateError> {
    if std::fs::symlink_metadata(tree.join("package.json")).is_ok_and(|m| m.is_file()) {
        return Ok(tree.to_path_buf());
    }
    crate::deps::npm::package_dir(tree).map_err(|detail| GenerateError::Metadata {
        package: "the server's package".into(),
        detail,
    })
}

fn read_package_json(dir: &Path, about: &str) -> Result<Value, GenerateError> {
    let bad = |detail: String| GenerateError::Metadata {
        package: crate::text::printable(about, 200),
        detail,
    };
    let bytes = fsutil::read_bounded(&dir.join("package.json"), MAX_METADATA)
        .map_err(|e| bad(e.to_string()))?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("package.json is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(bad("package.json is not an object".into()));
    }
    Ok(v)
}

/// A valid SPDX expression, as written (trimmed).
fn spdx_expression(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 1000 {
        return None;
    }
    spdx::Expression::parse(t).ok().map(|_| t.to_string())
}

/// package.json `license` (an SPDX expression), or the legacy `licenses`
/// array (each an alternative, as npm documents: `(A OR B)`).
fn npm_license(pj: &Value) -> Option<String> {
    match pj.get("license") {
        Some(Value::String(s)) => return spdx_expression(s),
        Some(Value::Object(o)) => {
            return o
                .get("type")
                .and_then(Value::as_str)
                .and_then(spdx_expression);
        }
        _ => {}
    }
    let list = pj.get("licenses")?.as_array()?;
    let mut parts = Vec::new();
    for l in list {
        let t = match l {
            Value::String(s) => s.as_str(),
            Value::Object(o) => o.get("type").and_then(Value::as_str)?,
            _ => return None,
        };
        parts.push(spdx_expression(t)?);
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => spdx_expression(&format!(
            "({})",
            parts
                .iter()
                .map(|p| if p.contains(' ') {
                    format!("({p})")
                } else {
                    p.clone()
                })
                .collect::<Vec<_>>()
                .join(" OR ")
        )),
    }
}

/// The names a package.json depends on (dependencies, optional and peer).
fn npm_dependencies(pj: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["dependencies", "optionalDependencies", "peerDependencies"]
        .iter()
        .filter_map(|k| pj.get(*k).and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Node's rule: `dep` from the package at `from` is the nearest
/// `node_modules/dep` in its directory or one above it.
fn npm_lookup<'a>(by_path: &BTreeMap<&str, &'a str>, from: &str, dep: &str) -> Option<&'a str> {
    let mut dir = from;
    loop {
        let candidate = if dir.is_empty() {
            format!("node_modules/{dep}")
        } else {
            format!("{dir}/node_modules/{dep}")
        };
        if let Some(p) = by_path.get(candidate.as_str()) {
            return Some(p);
        }
        if dir.is_empty() {
            return None;
        }
        dir = match dir.rfind("/node_modules/") {
            Some(i) => &dir[..i],
            None => "",
        };
    }
}

/// The top wheel's `NAME-VERSION.dist-info` in the tree.
fn top_dist_info(tree: &Path, name: &str, version: &str) -> Result<String, GenerateError> {
    let want = crate::source::spec::normalize_pypi_name(name);
    let rd = std::fs::read_dir(tree).map_err(|e| GenerateError::Metadata {
        package: name.into(),
        detail: e.to_string(),
    })?;
    let mut found: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|f| {
            f.strip_suffix(".dist-info")
                .and_then(|s| s.rsplit_once('-'))
                .is_some_and(|(n, v)| {
                    crate::source::spec::normalize_pypi_name(n) == want && v == version
                })
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .next()
        .ok_or_else(|| GenerateError::Metadata {
            package: format!("{name}=={version}"),
            detail: "no *.dist-info directory of it in the tree".into(),
        })
}

/// The header fields of a `METADATA` file (RFC 822 style, folded lines
/// joined), in order.
fn read_metadata(info: &Path, about: &str) -> Result<Vec<(String, String)>, GenerateError> {
    let bad = |detail: String| GenerateError::Metadata {
        package: crate::text::printable(about, 200),
        detail,
    };
    let text = fsutil::read_text_bounded(&info.join("METADATA"), MAX_METADATA)
        .map_err(|e| bad(e.to_string()))?;
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(bad(format!(
                "METADATA line `{}` is not a header",
                crate::text::printable(line, 80)
            )));
        };
        out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    if !out.iter().any(|(k, _)| k == "name") {
        return Err(bad("METADATA has no Name".into()));
    }
    Ok(out)
}

/// `License-Expression`; else `License` when it is one SPDX id; else the
/// one `License ::` classifier that names exactly one SPDX licence.
fn pypi_license(meta: &[(String, String)]) -> Option<String> {
    let get = |k: &str| meta.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(e) = get("license-expression") {
        return spdx_expression(e);
    }
    if let Some(l) = get("license") {
        let l = l.trim();
        if spdx::license_id(l).is_some() {
            return Some(l.to_string());
        }
    }
    let mapped: BTreeSet<&str> = meta
        .iter()
        .filter(|(k, _)| k == "classifier")
        .filter_map(|(_, v)| v.strip_prefix("License ::"))
        .filter_map(|c| classifier(c.rsplit("::").next().unwrap_or("").trim()))
        .collect();
    match mapped.len() {
        1 => mapped.into_iter().next().map(str::to_string),
        // Several licences: whether both apply or either does is not said.
        _ => None,
    }
}

/// Trove classifiers that name one SPDX licence (and version).
fn classifier(c: &str) -> Option<&'static str> {
    Some(match c {
        "MIT License" => "MIT",
        "MIT No Attribution License (MIT-0)" => "MIT-0",
        "BSD Zero Clause License (0BSD)" => "0BSD",
        "ISC License (ISCL)" => "ISC",
        "Apache License 2.0" | "Apache Software License 2.0" => "Apache-2.0",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "GNU Affero General Public License v3" => "AGPL-3.0-only",
        "GNU General Public License v2 (GPLv2)" => "GPL-2.0-only",
        "GNU General Public License v3 (GPLv3)" => "GPL-3.0-only",
        "GNU Lesser General Public License v3 (LGPLv3)" => "LGPL-3.0-only",
        "GNU Lesser General Public License v2 (LGPLv2)" => "LGPL-2.0-only",
        "Python Software Foundation License" => "PSF-2.0",
        "The Unlicense (Unlicense)" => "Unlicense",
        "zlib/libpng License" => "Zlib",
        "Boost Software License 1.0 (BSL-1.0)" => "BSL-1.0",
        "Universal Permissive License (UPL)" => "UPL-1.0",
        _ => return None,
    })
}

/// The PEP 503 names of `Requires-Dist` without an `extra` marker (no
/// extra of the server is installed; other markers were pip's to decide,
/// and only what it installed is in the tree).
fn pypi_requires(meta: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = meta
        .iter()
        .filter(|(k, _)| k == "requires-dist")
        .filter_map(|(_, v)| {
            let (req, marker) = v.split_once(';').unwrap_or((v, ""));
            if marker.contains("extra") {
                return None;
            }
            let end = req
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                .unwrap_or(req.len());
            let name = req[..end].trim();
            (!name.is_empty()).then(|| crate::source::spec::normalize_pypi_name(name))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_follow_the_spec() {
        assert_eq!(
            npm_purl("@modelcontextprotocol/sdk", "1.32.2").unwrap(),
            "pkg:npm/%40modelcontextprotocol/sdk@1.32.2"
        );
        assert_eq!(npm_purl("zod", "4.6.7").unwrap(), "pkg:npm/zod@4.6.7");
        assert_eq!(
            pypi_purl("Typing_Extensions", "4.15.0").unwrap(),
            "pkg:pypi/typing-extensions@4.15.0"
        );
    }

    #[test]
    fn node_lookup_takes_the_nearest_node_modules() {
        let m: BTreeMap<&str, &str> = [
            ("node_modules/a", "A"),
            ("node_modules/b", "B1"),
            ("node_modules/a/node_modules/b", "B2"),
            ("node_modules/@s/c", "C"),
        ]
        .into();
        assert_eq!(npm_lookup(&m, "node_modules/a", "b"), Some("B2"));
        assert_eq!(npm_lookup(&m, "node_modules/@s/c", "b"), Some("B1"));
        assert_eq!(
            npm_lookup(&m, "node_modules/a/node_modules/b", "a"),
            Some("A")
        );
        assert_eq!(npm_lookup(&m, "", "@s/c"), Some("C"));
        assert_eq!(npm_lookup(&m, "", "missing"), None);
    }

    #[test]
    fn licences_are_read_never_invented() {
        assert_eq!(
            npm_license(&json!({"license": "MIT"})).as_deref(),
            Some("MIT")
        );
        assert_eq!(
            npm_license(&json!({"license": "(MIT OR GPL-3.0-or-later)"})).as_deref(),
            Some("(MIT OR GPL-3.0-or-later)")
        );
        assert_eq!(
            npm_license(&json!({"license": "SEE LICENSE IN LICENSE"})),
            None
        );
        assert_eq!(npm_license(&json!({})), None);
        assert_eq!(
            npm_license(&json!({"licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}]})).as_deref(),
            Some("(MIT OR Apache-2.0)")
        );
        let meta = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            pypi_license(&meta(&[("license-expression", "BSD-3-Clause")])).as_deref(),
            Some("BSD-3-Clause")
        );
        assert_eq!(
            pypi_license(&meta(&[("license", "MIT")])).as_deref(),
            Some("MIT")
        );
        assert_eq!(
            pypi_license(&meta(&[
                ("license", "see file"),
                ("classifier", "License :: OSI Approved :: MIT License")
            ]))
            .as_deref(),
            Some("MIT")
        );
        // "Apache Software License" names no version: nothing is guessed.
        assert_eq!(
            pypi_license(&meta(&[(
                "classifier",
                "License :: OSI Approved :: Apache Software License"
            )])),
            None
        );
        assert_eq!(
            pypi_license(&meta(&[
                ("classifier", "License :: OSI Approved :: MIT License"),
                (
                    "classifier",
                    "License :: OSI Approved :: ISC License (ISCL)"
                )
            ])),
            None
        );
    }

    #[test]
    fn requirements_with_extras_are_left_out() {
        let m: Vec<(String, String)> = [
            ("requires-dist", "anyio>=4.5"),
            (
                "requires-dist",
                "Typing_Extensions; python_version < \"3.13\"",
            ),
            ("requires-dist", "pytest; extra == \"test\""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pypi_requires(&m), ["anyio", "typing-extensions"]);
    }

    fn entry(kind: ArtifactKind) -> Entry {
        Entry {
            source: "./server.bin".into(),
            url: None,
            version: None,
            package_source: None,
            sha256: "a".repeat(64),
            sha512: Some("b".repeat(128)),
            size: 1,
            kind,
            tree: None,
            tree_digest: None,
            signers: Vec::new(),
            signed: Vec::new(),
            unsigned: None,
            evidence: Vec::new(),
            pinned: "2026-11-21T09:00:00Z".into(),
            run: Default::default(),
            evidence_files: Vec::new(),
            receipt: None,
            packages: Vec::new(),
            sbom: None,
        }
    }

    #[test]
    fn a_single_file_is_one_schema_valid_component_and_stable() {
        let e = entry(ArtifactKind::File);
        let a = generate("tool", &e, None).unwrap();
        let b = generate("tool", &e, None).unwrap();
        assert_eq!(a.bytes, b.bytes);
        // The official 1.6 schema checks it as it is read back.
        let sbom = crate::sbom::parse(&a.bytes).unwrap();
        assert_eq!(
            sbom.format,
            crate::sbom::Format::CycloneDx {
                spec_version: "1.6".into(),
                encoding: crate::sbom::Encoding::Json
            }
        );
        assert!(sbom.components.is_empty());
        let top = sbom.top.unwrap();
        assert_eq!(top.name, "tool");
        assert!(
            top.hashes
                .iter()
                .any(|(a, h)| a == "sha256" && *h == "a".repeat(64))
        );
        let v: Value = serde_json::from_slice(&a.bytes).unwrap();
        assert!(v["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
        assert!(v["metadata"].get("timestamp").is_none());
    }
}
