//! What the stdio guard adds between client and server, side by side in
//! one run (driven by `scripts/bench-guard`).
//!
//! The server is `benches/support/echo_server.rs` (answers each request
//! with its params), pinned with a real minisign signature:
//!   direct:  the pinned binary itself on a pipe
//!   guarded: `mcp-warden run srv` (guard on: the full `GuardSession`,
//!            the server under the sandbox where the OS has one)
//!   relay:   `cat | server | cat`, the cheapest proxy there is (copies
//!            bytes, inspects nothing): what any stdio proxy costs here
//!   line relay: `benches/support/line_relay.rs`, framing lines on a
//!            thread per direction as the guard does, checking nothing
//!   checking relay: `line_relay --check`, which also parses every line
//!            with serde_json: the least a proxy that forwards only
//!            well-formed JSON must do
//! Measures, alternating the sides every round:
//!   latency:    1 KiB requests sent one at a time (ping-pong), median
//!               round trip; added = guarded - direct (target <= 50 us)
//!   throughput: 1 KiB requests pipelined (a writer and a reader thread),
//!               answers per second; ratio guarded / direct (>= 80 %)
//!   relay:      the same two figures for the relay, and the guard's
//!               throughput as a share of the relay's
//!   memory:     peak resident set (VmHWM) of the `mcp-warden run`
//!               process while passing 1 GiB each way (<= 16 MiB), read
//!               from /proc after the last answer, before its input ends.
//!
//! Environment: MCP_WARDEN_BIN, ECHO_SERVER_BIN, LINE_RELAY_BIN (set by the script),
//! MSG_BYTES (request line length, default 1024), SIDES=guarded (only the
//! guard's throughput, for a profiler), PINGS (default 5000), THROUGHPUT_MIB (default 256), MEMORY_MIB
//! (default 1024), ROUNDS (default 3), BENCH_STRICT=1 (exit 3 on a missed
//! target).

use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Pinned, env, median, verdict};

/// Each request line is this long, newline included: `MSG_BYTES`
/// (default 1024, at least 100), so that the small messages MCP mostly
/// carries can be measured as well as larger ones.
fn msg() -> usize {
    static LEN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LEN.get_or_init(|| {
        std::env::var("MSG_BYTES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1024usize)
            .max(100)
    })
}

fn main() {
    let warden = PathBuf::from(env("MCP_WARDEN_BIN"));
    let echo = PathBuf::from(env("ECHO_SERVER_BIN"));
    let num = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let pings = num("PINGS", 5000);
    let tput_mib = num("THROUGHPUT_MIB", 256);
    let mem_mib = num("MEMORY_MIB", 1024);
    let rounds = num("ROUNDS", 3).max(1);
    let strict = std::env::var("BENCH_STRICT").is_ok_and(|v| v == "1");
    let pinned = Pinned::new(
        &warden,
        "echo_server",
        &std::fs::read(&echo).expect("read echo_server"),
    );
    // The pipelined client keeps hundreds of requests in flight (the
    // pipes' contents); the guard's default allows 64 and refuses the rest.
    std::fs::write(
        pinned.home.join("config/policy.toml"),
        "version = 1\n[[servers]]\nname = \"srv\"\n[servers.run]\nmax-in-flight = 4096\n",
    )
    .expect("policy");
    let guarded = || {
        let mut c = pinned.warden();
        c.args(["-q", "run", "srv"]);
        c
    };
    // `SIDES=guarded` runs only the guard's pipelined throughput (for a
    // profiler); the default runs the whole comparison.
    if std::env::var("SIDES").is_ok_and(|v| v == "guarded") {
        let p = pipelined(&mut guarded(), tput_mib << 20);
        println!(
            "guarded only: {:.1} MiB/s, guard CPU {:.2} ms per MiB",
            p.rate * msg() as f64 / (1 << 20) as f64,
            p.cpu_ms_per_mib
        );
        return;
    }
    let direct_path = pinned.direct.clone();

    let direct = || {
        let mut c = Command::new(&direct_path);
        c.env_clear();
        c
    };
    let relay = || {
        let mut c = Command::new("sh");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["-c", "cat | \"$0\" | cat"])
            .arg(&direct_path);
        c
    };
    let line_relay = PathBuf::from(env("LINE_RELAY_BIN"));
    let framed = |check: bool| {
        let mut c = Command::new(&line_relay);
        c.env_clear();
        if check {
            c.arg("--check");
        }
        c.arg(&direct_path);
        c
    };

    // Warm up (the first run writes the receipt).
    ping_pong(&mut direct(), 100);
    ping_pong(&mut guarded(), 100);

    // Sides, in the order they take turns: direct, guarded, relay, and the
    // two line relays (framing only; framing and serde_json's check).
    const SIDES: usize = 5;
    let mut lat: [Vec<Duration>; SIDES] = Default::default();
    let mut tp: [Vec<f64>; SIDES] = Default::default();
    let (mut cpu_d, mut cpu_g) = (vec![], vec![]);
    for r in 0..rounds {
        for k in 0..SIDES {
            let side = (r + k) % SIDES;
            let mut cmd = match side {
                0 => direct(),
                1 => guarded(),
                2 => relay(),
                3 => framed(false),
                _ => framed(true),
            };
            lat[side].push(ping_pong(&mut cmd, pings));
            let p = pipelined(&mut cmd, tput_mib << 20);
            tp[side].push(p.rate);
            match side {
                0 => cpu_d.push(p.cpu_ms_per_mib),
                1 => cpu_g.push(p.cpu_ms_per_mib),
                _ => {}
            }
        }
    }
    let [mut lat_d, mut lat_g, mut lat_r, mut lat_l, mut lat_c] = lat;
    let [mut tp_d, mut tp_g, mut tp_r, mut tp_l, mut tp_c] = tp;
    let mem = pipelined(&mut guarded(), mem_mib << 20);

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (ld, lg) = (median(&mut lat_d), median(&mut lat_g));
    let (td, tg) = (median_f(&mut tp_d), median_f(&mut tp_g));
    let added = us(lg) - us(ld);
    let ratio = tg / td;
    let hwm_mib = mem.hwm_kib as f64 / 1024.0;
    let mib_s = |msgs_per_s: f64| msgs_per_s * msg() as f64 / (1 << 20) as f64;
    println!(
        "echo server, {}-byte requests; {rounds} rounds alternating sides, medians; {pings} ping-pongs, {tput_mib} MiB pipelined",
        msg()
    );
    println!("                      direct        guarded");
    println!(
        "  round trip        {:8.1} us   {:8.1} us   added {:+.1} us   target <= 50 us: {}",
        us(ld),
        us(lg),
        added,
        verdict(added <= 50.0)
    );
    println!(
        "  throughput        {:8.1} MiB/s {:8.1} MiB/s ratio {:.1} %   target >= 80 %: {}",
        mib_s(td),
        mib_s(tg),
        ratio * 100.0,
        verdict(ratio >= 0.8)
    );
    let (lr, tr) = (median(&mut lat_r), median_f(&mut tp_r));
    println!(
        "  relay (cat | server | cat, inspects nothing): round trip {:.1} us (added {:+.1} us), throughput {:.1} MiB/s (ratio {:.1} %); the guard reaches {:.1} % of the relay's throughput",
        us(lr),
        us(lr) - us(ld),
        mib_s(tr),
        tr / td * 100.0,
        tg / tr * 100.0
    );
    let (tl, tc) = (median_f(&mut tp_l), median_f(&mut tp_c));
    println!(
        "  line relay (frames lines, one thread per direction, checks nothing): round trip {:.1} us, throughput {:.1} MiB/s; the guard reaches {:.1} % of it",
        us(median(&mut lat_l)),
        mib_s(tl),
        tg / tl * 100.0
    );
    println!(
        "  checking relay (the same, and serde_json parses every line): round trip {:.1} us, throughput {:.1} MiB/s ({:.1} % of the relay); the guard reaches {:.1} % of it",
        us(median(&mut lat_c)),
        mib_s(tc),
        tc / tr * 100.0,
        tg / tc * 100.0
    );
    println!(
        "  against the relay: throughput {:.1} %   target >= 80 %: {}; round trip added over the relay {:+.1} us   target <= 10 us (all on one CPU: taskset -c 0): {}",
        tg / tr * 100.0,
        verdict(tg / tr >= 0.8),
        us(lg) - us(lr),
        verdict(us(lg) - us(lr) <= 10.0)
    );
    println!(
        "  guard peak RSS    {:8.2} MiB while passing {mem_mib} MiB each way ({:.1} MiB/s)   target <= 16 MiB: {}",
        hwm_mib,
        mib_s(mem.rate),
        verdict(hwm_mib <= 16.0)
    );
    println!(
        "    of which now    {:8.2} MiB anonymous (heap, buffers, stacks), {:.2} MiB file-backed (mapped code of the binary and libraries; varies with the page cache)",
        mem.rss_anon_kib as f64 / 1024.0,
        mem.rss_file_kib as f64 / 1024.0
    );
    println!(
        "  CPU per MiB       {:8.2} ms (echo server)  {:5.2} ms (guard, both directions; the server's own not counted)",
        median_f(&mut cpu_d),
        median_f(&mut cpu_g)
    );
    println!(
        "  cores: {} (pipelined throughput is CPU-bound when client, guard and server share fewer cores than busy threads)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if strict && (added > 50.0 || ratio < 0.8 || hwm_mib > 16.0) {
        std::process::exit(3);
    }
}

/// Request `id`, padded so that the line is exactly [`msg`] bytes.
fn request(id: usize, buf: &mut Vec<u8>) {
    buf.clear();
    let head =
        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"echo\",\"params\":{{\"d\":\"");
    buf.extend_from_slice(head.as_bytes());
    let tail = b"\"}}\n";
    buf.resize(msg() - tail.len(), b'x');
    buf.extend_from_slice(tail);
}

fn check_answer(line: &[u8], id: usize) {
    let want = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"d\":\"");
    if !line.starts_with(want.as_bytes()) || !line.ends_with(b"\"}}\n") {
        eprintln!(
            "unexpected answer to {id}: {}",
            String::from_utf8_lossy(&line[..line.len().min(120)])
        );
        std::process::exit(1);
    }
}

fn spawn(c: &mut Command) -> Child {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn")
}

fn finish(mut child: Child) {
    drop(child.stdin.take());
    let status = child.wait().expect("wait");
    if !status.success() {
        eprintln!("server side ended with {status}");
        std::process::exit(1);
    }
}

/// Median round trip of `n` requests sent one at a time.
fn ping_pong(c: &mut Command, n: usize) -> Duration {
    let mut child = spawn(c);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut req, mut line) = (Vec::with_capacity(msg()), Vec::with_capacity(msg() + 64));
    let mut times = Vec::with_capacity(n);
    for id in 0..n {
        request(id, &mut req);
        line.clear();
        let t = Instant::now();
        stdin.write_all(&req).expect("write");
        stdout.read_until(b'\n', &mut line).expect("read");
        times.push(t.elapsed());
        check_answer(&line, id);
    }
    child.stdin = Some(stdin);
    finish(child);
    median(&mut times)
}

struct Pipelined {
    /// Answers per second.
    rate: f64,
    /// VmHWM of the process started, in KiB.
    hwm_kib: u64,
    /// Its RssAnon and RssFile after the last answer, in KiB.
    rss_anon_kib: u64,
    rss_file_kib: u64,
    /// CPU time (user + system) of the process started (not its
    /// children), per MiB of requests.
    cpu_ms_per_mib: f64,
}

/// `bytes` of requests written by one thread while this one reads the
/// answers; the rate counts from the first write to the last answer.
fn pipelined(c: &mut Command, bytes: usize) -> Pipelined {
    let mut child = spawn(c);
    let pid = child.id();
    let n = bytes / msg();
    let stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::with_capacity(64 * 1024, child.stdout.take().expect("stdout"));
    let t = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut w = BufWriter::with_capacity(64 * 1024, stdin);
        let mut req = Vec::with_capacity(msg());
        for id in 0..n {
            request(id, &mut req);
            w.write_all(&req).expect("write");
        }
        w.flush().expect("flush");
        w.into_inner().map_err(|_| ()).expect("stdin back")
    });
    let mut line = Vec::with_capacity(msg() + 64);
    for id in 0..n {
        line.clear();
        stdout.read_until(b'\n', &mut line).expect("read");
        if id % 4096 == 0 || id == n - 1 {
            check_answer(&line, id);
        }
    }
    let elapsed = t.elapsed();
    let hwm_kib = status_kib(pid, "VmHWM:");
    let rss_anon_kib = status_kib(pid, "RssAnon:");
    let rss_file_kib = status_kib(pid, "RssFile:");
    let cpu_ms_per_mib = cpu_ms(pid) / (bytes as f64 / (1 << 20) as f64);
    child.stdin = Some(writer.join().expect("writer"));
    finish(child);
    Pipelined {
        rate: n as f64 / elapsed.as_secs_f64(),
        hwm_kib,
        rss_anon_kib,
        rss_file_kib,
        cpu_ms_per_mib,
    }
}

/// utime + stime of `pid` in milliseconds (from /proc/PID/stat).
fn cpu_ms(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0.0;
    };
    // Fields after the command: state is 3rd in stat(5), utime 14th, stime 15th.
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks * 1000.0 / 100.0 // USER_HZ is 100 on Linux
}

/// A `kB` field of /proc/PID/status (0 when missing).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn median_f(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
