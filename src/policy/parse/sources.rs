//! `[sources]`: what may be pinned at all, whatever the evidence.

use toml::de::DeTable;

use super::Parser;
use crate::diag::{Code, Diagnostic};
use crate::policy::{At, InstallScripts, Require};

/// What `[sources]` says.
#[derive(Debug, Default)]
pub(super) struct Sources {
    pub allow_unsigned: Option<At<bool>>,
    pub install_scripts: Option<At<InstallScripts>>,
    pub registry_signatures: Option<At<Require>>,
    pub provenance: Option<At<Require>>,
}

impl Parser<'_> {
    /// `allow-unsigned`: whether `add --unsigned --reason` may pin a
    /// server without a signature (default true). `install-scripts`:
    /// "deny" refuses an npm tree where a package declares install
    /// scripts, "warn" (the default) pins it with a warning.
    pub(super) fn sources(&mut self, t: &DeTable) -> Sources {
        self.check_keys(
            t,
            &[
                "allow-unsigned",
                "install-scripts",
                "registry-signatures",
                "provenance",
            ],
            "[sources]",
        );
        let allow_unsigned = Self::get(t, "allow-unsigned").and_then(|(_, v)| {
            let loc = self.loc(v.span());
            self.boolean(t, "allow-unsigned")
                .map(|value| At { value, loc })
        });
        let install_scripts = self
            .string(t, "install-scripts")
            .and_then(|a| match a.value.as_str() {
                "deny" => Some(a.map(InstallScripts::Deny)),
                "warn" => Some(a.map(InstallScripts::Warn)),
                _ => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::PolicyType,
                            format!(
                                "`install-scripts` must be \"deny\" or \"warn\", not `{}`",
                                a.value
                            ),
                        )
                        .hint("\"deny\" refuses to pin a package tree that declares install scripts; \"warn\" (the default) pins it with a warning; the scripts are never run")
                        .at(a.loc.to_string()),
                    );
                    None
                }
            });
        let registry_signatures = self.require(
            t,
            "registry-signatures",
            "\"tree\" requires a valid npm registry signature of every package of the tree, \"top\" of the package itself, \"off\" (the default) of none; a signature offered is verified either way",
        );
        let provenance = self.require(
            t,
            "provenance",
            "\"tree\" requires verified npm provenance of every package of the tree, \"top\" of the package itself, \"off\" (the default) of none; provenance offered is verified either way",
        );
        Sources {
            allow_unsigned,
            install_scripts,
            registry_signatures,
            provenance,
        }
    }

    /// A key saying whose evidence is required: "off", "top" (the
    /// package itself) or "tree" (every package of its tree).
    fn require(&mut self, t: &DeTable, key: &str, hint: &str) -> Option<At<Require>> {
        let a = self.string(t, key)?;
        match a.value.as_str() {
            "off" => Some(a.map(Require::Off)),
            "top" => Some(a.map(Require::Top)),
            "tree" => Some(a.map(Require::Tree)),
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyType,
                        format!(
                            "`{key}` must be \"off\", \"top\" or \"tree\", not `{}`",
                            a.value
                        ),
                    )
                    .hint(hint)
                    .at(a.loc.to_string()),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::parse::tests::{check, codes};

    #[test]
    fn allow_unsigned_is_a_boolean_with_its_position() {
        let (p, d) = check("version = 1\n[sources]\nallow-unsigned = false\n");
        assert!(d.is_empty(), "{d:?}");
        let a = p.unwrap().allow_unsigned.unwrap();
        assert!(!a.value);
        assert_eq!(a.loc.to_string(), "p.toml:3:18");
        // Not said: the built-in default (allowed) applies.
        let (p, _) = check("version = 1\n[sources]\n");
        assert!(p.unwrap().allow_unsigned.is_none());
        let (_, d) = check("version = 1\n[sources]\nallow-unsigned = \"no\"\n");
        assert_eq!(codes(&d), vec!["policy-type"]);
        let (_, d) = check("version = 1\n[sources]\nallow-unsigend = false\n");
        assert_eq!(codes(&d), vec!["policy-unknown-key"]);
        let (_, d) = check("version = 1\nsources = false\n");
        assert_eq!(codes(&d), vec!["policy-type"]);
    }

    #[test]
    fn install_scripts_is_deny_or_warn() {
        use crate::policy::InstallScripts;
        let (p, d) = check("version = 1\n[sources]\ninstall-scripts = \"deny\"\n");
        assert!(d.is_empty(), "{d:?}");
        let a = p.unwrap().install_scripts.unwrap();
        assert_eq!(a.value, InstallScripts::Deny);
        assert_eq!(a.loc.to_string(), "p.toml:3:19");
        let (p, _) = check("version = 1\n[sources]\ninstall-scripts = \"warn\"\n");
        assert_eq!(
            p.unwrap().install_scripts.unwrap().value,
            InstallScripts::Warn
        );
        let (p, _) = check("version = 1\n[sources]\n");
        assert!(p.unwrap().install_scripts.is_none());
        for bad in ["\"allow\"", "true", "\"\"", "[\"deny\"]"] {
            let (_, d) = check(&format!(
                "version = 1\n[sources]\ninstall-scripts = {bad}\n"
            ));
            assert_eq!(codes(&d), vec!["policy-type"], "{bad}");
        }
    }

    #[test]
    fn registry_signatures_and_provenance_are_off_top_or_tree() {
        use crate::policy::{At, Policy, Require};
        type Get = fn(&Policy) -> Option<&At<Require>>;
        let keys: [(&str, Get, &str); 2] = [
            (
                "registry-signatures",
                |p| p.registry_signatures.as_ref(),
                "p.toml:3:23",
            ),
            ("provenance", |p| p.provenance.as_ref(), "p.toml:3:14"),
        ];
        for (key, get, loc) in keys {
            for (text, want) in [
                ("off", Require::Off),
                ("top", Require::Top),
                ("tree", Require::Tree),
            ] {
                let (p, d) = check(&format!("version = 1\n[sources]\n{key} = \"{text}\"\n"));
                assert!(d.is_empty(), "{d:?}");
                let p = p.unwrap();
                let a = get(&p).unwrap();
                assert_eq!(a.value, want);
                assert_eq!(a.loc.to_string(), loc);
            }
            let (p, _) = check("version = 1\n[sources]\n");
            assert!(get(&p.unwrap()).is_none());
            for bad in ["\"all\"", "true", "\"\"", "[\"tree\"]", "\"Tree\""] {
                let (_, d) = check(&format!("version = 1\n[sources]\n{key} = {bad}\n"));
                assert_eq!(codes(&d), vec!["policy-type"], "{key} = {bad}");
            }
        }
    }
}
