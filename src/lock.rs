//! `servers.lock`: what `add` verified and pinned, so that `run` and
//! `verify --server` use exactly the same bytes.
//!
//! TOML, one table per server under `[servers.NAME]`. Read-modify-write
//! happens under an exclusive lock on a sibling file, and the new file
//! replaces the old one atomically, so two `add`s never interleave and a
//! failed `add` leaves the previous lock as it was.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{self, ReadError};
use crate::receipt::Receipt;
use crate::source::ArtifactKind;
// Others check server names through `lock::`.

/// The lock grows by one small table per server; a file far beyond this
/// is not one mcp-warden wrote.
pub const MAX_LOCK_BYTES: u64 = 4 << 20;
const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read the lock file: {0}")]
    Read(ReadError),
    #[error("{path}: not a valid lock file: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: lock file version {found}, this mcp-warden reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write the lock file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot take the lock on {path}: {source}")]
    Locking { path: PathBuf, source: io::Error },
}

impl crate::diag::Diagnose for LockError {
    fn code(&self) -> crate::diag::Code {
        crate::diag::Code::LockInvalid
    }

    fn hint(&self) -> Option<String> {
        let hint = match self {
            LockError::Invalid { .. } => Some(
                "the lock is written by `mcp-warden add`; restore it from a backup, or remove the file and add the servers again",
            ),
            LockError::Version { .. } => {
                Some("use the mcp-warden that wrote this lock, or a newer one")
            }
            LockError::Write { .. } | LockError::Locking { .. } => {
                Some("check that the config directory is writable (or pass --home DIR)")
            }
            LockError::Read(_) => None,
        };
        hint.map(str::to_string)
    }
}

/// The whole lock file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    #[serde(default)]
    pub servers: BTreeMap<String, Entry>,
}

/// One pinned server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Entry {
    /// The source as the user gave it (`npm:NAME@VERSION`, a path, ...).
    pub source: String,
    /// The version the source resolved to, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// For an MCP registry source or a local server.json: the package
    /// source it resolved to (`npm:NAME@VERSION`, `pypi:NAME==VERSION`, an
    /// `.mcpb` URL), which `[[servers]] source` is judged against at `run`
    /// as at `add`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_source: Option<String>,
    /// The https URL the artifact was downloaded from, so that `add
    /// --locked` and `run` can fetch exactly these bytes again into an
    /// empty cache (checked against `sha256` and `sha512`). None for a
    /// file or directory of this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Hex digests of the artifact as fetched (the cache key is sha256).
    /// A directory has its tree digest as `sha256` and no `sha512`: no
    /// file was fetched whose SHA-512 could be pinned.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
    pub size: u64,
    pub kind: ArtifactKind,
    /// The sha256 key of the unpacked tree in the cache, for archives and
    /// directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// The tree digest of the unpacked files, which `run` checks the
    /// cached tree against before starting from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_digest: Option<String>,
    /// Who signed any of its evidence: trust-store names or certificate
    /// identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    /// What each of them signed: the artifact, its provenance, its SBOM.
    /// Absent from locks written before it was recorded, which `run` and
    /// `list` then say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<Signed>,
    /// Pinned without a signature on purpose (`add --unsigned --reason`):
    /// the reason, shown whenever the server is judged or started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned: Option<String>,
    /// The evidence the verdict rested on, one line each
    /// (`signature: minisign by acme-release`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// When `add` or `update` pinned it (RFC 3339).
    pub pinned: String,
    #[serde(default, skip_serializing_if = "RunSettings::is_empty")]
    pub run: RunSettings,
    /// The evidence files the verdict rested on (the user's and those the
    /// source published), kept in the cache so that `verify --server` can
    /// judge the server again without the network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence_files: Vec<EvidenceFile>,
    /// What the verdict was reached from, so that the same `add` again
    /// can be answered without fetching and verifying again. `inputs` is
    /// the digest of the request (`ops::pin`).
    #[serde(
        default,
        deserialize_with = "crate::receipt::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub receipt: Option<Receipt>,
    /// The package's dependency tree, one record per package laid out in
    /// the pinned tree (npm: as its lock-only resolution placed them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
    /// The cache key (sha256) of the CycloneDX SBOM `add` generated of
    /// the pinned tree and judged; `mcp-warden sbom` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<String>,
}

/// One signer and what it signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Signed {
    pub signer: String,
    pub what: Vec<SignedPart>,
}

/// What a signature covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignedPart {
    /// The artifact itself (a detached signature, a bundle over it).
    Artifact,
    /// Its build provenance.
    Provenance,
    /// Its SBOM (an attestation, or a detached signature over the file).
    Sbom,
}

impl SignedPart {
    pub const ALL: [SignedPart; 3] = [
        SignedPart::Artifact,
        SignedPart::Provenance,
        SignedPart::Sbom,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SignedPart::Artifact => "artifact",
            SignedPart::Provenance => "provenance",
            SignedPart::Sbom => "SBOM",
        }
    }
}

/// One dependency laid out in a pinned tree, fetched from `resolved` and
/// checked against `integrity` before it was unpacked (npm: a tarball,
/// checked against its sha512; PyPI: a wheel, against its sha256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Package {
    /// Where it lies in the tree (`node_modules/a/node_modules/b`; a
    /// wheel: its `NAME-VERSION.dist-info` at the tree's root).
    pub path: String,
    pub name: String,
    pub version: String,
    pub resolved: String,
    /// The SRI integrity the file was checked against: the npm
    /// registry's `sha512-…`, or the `sha256-…` of pip's report.
    pub integrity: String,
    /// The file's cache key.
    pub sha256: String,
    /// It declares install scripts (or a `binding.gyp`), which were not run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub install_scripts: bool,
    /// What vouches for it beyond its digest:
    /// `registry-signature:KEYID` for a registry signature that verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

/// The longest `unsigned` reason a lock holds (and `add` takes).
pub const MAX_REASON_CHARS: usize = 500;

impl Entry {
    /// Who signed what, in words: `artifact signed by b, SBOM signed by
    /// a`; for a lock that did not record it, the names and that.
    pub fn signed_summary(&self) -> Option<String> {
        if self.signed.is_empty() {
            return (!self.signers.is_empty()).then(|| {
                format!(
                    "signers {} (what each signed is not recorded: `add` again records it)",
                    self.signers.join(", ")
                )
            });
        }
        let parts: Vec<String> = SignedPart::ALL
            .into_iter()
            .filter_map(|part| {
                let who: Vec<&str> = (self.signed.iter())
                    .filter(|s| s.what.contains(&part))
                    .map(|s| s.signer.as_str())
                    .collect();
                (!who.is_empty()).then(|| format!("{} signed by {}", part.label(), who.join(", ")))
            })
            .collect();
        Some(parts.join(", "))
    }

    /// One `NAME: what, what` per signer, for the audit record.
    pub fn signed_labels(&self) -> Vec<String> {
        (self.signed.iter())
            .map(|s| {
                let what: Vec<&str> = s.what.iter().map(|p| p.label()).collect();
                format!("{}: {}", s.signer, what.join(", "))
            })
            .collect()
    }

    /// Who signed the artifact itself (trust-store names), what
    /// `signed-by` selects entries by, as `add` judged it; a lock that did
    /// not record what each signed gives every signer (more entries apply,
    /// never fewer).
    pub fn artifact_signers(&self) -> Vec<String> {
        if self.signed.is_empty() {
            return self.signers.clone();
        }
        (self.signed.iter())
            .filter(|s| s.what.contains(&SignedPart::Artifact))
            .map(|s| s.signer.clone())
            .collect()
    }

    /// Where the pinned artifact was fetched from, as `add` resolved it.
    pub fn origin(&self) -> crate::evidence::Origin {
        crate::evidence::Origin::of_pinned(
            &self.source,
            self.version.as_deref(),
            self.package_source.as_deref(),
        )
    }

    /// What the lock reader requires of an entry beyond its types: hex
    /// digests of the right length, a SHA-512 for every fetched file and
    /// none for a directory (which is pinned by its tree digest, so its
    /// `sha256`, `tree` and `tree-digest` agree), and a usable reason.
    fn check(&self) -> Result<(), String> {
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        let malformed = || "has a malformed digest".to_string();
        if !hex(&self.sha256, 64)
            || self.packages.iter().any(|p| !hex(&p.sha256, 64))
            || self.sbom.as_deref().is_some_and(|s| !hex(s, 64))
        {
            return Err(malformed());
        }
        // npm's sha512 or a wheel's sha256, in SRI form (npm may list
        // weaker ones beside it).
        use base64::Engine as _;
        let sri = |t: &str| {
            let (len, b64) = match t.split_once('-') {
                Some(("sha512", b)) => (64, b),
                Some(("sha256", b)) => (32, b),
                _ => return false,
            };
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .is_ok_and(|d| d.len() == len)
        };
        if self
            .packages
            .iter()
            .any(|p| !p.integrity.split_whitespace().any(sri))
        {
            return Err(
                "has a package whose integrity is not sha512- or sha256- in SRI form".into(),
            );
        }
        match (self.kind, &self.sha512) {
            (ArtifactKind::Directory, None) => {
                let tree = Some(self.sha256.as_str());
                if self.tree.as_deref() != tree || self.tree_digest.as_deref() != tree {
                    return Err(
                        "is a directory whose tree and tree-digest are not its sha256".into(),
                    );
                }
            }
            (ArtifactKind::Directory, Some(_)) => {
                return Err("is a directory and has a sha512 (a directory has none)".into());
            }
            (_, Some(s)) if hex(s, 128) => {}
            (_, Some(_)) => return Err(malformed()),
            (_, None) => return Err("has no sha512".into()),
        }
        if let Some(r) = &self.unsigned
            && let Err(why) = check_reason(r)
        {
            return Err(format!("has an unusable `unsigned` reason: {why}"));
        }
        Ok(())
    }
}

/// A reason for an unsigned pin: some visible text, one line, no control
/// characters, at most [`MAX_REASON_CHARS`].
pub fn check_reason(r: &str) -> Result<(), String> {
    if r.trim().is_empty() {
        return Err("it is empty".into());
    }
    // Bidirectional overrides reorder what a terminal shows, as control
    // characters forge lines.
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if r.chars().any(|c| c.is_control() || bidi(c)) {
        return Err("it contains a control character".into());
    }
    if r.chars().count() > MAX_REASON_CHARS {
        return Err(format!("it is longer than {MAX_REASON_CHARS} characters"));
    }
    Ok(())
}

/// One evidence file in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EvidenceFile {
    /// `signature`, `bundle`, `provenance`, `sbom` or `sbom-signature`:
    /// the flag it was given with.
    pub role: String,
    pub sha256: String,
}

/// What a source says about running the server (an MCP registry entry's
/// `environmentVariables` and arguments); never a shell string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RunSettings {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The arguments the user pinned (`add NAME SOURCE -- ARGS`), after
    /// the source's; kept by `update`. A policy's `grant-arg-paths`
    /// opens the sandbox to the paths among them, and to no others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

impl RunSettings {
    pub fn is_empty(&self) -> bool {
        self.args.is_empty() && self.server_args.is_empty() && self.env.is_empty()
    }

    /// Every pinned argument, in the order the server gets them.
    pub fn pinned_args(&self) -> impl Iterator<Item = &str> {
        self.args
            .iter()
            .chain(&self.server_args)
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnvVar {
    pub name: String,
    /// Read from the keychain at launch, never stored here.
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Lock {
    /// Reads `path`; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<Lock, LockError> {
        let text = match fsutil::read_text_bounded(path, MAX_LOCK_BYTES) {
            Ok(t) => t,
            Err(ReadError::Missing { .. }) => {
                return Ok(Lock {
                    version: VERSION,
                    servers: BTreeMap::new(),
                });
            }
            Err(e) => return Err(LockError::Read(e)),
        };
        let lock: Lock = toml::from_str(&text).map_err(|e| LockError::Invalid {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        if lock.version != VERSION {
            return Err(LockError::Version {
                path: path.to_path_buf(),
                found: lock.version,
            });
        }
        for (name, e) in &lock.servers {
            if let Err(why) = e.check() {
                return Err(LockError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("server `{name}` {why}"),
                });
            }
        }
        Ok(lock)
    }

    /// Writes `path` atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        let body = toml::to_string_pretty(self).map_err(|e| LockError::Write {
            path: path.to_path_buf(),
            source: io::Error::other(e.to_string()),
        })?;
        let text = format!(
            "# Written by `mcp-warden add`: the servers it verified and pinned.\n\
             # Edit with `mcp-warden add|update|remove`, not by hand.\n{body}"
        );
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|source| LockError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        }
        fsutil::write_atomic(path, text.as_bytes()).map_err(|source| LockError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Every cache key the entries use (artifact blobs and trees), for
    /// `cache gc`.
    pub fn cache_keys(&self) -> impl Iterator<Item = &str> {
        self.servers.values().flat_map(|e| {
            std::iter::once(e.sha256.as_str())
                .chain(e.tree.as_deref())
                .chain(e.evidence_files.iter().map(|f| f.sha256.as_str()))
                .chain(e.packages.iter().map(|p| p.sha256.as_str()))
                .chain(e.sbom.as_deref())
        })
    }
}

/// An exclusive hold on the lock file for a read-modify-write; released
/// when dropped (or when the process dies).
pub struct Held {
    _file: File,
}

/// Waits for exclusive use of the lock at `path` (through `path.lck`).
pub fn hold(path: &Path) -> Result<Held, LockError> {
    let lck = path.with_extension("lock.lck");
    if let Some(dir) = lck.parent() {
        fs::create_dir_all(dir).map_err(|source| LockError::Locking {
            path: lck.clone(),
            source,
        })?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lck)
        .map_err(|source| LockError::Locking {
            path: lck.clone(),
            source,
        })?;
    file.lock()
        .map_err(|source| LockError::Locking { path: lck, source })?;
    Ok(Held { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            source: "npm:@acme/server@1.2.3".into(),
            version: Some("1.2.3".into()),
            package_source: None,
            url: Some("https://registry.npmjs.org/@acme/server/-/server-1.2.3.tgz".into()),
            sha256: "a".repeat(64),
            sha512: Some("b".repeat(128)),
            size: 42,
            kind: ArtifactKind::NpmTarball,
            tree: Some("c".repeat(64)),
            tree_digest: Some("d".repeat(64)),
            signers: vec!["acme-release".into()],
            signed: vec![Signed {
                signer: "acme-release".into(),
                what: vec![SignedPart::Artifact, SignedPart::Sbom],
            }],
            evidence: vec!["signature: minisign by acme-release".into()],
            unsigned: None,
            pinned: "2026-11-21T09:00:00Z".into(),
            receipt: None,
            evidence_files: vec![EvidenceFile {
                role: "signature".into(),
                sha256: "d".repeat(64),
            }],
            run: RunSettings {
                args: vec!["--stdio".into()],
                server_args: vec!["/srv/docs".into(), "--ro".into()],
                env: vec![EnvVar {
                    name: "TOKEN".into(),
                    secret: true,
                    required: true,
                    default: None,
                    description: None,
                }],
            },
            packages: vec![
                Package {
                    path: "node_modules/zod".into(),
                    name: "zod".into(),
                    version: "4.1.0".into(),
                    resolved: "https://registry.npmjs.org/zod/-/zod-4.1.0.tgz".into(),
                    integrity: format!("sha512-{}==", "A".repeat(86)),
                    sha256: "e".repeat(64),
                    install_scripts: false,
                    evidence: vec![
                        "registry-signature:SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"
                            .into(),
                    ],
                },
                Package {
                    path: "node_modules/a/node_modules/@s/b".into(),
                    name: "@s/b".into(),
                    version: "1.0.0".into(),
                    resolved: "https://registry.npmjs.org/@s/b/-/b-1.0.0.tgz".into(),
                    integrity: format!("sha512-{}A==", "B".repeat(85)),
                    sha256: "f".repeat(64),
                    install_scripts: true,
                    evidence: Vec::new(),
                },
                Package {
                    path: "tzdata-2026.6.dist-info".into(),
                    name: "tzdata".into(),
                    version: "2026.6".into(),
                    resolved: "https://files.example.org/tzdata-2026.6-py2.py3-none-any.whl".into(),
                    integrity: format!("sha256-{}=", "A".repeat(43)),
                    sha256: "c".repeat(64),
                    install_scripts: false,
                    evidence: Vec::new(),
                },
            ],
            sbom: Some("9".repeat(64)),
        }
    }

    #[test]
    fn round_trips_and_missing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/servers.lock");
        let empty = Lock::load(&path).unwrap();
        assert!(empty.servers.is_empty());
        let mut lock = empty;
        lock.servers.insert("github".into(), entry());
        lock.save(&path).unwrap();
        assert_eq!(Lock::load(&path).unwrap(), lock);
        let keys: Vec<&str> = lock.cache_keys().collect();
        assert_eq!(keys.len(), 7);
        assert!(keys.contains(&"9".repeat(64).as_str()));
        // Each package of the tree is a table of its own, its install
        // scripts said only when it has them.
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.matches("[[servers.github.packages]]").count(),
            3,
            "{text}"
        );
        assert_eq!(text.matches("install-scripts = true").count(), 1, "{text}");
        assert!(!text.contains("install-scripts = false"), "{text}");
        // Evidence is said only where there is some; a lock written
        // before it existed reads with none.
        assert_eq!(
            text.matches("evidence = [\"registry-signature").count(),
            1,
            "{text}"
        );
        assert!(text.contains("evidence = [\"registry-signature:SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U\"]"), "{text}");
        let old = text.replace(
            "evidence = [\"registry-signature:SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U\"]\n",
            "",
        );
        fs::write(&path, old).unwrap();
        let read = Lock::load(&path).unwrap();
        assert!(
            read.servers["github"]
                .packages
                .iter()
                .all(|p| p.evidence.is_empty())
        );
        // Where the artifact came from, to fetch it again from the lock.
        assert!(
            text.contains("url = \"https://registry.npmjs.org/@acme/server/-/server-1.2.3.tgz\""),
            "{text}"
        );
    }

    const KINDS: [(ArtifactKind, &str); 6] = [
        (ArtifactKind::File, "file"),
        (ArtifactKind::NpmTarball, "npm-tarball"),
        (ArtifactKind::Wheel, "wheel"),
        (ArtifactKind::Sdist, "sdist"),
        (ArtifactKind::Mcpb, "mcpb"),
        (ArtifactKind::Directory, "directory"),
    ];

    #[test]
    fn every_kind_round_trips_with_its_receipt_as_before() {
        use crate::receipt::{Fingerprint, Receipt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("servers.lock");
        let blob = dir.path().join("blob");
        fs::write(&blob, "x").unwrap();
        let fp = Fingerprint::of_regular_file(&blob).unwrap();
        let mut lock = Lock::load(&path).unwrap();
        for (kind, _) in KINDS {
            let mut e = entry();
            e.kind = kind;
            if kind == ArtifactKind::Directory {
                // Pinned by its tree digest, with no SHA-512.
                e.sha512 = None;
                e.tree = Some(e.sha256.clone());
                e.tree_digest = Some(e.sha256.clone());
            }
            e.receipt = Some(Receipt::new(&e.sha256, "request", &fp));
            lock.servers.insert(format!("{kind:?}"), e.clone());
            // The same pinned without a signature, on purpose.
            e.unsigned = Some(format!("{kind:?}: the publisher signs nothing"));
            lock.servers.insert(format!("{kind:?}-unsigned"), e);
        }
        lock.save(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        // The lock spells kinds as it did when they were strings.
        for (_, spelled) in KINDS {
            assert!(text.contains(&format!("kind = \"{spelled}\"\n")), "{text}");
        }
        assert!(text.contains("unsigned = \"File: the publisher signs nothing\"\n"));
        assert_eq!(text.matches("sha512 = ").count(), 2 * (KINDS.len() - 1));
        let back = Lock::load(&path).unwrap();
        assert_eq!(back, lock);
        for (name, e) in &back.servers {
            let r = e.receipt.as_ref().unwrap();
            assert!(r.matches(&e.sha256, "request", &fp), "{name}");
        }
    }

    #[test]
    fn an_old_receipt_loads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("servers.lock");
        let mut lock = Lock::load(&path).unwrap();
        lock.servers.insert("s".into(), entry());
        lock.save(&path).unwrap();
        // What `add` wrote before `add` and `run` shared one receipt.
        let old = fs::read_to_string(&path).unwrap()
            + "\n[servers.s.receipt]\nrequest = \"ab\"\nfile = \"1:2:3:4\"\n";
        fs::write(&path, old).unwrap();
        let back = Lock::load(&path).unwrap();
        assert_eq!(back.servers["s"].receipt, None);
        assert_eq!(back, lock);
    }

    #[test]
    fn malformed_locks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("servers.lock");
        let mut lock = Lock {
            version: VERSION,
            servers: BTreeMap::new(),
        };
        lock.servers.insert("s".into(), entry());
        lock.save(&path).unwrap();
        let good = fs::read_to_string(&path).unwrap();
        for (bad, want) in [
            (good.replace(&"a".repeat(64), "zz"), "malformed digest"),
            (good.replace("version = 1", "version = 9"), "version 9"),
            (
                good.replace("kind =", "surprise = 1\nkind ="),
                "unknown field",
            ),
            (good.replace(&"e".repeat(64), "ee"), "malformed digest"),
            (
                good.replace(&format!("sha256-{}=", "A".repeat(43)), "sha256-CCCC"),
                "integrity is not",
            ),
            (
                good.replace(&format!("sha256-{}=", "A".repeat(43)), "md5-CCCC"),
                "integrity is not",
            ),
            (
                good.replace("sha512-AAAA", "sha512-!AAA"),
                "integrity is not",
            ),
            (
                good.replace("install-scripts = true", "install-scripts = \"no\""),
                "not a valid lock file",
            ),
            // Cut inside a value.
            (
                good[..good.find("sha256 = \"").unwrap() + 20].to_string(),
                "not a valid lock file",
            ),
            ("\u{0}\u{1}".to_string(), "not a valid lock file"),
        ] {
            fs::write(&path, &bad).unwrap();
            let e = Lock::load(&path).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        fs::write(&path, vec![b'#'; MAX_LOCK_BYTES as usize + 1]).unwrap();
        assert!(matches!(Lock::load(&path), Err(LockError::Read(_))));
    }

    #[test]
    fn a_directory_has_no_sha512_and_every_file_has_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("servers.lock");
        let mut d = entry();
        d.kind = ArtifactKind::Directory;
        d.sha512 = None;
        d.tree = Some(d.sha256.clone());
        d.tree_digest = Some(d.sha256.clone());
        type Edit = fn(&mut Entry);
        let cases: [(&str, Edit); 7] = [
            ("has a malformed digest", |e| e.sha512 = Some(String::new())),
            ("has no sha512", |e| e.sha512 = None),
            ("is a directory and has a sha512", |e| {
                e.kind = ArtifactKind::Directory;
                e.tree = Some(e.sha256.clone());
                e.tree_digest = Some(e.sha256.clone());
            }),
            ("unusable `unsigned` reason: it is empty", |e| {
                e.unsigned = Some(" ".into())
            }),
            ("unusable `unsigned` reason: it contains a control", |e| {
                e.unsigned = Some("a\u{1b}[2J".into())
            }),
            ("unusable `unsigned` reason: it contains a control", |e| {
                e.unsigned = Some("a\u{202e}b".into())
            }),
            ("unusable `unsigned` reason: it is longer", |e| {
                e.unsigned = Some("x".repeat(MAX_REASON_CHARS + 1))
            }),
        ];
        for (want, edit) in cases {
            let mut e = entry();
            edit(&mut e);
            let lock = Lock {
                version: VERSION,
                servers: BTreeMap::from([("s".to_string(), e)]),
            };
            lock.save(&path).unwrap();
            let err = Lock::load(&path).unwrap_err().to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
        // A directory whose tree is not the one its digest names.
        for edit in [
            |e: &mut Entry| e.tree = Some("e".repeat(64)),
            |e: &mut Entry| e.tree_digest = None,
        ] {
            let mut e = d.clone();
            edit(&mut e);
            let lock = Lock {
                version: VERSION,
                servers: BTreeMap::from([("d".to_string(), e)]),
            };
            lock.save(&path).unwrap();
            let err = Lock::load(&path).unwrap_err().to_string();
            assert!(err.contains("tree-digest are not its sha256"), "{err}");
        }
        let lock = Lock {
            version: VERSION,
            servers: BTreeMap::from([("d".to_string(), d)]),
        };
        lock.save(&path).unwrap();
        assert_eq!(Lock::load(&path).unwrap(), lock);
    }

    #[test]
    fn holds_are_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("servers.lock");
        let held = hold(&path).unwrap();
        let lck = path.with_extension("lock.lck");
        let other = OpenOptions::new().write(true).open(&lck).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(held);
        other.try_lock().unwrap();
    }
}
