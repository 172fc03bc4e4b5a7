//! CycloneDX XML is checked against the official XSD of its version
//! through the binary (`verify --sbom FILE --format json`): structure the
//! schema forbids (a second `<components>`, a second `<purl>`, unknown
//! elements, a missing `<name>`, a wrong enumeration value) is refused as
//! a JSON document failing its schema is, `sbom-malformed`; the spec's
//! own XML test files and the real generators' XML are judged as before.

use serde_json::Value;

use super::sbom::{self, loose_policy, sbom_args};
use super::support::util::*;

fn verify(env: &TestEnv, file: &str) -> Output {
    loose_policy(env, "");
    env.write("server.bin", noise(4096, 0x5b0b));
    sbom::verify(env, Some("policy.toml"), "server.bin", &sbom_args(file))
}

fn sbom_check(v: &Value) -> Value {
    let checks = checks_of(v, "sbom");
    assert_eq!(checks.len(), 1, "{v}");
    checks[0].clone()
}

/// Asserts `out` refused the SBOM as malformed, with `needle` in the
/// diagnostic's message, the way a JSON schema failure is refused.
fn refused(out: &Output, needle: &str) {
    out.code(1);
    let v = out.json();
    let check = sbom_check(&v);
    let messages: Vec<String> = v["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["code"] == "sbom-malformed")
        .map(|d| d["message"].as_str().unwrap_or("").to_string())
        .collect();
    out.check(v["verdict"] == "denied", "verdict denied")
        .check(
            check["status"] == "fail" && check["code"] == "sbom-malformed",
            "the sbom check fails as malformed",
        )
        .check(
            messages.iter().any(|m| {
                m.contains("does not conform to its XML schema (XSD)") && m.contains(needle)
            }),
            &format!("a message naming `{needle}`: {messages:?}"),
        );
}

/// A valid CycloneDX 1.6 XML document with `components` inside `<bom>`.
fn bom(components: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1">
  <metadata><timestamp>2024-05-06T07:08:09Z</timestamp>
    <component type="application"><name>app</name><version>1.0</version></component></metadata>
  {components}
</bom>"#
    )
}

const GOOD: &str = r#"<components><component type="library"><name>left-pad</name><version>1.3.0</version><purl>pkg:npm/left-pad@1.3.0</purl></component></components>"#;

#[test]
fn a_valid_xml_document_is_read() {
    let env = TestEnv::new();
    env.write("bom.xml", bom(GOOD));
    let out = verify(&env, "bom.xml");
    let v = out.json();
    let check = sbom_check(&v);
    out.no_diag("sbom-malformed").check(
        check["status"] == "read" && check["summary"]["components"] == 1,
        "read, one component",
    );
}

#[test]
fn structure_the_xsd_forbids_is_refused() {
    let evil =
        r#"<component type="library"><name>evil</name><purl>pkg:npm/evil@6.6.6</purl></component>"#;
    for (what, components, needle) in [
        (
            "a second components list",
            format!("{GOOD}<components>{evil}</components>"),
            "/bom/components[2]: element not allowed here",
        ),
        (
            "a second purl",
            GOOD.replace("</purl>", "</purl><purl>pkg:npm/evil@6.6.6</purl>"),
            "/bom/components/component/purl[2]: element not allowed here",
        ),
        (
            "an unknown element in the CycloneDX namespace",
            GOOD.replace("</purl>", "</purl><purls>pkg:npm/evil@6.6.6</purls>"),
            "/bom/components/component/purls: element not allowed here",
        ),
        (
            "a component without a name",
            GOOD.replace("<name>left-pad</name>", ""),
            "/bom/components/component/version: element not allowed here (expected <name>)",
        ),
        (
            "a component type outside the enumeration",
            GOOD.replace(r#"type="library""#, r#"type="libary""#),
            "/bom/components/component/@type: `libary` is not an allowed value",
        ),
        (
            "a hash algorithm outside the enumeration",
            GOOD.replace(
                "<purl>",
                &format!(
                    r#"<hashes><hash alg="SHA-999">{}</hash></hashes><purl>"#,
                    "ab".repeat(32)
                ),
            ),
            "/bom/components/component/hashes/hash/@alg: `SHA-999` is not an allowed value",
        ),
    ] {
        let env = TestEnv::new();
        env.write("bom.xml", bom(&components));
        let out = verify(&env, "bom.xml");
        eprintln!("case: {what}");
        refused(&out, needle);
    }
}

#[test]
fn spec_xml_files_are_judged_through_the_binary() {
    let env = TestEnv::new();
    for name in [
        "1.2/invalid-component-type-1.2.xml",
        "1.4/invalid-hash-alg-1.4.xml",
        "1.5/invalid-license-choice-1.5.xml",
        "1.6/invalid-scope-1.6.xml",
        "1.7/invalid-empty-component-1.7.xml",
    ] {
        let file = fixture(&format!("sbom/cyclonedx/spec-tests/{name}"));
        let out = verify(&env, &file.display().to_string());
        eprintln!("file: {name}");
        refused(&out, "/bom/");
    }
    for name in [
        "1.2/valid-bom-1.2.xml",
        "1.6/valid-bom-1.6.xml",
        "1.7/valid-bom-1.7.xml",
    ] {
        let file = fixture(&format!("sbom/cyclonedx/spec-tests/{name}"));
        let out = verify(&env, &file.display().to_string());
        let v = out.json();
        out.no_diag("sbom-malformed").check(
            sbom_check(&v)["status"] == "read",
            &format!("{name} is read"),
        );
    }
}

#[test]
fn real_generated_xml_still_reads_with_the_same_counts() {
    let env = TestEnv::new();
    for (name, components) in [
        ("generated/cyclonedx-npm-1.6.xml", 11),
        ("generated/cyclonedx-npm-1.7.xml", 11),
        ("generated/cyclonedx-py-1.2.xml", 7),
        ("generated/cyclonedx-py-1.5.xml", 7),
        ("generated/syft-npm-1.6.cdx.xml", 12),
        ("cyclonedx/bom-examples/SBOM/laravel-7.12.0/bom.1.4.xml", 62),
    ] {
        let file = fixture(&format!("sbom/{name}"));
        let out = verify(&env, &file.display().to_string());
        let v = out.json();
        let check = sbom_check(&v);
        out.no_diag("sbom-malformed").check(
            check["status"] == "read" && check["summary"]["components"] == components,
            &format!("{name}: read with {components} components, got {check}"),
        );
    }
}
