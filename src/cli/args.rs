//! The clap definition, on its own so man pages and completions can be
//! rendered from it (see `cli::docs`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ops::judge::EvidenceRequest;
use crate::ops::launch::LaunchRequest;
use crate::ops::pin::FetchRequest;

// Help text layout: `long_about` is the man page's DESCRIPTION;
// `after_long_help` holds headed blocks ("Examples:", "Exit status:"),
// which `cli::docs` renders as man page sections of their own.

const ABOUT: &str = "\
mcp-warden is a verifying loader for MCP servers. `add` fetches a server,
checks that it is what a trusted publisher built (its digest and signature
against a pinned trust store, its provenance and SBOM) and that the local
policy allows it, and pins it in servers.lock. An MCP client then starts it
through `mcp-warden run NAME`, which checks the pinned copy again and starts
it with a clean environment, its secrets from the OS keychain, a guard on
its stdio and a sandbox.

To start: trust the publisher's key (`trust add-key`), add a server
(`add NAME SOURCE`), then route your MCP client through `mcp-warden run`
(`client install --client claude|vscode|cursor`). `verify` runs the same
checks on a file, by hand or in CI.";

const HELP: &str = "\
Exit status:
  0  verified and allowed
  1  verification failed or the policy denied
  2  usage, input or internal error
  (`run`: the server's own code once it has started)

Examples:
  mcp-warden trust add-key acme.pub --name acme --scope 'acme-*'
  mcp-warden add acme-files https://example.com/acme-files.tgz \\
      --signature acme-files.tgz.minisig
  mcp-warden client install --client claude --dry-run
  mcp-warden client install --client claude
  mcp-warden run acme-files";

const ADD_ABOUT: &str = "\
Fetch a server, verify it, and pin it in servers.lock.

The server is fetched into the content-addressed cache and judged with the
checks of `verify` (and the same evidence flags) under the policy and the
trust store; nothing is unpacked before it is verified. servers.lock then
records its source, resolved version, SHA-256 and SHA-512 (a directory:
its tree digest), signers, the evidence it rested on, and the run settings
the source declares.

Most servers publish no signature. --unsigned --reason TEXT pins one
without, as a recorded exception: the reason is kept in servers.lock and
shown by `add`, `verify --server` and `run`. Every other requirement of the
policy still applies, and a policy with `[sources] allow-unsigned = false`
refuses it (at `add` and at every later `run`).

A version lower than the pinned one is refused (--allow-downgrade to mean
it). Adding the same thing again with the same policy, trust store and
evidence is answered from a receipt in the lock without fetching.
--offline fetches nothing: a pinned server is judged again from the cached
copy and the evidence `add` kept.";

const ADD_HELP: &str = "\
Sources:
  ./path, /path, file:PATH   a local file or directory (a directory is pinned by its tree digest)
  https://HOST/PATH          a release artifact (https only; redirects only to https)
  npm:NAME@VERSION           an npm package (dist.integrity checked, attestations read)
  pypi:NAME==VERSION         a PyPI wheel for this machine (sha256 checked, PEP 740 provenance read)
  registry:NAME[@VERSION]    an MCP registry entry, or a local server.json path
  PATH.mcpb, https://….mcpb  an MCP bundle (its signature checked against `trust add-ca` roots)

Examples:
  # A release artifact with a minisign signature by a trusted key
  mcp-warden add acme-files https://example.com/acme-files.tgz \\
      --signature acme-files.tgz.minisig
  # An npm package, its registry attestations read
  mcp-warden add github npm:@acme/github-mcp@1.4.2
  # A PyPI package signed keyless, with the signer named
  mcp-warden add time pypi:mcp-server-time==0.6.2 \\
      --certificate-identity-regexp 'https://github.com/acme/.*' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  # An MCP registry entry
  mcp-warden add io.github.acme/srv registry:io.github.acme/srv@1.2.0
  # A package whose publisher signs nothing, pinned on purpose
  mcp-warden add time pypi:mcp-server-time==0.6.2 \\
      --unsigned --reason \"upstream publishes no signature; reviewed 0.6.2\"
  # A filesystem server with its directory pinned as an argument (a policy's
  # [servers.run] grant-arg-paths = true lets the sandbox open it)
  mcp-warden add files npm:@modelcontextprotocol/server-filesystem@2026.7.1 \\
      --unsigned --reason \"reviewed\" -- ~/projects";

const RUN_ABOUT: &str = "\
Check a pinned server again and start it over stdio, with a clean
environment and its secrets from the OS keychain.

An MCP client's config names `mcp-warden run NAME` as the server's command.
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
Between client and server the guard checks every message, and the server
runs in a sandbox where the OS has one ([servers.run] in the policy).
Signals (INT, TERM, HUP) are forwarded to the server's process group. When
the client closes stdin, the server's stdin is closed, then after the grace
period SIGTERM, then SIGKILL. No process of the server outlives run.";

const RUN_HELP: &str = "\
Exit status:
  1  before the server starts: verification failed or the policy denied
  2  before the server starts: any other error
  then the server's own code (128+N when it was killed by signal N)

Examples:
  # What an MCP client's config runs:
  #   \"command\": \"/usr/local/bin/mcp-warden\", \"args\": [\"run\", \"github\"]
  mcp-warden run github
  # Pass GITHUB_ORG from the client's env, and arguments to the server
  mcp-warden run github --env GITHUB_ORG -- --read-only
  # Re-hash and verify in full, whatever the receipt says
  mcp-warden run github --rehash";

const CLIENT_ABOUT: &str = "\
Route MCP client configs (Claude Desktop, VS Code, Cursor) through
`mcp-warden run`.

`client install` rewrites a client's config so that each stdio server runs
as `/abs/path/mcp-warden run NAME`, and suggests the `mcp-warden add NAME
SOURCE` for servers not pinned yet; `client list` shows which servers are
wrapped, pinned, not wrapped or remote. Default configs:
~/.config/Claude/claude_desktop_config.json, ~/.cursor/mcp.json and
~/.config/Code/User/mcp.json (and the macOS and Windows equivalents).";

const CLIENT_HELP: &str = "\
Examples:
  mcp-warden client list
  mcp-warden client install --client claude --dry-run
  mcp-warden client install --client vscode --config .vscode/mcp.json";

const SECRET_ABOUT: &str = "\
Store, remove and list servers' secrets in the OS keychain.

Secrets live in the OS keychain: the Secret Service on Linux (gnome-keyring,
KeePassXC), falling back to the kernel keyutils keyrings (lost at reboot,
and after logout once the persistent keyring expires) when none answers; the
login keychain on macOS; the Credential Manager on Windows.
MCP_WARDEN_KEYRING=secret-service|keyutils forces a Linux backend;
MCP_WARDEN_KEYRING_TIMEOUT=SECONDS bounds each keychain call (default 25).
Only the names are written to disk (config/secrets.toml), never values.
Under --home DIR the keychain service is `mcp-warden:DIR`, so homes never
share secrets. `run` gives a server every secret stored for it.";

const SECRET_HELP: &str = "\
Examples:
  mcp-warden secret set github GITHUB_TOKEN
  gh auth token | mcp-warden secret set github GITHUB_TOKEN
  mcp-warden secret list
  mcp-warden secret rm github GITHUB_TOKEN";

const APPROVE_ABOUT: &str = "\
Accept a server's changed tool descriptions (shows the difference first).

`run` records the first tools/list (and prompts/list, resources/list) of a
server's digest. When a later list differs (a description changed after
approval), the changed and new tools are hidden from the client and calls to
them are refused until `approve` shows the difference and accepts it; a
running guard picks the approval up. The digest it prints can go into the
policy's [servers.tools] pinned, so that a fleet approves once.

Pins and approvals are kept per argument variant: the same server run with
other arguments (another directory for a filesystem server) may list other
tools, so each set of arguments is approved on its own. The guard's message
names the variant (`--variant ID`); giving the arguments after `--` finds
the same one.";

const APPROVE_HELP: &str = "\
Examples:
  mcp-warden approve github
  mcp-warden approve github --yes
  mcp-warden approve files --variant 3f9c0a7d21b4e685
  mcp-warden approve files -- /srv/docs";

const UPDATE_ABOUT: &str = "\
Re-resolve a pinned server under the current policy; shows the change first.

update re-resolves the newest version of the server's source, verifies it
as `add` does, and shows what would change in servers.lock; --dry-run stops
there.";

const UPDATE_HELP: &str = "\
Examples:
  mcp-warden update github --dry-run
  mcp-warden update github";

const REMOVE_ABOUT: &str = "\
Unpin a server and drop its cache references.

remove takes the server out of servers.lock and drops from the cache what
only that server used.";

const REMOVE_HELP: &str = "\
Examples:
  mcp-warden remove github";

const AUDIT_ABOUT: &str = "\
Show the audit log and verify its hash chain.

The log is DATA_DIR/audit/audit.jsonl (under --home DIR: DIR/data/audit/):
one JSON record per launch decision, tool call and guard finding, each with
the SHA-256 of the line before it (`prev`) and a sequence number (`seq`);
audit.head beside it holds the last seq and hash, the log's identity and a
MAC by the audit key kept in the OS keychain (item `audit-key`); the keychain
item `audit-anchor` remembers the head of the last launch record, so a log
deleted with its head, cut short, or rewritten without the key is reported.
Records carry digests of tool arguments, never the arguments.";

const AUDIT_HELP: &str = "\
Exit status:
  0  `audit verify`: the log is intact
  1  `audit verify`: the log is broken (the first bad line is named)
  2  the log cannot be read

Examples:
  mcp-warden audit show --server github --since 1h
  mcp-warden audit verify";

const VERIFY_ABOUT: &str = "\
Verify an artifact's signatures and judge it against the policy.

verify hashes the artifact (SHA-256, and SHA-512 when a signature needs it),
verifies the signatures, sigstore bundles, provenance and SBOMs given, all
offline, and judges that evidence against the policy and the trust store.
Every signature given must verify. Without a policy file, a valid signature
by a trusted key whose scope covers the server, or by a key given with --key,
is required. `add` runs the same checks, and `run` runs them again.";

const VERIFY_HELP: &str = "\
Exit status:
  0  verified and allowed
  1  verification failed or the policy denied
  2  usage, input or internal error

Examples:
  mcp-warden verify server.tgz --signature server.tgz.minisig --key acme.pub
  mcp-warden verify server.tgz --bundle server.tgz.sigstore.json \\
      --certificate-identity-regexp 'https://github.com/acme/srv/.*' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  mcp-warden verify server.tgz --sbom server.cdx.json --summary --server acme-srv
  # The copy `add` pinned, judged again under the current policy
  mcp-warden --format json verify --server github";

const TRUST_ABOUT: &str = "\
Manage the trust store: pinned keys and identities with scopes.

Keys, sigstore identities and X.509 CAs are pinned under a name with scopes:
globs over the server names the signer may vouch for (`acme-*`,
`io.github.acme/*`). A signer with no scope is refused; `--scope '*'` trusts
it for every server, and must be said. Entries live in config/trust.toml;
system entries in /etc/mcp-warden/trust.d/*.toml are read and cannot be
changed or removed by these commands.";

const TRUST_HELP: &str = "\
Examples:
  mcp-warden trust add-key acme.pub --name acme --scope 'acme-*'
  mcp-warden trust add-identity --name acme-ci \\
      --issuer https://token.actions.githubusercontent.com \\
      --identity-regexp 'https://github.com/acme/.*' --scope 'io.github.acme/*'
  mcp-warden trust list";

const POLICY_ABOUT: &str = "\
Write, check and explain the policy file.

The user policy is --policy FILE or config/policy.toml under the home; the
system policy is /etc/mcp-warden/policy.toml. Each layer is evaluated on its
own and an artifact is allowed only when every layer allows it, so a user
file can only tighten the system's. The file format is described in
mcp-warden-policy(5).";

const POLICY_HELP: &str = "\
Examples:
  mcp-warden policy init
  mcp-warden policy check
  mcp-warden policy explain github";

const CACHE_ABOUT: &str = "\
Inspect and maintain the content-addressed cache.

The cache (cache/ under the home, or the platform's cache directory) holds
blobs/sha256/HEX and trees/sha256/HEX/, written only after they are
verified; pinned servers refer to it from servers.lock.";

const CACHE_HELP: &str = "\
Examples:
  mcp-warden cache list
  mcp-warden cache verify
  mcp-warden cache gc";

#[derive(Debug, Parser)]
#[command(
    name = "mcp-warden",
    version,
    about = "Verify MCP servers before they run: digests, signatures and policy",
    long_about = ABOUT,
    after_long_help = HELP,
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

/// The options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct Globals {
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
}

/// `run`'s command line alone: what every server start parses, without
/// building the other subcommands (clap builds each one it is given,
/// about half a millisecond at every start). A line it does not take is
/// parsed again by [`Cli`], whose answer (and error or help text) stands.
#[derive(Debug, Parser)]
#[command(name = "mcp-warden")]
pub struct RunLine {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: RunOnly,
}

#[derive(Debug, Subcommand)]
pub enum RunOnly {
    /// Check a pinned server again and start it over stdio, with a clean
    /// environment and its secrets from the OS keychain.
    #[command(long_about = RUN_ABOUT, after_long_help = RUN_HELP)]
    Run(RunArgs),
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
    // The order is the help's: the main job first (pin a server, run it,
    // route a client through run), then the rest.
    /// Fetch a server, verify it, and pin it in servers.lock.
    #[command(long_about = ADD_ABOUT, after_long_help = ADD_HELP)]
    Add(AddArgs),
    /// Check a pinned server again and start it over stdio, with a clean
    /// environment and its secrets from the OS keychain.
    #[command(long_about = RUN_ABOUT, after_long_help = RUN_HELP)]
    Run(RunArgs),
    /// Route MCP client configs (Claude Desktop, VS Code, Cursor) through `mcp-warden run`.
    #[command(subcommand, long_about = CLIENT_ABOUT, after_long_help = CLIENT_HELP)]
    Client(ClientCommand),
    /// Store, remove and list servers' secrets in the OS keychain.
    #[command(subcommand, long_about = SECRET_ABOUT, after_long_help = SECRET_HELP)]
    Secret(SecretCommand),
    /// Accept a server's changed tool descriptions (shows the difference first).
    #[command(long_about = APPROVE_ABOUT, after_long_help = APPROVE_HELP)]
    Approve(ApproveArgs),
    /// Re-resolve a pinned server under the current policy; shows the change first.
    #[command(long_about = UPDATE_ABOUT, after_long_help = UPDATE_HELP)]
    Update(UpdateArgs),
    /// Show the pinned servers: source, version, evidence, packages, last run.
    #[command(long_about = LIST_ABOUT, after_long_help = LIST_HELP)]
    List,
    /// Print the SBOM of a pinned server's resolved tree (CycloneDX JSON, or a tree).
    #[command(long_about = SBOM_ABOUT, after_long_help = SBOM_HELP)]
    Sbom(SbomArgs),
    /// Unpin a server and drop its cache references.
    #[command(long_about = REMOVE_ABOUT, after_long_help = REMOVE_HELP)]
    Remove {
        /// The server's name in servers.lock.
        name: String,
    },
    /// Show the audit log and verify its hash chain.
    #[command(subcommand, long_about = AUDIT_ABOUT, after_long_help = AUDIT_HELP)]
    Audit(AuditCommand),
    /// Verify an artifact's signatures and judge it against the policy.
    #[command(long_about = VERIFY_ABOUT, after_long_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Manage the trust store: pinned keys and identities with scopes.
    #[command(subcommand, long_about = TRUST_ABOUT, after_long_help = TRUST_HELP)]
    Trust(TrustCommand),
    /// Write, check and explain the policy file.
    #[command(subcommand, long_about = POLICY_ABOUT, after_long_help = POLICY_HELP)]
    Policy(PolicyCommand),
    /// Inspect and maintain the content-addressed cache.
    #[command(subcommand, long_about = CACHE_ABOUT, after_long_help = CACHE_HELP)]
    Cache(CacheCommand),
}

/// Where and how sources are fetched (`add`, `update`).
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// The npm registry (default https://registry.npmjs.org).
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,

    /// The PyPI index (default https://pypi.org): a host, whose /simple/
    /// is read, or a simple-API root ending in /simple or /+simple (devpi).
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

    /// Pin an npm package's own tarball or a wheel alone, without
    /// resolving and pinning its dependency tree (then it runs only if it
    /// carries its dependencies inside).
    #[arg(long)]
    pub no_dependencies: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The server's name: policies, scopes and `run NAME` refer to it.
    /// With --locked: only this server (default: every pinned one).
    #[arg(required_unless_present = "locked")]
    pub name: Option<String>,

    /// Where the server comes from (see Sources below).
    #[arg(required_unless_present = "locked", conflicts_with = "locked")]
    pub source: Option<String>,

    /// Fetch exactly what servers.lock pins into the cache (every server,
    /// or NAME) and verify it as `run` would: the artifact from the URL
    /// the lock records, each package of its tree against its integrity,
    /// the tree against its pinned digest. Nothing is resolved and
    /// servers.lock is not changed.
    #[arg(long)]
    pub locked: bool,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    #[command(flatten)]
    pub fetch: FetchArgs,

    /// Pin a version lower than the one already pinned (rollback protection
    /// refuses it otherwise).
    #[arg(long)]
    pub allow_downgrade: bool,

    /// Pin without a signature, on purpose: the signature requirement is
    /// waived for this server, and servers.lock and every report show
    /// the --reason. Refused where the policy says `[sources]
    /// allow-unsigned = false`.
    #[arg(long, requires = "reason", conflicts_with_all = ["signature", "bundle"])]
    pub unsigned: bool,

    /// Why the server is pinned without a signature (with --unsigned):
    /// one line of text, at most 500 characters.
    #[arg(long, value_name = "TEXT", requires = "unsigned")]
    pub reason: Option<String>,

    /// Arguments pinned for the server, after `--`: every `run` passes
    /// them after the ones the source declares, `update` keeps them, and
    /// the policy's `grant-arg-paths` may open the sandbox to the paths
    /// among them (e.g. the directories a filesystem server serves).
    #[arg(last = true, value_name = "ARGS", conflicts_with = "locked")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The server's name in servers.lock.
    pub name: String,

    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Pin even when a package of the tree was republished: the same
    /// version with another integrity (`package-republished`).
    #[arg(long)]
    pub yes: bool,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

const CACHE_LIST_HELP: &str = "\
Examples:
  mcp-warden cache list
  mcp-warden --format json cache list";

const CACHE_VERIFY_HELP: &str = "\
Exit status:
  0  every entry has its digest
  1  a mismatch (named)
  2  usage, input or internal error

Examples:
  mcp-warden cache verify";

const CACHE_GC_HELP: &str = "\
Examples:
  mcp-warden remove old-server
  mcp-warden cache gc";

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List what the cache holds and which servers use it.
    #[command(after_long_help = CACHE_LIST_HELP)]
    List,
    /// Re-hash every cached artifact and unpacked tree; exits 1 on a mismatch.
    #[command(after_long_help = CACHE_VERIFY_HELP)]
    Verify,
    /// Remove what no pinned server uses.
    #[command(after_long_help = CACHE_GC_HELP)]
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
    /// ecosystem's all.zip, used together with every policy layer's
    /// [advisories] db (it adds to them, never replaces them).
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

const ADD_KEY_HELP: &str = "\
Examples:
  mcp-warden trust add-key acme.pub --name acme --scope 'acme-*'
  mcp-warden trust add-key ops_ed25519.pub --name ops --scope '*' --ssh-namespace file
  mcp-warden trust add-key release.pem --name acme-release --scope 'io.github.acme/*'";

const ADD_IDENTITY_HELP: &str = "\
Examples:
  mcp-warden trust add-identity --name acme-ci \\
      --issuer https://token.actions.githubusercontent.com \\
      --identity https://github.com/acme/srv/.github/workflows/release.yml@refs/tags/v1 \\
      --scope acme-srv
  mcp-warden trust add-identity --name acme-ci \\
      --issuer https://token.actions.githubusercontent.com \\
      --identity-regexp 'https://github.com/acme/.*' --scope 'acme-*'";

const ADD_CA_HELP: &str = "\
Examples:
  mcp-warden trust add-ca acme-root.pem --name acme-ca --scope 'acme-*'";

const ADD_REGISTRY_KEY_HELP: &str = "\
The key as the registry publishes it at /-/npm/v1/keys: its keyid, the
base64 DER public key (ECDSA P-256) and its expires, if any. The keys of
registry.npmjs.org are built in.

Examples:
  mcp-warden trust add-registry-key --registry https://npm.example.com \\
      --keyid SHA256:abc... --key MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...";

const TRUST_LIST_HELP: &str = "\
Examples:
  mcp-warden trust list
  mcp-warden --format json trust list";

const ROOTS_HELP: &str = "\
Examples:
  mcp-warden trust roots";

const TRUST_REMOVE_HELP: &str = "\
Examples:
  mcp-warden trust remove acme";

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Pin a public key (minisign .pub, OpenSSH ed25519 line, or PEM) under a name.
    #[command(after_long_help = ADD_KEY_HELP)]
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
    #[command(after_long_help = ADD_IDENTITY_HELP)]
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
    #[command(after_long_help = ADD_CA_HELP)]
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
    /// Pin a package registry's signing key (npm `dist.signatures`).
    #[command(after_long_help = ADD_REGISTRY_KEY_HELP)]
    AddRegistryKey {
        /// The registry the key signs for (https URL).
        #[arg(long, value_name = "URL")]
        registry: String,
        /// The key id the registry's signatures name.
        #[arg(long, value_name = "ID")]
        keyid: String,
        /// The public key: base64 of its DER SubjectPublicKeyInfo.
        #[arg(long, value_name = "BASE64")]
        key: String,
        /// When the key stops signing (RFC 3339): signatures of versions
        /// published later are refused.
        #[arg(long, value_name = "TIME")]
        expires: Option<String>,
    },
    /// List trusted keys, identities and CAs with their scopes.
    #[command(after_long_help = TRUST_LIST_HELP)]
    List,
    /// List the embedded sigstore trusted roots: logs, CAs and validity windows.
    #[command(after_long_help = ROOTS_HELP)]
    Roots,
    /// Remove an entry from the user's trust store.
    #[command(after_long_help = TRUST_REMOVE_HELP)]
    Remove {
        /// The entry's name.
        name: String,
    },
}

const INIT_HELP: &str = "\
Examples:
  mcp-warden policy init
  mcp-warden --policy team-policy.toml policy init --force";

const CHECK_HELP: &str = "\
Exit status:
  0  no errors
  1  the file has errors (each with file:line:column, a code and a hint)
  2  usage, input or internal error

Examples:
  mcp-warden policy check
  mcp-warden --format json policy check /etc/mcp-warden/policy.toml";

const EXPLAIN_HELP: &str = "\
Examples:
  mcp-warden policy explain github";

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Write a commented policy template (to --policy FILE or the home's policy.toml).
    #[command(after_long_help = INIT_HELP)]
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Report every problem in a policy file with file:line:column and a code.
    /// Exits 1 when it finds errors.
    #[command(after_long_help = CHECK_HELP)]
    Check {
        /// The file to check (default: the policies in force).
        file: Option<PathBuf>,
    },
    /// Show what a server needs and which rule says so.
    #[command(after_long_help = EXPLAIN_HELP)]
    Explain {
        /// The server name.
        name: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The server's name in servers.lock.
    pub name: String,

    /// Re-hash the artifact and verify it in full, even when the receipt of
    /// the last full check says nothing changed.
    #[arg(long)]
    pub rehash: bool,

    /// Pass variable VAR from this environment (the client config's `env`)
    /// to the server (repeatable). Without it the server sees only PATH,
    /// HOME, LANG, LC_*, TZ, TMPDIR, its declared variables and its secrets.
    #[arg(long = "env", value_name = "VAR", value_parser = var_name)]
    pub env: Vec<String>,

    /// Seconds to wait after the client closes stdin before SIGTERM, and
    /// again before SIGKILL.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    pub grace_period: Duration,

    /// Also export the audit events (launch decision, tool calls, guard
    /// findings) as OpenTelemetry logs and spans to this OTLP/HTTP base URL
    /// (e.g. http://127.0.0.1:4318); the policy's `[audit] otlp` otherwise.
    /// Export never blocks or stops the server.
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,

    /// Never fetch: when the pinned files are not in the cache, fail
    /// instead of fetching them again from the URLs servers.lock records.
    #[arg(long)]
    pub offline: bool,

    /// Arguments for the server, after `--`; they follow the ones the
    /// source declares.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<OsString>,
}

fn var_name(s: &str) -> Result<String, String> {
    if crate::names::valid_env_name(s) {
        Ok(s.to_string())
    } else {
        Err("a variable name is letters, digits and _, not starting with a digit".into())
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.0..=3600.0).contains(&v) {
        return Err("give between 0 and 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(v))
}

const AUDIT_SHOW_HELP: &str = "\
Examples:
  mcp-warden audit show --since 1h
  mcp-warden audit show --server github --since 2026-01-31T12:00:00Z
  mcp-warden --format json audit show --server github";

const AUDIT_VERIFY_HELP: &str = "\
Exit status:
  0  the log is intact
  1  the log is broken (the first bad line is named)
  2  the log cannot be read

Examples:
  mcp-warden audit verify";

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the records, oldest first (lines that are not records are
    /// reported on stderr); does not check the chain: see `audit verify`.
    #[command(after_long_help = AUDIT_SHOW_HELP)]
    Show {
        /// Only this server's records.
        #[arg(long, value_name = "NAME")]
        server: Option<String>,
        /// Only records at or after T: an RFC 3339 time
        /// (2026-01-31T12:00:00Z) or a span back from now (90s, 30m, 1h, 2d, 1w).
        #[arg(long, value_name = "T")]
        since: Option<String>,
    },
    /// Check the hash chain and the head file; names the first edited,
    /// removed, inserted, reordered or truncated record.
    #[command(after_long_help = AUDIT_VERIFY_HELP)]
    Verify,
}

const CLIENT_INSTALL_HELP: &str = "\
Examples:
  mcp-warden client install --client claude --dry-run
  mcp-warden client install --client claude
  mcp-warden client install --client vscode --config .vscode/mcp.json --yes";

const CLIENT_UNINSTALL_HELP: &str = "\
Examples:
  mcp-warden client uninstall --client claude --dry-run
  mcp-warden client uninstall --client claude github";

const LIST_ABOUT: &str = "\
Show the servers pinned in servers.lock: for each its name, source,
version, kind, the evidence it was verified with (signers, whether
provenance and an SBOM were checked, or why it is unsigned), how many
packages its dependency tree pins, and when it last started (the newest
`launch` record of the audit log; only the last 16 MiB of the log are
read, so an older run shows as unknown). --format json prints the same
as one JSON document, for scripts.";

const SBOM_ABOUT: &str = "\
Print the SBOM that `add` generated of what it resolved for a pinned
server, and judged with the SBOM policy: a CycloneDX 1.6 document with the
server's package as the top component, every package of its dependency
tree (purl, the pinned SHA-256 and, for npm, SHA-512, the licence its own
metadata declares, the URL it was fetched from) and the dependency graph.

--json prints the document byte for byte as it was judged (it is kept in
the cache, and its sha256 in servers.lock); --tree prints the graph like
`npm ls`, each package with its licence. Without either, a terminal gets
the tree and a pipe the JSON. A server pinned as a single file gets the
SBOM of its one component. A kept SBOM that is missing or changed in the
cache is refused (cache-mismatch): add the server again.";

const SBOM_HELP: &str = "\
Examples:
  mcp-warden sbom everything
  mcp-warden sbom everything --json > everything.cdx.json
  mcp-warden sbom time --tree";

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The server's name in servers.lock.
    pub name: String,
    /// Print the CycloneDX JSON exactly as stored.
    #[arg(long, conflicts_with = "tree")]
    pub json: bool,
    /// Print the dependency tree with each package's licence.
    #[arg(long)]
    pub tree: bool,
}

const LIST_HELP: &str = "\
Examples:
  mcp-warden list
  mcp-warden --format json list";

const CLIENT_LIST_HELP: &str = "\
Examples:
  mcp-warden client list
  mcp-warden client list --client cursor";

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Rewrite a client's config so each local server starts through `mcp-warden run NAME`.
    ///
    /// Each stdio server becomes `/abs/path/mcp-warden run NAME` (absolute,
    /// since Claude Desktop trims PATH), with the server's own arguments
    /// after `--` and `--env VAR` for each variable left in its `env`
    /// (the entry's other keys, such as `cwd`, stay as they are). Only
    /// pinned servers are wrapped: `run` starts nothing else. A server
    /// started as `npx -y PKG[@VERSION]` or `uvx PKG[==VERSION]` that is
    /// not pinned is offered for pinning under its entry's name, exactly
    /// as `mcp-warden add NAME npm:PKG[@VERSION]` (or `pypi:`) would pin
    /// it, under the same policy: asked on a terminal, pinned with --yes,
    /// shown with --dry-run. If the policy denies it, or it cannot be
    /// pinned from its command, it is left as it was, with the reason.
    /// Remote servers and commands mcp-warden cannot understand (docker,
    /// shell strings) are left alone, with the reason. Secret-looking env
    /// values are offered for the keychain; a backup of the original is
    /// written beside the file (mode 0600: it holds the original's secrets)
    /// and the file is replaced atomically. VS Code's comments and layout
    /// are kept. Running it again changes nothing.
    #[command(after_long_help = CLIENT_INSTALL_HELP)]
    Install(InstallArgs),
    /// Show each server of the clients' configs: wrapped, not wrapped or remote.
    #[command(after_long_help = CLIENT_LIST_HELP)]
    List(ListArgs),
    /// Give wrapped servers back their original entries.
    ///
    /// `client install` keeps each server's original entry in the
    /// backup it writes beside the config; `uninstall` puts the original
    /// entry back for each server still wrapped as install left it (one
    /// SERVER, or all), from the newest backup that holds it. A server
    /// whose entry was changed since (it no longer starts `mcp-warden run`
    /// with that name) is left alone and reported. The file is checked
    /// and replaced atomically; if anything fails it stays as it was.
    #[command(after_long_help = CLIENT_UNINSTALL_HELP)]
    Uninstall(UninstallArgs),
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// The client whose config to restore.
    #[arg(long, value_enum)]
    pub client: ClientArg,
    /// The config file (default: the client's own location for this user).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Show the change as a unified diff and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this server (default: every wrapped server).
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientArg {
    Claude,
    Vscode,
    Cursor,
}

impl From<ClientArg> for crate::client::ClientKind {
    fn from(c: ClientArg) -> Self {
        match c {
            ClientArg::Claude => crate::client::ClientKind::Claude,
            ClientArg::Vscode => crate::client::ClientKind::Vscode,
            ClientArg::Cursor => crate::client::ClientKind::Cursor,
        }
    }
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The client whose config to rewrite.
    #[arg(long, value_enum)]
    pub client: ClientArg,
    /// The config file (default: the client's own location for this user).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Show the change as a unified diff and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Pin servers that are not pinned yet and move secret-looking env
    /// values into the keychain, without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The mcp-warden to put in the config (default: this executable).
    #[arg(long, hide = true, value_name = "PATH")]
    pub warden_path: Option<PathBuf>,

    /// Where and how servers pinned on the way are fetched (as for `add`).
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this client (default: every client whose config exists).
    #[arg(long, value_enum)]
    pub client: Option<ClientArg>,
    /// The config file (needs --client).
    #[arg(long, value_name = "FILE", requires = "client")]
    pub config: Option<PathBuf>,
}

const SECRET_SET_HELP: &str = "\
Examples:
  mcp-warden secret set github GITHUB_TOKEN
  gh auth token | mcp-warden secret set github GITHUB_TOKEN";

const SECRET_RM_HELP: &str = "\
Examples:
  mcp-warden secret rm github GITHUB_TOKEN";

const SECRET_LIST_HELP: &str = "\
Examples:
  mcp-warden secret list
  mcp-warden secret list github";

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a secret for a server: the value is read from a no-echo prompt
    /// on a terminal, else from stdin (one trailing newline dropped), never
    /// from the command line.
    #[command(after_long_help = SECRET_SET_HELP)]
    Set {
        /// The server's name (as in servers.lock).
        server: String,
        /// The environment variable the server reads it from.
        var: String,
    },
    /// Remove a secret from the keychain and the index; a secret that is
    /// stored in neither is an error (exit 2).
    #[command(after_long_help = SECRET_RM_HELP)]
    Rm {
        /// The server's name.
        server: String,
        /// The variable's name.
        var: String,
    },
    /// List the stored secrets' names, and whether the keychain still holds
    /// each (present/missing); never their values.
    #[command(after_long_help = SECRET_LIST_HELP)]
    List {
        /// Only this server's secrets.
        server: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The server's name (as in servers.lock).
    pub name: String,
    /// Apply without asking (for scripts); without it, approve asks on a
    /// terminal and refuses when there is none.
    #[arg(long)]
    pub yes: bool,
    /// The argument variant to approve, as run's message names it (`none`:
    /// the server run without arguments): each set of server arguments
    /// has its own approvals.
    #[arg(long, value_name = "ID", conflicts_with = "args")]
    pub variant: Option<String>,
    /// The arguments the server is run with (after `--`, as in `run NAME
    /// -- ARGS`), instead of --variant.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<std::ffi::OsString>,
}

impl EvidenceArgs {
    /// The flags as the library's request.
    pub fn request(&self) -> EvidenceRequest {
        EvidenceRequest {
            signature: self.signature.clone(),
            bundle: self.bundle.clone(),
            certificate_identity: self.certificate_identity.clone(),
            certificate_identity_regexp: self.certificate_identity_regexp.clone(),
            certificate_oidc_issuer: self.certificate_oidc_issuer.clone(),
            certificate_oidc_issuer_regexp: self.certificate_oidc_issuer_regexp.clone(),
            provenance: self.provenance.clone(),
            sbom: self.sbom.clone(),
            sbom_signature: self.sbom_signature.clone(),
            advisories: self.advisories.clone(),
            trusted_root: self.trusted_root.clone(),
            key: self.key.clone(),
            key_name: self.key_name.clone(),
            unsigned: None,
            origin: None,
        }
    }
}

impl FetchArgs {
    /// The flags as the library's request; `progress` draws a progress bar.
    pub fn request(&self, progress: bool) -> FetchRequest {
        FetchRequest {
            registry: self.registry.clone(),
            pypi_url: self.pypi_url.clone(),
            registry_url: self.registry_url.clone(),
            ca_file: self.ca_file.clone(),
            offline: self.offline,
            max_size: self.max_size,
            timeout: self.timeout,
            min_rate: self.min_rate,
            min_rate_window: self.min_rate_window,
            progress,
            dependencies: !self.no_dependencies,
        }
    }
}

impl RunArgs {
    /// The flags as the library's request.
    pub fn request(&self) -> LaunchRequest {
        LaunchRequest {
            name: self.name.clone(),
            rehash: self.rehash,
            env: self.env.clone(),
            grace_period: self.grace_period,
            otlp: self.otlp.clone(),
            args: self.args.clone(),
            offline: self.offline,
        }
    }
}
