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
//!
//! The fixtures hold no difference today; [`CRAFTED`] documents, written
//! to a temporary directory, say the same thing twice in ways readers may
//! take differently (repeated XML elements and JSON members, a second purl
//! reference, purls at the edges of the grammar), and [`CRAFTED_KNOWN`]
//! pins what differs on them.

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
    // cyclonedx-python-lib 11.12.0's XML reader: the spec's XML files with
    // extension elements in other namespaces end in a sort of `None`
    // against components; the saasbom data classification is an object
    // it reads only as an attribute; the cryptography examples' bom-ref
    // lists are read as a single bom-ref.
    (
        "cyclonedx/spec-tests/1.2/valid-external-elements-1.2.xml",
        "TypeError: '<' not supported",
    ),
    (
        "cyclonedx/spec-tests/1.3/valid-external-elements-1.3.xml",
        "TypeError: '<' not supported",
    ),
    (
        "cyclonedx/spec-tests/1.4/valid-external-elements-1.4.xml",
        "TypeError: '<' not supported",
    ),
    (
        "cyclonedx/spec-tests/1.5/valid-external-elements-1.5.xml",
        "TypeError: '<' not supported",
    ),
    (
        "cyclonedx/spec-tests/1.6/valid-external-elements-1.6.xml",
        "TypeError: '<' not supported",
    ),
    (
        "cyclonedx/spec-tests/1.7/valid-external-elements-1.7.xml",
        "TypeError: '<' not supported",
    ),
    (
        "cyclonedx/spec-tests/1.5/valid-saasbom-1.5.xml",
        "Non-primitive types not supported from XML Attributes",
    ),
    (
        "cyclonedx/spec-tests/1.6/valid-saasbom-1.6.xml",
        "Non-primitive types not supported from XML Attributes",
    ),
    (
        "cyclonedx/spec-tests/1.7/valid-saasbom-1.7.xml",
        "Non-primitive types not supported from XML Attributes",
    ),
    (
        "cyclonedx/spec-tests/1.6/valid-cryptography-full-1.6.xml",
        "'BomRef' object is not iterable",
    ),
    (
        "cyclonedx/spec-tests/1.7/valid-cryptography-full-deprecated-1.7.xml",
        "'BomRef' object is not iterable",
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

/// Every package URL mcp-warden judges a component by.
fn identifiers(c: &Component) -> Vec<String> {
    c.purl.iter().chain(&c.also).cloned().collect()
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

/// Every file under `root`, as paths relative to it, sorted.
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

    check_known(&format!("{compared} fixture SBOMs"), &found, KNOWN);
}

/// Fails, with a table, when the differences `found` are not exactly
/// those `known` lists.
fn check_known(what: &str, found: &[(String, String)], known: &[(&str, &str)]) {
    let known: Vec<(String, String)> = known
        .iter()
        .map(|(f, d)| (f.to_string(), d.to_string()))
        .collect();
    let new: Vec<&(String, String)> = found.iter().filter(|d| !known.contains(d)).collect();
    let gone: Vec<&(String, String)> = known.iter().filter(|d| !found.contains(d)).collect();
    if new.is_empty() && gone.is_empty() {
        return;
    }
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
        "differences (new: fix the reader, or list them as known):",
        &new,
    );
    section("listed as known, no longer found (remove them):", &gone);
    panic!("{what} compared with cyclonedx-python-lib and spdx-tools{table}");
}

/// Documents written here, each one way of writing the same thing twice
/// that a reader may take differently from another: an attacker's SBOM
/// need not be valid, only accepted.
const CRAFTED: &[(&str, &str)] = &[
    (
        // XML elements a component may hold once, twice: which one counts?
        "cdx-xml-repeated-elements.xml",
        r#"<?xml version="1.0"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
  <components>
    <component type="library"><name>benign</name><name>evil</name><version>1.0</version><version>6.6.6</version><purl>pkg:npm/benign@1.0</purl><purl>pkg:npm/evil@6.6.6</purl></component>
  </components>
</bom>
"#,
    ),
    (
        // A component in another CycloneDX version's namespace.
        "cdx-xml-foreign-namespace.xml",
        r#"<?xml version="1.0"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" xmlns:o="http://cyclonedx.org/schema/bom/1.5" version="1">
  <components>
    <component type="library"><name>seen</name><version>1.0</version></component>
    <o:component type="library"><o:name>hidden</o:name><o:version>2.0</o:version></o:component>
  </components>
</bom>
"#,
    ),
    (
        // A JSON member written twice.
        "cdx-json-repeated-member.json",
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"benign","name":"evil","version":"1.0","purl":"pkg:npm/benign@1.0"}]}"#,
    ),
    (
        // One purl written in ways that mean the same.
        "cdx-json-purl-spellings.json",
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
  {"type":"library","name":"a","version":"1.0","purl":"pkg:NPM/a@1.0"},
  {"type":"library","name":"b","version":"1.0","purl":"pkg:npm/%40scope/b@1.0?os=linux&arch=x64"},
  {"type":"library","name":"c","version":"1.0","purl":"pkg:npm/c@1.0 "},
  {"type":"library","name":"d","version":"","purl":"pkg:pypi/D_d@1.0"}]}"#,
    ),
    (
        // Purls at the edges of the purl grammar, each read by the
        // reference's packageurl-python.
        "cdx-json-purl-edges.json",
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
  {"type":"library","name":"e1","purl":"pkg:npm/e1@1.0#../x"},
  {"type":"library","name":"e2","purl":"pkg:npm/e2%zz@1.0"},
  {"type":"library","name":"e3","purl":"pkg:npm//e3@1.0"},
  {"type":"library","name":"e4","purl":"pkg:npm/e4@1.0?=v"},
  {"type":"library","name":"e5","purl":"pkg:npm/e5@1.0?a=1&a=2"},
  {"type":"library","name":"e6","purl":"pkg:npm/e6@"},
  {"type":"library","name":"e7","purl":"pkg:npm/e 7@1.0"},
  {"type":"library","name":"e8","purl":"pkg://npm/e8@1.0"}]}"#,
    ),
    (
        // A package with two purl references (SPDX allows any number).
        "spdx-json-two-purls.spdx.json",
        r#"{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"d","documentNamespace":"https://example.com/d","creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: t"]},
"documentDescribes":["SPDXRef-app"],
"packages":[{"SPDXID":"SPDXRef-app","name":"app","versionInfo":"1.0","downloadLocation":"NOASSERTION"},
{"SPDXID":"SPDXRef-p","name":"left-pad","versionInfo":"1.3.0","downloadLocation":"NOASSERTION","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:npm/left-pad@1.3.0"},{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:npm/evil-pad@6.6.6"}]}]}"#,
    ),
    (
        "spdx-tv-two-purls.spdx",
        "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: d\n\
         DocumentNamespace: https://example.com/d\nCreator: Tool: t\nCreated: 2024-01-01T00:00:00Z\n\
         Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-app\n\n\
         PackageName: app\nSPDXID: SPDXRef-app\nPackageVersion: 1.0\nPackageDownloadLocation: NOASSERTION\n\n\
         PackageName: left-pad\nSPDXID: SPDXRef-p\nPackageVersion: 1.3.0\nPackageDownloadLocation: NOASSERTION\n\
         ExternalRef: PACKAGE-MANAGER purl pkg:npm/left-pad@1.3.0\n\
         ExternalRef: PACKAGE-MANAGER purl pkg:npm/evil-pad@6.6.6\n",
    ),
    (
        // A package tag written twice.
        "spdx-tv-repeated-version.spdx",
        "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: d\n\
         DocumentNamespace: https://example.com/d\nCreator: Tool: t\nCreated: 2024-01-01T00:00:00Z\n\n\
         PackageName: left-pad\nSPDXID: SPDXRef-p\nPackageVersion: 1.3.0\nPackageVersion: 6.6.6\n\
         PackageDownloadLocation: NOASSERTION\n",
    ),
];

/// Differences known today on [`CRAFTED`]; each is a way for a document
/// to show mcp-warden other components than other tools see.
const CRAFTED_KNOWN: &[(&str, &str)] = &[
    // A second PackageVersion: both refuse the document.
    (
        "spdx-tv-repeated-version.spdx",
        "mcp-warden refuses | malformed SPDX tag-value, line 12: `PackageVersion` is given twice for one package",
    ),
    // Repeated <name>, <version>, <purl>: the lib takes the last; the XSD
    // allows one each, and mcp-warden refuses the document.
    (
        "cdx-xml-repeated-elements.xml",
        "mcp-warden refuses | the document does not conform to its XML schema (XSD): /bom/components/component/name[2]: element not allowed here",
    ),
    // A <component> of another namespace is an extension element, which
    // the XSD lets `<components>` hold and mcp-warden skips; the lib sees
    // the <component> but not its <name>, and refuses the document.
    (
        "cdx-xml-foreign-namespace.xml",
        "reference refuses | mcp-warden reads seen | 1.0 | -",
    ),
];

/// The crafted documents, compared the same way; here mcp-warden may
/// refuse a document (that fails closed), and a document the reference
/// refuses but mcp-warden reads is a difference.
#[test]
fn crafted_documents_read_as_the_official_libraries_read_them() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in CRAFTED {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let files: Vec<&str> = CRAFTED.iter().map(|(name, _)| *name).collect();
    let mut reference = reference(dir.path(), &files).unwrap_or_else(|e| panic!("{e}"));
    let mut found: Vec<(String, String)> = Vec::new();
    for (name, text) in CRAFTED {
        let answer = reference
            .remove(*name)
            .unwrap_or_else(|| panic!("{name}: the reference script said nothing of it"));
        let sbom = match mcp_warden::sbom::parse(text.as_bytes()) {
            Ok(sbom) => sbom,
            Err(e) => {
                // Listed too, so that no document drops out of the
                // comparison unseen.
                found.push((name.to_string(), format!("mcp-warden refuses | {e}")));
                continue;
            }
        };
        match answer {
            RefFile::Read { components, .. } => found.extend(
                differences(&sbom, &components)
                    .into_iter()
                    .map(|d| (name.to_string(), d)),
            ),
            RefFile::Refused { .. } => found.push((
                name.to_string(),
                format!(
                    "reference refuses | mcp-warden reads {}",
                    sbom.top
                        .iter()
                        .chain(&sbom.components)
                        .map(|c| ours(c).to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )),
        }
    }
    check_known(
        &format!("{} crafted SBOMs", CRAFTED.len()),
        &found,
        CRAFTED_KNOWN,
    );
}
