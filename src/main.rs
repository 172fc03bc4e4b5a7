//! Thin binary: parse arguments, start logging on stderr, run, exit.

use std::process::ExitCode;

use mcp_warden::cli;

/// jemalloc: the many small, short-lived allocations of SBOM checking on
/// several threads run about 11% faster than under glibc's malloc, for a
/// higher peak RSS on large SBOMs (docs/src/design.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = cli::parse().unwrap_or_else(|e| cli::usage_error(e));
    let level = match (cli.globals.quiet, cli.globals.verbose) {
        (true, _) => tracing::Level::ERROR,
        (false, 0) => tracing::Level::WARN,
        (false, 1) => tracing::Level::INFO,
        (false, 2) => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    // Logs go to stderr only: stdout carries the report (and, under
    // `run`, nothing but MCP messages).
    // Colour only on a terminal: an MCP client logs `run`'s stderr to a file.
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time();
    // An EnvFilter compiles regexes (a millisecond on every start, which
    // `run` adds to each server launch): only when a filter is asked for.
    match std::env::var("MCP_WARDEN_LOG") {
        Ok(filter) if !filter.is_empty() => logs
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_new(&filter)
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.as_str())),
            )
            .init(),
        _ => logs.with_max_level(level).init(),
    }
    ExitCode::from(cli::run(&cli))
}
