//! shoal's Debian package for the VMs: a release build (the VMs run under
//! TCG, where a debug build's start-up and eBPF loading crawl), packaged by
//! `xtask::deb` exactly as `cargo xtask deb` does.

use std::path::{Path, PathBuf};

use anyhow::Result;
use xtask::sh;

use super::layout::Dirs;

/// The package's version: the workspace's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the release `shoal` and packages it as `version` in `out`; the
/// package's path.
pub fn build(dirs: &Dirs, version: &str, out: &Path) -> Result<PathBuf> {
    sh::run(&mut xtask::deb::release_build(&dirs.repo, env!("CARGO")))?;
    std::fs::create_dir_all(out)?;
    xtask::deb::build(
        &dirs.repo,
        &dirs.repo.join("target/release/shoal"),
        version,
        out,
    )
}
