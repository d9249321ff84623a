//! Command-line surface: Docker's verbs under shoal's name (DESIGN.md §3).

mod dp;
mod dp_conntrack;
mod dp_lb;
mod dp_overlay;
mod output;

use clap::{Parser, Subcommand};

/// shoal: container cluster networking with an eBPF data plane.
#[derive(Debug, Parser)]
#[command(name = "shoal", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and drive this node's eBPF data plane (the pinned maps and links).
    #[command(subcommand)]
    Dp(dp::DpCommand),
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dp(cmd) => dp::run(cmd),
    }
}
