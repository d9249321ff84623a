//! shoal's developer tasks, run as `cargo xtask <command>`.

mod lab;
mod setup;
mod sh;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// shoal's developer tasks.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what this machine lacks: nightly + rust-src, bpf-linker, Debian test packages.
    Setup,
    /// Network-namespace labs: `up`, `down`, `exec`, `ls`.
    Lab(lab::LabArgs),
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Setup => setup::run(),
        Cmd::Lab(args) => lab::run(args),
    }
}
