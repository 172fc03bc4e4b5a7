//! `run` of the other entry-point kinds: an `.mcpb` bundle signed by the
//! real `mcpb` CLI (its `mcp_config` under node), and a wheel (its console
//! script under an isolated python3).

use std::fs;

use super::support::util::{Minisign, TestEnv, fixture, require_tool, tool};

#[test]
fn an_mcpb_bundle_runs_its_mcp_config() {
    require_tool("node", &["--version"]);
    let env = TestEnv::new();
    env.copy_fixture("mcpb/root.pem", "root.pem");
    env.run([
        "trust", "add-ca", "root.pem", "--name", "acme-ca", "--scope", "*",
    ])
    .code(0);
    fs::copy(fixture("mcpb/signed-mcpb-2.1.2.mcpb"), env.path("b.mcpb")).unwrap();
    env.run(["add", "bundle", "./b.mcpb"]).code(0);
    let out = env.cmd().args(["run", "bundle"]).stdin("").run();
    out.code(0);
    // The fixture's server prints one line that is not MCP: the guard
    // drops it (stdout carries only messages) and says so on stderr.
    assert_eq!(out.stdout, "", "{}", out.context());
    out.stderr_has("signed by acme-ca")
        .stderr_has("node <bundle>/server/index.js")
        .stderr_has("dropped a message from the server");
    // Without the guard (policy `guard = false`) the line reaches stdout.
    fs::write(
        env.user_policy(),
        "version = 1\n[[servers]]\nname = \"bundle\"\n[servers.run]\nguard = false\n",
    )
    .unwrap();
    let out = env.cmd().args(["run", "bundle"]).stdin("").run();
    out.code(0);
    assert_eq!(out.stdout, "fixture server\n", "{}", out.context());
    out.stderr_has("guard off");
}

const WHEEL_MAIN: &str = r#"
import json, os, sys

def main():
    line = sys.stdin.readline()
    print(json.dumps({"jsonrpc": "2.0", "id": json.loads(line)["id"],
                      "result": {"argv": sys.argv, "got": line.strip(),
                                 "isolated": sys.flags.isolated,
                                 "pythonpath": os.environ.get("PYTHONPATH")}}))
    return 4
"#;

#[test]
fn a_wheel_runs_its_console_script_isolated() {
    require_tool("python3", &["--version"]);
    require_tool("zip", &["-v"]);
    let env = TestEnv::new();
    env.write("whl/hello_srv/__init__.py", WHEEL_MAIN);
    env.write(
        "whl/hello_srv-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: hello-srv\nVersion: 1.0\n",
    );
    env.write(
        "whl/hello_srv-1.0.dist-info/WHEEL",
        "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    );
    env.write(
        "whl/hello_srv-1.0.dist-info/entry_points.txt",
        "[console_scripts]\nhello-srv = hello_srv:main\n",
    );
    env.write("whl/hello_srv-1.0.dist-info/RECORD", "");
    let whl = env.path("hello_srv-1.0-py3-none-any.whl");
    tool(
        &env.path("whl"),
        "zip",
        ["-q", "-r", whl.to_str().unwrap(), "."],
    );
    let key = Minisign::generate(&env, "k");
    env.trust_key(&key.public, "k", &["*"]).code(0);
    let sig = key.sign(&whl, None);
    env.run([
        "add",
        "hello",
        whl.to_str().unwrap(),
        "--signature",
        sig.to_str().unwrap(),
    ])
    .code(0);
    let out = env
        .cmd()
        .args(["run", "hello", "--", "--port", "0"])
        .var("PYTHONPATH", "/nonexistent/evil")
        .stdin(super::run::PING)
        .run();
    out.code(4);
    let v = super::run::answer(&out);
    assert_eq!(v["argv"], serde_json::json!(["hello-srv", "--port", "0"]));
    assert_eq!(v["got"], super::run::PING.trim_end());
    assert_eq!(v["isolated"], 1);
    assert_eq!(v["pythonpath"], serde_json::Value::Null);
    out.stderr_has("hello_srv:main");

    // A wheel that needs a distribution it does not carry is refused.
    env.write(
        "whl/hello_srv-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: hello-srv\nVersion: 1.0\nRequires-Dist: mcp>=1.0\n",
    );
    let whl2 = env.path("hello_srv-1.1-py3-none-any.whl");
    tool(
        &env.path("whl"),
        "zip",
        ["-q", "-r", whl2.to_str().unwrap(), "."],
    );
    let sig2 = key.sign(&whl2, None);
    env.run([
        "add",
        "needy",
        whl2.to_str().unwrap(),
        "--signature",
        sig2.to_str().unwrap(),
    ])
    .code(0);
    env.cmd()
        .args(["run", "needy"])
        .stdin("")
        .run()
        .code(2)
        .diag_in_stderr("entry-point")
        .stderr_has("mcp");
}
