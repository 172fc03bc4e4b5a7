//! PyPI: the JSON API, file choice, sha256, and PEP 740 provenance
//! converted to sigstore bundles.

use std::str::FromStr;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ArtifactKind, Attestation, Fetch, Location, Resolved, RunHints, Source, SourceError, base_url,
    encode_segment, fetch_doc, parse_json, spec,
};
use crate::digest::Digest;

/// A release's JSON document (the project's latest one lists every release).
pub const JSON_LIMIT: u64 = 16 << 20;
/// A provenance object: a few KiB per attestation.
pub const PROVENANCE_LIMIT: u64 = 16 << 20;

pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

#[derive(Deserialize)]
struct ReleaseDoc {
    info: Info,
    urls: Vec<FileEntry>,
}

#[derive(Deserialize)]
struct Info {
    version: String,
    #[serde(default)]
    requires_python: Option<String>,
}

#[derive(Deserialize, Clone)]
struct FileEntry {
    filename: String,
    url: String,
    #[serde(default)]
    packagetype: Option<String>,
    #[serde(default)]
    digests: Option<Value>,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    yanked_reason: Option<String>,
}

pub fn resolve(
    name: &str,
    version: Option<&str>,
    fetch: &dyn Fetch,
    index: &str,
) -> Result<Resolved, SourceError> {
    spec::validate_pypi_name(name).map_err(|reason| SourceError::InvalidSpec {
        spec: format!("pypi:{name}"),
        reason,
    })?;
    let name = spec::normalize_pypi_name(name);
    let base = base_url(index)?;
    let url = match version {
        Some(v) => format!("{base}/pypi/{name}/{}/json", encode_segment(v)),
        None => format!("{base}/pypi/{name}/json"),
    };
    let bytes = fetch_doc(fetch, &url, JSON_LIMIT, || match version {
        Some(v) => format!("PyPI project {name} version {v}"),
        None => format!("PyPI project {name}"),
    })?;
    let doc: ReleaseDoc = parse_json(&url, &bytes)?;
    let field = |f: &str, reason: String| SourceError::Field {
        url: url.clone(),
        field: f.into(),
        reason,
    };
    let release = pep440_rs::Version::from_str(&doc.info.version).map_err(|e| {
        field(
            "info.version",
            format!("`{}` is not PEP 440: {e}", doc.info.version),
        )
    })?;
    if let Some(v) = version {
        let asked = pep440_rs::Version::from_str(v)
            .map_err(|e| field("info.version", format!("`{v}` is not PEP 440: {e}")))?;
        if asked != release {
            return Err(field(
                "info.version",
                format!("the document is for {release}, {v} was asked for"),
            ));
        }
    }
    let version_str = release.to_string();
    let mut notes = Vec::new();
    let file = pick_file(&doc.urls, version.is_some(), &mut notes).map_err(|reason| {
        SourceError::NoFile {
            url: url.clone(),
            name: name.clone(),
            version: version_str.clone(),
            reason,
        }
    })?;
    if !safe_filename(&file.filename) {
        return Err(field(
            "urls[].filename",
            format!(
                "`{}` is not a plain file name",
                file.filename.chars().take(80).collect::<String>()
            ),
        ));
    }
    // The file must be this project's: an index answering with another
    // project's file (whose own provenance would verify) is refused.
    let file_project = dist_project(&file.filename);
    if file_project.as_deref() != Some(name.as_str()) {
        return Err(field(
            "urls[].filename",
            format!(
                "`{}` is not a distribution of {name}",
                file.filename.chars().take(80).collect::<String>()
            ),
        ));
    }
    if spec::validate_https(&file.url).is_err() {
        return Err(SourceError::NotHttps {
            url: url.clone(),
            field: "urls[].url".into(),
            value: file.url.chars().take(200).collect(),
        });
    }
    let sha = file
        .digests
        .as_ref()
        .and_then(|d| d.get("sha256"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            field(
                "urls[].digests.sha256",
                format!("missing for {}", file.filename),
            )
        })?;
    let expected = Digest::from_str(&format!("sha256:{sha}"))
        .map_err(|e| field("urls[].digests.sha256", e.to_string()))?;
    let kind = if file.filename.ends_with(".whl") {
        ArtifactKind::Wheel
    } else {
        ArtifactKind::Sdist
    };

    // PEP 740: GET /integrity/<project>/<version>/<filename>/provenance.
    let prov_url = format!(
        "{base}/integrity/{name}/{}/{}/provenance",
        encode_segment(&version_str),
        encode_segment(&file.filename)
    );
    let mut attestations = Vec::new();
    match fetch_doc(fetch, &prov_url, PROVENANCE_LIMIT, || {
        format!("provenance of {}", file.filename)
    }) {
        Ok(bytes) => {
            let converted = provenance_to_bundles(&prov_url, &bytes)?;
            for c in converted {
                notes.push(format!("PEP 740 attestation by {}", c.publisher));
                attestations.push(Attestation {
                    name: format!(
                        "pypi provenance {} (bundle {}, attestation {})",
                        file.filename,
                        c.bundle_index + 1,
                        c.attestation_index + 1
                    ),
                    bytes: c.bundle,
                });
            }
        }
        Err(SourceError::NotFound { .. }) => {
            notes.push(format!(
                "no PEP 740 provenance published for {}",
                file.filename
            ));
        }
        Err(e) => return Err(e),
    }

    Ok(Resolved {
        source: Source::Pypi {
            name: name.clone(),
            version: version.map(str::to_string),
        },
        nested: None,
        version: Some(version_str),
        artifact: Location::Url(file.url.clone()),
        expected: vec![expected],
        kind,
        attestations,
        run: RunHints {
            requires_python: doc.info.requires_python.filter(|s| !s.is_empty()),
            ..RunHints::default()
        },
        notes,
    })
}

/// The normalised project name of a wheel (`name-ver-...whl`) or sdist
/// (`name-ver.tar.gz`) file name.
fn dist_project(filename: &str) -> Option<String> {
    let name = if filename.ends_with(".whl") {
        filename.split('-').next()?
    } else {
        filename.strip_suffix(".tar.gz")?.rsplit_once('-')?.0
    };
    Some(spec::normalize_pypi_name(name))
}

fn safe_filename(f: &str) -> bool {
    !f.is_empty()
        && !f.starts_with('.')
        && !f.contains(['/', '\\'])
        && !f.chars().any(char::is_control)
        && f.len() <= 255
}

/// A pure-Python wheel (`py3-none-any`, `py2.py3-none-any`) first, else the
/// sdist. Yanked files only when the version was pinned, with a note.
fn pick_file(
    files: &[FileEntry],
    pinned: bool,
    notes: &mut Vec<String>,
) -> Result<FileEntry, String> {
    let pure_wheel = |f: &FileEntry| {
        let Some(stem) = f.filename.strip_suffix(".whl") else {
            return false;
        };
        let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
        // rsplitn: [platform, abi, python, rest]
        parts.len() == 4
            && parts[0] == "any"
            && parts[1] == "none"
            && parts[2].split('.').any(|t| t == "py3")
    };
    let sdist = |f: &FileEntry| {
        f.filename.ends_with(".tar.gz") && f.packagetype.as_deref().is_none_or(|t| t == "sdist")
    };
    for yanked_ok in [false, true] {
        if yanked_ok && !pinned {
            break;
        }
        for want in [&pure_wheel as &dyn Fn(&FileEntry) -> bool, &sdist] {
            if let Some(f) = files.iter().find(|f| want(f) && (f.yanked == yanked_ok)) {
                if f.yanked {
                    notes.push(format!(
                        "warning: {} is yanked{}; used because the version was pinned",
                        f.filename,
                        f.yanked_reason
                            .as_deref()
                            .filter(|r| !r.is_empty())
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ));
                }
                return Ok(f.clone());
            }
        }
    }
    if files
        .iter()
        .any(|f| f.yanked && (pure_wheel(f) || sdist(f)))
    {
        return Err("its files are yanked; pin the version with == to use one anyway".into());
    }
    Err(format!(
        "no pure-Python wheel (py3-none-any) or .tar.gz sdist among {} file(s)",
        files.len()
    ))
}

/// One attestation converted to a sigstore bundle.
#[derive(Debug, Clone)]
pub struct ConvertedBundle {
    pub bundle_index: usize,
    pub attestation_index: usize,
    /// `kind` and repository/email of the trusted publisher, as PyPI says.
    pub publisher: String,
    pub bundle: Vec<u8>,
}

#[derive(Deserialize)]
struct Provenance {
    version: u64,
    attestation_bundles: Vec<AttestationBundle>,
}

#[derive(Deserialize)]
struct AttestationBundle {
    publisher: Value,
    attestations: Vec<PepAttestation>,
}

#[derive(Deserialize)]
struct PepAttestation {
    version: u64,
    verification_material: VerificationMaterial,
    envelope: Envelope,
}

#[derive(Deserialize)]
struct VerificationMaterial {
    certificate: String,
    transparency_entries: Vec<Value>,
    #[serde(default)]
    timestamps: Vec<String>,
}

#[derive(Deserialize)]
struct Envelope {
    statement: String,
    signature: String,
}

/// Converts a PEP 740 provenance object into sigstore bundles (v0.3), one
/// per attestation, the way pypi-attestations' `to_bundle` does: the
/// certificate, the transparency log entries, and a DSSE envelope whose
/// payload is the in-toto statement.
pub fn provenance_to_bundles(url: &str, bytes: &[u8]) -> Result<Vec<ConvertedBundle>, SourceError> {
    let prov: Provenance = parse_json(url, bytes)?;
    let field = |f: String, reason: &str| SourceError::Field {
        url: url.into(),
        field: f,
        reason: reason.into(),
    };
    if prov.version != 1 {
        return Err(field(
            "version".into(),
            "only provenance version 1 is understood",
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for (bi, ab) in prov.attestation_bundles.iter().enumerate() {
        let publisher = describe_publisher(&ab.publisher);
        for (ai, a) in ab.attestations.iter().enumerate() {
            let at = |f: &str| format!("attestation_bundles[{bi}].attestations[{ai}].{f}");
            if a.version != 1 {
                return Err(field(
                    at("version"),
                    "only attestation version 1 is understood",
                ));
            }
            for (f, v) in [
                (
                    "verification_material.certificate",
                    &a.verification_material.certificate,
                ),
                ("envelope.statement", &a.envelope.statement),
                ("envelope.signature", &a.envelope.signature),
            ] {
                if b64.decode(v).is_err() || v.is_empty() {
                    return Err(field(at(f), "not base64"));
                }
            }
            if a.verification_material.transparency_entries.is_empty() {
                return Err(field(
                    at("verification_material.transparency_entries"),
                    "empty: the signature was never logged",
                ));
            }
            let mut vm = json!({
                "certificate": { "rawBytes": a.verification_material.certificate },
                // As pypi-attestations' `to_bundle`: the first entry.
                "tlogEntries": [a.verification_material.transparency_entries[0]],
            });
            if !a.verification_material.timestamps.is_empty() {
                vm["timestampVerificationData"] = json!({
                    "rfc3161Timestamps": a.verification_material.timestamps.iter()
                        .map(|t| json!({ "signedTimestamp": t }))
                        .collect::<Vec<_>>(),
                });
            }
            let bundle = json!({
                "mediaType": BUNDLE_V03,
                "verificationMaterial": vm,
                "dsseEnvelope": {
                    "payload": a.envelope.statement,
                    "payloadType": IN_TOTO,
                    "signatures": [{ "sig": a.envelope.signature }],
                },
            });
            let bytes = serde_json::to_vec(&bundle).map_err(|e| SourceError::Json {
                url: url.into(),
                message: e.to_string(),
            })?;
            out.push(ConvertedBundle {
                bundle_index: bi,
                attestation_index: ai,
                publisher: publisher.clone(),
                bundle: bytes,
            });
        }
    }
    if out.is_empty() {
        return Err(field("attestation_bundles".into(), "no attestations"));
    }
    Ok(out)
}

fn describe_publisher(p: &Value) -> String {
    let get = |k: &str| p.get(k).and_then(Value::as_str);
    let kind = get("kind").unwrap_or("unknown publisher");
    let who = get("repository")
        .or_else(|| get("email"))
        .or_else(|| get("project"))
        .or_else(|| get("identity"));
    let clean = |s: &str| crate::text::printable(s, 200);
    match (who, get("workflow")) {
        (Some(w), Some(wf)) => format!("{} {} ({})", clean(kind), clean(w), clean(wf)),
        (Some(w), None) => format!("{} {}", clean(kind), clean(w)),
        _ => clean(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{FetchError, ResolveOptions, resolve as resolve_source};
    use super::*;
    use crate::digest::{Algorithm, digest_reader};

    const BASE: &str = "https://pypi.org";
    const SP_LATEST: &str = "https://pypi.org/pypi/sampleproject/json";
    const SP_400: &str = "https://pypi.org/pypi/sampleproject/4.0.0/json";
    const GCB_LATEST: &str = "https://pypi.org/pypi/gcb-attestation-test/json";
    const GCB_000: &str = "https://pypi.org/pypi/gcb-attestation-test/0.0.0/json";
    const GCB_PROV: &str = "https://pypi.org/integrity/gcb-attestation-test/0.0.0/gcb_attestation_test-0.0.0.tar.gz/provenance";

    fn sha256_of(rel: &str) -> Vec<Digest> {
        digest_reader(&fixture(rel)[..], &[Algorithm::Sha256])
            .unwrap()
            .1
    }

    #[test]
    fn latest_picks_the_pure_wheel_with_its_sha256() {
        let fetch = MapFetch::new().fixture(SP_LATEST, "pypi/sampleproject.json");
        let src: Source = "pypi:SampleProject".parse().unwrap();
        let r = resolve_source(&src, &fetch, &ResolveOptions::default()).unwrap();
        assert_eq!(r.version.as_deref(), Some("4.0.0"));
        assert_eq!(r.kind, ArtifactKind::Wheel);
        assert_eq!(
            r.artifact,
            Location::Url("https://files.pythonhosted.org/packages/d7/73/c16e5f3f0d37c60947e70865c255a58dc408780a6474de0523afd0ec553a/sampleproject-4.0.0-py3-none-any.whl".into())
        );
        // The digest the index publishes is the real wheel's.
        assert_eq!(
            r.expected,
            sha256_of("pypi/sampleproject-4.0.0-py3-none-any.whl")
        );
        assert_eq!(r.run.requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(fetch.limit_for(SP_LATEST), Some(JSON_LIMIT));
        assert!(
            fetch.urls().contains(&"https://pypi.org/integrity/sampleproject/4.0.0/sampleproject-4.0.0-py3-none-any.whl/provenance".to_string()),
            "{:?}",
            fetch.urls()
        );
        assert!(r.attestations.is_empty());
        assert!(r.notes.iter().any(|n| n.contains("no PEP 740 provenance")));
    }

    #[test]
    fn pinned_sdist_with_provenance_converts_to_bundles() {
        let fetch = MapFetch::new()
            .fixture(GCB_000, "pypi/gcb-attestation-test.json")
            .fixture(
                GCB_PROV,
                "pypi/gcb_attestation_test-0.0.0.tar.gz.provenance",
            );
        let r = resolve("gcb_attestation.test", Some("0.0.0"), &fetch, BASE).unwrap();
        assert_eq!(r.kind, ArtifactKind::Sdist);
        assert_eq!(
            r.expected,
            sha256_of("pypi/gcb_attestation_test-0.0.0.tar.gz")
        );
        assert_eq!(fetch.limit_for(GCB_PROV), Some(PROVENANCE_LIMIT));
        assert_eq!(r.attestations.len(), 1);
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("Google 919436158236-compute@developer.gserviceaccount.com")),
            "{:?}",
            r.notes
        );
        let b: Value = serde_json::from_slice(&r.attestations[0].bytes).unwrap();
        let prov: Value = serde_json::from_slice(&fixture(
            "pypi/gcb_attestation_test-0.0.0.tar.gz.provenance",
        ))
        .unwrap();
        let a = &prov["attestation_bundles"][0]["attestations"][0];
        assert_eq!(b["mediaType"], BUNDLE_V03);
        assert_eq!(
            b["verificationMaterial"]["certificate"]["rawBytes"],
            a["verification_material"]["certificate"]
        );
        assert_eq!(
            b["verificationMaterial"]["tlogEntries"][0],
            a["verification_material"]["transparency_entries"][0]
        );
        assert_eq!(b["dsseEnvelope"]["payload"], a["envelope"]["statement"]);
        assert_eq!(b["dsseEnvelope"]["payloadType"], IN_TOTO);
        assert_eq!(
            b["dsseEnvelope"]["signatures"][0]["sig"],
            a["envelope"]["signature"]
        );
    }

    #[test]
    fn timestamps_become_rfc3161_timestamps() {
        let mut prov: Value = serde_json::from_slice(&fixture(
            "pypi/gcb_attestation_test-0.0.0.tar.gz.provenance",
        ))
        .unwrap();
        prov["attestation_bundles"][0]["attestations"][0]["verification_material"]["timestamps"] =
            json!(["MIIE"]);
        let out = provenance_to_bundles("u", &serde_json::to_vec(&prov).unwrap()).unwrap();
        let b: Value = serde_json::from_slice(&out[0].bundle).unwrap();
        assert_eq!(
            b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"],
            "MIIE"
        );
    }

    #[test]
    fn malformed_provenance_is_refused() {
        let orig: Value = serde_json::from_slice(&fixture(
            "pypi/gcb_attestation_test-0.0.0.tar.gz.provenance",
        ))
        .unwrap();
        let bytes = serde_json::to_vec(&orig).unwrap();
        assert!(matches!(
            provenance_to_bundles("u", &bytes[..bytes.len() - 10]),
            Err(SourceError::Json { .. })
        ));
        let mut p = orig.clone();
        p["attestation_bundles"][0]["attestations"][0]["envelope"]["signature"] = "%%%".into();
        let e = provenance_to_bundles("u", &serde_json::to_vec(&p).unwrap()).unwrap_err();
        assert!(e.to_string().contains("envelope.signature"), "{e}");
        let mut p = orig.clone();
        p["attestation_bundles"][0]["attestations"][0]["verification_material"]["transparency_entries"] =
            json!([]);
        assert!(provenance_to_bundles("u", &serde_json::to_vec(&p).unwrap()).is_err());
        let mut p = orig.clone();
        p["version"] = 2.into();
        assert!(provenance_to_bundles("u", &serde_json::to_vec(&p).unwrap()).is_err());
        let mut p = orig;
        p["attestation_bundles"] = json!([]);
        assert!(provenance_to_bundles("u", &serde_json::to_vec(&p).unwrap()).is_err());
    }

    fn sp_with(f: impl FnOnce(&mut Value)) -> MapFetch {
        let mut d: Value = serde_json::from_slice(&fixture("pypi/sampleproject.json")).unwrap();
        f(&mut d);
        let bytes = serde_json::to_vec(&d).unwrap();
        MapFetch::new()
            .serve(SP_LATEST, bytes.clone())
            .serve(SP_400, bytes)
    }

    #[test]
    fn sdist_when_no_pure_wheel() {
        let fetch = sp_with(|d| {
            d["urls"]
                .as_array_mut()
                .unwrap()
                .retain(|f| f["packagetype"] == "sdist");
        });
        let r = resolve("sampleproject", None, &fetch, BASE).unwrap();
        assert_eq!(r.kind, ArtifactKind::Sdist);
        assert!(
            matches!(&r.artifact, Location::Url(u) if u.ends_with("sampleproject-4.0.0.tar.gz"))
        );
    }

    #[test]
    fn platform_wheels_are_not_picked() {
        let fetch = sp_with(|d| {
            let urls = d["urls"].as_array_mut().unwrap();
            urls.retain(|f| f["packagetype"] == "bdist_wheel");
            urls[0]["filename"] =
                "sampleproject-4.0.0-cp312-cp312-manylinux_2_17_x86_64.whl".into();
        });
        let e = resolve("sampleproject", None, &fetch, BASE).unwrap_err();
        assert!(matches!(e, SourceError::NoFile { .. }), "{e:?}");
    }

    #[test]
    fn yanked_files_only_when_pinned() {
        let yank = |d: &mut Value| {
            for f in d["urls"].as_array_mut().unwrap() {
                f["yanked"] = true.into();
                f["yanked_reason"] = "broken".into();
            }
        };
        let e = resolve("sampleproject", None, &sp_with(yank), BASE).unwrap_err();
        assert!(matches!(e, SourceError::NoFile { .. }), "{e:?}");
        assert!(e.to_string().contains("yanked"), "{e}");
        let r = resolve("sampleproject", Some("4.0.0"), &sp_with(yank), BASE).unwrap();
        assert_eq!(r.kind, ArtifactKind::Wheel);
        assert!(
            r.notes
                .iter()
                .any(|n| n.starts_with("warning:") && n.contains("yanked (broken)")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn missing_sha256_non_https_and_version_mismatch() {
        let fetch = sp_with(|d| {
            for f in d["urls"].as_array_mut().unwrap() {
                f["digests"].as_object_mut().unwrap().remove("sha256");
            }
        });
        let e = resolve("sampleproject", None, &fetch, BASE).unwrap_err();
        assert!(e.to_string().contains("digests.sha256"), "{e}");
        let fetch = sp_with(|d| {
            for f in d["urls"].as_array_mut().unwrap() {
                f["digests"]["sha256"] = "abc".into();
            }
        });
        assert!(resolve("sampleproject", None, &fetch, BASE).is_err());
        let fetch = sp_with(|d| {
            for f in d["urls"].as_array_mut().unwrap() {
                let u = f["url"].as_str().unwrap().replace("https://", "http://");
                f["url"] = u.into();
            }
        });
        let e = resolve("sampleproject", None, &fetch, BASE).unwrap_err();
        assert!(matches!(e, SourceError::NotHttps { .. }), "{e:?}");
        let fetch = sp_with(|d| {
            d["urls"][1]["filename"] = "../../evil-4.0.0-py3-none-any.whl".into();
        });
        assert!(resolve("sampleproject", None, &fetch, BASE).is_err());
        // Another project's file.
        let fetch = sp_with(|d| {
            d["urls"][1]["filename"] = "otherproject-4.0.0-py3-none-any.whl".into();
        });
        let e = resolve("sampleproject", None, &fetch, BASE).unwrap_err();
        assert!(
            e.to_string()
                .contains("not a distribution of sampleproject"),
            "{e}"
        );
        assert_eq!(
            dist_project("Sample_Project-4.0.0-py3-none-any.whl").as_deref(),
            Some("sample-project")
        );
        assert_eq!(
            dist_project("gcb_attestation_test-0.0.0.tar.gz").as_deref(),
            Some("gcb-attestation-test")
        );
        // The index answered for another version than the one pinned.
        let fetch = MapFetch::new().fixture(
            "https://pypi.org/pypi/sampleproject/3.0.0/json",
            "pypi/sampleproject.json",
        );
        let e = resolve("sampleproject", Some("3.0.0"), &fetch, BASE).unwrap_err();
        assert!(
            matches!(&e, SourceError::Field { field, .. } if field == "info.version"),
            "{e:?}"
        );
    }

    #[test]
    fn not_found_truncated_and_failing_provenance() {
        let e = resolve("sampleproject", Some("9.9.9"), &MapFetch::new(), BASE).unwrap_err();
        assert!(matches!(e, SourceError::NotFound { .. }), "{e:?}");
        let bytes = fixture("pypi/sampleproject.json");
        let fetch = MapFetch::new().serve(SP_LATEST, bytes[..bytes.len() - 1].to_vec());
        let e = resolve("sampleproject", None, &fetch, BASE).unwrap_err();
        assert!(matches!(e, SourceError::Json { .. }), "{e:?}");
        // A provenance fetch that fails (not 404) fails the resolution.
        let fetch = MapFetch::new()
            .fixture(GCB_LATEST, "pypi/gcb-attestation-test.json")
            .fail(GCB_PROV, FetchError::other("503"));
        let e = resolve("gcb-attestation-test", None, &fetch, BASE).unwrap_err();
        assert!(matches!(e, SourceError::Fetch { .. }), "{e:?}");
    }
}
