//! Policy file parsing: TOML with spans kept for every key and value, so
//! that each problem points at file:line:column. Every table rejects
//! unknown keys, and all problems are collected, not just the first.
//!
//! One file per section: [`servers`] (`[[servers]]` and its tables),
//! [`sbom`], [`advisories`], [`run`], [`provenance`], [`exceptions`] and
//! [`sources`];
//! this file holds the parser's helpers, the root table and the checks
//! across sections.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{At, Layer, Loc, Mode, Policy, Requirement, Rules};
use crate::diag::{Code, Diagnostic};
use crate::trust::{TrustStore, compile_glob, compile_path_glob};

mod advisories;
mod exceptions;
mod provenance;
mod run;
mod sbom;
mod servers;
mod sources;

struct Parser<'a> {
    text: &'a str,
    file: &'a Path,
    trust: &'a TrustStore,
    diags: Vec<Diagnostic>,
}

type Entry<'i> = (
    &'i Spanned<std::borrow::Cow<'i, str>>,
    &'i Spanned<DeValue<'i>>,
);

pub fn parse(
    text: &str,
    file: &Path,
    layer: Layer,
    trust: &TrustStore,
) -> (Option<Policy>, Vec<Diagnostic>) {
    let mut p = Parser {
        text,
        file,
        trust,
        diags: Vec::new(),
    };
    let root = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            p.error(
                Code::PolicySyntax,
                span,
                e.message().trim().to_string(),
                "fix the TOML syntax at this position",
            );
            return (None, p.diags);
        }
    };
    let policy = p.policy(root.get_ref(), root.span(), layer);
    // Report in file order, whatever order the checks ran in.
    p.diags.sort_by_key(line_col);
    (policy, p.diags)
}

impl<'a> Parser<'a> {
    fn loc(&self, span: Range<usize>) -> Loc {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        Loc {
            file: self.file.to_path_buf(),
            line,
            column,
        }
    }

    fn error(
        &mut self,
        code: Code,
        span: Range<usize>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let loc = self.loc(span);
        self.diags
            .push(Diagnostic::error(code, msg).hint(hint).at(loc.to_string()));
    }

    /// Reports unknown and reserved keys of `table`.
    fn check_keys(&mut self, table: &DeTable, allowed: &[&str], what: &str) {
        for (k, _) in table.iter() {
            let key: &str = k.get_ref();
            if allowed.contains(&key) {
                continue;
            }
            self.error(
                Code::PolicyUnknownKey,
                k.span(),
                format!("unknown key `{key}` in {what}"),
                format!("the keys allowed here are: {}", allowed.join(", ")),
            );
        }
    }

    fn get<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<Entry<'t>> {
        table.iter().find(|(k, _)| k.get_ref() == key)
    }

    fn type_error(&mut self, v: &Spanned<DeValue>, key: &str, want: &str) {
        self.error(
            Code::PolicyType,
            v.span(),
            format!("`{key}` must be {want}, not {}", v.get_ref().type_str()),
            format!("write `{key}` as {want}"),
        );
    }

    /// A duration (`90d`, `12h`), as written and in seconds.
    fn duration(&mut self, table: &DeTable, key: &str) -> Option<At<(String, u64)>> {
        let s = self.string(table, key)?;
        match sbom::parse_duration(&s.value) {
            Some(secs) => {
                let text = s.value.clone();
                Some(s.map((text, secs)))
            }
            None => {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyBadPattern,
                        format!("invalid duration `{}`", s.value),
                    )
                    .hint("write a number and a unit: \"7d\", \"12h\", \"2w\"")
                    .at(s.loc.to_string()),
                );
                None
            }
        }
    }

    /// One of a few words (`deny`, `warn`, ...): what it stands for.
    fn choice<T: Copy>(
        &mut self,
        table: &DeTable,
        key: &str,
        words: &[(&str, T)],
        hint: &str,
    ) -> Option<At<T>> {
        let s = self.string(table, key)?;
        match words.iter().find(|(w, _)| *w == s.value) {
            Some((_, v)) => Some(s.map(*v)),
            None => {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyType,
                        format!("unknown `{key}` rule `{}`", s.value),
                    )
                    .hint(hint)
                    .at(s.loc.to_string()),
                );
                None
            }
        }
    }

    fn string(&mut self, table: &DeTable, key: &str) -> Option<At<String>> {
        let (_, v) = Self::get(table, key)?;
        match v.get_ref().as_str() {
            Some(s) => Some(At {
                value: s.to_string(),
                loc: self.loc(v.span()),
            }),
            None => {
                self.type_error(v, key, "a string");
                None
            }
        }
    }

    fn strings(&mut self, table: &DeTable, key: &str) -> Option<(At<()>, Vec<At<String>>)> {
        let (_, v) = Self::get(table, key)?;
        let Some(arr) = v.get_ref().as_array() else {
            self.type_error(v, key, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in arr {
            match item.get_ref().as_str() {
                Some(s) => out.push(At {
                    value: s.to_string(),
                    loc: self.loc(item.span()),
                }),
                None => self.type_error(item, key, "an array of strings"),
            }
        }
        Some((
            At {
                value: (),
                loc: self.loc(v.span()),
            },
            out,
        ))
    }

    fn policy(&mut self, root: &DeTable, root_span: Range<usize>, layer: Layer) -> Option<Policy> {
        self.check_keys(
            root,
            &[
                "version",
                "mode",
                "defaults",
                "servers",
                "exceptions",
                "advisories",
                "audit",
                "sources",
            ],
            "the top level",
        );
        match Self::get(root, "version") {
            None => self.error(
                Code::PolicyVersion,
                root_span.start..root_span.start,
                "the policy has no `version`",
                "start the file with `version = 1`",
            ),
            Some((_, v)) => match v.get_ref().as_integer().map(|i| i.as_str()) {
                Some("1") => {}
                _ => self.error(
                    Code::PolicyVersion,
                    v.span(),
                    "this version of mcp-warden reads policy `version = 1` only",
                    "set `version = 1`, or upgrade mcp-warden for newer policy files",
                ),
            },
        }
        let mode = match self.string(root, "mode") {
            None => At {
                value: Mode::Enforce,
                loc: self.loc(0..0),
            },
            Some(m) => match m.value.as_str() {
                "enforce" => At {
                    value: Mode::Enforce,
                    loc: m.loc,
                },
                "audit" => At {
                    value: Mode::Audit,
                    loc: m.loc,
                },
                other => {
                    let loc = m.loc.clone();
                    self.diags.push(
                        Diagnostic::error(Code::PolicyType, format!("unknown mode `{other}`"))
                            .hint("use \"enforce\" (deny) or \"audit\" (allow, report what would be denied)")
                            .at(loc.to_string()),
                    );
                    m.map(Mode::Enforce)
                }
            },
        };
        let mut defaults_run = None;
        let defaults = match Self::get(root, "defaults") {
            None => Rules::default(),
            Some((_, v)) => match v.get_ref().as_table() {
                Some(t) => {
                    self.check_keys(t, &["require", "signers", "run"], "[defaults]");
                    defaults_run = match Self::get(t, "run") {
                        None => None,
                        Some((_, rv)) => match rv.get_ref().as_table() {
                            Some(rt) => Some(self.run_rules(rt, true)),
                            None => {
                                self.type_error(rv, "run", "a table");
                                None
                            }
                        },
                    };
                    self.rules(t)
                }
                None => {
                    self.type_error(v, "defaults", "a table");
                    Rules::default()
                }
            },
        };
        let servers = self.array_of_tables(root, "servers", |p, t, span| p.server(t, span));
        let exceptions =
            self.array_of_tables(root, "exceptions", |p, t, span| p.exception(t, span));
        let advisories = match Self::get(root, "advisories") {
            None => None,
            Some((_, v)) => match v.get_ref().as_table() {
                Some(t) => self.advisory_rules(t, v.span()),
                None => {
                    self.type_error(v, "advisories", "a table");
                    None
                }
            },
        };
        let sources = match Self::get(root, "sources") {
            None => sources::Sources::default(),
            Some((_, v)) => match v.get_ref().as_table() {
                Some(t) => self.sources(t),
                None => {
                    self.type_error(v, "sources", "a table");
                    sources::Sources::default()
                }
            },
        };
        let mut anchor = None;
        let otlp = match Self::get(root, "audit") {
            None => None,
            Some((_, v)) => match v.get_ref().as_table() {
                Some(t) => {
                    self.check_keys(t, &["otlp", "anchor"], "[audit]");
                    anchor = self.string(t, "anchor").and_then(|a| match a.value.as_str() {
                        "keychain" => Some(a.map(true)),
                        "off" => Some(a.map(false)),
                        _ => {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::PolicyType,
                                    format!("`anchor` must be \"keychain\" or \"off\", not `{}`", a.value),
                                )
                                .hint("\"keychain\" (the default) anchors the audit log with a key in the OS keychain; \"off\" runs without")
                                .at(a.loc.to_string()),
                            );
                            None
                        }
                    });
                    self.string(t, "otlp").and_then(|u| {
                        if reqwest::Url::parse(&u.value).is_ok_and(|url| matches!(url.scheme(), "http" | "https")) {
                            Some(u)
                        } else {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::PolicyType,
                                    format!("`otlp` must be an http or https URL, not `{}`", u.value),
                                )
                                .hint("write the collector's OTLP/HTTP base URL, e.g. \"http://127.0.0.1:4318\"")
                                .at(u.loc.to_string()),
                            );
                            None
                        }
                    })
                }
                None => {
                    self.type_error(v, "audit", "a table");
                    None
                }
            },
        };
        let policy = Policy {
            otlp,
            anchor,
            allow_unsigned: sources.allow_unsigned,
            install_scripts: sources.install_scripts,
            registry_signatures: sources.registry_signatures,
            provenance: sources.provenance,
            advisories,
            file: self.file.to_path_buf(),
            layer,
            mode,
            defaults,
            defaults_run,
            servers,
            exceptions,
        };
        self.cross_checks(&policy);
        Some(policy)
    }

    fn array_of_tables<T>(
        &mut self,
        root: &DeTable,
        key: &str,
        mut f: impl FnMut(&mut Self, &DeTable, Range<usize>) -> Option<T>,
    ) -> Vec<T> {
        let Some((_, v)) = Self::get(root, key) else {
            return Vec::new();
        };
        let Some(arr) = v.get_ref().as_array() else {
            self.type_error(v, key, &format!("an array of tables (`[[{key}]]`)"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in arr {
            match item.get_ref().as_table() {
                Some(t) => out.extend(f(self, t, item.span())),
                None => self.type_error(item, key, &format!("an array of tables (`[[{key}]]`)")),
            }
        }
        out
    }

    fn rules(&mut self, t: &DeTable) -> Rules {
        let require = self.strings(t, "require").map(|(at, items)| {
            let mut reqs = Vec::new();
            for it in items {
                match Requirement::parse(&it.value) {
                    Some(r) => reqs.push(r),
                    None => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::PolicyType,
                                format!("unknown requirement `{}`", it.value),
                            )
                            .hint("use \"signature\", \"provenance\" or \"sbom\"")
                            .at(it.loc.to_string()),
                        );
                    }
                }
            }
            reqs.sort();
            reqs.dedup();
            at.map(reqs)
        });
        let signers = self.trust_names(t, "signers");
        Rules { require, signers }
    }

    /// A list of trust-store names (`signers`, `signed-by`), each of which
    /// must be in the trust store.
    pub(super) fn trust_names(&mut self, t: &DeTable, key: &str) -> Option<At<Vec<String>>> {
        self.strings(t, key).map(|(at, items)| {
            for it in &items {
                if self.trust.get(&it.value).is_none() && self.trust.ca(&it.value).is_none() {
                    let known: Vec<&str> = self.trust.names().collect();
                    self.diags.push(
                        Diagnostic::error(Code::PolicyUnknownSigner, format!("signer `{}` is not in the trust store", it.value))
                            .hint(if known.is_empty() {
                                "the trust store is empty: add the signer with `mcp-warden trust add-key` or `trust add-identity`".to_string()
                            } else {
                                format!("trusted names: {}; add others with `mcp-warden trust add-key`", known.join(", "))
                            })
                            .at(it.loc.to_string()),
                    );
                }
            }
            at.map(items.into_iter().map(|i| i.value).collect())
        })
    }

    fn glob_or_report(&mut self, v: &At<String>) -> Option<globset::GlobMatcher> {
        self.compiled_or_report(v, compile_glob(&v.value))
    }

    /// A glob over a git ref or a workflow path, whose `*`
    /// stops at `/` ([`compile_path_glob`]).
    fn path_glob_or_report(&mut self, v: &At<String>) -> Option<globset::GlobMatcher> {
        self.compiled_or_report(v, compile_path_glob(&v.value))
    }

    fn compiled_or_report(
        &mut self,
        v: &At<String>,
        compiled: Result<globset::Glob, String>,
    ) -> Option<globset::GlobMatcher> {
        match compiled {
            Ok(g) => Some(g.compile_matcher()),
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyBadPattern,
                        format!("invalid glob `{}`: {e}", v.value),
                    )
                    .hint("globs use *, ?, [abc] and {a,b}")
                    .at(v.loc.to_string()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, table: &DeTable, key: &str) -> Option<bool> {
        let (_, v) = Self::get(table, key)?;
        match v.get_ref().as_bool() {
            Some(b) => Some(b),
            None => {
                self.type_error(v, key, "true or false");
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    fn count(&mut self, t: &DeTable, key: &str, min: u64, max: u64) -> Option<u64> {
        let (_, v) = Self::get(t, key)?;
        match v
            .get_ref()
            .as_integer()
            .and_then(|i| i.as_str().parse::<u64>().ok())
        {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let want = format!("a whole number from {min} to {max}");
                match v.get_ref().as_integer() {
                    Some(i) => self.error(
                        Code::PolicyType,
                        v.span(),
                        format!("`{key}` must be {want}, not {}", i.as_str()),
                        format!("write `{key}` as {want}"),
                    ),
                    None => self.type_error(v, key, &want),
                }
                None
            }
        }
    }

    /// Rules that are each valid but cannot hold together, duplicates, and
    /// exceptions that match nothing.
    fn cross_checks(&mut self, p: &Policy) {
        for (i, s) in p.servers.iter().enumerate() {
            if p.servers[..i].iter().any(|o| o.name == s.name) {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyDuplicate,
                        format!("server `{}` has a second entry", s.name),
                    )
                    .hint("merge the two entries into one")
                    .at(s.loc.to_string()),
                );
            }
            let require = s.rules.require.as_ref().or(p.defaults.require.as_ref());
            let needs_sig = require.is_none_or(|r| r.value.contains(&Requirement::Signature));
            let signers = s.rules.signers.as_ref().or(p.defaults.signers.as_ref());
            if let Some(sg) = signers
                && sg.value.is_empty()
                && needs_sig
            {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyContradiction,
                        format!("`{}` requires a signature but allows no signer", s.name),
                    )
                    .hint("name the allowed signers, or drop \"signature\" from `require`")
                    .at(sg.loc.to_string()),
                );
            }
            if let (Some(v), Some(src)) = (&s.versions, &s.source)
                && let Some(ver) = &src.version
                && v.value.contains(super::scheme_of(src.kind), ver) == Ok(false)
            {
                self.diags.push(
                    Diagnostic::error(
                        Code::PolicyContradiction,
                        format!(
                            "`{}` pins source version {ver}, which `versions = \"{}\"` excludes",
                            s.name, v.value
                        ),
                    )
                    .hint("make the source's version and `versions` agree")
                    .at(v.loc.to_string()),
                );
            }
        }
        if let Some(sg) = &p.defaults.signers
            && sg.value.is_empty()
            && p.defaults
                .require
                .as_ref()
                .is_none_or(|r| r.value.contains(&Requirement::Signature))
        {
            self.diags.push(
                Diagnostic::error(
                    Code::PolicyContradiction,
                    "[defaults] requires a signature but allows no signer",
                )
                .hint("name the allowed signers, or drop \"signature\" from `require`")
                .at(sg.loc.to_string()),
            );
        }
        // Whether an exception matches anything depends on the pinned
        // servers too, which the file alone does not know: `policy check`
        // reports that (`super::unused_exceptions`).
    }
}

fn line_col(d: &Diagnostic) -> (usize, usize) {
    d.location
        .as_deref()
        .and_then(|l| {
            let mut it = l.rsplitn(3, ':');
            let col = it.next()?.parse().ok()?;
            let line = it.next()?.parse().ok()?;
            Some((line, col))
        })
        .unwrap_or((usize::MAX, 0))
}

impl<T> At<T> {
    fn map<U>(self, value: U) -> At<U> {
        At {
            value,
            loc: self.loc,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `version = 1` and `text`, read as `layer`'s file, which must be
    /// read without a finding.
    pub(crate) fn clean(text: &str, layer: Layer) -> Policy {
        let (p, d) = parse(
            &format!("version = 1\n{text}"),
            Path::new("p.toml"),
            layer,
            &TrustStore::default(),
        );
        assert!(d.is_empty(), "{d:?}");
        p.unwrap()
    }

    pub(super) fn check(text: &str) -> (Option<Policy>, Vec<Diagnostic>) {
        parse(
            text,
            Path::new("p.toml"),
            Layer::User,
            &TrustStore::default(),
        )
    }

    pub(super) fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
        d.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn minimal_policy_is_clean() {
        let (p, d) = check("version = 1\n[defaults]\nrequire = [\"signature\"]\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            p.unwrap().defaults.require.unwrap().value,
            vec![Requirement::Signature]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let text = "version = 1\nmode = \"lenient\"\nfoo = 1\n[defaults]\nrequire = [\"signature\", \"vibes\"]\nsigners = [\"nobody\"]\n[[servers]]\nname = \"a\"\ndigests = [\"sha256:zz\"]\nversions = \"not a req\"\n[servers.run]\nx = 1\nnetwork = \"yes\"\n[[exceptions]]\nservers = [\"[\"]\nwaive = [\"provenance\"]\n";
        let (_, d) = check(text);
        let c = codes(&d);
        for want in [
            "policy-type",
            "policy-unknown-key",
            "policy-unknown-signer",
            "policy-bad-pattern",
            "policy-missing-reason",
        ] {
            assert!(c.contains(&want), "{want} missing from {c:?}");
        }
        let unknown = d.iter().find(|d| d.code == Code::PolicyUnknownKey).unwrap();
        assert_eq!(unknown.location.as_deref(), Some("p.toml:3:1"));
        let mode = d.iter().find(|d| d.message.contains("lenient")).unwrap();
        assert_eq!(mode.location.as_deref(), Some("p.toml:2:8"));
    }

    #[test]
    fn audit_anchor_is_keychain_or_off() {
        for (value, want) in [("keychain", true), ("off", false)] {
            let (p, d) = check(&format!("version = 1\n[audit]\nanchor = \"{value}\"\n"));
            assert!(d.is_empty(), "{d:?}");
            assert_eq!(p.unwrap().anchor.map(|a| a.value), Some(want));
        }
        // Over two layers "keychain" wins; no word at all is "keychain".
        let layer = |v: &str| {
            let text = match v {
                "" => "version = 1\n".to_string(),
                v => format!("version = 1\n[audit]\nanchor = \"{v}\"\n"),
            };
            check(&text).0.unwrap()
        };
        for (a, b, want) in [
            ("off", "keychain", true),
            ("keychain", "off", true),
            ("off", "", false),
            ("", "", true),
        ] {
            let set = crate::policy::PolicySet {
                layers: vec![layer(a), layer(b)],
                warnings: vec![],
            };
            assert_eq!(set.audit_anchor(), want, "{a} {b}");
        }
        assert!(crate::policy::PolicySet::default().audit_anchor());
        let (_, d) = check("version = 1\n[audit]\nanchor = \"maybe\"\n");
        assert!(
            d.iter().any(|d| d.message.contains("`anchor` must be")),
            "{d:?}"
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let (p, d) = check("version = 1\n[defaults\n");
        assert!(p.is_none());
        assert_eq!(codes(&d), vec!["policy-syntax"]);
        assert!(d[0].location.as_deref().unwrap().starts_with("p.toml:2:"));
    }

    #[test]
    fn contradictions_and_duplicates() {
        let (_, d) = check(
            "version = 1\n[[servers]]\nname = \"a\"\nsigners = []\n[[servers]]\nname = \"a\"\n[[servers]]\nname = \"b\"\nsource = \"npm:@x/y@1.4.2\"\nversions = \"<1\"\n",
        );
        let c = codes(&d);
        assert_eq!(
            c.iter().filter(|c| **c == "policy-contradiction").count(),
            2,
            "{c:?}"
        );
        assert!(c.contains(&"policy-duplicate"));
    }

    #[test]
    fn version_is_required_and_must_be_one() {
        assert_eq!(codes(&check("").1), vec!["policy-version"]);
        assert_eq!(codes(&check("version = 2").1), vec!["policy-version"]);
        assert_eq!(codes(&check("version = \"1\"").1), vec!["policy-version"]);
    }
}
