//! Evidence per package of an npm tree: the registry's signatures and
//! npm provenance.
//!
//! The npm registry signs `NAME@VERSION:INTEGRITY` of every version it
//! serves with an ECDSA P-256 key (SHA-256) and lists the signatures in
//! the version's `dist.signatures` (`[{keyid, sig}]`), as
//! `npm audit signatures` checks them. The keys are not taken from the
//! registry at `add` time: registry.npmjs.org's published keys are built
//! in, and the keys of any other registry are pinned in the trust store
//! (`[[registry-key]]`). A key with an `expires` verifies only signatures
//! of versions published before it (the packument's `time[VERSION]`);
//! when the publish time cannot be known, it verifies nothing.
//!
//! A signature that is offered and does not verify is a hard failure,
//! whatever the policy: it means the metadata or the tarball was changed.
//!
//! Provenance: where a version document lists `dist.attestations`, the
//! attestations document is fetched (bounded) and its SLSA provenance
//! bundle verified offline against the embedded sigstore roots; its
//! in-toto subject must be `pkg:npm/NAME@VERSION` with the sha512 of the
//! tarball that was fetched and checked, and the builder it names must be
//! the one its certificate was issued to. Provenance that is offered and
//! does not verify or does not bind to the tarball is a hard failure too.

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use serde_json::Value;

use crate::diag::{Code, Failure};
use crate::net;
use crate::policy::{PolicySet, Require};
use crate::signature::sigstore::{self, Root};

/// Documents fetched at once: each is one round trip, a tree has a
/// hundred.
const AT_ONCE: usize = 8;

/// A version document is a few KiB; a full packument of a long-lived
/// package a few MiB (read only when a key has an `expires`).
pub const MAX_VERSION_DOC: u64 = 4 << 20;
pub const MAX_PACKUMENT: u64 = 64 << 20;
/// Signatures one version may list, and the length of one (base64 of a
/// DER signature is under 100 characters; a key id under 100).
pub const MAX_SIGNATURES: usize = 16;
pub const MAX_FIELD: usize = 512;
/// An attestations document: two sigstore bundles, a few KiB.
pub const MAX_ATTESTATIONS: u64 = crate::source::npm::ATTESTATIONS_LIMIT;

/// The npm registry's published keys (https://registry.npmjs.org/-/npm/v1/keys):
/// `(keyid, base64 SPKI DER, expires)`.
pub const NPMJS_REGISTRY: &str = "https://registry.npmjs.org";
pub const NPMJS_KEYS: &[(&str, &str, Option<&str>)] = &[
    (
        "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA",
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==",
        Some("2025-01-29T00:00:00.000Z"),
    ),
    (
        "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U",
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY6Ya7W++7aUPzvMTrezH6Ycx3c+HOKYCcNGybJZSCJq/fd7Qa8uuAKtdIkUQtQiEKERhAmE5lMMJhP8OkDOa2g==",
        None,
    ),
];

/// One registry key: which registry, its id, the key, until when it signs.
#[derive(Debug, Clone)]
pub struct RegistryKey {
    /// `https://host[:port][/path]`, without a trailing slash.
    pub registry: String,
    pub keyid: String,
    pub key: p256::ecdsa::VerifyingKey,
    pub expires: Option<jiff::Timestamp>,
}

impl RegistryKey {
    /// A key as the registry publishes it: the base64 of its DER
    /// SubjectPublicKeyInfo, and `expires` as an RFC 3339 time.
    pub fn parse(
        registry: &str,
        keyid: &str,
        key_b64: &str,
        expires: Option<&str>,
    ) -> Result<RegistryKey, String> {
        use p256::pkcs8::DecodePublicKey as _;
        if keyid.is_empty() || keyid.len() > MAX_FIELD || keyid.chars().any(char::is_control) {
            return Err("the key id must be 1 to 512 printable characters".into());
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(key_b64.trim())
            .map_err(|e| format!("the key is not base64: {e}"))?;
        let pk = p256::PublicKey::from_public_key_der(&der)
            .map_err(|e| format!("the key is not an ECDSA P-256 public key (DER SPKI): {e}"))?;
        let expires = expires
            .map(|t| {
                t.parse::<jiff::Timestamp>()
                    .map_err(|e| format!("`expires` is not an RFC 3339 time: {e}"))
            })
            .transpose()?;
        Ok(RegistryKey {
            registry: registry_id(registry),
            keyid: keyid.to_string(),
            key: p256::ecdsa::VerifyingKey::from(&pk),
            expires,
        })
    }
}

/// How registries are compared: scheme, host, port and path, without a
/// trailing slash, the scheme and host in lower case.
pub fn registry_id(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(u) => {
            let mut s = format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
            if let Some(p) = u.port() {
                s.push_str(&format!(":{p}"));
            }
            s.push_str(u.path().trim_end_matches('/'));
            s
        }
        Err(_) => url.trim().trim_end_matches('/').to_ascii_lowercase(),
    }
}

/// registry.npmjs.org's keys, built in.
pub fn npmjs_keys() -> Vec<RegistryKey> {
    NPMJS_KEYS
        .iter()
        .map(|(id, key, exp)| {
            RegistryKey::parse(NPMJS_REGISTRY, id, key, *exp).expect("built-in npm registry key")
        })
        .collect()
}

/// What one version's registry signatures show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// A signature verified with this key id.
    Valid(String),
    /// The registry listed no signature.
    NoneOffered,
    /// Signatures were listed, but by keys not pinned for this registry.
    UnknownKey(String),
    /// Signed by a key with an `expires`, and the publish time is unknown.
    ExpiryUnknown(String),
}

/// The registry signatures of `name@version` (with the registry's
/// `integrity` string) in `signatures` (`dist.signatures`), checked
/// against `keys`; `published` is `time[version]` when known. A listed
/// signature that is malformed, does not verify, or was made by a key
/// after it expired is an error: that is tampering, not a lack of
/// evidence.
pub fn check(
    keys: &[RegistryKey],
    (name, version, integrity): (&str, &str, &str),
    signatures: Option<&Value>,
    published: Option<jiff::Timestamp>,
) -> Result<Signed, String> {
    let list = match signatures {
        None | Some(Value::Null) => return Ok(Signed::NoneOffered),
        Some(Value::Array(a)) if a.is_empty() => return Ok(Signed::NoneOffered),
        Some(Value::Array(a)) if a.len() > MAX_SIGNATURES => {
            return Err(format!(
                "`dist.signatures` lists {} signatures (at most {MAX_SIGNATURES})",
                a.len()
            ));
        }
        Some(Value::Array(a)) => a,
        Some(_) => return Err("`dist.signatures` is not a list".into()),
    };
    let message = format!("{name}@{version}:{integrity}");
    let mut unknown = None;
    let mut expiry_unknown = None;
    for s in list {
        let field = |k: &str| -> Result<&str, String> {
            match s.get(k) {
                Some(Value::String(v)) if !v.is_empty() && v.len() <= MAX_FIELD => Ok(v),
                Some(Value::String(_)) => Err(format!(
                    "a signature's `{k}` is empty or longer than {MAX_FIELD} bytes"
                )),
                _ => Err(format!("a signature has no `{k}` string")),
            }
        };
        let keyid = field("keyid")?;
        let sig = field("sig")?;
        let shown = crate::text::printable(keyid, 100);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .map_err(|_| format!("the signature by {shown} is not base64"))?;
        let sig = p256::ecdsa::Signature::from_der(&bytes)
            .map_err(|_| format!("the signature by {shown} is not a DER ECDSA signature"))?;
        let Some(key) = keys.iter().find(|k| k.keyid == keyid) else {
            unknown.get_or_insert(shown);
            continue;
        };
        if let Some(expires) = key.expires {
            match published {
                None => {
                    expiry_unknown.get_or_insert(shown);
                    continue;
                }
                Some(p) if p >= expires => {
                    return Err(format!(
                        "signed with {shown}, which expired {expires}, but published {p}"
                    ));
                }
                Some(_) => {}
            }
        }
        let sig = sig.normalize_s();
        key.key
            .verify(message.as_bytes(), &sig)
            .map_err(|_| format!("the signature by {shown} does not verify"))?;
        return Ok(Signed::Valid(keyid.to_string()));
    }
    Ok(match (expiry_unknown, unknown) {
        (Some(k), _) => Signed::ExpiryUnknown(k),
        (None, Some(k)) => Signed::UnknownKey(k),
        (None, None) => Signed::NoneOffered,
    })
}

/// What one version's npm provenance shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proven {
    /// SLSA provenance verified and bound to the tarball: the source
    /// repository it was built from (or, without one, the signer).
    Valid(String),
    /// The registry listed no attestations, or none that is provenance.
    NoneOffered,
}

/// Why offered provenance is refused: the diagnostic code and the detail.
pub type ProvenanceError = (Code, String);

/// The SLSA provenance of `name@version` (whose tarball has the SRI
/// `integrity`) in the npm attestations document `doc`, verified offline
/// against `roots`. The document offering no SLSA provenance is
/// [`Proven::NoneOffered`]; provenance that is malformed, does not verify,
/// is about another package or tarball, or names a builder other than its
/// signer is an error.
pub fn check_provenance(
    roots: &[Root],
    (name, version, integrity): (&str, &str, &str),
    doc: &[u8],
) -> Result<Proven, ProvenanceError> {
    use crate::provenance::{SLSA_V1, SLSA_V02};
    let invalid = |m: String| (Code::ProvenanceInvalid, m);
    let digest = crate::source::npm::strongest_integrity(integrity).map_err(|_| {
        invalid("the package's integrity has no sha512 to bind provenance to".into())
    })?;
    let (wrapper, items) = sigstore::parse_file(doc)
        .map_err(|e| invalid(format!("the attestations document: {e}")))?;
    if wrapper != sigstore::Wrapper::NpmAttestations {
        return Err(invalid(
            "the attestations document has no `attestations` list".into(),
        ));
    }
    // parse_file has read it as JSON: the predicate types, by position.
    let types: Vec<String> = serde_json::from_slice::<Value>(doc)
        .ok()
        .and_then(|v| v.get("attestations")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|a| {
            a.get("predicateType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let slsa: Vec<_> = items
        .iter()
        .zip(&types)
        .filter(|(_, t)| *t == SLSA_V1 || *t == SLSA_V02)
        .collect();
    let (item, predicate_type) = match slsa.as_slice() {
        [] => return Ok(Proven::NoneOffered),
        [one] => *one,
        _ => {
            return Err(invalid(
                "the attestations document holds more than one SLSA provenance".into(),
            ));
        }
    };
    let sigstore_verify::types::SignatureContent::DsseEnvelope(env) = &item.bundle.content else {
        return Err(invalid(
            "the provenance bundle holds a message signature, not an in-toto statement".into(),
        ));
    };
    let v = sigstore::verify(
        &item.bundle,
        &sigstore::Input::Digest(&digest),
        roots,
        &sigstore::Rule::Keyless,
    )
    .map_err(|e| match e {
        crate::signature::SigError::Check {
            code: Code::DigestMismatch,
            message,
        } => (
            Code::ProvenanceNotBound,
            format!("the provenance is about another tarball: {message}"),
        ),
        e => invalid(format!("the provenance bundle does not verify: {e}")),
    })?;
    let st = crate::signature::dsse::Statement::parse(env.payload.as_bytes())
        .map_err(|e| invalid(format!("the provenance statement: {e}")))?;
    if st.predicate_type != *predicate_type {
        return Err(invalid(format!(
            "the statement's predicate type `{}` is not the one the document lists",
            crate::text::printable(&st.predicate_type, 200)
        )));
    }
    // npm names the subject by its package URL, the scope's `@` encoded.
    let purls = [
        format!("pkg:npm/{name}@{version}"),
        format!("pkg:npm/{}@{version}", name.replacen('@', "%40", 1)),
    ];
    let want = digest.hex();
    let Some(subject) = st.subject.iter().find(|s| purls.contains(&s.name)) else {
        return Err((
            Code::ProvenanceNotBound,
            format!(
                "the provenance names no subject `{}`: it is about another package",
                purls[0]
            ),
        ));
    };
    if !subject
        .digest
        .get("sha512")
        .is_some_and(|d| d.eq_ignore_ascii_case(&want))
    {
        return Err((
            Code::ProvenanceNotBound,
            format!(
                "the provenance's subject `{}` has another sha512 than the tarball fetched",
                purls[0]
            ),
        ));
    }
    let p = crate::provenance::parse(&st.predicate_type, &st.predicate).map_err(|e| {
        let code = match e {
            crate::provenance::ProvenanceError::Invalid(_) => Code::IdentityValueInvalid,
            _ => Code::ProvenanceMalformed,
        };
        (code, e.to_string())
    })?;
    let signer = crate::evidence::IdentitySigner {
        identity: v.identity.clone().unwrap_or_default(),
        issuer: v.issuer.clone().unwrap_or_default(),
        trust_names: Vec::new(),
        by_flags: false,
        claims: v.claims.clone(),
    };
    crate::identity::builder_matches_certificate(&p, &signer)?;
    Ok(Proven::Valid(p.source_repo.unwrap_or(signer.identity)))
}

/// The PEP 740 provenance of the distribution `filename` with `sha256`, as
/// the index serves it at `url` (`doc`): each attestation is converted to
/// a sigstore bundle and verified offline against `roots`; its in-toto
/// subject must be `filename` with that sha256. Returns the publisher
/// (the signing certificate's repository, else its identity). Anything
/// offered that does not check out is an error.
pub fn check_pep740(
    roots: &[Root],
    (filename, sha256): (&str, &crate::digest::Digest),
    (url, doc): (&str, &[u8]),
) -> Result<Proven, ProvenanceError> {
    let invalid = |m: String| (Code::ProvenanceInvalid, m);
    if sha256.algorithm != crate::digest::Algorithm::Sha256 {
        return Err(invalid("the file's digest is not a sha256".into()));
    }
    let bundles = crate::source::pypi::provenance_to_bundles(url, doc)
        .map_err(|e| invalid(format!("the provenance object: {e}")))?;
    let want = sha256.hex();
    let mut publisher = None;
    for c in &bundles {
        let at = format!(
            "bundle {}, attestation {}",
            c.bundle_index + 1,
            c.attestation_index + 1
        );
        let (_, items) =
            sigstore::parse_file(&c.bundle).map_err(|e| invalid(format!("{at}: {e}")))?;
        let [item] = items.as_slice() else {
            return Err(invalid(format!("{at}: not one bundle")));
        };
        let sigstore_verify::types::SignatureContent::DsseEnvelope(env) = &item.bundle.content
        else {
            return Err(invalid(format!("{at}: not an in-toto statement")));
        };
        let v = sigstore::verify(
            &item.bundle,
            &sigstore::Input::Digest(sha256),
            roots,
            &sigstore::Rule::Keyless,
        )
        .map_err(|e| match e {
            crate::signature::SigError::Check {
                code: Code::DigestMismatch,
                message,
            } => (
                Code::ProvenanceNotBound,
                format!("{at} is about another file: {message}"),
            ),
            e => invalid(format!("{at} does not verify: {e}")),
        })?;
        let st = crate::signature::dsse::Statement::parse(env.payload.as_bytes())
            .map_err(|e| invalid(format!("{at}: {e}")))?;
        let bound = st.subject.iter().any(|s| {
            s.name == filename
                && s.digest
                    .get("sha256")
                    .is_some_and(|d| d.eq_ignore_ascii_case(&want))
        });
        if !bound {
            return Err((
                Code::ProvenanceNotBound,
                format!(
                    "{at} names no subject `{}` with the sha256 of the file fetched",
                    crate::text::printable(filename, 200)
                ),
            ));
        }
        publisher.get_or_insert_with(|| {
            v.claims
                .get("repository")
                .cloned()
                .or(v.identity.clone())
                .unwrap_or_default()
        });
    }
    Ok(publisher.map_or(Proven::NoneOffered, Proven::Valid))
}

/// One wheel of a PyPI tree to check: its project, file name and sha256.
pub struct Wheel<'a> {
    pub name: &'a str,
    pub filename: &'a str,
    pub sha256: &'a crate::digest::Digest,
}

/// Reads, for the wheel itself (`top`, found on its project page by its
/// sha256) and each wheel of its tree, the index's project page (PEP 691
/// JSON, or PEP 503 HTML with `data-provenance`), and where it names a
/// PEP 740 provenance URL for the file, fetches and verifies it (four
/// wheels at a time). Adds the summary to `notes`, refuses what
/// `[sources] provenance` requires and is missing, and returns per
/// dependency the evidence to record (`provenance:PUBLISHER`).
pub fn pypi_tree(
    req: &super::Request,
    top: (&str, &crate::digest::Digest),
    wheels: &[Wheel],
    notes: &mut Vec<String>,
) -> Result<Vec<Vec<String>>, Failure> {
    use crate::source::Fetch as _;
    use crate::source::pypi::{PROVENANCE_LIMIT, simple, simple_root};
    let set = &req.evidence;
    let Some(client) = req.client else {
        if set.provenance != Require::Off {
            return Err(provenance_missing(
                req,
                set,
                "--offline: no provenance could be checked".into(),
            ));
        }
        notes.push("note: --offline: PEP 740 provenance not checked".into());
        return Ok(vec![Vec::new(); wheels.len()]);
    };
    let roots = sigstore::embedded_roots().map_err(|e| {
        Failure::input(
            Code::TrustedRootInvalid,
            format!("the embedded sigstore roots: {e}"),
            None,
        )
    })?;
    let (root, _) = simple_root(req.registry).map_err(Failure::from)?;
    // The wheel itself is known by its sha256 only.
    let mut items = vec![(top.0, None, top.1)];
    items.extend(wheels.iter().map(|w| (w.name, Some(w.filename), w.sha256)));
    let one = |&(name, filename, sha256): &(&str, Option<&str>, &crate::digest::Digest)| -> Result<Proven, Failure> {
        let project = crate::source::spec::normalize_pypi_name(name);
        let about = filename.unwrap_or(name).to_string();
        let bad = |code: Code, detail: String| provenance_invalid(req.package, &about, code, detail);
        let url = format!("{root}/{project}/");
        let page = client
            .get_page(&url, simple::PAGE_LIMIT, simple::ACCEPT)
            .map_err(|e| bad(Code::FetchFailed, format!("the project page {url}: {}", e.message)))?;
        let links = simple::parse_page(&page).map_err(|e| bad(Code::ProvenanceInvalid, e.to_string()))?;
        let want = sha256.hex();
        let link = links.iter().find(|l| {
            filename.is_none_or(|f| l.filename == f)
                && l.sha256.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(&want))
        });
        let Some((link, prov)) = link.and_then(|l| Some((l, l.provenance.as_deref()?))) else {
            return Ok(Proven::NoneOffered);
        };
        let bytes = client
            .get_bytes(prov, PROVENANCE_LIMIT)
            .map_err(|e| Failure::from(e).about(&format!("provenance of {about}")))?;
        check_pep740(&roots, (&link.filename, sha256), (prov, &bytes))
            .map_err(|(code, detail)| bad(code, detail))
    };
    let mut out: Vec<Option<Result<Proven, Failure>>> = (0..items.len()).map(|_| None).collect();
    let per = items.len().div_ceil(AT_ONCE).max(1);
    std::thread::scope(|s| {
        for (chunk, slots) in items.chunks(per).zip(out.chunks_mut(per)) {
            let one = &one;
            s.spawn(move || {
                for (it, slot) in chunk.iter().zip(slots) {
                    *slot = Some(one(it));
                }
            });
        }
    });
    let proven = out
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(provenance_invalid(
                    req.package,
                    "?",
                    Code::ProvenanceInvalid,
                    "not checked".into(),
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let lacking: Vec<String> = items
        .iter()
        .zip(&proven)
        .enumerate()
        .filter(|(i, _)| match set.provenance {
            Require::Off => false,
            Require::Top => *i == 0,
            Require::Tree => true,
        })
        .filter(|(_, (_, p))| !matches!(p, Proven::Valid(_)))
        .map(|(_, ((name, filename, _), _))| format!("{} (none offered)", filename.unwrap_or(name)))
        .collect();
    if !lacking.is_empty() {
        let count = lacking.len();
        let mut listed = lacking
            .into_iter()
            .take(SHOWN)
            .collect::<Vec<_>>()
            .join(", ");
        if count > SHOWN {
            listed.push_str(&format!(" and {} more", count - SHOWN));
        }
        return Err(provenance_missing(
            req,
            set,
            format!("{count} wheel(s) without verified PEP 740 provenance: {listed}"),
        ));
    }
    let n = proven.len();
    let with = proven
        .iter()
        .filter(|p| matches!(p, Proven::Valid(_)))
        .count();
    notes.push(if with == 0 {
        format!("note: the index offered no PEP 740 provenance for {n} wheels")
    } else {
        format!("note: {n} wheels: {with} with PEP 740 provenance")
    });
    Ok(proven
        .into_iter()
        .skip(1)
        .map(|p| match p {
            Proven::Valid(who) => vec![format!("provenance:{who}")],
            Proven::NoneOffered => Vec::new(),
        })
        .collect())
}

/// The URL of a version document (`REGISTRY/NAME/VERSION`, the scope's
/// slash encoded as the registry serves it) and of the packument.
fn doc_urls(registry: &str, name: &str, version: &str) -> (String, String) {
    let base = registry.trim_end_matches('/');
    let encoded = crate::source::npm::encode_name(name);
    (
        format!("{base}/{encoded}/{version}"),
        format!("{base}/{encoded}"),
    )
}

fn json(bytes: &[u8], what: &str) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(format!("{what} is not a JSON object")),
        Err(e) => Err(format!("{what} is not JSON: {e}")),
    }
}

/// One package to check: name, version, the integrity it was checked
/// against (the registry's `dist.integrity`).
pub struct Item<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub integrity: &'a str,
}

/// Fetches each package's version document from `registry` and checks
/// its signatures against `keys`; the full packument is read only to
/// learn the publish time when the signing key has an `expires`. Where
/// the document lists `dist.attestations`, that document is fetched and
/// its provenance checked against `roots`. Up to four packages are
/// checked at a time.
pub fn check_all(
    client: &net::Client,
    registry: &str,
    (keys, roots): (&[RegistryKey], &[Root]),
    items: &[Item],
    package: &str,
) -> Result<Vec<(Signed, Proven)>, Failure> {
    let one = |it: &Item| -> Result<(Signed, Proven), Failure> {
        let about = format!("{}@{}", it.name, it.version);
        let (doc_url, pack_url) = doc_urls(registry, it.name, it.version);
        let bytes = client
            .get_bytes(&doc_url, MAX_VERSION_DOC)
            .map_err(|e| Failure::from(e).about(&about))?;
        let invalid = |detail: String| invalid(package, &about, detail);
        let doc = json(&bytes, "the version document").map_err(invalid)?;
        let dist = doc.get("dist");
        let same = dist
            .and_then(|d| d.get("integrity"))
            .and_then(Value::as_str)
            .is_some_and(|i| i == it.integrity);
        let sigs = dist.and_then(|d| d.get("signatures"));
        let first = check(keys, (it.name, it.version, it.integrity), sigs, None);
        let signed = match first {
            Ok(Signed::ExpiryUnknown(_)) => {
                let published = client
                    .get_bytes(&pack_url, MAX_PACKUMENT)
                    .ok()
                    .and_then(|b| json(&b, "the packument").ok())
                    .and_then(|p| {
                        p.get("time")?
                            .get(it.version)?
                            .as_str()?
                            .parse::<jiff::Timestamp>()
                            .ok()
                    });
                check(keys, (it.name, it.version, it.integrity), sigs, published)
            }
            other => other,
        }
        .map_err(invalid)?;
        // A signature over another integrity than the file checked says
        // nothing about the file.
        if matches!(signed, Signed::Valid(_)) && !same {
            return Err(invalid(
                "the version document's `dist.integrity` is not the one the file was checked against"
                    .into(),
            ));
        }
        let proven = match dist.and_then(|d| d.get("attestations")) {
            None | Some(Value::Null) => Proven::NoneOffered,
            Some(a) => {
                let bad =
                    |code: Code, detail: String| provenance_invalid(package, &about, code, detail);
                let url = a.get("url").and_then(Value::as_str).ok_or_else(|| {
                    bad(
                        Code::ProvenanceInvalid,
                        "`dist.attestations` has no `url` string".into(),
                    )
                })?;
                if url.len() > 2048 || crate::source::spec::validate_https(url).is_err() {
                    return Err(bad(
                        Code::ProvenanceInvalid,
                        format!(
                            "`dist.attestations.url` is not an https URL: {}",
                            crate::text::printable(url, 200)
                        ),
                    ));
                }
                let bytes = client
                    .get_bytes(url, MAX_ATTESTATIONS)
                    .map_err(|e| Failure::from(e).about(&format!("attestations of {about}")))?;
                check_provenance(roots, (it.name, it.version, it.integrity), &bytes)
                    .map_err(|(code, detail)| bad(code, detail))?
            }
        };
        Ok((signed, proven))
    };
    let mut out: Vec<Option<Result<(Signed, Proven), Failure>>> =
        (0..items.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        for (chunk, slots) in items
            .chunks(items.len().div_ceil(AT_ONCE).max(1))
            .zip(out.chunks_mut(items.len().div_ceil(AT_ONCE).max(1)))
        {
            let one = &one;
            s.spawn(move || {
                for (it, slot) in chunk.iter().zip(slots) {
                    *slot = Some(one(it));
                }
            });
        }
    });
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(invalid(package, "?", "not checked".into()))))
        .collect()
}

fn provenance_invalid(package: &str, about: &str, code: Code, detail: String) -> Failure {
    Failure::input(
        code,
        format!(
            "{package}: npm provenance of {}: {}; nothing was pinned",
            crate::text::printable(about, 300),
            crate::text::printable(&detail, 2000)
        ),
        Some("the registry offers provenance for this package that does not check out: the metadata, the attestations or the tarball were changed; do not use this tree".into()),
    )
}

fn invalid(package: &str, about: &str, detail: String) -> Failure {
    Failure::input(
        Code::RegistrySignatureInvalid,
        format!(
            "{package}: registry signature of {}: {detail}; nothing was pinned",
            crate::text::printable(about, 300)
        ),
        Some("the registry's metadata or the file was changed (or the registry is not the one whose keys are pinned): do not use this tree; `mcp-warden trust list` shows the registry keys".into()),
    )
}

/// What `add` checks of an npm tree: the keys of its registry, and what
/// the policy requires (with where it said so).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub keys: Vec<RegistryKey>,
    pub require: Require,
    pub said_at: Option<String>,
    /// `[sources] provenance`, with where it was said.
    pub provenance: Require,
    pub provenance_at: Option<String>,
}

impl Settings {
    pub fn npm(trust: &crate::trust::TrustStore, policies: &PolicySet, registry: &str) -> Self {
        let (require, loc) = policies.registry_signatures();
        let (provenance, ploc) = policies.provenance();
        Settings {
            keys: trust.registry_keys(registry),
            require,
            said_at: loc.map(|l| l.to_string()),
            provenance,
            provenance_at: ploc.map(|l| l.to_string()),
        }
    }

    /// A PyPI tree: no registry signatures, `[sources] provenance` for
    /// its PEP 740 provenance.
    pub fn pypi(policies: &PolicySet) -> Self {
        let (provenance, ploc) = policies.provenance();
        Settings {
            provenance,
            provenance_at: ploc.map(|l| l.to_string()),
            ..Settings::default()
        }
    }
}

/// How many packages are shown by name in a message.
const SHOWN: usize = 10;

/// Checks the registry signatures and npm provenance of the npm package
/// itself (its `package.json` and tarball `top`) and of every package of
/// its tree (`packages`), adds the summary to `notes`, and refuses what
/// `[sources] registry-signatures` and `[sources] provenance` require and
/// is missing. Returns, per package, the evidence to record
/// (`registry-signature:KEYID`, `provenance:SOURCE`).
pub fn npm_tree(
    req: &super::Request,
    (pj, top): (&Value, &crate::cache::Blob),
    packages: &[Item],
    notes: &mut Vec<String>,
) -> Result<Vec<Vec<String>>, Failure> {
    let set = &req.evidence;
    let name = pj.get("name").and_then(Value::as_str).unwrap_or_default();
    let version = pj
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(client) = req.client else {
        if set.require != Require::Off {
            return Err(missing(
                req,
                set,
                "--offline: no registry signature could be checked".into(),
            ));
        }
        if set.provenance != Require::Off {
            return Err(provenance_missing(
                req,
                set,
                "--offline: no provenance could be checked".into(),
            ));
        }
        notes.push("note: --offline: registry signatures and provenance not checked".into());
        return Ok(vec![Vec::new(); packages.len()]);
    };
    let top_integrity = {
        let f = std::fs::File::open(&top.path).map_err(|e| {
            Failure::input(
                Code::CacheError,
                format!("cannot read {}: {e}", top.path.display()),
                None,
            )
        })?;
        let (_, d) =
            crate::digest::digest_reader(f, &[crate::digest::Algorithm::Sha512]).map_err(|e| {
                Failure::input(
                    Code::CacheError,
                    format!("cannot read {}: {e}", top.path.display()),
                    None,
                )
            })?;
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(&d[0].bytes)
        )
    };
    let mut items = vec![Item {
        name,
        version,
        integrity: &top_integrity,
    }];
    items.extend(packages.iter().map(|p| Item {
        name: p.name,
        version: p.version,
        integrity: p.integrity,
    }));
    let roots = sigstore::embedded_roots().map_err(|e| {
        Failure::input(
            Code::TrustedRootInvalid,
            format!("the embedded sigstore roots: {e}"),
            None,
        )
    })?;
    let checked = check_all(
        client,
        req.registry,
        (&set.keys, &roots),
        &items,
        req.package,
    )?;
    let (signed, proven): (Vec<Signed>, Vec<Proven>) = checked.into_iter().unzip();
    let all =
        || std::iter::once((name, version)).chain(packages.iter().map(|p| (p.name, p.version)));
    let lacking = |require: Require, ok: &dyn Fn(usize) -> bool, why: &dyn Fn(usize) -> String| {
        let lacking: Vec<String> = all()
            .enumerate()
            .filter(|(i, _)| match require {
                Require::Off => false,
                Require::Top => *i == 0,
                Require::Tree => true,
            })
            .filter(|(i, _)| !ok(*i))
            .map(|(i, (n, v))| format!("{n}@{v} ({})", why(i)))
            .collect();
        let count = lacking.len();
        let mut listed = lacking
            .into_iter()
            .take(SHOWN)
            .collect::<Vec<_>>()
            .join(", ");
        if count > SHOWN {
            listed.push_str(&format!(" and {} more", count - SHOWN));
        }
        (count, listed)
    };
    let (count, listed) = lacking(
        set.require,
        &|i| matches!(signed[i], Signed::Valid(_)),
        &|i| why(&signed[i]),
    );
    if count > 0 {
        return Err(missing(
            req,
            set,
            format!("{count} package(s) without a valid registry signature: {listed}"),
        ));
    }
    let (count, listed) = lacking(
        set.provenance,
        &|i| matches!(proven[i], Proven::Valid(_)),
        &|_| "none offered".into(),
    );
    if count > 0 {
        return Err(provenance_missing(
            req,
            set,
            format!("{count} package(s) without verified provenance: {listed}"),
        ));
    }
    notes.push(summary(&signed, &proven));
    Ok(signed
        .iter()
        .zip(&proven)
        .skip(1)
        .map(|(s, p)| {
            let mut ev = Vec::new();
            if let Signed::Valid(k) = s {
                ev.push(format!("registry-signature:{k}"));
            }
            if let Proven::Valid(src) = p {
                ev.push(format!("provenance:{src}"));
            }
            ev
        })
        .collect())
}

fn why(s: &Signed) -> String {
    match s {
        Signed::Valid(_) => "valid".into(),
        Signed::NoneOffered => "none offered".into(),
        Signed::UnknownKey(k) => format!("key {k} not pinned"),
        Signed::ExpiryUnknown(k) => format!("key {k} expired, publish time unknown"),
    }
}

/// `note: 111 packages: 111 with a valid registry signature, 20 with
/// provenance`, or that the registry offered none.
fn summary(signed: &[Signed], proven: &[Proven]) -> String {
    let n = proven.len();
    let with = proven
        .iter()
        .filter(|p| matches!(p, Proven::Valid(_)))
        .count();
    let prov = if with == 0 {
        format!("the registry offered no provenance for {n} packages")
    } else {
        format!("{with} with provenance")
    };
    format!("{}; {prov}", signatures_summary(signed))
}

fn signatures_summary(signed: &[Signed]) -> String {
    let n = signed.len();
    let count = |f: fn(&Signed) -> bool| signed.iter().filter(|s| f(s)).count();
    let valid = count(|s| matches!(s, Signed::Valid(_)));
    let none = count(|s| *s == Signed::NoneOffered);
    let unknown = count(|s| matches!(s, Signed::UnknownKey(_)));
    let expiry = count(|s| matches!(s, Signed::ExpiryUnknown(_)));
    if none == n {
        return format!("note: the registry offered no signatures for {n} packages");
    }
    let mut parts = vec![format!("{valid} with a valid registry signature")];
    if none > 0 {
        parts.push(format!("{none} with none offered"));
    }
    if unknown > 0 {
        parts.push(format!("{unknown} signed by a key not pinned"));
    }
    if expiry > 0 {
        parts.push(format!(
            "{expiry} signed by an expired key, publish time unknown"
        ));
    }
    format!("note: {n} packages: {}", parts.join(", "))
}

fn provenance_missing(req: &super::Request, set: &Settings, detail: String) -> Failure {
    evidence_missing(
        req,
        (set.provenance, &set.provenance_at),
        (Code::EvidenceMissing, "provenance", "requires it"),
        detail,
        "use the registry the packages were published to (some mirrors strip attestations), choose packages published with provenance, or ask whoever owns that policy",
    )
}

fn missing(req: &super::Request, set: &Settings, detail: String) -> Failure {
    evidence_missing(
        req,
        (set.require, &set.said_at),
        (
            Code::RegistrySignatureMissing,
            "registry-signatures",
            "requires them",
        ),
        detail,
        "use the registry the packages were published to (some mirrors strip signatures), pin the registry's keys (`[[registry-key]]` in the trust store), or ask whoever owns that policy",
    )
}

/// The refusal of a `[sources] KEY = "top"|"tree"` rule (said at `at`)
/// that the evidence did not meet: nothing was pinned.
fn evidence_missing(
    req: &super::Request,
    (level, at): (Require, &Option<String>),
    (code, key, verb): (Code, &str, &str),
    detail: String,
    hint: &str,
) -> Failure {
    let at = at.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
    let what = match level {
        Require::Tree => "\"tree\"",
        _ => "\"top\"",
    };
    Failure::denied(vec![
        crate::diag::Diagnostic::error(
            code,
            format!(
                "{}: {}; `[sources] {key} = {what}`{at} {verb}; nothing was pinned",
                req.package,
                crate::text::printable(&detail, 4000)
            ),
        )
        .hint(hint),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Real signatures served by registry.npmjs.org with its current key.
    const CLAUDE: (&str, &str, &str, &str) = (
        "@anthropic-ai/claude-code",
        "2.1.98",
        "sha512-qecREauMWXHplkpjqsuDuUv4ww+NprMl71k9sMuLkZU7qwjLMkTPxRBjuKvZWWMrAPvZWdGZE9LljUTfCQ1lWQ==",
        "MEQCIGvolW/eLJuocfuN94cinl0Vz9arMrshmIhulXk/9JEBAiAW18CskQ+uEkWf90x4Dc0TqDoRBQ7lmCAXhpXpqbEJDA==",
    );
    const LINUX: (&str, &str, &str, &str) = (
        "@anthropic-ai/claude-code-linux-x64",
        "2.1.117",
        "sha512-bhN6qnc9xchKQqKWdwuZazEeSO+9NIhOPcoD/WgqTK5QRPSAwnvo5SZWIQUbkNbTKLaMwuxAu3u+Fj/jYbiidg==",
        "MEUCIQDUymbxQflsibDfoYq28KKCAIPKbssiUho979lCvEJezQIgHBj/rmNW7BgE8R6GHIAnv92KP0had6nmBupG7SgB7zA=",
    );
    const NEW: &str = "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U";
    const OLD: &str = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA";

    fn sigs(keyid: &str, sig: &str) -> Value {
        json!([{ "keyid": keyid, "sig": sig }])
    }

    #[test]
    fn real_npm_signatures_verify_with_the_built_in_key() {
        let keys = npmjs_keys();
        for (n, v, i, s) in [CLAUDE, LINUX] {
            assert_eq!(
                check(&keys, (n, v, i), Some(&sigs(NEW, s)), None),
                Ok(Signed::Valid(NEW.into())),
                "{n}"
            );
        }
    }

    #[test]
    fn a_changed_name_version_integrity_or_signature_does_not_verify() {
        let keys = npmjs_keys();
        let (n, v, i, s) = CLAUDE;
        let s_of_other = LINUX.3;
        for (n, v, i, s) in [
            ("@anthropic-ai/claude-codf", v, i, s),
            (n, "2.1.97", i, s),
            (n, v, LINUX.2, s),
            (n, v, i, s_of_other),
        ] {
            let r = check(&keys, (n, v, i), Some(&sigs(NEW, s)), None);
            assert!(r.unwrap_err().contains("does not verify"), "{n}@{v}");
        }
    }

    #[test]
    fn missing_unknown_and_malformed_signatures() {
        let keys = npmjs_keys();
        let (n, v, i, s) = CLAUDE;
        assert_eq!(check(&keys, (n, v, i), None, None), Ok(Signed::NoneOffered));
        assert_eq!(
            check(&keys, (n, v, i), Some(&json!([])), None),
            Ok(Signed::NoneOffered)
        );
        assert_eq!(
            check(&keys, (n, v, i), Some(&sigs("SHA256:other", s)), None),
            Ok(Signed::UnknownKey("SHA256:other".into()))
        );
        // Pinned for another registry: not a key of this one.
        let elsewhere: Vec<RegistryKey> = npmjs_keys()
            .into_iter()
            .filter(|k| k.keyid != NEW)
            .collect();
        assert_eq!(
            check(&elsewhere, (n, v, i), Some(&sigs(NEW, s)), None),
            Ok(Signed::UnknownKey(NEW.into()))
        );
        let truncated = &s[..s.len() - 8];
        for bad in [
            json!({"keyid": NEW, "sig": s}),
            json!([{"keyid": NEW}]),
            json!([{"sig": s}]),
            json!([{"keyid": NEW, "sig": 5}]),
            json!([{"keyid": NEW, "sig": "not base64!"}]),
            json!([{"keyid": NEW, "sig": truncated}]),
            json!([{"keyid": NEW, "sig": "A".repeat(4000)}]),
            json!([{"keyid": "k".repeat(4000), "sig": s}]),
            Value::Array(vec![json!({"keyid": NEW, "sig": s}); 17]),
        ] {
            assert!(check(&keys, (n, v, i), Some(&bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_expired_key_verifies_only_what_was_published_before() {
        // A key of ours that expires, standing for npm's first key.
        use p256::ecdsa::signature::Signer as _;
        use p256::pkcs8::EncodePublicKey as _;
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let der = sk.verifying_key().to_public_key_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        let key = RegistryKey::parse(
            "https://r.example/",
            OLD,
            &b64,
            Some("2025-01-29T00:00:00.000Z"),
        )
        .unwrap();
        assert_eq!(key.registry, "https://r.example");
        let msg = "a@1.0.0:sha512-AAAA";
        let sig: p256::ecdsa::Signature = sk.sign(msg.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes());
        let keys = [key];
        let item = ("a", "1.0.0", "sha512-AAAA");
        let before: jiff::Timestamp = "2024-06-01T00:00:00Z".parse().unwrap();
        let after: jiff::Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            check(&keys, item, Some(&sigs(OLD, &sig)), Some(before)),
            Ok(Signed::Valid(OLD.into()))
        );
        assert!(
            check(&keys, item, Some(&sigs(OLD, &sig)), Some(after))
                .unwrap_err()
                .contains("expired")
        );
        assert_eq!(
            check(&keys, item, Some(&sigs(OLD, &sig)), None),
            Ok(Signed::ExpiryUnknown(OLD.into()))
        );
    }

    #[test]
    fn keys_parse_and_registries_compare() {
        assert_eq!(npmjs_keys().len(), 2);
        assert_eq!(
            registry_id("https://Registry.NPMJS.org/"),
            "https://registry.npmjs.org"
        );
        assert_eq!(
            registry_id("https://127.0.0.1:8443/npm/"),
            "https://127.0.0.1:8443/npm"
        );
        let (_, k, _) = NPMJS_KEYS[1];
        assert!(RegistryKey::parse("https://r", "", k, None).is_err());
        assert!(RegistryKey::parse("https://r", "id", "AAAA", None).is_err());
        assert!(RegistryKey::parse("https://r", "id", &k[..40], None).is_err());
        assert!(RegistryKey::parse("https://r", "id", k, Some("tomorrow")).is_err());
    }

    // The real attestations document npm serves for sigstore@2.3.1 and
    // the real tarball (`npm pack sigstore@2.3.1`).
    const SIGSTORE_ATT: &[u8] =
        include_bytes!("../../fixtures/sources/npm/sigstore-2.3.1.attestations.json");
    const SIGSTORE_TGZ: &[u8] =
        include_bytes!("../../fixtures/slsa/npm/gha/provenance-npm-test-cli-v1-prega.tgz");
    const SIGSTORE: (&str, &str, &str) = (
        "sigstore",
        "2.3.1",
        "sha512-8G+/XDU8wNsJOQS5ysDVO0Etg9/2uA5gR9l4ZwijjlwxBcrU6RPfwi2+jJmbP+Ap1Hlp/nVAaEO4Fj22/SL2gQ==",
    );

    fn roots() -> Vec<Root> {
        sigstore::embedded_roots().unwrap()
    }

    #[test]
    fn real_npm_provenance_verifies_and_binds_to_the_real_tarball() {
        use sha2::Digest as _;
        let sum = sha2::Sha512::digest(SIGSTORE_TGZ);
        let sri = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sum)
        );
        assert_eq!(sri, SIGSTORE.2, "the fixture is the tarball npm serves");
        assert_eq!(
            check_provenance(&roots(), SIGSTORE, SIGSTORE_ATT),
            Ok(Proven::Valid(
                "https://github.com/sigstore/sigstore-js".into()
            ))
        );
    }

    #[test]
    fn provenance_of_another_tarball_or_package_is_not_bound() {
        let (n, v, _) = SIGSTORE;
        for item in [
            (n, v, CLAUDE.2),
            (n, "2.3.0", SIGSTORE.2),
            ("sigstorf", v, SIGSTORE.2),
        ] {
            let (code, msg) = check_provenance(&roots(), item, SIGSTORE_ATT).unwrap_err();
            assert_eq!(code, Code::ProvenanceNotBound, "{item:?}: {msg}");
        }
        // Without a sha512 there is nothing to bind to.
        let (code, _) = check_provenance(&roots(), (n, v, "sha1-AAAA"), SIGSTORE_ATT).unwrap_err();
        assert_eq!(code, Code::ProvenanceInvalid);
    }

    fn doc() -> Value {
        serde_json::from_slice(SIGSTORE_ATT).unwrap()
    }

    fn slsa_index(d: &Value) -> usize {
        d["attestations"]
            .as_array()
            .unwrap()
            .iter()
            .position(|a| a["predicateType"] == crate::provenance::SLSA_V1)
            .unwrap()
    }

    #[test]
    fn tampered_provenance_is_refused() {
        let b64 = &base64::engine::general_purpose::STANDARD;
        // A byte of the signature flipped.
        let mut d = doc();
        let i = slsa_index(&d);
        let sig = d["attestations"][i]["bundle"]["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap()
            .to_string();
        let mut bytes = b64.decode(&sig).unwrap();
        bytes[20] ^= 1;
        d["attestations"][i]["bundle"]["dsseEnvelope"]["signatures"][0]["sig"] =
            b64.encode(&bytes).into();
        let (code, msg) =
            check_provenance(&roots(), SIGSTORE, &serde_json::to_vec(&d).unwrap()).unwrap_err();
        assert_eq!(code, Code::ProvenanceInvalid, "{msg}");
        assert!(msg.contains("does not verify"), "{msg}");
        // The statement changed to name this package's other source.
        let mut d = doc();
        let payload = d["attestations"][i]["bundle"]["dsseEnvelope"]["payload"]
            .as_str()
            .unwrap()
            .to_string();
        let text = String::from_utf8(b64.decode(&payload).unwrap()).unwrap();
        let forged = text.replace("sigstore/sigstore-js", "evil/sigstore-js");
        assert_ne!(forged, text);
        d["attestations"][i]["bundle"]["dsseEnvelope"]["payload"] = b64.encode(forged).into();
        let (code, _) =
            check_provenance(&roots(), SIGSTORE, &serde_json::to_vec(&d).unwrap()).unwrap_err();
        assert_eq!(code, Code::ProvenanceInvalid);
    }

    #[test]
    fn malformed_truncated_or_doubled_documents_are_refused() {
        let truncated = &SIGSTORE_ATT[..SIGSTORE_ATT.len() / 2];
        let mut doubled = doc();
        let i = slsa_index(&doubled);
        let slsa = doubled["attestations"][i].clone();
        doubled["attestations"].as_array_mut().unwrap().push(slsa);
        let mut no_bundle = doc();
        no_bundle["attestations"][i]["bundle"] = json!({});
        for bad in [
            truncated.to_vec(),
            b"".to_vec(),
            b"not json".to_vec(),
            b"{}".to_vec(),
            b"{\"attestations\": []}".to_vec(),
            b"{\"attestations\": 5}".to_vec(),
            serde_json::to_vec(&doubled).unwrap(),
            serde_json::to_vec(&no_bundle).unwrap(),
            // A plain bundle is not an attestations document.
            serde_json::to_vec(&doc()["attestations"][i]["bundle"]).unwrap(),
        ] {
            let (code, msg) = check_provenance(&roots(), SIGSTORE, &bad).unwrap_err();
            assert_eq!(
                code,
                Code::ProvenanceInvalid,
                "{}: {msg}",
                String::from_utf8_lossy(&bad[..bad.len().min(40)])
            );
        }
    }

    #[test]
    fn a_document_without_slsa_provenance_offers_none() {
        // Only npm's publish attestation: not provenance.
        let mut d = doc();
        let i = slsa_index(&d);
        d["attestations"].as_array_mut().unwrap().remove(i);
        assert_eq!(
            check_provenance(&roots(), SIGSTORE, &serde_json::to_vec(&d).unwrap()),
            Ok(Proven::NoneOffered)
        );
    }

    #[test]
    fn the_summary_counts_provenance_or_says_none_was_offered() {
        let signed = vec![Signed::Valid(NEW.into()); 3];
        assert_eq!(
            summary(&signed, &vec![Proven::NoneOffered; 3]),
            "note: 3 packages: 3 with a valid registry signature; the registry offered no provenance for 3 packages"
        );
        assert_eq!(
            summary(
                &signed,
                &[
                    Proven::Valid("https://github.com/o/r".into()),
                    Proven::NoneOffered,
                    Proven::NoneOffered
                ]
            ),
            "note: 3 packages: 3 with a valid registry signature; 1 with provenance"
        );
    }

    // A real PEP 740 provenance object as PyPI's integrity API serves it,
    // and the real file it is about (an sdist: the binding is the same for
    // a wheel; this machine's index mirror strips provenance).
    const GCB: &str = "gcb_attestation_test-0.0.0.tar.gz";
    const GCB_FILE: &[u8] =
        include_bytes!("../../fixtures/sources/pypi/gcb_attestation_test-0.0.0.tar.gz");
    const GCB_PROV: &[u8] =
        include_bytes!("../../fixtures/sources/pypi/gcb_attestation_test-0.0.0.tar.gz.provenance");
    const GCB_URL: &str = "https://pypi.org/integrity/gcb-attestation-test/0.0.0/gcb_attestation_test-0.0.0.tar.gz/provenance";

    fn sha256_of(bytes: &[u8]) -> crate::digest::Digest {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
            .parse()
            .unwrap()
    }

    #[test]
    fn real_pep740_provenance_verifies_and_binds_to_the_real_file() {
        let d = sha256_of(GCB_FILE);
        assert_eq!(
            check_pep740(&roots(), (GCB, &d), (GCB_URL, GCB_PROV)),
            Ok(Proven::Valid(
                "919436158236-compute@developer.gserviceaccount.com".into()
            ))
        );
    }

    #[test]
    fn pep740_of_another_file_or_name_is_not_bound_and_tampering_refused() {
        let d = sha256_of(GCB_FILE);
        let other = sha256_of(b"another file");
        let (code, msg) = check_pep740(&roots(), (GCB, &other), (GCB_URL, GCB_PROV)).unwrap_err();
        assert_eq!(code, Code::ProvenanceNotBound, "{msg}");
        let (code, msg) = check_pep740(
            &roots(),
            ("gcb_attestation_test-0.0.1.tar.gz", &d),
            (GCB_URL, GCB_PROV),
        )
        .unwrap_err();
        assert_eq!(code, Code::ProvenanceNotBound, "{msg}");
        // A byte of the signature flipped.
        let b64 = &base64::engine::general_purpose::STANDARD;
        let mut p: Value = serde_json::from_slice(GCB_PROV).unwrap();
        let at = &mut p["attestation_bundles"][0]["attestations"][0]["envelope"]["signature"];
        let mut sig = b64.decode(at.as_str().unwrap()).unwrap();
        sig[10] ^= 1;
        *at = b64.encode(sig).into();
        let (code, msg) = check_pep740(
            &roots(),
            (GCB, &d),
            (GCB_URL, &serde_json::to_vec(&p).unwrap()),
        )
        .unwrap_err();
        assert_eq!(code, Code::ProvenanceInvalid, "{msg}");
        // Truncated, not JSON, empty.
        for bad in [
            &GCB_PROV[..GCB_PROV.len() / 2],
            b"not json",
            b"{}",
            b"{\"version\": 1, \"attestation_bundles\": []}",
        ] {
            let (code, _) = check_pep740(&roots(), (GCB, &d), (GCB_URL, bad)).unwrap_err();
            assert_eq!(code, Code::ProvenanceInvalid);
        }
    }
}
