//! `mcp_warden::net::Client` against a real HTTPS server on 127.0.0.1
//! (`tls_server`), with a CA generated for the run.

use mcp_warden::diag::Diagnose as _;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::time::Duration;

use mcp_warden::net::{Client, Download, NetError, Options};
use sha2::{Digest as _, Sha256};

use super::support::tls_server::{Generated, Response, TlsServer, generated_bytes};

const MIB: u64 = 1024 * 1024;

fn opts(server: &TlsServer) -> Options {
    Options {
        ca_files: vec![server.ca_file().to_path_buf()],
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(1),
        progress: false,
        ..Options::default()
    }
}

/// A client trusting the server's CA; MCP_WARDEN_CA_FILE is ignored so that
/// the caller's environment cannot change the outcome.
fn client(server: &TlsServer) -> Client {
    Client::with_env_ca(&opts(server), None).expect("client")
}

fn read_all(mut d: Download) -> Result<Vec<u8>, io::Error> {
    let mut out = Vec::new();
    d.read_to_end(&mut out)?;
    Ok(out)
}

/// The `NetError` from a failed read.
fn read_err(d: Download) -> NetError {
    let err = read_all(d).expect_err("the body must not read to the end");
    NetError::from(err)
}

#[test]
fn download_streams_the_exact_bytes() {
    let server = TlsServer::start();
    let body = generated_bytes(3 * MIB as usize + 17, 7);
    server.route("/pkg.tgz", Response::ok(body.clone()));
    // The progress flag on: no bar unless stderr is a terminal, and the
    // bytes are the same either way.
    let c = Client::with_env_ca(
        &Options {
            progress: true,
            ..opts(&server)
        },
        None,
    )
    .expect("client");

    let d = c.get(&server.url("/pkg.tgz"), 10 * MIB).expect("get");
    assert_eq!(d.content_length(), Some(body.len() as u64));
    assert_eq!(d.url(), server.url("/pkg.tgz"));
    assert!(read_all(d).expect("read") == body, "bytes differ");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].target, "/pkg.tgz");
    let ua = reqs[0].header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("mcp-warden/"), "user agent {ua:?}");
}

#[test]
fn get_bytes_reads_small_documents() {
    let server = TlsServer::start();
    server.route("/meta.json", Response::ok(&b"{\"name\":\"x\"}"[..]));
    let bytes = client(&server)
        .get_bytes(&server.url("/meta.json"), 1024)
        .expect("get_bytes");
    assert_eq!(bytes, b"{\"name\":\"x\"}");
}

#[test]
fn generated_body_matches_by_digest() {
    // What the benchmarks do with 100 MB, smaller: compared by digest, held
    // nowhere in memory.
    let len = 8 * MIB + 3;
    let server = TlsServer::start();
    server.route("/big", Response::generated(len, 42));
    let d = client(&server).get(&server.url("/big"), len).expect("get");
    let mut got = Sha256::new();
    let n = io::copy(&mut { d }, &mut got).expect("stream");
    let mut want = Sha256::new();
    io::copy(&mut Generated::new(len, 42), &mut want).expect("generate");
    assert_eq!(n, len);
    assert_eq!(got.finalize(), want.finalize());
}

#[test]
fn chunked_and_close_delimited_bodies_are_read_whole() {
    let server = TlsServer::start();
    let body = generated_bytes(200_000, 3);
    server.route("/chunked", Response::chunked(body.clone()));
    server.route("/close", Response::no_length(body.clone()));
    let c = client(&server);
    for path in ["/chunked", "/close"] {
        let d = c.get(&server.url(path), MIB).expect(path);
        assert_eq!(d.content_length(), None, "{path}");
        assert!(read_all(d).expect(path) == body, "{path}: bytes differ");
    }
}

#[test]
fn plain_http_is_refused_before_connecting() {
    let server = TlsServer::start();
    server.route("/x", Response::ok("x"));
    let c = client(&server);
    let url = format!("http://localhost:{}/x", server.port());
    let err = c.get(&url, 10).expect_err("http must be refused");
    assert!(matches!(err, NetError::NotHttps { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url) && msg.contains("only https"), "{msg}");
    assert!(server.requests().is_empty(), "the server was contacted");
}

#[test]
fn https_redirects_are_followed() {
    let server = TlsServer::start();
    server.route("/old", Response::redirect(&server.url("/mid")));
    server.route("/mid", Response::redirect("/new").with_status(301));
    server.route("/new", Response::ok("moved"));
    let d = client(&server).get(&server.url("/old"), 100).expect("get");
    assert_eq!(d.url(), server.url("/new"));
    assert_eq!(read_all(d).expect("read"), b"moved");
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(paths, ["/old", "/mid", "/new"]);
}

#[test]
fn redirect_to_http_is_refused() {
    let server = TlsServer::start();
    let target = format!("http://localhost:{}/plain", server.port());
    server.route("/old", Response::redirect(&target));
    server.route("/plain", Response::ok("x"));
    let err = client(&server)
        .get(&server.url("/old"), 100)
        .expect_err("redirect to http must fail");
    match &err {
        NetError::InsecureRedirect { from, to } => {
            assert_eq!(from, &server.url("/old"));
            assert_eq!(to, &target);
        }
        other => panic!("expected InsecureRedirect, got {other:?}"),
    }
    assert!(err.to_string().contains(&target), "{err}");
    assert_eq!(server.requests().len(), 1, "the http URL was requested");
}

#[test]
fn redirect_loops_stop() {
    let server = TlsServer::start();
    server.route("/loop", Response::redirect(&server.url("/loop")));
    let err = client(&server)
        .get(&server.url("/loop"), 100)
        .expect_err("a loop must fail");
    assert!(matches!(err, NetError::TooManyRedirects { .. }), "{err:?}");
    // The first request and ten redirects, no more.
    assert_eq!(server.requests().len(), 11);
}

#[test]
fn ten_redirects_are_allowed() {
    let server = TlsServer::start();
    for i in 0..10 {
        server.route(
            &format!("/r{i}"),
            Response::redirect(&format!("/r{}", i + 1)),
        );
    }
    server.route("/r10", Response::ok("end"));
    let d = client(&server).get(&server.url("/r0"), 100).expect("get");
    assert_eq!(read_all(d).expect("read"), b"end");
}

#[test]
fn http_errors_name_the_status_and_url() {
    let server = TlsServer::start();
    server.route("/boom", Response::status(500));
    let c = client(&server);

    let url = server.url("/missing.tgz");
    let err = c.get(&url, 100).expect_err("404");
    assert!(matches!(err, NetError::Status { code: 404, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&url) && msg.contains("404") && msg.contains("not found"),
        "{msg}"
    );
    assert!(err.hint().is_some());

    let url = server.url("/boom");
    let err = c.get_bytes(&url, 100).expect_err("500");
    assert!(matches!(err, NetError::Status { code: 500, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url) && msg.contains("500"), "{msg}");
}

#[test]
fn oversized_content_length_is_refused_before_the_body() {
    let server = TlsServer::start();
    server.route("/big", Response::generated(64 * MIB, 1));
    let url = server.url("/big");
    let err = client(&server).get(&url, MIB).expect_err("too large");
    match &err {
        NetError::TooLarge { url: u, limit } => {
            assert_eq!(u, &url);
            assert_eq!(*limit, MIB);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn oversized_bodies_without_length_stop_at_the_limit() {
    let server = TlsServer::start();
    server.route("/close", Response::generated_no_length(16 * MIB, 2));
    server.route(
        "/chunked",
        Response::chunked(generated_bytes(MIB as usize, 2)),
    );
    // A Content-Length that lies low: hyper stops at the length, so the
    // caller gets the claimed bytes, never more than the limit.
    server.route("/liar", Response::truncated(generated_bytes(1000, 2), 100));
    let c = client(&server);
    let limit = 100_000;
    for path in ["/close", "/chunked"] {
        let mut d = c.get(&server.url(path), limit).expect(path);
        let mut out = Vec::new();
        let err = d.read_to_end(&mut out).expect_err("over the limit");
        assert!(
            out.len() as u64 <= limit,
            "{path}: read {} bytes",
            out.len()
        );
        match NetError::from(err) {
            NetError::TooLarge { limit: l, .. } => assert_eq!(l, limit),
            other => panic!("{path}: expected TooLarge, got {other:?}"),
        }
        // Reading on after the failure fails again, never a clean end.
        let again = d.read(&mut [0u8; 16]).expect_err("read after failure");
        assert!(matches!(
            NetError::from_io(&again),
            Some(NetError::TooLarge { .. })
        ));
    }
    let d = c.get(&server.url("/liar"), limit).expect("liar");
    assert_eq!(read_all(d).expect("read").len(), 100);
}

#[test]
fn body_exactly_at_the_limit_is_fine() {
    let server = TlsServer::start();
    server.route("/a", Response::no_length(generated_bytes(1000, 5)));
    server.route("/b", Response::ok(generated_bytes(1000, 5)));
    let c = client(&server);
    for path in ["/a", "/b"] {
        let bytes = c.get_bytes(&server.url(path), 1000).expect(path);
        assert_eq!(bytes.len(), 1000);
    }
}

#[test]
fn truncated_body_is_an_error() {
    let server = TlsServer::start();
    server.route(
        "/short",
        Response::truncated(generated_bytes(5000, 9), 20_000),
    );
    let url = server.url("/short");
    let c = client(&server);
    let d = c.get(&url, MIB).expect("headers are fine");
    assert_eq!(d.content_length(), Some(20_000));
    let err = read_err(d);
    match &err {
        NetError::Truncated {
            url: u,
            got,
            expected,
        } => {
            assert_eq!(u, &url);
            assert_eq!(*expected, 20_000);
            assert!(*got <= 5000, "got {got}");
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert!(err.to_string().contains("truncated"), "{err}");
    // get_bytes as well
    let err = c.get_bytes(&url, MIB).expect_err("truncated");
    assert!(matches!(err, NetError::Truncated { .. }), "{err:?}");
}

#[test]
fn stalled_server_times_out() {
    let server = TlsServer::start();
    server.route("/silent", Response::stall());
    server.route(
        "/slow-body",
        Response::stall_body(generated_bytes(1000, 1), 100_000),
    );
    let c = client(&server); // 1 s read timeout

    let url = server.url("/silent");
    let err = c.get(&url, MIB).expect_err("no headers ever come");
    match &err {
        NetError::Timeout { url: u } => assert_eq!(u, &url),
        other => panic!("expected Timeout, got {other:?}"),
    }

    let url = server.url("/slow-body");
    let d = c.get(&url, MIB).expect("headers come");
    let err = read_err(d);
    match &err {
        NetError::Timeout { url: u } => assert_eq!(u, &url),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[test]
fn slow_but_moving_download_is_not_cut_short() {
    // Twelve pieces 250 ms apart: 3 s in all, longer than the 2 s read
    // timeout, never idle that long (a wide margin for a loaded machine),
    // and well above a minimum rate averaged over 1 s windows.
    let server = TlsServer::start();
    let body = generated_bytes(120_000, 4);
    server.route(
        "/slow",
        Response::trickle(body.clone(), 12, Duration::from_millis(250)),
    );
    let o = Options {
        read_timeout: Duration::from_secs(2),
        deadline: Some(Duration::from_secs(20)),
        min_rate: Some(mcp_warden::net::MinRate {
            bytes_per_sec: 1024,
            window: Duration::from_secs(1),
        }),
        ..opts(&server)
    };
    let c = Client::with_env_ca(&o, None).expect("client");
    let bytes = c
        .get_bytes(&server.url("/slow"), MIB)
        .expect("a slow download completes");
    assert!(bytes == body, "bytes differ");
    // The same body under a deadline shorter than it takes is cut off.
    let o = Options {
        deadline: Some(Duration::from_secs(1)),
        ..o
    };
    let err = read_err(
        Client::with_env_ca(&o, None)
            .expect("client")
            .get(&server.url("/slow"), MIB)
            .expect("headers come"),
    );
    assert!(matches!(err, NetError::Deadline { secs: 1, .. }), "{err:?}");
}

#[test]
fn unknown_ca_is_refused() {
    let server = TlsServer::start();
    server.route("/x", Response::ok("x"));
    let untrusting = Options {
        ca_files: vec![],
        ..opts(&server)
    };
    let c = Client::with_env_ca(&untrusting, None).expect("client");
    let err = c
        .get(&server.url("/x"), 10)
        .expect_err("must not trust the server");
    assert!(matches!(err, NetError::Tls { .. }), "{err:?}");
    assert!(
        err.hint().is_some_and(|h| h.contains("--ca-file")),
        "{err:?}"
    );
    assert!(server.requests().is_empty(), "a request went through");

    // Another server's CA does not help either.
    let other = TlsServer::start();
    let wrong = Options {
        ca_files: vec![other.ca_file().to_path_buf()],
        ..opts(&server)
    };
    let err = Client::with_env_ca(&wrong, None)
        .expect("client")
        .get(&server.url("/x"), 10)
        .expect_err("wrong CA");
    assert!(matches!(err, NetError::Tls { .. }), "{err:?}");
}

#[test]
fn ca_bundle_with_several_certificates_works() {
    let server = TlsServer::start();
    let other = TlsServer::start();
    server.route("/x", Response::ok("x"));
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, format!("{}\n{}", other.ca_pem(), server.ca_pem())).expect("write");
    let o = Options {
        ca_files: vec![bundle],
        ..opts(&server)
    };
    let bytes = Client::with_env_ca(&o, None)
        .expect("client")
        .get_bytes(&server.url("/x"), 10)
        .expect("trusted through the second certificate");
    assert_eq!(bytes, b"x");
}

#[test]
fn invalid_ca_files_are_clear_errors() {
    let server = TlsServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("write");
    let bad_base64 = dir.path().join("bad64.pem");
    std::fs::write(
        &bad_base64,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let not_der = dir.path().join("notder.pem");
    std::fs::write(
        &not_der,
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    // A truncated copy of the real CA file.
    let cut = dir.path().join("cut.pem");
    let pem = server.ca_pem();
    std::fs::write(&cut, &pem[..pem.len() / 2]).expect("write");

    for path in [&missing, &empty, &garbage, &bad_base64, &not_der, &cut] {
        let o = Options {
            ca_files: vec![path.clone()],
            ..Options::default()
        };
        let err = Client::with_env_ca(&o, None).err().unwrap_or_else(|| {
            panic!("{} was accepted", path.display());
        });
        match &err {
            NetError::CaFile { path: p, .. } => assert_eq!(p, path),
            other => panic!("{}: expected CaFile, got {other:?}", path.display()),
        }
        let msg = err.to_string();
        let shown = path.to_string_lossy();
        assert_eq!(
            msg.matches(&*shown).count(),
            1,
            "path missing or repeated: {msg}"
        );
        assert!(err.hint().is_some());
    }
}

#[test]
fn env_ca_file_is_honoured() {
    let server = TlsServer::start();
    server.route("/x", Response::ok("x"));
    let o = Options {
        ca_files: vec![],
        ..opts(&server)
    };
    let c = Client::with_env_ca(&o, Some(server.ca_file().as_os_str())).expect("client");
    assert_eq!(c.get_bytes(&server.url("/x"), 10).expect("trusted"), b"x");

    // Empty means unset.
    let c = Client::with_env_ca(&o, Some(OsStr::new(""))).expect("client");
    assert!(matches!(
        c.get_bytes(&server.url("/x"), 10),
        Err(NetError::Tls { .. })
    ));

    // A bad file named there fails like one passed in options.
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.pem");
    let err = Client::with_env_ca(&o, Some(missing.as_os_str())).expect_err("missing CA file");
    assert!(matches!(err, NetError::CaFile { .. }), "{err:?}");
}

#[test]
fn connection_refused_is_a_connect_error() {
    // Bind and drop to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let c = Client::with_env_ca(&Options::default(), None).expect("client");
    let url = format!("https://127.0.0.1:{port}/x");
    let err = c.get(&url, 10).expect_err("nothing listens");
    assert!(matches!(err, NetError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn silent_tls_peer_times_out() {
    // The kernel completes the TCP handshake for a listener nobody
    // accepts on; the TLS handshake then never gets an answer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let o = Options {
        read_timeout: Duration::from_secs(1),
        ..Options::default()
    };
    let url = format!("https://127.0.0.1:{port}/x");
    let err = Client::with_env_ca(&o, None)
        .expect("client")
        .get(&url, 10)
        .expect_err("no TLS answer");
    match &err {
        NetError::Timeout { url: u } => assert_eq!(u, &url),
        other => panic!("expected Timeout, got {other:?}"),
    }
    drop(listener);
}

/// Runs in a child process of the test binary (see the next test), where
/// the system CA bundle is made empty; does nothing in the parent.
#[test]
fn child_without_system_roots() {
    if std::env::var_os("MCP_WARDEN_NET_CHILD").is_none() {
        return;
    }
    let err = Client::with_env_ca(&Options::default(), None).expect_err("no roots at all");
    assert!(matches!(err, NetError::Setup { .. }), "{err:?}");
    assert!(err.to_string().contains("CA certificates"), "{err}");
    assert!(err.hint().is_some_and(|h| h.contains("SSL_CERT_FILE")));

    // An extra CA file is enough to work without the system bundle.
    let server = TlsServer::start();
    server.route("/x", Response::ok("x"));
    let bytes = client(&server)
        .get_bytes(&server.url("/x"), 10)
        .expect("trusted through the CA file alone");
    assert_eq!(bytes, b"x");
}

#[test]
fn missing_system_roots_are_a_clear_error() {
    // SSL_CERT_FILE and SSL_CERT_DIR are process-wide, so the check runs in
    // a child process of this test binary.
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "it::net::child_without_system_roots",
            "--test-threads=1",
        ])
        .env("MCP_WARDEN_NET_CHILD", "1")
        .env("SSL_CERT_FILE", &empty)
        .env("SSL_CERT_DIR", dir.path())
        .env_remove("MCP_WARDEN_CA_FILE")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs in a child process (see the next test) whose HTTPS_PROXY and
/// NO_PROXY the parent sets; does nothing in the parent.
#[test]
fn child_fetch_for_proxy_test() {
    if std::env::var_os("MCP_WARDEN_NET_PROXY_CHILD").is_none() {
        return;
    }
    let server = TlsServer::start();
    server.route("/x", Response::ok("through"));
    let bytes = client(&server)
        .get_bytes(&server.url("/x"), 100)
        .expect("fetch");
    assert_eq!(bytes, b"through");
}

#[test]
fn https_proxy_from_the_environment_is_used() {
    use super::support::tls_server::ConnectProxy;
    // Proxy variables are process-wide, so the client runs in a child
    // process of this test binary with its own environment.
    let run = |proxy: &ConnectProxy, no_proxy: Option<&str>| {
        let exe = std::env::current_exe().expect("test binary");
        let mut cmd = std::process::Command::new(exe);
        cmd.args([
            "--exact",
            "it::net::child_fetch_for_proxy_test",
            "--test-threads=1",
        ]);
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
            "MCP_WARDEN_CA_FILE",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("MCP_WARDEN_NET_PROXY_CHILD", "1")
            .env("HTTPS_PROXY", proxy.url());
        if let Some(v) = no_proxy {
            cmd.env("NO_PROXY", v);
        }
        let out = cmd.output().expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let proxy = ConnectProxy::start();
    run(&proxy, None);
    let targets = proxy.targets();
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert!(targets[0].starts_with("localhost:"), "{targets:?}");

    let proxy = ConnectProxy::start();
    run(&proxy, Some("localhost"));
    assert!(
        proxy.targets().is_empty(),
        "NO_PROXY ignored: {:?}",
        proxy.targets()
    );
}
