//! The pipelines behind the commands: judge evidence, pin a server, prepare
//! a launch. Every trust decision a command makes is made here; `cli` only
//! turns flags into requests and prints the outcomes.

pub mod judge;
pub mod launch;
pub mod list;
pub mod pin;
pub mod pinned;
pub mod policy;
pub mod restore;
pub mod sbom;
pub mod verify;

use crate::diag::{Code, Failure};

/// An error of mcp-warden's own, reported as the command line reports any
/// unexpected error: its message and causes on one line.
pub(crate) fn internal(e: &dyn std::error::Error) -> Failure {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    Failure::input(Code::Internal, message, None)
}
