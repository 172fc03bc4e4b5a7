//! Build provenance: SLSA v0.2 and v1 predicates of in-toto statements,
//! reduced to what a policy judges (builder, build type, source).

use serde_json::Value;

pub const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
/// npm's publish attestation: a known statement that is not provenance.
pub const NPM_PUBLISH: &str = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1";
/// The builder id of GitHub Actions' own (non-reusable-workflow) builds.
pub const GITHUB_HOSTED: &str = "https://github.com/actions/runner/github-hosted";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    pub predicate_type: String,
    pub builder_id: String,
    pub build_type: String,
    /// `https://github.com/owner/repo`, without `git+` or `.git`.
    pub source_repo: Option<String>,
    pub source_ref: Option<String>,
    pub source_digest: Option<String>,
    /// The workflow file that ran, when the predicate names it.
    pub entry_point: Option<String>,
}

/// PyPI's PEP 740 publish attestation: the publisher's trusted-publishing
/// identity says it published this file.
pub const PYPI_PUBLISH: &str = "https://docs.pypi.org/attestations/publish/v1";
/// SLSA verification summaries: they endorse the artifact when PASSED.
pub const VSA_V1: &str = "https://slsa.dev/verification_summary/v1";
pub const VSA_V02: &str = "https://slsa.dev/verification_summary/v0.2";

/// Ok when a signed statement of `predicate_type` endorses its subject, so
/// that its signer's signature counts as a signature of the artifact: SLSA
/// provenance (v0.2, v1), npm's and PyPI's publish attestations, and a verification
/// summary whose `verificationResult` is `PASSED`. Anything else (a test
/// result, a scan, a review) is a statement about the artifact, not an
/// endorsement of it: why, in words.
pub fn endorsement(predicate_type: &str, predicate: &Value) -> Result<(), String> {
    match predicate_type {
        SLSA_V02 | SLSA_V1 | NPM_PUBLISH | PYPI_PUBLISH => Ok(()),
        VSA_V1 | VSA_V02 => match predicate.get("verificationResult").and_then(Value::as_str) {
            Some("PASSED") => Ok(()),
            got => Err(format!(
                "the signed statement is a verification summary whose result is {}, not `PASSED`",
                got.map_or("missing".to_string(), |g| format!("`{}`", g.escape_debug()))
            )),
        },
        other => Err(format!(
            "the signed statement's predicate type `{}` does not endorse the artifact",
            other.escape_debug()
        )),
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProvenanceError {
    /// A value no genuine build writes (a control character, a `..` ref).
    #[error("{0}")]
    Invalid(String),
    #[error("predicate type `{0}` is not SLSA provenance (v0.2 or v1)")]
    Unsupported(String),
    #[error("the SLSA {version} predicate has no {field}")]
    Missing {
        version: &'static str,
        field: &'static str,
    },
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `git+https://github.com/o/r@refs/heads/main` → (`https://github.com/o/r`, `refs/heads/main`).
fn split_git_uri(uri: &str) -> (String, Option<String>) {
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    let (repo, git_ref) = match uri.rsplit_once('@') {
        // An `@` inside the authority (user@host) is not a ref separator.
        Some((r, g))
            if r.contains("://") && r.split("://").nth(1).is_some_and(|h| h.contains('/')) =>
        {
            (r, Some(g.to_string()))
        }
        _ => (uri, None),
    };
    (normalise_repo(repo), git_ref)
}

pub fn normalise_repo(repo: &str) -> String {
    let r = repo
        .strip_prefix("git+")
        .unwrap_or(repo)
        .trim_end_matches('/');
    r.strip_suffix(".git").unwrap_or(r).to_string()
}

/// Extracts builder and source from a SLSA predicate. Anything that is not
/// SLSA v0.2 or v1 is refused: a policy must never read facts it does not
/// understand.
pub fn parse(predicate_type: &str, predicate: &Value) -> Result<Provenance, ProvenanceError> {
    let p = parse_fields(predicate_type, predicate)?;
    for (field, value, is_ref) in [
        ("builder id", Some(&p.builder_id), false),
        ("build type", Some(&p.build_type), false),
        ("source repository", p.source_repo.as_ref(), false),
        ("source ref", p.source_ref.as_ref(), true),
        ("source commit", p.source_digest.as_ref(), false),
        ("workflow path", p.entry_point.as_ref(), false),
    ] {
        if let Some(v) = value {
            crate::identity::value_ok(&format!("statement's {field}"), v, is_ref)
                .map_err(ProvenanceError::Invalid)?;
        }
    }
    Ok(p)
}

fn parse_fields(predicate_type: &str, predicate: &Value) -> Result<Provenance, ProvenanceError> {
    match predicate_type {
        SLSA_V02 => {
            let missing = |field| ProvenanceError::Missing {
                version: "v0.2",
                field,
            };
            let builder_id = text(predicate, "/builder/id").ok_or(missing("builder.id"))?;
            let build_type = text(predicate, "/buildType").ok_or(missing("buildType"))?;
            let (source_repo, source_ref) = match text(predicate, "/invocation/configSource/uri") {
                Some(u) => {
                    let (r, g) = split_git_uri(&u);
                    (Some(r), g)
                }
                None => (None, None),
            };
            Ok(Provenance {
                predicate_type: predicate_type.into(),
                builder_id,
                build_type,
                source_repo,
                source_ref,
                source_digest: text(predicate, "/invocation/configSource/digest/sha1"),
                entry_point: text(predicate, "/invocation/configSource/entryPoint"),
            })
        }
        SLSA_V1 => {
            let missing = |field| ProvenanceError::Missing {
                version: "v1",
                field,
            };
            let builder_id = text(predicate, "/runDetails/builder/id")
                .ok_or(missing("runDetails.builder.id"))?;
            let build_type = text(predicate, "/buildDefinition/buildType")
                .ok_or(missing("buildDefinition.buildType"))?;
            let wf = predicate.pointer("/buildDefinition/externalParameters/workflow");
            let dep = predicate
                .pointer("/buildDefinition/resolvedDependencies")
                .and_then(Value::as_array)
                .and_then(|d| {
                    d.iter().find(|d| {
                        d.get("uri")
                            .and_then(Value::as_str)
                            .is_some_and(|u| u.starts_with("git+"))
                    })
                });
            let (dep_repo, dep_ref) = match dep.and_then(|d| d.get("uri")).and_then(Value::as_str) {
                Some(u) => {
                    let (r, g) = split_git_uri(u);
                    (Some(r), g)
                }
                None => (None, None),
            };
            let source_repo = wf
                .and_then(|w| w.get("repository"))
                .and_then(Value::as_str)
                .map(normalise_repo)
                .or(dep_repo);
            let source_ref = wf
                .and_then(|w| w.get("ref"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or(dep_ref);
            Ok(Provenance {
                predicate_type: predicate_type.into(),
                builder_id,
                build_type,
                source_repo,
                source_ref,
                source_digest: dep
                    .and_then(|d| text(d, "/digest/gitCommit").or_else(|| text(d, "/digest/sha1"))),
                entry_point: wf
                    .and_then(|w| w.get("path"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        }
        other => Err(ProvenanceError::Unsupported(other.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slsa_v02_and_v1() {
        let v02 = json!({"builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0"},
            "buildType": "https://github.com/slsa-framework/slsa-github-generator/generic@v1",
            "invocation": {"configSource": {"uri": "git+https://github.com/slsa-framework/example-package@refs/heads/main", "digest": {"sha1": "4d32"}, "entryPoint": ".github/workflows/x.yml"}}});
        let p = parse(SLSA_V02, &v02).unwrap();
        assert_eq!(
            p.source_repo.as_deref(),
            Some("https://github.com/slsa-framework/example-package")
        );
        assert_eq!(p.source_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(p.entry_point.as_deref(), Some(".github/workflows/x.yml"));
        let v1 = json!({"runDetails": {"builder": {"id": GITHUB_HOSTED}},
            "buildDefinition": {"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
              "externalParameters": {"workflow": {"ref": "refs/heads/main", "repository": "https://github.com/sigstore/sigstore-js", "path": ".github/workflows/release.yml"}},
              "resolvedDependencies": [{"uri": "git+https://github.com/sigstore/sigstore-js@refs/heads/main", "digest": {"gitCommit": "46e7"}}]}});
        let p = parse(SLSA_V1, &v1).unwrap();
        assert_eq!(
            p.source_repo.as_deref(),
            Some("https://github.com/sigstore/sigstore-js")
        );
        assert_eq!(p.source_digest.as_deref(), Some("46e7"));
    }

    #[test]
    fn unknown_and_incomplete_predicates_fail_closed() {
        assert!(matches!(
            parse("https://example.com/x", &json!({})),
            Err(ProvenanceError::Unsupported(_))
        ));
        assert!(matches!(
            parse(SLSA_V1, &json!({"runDetails": {}})),
            Err(ProvenanceError::Missing { .. })
        ));
        assert!(matches!(
            parse(SLSA_V02, &json!([])),
            Err(ProvenanceError::Missing { .. })
        ));
    }

    #[test]
    fn git_uris() {
        assert_eq!(
            split_git_uri("git+https://github.com/o/r.git@refs/tags/v1"),
            ("https://github.com/o/r".into(), Some("refs/tags/v1".into()))
        );
        assert_eq!(
            split_git_uri("https://github.com/o/r"),
            ("https://github.com/o/r".into(), None)
        );
    }
}
