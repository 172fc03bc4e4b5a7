//! What `mcp-warden run` adds to a server's start, side by side in one run
//! (driven by `scripts/bench-run`).
//!
//! The server is `benches/support/echo_once.rs` (answers one request and
//! exits), pinned with a real minisign signature. Each round starts it, in
//! an order that rotates every round:
//!   direct:  the pinned binary itself
//!   receipt: `mcp-warden run srv` (the receipt of the last full check
//!            spares the re-hash)
//!   rehash:  `mcp-warden run --rehash srv`
//!   unconfined: `mcp-warden run srv` with the policy's `sandbox = "off"`
//!            (a second home), so that receipt - unconfined is what the
//!            sandbox costs at start-up
//! and measures from spawn to exit: write one request, read the answer,
//! wait. Prints medians, the added time and the targets of the issue
//! (receipt: at most +5 ms; rehash: at most the artifact's hashing time,
//! measured here in process: SHA-256 and BLAKE2b-512, one after the
//! other, + 5 ms).
//!
//! Environment: MCP_WARDEN_BIN, ECHO_ONCE_BIN (set by the script), ROUNDS
//! (default 200), PAD_MIB (bytes appended to the ELF, which ignores them,
//! to show the hashing term; default 0), BENCH_STRICT=1 (exit 3 on a
//! missed target). Where node is on PATH, a second table does the same for
//! a small npm package run from its unpacked tree.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Pinned, env, median, verdict};

fn main() {
    // `cargo bench` passes --bench; nothing else is expected.
    let warden = PathBuf::from(env("MCP_WARDEN_BIN"));
    let echo = PathBuf::from(env("ECHO_ONCE_BIN"));
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let pad_mib: u64 = std::env::var("PAD_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let strict = std::env::var("BENCH_STRICT").is_ok_and(|v| v == "1");

    let mut bytes = std::fs::read(&echo).expect("read echo_once");
    bytes.resize(bytes.len() + (pad_mib << 20) as usize, 0);
    let pinned = Pinned::new(&warden, "echo_once", &bytes);
    let warden_cmd = || pinned.warden();
    let direct_path = pinned.direct.clone();
    let unconfined = Pinned::new(&warden, "echo_once", &bytes);
    std::fs::write(
        unconfined.home.join("config/policy.toml"),
        "version = 1\n[[servers]]\nname = \"srv\"\n[servers.run]\nsandbox = \"off\"\n",
    )
    .expect("policy");

    // Warm up: the first run writes the receipt.
    for _ in 0..3 {
        once(warden_cmd().args(["-q", "run", "srv"]));
        once(&mut Command::new(&direct_path));
        once(unconfined.warden().args(["-q", "run", "srv"]));
    }
    let mut direct = Vec::new();
    let mut receipt = Vec::new();
    let mut rehash = Vec::new();
    let mut off = Vec::new();
    for r in 0..rounds {
        for k in 0..4 {
            match (r + k) % 4 {
                0 => direct.push(once(Command::new(&direct_path).env_clear())),
                1 => receipt.push(once(warden_cmd().args(["-q", "run", "srv"]))),
                2 => off.push(once(unconfined.warden().args(["-q", "run", "srv"]))),
                _ => rehash.push(once(warden_cmd().args(["-q", "run", "--rehash", "srv"]))),
            }
        }
    }
    // The digests --rehash needs over the artifact: SHA-256 (the pin) and
    // BLAKE2b-512 (the prehashed minisign signature), each timed alone in
    // process with the same code; `run` computes them in one read, on two
    // threads, but the target is held to their sum.
    let mut sha256 = Vec::new();
    let mut blake = Vec::new();
    for _ in 0..rounds.clamp(5, 50) {
        let t = Instant::now();
        let f = std::fs::File::open(&direct_path).expect("open");
        mcp_warden::digest::digest_reader(f, &[mcp_warden::digest::Algorithm::Sha256])
            .expect("hash");
        sha256.push(t.elapsed());
        let t = Instant::now();
        let mut f = std::fs::File::open(&direct_path).expect("open");
        let mut b = blake2b_simd::Params::new().hash_length(64).to_state();
        std::io::copy(&mut f, &mut b).expect("hash");
        std::hint::black_box(b.finalize());
        blake.push(t.elapsed());
    }
    let (s256, b2) = (median(&mut sha256), median(&mut blake));
    let mut hashing = vec![s256 + b2];
    let (d, rc, rh, h) = (
        median(&mut direct),
        median(&mut receipt),
        median(&mut rehash),
        median(&mut hashing),
    );
    let ms = |x: Duration| x.as_secs_f64() * 1e3;
    let added_receipt = ms(rc) - ms(d);
    let added_rehash = ms(rh) - ms(d);
    println!(
        "artifact: {} bytes (echo_once + {pad_mib} MiB padding), {rounds} rounds, medians",
        bytes.len()
    );
    println!("  direct start             {:8.3} ms", ms(d));
    println!(
        "  run (receipt)            {:8.3} ms   added {:+.3} ms   target <= 5 ms: {}",
        ms(rc),
        added_receipt,
        verdict(added_receipt <= 5.0)
    );
    let o = median(&mut off);
    println!(
        "  run (receipt), sandbox off {:6.3} ms   the sandbox's start-up cost {:+.3} ms",
        ms(o),
        ms(rc) - ms(o)
    );
    println!(
        "  run --rehash             {:8.3} ms   added {:+.3} ms",
        ms(rh),
        added_rehash
    );
    println!(
        "  hashing the artifact     {:8.3} ms   (SHA-256 {:.3} + BLAKE2b-512 {:.3}, in process)",
        ms(h),
        ms(s256),
        ms(b2)
    );
    println!(
        "  rehash target: added <= hashing + 5 ms = {:.3} ms: {}",
        ms(h) + 5.0,
        verdict(added_rehash <= ms(h) + 5.0)
    );
    if which("node") {
        tree_side(&warden, rounds);
    }
    if strict && (added_receipt > 5.0 || added_rehash > ms(h) + 5.0) {
        std::process::exit(3);
    }
}

/// The same for a server run from an unpacked tree (an npm package under
/// node): node on the script directly, against `run` with a receipt and
/// with --rehash (the tree digest).
fn tree_side(warden: &std::path::Path, rounds: usize) {
    const JS: &str = "process.stdin.once('data', () => { \
        process.stdout.write('{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\\n'); process.exit(0); });";
    let pinned = Pinned::node_package(warden, JS);
    let direct = || {
        let mut c = Command::new("node");
        c.arg(&pinned.direct).env_clear();
        c
    };
    for _ in 0..3 {
        once(pinned.warden().args(["-q", "run", "srv"]));
        once(&mut direct());
    }
    let (mut d, mut rc, mut rh) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        for k in 0..3 {
            match (r + k) % 3 {
                0 => d.push(once(&mut direct())),
                1 => rc.push(once(pinned.warden().args(["-q", "run", "srv"]))),
                _ => rh.push(once(pinned.warden().args(["-q", "run", "--rehash", "srv"]))),
            }
        }
    }
    let ms = |x: Duration| x.as_secs_f64() * 1e3;
    let (d, rc, rh) = (median(&mut d), median(&mut rc), median(&mut rh));
    println!("node package (unpacked tree), {rounds} rounds, medians");
    println!("  node server.js           {:8.3} ms", ms(d));
    println!(
        "  run (receipt)            {:8.3} ms   added {:+.3} ms",
        ms(rc),
        ms(rc) - ms(d)
    );
    println!(
        "  run --rehash             {:8.3} ms   added {:+.3} ms",
        ms(rh),
        ms(rh) - ms(d)
    );
}

fn which(prog: &str) -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join(prog).is_file())
}

/// One start: spawn, one request, the answer, exit. Fails loudly when the
/// answer is not the expected one, so a broken side cannot look fast.
fn once(c: &mut Command) -> Duration {
    let t = Instant::now();
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\n")
        .expect("write the request");
    drop(stdin);
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the answer");
    let status = child.wait().expect("wait");
    let elapsed = t.elapsed();
    if line != "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n" || !status.success() {
        eprintln!("unexpected answer {line:?} ({status}) from {c:?}");
        std::process::exit(1);
    }
    elapsed
}
