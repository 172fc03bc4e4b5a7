//! A minimal DER walker: the exact bytes that signatures cover (a
//! certificate's TBS part, the signer's attributes) without re-encoding.

/// Certificates carried in one SignedData.
const MAX_CERTS: usize = 16;

/// One DER element: its tag byte, the whole encoding and its contents.
/// Signatures cover exact bytes (the signed attributes as the signer wrote
/// them, in its order; a certificate's TBS part), so they are taken from
/// the input rather than re-encoded.
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) full: &'a [u8],
    pub(crate) value: &'a [u8],
}

pub(crate) fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *input.get(1)?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for k in 0..n {
            len = (len << 8) | usize::from(*input.get(2 + k)?);
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((
        Tlv {
            tag,
            full: &input[..end],
            value: &input[hdr..end],
        },
        &input[end..],
    ))
}

pub(crate) fn children(value: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (t, r) = tlv(rest)?;
        out.push(t);
        rest = r;
        if out.len() > 64 {
            return None;
        }
    }
    Some(out)
}

/// The raw pieces of a SignedData that signatures cover: each certificate
/// and the signer's attributes (re-tagged as SET OF, RFC 5652 §5.4).
pub(crate) struct RawSignedData<'a> {
    pub(crate) certs: Vec<&'a [u8]>,
    pub(crate) signed_attrs: Option<Vec<u8>>,
}

pub(crate) fn raw_signed_data(der: &[u8]) -> Option<RawSignedData<'_>> {
    let (ci, rest) = tlv(der)?;
    if !rest.is_empty() || ci.tag != 0x30 {
        return None;
    }
    let ci = children(ci.value)?;
    let explicit = ci.get(1).filter(|t| t.tag == 0xa0)?;
    let (sd, _) = tlv(explicit.value)?;
    let sd = children(sd.value)?;
    let mut certs = Vec::new();
    if let Some(set) = sd.iter().find(|t| t.tag == 0xa0) {
        let mut rest = set.value;
        while !rest.is_empty() {
            let (c, r) = tlv(rest)?;
            certs.push(c.full);
            rest = r;
            if certs.len() > MAX_CERTS {
                return None;
            }
        }
    }
    let infos = sd.last().filter(|t| t.tag == 0x31)?;
    let infos = children(infos.value)?;
    let mut signed_attrs = None;
    if let [info] = infos.as_slice()
        && let Some(a) = children(info.value)?.iter().find(|t| t.tag == 0xa0)
    {
        let mut v = a.full.to_vec();
        v[0] = 0x31;
        signed_attrs = Some(v);
    }
    Some(RawSignedData {
        certs,
        signed_attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_walker_bounds() {
        assert!(tlv(&[0x30, 0x05, 0x00]).is_none());
        assert!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(tlv(&[0x1f, 0x00]).is_none());
        let (t, rest) = tlv(&[0x04, 0x01, 0xaa, 0xbb]).unwrap();
        assert_eq!((t.tag, t.value, rest), (0x04, &[0xaa][..], &[0xbb][..]));
    }
}
