//! Command-line surface: Docker's verbs under shoal's name (DESIGN.md §3).

mod api_conn;
mod daemon_cmd;
mod dp;
mod dp_conntrack;
mod dp_lb;
mod dp_overlay;
mod node;
mod output;
mod swarm;

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
    /// Run this node's daemon (API socket, and the control listener on managers).
    Daemon(daemon_cmd::DaemonArgs),
    /// Create, join, leave and unlock a swarm.
    Swarm(swarm::SwarmArgs),
    /// List and manage the swarm's nodes.
    Node(node::NodeArgs),
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dp(cmd) => dp::run(cmd),
        Command::Daemon(args) => daemon_cmd::run(args),
        Command::Swarm(args) => swarm::run(args),
        Command::Node(args) => node::run(args),
    }
}
