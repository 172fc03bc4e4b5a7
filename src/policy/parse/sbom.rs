//! `[servers.sbom]` and its `deny-components` entries.

use std::ops::Range;

use toml::de::DeTable;

use super::Parser;
use crate::diag::{Code, Diagnostic};
use crate::policy::range::{Scheme, VersionRange};
use crate::policy::{DenyComponent, SbomRules, Unidentified};
use crate::sbom::license::{LicensePolicy, NoAssertion};

impl Parser<'_> {
    pub(super) fn sbom_rules(&mut self, t: &DeTable, span: Range<usize>) -> Option<SbomRules> {
        self.check_keys(
            t,
            &[
                "require",
                "signed",
                "max-age",
                "deny-components",
                "allow-licenses",
                "deny-licenses",
                "noassertion",
                "unidentified",
            ],
            "[servers.sbom]",
        );
        let unidentified = self
            .choice(
                t,
                "unidentified",
                &[("deny", Unidentified::Deny), ("warn", Unidentified::Warn)],
                "use \"deny\" or \"warn\"",
            )
            .map(|u| u.value);
        let require = self.boolean(t, "require").unwrap_or(false);
        let signed = self.boolean(t, "signed").unwrap_or(true);
        let max_age = self.duration(t, "max-age").map(|m| m.value);
        let deny_components = self.array_of_tables(t, "deny-components", |p, ct, cspan| {
            p.deny_component(ct, cspan)
        });
        let allow = self.strings(t, "allow-licenses").map(|(_, v)| v);
        let deny = self.strings(t, "deny-licenses").map(|(_, v)| v);
        let noassertion = self.string(t, "noassertion");
        let licenses = if allow.is_some() || deny.is_some() {
            let rule = match noassertion.as_ref().map(|n| n.value.as_str()) {
                Some("allow") => Some(NoAssertion::Allow),
                Some("deny") => Some(NoAssertion::Deny),
                Some("warn") => Some(NoAssertion::Warn),
                Some(other) => {
                    let loc = noassertion
                        .as_ref()
                        .map(|n| n.loc.to_string())
                        .unwrap_or_default();
                    self.diags.push(
                        Diagnostic::error(
                            Code::PolicyType,
                            format!("unknown `noassertion` rule `{other}`"),
                        )
                        .hint("use \"allow\", \"deny\" or \"warn\"")
                        .at(loc),
                    );
                    None
                }
                None => {
                    self.error(
                        Code::PolicyType,
                        span.clone(),
                        "licence lists need an explicit rule for components without a licence",
                        "add `noassertion = \"deny\"` (or \"allow\", \"warn\") for NOASSERTION, NONE and missing licences",
                    );
                    None
                }
            };
            let (allow, deny) = (allow.unwrap_or_default(), deny.unwrap_or_default());
            let at = allow
                .first()
                .or(deny.first())
                .map(|a| a.loc.to_string())
                .unwrap_or_default();
            rule.and_then(|r| {
                match LicensePolicy::new(
                    allow.into_iter().map(|a| a.value).collect(),
                    deny.into_iter().map(|a| a.value).collect(),
                    r,
                ) {
                    Ok(lp) => Some(lp),
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::error(Code::PolicyBadPattern, e.to_string())
                                .hint("use SPDX licence ids such as \"MIT\" or \"GPL-2.0-only WITH Classpath-exception-2.0\"")
                                .at(at),
                        );
                        None
                    }
                }
            })
        } else {
            if let Some(n) = noassertion {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyContradiction,
                        "`noassertion` without `allow-licenses` or `deny-licenses` has no effect",
                    )
                    .hint("add a licence list, or remove `noassertion`")
                    .at(n.loc.to_string()),
                );
            }
            None
        };
        Some(SbomRules {
            require,
            signed,
            max_age,
            deny_components,
            licenses,
            unidentified,
            loc: self.loc(span),
        })
    }

    pub(super) fn deny_component(
        &mut self,
        t: &DeTable,
        span: Range<usize>,
    ) -> Option<DenyComponent> {
        self.check_keys(
            t,
            &["purl", "name", "versions", "reason"],
            "deny-components",
        );
        let loc = self.loc(span.clone());
        let purl = self.string(t, "purl").map(|p| p.value);
        let name = self.string(t, "name").map(|p| p.value);
        let reason = self
            .string(t, "reason")
            .map(|r| r.value)
            .filter(|r| !r.trim().is_empty());
        if purl.is_none() && name.is_none() {
            self.error(
                Code::PolicyType,
                span.clone(),
                "a denied component has neither `purl` nor `name`",
                "name it: `purl = \"pkg:npm/event-stream\"` or `name = \"event-stream\"`",
            );
        }
        match purl.as_deref().map(|p| (p, p.parse::<packageurl::PackageUrl>())) {
            Some((p, Err(_))) => self.error(
                Code::PolicyBadPattern,
                span.clone(),
                format!("`{p}` is not a valid purl"),
                "write it like pkg:npm/event-stream or pkg:pypi/requests, without a version",
            ),
            // The rule matches packages; a version in the purl would be
            // silently ignored, denying every version.
            Some((p, Ok(parsed))) if parsed.version().is_some() => self.error(
                Code::PolicyBadPattern,
                span.clone(),
                format!("`{p}` names a version; a denied component's purl names the package only"),
                "drop the version from the purl and give the range in `versions`: `purl = \"pkg:npm/event-stream\", versions = \"=3.3.6\"`",
            ),
            _ => {}
        }
        if reason.is_none() {
            self.error(
                Code::PolicyMissingReason,
                span.clone(),
                "a denied component has no `reason`",
                "say why it is denied: `reason = \"compromised release\"`",
            );
        }
        let scheme = purl
            .as_deref()
            .and_then(|p| p.parse::<packageurl::PackageUrl>().ok())
            .and_then(|p| Scheme::of(p.ty()));
        let versions = self
            .string(t, "versions")
            .and_then(|v| match VersionRange::parse(&v.value) {
                Ok(r) => {
                    if let Some(why) = r.lint(scheme) {
                        self.diags.push(
                            Diagnostic::warning(Code::PolicyContradiction, why)
                                .hint("a bare version is that version only; write a range such as \">=1.0, <1.4\" or \"<1.0 || >=3.3.6, <3.3.7\"")
                                .at(v.loc.to_string()),
                        );
                    }
                    Some(r)
                }
                Err(e) => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::PolicyBadPattern,
                            format!("invalid version range `{}`: {e}", v.value),
                        )
                        .hint("write a version (\"3.3.6\", that version only) or a range such as \">=1.0, <1.4\"")
                        .at(v.loc.to_string()),
                    );
                    None
                }
            });
        Some(DenyComponent {
            purl,
            name,
            versions,
            reason: reason?,
            loc,
        })
    }
}

/// `90d`, `12h`, `30m`, `2w`, `45s` → seconds.
pub(super) fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}
