//! mcp-warden: a verifying loader for MCP servers.
//!
//! Verification modules (`digest`, `signature`) turn bytes into evidence
//! and never decide; `policy` alone decides, from evidence, and explains.
// Denied everywhere; only `launch::sys` allows it, for the OS calls
// that process supervision needs.
#![deny(unsafe_code)]

pub mod archive;
pub mod audit;
pub mod cache;
pub mod child;
pub mod cli;
pub mod client;
pub mod context;
pub mod deps;
pub mod diag;
pub mod digest;
pub mod evidence;
pub mod fsutil;
pub mod identity;
pub mod launch;
pub mod lock;
pub mod mcpb;
pub mod names;
pub mod net;
pub mod ops;
pub mod policy;
pub mod provenance;
pub mod random;
pub mod receipt;
pub mod redact;
pub mod report;
pub mod sbom;
pub mod secrets;
pub mod signature;
pub mod source;
pub mod text;
pub mod trust;
pub mod verify;
pub mod x509;
