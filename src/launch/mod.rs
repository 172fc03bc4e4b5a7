//! Launching a verified server: process hygiene and supervision
//! (`spawn`), over the OS calls of `sys`, the crate's only unsafe code.

pub mod spawn;
#[cfg(unix)]
mod sys;

pub use spawn::{Exit, Launch, LaunchError, Program, SecretValue, run, run_with_input};
