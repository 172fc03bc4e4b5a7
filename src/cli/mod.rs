//! The command line: parse (every clap type is in `args`), turn the flags
//! into requests for the library's pipelines (`ops`), print the outcomes,
//! choose the exit code. Nothing here decides anything about trust.

pub mod approve;
pub mod args;
mod audit;
mod client;
pub mod docs;
mod list;
mod pin;
mod policy;
pub mod run;
mod sbom;
pub mod secret;
mod trust;
mod verify;

use std::io::Write as _;

pub use args::Cli;
use args::{Command, Format};

use crate::context::Context;
use crate::diag::{Code, Diagnostic};
use crate::report::{Report, render_diagnostic};

pub use crate::diag::Failure;

/// Global options every subcommand sees.
pub struct Global<'a> {
    pub cli: &'a Cli,
}

impl Global<'_> {
    pub fn context(&self) -> anyhow::Result<Context> {
        let requested = std::env::var_os("MCP_WARDEN_SYSTEM_DIR").map(std::path::PathBuf::from);
        let (system, ignored) =
            crate::context::system_dir(requested.as_deref(), &crate::context::builtin_system_dir());
        if let Some(why) = ignored {
            tracing::warn!("{why}");
        }
        Ok(Context::new(
            self.cli.globals.home.as_deref(),
            self.cli.globals.policy.as_deref(),
            Some(&system),
        )?)
    }

    pub fn json(&self) -> bool {
        self.cli.globals.format == Format::Json
    }

    /// Writes the main output to stdout; a closed pipe is not an error.
    pub fn out(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }

    /// Messages beside the main output go to stderr.
    pub fn note(&self, text: &str) {
        if !self.cli.globals.quiet {
            eprintln!("{text}");
        }
    }
}

/// The command line. `run`'s is parsed by [`args::RunLine`] first: every
/// server start pays for what is built here. Any other line, and any
/// error or help, comes from the full definition, the one the man pages
/// are rendered from, so `--help` and `man` say the same thing.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

fn parse_from(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Cli, clap::Error> {
    use clap::{FromArgMatches as _, Parser as _};
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if let Ok(line) = args::RunLine::try_parse_from(&args) {
        let args::RunOnly::Run(run) = line.command;
        return Ok(Cli {
            globals: line.globals,
            command: Command::Run(run),
        });
    }
    docs::command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
}

/// Reports a command-line error and exits 2: as clap's text, or as a JSON
/// error document when `--format json` was asked for, so that programs
/// reading stdout always get JSON.
pub fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let json = {
        let args: Vec<String> = std::env::args().collect();
        args.iter().any(|a| a == "--format=json")
            || args
                .windows(2)
                .any(|w| w[0] == "--format" && w[1] == "json")
    };
    if !json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let message = e.render().to_string();
    // clap's first paragraph is the error; the rest is usage text.
    let first: Vec<&str> = message
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let first = first.join(" ");
    let d = Diagnostic::error(Code::Usage, first.trim_start_matches("error: "))
        .hint("run `mcp-warden --help` for the usage");
    print!("{}", Report::error(vec![d]).to_json());
    std::process::exit(2)
}

/// Runs the parsed command and returns the process exit code.
pub fn run(cli: &Cli) -> u8 {
    let g = Global { cli };
    let result = match &cli.command {
        Command::Verify(a) => verify::run(&g, a),
        Command::Trust(t) => trust::run(&g, t),
        Command::Policy(p) => policy::run(&g, p),
        Command::Add(a) => pin::add(&g, a),
        Command::Update(a) => pin::update(&g, a),
        Command::Remove { name } => pin::remove(&g, name),
        Command::List => list::run(&g),
        Command::Sbom(a) => sbom::run(&g, a),
        Command::Approve(a) => approve::run(&g, a),
        Command::Cache(c) => pin::cache(&g, c),
        Command::Secret(s) => secret::run(&g, s),
        Command::Client(c) => client::run(&g, c),
        Command::Run(a) => run::run(&g, a),
        Command::Audit(c) => audit::run(&g, c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let (diagnostics, exit) = match e.downcast::<Failure>() {
                Ok(f) => (f.diagnostics, f.exit),
                Err(e) => (vec![Diagnostic::error(Code::Internal, format!("{e:#}"))], 2),
            };
            // Under `run`, stdout carries only the server's messages.
            let run = matches!(cli.command, Command::Run(_));
            if g.json() && run {
                eprint!("{}", Report::error(diagnostics).to_json());
            } else if g.json() {
                g.out(&Report::error(diagnostics).to_json());
            } else {
                let mut s = String::new();
                for d in &diagnostics {
                    render_diagnostic(&mut s, d);
                }
                eprint!("{s}");
            }
            exit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches as _;

    fn full(line: &[&str]) -> Result<Cli, clap::Error> {
        let argv = std::iter::once("mcp-warden").chain(line.iter().copied());
        docs::command()
            .try_get_matches_from(argv)
            .and_then(|m| Cli::from_arg_matches(&m))
    }

    fn parsed(line: &[&str]) -> Result<Cli, clap::Error> {
        parse_from(
            std::iter::once("mcp-warden")
                .chain(line.iter().copied())
                .map(Into::into),
        )
    }

    fn run_line(line: &[&str]) -> Option<args::RunLine> {
        use clap::Parser as _;
        args::RunLine::try_parse_from(std::iter::once("mcp-warden").chain(line.iter().copied()))
            .ok()
    }

    /// Every `run` line is parsed by the short definition, to exactly what
    /// the full one makes of it; every other line, help and error is the
    /// full definition's.
    #[test]
    fn run_lines_parse_alone_as_the_full_definition_parses_them() {
        let runs: &[&[&str]] = &[
            &["run", "time"],
            &["--quiet", "--home", "/h", "run", "time"],
            &["run", "time", "--home", "/h2", "-vv", "--format", "json"],
            &["--format=json", "run", "--rehash", "--offline", "x"],
            &[
                "run",
                "fs",
                "--env",
                "API_KEY",
                "--env=B",
                "--grace-period",
                "0.5",
            ],
            &[
                "run",
                "fs",
                "--otlp",
                "http://127.0.0.1:4318",
                "--",
                "/tmp",
                "--rehash",
            ],
            &["--policy", "p.toml", "run", "x", "--", "--", "-x"],
        ];
        for line in runs {
            let want = format!("{:?}", full(line).unwrap());
            assert!(run_line(line).is_some(), "{line:?} is not taken alone");
            assert_eq!(format!("{:?}", parsed(line).unwrap()), want, "{line:?}");
        }
        let others: &[&[&str]] = &[
            &["run"],
            &["run", "--help"],
            &["run", "-h"],
            &["help", "run"],
            &["--version"],
            &["list"],
            &["verify", "a", "--sig", "b"],
            &["run", "x", "--bogus"],
            &["run", "x", "--grace-period", "-1"],
            &["run", "x", "--env", "1BAD"],
            &["ru", "x"],
            &[],
        ];
        for line in others {
            assert!(run_line(line).is_none(), "{line:?} taken alone");
            match (parsed(line), full(line)) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{line:?}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.kind(), b.kind(), "{line:?}");
                    assert_eq!(a.render().to_string(), b.render().to_string(), "{line:?}");
                }
                (a, b) => panic!("{line:?}: {a:?} against {b:?}"),
            }
        }
    }
}
