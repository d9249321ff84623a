//! `shoal`: the one binary — daemon, CLI and data-plane tools.

mod cli;

use clap::Parser as _;
use shoal_control::runtime;

/// What is logged when `RUST_LOG` is not set: warnings and errors of every
/// crate, so openraft's replication errors show; `RUST_LOG=info` (or
/// `openraft=info`) adds elections and membership changes.
const DEFAULT_LOG_FILTER: &str = "warn";

/// One subscriber for both `tracing` (openraft, tokio) and the `log` macros
/// (shoal's own crates): every event reaches stderr with its level and
/// target.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    // Colours only on a terminal: a daemon's log is usually a file or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

fn main() -> std::process::ExitCode {
    // A container's log shim: before anything else (no logging, no async
    // runtime — it is one small loop per container).
    let mut argv = std::env::args_os().skip(1);
    if argv.next().as_deref() == Some(std::ffi::OsStr::new(runtime::log_shim::SHIM_ARG))
        && let Some(log) = argv.next()
    {
        let code = runtime::log_shim::main(std::path::Path::new(&log));
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    init_logging();
    let args = cli::Cli::parse_from(cli::hoist_host(std::env::args_os().collect()));
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
