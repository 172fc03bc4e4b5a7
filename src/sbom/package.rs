//! A package's identity as its ecosystem compares names: the one
//! normalisation that the deny rules and the advisory matcher share, so
//! that a name one gate folds the other cannot tell apart.

use packageurl::PackageUrl;

/// The OSV ecosystem of a purl type, for the types the advisory
/// databases know.
pub fn osv_ecosystem(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "npm" => "npm",
        "pypi" => "PyPI",
        "cargo" => "crates.io",
        "golang" => "Go",
        "maven" => "Maven",
        "nuget" => "NuGet",
        "gem" => "RubyGems",
        "composer" => "Packagist",
        "hex" => "Hex",
        "pub" => "Pub",
        "hackage" => "Hackage",
        "cran" => "CRAN",
        _ => return None,
    })
}

/// The package a purl names, as its OSV ecosystem writes it: the npm
/// scope as `@scope/name`, Go and Composer paths with `/`, Maven with `:`.
/// `Err` carries the purl type when no OSV ecosystem is known for it.
pub fn of_purl<'p>(p: &'p PackageUrl) -> Result<(&'static str, String), &'p str> {
    let ecosystem = osv_ecosystem(p.ty()).ok_or(p.ty())?;
    Ok((ecosystem, package_name(ecosystem, p)))
}

fn package_name(ecosystem: &str, p: &PackageUrl) -> String {
    // `pkg:npm/./x` and `pkg:npm//x` name `x`: an empty or `.` segment
    // is no namespace.
    let ns = p
        .namespace()
        .map(|n| {
            n.split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .collect::<Vec<_>>()
                .join("/")
        })
        .filter(|n| !n.is_empty());
    let joined = |sep: &str| match &ns {
        Some(ns) => format!("{ns}{sep}{}", p.name()),
        None => p.name().to_string(),
    };
    match ecosystem {
        // The scope is the namespace; the purl spec writes it with `@`.
        "npm" => match &ns {
            Some(ns) if ns.starts_with('@') => format!("{ns}/{}", p.name()),
            Some(ns) => format!("@{ns}/{}", p.name()),
            None => p.name().to_string(),
        },
        "Go" | "Packagist" => joined("/"),
        "Maven" => joined(":"),
        _ => p.name().to_string(),
    }
}

/// The identity of a purl's package as one key: the ecosystem and the
/// name as that ecosystem compares it. A type without an OSV ecosystem
/// keys by the type and the lower-cased path: for a deny rule, matching
/// more is the safe side.
pub fn purl_key(p: &PackageUrl) -> String {
    match of_purl(p) {
        Ok((eco, name)) => key(eco, &normalise_name(eco, &name)),
        Err(ty) => {
            let ns = p.namespace().unwrap_or("");
            key(ty, &format!("{ns}/{}", p.name()).to_lowercase())
        }
    }
}

/// `ecosystem \0 name`.
pub fn key(ecosystem: &str, name: &str) -> String {
    let mut k = String::with_capacity(ecosystem.len() + 1 + name.len());
    k.push_str(ecosystem);
    k.push('\0');
    k.push_str(name);
    k
}

/// `Maven:https://maven.google.com` and `Debian:12` are their base
/// ecosystem; a purl does not say which repository or release it means.
pub fn base_ecosystem(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// Names as the ecosystem compares them. npm and Go fold case too: the
/// purl spec lowercases npm names and Go namespaces, so a purl cannot tell
/// `JSONStream` from `jsonstream`; an extra match is the safe side.
/// crates.io treats `-` and `_` as one name; PyPI follows PEP 503.
pub fn normalise_name(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => pep503(name),
        "crates.io" => name.trim().to_ascii_lowercase().replace('_', "-"),
        "npm" | "Go" | "NuGet" | "Packagist" | "Hex" => name.trim().to_lowercase(),
        _ => name.trim().to_string(),
    }
}

/// The loosest of the normalisations ([`pep503`]): names equal under any
/// ecosystem's rules are equal under this one, so it indexes rules that
/// name no ecosystem.
pub fn loose(name: &str) -> String {
    pep503(name)
}

/// PEP 503: lowercase, and every run of `-`, `_` and `.` becomes one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(purl: &str) -> String {
        purl_key(&purl.parse::<PackageUrl>().unwrap())
    }

    #[test]
    fn names_fold_as_their_ecosystems_do() {
        assert_eq!(k("pkg:pypi/ruamel.yaml"), k("pkg:pypi/ruamel-yaml"));
        assert_eq!(k("pkg:pypi/ruamel--yaml"), k("pkg:pypi/Ruamel_YAML"));
        assert_eq!(k("pkg:cargo/serde-yaml"), k("pkg:cargo/serde_yaml"));
        assert_eq!(k("pkg:cargo/Serde_Yaml"), k("pkg:cargo/serde_yaml"));
        assert_eq!(k("pkg:npm/Event-Stream"), k("pkg:npm/event-stream"));
        assert_eq!(k("pkg:npm/%40Scope/x"), k("pkg:npm/%40scope/x"));
        assert_eq!(k("pkg:npm/scope/x"), k("pkg:npm/%40scope/x"));
        // npm keeps `-` and `_` apart: two packages.
        assert_ne!(k("pkg:npm/event_stream"), k("pkg:npm/event-stream"));
        // Ecosystems are never folded together.
        assert_ne!(k("pkg:npm/x"), k("pkg:pypi/x"));
        // Unknown types fold case.
        assert_eq!(k("pkg:deb/debian/Curl"), k("pkg:deb/debian/curl"));
        assert_eq!(loose("Ruamel..YAML"), "ruamel-yaml");
    }

    #[test]
    fn dot_and_empty_namespace_segments_name_no_namespace() {
        for p in ["pkg:npm/./event-stream", "pkg:npm/event-stream"] {
            match p.parse::<PackageUrl>() {
                Ok(u) => assert_eq!(purl_key(&u), k("pkg:npm/event-stream"), "{p}"),
                Err(e) => panic!("{p}: {e}"),
            }
        }
    }
}
