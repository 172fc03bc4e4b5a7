//! The guard's own identifiers, which a peer must not be able to guess
//! or forge (issue 16, items 5 and 6).
//!
//! - Ids of the guard's requests ([`guard_id`]): `"mcp-warden-"` and 128
//!   random bits, fresh for every request. The session keeps the ids it
//!   sent to the client (confirmations) apart from those it sent to the
//!   server (its re-lists), and matches an answer only against the ids
//!   sent to the side it came from; neither side ever sees the other's.
//! - The `requestState` of a 2026-07-28 confirmation ([`StateKeys`]): a
//!   token the guard issues in its `input_required` result, authenticated
//!   by HMAC-SHA256 under a key drawn for the session, bound to the
//!   session, the tool's name and the digest of its canonical arguments,
//!   expiring, and single use (spent tokens are remembered in a bounded
//!   set; when it is full, the oldest are forgotten and every token issued
//!   before them is refused, so forgetting never makes a token usable
//!   again).
//!
//! The random bits come straight from the operating system's generator
//! ([`crate::random`]); the MAC is the `hmac` crate's. (Not aws-lc's:
//! its first use in a process costs some 20 ms of initialisation, which
//! every `run` would pay.)

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac as _};

/// The prefix of every id and token the guard issues; a peer's request
/// whose decoded id starts with it is refused.
pub const GUARD_ID_PREFIX: &str = "mcp-warden-";
/// The prefix of the guard's `requestState` tokens.
const STATE_PREFIX: &str = "mcp-warden-rs1.";
/// Spent tokens remembered at most.
pub const MAX_SPENT: usize = 1024;

/// `N` bytes from the CSPRNG. Without randomness the guard cannot issue
/// ids a peer cannot guess: it stops rather than issue guessable ones.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    crate::random::bytes().expect("the system's random number generator failed")
}

/// A fresh id for one request of the guard: 128 random bits.
pub fn guard_id() -> String {
    format!("{GUARD_ID_PREFIX}{}", hex::encode(random_bytes::<16>()))
}

/// Whose round of a confirmed call a token continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round {
    /// The guard's own question: the retry carries the user's answer.
    Guard,
    /// The server answered the confirmed call with `input_required`
    /// itself: the retry goes on to the server with the server's own
    /// `requestState` (none when it gave none).
    Server(Option<String>),
}

/// Why a token was not honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Not a token of this session for this tool and these arguments.
    Forged,
    Expired,
    /// Used once already.
    Reused,
}

impl Rejected {
    pub fn describe(self) -> &'static str {
        match self {
            Rejected::Forged => {
                "was not issued by the guard for this call (forged, from another session, or for another tool or other arguments)"
            }
            Rejected::Expired => "has expired",
            Rejected::Reused => "was already used",
        }
    }
}

/// The session's `requestState` key and the tokens spent.
pub struct StateKeys {
    key: [u8; 32],
    session: [u8; 16],
    next_seq: u64,
    /// Spent tokens: sequence number → expiry (session milliseconds).
    spent: BTreeMap<u64, u64>,
    /// Tokens numbered at most this are refused (spent ones forgotten).
    floor: u64,
}

impl std::fmt::Debug for StateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateKeys")
            .field("spent", &self.spent.len())
            .finish_non_exhaustive()
    }
}

impl Default for StateKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl StateKeys {
    pub fn new() -> StateKeys {
        StateKeys {
            key: random_bytes::<32>(),
            session: random_bytes::<16>(),
            next_seq: 1,
            spent: BTreeMap::new(),
            floor: 0,
        }
    }

    /// A token for one retry of `tool` with arguments of digest `args`,
    /// valid until `expires` (milliseconds of the session's clock).
    pub fn issue(&mut self, expires: u64, tool: &str, args: &str, round: &Round) -> String {
        let seq = self.next_seq;
        self.next_seq += 1;
        let (kind, state) = match round {
            Round::Guard => (b'g', None),
            Round::Server(None) => (b'n', None),
            Round::Server(Some(s)) => (b's', Some(s.as_str())),
        };
        let data = self.signed(seq, expires, kind, tool, args, state);
        let tag = self.mac(&data).finalize().into_bytes();
        format!(
            "{STATE_PREFIX}{seq}.{expires}.{}.{}.{}",
            kind as char,
            B64.encode(state.unwrap_or("")),
            B64.encode(tag.as_slice())
        )
    }

    /// Honours `token` once, for this call, before it expires.
    pub fn redeem(
        &mut self,
        token: &str,
        now: u64,
        tool: &str,
        args: &str,
    ) -> Result<Round, Rejected> {
        let parts = token.strip_prefix(STATE_PREFIX).ok_or(Rejected::Forged)?;
        let p: Vec<&str> = parts.split('.').collect();
        let [seq, expires, kind, state, tag] = p[..] else {
            return Err(Rejected::Forged);
        };
        let seq: u64 = seq.parse().map_err(|_| Rejected::Forged)?;
        let expires: u64 = expires.parse().map_err(|_| Rejected::Forged)?;
        let kind = match kind {
            "g" => b'g',
            "n" => b'n',
            "s" => b's',
            _ => return Err(Rejected::Forged),
        };
        let state = B64.decode(state).map_err(|_| Rejected::Forged)?;
        let state = String::from_utf8(state).map_err(|_| Rejected::Forged)?;
        let tag = B64.decode(tag).map_err(|_| Rejected::Forged)?;
        let state = (kind == b's').then_some(state);
        let data = self.signed(seq, expires, kind, tool, args, state.as_deref());
        // Compared in constant time.
        self.mac(&data)
            .verify_slice(&tag)
            .map_err(|_| Rejected::Forged)?;
        if expires <= now {
            return Err(Rejected::Expired);
        }
        if seq <= self.floor || self.spent.contains_key(&seq) {
            return Err(Rejected::Reused);
        }
        self.spend(seq, expires, now);
        Ok(match kind {
            b'g' => Round::Guard,
            _ => Round::Server(state),
        })
    }

    fn spend(&mut self, seq: u64, expires: u64, now: u64) {
        // Expired tokens are refused anyway: no need to remember them.
        self.spent.retain(|_, e| *e > now);
        while self.spent.len() >= MAX_SPENT {
            match self.spent.pop_first() {
                Some((s, _)) => self.floor = self.floor.max(s),
                None => break,
            }
        }
        self.spent.insert(seq, expires);
    }

    pub fn spent_len(&self) -> usize {
        self.spent.len()
    }

    /// What the tag covers, each field length-prefixed.
    fn mac(&self, data: &[u8]) -> Hmac<sha2::Sha256> {
        let mut m = <Hmac<sha2::Sha256>>::new_from_slice(&self.key).expect("any key length");
        m.update(data);
        m
    }

    fn signed(
        &self,
        seq: u64,
        expires: u64,
        kind: u8,
        tool: &str,
        args: &str,
        state: Option<&str>,
    ) -> Vec<u8> {
        let mut d = Vec::with_capacity(96 + tool.len() + args.len());
        d.extend_from_slice(b"mcp-warden requestState v1\0");
        d.extend_from_slice(&self.session);
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&expires.to_be_bytes());
        d.push(kind);
        for f in [tool, args, state.unwrap_or("")] {
            d.extend_from_slice(&(f.len() as u64).to_be_bytes());
            d.extend_from_slice(f.as_bytes());
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_ids_are_fresh_and_carry_128_random_bits() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| guard_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            let hex = id.strip_prefix(GUARD_ID_PREFIX).unwrap();
            assert_eq!(hex.len(), 32, "{id}");
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
    }

    #[test]
    fn tokens_are_bound_single_use_and_expiring() {
        let mut k = StateKeys::new();
        let t = k.issue(1000, "danger", "sha256:aa", &Round::Guard);
        assert!(t.starts_with(GUARD_ID_PREFIX));
        // Other tool, other arguments, another session: forged.
        assert_eq!(k.redeem(&t, 0, "echo", "sha256:aa"), Err(Rejected::Forged));
        assert_eq!(
            k.redeem(&t, 0, "danger", "sha256:bb"),
            Err(Rejected::Forged)
        );
        assert_eq!(
            StateKeys::new().redeem(&t, 0, "danger", "sha256:aa"),
            Err(Rejected::Forged)
        );
        // Edited fields: a later expiry, another kind.
        let edited = t.replacen(".1000.", ".9999.", 1);
        assert_eq!(
            k.redeem(&edited, 0, "danger", "sha256:aa"),
            Err(Rejected::Forged)
        );
        let edited = t.replacen(".g.", ".n.", 1);
        assert_eq!(
            k.redeem(&edited, 0, "danger", "sha256:aa"),
            Err(Rejected::Forged)
        );
        for junk in [
            "",
            "x",
            "mcp-warden-rs1.",
            "mcp-warden-rs1.1.2.g..",
            "mcp-warden-1",
        ] {
            assert_eq!(
                k.redeem(junk, 0, "danger", "sha256:aa"),
                Err(Rejected::Forged)
            );
        }
        // Expired.
        assert_eq!(
            k.redeem(&t, 1000, "danger", "sha256:aa"),
            Err(Rejected::Expired)
        );
        // Once, then reused.
        assert_eq!(k.redeem(&t, 999, "danger", "sha256:aa"), Ok(Round::Guard));
        assert_eq!(
            k.redeem(&t, 999, "danger", "sha256:aa"),
            Err(Rejected::Reused)
        );
        // A server's own state rides inside, authenticated.
        let s = Round::Server(Some("opaque.state/é".into()));
        let t = k.issue(1000, "danger", "sha256:aa", &s);
        assert_eq!(k.redeem(&t, 0, "danger", "sha256:aa"), Ok(s));
        let t = k.issue(1000, "danger", "sha256:aa", &Round::Server(None));
        assert_eq!(
            k.redeem(&t, 0, "danger", "sha256:aa"),
            Ok(Round::Server(None))
        );
    }

    #[test]
    fn the_spent_set_is_bounded_and_forgetting_never_revives_a_token() {
        let mut k = StateKeys::new();
        let first = k.issue(u64::MAX, "t", "a", &Round::Guard);
        let unused = k.issue(u64::MAX, "t", "a", &Round::Guard);
        assert!(k.redeem(&first, 0, "t", "a").is_ok());
        for _ in 0..MAX_SPENT + 10 {
            let t = k.issue(u64::MAX, "t", "a", &Round::Guard);
            assert!(k.redeem(&t, 0, "t", "a").is_ok());
        }
        assert!(k.spent_len() <= MAX_SPENT);
        assert_eq!(k.redeem(&first, 0, "t", "a"), Err(Rejected::Reused));
        // Issued before the forgotten ones: refused too (asked again).
        assert_eq!(k.redeem(&unused, 0, "t", "a"), Err(Rejected::Reused));
        // Expired entries are pruned first.
        let mut k = StateKeys::new();
        for i in 0..10 {
            let t = k.issue(100 + i, "t", "a", &Round::Guard);
            assert!(k.redeem(&t, 0, "t", "a").is_ok());
        }
        let t = k.issue(10_000, "t", "a", &Round::Guard);
        assert!(k.redeem(&t, 5_000, "t", "a").is_ok());
        assert_eq!(k.spent_len(), 1);
    }
}
