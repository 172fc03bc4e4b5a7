//! Criterion benches for offline OSV advisories: loading 10,000 generated
//! records (a zip like osv.dev's `all.zip`, and the same as a directory),
//! and evaluating components against them: the 1,115 npm components of
//! the OWASP Juice Shop CycloneDX SBOM in `fixtures/sbom`, and 100,000
//! generated components over npm, PyPI and crates.io.
//!
//! The generated records name the Juice Shop packages first, so every one
//! of its components is looked up and judged against a real range; the
//! rest are generated package names.

use std::fs;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mcp_warden::sbom::advisories::{AdvisoryDb, Severity, evaluate};

const JUICE_SHOP: &str =
    "fixtures/sbom/cyclonedx/bom-examples/SBOM/juice-shop/via_npm/flat/bom.1.4.json";
#[path = "common/osv.rs"]
mod osv;

const RECORDS: usize = 10_000;

/// The Juice Shop SBOM's purls, with versions.
fn juice_shop_purls() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(JUICE_SHOP);
    let bom: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str().map(str::to_string))
        .collect()
}

/// npm name and version of a purl such as `pkg:npm/%40babel/types@7.21.2#sub`.
fn npm_name(purl: &str) -> String {
    let rest = purl.trim_start_matches("pkg:npm/");
    let rest = rest.split('#').next().unwrap();
    let name = rest.rsplit_once('@').map_or(rest, |(n, _)| n);
    name.replace("%40", "@")
}

fn records(juice: &[String]) -> Vec<(String, String)> {
    let mut names: Vec<String> = juice.iter().map(|p| npm_name(p)).collect();
    names.sort();
    names.dedup();
    osv::osv_records(RECORDS, &names)
}

fn generated_components(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let k = i % 12_000; // a sixth name no advisory
            match k % 3 {
                0 => format!("pkg:npm/pkg-{k}@{}.0.0", i % 9),
                1 => format!("pkg:pypi/py-pkg-{k}@{}.0", i % 9),
                _ => format!("pkg:cargo/crate-{k}@{}.0.0", i % 9),
            }
        })
        .collect()
}

fn advisories(c: &mut Criterion) {
    let juice = juice_shop_purls();
    assert_eq!(juice.len(), 1_115);
    let records = records(&juice);
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("all.zip");
    let mut zip = zip::ZipWriter::new(fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let dir = tmp.path().join("dir");
    fs::create_dir(&dir).unwrap();
    for (name, json) in &records {
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(json.as_bytes()).unwrap();
        fs::write(dir.join(name), json).unwrap();
    }
    zip.finish().unwrap();

    let mut g = c.benchmark_group("advisories/load");
    g.bench_function(BenchmarkId::new("zip", RECORDS), |b| {
        b.iter(|| AdvisoryDb::load(black_box(&zip_path)).unwrap())
    });
    g.bench_function(BenchmarkId::new("dir", RECORDS), |b| {
        b.iter(|| AdvisoryDb::load(black_box(&dir)).unwrap())
    });
    g.finish();

    let db = AdvisoryDb::load(&zip_path).unwrap();
    assert_eq!((db.len(), db.warning_count()), (RECORDS, 0));
    let generated = generated_components(100_000);
    let mut g = c.benchmark_group("advisories/evaluate");
    for (name, purls) in [("juice-shop", &juice), ("generated", &generated)] {
        // Every component must be checked, or the bench would time the
        // rejection of bad purls.
        let f = evaluate(
            &db,
            purls.iter().map(|p| (p.as_str(), None)),
            Severity::High,
            &[],
        );
        assert!(f.unchecked.is_empty(), "{name}: {:?}", f.unchecked.first());
        assert!(!f.denied.is_empty(), "{name}: nothing matched");
        g.bench_function(BenchmarkId::new(name, purls.len()), |b| {
            b.iter(|| {
                evaluate(
                    &db,
                    black_box(purls).iter().map(|p| (p.as_str(), None)),
                    Severity::High,
                    &[],
                )
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = advisories
}
criterion_main!(benches);
