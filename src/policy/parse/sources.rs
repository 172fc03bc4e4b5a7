//! `[sources]`: what may be pinned at all, whatever the evidence.

use toml::de::DeTable;

use super::Parser;
use crate::policy::At;

impl Parser<'_> {
    /// `allow-unsigned`: whether `add --unsigned --reason` may pin a
    /// server without a signature (default true).
    pub(super) fn sources(&mut self, t: &DeTable) -> Option<At<bool>> {
        self.check_keys(t, &["allow-unsigned"], "[sources]");
        let (_, v) = Self::get(t, "allow-unsigned")?;
        let loc = self.loc(v.span());
        self.boolean(t, "allow-unsigned")
            .map(|value| At { value, loc })
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::parse::tests::{check, codes};

    #[test]
    fn allow_unsigned_is_a_boolean_with_its_position() {
        let (p, d) = check("version = 1\n[sources]\nallow-unsigned = false\n");
        assert!(d.is_empty(), "{d:?}");
        let a = p.unwrap().allow_unsigned.unwrap();
        assert!(!a.value);
        assert_eq!(a.loc.to_string(), "p.toml:3:18");
        // Not said: the built-in default (allowed) applies.
        let (p, _) = check("version = 1\n[sources]\n");
        assert!(p.unwrap().allow_unsigned.is_none());
        let (_, d) = check("version = 1\n[sources]\nallow-unsigned = \"no\"\n");
        assert_eq!(codes(&d), vec!["policy-type"]);
        let (_, d) = check("version = 1\n[sources]\nallow-unsigend = false\n");
        assert_eq!(codes(&d), vec!["policy-unknown-key"]);
        let (_, d) = check("version = 1\nsources = false\n");
        assert_eq!(codes(&d), vec!["policy-type"]);
    }
}
