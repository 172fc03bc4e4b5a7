//! The verified files, held open from the check to the exec.
//!
//! A check by path and a run by path are two lookups, and a process of the
//! same user can swap a directory between them (rename another tree into
//! its place). So `run` opens what it will check once, here, and reaches
//! it from then on only through the open descriptor: on Linux as
//! `/proc/self/fd/N`, a "magic link" that the kernel resolves to the open
//! file or directory itself, never by its name again. The fingerprint, the
//! tree digest, the entry point, the sandbox's rules and the interpreter's
//! arguments all use that path, and the descriptor stays open (at the same
//! number) in the server, so the interpreter opens exactly what was checked.
//!
//! What this does not do: the files themselves are the user's, so a
//! process of the same user can still rewrite one in place after it was
//! checked (the cache makes them read-only, which its owner can undo).
//! The receipt's fingerprint (device, inode, size, mtime, ctime, mode) catches such a
//! change at the next launch, and `run --rehash` checks every byte now;
//! nothing file-based can stop a writer that acts during the launch.
//! Elsewhere than Linux the path is used as it is.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// An open verified file or directory and the path that reaches it.
#[derive(Debug)]
pub struct Anchor {
    file: File,
    path: PathBuf,
    shown: PathBuf,
}

impl Anchor {
    /// Opens the directory `root`/`parts...`, refusing a symlink at any of
    /// `parts` (the cache's own names); `root` itself is the user's setting
    /// and is followed.
    pub fn open_dir(root: &Path, parts: &[&str]) -> io::Result<Anchor> {
        let mut dir = open(root, false, true)?;
        let mut shown = root.to_path_buf();
        for part in parts {
            if part.is_empty() || part.contains('/') || *part == "." || *part == ".." {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{part}` is not a single path component"),
                ));
            }
            dir = open(&through(&dir, &shown).join(part), true, true)?;
            shown.push(part);
        }
        Ok(Anchor::new(dir, shown))
    }

    /// Opens the regular file `path`, refusing a symlink in its place.
    pub fn open_file(path: &Path) -> io::Result<Anchor> {
        let file = open(path, true, false)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file", path.display()),
            ));
        }
        Ok(Anchor::new(file, path.to_path_buf()))
    }

    /// The open file, for a program executed through its descriptor.
    pub fn into_file(self) -> File {
        self.file
    }

    fn new(file: File, shown: PathBuf) -> Anchor {
        let path = through(&file, &shown);
        Anchor { file, path, shown }
    }

    /// The path that reaches the open file (`/proc/self/fd/N` on Linux),
    /// in this process and, since the descriptor is kept at its number
    /// across exec ([`Anchor::fd`]), in the server.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name it was opened by, for messages.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    pub fn as_file(&self) -> &File {
        &self.file
    }

    /// The descriptor to keep open in the server.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd as _;
        self.file.as_fd()
    }

    /// Metadata of the open file itself.
    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.file.metadata()
    }

    /// A second descriptor of the same open file, with its own path: for
    /// work that may outlive this one (a descriptor closed early would
    /// leave its /proc/self/fd/N path to whatever is opened next).
    pub fn try_clone(&self) -> io::Result<Anchor> {
        Ok(Anchor::new(self.file.try_clone()?, self.shown.clone()))
    }
}

#[cfg(target_os = "linux")]
fn through(file: &File, _shown: &Path) -> PathBuf {
    use std::os::fd::AsRawFd as _;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

#[cfg(not(target_os = "linux"))]
fn through(_file: &File, shown: &Path) -> PathBuf {
    shown.to_path_buf()
}

fn open(path: &Path, nofollow: bool, dir: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // O_NONBLOCK: a FIFO in the file's place must not block the open.
        let mut flags = libc::O_CLOEXEC | libc::O_NONBLOCK;
        if nofollow {
            flags |= libc::O_NOFOLLOW;
        }
        if dir {
            flags |= libc::O_DIRECTORY;
        }
        o.custom_flags(flags);
    }
    let _ = (nofollow, dir);
    o.open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_path_reaches_the_opened_directory_after_a_swap() {
        let d = tempfile::tempdir().unwrap();
        let trees = d.path().join("trees");
        std::fs::create_dir_all(trees.join("k")).unwrap();
        std::fs::write(trees.join("k/f"), "verified").unwrap();
        let a = Anchor::open_dir(d.path(), &["trees", "k"]).unwrap();
        assert_eq!(a.shown(), trees.join("k"));
        // Another directory takes the name: the anchor still reaches the
        // one that was opened.
        std::fs::rename(trees.join("k"), trees.join("old")).unwrap();
        std::fs::create_dir(trees.join("k")).unwrap();
        std::fs::write(trees.join("k/f"), "planted").unwrap();
        assert_eq!(std::fs::read(a.path().join("f")).unwrap(), b"verified");
    }

    #[test]
    fn symlinks_and_odd_components_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("real")).unwrap();
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("link")).unwrap();
        assert!(Anchor::open_dir(d.path(), &["link"]).is_err());
        assert!(Anchor::open_dir(d.path(), &[".."]).is_err());
        assert!(Anchor::open_dir(d.path(), &["real/.."]).is_err());
        assert!(Anchor::open_dir(d.path(), &["real"]).is_ok());
    }
}
