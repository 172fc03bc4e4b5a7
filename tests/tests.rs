//! The integration test suite: one binary (so the crate and the
//! `mcp-warden` executable are built and linked once), with its modules
//! under `tests/it/`. Every test runs the real executable in a scrubbed
//! environment with its own temporary home and system directory; keys
//! and signatures are made by the real tools (minisign, ssh-keygen,
//! openssl), or come from `fixtures/` where output must be stable.

mod it;
