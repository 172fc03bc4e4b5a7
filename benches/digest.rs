//! Criterion benches for the streaming digest and the in-process verify
//! path. The end-to-end comparison against `minisign -V` and `sha256sum` on
//! a 1 GiB file is `scripts/bench`; these track the library alone.
//!
//! Needs the `minisign` tool on PATH (the verify fixture is signed with it).

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcp_warden::digest::{Algorithm, digest_reader};
use mcp_warden::trust::TrustStore;
use mcp_warden::verify::{ArtifactRef, Request, collect};

/// In-memory input for the digest benches.
const DIGEST_LEN: usize = 64 << 20;
/// Artifact size for the full verify path: a few chunks, so the threaded
/// fan-out runs, but small enough to sample quickly.
const VERIFY_LEN: usize = 4 << 20;

/// Deterministic, incompressible-looking bytes (xorshift64*).
fn bytes(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn digest(c: &mut Criterion) {
    let data = bytes(DIGEST_LEN);
    let mut g = c.benchmark_group("digest_64MiB");
    g.throughput(Throughput::Bytes(DIGEST_LEN as u64));
    g.bench_function("sha256", |b| {
        b.iter(|| digest_reader(black_box(&data[..]), &[Algorithm::Sha256]).unwrap())
    });
    g.bench_function("sha256+sha512", |b| {
        b.iter(|| {
            digest_reader(
                black_box(&data[..]),
                &[Algorithm::Sha256, Algorithm::Sha512],
            )
            .unwrap()
        })
    });
    g.finish();
}

fn minisign(dir: &Path, args: &[&str]) {
    let out = Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run minisign ({e}); install it (Debian: apt-get install minisign)")
        });
    assert!(
        out.status.success(),
        "minisign {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file signed with a fresh passwordless minisign key (prehashed, the
/// minisign 0.11 default): (artifact, signature, public key).
fn signed_fixture(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let artifact = dir.join("server.bin");
    fs::write(&artifact, bytes(VERIFY_LEN)).unwrap();
    minisign(dir, &["-G", "-W", "-p", "k.pub", "-s", "k.sec"]);
    minisign(dir, &["-S", "-s", "k.sec", "-m", "server.bin"]);
    (artifact, dir.join("server.bin.minisig"), dir.join("k.pub"))
}

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (artifact, sig, key) = signed_fixture(dir.path());
    let req = Request {
        artifact: ArtifactRef::Path(artifact),
        signatures: vec![sig],
        keys: vec![key],
        key_names: vec![],
        server: None,
        bundles: vec![],
        identity: None,
        trusted_root: None,
        provenance: vec![],
        sboms: vec![],
        sbom_signatures: vec![],
    };
    let trust = TrustStore::default();
    // The fixture must verify, or the bench would time the failure path.
    let ev = collect(&req, &trust).expect("collect");
    assert_eq!(ev.signatures.len(), 1);
    if let Err(d) = &ev.signatures[0].outcome {
        panic!("the minisign fixture does not verify: {d:?}");
    }

    let mut g = c.benchmark_group("verify_4MiB");
    g.throughput(Throughput::Bytes(VERIFY_LEN as u64));
    g.bench_function("collect_minisign_prehashed", |b| {
        b.iter(|| collect(black_box(&req), &trust).unwrap())
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = digest, verify
}
criterion_main!(benches);
