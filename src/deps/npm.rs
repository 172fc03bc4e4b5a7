//! npm: the tree that `npm ci` would lay out, without running npm's
//! installer or any package code.
//!
//! - **Resolve**: npm's own resolver, in lock-only mode, in a private
//!   directory holding only the package's `package.json` (without its
//!   `devDependencies`) and its `npm-shrinkwrap.json` if it ships one; no
//!   user or global npm configuration, no inherited `npm_config_*`, scripts
//!   off, a time limit and bounded output.
//! - **Read the lock**: every package must be a registry release (`resolved`
//!   over https on the registry's host) with a sha512 `integrity`; links,
//!   `file:`, git and http specs, workspaces and bundled dependencies are
//!   refused; optional packages for another platform are dropped, as npm
//!   drops them.
//! - **Fetch**: mcp-warden downloads each tarball itself and the cache
//!   checks it against the integrity while storing it.
//! - **Lay out**: the package at the tree's root, each dependency unpacked
//!   at its lock path, so that `require` resolves as after `npm ci`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value};

use super::DepsError;
use crate::archive::{self, Kind, Limits};
use crate::cache::{Blob, Cache, Tree};
use crate::child::RunError;
use crate::diag::Failure;
use crate::digest::Digest;
use crate::fsutil;
use crate::net;

/// A package.json is a few KiB; a shrinkwrap or a lock of thousands of
/// packages a few MiB.
pub const MAX_PACKAGE_JSON: u64 = 4 << 20;
pub const MAX_LOCK_BYTES: u64 = 64 << 20;
/// Packages one tree may hold.
pub const MAX_PACKAGES: usize = 10_000;
/// What is kept of npm's output for the error message.
pub const MAX_OUTPUT: usize = 16 << 10;

/// One package of the resolved tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// `node_modules/a/node_modules/b`.
    pub path: String,
    pub name: String,
    pub version: String,
    pub resolved: String,
    pub integrity: String,
    /// The sha512 of `integrity`.
    pub digest: Digest,
    /// npm's `hasInstallScript`.
    pub install_scripts: bool,
}

/// How npm is run.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// The registry the package came from; every dependency must come
    /// from its host too.
    pub registry: String,
    /// Extra CA files (PEM) that npm trusts beside the system's.
    pub ca_files: Vec<PathBuf>,
    pub timeout: Duration,
}

/// The platform npm would install for (`process.platform`, `process.arch`,
/// the C library).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub os: &'static str,
    pub cpu: &'static str,
    pub libc: Option<&'static str>,
}

impl Platform {
    pub fn this() -> Platform {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            "windows" => "win32",
            other => other,
        };
        let cpu = match std::env::consts::ARCH {
            "x86_64" => "x64",
            "aarch64" => "arm64",
            "x86" => "ia32",
            "powerpc64" => "ppc64",
            other => other,
        };
        let libc = if cfg!(all(target_os = "linux", target_env = "musl")) {
            Some("musl")
        } else if cfg!(target_os = "linux") {
            Some("glibc")
        } else {
            None
        };
        Platform { os, cpu, libc }
    }
}

/// Whether `package.json` declares dependencies that npm would install
/// (not counting those the tarball bundles).
pub fn has_dependencies(package_json: &Value) -> bool {
    let bundled: Vec<&str> = ["bundleDependencies", "bundledDependencies"]
        .iter()
        .filter_map(|k| package_json.get(*k))
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    ["dependencies", "optionalDependencies", "peerDependencies"]
        .iter()
        .filter_map(|k| package_json.get(*k).and_then(Value::as_object))
        .flat_map(|m| m.keys())
        .any(|d| !bundled.contains(&d.as_str()))
}

/// The package's install scripts (`preinstall`, `install`,
/// `postinstall`), or a `binding.gyp` that npm would build.
pub fn install_scripts(package_json: &Value, dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = ["preinstall", "install", "postinstall"]
        .iter()
        .filter(|k| {
            package_json
                .get("scripts")
                .and_then(|s| s.get(**k))
                .is_some()
        })
        .map(|k| k.to_string())
        .collect();
    if std::fs::symlink_metadata(dir.join("binding.gyp")).is_ok_and(|m| m.is_file()) {
        out.push("binding.gyp".into());
    }
    out
}

/// The directory of an unpacked npm tarball: its single top directory
/// (`package/`, whatever its name).
pub fn package_dir(unpacked: &Path) -> Result<PathBuf, String> {
    let mut entries = std::fs::read_dir(unpacked)
        .map_err(|e| format!("cannot read {}: {e}", unpacked.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read {}: {e}", unpacked.display()))?;
    if entries.len() != 1 {
        return Err(format!(
            "the tarball has {} top-level entries, not one package directory",
            entries.len()
        ));
    }
    let e = entries.remove(0);
    match e.file_type() {
        Ok(t) if t.is_dir() => Ok(e.path()),
        _ => Err("the tarball's top-level entry is not a directory".into()),
    }
}

/// Reads `package.json` in `dir`, bounded.
pub fn read_package_json(dir: &Path) -> Result<Value, String> {
    let p = dir.join("package.json");
    let bytes = fsutil::read_bounded(&p, MAX_PACKAGE_JSON).map_err(|e| e.to_string())?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("package.json is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("package.json is not an object".into());
    }
    Ok(v)
}

/// Resolves the tree of the package unpacked in `dir` with npm.
pub fn resolve(dir: &Path, package: &str, r: &Resolver) -> Result<Vec<Locked>, DepsError> {
    let invalid = |detail: String| DepsError::LockInvalid {
        package: package.into(),
        detail,
    };
    let unresolved = |detail: String| DepsError::Resolver {
        package: package.into(),
        detail,
    };
    let mut pj = read_package_json(dir).map_err(invalid)?;
    if let Some(o) = pj.as_object_mut() {
        // A package's own dev tools never install with it.
        o.remove("devDependencies");
    }
    if pj.get("workspaces").is_some() {
        return Err(DepsError::Refused {
            package: package.into(),
            path: "package.json".into(),
            reason: "it declares workspaces, whose packages no registry integrity covers".into(),
        });
    }
    let tmp = tempfile::Builder::new()
        .prefix("mcp-warden-npm-")
        .tempdir()
        .map_err(|e| unresolved(format!("cannot make a private directory: {e}")))?;
    let work = tmp.path().join("package");
    let home = tmp.path().join("home");
    let empty_user = tmp.path().join("user-npmrc");
    let empty_global = tmp.path().join("global-npmrc");
    let io = |e: std::io::Error| unresolved(format!("cannot prepare the private directory: {e}"));
    std::fs::create_dir(&work).map_err(io)?;
    std::fs::create_dir(&home).map_err(io)?;
    std::fs::write(&empty_user, b"").map_err(io)?;
    std::fs::write(&empty_global, b"").map_err(io)?;
    std::fs::write(
        work.join("package.json"),
        serde_json::to_vec_pretty(&pj).map_err(|e| io(std::io::Error::other(e)))?,
    )
    .map_err(io)?;
    let shrinkwrap = dir.join("npm-shrinkwrap.json");
    if std::fs::symlink_metadata(&shrinkwrap).is_ok_and(|m| m.is_file()) {
        let bytes = fsutil::read_bounded(&shrinkwrap, MAX_LOCK_BYTES)
            .map_err(|e| invalid(format!("npm-shrinkwrap.json: {e}")))?;
        std::fs::write(work.join("npm-shrinkwrap.json"), bytes).map_err(io)?;
    }
    // npm trusts the same roots as mcp-warden: the system's, and the
    // extra CA files.
    let ca = super::ca_bundle(&r.ca_files);
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).map_err(io)?;

    let mut cmd = Command::new("npm");
    cmd.current_dir(&work)
        .env_clear()
        .env("HOME", &home)
        .env("npm_config_userconfig", &empty_user)
        .env("npm_config_globalconfig", &empty_global)
        .env("npm_config_cache", tmp.path().join("cache"))
        .env("NODE_EXTRA_CA_CERTS", &ca_file)
        .args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--omit=dev",
            "--no-omit-lockfile-registry-resolved",
            "--no-update-notifier",
            "--no-progress",
            "--loglevel=error",
            "--registry",
        ])
        .arg(&r.registry);
    super::pass_env(&mut cmd);
    let (status, output) = super::run_resolver(cmd, "npm", r.timeout).map_err(|e| match e {
        RunError::Missing { .. } => DepsError::NpmMissing {
            package: package.into(),
        },
        e => unresolved(e.to_string()),
    })?;
    if !status.success() {
        return Err(unresolved(format!(
            "npm exited with {status}: {}",
            crate::text::printable(output.trim(), 2000)
        )));
    }
    let lock_path = work.join("package-lock.json");
    let bytes = fsutil::read_bounded(&lock_path, MAX_LOCK_BYTES)
        .map_err(|e| invalid(format!("package-lock.json: {e}")))?;
    parse_lock(&bytes, package, &r.registry, &Platform::this())
}

/// The packages of npm's `package-lock.json` (lockfileVersion 2 or 3)
/// that the tree needs on `platform`, checked: see the module's comment.
pub fn parse_lock(
    bytes: &[u8],
    package: &str,
    registry: &str,
    platform: &Platform,
) -> Result<Vec<Locked>, DepsError> {
    let invalid = |detail: String| DepsError::LockInvalid {
        package: package.into(),
        detail,
    };
    if bytes.len() as u64 > MAX_LOCK_BYTES {
        return Err(invalid(format!(
            "{} bytes, more than the {MAX_LOCK_BYTES} a lock may have",
            bytes.len()
        )));
    }
    let lock: Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    match lock.get("lockfileVersion").and_then(Value::as_u64) {
        Some(2 | 3) => {}
        other => {
            return Err(invalid(format!(
                "lockfileVersion {other:?}; 2 or 3 (with a `packages` map) is read"
            )));
        }
    }
    let Some(packages) = lock.get("packages").and_then(Value::as_object) else {
        return Err(invalid("no `packages` map".into()));
    };
    if packages.len() > MAX_PACKAGES {
        return Err(invalid(format!(
            "{} packages, more than the {MAX_PACKAGES} a tree may have",
            packages.len()
        )));
    }
    let host = registry_host(registry).ok_or_else(|| {
        invalid(format!(
            "the registry `{}` is not an https URL",
            crate::text::printable(registry, 200)
        ))
    })?;
    let mut paths: Vec<&String> = packages.keys().collect();
    paths.sort();
    let mut dropped: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for path in paths {
        let entry = &packages[path];
        let refused = |reason: String| DepsError::Refused {
            package: package.into(),
            path: crate::text::printable(path, 300),
            reason,
        };
        let Some(e) = entry.as_object() else {
            return Err(invalid(format!(
                "the entry `{}` is not an object",
                crate::text::printable(path, 300)
            )));
        };
        if path.is_empty() {
            if e.get("workspaces").is_some() {
                return Err(refused(
                    "the package declares workspaces, whose packages no registry integrity covers"
                        .into(),
                ));
            }
            continue;
        }
        if dropped.iter().any(|d| path.starts_with(&format!("{d}/"))) {
            continue;
        }
        let flag = |k: &str| e.get(k).and_then(Value::as_bool).unwrap_or(false);
        if flag("dev") {
            continue;
        }
        let name_from_path = lock_path_name(path).map_err(&refused)?;
        if flag("link") {
            return Err(refused(
                "a link to a local directory (`link: true`), whose files no integrity covers"
                    .into(),
            ));
        }
        if flag("inBundle") {
            return Err(refused(
                "bundled inside its parent's tarball: its files are not checked on their own, and mcp-warden does not lay out bundled dependencies".into(),
            ));
        }
        if let Some(why) = platform_mismatch(e, platform) {
            if flag("optional") || flag("devOptional") {
                dropped.push(path.clone());
                continue;
            }
            return Err(refused(format!(
                "it runs only on {why}, and it is not optional"
            )));
        }
        let text = |k: &str| -> Result<String, DepsError> {
            match e.get(k) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(_) => Err(refused(format!("`{k}` is not a string"))),
                None => Err(refused(format!("no `{k}`"))),
            }
        };
        let version = text("version")?;
        if version.starts_with("file:") || version.contains("://") || version.starts_with("git") {
            return Err(refused(format!(
                "its version is the spec `{}`, not a registry release",
                crate::text::printable(&version, 200)
            )));
        }
        let resolved = text("resolved")?;
        check_resolved(&resolved, &host).map_err(&refused)?;
        let integrity = text("integrity")?;
        let digest = crate::source::npm::strongest_integrity(&integrity).map_err(|reason| {
            if reason.is_empty() {
                refused(format!(
                    "no sha512 integrity (only `{}`)",
                    crate::text::printable(&integrity, 80)
                ))
            } else {
                refused(reason)
            }
        })?;
        let name = match e.get("name") {
            Some(Value::String(n)) => {
                check_name(n).map_err(&refused)?;
                n.clone()
            }
            Some(_) => return Err(refused("`name` is not a string".into())),
            None => name_from_path,
        };
        out.push(Locked {
            path: path.clone(),
            name,
            version,
            resolved,
            integrity,
            digest,
            install_scripts: flag("hasInstallScript"),
        });
    }
    Ok(out)
}

/// `host[:port]` of an https registry URL, lowercase, without a default
/// port.
fn registry_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let a = authority.to_ascii_lowercase();
    Some(a.strip_suffix(":443").map(str::to_string).unwrap_or(a))
}

fn check_resolved(resolved: &str, host: &str) -> Result<(), String> {
    let shown = crate::text::printable(resolved, 200);
    let lower = resolved.to_ascii_lowercase();
    if lower.starts_with("file:") {
        return Err(format!("a local file or directory (`{shown}`)"));
    }
    if lower.starts_with("git") || lower.contains("git+") || lower.starts_with("github:") {
        return Err(format!("a git dependency (`{shown}`)"));
    }
    if lower.starts_with("http://") {
        return Err(format!("fetched over plain http (`{shown}`)"));
    }
    match registry_host(resolved) {
        None => Err(format!("`{shown}` is not an https URL")),
        Some(h) if h != host => Err(format!(
            "`{shown}` is on {h}, not on the registry's host {host}"
        )),
        Some(_) if resolved.chars().any(|c| c.is_control() || c == ' ') => {
            Err(format!("`{shown}` is not a plain URL"))
        }
        Some(_) => Ok(()),
    }
}

/// The package name a lock path ends with, each step of the path checked.
fn lock_path_name(path: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "`{}` is not a node_modules path",
            crate::text::printable(path, 200)
        )
    };
    let Some(rest) = path.strip_prefix("node_modules/") else {
        return Err(bad());
    };
    let mut last = None;
    for name in rest.split("/node_modules/") {
        check_name(name).map_err(|_| bad())?;
        last = Some(name);
    }
    last.map(str::to_string).ok_or_else(bad)
}

/// A package name as a directory: `name` or `@scope/name`, no empty, dot
/// or dot-dot component, nothing a path could be bent with.
fn check_name(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('/').collect();
    let shape = match parts.as_slice() {
        [one] => !one.starts_with('@'),
        [scope, _] => scope.starts_with('@') && scope.len() > 1,
        _ => false,
    };
    let fine = shape
        && name.len() <= 214
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && *p != "node_modules"
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '\\' | ':' | '%'))
        });
    if fine {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a package name",
            crate::text::printable(name, 200)
        ))
    }
}

/// What of `os`, `cpu` and `libc` excludes `platform`, as npm decides it.
fn platform_mismatch(e: &Map<String, Value>, platform: &Platform) -> Option<String> {
    for (key, this) in [
        ("os", Some(platform.os)),
        ("cpu", Some(platform.cpu)),
        ("libc", platform.libc),
    ] {
        let Some(list) = e.get(key) else { continue };
        let wanted: Vec<&str> = match list {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        if !platform_allows(&wanted, this) {
            return Some(format!("{key} {}", wanted.join(", ")));
        }
    }
    None
}

fn platform_allows(wanted: &[&str], this: Option<&str>) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let Some(this) = this else { return false };
    if wanted.iter().any(|w| w.strip_prefix('!') == Some(this)) {
        return false;
    }
    let positive: Vec<&&str> = wanted.iter().filter(|w| !w.starts_with('!')).collect();
    positive.is_empty() || positive.iter().any(|w| **w == this || **w == "any")
}

/// Downloads (or finds in the cache) every package's tarball; each is
/// checked against its sha512 integrity as it is stored. `warm` maps an
/// integrity to a cache key pinned before; `stored` collects the keys this
/// call stored anew, for the caller to discard on failure.
pub fn fetch_all(
    cache: &Cache,
    client: Option<&net::Client>,
    packages: &[Locked],
    max: u64,
    warm: &HashMap<String, String>,
    stored: &mut Vec<String>,
) -> Result<Vec<Blob>, Failure> {
    let mut wanted = Vec::with_capacity(packages.len());
    for p in packages {
        let want = p.digest.hex();
        if let Some(key) = warm.get(&p.integrity)
            && let Ok(Some(b)) = cache.blob_verified(key)
            && b.sha512.as_deref() == Some(want.as_str())
        {
            wanted.push(super::Wanted::Cached(b));
            continue;
        }
        wanted.push(super::Wanted::Fetch {
            url: &p.resolved,
            digest: &p.digest,
            about: format!("{} ({}@{})", p.path, p.name, p.version),
        });
    }
    super::download_all(cache, client, wanted, max, stored)
}

/// Lays out the tree: the package (`top`) at the root, each dependency at
/// its lock path. Returns the tree and, per package, whether its tarball
/// holds a `binding.gyp` (which npm would build).
pub fn lay_out(
    cache: &Cache,
    package: &str,
    top: &Blob,
    packages: &[Locked],
    blobs: &[Blob],
) -> Result<(Tree, Vec<bool>), Failure> {
    let parts: Vec<(&str, &Path)> = packages
        .iter()
        .zip(blobs)
        .map(|(p, b)| (p.path.as_str(), b.path.as_path()))
        .collect();
    let mut gyp = Vec::new();
    let tree = cache.put_built(|dest: &Path| -> Result<(), Failure> {
        gyp = build(dest, package, &top.path, &parts)?;
        Ok(())
    })?;
    Ok((tree, gyp))
}

/// Builds the tree of [`lay_out`] at `dest` (which does not exist yet;
/// its parent is free for scratch work) from the tarball `top` and each
/// `(lock path, tarball)`.
pub fn build(
    dest: &Path,
    package: &str,
    top: &Path,
    packages: &[(&str, &Path)],
) -> Result<Vec<bool>, Failure> {
    // Made durable as a whole by the cache (put_built).
    let limits = Limits {
        fsync_each: false,
        ..Limits::default()
    };
    let mut gyp = vec![false; packages.len()];
    let scratch = dest
        .parent()
        .ok_or_else(|| Failure::input(crate::diag::Code::Internal, "no work dir", None))?
        .to_path_buf();
    unpack_into(top, &scratch.join("top"), dest, &limits, package, ".")?;
    let mut order: Vec<usize> = (0..packages.len()).collect();
    order.sort_by(|a, b| packages[*a].0.cmp(packages[*b].0));
    for i in order {
        let (path, blob) = packages[i];
        let target = dest.join(path);
        let layout = |detail: String| DepsError::Layout {
            package: package.into(),
            path: path.into(),
            detail,
        };
        if std::fs::symlink_metadata(&target).is_ok() {
            return Err(layout(
                "its place is taken already (a dependency bundled by its parent?)".into(),
            )
            .into());
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| layout(e.to_string()))?;
        }
        unpack_into(
            blob,
            &scratch.join(format!("dep-{i}")),
            &target,
            &limits,
            package,
            path,
        )?;
        gyp[i] = std::fs::symlink_metadata(target.join("binding.gyp")).is_ok_and(|m| m.is_file());
    }
    Ok(gyp)
}

/// The packages `servers.lock` records for an npm tree, read back for
/// laying the same tree out again without resolving: every path, name,
/// URL and integrity checked as when npm's lock was read (the lock file
/// may have been edited).
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
        lock_path_name(&p.path).map_err(&refused)?;
        check_name(&p.name).map_err(&refused)?;
        // Any https host: the integrity pins the bytes.
        let host = registry_host(&p.resolved).ok_or_else(|| {
            refused(format!(
                "`{}` is not an https URL",
                crate::text::printable(&p.resolved, 200)
            ))
        })?;
        check_resolved(&p.resolved, &host).map_err(&refused)?;
        let digest = crate::source::npm::strongest_integrity(&p.integrity).map_err(|reason| {
            refused(if reason.is_empty() {
                "no sha512 integrity".into()
            } else {
                reason
            })
        })?;
        out.push(Locked {
            path: p.path.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            resolved: p.resolved.clone(),
            integrity: p.integrity.clone(),
            digest,
            install_scripts: p.install_scripts,
        });
    }
    Ok(out)
}

/// Extracts the tarball at `archive` into `scratch` and moves its package
/// directory to `target`.
fn unpack_into(
    archive: &Path,
    scratch: &Path,
    target: &Path,
    limits: &Limits,
    package: &str,
    path: &str,
) -> Result<(), Failure> {
    archive::extract(archive, Kind::TarGz, scratch, limits)
        .map_err(|e| Failure::from(e).about(path))?;
    let layout = |detail: String| DepsError::Layout {
        package: package.into(),
        path: path.into(),
        detail,
    };
    let dir = package_dir(scratch).map_err(layout)?;
    make_writable(&dir);
    std::fs::rename(&dir, target).map_err(|e| layout(e.to_string()))?;
    let _ = std::fs::remove_dir(scratch);
    Ok(())
}

/// Tarballs may carry read-only directories; their children are laid out
/// in them before the tree is sealed.
fn make_writable(dir: &Path) {
    #[cfg(unix)]
    {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REG: &str = "https://registry.example.org/";
    const LINUX: Platform = Platform {
        os: "linux",
        cpu: "x64",
        libc: Some("glibc"),
    };

    fn sri(byte: u8) -> String {
        use base64::Engine as _;
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode([byte; 64])
        )
    }

    fn pkg(name: &str, version: &str) -> Value {
        let base = name.rsplit('/').next().unwrap();
        json!({
            "version": version,
            "resolved": format!("https://registry.example.org/{name}/-/{base}-{version}.tgz"),
            "integrity": sri(7),
        })
    }

    fn lock(entries: &[(&str, Value)]) -> Vec<u8> {
        let mut packages = serde_json::Map::new();
        packages.insert("".into(), json!({"name": "top", "version": "1.0.0"}));
        for (path, e) in entries {
            packages.insert((*path).into(), e.clone());
        }
        serde_json::to_vec(&json!({"name": "top", "lockfileVersion": 3, "packages": packages}))
            .unwrap()
    }

    fn parse(bytes: &[u8]) -> Result<Vec<Locked>, DepsError> {
        parse_lock(bytes, "npm:top@1.0.0", REG, &LINUX)
    }

    fn refused(entries: &[(&str, Value)], want: &str) {
        match parse(&lock(entries)) {
            Err(e @ DepsError::Refused { .. }) => {
                assert!(e.to_string().contains(want), "{want}: {e}");
                assert_eq!(e.code(), crate::diag::Code::DependencyRefused);
            }
            other => panic!("{want}: {other:?}"),
        }
    }

    use crate::diag::Diagnose as _;

    #[test]
    fn a_registry_tree_is_read_in_path_order_with_its_install_scripts() {
        let mut nested = pkg("@s/b", "2.0.0");
        nested["hasInstallScript"] = true.into();
        let mut alias = pkg("real-name", "1.0.0");
        alias["name"] = "real-name".into();
        let mut dev = pkg("jest", "1.0.0");
        dev["dev"] = true.into();
        let got = parse(&lock(&[
            ("node_modules/a", pkg("a", "1.0.0")),
            ("node_modules/a/node_modules/@s/b", nested),
            ("node_modules/alias", alias),
            ("node_modules/jest", dev),
        ]))
        .unwrap();
        let paths: Vec<&str> = got.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "node_modules/a",
                "node_modules/a/node_modules/@s/b",
                "node_modules/alias"
            ]
        );
        assert_eq!(got[1].name, "@s/b");
        assert!(got[1].install_scripts && !got[0].install_scripts);
        assert_eq!(got[2].name, "real-name");
        assert_eq!(got[0].digest.bytes, vec![7u8; 64]);
        // lockfileVersion 2 reads the same.
        let v2 = String::from_utf8(lock(&[("node_modules/a", pkg("a", "1.0.0"))]))
            .unwrap()
            .replace("\"lockfileVersion\":3", "\"lockfileVersion\":2");
        assert_eq!(parse(v2.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn malformed_truncated_and_oversized_locks_are_refused() {
        let good = lock(&[("node_modules/a", pkg("a", "1.0.0"))]);
        for bad in [
            b"".to_vec(),
            b"[]".to_vec(),
            b"{".to_vec(),
            good[..good.len() / 2].to_vec(),
            br#"{"lockfileVersion":1,"dependencies":{}}"#.to_vec(),
            br#"{"lockfileVersion":3}"#.to_vec(),
            br#"{"lockfileVersion":3,"packages":[]}"#.to_vec(),
            br#"{"lockfileVersion":3,"packages":{"node_modules/a":3}}"#.to_vec(),
        ] {
            let e = parse(&bad).unwrap_err();
            assert!(
                matches!(e, DepsError::LockInvalid { .. }),
                "{}: {e}",
                String::from_utf8_lossy(&bad)
            );
        }
        let mut big = good.clone();
        big.resize(MAX_LOCK_BYTES as usize + 1, b' ');
        assert!(parse(&big).unwrap_err().to_string().contains("more than"));
        let many: Vec<(String, Value)> = (0..=MAX_PACKAGES)
            .map(|i| (format!("node_modules/p{i}"), pkg(&format!("p{i}"), "1.0.0")))
            .collect();
        let many: Vec<(&str, Value)> = many.iter().map(|(p, v)| (p.as_str(), v.clone())).collect();
        assert!(
            parse(&lock(&many))
                .unwrap_err()
                .to_string()
                .contains("packages, more than")
        );
    }

    #[test]
    fn what_no_registry_integrity_covers_is_refused() {
        let with = |k: &str, v: Value| {
            let mut p = pkg("a", "1.0.0");
            p[k] = v;
            p
        };
        let without = |k: &str| {
            let mut p = pkg("a", "1.0.0");
            p.as_object_mut().unwrap().remove(k);
            p
        };
        let a = "node_modules/a";
        refused(&[(a, with("link", true.into()))], "link: true");
        refused(&[(a, with("inBundle", true.into()))], "bundled");
        refused(&[(a, with("resolved", "file:../a".into()))], "local file");
        refused(
            &[(
                a,
                with("resolved", "git+ssh://git@github.com/a/a.git#abc".into()),
            )],
            "git dependency",
        );
        refused(
            &[(
                a,
                with(
                    "resolved",
                    "http://registry.example.org/a/-/a-1.0.0.tgz".into(),
                ),
            )],
            "plain http",
        );
        refused(
            &[(
                a,
                with("resolved", "https://evil.example/a/-/a-1.0.0.tgz".into()),
            )],
            "not on the registry's host registry.example.org",
        );
        refused(
            &[(a, with("version", "file:../a".into()))],
            "not a registry release",
        );
        refused(&[(a, without("integrity"))], "no `integrity`");
        refused(&[(a, without("resolved"))], "no `resolved`");
        refused(&[(a, without("version"))], "no `version`");
        refused(
            &[(
                a,
                with("integrity", "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=".into()),
            )],
            "no sha512 integrity",
        );
        refused(&[(a, with("integrity", "sha512-AAAA".into()))], "not 64");
        refused(
            &[(a, with("name", "../../etc".into()))],
            "not a package name",
        );
        for path in [
            "node_modules/../x",
            "node_modules/a/../../x",
            "lib/a",
            "node_modules/",
            "node_modules/@s",
            "node_modules/a\\b",
            "node_modules/.bin",
        ] {
            refused(&[(path, pkg("a", "1.0.0"))], "not a node_modules path");
        }
        // Workspaces of the root.
        let ws = br#"{"lockfileVersion":3,"packages":{"":{"workspaces":["x"]}}}"#;
        assert!(parse(ws).unwrap_err().to_string().contains("workspaces"));
        // The registry's port counts; 443 is the default.
        let port = |reg: &str, url: &str| {
            let l = lock(&[(a, with("resolved", url.into()))]);
            parse_lock(&l, "top", reg, &LINUX).is_ok()
        };
        assert!(port("https://r.example:443", "https://r.example/a.tgz"));
        assert!(!port("https://r.example:8443", "https://r.example/a.tgz"));
        assert!(!port("https://r.example", "https://r.example.evil/a.tgz"));
        assert!(!port("https://r.example", "https://user@r.example/a.tgz"));
    }

    #[test]
    fn optional_packages_for_another_platform_are_dropped_with_their_children() {
        let plat = |os: Value, cpu: Value, optional: bool| {
            let mut p = pkg("x", "1.0.0");
            p["os"] = os;
            p["cpu"] = cpu;
            p["optional"] = optional.into();
            p
        };
        let got = parse(&lock(&[
            (
                "node_modules/@esbuild/linux-x64",
                plat(json!(["linux"]), json!(["x64"]), true),
            ),
            (
                "node_modules/@esbuild/darwin-arm64",
                plat(json!(["darwin"]), json!(["arm64"]), true),
            ),
            (
                "node_modules/@esbuild/darwin-arm64/node_modules/y",
                pkg("y", "1.0.0"),
            ),
            (
                "node_modules/not-win",
                plat(json!(["!win32"]), json!([]), true),
            ),
            (
                "node_modules/not-linux",
                plat(json!(["!linux"]), json!([]), true),
            ),
        ]))
        .unwrap();
        let paths: Vec<&str> = got.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            paths,
            ["node_modules/@esbuild/linux-x64", "node_modules/not-win"]
        );
        // Not optional: npm would refuse to install it here.
        refused(
            &[(
                "node_modules/mac",
                plat(json!(["darwin"]), json!([]), false),
            )],
            "runs only on os darwin",
        );
        let mut musl = pkg("m", "1.0.0");
        musl["libc"] = json!(["musl"]);
        musl["optional"] = true.into();
        assert!(
            parse(&lock(&[("node_modules/m", musl)]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn dependencies_bundled_by_the_package_need_no_resolving() {
        assert!(!has_dependencies(&json!({"name": "x"})));
        assert!(!has_dependencies(&json!({"dependencies": {}})));
        assert!(!has_dependencies(
            &json!({"dependencies": {"a": "1"}, "bundleDependencies": ["a"]})
        ));
        assert!(has_dependencies(&json!({"dependencies": {"a": "1"}})));
        assert!(has_dependencies(
            &json!({"optionalDependencies": {"a": "1"}})
        ));
        assert!(!has_dependencies(&json!({"devDependencies": {"a": "1"}})));
    }
}
