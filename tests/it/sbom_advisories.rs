//! The advisory gate fails closed (`verify --sbom --advisories`, `[advisories]`):
//! records the database could not read are reported, and a package such a
//! record still names is unknown; an `[advisories]` table without a
//! database warns; `--advisories` adds to every layer's database and never
//! replaces it; the database's age against `max-age` and `stale`; and a
//! versions-only record does not clear versions it cannot place.
//!
//! The OSV databases are written here, in temp directories, in the form of
//! the real records in fixtures/osv/ (which some tests use as they are).

use std::ffi::OsString;

use serde_json::{Value, json};

use super::sbom::{self, sbom_args};
use super::support::util::*;

/// The server name every policy here describes (`--server srv`).
const SERVER_ENTRY: &str =
    "[[servers]]\nname = \"srv\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\n";

/// Writes `policy.toml`: server `srv` requiring a loose SBOM, then `tail`.
fn policy(env: &TestEnv, tail: &str) -> &'static str {
    env.write(
        "policy.toml",
        format!("version = 1\n\n{SERVER_ENTRY}\n{tail}"),
    );
    "policy.toml"
}

/// Writes `server.bin` and `bom.json`, a CycloneDX 1.6 SBOM bound to it by
/// its top component's SHA-256, listing npm packages `(name, version)`.
fn sbom(env: &TestEnv, npm: &[(&str, &str)]) {
    let bytes = noise(4096, 0xadb);
    env.write("server.bin", &bytes);
    let components: Vec<Value> = npm
        .iter()
        .map(|(n, v)| {
            json!({ "type": "library", "name": n, "version": v,
                "purl": format!("pkg:npm/{n}@{v}"), "licenses": [{ "expression": "MIT" }] })
        })
        .collect();
    let doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2024-01-01T00:00:00Z",
            "component": {
                "type": "application", "bom-ref": "server", "name": "server", "version": "1.0.0",
                "purl": "pkg:npm/server@1.0.0",
                "hashes": [{ "alg": "SHA-256", "content": sha256_hex(&bytes) }],
            },
        },
        "components": components,
    });
    env.write("bom.json", serde_json::to_vec_pretty(&doc).unwrap());
}

/// `[--policy P] --format json verify server.bin --server srv --sbom
/// bom.json ARGS...`.
fn verify(env: &TestEnv, policy: Option<&str>, args: &[OsString]) -> Output {
    let mut all = sbom_args("bom.json");
    all.extend(args.iter().cloned());
    sbom::verify(env, policy, "server.bin", &all)
}

/// `--advisories DIR`.
fn db(dir: &str) -> Vec<OsString> {
    vec![o("--advisories"), o(dir)]
}

/// Now, less `days`, as OSV writes `modified`.
fn days_ago(days: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// An OSV record against npm `name`, rated HIGH, with `affected` (`ranges`
/// or `versions`) and `modified`, if any.
fn record(id: &str, name: &str, affected: Value, modified: Option<&str>) -> Value {
    let mut entry = json!({ "package": { "ecosystem": "npm", "name": name } });
    entry
        .as_object_mut()
        .unwrap()
        .extend(affected.as_object().unwrap().clone());
    let mut r = json!({
        "schema_version": "1.6.0",
        "id": id,
        "summary": "made by the test",
        "affected": [entry],
        "database_specific": { "severity": "HIGH" },
    });
    if let Some(m) = modified {
        r["modified"] = json!(m);
    }
    r
}

/// event-stream 3.3.6, as the compromised release was listed: versions only.
fn event_stream(id: &str) -> Value {
    record(
        id,
        "event-stream",
        json!({ "versions": ["3.3.6"] }),
        Some(&days_ago(1)),
    )
}

fn put(env: &TestEnv, rel: &str, v: &Value) {
    env.write(rel, serde_json::to_vec_pretty(v).unwrap());
}

/// The diagnostics with `code`, as (severity, message).
fn diags(v: &Value, code: &str) -> Vec<(String, String)> {
    (v["diagnostics"].as_array().into_iter().flatten())
        .filter(|d| d["code"] == code)
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (s("severity"), s("message"))
        })
        .collect()
}

/// Exit `code`, and the report's verdict to match.
#[track_caller]
fn exits(out: &Output, code: i32) -> Value {
    out.code(code);
    let v = out.json();
    let want = if code == 0 { "allowed" } else { "denied" };
    out.check(v["verdict"] == want, &format!("verdict {want}"));
    v
}

#[test]
fn a_malformed_record_is_visible_and_its_package_unknown() {
    let env = TestEnv::new();
    policy(&env, "");
    let fresh = days_ago(1);
    put(
        &env,
        "osv/npm/GOOD-1.json",
        &record(
            "GOOD-1",
            "left-pad",
            json!({ "ranges": [{ "type": "SEMVER", "events": [{ "introduced": "0" }, { "fixed": "1.0.0" }] }] }),
            Some(&fresh),
        ),
    );
    // Cut in half: nothing of it can be read.
    let whole = serde_json::to_vec(&event_stream("CUT-1")).unwrap();
    env.write("osv/npm/cut.json", &whole[..whole.len() / 2]);
    // Valid JSON, not a valid record (an event with two keys), naming
    // event-stream: that package cannot be cleared.
    put(
        &env,
        "osv/npm/two-keys.json",
        &record(
            "BROKEN-1",
            "event-stream",
            json!({ "ranges": [{ "type": "SEMVER", "events": [{ "introduced": "0", "fixed": "9.0.0" }] }] }),
            Some(&fresh),
        ),
    );

    // A component the broken record names: denied as unknown.
    sbom(&env, &[("left-pad", "1.3.0"), ("event-stream", "3.3.6")]);
    let out = verify(&env, Some("policy.toml"), &db("osv"));
    let v = exits(&out, 1);
    let unknown = diags(&v, "advisory-unknown");
    out.check(
        unknown.len() == 1
            && unknown[0].0 == "error"
            && unknown[0].1.contains("pkg:npm/event-stream@3.3.6: BROKEN-1 (the advisory record npm/two-keys.json names the package but could not be read"),
        &format!("one advisory-unknown error for event-stream, got {unknown:?}"),
    );
    // The load's skips are in the report: a warning naming both files.
    let incomplete = diags(&v, "advisory-db-incomplete");
    out.check(
        incomplete.len() == 1
            && incomplete[0].0 == "warning"
            && incomplete[0]
                .1
                .contains("osv skipped 2 record(s) it could not read")
            && incomplete[0]
                .1
                .contains("npm/cut.json (not an OSV record: ")
            && incomplete[0]
                .1
                .contains("npm/two-keys.json (BROKEN-1: a range event must have exactly one of"),
        &format!("one advisory-db-incomplete warning naming both, got {incomplete:?}"),
    );
    out.no_diag("vulnerable-component")
        .no_diag("advisory-db-stale");

    // Without a component they name: allowed, and the warning still says
    // the database is incomplete.
    sbom(&env, &[("left-pad", "1.3.0")]);
    let out = verify(&env, Some("policy.toml"), &db("osv"));
    let v = exits(&out, 0);
    assert_eq!(diags(&v, "advisory-db-incomplete").len(), 1);
    out.no_diag("advisory-unknown");

    // An ignore with a reason accepts the unreadable record by its id.
    policy(
        &env,
        "[advisories]\nignore = [{ id = \"BROKEN-1\", reason = \"checked by hand\" }]\n",
    );
    sbom(&env, &[("event-stream", "3.3.6")]);
    let out = verify(&env, Some("policy.toml"), &db("osv"));
    exits(&out, 0);
    out.no_diag("advisory-ignore-unused");
}

#[test]
fn an_advisories_table_without_a_database_warns() {
    let env = TestEnv::new();
    let p = policy(&env, "[advisories]\nseverity = \"low\"\n");
    // The linter says so, at the table.
    env.run(["policy", "check", p])
        .code(0)
        .stdout_has("warning[advisory-db-missing]: policy.toml:10:1: [advisories] names no `db`")
        .stdout_has("policy.toml: 0 error(s), 1 warning(s)");
    // So does a decision where no database is in force.
    sbom(&env, &[("lodash", "4.17.15")]);
    let out = verify(&env, Some(p), &[]);
    let v = exits(&out, 0);
    let missing = diags(&v, "advisory-db-missing");
    out.check(
        missing.len() == 1
            && missing[0].0 == "warning"
            && missing[0].1.contains("no advisory database is in force"),
        &format!("one advisory-db-missing warning, got {missing:?}"),
    );
    // Given on the command line, the table is in force: no warning, and
    // lodash 4.17.15 denies.
    let out = verify(&env, Some(p), &[o("--advisories"), f("osv")]);
    exits(&out, 1);
    out.diag("vulnerable-component")
        .no_diag("advisory-db-missing");
    // A table with a db is clean, and no table at all says nothing.
    env.write(
        "with-db.toml",
        format!("version = 1\n\n{SERVER_ENTRY}\n[advisories]\ndb = \"osv\"\n"),
    );
    env.run(["policy", "check", "with-db.toml"])
        .code(0)
        .stdout_has("with-db.toml: 0 error(s), 0 warning(s)");
    let out = verify(&env, Some(policy(&env, "")), &[]);
    exits(&out, 0);
    out.no_diag("advisory-db-missing");
}

#[test]
fn the_users_database_adds_to_the_systems() {
    let env = TestEnv::new();
    // The system policy's database (relative to that policy) knows
    // event-stream 3.3.6.
    let sys_db = env.system.join("system-osv");
    std::fs::create_dir_all(&sys_db).unwrap();
    std::fs::write(
        sys_db.join("ES-1.json"),
        serde_json::to_vec(&event_stream("ES-1")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        env.system_policy(),
        format!("version = 1\n\n{SERVER_ENTRY}\n[advisories]\ndb = \"system-osv\"\n"),
    )
    .unwrap();
    // The user's: one record under the same id with nothing affected, and
    // one of its own.
    let mut shadow = event_stream("ES-1");
    shadow["affected"] = json!([]);
    put(&env, "user-osv/ES-1.json", &shadow);
    put(
        &env,
        "user-osv/LP-1.json",
        &record(
            "LP-1",
            "left-pad",
            json!({ "versions": ["1.3.0"] }),
            Some(&days_ago(1)),
        ),
    );
    policy(&env, "");
    sbom(&env, &[("event-stream", "3.3.6"), ("left-pad", "1.3.0")]);
    let out = verify(&env, Some("policy.toml"), &db("user-osv"));
    let v = exits(&out, 1);
    let vuln = diags(&v, "vulnerable-component");
    out.check(
        vuln.iter().any(|(s, m)| {
            s == "error" && m.contains("pkg:npm/event-stream@3.3.6 is affected by ES-1 (high)")
        }),
        &format!("the system's record still denies, got {vuln:?}"),
    )
    .check(
        vuln.iter()
            .any(|(_, m)| m.contains("pkg:npm/left-pad@1.3.0 is affected by LP-1")),
        "the user's own record counts too",
    );
    // Without --advisories, the system's database alone.
    let out = verify(&env, Some("policy.toml"), &[]);
    exits(&out, 1);
    let v = out.json();
    let vuln = diags(&v, "vulnerable-component");
    out.check(
        vuln.len() == 1 && vuln[0].1.contains("ES-1"),
        &format!("only ES-1, got {vuln:?}"),
    );
    // The system's database named again on the command line (spelt
    // another way): ES-1 is reported once.
    let again: OsString = env.system.join(".").join("system-osv").into();
    let out = verify(&env, Some("policy.toml"), &[o("--advisories"), again]);
    exits(&out, 1);
    assert_eq!(diags(&out.json(), "vulnerable-component").len(), 1);
    // A user database that cannot be used is still an error naming it.
    let out = verify(&env, Some("policy.toml"), &db("nowhere"));
    out.code(2).diag("input-invalid");
    out.check(
        diags(&out.json(), "input-invalid")[0].1.contains("nowhere"),
        "names the path",
    );
    // And the user policy's own `db` adds too: both layers' databases and
    // the command line's are used together.
    policy(&env, "[advisories]\ndb = \"user-osv\"\n");
    let out = verify(&env, Some("policy.toml"), &[]);
    let v = exits(&out, 1);
    assert_eq!(diags(&v, "vulnerable-component").len(), 2, "{v:#}");
}

#[test]
fn database_age_warns_by_default_and_denies_when_told() {
    let env = TestEnv::new();
    sbom(&env, &[("left-pad", "1.3.0")]);
    let write_db = |modified: Option<&str>| {
        let _ = std::fs::remove_dir_all(env.path("osv"));
        put(
            &env,
            "osv/LP-1.json",
            &record(
                "LP-1",
                "left-pad",
                json!({ "versions": ["0.1.0"] }),
                modified,
            ),
        );
    };
    // Eight days old, default max-age (7d): a warning, allowed.
    write_db(Some(&days_ago(8)));
    let p = policy(&env, "");
    let out = verify(&env, Some(p), &db("osv"));
    let v = exits(&out, 0);
    let stale = diags(&v, "advisory-db-stale");
    out.check(
        stale.len() == 1
            && stale[0].0 == "warning"
            && stale[0]
                .1
                .contains("(its newest record), more than `max-age = \"7d\"` ago"),
        &format!("one advisory-db-stale warning, got {stale:?}"),
    );
    // The same under the default policy, with no policy file.
    let out = verify(&env, None, &db("osv"));
    out.diag("advisory-db-stale");
    // stale = "deny": an error, denied.
    let p = policy(&env, "[advisories]\nstale = \"deny\"\n");
    let out = verify(&env, Some(p), &db("osv"));
    let v = exits(&out, 1);
    let stale = diags(&v, "advisory-db-stale");
    out.check(
        stale.len() == 1 && stale[0].0 == "error",
        &format!("one advisory-db-stale error, got {stale:?}"),
    )
    .check(
        v["decision"]["rule"]
            .as_str()
            .is_some_and(|r| r.starts_with("user policy denies: the advisory database")),
        "the rule says why",
    );
    // A longer max-age allows it; a shorter one catches a newer database.
    let p = policy(&env, "[advisories]\nmax-age = \"2w\"\nstale = \"deny\"\n");
    let out = verify(&env, Some(p), &db("osv"));
    exits(&out, 0);
    out.no_diag("advisory-db-stale");
    write_db(Some(&days_ago(2)));
    let p = policy(&env, "[advisories]\nmax-age = \"1d\"\nstale = \"deny\"\n");
    exits(&verify(&env, Some(p), &db("osv")), 1);
    // In audit mode, "deny" is a warning.
    env.write(
        "audit.toml",
        format!("version = 1\nmode = \"audit\"\n\n{SERVER_ENTRY}\n[advisories]\nmax-age = \"1d\"\nstale = \"deny\"\n"),
    );
    let out = verify(&env, Some("audit.toml"), &db("osv"));
    exits(&out, 0);
    assert_eq!(diags(&out.json(), "advisory-db-stale")[0].0, "warning");
    // No record says when it was modified: unknown age, stale.
    write_db(None);
    let p = policy(&env, "");
    let out = verify(&env, Some(p), &db("osv"));
    let v = exits(&out, 0);
    let stale = diags(&v, "advisory-db-stale");
    out.check(
        stale.len() == 1 && stale[0].0 == "warning" && stale[0].1.contains("its age is unknown"),
        &format!("unknown age warns, got {stale:?}"),
    );
    let p = policy(&env, "[advisories]\nstale = \"deny\"\n");
    exits(&verify(&env, Some(p), &db("osv")), 1);
    // The real records in fixtures/osv are years old.
    let out = verify(&env, None, &[o("--advisories"), f("osv")]);
    out.diag("advisory-db-stale");
    // policy check refuses bad values, at their lines.
    env.write(
        "bad.toml",
        "version = 1\n\n[advisories]\ndb = \"osv\"\nmax-age = \"a week\"\nstale = \"sometimes\"\n",
    );
    env.run(["policy", "check", "bad.toml"])
        .code(1)
        .stdout_has("error[policy-bad-pattern]: bad.toml:5:11: invalid duration `a week`")
        .stdout_has("error[policy-type]: bad.toml:6:9: unknown `stale` rule `sometimes`");
}

#[test]
fn a_versions_only_record_does_not_clear_what_it_cannot_place() {
    let env = TestEnv::new();
    put(&env, "osv/ES-1.json", &event_stream("ES-1"));
    let p = policy(&env, "");
    for v in ["3.3.06", "3.3.6.0"] {
        sbom(&env, &[("event-stream", v)]);
        let out = verify(&env, Some(p), &db("osv"));
        let rep = exits(&out, 1);
        let unknown = diags(&rep, "advisory-unknown");
        out.check(
            unknown.len() == 1
                && unknown[0].0 == "error"
                && unknown[0].1.contains(&format!(
                    "pkg:npm/event-stream@{v}: ES-1 (version {v} is not a valid SemVer version and is not listed as it is"
                )),
            &format!("{v}: one advisory-unknown error, got {unknown:?}"),
        );
        out.no_diag("vulnerable-component");
    }
    // The listed version is affected; another valid one is clear.
    sbom(&env, &[("event-stream", "3.3.6")]);
    let out = verify(&env, Some(p), &db("osv"));
    exits(&out, 1);
    out.diag("vulnerable-component");
    sbom(&env, &[("event-stream", "3.3.5")]);
    let out = verify(&env, Some(p), &db("osv"));
    exits(&out, 0);
    out.no_diag("advisory-unknown");
}
