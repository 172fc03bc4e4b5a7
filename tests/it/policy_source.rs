//! What `[[servers]] source` and `versions` mean, through the real binary:
//! the source is checked against what the artifact was really fetched
//! from (a local file has none), an SBOM binds by purl only to the package
//! fetched, versions are judged in the source's own order, an entry for a
//! source applies whatever the local name (at `add`, `verify` and `run`),
//! and `add` refuses command-line trust it could not keep.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::add::{lock_text, os, publish, tarball};
use super::add_sources::{MST_SHA256, devpi_page, mst_wheel, serve_devpi, tls_args};
use super::support::tls_server::TlsServer;
use super::support::util::*;

/// The npm package of the attack: a genuine-looking SBOM of it must bind
/// nothing but that package as fetched.
const ACME_SOURCE: &str = "npm:@acme/x@1.4.2";

/// A CycloneDX SBOM whose top component is `purl` (`name` `version`), with
/// no hash: only a source can bind it.
fn sbom_of(env: &TestEnv, file: &str, purl: &str, name: &str, version: &str) -> PathBuf {
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": name,
            "version": version, "purl": purl, "licenses": [{"expression": "MIT"}]}},
        "components": [{"type": "library", "name": "left-pad", "version": "1.3.0",
            "purl": "pkg:npm/left-pad@1.3.0", "licenses": [{"expression": "MIT"}]}],
    });
    env.write(file, serde_json::to_vec_pretty(&doc).unwrap())
}

fn write_policy(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, format!("version = 1\n\n{body}")).unwrap();
}

/// `--format json ARGS...`.
fn json_run<I: IntoIterator<Item = OsString>>(env: &TestEnv, args: I) -> Output {
    let mut all = os(&["--format", "json"]);
    all.extend(args);
    env.run(all)
}

/// `add NAME npm:SPEC --no-dependencies` from the test registry, with
/// `extra` flags.
fn add_npm(
    env: &TestEnv,
    server: &TlsServer,
    name: &str,
    spec: &str,
    extra: &[OsString],
) -> Output {
    let mut args = os(&["add", name, spec, "--no-dependencies", "--registry"]);
    args.push(server.base_url().into());
    args.extend(tls_args(server));
    args.extend(extra.iter().cloned());
    json_run(env, args)
}

fn sig(p: &Path) -> Vec<OsString> {
    vec!["--signature".into(), p.into()]
}

/// A trusted publisher key and a registry serving `demo-server` at each
/// of `versions`; the signatures, by version.
fn registry(env: &TestEnv, versions: &[&str]) -> (TlsServer, Vec<PathBuf>) {
    let server = TlsServer::start();
    let key = Minisign::generate(env, "publisher");
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let sigs = versions
        .iter()
        .map(|v| publish(env, &server, &key, v, tarball(v, &[])))
        .collect();
    (server, sigs)
}

// ---------------------------------------------------------------- source

#[test]
fn an_unrelated_file_with_the_packages_sbom_is_refused_by_verify_and_add() {
    let env = TestEnv::new();
    env.write("script.sh", "#!/bin/sh\necho pwned\n");
    write_policy(
        &env.user_policy(),
        &format!(
            "[[servers]]\nname = \"acme-x\"\nsource = \"{ACME_SOURCE}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\n"
        ),
    );
    // The publisher's SBOM of that package, in every purl spelling.
    for (i, purl) in [
        "pkg:npm/%40acme/x@1.4.2",
        "pkg:npm/@acme/x@1.4.2",
        "pkg:NPM/%40ACME/X@1.4.2",
        "pkg:npm/%40acme/x@v1.4.2",
    ]
    .into_iter()
    .enumerate()
    {
        let file = format!("sbom{i}.json");
        sbom_of(&env, &file, purl, "@acme/x", "1.4.2");
        let out = json_run(
            &env,
            os(&["verify", "script.sh", "--server", "acme-x", "--sbom", &file]),
        );
        out.code(1)
            .diag("source-not-allowed")
            .diag("sbom-not-bound");
        out.check(
            out.diagnostic("source-not-allowed")["message"]
                .as_str()
                .is_some_and(|m| m.contains("a local file")),
            "says the file has no source",
        );
        let out = json_run(&env, os(&["add", "acme-x", "./script.sh", "--sbom", &file]));
        out.code(1)
            .diag("source-not-allowed")
            .diag("sbom-not-bound");
        assert!(!lock_text(&env).contains("[servers."), "{purl}: pinned");
    }
    // A rule's source is read as `add` reads one: case, white space,
    // escapes and control characters make no other package, they are
    // refused.
    for bad in [
        "npm:@ACME/x@1.4.2",
        "NPM:@acme/x@1.4.2",
        " npm:@acme/x@1.4.2",
        "npm:@acme/x@1.4.2\\n",
        "npm:@acme/x@1.4.2\\u0000",
        "npm:%40acme/x@1.4.2",
    ] {
        write_policy(
            &env.user_policy(),
            &format!("[[servers]]\nname = \"acme-x\"\nsource = \"{bad}\"\n"),
        );
        let out = json_run(&env, os(&["policy", "check"]));
        out.code(1);
        out.check(
            out.has_diag("policy-bad-pattern") || out.has_diag("source-invalid"),
            "the source is refused",
        );
    }
    write_policy(
        &env.user_policy(),
        &format!(
            "[[servers]]\nname = \"acme-x\"\nsource = \"{ACME_SOURCE}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\n"
        ),
    );
    // Under another local name the entry still applies: by its source
    // only to what was fetched from it, so here by nothing but the name;
    // a file named after the package is no more a package.
    env.write("x@1.4.2", "#!/bin/sh\necho pwned\n");
    sbom_of(
        &env,
        "s.json",
        "pkg:npm/%40acme/x@1.4.2",
        "@acme/x",
        "1.4.2",
    );
    json_run(
        &env,
        os(&[
            "verify", "x@1.4.2", "--server", "acme-x", "--sbom", "s.json",
        ]),
    )
    .code(1)
    .diag("source-not-allowed");
}

#[test]
fn a_package_fetched_from_the_source_is_allowed_and_binds_its_sbom() {
    let env = TestEnv::new();
    let (server, sigs) = registry(&env, &["1.4.2"]);
    sbom_of(
        &env,
        "sbom.json",
        "pkg:npm/demo-server@1.4.2",
        "demo-server",
        "1.4.2",
    );
    let mut sbom_args = sig(&sigs[0]);
    sbom_args.extend(os(&["--sbom", "sbom.json"]));
    for source in [
        "npm:demo-server@1.4.2",
        "npm:demo-server",
        "npm:demo-server@=1.4.2",
    ] {
        write_policy(
            &env.user_policy(),
            &format!(
                "[[servers]]\nname = \"demo\"\nsource = \"{source}\"\nrequire = [\"signature\", \"sbom\"]\n\n[servers.sbom]\nsigned = false\n"
            ),
        );
        let out = add_npm(&env, &server, "demo", "npm:demo-server@1.4.2", &sbom_args);
        out.code(0).no_diag("source-not-allowed");
        out.check(
            out.stdout
                .contains("bound by its top component's purl pkg:npm/demo-server@1.4.2"),
            "the SBOM is bound by the package fetched",
        );
        // `verify --server` judges the pinned copy by the lock's source.
        json_run(&env, os(&["verify", "--server", "demo"]))
            .code(0)
            .no_diag("source-not-allowed");
        env.run(["remove", "demo"]).code(0);
    }
    // Another version, another package, another kind.
    for (source, want) in [
        ("npm:demo-server@1.4.3", "at version 1.4.2"),
        ("npm:other-server", "npm:demo-server@1.4.2"),
        ("pypi:demo-server", "npm:demo-server@1.4.2"),
        ("registry:io.github.acme/demo", "npm:demo-server@1.4.2"),
    ] {
        write_policy(
            &env.user_policy(),
            &format!("[[servers]]\nname = \"demo\"\nsource = \"{source}\"\n"),
        );
        let out = add_npm(
            &env,
            &server,
            "demo",
            "npm:demo-server@1.4.2",
            &sig(&sigs[0]),
        );
        out.code(1).diag("source-not-allowed");
        out.check(
            out.diagnostic("source-not-allowed")["message"]
                .as_str()
                .is_some_and(|m| m.contains(want)),
            "says what it was fetched from",
        );
        assert!(!lock_text(&env).contains("[servers.demo]"), "{source}");
    }
    // A local path is not a source a rule can check.
    write_policy(
        &env.user_policy(),
        "[[servers]]\nname = \"demo\"\nsource = \"./demo.tgz\"\n",
    );
    json_run(&env, os(&["policy", "check"]))
        .code(1)
        .diag("policy-bad-pattern");
}

#[test]
fn a_registry_source_counts_as_the_package_it_resolved_to() {
    use super::add::{npm_registry, trust_sigstore_js};
    use super::add_sources::{brave_server_json, npm_tarball, registry_args};
    let env = TestEnv::new();
    let server = TlsServer::start();
    npm_registry(&server, npm_tarball());
    env.write(
        "server.json",
        serde_json::to_vec_pretty(&brave_server_json(&server)).unwrap(),
    );
    trust_sigstore_js(&env);
    let add = |rule: &str| {
        write_policy(
            &env.user_policy(),
            &format!("[[servers]]\nname = \"brave\"\n{rule}\n"),
        );
        json_run(
            &env,
            registry_args(&server, "brave", "registry:./server.json"),
        )
    };
    // A local server.json is no registry: what counts is its package.
    add("source = \"npm:sigstore@2.3.0\"")
        .code(1)
        .diag("source-not-allowed");
    add("source = \"registry:io.github.acme/brave\"")
        .code(1)
        .diag("source-not-allowed");
    add("source = \"npm:sigstore\"\nversions = \">=2.4\"")
        .code(1)
        .diag("version-not-allowed");
    add("source = \"npm:sigstore\"\nversions = \"^2.3\"").code(0);
    assert!(
        lock_text(&env).contains("package-source = \"npm:sigstore@2.3.1\""),
        "{}",
        lock_text(&env)
    );
    // `verify --server` judges the pin by the package the lock records.
    json_run(&env, os(&["verify", "--server", "brave"]))
        .code(0)
        .no_diag("source-not-allowed");
}

#[test]
fn a_pypi_source_is_compared_by_its_normalised_name() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    serve_devpi(&server, devpi_page(MST_SHA256, ""), mst_wheel());
    let wheel = env.copy_fixture(
        &format!("pypi/{}", super::add_sources::MST_WHEEL),
        super::add_sources::MST_WHEEL,
    );
    let key = Minisign::generate(&env, "publisher");
    let s = key.sign(&wheel, None);
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let add = |versions: &str| {
        write_policy(
            &env.user_policy(),
            &format!(
                "[[servers]]\nname = \"time\"\nsource = \"pypi:MCP_Server.Time\"\n{versions}\n"
            ),
        );
        let mut args = os(&[
            "add",
            "time",
            "pypi:mcp-server-time",
            "--no-dependencies",
            "--pypi-url",
        ]);
        args.push(server.url("/root/pypi/+simple").into());
        args.extend(tls_args(&server));
        args.extend(sig(&s));
        json_run(&env, args)
    };
    add("versions = \"<0.5\"")
        .code(1)
        .diag("version-not-allowed");
    add("versions = \"~=0.5.0\"")
        .code(0)
        .no_diag("source-not-allowed")
        .no_diag("version-unknown");
}

// -------------------------------------------------------------- versions

#[test]
fn versions_are_judged_against_the_version_fetched() {
    let env = TestEnv::new();
    let all = ["1.4.2", "1.3.0", "1.5.0-beta.1", "2.0.0-rc.1"];
    let (server, sigs) = registry(&env, &all);
    let judge = |versions: &str, v: &str| {
        write_policy(
            &env.user_policy(),
            &format!("[[servers]]\nname = \"demo-{v}\"\nversions = \"{versions}\"\n"),
        );
        let i = all.iter().position(|x| *x == v).unwrap();
        add_npm(
            &env,
            &server,
            &format!("demo-{v}"),
            &format!("npm:demo-server@{v}"),
            &sig(&sigs[i]),
        )
    };
    // Allowed.
    judge("^1.4", "1.4.2").code(0).no_diag("version-unknown");
    // A bare version is that version only.
    judge("1.4.2", "1.4.2").code(0);
    judge("1.4", "1.4.2").code(1).diag("version-not-allowed");
    // Denied, with its code and the version in words.
    let out = judge(">=1.4, <2", "1.3.0");
    out.code(1).diag("version-not-allowed");
    out.check(
        out.diagnostic("version-not-allowed")["message"]
            .as_str()
            .is_some_and(|m| m.contains("npm:demo-server@1.3.0") && m.contains(">=1.4, <2")),
        "names the version and the range",
    );
    // Pre-releases: inside an interval's bounds they are inside it; `^`
    // stops before the next major's pre-releases.
    judge(">=1.4, <2", "1.5.0-beta.1").code(0);
    judge("^1.4", "2.0.0-rc.1")
        .code(1)
        .diag("version-not-allowed");
    judge("2.0.0-rc.1", "2.0.0-rc.1").code(0);
}

#[test]
fn versions_of_a_local_file_are_unknown() {
    let env = TestEnv::new();
    env.write("server.bin", "#!/bin/sh\n");
    write_policy(
        &env.user_policy(),
        "[[servers]]\nname = \"srv\"\nrequire = []\nversions = \"^1\"\n",
    );
    json_run(&env, os(&["verify", "server.bin", "--server", "srv"]))
        .code(1)
        .diag("version-unknown");
    json_run(
        &env,
        os(&[
            "add",
            "srv",
            "./server.bin",
            "--unsigned",
            "--reason",
            "test",
        ]),
    )
    .code(1)
    .diag("version-unknown");
}

// ----------------------------------------------- an entry by its source

/// `index.js`: prints one line that is not MCP, which the guard drops.
const NOISY: &[u8] = b"process.stdout.write('fixture server\\n');\n";

#[test]
fn a_system_entry_for_a_source_applies_under_any_local_name() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    let server = TlsServer::start();
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let tgz = tarball("1.0.0", &[("package/index.js", NOISY)]);
    let other = sha256_hex(b"the build the administrator pinned");
    let s = publish(&env, &server, &key, "1.0.0", tgz);
    // The user's own entry for the name they chose turns everything off.
    write_policy(
        &env.user_policy(),
        "[[servers]]\nname = \"acme-y\"\n\n[servers.run]\nsandbox = \"off\"\nguard = false\n",
    );
    let pinning = format!(
        "[[servers]]\nname = \"acme-x\"\nsource = \"npm:demo-server\"\ndigests = [\"sha256:{other}\"]\n\n[servers.run]\nguard = true\n"
    );
    write_policy(&env.system_policy(), &pinning);
    // `add` under another name: the system entry judges it by its source.
    let out = add_npm(&env, &server, "acme-y", "npm:demo-server@1.0.0", &sig(&s));
    out.code(1).diag("digest-mismatch");
    out.check(
        out.stdout.contains("entry `acme-x`, by its source"),
        "says which entry denied",
    );
    assert!(!lock_text(&env).contains("[servers.acme-y]"));

    // Without the digest pin it is pinned; `run` then applies the system
    // entry's run settings: the guard stays on.
    write_policy(
        &env.system_policy(),
        "[[servers]]\nname = \"acme-x\"\nsource = \"npm:demo-server\"\n\n[servers.run]\nguard = true\n",
    );
    add_npm(&env, &server, "acme-y", "npm:demo-server@1.0.0", &sig(&s)).code(0);
    let out = env.cmd().args(["run", "acme-y"]).stdin("").run();
    out.code(0);
    assert_eq!(out.stdout, "", "{}", out.context());
    out.stderr_has("guard on")
        .stderr_has("dropped a message from the server");
    // `policy explain` names the entry that applies by the source.
    env.run(["policy", "explain", "acme-y"])
        .code(0)
        .stdout_has("entry `acme-x` applies too, by its source npm:demo-server");
    // `policy check` compares the user's `guard = false` for the pinned
    // `acme-y` with the system entry bound to its source, not with the
    // (absent) system entry of that name.
    env.run(["policy", "check"])
        .code(0)
        .diag("policy-loosening")
        .stdout_has("`guard = false` for `acme-y` cannot relax the system policy's `guard = true`");

    // The administrator pins the digests again: `run` and `verify
    // --server` of the pin made before are judged by the system entry.
    write_policy(&env.system_policy(), &pinning);
    let out = env.cmd().args(["run", "acme-y"]).stdin("").run();
    out.code(1);
    assert_eq!(out.stdout, "", "{}", out.context());
    out.diag("digest-mismatch");
    json_run(&env, os(&["verify", "--server", "acme-y"]))
        .code(1)
        .diag("digest-mismatch");

    // Both layers' entries apply: the user's own digest pin denies too.
    write_policy(
        &env.system_policy(),
        "[[servers]]\nname = \"acme-x\"\nsource = \"npm:demo-server\"\n",
    );
    write_policy(
        &env.user_policy(),
        &format!("[[servers]]\nname = \"acme-y\"\ndigests = [\"sha256:{other}\"]\n"),
    );
    json_run(&env, os(&["verify", "--server", "acme-y"]))
        .code(1)
        .diag("digest-mismatch");
}

#[test]
fn a_system_entry_signed_by_a_signer_applies_to_its_other_servers() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    let server = TlsServer::start();
    let key = Minisign::generate(&env, "publisher");
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    let tgz = tarball("1.0.0", &[("package/index.js", NOISY)]);
    let s = publish(&env, &server, &key, "1.0.0", tgz);
    write_policy(
        &env.user_policy(),
        "[[servers]]\nname = \"acme-y\"\n\n[servers.run]\nguard = false\n",
    );
    // The signer's servers need provenance, whatever they are called.
    write_policy(
        &env.system_policy(),
        "[[servers]]\nname = \"acme-x\"\nsigned-by = [\"publisher\"]\nrequire = [\"signature\", \"provenance\"]\n",
    );
    let out = add_npm(&env, &server, "acme-y", "npm:demo-server@1.0.0", &sig(&s));
    out.code(1).diag("evidence-missing");
    out.check(
        out.stdout.contains("entry `acme-x`, by its signed-by"),
        "says which entry denied",
    );
    // And run with the guard on.
    write_policy(
        &env.system_policy(),
        "[[servers]]\nname = \"acme-x\"\nsigned-by = [\"publisher\"]\n\n[servers.run]\nguard = true\n",
    );
    add_npm(&env, &server, "acme-y", "npm:demo-server@1.0.0", &sig(&s)).code(0);
    let out = env.cmd().args(["run", "acme-y"]).stdin("").run();
    out.code(0);
    assert_eq!(out.stdout, "", "{}", out.context());
    out.stderr_has("guard on");
    // A name not in the trust store is refused.
    write_policy(
        &env.system_policy(),
        "[[servers]]\nname = \"acme-x\"\nsigned-by = [\"nobody\"]\n",
    );
    json_run(&env, os(&["policy", "check"]))
        .code(1)
        .diag("policy-unknown-signer");
}

#[test]
fn an_entry_of_the_servers_own_name_for_the_same_package_decides_alone() {
    // One package pinned twice, each name with its own entry: neither
    // entry's version applies to the other pin.
    let env = TestEnv::new();
    let (server, sigs) = registry(&env, &["1.0.0", "2.0.0"]);
    write_policy(
        &env.user_policy(),
        "[[servers]]\nname = \"old\"\nsource = \"npm:demo-server@1.0.0\"\n\n[[servers]]\nname = \"new\"\nsource = \"npm:demo-server@2.0.0\"\n",
    );
    add_npm(
        &env,
        &server,
        "old",
        "npm:demo-server@1.0.0",
        &sig(&sigs[0]),
    )
    .code(0);
    add_npm(
        &env,
        &server,
        "new",
        "npm:demo-server@2.0.0",
        &sig(&sigs[1]),
    )
    .code(0);
    // A third name for the package meets both entries, and neither allows
    // 2.0.0 and 1.0.0 at once.
    add_npm(
        &env,
        &server,
        "third",
        "npm:demo-server@2.0.0",
        &sig(&sigs[1]),
    )
    .code(1)
    .diag("source-not-allowed");
    // An entry of the server's name for the package at another version
    // denies: the name is no way around the version.
    add_npm(
        &env,
        &server,
        "old",
        "npm:demo-server@2.0.0",
        &sig(&sigs[1]),
    )
    .code(1)
    .diag("source-not-allowed");
}

// ------------------------------------------------ add keeps no --key

#[test]
fn add_refuses_command_line_trust_it_cannot_keep() {
    let env = TestEnv::new();
    let server = TlsServer::start();
    let key = Minisign::generate(&env, "publisher");
    let s = publish(&env, &server, &key, "1.0.0", tarball("1.0.0", &[]));
    let public = key.public.display().to_string();
    for (flags, named) in [
        (vec!["--key", public.as_str()], "--key"),
        (
            vec![
                "--certificate-identity",
                "https://github.com/acme/x/.github/workflows/release.yml@refs/heads/main",
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ],
            "--certificate-identity",
        ),
        (vec!["--trusted-root", "sigstore-staging"], "--trusted-root"),
    ] {
        let mut extra = sig(&s);
        extra.extend(os(&flags));
        let out = add_npm(&env, &server, "demo", "npm:demo-server@1.0.0", &extra);
        out.code(2).diag("evidence-not-kept");
        let d = out.diagnostic("evidence-not-kept");
        out.check(
            d["message"].as_str().is_some_and(|m| m.contains(named)),
            "names the flag",
        )
        .check(
            d["hint"].as_str().is_some_and(|h| {
                h.contains("mcp-warden trust add-key FILE --name NAME --scope GLOB")
            }),
            "the hint says to trust the key first",
        );
        assert!(!lock_text(&env).contains("[servers."), "{named}: pinned");
        assert!(
            server.requests().is_empty(),
            "{named}: refused before anything is fetched"
        );
        let list = env.run(["--format", "json", "list"]);
        list.code(0);
        assert!(!list.stdout.contains("\"demo\""), "{}", list.context());
    }
    // `verify --key` stays as it is.
    let file = env.write("demo.tgz", tarball("1.0.0", &[]));
    let sig_file = key.sign(&file, None);
    json_run(
        &env,
        os(&["verify", "demo.tgz", "--signature"])
            .into_iter()
            .chain([sig_file.into_os_string(), "--key".into(), public.into()]),
    )
    .code(0);
    // Trusted first, the same add pins a server that runs its checks.
    env.trust_key(&key.public, "publisher", &["*"]).code(0);
    add_npm(&env, &server, "demo", "npm:demo-server@1.0.0", &sig(&s)).code(0);
    json_run(&env, os(&["verify", "--server", "demo"])).code(0);
}
