//! A real HTTPS server on 127.0.0.1 for the tests: a CA made with rcgen
//! signs a certificate for `localhost` and `127.0.0.1`; HTTP/1.1 over
//! rustls (aws-lc-rs), one std thread per connection, `Connection: close`
//! on every response. Routes map a path to a [`Response`], which can also
//! misbehave on purpose (truncate, stall, omit the length, redirect).
//! Every request is recorded. Dropping the server stops and joins all of
//! its threads, stalled ones included.
//!
//! ```ignore
//! let server = TlsServer::start();
//! server.route("/a.tgz", Response::ok(b"bytes".to_vec()));
//! let opts = Options { ca_files: vec![server.ca_file().to_path_buf()], ..Default::default() };
//! fetch(&server.url("/a.tgz"));
//! ```

#![allow(dead_code)] // shared support: not every test uses every helper

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How long a connection may wait for a request head before giving up.
const IDLE_LIMIT: Duration = Duration::from_secs(10);
/// Socket read timeout: how often a waiting thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);
const MAX_HEAD: usize = 64 * 1024;

/// A test certificate authority.
pub struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate and its key for `localhost` and 127.0.0.1.
    fn server_cert(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign server cert");
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key_der)
    }
}

/// What a route answers.
#[derive(Clone)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

#[derive(Clone)]
enum Body {
    /// The bytes with a correct Content-Length.
    Full(Arc<Vec<u8>>),
    /// A Content-Length of `claimed`, fewer bytes, then a clean close.
    Truncated { bytes: Arc<Vec<u8>>, claimed: u64 },
    /// No Content-Length: chunked, or delimited by closing.
    NoLength { bytes: Arc<Vec<u8>>, chunked: bool },
    /// `len` bytes of [`generated_bytes`], streamed as they are made.
    Generated {
        len: u64,
        seed: u64,
        with_length: bool,
    },
    /// The bytes with a correct Content-Length, in `pieces` parts with
    /// `delay` before each.
    Trickle {
        bytes: Arc<Vec<u8>>,
        pieces: usize,
        delay: Duration,
    },
    /// Reads the request, then sends nothing (or, with `head`, headers and
    /// a first part of the body) and waits until the server is dropped.
    Stall { head: Option<(Arc<Vec<u8>>, u64)> },
}

impl Response {
    /// 200 with `bytes` and a correct Content-Length.
    pub fn ok(bytes: impl Into<Vec<u8>>) -> Response {
        Response::with_body(200, Body::Full(Arc::new(bytes.into())))
    }

    /// `code` with a short text body.
    pub fn status(code: u16) -> Response {
        Response::with_body(
            code,
            Body::Full(Arc::new(format!("status {code}\n").into_bytes())),
        )
    }

    /// 302 to `location`.
    pub fn redirect(location: &str) -> Response {
        Response::with_body(302, Body::Full(Arc::new(Vec::new()))).header("Location", location)
    }

    /// Claims `claimed_len` bytes in Content-Length, sends `bytes` (fewer),
    /// then closes the connection cleanly (TLS close_notify).
    pub fn truncated(bytes: impl Into<Vec<u8>>, claimed_len: u64) -> Response {
        Response::with_body(
            200,
            Body::Truncated {
                bytes: Arc::new(bytes.into()),
                claimed: claimed_len,
            },
        )
    }

    /// Sends no headers at all after reading the request; the connection
    /// stays open until the server is dropped.
    pub fn stall() -> Response {
        Response::with_body(200, Body::Stall { head: None })
    }

    /// Sends the headers (Content-Length `claimed_len`) and `prefix`, then
    /// stalls like [`Response::stall`].
    pub fn stall_body(prefix: impl Into<Vec<u8>>, claimed_len: u64) -> Response {
        Response::with_body(
            200,
            Body::Stall {
                head: Some((Arc::new(prefix.into()), claimed_len)),
            },
        )
    }

    /// `bytes` without Content-Length, delimited by closing the connection.
    pub fn no_length(bytes: impl Into<Vec<u8>>) -> Response {
        Response::with_body(
            200,
            Body::NoLength {
                bytes: Arc::new(bytes.into()),
                chunked: false,
            },
        )
    }

    /// `bytes` in chunked transfer encoding.
    pub fn chunked(bytes: impl Into<Vec<u8>>) -> Response {
        Response::with_body(
            200,
            Body::NoLength {
                bytes: Arc::new(bytes.into()),
                chunked: true,
            },
        )
    }

    /// `len` bytes of [`generated_bytes`]`(len, seed)`, with Content-Length,
    /// made while sending (never held in memory).
    pub fn generated(len: u64, seed: u64) -> Response {
        Response::with_body(
            200,
            Body::Generated {
                len,
                seed,
                with_length: true,
            },
        )
    }

    /// Like [`Response::generated`], without Content-Length (close-delimited).
    pub fn generated_no_length(len: u64, seed: u64) -> Response {
        Response::with_body(
            200,
            Body::Generated {
                len,
                seed,
                with_length: false,
            },
        )
    }

    /// `bytes` with a correct Content-Length, sent in `pieces` parts with
    /// `delay` before each: slow but never idle for longer than `delay`.
    pub fn trickle(bytes: impl Into<Vec<u8>>, pieces: usize, delay: Duration) -> Response {
        Response::with_body(
            200,
            Body::Trickle {
                bytes: Arc::new(bytes.into()),
                pieces: pieces.max(1),
                delay,
            },
        )
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Changes the status code.
    pub fn with_status(mut self, code: u16) -> Response {
        self.status = code;
        self
    }

    fn with_body(status: u16, body: Body) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body,
        }
    }
}

/// A deterministic byte stream: byte `i` depends only on `seed` and `i`, so
/// any chunking gives the same bytes.
pub fn fill_generated(seed: u64, offset: u64, buf: &mut [u8]) {
    let word =
        |index: u64| splitmix64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes();
    let mut pos = offset;
    let mut rest = buf;
    while !rest.is_empty() {
        // One 64-bit word per 8 bytes of output; a chunk may start or end
        // inside a word.
        let skip = (pos % 8) as usize;
        let n = (8 - skip).min(rest.len());
        let (head, tail) = rest.split_at_mut(n);
        head.copy_from_slice(&word(pos / 8)[skip..skip + n]);
        pos += n as u64;
        rest = tail;
    }
}

/// The first `len` bytes [`Response::generated`] sends for `seed`.
pub fn generated_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0; len];
    fill_generated(seed, 0, &mut v);
    v
}

/// [`generated_bytes`] as a reader, for comparing large bodies by digest.
pub struct Generated {
    seed: u64,
    pos: u64,
    len: u64,
}

impl Generated {
    pub fn new(len: u64, seed: u64) -> Generated {
        Generated { seed, pos: 0, len }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.len - self.pos).min(buf.len() as u64) as usize;
        fill_generated(self.seed, self.pos, &mut buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

struct State {
    stop: AtomicBool,
    routes: Mutex<HashMap<String, Response>>,
    requests: Mutex<Vec<RecordedRequest>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler must not take the other tests down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The server; stops on drop.
pub struct TlsServer {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
    ca_pem: String,
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
}

impl TlsServer {
    /// A server with a fresh CA.
    pub fn start() -> TlsServer {
        TlsServer::start_with_ca(&TestCa::new("mcp-warden test CA"))
    }

    /// A server whose certificate `ca` signs.
    pub fn start_with_ca(ca: &TestCa) -> TlsServer {
        let (cert, key) = ca.server_cert();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server certificate");
        let config = Arc::new(config);

        let dir = tempfile::Builder::new()
            .prefix("mcp-warden-tls-")
            .tempdir()
            .expect("temporary directory");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write CA file");

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        // Polled, so that the acceptor sees the stop flag.
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let state = Arc::new(State {
            stop: AtomicBool::new(false),
            routes: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let acceptor = thread::Builder::new()
            .name("tls-server-accept".into())
            .spawn(move || accept_loop(listener, config, st))
            .expect("spawn acceptor");
        TlsServer {
            addr,
            state,
            acceptor: Some(acceptor),
            ca_pem: ca.pem().to_owned(),
            _dir: dir,
            ca_file,
        }
    }

    /// `https://localhost:PORT`
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// `https://localhost:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A PEM file holding the CA certificate that signs this server's.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Serves `response` at `path`: the exact request target, or the path
    /// without its query. Other paths get a 404. Routes can change while
    /// the server runs.
    pub fn route(&self, path: &str, response: Response) -> &Self {
        lock(&self.state.routes).insert(path.to_owned(), response);
        self
    }

    /// Every request read so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        let workers = std::mem::take(&mut *lock(&self.state.workers));
        for h in workers {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, config: Arc<ServerConfig>, state: Arc<State>) {
    while !state.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (config, st) = (config.clone(), state.clone());
                let spawned =
                    thread::Builder::new()
                        .name("tls-server-conn".into())
                        .spawn(move || {
                            // Errors are the client going away; nothing to do.
                            let _ = serve(stream, config, &st);
                        });
                if let Ok(h) = spawned {
                    let mut workers = lock(&state.workers);
                    workers.retain(|h| !h.is_finished());
                    workers.push(h);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn is_wait(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

fn serve(stream: TcpStream, config: Arc<ServerConfig>, state: &State) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(IDLE_LIMIT))?;
    stream.set_nodelay(true)?;
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, stream);

    let Some(head) = read_head(&mut tls, state)? else {
        return Ok(());
    };
    let Some(req) = parse_head(&head) else {
        write_head(&mut tls, 400, &[], Some(0))?;
        return close(tls);
    };
    let response = {
        let routes = lock(&state.routes);
        routes
            .get(&req.target)
            .or_else(|| routes.get(req.path()))
            .cloned()
    };
    lock(&state.requests).push(req);
    let response = response.unwrap_or_else(|| Response::status(404));
    let hs = &response.headers;

    match &response.body {
        Body::Full(bytes) => {
            write_head(&mut tls, response.status, hs, Some(bytes.len() as u64))?;
            tls.write_all(bytes)?;
        }
        Body::Truncated { bytes, claimed } => {
            write_head(&mut tls, response.status, hs, Some(*claimed))?;
            tls.write_all(bytes)?;
        }
        Body::NoLength {
            bytes,
            chunked: false,
        } => {
            write_head(&mut tls, response.status, hs, None)?;
            tls.write_all(bytes)?;
        }
        Body::NoLength {
            bytes,
            chunked: true,
        } => {
            let mut hs = hs.clone();
            hs.push(("Transfer-Encoding".into(), "chunked".into()));
            write_head(&mut tls, response.status, &hs, None)?;
            for chunk in bytes.chunks(16 * 1024) {
                write!(tls, "{:x}\r\n", chunk.len())?;
                tls.write_all(chunk)?;
                tls.write_all(b"\r\n")?;
            }
            tls.write_all(b"0\r\n\r\n")?;
        }
        Body::Generated {
            len,
            seed,
            with_length,
        } => {
            write_head(&mut tls, response.status, hs, with_length.then_some(*len))?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut sent = 0u64;
            while sent < *len && !state.stop.load(Ordering::SeqCst) {
                let n = (*len - sent).min(buf.len() as u64) as usize;
                fill_generated(*seed, sent, &mut buf[..n]);
                tls.write_all(&buf[..n])?;
                sent += n as u64;
            }
        }
        Body::Trickle {
            bytes,
            pieces,
            delay,
        } => {
            write_head(&mut tls, response.status, hs, Some(bytes.len() as u64))?;
            tls.flush()?;
            for piece in bytes.chunks(bytes.len().div_ceil(*pieces).max(1)) {
                if state.stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                thread::sleep(*delay);
                tls.write_all(piece)?;
                tls.flush()?;
            }
        }
        Body::Stall { head } => {
            if let Some((prefix, claimed)) = head {
                write_head(&mut tls, response.status, hs, Some(*claimed))?;
                tls.write_all(prefix)?;
                tls.flush()?;
            }
            while !state.stop.load(Ordering::SeqCst) {
                thread::sleep(POLL);
            }
            return Ok(());
        }
    }
    close(tls)
}

/// Reads up to the blank line ending the request head; `None` when the
/// client leaves, stays silent too long, or the server stops.
fn read_head(tls: &mut Tls, state: &State) -> io::Result<Option<Vec<u8>>> {
    let started = Instant::now();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if state.stop.load(Ordering::SeqCst) || started.elapsed() > IDLE_LIMIT {
            return Ok(None);
        }
        match tls.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    head.truncate(end);
                    return Ok(Some(head));
                }
                if head.len() > MAX_HEAD {
                    return Ok(None);
                }
            }
            Err(e) if is_wait(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

fn parse_head(head: &[u8]) -> Option<RecordedRequest> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(RecordedRequest {
        method,
        target,
        headers,
    })
}

fn write_head(
    tls: &mut Tls,
    status: u16,
    headers: &[(String, String)],
    content_length: Option<u64>,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    if let Some(len) = content_length {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes())
}

/// Ends the connection the polite way: TLS close_notify, then FIN.
fn close(mut tls: Tls) -> io::Result<()> {
    tls.conn.send_close_notify();
    tls.flush()?;
    tls.sock.shutdown(Shutdown::Write)?;
    // Closing with unread input makes the kernel send a reset, which can
    // discard response bytes the client has not read yet: drain until the
    // client closes (bounded).
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(2) {
        match tls.sock.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_wait(&e) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

#[test]
fn generated_bytes_do_not_depend_on_chunking() {
    let whole = generated_bytes(1000, 11);
    let mut pieces = vec![0u8; 1000];
    let mut at = 0;
    for n in [1usize, 3, 7, 8, 13, 100, 868] {
        fill_generated(11, at as u64, &mut pieces[at..at + n]);
        at += n;
    }
    assert_eq!(at, 1000);
    assert_eq!(whole, pieces);
    assert_ne!(whole, generated_bytes(1000, 12));
}

/// An HTTP proxy on 127.0.0.1 that only tunnels (CONNECT), recording each
/// CONNECT target; for tests of HTTPS_PROXY handling. Stops on drop.
pub struct ConnectProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    targets: Arc<Mutex<Vec<String>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let (st, tg) = (stop.clone(), targets.clone());
        let acceptor = thread::Builder::new()
            .name("connect-proxy-accept".into())
            .spawn(move || {
                let mut workers = Vec::new();
                while !st.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let (st, tg) = (st.clone(), tg.clone());
                            workers.push(thread::spawn(move || {
                                let _ = tunnel(client, &st, &tg);
                            }));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
                for w in workers {
                    let _ = w.join();
                }
            })
            .expect("spawn proxy");
        ConnectProxy {
            addr,
            stop,
            targets,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`, for HTTPS_PROXY.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The CONNECT targets (`host:port`) asked for so far.
    pub fn targets(&self) -> Vec<String> {
        lock(&self.targets).clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn tunnel(
    mut client: TcpStream,
    stop: &AtomicBool,
    targets: &Mutex<Vec<String>>,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(POLL))?;
    let started = Instant::now();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if stop.load(Ordering::SeqCst) || started.elapsed() > IDLE_LIMIT || head.len() > MAX_HEAD {
            return Ok(());
        }
        match client.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if is_wait(&e) => {}
            Err(e) => return Err(e),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut first = text.split("\r\n").next().unwrap_or("").split(' ');
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    if method != "CONNECT" {
        client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    }
    lock(targets).push(target.to_owned());
    let upstream = TcpStream::connect(target)?;
    upstream.set_read_timeout(Some(POLL))?;
    client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    let (mut up_r, mut cl_w) = (upstream.try_clone()?, client.try_clone()?);
    thread::scope(|s| {
        s.spawn(|| pipe(&mut up_r, &mut cl_w, stop));
        pipe(&mut client, &mut upstream.try_clone()?, stop);
        Ok(())
    })
}

/// Copies until end of input or stop, then closes the writing side.
fn pipe(from: &mut TcpStream, to: &mut TcpStream, stop: &AtomicBool) {
    let mut buf = [0u8; 16 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if is_wait(&e) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
