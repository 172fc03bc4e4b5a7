//! SBOMs made during the run by real generators, judged by the real binary.
//!
//! scripts/test installs the generators, pinned, under `target/test-tools/`:
//! cyclonedx-npm (npm) and cyclonedx-py (PyPI, in a venv); `npm sbom` comes
//! with npm 10 and newer. Once per test binary run they write:
//!
//! - from a copy of `fixtures/sbom/generated/project/` (a package.json and
//!   its package-lock.json, read with `--package-lock-only`: no network, no
//!   node_modules): cyclonedx-npm CycloneDX 1.6 and 1.7, JSON and XML, and
//!   `npm sbom` CycloneDX and SPDX;
//! - from the generators' own venv (`target/test-tools/py/bin/python`),
//!   with a pyproject.toml naming the root component: cyclonedx-py
//!   CycloneDX 1.6 and 1.7 JSON, 1.5 and 1.7 XML, and one document without
//!   a root component.
//!
//! What each document holds is read here, independently of the binary
//! (serde_json, roxmltree), and the binary's counts, verdicts and findings
//! are checked against it. The documents stay in
//! `target/tmp/generated-sboms-PID/` until a later run removes them, so a
//! failure can be looked into. A missing generator fails every test here
//! with a message saying to run scripts/test; nothing is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::support::util::*;

/// The server name every policy here describes (`--server srv`).
const SRV: &str = "srv";
/// The npm project's package.json name and version.
const NPM_SOURCE: &str = "npm:warden-sbom-fixture@1.0.0";
const NPM_TOP_PURL: &str = "pkg:npm/warden-sbom-fixture@1.0.0";
/// The root component the pyproject.toml written here names.
const PY_SOURCE: &str = "pypi:warden-py-fixture==1.0.0";
const PY_PYPROJECT: &str =
    "[project]\nname = \"warden-py-fixture\"\nversion = \"1.0.0\"\nlicense = \"Apache-2.0\"\n";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Eco {
    Npm,
    Pypi,
}

impl Eco {
    fn source(self) -> &'static str {
        match self {
            Eco::Npm => NPM_SOURCE,
            Eco::Pypi => PY_SOURCE,
        }
    }

    /// The fixture project's own purl: the top component's.
    fn top_purl(self) -> String {
        match self {
            Eco::Npm => "pkg:npm/warden-sbom-fixture@1.0.0".into(),
            Eco::Pypi => "pkg:pypi/warden-py-fixture@1.0.0".into(),
        }
    }

    /// The purl type, as the summary's `ecosystems` counts it.
    fn purl_type(self) -> &'static str {
        match self {
            Eco::Npm => "npm",
            Eco::Pypi => "pypi",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    CdxJson,
    CdxXml,
    SpdxJson,
}

/// One component as the generated file itself lists it.
#[derive(Debug, Clone)]
struct Comp {
    name: String,
    version: Option<String>,
    purl: Option<String>,
    /// Licence ids, expressions and names, as written.
    licenses: Vec<String>,
}

/// One generated document, and what the test read from it.
struct Doc {
    /// `cyclonedx-npm-1.6.json`, ...
    name: String,
    path: PathBuf,
    eco: Eco,
    kind: Kind,
    /// CycloneDX or SPDX version.
    spec: String,
    /// Every component the binary is to count: not the top one (CycloneDX
    /// `metadata.component`, the package SPDX says the document describes),
    /// nested ones included.
    comps: Vec<Comp>,
}

impl Doc {
    /// The format as the report names it.
    fn format(&self) -> String {
        match self.kind {
            Kind::CdxJson => format!("CycloneDX {} JSON", self.spec),
            Kind::CdxXml => format!("CycloneDX {} XML", self.spec),
            Kind::SpdxJson => format!("SPDX {} JSON", self.spec),
        }
    }

    fn arg(&self) -> OsString {
        self.path.clone().into_os_string()
    }

    /// The component of this name, which must be there.
    #[track_caller]
    fn comp(&self, name: &str) -> &Comp {
        self.comps
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{} lists no `{name}`: {:?}", self.name, self.comps))
    }
}

struct Generated {
    docs: Vec<Doc>,
    /// cyclonedx-py over the venv without `--pyproject`: no root component.
    rootless: PathBuf,
    /// `(name, version)` of every package of the npm lock file but the root.
    lock: BTreeSet<(String, String)>,
}

impl Generated {
    fn of(&self, eco: Eco) -> impl Iterator<Item = &Doc> {
        self.docs.iter().filter(move |d| d.eco == eco)
    }
}

static GENERATED: OnceLock<Result<Generated, String>> = OnceLock::new();

/// The generated documents, made on first use; a missing or failing
/// generator fails every caller with the same message.
fn generated() -> &'static Generated {
    match GENERATED.get_or_init(generate) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    }
}

/// One generator run: `program args` in `cwd`, writing `out`.
struct Job {
    out: PathBuf,
    program: PathBuf,
    args: Vec<OsString>,
    cwd: PathBuf,
    /// The generator writes to stdout rather than to a file.
    stdout: bool,
    /// The document it makes, and the spec version asked for (`""`: the
    /// generator's choice); `None` for one the tests read themselves.
    doc: Option<(Eco, Kind, &'static str)>,
}

fn run_job(job: &Job) -> Result<(), String> {
    let shown = format!(
        "`{} {}` (in {})",
        job.program.display(),
        job.args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        job.cwd.display()
    );
    let out = Command::new(&job.program)
        .args(&job.args)
        .current_dir(&job.cwd)
        // NODE_ENV=production would make the npm tools omit dev packages;
        // no generator here may reach the network.
        .env_remove("NODE_ENV")
        .env("npm_config_offline", "true")
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}; run scripts/test"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if job.stdout {
        fs::write(&job.out, &out.stdout)
            .map_err(|e| format!("write {}: {e}", job.out.display()))?;
    }
    match fs::metadata(&job.out) {
        Ok(m) if m.len() > 0 => Ok(()),
        _ => Err(format!("{shown} wrote nothing to {}", job.out.display())),
    }
}

/// `npm`, which must be 10 or newer for `npm sbom`.
fn npm() -> Result<PathBuf, String> {
    let missing = |why: String| {
        format!(
            "`npm sbom` needs npm 10 or newer on PATH ({why}): install Node.js 20 or newer and run \
             scripts/test"
        )
    };
    let out = Command::new("npm")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| missing(format!("npm: {e}")))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 10 {
        return Err(missing(format!("found `{version}`")));
    }
    Ok(PathBuf::from("npm"))
}

/// A directory for this process's documents under target/tmp; those of
/// earlier runs whose process is gone are removed.
fn output_dir() -> Result<PathBuf, String> {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(base).map_err(|e| format!("create {}: {e}", base.display()))?;
    if let Ok(entries) = fs::read_dir(base) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("generated-sboms-")
                && pid.parse::<u32>().is_ok()
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = base.join(format!("generated-sboms-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    for sub in ["npmproj", "pyproj", "out"] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    Ok(dir)
}

fn generate() -> Result<Generated, String> {
    let cdx_npm = test_tool("npm/node_modules/.bin/cyclonedx-npm")?;
    let cdx_py = test_tool("py/bin/cyclonedx-py")?;
    let venv_python = test_tool("py/bin/python")?;
    let npm = npm()?;

    let dir = output_dir()?;
    let (npmproj, pyproj, out) = (dir.join("npmproj"), dir.join("pyproj"), dir.join("out"));
    for f in ["package.json", "package-lock.json"] {
        fs::copy(
            fixture(&format!("sbom/generated/project/{f}")),
            npmproj.join(f),
        )
        .map_err(|e| format!("copy the npm project: {e}"))?;
    }
    let pyproject = pyproj.join("pyproject.toml");
    fs::write(&pyproject, PY_PYPROJECT).map_err(|e| format!("write pyproject.toml: {e}"))?;

    let mut jobs: Vec<Job> = Vec::new();
    let os = |s: &str| OsString::from(s);
    for (spec, format, ext, kind) in [
        ("1.6", "JSON", "json", Kind::CdxJson),
        ("1.6", "XML", "xml", Kind::CdxXml),
        ("1.7", "JSON", "json", Kind::CdxJson),
        ("1.7", "XML", "xml", Kind::CdxXml),
    ] {
        let file = out.join(format!("cyclonedx-npm-{spec}.{ext}"));
        jobs.push(Job {
            args: vec![
                os("--package-lock-only"),
                os("--spec-version"),
                os(spec),
                os("--output-format"),
                os(format),
                os("--output-file"),
                file.clone().into(),
                os("package.json"),
            ],
            out: file,
            program: cdx_npm.clone(),
            cwd: npmproj.clone(),
            stdout: false,
            doc: Some((Eco::Npm, kind, spec)),
        });
    }
    for (format, file, kind, spec) in [
        ("cyclonedx", "npm-sbom.cdx.json", Kind::CdxJson, ""),
        ("spdx", "npm-sbom.spdx.json", Kind::SpdxJson, ""),
    ] {
        jobs.push(Job {
            args: vec![
                os("sbom"),
                os("--package-lock-only"),
                os("--sbom-format"),
                os(format),
            ],
            out: out.join(file),
            program: npm.clone(),
            cwd: npmproj.clone(),
            stdout: true,
            doc: Some((Eco::Npm, kind, spec)),
        });
    }
    for (spec, format, ext, kind) in [
        ("1.6", "JSON", "json", Kind::CdxJson),
        ("1.7", "JSON", "json", Kind::CdxJson),
        ("1.5", "XML", "xml", Kind::CdxXml),
        ("1.7", "XML", "xml", Kind::CdxXml),
    ] {
        let file = out.join(format!("cyclonedx-py-{spec}.{ext}"));
        jobs.push(Job {
            args: vec![
                os("environment"),
                // cyclonedx-py's own JSON schema check takes seconds;
                // the binary checks JSON against the official schema.
                os(if kind == Kind::CdxJson {
                    "--no-validate"
                } else {
                    "--validate"
                }),
                os("--pyproject"),
                pyproject.clone().into(),
                os("--sv"),
                os(spec),
                os("--of"),
                os(format),
                os("-o"),
                file.clone().into(),
                venv_python.clone().into(),
            ],
            out: file,
            program: cdx_py.clone(),
            cwd: pyproj.clone(),
            stdout: false,
            doc: Some((Eco::Pypi, kind, spec)),
        });
    }
    let rootless = out.join("cyclonedx-py-rootless-1.6.json");
    jobs.push(Job {
        args: vec![
            os("environment"),
            os("--no-validate"),
            os("--of"),
            os("JSON"),
            os("-o"),
            rootless.clone().into(),
            venv_python.clone().into(),
        ],
        out: rootless.clone(),
        program: cdx_py,
        cwd: pyproj.clone(),
        stdout: false,
        doc: None,
    });

    // The generators are slow to start (node, Python): all at once.
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| s.spawn(move || run_job(job)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a generator thread panicked".into()))
            })
            .collect()
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if !errors.is_empty() {
        return Err(errors.join("\n\n"));
    }

    let mut docs = Vec::new();
    for job in &jobs {
        let Some((eco, kind, asked)) = job.doc else {
            continue;
        };
        let name = job.out.file_name().unwrap().to_string_lossy().into_owned();
        let text =
            fs::read_to_string(&job.out).map_err(|e| format!("read {}: {e}", job.out.display()))?;
        let (spec, comps) =
            read_doc(kind, &text).map_err(|e| format!("{}: {e}", job.out.display()))?;
        if !asked.is_empty() && spec != asked {
            return Err(format!(
                "{}: asked for version {asked}, the document says `{spec}`",
                job.out.display()
            ));
        }
        docs.push(Doc {
            name,
            path: job.out.clone(),
            eco,
            kind,
            spec,
            comps,
        });
    }

    let lock: Value = serde_json::from_slice(
        &fs::read(npmproj.join("package-lock.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("package-lock.json: {e}"))?;
    let lock = lock["packages"]
        .as_object()
        .ok_or("package-lock.json has no `packages`")?
        .iter()
        .filter(|(path, _)| !path.is_empty())
        .map(|(path, p)| {
            let name = path.rsplit("node_modules/").next().unwrap_or(path);
            (
                name.to_string(),
                p["version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Ok(Generated {
        docs,
        rootless,
        lock,
    })
}

/// The spec version a document declares, and its components.
fn read_doc(kind: Kind, text: &str) -> Result<(String, Vec<Comp>), String> {
    match kind {
        Kind::CdxJson => {
            let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let mut comps = Vec::new();
            if let Some(list) = v["metadata"]["component"]["components"].as_array() {
                cdx_json_components(list, &mut comps);
            }
            if let Some(list) = v["components"].as_array() {
                cdx_json_components(list, &mut comps);
            }
            Ok((
                v["specVersion"].as_str().unwrap_or_default().to_string(),
                comps,
            ))
        }
        Kind::CdxXml => {
            let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
            let root = doc.root_element();
            let ns = root.tag_name().namespace().unwrap_or_default();
            let spec = ns
                .strip_prefix("http://cyclonedx.org/schema/bom/")
                .ok_or_else(|| format!("not a CycloneDX namespace: `{ns}`"))?;
            let mut lists = Vec::new();
            if let Some(top) = child(root, "metadata").and_then(|m| child(m, "component"))
                && let Some(list) = child(top, "components")
            {
                lists.push(list);
            }
            lists.extend(child(root, "components"));
            let mut comps = Vec::new();
            for list in lists {
                // Every <component> of a <components> list at any depth
                // (a <tools> list is in <metadata>, outside these).
                for c in list.descendants().filter(|c| {
                    c.is_element()
                        && c.tag_name().name() == "component"
                        && c.parent_element()
                            .is_some_and(|p| p.tag_name().name() == "components")
                }) {
                    let mut licenses = Vec::new();
                    if let Some(ls) = child(c, "licenses") {
                        for l in ls.children().filter(roxmltree::Node::is_element) {
                            match l.tag_name().name() {
                                "expression" => licenses.extend(l.text().map(str::to_string)),
                                "license" => {
                                    licenses.extend(text_of(l, "id").or_else(|| text_of(l, "name")))
                                }
                                _ => {}
                            }
                        }
                    }
                    comps.push(Comp {
                        name: text_of(c, "name").unwrap_or_default(),
                        version: text_of(c, "version"),
                        purl: text_of(c, "purl"),
                        licenses,
                    });
                }
            }
            Ok((spec.to_string(), comps))
        }
        Kind::SpdxJson => {
            let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let mut described: BTreeSet<&str> = v["documentDescribes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for r in v["relationships"].as_array().into_iter().flatten() {
                if r["spdxElementId"] == "SPDXRef-DOCUMENT" && r["relationshipType"] == "DESCRIBES"
                {
                    described.extend(r["relatedSpdxElement"].as_str());
                }
            }
            let comps = v["packages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| {
                    !p["SPDXID"]
                        .as_str()
                        .is_some_and(|id| described.contains(id))
                })
                .map(|p| Comp {
                    name: p["name"].as_str().unwrap_or_default().to_string(),
                    version: p["versionInfo"].as_str().map(str::to_string),
                    purl: p["externalRefs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|r| r["referenceType"] == "purl")
                        .and_then(|r| r["referenceLocator"].as_str())
                        .map(str::to_string),
                    licenses: ["licenseConcluded", "licenseDeclared"]
                        .iter()
                        .filter_map(|k| p[*k].as_str())
                        .filter(|l| !l.eq_ignore_ascii_case("NOASSERTION"))
                        .take(1)
                        .map(str::to_string)
                        .collect(),
                })
                .collect();
            let spec = v["spdxVersion"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("SPDX-")
                .to_string();
            Ok((spec, comps))
        }
    }
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text_of(n: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    child(n, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

fn cdx_json_components(list: &[Value], out: &mut Vec<Comp>) {
    for c in list {
        let mut licenses = Vec::new();
        for l in c["licenses"].as_array().into_iter().flatten() {
            if let Some(e) = l["expression"].as_str() {
                licenses.push(e.to_string());
            } else if let Some(id) = l["license"]["id"].as_str() {
                licenses.push(id.to_string());
            } else if let Some(n) = l["license"]["name"].as_str() {
                licenses.push(n.to_string());
            }
        }
        out.push(Comp {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            version: c["version"].as_str().map(str::to_string),
            purl: c["purl"].as_str().map(str::to_string),
            licenses,
        });
        if let Some(children) = c["components"].as_array() {
            cdx_json_components(children, out);
        }
    }
}

// ---------------------------------------------------------------------------
// Running the binary

/// Writes `server.bin` and `policy.toml`: server `srv` with the
/// ecosystem's `source`, requiring an SBOM, loose files accepted, `rules`
/// in [servers.sbom] and `tail` after it.
fn setup(env: &TestEnv, eco: Eco, rules: &str, tail: &str) {
    env.write("server.bin", noise(4096, 0x9e4e));
    env.write(
        "policy.toml",
        format!(
            "version = 1\n\n[[servers]]\nname = \"{SRV}\"\nsource = \"{}\"\nrequire = [\"sbom\"]\n\n[servers.sbom]\nsigned = false\n{rules}\n{tail}",
            eco.source()
        ),
    );
    super::sbom::pin_as_fetched(env, eco.source());
}

/// `--policy policy.toml --format json verify server.bin --server srv
/// --sbom FILE... EXTRA...`.
fn verify_json(env: &TestEnv, sboms: &[&Doc], extra: &[OsString]) -> Output {
    let mut args: Vec<OsString> = ["--policy", "policy.toml", "--format", "json", "verify"]
        .iter()
        .map(OsString::from)
        .collect();
    args.extend([o("server.bin"), o("--server"), o(SRV)]);
    for d in sboms {
        args.extend([o("--sbom"), d.arg()]);
    }
    args.extend(extra.iter().cloned());
    env.run(super::sbom::pinned(env, &args))
}

/// The same in the human format, with `--summary`.
fn verify_human(env: &TestEnv, doc: &Doc, extra: &[OsString]) -> Output {
    let mut args = vec![
        o("--policy"),
        o("policy.toml"),
        o("verify"),
        o("server.bin"),
        o("--server"),
        o(SRV),
        o("--sbom"),
        doc.arg(),
        o("--summary"),
    ];
    args.extend(extra.iter().cloned());
    env.run(super::sbom::pinned(env, &args))
}

/// Exit 0, verdict allowed, no error; returns the report.
#[track_caller]
fn allowed(out: &Output) -> Value {
    out.code(0);
    let v = out.json();
    out.check(v["verdict"] == "allowed", "verdict allowed")
        .check(
            error_codes(&v).is_empty(),
            &format!("no errors, got {:?}", error_codes(&v)),
        );
    v
}

/// Exit 1, verdict denied, and the errors are exactly `codes`.
#[track_caller]
fn denied_by(out: &Output, code: &str) -> Value {
    out.code(1);
    let v = out.json();
    let errors: BTreeSet<String> = error_codes(&v).into_iter().collect();
    out.check(v["verdict"] == "denied", "verdict denied").check(
        errors == BTreeSet::from([code.to_string()]),
        &format!("the one kind of error `{code}`, got {errors:?}"),
    );
    out.check(
        out.diag_codes().iter().any(|c| c == code),
        "diag_codes lists it",
    );
    v
}

fn messages(v: &Value, code: &str) -> Vec<String> {
    v["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["code"] == code)
        .map(|d| d["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The purls (with versions) a list of findings names, each message
/// starting `FILE: \`PURL\``.
fn named_purls(v: &Value, code: &str) -> BTreeSet<String> {
    messages(v, code)
        .iter()
        .filter_map(|m| {
            let start = m.find("`pkg:")? + 1;
            let len = m[start..].find('`')?;
            Some(m[start..start + len].to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Tests

/// Every generated document is read, bound through the server's source,
/// fresh, and counted as the file itself counts.
#[test]
fn every_generated_sbom_is_read_and_counted() {
    let g = generated();
    assert_eq!(g.docs.len(), 10, "generated: {:?}", names(g));
    let env = TestEnv::new();
    for eco in [Eco::Npm, Eco::Pypi] {
        setup(&env, eco, "max-age = \"1d\"", "");
        for doc in g.of(eco) {
            let n = doc.comps.len();
            assert!(n > 0, "{}: no components", doc.name);
            let out = verify_json(&env, &[doc], &[o("--summary")]);
            let v = allowed(&out);
            let sboms = checks_of(&v, "sbom");
            out.check(sboms.len() == 1, "one sbom check");
            let s = &sboms[0]["summary"];
            let what = |w: &str| format!("{}: {w}", doc.name);
            out.check(sboms[0]["status"] == "read", &what("read"))
                .check(s["format"] == doc.format().as_str(), &what("the format"))
                .check(
                    s["components"] == n,
                    &what(&format!("{n} components, as the file lists them")),
                )
                .check(s["warnings"] == 0, &what("no warnings"));

            // Ecosystems and purls, from the file's own purls.
            let with_purl = doc.comps.iter().filter(|c| c.purl.is_some()).count();
            let of_type = doc
                .comps
                .iter()
                .filter_map(|c| c.purl.as_deref())
                .filter(|p| p.starts_with(&format!("pkg:{}/", eco.purl_type())))
                .count();
            out.check(
                s["without_purl"] == n - with_purl,
                &what("components without a purl"),
            )
            .check(
                s["ecosystems"][eco.purl_type()] == of_type && of_type == with_purl,
                &what("every purl of the one ecosystem"),
            );

            // Licences: each component once, under some expression or
            // under none.
            let counted: u64 = s["licenses"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0);
            out.check(
                counted + s["without_license"].as_u64().unwrap_or(u64::MAX) == n as u64,
                &what("the licence counts add up"),
            );
            // npm packages carry one SPDX id each: the counts are the file's.
            if eco == Eco::Npm {
                let mut want: BTreeMap<String, u64> = BTreeMap::new();
                for c in &doc.comps {
                    assert_eq!(c.licenses.len(), 1, "{}: {c:?}", doc.name);
                    *want.entry(c.licenses[0].clone()).or_default() += 1;
                }
                let got: BTreeMap<String, u64> = s["licenses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
                    .collect();
                out.check(
                    got == want,
                    &what(&format!("licences {want:?}, got {got:?}")),
                );
            }

            let rule = v["decision"]["rule"].as_str().unwrap_or_default();
            let bound = match eco {
                Eco::Npm => format!("bound by its top component's purl {NPM_TOP_PURL}"),
                Eco::Pypi => "bound by its top component warden-py-fixture 1.0.0".to_string(),
            };
            out.check(
                rule.contains(&format!("({n} components, {bound})")),
                &what(&format!("the rule says `{n} components, {bound}`")),
            );

            // The human report, with --summary.
            let out = verify_human(&env, doc, &[]);
            out.code(0)
                .stdout_has(&format!(
                    "READ  sbom       {} [{}, {n} components]\n      licences: ",
                    doc.path.display(),
                    doc.format()
                ))
                .stdout_has(&format!(
                    "      ecosystems: {} {of_type}\n",
                    eco.purl_type()
                ))
                .stdout_has("ALLOWED  user policy: SBOM ");
        }
    }
}

/// The npm generators list exactly the lock file's packages; all six
/// documents in one run are six SBOM checks.
#[test]
fn npm_documents_list_the_lock_files_packages() {
    let g = generated();
    assert_eq!(g.lock.len(), 11, "the lock file: {:?}", g.lock);
    for doc in g.of(Eco::Npm) {
        let listed: BTreeSet<(String, String)> = doc
            .comps
            .iter()
            .map(|c| (c.name.clone(), c.version.clone().unwrap_or_default()))
            .collect();
        assert_eq!(listed, g.lock, "{} against the lock file", doc.name);
        assert_eq!(doc.comps.len(), g.lock.len(), "{}: no duplicates", doc.name);
    }

    let env = TestEnv::new();
    setup(&env, Eco::Npm, "", "");
    let docs: Vec<&Doc> = g.of(Eco::Npm).collect();
    assert_eq!(docs.len(), 6);
    let out = verify_json(&env, &docs, &[]);
    let v = allowed(&out);
    let sboms = checks_of(&v, "sbom");
    out.check(sboms.len() == docs.len(), "one check per document");
    for (check, doc) in sboms.iter().zip(&docs) {
        out.check(
            check["status"] == "read"
                && check["summary"]["components"] == g.lock.len()
                && check["summary"]["format"] == doc.format().as_str(),
            &format!("{} read, {} components", doc.name, g.lock.len()),
        );
    }
}

/// A deny rule naming a package of the lock file denies, by purl and
/// version range or by name, in every npm document; a range that misses
/// the locked version does not.
#[test]
fn a_denied_locked_package_denies() {
    let g = generated();
    let env = TestEnv::new();
    for doc in g.of(Eco::Npm) {
        assert_eq!(doc.comp("debug").version.as_deref(), Some("4.3.4"));
        setup(
            &env,
            Eco::Npm,
            "deny-components = [{ purl = \"pkg:npm/debug\", versions = \">=4.3.0, <4.3.5\", reason = \"test: debug 4.3.0 to 4.3.4 are out\" }]",
            "",
        );
        let out = verify_json(&env, &[doc], &[]);
        let v = denied_by(&out, "component-denied");
        let m = messages(&v, "component-denied");
        out.check(
            m.len() == 1
                && m[0].starts_with(&format!(
                    "{}: `pkg:npm/debug@4.3.4` is denied by the rule at policy.toml:",
                    doc.path.display()
                ))
                && m[0].contains("test: debug 4.3.0 to 4.3.4 are out")
                && m[0].contains("4.3.4 matches >=4.3.0, <4.3.5"),
            &format!("{}: debug 4.3.4 denied, naming the rule", doc.name),
        );
        // The human report says the same.
        let out = verify_human(&env, doc, &[]);
        out.code(1).diag("component-denied").stdout_has("DENIED");

        setup(
            &env,
            Eco::Npm,
            "deny-components = [{ purl = \"pkg:npm/debug\", versions = \"<4.3.4\", reason = \"old\" }]",
            "",
        );
        allowed(&verify_json(&env, &[doc], &[]));

        // By name: ms, which debug pulls in.
        let ms = doc.comp("ms");
        setup(
            &env,
            Eco::Npm,
            "deny-components = [{ name = \"ms\", reason = \"test: no ms\" }]",
            "",
        );
        let v = denied_by(&verify_json(&env, &[doc], &[]), "component-denied");
        assert_eq!(
            named_purls(&v, "component-denied"),
            BTreeSet::from([ms.purl.clone().unwrap()]),
            "{}",
            doc.name
        );
    }

    // pip, as the venv holds it.
    for doc in g.of(Eco::Pypi) {
        let pip = doc.comp("pip");
        let version = pip.version.clone().unwrap();
        setup(
            &env,
            Eco::Pypi,
            &format!(
                "deny-components = [{{ purl = \"pkg:pypi/pip\", versions = \"={version}\", reason = \"test: this pip\" }}]"
            ),
            "",
        );
        let v = denied_by(&verify_json(&env, &[doc], &[]), "component-denied");
        assert_eq!(
            named_purls(&v, "component-denied"),
            BTreeSet::from([format!("pkg:pypi/pip@{version}")]),
            "{}",
            doc.name
        );
    }
}

/// Denying MIT flags exactly the components the file licenses under MIT
/// alone (not those under an `OR` with another licence).
#[test]
fn a_denied_licence_flags_what_the_file_licenses_so() {
    let g = generated();
    let env = TestEnv::new();
    for doc in &g.docs {
        setup(
            &env,
            doc.eco,
            "deny-licenses = [\"MIT\"]\nnoassertion = \"allow\"",
            "",
        );
        let want: BTreeSet<String> = doc
            .comps
            .iter()
            .filter(|c| c.licenses.iter().any(|l| l == "MIT"))
            .map(|c| c.purl.clone().unwrap())
            .collect();
        assert!(want.len() > 2 && want.len() <= 20, "{}: {want:?}", doc.name);
        let out = verify_json(&env, &[doc], &[]);
        let v = denied_by(&out, "license-denied");
        // The project itself is judged as well (MIT where the generator
        // gives its licence; `parts` leaves it out).
        let top = doc.eco.top_purl();
        let parts = |v: &Value| -> BTreeSet<String> {
            named_purls(v, "license-denied")
                .into_iter()
                .filter(|p| *p != top)
                .collect()
        };
        out.check(
            parts(&v) == want,
            &format!("{}: the MIT components {want:?}", doc.name),
        );
        if doc.eco == Eco::Npm {
            // An allow list of the lock's other licences (spdx-exceptions
            // CC-BY-3.0, spdx-license-ids CC0-1.0) flags the same ones.
            setup(
                &env,
                doc.eco,
                "allow-licenses = [\"CC-BY-3.0\", \"CC0-1.0\"]\nnoassertion = \"deny\"",
                "",
            );
            let v = denied_by(&verify_json(&env, &[doc], &[]), "license-denied");
            assert_eq!(parts(&v), want, "{}", doc.name);
        }
    }
}

/// OSV records written here, for packages at the versions the generated
/// documents list, are found; below the threshold they do not deny.
#[test]
fn advisories_for_generated_components() {
    let g = generated();
    let env = TestEnv::new();
    let pip_version = g
        .of(Eco::Pypi)
        .next()
        .unwrap()
        .comp("pip")
        .version
        .clone()
        .unwrap();
    for doc in g.of(Eco::Pypi) {
        assert_eq!(
            doc.comp("pip").version.as_deref(),
            Some(pip_version.as_str())
        );
    }
    let record = |id: &str, ecosystem: &str, name: &str, affected: Value| {
        let mut entry = json!({ "package": { "ecosystem": ecosystem, "name": name } });
        entry
            .as_object_mut()
            .unwrap()
            .extend(affected.as_object().unwrap().clone());
        json!({
            "schema_version": "1.6.0",
            "id": id,
            "modified": "2024-01-01T00:00:00Z",
            "published": "2024-01-01T00:00:00Z",
            "summary": "made by the test",
            "affected": [entry],
            "database_specific": { "severity": "HIGH" },
        })
    };
    env.write(
        "osv/npm/WARDEN-TEST-DEBUG.json",
        serde_json::to_vec_pretty(&record(
            "WARDEN-TEST-DEBUG",
            "npm",
            "debug",
            json!({ "ranges": [{ "type": "SEMVER", "events": [{ "introduced": "4.0.0" }, { "fixed": "4.3.5" }] }] }),
        ))
        .unwrap(),
    );
    env.write(
        "osv/PyPI/WARDEN-TEST-PIP.json",
        serde_json::to_vec_pretty(&record(
            "WARDEN-TEST-PIP",
            "PyPI",
            "pip",
            json!({ "versions": [pip_version] }),
        ))
        .unwrap(),
    );
    let db = [o("--advisories"), o("osv")];
    for doc in &g.docs {
        let (purl, id) = match doc.eco {
            Eco::Npm => ("pkg:npm/debug@4.3.4".to_string(), "WARDEN-TEST-DEBUG"),
            Eco::Pypi => (format!("pkg:pypi/pip@{pip_version}"), "WARDEN-TEST-PIP"),
        };
        setup(&env, doc.eco, "", "");
        let out = verify_json(&env, &[doc], &db);
        let v = denied_by(&out, "vulnerable-component");
        let m = messages(&v, "vulnerable-component");
        out.check(
            m.len() == 1
                && m[0].starts_with(&format!(
                    "{}: {purl} is affected by {id} (high)",
                    doc.path.display()
                )),
            &format!("{}: {purl} by {id}", doc.name),
        );
        setup(&env, doc.eco, "", "[advisories]\nseverity = \"critical\"\n");
        let v = allowed(&verify_json(&env, &[doc], &db));
        assert!(messages(&v, "vulnerable-component").is_empty());
        // Ignored with a reason: allowed, and the ignore was used.
        setup(
            &env,
            doc.eco,
            "",
            &format!("[advisories]\nignore = [{{ id = \"{id}\", reason = \"test\" }}]\n"),
        );
        let out = verify_json(&env, &[doc], &db);
        allowed(&out);
        out.no_diag("advisory-ignore-unused");
    }
}

/// `cyclonedx-py environment` without `--pyproject` writes no root
/// component: nothing binds the document to the artifact.
#[test]
fn a_python_environment_without_a_root_component_is_not_bound() {
    let g = generated();
    let v: Value = serde_json::from_slice(&fs::read(&g.rootless).unwrap()).unwrap();
    assert!(v["metadata"]["component"].is_null(), "no root component");
    let env = TestEnv::new();
    setup(&env, Eco::Pypi, "", "");
    let out = env.run(super::sbom::pinned(
        &env,
        &[
            o("--policy"),
            o("policy.toml"),
            o("--format"),
            o("json"),
            o("verify"),
            o("server.bin"),
            o("--server"),
            o(SRV),
            o("--sbom"),
            g.rootless.clone().into(),
        ],
    ));
    let v = denied_by(&out, "sbom-not-bound");
    let m = messages(&v, "sbom-not-bound");
    out.check(
        m.len() == 1 && m[0].contains("the SBOM names no top component"),
        "says there is no top component",
    )
    .check(
        checks_of(&v, "sbom")[0]["summary"]["components"]
            == g.of(Eco::Pypi).next().unwrap().comps.len(),
        "still read in full",
    );
}

fn names(g: &Generated) -> Vec<&str> {
    g.docs.iter().map(|d| d.name.as_str()).collect()
}
