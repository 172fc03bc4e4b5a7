//! Generated OSV records shared by the advisory and SBOM benchmarks.

/// 10,000 records: the given npm package names first (so the Juice Shop
/// packages have advisories), then npm `pkg-N`, PyPI and crates.io names.
pub fn osv_records(count: usize, npm_names: &[String]) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let (eco, name, kind) = match npm_names.get(i) {
                Some(n) => ("npm", n.clone(), "ECOSYSTEM"),
                None => match i % 3 {
                    0 => ("npm", format!("pkg-{i}"), "SEMVER"),
                    1 => ("PyPI", format!("py_pkg.{i}"), "ECOSYSTEM"),
                    _ => ("crates.io", format!("crate_{i}"), "SEMVER"),
                },
            };
            let json = format!(
                r#"{{"id": "GEN-{i}", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2024-{i}"],
                "summary": "generated record {i}",
                "severity": [{{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H"}}],
                "affected": [{{"package": {{"ecosystem": "{eco}", "name": "{name}"}},
                "ranges": [{{"type": "{kind}", "events": [{{"introduced": "0"}}, {{"fixed": "{fixed}.0.0"}}]}}]}}]}}"#,
                fixed = 1 + i % 7,
            );
            (format!("GEN-{i}.json"), json)
        })
        .collect()
}
