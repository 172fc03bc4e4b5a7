//! Man pages and shell completions rendered from the clap definition. The
//! checked-in copies under `man/` and `completions/` are compared with
//! these by a test, which rewrites them when MCP_WARDEN_REGENERATE=1.

use clap::CommandFactory;

use super::Cli;
use crate::diag::Code;

/// The full command, with the diagnostic codes appended to `verify`'s
/// long help so the man page documents every code.
pub fn command() -> clap::Command {
    let mut codes = String::from("Diagnostic codes:\n");
    for c in Code::ALL {
        codes.push_str(&format!("  {}\n      {}\n", c.as_str(), c.doc()));
    }
    let exit = "\nExit status:\n  0  verified and allowed\n  1  verification failed or the policy denied\n  2  usage, input or internal error";
    Cli::command().mut_subcommand("verify", move |v| {
        v.after_long_help(format!("{codes}{exit}"))
    })
}

/// (relative path, contents) of every generated file.
pub fn render() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let root = command();
    man_pages(&root, "mcp-warden", &mut out);
    for (shell, file) in [
        (clap_complete::Shell::Bash, "mcp-warden.bash"),
        (clap_complete::Shell::Zsh, "_mcp-warden"),
        (clap_complete::Shell::Fish, "mcp-warden.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut command(), "mcp-warden", &mut buf);
        out.push((format!("completions/{file}"), buf));
    }
    out
}

fn man_pages(cmd: &clap::Command, name: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let cmd = cmd
        .clone()
        .name(name.to_string())
        .display_name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .date("")
        .render(&mut buf)
        .expect("rendering into memory cannot fail");
    out.push((format!("man/{name}.1"), buf));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        man_pages(sub, &format!("{name}-{}", sub.get_name()), out);
    }
}
