//! The words of the audit log's records: what the guard did with a call,
//! what `run` decided about a launch, and what a guard record is about.

/// What the guard did with one `tools/call`; recorded as its kebab-case
/// word (`rate-limited`), the log's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDecision {
    Allowed,
    Denied,
    Confirmed,
    Declined,
    RateLimited,
    InvalidArguments,
    Unpinned,
    TooManyInFlight,
}

impl CallDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            CallDecision::Allowed => "allowed",
            CallDecision::Denied => "denied",
            CallDecision::Confirmed => "confirmed",
            CallDecision::Declined => "declined",
            CallDecision::RateLimited => "rate-limited",
            CallDecision::InvalidArguments => "invalid-arguments",
            CallDecision::Unpinned => "unpinned",
            CallDecision::TooManyInFlight => "too-many-in-flight",
        }
    }

    /// The call reached the server with the user's or the policy's consent.
    pub fn went_through(self) -> bool {
        matches!(self, CallDecision::Allowed | CallDecision::Confirmed)
    }
}

/// What `run` decided about a launch; the record's `verdict` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchVerdict {
    Allowed,
    Denied,
    /// The checks could not be completed (exit 2).
    Error,
}

impl LaunchVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchVerdict::Allowed => "allowed",
            LaunchVerdict::Denied => "denied",
            LaunchVerdict::Error => "error",
        }
    }
}

/// What a `guard` record is about; the record's `kind` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    /// A message the guard refused and answered or dropped.
    Refused,
    /// A server message dropped without an answer.
    Dropped,
    /// Pinned tools, prompts or resources that the server changed.
    ToolChanged,
    PromptChanged,
    ResourceChanged,
    /// Events of this run that could not be written earlier.
    AuditGap,
    /// The log did not match its keychain anchor when `run` opened it.
    AuditAnchor,
}

impl GuardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardKind::Refused => "refused",
            GuardKind::Dropped => "dropped",
            GuardKind::ToolChanged => "tool-changed",
            GuardKind::PromptChanged => "prompt-changed",
            GuardKind::ResourceChanged => "resource-changed",
            GuardKind::AuditGap => "audit-gap",
            GuardKind::AuditAnchor => super::anchor::ANCHOR_ITEM,
        }
    }
}

macro_rules! words {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    )*};
}
words!(CallDecision, LaunchVerdict, GuardKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_keep_their_words() {
        assert_eq!(CallDecision::RateLimited.to_string(), "rate-limited");
        assert_eq!(
            serde_json::to_string(&CallDecision::InvalidArguments).unwrap(),
            r#""invalid-arguments""#
        );
        assert_eq!(CallDecision::TooManyInFlight, "too-many-in-flight");
        assert!(CallDecision::Confirmed.went_through() && !CallDecision::Declined.went_through());
        assert_eq!(LaunchVerdict::Error.as_str(), "error");
        assert_eq!(GuardKind::PromptChanged.as_str(), "prompt-changed");
        assert_eq!(GuardKind::AuditAnchor.as_str(), "audit-anchor");
    }
}
