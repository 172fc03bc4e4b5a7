//! Reading the log back: `audit verify` walks the chain and names the
//! first bad line; `audit show` lists records and says which lines it
//! could not read. Every line is read with a bound ([`MAX_LINE`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::anchor::{Head, HeadError, KeychainView};
use super::{AuditError, GENESIS, MAX_LINE, line_hash, read_head};

/// What is wrong at the first bad line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A record's content changed after it was written.
    Edited,
    /// Records are missing from the chain.
    Removed,
    /// A line that is not part of the chain.
    Inserted,
    /// Records are out of seq order.
    Reordered,
    /// The log ends early: the last line is cut, or the head file records
    /// more than the log holds.
    Truncated,
    /// Not a record: not JSON, or missing `seq`, `prev`, `time`, `event`.
    Malformed,
    /// A line longer than [`MAX_LINE`].
    Oversized,
    /// A line that is not UTF-8.
    NotUtf8,
    /// The head file is missing, unreadable, malformed, in the old
    /// unauthenticated format, or its MAC does not verify.
    Head,
    /// The log (and its head) are gone while the keychain's anchor says
    /// a log was written.
    Missing,
}

impl Problem {
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Edited => "edited",
            Problem::Removed => "removed",
            Problem::Inserted => "inserted",
            Problem::Reordered => "reordered",
            Problem::Truncated => "truncated",
            Problem::Malformed => "malformed",
            Problem::Oversized => "oversized",
            Problem::NotUtf8 => "not-utf8",
            Problem::Head => "head",
            Problem::Missing => "missing",
        }
    }
}

/// The first bad line: its number (1-based; `None` when the finding is
/// about the head file or the log as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line: Option<u64>,
    pub problem: Problem,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every record chains to the one before, and the head file agrees.
    Intact {
        records: u64,
        /// `None` for an empty log.
        last_hash: Option<String>,
        /// Records in which `run` said the log did not match its anchor
        /// (kind `audit-anchor`): the chain holds from there, but what
        /// came before was lost or rewritten.
        warnings: Vec<Finding>,
    },
    Broken {
        /// Records checked good before the finding.
        records: u64,
        finding: Finding,
    },
}

/// One raw line.
enum Raw {
    Line {
        no: u64,
        bytes: Vec<u8>,
        newline: bool,
    },
    TooLong {
        no: u64,
    },
}

struct Lines<R> {
    r: BufReader<R>,
    no: u64,
}

impl<R: Read> Lines<R> {
    fn new(r: R) -> Self {
        Lines {
            r: BufReader::with_capacity(64 * 1024, r),
            no: 0,
        }
    }

    fn next(&mut self) -> io::Result<Option<Raw>> {
        let mut buf = Vec::new();
        let n = (&mut self.r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.no += 1;
        let no = self.no;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            return Ok(Some(Raw::Line {
                no,
                bytes: buf,
                newline: true,
            }));
        }
        if buf.len() > MAX_LINE {
            // Skip the rest of the line without keeping it.
            loop {
                let chunk = self.r.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                    self.r.consume(i + 1);
                    break;
                }
                let l = chunk.len();
                self.r.consume(l);
            }
            return Ok(Some(Raw::TooLong { no }));
        }
        Ok(Some(Raw::Line {
            no,
            bytes: buf,
            newline: false,
        }))
    }
}

/// A line read as a record.
struct Parsed {
    seq: u64,
    prev: String,
    value: Map<String, Value>,
}

fn parse(bytes: &[u8]) -> Result<Parsed, (Problem, String)> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| (Problem::NotUtf8, "not UTF-8".to_string()))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| (Problem::Malformed, format!("not a JSON record: {e}")))?;
    let Value::Object(value) = value else {
        return Err((Problem::Malformed, "not a JSON object".into()));
    };
    let seq = value
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or((Problem::Malformed, "no numeric `seq`".to_string()))?;
    let prev = value
        .get("prev")
        .and_then(Value::as_str)
        .filter(|p| p.starts_with("sha256:"))
        .ok_or((Problem::Malformed, "no `prev` hash".to_string()))?
        .to_string();
    for k in ["time", "event", "server"] {
        if !value.get(k).is_some_and(Value::is_string) {
            return Err((Problem::Malformed, format!("no `{k}` string")));
        }
    }
    Ok(Parsed { seq, prev, value })
}

fn open_log(path: &Path) -> Result<Option<File>, AuditError> {
    match crate::fsutil::open_file(path) {
        Ok((f, _)) => Ok(Some(f)),
        Err(crate::fsutil::ReadError::Missing { .. }) => Ok(None),
        Err(e) => Err(AuditError::Read {
            path: path.to_path_buf(),
            source: io::Error::other(e.to_string()),
        }),
    }
}

/// Walks the chain of `log` and checks its end against `head`; reports the
/// first bad line. I/O errors are `Err`; a broken chain is `Ok(Broken)`.
/// The head's MAC is not checked (no key): see [`verify_anchored`].
pub fn verify_log(log: &Path, head: &Path) -> Result<Verdict, AuditError> {
    verify_with(log, head, None)
}

/// [`verify_log`], then the head's MAC against the keychain's audit key
/// and the log against the keychain's anchor: a log deleted with its
/// head, replaced, cut short, or rewritten (chain and head recomputed)
/// without the key.
pub fn verify_anchored(
    log: &Path,
    head: &Path,
    keychain: &KeychainView,
) -> Result<Verdict, AuditError> {
    verify_with(log, head, Some(keychain))
}

fn verify_with(
    log: &Path,
    head: &Path,
    keychain: Option<&KeychainView>,
) -> Result<Verdict, AuditError> {
    // The record the anchor names, to compare its hash on the way.
    let anchored: Option<&Head> = keychain.and_then(|k| k.anchor.as_ref()?.as_ref().ok());
    let mut anchored_hash: Option<String> = None;
    let mut warnings = Vec::new();
    let read_err = |source| AuditError::Read {
        path: log.to_path_buf(),
        source,
    };
    let mut count = 0u64;
    let mut prev_hash = GENESIS.to_string();
    let mut last_hash: Option<String> = None;
    let broken = |count, line, problem, message: String| {
        Ok(Verdict::Broken {
            records: count,
            finding: Finding {
                line,
                problem,
                message,
            },
        })
    };
    if let Some(file) = open_log(log)? {
        let mut lines = Lines::new(file);
        // Hash of the line before the previous one, for "line N-1 was inserted".
        let mut prev2_hash: Option<String> = None;
        let mut peeked: Option<Raw> = None;
        loop {
            let raw = match peeked.take() {
                Some(r) => r,
                None => match lines.next().map_err(read_err)? {
                    Some(r) => r,
                    None => break,
                },
            };
            let (no, bytes, newline) = match raw {
                Raw::TooLong { no } => {
                    return broken(
                        count,
                        Some(no),
                        Problem::Oversized,
                        format!("line {no} is longer than {MAX_LINE} bytes: not a record"),
                    );
                }
                Raw::Line { no, bytes, newline } => (no, bytes, newline),
            };
            let parsed = parse(&bytes);
            if !newline {
                let what = match &parsed {
                    Ok(_) => "ends without a newline".to_string(),
                    Err((_, why)) => format!("is cut off ({why})"),
                };
                return broken(
                    count,
                    Some(no),
                    Problem::Truncated,
                    format!("the last line, {no}, {what}: the log was truncated"),
                );
            }
            let p = match parsed {
                Ok(p) => p,
                Err((problem, why)) => {
                    return broken(count, Some(no), problem, format!("line {no}: {why}"));
                }
            };
            let h = line_hash(&bytes);
            let expected = count;
            if p.seq != expected || p.prev != prev_hash {
                // Look one line ahead to tell the cases apart.
                peeked = lines.next().map_err(read_err)?;
                let next = match &peeked {
                    Some(Raw::Line {
                        bytes,
                        newline: true,
                        ..
                    }) => parse(bytes).ok(),
                    _ => None,
                };
                let next_continues = next
                    .as_ref()
                    .is_some_and(|n| n.seq == expected && n.prev == prev_hash);
                let inserted_here = || {
                    (
                        no,
                        Problem::Inserted,
                        format!(
                            "line {no} was inserted: it is not part of the chain (line {} continues from line {})",
                            no + 1,
                            no - 1
                        ),
                    )
                };
                // Two adjacent records swapped look like an insertion of
                // the later one; a seq one ahead is read as the swap.
                let (line, problem, message) = if h == prev_hash {
                    // A byte-for-byte copy of the line before: the copy is
                    // the stray one.
                    (
                        no,
                        Problem::Inserted,
                        format!("line {no} was inserted: it is a copy of line {}", no - 1),
                    )
                } else if next_continues && (p.seq <= expected || p.seq > expected + 1) {
                    inserted_here()
                } else if p.seq == expected {
                    if no == 1 {
                        (
                            1,
                            Problem::Edited,
                            "line 1 does not start the chain: its `prev` is not the genesis hash (edited, or records removed from the start)".to_string(),
                        )
                    } else {
                        (
                            no - 1,
                            Problem::Edited,
                            format!(
                                "line {} was edited: its hash does not match the `prev` of line {no}",
                                no - 1
                            ),
                        )
                    }
                } else if p.seq > expected {
                    if next.as_ref().is_some_and(|n| n.seq == expected) {
                        (
                            no,
                            Problem::Reordered,
                            format!(
                                "line {no} holds seq {} where seq {expected} was due, and seq {expected} follows: records out of order",
                                p.seq
                            ),
                        )
                    } else {
                        let range = if p.seq == expected + 1 {
                            format!("record seq {expected} is")
                        } else {
                            format!("records seq {expected} to {} are", p.seq - 1)
                        };
                        (
                            no,
                            Problem::Removed,
                            format!("{range} missing before line {no}"),
                        )
                    }
                } else if p.seq + 1 == expected && prev2_hash.as_deref() == Some(p.prev.as_str()) {
                    (
                        no - 1,
                        Problem::Inserted,
                        format!(
                            "line {} was inserted: line {no} continues from the line before it",
                            no - 1
                        ),
                    )
                } else {
                    (
                        no,
                        Problem::Reordered,
                        format!(
                            "line {no} holds seq {} after seq {}: records out of order",
                            p.seq,
                            expected.saturating_sub(1)
                        ),
                    )
                };
                let good = count.min(line.saturating_sub(1));
                return broken(good, Some(line), problem, message);
            }
            if p.value.get("event").and_then(Value::as_str) == Some("guard")
                && p.value.get("kind").and_then(Value::as_str)
                    == Some(super::GuardKind::AuditAnchor.as_str())
            {
                warnings.push(Finding {
                    line: Some(no),
                    problem: Problem::Missing,
                    message: format!(
                        "line {no}: a launch found the log not matching its anchor: {}",
                        p.value.get("detail").and_then(Value::as_str).unwrap_or("")
                    ),
                });
            }
            if anchored.is_some_and(|a| a.seq == p.seq) {
                anchored_hash = Some(h.clone());
            }
            prev2_hash = Some(std::mem::replace(&mut prev_hash, h.clone()));
            last_hash = Some(h);
            count += 1;
        }
    }
    // The end of the log against the head file.
    let head_path = head;
    let head = match read_head(head) {
        Ok(h) => h,
        Err(HeadError::Malformed) => {
            return broken(
                count,
                None,
                Problem::Head,
                "the head file audit.head is malformed".into(),
            );
        }
        Err(HeadError::OldFormat) => {
            return broken(
                count,
                None,
                Problem::Head,
                "the head file audit.head is in the old v1 format, which no key authenticates: it cannot tell this log from a rewritten one (the next `mcp-warden run` rewrites it as v2)".into(),
            );
        }
        Err(HeadError::Read(e)) => {
            return Err(AuditError::Read {
                path: head_path.to_path_buf(),
                source: io::Error::other(e),
            });
        }
    };
    let verdict = match (&head, count) {
        (None, 0) => Verdict::Intact {
            records: 0,
            last_hash: None,
            warnings,
        },
        (None, n) => {
            return broken(
                n,
                None,
                Problem::Head,
                format!(
                    "the log holds {n} records but the head file audit.head is missing: records cut off the end cannot be ruled out"
                ),
            );
        }
        (Some(h), 0) => {
            return broken(
                0,
                Some(1),
                Problem::Truncated,
                format!(
                    "the log is empty but the head file records {} records: the log was truncated",
                    h.count()
                ),
            );
        }
        (Some(h), n) => {
            let (hs, hh) = (h.seq, &h.hash);
            let last = n - 1;
            let last_hash = last_hash.unwrap_or_default();
            if hs > last {
                return broken(
                    n,
                    Some(n),
                    Problem::Truncated,
                    format!(
                        "the log ends at line {n} (seq {last}) but the head file records seq {hs}: {} record(s) removed from the end",
                        hs - last
                    ),
                );
            } else if hs < last {
                return broken(
                    hs.saturating_add(1),
                    Some(hs.saturating_add(2)),
                    Problem::Inserted,
                    format!(
                        "the head file records seq {hs}, but the log goes on to seq {last}: line {} and after were appended behind the log's back",
                        hs.saturating_add(2)
                    ),
                );
            } else if *hh != last_hash {
                return broken(
                    n - 1,
                    Some(n),
                    Problem::Edited,
                    format!("line {n} was edited: its hash does not match the head file"),
                );
            }
            Verdict::Intact {
                records: n,
                last_hash: Some(last_hash),
                warnings,
            }
        }
    };
    let Some(keychain) = keychain else {
        return Ok(verdict);
    };
    // The head's MAC.
    if let Some(h) = &head {
        match (&keychain.key, &h.mac) {
            (Some(key), Some(_)) if !h.authentic(key) => {
                return broken(
                    0,
                    None,
                    Problem::Head,
                    "the head file's MAC does not verify with the audit key in the keychain: the log and its head were rewritten (or replaced) by someone without the key; no record can be trusted".into(),
                );
            }
            (Some(_), None) => {
                return broken(
                    0,
                    None,
                    Problem::Head,
                    "the head file carries no MAC, but the keychain holds an audit key: the head was rewritten without the key (or written with `[audit] anchor = \"off\"`)".into(),
                );
            }
            (None, Some(_)) => {
                return broken(
                    0,
                    None,
                    Problem::Head,
                    "the head file is authenticated, but the keychain holds no audit key to check it with (the keychain was reset, or keyutils lost it at reboot)".into(),
                );
            }
            _ => {}
        }
    }
    // The log against the anchor.
    let a = match &keychain.anchor {
        None => return Ok(verdict),
        Some(Err(_)) => {
            return broken(
                count,
                None,
                Problem::Head,
                "the keychain's audit-anchor item is malformed".into(),
            );
        }
        Some(Ok(a)) => a,
    };
    let Some(h) = &head else {
        let what = if log.exists() {
            "the audit log is empty and its head file is missing"
        } else {
            "the audit log and its head file are missing"
        };
        return broken(
            0,
            None,
            Problem::Missing,
            format!(
                "{what}, but its anchor in the keychain records {} records (log {}, last {}): the log was deleted",
                a.count(),
                a.id,
                a.hash
            ),
        );
    };
    if h.id != a.id {
        return broken(
            0,
            None,
            Problem::Missing,
            format!(
                "the log {} is not the log anchored in the keychain ({}, {} records, last {}): that log was deleted or replaced",
                h.id,
                a.id,
                a.count(),
                a.hash
            ),
        );
    }
    if a.count() > count {
        return broken(
            count,
            Some(count),
            Problem::Truncated,
            format!(
                "the log holds {count} records but its anchor in the keychain records {} (last {}): {} record(s) removed from the end",
                a.count(),
                a.hash,
                a.count() - count
            ),
        );
    }
    if anchored_hash.as_deref() != Some(a.hash.as_str()) {
        let no = a.seq.saturating_add(1);
        return broken(
            a.seq,
            Some(no),
            Problem::Edited,
            format!(
                "line {no} (seq {}) does not match its anchor in the keychain: the log was rewritten",
                a.seq
            ),
        );
    }
    Ok(verdict)
}

/// One item of [`read_records`].
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Record {
        line: u64,
        value: Map<String, Value>,
    },
    /// A line that is not a record.
    Bad {
        line: u64,
        problem: Problem,
        message: String,
    },
}

/// Calls `f` for every line of the log, in order, without checking the
/// chain (that is `verify_log`'s job). A missing log has no lines.
pub fn read_records(log: &Path, mut f: impl FnMut(Entry)) -> Result<(), AuditError> {
    let Some(file) = open_log(log)? else {
        return Ok(());
    };
    let mut lines = Lines::new(file);
    while let Some(raw) = lines.next().map_err(|source| AuditError::Read {
        path: log.to_path_buf(),
        source,
    })? {
        match raw {
            Raw::TooLong { no } => f(Entry::Bad {
                line: no,
                problem: Problem::Oversized,
                message: format!("longer than {MAX_LINE} bytes"),
            }),
            Raw::Line { no, bytes, newline } => match parse(&bytes) {
                Ok(p) if newline => f(Entry::Record {
                    line: no,
                    value: p.value,
                }),
                Ok(_) => f(Entry::Bad {
                    line: no,
                    problem: Problem::Truncated,
                    message: "cut off (no newline)".into(),
                }),
                Err((problem, message)) => f(Entry::Bad {
                    line: no,
                    problem: if newline { problem } else { Problem::Truncated },
                    message,
                }),
            },
        }
    }
    Ok(())
}

/// `--since`: an RFC 3339 time, or a span back from `now` (`90s`, `30m`,
/// `1h`, `2d`, `1w`).
pub fn parse_since(s: &str, now: Timestamp) -> Result<Timestamp, AuditError> {
    let err = |reason: &str| AuditError::Since {
        value: s.to_string(),
        reason: reason.to_string(),
    };
    let t = s.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| err("a span needs a unit (s, m, h, d, w)"))?;
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| err("not an RFC 3339 time or a span"))?;
    let secs_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(err("not an RFC 3339 time or a span")),
    };
    let secs = n
        .checked_mul(secs_per)
        .ok_or_else(|| err("the span is too long"))?;
    now.checked_sub(jiff::SignedDuration::from_secs(secs))
        .map_err(|_| err("the span is too long"))
}
