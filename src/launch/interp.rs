//! What a server's interpreter needs on disk, so that the sandbox grants
//! that and no more ([`crate::launch::sandbox::for_server`]).
//!
//! Node needs its binary (its libraries are the system's). A Python
//! installation is asked (`python3 -I -S -c …`) where its standard
//! library, site directories and shared libraries are: paths vary too
//! much between builds (distribution, pyenv, uv, venvs, conda) to guess
//! from the binary's path, and the directory above `bin/` is the user's
//! `~/.local` or home when python3 sits in `~/.local/bin` or `~/bin`.
//!
//! The answer is kept in `CACHE/interpreters/<sha256 of the path>.json`,
//! with the identity of the binary it came from (canonical path, device,
//! inode, size, mtime, ctime): a launch asks only when that binary
//! changed, one file per interpreter path.
//!
//! A launcher script (a version manager's shim, `#!/usr/bin/env bash`)
//! costs a shell and the manager on every start, tens of milliseconds:
//! [`behind_launcher`] names the binary it started when asked, which the
//! launch then runs directly. Its answer is kept while the script, that
//! binary and the manager's global version file (`ROOT/version` of a
//! `ROOT/shims/` launcher) are unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::child::RunError;
use crate::fsutil;

/// How the server's entry point is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Runtime {
    Node,
    Python,
}

impl Runtime {
    /// The runtime of an interpreter looked up by this command name.
    pub fn of_command(name: &str) -> Runtime {
        match name {
            "node" => Runtime::Node,
            _ => Runtime::Python,
        }
    }
}

/// Far above any real answer (a few hundred bytes); bounds both the
/// interpreter's output and a cache entry read back.
const MAX_ANSWER: u64 = 64 * 1024;
/// Shared libraries an answer may list.
const MAX_LIBS: usize = 256;
/// How long the interpreter may take to answer (a cold start on a slow
/// disk takes well under a second).
pub const ASK_TIMEOUT: Duration = Duration::from_secs(10);
const ENTRY_VERSION: u32 = 2;

/// Asked with `-I -S`: isolated (no PYTHON* variables, no user site) and
/// without `site`, so that no `.pth` file of the installation runs
/// outside the sandbox. Without `site` a venv is not applied (before
/// 3.11 nor after, for sys.prefix), so the venv is recognised here the
/// way `site` does: a pyvenv.cfg beside the binary or one level up.
const ASK_PYTHON: &str = r#"import json, os, sys, sysconfig
exe = sys.executable
prefix = sys.prefix
if prefix == sys.base_prefix:
    d = os.path.dirname(os.path.abspath(exe))
    if any(os.path.isfile(os.path.join(p, "pyvenv.cfg")) for p in (d, os.path.dirname(d))):
        prefix = os.path.dirname(d)
p = sysconfig.get_paths()
libs = set()
try:
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/") and ".so" in parts[5]:
                libs.add(parts[5].rstrip("\n"))
except OSError:
    pass
print(json.dumps({
    "executable": exe,
    "prefix": prefix,
    "base-prefix": sys.base_prefix,
    "platlibdir": getattr(sys, "platlibdir", "lib"),
    "stdlib": p["stdlib"],
    "platstdlib": p["platstdlib"],
    "purelib": p["purelib"],
    "platlib": p["platlib"],
    "libs": sorted(libs),
}))
"#;

/// What a Python installation says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PythonFacts {
    /// `sys.executable`: the path it was started by.
    pub executable: PathBuf,
    /// The venv's root, or the installation's (`base_prefix`).
    pub prefix: PathBuf,
    pub base_prefix: PathBuf,
    /// `sys.platlibdir` ("lib", "lib64" on some distributions).
    pub platlibdir: String,
    /// The installation's standard library and site directories
    /// (sysconfig, without the venv).
    pub stdlib: PathBuf,
    pub platstdlib: PathBuf,
    pub purelib: PathBuf,
    pub platlib: PathBuf,
    /// Shared objects mapped at startup (libpython, lib-dynload modules,
    /// the C library).
    pub libs: Vec<PathBuf>,
}

impl PythonFacts {
    /// The venv's root, when the interpreter runs in one.
    pub fn venv(&self) -> Option<&Path> {
        (self.prefix != self.base_prefix).then_some(self.prefix.as_path())
    }

    fn check(&self) -> Result<(), String> {
        let dirs = [
            &self.executable,
            &self.prefix,
            &self.base_prefix,
            &self.stdlib,
            &self.platstdlib,
            &self.purelib,
            &self.platlib,
        ];
        if let Some(p) = dirs
            .into_iter()
            .chain(&self.libs)
            .find(|p| !p.is_absolute())
        {
            return Err(format!("`{}` is not an absolute path", p.display()));
        }
        if self.libs.len() > MAX_LIBS {
            return Err(format!("more than {MAX_LIBS} shared libraries"));
        }
        let plain = !self.platlibdir.is_empty()
            && !self.platlibdir.contains('/')
            && self.platlibdir != "."
            && self.platlibdir != "..";
        if !plain {
            return Err(format!(
                "platlibdir `{}` is not a directory name",
                self.platlibdir
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InterpError {
    #[error("cannot run the interpreter {}: {source}", path.display())]
    Run {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the interpreter {} did not answer within {} s", path.display(), timeout.as_secs())]
    Timeout { path: PathBuf, timeout: Duration },
    #[error("the interpreter {} failed ({status}): {stderr}", path.display())]
    Failed {
        path: PathBuf,
        status: String,
        stderr: String,
    },
    #[error("the interpreter {} gave an answer that is not understood: {detail}", path.display())]
    Answer { path: PathBuf, detail: String },
}

/// What identifies an installed binary: a replaced or rewritten file
/// differs in at least one of these (ctime cannot be set back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Identity {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Identity {
    /// The identity of the file `program` resolves to.
    pub fn of(program: &Path) -> std::io::Result<Identity> {
        let path = std::fs::canonicalize(program)?;
        let m = std::fs::metadata(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            Ok(Identity {
                path,
                dev: m.dev(),
                ino: m.ino(),
                size: m.size(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .unwrap_or_default();
            let mtime = (t.as_secs() as i64, i64::from(t.subsec_nanos()));
            Ok(Identity {
                path,
                dev: 0,
                ino: 0,
                size: m.len(),
                mtime,
                ctime: mtime,
            })
        }
    }
}

/// One cache file: the answer and what it was the answer of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Entry {
    version: u32,
    /// The interpreter as the launch names it (a venv's python is a
    /// symlink to the base binary, with answers of its own).
    program: PathBuf,
    binary: Identity,
    /// For a launcher script: the binary it started (`facts.executable`)
    /// and the manager's global version file, as they were when asked.
    #[serde(default)]
    target: Option<Identity>,
    #[serde(default)]
    selector: Option<Identity>,
    facts: PythonFacts,
}

/// Where the answer for `program` is kept under the cache directory.
pub fn entry_path(cache_dir: &Path, program: &Path) -> PathBuf {
    let name = hex::encode(sha2::Sha256::digest(program.as_os_str().as_encoded_bytes()));
    cache_dir.join("interpreters").join(format!("{name}.json"))
}

/// The Python installation behind `program`: from the cache when its
/// binary is unchanged, else asked (and the answer kept).
pub fn python_facts(cache_dir: &Path, program: &Path) -> Result<PythonFacts, InterpError> {
    python_facts_with(cache_dir, program, ASK_TIMEOUT)
}

pub(crate) fn python_facts_with(
    cache_dir: &Path,
    program: &Path,
    timeout: Duration,
) -> Result<PythonFacts, InterpError> {
    let binary = Identity::of(program).map_err(|source| InterpError::Run {
        path: program.to_path_buf(),
        source,
    })?;
    let path = entry_path(cache_dir, program);
    let launcher = is_script(&binary.path);
    let selector = match launcher {
        true => version_file(program).and_then(|f| Identity::of(&f).ok()),
        false => None,
    };
    if let Some(facts) = load(&path, program, &binary, &selector) {
        return Ok(facts);
    }
    let facts = ask_python(program, timeout)?;
    let entry = Entry {
        version: ENTRY_VERSION,
        program: program.to_path_buf(),
        binary,
        target: match launcher {
            true => Identity::of(&facts.executable).ok(),
            false => None,
        },
        selector,
        facts,
    };
    // Not kept (a read-only cache, a non-UTF-8 path): asked again next time.
    match serde_json::to_vec_pretty(&entry) {
        Ok(bytes) => {
            if let Err(e) = fsutil::write_atomic(&path, &bytes) {
                tracing::debug!(path = %path.display(), "interpreter cache not written: {e}");
            }
        }
        Err(e) => tracing::debug!("interpreter cache entry not serialised: {e}"),
    }
    Ok(entry.facts)
}

/// The kept answer, if it is for this program and this very binary (and,
/// for a launcher script, the binary it started and the version file it
/// chose by are unchanged).
fn load(
    path: &Path,
    program: &Path,
    binary: &Identity,
    selector: &Option<Identity>,
) -> Option<PythonFacts> {
    let bytes = fsutil::read_bounded(path, MAX_ANSWER).ok()?;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    let target_unchanged = match &entry.target {
        Some(t) => Identity::of(&entry.facts.executable).ok().as_ref() == Some(t),
        None => true,
    };
    let current = entry.version == ENTRY_VERSION
        && entry.program == program
        && entry.binary == *binary
        && entry.selector == *selector
        && target_unchanged
        && entry.facts.check().is_ok();
    current.then_some(entry.facts)
}

/// Whether `path` is a `#!` script rather than a binary.
fn is_script(path: &Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"#!"
}

/// Whether `path` is a native executable (ELF or Mach-O).
fn is_native(path: &Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; 4];
    if std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_err()
    {
        return false;
    }
    crate::launch::entry::native_magic(&head)
}

/// The global version file of the version manager whose shim `program`
/// is (pyenv, rbenv, nodenv: `ROOT/version`).
fn version_file(program: &Path) -> Option<PathBuf> {
    crate::launch::sandbox::shim_root(program).map(|root| root.join("version"))
}

/// The interpreter binary that the launcher script `program` starts, to
/// be run in its place; `None` when `program` is itself a binary, or its
/// answer names no other native binary (then `program` runs as it is).
pub fn behind_launcher(cache_dir: &Path, program: &Path) -> Result<Option<PathBuf>, InterpError> {
    let Ok(real) = std::fs::canonicalize(program) else {
        return Ok(None);
    };
    if !is_script(&real) {
        return Ok(None);
    }
    let facts = python_facts(cache_dir, program)?;
    let exe = &facts.executable;
    let other = std::fs::canonicalize(exe).is_ok_and(|e| e != real);
    Ok((other && is_native(exe)).then(|| exe.clone()))
}

/// Runs `program -I -S -c ASK_PYTHON` with an empty environment, bounded
/// in time and output.
fn ask_python(program: &Path, timeout: Duration) -> Result<PythonFacts, InterpError> {
    let path = program.to_path_buf();
    let mut cmd = Command::new(program);
    cmd.args(["-I", "-S", "-c", ASK_PYTHON])
        .env_clear()
        .current_dir("/");
    // One byte past the bound tells an answer that is too long.
    let keep = MAX_ANSWER as usize + 1;
    let f = crate::child::run_bounded(cmd, "python3", timeout, keep).map_err(|e| match e {
        RunError::Timeout { .. } => InterpError::Timeout {
            path: path.clone(),
            timeout,
        },
        RunError::Missing { source, .. }
        | RunError::Spawn { source, .. }
        | RunError::Wait { source, .. } => InterpError::Run {
            path: path.clone(),
            source,
        },
    })?;
    let (status, stdout, stderr) = (f.status, f.stdout, f.stderr);
    if stdout.len() as u64 > MAX_ANSWER {
        return Err(InterpError::Answer {
            path,
            detail: format!("more than {MAX_ANSWER} bytes"),
        });
    }
    if !status.success() {
        let text = String::from_utf8_lossy(&stderr);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(InterpError::Failed {
            path,
            status: status.to_string(),
            stderr: last.chars().take(300).collect(),
        });
    }
    let facts: PythonFacts = serde_json::from_slice(&stdout).map_err(|e| InterpError::Answer {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    facts
        .check()
        .map_err(|detail| InterpError::Answer { path, detail })?;
    Ok(facts)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A stand-in interpreter: a shell script that notes each start in
    /// `asked` and prints `answer`.
    fn fake_python(dir: &Path, answer: &str) -> PathBuf {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let p = bin.join("python3");
        let script = format!(
            "#!/bin/sh\necho \"$*\" | head -c 8 >> '{}'\necho >> '{}'\ncat <<'EOF'\n{answer}\nEOF\n",
            dir.join("asked").display(),
            dir.join("asked").display(),
        );
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn asked(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("asked"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn answer(root: &Path) -> String {
        let r = root.display();
        format!(
            r#"{{"executable": "{r}/bin/python3", "prefix": "{r}", "base-prefix": "{r}", "platlibdir": "lib",
            "stdlib": "{r}/lib/python3.12", "platstdlib": "{r}/lib/python3.12",
            "purelib": "{r}/lib/python3.12/site-packages", "platlib": "{r}/lib/python3.12/site-packages",
            "libs": ["{r}/lib/libpython3.12.so.1.0"]}}"#
        )
    }

    #[test]
    fn the_answer_is_kept_read_back_and_renewed_when_the_binary_changes() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("py");
        let cache = t.path().join("cache");
        let py = fake_python(&root, &answer(&root));
        let first = python_facts(&cache, &py).unwrap();
        assert_eq!(asked(&root), 1);
        assert_eq!(first.stdlib, root.join("lib/python3.12"));
        assert_eq!(first.venv(), None);
        // Asked with -I -S (the first 8 bytes of its arguments).
        let args = std::fs::read_to_string(root.join("asked")).unwrap();
        assert!(args.starts_with("-I -S -c"), "{args:?}");

        // Written, and read back instead of asking again.
        let file = entry_path(&cache, &py);
        let kept: Entry = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(kept.facts, first);
        assert_eq!(kept.program, py);
        assert_eq!(kept.binary, Identity::of(&py).unwrap());
        assert_eq!(python_facts(&cache, &py).unwrap(), first);
        assert_eq!(asked(&root), 1);

        // What is read back is what is used: an edited entry for the same
        // binary is taken as is.
        let mut edited = kept.clone();
        edited.facts.purelib = root.join("elsewhere");
        std::fs::write(&file, serde_json::to_vec(&edited).unwrap()).unwrap();
        assert_eq!(
            python_facts(&cache, &py).unwrap().purelib,
            root.join("elsewhere")
        );
        assert_eq!(asked(&root), 1);

        // A changed binary (here: rewritten, same size) is asked again and
        // the entry replaced.
        let text = std::fs::read_to_string(&py).unwrap();
        std::fs::write(&py, text.replace("python3.12", "python3.13")).unwrap();
        let again = python_facts(&cache, &py).unwrap();
        assert_eq!(asked(&root), 2);
        assert_eq!(again.stdlib, root.join("lib/python3.13"));
        let kept: Entry = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(kept.facts, again);

        // Damaged, oversized or foreign entries are not used: asked again.
        for bad in [
            b"{not json".to_vec(),
            vec![b' '; MAX_ANSWER as usize + 1],
            serde_json::to_vec(&Entry {
                program: root.join("other"),
                ..kept.clone()
            })
            .unwrap(),
        ] {
            std::fs::write(&file, bad).unwrap();
            let n = asked(&root);
            assert_eq!(python_facts(&cache, &py).unwrap(), again);
            assert_eq!(asked(&root), n + 1);
        }
        // Another interpreter path has its own entry.
        assert_ne!(entry_path(&cache, &root.join("bin/python")), file);
    }

    /// A version manager's shim (`ROOT/shims/python3`, a script) is asked
    /// once which binary it starts; that binary is run in its place until
    /// the shim, the binary or the manager's global version file changes.
    #[test]
    fn a_launcher_script_is_looked_behind_and_asked_again_when_it_may_choose_otherwise() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("manager");
        let cache = t.path().join("cache");
        let real = real_python();
        std::fs::create_dir_all(root.join("shims")).unwrap();
        std::fs::write(root.join("version"), "3.x\n").unwrap();
        let shim = root.join("shims/python3");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\necho >> '{}'\nexec '{}' \"$@\"\n",
                root.join("asked").display(),
                real.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let asked = || {
            std::fs::read_to_string(root.join("asked"))
                .unwrap_or_default()
                .lines()
                .count()
        };
        assert_eq!(behind_launcher(&cache, &shim).unwrap(), Some(real.clone()));
        assert_eq!(asked(), 1);
        assert_eq!(behind_launcher(&cache, &shim).unwrap(), Some(real.clone()));
        assert_eq!(asked(), 1);
        // `pyenv global X` rewrites the version file: asked again.
        std::fs::write(root.join("version"), "3.y\n").unwrap();
        assert_eq!(behind_launcher(&cache, &shim).unwrap(), Some(real.clone()));
        assert_eq!(asked(), 2);
        // A binary is not a launcher; a script naming itself is run as is.
        assert_eq!(behind_launcher(&cache, &real).unwrap(), None);
        let fake = fake_python(&t.path().join("fake"), &answer(&t.path().join("fake")));
        assert_eq!(behind_launcher(&cache, &fake).unwrap(), None);
        // A launcher that does not run is an error, not a guess.
        std::fs::write(&shim, "#!/bin/sh\nexit 3\n").unwrap();
        assert!(behind_launcher(&cache, &shim).is_err());
    }

    #[test]
    fn a_bad_answer_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let cache = t.path().join("cache");
        for (answer, what) in [
            ("not json", "not understood"),
            (
                &answer(Path::new("/p")).replace("\"/p/lib/python3.12\"", "\"lib\""),
                "absolute",
            ),
            (
                &answer(Path::new("/p")).replace("\"lib\",", "\"../x\","),
                "platlibdir",
            ),
        ] {
            let root = tempfile::tempdir_in(t.path()).unwrap();
            let py = fake_python(root.path(), answer);
            let e = python_facts(&cache, &py).unwrap_err();
            assert!(matches!(e, InterpError::Answer { .. }), "{e:?}");
            assert!(e.to_string().contains(what), "{e}");
            assert!(!entry_path(&cache, &py).exists());
        }
        // Output past the bound, a failure, a hang.
        let dir = t.path().join("x");
        std::fs::create_dir_all(&dir).unwrap();
        let script = |name: &str, body: &str| {
            let p = dir.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let big = script("big", "exec head -c 1000000 /dev/zero");
        let e = python_facts(&cache, &big).unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
        let fails = script("fails", "echo 'SyntaxError: no' >&2; exit 3");
        let e = python_facts(&cache, &fails).unwrap_err();
        assert!(matches!(e, InterpError::Failed { .. }), "{e:?}");
        assert!(e.to_string().contains("SyntaxError: no"), "{e}");
        let hangs = script("hangs", "exec sleep 30");
        let started = std::time::Instant::now();
        let e = python_facts_with(&cache, &hangs, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(e, InterpError::Timeout { .. }), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let e = python_facts(&cache, &dir.join("missing")).unwrap_err();
        assert!(matches!(e, InterpError::Run { .. }), "{e:?}");
    }

    /// The machine's python3, asked for real: its answer names existing
    /// directories, and a venv made from it is told apart from its base.
    #[test]
    fn a_real_python_and_its_venv() {
        let t = tempfile::tempdir().unwrap();
        let cache = t.path().join("cache");
        let exe = real_python();
        let base = python_facts(&cache, &exe).unwrap();
        assert_eq!(base.venv(), None);
        assert!(base.stdlib.join("os.py").is_file(), "{base:?}");
        let venv = t.path().join("venv");
        let st = Command::new(&exe)
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(st.success());
        let v = python_facts(&cache, &venv.join("bin/python3")).unwrap();
        assert_eq!(v.venv(), Some(venv.as_path()));
        assert_eq!(v.executable, venv.join("bin/python3"));
        assert_eq!(v.stdlib, base.stdlib);
    }

    /// The real python3 binary (not a version manager's shim).
    pub(crate) fn real_python() -> PathBuf {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed by these tests (scripts/test installs it)");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    }
}
