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

/// The identity of a purl's package as one key: the ecosystem and the
/// name as that ecosystem compares it, built in one allocation (it is made
/// for every component). A type without an OSV ecosystem keys by the type
/// and the lower-cased path: for a deny rule, matching more is the safe
/// side.
pub fn purl_key(p: &PackageUrl) -> String {
    let ns = p
        .namespace()
        .into_iter()
        .flat_map(|n| n.split('/'))
        .filter(|s| !s.is_empty() && *s != ".");
    let mut k = String::with_capacity(16 + p.namespace().map_or(0, str::len) + p.name().len());
    match osv_ecosystem(p.ty()) {
        Some(eco) => {
            k.push_str(eco);
            k.push('\0');
            let sep = match eco {
                "Maven" => ":",
                "npm" | "Go" | "Packagist" => "/",
                // The other ecosystems' purls name no namespace that is
                // part of the package's name.
                _ => {
                    push_normalised(&mut k, eco, p.name());
                    return k;
                }
            };
            let mut any = false;
            for (i, seg) in ns.enumerate() {
                if i == 0 && eco == "npm" && !seg.starts_with('@') {
                    k.push('@');
                }
                if i > 0 {
                    k.push('/');
                }
                push_normalised(&mut k, eco, seg);
                any = true;
            }
            if any {
                k.push_str(sep);
            }
            push_normalised(&mut k, eco, p.name());
        }
        None => {
            k.push_str(p.ty());
            k.push('\0');
            for seg in ns {
                k.push_str(&seg.to_lowercase());
                k.push('/');
            }
            k.push('/');
            k.push_str(&p.name().to_lowercase());
        }
    }
    k
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
    let mut out = String::with_capacity(name.len());
    push_normalised(&mut out, ecosystem, name);
    out
}

/// [`normalise_name`], appended to `out`.
fn push_normalised(out: &mut String, ecosystem: &str, name: &str) {
    let name = name.trim();
    match ecosystem {
        "PyPI" => push_pep503(out, name),
        "crates.io" => {
            let start = out.len();
            out.push_str(name);
            out[start..].make_ascii_lowercase();
            if name.contains('_') {
                let folded = out[start..].replace('_', "-");
                out.truncate(start);
                out.push_str(&folded);
            }
        }
        "npm" | "Go" | "NuGet" | "Packagist" | "Hex" => {
            if name.is_ascii() {
                let start = out.len();
                out.push_str(name);
                out[start..].make_ascii_lowercase();
            } else {
                out.push_str(&name.to_lowercase());
            }
        }
        _ => out.push_str(name),
    }
}

/// Whether `name` is already in [`loose`] form (most names are), so a
/// lookup needs no new string.
pub fn is_loose(name: &str) -> bool {
    let mut prev_dash = true;
    name.bytes().all(|b| {
        let dash = b == b'-';
        let ok = b.is_ascii_lowercase() || b.is_ascii_digit() || (dash && !prev_dash);
        prev_dash = dash;
        ok
    }) && !name.ends_with('-')
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
    push_pep503(&mut out, name);
    out
}

fn push_pep503(out: &mut String, name: &str) {
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
        for n in ["ruamel-yaml", "a1", "x"] {
            assert!(is_loose(n) && loose(n) == n, "{n}");
        }
        for n in ["Ruamel", "a--b", "-a", "a-", "a_b", "a.b", " a", ""] {
            assert!(!is_loose(n) || loose(n) == n, "{n}");
        }
        assert!(!is_loose("a--b") && !is_loose("-a") && !is_loose("A"));
        // The key is the ecosystem's name for the package.
        let key_of = |p: &str| k(p).split('\0').nth(1).unwrap().to_string();
        assert_eq!(key_of("pkg:npm/%40Scope/Name"), "@scope/name");
        assert_eq!(
            key_of("pkg:golang/github.com/Foo/bar"),
            "github.com/foo/bar"
        );
        assert_eq!(key_of("pkg:maven/org.Apache/Commons"), "org.Apache:Commons");
        assert_eq!(key_of("pkg:pypi/Ruamel.YAML"), "ruamel-yaml");
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
