//! npm: version documents, dist-tags, SRI integrity and attestations.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::{
    ArtifactKind, Attestation, BinEntry, Fetch, Location, Resolved, RunHints, Source, SourceError,
    base_url, fetch_doc, parse_json, spec,
};
use crate::digest::{Algorithm, Digest};

/// A full packument can be tens of MiB (every version's manifest).
pub const PACKUMENT_LIMIT: u64 = 64 << 20;
/// One version's manifest.
pub const VERSION_LIMIT: u64 = 16 << 20;
/// An attestations document (two sigstore bundles, a few KiB).
pub const ATTESTATIONS_LIMIT: u64 = 16 << 20;

#[derive(Deserialize)]
struct Packument {
    #[serde(rename = "dist-tags", default)]
    dist_tags: BTreeMap<String, Value>,
    #[serde(default)]
    versions: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct VersionDoc {
    name: String,
    version: String,
    dist: Dist,
    #[serde(default)]
    bin: Option<Value>,
    #[serde(default)]
    main: Option<Value>,
    #[serde(default)]
    engines: Option<Value>,
    #[serde(default)]
    deprecated: Option<Value>,
}

#[derive(Deserialize)]
struct Dist {
    tarball: Option<String>,
    integrity: Option<String>,
    #[serde(default)]
    attestations: Option<DistAttestations>,
}

#[derive(Deserialize)]
struct DistAttestations {
    url: String,
    #[serde(default)]
    provenance: Option<ProvenanceRef>,
}

#[derive(Deserialize)]
struct ProvenanceRef {
    #[serde(rename = "predicateType")]
    predicate_type: Option<String>,
}

/// `@scope/name` → `@scope%2fname`, as npm registries expect.
pub fn encode_name(name: &str) -> String {
    name.replacen('/', "%2f", 1)
}

/// The conventional attestations URL for `name@version`.
pub fn attestations_url(registry: &str, name: &str, version: &str) -> String {
    format!(
        "{}/-/npm/v1/attestations/{}@{}",
        registry.trim_end_matches('/'),
        encode_name(name),
        version
    )
}

pub fn resolve(
    name: &str,
    version: Option<&str>,
    fetch: &dyn Fetch,
    registry: &str,
) -> Result<Resolved, SourceError> {
    spec::validate_npm_name(name).map_err(|reason| SourceError::InvalidSpec {
        spec: format!("npm:{name}"),
        reason,
    })?;
    let base = base_url(registry)?;
    let mut notes = Vec::new();
    let (doc_url, doc): (String, Value) = match version {
        Some(v) => {
            let url = format!("{base}/{}/{}", encode_name(name), v);
            let bytes = fetch_doc(fetch, &url, VERSION_LIMIT, || {
                format!("npm package {name} version {v}")
            })?;
            let doc = parse_json(&url, &bytes)?;
            (url, doc)
        }
        None => {
            let url = format!("{base}/{}", encode_name(name));
            let bytes = fetch_doc(fetch, &url, PACKUMENT_LIMIT, || {
                format!("npm package {name}")
            })?;
            let mut pack: Packument = parse_json(&url, &bytes)?;
            let latest = match pack.dist_tags.get("latest") {
                Some(Value::String(v)) => v.clone(),
                Some(_) => {
                    return Err(SourceError::Field {
                        url,
                        field: "dist-tags.latest".into(),
                        reason: "not a string".into(),
                    });
                }
                None => {
                    return Err(SourceError::Field {
                        url,
                        field: "dist-tags.latest".into(),
                        reason: "the package has no `latest` dist-tag; pin a version".into(),
                    });
                }
            };
            let Some(doc) = pack.versions.remove(&latest) else {
                return Err(SourceError::Field {
                    url,
                    field: format!("versions.{latest}"),
                    reason: "the `latest` dist-tag names a version the document does not list"
                        .into(),
                });
            };
            notes.push(format!("`latest` dist-tag is {latest}"));
            (url, doc)
        }
    };
    let doc: VersionDoc = serde_json::from_value(doc).map_err(|e| SourceError::Json {
        url: doc_url.clone(),
        message: e.to_string(),
    })?;
    let field = |f: &str, reason: String| SourceError::Field {
        url: doc_url.clone(),
        field: f.into(),
        reason,
    };
    if doc.name != name {
        return Err(field(
            "name",
            format!("the document is for `{}`, `{name}` was asked for", doc.name),
        ));
    }
    // The resolved version must be an exact semver version, like a pin.
    let resolved_version = semver::Version::parse(&doc.version)
        .map_err(|e| field("version", format!("`{}` is not semver: {e}", doc.version)))?
        .to_string();
    if let Some(v) = version
        && v != resolved_version
    {
        return Err(field(
            "version",
            format!("the document is for {resolved_version}, {v} was asked for"),
        ));
    }
    let tarball = doc
        .dist
        .tarball
        .ok_or_else(|| field("dist.tarball", "missing".into()))?;
    if spec::validate_https(&tarball).is_err() {
        return Err(SourceError::NotHttps {
            url: doc_url.clone(),
            field: "dist.tarball".into(),
            value: tarball.chars().take(200).collect(),
        });
    }
    let integrity = doc.dist.integrity.ok_or_else(|| SourceError::NoIntegrity {
        url: doc_url.clone(),
        name: name.into(),
        version: resolved_version.clone(),
    })?;
    let digest = strongest_integrity(&integrity).map_err(|reason| {
        if reason.is_empty() {
            SourceError::NoIntegrity {
                url: doc_url.clone(),
                name: name.into(),
                version: resolved_version.clone(),
            }
        } else {
            field("dist.integrity", reason)
        }
    })?;

    if let Some(Value::String(why)) = &doc.deprecated {
        notes.push(format!(
            "warning: {name}@{resolved_version} is deprecated: {}",
            crate::text::printable(why, 200)
        ));
    }

    // Attestations: from `dist.attestations` when the registry lists them;
    // otherwise the conventional URL is tried, because mirrors drop the
    // field, and a 404 there means none were published.
    let mut attestations = Vec::new();
    let (att_url, listed) = match &doc.dist.attestations {
        Some(a) => {
            if spec::validate_https(&a.url).is_err() {
                return Err(SourceError::NotHttps {
                    url: doc_url.clone(),
                    field: "dist.attestations.url".into(),
                    value: a.url.chars().take(200).collect(),
                });
            }
            if let Some(pt) = a
                .provenance
                .as_ref()
                .and_then(|p| p.predicate_type.as_deref())
            {
                notes.push(format!("registry lists provenance of type {pt}"));
            }
            (a.url.clone(), true)
        }
        None => (attestations_url(base, name, &resolved_version), false),
    };
    match fetch_doc(fetch, &att_url, ATTESTATIONS_LIMIT, || {
        format!("attestations of {name}@{resolved_version}")
    }) {
        Ok(bytes) => {
            check_attestations_doc(&att_url, &bytes)?;
            attestations.push(Attestation {
                name: format!("npm attestations {name}@{resolved_version}"),
                bytes,
            });
        }
        // Listed but missing: fail closed, the registry contradicts itself.
        Err(SourceError::NotFound { .. }) if !listed => {
            notes.push(format!(
                "no npm attestations published for {name}@{resolved_version}"
            ));
        }
        Err(e) => return Err(e),
    }

    let run = RunHints {
        bin: parse_bin(name, doc.bin.as_ref()).map_err(|r| field("bin", r))?,
        main: match doc.main {
            Some(Value::String(m)) => Some(safe_rel_path(&m).map_err(|r| field("main", r))?),
            _ => None,
        },
        node_engine: doc
            .engines
            .as_ref()
            .and_then(|e| e.get("node"))
            .and_then(Value::as_str)
            .map(str::to_string),
        ..RunHints::default()
    };

    Ok(Resolved {
        source: Source::Npm {
            name: name.into(),
            version: version.map(str::to_string),
        },
        nested: None,
        version: Some(resolved_version),
        artifact: Location::Url(tarball),
        expected: vec![digest],
        kind: ArtifactKind::NpmTarball,
        attestations,
        run,
        notes,
    })
}

/// The strongest digest in an SRI string. sha512 is required: an
/// integrity with only weaker hashes (or a sha1 `shasum`) is refused.
/// Returns `Err("")` when no sha512 entry is present.
pub fn strongest_integrity(sri: &str) -> Result<Digest, String> {
    let mut found: Option<Vec<u8>> = None;
    for entry in sri.split_ascii_whitespace() {
        let Some((alg, rest)) = entry.split_once('-') else {
            return Err(format!(
                "`{}` is not an SRI entry (ALG-BASE64)",
                short(entry)
            ));
        };
        if alg != "sha512" {
            continue;
        }
        // SRI options follow a `?`.
        let b64 = rest.split('?').next().unwrap_or(rest);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("sha512 value `{}` is not base64: {e}", short(b64)))?;
        if bytes.len() != 64 {
            return Err(format!(
                "sha512 value decodes to {} bytes, not 64",
                bytes.len()
            ));
        }
        match &found {
            Some(prev) if *prev != bytes => {
                return Err("two different sha512 values: the artifact cannot match both".into());
            }
            _ => found = Some(bytes),
        }
    }
    found
        .map(|bytes| Digest {
            algorithm: Algorithm::Sha512,
            bytes,
        })
        .ok_or_else(String::new)
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// An attestations document is `{"attestations": [{"predicateType",
/// "bundle"}, ...]}`; the verifier does the rest.
fn check_attestations_doc(url: &str, bytes: &[u8]) -> Result<(), SourceError> {
    #[derive(Deserialize)]
    struct Doc {
        attestations: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "predicateType")]
        _predicate_type: String,
        #[serde(rename = "bundle")]
        _bundle: serde::de::IgnoredAny,
    }
    let doc: Doc = parse_json(url, bytes)?;
    if doc.attestations.is_empty() {
        return Err(SourceError::Field {
            url: url.into(),
            field: "attestations".into(),
            reason: "empty".into(),
        });
    }
    Ok(())
}

/// `bin` is a string (one command named after the package) or a map.
fn parse_bin(name: &str, bin: Option<&Value>) -> Result<Vec<BinEntry>, String> {
    let default_name = name.rsplit('/').next().unwrap_or(name);
    let mut out = Vec::new();
    match bin {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) => out.push(BinEntry {
            name: default_name.to_string(),
            path: safe_rel_path(p)?,
        }),
        Some(Value::Object(map)) => {
            for (cmd, p) in map {
                let Some(p) = p.as_str() else {
                    return Err(format!("the path of `{cmd}` is not a string"));
                };
                if cmd.is_empty()
                    || cmd.contains(['/', '\\'])
                    || cmd.starts_with('.')
                    || cmd.chars().any(char::is_control)
                {
                    return Err(format!("`{}` is not a command name", short(cmd)));
                }
                out.push(BinEntry {
                    name: cmd.clone(),
                    path: safe_rel_path(p)?,
                });
            }
        }
        Some(_) => return Err("neither a string nor an object".into()),
    }
    Ok(out)
}

/// A path inside the package: relative, no `..`, no control characters.
fn safe_rel_path(p: &str) -> Result<String, String> {
    let clean = p.strip_prefix("./").unwrap_or(p);
    if clean.is_empty()
        || clean.starts_with('/')
        || clean.starts_with('\\')
        || clean.contains(':')
        || clean.split(['/', '\\']).any(|c| c == "..")
        || clean.chars().any(char::is_control)
    {
        return Err(format!("`{}` is not a path inside the package", short(p)));
    }
    Ok(clean.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{FetchError, ResolveOptions, resolve as resolve_source};
    use super::*;
    use crate::diag::Diagnose as _;
    use crate::digest::digest_reader;

    const REG: &str = "https://registry.npmjs.org";
    const SIGSTORE_DOC: &str = "https://registry.npmjs.org/sigstore/2.3.1";
    const SIGSTORE_ATT: &str = "https://registry.npmjs.org/-/npm/v1/attestations/sigstore@2.3.1";
    const EVERYTHING: &str = "https://registry.npmjs.org/@modelcontextprotocol%2fserver-everything";

    fn sigstore_fetch() -> MapFetch {
        MapFetch::new()
            .fixture(SIGSTORE_DOC, "npm/sigstore-2.3.1.json")
            .fixture(SIGSTORE_ATT, "npm/sigstore-2.3.1.attestations.json")
    }

    fn doc(rel: &str) -> Value {
        serde_json::from_slice(&fixture(rel)).unwrap()
    }

    #[test]
    fn pinned_version_uses_the_version_document_and_its_attestations() {
        let fetch = sigstore_fetch();
        let src: Source = "npm:sigstore@2.3.1".parse().unwrap();
        let r = resolve_source(&src, &fetch, &ResolveOptions::default()).unwrap();
        assert_eq!(r.version.as_deref(), Some("2.3.1"));
        assert_eq!(r.kind, ArtifactKind::NpmTarball);
        assert_eq!(
            r.artifact,
            Location::Url("https://registry.npmjs.org/sigstore/-/sigstore-2.3.1.tgz".into())
        );
        assert_eq!(fetch.urls(), vec![SIGSTORE_DOC, SIGSTORE_ATT]);
        assert_eq!(fetch.limit_for(SIGSTORE_DOC), Some(VERSION_LIMIT));
        assert_eq!(fetch.limit_for(SIGSTORE_ATT), Some(ATTESTATIONS_LIMIT));
        // The expected digest is the real tarball's: the slsa fixture is
        // sigstore-2.3.1.tgz as npm serves it.
        let tgz = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/slsa/npm/gha/provenance-npm-test-cli-v1-prega.tgz"),
        )
        .unwrap();
        let (_, real) = digest_reader(&tgz[..], &[Algorithm::Sha512]).unwrap();
        assert_eq!(r.expected, real);
        assert_eq!(r.attestations.len(), 1);
        assert_eq!(
            r.attestations[0].bytes,
            fixture("npm/sigstore-2.3.1.attestations.json")
        );
        assert_eq!(r.run.main.as_deref(), Some("dist/index.js"));
        assert_eq!(r.run.node_engine.as_deref(), Some("^16.14.0 || >=18.0.0"));
        assert!(r.run.bin.is_empty());
    }

    #[test]
    fn latest_comes_from_the_dist_tag_and_bin_is_returned() {
        let fetch = MapFetch::new().fixture(EVERYTHING, "npm/server-everything.packument.json");
        let r = resolve("@modelcontextprotocol/server-everything", None, &fetch, REG).unwrap();
        assert_eq!(r.version.as_deref(), Some("2026.8.31"));
        assert_eq!(fetch.limit_for(EVERYTHING), Some(PACKUMENT_LIMIT));
        assert_eq!(
            r.run.bin,
            vec![BinEntry {
                name: "mcp-server-everything".into(),
                path: "dist/index.js".into()
            }]
        );
        assert_eq!(r.expected[0].algorithm, Algorithm::Sha512);
        // No attestations published (404 at the conventional URL): noted.
        assert!(r.attestations.is_empty());
        assert!(
            fetch.urls().contains(
                &"https://registry.npmjs.org/-/npm/v1/attestations/@modelcontextprotocol%2fserver-everything@2026.8.31".to_string()
            ),
            "{:?}",
            fetch.urls()
        );
        assert!(
            r.notes.iter().any(|n| n.contains("no npm attestations")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn scoped_version_document_is_fetched_encoded() {
        let url = format!("{EVERYTHING}/2026.8.31");
        let fetch = MapFetch::new().fixture(&url, "npm/server-everything-2026.8.31.json");
        let r = resolve(
            "@modelcontextprotocol/server-everything",
            Some("2026.8.31"),
            &fetch,
            &format!("{REG}/"),
        )
        .unwrap();
        assert_eq!(fetch.urls()[0], url);
        assert_eq!(r.run.bin[0].name, "mcp-server-everything");
    }

    fn with_dist(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> MapFetch {
        let mut d = doc("npm/sigstore-2.3.1.json");
        f(d["dist"].as_object_mut().unwrap());
        MapFetch::new()
            .serve(SIGSTORE_DOC, serde_json::to_vec(&d).unwrap())
            .fixture(SIGSTORE_ATT, "npm/sigstore-2.3.1.attestations.json")
    }

    #[test]
    fn missing_or_weak_integrity_is_refused() {
        let fetch = with_dist(|d| {
            d.remove("integrity");
        });
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(matches!(e, SourceError::NoIntegrity { .. }), "{e:?}");
        assert!(e.hint().unwrap().contains("sha1"));
        // sha1 as the only SRI entry (and a shasum) is not enough.
        let fetch = with_dist(|d| {
            d.insert(
                "integrity".into(),
                "sha1-B1Xdwz3TLQ0h1gTeq5bSRy+5G7U=".into(),
            );
        });
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(matches!(e, SourceError::NoIntegrity { .. }), "{e:?}");
    }

    #[test]
    fn integrity_not_base64_is_refused() {
        let fetch = with_dist(|d| {
            d.insert("integrity".into(), "sha512-!!!notbase64!!!".into());
        });
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(
            matches!(&e, SourceError::Field { field, .. } if field == "dist.integrity"),
            "{e:?}"
        );
        assert!(e.to_string().contains("not base64"), "{e}");
    }

    #[test]
    fn strongest_of_several_sri_entries() {
        let real = doc("npm/sigstore-2.3.1.json")["dist"]["integrity"]
            .as_str()
            .unwrap()
            .to_string();
        let sri = format!(
            "sha1-B1Xdwz3TLQ0h1gTeq5bSRy+5G7U= {real}?opt sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let d = strongest_integrity(&sri).unwrap();
        assert_eq!(d.algorithm, Algorithm::Sha512);
        assert_eq!(d, strongest_integrity(&real).unwrap());
        let twice = format!("{real} {real}");
        assert!(strongest_integrity(&twice).is_ok());
        let other = "sha512-".to_string() + &"A".repeat(86) + "==";
        assert!(strongest_integrity(&format!("{real} {other}")).is_err());
        assert!(
            strongest_integrity("sha512-AAAA").is_err(),
            "3 bytes is not sha512"
        );
        assert!(strongest_integrity("garbage").is_err());
    }

    #[test]
    fn non_https_tarball_is_refused() {
        let fetch = with_dist(|d| {
            d.insert(
                "tarball".into(),
                "http://registry.npmjs.org/sigstore/-/sigstore-2.3.1.tgz".into(),
            );
        });
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(
            matches!(&e, SourceError::NotHttps { field, .. } if field == "dist.tarball"),
            "{e:?}"
        );
    }

    #[test]
    fn listed_attestations_must_exist_and_be_https() {
        let fetch = with_dist(|d| {
            d.insert(
                "attestations".into(),
                serde_json::json!({"url": "https://registry.npmjs.org/-/npm/v1/attestations/elsewhere@1.0.0",
                                   "provenance": {"predicateType": "https://slsa.dev/provenance/v1"}}),
            );
        });
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(matches!(e, SourceError::NotFound { .. }), "{e:?}");

        let fetch = with_dist(|d| {
            d.insert(
                "attestations".into(),
                serde_json::json!({"url": SIGSTORE_ATT,
                                   "provenance": {"predicateType": "https://slsa.dev/provenance/v1"}}),
            );
        });
        let r = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap();
        assert_eq!(r.attestations.len(), 1);
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("https://slsa.dev/provenance/v1"))
        );

        let fetch = with_dist(|d| {
            d.insert(
                "attestations".into(),
                serde_json::json!({"url": "http://registry.npmjs.org/-/npm/v1/attestations/sigstore@2.3.1"}),
            );
        });
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(matches!(e, SourceError::NotHttps { .. }), "{e:?}");
    }

    #[test]
    fn unknown_dist_tag_and_missing_version() {
        let mut p = doc("npm/server-everything.packument.json");
        p["dist-tags"].as_object_mut().unwrap().remove("latest");
        let fetch = MapFetch::new().serve(EVERYTHING, serde_json::to_vec(&p).unwrap());
        let e = resolve("@modelcontextprotocol/server-everything", None, &fetch, REG).unwrap_err();
        assert!(
            matches!(&e, SourceError::Field { field, .. } if field == "dist-tags.latest"),
            "{e:?}"
        );

        let mut p = doc("npm/server-everything.packument.json");
        p["dist-tags"]["latest"] = "9.9.9".into();
        let fetch = MapFetch::new().serve(EVERYTHING, serde_json::to_vec(&p).unwrap());
        let e = resolve("@modelcontextprotocol/server-everything", None, &fetch, REG).unwrap_err();
        assert!(
            matches!(&e, SourceError::Field { field, .. } if field == "versions.9.9.9"),
            "{e:?}"
        );

        // 404 for a version that does not exist.
        let fetch = sigstore_fetch();
        let e = resolve("sigstore", Some("99.0.0"), &fetch, REG).unwrap_err();
        assert!(matches!(e, SourceError::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("sigstore version 99.0.0"), "{e}");
    }

    #[test]
    fn truncated_or_mismatched_documents_are_refused() {
        let bytes = fixture("npm/sigstore-2.3.1.json");
        let fetch = MapFetch::new().serve(SIGSTORE_DOC, bytes[..bytes.len() / 2].to_vec());
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(matches!(e, SourceError::Json { .. }), "{e:?}");
        assert!(e.to_string().contains(SIGSTORE_DOC));

        // A document for another package (a confused or hostile mirror).
        let fetch = MapFetch::new().fixture(SIGSTORE_DOC, "npm/server-everything-2026.8.31.json");
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(
            matches!(&e, SourceError::Field { field, .. } if field == "name"),
            "{e:?}"
        );

        // A truncated attestations document.
        let att = fixture("npm/sigstore-2.3.1.attestations.json");
        let fetch = MapFetch::new()
            .fixture(SIGSTORE_DOC, "npm/sigstore-2.3.1.json")
            .serve(SIGSTORE_ATT, att[..100].to_vec());
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(matches!(e, SourceError::Json { .. }), "{e:?}");

        // A failing network is an error, not "no attestations".
        let fetch = MapFetch::new()
            .fixture(SIGSTORE_DOC, "npm/sigstore-2.3.1.json")
            .fail(SIGSTORE_ATT, FetchError::other("connection reset"));
        let e = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap_err();
        assert!(matches!(e, SourceError::Fetch { .. }), "{e:?}");
    }

    #[test]
    fn deprecation_is_a_warning_note() {
        let mut d = doc("npm/sigstore-2.3.1.json");
        d["deprecated"] = "use 3.x".into();
        let fetch = MapFetch::new()
            .serve(SIGSTORE_DOC, serde_json::to_vec(&d).unwrap())
            .fixture(SIGSTORE_ATT, "npm/sigstore-2.3.1.attestations.json");
        let r = resolve("sigstore", Some("2.3.1"), &fetch, REG).unwrap();
        assert!(
            r.notes
                .iter()
                .any(|n| n == "warning: sigstore@2.3.1 is deprecated: use 3.x"),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn bin_paths_must_stay_inside_the_package() {
        assert!(parse_bin("x", Some(&Value::String("../../etc/passwd".into()))).is_err());
        assert!(parse_bin("x", Some(&Value::String("/bin/sh".into()))).is_err());
        assert!(parse_bin("x", Some(&serde_json::json!({"../x": "a.js"}))).is_err());
        assert_eq!(
            parse_bin("@s/x", Some(&Value::String("./cli.js".into()))).unwrap(),
            vec![BinEntry {
                name: "x".into(),
                path: "cli.js".into()
            }]
        );
    }

    #[test]
    fn http_registry_is_refused() {
        let e = resolve(
            "sigstore",
            None,
            &MapFetch::new(),
            "http://registry.npmjs.org",
        )
        .unwrap_err();
        assert!(matches!(e, SourceError::OnlyHttps { .. }), "{e:?}");
    }
}
