//! The trust store: pinned keys and sigstore identities, each with scopes
//! (globs over server names it may vouch for). The user's store is a TOML
//! file under the home; `/etc/mcp-warden/trust.d/*.toml` is read as well
//! and never written.

use crate::names::valid_trust_name;
use std::fs;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::fsutil::{self, ReadError};
use crate::identity::IdentityMatcher;
use crate::signature::keys::{self, KeyError, PublicKey};
use crate::x509;

pub const MAX_TRUST_FILE: u64 = 4 * 1024 * 1024;
pub const DEFAULT_SSH_NAMESPACE: &str = "file";

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read the trust store: {0}")]
    Read(#[from] ReadError),
    #[error("cannot read the key: {0}")]
    KeyFile(ReadError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the trust store {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: KeyError,
    },
    #[error("a trust entry named `{0}` exists already (with other contents)")]
    DuplicateName(String),
    #[error("no trust entry is named `{0}`")]
    NotFound(String),
    #[error("`{name}` comes from the system trust store ({path}) and cannot be changed here")]
    SystemEntry { name: String, path: PathBuf },
    #[error("no scope given: a signer must be limited to the server names it may vouch for")]
    NoScope,
    #[error("invalid scope `{pattern}`: {message}")]
    BadScope { pattern: String, message: String },
    #[error(
        "invalid name `{0}`: use letters, digits, `.`, `_` and `-`, starting with a letter or digit"
    )]
    BadName(String),
    #[error("invalid registry key: {0}")]
    BadRegistryKey(String),
    #[error("invalid identity regular expression: {0}")]
    BadRegex(String),
    #[error("{path}: {message}")]
    BadCertificate { path: PathBuf, message: String },
    #[error("cannot read the certificate: {0}")]
    CertFile(ReadError),
}

impl crate::diag::Diagnose for TrustError {
    fn code(&self) -> crate::diag::Code {
        match self {
            TrustError::Invalid { .. } | TrustError::Read(_) => {
                crate::diag::Code::TrustStoreInvalid
            }
            _ => crate::diag::Code::TrustInput,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            TrustError::NoScope => "pass --scope GLOB (repeatable) with the server names this signer may vouch for, or --scope '*' to trust it for every server".into(),
            TrustError::DuplicateName(_) => "choose another --name, or `mcp-warden trust remove NAME` first".into(),
            TrustError::NotFound(_) => "`mcp-warden trust list` shows the names".into(),
            TrustError::SystemEntry { .. } => "ask the administrator to change the system trust store".into(),
            TrustError::BadCertificate { .. } => "give the PEM file of the publisher's root CA certificate (BEGIN CERTIFICATE, CA:TRUE), not a leaf or a key".into(),
            TrustError::BadRegistryKey(_) => "give the key as the registry publishes it at /-/npm/v1/keys: `key` (base64 DER, ECDSA P-256), `keyid`, `expires` (RFC 3339)".into(),
            TrustError::Invalid { path, .. } => format!("fix or remove {}; the store is not used while it is invalid", path.display()),
            _ => return None,
        })
    }
}

/// Glob patterns over server names, compiled once.
#[derive(Debug, Clone)]
pub struct Scopes {
    pub patterns: Vec<String>,
    set: GlobSet,
}

impl Scopes {
    pub fn new(patterns: &[String]) -> Result<Self, TrustError> {
        if patterns.is_empty() {
            return Err(TrustError::NoScope);
        }
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            b.add(compile_glob(p).map_err(|message| TrustError::BadScope {
                pattern: p.clone(),
                message,
            })?);
        }
        let set = b.build().map_err(|e| TrustError::BadScope {
            pattern: patterns.join(", "),
            message: e.to_string(),
        })?;
        Ok(Scopes {
            patterns: patterns.to_vec(),
            set,
        })
    }

    pub fn matches(&self, server: &str) -> bool {
        self.set.is_match(server)
    }
}

/// Server-name globs: `*`, `?`, `[…]`, `{a,b}`; `*` crosses `/` because
/// registry names such as `io.github.acme/server` contain one.
pub fn compile_glob(pattern: &str) -> Result<Glob, String> {
    build_glob(pattern, false)
}

/// Globs over git refs and workflow paths: `*` and `?` stop at
/// `/`, so `refs/tags/v*` matches `refs/tags/v1.2` and not
/// `refs/tags/v1/../../heads/main`; only a whole `**` segment (`refs/**`,
/// `**/release.yml`, `a/**/b`) crosses `/`, and elsewhere `**` is `*`.
pub fn compile_path_glob(pattern: &str) -> Result<Glob, String> {
    build_glob(pattern, true)
}

fn build_glob(pattern: &str, literal_separator: bool) -> Result<Glob, String> {
    if pattern.trim().is_empty() {
        return Err("empty pattern".into());
    }
    globset::GlobBuilder::new(pattern)
        .literal_separator(literal_separator)
        .backslash_escape(true)
        .build()
        .map_err(|e| e.kind().to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    User,
    System,
}

#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub name: String,
    pub key: PublicKey,
    pub fingerprint: String,
    pub scopes: Scopes,
    pub ssh_namespace: String,
    pub origin: Origin,
    pub file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct TrustedIdentity {
    pub name: String,
    pub issuer: String,
    pub identity: IdentityMatcher,
    pub scopes: Scopes,
    pub origin: Origin,
    pub file: PathBuf,
}

/// A pinned X.509 root for `.mcpb` bundle signatures.
#[derive(Debug, Clone)]
pub struct TrustedCa {
    pub name: String,
    pub scopes: Scopes,
    pub cert_der: Vec<u8>,
    /// `sha256:HEX` of the DER certificate.
    pub fingerprint: String,
    /// RFC 4514 subject.
    pub subject: String,
    pub origin: Origin,
    pub file: PathBuf,
}

/// The stored form, one file per origin.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct TrustFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    key: Vec<KeyRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    identity: Vec<IdentityRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ca: Vec<CaRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    registry_key: Vec<RegistryKeyRecord>,
}

/// A package registry's signing key (`[[registry-key]]`), as the
/// registry publishes it at `/-/npm/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RegistryKeyRecord {
    registry: String,
    keyid: String,
    /// Base64 of the DER SubjectPublicKeyInfo (ECDSA P-256).
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CaRecord {
    name: String,
    fingerprint: String,
    /// The certificate, PEM.
    certificate: String,
    scopes: Vec<String>,
}

/// Largest certificate file `trust add-ca` reads.
pub const MAX_CERT_FILE: u64 = 256 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct KeyRecord {
    name: String,
    fingerprint: String,
    /// The key as an OpenSSH line, or the minisign `.pub` text (which
    /// also carries the minisign key id).
    public_key: String,
    scopes: Vec<String>,
    #[serde(default = "default_namespace")]
    ssh_namespace: String,
}

fn default_namespace() -> String {
    DEFAULT_SSH_NAMESPACE.to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct IdentityRecord {
    name: String,
    issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity_regexp: Option<String>,
    scopes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    pub keys: Vec<TrustedKey>,
    pub identities: Vec<TrustedIdentity>,
    pub cas: Vec<TrustedCa>,
    /// Registry keys pinned in the files (registry.npmjs.org's are built
    /// in: see [`TrustStore::registry_keys`]).
    pub registry_keys: Vec<crate::deps::evidence::RegistryKey>,
}

pub enum Entry<'a> {
    Key(&'a TrustedKey),
    Identity(&'a TrustedIdentity),
}

impl TrustStore {
    /// Loads the system files (sorted by name) and then the user's. Any
    /// invalid file is an error: a store that is half read could drop a
    /// revocation, so nothing is used until it is fixed.
    pub fn load(ctx: &Context) -> Result<Self, TrustError> {
        let mut store = TrustStore::default();
        let sys = ctx.system_trust_dir();
        if sys.is_dir() {
            let mut files: Vec<PathBuf> = fs::read_dir(&sys)
                .map_err(|e| ReadError::Io {
                    path: sys.clone(),
                    source: e,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for f in files {
                store.load_file(&f, Origin::System)?;
            }
        }
        let user = ctx.trust_file();
        if user.exists() {
            store.load_file(&user, Origin::User)?;
        }
        Ok(store)
    }

    fn load_file(&mut self, path: &Path, origin: Origin) -> Result<(), TrustError> {
        let text = fsutil::read_text_bounded(path, MAX_TRUST_FILE)?;
        let invalid = |message: String| TrustError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file: TrustFile =
            toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?;
        for r in file.key {
            let key =
                PublicKey::parse(r.public_key.as_bytes()).map_err(|source| TrustError::Key {
                    path: path.to_path_buf(),
                    source,
                })?;
            // The stored fingerprint is what `trust list` showed when the key
            // was added; an edit of the key text alone must not go unnoticed.
            if key.fingerprint() != r.fingerprint {
                return Err(invalid(format!(
                    "entry `{}`: the key does not have the recorded fingerprint {}",
                    r.name, r.fingerprint
                )));
            }
            self.check_new_name(&r.name)
                .map_err(|e| invalid(e.to_string()))?;
            let scopes =
                Scopes::new(&r.scopes).map_err(|e| invalid(format!("entry `{}`: {e}", r.name)))?;
            self.keys.push(TrustedKey {
                name: r.name,
                fingerprint: r.fingerprint,
                key,
                scopes,
                ssh_namespace: r.ssh_namespace,
                origin: origin.clone(),
                file: path.to_path_buf(),
            });
        }
        for r in file.identity {
            self.check_new_name(&r.name)
                .map_err(|e| invalid(e.to_string()))?;
            let identity = identity_matcher(r.identity.as_deref(), r.identity_regexp.as_deref())
                .map_err(|e| invalid(format!("entry `{}`: {e}", r.name)))?;
            let scopes =
                Scopes::new(&r.scopes).map_err(|e| invalid(format!("entry `{}`: {e}", r.name)))?;
            self.identities.push(TrustedIdentity {
                name: r.name,
                issuer: r.issuer,
                identity,
                scopes,
                origin: origin.clone(),
                file: path.to_path_buf(),
            });
        }
        for r in file.ca {
            self.check_new_name(&r.name)
                .map_err(|e| invalid(e.to_string()))?;
            let entry = |m: String| invalid(format!("entry `{}`: {m}", r.name));
            let der = x509::certificate_der(r.certificate.as_bytes()).map_err(entry)?;
            let info = x509::inspect_ca(&der, std::time::SystemTime::now())
                .map_err(|e| entry(e.to_string()))?;
            if info.fingerprint != r.fingerprint {
                return Err(entry(format!(
                    "the certificate does not have the recorded fingerprint {}",
                    r.fingerprint
                )));
            }
            let scopes = Scopes::new(&r.scopes).map_err(|e| entry(e.to_string()))?;
            self.cas.push(TrustedCa {
                name: r.name,
                scopes,
                cert_der: der,
                fingerprint: r.fingerprint,
                subject: info.subject,
                origin: origin.clone(),
                file: path.to_path_buf(),
            });
        }
        for r in file.registry_key {
            let k = crate::deps::evidence::RegistryKey::parse(
                &r.registry,
                &r.keyid,
                &r.key,
                r.expires.as_deref(),
            )
            .map_err(|e| invalid(format!("registry key `{}`: {e}", r.keyid)))?;
            if (self.registry_keys.iter()).any(|o| o.registry == k.registry && o.keyid == k.keyid) {
                return Err(invalid(format!(
                    "registry key `{}` of {} is pinned twice",
                    r.keyid, k.registry
                )));
            }
            self.registry_keys.push(k);
        }
        Ok(())
    }

    /// The keys that sign packages of `registry`: those pinned for it,
    /// and for registry.npmjs.org its published keys, built in.
    pub fn registry_keys(&self, registry: &str) -> Vec<crate::deps::evidence::RegistryKey> {
        use crate::deps::evidence::{NPMJS_REGISTRY, npmjs_keys, registry_id};
        let id = registry_id(registry);
        let mut keys: Vec<_> = (self.registry_keys.iter())
            .filter(|k| k.registry == id)
            .cloned()
            .collect();
        if id == NPMJS_REGISTRY {
            let built_in: Vec<_> = (npmjs_keys().into_iter())
                .filter(|b| !keys.iter().any(|k| k.keyid == b.keyid))
                .collect();
            keys.extend(built_in);
        }
        keys
    }

    /// The pinned CAs whose scopes cover `server`.
    pub fn cas_for<'a>(&'a self, server: &'a str) -> impl Iterator<Item = &'a TrustedCa> + 'a {
        self.cas.iter().filter(move |c| c.scopes.matches(server))
    }

    fn check_new_name(&self, name: &str) -> Result<(), TrustError> {
        if !valid_trust_name(name) {
            return Err(TrustError::BadName(name.to_string()));
        }
        if self.get(name).is_some() || self.ca(name).is_some() {
            return Err(TrustError::DuplicateName(name.to_string()));
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Entry<'_>> {
        self.keys
            .iter()
            .find(|k| k.name == name)
            .map(Entry::Key)
            .or_else(|| {
                self.identities
                    .iter()
                    .find(|i| i.name == name)
                    .map(Entry::Identity)
            })
    }

    /// A pinned CA by name. CAs are kept out of [`Entry`]: policies name
    /// key and identity signers, while CAs anchor `.mcpb` signatures.
    pub fn ca(&self, name: &str) -> Option<&TrustedCa> {
        self.cas.iter().find(|c| c.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .map(|k| k.name.as_str())
            .chain(self.identities.iter().map(|i| i.name.as_str()))
    }

    pub fn keys_with_fingerprint<'a>(
        &'a self,
        fp: &'a str,
    ) -> impl Iterator<Item = &'a TrustedKey> + 'a {
        self.keys.iter().filter(move |k| k.fingerprint == fp)
    }
}

fn identity_matcher(
    identity: Option<&str>,
    regexp: Option<&str>,
) -> Result<IdentityMatcher, TrustError> {
    match (identity, regexp) {
        (Some(i), None) => Ok(IdentityMatcher::Exact(i.to_string())),
        (None, Some(r)) => IdentityMatcher::regexp(r).map_err(|e| TrustError::BadRegex(e.0)),
        _ => Err(TrustError::BadRegex(
            "give exactly one of `identity` and `identity-regexp`".into(),
        )),
    }
}

/// What `trust add-*` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    New,
    /// The same key or identity is trusted already, under this name.
    AlreadyPresent(String),
}

fn read_user_file(path: &Path) -> Result<TrustFile, TrustError> {
    if !path.exists() {
        return Ok(TrustFile::default());
    }
    let text = fsutil::read_text_bounded(path, MAX_TRUST_FILE)?;
    toml::from_str(&text).map_err(|e| TrustError::Invalid {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

fn write_user_file(path: &Path, file: &TrustFile) -> Result<(), TrustError> {
    let mut text = String::from(
        "# mcp-warden trust store. Edit with `mcp-warden trust`; entries are checked on every load.\n\n",
    );
    text.push_str(&toml::to_string_pretty(file).expect("trust records always serialise"));
    fsutil::write_atomic(path, text.as_bytes()).map_err(|source| TrustError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// `trust add-key`: pins the key in `key_file` under `name`.
pub fn add_key(
    ctx: &Context,
    key_file: &Path,
    name: &str,
    scopes: &[String],
    ssh_namespace: Option<&str>,
) -> Result<(Added, TrustedKeySummary), TrustError> {
    if !valid_trust_name(name) {
        return Err(TrustError::BadName(name.to_string()));
    }
    let scopes_checked = Scopes::new(scopes)?;
    let bytes = fsutil::read_bounded(key_file, keys::MAX_KEY_FILE).map_err(TrustError::KeyFile)?;
    let key = PublicKey::parse(&bytes).map_err(|source| TrustError::Key {
        path: key_file.to_path_buf(),
        source,
    })?;
    let fingerprint = key.fingerprint();
    let store = TrustStore::load(ctx)?;
    let summary = TrustedKeySummary {
        fingerprint: fingerprint.clone(),
        format: key.format.name(),
        minisign_id: key.minisign_id.as_ref().map(keys::minisign_id_hex),
    };
    if let Some(existing) = store.keys_with_fingerprint(&fingerprint).next() {
        return Ok((Added::AlreadyPresent(existing.name.clone()), summary));
    }
    match store.get(name) {
        Some(Entry::Key(k)) if k.origin == Origin::System => {
            return Err(TrustError::SystemEntry {
                name: name.into(),
                path: k.file.clone(),
            });
        }
        Some(_) => return Err(TrustError::DuplicateName(name.into())),
        None if store.ca(name).is_some() => return Err(TrustError::DuplicateName(name.into())),
        None => {}
    }
    let public_key = match key.format {
        // Keep the minisign text: it alone carries the key id.
        keys::KeyFormat::Minisign => String::from_utf8_lossy(&bytes).trim().to_string(),
        _ => key.openssh_line(),
    };
    let path = ctx.trust_file();
    let mut file = read_user_file(&path)?;
    file.key.push(KeyRecord {
        name: name.to_string(),
        fingerprint,
        public_key,
        scopes: scopes_checked.patterns,
        ssh_namespace: ssh_namespace.unwrap_or(DEFAULT_SSH_NAMESPACE).to_string(),
    });
    write_user_file(&path, &file)?;
    Ok((Added::New, summary))
}

pub struct TrustedKeySummary {
    pub fingerprint: String,
    pub format: &'static str,
    pub minisign_id: Option<String>,
}

/// `trust add-identity`: a sigstore signer, by OIDC issuer and identity.
pub fn add_identity(
    ctx: &Context,
    name: &str,
    issuer: &str,
    identity: Option<&str>,
    identity_regexp: Option<&str>,
    scopes: &[String],
) -> Result<Added, TrustError> {
    if !valid_trust_name(name) {
        return Err(TrustError::BadName(name.to_string()));
    }
    let scopes_checked = Scopes::new(scopes)?;
    identity_matcher(identity, identity_regexp)?;
    let store = TrustStore::load(ctx)?;
    if let Some(existing) = store.identities.iter().find(|i| {
        i.issuer == issuer
            && match (&i.identity, identity, identity_regexp) {
                (IdentityMatcher::Exact(a), Some(b), None) => a == b,
                (IdentityMatcher::Regexp(a, _), None, Some(b)) => a == b,
                _ => false,
            }
    }) {
        return Ok(Added::AlreadyPresent(existing.name.clone()));
    }
    match store.get(name) {
        Some(Entry::Identity(i)) if i.origin == Origin::System => {
            return Err(TrustError::SystemEntry {
                name: name.into(),
                path: i.file.clone(),
            });
        }
        Some(_) => return Err(TrustError::DuplicateName(name.into())),
        None if store.ca(name).is_some() => return Err(TrustError::DuplicateName(name.into())),
        None => {}
    }
    let path = ctx.trust_file();
    let mut file = read_user_file(&path)?;
    file.identity.push(IdentityRecord {
        name: name.to_string(),
        issuer: issuer.to_string(),
        identity: identity.map(str::to_string),
        identity_regexp: identity_regexp.map(str::to_string),
        scopes: scopes_checked.patterns,
    });
    write_user_file(&path, &file)?;
    Ok(Added::New)
}

/// `trust remove`: only entries of the user's own store.
pub fn remove(ctx: &Context, name: &str) -> Result<(), TrustError> {
    let store = TrustStore::load(ctx)?;
    let origin = match (store.get(name), store.ca(name)) {
        (Some(Entry::Key(k)), _) => (k.origin.clone(), k.file.clone()),
        (Some(Entry::Identity(i)), _) => (i.origin.clone(), i.file.clone()),
        (None, Some(c)) => (c.origin.clone(), c.file.clone()),
        (None, None) => return Err(TrustError::NotFound(name.to_string())),
    };
    if origin.0 == Origin::System {
        return Err(TrustError::SystemEntry {
            name: name.into(),
            path: origin.1,
        });
    }
    let path = ctx.trust_file();
    let mut file = read_user_file(&path)?;
    file.key.retain(|k| k.name != name);
    file.identity.retain(|i| i.name != name);
    file.ca.retain(|c| c.name != name);
    write_user_file(&path, &file)
}

/// What `trust add-ca` pinned.
#[derive(Debug, Clone)]
pub struct TrustedCaSummary {
    pub subject: String,
    pub fingerprint: String,
    pub not_after: String,
    /// Set when the certificate is expired or not valid yet: pinned anyway,
    /// but nothing chains to it until it is valid.
    pub warning: Option<String>,
}

/// `trust add-ca`: pins an X.509 root CA for `.mcpb` signatures.
pub fn add_ca(
    ctx: &Context,
    cert_file: &Path,
    name: &str,
    scopes: &[String],
) -> Result<(Added, TrustedCaSummary), TrustError> {
    if !valid_trust_name(name) {
        return Err(TrustError::BadName(name.to_string()));
    }
    let scopes_checked = Scopes::new(scopes)?;
    let bytes = fsutil::read_bounded(cert_file, MAX_CERT_FILE).map_err(TrustError::CertFile)?;
    let bad = |message: String| TrustError::BadCertificate {
        path: cert_file.to_path_buf(),
        message,
    };
    let der = x509::certificate_der(&bytes).map_err(bad)?;
    let info =
        x509::inspect_ca(&der, std::time::SystemTime::now()).map_err(|e| bad(e.to_string()))?;
    let summary = TrustedCaSummary {
        subject: info.subject.clone(),
        fingerprint: info.fingerprint.clone(),
        not_after: info.not_after.clone(),
        warning: info.time_problem.clone(),
    };
    let store = TrustStore::load(ctx)?;
    if let Some(existing) = store.cas.iter().find(|c| c.fingerprint == info.fingerprint) {
        return Ok((Added::AlreadyPresent(existing.name.clone()), summary));
    }
    if let Some(c) = store.ca(name)
        && c.origin == Origin::System
    {
        return Err(TrustError::SystemEntry {
            name: name.into(),
            path: c.file.clone(),
        });
    }
    if store.get(name).is_some() || store.ca(name).is_some() {
        return Err(TrustError::DuplicateName(name.into()));
    }
    let path = ctx.trust_file();
    let mut file = read_user_file(&path)?;
    file.ca.push(CaRecord {
        name: name.to_string(),
        fingerprint: info.fingerprint,
        certificate: x509::certificate_pem(&der),
        scopes: scopes_checked.patterns,
    });
    write_user_file(&path, &file)?;
    Ok((Added::New, summary))
}

/// Pins a registry's signing key in the user's trust store: `key` is
/// the base64 DER public key and `expires` the RFC 3339 time, as the
/// registry publishes them (`/-/npm/v1/keys`).
pub fn add_registry_key(
    ctx: &Context,
    registry: &str,
    keyid: &str,
    key: &str,
    expires: Option<&str>,
) -> Result<Added, TrustError> {
    let path = ctx.trust_file();
    let parsed = crate::deps::evidence::RegistryKey::parse(registry, keyid, key, expires)
        .map_err(TrustError::BadRegistryKey)?;
    if !parsed.registry.starts_with("https://") {
        return Err(TrustError::BadRegistryKey(format!(
            "the registry must be an https URL, not `{}`",
            crate::text::printable(registry, 200)
        )));
    }
    let store = TrustStore::load(ctx)?;
    if (store.registry_keys.iter()).any(|k| k.registry == parsed.registry && k.keyid == keyid) {
        return Ok(Added::AlreadyPresent(keyid.to_string()));
    }
    let mut file = read_user_file(&path)?;
    file.registry_key.push(RegistryKeyRecord {
        registry: parsed.registry,
        keyid: keyid.to_string(),
        key: key.trim().to_string(),
        expires: expires.map(str::to_string),
    });
    write_user_file(&path, &file)?;
    Ok(Added::New)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_keys_round_trip_and_npmjs_is_built_in() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::new(Some(dir.path()), None, Some(&dir.path().join("system"))).unwrap();
        let (id, key, _) = crate::deps::evidence::NPMJS_KEYS[1];
        let r = "https://npm.example.com:8443/";
        assert!(matches!(
            add_registry_key(&ctx, r, "mirror-1", key, Some("2030-01-01T00:00:00Z")).unwrap(),
            Added::New
        ));
        assert!(matches!(
            add_registry_key(&ctx, r, "mirror-1", key, None).unwrap(),
            Added::AlreadyPresent(_)
        ));
        let store = TrustStore::load(&ctx).unwrap();
        let keys = store.registry_keys("https://npm.example.com:8443");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].keyid, "mirror-1");
        assert_eq!(
            keys[0].expires,
            Some("2030-01-01T00:00:00Z".parse().unwrap())
        );
        assert!(store.registry_keys("https://npm.example.com").is_empty());
        let npm = store.registry_keys("https://registry.npmjs.org/");
        assert_eq!(npm.len(), 2);
        assert!(npm.iter().any(|k| k.keyid == id && k.expires.is_none()));
        // A bad key is refused when added, and when read back.
        assert!(add_registry_key(&ctx, r, "bad", "AAAA", None).is_err());
        let text = std::fs::read_to_string(ctx.trust_file()).unwrap();
        assert!(text.contains("[[registry-key]]"), "{text}");
        std::fs::write(ctx.trust_file(), text.replace(key, &key[4..])).unwrap();
        assert!(TrustStore::load(&ctx).is_err());
    }

    #[test]
    fn errors_carry_their_code() {
        use crate::diag::{Code, Diagnose};
        let e = TrustError::Invalid {
            path: "trust.toml".into(),
            message: "bad".into(),
        };
        assert_eq!(e.code(), Code::TrustStoreInvalid);
        assert!(Diagnose::hint(&e).is_some_and(|h| h.starts_with("fix or remove")));
        assert_eq!(TrustError::NoScope.code(), Code::TrustInput);
    }

    #[test]
    fn scopes_match_globs_and_reject_bad_ones() {
        let s = Scopes::new(&["acme-*".into(), "io.github.acme/*".into()]).unwrap();
        assert!(s.matches("acme-github"));
        assert!(s.matches("io.github.acme/tools"));
        assert!(!s.matches("evil-acme"));
        assert!(matches!(Scopes::new(&[]), Err(TrustError::NoScope)));
        assert!(matches!(
            Scopes::new(&["[".into()]),
            Err(TrustError::BadScope { .. })
        ));
    }

    #[test]
    fn names() {
        assert!(crate::names::valid_trust_name("acme-release.v2"));
        assert!(!crate::names::valid_trust_name("-x"));
        assert!(!crate::names::valid_trust_name(""));
        assert!(!crate::names::valid_trust_name("a b"));
    }
}
