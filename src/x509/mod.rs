//! X.509 certificates and CMS signatures for `.mcpb` bundles and
//! `trust add-ca`: parsing, key and signature checks, chains to pinned roots.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::Digest as _;
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::name::Name;
use x509_cert::spki::AlgorithmIdentifierOwned;

mod chain;
pub(crate) mod cms;
mod der;

pub(crate) use chain::build_chain;

/// Signer certificate, intermediates and root.
pub const MAX_CHAIN: usize = 5;

pub(crate) mod oid {
    use super::ObjectIdentifier as O;
    pub const SIGNED_DATA: O = O::new_unwrap("1.2.840.113549.1.7.2");
    pub const DATA: O = O::new_unwrap("1.2.840.113549.1.7.1");
    pub const CONTENT_TYPE: O = O::new_unwrap("1.2.840.113549.1.9.3");
    pub const MESSAGE_DIGEST: O = O::new_unwrap("1.2.840.113549.1.9.4");
    pub const SHA256: O = O::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: O = O::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: O = O::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const RSA: O = O::new_unwrap("1.2.840.113549.1.1.1");
    pub const RSA_SHA256: O = O::new_unwrap("1.2.840.113549.1.1.11");
    pub const RSA_SHA384: O = O::new_unwrap("1.2.840.113549.1.1.12");
    pub const RSA_SHA512: O = O::new_unwrap("1.2.840.113549.1.1.13");
    pub const EC_PUBLIC_KEY: O = O::new_unwrap("1.2.840.10045.2.1");
    pub const P256: O = O::new_unwrap("1.2.840.10045.3.1.7");
    pub const P384: O = O::new_unwrap("1.3.132.0.34");
    pub const ECDSA_SHA256: O = O::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_SHA384: O = O::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_SHA512: O = O::new_unwrap("1.2.840.10045.4.3.4");
    pub const BASIC_CONSTRAINTS: O = O::new_unwrap("2.5.29.19");
    pub const KEY_USAGE: O = O::new_unwrap("2.5.29.15");
    pub const EXT_KEY_USAGE: O = O::new_unwrap("2.5.29.37");
    pub const SUBJECT_ALT_NAME: O = O::new_unwrap("2.5.29.17");
    pub const SUBJECT_KEY_ID: O = O::new_unwrap("2.5.29.14");
    pub const AUTHORITY_KEY_ID: O = O::new_unwrap("2.5.29.35");
    pub const CODE_SIGNING: O = O::new_unwrap("1.3.6.1.5.5.7.3.3");
    pub const ANY_EKU: O = O::new_unwrap("2.5.29.37.0");
    pub const CN: O = O::new_unwrap("2.5.4.3");
    pub const O: O = O::new_unwrap("2.5.4.10");
}

/// Why a certificate or a CMS signature is refused.
#[derive(Debug, thiserror::Error)]
pub enum X509Error {
    #[error("the PKCS#7 signature is malformed: {0}")]
    MalformedCms(String),
    #[error(
        "the PKCS#7 signature carries {0}, which its signature does not cover: anyone could have added it after signing"
    )]
    UnsignedContent(&'static str),
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    #[error("the signer's certificate does not chain to a trusted CA: {0}")]
    UntrustedChain(String),
    #[error("certificate `{subject}` {problem}")]
    CertificateTime { subject: String, problem: String },
    #[error("the certificate `{subject}` is not acceptable: {problem}")]
    BadCertificate { subject: String, problem: String },
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
}

/// One certificate from PEM (a single `CERTIFICATE` block) or DER.
pub fn certificate_der(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use x509_cert::der::pem;
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "neither PEM nor DER".to_string())?;
    let text = text.trim();
    if text.matches("-----BEGIN ").count() != 1 {
        return Err("expected exactly one PEM CERTIFICATE block".into());
    }
    let (label, der) = pem::decode_vec(text.as_bytes()).map_err(|e| format!("bad PEM: {e}"))?;
    if label != "CERTIFICATE" {
        return Err(format!("the PEM block is a {label}, not a CERTIFICATE"));
    }
    Ok(der)
}

pub fn certificate_pem(der: &[u8]) -> String {
    use x509_cert::der::pem::{LineEnding, encode_string};
    encode_string("CERTIFICATE", LineEnding::LF, der).unwrap_or_default()
}

/// A certificate with the exact bytes its issuer signed.
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    pub(crate) tbs: Vec<u8>,
    pub(crate) cert: Certificate,
}

impl Cert {
    pub(crate) fn parse(der: &[u8]) -> Result<Cert, String> {
        let cert = Certificate::from_der(der).map_err(|e| e.to_string())?;
        let (outer, _) = der::tlv(der).ok_or("bad DER")?;
        let tbs = der::children(outer.value)
            .and_then(|c| c.into_iter().next())
            .ok_or("bad DER")?
            .full
            .to_vec();
        Ok(Cert {
            der: der.to_vec(),
            tbs,
            cert,
        })
    }

    pub(crate) fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    fn ext<'a>(&'a self, id: &ObjectIdentifier) -> Option<&'a x509_cert::ext::Extension> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == *id)
    }

    pub(crate) fn decode_ext<'a, T: Decode<'a>>(
        &'a self,
        id: &ObjectIdentifier,
    ) -> Result<Option<T>, X509Error> {
        match self.ext(id) {
            None => Ok(None),
            Some(e) => T::from_der(e.extn_value.as_bytes())
                .map(Some)
                .map_err(|err| self.bad(format!("extension {id} does not parse: {err}"))),
        }
    }

    pub(crate) fn bad(&self, problem: String) -> X509Error {
        X509Error::BadCertificate {
            subject: self.subject(),
            problem,
        }
    }

    pub(crate) fn fingerprint(&self) -> String {
        fingerprint(&self.der)
    }

    /// CA=true, and keyCertSign if keyUsage is present.
    pub(crate) fn check_ca(&self) -> Result<Option<u8>, X509Error> {
        let bc: Option<BasicConstraints> = self.decode_ext(&oid::BASIC_CONSTRAINTS)?;
        let bc = bc.filter(|b| b.ca).ok_or_else(|| {
            self.bad(
                "it issues certificates but is not a CA (basicConstraints CA is not true)".into(),
            )
        })?;
        let ku: Option<KeyUsage> = self.decode_ext(&oid::KEY_USAGE)?;
        if ku.is_some_and(|k| !k.key_cert_sign()) {
            return Err(self.bad("its keyUsage lacks keyCertSign".into()));
        }
        Ok(bc.path_len_constraint)
    }

    pub(crate) fn check_time(&self, now: u64) -> Result<(), X509Error> {
        let v = &self.cert.tbs_certificate.validity;
        let nb = v.not_before.to_unix_duration().as_secs();
        let na = v.not_after.to_unix_duration().as_secs();
        let problem = if now < nb {
            format!("is not valid yet (from {})", v.not_before)
        } else if now > na {
            format!("expired on {}", v.not_after)
        } else {
            return Ok(());
        };
        Err(X509Error::CertificateTime {
            subject: self.subject(),
            problem,
        })
    }

    /// Refuses critical extensions this verifier does not enforce.
    pub(crate) fn check_critical(&self) -> Result<(), X509Error> {
        const KNOWN: [ObjectIdentifier; 6] = [
            oid::BASIC_CONSTRAINTS,
            oid::KEY_USAGE,
            oid::EXT_KEY_USAGE,
            oid::SUBJECT_ALT_NAME,
            oid::SUBJECT_KEY_ID,
            oid::AUTHORITY_KEY_ID,
        ];
        for e in self.cert.tbs_certificate.extensions.iter().flatten() {
            if e.critical && !KNOWN.contains(&e.extn_id) {
                return Err(self.bad(format!("unsupported critical extension {}", e.extn_id)));
            }
        }
        Ok(())
    }

    /// Verifies that `issuer` signed this certificate.
    pub(crate) fn signed_by(&self, issuer: &Cert) -> Result<(), X509Error> {
        let sig = self
            .cert
            .signature
            .as_bytes()
            .ok_or_else(|| self.bad("its signature is not a whole number of bytes".into()))?;
        verify_signature(
            &issuer.cert.tbs_certificate.subject_public_key_info,
            &self.cert.signature_algorithm,
            None,
            &self.tbs,
            sig,
        )
    }
}

/// `sha256:` and the lowercase hex SHA-256 of the DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(der)))
}

/// What `trust add-ca` learns about a certificate.
#[derive(Debug, Clone)]
pub struct CaInfo {
    pub subject: String,
    pub fingerprint: String,
    pub not_before: String,
    pub not_after: String,
    /// `Some(problem)` when the certificate is not valid at `at`.
    pub time_problem: Option<String>,
}

/// Checks that `der` is an X.509 CA certificate with a supported key.
pub fn inspect_ca(der: &[u8], at: SystemTime) -> Result<CaInfo, X509Error> {
    let c = Cert::parse(der).map_err(|e| X509Error::BadCertificate {
        subject: "?".into(),
        problem: format!("it does not parse as an X.509 certificate: {e}"),
    })?;
    c.check_ca()?;
    c.check_critical()?;
    key_kind(&c.cert.tbs_certificate.subject_public_key_info)?;
    let v = &c.cert.tbs_certificate.validity;
    Ok(CaInfo {
        subject: c.subject(),
        fingerprint: c.fingerprint(),
        not_before: v.not_before.to_string(),
        not_after: v.not_after.to_string(),
        time_problem: c.check_time(unix(at)).err().map(|e| match e {
            X509Error::CertificateTime { problem, .. } => problem,
            other => other.to_string(),
        }),
    })
}

/// The subject of a DER certificate in RFC 4514 form, if it parses.
pub fn certificate_subject(der: &[u8]) -> Option<String> {
    Certificate::from_der(der)
        .ok()
        .map(|c| c.tbs_certificate.subject.to_string())
}

pub(crate) fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

enum KeyKind {
    Rsa,
    Ec(ObjectIdentifier),
}

fn key_kind(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<KeyKind, X509Error> {
    match spki.algorithm.oid {
        oid::RSA => Ok(KeyKind::Rsa),
        oid::EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| {
                    X509Error::UnsupportedAlgorithm("EC key without a named curve".into())
                })?;
            if curve == oid::P256 || curve == oid::P384 {
                Ok(KeyKind::Ec(curve))
            } else {
                Err(X509Error::UnsupportedAlgorithm(format!("EC curve {curve}")))
            }
        }
        other => Err(X509Error::UnsupportedAlgorithm(format!(
            "public key {other}"
        ))),
    }
}

/// Verifies `sig` over `msg`. `digest` is the hash to use when `alg`
/// names only the key type (CMS signers often write plain rsaEncryption).
pub(crate) fn verify_signature(
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    digest: Option<Hash>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), X509Error> {
    use aws_lc_rs::signature as s;
    let unsupported =
        || X509Error::UnsupportedAlgorithm(format!("signature algorithm {}", alg.oid));
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| X509Error::UnsupportedAlgorithm("public key bit string".into()))?;
    let params: &dyn s::VerificationAlgorithm = match key_kind(spki)? {
        KeyKind::Rsa => {
            let hash = match alg.oid {
                oid::RSA_SHA256 => Hash::Sha256,
                oid::RSA_SHA384 => Hash::Sha384,
                oid::RSA_SHA512 => Hash::Sha512,
                oid::RSA => digest.ok_or_else(unsupported)?,
                _ => return Err(unsupported()),
            };
            match hash {
                Hash::Sha256 => &s::RSA_PKCS1_2048_8192_SHA256,
                Hash::Sha384 => &s::RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => &s::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        KeyKind::Ec(curve) => {
            let hash = match alg.oid {
                oid::ECDSA_SHA256 => Hash::Sha256,
                oid::ECDSA_SHA384 => Hash::Sha384,
                oid::ECDSA_SHA512 => Hash::Sha512,
                oid::EC_PUBLIC_KEY => digest.ok_or_else(unsupported)?,
                _ => return Err(unsupported()),
            };
            match (curve == oid::P256, hash) {
                (true, Hash::Sha256) => &s::ECDSA_P256_SHA256_ASN1,
                (true, Hash::Sha384) => &s::ECDSA_P256_SHA384_ASN1,
                (true, Hash::Sha512) => &s::ECDSA_P256_SHA512_ASN1,
                (false, Hash::Sha256) => &s::ECDSA_P384_SHA256_ASN1,
                (false, Hash::Sha384) => &s::ECDSA_P384_SHA384_ASN1,
                (false, Hash::Sha512) => &s::ECDSA_P384_SHA512_ASN1,
            }
        }
    };
    s::UnparsedPublicKey::new(params, key)
        .verify(msg, sig)
        .map_err(|_| {
            X509Error::BadSignature(format!("the {} signature does not match the key", alg.oid))
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hash {
    pub(crate) fn from_oid(o: &ObjectIdentifier) -> Option<Hash> {
        match *o {
            oid::SHA256 => Some(Hash::Sha256),
            oid::SHA384 => Some(Hash::Sha384),
            oid::SHA512 => Some(Hash::Sha512),
            _ => None,
        }
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            Hash::Sha256 => "SHA-256",
            Hash::Sha384 => "SHA-384",
            Hash::Sha512 => "SHA-512",
        }
    }
    pub(crate) fn hasher(self) -> Hasher {
        match self {
            Hash::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Hash::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Hash::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

impl Hasher {
    pub(crate) fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

pub(crate) fn name_attr(name: &Name, id: &ObjectIdentifier) -> Option<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find_map(|atv| {
        if atv.oid != *id {
            return None;
        }
        let v = &atv.value;
        v.decode_as::<Utf8StringRef<'_>>()
            .map(|s| s.to_string())
            .or_else(|_| {
                v.decode_as::<PrintableStringRef<'_>>()
                    .map(|s| s.to_string())
            })
            .or_else(|_| v.decode_as::<Ia5StringRef<'_>>().map(|s| s.to_string()))
            .ok()
    })
}
