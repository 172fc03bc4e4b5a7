//! What the test modules share: the test environment and its assertions
//! (`util`), a private Secret Service (`keyring`), an MCP client
//! (`mcp_client`) and an HTTPS server (`tls_server`).

#[macro_use]
pub mod util;

pub mod keyring;
pub mod mcp_client;
pub mod tls_server;
