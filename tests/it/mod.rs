#[macro_use]
pub mod util;

mod bad_input;
mod cli;
mod digest_mode;
mod docs;
mod generators;
mod happy;
mod mcpb;
mod policy;
mod provenance;
mod sbom;
mod sbom_signed;
mod sigstore;
mod snapshots;
mod tamper;
mod trust;
