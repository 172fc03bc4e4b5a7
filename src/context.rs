//! Where mcp-warden keeps its files: one `--home` for everything, or the
//! platform's directories; plus the read-only system directory that an
//! administrator controls.

use std::path::{Path, PathBuf};

/// The administrator's directory: `/etc/mcp-warden`, or where a package
/// build put it (`MCP_WARDEN_SYSTEM_DIR` set when mcp-warden is compiled).
pub const DEFAULT_SYSTEM_DIR: &str = match option_env!("MCP_WARDEN_SYSTEM_DIR") {
    Some(d) => d,
    None => "/etc/mcp-warden",
};

/// The system directory in force, given `MCP_WARDEN_SYSTEM_DIR` from the
/// environment (`requested`) and the built-in one. Anyone who can set a
/// variable for mcp-warden (an MCP client config's `env` block) could
/// otherwise point it at an empty directory and drop the administrator's
/// policy and trust; so the variable moves the directory only where the
/// built-in one does not exist, that is where there is no administrator
/// whose rules it could drop. The second value is the warning to give when
/// the variable is ignored.
pub fn system_dir(requested: Option<&Path>, builtin: &Path) -> (PathBuf, Option<String>) {
    match requested {
        None => (builtin.to_path_buf(), None),
        Some(r) if r == builtin => (builtin.to_path_buf(), None),
        // `symlink_metadata`: a dangling link the administrator left is
        // still the administrator's.
        Some(r) if builtin.symlink_metadata().is_ok() => (
            builtin.to_path_buf(),
            Some(format!(
                "MCP_WARDEN_SYSTEM_DIR={} is ignored: the administrator's directory {} exists, and its policy and trust store stay in force",
                crate::text::printable(&r.to_string_lossy(), 200),
                builtin.display()
            )),
        ),
        Some(r) => (r.to_path_buf(), None),
    }
}

/// The built-in system directory. Debug builds (the test suite's) let
/// `MCP_WARDEN_BUILTIN_SYSTEM_DIR` stand in for it, so that tests can give
/// the "administrator" a directory without writing to /etc; release builds
/// have no such variable.
pub fn builtin_system_dir() -> PathBuf {
    #[cfg(debug_assertions)]
    if let Some(d) = std::env::var_os("MCP_WARDEN_BUILTIN_SYSTEM_DIR") {
        return PathBuf::from(d);
    }
    PathBuf::from(DEFAULT_SYSTEM_DIR)
}

#[derive(Debug, Clone)]
pub struct Context {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub system_dir: PathBuf,
    /// `--policy FILE`: replaces the user's policy file, never the system's.
    pub policy_override: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "no home directory could be found for configuration; pass --home DIR or set MCP_WARDEN_HOME"
)]
pub struct NoHome;

impl Context {
    pub fn new(
        home: Option<&Path>,
        policy: Option<&Path>,
        system_dir: Option<&Path>,
    ) -> Result<Self, NoHome> {
        let (config_dir, data_dir, cache_dir) = match home {
            Some(h) => (h.join("config"), h.join("data"), h.join("cache")),
            None => {
                let d = directories::ProjectDirs::from("", "", "mcp-warden").ok_or(NoHome)?;
                (
                    d.config_dir().to_path_buf(),
                    d.data_dir().to_path_buf(),
                    d.cache_dir().to_path_buf(),
                )
            }
        };
        Ok(Context {
            config_dir,
            data_dir,
            cache_dir,
            system_dir: system_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SYSTEM_DIR)),
            policy_override: policy.map(Path::to_path_buf),
        })
    }

    pub fn trust_file(&self) -> PathBuf {
        self.config_dir.join("trust.toml")
    }

    pub fn system_trust_dir(&self) -> PathBuf {
        self.system_dir.join("trust.d")
    }

    pub fn user_policy_file(&self) -> PathBuf {
        self.policy_override
            .clone()
            .unwrap_or_else(|| self.config_dir.join("policy.toml"))
    }

    pub fn system_policy_file(&self) -> PathBuf {
        self.system_dir.join("policy.toml")
    }

    /// The policy and trust files in force, the administrator's included:
    /// what a verdict depends on besides the artifact and its evidence.
    pub fn judgement_files(&self) -> Vec<PathBuf> {
        let mut files = vec![
            self.user_policy_file(),
            self.system_policy_file(),
            self.trust_file(),
        ];
        if let Ok(rd) = std::fs::read_dir(self.system_trust_dir()) {
            let mut more: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            more.sort();
            files.extend(more);
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use super::system_dir;

    #[test]
    fn the_variable_moves_the_system_directory_only_where_there_is_none() {
        let d = tempfile::tempdir().unwrap();
        let admin = d.path().join("etc");
        let elsewhere = d.path().join("elsewhere");
        // No administrator: the variable decides, and nothing is said.
        assert_eq!(
            system_dir(Some(&elsewhere), &admin),
            (elsewhere.clone(), None)
        );
        assert_eq!(system_dir(None, &admin), (admin.clone(), None));
        // An administrator's directory, even empty, or a dangling link to
        // one: it stays, and the variable is named as ignored.
        std::fs::create_dir(&admin).unwrap();
        let (dir, why) = system_dir(Some(&elsewhere), &admin);
        assert_eq!(dir, admin);
        assert!(why.unwrap().contains("is ignored"));
        assert_eq!(system_dir(Some(&admin), &admin), (admin.clone(), None));
        let link = d.path().join("link");
        std::os::unix::fs::symlink(d.path().join("gone"), &link).unwrap();
        assert_eq!(system_dir(Some(&elsewhere), &link).0, link);
    }
}
