//! What the sandbox grants a server's interpreter, end to end: the Python
//! `probe-py` fixture server (fixtures/servers/probe-py) pinned and
//! started by the real `mcp-warden run`, with python3 reached through the
//! user's home as uv and pipx set it up (`~/.local/bin/python3`) or as a
//! hand-made `~/bin/python3`, each a symlink to this machine's python3,
//! and mcp-warden's files where they are for a real user, under
//! `~/.local/share/mcp-warden`. The server tries to read the keyring file,
//! mcp-warden's audit log and receipts and another server's state, the
//! user's SSH key, and to run a program it wrote into its own state HOME.
//! Each must fail with the sandbox's EACCES, and succeed with
//! `sandbox = "off"` (the control, so that a test passes only because of
//! the sandbox).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::everything::run_through_warden;
use super::sandbox::{assert_allowed, assert_denied, probe, set_policy, start_line};
use super::support::mcp_client::McpSession;
use super::support::util::*;

const SERVER: &str = "probe-py";
const KEYRING: &str = "canary-login-keyring";
const SSH_KEY: &str = "canary-ssh-key-material";
const OTHER_STATE: &str = "canary-other-server-state";
const RAN: &str = "ran-from-the-state-home";

/// This machine's python3 binary (what `python3` on PATH runs, past a
/// version manager's shim).
fn real_python() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed by these tests (scripts/test installs it)");
    let exe = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(exe.is_absolute(), "python3 gave {}", exe.display());
    exe
}

/// A user's home with python3 in `bin` (relative to it), mcp-warden's
/// files under ~/.local/share/mcp-warden, the probe pinned, and the
/// user's secrets planted.
struct World {
    env: TestEnv,
    user_home: PathBuf,
    python: PathBuf,
    path_var: String,
    keyring: PathBuf,
    ssh_key: PathBuf,
}

impl World {
    fn new(bin: &str) -> World {
        let mut env = TestEnv::new();
        let user_home = env.root.join("user-home");
        env.home = user_home.join(".local/share/mcp-warden");
        fs::create_dir_all(&env.home).unwrap();
        let server = env.copy_fixture("servers/probe-py/server.py", "server.py");
        env.pin_signed(SERVER, &server, "probe-py-signer", &["*"]);
        let python = user_home.join(bin).join("python3");
        fs::create_dir_all(python.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(real_python(), &python).unwrap();
        let path_var = format!("{}:/usr/bin:/bin", python.parent().unwrap().display());
        let keyring = user_home.join(".local/share/keyrings/login.keyring");
        let ssh_key = user_home.join(".ssh/id_ed25519");
        for (file, text) in [(&keyring, KEYRING), (&ssh_key, SSH_KEY)] {
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, format!("{text}\n")).unwrap();
        }
        World {
            env,
            user_home,
            python,
            path_var,
            keyring,
            ssh_key,
        }
    }

    /// `mcp-warden run probe-py` with the user's HOME and a PATH that
    /// finds python3 in the home first; the start line must name it.
    fn session(&self) -> McpSession {
        let home = self.user_home.to_str().unwrap();
        let s = run_through_warden(
            &self.env,
            SERVER,
            &[("HOME", home), ("PATH", &self.path_var)],
        );
        let tools = s.list_tools().unwrap_or_else(|e| panic!("{e}"));
        assert!(tools.iter().any(|t| t.name == "probe"), "{tools:?}");
        let line = start_line(&s, SERVER);
        let named = format!("[{} from PATH]", self.python.display());
        assert!(line.contains(&named), "not run by {named}: {line}");
        s
    }

    fn data(&self, rel: &str) -> PathBuf {
        self.env.home.join("data").join(rel)
    }

    /// The one entry in `cache/interpreters/`.
    fn interpreter_entry(&self) -> PathBuf {
        let dir = self.env.home.join("cache/interpreters");
        let entries: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries.into_iter().next().unwrap()
    }
}

fn read(p: &Path) -> Value {
    json!({"op": "read", "path": p.to_str().unwrap()})
}

/// The start of a file, which a successful read returns (the probe
/// answers with the first 64 characters).
fn head(p: &Path) -> String {
    let text = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.chars().take(40).collect()
}

/// What the probe got: the file's text when the read succeeded.
fn detail(r: &Value) -> &str {
    r["detail"].as_str().unwrap_or_default()
}

#[test]
fn python_in_dot_local_bin_reaches_neither_the_keyring_nor_wardens_files_nor_runs_what_it_writes() {
    let w = World::new(".local/bin");
    // Another server's state, beside this server's.
    let other = w.data("state/other/home/notes.txt");
    fs::create_dir_all(other.parent().unwrap()).unwrap();
    fs::write(&other, format!("{OTHER_STATE}\n")).unwrap();
    let tool = w.data(&format!("state/{SERVER}/home/tool"));
    let write_tool = json!({
        "op": "write",
        "path": tool.to_str().unwrap(),
        "text": format!("#!/bin/sh\necho {RAN}\n"),
        "mode": "755",
    });
    let run_tool = json!({"op": "exec", "argv": [tool.to_str().unwrap()]});

    // The defaults: best-effort sandbox.
    let s = w.session();
    let audit = w.data("audit/audit.jsonl");
    let receipts: Vec<PathBuf> = fs::read_dir(w.data("receipts"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    let receipt = &receipts[0];
    let secrets = [
        ("the login keyring", w.keyring.clone(), KEYRING.to_string()),
        ("the audit log", audit.clone(), head(&audit)),
        ("a receipt", receipt.clone(), head(receipt)),
        (
            "another server's state",
            other.clone(),
            OTHER_STATE.to_string(),
        ),
    ];
    for (what, path, content) in &secrets {
        let r = probe(&s, read(path));
        assert_denied(&s, what, &r);
        assert!(!detail(&r).contains(content.as_str()), "{what}: {r}");
    }
    // Its own HOME is writable, and what it writes there does not run.
    assert_allowed(
        &s,
        "a write into the state HOME",
        &probe(&s, write_tool.clone()),
    );
    let r = probe(&s, run_tool.clone());
    assert_denied(&s, "running a program from the state HOME", &r);
    assert!(!detail(&r).contains(RAN), "{r}");
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
    // The interpreter's answer was kept (and is read back by later
    // launches: src/launch/interp.rs), not under the user's HOME but in
    // mcp-warden's cache.
    let entry = w.interpreter_entry();
    let kept: Value = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
    assert_eq!(kept["program"], w.python.to_str().unwrap(), "{kept}");
    fs::remove_file(&tool).unwrap();

    // Control: unconfined, every one of these succeeds.
    set_policy(&w.env, SERVER, Some("sandbox = \"off\""));
    let s = w.session();
    assert!(start_line(&s, SERVER).contains("sandbox off"));
    for (what, path, content) in &secrets {
        let r = probe(&s, read(path));
        assert_allowed(&s, &format!("{what}, unconfined"), &r);
        assert!(detail(&r).starts_with(content.as_str()), "{what}: {r}");
    }
    assert_allowed(&s, "a write, unconfined", &probe(&s, write_tool));
    let r = probe(&s, run_tool);
    assert_allowed(&s, "running it, unconfined", &r);
    assert!(detail(&r).contains(RAN), "{r}");
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");
}

#[test]
fn python_in_home_bin_does_not_open_the_home() {
    let w = World::new("bin");
    let s = w.session();
    let r = probe(&s, read(&w.ssh_key));
    assert_denied(&s, "a read of ~/.ssh", &r);
    assert!(!detail(&r).contains(SSH_KEY), "{r}");
    let r = probe(&s, read(&w.keyring));
    assert_denied(&s, "a read of the keyring", &r);
    let status = s.close().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status:?}");

    // A second launch uses the kept answer: the entry is not rewritten.
    let entry = w.interpreter_entry();
    let before = (
        fs::read(&entry).unwrap(),
        fs::metadata(&entry).unwrap().modified().unwrap(),
    );
    let s = w.session();
    s.close().unwrap_or_else(|e| panic!("{e}"));
    let after = (
        fs::read(&entry).unwrap(),
        fs::metadata(&entry).unwrap().modified().unwrap(),
    );
    assert!(before == after, "the interpreter was asked again");

    set_policy(&w.env, SERVER, Some("sandbox = \"off\""));
    let s = w.session();
    let r = probe(&s, read(&w.ssh_key));
    assert_allowed(&s, "a read of ~/.ssh, unconfined", &r);
    assert!(detail(&r).starts_with(SSH_KEY), "{r}");
    s.close().unwrap_or_else(|e| panic!("{e}"));
}

/// An interpreter the server could rewrite (in a write-path) is refused
/// before anything starts, with a hint; elsewhere the same binary runs.
#[test]
fn an_interpreter_in_a_write_path_is_refused() {
    let w = World::new(".local/bin");
    let system = Path::new("/usr/bin/python3");
    assert!(
        system.exists(),
        "this test copies the system's /usr/bin/python3"
    );
    let copy = |dir: &str| {
        let p = w.user_home.join(dir).join("python3");
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::copy(fs::canonicalize(system).unwrap(), &p).unwrap();
        p
    };
    let tools = copy("tools");
    set_policy(
        &w.env,
        SERVER,
        Some(&format!(
            "interpreter = \"{}\"\nwrite-paths = [\"~/tools\"]",
            tools.display()
        )),
    );
    let out = w
        .env
        .cmd()
        .args(["run", SERVER])
        .var("HOME", &w.user_home)
        .var("PATH", &w.path_var)
        .stdin("")
        .run();
    out.code(2)
        .diag_in_stderr("launch-failed")
        .stderr_has("never runs what it can write")
        .stderr_has("write-paths");

    let elsewhere = copy("opt");
    set_policy(
        &w.env,
        SERVER,
        Some(&format!(
            "interpreter = \"{}\"\nwrite-paths = [\"~/tools\"]",
            elsewhere.display()
        )),
    );
    let home = w.user_home.to_str().unwrap();
    let s = run_through_warden(&w.env, SERVER, &[("HOME", home), ("PATH", &w.path_var)]);
    s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let r = probe(&s, read(&w.keyring));
    assert_denied(&s, "a read of the keyring", &r);
    s.close().unwrap_or_else(|e| panic!("{e}"));
}
