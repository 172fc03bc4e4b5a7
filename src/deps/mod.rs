//! A package's dependency tree: resolved by the ecosystem's own resolver
//! without running package code, every file fetched by mcp-warden and
//! checked against the resolver's integrity, laid out as one read-only
//! tree in the cache.

pub mod evidence;
pub mod npm;
pub mod pypi;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::cache::{Blob, Cache};
use crate::child::RunError;
use crate::diag::{Code, Diagnose, Failure};
use crate::digest::Digest;
use crate::{fsutil, net};

#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error("`npm` was not found on PATH; it is needed to resolve the dependencies of {package}")]
    NpmMissing { package: String },
    #[error("npm could not resolve the dependencies of {package}: {detail}")]
    Resolver { package: String, detail: String },
    #[error("npm's lock for {package}: {detail}")]
    LockInvalid { package: String, detail: String },
    #[error("{package}: dependency `{path}` refused: {reason}")]
    Refused {
        package: String,
        path: String,
        reason: String,
    },
    #[error("pip is needed to resolve the dependencies of {package}: {detail}")]
    PipMissing { package: String, detail: String },
    #[error("pip could not resolve the dependencies of {package} from wheels: {detail}")]
    PipResolver { package: String, detail: String },
    #[error("pip's installation report for {package}: {detail}")]
    ReportInvalid { package: String, detail: String },
    #[error("{package}: cannot lay out dependency `{path}`: {detail}")]
    Layout {
        package: String,
        path: String,
        detail: String,
    },
}

impl Diagnose for DepsError {
    fn code(&self) -> Code {
        match self {
            DepsError::NpmMissing { .. }
            | DepsError::Resolver { .. }
            | DepsError::PipMissing { .. }
            | DepsError::PipResolver { .. } => Code::DependencyUnresolved,
            DepsError::LockInvalid { .. }
            | DepsError::ReportInvalid { .. }
            | DepsError::Refused { .. } => Code::DependencyRefused,
            DepsError::Layout { .. } => Code::ArchiveUnsafe,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            DepsError::NpmMissing { .. } => "install Node.js with npm (npm only resolves the dependency tree in lock-only mode; it never installs or runs anything), or pass --no-dependencies to pin the package's own tarball alone".into(),
            DepsError::Resolver { .. } => "check that the registry serves every dependency (--registry, --ca-file); the message ends with npm's own".into(),
            DepsError::LockInvalid { .. } => "the lock npm wrote cannot be used; this is a bug in the package's metadata or in npm".into(),
            DepsError::PipMissing { .. } => "install pip for python3 (Debian: apt-get install python3-pip); pip only resolves the dependency tree in report mode, it installs and builds nothing; or pass --no-dependencies to pin the wheel alone".into(),
            DepsError::PipResolver { .. } => "every dependency must be published as a wheel for this machine (an sdist is never built, since building runs its code) on the same index (--pypi-url, --ca-file); the message ends with pip's own".into(),
            DepsError::ReportInvalid { .. } => "the report pip wrote cannot be used; this is a bug in pip or in the index".into(),
            DepsError::Refused { .. } => "only registry packages with a sha512 integrity are pinned: ask the publisher to depend on registry releases, or pin an artifact that bundles its dependencies (an .mcpb bundle)".into(),
            DepsError::Layout { .. } => "a dependency's tarball does not unpack to one package directory".into(),
        })
    }
}

/// What resolving a package's tree needs from `add`.
pub struct Request<'a> {
    /// The source, for messages (`npm:NAME@VERSION`).
    pub package: &'a str,
    pub registry: &'a str,
    pub fetch: &'a crate::ops::pin::FetchRequest,
    pub client: Option<&'a crate::net::Client>,
    /// The lock as it is: tarballs it pins are taken from the cache.
    pub pinned: &'a crate::lock::Lock,
    /// The registry keys and what the policy requires of their signatures.
    pub evidence: evidence::Settings,
}

/// What [`npm_tree`] or [`pypi_tree`] pinned.
pub struct DepTree {
    pub packages: Vec<crate::lock::Package>,
    /// `None` when the package declares no dependencies to install.
    pub tree: Option<crate::cache::Tree>,
    /// For the report: how many, and the install scripts not run.
    pub notes: Vec<String>,
}

/// The npm package whose tarball is `top`, unpacked at `unpacked`, with its
/// dependency tree: the packages pinned, the tree laid out (`None` when it
/// declares no dependencies to install) and the notes for the report.
/// `stored` collects the cache keys of the tarballs fetched.
pub fn npm_tree(
    cache: &crate::cache::Cache,
    top: &crate::cache::Blob,
    unpacked: &std::path::Path,
    req: &Request,
    stored: &mut Vec<String>,
) -> Result<DepTree, crate::diag::Failure> {
    let layout = |detail: String| DepsError::Layout {
        package: req.package.into(),
        path: ".".into(),
        detail,
    };
    let dir = npm::package_dir(unpacked).map_err(layout)?;
    let pj = npm::read_package_json(&dir).map_err(layout)?;
    let mut notes = Vec::new();
    let own = npm::install_scripts(&pj, &dir);
    if !own.is_empty() {
        notes.push(format!(
            "note: install scripts not run: the package itself ({})",
            own.join(", ")
        ));
    }
    if !npm::has_dependencies(&pj) {
        evidence::npm_tree(req, (&pj, top), &[], &mut notes)?;
        return Ok(DepTree {
            packages: Vec::new(),
            tree: None,
            notes,
        });
    }
    let resolver = npm::Resolver {
        registry: req.registry.to_string(),
        ca_files: req.fetch.ca_file.clone(),
        timeout: std::time::Duration::from_secs(req.fetch.timeout.clamp(60, 600)),
    };
    let locked = npm::resolve(&dir, req.package, &resolver)?;
    let warm: std::collections::HashMap<String, String> = req
        .pinned
        .servers
        .values()
        .flat_map(|e| &e.packages)
        .map(|p| (p.integrity.clone(), p.sha256.clone()))
        .collect();
    let _c = cache.lock()?;
    let items: Vec<_> = (locked.iter())
        .map(|l| evidence::Item {
            name: &l.name,
            version: &l.version,
            integrity: &l.integrity,
        })
        .collect();
    // The tarballs and the documents that vouch for them come over the
    // network independently: fetched side by side. The evidence is about
    // the integrities the tarballs are checked against; neither result is
    // used unless both succeed (a fetch error first, as before).
    let mut said = Vec::new();
    let (blobs, signed) = std::thread::scope(|s| {
        let vouched = s.spawn(|| evidence::npm_tree(req, (&pj, top), &items, &mut said));
        let blobs = npm::fetch_all(
            cache,
            req.client,
            &locked,
            req.fetch.max_size,
            &warm,
            stored,
        );
        let signed = vouched.join().unwrap_or_else(|_| {
            Err(Failure::input(
                Code::Internal,
                "checking the registry's evidence stopped",
                None,
            ))
        });
        (blobs, signed)
    });
    let (blobs, signed) = (blobs?, signed?);
    notes.extend(said);
    let (tree, gyp) = npm::lay_out(cache, req.package, top, &locked, &blobs)?;
    let mut packages = Vec::with_capacity(locked.len());
    for (((l, b), gyp), signed) in locked.into_iter().zip(blobs).zip(gyp).zip(signed) {
        let scripts = l.install_scripts || gyp;
        if scripts {
            notes.push(format!(
                "note: install scripts not run: {} ({}@{}{})",
                l.path,
                l.name,
                l.version,
                if gyp { ", binding.gyp" } else { "" }
            ));
        }
        packages.push(crate::lock::Package {
            path: l.path,
            name: l.name,
            version: l.version,
            resolved: l.resolved,
            integrity: l.integrity,
            sha256: b.sha256,
            install_scripts: scripts,
            evidence: signed.into_iter().collect(),
        });
    }
    notes.insert(
        0,
        format!(
            "note: {} dependencies resolved by npm (lock-only, no scripts), each checked against its sha512 integrity",
            packages.len()
        ),
    );
    Ok(DepTree {
        packages,
        tree: Some(tree),
        notes,
    })
}

/// The wheel `top` (`name==version`, unpacked at `unpacked`) with every
/// wheel pip resolves for it from the same index `req.registry`, laid out
/// as one tree: the wheels pinned, the tree (`None` when the wheel
/// declares no requirements) and the notes for the report. `stored`
/// collects the cache keys of the wheels fetched.
pub fn pypi_tree(
    cache: &crate::cache::Cache,
    top: &crate::cache::Blob,
    unpacked: &std::path::Path,
    (name, version): (&str, &str),
    req: &Request,
    stored: &mut Vec<String>,
) -> Result<DepTree, crate::diag::Failure> {
    let needs = pypi::has_requirements(unpacked).map_err(|detail| DepsError::Layout {
        package: req.package.into(),
        path: ".".into(),
        detail,
    })?;
    let top_sha256: Digest =
        format!("sha256:{}", top.sha256)
            .parse()
            .map_err(|e| DepsError::Layout {
                package: req.package.into(),
                path: ".".into(),
                detail: format!("the wheel's sha256: {e}"),
            })?;
    if !needs {
        let mut notes = Vec::new();
        evidence::pypi_tree(req, (name, &top_sha256), &[], &mut notes)?;
        return Ok(DepTree {
            packages: Vec::new(),
            tree: None,
            notes,
        });
    }
    let resolver = pypi::Resolver {
        index: req.registry.to_string(),
        ca_files: req.fetch.ca_file.clone(),
        timeout: std::time::Duration::from_secs(req.fetch.timeout.clamp(60, 600)),
    };
    let mut locked = pypi::resolve(name, version, req.package, &resolver)?;
    // The server's own item is the wheel judged and pinned, not another.
    let own: Vec<usize> = (0..locked.len()).filter(|i| locked[*i].requested).collect();
    let [own] = own.as_slice() else {
        return Err(DepsError::ReportInvalid {
            package: req.package.into(),
            detail: format!("{} requested items, not one", own.len()),
        }
        .into());
    };
    let me = locked.remove(*own);
    if me.sha256.hex() != top.sha256 {
        return Err(DepsError::Refused {
            package: req.package.into(),
            path: crate::text::printable(&me.filename, 200),
            reason: format!(
                "pip chose this file (sha256 {}), not the wheel that was verified (sha256 {})",
                me.sha256.hex(),
                top.sha256
            ),
        }
        .into());
    }
    let _c = cache.lock()?;
    let blobs = pypi::fetch_all(cache, req.client, &locked, req.fetch.max_size, stored)?;
    let mut notes = Vec::new();
    let proven = evidence::pypi_tree(
        req,
        (name, &top_sha256),
        &(locked.iter())
            .map(|l| evidence::Wheel {
                name: &l.name,
                filename: &l.filename,
                sha256: &l.sha256,
            })
            .collect::<Vec<_>>(),
        &mut notes,
    )?;
    let mut wheels: Vec<(String, &std::path::Path)> = vec![(me.filename.clone(), &top.path)];
    wheels.extend(
        locked
            .iter()
            .zip(&blobs)
            .map(|(l, b)| (l.filename.clone(), b.path.as_path())),
    );
    let (tree, infos, compiled) = pypi::lay_out(cache, req.package, &wheels)?;
    let mut packages = Vec::with_capacity(locked.len());
    for (((l, b), info), proven) in (locked.iter().zip(&blobs))
        .zip(infos.into_iter().skip(1))
        .zip(proven)
    {
        packages.push(crate::lock::Package {
            path: info,
            name: l.name.clone(),
            version: l.version.clone(),
            resolved: l.url.clone(),
            integrity: l.integrity(),
            sha256: b.sha256.clone(),
            install_scripts: false,
            evidence: proven,
        });
    }
    notes.insert(
        0,
        format!(
            "note: {} dependencies resolved by pip (report only, wheels only, nothing built or run), each checked against its sha256",
            packages.len()
        ),
    );
    if !compiled {
        notes.push(
            "note: some modules did not compile to byte-code; Python compiles them in memory at import"
                .into(),
        );
    }
    Ok(DepTree {
        packages,
        tree: Some(tree),
        notes,
    })
}

/// The roots mcp-warden's own client trusts, as one PEM bundle: the
/// system's, the `--ca-file`s and those of the environment variable.
fn ca_bundle(extra: &[PathBuf]) -> Vec<u8> {
    let mut ca = Vec::new();
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
    let env_ca = std::env::var_os(net::ENV_CA_FILE);
    for f in std::iter::once(system)
        .chain(extra.iter().cloned())
        .chain(net::env_ca_files(env_ca.as_deref()))
    {
        if let Ok(bytes) = fsutil::read_bounded(&f, 16 << 20) {
            ca.extend_from_slice(&bytes);
            ca.push(b'\n');
        }
    }
    ca
}

/// What a resolver inherits from mcp-warden's environment: where the tool
/// is, and the proxy the network is reached by.
fn pass_env(cmd: &mut Command) {
    for var in [
        "PATH",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
}

/// Runs a resolver to its end within `timeout`: its status, and its stderr
/// then stdout as one text (each kept up to [`npm::MAX_OUTPUT`] bytes).
fn run_resolver(
    cmd: Command,
    tool: &str,
    timeout: Duration,
) -> Result<(ExitStatus, String), RunError> {
    let f = crate::child::run_bounded(cmd, tool, timeout, npm::MAX_OUTPUT)?;
    let mut text = String::from_utf8_lossy(&f.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&f.stdout));
    Ok((f.status, text))
}

/// Downloads `url` into the cache, checked against `digest` as it is
/// stored; `about` names the package in errors, and the new key goes to
/// `stored` (for the caller to discard on failure). Offline, nothing is
/// fetched and that is the error.
pub(crate) fn download(
    cache: &Cache,
    client: Option<&net::Client>,
    (url, digest, about): (&str, &Digest, &str),
    max: u64,
    stored: &mut Vec<String>,
) -> Result<Blob, Failure> {
    let Some(client) = client else {
        return Err(Failure::input(
            Code::FetchFailed,
            format!("--offline: {url} would have to be fetched"),
            Some("run without --offline once".into()),
        ));
    };
    let body = client
        .get(url, max)
        .map_err(|e| Failure::from(e).about(about))?;
    let b = cache
        .put_reader(body, max, std::slice::from_ref(digest))
        .map_err(|e| Failure::from(e).about(about))?;
    stored.push(b.sha256.clone());
    Ok(b)
}

/// Downloads at once, each as [`download`] does.
const PARALLEL_DOWNLOADS: usize = 8;

/// One file of a tree to bring into the cache: already there (`Ok`), or
/// to download from `url`, checked against `digest`.
pub(crate) enum Wanted<'a> {
    Cached(Blob),
    Fetch {
        url: &'a str,
        digest: &'a Digest,
        about: String,
    },
}

/// Brings every file into the cache, [`PARALLEL_DOWNLOADS`] at a time
/// (a tree is a hundred small files, each one round trip: one after the
/// other, the latency adds up), in order. Every key stored goes to
/// `stored`, those of the downloads that succeeded beside one that
/// failed too, so the caller's discard leaves the cache as it was.
pub(crate) fn download_all(
    cache: &Cache,
    client: Option<&net::Client>,
    wanted: Vec<Wanted>,
    max: u64,
    stored: &mut Vec<String>,
) -> Result<Vec<Blob>, Failure> {
    let quiet = client.map(net::Client::without_progress);
    let client = quiet.as_ref();
    // Packages of one tarball (npm may place the same release twice) are
    // fetched once: the later ones take the first one's blob.
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut same_as: Vec<Option<usize>> = Vec::with_capacity(wanted.len());
    let mut unique = Vec::with_capacity(wanted.len());
    for w in wanted {
        let key = match &w {
            Wanted::Cached(b) => b.sha256.clone(),
            Wanted::Fetch { digest, .. } => digest.hex(),
        };
        match first.get(&key) {
            Some(&i) => same_as.push(Some(i)),
            None => {
                first.insert(key, unique.len());
                same_as.push(None);
                unique.push(w);
            }
        }
    }
    let wanted = unique;
    let failed = std::sync::atomic::AtomicBool::new(false);
    let n = wanted.len();
    let mut slots: Vec<Option<Result<Blob, Failure>>> = (0..n).map(|_| None).collect();
    let mut keys: Vec<Vec<String>> = (0..PARALLEL_DOWNLOADS).map(|_| Vec::new()).collect();
    let mut items: Vec<(usize, Wanted)> = wanted.into_iter().enumerate().collect();
    // Interleaved, so each worker gets a share of the large files too.
    let mut shares: Vec<Vec<(usize, Wanted)>> =
        (0..PARALLEL_DOWNLOADS).map(|_| Vec::new()).collect();
    for (i, it) in items.drain(..) {
        shares[i % PARALLEL_DOWNLOADS].push((i, it));
    }
    let results = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|s| {
        for (share, keys) in shares.into_iter().zip(keys.iter_mut()) {
            let (failed, results) = (&failed, &results);
            s.spawn(move || {
                for (i, it) in share {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let r = match it {
                        Wanted::Cached(b) => Ok(b),
                        Wanted::Fetch { url, digest, about } => {
                            download(cache, client, (url, digest, &about), max, keys)
                        }
                    };
                    if r.is_err() {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    stored.extend(keys.into_iter().flatten());
    let mut out = Vec::with_capacity(n);
    let mut first_err = None;
    for r in slots {
        match r {
            Some(Ok(b)) => out.push(b),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None if out.len() == n => {
            let mut at = 0;
            Ok(same_as
                .into_iter()
                .map(|s| match s {
                    Some(i) => out[i].clone(),
                    None => {
                        at += 1;
                        out[at - 1].clone()
                    }
                })
                .collect())
        }
        None => Err(Failure::input(
            Code::Internal,
            "a download stopped without a result",
            None,
        )),
    }
}
