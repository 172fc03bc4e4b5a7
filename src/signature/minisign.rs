//! minisign signatures (`.minisig`), legacy ("Ed": ed25519 over the file)
//! and prehashed ("ED": ed25519 over BLAKE2b-512 of the file), with the
//! trusted comment bound by the global signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, StreamVerifier, VerifyingKey};

use super::SigError;

#[derive(Debug, Clone)]
pub struct MinisignSignature {
    pub prehashed: bool,
    pub key_id: [u8; 8],
    pub signature: Signature,
    pub untrusted_comment: String,
    pub trusted_comment: String,
    pub global_signature: Signature,
}

fn malformed(why: impl Into<String>) -> SigError {
    SigError::Malformed(format!("minisign signature: {}", why.into()))
}

impl MinisignSignature {
    pub fn parse(text: &str) -> Result<Self, SigError> {
        let mut lines = text.lines();
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| malformed(format!("the {what} line is missing (truncated?)")))
        };
        let untrusted = next("untrusted comment")?;
        let untrusted_comment = untrusted
            .strip_prefix("untrusted comment: ")
            .ok_or_else(|| malformed("the first line must start with `untrusted comment: `"))?
            .to_string();
        let sig_line = next("signature")?;
        let raw = B64
            .decode(sig_line.trim())
            .map_err(|_| malformed("the signature line is not base64"))?;
        if raw.len() != 74 {
            return Err(malformed(format!(
                "the signature is {} bytes, expected 74",
                raw.len()
            )));
        }
        let prehashed = match &raw[..2] {
            b"ED" => true,
            b"Ed" => false,
            other => {
                return Err(malformed(format!(
                    "unknown algorithm {:?}",
                    String::from_utf8_lossy(other)
                )));
            }
        };
        let key_id: [u8; 8] = raw[2..10].try_into().expect("length checked");
        let signature =
            Signature::from_slice(&raw[10..74]).map_err(|e| malformed(e.to_string()))?;
        let trusted = next("trusted comment")?;
        let trusted_comment = trusted
            .strip_prefix("trusted comment: ")
            .ok_or_else(|| malformed("the third line must start with `trusted comment: `"))?
            .to_string();
        let global_line = next("global signature")?;
        let global_raw = B64
            .decode(global_line.trim())
            .map_err(|_| malformed("the global signature line is not base64"))?;
        let global_signature = Signature::from_slice(&global_raw).map_err(|_| {
            malformed(format!(
                "the global signature is {} bytes, expected 64",
                global_raw.len()
            ))
        })?;
        if lines.any(|l| !l.trim().is_empty()) {
            return Err(malformed("unexpected text after the global signature"));
        }
        Ok(MinisignSignature {
            prehashed,
            key_id,
            signature,
            untrusted_comment,
            trusted_comment,
            global_signature,
        })
    }

    /// The global signature covers the file signature and the trusted
    /// comment: without it, the comment could be rewritten freely.
    pub fn verify_trusted_comment(&self, key: &VerifyingKey) -> Result<(), SigError> {
        let mut msg = Vec::with_capacity(64 + self.trusted_comment.len());
        msg.extend_from_slice(&self.signature.to_bytes());
        msg.extend_from_slice(self.trusted_comment.as_bytes());
        key.verify_strict(&msg, &self.global_signature)
            .map_err(|_| SigError::Invalid("the trusted comment's global signature does not verify (the comment was changed, or another key signed)".into()))
    }

    /// Prehashed mode: the signature is over BLAKE2b-512 of the file.
    pub fn verify_prehashed(&self, key: &VerifyingKey, blake2b512: &[u8]) -> Result<(), SigError> {
        debug_assert!(self.prehashed);
        key.verify_strict(blake2b512, &self.signature)
            .map_err(|_| SigError::Invalid("the signature does not match the file (the file was changed, or another key signed it)".into()))
    }

    /// Legacy mode verifies over the file itself, so it streams.
    pub fn legacy_verifier(&self, key: &VerifyingKey) -> Result<LegacyVerifier, SigError> {
        let v = key.verify_stream(&self.signature).map_err(|_| {
            SigError::Invalid("the signature is not a valid ed25519 signature".into())
        })?;
        Ok(LegacyVerifier(v))
    }
}

/// Streaming verification of a legacy signature, fed by `digest::feed`.
pub struct LegacyVerifier(StreamVerifier);

impl LegacyVerifier {
    pub fn finish(self) -> Result<(), SigError> {
        self.0
            .finalize_and_verify()
            .map_err(|_| SigError::Invalid("the signature does not match the file (the file was changed, or another key signed it)".into()))
    }
}

impl crate::digest::Sink for LegacyVerifier {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_garbled_are_malformed() {
        let good = "untrusted comment: signature from minisign secret key\nRUTfqmK+1MC6kZuYf34RLms6AOuRFB/2rz5icJitwR5ddXeAkL65q1t3RUTfqmK+1MC6kZuYf34RLms6AOuRFB/2rz5icJitwR5ddXeAkL65q1t3AA==\ntrusted comment: timestamp:1\nRUTfqmK+1MC6kZuYf34RLms6AOuRFB/2rz5icJitwR5ddXeAkL65q1t3RUTfqmK+1MC6kZuYf34RLms6AOuRFA==\n";
        for cut in 0..good.len() {
            // Every prefix either parses or fails cleanly.
            let _ = MinisignSignature::parse(&good[..cut]);
        }
        assert!(matches!(
            MinisignSignature::parse(""),
            Err(SigError::Malformed(_))
        ));
        assert!(matches!(
            MinisignSignature::parse("untrusted comment: x\n%%%\n"),
            Err(SigError::Malformed(_))
        ));
    }
}
