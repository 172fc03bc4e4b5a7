//! `[[exceptions]]`: waivers with a reason and an expiry.

use std::ops::Range;

use toml::de::DeTable;

use super::Parser;
use crate::diag::{Code, Diagnostic};
use crate::policy::{Exception, Requirement};
use crate::trust::{Scopes, compile_glob};

impl Parser<'_> {
    pub(super) fn exception(&mut self, t: &DeTable, span: Range<usize>) -> Option<Exception> {
        self.check_keys(t, &["servers", "waive", "reason"], "[[exceptions]]");
        let loc = self.loc(span.clone());
        let reason = self
            .string(t, "reason")
            .map(|r| r.value)
            .filter(|r| !r.trim().is_empty());
        if reason.is_none() {
            self.error(
                Code::PolicyMissingReason,
                span.clone(),
                "an exception has no `reason`",
                "say why the exception exists: `reason = \"...\"`; it is shown whenever it applies",
            );
        }
        let mut patterns = Vec::new();
        match self.strings(t, "servers") {
            None => self.error(
                Code::PolicyType,
                span.clone(),
                "an exception has no `servers`",
                "list the server names (globs) it applies to: `servers = [\"legacy-*\"]`",
            ),
            Some((_, items)) => {
                for it in items {
                    match compile_glob(&it.value) {
                        Ok(_) => patterns.push(it.value),
                        Err(e) => self.diags.push(
                            Diagnostic::error(
                                Code::PolicyBadPattern,
                                format!("invalid glob `{}`: {e}", it.value),
                            )
                            .hint("globs use *, ?, [abc] and {a,b}")
                            .at(it.loc.to_string()),
                        ),
                    }
                }
            }
        }
        let mut waive = Vec::new();
        match self.strings(t, "waive") {
            None => self.error(
                Code::PolicyType,
                span,
                "an exception has no `waive`",
                "list what it waives: `waive = [\"provenance\"]`",
            ),
            Some((_, items)) => {
                for it in items {
                    match Requirement::parse(&it.value) {
                        Some(r) => waive.push(r),
                        None => self.diags.push(
                            Diagnostic::error(
                                Code::PolicyType,
                                format!("unknown requirement `{}`", it.value),
                            )
                            .hint("use \"signature\", \"provenance\" or \"sbom\"")
                            .at(it.loc.to_string()),
                        ),
                    }
                }
            }
        }
        let servers = Scopes::new(&patterns).ok()?;
        Some(Exception {
            servers,
            waive,
            reason: reason?,
            loc,
        })
    }
}

#[cfg(test)]
mod tests {

    use crate::policy::parse::tests::{check, codes};

    #[test]
    fn unused_exception_is_a_warning_against_the_known_names() {
        let (p, d) = check(
            "version = 1\n[[servers]]\nname = \"a\"\n[[exceptions]]\nservers = [\"legacy-*\"]\nwaive = [\"provenance\"]\nreason = \"vendor has no CI\"\n[[exceptions]]\nservers = [\"*\"]\nwaive = [\"provenance\"]\nreason = \"r\"\n",
        );
        let p = p.unwrap();
        assert!(d.is_empty(), "{d:?}");
        // Entries and pinned servers both count; `*` matches any of them.
        let d = crate::policy::unused_exceptions(&p, &["a", "legacy-x"]);
        assert!(d.is_empty(), "{d:?}");
        let d = crate::policy::unused_exceptions(&p, &["a"]);
        assert_eq!(codes(&d), vec!["exception-unused"]);
        assert_eq!(d[0].location.as_deref(), Some("p.toml:4:1"));
        let d = crate::policy::unused_exceptions(&p, &[]);
        assert_eq!(codes(&d), vec!["exception-unused", "exception-unused"]);
    }
}
