//! `add`, `update`, `remove` and the cache's upkeep: fetch into the cache,
//! judge with the checks of `verify`, and pin in servers.lock.
//!
//! Order matters: the artifact is stored (hashed while written) and
//! verified before anything is unpacked, and the lock is written last, so
//! a failure at any step leaves the lock as it was and nothing
//! half-written in the cache.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::judge::{self, EvidenceRequest, identity_rule, load_policies, load_trust};
use super::pinned::fingerprint as pinned_fingerprint;
use crate::archive::{self, Kind as ArchiveKind};
use crate::cache::{Blob, Cache, GcReport};
use crate::context::Context;
use crate::diag::{Code, Diagnostic, Failure};
use crate::evidence::{Evidence, Origin};
use crate::lock::{self, Entry, EnvVar, Lock, RunSettings};
use crate::net::{self, NetError};
use crate::policy;
use crate::receipt::{self, Receipt};
use crate::report::{Report, Verdict};
use crate::sbom::advisories::AdvisoryDb;
use crate::source::{self, ArtifactKind, Location, Resolved, Source};
use crate::verify::ArtifactRef;

/// Where and how sources are fetched.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub registry: Option<String>,
    pub pypi_url: Option<String>,
    pub registry_url: Option<String>,
    pub ca_file: Vec<PathBuf>,
    /// Use only the cache: fail instead of fetching.
    pub offline: bool,
    pub max_size: u64,
    /// Seconds one download may take in all.
    pub timeout: u64,
    /// Bytes per second, 0 for no minimum.
    pub min_rate: u64,
    pub min_rate_window: u64,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Resolve and pin an npm package's dependency tree.
    pub dependencies: bool,
}

impl FetchRequest {
    /// The HTTP client these flags ask for; `None` with `--offline`.
    /// `--timeout` bounds the whole download; no single wait is longer.
    pub(crate) fn client(&self) -> Result<Option<net::Client>, Failure> {
        if self.offline {
            return Ok(None);
        }
        let wait = std::time::Duration::from_secs(self.timeout.min(30));
        let opts = net::Options {
            ca_files: self.ca_file.clone(),
            progress: self.progress,
            connect_timeout: wait,
            read_timeout: wait,
            deadline: Some(std::time::Duration::from_secs(self.timeout)),
            min_rate: (self.min_rate > 0).then(|| net::MinRate {
                bytes_per_sec: self.min_rate,
                window: std::time::Duration::from_secs(self.min_rate_window),
            }),
        };
        Ok(Some(net::Client::new(&opts)?))
    }
}

/// `add NAME SOURCE`.
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub name: String,
    pub source: String,
    pub evidence: EvidenceRequest,
    pub fetch: FetchRequest,
    pub allow_downgrade: bool,
    /// `-- ARGS`: the server arguments to pin (lock `server-args`).
    pub args: Vec<String>,
}

/// `update NAME`.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    pub name: String,
    pub evidence: EvidenceRequest,
    pub fetch: FetchRequest,
    /// Decide, but write nothing.
    pub dry_run: bool,
    /// Pin even when a package was republished (same version, other
    /// integrity).
    pub yes: bool,
}

/// What an `add` did.
#[derive(Debug)]
pub enum PinOutcome {
    /// Pinned (or pinned again) and written to the lock.
    Pinned {
        entry: Box<Entry>,
        previous: Option<Box<Entry>>,
        report: Box<Report>,
        /// Notes about the source (its metadata, what no signature covers).
        notes: Vec<String>,
    },
    /// The receipt answers: same request, same files, the verdict stands.
    Unchanged { entry: Box<Entry> },
    /// The policy denied it; nothing was pinned or kept.
    Denied { report: Box<Report> },
}

/// What an `update` did.
#[derive(Debug)]
pub enum UpdateOutcome {
    /// The newest release is the pinned one.
    UpToDate {
        entry: Box<Entry>,
        notes: Vec<String>,
    },
    /// Something changed: written to the lock unless `dry_run`.
    Changed {
        entry: Box<Entry>,
        previous: Box<Entry>,
        changes: Vec<String>,
        report: Box<Report>,
        notes: Vec<String>,
        written: bool,
        /// Packages whose pinned version now has another integrity:
        /// nothing is written without `yes`.
        republished: Vec<String>,
    },
    /// The policy denied the newest release; the pin stays as it was.
    Denied { report: Box<Report> },
}

/// What `remove` unpinned and freed.
#[derive(Debug)]
pub struct Removed {
    pub entry: Entry,
    pub freed: GcReport,
}

pub fn add(ctx: &Context, a: &AddRequest) -> Result<PinOutcome, Failure> {
    check_name(&a.name)?;
    if let Some(r) = &a.evidence.unsigned {
        check_unsigned_reason(r)?;
    }
    check_server_args(&a.args)?;
    judge::refuse_unkept(&a.evidence, "add")?;
    let lock_path = lock_file(ctx);
    let _held = lock::hold(&lock_path)?;
    let mut lock = Lock::load(&lock_path)?;
    let previous = lock.servers.get(&a.name).cloned();
    let request = request_digest(ctx, &a.name, &a.source, &a.evidence, &a.fetch)?;
    if let Some(prev) = &previous
        && unchanged(ctx, prev, &request)
        && prev.run.server_args == a.args
        // A remote pin from before the lock recorded its URL is fetched
        // again once (when it may be), so that `add --locked` can
        // re-create it.
        && (prev.url.is_some() || !remote(&prev.source) || a.fetch.offline)
    {
        // Same request, same policy and trust, same cached file: the
        // verdict stands. `update` fetches again.
        return Ok(PinOutcome::Unchanged {
            entry: Box::new(prev.clone()),
        });
    }
    let pinned = if a.fetch.offline && remote(&a.source) {
        // Only what the cache holds: the pinned copy and the evidence kept
        // with it, judged again under the current policy and trust.
        let Some(prev) = previous
            .as_ref()
            .filter(|p| same_source(&p.source, &a.source))
        else {
            return Err(Failure::input(
                Code::FetchFailed,
                format!(
                    "--offline: {} is not pinned as `{}`, so it would have to be fetched",
                    a.source, a.name
                ),
                Some("run the add once without --offline".into()),
            ));
        };
        let mut ev = a.evidence.clone();
        let artifact = super::pinned::artifact(ctx, &a.name, &mut ev, true)?;
        // Unsigned only when this `add` says so, as online.
        ev.unsigned = a.evidence.unsigned.clone();
        let ArtifactRef::Path(blob) = artifact else {
            return Err(Failure::input(
                Code::Internal,
                "a remote source pinned as a directory",
                None,
            ));
        };
        match pin(ctx, &a.name, &blob.to_string_lossy(), &ev, &a.fetch, None)? {
            Pinned::Allowed(mut e, r, notes) => {
                e.source = prev.source.clone();
                e.version = prev.version.clone();
                e.package_source = prev.package_source.clone();
                e.url = prev.url.clone();
                e.kind = prev.kind;
                e.run = prev.run.clone();
                if !prev.packages.is_empty() {
                    // The dependency tree pinned before, checked at `run`.
                    e.tree = prev.tree.clone();
                    e.tree_digest = prev.tree_digest.clone();
                    e.packages = prev.packages.clone();
                }
                e.sbom = prev.sbom.clone();
                Pinned::Allowed(e, r, notes)
            }
            denied => denied,
        }
    } else {
        pin(
            ctx,
            &a.name,
            &a.source,
            &a.evidence,
            &a.fetch,
            previous.as_ref().map(|p| (p, a.allow_downgrade)),
        )?
    };
    let (mut entry, report, notes) = match pinned {
        Pinned::Allowed(e, r, n) => (e, r, n),
        Pinned::Denied(report) => return Ok(PinOutcome::Denied { report }),
    };
    entry.run.server_args = a.args.clone();
    entry.receipt =
        pinned_fingerprint(ctx, &entry).map(|fp| Receipt::new(&entry.sha256, &request, &fp));
    lock.servers.insert(a.name.clone(), *entry.clone());
    lock.save(&lock_path)?;
    Ok(PinOutcome::Pinned {
        entry,
        previous: previous.map(Box::new),
        report,
        notes,
    })
}

pub fn update(ctx: &Context, a: &UpdateRequest) -> Result<UpdateOutcome, Failure> {
    judge::refuse_unkept(&a.evidence, "update")?;
    let lock_path = lock_file(ctx);
    let _held = lock::hold(&lock_path)?;
    let mut lock = Lock::load(&lock_path)?;
    let Some(prev) = lock.servers.get(&a.name).cloned() else {
        return Err(unknown_server(&a.name));
    };
    // The newest release of the same package: the pinned source without
    // its version (a path or URL is fetched again as it is).
    let source: Source = prev.source.parse()?;
    let latest = match source {
        Source::Npm { name, .. } => Source::Npm {
            name,
            version: None,
        },
        Source::Pypi { name, .. } => Source::Pypi {
            name,
            version: None,
        },
        Source::Registry { name, .. } => Source::Registry {
            name,
            version: None,
        },
        other => other,
    };
    // A pin without a signature stays one, with its reason, until a
    // signature is given.
    let mut ev = a.evidence.clone();
    if ev.unsigned.is_none() && ev.signature.is_empty() && ev.bundle.is_empty() {
        ev.unsigned = prev.unsigned.clone();
    }
    let (entry, report, notes) = match pin(
        ctx,
        &a.name,
        &latest.to_string(),
        &ev,
        &a.fetch,
        Some((&prev, false)),
    )? {
        Pinned::Allowed(e, r, n) => (e, r, n),
        Pinned::Denied(report) => return Ok(UpdateOutcome::Denied { report }),
    };
    let mut entry = entry;
    entry.run.server_args = prev.run.server_args.clone();
    let mut changes = diff(&prev, &entry);
    let (packages, republished) = package_changes(&prev.packages, &entry.packages);
    changes.extend(packages);
    if changes.is_empty() {
        return Ok(UpdateOutcome::UpToDate {
            entry: Box::new(prev),
            notes,
        });
    }
    let mut report = report;
    if !republished.is_empty() {
        report.diagnostics.push(
            Diagnostic::warning(
                Code::PackageRepublished,
                format!(
                    "`{}`: {} package(s) now have other bytes under the version pinned: {}",
                    a.name,
                    republished.len(),
                    crate::text::printable(&republished.join("; "), 4000)
                ),
            )
            .hint("a registry does not change a published version: find out why before pinning (--yes pins it anyway)"),
        );
    }
    let write = !a.dry_run && (republished.is_empty() || a.yes);
    if write {
        lock.servers.insert(a.name.clone(), *entry.clone());
        lock.save(&lock_path)?;
    }
    Ok(UpdateOutcome::Changed {
        entry,
        previous: Box::new(prev),
        changes,
        report,
        notes,
        written: write,
        republished,
    })
}

pub fn remove(ctx: &Context, name: &str) -> Result<Removed, Failure> {
    let lock_path = lock_file(ctx);
    let _held = lock::hold(&lock_path)?;
    let mut lock = Lock::load(&lock_path)?;
    let Some(entry) = lock.servers.remove(name) else {
        return Err(unknown_server(name));
    };
    lock.save(&lock_path)?;
    // The receipt of `run`'s last full check goes with the pin.
    receipt::remove(ctx, name);
    // What only this server used goes now; the rest stays for the others.
    let cache = Cache::open(&ctx.cache_dir)?;
    let _c = cache.lock()?;
    let keep: HashSet<String> = lock.cache_keys().map(str::to_string).collect();
    let freed = cache.gc(&keep)?;
    Ok(Removed { entry, freed })
}

/// `cache verify`: every cached artifact and tree re-hashed; a mismatch is
/// a failed verification (exit 1).
pub fn verify_cache(ctx: &Context) -> Result<(), Failure> {
    let cache = Cache::open(&ctx.cache_dir)?;
    Lock::load(&lock_file(ctx))?;
    let _c = cache.lock()?;
    let problems = cache.verify()?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(Failure::denied(
        problems
            .iter()
            .map(|p| {
                Diagnostic::error(Code::CacheMismatch, p.to_string()).hint(
                    "run `mcp-warden cache gc`, then `mcp-warden add` the servers that used it again",
                )
            })
            .collect(),
    ))
}

/// `cache gc`: removes what no pinned server uses.
pub fn collect_garbage(ctx: &Context) -> Result<GcReport, Failure> {
    let cache = Cache::open(&ctx.cache_dir)?;
    Lock::load(&lock_file(ctx))?;
    // Lock file first, as `add` takes them: a blob stored by an `add` that
    // has not pinned it yet is not collected.
    let _held = lock::hold(&lock_file(ctx))?;
    let lock = Lock::load(&lock_file(ctx))?;
    let _c = cache.lock()?;
    let keep: HashSet<String> = lock.cache_keys().map(str::to_string).collect();
    Ok(cache.gc(&keep)?)
}

/// Evidence files are small; SBOMs are the largest.
const MAX_EVIDENCE: u64 = 256 << 20;

enum Pinned {
    /// The entry to pin, its report and the notes about its source.
    Allowed(Box<Entry>, Box<Report>, Vec<String>),
    Denied(Box<Report>),
}

/// Resolves, fetches, verifies and (when allowed) unpacks one source.
fn pin(
    ctx: &Context,
    name: &str,
    source_text: &str,
    ev: &EvidenceRequest,
    fetch: &FetchRequest,
    rollback: Option<(&Entry, bool)>,
) -> Result<Pinned, Failure> {
    let source = absolute(source_text.parse()?)?;
    let trust = load_trust(ctx)?;
    let mut policies = load_policies(ctx, &trust)?;
    judge::warn_name_case(&mut policies, name);
    // Read once: the artifact's judgement and its tree's use it.
    let db = judge::load_advisories(ev.advisories.as_deref(), &policies)?;
    let cache = Cache::open(&ctx.cache_dir)?;
    let client = fetch.client()?;
    let opts = source::ResolveOptions {
        npm_registry: fetch
            .registry
            .clone()
            .unwrap_or_else(|| source::DEFAULT_NPM_REGISTRY.into()),
        pypi_index: fetch
            .pypi_url
            .clone()
            .unwrap_or_else(|| source::DEFAULT_PYPI_INDEX.into()),
        mcp_registry: fetch
            .registry_url
            .clone()
            .unwrap_or_else(|| source::DEFAULT_MCP_REGISTRY.into()),
    };
    let fetcher: &dyn source::Fetch = match &client {
        Some(c) => c,
        None => &Offline,
    };
    let resolved = source::resolve(&source, fetcher, &opts)?;
    // Refused before anything is downloaded.
    if let Some((prev, allowed)) = rollback {
        refuse_downgrade(
            name,
            prev,
            &source.to_string(),
            resolved.version.as_deref(),
            allowed,
        )?;
    }
    let (blob, dir_tree) = store(&cache, &resolved, client.as_ref(), fetch.max_size)?;
    let outcome = judge_stored(
        &cache,
        name,
        &source,
        &resolved,
        (&blob, &dir_tree),
        ev,
        (&trust, &policies, db.as_ref()),
    );
    // An npm package's or a wheel's dependency tree, once the package
    // itself is judged.
    let mut dep_blobs = Vec::new();
    let outcome = match outcome {
        Ok(Pinned::Allowed(entry, report, notes))
            if fetch.dependencies
                && matches!(
                    resolved.kind,
                    ArtifactKind::NpmTarball | ArtifactKind::Wheel
                ) =>
        {
            let pinned = Lock::load(&lock_file(ctx))?;
            let package = source.to_string();
            let top_tree = entry.tree.clone();
            let done = if resolved.kind == ArtifactKind::NpmTarball {
                let deps = crate::deps::Request {
                    package: &package,
                    registry: &opts.npm_registry,
                    fetch,
                    client: client.as_ref(),
                    pinned: &pinned,
                    evidence: crate::deps::evidence::Settings::npm(
                        &trust,
                        &policies,
                        &opts.npm_registry,
                    ),
                };
                with_dependencies(
                    &cache,
                    *entry,
                    blob.as_ref(),
                    &mut dep_blobs,
                    |top, unpacked, stored| {
                        crate::deps::npm_tree(&cache, top, unpacked, &deps, stored)
                    },
                )
            } else {
                pypi_dependencies(
                    &cache,
                    *entry,
                    (&source, &resolved, &opts.pypi_index),
                    blob.as_ref(),
                    (fetch, client.as_ref(), &pinned, &policies),
                    &mut dep_blobs,
                )
            };
            // The package's own unpacked tree is not what runs once the
            // tree with its dependencies is laid out (or nothing is pinned).
            if let Some(t) = top_tree
                && done
                    .as_ref()
                    .map_or(true, |(e, _, _)| e.tree.as_ref() != Some(&t))
                && !pinned.cache_keys().any(|k| k == t)
                && let Ok(_c) = cache.lock()
            {
                cache.discard_tree(&t);
            }
            let laid = done.as_ref().ok().and_then(|(e, _, _)| e.tree.clone());
            let judged = done.map(|(entry, more, own)| {
                let mut notes = notes;
                notes.extend(more);
                install_scripts(&policies, name, entry, report, notes, &own)
            });
            // A tree refused for its install scripts is not kept either.
            if let (Ok(Pinned::Denied(_)), Some(t)) = (&judged, laid)
                && !pinned.cache_keys().any(|k| k == t)
                && let Ok(_c) = cache.lock()
            {
                cache.discard_tree(&t);
            }
            judged
        }
        o => o,
    };
    // The SBOM of what was resolved, judged like a given one.
    let outcome = match outcome {
        Ok(Pinned::Allowed(e, r, n)) => super::sbom::judge_tree(
            ctx,
            &cache,
            name,
            (e, r, n),
            (&policies, db.as_ref()),
            &mut dep_blobs,
        )
        .map(|j| j.map_or_else(Pinned::Denied, |(e, r, n)| Pinned::Allowed(e, r, n))),
        o => o,
    };
    // Whatever stopped the add after the download (a denial, bad evidence,
    // an unsafe archive), the artifact is not kept, unless a pinned server
    // uses the same bytes. The caller holds the lock file, so no other
    // `add` is between storing and pinning.
    if !matches!(outcome, Ok(Pinned::Allowed(..)))
        && let Some(b) = &blob
        && let Ok(lock) = Lock::load(&lock_file(ctx))
        && !lock.cache_keys().any(|k| k == b.sha256)
        && let Ok(_c) = cache.lock()
    {
        let _ = std::fs::remove_file(&b.path);
    }
    if !matches!(outcome, Ok(Pinned::Allowed(..)))
        && !dep_blobs.is_empty()
        && let Ok(lock) = Lock::load(&lock_file(ctx))
        && let Ok(_c) = cache.lock()
    {
        let keep: HashSet<&str> = lock.cache_keys().collect();
        for key in dep_blobs.iter().filter(|k| !keep.contains(k.as_str())) {
            let _ = std::fs::remove_file(cache.blob_path(key));
        }
    }
    outcome
}

/// Resolves the package's dependency tree, fetches and checks every
/// file, and re-points the entry at the tree laid out from them. The
/// notes list what `add` should say (install scripts that were not run);
/// the strings are an npm package's own install scripts.
fn with_dependencies(
    cache: &Cache,
    mut entry: Entry,
    top: Option<&Blob>,
    stored: &mut Vec<String>,
    tree: impl FnOnce(&Blob, &Path, &mut Vec<String>) -> Result<crate::deps::DepTree, Failure>,
) -> Result<(Entry, Vec<String>, Vec<String>), Failure> {
    let (Some(top), Some(key)) = (top, entry.tree.clone()) else {
        return Ok((entry, Vec::new(), Vec::new()));
    };
    let Some(unpacked) = cache.tree(&key)? else {
        return Ok((entry, Vec::new(), Vec::new()));
    };
    let own = match entry.kind {
        ArtifactKind::NpmTarball => crate::deps::npm::package_dir(&unpacked.path)
            .and_then(|dir| {
                let pj = crate::deps::npm::read_package_json(&dir)?;
                Ok(crate::deps::npm::install_scripts(&pj, &dir))
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let done = tree(top, &unpacked.path, stored)?;
    if let Some(tree) = done.tree {
        entry.tree = Some(tree.key);
        entry.tree_digest = Some(tree.digest);
        entry.packages = done.packages;
    }
    Ok((entry, done.notes, own))
}

/// `[sources] install-scripts`: an npm tree where the package itself
/// (`own`) or a dependency declares install scripts is refused under
/// "deny", and pinned with a warning under "warn". The scripts are never
/// run either way.
fn install_scripts(
    policies: &policy::PolicySet,
    name: &str,
    entry: Entry,
    mut report: Box<Report>,
    notes: Vec<String>,
    own: &[String],
) -> Pinned {
    const SHOWN: usize = 20;
    let mut with: Vec<String> = Vec::new();
    if !own.is_empty() {
        with.push(format!("the package itself ({})", own.join(", ")));
    }
    with.extend(
        (entry.packages.iter())
            .filter(|p| p.install_scripts)
            .map(|p| format!("{}@{}", p.name, p.version)),
    );
    if with.is_empty() {
        return Pinned::Allowed(Box::new(entry), report, notes);
    }
    let count = with.len();
    let mut listed = with
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if count > SHOWN {
        listed.push_str(&format!(" and {} more", count - SHOWN));
    }
    let listed = crate::text::printable(&listed, 4000);
    match policies.install_scripts() {
        (policy::InstallScripts::Deny, loc) => {
            let at = loc.map(|l| format!(" ({l})")).unwrap_or_default();
            report.verdict = Verdict::Denied;
            report.diagnostics.push(
                Diagnostic::error(
                    Code::InstallScriptsDenied,
                    format!(
                        "`{name}`: {count} package(s) of the tree declare install scripts ({listed}), \
                         and `[sources] install-scripts = \"deny\"`{at} refuses such trees; nothing was pinned"
                    ),
                )
                .hint("the scripts were not run; pin a version whose tree has none, or ask whoever owns that policy"),
            );
            Pinned::Denied(report)
        }
        (policy::InstallScripts::Warn, _) => {
            report.diagnostics.push(Diagnostic::warning(
                Code::InstallScriptsPresent,
                format!(
                    "`{name}`: {count} package(s) of the tree declare install scripts ({listed}); \
                     they were not run and never are"
                ),
            ));
            Pinned::Allowed(Box::new(entry), report, notes)
        }
    }
}

/// A wheel's dependency tree, resolved by pip from the index the wheel
/// came from.
fn pypi_dependencies(
    cache: &Cache,
    entry: Entry,
    (source, resolved, index): (&Source, &Resolved, &str),
    top: Option<&Blob>,
    (fetch, client, pinned, policies): (
        &FetchRequest,
        Option<&net::Client>,
        &Lock,
        &crate::policy::PolicySet,
    ),
    stored: &mut Vec<String>,
) -> Result<(Entry, Vec<String>, Vec<String>), Failure> {
    // A registry entry's PyPI package is what was resolved.
    let pypi = resolved.nested.as_ref().unwrap_or(source);
    let (Source::Pypi { name, .. }, Some(version)) = (pypi, resolved.version.as_deref()) else {
        return Ok((entry, Vec::new(), Vec::new()));
    };
    let (simple, _) = source::pypi::simple_root(index)?;
    let package = source.to_string();
    let deps = crate::deps::Request {
        package: &package,
        registry: &simple,
        fetch,
        client,
        pinned,
        evidence: crate::deps::evidence::Settings::pypi(policies),
    };
    with_dependencies(cache, entry, top, stored, |top, unpacked, stored| {
        crate::deps::pypi_tree(cache, top, unpacked, (name, version), &deps, stored)
    })
}

/// Verifies what `store` put in the cache and, when allowed, unpacks it
/// and describes the entry to pin.
#[allow(clippy::too_many_arguments)]
fn judge_stored(
    cache: &Cache,
    name: &str,
    source: &Source,
    resolved: &Resolved,
    (blob, dir_tree): (&Option<Blob>, &Option<crate::cache::Tree>),
    ev: &EvidenceRequest,
    (trust, policies, db): (
        &crate::trust::TrustStore,
        &policy::PolicySet,
        Option<&AdvisoryDb>,
    ),
) -> Result<Pinned, Failure> {
    // Evidence fetched with the metadata goes beside the user's.
    let tmp = tempfile::tempdir().map_err(|e| super::internal(&e))?;
    let mut all = ev.clone();
    // What `[[servers]] source` and `versions` judge; an offline add
    // brings the pinned entry's.
    all.origin.get_or_insert_with(|| {
        Origin::of(
            source,
            resolved.version.as_deref(),
            resolved.nested.as_ref(),
        )
    });
    for (i, att) in resolved.attestations.iter().enumerate() {
        // Named after what the source called it: the report shows the name.
        let readable: String = att
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "@._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(100)
            .collect();
        let p = tmp.path().join(format!("{i}-{readable}.json"));
        std::fs::write(&p, &att.bytes).map_err(|e| super::internal(&e))?;
        all.bundle.push(p);
    }
    let artifact = match &dir_tree {
        // A directory is judged by its tree digest.
        Some(t) => ArtifactRef::Digest(
            format!("sha256:{}", t.digest)
                .parse()
                .map_err(|e| Failure::input(Code::Internal, format!("tree digest: {e}"), None))?,
        ),
        None => ArtifactRef::Path(blob.as_ref().map(|b| b.path.clone()).unwrap_or_default()),
    };
    let judge::Judgement { evidence, report } = judge::judge(
        artifact,
        Some(name),
        &all,
        identity_rule(ev)?,
        (trust, policies, db),
    )?;
    if report.verdict != Verdict::Allowed {
        return Ok(Pinned::Denied(Box::new(report)));
    }

    // Unpacked only now that it is verified.
    let tree = match (&dir_tree, &blob) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(b)) => match archive_kind(resolved.kind, &b.path)? {
            Some(kind) => Some(cache.unpack(b, kind, &archive::Limits::default())?),
            None => None,
        },
        (None, None) => None,
    };
    // Kept only now that they count: a denied add, or an
    // archive that cannot be unpacked, stores no evidence.
    let mut evidence_files = Vec::new();
    for (role, p) in all.files() {
        let b = cache.put_file(p, MAX_EVIDENCE, &[])?;
        evidence_files.push(lock::EvidenceFile {
            role: role.into(),
            sha256: b.sha256,
        });
    }

    // A directory is pinned by its tree digest alone: no file was fetched
    // whose SHA-512 could be pinned.
    let (sha256, sha512, size) = match (&blob, &dir_tree) {
        (Some(b), _) => (b.sha256.clone(), b.sha512.clone(), b.size),
        (None, Some(t)) => (t.digest.clone(), None, 0),
        (None, None) => unreachable!("store returns a blob or a tree"),
    };
    let entry = Entry {
        source: source.to_string(),
        version: resolved.version.clone(),
        package_source: resolved.nested.as_ref().map(ToString::to_string),
        url: match &resolved.artifact {
            Location::Url(u) => Some(u.clone()),
            Location::Path(_) => None,
        },
        sha256,
        sha512,
        size,
        kind: resolved.kind,
        tree_digest: tree.as_ref().map(|t| t.digest.clone()),
        tree: tree.map(|t| t.key),
        signers: signers(&evidence),
        signed: signed(&evidence),
        evidence: evidence_lines(&evidence),
        unsigned: ev.unsigned.clone(),
        pinned: jiff::Timestamp::now().to_string(),
        receipt: None,
        packages: Vec::new(),
        sbom: None,
        evidence_files,
        run: RunSettings {
            args: resolved.run.args.clone(),
            server_args: Vec::new(),
            env: resolved
                .run
                .env
                .iter()
                .map(|e| EnvVar {
                    name: e.name.clone(),
                    secret: e.secret,
                    required: e.required,
                    default: if e.secret { None } else { e.default.clone() },
                    description: e.description.clone(),
                })
                .collect(),
        },
    };
    let mut notes: Vec<String> = resolved
        .notes
        .iter()
        .map(|n| format!("note: {n}"))
        .collect();
    notes.extend(unsigned_run_hints(&resolved.run));
    Ok(Pinned::Allowed(Box::new(entry), Box::new(report), notes))
}

/// The most arguments `add -- ARGS` pins, and the longest one.
const MAX_SERVER_ARGS: usize = 256;
const MAX_SERVER_ARG_BYTES: usize = 4096;

/// Pinned arguments are one line of visible text each: a control
/// character (a newline, an escape) would hide what the lock and the
/// reports show of them.
fn check_server_args(args: &[String]) -> Result<(), Failure> {
    let bad = |why: String| {
        Failure::input(
            Code::Usage,
            why,
            Some("pin plain arguments after `--`, one per word, without control characters".into()),
        )
    };
    if args.len() > MAX_SERVER_ARGS {
        return Err(bad(format!(
            "{} server arguments, at most {MAX_SERVER_ARGS} are pinned",
            args.len()
        )));
    }
    for a in args {
        if a.len() > MAX_SERVER_ARG_BYTES {
            return Err(bad(format!(
                "a server argument of {} bytes, at most {MAX_SERVER_ARG_BYTES}",
                a.len()
            )));
        }
        if a.chars().any(char::is_control) {
            return Err(bad(format!(
                "the server argument {} holds a control character",
                crate::text::quoted(a, 80)
            )));
        }
    }
    Ok(())
}

/// What the source's metadata, which no signature covers (a registry's
/// server.json), says about starting the server: shown at `add`, since it
/// is pinned beside the verified artifact.
fn unsigned_run_hints(run: &crate::source::RunHints) -> Vec<String> {
    let mut out = Vec::new();
    if run.env.is_empty() && run.args.is_empty() && run.runtime_args.is_empty() {
        return out;
    }
    out.push("from the source's metadata, which no signature covers:".into());
    for e in &run.env {
        let value = match (&e.default, e.secret) {
            (_, true) => "secret, from the keychain".to_string(),
            (Some(d), false) => format!("default {d:?}"),
            (None, false) => "no default".to_string(),
        };
        out.push(format!("  env {} ({value})", e.name));
    }
    for a in &run.args {
        out.push(format!("  server argument {a:?} (after the entry point)"));
    }
    for a in &run.runtime_args {
        out.push(format!(
            "  runtime argument {a:?}: not used (mcp-warden starts the verified entry point itself)"
        ));
    }
    out
}

/// Brings the artifact into the cache: a blob for files and archives, a
/// tree for a local directory.
fn store(
    cache: &Cache,
    r: &Resolved,
    client: Option<&net::Client>,
    max: u64,
) -> Result<(Option<Blob>, Option<crate::cache::Tree>), Failure> {
    let _c = cache.lock()?;
    match &r.artifact {
        Location::Path(p) if r.kind == ArtifactKind::Directory => {
            let t = cache.put_dir(p, &archive::Limits::default())?;
            Ok((None, Some(t)))
        }
        Location::Path(p) => Ok((Some(cache.put_file(p, max, &r.expected)?), None)),
        Location::Url(url) => {
            let Some(client) = client else {
                return Err(offline_miss(url, cache, r));
            };
            let body = client.get(url, max)?;
            let blob = cache.put_reader(body, max, &r.expected)?;
            Ok((Some(blob), None))
        }
    }
}

/// A source on this machine, whose content may change behind its path.
fn local(source: &Source) -> bool {
    matches!(
        source,
        Source::Path(_) | Source::Mcpb(Location::Path(_)) | Source::ServerJson(_)
    )
}

/// Whether the source is fetched over the network.
fn remote(source: &str) -> bool {
    source.parse::<Source>().is_ok_and(|s| !local(&s))
}

fn same_source(pinned: &str, given: &str) -> bool {
    match (pinned.parse::<Source>(), given.parse::<Source>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether the receipt of the last `add` answers this one: same request,
/// same files, within [`receipt::MAX_AGE`] (the rule `run` uses too).
fn unchanged(ctx: &Context, e: &Entry, request: &str) -> bool {
    let Some(r) = &e.receipt else { return false };
    // A local source may have changed behind the same path: always look.
    let local = e.source.parse::<Source>().is_ok_and(|s| local(&s));
    !local && pinned_fingerprint(ctx, e).is_some_and(|fp| r.matches(&e.sha256, request, &fp))
}

/// SHA-256 over everything an `add` verdict depends on. Unreadable inputs
/// make a digest that matches nothing, so the full path runs and reports.
fn request_digest(
    ctx: &Context,
    name: &str,
    source: &str,
    ev: &EvidenceRequest,
    fetch: &FetchRequest,
) -> Result<String, Failure> {
    let mut h = crate::digest::FieldHasher::default();
    h.field("version", env!("CARGO_PKG_VERSION").as_bytes());
    h.field("name", name.as_bytes());
    let source = absolute(source.parse()?)
        .map(|s| s.to_string())
        .unwrap_or_else(|_| source.to_string());
    h.field("source", source.as_bytes());
    let extra = ev
        .key
        .iter()
        .map(|p| ("key", p))
        .chain(ev.trusted_root.iter().map(|p| ("trusted-root", p)));
    for (k, p) in ev.files().chain(extra) {
        h.file(k, p);
    }
    for (k, v) in [
        ("key-name", ev.key_name.join("\n")),
        ("identity", format!("{:?}", ev.certificate_identity)),
        (
            "identity-re",
            format!("{:?}", ev.certificate_identity_regexp),
        ),
        ("issuer", format!("{:?}", ev.certificate_oidc_issuer)),
        (
            "issuer-re",
            format!("{:?}", ev.certificate_oidc_issuer_regexp),
        ),
        ("advisories", format!("{:?}", ev.advisories)),
        ("unsigned", format!("{:?}", ev.unsigned)),
        ("registry", format!("{:?}", fetch.registry)),
        ("pypi-url", format!("{:?}", fetch.pypi_url)),
        ("registry-url", format!("{:?}", fetch.registry_url)),
        ("max-size", fetch.max_size.to_string()),
        ("dependencies", fetch.dependencies.to_string()),
    ] {
        h.field(k, v.as_bytes());
    }
    // The policy and trust files in force, the administrator's included.
    for p in ctx.judgement_files() {
        h.file("state", &p);
    }
    // The advisory databases' contents: a record written since, anywhere in
    // them, is a reason to judge again.
    let dbs = judge::load_trust(ctx)
        .and_then(|t| judge::load_policies(ctx, &t))
        .map(|p| p.advisories_dbs())
        .unwrap_or_default();
    for db in dbs.iter().chain(&ev.advisories) {
        h.field("advisories-db", db.to_string_lossy().as_bytes());
        h.field("advisories-db", AdvisoryDb::identity(db).as_bytes());
    }
    Ok(h.finish())
}

/// Local paths are pinned absolute: `update` and `run` may start elsewhere.
fn absolute(source: Source) -> Result<Source, Failure> {
    let abs = |p: PathBuf| -> Result<PathBuf, Failure> {
        std::fs::canonicalize(&p).map_err(|e| {
            Failure::input(
                Code::ArtifactUnreadable,
                format!("{}: {e}", p.display()),
                Some("check the path of the source".into()),
            )
        })
    };
    Ok(match source {
        Source::Path(p) => Source::Path(abs(p)?),
        Source::Mcpb(Location::Path(p)) => Source::Mcpb(Location::Path(abs(p)?)),
        Source::ServerJson(p) => Source::ServerJson(abs(p)?),
        other => other,
    })
}

/// `--offline` with a remote artifact: only a blob whose digest the source
/// publishes can be taken from the cache.
fn offline_miss(url: &str, cache: &Cache, r: &Resolved) -> Failure {
    let _ = (cache, r);
    Failure::input(
        Code::FetchFailed,
        format!("--offline: {url} would have to be fetched"),
        Some("run without --offline once; a pinned server is then used from the cache".into()),
    )
}

/// `--offline`: every metadata fetch fails.
struct Offline;

impl source::Fetch for Offline {
    fn get_bytes(&self, url: &str, _limit: u64) -> Result<Vec<u8>, source::FetchError> {
        Err(source::FetchError::other(format!(
            "--offline: {url} would have to be fetched"
        )))
    }
}

impl source::Fetch for net::Client {
    fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, source::FetchError> {
        net::Client::get_bytes(self, url, limit).map_err(|e| match e {
            NetError::Status { code: 404, .. } => source::FetchError::not_found(e.to_string()),
            e => source::FetchError::other(e.to_string()),
        })
    }

    fn get_page(
        &self,
        url: &str,
        limit: u64,
        accept: &str,
    ) -> Result<source::Page, source::FetchError> {
        let map = |e: NetError| match e {
            NetError::Status { code: 404, .. } => source::FetchError::not_found(e.to_string()),
            e => source::FetchError::other(e.to_string()),
        };
        let mut download = self.get_accepting(url, limit, Some(accept)).map_err(map)?;
        let content_type = download.content_type();
        let final_url = download.url().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut download, &mut bytes).map_err(|e| {
            source::FetchError::other(
                NetError::from_io(&e).map_or_else(|| e.to_string(), ToString::to_string),
            )
        })?;
        Ok(source::Page {
            bytes,
            content_type,
            url: final_url,
        })
    }
}

fn archive_kind(kind: ArtifactKind, path: &Path) -> Result<Option<ArchiveKind>, Failure> {
    Ok(match kind {
        ArtifactKind::NpmTarball | ArtifactKind::Sdist => Some(ArchiveKind::TarGz),
        ArtifactKind::Wheel | ArtifactKind::Mcpb => Some(ArchiveKind::Zip),
        // A release file is unpacked when it is an archive by content.
        ArtifactKind::File => archive::kind_of_file(path).map_err(|e| super::internal(&e))?,
        ArtifactKind::Directory => None,
    })
}

/// Trust-store names of the verified signers, else their description.
fn signers(ev: &Evidence) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &ev.signatures {
        if let Ok(signer) = &s.outcome {
            let names = signer.trust_names();
            let add: Vec<String> = if names.is_empty() {
                vec![signer.describe()]
            } else {
                names.to_vec()
            };
            for n in add {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// What each verified signer signed, by the role its file was given in:
/// a signer of the SBOM alone is not a signer of the artifact.
fn signed(ev: &Evidence) -> Vec<crate::lock::Signed> {
    use crate::evidence::Role;
    use crate::lock::{Signed, SignedPart};
    let mut out: Vec<Signed> = Vec::new();
    for s in &ev.signatures {
        let Ok(signer) = &s.outcome else { continue };
        let part = match s.role {
            Role::Signature => SignedPart::Artifact,
            Role::Provenance => SignedPart::Provenance,
            Role::Sbom | Role::SbomSignature => SignedPart::Sbom,
        };
        let names = signer.trust_names();
        let names: Vec<String> = if names.is_empty() {
            vec![signer.describe()]
        } else {
            names.to_vec()
        };
        for n in names {
            match out.iter_mut().find(|x| x.signer == n) {
                Some(x) if x.what.contains(&part) => {}
                Some(x) => {
                    x.what.push(part);
                    x.what.sort();
                }
                None => out.push(Signed {
                    signer: n,
                    what: vec![part],
                }),
            }
        }
    }
    out
}

/// One line per piece of evidence that verified, for the lock.
fn evidence_lines(ev: &Evidence) -> Vec<String> {
    use crate::evidence::Role;
    let mut out = Vec::new();
    for s in &ev.signatures {
        let Ok(signer) = &s.outcome else { continue };
        let role = match s.role {
            Role::Signature => "signature",
            Role::Provenance => "provenance",
            Role::Sbom => "sbom attestation",
            Role::SbomSignature => "sbom signature",
        };
        let scheme = s
            .scheme
            .and_then(|sc| serde_json::to_value(sc).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        out.push(format!("{role}: {scheme} by {}", signer.describe()));
    }
    for b in &ev.sboms {
        if b.sbom.is_ok() {
            out.push(format!("sbom: {}", b.file.display()));
        }
    }
    out
}

/// Rollback protection: a lower version of the same package is refused
/// unless asked for.
fn refuse_downgrade(
    name: &str,
    prev: &Entry,
    new_source: &str,
    new_version: Option<&str>,
    allowed: bool,
) -> Result<(), Failure> {
    let (Some(old_v), Some(new_v)) = (prev.version.as_deref(), new_version) else {
        return Ok(());
    };
    let same_package = |a: &str, b: &str| -> bool {
        match (a.parse::<Source>(), b.parse::<Source>()) {
            (Ok(Source::Npm { name: x, .. }), Ok(Source::Npm { name: y, .. }))
            | (Ok(Source::Pypi { name: x, .. }), Ok(Source::Pypi { name: y, .. }))
            | (Ok(Source::Registry { name: x, .. }), Ok(Source::Registry { name: y, .. })) => {
                x == y
            }
            _ => false,
        }
    };
    if allowed || old_v == new_v || !same_package(&prev.source, new_source) {
        return Ok(());
    }
    let lower = match new_source.parse::<Source>() {
        Ok(Source::Pypi { .. }) => {
            match (
                old_v.parse::<pep440_rs::Version>(),
                new_v.parse::<pep440_rs::Version>(),
            ) {
                (Ok(o), Ok(n)) => Some(n < o),
                _ => None,
            }
        }
        _ => match (
            semver::Version::parse(old_v.trim_start_matches('v')),
            semver::Version::parse(new_v.trim_start_matches('v')),
        ) {
            (Ok(o), Ok(n)) => Some(n < o),
            _ => None,
        },
    };
    match lower {
        Some(false) => Ok(()),
        Some(true) => Err(Failure::input(
            Code::Downgrade,
            format!("{name}: {new_v} is lower than the pinned {old_v}; refusing a downgrade"),
            Some("pass --allow-downgrade if you mean to go back to the older version".into()),
        )),
        // Fail closed: versions that cannot be ordered might go back.
        None => Err(Failure::input(
            Code::Downgrade,
            format!("{name}: cannot tell whether {new_v} is older than the pinned {old_v}"),
            Some("pass --allow-downgrade if the change is intended".into()),
        )),
    }
}

fn diff(old: &Entry, new: &Entry) -> Vec<String> {
    let mut out = Vec::new();
    if old.version != new.version {
        out.push(format!(
            "version: {} -> {}",
            old.version.as_deref().unwrap_or("-"),
            new.version.as_deref().unwrap_or("-")
        ));
    }
    if old.sha256 != new.sha256 {
        out.push(format!("sha256: {} -> {}", old.sha256, new.sha256));
    }
    if old.unsigned != new.unsigned {
        out.push(format!(
            "unsigned: {} -> {}",
            old.unsigned.as_deref().unwrap_or("no"),
            new.unsigned.as_deref().unwrap_or("no")
        ));
    }
    if old.signers != new.signers {
        out.push(format!(
            "signers: [{}] -> [{}]",
            old.signers.join(", "),
            new.signers.join(", ")
        ));
    } else if old.signed != new.signed {
        // The same names, signing other things (or newly recorded).
        out.push(format!(
            "signed: {} -> {}",
            old.signed_summary().unwrap_or_else(|| "nobody".into()),
            new.signed_summary().unwrap_or_else(|| "nobody".into())
        ));
    }
    if old.run != new.run {
        out.push("run settings (arguments, environment) changed".into());
    }
    out
}

/// How a tree's packages changed, as lines (`added name@v`, `removed
/// name@v`, `changed name v1 -> v2`), and the packages whose pinned
/// version came back with another integrity (`name@v: sha512-… ->
/// sha512-…`). Packages are compared by name: a version moved to another
/// place in the tree is no change.
fn package_changes(old: &[lock::Package], new: &[lock::Package]) -> (Vec<String>, Vec<String>) {
    use std::collections::{BTreeMap, BTreeSet};
    type Versions<'a> = BTreeMap<&'a str, BTreeMap<&'a str, BTreeSet<&'a str>>>;
    fn index(ps: &[lock::Package]) -> Versions<'_> {
        let mut m: Versions = BTreeMap::new();
        for p in ps {
            m.entry(p.name.as_str())
                .or_default()
                .entry(p.version.as_str())
                .or_default()
                .insert(p.integrity.as_str());
        }
        m
    }
    let (before, after) = (index(old), index(new));
    let show = |s: &str| crate::text::printable(s, 200);
    let mut lines = Vec::new();
    let mut republished = Vec::new();
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let empty = BTreeMap::new();
    for name in names {
        let b = before.get(name).unwrap_or(&empty);
        let a = after.get(name).unwrap_or(&empty);
        let gone: Vec<&str> = b.keys().filter(|v| !a.contains_key(*v)).copied().collect();
        let came: Vec<&str> = a.keys().filter(|v| !b.contains_key(*v)).copied().collect();
        if let ([from], [to]) = (gone.as_slice(), came.as_slice()) {
            lines.push(format!(
                "changed {} {} -> {}",
                show(name),
                show(from),
                show(to)
            ));
        } else {
            lines.extend(
                gone.iter()
                    .map(|v| format!("removed {}@{}", show(name), show(v))),
            );
            lines.extend(
                came.iter()
                    .map(|v| format!("added {}@{}", show(name), show(v))),
            );
        }
        for (v, was) in b.iter().filter(|(v, _)| a.contains_key(*v)) {
            let now = &a[v];
            if was != now {
                let join =
                    |s: &BTreeSet<&str>| s.iter().map(|i| show(i)).collect::<Vec<_>>().join(" ");
                republished.push(format!(
                    "{}@{}: {} -> {}",
                    show(name),
                    show(v),
                    join(was),
                    join(now)
                ));
                lines.push(format!(
                    "REPUBLISHED {}@{}: same version, other integrity",
                    show(name),
                    show(v)
                ));
            }
        }
    }
    (lines, republished)
}

fn lock_file(ctx: &Context) -> PathBuf {
    ctx.config_dir.join("servers.lock")
}

/// `--unsigned --reason`: a reason that says something, on one line.
fn check_unsigned_reason(r: &str) -> Result<(), Failure> {
    lock::check_reason(r).map_err(|why| {
        Failure::input(
            Code::Usage,
            format!("--reason: {why}"),
            Some(format!(
                "say in one line (at most {} characters) why the server is pinned without a signature",
                lock::MAX_REASON_CHARS
            )),
        )
    })
}

/// Server names appear in policies, scopes, file names and `run NAME`.
fn check_name(name: &str) -> Result<(), Failure> {
    if crate::names::valid_server_name(name) {
        Ok(())
    } else {
        Err(Failure::input(
            Code::Usage,
            format!("`{name}` is not a usable server name"),
            Some(crate::names::SERVER_NAME_RULE.into()),
        ))
    }
}

fn unknown_server(name: &str) -> Failure {
    Failure::input(
        Code::ServerUnknown,
        format!("no server named `{name}` is pinned"),
        Some(
            "`mcp-warden cache list` shows what is cached; `mcp-warden add NAME SOURCE` pins one"
                .into(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Duration;

    /// A context whose cache holds the blob (and, for an archive, the
    /// tree) of a pinned npm package, with the receipt `add` would write.
    fn pinned(kind: ArtifactKind) -> (tempfile::TempDir, Context, Entry) {
        let d = tempfile::tempdir().unwrap();
        let ctx = Context::new(Some(d.path()), None, Some(d.path())).unwrap();
        let cache = Cache::at(&ctx.cache_dir);
        let sha256 = "a".repeat(64);
        let blob = cache.blob_path(&sha256);
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, "package").unwrap();
        let tree = (kind != ArtifactKind::File).then(|| {
            let key = "c".repeat(64);
            let t = cache.root().join("trees/sha256").join(&key);
            std::fs::create_dir_all(&t).unwrap();
            std::fs::write(t.join("index.js"), "1").unwrap();
            key
        });
        let mut e = Entry {
            source: "npm:@acme/server@1.2.3".into(),
            version: Some("1.2.3".into()),
            package_source: None,
            url: None,
            sha256,
            sha512: Some("b".repeat(128)),
            size: 7,
            kind,
            tree,
            tree_digest: None,
            signers: Vec::new(),
            signed: Vec::new(),
            evidence: Vec::new(),
            unsigned: None,
            pinned: jiff::Timestamp::now().to_string(),
            run: RunSettings::default(),
            evidence_files: Vec::new(),
            receipt: None,
            packages: Vec::new(),
            sbom: None,
        };
        let fp = pinned_fingerprint(&ctx, &e).unwrap();
        e.receipt = Some(Receipt::new(&e.sha256, "request", &fp));
        (d, ctx, e)
    }

    fn package(name: &str, version: &str, integrity: char) -> lock::Package {
        lock::Package {
            path: format!("node_modules/{name}"),
            name: name.into(),
            version: version.into(),
            resolved: format!("https://r.example/{name}-{version}.tgz"),
            integrity: format!("sha512-{}==", integrity.to_string().repeat(86)),
            sha256: "a".repeat(64),
            install_scripts: false,
            evidence: Vec::new(),
        }
    }

    #[test]
    fn package_changes_name_added_removed_changed_and_republished_packages() {
        let old = [
            package("ms", "2.1.3", 'A'),
            package("debug", "4.4.3", 'B'),
            package("gone", "1.0.0", 'C'),
            package("two", "1.0.0", 'D'),
            package("two", "2.0.0", 'E'),
        ];
        let mut moved = package("debug", "4.4.3", 'B');
        moved.path = "node_modules/x/node_modules/debug".into();
        let new = [
            package("ms", "2.1.4", 'F'),
            moved,
            package("fresh", "0.1.0", 'G'),
            package("two", "2.0.0", 'H'),
            package("two", "3.0.0", 'I'),
        ];
        let (lines, republished) = package_changes(&old, &new);
        assert_eq!(
            lines,
            [
                "added fresh@0.1.0",
                "removed gone@1.0.0",
                "changed ms 2.1.3 -> 2.1.4",
                "changed two 1.0.0 -> 3.0.0",
                "REPUBLISHED two@2.0.0: same version, other integrity",
            ]
        );
        assert_eq!(republished.len(), 1);
        assert!(
            republished[0].starts_with("two@2.0.0: sha512-EEEE"),
            "{republished:?}"
        );
        assert_eq!(package_changes(&old, &old), (Vec::new(), Vec::new()));
    }

    #[test]
    fn add_answers_from_its_receipt_only_while_nothing_changed() {
        let (_d, ctx, e) = pinned(ArtifactKind::File);
        assert!(unchanged(&ctx, &e, "request"));
        // Another request (flags, evidence, policy or trust files).
        assert!(!unchanged(&ctx, &e, "other request"));
        // No receipt, or one older than a day.
        assert!(!unchanged(
            &ctx,
            &Entry {
                receipt: None,
                ..e.clone()
            },
            "request"
        ));
        let mut old = e.clone();
        old.receipt.as_mut().unwrap().verified =
            (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(25)).to_string();
        assert!(!unchanged(&ctx, &old, "request"));
        // A local source may have changed behind its path.
        let local = Entry {
            source: "/srv/server.js".into(),
            ..e.clone()
        };
        assert!(!unchanged(&ctx, &local, "request"));
        // The cached file's mode (and with it ctime).
        let blob = Cache::at(&ctx.cache_dir).blob_path(&e.sha256);
        std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!unchanged(&ctx, &e, "request"));
    }

    #[test]
    fn a_rewritten_or_missing_cached_file_is_checked_again() {
        let (_d, ctx, e) = pinned(ArtifactKind::File);
        let blob = Cache::at(&ctx.cache_dir).blob_path(&e.sha256);
        let mtime = std::fs::metadata(&blob).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // Same size, mtime set back: ctime still tells.
        std::fs::write(&blob, "PACKAGE").unwrap();
        let f = std::fs::File::options().write(true).open(&blob).unwrap();
        f.set_modified(mtime).unwrap();
        assert!(!unchanged(&ctx, &e, "request"));
        std::fs::remove_file(&blob).unwrap();
        assert!(!unchanged(&ctx, &e, "request"));
    }

    #[test]
    fn an_archives_unpacked_tree_is_part_of_the_receipt() {
        let (_d, ctx, e) = pinned(ArtifactKind::NpmTarball);
        assert!(unchanged(&ctx, &e, "request"));
        let t = Cache::at(&ctx.cache_dir)
            .root()
            .join("trees/sha256")
            .join(e.tree.as_ref().unwrap());
        std::fs::write(t.join("index.js"), "2").unwrap();
        assert!(!unchanged(&ctx, &e, "request"));
    }

    fn request(name: &str, source: &str) -> AddRequest {
        AddRequest {
            name: name.into(),
            source: source.into(),
            evidence: EvidenceRequest::default(),
            fetch: FetchRequest {
                registry: None,
                pypi_url: None,
                registry_url: None,
                ca_file: Vec::new(),
                offline: true,
                max_size: 1 << 20,
                timeout: 60,
                min_rate: 0,
                min_rate_window: 30,
                progress: false,
                dependencies: true,
            },
            allow_downgrade: false,
            args: Vec::new(),
        }
    }

    /// Every file under `dir` with its content, but for the (empty) files
    /// that locks are taken on.
    fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if p.is_dir() {
                    out.extend(files(&p));
                } else if name != ".lock" && !name.ends_with(".lck") {
                    out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn add_with_the_receipts_request_is_unchanged_without_fetching() {
        let (_d, ctx, mut e) = pinned(ArtifactKind::File);
        // --offline: nothing could be fetched, and nothing needs to be.
        let req = request("acme", &e.source);
        let digest = request_digest(&ctx, "acme", &e.source, &req.evidence, &req.fetch).unwrap();
        let fp = pinned_fingerprint(&ctx, &e).unwrap();
        e.receipt = Some(Receipt::new(&e.sha256, &digest, &fp));
        let mut lock = Lock::load(&lock_file(&ctx)).unwrap();
        lock.servers.insert("acme".into(), e.clone());
        lock.save(&lock_file(&ctx)).unwrap();
        match add(&ctx, &req).unwrap() {
            PinOutcome::Unchanged { entry } => assert_eq!(entry.sha256, e.sha256),
            other => panic!("not unchanged: {other:?}"),
        }
        // Other evidence is another request: judged again (and, offline
        // and with no cached evidence, refused rather than answered).
        let mut other = request("acme", &e.source);
        other.evidence.key_name.push("someone".into());
        assert!(!matches!(
            add(&ctx, &other),
            Ok(PinOutcome::Unchanged { .. })
        ));
    }

    #[test]
    fn a_denied_add_leaves_the_lock_and_the_cache_as_they_were() {
        let (d, ctx, e) = pinned(ArtifactKind::File);
        let mut lock = Lock::load(&lock_file(&ctx)).unwrap();
        lock.servers.insert("acme".into(), e);
        lock.save(&lock_file(&ctx)).unwrap();
        let before = (files(&ctx.config_dir), files(&ctx.cache_dir));
        // Unsigned, under the default policy (a trusted signature).
        let src = d.path().join("other.js");
        std::fs::write(&src, "console.log('other')").unwrap();
        let outcome = add(&ctx, &request("other", &src.to_string_lossy())).unwrap();
        assert!(matches!(outcome, PinOutcome::Denied { .. }), "{outcome:?}");
        assert_eq!((files(&ctx.config_dir), files(&ctx.cache_dir)), before);
        // The same for a denied re-add of a pinned name.
        let outcome = add(&ctx, &request("acme", &src.to_string_lossy())).unwrap();
        assert!(matches!(outcome, PinOutcome::Denied { .. }), "{outcome:?}");
        assert_eq!((files(&ctx.config_dir), files(&ctx.cache_dir)), before);
    }
}
