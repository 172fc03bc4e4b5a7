//! PyPI: the simple repository API as pip reads it (PEP 691 JSON or PEP
//! 503 HTML, [`simple`]), the version and wheel for this machine
//! ([`wheel`]), its sha256, and PEP 740 provenance converted to sigstore
//! bundles.

pub mod simple;
pub mod wheel;

use std::str::FromStr;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ArtifactKind, Attestation, Fetch, Location, Page, Resolved, RunHints, Source, SourceError,
    base_url, encode_segment, fetch_doc, parse_json, spec,
};
use crate::digest::Digest;
pub use simple::PAGE_LIMIT;
use wheel::{NoChoice, Platform};

/// A provenance object: a few KiB per attestation.
pub const PROVENANCE_LIMIT: u64 = 16 << 20;

pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// Where the project pages are, from the index option: a simple-API root
/// as pip takes it (`.../simple`, devpi's `.../+simple`) as given, else
/// the host's `/simple` (pypi.org's layout, whose `/integrity/` endpoint
/// then serves PEP 740 provenance).
pub fn simple_root(index: &str) -> Result<(String, Option<String>), SourceError> {
    let base = base_url(index)?;
    if base.ends_with("/simple") || base.ends_with("/+simple") {
        Ok((base.to_string(), None))
    } else {
        Ok((format!("{base}/simple"), Some(base.to_string())))
    }
}

/// Fetches a project page by content negotiation, mapping a 404 to
/// `NotFound` and checking the limit again.
fn fetch_page(
    fetch: &dyn Fetch,
    url: &str,
    what: impl FnOnce() -> String,
) -> Result<Page, SourceError> {
    let page = fetch
        .get_page(url, PAGE_LIMIT, simple::ACCEPT)
        .map_err(|e| {
            if e.not_found {
                SourceError::NotFound {
                    what: what(),
                    url: url.to_string(),
                }
            } else {
                SourceError::Fetch {
                    url: url.to_string(),
                    message: e.message,
                }
            }
        })?;
    if page.bytes.len() as u64 > PAGE_LIMIT {
        return Err(SourceError::TooLarge {
            url: url.to_string(),
            len: page.bytes.len(),
            limit: PAGE_LIMIT,
        });
    }
    Ok(page)
}

pub fn resolve(
    name: &str,
    version: Option<&str>,
    fetch: &dyn Fetch,
    index: &str,
) -> Result<Resolved, SourceError> {
    resolve_for(name, version, fetch, index, Platform::this_machine())
}

/// [`resolve`] for the given platform.
pub fn resolve_for(
    name: &str,
    version: Option<&str>,
    fetch: &dyn Fetch,
    index: &str,
    platform: &Platform,
) -> Result<Resolved, SourceError> {
    let spec_text = || match version {
        Some(v) => format!("pypi:{name}=={v}"),
        None => format!("pypi:{name}"),
    };
    spec::validate_pypi_name(name).map_err(|reason| SourceError::InvalidSpec {
        spec: spec_text(),
        reason,
    })?;
    let asked = version
        .map(pep440_rs::Version::from_str)
        .transpose()
        .map_err(|e| SourceError::InvalidSpec {
            spec: spec_text(),
            reason: format!("the version is not PEP 440: {e}"),
        })?;
    let name = spec::normalize_pypi_name(name);
    let (root, integrity) = simple_root(index)?;
    let url = format!("{root}/{name}/");
    let page = fetch_page(fetch, &url, || format!("PyPI project {name}"))?;
    let links = simple::parse_page(&page)?;
    let choice = wheel::choose(&links, &name, asked.as_ref(), platform).map_err(|e| match e {
        NoChoice::NoSuchVersion(listed) => SourceError::NotFound {
            what: format!(
                "PyPI project {name} version {} ({listed})",
                version.unwrap_or_default()
            ),
            url: page.url.clone(),
        },
        NoChoice::NoFile { version, reason } => SourceError::NoFile {
            url: page.url.clone(),
            name: name.clone(),
            version,
            reason,
        },
    })?;
    let file = &links[choice.index];
    let version_str = choice.version.to_string();
    let mut notes = choice.notes;
    let sha = file.sha256.as_deref().ok_or_else(|| SourceError::Field {
        url: page.url.clone(),
        field: "sha256".into(),
        reason: format!(
            "the index gives no sha256 for {} (neither `#sha256=` nor `hashes`)",
            file.filename
        ),
    })?;
    let expected = Digest::from_str(&format!("sha256:{sha}")).map_err(|e| SourceError::Field {
        url: page.url.clone(),
        field: "sha256".into(),
        reason: e.to_string(),
    })?;

    // PEP 740: the URL the index names, else pypi.org's integrity API.
    let prov_url = match (&file.provenance, &integrity) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(base)) => Some(format!(
            "{base}/integrity/{name}/{}/{}/provenance",
            encode_segment(&version_str),
            encode_segment(&file.filename)
        )),
        (None, None) => None,
    };
    let mut attestations = Vec::new();
    let fetched = match &prov_url {
        Some(u) => match fetch_doc(fetch, u, PROVENANCE_LIMIT, || {
            format!("provenance of {}", file.filename)
        }) {
            Ok(bytes) => Some((u, bytes)),
            // Named by the index but missing: the index is wrong.
            Err(SourceError::NotFound { .. }) if file.provenance.is_none() => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    match fetched {
        Some((u, bytes)) => {
            for c in provenance_to_bundles(u, &bytes)? {
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
        None => notes.push(format!(
            "no PEP 740 provenance: the index publishes none for {}",
            file.filename
        )),
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
        kind: ArtifactKind::Wheel,
        attestations,
        run: RunHints {
            requires_python: file.requires_python.clone(),
            ..RunHints::default()
        },
        notes,
    })
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
    const MST: &str = "https://pypi.org/simple/mcp-server-time/";
    const MST_WHEEL: &str = "mcp_server_time-0.5.1-py3-none-any.whl";
    const MST_URL: &str = "https://files.pythonhosted.org/packages/26/4e/e3e3b726b74894c2168db5d9461512d7713d2aefd6e6801a5a3ed3634988/mcp_server_time-0.5.1-py3-none-any.whl";
    const DEVPI: &str = "https://devpi.example/root/pypi/+simple";
    const DEVPI_MST: &str = "https://devpi.example/root/pypi/+simple/mcp-server-time/";
    const GCB_PROV: &str = "gcb_attestation_test-0.0.0.tar.gz.provenance";

    fn platform() -> Platform {
        Platform {
            python: Some((3, 11)),
            glibc: Some((2, 36)),
            musl: None,
            arch: "x86_64".into(),
        }
    }

    fn captured(rel: &str) -> Vec<u8> {
        fixture(&format!("../pypi/{rel}"))
    }

    fn wheel_sha256() -> Vec<Digest> {
        digest_reader(&captured(MST_WHEEL)[..], &[Algorithm::Sha256])
            .unwrap()
            .1
    }

    /// A devpi-style page: relative links, no JSON API, `attrs` on the
    /// 0.5.1 wheel's anchor.
    fn devpi_page(href_tail: &str, attrs: &str) -> Vec<u8> {
        format!(
            "<!DOCTYPE html>\n<html><head><title>mcp-server-time</title></head><body>\
             <h1>links for mcp-server-time</h1>\n\
             <a href=\"../../+f/2c6/a25e3877b13a1/{MST_WHEEL}{href_tail}\" data-requires-python=\"&gt;=3.10\"{attrs}>{MST_WHEEL}</a><br/>\n\
             <a href=\"../../+f/cb1/c76c2b2fadcb7/mcp_server_time-0.5.1.tar.gz#sha256=cb1c76c2b2fadcb78c987b8e305148bbd43f590c55566d2d8d24039416eeceb1\">mcp_server_time-0.5.1.tar.gz</a><br/>\n\
             </body></html>\n"
        )
        .into_bytes()
    }

    const SHA_FRAG: &str =
        "#sha256=2c6a25e3877b13a135efe0546989722b37469b1287e8310c27709048d3e79722";

    #[test]
    fn the_real_pypi_page_gives_the_newest_wheel_html_or_json() {
        for page in ["mcp-server-time.simple.html", "mcp-server-time.simple.json"] {
            let fetch = MapFetch::new().serve(MST, captured(page));
            let r = resolve_for("mcp_server.time", None, &fetch, BASE, &platform()).unwrap();
            assert_eq!(r.version.as_deref(), Some("2026.10.19"), "{page}");
            assert_eq!(r.kind, ArtifactKind::Wheel);
            assert!(
                matches!(&r.artifact, Location::Url(u) if u.ends_with("mcp_server_time-2026.10.19-py3-none-any.whl")),
                "{:?}",
                r.artifact
            );
            assert_eq!(fetch.limit_for(MST), Some(PAGE_LIMIT));
            // pypi.org: its integrity API is asked; 404 = none published.
            assert!(
                fetch.urls().iter().any(
                    |u| u.starts_with("https://pypi.org/integrity/mcp-server-time/2026.10.19/")
                ),
                "{:?}",
                fetch.urls()
            );
            assert!(r.attestations.is_empty());
            assert!(r.notes.iter().any(|n| n.contains("no PEP 740 provenance")));
        }
    }

    #[test]
    fn a_pinned_version_gives_the_captured_wheel() {
        let fetch = MapFetch::new().serve(MST, captured("mcp-server-time.simple.html"));
        let src: Source = "pypi:mcp-server-time==0.5.1".parse().unwrap();
        let r = resolve_source(&src, &fetch, &ResolveOptions::default()).unwrap();
        assert_eq!(r.version.as_deref(), Some("0.5.1"));
        assert_eq!(r.artifact, Location::Url(MST_URL.into()));
        // The digest the index publishes is the real wheel's.
        assert_eq!(r.expected, wheel_sha256());
        assert_eq!(r.run.requires_python.as_deref(), Some(">=3.10"));
        let e =
            resolve_for("mcp-server-time", Some("0.4.0"), &fetch, BASE, &platform()).unwrap_err();
        assert!(
            matches!(&e, SourceError::NotFound { what, .. } if what.contains("14 version(s) listed, newest 2026.10.19")),
            "{e:?}"
        );
        let e = resolve_for("mcp-server-time", Some("1.x"), &fetch, BASE, &platform()).unwrap_err();
        assert!(matches!(e, SourceError::InvalidSpec { .. }), "{e:?}");
    }

    #[test]
    fn a_devpi_page_of_relative_links() {
        let fetch = MapFetch::new().serve(DEVPI_MST, devpi_page(SHA_FRAG, ""));
        let r = resolve_for("mcp-server-time", None, &fetch, DEVPI, &platform()).unwrap();
        assert_eq!(
            r.artifact,
            Location::Url(format!(
                "https://devpi.example/root/pypi/+f/2c6/a25e3877b13a1/{MST_WHEEL}"
            ))
        );
        assert_eq!(r.expected, wheel_sha256());
        // No provenance URL named and not pypi.org: nothing guessed.
        assert_eq!(fetch.urls(), vec![DEVPI_MST.to_string()]);
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("no PEP 740 provenance: the index publishes none")),
            "{:?}",
            r.notes
        );
        // Without python3 the wheel is still the generic one.
        let mut p = platform();
        p.python = None;
        assert!(resolve_for("mcp-server-time", None, &fetch, DEVPI, &p).is_ok());
    }

    #[test]
    fn a_file_without_sha256_or_over_http_is_refused() {
        let fetch = MapFetch::new().serve(DEVPI_MST, devpi_page("#md5=00ff", ""));
        let e = resolve_for("mcp-server-time", None, &fetch, DEVPI, &platform()).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("no sha256 for {MST_WHEEL}")),
            "{e}"
        );
        let page = String::from_utf8(devpi_page(SHA_FRAG, ""))
            .unwrap()
            .replace("../../+f", "http://devpi.example/+f");
        let fetch = MapFetch::new().serve(DEVPI_MST, page.into_bytes());
        let e = resolve_for("mcp-server-time", None, &fetch, DEVPI, &platform()).unwrap_err();
        assert!(matches!(e, SourceError::NotHttps { .. }), "{e:?}");
    }

    #[test]
    fn sdists_are_refused_naming_the_package() {
        let fetch = MapFetch::new().fixture(
            "https://pypi.org/simple/gcb-attestation-test/",
            "../pypi/gcb-attestation-test.simple.json",
        );
        let e = resolve_for(
            "gcb-attestation-test",
            Some("0.0.0"),
            &fetch,
            BASE,
            &platform(),
        )
        .unwrap_err();
        assert!(matches!(e, SourceError::NoFile { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("gcb-attestation-test 0.0.0 has no file to install"),
            "{text}"
        );
        assert!(text.contains("no wheel for this platform"), "{text}");
        assert!(
            text.contains("gcb_attestation_test-0.0.0.tar.gz is not used"),
            "{text}"
        );
        // Only platform wheels for another machine: the same refusal.
        let page = String::from_utf8(devpi_page(SHA_FRAG, ""))
            .unwrap()
            .replace("py3-none-any", "cp311-cp311-win_amd64");
        let fetch = MapFetch::new().serve(DEVPI_MST, page.into_bytes());
        let e = resolve_for("mcp-server-time", None, &fetch, DEVPI, &platform()).unwrap_err();
        assert!(
            e.to_string()
                .contains("no wheel for this platform (cp311, manylinux_2_36_x86_64)"),
            "{e}"
        );
    }

    #[test]
    fn provenance_the_index_names_is_fetched_and_converted() {
        let prov = "https://devpi.example/root/pypi/+provenance/mcp.provenance";
        let fetch = MapFetch::new()
            .serve(
                DEVPI_MST,
                devpi_page(
                    SHA_FRAG,
                    " data-provenance=\"../../+provenance/mcp.provenance\"",
                ),
            )
            .fixture(prov, &format!("pypi/{GCB_PROV}"));
        let r = resolve_for("mcp-server-time", None, &fetch, DEVPI, &platform()).unwrap();
        assert_eq!(fetch.limit_for(prov), Some(PROVENANCE_LIMIT));
        assert_eq!(r.attestations.len(), 1);
        assert!(
            r.notes.iter().any(|n| n.contains(
                "PEP 740 attestation by Google 919436158236-compute@developer.gserviceaccount.com"
            )),
            "{:?}",
            r.notes
        );
        // Named but missing, failing or malformed: refused.
        for fetch in [
            MapFetch::new().serve(DEVPI_MST, devpi_page(SHA_FRAG, " data-provenance=\"p\"")),
            MapFetch::new()
                .serve(DEVPI_MST, devpi_page(SHA_FRAG, " data-provenance=\"p\""))
                .fail(
                    "https://devpi.example/root/pypi/+simple/mcp-server-time/p",
                    FetchError::other("503"),
                ),
            MapFetch::new()
                .serve(DEVPI_MST, devpi_page(SHA_FRAG, " data-provenance=\"p\""))
                .serve(
                    "https://devpi.example/root/pypi/+simple/mcp-server-time/p",
                    b"{\"version\": 1".to_vec(),
                ),
        ] {
            assert!(resolve_for("mcp-server-time", None, &fetch, DEVPI, &platform()).is_err());
        }
        // pypi.org's integrity API failing (not 404) fails the resolution.
        let fetch = MapFetch::new()
            .serve(MST, captured("mcp-server-time.simple.json"))
            .fail(
                &format!("https://pypi.org/integrity/mcp-server-time/0.5.1/{MST_WHEEL}/provenance"),
                FetchError::other("503"),
            );
        let e =
            resolve_for("mcp-server-time", Some("0.5.1"), &fetch, BASE, &platform()).unwrap_err();
        assert!(matches!(e, SourceError::Fetch { .. }), "{e:?}");
    }

    #[test]
    fn missing_oversized_truncated_and_foreign_pages() {
        let e = resolve_for("nothing-here", None, &MapFetch::new(), BASE, &platform()).unwrap_err();
        assert!(matches!(e, SourceError::NotFound { .. }), "{e:?}");
        let big = vec![b' '; PAGE_LIMIT as usize + 1];
        let e = resolve_for(
            "x",
            None,
            &MapFetch::new().serve("https://pypi.org/simple/x/", big),
            BASE,
            &platform(),
        )
        .unwrap_err();
        assert!(
            matches!(e, SourceError::Fetch { .. } | SourceError::TooLarge { .. }),
            "{e:?}"
        );
        let json = captured("mcp-server-time.simple.json");
        let fetch = MapFetch::new().serve(MST, json[..json.len() / 2].to_vec());
        let e = resolve_for("mcp-server-time", None, &fetch, BASE, &platform()).unwrap_err();
        assert!(matches!(e, SourceError::Json { .. }), "{e:?}");
        // Another project's files on the page are not this project's.
        let fetch = MapFetch::new().serve(
            "https://pypi.org/simple/other/",
            captured("mcp-server-time.simple.html"),
        );
        let e = resolve_for("other", None, &fetch, BASE, &platform()).unwrap_err();
        assert!(e.to_string().contains("lists no wheel or sdist"), "{e}");
        // An http index is refused before anything is fetched.
        let fetch = MapFetch::new();
        assert!(resolve_for("x", None, &fetch, "http://pypi.org", &platform()).is_err());
        assert!(fetch.urls().is_empty());
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
}
