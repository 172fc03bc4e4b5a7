//! Confirmation of `confirm-tools` through a real MCP client, in both
//! protocol eras: 2025-11-25 asks with an `elicitation/create` request,
//! 2026-07-28 with an `input_required` result that rmcp's client fulfils
//! and retries. The server is PyPI `mcp-server-time` (tests/it/guard_e2e.rs).

use rmcp::model::ElicitationAction;
use serde_json::json;

use super::guard_e2e::{pin_time, session};
use super::support::mcp_client::{Asker, Era, text_of};
use super::support::util::*;

const POLICY: &str = "version = 1\n[[servers]]\nname = \"time\"\n[servers.run]\nconfirm-tools = [\"get_current_*\"]\n";

#[test]
fn confirmation_in_both_eras_accepted_declined_and_without_elicitation() {
    let env = TestEnv::new();
    pin_time(&env);
    std::fs::write(env.user_policy(), POLICY).unwrap();
    let args = json!({"timezone": "Europe/Paris"});
    for era in [Era::Initialize, Era::Discover] {
        // Accepted: the user was asked, naming the tool; the call ran.
        let asker = Asker::answering(ElicitationAction::Accept);
        let s = session(&env, "time", era, asker.clone());
        // The era asked for is the era spoken.
        let version = s
            .server_info()
            .unwrap_or_else(|e| panic!("{e}"))
            .protocol_version;
        assert_eq!(
            version.has_initialize(),
            era == Era::Initialize,
            "{version:?}"
        );
        s.list_tools().unwrap_or_else(|e| panic!("{era:?}: {e}"));
        let r = s
            .call_tool("get_current_time", args.clone())
            .unwrap_or_else(|e| panic!("{era:?}: {e}"));
        assert!(text_of(&r).contains("Europe/Paris"), "{era:?}: {r:?}");
        let asked = asker.questions();
        assert_eq!(asked.len(), 1, "{era:?}: {asked:?}");
        assert!(
            asked[0].contains("`get_current_time`"),
            "{era:?}: {asked:?}"
        );
        assert!(asked[0].contains("timezone"), "{era:?}: {asked:?}");
        // A tool outside the patterns is not asked about.
        s.call_tool(
            "convert_time",
            json!({"source_timezone": "UTC", "time": "12:00", "target_timezone": "UTC"}),
        )
        .unwrap_or_else(|e| panic!("{era:?}: {e}"));
        assert_eq!(asker.questions().len(), 1, "{era:?}");
        s.close().unwrap_or_else(|e| panic!("{e}"));

        // Declined: an error, and the server never ran the tool.
        let asker = Asker::answering(ElicitationAction::Decline);
        let s = session(&env, "time", era, asker.clone());
        s.list_tools().unwrap_or_else(|e| panic!("{e}"));
        let err = s
            .call_tool("get_current_time", args.clone())
            .expect_err("a declined call must fail");
        assert!(err.what.contains("mcp-warden"), "{era:?}: {err}");
        assert_eq!(asker.questions().len(), 1, "{era:?}");
        s.close().unwrap_or_else(|e| panic!("{e}"));

        // A client that cannot be asked: refused, saying why.
        let s = session(&env, "time", era, Asker::default());
        s.list_tools().unwrap_or_else(|e| panic!("{e}"));
        let err = s
            .call_tool("get_current_time", args.clone())
            .expect_err("an unconfirmable call must fail");
        assert!(
            err.what.contains("needs confirmation") && err.what.contains("elicitation"),
            "{era:?}: {err}"
        );
        s.close().unwrap_or_else(|e| panic!("{e}"));
    }
    // Every decision is in the audit log: per era one confirmed, one
    // declined by the user, one declined for want of a way to ask, and
    // the convert_time call allowed.
    let out = env.run(["--format", "json", "audit", "show", "--server", "time"]);
    out.code(0);
    let records = out.json()["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let decisions: Vec<String> = records
        .iter()
        .filter(|r| r["event"] == "tool-call")
        .map(|r| {
            format!(
                "{}:{}",
                r["tool"].as_str().unwrap_or(""),
                r["decision"].as_str().unwrap_or("")
            )
        })
        .collect();
    let want = [
        "get_current_time:confirmed",
        "convert_time:allowed",
        "get_current_time:declined",
        "get_current_time:declined",
    ];
    assert_eq!(decisions, [want, want].concat(), "{records:?}");
    env.run(["audit", "verify"]).code(0);
}
