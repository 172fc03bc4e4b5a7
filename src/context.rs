//! Where mcp-warden keeps its files: one `--home` for everything, or the
//! platform's directories; plus the read-only system directory that an
//! administrator controls.

use std::path::{Path, PathBuf};

/// The administrator's directory. `MCP_WARDEN_SYSTEM_DIR` moves it, for
/// packaging and for tests that cannot write to /etc.
pub const DEFAULT_SYSTEM_DIR: &str = "/etc/mcp-warden";

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
