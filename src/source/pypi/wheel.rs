//! Which file of a project page to pin: versions from the file names
//! (wheel names per the wheel spec, sdists `NAME-VERSION.tar.gz`), PEP 440
//! ordering, and the wheel tags this machine's python3 can install.

use std::str::FromStr;
use std::sync::OnceLock;

use pep440_rs::{Version, VersionSpecifiers};

use super::simple::FileLink;
use crate::source::spec;

/// What a file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    /// Normalised (PEP 503).
    pub project: String,
    pub version: Version,
    /// `None` for an sdist; else the wheel's (python, abi, platform) tag
    /// sets, compressed tags split on `.`.
    pub tags: Option<[Vec<String>; 3]>,
}

/// Parses a wheel (`name-ver[-build]-py-abi-plat.whl`) or sdist
/// (`name-ver.tar.gz`, `.zip`) file name; anything else is `None`.
pub fn parse_filename(f: &str) -> Option<Dist> {
    if let Some(stem) = f.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let n = parts.len();
        let split = |s: &str| {
            s.split('.')
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        };
        return Some(Dist {
            project: spec::normalize_pypi_name(parts[0]),
            version: Version::from_str(parts[1]).ok()?,
            tags: Some([
                split(parts[n - 3]),
                split(parts[n - 2]),
                split(parts[n - 1]),
            ]),
        });
    }
    let stem = f
        .strip_suffix(".tar.gz")
        .or_else(|| f.strip_suffix(".zip"))?;
    let (name, ver) = stem.rsplit_once('-')?;
    if name.is_empty() {
        return None;
    }
    Some(Dist {
        project: spec::normalize_pypi_name(name),
        version: Version::from_str(ver).ok()?,
        tags: None,
    })
}

/// What wheels this machine can install: its python3's version, its C
/// library and architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// (3, minor) of the local python3, if one answered.
    pub python: Option<(u64, u64)>,
    /// glibc (major, minor) for manylinux tags.
    pub glibc: Option<(u64, u64)>,
    /// musl (major, minor) for musllinux tags.
    pub musl: Option<(u64, u64)>,
    /// The architecture as wheel tags spell it (`x86_64`, `aarch64`, `i686`).
    pub arch: String,
}

impl Platform {
    /// This machine, asked once per process.
    pub fn this_machine() -> &'static Platform {
        static P: OnceLock<Platform> = OnceLock::new();
        P.get_or_init(|| {
            let asked = ask_python();
            Platform {
                python: asked.map(|a| a.0),
                glibc: asked.and_then(|a| a.1),
                musl: cfg!(all(target_os = "linux", target_env = "musl")).then_some((1, 2)),
                arch: match std::env::consts::ARCH {
                    "x86" => "i686".into(),
                    "arm" => "armv7l".into(),
                    "powerpc64" if cfg!(target_endian = "little") => "ppc64le".into(),
                    a => a.into(),
                },
            }
        })
    }

    /// How this machine describes itself in an error.
    pub fn describe(&self) -> String {
        let py = self
            .python
            .map_or("no python3 found".into(), |(a, b)| format!("cp{a}{b}"));
        let libc = match (self.glibc, self.musl) {
            (Some((a, b)), _) => format!("manylinux_{a}_{b}_{}", self.arch),
            (None, Some((a, b))) => format!("musllinux_{a}_{b}_{}", self.arch),
            _ => format!("{} {}", std::env::consts::OS, self.arch),
        };
        format!("{py}, {libc}")
    }

    /// The rank of a wheel's best supported tag (higher is preferred, as
    /// pip prefers the most specific), `None` when none is supported.
    pub fn rank(&self, tags: &[Vec<String>; 3]) -> Option<u32> {
        let mut best = None;
        for py in &tags[0] {
            for abi in &tags[1] {
                let Some(r1) = self.rank_interpreter(py, abi) else {
                    continue;
                };
                for plat in &tags[2] {
                    if let Some(r2) = self.rank_platform(plat) {
                        best = best.max(Some(r1 * 1000 + r2));
                    }
                }
            }
        }
        best
    }

    fn rank_interpreter(&self, py: &str, abi: &str) -> Option<u32> {
        let minor_of = |tag: &str, prefix: &str| -> Option<u64> {
            let rest = tag.strip_prefix(prefix)?;
            if rest == "3" {
                return Some(0);
            }
            rest.strip_prefix('3')?.parse().ok()
        };
        let Some((3, minor)) = self.python else {
            // Without a python3 to ask, only generic pure-Python wheels.
            return (abi == "none" && py == "py3").then_some(1);
        };
        match abi {
            "none" => {
                let m = minor_of(py, "py").or_else(|| minor_of(py, "cp"))?;
                (m <= minor).then_some(if py.starts_with("cp") {
                    3
                } else {
                    1 + u32::from(m > 0)
                })
            }
            "abi3" => {
                let m = minor_of(py, "cp")?;
                (m <= minor).then_some(4)
            }
            _ => {
                let want = format!("cp3{minor}");
                (py == want && abi == want).then_some(5)
            }
        }
    }

    fn rank_platform(&self, plat: &str) -> Option<u32> {
        if plat == "any" {
            return Some(0);
        }
        let tail = format!("_{}", self.arch);
        let base = plat.strip_suffix(&tail)?;
        let glibc_needed = match base {
            "manylinux1" => Some((2, 5)),
            "manylinux2010" => Some((2, 12)),
            "manylinux2014" => Some((2, 17)),
            b => b.strip_prefix("manylinux_").and_then(major_minor),
        };
        if let (Some(need), Some(have)) = (glibc_needed, self.glibc) {
            return (need <= have).then_some(1 + need.1 as u32);
        }
        let musl_needed = base.strip_prefix("musllinux_").and_then(major_minor);
        if let (Some(need), Some(have)) = (musl_needed, self.musl) {
            return (need <= have).then_some(1 + need.1 as u32);
        }
        None
    }
}

fn major_minor(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once('_')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

type MajorMinor = (u64, u64);

/// The local python3's (major, minor) and its C library as
/// `platform.libc_ver()` says (`glibc 2.36`): `python3 -I -c`, given 5
/// seconds.
fn ask_python() -> Option<(MajorMinor, Option<MajorMinor>)> {
    let mut cmd = std::process::Command::new("python3");
    cmd.args([
        "-I",
        "-c",
        "import sys, platform; print('%d.%d' % sys.version_info[:2], *platform.libc_ver())",
    ]);
    let f = crate::child::run_bounded(cmd, "python3", std::time::Duration::from_secs(5), 200)
        .ok()
        .filter(|f| f.status.success())?;
    let out = String::from_utf8(f.stdout).ok()?;
    let mut words = out.split_whitespace();
    let (a, b) = words.next()?.split_once('.')?;
    let python = (a.parse().ok()?, b.parse().ok()?);
    let glibc = match (words.next(), words.next()) {
        (Some("glibc"), Some(v)) => {
            let mut it = v.split('.');
            it.next()
                .and_then(|a| a.parse().ok())
                .zip(it.next().and_then(|b| b.parse().ok()))
        }
        _ => None,
    };
    Some((python, glibc))
}

/// The chosen file and what to say about the choice.
#[derive(Debug)]
pub struct Choice {
    pub index: usize,
    pub version: Version,
    pub notes: Vec<String>,
}

/// Why no file was chosen.
#[derive(Debug, PartialEq, Eq)]
pub enum NoChoice {
    /// The asked version is not on the page.
    NoSuchVersion(String),
    /// No file fits; the reason says why (and which version it was).
    NoFile { version: String, reason: String },
}

fn python_ok(link: &FileLink, platform: &Platform) -> bool {
    let (Some(rp), Some((a, b))) = (&link.requires_python, platform.python) else {
        return true;
    };
    match VersionSpecifiers::from_str(rp) {
        Ok(spec) => spec.contains(&Version::new([a, b, 0])),
        // pip ignores a requires-python it cannot read.
        Err(_) => true,
    }
}

/// Picks the file to pin: the exact version when asked (a yanked one with
/// a warning), else the newest version that is neither yanked nor a
/// pre-release and whose requires-python admits the local python3; then
/// that version's best wheel for this machine. An sdist is never chosen:
/// building one runs the package's own code.
pub fn choose(
    links: &[FileLink],
    project: &str,
    asked: Option<&Version>,
    platform: &Platform,
) -> Result<Choice, NoChoice> {
    let dists: Vec<(usize, Dist)> = links
        .iter()
        .enumerate()
        .filter_map(|(i, l)| parse_filename(&l.filename).map(|d| (i, d)))
        .filter(|(_, d)| d.project == project)
        .collect();
    let version = match asked {
        Some(v) => {
            if !dists.iter().any(|(_, d)| &d.version == v) {
                let mut listed: Vec<&Version> = dists.iter().map(|(_, d)| &d.version).collect();
                listed.sort();
                listed.dedup();
                let newest = listed
                    .last()
                    .map_or("none".into(), |v| format!("newest {v}"));
                return Err(NoChoice::NoSuchVersion(format!(
                    "{} version(s) listed, {newest}",
                    listed.len()
                )));
            }
            v.clone()
        }
        None => {
            let usable = |(i, d): &&(usize, Dist)| {
                links[*i].yanked.is_none()
                    && !d.version.any_prerelease()
                    && python_ok(&links[*i], platform)
            };
            match dists.iter().filter(usable).map(|(_, d)| &d.version).max() {
                Some(v) => v.clone(),
                None => {
                    let reason = if dists.is_empty() {
                        "the index lists no wheel or sdist of it".to_string()
                    } else if dists.iter().all(|(i, _)| links[*i].yanked.is_some()) {
                        "its files are yanked; pin the version with == to use one anyway".into()
                    } else if dists.iter().all(|(_, d)| d.version.any_prerelease()) {
                        "it has only pre-releases; pin one with ==".into()
                    } else {
                        format!(
                            "no release supports this machine's Python ({})",
                            platform.describe()
                        )
                    };
                    return Err(NoChoice::NoFile {
                        version: "latest".into(),
                        reason,
                    });
                }
            }
        }
    };
    let files: Vec<&(usize, Dist)> = dists.iter().filter(|(_, d)| d.version == version).collect();
    let mut best: Option<(bool, u32, usize)> = None;
    for (i, d) in &files {
        let Some(tags) = &d.tags else { continue };
        let Some(rank) = platform.rank(tags) else {
            continue;
        };
        if !python_ok(&links[*i], platform) {
            continue;
        }
        let key = (links[*i].yanked.is_none(), rank, usize::MAX - i);
        if best.is_none_or(|b| key > (b.0, b.1, usize::MAX - b.2)) {
            best = Some((key.0, rank, *i));
        }
    }
    let Some((_, _, index)) = best else {
        let sdists: Vec<&str> = files
            .iter()
            .filter(|(_, d)| d.tags.is_none())
            .map(|(i, _)| links[*i].filename.as_str())
            .collect();
        let wheels = files.len() - sdists.len();
        let mut reason = format!(
            "no wheel for this platform ({}) among its {wheels} wheel(s)",
            platform.describe()
        );
        if !sdists.is_empty() {
            reason.push_str(&format!(
                "; its sdist {} is not used: building one runs the package's own code",
                sdists.join(", ")
            ));
        }
        return Err(NoChoice::NoFile {
            version: version.to_string(),
            reason,
        });
    };
    let mut notes = Vec::new();
    if let Some(reason) = &links[index].yanked {
        notes.push(format!(
            "warning: {} is yanked{}; used because the version was pinned",
            links[index].filename,
            Some(reason.as_str())
                .filter(|r| !r.is_empty())
                .map(|r| format!(" ({})", crate::text::printable(r, 200)))
                .unwrap_or_default()
        ));
    }
    if asked.is_some_and(|v| v.any_prerelease()) {
        notes.push(format!(
            "{version} is a pre-release, used because it was pinned"
        ));
    }
    Ok(Choice {
        index,
        version,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(py: Option<(u64, u64)>) -> Platform {
        Platform {
            python: py,
            glibc: Some((2, 36)),
            musl: None,
            arch: "x86_64".into(),
        }
    }

    fn link(f: &str) -> FileLink {
        FileLink {
            filename: f.into(),
            url: format!("https://files.example/{f}"),
            sha256: None,
            requires_python: None,
            yanked: None,
            provenance: None,
        }
    }

    fn pick(links: &[FileLink], asked: Option<&str>, p: &Platform) -> Result<String, NoChoice> {
        let v = asked.map(|a| Version::from_str(a).unwrap());
        choose(links, "x", v.as_ref(), p).map(|c| links[c.index].filename.clone())
    }

    #[test]
    fn file_names_give_project_version_and_tags() {
        let d = parse_filename("Mcp_Server.Time-0.5.1-1-py2.py3-none-any.whl").unwrap();
        assert_eq!(d.project, "mcp-server-time");
        assert_eq!(d.version.to_string(), "0.5.1");
        assert_eq!(d.tags.unwrap()[0], vec!["py2", "py3"]);
        let d = parse_filename("x_y-1.0rc1.tar.gz").unwrap();
        assert_eq!((d.project.as_str(), d.tags), ("x-y", None));
        assert!(d.version.any_prerelease());
        for bad in [
            "x.whl",
            "x-1.0-py3-none.whl",
            "x-notaversion.tar.gz",
            "x-1.0.exe",
            "-1.0.tar.gz",
            "x-1.0--none-any.whl",
        ] {
            assert_eq!(parse_filename(bad), None, "{bad}");
        }
    }

    #[test]
    fn pep440_ordering_picks_the_newest_final_release() {
        let mut vs: Vec<Version> = [
            "1.0",
            "1.0.post1",
            "1.0rc1",
            "1.0.dev3",
            "0.9",
            "1.0a1",
            "1!0.1",
            "1.10",
            "1.9",
        ]
        .iter()
        .map(|s| Version::from_str(s).unwrap())
        .collect();
        vs.sort();
        let s: Vec<String> = vs.iter().map(ToString::to_string).collect();
        assert_eq!(
            s,
            [
                "0.9",
                "1.0.dev3",
                "1.0a1",
                "1.0rc1",
                "1.0",
                "1.0.post1",
                "1.9",
                "1.10",
                "1!0.1"
            ]
        );
        let links: Vec<FileLink> = [
            "x-1.9-py3-none-any.whl",
            "x-1.10-py3-none-any.whl",
            "x-2.0rc1-py3-none-any.whl",
            "y-9.0-py3-none-any.whl",
        ]
        .map(link)
        .to_vec();
        let p = linux(Some((3, 11)));
        assert_eq!(pick(&links, None, &p).unwrap(), "x-1.10-py3-none-any.whl");
        assert_eq!(
            pick(&links, Some("2.0rc1"), &p).unwrap(),
            "x-2.0rc1-py3-none-any.whl"
        );
        assert_eq!(
            pick(&links, Some("1.9.0"), &p).unwrap(),
            "x-1.9-py3-none-any.whl"
        );
        assert!(matches!(
            pick(&links, Some("9.0"), &p),
            Err(NoChoice::NoSuchVersion(_))
        ));
    }

    #[test]
    fn yanked_and_requires_python() {
        let mut links: Vec<FileLink> = [
            "x-1.0-py3-none-any.whl",
            "x-2.0-py3-none-any.whl",
            "x-3.0-py3-none-any.whl",
        ]
        .map(link)
        .to_vec();
        links[2].yanked = Some("broken".into());
        links[1].requires_python = Some(">=3.12".into());
        let p = linux(Some((3, 11)));
        assert_eq!(pick(&links, None, &p).unwrap(), "x-1.0-py3-none-any.whl");
        // Without a python3 to ask, requires-python is only recorded.
        assert_eq!(
            pick(&links, None, &linux(None)).unwrap(),
            "x-2.0-py3-none-any.whl"
        );
        let v = Version::from_str("3.0").unwrap();
        let c = choose(&links, "x", Some(&v), &p).unwrap();
        assert!(
            c.notes[0].starts_with("warning:") && c.notes[0].contains("yanked (broken)"),
            "{:?}",
            c.notes
        );
        for l in &mut links {
            l.yanked = Some(String::new());
        }
        let e = pick(&links, None, &p).unwrap_err();
        assert!(
            matches!(&e, NoChoice::NoFile { reason, .. } if reason.contains("yanked")),
            "{e:?}"
        );
    }

    #[test]
    fn wheel_tags_for_this_platform() {
        let p = linux(Some((3, 11)));
        let all = [
            "x-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "x-1.0-cp38-abi3-manylinux_2_28_x86_64.whl",
            "x-1.0-py3-none-any.whl",
            "x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "x-1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
            "x-1.0-cp311-cp311-musllinux_1_2_x86_64.whl",
            "x-1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
            "x-1.0-cp311-cp311-win_amd64.whl",
            "x-1.0.tar.gz",
        ];
        let links: Vec<FileLink> = all.map(link).to_vec();
        assert_eq!(pick(&links, None, &p).unwrap(), all[0]);
        assert_eq!(pick(&links[1..], None, &p).unwrap(), all[1]);
        assert_eq!(pick(&links[2..], None, &p).unwrap(), all[2]);
        // None of the rest fits: refused, naming the sdist it will not build.
        let e = pick(&links[3..], None, &p).unwrap_err();
        let NoChoice::NoFile { version, reason } = e else {
            panic!()
        };
        assert_eq!(version, "1.0");
        assert!(
            reason.contains("no wheel for this platform (cp311, manylinux_2_36_x86_64)"),
            "{reason}"
        );
        assert!(reason.contains("x-1.0.tar.gz is not used"), "{reason}");
        // Musl machines take musllinux wheels; py2-only wheels never fit.
        let musl = Platform {
            glibc: None,
            musl: Some((1, 2)),
            ..p.clone()
        };
        assert_eq!(pick(&links[3..], None, &musl).unwrap(), all[5]);
        assert!(pick(&[link("x-1.0-py2-none-any.whl")], None, &p).is_err());
        assert_eq!(
            pick(&[link("x-1.0-py2.py3-none-any.whl")], None, &p).unwrap(),
            "x-1.0-py2.py3-none-any.whl"
        );
        // Without python3 only the generic pure wheel.
        assert_eq!(pick(&links, None, &linux(None)).unwrap(), all[2]);
    }

    #[test]
    fn this_machine_describes_itself() {
        let p = Platform::this_machine();
        assert!(!p.arch.is_empty());
        assert!(
            p.rank(&[vec!["py3".into()], vec!["none".into()], vec!["any".into()]])
                .is_some()
        );
    }
}
