//! Licence rules read SPDX ids the way SPDX means them, through
//! `verify --sbom`: deprecated ids as their current form, `+` /
//! `-or-later` caught by deny entries, ids in any case (in the SBOM and in
//! the policy's lists), and a denied id beside text that does not parse,
//! or in an over-long expression, denies instead of only warning.
//!
//! The SBOMs are hash-bound CycloneDX 1.6 JSON with one component per
//! licence expression (`lic-N`), as in `sbom.rs`.

use serde_json::{Value, json};

use super::sbom::{self, SERIAL, loose_policy, messages, sbom_args};
use super::support::util::*;

/// `verify server.bin --server srv --sbom lic.json` under policy.toml.
fn verify(env: &TestEnv) -> Output {
    sbom::verify(
        env,
        Some("policy.toml"),
        "server.bin",
        &sbom_args("lic.json"),
    )
}

/// Writes `policy.toml`: server `srv` requiring a loose SBOM, with
/// `rules` in [servers.sbom].
fn policy(env: &TestEnv, rules: &str) {
    loose_policy(env, rules);
}

/// Writes `server.bin` and `lic.json`, an SBOM bound to it by hash with
/// one component `lic-N` per expression (`lic-0` the top one), and
/// verifies under `rules`.
fn licence_run(env: &TestEnv, exprs: &[&str], rules: &str) -> Output {
    let bytes = noise(4096, 0x5b0b);
    env.write("server.bin", &bytes);
    let mut components: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "type": "library",
                "name": format!("lic-{i}"),
                "version": "1.0.0",
                "purl": format!("pkg:npm/lic-{i}@1.0.0"),
                "licenses": [{ "expression": e }],
            })
        })
        .collect();
    // `lic-0` is the top component: the server is judged like its parts.
    let mut top = components.remove(0);
    top["type"] = json!("application");
    top["hashes"] = json!([{ "alg": "SHA-256", "content": sha256_hex(&bytes) }]);
    let doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": SERIAL,
        "version": 1,
        "metadata": {
            "timestamp": "2024-01-01T00:00:00Z",
            "component": top,
        },
        "components": components,
    });
    env.write("lic.json", serde_json::to_vec_pretty(&doc).unwrap());
    policy(env, rules);
    verify(env)
}

/// Which `lic-N` components a code names.
fn flagged(v: &Value, code: &str) -> Vec<usize> {
    let mut out: Vec<usize> = messages(v, code)
        .iter()
        .flat_map(|m| {
            m.match_indices("pkg:npm/lic-")
                .filter_map(|(at, p)| m[at + p.len()..].split('@').next()?.parse().ok())
                .collect::<Vec<usize>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Exit 0, verdict allowed, no error and no `license-unknown`.
#[track_caller]
fn allowed(out: &Output) -> Value {
    let v = sbom::allowed(out);
    out.check(
        messages(&v, "license-unknown").is_empty(),
        "no license-unknown",
    );
    v
}

/// Exit 1, verdict denied, `license-denied` naming exactly `want`.
#[track_caller]
fn denied(out: &Output, want: &[usize]) -> Value {
    out.code(1);
    let v = out.json();
    out.check(v["verdict"] == "denied", "verdict denied").check(
        error_codes(&v).iter().all(|c| c == "license-denied"),
        &format!("only license-denied, got {:?}", error_codes(&v)),
    );
    assert_eq!(flagged(&v, "license-denied"), want);
    v
}

#[test]
fn deprecated_and_or_later_ids_are_denied() {
    let env = TestEnv::new();
    let exprs = [
        "AGPL-3.0",               // 0: deprecated, = AGPL-3.0-only
        "AGPL-3.0+",              // 1
        "AGPL-3.0-or-later",      // 2
        "MIT AND AGPL-3.0",       // 3
        "MIT",                    // 4
        "Apache-2.0 OR AGPL-3.0", // 5: one way avoids it
    ];
    let out = licence_run(
        &env,
        &exprs,
        "deny-licenses = [\"AGPL-3.0-only\"]\nnoassertion = \"warn\"",
    );
    let v = denied(&out, &[0, 1, 2, 3]);
    assert!(
        messages(&v, "license-unknown").is_empty(),
        "{:?}",
        messages(&v, "license-unknown")
    );
    let text = messages(&v, "license-denied").join("\n");
    assert!(
        text.contains("AGPL-3.0 (deprecated id, read as AGPL-3.0-only)"),
        "{text}"
    );
    assert!(
        text.contains("needs a denied licence (AGPL-3.0-or-later)"),
        "{text}"
    );

    // Deny GPL-3.0: a GPL-2.0-or-later grant admits it (fail closed); a
    // GPL-2.0-only one does not.
    let out = licence_run(
        &env,
        &["GPL-2.0-or-later", "GPL-2.0+", "GPL-2.0-only", "GPL-2.0"],
        "deny-licenses = [\"GPL-3.0-only\"]\nnoassertion = \"deny\"",
    );
    denied(&out, &[0, 1]);
}

#[test]
fn allow_lists_read_deprecated_and_or_later_ids() {
    let env = TestEnv::new();
    let exprs = [
        "GPL-2.0",                          // 0: = GPL-2.0-only
        "GPL-2.0-or-later",                 // 1: may be taken as 2.0
        "GPL-2.0+",                         // 2
        "GPL-3.0-or-later",                 // 3: cannot
        "GPL-2.0-with-classpath-exception", // 4: = GPL-2.0-only WITH Classpath-exception-2.0
    ];
    let out = licence_run(
        &env,
        &exprs,
        "allow-licenses = [\"GPL-2.0-only\"]\nnoassertion = \"deny\"",
    );
    let v = denied(&out, &[3]);
    let text = messages(&v, "license-denied").join("\n");
    assert!(text.contains("not allowed: GPL-3.0-or-later"), "{text}");
    // Or-later includes 3.0.
    let out = licence_run(
        &env,
        &exprs[1..4],
        "allow-licenses = [\"GPL-3.0-only\"]\nnoassertion = \"deny\"",
    );
    allowed(&out);
}

#[test]
fn a_denied_id_beside_unreadable_text_denies() {
    let env = TestEnv::new();
    let long_denied = format!("{}AGPL-3.0-only", "MIT AND ".repeat(600));
    let long_clean = "MIT AND ".repeat(600) + "MIT";
    assert!(long_denied.len() > 4096 && long_clean.len() > 4096);
    let exprs = [
        "AGPL-3.0-only AND some free text", // 0
        "agpl-3.0-only",                    // 1: lower case
        "mit and agpl-3.0-only",            // 2
        &long_denied,                       // 3: over 4 KiB
        "MIT AND some free text",           // 4: nothing denied in it
        &long_clean,                        // 5
        "Licensed under the AGPL-3.0+",     // 6
    ];
    for rule in ["warn", "allow"] {
        let out = licence_run(
            &env,
            &exprs,
            &format!("deny-licenses = [\"AGPL-3.0-only\"]\nnoassertion = \"{rule}\""),
        );
        let v = denied(&out, &[0, 1, 2, 3, 6]);
        let text = messages(&v, "license-denied").join("\n");
        assert!(
            text.contains("names a denied licence (AGPL-3.0-only)"),
            "{text}"
        );
        assert!(
            text.contains("read case-insensitively as `MIT AND AGPL-3.0-only`"),
            "{text}"
        );
        assert!(text.contains("over 4096 bytes"), "{text}");
        if rule == "warn" {
            assert_eq!(flagged(&v, "license-unknown"), vec![4, 5]);
        } else {
            assert!(messages(&v, "license-unknown").is_empty());
        }
    }
    // Without the denied ones, the unreadable ones only warn.
    let out = licence_run(
        &env,
        &exprs[4..6],
        "deny-licenses = [\"AGPL-3.0-only\"]\nnoassertion = \"warn\"",
    );
    out.code(0);
    let v = out.json();
    assert_eq!(v["verdict"], "allowed");
    assert_eq!(flagged(&v, "license-unknown"), vec![0, 1]);
}

#[test]
fn policy_lists_in_any_case_and_deprecated_forms() {
    let env = TestEnv::new();
    let exprs = ["AGPL-3.0-only", "MIT", "AGPL-3.0-or-later"];
    for entry in ["agpl-3.0-only", "AGPL-3.0", "agpl-3.0"] {
        let out = licence_run(
            &env,
            &exprs,
            &format!("deny-licenses = [\"{entry}\"]\nnoassertion = \"deny\""),
        );
        denied(&out, &[0, 2]);
    }
    let out = licence_run(
        &env,
        &exprs[1..],
        "allow-licenses = [\"mit\", \"gpl-2.0+\"]\nnoassertion = \"deny\"",
    );
    denied(&out, &[1]);

    // A guessed name is refused: `gpl` would be read as GPL-2.0-only.
    policy(&env, "deny-licenses = [\"gpl\"]\nnoassertion = \"deny\"");
    env.run(["policy", "check", "policy.toml"])
        .code(1)
        .stdout_has("error[policy-bad-pattern]")
        .stdout_has("`gpl` in the licence deny list is not an SPDX licence id");
    verify(&env).code(2);
}

#[test]
fn clean_expressions_still_pass() {
    let env = TestEnv::new();
    let out = licence_run(
        &env,
        &[
            "MIT",
            "Apache-2.0 OR GPL-3.0-only",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "(MIT OR Apache-2.0) AND BSD-3-Clause",
        ],
        "deny-licenses = [\"GPL-3.0-only\", \"AGPL-3.0-only\"]\nnoassertion = \"deny\"",
    );
    allowed(&out);
    let out = licence_run(
        &env,
        &["MIT", "GPL-2.0-only WITH Classpath-exception-2.0"],
        "allow-licenses = [\"MIT\", \"GPL-2.0-only\"]\ndeny-licenses = [\"GPL-3.0-only\"]\nnoassertion = \"deny\"",
    );
    allowed(&out);
}
