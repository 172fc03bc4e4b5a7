//! A small XML Schema 1.0 validator for the CycloneDX XSDs (vendored in
//! `schemas/cyclonedx/`, see its README), so an XML document is refused
//! when its structure is one the official schema does not allow, as a
//! JSON document is by its JSON schema: readers that disagree on what a
//! document lists (a second `<components>`, a second `<purl>`) are the
//! evasion this closes.
//!
//! Why our own: no pure-Rust crate was fit (the `xmlschema` crate, 0.0.x,
//! brings its own XML parser beside `roxmltree` and skips the constructs
//! it does not support; `libxml` binds the C libxml2, a large C parser of
//! hostile input that needs `libxml2-dev` to build).
//!
//! Only the subset of XSD the CycloneDX schemas use is compiled, and any
//! other construct (or attribute of one) fails the compilation, so a
//! future schema is never half applied. Content models are matched
//! greedily, left to right, with one element of look-ahead: the schemas
//! obey XSD's Unique Particle Attribution rule (each element in a content
//! model is matched by exactly one particle, knowable from the element
//! alone), so greedy matching is exact and never backtracks; validation is
//! linear in the document (times the schema's size per element).

use std::collections::{HashMap, HashSet};

use roxmltree::Node;

const XS: &str = "http://www.w3.org/2001/XMLSchema";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const VC: &str = "http://www.w3.org/2007/XMLSchema-versioning";
const UNBOUNDED: u32 = u32::MAX;

/// A compiled schema: the global `<bom>` element, the types it reaches.
#[derive(Debug)]
pub(crate) struct Xsd {
    target: String,
    root: ElementDecl,
    complex: Vec<Complex>,
    simple: Vec<Simple>,
    /// `xs:unique` on the root element over `.//*` and one attribute:
    /// the attributes whose values must differ across the document.
    unique: Vec<String>,
}

#[derive(Debug, Clone)]
struct ElementDecl {
    name: String,
    ty: TypeRef,
    /// An empty element takes its default, so "" need not be valid.
    has_default: bool,
}

#[derive(Debug, Clone, Copy)]
enum TypeRef {
    Simple(usize),
    Complex(usize),
    /// `xs:anyType` (an element declared without a type): anything.
    Any,
}

#[derive(Debug, Default)]
struct Complex {
    attributes: Vec<Attribute>,
    any_attribute: Option<Namespaces>,
    content: Content,
}

#[derive(Debug, Default)]
enum Content {
    #[default]
    Empty,
    Simple(usize),
    Elements {
        particle: Particle,
        mixed: bool,
    },
}

#[derive(Debug, Clone)]
struct Attribute {
    name: String,
    ty: usize,
    required: bool,
}

/// Which namespaces a wildcard admits (`lax` and `skip` alike: the
/// schemas declare no global element or attribute in another namespace,
/// so a lax wildcard's match is never checked further).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Namespaces {
    /// `##any`: every namespace, and none.
    Any,
    /// `##other`: a namespace other than the target one (not none).
    Other,
}

#[derive(Debug)]
struct Particle {
    min: u32,
    max: u32,
    term: Term,
}

#[derive(Debug)]
enum Term {
    Element(ElementDecl),
    Any(Namespaces),
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
}

#[derive(Debug)]
enum Simple {
    Builtin(Builtin),
    Restriction { base: usize, facets: Facets },
    Union(Vec<usize>),
}

#[derive(Debug, Default)]
struct Facets {
    enumeration: Option<HashSet<String>>,
    patterns: Vec<regex::Regex>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    min_inclusive: Option<f64>,
    max_inclusive: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Builtin {
    String,
    NormalizedString,
    Token,
    AnyUri,
    Boolean,
    Decimal,
    Integer,
    NonNegativeInteger,
    PositiveInteger,
    Date,
    DateTime,
}

impl Builtin {
    fn of(name: &str) -> Option<Builtin> {
        Some(match name {
            "string" => Builtin::String,
            "normalizedString" => Builtin::NormalizedString,
            "token" => Builtin::Token,
            "anyURI" => Builtin::AnyUri,
            "boolean" => Builtin::Boolean,
            "decimal" => Builtin::Decimal,
            "integer" => Builtin::Integer,
            "nonNegativeInteger" => Builtin::NonNegativeInteger,
            "positiveInteger" => Builtin::PositiveInteger,
            "date" => Builtin::Date,
            "dateTime" => Builtin::DateTime,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------
// Compilation

/// A named definition's key: namespace and local name.
type QName = (String, String);

struct Compiler<'a, 'i> {
    target: String,
    complex_defs: HashMap<QName, Node<'a, 'i>>,
    simple_defs: HashMap<QName, Node<'a, 'i>>,
    element_defs: HashMap<QName, Node<'a, 'i>>,
    attribute_groups: HashMap<QName, Node<'a, 'i>>,
    complex_ids: HashMap<QName, usize>,
    simple_ids: HashMap<QName, usize>,
    builtin_ids: HashMap<Builtin, usize>,
    complex: Vec<Complex>,
    simple: Vec<Simple>,
    unique: Vec<String>,
}

fn err(n: Node, what: &str) -> String {
    format!(
        "line {}: {what} (<xs:{}>)",
        n.document().text_pos_at(n.range().start).row,
        n.tag_name().name()
    )
}

/// The schema children of `n` that count: no annotations, nothing only a
/// later XSD version reads (`vc:minVersion` above 1.0).
fn parts<'a, 'i>(n: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, String> {
    let mut out = Vec::new();
    for c in n.children().filter(Node::is_element) {
        if c.tag_name().namespace() != Some(XS) {
            return Err(err(c, "not an XML Schema element"));
        }
        if c.tag_name().name() == "annotation" {
            continue;
        }
        if let Some(v) = c.attribute((VC, "minVersion"))
            && v != "1.0"
        {
            continue;
        }
        out.push(c);
    }
    Ok(out)
}

/// Fails on an attribute outside `allowed` (versioning ones aside), so an
/// unread constraint (`fixed`, `nillable`, `form`, ...) stops compilation.
fn only(n: Node, allowed: &[&str]) -> Result<(), String> {
    for a in n.attributes() {
        match a.namespace() {
            None if allowed.contains(&a.name()) => {}
            Some(VC) => {}
            _ => return Err(err(n, &format!("unsupported attribute `{}`", a.name()))),
        }
    }
    Ok(())
}

fn occurs(n: Node) -> Result<(u32, u32), String> {
    let num = |a: &str, d: u32| -> Result<u32, String> {
        match n.attribute(a) {
            None => Ok(d),
            Some("unbounded") if a == "maxOccurs" => Ok(UNBOUNDED),
            Some(v) => v.parse().map_err(|_| err(n, &format!("bad {a} `{v}`"))),
        }
    };
    let (min, max) = (num("minOccurs", 1)?, num("maxOccurs", 1)?);
    if min > max {
        return Err(err(n, "minOccurs above maxOccurs"));
    }
    Ok((min, max))
}

fn wildcard(n: Node, element: bool) -> Result<Namespaces, String> {
    let ns = match n.attribute("namespace") {
        Some("##other") => Namespaces::Other,
        // An element wildcard `##any` could admit a CycloneDX element,
        // which would then need checking: not supported.
        Some("##any") if !element => Namespaces::Any,
        _ => return Err(err(n, "unsupported wildcard namespace")),
    };
    match n.attribute("processContents") {
        Some("lax" | "skip") => Ok(ns),
        _ => Err(err(n, "unsupported processContents")),
    }
}

impl<'a, 'i> Compiler<'a, 'i> {
    fn qname(&self, n: Node, value: &str) -> Result<QName, String> {
        let (prefix, local) = value.split_once(':').unwrap_or(("", value));
        let ns = n
            .lookup_namespace_uri((!prefix.is_empty()).then_some(prefix))
            .ok_or_else(|| err(n, &format!("unknown prefix in `{value}`")))?;
        Ok((ns.to_string(), local.to_string()))
    }

    fn register(&mut self, schema: Node<'a, 'i>) -> Result<(), String> {
        only(
            schema,
            &["elementFormDefault", "targetNamespace", "version"],
        )?;
        if schema.attribute("elementFormDefault") != Some("qualified") {
            return Err(err(schema, "elements must be qualified"));
        }
        let ns = schema
            .attribute("targetNamespace")
            .ok_or_else(|| err(schema, "no targetNamespace"))?
            .to_string();
        for d in parts(schema)? {
            let kind = d.tag_name().name();
            if kind == "import" {
                only(d, &["namespace", "schemaLocation"])?;
                if d.attribute("schemaLocation") != Some("spdx.SNAPSHOT.xsd") {
                    return Err(err(d, "an import of an unknown schema"));
                }
                continue;
            }
            let name = d
                .attribute("name")
                .ok_or_else(|| err(d, "a global definition without a name"))?;
            let key = (ns.clone(), name.to_string());
            let map = match kind {
                "complexType" => &mut self.complex_defs,
                "simpleType" => &mut self.simple_defs,
                "element" => &mut self.element_defs,
                "attributeGroup" => &mut self.attribute_groups,
                _ => return Err(err(d, "unsupported global definition")),
            };
            if map.insert(key, d).is_some() {
                return Err(err(d, "defined twice"));
            }
        }
        Ok(())
    }

    fn builtin(&mut self, b: Builtin) -> usize {
        *self.builtin_ids.entry(b).or_insert_with(|| {
            self.simple.push(Simple::Builtin(b));
            self.simple.len() - 1
        })
    }

    /// The simple type a `type`/`base`/member QName names.
    fn simple_named(&mut self, n: Node, value: &str) -> Result<usize, String> {
        let key = self.qname(n, value)?;
        if key.0 == XS {
            let b = Builtin::of(&key.1)
                .ok_or_else(|| err(n, &format!("unsupported built-in type `{value}`")))?;
            return Ok(self.builtin(b));
        }
        if let Some(&id) = self.simple_ids.get(&key) {
            return Ok(id);
        }
        let def = *self
            .simple_defs
            .get(&key)
            .ok_or_else(|| err(n, &format!("unknown simple type `{value}`")))?;
        let id = self.simple_type(def)?;
        self.simple_ids.insert(key, id);
        Ok(id)
    }

    fn simple_type(&mut self, n: Node) -> Result<usize, String> {
        only(n, &["name", "final"])?;
        let [body] = parts(n)?[..] else {
            return Err(err(n, "expected one restriction or union"));
        };
        let simple = match body.tag_name().name() {
            "restriction" => {
                only(body, &["base"])?;
                let base = body
                    .attribute("base")
                    .ok_or_else(|| err(body, "a restriction without a base"))?;
                let base = self.simple_named(body, base)?;
                let facets = facets(body)?;
                Simple::Restriction { base, facets }
            }
            "union" => {
                only(body, &["memberTypes"])?;
                let mut members = Vec::new();
                for m in body
                    .attribute("memberTypes")
                    .unwrap_or("")
                    .split_whitespace()
                {
                    members.push(self.simple_named(body, m)?);
                }
                for inline in parts(body)? {
                    if inline.tag_name().name() != "simpleType" {
                        return Err(err(inline, "unsupported in a union"));
                    }
                    members.push(self.simple_type(inline)?);
                }
                if members.is_empty() {
                    return Err(err(body, "an empty union"));
                }
                Simple::Union(members)
            }
            _ => return Err(err(body, "unsupported simple type")),
        };
        self.simple.push(simple);
        Ok(self.simple.len() - 1)
    }

    /// The type of an element or attribute: its `type`, else its inline
    /// definition, else anyType.
    fn type_of(
        &mut self,
        n: Node<'a, 'i>,
        inline: Option<Node<'a, 'i>>,
    ) -> Result<TypeRef, String> {
        if let Some(t) = n.attribute("type") {
            if inline.is_some() {
                return Err(err(n, "both a type and an inline type"));
            }
            let key = self.qname(n, t)?;
            if key.0 != XS && self.complex_defs.contains_key(&key) {
                return self.complex_named(n, key).map(TypeRef::Complex);
            }
            return self.simple_named(n, t).map(TypeRef::Simple);
        }
        match inline {
            None => Ok(TypeRef::Any),
            Some(t) if t.tag_name().name() == "simpleType" => {
                self.simple_type(t).map(TypeRef::Simple)
            }
            Some(t) => self.complex_type(t).map(TypeRef::Complex),
        }
    }

    fn complex_named(&mut self, n: Node, key: QName) -> Result<usize, String> {
        if let Some(&id) = self.complex_ids.get(&key) {
            return Ok(id);
        }
        let def = *self
            .complex_defs
            .get(&key)
            .ok_or_else(|| err(n, &format!("unknown complex type `{}`", key.1)))?;
        // The id is taken before the body is compiled: types refer to
        // themselves (a component's components).
        self.complex.push(Complex::default());
        let id = self.complex.len() - 1;
        self.complex_ids.insert(key, id);
        self.complex[id] = self.complex_body(def)?;
        Ok(id)
    }

    fn complex_type(&mut self, n: Node<'a, 'i>) -> Result<usize, String> {
        self.complex.push(Complex::default());
        let id = self.complex.len() - 1;
        self.complex[id] = self.complex_body(n)?;
        Ok(id)
    }

    fn complex_body(&mut self, n: Node<'a, 'i>) -> Result<Complex, String> {
        only(n, &["name", "mixed"])?;
        let mixed = match n.attribute("mixed") {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(err(n, "bad mixed")),
        };
        let mut c = Complex::default();
        let mut model = None;
        let mut models = 0;
        for p in parts(n)? {
            let kind = p.tag_name().name();
            if matches!(kind, "sequence" | "choice" | "simpleContent") {
                models += 1;
                if models > 1 {
                    return Err(err(p, "a second content model"));
                }
            }
            match kind {
                "sequence" | "choice" => model = Some(self.particle(p)?),
                "simpleContent" if !mixed => {
                    only(p, &[])?;
                    let [ext] = parts(p)?[..] else {
                        return Err(err(p, "expected one extension"));
                    };
                    if ext.tag_name().name() != "extension" {
                        return Err(err(ext, "unsupported simple content"));
                    }
                    only(ext, &["base"])?;
                    let base = ext
                        .attribute("base")
                        .ok_or_else(|| err(ext, "an extension without a base"))?;
                    c.content = Content::Simple(self.simple_named(ext, base)?);
                    self.attributes(ext, &mut c, false)?;
                }
                _ => {}
            }
        }
        self.attributes(n, &mut c, true)?;
        if let Some(particle) = model {
            c.content = Content::Elements { particle, mixed };
        } else if mixed {
            return Err(err(n, "mixed content without elements"));
        }
        Ok(c)
    }

    /// The attribute declarations among `n`'s parts; any other part must
    /// be a content model already read by the caller.
    fn attributes(
        &mut self,
        n: Node<'a, 'i>,
        c: &mut Complex,
        models_read: bool,
    ) -> Result<(), String> {
        for p in parts(n)? {
            match p.tag_name().name() {
                "attribute" => {
                    only(p, &["name", "type", "use", "default"])?;
                    let name = p
                        .attribute("name")
                        .ok_or_else(|| err(p, "an attribute without a name"))?;
                    let inline = parts(p)?;
                    let ty = match (p.attribute("type"), &inline[..]) {
                        (Some(t), []) => self.simple_named(p, t)?,
                        (None, [t]) if t.tag_name().name() == "simpleType" => {
                            self.simple_type(*t)?
                        }
                        (None, []) => self.builtin(Builtin::String),
                        _ => return Err(err(p, "unsupported attribute type")),
                    };
                    let required = match p.attribute("use") {
                        None | Some("optional") => false,
                        Some("required") => true,
                        Some(_) => return Err(err(p, "unsupported use")),
                    };
                    if c.attributes.iter().any(|a| a.name == name) {
                        return Err(err(p, "an attribute declared twice"));
                    }
                    c.attributes.push(Attribute {
                        name: name.to_string(),
                        ty,
                        required,
                    });
                }
                "attributeGroup" => {
                    only(p, &["ref"])?;
                    let r = p
                        .attribute("ref")
                        .ok_or_else(|| err(p, "an attributeGroup without ref"))?;
                    let key = self.qname(p, r)?;
                    let group = *self
                        .attribute_groups
                        .get(&key)
                        .ok_or_else(|| err(p, "unknown attributeGroup"))?;
                    only(group, &["name"])?;
                    self.attributes(group, c, false)?;
                }
                "anyAttribute" => {
                    only(p, &["namespace", "processContents"])?;
                    if c.any_attribute.is_some() {
                        return Err(err(p, "two attribute wildcards"));
                    }
                    c.any_attribute = Some(wildcard(p, false)?);
                }
                "sequence" | "choice" | "simpleContent" if models_read => {}
                _ => return Err(err(p, "unsupported here")),
            }
        }
        Ok(())
    }

    fn particle(&mut self, n: Node<'a, 'i>) -> Result<Particle, String> {
        let (min, max) = occurs(n)?;
        let term = match n.tag_name().name() {
            "sequence" | "choice" => {
                only(n, &["minOccurs", "maxOccurs"])?;
                let mut items = Vec::new();
                for p in parts(n)? {
                    items.push(self.particle(p)?);
                }
                if n.tag_name().name() == "sequence" {
                    Term::Sequence(items)
                } else {
                    Term::Choice(items)
                }
            }
            "any" => {
                only(
                    n,
                    &["namespace", "processContents", "minOccurs", "maxOccurs"],
                )?;
                Term::Any(wildcard(n, true)?)
            }
            "element" => {
                only(
                    n,
                    &["name", "type", "ref", "minOccurs", "maxOccurs", "default"],
                )?;
                Term::Element(self.element(n)?)
            }
            _ => return Err(err(n, "unsupported particle")),
        };
        Ok(Particle { min, max, term })
    }

    fn element(&mut self, n: Node<'a, 'i>) -> Result<ElementDecl, String> {
        let n = match n.attribute("ref") {
            Some(r) => {
                if n.attribute("name").is_some() || n.attribute("type").is_some() {
                    return Err(err(n, "a ref with a name or type"));
                }
                let key = self.qname(n, r)?;
                *self
                    .element_defs
                    .get(&key)
                    .ok_or_else(|| err(n, "unknown element ref"))?
            }
            None => n,
        };
        let name = n
            .attribute("name")
            .ok_or_else(|| err(n, "an element without a name"))?;
        let mut inline = None;
        for p in parts(n)? {
            match p.tag_name().name() {
                "complexType" | "simpleType" if inline.is_none() => inline = Some(p),
                "unique" => self.unique(p)?,
                _ => return Err(err(p, "unsupported in an element")),
            }
        }
        Ok(ElementDecl {
            name: name.to_string(),
            ty: self.type_of(n, inline)?,
            has_default: n.attribute("default").is_some(),
        })
    }

    /// Only the form the schemas use: unique attribute values over every
    /// descendant of the root.
    fn unique(&mut self, n: Node) -> Result<(), String> {
        only(n, &["name"])?;
        let p = parts(n)?;
        let xpath = |i: usize, kind: &str| {
            p.get(i)
                .filter(|x| x.tag_name().name() == kind)
                .and_then(|x| x.attribute("xpath"))
        };
        match (xpath(0, "selector"), xpath(1, "field"), p.len()) {
            (Some(".//*"), Some(field), 2)
                if field.starts_with('@') && !field[1..].contains([':', '/', '@']) =>
            {
                self.unique.push(field[1..].to_string());
                Ok(())
            }
            _ => Err(err(n, "unsupported identity constraint")),
        }
    }
}

fn facets(restriction: Node) -> Result<Facets, String> {
    let mut f = Facets::default();
    for p in parts(restriction)? {
        only(p, &["value"])?;
        let value = p
            .attribute("value")
            .ok_or_else(|| err(p, "a facet without a value"))?;
        let count = || value.parse::<usize>().map_err(|_| err(p, "a bad length"));
        let number = || value.parse::<f64>().map_err(|_| err(p, "a bad bound"));
        match p.tag_name().name() {
            "enumeration" => {
                f.enumeration
                    .get_or_insert_with(HashSet::new)
                    .insert(value.to_string());
            }
            "pattern" => f.patterns.push(pattern(value).map_err(|e| err(p, &e))?),
            "minLength" => f.min_length = Some(count()?),
            "maxLength" => f.max_length = Some(count()?),
            "minInclusive" => f.min_inclusive = Some(number()?),
            "maxInclusive" => f.max_inclusive = Some(number()?),
            _ => return Err(err(p, "unsupported facet")),
        }
    }
    Ok(f)
}

/// An XSD pattern as a `regex`: XSD patterns match the whole value and
/// know no anchors, so `^` and `$` outside a class are literal. Class
/// subtraction and `\i`/`\c` are not supported (they fail to compile).
fn pattern(xsd: &str) -> Result<regex::Regex, String> {
    let mut out = String::from("^(?:");
    let mut class = 0usize;
    let mut chars = xsd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().ok_or("a pattern ending in `\\`")?;
                if matches!(next, 'i' | 'I' | 'c' | 'C') {
                    return Err(format!("unsupported escape `\\{next}`"));
                }
                out.push('\\');
                out.push(next);
            }
            '[' => {
                if class > 0 && out.ends_with('-') {
                    return Err("class subtraction is not supported".to_string());
                }
                class += 1;
                out.push(c);
            }
            ']' => {
                class = class.saturating_sub(1);
                out.push(c);
            }
            '^' | '$' if class == 0 => {
                out.push('\\');
                out.push(c);
            }
            // `regex` reads `&&`, `--` and `~~` in a class as set
            // operations; XSD does not.
            '&' | '~' if class > 0 => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push_str(")$");
    regex::RegexBuilder::new(&out)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("pattern `{xsd}`: {e}"))
}

/// Compiles a CycloneDX bom XSD and the SPDX licence-id XSD it imports.
pub(crate) fn compile(bom_xsd: &str, spdx_xsd: &str) -> Result<Xsd, String> {
    let parse = |text| roxmltree::Document::parse(text).map_err(|e| e.to_string());
    let bom = parse(bom_xsd)?;
    let spdx = parse(spdx_xsd)?;
    let mut c = Compiler {
        target: String::new(),
        complex_defs: HashMap::new(),
        simple_defs: HashMap::new(),
        element_defs: HashMap::new(),
        attribute_groups: HashMap::new(),
        complex_ids: HashMap::new(),
        simple_ids: HashMap::new(),
        builtin_ids: HashMap::new(),
        complex: Vec::new(),
        simple: Vec::new(),
        unique: Vec::new(),
    };
    for doc in [&bom, &spdx] {
        let schema = doc.root_element();
        if schema.tag_name().namespace() != Some(XS) || schema.tag_name().name() != "schema" {
            return Err("not an XML Schema".to_string());
        }
        c.register(schema)?;
    }
    let schema = bom.root_element();
    c.target = schema
        .attribute("targetNamespace")
        .unwrap_or("")
        .to_string();
    let key = (c.target.clone(), "bom".to_string());
    let def = *c.element_defs.get(&key).ok_or("no global <bom> element")?;
    only(def, &["name", "type"])?;
    let root = c.element(def)?;
    // Every definition is compiled, also those <bom> does not reach, so
    // an unsupported construct anywhere fails here.
    let keys: Vec<_> = c.complex_defs.keys().cloned().collect();
    for k in keys {
        c.complex_named(schema, k)?;
    }
    let keys: Vec<_> = c.simple_defs.iter().map(|(k, n)| (k.clone(), *n)).collect();
    for (k, n) in keys {
        if !c.simple_ids.contains_key(&k) {
            let id = c.simple_type(n)?;
            c.simple_ids.insert(k, id);
        }
    }
    Ok(Xsd {
        target: c.target,
        root,
        complex: c.complex,
        simple: c.simple,
        unique: c.unique,
    })
}

// ---------------------------------------------------------------------
// Validation

/// What a child element is checked against.
enum Next {
    Declared(TypeRef, bool),
    /// Matched by a lax/skip wildcard: not checked further.
    Skip,
}

/// Where a content model stopped matching.
struct Miss {
    at: usize,
    expected: String,
}

impl Xsd {
    /// Checks `doc` against the schema; the first `max_errors` problems,
    /// each led by the element's path (clipped: paths can be deep).
    pub(crate) fn validate(&self, doc: &roxmltree::Document, max_errors: usize) -> Vec<String> {
        let mut errors = self.problems(doc, max_errors);
        for e in &mut errors {
            *e = super::clip(std::mem::take(e));
        }
        errors
    }

    fn problems(&self, doc: &roxmltree::Document, max_errors: usize) -> Vec<String> {
        let mut errors = Vec::new();
        let root = doc.root_element();
        if root.tag_name().namespace() != Some(self.target.as_str())
            || root.tag_name().name() != self.root.name
        {
            errors.push(format!(
                "/{}: not the schema's root element",
                root.tag_name().name()
            ));
            return errors;
        }
        // An explicit stack, not recursion: documents nest without bound.
        let mut stack = vec![(root, self.root.ty, self.root.has_default)];
        while let Some((node, ty, has_default)) = stack.pop() {
            let before = stack.len();
            self.element(node, ty, has_default, &mut stack, &mut errors);
            stack[before..].reverse();
            if errors.len() >= max_errors {
                errors.truncate(max_errors);
                return errors;
            }
        }
        for attr in &self.unique {
            let mut seen = HashSet::new();
            for n in root.descendants().filter(Node::is_element) {
                if let Some(v) = n.attribute(attr.as_str())
                    && !seen.insert(v)
                {
                    errors.push(format!("{}: duplicate {attr} `{}`", path(n), clip(v)));
                    if errors.len() >= max_errors {
                        return errors;
                    }
                }
            }
        }
        errors
    }

    fn element<'a, 'i>(
        &self,
        node: Node<'a, 'i>,
        ty: TypeRef,
        has_default: bool,
        stack: &mut Vec<(Node<'a, 'i>, TypeRef, bool)>,
        errors: &mut Vec<String>,
    ) {
        let complex = match ty {
            TypeRef::Any => return,
            TypeRef::Simple(s) => {
                self.attributes(node, None, errors);
                self.simple_content(node, s, has_default, errors);
                return;
            }
            TypeRef::Complex(c) => &self.complex[c],
        };
        self.attributes(node, Some(complex), errors);
        match &complex.content {
            Content::Empty => {
                if let Some(c) = node.children().find(Node::is_element) {
                    errors.push(format!("{}: element not allowed here", path(c)));
                } else if has_text(node) {
                    errors.push(format!("{}: text not allowed here", path(node)));
                }
            }
            Content::Simple(s) => self.simple_content(node, *s, has_default, errors),
            Content::Elements { particle, mixed } => {
                if !mixed && has_text(node) {
                    errors.push(format!("{}: text not allowed here", path(node)));
                }
                let kids: Vec<Node> = node.children().filter(Node::is_element).collect();
                let mut i = 0;
                let mut next = Vec::new();
                match self.particle(particle, &kids, &mut i, &mut next) {
                    Err(miss) => errors.push(match kids.get(miss.at) {
                        Some(k) => format!(
                            "{}: element not allowed here (expected {})",
                            path(*k),
                            miss.expected
                        ),
                        None => format!("{}: missing {}", path(node), miss.expected),
                    }),
                    Ok(()) if i < kids.len() => {
                        errors.push(format!("{}: element not allowed here", path(kids[i])));
                    }
                    Ok(()) => {}
                }
                for (k, n) in kids.into_iter().zip(next) {
                    if let Next::Declared(ty, d) = n {
                        stack.push((k, ty, d));
                    }
                }
            }
        }
    }

    fn attributes(&self, node: Node, complex: Option<&Complex>, errors: &mut Vec<String>) {
        let declared: &[Attribute] = complex.map_or(&[], |c| &c.attributes);
        let wildcard = complex.and_then(|c| c.any_attribute);
        for a in node.attributes() {
            let ns = a.namespace().filter(|ns| !ns.is_empty());
            if ns == Some(XSI) {
                // xsi:type or xsi:nil would change what is checked.
                if !matches!(a.name(), "schemaLocation" | "noNamespaceSchemaLocation") {
                    errors.push(format!("{}: xsi:{} is not supported", path(node), a.name()));
                }
                continue;
            }
            if ns.is_none()
                && let Some(d) = declared.iter().find(|d| d.name == a.name())
            {
                if let Err(e) = self.simple_value(d.ty, a.value()) {
                    errors.push(format!("{}/@{}: {e}", path(node), a.name()));
                }
                continue;
            }
            let admitted = match (wildcard, ns) {
                (Some(Namespaces::Any), _) => true,
                (Some(Namespaces::Other), Some(ns)) => ns != self.target,
                _ => false,
            };
            if !admitted {
                errors.push(format!(
                    "{}: attribute `{}` not allowed here",
                    path(node),
                    a.name()
                ));
            }
        }
        for d in declared.iter().filter(|d| d.required) {
            if node.attribute(d.name.as_str()).is_none() {
                errors.push(format!("{}: missing attribute `{}`", path(node), d.name));
            }
        }
    }

    fn simple_content(&self, node: Node, s: usize, has_default: bool, errors: &mut Vec<String>) {
        if let Some(c) = node.children().find(Node::is_element) {
            errors.push(format!("{}: element not allowed here", path(c)));
            return;
        }
        let text: String = node
            .children()
            .filter(Node::is_text)
            .filter_map(|c| c.text())
            .collect();
        if text.is_empty() && has_default {
            return;
        }
        if let Err(e) = self.simple_value(s, &text) {
            errors.push(format!("{}: {e}", path(node)));
        }
    }

    /// Matches one particle at `kids[*i]`, as often as it may and the next
    /// element lets it (see the module comment on why greedy is exact).
    fn particle<'a, 'i>(
        &self,
        p: &Particle,
        kids: &[Node<'a, 'i>],
        i: &mut usize,
        next: &mut Vec<Next>,
    ) -> Result<(), Miss> {
        let mut n = 0;
        while n < p.max {
            match kids.get(*i) {
                Some(k) if self.starts(&p.term, *k) => {}
                _ => break,
            }
            let before = *i;
            self.term(&p.term, kids, i, next)?;
            n += 1;
            if *i == before {
                break;
            }
        }
        if n < p.min && !nullable_term(&p.term) {
            return Err(Miss {
                at: *i,
                expected: expected(&p.term),
            });
        }
        Ok(())
    }

    fn term<'a, 'i>(
        &self,
        t: &Term,
        kids: &[Node<'a, 'i>],
        i: &mut usize,
        next: &mut Vec<Next>,
    ) -> Result<(), Miss> {
        match t {
            Term::Element(e) => {
                next.push(Next::Declared(e.ty, e.has_default));
                *i += 1;
            }
            Term::Any(_) => {
                next.push(Next::Skip);
                *i += 1;
            }
            Term::Sequence(items) => {
                for p in items {
                    self.particle(p, kids, i, next)?;
                }
            }
            Term::Choice(items) => {
                let chosen = kids
                    .get(*i)
                    .and_then(|k| items.iter().find(|p| self.starts(&p.term, *k)));
                match chosen {
                    Some(p) => self.particle(p, kids, i, next)?,
                    None if items.iter().any(nullable) => {}
                    None => {
                        return Err(Miss {
                            at: *i,
                            expected: expected(t),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `k` can be the first element `t` matches.
    fn starts(&self, t: &Term, k: Node) -> bool {
        match t {
            Term::Element(e) => {
                k.tag_name().name() == e.name && k.tag_name().namespace() == Some(&self.target)
            }
            // `xmlns=""` may leave an empty namespace: that is none.
            Term::Any(Namespaces::Other) => k
                .tag_name()
                .namespace()
                .is_some_and(|ns| !ns.is_empty() && ns != self.target),
            Term::Any(Namespaces::Any) => true,
            Term::Sequence(items) => {
                for p in items {
                    if self.starts(&p.term, k) {
                        return true;
                    }
                    if !nullable(p) {
                        return false;
                    }
                }
                false
            }
            Term::Choice(items) => items.iter().any(|p| self.starts(&p.term, k)),
        }
    }

    fn simple_value(&self, s: usize, value: &str) -> Result<(), String> {
        match &self.simple[s] {
            Simple::Builtin(b) => builtin_value(*b, value),
            Simple::Restriction { base, facets } => {
                self.simple_value(*base, value)?;
                let v = normalise(value, self.whitespace(*base));
                facets_value(facets, &v)
            }
            Simple::Union(members) => {
                if members.iter().any(|m| self.simple_value(*m, value).is_ok()) {
                    Ok(())
                } else {
                    Err(format!("`{}` is none of the allowed forms", clip(value)))
                }
            }
        }
    }

    fn whitespace(&self, s: usize) -> Whitespace {
        match &self.simple[s] {
            Simple::Builtin(Builtin::String) => Whitespace::Preserve,
            Simple::Builtin(Builtin::NormalizedString) => Whitespace::Replace,
            Simple::Builtin(_) | Simple::Union(_) => Whitespace::Collapse,
            Simple::Restriction { base, .. } => self.whitespace(*base),
        }
    }
}

fn nullable(p: &Particle) -> bool {
    p.min == 0 || nullable_term(&p.term)
}

fn nullable_term(t: &Term) -> bool {
    match t {
        Term::Element(_) | Term::Any(_) => false,
        Term::Sequence(items) => items.iter().all(nullable),
        Term::Choice(items) => items.iter().any(nullable),
    }
}

/// What a term needed, for a message: its first required elements.
fn expected(t: &Term) -> String {
    match t {
        Term::Element(e) => format!("<{}>", e.name),
        Term::Any(_) => "an element of another namespace".to_string(),
        Term::Sequence(items) => items
            .iter()
            .find(|p| !nullable(p))
            .map_or_else(|| "more".to_string(), |p| expected(&p.term)),
        Term::Choice(items) => {
            let names: Vec<String> = items.iter().take(4).map(|p| expected(&p.term)).collect();
            format!("one of {}", names.join(", "))
        }
    }
}

#[derive(Clone, Copy)]
enum Whitespace {
    Preserve,
    Replace,
    Collapse,
}

fn normalise(v: &str, ws: Whitespace) -> std::borrow::Cow<'_, str> {
    match ws {
        Whitespace::Preserve => v.into(),
        Whitespace::Replace => v.replace(['\t', '\n', '\r'], " ").into(),
        Whitespace::Collapse => v
            .split_ascii_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .into(),
    }
}

fn has_text(n: Node) -> bool {
    n.children()
        .filter_map(|c| c.text().filter(|_| c.is_text()))
        .any(|t| !t.trim_ascii().is_empty())
}

fn clip(v: &str) -> String {
    super::clip(v.to_string())
}

fn facets_value(f: &Facets, v: &str) -> Result<(), String> {
    if let Some(set) = &f.enumeration
        && !set.contains(v)
    {
        return Err(format!("`{}` is not an allowed value", clip(v)));
    }
    if !f.patterns.is_empty() && !f.patterns.iter().any(|p| p.is_match(v)) {
        return Err(format!("`{}` does not match the required pattern", clip(v)));
    }
    let len = v.chars().count();
    if f.min_length.is_some_and(|m| len < m) || f.max_length.is_some_and(|m| len > m) {
        return Err(format!("`{}` has a length out of range", clip(v)));
    }
    if f.min_inclusive.is_some() || f.max_inclusive.is_some() {
        let n: f64 = v
            .parse()
            .map_err(|_| format!("`{}` is not a number", clip(v)))?;
        if f.min_inclusive.is_some_and(|m| n < m) || f.max_inclusive.is_some_and(|m| n > m) {
            return Err(format!("`{}` is out of range", clip(v)));
        }
    }
    Ok(())
}

fn builtin_value(b: Builtin, raw: &str) -> Result<(), String> {
    let v = raw.trim_matches([' ', '\t', '\n', '\r']);
    let ok = match b {
        Builtin::String | Builtin::NormalizedString | Builtin::Token | Builtin::AnyUri => true,
        Builtin::Boolean => matches!(v, "true" | "false" | "1" | "0"),
        Builtin::Decimal => is_decimal(v),
        Builtin::Integer => is_integer(v),
        Builtin::NonNegativeInteger => {
            is_integer(v) && (!v.starts_with('-') || v[1..].bytes().all(|d| d == b'0'))
        }
        Builtin::PositiveInteger => {
            is_integer(v) && !v.starts_with('-') && v.bytes().any(|d| matches!(d, b'1'..=b'9'))
        }
        Builtin::Date => is_date_time(v, false),
        Builtin::DateTime => is_date_time(v, true),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{}` is not a valid {b:?}", clip(raw)))
    }
}

fn is_integer(v: &str) -> bool {
    let d = v.strip_prefix(['+', '-']).unwrap_or(v);
    !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
}

fn is_decimal(v: &str) -> bool {
    let d = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (int, frac) = d.split_once('.').unwrap_or((d, ""));
    (!int.is_empty() || !frac.is_empty())
        && int.bytes().all(|c| c.is_ascii_digit())
        && frac.bytes().all(|c| c.is_ascii_digit())
}

/// `[-]YYYY-MM-DD` then, for a dateTime, `Thh:mm:ss[.f]`, then an
/// optional `Z` or `±hh:mm`.
fn is_date_time(v: &str, time: bool) -> bool {
    fn num(s: &str, digits: usize, max: u32) -> Option<u32> {
        (s.len() == digits && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
            .filter(|n| *n <= max)
    }
    let v = v.strip_prefix('-').unwrap_or(v);
    let Some((year, rest)) = v.split_once('-') else {
        return false;
    };
    if year.len() < 4
        || !year.bytes().all(|c| c.is_ascii_digit())
        || (year.len() > 4 && year.starts_with('0'))
        || year.bytes().all(|c| c == b'0')
    {
        return false;
    }
    let (Some(month), Some(day)) = (
        rest.get(0..2).and_then(|m| num(m, 2, 12)),
        rest.get(3..5).and_then(|d| num(d, 2, 31)),
    ) else {
        return false;
    };
    if rest.as_bytes().get(2) != Some(&b'-') || month == 0 || day == 0 {
        return false;
    }
    let leap = year
        .parse::<u64>()
        .is_ok_and(|y| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days {
        return false;
    }
    let mut rest = &rest[5..];
    if time {
        let Some(t) = rest.strip_prefix('T') else {
            return false;
        };
        let (Some(h), Some(m), Some(s)) = (
            t.get(0..2).and_then(|x| num(x, 2, 24)),
            t.get(3..5).and_then(|x| num(x, 2, 59)),
            t.get(6..8).and_then(|x| num(x, 2, 59)),
        ) else {
            return false;
        };
        if t.as_bytes().get(2) != Some(&b':') || t.as_bytes().get(5) != Some(&b':') {
            return false;
        }
        rest = &t[8..];
        if let Some(f) = rest.strip_prefix('.') {
            let digits = f.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return false;
            }
            if h == 24 && f[..digits].bytes().any(|c| c != b'0') {
                return false;
            }
            rest = &f[digits..];
        }
        if h == 24 && (m != 0 || s != 0) {
            return false;
        }
    }
    match rest {
        "" | "Z" => true,
        z => {
            let (Some(sign), Some(h), Some(m)) = (
                z.get(0..1),
                z.get(1..3).and_then(|x| num(x, 2, 14)),
                z.get(4..6).and_then(|x| num(x, 2, 59)),
            ) else {
                return false;
            };
            matches!(sign, "+" | "-")
                && z.len() == 6
                && z.as_bytes()[3] == b':'
                && (h < 14 || m == 0)
        }
    }
}

/// `/bom/components/component[3]`: local names, with a 1-based index
/// where the parent has more than one element of that name. Built only
/// for a message.
fn path(n: Node) -> String {
    let mut parts = Vec::new();
    for a in n.ancestors().filter(Node::is_element) {
        let name = a.tag_name().name();
        let same = |s: &Node| s.is_element() && s.tag_name() == a.tag_name();
        let before = a.prev_siblings().skip(1).filter(same).count();
        let after = a.next_siblings().skip(1).filter(same).count();
        if before + after > 0 {
            parts.push(format!("{name}[{}]", before + 1));
        } else {
            parts.push(name.to_string());
        }
    }
    parts.reverse();
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPDX: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified" targetNamespace="urn:spdx"/>"#;

    /// A schema in namespace `urn:t` whose `<bom>` has `body` as its type.
    fn schema(body: &str, defs: &str) -> String {
        format!(
            r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:t" elementFormDefault="qualified" targetNamespace="urn:t">
  <xs:element name="bom"><xs:complexType>{body}</xs:complexType></xs:element>{defs}</xs:schema>"#
        )
    }

    fn check(xsd: &Xsd, doc: &str) -> Vec<String> {
        xsd.validate(&roxmltree::Document::parse(doc).unwrap(), 8)
    }

    #[test]
    fn unsupported_constructs_fail_compilation() {
        for (body, defs) in [
            ("<xs:all><xs:element name=\"a\"/></xs:all>", ""),
            ("<xs:sequence><xs:group ref=\"t:g\"/></xs:sequence>", ""),
            ("<xs:complexContent/>", ""),
            (
                "<xs:sequence><xs:element name=\"a\" fixed=\"x\"/></xs:sequence>",
                "",
            ),
            (
                "<xs:sequence><xs:element name=\"a\" nillable=\"true\"/></xs:sequence>",
                "",
            ),
            (
                "<xs:sequence><xs:any namespace=\"##any\" processContents=\"lax\"/></xs:sequence>",
                "",
            ),
            (
                "<xs:sequence><xs:any namespace=\"##other\" processContents=\"strict\"/></xs:sequence>",
                "",
            ),
            (
                "<xs:sequence><xs:element name=\"a\" type=\"xs:duration\"/></xs:sequence>",
                "",
            ),
            (
                "<xs:sequence><xs:element name=\"a\" type=\"t:missing\"/></xs:sequence>",
                "",
            ),
            ("<xs:sequence/><xs:choice/>", ""),
            (
                "",
                "<xs:simpleType name=\"s\"><xs:list itemType=\"xs:string\"/></xs:simpleType>",
            ),
            (
                "",
                "<xs:simpleType name=\"s\"><xs:restriction base=\"xs:string\"><xs:whiteSpace value=\"collapse\"/></xs:restriction></xs:simpleType>",
            ),
            (
                "",
                "<xs:simpleType name=\"s\"><xs:restriction base=\"xs:string\"><xs:pattern value=\"\\i\\c*\"/></xs:restriction></xs:simpleType>",
            ),
            (
                "",
                "<xs:simpleType name=\"s\"><xs:restriction base=\"xs:string\"><xs:pattern value=\"[a-z-[aeiou]]\"/></xs:restriction></xs:simpleType>",
            ),
            ("", "<xs:attribute name=\"global\"/>"),
            ("", "<xs:include schemaLocation=\"x.xsd\"/>"),
        ] {
            let text = schema(body, defs);
            assert!(compile(&text, SPDX).is_err(), "compiled: {text}");
        }
        // Only a later XSD version's parts are skipped.
        let later = schema(
            r#"<xs:sequence/><xs:assert xmlns:vc="http://www.w3.org/2007/XMLSchema-versioning" vc:minVersion="1.1" test="true()"/>"#,
            "",
        );
        assert!(compile(&later, SPDX).is_ok());
    }

    #[test]
    fn content_models_match_greedily_and_exactly() {
        let text = schema(
            r###"<xs:sequence>
                 <xs:element name="a" minOccurs="0"/>
                 <xs:choice minOccurs="1" maxOccurs="unbounded">
                   <xs:element name="b"/>
                   <xs:sequence><xs:element name="c"/><xs:element name="d" minOccurs="0" maxOccurs="2"/></xs:sequence>
                 </xs:choice>
                 <xs:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
               </xs:sequence>
               <xs:attribute name="n" type="xs:positiveInteger" use="required"/>"###,
            "",
        );
        let xsd = compile(&text, SPDX).unwrap();
        let doc = |kids: &str| format!(r#"<bom xmlns="urn:t" xmlns:o="urn:o" n="1">{kids}</bom>"#);
        for ok in [
            "<b/>",
            "<a/><b/><c/><d/><d/><b/><c/>",
            "<c/><o:x><b/><b/></o:x><o:y/>",
        ] {
            assert_eq!(check(&xsd, &doc(ok)), Vec::<String>::new(), "{ok}");
        }
        for (bad, error) in [
            ("", "/bom: missing one of <b>, <c>"),
            (
                "<a/><a/><b/>",
                "/bom/a[2]: element not allowed here (expected one of <b>, <c>)",
            ),
            ("<c/><d/><d/><d/>", "/bom/d[3]: element not allowed here"),
            ("<b/><o:x/><b/>", "/bom/b[2]: element not allowed here"),
            ("<b/><x xmlns=\"\"/>", "/bom/x: element not allowed here"),
            ("<b/>text", "/bom: text not allowed here"),
        ] {
            assert_eq!(check(&xsd, &doc(bad)), [error], "{bad}");
        }
        let no_attr = r#"<bom xmlns="urn:t"><b/></bom>"#;
        assert_eq!(check(&xsd, no_attr), ["/bom: missing attribute `n`"]);
        let zero = r#"<bom xmlns="urn:t" n="0"><b/></bom>"#;
        assert_eq!(
            check(&xsd, zero),
            ["/bom/@n: `0` is not a valid PositiveInteger"]
        );
    }

    #[test]
    fn deep_documents_are_walked_without_recursion() {
        let text = schema(
            r#"<xs:sequence><xs:element name="r" type="t:r"/></xs:sequence>"#,
            r#"<xs:complexType name="r"><xs:sequence><xs:element name="r" type="t:r" minOccurs="0"/></xs:sequence></xs:complexType>"#,
        );
        let xsd = compile(&text, SPDX).unwrap();
        let depth = 100_000;
        let doc = format!(
            r#"<bom xmlns="urn:t">{}<x/>{}</bom>"#,
            "<r>".repeat(depth),
            "</r>".repeat(depth)
        );
        let errors = check(&xsd, &doc);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("/bom/r/r/r/"), "{}", errors[0]);
        assert!(errors[0].len() < 1000);
    }

    #[test]
    fn patterns_are_whole_value_and_literal() {
        let p = pattern("a$b|[0-9]{2}").unwrap();
        assert!(p.is_match("a$b") && p.is_match("12"));
        assert!(!p.is_match("123") && !p.is_match("x12"));
        let p = pattern("[&&~~a]+").unwrap();
        assert!(p.is_match("&~a"));
    }

    #[test]
    fn date_times() {
        for ok in [
            "2024-02-29T00:00:00Z",
            "2023-12-31T23:59:59.123+05:30",
            "2023-01-01T24:00:00",
            " 2023-01-01T00:00:00-14:00 ",
        ] {
            assert!(builtin_value(Builtin::DateTime, ok).is_ok(), "{ok}");
        }
        for bad in [
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-01-01",
            "2023-01-01T00:00:60Z",
            "2023-01-01T24:00:01Z",
            "2023-01-01T00:00:00+15:00",
            "0000-01-01T00:00:00Z",
            "2023-1-01T00:00:00Z",
            "2023-01-01T00:00:00.Z",
        ] {
            assert!(builtin_value(Builtin::DateTime, bad).is_err(), "{bad}");
        }
        assert!(builtin_value(Builtin::Date, "2023-01-01Z").is_ok());
        assert!(builtin_value(Builtin::Boolean, "TRUE").is_err());
        assert!(builtin_value(Builtin::Decimal, "-.5").is_ok());
        assert!(builtin_value(Builtin::Decimal, ".").is_err());
        assert!(builtin_value(Builtin::NonNegativeInteger, "-0").is_ok());
        assert!(builtin_value(Builtin::NonNegativeInteger, "-1").is_err());
    }
}
