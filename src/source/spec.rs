//! Source specs: what `add NAME SOURCE` accepts, parsed strictly and
//! written back unchanged (`Display` is stored in the lock file, so
//! `parse(display(s)) == s` for every accepted spec).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::SourceError;

/// Longest spec accepted: paths may be long, nothing needs more.
pub const MAX_SPEC_LEN: usize = 4096;
/// npm's own limit on package names.
pub const NPM_NAME_MAX: usize = 214;
/// The MCP registry schema's limit on server names.
pub const REGISTRY_NAME_MAX: usize = 200;
/// Versions longer than this are not versions.
const VERSION_MAX: usize = 128;

/// Every form `Source::from_str` accepts, for error messages.
pub const SUPPORTED_FORMS: &str = "./PATH, ../PATH, /ABS/PATH or file:PATH (a file or directory; \
a path ending in .mcpb is an MCP bundle), https://URL (an .mcpb URL is an MCP bundle), \
npm:NAME[@VERSION], npm:@SCOPE/NAME[@VERSION], pypi:NAME[==VERSION], \
registry:NAMESPACE/NAME[@VERSION] (the MCP registry) or registry:PATH (a local server.json)";

/// Where a file lives: on disk or behind an https URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    Url(String),
    Path(PathBuf),
}

/// A parsed source spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A local file or directory.
    Path(PathBuf),
    /// A file behind an https URL.
    Https(String),
    /// An npm package; `None` means the `latest` dist-tag.
    Npm {
        name: String,
        version: Option<String>,
    },
    /// A PyPI project (PEP 503 normalised name); `None` means the latest release.
    Pypi {
        name: String,
        version: Option<String>,
    },
    /// A server in the MCP registry; `None` means its latest version.
    Registry {
        name: String,
        version: Option<String>,
    },
    /// A local `server.json` file, read as the registry would serve it.
    ServerJson(PathBuf),
    /// An MCP bundle (`.mcpb`), local or remote.
    Mcpb(Location),
}

impl FromStr for Source {
    type Err = SourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(invalid(s, "the source is empty"));
        }
        if s.len() > MAX_SPEC_LEN {
            return Err(invalid(
                s,
                &format!(
                    "the source is {} bytes long, at most {MAX_SPEC_LEN} are accepted",
                    s.len()
                ),
            ));
        }
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(invalid(
                s,
                &format!("the source contains the control character {c:?}"),
            ));
        }
        if s.trim() != s {
            return Err(invalid(s, "the source starts or ends with white space"));
        }

        if let Some(rest) = s.strip_prefix("npm:") {
            no_space(s, rest)?;
            let (name, version) = split_npm(rest);
            validate_npm_name(name).map_err(|r| invalid(s, &r))?;
            let version = version.map(|v| validate_npm_version(s, v)).transpose()?;
            return Ok(Source::Npm {
                name: name.to_string(),
                version,
            });
        }
        if let Some(rest) = s.strip_prefix("pypi:") {
            no_space(s, rest)?;
            return parse_pypi(s, rest);
        }
        if let Some(rest) = s.strip_prefix("registry:") {
            if looks_like_path(rest) || rest.starts_with("file:") {
                let p = rest.strip_prefix("file:").unwrap_or(rest);
                if p.is_empty() {
                    return Err(invalid(s, "the server.json path is empty"));
                }
                return Ok(Source::ServerJson(PathBuf::from(p)));
            }
            no_space(s, rest)?;
            return parse_registry(s, rest);
        }
        if let Some(rest) = s.strip_prefix("file:") {
            if rest.is_empty() {
                return Err(invalid(s, "the path after file: is empty"));
            }
            return Ok(path_source(rest));
        }
        if looks_like_path(s) {
            return Ok(path_source(s));
        }
        if let Some(scheme) = s.get(..8)
            && scheme.eq_ignore_ascii_case("https://")
        {
            no_space(s, s)?;
            validate_https(s)?;
            return Ok(if is_mcpb_url(s) {
                Source::Mcpb(Location::Url(s.to_string()))
            } else {
                Source::Https(s.to_string())
            });
        }
        if s.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
        {
            return Err(SourceError::OnlyHttps { url: s.to_string() });
        }
        Err(SourceError::Unsupported { spec: shorten(s) })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Path(p) | Source::Mcpb(Location::Path(p)) => write_path(f, p),
            Source::Https(u) | Source::Mcpb(Location::Url(u)) => f.write_str(u),
            Source::Npm { name, version } => {
                write!(f, "npm:{name}")?;
                match version {
                    Some(v) => write!(f, "@{v}"),
                    None => Ok(()),
                }
            }
            Source::Pypi { name, version } => {
                write!(f, "pypi:{name}")?;
                match version {
                    Some(v) => write!(f, "=={v}"),
                    None => Ok(()),
                }
            }
            Source::Registry { name, version } => {
                write!(f, "registry:{name}")?;
                match version {
                    Some(v) => write!(f, "@{v}"),
                    None => Ok(()),
                }
            }
            Source::ServerJson(p) => {
                f.write_str("registry:")?;
                write_path(f, p)
            }
        }
    }
}

/// Writes a path so that it parses back as a path: `./x`, `../x` and
/// absolute paths as they are, anything else behind `file:`.
fn write_path(f: &mut fmt::Formatter<'_>, p: &Path) -> fmt::Result {
    let s = p.to_string_lossy();
    if looks_like_path(&s) {
        f.write_str(&s)
    } else {
        write!(f, "file:{s}")
    }
}

fn looks_like_path(s: &str) -> bool {
    s.starts_with("./")
        || s.starts_with("../")
        || s.starts_with('/')
        || s == "."
        || s == ".."
        || (cfg!(windows) && (s.starts_with(".\\") || s.starts_with("..\\") || is_drive_path(s)))
}

fn is_drive_path(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

fn path_source(p: &str) -> Source {
    let path = PathBuf::from(p);
    if p.to_ascii_lowercase().ends_with(".mcpb") {
        Source::Mcpb(Location::Path(path))
    } else {
        Source::Path(path)
    }
}

fn is_mcpb_url(u: &str) -> bool {
    let path = u.split(['?', '#']).next().unwrap_or(u);
    path.to_ascii_lowercase().ends_with(".mcpb")
}

fn invalid(spec: &str, reason: &str) -> SourceError {
    SourceError::InvalidSpec {
        spec: shorten(spec),
        reason: reason.to_string(),
    }
}

/// Specs are echoed in errors: keep them short and printable.
fn shorten(s: &str) -> String {
    crate::text::printable(s, 120)
}

fn no_space(spec: &str, part: &str) -> Result<(), SourceError> {
    if part.chars().any(char::is_whitespace) {
        return Err(invalid(spec, "the source contains white space"));
    }
    Ok(())
}

/// Checks an https URL enough to store it: a host, no credentials, no
/// white space. The network client does the full parse.
pub fn validate_https(url: &str) -> Result<(), SourceError> {
    let Some(rest) = url
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
    else {
        return Err(SourceError::OnlyHttps { url: shorten(url) });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(invalid(url, "the URL has no host"));
    }
    if authority.contains('@') {
        return Err(invalid(
            url,
            "the URL carries credentials (user@host); they would be written into the lock file",
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            url,
            "the URL contains white space or control characters",
        ));
    }
    Ok(())
}

/// `@scope/name@1.0.0` → (`@scope/name`, Some(`1.0.0`)).
fn split_npm(rest: &str) -> (&str, Option<&str>) {
    let search_from = if rest.starts_with('@') { 1 } else { 0 };
    match rest[search_from..].find('@') {
        Some(i) => {
            let at = search_from + i;
            (&rest[..at], Some(&rest[at + 1..]))
        }
        None => (rest, None),
    }
}

/// npm's package name rules (validate-npm-package-name, for new packages).
pub fn validate_npm_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the npm package name is empty".into());
    }
    if name.len() > NPM_NAME_MAX {
        return Err(format!(
            "the npm package name is {} characters long, npm allows {NPM_NAME_MAX}",
            name.len()
        ));
    }
    let parts: Vec<&str> = if let Some(scoped) = name.strip_prefix('@') {
        match scoped.split_once('/') {
            Some((scope, pkg)) if !scope.is_empty() && !pkg.is_empty() && !pkg.contains('/') => {
                vec![scope, pkg]
            }
            _ => return Err(format!("`{name}` is not a scoped npm name (@scope/name)")),
        }
    } else {
        vec![name]
    };
    for part in parts {
        if part.starts_with('.') || part.starts_with('_') {
            return Err(format!("npm names may not start with `.` or `_`: `{name}`"));
        }
        if part != part.to_ascii_lowercase() {
            return Err(format!("npm names are lowercase: `{name}`"));
        }
        if let Some(c) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
        {
            return Err(format!(
                "npm names are URL-safe (a-z, 0-9, - . _ ~): `{name}` has {c:?}"
            ));
        }
    }
    if matches!(name, "node_modules" | "favicon.ico") {
        return Err(format!("`{name}` is a reserved npm name"));
    }
    Ok(())
}

/// An npm version must be exact: a pin, not a range or a dist-tag.
pub fn validate_npm_version(spec: &str, v: &str) -> Result<String, SourceError> {
    if v.is_empty() {
        return Err(invalid(spec, "the version after @ is empty"));
    }
    if v.len() > VERSION_MAX {
        return Err(invalid(spec, "the version is too long"));
    }
    let v = v.strip_prefix('=').unwrap_or(v);
    match semver::Version::parse(v) {
        Ok(parsed) => Ok(parsed.to_string()),
        Err(e) => {
            if semver::VersionReq::parse(v).is_ok()
                || v.contains(['^', '~', '*', '>', '<', '|', ' '])
            {
                Err(SourceError::VersionRange {
                    spec: shorten(spec),
                    version: v.to_string(),
                    example: "npm:NAME@1.2.3".into(),
                })
            } else {
                Err(invalid(
                    spec,
                    &format!(
                        "`{v}` is not an exact semver version ({e}); dist-tags other than the implied `latest` are not pinned versions"
                    ),
                ))
            }
        }
    }
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_`, `.` become `-`.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// PEP 508 names: ASCII letters and digits, with `-`, `_`, `.` inside.
pub fn validate_pypi_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the PyPI project name is empty".into());
    }
    if name.len() > NPM_NAME_MAX {
        return Err("the PyPI project name is too long".into());
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let first_last_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_last_ok || !name.chars().all(ok_char) {
        return Err(format!(
            "`{name}` is not a PyPI project name (letters, digits, and - _ . inside)"
        ));
    }
    Ok(())
}

/// A PEP 440 version, normalised; only `==` pins are accepted.
pub fn validate_pypi_version(spec: &str, v: &str) -> Result<String, SourceError> {
    if v.is_empty() {
        return Err(invalid(spec, "the version after == is empty"));
    }
    if v.len() > VERSION_MAX {
        return Err(invalid(spec, "the version is too long"));
    }
    if v.contains(['*', ',', '<', '>', '=', '!', '~']) {
        return Err(SourceError::VersionRange {
            spec: shorten(spec),
            version: v.to_string(),
            example: "pypi:NAME==1.2.3".into(),
        });
    }
    pep440_rs::Version::from_str(v)
        .map(|parsed| parsed.to_string())
        .map_err(|e| invalid(spec, &format!("`{v}` is not a PEP 440 version: {e}")))
}

fn parse_pypi(spec: &str, rest: &str) -> Result<Source, SourceError> {
    let name_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(rest.len());
    let (name, tail) = rest.split_at(name_end);
    validate_pypi_name(name).map_err(|r| invalid(spec, &r))?;
    let version = if tail.is_empty() {
        None
    } else if let Some(v) = tail.strip_prefix("==") {
        if v.starts_with('=') {
            // `===` is arbitrary equality: not a version we can compare.
            return Err(SourceError::VersionRange {
                spec: shorten(spec),
                version: tail.to_string(),
                example: "pypi:NAME==1.2.3".into(),
            });
        }
        Some(validate_pypi_version(spec, v)?)
    } else if tail.starts_with(['<', '>', '~', '!', '=', ',', '*']) {
        return Err(SourceError::VersionRange {
            spec: shorten(spec),
            version: tail.to_string(),
            example: "pypi:NAME==1.2.3".into(),
        });
    } else {
        return Err(invalid(
            spec,
            &format!("expected ==VERSION after the project name, found `{tail}`"),
        ));
    };
    Ok(Source::Pypi {
        name: normalize_pypi_name(name),
        version,
    })
}

/// MCP registry server names: `reverse.dns.namespace/name`.
pub fn validate_registry_name(name: &str) -> Result<(), String> {
    if name.len() < 3 || name.len() > REGISTRY_NAME_MAX {
        return Err(format!(
            "MCP registry names are 3 to {REGISTRY_NAME_MAX} characters long"
        ));
    }
    let Some((ns, server)) = name.split_once('/') else {
        return Err(format!(
            "`{name}` is not an MCP registry name (NAMESPACE/NAME, e.g. io.github.owner/server)"
        ));
    };
    let labels: Vec<&str> = ns.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    {
        return Err(format!(
            "`{ns}` is not a reverse-DNS namespace (e.g. io.github.owner)"
        ));
    }
    if server.is_empty()
        || !server
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        || server.starts_with('.')
    {
        return Err(format!(
            "`{server}` is not a server name (letters, digits, . _ -)"
        ));
    }
    Ok(())
}

fn parse_registry(spec: &str, rest: &str) -> Result<Source, SourceError> {
    let (name, version) = match rest.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (rest, None),
    };
    validate_registry_name(name).map_err(|r| invalid(spec, &r))?;
    let version = match version {
        None | Some("latest") => None,
        Some("") => return Err(invalid(spec, "the version after @ is empty")),
        Some(v) if v.len() > VERSION_MAX => return Err(invalid(spec, "the version is too long")),
        Some(v) if v.contains(['^', '~', '*', '>', '<', '|', ',', '=']) => {
            return Err(SourceError::VersionRange {
                spec: shorten(spec),
                version: v.to_string(),
                example: "registry:io.github.owner/server@1.2.3".into(),
            });
        }
        Some(v)
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_')) =>
        {
            return Err(invalid(spec, &format!("`{v}` is not a version")));
        }
        Some(v) => Some(v.to_string()),
    };
    Ok(Source::Registry {
        name: name.to_string(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnose as _;

    fn ok(s: &str) -> Source {
        let parsed: Source = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        let shown = parsed.to_string();
        let again: Source = shown
            .parse()
            .unwrap_or_else(|e| panic!("{s} displayed as {shown} does not parse: {e}"));
        assert_eq!(parsed, again, "{s} does not round-trip through {shown}");
        parsed
    }

    fn err(s: &str) -> SourceError {
        match s.parse::<Source>() {
            Ok(src) => panic!("{s:?} was accepted as {src:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn paths_and_bundles() {
        assert_eq!(ok("./server"), Source::Path("./server".into()));
        assert_eq!(ok("../a/b.bin"), Source::Path("../a/b.bin".into()));
        assert_eq!(ok("/abs/dir"), Source::Path("/abs/dir".into()));
        assert_eq!(ok("file:rel/x"), Source::Path("rel/x".into()));
        assert_eq!(ok("file:rel/x").to_string(), "file:rel/x");
        assert_eq!(ok("./with space/x"), Source::Path("./with space/x".into()));
        assert_eq!(
            ok("./x.mcpb"),
            Source::Mcpb(Location::Path("./x.mcpb".into()))
        );
        assert_eq!(
            ok("file:y.MCPB"),
            Source::Mcpb(Location::Path("y.MCPB".into()))
        );
        assert!(matches!(err("file:"), SourceError::InvalidSpec { .. }));
    }

    #[test]
    fn https_and_http() {
        assert_eq!(
            ok("https://example.com/srv.tar.gz"),
            Source::Https("https://example.com/srv.tar.gz".into())
        );
        assert_eq!(
            ok("https://github.com/o/r/releases/download/v1/x.mcpb"),
            Source::Mcpb(Location::Url(
                "https://github.com/o/r/releases/download/v1/x.mcpb".into()
            ))
        );
        assert!(matches!(
            ok("https://h/x.mcpb?dl=1"),
            Source::Mcpb(Location::Url(_))
        ));
        let e = err("http://example.com/x");
        assert!(matches!(e, SourceError::OnlyHttps { .. }), "{e:?}");
        assert!(e.to_string().contains("only https"), "{e}");
        assert!(matches!(err("https://"), SourceError::InvalidSpec { .. }));
        assert!(matches!(
            err("https://user:pw@host/x"),
            SourceError::InvalidSpec { .. }
        ));
        assert!(matches!(
            err("https://h/a b"),
            SourceError::InvalidSpec { .. }
        ));
    }

    #[test]
    fn npm_forms() {
        assert_eq!(
            ok("npm:sigstore@3.0.0"),
            Source::Npm {
                name: "sigstore".into(),
                version: Some("3.0.0".into())
            }
        );
        assert_eq!(
            ok("npm:@modelcontextprotocol/server-everything@2026.8.31"),
            Source::Npm {
                name: "@modelcontextprotocol/server-everything".into(),
                version: Some("2026.8.31".into())
            }
        );
        assert_eq!(
            ok("npm:@scope/name"),
            Source::Npm {
                name: "@scope/name".into(),
                version: None
            }
        );
        assert_eq!(
            ok("npm:a@1.0.0-rc.1+build.5").to_string(),
            "npm:a@1.0.0-rc.1+build.5"
        );
        for bad in [
            "npm:",
            "npm:Upper",
            "npm:.hidden",
            "npm:_under",
            "npm:@scope",
            "npm:@/x",
            "npm:a/b",
            "npm:a b",
            "npm:x@",
            "npm:x@latest",
            "npm:sp%ce",
        ] {
            assert!(
                matches!(err(bad), SourceError::InvalidSpec { .. }),
                "{bad}: {:?}",
                err(bad)
            );
        }
        let long = format!("npm:{}", "a".repeat(215));
        assert!(matches!(err(&long), SourceError::InvalidSpec { .. }));
        ok(&format!("npm:{}", "a".repeat(214)));
        for range in [
            "npm:x@^1.2.3",
            "npm:x@~1.2.3",
            "npm:x@>=1.0.0",
            "npm:x@1.x",
            "npm:x@*",
            "npm:x@1.0",
        ] {
            let e = err(range);
            assert!(
                matches!(e, SourceError::VersionRange { .. }),
                "{range}: {e:?}"
            );
            assert!(
                e.hint().unwrap().contains("npm:NAME@1.2.3"),
                "{:?}",
                e.hint()
            );
        }
    }

    #[test]
    fn pypi_forms() {
        assert_eq!(
            ok("pypi:SampleProject==4.0.0"),
            Source::Pypi {
                name: "sampleproject".into(),
                version: Some("4.0.0".into())
            }
        );
        assert_eq!(
            ok("pypi:Foo__Bar.baz"),
            Source::Pypi {
                name: "foo-bar-baz".into(),
                version: None
            }
        );
        assert_eq!(ok("pypi:x==1.0.0rc1").to_string(), "pypi:x==1.0.0rc1");
        // Normalised by pep440_rs: `1.0-RC1` is `1.0rc1`.
        assert_eq!(ok("pypi:x==1.0-RC1").to_string(), "pypi:x==1.0rc1");
        for range in [
            "pypi:x>=1.0",
            "pypi:x~=1.0",
            "pypi:x==1.*",
            "pypi:x!=1.0",
            "pypi:x===1.0",
            "pypi:x<2",
            "pypi:x==1.0,<2",
        ] {
            let e = err(range);
            assert!(
                matches!(e, SourceError::VersionRange { .. }),
                "{range}: {e:?}"
            );
            assert!(e.hint().unwrap().contains("pypi:NAME==1.2.3"));
        }
        for bad in [
            "pypi:",
            "pypi:-x",
            "pypi:x-",
            "pypi:x==",
            "pypi:x==abc",
            "pypi:x 1",
            "pypi:x@1.0",
        ] {
            assert!(
                matches!(err(bad), SourceError::InvalidSpec { .. }),
                "{bad}: {:?}",
                err(bad)
            );
        }
    }

    #[test]
    fn registry_forms() {
        assert_eq!(
            ok("registry:io.github.owner/server-name"),
            Source::Registry {
                name: "io.github.owner/server-name".into(),
                version: None
            }
        );
        assert_eq!(
            ok("registry:io.modelcontextprotocol/text-editor@1.0.2"),
            Source::Registry {
                name: "io.modelcontextprotocol/text-editor".into(),
                version: Some("1.0.2".into())
            }
        );
        assert_eq!(
            ok("registry:io.github.a/b@latest"),
            Source::Registry {
                name: "io.github.a/b".into(),
                version: None
            }
        );
        assert_eq!(
            ok("registry:./server.json"),
            Source::ServerJson("./server.json".into())
        );
        assert_eq!(
            ok("registry:file:server.json"),
            Source::ServerJson("server.json".into())
        );
        for bad in [
            "registry:",
            "registry:noslash",
            "registry:single/x",
            "registry:io..x/y",
            "registry:io.x/",
            "registry:io.x/a/b",
            "registry:io.x/y@",
            "registry:io.x/y@1 0",
        ] {
            assert!(
                matches!(err(bad), SourceError::InvalidSpec { .. }),
                "{bad}: {:?}",
                err(bad)
            );
        }
        assert!(matches!(
            err("registry:io.x/y@^1.0.0"),
            SourceError::VersionRange { .. }
        ));
    }

    #[test]
    fn unsupported_lists_every_form() {
        for s in [
            "oci:ghcr.io/x/y:1",
            "docker:mcp/x",
            "git+https://github.com/o/r",
            "ghcr.io/o/r:1",
            "server.bin",
            "ftp://h/x",
        ] {
            let e = err(s);
            assert!(matches!(e, SourceError::Unsupported { .. }), "{s}: {e:?}");
            let text = format!("{e} {}", e.hint().unwrap_or_default());
            for form in [
                "./PATH",
                "file:PATH",
                "https://",
                "npm:",
                "pypi:",
                "registry:",
                ".mcpb",
            ] {
                assert!(text.contains(form), "{s}: `{form}` missing from: {text}");
            }
        }
    }

    #[test]
    fn malformed_input() {
        assert!(matches!(err(""), SourceError::InvalidSpec { .. }));
        assert!(matches!(err(" npm:x"), SourceError::InvalidSpec { .. }));
        assert!(matches!(err("npm:x "), SourceError::InvalidSpec { .. }));
        assert!(matches!(err("npm:x\u{7}"), SourceError::InvalidSpec { .. }));
        assert!(matches!(err("./a\nb"), SourceError::InvalidSpec { .. }));
        assert!(matches!(err("./a\0b"), SourceError::InvalidSpec { .. }));
        let huge = format!("./{}", "a".repeat(MAX_SPEC_LEN));
        let e = err(&huge);
        assert!(matches!(e, SourceError::InvalidSpec { .. }));
        // Errors echo a shortened spec, never the whole input.
        assert!(e.to_string().len() < 400, "{}", e.to_string().len());
    }

    #[test]
    fn pypi_normalisation() {
        assert_eq!(normalize_pypi_name("Foo.Bar_-baz"), "foo-bar-baz");
        assert_eq!(normalize_pypi_name("a"), "a");
    }
}
