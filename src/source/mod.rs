//! Source resolution: turns a source spec (`npm:x@1.2.3`, `pypi:y==2.0`,
//! `registry:io.github.o/s`, a path, an https URL, an `.mcpb` bundle) into
//! where the artifact is, the digests it must have and the attestations
//! published for it. Only metadata is fetched here, through [`Fetch`]; the
//! caller downloads the artifact and checks it against `expected`.

pub mod npm;
pub mod pypi;
pub mod registry;
pub mod spec;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::digest::Digest;
pub use spec::{Location, Source};

/// What a failed metadata fetch says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    pub message: String,
    /// The server answered 404: the thing does not exist (as opposed to
    /// the network or server failing).
    pub not_found: bool,
}

impl FetchError {
    pub fn not_found(message: impl Into<String>) -> Self {
        FetchError {
            message: message.into(),
            not_found: true,
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        FetchError {
            message: message.into(),
            not_found: false,
        }
    }
}

/// Fetches one small document by URL, refusing more than `limit` bytes.
/// The lead implements it for `net::Client`; tests serve fixture files.
pub trait Fetch {
    fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError>;

    /// Fetches a page with an `Accept` header, saying what came back: its
    /// Content-Type and its final URL (after redirects, the base for its
    /// relative links). A fetcher without headers answers as `get_bytes`.
    fn get_page(&self, url: &str, limit: u64, accept: &str) -> Result<Page, FetchError> {
        let _ = accept;
        Ok(Page {
            bytes: self.get_bytes(url, limit)?,
            content_type: None,
            url: url.to_string(),
        })
    }
}

/// A fetched page (see [`Fetch::get_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub url: String,
}

/// Registry base URLs (`--registry`, `--index-url`, `--registry-url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOptions {
    pub npm_registry: String,
    pub pypi_index: String,
    pub mcp_registry: String,
}

pub const DEFAULT_NPM_REGISTRY: &str = "https://registry.npmjs.org";
pub const DEFAULT_PYPI_INDEX: &str = "https://pypi.org";
pub const DEFAULT_MCP_REGISTRY: &str = "https://registry.modelcontextprotocol.io";

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            npm_registry: DEFAULT_NPM_REGISTRY.into(),
            pypi_index: DEFAULT_PYPI_INDEX.into(),
            mcp_registry: DEFAULT_MCP_REGISTRY.into(),
        }
    }
}

pub type ArtifactLocation = Location;

/// As servers.lock spells it: `file`, `npm-tarball`, `wheel`, `sdist`,
/// `mcpb`, `directory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    File,
    NpmTarball,
    Wheel,
    Sdist,
    Mcpb,
    Directory,
}

/// A signed document published for the artifact, as fetched (npm) or
/// converted to a sigstore bundle v0.3 (PyPI), ready for `--bundle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// An environment variable the server reads (MCP registry
/// `environmentVariables`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
    pub secret: bool,
    pub default: Option<String>,
}

/// An argument the user must supply (a positional with only a
/// `valueHint`, or a value with `{placeholders}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgInput {
    /// `runtime` or `package`.
    pub kind: &'static str,
    /// The flag (`--port`) for a named argument.
    pub flag: Option<String>,
    /// What the registry calls the value (`valueHint`, the template).
    pub hint: String,
    pub required: bool,
}

/// An npm `bin` entry: a command name and the script it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinEntry {
    pub name: String,
    pub path: String,
}

/// What `run` needs later to launch the server: no shell strings, only
/// argument vectors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunHints {
    pub env: Vec<EnvVar>,
    /// Arguments for the runtime (`node`, `python`) before the package.
    pub runtime_args: Vec<String>,
    /// Arguments for the server itself.
    pub args: Vec<String>,
    /// Arguments with no fixed value, for the user to fill in.
    pub inputs: Vec<ArgInput>,
    pub bin: Vec<BinEntry>,
    pub main: Option<String>,
    /// npm `engines.node`.
    pub node_engine: Option<String>,
    /// PyPI `requires_python`.
    pub requires_python: Option<String>,
    /// The registry's `runtimeHint` (`npx`, `uvx`, ...), informative.
    pub runtime_hint: Option<String>,
    /// MCP transport (`stdio` is the only one `run` launches).
    pub transport: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The source as asked for.
    pub source: Source,
    /// For a registry source: the package it resolved to.
    pub nested: Option<Source>,
    pub version: Option<String>,
    pub artifact: ArtifactLocation,
    /// Digests the artifact must have; empty when the source publishes
    /// none (a path or a bare https URL).
    pub expected: Vec<Digest>,
    pub kind: ArtifactKind,
    pub attestations: Vec<Attestation>,
    pub run: RunHints,
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("invalid source `{spec}`: {reason}")]
    InvalidSpec { spec: String, reason: String },
    #[error("`{url}`: only https URLs are accepted")]
    OnlyHttps { url: String },
    #[error("unsupported source `{spec}`: the supported forms are {forms}", forms = spec::SUPPORTED_FORMS)]
    Unsupported { spec: String },
    #[error("`{spec}` names a version range (`{version}`), not a version")]
    VersionRange {
        spec: String,
        version: String,
        example: String,
    },
    #[error("{what} not found ({url})")]
    NotFound { what: String, url: String },
    #[error("fetching {url} failed: {message}")]
    Fetch { url: String, message: String },
    #[error("{url}: the document is {len} bytes, more than the {limit}-byte limit")]
    TooLarge { url: String, len: usize, limit: u64 },
    #[error("{url}: not valid JSON of the expected shape: {message}")]
    Json { url: String, message: String },
    #[error("{url}: field `{field}`: {reason}")]
    Field {
        url: String,
        field: String,
        reason: String,
    },
    #[error("{url}: {name}@{version} publishes no sha512 integrity (dist.integrity)")]
    NoIntegrity {
        url: String,
        name: String,
        version: String,
    },
    #[error("{url}: field `{field}` is `{value}`, not an https URL")]
    NotHttps {
        url: String,
        field: String,
        value: String,
    },
    #[error("{url}: {name} {version} has no file to install: {reason}")]
    NoFile {
        url: String,
        name: String,
        version: String,
        reason: String,
    },
    #[error("{origin}: no package that mcp-warden can fetch and launch: {reason}")]
    NoUsablePackage { origin: String, reason: String },
    #[error("{origin}: argument `{value}` needs a shell ({why})")]
    ShellArgument {
        origin: String,
        value: String,
        why: String,
    },
    #[error("{path}: {message}")]
    Local { path: PathBuf, message: String },
}

impl crate::diag::Diagnose for SourceError {
    fn code(&self) -> crate::diag::Code {
        use crate::diag::Code;
        match self {
            SourceError::InvalidSpec { .. }
            | SourceError::Unsupported { .. }
            | SourceError::OnlyHttps { .. }
            | SourceError::VersionRange { .. }
            | SourceError::ShellArgument { .. }
            | SourceError::NoUsablePackage { .. } => Code::SourceInvalid,
            SourceError::NotFound { .. } | SourceError::NoFile { .. } => Code::SourceNotFound,
            SourceError::TooLarge { .. } => Code::ArtifactTooLarge,
            SourceError::Fetch { .. } => Code::FetchFailed,
            SourceError::Json { .. }
            | SourceError::Field { .. }
            | SourceError::NoIntegrity { .. }
            | SourceError::NotHttps { .. } => Code::SourceInvalid,
            SourceError::Local { .. } => Code::ArtifactUnreadable,
        }
    }

    fn hint(&self) -> Option<String> {
        let hint: String = match self {
            SourceError::InvalidSpec { .. } | SourceError::Unsupported { .. } => format!(
                "write the source in one of these forms: {}",
                spec::SUPPORTED_FORMS
            ),
            SourceError::OnlyHttps { .. } => {
                "use the https:// URL of the same file; plain http is never fetched".into()
            }
            SourceError::VersionRange { example, .. } => format!(
                "pin one exact version, e.g. {example}; the lock file records exactly what was verified"
            ),
            SourceError::NotFound { .. } => {
                "check the name and version (and the registry URL option, if set)".into()
            }
            SourceError::Fetch { .. } => {
                "check the network and the registry URL, then try again".into()
            }
            SourceError::TooLarge { .. } => {
                "pin an exact version (its document is small) or fetch the file yourself and add it by path".into()
            }
            SourceError::Json { .. } | SourceError::Field { .. } => {
                "the registry served an unexpected document: check the registry URL, or report it to the registry".into()
            }
            SourceError::NoIntegrity { .. } => {
                "this version cannot be checked against a sha512 digest (a sha1 shasum is not enough); pick a newer version or add a file you checked by path".into()
            }
            SourceError::NotHttps { .. } => {
                "the registry must serve https URLs; check the registry URL option".into()
            }
            SourceError::NoFile { .. } => {
                "pin a version that has a wheel for this platform (a yanked file is used only when pinned with ==); sdists are not built, as building one runs the package's code".into()
            }
            SourceError::NoUsablePackage { .. } => {
                "add the server from an npm, PyPI or .mcpb source directly, or ask its publisher to list one in server.json".into()
            }
            SourceError::ShellArgument { .. } => {
                "mcp-warden passes arguments without a shell; set the value yourself in the policy's [servers.run] or ask the publisher to fix server.json".into()
            }
            SourceError::Local { .. } => "check the path".into(),
        };
        Some(hint)
    }
}

/// Resolves `source` from its metadata. Nothing but metadata documents is
/// fetched, each under a size limit.
pub fn resolve(
    source: &Source,
    fetch: &dyn Fetch,
    opts: &ResolveOptions,
) -> Result<Resolved, SourceError> {
    match source {
        Source::Path(p) => resolve_path(source, p),
        Source::Https(url) => {
            spec::validate_https(url)?;
            Ok(bare(source, Location::Url(url.clone()), ArtifactKind::File))
        }
        Source::Mcpb(Location::Url(url)) => {
            spec::validate_https(url)?;
            let mut r = bare(source, Location::Url(url.clone()), ArtifactKind::Mcpb);
            r.notes.push(
                "no digest is published for a bare .mcpb URL: its signature is the check".into(),
            );
            Ok(r)
        }
        Source::Mcpb(Location::Path(p)) => {
            let mut r = resolve_path(source, p)?;
            r.kind = ArtifactKind::Mcpb;
            Ok(r)
        }
        Source::Npm { name, version } => {
            npm::resolve(name, version.as_deref(), fetch, &opts.npm_registry)
        }
        Source::Pypi { name, version } => {
            pypi::resolve(name, version.as_deref(), fetch, &opts.pypi_index)
        }
        Source::Registry { .. } | Source::ServerJson(_) => registry::resolve(source, fetch, opts),
    }
}

fn bare(source: &Source, artifact: Location, kind: ArtifactKind) -> Resolved {
    Resolved {
        source: source.clone(),
        nested: None,
        version: None,
        artifact,
        expected: Vec::new(),
        kind,
        attestations: Vec::new(),
        run: RunHints::default(),
        notes: Vec::new(),
    }
}

fn resolve_path(source: &Source, p: &Path) -> Result<Resolved, SourceError> {
    let meta = std::fs::metadata(p).map_err(|e| SourceError::Local {
        path: p.to_path_buf(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "no such file or directory".into()
        } else {
            e.to_string()
        },
    })?;
    let kind = if meta.is_dir() {
        ArtifactKind::Directory
    } else if meta.is_file() {
        ArtifactKind::File
    } else {
        return Err(SourceError::Local {
            path: p.to_path_buf(),
            message: "neither a regular file nor a directory".into(),
        });
    };
    Ok(bare(source, Location::Path(p.to_path_buf()), kind))
}

/// Fetches `url` with `limit`, mapping a 404 to `NotFound { what }`.
pub(crate) fn fetch_doc(
    fetch: &dyn Fetch,
    url: &str,
    limit: u64,
    what: impl FnOnce() -> String,
) -> Result<Vec<u8>, SourceError> {
    let bytes = fetch.get_bytes(url, limit).map_err(|e| {
        if e.not_found {
            SourceError::NotFound {
                what: what(),
                url: url.to_string(),
            }
        } else {
            SourceError::Fetch {
                url: url.to_string(),
                message: e.message,
            }
        }
    })?;
    // The limit is the fetcher's to enforce; checked again so that a
    // fetcher that ignores it cannot make us parse more.
    if bytes.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            url: url.to_string(),
            len: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

/// Parses a bounded document; serde_json's recursion limit bounds depth.
pub(crate) fn parse_json<T: DeserializeOwned>(url: &str, bytes: &[u8]) -> Result<T, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::Json {
        url: url.to_string(),
        message: e.to_string(),
    })
}

/// Trims trailing slashes from a base URL and checks it is https.
pub(crate) fn base_url(base: &str) -> Result<&str, SourceError> {
    let b = base.trim_end_matches('/');
    spec::validate_https(b)?;
    Ok(b)
}

/// Percent-encodes one URL path segment (RFC 3986 unreserved kept).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A stand-in for the network: fixture files served by URL.
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::{Fetch, FetchError};

    pub fn fixture(rel: &str) -> Vec<u8> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/sources")
            .join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[derive(Default)]
    pub struct MapFetch {
        pub docs: HashMap<String, Vec<u8>>,
        pub errors: HashMap<String, FetchError>,
        pub requested: Mutex<Vec<(String, u64)>>,
    }

    impl MapFetch {
        pub fn new() -> Self {
            Self::default()
        }

        pub fn serve(mut self, url: &str, bytes: Vec<u8>) -> Self {
            self.docs.insert(url.to_string(), bytes);
            self
        }

        pub fn fixture(self, url: &str, rel: &str) -> Self {
            self.serve(url, fixture(rel))
        }

        pub fn fail(mut self, url: &str, e: FetchError) -> Self {
            self.errors.insert(url.to_string(), e);
            self
        }

        pub fn urls(&self) -> Vec<String> {
            self.requested
                .lock()
                .map(|r| r.iter().map(|(u, _)| u.clone()).collect())
                .unwrap_or_default()
        }

        pub fn limit_for(&self, url: &str) -> Option<u64> {
            self.requested
                .lock()
                .ok()
                .and_then(|r| r.iter().find(|(u, _)| u == url).map(|(_, l)| *l))
        }
    }

    impl Fetch for MapFetch {
        fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
            if let Ok(mut r) = self.requested.lock() {
                r.push((url.to_string(), limit));
            }
            if let Some(e) = self.errors.get(url) {
                return Err(e.clone());
            }
            match self.docs.get(url) {
                Some(b) if b.len() as u64 > limit => {
                    Err(FetchError::other(format!("more than {limit} bytes")))
                }
                Some(b) => Ok(b.clone()),
                None => Err(FetchError::not_found(format!("404 for {url}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn local_paths_resolve_to_file_directory_or_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("server.bin");
        std::fs::write(&f, b"x").unwrap();
        let b = dir.path().join("x.mcpb");
        std::fs::write(&b, b"PK").unwrap();
        let opts = ResolveOptions::default();
        let fetch = MapFetch::new();
        let r = resolve(&Source::Path(f.clone()), &fetch, &opts).unwrap();
        assert_eq!(r.kind, ArtifactKind::File);
        assert_eq!(r.artifact, Location::Path(f));
        let r = resolve(&Source::Path(dir.path().into()), &fetch, &opts).unwrap();
        assert_eq!(r.kind, ArtifactKind::Directory);
        let r = resolve(&Source::Mcpb(Location::Path(b)), &fetch, &opts).unwrap();
        assert_eq!(r.kind, ArtifactKind::Mcpb);
        let e = resolve(&Source::Path(dir.path().join("missing")), &fetch, &opts).unwrap_err();
        assert!(matches!(e, SourceError::Local { .. }), "{e:?}");
        assert!(fetch.urls().is_empty(), "a path fetches nothing");
    }

    #[test]
    fn https_sources_fetch_nothing_and_expect_no_digest() {
        let fetch = MapFetch::new();
        let src: Source = "https://example.com/dl/server.mcpb".parse().unwrap();
        let r = resolve(&src, &fetch, &ResolveOptions::default()).unwrap();
        assert_eq!(r.kind, ArtifactKind::Mcpb);
        assert!(r.expected.is_empty());
        assert!(fetch.urls().is_empty());
        let e = resolve(
            &Source::Https("http://example.com/x".into()),
            &fetch,
            &ResolveOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, SourceError::OnlyHttps { .. }));
    }

    #[test]
    fn a_fetcher_that_ignores_the_limit_is_caught() {
        struct Liar;
        impl Fetch for Liar {
            fn get_bytes(&self, _: &str, _: u64) -> Result<Vec<u8>, FetchError> {
                Ok(vec![b' '; 100])
            }
        }
        let e = fetch_doc(&Liar, "https://x/y", 10, || "doc".into()).unwrap_err();
        assert!(
            matches!(
                e,
                SourceError::TooLarge {
                    len: 100,
                    limit: 10,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("@scope/name"), "%40scope%2Fname");
        assert_eq!(encode_segment("io.github.o/s-1"), "io.github.o%2Fs-1");
        assert_eq!(encode_segment("1.0.0+b"), "1.0.0%2Bb");
    }
}

#[cfg(test)]
mod diagnose_tests {
    use super::*;
    use crate::diag::{Code, Diagnose, EXIT_INPUT};

    #[test]
    fn source_errors_report_their_code_and_hint() {
        let e = SourceError::NotFound {
            what: "npm package x".into(),
            url: "https://registry.npmjs.org/x".into(),
        };
        assert_eq!(e.code(), Code::SourceNotFound);
        assert!(Diagnose::hint(&e).is_some());
        assert_eq!(e.exit(), EXIT_INPUT);
        let e = SourceError::Local {
            path: "/nowhere".into(),
            message: "gone".into(),
        };
        assert_eq!(e.code(), Code::ArtifactUnreadable);
    }
}
