//! shoal's developer tasks, run as `cargo xtask <command>`.
//!
//! This binary compiles on a machine that has nothing but rustup's stable and
//! nightly toolchains: it depends on no crate that builds eBPF. `setup` and
//! `test` run here; `demo`, `lab` and `bench` run in `xtask-lab`, which links
//! the data plane and is built only after setup has installed the eBPF
//! toolchain (the nightly's rust-src and bpf-linker).

mod test;

use std::ffi::OsString;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use xtask::{setup, sh};

/// shoal's developer tasks.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what this machine lacks: nightly + rust-src, bpf-linker, Debian test packages.
    Setup,
    /// Everything CI runs: setup, bootstrap guard, fmt, clippy, unit tests, packet fixtures,
    /// netns labs.
    Test,
    /// shoal's main job: a multi-node swarm lab with a service answered through the mesh
    /// (`cargo xtask demo --help` for its options).
    #[command(disable_help_flag = true)]
    Demo(Passthrough),
    /// Network-namespace labs: `up`, `down`, `exec`, `ls`.
    #[command(disable_help_flag = true)]
    Lab(Passthrough),
    /// Benchmarks, shoal beside the kernel baseline: `overlay`, `lb`, `control`, `services`.
    #[command(disable_help_flag = true)]
    Bench(Passthrough),
    /// The multi-VM lab (qemu, Debian trixie, shoal from its package): `image`, `up`, `ssh`,
    /// `test`, `down`.
    #[command(disable_help_flag = true)]
    Vm(Passthrough),
    /// The Debian package: `target/debian/shoal_<version>_amd64.deb` (shoal, its systemd units,
    /// /etc/default/shoal).
    Deb(DebArgs),
}

/// `cargo xtask deb` options.
#[derive(clap::Args)]
struct DebArgs {
    /// Package this `shoal` binary instead of building a release one.
    #[arg(long)]
    binary: Option<std::path::PathBuf>,
    /// Where the package goes.
    #[arg(long, default_value = "target/debian")]
    out: std::path::PathBuf,
}

/// Builds the release binary (unless one is given) and packages it.
fn deb(args: DebArgs) -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent directory")?
        .to_owned();
    let binary = match args.binary {
        Some(binary) => binary,
        None => {
            setup::ensure_quietly()?;
            sh::run(&mut xtask::deb::release_build(&root, env!("CARGO")))?;
            root.join("target/release/shoal")
        }
    };
    let out = root.join(&args.out);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let deb = xtask::deb::build(&root, &binary, env!("CARGO_PKG_VERSION"), &out)?;
    println!("{}", deb.display());
    Ok(())
}

/// Arguments handed unchanged to `xtask-lab`, which parses them.
#[derive(clap::Args)]
struct Passthrough {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

fn main() -> Result<ExitCode> {
    let (name, rest) = match Cli::parse().cmd {
        Cmd::Setup => return setup::run().map(|()| ExitCode::SUCCESS),
        Cmd::Test => return test::run().map(|()| ExitCode::SUCCESS),
        Cmd::Demo(p) => ("demo", p.args),
        Cmd::Lab(p) => ("lab", p.args),
        Cmd::Bench(p) => ("bench", p.args),
        Cmd::Vm(p) => ("vm", p.args),
        Cmd::Deb(args) => return deb(args).map(|()| ExitCode::SUCCESS),
    };
    setup::ensure_quietly()?;
    run_lab_tool(name, &rest)
}

/// Builds `xtask-lab` (after setup, so the eBPF toolchain is there) and runs
/// `xtask-lab NAME REST…`, exiting with its exit code.
fn run_lab_tool(name: &str, rest: &[OsString]) -> Result<ExitCode> {
    println!(
        "xtask: building the lab tool (the first build compiles shoal and its eBPF programs: \
         several minutes on 2 cores)"
    );
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["run", "--package", "xtask-lab", "--bin", "xtask-lab", "--"])
        .arg(name)
        .args(rest);
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", sh::describe(&cmd)))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
