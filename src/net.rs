//! HTTPS client for server artifacts and registry metadata.
//!
//! `reqwest`'s blocking client on rustls (crypto from aws-lc-rs, which
//! sigstore-verify already links), never OpenSSL. Certificates are checked
//! by `rustls-platform-verifier`, the verifier reqwest 0.13 uses for its
//! `rustls` feature: it trusts what the operating system trusts (the
//! system CA bundle on Linux, the keychain on macOS, the Windows store),
//! so a corporate CA installed by IT works without flags and OS-level
//! distrust applies, where a compiled-in webpki-roots list would go stale
//! with the binary. On Linux the system bundle is read when the client is
//! built (`SSL_CERT_FILE` and `SSL_CERT_DIR` override where from); with no
//! system roots and no extra CA file, building fails with
//! [`NetError::Setup`]. CA files from [`Options::ca_files`] and
//! `MCP_WARDEN_CA_FILE` are added to those roots, not put in their place.
//!
//! What is enforced, whatever the server does:
//! - https only, for the first URL and every redirect (at most
//!   [`MAX_REDIRECTS`]); the refusal happens before any connection;
//! - a connect timeout and a read timeout; the read timeout bounds the wait
//!   for the response headers and then every single read of the body, so a
//!   stalled server fails with [`NetError::Timeout`];
//! - a deadline for the download as a whole ([`Options::deadline`]), from
//!   the request to the last byte, so a server that drips bytes just often
//!   enough to beat the read timeout still ends ([`NetError::Deadline`]). A
//!   blocked read cannot be interrupted, so the deadline is checked each
//!   time a read returns: a download ends at most one read timeout after it;
//! - a minimum average rate ([`Options::min_rate`]): once the body has
//!   flowed for one window, a window whose average falls below the rate
//!   stops the download ([`NetError::TooSlow`]); the first window is the
//!   grace period for a slow start;
//! - a size limit, against Content-Length before the body is read and
//!   again while streaming, so a lying or missing Content-Length stops at
//!   the limit;
//! - a body shorter than its Content-Length is [`NetError::Truncated`].
//!
//! Proxies come from the environment as reqwest reads them (curl's rules):
//! `HTTPS_PROXY`, else `ALL_PROXY` (lowercase forms too), except for hosts
//! in `NO_PROXY`; `HTTP_PROXY` only applies to http:// URLs, which are never
//! fetched. An https URL through a proxy is tunnelled with CONNECT, so TLS
//! still runs end to end with the origin and the proxy sees no bytes in
//! clear. reqwest's `system-proxy` feature (macOS and Windows proxy
//! settings) is off, so only the environment counts.
//! Responses are not decompressed (no gzip feature), so the bytes read are
//! the bytes the digests are computed over.

use std::error::Error as StdError;
use std::ffi::OsStr;
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Environment variable naming extra CA certificate files (PEM), several
/// separated like `PATH` entries.
pub const ENV_CA_FILE: &str = "MCP_WARDEN_CA_FILE";

/// Redirects followed per request before giving up.
pub const MAX_REDIRECTS: usize = 10;

/// A CA bundle larger than this is not a CA bundle (the Mozilla bundle is
/// about 220 KiB).
const CA_FILE_LIMIT: u64 = 8 * 1024 * 1024;

const USER_AGENT: &str = concat!("mcp-warden/", env!("CARGO_PKG_VERSION"));

/// The slowest a download may go: `bytes_per_sec` on average over each
/// `window` of the body (the first window is the grace period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    pub bytes_per_sec: u64,
    pub window: Duration,
}

impl Default for MinRate {
    fn default() -> Self {
        MinRate {
            bytes_per_sec: 1024,
            window: Duration::from_secs(30),
        }
    }
}

/// How the client connects; `Default` gives 10 s to connect, 30 s per read,
/// 10 minutes per download and at least 1 KiB/s over each 30 s.
#[derive(Debug, Clone)]
pub struct Options {
    /// Extra trusted CA certificates (PEM files, each possibly holding
    /// several), added to the platform's roots.
    pub ca_files: Vec<PathBuf>,
    /// Limit on establishing the TCP connection.
    pub connect_timeout: Duration,
    /// Limit on waiting for the response headers (connection, TLS and
    /// redirects included, so it also caps `connect_timeout`), and on each
    /// read of the body: an idle timeout, not a total one.
    pub read_timeout: Duration,
    /// Limit on one download as a whole, from the request to the last
    /// byte of the body; `None` for none.
    pub deadline: Option<Duration>,
    /// The slowest average rate a body may come in at; `None` for any.
    pub min_rate: Option<MinRate>,
    /// Show a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ca_files: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            deadline: Some(Duration::from_secs(600)),
            min_rate: Some(MinRate::default()),
            progress: false,
        }
    }
}

/// Network errors; each message names the URL (credentials removed) or
/// the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("refusing to fetch {url}: only https:// URLs are fetched")]
    NotHttps { url: String },
    #[error("invalid URL {url}: {message}")]
    InvalidUrl { url: String, message: String },
    #[error("refusing redirect from {from} to {to}: only https:// URLs are fetched")]
    InsecureRedirect { from: String, to: String },
    #[error("too many redirects (more than {MAX_REDIRECTS}) fetching {url}")]
    TooManyRedirects { url: String },
    #[error("timed out fetching {url}")]
    Timeout { url: String },
    #[error("fetching {url} took longer than the deadline of {secs} s")]
    Deadline { url: String, secs: u64 },
    #[error(
        "{url} came in at {rate} bytes/s over the last {window} s, below the minimum of {min} bytes/s"
    )]
    TooSlow {
        url: String,
        rate: u64,
        min: u64,
        window: u64,
    },
    #[error("{url} is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("download of {url} truncated: got {got} of {expected} bytes")]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error("{url}: HTTP {code}{}", status_words(*.code))]
    Status { url: String, code: u16 },
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("TLS failure with {url}: {message}")]
    Tls { url: String, message: String },
    #[error("request to {url} failed: {message}")]
    Request { url: String, message: String },
    #[error("reading the response from {url} failed: {message}")]
    Body { url: String, message: String },
    #[error("CA file {}: {message}", path.display())]
    CaFile { path: PathBuf, message: String },
    #[error("cannot set up the HTTPS client: {message}")]
    Setup { message: String },
    #[error("network I/O failed: {0}")]
    Io(#[source] io::Error),
}

impl crate::diag::Diagnose for NetError {
    fn code(&self) -> crate::diag::Code {
        use crate::diag::Code;
        match self {
            NetError::TooLarge { .. } => Code::ArtifactTooLarge,
            NetError::Status { code: 404, .. } => Code::SourceNotFound,
            NetError::CaFile { .. } => Code::InputInvalid,
            _ => Code::FetchFailed,
        }
    }

    fn hint(&self) -> Option<String> {
        let hint: &'static str = match self {
            NetError::NotHttps { .. } | NetError::InsecureRedirect { .. } => {
                "use an https:// URL; plain http is never fetched, as anyone on the path could change the bytes"
            }
            NetError::InvalidUrl { .. } => "check the URL",
            NetError::TooManyRedirects { .. } => "the server redirects in a loop; check the URL",
            NetError::Timeout { .. } => {
                "the server stopped answering; retry later, or check the network and proxy settings (HTTPS_PROXY, NO_PROXY)"
            }
            NetError::Deadline { .. } => {
                "raise --timeout SECS (the limit on one whole download) for a large artifact on a slow link, or retry later"
            }
            NetError::TooSlow { .. } => {
                "the server or the network is too slow; retry later, or lower --min-rate (0 turns the check off) or lengthen --min-rate-window"
            }
            NetError::TooLarge { .. } => {
                "the file is larger than allowed; check that the URL names the intended artifact"
            }
            NetError::Truncated { .. } => "the connection closed early; retry the download",
            NetError::Status {
                code: 404 | 410, ..
            } => "check the URL, name and version; the server has no such file",
            NetError::Status {
                code: 401 | 403, ..
            } => "the server refused access; private registries are not supported yet",
            NetError::Status { code, .. } if *code >= 500 => "the server failed; retry later",
            NetError::Status { .. } => return None,
            NetError::Connect { .. } | NetError::Request { .. } | NetError::Body { .. } => {
                "check the network connection and proxy settings (HTTPS_PROXY, NO_PROXY)"
            }
            NetError::Tls { .. } => {
                "the server's certificate is not trusted; if a private CA signs it (a company proxy, a mirror), pass --ca-file or set MCP_WARDEN_CA_FILE to its PEM file"
            }
            NetError::CaFile { .. } => {
                "give a readable PEM file with one or more -----BEGIN CERTIFICATE----- blocks"
            }
            NetError::Setup { .. } => {
                "if no CA certificates were loaded from the system, install its CA bundle (the ca-certificates package) or point SSL_CERT_FILE or MCP_WARDEN_CA_FILE at a PEM bundle"
            }
            NetError::Io(_) => return None,
        };
        Some(hint.to_string())
    }
}

fn status_words(code: u16) -> String {
    match code {
        404 => " (not found)".to_owned(),
        410 => " (gone)".to_owned(),
        _ => reqwest::StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
    }
}

impl NetError {
    /// The `NetError` inside an I/O error returned by [`Download`]'s `read`.
    pub fn from_io(err: &io::Error) -> Option<&NetError> {
        err.get_ref()?.downcast_ref::<NetError>()
    }

    fn into_io(self) -> io::Error {
        let kind = match self {
            NetError::Timeout { .. } | NetError::Deadline { .. } | NetError::TooSlow { .. } => {
                io::ErrorKind::TimedOut
            }
            NetError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// A copy; an `Io` error is copied as its kind and message.
impl Clone for NetError {
    fn clone(&self) -> Self {
        use NetError::*;
        match self {
            NotHttps { url } => NotHttps { url: url.clone() },
            InvalidUrl { url, message } => InvalidUrl {
                url: url.clone(),
                message: message.clone(),
            },
            InsecureRedirect { from, to } => InsecureRedirect {
                from: from.clone(),
                to: to.clone(),
            },
            TooManyRedirects { url } => TooManyRedirects { url: url.clone() },
            Timeout { url } => Timeout { url: url.clone() },
            Deadline { url, secs } => Deadline {
                url: url.clone(),
                secs: *secs,
            },
            TooSlow {
                url,
                rate,
                min,
                window,
            } => TooSlow {
                url: url.clone(),
                rate: *rate,
                min: *min,
                window: *window,
            },
            TooLarge { url, limit } => TooLarge {
                url: url.clone(),
                limit: *limit,
            },
            Truncated { url, got, expected } => Truncated {
                url: url.clone(),
                got: *got,
                expected: *expected,
            },
            Status { url, code } => Status {
                url: url.clone(),
                code: *code,
            },
            Connect { url, message } => Connect {
                url: url.clone(),
                message: message.clone(),
            },
            Tls { url, message } => Tls {
                url: url.clone(),
                message: message.clone(),
            },
            Request { url, message } => Request {
                url: url.clone(),
                message: message.clone(),
            },
            Body { url, message } => Body {
                url: url.clone(),
                message: message.clone(),
            },
            CaFile { path, message } => CaFile {
                path: path.clone(),
                message: message.clone(),
            },
            Setup { message } => Setup {
                message: message.clone(),
            },
            Io(e) => Io(io::Error::new(e.kind(), e.to_string())),
        }
    }
}

/// Unwraps the `NetError` a [`Download`] read put in the I/O error, so `?`
/// keeps the precise variant.
impl From<io::Error> for NetError {
    fn from(err: io::Error) -> Self {
        if NetError::from_io(&err).is_none() {
            return NetError::Io(err);
        }
        match err.into_inner().map(|inner| inner.downcast::<NetError>()) {
            Some(Ok(net)) => *net,
            // Unreachable after the check above; keep a message anyway.
            Some(Err(other)) => NetError::Io(io::Error::other(other)),
            None => NetError::Io(io::Error::other("I/O error")),
        }
    }
}

/// The extra CA files named by the value of `MCP_WARDEN_CA_FILE`: paths
/// separated like `PATH` entries, empty entries ignored. Takes the value so
/// that it can be tested without touching the process environment.
pub fn env_ca_files(value: Option<&OsStr>) -> Vec<PathBuf> {
    match value {
        Some(v) if !v.is_empty() => std::env::split_paths(v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads a PEM file of one or more CA certificates; each must parse as a
/// trust anchor, and at least one must be there.
pub fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, NetError> {
    let ca_err = |message: String| NetError::CaFile {
        path: path.to_path_buf(),
        message,
    };
    let pem = crate::fsutil::read_bounded(path, CA_FILE_LIMIT).map_err(|e| {
        // ReadError names the path; CaFile does too.
        let text = e.to_string();
        let prefix = format!("{}: ", path.display());
        ca_err(text.strip_prefix(&prefix).unwrap_or(&text).to_owned())
    })?;
    let mut certs = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let n = i + 1;
        let der = item.map_err(|e| ca_err(format!("certificate {n}: {}", pem_problem(&e))))?;
        // The platform verifier skips certificates it cannot parse; check
        // here so that a broken file is an error, not a silent no-op.
        rustls::RootCertStore::empty()
            .add(der.clone())
            .map_err(|e| {
                let why = match e {
                    rustls::Error::InvalidCertificate(c) => format!("{c:?}"),
                    other => other.to_string(),
                };
                ca_err(format!(
                    "certificate {n} is not a usable CA certificate ({why})"
                ))
            })?;
        certs.push(
            reqwest::Certificate::from_der(der.as_ref())
                .map_err(|e| ca_err(format!("certificate {n}: {e}")))?,
        );
    }
    if certs.is_empty() {
        return Err(ca_err(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found".to_owned(),
        ));
    }
    Ok(certs)
}

/// A PEM syntax error in words (pki-types prints the offending lines as
/// byte arrays).
fn pem_problem(err: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match err {
        E::MissingSectionEnd { .. } => {
            "no -----END CERTIFICATE----- line (is the file cut short?)".to_owned()
        }
        E::IllegalSectionStart { .. } => "malformed -----BEGIN line".to_owned(),
        E::Base64Decode(e) => format!("invalid base64 ({e})"),
        other => other.to_string(),
    }
}

/// Why the redirect policy stopped; found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
enum RedirectRefused {
    #[error("redirect from {from} to a non-https URL {to}")]
    Insecure { from: String, to: String },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
}

fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        // `previous` holds the first URL and every redirect target so far.
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(RedirectRefused::TooMany);
        }
        if attempt.url().scheme() != "https" {
            let from = attempt.previous().last().map(shown).unwrap_or_default();
            let to = shown(attempt.url());
            return attempt.error(RedirectRefused::Insecure { from, to });
        }
        attempt.follow()
    })
}

/// A URL as shown in messages: without user name or password.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    if !url.username().is_empty() || url.password().is_some() {
        // Only fails for URLs that cannot have credentials anyway.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    url.to_string()
}

/// Parses `url` and refuses anything but https, before any connection.
fn parse_https(url: &str) -> Result<Url, NetError> {
    let parsed = Url::parse(url).map_err(|e| NetError::InvalidUrl {
        url: url.to_owned(),
        message: e.to_string(),
    })?;
    if parsed.scheme() != "https" {
        return Err(NetError::NotHttps {
            url: shown(&parsed),
        });
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(NetError::InvalidUrl {
            url: shown(&parsed),
            message: "no host".to_owned(),
        });
    }
    Ok(parsed)
}

/// Every error in the chain, looking inside `io::Error`s too (whose
/// `source()` skips the error they wrap).
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        if out.len() > 32 {
            break;
        }
        out.push(e);
        next = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    chain(err).into_iter().find_map(|e| e.downcast_ref::<T>())
}

fn is_timeout(err: &(dyn StdError + 'static)) -> bool {
    chain(err).into_iter().any(|e| {
        e.downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
            || e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
    })
}

/// The causes below reqwest's own message (which repeats the URL), joined.
fn causes(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(err).into_iter().skip(1) {
        if e.downcast_ref::<reqwest::Error>().is_some() {
            continue;
        }
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

fn map_send_error(err: &reqwest::Error, first: &str) -> NetError {
    let url = err.url().map(shown).unwrap_or_else(|| first.to_owned());
    match find::<RedirectRefused>(err) {
        Some(RedirectRefused::Insecure { from, to }) => {
            return NetError::InsecureRedirect {
                from: from.clone(),
                to: to.clone(),
            };
        }
        Some(RedirectRefused::TooMany) => {
            return NetError::TooManyRedirects {
                url: first.to_owned(),
            };
        }
        None => {}
    }
    if is_timeout(err) {
        return NetError::Timeout { url };
    }
    if let Some(tls) = find::<rustls::Error>(err) {
        return NetError::Tls {
            url,
            message: tls.to_string(),
        };
    }
    if err.is_redirect() {
        return NetError::TooManyRedirects {
            url: first.to_owned(),
        };
    }
    if err.is_connect() {
        return NetError::Connect {
            url,
            message: causes(err),
        };
    }
    NetError::Request {
        url,
        message: causes(err),
    }
}

/// An HTTPS client; cheap to share by reference, one per command run.
#[derive(Debug)]
pub struct Client {
    inner: reqwest::blocking::Client,
    progress: bool,
    deadline: Option<Duration>,
    min_rate: Option<MinRate>,
}

impl Client {
    /// The same client without a progress bar: for many downloads at once,
    /// whose bars would overwrite each other.
    pub fn without_progress(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            progress: false,
            deadline: self.deadline,
            min_rate: self.min_rate,
        }
    }
    /// Builds a client; CA files from `opts` and from `MCP_WARDEN_CA_FILE`
    /// are read now, so a bad file fails before any download.
    pub fn new(opts: &Options) -> Result<Client, NetError> {
        let env = std::env::var_os(ENV_CA_FILE);
        Client::with_env_ca(opts, env.as_deref())
    }

    /// Like [`Client::new`], with the value of `MCP_WARDEN_CA_FILE` given.
    pub fn with_env_ca(opts: &Options, env_ca: Option<&OsStr>) -> Result<Client, NetError> {
        let mut certs = Vec::new();
        for path in opts.ca_files.iter().cloned().chain(env_ca_files(env_ca)) {
            certs.extend(load_ca_file(&path)?);
        }
        let mut builder = reqwest::blocking::Client::builder()
            .user_agent(USER_AGENT)
            .https_only(true)
            .redirect(redirect_policy())
            .referer(false)
            .connect_timeout(opts.connect_timeout)
            // The blocking client applies this to the wait for the headers
            // and to each body read: an idle timeout, not a total one.
            .timeout(opts.read_timeout);
        if !certs.is_empty() {
            builder = builder.tls_certs_merge(certs);
        }
        let inner = builder.build().map_err(|e| NetError::Setup {
            message: causes(&e),
        })?;
        Ok(Client {
            inner,
            progress: opts.progress,
            deadline: opts.deadline,
            min_rate: opts.min_rate.filter(|m| m.bytes_per_sec > 0),
        })
    }

    /// Starts a download: follows redirects, checks the status and refuses
    /// a Content-Length above `limit` before reading the body.
    pub fn get(&self, url: &str, limit: u64) -> Result<Download, NetError> {
        self.get_accepting(url, limit, None)
    }

    /// As [`Client::get`], with an `Accept` header (content negotiation,
    /// e.g. the PEP 691 simple API).
    pub fn get_accepting(
        &self,
        url: &str,
        limit: u64,
        accept: Option<&str>,
    ) -> Result<Download, NetError> {
        let parsed = parse_https(url)?;
        let first = shown(&parsed);
        tracing::debug!(url = %first, limit, "GET");
        let started = Instant::now();
        let mut req = self.inner.get(parsed);
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        let resp = req.send().map_err(|e| map_send_error(&e, &first))?;
        let final_url = shown(resp.url());
        if let Some(d) = self.deadline
            && started.elapsed() > d
        {
            return Err(NetError::Deadline {
                url: final_url,
                secs: d.as_secs(),
            });
        }
        let status = resp.status();
        if !status.is_success() {
            return Err(NetError::Status {
                url: final_url,
                code: status.as_u16(),
            });
        }
        let expected = resp.content_length();
        if expected.is_some_and(|len| len > limit) {
            return Err(NetError::TooLarge {
                url: final_url,
                limit,
            });
        }
        let bar = (self.progress && io::stderr().is_terminal())
            .then(|| progress_bar(expected, &final_url));
        Ok(Download {
            resp,
            url: final_url,
            expected,
            limit,
            got: 0,
            bar,
            done: false,
            failed: None,
            started,
            deadline: self.deadline,
            min_rate: self.min_rate,
            window: (Instant::now(), 0),
        })
    }

    /// Fetches a small document (JSON metadata) whole.
    pub fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, NetError> {
        let mut download = self.get(url, limit)?;
        let cap = download
            .content_length()
            .unwrap_or(0)
            .min(limit)
            .min(1 << 20);
        let mut buf = Vec::with_capacity(cap as usize);
        download.read_to_end(&mut buf)?;
        Ok(buf)
    }
}

fn progress_bar(len: Option<u64>, url: &str) -> ProgressBar {
    let name = url
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(url)
        .to_owned();
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
    } else {
        "{msg} {spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::default_bar().template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(name);
    bar
}

/// A response body being streamed. `read` fails with an `io::Error`
/// wrapping a [`NetError`] (see [`NetError::from_io`]) when the body passes
/// the limit, ends before its Content-Length, or stalls.
pub struct Download {
    resp: reqwest::blocking::Response,
    url: String,
    expected: Option<u64>,
    limit: u64,
    got: u64,
    bar: Option<ProgressBar>,
    /// Set at the end of the body: later reads return 0.
    done: bool,
    /// Set by the first failed read: later reads fail the same way, so a
    /// caller that retries never sees a short body end cleanly.
    failed: Option<NetError>,
    /// When the request was sent, for the deadline.
    started: Instant,
    deadline: Option<Duration>,
    min_rate: Option<MinRate>,
    /// The start of the current rate window and the bytes read by then.
    window: (Instant, u64),
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("url", &self.url)
            .field("content_length", &self.expected)
            .field("limit", &self.limit)
            .field("bytes_read", &self.got)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// The Content-Length the server announced.
    pub fn content_length(&self) -> Option<u64> {
        self.expected
    }

    /// The response's Content-Type, if it is printable text.
    pub fn content_type(&self) -> Option<String> {
        self.resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The final URL, after redirects (credentials removed).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.got
    }

    fn fail(&mut self, err: NetError) -> io::Error {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
        self.failed = Some(err.clone());
        err.into_io()
    }

    /// The deadline and the minimum rate, checked each time a read returns
    /// (a read blocks for at most the read timeout).
    fn pace(&mut self) -> Option<NetError> {
        let now = Instant::now();
        if let Some(d) = self.deadline
            && now.duration_since(self.started) > d
        {
            return Some(NetError::Deadline {
                url: self.url.clone(),
                secs: d.as_secs(),
            });
        }
        if let Some(m) = self.min_rate {
            let (since, at) = self.window;
            let span = now.duration_since(since);
            if span >= m.window {
                let rate = (self.got - at) as f64 / span.as_secs_f64();
                if rate < m.bytes_per_sec as f64 {
                    return Some(NetError::TooSlow {
                        url: self.url.clone(),
                        rate: rate as u64,
                        min: m.bytes_per_sec,
                        window: m.window.as_secs(),
                    });
                }
                self.window = (now, self.got);
            }
        }
        None
    }

    fn classify(&mut self, err: io::Error) -> NetError {
        // A read that timed out past the deadline reports the deadline.
        if let Some(late @ NetError::Deadline { .. }) = self.pace() {
            return late;
        }
        if is_timeout(&err) {
            return NetError::Timeout {
                url: self.url.clone(),
            };
        }
        // hyper reports a body cut short of its Content-Length as an
        // incomplete message; any failure before that length is reached
        // is a truncated download for the caller.
        if let Some(expected) = self.expected
            && self.got < expected
        {
            tracing::debug!(url = %self.url, error = %causes(&err), "body ended early");
            return NetError::Truncated {
                url: self.url.clone(),
                got: self.got,
                expected,
            };
        }
        NetError::Body {
            url: self.url.clone(),
            message: causes(&err),
        }
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = &self.failed {
            return Err(err.clone().into_io());
        }
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        // Ask for at most one byte past the limit: enough to see that the
        // body is too large without reading more of it.
        let room = self.limit.saturating_sub(self.got).saturating_add(1);
        let want = usize::try_from(room).map_or(buf.len(), |r| r.min(buf.len()));
        match self.resp.read(&mut buf[..want]) {
            Ok(0) => {
                if let Some(expected) = self.expected
                    && self.got < expected
                {
                    let err = NetError::Truncated {
                        url: self.url.clone(),
                        got: self.got,
                        expected,
                    };
                    return Err(self.fail(err));
                }
                self.done = true;
                if let Some(bar) = self.bar.take() {
                    bar.finish();
                }
                Ok(0)
            }
            Ok(n) => {
                self.got += n as u64;
                if self.got > self.limit {
                    let err = NetError::TooLarge {
                        url: self.url.clone(),
                        limit: self.limit,
                    };
                    return Err(self.fail(err));
                }
                if let Some(err) = self.pace() {
                    return Err(self.fail(err));
                }
                if let Some(bar) = &self.bar {
                    bar.inc(n as u64);
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let err = self.classify(e);
                Err(self.fail(err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_https_before_connecting() {
        let client = Client::with_env_ca(&Options::default(), None).unwrap();
        for url in [
            "http://127.0.0.1:9/x",
            "ftp://example.com/x",
            "file:///etc/passwd",
        ] {
            let err = client.get(url, 10).unwrap_err();
            assert!(matches!(err, NetError::NotHttps { .. }), "{url}: {err}");
            assert!(err.to_string().contains("only https"), "{err}");
        }
        let err = client.get("not a url", 10).unwrap_err();
        assert!(matches!(err, NetError::InvalidUrl { .. }), "{err}");
    }

    #[test]
    fn credentials_are_not_shown() {
        let url = Url::parse("https://user:secret@example.com/a").unwrap();
        assert_eq!(shown(&url), "https://example.com/a");
        let err = parse_https("http://user:secret@example.com/a").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn env_value_is_split_like_path() {
        assert!(env_ca_files(None).is_empty());
        assert!(env_ca_files(Some(OsStr::new(""))).is_empty());
        let sep = if cfg!(windows) { ";" } else { ":" };
        let v = format!("/a/ca.pem{sep}{sep}/b/ca.pem");
        assert_eq!(
            env_ca_files(Some(OsStr::new(&v))),
            vec![PathBuf::from("/a/ca.pem"), PathBuf::from("/b/ca.pem")]
        );
    }

    #[test]
    fn status_messages() {
        let e = NetError::Status {
            url: "https://x/y".into(),
            code: 404,
        };
        assert_eq!(e.to_string(), "https://x/y: HTTP 404 (not found)");
        let e = NetError::Status {
            url: "https://x/y".into(),
            code: 500,
        };
        assert_eq!(
            e.to_string(),
            "https://x/y: HTTP 500 (Internal Server Error)"
        );
    }

    #[test]
    fn io_round_trip_keeps_the_variant() {
        let io = NetError::Truncated {
            url: "https://x".into(),
            got: 1,
            expected: 2,
        }
        .into_io();
        assert!(matches!(
            NetError::from_io(&io),
            Some(NetError::Truncated {
                got: 1,
                expected: 2,
                ..
            })
        ));
        assert!(matches!(NetError::from(io), NetError::Truncated { .. }));
        assert!(matches!(
            NetError::from(io::Error::other("x")),
            NetError::Io(_)
        ));
    }
}

#[cfg(test)]
mod diagnose_tests {
    use super::*;
    use crate::diag::{Code, Diagnose};

    #[test]
    fn net_errors_report_their_code_and_hint() {
        let e = NetError::Status {
            url: "https://example.com/x".into(),
            code: 404,
        };
        assert_eq!(e.code(), Code::SourceNotFound);
        assert!(Diagnose::hint(&e).is_some());
        let e = NetError::Status {
            url: "https://example.com/x".into(),
            code: 500,
        };
        assert_eq!(e.code(), Code::FetchFailed);
    }
}
