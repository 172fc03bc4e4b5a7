//! A JSON-RPC echo server over stdio, for `scripts/bench-guard`: answers
//! each request line `{"jsonrpc":"2.0","id":N,"method":...,"params":P}`
//! with `{"jsonrpc":"2.0","id":N,"result":P}` and exits at EOF. Lines
//! without an id (notifications) get no answer.
//!
//! Output is flushed whenever no more input is already buffered, so a
//! ping-pong client sees each answer at once and a pipelined one gets
//! answers in large writes (the direct pipe at its best).
//!
//! Usage: cargo build --release --example echo_server

use std::io::{BufRead as _, BufReader, BufWriter, Write as _};

use serde_json::value::RawValue;

#[derive(serde::Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

fn main() {
    let stdin = std::io::stdin().lock();
    let mut input = BufReader::with_capacity(64 * 1024, stdin);
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let Ok(req) = serde_json::from_slice::<Request<'_>>(&line) else {
            continue;
        };
        let Some(id) = req.id else { continue };
        let params = req.params.map_or("null", |p| p.get());
        let written = out
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":")
            .and_then(|_| out.write_all(id.get().as_bytes()))
            .and_then(|_| out.write_all(b",\"result\":"))
            .and_then(|_| out.write_all(params.as_bytes()))
            .and_then(|_| out.write_all(b"}\n"));
        if written.is_err() {
            break;
        }
        if input.buffer().is_empty() && out.flush().is_err() {
            break;
        }
    }
    let _ = out.flush();
}
