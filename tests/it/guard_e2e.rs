//! The guard end to end: real MCP servers (PyPI `mcp-server-time`, npm
//! `@modelcontextprotocol/server-everything`, the fixture servers) driven
//! through `mcp-warden run` by a real MCP client (rmcp), in both protocol
//! eras where the server speaks them.
//!
//! `mcp-server-time` and everything it imports are installed by
//! scripts/test from fixtures/servers/time/requirements.txt into
//! `target/test-tools/time/site` (a `pip install --target` tree); here that
//! tree is packed, signed with the real minisign and `add`ed, so `run`
//! starts it from the verified cache under `python3 -I`.

use serde_json::json;
use std::path::{Path, PathBuf};

use super::support::mcp_client::{Asker, DEFAULT_DEADLINE, Era, McpSession, text_of};
use super::support::util::*;

/// `target/test-tools/time/site`, as scripts/test installs it.
fn time_site() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/time");
    assert!(
        root.join(".installed").is_file()
            && root.join("site/mcp_server_time/__init__.py").is_file(),
        "mcp-server-time is not installed in {}: run scripts/test, which installs it from \
         fixtures/servers/time/requirements.txt. The test fails instead of skipping, so that a \
         missing server is never mistaken for a pass.",
        root.display()
    );
    root.join("site")
}

/// Packs the time server's tree once per test process.
fn pack_time(env: &TestEnv) -> PathBuf {
    static PACKED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let bytes = PACKED.get_or_init(|| {
        let site = time_site();
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let out = tmp.path().join("time.tgz");
        tool(
            tmp.path(),
            "tar",
            [
                o("--exclude=__pycache__"),
                o("-czf"),
                out.clone().into_os_string(),
                o("-C"),
                site.into_os_string(),
                o("."),
            ],
        );
        std::fs::read(&out).expect("read the packed server")
    });
    env.write("time.tgz", bytes)
}

/// Pins the time server as `time`, signed by a trusted minisign key.
pub fn pin_time(env: &TestEnv) {
    let tgz = pack_time(env);
    env.pin_signed("time", &tgz, "time-publisher", &["time"]);
}

pub fn session(env: &TestEnv, name: &str, era: Era, asker: Asker) -> McpSession {
    let mut c = env.command();
    c.args(["run", name]);
    McpSession::spawn_as(c, era, asker, DEFAULT_DEADLINE)
        .unwrap_or_else(|e| panic!("mcp-warden run {name} ({era:?}): {e}"))
}

fn exercise_time(s: &McpSession) {
    let tools = s.list_tools().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"get_current_time"), "{names:?}");
    let r = s
        .call_tool("get_current_time", json!({"timezone": "Europe/Paris"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert!(text_of(&r).contains("Europe/Paris"), "{r:?}");
    let r = s
        .call_tool(
            "convert_time",
            json!({"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(text_of(&r).contains("21:00"), "{r:?}");
}

#[test]
fn time_server_through_the_guard_in_both_eras() {
    let env = TestEnv::new();
    pin_time(&env);
    for era in [Era::Initialize, Era::Discover] {
        let s = session(&env, "time", era, Asker::default());
        exercise_time(&s);
        let status = s.close().unwrap_or_else(|e| panic!("{era:?}: {e}"));
        assert!(status.success(), "{era:?}: {status:?}");
    }
}

/// server-everything 2026.8.31 does not speak 2026-07-28: it answers
/// `server/discover` with "method not found", which the guard passes
/// through unchanged, and rmcp's Discover lifecycle gives up on that
/// (it falls back only on "unsupported protocol version"). The
/// 2026-07-28 era through the guard is covered with the time server
/// (above, and `guard_rules::confirmation_in_the_stateless_era`); the
/// 2025-11-25 era with server-everything by
/// `everything::everything_through_warden_run`. When a newer
/// server-everything speaks 2026-07-28, this test fails: turn it into a
/// session in that era.
#[test]
fn everything_answers_server_discover_with_method_not_found_through_the_guard() {
    let env = TestEnv::new();
    let tgz = super::everything::pack_everything(&env);
    let key = Minisign::generate(&env, "publisher");
    let sig = key.sign(&tgz, None);
    env.trust_key(&key.public, "publisher", &["everything"]);
    env.run([
        "add",
        "everything",
        tgz.to_str().unwrap(),
        "--signature",
        sig.to_str().unwrap(),
    ])
    .code(0);
    let mut c = env.command();
    c.args(["run", "everything"]);
    match McpSession::spawn_as(c, Era::Discover, Asker::default(), DEFAULT_DEADLINE) {
        Ok(s) => panic!(
            "server-everything now speaks 2026-07-28 ({:?}): test it in that era",
            s.server_info().map(|i| i.protocol_version)
        ),
        Err(e) => {
            assert!(e.what.contains("-32601: Method not found"), "{e}");
            // The answer is the server's, not a refusal of the guard.
            assert!(!e.stderr.contains("mcp-warden: dropped"), "{e}");
            assert!(!e.what.contains("mcp-warden: "), "{e}");
        }
    }
}
