//! Diagnostics: findings with stable codes, rendered by `report`.
//!
//! The codes are part of the public interface (JSON output, the reference
//! in docs/src/reports.md, the man page): never rename one. A code is
//! listed only once something emits it.

use serde::Serialize;

/// How much a finding weighs. Only `Error` can deny on its own; the policy
/// decides which failed checks become errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

macro_rules! codes {
    ($($variant:ident => $code:literal : $doc:literal,)*) => {
        /// Every stable diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// One line on what the code means, for the reference and `--help`.
            pub fn doc(self) -> &'static str {
                match self { $(Code::$variant => $doc,)* }
            }
        }
    };
}

codes! {
    // artifact and digest
    ArtifactUnreadable => "artifact-unreadable": "the artifact could not be opened or read (missing, a directory, a symlink loop, no permission)",
    DigestMismatch => "digest-mismatch": "the artifact's digest differs from a digest that the policy or a signed statement pins",
    DigestModeUnsupported => "digest-mode-unsupported": "a signature cannot be checked against a bare digest (minisign hashes the file itself with BLAKE2b; pass the file)",
    // signatures
    SignatureMissing => "signature-missing": "the policy requires a signature and none was given or none verified",
    SignatureMalformed => "signature-malformed": "a signature file could not be parsed (truncated, garbled, wrong format)",
    SignatureUnsupported => "signature-unsupported": "a signature uses a key type, hash or payload this version does not verify",
    SignatureInvalid => "signature-invalid": "a signature does not verify: the artifact or the signature was changed, or another key signed it",
    BundleMalformed => "bundle-malformed": "a sigstore bundle could not be parsed (truncated, not JSON, missing fields)",
    BundleUnsupported => "bundle-unsupported": "a sigstore bundle uses a version, entry kind or key type this version cannot verify",
    IdentityMissing => "identity-missing": "a keyless sigstore bundle was given without any identity rule (--certificate-identity or a trusted identity); there is no \"any identity\" default",
    IdentityMismatch => "identity-mismatch": "the bundle's certificate identity does not match the required identity",
    IssuerMismatch => "issuer-mismatch": "the bundle's certificate OIDC issuer does not match the required issuer",
    IdentityClaimsMismatch => "identity-claims-mismatch": "the certificate's GitHub workflow claims (repository, ref, workflow) do not match [servers.identity]",
    CertificateInvalid => "certificate-invalid": "the signing certificate does not chain to the trusted Fulcio CA, was not valid at signing time, or its SCT is invalid",
    TrustedRootExpired => "trusted-root-expired": "no certificate authority of the trusted root was valid at the signing time",
    TrustedRootInvalid => "trusted-root-invalid": "the trusted root cannot be used (malformed, or keys and windows that do not check out)",
    TlogInvalid => "tlog-invalid": "the transparency log entry is unknown to the trusted root or does not match the bundle",
    InclusionProofInvalid => "inclusion-proof-invalid": "the transparency log inclusion proof does not verify",
    CheckpointInvalid => "checkpoint-invalid": "the transparency log checkpoint (signed tree head) does not verify",
    SetInvalid => "set-invalid": "the signed entry timestamp (inclusion promise) does not verify",
    TimestampInvalid => "timestamp-invalid": "an RFC 3161 timestamp does not verify, or no trusted signing time exists",
    NamespaceMismatch => "namespace-mismatch": "an OpenSSH signature was made for another namespace than the one the key is trusted for",
    KeyUnknown => "key-unknown": "no trusted or given key matches the key that made the signature",
    KeyMalformed => "key-malformed": "a public key file could not be parsed, or holds a key type this version does not support",
    SignerUntrusted => "signer-untrusted": "the signature verifies, but with a key given on the command line that the policy's trust store does not hold",
    SignerOutOfScope => "signer-out-of-scope": "the signer is trusted, but its scopes do not cover this server name",
    SignerNotAllowed => "signer-not-allowed": "the signer is trusted and in scope, but the server's policy entry names other signers",
    // provenance
    ProvenanceNotBound => "provenance-not-bound": "the provenance statement is about another artifact: no subject digest equals the artifact's",
    ProvenanceUnsupported => "provenance-unsupported": "the statement's predicate type is not SLSA provenance v0.2 or v1, so it is refused",
    ProvenanceInvalid => "provenance-invalid": "a package of an npm tree offers provenance (`dist.attestations`) that cannot be read or does not verify: refused whatever the policy, as tampering",
    ProvenanceMalformed => "provenance-malformed": "the provenance statement lacks fields SLSA requires (builder, build type), or the file holds no statement",
    BuilderIdentityMismatch => "builder-identity-mismatch": "the provenance names a builder other than the one its signing certificate was issued to",
    BuilderUntrusted => "builder-untrusted": "the provenance's builder is not one that [servers.provenance] `builder-id` allows, and no trusted signer vouches for it",
    SourceMismatch => "source-mismatch": "the provenance's source repository or ref differs from [servers.provenance] `source-repo` / `source-ref`",
    BuildTypeMismatch => "build-type-mismatch": "the provenance's build type is not one that [servers.provenance] `build-type` allows",
    CertificateSourceMismatch => "certificate-source-mismatch": "the provenance's source repository differs from the repository its signing certificate was issued for (a reusable-workflow builder signs for its caller)",
    IdentityValueInvalid => "identity-value-invalid": "an identity value read from a certificate or a statement (identity, issuer, repository, ref, workflow, builder id) holds a control or invisible formatting character, or a ref holds a `..` segment; it is refused, never matched",
    StatementNotEndorsement => "statement-not-endorsement": "a signed in-toto statement whose predicate does not endorse the artifact (not SLSA provenance, npm's or PyPI's publish attestation, or a PASSED verification summary) is recorded, and does not count as a signature",
    // sbom and advisories
    SbomMalformed => "sbom-malformed": "an SBOM could not be parsed, or fails its format's JSON schema or XSD",
    SbomUnsupported => "sbom-unsupported": "an SBOM format or version this version does not read (SPDX 3), or an attestation that is not an SBOM",
    SbomNotBound => "sbom-not-bound": "the SBOM does not describe this artifact: no top-component hash, purl or name and version matches it",
    SbomUnsigned => "sbom-unsigned": "the SBOM is not signed by a signer trusted for the server (an attestation, or a loose file with a verified --sbom-signature), and the policy requires a signed one (`signed = false` accepts unsigned loose files)",
    SbomIncomplete => "sbom-incomplete": "the SBOM the package ships leaves out a package of the resolved tree, or lists it at another version",
    PackageMetadataInvalid => "package-metadata-invalid": "a package of the pinned tree has malformed metadata (package.json, METADATA), so no SBOM of the tree can be made",
    SbomStale => "sbom-stale": "the SBOM is older than [servers.sbom] `max-age`, or says nothing of when it was made",
    ComponentDenied => "component-denied": "the SBOM lists a component that [servers.sbom] `deny-components` denies",
    ComponentUnidentified => "component-unidentified": "an SBOM component has no valid purl, so advisories and purl rules cannot judge it ([servers.sbom] `unidentified` says whether that denies)",
    ComponentVersionConflict => "component-version-conflict": "an SBOM component's `version` differs from its purl's version; the purl's is judged",
    SbomBindingConflict => "sbom-binding-conflict": "the SBOM's top component carries hashes that contradict each other about the artifact: one matches, another of a computed algorithm does not",
    LicenseDenied => "license-denied": "a component's licence expression cannot be satisfied under the policy's licence lists",
    LicenseUnknown => "license-unknown": "a component's licence is missing, NOASSERTION or not a valid SPDX expression, and the policy says to warn",
    VulnerableComponent => "vulnerable-component": "a component is affected by an advisory at or above the policy's severity threshold",
    AdvisoryUnknown => "advisory-unknown": "whether a component is affected by an advisory cannot be decided (unparsable version, unknown range kind)",
    AdvisoryIgnoreUnused => "advisory-ignore-unused": "an [advisories] ignore entry matched no advisory of any component",
    AdvisoryDbMissing => "advisory-db-missing": "a policy has an [advisories] table, but no layer names a `db` (and, in a decision, --advisories was not given): no advisory database is in force and its rules check nothing",
    AdvisoryDbIncomplete => "advisory-db-incomplete": "the advisory database skipped records it could not read (malformed, truncated, oversized, nested too deep); a component a skipped record still names is advisory-unknown",
    AdvisoryDbStale => "advisory-db-stale": "the advisory database's newest record is older than [advisories] `max-age` (default 7d), or no record says when it was modified; an error where `stale = \"deny\"`",
    // policy decisions
    EvidenceMissing => "evidence-missing": "the policy requires a kind of evidence (provenance, sbom) that was not given",
    VersionUnknown => "version-unknown": "the policy pins versions, but the artifact's version is not known",
    VersionNotAllowed => "version-not-allowed": "the version the artifact was fetched as is outside the server's `versions` range",
    SourceNotAllowed => "source-not-allowed": "the artifact was not fetched from the source its `[[servers]] source` names (another kind, package or version, or a local file)",
    EvidenceNotKept => "evidence-not-kept": "`add` was given --key, identity flags or --trusted-root, which the pin cannot keep: `run` judges under the trust store only, so the pin could never run",
    DefaultPolicy => "default-policy": "no policy file was found: the built-in default applies (a valid signature by a trusted key in scope)",
    AuditMode => "audit-mode": "the policy is in audit mode: a denial is reported but not enforced",
    ExceptionApplied => "exception-applied": "a policy exception waived a requirement for this server",
    UnsignedPinned => "unsigned-pinned": "the server is pinned without a signature on purpose (`add --unsigned --reason`); the reason is shown with every decision",
    InstallScriptsDenied => "install-scripts-denied": "a package in the npm tree to pin (or the package itself) declares install scripts, and the policy refuses such trees (`[sources] install-scripts = \"deny\"`); the scripts were not run",
    InstallScriptsPresent => "install-scripts-present": "a package in the pinned npm tree (or the package itself) declares install scripts; they were not run and never are (`[sources] install-scripts` defaults to \"warn\")",
    RegistrySignatureInvalid => "registry-signature-invalid": "a package of the tree carries a registry signature (`dist.signatures`) that is malformed, does not verify against the registry's pinned key, or was made by a key after it expired: the metadata or the file was changed; refused whatever the policy",
    RegistrySignatureMissing => "registry-signature-missing": "the policy requires a valid registry signature for the package or its whole tree (`[sources] registry-signatures`), and some packages have none (none offered, a key not pinned, or an expired key and an unknown publish time)",
    PackageRepublished => "package-republished": "`update` found a package of the tree at the same version with another integrity: the registry serves other bytes under a version already pinned; nothing is pinned without --yes",
    UnsignedForbidden => "unsigned-forbidden": "the server was added or pinned with --unsigned, and the policy forbids pins without a signature (`[sources] allow-unsigned = false`)",
    // policy file
    PolicySyntax => "policy-syntax": "the policy file is not valid TOML",
    PolicyUnknownKey => "policy-unknown-key": "the policy file has a key this version does not know",
    PolicyType => "policy-type": "a policy value has the wrong type or an invalid value",
    PolicyVersion => "policy-version": "the policy file's `version` is missing or not 1",
    PolicyUnknownSigner => "policy-unknown-signer": "the policy names a signer that is not in the trust store",
    PolicyBadPattern => "policy-bad-pattern": "a glob, regular expression, digest or version requirement in the policy is invalid",
    PolicyContradiction => "policy-contradiction": "two rules of the policy cannot both hold",
    PolicyMissingReason => "policy-missing-reason": "an exception has no `reason`",
    PolicyDuplicate => "policy-duplicate": "a server is named twice in one policy file",
    PolicyLoosening => "policy-loosening": "the user policy tries to loosen the system policy; the system policy still applies",
    ExceptionUnused => "exception-unused": "a policy exception matches no server entry and no pinned server",
    PolicyNameCase => "policy-name-case": "a `[[servers]]` entry's name differs from a pinned server's or another entry's only in case, so it applies to neither",
    // sources, cache and lock
    SourceInvalid => "source-invalid": "a source is malformed or of a kind this version does not fetch (the message lists the supported forms)",
    SourceNotFound => "source-not-found": "the package, version or file does not exist at the source (HTTP 404, unknown version or dist-tag)",
    FetchFailed => "fetch-failed": "fetching failed: connection, TLS, timeout, the download's deadline (--timeout) or minimum rate (--min-rate) missed, redirect to http, an HTTP error status or a truncated body",
    ArtifactTooLarge => "artifact-too-large": "the artifact or a metadata document is larger than the limit for its kind",
    IntegrityMismatch => "integrity-mismatch": "the fetched artifact's digest differs from the one its registry publishes or the lock pins",
    ArchiveUnsafe => "archive-unsafe": "an archive was refused: a path or link leaving its root, a device file, too many entries, too large or too compressed, a name twice, or a zip with data outside its entries that readers could see differently",
    CacheError => "cache-error": "the cache could not be read or written",
    CacheMismatch => "cache-mismatch": "a cached artifact or unpacked tree no longer has the digest it was stored under",
    LockInvalid => "lock-invalid": "servers.lock could not be read, parsed or written",
    Downgrade => "downgrade": "the new version is lower than the pinned one (rollback protection; --allow-downgrade accepts it)",
    DependencyUnresolved => "dependency-unresolved": "the package's dependency tree could not be resolved (npm missing from PATH, failed, timed out or said too much)",
    DependencyRefused => "dependency-refused": "a dependency in the resolved tree was refused: not a registry release over https on the registry's host, no sha512 integrity, a link, file, git or workspace package, a bundled dependency, or a platform it cannot run on",
    ServerUnknown => "server-unknown": "no server of that name is pinned in servers.lock",
    // launch and secrets
    EntryPoint => "entry-point": "run cannot tell how to start the pinned artifact, or its entry point is missing, malformed or needs dependencies it does not contain",
    SecretMissing => "secret-missing": "a secret the server needs is not in the keychain (mcp-warden secret set SERVER VAR)",
    EnvMissing => "env-missing": "a variable the server requires has no value in run's environment",
    EnvRefused => "env-refused": "a variable that makes a runtime load code (NODE_OPTIONS, LD_PRELOAD, PYTHONPATH, ...) came from registry metadata, run --env or a stored secret; only the policy's [servers.run] env may set one",
    KeychainUnavailable => "keychain-unavailable": "the OS keychain (Secret Service, keyutils, macOS Keychain, Windows Credential Manager) could not be reached or refused the request",
    LaunchFailed => "launch-failed": "the verified server could not be started (not executable, no interpreter, exec error)",
    ClientConfig => "client-config": "an MCP client's config could not be read, parsed or rewritten",
    // guard, sandbox and audit
    SandboxUnavailable => "sandbox-unavailable": "the policy says `sandbox = \"require\"`, and this system cannot enforce the whole sandbox (Landlock, seccomp), so run refuses to start",
    AuditUnavailable => "audit-unavailable": "the audit log cannot be opened or written, or its key in the keychain cannot be read, so run refuses to start a server it could not account for",
    AuditBroken => "audit-broken": "the audit log's hash chain is broken: a record was edited, removed, inserted or reordered, or the log was cut short; or the log or its head do not match the audit key and anchor in the keychain (rewritten, deleted, replaced)",
    // trust store and input
    TrustStoreInvalid => "trust-store-invalid": "a trust store file could not be read or parsed",
    TrustInput => "trust-input": "a trust store change was refused (no scope, duplicate name, system entry, bad key or pattern)",
    PolicyUnreadable => "policy-unreadable": "a policy file could not be read",
    Usage => "usage": "the command line is not valid (unknown option, missing argument)",
    InputInvalid => "input-invalid": "an argument or input file is invalid (bad digest, unreadable signature or key file)",
    Internal => "internal-error": "mcp-warden failed for a reason of its own; please report it",
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: what happened and, separately, what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// `file:line:column` for findings in a file the user wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            hint: None,
            location: None,
        }
    }

    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }

    pub fn info(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Info, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

/// Exit status of a check that ran and denied (or found a mismatch).
pub const EXIT_DENIED: u8 = 1;
/// Exit status of input that could not be used: usage, unreadable or
/// malformed files, failed downloads.
pub const EXIT_INPUT: u8 = 2;

/// An error that knows how it is reported: its stable code, what to do
/// about it, and the exit status. The edge (`cli`) converts through this
/// alone instead of choosing codes at each call site.
pub trait Diagnose: std::error::Error {
    fn code(&self) -> Code;

    fn hint(&self) -> Option<String> {
        None
    }

    fn exit(&self) -> u8 {
        EXIT_INPUT
    }

    fn diagnostic(&self) -> Diagnostic {
        let mut d = Diagnostic::error(self.code(), self.to_string());
        d.hint = Diagnose::hint(self);
        d
    }
}

/// A failed operation with its findings and exit status: what every
/// library pipeline (`ops`) returns, and what `cli` prints.
#[derive(Debug, thiserror::Error)]
#[error("{}", .diagnostics.first().map(|d| d.message.as_str()).unwrap_or("failed"))]
pub struct Failure {
    pub diagnostics: Vec<Diagnostic>,
    pub exit: u8,
}

impl Failure {
    pub fn input(code: Code, message: impl Into<String>, hint: Option<String>) -> Self {
        let mut d = Diagnostic::error(code, message);
        d.hint = hint;
        Failure {
            diagnostics: vec![d],
            exit: EXIT_INPUT,
        }
    }

    /// Names what failed: `NAME: message` on the first finding.
    pub fn about(mut self, name: &str) -> Self {
        if let Some(d) = self.diagnostics.first_mut() {
            d.message = format!("{name}: {}", d.message);
        }
        self
    }

    pub fn denied(diagnostics: Vec<Diagnostic>) -> Self {
        Failure {
            diagnostics,
            exit: EXIT_DENIED,
        }
    }
}

impl<E: Diagnose> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            diagnostics: vec![e.diagnostic()],
            exit: e.exit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'),
                "{s} is not kebab-case"
            );
            assert!(!c.doc().is_empty());
        }
    }

    #[test]
    fn the_reference_documents_every_code() {
        let reference = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/reports.md"));
        for c in Code::ALL {
            assert!(
                reference.contains(&format!("| `{}` |", c.as_str())),
                "docs/src/reports.md does not document `{}`",
                c.as_str()
            );
        }
    }
}
