//! Re-creating a pinned server's files from `servers.lock` alone: the
//! artifact fetched again from its recorded URL and checked against its
//! sha256 and sha512, every package of its tree from its `resolved` URL
//! against its integrity, and the tree laid out by the same code as `add`,
//! without running any resolver. The tree must come out with the pinned
//! tree digest; whatever fails, nothing new is left in the cache. Used by
//! `add --locked` and by `run` on a cache that lacks the files.

use std::collections::HashMap;
use std::path::Path;

use crate::archive::{self, Kind as ArchiveKind};
use crate::cache::{Blob, Cache};
use crate::context::Context;
use crate::diag::{Code, Failure};
use crate::digest::Digest;
use crate::lock::Entry;
use crate::net;
use crate::source::ArtifactKind;

/// The hint of every failure to fetch what the lock pins.
pub const HINT: &str = "the pinned files are fetched again from the URLs servers.lock records: on a machine with the network, `mcp-warden add --locked` fetches and checks them once";

/// What [`restore`] did.
#[derive(Debug, Default)]
pub struct Restored {
    /// Files downloaded (the artifact and packages not in the cache).
    pub fetched: usize,
}

/// A client for fetching what the lock pins (`None`: offline).
pub fn client(offline: bool) -> Result<Option<net::Client>, Failure> {
    if offline {
        return Ok(None);
    }
    let wait = std::time::Duration::from_secs(30);
    let opts = net::Options {
        ca_files: Vec::new(),
        progress: false,
        connect_timeout: wait,
        read_timeout: wait,
        deadline: Some(std::time::Duration::from_secs(600)),
        min_rate: Some(net::MinRate {
            bytes_per_sec: 1024,
            window: wait,
        }),
    };
    Ok(Some(net::Client::new(&opts)?))
}

/// Re-creates `entry`'s artifact and tree in the cache from the lock. The
/// caller verifies the result as `run` does.
pub fn restore(
    ctx: &Context,
    name: &str,
    entry: &Entry,
    client: Option<&net::Client>,
    max: u64,
) -> Result<Restored, Failure> {
    let cache = Cache::open(&ctx.cache_dir)?;
    let _c = cache.lock()?;
    let mut stored: Vec<String> = Vec::new();
    let mut built: Option<String> = None;
    let res =
        restore_held(&cache, name, entry, client, max, &mut stored, &mut built).map_err(with_hint);
    if res.is_err() {
        // Nothing new stays: the cache is as it was before.
        if let Some(key) = built {
            cache.discard_tree(&key);
        }
        for key in &stored {
            let _ = std::fs::remove_file(cache.blob_path(key));
        }
    }
    res
}

fn restore_held(
    cache: &Cache,
    name: &str,
    entry: &Entry,
    client: Option<&net::Client>,
    max: u64,
    stored: &mut Vec<String>,
    built: &mut Option<String>,
) -> Result<Restored, Failure> {
    if entry.kind == ArtifactKind::Directory {
        return Err(gone(
            Code::CacheMismatch,
            format!(
                "{name}: pinned from a directory of this machine, which is not in the cache; its files cannot be fetched again"
            ),
            Some(format!("pin it again: `mcp-warden add {name} DIR`")),
        ));
    }
    // The evidence the verdict rests on is kept in the cache; the lock
    // records no place to fetch it from, so it must be there.
    for f in &entry.evidence_files {
        if !matches!(cache.blob_verified(&f.sha256), Ok(Some(_))) {
            return Err(gone(
                Code::CacheMismatch,
                format!(
                    "{name}: the {} file sha256:{} its pin rests on is not in the cache, and servers.lock records no place to fetch it from",
                    f.role, f.sha256
                ),
                Some(format!(
                    "pin it again: `mcp-warden add {name} {}`",
                    entry.source
                )),
            ));
        }
    }
    let mut done = Restored::default();
    let before = stored.len();
    let top = top_blob(cache, name, entry, client, max, stored)?;
    let Some(key) = &entry.tree else {
        done.fetched = stored.len() - before;
        return Ok(done);
    };
    let tree = if entry.packages.is_empty() {
        let kind = match entry.kind {
            ArtifactKind::NpmTarball | ArtifactKind::Sdist => Some(ArchiveKind::TarGz),
            ArtifactKind::Wheel | ArtifactKind::Mcpb => Some(ArchiveKind::Zip),
            ArtifactKind::File => {
                archive::kind_of_file(&top.path).map_err(|e| super::internal(&e))?
            }
            ArtifactKind::Directory => None,
        };
        let Some(kind) = kind else {
            return Err(Failure::input(
                Code::LockInvalid,
                format!("{name}: the lock pins a tree for a file that is not an archive"),
                None,
            ));
        };
        cache.unpack(&top, kind, &archive::Limits::default())?
    } else {
        let package = &entry.source;
        match entry.kind {
            ArtifactKind::NpmTarball => {
                let locked = crate::deps::npm::from_lock(&entry.packages, package)?;
                let warm: HashMap<String, String> = entry
                    .packages
                    .iter()
                    .map(|p| (p.integrity.clone(), p.sha256.clone()))
                    .collect();
                let blobs =
                    crate::deps::npm::fetch_all(cache, client, &locked, max, &warm, stored)?;
                crate::deps::npm::lay_out(cache, package, &top, &locked, &blobs)?.0
            }
            ArtifactKind::Wheel => {
                let locked = crate::deps::pypi::from_lock(&entry.packages, package)?;
                let blobs = crate::deps::pypi::fetch_all(cache, client, &locked, max, stored)?;
                let own = entry
                    .url
                    .as_deref()
                    .and_then(|u| u.rsplit('/').next())
                    .unwrap_or("wheel")
                    .to_string();
                let mut wheels: Vec<(String, &Path)> = vec![(own, &top.path)];
                wheels.extend(
                    locked
                        .iter()
                        .zip(&blobs)
                        .map(|(l, b)| (l.filename.clone(), b.path.as_path())),
                );
                let (tree, infos, _) = crate::deps::pypi::lay_out(cache, package, &wheels)?;
                *built = Some(tree.key.clone());
                let recorded = entry.packages.iter().map(|p| p.path.as_str());
                if !infos.iter().skip(1).map(String::as_str).eq(recorded) {
                    return Err(mismatch(
                        name,
                        "the wheels fetched again do not install the *.dist-info the lock records"
                            .into(),
                    ));
                }
                tree
            }
            _ => {
                return Err(Failure::input(
                    Code::LockInvalid,
                    format!(
                        "{name}: the lock records packages for a {:?} artifact",
                        entry.kind
                    ),
                    None,
                ));
            }
        }
    };
    if built.is_none() && &tree.key != key {
        *built = Some(tree.key.clone());
    }
    let expected = entry.tree_digest.as_deref().unwrap_or(&entry.sha256);
    if &tree.key != key || tree.digest != expected {
        *built = Some(tree.key.clone());
        return Err(mismatch(
            name,
            format!(
                "the files fetched again lay out to tree digest {}, not the pinned {expected}",
                tree.digest
            ),
        ));
    }
    done.fetched = stored.len() - before;
    // The SBOM judged at add is made of the tree alone: made again, it
    // must be the same bytes.
    if let Some(want) = &entry.sbom
        && !matches!(cache.blob_verified(want), Ok(Some(_)))
    {
        let mut judged = entry.clone();
        judged.sbom = None;
        judged.receipt = None;
        let made = crate::sbom::generate::generate(name, &judged, Some(tree.path.as_path()))
            .map_err(Failure::from)?;
        let made_sha = {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(&made.bytes))
        };
        if &made_sha != want {
            return Err(mismatch(
                name,
                format!(
                    "the SBOM made of the files fetched again is sha256:{made_sha}, not the pinned sha256:{want}"
                ),
            ));
        }
        let blob = cache.put_reader(&made.bytes[..], made.bytes.len() as u64, &[])?;
        stored.push(blob.sha256);
    }
    Ok(done)
}

/// The artifact itself: from the cache when it is there with its
/// digests, else from the URL the lock records.
fn top_blob(
    cache: &Cache,
    name: &str,
    entry: &Entry,
    client: Option<&net::Client>,
    max: u64,
    stored: &mut Vec<String>,
) -> Result<Blob, Failure> {
    if let Ok(Some(b)) = cache.blob_verified(&entry.sha256)
        && b.sha512 == entry.sha512
    {
        return Ok(b);
    }
    let Some(url) = entry.url.as_deref() else {
        return Err(gone(
            Code::CacheMismatch,
            format!(
                "{name}: the pinned artifact sha256:{} is not in the cache, and servers.lock records no URL to fetch it from",
                entry.sha256
            ),
            Some(format!(
                "pin it again: `mcp-warden add {name} {}`",
                entry.source
            )),
        ));
    };
    let Some(sha512) = &entry.sha512 else {
        return Err(Failure::input(
            Code::LockInvalid,
            format!("{name}: no sha512 pinned"),
            None,
        ));
    };
    let want: Vec<Digest> = [
        format!("sha256:{}", entry.sha256),
        format!("sha512:{sha512}"),
    ]
    .iter()
    .map(|d| d.parse())
    .collect::<Result<_, _>>()
    .map_err(|e| Failure::input(Code::LockInvalid, format!("{name}: {e}"), None))?;
    let about = format!("{name} ({})", entry.source);
    let Some(client) = client else {
        return Err(offline(url));
    };
    let body = client
        .get(url, max)
        .map_err(|e| with_hint(Failure::from(e).about(&about)))?;
    let b = cache
        .put_reader(body, max, &want)
        .map_err(|e| Failure::from(e).about(&about))?;
    stored.push(b.sha256.clone());
    Ok(b)
}

/// `--offline` and the files are not in the cache.
pub fn offline(url: &str) -> Failure {
    Failure::input(
        Code::FetchFailed,
        format!(
            "--offline: the pinned files are not in the cache, and {url} would have to be fetched"
        ),
        Some(HINT.into()),
    )
}

/// A fetch that failed, with the way to fetch once.
pub fn with_hint(mut f: Failure) -> Failure {
    for d in &mut f.diagnostics {
        if d.code == Code::FetchFailed {
            d.hint = Some(HINT.into());
        }
    }
    f
}

/// The pinned files are missing and cannot be fetched again: like a
/// changed cache, a failed verification (exit 1).
fn gone(code: Code, what: String, hint: Option<String>) -> Failure {
    let mut f = Failure::input(code, what, hint);
    f.exit = 1;
    f
}

fn mismatch(name: &str, what: String) -> Failure {
    let mut f = Failure::input(
        Code::CacheMismatch,
        format!("{name}: {what}; nothing was kept"),
        Some("servers.lock and the registry disagree: check who edited the lock, or pin the server again with `mcp-warden add`".into()),
    );
    f.exit = 1;
    f
}

/// `add --locked [NAME]`: every server servers.lock pins (or the one
/// named) fetched into the cache from the lock where it is missing, then
/// verified as `run` verifies it. servers.lock is not written.
pub fn add_locked(
    ctx: &Context,
    only: Option<&str>,
    fetch: &super::pin::FetchRequest,
) -> Result<Vec<(String, Restored)>, super::launch::Refused> {
    let lock_path = ctx.config_dir.join("servers.lock");
    let _held = crate::lock::hold(&lock_path).map_err(Failure::from)?;
    let lock = crate::lock::Lock::load(&lock_path).map_err(Failure::from)?;
    let names: Vec<&String> = match only {
        Some(n) => match lock.servers.get_key_value(n) {
            Some((k, _)) => vec![k],
            None => {
                return Err(Failure::input(
                    Code::ServerUnknown,
                    format!("no server named `{n}` is pinned"),
                    Some("`mcp-warden list` shows the pinned servers".into()),
                )
                .into());
            }
        },
        None => lock.servers.keys().collect(),
    };
    let trust = super::judge::load_trust(ctx)?;
    let policies = super::judge::load_policies(ctx, &trust)?;
    let client = fetch.client()?;
    let cache = Cache::open(&ctx.cache_dir).map_err(Failure::from)?;
    let mut out = Vec::new();
    for name in names {
        let entry = &lock.servers[name];
        let missing = match &entry.tree {
            Some(key) => !matches!(cache.tree(key), Ok(Some(_))),
            None => !matches!(cache.blob(&entry.sha256), Ok(Some(_))),
        };
        let done = match missing {
            true => restore(ctx, name, entry, client.as_ref(), fetch.max_size)?,
            false => Restored::default(),
        };
        // Judged again as `run` judges it, and its tree compared with the
        // pinned digest.
        super::launch::verify_in_full(ctx, name, entry, &trust, &policies, None)?;
        if let Some(key) = &entry.tree {
            super::launch::check_tree(
                ctx,
                name,
                entry,
                &cache.root().join("trees/sha256").join(key),
            )?;
        }
        out.push((name.clone(), done));
    }
    Ok(out)
}

/// How many files, and packages, a message about a changed tree names.
const SHOWN: usize = 5;

/// Which packages' files differ between `listing` (the tree as it is) and
/// the tree laid out again, in a scratch directory, from the tarballs or
/// wheels in the cache; `None` when that cannot be done.
///
/// The expected files are rebuilt rather than kept in a manifest beside
/// the tree: the cache holds every file the tree was laid out from, each
/// checked against its pinned digest here, and the rebuilt tree counts
/// only when its digest is the pinned tree digest, so nothing besides
/// `servers.lock` has to be trusted (a manifest would be one more file an
/// attacker who rewrites the tree could rewrite too). It runs only after
/// a mismatch; no network, no resolver.
pub fn changed_packages(
    ctx: &Context,
    entry: &Entry,
    listing: &[(Vec<u8>, String)],
) -> Option<String> {
    if entry.packages.is_empty() {
        return None;
    }
    let cache = Cache::open(&ctx.cache_dir).ok()?;
    let top = cache.blob_verified(&entry.sha256).ok()??;
    let tmp = tempfile::Builder::new()
        .prefix("mcp-warden-expected-")
        .tempdir()
        .ok()?;
    let dest = tmp.path().join("tree");
    let blob = |key: &str| cache.blob_verified(key).ok().flatten();
    match entry.kind {
        ArtifactKind::NpmTarball => {
            let locked = crate::deps::npm::from_lock(&entry.packages, &entry.source).ok()?;
            let mut blobs = Vec::with_capacity(locked.len());
            for (l, p) in locked.iter().zip(&entry.packages) {
                let b = blob(&p.sha256)?;
                (b.sha512.as_deref() == Some(l.digest.hex().as_str())).then_some(())?;
                blobs.push(b);
            }
            let parts: Vec<(&str, &Path)> = locked
                .iter()
                .zip(&blobs)
                .map(|(l, b)| (l.path.as_str(), b.path.as_path()))
                .collect();
            crate::deps::npm::build(&dest, &entry.source, &top.path, &parts).ok()?;
        }
        ArtifactKind::Wheel => {
            crate::deps::pypi::from_lock(&entry.packages, &entry.source).ok()?;
            let blobs: Vec<Blob> = entry
                .packages
                .iter()
                .map(|p| blob(&p.sha256))
                .collect::<Option<_>>()?;
            let mut wheels: Vec<(String, &Path)> = vec![("wheel".into(), &top.path)];
            wheels.extend(
                entry
                    .packages
                    .iter()
                    .zip(&blobs)
                    .map(|(p, b)| (p.name.clone(), b.path.as_path())),
            );
            crate::deps::pypi::build(&dest, &entry.source, &wheels).ok()?;
        }
        _ => return None,
    }
    let expected = crate::cache::tree_listing(&dest).ok()?;
    let pinned = entry.tree_digest.as_deref()?;
    if crate::cache::listing_digest(&expected) != pinned {
        return None;
    }
    let changed = differing(&expected, listing);
    let owners = owners(entry, &dest);
    let mut groups: Vec<(Option<usize>, Vec<String>)> = Vec::new();
    for path in changed {
        let owner = owner_of(entry, &owners, &path);
        match groups.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, files)) => files.push(path),
            None => groups.push((owner, vec![path])),
        }
    }
    if groups.is_empty() {
        return None;
    }
    let count = groups.len();
    let mut parts: Vec<String> = groups
        .iter()
        .take(SHOWN)
        .map(|(owner, files)| {
            let mut shown: Vec<String> = files
                .iter()
                .take(SHOWN)
                .map(|f| crate::text::printable(f, 300))
                .collect();
            if files.len() > SHOWN {
                shown.push(format!("and {} more", files.len() - SHOWN));
            }
            let whose = match owner {
                Some(i) => {
                    let p = &entry.packages[*i];
                    format!(
                        "the files of {} ({}@{})",
                        crate::text::printable(&p.path, 300),
                        crate::text::printable(&p.name, 200),
                        crate::text::printable(&p.version, 100)
                    )
                }
                None => "the server's own files".into(),
            };
            format!(
                "{whose} changed since they were pinned: {}",
                shown.join(", ")
            )
        })
        .collect();
    if count > SHOWN {
        parts.push(format!("and {} more packages", count - SHOWN));
    }
    Some(parts.join("; "))
}

/// The paths (not directories) that are in one listing and not the other,
/// or in both with another content, mode or link target.
fn differing(expected: &[(Vec<u8>, String)], now: &[(Vec<u8>, String)]) -> Vec<String> {
    let a: HashMap<&[u8], &str> = expected
        .iter()
        .map(|(p, h)| (p.as_slice(), h.as_str()))
        .collect();
    let b: HashMap<&[u8], &str> = now
        .iter()
        .map(|(p, h)| (p.as_slice(), h.as_str()))
        .collect();
    let mut out: Vec<String> = a
        .iter()
        .filter(|(p, h)| b.get(*p) != Some(h) && (**h != "d - -" || !b.contains_key(*p)))
        .chain(
            b.iter()
                .filter(|(p, h)| !a.contains_key(*p) && **h != "d - -"),
        )
        .map(|(p, _)| String::from_utf8_lossy(p).into_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A wheel's files, from the `RECORD` of each package's `*.dist-info` in
/// the rebuilt tree: file path to the package's index.
fn owners(entry: &Entry, tree: &Path) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    if entry.kind != ArtifactKind::Wheel {
        return out;
    }
    for (i, p) in entry.packages.iter().enumerate() {
        let record = tree.join(&p.path).join("RECORD");
        let Ok(text) = crate::fsutil::read_text_bounded(&record, 16 << 20) else {
            continue;
        };
        for line in text.lines() {
            if let Some(file) = line.split(',').next().filter(|f| !f.is_empty()) {
                out.insert(file.to_string(), i);
            }
        }
    }
    out
}

/// The package a tree path belongs to: npm, the longest lock path that
/// holds it; a wheel, the `RECORD` that lists it (or its source, for
/// byte-code), or the `*.dist-info` it is in.
fn owner_of(entry: &Entry, owners: &HashMap<String, usize>, path: &str) -> Option<usize> {
    let inside = |dir: &str| path == dir || path.starts_with(&format!("{dir}/"));
    if entry.kind == ArtifactKind::Wheel {
        if let Some(i) = owners.get(path) {
            return Some(*i);
        }
        // `a/__pycache__/b.cpython-312.pyc` is compiled from `a/b.py`.
        if let Some((dir, file)) = path
            .rsplit_once("/__pycache__/")
            .or_else(|| path.strip_prefix("__pycache__/").map(|f| ("", f)))
            && let Some(stem) = file.split('.').next()
        {
            let source = match dir {
                "" => format!("{stem}.py"),
                d => format!("{d}/{stem}.py"),
            };
            if let Some(i) = owners.get(&source) {
                return Some(*i);
            }
        }
        return entry.packages.iter().position(|p| inside(&p.path));
    }
    entry
        .packages
        .iter()
        .enumerate()
        .filter(|(_, p)| inside(&p.path))
        .max_by_key(|(_, p)| p.path.len())
        .map(|(i, _)| i)
}
