//! Framing of the MCP stdio transport: one JSON-RPC message per line.
//!
//! [`FrameReader`] checks each line *while reading it*: its size (bytes
//! past the limit are discarded as they arrive, never kept), its nesting
//! depth (a string- and escape-aware count of `[`/`{`), and it captures the
//! top-level `"id"` on the way, so that even a refused request can be
//! answered with its own id. A line within the bounds is then checked to
//! be UTF-8 and one well-formed JSON document (serde_json; the scan has
//! already bounded its depth).
//!
//! Conventions: empty and whitespace-only lines are skipped; a `\r` before
//! the `\n` is kept as part of the line (JSON allows it as whitespace) and
//! counts towards the size. A last line without its newline at EOF is a
//! message when it is complete JSON, and refused otherwise (a peer that
//! died mid-write).

use std::io::{self, Read};

use serde_json::Value;
use thiserror::Error;

use super::Limits;

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Fault {
    #[error("message of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge { size: u64, limit: usize },
    #[error("message nests arrays/objects deeper than the {limit}-level limit")]
    TooDeep { limit: usize },
    #[error("message is not valid UTF-8 (byte {at})")]
    NotUtf8 { at: usize },
    #[error("message is not one well-formed JSON document ({detail})")]
    NotJson { detail: String },
}

impl Fault {
    /// The JSON-RPC error code for a refused request: parse error for
    /// what is not JSON, invalid request for what breaks a bound.
    pub fn code(&self) -> i64 {
        match self {
            Fault::TooLarge { .. } | Fault::TooDeep { .. } => -32600,
            Fault::NotUtf8 { .. } | Fault::NotJson { .. } => -32700,
        }
    }

    /// What the sender can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Fault::TooLarge { .. } => "send smaller messages, or raise the guard's message limit",
            Fault::TooDeep { .. } => "flatten the message, or raise the guard's depth limit",
            Fault::NotUtf8 { .. } | Fault::NotJson { .. } => {
                "send one JSON-RPC message per line (UTF-8 JSON, no embedded newlines)"
            }
        }
    }

    /// A short name for the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::TooLarge { .. } => "too large",
            Fault::TooDeep { .. } => "too deep",
            Fault::NotUtf8 { .. } => "not UTF-8",
            Fault::NotJson { .. } => "not JSON",
        }
    }
}

/// A refused line: why, and the request's `"id"` when the scan found one
/// (a number or a string of at most [`MAX_ID`] bytes, at the top level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub what: Fault,
    pub id: Option<Value>,
}

/// One line's outcome.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A message within the bounds, without its newline (a `\r` before the
    /// newline is kept).
    Line(&'a [u8]),
    Refused(Refusal),
}

/// Longest `"id"` token captured (its JSON text, quotes included).
pub const MAX_ID: usize = 128;

/// The first read buffer; it grows (doubling) up to the message limit + 1.
const INITIAL_BUF: usize = 64 * 1024;

/// Compact the buffer before a read that would get less room than this.
const MIN_READ: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Top {
    Unknown,
    Object,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdState {
    /// No `"id"` key seen yet at depth 1.
    Idle,
    /// Inside a depth-1 key string; `key` collects its first bytes.
    Key,
    /// The key was `"id"`; waiting for its `:`.
    AfterKey,
    /// After `"id":`, waiting for the value.
    Value,
    /// Capturing a string / a number.
    Str,
    Num,
    /// Captured, or given up (the value was not a number or short string).
    Done,
}

/// The incremental scanner of one line; reset at each newline.
#[derive(Debug)]
struct Scan {
    len: u64,
    depth: usize,
    too_deep: bool,
    in_str: bool,
    esc: bool,
    /// A byte other than space, tab or `\r` was seen.
    content: bool,
    top: Top,
    expect_key: bool,
    id_state: IdState,
    key: [u8; 3],
    key_len: usize,
    id: Vec<u8>,
}

impl Scan {
    fn new() -> Scan {
        Scan {
            len: 0,
            depth: 0,
            too_deep: false,
            in_str: false,
            esc: false,
            content: false,
            top: Top::Unknown,
            expect_key: false,
            id_state: IdState::Idle,
            key: [0; 3],
            key_len: 0,
            id: Vec::with_capacity(MAX_ID),
        }
    }

    fn reset(&mut self) {
        let mut id = std::mem::take(&mut self.id);
        id.clear();
        *self = Scan { id, ..Scan::new() };
    }

    fn capture(&mut self, b: u8) {
        if self.id.len() < MAX_ID {
            self.id.push(b);
        } else {
            self.id.clear();
            self.id_state = IdState::Done;
        }
    }

    /// Scans `chunk`; returns the index of the line's newline if it is in
    /// `chunk`. `max_depth` is the depth limit.
    fn feed(&mut self, chunk: &[u8], max_depth: usize) -> Option<usize> {
        let mut i = 0;
        while i < chunk.len() {
            if self.in_str {
                // Fast path: jump to the next byte that matters in a string.
                if !self.esc && !matches!(self.id_state, IdState::Str | IdState::Key) {
                    match memchr::memchr3(b'"', b'\\', b'\n', &chunk[i..]) {
                        Some(k) => {
                            self.len += k as u64;
                            i += k;
                        }
                        None => {
                            self.len += (chunk.len() - i) as u64;
                            return None;
                        }
                    }
                }
                let b = chunk[i];
                if b == b'\n' {
                    return Some(i);
                }
                self.len += 1;
                i += 1;
                if self.esc {
                    self.esc = false;
                } else if b == b'\\' {
                    self.esc = true;
                } else if b == b'"' {
                    self.in_str = false;
                    self.end_string();
                    continue;
                }
                match self.id_state {
                    IdState::Str => self.capture(b),
                    IdState::Key => {
                        if self.key_len < self.key.len() {
                            self.key[self.key_len] = b;
                        }
                        self.key_len += 1;
                    }
                    _ => {}
                }
                continue;
            }
            let b = chunk[i];
            if b == b'\n' {
                return Some(i);
            }
            self.len += 1;
            i += 1;
            if self.id_state == IdState::Num {
                if matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    self.capture(b);
                    continue;
                }
                self.id_state = IdState::Done;
            }
            match b {
                b' ' | b'\t' | b'\r' => continue,
                b'"' => {
                    self.in_str = true;
                    if self.depth == 1 && self.top == Top::Object {
                        if self.id_state == IdState::Value {
                            self.id_state = IdState::Str;
                            self.capture(b);
                        } else if self.expect_key && self.id_state == IdState::Idle {
                            self.id_state = IdState::Key;
                            self.key_len = 0;
                        }
                    }
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > max_depth {
                        self.too_deep = true;
                    }
                    if self.depth == 1 {
                        if self.top == Top::Unknown {
                            self.top = if b == b'{' { Top::Object } else { Top::Other };
                        }
                        self.expect_key = b == b'{';
                    } else if self.id_state == IdState::Value && self.depth == 2 {
                        self.id_state = IdState::Done;
                    }
                }
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                b',' if self.depth == 1 => self.expect_key = true,
                b':' if self.depth == 1 => {
                    self.expect_key = false;
                    if self.id_state == IdState::AfterKey {
                        self.id_state = IdState::Value;
                    }
                }
                b'-' | b'0'..=b'9' if self.depth == 1 && self.id_state == IdState::Value => {
                    self.id_state = IdState::Num;
                    self.capture(b);
                }
                _ => {
                    if self.depth == 1 && self.id_state == IdState::Value {
                        // `true`, `null`, ...: not an id we answer with.
                        self.id_state = IdState::Done;
                    }
                }
            }
            self.content = true;
        }
        None
    }

    fn end_string(&mut self) {
        match self.id_state {
            IdState::Key => {
                self.id_state = if self.key_len == 2 && &self.key[..2] == b"id" {
                    IdState::AfterKey
                } else {
                    IdState::Idle
                };
                self.expect_key = false;
            }
            IdState::Str => {
                self.capture(b'"');
                if self.id_state == IdState::Str {
                    self.id_state = IdState::Done;
                }
            }
            _ => {}
        }
    }

    /// The captured id, if it is valid JSON (a number or a string).
    fn id(&self) -> Option<Value> {
        if self.id.is_empty() || !matches!(self.id_state, IdState::Done | IdState::Num) {
            return None;
        }
        match serde_json::from_slice::<Value>(&self.id) {
            Ok(v @ (Value::Number(_) | Value::String(_))) => Some(v),
            _ => None,
        }
    }
}

/// Reads framed lines from `R` within [`Limits`]. Memory: one buffer that
/// grows up to `max_message + 1` bytes only when a message needs it.
pub struct FrameReader<R> {
    inner: R,
    limits: Limits,
    buf: Vec<u8>,
    /// The current line starts at `start`; `[scanned, end)` is unscanned.
    start: usize,
    scanned: usize,
    end: usize,
    /// The current line is refused: its bytes are dropped as they arrive.
    discarding: bool,
    scan: Scan,
    eof: bool,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R, limits: Limits) -> FrameReader<R> {
        let first = INITIAL_BUF.min(limits.max_message.saturating_add(1)).max(1);
        FrameReader {
            inner,
            limits,
            buf: vec![0; first],
            start: 0,
            scanned: 0,
            end: 0,
            discarding: false,
            scan: Scan::new(),
            eof: false,
        }
    }

    /// Whether bytes already read wait to be framed (the next call may not
    /// need to block on the input).
    pub fn has_buffered(&self) -> bool {
        self.scanned < self.end
    }

    /// The next message or refusal; `None` at EOF. `before_block` runs
    /// just before a read that may block (to flush the caller's output).
    pub fn next_frame(
        &mut self,
        before_block: &mut dyn FnMut() -> io::Result<()>,
    ) -> io::Result<Option<Frame<'_>>> {
        loop {
            if self.scanned < self.end {
                let found = self
                    .scan
                    .feed(&self.buf[self.scanned..self.end], self.limits.max_depth);
                match found {
                    Some(k) => {
                        let nl = self.scanned + k;
                        let line_start = self.start;
                        self.start = nl + 1;
                        self.scanned = nl + 1;
                        match self.finish_line(line_start, nl) {
                            Some(Ok((s, e))) => return Ok(Some(Frame::Line(&self.buf[s..e]))),
                            Some(Err(r)) => return Ok(Some(Frame::Refused(r))),
                            None => continue, // a blank line
                        }
                    }
                    None => self.scanned = self.end,
                }
            }
            if !self.discarding
                && (self.scan.len > self.limits.max_message as u64 || self.scan.too_deep)
            {
                self.discarding = true;
            }
            if self.discarding {
                self.start = 0;
                self.scanned = 0;
                self.end = 0;
            }
            if self.eof {
                if self.scan.len == 0 && !self.discarding && self.start == self.end {
                    return Ok(None);
                }
                // The last line, without its newline.
                let (s, e) = (self.start, self.end);
                self.start = self.end;
                self.scanned = self.end;
                return Ok(match self.finish_line(s, e) {
                    Some(Ok((s, e))) => Some(Frame::Line(&self.buf[s..e])),
                    Some(Err(r)) => Some(Frame::Refused(r)),
                    None => None,
                });
            }
            self.fill(before_block)?;
        }
    }

    /// Reads more input into the buffer (compacting or growing it first).
    fn fill(&mut self, before_block: &mut dyn FnMut() -> io::Result<()>) -> io::Result<()> {
        // Move a partial line to the front when little room is left, so
        // reads stay large.
        if self.start > 0 && (self.start == self.end || self.buf.len() - self.end < MIN_READ) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let cap = self.limits.max_message.saturating_add(1);
            let grown = (self.buf.len() * 2).min(cap).max(self.buf.len() + 1);
            self.buf.resize(grown, 0);
        }
        before_block()?;
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The outcome of the line `buf[s..e]` (scanned to its end); `None`
    /// for a blank line, else the message's range or the refusal. Resets
    /// the scanner.
    fn finish_line(&mut self, s: usize, e: usize) -> Option<Result<(usize, usize), Refusal>> {
        let len = self.scan.len;
        let discarding = std::mem::replace(&mut self.discarding, false);
        let limit = self.limits.max_message;
        let fault = if len > limit as u64 {
            Some(Fault::TooLarge { size: len, limit })
        } else if self.scan.too_deep {
            Some(Fault::TooDeep {
                limit: self.limits.max_depth,
            })
        } else if !self.scan.content {
            self.scan.reset();
            return None;
        } else {
            debug_assert!(!discarding);
            check_json(&self.buf[s..e]).err()
        };
        match fault {
            Some(what) => {
                let id = self.scan.id();
                self.scan.reset();
                Some(Err(Refusal { what, id }))
            }
            None => {
                self.scan.reset();
                Some(Ok((s, e)))
            }
        }
    }
}

/// UTF-8 and one JSON document (any value; trailing whitespace allowed).
fn check_json(line: &[u8]) -> Result<(), Fault> {
    let text = std::str::from_utf8(line).map_err(|e| Fault::NotUtf8 {
        at: e.valid_up_to(),
    })?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| Fault::NotJson {
            // serde_json's message names the position, never the content.
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits(max_message: usize, max_depth: usize) -> Limits {
        Limits {
            max_message,
            max_depth,
        }
    }

    /// Every frame of `input`, read in chunks of `chunk` bytes.
    fn frames_chunked(input: &[u8], l: Limits, chunk: usize) -> Vec<Result<Vec<u8>, Refusal>> {
        struct Chunked<'a>(&'a [u8], usize);
        impl Read for Chunked<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = FrameReader::new(Chunked(input, chunk), l);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame(&mut || Ok(())).unwrap() {
            out.push(match f {
                Frame::Line(b) => Ok(b.to_vec()),
                Frame::Refused(r) => Err(r),
            });
        }
        out
    }

    /// Same result whatever the read sizes.
    fn frames(input: &[u8], l: Limits) -> Vec<Result<Vec<u8>, Refusal>> {
        let whole = frames_chunked(input, l, usize::MAX);
        for chunk in [1, 2, 7, 4096] {
            assert_eq!(frames_chunked(input, l, chunk), whole, "chunk {chunk}");
        }
        whole
    }

    fn ok(s: &str) -> Result<Vec<u8>, Refusal> {
        Ok(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_pass_byte_for_byte_and_blank_lines_are_skipped() {
        let input = b"{\"a\": 1}\n\n   \n\t\r\n[1,2]\r\n\"s\"\n";
        assert_eq!(
            frames(input, Limits::default()),
            vec![ok("{\"a\": 1}"), ok("[1,2]\r"), ok("\"s\"")]
        );
    }

    #[test]
    fn size_limit_exact_boundary() {
        // A 20-byte message: allowed at a limit of 20, refused at 19.
        let msg = br#"{"id":1,"x":"12345"}"#;
        assert_eq!(msg.len(), 20);
        let mut input = msg.to_vec();
        input.push(b'\n');
        input.extend_from_slice(b"[]\n");
        assert_eq!(
            frames(&input, limits(20, 64)),
            vec![ok(r#"{"id":1,"x":"12345"}"#), ok("[]")]
        );
        let got = frames(&input, limits(19, 64));
        assert_eq!(
            got[0],
            Err(Refusal {
                what: Fault::TooLarge {
                    size: 20,
                    limit: 19
                },
                id: Some(json!(1)),
            })
        );
        assert_eq!(got[1], ok("[]"));
    }

    #[test]
    fn oversized_request_is_discarded_as_it_arrives_and_keeps_its_id() {
        let big = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":\"req-7\",\"method\":\"x\",\"params\":\"{}\"}}\n{{\"id\":8}}\n",
            "y".repeat(1 << 20)
        );
        let l = limits(64 * 1024, 64);
        let mut r = FrameReader::new(big.as_bytes(), l);
        let f = r.next_frame(&mut || Ok(())).unwrap().unwrap();
        let Frame::Refused(refusal) = f else {
            panic!("not refused: {f:?}")
        };
        assert_eq!(refusal.id, Some(json!("req-7")));
        assert!(
            matches!(refusal.what, Fault::TooLarge { size, .. } if size == big.find('\n').unwrap() as u64)
        );
        assert_eq!(refusal.what.code(), -32600);
        // Never kept more than the limit + 1.
        assert!(r.buf.len() <= 64 * 1024 + 1, "{}", r.buf.len());
        let f = r.next_frame(&mut || Ok(())).unwrap().unwrap();
        assert_eq!(f, Frame::Line(b"{\"id\":8}"));
        assert!(r.next_frame(&mut || Ok(())).unwrap().is_none());
    }

    #[test]
    fn depth_limit() {
        let l = limits(1 << 20, 3);
        let input = b"[[[1]]]\n{\"id\":5,\"a\":[[{}]]}\n{\"a\":\"[[[[[[\"}\n";
        let got = frames(input, l);
        assert_eq!(got[0], ok("[[[1]]]"));
        assert_eq!(
            got[1],
            Err(Refusal {
                what: Fault::TooDeep { limit: 3 },
                id: Some(json!(5))
            })
        );
        assert_eq!(got[2], ok("{\"a\":\"[[[[[[\"}"));
    }

    #[test]
    fn ten_thousand_deep_is_refused_without_recursion() {
        let mut input = b"{\"id\":42,\"p\":".to_vec();
        input.extend(std::iter::repeat_n(b'[', 10_000));
        input.extend(std::iter::repeat_n(b']', 10_000));
        input.extend_from_slice(b"}\n{\"id\":43}\n");
        let got = frames_chunked(&input, Limits::default(), 4096);
        assert_eq!(
            got,
            vec![
                Err(Refusal {
                    what: Fault::TooDeep { limit: 64 },
                    id: Some(json!(42))
                }),
                ok("{\"id\":43}")
            ]
        );
    }

    #[test]
    fn strings_with_brackets_and_escaped_quotes() {
        let l = limits(1 << 20, 2);
        let line = r#"{"id":"a\"b[","s":"\\","t":"\"{{{{[[[[\\\"","u":[1]}"#;
        let got = frames(format!("{line}\n").as_bytes(), l);
        assert_eq!(got, vec![ok(line)]);
        // The id with an escaped quote was captured as its JSON value.
        let deep = r#"{"id":"a\"b[","u":[[[1]]]}"#;
        let got = frames(format!("{deep}\n").as_bytes(), l);
        assert_eq!(
            got,
            vec![Err(Refusal {
                what: Fault::TooDeep { limit: 2 },
                id: Some(json!("a\"b["))
            })]
        );
    }

    #[test]
    fn id_is_only_the_top_level_one() {
        let l = limits(10, 64);
        let cases: [(&str, Option<Value>); 6] = [
            (
                r#"{"params":{"id":1},"id":2,"x":"0123456789"}"#,
                Some(json!(2)),
            ),
            (r#"{"x":"id","y":"0123456789"}"#, None),
            (r#"{"id":null,"y":"0123456789"}"#, None),
            (r#"{"id":{"a":1},"y":"0123456789"}"#, None),
            (r#"[{"id":3},"0123456789"]"#, None),
            (
                r#"{ "id" : -1.5e3 , "y":"0123456789"}"#,
                Some(json!(-1.5e3)),
            ),
        ];
        for (line, want) in cases {
            let got = frames(format!("{line}\n").as_bytes(), l);
            match &got[0] {
                Err(r) => assert_eq!(r.id, want, "{line}"),
                Ok(_) => panic!("{line} not refused"),
            }
        }
        // An overlong string id is not captured.
        let long = format!(r#"{{"id":"{}"}}"#, "z".repeat(MAX_ID + 10));
        let got = frames(format!("{long}\n").as_bytes(), limits(50, 64));
        assert_eq!(got[0].as_ref().unwrap_err().id, None);
    }

    #[test]
    fn malformed_json_and_invalid_utf8_are_refused() {
        let input =
            b"{\"id\":3,\"a\":}\n{\"id\":4} {}\nnot json\n{\"id\":5,\"s\":\"\xff\"}\n{\"ok\":1}\n";
        let got = frames(input, Limits::default());
        assert_eq!(got.len(), 5);
        let e0 = got[0].as_ref().unwrap_err();
        assert!(matches!(e0.what, Fault::NotJson { .. }), "{e0:?}");
        assert_eq!(e0.id, Some(json!(3)));
        assert_eq!(e0.what.code(), -32700);
        assert!(matches!(
            got[1].as_ref().unwrap_err().what,
            Fault::NotJson { .. }
        ));
        assert!(matches!(
            got[2].as_ref().unwrap_err().what,
            Fault::NotJson { .. }
        ));
        let e3 = got[3].as_ref().unwrap_err();
        assert_eq!(e3.what, Fault::NotUtf8 { at: 13 });
        assert_eq!(e3.id, Some(json!(5)));
        assert_eq!(got[4], ok("{\"ok\":1}"));
    }

    #[test]
    fn last_line_without_newline() {
        // Complete JSON: a message; incomplete: refused.
        assert_eq!(
            frames(b"{\"a\":1}\n{\"b\":2}", Limits::default()),
            vec![ok("{\"a\":1}"), ok("{\"b\":2}")]
        );
        let got = frames(b"{\"a\":1}\n{\"id\":9,\"b\":", Limits::default());
        assert_eq!(got[0], ok("{\"a\":1}"));
        let e = got[1].as_ref().unwrap_err();
        assert!(matches!(e.what, Fault::NotJson { .. }), "{e:?}");
        assert_eq!(e.id, Some(json!(9)));
        assert_eq!(frames(b"  ", Limits::default()), vec![]);
        assert_eq!(frames(b"", Limits::default()), vec![]);
    }

    #[test]
    fn oversized_last_line_at_eof() {
        let input = format!("{{\"id\":1,\"x\":\"{}\"", "a".repeat(5000));
        let got = frames(input.as_bytes(), limits(1000, 64));
        assert_eq!(
            got,
            vec![Err(Refusal {
                what: Fault::TooLarge {
                    size: input.len() as u64,
                    limit: 1000
                },
                id: Some(json!(1))
            })]
        );
    }
}
