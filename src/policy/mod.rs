//! The policy: file format, validation with positions, layering of the
//! system and user files, evaluation of evidence, and explanations.
//!
//! Layering is done by evaluation, not by merging: the system policy and
//! the user's are each evaluated on their own and an artifact is allowed
//! only when every layer allows it. A user file therefore can only tighten;
//! what would loosen is reported by `check` and has no effect.

mod advisories;
mod eval;
mod explain;
mod parse;
pub mod range;
mod sbom;
mod template;
mod vouch;

use std::fmt;
use std::path::{Path, PathBuf};

pub use advisories::{advisory_db_findings, advisory_tables_without_db};
pub use eval::{Decision, LayerDecision, evaluate};
pub use explain::{also_applies, explain};
pub use parse::parse;
pub use sbom::judge_resolved;
pub use template::TEMPLATE;

use crate::context::Context;
use crate::diag::{Code, Diagnostic, Severity};
use crate::digest::Digest;
use crate::evidence::{Origin, OriginKind};
use crate::fsutil::{self, ReadError};
use crate::trust::{Scopes, TrustStore};

pub const MAX_POLICY_FILE: u64 = 1024 * 1024;

/// A position in a policy file, for `file:line:column` messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    System,
    User,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::System => "system policy",
            Layer::User => "user policy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Audit,
}

/// Kinds of evidence a policy can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Requirement {
    Signature,
    Provenance,
    Sbom,
}

impl Requirement {
    pub const ALL: [Requirement; 3] = [
        Requirement::Signature,
        Requirement::Provenance,
        Requirement::Sbom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Requirement::Signature => "signature",
            Requirement::Provenance => "provenance",
            Requirement::Sbom => "sbom",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// A value with the place it was written.
#[derive(Debug, Clone)]
pub struct At<T> {
    pub value: T,
    pub loc: Loc,
}

#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub require: Option<At<Vec<Requirement>>>,
    /// Trust-store names; `None` means any trusted signer in scope.
    pub signers: Option<At<Vec<String>>>,
}

#[derive(Debug, Clone)]
pub struct ServerRule {
    pub name: String,
    pub loc: Loc,
    /// The package (or URL) the server must be fetched from; it also makes
    /// the rule apply to every server fetched from that package.
    pub source: Option<SourceRule>,
    pub rules: Rules,
    /// `signed-by`: trust-store names; the entry also applies to every
    /// server whose artifact one of them signed, whatever its name.
    pub signed_by: Option<At<Vec<String>>>,
    pub digests: Option<At<Vec<Digest>>>,
    /// The versions allowed, in the order of the source's ecosystem
    /// ([`range`]: the deny rules' semantics; a bare version is exact).
    pub versions: Option<At<range::VersionRange>>,
    pub identity: Option<IdentityClaims>,
    pub provenance: Option<ProvenanceRules>,
    pub sbom: Option<SbomRules>,
    pub run: Option<RunRules>,
    /// `[servers.tools] pinned`: the approved tool list's digest.
    pub tools_pinned: Option<At<String>>,
}

/// `[[servers]] source`: a package (npm, PyPI, an MCP registry server) or
/// a URL (https, `.mcpb`), with or without a version.
#[derive(Debug, Clone)]
pub struct SourceRule {
    /// As written.
    pub text: String,
    pub kind: OriginKind,
    /// The package or registry server name, or the URL.
    pub name: String,
    pub version: Option<String>,
    pub loc: Loc,
}

impl SourceRule {
    /// Reads a source spec as a rule: what `add` fetches from, less the
    /// local forms, which name no source (a local file is pinned by
    /// `digests`).
    pub fn parse(text: &str, loc: Loc) -> Result<SourceRule, String> {
        use crate::source::{Location, Source};
        let source: Source = text.parse().map_err(|e| format!("{e}"))?;
        let (kind, name, version) = match source {
            Source::Npm { name, version } => (OriginKind::Npm, name, version),
            Source::Pypi { name, version } => (OriginKind::Pypi, name, version),
            Source::Registry { name, version } => (OriginKind::Registry, name, version),
            Source::Https(url) => (OriginKind::Https, url, None),
            Source::Mcpb(Location::Url(url)) => (OriginKind::Mcpb, url, None),
            Source::Path(_) | Source::ServerJson(_) | Source::Mcpb(Location::Path(_)) => {
                return Err("a local path is not a source a rule can check".into());
            }
        };
        Ok(SourceRule {
            text: text.to_string(),
            kind,
            name,
            version,
            loc,
        })
    }

    /// The part of `origin` this rule's package is: the origin itself or
    /// the package a registry source resolved to, any version.
    pub fn names<'o>(&self, origin: &'o Origin) -> Option<&'o Origin> {
        origin
            .chain()
            .find(|o| o.kind == self.kind && o.name.as_deref().is_some_and(|n| self.same_name(n)))
    }

    /// Package names as the ecosystem compares them (npm folds case,
    /// PyPI is PEP 503); registry names and URLs exactly.
    fn same_name(&self, other: &str) -> bool {
        use crate::sbom::package::normalise_name;
        match self.kind {
            OriginKind::Npm => normalise_name("npm", &self.name) == normalise_name("npm", other),
            OriginKind::Pypi => normalise_name("PyPI", &self.name) == normalise_name("PyPI", other),
            _ => self.name == other,
        }
    }

    /// Ok when `origin` is this source (at its version, if it names one);
    /// otherwise what differs, in words.
    pub fn check(&self, origin: &Origin) -> Result<(), String> {
        let Some(got) = self.names(origin) else {
            return Err(format!("it was fetched from {}", origin.describe()));
        };
        let Some(want) = &self.version else {
            return Ok(());
        };
        match got.version.as_deref() {
            Some(v) if range::equal(scheme_of(got.kind), v, want) => Ok(()),
            Some(v) => Err(format!("it was fetched at version {v}")),
            None => Err(format!("{} has no version", got.describe())),
        }
    }
}

/// How versions of a source kind are ordered; `None` tries SemVer, then
/// PEP 440.
pub fn scheme_of(kind: OriginKind) -> Option<range::Scheme> {
    match kind {
        OriginKind::Npm | OriginKind::Mcpb => Some(range::Scheme::Semver),
        OriginKind::Pypi => Some(range::Scheme::Pep440),
        OriginKind::Registry | OriginKind::Https | OriginKind::Local => None,
    }
}

/// `[servers.run]`: how `run` starts the server, and the guard's and
/// sandbox's rules. `None` is "not said here"; [`PolicySet::run_rules`]
/// merges the layers and the defaults live where the rules are applied.
#[derive(Debug, Clone, Default)]
pub struct RunRules {
    /// Variables the server receives, and from where.
    pub env: Vec<(String, EnvRule, Loc)>,
    /// The interpreter for script entry points, instead of the one on PATH.
    pub interpreter: Option<At<PathBuf>>,
    /// The stdio guard between client and server (default on).
    pub guard: Option<bool>,
    pub sandbox: Option<SandboxMode>,
    /// TCP and UDP for the server (default off).
    pub network: Option<bool>,
    /// Globs over tool names.
    pub confirm_tools: Vec<String>,
    pub deny_tools: Vec<String>,
    /// `rate`: `tools/call` per second, over all tools and per tool.
    pub rate_overall: Option<f64>,
    pub rate_per_tool: Option<f64>,
    pub rate_burst: Option<u32>,
    pub strict_arguments: Option<bool>,
    pub max_message_size: Option<u64>,
    pub max_depth: Option<u64>,
    pub max_in_flight: Option<u64>,
    /// Resource limits of the server (src/launch/limits.rs): tasks it may
    /// add, data memory and file size in MiB, open files.
    pub max_processes: Option<u64>,
    pub max_memory_mib: Option<u64>,
    pub max_file_size_mib: Option<u64>,
    pub max_open_files: Option<u64>,
    /// Paths the sandboxed server may read (`read-paths`) or read and
    /// write (`write-paths`): absolute, or `~/...` under the user's home.
    pub read_paths: Vec<At<String>>,
    pub write_paths: Vec<At<String>>,
    /// `grant-arg-paths`: the sandbox also lets the server read and write
    /// the existing paths among its pinned arguments (default off).
    pub grant_arg_paths: Option<bool>,
    /// Where each key was written, for `policy check`'s findings.
    pub at: std::collections::BTreeMap<&'static str, Loc>,
}

impl RunRules {
    /// One layer's rules for a server: its entry's `[servers.run]` over
    /// the layer's `[defaults.run]`, key by key (an entry's key replaces
    /// the default's, as its `require` does; patterns add up). Across
    /// layers the stricter holds instead ([`PolicySet::run_rules`]).
    pub fn overlay(defaults: Option<&RunRules>, entry: Option<&RunRules>) -> Option<RunRules> {
        let (d, e) = match (defaults, entry) {
            (None, None) => return None,
            (Some(r), None) | (None, Some(r)) => return Some(r.clone()),
            (Some(d), Some(e)) => (d, e),
        };
        let mut out = e.clone();
        out.guard = e.guard.or(d.guard);
        out.sandbox = e.sandbox.or(d.sandbox);
        out.network = e.network.or(d.network);
        out.grant_arg_paths = e.grant_arg_paths.or(d.grant_arg_paths);
        out.strict_arguments = e.strict_arguments.or(d.strict_arguments);
        out.rate_overall = e.rate_overall.or(d.rate_overall);
        out.rate_per_tool = e.rate_per_tool.or(d.rate_per_tool);
        out.rate_burst = e.rate_burst.or(d.rate_burst);
        out.max_message_size = e.max_message_size.or(d.max_message_size);
        out.max_depth = e.max_depth.or(d.max_depth);
        out.max_in_flight = e.max_in_flight.or(d.max_in_flight);
        out.max_processes = e.max_processes.or(d.max_processes);
        out.max_memory_mib = e.max_memory_mib.or(d.max_memory_mib);
        out.max_file_size_mib = e.max_file_size_mib.or(d.max_file_size_mib);
        out.max_open_files = e.max_open_files.or(d.max_open_files);
        if e.read_paths.is_empty() && e.write_paths.is_empty() {
            out.read_paths = d.read_paths.clone();
            out.write_paths = d.write_paths.clone();
        }
        for (into, from) in [
            (&mut out.confirm_tools, &d.confirm_tools),
            (&mut out.deny_tools, &d.deny_tools),
        ] {
            for p in from {
                if !into.contains(p) {
                    into.push(p.clone());
                }
            }
        }
        for (k, loc) in &d.at {
            out.at.entry(k).or_insert_with(|| loc.clone());
        }
        Some(out)
    }
}

/// Whether `path` (a policy's `read-paths`/`write-paths` entry) lies at
/// or under `within`, compared by whole components. A `.` or `..`
/// component is never within anything: it could climb out.
pub fn path_within(path: &str, within: &str) -> bool {
    let parts = |s: &str| -> Option<Vec<String>> {
        let mut v = Vec::new();
        for c in s.split('/').filter(|c| !c.is_empty()) {
            if c == "." || c == ".." {
                return None;
            }
            v.push(c.to_string());
        }
        Some(v)
    };
    let home = |s: &str| s.starts_with("~/") || s == "~";
    if home(path) != home(within) {
        return false;
    }
    match (parts(path), parts(within)) {
        (Some(p), Some(w)) => p.len() >= w.len() && p[..w.len()] == w[..],
        _ => false,
    }
}

/// `[servers.run] sandbox`, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SandboxMode {
    Off,
    BestEffort,
    Require,
}

impl SandboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Off => "off",
            SandboxMode::BestEffort => "best-effort",
            SandboxMode::Require => "require",
        }
    }
}

/// Where a `[servers.run] env` variable comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvRule {
    /// From the OS keychain (`mcp-warden secret set`); required.
    Keychain,
    /// From the environment `run` was started with (the client's config).
    Inherit,
}

/// `[servers.identity]`: GitHub workflow claims a keyless signature's
/// certificate must carry.
#[derive(Debug, Clone)]
pub struct IdentityClaims {
    /// `owner/repo` or its URL.
    pub repository: Option<String>,
    /// Glob over the git ref, e.g. `refs/tags/v*`.
    pub git_ref: Option<globset::GlobMatcher>,
    pub git_ref_text: Option<String>,
    /// Glob over the workflow path, e.g. `.github/workflows/release.yml`.
    pub workflow: Option<globset::GlobMatcher>,
    pub workflow_text: Option<String>,
    pub loc: Loc,
}

impl IdentityClaims {
    /// Ok when `signer` is a keyless signer whose claims match; otherwise
    /// what differs, in words.
    pub fn check(&self, signer: &crate::evidence::Signer) -> Result<(), String> {
        crate::identity::claims_match(
            self.repository.as_deref(),
            self.git_ref.as_ref(),
            self.workflow.as_ref(),
            signer,
        )
    }
}

/// `[servers.provenance]`: what the build provenance must say.
#[derive(Debug, Clone)]
pub struct ProvenanceRules {
    /// Exact builder ids or globs (`…/generator_generic_slsa3.yml@refs/tags/v*`).
    pub builder_id: Vec<(String, globset::GlobMatcher)>,
    pub source_repo: Option<String>,
    pub source_ref: Option<(String, globset::GlobMatcher)>,
    pub build_type: Vec<String>,
    pub loc: Loc,
}

impl ProvenanceRules {
    /// Ok, or the code and words of the first rule the provenance breaks.
    pub fn check(&self, p: &crate::provenance::Provenance) -> Result<(), (Code, String)> {
        if !self.builder_id.is_empty()
            && !self
                .builder_id
                .iter()
                .any(|(_, g)| g.is_match(&p.builder_id))
        {
            return Err((
                Code::BuilderUntrusted,
                format!(
                    "builder `{}` is not among the allowed builders ({})",
                    p.builder_id,
                    self.builder_id
                        .iter()
                        .map(|(t, _)| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if let Some(want) = &self.source_repo {
            let want_url = crate::provenance::normalise_repo(&normalise_repo_url(want));
            if p.source_repo.as_deref() != Some(want_url.as_str()) {
                return Err((
                    Code::SourceMismatch,
                    format!(
                        "the source repository is `{}`, not `{want}`",
                        p.source_repo.as_deref().unwrap_or("(none)")
                    ),
                ));
            }
        }
        if let Some((text, g)) = &self.source_ref {
            // A statement that names no ref matches no pattern, not even `*`.
            match p.source_ref.as_deref() {
                Some(got) if g.is_match(got) => {}
                got => {
                    return Err((
                        Code::SourceMismatch,
                        format!(
                            "the source ref is `{}`, which `{text}` does not match",
                            got.unwrap_or("(none)")
                        ),
                    ));
                }
            }
        }
        if !self.build_type.is_empty() && !self.build_type.contains(&p.build_type) {
            return Err((
                Code::BuildTypeMismatch,
                format!(
                    "the build type is `{}`, not one of {}",
                    p.build_type,
                    self.build_type.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// `github.com/o/r` and `o/r` mean `https://github.com/o/r`.
fn normalise_repo_url(r: &str) -> String {
    if r.contains("://") {
        r.to_string()
    } else if r.starts_with("github.com/") {
        format!("https://{r}")
    } else if r.matches('/').count() == 1 {
        format!("https://github.com/{r}")
    } else {
        r.to_string()
    }
}

#[derive(Debug, Clone)]
pub struct Exception {
    pub servers: Scopes,
    pub waive: Vec<Requirement>,
    pub reason: String,
    pub loc: Loc,
}

impl Exception {
    /// Whether this exception applies to `server`: the one test that
    /// evaluation, `policy explain` and `policy check` all use.
    pub fn applies_to(&self, server: &str) -> bool {
        self.servers.matches(server)
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub file: PathBuf,
    pub layer: Layer,
    pub mode: At<Mode>,
    pub defaults: Rules,
    /// `[defaults.run]`: run settings for every server of this layer; in
    /// the system layer, the floor user policies can only tighten.
    pub defaults_run: Option<RunRules>,
    pub servers: Vec<ServerRule>,
    pub exceptions: Vec<Exception>,
    pub advisories: Option<AdvisoryRules>,
    /// `[audit] otlp`: where audit events are also exported.
    pub otlp: Option<At<String>>,
    /// `[audit] anchor`: "keychain" (true) or "off" (false).
    pub anchor: Option<At<bool>>,
    /// `[sources] allow-unsigned`: whether `add --unsigned` may pin a
    /// server without a signature; `None` is the default (allowed).
    pub allow_unsigned: Option<At<bool>>,
    /// `[sources] install-scripts`: what `add` does with an npm tree
    /// where a package declares install scripts; `None` is "warn".
    pub install_scripts: Option<At<InstallScripts>>,
    /// `[sources] registry-signatures`: which packages of an npm tree
    /// must carry a registry signature that verifies; `None` is "off".
    pub registry_signatures: Option<At<Require>>,
    /// `[sources] provenance`: which packages of an npm tree must carry
    /// npm provenance that verifies; `None` is "off".
    pub provenance: Option<At<Require>>,
}

/// `[sources] registry-signatures`: whose evidence `add` requires. What
/// is offered is verified whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// Required of no package.
    #[default]
    Off,
    /// Required of the package itself.
    Top,
    /// Required of the package and every package of its tree.
    Tree,
}

/// `[sources] install-scripts`. The scripts are never run either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallScripts {
    /// Refuse to pin the tree, naming the packages.
    Deny,
    /// Pin it, with a warning in the report.
    #[default]
    Warn,
}

/// `[servers.sbom]`: what the bill of materials must show.
#[derive(Debug, Clone)]
pub struct SbomRules {
    /// The same as "sbom" in the server's `require`.
    pub require: bool,
    /// An unsigned SBOM counts only when this is false.
    pub signed: bool,
    /// (as written, seconds): the SBOM's creation time must be this recent.
    pub max_age: Option<(String, u64)>,
    pub deny_components: Vec<DenyComponent>,
    /// `allow-licenses` / `deny-licenses` / `noassertion`.
    pub licenses: Option<crate::sbom::license::LicensePolicy>,
    /// `unidentified`: what a component without a purl is, when purl
    /// rules or advisories apply; unset, it denies.
    pub unidentified: Option<Unidentified>,
    pub loc: Loc,
}

/// `[servers.sbom] unidentified`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unidentified {
    Deny,
    Warn,
}

#[derive(Debug, Clone)]
pub struct DenyComponent {
    /// A purl without version (`pkg:npm/event-stream`), or a name.
    pub purl: Option<String>,
    pub name: Option<String>,
    pub versions: Option<range::VersionRange>,
    pub reason: String,
    pub loc: Loc,
}

/// `[advisories]`: the offline OSV database and what it denies.
#[derive(Debug, Clone)]
pub struct AdvisoryRules {
    pub db: Option<PathBuf>,
    pub severity: crate::sbom::advisories::Severity,
    pub ignore: Vec<(crate::sbom::advisories::Ignore, Loc)>,
    /// `max-age` (as written, seconds): how old the database's newest
    /// record may be; `None` is [`advisories::DEFAULT_MAX_AGE`].
    pub max_age: Option<At<(String, u64)>>,
    /// `stale`: "deny" (true) or "warn" (false, the default).
    pub stale_deny: Option<At<bool>>,
    pub loc: Loc,
}

impl Policy {
    pub fn server(&self, name: &str) -> Option<&ServerRule> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// This layer's run settings for one server entry (or none): the
    /// entry's over `[defaults.run]`.
    pub fn layer_run(&self, entry: Option<&ServerRule>) -> Option<RunRules> {
        RunRules::overlay(
            self.defaults_run.as_ref(),
            entry.and_then(|e| e.run.as_ref()),
        )
    }

    /// This layer's run settings for `subject`: for each entry that
    /// applies ([`Policy::rules_for`]), its settings over `[defaults.run]`;
    /// with none, `[defaults.run]` alone.
    pub fn runs_for(&self, subject: &Subject) -> Vec<RunRules> {
        let entries = self.rules_for(subject);
        if entries.is_empty() {
            return self.layer_run(None).into_iter().collect();
        }
        (entries.into_iter())
            .filter_map(|e| self.layer_run(Some(e)))
            .collect()
    }

    /// The entries that apply to `server` fetched from `origin`: the one
    /// of its name, and every one whose `source` names the package it was
    /// fetched from, whatever its local name; except that an entry of
    /// the server's own name whose `source` names that same package is
    /// this file's word for it, alone (so two pins of one package under
    /// two names can each have their own entry). Pinning under another
    /// name therefore never escapes an entry.
    ///
    /// An entry with `signed-by` also applies to every server whose
    /// artifact one of those trust-store signers signed.
    pub fn rules_for(&self, subject: &Subject) -> Vec<&ServerRule> {
        let (server, origin) = (subject.name, subject.origin);
        let own = self.server(server);
        let mut out: Vec<&ServerRule> = own.into_iter().collect();
        let own_package = own
            .and_then(|e| e.source.as_ref())
            .and_then(|src| src.names(origin));
        for s in &self.servers {
            let Some(src) = &s.source else { continue };
            let Some(package) = src.names(origin) else {
                continue;
            };
            let same = own_package.is_some_and(|p| std::ptr::eq(p, package));
            if !same && !out.iter().any(|e| std::ptr::eq(*e, s)) {
                out.push(s);
            }
        }
        for s in &self.servers {
            let by = s
                .signed_by
                .as_ref()
                .is_some_and(|b| b.value.iter().any(|n| subject.signers.contains(n)));
            if by && !out.iter().any(|e| std::ptr::eq(*e, s)) {
                out.push(s);
            }
        }
        out
    }
}

/// What entries are selected by ([`Policy::rules_for`]): the server's
/// local name, where its artifact was fetched from, and the trust-store
/// names of who signed it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub name: &'a str,
    pub origin: &'a Origin,
    pub signers: &'a [String],
}

/// Where a server's `require` comes from.
#[derive(Debug, Clone, Copy)]
pub enum RequireSource<'a> {
    Server(&'a Loc),
    Defaults(&'a Loc),
    BuiltIn,
}

/// What one policy (or, for `None`, the built-in default) asks of a
/// server: the one place that resolves entry, defaults and exceptions, so
/// that `evaluate` and `explain` cannot disagree.
pub struct Requirements<'a> {
    pub required: Vec<Requirement>,
    pub source: RequireSource<'a>,
    /// Requirements waived by matching exceptions.
    pub waived: Vec<(&'a Exception, Requirement)>,
    /// Trust-store names; `None` means any trusted signer in scope.
    pub signers: Option<&'a At<Vec<String>>>,
}

pub fn requirements<'a>(policy: Option<&'a Policy>, server: &str) -> Requirements<'a> {
    requirements_for(policy, policy.and_then(|p| p.server(server)), server)
}

/// [`requirements`] under one of the entries that apply to `server`
/// ([`Policy::rules_for`]).
pub fn requirements_for<'a>(
    policy: Option<&'a Policy>,
    entry: Option<&'a ServerRule>,
    server: &str,
) -> Requirements<'a> {
    let (mut required, source) = match (
        entry.and_then(|e| e.rules.require.as_ref()),
        policy.and_then(|p| p.defaults.require.as_ref()),
    ) {
        (Some(r), _) => (r.value.clone(), RequireSource::Server(&r.loc)),
        (None, Some(r)) => (r.value.clone(), RequireSource::Defaults(&r.loc)),
        (None, None) => (vec![Requirement::Signature], RequireSource::BuiltIn),
    };
    let mut waived = Vec::new();
    for e in policy.into_iter().flat_map(|p| &p.exceptions) {
        if !e.applies_to(server) {
            continue;
        }
        for w in &e.waive {
            if required.contains(w) {
                required.retain(|r| r != w);
                waived.push((e, *w));
            }
        }
    }
    Requirements {
        required,
        source,
        waived,
        signers: entry
            .and_then(|e| e.rules.signers.as_ref())
            .or(policy.and_then(|p| p.defaults.signers.as_ref())),
    }
}

/// The policies in force: none (the built-in default), or the system's
/// and/or the user's.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub layers: Vec<Policy>,
    /// Warnings found while loading (loosening attempts, unused
    /// exceptions), shown with every decision.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the policy: {0}")]
    Read(#[from] ReadError),
    #[error("the policy {file} has {count} error(s)")]
    Invalid {
        file: PathBuf,
        count: usize,
        diagnostics: Vec<Diagnostic>,
    },
}

impl PolicyError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PolicyError::Invalid { diagnostics, .. } => diagnostics,
            PolicyError::Read(_) => &[],
        }
    }
}

/// Exceptions of `p` whose `servers` globs match none of `names` (the
/// server entries of the policies in force and the pinned servers),
/// matched exactly as [`requirements`] matches them, so that `policy
/// check` and `policy explain` cannot disagree.
pub fn unused_exceptions(p: &Policy, names: &[&str]) -> Vec<Diagnostic> {
    p.exceptions
        .iter()
        .filter(|e| !names.iter().any(|n| e.applies_to(n)))
        .map(|e| {
            Diagnostic::warning(
                Code::ExceptionUnused,
                format!(
                    "the exception for {} matches no server: no `[[servers]]` entry and no pinned server",
                    e.servers.patterns.join(", ")
                ),
            )
            .hint("remove it, or fix its `servers` globs")
            .at(e.loc.to_string())
        })
        .collect()
}

/// `[[servers]]` entries whose name differs from one of `names` (pinned
/// or judged servers) or from another entry's only in case. Entries match
/// names exactly, as every other place a server name is used does, so
/// such an entry applies to neither: said once per pair, at the entry.
pub fn name_case_clashes(layers: &[Policy], names: &[&str]) -> Vec<Diagnostic> {
    let entries: Vec<&ServerRule> = layers.iter().flat_map(|p| &p.servers).collect();
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut push = |d: Diagnostic| {
        if !out
            .iter()
            .any(|o| o.message == d.message && o.location == d.location)
        {
            out.push(d);
        }
    };
    let clash = |a: &str, b: &str| a != b && a.eq_ignore_ascii_case(b);
    for (i, e) in entries.iter().enumerate() {
        for n in names.iter().filter(|n| clash(&e.name, n)) {
            push(
                Diagnostic::warning(
                    Code::PolicyNameCase,
                    format!(
                        "`[[servers]] name = \"{}\"` differs from the server `{n}` only in case: entries match names exactly, so it does not apply to `{n}`",
                        e.name.escape_debug()
                    ),
                )
                .hint(format!("write the name exactly as the server is pinned: `{n}`"))
                .at(e.loc.to_string()),
            );
        }
        for o in entries[..i].iter().filter(|o| clash(&e.name, &o.name)) {
            push(
                Diagnostic::warning(
                    Code::PolicyNameCase,
                    format!(
                        "`[[servers]] name = \"{}\"` differs from the entry `{}` at {} only in case: they name two different servers",
                        e.name.escape_debug(),
                        o.name,
                        o.loc
                    ),
                )
                .hint("server names are case-sensitive; write both as the server is pinned")
                .at(e.loc.to_string()),
            );
        }
    }
    out
}

/// Reads and validates one policy file; every problem is reported, not
/// just the first.
pub fn load_file(
    path: &Path,
    layer: Layer,
    trust: &TrustStore,
) -> Result<(Policy, Vec<Diagnostic>), PolicyError> {
    let text = fsutil::read_text_bounded(path, MAX_POLICY_FILE)?;
    let (policy, diags) = parse(&text, path, layer, trust);
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match policy {
        Some(p) if errors == 0 => Ok((p, diags)),
        _ => Err(PolicyError::Invalid {
            file: path.to_path_buf(),
            count: errors.max(1),
            diagnostics: diags,
        }),
    }
}

impl PolicySet {
    /// The system policy (if present) and the user's (`--policy`, or the
    /// one under the home, if present).
    pub fn load(ctx: &Context, trust: &TrustStore) -> Result<Self, PolicyError> {
        let mut set = PolicySet::default();
        let sys = ctx.system_policy_file();
        if sys.exists() {
            let (p, w) = load_file(&sys, Layer::System, trust)?;
            set.layers.push(p);
            set.warnings.extend(w);
        }
        let user = ctx.user_policy_file();
        if ctx.policy_override.is_some() || user.exists() {
            let (p, w) = load_file(&user, Layer::User, trust)?;
            set.layers.push(p);
            set.warnings.extend(w);
        }
        if set.layers.len() == 2 {
            let w = loosening(&set.layers[0], &set.layers[1]);
            set.warnings.extend(w);
        }
        Ok(set)
    }

    /// `[sources] install-scripts` in force: "deny" if any layer says so
    /// (a layer can only tighten), with where it was said.
    pub fn install_scripts(&self) -> (InstallScripts, Option<&Loc>) {
        let said = || {
            self.layers
                .iter()
                .filter_map(|p| p.install_scripts.as_ref())
        };
        match said().find(|a| a.value == InstallScripts::Deny) {
            Some(a) => (InstallScripts::Deny, Some(&a.loc)),
            None => (InstallScripts::Warn, said().next_back().map(|a| &a.loc)),
        }
    }

    /// `[sources] registry-signatures` in force: the strictest any layer
    /// says (a layer can only tighten), with where it was said.
    pub fn registry_signatures(&self) -> (Require, Option<&Loc>) {
        (self.layers.iter())
            .filter_map(|p| p.registry_signatures.as_ref())
            .max_by_key(|a| a.value)
            .map_or((Require::Off, None), |a| (a.value, Some(&a.loc)))
    }

    /// `[sources] provenance` in force: the strictest any layer says,
    /// with where it was said.
    pub fn provenance(&self) -> (Require, Option<&Loc>) {
        (self.layers.iter())
            .filter_map(|p| p.provenance.as_ref())
            .max_by_key(|a| a.value)
            .map_or((Require::Off, None), |a| (a.value, Some(&a.loc)))
    }

    pub fn is_default(&self) -> bool {
        self.layers.is_empty()
    }

    /// `[servers.tools] pinned` for the server: the system's before the
    /// user's.
    pub fn tools_pinned(&self, subject: &Subject) -> Option<String> {
        (self.layers.iter())
            .flat_map(|p| p.rules_for(subject))
            .find_map(|e| Some(e.tools_pinned.as_ref()?.value.clone()))
    }

    /// `[audit] anchor`: the audit log is anchored in the keychain unless
    /// a policy says "off" and none says "keychain" (a layer may only
    /// tighten: either file's "keychain" wins).
    pub fn audit_anchor(&self) -> bool {
        let says =
            |v: bool| (self.layers.iter()).any(|p| p.anchor.as_ref().is_some_and(|a| a.value == v));
        says(true) || !says(false)
    }

    /// `[audit] otlp`: the system's before the user's.
    pub fn otlp(&self) -> Option<String> {
        (self.layers.iter()).find_map(|p| Some(p.otlp.as_ref()?.value.clone()))
    }

    /// Every layer's `[advisories] db`, each relative to its policy file,
    /// in layer order: all of them are used together (a layer only adds).
    pub fn advisories_dbs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for p in &self.layers {
            let Some(db) = p.advisories.as_ref().and_then(|a| a.db.as_ref()) else {
                continue;
            };
            let path = match p.file.parent() {
                Some(dir) if db.is_relative() => dir.join(db),
                _ => db.clone(),
            };
            if !out.contains(&path) {
                out.push(path);
            }
        }
        out
    }

    /// `[servers.run]` of `server` over both layers: the variables of
    /// each (a variable both name is taken from the keychain if either
    /// says so), the system's interpreter before the user's, and for the
    /// guard and sandbox the stricter of the two (a layer may tighten,
    /// never relax: guard on if either says so, network only if neither
    /// says no, the lower of two limits, every pattern of both).
    ///
    /// The entries are those that apply to the server
    /// ([`Policy::rules_for`]): a system entry for a source or a signer
    /// holds whatever the local name.
    pub fn run_rules(&self, subject: &Subject) -> RunRules {
        merge_runs(self.layers.iter().flat_map(|p| p.runs_for(subject)))
    }

    /// `policy check` for one pinned server: each user entry that applies
    /// to it (by name, source or signer) against all the system layer
    /// gives it, so that a system entry bound to its source or signer is
    /// compared too, whatever the local name.
    pub fn run_loosening_for(&self, subject: &Subject) -> Vec<Diagnostic> {
        let [system, user] = &self.layers[..] else {
            return Vec::new();
        };
        if system.layer != Layer::System {
            return Vec::new();
        }
        let s = merge_runs(system.runs_for(subject).into_iter());
        let pairs: Vec<(String, RunRules, &RunRules)> = (user.rules_for(subject).into_iter())
            .filter_map(|e| Some((format!("`{}`", e.name), s.clone(), e.run.as_ref()?)))
            .collect();
        compare_runs(user, &pairs)
    }
}

/// Run settings over several layers or entries: for the guard and sandbox
/// the stricter, the lower of two limits, every pattern, paths narrowed
/// (see [`PolicySet::run_rules`]).
fn merge_runs(runs: impl Iterator<Item = RunRules>) -> RunRules {
    let mut out = RunRules::default();
    fn stricter<T: Copy>(a: Option<T>, b: Option<T>, pick: fn(T, T) -> T) -> Option<T> {
        match (a, b) {
            (Some(a), Some(b)) => Some(pick(a, b)),
            (a, b) => a.or(b),
        }
    }
    // Each layer's `[defaults.run]` counts for every server, named or
    // not: the system's is a floor that no user entry lowers. Every
    // entry that applies (by name, source or signer) adds its own.
    let mut paths_said = false;
    for rules in runs {
        let rules = &rules;
        out.guard = stricter(out.guard, rules.guard, |a, b| a || b);
        out.sandbox = stricter(out.sandbox, rules.sandbox, Ord::max);
        out.network = stricter(out.network, rules.network, |a, b| a && b);
        out.grant_arg_paths = stricter(out.grant_arg_paths, rules.grant_arg_paths, |a, b| a && b);
        out.strict_arguments =
            stricter(out.strict_arguments, rules.strict_arguments, |a, b| a || b);
        out.rate_overall = stricter(out.rate_overall, rules.rate_overall, f64::min);
        out.rate_per_tool = stricter(out.rate_per_tool, rules.rate_per_tool, f64::min);
        out.rate_burst = stricter(out.rate_burst, rules.rate_burst, Ord::min);
        out.max_message_size = stricter(out.max_message_size, rules.max_message_size, Ord::min);
        out.max_depth = stricter(out.max_depth, rules.max_depth, Ord::min);
        out.max_in_flight = stricter(out.max_in_flight, rules.max_in_flight, Ord::min);
        out.max_processes = stricter(out.max_processes, rules.max_processes, Ord::min);
        out.max_memory_mib = stricter(out.max_memory_mib, rules.max_memory_mib, Ord::min);
        out.max_file_size_mib = stricter(out.max_file_size_mib, rules.max_file_size_mib, Ord::min);
        out.max_open_files = stricter(out.max_open_files, rules.max_open_files, Ord::min);
        // Paths are openings: the first layer that names any grants
        // the most there is; a later layer may narrow that to its own
        // paths within it (a read under a granted read or write, a
        // write under a granted write), never widen it.
        let names_paths = !rules.read_paths.is_empty() || !rules.write_paths.is_empty();
        if names_paths && !paths_said {
            out.read_paths = rules.read_paths.clone();
            out.write_paths = rules.write_paths.clone();
        } else if names_paths {
            let (reads, writes) = (&out.read_paths, &out.write_paths);
            let under = |p: &At<String>, l: &[At<String>]| {
                l.iter().any(|w| path_within(&p.value, &w.value))
            };
            let read: Vec<At<String>> = (rules.read_paths.iter())
                .filter(|p| under(p, reads) || under(p, writes))
                .cloned()
                .collect();
            let write: Vec<At<String>> = (rules.write_paths.iter())
                .filter(|p| under(p, writes))
                .cloned()
                .collect();
            (out.read_paths, out.write_paths) = (read, write);
        }
        paths_said |= names_paths;
        for p in &rules.confirm_tools {
            if !out.confirm_tools.contains(p) {
                out.confirm_tools.push(p.clone());
            }
        }
        for p in &rules.deny_tools {
            if !out.deny_tools.contains(p) {
                out.deny_tools.push(p.clone());
            }
        }
        for (name, rule, loc) in &rules.env {
            match out.env.iter_mut().find(|(n, _, _)| n == name) {
                Some(have) if *rule == EnvRule::Keychain => {
                    have.1 = EnvRule::Keychain;
                    have.2 = loc.clone();
                }
                Some(_) => {}
                None => out.env.push((name.clone(), *rule, loc.clone())),
            }
        }
        if out.interpreter.is_none() {
            out.interpreter = rules.interpreter.clone();
        }
    }
    out
}

/// What in the user's file tries to relax the system's; reported, and
/// without effect since both layers must allow.
fn loosening(system: &Policy, user: &Policy) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let warn = |msg: String, loc: &Loc| {
        Diagnostic::warning(Code::PolicyLoosening, msg)
            .hint("the system policy still applies; ask the administrator to change it")
            .at(loc.to_string())
    };
    if system.mode.value == Mode::Enforce && user.mode.value == Mode::Audit {
        out.push(warn(
            "`mode = \"audit\"` cannot relax the system policy's enforce mode".into(),
            &user.mode.loc,
        ));
    }
    if let (Some(s), Some(u)) = (&system.allow_unsigned, &user.allow_unsigned)
        && !s.value
        && u.value
    {
        out.push(warn(
            "`allow-unsigned = true` cannot relax the system policy's `allow-unsigned = false`"
                .into(),
            &u.loc,
        ));
    }
    if let (Some(s), Some(u)) = (&system.install_scripts, &user.install_scripts)
        && s.value == InstallScripts::Deny
        && u.value == InstallScripts::Warn
    {
        out.push(warn(
            "`install-scripts = \"warn\"` cannot relax the system policy's `install-scripts = \"deny\"`"
                .into(),
            &u.loc,
        ));
    }
    for (key, s, u) in [
        (
            "registry-signatures",
            &system.registry_signatures,
            &user.registry_signatures,
        ),
        ("provenance", &system.provenance, &user.provenance),
    ] {
        if let (Some(s), Some(u)) = (s, u)
            && u.value < s.value
        {
            let name = |r: Require| match r {
                Require::Off => "off",
                Require::Top => "top",
                Require::Tree => "tree",
            };
            out.push(warn(
                format!(
                    "`{key} = \"{}\"` cannot relax the system policy's `{key} = \"{}\"`",
                    name(u.value),
                    name(s.value)
                ),
                &u.loc,
            ));
        }
    }
    for e in &user.exceptions {
        for w in &e.waive {
            if system_requires_somewhere(system, *w) {
                out.push(warn(
                    format!(
                        "the exception waives `{}`, which the system policy requires",
                        w.name()
                    ),
                    &e.loc,
                ));
            }
        }
    }
    out.extend(run_loosening(system, user));
    for s in &user.servers {
        let sys_rules = system
            .server(&s.name)
            .map(|r| &r.rules)
            .unwrap_or(&system.defaults);
        if let (Some(us), Some(ss)) = (&s.rules.signers, &sys_rules.signers) {
            for name in &us.value {
                if !ss.value.contains(name) {
                    out.push(warn(
                        format!(
                            "signer `{name}` for `{}` is not among the system policy's signers",
                            s.name
                        ),
                        &us.loc,
                    ));
                }
            }
        }
        if let (Some(ur), Some(sr)) = (&s.rules.require, &sys_rules.require) {
            for r in &sr.value {
                if !ur.value.contains(r) {
                    out.push(warn(
                        format!(
                            "`{}` drops `{}`, which the system policy requires",
                            s.name,
                            r.name()
                        ),
                        &ur.loc,
                    ));
                }
            }
        }
    }
    out
}

fn system_requires_somewhere(p: &Policy, r: Requirement) -> bool {
    let req = |rules: &Rules| rules.require.as_ref().map(|a| a.value.contains(&r));
    req(&p.defaults).unwrap_or(r == Requirement::Signature)
        || p.servers.iter().any(|s| req(&s.rules) == Some(true))
}

/// User run settings that ask for less than the system layer says: the
/// user's `[defaults.run]` against the system's, and each user entry's
/// `[servers.run]` against what the system layer gives that server (its
/// entry over its `[defaults.run]`). Without effect: the stricter holds.
fn run_loosening(system: &Policy, user: &Policy) -> Vec<Diagnostic> {
    let mut pairs: Vec<(String, RunRules, &RunRules)> = Vec::new();
    if let (Some(u), Some(s)) = (&user.defaults_run, system.layer_run(None)) {
        pairs.push(("every server ([defaults.run])".into(), s, u));
    }
    for e in &user.servers {
        if let (Some(u), Some(s)) = (&e.run, system.layer_run(system.server(&e.name))) {
            pairs.push((format!("`{}`", e.name), s, u));
        }
    }
    compare_runs(user, &pairs)
}

/// The loosenings of each `(scope, system's, user's)` run settings, at the
/// user's lines, in file order.
fn compare_runs(user: &Policy, pairs: &[(String, RunRules, &RunRules)]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (scope, s, u) in pairs {
        let mut warn = |key: &'static str, msg: String| {
            let d = Diagnostic::warning(Code::PolicyLoosening, msg).hint(
                "the system policy's setting still applies; ask the administrator to change it",
            );
            out.push(match u.at.get(key) {
                Some(loc) => d.at(loc.to_string()),
                None => d.at(user.file.display().to_string()),
            });
        };
        let relax = |key: &str, theirs: String, ours: String| {
            format!(
                "`{key} = {ours}` for {scope} cannot relax the system policy's `{key} = {theirs}`"
            )
        };
        if let (Some(sv), Some(uv)) = (s.sandbox, u.sandbox)
            && uv < sv
        {
            let q = |m: SandboxMode| format!("\"{}\"", m.as_str());
            warn("sandbox", relax("sandbox", q(sv), q(uv)));
        }
        for (key, sv, uv, loose) in [
            ("guard", s.guard, u.guard, false),
            ("network", s.network, u.network, true),
            (
                "grant-arg-paths",
                s.grant_arg_paths,
                u.grant_arg_paths,
                true,
            ),
            (
                "strict-arguments",
                s.strict_arguments,
                u.strict_arguments,
                false,
            ),
        ] {
            if let (Some(sv), Some(uv)) = (sv, uv)
                && uv == loose
                && sv != loose
            {
                warn(key, relax(key, sv.to_string(), uv.to_string()));
            }
        }
        for (key, sv, uv) in [
            ("max-message-size", s.max_message_size, u.max_message_size),
            ("max-depth", s.max_depth, u.max_depth),
            ("max-in-flight", s.max_in_flight, u.max_in_flight),
            ("max-processes", s.max_processes, u.max_processes),
            ("max-memory-mib", s.max_memory_mib, u.max_memory_mib),
            (
                "max-file-size-mib",
                s.max_file_size_mib,
                u.max_file_size_mib,
            ),
            ("max-open-files", s.max_open_files, u.max_open_files),
            (
                "rate",
                s.rate_burst.map(u64::from),
                u.rate_burst.map(u64::from),
            ),
        ] {
            if let (Some(sv), Some(uv)) = (sv, uv)
                && uv > sv
            {
                let key = if key == "rate" { "rate.burst" } else { key };
                warn(
                    key.split('.').next().unwrap_or(key),
                    relax(key, sv.to_string(), uv.to_string()),
                );
            }
        }
        for (key, sv, uv) in [
            ("rate.overall", s.rate_overall, u.rate_overall),
            ("rate.per-tool", s.rate_per_tool, u.rate_per_tool),
        ] {
            if let (Some(sv), Some(uv)) = (sv, uv)
                && uv > sv
            {
                warn("rate", relax(key, format!("{sv}/s"), format!("{uv}/s")));
            }
        }
        for (key, sl, ul, verb) in [
            ("deny-tools", &s.deny_tools, &u.deny_tools, "denies"),
            (
                "confirm-tools",
                &s.confirm_tools,
                &u.confirm_tools,
                "confirms",
            ),
        ] {
            if ul.is_empty() {
                continue;
            }
            for p in sl.iter().filter(|p| !ul.contains(p)) {
                warn(
                    key,
                    format!(
                        "`{key}` for {scope} leaves out `{p}`, which the system policy {verb}; the system's patterns still apply"
                    ),
                );
            }
        }
        if !s.read_paths.is_empty() || !s.write_paths.is_empty() {
            let under = |p: &At<String>, l: &[At<String>]| {
                l.iter().any(|w| path_within(&p.value, &w.value))
            };
            for (key, list, grants) in [
                ("read-paths", &u.read_paths, [&s.read_paths, &s.write_paths]),
                (
                    "write-paths",
                    &u.write_paths,
                    [&s.write_paths, &s.write_paths],
                ),
            ] {
                for p in list.iter().filter(|p| !grants.iter().any(|g| under(p, g))) {
                    out.push(
                        Diagnostic::warning(
                            Code::PolicyLoosening,
                            format!(
                                "`{key}` entry `{}` for {scope} is outside what the system policy grants; it is not granted",
                                p.value
                            ),
                        )
                        .hint("the system policy's paths are the most a user policy can grant; ask the administrator to change them")
                        .at(p.loc.to_string()),
                    );
                }
            }
        }
    }
    // In file order, as the parser reports.
    let line_col = |d: &Diagnostic| {
        let mut it = d.location.as_deref().unwrap_or_default().rsplitn(3, ':');
        let col: usize = it.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let line: usize = it.next().and_then(|l| l.parse().ok()).unwrap_or(0);
        (line, col)
    };
    out.sort_by_key(line_col);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn policy(text: &str) -> Policy {
        let (p, d) = parse(
            &format!("version = 1\n{text}"),
            Path::new("p.toml"),
            Layer::System,
            &TrustStore::default(),
        );
        assert!(d.iter().all(|d| d.severity != Severity::Error), "{d:?}");
        p.unwrap()
    }

    fn origin(source: &str, version: Option<&str>, package: Option<&str>) -> Origin {
        Origin::of_pinned(source, version, package)
    }

    fn names(p: &Policy, server: &str, o: &Origin) -> Vec<String> {
        let subject = Subject {
            name: server,
            origin: o,
            signers: &[],
        };
        p.rules_for(&subject)
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }

    #[test]
    fn a_source_rule_checks_kind_name_and_version_in_the_ecosystems_terms() {
        let rule = |t: &str| {
            SourceRule::parse(
                t,
                Loc {
                    file: "p.toml".into(),
                    line: 1,
                    column: 1,
                },
            )
            .unwrap()
        };
        let npm = origin("npm:@acme/x@1.4.2", Some("1.4.2"), None);
        assert!(rule("npm:@acme/x@1.4.2").check(&npm).is_ok());
        assert!(rule("npm:@acme/x").check(&npm).is_ok());
        assert!(rule("npm:@acme/x@1.4.3").check(&npm).is_err());
        assert!(rule("npm:@acme/y").check(&npm).is_err());
        assert!(rule("pypi:x").check(&npm).is_err());
        // PEP 503 names, PEP 440 versions.
        let py = origin("pypi:mcp-server-time", Some("1.0"), None);
        assert!(rule("pypi:MCP_Server.Time==1.0.0").check(&py).is_ok());
        assert!(rule("pypi:mcp-server-time==1.0.1").check(&py).is_err());
        // A local file is no source, whatever its name.
        let local = Origin::of(&Source::Path("./x@1.4.2".into()), None, None);
        assert!(rule("npm:@acme/x").check(&local).is_err());
        // A registry source is its package too.
        let reg = origin(
            "registry:io.github.acme/x",
            Some("1.4.2"),
            Some("npm:@acme/x@1.4.2"),
        );
        assert!(rule("npm:@acme/x@1.4.2").check(&reg).is_ok());
        assert!(rule("registry:io.github.acme/x").check(&reg).is_ok());
        assert_eq!(reg.purl().as_deref(), Some("pkg:npm/%40acme/x@1.4.2"));
        assert_eq!(local.purl(), None);
        for bad in ["./x", "registry:./server.json", "x.mcpb"] {
            assert!(SourceRule::parse(bad, rule("npm:x").loc).is_err(), "{bad}");
        }
    }

    #[test]
    fn entries_apply_by_name_and_by_source() {
        let p = policy(
            "[[servers]]\nname = \"acme-x\"\nsource = \"npm:@acme/x\"\n\
             [[servers]]\nname = \"old\"\nsource = \"npm:@acme/x@1.0.0\"\n\
             [[servers]]\nname = \"other\"\nsource = \"npm:other\"\n",
        );
        let x = origin("npm:@acme/x@1.4.2", Some("1.4.2"), None);
        // Any local name: every entry for the package.
        assert_eq!(names(&p, "acme-y", &x), vec!["acme-x", "old"]);
        // The server's own entry for the same package decides alone.
        assert_eq!(names(&p, "old", &x), vec!["old"]);
        // Its own entry for another package does not hide this one's.
        assert_eq!(names(&p, "other", &x), vec!["other", "acme-x", "old"]);
        assert!(names(&p, "y", &Origin::default()).is_empty());
    }
}
