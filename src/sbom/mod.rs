//! Software bills of materials: CycloneDX and SPDX documents parsed into
//! one small model of what the policy needs, licence expressions, and
//! offline OSV advisories.
//!
//! Why our own models (measured on `fixtures/sbom/` and on real generator
//! output in `fixtures/sbom/generated/`): `cyclonedx-bom` 0.8.1 knows only
//! CycloneDX 1.3 to 1.5, so it refuses every 1.6 and 1.7 document (what
//! syft, cyclonedx-npm and cyclonedx-py write by default) and keycloak's
//! 1.2; `spdx-rs` 0.5.5 did read every SPDX 2.x file there, but is
//! unmaintained and checks no schema. The policy needs a handful of
//! fields, so small serde models read those, after the official JSON
//! schemas (vendored in `schemas/`, see its README) have checked the whole
//! JSON document.

pub mod advisories;
pub mod cyclonedx;
pub mod generate;
mod json;
pub mod license;
pub mod package;
pub mod spdx;
mod xsd;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;

/// The largest SBOM read: juice-shop's 1,115 components take 1.9 MB, so
/// 64 MiB leaves room for very large images while bounding memory (JSON
/// documents are checked item by item, see `json`, so no tree of the whole
/// document is built).
pub const MAX_SBOM: usize = 64 << 20;
/// The most components (nested ones included) one SBOM may list.
pub const MAX_COMPONENTS: usize = 1_000_000;
/// Schema errors kept in [`SbomError::Schema`]: enough to fix a document,
/// few enough to print.
const MAX_SCHEMA_ERRORS: usize = 8;
/// Warnings kept on an [`Sbom`]; past this only a count is added, so a
/// document with a million bad purls cannot flood the report.
const MAX_WARNINGS: usize = 50;
/// Longest single message kept (schema errors quote the schema's patterns).
const MAX_MESSAGE: usize = 400;

/// How a format is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Json,
    Xml,
    TagValue,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Json => "JSON",
            Encoding::Xml => "XML",
            Encoding::TagValue => "tag-value",
        })
    }
}

/// The document's format, as detected from its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum Format {
    CycloneDx {
        spec_version: String,
        encoding: Encoding,
    },
    Spdx {
        version: String,
        encoding: Encoding,
    },
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::CycloneDx {
                spec_version,
                encoding,
            } => write!(f, "CycloneDX {spec_version} {encoding}"),
            Format::Spdx { version, encoding } => write!(f, "SPDX {version} {encoding}"),
        }
    }
}

/// One component (CycloneDX) or package (SPDX).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A package URL that the `packageurl` crate accepts. One that it
    /// refuses only for its qualifiers or subpath is kept without them (it
    /// still names the package); any other invalid one is left out; both
    /// are named in [`Sbom::warnings`]. With no purl, a CycloneDX
    /// `bom-ref` that is a valid purl stands in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Further purls the component carries (an SPDX package may have
    /// several `purl` references): each is judged like [`Component::purl`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// `(algorithm, lower-case hex)`, the algorithm normalised to `sha256`,
    /// `sha512`, `sha1`, `sha3-256`, `blake2b-256`, `md5`, ...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<(String, String)>,
    /// One SPDX licence expression as written: CycloneDX ids, expressions
    /// and names joined with AND; SPDX `licenseConcluded`, or
    /// `licenseDeclared` when nothing was concluded. `NOASSERTION` and
    /// `NONE` are kept as they are.
    /// Shared between the components that carry the same text: a large
    /// SBOM has a handful of distinct licences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licenses: Option<Arc<str>>,
    /// The purl's type (`npm`, `pypi`, `cargo`, ...), shared likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<Arc<str>>,
}

/// A parsed SBOM: what the policy needs, nothing else.
#[derive(Debug, Clone, Serialize)]
pub struct Sbom {
    pub format: Format,
    /// What the SBOM describes: CycloneDX `metadata.component`; SPDX the
    /// first package the document describes (`documentDescribes`, else a
    /// `DESCRIBES` relationship of the document). Not in `components`.
    pub top: Option<Component>,
    /// Every other component, nested ones flattened, in document order.
    pub components: Vec<Component>,
    /// When the SBOM was made, RFC 3339 as written.
    pub created: Option<String>,
    /// CycloneDX `serialNumber`, SPDX `documentNamespace`.
    pub serial: Option<String>,
    /// Recoverable problems: invalid purls or hashes that were left out.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("the SBOM is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("the SBOM is empty")]
    Empty,
    #[error("not a CycloneDX or SPDX document: {0}")]
    NotSbom(String),
    /// A format or version that is recognised but not read (SPDX 3,
    /// SPDX RDF).
    #[error("{0}")]
    Unsupported(String),
    #[error("{format} version `{found}` is not supported; supported versions: {supported}")]
    UnsupportedVersion {
        format: &'static str,
        found: String,
        supported: String,
    },
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("malformed SPDX tag-value, line {line}: {message}")]
    TagValue { line: usize, message: String },
    /// The document fails its official JSON schema; the first few errors,
    /// each led by the JSON pointer of the offending value.
    #[error("the document does not conform to its JSON schema: {}", .errors.join("; "))]
    Schema { errors: Vec<String> },
    /// The XML document fails the official XSD of its version; the first
    /// few errors, each led by the path of the offending element.
    #[error("the document does not conform to its XML schema (XSD): {}", .errors.join("; "))]
    XmlSchema { errors: Vec<String> },
    /// The document breaks a rule of its format that no schema checked.
    #[error("invalid {format} document: {message}")]
    Invalid {
        format: &'static str,
        message: String,
    },
    #[error("the SBOM lists more than {limit} components")]
    TooManyComponents { limit: usize },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Counts for a report: how many components, under which licences, from
/// which ecosystems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub format: String,
    pub components: usize,
    /// Licence expression as written -> components with it.
    pub licenses: BTreeMap<String, usize>,
    pub without_license: usize,
    /// purl type -> components.
    pub ecosystems: BTreeMap<String, usize>,
    pub without_purl: usize,
    pub warnings: usize,
}

/// Limits, separate so the tests can reach them with small inputs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_bytes: usize,
    pub max_components: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_bytes: MAX_SBOM,
        max_components: MAX_COMPONENTS,
    };
}

/// Parses an SBOM, detecting the format from its content: CycloneDX JSON
/// and XML (1.2 to 1.7), SPDX JSON and tag-value (2.2, 2.3).
/// JSON documents must conform to their official schema.
pub fn parse(bytes: &[u8]) -> Result<Sbom, SbomError> {
    parse_with(bytes, Limits::DEFAULT)
}

pub(crate) fn parse_with(bytes: &[u8], limits: Limits) -> Result<Sbom, SbomError> {
    if bytes.len() > limits.max_bytes {
        return Err(SbomError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(SbomError::Empty);
    };
    match first {
        b'{' | b'[' => parse_json(bytes, limits),
        b'<' => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| SbomError::Xml(format!("not UTF-8: {e}")))?;
            cyclonedx::parse_xml(text, limits)
        }
        _ => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| SbomError::NotSbom("neither JSON, XML nor UTF-8 text".to_string()))?;
            if spdx::looks_like_tag_value(text) {
                spdx::parse_tag_value(text, limits)
            } else {
                Err(SbomError::NotSbom(
                    "not JSON or XML, and no `SPDXVersion:` line for SPDX tag-value".to_string(),
                ))
            }
        }
    }
}

/// A file whose top level was read once, for a caller that looks at its
/// keys (is it an attestation?) before reading it as an SBOM: the one scan
/// serves both.
pub struct Scanned<'a> {
    bytes: &'a [u8],
    members: Option<Result<json::Members<'a>, SbomError>>,
}

impl<'a> Scanned<'a> {
    /// Scans `bytes` when it is a JSON object; anything else is left for
    /// [`Scanned::parse`].
    pub fn new(bytes: &'a [u8]) -> Self {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let members = (object && bytes.len() <= MAX_SBOM).then(|| json::Members::parse(body));
        Scanned { bytes, members }
    }

    /// Whether the document is a JSON object with top-level key `key`;
    /// `None` when it is not a JSON object (or not JSON).
    pub fn has_key(&self, key: &str) -> Option<bool> {
        match &self.members {
            Some(Ok(m)) => Some(m.contains(key)),
            _ => None,
        }
    }

    /// Reads the document as an SBOM, as [`parse`] would.
    pub fn parse(self) -> Result<Sbom, SbomError> {
        match self.members {
            Some(members) => parse_members(members?, Limits::DEFAULT),
            None => parse(self.bytes),
        }
    }
}

fn parse_json(bytes: &[u8], limits: Limits) -> Result<Sbom, SbomError> {
    let members = match json::Members::parse(bytes) {
        Ok(m) => m,
        // Valid JSON, but not an object.
        Err(e) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
            return Err(SbomError::NotSbom(format!(
                "the JSON document is not an object ({e})"
            )));
        }
        Err(e) => return Err(e),
    };
    parse_members(members, limits)
}

fn parse_members(members: json::Members, limits: Limits) -> Result<Sbom, SbomError> {
    if members.contains("spdxVersion") {
        return spdx::parse_json(members, limits);
    }
    if members.contains("@context") || members.contains("@graph") {
        if members.text("@context").contains("spdx.org/rdf/3") || is_spdx3_graph(&members) {
            return Err(SbomError::Unsupported(
                "SPDX 3 (JSON-LD) is not supported yet; SPDX 2.2 and 2.3 (JSON, tag-value) \
                 and CycloneDX are"
                    .to_string(),
            ));
        }
        return Err(SbomError::NotSbom(
            "a JSON-LD document that is not SPDX".to_string(),
        ));
    }
    if members.contains("bomFormat") || members.contains("specVersion") {
        return cyclonedx::parse_json(members, limits);
    }
    Err(SbomError::NotSbom(
        "a JSON object with neither `bomFormat` (CycloneDX) nor `spdxVersion` (SPDX)".to_string(),
    ))
}

/// An SPDX 3 graph: its elements carry `specVersion`.
fn is_spdx3_graph(members: &json::Members) -> bool {
    #[derive(serde::Deserialize)]
    struct Node {
        #[serde(rename = "specVersion")]
        spec_version: Option<serde::de::IgnoredAny>,
    }
    members
        .items::<Node>("@graph")
        .iter()
        .any(|n| n.spec_version.is_some())
}

/// Counts components by licence and by ecosystem.
pub fn summary(sbom: &Sbom) -> Summary {
    let mut s = Summary {
        format: sbom.format.to_string(),
        components: sbom.components.len(),
        licenses: BTreeMap::new(),
        without_license: 0,
        ecosystems: BTreeMap::new(),
        without_purl: 0,
        warnings: sbom.warnings.len(),
    };
    for c in &sbom.components {
        match &c.licenses {
            Some(l) => *s.licenses.entry(l.to_string()).or_default() += 1,
            None => s.without_license += 1,
        }
        match &c.ecosystem {
            Some(e) => *s.ecosystems.entry(e.to_string()).or_default() += 1,
            None => s.without_purl += 1,
        }
    }
    s
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Collects components under the limits, normalising purls and hashes and
/// keeping a bounded list of warnings.
pub(crate) struct Collector {
    pub components: Vec<Component>,
    warnings: Vec<String>,
    dropped_warnings: usize,
    max_components: usize,
    /// Set by [`Collector::push_bounded`] when a component did not fit.
    overflowed: bool,
    /// Licence and ecosystem texts already seen, shared by the components.
    interned: HashSet<Arc<str>>,
}

/// A component as read, before normalisation.
#[derive(Debug, Default)]
pub(crate) struct RawComponent {
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    /// Purls after the first (SPDX packages may carry several).
    pub purls: Vec<String>,
    /// CycloneDX `bom-ref`, a purl in many generators' output.
    pub bom_ref: Option<String>,
    pub hashes: Vec<(String, String)>,
    pub licenses: Option<String>,
}

impl Collector {
    pub fn new(limits: Limits) -> Self {
        Collector {
            components: Vec::new(),
            warnings: Vec::new(),
            dropped_warnings: 0,
            max_components: limits.max_components,
            overflowed: false,
            interned: HashSet::new(),
        }
    }

    /// A collector with room for `n` components.
    pub fn with_capacity(limits: Limits, n: usize) -> Self {
        let mut c = Collector::new(limits);
        c.components.reserve_exact(n.min(limits.max_components));
        c
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.interned.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.interned.insert(a.clone());
        a
    }

    pub fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(clip(message));
        } else {
            self.dropped_warnings += 1;
        }
    }

    /// Checks the limit before a component is read, so a huge list fails
    /// early.
    pub fn check_room(&self, more: usize) -> Result<(), SbomError> {
        if self.components.len().saturating_add(more) > self.max_components {
            return Err(SbomError::TooManyComponents {
                limit: self.max_components,
            });
        }
        Ok(())
    }

    pub fn push(&mut self, raw: RawComponent) -> Result<(), SbomError> {
        self.check_room(1)?;
        let c = self.normalise(raw);
        self.components.push(c);
        Ok(())
    }

    /// [`Collector::push`] for a share of a document read on another
    /// thread: past the limit the component is dropped and the overflow
    /// reported by [`Collector::absorb`].
    pub fn push_bounded(&mut self, raw: RawComponent) {
        match self.check_room(1) {
            Ok(()) => {
                let c = self.normalise(raw);
                self.components.push(c);
            }
            Err(_) => self.overflowed = true,
        }
    }

    /// Fails when [`Collector::push_bounded`] dropped a component.
    pub fn check_overflow(&self) -> Result<(), SbomError> {
        if self.overflowed {
            return Err(SbomError::TooManyComponents {
                limit: self.max_components,
            });
        }
        Ok(())
    }

    /// Appends what `share` collected, in order, under this collector's
    /// limits.
    pub fn absorb(&mut self, share: Collector) -> Result<(), SbomError> {
        share.check_overflow()?;
        self.check_room(share.components.len())?;
        if self.components.is_empty() && self.components.capacity() < share.components.len() {
            self.components = share.components;
        } else {
            self.components.extend(share.components);
        }
        for w in share.warnings {
            self.warn(w);
        }
        self.dropped_warnings += share.dropped_warnings;
        Ok(())
    }

    pub fn normalise(&mut self, raw: RawComponent) -> Component {
        let mut purl: Option<String> = None;
        let mut ecosystem = None;
        let mut also: Vec<String> = Vec::new();
        for p in raw.purl.iter().chain(&raw.purls) {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let Some((text, ty)) = self.read_purl(&raw.name, p, true) else {
                continue;
            };
            match &purl {
                None => {
                    purl = Some(text);
                    ecosystem = Some(ty);
                }
                Some(first) if *first != text && !also.contains(&text) => also.push(text),
                Some(_) => {}
            }
        }
        // Many generators make the bom-ref the purl; without a purl it is
        // the best identity the component has.
        if purl.is_none()
            && let Some(r) = raw.bom_ref.as_deref().map(str::trim)
            && r.starts_with("pkg:")
            && let Some((text, ty)) = self.read_purl(&raw.name, r, false)
        {
            purl = Some(text);
            ecosystem = Some(ty);
        }
        let mut hashes = Vec::with_capacity(raw.hashes.len());
        for (alg, value) in raw.hashes {
            let value = value.trim().to_ascii_lowercase();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.warn(format!(
                    "component `{}`: {alg} hash `{}` is not hex, left out",
                    raw.name,
                    clip(value)
                ));
                continue;
            }
            hashes.push((normalise_alg(&alg), value));
        }
        Component {
            name: raw.name,
            version: raw.version.filter(|v| !v.is_empty()),
            purl,
            also,
            hashes,
            licenses: raw
                .licenses
                .filter(|l| !l.trim().is_empty())
                .map(|l| self.intern(&l)),
            ecosystem,
        }
    }

    /// A purl as read, with its interned type: the purl itself, or, when
    /// only its qualifiers or subpath do not parse, the purl without them
    /// (they do not change which package is meant: a bad `?a%ZZ=1` must
    /// not hide the package from the policy). `warn`: say so, and name
    /// one that does not parse at all.
    fn read_purl(&mut self, name: &str, p: &str, warn: bool) -> Option<(String, Arc<str>)> {
        let err = match packageurl::PackageUrl::from_str(p) {
            // `pkg:npm/x@` has no version, not an empty one.
            Ok(parsed) if parsed.version() == Some("") => {
                let at = p.find(['?', '#']).unwrap_or(p.len());
                let text = format!("{}{}", p[..at].trim_end_matches('@'), &p[at..]);
                return Some((text, self.intern(parsed.ty())));
            }
            Ok(parsed) => return Some((p.to_string(), self.intern(parsed.ty()))),
            Err(e) => e,
        };
        let core = p.split(['?', '#']).next().unwrap_or(p);
        if core.len() < p.len()
            && let Ok(parsed) = packageurl::PackageUrl::from_str(core)
        {
            let ty = self.intern(parsed.ty());
            if warn {
                self.warn(format!(
                    "component `{name}`: invalid purl `{}` read as `{core}` (its qualifiers or subpath do not parse)",
                    clip(p.to_string()),
                ));
            }
            return Some((core.to_string(), ty));
        }
        if warn {
            self.warn(format!(
                "component `{name}`: invalid purl `{}` left out: {err}",
                clip(p.to_string())
            ));
        }
        None
    }

    pub fn into_warnings(mut self) -> (Vec<Component>, Vec<String>) {
        if self.dropped_warnings > 0 {
            self.warnings
                .push(format!("… and {} more warnings", self.dropped_warnings));
        }
        (self.components, self.warnings)
    }
}

/// `SHA-256` (CycloneDX), `SHA256` (SPDX) -> `sha256`; `SHA3-256` and
/// `SHA3_256` -> `sha3-256`; `BLAKE2b-256` -> `blake2b-256`.
pub(crate) fn normalise_alg(alg: &str) -> String {
    let a = alg.trim().to_ascii_lowercase().replace('_', "-");
    match a.strip_prefix("sha-") {
        Some(rest) => format!("sha{rest}"),
        None => a,
    }
}

/// Joins licence parts with AND, parenthesising compound expressions.
pub(crate) fn join_licenses(parts: Vec<String>) -> Option<String> {
    let mut uniq: Vec<String> = Vec::with_capacity(parts.len());
    for p in parts {
        let p = p.trim().to_string();
        if !p.is_empty() && !uniq.contains(&p) {
            uniq.push(p);
        }
    }
    match uniq.len() {
        0 => None,
        1 => uniq.pop(),
        _ => Some(
            uniq.into_iter()
                .map(|p| {
                    if p.contains(char::is_whitespace) {
                        format!("({p})")
                    } else {
                        p
                    }
                })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sbom")
    }

    fn read(rel: &str) -> Vec<u8> {
        std::fs::read(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn cdx(v: &str, e: Encoding) -> Format {
        Format::CycloneDx {
            spec_version: v.into(),
            encoding: e,
        }
    }

    fn spdx(v: &str, e: Encoding) -> Format {
        Format::Spdx {
            version: v.into(),
            encoding: e,
        }
    }

    /// Every real-world and generated fixture: format, component count,
    /// and the name of the top component.
    fn expected() -> Vec<(&'static str, Format, usize, Option<&'static str>)> {
        use Encoding::*;
        let ex = "cyclonedx/bom-examples/SBOM";
        vec![
            (
                leak(format!("{ex}/juice-shop/via_npm/flat/bom.1.4.json")),
                cdx("1.4", Json),
                1115,
                Some("juice-shop"),
            ),
            (
                leak(format!("{ex}/keycloak-10.0.2/bom.json")),
                cdx("1.2", Json),
                903,
                Some("keycloak-parent"),
            ),
            (
                leak(format!("{ex}/laravel-7.12.0/bom.1.3.json")),
                cdx("1.3", Json),
                62,
                Some("cyclonedx-php-composer-demo"),
            ),
            (
                leak(format!("{ex}/laravel-7.12.0/bom.1.4.json")),
                cdx("1.4", Json),
                62,
                Some("cyclonedx-php-composer-demo"),
            ),
            (
                leak(format!("{ex}/laravel-7.12.0/bom.1.4.xml")),
                cdx("1.4", Xml),
                62,
                Some("cyclonedx-php-composer-demo"),
            ),
            (
                "spdx/SPDXJSONExample-v2.3.spdx.json",
                spdx("2.3", Json),
                3,
                Some("glibc"),
            ),
            (
                "spdx/SPDXTagExample-v2.3.spdx",
                spdx("2.3", TagValue),
                3,
                Some("glibc"),
            ),
            (
                "generated/cyclonedx-npm-1.6.json",
                cdx("1.6", Json),
                11,
                Some("warden-sbom-fixture"),
            ),
            (
                "generated/cyclonedx-npm-1.6.xml",
                cdx("1.6", Xml),
                11,
                Some("warden-sbom-fixture"),
            ),
            (
                "generated/cyclonedx-npm-1.7.json",
                cdx("1.7", Json),
                11,
                Some("warden-sbom-fixture"),
            ),
            (
                "generated/cyclonedx-npm-1.7.xml",
                cdx("1.7", Xml),
                11,
                Some("warden-sbom-fixture"),
            ),
            ("generated/cyclonedx-py-1.2.xml", cdx("1.2", Xml), 7, None),
            ("generated/cyclonedx-py-1.5.xml", cdx("1.5", Xml), 7, None),
            ("generated/cyclonedx-py-1.6.json", cdx("1.6", Json), 7, None),
            ("generated/cyclonedx-py-1.7.json", cdx("1.7", Json), 7, None),
            (
                "generated/npm-sbom-1.5.cdx.json",
                cdx("1.5", Json),
                11,
                Some("npmproj"),
            ),
            (
                "generated/npm-sbom-2.3.spdx.json",
                spdx("2.3", Json),
                11,
                Some("warden-sbom-fixture"),
            ),
            (
                "generated/syft-npm-1.6.cdx.json",
                cdx("1.6", Json),
                12,
                Some("npmproj"),
            ),
            (
                "generated/syft-npm-1.6.cdx.xml",
                cdx("1.6", Xml),
                12,
                Some("npmproj"),
            ),
            (
                "generated/syft-npm-2.2.spdx.json",
                spdx("2.2", Json),
                12,
                Some("npmproj"),
            ),
            (
                "generated/syft-npm-2.2.spdx",
                spdx("2.2", TagValue),
                12,
                Some("npmproj"),
            ),
            (
                "generated/syft-npm-2.3.spdx.json",
                spdx("2.3", Json),
                12,
                Some("npmproj"),
            ),
            (
                "generated/syft-npm-2.3.spdx",
                spdx("2.3", TagValue),
                12,
                Some("npmproj"),
            ),
            (
                "generated/syft-py-1.6.cdx.json",
                cdx("1.6", Json),
                13,
                Some("target"),
            ),
            (
                "generated/syft-py-2.3.spdx.json",
                spdx("2.3", Json),
                13,
                Some("target"),
            ),
            (
                "generated/trivy-npm-1.5.cdx.json",
                cdx("1.5", Json),
                12,
                Some("npmproj"),
            ),
            (
                "generated/trivy-npm-2.3.spdx.json",
                spdx("2.3", Json),
                12,
                Some("npmproj"),
            ),
            (
                "generated/trivy-npm-2.3.spdx",
                spdx("2.3", TagValue),
                12,
                Some("npmproj"),
            ),
        ]
    }

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    #[test]
    fn real_world_and_generated_sboms_parse() {
        for (rel, format, count, top) in expected() {
            let sbom = parse(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(sbom.format, format, "{rel}");
            assert_eq!(sbom.components.len(), count, "{rel}");
            assert_eq!(sbom.top.as_ref().map(|t| t.name.as_str()), top, "{rel}");
        }
    }

    #[test]
    fn purls_are_read_as_far_as_they_name_the_package() {
        let mut c = Collector::new(Limits::DEFAULT);
        let raw = |purl: Option<&str>, purls: &[&str], bom_ref: Option<&str>| RawComponent {
            name: "x".into(),
            purl: purl.map(str::to_string),
            purls: purls.iter().map(|p| p.to_string()).collect(),
            bom_ref: bom_ref.map(str::to_string),
            ..RawComponent::default()
        };
        // Bad qualifiers or subpath: the package is still named.
        let got = c.normalise(raw(Some("pkg:npm/x@1.0?a%ZZ=1"), &[], None));
        assert_eq!(got.purl.as_deref(), Some("pkg:npm/x@1.0"));
        assert_eq!(got.ecosystem.as_deref(), Some("npm"));
        let got = c.normalise(raw(Some("pkg:npm/x@1.0?=v"), &[], None));
        assert_eq!(got.purl.as_deref(), Some("pkg:npm/x@1.0"));
        // An empty version is none.
        let got = c.normalise(raw(Some("pkg:npm/x@"), &[], None));
        assert_eq!(got.purl.as_deref(), Some("pkg:npm/x"));
        // Every purl is kept, each once; the bom-ref stands in only alone.
        let got = c.normalise(raw(
            Some("pkg:npm/a@1"),
            &["pkg:npm/b@1", "pkg:npm/a@1", "nonsense"],
            Some("pkg:npm/c@1"),
        ));
        assert_eq!(got.purl.as_deref(), Some("pkg:npm/a@1"));
        assert_eq!(got.also, ["pkg:npm/b@1"]);
        let got = c.normalise(raw(None, &[], Some("pkg:npm/c@1")));
        assert_eq!(got.purl.as_deref(), Some("pkg:npm/c@1"));
        let got = c.normalise(raw(None, &[], Some("c-1.0")));
        assert_eq!(got.purl, None);
        let got = c.normalise(raw(Some("not a purl"), &[], None));
        assert_eq!((got.purl, got.ecosystem), (None, None));
        let (_, warnings) = c.into_warnings();
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(warnings[0].contains("read as `pkg:npm/x@1.0`"));
    }

    #[test]
    fn juice_shop_details() {
        let sbom = parse(&read(
            "cyclonedx/bom-examples/SBOM/juice-shop/via_npm/flat/bom.1.4.json",
        ))
        .unwrap();
        assert_eq!(sbom.components.len(), 1115);
        let s = summary(&sbom);
        assert_eq!(s.components, 1115);
        assert_eq!(s.ecosystems.get("npm"), Some(&(1115 - s.without_purl)));
        assert!(
            s.licenses.get("MIT").is_some_and(|n| *n > 500),
            "{:?}",
            s.licenses
        );
        assert_eq!(s.licenses.values().sum::<usize>() + s.without_license, 1115);
        // Every hash is normalised.
        for c in &sbom.components {
            for (alg, hex) in &c.hashes {
                assert!(
                    [
                        "sha1", "sha256", "sha384", "sha512", "md5", "sha3-256", "sha3-384",
                        "sha3-512"
                    ]
                    .contains(&alg.as_str()),
                    "{alg}"
                );
                assert!(
                    hex.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                );
            }
        }
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["components"], 1115);
    }

    #[test]
    fn generated_licences_and_purls() {
        let sbom = parse(&read("generated/cyclonedx-py-1.6.json")).unwrap();
        let find = |n: &str| sbom.components.iter().find(|c| c.name == n).unwrap();
        // cyclonedx-py writes the trove classifier beside the id: dropped.
        assert_eq!(find("certifi").licenses.as_deref(), Some("MPL-2.0"));
        assert_eq!(find("requests").ecosystem.as_deref(), Some("pypi"));
        let sbom = parse(&read(
            "cyclonedx/bom-examples/SBOM/keycloak-10.0.2/bom.json",
        ))
        .unwrap();
        assert_eq!(sbom.created.as_deref(), Some("2020-08-02T21:21:17Z"));
        assert_eq!(
            sbom.serial.as_deref(),
            Some("urn:uuid:411dafd2-c29f-491a-97d7-e97de5bc2289")
        );
        let sbom = parse(&read("generated/syft-npm-2.3.spdx.json")).unwrap();
        assert!(sbom.created.as_deref().is_some_and(|c| c.ends_with('Z')));
        let chalk = sbom.components.iter().find(|c| c.name == "chalk").unwrap();
        // syft concludes NOASSERTION and declares what package.json says.
        assert_eq!(chalk.licenses.as_deref(), Some("MIT"));
        assert_eq!(chalk.purl.as_deref(), Some("pkg:npm/chalk@4.1.2"));
        assert_eq!(chalk.version.as_deref(), Some("4.1.2"));
        let s = summary(&sbom);
        assert_eq!(s.licenses.get("CC0-1.0"), Some(&1));
        assert_eq!(s.ecosystems.get("npm"), Some(&12));
    }

    fn spec_files(prefix: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for v in ["1.5", "1.6"] {
            let dir = fixtures().join("cyclonedx/spec-tests").join(v);
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                // The XML ones are judged in `cyclonedx`.
                if name.starts_with(prefix) && name.ends_with(".json") {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn spec_valid_files_parse() {
        let files = spec_files("valid-");
        assert_eq!(files.len(), 36 + 45);
        for p in files {
            let r = parse(&std::fs::read(&p).unwrap());
            assert!(r.is_ok(), "{}: {}", p.display(), r.unwrap_err());
        }
    }

    #[test]
    fn spec_invalid_files_are_rejected() {
        let files = spec_files("invalid-");
        assert_eq!(files.len(), 22 + 25);
        let mut slipped = Vec::new();
        for p in &files {
            match parse(&std::fs::read(p).unwrap()) {
                Ok(s) => slipped.push(format!(
                    "| {} | parsed, {} components |",
                    p.file_name().unwrap().to_string_lossy(),
                    s.components.len()
                )),
                Err(e) => println!("{}: {e}", p.file_name().unwrap().to_string_lossy()),
            }
        }
        if !slipped.is_empty() {
            println!("| file | outcome |\n|---|---|\n{}", slipped.join("\n"));
        }
        assert!(
            slipped.is_empty(),
            "{} invalid files slipped through",
            slipped.len()
        );
    }

    /// Every file under fixtures/sbom is judged by one of the tests here.
    #[test]
    fn every_fixture_is_judged() {
        let known: Vec<String> = expected().iter().map(|e| e.0.to_string()).collect();
        let mut stack = vec![fixtures()];
        let mut unjudged = Vec::new();
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let rel = p
                    .strip_prefix(fixtures())
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                let judged = known.contains(&rel)
                    || rel.starts_with("cyclonedx/spec-tests/")
                        && (name.starts_with("valid-") || name.starts_with("invalid-"))
                    || rel.starts_with("generated/project/")
                    || name.ends_with(".md")
                    || rel == "spdx/spdx3-package_sbom.jsonld.json"
                    || rel == "spdx/SPDXJSONExample-v2.2.spdx.json";
                if !judged {
                    unjudged.push(rel);
                }
            }
        }
        assert!(unjudged.is_empty(), "fixtures no test judges: {unjudged:?}");
    }

    #[test]
    fn spdx_2_2_example() {
        // The upstream SPDX 2.2 JSON example, when present; the copy in
        // fixtures/ may be empty, which must fail cleanly.
        let bytes = read("spdx/SPDXJSONExample-v2.2.spdx.json");
        match parse(&bytes) {
            Err(SbomError::Empty) => assert!(bytes.iter().all(u8::is_ascii_whitespace)),
            Ok(sbom) => {
                assert_eq!(sbom.format, spdx("2.2", Encoding::Json));
                assert!(!sbom.components.is_empty());
            }
            Err(e) => panic!("SPDX 2.2 example: {e}"),
        }
    }

    #[test]
    fn spdx_3_is_refused() {
        let err = parse(&read("spdx/spdx3-package_sbom.jsonld.json")).unwrap_err();
        assert!(matches!(err, SbomError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("SPDX 3"), "{err}");
        assert!(err.to_string().contains("not supported yet"), "{err}");
    }

    #[test]
    fn not_sboms_are_refused() {
        for (input, what) in [
            (&b""[..], "empty"),
            (b"   \n", "blank"),
            (b"[1,2]", "array"),
            (b"{\"name\":\"x\"}", "other json"),
            (b"{\"@context\":\"https://schema.org\"}", "other json-ld"),
            (b"\xff\xfe\x00", "binary"),
            (b"hello world", "text"),
            (b"{\"bomFormat\":\"CycloneDX\"}", "no specVersion"),
            (b"{\"spdxVersion\":7}", "bad spdxVersion"),
            (b"<bom", "broken xml"),
        ] {
            assert!(parse(input).is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn invalid_purls_are_warnings() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[
            {"type":"library","name":"ok","purl":"pkg:cargo/serde@1.0.0"},
            {"type":"library","name":"bad","purl":"not-a-purl"},
            {"type":"library","name":"no-type","purl":"pkg:/x@1"}]}"#;
        let sbom = parse(doc).unwrap();
        assert_eq!(sbom.components[0].ecosystem.as_deref(), Some("cargo"));
        assert_eq!(sbom.components[1].purl, None);
        assert_eq!(sbom.components[1].ecosystem, None);
        assert_eq!(sbom.components[2].purl, None);
        assert_eq!(sbom.warnings.len(), 2, "{:?}", sbom.warnings);
        assert!(sbom.warnings[0].contains("`bad`") && sbom.warnings[0].contains("not-a-purl"));
        let s = summary(&sbom);
        assert_eq!((s.without_purl, s.warnings), (2, 2));
    }

    #[test]
    fn warnings_are_bounded() {
        let comps: Vec<String> = (0..500)
            .map(|i| format!(r#"{{"type":"library","name":"c{i}","purl":"bad{i}"}}"#))
            .collect();
        let doc = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{}]}}"#,
            comps.join(",")
        );
        let sbom = parse(doc.as_bytes()).unwrap();
        assert_eq!(sbom.warnings.len(), MAX_WARNINGS + 1);
        assert!(sbom.warnings.last().unwrap().contains("450 more"));
    }

    #[test]
    fn deep_nesting_fails_cleanly() {
        let depth = 10_000;
        // Valid JSON, skipped without recursion, and not an object.
        let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(matches!(parse(json.as_bytes()), Err(SbomError::NotSbom(_))));
        let json = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(matches!(parse(json.as_bytes()), Err(SbomError::Json(_))));
        let json = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":{}[]{}}}"#,
            r#"[{"type":"library","name":"x","components":"#.repeat(depth),
            "}]".repeat(depth)
        );
        let err = parse(json.as_bytes()).unwrap_err();
        assert!(matches!(err, SbomError::Json(_)), "{err}");
        assert!(err.to_string().contains("recursion limit"), "{err}");

        // Just inside the limit: every level is read, the schema checker
        // included, on a test thread's 2 MiB stack.
        let levels = 62;
        let json = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":{}[]{}}}"#,
            r#"[{"type":"library","name":"x","components":"#.repeat(levels),
            "}]".repeat(levels)
        );
        assert_eq!(parse(json.as_bytes()).unwrap().components.len(), levels);

        // XML: roxmltree builds its tree without recursion, and so does
        // the reader; a deep document is read or refused, never a crash.
        let mut xml =
            String::from(r#"<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>"#);
        for i in 0..depth {
            xml.push_str(&format!(
                r#"<component type="library"><name>c{i}</name><components>"#
            ));
        }
        for _ in 0..depth {
            xml.push_str("</components></component>");
        }
        xml.push_str("</components></bom>");
        let sbom = parse(xml.as_bytes()).unwrap();
        assert_eq!(sbom.components.len(), depth);
        assert_eq!(sbom.components[depth - 1].name, format!("c{}", depth - 1));
        let deep = format!("{}{}", "<a>".repeat(1_000_000), "</a>".repeat(1_000_000));
        assert!(matches!(parse(deep.as_bytes()), Err(SbomError::NotSbom(_))));
    }

    fn component_json(i: usize, pad: &str) -> String {
        format!(
            r#"{{"type":"library","name":"pkg-{i}","version":"1.0.{i}","purl":"pkg:npm/pkg-{i}@1.0.{i}","licenses":[{{"license":{{"id":"MIT"}}}}],"hashes":[{{"alg":"SHA-256","content":"{:064x}"}}],"description":"{pad}"}}"#,
            i
        )
    }

    fn cdx_doc(n: usize, pad: &str) -> String {
        let mut s = String::with_capacity(n * (300 + pad.len()));
        s.push_str(r#"{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,"metadata":{"timestamp":"2024-01-01T00:00:00Z"},"components":["#);
        for i in 0..n {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&component_json(i, pad));
        }
        s.push_str("]}");
        s
    }

    #[test]
    fn a_hundred_thousand_components() {
        let doc = cdx_doc(100_000, "");
        let start = Instant::now();
        let sbom = parse(doc.as_bytes()).unwrap();
        println!(
            "100,000 components, {} MB: {:?}",
            doc.len() >> 20,
            start.elapsed()
        );
        assert_eq!(sbom.components.len(), 100_000);
        assert_eq!(sbom.components[99_999].name, "pkg-99999");
        let s = summary(&sbom);
        assert_eq!(s.licenses.get("MIT"), Some(&100_000));
        assert_eq!(s.ecosystems.get("npm"), Some(&100_000));
    }

    #[test]
    fn a_fifty_megabyte_sbom() {
        let pad = "x".repeat(2000);
        let doc = cdx_doc(24_000, &pad);
        assert!(
            doc.len() > 50_000_000 && doc.len() < MAX_SBOM,
            "{}",
            doc.len()
        );
        let start = Instant::now();
        let sbom = parse(doc.as_bytes()).unwrap();
        println!("{} MB: {:?}", doc.len() >> 20, start.elapsed());
        assert_eq!(sbom.components.len(), 24_000);
    }

    #[test]
    fn a_large_invalid_document_lists_its_first_errors() {
        let bad = |i: usize| {
            format!(r#"{{"type":"bogus","name":{i},"hashes":[{{"alg":"X","content":"zz"}}]}}"#)
        };
        let doc_with = |n: usize, last: &str| {
            let mut list: Vec<String> = (0..n).map(bad).collect();
            list.push(last.to_string());
            format!(
                r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{}]}}"#,
                list.join(",")
            )
        };
        let doc = |n: usize| doc_with(n - 1, &bad(n - 1));
        // 5 MB of invalid components (checked on several threads): the
        // first errors, in document order, and no more than the cap.
        let first = |doc: &str| {
            let SbomError::Schema { errors } = parse(doc.as_bytes()).unwrap_err() else {
                panic!("expected a schema error")
            };
            errors
        };
        let small = first(&doc(3));
        assert_eq!(small.len(), MAX_SCHEMA_ERRORS, "{small:?}");
        let n = 5 * (1 << 20) / bad(0).len();
        let large = doc(n);
        // However the threads are timed, the same first errors as the
        // three-item document's: blocks merge in document order.
        for _ in 0..3 {
            assert_eq!(first(&large), small);
        }
        assert!(small[0].starts_with("/components/0/"), "{small:?}");
        // A malformed item far past the first errors does not replace them.
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let with_deep = doc_with(n, &deep);
        for _ in 0..3 {
            assert_eq!(first(&with_deep), small);
        }
    }

    #[test]
    fn items_must_be_unique_where_the_schema_says_so() {
        let c = |name: &str, order: bool| {
            if order {
                format!(r#"{{"type":"library","name":"{name}","version":"1.0"}}"#)
            } else {
                format!(r#"{{"version":"1.0","name":"{name}","type":"library"}}"#)
            }
        };
        let doc = |list: &[String]| {
            format!(
                r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{}]}}"#,
                list.join(",")
            )
        };
        // The same component written with its members in another order.
        let dup = doc(&[c("a", true), c("b", true), c("a", false)]);
        let SbomError::Schema { errors } = parse(dup.as_bytes()).unwrap_err() else {
            panic!("expected a schema error")
        };
        assert_eq!(
            errors,
            ["/components/2: the same as /components/0, but the schema requires unique items"]
        );
        assert!(parse(doc(&[c("a", true), c("b", false)]).as_bytes()).is_ok());
        // Duplicates far apart, across the threads' shares.
        let mut many: Vec<String> = (0..20_000).map(|i| c(&format!("p{i}"), true)).collect();
        many.push(c("p3", false));
        let SbomError::Schema { errors } = parse(doc(&many).as_bytes()).unwrap_err() else {
            panic!("expected a schema error")
        };
        assert_eq!(
            errors,
            ["/components/20000: the same as /components/3, but the schema requires unique items"]
        );
    }

    #[test]
    fn one_scan_serves_the_key_check_and_the_parse() {
        let juice = read("cyclonedx/bom-examples/SBOM/juice-shop/via_npm/flat/bom.1.4.json");
        let scanned = Scanned::new(&juice);
        assert_eq!(scanned.has_key("components"), Some(true));
        assert_eq!(scanned.has_key("payloadType"), Some(false));
        assert_eq!(scanned.parse().unwrap().components.len(), 1115);
        let xml = read("cyclonedx/bom-examples/SBOM/laravel-7.12.0/bom.1.4.xml");
        let scanned = Scanned::new(&xml);
        assert_eq!(scanned.has_key("components"), None);
        assert_eq!(
            scanned.parse().unwrap().components.len(),
            parse(&xml).unwrap().components.len()
        );
        let bad = Scanned::new(b"{\"bomFormat\": ");
        assert_eq!(bad.has_key("bomFormat"), None);
        assert!(matches!(bad.parse(), Err(SbomError::Json(_))));
    }

    #[test]
    fn limits_hold() {
        let big = vec![b' '; MAX_SBOM + 1];
        assert!(matches!(
            parse(&big),
            Err(SbomError::TooLarge {
                limit: MAX_SBOM,
                ..
            })
        ));
        let small = Limits {
            max_bytes: MAX_SBOM,
            max_components: 10,
        };
        let doc = cdx_doc(11, "");
        assert!(matches!(
            parse_with(doc.as_bytes(), small),
            Err(SbomError::TooManyComponents { limit: 10 })
        ));
        assert!(parse_with(cdx_doc(10, "").as_bytes(), small).is_ok());
        // Nested components count too.
        let nested = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"a","components":[
            {"type":"library","name":"b"},{"type":"library","name":"c"}]}]}"#;
        let tiny = Limits {
            max_bytes: MAX_SBOM,
            max_components: 2,
        };
        assert!(matches!(
            parse_with(nested.as_bytes(), tiny),
            Err(SbomError::TooManyComponents { limit: 2 })
        ));
        let tv = String::from_utf8(read("spdx/SPDXTagExample-v2.3.spdx")).unwrap();
        assert!(matches!(
            parse_with(tv.as_bytes(), tiny),
            Err(SbomError::TooManyComponents { limit: 2 })
        ));
        let xml = read("cyclonedx/bom-examples/SBOM/laravel-7.12.0/bom.1.4.xml");
        assert!(matches!(
            parse_with(&xml, tiny),
            Err(SbomError::TooManyComponents { limit: 2 })
        ));
    }

    /// Truncated and corrupted real documents fail with an error, never a
    /// panic.
    #[test]
    fn damaged_documents_never_panic() {
        for rel in [
            "cyclonedx/bom-examples/SBOM/laravel-7.12.0/bom.1.4.xml",
            "cyclonedx/bom-examples/SBOM/laravel-7.12.0/bom.1.4.json",
            "spdx/SPDXTagExample-v2.3.spdx",
            "spdx/SPDXJSONExample-v2.3.spdx.json",
            "generated/syft-npm-2.3.spdx",
        ] {
            let bytes = read(rel);
            let step = (bytes.len() / 97).max(1);
            for cut in (0..bytes.len()).step_by(step) {
                let _ = parse(&bytes[..cut]);
                let mut flipped = bytes.clone();
                flipped[cut] ^= 0x20;
                let _ = parse(&flipped);
            }
        }
    }

    #[test]
    fn summary_counts() {
        let sbom = parse(&read("generated/trivy-npm-2.3.spdx.json")).unwrap();
        let s = summary(&sbom);
        assert_eq!(s.format, "SPDX 2.3 JSON");
        assert_eq!(s.components, 12);
        assert_eq!(
            s.licenses.values().sum::<usize>() + s.without_license,
            s.components
        );
        assert_eq!(
            s.ecosystems.values().sum::<usize>() + s.without_purl,
            s.components
        );
    }

    #[test]
    fn hash_algorithms_normalise() {
        for (input, want) in [
            ("SHA-256", "sha256"),
            ("SHA256", "sha256"),
            ("SHA-1", "sha1"),
            ("SHA-512", "sha512"),
            ("SHA3-256", "sha3-256"),
            ("SHA3_384", "sha3-384"),
            ("BLAKE2b-256", "blake2b-256"),
            ("BLAKE3", "blake3"),
            ("MD5", "md5"),
        ] {
            assert_eq!(normalise_alg(input), want);
        }
    }
}
