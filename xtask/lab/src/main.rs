//! shoal's heavy developer tasks: the demo, hand-made labs and benchmarks.
//!
//! This binary links the data plane (and so embeds the eBPF programs), which
//! needs the nightly's rust-src and bpf-linker to build. `cargo xtask` builds
//! and runs it only after `setup` has installed those; run it through
//! `cargo xtask demo|lab|bench`, not directly.

mod bench;
mod demo;
mod lab;
mod vm;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// shoal's heavy developer tasks (run through `cargo xtask`).
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Benchmarks, shoal beside the kernel baseline.
    Bench(bench::BenchArgs),
    /// shoal's main job: a multi-node lab running the data plane, with real traffic.
    Demo(demo::DemoArgs),
    /// Network-namespace labs: `up`, `down`, `exec`, `ls`.
    Lab(lab::LabArgs),
    /// The multi-VM lab: `image`, `up`, `ssh`, `test`, `down`.
    Vm(vm::VmArgs),
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Bench(args) => bench::run(args),
        Cmd::Demo(args) => demo::run(args),
        Cmd::Lab(args) => lab::run(args),
        Cmd::Vm(args) => vm::run(args),
    }
}
