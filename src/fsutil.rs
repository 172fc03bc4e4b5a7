//! File helpers shared by every module that reads user input or writes
//! state: bounded reads and atomic replacement.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: no such file")]
    Missing { path: PathBuf },
    #[error("{path}: is a directory, a file was expected")]
    Directory { path: PathBuf },
    #[error("{path}: is not a regular file")]
    NotFile { path: PathBuf },
    #[error("{path}: is larger than the {limit}-byte limit for this kind of file")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    fn from_io(path: &Path, e: io::Error) -> Self {
        let path = path.to_path_buf();
        match e.kind() {
            io::ErrorKind::NotFound => ReadError::Missing { path },
            io::ErrorKind::IsADirectory => ReadError::Directory { path },
            _ => ReadError::Io { path, source: e },
        }
    }
}

/// Opens a regular file for reading, with errors that name the path and
/// say what is wrong (a symlink loop shows up as the OS's "too many
/// levels of symbolic links").
pub fn open_file(path: &Path) -> Result<(File, fs::Metadata), ReadError> {
    let file = open_nonblocking(path).map_err(|e| ReadError::from_io(path, e))?;
    let meta = file.metadata().map_err(|e| ReadError::from_io(path, e))?;
    if meta.is_dir() {
        return Err(ReadError::Directory {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        return Err(ReadError::NotFile {
            path: path.to_path_buf(),
        });
    }
    Ok((file, meta))
}

/// Opening a FIFO for reading blocks until a writer comes; O_NONBLOCK makes
/// the open return at once, so the type check below can refuse it. On a
/// regular file the flag has no effect on reads.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Why [`read_at_most`] stopped short of the end.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads all of `r` into `buf` (appending), failing once more than `limit`
/// bytes come: a header or a size the source announced is not trusted, the
/// count is. On failure `buf` keeps what was read (at most `limit + 1`
/// bytes), for callers that account for it; the caller's buffer also lets
/// secrets be read into a zeroizing one.
pub fn read_at_most(r: impl Read, limit: u64, buf: &mut Vec<u8>) -> Result<(), LimitError> {
    let start = buf.len();
    r.take(limit.saturating_add(1)).read_to_end(buf)?;
    if (buf.len() - start) as u64 > limit {
        return Err(LimitError::TooLarge { limit });
    }
    Ok(())
}

/// Reads a whole file that must not exceed `limit` bytes; the limit is
/// enforced while reading, so a file that grows meanwhile cannot slip by.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open_file(path)?;
    let too_large = || ReadError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    read_at_most(file, limit, &mut buf).map_err(|e| match e {
        LimitError::TooLarge { .. } => too_large(),
        LimitError::Io(e) => ReadError::from_io(path, e),
    })?;
    Ok(buf)
}

/// Like [`read_bounded`], for text files.
pub fn read_text_bounded(path: &Path, limit: u64) -> Result<String, ReadError> {
    let bytes = read_bounded(path, limit)?;
    String::from_utf8(bytes).map_err(|_| ReadError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8 text"),
    })
}

/// The start of a text file, up to and including the first `end` (or the
/// whole file without one), at most `limit` bytes: the header block of a
/// metadata file whose body, not needed, can be most of it.
pub fn read_text_head(path: &Path, limit: u64, end: &[u8]) -> Result<String, ReadError> {
    let (mut file, _) = open_file(path)?;
    let too_large = || ReadError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut searched = 0;
    loop {
        let n = match file.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::from_io(path, e)),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = memchr::memmem::find(&buf[searched..], end) {
            buf.truncate(searched + at + end.len());
            break;
        }
        if buf.len() as u64 > limit {
            return Err(too_large());
        }
        searched = buf.len().saturating_sub(end.len().saturating_sub(1));
    }
    if buf.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(buf).map_err(|_| ReadError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8 text"),
    })
}

/// Replaces `path` with `contents` atomically: a temporary file in the same
/// directory, fsync, rename, fsync of the directory. A crash leaves either
/// the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_head_is_read_to_its_end_marker_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("METADATA");
        let body = "x".repeat(100_000);
        std::fs::write(&p, format!("Name: a\nRequires-Dist: b\n\n{body}")).unwrap();
        assert_eq!(
            read_text_head(&p, 64, b"\n\n").unwrap(),
            "Name: a\nRequires-Dist: b\n\n"
        );
        // A marker split across reads is found all the same.
        let split = format!("{}\n\nrest", "h".repeat(8191));
        std::fs::write(&p, &split).unwrap();
        assert_eq!(read_text_head(&p, 9000, b"\n\n").unwrap().len(), 8193);
        // No marker: the whole file, within the limit.
        std::fs::write(&p, "Name: a\n").unwrap();
        assert_eq!(read_text_head(&p, 64, b"\n\n").unwrap(), "Name: a\n");
        // Headers longer than the limit, or not UTF-8, are refused.
        std::fs::write(&p, format!("Name: {body}\n\n")).unwrap();
        assert!(matches!(
            read_text_head(&p, 64, b"\n\n"),
            Err(ReadError::TooLarge { .. })
        ));
        std::fs::write(&p, b"Name: \xff\n\n").unwrap();
        assert!(read_text_head(&p, 64, b"\n\n").is_err());
    }

    #[test]
    fn bounded_read_and_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/f.txt");
        write_atomic(&p, b"hello").unwrap();
        assert_eq!(read_bounded(&p, 5).unwrap(), b"hello");
        assert!(matches!(
            read_bounded(&p, 4),
            Err(ReadError::TooLarge { .. })
        ));
        assert!(matches!(
            read_bounded(dir.path(), 10),
            Err(ReadError::Directory { .. })
        ));
        assert!(matches!(
            read_bounded(&dir.path().join("nope"), 10),
            Err(ReadError::Missing { .. })
        ));
        write_atomic(&p, b"bye").unwrap();
        assert_eq!(read_bounded(&p, 5).unwrap(), b"bye");
        // Only the one file remains: no temporary left behind.
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn read_at_most_counts_what_comes() {
        let mut buf = b"x".to_vec();
        read_at_most(&b"abc"[..], 3, &mut buf).unwrap();
        assert_eq!(buf, b"xabc");
        let mut buf = Vec::new();
        let e = read_at_most(&b"abcd"[..], 3, &mut buf).unwrap_err();
        assert!(matches!(e, LimitError::TooLarge { limit: 3 }));
        assert_eq!(buf, b"abcd");
    }
}
