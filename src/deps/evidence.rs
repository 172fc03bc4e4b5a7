//! Evidence per package of an npm tree: the registry's signatures.
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

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use serde_json::Value;

use crate::diag::{Code, Failure};
use crate::net;
use crate::policy::{PolicySet, Require};

/// A version document is a few KiB; a full packument of a long-lived
/// package a few MiB (read only when a key has an `expires`).
pub const MAX_VERSION_DOC: u64 = 4 << 20;
pub const MAX_PACKUMENT: u64 = 64 << 20;
/// Signatures one version may list, and the length of one (base64 of a
/// DER signature is under 100 characters; a key id under 100).
pub const MAX_SIGNATURES: usize = 16;
pub const MAX_FIELD: usize = 512;

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
/// learn the publish time when the signing key has an `expires`. Up to
/// four documents are fetched at a time.
pub fn check_all(
    client: &net::Client,
    registry: &str,
    keys: &[RegistryKey],
    items: &[Item],
    package: &str,
) -> Result<Vec<Signed>, Failure> {
    let one = |it: &Item| -> Result<Signed, Failure> {
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
        Ok(signed)
    };
    let mut out: Vec<Option<Result<Signed, Failure>>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        for (chunk, slots) in items
            .chunks(items.len().div_ceil(4).max(1))
            .zip(out.chunks_mut(items.len().div_ceil(4).max(1)))
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
}

impl Settings {
    pub fn npm(trust: &crate::trust::TrustStore, policies: &PolicySet, registry: &str) -> Self {
        let (require, loc) = policies.registry_signatures();
        Settings {
            keys: trust.registry_keys(registry),
            require,
            said_at: loc.map(|l| l.to_string()),
        }
    }
}

/// How many packages are shown by name in a message.
const SHOWN: usize = 10;

/// Checks the registry signatures of the npm package itself (its
/// `package.json` and tarball `top`) and of every package of its tree
/// (`packages`), adds the summary to `notes`, and refuses what
/// `[sources] registry-signatures` requires and is missing. Returns, per
/// package, the evidence to record (`registry-signature:KEYID`).
pub fn npm_tree(
    req: &super::Request,
    (pj, top): (&Value, &crate::cache::Blob),
    packages: &[Item],
    notes: &mut Vec<String>,
) -> Result<Vec<Option<String>>, Failure> {
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
        notes.push("note: --offline: registry signatures not checked".into());
        return Ok(vec![None; packages.len()]);
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
    let signed = check_all(client, req.registry, &set.keys, &items, req.package)?;
    let (own, deps) = signed.split_first().expect("the package itself");
    let lacking: Vec<String> = std::iter::once((name, version, own))
        .filter(|_| set.require != Require::Off)
        .chain(
            (packages.iter().zip(deps))
                .filter(|_| set.require == Require::Tree)
                .map(|(p, s)| (p.name, p.version, s)),
        )
        .filter(|(_, _, s)| !matches!(s, Signed::Valid(_)))
        .map(|(n, v, s)| format!("{n}@{v} ({})", why(s)))
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
        return Err(missing(
            req,
            set,
            format!("{count} package(s) without a valid registry signature: {listed}"),
        ));
    }
    notes.push(summary(&signed));
    Ok(deps
        .iter()
        .map(|s| match s {
            Signed::Valid(k) => Some(format!("registry-signature:{k}")),
            _ => None,
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

/// `note: 111 packages: 111 with a valid registry signature`, or that
/// the registry offered none.
fn summary(signed: &[Signed]) -> String {
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

fn missing(req: &super::Request, set: &Settings, detail: String) -> Failure {
    let at = set
        .said_at
        .as_ref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    let what = match set.require {
        Require::Tree => "\"tree\"",
        _ => "\"top\"",
    };
    Failure::denied(vec![
        crate::diag::Diagnostic::error(
            Code::RegistrySignatureMissing,
            format!(
                "{}: {}; `[sources] registry-signatures = {what}`{at} requires them; nothing was pinned",
                req.package,
                crate::text::printable(&detail, 4000)
            ),
        )
        .hint("use the registry the packages were published to (some mirrors strip signatures), pin the registry's keys (`[[registry-key]]` in the trust store), or ask whoever owns that policy"),
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
}
