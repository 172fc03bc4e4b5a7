//! What a pinned server rests on in the cache: its artifact, the evidence
//! `add` kept, and the fingerprint its receipts are keyed by.

use std::path::PathBuf;

use super::judge::EvidenceRequest;
use crate::cache::Cache;
use crate::context::Context;
use crate::diag::{Code, Failure};
use crate::lock::Entry;
use crate::receipt::Fingerprint;
use crate::source::ArtifactKind;
use crate::verify::ArtifactRef;

/// The artifact `add` pinned for `server`, re-hashed in the cache when
/// `rehash_artifact`; when no evidence file was given, the evidence `add`
/// kept goes into `ev`, with the reason of an `--unsigned` pin.
pub fn artifact(
    ctx: &Context,
    server: &str,
    ev: &mut EvidenceRequest,
    rehash_artifact: bool,
) -> Result<ArtifactRef, Failure> {
    let lock_path = ctx.config_dir.join("servers.lock");
    let lock = crate::lock::Lock::load(&lock_path)?;
    let Some(entry) = lock.servers.get(server) else {
        return Err(Failure::input(
            Code::ServerUnknown,
            format!("no server named `{server}` is pinned, and no artifact was given"),
            Some("pass the artifact, or pin the server with `mcp-warden add NAME SOURCE`".into()),
        ));
    };
    let cache = Cache::open(&ctx.cache_dir)?;
    let damaged = |what: String| -> Failure {
        Failure::input(
            Code::CacheMismatch,
            what,
            Some(format!(
                "the cached copy changed since `add`; run `mcp-warden cache gc`, then `mcp-warden add {server} ...` again"
            )),
        )
    };
    let artifact = if entry.kind == ArtifactKind::Directory {
        let tree = entry
            .tree
            .as_deref()
            .and_then(|t| cache.tree(t).ok().flatten())
            .ok_or_else(|| {
                damaged(format!(
                    "{server}: the pinned directory is not in the cache"
                ))
            })?;
        let now = crate::cache::tree_digest(&tree.path).map_err(|e| damaged(e.to_string()))?;
        if now != entry.sha256 {
            return Err(damaged(format!(
                "{server}: the cached directory has tree digest {now}, not the pinned {}",
                entry.sha256
            )));
        }
        ArtifactRef::Digest(
            format!("sha256:{now}")
                .parse()
                .map_err(|e| damaged(format!("{e}")))?,
        )
    } else {
        // Without the re-hash here the caller must compare the SHA-256
        // that verification computes anyway with the pinned one.
        let found = match rehash_artifact {
            true => cache.blob_verified(&entry.sha256),
            false => cache.blob(&entry.sha256),
        };
        match found {
            Ok(Some(b)) => ArtifactRef::Path(b.path),
            Ok(None) => {
                return Err(damaged(format!(
                    "{server}: the pinned artifact sha256:{} is not in the cache",
                    entry.sha256
                )));
            }
            Err(e) => return Err(damaged(format!("{server}: {e}"))),
        }
    };
    // Where it was fetched from, as `add` resolved it.
    ev.origin.get_or_insert_with(|| entry.origin());
    if ev.files().next().is_none() {
        // What `add` rested on includes a pin without a signature.
        if ev.unsigned.is_none() {
            ev.unsigned = entry.unsigned.clone();
        }
        for f in &entry.evidence_files {
            let path = match cache.blob_verified(&f.sha256) {
                Ok(Some(b)) => b.path,
                _ => {
                    return Err(damaged(format!(
                        "{server}: the kept {} file sha256:{} is missing or changed",
                        f.role, f.sha256
                    )));
                }
            };
            match ev.files_mut(&f.role) {
                Some(list) => list.push(path),
                None => {
                    return Err(damaged(format!(
                        "{server}: unknown evidence role `{}`",
                        f.role
                    )));
                }
            }
        }
    }
    Ok(artifact)
}

/// The cached file an entry rests on: its blob, or for a directory its
/// tree record.
pub fn cached_file(ctx: &Context, e: &Entry) -> PathBuf {
    let cache = Cache::at(&ctx.cache_dir);
    match (e.kind, &e.tree) {
        (ArtifactKind::Directory, Some(t)) => cache.tree_record(t),
        _ => cache.blob_path(&e.sha256),
    }
}

/// The fingerprint of the cached file and, for an archive, of its
/// unpacked tree: a tree changed since (even with its record rewritten to
/// match) makes the next `add` derive it again from the verified bytes.
pub fn fingerprint(ctx: &Context, e: &Entry) -> Option<Fingerprint> {
    let file = Fingerprint::of_regular_file(&cached_file(ctx, e)).ok()?;
    match &e.tree {
        Some(t) if e.kind != ArtifactKind::Directory => {
            let tree = Cache::at(&ctx.cache_dir)
                .root()
                .join("trees/sha256")
                .join(t);
            Some(file.and(&Fingerprint::of_tree(&tree).ok()?))
        }
        _ => Some(file),
    }
}
