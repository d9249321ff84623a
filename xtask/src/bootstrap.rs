//! The fresh-machine guard: the code that runs `cargo xtask setup` must
//! compile before setup has installed anything (no bpf-linker, no nightly
//! rust-src). Two checks, both run by `cargo xtask test`:
//!
//! 1. the dependency graph: nothing `xtask` depends on (normal or build
//!    dependencies, transitively) is `aya-build` or a shoal crate that embeds
//!    the eBPF programs;
//! 2. a real build of `xtask` in a target dir of its own, on the stable
//!    toolchain, with every `bpf-linker` on PATH hidden: if anything in its
//!    graph built eBPF, the build would fail for want of the linker.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::sh;

/// Crates that must never be in `xtask`'s build graph: they build or embed eBPF.
const FORBIDDEN: &[&str] = &["aya-build", "shoal-dataplane", "shoal-ebpf"];

/// Runs both checks from the workspace root `root`, building into `target`.
pub fn check(root: &Path, target: &Path) -> Result<()> {
    check_graph(root)?;
    check_build_without_linker(root, target)
}

/// Check 1: `cargo tree` of xtask's normal and build dependencies names no
/// forbidden crate.
fn check_graph(root: &Path) -> Result<()> {
    let tree = sh::output(
        Command::new(env!("CARGO"))
            .current_dir(root)
            .args(["tree", "--package", "xtask", "--edges", "normal,build"])
            .args(["--prefix", "none", "--no-dedupe"]),
    )?;
    let found = forbidden_in(&tree);
    if !found.is_empty() {
        bail!(
            "xtask depends on {} (see `cargo tree -p xtask -i {}`): `cargo xtask setup` would \
             not compile on a fresh machine without bpf-linker and rust-src; move that use into \
             xtask-lab",
            found.join(", "),
            found[0]
        );
    }
    println!("bootstrap: xtask's dependency graph builds no eBPF");
    Ok(())
}

/// The forbidden crates named in `cargo tree --prefix none` output (`name vX.Y.Z …` lines).
fn forbidden_in(tree: &str) -> Vec<&'static str> {
    FORBIDDEN
        .iter()
        .copied()
        .filter(|name| {
            tree.lines()
                .any(|line| line.split_whitespace().next() == Some(name))
        })
        .collect()
}

/// Check 2: build xtask on stable with bpf-linker hidden from PATH.
fn check_build_without_linker(root: &Path, target: &Path) -> Result<()> {
    let shims = target.join("path-without-bpf-linker");
    let path = path_without("bpf-linker", &shims)?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root)
        .env("PATH", path)
        .env("RUSTUP_TOOLCHAIN", "stable")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .args(["build", "--quiet", "--package", "xtask", "--bin", "xtask"])
        .arg("--target-dir")
        .arg(target);
    sh::run(&mut cmd).context(
        "xtask does not build without bpf-linker: `cargo xtask setup` would fail on a fresh machine",
    )?;
    println!("bootstrap: xtask builds on stable with no bpf-linker on PATH");
    Ok(())
}

/// PATH with `program` hidden: every PATH entry holding it is replaced by a
/// shim directory (under `shims`) of links to that entry's other files, so
/// cargo and rustup in the same directory stay reachable.
fn path_without(program: &str, shims: &Path) -> Result<OsString> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (i, dir) in std::env::split_paths(&path).enumerate() {
        if !dir.join(program).exists() {
            dirs.push(dir);
            continue;
        }
        let shim = shims.join(i.to_string());
        link_all_but(&dir, program, &shim)?;
        dirs.push(shim);
    }
    std::env::join_paths(dirs).context("PATH holds an unusable entry")
}

/// Makes `shim` a directory of symlinks to every file of `dir` except `program`.
fn link_all_but(dir: &Path, program: &str, shim: &Path) -> Result<()> {
    if shim.exists() {
        fs::remove_dir_all(shim).with_context(|| format!("cannot clear {}", shim.display()))?;
    }
    fs::create_dir_all(shim).with_context(|| format!("cannot create {}", shim.display()))?;
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_name() == program {
            continue;
        }
        let link = shim.join(entry.file_name());
        std::os::unix::fs::symlink(entry.path(), &link)
            .with_context(|| format!("cannot link {}", link.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::forbidden_in;

    #[test]
    fn a_graph_with_aya_build_is_caught() {
        let tree = "xtask v0.1.0 (/w/xtask)\nanyhow v1.0.99\nshoal-dataplane v0.1.0 (/w/dataplane)\naya-build v0.2.0\n";
        assert_eq!(forbidden_in(tree), ["aya-build", "shoal-dataplane"]);
    }

    #[test]
    fn the_light_graph_passes() {
        let tree = "xtask v0.1.0 (/w/xtask)\nanyhow v1.0.99\nclap v4.5.0\nlibc v0.2.170\n";
        assert!(forbidden_in(tree).is_empty());
    }
}
