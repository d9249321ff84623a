//! shoal's developer tasks, run as `cargo xtask <command>`.

mod lab;
mod setup;
mod sh;
mod test;

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
    /// Everything CI runs: setup, fmt, clippy, unit tests, packet fixtures, netns labs.
    Test,
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Setup => setup::run(),
        Cmd::Lab(args) => lab::run(args),
        Cmd::Test => test::run(),
    }
}
