//! Redaction of the server's stderr (and of the guard's own notes): the
//! values of the server's secrets, and common token shapes, become
//! `[REDACTED]`. Works on whole lines, so a secret is never split across
//! two calls.

use std::borrow::Cow;

use regex::bytes::{Captures, Regex};

use crate::secrets::SecretValue;

/// What replaces a redacted value.
pub const MARK: &[u8] = b"[REDACTED]";

/// Secret values shorter than this are not matched (they would redact
/// common words and numbers, and say little about the secret).
pub const MIN_SECRET: usize = 4;

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
static COMPILED: std::sync::LazyLock<Vec<(Regex, bool)>> = std::sync::LazyLock::new(|| {
    SHAPES
        .iter()
        .filter_map(|p| Regex::new(p).ok().map(|r| (r, p.contains("?P<keep>"))))
        .collect()
});

/// Replaces secrets and token shapes in lines of text.
pub struct Redactor {
    /// The secret values of at least [`MIN_SECRET`] bytes, longest first,
    /// replaced as literals (no pattern that could fail to compile or
    /// grow past a size limit; wiped from memory on drop).
    secrets: Vec<zeroize::Zeroizing<Vec<u8>>>,
    /// The longest secret, in bytes (for cutting long lines safely).
    longest: usize,
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
        let mut vals: Vec<&[u8]> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_SECRET)
            .collect();
        vals.sort_by_key(|v| std::cmp::Reverse(v.len()));
        vals.dedup();
        let longest = vals.first().map_or(0, |v| v.len());
        Redactor {
            secrets: vals
                .into_iter()
                .map(|v| zeroize::Zeroizing::new(v.to_vec()))
                .collect(),
            longest,
        }
    }

    /// The longest secret value matched, in bytes.
    pub fn longest_secret(&self) -> usize {
        self.longest
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

#[cfg(test)]
mod tests {
    use super::*;

    fn r(secrets: &[&str]) -> Redactor {
        Redactor::from_values(secrets.iter().map(|s| s.as_bytes()))
    }

    fn red(re: &Redactor, s: &str) -> String {
        String::from_utf8(re.redact(s.as_bytes()).into_owned()).unwrap()
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
        assert_eq!(re.longest_secret(), 8);
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
    fn notes_are_redacted_too() {
        let re = r(&["canary-value"]);
        assert_eq!(
            re.redact_str("tool x got canary-value"),
            "tool x got [REDACTED]"
        );
    }
}
