//! The server's environment: a short allowlist from `run`'s own, the
//! variables its entry declares, and its secrets, never anything else (a
//! client's environment carries tokens of other tools).

use std::ffi::{OsStr, OsString};

use crate::lock::EnvVar;
use crate::names::loads_code;
use crate::policy::{EnvRule, RunRules};

/// Passed through from `run`'s environment to every server.
pub const ALLOWLIST: &[&str] = &["PATH", "HOME", "LANG", "TZ", "TMPDIR"];

fn allowed(name: &OsStr) -> bool {
    let Some(n) = name.to_str() else { return false };
    ALLOWLIST.contains(&n)
        || n == "LC_ALL"
        || n.starts_with("LC_") && crate::names::valid_env_name(n)
}

/// A secret the server needs from the keychain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNeed {
    pub var: String,
    /// A missing required secret stops the launch.
    pub required: bool,
    /// Why it is wanted, for the message when it is missing.
    pub reason: &'static str,
}

/// What the environment will be, before the keychain is read.
#[derive(Debug, Default)]
pub struct EnvPlan {
    pub plain: Vec<(OsString, OsString)>,
    pub secrets: Vec<SecretNeed>,
    /// Declared, required, non-secret variables that have no value.
    pub missing: Vec<String>,
    /// `--env VAR` names that `run`'s environment does not have.
    pub unset_passes: Vec<String>,
    /// Variables that [`loads_code`] and that something other than the
    /// policy tried to set, with where that came from: the launch stops.
    pub refused: Vec<(String, &'static str)>,
}

/// Where each variable comes from:
/// - the allowlist, from `parent`;
/// - the entry's declared variables (`declared`): secrets from the
///   keychain, others from `parent` or their default;
/// - `[servers.run] env` (`rules`): `keychain` or `inherit`;
/// - secrets stored for the server (`stored`), from the keychain;
/// - `--env VAR` (`passes`), from `parent`.
///
/// Later sources do not override a secret with a plain value. A variable
/// that [`loads_code`] is taken from the policy alone; from any other
/// source it is listed in `refused`.
pub fn plan(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    declared: &[EnvVar],
    rules: &RunRules,
    stored: &[String],
    passes: &[String],
) -> EnvPlan {
    let parent: Vec<(OsString, OsString)> = parent.into_iter().collect();
    let from_parent = |name: &str| -> Option<OsString> {
        parent
            .iter()
            .find(|(k, _)| k.as_os_str() == OsStr::new(name))
            .map(|(_, v)| v.clone())
    };
    let mut out = EnvPlan::default();
    for (k, v) in &parent {
        if allowed(k) {
            out.plain.push((k.clone(), v.clone()));
        }
    }
    let set_plain = |out: &mut EnvPlan, name: &str, value: OsString| {
        if out.secrets.iter().any(|s| s.var == name) {
            return;
        }
        out.plain.retain(|(k, _)| k.as_os_str() != OsStr::new(name));
        out.plain.push((OsString::from(name), value));
    };
    let need = |out: &mut EnvPlan, var: &str, required: bool, reason: &'static str| {
        out.plain.retain(|(k, _)| k.as_os_str() != OsStr::new(var));
        match out.secrets.iter_mut().find(|s| s.var == var) {
            Some(s) => s.required |= required,
            None => out.secrets.push(SecretNeed {
                var: var.to_string(),
                required,
                reason,
            }),
        }
    };
    let policy_sets = |name: &str| rules.env.iter().any(|(n, _, _)| n == name);
    // Skipped from every source but the policy; refused when the policy
    // does not set it either.
    let refuse = |out: &mut EnvPlan, name: &str, from: &'static str| -> bool {
        if !loads_code(name) {
            return false;
        }
        if !policy_sets(name) && !out.refused.iter().any(|(n, _)| n == name) {
            out.refused.push((name.to_string(), from));
        }
        true
    };
    for v in declared
        .iter()
        .filter(|v| crate::names::valid_env_name(&v.name))
    {
        if refuse(
            &mut out,
            &v.name,
            "the pinned entry's metadata (servers.lock)",
        ) {
            continue;
        }
        if v.secret {
            need(&mut out, &v.name, v.required, "the server declares it");
        } else if let Some(value) = from_parent(&v.name) {
            set_plain(&mut out, &v.name, value);
        } else if let Some(d) = &v.default {
            set_plain(&mut out, &v.name, OsString::from(d));
        } else if v.required {
            out.missing.push(v.name.clone());
        }
    }
    for (name, rule, _) in &rules.env {
        match rule {
            EnvRule::Keychain => need(&mut out, name, true, "the policy asks for it"),
            EnvRule::Inherit => match from_parent(name) {
                Some(value) => set_plain(&mut out, name, value),
                None => out.missing.push(name.clone()),
            },
        }
    }
    for var in stored.iter().filter(|v| crate::names::valid_env_name(v)) {
        if refuse(&mut out, var, "a secret stored for the server") {
            continue;
        }
        need(&mut out, var, false, "it is stored for the server");
    }
    for name in passes {
        if refuse(&mut out, name, "run --env") {
            continue;
        }
        match from_parent(name) {
            Some(value) => set_plain(&mut out, name, value),
            None => out.unset_passes.push(name.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Loc;

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn var(name: &str, secret: bool, required: bool, default: Option<&str>) -> EnvVar {
        EnvVar {
            name: name.into(),
            secret,
            required,
            default: default.map(str::to_string),
            description: None,
        }
    }

    fn names(p: &EnvPlan) -> Vec<String> {
        p.plain
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect()
    }

    #[test]
    fn only_the_allowlist_passes_by_default() {
        let p = plan(
            os(&[
                ("PATH", "/bin"),
                ("HOME", "/h"),
                ("LC_CTYPE", "C.UTF-8"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
                ("GITHUB_TOKEN", "y"),
                ("LD_PRELOAD", "/evil.so"),
                ("NODE_OPTIONS", "--require /evil.js"),
            ]),
            &[],
            &RunRules::default(),
            &[],
            &[],
        );
        assert_eq!(names(&p), ["PATH=/bin", "HOME=/h", "LC_CTYPE=C.UTF-8"]);
        assert!(p.secrets.is_empty());
    }

    #[test]
    fn declared_variables_come_from_parent_or_default_and_secrets_never_from_parent() {
        let declared = [
            var("LOG_LEVEL", false, false, Some("info")),
            var("REGION", false, true, None),
            var("API_KEY", true, true, None),
            var("OPTIONAL_TOKEN", true, false, None),
        ];
        let p = plan(
            os(&[("REGION", "eu"), ("API_KEY", "literal-from-config")]),
            &declared,
            &RunRules::default(),
            &[],
            &[],
        );
        assert_eq!(names(&p), ["LOG_LEVEL=info", "REGION=eu"]);
        assert_eq!(
            p.secrets,
            [
                SecretNeed {
                    var: "API_KEY".into(),
                    required: true,
                    reason: "the server declares it"
                },
                SecretNeed {
                    var: "OPTIONAL_TOKEN".into(),
                    required: false,
                    reason: "the server declares it"
                }
            ]
        );
        let p = plan(os(&[]), &declared, &RunRules::default(), &[], &[]);
        assert_eq!(p.missing, ["REGION"]);
    }

    #[test]
    fn policy_rules_stored_secrets_and_passes() {
        let loc = Loc {
            file: "p.toml".into(),
            line: 1,
            column: 1,
        };
        let rules = RunRules {
            env: vec![
                ("GITHUB_TOKEN".into(), EnvRule::Keychain, loc.clone()),
                ("PROXY".into(), EnvRule::Inherit, loc),
            ],
            interpreter: None,
            ..RunRules::default()
        };
        let p = plan(
            os(&[("PROXY", "http://p"), ("DEBUG", "1"), ("GITHUB_TOKEN", "t")]),
            &[],
            &rules,
            &["EXTRA".into(), "GITHUB_TOKEN".into()],
            &["DEBUG".into(), "NOPE".into(), "GITHUB_TOKEN".into()],
        );
        assert_eq!(names(&p), ["PROXY=http://p", "DEBUG=1"]);
        let secrets: Vec<(&str, bool)> = p
            .secrets
            .iter()
            .map(|s| (s.var.as_str(), s.required))
            .collect();
        assert_eq!(secrets, [("GITHUB_TOKEN", true), ("EXTRA", false)]);
        assert_eq!(p.unset_passes, ["NOPE"]);
    }

    #[test]
    fn code_loading_variables_come_from_the_policy_only() {
        let declared = [
            var(
                "NODE_OPTIONS",
                false,
                false,
                Some("--import=data:text/javascript,x"),
            ),
            var("ld_preload", false, false, Some("/evil.so")),
            var("PYTHONSTARTUP", true, false, None),
            var("NODE_ENV", false, false, Some("production")),
        ];
        let parent = os(&[
            ("NODE_OPTIONS", "--max-old-space-size=64"),
            ("GIT_DIR", "/x"),
        ]);
        let p = plan(
            parent.clone(),
            &declared,
            &RunRules::default(),
            &["PERL5OPT".into()],
            &["GIT_DIR".into()],
        );
        assert_eq!(names(&p), ["NODE_ENV=production"]);
        assert!(p.secrets.is_empty());
        let refused: Vec<&str> = p.refused.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            refused,
            [
                "NODE_OPTIONS",
                "ld_preload",
                "PYTHONSTARTUP",
                "PERL5OPT",
                "GIT_DIR"
            ]
        );
        // The policy's rule is the only way in, and the registry's default
        // does not fill in for it.
        let loc = Loc {
            file: "p.toml".into(),
            line: 1,
            column: 1,
        };
        let rules = RunRules {
            env: vec![("NODE_OPTIONS".into(), EnvRule::Inherit, loc)],
            ..RunRules::default()
        };
        let p = plan(parent, &declared, &rules, &[], &["NODE_OPTIONS".into()]);
        assert!(names(&p).contains(&"NODE_OPTIONS=--max-old-space-size=64".to_string()));
        assert_eq!(p.refused.len(), 2, "{:?}", p.refused);
        let p = plan(os(&[]), &declared[..1], &rules, &[], &[]);
        assert!(p.plain.is_empty() && p.refused.is_empty());
        assert_eq!(p.missing, ["NODE_OPTIONS"]);
    }
}
