//! `cargo xtask vm`: shoal on real kernels — Debian VMs (qemu) joined by a
//! private underlay, each running shoal from its Debian package, loaded at
//! boot by systemd. `image` builds (or finds cached) the VM image; `box`
//! makes it the local Vagrant box the Vagrantfile uses; `up`
//! boots and provisions the nodes, which form a swarm; `ssh` runs a
//! command on one; `test` runs the VM suite on a lab that is up; `down`
//! stops every VM and removes the underlay namespace.
//!
//! ```text
//!   netns shoal-vm (no uplink, no route out)
//!   ┌──────────────────────────────────────────────────────┐
//!   │ shoal-br 198.18.1.1/24  (ssh, the suite's client)    │
//!   │   ├─ shoal-tap1 ── qemu node1 eth0 198.18.1.11       │
//!   │   ├─ shoal-tap2 ── qemu node2 eth0 198.18.1.12       │
//!   │   └─ shoal-tap3 ── qemu node3 eth0 198.18.1.13       │
//!   └──────────────────────────────────────────────────────┘
//! ```

mod image;
mod layout;
mod net;
mod node;
mod package;
mod ssh;
mod suite;
mod suite_checks;
mod suite_faults;
mod up;
mod vagrant_box;

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};

use layout::{Dirs, node_addr};

/// `cargo xtask vm` arguments.
#[derive(Args)]
pub struct VmArgs {
    #[command(subcommand)]
    cmd: VmCmd,
}

#[derive(Subcommand)]
enum VmCmd {
    /// Build the VM image from the Debian mirror (cached: rebuilt only when its inputs change).
    Image,
    /// The image as the local Vagrant box `shoal/trixie` (vagrant-libvirt), for `vagrant/`.
    Box,
    /// Boot the VMs, install shoal's package on each, form the swarm.
    Up(up::UpArgs),
    /// A shell (or COMMAND) on a node, as root: `cargo xtask vm ssh node2 shoal dp status`.
    Ssh {
        /// `node1`, `node2`, …
        node: String,
        /// The command; an interactive shell without one.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// The VM suite, on the lab `up` brought up: mesh, XDP, reboot, upgrade under traffic.
    Test(suite::TestArgs),
    /// Stop every VM, drop their disks, remove the underlay namespace.
    Down,
}

/// Runs `cargo xtask vm …`.
pub fn run(args: VmArgs) -> Result<()> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .context("xtask/lab has no grandparent")?;
    let dirs = Dirs::new(repo);
    match args.cmd {
        VmCmd::Image => image::ensure(&dirs).map(drop),
        VmCmd::Box => vagrant_box::run(&dirs),
        VmCmd::Up(up) => up::run(&dirs, &up),
        VmCmd::Ssh { node, command } => ssh_to(&dirs, &node, &command),
        VmCmd::Test(test) => suite::run(&dirs, &test),
        VmCmd::Down => down(&dirs),
    }
}

/// `ssh` to `node` (an interactive terminal when there is no command).
fn ssh_to(dirs: &Dirs, node: &str, command: &[String]) -> Result<()> {
    let index: usize = node
        .strip_prefix("node")
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("{node}: not a node name (node1, node2, …)"))?;
    let mut cmd = net::command("ssh");
    cmd.arg("-i")
        .arg(dirs.key())
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "LogLevel=ERROR"]);
    if command.is_empty() {
        cmd.arg("-t");
    }
    cmd.arg(format!("root@{}", node_addr(index))).args(command);
    let status = cmd.status().context("cannot start ssh")?;
    if !status.success() {
        bail!("ssh {node}: {status}");
    }
    Ok(())
}

/// Stops the VMs, removes their disks and the namespace.
fn down(dirs: &Dirs) -> Result<()> {
    for index in node::running(dirs) {
        node::stop(dirs, index)?;
        println!("vm: node{index} stopped");
    }
    let nodes = dirs.root.join("nodes");
    if nodes.exists() {
        std::fs::remove_dir_all(&nodes).context("removing the nodes' disks")?;
    }
    net::destroy()?;
    Ok(())
}
