//! The commented template `policy init` writes.

pub const TEMPLATE: &str = r#"# mcp-warden policy: see docs/src/policy.md in the mcp-warden sources.
# Check it with `mcp-warden policy check`; see one server's rules with
# `mcp-warden policy explain NAME`.
version = 1

# "enforce" denies what fails; "audit" allows it and reports what would
# have been denied. A system policy (/etc/mcp-warden/policy.toml) in
# enforce mode cannot be relaxed here.
mode = "enforce"

[defaults]
# Evidence every server must have: "signature", "provenance", "sbom".
require = ["signature"]
# Uncomment to accept only these trust-store names (`mcp-warden trust list`).
# Without it, any trusted signer whose scope covers the server counts.
# signers = ["acme-release"]

# Run settings for every server, named below or not; an entry's
# [servers.run] replaces a key for its server. In the system policy this
# is a floor a user policy can only tighten.
# [defaults.run]
# sandbox = "require"
# guard = true
# network = false

# One entry per server (an exact name: no globs, case counts); `name` is what `verify --server` and `run` use.
# [[servers]]
# name = "github"
# source = "npm:@acme/github-mcp@1.4.2"
# signers = ["acme-release"]
# digests = ["sha256:<64 hex digits>"]   # accept only these exact builds
# [servers.provenance]
# builder-id = ["https://github.com/actions/runner/github-hosted"]
# source-repo = "acme/github-mcp"
# source-ref = "refs/tags/v*"

# `mcp-warden add NAME SOURCE --unsigned --reason "..."` pins a server
# whose publisher signs nothing, with the reason on record. Uncomment to
# refuse such pins (also those made before, at their next `run`).
# [sources]
# allow-unsigned = false
# npm packages that declare install scripts (postinstall, ...) are pinned
# with a warning; their scripts never run. "deny" refuses such a tree.
# install-scripts = "deny"

# Exceptions waive a requirement for matching servers; a reason is
# mandatory and shown whenever the exception applies.
# [[exceptions]]
# servers = ["legacy-*"]
# waive = ["signature"]
# reason = "vendor publishes no signatures yet; ticket SEC-123"
"#;
