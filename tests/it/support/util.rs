//! Shared helpers: a temporary environment that runs the real binary with
//! a scrubbed environment, an `Output` with assertions that print the
//! whole run when they fail, and key and signature makers that call the
//! real tools.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest as _;

/// The binary under test, built by cargo for this test target.
pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-warden");

/// A file under the crate's `fixtures/` directory.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// A throw-away world for one test: a home, a system directory (what
/// /etc/mcp-warden is in production) and a working directory where the
/// test's artifacts, keys and signatures live. The binary runs with the
/// working directory as its current directory, so tests pass short
/// relative paths and the output does not depend on where the temporary
/// directory is.
pub struct TestEnv {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub system: PathBuf,
    pub work: PathBuf,
}

impl TestEnv {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("mcp-warden-it-")
            .tempdir()
            .expect("create a temporary directory");
        let root = tmp
            .path()
            .canonicalize()
            .expect("canonical temporary directory");
        let (home, system, work) = (root.join("home"), root.join("system"), root.join("work"));
        for d in [&home, &system, &work] {
            fs::create_dir_all(d).expect("create test directories");
        }
        TestEnv {
            _tmp: tmp,
            root,
            home,
            system,
            work,
        }
    }

    /// A path in the working directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.work.join(rel)
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        let p = self.path(rel);
        fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    /// Copies `fixtures/<from>` to `<work>/<to>`.
    pub fn copy_fixture(&self, from: &str, to: &str) -> PathBuf {
        let src = fixture(from);
        let dst = self.path(to);
        fs::copy(&src, &dst)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
        dst
    }

    /// The user's trust store (under `--home`).
    pub fn trust_file(&self) -> PathBuf {
        self.home.join("config").join("trust.toml")
    }

    /// The user's policy file (under `--home`).
    pub fn user_policy(&self) -> PathBuf {
        self.home.join("config").join("policy.toml")
    }

    pub fn system_policy(&self) -> PathBuf {
        self.system.join("policy.toml")
    }

    pub fn system_trust_dir(&self) -> PathBuf {
        self.system.join("trust.d")
    }

    pub fn cmd(&self) -> Cmd<'_> {
        Cmd {
            env: self,
            args: Vec::new(),
            vars: Vec::new(),
            home_env: true,
            measure_rss: false,
            timeout: Duration::from_secs(120),
            stdin: None,
        }
    }

    /// `mcp-warden` as a plain `Command` with the same scrubbed
    /// environment as [`Cmd`], for tests that drive its stdio or signals
    /// themselves.
    pub fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(&self.work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MCP_WARDEN_SYSTEM_DIR", &self.system)
            .env("MCP_WARDEN_BUILTIN_SYSTEM_DIR", &self.system)
            .env("MCP_WARDEN_HOME", &self.home);
        c
    }

    /// Runs `mcp-warden ARGS` and checks that it did not panic.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd().args(args).run()
    }

    /// `trust add-key FILE --name NAME --scope GLOB...`, which must succeed.
    pub fn trust_key(&self, key: &Path, name: &str, scopes: &[&str]) -> Output {
        let mut args: Vec<OsString> = vec![
            "trust".into(),
            "add-key".into(),
            key.into(),
            "--name".into(),
            name.into(),
        ];
        for s in scopes {
            args.push("--scope".into());
            args.push(s.into());
        }
        let out = self.run(&args);
        out.code(0);
        out
    }

    /// Signs `artifact` with a fresh minisign key (the real tool), trusts
    /// it as `signer` for `scopes` and pins the artifact as `name`, which
    /// must succeed.
    pub fn pin_signed(
        &self,
        name: &str,
        artifact: &Path,
        signer: &str,
        scopes: &[&str],
    ) -> Minisign {
        let key = Minisign::generate(self, &format!("{signer}-key"));
        self.trust_key(&key.public, signer, scopes);
        let sig = key.sign(artifact, None);
        self.run([
            OsStr::new("add"),
            OsStr::new(name),
            artifact.as_os_str(),
            OsStr::new("--signature"),
            sig.as_os_str(),
        ])
        .code(0);
        key
    }
}

/// One invocation of the binary being prepared.
pub struct Cmd<'a> {
    env: &'a TestEnv,
    args: Vec<OsString>,
    vars: Vec<(String, OsString)>,
    home_env: bool,
    measure_rss: bool,
    timeout: Duration,
    stdin: Option<Vec<u8>>,
}

impl Cmd<'_> {
    /// Feeds `bytes` to the child's stdin, then closes it (default: no
    /// stdin at all).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the child (the rest is scrubbed).
    pub fn var(mut self, name: &str, value: impl AsRef<OsStr>) -> Self {
        self.vars
            .push((name.to_string(), value.as_ref().to_owned()));
        self
    }

    /// Leaves MCP_WARDEN_HOME unset (for tests of `--home`).
    pub fn without_home_env(mut self) -> Self {
        self.home_env = false;
        self
    }

    /// Kills the child and fails the test after `t` (default 120 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Records the child's peak resident set size.
    pub fn measure_rss(mut self) -> Self {
        self.measure_rss = true;
        self
    }

    pub fn run(self) -> Output {
        let env = self.env;
        let rss_file = env.root.join(format!("rss-{}.txt", std::process::id()));
        let time = Path::new("/usr/bin/time");
        let use_time = self.measure_rss && time.exists();
        let mut c = if use_time {
            let mut c = Command::new(time);
            c.arg("-o").arg(&rss_file).arg("-f").arg("%M").arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        c.args(&self.args)
            .current_dir(&env.work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MCP_WARDEN_SYSTEM_DIR", &env.system)
            // The test's administrator, whatever /etc holds here.
            .env("MCP_WARDEN_BUILTIN_SYSTEM_DIR", &env.system)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.home_env {
            c.env("MCP_WARDEN_HOME", &env.home);
        }
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        let mut cmdline = format!(
            "cd {} && MCP_WARDEN_SYSTEM_DIR={}",
            env.work.display(),
            env.system.display()
        );
        for (k, v) in &self.vars {
            let _ = write!(cmdline, " {k}={}", v.to_string_lossy());
        }
        if self.home_env {
            let _ = write!(cmdline, " MCP_WARDEN_HOME={}", env.home.display());
        }
        cmdline.push_str(" mcp-warden");
        for a in &self.args {
            let _ = write!(cmdline, " {}", shell_quote(a));
        }

        let started = Instant::now();
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        // Read the pipes on threads so a chatty child never blocks, and
        // poll the peak RSS when /usr/bin/time is not there to report it.
        if let (Some(bytes), Some(mut sink)) = (self.stdin.clone(), child.stdin.take()) {
            std::thread::spawn(move || {
                let _ = std::io::Write::write_all(&mut sink, &bytes);
            });
        }
        let mut so = child.stdout.take().expect("piped");
        let mut se = child.stderr.take().expect("piped");
        let t_out = std::thread::spawn(move || {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut so, &mut v).map(|_| v)
        });
        let t_err = std::thread::spawn(move || {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut se, &mut v).map(|_| v)
        });
        let mut polled_hwm: Option<u64> = None;
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for the child") {
                break st;
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!("timed out after {:?} (killed): {cmdline}", self.timeout);
            }
            if self.measure_rss && !use_time {
                if let Some(kib) = vm_hwm_kib(child.id()) {
                    polled_hwm = Some(polled_hwm.map_or(kib, |p| p.max(kib)));
                }
                std::thread::sleep(Duration::from_millis(5));
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let elapsed = started.elapsed();
        let stdout = t_out.join().unwrap().expect("read stdout");
        let stderr = t_err.join().unwrap().expect("read stderr");
        let peak_rss_kib = if use_time {
            let text = fs::read_to_string(&rss_file).unwrap_or_default();
            let _ = fs::remove_file(&rss_file);
            // The last line holds %M; a line before it may say that the
            // command exited non-zero.
            text.lines().last().and_then(|l| l.trim().parse().ok())
        } else {
            polled_hwm
        };
        let out = Output {
            cmdline,
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            peak_rss_kib,
            elapsed,
        };
        out.assert_no_panic();
        out
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn shell_quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What one run produced.
pub struct Output {
    pub cmdline: String,
    /// `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub peak_rss_kib: Option<u64>,
    pub elapsed: Duration,
}

impl Output {
    /// The run, as a failing assertion shows it.
    pub fn context(&self) -> String {
        format!(
            "command: {}\nexit:    {}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.cmdline,
            self.code
                .map_or("killed by a signal".to_string(), |c| c.to_string()),
            self.stdout,
            self.stderr
        )
    }

    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!("{what}\n{}", self.context())
    }

    /// Never a panic, never a signal, and only the documented exit codes.
    #[track_caller]
    pub fn assert_no_panic(&self) -> &Self {
        if self.stderr.contains("panicked") || self.stdout.contains("panicked") {
            self.fail("mcp-warden panicked");
        }
        // `run` exits with its server's code; everything else with 0-2.
        let run = self.cmdline.contains(" mcp-warden run ");
        match self.code {
            Some(0..=2) => self,
            Some(101) => self.fail("mcp-warden panicked (exit 101)"),
            Some(_) if run => self,
            Some(c) => self.fail(&format!("exit code {c} is not one of 0, 1, 2")),
            None => self.fail("mcp-warden was killed by a signal"),
        }
    }

    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        if self.code != Some(want) {
            self.fail(&format!("expected exit code {want}"));
        }
        self
    }

    /// The diagnostic `code` was reported: in the JSON document when stdout
    /// holds one, else as `severity[code]` in the human output.
    #[track_caller]
    pub fn diag(&self, code: &str) -> &Self {
        if !self.has_diag(code) {
            self.fail(&format!("expected diagnostic `{code}`"));
        }
        self
    }

    #[track_caller]
    pub fn no_diag(&self, code: &str) -> &Self {
        if self.has_diag(code) {
            self.fail(&format!("did not expect diagnostic `{code}`"));
        }
        self
    }

    pub fn has_diag(&self, code: &str) -> bool {
        match serde_json::from_str::<Value>(&self.stdout) {
            Ok(v) if v.get("diagnostics").is_some() => self.diag_codes().iter().any(|c| c == code),
            _ => {
                let needle = format!("[{code}]");
                self.stdout.contains(&needle) || self.stderr.contains(&needle)
            }
        }
    }

    /// The codes of the JSON document's diagnostics, in order.
    #[track_caller]
    pub fn diag_codes(&self) -> Vec<String> {
        self.json()["diagnostics"]
            .as_array()
            .unwrap_or_else(|| self.fail("the JSON document has no `diagnostics` array"))
            .iter()
            .map(|d| d["code"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The JSON diagnostic with this code.
    #[track_caller]
    pub fn diagnostic(&self, code: &str) -> Value {
        let v = self.json();
        v["diagnostics"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["code"] == code))
            .cloned()
            .unwrap_or_else(|| self.fail(&format!("no diagnostic `{code}` in the JSON document")))
    }

    #[track_caller]
    /// A human diagnostic with `code` on stderr (`error[code]: ...`).
    pub fn diag_in_stderr(&self, code: &str) -> &Self {
        if !self.stderr.contains(&format!("[{code}]")) {
            self.fail(&format!("expected diagnostic `{code}` on stderr"));
        }
        self
    }

    pub fn stdout_has(&self, s: &str) -> &Self {
        if !self.stdout.contains(s) {
            self.fail(&format!("stdout should contain {s:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, s: &str) -> &Self {
        if !self.stderr.contains(s) {
            self.fail(&format!("stderr should contain {s:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, s: &str) -> &Self {
        if self.stdout.contains(s) {
            self.fail(&format!("stdout should not contain {s:?}"));
        }
        self
    }

    /// stdout parsed as the one JSON document it must be.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| self.fail(&format!("stdout is not one JSON document: {e}")))
    }

    /// Checks a condition about this run, printing the run when it fails.
    #[track_caller]
    pub fn check(&self, ok: bool, what: &str) -> &Self {
        if !ok {
            self.fail(what);
        }
        self
    }
}

// ---------------------------------------------------------------------------
// Real tools.

/// Fails, with a message that says what to install, when `prog` cannot
/// be started. Its exit status does not matter.
#[track_caller]
/// Fails when `needle` occurs in any file under `dir`.
pub fn assert_not_in_tree(dir: &Path, needle: &[u8]) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            assert_not_in_tree(&p, needle);
        } else if let Ok(bytes) = fs::read(&p) {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "the secret value was written to {}",
                p.display()
            );
        }
    }
}

/// The absolute path of `prog` on PATH.
pub fn which(prog: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{prog} is not on PATH; scripts/test installs it"))
}

pub fn require_tool(prog: &str, probe: &[&str]) {
    if let Err(e) = Command::new(prog)
        .args(probe)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        if e.kind() == ErrorKind::NotFound {
            panic!("{}", missing_tool(prog));
        }
        panic!("cannot run `{prog}`: {e}");
    }
}

fn missing_tool(prog: &str) -> String {
    format!(
        "the tool `{prog}` is required by this test suite and is not installed (on Debian: apt-get install \
         minisign openssh-client openssl; scripts/test installs them). The suite fails instead of skipping so \
         that a missing tool is never mistaken for a pass."
    )
}

/// Runs an external tool in `dir` and returns its stdout; a missing tool
/// or a failure is a test failure with a clear message, never a skip.
#[track_caller]
pub fn tool<I, S>(dir: &Path, prog: &str, args: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = Command::new(prog)
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            if e.kind() == ErrorKind::NotFound {
                panic!("{}", missing_tool(prog))
            }
            panic!("cannot run `{prog}`: {e}")
        });
    if !out.status.success() {
        panic!(
            "`{prog} {}` failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn sha512_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha512::digest(bytes))
}

/// Deterministic pseudo-random bytes (xorshift), for artifacts whose
/// every byte matters.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A minisign key pair made by `minisign -G -W` (no password).
pub struct Minisign {
    pub public: PathBuf,
    pub secret: PathBuf,
}

impl Minisign {
    pub fn generate(env: &TestEnv, name: &str) -> Self {
        let public = env.path(&format!("{name}.pub"));
        let secret = env.path(&format!("{name}.key"));
        tool(
            &env.work,
            "minisign",
            [
                OsStr::new("-G"),
                "-W".as_ref(),
                "-p".as_ref(),
                public.as_os_str(),
                "-s".as_ref(),
                secret.as_os_str(),
            ],
        );
        Minisign { public, secret }
    }

    /// `minisign -S` (prehashed, the default of minisign 0.11) into `FILE.minisig`.
    pub fn sign(&self, file: &Path, comment: Option<&str>) -> PathBuf {
        let out = PathBuf::from(format!("{}.minisig", file.display()));
        self.sign_to(file, &out, comment, false)
    }

    /// `minisign -S -l` (legacy: ed25519 over the file itself) into `FILE.legacy.minisig`.
    pub fn sign_legacy(&self, file: &Path, comment: Option<&str>) -> PathBuf {
        let out = PathBuf::from(format!("{}.legacy.minisig", file.display()));
        self.sign_to(file, &out, comment, true)
    }

    pub fn sign_to(&self, file: &Path, out: &Path, comment: Option<&str>, legacy: bool) -> PathBuf {
        let mut args: Vec<OsString> = vec![
            "-S".into(),
            "-s".into(),
            self.secret.clone().into(),
            "-m".into(),
            file.into(),
            "-x".into(),
            out.into(),
        ];
        if legacy {
            args.push("-l".into());
        }
        if let Some(c) = comment {
            args.push("-t".into());
            args.push(c.into());
        }
        tool(file.parent().unwrap_or(Path::new(".")), "minisign", args);
        out.to_path_buf()
    }
}

/// An OpenSSH ed25519 key made by `ssh-keygen -t ed25519 -N ''`.
pub struct SshKey {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl SshKey {
    pub fn generate(env: &TestEnv, name: &str) -> Self {
        let private = env.path(name);
        tool(
            &env.work,
            "ssh-keygen",
            [
                OsStr::new("-t"),
                "ed25519".as_ref(),
                "-N".as_ref(),
                "".as_ref(),
                "-C".as_ref(),
                "test".as_ref(),
                "-f".as_ref(),
                private.as_os_str(),
                "-q".as_ref(),
            ],
        );
        let public = env.path(&format!("{name}.pub"));
        SshKey { private, public }
    }

    /// `ssh-keygen -Y sign -n NAMESPACE [-O hashalg=ALG] FILE`, whose
    /// `FILE.sig` is then renamed to `out`.
    pub fn sign_to(
        &self,
        file: &Path,
        out: &Path,
        namespace: &str,
        hashalg: Option<&str>,
    ) -> PathBuf {
        let sig = PathBuf::from(format!("{}.sig", file.display()));
        // ssh-keygen asks before overwriting, and its stdin is closed.
        let _ = fs::remove_file(&sig);
        let mut args: Vec<OsString> = vec![
            "-Y".into(),
            "sign".into(),
            "-f".into(),
            self.private.clone().into(),
            "-n".into(),
            namespace.into(),
        ];
        if let Some(alg) = hashalg {
            args.push("-O".into());
            args.push(format!("hashalg={alg}").into());
        }
        args.push(file.into());
        tool(file.parent().unwrap_or(Path::new(".")), "ssh-keygen", args);
        if sig != out {
            fs::rename(&sig, out).unwrap();
        }
        out.to_path_buf()
    }

    /// The usual signature: namespace `file`, default hash (sha512), in `FILE.sig`.
    pub fn sign(&self, file: &Path) -> PathBuf {
        let out = PathBuf::from(format!("{}.sig", file.display()));
        self.sign_to(file, &out, "file", None)
    }
}

/// An ed25519 key made by `openssl genpkey`, for DSSE envelopes.
pub struct PemKey {
    pub private: PathBuf,
    pub public: PathBuf,
}

pub const IN_TOTO: &str = "application/vnd.in-toto+json";

impl PemKey {
    pub fn generate(env: &TestEnv, name: &str) -> Self {
        let private = env.path(&format!("{name}.pem"));
        let public = env.path(&format!("{name}.pub.pem"));
        tool(
            &env.work,
            "openssl",
            [
                OsStr::new("genpkey"),
                "-algorithm".as_ref(),
                "ed25519".as_ref(),
                "-out".as_ref(),
                private.as_os_str(),
            ],
        );
        tool(
            &env.work,
            "openssl",
            [
                OsStr::new("pkey"),
                "-in".as_ref(),
                private.as_os_str(),
                "-pubout".as_ref(),
                "-out".as_ref(),
                public.as_os_str(),
            ],
        );
        PemKey { private, public }
    }

    /// A DSSE envelope over an in-toto Statement v1 whose subjects are
    /// `(name, sha256 hex)`, signed with `openssl pkeyutl -sign -rawin`
    /// over the PAE bytes.
    pub fn dsse(&self, env: &TestEnv, out: &str, subjects: &[(&str, &str)]) -> PathBuf {
        let subject: Vec<Value> = subjects
            .iter()
            .map(|(n, h)| serde_json::json!({"name": n, "digest": {"sha256": h}}))
            .collect();
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subject,
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"buildDefinition": {"buildType": "https://example.invalid/test"}},
        });
        let payload = serde_json::to_vec(&statement).unwrap();
        self.dsse_payload(env, out, IN_TOTO, &payload)
    }

    pub fn dsse_payload(
        &self,
        env: &TestEnv,
        out: &str,
        payload_type: &str,
        payload: &[u8],
    ) -> PathBuf {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut pae = format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .into_bytes();
        pae.extend_from_slice(payload);
        let pae_file = env.write(&format!("{out}.pae"), &pae);
        let sig_file = env.path(&format!("{out}.sigbin"));
        tool(
            &env.work,
            "openssl",
            [
                OsStr::new("pkeyutl"),
                "-sign".as_ref(),
                "-rawin".as_ref(),
                "-inkey".as_ref(),
                self.private.as_os_str(),
                "-in".as_ref(),
                pae_file.as_os_str(),
                "-out".as_ref(),
                sig_file.as_os_str(),
            ],
        );
        let sig = fs::read(&sig_file).unwrap();
        assert_eq!(
            sig.len(),
            64,
            "openssl made an ed25519 signature of {} bytes",
            sig.len()
        );
        let envelope = serde_json::json!({
            "payloadType": payload_type,
            "payload": b64.encode(payload),
            "signatures": [{"keyid": "", "sig": b64.encode(&sig)}],
        });
        env.write(out, serde_json::to_vec_pretty(&envelope).unwrap())
    }
}

/// Offsets spread over `0..len`: the start, the middle, the end and
/// `spread` more in between.
pub fn spread_offsets(len: usize, spread: usize) -> Vec<usize> {
    assert!(len > 0);
    let mut v: Vec<usize> = vec![0, len / 2, len - 1];
    v.extend((1..=spread).map(|i| i * len / (spread + 1)));
    v.sort_unstable();
    v.dedup();
    v
}

/// An argument as the `Command` helpers take it.
pub fn o(s: &str) -> OsString {
    s.into()
}

/// A fixture path as an argument.
pub fn f(rel: &str) -> OsString {
    fixture(rel).into()
}

/// The codes of the error-severity diagnostics of a JSON report.
pub fn error_codes(v: &Value) -> Vec<String> {
    v["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["severity"] == "error")
        .filter_map(|d| d["code"].as_str().map(str::to_string))
        .collect()
}

/// The checks of one kind of a JSON report.
pub fn checks_of(v: &Value, kind: &str) -> Vec<Value> {
    v["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["kind"] == kind)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// Tools that scripts/test installs into the project tree.

/// A program under `target/test-tools/` (`rel` below it), where
/// scripts/test installs the pinned SBOM generators; a message saying it is
/// missing, and how to get it, when it is not there.
pub fn test_tool(rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("test-tools")
        .join(rel);
    if p.is_file() {
        Ok(p)
    } else {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        Err(format!(
            "`{name}` missing at {}: run scripts/test, which installs the pinned SBOM generators \
             there. The tests that need it fail instead of skipping, so that a missing generator \
             is never mistaken for a pass.",
            p.display()
        ))
    }
}

/// Whether process `pid` is alive and not a zombie (from /proc).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The test process's real user id (from /proc/self/status).
pub fn real_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
