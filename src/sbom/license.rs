//! Licence policy: judges one component's SPDX licence expression against
//! allow and deny lists, with the `spdx` crate.
//!
//! An expression is a choice: `A OR B` is satisfied by either, `A AND B`
//! needs both. A component is denied when every way to satisfy its
//! expression needs a denied licence (so `GPL-3.0-only OR MIT` passes a
//! GPL deny list), and, under an allow list, when no way uses only allowed
//! licences. A `WITH` exception stays with its licence: a list entry
//! `L` matches `L` with or without an exception, an entry
//! `L WITH E` matches only that pair.
//!
//! Expressions are read strictly first; when that fails they are read
//! leniently (`ParseMode::LAX`: `Apache 2.0`-style names, `/` for OR,
//! deprecated ids such as `GPL-2.0+`), and a verdict's reason says so.

use serde::{Deserialize, Serialize};
use spdx::{Expression, LicenseReq, Licensee, ParseMode};

/// Longest expression judged; real ones are a few dozen bytes, and this
/// bounds the parser's work on hostile input.
const MAX_EXPRESSION: usize = 4096;

/// What to do with a component whose licence is missing, `NOASSERTION`,
/// `NONE`, or not an SPDX expression that can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoAssertion {
    Allow,
    Deny,
    /// Reported as [`LicenseVerdict::Unknown`], for the policy to warn.
    Warn,
}

#[derive(Debug, Clone)]
pub struct LicensePolicy {
    allow: Vec<String>,
    deny: Vec<String>,
    noassertion: NoAssertion,
    allow_ids: Vec<Licensee>,
    deny_ids: Vec<Licensee>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{entry}` in the licence {list} list is not an SPDX licence id (optionally `WITH` an exception): {reason}"
)]
pub struct LicensePolicyError {
    pub list: &'static str,
    pub entry: String,
    pub reason: String,
}

impl LicensePolicy {
    /// An empty `allow` list allows every licence not denied. Entries are
    /// single SPDX ids or `LicenseRef-`s, optionally `WITH` an exception.
    pub fn new(
        allow: Vec<String>,
        deny: Vec<String>,
        noassertion: NoAssertion,
    ) -> Result<Self, LicensePolicyError> {
        let parse = |list: &'static str, entries: &[String]| {
            entries
                .iter()
                .map(|e| {
                    let e = e.trim();
                    Licensee::parse(e)
                        .or_else(|strict| {
                            Licensee::parse_mode(e, ParseMode::LAX).map_err(|_| strict)
                        })
                        .map_err(|err| LicensePolicyError {
                            list,
                            entry: e.to_string(),
                            reason: err.reason.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(LicensePolicy {
            allow_ids: parse("allow", &allow)?,
            deny_ids: parse("deny", &deny)?,
            allow,
            deny,
            noassertion,
        })
    }

    pub fn allow(&self) -> &[String] {
        &self.allow
    }

    pub fn deny(&self) -> &[String] {
        &self.deny
    }

    pub fn noassertion(&self) -> NoAssertion {
        self.noassertion
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum LicenseVerdict {
    Allowed,
    Denied {
        reason: String,
    },
    /// The licence could not be judged (invalid expression), or is not
    /// asserted and the policy says `warn`.
    Unknown {
        reason: String,
    },
}

/// A list entry matches a requirement: same licence (the `spdx` crate's
/// `Licensee::satisfies`, which also honours `+` / or-later), and, when the
/// entry names an exception, the same exception.
fn matches(entry: &Licensee, req: &LicenseReq) -> bool {
    if entry.as_ref().addition.is_some() {
        entry.satisfies(req)
    } else {
        entry.satisfies(&LicenseReq {
            license: req.license.clone(),
            addition: None,
        })
    }
}

/// Judges `expr` (a component's [`super::Component::licenses`]).
pub fn evaluate(expr: Option<&str>, policy: &LicensePolicy) -> LicenseVerdict {
    let Some(text) = expr.map(str::trim).filter(|s| !s.is_empty()) else {
        return no_assertion(policy, "no licence is given".to_string());
    };
    if text.eq_ignore_ascii_case("NOASSERTION") {
        return no_assertion(policy, "the licence is NOASSERTION".to_string());
    }
    if text.eq_ignore_ascii_case("NONE") {
        return no_assertion(
            policy,
            "the SBOM says the component has no licence (NONE)".to_string(),
        );
    }
    // A licence that cannot be read says no more than NOASSERTION: the
    // same explicit rule decides, so `deny` fails closed on it.
    if text.len() > MAX_EXPRESSION {
        return no_assertion(
            policy,
            format!("the licence expression is over {MAX_EXPRESSION} bytes"),
        );
    }
    let (parsed, read) = match Expression::parse(text) {
        Ok(e) => (e, String::new()),
        Err(strict) => match Expression::parse_mode(text, ParseMode::LAX) {
            Ok(e) => {
                let canonical = Expression::canonicalize(text).ok().flatten();
                let read = match canonical {
                    Some(c) => format!(" (read leniently as `{c}`)"),
                    None => " (read leniently)".to_string(),
                };
                (e, read)
            }
            Err(_) => {
                return no_assertion(
                    policy,
                    format!(
                        "`{text}` is not a valid SPDX licence expression ({})",
                        strict.reason
                    ),
                );
            }
        },
    };

    // NOASSERTION or NONE inside a larger expression: judge it both ways;
    // when the verdict hangs on that part, the noassertion rule decides.
    if parsed.requirements().any(|r| is_unasserted(&r.req)) {
        let optimistic = judge(&parsed, text, &read, policy, true);
        let pessimistic = judge(&parsed, text, &read, policy, false);
        if optimistic == pessimistic {
            return optimistic;
        }
        return match policy.noassertion {
            NoAssertion::Allow => optimistic,
            NoAssertion::Deny => pessimistic,
            NoAssertion::Warn => LicenseVerdict::Unknown {
                reason: format!("whether `{text}` is allowed depends on its unasserted part"),
            },
        };
    }
    judge(&parsed, text, &read, policy, false)
}

/// NOASSERTION and NONE are on the SPDX licence list, so the parser
/// accepts them as licences.
fn is_unasserted(req: &LicenseReq) -> bool {
    req.license
        .id()
        .is_some_and(|id| id.name == "NOASSERTION" || id.name == "NONE")
}

/// The allow and deny rules over a parsed expression; `unasserted_ok`
/// says whether NOASSERTION / NONE parts count as allowed.
fn judge(
    parsed: &Expression,
    text: &str,
    read: &str,
    policy: &LicensePolicy,
    unasserted_ok: bool,
) -> LicenseVerdict {
    let denied = |r: &LicenseReq| {
        if is_unasserted(r) {
            !unasserted_ok
        } else {
            policy.deny_ids.iter().any(|d| matches(d, r))
        }
    };
    if !parsed.evaluate(|r| !denied(r)) {
        let culprits = names(parsed, denied);
        return LicenseVerdict::Denied {
            reason: format!(
                "every way to satisfy `{text}`{read} needs a denied licence ({culprits})"
            ),
        };
    }
    if !policy.allow_ids.is_empty() {
        let allowed = |r: &LicenseReq| {
            if is_unasserted(r) {
                unasserted_ok
            } else {
                policy.allow_ids.iter().any(|a| matches(a, r))
            }
        };
        if !parsed.evaluate(|r| allowed(r) && !denied(r)) {
            let outside = names(parsed, |r| !allowed(r));
            return LicenseVerdict::Denied {
                reason: format!(
                    "no way to satisfy `{text}`{read} uses only allowed licences (not allowed: {outside})"
                ),
            };
        }
    }
    LicenseVerdict::Allowed
}

/// The distinct requirements of `expr` that `pick` selects, for a reason.
fn names(expr: &Expression, pick: impl Fn(&LicenseReq) -> bool) -> String {
    let mut out: Vec<String> = Vec::new();
    for r in expr.requirements() {
        let name = r.req.to_string();
        if pick(&r.req) && !out.contains(&name) {
            out.push(name);
        }
    }
    out.join(", ")
}

fn no_assertion(policy: &LicensePolicy, why: String) -> LicenseVerdict {
    match policy.noassertion {
        NoAssertion::Allow => LicenseVerdict::Allowed,
        NoAssertion::Deny => LicenseVerdict::Denied {
            reason: format!(
                "{why}, and the policy denies components without a licence it can judge (`noassertion = \"deny\"`)"
            ),
        },
        NoAssertion::Warn => LicenseVerdict::Unknown { reason: why },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str], na: NoAssertion) -> LicensePolicy {
        LicensePolicy::new(
            allow.iter().map(|s| s.to_string()).collect(),
            deny.iter().map(|s| s.to_string()).collect(),
            na,
        )
        .unwrap()
    }

    fn verdict(expr: &str, p: &LicensePolicy) -> LicenseVerdict {
        evaluate(Some(expr), p)
    }

    fn is_allowed(expr: &str, p: &LicensePolicy) -> bool {
        verdict(expr, p) == LicenseVerdict::Allowed
    }

    fn is_denied(expr: &str, p: &LicensePolicy) -> bool {
        matches!(verdict(expr, p), LicenseVerdict::Denied { .. })
    }

    #[test]
    fn deny_list_with_or_and_and() {
        let p = policy(&[], &["GPL-3.0-only", "AGPL-3.0-only"], NoAssertion::Warn);
        assert!(is_allowed("MIT", &p));
        assert!(is_denied("GPL-3.0-only", &p));
        // One alternative avoids the denied licence: passes.
        assert!(is_allowed("GPL-3.0-only OR MIT", &p));
        assert!(is_allowed("MIT OR GPL-3.0-only", &p));
        // Every alternative needs it: denied, and the reason names it.
        assert!(is_denied("MIT AND GPL-3.0-only", &p));
        assert!(is_denied("GPL-3.0-only OR AGPL-3.0-only", &p));
        let LicenseVerdict::Denied { reason } = verdict(
            "(MIT OR Apache-2.0) AND (GPL-3.0-only OR AGPL-3.0-only)",
            &p,
        ) else {
            panic!()
        };
        assert!(reason.contains("GPL-3.0-only, AGPL-3.0-only"), "{reason}");
        assert!(is_allowed(
            "(MIT OR GPL-3.0-only) AND (Apache-2.0 OR AGPL-3.0-only)",
            &p
        ));
        assert!(is_denied(
            "(MIT AND GPL-3.0-only) OR (Apache-2.0 AND AGPL-3.0-only)",
            &p
        ));
    }

    #[test]
    fn allow_list_needs_one_fully_allowed_alternative() {
        let p = policy(
            &["MIT", "Apache-2.0", "BSD-3-Clause"],
            &[],
            NoAssertion::Warn,
        );
        assert!(is_allowed("MIT", &p));
        assert!(is_allowed("MIT AND Apache-2.0", &p));
        assert!(is_allowed("GPL-2.0-only OR MIT", &p));
        assert!(is_allowed(
            "(GPL-2.0-only OR MIT) AND (BSD-3-Clause OR LGPL-2.1-only)",
            &p
        ));
        assert!(is_denied("MIT AND GPL-2.0-only", &p));
        assert!(is_denied("MPL-2.0", &p));
        assert!(is_denied("LicenseRef-custom", &p));
        let LicenseVerdict::Denied { reason } = verdict("MIT AND ISC", &p) else {
            panic!()
        };
        assert!(reason.contains("not allowed: ISC"), "{reason}");
    }

    #[test]
    fn deny_wins_over_allow() {
        let p = policy(
            &["MIT", "GPL-3.0-only"],
            &["GPL-3.0-only"],
            NoAssertion::Warn,
        );
        assert!(is_denied("GPL-3.0-only", &p));
        assert!(is_allowed("GPL-3.0-only OR MIT", &p));
    }

    #[test]
    fn with_exceptions_stay_with_their_licence() {
        // A bare deny entry covers the licence with any exception.
        let p = policy(&[], &["GPL-2.0-only"], NoAssertion::Warn);
        assert!(is_denied("GPL-2.0-only WITH Classpath-exception-2.0", &p));
        // An entry with an exception covers only that pair.
        let p = policy(
            &[],
            &["GPL-2.0-only WITH Classpath-exception-2.0"],
            NoAssertion::Warn,
        );
        assert!(is_denied("GPL-2.0-only WITH Classpath-exception-2.0", &p));
        assert!(is_allowed("GPL-2.0-only", &p));
        assert!(is_allowed("GPL-2.0-only WITH GCC-exception-2.0", &p));
        // Allow list: the pair must be allowed as a pair, or the bare licence.
        let p = policy(
            &["MIT", "GPL-2.0-only WITH Classpath-exception-2.0"],
            &[],
            NoAssertion::Warn,
        );
        assert!(is_allowed("GPL-2.0-only WITH Classpath-exception-2.0", &p));
        assert!(is_denied("GPL-2.0-only", &p));
        assert!(is_denied("GPL-2.0-only WITH GCC-exception-2.0", &p));
        let p = policy(&["Apache-2.0"], &[], NoAssertion::Warn);
        assert!(is_allowed("Apache-2.0 WITH LLVM-exception", &p));
    }

    #[test]
    fn noassertion_none_and_missing_follow_the_rule() {
        for (na, want) in [
            (NoAssertion::Allow, "allowed"),
            (NoAssertion::Deny, "denied"),
            (NoAssertion::Warn, "unknown"),
        ] {
            let p = policy(&["MIT"], &[], na);
            for expr in [
                None,
                Some(""),
                Some("NOASSERTION"),
                Some("NONE"),
                Some(" noassertion "),
            ] {
                let got = match evaluate(expr, &p) {
                    LicenseVerdict::Allowed => "allowed",
                    LicenseVerdict::Denied { .. } => "denied",
                    LicenseVerdict::Unknown { .. } => "unknown",
                };
                assert_eq!(got, want, "{expr:?} under {na:?}");
            }
        }
    }

    #[test]
    fn noassertion_inside_an_expression() {
        let deny = |na| policy(&[], &["GPL-3.0-only"], na);
        // The verdict does not hang on the unasserted part: it stands.
        assert!(is_denied(
            "GPL-3.0-only AND NOASSERTION",
            &deny(NoAssertion::Allow)
        ));
        assert!(is_allowed("MIT OR NOASSERTION", &deny(NoAssertion::Deny)));
        // It does: the rule decides.
        assert!(is_allowed("MIT AND NOASSERTION", &deny(NoAssertion::Allow)));
        assert!(is_denied("MIT AND NOASSERTION", &deny(NoAssertion::Deny)));
        assert!(matches!(
            verdict("MIT AND NOASSERTION", &deny(NoAssertion::Warn)),
            LicenseVerdict::Unknown { .. }
        ));
        let allow = policy(&["MIT"], &[], NoAssertion::Warn);
        assert!(is_allowed("MIT OR NOASSERTION", &allow));
        assert!(matches!(
            verdict("GPL-3.0-only OR NOASSERTION", &allow),
            LicenseVerdict::Unknown { .. }
        ));
        // NONE is not on the crate's licence list: only a whole NONE is read.
        assert!(matches!(
            verdict("MIT OR NONE", &allow),
            LicenseVerdict::Unknown { .. }
        ));
    }

    #[test]
    fn invalid_expressions_follow_the_noassertion_rule() {
        let bad = [
            "MIT AND",
            "(MIT",
            "License :: OSI Approved :: MIT License",
            "Not-A-Licence-1.0",
            &format!("{}MIT{}", "(".repeat(10_000), ")".repeat(10_000)),
        ];
        let warn = policy(&[], &["GPL-3.0-only"], NoAssertion::Warn);
        let deny = policy(&["MIT"], &[], NoAssertion::Deny);
        let allow = policy(&[], &["GPL-3.0-only"], NoAssertion::Allow);
        for bad in bad {
            let v = verdict(bad, &warn);
            let LicenseVerdict::Unknown { reason } = &v else {
                panic!("{bad}: {v:?}")
            };
            assert!(
                reason.contains("not a valid SPDX licence expression") || reason.contains("bytes"),
                "{reason}"
            );
            assert!(!reason.contains('\n'), "one line: {reason}");
            let v = verdict(bad, &deny);
            let LicenseVerdict::Denied { reason } = &v else {
                panic!("{bad}: {v:?}")
            };
            assert!(reason.contains("noassertion"), "{reason}");
            assert_eq!(verdict(bad, &allow), LicenseVerdict::Allowed, "{bad}");
        }
        let p = allow;
        let deep = format!("{}MIT{}", "(".repeat(1_000), ")".repeat(1_000));
        assert_eq!(verdict(&deep, &p), LicenseVerdict::Allowed);
    }

    #[test]
    fn lax_reading_is_used_and_said() {
        let p = policy(
            &[],
            &["GPL-2.0-or-later", "GPL-2.0-only"],
            NoAssertion::Warn,
        );
        // Deprecated `GPL-2.0+` and lower-case operators need the lax mode.
        let v = verdict("GPL-2.0+ or MIT", &p);
        assert_eq!(v, LicenseVerdict::Allowed);
        let LicenseVerdict::Denied { reason } = verdict("GPL-2.0+", &p) else {
            panic!("{:?}", verdict("GPL-2.0+", &p))
        };
        assert!(reason.contains("read leniently"), "{reason}");
        let p = policy(&["Apache-2.0", "MIT"], &[], NoAssertion::Warn);
        assert_eq!(verdict("MIT/Apache-2.0", &p), LicenseVerdict::Allowed);
    }

    #[test]
    fn bad_policy_entries_are_refused() {
        let err = LicensePolicy::new(vec!["MIT OR Apache-2.0".into()], vec![], NoAssertion::Warn)
            .unwrap_err();
        assert_eq!(err.list, "allow");
        let err =
            LicensePolicy::new(vec![], vec!["Nope-1.0".into()], NoAssertion::Warn).unwrap_err();
        assert_eq!(err.entry, "Nope-1.0");
        assert!(
            LicensePolicy::new(vec!["LicenseRef-mine".into()], vec![], NoAssertion::Deny).is_ok()
        );
    }
}
