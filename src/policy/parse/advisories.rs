//! `[advisories]`: the database, the severity threshold, ignores, and how
//! old the database may be.

use std::ops::Range;

use toml::de::DeTable;

use super::Parser;
use crate::diag::{Code, Diagnostic};
use crate::policy::AdvisoryRules;
use crate::sbom::advisories::{Ignore, Severity};

impl Parser<'_> {
    pub(super) fn advisory_rules(
        &mut self,
        t: &DeTable,
        span: Range<usize>,
    ) -> Option<AdvisoryRules> {
        self.check_keys(
            t,
            &["db", "severity", "ignore", "max-age", "stale"],
            "[advisories]",
        );
        let db = self
            .string(t, "db")
            .map(|d| std::path::PathBuf::from(d.value));
        let severity = match self.string(t, "severity") {
            None => Severity::High,
            Some(s) => match s.value.parse::<Severity>() {
                Ok(sev) => sev,
                Err(_) => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::PolicyType,
                            format!("unknown severity `{}`", s.value),
                        )
                        .hint("use \"low\", \"medium\", \"high\" or \"critical\"")
                        .at(s.loc.to_string()),
                    );
                    Severity::High
                }
            },
        };
        let ignore = self.array_of_tables(t, "ignore", |p, it, ispan| {
            p.check_keys(it, &["id", "reason"], "[advisories] ignore");
            let id = p.string(it, "id").map(|i| i.value);
            let reason = p
                .string(it, "reason")
                .map(|r| r.value)
                .filter(|r| !r.trim().is_empty());
            if id.is_none() {
                p.error(
                    Code::PolicyType,
                    ispan.clone(),
                    "an ignored advisory has no `id`",
                    "give the advisory id: `id = \"GHSA-xxxx-xxxx-xxxx\"`",
                );
            }
            if reason.is_none() {
                p.error(
                    Code::PolicyMissingReason,
                    ispan.clone(),
                    "an ignored advisory has no `reason`",
                    "say why it is safe to ignore: `reason = \"...\"`",
                );
            }
            Some((
                Ignore {
                    id: id?,
                    reason: reason?,
                },
                p.loc(ispan),
            ))
        });
        let max_age = self.duration(t, "max-age");
        let stale = self.choice(
            t,
            "stale",
            &[("deny", true), ("warn", false)],
            "use \"warn\" (report a stale database) or \"deny\" (refuse what it would judge)",
        );
        Some(AdvisoryRules {
            db,
            severity,
            ignore,
            max_age,
            stale_deny: stale,
            loc: self.loc(span),
        })
    }
}
