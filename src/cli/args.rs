//! The clap definition, on its own so man pages and completions can be
//! rendered from it (see `cli::docs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit status:
  0  verified and allowed
  1  verification failed or the policy denied
  2  usage, input or internal error";

#[derive(Debug, Parser)]
#[command(
    name = "mcp-warden",
    version,
    about = "Verify MCP servers before they run: digests, signatures and policy",
    long_about = "mcp-warden checks that an MCP server artifact is what a trusted publisher built \
(its digest and signature, against a pinned trust store) and that the local policy allows it, \
before anything runs it.\n\nStart with `mcp-warden verify --help`.",
    after_long_help = EXIT_CODES,
)]
pub struct Cli {
    /// Keep config, data and cache under DIR instead of the platform's directories.
    #[arg(long, global = true, env = "MCP_WARDEN_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Use FILE as the user policy (the system policy still applies).
    #[arg(long, global = true, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Output format: text for people, or one JSON document on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// More log output on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print only the verdict and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify an artifact's signatures and judge it against the policy.
    #[command(after_long_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// Manage the trust store: pinned keys and identities with scopes.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Write, check and explain the policy file.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Fetch a server, verify it, and pin it in servers.lock.
    #[command(after_long_help = SOURCES)]
    Add(AddArgs),
    /// Re-resolve a pinned server under the current policy; shows the change first.
    Update(UpdateArgs),
    /// Accept a server's changed tool descriptions (shows the difference first).
    Approve(super::approve::ApproveArgs),
    /// Unpin a server and drop its cache references.
    Remove {
        /// The server's name in servers.lock.
        name: String,
    },
    /// Inspect and maintain the content-addressed cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Store, remove and list servers' secrets in the OS keychain.
    #[command(subcommand)]
    Secret(super::secret::SecretCommand),
    /// Route MCP client configs (Claude Desktop, VS Code, Cursor) through `mcp-warden run`.
    #[command(subcommand)]
    Client(super::client::ClientCommand),
    /// Check a pinned server again and start it over stdio, with a clean
    /// environment and its secrets from the OS keychain.
    #[command(after_long_help = RUN_HELP)]
    Run(super::run::RunArgs),
    /// Show the audit log and verify its hash chain.
    #[command(subcommand)]
    Audit(super::audit::AuditCommand),
}

const RUN_HELP: &str = "\
Before the server starts, run checks that the cached artifact still has the
pinned digest (a receipt of the last full check, keyed by the files' device,
inode, size, mtime and ctime, spares the re-hash; --rehash forces it) and
judges it again under the current policy and trust store: a key removed or a
rule tightened since `add` stops the launch, with the reason on stderr.

The server starts from the verified copy in the cache, never through a shell:
a native executable as is; an npm package's `bin` under node; a wheel's
console script under python3 (the interpreter named by the policy's
[servers.run] interpreter, else the one on PATH, reported on stderr); an
.mcpb bundle's mcp_config. Its environment is cleared: it gets PATH, HOME,
LANG, LC_*, TZ, TMPDIR, the variables its entry declares, --env passes, and
its secrets from the OS keychain (`mcp-warden secret set SERVER VAR`).

stdout carries only the server's MCP messages; mcp-warden writes to stderr.
Signals (INT, TERM, HUP) are forwarded to the server's process group. When
the client closes stdin, the server's stdin is closed, then after the grace
period SIGTERM, then SIGKILL. No process of the server outlives run.

Exit status: before the server starts, 1 when verification or policy denies
and 2 for any other error; then the server's own code (128+N when it was
killed by signal N).";

const SOURCES: &str = "\
Sources:
  ./path, /path, file:PATH   a local file or directory (a directory is pinned by its tree digest)
  https://HOST/PATH          a release artifact (https only; redirects only to https)
  npm:NAME@VERSION           an npm package (dist.integrity checked, attestations read)
  pypi:NAME==VERSION         a PyPI wheel or sdist (sha256 checked, PEP 740 provenance read)
  registry:NAME[@VERSION]    an MCP registry entry, or a local server.json path
  PATH.mcpb, https://….mcpb  an MCP bundle (its signature checked against `trust add-ca` roots)";

/// Where and how sources are fetched (`add`, `update`).
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// The npm registry (default https://registry.npmjs.org).
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,

    /// The PyPI index (default https://pypi.org).
    #[arg(long, value_name = "URL")]
    pub pypi_url: Option<String>,

    /// The MCP registry (default https://registry.modelcontextprotocol.io).
    #[arg(long, value_name = "URL")]
    pub registry_url: Option<String>,

    /// Extra CA certificates (PEM) to trust for https besides the system's,
    /// e.g. an enterprise proxy's (repeatable). MCP_WARDEN_CA_FILE adds
    /// more: paths separated by ':'.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,

    /// Use only the cache: fail instead of fetching.
    #[arg(long)]
    pub offline: bool,

    /// The largest artifact to fetch or copy, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 2 << 30)]
    pub max_size: u64,

    /// The longest one download may take, from the request to its last
    /// byte, in seconds. Connecting and each wait for data also give up
    /// after 30 s (or SECS, if less), so a download ends at the latest
    /// that long after its deadline.
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,

    /// The slowest a download may go, in bytes per second, averaged over
    /// each --min-rate-window of the body after the first (a grace
    /// period); 0 turns the check off.
    #[arg(long, value_name = "BYTES", default_value_t = 1024)]
    pub min_rate: u64,

    /// The window, in seconds, over which --min-rate is averaged.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub min_rate_window: u64,
}

/// The evidence-file flags, by the role name servers.lock records.
pub const EVIDENCE_ROLES: [&str; 5] = [
    "signature",
    "bundle",
    "provenance",
    "sbom",
    "sbom-signature",
];

impl EvidenceArgs {
    /// The files given for `role` (one of [`EVIDENCE_ROLES`]).
    pub fn files_mut(&mut self, role: &str) -> Option<&mut Vec<PathBuf>> {
        Some(match role {
            "signature" => &mut self.signature,
            "bundle" => &mut self.bundle,
            "provenance" => &mut self.provenance,
            "sbom" => &mut self.sbom,
            "sbom-signature" => &mut self.sbom_signature,
            _ => return None,
        })
    }

    /// Every evidence file with its role, in [`EVIDENCE_ROLES`] order.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, &PathBuf)> {
        [
            &self.signature,
            &self.bundle,
            &self.provenance,
            &self.sbom,
            &self.sbom_signature,
        ]
        .into_iter()
        .zip(EVIDENCE_ROLES)
        .flat_map(|(list, role)| list.iter().map(move |p| (role, p)))
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The server's name: policies, scopes and `run NAME` refer to it.
    pub name: String,

    /// Where the server comes from (see Sources below).
    pub source: String,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    #[command(flatten)]
    pub fetch: FetchArgs,

    /// Pin a version lower than the one already pinned (rollback protection
    /// refuses it otherwise).
    #[arg(long)]
    pub allow_downgrade: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The server's name in servers.lock.
    pub name: String,

    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List what the cache holds and which servers use it.
    List,
    /// Re-hash every cached artifact and unpacked tree; exits 1 on a mismatch.
    Verify,
    /// Remove what no pinned server uses.
    Gc,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The artifact: a file, or `sha256:HEX` / `sha512:HEX` where the
    /// signature scheme can verify a bare digest (OpenSSH with the same hash, DSSE).
    /// Without it, --server NAME verifies the copy `add` pinned, re-hashed
    /// from the cache, with the evidence `add` kept (unless evidence flags
    /// are given).
    #[arg(value_name = "ARTIFACT|sha256:HEX", required_unless_present = "server")]
    pub artifact: Option<String>,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    /// Print a summary of each SBOM (components, licences, ecosystems).
    #[arg(long)]
    pub summary: bool,

    /// Evaluate against this server's policy entry and scopes (default: the artifact's file name).
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,
}

/// The evidence flags `verify` and `add` share.
#[derive(Debug, Clone, Default, Args)]
#[command(group(clap::ArgGroup::new("identity_rule").args(["certificate_identity", "certificate_identity_regexp"]).multiple(false)))]
#[command(group(clap::ArgGroup::new("issuer_rule").args(["certificate_oidc_issuer", "certificate_oidc_issuer_regexp"]).multiple(false)))]
pub struct EvidenceArgs {
    /// A signature: minisign `.minisig`, OpenSSH `SSH SIGNATURE`, or a DSSE envelope (repeatable).
    #[arg(long, value_name = "FILE")]
    pub signature: Vec<PathBuf>,

    /// A sigstore bundle (v0.1, v0.2, v0.3), an npm attestations document or
    /// an `.intoto.jsonl` file; verified offline against the pinned trusted roots.
    #[arg(long, value_name = "FILE")]
    pub bundle: Vec<PathBuf>,

    /// The signer's exact certificate identity (keyless bundles).
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "certificate_identity_regexp",
        requires = "issuer_rule"
    )]
    pub certificate_identity: Option<String>,

    /// A regular expression that must match the WHOLE certificate identity
    /// (unlike cosign, which matches anywhere).
    #[arg(long, value_name = "RE", requires = "issuer_rule")]
    pub certificate_identity_regexp: Option<String>,

    /// The exact OIDC issuer of the signer's certificate.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "certificate_oidc_issuer_regexp",
        requires = "identity_rule"
    )]
    pub certificate_oidc_issuer: Option<String>,

    /// A regular expression that must match the whole OIDC issuer.
    #[arg(long, value_name = "RE", requires = "identity_rule")]
    pub certificate_oidc_issuer_regexp: Option<String>,

    /// Build provenance (SLSA v0.2 or v1 in-toto statement): a sigstore
    /// bundle, npm attestations document, `.intoto.jsonl`, or a DSSE envelope
    /// signed by a pinned key; repeatable.
    #[arg(long, value_name = "FILE")]
    pub provenance: Vec<PathBuf>,

    /// An SBOM: CycloneDX 1.2-1.7 (JSON, XML) or SPDX 2.2/2.3 (JSON,
    /// tag-value), loose or as a signed in-toto attestation; repeatable.
    #[arg(long, value_name = "FILE")]
    pub sbom: Vec<PathBuf>,

    /// A detached signature over one of the loose --sbom files: minisign
    /// `.minisig`, OpenSSH `SSH SIGNATURE`, or a sigstore bundle (`cosign
    /// sign-blob --bundle`); repeatable. Matched to its SBOM by content and
    /// judged like an artifact signature (--key, trust store, identity
    /// flags); one that verifies over no SBOM fails.
    #[arg(long, value_name = "FILE", requires = "sbom")]
    pub sbom_signature: Vec<PathBuf>,

    /// An offline OSV database: a directory of OSV JSON files or an
    /// ecosystem's all.zip (overrides [advisories] db in the policy).
    #[arg(long, value_name = "PATH")]
    pub advisories: Option<PathBuf>,

    /// A sigstore trusted_root.json that replaces the embedded roots for this
    /// call, or the name of an embedded root (`sigstore-staging`). Without it,
    /// the production roots (sigstore-production, github) are used.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,

    /// A public key to verify with (minisign `.pub`, OpenSSH line, PEM; PEM
    /// ECDSA P-256 or Ed25519 for managed-key sigstore bundles); repeatable.
    /// Without --key and --key-name, every trusted key is tried.
    #[arg(long, value_name = "FILE")]
    pub key: Vec<PathBuf>,

    /// A trusted key by its trust-store name (repeatable).
    #[arg(long, value_name = "NAME")]
    pub key_name: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Pin a public key (minisign .pub, OpenSSH ed25519 line, or PEM) under a name.
    AddKey {
        /// The public key file.
        file: PathBuf,
        /// The name policies use for this signer.
        #[arg(long)]
        name: String,
        /// Server names (globs) this key may vouch for; repeatable. Required: use '*' for all.
        #[arg(long = "scope", value_name = "GLOB")]
        scopes: Vec<String>,
        /// Namespace OpenSSH signatures by this key must carry.
        #[arg(long, value_name = "NS", default_value = crate::trust::DEFAULT_SSH_NAMESPACE)]
        ssh_namespace: String,
    },
    /// Pin a sigstore signer by OIDC issuer and certificate identity.
    AddIdentity {
        /// The name policies use for this signer.
        #[arg(long)]
        name: String,
        /// The OIDC issuer URL, e.g. https://token.actions.githubusercontent.com
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// The exact certificate identity (SAN).
        #[arg(
            long,
            value_name = "ID",
            required_unless_present = "identity_regexp",
            conflicts_with = "identity_regexp"
        )]
        identity: Option<String>,
        /// A regular expression that must match the whole identity.
        #[arg(long, value_name = "RE")]
        identity_regexp: Option<String>,
        /// Server names (globs) this identity may vouch for; repeatable and required.
        #[arg(long = "scope", value_name = "GLOB")]
        scopes: Vec<String>,
    },
    /// Pin an X.509 root CA (PEM) that may anchor `.mcpb` bundle signatures.
    AddCa {
        /// The CA certificate, PEM (one CERTIFICATE block) or DER.
        #[arg(value_name = "PEM")]
        file: PathBuf,
        /// The name this CA is listed under.
        #[arg(long)]
        name: String,
        /// Server names (globs) bundles signed under this CA may be; repeatable and required.
        #[arg(long = "scope", value_name = "GLOB")]
        scopes: Vec<String>,
    },
    /// List trusted keys, identities and CAs with their scopes.
    List,
    /// List the embedded sigstore trusted roots: logs, CAs and validity windows.
    Roots,
    /// Remove an entry from the user's trust store.
    Remove {
        /// The entry's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Write a commented policy template (to --policy FILE or the home's policy.toml).
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Report every problem in a policy file with file:line:column and a code.
    /// Exits 1 when it finds errors.
    Check {
        /// The file to check (default: the policies in force).
        file: Option<PathBuf>,
    },
    /// Show what a server needs and which rule says so.
    Explain {
        /// The server name.
        name: String,
    },
}
