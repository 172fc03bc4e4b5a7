//! Server credentials in the OS keychain, never in config files.
//!
//! `mcp-warden run` starts a server with a cleared environment plus the
//! variables stored here. The keychain sits behind [`SecretStore`]; the
//! platform stores come from the `keyring-core` family of crates:
//!
//! - Linux: the Secret Service over D-Bus (gnome-keyring, KeePassXC, ...),
//!   or, when none answers, the kernel's keyutils session keyring, linked
//!   into the persistent keyring (lost at reboot, and after logout once the
//!   persistent keyring expires: hence the warning).
//!   `MCP_WARDEN_KEYRING=secret-service|keyutils` forces one of them.
//! - macOS: the login keychain. Windows: the Credential Manager.
//!
//! Naming: the service is `mcp-warden` for the platform's directories and
//! `mcp-warden:<absolute home>` under `--home`, so separate homes never see
//! each other's secrets; the account is `SERVER/VAR`. keyutils has one
//! description string per key: `<service>|SERVER/VAR` (no `|` can occur in
//! an account, so the split is unambiguous).
//!
//! Beside the keychain, `config_dir/secrets.toml` lists the names (never the
//! values) of what was stored, because not every keychain can be searched;
//! `secret list` reads it. `set` writes the keychain first, then the index;
//! `remove` deletes from both; both take an exclusive lock on
//! `secrets.toml.lck` for the read-modify-write.
//!
//! Values never reach a log line or an error message: errors name the
//! server and variable only. Every call to a keychain agent runs with a
//! deadline, so a D-Bus peer that never answers cannot hang mcp-warden
//! (`MCP_WARDEN_KEYRING_TIMEOUT`, seconds, default 25); the kernel's
//! keyutils answer within the system call, on the calling thread.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::context::Context;
use crate::fsutil::{self, ReadError};
use crate::text::printable;

/// The largest secret value accepted, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// The index holds names only; a file far beyond this is not ours.
const MAX_INDEX_BYTES: u64 = 1 << 20;
/// How long one keychain call may take by default. Generous, because a
/// locked keychain may ask the user for a password; bounded, because a
/// D-Bus peer that never replies would otherwise hang the launch forever.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(25);
/// The environment variable that forces a backend.
pub const BACKEND_ENV: &str = "MCP_WARDEN_KEYRING";
/// The environment variable that sets the deadline, in seconds (1 to 600).
pub const TIMEOUT_ENV: &str = "MCP_WARDEN_KEYRING_TIMEOUT";

/// The deadline for one keychain call: `MCP_WARDEN_KEYRING_TIMEOUT` or the
/// default; a value out of range is refused rather than ignored.
fn deadline() -> Result<Duration, SecretError> {
    match std::env::var(TIMEOUT_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_DEADLINE),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(s @ 1..=600) => Ok(Duration::from_secs(s)),
            _ => Err(SecretError::BadTimeout {
                value: printable(&v, SHOWN_CHARS),
            }),
        },
        Err(std::env::VarError::NotUnicode(v)) => Err(SecretError::BadTimeout {
            value: printable(&v.to_string_lossy(), SHOWN_CHARS),
        }),
    }
}

/// A secret value: zeroized on drop, Debug/Display print "<redacted>".
#[derive(Clone)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    pub fn new(v: String) -> Self {
        SecretValue(Zeroizing::new(v))
    }

    /// The value itself, for the one place that needs it (the server's
    /// environment).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What went wrong with a secret. No variant carries a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("`{name}` is not a usable server name")]
    InvalidServer { name: String },
    #[error("`{name}` is not a usable environment variable name")]
    InvalidVar { name: String },
    #[error("the value for {server}/{var} is empty")]
    EmptyValue { server: String, var: String },
    #[error("the value for {server}/{var} is larger than the {limit}-byte limit")]
    ValueTooLarge {
        server: String,
        var: String,
        limit: usize,
    },
    #[error(
        "the value for {server}/{var} contains a NUL byte, which no environment variable can hold"
    )]
    ValueHasNul { server: String, var: String },
    #[error("the value stored for {server}/{var} in {backend} is not UTF-8 text")]
    NotUtf8 {
        backend: &'static str,
        server: String,
        var: String,
    },
    #[error("{BACKEND_ENV}=`{value}` names no keychain backend")]
    UnknownBackend { value: String },
    #[error("{TIMEOUT_ENV}=`{value}` is not a number of seconds from 1 to 600")]
    BadTimeout { value: String },
    #[error("no OS keychain is supported on this platform")]
    NoPlatformStore,
    #[error("the keychain ({backend}) cannot be reached: {reason}")]
    Unavailable {
        backend: &'static str,
        reason: String,
    },
    #[error("the keychain ({backend}) refused access to {server}/{var}: {reason}")]
    Denied {
        backend: &'static str,
        server: String,
        var: String,
        reason: String,
    },
    #[error("the keychain ({backend}) failed to {op} {server}/{var}: {reason}")]
    Backend {
        backend: &'static str,
        op: &'static str,
        server: String,
        var: String,
        reason: String,
    },
    #[error("the keychain ({backend}) did not answer within {secs} s ({op})")]
    Timeout {
        backend: &'static str,
        op: &'static str,
        secs: u64,
    },
    #[error("cannot read the secrets index: {0}")]
    IndexRead(ReadError),
    #[error("{path}: not a valid secrets index: {message}")]
    IndexInvalid { path: PathBuf, message: String },
    #[error("cannot write the secrets index {path}: {source}")]
    IndexWrite { path: PathBuf, source: io::Error },
    #[error("cannot take the lock on {path}: {source}")]
    Locking { path: PathBuf, source: io::Error },
}

impl crate::diag::Diagnose for SecretError {
    fn code(&self) -> crate::diag::Code {
        use crate::diag::Code;
        match self {
            SecretError::InvalidServer { .. } | SecretError::InvalidVar { .. } => Code::Usage,
            SecretError::Unavailable { .. }
            | SecretError::Timeout { .. }
            | SecretError::Denied { .. }
            | SecretError::Backend { .. }
            | SecretError::UnknownBackend { .. }
            | SecretError::BadTimeout { .. }
            | SecretError::NoPlatformStore => Code::KeychainUnavailable,
            _ => Code::InputInvalid,
        }
    }

    fn hint(&self) -> Option<String> {
        let s = match self {
            SecretError::InvalidServer { .. } => crate::names::SERVER_NAME_RULE,
            SecretError::InvalidVar { .. } => {
                "a variable name is a letter or _ followed by letters, digits or _ (at most 128)"
            }
            SecretError::EmptyValue { .. } => {
                "pipe the value on stdin or type it at the prompt; to remove a secret use `mcp-warden secret rm`"
            }
            SecretError::ValueTooLarge { .. } => {
                "a secret is a token or password; store large credentials in a file and pass its path"
            }
            SecretError::ValueHasNul { .. } => "remove the NUL byte from the value",
            SecretError::NotUtf8 { .. } => {
                "store the value again with `mcp-warden secret set SERVER VAR`"
            }
            SecretError::UnknownBackend { .. } => {
                "set MCP_WARDEN_KEYRING to `secret-service` or `keyutils`, or unset it"
            }
            SecretError::BadTimeout { .. } => {
                "set MCP_WARDEN_KEYRING_TIMEOUT to whole seconds (1 to 600), or unset it"
            }
            SecretError::NoPlatformStore => {
                "mcp-warden reads secrets from the keychains of Linux, macOS and Windows"
            }
            SecretError::Unavailable { backend, .. } if *backend == SECRET_SERVICE => {
                "start a Secret Service (gnome-keyring-daemon, KeePassXC) in this session and check DBUS_SESSION_BUS_ADDRESS, or set MCP_WARDEN_KEYRING=keyutils (lost at reboot)"
            }
            SecretError::Unavailable { .. } => "check that the OS keychain is running and unlocked",
            SecretError::Denied { .. } => "unlock the keychain and try again",
            SecretError::Backend { .. } => "check that the OS keychain is running and unlocked",
            SecretError::Timeout { .. } => {
                "the keychain may be waiting for an unlock prompt; unlock it and try again"
            }
            SecretError::IndexInvalid { .. } => {
                "the index is written by `mcp-warden secret set`; remove the file and set the secrets again"
            }
            SecretError::IndexWrite { .. } | SecretError::Locking { .. } => {
                "check that the config directory is writable (or pass --home DIR)"
            }
            SecretError::IndexRead(_) => return None,
        };
        Some(s.to_string())
    }
}

/// The keychain behind a small trait (tests and platforms plug in here).
pub trait SecretStore {
    fn get(&self, server: &str, var: &str) -> Result<Option<SecretValue>, SecretError>;
    fn set(&self, server: &str, var: &str, value: &SecretValue) -> Result<(), SecretError>;
    fn delete(&self, server: &str, var: &str) -> Result<bool, SecretError>;
    fn backend(&self) -> &'static str;
    /// mcp-warden's own items (the audit log's key and anchor), under
    /// the same service with an account that has no `/`, so that no
    /// `SERVER/VAR` can name them.
    fn get_item(&self, account: &str) -> Result<Option<SecretValue>, SecretError> {
        let _ = account;
        Err(SecretError::NoPlatformStore)
    }
    fn set_item(&self, account: &str, value: &SecretValue) -> Result<(), SecretError> {
        let _ = (account, value);
        Err(SecretError::NoPlatformStore)
    }
}

const SECRET_SERVICE: &str = "secret-service";
const KEYUTILS: &str = "keyutils";

use crate::names::{valid_env_name, valid_server_name};

pub(crate) fn check_names(server: &str, var: &str) -> Result<(), SecretError> {
    if !valid_server_name(server) {
        return Err(SecretError::InvalidServer {
            name: printable(server, SHOWN_CHARS),
        });
    }
    if !valid_env_name(var) {
        return Err(SecretError::InvalidVar {
            name: printable(var, SHOWN_CHARS),
        });
    }
    Ok(())
}

fn check_item(account: &str) -> Result<(), SecretError> {
    if account.is_empty() || !account.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        return Err(SecretError::InvalidVar {
            name: printable(account, SHOWN_CHARS),
        });
    }
    Ok(())
}

/// A rejected name goes into an error message: keep it short.
const SHOWN_CHARS: usize = 80;

fn check_value(server: &str, var: &str, value: &SecretValue) -> Result<(), SecretError> {
    let v = value.expose();
    if v.is_empty() {
        return Err(SecretError::EmptyValue {
            server: server.into(),
            var: var.into(),
        });
    }
    if v.len() > MAX_VALUE_BYTES {
        return Err(SecretError::ValueTooLarge {
            server: server.into(),
            var: var.into(),
            limit: MAX_VALUE_BYTES,
        });
    }
    if v.contains('\0') {
        return Err(SecretError::ValueHasNul {
            server: server.into(),
            var: var.into(),
        });
    }
    Ok(())
}

/// The keychain service name for this context (see the module docs).
fn service_name(ctx: &Context) -> String {
    let default =
        directories::ProjectDirs::from("", "", "mcp-warden").map(|d| d.config_dir().to_path_buf());
    if default.as_deref() == Some(ctx.config_dir.as_path()) {
        return "mcp-warden".to_string();
    }
    // `--home DIR` puts the config in DIR/config: name the home itself.
    let home = match ctx.config_dir.file_name() {
        Some(n) if n == "config" => ctx.config_dir.parent().unwrap_or(&ctx.config_dir),
        _ => ctx.config_dir.as_path(),
    };
    // One home under two spellings (a symlink, a relative path) must give
    // one name: resolve it when it exists.
    let abs = fs::canonicalize(home)
        .or_else(|_| std::path::absolute(home))
        .unwrap_or_else(|_| home.to_path_buf());
    format!("mcp-warden:{}", abs.display())
}

/// A `keyring-core` store, each call to an agent run with a deadline.
struct KeyringStore {
    store: Arc<keyring_core::CredentialStore>,
    service: String,
    backend: &'static str,
    deadline: Duration,
}

impl KeyringStore {
    fn entry(&self, server: &str, var: &str) -> keyring_core::Result<keyring_core::Entry> {
        self.entry_for(&format!("{server}/{var}"))
    }

    fn entry_for(&self, account: &str) -> keyring_core::Result<keyring_core::Entry> {
        if self.backend == KEYUTILS {
            let description = format!("{}|{account}", self.service);
            let mods = HashMap::from([("description", description.as_str())]);
            self.store.build(&self.service, account, Some(&mods))
        } else {
            self.store.build(&self.service, account, None)
        }
    }

    /// Runs `f` on an entry on another thread and waits at most
    /// `self.deadline`. A call that never returns leaves its thread
    /// behind, blocked; the process ends soon after anyway.
    fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        server: &str,
        var: &str,
        f: impl FnOnce(keyring_core::Entry) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T, SecretError> {
        // An item of mcp-warden's own is `(mcp-warden)/ACCOUNT` in errors.
        let built = match server {
            ITEM => self.entry_for(var),
            _ => self.entry(server, var),
        };
        let entry = built.map_err(|e| self.map_err(op, server, var, e))?;
        // The kernel's keyrings answer within the system call (no agent
        // to wait for): no thread, which every `run` would pay for.
        let r = match self.backend {
            KEYUTILS => f(entry),
            _ => with_deadline(self.deadline, self.backend, op, move || f(entry))?,
        };
        r.map_err(|e| self.map_err(op, server, var, e))
    }

    /// Maps a keyring error to ours, dropping (and wiping) any secret
    /// bytes the error carries.
    fn map_err(
        &self,
        op: &'static str,
        server: &str,
        var: &str,
        e: keyring_core::Error,
    ) -> SecretError {
        use keyring_core::Error as K;
        let backend = self.backend;
        let (server, var) = (server.to_string(), var.to_string());
        match e {
            K::BadEncoding(mut bytes) => {
                bytes.zeroize();
                SecretError::NotUtf8 {
                    backend,
                    server,
                    var,
                }
            }
            K::BadDataFormat(mut bytes, err) => {
                bytes.zeroize();
                SecretError::Backend {
                    backend,
                    op,
                    server,
                    var,
                    reason: format!("the stored data is malformed: {err}"),
                }
            }
            K::NoStorageAccess(err) => SecretError::Denied {
                backend,
                server,
                var,
                reason: err.to_string(),
            },
            K::Ambiguous(items) => SecretError::Backend {
                backend,
                op,
                server,
                var,
                reason: format!("{} items match this name", items.len()),
            },
            other => SecretError::Backend {
                backend,
                op,
                server,
                var,
                reason: other.to_string(),
            },
        }
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, server: &str, var: &str) -> Result<Option<SecretValue>, SecretError> {
        let r = self.call("read", server, var, |e| match e.get_password() {
            Ok(v) => Ok(Some(SecretValue::new(v))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })?;
        Ok(r)
    }

    fn set(&self, server: &str, var: &str, value: &SecretValue) -> Result<(), SecretError> {
        let value = value.clone();
        self.call("store", server, var, move |e| {
            e.set_password(value.expose())
        })
    }

    fn delete(&self, server: &str, var: &str) -> Result<bool, SecretError> {
        self.call("delete", server, var, |e| match e.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }

    fn backend(&self) -> &'static str {
        self.backend
    }

    fn get_item(&self, account: &str) -> Result<Option<SecretValue>, SecretError> {
        self.get(ITEM, account)
    }

    fn set_item(&self, account: &str, value: &SecretValue) -> Result<(), SecretError> {
        self.set(ITEM, account, value)
    }
}

/// The `server` that [`KeyringStore::call`] reads as "one of mcp-warden's
/// own items" (not a valid server name, so no secret can be one).
const ITEM: &str = "(mcp-warden)";

fn with_deadline<T: Send + 'static>(
    deadline: Duration,
    backend: &'static str,
    op: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SecretError> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("keychain-{op}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| SecretError::Unavailable {
            backend,
            reason: format!("cannot start a thread: {e}"),
        })?;
    rx.recv_timeout(deadline).map_err(|e| match e {
        mpsc::RecvTimeoutError::Timeout => SecretError::Timeout {
            backend,
            op,
            secs: deadline.as_secs(),
        },
        // The thread panicked inside the keychain crate.
        mpsc::RecvTimeoutError::Disconnected => SecretError::Unavailable {
            backend,
            reason: format!("the keychain library failed during {op}"),
        },
    })
}

/// Which store to open: forced by the environment, or the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Auto,
    SecretService,
    Keyutils,
}

fn choice_from_env() -> Result<Choice, SecretError> {
    match std::env::var(BACKEND_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(Choice::Auto),
        Ok(v) if v.is_empty() => Ok(Choice::Auto),
        Ok(v) if v == SECRET_SERVICE => Ok(Choice::SecretService),
        Ok(v) if v == KEYUTILS => Ok(Choice::Keyutils),
        Ok(v) => Err(SecretError::UnknownBackend {
            value: printable(&v, SHOWN_CHARS),
        }),
        Err(std::env::VarError::NotUnicode(v)) => Err(SecretError::UnknownBackend {
            value: printable(&v.to_string_lossy(), SHOWN_CHARS),
        }),
    }
}

#[cfg(target_os = "linux")]
/// Whether a session bus could be found the way D-Bus clients look for
/// one; without it, connecting to the Secret Service cannot succeed and
/// is not tried (it would cost every `run` a thread and a connect).
fn session_bus_present() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
        return true;
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::fs::metadata("/proc/self")
                .ok()
                .map(|m| PathBuf::from(format!("/run/user/{}", m.uid())))
        });
    runtime.is_some_and(|d| std::fs::symlink_metadata(d.join("bus")).is_ok())
}

#[cfg(target_os = "linux")]
fn open_store(
    choice: Choice,
    deadline: Duration,
) -> Result<(Arc<keyring_core::CredentialStore>, &'static str), SecretError> {
    let secret_service = || {
        with_deadline(
            deadline,
            SECRET_SERVICE,
            "connect",
            zbus_secret_service_keyring_store::Store::new,
        )?
        .map(|s| s as Arc<keyring_core::CredentialStore>)
        .map_err(|e| SecretError::Unavailable {
            backend: SECRET_SERVICE,
            reason: e.to_string(),
        })
    };
    let keyutils = || {
        // The store keeps keys in the session keyring and links them into
        // the user's persistent keyring, where the next process finds
        // them. A process without a session keyring of its own joins a new
        // one first: in the user's default session keyring it would not
        // possess the keys it makes, and the kernel refuses it access.
        // Descriptions are set per entry (`KeyringStore::entry`).
        let _ = linux_keyutils::KeyRing::from_special_id(
            linux_keyutils::KeyRingIdentifier::Session,
            true,
        );
        linux_keyutils_keyring_store::Store::new()
            .map(|s| s as Arc<keyring_core::CredentialStore>)
            .map_err(|e| SecretError::Unavailable {
                backend: KEYUTILS,
                reason: e.to_string(),
            })
    };
    match choice {
        Choice::SecretService => Ok((secret_service()?, SECRET_SERVICE)),
        Choice::Keyutils => Ok((keyutils()?, KEYUTILS)),
        Choice::Auto => match session_bus_present()
            .then(secret_service)
            .unwrap_or_else(|| {
                Err(SecretError::Unavailable {
                    backend: SECRET_SERVICE,
                    reason: "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and there is no $XDG_RUNTIME_DIR/bus)".into(),
                })
            }) {
            Ok(s) => Ok((s, SECRET_SERVICE)),
            Err(e) => {
                tracing::warn!(
                    "no Secret Service answers ({e}); using the kernel keyutils keyrings, \
                     whose secrets are lost at reboot (and after logout once the persistent \
                     keyring expires)"
                );
                Ok((keyutils()?, KEYUTILS))
            }
        },
    }
}

#[cfg(target_os = "macos")]
fn open_store(
    choice: Choice,
    _deadline: Duration,
) -> Result<(Arc<keyring_core::CredentialStore>, &'static str), SecretError> {
    if choice != Choice::Auto {
        return Err(SecretError::Unavailable {
            backend: "macos-keychain",
            reason: format!("{BACKEND_ENV} selects a Linux backend"),
        });
    }
    apple_native_keyring_store::keychain::Store::new()
        .map(|s| (s as Arc<keyring_core::CredentialStore>, "macos-keychain"))
        .map_err(|e| SecretError::Unavailable {
            backend: "macos-keychain",
            reason: e.to_string(),
        })
}

#[cfg(target_os = "windows")]
fn open_store(
    choice: Choice,
    _deadline: Duration,
) -> Result<(Arc<keyring_core::CredentialStore>, &'static str), SecretError> {
    if choice != Choice::Auto {
        return Err(SecretError::Unavailable {
            backend: "windows-credential-manager",
            reason: format!("{BACKEND_ENV} selects a Linux backend"),
        });
    }
    windows_native_keyring_store::Store::new()
        .map(|s| {
            (
                s as Arc<keyring_core::CredentialStore>,
                "windows-credential-manager",
            )
        })
        .map_err(|e| SecretError::Unavailable {
            backend: "windows-credential-manager",
            reason: e.to_string(),
        })
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn open_store(
    _: Choice,
    _: Duration,
) -> Result<(Arc<keyring_core::CredentialStore>, &'static str), SecretError> {
    Err(SecretError::NoPlatformStore)
}

/// `secrets.toml`: `[servers] NAME = ["VAR", ...]`, names only.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    #[serde(default)]
    servers: BTreeMap<String, BTreeSet<String>>,
}

impl Index {
    fn load(path: &Path) -> Result<Index, SecretError> {
        let text = match fsutil::read_text_bounded(path, MAX_INDEX_BYTES) {
            Ok(t) => t,
            Err(ReadError::Missing { .. }) => return Ok(Index::default()),
            Err(e) => return Err(SecretError::IndexRead(e)),
        };
        let invalid = |message: String| SecretError::IndexInvalid {
            path: path.to_path_buf(),
            message,
        };
        let index: Index = toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?;
        for (server, vars) in &index.servers {
            if !valid_server_name(server) {
                return Err(invalid(format!(
                    "`{}` is not a server name",
                    printable(server, SHOWN_CHARS)
                )));
            }
            if let Some(v) = vars.iter().find(|v| !valid_env_name(v)) {
                return Err(invalid(format!(
                    "`{}` is not a variable name",
                    printable(v, SHOWN_CHARS)
                )));
            }
        }
        Ok(index)
    }

    fn save(&self, path: &Path) -> Result<(), SecretError> {
        let write = |source| SecretError::IndexWrite {
            path: path.to_path_buf(),
            source,
        };
        let body =
            toml::to_string_pretty(self).map_err(|e| write(io::Error::other(e.to_string())))?;
        let text = format!(
            "# Written by `mcp-warden secret set|rm`: the names of the secrets in the\n\
             # OS keychain, never their values.\n{body}"
        );
        fsutil::write_atomic(path, text.as_bytes()).map_err(write)
    }
}

/// The variables stored for `server`, from the index alone: `run` reads
/// them without opening the keychain, which it opens only when there is
/// a secret to fetch.
pub fn stored_names(ctx: &Context, server: &str) -> Result<Vec<String>, SecretError> {
    if !valid_server_name(server) {
        return Err(SecretError::InvalidServer {
            name: printable(server, SHOWN_CHARS),
        });
    }
    let index = Index::load(&ctx.config_dir.join("secrets.toml"))?;
    Ok(index
        .servers
        .get(server)
        .map(|vars| vars.iter().cloned().collect())
        .unwrap_or_default())
}

/// The store plus a names-only index, which is what `list` reads.
pub struct Secrets {
    store: Box<dyn SecretStore + Send + Sync>,
    index: PathBuf,
}

impl Secrets {
    /// Opens the keychain that `MCP_WARDEN_KEYRING` or the platform names.
    pub fn open(ctx: &Context) -> Result<Secrets, SecretError> {
        let choice = choice_from_env()?;
        let deadline = deadline()?;
        let (store, backend) = open_store(choice, deadline)?;
        let service = service_name(ctx);
        tracing::debug!(backend, service, "keychain opened");
        Ok(Secrets::with_store(
            Box::new(KeyringStore {
                store,
                service,
                backend,
                deadline,
            }),
            ctx.config_dir.join("secrets.toml"),
        ))
    }

    /// A `Secrets` over any store, for tests and other front ends.
    pub(crate) fn with_store(store: Box<dyn SecretStore + Send + Sync>, index: PathBuf) -> Secrets {
        Secrets { store, index }
    }

    pub fn get(&self, server: &str, var: &str) -> Result<Option<SecretValue>, SecretError> {
        check_names(server, var)?;
        self.store.get(server, var)
    }

    /// Stores the value in the keychain, then its name in the index.
    pub fn set(&self, server: &str, var: &str, value: &SecretValue) -> Result<(), SecretError> {
        check_names(server, var)?;
        check_value(server, var, value)?;
        let _held = self.hold()?;
        self.store.set(server, var, value)?;
        let mut index = Index::load(&self.index)?;
        if index
            .servers
            .entry(server.to_string())
            .or_default()
            .insert(var.to_string())
        {
            index.save(&self.index)?;
        }
        tracing::debug!(server, var, backend = self.backend(), "secret stored");
        Ok(())
    }

    /// Deletes from the keychain and the index; false when neither had it.
    pub fn remove(&self, server: &str, var: &str) -> Result<bool, SecretError> {
        check_names(server, var)?;
        let _held = self.hold()?;
        let in_keychain = self.store.delete(server, var)?;
        let mut index = Index::load(&self.index)?;
        let mut in_index = false;
        if let Some(vars) = index.servers.get_mut(server) {
            in_index = vars.remove(var);
            if vars.is_empty() {
                index.servers.remove(server);
            }
        }
        if in_index {
            index.save(&self.index)?;
        }
        Ok(in_keychain || in_index)
    }

    /// (server, var) names from the index, sorted; never values.
    pub fn names(&self, server: Option<&str>) -> Result<Vec<(String, String)>, SecretError> {
        if let Some(s) = server
            && !valid_server_name(s)
        {
            return Err(SecretError::InvalidServer {
                name: printable(s, SHOWN_CHARS),
            });
        }
        let index = Index::load(&self.index)?;
        Ok(index
            .servers
            .into_iter()
            .filter(|(s, _)| server.is_none_or(|want| want == s))
            .flat_map(|(s, vars)| vars.into_iter().map(move |v| (s.clone(), v)))
            .collect())
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// One of mcp-warden's own items (`audit-key`, `audit-anchor`): an
    /// account of lowercase letters and `-`, never `SERVER/VAR`.
    pub fn get_item(&self, account: &str) -> Result<Option<SecretValue>, SecretError> {
        check_item(account)?;
        self.store.get_item(account)
    }

    /// Stores one of mcp-warden's own items (not listed in the index).
    pub fn set_item(&self, account: &str, value: &SecretValue) -> Result<(), SecretError> {
        check_item(account)?;
        self.store.set_item(account, value)
    }

    /// An exclusive hold for a read-modify-write of the index; released
    /// on drop or when the process dies.
    fn hold(&self) -> Result<File, SecretError> {
        let lck = self.index.with_extension("toml.lck");
        let locking = |source| SecretError::Locking {
            path: lck.clone(),
            source,
        };
        if let Some(dir) = lck.parent() {
            fs::create_dir_all(dir).map_err(locking)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lck)
            .map_err(locking)?;
        file.lock().map_err(locking)?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_report_their_codes() {
        use crate::diag::{Code, Diagnose};
        let e = SecretError::InvalidVar { name: "A-B".into() };
        assert_eq!(Diagnose::code(&e), Code::Usage);
        assert_eq!(
            Diagnose::code(&SecretError::NoPlatformStore),
            Code::KeychainUnavailable
        );
        let e = SecretError::EmptyValue {
            server: "s".into(),
            var: "V".into(),
        };
        assert_eq!(Diagnose::code(&e), Code::InputInvalid);
    }
    use std::sync::Mutex;

    /// An in-memory store, to test the index logic apart from any keychain
    /// (the integration tests use real ones).
    #[derive(Default)]
    struct Memory {
        items: Mutex<BTreeMap<String, String>>,
        fail_set: bool,
    }

    impl SecretStore for Memory {
        fn get(&self, s: &str, v: &str) -> Result<Option<SecretValue>, SecretError> {
            let items = self.items.lock().unwrap();
            Ok(items
                .get(&format!("{s}/{v}"))
                .cloned()
                .map(SecretValue::new))
        }
        fn set(&self, s: &str, v: &str, value: &SecretValue) -> Result<(), SecretError> {
            if self.fail_set {
                return Err(SecretError::Unavailable {
                    backend: "memory",
                    reason: "down".into(),
                });
            }
            let mut items = self.items.lock().unwrap();
            items.insert(format!("{s}/{v}"), value.expose().to_string());
            Ok(())
        }
        fn delete(&self, s: &str, v: &str) -> Result<bool, SecretError> {
            Ok(self
                .items
                .lock()
                .unwrap()
                .remove(&format!("{s}/{v}"))
                .is_some())
        }
        fn backend(&self) -> &'static str {
            "memory"
        }
    }

    fn secrets(dir: &Path, store: Memory) -> Secrets {
        Secrets::with_store(Box::new(store), dir.join("config/secrets.toml"))
    }

    #[test]
    fn values_are_redacted() {
        let v = SecretValue::new("canary-123".into());
        assert_eq!(format!("{v:?} {v}"), "<redacted> <redacted>");
        assert_eq!(v.expose(), "canary-123");
    }

    #[test]
    fn set_list_remove_keeps_the_index_in_step() {
        let dir = tempfile::tempdir().unwrap();
        let s = secrets(dir.path(), Memory::default());
        let v = SecretValue::new("canary-value".into());
        s.set("github", "TOKEN", &v).unwrap();
        s.set("github", "A_KEY", &v).unwrap();
        s.set("acme/db", "PASS", &v).unwrap();
        assert_eq!(
            s.names(None).unwrap(),
            [
                ("acme/db".to_string(), "PASS".to_string()),
                ("github".into(), "A_KEY".into()),
                ("github".into(), "TOKEN".into())
            ]
        );
        assert_eq!(s.names(Some("acme/db")).unwrap().len(), 1);
        assert_eq!(
            s.get("github", "TOKEN").unwrap().unwrap().expose(),
            "canary-value"
        );
        let index = fs::read_to_string(dir.path().join("config/secrets.toml")).unwrap();
        assert!(!index.contains("canary"), "{index}");
        assert!(index.contains("github = ["), "{index}");
        assert!(s.remove("github", "TOKEN").unwrap());
        assert!(!s.remove("github", "TOKEN").unwrap());
        assert!(s.get("github", "TOKEN").unwrap().is_none());
        assert!(s.remove("acme/db", "PASS").unwrap());
        assert_eq!(
            s.names(None).unwrap(),
            [("github".to_string(), "A_KEY".to_string())]
        );
    }

    #[test]
    fn a_failed_keychain_write_leaves_the_index_alone() {
        let dir = tempfile::tempdir().unwrap();
        let s = secrets(
            dir.path(),
            Memory {
                fail_set: true,
                ..Memory::default()
            },
        );
        let e = s
            .set("github", "TOKEN", &SecretValue::new("x".into()))
            .unwrap_err();
        assert!(matches!(e, SecretError::Unavailable { .. }), "{e}");
        assert!(s.names(None).unwrap().is_empty());
        assert!(!dir.path().join("config/secrets.toml").exists());
    }

    #[test]
    fn bad_names_and_values_are_refused_without_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let s = secrets(dir.path(), Memory::default());
        let canary = "canary-🔑";
        let v = SecretValue::new(canary.into());
        for (server, var) in [
            ("", "A"),
            ("-x", "A"),
            ("../x", "A"),
            ("ok", "1A"),
            ("ok", "A-B"),
        ] {
            let e = s.set(server, var, &v).unwrap_err();
            assert!(!e.to_string().contains(canary));
            assert!(crate::diag::Diagnose::hint(&e).is_some());
        }
        let big = SecretValue::new(format!("{canary}{}", "x".repeat(MAX_VALUE_BYTES)));
        let e = s.set("ok", "A", &big).unwrap_err();
        assert!(matches!(e, SecretError::ValueTooLarge { .. }), "{e}");
        assert!(!e.to_string().contains(canary));
        let exact = SecretValue::new("y".repeat(MAX_VALUE_BYTES));
        s.set("ok", "A", &exact).unwrap();
        assert!(matches!(
            s.set("ok", "A", &SecretValue::new(String::new())),
            Err(SecretError::EmptyValue { .. })
        ));
        assert!(matches!(
            s.set("ok", "A", &SecretValue::new("a\0b".into())),
            Err(SecretError::ValueHasNul { .. })
        ));
        assert!(matches!(
            s.names(Some("..")),
            Err(SecretError::InvalidServer { .. })
        ));
    }

    #[test]
    fn malformed_indexes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = secrets(dir.path(), Memory::default());
        let path = dir.path().join("config/secrets.toml");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        for (bad, want) in [
            ("[servers]\ngithub = [\"1BAD\"]\n", "not a variable name"),
            ("[servers]\n\"../x\" = [\"A\"]\n", "not a server name"),
            ("[servers]\ngithub = \"A\"\n", "not a valid secrets index"),
            ("surprise = 1\n", "unknown field"),
            ("[servers\n", "not a valid secrets index"),
        ] {
            fs::write(&path, bad).unwrap();
            let e = s.names(None).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        fs::write(&path, vec![b'#'; MAX_INDEX_BYTES as usize + 1]).unwrap();
        assert!(matches!(s.names(None), Err(SecretError::IndexRead(_))));
    }

    #[test]
    fn homes_get_their_own_service() {
        let dir = tempfile::tempdir().unwrap();
        let a = Context::new(Some(&dir.path().join("a")), None, None).unwrap();
        let b = Context::new(Some(&dir.path().join("b")), None, None).unwrap();
        let (sa, sb) = (service_name(&a), service_name(&b));
        assert_ne!(sa, sb);
        assert!(sa.starts_with("mcp-warden:/") && sa.ends_with("/a"), "{sa}");
        // The same home through a symlink is the same service.
        fs::create_dir_all(dir.path().join("a")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("link")).unwrap();
            let l = Context::new(Some(&dir.path().join("link")), None, None).unwrap();
            assert_eq!(service_name(&l), service_name(&a));
        }
    }
}
