//! Launching a verified server: the verified files held open from check
//! to exec (`anchor`), how it starts (`entry`), what it sees
//! (`env`), its resource limits (`limits`), and process hygiene and
//! supervision (`spawn`) over the OS calls of `sys`, the crate's only
//! unsafe code. The receipt that spares a re-hash is `crate::receipt`.

pub mod anchor;
pub mod denials;
pub mod entry;
pub mod env;
pub mod guard;
pub mod interp;
pub mod limits;
pub mod sandbox;
pub mod spawn;
#[cfg(unix)]
pub(crate) mod sys;

pub use spawn::{Exit, Launch, LaunchError, Program, Unit, run, run_with_input};
