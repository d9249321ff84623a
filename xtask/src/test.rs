//! `cargo xtask test`: everything CI checks, in order, failing loudly on the
//! first broken step: setup, formatting, lints (host crates and the eBPF
//! crate), unit tests, packet fixtures and network-namespace labs.

use std::process::Command;

use anyhow::{Result, bail};

use crate::{setup, sh};

/// Run the whole suite.
pub fn run() -> Result<()> {
    if !is_root() {
        bail!("the fixtures and labs load eBPF programs and create namespaces: run as root");
    }
    setup::run()?;
    step("format", cargo(&["fmt", "--all", "--check"]))?;
    step(
        "clippy (host crates)",
        cargo(&["clippy", "--all-targets", "--", "-D", "warnings"]),
    )?;
    step("clippy (eBPF crate)", ebpf_clippy())?;
    // The labs run the real `shoal` binary inside each node's namespace.
    step(
        "build shoal",
        cargo(&["build", "--package", "shoal-control", "--bin", "shoal"]),
    )?;
    step("vagrant validate", vagrant_validate())?;
    step("tests", cargo(&["test", "--all-targets"]))?;
    println!("xtask test: all steps passed");
    Ok(())
}

fn step(name: &str, mut cmd: Command) -> Result<()> {
    println!("==> {name}: {}", sh::describe(&cmd));
    sh::run(&mut cmd)
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args);
    cmd
}

/// Lint the eBPF crate as it is really built: nightly, BPF target, core only.
fn ebpf_clippy() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run",
        "nightly",
        "cargo",
        "clippy",
        "--package",
        "shoal-ebpf",
        "--release",
        "--target",
        "bpfel-unknown-none",
        "-Z",
        "build-std=core",
        "--",
        "-D",
        "warnings",
    ]);
    // The eBPF build needs bpf_target_arch, as aya-build passes it.
    cmd.env(
        "CARGO_ENCODED_RUSTFLAGS",
        "--cfg=bpf_target_arch=\"x86_64\"",
    );
    cmd.env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    cmd
}

/// Check the multi-VM lab's Vagrantfile (no box or provider needed).
fn vagrant_validate() -> Command {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new("vagrant");
    cmd.args(["validate", "--ignore-provider"])
        .current_dir(root.join("vagrant"))
        .env("SHOAL_BIN", root.join("target/debug/shoal"));
    cmd
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
