//! What the process benchmarks share: a temporary mcp-warden home with a
//! server pinned under a real minisign signature, and small helpers.

#![allow(dead_code)] // each benchmark uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A home holding one server, `srv`, pinned from `artifact` with a fresh
/// minisign key, and a copy of the cached bytes for the direct side.
pub struct Pinned {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub home: PathBuf,
    warden: PathBuf,
    /// The cached artifact copied out and made executable: what the
    /// direct side starts, byte for byte what `run` starts.
    pub direct: PathBuf,
}

impl Pinned {
    /// Pins `bytes` (written as `file_name`) as `srv`.
    pub fn new(warden: &Path, file_name: &str, bytes: &[u8]) -> Pinned {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let artifact = tmp.path().join(file_name);
        std::fs::write(&artifact, bytes).expect("write the artifact");
        Pinned::pin(warden, tmp, file_name)
    }

    /// Pins an npm-style `package/` tarball holding `server.js` (run by
    /// node from the unpacked tree) as `srv`; `direct` is that script.
    pub fn node_package(warden: &Path, server_js: &str) -> Pinned {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let pkg = tmp.path().join("src/package");
        std::fs::create_dir_all(&pkg).expect("package directory");
        std::fs::write(
            pkg.join("package.json"),
            r#"{"name": "srv", "version": "1.0.0", "bin": {"srv": "server.js"}}"#,
        )
        .expect("package.json");
        std::fs::write(pkg.join("server.js"), server_js).expect("server.js");
        run_ok(
            Command::new("tar")
                .arg("czf")
                .arg(tmp.path().join("srv.tgz"))
                .arg("-C")
                .arg(tmp.path().join("src"))
                .arg("package"),
        );
        let mut p = Pinned::pin(warden, tmp, "srv.tgz");
        p.direct = p.dir.join("src/package/server.js");
        p
    }

    fn pin(warden: &Path, tmp: tempfile::TempDir, file_name: &str) -> Pinned {
        let dir = tmp.path().to_path_buf();
        let artifact = dir.join(file_name);
        run_ok(
            Command::new("minisign")
                .args(["-G", "-W", "-p"])
                .arg(dir.join("k.pub"))
                .arg("-s")
                .arg(dir.join("k.sec")),
        );
        run_ok(
            Command::new("minisign")
                .args(["-S", "-W", "-s"])
                .arg(dir.join("k.sec"))
                .arg("-m")
                .arg(&artifact),
        );
        let mut p = Pinned {
            _tmp: tmp,
            home: dir.join("home"),
            dir,
            warden: warden.to_path_buf(),
            direct: PathBuf::new(),
        };
        run_ok(
            p.warden()
                .arg("trust")
                .arg("add-key")
                .arg(p.dir.join("k.pub"))
                .args(["--name", "bench", "--scope", "*"]),
        );
        run_ok(
            p.warden()
                .args(["-q", "add", "srv"])
                .arg(&artifact)
                .arg("--signature")
                .arg(p.dir.join(format!("{file_name}.minisig"))),
        );
        let lock = std::fs::read_to_string(p.home.join("config/servers.lock")).expect("lock");
        let sha = lock
            .lines()
            .find_map(|l| l.strip_prefix("sha256 = \""))
            .expect("sha256 in the lock")
            .trim_end_matches('"')
            .to_string();
        p.direct = p.dir.join(format!("direct-{file_name}"));
        std::fs::copy(p.home.join("cache/blobs/sha256").join(&sha), &p.direct).expect("copy");
        set_exec(&p.direct);
        p
    }

    /// mcp-warden with this home and nothing else of the environment.
    pub fn warden(&self) -> Command {
        let mut c = Command::new(&self.warden);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MCP_WARDEN_HOME", &self.home)
            .env("MCP_WARDEN_SYSTEM_DIR", self.dir.join("system"));
        c
    }
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// A variable the benchmark's script sets.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("{name} is not set; run the benchmark through its script in scripts/");
        std::process::exit(2)
    })
}

pub fn run_ok(c: &mut Command) {
    let out = c.output().expect("start a setup command");
    if !out.status.success() {
        eprintln!(
            "setup failed: {c:?}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(2);
    }
}

pub fn set_exec(p: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
