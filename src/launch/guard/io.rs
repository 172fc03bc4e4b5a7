//! The guard's I/O layer: carries framed messages between client and
//! server and does what the session decides.
//!
//! Shape: one thread per direction, blocking I/O, the session behind a
//! mutex (each message holds it once, briefly). Output is buffered and
//! flushed whenever the reading side is about to block, so a message is
//! never held back while the guard waits, yet a burst of pipelined
//! messages leaves in few writes. Writes to the client come from both
//! directions (answers to refused requests, the session's outbox) and are
//! serialised by one mutex, one whole message at a time.
//!
//! Messages the session sends to the server while handling a *server*
//! message go through a queue and a writer thread of their own
//! ([`GuardIo::server_writer`]): the server-to-client thread never waits
//! on the server's stdin, so a server that stops reading its stdin until
//! its stdout is read cannot deadlock the guard.
//!
//! Nothing a peer sends stops the guard: a refused line is answered
//! (client) or dropped and reported (server), and the session goes on. A
//! read error is taken as EOF and a broken pipe ends that direction.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use serde_json::{Value, json};

use super::frame::{Frame, FrameReader, Refusal};
use super::{Limits, Outbox, Session, Side, Verdict};
use crate::redact::Redactor;

/// Longest stderr line passed through; the rest of a longer one is cut.
pub const MAX_STDERR_LINE: usize = 16 * 1024;

/// Output buffer of each direction (flushed before every blocking read).
const OUT_BUF: usize = 64 * 1024;

/// What `run` needs to put the guard between client and server.
pub struct Guard {
    pub session: Box<dyn Session>,
    pub limits: Limits,
    /// The launch's redactor (its secret values and their encodings),
    /// applied to the server's stderr and the guard's notes; the audit
    /// log holds the same one.
    pub redactor: Arc<Redactor>,
    /// Tells on stderr what the sandbox denied, when the server says it
    /// was refused (`None`: no sandbox).
    pub denials: Option<crate::launch::denials::Explainer>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("limits", &self.limits)
            .field("redactor", &self.redactor)
            .finish_non_exhaustive()
    }
}

type Sink = Box<dyn Write + Send>;

/// The state both directions share.
pub struct GuardIo {
    session: Mutex<Box<dyn Session>>,
    limits: Limits,
    redactor: Arc<Redactor>,
    denials: Option<crate::launch::denials::Explainer>,
    /// `None` once the client's EOF closed the server's stdin.
    server_in: Mutex<Option<BufWriter<Sink>>>,
    client_out: Mutex<BufWriter<Sink>>,
    err: Mutex<Sink>,
    /// To the server, from the server direction's outbox.
    queued: Mutex<Queued>,
    wake: Condvar,
}

#[derive(Default)]
struct Queued {
    msgs: VecDeque<Vec<u8>>,
    /// The server direction ended: the writer stops once the queue is empty.
    done: bool,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere (a session's bug) must not stop the other direction.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GuardIo {
    /// `server_in`: the server's stdin; `client_out`: the client's side
    /// (run's stdout); `err`: run's stderr.
    pub fn new(guard: Guard, server_in: Sink, client_out: Sink, err: Sink) -> GuardIo {
        GuardIo {
            redactor: guard.redactor,
            denials: guard.denials,
            session: Mutex::new(guard.session),
            limits: guard.limits,
            server_in: Mutex::new(Some(BufWriter::with_capacity(OUT_BUF, server_in))),
            client_out: Mutex::new(BufWriter::with_capacity(OUT_BUF, client_out)),
            err: Mutex::new(err),
            queued: Mutex::new(Queued::default()),
            wake: Condvar::new(),
        }
    }

    /// Client → server until the client's EOF (or a read error, or the
    /// server's stdin closing); then closes the server's stdin.
    pub fn client_to_server<R: Read>(&self, input: R) {
        let mut reader = FrameReader::new(input, self.limits);
        let mut out = Outbox::default();
        loop {
            let frame = match reader.next_frame(&mut || self.flush_server()) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    if e.kind() != io::ErrorKind::BrokenPipe {
                        tracing::warn!(error = %e, "reading the client's input failed; treating as EOF");
                    }
                    break;
                }
            };
            let sent = match frame {
                Frame::Line(raw, scanned) => {
                    let verdict = lock(&self.session).from_client_scanned(raw, scanned, &mut out);
                    let sent = match verdict {
                        Verdict::Pass => self.send_server(raw, false),
                        Verdict::Replace(b) => self.send_server(&b, false),
                        Verdict::Drop => true,
                    };
                    self.deliver(&mut out, Side::Client) && sent
                }
                Frame::Refused(r) => {
                    lock(&self.session).refused(Side::Client, &r.what.to_string());
                    self.send_client(&error_response(&r), true);
                    true
                }
            };
            if !sent {
                // The server closed its stdin: it is the server's call.
                break;
            }
        }
        self.close_server_input();
    }

    /// Server → client until the server's stdout ends (or the client's
    /// side breaks).
    pub fn server_to_client<R: Read>(&self, server_out: R) {
        let mut reader = FrameReader::new(server_out, self.limits);
        let mut out = Outbox::default();
        loop {
            let frame = match reader.next_frame(&mut || self.flush_client()) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the server's output failed; treating as EOF");
                    break;
                }
            };
            let sent = match frame {
                Frame::Line(raw, scanned) => {
                    if let Some(d) = &self.denials {
                        for told in d.explain_result(raw) {
                            self.note(&told);
                        }
                    }
                    let verdict = lock(&self.session).from_server_scanned(raw, scanned, &mut out);
                    let sent = match verdict {
                        Verdict::Pass => self.send_client(raw, false),
                        Verdict::Replace(b) => self.send_client(&b, false),
                        Verdict::Drop => true,
                    };
                    self.deliver(&mut out, Side::Server) && sent
                }
                Frame::Refused(r) => {
                    let what = r.what.to_string();
                    lock(&self.session).refused_message(
                        Side::Server,
                        &what,
                        r.id.as_ref(),
                        &mut out,
                    );
                    self.note(&format!("dropped a message from the server: {what}"));
                    self.deliver(&mut out, Side::Server)
                }
            };
            if !sent {
                tracing::debug!("the client's side is closed; stop reading the server");
                break;
            }
        }
        let _ = self.flush_client();
        self.stop_server_writer();
    }

    /// Writes what the server direction's outbox queued for the server,
    /// until that direction ended and the queue is empty. Run it on a
    /// thread of its own next to [`GuardIo::server_to_client`].
    pub fn server_writer(&self) {
        loop {
            let batch: Vec<Vec<u8>> = {
                let mut q = lock(&self.queued);
                while q.msgs.is_empty() && !q.done {
                    q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
                }
                if q.msgs.is_empty() {
                    return;
                }
                q.msgs.drain(..).collect()
            };
            for m in batch {
                // A closed stdin drops the rest (the server's call).
                self.send_server(&m, false);
            }
            let _ = self.flush_server();
        }
    }

    /// Ends [`GuardIo::server_writer`] once its queue is written.
    pub fn stop_server_writer(&self) {
        lock(&self.queued).done = true;
        self.wake.notify_all();
    }

    /// The server's stderr to run's stderr, line by line, redacted; a line
    /// longer than [`MAX_STDERR_LINE`] is cut and marked.
    pub fn server_stderr<R: Read>(&self, server_err: R) {
        let mut r = BufReader::with_capacity(OUT_BUF, server_err);
        let mut line: Vec<u8> = Vec::with_capacity(1024);
        let mut cut = false;
        loop {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if buf.is_empty() {
                if !line.is_empty() || cut {
                    self.stderr_line(&mut line, cut);
                }
                break;
            }
            let (take, consumed, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i, i + 1, true),
                None => (buf.len(), buf.len(), false),
            };
            let room = MAX_STDERR_LINE - line.len();
            if take > room {
                cut = true;
            }
            line.extend_from_slice(&buf[..take.min(room)]);
            r.consume(consumed);
            if done {
                self.stderr_line(&mut line, cut);
                cut = false;
            }
        }
    }

    fn stderr_line(&self, line: &mut Vec<u8>, cut: bool) {
        if cut {
            // A secret or token may straddle the cut: drop its visible
            // prefix (back to a space) rather than show part of it.
            let keep = line.len().saturating_sub(self.redactor.longest_secret());
            line.truncate(keep);
            let at = line
                .iter()
                .rposition(|&b| b == b' ' || b == b'\t')
                .unwrap_or(0);
            line.truncate(at);
        }
        let mut text = self.redactor.redact(line).into_owned();
        if cut {
            text.extend_from_slice(
                format!(" [mcp-warden: line cut, longer than {MAX_STDERR_LINE} bytes]").as_bytes(),
            );
        }
        text.push(b'\n');
        // run's stderr gone: keep draining so the server never blocks.
        let _ = lock(&self.err).write_all(&text);
        if let Some(told) =
            (self.denials.as_ref()).and_then(|d| d.explain(&String::from_utf8_lossy(&text)))
        {
            self.note(&told);
        }
        line.clear();
    }

    /// Closes the server's stdin (idempotent).
    pub fn close_server_input(&self) {
        if let Some(mut w) = lock(&self.server_in).take() {
            let _ = w.flush();
        }
    }

    /// The outbox of a message from `side`: to the client, to the server,
    /// notes; then empties it. `false` when the server's stdin is closed.
    fn deliver(&self, out: &mut Outbox, side: Side) -> bool {
        let mut ok = true;
        for m in out.to_client.drain(..) {
            self.send_client(&m, true);
        }
        match side {
            Side::Client => {
                for m in out.to_server.drain(..) {
                    ok &= self.send_server(&m, true);
                }
            }
            Side::Server if !out.to_server.is_empty() => {
                lock(&self.queued).msgs.extend(out.to_server.drain(..));
                self.wake.notify_one();
            }
            Side::Server => {}
        }
        for n in out.notes.drain(..) {
            self.note(&n);
        }
        ok
    }

    /// One message to the client; `false` when its side is closed.
    fn send_client(&self, msg: &[u8], flush: bool) -> bool {
        let mut w = lock(&self.client_out);
        let r = w.write_all(msg).and_then(|_| w.write_all(b"\n"));
        let r = if flush { r.and_then(|_| w.flush()) } else { r };
        r.is_ok()
    }

    /// One message to the server; `false` when its stdin is closed.
    fn send_server(&self, msg: &[u8], flush: bool) -> bool {
        let mut guard = lock(&self.server_in);
        let Some(w) = guard.as_mut() else {
            return false;
        };
        let r = w.write_all(msg).and_then(|_| w.write_all(b"\n"));
        let r = if flush { r.and_then(|_| w.flush()) } else { r };
        r.is_ok()
    }

    fn flush_client(&self) -> io::Result<()> {
        lock(&self.client_out).flush()
    }

    fn flush_server(&self) -> io::Result<()> {
        match lock(&self.server_in).as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// A line on run's stderr, `mcp-warden: ` first, redacted.
    fn note(&self, text: &str) {
        let mut line = b"mcp-warden: ".to_vec();
        line.extend_from_slice(&self.redactor.redact(text.replace('\n', " ").as_bytes()));
        line.push(b'\n');
        let _ = lock(&self.err).write_all(&line);
    }
}

/// The JSON-RPC error answering a refused client line.
pub fn error_response(r: &Refusal) -> Vec<u8> {
    let v = json!({
        "jsonrpc": "2.0",
        "id": r.id.clone().unwrap_or(Value::Null),
        "error": {
            "code": r.what.code(),
            "message": format!("mcp-warden: {}", r.what),
            "data": { "reason": r.what.kind(), "hint": r.what.hint() },
        },
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::guard::Passthrough;
    use std::sync::Arc;

    /// A shared in-memory sink.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
        fn lines(&self) -> Vec<Value> {
            self.text()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }
    }

    struct Io {
        io: GuardIo,
        server_in: Buf,
        client_out: Buf,
        err: Buf,
    }

    fn guard(session: Box<dyn Session>, limits: Limits, secrets: &[&str]) -> Io {
        let (server_in, client_out, err) = (Buf::default(), Buf::default(), Buf::default());
        let io = GuardIo::new(
            Guard {
                session,
                limits,
                redactor: Arc::new(Redactor::from_values(secrets.iter().map(|s| s.as_bytes()))),
                denials: None,
            },
            Box::new(server_in.clone()),
            Box::new(client_out.clone()),
            Box::new(err.clone()),
        );
        Io {
            io,
            server_in,
            client_out,
            err,
        }
    }

    #[test]
    fn passthrough_is_byte_for_byte_both_ways() {
        let g = guard(Box::new(Passthrough), Limits::default(), &[]);
        let msgs = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"params\":{\"x\":[1, 2.50,\"\\u00e9\"]}}\n\
                    {  \"jsonrpc\" : \"2.0\" , \"method\":\"n\"}\r\n";
        g.io.client_to_server(msgs.as_bytes());
        assert_eq!(g.server_in.text(), msgs);
        g.io.server_to_client(msgs.as_bytes());
        assert_eq!(g.client_out.text(), msgs);
        assert_eq!(g.err.text(), "");
    }

    #[test]
    fn refused_client_lines_are_answered_with_their_id_and_the_next_flows() {
        let l = Limits {
            max_message: 100,
            max_depth: 8,
        };
        let g = guard(Box::new(Passthrough), l, &[]);
        let big = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":7,\"params\":\"{}\"}}",
            "x".repeat(200)
        );
        let deep = format!(
            "{{\"id\":\"d\",\"p\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let input = format!(
            "{big}\n{deep}\nnot json\n{{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ok\"}}\n"
        );
        g.io.client_to_server(input.as_bytes());
        assert_eq!(
            g.server_in.text(),
            "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ok\"}\n"
        );
        let answers = g.client_out.lines();
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0]["id"], 7);
        assert_eq!(answers[0]["error"]["code"], -32600);
        let want = format!(
            "mcp-warden: message of {} bytes exceeds the 100-byte limit",
            big.len()
        );
        assert_eq!(answers[0]["error"]["message"], want.as_str());
        assert_eq!(answers[1]["id"], "d");
        assert_eq!(answers[1]["error"]["code"], -32600);
        assert_eq!(answers[2]["id"], Value::Null);
        assert_eq!(answers[2]["error"]["code"], -32700);
        assert!(answers.iter().all(|a| a["jsonrpc"] == "2.0"));
    }

    /// Records what it was shown; answers `ping` itself; rewrites `echo`.
    #[derive(Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);
    impl Session for Recorder {
        fn from_client(&mut self, raw: &[u8], out: &mut Outbox) -> Verdict {
            let v: Value = serde_json::from_slice(raw).unwrap();
            lock(&self.0).push(format!("client {}", v["method"]));
            match v["method"].as_str() {
                Some("ping") => {
                    out.to_client.push(
                        serde_json::to_vec(&json!({"jsonrpc":"2.0","id":v["id"],"result":{}}))
                            .unwrap(),
                    );
                    out.notes
                        .push("answered ping with token canary-s3cret".into());
                    Verdict::Drop
                }
                Some("echo") => Verdict::Replace(b"{\"replaced\":true}".to_vec()),
                _ => Verdict::Pass,
            }
        }
        fn from_server(&mut self, _: &[u8], out: &mut Outbox) -> Verdict {
            lock(&self.0).push("server".into());
            out.to_server.push(b"{\"ack\":1}".to_vec());
            Verdict::Pass
        }
        fn refused(&mut self, side: Side, what: &str) {
            lock(&self.0).push(format!("refused {side:?} {what}"));
        }
    }

    #[test]
    fn session_verdicts_and_outbox_are_carried_out() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let g = guard(
            Box::new(Recorder(seen.clone())),
            Limits::default(),
            &["canary-s3cret"],
        );
        g.io.client_to_server(
            &b"{\"id\":1,\"method\":\"ping\"}\n{\"id\":2,\"method\":\"echo\"}\n{\"id\":3,\"method\":\"x\"}\n"[..],
        );
        assert_eq!(
            g.server_in.text(),
            "{\"replaced\":true}\n{\"id\":3,\"method\":\"x\"}\n"
        );
        assert_eq!(
            g.client_out.text(),
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"
        );
        assert_eq!(
            g.err.text(),
            "mcp-warden: answered ping with token [REDACTED]\n"
        );
        // Closed after the client's EOF: the server side's outbox no
        // longer reaches the server, and nothing panics.
        std::thread::scope(|s| {
            s.spawn(|| g.io.server_writer());
            g.io.server_to_client(&b"{\"id\":3,\"result\":1}\n"[..]);
        });
        assert_eq!(
            g.client_out.text(),
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n{\"id\":3,\"result\":1}\n"
        );
        assert_eq!(
            *lock(&seen),
            [
                "client \"ping\"",
                "client \"echo\"",
                "client \"x\"",
                "server"
            ]
        );
    }

    #[test]
    fn server_garbage_is_dropped_and_reported_and_the_session_goes_on() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let g = guard(Box::new(Recorder(seen.clone())), Limits::default(), &[]);
        let mut out = b"Listening on stdio...\n".to_vec();
        out.extend_from_slice(b"{\"id\":1,\"result\":");
        out.extend(std::iter::repeat_n(b'[', 10_000));
        out.extend(std::iter::repeat_n(b']', 10_000));
        out.extend_from_slice(b"}\n{\"id\":2,\"result\":{}}\n");
        std::thread::scope(|s| {
            s.spawn(|| g.io.server_writer());
            g.io.server_to_client(&out[..]);
        });
        assert_eq!(g.client_out.text(), "{\"id\":2,\"result\":{}}\n");
        let err = g.err.text();
        assert_eq!(err.lines().count(), 2, "{err}");
        assert!(err.contains("not one well-formed JSON document"), "{err}");
        assert!(err.contains("deeper than the 64-level limit"), "{err}");
        let seen = lock(&seen);
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen[0].starts_with("refused Server"));
        assert!(seen[1].starts_with("refused Server"));
        assert_eq!(seen[2], "server");
        // The session's outbox reached the server.
        assert_eq!(g.server_in.text(), "{\"ack\":1}\n");
    }

    #[test]
    fn a_broken_server_stdin_ends_the_client_direction() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
        }
        let out = Buf::default();
        let io = GuardIo::new(
            Guard {
                session: Box::new(Passthrough),
                limits: Limits::default(),
                redactor: Arc::new(Redactor::shapes_only()),
                denials: None,
            },
            Box::new(Broken),
            Box::new(out.clone()),
            Box::new(io::sink()),
        );
        // Bigger than the output buffer, so the write itself fails.
        let line = format!("{{\"p\":\"{}\"}}\n", "a".repeat(2 * OUT_BUF));
        io.client_to_server(line.repeat(3).as_bytes());
        assert_eq!(out.text(), "");
    }

    #[test]
    fn stderr_is_redacted_and_long_lines_are_cut() {
        let g = guard(Box::new(Passthrough), Limits::default(), &["canary-s3cret"]);
        let mut input =
            b"starting with canary-s3cret\nAuthorization: Bearer abcdefghijkl\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', 3 * MAX_STDERR_LINE));
        input.extend_from_slice(b"\nlast without newline ghp_16C7e42F292c6912E7710c838347Ae178B4a");
        g.io.server_stderr(&input[..]);
        let err = g.err.text();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 4, "{err}");
        assert_eq!(lines[0], "starting with [REDACTED]");
        assert_eq!(lines[1], "Authorization: [REDACTED]");
        assert!(
            lines[2].ends_with("line cut, longer than 16384 bytes]"),
            "{}",
            &lines[2][..50]
        );
        assert!(lines[2].len() < MAX_STDERR_LINE + 100);
        assert_eq!(lines[3], "last without newline [REDACTED]");
    }

    #[test]
    fn a_secret_straddling_the_cut_is_not_shown_in_part() {
        let secret = "0123456789abcdef-secret";
        let g = guard(Box::new(Passthrough), Limits::default(), &[secret]);
        let mut input = "x ".repeat(MAX_STDERR_LINE / 2 - 5).into_bytes();
        input.extend_from_slice(secret.as_bytes());
        input.extend_from_slice(b" tail\n");
        g.io.server_stderr(&input[..]);
        let err = g.err.text();
        assert!(!err.contains("0123"), "{}", &err[err.len() - 80..]);
    }
}
