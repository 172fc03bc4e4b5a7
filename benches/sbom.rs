//! Criterion benches for SBOMs, against the targets of the issue
//! "Provenance and SBOM": parse and evaluate the OWASP Juice Shop
//! CycloneDX SBOM in `fixtures/sbom` (1,115 components) in at most 10 ms,
//! and a generated 100,000-component CycloneDX 1.6 SBOM in at most 400 ms,
//! under a policy of 50 deny rules and an OSV database of 10,000 records,
//! with peak memory at most three times the file size.
//!
//! Groups:
//! - `sbom_parse`: `sbom::parse` of the bytes (official schema check
//!   included);
//! - `sbom_verify`: what `mcp-warden verify ARTIFACT --sbom BOM
//!   --advisories DIR` does once the process is up: `verify::collect`
//!   (reads and parses the SBOM, hashes a small artifact) and
//!   `policy::evaluate` with the advisory database already loaded; this
//!   is the figure the time targets apply to;
//! - `sbom_split`: `evaluate` alone on collected evidence (Juice Shop), and
//!   loading the 10,000 OSV records (what the CLI does before evaluating).
//!
//! Before the timings, one pass per SBOM (outside criterion) prints the
//! file size, the peak heap of `parse` and of the whole verify path (a
//! counting allocator, on for that pass only), and the wall time of one
//! `parse`, one `collect` and one `evaluate`: the split for the generated
//! SBOM, whose `evaluate` is too slow to sample in a one-minute run. The
//! end-to-end figures (process start, database load, peak RSS) are
//! `scripts/bench-sbom`.
//!
//! The policy has one `[[servers]]` entry per SBOM, `require = ["sbom"]`,
//! `source` the SBOM's top component (so the SBOM binds), `[servers.sbom]
//! signed = false`, 50 `deny-components` rules of which exactly one matches
//! a component of the SBOM (49 name packages absent from it, some with
//! version ranges), an allow list of licences with `noassertion = "warn"`.
//! The OSV records name the Juice Shop packages first and then generated
//! ones, some of which the generated SBOM lists (as in
//! `benches/advisories.rs`). The verdict is therefore a denial, and the
//! setup checks that it is one for the expected reasons, so the timed path
//! does all the work (every rule, licence and advisory looked at).
//!
//! With `MCP_WARDEN_SBOM_FIXTURES=DIR` the bench writes its generated
//! inputs to DIR and exits without timing anything (`scripts/bench-sbom`
//! runs the CLI on them).

use std::alloc::{GlobalAlloc, Layout};
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use mcp_warden::diag::Code;
use mcp_warden::policy::{Layer, PolicySet, evaluate, load_file};
use mcp_warden::sbom::advisories::AdvisoryDb;
use mcp_warden::sbom::parse;
use mcp_warden::trust::TrustStore;
use mcp_warden::verify::{ArtifactRef, Request, collect};

const JUICE_SHOP: &str =
    "fixtures/sbom/cyclonedx/bom-examples/SBOM/juice-shop/via_npm/flat/bom.1.4.json";
/// The Juice Shop SBOM's top component, as a policy `source`.
const JUICE_SHOP_SOURCE: &str = "npm:juice-shop@14.1.1";
/// A Juice Shop component that the one matching deny rule names.
const JUICE_SHOP_DENIED: &str = "pkg:npm/lodash";
const GENERATED: usize = 100_000;
const GENERATED_SOURCE: &str = "npm:bench-app@1.0.0";
const GENERATED_DENIED: &str = "pkg:npm/pkg-4242";
#[path = "common/osv.rs"]
mod osv;

const RECORDS: usize = 10_000;
const DENY_RULES: usize = 50;

/// The binary's allocator, counting live bytes and their peak while
/// [`TRACK`] is on (off during the timings, where it costs one relaxed
/// load per call).
struct Counting;

static TRACK: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(n: usize) {
    let n = n as isize;
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(n: usize) {
    LIVE.fetch_sub(n as isize, Ordering::Relaxed);
}

#[cfg(target_env = "msvc")]
use std::alloc::System as Inner;
/// The allocator `src/main.rs` installs, so that the timings are the
/// binary's.
#[cfg(not(target_env = "msvc"))]
use tikv_jemallocator::Jemalloc as Inner;

// SAFETY: every call is passed on to `Inner` unchanged; only counters are
// updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { Inner.alloc(layout) };
        if !p.is_null() && TRACK.load(Ordering::Relaxed) {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if TRACK.load(Ordering::Relaxed) {
            shrank(layout.size());
        }
        // SAFETY: the caller's contract is passed on.
        unsafe { Inner.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { Inner.realloc(ptr, layout, new_size) };
        if !p.is_null() && TRACK.load(Ordering::Relaxed) {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` with counting on; returns its result and the peak of bytes
/// (as requested, without the allocator's own overhead) allocated during
/// it and not freed before that peak. Memory allocated before the call
/// and freed during it counts negative, so the peak may be a little low,
/// never high.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    TRACK.store(true, Ordering::SeqCst);
    let out = f();
    TRACK.store(false, Ordering::SeqCst);
    (out, PEAK.load(Ordering::Relaxed).max(0).unsigned_abs())
}

/// A generated CycloneDX 1.6 JSON document that the official schema
/// accepts: `n` library components with a name, a version, a purl
/// `pkg:npm/pkg-N@1.M.K` and a licence (an id, an expression for one in
/// fifty, none for one in a hundred).
fn generated_bom(n: usize) -> String {
    const IDS: [&str; 5] = ["MIT", "Apache-2.0", "ISC", "BSD-3-Clause", "BSD-2-Clause"];
    let mut s = String::with_capacity(n * 150 + 1024);
    s.push_str(concat!(
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","#,
        r#""serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,"#,
        r#""metadata":{"timestamp":"2025-01-01T00:00:00Z","#,
        r#""component":{"type":"application","name":"bench-app","version":"1.0.0","#,
        r#""purl":"pkg:npm/bench-app@1.0.0","licenses":[{"license":{"id":"MIT"}}]}},"#,
        r#""components":["#
    ));
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let version = format!("1.{}.{}", i % 7, i % 13);
        let licenses = if i % 100 == 99 {
            String::new()
        } else if i % 50 == 7 {
            r#","licenses":[{"expression":"(MIT OR Apache-2.0)"}]"#.to_string()
        } else {
            format!(
                r#","licenses":[{{"license":{{"id":"{}"}}}}]"#,
                IDS[i % IDS.len()]
            )
        };
        s.push_str(&format!(
            r#"{{"type":"library","name":"pkg-{i}","version":"{version}","purl":"pkg:npm/pkg-{i}@{version}"{licenses}}}"#
        ));
    }
    s.push_str("]}\n");
    s
}

/// [`generated_bom`] as CycloneDX 1.6 XML, which the official XSD
/// accepts: the same components, so the same verdict.
fn generated_bom_xml(n: usize) -> String {
    const IDS: [&str; 5] = ["MIT", "Apache-2.0", "ISC", "BSD-3-Clause", "BSD-2-Clause"];
    let mut s = String::with_capacity(n * 250 + 1024);
    s.push_str(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "\n",
        r#"<bom xmlns="http://cyclonedx.org/schema/bom/1.6" "#,
        r#"serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1">"#,
        r#"<metadata><timestamp>2025-01-01T00:00:00Z</timestamp>"#,
        r#"<component type="application"><name>bench-app</name><version>1.0.0</version>"#,
        r#"<licenses><license><id>MIT</id></license></licenses>"#,
        r#"<purl>pkg:npm/bench-app@1.0.0</purl></component></metadata><components>"#,
    ));
    for i in 0..n {
        let version = format!("1.{}.{}", i % 7, i % 13);
        let licenses = if i % 100 == 99 {
            String::new()
        } else if i % 50 == 7 {
            "<licenses><expression>(MIT OR Apache-2.0)</expression></licenses>".to_string()
        } else {
            format!(
                "<licenses><license><id>{}</id></license></licenses>",
                IDS[i % IDS.len()]
            )
        };
        s.push_str(&format!(
            r#"<component type="library"><name>pkg-{i}</name><version>{version}</version>{licenses}<purl>pkg:npm/pkg-{i}@{version}</purl></component>"#
        ));
    }
    s.push_str("</components></bom>\n");
    s
}

/// The Juice Shop SBOM's npm package names (scoped ones with `@`).
fn juice_shop_names(bom: &[u8]) -> Vec<String> {
    let bom: serde_json::Value = serde_json::from_slice(bom).unwrap();
    let mut names: Vec<String> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let purl = c["purl"].as_str()?;
            let rest = purl.trim_start_matches("pkg:npm/");
            let rest = rest.split('#').next().unwrap_or(rest);
            let name = rest.rsplit_once('@').map_or(rest, |(n, _)| n);
            Some(name.replace("%40", "@"))
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// 10,000 OSV records, as `benches/advisories.rs` makes them.
fn osv_records(juice_names: &[String]) -> Vec<(String, String)> {
    osv::osv_records(RECORDS, juice_names)
}

/// A policy with one `[[servers]]` entry named `server`, bound by
/// `source`, and 50 deny rules of which only the one for `denied` matches.
fn policy_toml(server: &str, source: &str, denied: &str) -> String {
    let mut s = format!(
        r#"version = 1
mode = "enforce"

[[servers]]
name = "{server}"
source = "{source}"
require = ["sbom"]

[servers.sbom]
signed = false
allow-licenses = ["MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Unlicense", "CC0-1.0", "Python-2.0", "BlueOak-1.0.0"]
deny-licenses = ["GPL-3.0-only", "AGPL-3.0-only"]
noassertion = "warn"
"#
    );
    for k in 0..DENY_RULES - 1 {
        s.push_str("\n[[servers.sbom.deny-components]]\n");
        match k % 4 {
            0 => s.push_str(&format!("purl = \"pkg:npm/absent-{k}\"\n")),
            1 => s.push_str(&format!(
                "purl = \"pkg:npm/%40absent/pkg-{k}\"\nversions = \">=1.0.0, <1.4.0\"\n"
            )),
            2 => s.push_str(&format!("purl = \"pkg:pypi/absent-{k}\"\n")),
            _ => s.push_str(&format!("name = \"absent-{k}\"\n")),
        }
        s.push_str(&format!("reason = \"bench rule {k}: not in the SBOM\"\n"));
    }
    s.push_str(&format!(
        "\n[[servers.sbom.deny-components]]\npurl = \"{denied}\"\nreason = \"bench rule {}: the one that matches\"\n",
        DENY_RULES - 1
    ));
    s
}

/// Everything the verify path needs, generated under `dir`.
struct Inputs {
    juice_bom: PathBuf,
    generated_bom: PathBuf,
    generated_xml: PathBuf,
    osv_dir: PathBuf,
    artifact: PathBuf,
    juice_policy: PathBuf,
    generated_policy: PathBuf,
}

fn write_inputs(dir: &Path) -> Inputs {
    let juice_bom = Path::new(env!("CARGO_MANIFEST_DIR")).join(JUICE_SHOP);
    let juice_names = juice_shop_names(&fs::read(&juice_bom).unwrap());
    let generated_bom_path = dir.join("bom-100k.cdx.json");
    fs::write(&generated_bom_path, generated_bom(GENERATED)).unwrap();
    let generated_xml = dir.join("bom-100k.cdx.xml");
    fs::write(&generated_xml, generated_bom_xml(GENERATED)).unwrap();
    let osv_dir = dir.join("osv");
    fs::create_dir_all(&osv_dir).unwrap();
    for (name, json) in osv_records(&juice_names) {
        fs::write(osv_dir.join(name), json).unwrap();
    }
    let artifact = dir.join("server.bin");
    fs::write(&artifact, b"#!/bin/sh\necho an MCP server\n").unwrap();
    let juice_policy = dir.join("policy-juice-shop.toml");
    fs::write(
        &juice_policy,
        policy_toml("juice-shop", JUICE_SHOP_SOURCE, JUICE_SHOP_DENIED),
    )
    .unwrap();
    let generated_policy = dir.join("policy-100k.toml");
    fs::write(
        &generated_policy,
        policy_toml("bench-app", GENERATED_SOURCE, GENERATED_DENIED),
    )
    .unwrap();
    Inputs {
        juice_bom,
        generated_bom: generated_bom_path,
        generated_xml,
        osv_dir,
        artifact,
        juice_policy,
        generated_policy,
    }
}

fn request(artifact: &Path, server: &str, bom: &Path) -> Request {
    Request {
        artifact: ArtifactRef::Path(artifact.to_path_buf()),
        signatures: vec![],
        bundles: vec![],
        keys: vec![],
        key_names: vec![],
        server: Some(server.to_string()),
        identity: None,
        trusted_root: None,
        provenance: vec![],
        sboms: vec![bom.to_path_buf()],
        sbom_signatures: vec![],
    }
}

fn policy_set(path: &Path, trust: &TrustStore) -> PolicySet {
    let (policy, warnings) = load_file(path, Layer::User, trust)
        .unwrap_or_else(|e| panic!("{}: {e}: {:?}", path.display(), e.diagnostics()));
    PolicySet {
        layers: vec![policy],
        warnings,
    }
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn sbom(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = write_inputs(tmp.path());
    let trust = TrustStore::default();
    let db = AdvisoryDb::load(&inputs.osv_dir).unwrap();
    assert_eq!((db.len(), db.warning_count()), (RECORDS, 0));

    let cases = [
        (
            "juice-shop",
            1_115,
            &inputs.juice_bom,
            "juice-shop",
            &inputs.juice_policy,
        ),
        (
            "generated",
            GENERATED,
            &inputs.generated_bom,
            "bench-app",
            &inputs.generated_policy,
        ),
        // The same as XML: read with roxmltree, checked against the XSD.
        (
            "generated-xml",
            GENERATED,
            &inputs.generated_xml,
            "bench-app",
            &inputs.generated_policy,
        ),
    ];

    // Checks, and the peak heap of each path.
    let mut prepared = Vec::new();
    for (name, components, bom, server, policy) in cases {
        let bytes = fs::read(bom).unwrap();
        // The first parse of a spec version compiles its schema, kept for
        // the process's life: not part of what is measured.
        parse(&bytes).unwrap();
        let start = Instant::now();
        let (sbom, parse_peak) = peak_heap(|| parse(black_box(&bytes)).unwrap());
        let parse_ms = ms(start);
        assert_eq!(sbom.components.len(), components, "{name}");
        drop(sbom);
        let set = policy_set(policy, &trust);
        let req = request(&inputs.artifact, server, bom);
        let (mut collect_ms, mut evaluate_ms) = (0.0, 0.0);
        let ((ev, decision), verify_peak) = peak_heap(|| {
            let start = Instant::now();
            let ev = collect(&req, &trust).unwrap();
            collect_ms = ms(start);
            let start = Instant::now();
            let decision = evaluate(&set, &ev, &trust, Some(&db), None);
            evaluate_ms = ms(start);
            (ev, decision)
        });
        // The SBOM binds and is judged: one deny rule and some advisories
        // match, so the verdict is a denial for those reasons only.
        let codes: Vec<Code> = decision.diagnostics.iter().map(|d| d.code).collect();
        assert!(!decision.allowed, "{name}: allowed");
        assert!(codes.contains(&Code::ComponentDenied), "{name}: {codes:?}");
        assert!(
            codes.contains(&Code::VulnerableComponent),
            "{name}: {codes:?}"
        );
        for bad in [
            Code::SbomNotBound,
            Code::EvidenceMissing,
            Code::SbomUnsigned,
        ] {
            assert!(!codes.contains(&bad), "{name}: {:?}", decision.diagnostics);
        }
        let denied_rules = decision
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::ComponentDenied)
            .count();
        let size = bytes.len();
        println!(
            "{name}: {components} components, {size} bytes ({:.2} MiB); {} diagnostics, \
             {denied_rules} from deny rules\n  peak heap: parse {:.1} MiB ({:.1}x the file), \
             collect+evaluate {:.1} MiB ({:.1}x)\n  one run, counting on: parse {parse_ms:.1} ms; \
             collect (read, parse, hash) {collect_ms:.1} ms, evaluate {evaluate_ms:.1} ms",
            mib(size),
            decision.diagnostics.len(),
            mib(parse_peak),
            parse_peak as f64 / size as f64,
            mib(verify_peak),
            verify_peak as f64 / size as f64,
        );
        prepared.push((name, components, bytes, req, set, ev));
    }

    let mut g = c.benchmark_group("sbom_parse");
    for (name, components, bytes, ..) in &prepared {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        if *components > 10_000 {
            g.sampling_mode(SamplingMode::Flat);
        }
        g.bench_function(BenchmarkId::new(*name, components), |b| {
            b.iter(|| parse(black_box(bytes)).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sbom_verify");
    for (name, components, _, req, set, _) in &prepared {
        if *components > 10_000 {
            g.sampling_mode(SamplingMode::Flat);
        }
        g.bench_function(BenchmarkId::new(*name, components), |b| {
            b.iter(|| {
                let ev = collect(black_box(req), &trust).unwrap();
                evaluate(set, &ev, &trust, Some(&db), None)
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sbom_split");
    for (name, components, _, _, set, ev) in prepared.iter().filter(|p| p.1 < 10_000) {
        g.bench_function(
            BenchmarkId::new(format!("evaluate/{name}"), components),
            |b| b.iter(|| evaluate(set, black_box(ev), &trust, Some(&db), None)),
        );
    }
    g.bench_function(BenchmarkId::new("advisories_load/dir", RECORDS), |b| {
        b.iter(|| AdvisoryDb::load(black_box(&inputs.osv_dir)).unwrap())
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

fn main() {
    if let Some(dir) = std::env::var_os("MCP_WARDEN_SBOM_FIXTURES") {
        let dir = PathBuf::from(dir);
        // cargo runs benches in the package root: a relative path would
        // write the inputs into the source tree.
        if !dir.is_absolute() {
            eprintln!("MCP_WARDEN_SBOM_FIXTURES must be an absolute path");
            std::process::exit(2);
        }
        fs::create_dir_all(&dir).unwrap();
        let i = write_inputs(&dir);
        for p in [
            &i.juice_bom,
            &i.generated_bom,
            &i.osv_dir,
            &i.artifact,
            &i.juice_policy,
            &i.generated_policy,
        ] {
            println!("{}", p.display());
        }
        return;
    }
    let mut c = config().configure_from_args();
    sbom(&mut c);
    c.final_summary();
}
