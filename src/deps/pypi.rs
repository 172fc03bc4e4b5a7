//! PyPI: the wheels `pip install` would install, without building or
//! running any package code.
//!
//! - **Resolve**: pip's own resolver in report mode (`install --dry-run
//!   --report`), wheels only (`--only-binary=:all:`: an sdist is never
//!   built, since building runs its code), against the index the server's
//!   own wheel came from, with pip's configuration files and environment
//!   ignored (`--isolated`, a cleared environment, a private HOME), the
//!   roots mcp-warden trusts (`--cert`), a time limit and bounded output.
//!   Environment markers and extras are pip's to decide.
//! - **Read the report**: every item must be a wheel fetched over https
//!   with a sha256, not a direct URL, VCS checkout or local directory; the
//!   server's own item must be the wheel already pinned.
//! - **Fetch**: mcp-warden downloads each wheel itself and the cache checks
//!   its sha256 while storing it; a wheel already in the cache is not
//!   fetched again.
//! - **Lay out**: every wheel installed into one directory as `pip install
//!   --target` would (`*.dist-info` and the package files at the root,
//!   `NAME-VER.data/{purelib,platlib}` merged into it; `scripts`, `headers`
//!   and `data` refused), then compiled to byte-code (`compileall
//!   --invalidation-mode unchecked-hash`, which compiles and runs nothing)
//!   so that a launch neither writes nor re-checks `.pyc` files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::DepsError;
use crate::archive::{self, Kind, Limits};
use crate::cache::{Blob, Cache, Tree};
use crate::child::RunError;
use crate::diag::Failure;
use crate::digest::{Algorithm, Digest};
use crate::fsutil;
use crate::net;

/// pip's report: about 5 KiB per wheel.
pub const MAX_REPORT_BYTES: u64 = 64 << 20;
/// Wheels one tree may hold.
pub const MAX_WHEELS: usize = 2_000;
/// A METADATA file's header.
const MAX_METADATA: u64 = 4 << 20;

/// One wheel of the resolved tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub name: String,
    pub version: String,
    pub url: String,
    /// The wheel's file name (the URL's last segment).
    pub filename: String,
    pub sha256: Digest,
    /// pip's `requested`: the server's own wheel.
    pub requested: bool,
}

impl Locked {
    /// The sha256 in SRI form, as the lock records it.
    pub fn integrity(&self) -> String {
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(&self.sha256.bytes)
        )
    }
}

/// How pip is run.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// The simple-API root (`https://host/simple`).
    pub index: String,
    pub ca_files: Vec<PathBuf>,
    pub timeout: Duration,
}

/// Whether the wheel unpacked at `root` declares requirements
/// (`Requires-Dist`, whatever their markers: pip decides them).
pub fn has_requirements(root: &Path) -> Result<bool, String> {
    let Some(info) = dist_info(root)? else {
        return Err("the wheel has no *.dist-info directory".into());
    };
    let meta = info.join("METADATA");
    let text = fsutil::read_text_bounded(&meta, MAX_METADATA).map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .take_while(|l| !l.is_empty())
        .any(|l| l.starts_with("Requires-Dist:")))
}

/// The one `*.dist-info` directory at `root`, if any (more is an error).
fn dist_info(root: &Path) -> Result<Option<PathBuf>, String> {
    let rd = std::fs::read_dir(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    let mut found: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "dist-info")
                && std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
        })
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(format!(
            "the wheel has {n} *.dist-info directories, not one"
        )),
    }
}

/// Resolves `name==version` and its dependencies with pip.
pub fn resolve(
    name: &str,
    version: &str,
    package: &str,
    r: &Resolver,
) -> Result<Vec<Locked>, DepsError> {
    let unresolved = |detail: String| DepsError::PipResolver {
        package: package.into(),
        detail,
    };
    let tmp = tempfile::Builder::new()
        .prefix("mcp-warden-pip-")
        .tempdir()
        .map_err(|e| unresolved(format!("cannot make a private directory: {e}")))?;
    let io = |e: std::io::Error| unresolved(format!("cannot prepare the private directory: {e}"));
    let home = tmp.path().join("home");
    let work = tmp.path().join("work");
    std::fs::create_dir(&home).map_err(io)?;
    std::fs::create_dir(&work).map_err(io)?;
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, super::ca_bundle(&r.ca_files)).map_err(io)?;
    let report = tmp.path().join("report.json");
    let mut cmd = Command::new("python3");
    cmd.current_dir(&work)
        .env_clear()
        .env("HOME", &home)
        .args([
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--quiet",
            "--isolated",
            "--no-input",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--progress-bar=off",
            "--timeout",
        ])
        .arg(r.timeout.as_secs().min(60).to_string())
        .arg("--report")
        .arg(&report)
        .arg("--cert")
        .arg(&ca_file)
        .arg("--index-url")
        .arg(&r.index)
        .arg(format!("{name}=={version}"));
    super::pass_env(&mut cmd);
    let (status, output) = super::run_resolver(cmd, "pip", r.timeout).map_err(|e| match e {
        RunError::Missing { .. } => DepsError::PipMissing {
            package: package.into(),
            detail: "`python3` was not found on PATH".into(),
        },
        e => unresolved(e.to_string()),
    })?;
    if !status.success() {
        if output.contains("No module named pip") {
            return Err(DepsError::PipMissing {
                package: package.into(),
                detail: "python3 has no pip module".into(),
            });
        }
        return Err(unresolved(format!(
            "pip exited with {status}: {}",
            crate::text::printable(output.trim(), 2000)
        )));
    }
    let bytes =
        fsutil::read_bounded(&report, MAX_REPORT_BYTES).map_err(|e| DepsError::ReportInvalid {
            package: package.into(),
            detail: e.to_string(),
        })?;
    parse_report(&bytes, package)
}

/// The wheels of pip's installation report (version 1), checked: see the
/// module's comment.
pub fn parse_report(bytes: &[u8], package: &str) -> Result<Vec<Locked>, DepsError> {
    let invalid = |detail: String| DepsError::ReportInvalid {
        package: package.into(),
        detail,
    };
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        return Err(invalid(format!(
            "{} bytes, more than the {MAX_REPORT_BYTES} a report may have",
            bytes.len()
        )));
    }
    let report: Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    match report.get("version").and_then(Value::as_str) {
        Some("1") => {}
        other => return Err(invalid(format!("report version {other:?}; 1 is read"))),
    }
    let Some(items) = report.get("install").and_then(Value::as_array) else {
        return Err(invalid("no `install` list".into()));
    };
    if items.len() > MAX_WHEELS {
        return Err(invalid(format!(
            "{} wheels, more than the {MAX_WHEELS} a tree may have",
            items.len()
        )));
    }
    let mut out: Vec<Locked> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let meta = item.get("metadata");
        let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
        let label = match (field("name"), field("version")) {
            (Some(n), Some(v)) => format!("{n}=={v}"),
            _ => format!("install[{i}]"),
        };
        let refused = |reason: String| DepsError::Refused {
            package: package.into(),
            path: crate::text::printable(&label, 300),
            reason,
        };
        let name = field("name").ok_or_else(|| refused("no `metadata.name`".into()))?;
        check_name(name).map_err(&refused)?;
        let version = field("version").ok_or_else(|| refused("no `metadata.version`".into()))?;
        check_version(version).map_err(&refused)?;
        if item.get("is_direct").and_then(Value::as_bool) == Some(true) {
            return Err(refused(
                "a direct URL requirement, not a release from the index".into(),
            ));
        }
        let info = item
            .get("download_info")
            .ok_or_else(|| refused("no `download_info`".into()))?;
        if info.get("vcs_info").is_some() || info.get("dir_info").is_some() {
            return Err(refused(
                "a VCS checkout or a local directory, whose files no hash covers".into(),
            ));
        }
        let url = info
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| refused("no `download_info.url`".into()))?;
        let filename = check_url(url).map_err(&refused)?;
        let archive = info
            .get("archive_info")
            .ok_or_else(|| refused("no `archive_info`".into()))?;
        let hex = archive
            .get("hashes")
            .and_then(|h| h.get("sha256"))
            .and_then(Value::as_str)
            .or_else(|| {
                archive
                    .get("hash")
                    .and_then(Value::as_str)
                    .and_then(|h| h.strip_prefix("sha256="))
            })
            .ok_or_else(|| refused("no sha256 for its file".into()))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refused(format!(
                "`{}` is not a sha256",
                crate::text::printable(hex, 80)
            )));
        }
        let bytes = hex::decode(hex).map_err(|e| refused(e.to_string()))?;
        let requested = item.get("requested").and_then(Value::as_bool) == Some(true);
        if out
            .iter()
            .any(|o| normalize(&o.name) == normalize(name) || o.filename == filename)
        {
            return Err(refused("listed twice".into()));
        }
        out.push(Locked {
            name: name.into(),
            version: version.into(),
            url: url.into(),
            filename,
            sha256: Digest {
                algorithm: Algorithm::Sha256,
                bytes,
            },
            requested,
        });
    }
    Ok(out)
}

fn normalize(name: &str) -> String {
    crate::source::spec::normalize_pypi_name(name)
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a project name",
            crate::text::printable(name, 200)
        ))
    }
}

fn check_version(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 100
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'!'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a version",
            crate::text::printable(v, 100)
        ))
    }
}

/// An https URL of a wheel; returns its file name.
fn check_url(url: &str) -> Result<String, String> {
    let shown = crate::text::printable(url, 200);
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") {
        return Err(format!("fetched over plain http (`{shown}`)"));
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!("`{shown}` is not an https URL"));
    };
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("`{shown}` is not a plain URL"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("`{shown}` is not a plain URL"));
    }
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let file = path.rsplit('/').next().unwrap_or("");
    if !file.ends_with(".whl") {
        return Err(format!(
            "`{shown}` is not a wheel (only wheels are installed: an sdist would have to be built, which runs its code)"
        ));
    }
    let file = percent_decode(file);
    if file.contains(['/', '\\']) || file.starts_with('.') {
        return Err(format!("`{shown}` is not a plain URL"));
    }
    Ok(file)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(h) = s.get(i + 1..i + 3)
            && h.bytes().all(|c| c.is_ascii_hexdigit())
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Downloads (or finds in the cache) every wheel; each is checked against
/// its sha256 as it is stored. `stored` collects the keys this call stored
/// anew, for the caller to discard on failure.
pub fn fetch_all(
    cache: &Cache,
    client: Option<&net::Client>,
    wheels: &[Locked],
    max: u64,
    stored: &mut Vec<String>,
) -> Result<Vec<Blob>, Failure> {
    let mut wanted = Vec::with_capacity(wheels.len());
    for w in wheels {
        let want = w.sha256.hex();
        if let Ok(Some(b)) = cache.blob_verified(&want) {
            wanted.push(super::Wanted::Cached(b));
            continue;
        }
        wanted.push(super::Wanted::Fetch {
            url: &w.url,
            digest: &w.sha256,
            about: format!("{} ({}=={})", w.filename, w.name, w.version),
        });
    }
    super::download_all(cache, client, wanted, max, stored)
}

/// Installs every wheel (`(file name, blob)`, the server's first, marked
/// `REQUESTED`) into one tree and compiles it. Returns the tree, each wheel's `*.dist-info` directory name, and
/// whether every file compiled.
pub fn lay_out(
    cache: &Cache,
    package: &str,
    wheels: &[(String, &Path)],
) -> Result<(Tree, Vec<String>, bool), Failure> {
    let mut out = (Vec::new(), true);
    let tree = cache.put_built(|dest: &Path| -> Result<(), Failure> {
        out = build(dest, package, wheels)?;
        Ok(())
    })?;
    Ok((tree, out.0, out.1))
}

/// Builds the tree of [`lay_out`] at `dest` (which does not exist yet;
/// its parent is free for scratch work): each wheel's `*.dist-info`
/// name, and whether every file compiled.
pub fn build(
    dest: &Path,
    package: &str,
    wheels: &[(String, &Path)],
) -> Result<(Vec<String>, bool), Failure> {
    // Made durable as a whole by the cache (put_built).
    let limits = Limits {
        fsync_each: false,
        ..Limits::default()
    };
    let mut infos = Vec::with_capacity(wheels.len());
    let scratch = dest
        .parent()
        .ok_or_else(|| Failure::input(crate::diag::Code::Internal, "no work dir", None))?
        .to_path_buf();
    std::fs::create_dir_all(dest).map_err(|e| layout(package, ".", e.to_string()))?;
    for (i, (file, blob)) in wheels.iter().enumerate() {
        let dir = scratch.join(format!("wheel-{i}"));
        archive::extract(blob, Kind::Zip, &dir, &limits)
            .map_err(|e| Failure::from(e).about(file))?;
        make_writable(&dir);
        let info = dist_info(&dir).map_err(|d| layout(package, file, d))?;
        let Some(info) = info else {
            return Err(layout(package, file, "no *.dist-info directory".into()).into());
        };
        if i == 0 {
            // As pip marks a distribution installed on request
            // (PEP 376): the server's, whose console script runs.
            std::fs::write(info.join("REQUESTED"), b"")
                .map_err(|e| layout(package, file, e.to_string()))?;
        }
        infos.push(
            info.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| layout(package, file, e.to_string()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            let base = e.file_name().map(|n| n.to_string_lossy().into_owned());
            if base.as_deref().is_some_and(|b| b.ends_with(".data"))
                && std::fs::symlink_metadata(&e).is_ok_and(|m| m.is_dir())
            {
                install_data(&e, dest, package, file)?;
            } else {
                merge(&e, &dest.join(base.unwrap_or_default()), package, file)?;
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let compiled = compile(dest);
    Ok((infos, compiled))
}

/// The wheels `servers.lock` records for a PyPI tree, read back for
/// laying the same tree out again without resolving: names, versions,
/// URLs and sha256 checked as when pip's report was read (the lock file
/// may have been edited), and each cache key the wheel's sha256.
pub fn from_lock(
    packages: &[crate::lock::Package],
    package: &str,
) -> Result<Vec<Locked>, DepsError> {
    let mut out = Vec::with_capacity(packages.len());
    for p in packages {
        let refused = |reason: String| DepsError::Refused {
            package: package.into(),
            path: crate::text::printable(&p.path, 300),
            reason,
        };
        check_name(&p.name).map_err(&refused)?;
        check_version(&p.version).map_err(&refused)?;
        let filename = check_url(&p.resolved).map_err(&refused)?;
        let bytes = p
            .integrity
            .split_whitespace()
            .find_map(|t| t.strip_prefix("sha256-"))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| refused("no sha256 integrity".into()))?;
        let sha256 = Digest {
            algorithm: Algorithm::Sha256,
            bytes,
        };
        if sha256.hex() != p.sha256 {
            return Err(refused(format!(
                "its cache key sha256:{} is not its integrity's sha256:{}",
                p.sha256,
                sha256.hex()
            )));
        }
        out.push(Locked {
            name: p.name.clone(),
            version: p.version.clone(),
            url: p.resolved.clone(),
            filename,
            sha256,
            requested: false,
        });
    }
    Ok(out)
}

fn layout(package: &str, path: &str, detail: String) -> DepsError {
    DepsError::Layout {
        package: package.into(),
        path: path.into(),
        detail,
    }
}

/// `NAME-VER.data/`: `purelib` and `platlib` go to the root, as for
/// `pip install --target`; the other schemes would install outside it.
fn install_data(data: &Path, dest: &Path, package: &str, file: &str) -> Result<(), Failure> {
    let rd = std::fs::read_dir(data).map_err(|e| layout(package, file, e.to_string()))?;
    let mut subs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    subs.sort();
    for sub in subs {
        let scheme = sub
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match scheme.as_str() {
            "purelib" | "platlib" => {
                let rd =
                    std::fs::read_dir(&sub).map_err(|e| layout(package, file, e.to_string()))?;
                let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
                files.sort();
                for f in files {
                    let name = f.file_name().unwrap_or_default().to_owned();
                    merge(&f, &dest.join(name), package, file)?;
                }
            }
            other => {
                return Err(DepsError::Refused {
                    package: package.into(),
                    path: file.into(),
                    reason: format!(
                        "it installs `{}` files (its .data/{}), which land outside the package tree; only purelib and platlib are laid out",
                        crate::text::printable(other, 50),
                        crate::text::printable(other, 50)
                    ),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// Moves `src` to `dst`; directories that both wheels have (namespace
/// packages) are merged; a file two wheels install is refused unless both
/// are the same bytes.
fn merge(src: &Path, dst: &Path, package: &str, file: &str) -> Result<(), Failure> {
    let err = |d: String| -> Failure { layout(package, file, d).into() };
    let sm = std::fs::symlink_metadata(src).map_err(|e| err(e.to_string()))?;
    let dm = match std::fs::symlink_metadata(dst) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::rename(src, dst).map_err(|e| err(e.to_string()));
        }
        Err(e) => return Err(err(e.to_string())),
    };
    let shown = || {
        dst.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if sm.is_dir() && dm.is_dir() {
        let rd = std::fs::read_dir(src).map_err(|e| err(e.to_string()))?;
        let mut kids: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        kids.sort();
        for k in kids {
            let name = k.file_name().unwrap_or_default().to_owned();
            merge(&k, &dst.join(name), package, file)?;
        }
        return Ok(());
    }
    if sm.is_file() && dm.is_file() && sm.len() == dm.len() {
        let a = fsutil::read_bounded(src, sm.len()).map_err(|e| err(e.to_string()))?;
        let b = fsutil::read_bounded(dst, dm.len()).map_err(|e| err(e.to_string()))?;
        if a == b {
            return Ok(());
        }
    }
    Err(err(format!(
        "`{}` is installed by another wheel of the tree already, with other content",
        crate::text::printable(&shown(), 200)
    )))
}

/// Compiles every module of the tree to unchecked-hash byte-code. Runs no
/// package code; a file that does not compile (written for another Python)
/// is left to be compiled in memory at import. Returns whether all did.
fn compile(dest: &Path) -> bool {
    let mut cmd = Command::new("python3");
    cmd.env_clear()
        .args([
            "-I",
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
        ])
        .arg(dest)
        .arg(dest);
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", p);
    }
    matches!(super::run_resolver(cmd, "compileall", Duration::from_secs(600)), Ok((s, _)) if s.success())
}

/// Wheels may carry read-only directories; the other wheels' files are
/// laid out in them before the tree is sealed.
fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::symlink_metadata(dir)
        && m.is_dir()
    {
        let mode = m.permissions().mode() | 0o700;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    make_writable(&e.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnose as _;
    use serde_json::json;

    fn item(name: &str, version: &str, requested: bool) -> Value {
        let file = format!("{}-{version}-py3-none-any.whl", name.replace('-', "_"));
        json!({
            "download_info": {
                "url": format!("https://files.example.org/packages/ab/{file}"),
                "archive_info": {
                    "hash": format!("sha256={}", "ab".repeat(32)),
                    "hashes": {"sha256": "ab".repeat(32)},
                },
            },
            "is_direct": false,
            "requested": requested,
            "metadata": {"metadata_version": "2.1", "name": name, "version": version},
        })
    }

    fn report(items: &[Value]) -> Vec<u8> {
        serde_json::to_vec(&json!({"version": "1", "pip_version": "23.2.1", "install": items}))
            .unwrap()
    }

    fn parse(bytes: &[u8]) -> Result<Vec<Locked>, DepsError> {
        parse_report(bytes, "pypi:top==1.0")
    }

    fn refused(i: Value, want: &str) {
        match parse(&report(&[i])) {
            Err(e @ DepsError::Refused { .. }) => {
                assert!(e.to_string().contains(want), "{want}: {e}");
                assert_eq!(e.code(), crate::diag::Code::DependencyRefused);
            }
            other => panic!("{want}: {other:?}"),
        }
    }

    #[test]
    fn a_report_of_wheels_is_read_with_the_requested_one_marked() {
        let got = parse(&report(&[
            item("top", "1.0", true),
            item("Dep.Lib", "2.0.post1", false),
        ]))
        .unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].requested && !got[1].requested);
        assert_eq!(got[1].name, "Dep.Lib");
        assert_eq!(got[1].filename, "Dep.Lib-2.0.post1-py3-none-any.whl");
        assert_eq!(got[1].sha256.bytes, vec![0xab; 32]);
        assert_eq!(
            got[1].integrity(),
            format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode([0xab; 32])
            )
        );
        // The older single `hash` form reads the same.
        let mut old = item("a", "1", false);
        old["download_info"]["archive_info"]
            .as_object_mut()
            .unwrap()
            .remove("hashes");
        assert_eq!(
            parse(&report(&[old])).unwrap()[0].sha256.bytes,
            vec![0xab; 32]
        );
    }

    #[test]
    fn malformed_truncated_and_oversized_reports_are_refused() {
        let good = report(&[item("a", "1", false)]);
        for bad in [
            b"".to_vec(),
            b"[]".to_vec(),
            b"{".to_vec(),
            good[..good.len() / 2].to_vec(),
            br#"{"version":"0","install":[]}"#.to_vec(),
            br#"{"version":"1"}"#.to_vec(),
            br#"{"version":"1","install":{}}"#.to_vec(),
        ] {
            let e = parse(&bad).unwrap_err();
            assert!(
                matches!(e, DepsError::ReportInvalid { .. }),
                "{}: {e}",
                String::from_utf8_lossy(&bad)
            );
        }
        let mut big = good.clone();
        big.resize(MAX_REPORT_BYTES as usize + 1, b' ');
        assert!(parse(&big).unwrap_err().to_string().contains("more than"));
        let many: Vec<Value> = (0..=MAX_WHEELS)
            .map(|i| item(&format!("p{i}"), "1", false))
            .collect();
        assert!(
            parse(&report(&many))
                .unwrap_err()
                .to_string()
                .contains("wheels, more than")
        );
    }

    #[test]
    fn what_no_sha256_of_a_wheel_covers_is_refused() {
        let with = |path: &[&str], v: Value| {
            let mut i = item("a", "1.0", false);
            let mut at = &mut i;
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = v;
            i
        };
        let url = |u: &str| with(&["download_info", "url"], u.into());
        refused(
            url("http://files.example.org/a-1.0-py3-none-any.whl"),
            "plain http",
        );
        refused(
            url("file:///tmp/a-1.0-py3-none-any.whl"),
            "not an https URL",
        );
        refused(url("https://files.example.org/a-1.0.tar.gz"), "not a wheel");
        refused(
            url("https://u@files.example.org/a-1.0-py3-none-any.whl"),
            "not a plain URL",
        );
        refused(
            url("https://files.example.org/a b-1.0-py3-none-any.whl"),
            "not a plain URL",
        );
        refused(
            url("https://files.example.org/x/..%2F..%2Fa-1-py3-none-any.whl"),
            "not a plain URL",
        );
        refused(with(&["is_direct"], true.into()), "direct URL");
        refused(
            with(&["download_info", "vcs_info"], json!({"vcs": "git"})),
            "VCS checkout",
        );
        refused(
            with(&["download_info", "archive_info"], json!({})),
            "no sha256",
        );
        refused(
            with(
                &["download_info", "archive_info"],
                json!({"hashes": {"md5": "00"}}),
            ),
            "no sha256",
        );
        refused(
            with(
                &["download_info", "archive_info", "hashes", "sha256"],
                "abc".into(),
            ),
            "not a sha256",
        );
        refused(
            with(&["metadata", "name"], "../evil".into()),
            "not a project name",
        );
        refused(
            with(&["metadata", "version"], "1.0/../x".into()),
            "not a version",
        );
        refused(with(&["metadata"], json!({})), "no `metadata.name`");
        // Twice the same project.
        match parse(&report(&[item("a", "1", false), item("A", "2", false)])) {
            Err(e) => assert!(e.to_string().contains("listed twice"), "{e}"),
            Ok(v) => panic!("{v:?}"),
        }
    }
}
