//! shoal's developer tasks, run as `cargo xtask <command>`.

mod bench;
mod demo;
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
    /// Benchmarks, shoal beside the kernel baseline: `overlay`.
    Bench(bench::BenchArgs),
    /// shoal's main job: a multi-node lab running the data plane, with real traffic.
    Demo(demo::DemoArgs),
    /// Install what this machine lacks: nightly + rust-src, bpf-linker, Debian test packages.
    Setup,
    /// Network-namespace labs: `up`, `down`, `exec`, `ls`.
    Lab(lab::LabArgs),
    /// Everything CI runs: setup, fmt, clippy, unit tests, packet fixtures, netns labs.
    Test,
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Bench(args) => bench::run(args),
        Cmd::Demo(args) => demo::run(args),
        Cmd::Setup => setup::run(),
        Cmd::Lab(args) => lab::run(args),
        Cmd::Test => test::run(),
    }
}
