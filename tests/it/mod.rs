#[macro_use]
pub mod util;

mod add;
mod add_sources;
mod bad_input;
mod cli;
mod client;
mod digest_mode;
mod docs;
mod everything;
mod generators;
mod happy;
mod keyring;
mod mcp_client;
mod mcpb;
mod net;
mod policy;
mod provenance;
mod sbom;
mod sbom_signed;
mod secrets;
mod sigstore;
mod snapshots;
mod sources;
mod tamper;
mod tls_server;
mod trust;
