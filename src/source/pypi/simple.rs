//! The simple repository API as pip reads it: a project page in PEP 691
//! JSON where the index offers it, PEP 503 HTML otherwise. Every file link
//! is resolved against the page URL (RFC 3986) and must then be https.
//!
//! The HTML reader is small and strict: it reads tags and their attributes
//! in one pass (no backtracking, so linear in the page), takes the `<a>`
//! anchors with an `href` and a `<base href>`, decodes the entities
//! `&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;` in attribute values and
//! refuses anything else it cannot read (an unterminated tag, quote or
//! comment, an unknown entity, a page that is not UTF-8).

use serde::Deserialize;
use url::Url;

use super::super::{Page, SourceError, spec};

/// A project page (pypi.org's largest are a few MB).
pub const PAGE_LIMIT: u64 = 16 << 20;
/// Files on one project page (pypi.org's largest projects list ~20,000).
pub const MAX_LINKS: usize = 50_000;
/// PEP 691 content negotiation, as pip asks.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";
pub const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// One file of a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLink {
    pub filename: String,
    /// Absolute https URL, fragment removed.
    pub url: String,
    /// Lower-case hex, from `#sha256=` or the JSON `hashes`.
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    /// `Some(reason)` (maybe empty) when the file is yanked.
    pub yanked: Option<String>,
    /// The PEP 740 provenance URL the index names (absolute https).
    pub provenance: Option<String>,
}

fn malformed(url: &str, reason: impl Into<String>) -> SourceError {
    SourceError::Field {
        url: url.to_string(),
        field: "project page".into(),
        reason: reason.into(),
    }
}

/// Reads a fetched project page: JSON or HTML by its Content-Type (by its
/// first byte when the fetcher reports none).
pub fn parse_page(page: &Page) -> Result<Vec<FileLink>, SourceError> {
    let media = page.content_type.as_deref().map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let json = match media.as_deref() {
        Some(JSON_TYPE) | Some("application/vnd.pypi.simple.latest+json") => true,
        Some("text/html") | Some("application/vnd.pypi.simple.v1+html") => false,
        Some(other) => {
            return Err(SourceError::Field {
                url: page.url.clone(),
                field: "Content-Type".into(),
                reason: format!(
                    "`{}` is neither the PEP 691 JSON nor the HTML simple API",
                    crate::text::printable(other, 100)
                ),
            });
        }
        None => page
            .bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{'),
    };
    if json {
        parse_json(&page.url, &page.bytes)
    } else {
        parse_html(&page.url, &page.bytes)
    }
}

/// Resolves a link against `base`; the result must be https.
fn resolve_link(page_url: &str, base: &Url, href: &str, field: &str) -> Result<Url, SourceError> {
    let u = base.join(href.trim()).map_err(|e| SourceError::Field {
        url: page_url.to_string(),
        field: field.into(),
        reason: format!("`{}` is not a URL: {e}", crate::text::printable(href, 200)),
    })?;
    if u.scheme() != "https" || spec::validate_https(u.as_str()).is_err() {
        return Err(SourceError::NotHttps {
            url: page_url.to_string(),
            field: field.into(),
            value: crate::text::printable(u.as_str(), 200),
        });
    }
    Ok(u)
}

/// The last path segment of `u`, percent-decoded.
fn last_segment(u: &Url) -> Option<String> {
    let seg = u.path_segments()?.next_back()?;
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if b[i] == b'%' {
            return None;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn safe_filename(f: &str) -> bool {
    !f.is_empty()
        && !f.starts_with('.')
        && !f.contains(['/', '\\'])
        && !f.chars().any(char::is_control)
        && f.len() <= 255
}

fn check_sha256(page_url: &str, filename: &str, hex: &str) -> Result<String, SourceError> {
    let lower = hex.to_ascii_lowercase();
    if lower.len() != 64 || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SourceError::Field {
            url: page_url.to_string(),
            field: "sha256".into(),
            reason: format!(
                "`{}` for {filename} is not a sha256 hex digest",
                crate::text::printable(hex, 80)
            ),
        });
    }
    Ok(lower)
}

/// A file link from its resolved URL: the file name is the last path
/// segment; the fragment carries the digest (`#sha256=...`).
fn link_from_url(
    page_url: &str,
    mut u: Url,
    yanked: Option<String>,
    requires_python: Option<String>,
    provenance: Option<String>,
) -> Result<FileLink, SourceError> {
    let filename = last_segment(&u)
        .filter(|f| safe_filename(f))
        .ok_or_else(|| {
            malformed(
                page_url,
                format!(
                    "link `{}` does not end in a plain file name",
                    crate::text::printable(u.as_str(), 200)
                ),
            )
        })?;
    let mut sha256 = None;
    if let Some((alg, value)) = u.fragment().and_then(|f| f.split_once('='))
        && alg.eq_ignore_ascii_case("sha256")
    {
        sha256 = Some(check_sha256(page_url, &filename, value)?);
    }
    u.set_fragment(None);
    Ok(FileLink {
        filename,
        url: u.into(),
        sha256,
        requires_python: requires_python.filter(|s| !s.trim().is_empty()),
        yanked,
        provenance,
    })
}

// ------------------------------------------------------------ PEP 691

#[derive(Deserialize)]
struct JsonPage {
    meta: JsonMeta,
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonMeta {
    #[serde(rename = "api-version")]
    api_version: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Yanked {
    Flag(bool),
    Reason(String),
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<Yanked>,
    #[serde(default)]
    provenance: Option<String>,
}

pub fn parse_json(page_url: &str, bytes: &[u8]) -> Result<Vec<FileLink>, SourceError> {
    let base = Url::parse(page_url).map_err(|e| malformed(page_url, e.to_string()))?;
    let doc: JsonPage = super::super::parse_json(page_url, bytes)?;
    if doc.meta.api_version.split('.').next() != Some("1") {
        return Err(SourceError::Field {
            url: page_url.to_string(),
            field: "meta.api-version".into(),
            reason: format!(
                "`{}`: only version 1 of the simple API is understood",
                crate::text::printable(&doc.meta.api_version, 40)
            ),
        });
    }
    if doc.files.len() > MAX_LINKS {
        return Err(malformed(
            page_url,
            format!("more than {MAX_LINKS} files listed"),
        ));
    }
    let mut out = Vec::with_capacity(doc.files.len());
    for f in doc.files {
        if !safe_filename(&f.filename) {
            return Err(SourceError::Field {
                url: page_url.to_string(),
                field: "files[].filename".into(),
                reason: format!(
                    "`{}` is not a plain file name",
                    crate::text::printable(&f.filename, 80)
                ),
            });
        }
        let mut u = resolve_link(page_url, &base, &f.url, "files[].url")?;
        u.set_fragment(None);
        let sha256 = match f.hashes.get("sha256") {
            Some(h) => Some(check_sha256(page_url, &f.filename, h)?),
            None => None,
        };
        let provenance = match f.provenance.as_deref() {
            Some(p) => Some(resolve_link(page_url, &base, p, "files[].provenance")?.into()),
            None => None,
        };
        let yanked = match f.yanked {
            None | Some(Yanked::Flag(false)) => None,
            Some(Yanked::Flag(true)) => Some(String::new()),
            Some(Yanked::Reason(r)) => Some(r),
        };
        out.push(FileLink {
            filename: f.filename,
            url: u.into(),
            sha256,
            requires_python: f.requires_python.filter(|s| !s.trim().is_empty()),
            yanked,
            provenance,
        });
    }
    Ok(out)
}

// ------------------------------------------------------------ PEP 503

/// Decodes the entities of an attribute value.
fn decode_entities(page_url: &str, s: &str) -> Result<String, SourceError> {
    if !s.contains('&') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        // Entity names are short: look for `;` in the next 10 bytes only.
        let semi = after
            .bytes()
            .take(10)
            .position(|b| b == b';')
            .ok_or_else(|| {
                malformed(
                    page_url,
                    format!(
                        "a bare `&` in `{}` (write `&amp;`)",
                        crate::text::printable(s, 120)
                    ),
                )
            })?;
        let name = &after[..semi];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let num = if let Some(hex) =
                    name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                num.and_then(char::from_u32)
                    .filter(|c| *c != '\0')
                    .ok_or_else(|| {
                        malformed(
                            page_url,
                            format!("unknown entity `&{};`", crate::text::printable(name, 20)),
                        )
                    })?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One tag: its lower-case name and attributes, and where it ends.
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the tag that starts at `b[start] == '<'`; returns it and the
/// index after its `>`.
fn read_tag(page_url: &str, text: &str, start: usize) -> Result<(Tag, usize), SourceError> {
    let b = text.as_bytes();
    let truncated = || {
        malformed(
            page_url,
            format!("the page ends inside a tag (at byte {start})"),
        )
    };
    let mut i = start + 1;
    let name_start = i;
    if b.get(i) == Some(&b'/') || b.get(i) == Some(&b'!') {
        i += 1;
    }
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    let name = text[name_start..i].to_ascii_lowercase();
    let mut attrs: Vec<(String, String)> = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return Err(truncated()),
            Some(b'>') => return Ok((Tag { name, attrs }, i + 1)),
            Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                return Ok((Tag { name, attrs }, i + 2));
            }
            _ => {}
        }
        let an_start = i;
        while i < b.len()
            && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'-' | b'_' | b':' | b'.'))
        {
            i += 1;
        }
        if i == an_start {
            return Err(if i >= b.len() {
                truncated()
            } else {
                malformed(
                    page_url,
                    format!(
                        "unexpected `{}` in a <{}> tag (at byte {i})",
                        crate::text::printable(&text[i..].chars().take(1).collect::<String>(), 4),
                        crate::text::printable(&name, 20)
                    ),
                )
            });
        }
        let attr = text[an_start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let raw = match b.get(i) {
                None => return Err(truncated()),
                Some(&q @ (b'"' | b'\'')) => {
                    let len = memchr::memchr(q, &b[i + 1..]).ok_or_else(truncated)?;
                    let raw = &text[i + 1..i + 1 + len];
                    i += len + 2;
                    raw
                }
                Some(_) => {
                    let s = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    &text[s..i]
                }
            };
            value = decode_entities(page_url, raw)?;
        }
        if attrs.iter().any(|(k, _)| *k == attr) {
            return Err(malformed(
                page_url,
                format!(
                    "attribute `{}` given twice in a <{}> tag",
                    crate::text::printable(&attr, 40),
                    crate::text::printable(&name, 20)
                ),
            ));
        }
        attrs.push((attr, value));
    }
}

pub fn parse_html(page_url: &str, bytes: &[u8]) -> Result<Vec<FileLink>, SourceError> {
    let mut base = Url::parse(page_url).map_err(|e| malformed(page_url, e.to_string()))?;
    let text = std::str::from_utf8(bytes)
        .map_err(|e| malformed(page_url, format!("not UTF-8 text ({e})")))?;
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &b[i..]) {
        let p = i + off;
        if b[p..].starts_with(b"<!--") {
            let end = memchr::memmem::find(&b[p + 4..], b"-->")
                .ok_or_else(|| malformed(page_url, "the page ends inside a comment"))?;
            i = p + 4 + end + 3;
            continue;
        }
        // A `<` that opens no tag is text.
        if !b
            .get(p + 1)
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!'))
        {
            i = p + 1;
            continue;
        }
        let (tag, end) = read_tag(page_url, text, p)?;
        i = end;
        match tag.name.as_str() {
            "base" => {
                if let Some(h) = tag.get("href") {
                    base = base
                        .join(h.trim())
                        .map_err(|e| malformed(page_url, format!("<base href>: {e}")))?;
                }
            }
            "a" => {
                let Some(href) = tag.get("href") else {
                    continue;
                };
                // The anchor's text runs to its `</a>`.
                let close = memchr::memchr(b'<', &b[i..])
                    .map(|o| i + o)
                    .filter(|c| {
                        b.len() >= c + 3 && b[c + 1] == b'/' && b[c + 2].eq_ignore_ascii_case(&b'a')
                    })
                    .ok_or_else(|| {
                        malformed(page_url, format!("an <a> not closed by </a> (at byte {p})"))
                    })?;
                i = close;
                if out.len() >= MAX_LINKS {
                    return Err(malformed(page_url, format!("more than {MAX_LINKS} links")));
                }
                let u = resolve_link(page_url, &base, href, "a href")?;
                let provenance = match tag.get("data-provenance") {
                    Some(p) => Some(resolve_link(page_url, &base, p, "a data-provenance")?.into()),
                    None => None,
                };
                out.push(link_from_url(
                    page_url,
                    u,
                    tag.get("data-yanked").map(str::to_string),
                    tag.get("data-requires-python").map(str::to_string),
                    provenance,
                )?);
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "https://devpi.example/root/pypi/+simple/mcp-server-time/";
    const SHA: &str = "2c6a25e3877b13a135efe0546989722b37469b1287e8310c27709048d3e79722";

    fn html(body: &str) -> Result<Vec<FileLink>, SourceError> {
        parse_html(
            PAGE,
            format!("<!DOCTYPE html><html><body>{body}</body></html>").as_bytes(),
        )
    }

    #[test]
    fn relative_links_resolve_against_the_page() {
        let l = html(&format!(
            "<a href=\"../../+f/2c6/a25/mcp_server_time-0.5.1-py3-none-any.whl#sha256={SHA}\">mcp_server_time-0.5.1-py3-none-any.whl</a>"
        ))
        .unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(
            l[0].url,
            "https://devpi.example/root/pypi/+f/2c6/a25/mcp_server_time-0.5.1-py3-none-any.whl"
        );
        assert_eq!(l[0].filename, "mcp_server_time-0.5.1-py3-none-any.whl");
        assert_eq!(l[0].sha256.as_deref(), Some(SHA));
        // <base href> moves the base, as pip honours it.
        let l = html(&format!(
            "<base href=\"https://files.example/p/\"><a href='x-1.0.tar.gz#sha256={SHA}'>x</a>"
        ))
        .unwrap();
        assert_eq!(l[0].url, "https://files.example/p/x-1.0.tar.gz");
    }

    #[test]
    fn attributes_entities_yanked_and_requires_python() {
        let l = html(&format!(
            "<!-- a <comment> --><A HREF=\"/f/x-1.0-py3-none-any.whl?a=1&amp;b=2#sha256={}\" data-requires-python=\"&gt;=3.10,&lt;4&#44;!=3.11.*\" data-yanked=\"broken &quot;build&quot; &#x26; more\" >x</a><br/>\n<a href=/f/x-0.9.tar.gz data-yanked>x</A>",
            SHA.to_uppercase()
        ))
        .unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            l[0].url,
            "https://devpi.example/f/x-1.0-py3-none-any.whl?a=1&b=2"
        );
        assert_eq!(l[0].sha256.as_deref(), Some(SHA));
        assert_eq!(l[0].requires_python.as_deref(), Some(">=3.10,<4,!=3.11.*"));
        assert_eq!(l[0].yanked.as_deref(), Some("broken \"build\" & more"));
        assert_eq!(l[1].yanked.as_deref(), Some(""));
        assert_eq!(l[1].sha256, None, "no fragment, no digest");
        // An anchor without href is no link.
        assert!(html("<a name=top>top</a>").unwrap().is_empty());
    }

    #[test]
    fn http_javascript_and_other_schemes_are_refused() {
        for href in [
            "http://devpi.example/f/x-1.0.tar.gz",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "HTTP://plain.example/x-1.0.tar.gz",
            "data:text/plain,x",
        ] {
            let e = html(&format!("<a href=\"{href}\">x</a>")).unwrap_err();
            assert!(matches!(e, SourceError::NotHttps { .. }), "{href}: {e:?}");
        }
        // Scheme-relative inherits https: fine.
        assert!(html("<a href=\"//other.example/x-1.0.tar.gz\">x</a>").is_ok());
        let e = html("<a href=\"https://x.example/f\" data-provenance=\"http://x/p\">x</a>")
            .unwrap_err();
        assert!(matches!(e, SourceError::NotHttps { .. }), "{e:?}");
    }

    #[test]
    fn malformed_and_truncated_pages_are_refused() {
        for (body, says) in [
            ("<a href=\"x-1.0.tar.gz", "ends inside a tag"),
            ("<a href=\"x-1.0.tar.gz\">x", "not closed"),
            ("<a href=x-1.0.tar.gz>x</b>", "not closed"),
            ("<a href=\"x?a=1&b=2\">x</a>", "bare `&`"),
            ("<a href=\"x&nbsp;\">x</a>", "unknown entity"),
            ("<a href=\"x&#0;\">x</a>", "unknown entity"),
            ("<a href=\"x\" href=\"y\">x</a>", "given twice"),
            ("<a \"x\">x</a>", "unexpected"),
            ("<!-- open", "inside a comment"),
            ("<a href=\"../x/\">x</a>", "plain file name"),
        ] {
            let e = html(body).unwrap_err().to_string();
            assert!(e.contains(says), "{body}: {e}");
        }
        let e = parse_html(PAGE, b"<html>\xff\xfe</html>").unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
        // Garbage with no tags is a page without files.
        assert!(parse_html(PAGE, b"x < y > z & w").unwrap().is_empty());
        // A truncated real page.
        let real = include_str!("../../../fixtures/pypi/mcp-server-time.simple.html");
        let cut = real.find("mcp_server_time-0.5.1-py3").unwrap();
        assert!(
            parse_html(
                "https://pypi.org/simple/mcp-server-time/",
                &real.as_bytes()[..cut]
            )
            .is_err()
        );
    }

    #[test]
    fn large_pages_are_read_in_linear_time_and_links_are_capped() {
        // 10 MB of text and tags (no links): one pass.
        let mut big = String::with_capacity(10 << 20);
        while big.len() < 10 << 20 {
            big.push_str("<p class=\"x\">lorem &amp; ipsum</p><br/>\n");
        }
        let t = std::time::Instant::now();
        assert!(parse_html(PAGE, big.as_bytes()).unwrap().is_empty());
        assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
        // 100k links: more than MAX_LINKS.
        let mut many = String::new();
        for n in 0..100_000 {
            many.push_str(&format!("<a href=\"x-{n}.tar.gz\">x</a>\n"));
        }
        let e = parse_html(PAGE, many.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("more than 50000 links"), "{e}");
        // Thousands of `<` that open nothing, or open tags: still linear.
        let lt = "<".repeat(1 << 20);
        assert!(parse_html(PAGE, lt.as_bytes()).unwrap().is_empty());
        let opens = "<a ".repeat(1 << 18);
        assert!(parse_html(PAGE, opens.as_bytes()).is_err());
    }

    #[test]
    fn the_real_pypi_pages_read_the_same_in_html_and_json() {
        let url = "https://pypi.org/simple/mcp-server-time/";
        let h = parse_html(
            url,
            include_bytes!("../../../fixtures/pypi/mcp-server-time.simple.html"),
        )
        .unwrap();
        let j = parse_json(
            url,
            include_bytes!("../../../fixtures/pypi/mcp-server-time.simple.json"),
        )
        .unwrap();
        assert!(h.len() > 10);
        // The same files (pypi.org orders them differently).
        let sorted = |v: &[FileLink]| {
            let mut v = v.to_vec();
            v.sort_by(|a, b| a.filename.cmp(&b.filename));
            v
        };
        assert!(sorted(&h) == sorted(&j), "the HTML and JSON pages differ");
        let w = h
            .iter()
            .find(|l| l.filename == "mcp_server_time-0.5.1-py3-none-any.whl")
            .unwrap();
        assert_eq!(w.sha256.as_deref(), Some(SHA));
        assert_eq!(w.requires_python.as_deref(), Some(">=3.10"));
        // Content negotiation picks the parser; an unknown type is refused.
        let page = |ct: Option<&str>, bytes: &[u8]| Page {
            bytes: bytes.to_vec(),
            content_type: ct.map(str::to_string),
            url: url.into(),
        };
        let json = include_bytes!("../../../fixtures/pypi/mcp-server-time.simple.json");
        assert!(parse_page(&page(Some("application/vnd.pypi.simple.v1+json"), json)).unwrap() == j);
        assert!(parse_page(&page(None, json)).unwrap() == j);
        assert!(
            parse_page(&page(Some("text/html; charset=utf-8"), json))
                .unwrap()
                .is_empty()
        );
        let e = parse_page(&page(Some("application/json"), json)).unwrap_err();
        assert!(e.to_string().contains("Content-Type"), "{e}");
    }

    #[test]
    fn json_pages_are_checked() {
        let one = |file: serde_json::Value| {
            let doc =
                serde_json::json!({"meta": {"api-version": "1.1"}, "name": "x", "files": [file]});
            parse_json(PAGE, &serde_json::to_vec(&doc).unwrap())
        };
        let l = one(
            serde_json::json!({"filename": "x-1.0.tar.gz", "url": "../../f/x-1.0.tar.gz",
            "hashes": {"sha256": SHA}, "yanked": "bad", "requires-python": ">=3.9",
            "provenance": "/integrity/x/1.0/x-1.0.tar.gz/provenance"}),
        )
        .unwrap();
        assert_eq!(l[0].url, "https://devpi.example/root/pypi/f/x-1.0.tar.gz");
        assert_eq!(l[0].yanked.as_deref(), Some("bad"));
        assert_eq!(
            l[0].provenance.as_deref(),
            Some("https://devpi.example/integrity/x/1.0/x-1.0.tar.gz/provenance")
        );
        let l = one(serde_json::json!({"filename": "x-1.0.tar.gz", "url": "f", "hashes": {"md5": "00"}, "yanked": true}))
            .unwrap();
        assert_eq!(
            (l[0].sha256.as_deref(), l[0].yanked.as_deref()),
            (None, Some(""))
        );
        let e =
            one(serde_json::json!({"filename": "x-1.0.tar.gz", "url": "http://h/f"})).unwrap_err();
        assert!(matches!(e, SourceError::NotHttps { .. }), "{e:?}");
        let e = one(serde_json::json!({"filename": "../x", "url": "f"})).unwrap_err();
        assert!(e.to_string().contains("plain file name"), "{e}");
        let e = one(serde_json::json!({"filename": "x", "url": "f", "hashes": {"sha256": "zz"}}))
            .unwrap_err();
        assert!(e.to_string().contains("not a sha256"), "{e}");
        let e = parse_json(PAGE, br#"{"meta": {"api-version": "2.0"}, "files": []}"#).unwrap_err();
        assert!(e.to_string().contains("api-version"), "{e}");
        assert!(parse_json(PAGE, br#"{"meta": {"api-version": "1.0"}, "files": [{"#).is_err());
        assert!(parse_json(PAGE, b"\x00garbage").is_err());
    }
}
