//! Version ranges of `deny-components` rules, compared in each
//! ecosystem's own version order: SemVer for npm, crates.io and Go, PEP 440
//! for PyPI (where `1.0.0-post1` is `1.0.0.post1`, after `1.0.0`).
//!
//! A deny rule names an interval of versions, so ranges are read as
//! intervals: a pre-release inside the bounds is inside the range (npm's
//! and Cargo's matching leave pre-releases out unless a bound names one,
//! which would let `3.4.0-beta.1` past `>=3.3.0, <4.0.0`). A bare version
//! is that version only (not Cargo's `^`). Comparators are joined by `,`
//! or spaces (all must hold), alternatives by `||`; `^`, `~`, `~=` and
//! trailing `.*` wildcards are read as their ecosystems define them, and
//! their upper bound leaves out the pre-releases of the next release.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The longest range read: real ones are a few dozen bytes.
const MAX_RANGE: usize = 1024;

#[derive(Debug, Clone)]
pub struct VersionRange {
    text: String,
    /// Alternatives (`||`), each a conjunction of bounds; empty is "any".
    any_of: Vec<Vec<Bound>>,
}

#[derive(Debug, Clone)]
struct Bound {
    op: Op,
    version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// The release part (no pre-release, post or dev part) is at least.
    ReleaseGe,
    /// The release part is below: `<2.0.0` without `2.0.0-rc.1`.
    ReleaseLt,
}

/// How versions of an ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Semver,
    Pep440,
}

impl Scheme {
    /// The order of a purl type's versions; `None` when unknown (both are
    /// tried, SemVer first).
    pub fn of(purl_type: &str) -> Option<Scheme> {
        match purl_type {
            "npm" | "cargo" | "golang" => Some(Scheme::Semver),
            "pypi" => Some(Scheme::Pep440),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scheme::Semver => "SemVer",
            Scheme::Pep440 => "PEP 440",
        }
    }
}

/// A version read under one scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parsed {
    Semver(semver::Version),
    Pep440(pep440_rs::Version),
}

impl Parsed {
    fn read(scheme: Scheme, s: &str) -> Option<Parsed> {
        match scheme {
            Scheme::Semver => semver_lenient(s).map(Parsed::Semver),
            Scheme::Pep440 => pep440_rs::Version::from_str(s.trim())
                .ok()
                .map(Parsed::Pep440),
        }
    }

    fn cmp(&self, other: &Parsed) -> Ordering {
        match (self, other) {
            (Parsed::Semver(a), Parsed::Semver(b)) => a.cmp_precedence(b),
            (Parsed::Pep440(a), Parsed::Pep440(b)) => a.cmp(b),
            // Never mixed: both sides are read under one scheme.
            _ => Ordering::Equal,
        }
    }

    /// The release numbers, without pre-release, post or dev parts.
    fn release(&self) -> Vec<u64> {
        match self {
            Parsed::Semver(v) => vec![v.major, v.minor, v.patch],
            Parsed::Pep440(v) => v.release().to_vec(),
        }
    }
}

/// SemVer with the leniencies of version strings in the wild: a leading
/// `v` or `=`, a missing minor or patch (`1.2` is `1.2.0`); build metadata
/// does not order.
fn semver_lenient(s: &str) -> Option<semver::Version> {
    let s = s.trim();
    let s = s.strip_prefix(['v', '=']).unwrap_or(s);
    if let Ok(mut v) = semver::Version::parse(s) {
        v.build = semver::BuildMetadata::EMPTY;
        return Some(v);
    }
    // Pad only a plain `1` or `1.2`.
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() < 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        let mut padded = parts.join(".");
        for _ in parts.len()..3 {
            padded.push_str(".0");
        }
        return semver::Version::parse(&padded).ok();
    }
    None
}

/// The schemes a version is read under: its ecosystem's, or when that is
/// unknown SemVer, then PEP 440.
fn tried(scheme: Option<Scheme>) -> &'static [Scheme] {
    match scheme {
        Some(Scheme::Semver) => &[Scheme::Semver],
        Some(Scheme::Pep440) => &[Scheme::Pep440],
        None => &[Scheme::Semver, Scheme::Pep440],
    }
}

/// Whether `a` and `b` are one version under `scheme` (`None`: SemVer,
/// else PEP 440); two strings neither scheme reads are not.
pub fn equal(scheme: Option<Scheme>, a: &str, b: &str) -> bool {
    tried(scheme).iter().any(|&s| {
        matches!((Parsed::read(s, a), Parsed::read(s, b)), (Some(x), Some(y)) if x.cmp(&y).is_eq())
    })
}

fn cmp_release(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl VersionRange {
    pub fn parse(text: &str) -> Result<VersionRange, String> {
        if text.len() > MAX_RANGE {
            return Err(format!("longer than {MAX_RANGE} bytes"));
        }
        let mut any_of = Vec::new();
        for alt in text.split("||") {
            let bounds = parse_alternative(alt)?;
            if bounds.is_none() {
                // `*` alone: every version.
                return Ok(VersionRange {
                    text: text.to_string(),
                    any_of: Vec::new(),
                });
            }
            any_of.extend(bounds);
        }
        Ok(VersionRange {
            text: text.to_string(),
            any_of,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `version`, of a package whose versions order by `scheme`
    /// (`None`: unknown, SemVer then PEP 440 are tried), is in the range;
    /// `Err` says why it cannot be compared.
    pub fn contains(&self, scheme: Option<Scheme>, version: &str) -> Result<bool, String> {
        if self.any_of.is_empty() {
            return Ok(true);
        }
        let mut why = None;
        for &s in tried(scheme) {
            match self.contains_as(s, version) {
                Ok(b) => return Ok(b),
                Err(e) => {
                    why.get_or_insert(e);
                }
            }
        }
        Err(why.unwrap_or_default())
    }

    fn contains_as(&self, scheme: Scheme, version: &str) -> Result<bool, String> {
        let v = Parsed::read(scheme, version)
            .ok_or_else(|| format!("`{version}` is not a {} version", scheme.name()))?;
        let mut out = false;
        for alt in &self.any_of {
            let mut all = true;
            for b in alt {
                let bv = Parsed::read(scheme, &b.version).ok_or_else(|| {
                    format!(
                        "the bound `{}` is not a {} version",
                        b.version,
                        scheme.name()
                    )
                })?;
                let holds = match b.op {
                    Op::Eq => v.cmp(&bv).is_eq(),
                    Op::Ne => v.cmp(&bv).is_ne(),
                    Op::Lt => v.cmp(&bv).is_lt(),
                    Op::Le => v.cmp(&bv).is_le(),
                    Op::Gt => v.cmp(&bv).is_gt(),
                    Op::Ge => v.cmp(&bv).is_ge(),
                    Op::ReleaseGe => cmp_release(&v.release(), &bv.release()).is_ge(),
                    Op::ReleaseLt => cmp_release(&v.release(), &bv.release()).is_lt(),
                };
                all &= holds;
            }
            // Every bound is read, so a bad one is never skipped.
            out |= all;
        }
        Ok(out)
    }

    /// Why the range looks unintended, if it does: it matches no version,
    /// or every version but one.
    pub fn lint(&self, scheme: Option<Scheme>) -> Option<String> {
        if self.any_of.is_empty() {
            return Some(format!(
                "`{}` matches every version; leave `versions` out to say so",
                self.text
            ));
        }
        if self
            .any_of
            .iter()
            .any(|alt| alt.iter().all(|b| b.op == Op::Ne))
        {
            return Some(format!(
                "`{}` matches every version but those it excludes",
                self.text
            ));
        }
        let scheme = scheme.unwrap_or(Scheme::Semver);
        let empty = self.any_of.iter().all(|alt| is_empty(scheme, alt));
        empty.then(|| format!("`{}` matches no version", self.text))
    }
}

/// Whether the lowest upper bound of `alt` is below its highest lower
/// bound (ties count when either side excludes). Bounds that do not parse
/// are left to the matcher.
fn is_empty(scheme: Scheme, alt: &[Bound]) -> bool {
    let mut low: Option<(Parsed, bool)> = None;
    let mut high: Option<(Parsed, bool)> = None;
    for b in alt {
        let Some(v) = Parsed::read(scheme, &b.version) else {
            return false;
        };
        let (is_low, inclusive) = match b.op {
            Op::Gt => (true, false),
            Op::Ge | Op::ReleaseGe => (true, true),
            Op::Lt | Op::ReleaseLt => (false, false),
            Op::Le => (false, true),
            Op::Eq => {
                // An exact version is both bounds.
                if low.as_ref().is_none_or(|(l, _)| v.cmp(l).is_gt()) {
                    low = Some((v.clone(), true));
                }
                if high.as_ref().is_none_or(|(h, _)| v.cmp(h).is_lt()) {
                    high = Some((v, true));
                }
                continue;
            }
            Op::Ne => continue,
        };
        let slot = if is_low { &mut low } else { &mut high };
        let tighter = match slot.as_ref() {
            None => true,
            Some((cur, _)) if is_low => v.cmp(cur).is_gt(),
            Some((cur, _)) => v.cmp(cur).is_lt(),
        };
        if tighter {
            *slot = Some((v, inclusive));
        }
    }
    match (low, high) {
        (Some((l, li)), Some((h, hi))) => match l.cmp(&h) {
            Ordering::Greater => true,
            Ordering::Equal => !(li && hi),
            Ordering::Less => false,
        },
        _ => false,
    }
}

/// One `||` alternative: `None` for `*` (every version).
fn parse_alternative(alt: &str) -> Result<Option<Vec<Bound>>, String> {
    // `>= 1.0` is one comparator: an operator alone joins the next token.
    let mut tokens: Vec<String> = Vec::new();
    let mut pending = String::new();
    for t in alt.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        if t.chars().all(|c| "<>=!~^".contains(c)) {
            pending.push_str(t);
            continue;
        }
        tokens.push(std::mem::take(&mut pending) + t);
    }
    if !pending.is_empty() {
        return Err(format!("`{pending}` is not followed by a version"));
    }
    if tokens.is_empty() {
        return Err("an empty alternative".to_string());
    }
    let mut bounds = Vec::new();
    for t in &tokens {
        let ops = ["===", "==", "!=", ">=", "<=", "~=", ">", "<", "=", "^", "~"];
        let (op, v) = match ops.iter().find(|o| t.starts_with(**o)) {
            Some(o) => (*o, t[o.len()..].trim()),
            None => ("", t.as_str()),
        };
        if v.is_empty() {
            return Err(format!("`{t}` names no version"));
        }
        if matches!(v, "*" | "x" | "X") {
            if op.is_empty() || op == "=" || op == "==" {
                if tokens.len() == 1 {
                    return Ok(None);
                }
                continue;
            }
            return Err(format!("`{t}`: a wildcard only goes with `=`"));
        }
        if let Some(prefix) = v
            .strip_suffix(".*")
            .or_else(|| v.strip_suffix(".x"))
            .or_else(|| v.strip_suffix(".X"))
        {
            let nums =
                numbers(prefix).ok_or_else(|| format!("`{t}`: `{prefix}` is not a release"))?;
            let (low, high) = (join(&nums), join(&bump(&nums, nums.len() - 1)));
            match op {
                "" | "=" | "==" => bounds.extend([
                    Bound {
                        op: Op::ReleaseGe,
                        version: low,
                    },
                    Bound {
                        op: Op::ReleaseLt,
                        version: high,
                    },
                ]),
                _ => return Err(format!("`{t}`: a wildcard only goes with `==`")),
            }
            continue;
        }
        check_version(v).map_err(|e| format!("`{t}`: {e}"))?;
        let simple = |op| Bound {
            op,
            version: v.to_string(),
        };
        match op {
            "" | "=" | "==" | "===" => bounds.push(simple(Op::Eq)),
            "!=" => bounds.push(simple(Op::Ne)),
            ">" => bounds.push(simple(Op::Gt)),
            ">=" => bounds.push(simple(Op::Ge)),
            "<" => bounds.push(simple(Op::Lt)),
            "<=" => bounds.push(simple(Op::Le)),
            "^" | "~" | "~=" => {
                let nums = numbers(release_of(v))
                    .ok_or_else(|| format!("`{t}`: `{v}` does not start with a release"))?;
                let at = match op {
                    // npm and Cargo: the first non-zero part may not change.
                    "^" => nums.iter().position(|n| *n != 0).unwrap_or(nums.len() - 1),
                    // `~1.2.3` and `~1.2`: the minor; `~1`: the major.
                    "~" => usize::from(nums.len() >= 2),
                    // PEP 440: all but the last given part.
                    _ => {
                        if nums.len() < 2 {
                            return Err(format!("`{t}`: `~=` needs at least two release parts"));
                        }
                        nums.len() - 2
                    }
                };
                bounds.extend([
                    simple(Op::Ge),
                    Bound {
                        op: Op::ReleaseLt,
                        version: join(&bump(&nums, at)),
                    },
                ]);
            }
            _ => return Err(format!("`{t}`: unknown operator")),
        }
    }
    Ok(Some(bounds))
}

/// A bound must be a version under one of the schemes.
fn check_version(v: &str) -> Result<(), String> {
    if Parsed::read(Scheme::Semver, v).is_some() || Parsed::read(Scheme::Pep440, v).is_some() {
        Ok(())
    } else {
        Err(format!("`{v}` is neither a SemVer nor a PEP 440 version"))
    }
}

/// The leading release numbers of `v` (`1.2.3` of `1.2.3-beta`).
fn release_of(v: &str) -> &str {
    let v = v.trim_start_matches(['v', '=']);
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    v[..end].trim_end_matches('.')
}

fn numbers(s: &str) -> Option<Vec<u64>> {
    let s = s.trim_start_matches(['v', '=']);
    if s.is_empty() {
        return None;
    }
    let nums: Option<Vec<u64>> = s.split('.').map(|p| p.parse().ok()).collect();
    nums.filter(|n| !n.is_empty() && n.len() <= 8)
}

/// `nums` with part `at` incremented and everything after it dropped.
fn bump(nums: &[u64], at: usize) -> Vec<u64> {
    let mut out = nums[..=at].to_vec();
    out[at] = out[at].saturating_add(1);
    out
}

fn join(nums: &[u64]) -> String {
    let mut parts: Vec<String> = nums.iter().map(u64::to_string).collect();
    // SemVer needs three parts; PEP 440 reads the same numbers either way.
    while parts.len() < 3 {
        parts.push("0".into());
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes(range: &str, scheme: Option<Scheme>, v: &str) -> bool {
        VersionRange::parse(range)
            .unwrap_or_else(|e| panic!("{range}: {e}"))
            .contains(scheme, v)
            .unwrap_or_else(|e| panic!("{range} {v}: {e}"))
    }

    const NPM: Option<Scheme> = Some(Scheme::Semver);
    const PYPI: Option<Scheme> = Some(Scheme::Pep440);

    #[test]
    fn a_bare_version_is_that_version_only() {
        assert!(yes("3.3.6", NPM, "3.3.6"));
        assert!(!yes("3.3.6", NPM, "3.3.7"));
        assert!(!yes("3.3.6", NPM, "3.4.0"));
        assert!(yes("=3.3.6", NPM, "v3.3.6"));
        assert!(yes("==2.0", PYPI, "2.0.0"));
    }

    #[test]
    fn pre_releases_inside_the_bounds_are_inside() {
        assert!(yes(">=3.3.0, <4.0.0", NPM, "3.4.0-beta.1"));
        assert!(yes(">=3.3.0 <4.0.0", NPM, "3.3.1-rc.0"));
        assert!(!yes(">=3.3.0, <4.0.0", NPM, "3.2.9"));
        assert!(!yes(">=3.3.0, <4.0.0", NPM, "4.0.0"));
        // PEP 440: post-releases come after, dev releases before.
        assert!(yes(">=1.0.0", PYPI, "1.0.0-post1"));
        assert!(yes(">=1.0.0", PYPI, "1.0.0.post1"));
        assert!(yes(">=1.0.0", PYPI, "2.0.0-dev1"));
        assert!(!yes(">=1.0.0", PYPI, "1.0.0.dev1"));
        assert!(yes("<2", PYPI, "2.0rc1"));
    }

    #[test]
    fn caret_tilde_and_wildcards() {
        assert!(yes("^3.3.6", NPM, "3.9.0"));
        assert!(!yes("^3.3.6", NPM, "4.0.0-beta"));
        assert!(!yes("^3.3.6", NPM, "3.3.5"));
        assert!(yes("^0.2.3", NPM, "0.2.9"));
        assert!(!yes("^0.2.3", NPM, "0.3.0"));
        assert!(!yes("^0.0.3", NPM, "0.0.4"));
        assert!(yes("~1.2.3", NPM, "1.2.9"));
        assert!(!yes("~1.2.3", NPM, "1.3.0"));
        assert!(yes("~=1.4.2", PYPI, "1.4.9"));
        assert!(!yes("~=1.4.2", PYPI, "1.5"));
        assert!(yes("~=2.2", PYPI, "2.9"));
        assert!(!yes("~=2.2", PYPI, "3.0"));
        assert!(yes("1.2.*", NPM, "1.2.0-alpha"));
        assert!(yes("==1.2.*", PYPI, "1.2.7.post1"));
        assert!(!yes("1.2.x", NPM, "1.3.0"));
        assert!(yes("*", NPM, "0.0.1"));
        assert!(yes("<1.0.0 || >=3.3.6, <3.3.7", NPM, "3.3.6"));
        assert!(yes("<1.0.0 || >=3.3.6, <3.3.7", NPM, "0.9.0"));
        assert!(!yes("<1.0.0 || >=3.3.6, <3.3.7", NPM, "2.0.0"));
    }

    #[test]
    fn unknown_schemes_try_semver_then_pep440() {
        assert!(yes(">=1.2, <2", None, "1.5.0.4"));
        let r = VersionRange::parse(">=1.0").unwrap();
        assert!(r.contains(NPM, "latest").is_err());
        assert!(r.contains(NPM, "3.3.06").is_err());
        assert!(r.contains(PYPI, "not-a-version").is_err());
    }

    #[test]
    fn versions_equal_in_their_scheme() {
        assert!(equal(NPM, "v1.2.3", "1.2.3"));
        assert!(equal(PYPI, "1.0", "1.0.0"));
        assert!(!equal(NPM, "3.3.5", "3.3.6"));
        // A range is not a version.
        assert!(!equal(NPM, ">=0", "3.3.5"));
        assert!(!equal(None, "latest", "latest2"));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for bad in [
            "",
            ">=",
            ">= ",
            "^",
            "~=1",
            ">=1.0 ||",
            "1.2.*.4",
            "~foo",
            &"1".repeat(2000),
        ] {
            assert!(VersionRange::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lint_finds_ranges_that_look_unintended() {
        let lint = |r: &str| VersionRange::parse(r).unwrap().lint(NPM);
        assert!(lint(">=2.0.0, <1.0.0").unwrap().contains("no version"));
        assert!(lint(">1.0.0, <=1.0.0").unwrap().contains("no version"));
        assert!(lint("*").unwrap().contains("every version"));
        assert!(lint("!=1.0.0").unwrap().contains("but"));
        assert_eq!(lint(">=1.0.0, <=1.0.0"), None);
        assert_eq!(lint("3.3.6"), None);
        assert_eq!(lint("^3.3.6"), None);
    }
}
