//! What a server's command runs (`npx`, `uvx`, `node`, `python`, a binary),
//! and the source that pins it.

use std::path::Path;

use serde::Serialize;

use super::config::base_name;
use super::secrets::shown;

/// What a server's own command turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Launch {
    /// `npx`, `uvx`, `node`, `python` or `binary`.
    pub launcher: &'static str,
    /// The arguments meant for the server itself (after the package,
    /// script or module).
    pub server_args: Vec<String>,
    /// A source for `mcp-warden add` (may hold a `<version>` placeholder).
    pub source: String,
    /// The source `client install` may pin it from: set for a registry
    /// package (`npx`, `uvx`) named with an exact version or none (then
    /// the latest release); a tag or a range gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_source: Option<String>,
}

/// Launchers that run something mcp-warden cannot pin from the command
/// line alone (a container, a shell string, another package runner).
pub(super) const OPAQUE: &[(&str, &str)] = &[
    ("docker", "runs the server in a container image"),
    ("podman", "runs the server in a container image"),
    ("sh", "runs a shell command"),
    ("bash", "runs a shell command"),
    ("zsh", "runs a shell command"),
    ("dash", "runs a shell command"),
    ("fish", "runs a shell command"),
    ("cmd", "runs a shell command"),
    ("powershell", "runs a shell command"),
    ("pwsh", "runs a shell command"),
    ("env", "runs another command"),
    ("sudo", "runs another command"),
    ("npm", "runs a package script"),
    ("pnpm", "runs a package script"),
    ("pnpx", "runs a package"),
    ("yarn", "runs a package script"),
    ("bun", "runs a package or script"),
    ("bunx", "runs a package"),
    ("deno", "runs a script with its own permissions"),
    ("uv", "runs a project or tool"),
    ("pipx", "runs a package"),
];

/// Understands `npx [-y|--yes] PKG ARGS`, `uvx PKG ARGS`, `node SCRIPT
/// ARGS`, `python -m MOD ARGS` / `python SCRIPT ARGS` and a direct binary;
/// anything else is refused with the reason, so the server stays as it is.
pub fn parse_launcher(command: &str, args: &[String]) -> Result<Launch, String> {
    let base = base_name(command);
    if let Some((_, why)) = OPAQUE.iter().find(|(n, _)| *n == base) {
        return Err(format!(
            "`{base}` {why}; mcp-warden cannot tell which artifact it would run"
        ));
    }
    let unknown_flag = |f: &str| Err(format!("`{base}` option `{}` is not understood", shown(f)));
    match base.as_str() {
        "npx" => {
            let mut i = 0;
            while args.get(i).is_some_and(|a| a == "-y" || a == "--yes") {
                i += 1;
            }
            let Some(pkg) = args.get(i) else {
                return Err("`npx` without a package".to_string());
            };
            if pkg.starts_with('-') {
                return unknown_flag(pkg);
            }
            let (name, version) = npm_spec(pkg).ok_or_else(|| {
                format!("`{}` is not a package from the npm registry", shown(pkg))
            })?;
            let pin_source = match version {
                Some(v) => Some(format!("npm:{name}@{v}")),
                None if pkg.as_str() == name => Some(format!("npm:{name}")),
                None => None,
            };
            Ok(Launch {
                launcher: "npx",
                server_args: args[i + 1..].to_vec(),
                source: format!("npm:{name}@{}", version.unwrap_or("<version>")),
                pin_source,
            })
        }
        "uvx" => {
            let Some(pkg) = args.first() else {
                return Err("`uvx` without a package".to_string());
            };
            if pkg.starts_with('-') {
                return unknown_flag(pkg);
            }
            let (name, version) = pypi_spec(pkg)
                .ok_or_else(|| format!("`{}` is not a package from PyPI", shown(pkg)))?;
            let pin_source = match version {
                Some(v) => Some(format!("pypi:{name}=={v}")),
                None if pkg.as_str() == name => Some(format!("pypi:{name}")),
                None => None,
            };
            Ok(Launch {
                launcher: "uvx",
                server_args: args[1..].to_vec(),
                source: format!("pypi:{name}=={}", version.unwrap_or("<version>")),
                pin_source,
            })
        }
        "node" | "nodejs" => {
            let Some(script) = args.first() else {
                return Err("`node` without a script".to_string());
            };
            if script.starts_with('-') {
                return unknown_flag(script);
            }
            Ok(Launch {
                launcher: "node",
                server_args: args[1..].to_vec(),
                source: script.clone(),
                pin_source: None,
            })
        }
        b if is_python(b) => match args.first().map(String::as_str) {
            Some("-m") => {
                let Some(module) = args.get(1).filter(|m| !m.starts_with('-')) else {
                    return Err("`python -m` without a module".to_string());
                };
                Ok(Launch {
                    launcher: "python",
                    server_args: args[2..].to_vec(),
                    source: format!(
                        "pypi:{}==<version>",
                        module.split('.').next().unwrap_or(module).replace('_', "-")
                    ),
                    pin_source: None,
                })
            }
            Some(f) if f.starts_with('-') => unknown_flag(f),
            Some(script) => Ok(Launch {
                launcher: "python",
                server_args: args[1..].to_vec(),
                source: script.to_string(),
                pin_source: None,
            }),
            None => Err("`python` without a script or module".to_string()),
        },
        _ if command.trim().is_empty() => Err("the command is empty".to_string()),
        _ if command.contains(char::is_whitespace) && !Path::new(command).exists() => Err(
            "the command holds spaces: a shell string, which mcp-warden does not split".to_string(),
        ),
        _ => Ok(Launch {
            launcher: "binary",
            server_args: args.to_vec(),
            source: resolve_binary(command),
            pin_source: None,
        }),
    }
}

pub(super) fn is_python(base: &str) -> bool {
    let Some(rest) = base.strip_prefix("python") else {
        return false;
    };
    rest.is_empty() || rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// `@scope/name@1.2.3` → (`@scope/name`, Some(`1.2.3`)); a tag or a range
/// gives no version; a git URL, a path or a tarball gives None.
pub(super) fn npm_spec(spec: &str) -> Option<(&str, Option<&str>)> {
    let (name, version) = match spec.strip_prefix('@') {
        Some(rest) => match rest.find('@') {
            Some(i) => (&spec[..i + 1], Some(&rest[i + 1..])),
            None => (spec, None),
        },
        None => match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        },
    };
    let valid = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
    };
    let ok = match name.strip_prefix('@') {
        Some(scoped) => scoped
            .split_once('/')
            .is_some_and(|(s, n)| valid(s) && valid(n)),
        None => valid(name),
    };
    ok.then_some((name, version.filter(|v| exact_version(v))))
}

/// `name==1.2`, `name@1.2`, `name[extra]==1.2` → (`name`, Some(`1.2`)).
pub(super) fn pypi_spec(spec: &str) -> Option<(&str, Option<&str>)> {
    let (name, version) = match spec.split_once("==") {
        Some((n, v)) => (n, Some(v)),
        None => match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        },
    };
    let name = name.split('[').next().unwrap_or(name);
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    ok.then_some((name, version.filter(|v| exact_version(v))))
}

pub(super) fn exact_version(v: &str) -> bool {
    v.starts_with(|c: char| c.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b))
}

/// A bare command name is looked up on PATH, as the client would.
pub(super) fn resolve_binary(command: &str) -> String {
    if command.contains(['/', '\\']) {
        return command.to_string();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(command))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| command.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn launchers() {
        let l = parse_launcher("npx", &s(&["-y", "@acme/gh-mcp@1.2.3", "--ro"])).unwrap();
        assert_eq!(l.source, "npm:@acme/gh-mcp@1.2.3");
        assert_eq!(l.server_args, s(&["--ro"]));
        assert_eq!(l.pin_source.as_deref(), Some("npm:@acme/gh-mcp@1.2.3"));
        let l = parse_launcher("npx", &s(&["-y", "@acme/gh-mcp"])).unwrap();
        assert_eq!(l.pin_source.as_deref(), Some("npm:@acme/gh-mcp"));
        let l = parse_launcher("npx", &s(&["-y", "@acme/gh-mcp@^1.2"])).unwrap();
        assert_eq!(l.pin_source, None);
        let l = parse_launcher("uvx", &s(&["mcp-server-time"])).unwrap();
        assert_eq!(l.pin_source.as_deref(), Some("pypi:mcp-server-time"));
        let l = parse_launcher("uvx", &s(&["mcp-server-time[cli]"])).unwrap();
        assert_eq!(l.pin_source, None);
        let l = parse_launcher("/usr/bin/npx", &s(&["pkg"])).unwrap();
        assert_eq!(l.source, "npm:pkg@<version>");
        assert!(parse_launcher("npx", &s(&["-p", "x", "y"])).is_err());
        assert!(parse_launcher("npx", &s(&["github:u/r"])).is_err());
        let l = parse_launcher("uvx", &s(&["mcp-server-git==0.6.2", "--repo", "."])).unwrap();
        assert_eq!(l.source, "pypi:mcp-server-git==0.6.2");
        assert_eq!(l.server_args, s(&["--repo", "."]));
        assert!(parse_launcher("uvx", &s(&["--from", "x", "y"])).is_err());
        let l = parse_launcher("python3", &s(&["-m", "mcp_server_time", "--tz", "UTC"])).unwrap();
        assert_eq!(l.source, "pypi:mcp-server-time==<version>");
        assert_eq!(l.server_args, s(&["--tz", "UTC"]));
        let l = parse_launcher("node", &s(&["/srv/index.js", "a"])).unwrap();
        assert_eq!(
            (l.source.as_str(), l.server_args.len()),
            ("/srv/index.js", 1)
        );
        assert!(parse_launcher("node", &s(&["--inspect", "x.js"])).is_err());
        assert!(parse_launcher("docker", &s(&["run", "-i", "img"])).is_err());
        assert!(parse_launcher("sh", &s(&["-c", "x"])).is_err());
        assert!(parse_launcher("C:\\Windows\\cmd.exe", &s(&["/c", "npx"])).is_err());
        let l = parse_launcher("/opt/srv/bin/server", &s(&["--stdio"])).unwrap();
        assert_eq!(l.launcher, "binary");
        assert_eq!(l.source, "/opt/srv/bin/server");
    }
}
