//! DSSE envelopes (github.com/secure-systems-lab/dsse) signed with ed25519
//! keys, and the in-toto statement they usually carry. A DSSE signature
//! covers the statement; the statement binds to an artifact only through a
//! subject digest equal to the artifact's own.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;

use super::SigError;
use crate::digest::{Algorithm, Digest};

pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawSignature {
    #[serde(default)]
    keyid: Option<String>,
    sig: String,
    /// Older sigstore tooling put a Fulcio certificate here, with no log
    /// proof beside it.
    #[serde(default)]
    cert: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Envelope {
    /// A signature carries a certificate instead of naming a key.
    pub has_certificate: bool,
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<(Option<String>, Signature)>,
}

fn malformed(why: impl Into<String>) -> SigError {
    SigError::Malformed(format!("DSSE envelope: {}", why.into()))
}

/// Both alphabets occur in the wild; the spec allows either.
fn b64(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

impl Envelope {
    pub fn parse(bytes: &[u8]) -> Result<Self, SigError> {
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        let payload = b64(&raw.payload).ok_or_else(|| malformed("the payload is not base64"))?;
        if raw.signatures.is_empty() {
            return Err(malformed("it carries no signature"));
        }
        let has_certificate = raw.signatures.iter().any(|s| s.cert.is_some());
        let mut signatures = Vec::with_capacity(raw.signatures.len());
        for s in raw.signatures {
            let bytes = b64(&s.sig).ok_or_else(|| malformed("a signature is not base64"))?;
            // Other key types (ECDSA) come with sigstore support; an
            // ed25519 key simply never matches them.
            if let Ok(sig) = Signature::from_slice(&bytes) {
                signatures.push((s.keyid, sig));
            }
        }
        Ok(Envelope {
            has_certificate,
            payload_type: raw.payload_type,
            payload,
            signatures,
        })
    }

    /// Pre-authentication encoding, DSSE v1.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// True when one of the envelope's signatures verifies under `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), SigError> {
        let msg = self.pae();
        if self
            .signatures
            .iter()
            .any(|(_, s)| key.verify_strict(&msg, s).is_ok())
        {
            Ok(())
        } else {
            Err(SigError::Invalid("no signature in the envelope verifies with this key (the payload was changed, or another key signed it)".into()))
        }
    }

    /// The in-toto statement inside, when that is what the envelope carries.
    pub fn statement(&self) -> Result<Statement, SigError> {
        if self.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(SigError::Unsupported(format!(
                "DSSE payload type `{}`: only in-toto statements ({IN_TOTO_PAYLOAD_TYPE}) can name an artifact",
                self.payload_type
            )));
        }
        Statement::parse(&self.payload)
    }
}

pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    pub predicate_type: String,
    #[serde(default)]
    pub predicate: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

impl Statement {
    pub fn parse(bytes: &[u8]) -> Result<Self, SigError> {
        let st: Statement = serde_json::from_slice(bytes)
            .map_err(|e| SigError::Malformed(format!("in-toto statement: {e}")))?;
        if !st.type_.starts_with("https://in-toto.io/Statement/") {
            return Err(SigError::Malformed(format!(
                "in-toto statement: unknown _type `{}`",
                st.type_
            )));
        }
        Ok(st)
    }

    /// The subject whose digest equals one of the artifact's digests. Only
    /// algorithms both sides have are compared, and a subject must agree on
    /// every one of them: a matching sha256 beside a wrong sha512 is a
    /// mismatch, not a match.
    pub fn subject_for(&self, digests: &[Digest]) -> Option<&Subject> {
        self.subject.iter().find(|s| {
            let mut compared = 0;
            for d in digests {
                if let Some(hex) = s.digest.get(d.algorithm.name()) {
                    if !hex.eq_ignore_ascii_case(&d.hex()) {
                        return false;
                    }
                    compared += 1;
                }
            }
            compared > 0
        })
    }

    /// Which algorithms the subjects use, so the caller hashes just those.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut out = Vec::new();
        for s in &self.subject {
            for (k, alg) in [("sha256", Algorithm::Sha256), ("sha512", Algorithm::Sha512)] {
                if s.digest.contains_key(k) && !out.contains(&alg) {
                    out.push(alg);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn subject_must_agree_on_every_shared_algorithm() {
        let st = Statement::parse(br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"aa","sha512":"bb"}}],"predicateType":"x"}"#).unwrap();
        let d256 = Digest {
            algorithm: Algorithm::Sha256,
            bytes: vec![0xaa],
        };
        let d512 = Digest {
            algorithm: Algorithm::Sha512,
            bytes: vec![0xcc],
        };
        assert!(st.subject_for(std::slice::from_ref(&d256)).is_some());
        assert!(st.subject_for(&[d256, d512]).is_none());
    }

    #[test]
    fn malformed_envelopes_fail_cleanly() {
        for input in [
            &b""[..],
            b"{}",
            b"[]",
            br#"{"payload":"!","payloadType":"x","signatures":[]}"#,
            br#"{"payload":"","payloadType":"x","signatures":[]}"#,
        ] {
            assert!(Envelope::parse(input).is_err());
        }
        let deep = "[".repeat(100_000);
        assert!(Envelope::parse(deep.as_bytes()).is_err());
    }
}
