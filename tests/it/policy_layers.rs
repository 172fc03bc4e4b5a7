//! What the layers of a policy mean (issue 21): the system policy's run
//! floor in `[defaults.run]`, which no user setting lowers for any server,
//! named or not; `[[servers]] name` literal and case-exact, with the near
//! misses said; one test of whether an exception applies, for check and
//! explain; and what each signer signed, in the lock, `list`, the run
//! banner and the audit log.

use std::fs;
use std::net::TcpListener;
use std::time::Duration;

use serde_json::{Value, json};

use super::everything::run_through_warden;
use super::run::{PING, pack_node};
use super::sandbox::{World, assert_denied, probe, start_line};
use super::support::util::*;

/// The diagnostics of `--format json policy check`: (code, message, location).
fn check_findings(env: &TestEnv, args: &[&str]) -> Vec<(String, String, String)> {
    let mut all = vec!["--format", "json", "policy", "check"];
    all.extend(args);
    let out = env.run(&all);
    let v = out.json();
    v["diagnostics"]
        .as_array()
        .unwrap_or_else(|| out.fail("no `diagnostics` array"))
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (s("code"), s("message"), s("location"))
        })
        .collect()
}

fn loosenings(findings: &[(String, String, String)]) -> Vec<(String, String)> {
    findings
        .iter()
        .filter(|(c, _, _)| c == "policy-loosening")
        .map(|(_, m, l)| (m.clone(), l.clone()))
        .collect()
}

// ---------------------------------------------------------------------------
// 5a. The system's `[defaults.run]` is a floor for every server.

/// The attack of item 5: the system policy requires the sandbox and the
/// guard for every server, in `[defaults]`, and names none; the user pins
/// `probe` and writes `sandbox = "off"`, `guard = false`, `network = true`
/// for it. It runs sandboxed, guarded and offline all the same, and
/// `policy check` names each line that tried.
#[test]
fn the_system_run_floor_holds_for_a_server_it_never_named() {
    let w = World::new();
    let env = &w.env;
    fs::write(
        env.system_policy(),
        "version = 1\n[defaults.run]\nsandbox = \"require\"\nguard = true\nnetwork = false\n",
    )
    .unwrap();
    let user = "version = 1\n[[servers]]\nname = \"probe\"\n[servers.run]\nsandbox = \"off\"\nguard = false\nnetwork = true\n";
    fs::write(env.user_policy(), user).unwrap();
    let up = env.user_policy().display().to_string();

    let found = check_findings(env, &[]);
    assert_eq!(
        loosenings(&found),
        [
            (
                "`sandbox = \"off\"` for `probe` cannot relax the system policy's `sandbox = \"require\"`".to_string(),
                format!("{up}:5:11"),
            ),
            (
                "`guard = false` for `probe` cannot relax the system policy's `guard = true`".to_string(),
                format!("{up}:6:9"),
            ),
            (
                "`network = true` for `probe` cannot relax the system policy's `network = false`".to_string(),
                format!("{up}:7:11"),
            ),
        ],
        "{found:?}"
    );

    // What reached the server: the sandbox (Landlock), no network, the
    // guard in the path.
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let s = w.session();
    let line = start_line(&s, "probe");
    assert!(line.contains("landlock ABI"), "{line}");
    assert!(line.contains("network off"), "{line}");
    assert!(line.ends_with("guard on"), "{line}");
    let r = probe(&s, json!({"op": "tcp", "port": port}));
    assert_denied(&s, "TCP that only the user policy allows", &r);
    let escaped = w.outside.join("escaped");
    let r = probe(
        &s,
        json!({"op": "write", "path": escaped.to_str().unwrap()}),
    );
    assert_denied(&s, "a write outside the server's state", &r);
    assert!(!escaped.exists());
    assert!(s.close().unwrap_or_else(|e| panic!("{e}")).success());
    let launch = w.launches().pop().expect("a launch record");
    assert_eq!(launch["verdict"], "allowed", "{launch}");
    let sandbox = launch["sandbox"].as_str().unwrap_or_default();
    assert!(sandbox.contains("landlock"), "{launch}");

    // The guard is really there: the system's `deny-tools` holds against
    // the user's empty list and `guard = false`.
    fs::write(
        env.system_policy(),
        "version = 1\n[defaults.run]\nsandbox = \"require\"\nguard = true\ndeny-tools = [\"probe\"]\n",
    )
    .unwrap();
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"probe\"\n[servers.run]\nguard = false\ndeny-tools = []\n",
    )
    .unwrap();
    let s = run_through_warden(env, "probe", &[]);
    let err = match s.call_tool("probe", json!({"op": "tcp", "port": port})) {
        Ok(r) => panic!("the denied tool was answered: {r:?}\n{}", s.stderr()),
        Err(e) => e.what,
    };
    assert!(
        err.contains("tool `probe` is denied by the policy"),
        "{err}"
    );
    let _ = s.close();
}

/// Every kind of run setting a user layer may try to relax, in
/// `[defaults.run]` and in `[servers.run]`, against the system's floor
/// and against the system's own entry; the stricter side says nothing.
#[test]
fn policy_check_reports_each_run_setting_that_loosens_the_system() {
    let env = TestEnv::new();
    fs::write(
        env.system_policy(),
        "version = 1\n\
         [defaults.run]\n\
         sandbox = \"require\"\n\
         guard = true\n\
         network = false\n\
         deny-tools = [\"shell\"]\n\
         read-paths = [\"/srv/data\"]\n\
         max-processes = 64\n\
         [[servers]]\n\
         name = \"acme-x\"\n\
         [servers.run]\n\
         sandbox = \"best-effort\"\n",
    )
    .unwrap();
    fs::create_dir_all(env.user_policy().parent().unwrap()).unwrap();
    fs::write(
        env.user_policy(),
        "version = 1\n\
         [defaults.run]\n\
         sandbox = \"best-effort\"\n\
         max-processes = 32\n\
         [[servers]]\n\
         name = \"acme-y\"\n\
         [servers.run]\n\
         deny-tools = [\"rm\"]\n\
         read-paths = [\"/srv/data/sub\", \"/etc\", \"/srv/data/../../etc\", \"/srv/database\"]\n\
         max-processes = 1000\n\
         [[servers]]\n\
         name = \"acme-x\"\n\
         [servers.run]\n\
         sandbox = \"off\"\n",
    )
    .unwrap();
    let up = env.user_policy().display().to_string();
    let found = check_findings(&env, &[]);
    let at = |l: &str| format!("{up}:{l}");
    assert_eq!(
        loosenings(&found),
        [
            (
                "`sandbox = \"best-effort\"` for every server ([defaults.run]) cannot relax the system policy's `sandbox = \"require\"`".to_string(),
                at("3:11"),
            ),
            (
                "`deny-tools` for `acme-y` leaves out `shell`, which the system policy denies; the system's patterns still apply".to_string(),
                at("8:14"),
            ),
            (
                "`read-paths` entry `/etc` for `acme-y` is outside what the system policy grants; it is not granted".to_string(),
                at("9:32"),
            ),
            (
                "`read-paths` entry `/srv/data/../../etc` for `acme-y` is outside what the system policy grants; it is not granted".to_string(),
                at("9:40"),
            ),
            (
                "`read-paths` entry `/srv/database` for `acme-y` is outside what the system policy grants; it is not granted".to_string(),
                at("9:63"),
            ),
            (
                "`max-processes = 1000` for `acme-y` cannot relax the system policy's `max-processes = 64`".to_string(),
                at("10:17"),
            ),
            (
                "`sandbox = \"off\"` for `acme-x` cannot relax the system policy's `sandbox = \"best-effort\"`".to_string(),
                at("14:11"),
            ),
        ],
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .all(|(c, _, _)| c != "policy-type" && c != "policy-unknown-key"),
        "{found:?}"
    );

    // `policy explain` shows the floor for a server the system never named.
    let out = env.run(["--format", "json", "policy", "explain", "acme-z"]);
    out.code(0);
    let v = out.json();
    let system = &v["layers"][0]["rules"];
    let run = system
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["what"].as_str().is_some_and(|w| w.starts_with("run: ")))
        .unwrap_or_else(|| out.fail("no run rule in the system layer"));
    assert_eq!(
        run["what"],
        "run: guard on, sandbox require, network off, deny-tools shell, max-processes 64, read-paths /srv/data",
        "{run}"
    );
    assert!(
        run["from"].as_str().unwrap().starts_with("[defaults.run] "),
        "{run}"
    );

    // Keys that only make sense for one server are refused in [defaults.run].
    fs::write(
        env.user_policy(),
        "version = 1\n[defaults.run]\nenv = { TOKEN = \"keychain\" }\ninterpreter = \"/usr/bin/node\"\n",
    )
    .unwrap();
    let found = check_findings(&env, &[]);
    let unknown: Vec<&str> = found
        .iter()
        .filter(|(c, _, _)| c == "policy-unknown-key")
        .map(|(_, m, _)| m.as_str())
        .collect();
    assert_eq!(
        unknown,
        [
            "unknown key `env` in [defaults.run]",
            "unknown key `interpreter` in [defaults.run]"
        ],
        "{found:?}"
    );
}

// ---------------------------------------------------------------------------
// 6. `[[servers]] name`: literal, and exact in case.

fn signed_file(env: &TestEnv, name: &str) -> Minisign {
    env.write(name, noise(2_000, 0x6c61));
    let key = Minisign::generate(env, &format!("{name}-key"));
    key.sign(&env.path(name), None);
    key
}

#[test]
fn a_glob_or_another_case_in_a_server_entry_name_is_said() {
    let env = TestEnv::new();
    let key = signed_file(&env, "server.bin");
    env.trust_key(&key.public, "acme", &["*"]);
    let add = |name: &str| {
        env.run([
            "--format",
            "json",
            "add",
            name,
            "./server.bin",
            "--signature",
            "server.bin.minisig",
        ])
    };
    add("github").code(0).no_diag("policy-name-case");

    // A glob is refused wherever the policy is read, with the ways to
    // cover many servers in the hint.
    fs::create_dir_all(env.user_policy().parent().unwrap()).unwrap();
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"acme-*\"\n",
    )
    .unwrap();
    let out = env.run(["--format", "json", "policy", "check"]);
    out.code(1);
    let d = out.diagnostic("policy-type");
    assert_eq!(
        d["message"],
        "`[[servers]] name = \"acme-*\"` is a glob; a server entry names one server"
    );
    for want in ["`source`", "`[defaults]`", "exception's `servers` globs"] {
        assert!(d["hint"].as_str().unwrap().contains(want), "{d}");
    }
    env.run(["--format", "json", "verify", "--server", "github"])
        .code(2)
        .diag("policy-type");
    add("acme-1").code(2).diag("policy-type");

    // Another case: a warning wherever the policy is read with that
    // server in view (pinned, verified or being added), at the entry.
    let up = env.user_policy().display().to_string();
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"GitHub\"\nrequire = [\"signature\"]\n",
    )
    .unwrap();
    let want = "`[[servers]] name = \"GitHub\"` differs from the server `github` only in case: entries match names exactly, so it does not apply to `github`";
    let found = check_findings(&env, &[]);
    assert_eq!(
        found,
        [(
            "policy-name-case".to_string(),
            want.to_string(),
            format!("{up}:3:8")
        )],
        "{found:?}"
    );
    let out = env.run(["--format", "json", "verify", "--server", "github"]);
    out.code(0);
    assert_eq!(out.diagnostic("policy-name-case")["message"], want);
    env.run(["run", "github"])
        .stderr_has(&format!("{up}:3:8: warning[policy-name-case]: {want}"));
    let out = add("gitHUB");
    out.code(0);
    let msgs: Vec<String> = out.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "policy-name-case")
        .map(|d| d["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("the server `gitHUB`")),
        "{msgs:?}"
    );
    // Two entries a case apart, in one file or across the layers.
    fs::write(
        env.system_policy(),
        "version = 1\n[[servers]]\nname = \"Acme\"\n",
    )
    .unwrap();
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"acme\"\n",
    )
    .unwrap();
    let found = check_findings(&env, &[]);
    assert!(
        found.iter().any(|(c, m, l)| c == "policy-name-case"
            && m.starts_with("`[[servers]] name = \"acme\"` differs from the entry `Acme` at ")
            && l == &format!("{up}:3:8")),
        "{found:?}"
    );
    fs::remove_file(env.system_policy()).unwrap();
    // Letters outside ASCII (a dotless i, a Kelvin sign for k) and control
    // characters are not server names at all.
    for bad in ["g\u{131}thub", "ac\u{212a}me", "git\\nhub", "git\\u0000hub"] {
        fs::write(
            env.user_policy(),
            format!("version = 1\n[[servers]]\nname = \"{bad}\"\n"),
        )
        .unwrap();
        let found = check_findings(&env, &[]);
        assert!(
            found
                .iter()
                .any(|(c, m, _)| c == "policy-type" && m.contains("is not a usable server name")),
            "{bad}: {found:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Bug: an exception called unused while it applies.

/// The exceptions example of the policy reference (docs/src/policy.md),
/// as written there: with a pinned server its glob matches, check does
/// not call it unused, and explain and verify show it applying.
#[test]
fn the_reference_exception_example_is_used_when_it_applies() {
    let env = TestEnv::new();
    let key = signed_file(&env, "server.bin");
    env.trust_key(&key.public, "acme", &["*"]);
    let doc =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/policy.md")).unwrap();
    let example: String = doc
        .lines()
        .skip_while(|l| *l != "[[exceptions]]")
        .take(4)
        .map(|l| format!("{}\n", l.split("  #").next().unwrap().trim_end()))
        .collect();
    assert_eq!(
        example,
        "[[exceptions]]\nservers = [\"legacy-*\"]\nwaive = [\"provenance\"]\nreason = \"vendor has no CI yet; SEC-123\"\n"
    );
    let policy =
        format!("version = 1\n[defaults]\nrequire = [\"signature\", \"provenance\"]\n{example}");
    fs::create_dir_all(env.user_policy().parent().unwrap()).unwrap();
    fs::write(env.user_policy(), &policy).unwrap();
    let found = check_findings(&env, &[]);
    assert!(
        found.iter().any(|(c, _, _)| c == "exception-unused"),
        "nothing pinned yet: {found:?}"
    );
    env.run([
        "--format",
        "json",
        "add",
        "legacy-tool",
        "./server.bin",
        "--signature",
        "server.bin.minisig",
    ])
    .code(0)
    .diag("exception-applied")
    .no_diag("exception-unused");
    let up = env.user_policy().display().to_string();
    for args in [&[][..], &[up.as_str()][..]] {
        let found = check_findings(&env, args);
        assert_eq!(found, [], "{args:?}");
    }
    env.run(["policy", "explain", "legacy-tool"])
        .code(0)
        .stdout_has("waived: provenance — vendor has no CI yet; SEC-123");
    env.run(["--format", "json", "verify", "--server", "legacy-tool"])
        .code(0)
        .diag("exception-applied");
    // Another case in the glob is another glob: it applies to nothing,
    // and check and explain agree on that too.
    fs::write(env.user_policy(), policy.replace("legacy-*", "Legacy-*")).unwrap();
    let found = check_findings(&env, &[]);
    assert!(
        found.iter().any(|(c, _, _)| c == "exception-unused"),
        "{found:?}"
    );
    env.run(["policy", "explain", "legacy-tool"])
        .code(0)
        .stdout_lacks("waived:");
}

// ---------------------------------------------------------------------------
// Bug: "signed by a" when a signed only the SBOM.

/// A server that answers each request line with an empty result.
const ANSWER: &str = r#"
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(l).id, result: {} }) + '\n');
});
rl.on('close', () => process.exit(0));
"#;

/// A CycloneDX SBOM whose top component carries `sha256`: bound to it.
fn bom_for(sha256: &str) -> String {
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": "2026-01-01T00:00:00Z",
            "component": {
                "type": "application",
                "name": "srv",
                "version": "1.0.0",
                "hashes": [{"alg": "SHA-256", "content": sha256}]
            }
        },
        "components": []
    })
    .to_string()
}

#[test]
fn each_signer_is_named_with_what_it_signed() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    let tgz = pack_node(&env, "srv", ANSWER, "");
    let sha = sha256_hex(&fs::read(&tgz).unwrap());
    env.write("bom.json", bom_for(&sha));
    let a = Minisign::generate(&env, "a-key");
    let b = Minisign::generate(&env, "b-key");
    env.trust_key(&a.public, "a", &["*"]);
    env.trust_key(&b.public, "b", &["*"]);
    a.sign(&env.path("bom.json"), None);
    b.sign(&tgz, None);

    // `a` signed the SBOM, `b` the artifact.
    env.run([
        "add",
        "srv",
        "./srv.tgz",
        "--signature",
        "srv.tgz.minisig",
        "--sbom",
        "bom.json",
        "--sbom-signature",
        "bom.json.minisig",
    ])
    .code(0);
    let lock = fs::read_to_string(env.home.join("config/servers.lock")).unwrap();
    assert!(
        lock.contains(
            "[[servers.srv.signed]]\nsigner = \"b\"\nwhat = [\"artifact\"]\n\n[[servers.srv.signed]]\nsigner = \"a\"\nwhat = [\"sbom\"]\n"
        ),
        "{lock}"
    );
    env.run(["list"])
        .code(0)
        .stdout_has("evidence: artifact signed by b, SBOM signed by a; SBOM\n");
    let out = env.run(["--format", "json", "list"]);
    let v = out.json();
    assert_eq!(
        v["servers"][0]["evidence"]["signed"],
        json!([{"signer": "b", "what": ["artifact"]}, {"signer": "a", "what": ["sbom"]}]),
        "{v}"
    );
    let out = env
        .cmd()
        .args(["run", "srv"])
        .stdin(PING)
        .timeout(Duration::from_secs(60))
        .run();
    out.code(0)
        .stderr_has("(sha256:")
        .stderr_has(", artifact signed by b, SBOM signed by a, verified)");
    assert!(!out.stderr.contains("signed by b, a"), "{}", out.context());
    env.run(["audit", "show", "--server", "srv"])
        .code(0)
        .stdout_has("signers=b,a  signed=b: artifact,a: SBOM  ");
    let out = env.run(["--format", "json", "audit", "show", "--server", "srv"]);
    let v = out.json();
    let launch = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|r| r["event"] == "launch")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(launch["signed"], json!(["b: artifact", "a: SBOM"]), "{v}");

    // Unsigned with a reason, and only the SBOM signed: nobody signed the
    // artifact, and nothing says so.
    env.run(["remove", "srv"]).code(0);
    env.run([
        "add",
        "srv",
        "./srv.tgz",
        "--unsigned",
        "--reason",
        "vendor signs nothing",
        "--sbom",
        "bom.json",
        "--sbom-signature",
        "bom.json.minisig",
    ])
    .code(0);
    env.run(["list"])
        .code(0)
        .stdout_has("evidence: SBOM signed by a; unsigned: vendor signs nothing; SBOM\n");
    let out = env
        .cmd()
        .args(["run", "srv"])
        .stdin(PING)
        .timeout(Duration::from_secs(60))
        .run();
    out.code(0)
        .stderr_has(", SBOM signed by a, unsigned on purpose: vendor signs nothing, ");
    assert!(!out.stderr.contains("artifact signed"), "{}", out.context());
}

/// A lock written before signers' parts were recorded still reads, and
/// says it does not know who signed what rather than "signed by".
#[test]
fn a_lock_without_what_each_signed_still_reads_and_says_so() {
    let env = TestEnv::new();
    let key = signed_file(&env, "server.bin");
    env.trust_key(&key.public, "acme", &["*"]);
    env.run([
        "add",
        "srv",
        "./server.bin",
        "--signature",
        "server.bin.minisig",
    ])
    .code(0);
    let path = env.home.join("config/servers.lock");
    let lock = fs::read_to_string(&path).unwrap();
    let old = lock.replace(
        "[[servers.srv.signed]]\nsigner = \"acme\"\nwhat = [\"artifact\"]\n\n",
        "",
    );
    assert_ne!(old, lock, "{lock}");
    fs::write(&path, &old).unwrap();
    env.run(["list"]).code(0).stdout_has(
        "evidence: signers acme (what each signed is not recorded: `add` again records it)\n",
    );
    env.run(["--format", "json", "verify", "--server", "srv"])
        .code(0);
    // The same `add` again records it, as the words say.
    env.run([
        "add",
        "srv",
        "./server.bin",
        "--signature",
        "server.bin.minisig",
    ])
    .code(0);
    env.run(["list"])
        .code(0)
        .stdout_has("evidence: artifact signed by acme\n");
}
