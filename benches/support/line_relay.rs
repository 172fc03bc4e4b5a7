//! A stdio relay that frames lines, for `scripts/bench-guard`: the floor
//! under any proxy that judges whole messages. It starts the command it is
//! given and, on one thread per direction as the guard does, passes each
//! newline-terminated line through a 64 KiB buffer, flushing whenever its
//! input has nothing more buffered.
//!
//! Usage: line_relay [--check] SERVER [ARGS...]
//!   --check  also check every line with serde_json (a strict parse that
//!            keeps nothing) and drop the lines that fail: the least any
//!            proxy must do that forwards only well-formed JSON
//!
//! Build: cargo build --release --example line_relay

use std::io::{BufRead as _, BufReader, BufWriter, Read, Write};
use std::process::{Command, Stdio};

fn relay(input: impl Read, output: impl Write, check: bool) {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let mut out = BufWriter::with_capacity(64 * 1024, output);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if check
            && serde_json::from_slice::<serde::de::IgnoredAny>(&line[..line.len() - 1]).is_err()
        {
            continue;
        }
        if out.write_all(&line).is_err() {
            break;
        }
        if input.buffer().is_empty() && out.flush().is_err() {
            break;
        }
    }
    let _ = out.flush();
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.first().is_some_and(|a| a == "--check");
    if check {
        args.remove(0);
    }
    let Some((server, rest)) = args.split_first() else {
        eprintln!("usage: line_relay [--check] SERVER [ARGS...]");
        std::process::exit(2);
    };
    let mut child = match Command::new(server)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("line_relay: cannot start {server}: {e}");
            std::process::exit(2);
        }
    };
    let (Some(to_server), Some(from_server)) = (child.stdin.take(), child.stdout.take()) else {
        std::process::exit(2);
    };
    let up = std::thread::spawn(move || relay(std::io::stdin().lock(), to_server, check));
    relay(from_server, std::io::stdout().lock(), check);
    let _ = up.join();
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(1);
    std::process::exit(code);
}
