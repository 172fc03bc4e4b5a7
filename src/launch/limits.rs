//! The resource limits of a launched server: tasks, data memory, file size
//! and open files, from the policy's `[servers.run]` with safe defaults.
//!
//! Each limit is set as both soft and hard limit in the server's pre-exec
//! hook (src/launch/sys.rs), so neither the server nor anything it starts
//! can raise it again; every value is computed here, before fork. No
//! limit is ever raised above the hard limit `run` itself has.
//!
//! - `max-processes` (RLIMIT_NPROC) counts tasks, threads included, and
//!   the kernel counts them per real uid, over every process of the user.
//!   So for a user other than root the limit is what the user already runs
//!   plus `max-processes`: the server may start that many more tasks, and
//!   a busy desktop does not stop it from starting at all. Root is exempt
//!   from RLIMIT_NPROC in the kernel; there, the server's own PID
//!   namespace (src/launch/spawn.rs) bounds its tasks through the
//!   namespace's `pid_max` (Linux 6.14 and later; at least 299, the
//!   kernel's smallest `pid_max` being 301).
//! - `max-memory-mib` (RLIMIT_DATA): private writable memory, heap and
//!   anonymous mappings. Not RLIMIT_AS: V8 and WebAssembly reserve large
//!   inaccessible regions that would count against an address-space limit
//!   without ever holding memory.
//! - `max-file-size-mib` (RLIMIT_FSIZE): the largest file the server may
//!   write (a larger write fails with EFBIG, or SIGXFSZ kills a process
//!   that does not ignore it). It bounds each file, not the total: a
//!   server can still fill a disk with many files.
//! - `max-open-files` (RLIMIT_NOFILE).

use crate::policy::RunRules;

/// Resource limits for one server, in the policy's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Tasks (processes and threads) the server may add.
    pub processes: u64,
    /// Private writable memory of each process, in MiB.
    pub memory_mib: u64,
    /// The largest file each process may write, in MiB.
    pub file_size_mib: u64,
    /// Open descriptors of each process.
    pub open_files: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            processes: 256,
            memory_mib: 2048,
            file_size_mib: 1024,
            open_files: 4096,
        }
    }
}

impl Limits {
    /// The policy's values (already the lower of both layers), the
    /// defaults where it says nothing.
    pub fn from_policy(rules: &RunRules) -> Limits {
        let d = Limits::default();
        Limits {
            processes: rules.max_processes.unwrap_or(d.processes),
            memory_mib: rules.max_memory_mib.unwrap_or(d.memory_mib),
            file_size_mib: rules.max_file_size_mib.unwrap_or(d.file_size_mib),
            open_files: rules.max_open_files.unwrap_or(d.open_files),
        }
    }

    /// One line for `run`'s start line, e.g. "limits: 256 tasks, 2048 MiB
    /// data, 1024 MiB files, 4096 open files".
    pub fn summary(&self) -> String {
        format!(
            "limits: {} tasks, {} MiB data, {} MiB files, {} open files",
            self.processes, self.memory_mib, self.file_size_mib, self.open_files
        )
    }

    /// `pid_max` for the server's own PID namespace: the init (pid 1) and
    /// the server's `processes` tasks, never below the kernel's least
    /// (301). `None` on a kernel older than 6.14, where `pid_max` is the
    /// whole system's and must not be written.
    pub(crate) fn pid_max(&self, kernel_release: &str) -> Option<u64> {
        let mut parts = kernel_release
            .split(['.', '-', '+'])
            .map(|p| p.parse::<u32>().ok());
        let (Some(Some(major)), Some(Some(minor))) = (parts.next(), parts.next()) else {
            return None;
        };
        if (major, minor) < (6, 14) {
            return None;
        }
        // The kernel's own bounds: RESERVED_PIDS + 1 and PID_MAX_LIMIT.
        Some(self.processes.saturating_add(2).clamp(301, 4 << 20))
    }
}

#[cfg(unix)]
mod imp {
    use super::Limits;
    use crate::launch::sys::{self, Resource};

    const MIB: u64 = 1 << 20;

    impl Limits {
        /// The (resource, value) pairs for the hook: each capped at `run`'s
        /// own hard limit, RLIMIT_NPROC raised by what the real uid already
        /// runs (unless root, whom it does not bind). RLIMIT_NPROC is left
        /// alone when /proc cannot be counted.
        pub(crate) fn rlimits(&self) -> Vec<(Resource, u64)> {
            let uid = sys::real_uid();
            let tasks = match uid {
                0 => Some(self.processes),
                _ => user_tasks(uid).map(|n| n.saturating_add(self.processes)),
            };
            let wanted = [
                (libc::RLIMIT_NPROC, tasks),
                (libc::RLIMIT_DATA, Some(self.memory_mib.saturating_mul(MIB))),
                (
                    libc::RLIMIT_FSIZE,
                    Some(self.file_size_mib.saturating_mul(MIB)),
                ),
                (libc::RLIMIT_NOFILE, Some(self.open_files)),
            ];
            let mut out = Vec::with_capacity(wanted.len());
            for (resource, value) in wanted {
                let Some(value) = value else { continue };
                let value = match sys::hard_limit(resource) {
                    Some(hard) => value.min(hard),
                    None => value,
                };
                out.push((resource, value));
            }
            out
        }
    }

    /// The tasks (threads) of every process whose /proc entry belongs to
    /// `uid`: one stat per process, of /proc/PID/task, whose link count is
    /// 2 + its threads. (The entry's owner is the effective uid, which for
    /// the user's own processes is the real one.) `None` without /proc.
    #[cfg(target_os = "linux")]
    fn user_tasks(uid: u32) -> Option<u64> {
        use std::os::unix::fs::MetadataExt as _;
        let mut n = 0u64;
        let mut path = std::path::PathBuf::from("/proc");
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            if !name.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
                continue;
            }
            path.push(&name);
            path.push("task");
            if let Ok(m) = std::fs::metadata(&path)
                && m.uid() == uid
            {
                n += m.nlink().saturating_sub(2).max(1);
            }
            path.pop();
            path.pop();
        }
        (n > 0).then_some(n)
    }

    #[cfg(not(target_os = "linux"))]
    fn user_tasks(_uid: u32) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_values_replace_the_defaults_one_by_one() {
        let rules = RunRules {
            max_processes: Some(10),
            max_open_files: Some(64),
            ..RunRules::default()
        };
        let l = Limits::from_policy(&rules);
        assert_eq!(
            l,
            Limits {
                processes: 10,
                open_files: 64,
                ..Limits::default()
            }
        );
        assert_eq!(
            Limits::default().summary(),
            "limits: 256 tasks, 2048 MiB data, 1024 MiB files, 4096 open files"
        );
    }

    #[test]
    fn pid_max_only_where_it_is_per_namespace() {
        let l = Limits::default();
        assert_eq!(l.pid_max("6.13.7-200.fc41.x86_64"), None);
        assert_eq!(l.pid_max("5.15.0-105-generic"), None);
        assert_eq!(l.pid_max("garbage"), None);
        assert_eq!(l.pid_max("6.14.0"), Some(301));
        let big = Limits {
            processes: 1000,
            ..l
        };
        assert_eq!(big.pid_max("6.18.44-fc-v1272"), Some(1002));
        assert_eq!(big.pid_max("7.0"), Some(1002));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn rlimits_are_capped_at_the_hard_limits_and_count_the_users_tasks() {
        use crate::launch::sys;
        let huge = Limits {
            processes: u64::MAX / 2,
            memory_mib: u64::MAX / 2,
            file_size_mib: 1,
            open_files: u64::MAX / 2,
        };
        let got = huge.rlimits();
        let get = |r| got.iter().find(|(res, _)| *res == r).map(|(_, v)| *v);
        assert_eq!(get(libc::RLIMIT_FSIZE), Some(1 << 20));
        for r in [libc::RLIMIT_NPROC, libc::RLIMIT_DATA, libc::RLIMIT_NOFILE] {
            if let Some(hard) = sys::hard_limit(r) {
                assert!(get(r).is_some_and(|v| v <= hard), "{r}: {got:?}");
            }
        }
        // Not root: what the user runs already is added.
        if sys::real_uid() != 0 {
            let l = Limits::default();
            let nproc = l
                .rlimits()
                .into_iter()
                .find(|(r, _)| *r == libc::RLIMIT_NPROC)
                .map(|(_, v)| v)
                .unwrap();
            assert!(nproc > l.processes, "{nproc}");
        }
    }
}
