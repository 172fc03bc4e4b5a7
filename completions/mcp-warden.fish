# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mcp_warden_global_optspecs
    string join \n home= policy= format= v/verbose q/quiet h/help V/version
end

function __fish_mcp_warden_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mcp_warden_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mcp_warden_using_subcommand
    set -l cmd (__fish_mcp_warden_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -s V -l version -d 'Print version'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "add" -d 'Fetch a server, verify it, and pin it in servers.lock'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "run" -d 'Check a pinned server again and start it over stdio, with a clean environment and its secrets from the OS keychain'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "client" -d 'Route MCP client configs (Claude Desktop, VS Code, Cursor) through `mcp-warden run`'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "secret" -d 'Store, remove and list servers\' secrets in the OS keychain'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "approve" -d 'Accept a server\'s changed tool descriptions (shows the difference first)'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "update" -d 'Re-resolve a pinned server under the current policy; shows the change first'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "list" -d 'Show the pinned servers: source, version, evidence, packages, last run'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "sbom" -d 'Print the SBOM of a pinned server\'s resolved tree (CycloneDX JSON, or a tree)'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "remove" -d 'Unpin a server and drop its cache references'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "audit" -d 'Show the audit log and verify its hash chain'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "trust" -d 'Manage the trust store: pinned keys and identities with scopes'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "policy" -d 'Write, check and explain the policy file'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "cache" -d 'Inspect and maintain the content-addressed cache'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "verify" -d 'Verify an artifact\'s signatures and judge it against the policy'
complete -c mcp-warden -n "__fish_mcp_warden_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l signature -d 'A signature: minisign `.minisig`, OpenSSH `SSH SIGNATURE`, or a DSSE envelope (repeatable)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l bundle -d 'A sigstore bundle (v0.1, v0.2, v0.3), an npm attestations document or an `.intoto.jsonl` file; verified offline against the pinned trusted roots' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l certificate-identity -d 'The signer\'s exact certificate identity (keyless bundles)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l certificate-identity-regexp -d 'A regular expression that must match the WHOLE certificate identity (unlike cosign, which matches anywhere)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l certificate-oidc-issuer -d 'The exact OIDC issuer of the signer\'s certificate' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l certificate-oidc-issuer-regexp -d 'A regular expression that must match the whole OIDC issuer' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l provenance -d 'Build provenance (SLSA v0.2 or v1 in-toto statement): a sigstore bundle, npm attestations document, `.intoto.jsonl`, or a DSSE envelope signed by a pinned key; repeatable' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l sbom -d 'An SBOM: CycloneDX 1.2-1.7 (JSON, XML) or SPDX 2.2/2.3 (JSON, tag-value), loose or as a signed in-toto attestation; repeatable' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l sbom-signature -d 'A detached signature over one of the loose --sbom files: minisign `.minisig`, OpenSSH `SSH SIGNATURE`, or a sigstore bundle (`cosign sign-blob --bundle`); repeatable. Matched to its SBOM by content and judged like an artifact signature (--key, trust store, identity flags); one that verifies over no SBOM fails' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l advisories -d 'An offline OSV database: a directory of OSV JSON files or an ecosystem\'s all.zip, used together with every policy layer\'s [advisories] db (it adds to them, never replaces them)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l trusted-root -d 'A sigstore trusted_root.json that replaces the embedded roots for this call, or the name of an embedded root (`sigstore-staging`). Without it, the production roots (sigstore-production, github) are used' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l key -d 'A public key to verify with (minisign `.pub`, OpenSSH line, PEM; PEM ECDSA P-256 or Ed25519 for managed-key sigstore bundles); repeatable. Without --key and --key-name, every trusted key is tried' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l key-name -d 'A trusted key by its trust-store name (repeatable)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l registry -d 'The npm registry (default https://registry.npmjs.org)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l pypi-url -d 'The PyPI index (default https://pypi.org): a host, whose /simple/ is read, or a simple-API root ending in /simple or /+simple (devpi)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l registry-url -d 'The MCP registry (default https://registry.modelcontextprotocol.io)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l ca-file -d 'Extra CA certificates (PEM) to trust for https besides the system\'s, e.g. an enterprise proxy\'s (repeatable). MCP_WARDEN_CA_FILE adds more: paths separated by \':\'' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l max-size -d 'The largest artifact to fetch or copy, in bytes' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l timeout -d 'The longest one download may take, from the request to its last byte, in seconds. Connecting and each wait for data also give up after 30 s (or SECS, if less), so a download ends at the latest that long after its deadline' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l min-rate -d 'The slowest a download may go, in bytes per second, averaged over each --min-rate-window of the body after the first (a grace period); 0 turns the check off' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l min-rate-window -d 'The window, in seconds, over which --min-rate is averaged' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l reason -d 'Why the server is pinned without a signature (with --unsigned): one line of text, at most 500 characters' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l locked -d 'Fetch exactly what servers.lock pins into the cache (every server, or NAME) and verify it as `run` would: the artifact from the URL the lock records, each package of its tree against its integrity, the tree against its pinned digest. Nothing is resolved and servers.lock is not changed'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l offline -d 'Use only the cache: fail instead of fetching'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l no-dependencies -d 'Pin an npm package\'s own tarball or a wheel alone, without resolving and pinning its dependency tree (then it runs only if it carries its dependencies inside)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l allow-downgrade -d 'Pin a version lower than the one already pinned (rollback protection refuses it otherwise)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -l unsigned -d 'Pin without a signature, on purpose: the signature requirement is waived for this server, and servers.lock and every report show the --reason. Refused where the policy says `[sources] allow-unsigned = false`'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -l env -d 'Pass variable VAR from this environment (the client config\'s `env`) to the server (repeatable). Without it the server sees only PATH, HOME, LANG, LC_*, TZ, TMPDIR, its declared variables and its secrets' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -l grace-period -d 'Seconds to wait after the client closes stdin before SIGTERM, and again before SIGKILL' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -l otlp -d 'Also export the audit events (launch decision, tool calls, guard findings) as OpenTelemetry logs and spans to this OTLP/HTTP base URL (e.g. http://127.0.0.1:4318); the policy\'s `[audit] otlp` otherwise. Export never blocks or stops the server' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -l rehash -d 'Re-hash the artifact and verify it in full, even when the receipt of the last full check says nothing changed'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -l offline -d 'Never fetch: when the pinned files are not in the cache, fail instead of fetching them again from the URLs servers.lock records'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -f -a "install" -d 'Rewrite a client\'s config so each local server starts through `mcp-warden run NAME`'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -f -a "list" -d 'Show each server of the clients\' configs: wrapped, not wrapped or remote'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -f -a "uninstall" -d 'Give wrapped servers back their original entries'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and not __fish_seen_subcommand_from install list uninstall help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l client -d 'The client whose config to rewrite' -r -f -a "claude\t''
vscode\t''
cursor\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l config -d 'The config file (default: the client\'s own location for this user)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l warden-path -d 'The mcp-warden to put in the config (default: this executable)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l registry -d 'The npm registry (default https://registry.npmjs.org)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l pypi-url -d 'The PyPI index (default https://pypi.org): a host, whose /simple/ is read, or a simple-API root ending in /simple or /+simple (devpi)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l registry-url -d 'The MCP registry (default https://registry.modelcontextprotocol.io)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l ca-file -d 'Extra CA certificates (PEM) to trust for https besides the system\'s, e.g. an enterprise proxy\'s (repeatable). MCP_WARDEN_CA_FILE adds more: paths separated by \':\'' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l max-size -d 'The largest artifact to fetch or copy, in bytes' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l timeout -d 'The longest one download may take, from the request to its last byte, in seconds. Connecting and each wait for data also give up after 30 s (or SECS, if less), so a download ends at the latest that long after its deadline' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l min-rate -d 'The slowest a download may go, in bytes per second, averaged over each --min-rate-window of the body after the first (a grace period); 0 turns the check off' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l min-rate-window -d 'The window, in seconds, over which --min-rate is averaged' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l dry-run -d 'Show the change as a unified diff and change nothing'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -s y -l yes -d 'Pin servers that are not pinned yet and move secret-looking env values into the keychain, without asking'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l offline -d 'Use only the cache: fail instead of fetching'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -l no-dependencies -d 'Pin an npm package\'s own tarball or a wheel alone, without resolving and pinning its dependency tree (then it runs only if it carries its dependencies inside)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from list" -l client -d 'Only this client (default: every client whose config exists)' -r -f -a "claude\t''
vscode\t''
cursor\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from list" -l config -d 'The config file (needs --client)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from list" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from list" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from list" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -l client -d 'The client whose config to restore' -r -f -a "claude\t''
vscode\t''
cursor\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -l config -d 'The config file (default: the client\'s own location for this user)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -l dry-run -d 'Show the change as a unified diff and change nothing'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "install" -d 'Rewrite a client\'s config so each local server starts through `mcp-warden run NAME`'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "list" -d 'Show each server of the clients\' configs: wrapped, not wrapped or remote'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Give wrapped servers back their original entries'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -f -a "set" -d 'Store a secret for a server: the value is read from a no-echo prompt on a terminal, else from stdin (one trailing newline dropped), never from the command line'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -f -a "rm" -d 'Remove a secret from the keychain and the index; a secret that is stored in neither is an error (exit 2)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -f -a "list" -d 'List the stored secrets\' names, and whether the keychain still holds each (present/missing); never their values'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and not __fish_seen_subcommand_from set rm list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from set" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from set" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from set" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from set" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from rm" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from rm" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from rm" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from list" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from list" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from list" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "set" -d 'Store a secret for a server: the value is read from a no-echo prompt on a terminal, else from stdin (one trailing newline dropped), never from the command line'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove a secret from the keychain and the index; a secret that is stored in neither is an error (exit 2)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the stored secrets\' names, and whether the keychain still holds each (present/missing); never their values'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand secret; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand approve" -l variant -d 'The argument variant to approve, as run\'s message names it (`none`: the server run without arguments): each set of server arguments has its own approvals' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand approve" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand approve" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand approve" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand approve" -l yes -d 'Apply without asking (for scripts); without it, approve asks on a terminal and refuses when there is none'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand approve" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand approve" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l signature -d 'A signature: minisign `.minisig`, OpenSSH `SSH SIGNATURE`, or a DSSE envelope (repeatable)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l bundle -d 'A sigstore bundle (v0.1, v0.2, v0.3), an npm attestations document or an `.intoto.jsonl` file; verified offline against the pinned trusted roots' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l certificate-identity -d 'The signer\'s exact certificate identity (keyless bundles)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l certificate-identity-regexp -d 'A regular expression that must match the WHOLE certificate identity (unlike cosign, which matches anywhere)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l certificate-oidc-issuer -d 'The exact OIDC issuer of the signer\'s certificate' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l certificate-oidc-issuer-regexp -d 'A regular expression that must match the whole OIDC issuer' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l provenance -d 'Build provenance (SLSA v0.2 or v1 in-toto statement): a sigstore bundle, npm attestations document, `.intoto.jsonl`, or a DSSE envelope signed by a pinned key; repeatable' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l sbom -d 'An SBOM: CycloneDX 1.2-1.7 (JSON, XML) or SPDX 2.2/2.3 (JSON, tag-value), loose or as a signed in-toto attestation; repeatable' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l sbom-signature -d 'A detached signature over one of the loose --sbom files: minisign `.minisig`, OpenSSH `SSH SIGNATURE`, or a sigstore bundle (`cosign sign-blob --bundle`); repeatable. Matched to its SBOM by content and judged like an artifact signature (--key, trust store, identity flags); one that verifies over no SBOM fails' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l advisories -d 'An offline OSV database: a directory of OSV JSON files or an ecosystem\'s all.zip, used together with every policy layer\'s [advisories] db (it adds to them, never replaces them)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l trusted-root -d 'A sigstore trusted_root.json that replaces the embedded roots for this call, or the name of an embedded root (`sigstore-staging`). Without it, the production roots (sigstore-production, github) are used' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l key -d 'A public key to verify with (minisign `.pub`, OpenSSH line, PEM; PEM ECDSA P-256 or Ed25519 for managed-key sigstore bundles); repeatable. Without --key and --key-name, every trusted key is tried' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l key-name -d 'A trusted key by its trust-store name (repeatable)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l registry -d 'The npm registry (default https://registry.npmjs.org)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l pypi-url -d 'The PyPI index (default https://pypi.org): a host, whose /simple/ is read, or a simple-API root ending in /simple or /+simple (devpi)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l registry-url -d 'The MCP registry (default https://registry.modelcontextprotocol.io)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l ca-file -d 'Extra CA certificates (PEM) to trust for https besides the system\'s, e.g. an enterprise proxy\'s (repeatable). MCP_WARDEN_CA_FILE adds more: paths separated by \':\'' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l max-size -d 'The largest artifact to fetch or copy, in bytes' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l timeout -d 'The longest one download may take, from the request to its last byte, in seconds. Connecting and each wait for data also give up after 30 s (or SECS, if less), so a download ends at the latest that long after its deadline' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l min-rate -d 'The slowest a download may go, in bytes per second, averaged over each --min-rate-window of the body after the first (a grace period); 0 turns the check off' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l min-rate-window -d 'The window, in seconds, over which --min-rate is averaged' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l dry-run -d 'Show what would change, change nothing'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l yes -d 'Pin even when a package of the tree was republished: the same version with another integrity (`package-republished`)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l offline -d 'Use only the cache: fail instead of fetching'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -l no-dependencies -d 'Pin an npm package\'s own tarball or a wheel alone, without resolving and pinning its dependency tree (then it runs only if it carries its dependencies inside)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand list" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand list" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand list" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand list" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand list" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand sbom" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand sbom" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand sbom" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand sbom" -l json -d 'Print the CycloneDX JSON exactly as stored'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand sbom" -l tree -d 'Print the dependency tree with each package\'s licence'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand sbom" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand sbom" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand sbom" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand remove" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand remove" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand remove" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand remove" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand remove" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -f -a "show" -d 'Print the records, oldest first (lines that are not records are reported on stderr); does not check the chain: see `audit verify`'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -f -a "verify" -d 'Check the hash chain and the head file; names the first edited, removed, inserted, reordered or truncated record'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and not __fish_seen_subcommand_from show verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from show" -l server -d 'Only this server\'s records' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from show" -l since -d 'Only records at or after T: an RFC 3339 time (2026-01-31T12:00:00Z) or a span back from now (90s, 30m, 1h, 2d, 1w)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from show" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from show" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from show" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from verify" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from verify" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from verify" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the records, oldest first (lines that are not records are reported on stderr); does not check the chain: see `audit verify`'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the hash chain and the head file; names the first edited, removed, inserted, reordered or truncated record'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -f -a "add-key" -d 'Pin a public key (minisign .pub, OpenSSH ed25519 line, or PEM) under a name'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -f -a "add-identity" -d 'Pin a sigstore signer by OIDC issuer and certificate identity'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -f -a "add-ca" -d 'Pin an X.509 root CA (PEM) that may anchor `.mcpb` bundle signatures'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -f -a "add-registry-key" -d 'Pin a package registry\'s signing key (npm `dist.signatures`)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -f -a "list" -d 'List trusted keys, identities and CAs with their scopes'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -f -a "roots" -d 'List the embedded sigstore trusted roots: logs, CAs and validity windows'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -f -a "remove" -d 'Remove an entry from the user\'s trust store'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and not __fish_seen_subcommand_from add-key add-identity add-ca add-registry-key list roots remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -l name -d 'The name policies use for this signer' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -l scope -d 'Server names (globs) this key may vouch for; repeatable. Required: use \'*\' for all' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -l ssh-namespace -d 'Namespace OpenSSH signatures by this key must carry' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-key" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -l name -d 'The name policies use for this signer' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -l issuer -d 'The OIDC issuer URL, e.g. https://token.actions.githubusercontent.com' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -l identity -d 'The exact certificate identity (SAN)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -l identity-regexp -d 'A regular expression that must match the whole identity' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -l scope -d 'Server names (globs) this identity may vouch for; repeatable and required' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-identity" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-ca" -l name -d 'The name this CA is listed under' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-ca" -l scope -d 'Server names (globs) bundles signed under this CA may be; repeatable and required' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-ca" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-ca" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-ca" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-ca" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-ca" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-ca" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -l registry -d 'The registry the key signs for (https URL)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -l keyid -d 'The key id the registry\'s signatures name' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -l key -d 'The public key: base64 of its DER SubjectPublicKeyInfo' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -l expires -d 'When the key stops signing (RFC 3339): signatures of versions published later are refused' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from add-registry-key" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from list" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from list" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from list" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from roots" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from roots" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from roots" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from roots" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from roots" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from roots" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from remove" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from remove" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from remove" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "add-key" -d 'Pin a public key (minisign .pub, OpenSSH ed25519 line, or PEM) under a name'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "add-identity" -d 'Pin a sigstore signer by OIDC issuer and certificate identity'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "add-ca" -d 'Pin an X.509 root CA (PEM) that may anchor `.mcpb` bundle signatures'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "add-registry-key" -d 'Pin a package registry\'s signing key (npm `dist.signatures`)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "list" -d 'List trusted keys, identities and CAs with their scopes'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "roots" -d 'List the embedded sigstore trusted roots: logs, CAs and validity windows'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove an entry from the user\'s trust store'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -f -a "init" -d 'Write a commented policy template (to --policy FILE or the home\'s policy.toml)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -f -a "check" -d 'Report every problem in a policy file with file:line:column and a code. Exits 1 when it finds errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -f -a "explain" -d 'Show what a server needs and which rule says so'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and not __fish_seen_subcommand_from init check explain help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from init" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from init" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from init" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from init" -l force -d 'Replace an existing file'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from init" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from init" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from check" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from check" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from check" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from explain" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from explain" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from explain" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from explain" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from explain" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "init" -d 'Write a commented policy template (to --policy FILE or the home\'s policy.toml)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Report every problem in a policy file with file:line:column and a code. Exits 1 when it finds errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "explain" -d 'Show what a server needs and which rule says so'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -f -a "list" -d 'List what the cache holds and which servers use it'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -f -a "verify" -d 'Re-hash every cached artifact and unpacked tree; exits 1 on a mismatch'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -f -a "gc" -d 'Remove what no pinned server uses'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and not __fish_seen_subcommand_from list verify gc help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from list" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from list" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from list" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from verify" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from verify" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from verify" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from gc" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from gc" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from gc" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from gc" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from gc" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "list" -d 'List what the cache holds and which servers use it'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Re-hash every cached artifact and unpacked tree; exits 1 on a mismatch'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "gc" -d 'Remove what no pinned server uses'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l signature -d 'A signature: minisign `.minisig`, OpenSSH `SSH SIGNATURE`, or a DSSE envelope (repeatable)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l bundle -d 'A sigstore bundle (v0.1, v0.2, v0.3), an npm attestations document or an `.intoto.jsonl` file; verified offline against the pinned trusted roots' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l certificate-identity -d 'The signer\'s exact certificate identity (keyless bundles)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l certificate-identity-regexp -d 'A regular expression that must match the WHOLE certificate identity (unlike cosign, which matches anywhere)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l certificate-oidc-issuer -d 'The exact OIDC issuer of the signer\'s certificate' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l certificate-oidc-issuer-regexp -d 'A regular expression that must match the whole OIDC issuer' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l provenance -d 'Build provenance (SLSA v0.2 or v1 in-toto statement): a sigstore bundle, npm attestations document, `.intoto.jsonl`, or a DSSE envelope signed by a pinned key; repeatable' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l sbom -d 'An SBOM: CycloneDX 1.2-1.7 (JSON, XML) or SPDX 2.2/2.3 (JSON, tag-value), loose or as a signed in-toto attestation; repeatable' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l sbom-signature -d 'A detached signature over one of the loose --sbom files: minisign `.minisig`, OpenSSH `SSH SIGNATURE`, or a sigstore bundle (`cosign sign-blob --bundle`); repeatable. Matched to its SBOM by content and judged like an artifact signature (--key, trust store, identity flags); one that verifies over no SBOM fails' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l advisories -d 'An offline OSV database: a directory of OSV JSON files or an ecosystem\'s all.zip, used together with every policy layer\'s [advisories] db (it adds to them, never replaces them)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l trusted-root -d 'A sigstore trusted_root.json that replaces the embedded roots for this call, or the name of an embedded root (`sigstore-staging`). Without it, the production roots (sigstore-production, github) are used' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l key -d 'A public key to verify with (minisign `.pub`, OpenSSH line, PEM; PEM ECDSA P-256 or Ed25519 for managed-key sigstore bundles); repeatable. Without --key and --key-name, every trusted key is tried' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l key-name -d 'A trusted key by its trust-store name (repeatable)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l server -d 'Evaluate against this server\'s policy entry and scopes (default: the artifact\'s file name)' -r
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l home -d 'Keep config, data and cache under DIR instead of the platform\'s directories' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l policy -d 'Use FILE as the user policy (the system policy still applies)' -r -F
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l format -d 'Output format: text for people, or one JSON document on stdout' -r -f -a "human\t''
json\t''"
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -l summary -d 'Print a summary of each SBOM (components, licences, ecosystems)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -s q -l quiet -d 'Print only the verdict and errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "add" -d 'Fetch a server, verify it, and pin it in servers.lock'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "run" -d 'Check a pinned server again and start it over stdio, with a clean environment and its secrets from the OS keychain'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "client" -d 'Route MCP client configs (Claude Desktop, VS Code, Cursor) through `mcp-warden run`'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "secret" -d 'Store, remove and list servers\' secrets in the OS keychain'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "approve" -d 'Accept a server\'s changed tool descriptions (shows the difference first)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "update" -d 'Re-resolve a pinned server under the current policy; shows the change first'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "list" -d 'Show the pinned servers: source, version, evidence, packages, last run'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "sbom" -d 'Print the SBOM of a pinned server\'s resolved tree (CycloneDX JSON, or a tree)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "remove" -d 'Unpin a server and drop its cache references'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "audit" -d 'Show the audit log and verify its hash chain'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "trust" -d 'Manage the trust store: pinned keys and identities with scopes'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "policy" -d 'Write, check and explain the policy file'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "cache" -d 'Inspect and maintain the content-addressed cache'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "verify" -d 'Verify an artifact\'s signatures and judge it against the policy'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and not __fish_seen_subcommand_from add run client secret approve update list sbom remove audit trust policy cache verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "install" -d 'Rewrite a client\'s config so each local server starts through `mcp-warden run NAME`'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "list" -d 'Show each server of the clients\' configs: wrapped, not wrapped or remote'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "uninstall" -d 'Give wrapped servers back their original entries'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "set" -d 'Store a secret for a server: the value is read from a no-echo prompt on a terminal, else from stdin (one trailing newline dropped), never from the command line'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "rm" -d 'Remove a secret from the keychain and the index; a secret that is stored in neither is an error (exit 2)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from secret" -f -a "list" -d 'List the stored secrets\' names, and whether the keychain still holds each (present/missing); never their values'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Print the records, oldest first (lines that are not records are reported on stderr); does not check the chain: see `audit verify`'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check the hash chain and the head file; names the first edited, removed, inserted, reordered or truncated record'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "add-key" -d 'Pin a public key (minisign .pub, OpenSSH ed25519 line, or PEM) under a name'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "add-identity" -d 'Pin a sigstore signer by OIDC issuer and certificate identity'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "add-ca" -d 'Pin an X.509 root CA (PEM) that may anchor `.mcpb` bundle signatures'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "add-registry-key" -d 'Pin a package registry\'s signing key (npm `dist.signatures`)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "list" -d 'List trusted keys, identities and CAs with their scopes'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "roots" -d 'List the embedded sigstore trusted roots: logs, CAs and validity windows'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "remove" -d 'Remove an entry from the user\'s trust store'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "init" -d 'Write a commented policy template (to --policy FILE or the home\'s policy.toml)'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Report every problem in a policy file with file:line:column and a code. Exits 1 when it finds errors'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "explain" -d 'Show what a server needs and which rule says so'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "list" -d 'List what the cache holds and which servers use it'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "verify" -d 'Re-hash every cached artifact and unpacked tree; exits 1 on a mismatch'
complete -c mcp-warden -n "__fish_mcp_warden_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "gc" -d 'Remove what no pinned server uses'
