//! Framing of the MCP stdio transport: one JSON-RPC message per line.
//!
//! [`FrameReader`] checks each line within its bounds: its size (bytes
//! past the limit are discarded as they arrive, never kept) and its
//! nesting depth, and that it is one strict RFC 8259 JSON document in
//! UTF-8. The common case, a whole line already in the read buffer, takes
//! one pass of an iterative validator ([`validate`]) that also notes the
//! top-level `id`, `method`, `params`, `result` and `error` ([`Scanned`])
//! for the session, so it need not parse the envelope again. A line that
//! arrives in parts, or that the validator refuses, goes through the
//! incremental scan (string- and escape-aware depth count, the top-level
//! `"id"` captured on the way, so that even a refused request can be
//! answered with its own id) and is validated once complete. The
//! validator is as strict as a decode into values, and refuses what
//! parsers read differently: lone surrogates, numbers outside the f64
//! range, a member name twice in any object (names compared decoded), and
//! integers that a double cannot hold exactly ([`Fault::Ambiguous`]). It
//! agrees with a strict serde_json decode, and what it accepts means the
//! same to Node's `JSON.parse` and Python's `json` (`differential.rs`).
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
    /// Well-formed JSON that parsers read differently: a member name twice
    /// in one object, an integer a double cannot hold exactly.
    #[error("message is JSON that parsers read differently ({detail})")]
    Ambiguous { detail: String },
}

impl Fault {
    /// The JSON-RPC error code for a refused request: parse error for
    /// what is not JSON, invalid request for what breaks a bound.
    pub fn code(&self) -> i64 {
        match self {
            Fault::TooLarge { .. } | Fault::TooDeep { .. } => -32600,
            Fault::NotUtf8 { .. } | Fault::NotJson { .. } | Fault::Ambiguous { .. } => -32700,
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
            Fault::Ambiguous { .. } => {
                "send each member name once per object, and integers beyond 2^53 as strings"
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
            Fault::Ambiguous { .. } => "ambiguous JSON",
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
    /// newline is kept), and what the validator found at its top level.
    Line(&'a [u8], &'a Scanned),
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
    /// The validator's scratch space (reused).
    scratch: Scratch,
    /// The top level of the last message returned.
    last: Scanned,
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
            scratch: Scratch::default(),
            last: Scanned::default(),
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
            // Fast path: a whole line already in the buffer, at the start
            // of a fresh scan, is validated in one pass. A line it refuses
            // (and any line that arrives in parts) goes through the
            // incremental scan below, which names the fault and the id.
            if self.scanned == self.start
                && self.scanned < self.end
                && self.scan.len == 0
                && !self.discarding
                && let Some(k) = memchr::memchr(b'\n', &self.buf[self.start..self.end])
                && k <= self.limits.max_message
            {
                let (s, nl) = (self.start, self.start + k);
                if let Ok(found) =
                    validate(&self.buf[s..nl], self.limits.max_depth, &mut self.scratch)
                {
                    self.start = nl + 1;
                    self.scanned = nl + 1;
                    match found {
                        Some(sc) => {
                            self.last = sc;
                            return Ok(Some(Frame::Line(&self.buf[s..nl], &self.last)));
                        }
                        None => continue, // a blank line
                    }
                }
            }
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
                            Some(Ok((s, e))) => {
                                return Ok(Some(Frame::Line(&self.buf[s..e], &self.last)));
                            }
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
                    Some(Ok((s, e))) => Some(Frame::Line(&self.buf[s..e], &self.last)),
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
            let line = &self.buf[s..e];
            match validate(line, self.limits.max_depth, &mut self.scratch) {
                Ok(Some(sc)) => {
                    self.last = sc;
                    None
                }
                // Not reached: the scan saw content, which is not blank.
                Ok(None) => {
                    self.scan.reset();
                    return None;
                }
                Err(bad) => Some(bad.fault(line, self.limits.max_depth)),
            }
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

/// What the validator found at the top level of a well-formed message, for
/// the session's common path (so that it need not parse the envelope
/// again). Spans are byte ranges of the line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scanned {
    /// The message is an object whose top-level keys have no escapes,
    /// with at most one each of `id`, `method`, `params`, `result` and
    /// `error`, and `method` absent, null or a string without escapes.
    /// When `false` the spans below are incomplete: parse the message in
    /// full (a duplicate key must be refused there).
    pub plain: bool,
    /// The `id` value's JSON text (`None` when absent or null).
    pub id: Option<(usize, usize)>,
    /// The `method` string's contents, without the quotes.
    pub method: Option<(usize, usize)>,
    /// The JSON text of `params`, `result` and `error` (`None` when absent
    /// or null).
    pub params: Option<(usize, usize)>,
    pub result: Option<(usize, usize)>,
    pub error: Option<(usize, usize)>,
    /// Members present with the value `null` (their spans above are
    /// `None`): `"id": null` is not a missing id, and `"result": null`
    /// is still a result.
    pub id_null: bool,
    pub method_null: bool,
    pub result_null: bool,
    pub error_null: bool,
}

/// The whole-message check of a line that is already complete (the
/// session's own entry points use it): strict RFC 8259 JSON within
/// `limits.max_depth`, and what its top level holds. Size is not checked.
pub fn scan_message(line: &[u8], limits: Limits) -> Result<Scanned, Fault> {
    match validate(line, limits.max_depth, &mut Scratch::default()) {
        Ok(Some(sc)) => Ok(sc),
        Ok(None) => Err(Fault::NotJson {
            detail: "the line is blank".into(),
        }),
        Err(bad) => Err(bad.fault(line, limits.max_depth)),
    }
}

/// Where and why [`validate`] stopped.
#[derive(Debug)]
struct Bad {
    at: usize,
    what: &'static str,
}

impl Bad {
    /// The fault of `line`, in the order the framer has always reported
    /// them: too deep, then not UTF-8 (anywhere in the line), then not JSON.
    fn fault(&self, line: &[u8], max_depth: usize) -> Fault {
        if self.what == TOO_DEEP {
            return Fault::TooDeep { limit: max_depth };
        }
        match std::str::from_utf8(line) {
            Err(e) => Fault::NotUtf8 {
                at: e.valid_up_to(),
            },
            Ok(_) if matches!(self.what, DUPLICATE | INEXACT) => Fault::Ambiguous {
                detail: format!("{} at byte {}", self.what, self.at),
            },
            Ok(_) => Fault::NotJson {
                detail: format!("{} at byte {}", self.what, self.at),
            },
        }
    }
}

const TOO_DEEP: &str = "nested too deep";
const DUPLICATE: &str = "a member name occurs twice in one object";
const INEXACT: &str = "an integer that a double cannot hold exactly";

fn bad(at: usize, what: &'static str) -> Bad {
    Bad { at, what }
}

/// JSON whitespace (`\n` included, though a framed line never holds one).
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\r' | b'\n') = b.get(i) {
        i += 1;
    }
    i
}

/// Top-level keys the envelope reads (bit numbers of `seen`).
const F_ID: u8 = 1;
const F_METHOD: u8 = 2;
const F_PARAMS: u8 = 3;
const F_RESULT: u8 = 4;
const F_ERROR: u8 = 5;

/// The validator's scratch space, reused from line to line: the stack of
/// open brackets (at most `max_depth`), the member names of the objects
/// still open (for the duplicate check), and the decoded text of names
/// that hold escapes. All of it is bounded by the line's size.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    stack: Vec<u8>,
    /// For each open object, where its names start in `names`.
    objects: Vec<usize>,
    names: Vec<Name>,
    decoded: Vec<u8>,
}

/// One member name: a span of the line (no escapes: the text is the
/// name) or of [`Scratch::decoded`] (escapes decoded).
#[derive(Debug, Clone, Copy)]
struct Name {
    start: usize,
    end: usize,
    decoded: bool,
}

impl Scratch {
    fn clear(&mut self) {
        self.stack.clear();
        self.objects.clear();
        self.names.clear();
        self.decoded.clear();
    }
}

/// One strict pass over a complete line: exactly one JSON value (RFC 8259:
/// structure, strings with their escapes and UTF-8, numbers, literals)
/// with only whitespace around it, nesting at most `max_depth`, no
/// recursion, and nothing that decoders read differently: no member name
/// twice in any object (compared decoded: `"a"` and `"\u0061"` are the
/// same name), no lone surrogate, no number outside the f64 range, no
/// integer a double cannot hold exactly. `Ok(None)` for a blank line.
fn validate(b: &[u8], max_depth: usize, scratch: &mut Scratch) -> Result<Option<Scanned>, Bad> {
    scratch.clear();
    let mut i = skip_ws(b, 0);
    if i == b.len() {
        return Ok(None);
    }
    let mut sc = Scanned {
        plain: b[i] == b'{',
        ..Scanned::default()
    };
    let mut seen = 0u8;
    // The top-level member whose value is being read, and where it starts.
    let mut field = 0u8;
    let mut vstart = 0usize;
    'value: loop {
        let Some(&c) = b.get(i) else {
            return Err(bad(i, "a value is missing"));
        };
        match c {
            b'{' | b'[' => {
                scratch.stack.push(c);
                let depth = scratch.stack.len();
                if depth > max_depth {
                    return Err(bad(i, TOO_DEEP));
                }
                i = skip_ws(b, i + 1);
                match (c, b.get(i)) {
                    (b'{', Some(b'}')) | (b'[', Some(b']')) => {
                        scratch.stack.pop();
                        i += 1;
                    }
                    (b'{', _) => {
                        scratch.objects.push(scratch.names.len());
                        i = key(b, i, depth, &mut sc, &mut seen, &mut field, scratch)?;
                        if depth == 1 {
                            vstart = i;
                        }
                        continue 'value;
                    }
                    _ => continue 'value,
                }
            }
            b'"' => i = string(b, i + 1)?.0,
            b'-' | b'0'..=b'9' => i = number(b, i)?,
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            _ => return Err(bad(i, "expected a value")),
        }
        // A value ended at `i`; close what it ends.
        loop {
            let depth = scratch.stack.len();
            if depth == 1 && field != 0 {
                member(b, field, vstart, i, &mut sc);
                field = 0;
            }
            i = skip_ws(b, i);
            let Some(&open) = scratch.stack.last() else {
                return match i == b.len() {
                    true => Ok(Some(sc)),
                    false => Err(bad(i, "trailing characters after the JSON document")),
                };
            };
            match (open, b.get(i)) {
                (_, Some(b',')) => {
                    i = skip_ws(b, i + 1);
                    if open == b'{' {
                        i = key(b, i, depth, &mut sc, &mut seen, &mut field, scratch)?;
                        if depth == 1 {
                            vstart = i;
                        }
                    }
                    continue 'value;
                }
                (b'{', Some(b'}')) => {
                    close_object(b, i, scratch)?;
                    scratch.stack.pop();
                    i += 1;
                }
                (b'[', Some(b']')) => {
                    scratch.stack.pop();
                    i += 1;
                }
                (b'{', _) => return Err(bad(i, "expected `,` or `}`")),
                _ => return Err(bad(i, "expected `,` or `]`")),
            }
        }
    }
}

/// Objects with at most this many members are checked for a duplicate
/// name pair by pair (no allocation, and most names differ in their first
/// bytes); larger ones by sorting their names, O(n log n).
const SMALL_OBJECT: usize = 8;

/// The object that `}` at `at` closes: refused if a name occurs twice in
/// it (JSON parsers keep the first, the last, or either: the guard would
/// judge one member and the server act on another).
fn close_object(b: &[u8], at: usize, scratch: &mut Scratch) -> Result<(), Bad> {
    let base = scratch.objects.pop().unwrap_or(0);
    let Scratch { names, decoded, .. } = scratch;
    let text = |n: &Name| -> &[u8] {
        if n.decoded {
            &decoded[n.start..n.end]
        } else {
            &b[n.start..n.end]
        }
    };
    let these = &mut names[base..];
    let duplicate = if these.len() <= SMALL_OBJECT {
        (1..these.len()).any(|j| these[..j].iter().any(|n| text(n) == text(&these[j])))
    } else {
        these.sort_unstable_by(|x, y| text(x).cmp(text(y)));
        these.windows(2).any(|w| text(&w[0]) == text(&w[1]))
    };
    names.truncate(base);
    if base == 0 {
        decoded.clear();
    }
    if duplicate {
        return Err(bad(at, DUPLICATE));
    }
    Ok(())
}

/// An object's key at `i`, its `:` and the whitespace after it; returns
/// where the value starts. Notes the key's decoded name for the duplicate
/// check, and at the top level (`depth` 1) which envelope field it names.
fn key(
    b: &[u8],
    i: usize,
    depth: usize,
    sc: &mut Scanned,
    seen: &mut u8,
    field: &mut u8,
    scratch: &mut Scratch,
) -> Result<usize, Bad> {
    if b.get(i) != Some(&b'"') {
        return Err(bad(i, "expected a key string"));
    }
    let (end, escaped) = string(b, i + 1)?;
    let name = if escaped {
        let start = scratch.decoded.len();
        unescape(&b[i + 1..end - 1], &mut scratch.decoded);
        Name {
            start,
            end: scratch.decoded.len(),
            decoded: true,
        }
    } else {
        Name {
            start: i + 1,
            end: end - 1,
            decoded: false,
        }
    };
    scratch.names.push(name);
    if depth == 1 {
        *field = match &b[i + 1..end - 1] {
            _ if escaped => {
                // Escapes may spell a field's name: leave it to the full parse.
                sc.plain = false;
                0
            }
            b"id" => F_ID,
            b"method" => F_METHOD,
            b"params" => F_PARAMS,
            b"result" => F_RESULT,
            b"error" => F_ERROR,
            _ => 0,
        };
        if *field != 0 {
            if *seen & (1 << *field) != 0 {
                sc.plain = false;
            }
            *seen |= 1 << *field;
        }
    }
    let j = skip_ws(b, end);
    if b.get(j) != Some(&b':') {
        return Err(bad(j, "expected `:`"));
    }
    Ok(skip_ws(b, j + 1))
}

/// Appends the UTF-8 text of a string's contents `s` (between its quotes,
/// already checked by [`string`]: valid escapes, surrogates in pairs).
fn unescape(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        let Some(k) = memchr::memchr(b'\\', &s[i..]) else {
            out.extend_from_slice(&s[i..]);
            return;
        };
        out.extend_from_slice(&s[i..i + k]);
        i += k;
        let c = match s.get(i + 1) {
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => u32::from(b'\n'),
            Some(b'r') => u32::from(b'\r'),
            Some(b't') => u32::from(b'\t'),
            Some(b'u') => {
                let hi = hex4(s, i + 2).unwrap_or(0xFFFD);
                i += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = hex4(s, i + 4).unwrap_or(0xDC00);
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    hi
                }
            }
            Some(&c) => u32::from(c),
            None => return,
        };
        i += 2;
        let ch = char::from_u32(c).unwrap_or('\u{FFFD}');
        out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
    }
}

/// Records the top-level member `field` whose value is `b[s..e]`.
fn member(b: &[u8], field: u8, s: usize, e: usize, sc: &mut Scanned) {
    let v = &b[s..e];
    if v == b"null" {
        match field {
            F_ID => sc.id_null = true,
            F_METHOD => sc.method_null = true,
            F_RESULT => sc.result_null = true,
            F_ERROR => sc.error_null = true,
            _ => {}
        }
        return;
    }
    let span = Some((s, e));
    match field {
        F_ID => sc.id = span,
        F_METHOD => {
            if v.len() >= 2 && v[0] == b'"' && memchr::memchr(b'\\', v).is_none() {
                sc.method = Some((s + 1, e - 1));
            } else {
                sc.plain = false;
            }
        }
        F_PARAMS => sc.params = span,
        F_RESULT => sc.result = span,
        _ => sc.error = span,
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The top bit of each byte of `w` that is a control character or not
/// ASCII (`c | (c - 0x20)` has it exactly then), or a quote or a
/// backslash. Borrows only move upwards from a byte that is itself
/// marked, so the lowest mark is always exact (higher ones may not be).
fn special(w: u64) -> u64 {
    ((w | w.wrapping_sub(0x20 * ONES)) & HIGH) | quote_or_backslash(w)
}

/// The top bit of each byte that is `"` or `\\` (the lowest one exact:
/// the classic zero-byte test on `w ^ c`).
fn quote_or_backslash(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    zero(w ^ (b'"' as u64 * ONES)) | zero(w ^ (b'\\' as u64 * ONES))
}

/// A string's rest from `i` (after its opening quote); returns the index
/// after the closing quote and whether it held an escape. One pass, eight
/// bytes at a time, stopping only at a quote, a backslash, a control
/// character or a byte that is not ASCII (whose character is then
/// checked as UTF-8: UTF-8 never puts a quote or a backslash inside a
/// multi-byte character).
fn string(b: &[u8], mut i: usize) -> Result<(usize, bool), Bad> {
    let mut escaped = false;
    loop {
        while let Some(w) = b.get(i..i + 8) {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            let m = special(u64::from_le_bytes(a));
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        let Some(&c) = b.get(i) else {
            return Err(bad(b.len(), "unterminated string"));
        };
        match c {
            b'"' => return Ok((i + 1, escaped)),
            b'\\' => {}
            0..0x20 => return Err(bad(i, "control character in a string")),
            0x20..0x80 => {
                i += 1;
                continue;
            }
            _ => {
                let width = match c {
                    0xC2..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    0xF0..=0xF4 => 4,
                    _ => return Err(bad(i, "invalid UTF-8")),
                };
                match b.get(i..i + width).map(std::str::from_utf8) {
                    Some(Ok(_)) => i += width,
                    _ => return Err(bad(i, "invalid UTF-8")),
                }
                continue;
            }
        }
        escaped = true;
        match b.get(i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
            Some(b'u') => {
                // A surrogate must come as a high and low pair: a lone one
                // is not a character, and decoders disagree on it.
                let unit = hex4(b, i + 2).ok_or_else(|| bad(i, "invalid escape in a string"))?;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = (b.get(i + 6..i + 8) == Some(&b"\\u"[..]))
                            .then(|| hex4(b, i + 8))
                            .flatten();
                        match low {
                            Some(0xDC00..=0xDFFF) => i += 12,
                            _ => return Err(bad(i, "lone surrogate in a string")),
                        }
                    }
                    0xDC00..=0xDFFF => return Err(bad(i, "lone surrogate in a string")),
                    _ => i += 6,
                }
            }
            _ => return Err(bad(i, "invalid escape in a string")),
        }
    }
}

/// The four hex digits at `i` of a `\\u` escape, as a UTF-16 unit.
fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let h = b.get(i..i + 4)?;
    if !h.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` from `i`,
/// within the range of an f64 (`1e999` is refused, as serde_json does;
/// a decoder that reads it as infinity reads another message).
///
/// An integer (no fraction, no exponent) must be one that a double holds
/// exactly. Node's `JSON.parse` (most MCP servers and clients) reads every
/// number as a double, while Python's `json`, serde_json and the guard's
/// ids read integers exactly: `9007199254740993` is one value to the guard
/// and a Python server and another (`…992`) to a Node server, so an id,
/// a limit or an amount could mean two things. Such an integer is refused
/// wherever it is, not silently rounded; beyond 2^53 only integers that
/// are a double's exact value pass (`2^60`), which every parser reads
/// alike. Numbers with a fraction or an exponent are doubles everywhere.
fn number(b: &[u8], i: usize) -> Result<usize, Bad> {
    let start = i;
    let (end, exp) = number_syntax(b, i)?;
    let text = &b[start..end];
    // Up to 15 digits an integer is always exact, and only an exponent or
    // a long integer part can overflow.
    if !exp && text.len() <= 15 {
        return Ok(end);
    }
    let f = std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|f| f.is_finite());
    let Some(f) = f else {
        return Err(bad(start, "number out of range"));
    };
    if !exp && memchr::memchr(b'.', text).is_none() {
        // The integer's digits against the exact decimal of the nearest
        // double (Rust prints a double's exact value with `{:.0}`).
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        if digits.len() > 15 && format!("{:.0}", f.abs()).as_bytes() != digits {
            return Err(bad(start, INEXACT));
        }
    }
    Ok(end)
}

/// The syntax of [`number`]: where it ends, and whether it has an exponent.
fn number_syntax(b: &[u8], mut i: usize) -> Result<(usize, bool), Bad> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i + 1),
        _ => return Err(bad(i, "invalid number")),
    }
    if b.get(i) == Some(&b'.') {
        let j = digits(b, i + 1);
        if j == i + 1 {
            return Err(bad(j, "invalid number"));
        }
        i = j;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let j = digits(b, i);
        if j == i {
            return Err(bad(j, "invalid number"));
        }
        return Ok((j, true));
    }
    Ok((i, false))
}

fn literal(b: &[u8], i: usize, lit: &[u8]) -> Result<usize, Bad> {
    match b.get(i..i + lit.len()) {
        Some(s) if s == lit => Ok(i + lit.len()),
        _ => Err(bad(i, "invalid literal")),
    }
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

    /// A reader that hands out at most `.1` bytes per read.
    struct Chunked<'a>(&'a [u8], usize);
    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Every frame of `input`, read in chunks of `chunk` bytes.
    fn frames_chunked(input: &[u8], l: Limits, chunk: usize) -> Vec<Result<Vec<u8>, Refusal>> {
        let mut r = FrameReader::new(Chunked(input, chunk), l);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame(&mut || Ok(())).unwrap() {
            out.push(match f {
                Frame::Line(b, _) => Ok(b.to_vec()),
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
        assert!(matches!(f, Frame::Line(b"{\"id\":8}", _)), "{f:?}");
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

    // ---- the validator against serde_json ---------------------------------

    /// The strict decode: UTF-8, then serde_json into a value (which
    /// refuses lone surrogates and numbers out of the f64 range).
    fn serde_ok(line: &[u8]) -> bool {
        super::super::differential::reference(line, 100).is_ok()
    }

    fn valid(line: &[u8]) -> bool {
        matches!(validate(line, 100, &mut Scratch::default()), Ok(Some(_)))
    }

    #[test]
    fn validator_corpus_agrees_with_serde_json() {
        let good: &[&[u8]] = &[
            b"0",
            b"-0",
            b"-0.0e+0",
            b"1E5",
            b"123.456e-789",
            b"1.7976931348623157e308",
            b"-1e308",
            b"true",
            b"false",
            b"null",
            b"\"\"",
            b" \t\r\"x\"\r ",
            br#""\"\\\/\b\f\n\r\t\u00e9\uD834\uDD1E\uFFFF""#,
            br#""\udbff\udfff""#,
            "\"é€𝄞 \u{7f}\"".as_bytes(),
            b"[]",
            b"{}",
            b"[ ]",
            b"{ }",
            b"[1,[2,[3,{}]],\"a\",{\"b\":[null]}]",
            br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[1,2.5,-3e2]}}"#,
            br#"{"a":{"a":{"a":{}}},"":""}"#,
            b"{\"a\" :\t1 , \"b\" : [ true , false ] }",
        ];
        let bad: &[&[u8]] = &[
            b"",
            b"   ",
            b"01",
            b"-",
            b"-a",
            b"1.",
            b".5",
            b"1.e3",
            b"1e",
            b"1e+",
            b"+1",
            b"0x10",
            b"NaN",
            b"Infinity",
            b"tru",
            b"truex",
            b"nul",
            b"True",
            b"\"abc",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"\\u12G4\"",
            b"\"a\tb\"",
            b"\"a\x00b\"",
            b"\"\x1f\"",
            b"\"\xff\"",
            b"\"\xc3\"",
            b"\"\xc0\xaf\"",
            b"\"\xed\xa0\x80\"",
            b"\"\xf5\x80\x80\x80\"",
            b"\"\xf4\x90\x80\x80\"",
            b"\"\xe0\x80\xaf\"",
            b"\"\xe2\x82\"",
            b"\"abcdefgh\xe2\x82\xac\xe2\x82\"",
            b"\"abcdefg\xc3\xa9abcdefgh\x7f\x01\"",
            b"\"\xf0\x9f\x98\x80\xf0\x9f\x98\"",
            b"\xef\xbb\xbf{}",
            b"[1,]",
            b"[,1]",
            b"[1 2]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{\"a\":}",
            b"{a:1}",
            b"{'a':1}",
            b"{\"a\":1",
            b"[",
            b"]",
            b"{]",
            b"[}",
            b"{} {}",
            b"{}x",
            b"1 2",
            b"[1]]",
            b"/* */ 1",
            b"\xc3\xa9",
            // Strict decoding: what a decoder cannot read as one value.
            b"1e400",
            b"-1e999",
            b"[1E309]",
            br#""\ud800""#,
            br#""\udead""#,
            br#""\ud800\u0041""#,
            br#""\ud800\n""#,
            br#""a\udc00b""#,
            br#"{"\ud834":1}"#,
        ];
        for g in good {
            assert!(
                serde_ok(g),
                "serde refuses {:?}",
                String::from_utf8_lossy(g)
            );
            assert!(valid(g), "refused {:?}", String::from_utf8_lossy(g));
        }
        for b in bad {
            assert!(
                !serde_ok(b),
                "serde accepts {:?}",
                String::from_utf8_lossy(b)
            );
            assert!(!valid(b), "accepted {:?}", String::from_utf8_lossy(b));
        }
    }

    use super::super::test_rng::Rng;

    fn ws(r: &mut Rng, out: &mut Vec<u8>) {
        if r.below(4) == 0 {
            out.extend_from_slice(r.pick(&[&b" "[..], b"\t", b"\r", b"  \t"]));
        }
    }

    fn gen_string(r: &mut Rng, out: &mut Vec<u8>) {
        out.push(b'"');
        for _ in 0..r.below(12) {
            let piece: &[u8] = r.pick(&[
                &b"a"[..],
                b"xyz",
                b"\\\"",
                b"\\\\",
                b"\\/",
                b"\\n",
                b"\\t",
                b"\\u0041",
                b"\\ud83d\\ude00",
                "é".as_bytes(),
                "€".as_bytes(),
                "𝄞".as_bytes(),
                b"{[,:]}",
                b"0123456789abcdef",
                b" ",
            ]);
            out.extend_from_slice(piece);
        }
        // Now and then what only a strict decoder refuses.
        if r.below(64) == 0 {
            out.extend_from_slice(r.pick(&[&b"\\ud800"[..], b"\\udc00", b"\\ud800\\u0041"]));
        }
        out.push(b'"');
    }

    fn gen_value(r: &mut Rng, depth: usize, out: &mut Vec<u8>) {
        let k = if depth >= 6 { r.below(6) } else { r.below(9) };
        match k {
            0 => out.extend_from_slice(r.pick(&[&b"true"[..], b"false", b"null"])),
            1 | 2 => {
                let n: &[u8] = r.pick(&[
                    &b"0"[..],
                    b"-0",
                    b"7",
                    b"-12",
                    b"3.25",
                    b"1e9",
                    b"-2.5E-3",
                    b"6e+2",
                    b"18446744073709551616",
                ]);
                out.extend_from_slice(n);
                if r.below(64) == 0 {
                    out.extend_from_slice(r.pick(&[&b"e999"[..], b"E+400", b"e-400"]));
                }
            }
            3..=5 => gen_string(r, out),
            6 => {
                out.push(b'[');
                ws(r, out);
                for j in 0..r.below(4) {
                    if j > 0 {
                        out.push(b',');
                        ws(r, out);
                    }
                    gen_value(r, depth + 1, out);
                    ws(r, out);
                }
                out.push(b']');
            }
            _ => gen_object(r, depth, out),
        }
    }

    fn gen_object(r: &mut Rng, depth: usize, out: &mut Vec<u8>) {
        out.push(b'{');
        ws(r, out);
        for j in 0..r.below(6) {
            if j > 0 {
                out.push(b',');
                ws(r, out);
            }
            if r.below(2) == 0 {
                let key: &[u8] = r.pick(&[
                    &b"\"id\""[..],
                    b"\"method\"",
                    b"\"params\"",
                    b"\"result\"",
                    b"\"error\"",
                    b"\"jsonrpc\"",
                    b"\"i\\u0064\"",
                    b"\"ids\"",
                    b"\"\"",
                ]);
                out.extend_from_slice(key);
            } else {
                gen_string(r, out);
            }
            ws(r, out);
            out.push(b':');
            ws(r, out);
            gen_value(r, depth + 1, out);
            ws(r, out);
        }
        out.push(b'}');
    }

    /// Bytes a mutation puts in: structure, escapes, number parts, controls
    /// and broken UTF-8.
    const MUTANTS: &[u8] = &[
        b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'1', b'-', b'+', b'.', b'e', b'E',
        b't', b'n', b'u', b'a', b' ', b'\t', b'\r', 0x00, 0x08, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc3,
        0xe2, 0xed, 0xf0, 0xf4, 0xf5, 0xff,
    ];

    fn mutate(r: &mut Rng, doc: &[u8]) -> Vec<u8> {
        let mut m = doc.to_vec();
        for _ in 0..1 + r.below(3) {
            let at = r.below(m.len() + 1);
            match r.below(5) {
                0 if at < m.len() => m[at] = r.pick(MUTANTS),
                1 => m.insert(at, r.pick(MUTANTS)),
                2 if at < m.len() => {
                    m.remove(at);
                }
                3 => m.truncate(at),
                _ => {
                    let from = r.below(m.len() + 1);
                    let piece = m[from.min(at)..from.max(at)].to_vec();
                    m.splice(at..at, piece);
                }
            }
        }
        m
    }

    #[derive(serde::Deserialize)]
    struct SerdeEnvelope<'a> {
        #[serde(borrow, default)]
        id: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow, default)]
        method: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow, default)]
        params: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow, default)]
        result: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow, default)]
        error: Option<&'a serde_json::value::RawValue>,
    }

    /// A plain scan says what serde's envelope says.
    fn check_envelope(line: &[u8], sc: &Scanned) {
        let env = serde_json::from_slice::<SerdeEnvelope<'_>>(line);
        let text = String::from_utf8_lossy(line);
        if !sc.plain {
            return;
        }
        let env = match env {
            Ok(e) => e,
            Err(e) => panic!("plain but serde refuses the envelope ({e}): {text}"),
        };
        let span = |s: Option<(usize, usize)>| s.map(|(a, b)| &line[a..b]);
        fn raw(r: Option<&serde_json::value::RawValue>) -> Option<&[u8]> {
            r.map(|r| r.get().as_bytes())
        }
        assert_eq!(span(sc.id), raw(env.id), "id: {text}");
        assert_eq!(span(sc.params), raw(env.params), "params: {text}");
        assert_eq!(span(sc.result), raw(env.result), "result: {text}");
        assert_eq!(span(sc.error), raw(env.error), "error: {text}");
        assert_eq!(
            span(sc.method),
            env.method.as_deref().map(str::as_bytes),
            "method: {text}"
        );
    }

    #[test]
    fn validator_agrees_with_serde_json_on_generated_and_mutated_documents() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut accepted, mut refused, mut plain) = (0, 0, 0);
        for n in 0..5000 {
            let mut doc = Vec::new();
            if n % 2 == 0 {
                gen_object(&mut r, 0, &mut doc);
            } else {
                gen_value(&mut r, 0, &mut doc);
            }
            let mut docs = vec![doc.clone()];
            for _ in 0..4 {
                docs.push(mutate(&mut r, &doc));
            }
            for d in &docs {
                // A framed line never holds a newline.
                if d.contains(&b'\n') {
                    continue;
                }
                let got = validate(d, 100, &mut Scratch::default());
                let want = serde_ok(d);
                assert_eq!(
                    matches!(got, Ok(Some(_))),
                    want,
                    "disagree on {:?}: {got:?}",
                    String::from_utf8_lossy(d)
                );
                match got {
                    Ok(Some(sc)) => {
                        accepted += 1;
                        plain += usize::from(sc.plain);
                        check_envelope(d, &sc);
                    }
                    _ => refused += 1,
                }
            }
        }
        // The corpus exercised both sides and the envelope's fast path.
        assert!(accepted > 4000 && refused > 4000, "{accepted} {refused}");
        assert!(plain > 1000, "{plain}");
    }

    #[test]
    fn scan_marks_duplicates_escaped_keys_and_odd_methods_not_plain() {
        let l = Limits::default();
        let sc = scan_message(
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"id":1}}"#,
            l,
        )
        .unwrap();
        assert!(sc.plain);
        assert_eq!(sc.id, Some((22, 23)));
        // A name twice in one object, at any depth (compared decoded), is
        // refused: parsers differ on which of the two they keep.
        for line in [
            &br#"{"id":1,"id":2,"method":"x"}"#[..],
            br#"{"id":1,"method":"x","method":"tools/call"}"#,
            br#"{"id":1,"method":"x","params":{},"params":{}}"#,
            br#"{"id":1,"result":{},"result":null}"#,
            br#"{"id":1,"i\u0064":2,"method":"x"}"#,
            br#"{"id":1,"method":"x","params":{"name":"a","n\u0061me":"b"}}"#,
            br#"[{"a":[{"b":{"c":1,"\u0063":2}}]}]"#,
        ] {
            let got = scan_message(line, l);
            assert!(
                matches!(got, Err(Fault::Ambiguous { .. })),
                "{got:?}: {}",
                String::from_utf8_lossy(line)
            );
        }
        for line in [
            &br#"{"i\u0064":1,"method":"x"}"#[..],
            br#"{"id":1,"method":"tools\/call"}"#,
            br#"{"id":1,"method":5}"#,
            br#"[{"id":1}]"#,
            br#""id""#,
        ] {
            let sc = scan_message(line, l).unwrap();
            assert!(!sc.plain, "{}", String::from_utf8_lossy(line));
        }
        // Null members are absent, as for serde's Option.
        let sc = scan_message(br#"{"id":null,"method":null,"result":null}"#, l).unwrap();
        assert_eq!(
            (sc.plain, sc.id, sc.method, sc.result),
            (true, None, None, None)
        );
        // Depth and faults of the standalone scan.
        assert_eq!(
            scan_message(b"[[[1]]]", limits(100, 2)),
            Err(Fault::TooDeep { limit: 2 })
        );
        assert_eq!(scan_message(b"\"\xff\"", l), Err(Fault::NotUtf8 { at: 1 }));
        assert!(matches!(
            scan_message(b"{} x", l),
            Err(Fault::NotJson { .. })
        ));
    }

    #[test]
    fn duplicate_names_are_refused_in_any_object_compared_decoded() {
        let l = Limits::default();
        let refused = |line: &str| {
            matches!(
                scan_message(line.as_bytes(), l),
                Err(Fault::Ambiguous { .. })
            )
        };
        for dup in [
            r#"{"a":1,"a":1}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"\u0061":1,"a":2}"#,
            r#"{"/":1,"\/":2}"#,
            r#"{"\n":1,"\u000a":2}"#,
            r#"{"𝄞":1,"\ud834\udd1e":2}"#,
            r#"{"\uD834\uDD1E":1,"\ud834\udd1e":2}"#,
            r#"{"é":1,"\u00E9":2}"#,
            r#"{"":1,"x":{},"":2}"#,
            r#"{"id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a","te\u0078t":"b"}}}"#,
            r#"{"id":1,"result":{"tools":[{"name":"a"},{"name":"b","name":"c"}]}}"#,
        ] {
            assert!(refused(dup), "{dup}");
        }
        for ok in [
            r#"{"a":1,"A":2,"a ":3,"\u0061b":4}"#,
            r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#,
            r#"[{"a":1},{"a":1}]"#,
            r#"{"e\u0301":1,"é":2}"#,
            r#"{"x":"a","y":"a"}"#,
        ] {
            assert!(scan_message(ok.as_bytes(), l).is_ok(), "{ok}");
        }
        // Large objects are checked by sorting: a duplicate anywhere.
        for n in [9, 100, 5000] {
            let names: Vec<String> = (0..n).map(|j| format!("\"k{j}\":{j}")).collect();
            let line = format!("{{{}}}", names.join(","));
            assert!(scan_message(line.as_bytes(), l).is_ok(), "{n}");
            for (a, b) in [(0, n - 1), (n / 2, n / 2 + 1), (n - 2, n - 1)] {
                let mut m = names.clone();
                m[b] = format!("\"k{a}\":0");
                let line = format!("{{{}}}", m.join(","));
                assert!(refused(&line), "{n} {a} {b}");
                // Spelled with an escape.
                m[b] = format!("\"\\u006b{a}\":0");
                assert!(refused(&format!("{{{}}}", m.join(","))), "{n} {a} {b}");
            }
        }
        // Through the framer, a refused line keeps its id for the answer.
        let got = frames(b"{\"id\":3,\"a\":{\"b\":1,\"b\":2}}\n", l);
        let e = got[0].as_ref().unwrap_err();
        assert_eq!((e.what.code(), e.id.clone()), (-32700, Some(json!(3))));
        assert_eq!(e.what.kind(), "ambiguous JSON");
    }

    #[test]
    fn integers_pass_only_where_a_double_holds_them_exactly() {
        let l = Limits::default();
        let ok = |t: &str| scan_message(t.as_bytes(), l).is_ok();
        for good in [
            "9007199254740991",
            "-9007199254740992",
            "9007199254740994",
            "1152921504606846976",
            "18446744073709551616",
            "100000000000000000000",
            "99999999999999991611392",
            "9007199254740993.0",
            "9007199254740993e0",
            "123456789012345678901234567890.5",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "9007199254740993",
            "-9007199254740993",
            "9223372036854775807",
            "18446744073709551615",
            "100000000000000000001",
            "123456789012345678901234567890",
            r#"{"id":1,"params":{"n":[1,2,9007199254740995]}}"#,
        ] {
            assert!(
                matches!(
                    scan_message(bad.as_bytes(), l),
                    Err(Fault::Ambiguous { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn lines_split_across_reads_get_the_same_scan() {
        let line = br#"{"jsonrpc":"2.0","id":"a\"b","method":"m","result":[1,{"x":2}]}"#;
        let mut input = line.to_vec();
        input.push(b'\n');
        let want = scan_message(line, Limits::default()).unwrap();
        for chunk in [1, 3, 7, 1000] {
            let mut r = FrameReader::new(Chunked(&input, chunk), Limits::default());
            match r.next_frame(&mut || Ok(())).unwrap() {
                Some(Frame::Line(l, sc)) => {
                    assert_eq!(l, line);
                    assert_eq!(*sc, want, "chunk {chunk}");
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(want.plain);
        assert_eq!(want.id.map(|(a, b)| &line[a..b]), Some(&br#""a\"b""#[..]));
        assert_eq!(want.method.map(|(a, b)| &line[a..b]), Some(&b"m"[..]));
    }

    #[test]
    fn the_word_scan_finds_the_first_special_byte_at_every_position() {
        // Every byte value at every position of a word, with a second
        // byte after it that is plain or special itself: the lowest mark
        // is exactly the first byte the string scan must stop at.
        let stops = |c: u8| !(0x20..0x80).contains(&c) || c == b'"' || c == b'\\';
        for at in 0..8 {
            for c in 0..=255u8 {
                for (later, fill) in [(7, b'a'), (7, b'"'), (7, 0x01), (7, 0xff), (at, b' ')] {
                    let mut w = [b' '; 8];
                    w[later.max(at)] = fill;
                    w[at] = c;
                    let first = w.iter().position(|&x| stops(x));
                    let m = special(u64::from_le_bytes(w));
                    let got = (m != 0).then(|| (m.trailing_zeros() / 8) as usize);
                    assert_eq!(got, first, "{w:?}");
                }
            }
        }
    }
}
