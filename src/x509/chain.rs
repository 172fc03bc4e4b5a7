//! Chain building from a signer certificate to a pinned root.

use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};
use x509_cert::name::Name;

use super::{Cert, MAX_CHAIN, X509Error, oid};

/// From the signer up through the bundled certificates to a pinned root.
/// `roots` are (trust store name, DER); returns the root's name.
pub(crate) fn build_chain(
    certs: &[Cert],
    signer: usize,
    roots: &[(&str, &[u8])],
    now: u64,
) -> Result<String, X509Error> {
    let leaf = &certs[signer];
    leaf.check_critical()?;
    let ku: Option<KeyUsage> = leaf.decode_ext(&oid::KEY_USAGE)?;
    if ku.is_some_and(|k| !k.digital_signature()) {
        return Err(leaf.bad("its keyUsage lacks digitalSignature".into()));
    }
    let eku: Option<ExtendedKeyUsage> = leaf.decode_ext(&oid::EXT_KEY_USAGE)?;
    if eku.is_some_and(|e| {
        !e.0.iter()
            .any(|o| *o == oid::CODE_SIGNING || *o == oid::ANY_EKU)
    }) {
        return Err(leaf.bad("its extendedKeyUsage does not allow code signing".into()));
    }
    let roots: Vec<(&str, Cert)> = roots
        .iter()
        .filter_map(|(name, der)| Cert::parse(der).ok().map(|c| (*name, c)))
        .collect();
    let mut used = vec![signer];
    let mut current = leaf;
    for depth in 0..MAX_CHAIN - 1 {
        current.check_time(now)?;
        let issuer: &Name = &current.cert.tbs_certificate.issuer;
        // A pinned root first: it ends the chain.
        let mut root_err = None;
        for (r, rc) in &roots {
            if rc.cert.tbs_certificate.subject != *issuer {
                continue;
            }
            match current.signed_by(rc) {
                Ok(()) => {
                    let path_len = rc.check_ca()?;
                    if path_len.is_some_and(|p| usize::from(p) < depth) {
                        return Err(rc.bad("its pathLenConstraint is exceeded".into()));
                    }
                    rc.check_time(now)?;
                    return Ok(r.to_string());
                }
                Err(e) => root_err = Some(e),
            }
        }
        let next = certs.iter().enumerate().find(|(k, c)| {
            !used.contains(k)
                && c.cert.tbs_certificate.subject == *issuer
                && current.signed_by(c).is_ok()
        });
        let Some((k, next)) = next else {
            return Err(match root_err {
                Some(e) => e,
                None => X509Error::UntrustedChain(format!(
                    "no pinned CA issued `{}` (issuer `{issuer}`)",
                    current.subject()
                )),
            });
        };
        let path_len = next.check_ca()?;
        if path_len.is_some_and(|p| usize::from(p) < depth) {
            return Err(next.bad("its pathLenConstraint is exceeded".into()));
        }
        next.check_critical()?;
        used.push(k);
        current = next;
    }
    Err(X509Error::UntrustedChain(format!(
        "no pinned CA within {MAX_CHAIN} certificates"
    )))
}
