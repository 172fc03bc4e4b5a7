//! Literal credentials in a config's `env` and `args`: by the name that
//! holds them or by their own shape.

/// Whether an env entry looks like a credential: by its name, or by the
/// shape of its value. References (`${input:x}`, `${env:X}`) are not
/// literals and never count.
pub fn looks_secret(name: &str, value: &str) -> bool {
    if is_reference(value) || value.is_empty() {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    const NAMES: &[&str] = &[
        "TOKEN",
        "SECRET",
        "KEY",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "AUTH",
    ];
    if NAMES.iter().any(|n| upper.contains(n)) {
        return true;
    }
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "AKIA",
        "ASIA",
        "sk-",
        "xoxb-",
        "xoxp-",
        "xapp-",
        "Bearer ",
        "Basic ",
        // A JWT's header, `{"` in base64url.
        "eyJ",
    ];
    if PREFIXES.iter().any(|p| value.starts_with(p)) {
        return true;
    }
    high_entropy(value)
}

/// A `${...}` reference that the client resolves itself.
pub fn is_reference(value: &str) -> bool {
    value.contains("${")
}

/// A long token-like string: only base64/base62/hex characters (so not a
/// path, URL, package spec or sentence), and either mixed case with
/// digits at 3.5 bits of entropy per character or more (random tokens;
/// slugs like `mcp-server-fetch-2025` are lowercase), or 32+ hex digits.
pub(super) fn high_entropy(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() < 20
        || b[0] == b'-'
        || b[0] == b'/'
        || !b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=_-".contains(c))
    {
        return false;
    }
    if b.len() >= 32 && b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    let mixed = b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_digit);
    if !mixed {
        return false;
    }
    let mut counts = [0u32; 256];
    for &c in b {
        counts[c as usize] += 1;
    }
    let n = b.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    entropy >= 3.5
}

/// An argument that looks like a credential: by its shape, or as
/// `--token=VALUE` by the option's name.
pub fn arg_looks_secret(arg: &str) -> bool {
    looks_secret("", arg)
        || arg
            .split_once('=')
            .is_some_and(|(k, v)| looks_secret(k.trim_start_matches('-'), v))
}

/// An argument as it may be shown in a message.
pub(super) fn shown(arg: &str) -> &str {
    if arg_looks_secret(arg) {
        "<redacted>"
    } else {
        arg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        assert!(looks_secret("GITHUB_PERSONAL_ACCESS_TOKEN", "abc"));
        assert!(looks_secret(
            "X",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        ));
        assert!(looks_secret("X", "AKIAIOSFODNN7EXAMPLE"));
        assert!(looks_secret("X", "xoxb-1-2-3"));
        assert!(looks_secret("X", "Bearer abc"));
        assert!(looks_secret("X", "q8Zr2LmX0vTn5Kp9Wd3Yh7Bc1Fg4Js6A"));
        assert!(!looks_secret("API_KEY", "${input:api_key}"));
        assert!(!looks_secret("LOG_LEVEL", "debug"));
        assert!(!looks_secret(
            "ROOT",
            "/home/someone/projects/a-long-directory-name2"
        ));
        assert!(!looks_secret("GREETING", "hello-world-this-is-long-1"));
        assert!(!looks_secret(
            "",
            "@modelcontextprotocol/server-filesystem@2025.8.21"
        ));
        assert!(!looks_secret("", "mcp-server-git==2025.7.1"));
        assert!(!looks_secret("", "mcp-server-fetch-2025-v2-final"));
        assert!(!looks_secret("", "/Users/Alice/Projects/App2024"));
        assert!(looks_secret("", "0123456789abcdef0123456789abcdef"));
        assert!(arg_looks_secret("--api-key=abc"));
        assert!(!arg_looks_secret("--repository=/tmp/x"));
    }
}
