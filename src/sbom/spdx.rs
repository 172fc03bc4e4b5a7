//! SPDX 2.2 and 2.3: JSON, checked against the official SPDX 2.3 schema,
//! and tag-value, read line by line. SPDX 3 is refused in `super`.

use serde::Deserialize;
use serde_json::Value;

use super::json::{Members, Schema, Split};
use super::{Collector, Encoding, Format, Limits, RawComponent, Sbom, SbomError, clip};

/// SPDX versions read.
pub const VERSIONS: [&str; 2] = ["2.2", "2.3"];

/// The SPDX 2.3 JSON schema. It also judges 2.2 documents: 2.3 only added
/// optional fields and relaxed required ones, so every valid 2.2 document
/// passes it.
static SCHEMA: Schema = Schema::new(
    "SPDX 2.3",
    include_str!("../../schemas/spdx/spdx-2.3.schema.json"),
    &[],
);

const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";

/// `SPDX-2.3` -> `2.3`, or the error that names what is read.
fn version_of(declared: &str) -> Result<String, SbomError> {
    let v = declared.trim();
    let bare = v.strip_prefix("SPDX-").unwrap_or(v);
    if VERSIONS.contains(&bare) {
        return Ok(bare.to_string());
    }
    if bare.starts_with('3') {
        return Err(SbomError::Unsupported(
            "SPDX 3 is not supported yet; SPDX 2.2 and 2.3 (JSON, tag-value) and CycloneDX are"
                .to_string(),
        ));
    }
    Err(SbomError::UnsupportedVersion {
        format: "SPDX",
        found: clip(v.to_string()),
        supported: VERSIONS.join(", "),
    })
}

// Serde models of only what the policy needs; the schema has already
// checked everything else.

#[derive(Deserialize)]
struct JsonCreationInfo {
    created: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonPackage {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    version_info: Option<String>,
    license_concluded: Option<String>,
    license_declared: Option<String>,
    #[serde(default)]
    checksums: Vec<JsonChecksum>,
    #[serde(default)]
    external_refs: Vec<JsonExternalRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonChecksum {
    algorithm: String,
    checksum_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonExternalRef {
    reference_type: String,
    reference_locator: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRelationship {
    spdx_element_id: String,
    relationship_type: String,
    related_spdx_element: String,
}

/// A package with its SPDX id, before the top one is picked.
struct Package {
    id: String,
    raw: RawComponent,
}

/// What one thread read of the split arrays.
#[derive(Default)]
struct Share {
    packages: Vec<Package>,
    /// Ids the document describes, from `documentDescribes` or from
    /// DESCRIBES / DESCRIBED_BY relationships of the document.
    describes: Vec<String>,
}

/// The split arrays the model reads, in the order their described ids
/// count: `documentDescribes` first.
const WANTED: [&str; 3] = ["documentDescribes", "relationships", "packages"];

fn read_item(key: &str, share: &mut Share, item: Value) -> Result<(), String> {
    let err = |e: serde_json::Error| e.to_string();
    match key {
        "documentDescribes" => share
            .describes
            .push(serde_json::from_value(item).map_err(err)?),
        "relationships" => {
            let r: JsonRelationship = serde_json::from_value(item).map_err(err)?;
            match r.relationship_type.as_str() {
                "DESCRIBES" if r.spdx_element_id == DOCUMENT_ID => {
                    share.describes.push(r.related_spdx_element)
                }
                "DESCRIBED_BY" if r.related_spdx_element == DOCUMENT_ID => {
                    share.describes.push(r.spdx_element_id)
                }
                _ => {}
            }
        }
        _ => {
            let p: JsonPackage = serde_json::from_value(item).map_err(err)?;
            // Every purl reference names the package: each is judged.
            let mut purls = p
                .external_refs
                .into_iter()
                .filter(|r| r.reference_type.eq_ignore_ascii_case("purl"))
                .map(|r| r.reference_locator);
            let purl = purls.next();
            share.packages.push(Package {
                id: p.spdx_id,
                raw: RawComponent {
                    name: p.name,
                    version: p.version_info,
                    purls: purls.collect(),
                    purl,
                    bom_ref: None,
                    hashes: p
                        .checksums
                        .into_iter()
                        .map(|c| (c.algorithm, c.checksum_value))
                        .collect(),
                    licenses: license(p.license_concluded, p.license_declared),
                },
            });
        }
    }
    Ok(())
}

/// Sets a single-valued tag of a package, refusing a second value.
fn once(slot: &mut Option<String>, value: String, tag: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("`{tag}` is given twice for one package"));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads an SPDX JSON document from its top-level members.
pub(crate) fn parse_json(members: Members, limits: Limits) -> Result<Sbom, SbomError> {
    let version = match members.string("spdxVersion") {
        Ok(Some(v)) => version_of(v)?,
        other => {
            return Err(SbomError::UnsupportedVersion {
                format: "SPDX",
                found: other.err().unwrap_or_default(),
                supported: VERSIONS.join(", "),
            });
        }
    };
    let split = Split::new(members, &SCHEMA)?;
    let collector = Collector::new(limits);
    // The top package is not a component, hence one spare.
    collector.check_room(split.len("packages").saturating_sub(1))?;
    let (mut shell, shares) = split.check(&SCHEMA, &WANTED, |_| Share::default(), read_item)?;
    let invalid = |e: serde_json::Error| SbomError::Invalid {
        format: "SPDX",
        message: e.to_string(),
    };
    let namespace: Option<String> = shell
        .remove("documentNamespace")
        .map(serde_json::from_value)
        .transpose()
        .map_err(invalid)?;
    let creation: Option<JsonCreationInfo> = shell
        .remove("creationInfo")
        .map(serde_json::from_value)
        .transpose()
        .map_err(invalid)?;
    let mut describes = Vec::new();
    let mut packages = Vec::new();
    for share in shares.into_iter().flatten() {
        describes.extend(share.describes);
        packages.extend(share.packages);
    }
    assemble(
        Format::Spdx {
            version,
            encoding: Encoding::Json,
        },
        packages,
        &describes,
        creation.and_then(|c| c.created),
        namespace,
        collector,
    )
}

/// `licenseConcluded`, unless it is missing or NOASSERTION: generators
/// (syft, trivy, npm) write NOASSERTION there and put what they found in
/// `licenseDeclared`. NONE is an assertion and is kept.
fn license(concluded: Option<String>, declared: Option<String>) -> Option<String> {
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let asserted = |s: &String| !s.eq_ignore_ascii_case("NOASSERTION");
    let (concluded, declared) = (clean(concluded), clean(declared));
    match (concluded, declared) {
        (Some(c), _) if asserted(&c) => Some(c),
        (_, Some(d)) if asserted(&d) => Some(d),
        (c, d) => c.or(d),
    }
}

/// Picks the top package (the first one described) and collects the rest.
fn assemble(
    format: Format,
    packages: Vec<Package>,
    describes: &[String],
    created: Option<String>,
    serial: Option<String>,
    mut collector: Collector,
) -> Result<Sbom, SbomError> {
    let top_index = describes
        .iter()
        .find_map(|d| packages.iter().position(|p| &p.id == d));
    let mut top = None;
    for (i, p) in packages.into_iter().enumerate() {
        if Some(i) == top_index {
            top = Some(collector.normalise(p.raw));
        } else {
            collector.push(p.raw)?;
        }
    }
    let (components, warnings) = collector.into_warnings();
    Ok(Sbom {
        format,
        top,
        components,
        created,
        serial,
        warnings,
    })
}

/// True when `text` has an `SPDXVersion:` line near its start.
pub(crate) fn looks_like_tag_value(text: &str) -> bool {
    text.lines()
        .take(200)
        .any(|l| l.trim_start().starts_with("SPDXVersion:"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Document,
    Package,
    /// Files, snippets and extracted licences: their tags say nothing
    /// about packages.
    Other,
}

#[derive(Default)]
struct TvPackage {
    id: Option<String>,
    line: usize,
    download: bool,
    concluded: Option<String>,
    declared: Option<String>,
    raw: RawComponent,
}

/// The document fields SPDX 2.2 and 2.3 require.
#[derive(Default)]
struct TvDocument {
    data_license: bool,
    spdx_id: bool,
    name: bool,
    creator: bool,
    namespace: Option<String>,
    created: Option<String>,
}

impl TvDocument {
    fn missing(&self) -> Vec<&'static str> {
        [
            (self.data_license, "DataLicense"),
            (self.spdx_id, "SPDXID"),
            (self.name, "DocumentName"),
            (self.namespace.is_some(), "DocumentNamespace"),
            (self.creator, "Creator"),
            (self.created.is_some(), "Created"),
        ]
        .into_iter()
        .filter(|(seen, _)| !seen)
        .map(|(_, name)| name)
        .collect()
    }
}

/// Reads an SPDX tag-value document. There is no schema for this form, so
/// the fields SPDX requires of a document and of a package are checked
/// here.
pub(crate) fn parse_tag_value(text: &str, limits: Limits) -> Result<Sbom, SbomError> {
    let mut version = None;
    let mut doc = TvDocument::default();
    let mut section = Section::Document;
    let mut packages: Vec<TvPackage> = Vec::new();
    let mut describes = Vec::new();
    let collector = Collector::new(limits);

    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let line_no = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let bad = |message: String| SbomError::TagValue {
            line: line_no,
            message,
        };
        let Some((tag, value)) = trimmed.split_once(':') else {
            return Err(bad(format!(
                "expected `Tag: value`, got `{}`",
                clip(trimmed.to_string())
            )));
        };
        let tag = tag.trim();
        if tag.is_empty() || tag.contains(char::is_whitespace) {
            return Err(bad(format!("`{}` is not a tag", clip(tag.to_string()))));
        }
        let mut value = value.trim().to_string();
        if let Some(rest) = value.strip_prefix("<text>") {
            // A <text> value runs to its </text>, over as many lines as it takes.
            let mut body = rest.to_string();
            while !body.contains("</text>") {
                let Some((_, next)) = lines.next() else {
                    return Err(bad("a <text> value that is never closed".to_string()));
                };
                body.push('\n');
                body.push_str(next);
            }
            let end = body.find("</text>").unwrap_or(body.len());
            value = body[..end].trim().to_string();
        }

        match tag {
            "SPDXVersion" if version.is_none() => version = Some(version_of(&value)?),
            "DataLicense" => doc.data_license = true,
            "DocumentName" => doc.name = true,
            "DocumentNamespace" if doc.namespace.is_none() => doc.namespace = Some(value),
            "Creator" => doc.creator = true,
            "Created" if doc.created.is_none() => doc.created = Some(value),
            "SPDXID" => match section {
                Section::Document => doc.spdx_id = true,
                Section::Package => {
                    if let Some(p) = packages.last_mut() {
                        once(&mut p.id, value, tag).map_err(bad)?;
                    }
                }
                _ => {}
            },
            "PackageName" => {
                collector.check_room(packages.len())?;
                section = Section::Package;
                packages.push(TvPackage {
                    line: line_no,
                    raw: RawComponent {
                        name: value,
                        ..RawComponent::default()
                    },
                    ..TvPackage::default()
                });
            }
            "FileName" | "SnippetSPDXID" | "LicenseID" => section = Section::Other,
            "Relationship" => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                match parts.as_slice() {
                    [DOCUMENT_ID, "DESCRIBES", target, ..] => describes.push(target.to_string()),
                    [source, "DESCRIBED_BY", DOCUMENT_ID, ..] => describes.push(source.to_string()),
                    [_, _, _, ..] => {}
                    _ => return Err(bad(format!("relationship `{value}` is not `A TYPE B`"))),
                }
            }
            t if t.starts_with("Package") || t == "ExternalRef" || t == "ExternalRefComment" => {
                let Some(p) = packages.last_mut().filter(|_| section == Section::Package) else {
                    return Err(bad(format!("`{tag}` outside a package")));
                };
                match tag {
                    // Said twice, one reader would take the first and
                    // another the last: refused, as the JSON schema's
                    // single-valued fields are.
                    "PackageVersion" => once(&mut p.raw.version, value, tag).map_err(bad)?,
                    "PackageDownloadLocation" => p.download = true,
                    "PackageLicenseConcluded" => once(&mut p.concluded, value, tag).map_err(bad)?,
                    "PackageLicenseDeclared" => once(&mut p.declared, value, tag).map_err(bad)?,
                    "PackageChecksum" => {
                        let Some((alg, hex)) = value.split_once(':') else {
                            return Err(bad(format!("checksum `{value}` is not `ALG: HEX`")));
                        };
                        p.raw
                            .hashes
                            .push((alg.trim().to_string(), hex.trim().to_string()));
                    }
                    "ExternalRef" => {
                        let parts: Vec<&str> = value.split_whitespace().collect();
                        let [_category, kind, locator] = parts.as_slice() else {
                            return Err(bad(format!(
                                "external reference `{value}` is not `CATEGORY TYPE LOCATOR`"
                            )));
                        };
                        if kind.eq_ignore_ascii_case("purl") {
                            match p.raw.purl {
                                None => p.raw.purl = Some(locator.to_string()),
                                Some(_) => p.raw.purls.push(locator.to_string()),
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    let Some(version) = version else {
        return Err(SbomError::Invalid {
            format: "SPDX tag-value",
            message: "no `SPDXVersion`".to_string(),
        });
    };
    let missing = doc.missing();
    if !missing.is_empty() {
        return Err(SbomError::Invalid {
            format: "SPDX tag-value",
            message: format!("the document lacks {}", missing.join(", ")),
        });
    }
    let mut out = Vec::with_capacity(packages.len());
    for mut p in packages {
        let lacks = match (&p.id, p.download) {
            (None, _) => Some("SPDXID"),
            (_, false) => Some("PackageDownloadLocation"),
            _ => None,
        };
        if let Some(field) = lacks {
            return Err(SbomError::TagValue {
                line: p.line,
                message: format!("package `{}` lacks {field}", p.raw.name),
            });
        }
        p.raw.licenses = license(p.concluded, p.declared);
        out.push(Package {
            id: p.id.unwrap_or_default(),
            raw: p.raw,
        });
    }
    assemble(
        Format::Spdx {
            version,
            encoding: Encoding::TagValue,
        },
        out,
        &describes,
        doc.created,
        doc.namespace,
        collector,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::parse;

    const TV: &str = "SPDXVersion: SPDX-2.3
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: demo
DocumentNamespace: https://example.com/demo-1
Creator: Tool: hand
Created: 2024-01-01T00:00:00Z
DocumentComment: <text>two
lines: with a colon</text>
Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-app

PackageName: app
SPDXID: SPDXRef-app
PackageVersion: 2.0
PackageDownloadLocation: NOASSERTION
PackageLicenseConcluded: NOASSERTION
PackageLicenseDeclared: Apache-2.0

PackageName: dep
SPDXID: SPDXRef-dep
PackageDownloadLocation: https://example.com/dep.tgz
PackageChecksum: SHA256: AB12
PackageLicenseConcluded: MIT OR Apache-2.0
ExternalRef: PACKAGE-MANAGER purl pkg:cargo/dep@1.0.0

FileName: ./src/main.rs
SPDXID: SPDXRef-file
LicenseConcluded: GPL-3.0-only
";

    #[test]
    fn tag_value_is_read() {
        let sbom = parse(TV.as_bytes()).unwrap();
        assert_eq!(
            sbom.format,
            Format::Spdx {
                version: "2.3".into(),
                encoding: Encoding::TagValue
            }
        );
        let top = sbom.top.unwrap();
        assert_eq!(top.name, "app");
        // NOASSERTION concluded: the declared licence stands.
        assert_eq!(top.licenses.as_deref(), Some("Apache-2.0"));
        assert_eq!(sbom.components.len(), 1);
        let dep = &sbom.components[0];
        assert_eq!(dep.licenses.as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(dep.ecosystem.as_deref(), Some("cargo"));
        assert_eq!(dep.hashes, [("sha256".to_string(), "ab12".to_string())]);
        assert_eq!(sbom.serial.as_deref(), Some("https://example.com/demo-1"));
        assert_eq!(sbom.created.as_deref(), Some("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn tag_value_errors_name_the_line() {
        let broken = TV.replace("PackageVersion: 2.0", "PackageVersion 2.0");
        let err = parse(broken.as_bytes()).unwrap_err();
        assert!(matches!(err, SbomError::TagValue { line: 14, .. }), "{err}");

        let unclosed = TV.replace("colon</text>", "colon");
        let err = parse(unclosed.as_bytes()).unwrap_err();
        assert!(matches!(err, SbomError::TagValue { line: 8, .. }), "{err}");

        let no_download = TV.replace("PackageDownloadLocation: https://example.com/dep.tgz\n", "");
        let err = parse(no_download.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("PackageDownloadLocation"), "{err}");

        let no_ns = TV.replace("DocumentNamespace: https://example.com/demo-1\n", "");
        let err = parse(no_ns.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("DocumentNamespace"), "{err}");

        // A single-valued tag said twice: readers differ on which counts.
        for (tag, line) in [
            ("PackageVersion: 2.0", 15),
            ("PackageLicenseDeclared: Apache-2.0", 18),
            ("SPDXID: SPDXRef-app", 14),
        ] {
            let twice = TV.replace(tag, &format!("{tag}\n{tag}"));
            let err = parse(twice.as_bytes()).unwrap_err();
            assert!(
                matches!(&err, SbomError::TagValue { line: l, message } if *l == line && message.contains("twice")),
                "{tag}: {err}"
            );
        }
        // Several purl references are all kept.
        let purls = TV.replace(
            "ExternalRef: PACKAGE-MANAGER purl pkg:cargo/dep@1.0.0",
            "ExternalRef: PACKAGE-MANAGER purl pkg:cargo/dep@1.0.0\nExternalRef: PACKAGE-MANAGER PURL pkg:cargo/evil@6.6.6",
        );
        let sbom = parse(purls.as_bytes()).unwrap();
        assert_eq!(sbom.components[0].also, ["pkg:cargo/evil@6.6.6"]);

        let stray = "SPDXVersion: SPDX-2.3\nPackageVersion: 1\n";
        assert!(matches!(
            parse(stray.as_bytes()),
            Err(SbomError::TagValue { line: 2, .. })
        ));

        let old = TV.replace("SPDX-2.3", "SPDX-2.1");
        let err = parse(old.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("supported versions: 2.2, 2.3"),
            "{err}"
        );
    }

    #[test]
    fn licence_choice() {
        let s = |x: &str| Some(x.to_string());
        assert_eq!(license(s("MIT"), s("Apache-2.0")), s("MIT"));
        assert_eq!(license(s("NOASSERTION"), s("Apache-2.0")), s("Apache-2.0"));
        assert_eq!(license(None, s("Apache-2.0")), s("Apache-2.0"));
        assert_eq!(license(s("NONE"), s("Apache-2.0")), s("NONE"));
        assert_eq!(
            license(s("NOASSERTION"), s("NOASSERTION")),
            s("NOASSERTION")
        );
        assert_eq!(license(None, None), None);
    }

    #[test]
    fn json_top_from_relationship_and_schema_errors() {
        let doc = br#"{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT",
          "name":"x","documentNamespace":"https://example.com/x",
          "creationInfo":{"created":"2024-01-01T00:00:00Z","creators":["Tool: hand"]},
          "packages":[
            {"SPDXID":"SPDXRef-a","name":"a","downloadLocation":"NOASSERTION",
             "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/a@1"}]},
            {"SPDXID":"SPDXRef-b","name":"b","downloadLocation":"NOASSERTION","licenseConcluded":"BSD-3-Clause"}],
          "relationships":[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-b"}]}"#;
        let sbom = parse(doc).unwrap();
        assert_eq!(sbom.top.as_ref().unwrap().name, "b");
        assert_eq!(sbom.components.len(), 1);
        assert_eq!(sbom.components[0].ecosystem.as_deref(), Some("pypi"));

        let bad = String::from_utf8_lossy(doc).replace(
            r#""relationshipType":"DESCRIBES""#,
            r#""relationshipType":"LIKES""#,
        );
        let SbomError::Schema { errors } = parse(bad.as_bytes()).unwrap_err() else {
            panic!("expected a schema error")
        };
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("/relationships/0/relationshipType")),
            "{errors:?}"
        );
    }
}
