//! OpenSSH signatures (`ssh-keygen -Y sign`, the SSHSIG format) by ed25519
//! keys. The message hash is computed by the caller while streaming the
//! artifact, so files of any size verify in bounded memory.

use ed25519_dalek::{Signature, VerifyingKey};

use super::SigError;
use crate::digest::Algorithm;

#[derive(Debug, Clone)]
pub struct SshSignature {
    /// The key the signature claims; it must still match a trusted key.
    pub public_key: VerifyingKey,
    pub namespace: String,
    pub hash_alg: Algorithm,
    pub signature: Signature,
}

fn malformed(why: impl Into<String>) -> SigError {
    SigError::Malformed(format!("OpenSSH signature: {}", why.into()))
}

impl SshSignature {
    pub fn parse(text: &str) -> Result<Self, SigError> {
        let sig = ssh_key::SshSig::from_pem(text.trim()).map_err(|e| malformed(e.to_string()))?;
        let public_key = match sig.public_key() {
            ssh_key::public::KeyData::Ed25519(k) => {
                VerifyingKey::from_bytes(&k.0).map_err(|e| malformed(e.to_string()))?
            }
            other => {
                return Err(SigError::Unsupported(format!(
                    "OpenSSH signature by a {} key; this version verifies ed25519 keys only",
                    other.algorithm()
                )));
            }
        };
        if sig.signature().algorithm() != ssh_key::Algorithm::Ed25519 {
            return Err(malformed(
                "the signature algorithm does not match the ed25519 key",
            ));
        }
        let hash_alg = match sig.hash_alg() {
            ssh_key::HashAlg::Sha256 => Algorithm::Sha256,
            ssh_key::HashAlg::Sha512 => Algorithm::Sha512,
            other => {
                return Err(SigError::Unsupported(format!(
                    "OpenSSH signature hash {other}"
                )));
            }
        };
        let signature = Signature::from_slice(sig.signature().as_bytes())
            .map_err(|e| malformed(e.to_string()))?;
        Ok(SshSignature {
            public_key,
            namespace: sig.namespace().to_string(),
            hash_alg,
            signature,
        })
    }

    /// Checks the namespace, then the signature over the SSHSIG blob built
    /// from `message_hash` (the artifact's digest under `self.hash_alg`).
    pub fn verify(
        &self,
        key: &VerifyingKey,
        namespace: &str,
        message_hash: &[u8],
    ) -> Result<(), SigError> {
        if self.namespace != namespace {
            return Err(SigError::Namespace {
                want: namespace.to_string(),
                got: self.namespace.clone(),
            });
        }
        if key != &self.public_key {
            return Err(SigError::Invalid(
                "the signature was made by another key".into(),
            ));
        }
        key.verify_strict(&signed_data(&self.namespace, self.hash_alg, message_hash), &self.signature)
            .map_err(|_| SigError::Invalid("the signature does not match the file (the file was changed, or the signature was)".into()))
    }
}

/// The blob SSHSIG signs (PROTOCOL.sshsig): a fixed preamble, then SSH
/// strings of the namespace, the reserved field, the hash name and the
/// message hash.
fn signed_data(namespace: &str, alg: Algorithm, hash: &[u8]) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s);
    }
    let mut out = b"SSHSIG".to_vec();
    put(&mut out, namespace.as_bytes());
    put(&mut out, b"");
    put(&mut out, alg.name().as_bytes());
    put(&mut out, hash);
    out
}
