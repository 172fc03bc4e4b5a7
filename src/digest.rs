//! Streaming digests: one read of the input feeds every hasher that needs
//! it, on its own thread when there are several, in bounded memory.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use sha2::Digest as _;

/// Read size: large enough for few syscalls, small enough that the chunks
/// in flight stay a few MiB whatever the file size.
pub const CHUNK: usize = 1 << 20;
/// Inputs below this are hashed on the calling thread.
const SMALL: usize = 128 << 10;
/// Chunks queued per hasher before the reader waits.
const QUEUE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

/// A running hash under one [`Algorithm`].
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                bytes: h.finalize().to_vec(),
            },
            Hasher::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                bytes: h.finalize().to_vec(),
            },
        }
    }
}

impl Sink for Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => sha2::Digest::update(h, data),
            Hasher::Sha512(h) => sha2::Digest::update(h, data),
        }
    }
}

/// A digest with its algorithm, written `sha256:HEX` as on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    pub algorithm: Algorithm,
    pub bytes: Vec<u8>,
}

impl Digest {
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseDigestError {
    #[error("`{0}` is not a digest: expected sha256:HEX or sha512:HEX")]
    Prefix(String),
    #[error("the {alg} digest must be {want} hex characters, got {got}")]
    Length {
        alg: &'static str,
        want: usize,
        got: usize,
    },
    #[error("the digest has a character that is not hex")]
    NotHex,
}

impl FromStr for Digest {
    type Err = ParseDigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex_part) = match s.split_once(':') {
            Some(("sha256", h)) => (Algorithm::Sha256, h),
            Some(("sha512", h)) => (Algorithm::Sha512, h),
            _ => return Err(ParseDigestError::Prefix(s.chars().take(80).collect())),
        };
        if hex_part.len() != alg.output_len() * 2 {
            return Err(ParseDigestError::Length {
                alg: alg.name(),
                want: alg.output_len() * 2,
                got: hex_part.len(),
            });
        }
        let bytes =
            hex::decode(hex_part.to_ascii_lowercase()).map_err(|_| ParseDigestError::NotHex)?;
        Ok(Digest {
            algorithm: alg,
            bytes,
        })
    }
}

/// Anything that consumes the artifact's bytes in order: a hash, or a
/// signature scheme that verifies while streaming.
pub trait Sink: Send {
    fn update(&mut self, data: &[u8]);
}

impl Sink for blake2b_simd::State {
    fn update(&mut self, data: &[u8]) {
        blake2b_simd::State::update(self, data);
    }
}

/// Reads `reader` to the end once and feeds every sink; returns the byte
/// count. With more than one sink each runs on its own thread, so the
/// slowest hash, not their sum, sets the pace.
pub fn feed(mut reader: impl Read, sinks: &mut [&mut dyn Sink]) -> io::Result<u64> {
    if sinks.len() <= 1 {
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        loop {
            let n = read_full(&mut reader, &mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
            for s in sinks.iter_mut() {
                s.update(&buf[..n]);
            }
        }
    }
    // A small input is hashed here: below about 128 KiB starting threads
    // costs more than they save (signature files, tiny servers).
    let mut first = vec![0u8; CHUNK];
    let n = read_full(&mut reader, &mut first)?;
    if n < SMALL {
        for s in sinks.iter_mut() {
            s.update(&first[..n]);
        }
        return Ok(n as u64);
    }
    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(sinks.len());
        for sink in sinks.iter_mut() {
            let (tx, rx) = sync_channel::<Arc<Vec<u8>>>(QUEUE);
            senders.push(tx);
            let sink: &mut dyn Sink = &mut **sink;
            scope.spawn(move || {
                for chunk in rx {
                    sink.update(&chunk);
                }
            });
        }
        let mut total = n as u64;
        first.truncate(n);
        let first = Arc::new(first);
        for tx in &senders {
            let _ = tx.send(Arc::clone(&first));
        }
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = read_full(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            total += n as u64;
            let chunk = Arc::new(buf);
            for tx in &senders {
                // A receiver only goes away if its thread panicked; the
                // scope re-raises that panic when it joins.
                let _ = tx.send(Arc::clone(&chunk));
            }
        }
        drop(senders);
        Ok(total)
    })
}

/// Fills `buf` as far as the reader allows, so chunk boundaries do not
/// depend on how the OS splits reads.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Digests of one input under several algorithms in one pass.
pub fn digest_reader(reader: impl Read, algs: &[Algorithm]) -> io::Result<(u64, Vec<Digest>)> {
    let mut hashers: Vec<Hasher> = algs.iter().map(|a| a.hasher()).collect();
    let mut sinks: Vec<&mut dyn Sink> = hashers.iter_mut().map(|h| h as &mut dyn Sink).collect();
    let n = feed(reader, &mut sinks)?;
    Ok((n, hashers.into_iter().map(Hasher::finish).collect()))
}

/// SHA-256 over named fields, each length-prefixed so that no two
/// different sequences of fields hash alike: what receipts are keyed by.
pub struct FieldHasher(sha2::Sha256);

impl Default for FieldHasher {
    fn default() -> Self {
        FieldHasher(<sha2::Sha256 as sha2::Digest>::new())
    }
}

impl FieldHasher {
    pub fn field(&mut self, key: &str, value: &[u8]) {
        use sha2::Digest as _;
        self.0.update((key.len() as u64).to_le_bytes());
        self.0.update(key.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }

    /// The path and the SHA-256 of the file's content; a missing or
    /// unreadable file gives a value no content hashes to, so whatever
    /// the digest guards runs in full and reports the file.
    pub fn file(&mut self, key: &str, path: &std::path::Path) {
        self.field(key, path.to_string_lossy().as_bytes());
        let content = match std::fs::File::open(path) {
            Ok(f) => match digest_reader(f, &[Algorithm::Sha256]) {
                Ok((_, d)) => d.first().map(|d| d.hex()).unwrap_or_default(),
                Err(_) => "unreadable".into(),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => "missing".into(),
            Err(_) => "unreadable".into(),
        };
        self.field(key, content.as_bytes());
    }

    pub fn finish(self) -> String {
        use sha2::Digest as _;
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn known_vectors_single_and_parallel() {
        let (n, d) = digest_reader(&b"abc"[..], &[Algorithm::Sha256]).unwrap();
        assert_eq!(n, 3);
        assert_eq!(d[0].hex(), ABC256);
        let (_, d) = digest_reader(&b"abc"[..], &[Algorithm::Sha256, Algorithm::Sha512]).unwrap();
        assert_eq!(d[0].hex(), ABC256);
        assert!(d[1].hex().starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn chunked_input_matches_one_shot() {
        // Crosses several chunk boundaries with a reader that returns
        // short reads.
        struct Dribble(Vec<u8>, usize);
        impl Read for Dribble {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(7777).min(self.0.len() - self.1);
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let data: Vec<u8> = (0..(CHUNK * 3 + 12345))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let want = sha2::Sha256::digest(&data).to_vec();
        let (n, d) = digest_reader(
            Dribble(data.clone(), 0),
            &[Algorithm::Sha512, Algorithm::Sha256],
        )
        .unwrap();
        assert_eq!(n as usize, data.len());
        assert_eq!(d[1].bytes, want);
    }

    #[test]
    fn parse_digest() {
        let d: Digest = format!("sha256:{ABC256}").parse().unwrap();
        assert_eq!(d.to_string(), format!("sha256:{ABC256}"));
        let upper: Digest = format!("sha256:{}", ABC256.to_uppercase()).parse().unwrap();
        assert_eq!(upper, d);
        assert!(matches!(
            "md5:00".parse::<Digest>(),
            Err(ParseDigestError::Prefix(_))
        ));
        assert!(matches!(
            "sha256:abc".parse::<Digest>(),
            Err(ParseDigestError::Length { .. })
        ));
        let bad = format!("sha256:{}", "g".repeat(64));
        assert_eq!(bad.parse::<Digest>(), Err(ParseDigestError::NotHex));
    }
}
