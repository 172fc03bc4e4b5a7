//! The digest step alone, for `scripts/bench` to time against `sha256sum`:
//! prints `sha256:HEX  PATH` for each file, hashed by the library's
//! streaming digest with SHA-256 only.
//!
//! Usage: cargo run --release --example sha256_file -- FILE...

use std::fs::File;
use std::process::ExitCode;

use mcp_warden::digest::{Algorithm, digest_reader};

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: sha256_file FILE...");
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for path in &paths {
        match File::open(path).and_then(|f| digest_reader(f, &[Algorithm::Sha256])) {
            Ok((_, digests)) => println!("{}  {path}", digests[0]),
            Err(e) => {
                eprintln!("sha256_file: {path}: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
