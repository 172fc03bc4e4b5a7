//! The HTTPS server of `scripts/bench-add`: serves one file from memory at
//! `/artifact.bin` over a real TLS stack (tests/it/support/tls_server.rs:
//! rustls on aws-lc-rs, a fresh rcgen CA, HTTP/1.1 with Content-Length), so
//! that `curl` and `mcp-warden add` download the same bytes the same way.
//!
//! Build: cargo build --release --example add_server
//! Usage: add_server FILE
//! Prints two lines, the URL and the path of the CA file, then serves until
//! its standard input reaches end of file (the script holds it open; when
//! the script exits, however it exits, the server stops and removes its CA
//! directory).
//!
//! The file is read into memory once, so the server sends from RAM and
//! spends its CPU only on TLS; scripts/bench-add measures its raw
//! throughput with curl alone before comparing.

#[path = "../../tests/it/support/tls_server.rs"]
mod tls_server;

use std::io::{Read, Write};
use std::process::ExitCode;

use tls_server::{Response, TlsServer};

/// Refuse files that would not sensibly fit in memory.
const MAX_FILE: u64 = 4 << 30;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("add_server: the HTTPS server of scripts/bench-add; usage: add_server FILE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::metadata(file) {
        Ok(m) if m.len() > MAX_FILE => {
            eprintln!("add_server: {file} is larger than {MAX_FILE} bytes");
            return ExitCode::from(2);
        }
        Ok(_) => match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("add_server: cannot read {file}: {e}");
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("add_server: cannot read {file}: {e}");
            return ExitCode::from(2);
        }
    };

    let server = TlsServer::start();
    server.route("/artifact.bin", Response::ok(bytes));
    let mut out = std::io::stdout().lock();
    let printed = writeln!(out, "{}", server.url("/artifact.bin"))
        .and_then(|()| writeln!(out, "{}", server.ca_file().display()))
        .and_then(|()| out.flush());
    drop(out);
    if let Err(e) = printed {
        eprintln!("add_server: cannot write to stdout: {e}");
        return ExitCode::from(2);
    }

    // Serve until stdin closes; dropping the server joins its threads and
    // removes the CA directory.
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin().lock();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    drop(server);
    ExitCode::SUCCESS
}
