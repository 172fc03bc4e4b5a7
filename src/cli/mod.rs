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
        let system = std::env::var_os("MCP_WARDEN_SYSTEM_DIR").map(std::path::PathBuf::from);
        Ok(Context::new(
            self.cli.home.as_deref(),
            self.cli.policy.as_deref(),
            system.as_deref(),
        )?)
    }

    pub fn json(&self) -> bool {
        self.cli.format == Format::Json
    }

    /// Writes the main output to stdout; a closed pipe is not an error.
    pub fn out(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }

    /// Messages beside the main output go to stderr.
    pub fn note(&self, text: &str) {
        if !self.cli.quiet {
            eprintln!("{text}");
        }
    }
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
