//! The MCP registry: `server.json` documents, from the registry API or a
//! local file, reduced to one fetchable package and its run settings.

use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;

use super::{
    ArgInput, EnvVar, Fetch, Location, ResolveOptions, Resolved, RunHints, Source, SourceError,
    base_url, encode_segment, fetch_doc, npm, parse_json, pypi, spec,
};
use crate::digest::Digest;

/// A server.json is a few KiB; the registry's answer wraps one.
pub const SERVER_JSON_LIMIT: u64 = 4 << 20;

/// Package types in order of preference; others are skipped with a note.
const PREFERENCE: [&str; 3] = ["npm", "pypi", "mcpb"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerJson {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    packages: Vec<Package>,
    #[serde(default)]
    remotes: Vec<Value>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Package {
    registry_type: String,
    #[serde(default)]
    registry_base_url: Option<String>,
    identifier: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    file_sha256: Option<String>,
    #[serde(default)]
    runtime_hint: Option<String>,
    #[serde(default)]
    transport: Option<Transport>,
    #[serde(default)]
    runtime_arguments: Vec<Argument>,
    #[serde(default)]
    package_arguments: Vec<Argument>,
    #[serde(default)]
    environment_variables: Vec<KeyValue>,
}

#[derive(Deserialize, Clone)]
struct Transport {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Argument {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    value_hint: Option<String>,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    is_required: bool,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct KeyValue {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    is_required: bool,
    #[serde(default)]
    is_secret: bool,
    #[serde(default)]
    default: Option<String>,
}

/// The registry URL for a server version (`latest` when unpinned), on the
/// stable `/v0.1` API.
pub fn version_url(base: &str, name: &str, version: Option<&str>) -> String {
    format!(
        "{}/v0.1/servers/{}/versions/{}",
        base.trim_end_matches('/'),
        encode_segment(name),
        encode_segment(version.unwrap_or("latest"))
    )
}

pub fn resolve(
    source: &Source,
    fetch: &dyn Fetch,
    opts: &ResolveOptions,
) -> Result<Resolved, SourceError> {
    let (origin, bytes) = match source {
        Source::Registry { name, version } => {
            spec::validate_registry_name(name).map_err(|reason| SourceError::InvalidSpec {
                spec: source.to_string(),
                reason,
            })?;
            let base = base_url(&opts.mcp_registry)?;
            let url = version_url(base, name, version.as_deref());
            let bytes = fetch_doc(fetch, &url, SERVER_JSON_LIMIT, || {
                format!(
                    "MCP registry server {name} version {}",
                    version.as_deref().unwrap_or("latest")
                )
            })?;
            (url, bytes)
        }
        Source::ServerJson(path) => (path.display().to_string(), read_local(path)?),
        other => {
            return Err(SourceError::InvalidSpec {
                spec: other.to_string(),
                reason: "not an MCP registry source".into(),
            });
        }
    };
    let doc: Value = parse_json(&origin, &bytes)?;
    // The API wraps server.json as {"server": {...}, "_meta": {...}}.
    let server_value = match doc.get("server") {
        Some(inner) if inner.is_object() => inner.clone(),
        _ => doc,
    };
    let server: ServerJson =
        serde_json::from_value(server_value).map_err(|e| SourceError::Json {
            url: origin.clone(),
            message: e.to_string(),
        })?;
    if let Source::Registry { name, version } = source {
        if &server.name != name {
            return Err(field(
                &origin,
                "name",
                format!(
                    "the document is for `{}`, `{name}` was asked for",
                    server.name
                ),
            ));
        }
        if let (Some(v), Some(got)) = (version, &server.version)
            && v != got
        {
            return Err(field(
                &origin,
                "version",
                format!("the document is for {got}, {v} was asked for"),
            ));
        }
    }

    let mut notes = Vec::new();
    let package = choose(&origin, &server, &mut notes)?;
    let (nested, expected) = nested_source(&origin, &package, opts, &mut notes)?;
    let run = run_hints(&origin, &package, &mut notes)?;

    let mut resolved = match &nested {
        Source::Mcpb(Location::Url(url)) => Resolved {
            source: source.clone(),
            nested: None,
            version: package.version.clone().or(server.version.clone()),
            artifact: Location::Url(url.clone()),
            expected,
            kind: super::ArtifactKind::Mcpb,
            attestations: Vec::new(),
            run: RunHints::default(),
            notes: Vec::new(),
        },
        Source::Npm { name, version } => {
            npm::resolve(name, version.as_deref(), fetch, &opts.npm_registry)?
        }
        Source::Pypi { name, version } => {
            pypi::resolve(name, version.as_deref(), fetch, &opts.pypi_index)?
        }
        other => {
            return Err(SourceError::NoUsablePackage {
                origin,
                reason: format!("unexpected nested source {other}"),
            });
        }
    };
    // The package's own facts (bin, engines) stay; server.json adds the
    // run settings.
    let own = std::mem::take(&mut resolved.run);
    resolved.run = RunHints {
        bin: own.bin,
        main: own.main,
        node_engine: own.node_engine,
        requires_python: own.requires_python,
        ..run
    };
    resolved.source = source.clone();
    resolved.nested = Some(nested);
    notes.append(&mut resolved.notes);
    if !server.remotes.is_empty() {
        notes.push(format!(
            "{} remote endpoint(s) listed; mcp-warden launches local packages only",
            server.remotes.len()
        ));
    }
    resolved.notes = notes;
    Ok(resolved)
}

fn field(origin: &str, f: &str, reason: String) -> SourceError {
    SourceError::Field {
        url: origin.to_string(),
        field: f.to_string(),
        reason,
    }
}

fn read_local(path: &Path) -> Result<Vec<u8>, SourceError> {
    crate::fsutil::read_bounded(path, SERVER_JSON_LIMIT).map_err(|e| SourceError::Local {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Picks the package to fetch: npm, then pypi, then mcpb, each only with a
/// stdio transport (the only one `run` launches).
fn choose(
    origin: &str,
    server: &ServerJson,
    notes: &mut Vec<String>,
) -> Result<Package, SourceError> {
    for p in &server.packages {
        if !PREFERENCE.contains(&p.registry_type.as_str()) {
            notes.push(format!(
                "skipped the {} package `{}`: mcp-warden fetches npm, pypi and mcpb packages only",
                clean(&p.registry_type),
                clean(&p.identifier)
            ));
        }
    }
    let mut non_stdio = Vec::new();
    for kind in PREFERENCE {
        for p in server.packages.iter().filter(|p| p.registry_type == kind) {
            let transport = p
                .transport
                .as_ref()
                .map(|t| t.kind.as_str())
                .unwrap_or("stdio");
            if transport == "stdio" {
                return Ok(p.clone());
            }
            non_stdio.push(format!(
                "{} ({} transport)",
                clean(&p.identifier),
                clean(transport)
            ));
        }
    }
    let reason = if !non_stdio.is_empty() {
        format!(
            "only stdio servers can be launched; these use another transport: {}",
            non_stdio.join(", ")
        )
    } else if server.packages.is_empty() {
        "server.json lists no packages (a remote-only server)".to_string()
    } else {
        format!(
            "server.json lists only {} packages",
            server
                .packages
                .iter()
                .map(|p| clean(&p.registry_type))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(SourceError::NoUsablePackage {
        origin: origin.to_string(),
        reason,
    })
}

fn clean(s: &str) -> String {
    crate::text::printable(s, 120)
}

fn nested_source(
    origin: &str,
    p: &Package,
    opts: &ResolveOptions,
    notes: &mut Vec<String>,
) -> Result<(Source, Vec<Digest>), SourceError> {
    let check_base = |configured: &str| -> Result<(), SourceError> {
        if let Some(b) = &p.registry_base_url
            && b.trim_end_matches('/') != configured.trim_end_matches('/')
        {
            // A server.json must not move fetching to a registry the user
            // did not choose.
            return Err(field(
                origin,
                "packages[].registryBaseUrl",
                format!(
                    "`{}` is not the configured registry `{configured}`; pass it explicitly to use it",
                    clean(b)
                ),
            ));
        }
        Ok(())
    };
    let version = || {
        p.version.clone().ok_or_else(|| {
            field(
                origin,
                "packages[].version",
                format!("missing for `{}`", clean(&p.identifier)),
            )
        })
    };
    match p.registry_type.as_str() {
        "npm" => {
            check_base(&opts.npm_registry)?;
            let spec_text = format!("npm:{}@{}", p.identifier, version()?);
            let src = Source::from_str(&spec_text)?;
            Ok((src, Vec::new()))
        }
        "pypi" => {
            check_base(&opts.pypi_index)?;
            let spec_text = format!("pypi:{}=={}", p.identifier, version()?);
            let src = Source::from_str(&spec_text)?;
            Ok((src, Vec::new()))
        }
        "mcpb" => {
            spec::validate_https(&p.identifier).map_err(|_| SourceError::NotHttps {
                url: origin.to_string(),
                field: "packages[].identifier".into(),
                value: clean(&p.identifier),
            })?;
            let expected = match &p.file_sha256 {
                Some(h) => vec![
                    Digest::from_str(&format!("sha256:{h}"))
                        .map_err(|e| field(origin, "packages[].fileSha256", e.to_string()))?,
                ],
                None => {
                    notes.push(
                        "the mcpb package publishes no fileSha256: its signature is the check"
                            .into(),
                    );
                    Vec::new()
                }
            };
            Ok((Source::Mcpb(Location::Url(p.identifier.clone())), expected))
        }
        other => Err(SourceError::NoUsablePackage {
            origin: origin.into(),
            reason: format!("unsupported package type {}", clean(other)),
        }),
    }
}

/// Characters that mean a value was written for a shell: expansion,
/// substitution, redirection, chaining, globbing.
const SHELL_META: &[char] = &[
    '$', '`', ';', '|', '&', '<', '>', '(', ')', '*', '\\', '\n', '\r',
];

fn shell_check(origin: &str, value: &str) -> Result<(), SourceError> {
    let why = if let Some(c) = value.chars().find(|c| SHELL_META.contains(c)) {
        format!("it contains {c:?}")
    } else if let Some(c) = value.chars().find(|c| c.is_control()) {
        format!("it contains the control character {c:?}")
    } else if value.starts_with('~') {
        "it starts with ~ (home directory expansion)".into()
    } else {
        return Ok(());
    };
    Err(SourceError::ShellArgument {
        origin: origin.into(),
        value: clean(value),
        why,
    })
}

/// Turns `runtimeArguments` or `packageArguments` into an argument vector
/// (fixed values and defaults) and the inputs left to the user (a value
/// hint only, or a `{placeholder}` template). Nothing becomes a shell
/// string; a value written for a shell is refused.
fn arguments(
    origin: &str,
    kind: &'static str,
    list: &[Argument],
) -> Result<(Vec<String>, Vec<ArgInput>), SourceError> {
    let mut argv = Vec::new();
    let mut inputs = Vec::new();
    for a in list {
        if let Some(n) = &a.name {
            shell_check(origin, n)?;
        }
        let value = a.value.clone().or_else(|| a.default.clone());
        if let Some(v) = &value {
            shell_check(origin, v)?;
        }
        // `{name}` placeholders are the registry's templates: the user
        // fills them in; nothing is substituted here.
        let templated = value
            .as_deref()
            .is_some_and(|v| v.contains('{') && v.contains('}'));
        match (a.kind.as_str(), value) {
            ("named", Some(v)) if !templated => {
                let n = a.name.clone().ok_or_else(|| {
                    field(
                        origin,
                        &format!("{kind}Arguments[].name"),
                        "missing on a named argument".into(),
                    )
                })?;
                argv.push(n);
                argv.push(v);
            }
            ("positional", Some(v)) if !templated => argv.push(v),
            ("named" | "positional", v) => inputs.push(ArgInput {
                kind,
                flag: a.name.clone(),
                hint: v
                    .or_else(|| a.value_hint.clone())
                    .or_else(|| a.name.clone())
                    .unwrap_or_default(),
                required: a.is_required,
            }),
            (other, _) => {
                return Err(field(
                    origin,
                    &format!("{kind}Arguments[].type"),
                    format!("`{}` is neither positional nor named", clean(other)),
                ));
            }
        }
    }
    Ok((argv, inputs))
}

fn run_hints(origin: &str, p: &Package, notes: &mut Vec<String>) -> Result<RunHints, SourceError> {
    let mut run = RunHints {
        runtime_hint: p.runtime_hint.as_deref().map(clean),
        transport: Some(
            p.transport
                .as_ref()
                .map(|t| clean(&t.kind))
                .unwrap_or_else(|| "stdio".into()),
        ),
        ..RunHints::default()
    };
    let (runtime_args, mut inputs) = arguments(origin, "runtime", &p.runtime_arguments)?;
    let (args, mut more) = arguments(origin, "package", &p.package_arguments)?;
    inputs.append(&mut more);
    run.runtime_args = runtime_args;
    run.args = args;
    run.inputs = inputs;
    for e in &p.environment_variables {
        let valid = e
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && e.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(field(
                origin,
                "environmentVariables[].name",
                format!("`{}` is not an environment variable name", clean(&e.name)),
            ));
        }
        // server.json is not covered by the artifact's signature: it is
        // data, never code (see names::CODE_LOADING).
        if crate::names::loads_code(&e.name) {
            return Err(field(
                origin,
                "environmentVariables[].name",
                format!(
                    "{} would make the runtime load code, and the registry's metadata is not signed; only your policy may set it ([servers.run] env)",
                    e.name
                ),
            ));
        }
        if let Some(d) = &e.default
            && d.chars().any(|c| c.is_control() || c == '\0')
        {
            return Err(field(
                origin,
                "environmentVariables[].default",
                format!("the default of {} contains control characters", e.name),
            ));
        }
        if let Some(d) = &e.default
            && d.contains(['$', '`'])
        {
            notes.push(format!(
                "the default of {} looks like shell expansion; it is passed literally",
                e.name
            ));
        }
        run.env.push(EnvVar {
            name: e.name.clone(),
            description: e.description.as_deref().map(clean),
            required: e.is_required,
            secret: e.is_secret,
            // A secret's default is not kept: secrets come from the keychain.
            default: if e.is_secret { None } else { e.default.clone() },
        });
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{ArtifactKind, resolve as resolve_source};
    use super::*;
    use crate::diag::Diagnose as _;

    const REG: &str = "https://registry.modelcontextprotocol.io";

    fn path(rel: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/sources")
            .join(rel)
    }

    fn opts() -> ResolveOptions {
        ResolveOptions::default()
    }

    fn server_json(rel: &str) -> Value {
        serde_json::from_slice(&fixture(rel)).unwrap()
    }

    /// A server.json (a real example, with its package pointed at a
    /// package we hold real metadata for) served by the registry API.
    fn everything_fetch(modify: impl FnOnce(&mut Value)) -> MapFetch {
        let mut s = server_json("registry/everything.server.json");
        s["packages"][0]["identifier"] = "@modelcontextprotocol/server-everything".into();
        s["packages"][0]["version"] = "2026.8.31".into();
        modify(&mut s);
        let wrapped = serde_json::json!({"server": s, "_meta": {}});
        MapFetch::new()
            .serve(
                &version_url(REG, "io.modelcontextprotocol/everything", None),
                serde_json::to_vec(&wrapped).unwrap(),
            )
            .fixture(
                "https://registry.npmjs.org/@modelcontextprotocol%2fserver-everything/2026.8.31",
                "npm/server-everything-2026.8.31.json",
            )
    }

    #[test]
    fn registry_name_resolves_through_the_api_to_npm() {
        let fetch = everything_fetch(|_| {});
        let src: Source = "registry:io.modelcontextprotocol/everything"
            .parse()
            .unwrap();
        let r = resolve_source(&src, &fetch, &opts()).unwrap();
        assert_eq!(
            fetch.urls()[0],
            "https://registry.modelcontextprotocol.io/v0.1/servers/io.modelcontextprotocol%2Feverything/versions/latest"
        );
        assert_eq!(fetch.limit_for(&fetch.urls()[0]), Some(SERVER_JSON_LIMIT));
        assert_eq!(r.source, src);
        assert_eq!(
            r.nested,
            Some(Source::Npm {
                name: "@modelcontextprotocol/server-everything".into(),
                version: Some("2026.8.31".into())
            })
        );
        assert_eq!(r.kind, ArtifactKind::NpmTarball);
        assert_eq!(r.expected.len(), 1);
        assert_eq!(r.run.transport.as_deref(), Some("stdio"));
        assert_eq!(r.run.bin[0].name, "mcp-server-everything");
    }

    #[test]
    fn pinned_version_is_encoded_and_checked() {
        assert_eq!(
            version_url(REG, "io.github.o/s", Some("1.0.0+b")),
            "https://registry.modelcontextprotocol.io/v0.1/servers/io.github.o%2Fs/versions/1.0.0%2Bb"
        );
        let s = server_json("registry/everything.server.json");
        let fetch = MapFetch::new().serve(
            &version_url(REG, "io.modelcontextprotocol/everything", Some("9.9.9")),
            serde_json::to_vec(&s).unwrap(),
        );
        let src: Source = "registry:io.modelcontextprotocol/everything@9.9.9"
            .parse()
            .unwrap();
        let e = resolve_source(&src, &fetch, &opts()).unwrap_err();
        assert!(
            matches!(&e, SourceError::Field { field, .. } if field == "version"),
            "{e:?}"
        );
        let e = resolve_source(
            &"registry:io.github.nobody/none".parse().unwrap(),
            &MapFetch::new(),
            &opts(),
        )
        .unwrap_err();
        assert!(matches!(e, SourceError::NotFound { .. }), "{e:?}");
    }

    #[test]
    fn local_server_json_with_npm_env_and_oci_skipped() {
        // filesystem: npm first, an oci package skipped with a note.
        let s = server_json("registry/filesystem.server.json");
        let (origin, pkg) = {
            let server: ServerJson = serde_json::from_value(s).unwrap();
            let mut notes = Vec::new();
            let p = choose("f", &server, &mut notes).unwrap();
            assert!(
                notes.iter().any(|n| n.contains("skipped the oci package")),
                "{notes:?}"
            );
            ("f".to_string(), p)
        };
        assert_eq!(pkg.registry_type, "npm");
        let run = run_hints(&origin, &pkg, &mut Vec::new()).unwrap();
        // The positional argument has a default: it becomes an argument.
        assert_eq!(run.args, vec!["/Users/username/Desktop"]);
        assert_eq!(run.env.len(), 1);
        assert_eq!(run.env[0].name, "LOG_LEVEL");
        assert_eq!(run.env[0].default.as_deref(), Some("info"));
        assert!(!run.env[0].secret);
    }

    #[test]
    fn env_vars_keep_required_and_secret_but_no_secret_default() {
        let s = server_json("registry/brave-search.server.json");
        let server: ServerJson = serde_json::from_value(s).unwrap();
        let run = run_hints("b", &server.packages[0], &mut Vec::new()).unwrap();
        assert_eq!(
            run.env,
            vec![EnvVar {
                name: "BRAVE_API_KEY".into(),
                description: Some("Brave Search API Key".into()),
                required: true,
                secret: true,
                default: None
            }]
        );
    }

    #[test]
    fn named_and_positional_arguments_become_argv() {
        let s = server_json("registry/snyk.server.json");
        let server: ServerJson = serde_json::from_value(s).unwrap();
        let run = run_hints("s", &server.packages[0], &mut Vec::new()).unwrap();
        assert_eq!(run.args, vec!["mcp", "-t", "stdio"]);
        assert!(run.inputs.is_empty());
        // An oci package's templated runtime argument is an input, not argv.
        let s = server_json("registry/filesystem.server.json");
        let server: ServerJson = serde_json::from_value(s).unwrap();
        let run = run_hints("f", &server.packages[1], &mut Vec::new()).unwrap();
        assert!(run.runtime_args.is_empty());
        assert_eq!(run.inputs[0].flag.as_deref(), Some("--mount"));
        assert!(run.inputs[0].hint.contains("{source_path}"));
        assert_eq!(run.args, vec!["/project"]);
    }

    #[test]
    fn arguments_without_a_value_are_inputs() {
        let s = server_json("registry/database-manager.server.json");
        let server: ServerJson = serde_json::from_value(s).unwrap();
        let run = run_hints("d", &server.packages[0], &mut Vec::new()).unwrap();
        assert_eq!(run.runtime_args, vec!["--network", "host"]);
        assert_eq!(run.args, vec!["--host", "localhost"]);
        let inputs: Vec<(&str, Option<&str>, &str, bool)> = run
            .inputs
            .iter()
            .map(|i| (i.kind, i.flag.as_deref(), i.hint.as_str(), i.required))
            .collect();
        assert_eq!(
            inputs,
            vec![
                ("runtime", Some("-e"), "DB_TYPE={db_type}", false),
                ("package", Some("--port"), "--port", false),
                ("package", None, "database_name", true),
            ]
        );
        assert_eq!(run.env.iter().filter(|e| e.secret).count(), 1);
    }

    #[test]
    fn only_oci_packages_is_refused() {
        let src = Source::ServerJson(path("registry/database-manager.server.json"));
        let e = resolve_source(&src, &MapFetch::new(), &opts()).unwrap_err();
        assert!(matches!(e, SourceError::NoUsablePackage { .. }), "{e:?}");
        assert!(e.to_string().contains("oci"), "{e}");
        // Remote-only.
        let src = Source::ServerJson(path("registry/remote.server.json"));
        let e = resolve_source(&src, &MapFetch::new(), &opts()).unwrap_err();
        assert!(e.to_string().contains("remote-only"), "{e}");
    }

    #[test]
    fn mcpb_package_carries_its_sha256() {
        let src = Source::ServerJson(path("registry/text-editor.server.json"));
        let fetch = MapFetch::new();
        let r = resolve_source(&src, &fetch, &opts()).unwrap();
        assert!(
            fetch.urls().is_empty(),
            "an mcpb package needs no more metadata"
        );
        assert_eq!(r.kind, ArtifactKind::Mcpb);
        assert_eq!(
            r.artifact,
            Location::Url("https://github.com/modelcontextprotocol/text-editor-mcpb/releases/download/v1.0.2/text-editor.mcpb".into())
        );
        assert_eq!(
            r.expected,
            vec![
                Digest::from_str(
                    "sha256:fe333e598595000ae021bd27117db32ec69af6987f507ba7a63c90638ff633ce"
                )
                .unwrap()
            ]
        );
        assert_eq!(r.run.transport.as_deref(), Some("stdio"));
        // A bad digest is refused.
        let mut s = server_json("registry/text-editor.server.json");
        s["packages"][0]["fileSha256"] = "fe33".into();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("server.json");
        std::fs::write(&p, serde_json::to_vec(&s).unwrap()).unwrap();
        assert!(resolve_source(&Source::ServerJson(p), &fetch, &opts()).is_err());
    }

    #[test]
    fn pypi_package_resolves_through_the_index() {
        let mut s = server_json("registry/weather.server.json");
        // Pointed at a project we hold real metadata for.
        s["packages"][0]["identifier"] = "sampleproject".into();
        s["packages"][0]["version"] = "4.0.0".into();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("server.json");
        std::fs::write(&p, serde_json::to_vec(&s).unwrap()).unwrap();
        let fetch = MapFetch::new().fixture(
            "https://pypi.org/simple/sampleproject/",
            "../pypi/sampleproject.simple.html",
        );
        let r = resolve_source(&Source::ServerJson(p), &fetch, &opts()).unwrap();
        assert_eq!(r.kind, ArtifactKind::Wheel);
        assert_eq!(r.run.runtime_hint.as_deref(), Some("uvx"));
        assert_eq!(r.run.env.len(), 2);
        assert_eq!(r.run.requires_python.as_deref(), Some(">=3.9"));
    }

    #[test]
    fn shell_metacharacters_in_arguments_are_refused() {
        for bad in [
            "$API_KEY",
            "${HOME}/x",
            "`id`",
            "a;rm -rf /",
            "a|b",
            "x > y",
            "~/data",
            "*.json",
        ] {
            let fetch = everything_fetch(|s| {
                s["packages"][0]["packageArguments"] =
                    serde_json::json!([{"type": "named", "name": "--key", "value": bad}]);
            });
            let src: Source = "registry:io.modelcontextprotocol/everything"
                .parse()
                .unwrap();
            let e = resolve_source(&src, &fetch, &opts()).unwrap_err();
            assert!(
                matches!(e, SourceError::ShellArgument { .. }),
                "{bad}: {e:?}"
            );
            assert!(e.hint().unwrap().contains("without a shell"));
        }
        // Plain values pass.
        let fetch = everything_fetch(|s| {
            s["packages"][0]["packageArguments"] = serde_json::json!([
                {"type": "named", "name": "--url", "value": "https://h/p?q=1"},
                {"type": "positional", "value": "a b c"}
            ]);
        });
        let src: Source = "registry:io.modelcontextprotocol/everything"
            .parse()
            .unwrap();
        let r = resolve_source(&src, &fetch, &opts()).unwrap();
        assert_eq!(r.run.args, vec!["--url", "https://h/p?q=1", "a b c"]);
    }

    #[test]
    fn non_stdio_transport_and_foreign_registry_are_refused() {
        let fetch = everything_fetch(|s| {
            s["packages"][0]["transport"] =
                serde_json::json!({"type": "streamable-http", "url": "http://localhost:3000/mcp"});
        });
        let src: Source = "registry:io.modelcontextprotocol/everything"
            .parse()
            .unwrap();
        let e = resolve_source(&src, &fetch, &opts()).unwrap_err();
        assert!(e.to_string().contains("only stdio"), "{e}");
        let fetch = everything_fetch(|s| {
            s["packages"][0]["registryBaseUrl"] = "https://npm.evil.example".into();
        });
        let e = resolve_source(&src, &fetch, &opts()).unwrap_err();
        assert!(
            matches!(&e, SourceError::Field { field, .. } if field == "packages[].registryBaseUrl"),
            "{e:?}"
        );
    }

    #[test]
    fn malformed_documents() {
        let fetch = MapFetch::new().serve(
            &version_url(REG, "io.modelcontextprotocol/everything", None),
            fixture("registry/everything.server.json")[..50].to_vec(),
        );
        let src: Source = "registry:io.modelcontextprotocol/everything"
            .parse()
            .unwrap();
        let e = resolve_source(&src, &fetch, &opts()).unwrap_err();
        assert!(matches!(e, SourceError::Json { .. }), "{e:?}");
        // A document for another server.
        let fetch = MapFetch::new().fixture(
            &version_url(REG, "io.modelcontextprotocol/everything", None),
            "registry/brave-search.server.json",
        );
        let e = resolve_source(&src, &fetch, &opts()).unwrap_err();
        assert!(
            matches!(&e, SourceError::Field { field, .. } if field == "name"),
            "{e:?}"
        );
        // An env default written for a shell is passed literally, with a note.
        let fetch = everything_fetch(|s| {
            s["packages"][0]["environmentVariables"] =
                serde_json::json!([{"name": "DATA", "default": "$HOME/data"}]);
        });
        let r = resolve_source(&src, &fetch, &opts()).unwrap();
        assert_eq!(r.run.env[0].default.as_deref(), Some("$HOME/data"));
        assert!(
            r.notes.iter().any(|n| n.contains("passed literally")),
            "{:?}",
            r.notes
        );
        // Bad env var name.
        let fetch = everything_fetch(|s| {
            s["packages"][0]["environmentVariables"] = serde_json::json!([{"name": "A-B"}]);
        });
        assert!(resolve_source(&src, &fetch, &opts()).is_err());
        // Missing local file.
        let e = resolve_source(
            &Source::ServerJson(path("registry/nope.json")),
            &MapFetch::new(),
            &opts(),
        )
        .unwrap_err();
        assert!(matches!(e, SourceError::Local { .. }), "{e:?}");
    }
}
