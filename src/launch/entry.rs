//! How a verified artifact is started: a native executable as is, a
//! script under its interpreter (node for npm packages, python for
//! wheels), or an `.mcpb` manifest's `mcp_config`. Never through a shell:
//! the result is a program and an argument array.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::fsutil::{self, ReadError};
use crate::launch::interp::Runtime;
use crate::policy::RunRules;
use crate::source::spec::normalize_pypi_name;

/// Node resolves the main script and every module to its real path and
/// loads that, a second lookup by name; the verified files are reached
/// through `/proc/self/fd/N` (see [`crate::launch::anchor`]), which must
/// be kept as it is.
const NODE_FLAGS: [&str; 2] = ["--preserve-symlinks", "--preserve-symlinks-main"];

/// `package.json`, `manifest.json`, `METADATA` and `entry_points.txt`
/// larger than this are refused.
const MAX_META: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("cannot tell how to start {what}: {detail}")]
    Unknown { what: String, detail: String },
    #[error("{file}: {detail}")]
    Invalid { file: PathBuf, detail: String },
    #[error("cannot read {0}")]
    Read(#[from] ReadError),
    #[error("the entry point `{0}` is outside the verified files")]
    Escapes(String),
    #[error("no `{name}` interpreter found on PATH")]
    NoInterpreter { name: String },
    #[error(
        "the package needs {} that the verified artifact does not contain: {}",
        if names.len() == 1 { "a dependency" } else { "dependencies" },
        names.join(", ")
    )]
    MissingDependencies { names: Vec<String> },
    #[error("`{0}` would install or fetch code at launch, which is not verified")]
    Installer(String),
    #[error("{0}")]
    Unsupported(String),
}

impl crate::diag::Diagnose for EntryError {
    fn code(&self) -> crate::diag::Code {
        match self {
            EntryError::NoInterpreter { .. } => crate::diag::Code::LaunchFailed,
            _ => crate::diag::Code::EntryPoint,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            EntryError::Unknown { .. } => "pin a package with a package.json `bin`, a wheel with a console script, an .mcpb bundle, or a native executable".into(),
            EntryError::Invalid { .. } | EntryError::Read(_) => "the pinned package is malformed; ask its publisher, or pin another version".into(),
            EntryError::Escapes(_) => "the package points outside itself; refuse it or ask its publisher".into(),
            EntryError::NoInterpreter { name } => format!(
                "install {name}, or name it in the policy: [servers.run] interpreter = \"/path/to/{name}\""
            ),
            EntryError::MissingDependencies { .. } => "mcp-warden runs only verified code and never installs dependencies at launch: `add npm:PKG` pins an npm package with its dependency tree (unless --no-dependencies); otherwise pin an artifact that bundles them (an .mcpb bundle, or a package with node_modules or its wheels inside)".into(),
            EntryError::Installer(_) => "pin an artifact that bundles its dependencies (an .mcpb bundle)".into(),
            EntryError::Unsupported(_) => return None,
        })
    }
}

/// How a variable of an `.mcpb` `mcp_config` gets its value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EnvValue {
    Plain(String),
    /// From the keychain under the variable's own name; `default` when
    /// the keychain has none, and an error when neither exists and the
    /// field is required.
    Secret {
        default: Option<String>,
        required: bool,
    },
}

/// Where the interpreter came from, for the launch report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    pub path: PathBuf,
    /// `policy` or `PATH`.
    pub from: &'static str,
    /// What the sandbox must grant depends on it.
    pub runtime: Runtime,
    /// The launcher script (a version manager's shim) that named `path`
    /// when asked, and that is not run itself ([`EntryPoint::run_directly`]).
    pub via: Option<PathBuf>,
}

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPoint {
    /// `None`: execute the pinned file itself (opened and checked by the
    /// caller, so the inode that was verified is the one that runs).
    pub program: Option<PathBuf>,
    pub argv0: Option<OsString>,
    pub args: Vec<OsString>,
    pub env: Vec<(String, EnvValue)>,
    pub interpreter: Option<Interpreter>,
    /// One line for the launch report (`node package/dist/index.js`).
    pub describe: String,
    /// Whether the interpreter can be held before the first file of the
    /// server is loaded ([`EntryPoint::hold_at`]).
    pub gate: Gate,
}

/// Where a server's interpreter can wait for the verdict on its files:
/// it starts (tens of milliseconds of its own) while they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Gate {
    /// It cannot: the verdict comes before the server is started.
    None,
    /// node: a module given to `--import`, which node loads before the
    /// main script (it only looks the script up before).
    NodeImport,
    /// python3 -c CODE (a wheel's entry point): the gate is CODE's start,
    /// before the tree is put on `sys.path`.
    PythonCode,
}

/// The exit status of an interpreter whose gate closed without the go
/// byte (EX_SOFTWARE): `run` refused the files, or died.
pub const GATE_CLOSED: u8 = 70;

/// The one byte that opens a gate.
pub const GATE_OPEN: u8 = b'1';

impl EntryPoint {
    /// Makes the interpreter wait, before it loads anything of the
    /// server, until it reads [`GATE_OPEN`] from `fd` (kept open in the
    /// server); anything else (EOF, an error) exits it with
    /// [`GATE_CLOSED`]. False when this entry point has no gate
    /// ([`Gate::None`]): then nothing changed.
    pub fn hold_at(&mut self, fd: i32) -> bool {
        match self.gate {
            Gate::None => false,
            Gate::NodeImport => {
                // Right after the flags, before the main script.
                let at = match self.args.starts_with(&NODE_FLAGS.map(OsString::from)) {
                    true => NODE_FLAGS.len(),
                    false => 0,
                };
                let code = format!(
                    "import{{readSync,closeSync}}from\"node:fs\";const b=Buffer.alloc(1);let n=0;\
                     try{{n=readSync({fd},b,0,1,null)}}catch{{}}try{{closeSync({fd})}}catch{{}}\
                     if(n!==1||b[0]!=={GATE_OPEN})process.exit({GATE_CLOSED});"
                );
                let url = format!("--import=data:text/javascript,{}", data_url_escape(&code));
                self.args.insert(at, url.into());
                true
            }
            Gate::PythonCode => {
                let Some(i) = self.args.iter().position(|a| a == "-c") else {
                    return false;
                };
                let Some(code) = self.args.get(i + 1).and_then(|c| c.to_str()) else {
                    return false;
                };
                // os.read retries EINTR (PEP 475).
                let gate = format!(
                    "import os\n\
                     try:\n b=os.read({fd},1)\nexcept OSError:\n b=b''\n\
                     try:\n os.close({fd})\nexcept OSError:\n pass\n\
                     if b!=bytes([{GATE_OPEN}]):\n os._exit({GATE_CLOSED})\n"
                );
                self.args[i + 1] = format!("{gate}{code}").into();
                true
            }
        }
    }

    /// The same entry point with the files' path `from` (where it was
    /// found) read as `to`, wherever it appears as a path or a path's
    /// start: the same files reached through another descriptor give an
    /// equal entry point.
    pub fn rebased(mut self, from: &Path, to: &Path) -> EntryPoint {
        let (from, to) = (from.as_os_str(), to.as_os_str());
        let os = |s: &OsStr| swap_path(s, from, to);
        let text = |s: &str| {
            swap_path(OsStr::new(s), from, to)
                .to_string_lossy()
                .into_owned()
        };
        self.program = self.program.map(|p| PathBuf::from(os(p.as_os_str())));
        self.argv0 = self.argv0.map(|a| os(&a));
        self.args = self.args.iter().map(|a| os(a)).collect();
        for (_, v) in &mut self.env {
            if let EnvValue::Plain(s) = v {
                *s = text(s);
            }
        }
        self.describe = text(&self.describe);
        self
    }

    /// Runs `binary` in place of the interpreter (the launcher script it
    /// was found as started that binary: see
    /// [`crate::launch::interp::behind_launcher`]).
    pub fn run_directly(&mut self, binary: PathBuf) {
        let Some(i) = self.interpreter.as_mut() else {
            return;
        };
        let old = i.path.display().to_string();
        if let Some(rest) = self.describe.strip_prefix(&old) {
            self.describe = format!("{}{rest}", binary.display());
        }
        if self.program.as_ref() == Some(&i.path) {
            self.program = Some(binary.clone());
        }
        i.via = Some(std::mem::replace(&mut i.path, binary));
    }
}

/// An entry point kept beside the receipt of the full check that found it
/// in the verified files ([`Kept::of`]), for the next starts of the same
/// files ([`Kept::reuse`]): reading the tree for it again costs most of a
/// millisecond on every start. The files' path is kept as a NUL byte,
/// which no argument can hold, and put back as the path of the start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kept {
    program: Option<String>,
    argv0: Option<String>,
    args: Vec<String>,
    env: Vec<(String, EnvValue)>,
    /// The interpreter's path, where it was found (`policy` or `PATH`) and
    /// its runtime.
    interpreter: Option<(String, String, Runtime)>,
    describe: String,
    gate: Gate,
}

/// The files' path in a [`Kept`] entry point.
const KEPT_ROOT: &str = "\0";

impl Kept {
    /// `ep`, found under `root` and not yet changed for a launch (no
    /// launcher looked behind, no gate); `None` when a path in it is not
    /// text or it already holds a NUL byte.
    pub fn of(ep: &EntryPoint, root: &Path) -> Option<Kept> {
        let i = ep.interpreter.as_ref();
        let nul = |s: &OsStr| s.as_encoded_bytes().contains(&0);
        if i.is_some_and(|i| i.via.is_some())
            || ep.program.as_ref().is_some_and(|p| nul(p.as_os_str()))
            || ep.argv0.as_deref().is_some_and(nul)
            || ep.args.iter().any(|a| nul(a))
            || ep.describe.contains('\0')
            || ep
                .env
                .iter()
                .any(|(_, v)| matches!(v, EnvValue::Plain(s) if s.contains('\0')))
        {
            return None;
        }
        let text = |s: &OsStr| s.to_str().map(str::to_string).ok_or(());
        let ep = ep.clone().rebased(root, Path::new(KEPT_ROOT));
        Some(Kept {
            program: (ep.program.as_deref().map(|p| text(p.as_os_str())))
                .transpose()
                .ok()?,
            argv0: ep.argv0.as_deref().map(text).transpose().ok()?,
            args: ep
                .args
                .iter()
                .map(|a| text(a))
                .collect::<Result<_, _>>()
                .ok()?,
            env: ep.env.clone(),
            interpreter: (i
                .map(|i| text(i.path.as_os_str()).map(|p| (p, i.from.to_string(), i.runtime))))
            .transpose()
            .ok()?,
            describe: ep.describe.clone(),
            gate: ep.gate,
        })
    }

    /// The kept entry point under `root`, when its interpreter is still
    /// the one [`resolve`] would find (the policy's, or the same file
    /// first on `path_var`); `None` otherwise, and then it is found again.
    pub fn reuse(
        &self,
        root: &Path,
        rules: &RunRules,
        path_var: Option<&OsStr>,
    ) -> Option<EntryPoint> {
        let interpreter = match &self.interpreter {
            None => None,
            Some((path, from, runtime)) => {
                let path = PathBuf::from(path);
                let from = match (from.as_str(), &rules.interpreter) {
                    ("policy", Some(i)) if i.value == path => "policy",
                    ("PATH", None) => {
                        let name = path.file_name()?.to_str()?;
                        (find_on_path(name, path_var).as_ref() == Some(&path)).then_some("PATH")?
                    }
                    _ => return None,
                };
                Some(Interpreter {
                    path,
                    from,
                    runtime: *runtime,
                    via: None,
                })
            }
        };
        let ep = EntryPoint {
            program: self.program.as_ref().map(PathBuf::from),
            argv0: self.argv0.as_ref().map(OsString::from),
            args: self.args.iter().map(OsString::from).collect(),
            env: self.env.clone(),
            interpreter,
            describe: self.describe.clone(),
            gate: self.gate,
        };
        Some(ep.rebased(Path::new(KEPT_ROOT), root))
    }
}

/// `s` with each `from` that ends where a path component ends (at a `/`
/// or the end) read as `to`.
fn swap_path(s: &OsStr, from: &OsStr, to: &OsStr) -> OsString {
    use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
    let (s, from, to) = (s.as_bytes(), from.as_bytes(), to.as_bytes());
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let end = i + from.len();
        if !from.is_empty() && s[i..].starts_with(from) && (end == s.len() || s[end] == b'/') {
            out.extend_from_slice(to);
            i = end;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    OsString::from_vec(out)
}

/// The unpacked, verified files, or the pinned file alone.
pub enum Artifact<'a> {
    /// A single file, by its cache path and the name it was pinned with.
    File {
        path: &'a Path,
        name: &'a str,
    },
    Tree(&'a Path),
}

/// Finds the entry point. `path_var` is `run`'s PATH, searched for
/// interpreters the policy does not name.
pub fn resolve(
    artifact: Artifact,
    rules: &RunRules,
    path_var: Option<&OsStr>,
) -> Result<EntryPoint, EntryError> {
    let interp = |name: &str| -> Result<Interpreter, EntryError> {
        let runtime = Runtime::of_command(name);
        if let Some(i) = &rules.interpreter {
            return Ok(Interpreter {
                path: i.value.clone(),
                from: "policy",
                runtime,
                via: None,
            });
        }
        find_on_path(name, path_var)
            .map(|path| Interpreter {
                path,
                from: "PATH",
                runtime,
                via: None,
            })
            .ok_or_else(|| EntryError::NoInterpreter { name: name.into() })
    };
    match artifact {
        Artifact::File { path, name } => single_file(path, name, &interp),
        Artifact::Tree(root) => {
            if root.join("manifest.json").is_file() {
                return mcpb(root, &interp);
            }
            if let Some(pkg) = package_root(root) {
                return node_package(root, &pkg, &interp);
            }
            if let Some(ep) = wheel(root, &interp)? {
                return Ok(ep);
            }
            Err(EntryError::Unknown {
                what: "the pinned files".into(),
                detail: "no package.json, manifest.json or *.dist-info/entry_points.txt".into(),
            })
        }
    }
}

fn single_file(
    path: &Path,
    name: &str,
    interp: &dyn Fn(&str) -> Result<Interpreter, EntryError>,
) -> Result<EntryPoint, EntryError> {
    let head = read_head(path)?;
    if native_magic(&head) {
        return Ok(EntryPoint {
            program: None,
            argv0: Some(OsString::from(name)),
            args: Vec::new(),
            env: Vec::new(),
            interpreter: None,
            describe: format!("native executable {name}"),
            gate: Gate::None,
        });
    }
    let lower = name.to_ascii_lowercase();
    let runtime = if [".js", ".mjs", ".cjs"].iter().any(|e| lower.ends_with(e)) {
        "node"
    } else if lower.ends_with(".py") {
        "python3"
    } else {
        return Err(EntryError::Unknown {
            what: name.into(),
            detail: "it is neither a native executable nor a .js, .mjs, .cjs or .py script".into(),
        });
    };
    let i = interp(runtime)?;
    let mut args = Vec::new();
    if runtime == "node" {
        args.extend(NODE_FLAGS.map(OsString::from));
    }
    if runtime == "python3" {
        // Isolated: no PYTHON* variables, no user site, no script dir
        // ahead of the standard library; no .pyc written.
        args.extend(["-I", "-B"].map(OsString::from));
    }
    args.push(path.as_os_str().to_owned());
    Ok(EntryPoint {
        program: Some(i.path.clone()),
        argv0: None,
        args,
        env: Vec::new(),
        describe: format!("{} {name}", i.path.display()),
        interpreter: Some(i),
        gate: match runtime {
            "node" => Gate::NodeImport,
            _ => Gate::None,
        },
    })
}

/// Whether a file starting with `head` is a native executable (ELF or
/// Mach-O, thin or fat).
pub(crate) fn native_magic(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
        || [
            [0xfe, 0xed, 0xfa, 0xce],
            [0xfe, 0xed, 0xfa, 0xcf],
            [0xce, 0xfa, 0xed, 0xfe],
            [0xcf, 0xfa, 0xed, 0xfe],
            [0xca, 0xfe, 0xba, 0xbe],
        ]
        .iter()
        .any(|m| head.starts_with(m))
}

fn read_head(path: &Path) -> Result<Vec<u8>, EntryError> {
    use std::io::Read as _;
    let (f, _) = fsutil::open_file(path)?;
    let mut head = Vec::with_capacity(4);
    f.take(4)
        .read_to_end(&mut head)
        .map_err(|e| EntryError::Invalid {
            file: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    Ok(head)
}

fn read_json(path: &Path) -> Result<serde_json::Map<String, Value>, EntryError> {
    let bytes = fsutil::read_bounded(path, MAX_META)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(EntryError::Invalid {
            file: path.to_path_buf(),
            detail: "not a JSON object".into(),
        }),
        Err(e) => Err(EntryError::Invalid {
            file: path.to_path_buf(),
            detail: e.to_string(),
        }),
    }
}

/// `rel` inside `root`, refusing absolute paths, `..` and symlinks that
/// lead out.
/// `root`/`rel`, with every symlink on the way resolved inside `root`
/// (never by `realpath`, which would re-walk `root` by its name: `root`
/// may be `/proc/self/fd/N`, see [`crate::launch::anchor`]). The result
/// starts with `root` itself, so it reaches the same files.
fn inside(root: &Path, rel: &str) -> Result<PathBuf, EntryError> {
    const MAX_LINKS: usize = 40;
    let p = Path::new(rel);
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(EntryError::Escapes(rel.into()));
    }
    let missing = || EntryError::Invalid {
        file: root.join(p),
        detail: "the entry point does not exist".into(),
    };
    // Components still to walk (in reverse) and the resolved ones.
    let mut todo: Vec<std::ffi::OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            _ => None,
        })
        .rev()
        .collect();
    let mut done: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            if done.pop().is_none() {
                return Err(EntryError::Escapes(rel.into()));
            }
            continue;
        }
        let here: PathBuf = done.iter().collect::<PathBuf>().join(&c);
        let m = std::fs::symlink_metadata(root.join(&here)).map_err(|_| missing())?;
        if !m.file_type().is_symlink() {
            done.push(c);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(missing());
        }
        let target = std::fs::read_link(root.join(&here)).map_err(|_| missing())?;
        for t in target.components().rev() {
            match t {
                Component::Normal(n) => todo.push(n.to_owned()),
                Component::CurDir => {}
                Component::ParentDir => todo.push("..".into()),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(EntryError::Escapes(rel.into()));
                }
            }
        }
    }
    let real = root.join(done.iter().collect::<PathBuf>());
    if !std::fs::symlink_metadata(&real).is_ok_and(|m| m.is_file()) {
        return Err(EntryError::Invalid {
            file: root.join(p),
            detail: "the entry point is not a file".into(),
        });
    }
    Ok(real)
}

// ------------------------------------------------------------------ npm

/// The directory holding package.json: the tree itself, or `package/` as
/// in an npm tarball.
fn package_root(root: &Path) -> Option<PathBuf> {
    [root.to_path_buf(), root.join("package")]
        .into_iter()
        .find(|d| d.join("package.json").is_file())
}

fn node_package(
    root: &Path,
    pkg: &Path,
    interp: &dyn Fn(&str) -> Result<Interpreter, EntryError>,
) -> Result<EntryPoint, EntryError> {
    let file = pkg.join("package.json");
    let json = read_json(&file)?;
    let invalid = |detail: String| EntryError::Invalid {
        file: file.clone(),
        detail,
    };
    let name = json.get("name").and_then(Value::as_str).unwrap_or("server");
    let script = match json.get("bin") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(bins)) => {
            let unscoped = name.rsplit('/').next().unwrap_or(name);
            let pick = if bins.len() == 1 {
                bins.values().next()
            } else {
                bins.get(unscoped).or_else(|| bins.get(name))
            };
            match pick {
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(invalid("`bin` values must be strings".into())),
                None => {
                    return Err(EntryError::Unknown {
                        what: name.into(),
                        detail: format!(
                            "package.json has several `bin` entries ({}) and none is named after the package",
                            bins.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
            }
        }
        Some(_) => return Err(invalid("`bin` must be a string or an object".into())),
        None => match json.get("main") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(invalid("`main` must be a string".into())),
            None if pkg.join("index.js").is_file() => "index.js".into(),
            None => {
                return Err(EntryError::Unknown {
                    what: name.into(),
                    detail: "package.json has no `bin` or `main`".into(),
                });
            }
        },
    };
    let script_path = inside(pkg, &script)?;
    let missing: Vec<String> = match json.get("dependencies") {
        Some(Value::Object(deps)) => deps
            .keys()
            .filter(|d| !dependency_present(root, pkg, d))
            .cloned()
            .collect(),
        Some(_) => return Err(invalid("`dependencies` must be an object".into())),
        None => Vec::new(),
    };
    if !missing.is_empty() {
        return Err(EntryError::MissingDependencies { names: missing });
    }
    let i = interp("node")?;
    let rel = script_path
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| script_path.clone());
    let mut args = NODE_FLAGS.map(OsString::from).to_vec();
    args.push(script_path.into_os_string());
    Ok(EntryPoint {
        program: Some(i.path.clone()),
        argv0: None,
        args,
        env: Vec::new(),
        describe: format!("{} {}", i.path.display(), rel.display()),
        interpreter: Some(i),
        gate: Gate::NodeImport,
    })
}

/// Node's lookup: `node_modules/NAME` in the package directory or any
/// directory above it, up to the tree's root.
fn dependency_present(root: &Path, pkg: &Path, dep: &str) -> bool {
    if dep
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return false;
    }
    let mut dir = Some(pkg);
    while let Some(d) = dir {
        if d.join("node_modules")
            .join(dep)
            .join("package.json")
            .is_file()
        {
            return true;
        }
        if d == root {
            break;
        }
        dir = d.parent();
    }
    false
}

// --------------------------------------------------------------- python

/// A wheel's console script, run by an isolated interpreter that imports
/// it from the verified tree. Module and function reach Python as
/// arguments, never as code.
fn wheel(
    root: &Path,
    interp: &dyn Fn(&str) -> Result<Interpreter, EntryError>,
) -> Result<Option<EntryPoint>, EntryError> {
    let mut infos: Vec<PathBuf> = match std::fs::read_dir(root) {
        // By name first, then the entry's own type (no stat of each).
        Ok(rd) => rd
            .flatten()
            .filter(|e| Path::new(&e.file_name()).extension() == Some(OsStr::new("dist-info")))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect(),
        Err(_) => return Ok(None),
    };
    infos.sort();
    // Each distribution's name and unconditional requirements. A tree made
    // by `pip install --target` holds the server and all it needs; the
    // server is the distribution that none of the others requires.
    let mut dists: Vec<(PathBuf, String, Vec<String>)> = Vec::new();
    for info in &infos {
        let metadata = info.join("METADATA");
        // The headers only: the long description after them is most of
        // the file (140 KB for pydantic), read on every start.
        let reqs = match fsutil::read_text_head(&metadata, MAX_META, b"\n\n") {
            Ok(text) => requirements(&text),
            Err(fsutil::ReadError::Missing { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        dists.push((info.clone(), normalize_pypi_name(&info_name(info)), reqs));
    }
    let installed: Vec<&str> = dists.iter().map(|d| d.1.as_str()).collect();
    let required: Vec<String> = (dists.iter())
        .flat_map(|d| d.2.iter().map(|r| normalize_pypi_name(r)))
        .collect();
    // A tree laid out from a resolved set of wheels marks the server's
    // distribution as pip does (`REQUESTED`, PEP 376): only the scripts
    // of requested distributions count (`pip install --target -r` marks
    // every one it was given).
    let requested: Vec<&PathBuf> = (dists.iter())
        .map(|d| &d.0)
        .filter(|i| i.join("REQUESTED").is_file())
        .collect();
    let mut scripts = Vec::new();
    for (info, dist, _) in &dists {
        let ep = info.join("entry_points.txt");
        let candidate =
            !required.contains(dist) && (requested.is_empty() || requested.contains(&info));
        if !candidate || !ep.is_file() {
            continue;
        }
        let text = fsutil::read_text_bounded(&ep, MAX_META)?;
        for (name, target) in console_scripts(&text) {
            scripts.push((info.clone(), name, target));
        }
    }
    let Some(first) = scripts.first().cloned() else {
        return Ok(None);
    };
    let (info, name, target) = if scripts.len() == 1 {
        first
    } else {
        // The script named after the distribution, else refuse to guess.
        let dist = info_name(&first.0);
        match scripts
            .iter()
            .find(|(i, n, _)| normalize_pypi_name(n) == normalize_pypi_name(&info_name(i)))
        {
            Some(s) => s.clone(),
            None => {
                return Err(EntryError::Unknown {
                    what: dist,
                    detail: format!(
                        "several console scripts ({}) and none is named after the distribution",
                        scripts
                            .iter()
                            .map(|s| s.1.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
    };
    let (module, func) = target.split_once(':').ok_or_else(|| EntryError::Invalid {
        file: info.join("entry_points.txt"),
        detail: format!("`{name} = {target}` is not module:function"),
    })?;
    let (module, func) = (module.trim(), func.split('[').next().unwrap_or("").trim());
    if !dotted(module) || !dotted(func) {
        return Err(EntryError::Invalid {
            file: info.join("entry_points.txt"),
            detail: format!("`{name} = {target}` is not module:function"),
        });
    }
    // Every unconditional requirement of every distribution is present.
    let mut missing: Vec<String> = Vec::new();
    for r in dists.iter().flat_map(|d| &d.2) {
        if !installed.contains(&normalize_pypi_name(r).as_str()) && !missing.contains(r) {
            missing.push(r.clone());
        }
    }
    if !missing.is_empty() {
        return Err(EntryError::MissingDependencies { names: missing });
    }
    let i = interp("python3")?;
    // -S: no `site`, so neither the interpreter's site-packages (packages
    // nobody verified, which an optional import would otherwise find) nor
    // their .pth files (code run at every start): the tree is complete.
    // argv: -c CODE ROOT MODULE FUNC SCRIPT-NAME [server args...]
    // The import is pip's console script's `from MODULE import FUNC`: a
    // FUNC that is a submodule is imported too, and no importlib frames
    // sit under the server's (CPython 3.11 maps and unmaps a frame-stack
    // chunk at each crossing of a chunk boundary: with two frames more,
    // mcp-server-time's start made 800 such pairs of calls more). The
    // tree comes after the standard library, where site-packages is.
    const CODE: &str = "import sys\n\
        root,mod,fn,name=sys.argv[1:5]\n\
        sys.path.append(root)\n\
        sys.argv=[name]+sys.argv[5:]\n\
        f=__import__(mod,fromlist=[fn.split('.')[0]])\n\
        for a in fn.split('.'): f=getattr(f,a)\n\
        sys.exit(f())\n";
    Ok(Some(EntryPoint {
        program: Some(i.path.clone()),
        argv0: None,
        args: vec![
            "-I".into(),
            "-S".into(),
            "-B".into(),
            "-c".into(),
            CODE.into(),
            root.as_os_str().to_owned(),
            module.into(),
            func.into(),
            name.as_str().into(),
        ],
        env: Vec::new(),
        describe: format!("{} -m {module}:{func} ({name})", i.path.display()),
        interpreter: Some(i),
        gate: Gate::PythonCode,
    }))
}

fn info_name(info: &Path) -> String {
    info.file_stem()
        .and_then(OsStr::to_str)
        .and_then(|s| s.split('-').next())
        .unwrap_or_default()
        .to_string()
}

fn dotted(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| {
            let mut c = p.chars();
            matches!(c.next(), Some(f) if f.is_alphabetic() || f == '_')
                && c.all(|c| c.is_alphanumeric() || c == '_')
        })
}

fn console_scripts(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut on = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            on = line == "[console_scripts]";
            continue;
        }
        if on && let Some((k, v)) = line.split_once('=') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// `Requires-Dist` names that apply without extras (a marker naming an
/// extra is optional; any other marker counts, to fail closed).
fn requirements(metadata: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in metadata.lines() {
        if line.is_empty() {
            break; // the body (long description) starts here
        }
        let Some(req) = line.strip_prefix("Requires-Dist:") else {
            continue;
        };
        // Requirements under an environment marker (an extra, another
        // platform or Python version) are not checked: a wrong guess
        // would refuse a working server, and a missing module fails at
        // import anyway.
        if req.contains(';') {
            continue;
        }
        let name: String = req
            .trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

// ----------------------------------------------------------------- mcpb

/// What `${user_config.KEY}` may become where it appears.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UserConfig {
    /// A whole `env` value: read from the keychain at launch.
    Collect,
    /// Inside an argument: the manifest's default, if not sensitive.
    Default,
    /// The command itself: never.
    Refuse,
}

fn mcpb(
    root: &Path,
    interp: &dyn Fn(&str) -> Result<Interpreter, EntryError>,
) -> Result<EntryPoint, EntryError> {
    let file = root.join("manifest.json");
    let bytes = fsutil::read_bounded(&file, MAX_META)?;
    let m = crate::mcpb::parse_manifest(&bytes).map_err(|e| EntryError::Invalid {
        file: file.clone(),
        detail: e.to_string(),
    })?;
    let Some(cfg) = &m.mcp_config else {
        return Err(EntryError::Unknown {
            what: m.name.clone(),
            detail: "manifest.json has no server.mcp_config".into(),
        });
    };
    let dirname = root.to_str().ok_or_else(|| EntryError::Invalid {
        file: file.clone(),
        detail: "the cache path is not UTF-8".into(),
    })?;
    let home = std::env::var("HOME").unwrap_or_default();
    // ${__dirname}, ${HOME}, ${/} and ${pathSeparator}; ${user_config.KEY}
    // is collected in `env` (the keychain supplies it) and, in arguments,
    // replaced by the manifest's default for a field that is not
    // sensitive: a secret on a command line is visible in the process list.
    let default_of = |key: &str| -> Result<String, EntryError> {
        let field = m.user_config.get(key);
        if field.is_some_and(|f| f.sensitive) {
            return Err(EntryError::Unsupported(format!(
                "{}: the sensitive `${{user_config.{key}}}` is in mcp_config's args, where the process list would show it; only `env` may carry it",
                file.display()
            )));
        }
        match field.and_then(|f| f.default.as_ref()) {
            Some(Value::String(d)) => Ok(d.clone()),
            Some(d @ (Value::Number(_) | Value::Bool(_))) => Ok(d.to_string()),
            _ => Err(EntryError::Unsupported(format!(
                "{}: `${{user_config.{key}}}` in mcp_config's args has no default, and mcp-warden keeps no user_config values outside the keychain (which feeds `env` only)",
                file.display()
            ))),
        }
    };
    let substitute = |s: &str, user: UserConfig| -> Result<(String, Vec<String>), EntryError> {
        let mut out = String::new();
        let mut users = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| EntryError::Invalid {
                file: file.clone(),
                detail: format!("unclosed `${{` in `{s}`"),
            })?;
            let var = &after[..end];
            match var {
                "__dirname" => out.push_str(dirname),
                "HOME" => out.push_str(&home),
                "/" | "pathSeparator" => out.push(std::path::MAIN_SEPARATOR),
                v if v.starts_with("user_config.") && user == UserConfig::Collect => {
                    users.push(v["user_config.".len()..].to_string());
                }
                v if v.starts_with("user_config.") && user == UserConfig::Default => {
                    out.push_str(&default_of(&v["user_config.".len()..])?);
                }
                v => {
                    return Err(EntryError::Unsupported(format!(
                        "{}: `${{{v}}}` in mcp_config is not supported here",
                        file.display()
                    )));
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok((out, users))
    };
    let mut args = Vec::new();
    for a in &cfg.args {
        let (s, _) = substitute(a, UserConfig::Default)?;
        args.push(OsString::from(s));
    }
    let mut env: BTreeMap<String, EnvValue> = BTreeMap::new();
    for (k, v) in &cfg.env {
        if !crate::names::valid_env_name(k) {
            return Err(EntryError::Invalid {
                file: file.clone(),
                detail: format!("`{k}` is not a valid environment variable name"),
            });
        }
        let (s, users) = substitute(v, UserConfig::Collect)?;
        match users.as_slice() {
            [] => {
                env.insert(k.clone(), EnvValue::Plain(s));
            }
            [key] if v.trim() == format!("${{user_config.{key}}}") => {
                let field = m.user_config.get(key);
                env.insert(
                    k.clone(),
                    EnvValue::Secret {
                        default: field.and_then(|f| f.default.as_ref()).map(|d| match d {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }),
                        required: field.is_some_and(|f| f.required),
                    },
                );
            }
            _ => {
                return Err(EntryError::Unsupported(format!(
                    "{}: `{k}` mixes ${{user_config.*}} with other text",
                    file.display()
                )));
            }
        }
    }
    let (command, _) = substitute(&cfg.command, UserConfig::Refuse)?;
    let (program, interpreter, describe) = match command.as_str() {
        "node" | "python" | "python3" => {
            if command == "node" {
                args.splice(0..0, NODE_FLAGS.map(OsString::from));
            }
            let i = interp(if command == "node" { "node" } else { "python3" })?;
            (i.path.clone(), Some(i), command.clone())
        }
        "uv" | "uvx" | "npx" | "pip" | "npm" => return Err(EntryError::Installer(command)),
        c => {
            let p = Path::new(c);
            let rel = p.strip_prefix(root).map_err(|_| {
                EntryError::Unsupported(format!(
                    "{}: mcp_config command `{c}` is neither node, python nor a file inside the bundle",
                    file.display()
                ))
            })?;
            let rel = rel.to_str().unwrap_or_default();
            (inside(root, rel)?, None, rel.to_string())
        }
    };
    let shown: Vec<String> = args
        .iter()
        .filter(|a| !NODE_FLAGS.iter().any(|f| a.as_os_str() == *f))
        .map(|a| {
            let a = a.to_string_lossy();
            a.strip_prefix(dirname)
                .map(|r| format!("<bundle>{r}"))
                .unwrap_or_else(|| a.into_owned())
        })
        .collect();
    Ok(EntryPoint {
        program: Some(program),
        argv0: None,
        args,
        env: env.into_iter().collect(),
        gate: match command.as_str() {
            "node" => Gate::NodeImport,
            _ => Gate::None,
        },
        interpreter,
        describe: format!("{describe} {}", shown.join(" "))
            .trim_end()
            .to_string(),
    })
}

/// `code` as the body of a `data:` URL: everything but letters, digits and
/// a few safe marks percent-encoded (`#` would start a fragment, `%` an
/// escape).
fn data_url_escape(code: &str) -> String {
    let mut out = String::with_capacity(code.len() * 2);
    for b in code.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'('
            | b')'
            | b'{'
            | b'}'
            | b';'
            | b'='
            | b','
            | b'!'
            | b'|'
            | b'['
            | b']' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An executable file named `name` in PATH's directories.
pub fn find_on_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::split_paths(path_var?)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_report_their_codes() {
        use crate::diag::{Code, Diagnose};
        let e = EntryError::NoInterpreter {
            name: "node".into(),
        };
        assert_eq!(Diagnose::code(&e), Code::LaunchFailed);
        assert_eq!(
            Diagnose::code(&EntryError::Escapes("../x".into())),
            Code::EntryPoint
        );
        assert!(Diagnose::hint(&e).unwrap().contains("interpreter"));
    }
    use std::fs;

    fn rules_with(interp: Option<&str>) -> RunRules {
        RunRules {
            env: Vec::new(),
            interpreter: interp.map(|p| crate::policy::At {
                value: PathBuf::from(p),
                loc: crate::policy::Loc {
                    file: "p.toml".into(),
                    line: 1,
                    column: 1,
                },
            }),
            ..RunRules::default()
        }
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let p = d.path().join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, c).unwrap();
        }
        d
    }

    fn resolve_tree(d: &tempfile::TempDir) -> Result<EntryPoint, EntryError> {
        resolve(
            Artifact::Tree(d.path()),
            &rules_with(Some("/opt/interp")),
            None,
        )
    }

    #[test]
    fn entry_points_resolve_inside_the_root_without_realpath() {
        use std::os::unix::fs::symlink;
        let d = tree(&[("package/lib/real.js", ""), ("package/package.json", "{}")]);
        let pkg = d.path().join("package");
        symlink("lib/real.js", pkg.join("bin.js")).unwrap();
        symlink("../lib/./real.js", pkg.join("lib/up.js")).unwrap();
        symlink("/etc/passwd", pkg.join("abs.js")).unwrap();
        symlink("../../outside.js", pkg.join("lib/out.js")).unwrap();
        symlink("loop.js", pkg.join("loop.js")).unwrap();
        fs::write(d.path().join("outside.js"), "").unwrap();
        // Through a root reached by a symlink: the result keeps that root,
        // as a /proc/self/fd/N root must be kept.
        let link = d.path().join("via");
        symlink(&pkg, &link).unwrap();
        assert_eq!(inside(&link, "bin.js").unwrap(), link.join("lib/real.js"));
        assert_eq!(
            inside(&link, "lib/up.js").unwrap(),
            link.join("lib/real.js")
        );
        assert!(matches!(
            inside(&link, "abs.js"),
            Err(EntryError::Escapes(_))
        ));
        assert!(matches!(
            inside(&pkg, "lib/out.js"),
            Err(EntryError::Escapes(_))
        ));
        assert!(matches!(inside(&pkg, "../x"), Err(EntryError::Escapes(_))));
        assert!(matches!(
            inside(&pkg, "loop.js"),
            Err(EntryError::Invalid { .. })
        ));
        assert!(matches!(
            inside(&pkg, "lib"),
            Err(EntryError::Invalid { .. })
        ));
        assert!(matches!(
            inside(&pkg, "nope.js"),
            Err(EntryError::Invalid { .. })
        ));
    }

    #[test]
    fn npm_bin_forms_and_main() {
        let d = tree(&[
            (
                "package/package.json",
                r#"{"name":"@a/srv","bin":{"tool":"t.js","srv":"s.js"}}"#,
            ),
            ("package/s.js", ""),
            ("package/t.js", ""),
        ]);
        let ep = resolve_tree(&d).unwrap();
        assert_eq!(ep.program.as_deref(), Some(Path::new("/opt/interp")));
        assert_eq!(ep.args[..2], NODE_FLAGS.map(OsString::from));
        assert_eq!(ep.args[2], d.path().join("package/s.js"));
        assert_eq!(ep.interpreter.unwrap().from, "policy");

        let d = tree(&[
            (
                "package.json",
                r#"{"name":"x","bin":{"a":"a.js","b":"b.js"}}"#,
            ),
            ("a.js", ""),
            ("b.js", ""),
        ]);
        let e = resolve_tree(&d).unwrap_err();
        assert!(e.to_string().contains("a, b"), "{e}");

        let d = tree(&[
            ("package.json", r#"{"name":"x","main":"lib/m.js"}"#),
            ("lib/m.js", ""),
        ]);
        assert_eq!(resolve_tree(&d).unwrap().args[2], d.path().join("lib/m.js"));
    }

    #[test]
    fn npm_entry_points_may_not_leave_the_package() {
        for bin in ["../outside.js", "/etc/passwd", "sub/../../x.js"] {
            let d = tree(&[
                (
                    "package/package.json",
                    &format!(r#"{{"name":"x","bin":"{bin}"}}"#),
                ),
                ("outside.js", ""),
            ]);
            assert!(
                matches!(resolve_tree(&d), Err(EntryError::Escapes(_))),
                "{bin}"
            );
        }
        // A symlink inside that points outside.
        let d = tree(&[
            ("package/package.json", r#"{"name":"x","bin":"l.js"}"#),
            ("o.js", ""),
        ]);
        std::os::unix::fs::symlink(d.path().join("o.js"), d.path().join("package/l.js")).unwrap();
        assert!(matches!(resolve_tree(&d), Err(EntryError::Escapes(_))));
    }

    #[test]
    fn npm_dependencies_must_be_bundled() {
        let pj = r#"{"name":"x","bin":"s.js","dependencies":{"a":"1","@s/b":"1","../c":"1"}}"#;
        let d = tree(&[
            ("package/package.json", pj),
            ("package/s.js", ""),
            ("package/node_modules/a/package.json", "{}"),
        ]);
        match resolve_tree(&d) {
            Err(EntryError::MissingDependencies { names }) => assert_eq!(names, ["@s/b", "../c"]),
            other => panic!("{other:?}"),
        }
        let d = tree(&[
            (
                "package/package.json",
                pj.replace(",\"../c\":\"1\"", "").as_str(),
            ),
            ("package/s.js", ""),
            ("package/node_modules/a/package.json", "{}"),
            ("package/node_modules/@s/b/package.json", "{}"),
        ]);
        resolve_tree(&d).unwrap();
    }

    #[test]
    fn malformed_package_json_is_an_error_not_a_panic() {
        for pj in [
            "",
            "[]",
            "{",
            r#"{"bin": 3}"#,
            r#"{"bin": {"x": 1}}"#,
            r#"{"name":"x","bin":"s.js","dependencies":[]}"#,
        ] {
            let d = tree(&[("package.json", pj), ("s.js", "")]);
            assert!(resolve_tree(&d).is_err(), "{pj}");
        }
        let d = tree(&[("package.json", &" ".repeat((MAX_META + 1) as usize))]);
        assert!(matches!(resolve_tree(&d), Err(EntryError::Read(_))));
    }

    #[test]
    fn wheel_console_script_runs_isolated_with_module_and_function_as_arguments() {
        let d = tree(&[
            ("srv_pkg/__init__.py", ""),
            (
                "srv_pkg-1.0.dist-info/entry_points.txt",
                "[console_scripts]\nsrv-pkg = srv_pkg.main:run\n[other]\nx = y:z\n",
            ),
            (
                "srv_pkg-1.0.dist-info/METADATA",
                "Name: srv-pkg\nRequires-Dist: Dep.Lib>=1\nRequires-Dist: extra-only; extra == \"cli\"\n\nbody\nRequires-Dist: not-a-header\n",
            ),
            (
                "dep_lib-2.0.dist-info/METADATA",
                "Name: dep-lib\nRequires-Dist: web; sys_platform == 'emscripten'\n",
            ),
            // A dependency's own console script (as `pip install --target`
            // leaves them) is not the server's.
            (
                "dep_lib-2.0.dist-info/entry_points.txt",
                "[console_scripts]\ndep-lib = dep_lib:cli\n",
            ),
        ]);
        let ep = resolve_tree(&d).unwrap();
        let args: Vec<String> = ep.args.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(&args[..4], ["-I", "-S", "-B", "-c"]);
        assert_eq!(&args[6..], ["srv_pkg.main", "run", "srv-pkg"]);

        fs::remove_file(d.path().join("dep_lib-2.0.dist-info/entry_points.txt")).unwrap();
        fs::remove_file(d.path().join("dep_lib-2.0.dist-info/METADATA")).unwrap();
        fs::remove_dir_all(d.path().join("dep_lib-2.0.dist-info")).unwrap();
        match resolve_tree(&d) {
            Err(EntryError::MissingDependencies { names }) => assert_eq!(names, ["Dep.Lib"]),
            other => panic!("{other:?}"),
        }
        // A `REQUESTED` distribution (a tree laid out from pip's
        // resolution) is the server, even when another is required by none.
        let d = tree(&[
            ("srv-1.0.dist-info/REQUESTED", ""),
            (
                "srv-1.0.dist-info/entry_points.txt",
                "[console_scripts]\nserve-it = srv.main:run\n",
            ),
            (
                "tool-2.0.dist-info/entry_points.txt",
                "[console_scripts]\ntool = tool:cli\n",
            ),
        ]);
        let tail = |d: &tempfile::TempDir| -> Vec<String> {
            let ep = resolve_tree(d).unwrap();
            ep.args[6..]
                .iter()
                .map(|a| a.to_string_lossy().into())
                .collect()
        };
        assert_eq!(tail(&d), ["srv.main", "run", "serve-it"]);
        // Without it, the guess is the script named after its distribution.
        fs::remove_file(d.path().join("srv-1.0.dist-info/REQUESTED")).unwrap();
        assert_eq!(tail(&d), ["tool", "cli", "tool"]);
        // Code in an entry point never reaches the interpreter.
        let d = tree(&[(
            "x-1.dist-info/entry_points.txt",
            "[console_scripts]\nx = os;os.system('id'):f\n",
        )]);
        assert!(matches!(resolve_tree(&d), Err(EntryError::Invalid { .. })));
    }

    #[test]
    fn mcpb_config_is_substituted_and_user_config_comes_from_the_keychain() {
        let manifest = r#"{
          "manifest_version": "0.2", "name": "b", "version": "1.0.0",
          "author": {"name": "a"},
          "server": {"type": "node", "entry_point": "server/index.js",
            "mcp_config": {"command": "node",
              "args": ["${__dirname}/server/index.js", "--sep=${/}"],
              "env": {"API_KEY": "${user_config.api_key}", "MODE": "fast",
                      "ROOT": "${user_config.root}"}}},
          "user_config": {"api_key": {"type": "string", "title": "k", "sensitive": true, "required": true},
                          "root": {"type": "directory", "title": "r", "default": "/srv"}}
        }"#;
        let d = tree(&[("manifest.json", manifest), ("server/index.js", "")]);
        let ep = resolve_tree(&d).unwrap();
        assert_eq!(ep.program.as_deref(), Some(Path::new("/opt/interp")));
        assert_eq!(ep.args[..2], NODE_FLAGS.map(OsString::from));
        assert_eq!(
            ep.args[2],
            OsString::from(format!("{}/server/index.js", d.path().display()))
        );
        assert_eq!(ep.args[3], "--sep=/");
        assert_eq!(
            ep.env,
            [
                (
                    "API_KEY".into(),
                    EnvValue::Secret {
                        default: None,
                        required: true
                    }
                ),
                ("MODE".into(), EnvValue::Plain("fast".into())),
                (
                    "ROOT".into(),
                    EnvValue::Secret {
                        default: Some("/srv".into()),
                        required: false
                    }
                ),
            ]
        );

        for (cmd, want) in [
            ("uvx", "install"),
            (
                "/bin/sh",
                "neither node, python nor a file inside the bundle",
            ),
        ] {
            let m = manifest.replace("\"command\": \"node\"", &format!("\"command\": \"{cmd}\""));
            let d = tree(&[("manifest.json", &m)]);
            let e = resolve_tree(&d).unwrap_err();
            assert!(e.to_string().contains(want), "{cmd}: {e}");
        }
        // In arguments: a sensitive field never; a plain one by its default.
        let m = manifest.replace("--sep=${/}", "${user_config.api_key}");
        let d = tree(&[("manifest.json", &m)]);
        match resolve_tree(&d) {
            Err(EntryError::Unsupported(e)) => assert!(e.contains("process list"), "{e}"),
            other => panic!("{other:?}"),
        }
        let m = manifest.replace("--sep=${/}", "--root=${user_config.root}");
        let d = tree(&[("manifest.json", &m), ("server/index.js", "")]);
        assert_eq!(resolve_tree(&d).unwrap().args[3], "--root=/srv");
        let m = manifest
            .replace("--sep=${/}", "${user_config.nodefault}")
            .replace(
                "\"user_config\": {",
                "\"user_config\": {\"nodefault\": {\"type\": \"string\", \"title\": \"n\"},",
            );
        let d = tree(&[("manifest.json", &m), ("server/index.js", "")]);
        match resolve_tree(&d) {
            Err(EntryError::Unsupported(e)) => assert!(e.contains("no default"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    /// Runs `ep` with a gate whose other end gets `feed`, then closes:
    /// the interpreter's exit code and what it printed.
    #[cfg(target_os = "linux")]
    fn through_gate(mut ep: EntryPoint, feed: &[u8]) -> (Option<i32>, String) {
        use std::io::Write as _;
        // The gate is the interpreter's stdin here (`run` keeps it at its
        // own number; any number works the same).
        let (rx, mut tx) = std::io::pipe().unwrap();
        assert!(ep.hold_at(0), "{ep:?}");
        let child = std::process::Command::new(ep.program.clone().unwrap())
            .args(&ep.args)
            .env_clear()
            .stdin(rx)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        tx.write_all(feed).unwrap();
        drop(tx);
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    }

    /// A kept entry point comes back as found, under the path of the
    /// start it is reused for; not when its interpreter is no longer the
    /// one that would be found (another first on PATH, or the policy's),
    /// and nothing is kept that a NUL byte could be confused in.
    #[test]
    fn kept_entry_points_come_back_while_their_interpreter_stands() {
        use std::os::unix::fs::PermissionsExt as _;
        let wheel = tree(&[
            ("srv/__init__.py", ""),
            ("srv-1.0.dist-info/METADATA", "Name: srv\n"),
            (
                "srv-1.0.dist-info/entry_points.txt",
                "[console_scripts]\nsrv = srv:main\n",
            ),
        ]);
        let bin = tempfile::tempdir().unwrap();
        let python = bin.path().join("python3");
        fs::write(&python, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&python, fs::Permissions::from_mode(0o755)).unwrap();
        let path_var = OsString::from(bin.path());
        let rules = rules_with(None);
        let found = resolve(Artifact::Tree(wheel.path()), &rules, Some(&path_var)).unwrap();
        let kept = Kept::of(&found, wheel.path()).unwrap();
        let json = serde_json::to_string(&kept).unwrap();
        assert!(!json.contains(&*wheel.path().to_string_lossy()), "{json}");
        let back: Kept = serde_json::from_str(&json).unwrap();
        let other = Path::new("/proc/self/fd/9");
        assert_eq!(
            back.reuse(other, &rules, Some(&path_var)),
            Some(found.clone().rebased(wheel.path(), other))
        );
        // Another python3 first on PATH; the policy naming one.
        let first = tempfile::tempdir().unwrap();
        fs::copy(&python, first.path().join("python3")).unwrap();
        let both = std::env::join_paths([first.path(), bin.path()]).unwrap();
        assert_eq!(back.reuse(other, &rules, Some(&both)), None);
        let policy = rules_with(Some(&python.to_string_lossy()));
        assert_eq!(back.reuse(other, &policy, Some(&path_var)), None);
        // Found under the policy's interpreter: kept as such.
        let by_policy = resolve(Artifact::Tree(wheel.path()), &policy, None).unwrap();
        let k = Kept::of(&by_policy, wheel.path()).unwrap();
        assert!(k.reuse(other, &policy, None).is_some());
        assert_eq!(k.reuse(other, &rules, Some(&path_var)), None);
        // A NUL byte would read as the files' path.
        let mut nul = found.clone();
        nul.args.push("a\0b".into());
        assert_eq!(Kept::of(&nul, wheel.path()), None);
        // Changed for a launch already: not kept.
        let mut held = found;
        held.run_directly(python.clone());
        assert_eq!(Kept::of(&held, wheel.path()), None);
    }

    /// A path is swapped where it is a whole path or a path's start, also
    /// inside an argument, and never inside a longer name.
    #[test]
    fn rebasing_swaps_whole_paths_only() {
        let ep = EntryPoint {
            program: Some("/usr/bin/node".into()),
            argv0: None,
            args: [
                "/proc/self/fd/1",
                "/proc/self/fd/1/a.js",
                "--root=/proc/self/fd/1",
                "/proc/self/fd/12/x",
            ]
            .map(OsString::from)
            .to_vec(),
            env: vec![("DIR".into(), EnvValue::Plain("/proc/self/fd/1/d".into()))],
            interpreter: None,
            describe: "node /proc/self/fd/1/a.js".into(),
            gate: Gate::None,
        };
        let moved = ep.rebased(Path::new("/proc/self/fd/1"), Path::new("/proc/self/fd/7"));
        assert_eq!(
            moved.args,
            [
                "/proc/self/fd/7",
                "/proc/self/fd/7/a.js",
                "--root=/proc/self/fd/7",
                "/proc/self/fd/12/x"
            ]
            .map(OsString::from)
        );
        assert_eq!(moved.env[0].1, EnvValue::Plain("/proc/self/fd/7/d".into()));
        assert_eq!(moved.describe, "node /proc/self/fd/7/a.js");
        assert_eq!(moved.program, Some("/usr/bin/node".into()));
    }

    /// A wheel's entry point runs as pip's console script runs it
    /// (`from MODULE import FUNC`, then the attributes): FUNC may be a
    /// submodule its package does not import, and a dotted attribute; and
    /// the standard library comes before the tree on `sys.path`, as it
    /// comes before site-packages (a module of the tree named like one of
    /// the standard library does not replace it).
    #[cfg(target_os = "linux")]
    #[test]
    fn wheel_entry_points_import_as_console_scripts_do() {
        let path = std::env::var_os("PATH");
        for (target, args, expect) in [
            ("srv_pkg:cli.main", &["a b"][..], "CLI ['srv-pkg', 'a b']\n"),
            ("srv_pkg.tools:Server.start", &[], "START\n"),
            ("srv_pkg.std:main", &[], "STD True\n"),
        ] {
            let wheel = tree(&[
                ("srv_pkg/__init__.py", ""),
                (
                    "srv_pkg/cli.py",
                    "import sys\ndef main():\n    print('CLI', sys.argv, flush=True)\n",
                ),
                (
                    "srv_pkg/tools.py",
                    "class Server:\n    @staticmethod\n    def start():\n        print('START', flush=True)\n",
                ),
                (
                    "srv_pkg/std.py",
                    "import calendar\ndef main():\n    print('STD', calendar.isleap(2024), flush=True)\n",
                ),
                (
                    "calendar.py",
                    "raise SystemExit('the tree replaced calendar')\n",
                ),
                (
                    "srv_pkg-1.0.dist-info/entry_points.txt",
                    &format!("[console_scripts]\nsrv-pkg = {target}\n"),
                ),
                ("srv_pkg-1.0.dist-info/METADATA", "Name: srv-pkg\n"),
            ]);
            let mut ep = resolve(
                Artifact::Tree(wheel.path()),
                &rules_with(None),
                path.as_deref(),
            )
            .unwrap();
            ep.args.extend(args.iter().map(OsString::from));
            assert_eq!(
                through_gate(ep, &[GATE_OPEN]),
                (Some(0), expect.to_string()),
                "{target}"
            );
        }
    }

    /// The gate holds real node and python3 before the first line of the
    /// server: only the open byte lets it run; EOF or any other byte ends
    /// the interpreter with GATE_CLOSED, the server's code never loaded.
    #[cfg(target_os = "linux")]
    #[test]
    fn held_interpreters_load_nothing_of_the_server_until_the_gate_opens() {
        let path = std::env::var_os("PATH");
        let rules = rules_with(None);
        let d = tempfile::tempdir().unwrap();
        let js = d.path().join("server.js");
        fs::write(&js, "console.log('LOADED');\n").unwrap();
        let node = resolve(
            Artifact::File {
                path: &js,
                name: "server.js",
            },
            &rules,
            path.as_deref(),
        )
        .unwrap();
        assert_eq!(node.gate, Gate::NodeImport);
        let wheel = tree(&[
            ("srv_pkg/__init__.py", ""),
            (
                "srv_pkg/main.py",
                "import sys\ndef run():\n    print('LOADED', sys.flags.no_site, \
                 any('-packages' in p for p in sys.path), flush=True)\n",
            ),
            (
                "srv_pkg-1.0.dist-info/entry_points.txt",
                "[console_scripts]\nsrv-pkg = srv_pkg.main:run\n",
            ),
            ("srv_pkg-1.0.dist-info/METADATA", "Name: srv-pkg\n"),
        ]);
        let python = resolve(Artifact::Tree(wheel.path()), &rules, path.as_deref()).unwrap();
        assert_eq!(python.gate, Gate::PythonCode);
        for (ep, loaded) in [(&node, "LOADED\n"), (&python, "LOADED 1 False\n")] {
            // Opened: the server runs (the Python one without `site`: no
            // site-packages directory of the interpreter on its path).
            assert_eq!(
                through_gate(ep.clone(), &[GATE_OPEN]),
                (Some(0), loaded.to_string()),
                "{ep:?}"
            );
            for closed in [&b""[..], b"0", b"\n1"] {
                let (code, out) = through_gate(ep.clone(), closed);
                assert_eq!(code, Some(i32::from(GATE_CLOSED)), "{closed:?}: {out}");
                assert!(!out.contains("LOADED"), "{closed:?}: {out}");
            }
        }
        // A native program has no gate: nothing changes.
        let elf = d.path().join("blob");
        fs::write(&elf, b"\x7fELF\x02\x01").unwrap();
        let mut native = resolve(
            Artifact::File {
                path: &elf,
                name: "srv",
            },
            &rules,
            None,
        )
        .unwrap();
        let before = native.clone();
        assert!(!native.hold_at(9));
        assert_eq!(native, before);
    }

    #[test]
    fn single_files_by_content_then_extension() {
        let d = tempfile::tempdir().unwrap();
        let elf = d.path().join("blob1");
        fs::write(&elf, b"\x7fELF\x02\x01").unwrap();
        let ep = resolve(
            Artifact::File {
                path: &elf,
                name: "srv",
            },
            &rules_with(None),
            None,
        )
        .unwrap();
        assert_eq!(ep.program, None);
        assert_eq!(ep.argv0.as_deref(), Some(OsStr::new("srv")));

        let js = d.path().join("blob2");
        fs::write(&js, b"console.log(1)").unwrap();
        let ep = resolve(
            Artifact::File {
                path: &js,
                name: "srv.mjs",
            },
            &rules_with(Some("/opt/node")),
            None,
        )
        .unwrap();
        assert_eq!(ep.program.as_deref(), Some(Path::new("/opt/node")));
        assert_eq!(
            ep.args,
            [
                NODE_FLAGS[0].as_ref(),
                NODE_FLAGS[1].as_ref(),
                js.as_os_str()
            ]
        );

        let e = resolve(
            Artifact::File {
                path: &js,
                name: "srv.sh",
            },
            &rules_with(None),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, EntryError::Unknown { .. }));
        let e = resolve(
            Artifact::File {
                path: &js,
                name: "srv.js",
            },
            &rules_with(None),
            Some(OsStr::new("/nonexistent-dir")),
        )
        .unwrap_err();
        assert!(matches!(e, EntryError::NoInterpreter { .. }));
    }
}
