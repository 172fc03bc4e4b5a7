//! Criterion benches for Sigstore bundle verification inside the process:
//! the cryptographic check of one bundle (certificate chain, SCT, inclusion
//! proof, checkpoint, SET, signature over the artifact or DSSE subject)
//! against the embedded production root, with the roots parsed once
//! beforehand. Root parsing (`embedded_roots`) is timed on its own, since a
//! run pays it once however many bundles it checks. Identity matching is the
//! caller's and is not timed. Target: at most 2 ms per bundle.
//!
//! The end-to-end comparison against the Python client is
//! `scripts/bench-sigstore`; this tracks the library alone.
//!
//! Bundles: conformance `happy-path-v0.3` (message signature) and
//! `happy-path-intoto-in-dsse-v3` (DSSE), both over `a.txt`, and the
//! slsa-github-generator v2.1.0 provenance over its 1.4 MB binary.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mcp_warden::digest::{Algorithm, Digest, digest_reader};
use mcp_warden::signature::sigstore::{Input, Rule, embedded_roots, parse_file, verify};

const CONFORMANCE: &str = "fixtures/sigstore-conformance/bundle-verify";
const SLSA: &str = "fixtures/slsa/gha_generic/v2.1.0";

struct Case {
    name: &'static str,
    bundle: PathBuf,
    artifact: PathBuf,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cases() -> Vec<Case> {
    let conf = root().join(CONFORMANCE);
    let slsa = root().join(SLSA);
    vec![
        Case {
            name: "v0.3-message-signature",
            bundle: conf.join("happy-path-v0.3/bundle.sigstore.json"),
            artifact: conf.join("a.txt"),
        },
        Case {
            name: "v0.3-dsse-intoto",
            bundle: conf.join("happy-path-intoto-in-dsse-v3/bundle.sigstore.json"),
            artifact: conf.join("a.txt"),
        },
        Case {
            name: "slsa-generic-v2.1.0-1.4MB",
            bundle: slsa.join("binary-linux-amd64-workflow_dispatch.intoto.jsonl"),
            artifact: slsa.join("binary-linux-amd64-workflow_dispatch"),
        },
    ]
}

fn sha256_of(path: &Path) -> Digest {
    let f = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, mut d) = digest_reader(f, &[Algorithm::Sha256]).unwrap();
    d.remove(0)
}

/// One-time setup: parsing the embedded trusted roots and building their
/// verifiers.
fn roots(c: &mut Criterion) {
    let mut g = c.benchmark_group("sigstore_setup");
    g.bench_function("embedded_roots", |b| b.iter(|| embedded_roots().unwrap()));
    let bytes = fs::read(&cases()[0].bundle).unwrap();
    g.bench_function("parse_file/v0.3-message-signature", |b| {
        b.iter(|| parse_file(black_box(&bytes)).unwrap())
    });
    g.finish();
}

/// Per-bundle verification with the roots already parsed.
fn bundles(c: &mut Criterion) {
    let roots = embedded_roots().expect("embedded roots");
    let mut g = c.benchmark_group("sigstore_verify");
    for case in cases() {
        let bytes = fs::read(&case.bundle).unwrap();
        let (_wrapper, items) = parse_file(&bytes).unwrap();
        let bundle = &items[0].bundle;
        let digest = sha256_of(&case.artifact);
        // The file alone, as when no digest is at hand: sigstore reads it.
        let file = Input::File {
            path: &case.artifact,
            sha256: None,
        };
        let prehashed = Input::Digest(&digest);
        // Both inputs must verify, or the bench would time the failure path.
        for (how, input) in [("file", &file), ("digest", &prehashed)] {
            let v = verify(bundle, input, &roots, &Rule::Keyless)
                .unwrap_or_else(|e| panic!("{} ({how}) does not verify: {e}", case.name));
            assert_eq!(v.root, "sigstore-production", "{}", case.name);
            assert!(v.identity.is_some(), "{}: no identity", case.name);
        }

        g.bench_function(BenchmarkId::new("file", case.name), |b| {
            b.iter(|| verify(black_box(bundle), &file, &roots, &Rule::Keyless).unwrap())
        });
        g.bench_function(BenchmarkId::new("digest", case.name), |b| {
            b.iter(|| verify(black_box(bundle), &prehashed, &roots, &Rule::Keyless).unwrap())
        });
        // What a run does per bundle file after setup: read, split, verify.
        g.bench_function(BenchmarkId::new("read+parse+verify_file", case.name), |b| {
            b.iter(|| {
                let bytes = fs::read(&case.bundle).unwrap();
                let (_, items) = parse_file(&bytes).unwrap();
                verify(&items[0].bundle, &file, &roots, &Rule::Keyless).unwrap()
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = roots, bundles
}
criterion_main!(benches);
