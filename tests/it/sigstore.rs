//! Sigstore bundles through the real binary: every case of the sigstore
//! conformance suite by path and by digest, tampered bundles (each failure
//! reported with its own code and a message that names the check), the
//! wrappers (npm attestations, `.intoto.jsonl`), identity rules, trusted
//! roots, trust-store identities and `[servers.identity]`.

use std::ffi::OsString;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use serde_json::{Value, json};

use super::support::util::*;

const CONFORMANCE_CASES: usize = 70;
const CONF_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GHA: &str = "https://token.actions.githubusercontent.com";
/// Who signed the gha_generic SLSA provenance.
const SLSA_GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0";
const GHA_GENERIC: &str = "slsa/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch";
const SIGSTORE_JS: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const NPM_TGZ: &str = "slsa/npm/gha/provenance-npm-test-cli-v1-prega.tgz";
const NPM_BAD_TGZ: &str = "slsa/npm/gha/provenance-npm-test-cli-v1-prega-invalidsigprov.tgz";

/// Workers for the runs that go in parallel (the suite targets 2 cores;
/// each run is a short process, so a few more workers than cores keep
/// both busy).
const WORKERS: usize = 4;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn conformance(rel: &str) -> PathBuf {
    fixture("sigstore-conformance/bundle-verify").join(rel)
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn digest_arg(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// Runs `f` over `jobs` on `WORKERS` threads; results keep the jobs' order.
fn par_map<J: Sync, R: Send>(jobs: &[J], f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(jobs.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let r = f(job);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// Runs the binary, turning a crash (a panic, a signal, an undocumented
/// exit code: `util` fails the run for those) into an error instead of
/// unwinding the worker, so that one bad case does not hide the others.
fn try_run(env: &TestEnv, args: &[OsString]) -> Result<Output, String> {
    catch_unwind(AssertUnwindSafe(|| env.run(args))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the run failed".into())
    })
}

/// The codes of the error-severity diagnostics of a JSON report.
fn error_codes(v: &Value) -> Vec<String> {
    v["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["severity"] == "error")
        .filter_map(|d| d["code"].as_str().map(str::to_string))
        .collect()
}

/// The report's signature checks, in order.
fn sig_checks(v: &Value) -> Vec<Value> {
    v["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["kind"] == "signature")
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// The conformance suite.

struct ConfCase {
    name: String,
    must_fail: bool,
    artifact: PathBuf,
    artifact_bytes: Vec<u8>,
    /// Everything after the artifact.
    rest: Vec<OsString>,
}

/// `_fail` cases that are refused before any bundle check runs, because
/// the verifier's own input is malformed: by the documented exit-code
/// contract (README, "Exit status") a bad key file or trusted-root file is
/// an input error, exit 2, like every other bad key file. Each must carry
/// exactly this code; the list is pinned so it cannot grow silently.
const INPUT_ERRORS: &[(&str, &str)] = &[
    // key.pub is not valid base64 (non-canonical final quantum) and not a
    // point on P-256: openssl refuses it too.
    ("managed-key-wrong-key_fail", "key-malformed"),
    // trusted_root.json lacks a required `validFor.start`.
    (
        "trust-root-tlog-missing-validity-start_fail",
        "trusted-root-invalid",
    ),
];

fn read_trimmed(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn conformance_cases() -> Vec<ConfCase> {
    let root = conformance("");
    let mut names: Vec<String> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("read {}: {e}", root.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        CONFORMANCE_CASES,
        "fixtures/sigstore-conformance/bundle-verify must hold {CONFORMANCE_CASES} case folders, found {}: {names:?}",
        names.len()
    );
    names
        .into_iter()
        .map(|name| {
            let dir = root.join(&name);
            let bundle = dir.join("bundle.sigstore.json");
            assert!(bundle.is_file(), "{name} has no bundle.sigstore.json");
            let artifact = if dir.join("artifact").is_file() {
                dir.join("artifact")
            } else {
                root.join("a.txt")
            };
            let artifact_bytes = fs::read(&artifact).unwrap();
            let mut rest: Vec<OsString> = vec!["--bundle".into(), bundle.into()];
            if dir.join("key.pub").is_file() {
                rest.push("--key".into());
                rest.push(dir.join("key.pub").into());
            } else {
                let identity = read_trimmed(&dir.join("identity"))
                    .unwrap_or_else(|| CONF_IDENTITY.to_string());
                let issuer = read_trimmed(&dir.join("issuer")).unwrap_or_else(|| GHA.to_string());
                rest.extend(os(&[
                    "--certificate-identity",
                    &identity,
                    "--certificate-oidc-issuer",
                    &issuer,
                ]));
            }
            if dir.join("trusted_root.json").is_file() {
                rest.push("--trusted-root".into());
                rest.push(dir.join("trusted_root.json").into());
            }
            ConfCase {
                must_fail: name.ends_with("_fail"),
                name,
                artifact,
                artifact_bytes,
                rest,
            }
        })
        .collect()
}

/// One judgement: Ok(what was reported) when right, Err(why) when wrong.
fn judge_conformance(env: &TestEnv, case: &ConfCase, by_digest: bool) -> Result<String, String> {
    let mut args: Vec<OsString> = os(&["--format", "json", "verify"]);
    args.push(if by_digest {
        digest_arg(&case.artifact_bytes).into()
    } else {
        case.artifact.clone().into()
    });
    args.extend(case.rest.iter().cloned());
    let out = try_run(env, &args)?;
    let v: Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("stdout is not one JSON document ({e})\n{}", out.context()))?;
    let codes = error_codes(&v);
    let wrong = |why: String| Err(format!("{why} (codes {codes:?})\n{}", out.context()));
    if !case.must_fail {
        if out.code != Some(0) || v["verdict"] != "allowed" {
            return wrong(format!("must verify, got exit {:?}", out.code));
        }
        return Ok("allowed".into());
    }
    if let Some((_, code)) = INPUT_ERRORS.iter().find(|(n, _)| *n == case.name) {
        if out.code != Some(2) || v["verdict"] != "error" || codes != [*code] {
            return wrong(format!(
                "must be refused as an input error with exactly `{code}` (exit 2), got exit {:?}",
                out.code
            ));
        }
        return Ok(format!("input error {code}"));
    }
    if out.code != Some(1) {
        return wrong(format!("must be denied with exit 1, got {:?}", out.code));
    }
    if v["verdict"] != "denied" {
        return wrong(format!("verdict {} instead of denied", v["verdict"]));
    }
    if codes.is_empty() || codes.iter().any(|c| c.is_empty()) {
        return wrong("a denial must carry a diagnostic code".into());
    }
    // The signature check itself must say what failed.
    let failed = sig_checks(&v)
        .iter()
        .any(|c| c["status"] == "fail" && c["code"].as_str().is_some_and(|c| !c.is_empty()));
    if !failed {
        return wrong("no failed signature check with a code".into());
    }
    Ok(codes.join(","))
}

#[test]
fn conformance_suite() {
    let env = TestEnv::new();
    let cases = conformance_cases();
    let jobs: Vec<(usize, bool)> = (0..cases.len())
        .flat_map(|i| [(i, false), (i, true)])
        .collect();
    let results = par_map(&jobs, |&(i, by_digest)| {
        judge_conformance(&env, &cases[i], by_digest)
    });
    let mut wrong = Vec::new();
    let mut table = String::new();
    for (&(i, by_digest), r) in jobs.iter().zip(&results) {
        let mode = if by_digest { "digest" } else { "path" };
        match r {
            Ok(what) => table.push_str(&format!("  {:<60} {mode:<6} {what}\n", cases[i].name)),
            Err(why) => wrong.push(format!("{} ({mode}): {why}", cases[i].name)),
        }
    }
    let total = jobs.len();
    assert_eq!(total, 2 * CONFORMANCE_CASES);
    let right = total - wrong.len();
    println!("{table}");
    println!("sigstore conformance: {right}/{total} judgements right");
    assert!(
        wrong.is_empty(),
        "sigstore conformance: {right}/{total} judgements right; wrong:\n\n{}",
        wrong.join("\n\n")
    );
    // Every excepted case exists, so the exception list cannot go stale.
    for (name, _) in INPUT_ERRORS {
        assert!(
            cases.iter().any(|c| c.name == *name && c.must_fail),
            "INPUT_ERRORS names `{name}`, which is not a _fail case"
        );
    }
}

// ---------------------------------------------------------------------------
// Tampering: one change at a time, each reported with its own code.

/// Flips one bit of the byte at `at` (from the end when negative) of the
/// base64 string at `pointer`, so the value stays valid base64.
fn flip_b64(v: &mut Value, pointer: &str, at: isize) {
    let s = v
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"));
    let mut bytes = b64().decode(s).unwrap();
    let i = if at < 0 {
        (bytes.len() as isize + at) as usize
    } else {
        at as usize
    };
    bytes[i] ^= 0x01;
    *v.pointer_mut(pointer).unwrap() = Value::String(b64().encode(bytes));
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = value;
}

fn get_str(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
        .to_string()
}

/// Edits the checkpoint note (the signed tree head), line by line.
fn edit_checkpoint(v: &mut Value, edit: impl Fn(&mut Vec<String>)) {
    const P: &str = "/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope";
    let mut lines: Vec<String> = get_str(v, P).split('\n').map(str::to_string).collect();
    edit(&mut lines);
    set(v, P, Value::String(lines.join("\n")));
}

const ENTRY: &str = "/verificationMaterial/tlogEntries/0";

struct Tamper {
    what: String,
    bundle: Value,
    artifact: Vec<u8>,
    /// The identity or key arguments (and anything else after the bundle).
    rule: Vec<OsString>,
    /// Expected error code in path mode, and in digest mode.
    code: (&'static str, &'static str),
    /// Part of the diagnostic's message, naming the failed check, in path
    /// mode and in digest mode.
    message: (&'static str, &'static str),
}

/// The same signer rule for every tamper of a case, unless a tamper says otherwise.
struct Base {
    case: &'static str,
    bundle: Value,
    artifact: Vec<u8>,
    rule: Vec<OsString>,
}

impl Base {
    fn new(case: &'static str) -> Self {
        let bundle: Value = serde_json::from_slice(
            &fs::read(conformance(&format!("{case}/bundle.sigstore.json"))).unwrap(),
        )
        .unwrap();
        let key = conformance(&format!("{case}/key.pub"));
        let rule = if key.is_file() {
            vec!["--key".into(), key.into()]
        } else {
            os(&[
                "--certificate-identity",
                CONF_IDENTITY,
                "--certificate-oidc-issuer",
                GHA,
            ])
        };
        Base {
            case,
            bundle,
            artifact: fs::read(conformance("a.txt")).unwrap(),
            rule,
        }
    }

    /// A tamper of the bundle only, the same code in both modes.
    fn bundle(
        &self,
        what: &str,
        code: &'static str,
        message: &'static str,
        edit: impl Fn(&mut Value),
    ) -> Tamper {
        let mut bundle = self.bundle.clone();
        edit(&mut bundle);
        Tamper {
            what: format!("{}: {what}", self.case),
            bundle,
            artifact: self.artifact.clone(),
            rule: self.rule.clone(),
            code: (code, code),
            message: (message, message),
        }
    }

    fn with(&self, what: &str, code: &'static str, message: &'static str) -> Tamper {
        self.bundle(what, code, message, |_| {})
    }
}

impl Tamper {
    fn artifact(mut self, a: Vec<u8>) -> Self {
        self.artifact = a;
        self
    }
    fn rule(mut self, r: Vec<OsString>) -> Self {
        self.rule = r;
        self
    }
    /// Another outcome when only the digest is given.
    fn by_digest(mut self, code: &'static str, message: &'static str) -> Self {
        self.code.1 = code;
        self.message.1 = message;
        self
    }
}

/// Runs one tamper in one mode; Ok(the codes) when it is denied as
/// expected, Err(why) otherwise.
fn judge_tamper(env: &TestEnv, idx: usize, t: &Tamper, by_digest: bool) -> Result<String, String> {
    // One pair of files per run: the two modes of a tamper may run at once.
    let mode = if by_digest { "digest" } else { "path" };
    let bundle = format!("t{idx}-{mode}.sigstore.json");
    let art = format!("t{idx}-{mode}.artifact");
    env.write(&bundle, serde_json::to_vec_pretty(&t.bundle).unwrap());
    env.write(&art, &t.artifact);
    let mut args = os(&["--format", "json", "verify"]);
    args.push(if by_digest {
        digest_arg(&t.artifact).into()
    } else {
        art.into()
    });
    args.extend(os(&["--bundle", &bundle]));
    args.extend(t.rule.iter().cloned());
    let out = try_run(env, &args)?;
    let (want, want_message) = if by_digest {
        (t.code.1, t.message.1)
    } else {
        (t.code.0, t.message.0)
    };
    let v: Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("stdout is not JSON ({e})\n{}", out.context()))?;
    let codes = error_codes(&v);
    let fail = |why: &str| Err(format!("{why}; codes {codes:?}\n{}", out.context()));
    if out.code != Some(1) || v["verdict"] != "denied" {
        return fail(&format!("expected a denial, exit 1, got {:?}", out.code));
    }
    if codes != [want] {
        return fail(&format!("expected exactly `{want}`"));
    }
    let d = out.diagnostic(want);
    let message = d["message"].as_str().unwrap_or_default();
    if !message.contains(want_message) {
        return fail(&format!(
            "the message should name the check ({want_message:?})"
        ));
    }
    if d["hint"].as_str().is_none_or(str::is_empty) {
        return fail("the diagnostic has no hint");
    }
    let check = sig_checks(&v);
    if !check
        .iter()
        .any(|c| c["status"] == "fail" && c["code"] == want)
    {
        return fail("the signature check does not fail with that code");
    }
    Ok(codes.join(","))
}

/// Runs every tamper in both modes, prints the table, and fails listing
/// every tamper that was not denied as pinned.
fn run_tampers(env: &TestEnv, tampers: &[Tamper]) {
    let jobs: Vec<(usize, bool)> = (0..tampers.len())
        .flat_map(|i| [(i, false), (i, true)])
        .collect();
    let results = par_map(&jobs, |&(i, d)| judge_tamper(env, i, &tampers[i], d));
    let mut wrong = Vec::new();
    let mut table = String::new();
    for (&(i, by_digest), r) in jobs.iter().zip(&results) {
        let mode = if by_digest { "digest" } else { "path" };
        match r {
            Ok(codes) => table.push_str(&format!("  {:<75} {mode:<6} {codes}\n", tampers[i].what)),
            Err(why) => wrong.push(format!("{} ({mode}): {why}", tampers[i].what)),
        }
    }
    println!("{table}");
    assert!(
        wrong.is_empty(),
        "{} of {} tamper runs were not denied as pinned:\n\n{}",
        wrong.len(),
        jobs.len(),
        wrong.join("\n\n")
    );
}

fn changed_artifact(base: &[u8]) -> Vec<u8> {
    let mut a = base.to_vec();
    a[5] ^= 0x01;
    a
}

/// The keyless tampers, for a bundle whose certificate sits at `cert`.
fn keyless_tampers(case: &'static str, cert: &'static str, expired_root: &Path) -> Vec<Tamper> {
    let b = Base::new(case);
    let other = changed_artifact(&b.artifact);
    let other_digest = b64().encode(sha2_256(&other));
    let identity_rule =
        |id: &str, id_flag: &str, iss: &str, iss_flag: &str| os(&[id_flag, id, iss_flag, iss]);
    vec![
        b.with(
            "artifact: one byte changed",
            "digest-mismatch",
            "message digest in bundle does not match artifact hash",
        )
        .artifact(other.clone()),
        b.bundle(
            "artifact changed and messageDigest rewritten to match",
            "signature-invalid",
            "signature verification failed",
            |v| set(v, "/messageSignature/messageDigest/digest", json!(other_digest)),
        )
        .artifact(other.clone()),
        b.bundle(
            "messageSignature.signature: one byte",
            "signature-invalid",
            "signature verification failed",
            |v| flip_b64(v, "/messageSignature/signature", 20),
        ),
        b.bundle(
            "certificate: one byte of the signed part (TBS)",
            "certificate-invalid",
            "certificate chain is invalid",
            |v| flip_b64(v, cert, 400),
        ),
        b.bundle(
            "certificate: one byte of the DER header",
            "certificate-invalid",
            "malformed certificate",
            |v| flip_b64(v, cert, 5),
        ),
        b.bundle(
            "inclusionProof.hashes[0]: one byte",
            "inclusion-proof-invalid",
            "inclusion proof verification failed",
            |v| flip_b64(v, &format!("{ENTRY}/inclusionProof/hashes/0"), 7),
        ),
        b.bundle(
            "inclusionProof.logIndex = treeSize",
            "inclusion-proof-invalid",
            "out of range",
            |v| {
                let size = get_str(v, &format!("{ENTRY}/inclusionProof/treeSize"));
                set(v, &format!("{ENTRY}/inclusionProof/logIndex"), json!(size));
            },
        ),
        b.bundle(
            "inclusionProof.rootHash: one byte",
            "checkpoint-invalid",
            "does not match checkpoint root hash",
            |v| flip_b64(v, &format!("{ENTRY}/inclusionProof/rootHash"), 3),
        ),
        b.bundle(
            "checkpoint text: origin line changed",
            "checkpoint-invalid",
            "invalid checkpoint",
            |v| edit_checkpoint(v, |l| l[0] = l[0].replacen("rekor", "rekon", 1)),
        ),
        b.bundle(
            "checkpoint text: tree size line changed",
            "checkpoint-invalid",
            "invalid checkpoint",
            |v| {
                edit_checkpoint(v, |l| {
                    l[1] = (l[1].parse::<u64>().unwrap() + 1).to_string();
                })
            },
        ),
        b.bundle(
            "checkpoint text: root hash line changed",
            "checkpoint-invalid",
            "checkpoint root hash",
            |v| {
                edit_checkpoint(v, |l| {
                    let mut h = b64().decode(&l[2]).unwrap();
                    h[0] ^= 1;
                    l[2] = b64().encode(h);
                })
            },
        ),
        b.bundle(
            "checkpoint signature: one byte",
            "checkpoint-invalid",
            "invalid checkpoint",
            |v| {
                edit_checkpoint(v, |l| {
                    // `— name base64(key hint || signature)`
                    let sig_line = l.iter_mut().find(|x| x.starts_with('\u{2014}')).unwrap();
                    let (head, sig) = sig_line.rsplit_once(' ').unwrap();
                    let mut bytes = b64().decode(sig).unwrap();
                    bytes[10] ^= 1;
                    *sig_line = format!("{head} {}", b64().encode(bytes));
                })
            },
        ),
        b.bundle(
            "inclusionPromise.signedEntryTimestamp: one byte",
            "set-invalid",
            "invalid inclusion promise",
            |v| {
                flip_b64(
                    v,
                    &format!("{ENTRY}/inclusionPromise/signedEntryTimestamp"),
                    20,
                )
            },
        ),
        b.bundle(
            "integratedTime + 1 s (signed by the SET)",
            "set-invalid",
            "invalid inclusion promise",
            |v| {
                let t: u64 = get_str(v, &format!("{ENTRY}/integratedTime")).parse().unwrap();
                set(v, &format!("{ENTRY}/integratedTime"), json!((t + 1).to_string()));
            },
        ),
        b.bundle(
            "canonicalizedBody: one byte (signed by the SET)",
            "set-invalid",
            "invalid inclusion promise",
            |v| flip_b64(v, &format!("{ENTRY}/canonicalizedBody"), -30),
        ),
        b.with(
            "identity off by one character",
            "identity-mismatch",
            "the certificate identity is",
        )
        .rule(identity_rule(
            &format!("{}x", &CONF_IDENTITY[..CONF_IDENTITY.len() - 1]),
            "--certificate-identity",
            GHA,
            "--certificate-oidc-issuer",
        )),
        b.with(
            "issuer off by one character",
            "issuer-mismatch",
            "OIDC issuer is",
        )
        .rule(identity_rule(
            CONF_IDENTITY,
            "--certificate-identity",
            "https://token.actions.githubusercontent.con",
            "--certificate-oidc-issuer",
        )),
        b.with(
            "identity regexp matching only a prefix",
            "identity-mismatch",
            "requires /https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/",
        )
        .rule(identity_rule(
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon",
            "--certificate-identity-regexp",
            GHA,
            "--certificate-oidc-issuer",
        )),
        b.with(
            "issuer regexp matching only a prefix",
            "issuer-mismatch",
            "requires /https://token\\.actions/",
        )
        .rule(identity_rule(
            CONF_IDENTITY,
            "--certificate-identity",
            "https://token\\.actions",
            "--certificate-oidc-issuer-regexp",
        )),
        b.with(
            "a bundle for another artifact",
            "digest-mismatch",
            "message digest in bundle does not match artifact hash",
        )
        .artifact(fs::read(fixture("slsa/bcr/MODULE.bazel")).unwrap()),
        b.with(
            "trusted root whose CAs all ended before the signing time",
            "trusted-root-expired",
            "no trusted certificate authority is valid at",
        )
        .rule({
            let mut r = b.rule.clone();
            r.push("--trusted-root".into());
            r.push(expired_root.into());
            r
        }),
    ]
}

fn sha2_256(bytes: &[u8]) -> Vec<u8> {
    hex::decode(sha256_hex(bytes)).unwrap()
}

/// The production root with every CA's validity ending on 2023-01-01:
/// after each CA's start, before either happy path was signed (2023-07
/// and 2024-03).
fn expired_root(env: &TestEnv) -> PathBuf {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("trust-roots/sigstore-production.trusted_root.json"),
    )
    .unwrap();
    let mut root: Value = serde_json::from_str(&text).unwrap();
    let cas = root["certificateAuthorities"].as_array_mut().unwrap();
    assert!(!cas.is_empty());
    for ca in cas {
        ca["validFor"]["end"] = json!("2023-01-01T00:00:00Z");
    }
    env.write(
        "expired.trusted_root.json",
        serde_json::to_vec(&root).unwrap(),
    );
    env.path("expired.trusted_root.json")
}

#[test]
fn tampered_keyless_bundles_fail_each_with_its_own_code() {
    let env = TestEnv::new();
    let expired = expired_root(&env);
    // Both happy paths verify untouched, in both modes, also under the
    // unmodified production root given as a file.
    for case in ["happy-path-v0.3", "happy-path-v0.1"] {
        let bundle = conformance(&format!("{case}/bundle.sigstore.json"));
        let a = conformance("a.txt");
        for art in [
            a.clone().into_os_string(),
            digest_arg(&fs::read(&a).unwrap()).into(),
        ] {
            let mut args: Vec<OsString> = vec!["verify".into(), art, "--bundle".into()];
            args.push(bundle.clone().into());
            args.extend(os(&[
                "--certificate-identity",
                CONF_IDENTITY,
                "--certificate-oidc-issuer",
                GHA,
            ]));
            env.run(&args).code(0);
            args.push("--trusted-root".into());
            args.push(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("trust-roots/sigstore-production.trusted_root.json")
                    .into(),
            );
            env.run(&args).code(0);
        }
    }
    let mut tampers = keyless_tampers(
        "happy-path-v0.3",
        "/verificationMaterial/certificate/rawBytes",
        &expired,
    );
    tampers.extend(keyless_tampers(
        "happy-path-v0.1",
        "/verificationMaterial/x509CertificateChain/certificates/0/rawBytes",
        &expired,
    ));
    run_tampers(&env, &tampers);
}

/// A P-256 public key that did not sign anything here.
fn other_p256_key(env: &TestEnv) -> PathBuf {
    tool(
        &env.work,
        "openssl",
        [
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "other-p256.pem",
        ],
    );
    tool(
        &env.work,
        "openssl",
        [
            "pkey",
            "-in",
            "other-p256.pem",
            "-pubout",
            "-out",
            "other-p256.pub.pem",
        ],
    );
    env.path("other-p256.pub.pem")
}

#[test]
fn tampered_managed_key_bundles_fail_each_with_its_own_code() {
    let env = TestEnv::new();
    let b = Base::new("managed-key-happy-path");
    let other_key = other_p256_key(&env);
    let ed_key = PemKey::generate(&env, "ed").public;
    let without_tsa = |v: &mut Value| {
        v["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("timestampVerificationData")
            .expect("the bundle has an RFC 3161 timestamp");
    };
    let tampers = vec![
        b.with(
            "artifact: one byte changed",
            "digest-mismatch",
            "message digest in bundle does not match artifact hash",
        )
        .artifact(changed_artifact(&b.artifact)),
        // The RFC 3161 timestamp is over the signature bytes, and
        // sigstore-verify checks it before the signature.
        b.bundle(
            "messageSignature.signature: one byte",
            "timestamp-invalid",
            "Timestamp message hash mismatch",
            |v| flip_b64(v, "/messageSignature/signature", 20),
        ),
        b.bundle(
            "messageSignature.signature: one byte, timestamp removed",
            "signature-invalid",
            "signature verification failed",
            |v| {
                without_tsa(v);
                flip_b64(v, "/messageSignature/signature", 20)
            },
        ),
        b.bundle(
            "RFC 3161 timestamp: one byte of its signature",
            "timestamp-invalid",
            "invalid RFC 3161 timestamp",
            |v| {
                flip_b64(
                    v,
                    "/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp",
                    -10,
                )
            },
        ),
        b.bundle(
            "inclusionProof.hashes[0]: one byte",
            "inclusion-proof-invalid",
            "inclusion proof verification failed",
            |v| flip_b64(v, &format!("{ENTRY}/inclusionProof/hashes/0"), 7),
        ),
        b.bundle(
            "inclusionProof.rootHash: one byte",
            "checkpoint-invalid",
            "does not match checkpoint root hash",
            |v| flip_b64(v, &format!("{ENTRY}/inclusionProof/rootHash"), 3),
        ),
        b.bundle(
            "checkpoint text: origin line changed",
            "checkpoint-invalid",
            "invalid checkpoint",
            |v| edit_checkpoint(v, |l| l[0] = l[0].replacen("rekor", "rekon", 1)),
        ),
        b.bundle(
            "inclusionPromise.signedEntryTimestamp: one byte",
            "set-invalid",
            "invalid inclusion promise",
            |v| {
                flip_b64(
                    v,
                    &format!("{ENTRY}/inclusionPromise/signedEntryTimestamp"),
                    20,
                )
            },
        ),
        // Here the inclusion proof is checked before the SET.
        b.bundle(
            "canonicalizedBody: one byte",
            "inclusion-proof-invalid",
            "inclusion proof verification failed",
            |v| flip_b64(v, &format!("{ENTRY}/canonicalizedBody"), -30),
        ),
        b.with(
            "another P-256 key",
            "signature-invalid",
            "signature verification failed",
        )
        .rule(vec!["--key".into(), other_key.into()]),
        // Pure Ed25519 needs the message itself: in digest mode it cannot
        // be checked at all.
        b.with(
            "an Ed25519 key",
            "signature-invalid",
            "ED25519 signature invalid",
        )
        .rule(vec!["--key".into(), ed_key.into()])
        .by_digest(
            "digest-mode-unsupported",
            "scheme ED25519 does not support prehashed mode",
        ),
        b.with(
            "a bundle for another artifact",
            "digest-mismatch",
            "message digest in bundle does not match artifact hash",
        )
        .artifact(fs::read(fixture("slsa/bcr/MODULE.bazel")).unwrap()),
    ];
    // The timestamp-free bundle still verifies untouched, so the tamper
    // above is what denies it.
    let mut untouched = b.bundle.clone();
    without_tsa(&mut untouched);
    env.write("no-tsa.json", serde_json::to_vec(&untouched).unwrap());
    env.write("a.txt", &b.artifact);
    let mut args = os(&["verify", "a.txt", "--bundle", "no-tsa.json"]);
    args.extend(b.rule.iter().cloned());
    env.run(&args).code(0);
    run_tampers(&env, &tampers);
}

/// A message-signature bundle by an Ed25519 managed key, in a log of our
/// own (a P-256 "Rekor" key, one entry, a one-leaf tree), with the trusted
/// root that names that log. Made with openssl, as the sigstore clients
/// would: the Ed25519 signature is over the artifact itself.
struct OwnLog {
    env: TestEnv,
    signer: PathBuf,
}

fn openssl(env: &TestEnv, args: &[&str]) -> Vec<u8> {
    tool(&env.work, "openssl", args)
}

fn own_log_bundle(artifact: &[u8]) -> OwnLog {
    let env = TestEnv::new();
    env.write("server.bin", artifact);
    openssl(
        &env,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "log.pem",
        ],
    );
    openssl(
        &env,
        &[
            "pkey", "-in", "log.pem", "-pubout", "-outform", "DER", "-out", "log.der",
        ],
    );
    let signer = PemKey::generate(&env, "signer");
    openssl(
        &env,
        &[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            "signer.pem",
            "-in",
            "server.bin",
            "-out",
            "art.sig",
        ],
    );
    let sign_p256 = |name: &str, data: &[u8]| -> Vec<u8> {
        env.write(name, data);
        let out = format!("{name}.sig");
        openssl(
            &env,
            &["dgst", "-sha256", "-sign", "log.pem", "-out", &out, name],
        );
        env.read(&out)
    };
    let log_spki = env.read("log.der");
    let log_id = sha2_256(&log_spki);
    let signer_pem = env.read("signer.pub.pem");
    let sig = env.read("art.sig");
    let hash = sha2_256(artifact);
    // Keys in sorted order (serde_json keeps insertion order here): the
    // canonical JSON that Rekor signs.
    let body = serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(&hash)}},
            "signature": {"content": b64().encode(&sig), "publicKey": {"content": b64().encode(&signer_pem)}},
        },
    }))
    .unwrap();
    let time = 1_750_000_000u64;
    let set_payload = serde_json::to_vec(&json!({
        "body": b64().encode(&body),
        "integratedTime": time,
        "logID": hex::encode(&log_id),
        "logIndex": 0,
    }))
    .unwrap();
    let set = sign_p256("set.json", &set_payload);
    let root_hash = {
        let mut leaf = vec![0u8];
        leaf.extend_from_slice(&body);
        sha2_256(&leaf)
    };
    let note = format!("rekor.test.invalid - 1\n1\n{}\n", b64().encode(&root_hash));
    let note_sig = sign_p256("note.txt", note.as_bytes());
    let mut hint_sig = log_id[..4].to_vec();
    hint_sig.extend_from_slice(&note_sig);
    let envelope = format!(
        "{note}\n\u{2014} rekor.test.invalid {}\n",
        b64().encode(&hint_sig)
    );
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": ""},
            "tlogEntries": [{
                "logIndex": "0",
                "logId": {"keyId": b64().encode(&log_id)},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": time.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": b64().encode(&set)},
                "inclusionProof": {
                    "logIndex": "0",
                    "rootHash": b64().encode(&root_hash),
                    "treeSize": "1",
                    "hashes": [],
                    "checkpoint": {"envelope": envelope},
                },
                "canonicalizedBody": b64().encode(&body),
            }],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64().encode(&hash)},
            "signature": b64().encode(&sig),
        },
    });
    env.write("bundle.json", serde_json::to_vec_pretty(&bundle).unwrap());
    let root = json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.test.invalid",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": b64().encode(&log_spki),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": "2020-01-01T00:00:00Z"},
            },
            "logId": {"keyId": b64().encode(&log_id)},
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    });
    env.write("root.json", serde_json::to_vec_pretty(&root).unwrap());
    OwnLog {
        signer: signer.public,
        env,
    }
}

#[test]
fn ed25519_managed_key_bundle_verifies_by_path_only() {
    let artifact = noise(300_000, 11);
    let log = own_log_bundle(&artifact);
    let env = &log.env;
    let signer = log.signer.to_str().unwrap();
    let common = [
        "--bundle",
        "bundle.json",
        "--trusted-root",
        "root.json",
        "--key",
        signer,
    ];

    let out = env.run(
        ["--format", "json", "verify", "server.bin"]
            .iter()
            .chain(&common),
    );
    out.code(0);
    let v = out.json();
    let c = &sig_checks(&v)[0];
    out.check(c["status"] == "pass", "the signature check passes")
        .check(
            c["details"]["trusted-root"] == "root.json",
            "the trusted root is the file given",
        )
        .check(
            c["details"]["log"] == "https://rekor.test.invalid",
            "the log is named",
        )
        .check(c["signer"]["kind"] == "key", "signed by a key");

    // Ed25519 signs the message itself: a digest is not enough.
    let digest = digest_arg(&artifact);
    let out = env.run(
        ["--format", "json", "verify", digest.as_str()]
            .iter()
            .chain(&common),
    );
    out.code(1).diag("digest-mode-unsupported");

    // One byte of the artifact, and the artifact with the bundle's digest
    // rewritten to match it (the Ed25519 signature itself then fails).
    let mut changed = artifact.clone();
    changed[150_000] ^= 1;
    env.write("changed.bin", &changed);
    env.run(
        ["--format", "json", "verify", "changed.bin"]
            .iter()
            .chain(&common),
    )
    .code(1)
    .diag("digest-mismatch");
    let mut bundle: Value = serde_json::from_slice(&env.read("bundle.json")).unwrap();
    set(
        &mut bundle,
        "/messageSignature/messageDigest/digest",
        json!(b64().encode(sha2_256(&changed))),
    );
    env.write("rewritten.json", serde_json::to_vec(&bundle).unwrap());
    let out = env.run([
        "--format",
        "json",
        "verify",
        "changed.bin",
        "--bundle",
        "rewritten.json",
        "--trusted-root",
        "root.json",
        "--key",
        signer,
    ]);
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["signature-invalid"],
        "the Ed25519 signature over the changed artifact fails",
    );

    // Without our root, the log is unknown to the embedded ones.
    let out = env.run([
        "--format",
        "json",
        "verify",
        "server.bin",
        "--bundle",
        "bundle.json",
        "--key",
        signer,
    ]);
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["tlog-invalid"],
        "a log that no trusted root knows: tlog-invalid",
    );
}

// ---------------------------------------------------------------------------
// Wrappers, reports and identities.

/// `--format json verify ARTIFACT --bundle BUNDLE --certificate-identity ID --certificate-oidc-issuer GHA`
/// for fixtures, run from the fixtures directory's absolute paths.
fn verify_fixture(env: &TestEnv, artifact: &str, bundle: &str, identity: &str) -> Output {
    let art = if artifact.starts_with("sha") {
        OsString::from(artifact)
    } else {
        fixture(artifact).into()
    };
    let mut args: Vec<OsString> = vec!["--format".into(), "json".into(), "verify".into(), art];
    args.push("--bundle".into());
    args.push(fixture(bundle).into());
    args.extend(os(&[
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        GHA,
    ]));
    env.run(&args)
}

#[test]
fn npm_attestations_document_verifies_and_skips_the_registry_signature() {
    let env = TestEnv::new();
    let doc = format!("{NPM_TGZ}.json");
    let out = verify_fixture(&env, NPM_TGZ, &doc, SIGSTORE_JS);
    out.code(0).diag("key-unknown");
    let v = out.json();
    let checks = sig_checks(&v);
    out.check(checks.len() == 2, "one check per attestation");
    let (publish, provenance) = (&checks[0], &checks[1]);
    out.check(
        publish["status"] == "skip"
            && publish["code"] == "key-unknown"
            && publish["details"]["format"]
                .as_str()
                .unwrap()
                .starts_with("npm attestations document, attestation 1"),
        "the registry-signed publish attestation is a SKIP",
    )
    .check(
        out.diagnostic("key-unknown")["severity"] == "warning",
        "the skipped member is a warning, not an error",
    )
    .check(
        provenance["status"] == "pass"
            && provenance["details"]["format"]
                == "npm attestations document, attestation 2 (https://slsa.dev/provenance/v1)"
            && provenance["details"]["content"] == "DSSE envelope"
            && provenance["signer"]["identity"] == SIGSTORE_JS,
        "the provenance attestation verifies by the sigstore-js release workflow",
    );
    out.check(error_codes(&v).is_empty(), "no error");

    // The human report shows the SKIP.
    let human = env.run([
        OsString::from("verify"),
        fixture(NPM_TGZ).into(),
        "--bundle".into(),
        fixture(&doc).into(),
        "--certificate-identity".into(),
        SIGSTORE_JS.into(),
        "--certificate-oidc-issuer".into(),
        GHA.into(),
    ]);
    human
        .code(0)
        .stdout_has("SKIP  signature")
        .stdout_has("format: npm attestations document, attestation 1");

    // npm's subjects are sha512: its digest verifies, a sha256 one cannot match.
    let tgz = fs::read(fixture(NPM_TGZ)).unwrap();
    let sha512 = format!("sha512:{}", sha512_hex(&tgz));
    verify_fixture(&env, &sha512, &doc, SIGSTORE_JS).code(0);
    verify_fixture(&env, &digest_arg(&tgz), &doc, SIGSTORE_JS)
        .code(1)
        .diag("digest-mismatch");

    // Another identity: the provenance is denied, the SKIP stays a SKIP.
    let out = verify_fixture(&env, NPM_TGZ, &doc, SLSA_GENERATOR);
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["identity-mismatch"],
        "identity-mismatch only",
    );
}

#[test]
fn npm_document_with_an_invalid_provenance_signature_is_denied() {
    let env = TestEnv::new();
    let out = verify_fixture(
        &env,
        NPM_BAD_TGZ,
        &format!("{NPM_BAD_TGZ}.json"),
        SIGSTORE_JS,
    );
    out.code(1);
    let v = out.json();
    out.check(v["verdict"] == "denied", "denied")
        .check(
            error_codes(&v) == ["signature-invalid"],
            "signature-invalid only",
        )
        .check(
            out.diagnostic("signature-invalid")["message"]
                .as_str()
                .unwrap()
                .contains("DSSE signature verification failed"),
            "the message names the DSSE signature",
        );
}

#[test]
fn intoto_jsonl_verifies_and_reports_the_github_claims() {
    let env = TestEnv::new();
    let bundle = format!("{GHA_GENERIC}.intoto.jsonl");
    let art = fs::read(fixture(GHA_GENERIC)).unwrap();
    for artifact in [GHA_GENERIC.to_string(), digest_arg(&art)] {
        let out = verify_fixture(&env, &artifact, &bundle, SLSA_GENERATOR);
        out.code(0);
        let v = out.json();
        let c = &sig_checks(&v)[0];
        let d = &c["details"];
        let want = [
            ("identity", SLSA_GENERATOR),
            ("issuer", GHA),
            ("trusted-root", "sigstore-production"),
            ("log", "https://rekor.sigstore.dev"),
            ("content", "DSSE envelope"),
            (
                "claim-repository",
                "https://github.com/slsa-framework/example-package",
            ),
            ("claim-ref", "refs/heads/main"),
            (
                "claim-workflow",
                "https://github.com/slsa-framework/example-package/.github/workflows/verifier-e2e.all.workflow_dispatch.main.all.slsa3.yml@refs/heads/main",
            ),
            ("claim-trigger", "workflow_dispatch"),
            ("claim-commit", "4d329c75e7ec1725f7c9ce917a8799d408d06be3"),
            ("claim-runner-environment", "github-hosted"),
        ];
        for (k, val) in want {
            out.check(d[k] == val, &format!("details.{k} = {val}"));
        }
        let claims = &c["signer"]["claims"];
        for k in [
            "repository",
            "ref",
            "workflow",
            "trigger",
            "commit",
            "runner-environment",
        ] {
            out.check(
                claims[k] == d[format!("claim-{k}")],
                &format!("signer.claims.{k} matches the details"),
            );
        }
    }

    // The provenance names another artifact than this one.
    let out = verify_fixture(&env, "sigstore-conformance/a.txt", &bundle, SLSA_GENERATOR);
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["digest-mismatch"],
        "digest-mismatch only",
    )
    .check(
        out.diagnostic("digest-mismatch")["message"]
            .as_str()
            .unwrap()
            .contains("does not match any subject"),
        "the message names the statement's subjects",
    );

    // The same bundle twice, one per line: in-toto JSON lines, both checked.
    let line = fs::read_to_string(fixture(&bundle)).unwrap();
    env.write(
        "two.intoto.jsonl",
        format!("{}\n{}\n", line.trim(), line.trim()),
    );
    let out = env.run([
        OsString::from("--format"),
        "json".into(),
        "verify".into(),
        fixture(GHA_GENERIC).into(),
        "--bundle".into(),
        "two.intoto.jsonl".into(),
        "--certificate-identity".into(),
        SLSA_GENERATOR.into(),
        "--certificate-oidc-issuer".into(),
        GHA.into(),
    ]);
    out.code(0);
    let formats: Vec<Value> = sig_checks(&out.json())
        .iter()
        .map(|c| c["details"]["format"].clone())
        .collect();
    out.check(
        formats
            == [
                json!("in-toto JSON lines, line 1"),
                json!("in-toto JSON lines, line 2"),
            ],
        &format!("formats {formats:?}"),
    );
}

#[test]
fn bcr_wrong_signer_is_denied_under_the_real_signers_identity() {
    let env = TestEnv::new();
    let run = |bundle: &str, rule: [&str; 4]| {
        let mut args: Vec<OsString> = os(&["--format", "json", "verify"]);
        args.push(fixture("slsa/bcr/MODULE.bazel").into());
        args.push("--bundle".into());
        args.push(fixture(bundle).into());
        args.extend(os(&rule));
        env.run(&args)
    };
    let any = [
        "--certificate-identity-regexp",
        ".*",
        "--certificate-oidc-issuer-regexp",
        ".*",
    ];
    let good = run("slsa/bcr/MODULE.bazel.intoto.jsonl", any);
    good.code(0);
    let d = sig_checks(&good.json())[0]["details"].clone();
    let identity = d["identity"].as_str().unwrap().to_string();
    let issuer = d["issuer"].as_str().unwrap().to_string();
    good.check(
        identity.starts_with("https://github.com/"),
        "a GitHub workflow identity",
    );
    run(
        "slsa/bcr/MODULE.bazel.intoto.jsonl",
        [
            "--certificate-identity",
            &identity,
            "--certificate-oidc-issuer",
            &issuer,
        ],
    )
    .code(0);

    let bad = run(
        "slsa/bcr/MODULE-wrong-signer.bazel.intoto.jsonl",
        [
            "--certificate-identity",
            &identity,
            "--certificate-oidc-issuer",
            &issuer,
        ],
    );
    bad.code(1);
    bad.check(
        error_codes(&bad.json()) == ["identity-mismatch"],
        "the wrong signer is an identity mismatch",
    );
    // Its signature is sound: only the identity rule stops it.
    let other = run("slsa/bcr/MODULE-wrong-signer.bazel.intoto.jsonl", any);
    other.code(0);
    other.check(
        sig_checks(&other.json())[0]["details"]["identity"] != identity.as_str(),
        "signed by someone else",
    );
}

#[test]
fn untrusted_builder_bare_envelope_is_not_a_bundle() {
    let env = TestEnv::new();
    let out = verify_fixture(
        &env,
        "slsa/binary-linux-amd64-untrusted-builder",
        "slsa/binary-linux-amd64-untrusted-builder.intoto.jsonl",
        SLSA_GENERATOR,
    );
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["signature-unsupported"],
        "a bare DSSE envelope is refused as unsupported",
    );
}

#[test]
fn keyless_bundle_without_identity_rule_is_identity_missing() {
    let env = TestEnv::new();
    let bundle = conformance("happy-path-v0.3/bundle.sigstore.json");
    let a = conformance("a.txt");
    let args: Vec<OsString> = vec![
        "--format".into(),
        "json".into(),
        "verify".into(),
        a.clone().into(),
        "--bundle".into(),
        bundle.clone().into(),
    ];
    let out = env.run(&args);
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["identity-missing"],
        "identity-missing only",
    );
    out.check(
        out.diagnostic("identity-missing")["hint"]
            .as_str()
            .unwrap()
            .contains("--certificate-identity"),
        "the hint names the flags",
    );
    // A trusted identity that does not match: a rule exists, and says no.
    env.run([
        "trust",
        "add-identity",
        "--name",
        "someone-else",
        "--issuer",
        GHA,
        "--identity",
        SLSA_GENERATOR,
        "--scope",
        "*",
    ])
    .code(0);
    let out = env.run(&args);
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["identity-mismatch"],
        "identity-mismatch only",
    );
}

#[test]
fn staging_bundle_needs_the_staging_root_by_name() {
    let env = TestEnv::new();
    let run = |extra: &[&str]| {
        let mut args: Vec<OsString> = os(&["--format", "json", "verify"]);
        args.push(conformance("a.txt").into());
        args.push("--bundle".into());
        args.push(conformance("bundle-from-wrong-instance_fail/bundle.sigstore.json").into());
        args.extend(os(&[
            "--certificate-identity",
            CONF_IDENTITY,
            "--certificate-oidc-issuer",
            GHA,
        ]));
        args.extend(os(extra));
        env.run(&args)
    };
    let out = run(&[]);
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["tlog-invalid"],
        "denied by default: tlog-invalid",
    )
    .check(
        out.diagnostic("tlog-invalid")["message"]
            .as_str()
            .unwrap()
            .contains("that the trusted roots (sigstore-production, github) do not know"),
        "the message says the log is unknown to the default roots",
    )
    .check(
        out.diagnostic("tlog-invalid")["hint"]
            .as_str()
            .unwrap()
            .contains("--trusted-root"),
        "the hint points to --trusted-root",
    );
    let out = run(&["--trusted-root", "sigstore-staging"]);
    out.code(0);
    let d = sig_checks(&out.json())[0]["details"].clone();
    out.check(
        d["trusted-root"] == "sigstore-staging",
        "the staging root verified it",
    )
    .check(
        d["log"] == "https://rekor.sigstage.dev",
        "in the staging log",
    );
    // Named roots are the embedded ones only.
    let out = run(&["--trusted-root", "sigstore-nonexistent"]);
    out.code(2).diag("trusted-root-invalid");
}

#[test]
fn report_names_the_trusted_root_and_the_log() {
    let env = TestEnv::new();
    let mut args: Vec<OsString> = vec!["verify".into(), conformance("a.txt").into()];
    args.push("--bundle".into());
    args.push(conformance("happy-path-v0.3/bundle.sigstore.json").into());
    args.extend(os(&[
        "--certificate-identity",
        CONF_IDENTITY,
        "--certificate-oidc-issuer",
        GHA,
    ]));
    env.run(&args)
        .code(0)
        .stdout_has("trusted root: sigstore-production")
        .stdout_has("log: https://rekor.sigstore.dev")
        .stdout_has("format: sigstore bundle")
        .stdout_has(&format!("identity: {CONF_IDENTITY}"));
    args.splice(0..0, os(&["--format", "json"]));
    let out = env.run(&args);
    let v = out.json();
    let c = &sig_checks(&v)[0];
    out.check(c["scheme"] == "sigstore", "scheme sigstore")
        .check(
            c["details"]["trusted-root"] == "sigstore-production",
            "trusted root",
        )
        .check(c["details"]["log"] == "https://rekor.sigstore.dev", "log")
        .check(c["details"]["format"] == "sigstore bundle", "format")
        .check(
            c["details"]["media-type"] == "application/vnd.dev.sigstore.bundle.v0.3+json",
            "media type",
        )
        .check(c["signer"]["by_flags"] == true, "matched by the flags");
}

fn write_policy(env: &TestEnv, body: &str) -> String {
    env.write("policy.toml", body);
    "policy.toml".into()
}

/// `--policy P --format json verify GHA_GENERIC --bundle …jsonl [--server S]`.
fn verify_gha_under(env: &TestEnv, policy: &str, server: Option<&str>) -> Output {
    let mut args: Vec<OsString> = os(&["--policy", policy, "--format", "json", "verify"]);
    args.push(fixture(GHA_GENERIC).into());
    args.push("--bundle".into());
    args.push(fixture(&format!("{GHA_GENERIC}.intoto.jsonl")).into());
    if let Some(s) = server {
        args.extend(os(&["--server", s]));
    }
    env.run(&args)
}

fn trust_generator(env: &TestEnv, how: &[&str]) {
    let mut args = os(&[
        "trust",
        "add-identity",
        "--name",
        "slsa-generator",
        "--issuer",
        GHA,
    ]);
    args.extend(os(how));
    args.extend(os(&["--scope", "example-*"]));
    env.run(&args).code(0);
}

#[test]
fn trusted_identity_signs_within_its_scopes_only() {
    for how in [
        vec!["--identity", SLSA_GENERATOR],
        vec![
            "--identity-regexp",
            "https://github\\.com/slsa-framework/slsa-github-generator/\\.github/workflows/generator_generic_slsa3\\.yml@refs/tags/v.*",
        ],
    ] {
        let env = TestEnv::new();
        trust_generator(&env, &how);
        let p = write_policy(
            &env,
            "version = 1\n\n[defaults]\nrequire = [\"signature\"]\nsigners = [\"slsa-generator\"]\n",
        );
        let out = verify_gha_under(&env, &p, Some("example-package"));
        out.code(0);
        let v = out.json();
        out.check(
            v["decision"]["signer"] == "slsa-generator",
            "decided by the trusted name",
        )
        .check(
            sig_checks(&v)[0]["signer"]["trust_names"] == json!(["slsa-generator"]),
            "the signer carries its trust name",
        );

        let out = verify_gha_under(&env, &p, Some("other-server"));
        out.code(1);
        out.check(
            error_codes(&out.json()) == ["signer-out-of-scope"],
            "outside the scope: signer-out-of-scope",
        );
        // Without --server, the file name is the server name: out of scope too.
        verify_gha_under(&env, &p, None)
            .code(1)
            .diag("signer-out-of-scope");
    }
}

#[test]
fn servers_identity_checks_the_github_claims() {
    let env = TestEnv::new();
    trust_generator(&env, &["--identity", SLSA_GENERATOR]);
    let base = "version = 1\n\n[[servers]]\nname = \"example-package\"\nsigners = [\"slsa-generator\"]\n\n[servers.identity]\nrepository = \"slsa-framework/example-package\"\nworkflow = \".github/workflows/*.yml\"\n";
    let p = write_policy(&env, base);
    env.run(["--policy", &p, "policy", "check"]).code(0);
    let out = verify_gha_under(&env, &p, Some("example-package"));
    out.code(0);
    out.check(out.json()["verdict"] == "allowed", "the claims match");

    // The artifact was built from refs/heads/main, not from a tag.
    let p = write_policy(&env, &format!("{base}ref = \"refs/tags/v*\"\n"));
    let out = verify_gha_under(&env, &p, Some("example-package"));
    out.code(1);
    out.check(
        error_codes(&out.json()) == ["identity-claims-mismatch"],
        "identity-claims-mismatch only",
    )
    .check(
        out.diagnostic("identity-claims-mismatch")["message"]
            .as_str()
            .unwrap()
            .contains("ref `refs/heads/main`"),
        "the message names the certificate's ref",
    );

    // Another repository, and another workflow.
    for (k, val) in [
        ("repository", "\"slsa-framework/slsa-verifier\""),
        ("workflow", "\".github/workflows/release.yml\""),
    ] {
        let body = base
            .lines()
            .filter(|l| !l.starts_with(k))
            .collect::<Vec<_>>()
            .join("\n");
        let p = write_policy(&env, &format!("{body}\n{k} = {val}\n"));
        let out = verify_gha_under(&env, &p, Some("example-package"));
        out.code(1);
        out.check(
            error_codes(&out.json()) == ["identity-claims-mismatch"],
            &format!("another {k}: identity-claims-mismatch"),
        );
    }
}

#[test]
fn identity_flags_come_in_pairs() {
    let env = TestEnv::new();
    let a = conformance("a.txt");
    let bundle = conformance("happy-path-v0.3/bundle.sigstore.json");
    for half in [
        ["--certificate-identity", CONF_IDENTITY],
        ["--certificate-identity-regexp", ".*"],
        ["--certificate-oidc-issuer", GHA],
        ["--certificate-oidc-issuer-regexp", ".*"],
    ] {
        let mut args: Vec<OsString> = os(&["--format", "json", "verify"]);
        args.push(a.clone().into());
        args.push("--bundle".into());
        args.push(bundle.clone().into());
        args.extend(os(&half));
        let out = env.run(&args);
        out.code(2).diag("usage");
    }
    // Both spellings of one half at once.
    let mut args: Vec<OsString> = vec!["verify".into(), a.into(), "--bundle".into(), bundle.into()];
    args.extend(os(&[
        "--certificate-identity",
        CONF_IDENTITY,
        "--certificate-identity-regexp",
        ".*",
        "--certificate-oidc-issuer",
        GHA,
    ]));
    env.run(&args).code(2);
    // An invalid regexp is a usage error too.
    let mut args: Vec<OsString> = os(&["--format", "json", "verify"]);
    args.push(conformance("a.txt").into());
    args.push("--bundle".into());
    args.push(conformance("happy-path-v0.3/bundle.sigstore.json").into());
    args.extend(os(&[
        "--certificate-identity-regexp",
        "(",
        "--certificate-oidc-issuer",
        GHA,
    ]));
    env.run(&args).code(2).diag("usage");
}

#[test]
fn malformed_bundles_are_denied_never_a_panic() {
    let env = TestEnv::new();
    let file = fs::read(conformance("happy-path-v0.3/bundle.sigstore.json")).unwrap();
    // Without its final newline, so every cut leaves the JSON unfinished.
    let good = String::from_utf8(file)
        .unwrap()
        .trim_end()
        .as_bytes()
        .to_vec();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("[]".into(), b"[]".to_vec()),
        ("{}".into(), b"{}".to_vec()),
        ("null".into(), b"null".to_vec()),
        ("not UTF-8".into(), vec![0xff, 0xfe, 0x00]),
        (
            "attestations not an array".into(),
            br#"{"attestations": 3}"#.to_vec(),
        ),
        (
            "attestation without bundle".into(),
            br#"{"attestations": [{}]}"#.to_vec(),
        ),
        ("two lines of garbage".into(), b"{\n}\n{x\n".to_vec()),
        (
            "media type only".into(),
            br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}"#.to_vec(),
        ),
    ];
    for n in spread_offsets(good.len(), 8) {
        if n > 0 {
            cases.push((format!("truncated to {n} bytes"), good[..n].to_vec()));
        }
    }
    let jobs: Vec<(usize, &(String, Vec<u8>))> = cases.iter().enumerate().collect();
    let results = par_map(&jobs, |(i, (what, bytes))| {
        let name = format!("bad{i}.json");
        env.write(&name, bytes);
        let mut args: Vec<OsString> = os(&["--format", "json", "verify"]);
        args.push(conformance("a.txt").into());
        args.extend(os(&[
            "--bundle",
            &name,
            "--certificate-identity",
            CONF_IDENTITY,
            "--certificate-oidc-issuer",
            GHA,
        ]));
        let out = try_run(&env, &args).map_err(|e| format!("{what}: {e}"))?;
        let ok = out.code == Some(1)
            && serde_json::from_str::<Value>(&out.stdout)
                .is_ok_and(|v| error_codes(&v) == ["bundle-malformed"]);
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{what}: expected exit 1 with bundle-malformed\n{}",
                out.context()
            ))
        }
    });
    let wrong: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));

    // Over the 16 MiB limit: refused before it is read (sparse file).
    let big = env.path("big.json");
    fs::File::create(&big)
        .unwrap()
        .set_len(17 * 1024 * 1024)
        .unwrap();
    let mut args: Vec<OsString> = os(&["--format", "json", "verify"]);
    args.push(conformance("a.txt").into());
    args.extend(os(&[
        "--bundle",
        "big.json",
        "--certificate-identity",
        CONF_IDENTITY,
        "--certificate-oidc-issuer",
        GHA,
    ]));
    env.run(&args).code(2).diag("input-invalid");
}

#[test]
fn trust_roots_lists_the_embedded_roots() {
    let env = TestEnv::new();
    let out = env.run(["trust", "roots"]);
    out.code(0)
        .stdout_has("sigstore-production (used by default)")
        .stdout_has("github (used by default)")
        .stdout_has("sigstore-staging (only with --trusted-root NAME)")
        .stdout_has("https://rekor.sigstore.dev")
        .stdout_has("fulcio.githubapp.com");
    let out = env.run(["--format", "json", "trust", "roots"]);
    out.code(0);
    let v = out.json();
    let roots = v
        .as_array()
        .unwrap_or_else(|| out.fail("an array of roots"));
    let names: Vec<&str> = roots.iter().map(|r| r["name"].as_str().unwrap()).collect();
    out.check(
        names == ["sigstore-production", "github", "sigstore-staging"],
        &format!("root names {names:?}"),
    );
    for r in roots {
        out.check(
            r["cas"].as_array().is_some_and(|c| !c.is_empty()),
            "every root has certificate authorities",
        );
        for list in ["tlogs", "cas", "ctlogs", "tsas"] {
            for a in r[list].as_array().unwrap() {
                out.check(
                    a["start"].is_string() && a["end"].is_string() && a["name"].is_string(),
                    "every authority has a name and a window",
                );
            }
        }
    }
}
