//! `[servers.run]`: environment, interpreter, guard, sandbox, rates and
//! resource limits.

use std::path::PathBuf;

use toml::de::DeTable;

use super::Parser;
use crate::diag::{Code, Diagnostic};
use crate::policy::{At, EnvRule, RunRules, SandboxMode};

/// `[servers.run]` keys.
const RUN_KEYS: &[&str] = &[
    "env",
    "interpreter",
    "guard",
    "sandbox",
    "network",
    "confirm-tools",
    "deny-tools",
    "rate",
    "strict-arguments",
    "max-message-size",
    "max-depth",
    "max-in-flight",
    "max-processes",
    "max-memory-mib",
    "max-file-size-mib",
    "max-open-files",
    "read-paths",
    "write-paths",
    "grant-arg-paths",
];

/// "20/s", "300/min", "1000/h" → calls per second (positive, finite).
fn parse_rate(s: &str) -> Option<f64> {
    let (n, unit) = s.split_once('/')?;
    let n: f64 = n.trim().parse().ok()?;
    let secs = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return None,
    };
    let r = n / secs;
    (r.is_finite() && r > 0.0).then_some(r)
}

impl Parser<'_> {
    /// `[servers.run]`, or with `defaults` `[defaults.run]`: the same
    /// keys but `env` and `interpreter`, which only make sense for one
    /// server (its secrets, its runtime).
    pub(super) fn run_rules(&mut self, t: &DeTable, defaults: bool) -> RunRules {
        let defaults_keys: Vec<&str> = RUN_KEYS
            .iter()
            .copied()
            .filter(|k| !matches!(*k, "env" | "interpreter"))
            .collect();
        if defaults {
            self.check_keys(t, &defaults_keys, "[defaults.run]");
        } else {
            self.check_keys(t, RUN_KEYS, "[servers.run]");
        }
        let mut rules = RunRules::default();
        for (k, v) in t.iter() {
            if let Some(key) = RUN_KEYS.iter().find(|r| **r == k.get_ref()) {
                rules.at.insert(*key, self.loc(v.span()));
            }
        }
        if defaults {
            return self.run_settings(t, rules);
        }
        if let Some((_, v)) = Self::get(t, "env") {
            match v.get_ref().as_table() {
                Some(et) => {
                    for (k, val) in et.iter() {
                        let name = k.get_ref().to_string();
                        let loc = self.loc(k.span());
                        if !crate::names::valid_env_name(&name) {
                            self.error(
                                Code::PolicyBadPattern,
                                k.span(),
                                format!("`{name}` is not a valid environment variable name"),
                                "use letters, digits and underscores, not starting with a digit",
                            );
                            continue;
                        }
                        match val.get_ref().as_str() {
                            Some("keychain") => rules.env.push((name, EnvRule::Keychain, loc)),
                            Some("inherit") => rules.env.push((name, EnvRule::Inherit, loc)),
                            _ => self.error(
                                Code::PolicyType,
                                val.span(),
                                format!("`env.{name}` must be \"keychain\" or \"inherit\""),
                                "a policy names where a value comes from, never the value: \"keychain\" (mcp-warden secret set) or \"inherit\" (the client's environment)",
                            ),
                        }
                    }
                }
                None => self.type_error(v, "env", "a table such as { TOKEN = \"keychain\" }"),
            }
        }
        if let Some(i) = self.string(t, "interpreter") {
            let path = PathBuf::from(&i.value);
            if path.is_absolute() {
                rules.interpreter = Some(At {
                    value: path,
                    loc: i.loc,
                });
            } else {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyType,
                        format!("`interpreter` must be an absolute path, not `{}`", i.value),
                    )
                    .hint("write the interpreter's full path, e.g. \"/usr/bin/node\"")
                    .at(i.loc.to_string()),
                );
            }
        }
        self.run_settings(t, rules)
    }

    /// The keys `[servers.run]` and `[defaults.run]` share.
    fn run_settings(&mut self, t: &DeTable, mut rules: RunRules) -> RunRules {
        rules.guard = self.boolean(t, "guard");
        rules.network = self.boolean(t, "network");
        rules.grant_arg_paths = self.boolean(t, "grant-arg-paths");
        rules.strict_arguments = self.boolean(t, "strict-arguments");
        if let Some(m) = self.string(t, "sandbox") {
            rules.sandbox = match m.value.as_str() {
                "off" => Some(SandboxMode::Off),
                "best-effort" => Some(SandboxMode::BestEffort),
                "require" => Some(SandboxMode::Require),
                other => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::PolicyType,
                            format!("`sandbox` must be \"require\", \"best-effort\" or \"off\", not `{other}`"),
                        )
                        .hint("\"require\" refuses to start where the sandbox cannot be enforced")
                        .at(m.loc.to_string()),
                    );
                    None
                }
            };
        }
        for (key, into) in [
            ("confirm-tools", &mut rules.confirm_tools),
            ("deny-tools", &mut rules.deny_tools),
        ] {
            if let Some((_, items)) = self.strings(t, key) {
                for it in items {
                    if self.glob_or_report(&it).is_some() {
                        into.push(it.value);
                    }
                }
            }
        }
        for (key, into) in [
            ("read-paths", &mut rules.read_paths),
            ("write-paths", &mut rules.write_paths),
        ] {
            if let Some((_, items)) = self.strings(t, key) {
                for it in items {
                    if it.value.starts_with('/') || it.value.starts_with("~/") {
                        into.push(it);
                    } else {
                        self.diags.push(
                            Diagnostic::error(
                                Code::PolicyType,
                                format!(
                                    "`{key}` entries must be absolute or start with ~/, not `{}`",
                                    it.value
                                ),
                            )
                            .hint("write the full path, e.g. \"~/projects\" or \"/srv/data\"")
                            .at(it.loc.to_string()),
                        );
                    }
                }
            }
        }
        rules.max_message_size = self.count(t, "max-message-size", 1024, 1 << 30);
        rules.max_depth = self.count(t, "max-depth", 2, 1024);
        rules.max_in_flight = self.count(t, "max-in-flight", 1, 65536);
        // The kernel's own ceilings: PID_MAX_LIMIT tasks, 1 PiB, nr_open.
        rules.max_processes = self.count(t, "max-processes", 1, 4 << 20);
        rules.max_memory_mib = self.count(t, "max-memory-mib", 16, 1 << 30);
        rules.max_file_size_mib = self.count(t, "max-file-size-mib", 1, 1 << 30);
        rules.max_open_files = self.count(t, "max-open-files", 16, 1 << 20);
        if let Some((_, v)) = Self::get(t, "rate") {
            match v.get_ref().as_table() {
                Some(rt) => {
                    self.check_keys(rt, &["overall", "per-tool", "burst"], "[servers.run] rate");
                    rules.rate_overall = self.rate(rt, "overall");
                    rules.rate_per_tool = self.rate(rt, "per-tool");
                    rules.rate_burst = self.count(rt, "burst", 1, 1_000_000).map(|b| b as u32);
                }
                None => self.type_error(
                    v,
                    "rate",
                    "a table such as { overall = \"20/s\", per-tool = \"5/s\" }",
                ),
            }
        }
        rules
    }

    /// A rate such as "20/s", "300/min" or "1000/h", in calls per second.
    pub(super) fn rate(&mut self, t: &DeTable, key: &str) -> Option<f64> {
        let r = self.string(t, key)?;
        match parse_rate(&r.value) {
            Some(per_second) => Some(per_second),
            None => {
                self.diags.push(
                    Diagnostic::error(Code::PolicyType, format!("invalid rate `{}`", r.value))
                        .hint("write calls per unit of time: \"20/s\", \"300/min\" or \"1000/h\"")
                        .at(r.loc.to_string()),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::tests::{check, codes};
    use crate::policy::parse::*;

    #[test]
    fn resource_limits_parse_merge_to_the_lower_and_reject_bad_values() {
        let policy = |layer, run: &str| {
            let text = format!("version = 1\n[[servers]]\nname = \"a\"\n[servers.run]\n{run}\n");
            let (p, d) = parse(&text, Path::new("p.toml"), layer, &TrustStore::default());
            assert!(d.is_empty(), "{d:?}");
            p.unwrap()
        };
        let system = policy(
            Layer::System,
            "max-processes = 64\nmax-memory-mib = 4096\nmax-open-files = 1024",
        );
        let user = policy(
            Layer::User,
            "max-processes = 1000\nmax-memory-mib = 512\nmax-file-size-mib = 8",
        );
        let run = system.servers[0].run.clone().unwrap();
        assert_eq!(
            (
                run.max_processes,
                run.max_memory_mib,
                run.max_file_size_mib,
                run.max_open_files
            ),
            (Some(64), Some(4096), None, Some(1024))
        );
        // A layer may lower a limit, never raise the other's.
        let set = crate::policy::PolicySet {
            layers: vec![system, user],
            warnings: vec![],
        };
        let run = set.run_rules(&crate::policy::Subject {
            name: "a",
            origin: &Default::default(),
            signers: &[],
        });
        assert_eq!(
            (
                run.max_processes,
                run.max_memory_mib,
                run.max_file_size_mib,
                run.max_open_files
            ),
            (Some(64), Some(512), Some(8), Some(1024))
        );

        let bad = "version = 1\n[[servers]]\nname = \"a\"\n[servers.run]\nmax-processes = 0\nmax-memory-mib = 8\nmax-file-size-mib = \"big\"\nmax-open-files = 2000000\nmax-threads = 1\n";
        let (_, d) = check(bad);
        assert_eq!(
            codes(&d),
            [
                "policy-type",
                "policy-type",
                "policy-type",
                "policy-type",
                "policy-unknown-key"
            ],
            "{d:?}"
        );
        assert!(
            d.iter().any(|d| d
                .message
                .contains("`max-memory-mib` must be a whole number from 16")),
            "{d:?}"
        );
    }

    #[test]
    fn guard_and_sandbox_rules_parse_and_reject_bad_values() {
        let text = "version = 1\n[audit]\notlp = \"http://127.0.0.1:4318\"\n[[servers]]\nname = \"a\"\n[servers.run]\nguard = true\nsandbox = \"require\"\nnetwork = false\nconfirm-tools = [\"delete_*\"]\ndeny-tools = [\"shell\"]\nrate = { overall = \"600/min\", per-tool = \"2/s\", burst = 5 }\nstrict-arguments = true\nmax-message-size = 65536\nmax-depth = 16\nmax-in-flight = 8\nread-paths = [\"~/docs\", \"/srv/data\"]\nwrite-paths = [\"~/out\"]\n[servers.tools]\npinned = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n";
        let (p, d) = check(text);
        assert!(d.is_empty(), "{d:?}");
        let p = p.unwrap();
        assert_eq!(p.otlp.as_ref().unwrap().value, "http://127.0.0.1:4318");
        let s = &p.servers[0];
        let run = s.run.clone().unwrap();
        assert_eq!(run.guard, Some(true));
        assert_eq!(run.sandbox, Some(SandboxMode::Require));
        assert_eq!(run.network, Some(false));
        assert_eq!(run.confirm_tools, ["delete_*"]);
        assert_eq!(run.deny_tools, ["shell"]);
        assert_eq!(run.rate_overall, Some(10.0));
        assert_eq!(run.rate_per_tool, Some(2.0));
        assert_eq!(run.rate_burst, Some(5));
        assert_eq!(run.strict_arguments, Some(true));
        assert_eq!(
            (run.max_message_size, run.max_depth, run.max_in_flight),
            (Some(65536), Some(16), Some(8))
        );
        assert!(
            s.tools_pinned
                .as_ref()
                .unwrap()
                .value
                .starts_with("sha256:0000")
        );

        let bad = "version = 1\n[audit]\notlp = \"ftp://x\"\n[[servers]]\nname = \"a\"\n[servers.run]\nrate = { overall = \"fast\", every = 1 }\nmax-depth = 0\nmax-in-flight = -1\nconfirm-tools = [\"[\"]\nguard = \"on\"\n[servers.tools]\npinned = \"sha256:XYZ\"\nextra = 1\n";
        let (_, d) = check(bad);
        let c = codes(&d);
        assert_eq!(
            c,
            [
                "policy-type",
                "policy-type",
                "policy-unknown-key",
                "policy-type",
                "policy-type",
                "policy-bad-pattern",
                "policy-type",
                "policy-bad-pattern",
                "policy-unknown-key",
            ],
            "{d:?}"
        );
    }

    #[test]
    fn defaults_run_is_a_floor_for_every_server_and_paths_only_narrow() {
        let policy = |layer, text: &str| crate::policy::parse::tests::clean(text, layer);
        let system = policy(
            Layer::System,
            "[defaults.run]\nsandbox = \"require\"\nguard = true\nnetwork = false\ndeny-tools = [\"shell\"]\nread-paths = [\"/srv/data\", \"~/docs\"]\nwrite-paths = [\"/srv/out\"]\nmax-processes = 64\n\
             [[servers]]\nname = \"legacy\"\n[servers.run]\nsandbox = \"best-effort\"\n",
        );
        let user = policy(
            Layer::User,
            "[[servers]]\nname = \"acme-y\"\n[servers.run]\nsandbox = \"off\"\nguard = false\nnetwork = true\ndeny-tools = []\nmax-processes = 1000\n\
             read-paths = [\"/srv/data/sub\", \"/srv/out/x\", \"/etc\", \"/srv/data/../../etc\", \"~/docs/a\", \"/srv/database\"]\nwrite-paths = [\"/srv/data/w\", \"/srv/out/w\"]\n\
             [[servers]]\nname = \"legacy\"\n[servers.run]\nsandbox = \"off\"\n",
        );
        let set = crate::policy::PolicySet {
            layers: vec![system, user],
            warnings: vec![],
        };
        let paths = |l: &[At<String>]| l.iter().map(|p| p.value.clone()).collect::<Vec<_>>();
        let origin = Default::default();
        let run_rules = |name: &str| {
            set.run_rules(&crate::policy::Subject {
                name,
                origin: &origin,
                signers: &[],
            })
        };
        // A server the system never named: the floor holds.
        let run = run_rules("acme-y");
        assert_eq!(run.sandbox, Some(SandboxMode::Require));
        assert_eq!((run.guard, run.network), (Some(true), Some(false)));
        assert_eq!(run.deny_tools, ["shell"]);
        assert_eq!(run.max_processes, Some(64));
        assert_eq!(
            paths(&run.read_paths),
            ["/srv/data/sub", "/srv/out/x", "~/docs/a"]
        );
        assert_eq!(paths(&run.write_paths), ["/srv/out/w"]);
        // Nobody's entry at all: the system's floor as it is.
        let run = run_rules("other");
        assert_eq!(run.sandbox, Some(SandboxMode::Require));
        assert_eq!(paths(&run.read_paths), ["/srv/data", "~/docs"]);
        // The system's own entry sets one server apart in its file; the
        // user's still cannot go below it.
        assert_eq!(run_rules("legacy").sandbox, Some(SandboxMode::BestEffort));

        for (path, within, want) in [
            ("/srv/data", "/srv/data", true),
            ("/srv/data/", "/srv/data", true),
            ("/srv/data/a/b", "/srv/data", true),
            ("/srv/database", "/srv/data", false),
            ("/srv/data/../x", "/srv/data", false),
            ("/srv/./data", "/srv", false),
            ("~/docs/a", "~/docs", true),
            ("/home/u/docs", "~/docs", false),
            ("~/docs", "/", false),
            ("/etc", "/", true),
        ] {
            assert_eq!(
                crate::policy::path_within(path, within),
                want,
                "{path} in {within}"
            );
        }
    }

    #[test]
    fn run_rules_name_sources_never_values() {
        let text = "version = 1\n[[servers]]\nname = \"a\"\n[servers.run]\nenv = { TOKEN = \"keychain\", REGION = \"inherit\" }\ninterpreter = \"/usr/bin/node\"\n";
        let (p, d) = check(text);
        assert!(d.is_empty(), "{d:?}");
        let run = p.unwrap().servers[0].run.clone().unwrap();
        let env: Vec<(&str, EnvRule)> = run.env.iter().map(|(n, r, _)| (n.as_str(), *r)).collect();
        assert_eq!(
            env,
            [("REGION", EnvRule::Inherit), ("TOKEN", EnvRule::Keychain)]
        );
        assert_eq!(
            run.interpreter.unwrap().value,
            PathBuf::from("/usr/bin/node")
        );

        let text = "version = 1\n[[servers]]\nname = \"a\"\n[servers.run]\nenv = { TOKEN = \"ghp_literal\", \"1BAD\" = \"keychain\" }\ninterpreter = \"node\"\nsandbox = \"always\"\n";
        let (_, d) = check(text);
        let c = codes(&d);
        assert_eq!(
            c,
            [
                "policy-type",
                "policy-bad-pattern",
                "policy-type",
                "policy-type"
            ],
            "{d:?}"
        );
        // The literal is not echoed back as if it were a setting.
        assert!(
            d.iter().all(|d| !d.message.contains("ghp_literal")),
            "{d:?}"
        );
        let (_, d) = check("version = 1\n[[servers]]\nname = \"a\"\nrun = 3\n");
        assert_eq!(codes(&d), ["policy-type"]);
    }
}
