//! Names that come from outside: environment variables (which are valid,
//! which load code), servers (valid, and as a file-name component) and
//! trust-store entries.

/// The longest variable name accepted.
pub const MAX_ENV_NAME: usize = 128;

/// `[A-Za-z_][A-Za-z0-9_]*`, at most [`MAX_ENV_NAME`] bytes: what a POSIX
/// shell could export, and nothing that could smuggle a `=` into the environment block.
pub fn valid_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= MAX_ENV_NAME
}

/// Variables that make a runtime load code, or change where it loads code
/// or trust from. Metadata that no signature covers (a registry's
/// `server.json`), `run --env` and stored secrets may not set them: only
/// the user's policy may (`[servers.run] env = { NODE_OPTIONS = "inherit" }`).
/// The one list of them; [`loads_code`] reads it.
pub const CODE_LOADING: &[&str] = &[
    // The dynamic loader and libc: preloads, search paths, tunables, iconv modules.
    "LD_*",
    "DYLD_*",
    "GLIBC_TUNABLES",
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "RES_OPTIONS",
    "LOCALDOMAIN",
    "MALLOC_*",
    // Node.js: `--require`/`--import` through NODE_OPTIONS, module paths,
    // TLS trust. NODE_ENV is data and stays allowed.
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_REPL_EXTERNAL_MODULE",
    "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_PRESERVE_SYMLINKS",
    "NODE_ICU_DATA",
    "NODE_V8_COVERAGE",
    "NODE_REDIRECT_WARNINGS",
    "NODE_COMPILE_CACHE",
    "BUN_*",
    "DENO_*",
    "NPM_CONFIG_*",
    // Python: PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, PYTHONINSPECT, ...
    "PYTHON*",
    "PIP_*",
    "UV_*",
    "VIRTUAL_ENV",
    // Other runtimes a server may start.
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PERL5DB",
    "RUBYOPT",
    "RUBYLIB",
    "GEM_HOME",
    "GEM_PATH",
    "BUNDLE_*",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "JAVA_HOME",
    "DOTNET_*",
    "CORECLR_*",
    "GOFLAGS",
    "LUA_PATH*",
    "LUA_CPATH*",
    "LUA_INIT*",
    "TCLLIBPATH",
    "R_PROFILE*",
    "R_LIBS*",
    // Shells and tools the server may run: startup files, hooks, helpers.
    "BASH_ENV",
    "ENV",
    "BASH_FUNC_*",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "IFS",
    "CDPATH",
    "GIT_*",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "BROWSER",
    "PATH",
    // TLS trust and engines (OpenSSL loads engine modules).
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "OPENSSL_MODULES",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
];

/// Whether `name` is in [`CODE_LOADING`] (a trailing `*` matches any rest).
/// Compared without regard to case: Windows names are case-insensitive, and
/// no legitimate server variable differs from one of these only in case.
pub fn loads_code(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    CODE_LOADING.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => upper.starts_with(prefix),
        None => upper == *p,
    })
}

/// The longest server name; with [`server_dir_name`] keeping the length,
/// every name also fits one file-name component (255 bytes).
pub const MAX_SERVER_NAME: usize = 128;

/// The rule [`valid_server_name`] enforces, for hints.
pub const SERVER_NAME_RULE: &str = "use letters, digits and - _ . @ / (at most 128), not starting with -,      with no empty part between slashes, no part starting with . and no ..";

/// The one rule for server names, used wherever a name comes in (add,
/// run, secret, approve, client install, the policy's `[[servers]] name`).
/// Names appear in policies, scopes, file names, keychain accounts and
/// `run NAME`, so no path tricks and no leading dash. `/` is allowed for
/// registry-style names (`io.github.acme/srv`), as non-empty parts.
pub fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SERVER_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'/'))
        && !name.starts_with('-')
        && !name.contains("..")
        && name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.'))
}

/// The single file-name component that stands for a server name in the
/// data directory (`state/`, `pins/`), or `None` for an invalid name.
///
/// A name without `/` is its own component, so what is stored under plain
/// names never moves (a valid name is never `.` or `..`). In a name with
/// `/`, each `/` becomes `+`: no valid name contains `+`, so the mapping
/// is reversible (no two names share a component) and a mapped name never
/// equals a name that needed no mapping; the length stays the same.
pub fn server_dir_name(name: &str) -> Option<String> {
    valid_server_name(name).then(|| name.replace('/', "+"))
}

/// A trust-store entry's name (a key, a CA, an identity): a letter or
/// digit, then letters, digits, `.`, `_` or `-`, at most 128 bytes.
pub fn valid_trust_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_one_rule() {
        for good in [
            "srv",
            "io.github.acme/srv",
            "a/b/c",
            "@acme/x",
            "a.b-c_d",
            "x/-y",
        ] {
            assert!(valid_server_name(good), "{good:?}");
        }
        let long = "a".repeat(MAX_SERVER_NAME + 1);
        for bad in [
            "", ".", "..", "a\0b", "/a", "a/", "a//b", "a/./b", "a/../b", "a/.b", "-x", ".x",
            "a..b", "a b", "a\\b", "a+b", "a*", "a%2Fb", &long,
        ] {
            assert!(!valid_server_name(bad), "{bad:?}");
            assert_eq!(server_dir_name(bad), None, "{bad:?}");
        }
        assert!(valid_server_name(&"a".repeat(MAX_SERVER_NAME)));
    }

    #[test]
    fn server_dir_names_are_one_component_and_never_collide() {
        assert_eq!(server_dir_name("my-server").as_deref(), Some("my-server"));
        assert_eq!(server_dir_name("@acme/x").as_deref(), Some("@acme+x"));
        assert_eq!(
            server_dir_name("io.github.acme/srv").as_deref(),
            Some("io.github.acme+srv")
        );
        // Every plain name maps to itself; `a/b` maps to something no
        // valid name is, so it cannot meet a plain name's directory.
        let names = [
            "a/b", "a+b", "a", "b", "ab", "a_b", "a-b", "a.b", "a@b", "a/b/c", "a/bc", "ab/c",
        ];
        let mut seen = std::collections::BTreeMap::new();
        for n in names {
            let Some(d) = server_dir_name(n) else {
                continue;
            };
            assert!(
                !d.contains(['/', '\\', '\0']) && d != "." && d != "..",
                "{n:?}"
            );
            assert!(d.len() <= 255);
            if !n.contains('/') {
                assert_eq!(d, n);
            }
            assert!(!valid_server_name(&d) || !n.contains('/'), "{n:?} -> {d:?}");
            assert_eq!(seen.insert(d.clone(), n), None, "{n:?} collides on {d:?}");
        }
        let longest = format!("{}/{}", "a".repeat(63), "b".repeat(64));
        assert_eq!(server_dir_name(&longest).unwrap().len(), MAX_SERVER_NAME);
    }

    #[test]
    fn variable_names() {
        assert!(valid_env_name("A_1"));
        assert!(valid_env_name("_x"));
        assert!(!valid_env_name("1A"));
        assert!(!valid_env_name("A=B"));
        assert!(!valid_env_name(""));
        assert!(!valid_env_name(&"A".repeat(200)));
    }

    #[test]
    fn var_names() {
        for ok in ["A", "_", "GITHUB_TOKEN", "a1_b2", &"X".repeat(MAX_ENV_NAME)] {
            assert!(valid_env_name(ok), "{ok}");
        }
        for bad in [
            "",
            "1A",
            "A-B",
            "A B",
            "A=B",
            "Ä",
            "A\0",
            &"X".repeat(MAX_ENV_NAME + 1),
        ] {
            assert!(!valid_env_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_code_loading_list() {
        for n in [
            "LD_PRELOAD",
            "DYLD_INSERT_LIBRARIES",
            "PYTHONPATH",
            "PYTHONHOME",
            "NODE_PATH",
            "BASH_ENV",
            "ENV",
            "JAVA_TOOL_OPTIONS",
            "RUBYOPT",
            "PATH",
            "node_options",
        ] {
            assert!(loads_code(n), "{n}");
        }
        for n in [
            "NODE_ENV",
            "LOG_LEVEL",
            "GITHUB_TOKEN",
            "ENVIRONMENT",
            "HOME_REGION",
            "PATHS",
        ] {
            assert!(!loads_code(n), "{n}");
        }
    }
}
