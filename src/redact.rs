//! Redaction of everything a launch writes: the server's stderr, the
//! guard's own notes, and every string of every audit record (file and
//! OTLP export). One [`Redactor`] is built per launch in `run`, from that
//! launch's secret values, and shared by all three paths.
//!
//! What it replaces with `[REDACTED]`:
//! - each secret value of at least [`MIN_SECRET`] bytes, as is;
//! - its common encodings: hex (lower and upper case); percent-encoding
//!   (upper and lower case hex digits); base64, standard and URL-safe,
//!   whole (with and without padding) and as found inside the base64 of a
//!   longer text, at each of the 3 byte alignments the secret can have
//!   there (only the characters that depend on the secret's bytes alone
//!   are matched, so at most 2 characters carrying a few of its bits stay
//!   on either side);
//! - common token shapes (`Authorization:` values, bearer tokens, AWS,
//!   GitHub, Slack and `sk-` keys), whoever's they are.
//!
//! Secrets shorter than [`MIN_SECRET`] bytes are not matched: replacing
//! every occurrence of a 3-byte value would destroy ordinary text and
//! tell anyone reading which 3 bytes it is. `run` warns once when a
//! launch has such a secret.
//!
//! Works on whole lines, so a secret is never split across two calls.

use std::borrow::Cow;

use regex::bytes::{Captures, Regex};

use crate::secrets::SecretValue;

/// What replaces a redacted value.
pub const MARK: &[u8] = b"[REDACTED]";

/// Secret values shorter than this are not matched (they would redact
/// common words and numbers, and pointing at them would give the value
/// away); `run` warns when a secret is shorter.
pub const MIN_SECRET: usize = 6;

/// What marks text the guard cut short (`guard::truncate`).
const ELLIPSIS: &str = "…";

/// The shortest start of a secret redacted before an [`ELLIPSIS`].
const MIN_PREFIX: usize = 4;

/// Token shapes. Where a pattern has a `keep` group, that prefix (the
/// header or variable name) stays and only the value is replaced.
const SHAPES: &[&str] = &[
    // `Authorization: Basic ...`, `authorization=...`: the whole value.
    r#"(?i)(?P<keep>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^\r\n"']+"#,
    // `Bearer <token>` anywhere (also outside a header).
    r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*",
    // AWS access key ids.
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    // AWS secret keys and session tokens assigned to their usual names.
    r#"(?i)(?P<keep>\baws_(?:secret_access_key|session_token)["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]+"#,
    // GitHub tokens: classic and fine-grained.
    r"\bgh[pousr]_[A-Za-z0-9]{20,255}\b",
    r"\bgithub_pat_[A-Za-z0-9_]{20,255}\b",
    // Slack tokens.
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    // `sk-` API keys (OpenAI, Anthropic and similar).
    r"\bsk-[A-Za-z0-9_-]{20,}",
];

/// The token shapes, compiled once per process and only when a line is
/// first redacted: compiling them takes a millisecond or two, which a
/// server that writes nothing to stderr should not wait for at start.
/// ASCII semantics (`(?-u)`): `\b` and `(?i)` on bytes, which compiles
/// fast and matches exactly what [`may_hold_a_shape`] looks for.
static COMPILED: std::sync::LazyLock<Vec<(Regex, bool)>> = std::sync::LazyLock::new(|| {
    SHAPES
        .iter()
        .filter_map(|p| {
            Regex::new(&format!("(?-u){p}"))
                .ok()
                .map(|r| (r, p.contains("?P<keep>")))
        })
        .collect()
});

/// A literal that every match of a shape in [`SHAPES`] contains (compared
/// without regard to ASCII case), so that text without any of them is
/// passed without running, or even compiling, the patterns: most text
/// (every audit record, most stderr lines) holds none.
const SHAPE_LITERALS: &[&str] = &[
    "authorization",
    "bearer",
    "akia",
    "asia",
    "aws_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "sk-",
];

fn may_hold_a_shape(text: &[u8]) -> bool {
    let lower = text.to_ascii_lowercase();
    SHAPE_LITERALS
        .iter()
        .any(|l| memchr::memmem::find(&lower, l.as_bytes()).is_some())
}

/// Replaces secrets and token shapes in lines of text.
pub struct Redactor {
    /// The secret values of at least [`MIN_SECRET`] bytes and their
    /// encodings ([`encodings`]), longest first,
    /// replaced as literals (no pattern that could fail to compile or
    /// grow past a size limit; wiped from memory on drop).
    secrets: Vec<zeroize::Zeroizing<Vec<u8>>>,
    /// The longest form matched, in bytes (for cutting long lines safely).
    longest: usize,
    /// Secret values too short to be matched (see [`MIN_SECRET`]).
    short: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for these secrets (plus the token shapes).
    pub fn new(secrets: &[SecretValue]) -> Redactor {
        Redactor::from_values(secrets.iter().map(|s| s.expose().as_bytes()))
    }

    /// A redactor for these secret values given as bytes.
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Redactor {
        let mut short = 0;
        let mut vals: Vec<zeroize::Zeroizing<Vec<u8>>> = Vec::new();
        for v in values {
            if v.is_empty() {
                continue;
            }
            if v.len() < MIN_SECRET {
                short += 1;
                continue;
            }
            vals.extend(encodings(v));
        }
        vals.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        vals.dedup();
        let longest = vals.first().map_or(0, |v| v.len());
        Redactor {
            secrets: vals,
            longest,
            short,
        }
    }

    /// A redactor for the token shapes only (no secrets known).
    pub fn shapes_only() -> Redactor {
        Redactor::from_values(std::iter::empty())
    }

    /// The longest form of a secret matched, in bytes.
    pub fn longest_secret(&self) -> usize {
        self.longest
    }

    /// How many of the secret values were too short to be matched.
    pub fn too_short(&self) -> usize {
        self.short
    }

    /// `line` with every secret and token shape replaced by `[REDACTED]`.
    pub fn redact<'a>(&self, line: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out: Cow<'a, [u8]> = Cow::Borrowed(line);
        // Secrets first: a secret may contain a token shape's prefix.
        for secret in &self.secrets {
            if memchr::memmem::find(&out, secret).is_some() {
                let mut v = Vec::with_capacity(out.len());
                let mut at = 0;
                for k in memchr::memmem::find_iter(&out, secret.as_slice()) {
                    if k >= at {
                        v.extend_from_slice(&out[at..k]);
                        v.extend_from_slice(MARK);
                        at = k + secret.len();
                    }
                }
                v.extend_from_slice(&out[at..]);
                out = Cow::Owned(v);
            }
        }
        // Text cut short with an ellipsis (the guard quotes at most so
        // many bytes of what a peer sent) may end in the start of a
        // secret: that start goes too.
        if let Some(body) = out.strip_suffix(ELLIPSIS.as_bytes()) {
            let cut = self
                .secrets
                .iter()
                .filter_map(|secret| {
                    (MIN_PREFIX..secret.len())
                        .rev()
                        .find(|&n| body.ends_with(&secret[..n]))
                })
                .max();
            if let Some(n) = cut {
                let mut v = body[..body.len() - n].to_vec();
                v.extend_from_slice(MARK);
                v.extend_from_slice(ELLIPSIS.as_bytes());
                out = Cow::Owned(v);
            }
        }
        if !may_hold_a_shape(&out) {
            return out;
        }
        for (re, keep) in COMPILED.iter() {
            let replaced = if *keep {
                re.replace_all(&out, |c: &Captures<'_>| {
                    let mut v = c.name("keep").map_or(&[][..], |m| m.as_bytes()).to_vec();
                    v.extend_from_slice(MARK);
                    v
                })
            } else {
                re.replace_all(&out, MARK)
            };
            if let Cow::Owned(v) = replaced {
                out = Cow::Owned(v);
            }
        }
        out
    }

    /// [`Redactor::redact`] for text.
    pub fn redact_str(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.redact(text.as_bytes())).into_owned()
    }
}

const B64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 of `data` (no padding) with this alphabet.
fn b64(data: &[u8], alphabet: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
    out
}

/// The characters of base64 that depend on `secret`'s bytes alone when it
/// starts `offset` (0, 1 or 2) bytes into a 3-byte group of a longer
/// text: the characters shared with the neighbouring bytes are left out.
fn b64_core(secret: &[u8], offset: usize, alphabet: &[u8; 64]) -> Vec<u8> {
    let mut padded = zeroize::Zeroizing::new(vec![0u8; offset]);
    padded.extend_from_slice(secret);
    let enc = b64(&padded, alphabet);
    // Leading characters that hold bits of the bytes before the secret.
    let skip = [0, 2, 3][offset];
    // Characters fully determined by the bytes given: 4 per whole group,
    // then 1 for a trailing byte and 2 for two trailing bytes.
    let total = padded.len();
    let end = total / 3 * 4 + total % 3;
    enc[skip..end.min(enc.len())].to_vec()
}

/// Percent-encoding of every byte outside `keep` and the ASCII letters
/// and digits, with upper- or lower-case hex digits.
fn percent(data: &[u8], keep: &[u8], upper: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 3);
    for &b in data {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b);
        } else {
            out.push(b'%');
            let h = if upper {
                hex::encode_upper([b])
            } else {
                hex::encode([b])
            };
            out.extend_from_slice(h.as_bytes());
        }
    }
    out
}

/// `secret` and every encoding of it that the redactor matches (see the
/// module docs); duplicates are removed by the caller.
pub(crate) fn encodings(secret: &[u8]) -> Vec<zeroize::Zeroizing<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
    ];
    // RFC 3986's unreserved set, and JavaScript's encodeURIComponent's.
    for keep in [&b"-._~"[..], &b"-_.!~*'()"[..]] {
        out.push(percent(secret, keep, true));
        out.push(percent(secret, keep, false));
    }
    for alphabet in [B64_STD, B64_URL] {
        let whole = b64(secret, alphabet);
        let mut padded = whole.clone();
        padded.resize(secret.len().div_ceil(3) * 4, b'=');
        out.push(padded);
        out.push(whole);
        for offset in 0..3 {
            out.push(b64_core(secret, offset, alphabet));
        }
    }
    out.into_iter().map(zeroize::Zeroizing::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(secrets: &[&str]) -> Redactor {
        Redactor::from_values(secrets.iter().map(|s| s.as_bytes()))
    }

    fn red(re: &Redactor, s: &str) -> String {
        String::from_utf8(re.redact(s.as_bytes()).into_owned()).unwrap()
    }

    /// The prefilter never hides a match: wherever a shape matches, one of
    /// its literals is there, over generated text full of near-tokens.
    #[test]
    fn the_shape_prefilter_never_hides_a_match() {
        let parts = [
            "Authorization: Basic dXNlcjpwYXNz",
            "PROXY-AUTHORIZATION=abc",
            "bearer ",
            "BeArEr abcdefgh12345678",
            "AKIAABCDEFGHIJKLMNOP",
            "ASIA0123456789ABCDEF",
            "aws_secret_access_key = x/y+z=",
            "AWS_SESSION_TOKEN:\"tok\"",
            "ghp_0123456789abcdefghijABCD",
            "GHS_0123456789abcdefghij",
            "github_pat_0123456789_abcdefghij",
            "xoxb-0123456789-abc",
            "sk-abcdefghijklmnopqrstuvwx",
            "é",
            "ſ",
            "K",
            " ",
            "\n",
            "_",
            "-",
            "=",
            ":",
            "\"",
            "'",
            "0123456789",
            "word",
            "ÉTÉ",
        ];
        let mut rng = crate::launch::guard::test_rng::Rng(0x5eed);
        let (mut with_shape, mut total) = (0, 0);
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..rng.below(6) + 1 {
                text.push_str(rng.pick(&parts));
            }
            total += 1;
            let any = COMPILED.iter().any(|(re, _)| re.is_match(text.as_bytes()));
            if any {
                with_shape += 1;
                assert!(may_hold_a_shape(text.as_bytes()), "{text:?}");
            }
        }
        assert!(with_shape > total / 10, "{with_shape} of {total}");
    }

    #[test]
    fn secret_values_are_redacted_wherever_they_appear() {
        let re = r(&["s3cret-canary", "abc", "s3cret-canary-longer"]);
        assert_eq!(
            red(&re, "token=s3cret-canary-longer and s3cret-canary;x"),
            "token=[REDACTED] and [REDACTED];x"
        );
        // Shorter than 4 bytes: not matched.
        assert_eq!(red(&re, "abc abcd"), "abc abcd");
        // Regex metacharacters in a secret are literal.
        let re = r(&["a.b*c(d)"]);
        assert_eq!(red(&re, "a.b*c(d) axbbc(d)"), "[REDACTED] axbbc(d)");
        assert_eq!(re.longest_secret(), "a.b*c(d)".len() * 3 - 4 * 2);
        // Shorter than MIN_SECRET: counted, not matched.
        let re = r(&["12345", "123456"]);
        assert_eq!(re.too_short(), 1);
        assert_eq!(red(&re, "12345 123456"), "12345 [REDACTED]");
    }

    const CANARY: &str = "canary/9d2f7a s3cr3t";

    /// Encoders from the `base64` crate, not the redactor's own.
    fn engines() -> Vec<(&'static str, base64::engine::GeneralPurpose)> {
        use base64::engine::general_purpose as gp;
        vec![
            ("standard", gp::STANDARD),
            ("standard-no-pad", gp::STANDARD_NO_PAD),
            ("url-safe", gp::URL_SAFE),
            ("url-safe-no-pad", gp::URL_SAFE_NO_PAD),
        ]
    }

    #[test]
    fn base64_of_the_secret_alone_and_inside_longer_text_at_every_alignment() {
        use base64::Engine as _;
        let re = r(&[CANARY]);
        for (name, engine) in engines() {
            let whole = engine.encode(CANARY);
            assert_eq!(
                red(&re, &format!("x {whole} y")),
                "x [REDACTED] y",
                "{name}"
            );
            for before in 0..6 {
                for after in 0..6 {
                    let text = format!("{}{CANARY}{}", &"abcdef"[..before], &"uvwxyz"[..after]);
                    let enc = engine.encode(&text);
                    let out = red(&re, &enc);
                    assert!(out.contains("[REDACTED]"), "{name} {before} {after}: {out}");
                    // What is left: the neighbours' characters and at most
                    // two mixed characters on either side (plus padding).
                    let left = out.len() - "[REDACTED]".len();
                    let neighbours = (before + after) * 4 / 3 + 4 + 2 + 2;
                    assert!(
                        left <= neighbours,
                        "{name} {before} {after}: {enc} -> {out}"
                    );
                }
            }
        }
    }

    #[test]
    fn hex_and_percent_encodings() {
        let re = r(&[CANARY]);
        let lower = hex::encode(CANARY);
        let upper = hex::encode_upper(CANARY);
        for (enc, what) in [
            (lower.as_str(), "hex"),
            (upper.as_str(), "HEX"),
            ("canary%2F9d2f7a%20s3cr3t", "percent upper"),
            ("canary%2f9d2f7a%20s3cr3t", "percent lower"),
        ] {
            assert_eq!(
                red(&re, &format!("a={enc}&b=1")),
                "a=[REDACTED]&b=1",
                "{what}"
            );
        }
        // encodeURIComponent leaves !'()* alone; RFC 3986 escapes them.
        let re = r(&["it's(a)secret!"]);
        for enc in ["it's(a)secret!", "it%27s%28a%29secret%21", "it's(a)secret!"] {
            assert_eq!(red(&re, enc), "[REDACTED]", "{enc}");
        }
    }

    #[test]
    fn encodings_are_found_by_an_independent_encoder() {
        // The redactor's base64 against the `base64` crate's.
        use base64::Engine as _;
        for s in ["abcdef", "abcdefg", "abcdefgh", "\u{ff}\u{fe}binary\u{0}"] {
            let all = encodings(s.as_bytes());
            for (_, engine) in engines() {
                let e = engine.encode(s);
                assert!(all.iter().any(|v| v.as_slice() == e.as_bytes()), "{s}: {e}");
            }
        }
    }

    #[test]
    fn many_large_secrets_are_all_redacted() {
        // 64 KiB each, the most `secret set` takes, and many of them:
        // replaced as literals, every one, whatever their number and size.
        let values: Vec<Vec<u8>> = (0..40u8)
            .map(|i| (0..65536).map(|k| b'a' + ((k as u8) ^ i) % 26).collect())
            .collect();
        let re = Redactor::from_values(values.iter().map(Vec::as_slice));
        for v in [&values[0], &values[39]] {
            let mut line = b"token=".to_vec();
            line.extend_from_slice(v);
            line.extend_from_slice(b" end");
            assert_eq!(re.redact(&line).as_ref(), b"token=[REDACTED] end");
        }
    }

    #[test]
    fn non_utf8_lines_and_secrets() {
        let re = Redactor::from_values([&b"\xffsecret\xfe"[..]]);
        assert_eq!(
            re.redact(b"x \xffsecret\xfe y \xff").into_owned(),
            b"x [REDACTED] y \xff".to_vec()
        );
    }

    #[test]
    fn token_shapes() {
        let re = r(&[]);
        let cases = [
            (
                "> Authorization: Basic dXNlcjpwYXNz",
                "> Authorization: [REDACTED]",
            ),
            (
                "header authorization=\"tok en\" next",
                "header authorization=\"[REDACTED]\" next",
            ),
            (
                "using Bearer eyJhbGciOi.J9.x-y_z~ now",
                "using Bearer [REDACTED] now",
            ),
            ("key AKIAIOSFODNN7EXAMPLE.", "key [REDACTED]."),
            ("key ASIAIOSFODNN7EXAMPLE", "key [REDACTED]"),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end",
                "aws_secret_access_key=[REDACTED] end",
            ),
            (
                "AWS_SESSION_TOKEN: \"FwoGZXIvYXdzEB==\"",
                "AWS_SESSION_TOKEN: \"[REDACTED]\"",
            ),
            (
                "gh ghp_16C7e42F292c6912E7710c838347Ae178B4a!",
                "gh [REDACTED]!",
            ),
            ("gho_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED]"),
            ("ghu_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED]"),
            ("ghs_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED]"),
            ("ghr_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED]"),
            (
                "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
                "pat [REDACTED]",
            ),
            ("slack xoxb-123456789012-abcdefABCDEF", "slack [REDACTED]"),
            ("k sk-proj-abcdefghijklmnopqrstuvwx", "k [REDACTED]"),
        ];
        for (input, want) in cases {
            assert_eq!(red(&re, input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_text_is_untouched_and_borrowed() {
        let re = r(&["canary-value"]);
        for line in [
            "server started on port 8080",
            "ghp_short is not a token; AKIA alone neither",
            "the bearer of bad news",
            "task-list: ok",
        ] {
            assert!(
                matches!(re.redact(line.as_bytes()), Cow::Borrowed(_)),
                "{line}"
            );
        }
    }

    #[test]
    fn the_start_of_a_secret_before_a_cut_is_redacted() {
        let re = r(&[CANARY]);
        let hex = hex::encode(CANARY);
        for (text, want) in [
            (
                format!("error: {}…", &CANARY[..9]),
                "error: [REDACTED]…".to_string(),
            ),
            (
                format!("error: {}…", &hex[..10]),
                "error: [REDACTED]…".to_string(),
            ),
            // Too short a start to say anything: kept.
            (
                format!("error: {}…", &CANARY[..3]),
                format!("error: {}…", &CANARY[..3]),
            ),
            // No ellipsis: not a cut.
            (
                format!("error: {}", &CANARY[..9]),
                format!("error: {}", &CANARY[..9]),
            ),
        ] {
            assert_eq!(red(&re, &text), want, "{text}");
        }
        // Through the guard's own truncation.
        let long = format!("{}{CANARY}", "x".repeat(490));
        let cut = crate::launch::guard::truncate(&long, 500);
        assert!(!red(&re, &cut).contains(&CANARY[..6]));
    }

    #[test]
    fn notes_are_redacted_too() {
        let re = r(&["canary-value"]);
        assert_eq!(
            re.redact_str("tool x got canary-value"),
            "tool x got [REDACTED]"
        );
    }
}
