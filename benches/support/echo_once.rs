//! The smallest stdio MCP server there is, for `scripts/bench-run`: reads
//! one JSON-RPC request line, answers it with an empty result carrying the
//! same id, and exits.
//!
//! Usage: cargo build --release --example echo_once

use std::io::{BufRead as _, Write as _};

fn main() {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
        std::process::exit(1);
    }
    // The id is whatever follows `"id":` up to the next `,` or `}`; the
    // benchmark sends a plain number.
    let id = line
        .split_once("\"id\":")
        .map(|(_, rest)| rest.split([',', '}']).next().unwrap_or("null").trim())
        .unwrap_or("null");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{}}}}");
    let _ = out.flush();
}
