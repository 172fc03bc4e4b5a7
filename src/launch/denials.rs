//! What the sandbox denied, told on run's stderr: a confined server sees
//! only EACCES or EPERM, and says so in its own words (node's `EACCES:
//! permission denied, open '/x'`, Python's `PermissionError: [Errno 13]
//! Permission denied: '/x'`). The kernel does not tell the parent what
//! Landlock or seccomp refused, so `run` reads the server's stderr for
//! those words and, when the path named is outside what the sandbox
//! grants (a denial by the file's own permissions is not the sandbox's),
//! adds a line naming the path and the policy key that would allow it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use crate::launch::sandbox::{Granted, resolve};

/// At most this many explanations per launch: a server looping over
/// denied paths must not flood the client's log.
const MAX_EXPLAINED: usize = 16;

/// The longest path quoted back.
const MAX_PATH_SHOWN: usize = 300;

/// Reads the server's stderr lines for denials the sandbox made.
#[derive(Debug)]
pub struct Explainer {
    server: String,
    /// As the sandbox was planned: resolved on the first denial only,
    /// never on a start ([`Explainer::granted`]).
    granted: Granted,
    resolved: OnceLock<Granted>,
    network: bool,
    /// The policy file whose `[servers.run]` for this server would
    /// allow it (the administrator's when it decides the paths).
    policy_file: PathBuf,
    /// Paths among the pinned arguments (`add -- ARGS`), resolved.
    pinned_args: Vec<PathBuf>,
    /// Paths among the arguments given at run time, resolved.
    runtime_args: Vec<PathBuf>,
    said: Mutex<HashSet<String>>,
}

/// What a line says was denied.
#[derive(Debug, PartialEq, Eq)]
enum Denied {
    Path(PathBuf),
    Network(String),
}

impl Explainer {
    pub fn new(
        server: &str,
        granted: Granted,
        network: bool,
        policy_file: PathBuf,
        (pinned_args, runtime_args): (Vec<PathBuf>, Vec<PathBuf>),
    ) -> Explainer {
        Explainer {
            server: server.to_string(),
            granted,
            resolved: OnceLock::new(),
            network,
            policy_file,
            pinned_args: pinned_args.iter().map(|p| resolve(p)).collect(),
            runtime_args: runtime_args.iter().map(|p| resolve(p)).collect(),
            said: Mutex::new(HashSet::new()),
        }
    }

    /// What the sandbox grants, symlinks resolved (as [`resolve`] does,
    /// the way the paths named in a denial are).
    fn granted(&self) -> &Granted {
        self.resolved.get_or_init(|| Granted {
            read: self.granted.read.iter().map(|p| resolve(p)).collect(),
            write: self.granted.write.iter().map(|p| resolve(p)).collect(),
        })
    }

    /// What a tool's error result (`raw`, one message from the server)
    /// reports the sandbox denied: servers such as the filesystem server
    /// answer the call with node's words rather than log them.
    pub fn explain_result(&self, raw: &[u8]) -> Vec<String> {
        if memchr::memmem::find(raw, b"\"isError\"").is_none() {
            return Vec::new();
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) else {
            return Vec::new();
        };
        let result = &v["result"];
        if result["isError"] != serde_json::Value::Bool(true) {
            return Vec::new();
        }
        (result["content"].as_array().into_iter().flatten())
            .filter_map(|c| c["text"].as_str())
            .flat_map(|t| t.lines().take(64))
            .filter_map(|l| self.explain(l))
            .collect()
    }

    /// The note to add after the server's stderr `line` (already
    /// redacted), if it reports a denial the sandbox made; each path or
    /// network denial is told once.
    pub fn explain(&self, line: &str) -> Option<String> {
        let denied = parse(line)?;
        // Past the limit nothing more is looked at (not even stat'ed).
        if self.said.lock().unwrap_or_else(|p| p.into_inner()).len() >= MAX_EXPLAINED {
            return None;
        }
        let (key, text) = match denied {
            Denied::Network(what) => {
                if self.network {
                    return None;
                }
                let what = if what.is_empty() {
                    String::new()
                } else {
                    format!(" ({what})")
                };
                (
                    "network".to_string(),
                    format!(
                        "the sandbox denied server {} the network{what}; to allow it, set network = true under [servers.run] for this server in {}",
                        self.server,
                        self.policy_file.display()
                    ),
                )
            }
            Denied::Path(p) => {
                let real = resolve(&p);
                let under = |list: &[PathBuf]| list.iter().any(|g| real.starts_with(g));
                if under(&self.granted().write) {
                    return None;
                }
                let readable = under(&self.granted().read);
                // The parent cannot see it either: not the sandbox's doing.
                let exists = std::fs::symlink_metadata(&real).is_ok()
                    || real
                        .parent()
                        .is_some_and(|d| std::fs::symlink_metadata(d).is_ok());
                if !exists {
                    return None;
                }
                let shown = crate::text::printable(&p.to_string_lossy(), MAX_PATH_SHOWN);
                let key = if readable {
                    "write-paths"
                } else {
                    "read-paths (or write-paths)"
                };
                let what = if readable { "writing" } else { "access to" };
                let mut text = format!(
                    "the sandbox denied server {} {what} {shown}; to allow it, add it to {key} under [servers.run] for this server in {}",
                    self.server,
                    self.policy_file.display()
                );
                if self.pinned_args.iter().any(|a| real.starts_with(a)) {
                    text.push_str(
                        ", or set grant-arg-paths = true there (it is among the pinned arguments)",
                    );
                } else if self.runtime_args.iter().any(|a| real.starts_with(a)) {
                    text.push_str(&format!(
                        "; it is an argument given at run time: pin it (`mcp-warden add {} SOURCE -- ARGS`) and set grant-arg-paths = true",
                        self.server
                    ));
                }
                (real.to_string_lossy().into_owned(), text)
            }
        };
        let mut said = self.said.lock().unwrap_or_else(|p| p.into_inner());
        if said.len() >= MAX_EXPLAINED || !said.insert(key) {
            return None;
        }
        Some(text)
    }
}

/// The denial a line reports: node's and libuv's `EACCES`/`EPERM`
/// messages, Python's `PermissionError`/`[Errno 1]`, with the path
/// quoted after them; a socket or connection error without a path is
/// the network.
fn parse(line: &str) -> Option<Denied> {
    const WORDS: [&str; 4] = [
        "EACCES",
        "EPERM",
        "Permission denied",
        "Operation not permitted",
    ];
    let at = WORDS.iter().filter_map(|w| line.find(w)).min()?;
    let rest = &line[at..];
    if let Some(path) = quoted_path(rest) {
        return Some(Denied::Path(path));
    }
    let lower = line.to_ascii_lowercase();
    ["connect", "socket", "getaddrinfo", "network", "listen"]
        .iter()
        .any(|w| lower.contains(w))
        .then(|| {
            // node: `connect EACCES 93.184.215.14:443`.
            let what = rest
                .split_whitespace()
                .nth(1)
                .filter(|w| w.contains(':') && w.len() < 80)
                .map(|w| crate::text::printable(w, 80))
                .unwrap_or_default();
            Denied::Network(what)
        })
}

/// The first absolute path in single or double quotes.
fn quoted_path(s: &str) -> Option<PathBuf> {
    for q in ['\'', '"'] {
        let mut rest = s;
        while let Some(i) = rest.find(q) {
            let after = &rest[i + 1..];
            let Some(j) = after.find(q) else { break };
            let inner = &after[..j];
            if inner.starts_with('/') && !inner.contains('\0') {
                return Some(PathBuf::from(inner));
            }
            rest = &after[j + 1..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn explainer(dir: &Path) -> Explainer {
        Explainer::new(
            "fs",
            Granted {
                read: vec![dir.join("ro")],
                write: vec![dir.join("rw")],
            },
            false,
            PathBuf::from("/home/u/.config/mcp-warden/policy.toml"),
            (vec![dir.join("arg")], vec![dir.join("late")]),
        )
    }

    #[test]
    fn the_servers_own_words_are_read() {
        assert_eq!(
            parse("Error: EACCES: permission denied, scandir '/srv/docs'"),
            Some(Denied::Path("/srv/docs".into()))
        );
        assert_eq!(
            parse("PermissionError: [Errno 13] Permission denied: '/srv/x'"),
            Some(Denied::Path("/srv/x".into()))
        );
        assert_eq!(
            parse("Error: connect EACCES 93.184.215.14:443"),
            Some(Denied::Network("93.184.215.14:443".into()))
        );
        assert_eq!(
            parse("PermissionError: [Errno 1] Operation not permitted (socket)"),
            Some(Denied::Network(String::new()))
        );
        assert_eq!(parse("all is well on '/srv/docs'"), None);
        assert_eq!(parse("EACCES on a relative 'docs'"), None);
    }

    #[test]
    fn a_denied_path_names_the_key_and_the_file_once() {
        let d = tempfile::tempdir().unwrap();
        for sub in ["ro", "rw", "arg", "late", "other"] {
            std::fs::create_dir(d.path().join(sub)).unwrap();
        }
        let e = explainer(d.path());
        let line = |p: &str| format!("Error: EACCES: permission denied, open '{p}'");
        let other = d.path().join("other/f");
        let said = e.explain(&line(&other.to_string_lossy())).unwrap();
        assert!(said.contains("denied server fs access to"), "{said}");
        assert!(said.contains("read-paths (or write-paths)"), "{said}");
        assert!(
            said.contains("/home/u/.config/mcp-warden/policy.toml"),
            "{said}"
        );
        assert_eq!(e.explain(&line(&other.to_string_lossy())), None, "once");
        // Granted read and write: the file's own permissions said no.
        assert_eq!(
            e.explain(&line(&d.path().join("rw/f").to_string_lossy())),
            None
        );
        // Readable only: writing was denied.
        let ro = e
            .explain(&line(&d.path().join("ro/f").to_string_lossy()))
            .unwrap();
        assert!(
            ro.contains("writing") && ro.contains("add it to write-paths"),
            "{ro}"
        );
        let arg = e
            .explain(&line(&d.path().join("arg").to_string_lossy()))
            .unwrap();
        assert!(arg.contains("grant-arg-paths = true there"), "{arg}");
        let late = e
            .explain(&line(&d.path().join("late/x").to_string_lossy()))
            .unwrap();
        assert!(late.contains("argument given at run time"), "{late}");
        // What does not exist for the parent either is not explained.
        assert_eq!(e.explain(&line("/nonexistent-dir-x/y/z")), None);
    }

    #[test]
    fn the_network_is_told_once_and_only_when_off() {
        let d = tempfile::tempdir().unwrap();
        let e = explainer(d.path());
        let n = e.explain("Error: connect EACCES 1.2.3.4:443").unwrap();
        assert!(
            n.contains("network = true") && n.contains("1.2.3.4:443"),
            "{n}"
        );
        assert_eq!(e.explain("Error: connect EACCES 1.2.3.4:443"), None);
        let mut on = explainer(d.path());
        on.network = true;
        assert_eq!(on.explain("Error: connect EACCES 1.2.3.4:443"), None);
    }

    #[test]
    fn a_tools_error_result_is_read_too() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("other")).unwrap();
        let e = explainer(d.path());
        let p = d.path().join("other/a.txt");
        let msg = |is_error: bool| {
            serde_json::to_vec(&serde_json::json!({"jsonrpc":"2.0","id":3,"result":{
                "content":[{"type":"text","text":format!("EACCES: permission denied, open '{}'", p.display())}],
                "isError": is_error}}))
            .unwrap()
        };
        assert!(e.explain_result(&msg(false)).is_empty());
        let told = e.explain_result(&msg(true));
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("the sandbox denied server fs access to"));
        assert!(e.explain_result(b"{\"isError\": tru").is_empty());
    }

    #[test]
    fn a_flood_is_cut_short() {
        let d = tempfile::tempdir().unwrap();
        let e = explainer(d.path());
        let told = (0..100)
            .filter_map(|i| {
                let p = d.path().join(format!("f{i}"));
                e.explain(&format!(
                    "EACCES: permission denied, open '{}'",
                    p.display()
                ))
            })
            .count();
        assert_eq!(told, MAX_EXPLAINED);
    }
}
