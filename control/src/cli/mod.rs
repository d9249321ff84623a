//! Command-line surface: Docker's verbs under shoal's name (DESIGN.md §3).

mod api_conn;

pub use api_conn::hoist_host;
mod config;
mod daemon_cmd;
mod dp;
mod dp_conntrack;
mod dp_lb;
mod dp_monitor;
mod dp_overlay;
mod dp_wg;
#[cfg(test)]
mod fixtures;
mod humanize;
mod image;
mod login;
mod network;
mod node;
mod objects;
mod output;
mod parse;
mod progress;
mod secret;
mod service;
mod service_flags;
mod service_logs;
mod service_spec;
mod service_table;
mod swarm;
mod volume;
mod watch;

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
    /// Create, change, follow and remove services.
    Service(service::ServiceArgs),
    /// Manage the swarm's overlay networks.
    Network(network::NetworkArgs),
    /// Manage secrets given to services.
    Secret(secret::SecretArgs),
    /// Manage configs given to services as read-only files.
    Config(config::ConfigArgs),
    /// Manage the node's named volumes.
    Volume(volume::VolumeArgs),
    /// Load and list images on this node.
    Image(image::ImageArgs),
    /// Store a registry login on this node (checked against the registry
    /// first) for its image pulls.
    Login(login::LoginArgs),
    /// Forget this node's login for a registry.
    Logout(login::LogoutArgs),
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dp(cmd) => dp::run(cmd),
        Command::Daemon(args) => daemon_cmd::run(args),
        Command::Swarm(args) => swarm::run(args),
        Command::Node(args) => node::run(args),
        Command::Service(args) => service::run(args),
        Command::Network(args) => network::run(args),
        Command::Secret(args) => secret::run(args),
        Command::Config(args) => config::run(args),
        Command::Volume(args) => volume::run(args),
        Command::Image(args) => image::run(args),
        Command::Login(args) => login::login(args),
        Command::Logout(args) => login::logout(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap checks clashing flags and shorts only when a command is
        // built; this builds every subcommand.
        Cli::command().debug_assert();
    }

    #[test]
    fn docker_shaped_command_lines_parse() {
        let lines: [&[&str]; 6] = [
            &[
                "shoal", "service", "create", "--name", "web", "-p", "8080:80", "-e", "A=1", "-d",
                "busybox", "sleep", "9",
            ],
            &[
                "shoal",
                "service",
                "update",
                "--image",
                "busybox:2",
                "--force",
                "-q",
                "web",
            ],
            &[
                "shoal",
                "service",
                "ps",
                "-f",
                "desired-state=running",
                "--no-trunc",
                "web",
            ],
            &["shoal", "service", "logs", "-n", "10", "web"],
            &[
                "shoal",
                "network",
                "create",
                "-d",
                "overlay",
                "-o",
                "encrypted",
                "front",
            ],
            &[
                "shoal",
                "image",
                "load",
                "-H",
                "unix:///tmp/x.sock",
                "-i",
                "busybox.tar",
            ],
        ];
        for line in lines {
            if let Err(err) = Cli::try_parse_from(line) {
                panic!("{line:?}: {err}");
            }
        }
    }
}
