//! Differential check of the components mcp-warden reads from an SBOM:
//! for every SBOM under `fixtures/sbom/` that `mcp_warden::sbom::parse`
//! accepts, the multiset of (name, version, package URLs) of its top
//! component and components must equal what the formats' own libraries
//! report, cyclonedx-python-lib for CycloneDX and spdx-tools for SPDX
//! (`sbom_reference.py` beside this file, run once for all files with the
//! venv scripts/test installs in `target/test-tools/py`). A component that
//! we miss, or read with another name, version or purl, is a component the
//! policy never judges as written.
//!
//! Purls are compared after a round trip through the `packageurl` crate on
//! both sides, so only differences of meaning remain. Files the reference
//! libraries cannot read are listed in [`REFERENCE_REFUSES`] with the
//! reason they give, and differences known today in [`KNOWN`]; both are
//! checked to still hold, so neither list can go stale silently.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use mcp_warden::sbom::{Component, Sbom};
use serde::Deserialize;

use super::support::util::*;

/// Files under `fixtures/sbom/` that are not SBOMs: the npm project the
/// generated ones were made from, and the notes.
fn not_an_sbom(rel: &str) -> bool {
    rel.starts_with("generated/project/") || rel.ends_with("README.md")
}

/// SBOMs mcp-warden refuses on purpose (so there is nothing to compare),
/// with a part of the error it must give.
const WE_REFUSE: &[(&str, &str)] = &[
    // The upstream example is checked in empty (see src/sbom/mod.rs).
    ("spdx/SPDXJSONExample-v2.2.spdx.json", "the SBOM is empty"),
    ("spdx/spdx3-package_sbom.jsonld.json", "SPDX 3"),
];

/// SBOMs that mcp-warden reads and a reference library refuses, with a
/// part of the reason it gives.
const REFERENCE_REFUSES: &[(&str, &str)] = &[
    // cyclonedx-python-lib 11.12.0 models `data[].classification` of a
    // service as a plain string; the spec's saasbom example writes an
    // object there.
    (
        "cyclonedx/spec-tests/1.5/valid-saasbom-1.5.json",
        "Unexpected key name/name in data being serialized to cyclonedx.model.DataClassification",
    ),
    (
        "cyclonedx/spec-tests/1.6/valid-saasbom-1.6.json",
        "Unexpected key name/name in data being serialized to cyclonedx.model.DataClassification",
    ),
    // spdx-tools 0.8.5 reads `created` only as `%Y-%m-%dT%H:%M:%SZ`; npm
    // writes milliseconds, which the SPDX schema allows.
    ("generated/npm-sbom-2.3.spdx.json", "does not match format"),
];

/// Differences known today, as the table below prints them: (file, row).
const KNOWN: &[(&str, &str)] = &[];

/// One component as the reference script reports it.
#[derive(Debug, Deserialize)]
struct RefComponent {
    name: String,
    version: Option<String>,
    purls: Vec<String>,
    /// CycloneDX `metadata.component`, or a package the SPDX document
    /// describes.
    top: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RefFile {
    Read {
        format: String,
        components: Vec<RefComponent>,
    },
    Refused {
        error: String,
    },
}

/// What is compared of a component: name, version, and its package URLs,
/// normalised and sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    name: String,
    version: Option<String>,
    purls: Vec<String>,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} | {} | {}",
            self.name,
            self.version.as_deref().unwrap_or("-"),
            if self.purls.is_empty() {
                "-".to_string()
            } else {
                self.purls.join(" ")
            }
        )
    }
}

/// A purl as the `packageurl` crate writes it back (so that escapes and
/// the order of qualifiers do not count), or the text as written, marked,
/// when the crate refuses it.
fn normalise_purl(p: &str) -> String {
    match packageurl::PackageUrl::from_str(p.trim()) {
        Ok(parsed) => parsed.to_string(),
        Err(_) => format!("(invalid) {p}"),
    }
}

/// Every package URL mcp-warden keeps for a component: today the one
/// `purl`. When the model carries further purls (SPDX packages may have
/// several), they belong here.
fn identifiers(c: &Component) -> Vec<String> {
    c.purl.iter().cloned().collect()
}

fn key(name: &str, version: Option<&str>, purls: impl IntoIterator<Item = String>) -> Key {
    let mut purls: Vec<String> = purls.into_iter().map(|p| normalise_purl(&p)).collect();
    purls.sort();
    purls.dedup();
    Key {
        name: name.to_string(),
        // An empty version is no version, on both sides.
        version: version.filter(|v| !v.is_empty()).map(str::to_string),
        purls,
    }
}

fn ours(c: &Component) -> Key {
    key(&c.name, c.version.as_deref(), identifiers(c))
}

fn theirs(c: &RefComponent) -> Key {
    key(&c.name, c.version.as_deref(), c.purls.iter().cloned())
}

/// The rows of the difference table for one file: components only one
/// side lists (as multisets), and a top component they disagree on.
fn differences(sbom: &Sbom, reference: &[RefComponent]) -> Vec<String> {
    let mut count: BTreeMap<Key, i64> = BTreeMap::new();
    for c in sbom.top.iter().chain(&sbom.components) {
        *count.entry(ours(c)).or_default() += 1;
    }
    for c in reference {
        *count.entry(theirs(c)).or_default() -= 1;
    }
    let mut rows = Vec::new();
    for (k, n) in count {
        let (side, times) = if n > 0 {
            ("only mcp-warden", n)
        } else {
            ("only reference", -n)
        };
        for _ in 0..times {
            rows.push(format!("{side} | {k}"));
        }
    }
    // The top is judged like any component, but it is also what the
    // policy binds to the artifact: it must be one the reference names so.
    let tops: Vec<Key> = reference.iter().filter(|c| c.top).map(theirs).collect();
    match &sbom.top {
        Some(t) if !tops.contains(&ours(t)) => rows.push(format!(
            "top differs | mcp-warden: {} | reference: {}",
            ours(t),
            if tops.is_empty() {
                "none".to_string()
            } else {
                tops.iter()
                    .map(Key::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        )),
        None if !tops.is_empty() => rows.push(format!(
            "top differs | mcp-warden: none | reference: {}",
            tops.iter()
                .map(Key::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )),
        _ => {}
    }
    rows
}

/// Every file under `dir`, as paths relative to `root`, sorted.
fn walk(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                files.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    files
}

/// Runs the reference script once over `files` (relative to `root`).
fn reference(root: &Path, files: &[&str]) -> Result<BTreeMap<String, RefFile>, String> {
    let python = test_tool("py/bin/python")?;
    let script: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/sbom_reference.py");
    let out = Command::new(&python)
        .arg(&script)
        .args(files)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}; run scripts/test", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}), likely a library missing from the venv (run scripts/test): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{} printed no JSON ({e}): {}",
            script.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn components_equal_the_official_libraries() {
    let root = fixture("sbom");
    let mut read: Vec<(String, Sbom)> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for rel in walk(&root) {
        // The spec tests' invalid documents are for the schema check.
        let invalid = rel.rsplit('/').next().unwrap_or("").starts_with("invalid-");
        if not_an_sbom(&rel) || invalid {
            continue;
        }
        let bytes = std::fs::read(root.join(&rel)).unwrap();
        match mcp_warden::sbom::parse(&bytes) {
            Ok(sbom) => read.push((rel, sbom)),
            Err(e) => match WE_REFUSE.iter().find(|(f, _)| *f == rel) {
                Some((_, why)) => {
                    assert!(e.to_string().contains(why), "{rel}: refused with `{e}`");
                    refused.push(rel);
                }
                None => panic!("{rel}: mcp-warden refuses it ({e}); list it in WE_REFUSE"),
            },
        }
    }
    for (f, _) in WE_REFUSE {
        assert!(
            refused.iter().any(|r| r == f),
            "{f}: in WE_REFUSE, but read"
        );
    }
    assert!(read.len() > 100, "only {} SBOMs found", read.len());

    let files: Vec<&str> = read.iter().map(|(rel, _)| rel.as_str()).collect();
    let mut reference = reference(&root, &files).unwrap_or_else(|e| panic!("{e}"));

    let mut found: Vec<(String, String)> = Vec::new();
    let mut compared = 0;
    for (rel, sbom) in &read {
        let Some(answer) = reference.remove(rel) else {
            panic!("{rel}: the reference script said nothing of it");
        };
        let allowed = REFERENCE_REFUSES.iter().find(|(f, _)| f == rel);
        match (answer, allowed) {
            (RefFile::Refused { error }, Some((_, why))) => {
                assert!(
                    error.contains(why),
                    "{rel}: the reference now says `{error}`"
                );
            }
            (RefFile::Refused { error }, None) => {
                panic!("{rel}: the reference library refuses it: {error}")
            }
            (RefFile::Read { .. }, Some(_)) => {
                panic!(
                    "{rel}: the reference library reads it now; remove it from REFERENCE_REFUSES"
                )
            }
            (RefFile::Read { format, components }, None) => {
                let ours = match sbom.format {
                    mcp_warden::sbom::Format::CycloneDx { .. } => "cyclonedx",
                    mcp_warden::sbom::Format::Spdx { .. } => "spdx",
                };
                assert_eq!(format, ours, "{rel}: read as another format");
                compared += 1;
                found.extend(
                    differences(sbom, &components)
                        .into_iter()
                        .map(|d| (rel.clone(), d)),
                );
            }
        }
    }
    assert_eq!(
        compared + REFERENCE_REFUSES.len(),
        read.len(),
        "REFERENCE_REFUSES names a file that is not read"
    );

    let known: Vec<(String, String)> = KNOWN
        .iter()
        .map(|(f, d)| (f.to_string(), d.to_string()))
        .collect();
    let new: Vec<&(String, String)> = found.iter().filter(|d| !known.contains(d)).collect();
    let gone: Vec<&(String, String)> = known.iter().filter(|d| !found.contains(d)).collect();
    if !new.is_empty() || !gone.is_empty() {
        let mut table = String::new();
        let mut section = |title: &str, rows: &[&(String, String)]| {
            if rows.is_empty() {
                return;
            }
            let _ = writeln!(table, "\n{title}\nfile | side | name | version | purls");
            for (f, d) in rows {
                let _ = writeln!(table, "{f} | {d}");
            }
        };
        section(
            "differences (new: fix the reader, or list them in KNOWN):",
            &new,
        );
        section("listed in KNOWN, no longer found (remove them):", &gone);
        panic!("{compared} SBOMs compared with cyclonedx-python-lib and spdx-tools{table}");
    }
}
