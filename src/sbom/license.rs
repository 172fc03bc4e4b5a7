//! Licence policy: judges one component's SPDX licence expression against
//! allow and deny lists, with the `spdx` crate and its licence list.
//!
//! An expression is a choice: `A OR B` is satisfied by either, `A AND B`
//! needs both. A component is denied when every way to satisfy its
//! expression needs a denied licence (so `GPL-3.0-only OR MIT` passes a
//! GPL deny list), and, under an allow list, when no way uses only allowed
//! licences. A `WITH` exception stays with its licence: a list entry
//! `L` matches `L` with or without an exception, an entry
//! `L WITH E` matches only that pair.
//!
//! Ids are read the way SPDX means them, in expressions and in the policy
//! lists alike, and a reason says how an id was read when it was mapped:
//!
//! - Case: SPDX ids are case-insensitive, so `agpl-3.0-only` is
//!   `AGPL-3.0-only` (an expression that parses only once its words are put
//!   in the list's case is read that way, "read case-insensitively").
//! - Deprecated ids mean what the licence list now says: a bare GNU id is
//!   its `-only` form (`GPL-2.0` = `GPL-2.0-only`, `GFDL-1.3` =
//!   `GFDL-1.3-only`), `+` on a GNU id is its `-or-later` form (`LGPL-2.1+`
//!   = `LGPL-2.1-or-later`), both from the crate's list data (its
//!   deprecated and GNU flags and `-only` / `-or-later` pairs); the few
//!   deprecated ids that became a licence `WITH` an exception, or another
//!   id, are in `REPLACED`.
//! - Versions: an id names one version of a licence, `+` / `-or-later` that
//!   version and every later one. A list entry and a component's licence
//!   match when their versions overlap. On the allow side that is the
//!   licensee's choice: `GPL-2.0-or-later` is allowed by `GPL-2.0-only`
//!   and by `GPL-3.0-only` (it may be taken under either), not by
//!   `GPL-1.0-only`. On the deny side the same overlap denies, failing
//!   closed: an or-later grant carries the terms of the denied version, a
//!   deny list names terms the organisation will not take, and `+` must
//!   not undo a deny entry; so `AGPL-3.0-only` denies `AGPL-3.0-or-later`
//!   and `AGPL-3.0+`, and `GPL-3.0-only` denies `GPL-2.0-or-later` too
//!   (list `GPL-2.0-only` in `allow-licenses` instead to take GPL-2.0 code
//!   without GPL-3.0). This is what the crate's `Licensee::satisfies` does
//!   for `+` on other licences; it does not see that the GNU `-only` and
//!   `-or-later` ids are one licence, and compares versions as text, so the
//!   match is done here (versions compared as numbers).
//!
//! Expressions are read strictly first; when that fails, in the list's
//! case, then leniently (`ParseMode::LAX`: `Apache 2.0`-style names, `/`
//! for OR, deprecated ids), and a verdict's reason says so. Policy entries
//! are read strictly (any case, deprecated ids and `+` accepted), never
//! leniently: `gpl` would silently mean `GPL-2.0-only` only.
//!
//! An expression that cannot be read (or is over `MAX_EXPRESSION` bytes)
//! is scanned word by word for denied ids (any case, deprecated forms,
//! `+`): without a parse its OR structure is unknown, so a denied id in it
//! denies whatever is beside it. Otherwise the `noassertion` rule decides.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use spdx::expression::ExprNode;
use spdx::{AdditionItem, Expression, LicenseId, LicenseItem, LicenseReq, ParseMode};

/// Longest expression parsed; real ones are a few dozen bytes, and this
/// bounds the parser's work on hostile input (a longer one is only
/// scanned for denied ids, which is linear).
const MAX_EXPRESSION: usize = 4096;

/// Deprecated ids whose replacement the crate's list data does not give:
/// (deprecated id, current id, exception), from the SPDX licence list's
/// deprecation notes. A unit test checks every deprecated id of the crate
/// is mapped here, by the GNU rule, or knowingly kept.
const REPLACED: &[(&str, &str, Option<&str>)] = &[
    (
        "GPL-2.0-with-GCC-exception",
        "GPL-2.0-only",
        Some("GCC-exception-2.0"),
    ),
    (
        "GPL-2.0-with-autoconf-exception",
        "GPL-2.0-only",
        Some("Autoconf-exception-2.0"),
    ),
    (
        "GPL-2.0-with-bison-exception",
        "GPL-2.0-only",
        Some("Bison-exception-2.2"),
    ),
    (
        "GPL-2.0-with-classpath-exception",
        "GPL-2.0-only",
        Some("Classpath-exception-2.0"),
    ),
    (
        "GPL-2.0-with-font-exception",
        "GPL-2.0-only",
        Some("Font-exception-2.0"),
    ),
    (
        "GPL-3.0-with-GCC-exception",
        "GPL-3.0-only",
        Some("GCC-exception-3.1"),
    ),
    (
        "GPL-3.0-with-autoconf-exception",
        "GPL-3.0-only",
        Some("Autoconf-exception-3.0"),
    ),
    ("eCos-2.0", "GPL-2.0-or-later", Some("eCos-exception-2.0")),
    (
        "wxWindows",
        "LGPL-2.0-or-later",
        Some("WxWindows-exception-3.1"),
    ),
    ("BSD-2-Clause-FreeBSD", "BSD-2-Clause-Views", None),
    ("BSD-2-Clause-NetBSD", "BSD-2-Clause", None),
    ("Nunit", "zlib-acknowledgement", None),
    ("StandardML-NJ", "SMLNJ", None),
    ("bzip2-1.0.5", "bzip2-1.0.6", None),
];

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
    allow_terms: Vec<Term>,
    deny_terms: Vec<Term>,
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

/// Policy entries: the strict grammar, with deprecated ids (mapped) and
/// `+` on GNU ids, but none of the lax mode's guessed names.
const ENTRY_MODE: ParseMode = ParseMode {
    allow_deprecated: true,
    allow_postfix_plus_on_gpl: true,
    ..ParseMode::STRICT
};

impl LicensePolicy {
    /// An empty `allow` list allows every licence not denied. Entries are
    /// single SPDX ids or `LicenseRef-`s, in any case, optionally with `+`
    /// and optionally `WITH` an exception.
    pub fn new(
        allow: Vec<String>,
        deny: Vec<String>,
        noassertion: NoAssertion,
    ) -> Result<Self, LicensePolicyError> {
        let parse = |list: &'static str, entries: &[String]| {
            entries
                .iter()
                .map(|e| {
                    entry(e.trim()).map_err(|reason| LicensePolicyError {
                        list,
                        entry: e.trim().to_string(),
                        reason,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(LicensePolicy {
            allow_terms: parse("allow", &allow)?,
            deny_terms: parse("deny", &deny)?,
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

/// One list entry, as a [`Term`].
fn entry(e: &str) -> Result<Term, String> {
    let folded = fold(e);
    let text = folded.as_deref().unwrap_or(e);
    let parsed = Expression::parse_mode(text, ENTRY_MODE).map_err(|err| {
        // Say what the lenient reading would guess, and why it is not used.
        match Expression::canonicalize(text).ok().flatten() {
            Some(guess) if Expression::parse(&guess).is_ok() => format!(
                "{} (a guessed name; it would be read as `{guess}`, which may not be what is meant: write the exact id)",
                err.reason
            ),
            _ => err.reason.to_string(),
        }
    })?;
    let mut nodes = parsed.iter();
    match (nodes.next(), nodes.next()) {
        (Some(ExprNode::Req(r)), None) => term(&r.req)
            .ok_or_else(|| "a deprecated id that carries an exception takes no other".to_string()),
        _ => Err("an entry is one licence, not an expression".to_string()),
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

/// A licence as it is judged: what SPDX means by the id now.
#[derive(Debug, Clone)]
struct Term {
    licence: Lic,
    addition: Option<AdditionItem>,
}

#[derive(Debug, Clone)]
enum Lic {
    Spdx {
        /// The current id: never deprecated, a GNU one in its `-only` or
        /// `-or-later` form.
        id: LicenseId,
        /// The id without a GNU `-only` / `-or-later` suffix: the licence
        /// and its version (`GPL-2.0`, `Apache-2.0`).
        root: &'static str,
        /// That version and every later one.
        or_later: bool,
    },
    /// `[DocumentRef-D:]LicenseRef-L`, compared without regard to case.
    Other {
        doc_ref: Option<String>,
        lic_ref: String,
    },
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.licence {
            // GNU ids carry or-later in the id.
            Lic::Spdx { id, or_later, .. } if id.is_gnu() || !or_later => f.write_str(id.name)?,
            Lic::Spdx { id, .. } => write!(f, "{}+", id.name)?,
            Lic::Other {
                doc_ref: Some(d),
                lic_ref,
            } => write!(f, "DocumentRef-{d}:LicenseRef-{lic_ref}")?,
            Lic::Other { lic_ref, .. } => write!(f, "LicenseRef-{lic_ref}")?,
        }
        match &self.addition {
            Some(a) => write!(f, " WITH {a}"),
            None => Ok(()),
        }
    }
}

/// The current meaning of a licence id (`plus`: written with `+`), and
/// the exception a deprecated id folds in.
fn current(id: LicenseId, plus: bool) -> (Lic, Option<&'static str>) {
    let (id, exception) = match REPLACED.iter().find(|(old, ..)| *old == id.name) {
        Some((_, new, exc)) => (spdx::license_id(new).unwrap_or(id), *exc),
        None => (id, None),
    };
    if !id.is_gnu() {
        let lic = Lic::Spdx {
            id,
            root: id.name,
            or_later: plus,
        };
        return (lic, exception);
    }
    let (root, or_later) = match (
        id.name.strip_suffix("-or-later"),
        id.name.strip_suffix("-only"),
    ) {
        (Some(root), _) => (root, true),
        (None, Some(root)) => (root, plus),
        (None, None) => (id.name, plus),
    };
    // The pair the list has for this root, else the id as it is.
    let id = spdx::gnu_license_id(root, or_later).unwrap_or(id);
    (Lic::Spdx { id, root, or_later }, exception)
}

/// A requirement as a [`Term`]. `None`: a deprecated id that folds in an
/// exception and carries another, which no reading makes one licence.
fn term(req: &LicenseReq) -> Option<Term> {
    match &req.license {
        LicenseItem::Spdx { id, or_later } => {
            let (licence, exception) = current(*id, *or_later);
            let addition = match (exception, &req.addition) {
                (Some(_), Some(_)) => return None,
                (Some(e), None) => spdx::exception_id(e).map(AdditionItem::Spdx),
                (None, a) => a.clone(),
            };
            Some(Term { licence, addition })
        }
        LicenseItem::Other(r) => Some(Term {
            licence: Lic::Other {
                doc_ref: r.doc_ref.clone(),
                lic_ref: r.lic_ref.clone(),
            },
            addition: req.addition.clone(),
        }),
    }
}

/// How a requirement was read, when [`term`] mapped its id (`AGPL-3.0
/// (deprecated id, read as AGPL-3.0-only)`); cheap for the common ids.
fn note(req: &LicenseReq, t: &Term) -> Option<String> {
    let id = req.license.id()?;
    let bare_gnu = id.is_gnu() && !id.name.ends_with("-only") && !id.name.ends_with("-or-later");
    if !id.is_deprecated() && !bare_gnu {
        return None;
    }
    let (written, read) = (req.to_string(), t.to_string());
    let kind = if id.is_deprecated() {
        "deprecated id, "
    } else {
        ""
    };
    (written != read).then(|| format!("{written} ({kind}read as {read})"))
}

/// A list entry matches a licence: the same licence with overlapping
/// versions (see the module comment), and, when the entry names an
/// exception, the same exception.
fn matches(entry: &Term, t: &Term) -> bool {
    let licence = match (&entry.licence, &t.licence) {
        (
            Lic::Spdx {
                root: a,
                or_later: al,
                ..
            },
            Lic::Spdx {
                root: b,
                or_later: bl,
                ..
            },
        ) => match versions(a, b) {
            Some(Ordering::Equal) => true,
            Some(Ordering::Less) => *al,
            Some(Ordering::Greater) => *bl,
            None => false,
        },
        (
            Lic::Other {
                doc_ref: ad,
                lic_ref: a,
            },
            Lic::Other {
                doc_ref: bd,
                lic_ref: b,
            },
        ) => {
            a.eq_ignore_ascii_case(b)
                && match (ad, bd) {
                    (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
                    (x, y) => x.is_none() && y.is_none(),
                }
        }
        _ => false,
    };
    licence
        && match (&entry.addition, &t.addition) {
            (None, _) => true,
            (Some(a), Some(b)) => a.to_string().eq_ignore_ascii_case(&b.to_string()),
            (Some(_), None) => false,
        }
}

/// How the versions of two roots of one licence compare (`GPL-2.0` <
/// `GPL-3.0`); `None` when they are different licences. Roots are alike
/// part for part (split at `-`) but for one version part.
fn versions(a: &str, b: &str) -> Option<Ordering> {
    if a == b {
        return Some(Ordering::Equal);
    }
    let (mut pa, mut pb) = (a.split('-'), b.split('-'));
    let mut order = None;
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return order,
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) if order.is_none() && is_version(x) && is_version(y) => {
                order = Some(compare_versions(x, y));
            }
            _ => return None,
        }
    }
}

fn is_version(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit()) && s.chars().all(|c| c == '.' || c.is_ascii_digit())
}

/// `1.10` > `1.9`, `2` = `2.0`: numbers, part by part.
fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut pa, mut pb) = (a.split('.'), b.split('.'));
    loop {
        let (x, y) = match (pa.next(), pb.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => (x.unwrap_or("0"), y.unwrap_or("0")),
        };
        let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
        match x.len().cmp(&y.len()).then_with(|| x.cmp(y)) {
            Ordering::Equal => {}
            o => return o,
        }
    }
}

/// What a word of an expression is on the licence list, by any case.
#[derive(Clone, Copy)]
enum Known {
    Licence(LicenseId),
    Exception(&'static str),
}

/// The crate's licence and exception ids by their lower-case spelling.
fn known(word: &str) -> Option<Known> {
    static IDS: OnceLock<HashMap<String, Known>> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        let mut m = HashMap::new();
        for l in spdx::identifiers::LICENSES {
            if let Some(id) = spdx::license_id(l.name) {
                m.entry(l.name.to_ascii_lowercase())
                    .or_insert(Known::Licence(id));
            }
        }
        for e in spdx::identifiers::EXCEPTIONS {
            m.entry(e.name.to_ascii_lowercase())
                .or_insert(Known::Exception(e.name));
        }
        m
    });
    // No id is longer; a scan lowers each word on the stack.
    let mut buf = [0u8; 64];
    let lower = buf.get_mut(..word.len())?;
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    ids.get(std::str::from_utf8(lower).ok()?).copied()
}

/// The lexer's word characters (`[-a-zA-Z0-9.:]`).
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':')
}

/// `text` with each word in the case the licence list spells it
/// (operators in upper case, `LicenseRef-` and kin in theirs); `None`
/// when nothing changes. Linear in `text`.
fn fold(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut rest = text;
    while let Some(start) = rest.find(is_word_char) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(|c| !is_word_char(c)).unwrap_or(tail.len());
        // `DocumentRef-D:LicenseRef-L`: each side on its own.
        for (i, part) in tail[..end].split(':').enumerate() {
            if i > 0 {
                out.push(':');
            }
            let fixed = spelled(part);
            changed |= fixed != part;
            out.push_str(&fixed);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

fn spelled(word: &str) -> std::borrow::Cow<'_, str> {
    for op in ["AND", "OR", "WITH"] {
        if word.eq_ignore_ascii_case(op) {
            return op.into();
        }
    }
    match known(word) {
        Some(Known::Licence(id)) => return id.name.into(),
        Some(Known::Exception(name)) => return name.into(),
        None => {}
    }
    for prefix in ["LicenseRef-", "DocumentRef-", "AdditionRef-"] {
        if let Some(head) = word.get(..prefix.len())
            && head.eq_ignore_ascii_case(prefix)
        {
            return format!("{prefix}{}", &word[prefix.len()..]).into();
        }
    }
    word.into()
}

/// Reads `text` strictly, then in the list's case, then leniently; the
/// second part says how, for a reason. The error is the strict one.
fn parse(text: &str) -> Result<(Expression, String), spdx::ParseError> {
    let strict = match Expression::parse(text) {
        Ok(e) => return Ok((e, String::new())),
        Err(e) => e,
    };
    let folded = fold(text);
    if let Some(f) = &folded
        && let Ok(e) = Expression::parse(f)
    {
        return Ok((e, format!(" (read case-insensitively as `{f}`)")));
    }
    let t = folded.as_deref().unwrap_or(text);
    let Ok(e) = Expression::parse_mode(t, ParseMode::LAX) else {
        return Err(strict);
    };
    let how = if folded.is_some() {
        "case-insensitively and leniently"
    } else {
        "leniently"
    };
    let read = match Expression::canonicalize(t).ok().flatten() {
        Some(c) => format!(" (read {how} as `{c}`)"),
        None => format!(" (read {how})"),
    };
    Ok((e, read))
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
    // same explicit rule decides, so `deny` fails closed on it, unless it
    // names a denied licence.
    if text.len() > MAX_EXPRESSION {
        return unreadable(
            text,
            policy,
            format!("the licence expression is over {MAX_EXPRESSION} bytes"),
        );
    }
    let (parsed, mut read) = match parse(text) {
        Ok(p) => p,
        Err(strict) => {
            return unreadable(
                text,
                policy,
                format!(
                    "`{text}` is not a valid SPDX licence expression ({})",
                    strict.reason
                ),
            );
        }
    };
    // Deprecated ids: said once, beside the expression.
    let mut notes: Vec<String> = Vec::new();
    for r in parsed.requirements() {
        match term(&r.req) {
            Some(t) => {
                if let Some(n) = note(&r.req, &t)
                    && !notes.contains(&n)
                {
                    notes.push(n);
                }
            }
            None => {
                return unreadable(
                    text,
                    policy,
                    format!(
                        "`{text}` gives `{}` a second exception, and no licence on the SPDX list reads so",
                        r.req
                    ),
                );
            }
        }
    }
    if !notes.is_empty() {
        read.push_str(&format!(" ({})", notes.join("; ")));
    }

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

/// Whether some entry of `list` matches the requirement.
fn listed(list: &[Term], r: &LicenseReq) -> bool {
    term(r).is_some_and(|t| list.iter().any(|e| matches(e, &t)))
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
            listed(&policy.deny_terms, r)
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
    if !policy.allow_terms.is_empty() {
        let allowed = |r: &LicenseReq| {
            if is_unasserted(r) {
                unasserted_ok
            } else {
                listed(&policy.allow_terms, r)
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

/// The distinct requirements of `expr` that `pick` selects, for a reason,
/// each as read (`GPL-2.0-or-later`, not `GPL-2.0+`).
fn names(expr: &Expression, pick: impl Fn(&LicenseReq) -> bool) -> String {
    let mut out: Vec<String> = Vec::new();
    for r in expr.requirements() {
        let name = term(&r.req).map_or_else(|| r.req.to_string(), |t| t.to_string());
        if pick(&r.req) && !out.contains(&name) {
            out.push(name);
        }
    }
    out.join(", ")
}

/// An expression that cannot be parsed: denied when a word of it is a
/// denied licence, else the noassertion rule.
fn unreadable(text: &str, policy: &LicensePolicy, why: String) -> LicenseVerdict {
    let found = scan(text, &policy.deny_terms);
    if found.is_empty() {
        return no_assertion(policy, why);
    }
    LicenseVerdict::Denied {
        reason: format!(
            "{why}, and it names a denied licence ({}); without a reading of how its parts combine, that denies it",
            found.join(", ")
        ),
    }
}

/// Most denied words a reason lists.
const MAX_FOUND: usize = 5;

/// The words of `text` that are denied licence ids, in any case, with `+`,
/// deprecated ones as read; an entry with an exception counts when that
/// exception is a word of `text` too. One pass; memory bounded by the
/// deny list.
fn scan(text: &str, deny: &[Term]) -> Vec<String> {
    if deny.is_empty() {
        return Vec::new();
    }
    // Per entry: the first word matching its licence, and whether its
    // exception was seen.
    let mut hits: Vec<(Option<String>, bool)> = vec![(None, false); deny.len()];
    // The entries' licences alone: the pairing with an exception is
    // unknown without a parse, and a word ends at `:`, so a
    // `DocumentRef-` is never seen and any matches.
    let bare: Vec<Term> = deny
        .iter()
        .map(|e| Term {
            licence: match &e.licence {
                Lic::Other { lic_ref, .. } => Lic::Other {
                    doc_ref: None,
                    lic_ref: lic_ref.clone(),
                },
                l => l.clone(),
            },
            addition: None,
        })
        .collect();
    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+')));
    for word in words {
        let word = word.trim_end_matches('.');
        let name = word.trim_end_matches('+');
        if name.is_empty() {
            continue;
        }
        let t = match known(name) {
            Some(Known::Licence(id)) => {
                let (licence, exception) = current(id, name.len() < word.len());
                Term {
                    licence,
                    addition: exception
                        .and_then(spdx::exception_id)
                        .map(AdditionItem::Spdx),
                }
            }
            Some(Known::Exception(e)) => {
                for (entry, hit) in deny.iter().zip(hits.iter_mut()) {
                    if entry.addition.as_ref().is_some_and(|a| a.to_string() == e) {
                        hit.1 = true;
                    }
                }
                continue;
            }
            None => {
                let Some(lic_ref) = word
                    .get(.."LicenseRef-".len())
                    .filter(|h| h.eq_ignore_ascii_case("LicenseRef-"))
                    .map(|_| &word["LicenseRef-".len()..])
                else {
                    continue;
                };
                Term {
                    licence: Lic::Other {
                        doc_ref: None,
                        lic_ref: lic_ref.to_string(),
                    },
                    addition: None,
                }
            }
        };
        for ((entry, bare), hit) in deny.iter().zip(&bare).zip(hits.iter_mut()) {
            if matches(bare, &t) {
                if hit.0.is_none() {
                    let read = t.to_string();
                    hit.0 = Some(if read == word {
                        read
                    } else {
                        format!("{word} (read as {read})")
                    });
                }
                // A deprecated id that folds in the entry's exception.
                if entry.addition.is_some() && entry.addition == t.addition {
                    hit.1 = true;
                }
            }
        }
    }
    let mut found: Vec<String> = Vec::new();
    for (entry, (word, exception)) in deny.iter().zip(hits) {
        if let Some(w) = word
            && (entry.addition.is_none() || exception)
            && !found.contains(&w)
        {
            found.push(w);
        }
    }
    found.truncate(MAX_FOUND);
    found
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

    fn reason(v: LicenseVerdict) -> String {
        match v {
            LicenseVerdict::Allowed => panic!("allowed"),
            LicenseVerdict::Denied { reason } | LicenseVerdict::Unknown { reason } => reason,
        }
    }

    #[test]
    fn deprecated_ids_mean_what_spdx_now_says() {
        let p = policy(&[], &["AGPL-3.0-only"], NoAssertion::Warn);
        for expr in [
            "AGPL-3.0",
            "AGPL-3.0+",
            "AGPL-3.0-or-later",
            "MIT AND AGPL-3.0",
            "AGPL-3.0 OR AGPL-3.0-or-later",
        ] {
            assert!(is_denied(expr, &p), "{expr}: {:?}", verdict(expr, &p));
        }
        assert!(is_allowed("MIT OR AGPL-3.0", &p));
        let why = reason(verdict("MIT AND AGPL-3.0", &p));
        assert!(
            why.contains("AGPL-3.0 (deprecated id, read as AGPL-3.0-only)"),
            "{why}"
        );
        assert!(
            why.contains("needs a denied licence (AGPL-3.0-only)"),
            "{why}"
        );
        let why = reason(verdict("AGPL-3.0+", &p));
        assert!(why.contains("(AGPL-3.0-or-later)"), "{why}");

        // Allowed as what it means, not refused as a different id.
        let p = policy(&["GPL-2.0-only"], &[], NoAssertion::Warn);
        assert!(is_allowed("GPL-2.0", &p));
        assert!(is_denied("LGPL-2.0", &p));
        let p = policy(&["LGPL-2.1-or-later"], &[], NoAssertion::Warn);
        assert!(is_allowed("LGPL-2.1+", &p));
        let p = policy(&[], &["GFDL-1.3-only"], NoAssertion::Warn);
        assert!(is_denied("GFDL-1.3", &p));
        assert!(is_allowed("GFDL-1.2", &p));

        // Deprecated ids that became a licence WITH an exception.
        let p = policy(&[], &["GPL-2.0-only"], NoAssertion::Warn);
        assert!(is_denied("GPL-2.0-with-classpath-exception", &p));
        assert!(is_denied("eCos-2.0", &p));
        let p = policy(
            &["GPL-2.0-only WITH Classpath-exception-2.0"],
            &[],
            NoAssertion::Warn,
        );
        assert!(is_allowed("GPL-2.0-with-classpath-exception", &p));
        assert!(is_denied("GPL-2.0-with-GCC-exception", &p));
        // One that folds in an exception takes no second one.
        let p = policy(&[], &["GPL-3.0-only"], NoAssertion::Warn);
        assert!(matches!(
            verdict(
                "GPL-2.0-with-GCC-exception WITH Classpath-exception-2.0",
                &p
            ),
            LicenseVerdict::Unknown { .. }
        ));
        let p = policy(&[], &["GPL-2.0-only"], NoAssertion::Warn);
        assert!(is_denied(
            "GPL-2.0-with-GCC-exception WITH Classpath-exception-2.0",
            &p
        ));
    }

    #[test]
    fn every_deprecated_id_of_the_list_is_read_as_a_current_one() {
        // Deprecated without a successor on the list (split into several).
        let kept = ["Net-SNMP"];
        for l in spdx::identifiers::LICENSES {
            let Some(id) = spdx::license_id(l.name) else {
                continue;
            };
            let (Lic::Spdx { id: now, .. }, _) = current(id, false) else {
                panic!("{}", l.name)
            };
            if id.is_deprecated() && !kept.contains(&id.name) {
                assert!(!now.is_deprecated(), "{} is read as {}", l.name, now.name);
            }
        }
        for (old, new, exc) in REPLACED {
            assert!(
                spdx::license_id(old).is_some_and(|i| i.is_deprecated()),
                "{old}"
            );
            assert!(
                spdx::license_id(new).is_some_and(|i| !i.is_deprecated()),
                "{new}"
            );
            if let Some(e) = exc {
                assert!(spdx::exception_id(e).is_some(), "{e}");
            }
        }
        let gpl2plus = |plus| current(spdx::license_id("GPL-2.0").unwrap(), plus).0;
        assert!(matches!(gpl2plus(true), Lic::Spdx { id, .. } if id.name == "GPL-2.0-or-later"));
        assert!(matches!(gpl2plus(false), Lic::Spdx { id, .. } if id.name == "GPL-2.0-only"));
    }

    #[test]
    fn or_later_overlaps_on_both_sides() {
        // Allow: the licensee may take any version the grant admits.
        let p = policy(&["GPL-2.0-only"], &[], NoAssertion::Warn);
        assert!(is_allowed("GPL-2.0-or-later", &p));
        assert!(is_allowed("GPL-2.0+", &p));
        assert!(is_allowed("GPL-1.0-or-later", &p));
        assert!(is_denied("GPL-3.0-or-later", &p));
        assert!(is_denied("GPL-3.0-only", &p));
        let p = policy(&["GPL-3.0-only"], &[], NoAssertion::Warn);
        assert!(is_allowed("GPL-2.0-or-later", &p));
        assert!(is_denied("GPL-2.0-only", &p));
        let p = policy(&["GPL-1.0-only"], &[], NoAssertion::Warn);
        assert!(is_denied("GPL-2.0-or-later", &p));
        // An or-later entry allows that version and every later one.
        let p = policy(&["GPL-2.0-or-later"], &[], NoAssertion::Warn);
        assert!(is_allowed("GPL-3.0-only", &p));
        assert!(is_allowed("GPL-2.0-only", &p));
        assert!(is_denied("GPL-1.0-only", &p));

        // Deny: a grant that admits a denied version is denied (fail closed).
        let p = policy(&[], &["GPL-3.0-only"], NoAssertion::Warn);
        assert!(is_denied("GPL-2.0-or-later", &p));
        assert!(is_denied("GPL-3.0-or-later", &p));
        assert!(is_allowed("GPL-2.0-only", &p));
        assert!(is_allowed("LGPL-3.0-only", &p));
        assert!(is_allowed("AGPL-3.0-only", &p));
        let p = policy(&[], &["GPL-2.0-only"], NoAssertion::Warn);
        assert!(is_allowed("GPL-3.0-or-later", &p));
        let p = policy(&[], &["GPL-2.0-or-later"], NoAssertion::Warn);
        assert!(is_denied("GPL-3.0-only", &p));
        assert!(is_allowed("GPL-1.0-only", &p));
        // `+` on other licences, as the crate's `satisfies` has it.
        let p = policy(&[], &["Apache-2.0"], NoAssertion::Warn);
        assert!(is_denied("Apache-1.0+", &p));
        assert!(is_allowed("Apache-1.0", &p));
        let p = policy(&["MPL-2.0"], &[], NoAssertion::Warn);
        assert!(is_allowed("MPL-1.1+", &p));
        assert!(is_denied("MPL-1.1", &p));

        // What the crate alone does: GNU `-or-later` ids are other ids, so
        // an `-only` entry matches neither way; hence the match here.
        let only = spdx::Licensee::parse("GPL-2.0-only").unwrap();
        let later = LicenseReq::from(spdx::license_id("GPL-2.0-or-later").unwrap());
        assert!(!only.satisfies(&later));
        // And versions are numbers, not text.
        assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare_versions("2", "2.0"), Ordering::Equal);
        assert_eq!(versions("GPL-2.0", "GPL-3.0"), Some(Ordering::Less));
        assert_eq!(versions("GPL-2.0", "LGPL-2.0"), None);
        assert_eq!(versions("CC-BY-3.0", "CC-BY-SA-3.0"), None);
    }

    #[test]
    fn ids_in_any_case() {
        let p = policy(&[], &["AGPL-3.0-only"], NoAssertion::Warn);
        for expr in [
            "agpl-3.0-only",
            "mit and agpl-3.0-only",
            "MIT And Agpl-3.0-Only",
            "agpl-3.0",
            "agpl-3.0-or-later",
            "(mit OR apache-2.0) AND agpl-3.0+",
        ] {
            assert!(is_denied(expr, &p), "{expr}: {:?}", verdict(expr, &p));
        }
        let why = reason(verdict("mit and agpl-3.0-only", &p));
        assert!(
            why.contains("(read case-insensitively as `MIT AND AGPL-3.0-only`)"),
            "{why}"
        );
        assert!(is_allowed("mit or agpl-3.0-only", &p));
        let p = policy(
            &["MIT", "GPL-2.0-only WITH Classpath-exception-2.0"],
            &[],
            NoAssertion::Deny,
        );
        assert!(is_allowed("mit", &p));
        assert!(is_allowed("gpl-2.0-only with classpath-exception-2.0", &p));
        assert!(is_denied("gpl-2.0-only", &p));
        // LicenseRefs too.
        let p = policy(&[], &["LicenseRef-Evil"], NoAssertion::Warn);
        assert!(is_denied("licenseref-evil", &p));
        assert!(is_denied("MIT AND LicenseRef-EVIL", &p));
        assert!(is_allowed("LicenseRef-Good", &p));
    }

    #[test]
    fn a_denied_id_in_an_unreadable_expression_denies() {
        for na in [NoAssertion::Allow, NoAssertion::Warn, NoAssertion::Deny] {
            let p = policy(&[], &["AGPL-3.0-only"], na);
            for expr in [
                "AGPL-3.0-only AND some free text",
                "MIT OR (AGPL-3.0-only",
                "Licensed under AGPL-3.0+, see COPYING.",
                "agpl-3.0 or whatever",
                "License:AGPL-3.0-only",
                "MIT/AGPL-3.0-or-later;",
            ] {
                let v = verdict(expr, &p);
                let LicenseVerdict::Denied { reason } = &v else {
                    panic!("{expr} under {na:?}: {v:?}")
                };
                assert!(reason.contains("names a denied licence ("), "{reason}");
            }
            // Nothing denied in it: the rule stands.
            let want = match na {
                NoAssertion::Allow => "allowed",
                NoAssertion::Deny => "denied",
                NoAssertion::Warn => "unknown",
            };
            for expr in [
                "MIT AND some free text",
                "AGPL-3.0-onlyish text",
                "GPL-3.0 and",
            ] {
                let got = match verdict(expr, &p) {
                    LicenseVerdict::Allowed => "allowed",
                    LicenseVerdict::Denied { .. } => "denied",
                    LicenseVerdict::Unknown { .. } => "unknown",
                };
                assert_eq!(got, want, "{expr} under {na:?}");
            }
        }
        let p = policy(&[], &["AGPL-3.0-only"], NoAssertion::Warn);
        let why = reason(verdict("agpl-3.0 and free text", &p));
        assert!(
            why.contains("names a denied licence (agpl-3.0 (read as AGPL-3.0-only))"),
            "{why}"
        );

        // Over-long: scanned, not parsed.
        let long = format!("{}AGPL-3.0-only", "MIT AND ".repeat(MAX_EXPRESSION / 8 + 1));
        assert!(long.len() > MAX_EXPRESSION);
        let why = reason(verdict(&long, &p));
        assert!(
            why.contains("over 4096 bytes") && why.contains("denied licence"),
            "{why}"
        );
        assert!(is_denied(&long, &p));
        let long = "MIT AND ".repeat(MAX_EXPRESSION);
        assert!(matches!(verdict(&long, &p), LicenseVerdict::Unknown { .. }));
        let huge = format!("{}agpl-3.0-only", "x ".repeat(1 << 19));
        assert!(is_denied(&huge, &p));

        // An entry with an exception needs both words.
        let p = policy(
            &[],
            &["GPL-2.0-only WITH Classpath-exception-2.0"],
            NoAssertion::Warn,
        );
        assert!(matches!(
            verdict("GPL-2.0-only and free text", &p),
            LicenseVerdict::Unknown { .. }
        ));
        assert!(is_denied(
            "GPL-2.0-only WITH Classpath-exception-2.0 and free text",
            &p
        ));
        assert!(is_denied("GPL-2.0-with-classpath-exception and more", &p));
        let p = policy(&[], &["LicenseRef-Evil"], NoAssertion::Allow);
        assert!(is_denied("licenseref-evil plus words", &p));
    }

    #[test]
    fn policy_entries_in_any_case_and_deprecated_forms() {
        for entry in ["agpl-3.0-only", "AGPL-3.0", "agpl-3.0", " Agpl-3.0-Only "] {
            let p = policy(&[], &[entry], NoAssertion::Warn);
            assert!(is_denied("AGPL-3.0-only", &p), "{entry}");
            assert!(is_denied("AGPL-3.0-or-later", &p), "{entry}");
            assert!(is_allowed("GPL-3.0-only", &p), "{entry}");
            assert_eq!(p.deny(), [entry.to_string()]);
        }
        let p = policy(&["gpl-2.0+", "mit"], &[], NoAssertion::Warn);
        assert!(is_allowed("GPL-3.0-only AND MIT", &p));
        assert!(is_denied("GPL-1.0-only", &p));
        let p = policy(
            &["gpl-2.0-only with classpath-exception-2.0"],
            &[],
            NoAssertion::Warn,
        );
        assert!(is_allowed("GPL-2.0-only WITH Classpath-exception-2.0", &p));
        assert!(is_denied("GPL-2.0-only", &p));
        // The lax mode's guesses are refused: `gpl` would be GPL-2.0 only.
        for bad in ["gpl", "Apache 2.0", "MIT/Apache-2.0", "GPL-2.0-or-later+"] {
            let err = LicensePolicy::new(vec![], vec![bad.into()], NoAssertion::Warn).unwrap_err();
            assert_eq!(err.list, "deny");
            assert_eq!(err.entry, bad);
        }
        let err = LicensePolicy::new(vec!["gpl".into()], vec![], NoAssertion::Warn).unwrap_err();
        assert!(
            err.reason.contains("guessed name") && err.reason.contains("`GPL-2.0-only`"),
            "{err}"
        );
    }

    #[test]
    fn clean_expressions_are_read_strictly_and_pass() {
        let p = policy(
            &[],
            &["GPL-3.0-only", "AGPL-3.0-only", "LGPL-3.0-only"],
            NoAssertion::Deny,
        );
        for expr in [
            "MIT",
            "Apache-2.0 OR GPL-3.0-only",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "MIT AND (Apache-2.0 OR AGPL-3.0-or-later)",
            "LicenseRef-mine",
        ] {
            assert_eq!(verdict(expr, &p), LicenseVerdict::Allowed, "{expr}");
            let (_, read) = parse(expr).unwrap();
            assert_eq!(read, "", "{expr}: read strictly");
        }
        assert!(fold("MIT OR Apache-2.0 WITH LLVM-exception").is_none());
        assert_eq!(
            fold("mit or licenseref-x/documentref-d:licenseref-y").as_deref(),
            Some("MIT OR LicenseRef-x/DocumentRef-d:LicenseRef-y")
        );
    }

    #[test]
    fn the_lower_case_list_has_no_collisions() {
        let mut seen = std::collections::HashSet::new();
        for name in spdx::identifiers::LICENSES
            .iter()
            .map(|l| l.name)
            .chain(spdx::identifiers::EXCEPTIONS.iter().map(|e| e.name))
        {
            assert!(seen.insert(name.to_ascii_lowercase()), "{name}");
        }
    }
}
