//! A real Secret Service for the tests: gnome-keyring on a private D-Bus
//! session bus, with its own HOME and data directory, unlocked with a test
//! password. Everything it started is killed and reaped on drop.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::util::{Cmd, TestEnv};

const PASSWORD: &str = "mcp-warden-test-password";

pub struct SecretService {
    dir: tempfile::TempDir,
    bus: Child,
    keyring: Option<Child>,
    address: String,
}

#[track_caller]
fn missing(prog: &str) -> ! {
    panic!(
        "`{prog}` is required by the keychain tests and is not installed (on Debian: apt-get install \
         dbus gnome-keyring libsecret-tools keyutils; scripts/test installs them). The suite fails \
         instead of skipping so that a missing tool is never mistaken for a pass."
    )
}

#[track_caller]
fn spawn(c: &mut Command, prog: &str) -> Child {
    c.spawn().unwrap_or_else(|e| {
        if e.kind() == ErrorKind::NotFound {
            missing(prog)
        }
        panic!("cannot start {prog}: {e}")
    })
}

impl SecretService {
    /// Starts a private bus and an unlocked gnome-keyring on it, and waits
    /// until the keyring owns `org.freedesktop.secrets`.
    pub fn start() -> SecretService {
        let dir = tempfile::Builder::new()
            .prefix("mcp-warden-keyring-")
            .tempdir()
            .expect("create a temporary directory");
        let (home, data, runtime) = (
            dir.path().join("home"),
            dir.path().join("data"),
            dir.path().join("run"),
        );
        for d in [&home, &data, &runtime] {
            std::fs::create_dir_all(d).expect("create keyring directories");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let path = std::env::var_os("PATH").unwrap_or_default();

        // The bus prints its address on stdout once it listens.
        let mut bus = spawn(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
                .env_clear()
                .env("PATH", &path)
                .env("HOME", &home)
                .env("XDG_RUNTIME_DIR", &runtime)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "dbus-daemon",
        );
        let mut line = String::new();
        let read = BufReader::new(bus.stdout.take().expect("piped")).read_line(&mut line);
        let address = line.trim().to_string();
        let mut ss = SecretService {
            dir,
            bus,
            keyring: None,
            address,
        };
        if read.is_err() || ss.address.is_empty() {
            panic!("dbus-daemon printed no address");
        }

        let mut keyring = spawn(
            Command::new("gnome-keyring-daemon")
                .args(["--foreground", "--unlock", "--components=secrets"])
                .env_clear()
                .env("PATH", &path)
                .env("HOME", &home)
                .env("XDG_DATA_HOME", &data)
                .env("XDG_RUNTIME_DIR", &runtime)
                .env("DBUS_SESSION_BUS_ADDRESS", &ss.address)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "gnome-keyring-daemon",
        );
        // --unlock reads the password from stdin up to EOF.
        let mut stdin = keyring.stdin.take().expect("piped");
        let _ = stdin.write_all(PASSWORD.as_bytes());
        drop(stdin);
        ss.keyring = Some(keyring);
        ss.wait_for_owner();
        ss
    }

    fn wait_for_owner(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env_clear()
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| {
                    if e.kind() == ErrorKind::NotFound {
                        missing("dbus-send")
                    }
                    panic!("cannot run dbus-send: {e}")
                });
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            if let Some(k) = self.keyring.as_mut()
                && let Ok(Some(st)) = k.try_wait()
            {
                panic!("gnome-keyring-daemon exited before it answered ({st})");
            }
            if Instant::now() > deadline {
                panic!("gnome-keyring-daemon did not take org.freedesktop.secrets within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What a client needs in its environment to reach this keyring.
    pub fn envs(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone())]
    }

    /// `env.cmd()` with this keyring's environment, the Secret Service
    /// backend forced (no silent fallback to keyutils).
    pub fn cmd<'a>(&self, env: &'a TestEnv) -> Cmd<'a> {
        let mut c = env.cmd().var("MCP_WARDEN_KEYRING", "secret-service");
        for (k, v) in self.envs() {
            c = c.var(&k, v);
        }
        c
    }

    /// `secret-tool ARGS` against this keyring: (exit success, stdout).
    pub fn secret_tool(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("secret-tool")
            .args(args)
            .env_clear()
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                if e.kind() == ErrorKind::NotFound {
                    missing("secret-tool")
                }
                panic!("cannot run secret-tool: {e}")
            });
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The process ids this helper started, for the no-strays check.
    pub fn pids(&self) -> Vec<u32> {
        std::iter::once(self.bus.id())
            .chain(self.keyring.as_ref().map(Child::id))
            .collect()
    }

    /// Where gnome-keyring keeps its files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if let Some(mut k) = self.keyring.take() {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
