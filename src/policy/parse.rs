//! Policy file parsing: TOML with spans kept for every key and value, so
//! that each problem points at file:line:column. Every table rejects
//! unknown keys, and all problems are collected, not just the first.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{
    AdvisoryRules, At, DenyComponent, EnvRule, Exception, IdentityClaims, Layer, Loc, Mode, Policy,
    ProvenanceRules, Requirement, Rules, RunRules, SandboxMode, SbomRules, ServerRule,
};
use crate::diag::{Code, Diagnostic};
use crate::digest::Digest;
use crate::sbom::advisories::{Ignore, Severity};
use crate::sbom::license::{LicensePolicy, NoAssertion};
use crate::trust::{Scopes, TrustStore, compile_glob};

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
        let defaults = match Self::get(root, "defaults") {
            None => Rules::default(),
            Some((_, v)) => match v.get_ref().as_table() {
                Some(t) => {
                    self.check_keys(t, &["require", "signers"], "[defaults]");
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
            advisories,
            file: self.file.to_path_buf(),
            layer,
            mode,
            defaults,
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
        let signers = self.strings(t, "signers").map(|(at, items)| {
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
        });
        Rules { require, signers }
    }

    fn server(&mut self, t: &DeTable, span: Range<usize>) -> Option<ServerRule> {
        self.check_keys(
            t,
            &[
                "name",
                "source",
                "require",
                "signers",
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
                .hint("give each server its own `[[servers]]` entry with its exact name; globs go in an exception's `servers`")
                .at(name.loc.to_string()),
            );
        } else if !crate::lock::valid_server_name(&name.value) {
            self.diags.push(
                Diagnostic::error(
                    Code::PolicyType,
                    format!(
                        "`{}` is not a usable server name",
                        name.value.escape_debug()
                    ),
                )
                .hint(crate::lock::SERVER_NAME_RULE)
                .at(name.loc.to_string()),
            );
        }
        let source = self.string(t, "source").map(|s| s.value);
        let rules = self.rules(t);
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
        let versions =
            self.string(t, "versions")
                .and_then(|v| match semver::VersionReq::parse(&v.value) {
                    Ok(req) => Some(At {
                        value: req,
                        loc: v.loc,
                    }),
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::PolicyBadPattern,
                                format!("invalid version requirement `{}`: {e}", v.value),
                            )
                            .hint("write a semver requirement such as \"=1.4.2\" or \">=1.4, <2\"")
                            .at(v.loc.to_string()),
                        );
                        None
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
                Some(rt) => Some(self.run_rules(rt)),
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
            digests,
            versions,
            identity,
        })
    }

    fn glob_or_report(&mut self, v: &At<String>) -> Option<globset::GlobMatcher> {
        match compile_glob(&v.value) {
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

    fn sbom_rules(&mut self, t: &DeTable, span: Range<usize>) -> Option<SbomRules> {
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
            ],
            "[servers.sbom]",
        );
        let require = self.boolean(t, "require").unwrap_or(false);
        let signed = self.boolean(t, "signed").unwrap_or(true);
        let max_age = self
            .string(t, "max-age")
            .and_then(|m| match parse_duration(&m.value) {
                Some(secs) => Some((m.value, secs)),
                None => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::PolicyBadPattern,
                            format!("invalid duration `{}`", m.value),
                        )
                        .hint("write a number and a unit: \"90d\", \"12h\", \"2w\"")
                        .at(m.loc.to_string()),
                    );
                    None
                }
            });
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
            loc: self.loc(span),
        })
    }

    fn deny_component(&mut self, t: &DeTable, span: Range<usize>) -> Option<DenyComponent> {
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
        let versions =
            self.string(t, "versions")
                .and_then(|v| match semver::VersionReq::parse(&v.value) {
                    Ok(r) => Some((v.value, r)),
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::PolicyBadPattern,
                                format!("invalid version range `{}`: {e}", v.value),
                            )
                            .hint("write a range such as \"=3.3.6\" or \">=1.0, <1.4\"")
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

    fn advisory_rules(&mut self, t: &DeTable, span: Range<usize>) -> Option<AdvisoryRules> {
        self.check_keys(t, &["db", "severity", "ignore"], "[advisories]");
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
        Some(AdvisoryRules {
            db,
            severity,
            ignore,
            loc: self.loc(span),
        })
    }

    fn run_rules(&mut self, t: &DeTable) -> RunRules {
        self.check_keys(t, RUN_KEYS, "[servers.run]");
        let mut rules = RunRules::default();
        if let Some((_, v)) = Self::get(t, "env") {
            match v.get_ref().as_table() {
                Some(et) => {
                    for (k, val) in et.iter() {
                        let name = k.get_ref().to_string();
                        let loc = self.loc(k.span());
                        if !crate::launch::env::valid_name(&name) {
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
        rules.guard = self.boolean(t, "guard");
        rules.network = self.boolean(t, "network");
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

    /// A rate such as "20/s", "300/min" or "1000/h", in calls per second.
    fn rate(&mut self, t: &DeTable, key: &str) -> Option<f64> {
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

    fn tools_rules(&mut self, t: &DeTable) -> Option<At<String>> {
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

    fn provenance_rules(&mut self, t: &DeTable, span: Range<usize>) -> Option<ProvenanceRules> {
        self.check_keys(
            t,
            &["builder-id", "source-repo", "source-ref", "build-type"],
            "[servers.provenance]",
        );
        // A single string or a list, for builder-id and build-type.
        let list = |p: &mut Self, key: &str| -> Vec<At<String>> {
            match Self::get(t, key) {
                Some((_, v)) if v.get_ref().as_str().is_some() => {
                    p.string(t, key).into_iter().collect()
                }
                Some(_) => p
                    .strings(t, key)
                    .map(|(_, items)| items)
                    .unwrap_or_default(),
                None => Vec::new(),
            }
        };
        let builder_id: Vec<(String, globset::GlobMatcher)> = list(self, "builder-id")
            .into_iter()
            .filter_map(|b| self.glob_or_report(&b).map(|g| (b.value, g)))
            .collect();
        let build_type = list(self, "build-type")
            .into_iter()
            .map(|b| b.value)
            .collect();
        let source_repo = self.string(t, "source-repo").map(|r| r.value);
        let source_ref = self
            .string(t, "source-ref")
            .and_then(|r| self.glob_or_report(&r).map(|g| (r.value, g)));
        Some(ProvenanceRules {
            builder_id,
            source_repo,
            source_ref,
            build_type,
            loc: self.loc(span),
        })
    }

    fn identity_claims(&mut self, t: &DeTable, span: Range<usize>) -> Option<IdentityClaims> {
        self.check_keys(t, &["repository", "ref", "workflow"], "[servers.identity]");
        let repository = self.string(t, "repository").map(|r| r.value);
        let glob = |p: &mut Self, key: &str| -> (Option<globset::GlobMatcher>, Option<String>) {
            match p.string(t, key) {
                None => (None, None),
                Some(v) => match p.glob_or_report(&v) {
                    Some(g) => (Some(g), Some(v.value)),
                    None => (None, None),
                },
            }
        };
        let (git_ref, git_ref_text) = glob(self, "ref");
        let (workflow, workflow_text) = glob(self, "workflow");
        if repository.is_none() && git_ref_text.is_none() && workflow_text.is_none() {
            self.error(
                Code::PolicyType,
                span.clone(),
                "`[servers.identity]` names no claim",
                "give at least one of `repository`, `ref`, `workflow`",
            );
            return None;
        }
        Some(IdentityClaims {
            repository,
            git_ref,
            git_ref_text,
            workflow,
            workflow_text,
            loc: self.loc(span),
        })
    }

    fn exception(&mut self, t: &DeTable, span: Range<usize>) -> Option<Exception> {
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
                && let Some(ver) = source_version(src)
                && !v.value.matches(&ver)
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

/// `90d`, `12h`, `30m`, `2w`, `45s` → seconds.
fn parse_duration(s: &str) -> Option<u64> {
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

/// The version a source string pins: `npm:NAME@1.2.3`, `pypi:NAME==1.2.3`.
fn source_version(src: &str) -> Option<semver::Version> {
    let v = src.rsplit_once("==").map(|(_, v)| v).or_else(|| {
        let (_, rest) = src.split_once(':')?;
        // Skip an npm scope's leading `@`.
        let rest = rest.strip_prefix('@').unwrap_or(rest);
        rest.rsplit_once('@').map(|(_, v)| v)
    })?;
    semver::Version::parse(v).ok()
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
mod tests {
    use super::*;

    fn check(text: &str) -> (Option<Policy>, Vec<Diagnostic>) {
        parse(
            text,
            Path::new("p.toml"),
            Layer::User,
            &TrustStore::default(),
        )
    }

    fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
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
        let run = set.run_rules("a");
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

    #[test]
    fn unused_exception_is_a_warning_against_the_known_names() {
        let (p, d) = check(
            "version = 1\n[[servers]]\nname = \"a\"\n[[exceptions]]\nservers = [\"legacy-*\"]\nwaive = [\"provenance\"]\nreason = \"vendor has no CI\"\n[[exceptions]]\nservers = [\"*\"]\nwaive = [\"provenance\"]\nreason = \"r\"\n",
        );
        let p = p.unwrap();
        assert!(d.is_empty(), "{d:?}");
        // Entries and pinned servers both count; `*` matches any of them.
        let d = super::super::unused_exceptions(&p, &["a", "legacy-x"]);
        assert!(d.is_empty(), "{d:?}");
        let d = super::super::unused_exceptions(&p, &["a"]);
        assert_eq!(codes(&d), vec!["exception-unused"]);
        assert_eq!(d[0].location.as_deref(), Some("p.toml:4:1"));
        let d = super::super::unused_exceptions(&p, &[]);
        assert_eq!(codes(&d), vec!["exception-unused", "exception-unused"]);
    }

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

    #[test]
    fn source_versions() {
        assert_eq!(
            source_version("npm:@acme/x@1.4.2").unwrap().to_string(),
            "1.4.2"
        );
        assert_eq!(
            source_version("pypi:x==2.0.0").unwrap().to_string(),
            "2.0.0"
        );
        assert!(source_version("./path").is_none());
    }
}
