//! Untrusted text made safe to show: in messages, warnings and log lines,
//! where a control character could forge lines or drive a terminal.
//!
//! Two rules, for two needs: [`printable`] is for text that is read
//! (descriptions, names in prose, log fields), [`quoted`] for a name that
//! is quoted as evidence and must show exactly what was there (a hostile
//! archive entry, a refused server name), so `a\nb` stays distinct from
//! `a?b`.

/// `s` with each control character replaced by `?`, cut to `max_chars`
/// characters, with `…` appended when it was cut.
pub fn printable(s: &str, max_chars: usize) -> String {
    let mut chars = s.chars();
    let mut out: String = chars
        .by_ref()
        .take(max_chars)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// `s` with each character escaped as Rust's `char::escape_debug` does
/// (`\n`, `\u{1b}`, `\"`), at most `max_chars` characters of `s`, with `…`
/// appended when it was cut.
pub fn quoted(s: &str, max_chars: usize) -> String {
    let mut chars = s.chars();
    let mut out: String = chars
        .by_ref()
        .take(max_chars)
        .flat_map(char::escape_debug)
        .collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_replaces_controls_and_marks_a_cut() {
        assert_eq!(printable("a\nb\u{1b}[2J", 80), "a?b?[2J");
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("abc", 3), "abc");
        assert_eq!(printable("ééé", usize::MAX), "ééé");
    }

    #[test]
    fn quoted_escapes_and_marks_a_cut() {
        assert_eq!(quoted("a\nb\"", 80), "a\\nb\\\"");
        assert_eq!(quoted("\u{1b}xyz", 2), "\\u{1b}x…");
    }
}
