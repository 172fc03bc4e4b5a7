//! What ties the audit log to a secret a process that can only write the
//! files does not have: a 32-byte key in the OS keychain (item
//! `audit-key`, created on first use) authenticates the head file, and a
//! copy of the head kept in the keychain (item `audit-anchor`, updated on
//! every launch record) remembers how long the log was.
//!
//! The head line, v2, fixed width so it is rewritten in place:
//! `v2 SEQ(20 digits) sha256:HEX LOGID(32 hex) MAC(64 hex, or 64 '-')\n`
//! where LOGID is random, chosen when the log starts, and MAC is
//! HMAC-SHA256(key, "mcp-warden audit head v2\n" LOGID "\n" COUNT "\n"
//! HASH) with COUNT = SEQ + 1, the number of records. Without a key (the
//! policy's `[audit] anchor = "off"`) the MAC field is all `-`.
//!
//! v1 heads (`v1 SEQ HASH`, unauthenticated) are not accepted by `audit
//! verify`; `run` rewrites them as v2 with its next record.

use hmac::{Hmac, Mac as _};
use zeroize::Zeroizing;

use crate::secrets::{SecretError, SecretValue, Secrets};

/// The keychain item holding the key, hex.
pub const KEY_ITEM: &str = "audit-key";
/// The keychain item holding the last anchored head line.
pub const ANCHOR_ITEM: &str = "audit-anchor";

/// Length of the v2 head line, newline included.
pub const HEAD_LEN: usize = 3 + 20 + 1 + 71 + 1 + 32 + 1 + 64 + 1;

const NO_MAC: &str = "----------------------------------------------------------------";

/// The audit key: 32 bytes, wiped on drop, never printed.
#[derive(Clone)]
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

impl AuditKey {
    pub fn from_bytes(b: [u8; 32]) -> AuditKey {
        AuditKey(Zeroizing::new(b))
    }

    /// 32 bytes from the OS's random source.
    pub fn generate() -> std::io::Result<AuditKey> {
        Ok(AuditKey::from_bytes(random()?))
    }

    fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(*self.0))
    }

    fn from_hex(s: &str) -> Option<AuditKey> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut b).ok()?;
        Some(AuditKey::from_bytes(b))
    }

    /// The head's MAC over the log's identity, record count and last hash.
    pub fn mac(&self, id: &str, count: u64, hash: &str) -> String {
        let mut m = <Hmac<sha2::Sha256>>::new_from_slice(&*self.0).expect("any key length");
        m.update(format!("mcp-warden audit head v2\n{id}\n{count}\n{hash}").as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    fn verify(&self, id: &str, count: u64, hash: &str, mac: &str) -> bool {
        let Ok(tag) = hex::decode(mac) else {
            return false;
        };
        let mut m = <Hmac<sha2::Sha256>>::new_from_slice(&*self.0).expect("any key length");
        m.update(format!("mcp-warden audit head v2\n{id}\n{count}\n{hash}").as_bytes());
        m.verify_slice(&tag).is_ok()
    }
}

fn random<const N: usize>() -> std::io::Result<[u8; N]> {
    crate::random::bytes().map_err(|e| std::io::Error::other(e.to_string()))
}

/// A fresh log identity: 16 random bytes, hex.
pub fn new_log_id() -> String {
    let b: [u8; 16] = random().unwrap_or_else(|_| {
        // Unique rather than secret: time and pid.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut out = [0u8; 16];
        out[..12].copy_from_slice(&t.to_le_bytes()[..12]);
        out[12..].copy_from_slice(&std::process::id().to_le_bytes());
        out
    });
    hex::encode(b)
}

/// One head line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The last record's seq.
    pub seq: u64,
    /// The last record's line hash, `sha256:HEX`.
    pub hash: String,
    /// The log's identity.
    pub id: String,
    /// The MAC, hex; `None` when written without a key.
    pub mac: Option<String>,
}

/// Why a head line could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    Read(String),
    Malformed,
    /// A v1 head (before the key): not authenticated.
    OldFormat,
}

impl Head {
    /// The records the head accounts for.
    pub fn count(&self) -> u64 {
        self.seq.saturating_add(1)
    }

    /// A head for this state, authenticated with `key` when given.
    pub fn new(seq: u64, hash: &str, id: &str, key: Option<&AuditKey>) -> Head {
        Head {
            seq,
            hash: hash.to_string(),
            id: id.to_string(),
            mac: key.map(|k| k.mac(id, seq.saturating_add(1), hash)),
        }
    }

    /// The fixed-width line, newline included.
    pub fn line(&self) -> String {
        format!(
            "v2 {:020} {} {} {}\n",
            self.seq,
            self.hash,
            self.id,
            self.mac.as_deref().unwrap_or(NO_MAC)
        )
    }

    pub fn parse(text: &str) -> Result<Head, HeadError> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.first() == Some(&"v1") {
            return Err(HeadError::OldFormat);
        }
        let ["v2", seq, hash, id, mac] = parts[..] else {
            return Err(HeadError::Malformed);
        };
        let seq: u64 = seq.parse().map_err(|_| HeadError::Malformed)?;
        let is_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        let hash_ok = hash.strip_prefix("sha256:").is_some_and(|h| is_hex(h, 64));
        if !hash_ok || !is_hex(id, 32) || !(is_hex(mac, 64) || mac == NO_MAC) {
            return Err(HeadError::Malformed);
        }
        Ok(Head {
            seq,
            hash: hash.to_string(),
            id: id.to_string(),
            mac: (mac != NO_MAC).then(|| mac.to_string()),
        })
    }

    /// Whether `key` authenticates this head.
    pub fn authentic(&self, key: &AuditKey) -> bool {
        self.mac
            .as_deref()
            .is_some_and(|m| key.verify(&self.id, self.count(), &self.hash, m))
    }
}

/// Where the key and the anchor are kept: the OS keychain, or memory in
/// tests.
pub trait KeyStore: Send {
    fn get(&self, item: &str) -> Result<Option<SecretValue>, SecretError>;
    fn set(&self, item: &str, value: &SecretValue) -> Result<(), SecretError>;
}

impl KeyStore for Secrets {
    fn get(&self, item: &str) -> Result<Option<SecretValue>, SecretError> {
        self.get_item(item)
    }
    fn set(&self, item: &str, value: &SecretValue) -> Result<(), SecretError> {
        self.set_item(item, value)
    }
}

/// Why the keychain side could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("the audit key cannot be read or stored: {0}")]
    Keychain(#[from] SecretError),
    #[error("the keychain's audit-key item is not a 32-byte hex key")]
    BadKey,
    #[error("cannot draw a random audit key: {0}")]
    Random(std::io::Error),
}

/// What the keychain holds for the log, read without changing anything
/// (`audit verify`).
#[derive(Debug, Clone, Default)]
pub struct KeychainView {
    pub key: Option<AuditKey>,
    /// The last anchored head; `Err` when the item is not a head line.
    pub anchor: Option<Result<Head, HeadError>>,
}

impl KeychainView {
    pub fn read(store: &dyn KeyStore) -> Result<KeychainView, AnchorError> {
        let key = match store.get(KEY_ITEM)? {
            Some(v) => Some(AuditKey::from_hex(v.expose()).ok_or(AnchorError::BadKey)?),
            None => None,
        };
        let anchor = store.get(ANCHOR_ITEM)?.map(|v| Head::parse(v.expose()));
        Ok(KeychainView { key, anchor })
    }
}

/// The key in hand and the store to update the anchor in (`run`).
pub struct Anchor {
    pub(super) key: AuditKey,
    store: Option<Box<dyn KeyStore>>,
    /// The anchor as read when opened.
    pub(super) previous: Option<Result<Head, HeadError>>,
    /// The key was created now: there was none.
    pub created: bool,
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchor")
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl Anchor {
    /// Reads the key, creating it when the keychain has none.
    pub fn open(store: Box<dyn KeyStore>) -> Result<Anchor, AnchorError> {
        let view = KeychainView::read(&*store)?;
        let (key, created) = match view.key {
            Some(k) => (k, false),
            None => {
                let k = AuditKey::generate().map_err(AnchorError::Random)?;
                store.set(KEY_ITEM, &SecretValue::new(k.to_hex().to_string()))?;
                (k, true)
            }
        };
        Ok(Anchor {
            key,
            store: Some(store),
            previous: view.anchor,
            created,
        })
    }

    /// Records `head` as the anchor in the keychain.
    pub(super) fn store(&self, head: &Head) -> Result<(), AnchorError> {
        match &self.store {
            Some(s) => Ok(s.set(ANCHOR_ITEM, &SecretValue::new(head.line()))?),
            None => Ok(()),
        }
    }

    /// Lets go of the keychain (the key stays, for the head's MAC); the
    /// anchor is no longer updated.
    pub fn release(&mut self) {
        self.store = None;
    }
}

#[cfg(test)]
pub(crate) mod memory {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// A keychain in memory, shared between clones.
    #[derive(Clone, Default)]
    pub struct Memory(pub Arc<Mutex<BTreeMap<String, String>>>);

    impl KeyStore for Memory {
        fn get(&self, item: &str) -> Result<Option<SecretValue>, SecretError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .get(item)
                .cloned()
                .map(SecretValue::new))
        }
        fn set(&self, item: &str, value: &SecretValue) -> Result<(), SecretError> {
            self.0
                .lock()
                .unwrap()
                .insert(item.into(), value.expose().to_string());
            Ok(())
        }
    }
}
