//! CycloneDX: JSON 1.2 to 1.7, checked against the official schema of its
//! `specVersion`, and XML 1.2 to 1.7, read with `roxmltree` and checked
//! against the official XSD of its namespace's version (see `xsd`) before
//! anything is read from it.

use std::sync::OnceLock;

use serde::Deserialize;

use super::json::{Members, Schema, Split};
use super::xsd::Xsd;
use super::{
    Collector, Encoding, Format, Limits, MAX_SCHEMA_ERRORS, RawComponent, Sbom, SbomError,
    join_licenses,
};

/// JSON spec versions read, oldest first; each has a schema below.
pub const JSON_VERSIONS: [&str; 6] = ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"];
/// XML spec versions read.
pub const XML_VERSIONS: [&str; 6] = ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"];

const XML_NAMESPACE_PREFIX: &str = "http://cyclonedx.org/schema/bom/";
/// Nodes one XML document may hold: about one per four bytes of the
/// 64 MiB limit, as dense as markup gets, so roxmltree's memory (tens of
/// bytes a node) stays bounded whatever the input.
const XML_NODES_LIMIT: u32 = 16_000_000;

/// The official schemas (see `schemas/README.md`), one per entry of
/// [`JSON_VERSIONS`]. The bom schemas `$ref` their siblings by relative
/// name, so those are registered under the URI each reference resolves to.
static SCHEMAS: [Schema; 6] = [
    Schema::new(
        "CycloneDX 1.2",
        include_str!("../../schemas/cyclonedx/bom-1.2.SNAPSHOT.schema.json"),
        &RESOURCES,
    ),
    Schema::new(
        "CycloneDX 1.3",
        include_str!("../../schemas/cyclonedx/bom-1.3.SNAPSHOT.schema.json"),
        &RESOURCES,
    ),
    Schema::new(
        "CycloneDX 1.4",
        include_str!("../../schemas/cyclonedx/bom-1.4.SNAPSHOT.schema.json"),
        &RESOURCES,
    ),
    Schema::new(
        "CycloneDX 1.5",
        include_str!("../../schemas/cyclonedx/bom-1.5.SNAPSHOT.schema.json"),
        &RESOURCES,
    ),
    Schema::new(
        "CycloneDX 1.6",
        include_str!("../../schemas/cyclonedx/bom-1.6.SNAPSHOT.schema.json"),
        &RESOURCES,
    ),
    Schema::new(
        "CycloneDX 1.7",
        include_str!("../../schemas/cyclonedx/bom-1.7.SNAPSHOT.schema.json"),
        &RESOURCES,
    ),
];
const RESOURCES: [(&str, &str); 3] = [
    (
        "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
        include_str!("../../schemas/cyclonedx/spdx.SNAPSHOT.schema.json"),
    ),
    (
        "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
        include_str!("../../schemas/cyclonedx/jsf-0.82.SNAPSHOT.schema.json"),
    ),
    (
        "http://cyclonedx.org/schema/cryptography-defs.SNAPSHOT.schema.json",
        include_str!("../../schemas/cyclonedx/cryptography-defs.SNAPSHOT.schema.json"),
    ),
];

/// The official XSDs (see `schemas/README.md`), one per entry of
/// [`XML_VERSIONS`], each compiled once, when first needed.
static XSDS: [(&str, &str); 6] = [
    (
        "CycloneDX 1.2",
        include_str!("../../schemas/cyclonedx/bom-1.2.SNAPSHOT.xsd"),
    ),
    (
        "CycloneDX 1.3",
        include_str!("../../schemas/cyclonedx/bom-1.3.SNAPSHOT.xsd"),
    ),
    (
        "CycloneDX 1.4",
        include_str!("../../schemas/cyclonedx/bom-1.4.SNAPSHOT.xsd"),
    ),
    (
        "CycloneDX 1.5",
        include_str!("../../schemas/cyclonedx/bom-1.5.SNAPSHOT.xsd"),
    ),
    (
        "CycloneDX 1.6",
        include_str!("../../schemas/cyclonedx/bom-1.6.SNAPSHOT.xsd"),
    ),
    (
        "CycloneDX 1.7",
        include_str!("../../schemas/cyclonedx/bom-1.7.SNAPSHOT.xsd"),
    ),
];
/// The SPDX licence-id enumeration every bom XSD imports.
const SPDX_XSD: &str = include_str!("../../schemas/cyclonedx/spdx.SNAPSHOT.xsd");
static COMPILED_XSDS: [OnceLock<Result<Xsd, String>>; 6] = [const { OnceLock::new() }; 6];

/// The compiled XSD of `XML_VERSIONS[index]`.
fn xsd(index: usize) -> Result<&'static Xsd, SbomError> {
    let (Some(cell), Some((name, text))) = (COMPILED_XSDS.get(index), XSDS.get(index)) else {
        return Err(SbomError::Internal(format!("no XSD number {index}")));
    };
    cell.get_or_init(|| super::xsd::compile(text, SPDX_XSD))
        .as_ref()
        .map_err(|e| SbomError::Internal(format!("the {name} XSD: {e}")))
}

fn supported(versions: &[&str]) -> String {
    versions.join(", ")
}

// Serde models of only what the policy needs; the schema has already
// checked everything else.

#[derive(Deserialize)]
struct JsonMetadata {
    timestamp: Option<String>,
    component: Option<JsonComponent>,
}

#[derive(Deserialize)]
struct JsonComponent {
    name: String,
    version: Option<String>,
    purl: Option<String>,
    #[serde(rename = "bom-ref")]
    bom_ref: Option<String>,
    #[serde(default)]
    hashes: Vec<JsonHash>,
    #[serde(default)]
    licenses: Vec<JsonLicenseChoice>,
    #[serde(default)]
    components: Vec<JsonComponent>,
}

#[derive(Deserialize)]
struct JsonHash {
    alg: String,
    content: String,
}

#[derive(Deserialize)]
struct JsonLicenseChoice {
    license: Option<JsonLicense>,
    expression: Option<String>,
}

#[derive(Deserialize)]
struct JsonLicense {
    id: Option<String>,
    name: Option<String>,
}

/// Reads a CycloneDX JSON document from its top-level members.
pub(crate) fn parse_json(members: Members, limits: Limits) -> Result<Sbom, SbomError> {
    let version = match members.string("specVersion") {
        Ok(Some(v)) => v.to_string(),
        Err(found) => {
            return Err(SbomError::UnsupportedVersion {
                format: "CycloneDX",
                found,
                supported: supported(&JSON_VERSIONS),
            });
        }
        Ok(None) => {
            return Err(SbomError::Invalid {
                format: "CycloneDX",
                message: "`specVersion` is missing".to_string(),
            });
        }
    };
    let Some(schema) = JSON_VERSIONS
        .iter()
        .position(|v| *v == version)
        .and_then(|i| SCHEMAS.get(i))
    else {
        return Err(SbomError::UnsupportedVersion {
            format: "CycloneDX",
            found: super::clip(version),
            supported: supported(&JSON_VERSIONS),
        });
    };
    let split = Split::new(members, schema)?;
    // A cheap count first, so an oversized list fails before it is checked.
    let mut collector = Collector::new(limits);
    collector.check_room(split.len("components"))?;
    let (mut shell, shares) = split.check(
        schema,
        &["components"],
        |n| Collector::with_capacity(limits, n),
        |_, share, item| {
            let c: JsonComponent = serde_json::from_value(item).map_err(|e| e.to_string())?;
            flatten(c, share);
            Ok(())
        },
    )?;
    let invalid = |e: serde_json::Error| SbomError::Invalid {
        format: "CycloneDX",
        message: e.to_string(),
    };
    let metadata: Option<JsonMetadata> = shell
        .remove("metadata")
        .map(serde_json::from_value)
        .transpose()
        .map_err(invalid)?;
    let serial: Option<String> = shell
        .remove("serialNumber")
        .map(serde_json::from_value)
        .transpose()
        .map_err(invalid)?;
    let mut created = None;
    let mut top = None;
    if let Some(meta) = metadata {
        created = meta.timestamp;
        if let Some(mut c) = meta.component {
            // The top component's own parts are parts of the software,
            // listed first.
            for child in std::mem::take(&mut c.components) {
                flatten(child, &mut collector);
            }
            top = Some(collector.normalise(raw_from_json(c)));
        }
    }
    collector.check_overflow()?;
    if !collector.components.is_empty() {
        let more = shares.iter().flatten().map(|s| s.components.len()).sum();
        collector.components.reserve_exact(more);
    }
    for share in shares.into_iter().flatten() {
        collector.absorb(share)?;
    }
    let (components, warnings) = collector.into_warnings();
    Ok(Sbom {
        format: Format::CycloneDx {
            spec_version: version,
            encoding: Encoding::Json,
        },
        top,
        components,
        created,
        serial,
        warnings,
    })
}

/// Collects `c` and its nested components, depth first, children after
/// their parent. Nesting depth is bounded by the JSON parser, but no
/// recursion here.
fn flatten(c: JsonComponent, into: &mut Collector) {
    let mut stack = vec![c];
    while let Some(mut c) = stack.pop() {
        let children = std::mem::take(&mut c.components);
        into.push_bounded(raw_from_json(c));
        stack.extend(children.into_iter().rev());
    }
}

fn raw_from_json(c: JsonComponent) -> RawComponent {
    let mut ids = Vec::new();
    let mut names = Vec::new();
    for choice in c.licenses {
        if let Some(e) = choice.expression {
            ids.push(e);
        }
        if let Some(l) = choice.license {
            match (l.id, l.name) {
                (Some(id), _) => ids.push(id),
                (None, Some(name)) => names.push(name),
                (None, None) => {}
            }
        }
    }
    RawComponent {
        name: c.name,
        version: c.version,
        purl: c.purl,
        purls: Vec::new(),
        bom_ref: c.bom_ref,
        hashes: c.hashes.into_iter().map(|h| (h.alg, h.content)).collect(),
        licenses: licenses(ids, names),
    }
}

/// ids and expressions, then names. A Python trove classifier
/// (`License :: OSI Approved :: ...`, as cyclonedx-py writes beside the
/// SPDX id) restates the declared licence and is not an SPDX expression,
/// so it is dropped when an id or expression is there; any other name is
/// kept as written, and a policy then sees an expression it cannot parse.
fn licenses(ids: Vec<String>, names: Vec<String>) -> Option<String> {
    let have_ids = !ids.is_empty();
    let mut parts = ids;
    parts.extend(
        names
            .into_iter()
            .filter(|n| !(have_ids && n.trim_start().starts_with("License ::"))),
    );
    join_licenses(parts)
}

/// Reads a CycloneDX XML document (or refuses another XML document).
pub(crate) fn parse_xml(text: &str, limits: Limits) -> Result<Sbom, SbomError> {
    let options = roxmltree::ParsingOptions {
        // No DTD: nothing to expand, so no entity bombs.
        allow_dtd: false,
        nodes_limit: XML_NODES_LIMIT,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| SbomError::Xml(e.to_string()))?;
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or("");
    if root.tag_name().name() != "bom" || !ns.starts_with(XML_NAMESPACE_PREFIX) {
        if ns.contains("spdx.org") || root.tag_name().name() == "RDF" {
            return Err(SbomError::Unsupported(
                "SPDX RDF/XML is not supported; use SPDX JSON or tag-value".to_string(),
            ));
        }
        return Err(SbomError::NotSbom(format!(
            "the XML root is <{}> in namespace `{ns}`, not a CycloneDX <bom>",
            root.tag_name().name()
        )));
    }
    let version = ns[XML_NAMESPACE_PREFIX.len()..].to_string();
    let Some(index) = XML_VERSIONS.iter().position(|v| *v == version) else {
        return Err(SbomError::UnsupportedVersion {
            format: "CycloneDX XML",
            found: super::clip(version),
            supported: supported(&XML_VERSIONS),
        });
    };
    // The whole document is checked first, so nothing the reader below
    // skips (a second list, a second purl) can differ from what other
    // readers see.
    let errors = xsd(index)?.validate(&doc, MAX_SCHEMA_ERRORS);
    if !errors.is_empty() {
        return Err(SbomError::XmlSchema { errors });
    }
    let mut collector = Collector::new(limits);
    let mut created = None;
    let mut top = None;
    let mut stack: Vec<roxmltree::Node> = Vec::new();
    if let Some(list) = child(root, ns, "components") {
        push_list(&mut stack, list, ns);
    }
    if let Some(meta) = child(root, ns, "metadata") {
        created = child_text(meta, ns, "timestamp");
        if let Some(c) = child(meta, ns, "component") {
            push_children(&mut stack, c, ns);
            top = Some(collector.normalise(raw_from_xml(c, ns)?));
        }
    }
    while let Some(c) = stack.pop() {
        collector.push(raw_from_xml(c, ns)?)?;
        push_children(&mut stack, c, ns);
    }
    let (components, warnings) = collector.into_warnings();
    Ok(Sbom {
        format: Format::CycloneDx {
            spec_version: version,
            encoding: Encoding::Xml,
        },
        top,
        components,
        created,
        serial: root.attribute("serialNumber").map(str::to_string),
        warnings,
    })
}

/// Pushes a component's nested components so they pop in document order.
fn push_children<'a, 'i>(
    stack: &mut Vec<roxmltree::Node<'a, 'i>>,
    c: roxmltree::Node<'a, 'i>,
    ns: &str,
) {
    if let Some(list) = child(c, ns, "components") {
        push_list(stack, list, ns);
    }
}

/// Pushes the <component>s of a <components> list, last first.
fn push_list<'a, 'i>(
    stack: &mut Vec<roxmltree::Node<'a, 'i>>,
    list: roxmltree::Node<'a, 'i>,
    ns: &str,
) {
    let before = stack.len();
    stack.extend(list.children().filter(|c| is(c, ns, Some("component"))));
    stack[before..].reverse();
}

fn raw_from_xml(c: roxmltree::Node, ns: &str) -> Result<RawComponent, SbomError> {
    // The line is looked up only for an error: finding it scans the text.
    let invalid = |message: String| SbomError::Invalid {
        format: "CycloneDX XML",
        message: format!(
            "line {}: {message}",
            c.document().text_pos_at(c.range().start).row
        ),
    };
    if c.attribute("type").is_none_or(|t| t.trim().is_empty()) {
        return Err(invalid("a <component> without its `type`".to_string()));
    }
    let Some(name) = child_text(c, ns, "name").filter(|n| !n.is_empty()) else {
        return Err(invalid("a <component> without a <name>".to_string()));
    };
    let mut hashes = Vec::new();
    if let Some(list) = child(c, ns, "hashes") {
        for h in list.children().filter(|h| is(h, ns, Some("hash"))) {
            let Some(alg) = h.attribute("alg") else {
                return Err(invalid(format!(
                    "component `{name}`: a <hash> without `alg`"
                )));
            };
            hashes.push((alg.to_string(), text_of(h)));
        }
    }
    let mut ids = Vec::new();
    let mut names = Vec::new();
    if let Some(list) = child(c, ns, "licenses") {
        for l in list.children().filter(|n| is(n, ns, None)) {
            match l.tag_name().name() {
                "expression" => ids.push(text_of(l)),
                "license" => {
                    if let Some(id) = child_text(l, ns, "id") {
                        ids.push(id);
                    } else if let Some(n) = child_text(l, ns, "name") {
                        names.push(n);
                    } else {
                        return Err(invalid(format!(
                            "component `{name}`: a <license> with neither <id> nor <name>"
                        )));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(RawComponent {
        version: child_text(c, ns, "version"),
        purl: child_text(c, ns, "purl"),
        purls: Vec::new(),
        bom_ref: c.attribute("bom-ref").map(str::to_string),
        hashes,
        licenses: licenses(ids, names),
        name,
    })
}

fn is(n: &roxmltree::Node, ns: &str, name: Option<&str>) -> bool {
    n.is_element()
        && n.tag_name().namespace() == Some(ns)
        && name.is_none_or(|name| n.tag_name().name() == name)
}

fn child<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| is(c, ns, Some(name)))
}

/// All text of an element (CDATA included), trimmed.
fn text_of(n: roxmltree::Node) -> String {
    n.children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect::<String>()
        .trim()
        .to_string()
}

fn child_text(n: roxmltree::Node, ns: &str, name: &str) -> Option<String> {
    child(n, ns, name).map(text_of).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::parse;

    #[test]
    fn every_schema_compiles() {
        for schema in &SCHEMAS {
            // The whole schema and one item schema per split array: at
            // least components, services and dependencies.
            let pieces = schema.compile_all().unwrap_or_else(|e| panic!("{e}"));
            assert!(pieces >= 4, "{}: {pieces}", schema.name);
        }
    }

    #[test]
    fn unknown_spec_version_names_the_supported_ones() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.9","version":1}"#;
        let err = parse(doc).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SbomError::UnsupportedVersion { .. }), "{msg}");
        assert!(
            msg.contains("1.9") && msg.contains("1.2, 1.3, 1.4, 1.5, 1.6, 1.7"),
            "{msg}"
        );

        let xml = r#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.1" version="1"/>"#;
        let msg = parse(xml.as_bytes()).unwrap_err().to_string();
        assert!(
            msg.contains("1.1") && msg.contains("supported versions: 1.2"),
            "{msg}"
        );
    }

    #[test]
    fn licences_join_with_and_and_drop_trove_restatements() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
          "components":[
            {"type":"library","name":"a","licenses":[
              {"license":{"id":"MPL-2.0"}},
              {"license":{"name":"License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)"}}]},
            {"type":"library","name":"b","licenses":[{"license":{"id":"BSD-3-Clause"}},{"license":{"id":"MIT"}}]},
            {"type":"library","name":"e","licenses":[{"expression":"MIT OR Apache-2.0"}]},
            {"type":"library","name":"c","licenses":[{"license":{"name":"Custom licence"}}]},
            {"type":"library","name":"d"}
          ]}"#;
        let sbom = parse(doc).unwrap();
        let l: Vec<_> = sbom
            .components
            .iter()
            .map(|c| c.licenses.as_deref())
            .collect();
        assert_eq!(
            l,
            [
                Some("MPL-2.0"),
                Some("BSD-3-Clause AND MIT"),
                Some("MIT OR Apache-2.0"),
                Some("Custom licence"),
                None
            ]
        );
    }

    #[test]
    fn nested_components_are_flattened_in_order() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
          "metadata":{"timestamp":"2024-01-02T03:04:05Z","component":{"type":"application","name":"top",
             "components":[{"type":"library","name":"top-part"}]}},
          "components":[
            {"type":"library","name":"a","components":[{"type":"library","name":"a1",
                "components":[{"type":"library","name":"a1x"}]},{"type":"library","name":"a2"}]},
            {"type":"library","name":"b","hashes":[{"alg":"SHA-256","content":"AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12"}]}
          ]}"#;
        let sbom = parse(doc).unwrap();
        let names: Vec<_> = sbom.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["top-part", "a", "a1", "a1x", "a2", "b"]);
        assert_eq!(sbom.top.unwrap().name, "top");
        assert_eq!(sbom.created.as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(
            sbom.components[5].hashes,
            [("sha256".to_string(), "ab12".repeat(16))]
        );
    }

    #[test]
    fn xml_is_read_and_checked() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1">
  <metadata><timestamp>2024-05-06T07:08:09Z</timestamp>
    <component type="application"><name>app</name><version>1.0</version></component></metadata>
  <components>
    <component type="library"><name><![CDATA[left-pad]]></name><version>1.3.0</version>
      <hashes><hash alg="SHA-512">ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789</hash></hashes>
      <licenses><license><id>MIT</id></license><license><name>Custom</name></license></licenses>
      <purl>pkg:npm/left-pad@1.3.0</purl>
      <components><component type="library"><name>inner</name><purl>not a purl</purl></component></components>
    </component>
    <x:ext xmlns:x="urn:other"><component><name>ignored</name></component></x:ext>
  </components>
</bom>"#;
        let sbom = parse(xml.as_bytes()).unwrap();
        assert_eq!(
            sbom.format,
            Format::CycloneDx {
                spec_version: "1.6".into(),
                encoding: Encoding::Xml
            }
        );
        assert_eq!(sbom.top.as_ref().unwrap().name, "app");
        assert_eq!(sbom.components.len(), 2);
        let c = &sbom.components[0];
        assert_eq!(c.name, "left-pad");
        assert_eq!(c.ecosystem.as_deref(), Some("npm"));
        assert_eq!(
            c.hashes,
            [(
                "sha512".to_string(),
                "abcdef0123456789".repeat(8).to_string()
            )]
        );
        assert_eq!(c.licenses.as_deref(), Some("MIT AND Custom"));
        assert_eq!(sbom.components[1].purl, None);
        assert_eq!(sbom.warnings.len(), 1, "{:?}", sbom.warnings);
        assert_eq!(
            sbom.serial.as_deref(),
            Some("urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79")
        );

        // The XSD refuses these before the reader's own checks.
        let no_name = xml.replace("<name>inner</name>", "");
        let err = parse(no_name.as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("/components/component/purl: element not allowed here (expected <name>)"),
            "{err}"
        );
        let no_type = xml.replace(
            r#"<component type="library"><name>inner"#,
            "<component><name>inner",
        );
        let err = parse(no_type.as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("components/component: missing attribute `type`"),
            "{err}"
        );
    }

    #[test]
    fn every_xsd_compiles() {
        for (i, (name, _)) in XSDS.iter().enumerate() {
            if let Err(e) = xsd(i) {
                panic!("{name}: {e}");
            }
        }
    }

    /// A minimal valid 1.6 document with `inner` in its one component.
    fn xml_with(inner: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
<components><component type="library">{inner}</component></components></bom>"#
        )
    }

    fn xsd_errors(xml: &str) -> Vec<String> {
        match parse(xml.as_bytes()) {
            Err(SbomError::XmlSchema { errors }) => errors,
            other => panic!("expected an XSD refusal, got {other:?}"),
        }
    }

    #[test]
    fn xml_structure_the_xsd_forbids_is_refused() {
        let ok = xml_with("<name>a</name><purl>pkg:npm/a@1</purl>");
        assert_eq!(parse(ok.as_bytes()).unwrap().components.len(), 1);

        // A second list our reader would skip.
        let two_lists = ok.replace(
            "</components></bom>",
            r#"</components><components><component type="library"><name>evil</name></component></components></bom>"#,
        );
        assert_eq!(
            xsd_errors(&two_lists),
            ["/bom/components[2]: element not allowed here"]
        );
        // A second purl, after the first.
        let two_purls =
            xml_with("<name>a</name><purl>pkg:npm/a@1</purl><purl>pkg:npm/evil@1</purl>");
        assert_eq!(
            xsd_errors(&two_purls),
            ["/bom/components/component/purl[2]: element not allowed here"]
        );
        // Elements out of order: the purl before the name.
        let order = xml_with("<purl>pkg:npm/a@1</purl><name>a</name>");
        assert!(xsd_errors(&order)[0].starts_with("/bom/components/component/purl"));
        // An element the schema does not know, in its namespace.
        let unknown = xml_with("<name>a</name><purls>pkg:npm/evil@1</purls>");
        assert_eq!(
            xsd_errors(&unknown),
            ["/bom/components/component/purls: element not allowed here"]
        );
        // One of another namespace is an allowed extension.
        let ext = xml_with(r#"<name>a</name><x:purl xmlns:x="urn:x">no</x:purl>"#);
        assert_eq!(parse(ext.as_bytes()).unwrap().components[0].purl, None);
        // Required name missing.
        let no_name = xml_with("<version>1</version>");
        assert_eq!(
            xsd_errors(&no_name),
            ["/bom/components/component/version: element not allowed here (expected <name>)"]
        );
        // Enumerations, in attributes and text.
        let bad_type = ok.replace(r#"type="library""#, r#"type="Library""#);
        assert_eq!(
            xsd_errors(&bad_type),
            ["/bom/components/component/@type: `Library` is not an allowed value"]
        );
        let bad_alg = xml_with(&format!(
            r#"<name>a</name><hashes><hash alg="SHA-257">{}</hash></hashes>"#,
            "ab".repeat(32)
        ));
        assert_eq!(
            xsd_errors(&bad_alg),
            ["/bom/components/component/hashes/hash/@alg: `SHA-257` is not an allowed value"]
        );
        // Unknown attributes, unqualified or in the CycloneDX namespace,
        // where the schema admits only other namespaces' (a component
        // itself admits any attribute).
        let supplier = |attr: &str| {
            xml_with(&format!(
                r#"<supplier {attr} xmlns:bom="http://cyclonedx.org/schema/bom/1.6" xmlns:x="urn:x"><name>s</name></supplier><name>a</name>"#
            ))
        };
        assert!(parse(supplier(r#"x:note="1""#).as_bytes()).is_ok());
        for attr in [r#"purl="pkg:npm/evil@1""#, r#"bom:purl="pkg:npm/evil@1""#] {
            assert_eq!(
                xsd_errors(&supplier(attr)),
                ["/bom/components/component/supplier: attribute `purl` not allowed here"]
            );
        }
        let on_name = ok.replace("<name>", r#"<name purl="pkg:npm/evil@1">"#);
        assert_eq!(
            xsd_errors(&on_name),
            ["/bom/components/component/name: attribute `purl` not allowed here"]
        );
        let xsi = ok.replace(
            r#"type="library""#,
            r#"type="library" xsi:type="x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#,
        );
        assert_eq!(xsd_errors(&xsi).len(), 1);
        // Text where only elements go; built-in types.
        let text = ok.replace("<name>a</name>", "<name>a</name>loose text");
        assert_eq!(
            xsd_errors(&text),
            ["/bom/components/component: text not allowed here"]
        );
        let version = ok.replace(r#"version="1""#, r#"version="one""#);
        assert_eq!(xsd_errors(&version).len(), 1);
        // bom-refs are unique across the document.
        let refs = ok.replace(r#"type="library""#, r#"type="library" bom-ref="r""#);
        let refs = refs.replace(
            "</components>",
            r#"<component type="library" bom-ref="r"><name>b</name></component></components>"#,
        );
        assert_eq!(
            xsd_errors(&refs),
            ["/bom/components/component[2]: duplicate bom-ref `r`"]
        );
        // At most a few errors are kept.
        let many = xml_with(&"<name>a</name>".repeat(100));
        assert!(xsd_errors(&many).len() <= super::super::MAX_SCHEMA_ERRORS);
    }

    fn spec_xml(v: &str, prefix: &str) -> Vec<std::path::PathBuf> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/sbom/cyclonedx/spec-tests")
            .join(v);
        let mut out: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with(prefix) && name.ends_with(".xml")
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn spec_xml_files_are_judged_as_the_xsd_judges_them() {
        let mut wrong = Vec::new();
        let mut counts = Vec::new();
        for v in XML_VERSIONS {
            let (valid, invalid) = (spec_xml(v, "valid-"), spec_xml(v, "invalid-"));
            counts.push((valid.len(), invalid.len()));
            for p in valid {
                if let Err(e) = parse(&std::fs::read(&p).unwrap()) {
                    wrong.push(format!("{}: {e}", p.display()));
                }
            }
            for p in invalid {
                if parse(&std::fs::read(&p).unwrap()).is_ok() {
                    wrong.push(format!("{}: accepted", p.display()));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert_eq!(
            counts,
            [(24, 23), (29, 24), (31, 24), (38, 24), (47, 27), (63, 28)]
        );
    }

    #[test]
    fn xml_dtd_and_other_roots_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><bom xmlns="http://cyclonedx.org/schema/bom/1.4">&b;</bom>"#;
        assert!(matches!(parse(bomb.as_bytes()), Err(SbomError::Xml(_))));
        let other = r#"<html xmlns="http://www.w3.org/1999/xhtml"/>"#;
        assert!(matches!(
            parse(other.as_bytes()),
            Err(SbomError::NotSbom(_))
        ));
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:spdx="http://spdx.org/rdf/terms#"/>"#;
        assert!(matches!(
            parse(rdf.as_bytes()),
            Err(SbomError::Unsupported(_))
        ));
    }

    #[test]
    fn wrong_types_fail_the_schema_not_the_parser() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
          "components":[{"type":"library","name":7,"hashes":[{"alg":"SHA-256","content":"zz"}]}]}"#;
        let SbomError::Schema { errors } = parse(doc).unwrap_err() else {
            panic!("expected a schema error")
        };
        assert!(
            errors.iter().any(|e| e.starts_with("/components/0/name")),
            "{errors:?}"
        );
        assert!(errors.len() <= super::super::MAX_SCHEMA_ERRORS);
    }
}
