//! Public keys in the formats publishers hand out: minisign `.pub`,
//! OpenSSH public-key lines and PEM SubjectPublicKeyInfo. Ed25519 keys sign
//! minisign, OpenSSH, DSSE and sigstore material; ECDSA P-256 keys (PEM,
//! as cosign writes them) sign sigstore bundles. One fingerprint identifies
//! a key whatever the container: the one `ssh-keygen -l` prints.

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
    #[error("the key is of type {0}; this version verifies ed25519 and ECDSA P-256 keys only")]
    Unsupported(String),
    #[error("the file holds a private key; give the public key instead")]
    Private,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    Ed25519(VerifyingKey),
    /// SEC1-encoded point; sigstore bundles only.
    EcdsaP256(p256::PublicKey),
}

/// A parsed public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub material: KeyMaterial,
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
            if let Ok(key) = VerifyingKey::from_public_key_pem(trimmed) {
                return Self::checked(key, KeyFormat::Pem, None);
            }
            use p256::pkcs8::DecodePublicKey as _;
            return match p256::PublicKey::from_public_key_pem(trimmed) {
                Ok(k) => Ok(PublicKey {
                    material: KeyMaterial::EcdsaP256(k),
                    format: KeyFormat::Pem,
                    minisign_id: None,
                }),
                Err(e) => match pem_algorithm(trimmed) {
                    Some(alg) => Err(KeyError::Unsupported(alg)),
                    None => Err(KeyError::Malformed("PEM", e.to_string())),
                },
            };
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
                ssh_key::public::KeyData::Ecdsa(ssh_key::public::EcdsaPublicKey::NistP256(p)) => {
                    let k = p256::PublicKey::from_sec1_bytes(p.as_bytes())
                        .map_err(|e| KeyError::Malformed("OpenSSH", e.to_string()))?;
                    Ok(PublicKey {
                        material: KeyMaterial::EcdsaP256(k),
                        format: KeyFormat::Openssh,
                        minisign_id: None,
                    })
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
            material: KeyMaterial::Ed25519(key),
            format,
            minisign_id,
        })
    }

    /// The ed25519 key, for the schemes that only take ed25519.
    pub fn ed25519(&self) -> Option<&VerifyingKey> {
        match &self.material {
            KeyMaterial::Ed25519(k) => Some(k),
            KeyMaterial::EcdsaP256(_) => None,
        }
    }

    /// SubjectPublicKeyInfo DER, as sigstore's managed-key policy takes it.
    pub fn spki_der(&self) -> Vec<u8> {
        match &self.material {
            KeyMaterial::Ed25519(k) => {
                use ed25519_dalek::pkcs8::EncodePublicKey as _;
                k.to_public_key_der()
                    .expect("encoding an ed25519 key cannot fail")
                    .into_vec()
            }
            KeyMaterial::EcdsaP256(k) => {
                use p256::pkcs8::EncodePublicKey as _;
                k.to_public_key_der()
                    .expect("encoding a P-256 key cannot fail")
                    .into_vec()
            }
        }
    }

    pub fn algorithm(&self) -> &'static str {
        match self.material {
            KeyMaterial::Ed25519(_) => "ed25519",
            KeyMaterial::EcdsaP256(_) => "ECDSA P-256",
        }
    }

    /// `SHA256:` + unpadded base64 of the key's OpenSSH wire encoding, as
    /// `ssh-keygen -l` prints it; the same for every container format.
    pub fn fingerprint(&self) -> String {
        self.ssh_key()
            .fingerprint(ssh_key::HashAlg::Sha256)
            .to_string()
    }

    /// A canonical one-line form for storage: the OpenSSH line.
    pub fn openssh_line(&self) -> String {
        self.ssh_key()
            .to_openssh()
            .expect("encoding a public key cannot fail")
    }

    fn ssh_key(&self) -> ssh_key::PublicKey {
        match &self.material {
            KeyMaterial::Ed25519(k) => {
                ssh_key::PublicKey::from(ssh_key::public::Ed25519PublicKey(k.to_bytes()))
            }
            KeyMaterial::EcdsaP256(k) => {
                let point = k.to_sec1_bytes();
                let ec = ssh_key::public::EcdsaPublicKey::from_sec1_bytes(&point)
                    .expect("a valid P-256 point is valid SEC1");
                ssh_key::PublicKey::from(ec)
            }
        }
    }
}

pub fn fingerprint_of(key: &VerifyingKey) -> String {
    let pk = ssh_key::PublicKey::from(ssh_key::public::Ed25519PublicKey(key.to_bytes()));
    pk.fingerprint(ssh_key::HashAlg::Sha256).to_string()
}

/// The algorithm OID of a PEM SPKI we cannot use, for the error message.
fn pem_algorithm(pem: &str) -> Option<String> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = B64.decode(body.trim()).ok()?;
    // id-ecPublicKey with another curve, or RSA: name them by OID bytes.
    if der
        .windows(9)
        .any(|w| w == [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01])
    {
        Some("ECDSA on a curve other than P-256".into())
    } else if der.windows(11).any(|w| {
        w == [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ]
    }) {
        Some("RSA".into())
    } else {
        None
    }
}

/// minisign key ids are shown as upper-case hex of the little-endian
/// number without leading zeros, exactly as `minisign` prints them
/// (`%" PRIX64`), so a user can compare them by eye.
pub fn minisign_id_hex(id: &[u8; 8]) -> String {
    format!("{:X}", u64::from_le_bytes(*id))
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
        // No zero padding, as minisign prints it.
        assert_eq!(
            minisign_id_hex(&[0x01, 0, 0, 0, 0, 0, 0, 0x0a]),
            "A00000000000001"
        );
        let line = k.openssh_line();
        let again = PublicKey::parse(line.as_bytes()).unwrap();
        assert_eq!(again.material, k.material);
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
