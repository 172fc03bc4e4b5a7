//! Public keys in the formats publishers hand out: minisign `.pub`,
//! OpenSSH public-key lines and PEM SubjectPublicKeyInfo. All name an
//! ed25519 key; one fingerprint identifies it whatever the container.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use serde::{Deserialize, Serialize};

/// Largest key file read.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyFormat {
    Minisign,
    Openssh,
    Pem,
}

impl KeyFormat {
    pub fn name(self) -> &'static str {
        match self {
            KeyFormat::Minisign => "minisign",
            KeyFormat::Openssh => "OpenSSH",
            KeyFormat::Pem => "PEM",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "not a public key in a known format (minisign .pub, OpenSSH `ssh-ed25519 …` line or PEM `PUBLIC KEY`)"
    )]
    UnknownFormat,
    #[error("the {0} key is malformed: {1}")]
    Malformed(&'static str, String),
    #[error("the key is of type {0}; this version verifies ed25519 keys only")]
    Unsupported(String),
    #[error("the file holds a private key; give the public key instead")]
    Private,
}

/// A parsed public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub key: VerifyingKey,
    pub format: KeyFormat,
    /// minisign's 8-byte key id, when the key came as a minisign key.
    pub minisign_id: Option<[u8; 8]>,
}

impl PublicKey {
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyError> {
        let text = std::str::from_utf8(bytes).map_err(|_| KeyError::UnknownFormat)?;
        let trimmed = text.trim();
        if trimmed.contains("PRIVATE KEY")
            || trimmed.starts_with("untrusted comment: minisign encrypted secret key")
        {
            return Err(KeyError::Private);
        }
        if trimmed.starts_with("-----BEGIN PUBLIC KEY-----") {
            let key = VerifyingKey::from_public_key_pem(trimmed).map_err(|e| {
                if trimmed.len() > 200 {
                    // Longer than an ed25519 SPKI: another algorithm.
                    KeyError::Unsupported("non-ed25519 PEM".into())
                } else {
                    KeyError::Malformed("PEM", e.to_string())
                }
            })?;
            return Self::checked(key, KeyFormat::Pem, None);
        }
        if trimmed.starts_with("ssh-")
            || trimmed.starts_with("ecdsa-")
            || trimmed.starts_with("sk-")
        {
            let pk = ssh_key::PublicKey::from_openssh(trimmed)
                .map_err(|e| KeyError::Malformed("OpenSSH", e.to_string()))?;
            return match pk.key_data() {
                ssh_key::public::KeyData::Ed25519(k) => {
                    let key = VerifyingKey::from_bytes(&k.0)
                        .map_err(|e| KeyError::Malformed("OpenSSH", e.to_string()))?;
                    Self::checked(key, KeyFormat::Openssh, None)
                }
                other => Err(KeyError::Unsupported(other.algorithm().to_string())),
            };
        }
        Self::parse_minisign(trimmed)
    }

    /// minisign: an optional `untrusted comment:` line, then base64 of
    /// "Ed" || key id (8) || key (32).
    fn parse_minisign(text: &str) -> Result<Self, KeyError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let mut line = lines.next().ok_or(KeyError::UnknownFormat)?;
        if line.starts_with("untrusted comment:") {
            line = lines.next().ok_or(KeyError::Malformed(
                "minisign",
                "the key line is missing".into(),
            ))?;
        } else if line.len() != 56 {
            return Err(KeyError::UnknownFormat);
        }
        if lines.next().is_some() {
            return Err(KeyError::Malformed(
                "minisign",
                "unexpected text after the key line".into(),
            ));
        }
        let raw = B64.decode(line).map_err(|e| {
            KeyError::Malformed("minisign", format!("the key line is not base64 ({e})"))
        })?;
        if raw.len() != 42 {
            return Err(KeyError::Malformed(
                "minisign",
                format!("the key is {} bytes, expected 42", raw.len()),
            ));
        }
        if &raw[..2] != b"Ed" {
            return Err(KeyError::Unsupported(format!(
                "minisign algorithm {:?}",
                String::from_utf8_lossy(&raw[..2])
            )));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&raw[2..10]);
        let bytes: [u8; 32] = raw[10..42].try_into().expect("length checked");
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| KeyError::Malformed("minisign", e.to_string()))?;
        Self::checked(key, KeyFormat::Minisign, Some(id))
    }

    fn checked(
        key: VerifyingKey,
        format: KeyFormat,
        minisign_id: Option<[u8; 8]>,
    ) -> Result<Self, KeyError> {
        // A small-order key accepts forged signatures: refuse it outright.
        if key.is_weak() {
            return Err(KeyError::Malformed(
                format.name(),
                "weak (small-order) ed25519 key".into(),
            ));
        }
        Ok(PublicKey {
            key,
            format,
            minisign_id,
        })
    }

    /// `SHA256:` + unpadded base64 of the key's OpenSSH wire encoding, as
    /// `ssh-keygen -l` prints it; the same for every container format.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.key)
    }

    /// A canonical one-line form for storage: the OpenSSH line.
    pub fn openssh_line(&self) -> String {
        let pk = ssh_key::PublicKey::from(ssh_key::public::Ed25519PublicKey(self.key.to_bytes()));
        pk.to_openssh()
            .expect("encoding an ed25519 key cannot fail")
    }
}

pub fn fingerprint_of(key: &VerifyingKey) -> String {
    let pk = ssh_key::PublicKey::from(ssh_key::public::Ed25519PublicKey(key.to_bytes()));
    pk.fingerprint(ssh_key::HashAlg::Sha256).to_string()
}

/// minisign key ids are shown as 16 upper-case hex digits of the
/// little-endian number, as `minisign` prints them.
pub fn minisign_id_hex(id: &[u8; 8]) -> String {
    format!("{:016X}", u64::from_le_bytes(*id))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by `minisign -G -W`.
    const MINISIGN: &str = "untrusted comment: minisign public key 91BAC0D4BE62AADF\nRWTfqmK+1MC6kZuYf34RLms6AOuRFB/2rz5icJitwR5ddXeAkL65q1t3\n";

    #[test]
    fn minisign_key_parses_and_round_trips_to_openssh() {
        let k = PublicKey::parse(MINISIGN.as_bytes()).unwrap();
        assert_eq!(k.format, KeyFormat::Minisign);
        assert_eq!(minisign_id_hex(&k.minisign_id.unwrap()), "91BAC0D4BE62AADF");
        let line = k.openssh_line();
        let again = PublicKey::parse(line.as_bytes()).unwrap();
        assert_eq!(again.key, k.key);
        assert_eq!(again.fingerprint(), k.fingerprint());
        assert!(k.fingerprint().starts_with("SHA256:"));
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        for input in [
            &b""[..],
            b"\xff\xfe",
            b"untrusted comment: x\n",
            b"untrusted comment: x\n!!!!\n",
            b"untrusted comment: x\nRWQ=\n",
            b"ssh-ed25519 AAAA",
            b"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7",
            b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----",
            b"-----BEGIN OPENSSH PRIVATE KEY-----",
        ] {
            assert!(PublicKey::parse(input).is_err(), "{input:?}");
        }
    }
}
