//! The detached CMS (PKCS#7) SignedData of a `.mcpb` signature block: one
//! signer, signed attributes only, nothing outside the signature's cover.

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use x509_cert::der::Decode;
use x509_cert::der::asn1::OctetString;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::der::raw_signed_data;
use super::{Cert, Hash, X509Error, oid};

pub(crate) struct ParsedCms {
    pub(crate) certs: Vec<Cert>,
    pub(crate) signer: usize,
    pub(crate) digest: Hash,
    pub(crate) message_digest: Vec<u8>,
    pub(crate) signed_attrs: Vec<u8>,
    pub(crate) signature_algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: Vec<u8>,
}

pub(crate) fn parse_cms(der: &[u8]) -> Result<ParsedCms, X509Error> {
    let bad = |m: String| X509Error::MalformedCms(m);
    let ci = ContentInfo::from_der(der).map_err(|e| bad(e.to_string()))?;
    if ci.content_type != oid::SIGNED_DATA {
        return Err(bad(format!(
            "content type {} is not SignedData",
            ci.content_type
        )));
    }
    let sd: SignedData = ci.content.decode_as().map_err(|e| bad(e.to_string()))?;
    let raw = raw_signed_data(der).ok_or_else(|| bad("unexpected structure".into()))?;
    if sd.encap_content_info.econtent.is_some() {
        return Err(bad(
            "the signature embeds content; mcpb signatures are detached".into(),
        ));
    }
    if sd.encap_content_info.econtent_type != oid::DATA {
        return Err(bad("the signed content type is not id-data".into()));
    }
    // Neither CRLs nor unsigned attributes are covered by the signature, and
    // no field mcp-warden reads needs them (there is no revocation checking,
    // no countersignature or timestamp support): anything there was written
    // by whoever last held the file. mcpb sign (node-forge) and openssl cms
    // leave both out. Empty sets hold nothing and are let through.
    if sd.crls.as_ref().is_some_and(|c| !c.0.is_empty()) {
        return Err(X509Error::UnsignedContent("CRLs"));
    }
    let infos = &sd.signer_infos.0;
    if infos.len() != 1 {
        return Err(bad(format!(
            "exactly one signer is required, found {}",
            infos.len()
        )));
    }
    let Some(si) = infos.iter().next() else {
        return Err(bad("no signer".into()));
    };
    if si.unsigned_attrs.as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(X509Error::UnsignedContent("unsigned attributes"));
    }
    let digest = Hash::from_oid(&si.digest_alg.oid)
        .ok_or_else(|| X509Error::UnsupportedAlgorithm(format!("digest {}", si.digest_alg.oid)))?;
    let attrs = si.signed_attrs.as_ref().ok_or_else(|| {
        bad("the signer has no signed attributes (mcpb always writes them)".into())
    })?;
    let signed_attrs = raw
        .signed_attrs
        .ok_or_else(|| bad("signed attributes not found".into()))?;
    let mut message_digest = None;
    let mut content_type = None;
    for a in attrs.iter() {
        let single = || {
            if a.values.len() == 1 {
                a.values
                    .iter()
                    .next()
                    .ok_or_else(|| bad("empty attribute".into()))
            } else {
                Err(bad(format!(
                    "attribute {} must have exactly one value",
                    a.oid
                )))
            }
        };
        // One of each: a second messageDigest could tell two readers two stories.
        if a.oid == oid::MESSAGE_DIGEST {
            let v = single()?
                .decode_as::<OctetString>()
                .map_err(|e| bad(format!("messageDigest: {e}")))?;
            if message_digest.replace(v.as_bytes().to_vec()).is_some() {
                return Err(bad("more than one messageDigest attribute".into()));
            }
        } else if a.oid == oid::CONTENT_TYPE {
            let v = single()?
                .decode_as::<ObjectIdentifier>()
                .map_err(|e| bad(format!("contentType: {e}")))?;
            if content_type.replace(v).is_some() {
                return Err(bad("more than one contentType attribute".into()));
            }
        }
    }
    // RFC 5652 §5.3: with signed attributes, contentType is mandatory.
    if content_type != Some(oid::DATA) {
        return Err(bad(
            "the contentType attribute is missing or is not id-data".into(),
        ));
    }
    let message_digest =
        message_digest.ok_or_else(|| bad("the messageDigest attribute is missing".into()))?;
    let certs = raw
        .certs
        .iter()
        .map(|d| Cert::parse(d).map_err(|e| bad(format!("a certificate does not parse: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let signer = match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => certs.iter().position(|c| {
            c.cert.tbs_certificate.issuer == isn.issuer
                && c.cert.tbs_certificate.serial_number == isn.serial_number
        }),
        SignerIdentifier::SubjectKeyIdentifier(ski) => certs.iter().position(|c| {
            c.decode_ext::<SubjectKeyIdentifier>(&oid::SUBJECT_KEY_ID)
                .ok()
                .flatten()
                .is_some_and(|k| k == *ski)
        }),
    }
    .ok_or_else(|| bad("the signer's certificate is not in the signature".into()))?;
    Ok(ParsedCms {
        certs,
        signer,
        digest,
        message_digest,
        signed_attrs,
        signature_algorithm: si.signature_algorithm.clone(),
        signature: si.signature.as_bytes().to_vec(),
    })
}
