//! What runs is exactly what was verified: the attacks on the way from
//! the verified bytes to the server's first instruction, through the real
//! binary. Metadata that no signature covers may not make a runtime load
//! code; a tree planted in the cache is never pinned and `add` repairs
//! it; a path swapped while `run` starts never runs the swapped code.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::add::{files, lock_text};
use super::run::{PING, answer, pack_node, pin_node};
use super::support::tls_server::{Response, TlsServer};
use super::support::util::{Minisign, TestEnv, require_tool, sha256_hex};

/// A server that answers each request with its environment's NODE_OPTIONS
/// and a mark of which code this is.
fn server_js(mark: &str) -> String {
    format!(
        r#"
const rl = require('readline').createInterface({{ input: process.stdin }});
rl.on('line', (l) => {{
  const result = {{ mark: '{mark}', node_options: process.env.NODE_OPTIONS || null }};
  process.stdout.write(JSON.stringify({{ jsonrpc: '2.0', id: JSON.parse(l).id, result }}) + '\n');
}});
rl.on('close', () => process.exit(0));
"#
    )
}

/// Code that NODE_OPTIONS loads before the entry point: it writes to
/// stderr, which the guard passes on.
const INJECT: &str = "--import=data:text/javascript,console.error(%22INJECTED-5d1%22)";

fn edit_lock(env: &TestEnv, edit: impl FnOnce(&mut toml::Value)) {
    let path = env.home.join("config/servers.lock");
    let mut v: toml::Value = toml::from_str(&lock_text(env)).unwrap();
    edit(&mut v);
    fs::write(&path, toml::to_string(&v).unwrap()).unwrap();
}

#[test]
fn code_loading_variables_come_from_the_policy_alone() {
    let env = TestEnv::new();
    pin_node(&env, "srv", &server_js("genuine"), "");

    // A declared variable in the pinned entry (as a registry's server.json
    // would have put it there): refused before anything starts.
    let original = lock_text(&env);
    edit_lock(&env, |v| {
        let mut var = toml::Table::new();
        var.insert("name".into(), "NODE_OPTIONS".into());
        var.insert("default".into(), INJECT.into());
        let srv = v["servers"]["srv"].as_table_mut().unwrap();
        let run = srv
            .entry("run")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap();
        run.insert("env".into(), toml::Value::Array(vec![var.into()]));
    });
    let out = env.cmd().args(["run", "srv"]).stdin(PING).run();
    out.code(2)
        .diag_in_stderr("env-refused")
        .stderr_has("NODE_OPTIONS")
        .stderr_has("servers.lock")
        .stderr_has("[servers.run] env");
    assert!(out.stdout.is_empty(), "{}", out.context());
    assert!(!out.stderr.contains("INJECTED"), "{}", out.context());
    fs::write(env.home.join("config/servers.lock"), &original).unwrap();

    // `--env` from the client's config: refused too, and the loader's
    // other variables with it.
    for var in ["NODE_OPTIONS", "LD_PRELOAD", "PYTHONPATH", "BASH_ENV"] {
        let out = env
            .cmd()
            .args(["run", "srv", "--env", var])
            // (An empty LD_PRELOAD, which mcp-warden itself also sees.)
            .var(var, if var == "NODE_OPTIONS" { INJECT } else { "" })
            .stdin(PING)
            .run();
        out.code(2).diag_in_stderr("env-refused").stderr_has(var);
        assert!(!out.stderr.contains("INJECTED"), "{}", out.context());
    }

    // Without any of them the server starts and sees none.
    let out = env
        .cmd()
        .args(["run", "srv"])
        .var("NODE_OPTIONS", INJECT)
        .stdin(PING)
        .run();
    out.code(0);
    assert_eq!(answer(&out)["node_options"], serde_json::Value::Null);
    assert!(!out.stderr.contains("INJECTED"), "{}", out.context());

    // The policy is the one way in, and then the code it names does load.
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"srv\"\n[servers.run]\nenv = { NODE_OPTIONS = \"inherit\" }\n",
    )
    .unwrap();
    let out = env
        .cmd()
        .args(["run", "srv", "--env", "NODE_OPTIONS"])
        .var("NODE_OPTIONS", INJECT)
        .stdin(PING)
        .run();
    out.code(0).stderr_has("INJECTED-5d1");
    assert_eq!(answer(&out)["node_options"], INJECT);
}

/// NODE_OPTIONS' `--require` modules run before node's `--import` gate: a
/// start with NODE_OPTIONS is not gated, the files are judged first, and
/// a changed tree loads none of them.
#[test]
fn a_start_with_node_options_is_judged_before_node_starts() {
    let env = TestEnv::new();
    // Its mark is a file in the server's HOME (its state directory, which
    // the sandbox lets it write), holding node's own flags: a refused
    // start's stderr is not passed on.
    env.write(
        "src-pre/package/pre.js",
        "require('fs').writeFileSync(require('path').join(process.env.HOME, 'preloaded-77a'), \
         JSON.stringify(process.execArgv));\n",
    );
    pin_node(&env, "pre", &server_js("pre"), "");
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"pre\"\n[servers.run]\nenv = { NODE_OPTIONS = \"inherit\" }\n",
    )
    .unwrap();
    let v: toml::Value = toml::from_str(&lock_text(&env)).unwrap();
    let key = v["servers"]["pre"]["tree"].as_str().unwrap().to_string();
    let tree = tree_dir(&env, &key);
    let preload = format!("--require={}", tree.join("package/pre.js").display());
    let run = || {
        env.cmd()
            .args(["run", "pre", "--env", "NODE_OPTIONS"])
            .var("NODE_OPTIONS", &preload)
            .stdin(PING)
            .run()
    };
    let out = run();
    out.code(0);
    assert_eq!(answer(&out)["mark"], "pre");
    let marks = || -> Vec<PathBuf> {
        walk(&env.home)
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n == "preloaded-77a"))
            .collect()
    };
    let made = marks();
    assert_eq!(made.len(), 1, "the preload ran once: {made:?}");
    // Started without a gate: node got no `--import` of mcp-warden's.
    let flags = fs::read_to_string(&made[0]).unwrap();
    assert!(flags.contains("--preserve-symlinks"), "{flags}");
    assert!(!flags.contains("--import"), "{flags}");
    fs::remove_file(&made[0]).unwrap();
    make_tree_writable(&tree);
    fs::write(tree.join("package/extra.js"), "// added\n").unwrap();
    let out = run();
    out.code(1).diag_in_stderr("cache-mismatch");
    assert_eq!(marks(), Vec::<PathBuf>::new(), "{}", out.context());
    assert!(out.stdout.is_empty(), "{}", out.context());
}

// ------------------------------------------------------------ cache trees

/// The tree digest of the files a tarball unpacks to, as the cache
/// computes it, from an extraction of the test's own.
fn digest_of(dir: &Path) -> String {
    mcp_warden::cache::tree_digest(dir).unwrap()
}

fn tree_dir(env: &TestEnv, key: &str) -> PathBuf {
    env.home.join("cache/trees/sha256").join(key)
}

/// Replaces the cache's tree `key` with `files`, and its record with the
/// planted tree's own digest, as an attacker who can write the cache would.
fn plant(env: &TestEnv, key: &str, files_: &[(&str, &str)]) -> String {
    let dir = tree_dir(env, key);
    if dir.exists() {
        make_tree_writable(&dir);
        fs::remove_dir_all(&dir).unwrap();
    }
    for (rel, body) in files_ {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }
    let d = digest_of(&dir);
    fs::write(
        env.home
            .join("cache/trees/sha256")
            .join(format!("{key}.tree")),
        format!("{d}\n"),
    )
    .unwrap();
    d
}

fn make_tree_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    for p in std::iter::once(dir.to_path_buf()).chain(walk(dir)) {
        let m = fs::symlink_metadata(&p).unwrap();
        if !m.file_type().is_symlink() {
            fs::set_permissions(
                &p,
                fs::Permissions::from_mode(m.permissions().mode() | 0o700),
            )
            .unwrap();
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.clone());
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

fn lock_tree_digest(env: &TestEnv, name: &str) -> String {
    let v: toml::Value = toml::from_str(&lock_text(env)).unwrap();
    v["servers"][name]["tree-digest"]
        .as_str()
        .unwrap_or_else(|| panic!("no tree-digest in {}", lock_text(env)))
        .to_string()
}

const PKG: &str = r#"{"name": "srv", "version": "1.0.0", "bin": {"srv": "server.js"}}"#;

#[test]
fn a_planted_tree_is_never_pinned_and_add_repairs_a_tampered_one() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    let tgz = pack_node(&env, "srv", &server_js("genuine"), "");
    let key = sha256_hex(&fs::read(&tgz).unwrap());
    let genuine = {
        let d = env.path("genuine-tree");
        fs::create_dir_all(&d).unwrap();
        super::support::util::tool(
            &env.work,
            "tar",
            ["xzf", tgz.to_str().unwrap(), "-C", d.to_str().unwrap()],
        );
        digest_of(&d)
    };

    // Planted before the first `add`, under the key the archive will have,
    // with a record that matches the planted files.
    fs::create_dir_all(env.home.join("cache/trees/sha256")).unwrap();
    let evil = [
        ("package/package.json", PKG),
        ("package/server.js", &*server_js("planted")),
    ];
    let planted = plant(&env, &key, &evil);
    let k = Minisign::generate(&env, "k");
    env.trust_key(&k.public, "signer", &["*"]);
    let sig = k.sign(&tgz, None);
    env.run([
        "add",
        "srv",
        tgz.to_str().unwrap(),
        "--signature",
        sig.to_str().unwrap(),
    ])
    .code(0);
    assert_eq!(
        lock_tree_digest(&env, "srv"),
        genuine,
        "the pin is of the archive's files"
    );
    assert_ne!(planted, genuine);
    assert_eq!(
        digest_of(&tree_dir(&env, &key)),
        genuine,
        "the planted tree was replaced"
    );
    env.run(["cache", "verify"]).code(0);
    let out = env.cmd().args(["run", "srv"]).stdin(PING).run();
    out.code(0);
    assert_eq!(answer(&out)["mark"], "genuine");

    // Tampered after `add`, record rewritten to match: `run` refuses (the
    // lock pins the genuine digest), `cache verify` sees it although the
    // record agrees, and the recovery it suggests (gc, then add) repairs it.
    plant(&env, &key, &evil);
    let out = env.cmd().args(["run", "srv"]).stdin(PING).run();
    out.code(1).diag_in_stderr("cache-mismatch");
    assert!(!out.stdout.contains("planted"), "{}", out.context());
    let out = env.run(["cache", "verify"]);
    out.code(1).stderr_has("its archive unpacks to");
    env.run(["cache", "gc"]).code(0);
    env.run([
        "add",
        "srv",
        tgz.to_str().unwrap(),
        "--signature",
        sig.to_str().unwrap(),
    ])
    .code(0);
    assert_eq!(lock_tree_digest(&env, "srv"), genuine);
    assert_eq!(digest_of(&tree_dir(&env, &key)), genuine);
    env.run(["cache", "verify"]).code(0);
    let out = env.cmd().args(["run", "srv"]).stdin(PING).run();
    out.code(0);
    assert_eq!(answer(&out)["mark"], "genuine");
    // Nothing left behind in the cache's work directory.
    let left = files(&env.home.join("cache/tmp"));
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn add_of_a_remote_source_repairs_a_tampered_tree_instead_of_calling_it_pinned() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    let server = TlsServer::start();
    let tgz = pack_node(&env, "srv", &server_js("genuine"), "");
    server.route("/srv.tgz", Response::ok(fs::read(&tgz).unwrap()));
    let key = sha256_hex(&fs::read(&tgz).unwrap());
    let k = Minisign::generate(&env, "k");
    env.trust_key(&k.public, "signer", &["*"]);
    let sig = k.sign(&tgz, None);
    let add = || {
        let mut args: Vec<std::ffi::OsString> = vec!["add".into(), "srv".into()];
        args.push(server.url("/srv.tgz").into());
        args.extend([
            "--signature".into(),
            sig.clone().into_os_string(),
            "--ca-file".into(),
        ]);
        args.push(server.ca_file().into());
        env.run(args)
    };
    add().code(0).stdout_has("pinned srv");
    let genuine = lock_tree_digest(&env, "srv");
    // Nothing changed: answered from the add receipt.
    add().code(0).stdout_has("pinned already");
    // The tree (and its record) changed: derived again, not "pinned already".
    plant(
        &env,
        &key,
        &[
            ("package/package.json", PKG),
            ("package/server.js", &*server_js("planted")),
        ],
    );
    let out = add();
    out.code(0);
    assert!(!out.stdout.contains("pinned already"), "{}", out.context());
    assert_eq!(digest_of(&tree_dir(&env, &key)), genuine);
    env.run(["cache", "verify"]).code(0);
    let out = env.cmd().args(["run", "srv"]).stdin(PING).run();
    out.code(0);
    assert_eq!(answer(&out)["mark"], "genuine");
}

// ------------------------------------------------------- swapped paths

/// Swaps `path` with `other` in a loop until `stop`: at any moment the
/// name holds one or the other (or, for an instant, neither).
fn swapper(path: PathBuf, other: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let aside = path.with_extension("aside");
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let _ = fs::rename(&path, &aside);
            let _ = fs::rename(&other, &path);
            std::thread::yield_now();
            let _ = fs::rename(&path, &other);
            let _ = fs::rename(&aside, &path);
            std::thread::yield_now();
            n += 1;
        }
        n
    })
}

/// Launches `name` `n` times while `swap` runs; every launch either runs
/// the genuine code or is refused, and none runs the swapped code.
fn launches_never_run_the_swapped_code(env: &TestEnv, name: &str, n: usize) -> (usize, usize) {
    let (mut ran, mut refused) = (0, 0);
    for i in 0..n {
        let out = env.cmd().args(["-q", "run", name]).stdin(PING).run();
        assert!(
            !out.stdout.contains("swapped") && !out.stderr.contains("swapped"),
            "launch {i} ran the swapped code:\n{}",
            out.context()
        );
        match out.code {
            Some(0) => {
                assert_eq!(answer(&out)["mark"], "genuine", "{}", out.context());
                ran += 1;
            }
            Some(1) | Some(2) => refused += 1,
            _ => out.fail("neither ran nor refused"),
        }
    }
    (ran, refused)
}

#[test]
fn a_tree_swapped_while_run_starts_never_runs() {
    let env = TestEnv::new();
    pin_node(&env, "srv", &server_js("genuine"), "");
    let key = lock_text(&env)
        .lines()
        .find_map(|l| {
            l.strip_prefix("tree = \"")
                .map(|k| k.trim_end_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("no tree key in {}", lock_text(&env)));
    // The same package with other code, beside the genuine tree.
    let trees = env.home.join("cache/trees/sha256");
    let other = trees.join("swapped");
    for (rel, body) in [
        ("package/package.json", PKG),
        ("package/server.js", &*server_js("swapped")),
    ] {
        let p = other.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, body).unwrap();
    }
    // The genuine tree's own directory must be writable to be moved (when
    // not root); its files stay as they are.
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(trees.join(&key), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let t = swapper(trees.join(&key), other, Arc::clone(&stop));
    let (ran, refused) = launches_never_run_the_swapped_code(&env, "srv", 500);
    stop.store(true, Ordering::Relaxed);
    let swaps = t.join().unwrap();
    eprintln!("500 launches: {ran} ran the genuine code, {refused} refused; {swaps} swaps");
    assert!(swaps > 500, "the swapper ran only {swaps} times");
    // Some launches got through: the way to the exec was exercised.
    assert!(ran > 0, "every launch was refused");
}

#[test]
fn a_script_swapped_while_run_starts_never_runs() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    let js = env.write("srv.js", server_js("genuine"));
    env.pin_signed("srv", &js, "signer", &["*"]);
    let key = sha256_hex(&fs::read(&js).unwrap());
    let blob = env.home.join("cache/blobs/sha256").join(&key);
    let other = env.home.join("cache/blobs/sha256/swapped");
    fs::write(&other, server_js("swapped")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let t = swapper(blob, other, Arc::clone(&stop));
    let (ran, refused) = launches_never_run_the_swapped_code(&env, "srv", 500);
    stop.store(true, Ordering::Relaxed);
    let swaps = t.join().unwrap();
    eprintln!("500 launches: {ran} ran the genuine code, {refused} refused; {swaps} swaps");
    assert!(swaps > 500, "the swapper ran only {swaps} times");
    // Some launches got through: the way to the exec was exercised.
    assert!(ran > 0, "every launch was refused");
}
