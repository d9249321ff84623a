//! shoal's Debian package for the VMs: a release build (the VMs run under
//! TCG, where a debug build's start-up and eBPF loading crawl), packaged by
//! `xtask::deb` exactly as `cargo xtask deb` does.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use xtask::sh;

use super::layout::Dirs;

/// The package's version: the workspace's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the release `shoal` and packages it as `version` in `out`; the
/// package's path.
pub fn build(dirs: &Dirs, version: &str, out: &Path) -> Result<PathBuf> {
    sh::run(Command::new(env!("CARGO")).current_dir(&dirs.repo).args([
        "build",
        "--release",
        "--package",
        "shoal-control",
        "--bin",
        "shoal",
    ]))?;
    std::fs::create_dir_all(out)?;
    xtask::deb::build(
        &dirs.repo,
        &dirs.repo.join("target/release/shoal"),
        version,
        out,
    )
}
