//! `cargo xtask bench <target>`: shoal measured side by side with the kernel
//! baseline in one run; results go to BENCHMARKS.md.

mod measure;
mod overlay;
mod report;

use anyhow::Result;
use clap::{Args, Subcommand};

/// Arguments of `cargo xtask bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(Subcommand)]
enum BenchTarget {
    /// Task-to-task TCP throughput and HTTP request/response: raw veth, kernel
    /// VXLAN + bridge (Swarm's data path), shoal's overlay.
    Overlay(overlay::OverlayArgs),
}

/// Runs `cargo xtask bench …`.
pub fn run(args: BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Overlay(args) => overlay::run(args),
    }
}
