//! `[[servers]]` entries: name, source, versions, signers and the
//! section tables, and `[servers.tools]`.

use std::ops::Range;

use toml::de::DeTable;

use super::Parser;
use crate::diag::{Code, Diagnostic};
use crate::digest::Digest;
use crate::policy::{At, ServerRule, SourceRule};

impl Parser<'_> {
    pub(super) fn server(&mut self, t: &DeTable, span: Range<usize>) -> Option<ServerRule> {
        self.check_keys(
            t,
            &[
                "name",
                "source",
                "require",
                "signers",
                "signed-by",
                "digests",
                "versions",
                "identity",
                "provenance",
                "sbom",
                "run",
                "tools",
            ],
            "[[servers]]",
        );
        let Some(name) = self.string(t, "name") else {
            self.error(
                Code::PolicyType,
                span,
                "a `[[servers]]` entry has no `name`",
                "give every server entry the name that `verify --server` and `run` use",
            );
            return None;
        };
        // A server entry names one server, literally. Globs are refused
        // rather than supported: entries are looked up by exact name, and
        // an entry that silently matched many servers would hand all of
        // them its signers and run rules. Many servers are covered by
        // listing them, or by an exception's `servers` globs.
        if name.value.contains(['*', '?', '[']) {
            self.diags.push(
                Diagnostic::error(
                    Code::PolicyType,
                    format!(
                        "`[[servers]] name = \"{}\"` is a glob; a server entry names one server",
                        name.value
                    ),
                )
                .hint("give each server its own `[[servers]]` entry with its exact name; for many servers use `source`, `[defaults]` (every server) or an exception's `servers` globs")
                .at(name.loc.to_string()),
            );
        } else if !crate::names::valid_server_name(&name.value) {
            self.diags.push(
                Diagnostic::error(
                    Code::PolicyType,
                    format!(
                        "`{}` is not a usable server name",
                        name.value.escape_debug()
                    ),
                )
                .hint(crate::names::SERVER_NAME_RULE)
                .at(name.loc.to_string()),
            );
        }
        let source = self.string(t, "source").and_then(|s| {
            match SourceRule::parse(&s.value, s.loc.clone()) {
                Ok(rule) => Some(rule),
                Err(why) => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::PolicyBadPattern,
                            format!("invalid source `{}`: {why}", s.value.escape_debug()),
                        )
                        .hint("name a package or URL as `add` takes it: npm:NAME[@VERSION], pypi:NAME[==VERSION], registry:NAMESPACE/NAME[@VERSION] or https://URL; pin a local file by `digests`")
                        .at(s.loc.to_string()),
                    );
                    None
                }
            }
        });
        let rules = self.rules(t);
        let signed_by = self.trust_names(t, "signed-by");
        let digests = self.strings(t, "digests").map(|(at, items)| {
            let mut ds = Vec::new();
            for it in items {
                match it.value.parse::<Digest>() {
                    Ok(d) => ds.push(d),
                    Err(e) => self.diags.push(
                        Diagnostic::error(Code::PolicyBadPattern, format!("invalid digest: {e}"))
                            .hint("pin digests as \"sha256:<64 hex>\" or \"sha512:<128 hex>\"")
                            .at(it.loc.to_string()),
                    ),
                }
            }
            at.map(ds)
        });
        let versions = self.string(t, "versions").and_then(|v| {
            // Read as a range, and its bounds as versions of some scheme
            // (which one is the source's, known at judgement).
            let read = crate::policy::range::VersionRange::parse(&v.value)
                .and_then(|r| r.contains(None, "0.0.0").map(|_| r));
            match read {
                Ok(range) => Some(At {
                    value: range,
                    loc: v.loc,
                }),
                Err(e) => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::PolicyBadPattern,
                            format!("invalid version range `{}`: {e}", v.value.escape_debug()),
                        )
                        .hint("write a range such as \"1.4.2\" (that version only), \">=1.4, <2\" or \"^1.4\"")
                        .at(v.loc.to_string()),
                    );
                    None
                }
            }
        });
        let identity = match Self::get(t, "identity") {
            None => None,
            Some((_, v)) => match v.get_ref().as_table() {
                Some(it) => self.identity_claims(it, v.span()),
                None => {
                    self.type_error(v, "identity", "a table");
                    None
                }
            },
        };
        let provenance = match Self::get(t, "provenance") {
            None => None,
            Some((_, v)) => match v.get_ref().as_table() {
                Some(pt) => self.provenance_rules(pt, v.span()),
                None => {
                    self.type_error(v, "provenance", "a table");
                    None
                }
            },
        };
        let sbom = match Self::get(t, "sbom") {
            None => None,
            Some((_, v)) => match v.get_ref().as_table() {
                Some(st) => self.sbom_rules(st, v.span()),
                None => {
                    self.type_error(v, "sbom", "a table");
                    None
                }
            },
        };
        let run = match Self::get(t, "run") {
            None => None,
            Some((_, v)) => match v.get_ref().as_table() {
                Some(rt) => Some(self.run_rules(rt, false)),
                None => {
                    self.type_error(v, "run", "a table");
                    None
                }
            },
        };
        let tools_pinned = match Self::get(t, "tools") {
            None => None,
            Some((_, v)) => match v.get_ref().as_table() {
                Some(tt) => self.tools_rules(tt),
                None => {
                    self.type_error(v, "tools", "a table");
                    None
                }
            },
        };
        Some(ServerRule {
            tools_pinned,
            sbom,
            provenance,
            run,
            name: name.value,
            loc: name.loc,
            source,
            rules,
            signed_by,
            digests,
            versions,
            identity,
        })
    }

    pub(super) fn tools_rules(&mut self, t: &DeTable) -> Option<At<String>> {
        self.check_keys(t, &["pinned"], "[servers.tools]");
        let pin = self.string(t, "pinned")?;
        let ok = pin.value.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Some(pin)
        } else {
            self.diags.push(
                Diagnostic::error(
                    Code::PolicyBadPattern,
                    format!(
                        "`pinned` must be \"sha256:\" and 64 lowercase hex digits, not `{}`",
                        pin.value
                    ),
                )
                .hint("copy the digest `mcp-warden approve NAME` prints")
                .at(pin.loc.to_string()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {

    use crate::policy::parse::tests::{check, codes};

    #[test]
    fn server_entry_names_are_literal_valid_names() {
        let (_, d) = check("version = 1\n[[servers]]\nname = \"io.github.acme/*\"\n");
        assert_eq!(codes(&d), vec!["policy-type"]);
        assert_eq!(
            d[0].message,
            "`[[servers]] name = \"io.github.acme/*\"` is a glob; a server entry names one server"
        );
        assert_eq!(d[0].location.as_deref(), Some("p.toml:3:8"));
        let (_, d) = check("version = 1\n[[servers]]\nname = \"a//b\"\n");
        assert_eq!(codes(&d), vec!["policy-type"]);
        let (p, d) = check("version = 1\n[[servers]]\nname = \"io.github.acme/srv\"\n");
        assert!(p.is_some() && d.is_empty(), "{d:?}");
    }
}
