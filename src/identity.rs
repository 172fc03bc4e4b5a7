//! Who may sign: identity and issuer matchers, the keyless signer a verified
//! certificate stands for, GitHub workflow claims, and the rule that ties a
//! provenance statement's builder to the certificate that signed it.

use std::collections::BTreeMap;

use globset::GlobMatcher;

use crate::diag::{Code, Diagnostic};
use crate::evidence::{IdentitySigner, Signer};
use crate::provenance::{GITHUB_HOSTED, Provenance, normalise_repo as normalise_git_repo};

/// A regexp for an identity or issuer that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid identity regular expression: {0}")]
pub struct BadRegex(pub String);

/// A sigstore identity rule; a regexp must match the whole value.
#[derive(Debug, Clone)]
pub enum IdentityMatcher {
    Exact(String),
    Regexp(String, regex::Regex),
}

impl IdentityMatcher {
    pub fn regexp(re: &str) -> Result<Self, BadRegex> {
        let anchored = regex::RegexBuilder::new(&format!("^(?:{re})$"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| BadRegex(e.to_string()))?;
        Ok(IdentityMatcher::Regexp(re.to_string(), anchored))
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            IdentityMatcher::Exact(s) => s == value,
            IdentityMatcher::Regexp(_, re) => re.is_match(value),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            IdentityMatcher::Exact(s) => s.clone(),
            IdentityMatcher::Regexp(s, _) => format!("/{s}/"),
        }
    }
}

/// An identity rule from the command line, in cosign's words; both halves
/// are required, and a regexp must match the whole value.
#[derive(Debug, Clone)]
pub struct IdentityRule {
    pub identity: IdentityMatcher,
    pub issuer: IdentityMatcher,
}

/// A trust-store identity, as far as matching a signer goes.
pub struct Trusted<'a> {
    pub name: &'a str,
    pub issuer: &'a str,
    pub identity: &'a IdentityMatcher,
}

/// A keyless signature is judged by some identity rule: the command line's,
/// the trust store's, or (for provenance) the statement's builder.
pub fn rule_needed(flags: bool, trusted: bool, builder_decides: bool) -> Result<(), Diagnostic> {
    if !flags && !trusted && !builder_decides {
        return Err(Diagnostic::error(
            Code::IdentityMissing,
            "the bundle is signed keylessly, and no identity rule says whose signature to accept",
        )
        .hint("pass --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp), or trust the publisher with `mcp-warden trust add-identity`"));
    }
    Ok(())
}

/// The signer a verified Fulcio certificate stands for, once the flags'
/// rule (when given) or some trusted identity (unless the builder decides)
/// accepts its identity and issuer.
pub fn keyless_signer<'a>(
    identity: String,
    issuer: String,
    claims: BTreeMap<String, String>,
    rule: Option<&IdentityRule>,
    trusted: impl IntoIterator<Item = Trusted<'a>>,
    builder_decides: bool,
) -> Result<IdentitySigner, Diagnostic> {
    // A value no matcher was written for is refused before any is tried:
    // a newline or a bidi override in a ref or a SAN is forged, not quoted.
    certificate_values_ok(&identity, &issuer, &claims).map_err(|why| {
        Diagnostic::error(Code::IdentityValueInvalid, why).hint(INVALID_VALUE_HINT)
    })?;
    let trust_names: Vec<String> = trusted
        .into_iter()
        .filter(|t| t.issuer == issuer && t.identity.matches(&identity))
        .map(|t| t.name.to_string())
        .collect();
    let by_flags = match rule {
        Some(rule) => {
            if !rule.identity.matches(&identity) {
                return Err(Diagnostic::error(
                    Code::IdentityMismatch,
                    format!(
                        "the certificate identity is `{identity}`, and --certificate-identity requires {}",
                        rule.identity.describe()
                    ),
                )
                .hint("check the identity for typos; a -regexp must match the whole identity, not a prefix"));
            }
            if !rule.issuer.matches(&issuer) {
                return Err(Diagnostic::error(
                    Code::IssuerMismatch,
                    format!(
                        "the certificate's OIDC issuer is `{issuer}`, and --certificate-oidc-issuer requires {}",
                        rule.issuer.describe()
                    ),
                )
                .hint("check the issuer URL; GitHub Actions uses https://token.actions.githubusercontent.com"));
            }
            true
        }
        None => {
            if trust_names.is_empty() && !builder_decides {
                return Err(Diagnostic::error(
                    Code::IdentityMismatch,
                    format!("signed by `{identity}` from `{issuer}`, which no trusted identity matches"),
                )
                .hint("if this is the publisher, trust it: mcp-warden trust add-identity --name NAME --issuer URL --identity ID --scope GLOB"));
            }
            false
        }
    };
    Ok(IdentitySigner {
        identity,
        issuer,
        trust_names,
        by_flags,
        claims,
    })
}

const INVALID_VALUE_HINT: &str =
    "no genuine certificate or statement carries such a value: do not trust this evidence";

/// The first character of `value` that no identity value may hold: a
/// control character (a newline ends a ref early for a line-based reader),
/// or an invisible formatting one (zero-width, bidi overrides) that makes
/// a value read as another.
pub fn forbidden_char(value: &str) -> Option<char> {
    value.chars().find(|&c| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    })
}

/// Ok when `value`, read as `field` from a certificate or a statement, may
/// be judged at all; a git ref may also hold no `..` (git refuses such
/// names, so one that holds it is forged to walk out of a glob's prefix).
pub fn value_ok(field: &str, value: &str, is_ref: bool) -> Result<(), String> {
    if let Some(c) = forbidden_char(value) {
        return Err(format!(
            "the {field} `{}` holds the character U+{:04X}, which no identity value may hold",
            value.escape_debug(),
            c as u32
        ));
    }
    if is_ref && value.contains("..") {
        return Err(format!(
            "the {field} `{value}` holds `..`, which no git ref may hold"
        ));
    }
    Ok(())
}

/// Every value of a verified certificate: identity (SAN), issuer, claims.
pub fn certificate_values_ok(
    identity: &str,
    issuer: &str,
    claims: &BTreeMap<String, String>,
) -> Result<(), String> {
    value_ok("certificate identity", identity, false)?;
    value_ok("certificate issuer", issuer, false)?;
    for (k, v) in claims {
        value_ok(&format!("certificate's {k} claim"), v, k == "ref")?;
    }
    Ok(())
}

/// Ok when `signer` is a keyless signer whose GitHub workflow claims match
/// the wanted repository, ref glob and workflow glob; otherwise what
/// differs, in words.
pub fn claims_match(
    repository: Option<&str>,
    git_ref: Option<&GlobMatcher>,
    workflow: Option<&GlobMatcher>,
    signer: &Signer,
) -> Result<(), String> {
    let Signer::Identity(id) = signer else {
        return Err("it is signed by a key, not by a CI workflow identity".into());
    };
    let claim = |k: &str| id.claims.get(k).map(String::as_str);
    for (k, v) in &id.claims {
        value_ok(&format!("certificate's {k} claim"), v, k == "ref")?;
    }
    if let Some(want) = repository {
        let got = claim("repository").unwrap_or("");
        if github_repo(got) != github_repo(want) {
            return Err(format!("the certificate names repository `{got}`"));
        }
    }
    if let Some(g) = git_ref {
        let got = claim("ref").unwrap_or("");
        if !g.is_match(got) {
            return Err(format!("the certificate names ref `{got}`"));
        }
    }
    if let Some(g) = workflow {
        let uri = claim("workflow").unwrap_or("");
        if !g.is_match(workflow_path(uri)) && !g.is_match(uri) {
            return Err(format!("the certificate names workflow `{uri}`"));
        }
    }
    Ok(())
}

fn github_repo(r: &str) -> &str {
    let r = r.trim_end_matches('/');
    let r = r.strip_suffix(".git").unwrap_or(r);
    r.strip_prefix("https://github.com/").unwrap_or(r)
}

/// `https://github.com/o/r/.github/workflows/x.yml@refs/tags/v1` →
/// `.github/workflows/x.yml`.
fn workflow_path(uri: &str) -> &str {
    let no_ref = uri.split_once('@').map(|(p, _)| p).unwrap_or(uri);
    match no_ref.find("/.github/") {
        Some(i) => &no_ref[i + 1..],
        None => no_ref,
    }
}

/// As slsa-verifier requires, the builder a sigstore-signed statement names
/// must be the one the certificate vouches for: a reusable-workflow builder
/// must be the certificate's identity; GitHub's hosted runner must match
/// the certificate's runner, repository and workflow claims. Any other
/// builder cannot be related to the certificate and is refused.
pub fn builder_matches_certificate(
    p: &Provenance,
    cert: &IdentitySigner,
) -> Result<(), (Code, String)> {
    certificate_values_ok(&cert.identity, &cert.issuer, &cert.claims)
        .map_err(|why| (Code::IdentityValueInvalid, why))?;
    let mismatch = |why: String| (Code::BuilderIdentityMismatch, why);
    builder_is_signer(p, cert).map_err(mismatch)?;
    source_is_certificates(p, cert).map_err(|why| (Code::CertificateSourceMismatch, why))?;
    // The source the statement claims must be the one the certificate
    // records: otherwise `source-ref` would judge a value the build wrote.
    let claim = |k: &str| cert.claims.get(k).map(String::as_str);
    if let (Some(said), Some(cert_ref)) = (&p.source_ref, claim("ref"))
        && said != cert_ref
    {
        return Err(mismatch(format!(
            "the statement's source ref is `{said}`, but the certificate was issued for `{cert_ref}`"
        )));
    }
    if let (Some(said), Some(cert_commit)) = (&p.source_digest, claim("commit"))
        && !said.eq_ignore_ascii_case(cert_commit)
    {
        return Err(mismatch(format!(
            "the statement's source commit is `{said}`, but the certificate was issued for `{cert_commit}`"
        )));
    }
    Ok(())
}

/// A reusable-workflow builder signs for its caller: its certificate's SAN
/// is the builder, and the caller's repository is in the certificate's
/// source-repository extension. As slsa-verifier does, the statement's
/// source repository must be that one; a statement that names none cannot
/// be tied to it. (GitHub's hosted runner is checked in
/// [`builder_is_signer`].)
fn source_is_certificates(p: &Provenance, cert: &IdentitySigner) -> Result<(), String> {
    if !p.builder_id.contains("/.github/workflows/") {
        return Ok(());
    }
    let Some(cert_repo) = cert.claims.get("repository") else {
        return Ok(());
    };
    let cert_repo = normalise_git_repo(cert_repo);
    match &p.source_repo {
        Some(said) if *said == cert_repo => Ok(()),
        Some(said) => Err(format!(
            "the statement's source repository is `{said}`, but the certificate was issued for `{cert_repo}`"
        )),
        None => Err(format!(
            "the statement names no source repository, and the certificate was issued for `{cert_repo}`"
        )),
    }
}

fn builder_is_signer(p: &Provenance, cert: &IdentitySigner) -> Result<(), String> {
    if p.builder_id.contains("/.github/workflows/") {
        return if p.builder_id == cert.identity {
            Ok(())
        } else {
            Err(format!(
                "the statement names builder `{}`, but the certificate was issued to `{}`",
                p.builder_id, cert.identity
            ))
        };
    }
    if p.builder_id == GITHUB_HOSTED {
        let claim = |k: &str| cert.claims.get(k).map(String::as_str).unwrap_or("");
        if claim("runner-environment") != "github-hosted" {
            return Err(format!(
                "the statement names GitHub's hosted runner, but the certificate's runner environment is `{}`",
                claim("runner-environment")
            ));
        }
        if let Some(repo) = &p.source_repo
            && normalise_git_repo(claim("repository")) != *repo
        {
            return Err(format!(
                "the statement's source is `{repo}`, but the certificate names repository `{}`",
                claim("repository")
            ));
        }
        if let Some(path) = &p.entry_point
            && !claim("workflow")
                .split('@')
                .next()
                .unwrap_or("")
                .ends_with(&format!("/{path}"))
        {
            return Err(format!(
                "the statement's workflow is `{path}`, but the certificate names `{}`",
                claim("workflow")
            ));
        }
        return Ok(());
    }
    Err(format!(
        "builder `{}` cannot be related to the signing certificate (`{}`)",
        p.builder_id, cert.identity
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::SLSA_V1;

    #[test]
    fn identity_regexp_matches_whole_value() {
        let m = IdentityMatcher::regexp("https://github.com/acme/.*").unwrap();
        assert!(m.matches("https://github.com/acme/x"));
        assert!(!m.matches("evil https://github.com/acme/x"));
        let m = IdentityMatcher::regexp("https://github.com/acme").unwrap();
        assert!(!m.matches("https://github.com/acme-evil"));
    }

    fn generic_cert(repo: &str) -> IdentitySigner {
        IdentitySigner {
            identity: "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0".into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            trust_names: vec![],
            by_flags: false,
            claims: [
                ("repository".to_string(), repo.to_string()),
                ("ref".to_string(), "refs/heads/main".to_string()),
                ("commit".to_string(), "4d32".to_string()),
            ]
            .into(),
        }
    }

    #[test]
    fn a_reusable_workflows_source_repository_is_the_certificates() {
        // The generic generator signs for its caller: the caller's
        // repository is the certificate's source-repository extension, and
        // the statement must name that one, in v0.2 and in v1.
        let cert = generic_cert("https://github.com/acme/x");
        let v02 = |uri: &str| {
            crate::provenance::parse(
                crate::provenance::SLSA_V02,
                &serde_json::json!({"builder": {"id": cert.identity},
                    "buildType": "https://github.com/slsa-framework/slsa-github-generator/generic@v1",
                    "invocation": {"configSource": {"uri": uri, "digest": {"sha1": "4d32"}}}}),
            )
            .unwrap()
        };
        let v1 = |uri: &str| {
            crate::provenance::parse(
                SLSA_V1,
                &serde_json::json!({"runDetails": {"builder": {"id": cert.identity}},
                    "buildDefinition": {"buildType": "t",
                      "resolvedDependencies": [{"uri": uri, "digest": {"gitCommit": "4d32"}}]}}),
            )
            .unwrap()
        };
        for p in [
            v02("git+https://github.com/acme/x@refs/heads/main"),
            v02("git+https://github.com/acme/x.git@refs/heads/main"),
            v1("git+https://github.com/acme/x@refs/heads/main"),
        ] {
            assert_eq!(builder_matches_certificate(&p, &cert), Ok(()));
        }
        for p in [
            v02("git+https://github.com/slsa-framework/example-package@refs/heads/main"),
            v02("git+https://github.com/acme/x-evil@refs/heads/main"),
            v02("git+https://github.com/ACME/x@refs/heads/main"),
            v02("git+https://gitlab.com/acme/x@refs/heads/main"),
            v1("git+https://github.com/acme/y@refs/heads/main"),
        ] {
            let (code, why) = builder_matches_certificate(&p, &cert).unwrap_err();
            assert_eq!(code, Code::CertificateSourceMismatch, "{why}");
            assert!(why.contains("https://github.com/acme/x`"), "{why}");
        }
        // A statement that names no source cannot be tied to the caller.
        let mut none = v02("git+https://github.com/acme/x@refs/heads/main");
        none.source_repo = None;
        assert_eq!(
            builder_matches_certificate(&none, &cert).unwrap_err().0,
            Code::CertificateSourceMismatch
        );
    }

    #[test]
    fn certificate_values_with_control_characters_are_refused() {
        let p = crate::provenance::parse(
            crate::provenance::SLSA_V02,
            &serde_json::json!({"builder": {"id": generic_cert("x").identity},
                "buildType": "t",
                "invocation": {"configSource": {"uri": "git+https://github.com/acme/x@refs/heads/main", "digest": {"sha1": "4d32"}}}}),
        )
        .unwrap();
        for (k, v) in [
            ("repository", "https://github.com/acme/x\n"),
            ("ref", "refs/heads/main\u{202e}"),
            ("ref", "refs/tags/v1/../../heads/main"),
            ("workflow", "x\0"),
        ] {
            let mut cert = generic_cert("https://github.com/acme/x");
            cert.claims.insert(k.into(), v.into());
            assert_eq!(
                builder_matches_certificate(&p, &cert).unwrap_err().0,
                Code::IdentityValueInvalid,
                "{k} = {v:?}"
            );
            let rule = keyless_signer(
                cert.identity.clone(),
                cert.issuer.clone(),
                cert.claims.clone(),
                None,
                [],
                true,
            );
            assert_eq!(rule.unwrap_err().code, Code::IdentityValueInvalid);
        }
    }

    #[test]
    fn ref_and_workflow_claims_match_by_path_segment() {
        let glob = |g: &str| {
            crate::trust::compile_path_glob(g)
                .unwrap()
                .compile_matcher()
        };
        let signer = |git_ref: &str, workflow: &str| {
            let mut c = generic_cert("https://github.com/acme/x");
            c.claims.insert("ref".into(), git_ref.into());
            c.claims.insert("workflow".into(), workflow.into());
            Signer::Identity(c)
        };
        let wf = "https://github.com/acme/x/.github/workflows/release.yml@refs/tags/v1";
        let tags = glob("refs/tags/v*");
        assert!(claims_match(None, Some(&tags), None, &signer("refs/tags/v1.2", wf)).is_ok());
        assert!(claims_match(None, Some(&tags), None, &signer("refs/tags/v1/x", wf)).is_err());
        assert!(claims_match(None, Some(&tags), None, &signer("refs/tags/v1\n", wf)).is_err());
        assert!(
            claims_match(
                None,
                Some(&tags),
                None,
                &signer("refs/tags/v1/../../heads/main", wf)
            )
            .is_err()
        );
        let any_tag = glob("refs/tags/**");
        assert!(claims_match(None, Some(&any_tag), None, &signer("refs/tags/v1/x", wf)).is_ok());
        let release = glob(".github/workflows/release*.yml");
        assert!(claims_match(None, None, Some(&release), &signer("refs/tags/v1", wf)).is_ok());
        let nested = "https://github.com/acme/x/.github/workflows/release/../evil.yml@refs/tags/v1";
        assert!(claims_match(None, None, Some(&release), &signer("refs/tags/v1", nested)).is_err());
        let shallow = glob("*.yml");
        assert!(claims_match(None, None, Some(&shallow), &signer("refs/tags/v1", wf)).is_err());
    }

    #[test]
    fn source_must_be_the_certificates() {
        let p = Provenance {
            predicate_type: SLSA_V1.into(),
            builder_id: "https://github.com/o/b/.github/workflows/build.yml@refs/tags/v1".into(),
            build_type: "t".into(),
            source_repo: Some("https://github.com/o/r".into()),
            source_ref: Some("refs/tags/v9".into()),
            source_digest: Some("abc".into()),
            entry_point: None,
        };
        let mut cert = IdentitySigner {
            identity: p.builder_id.clone(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            trust_names: vec![],
            by_flags: false,
            claims: [
                ("ref".to_string(), "refs/heads/main".to_string()),
                ("commit".to_string(), "abc".to_string()),
            ]
            .into(),
        };
        let e = builder_matches_certificate(&p, &cert).unwrap_err().1;
        assert!(
            e.contains("refs/tags/v9") && e.contains("refs/heads/main"),
            "{e}"
        );
        cert.claims.insert("ref".into(), "refs/tags/v9".into());
        assert!(builder_matches_certificate(&p, &cert).is_ok());
        cert.claims.insert("commit".into(), "def".into());
        assert!(
            builder_matches_certificate(&p, &cert)
                .unwrap_err()
                .1
                .contains("commit")
        );
        cert.identity = "https://github.com/evil/x/.github/workflows/y.yml@refs/heads/main".into();
        assert!(
            builder_matches_certificate(&p, &cert)
                .unwrap_err()
                .1
                .contains("builder")
        );
    }
}
