//! `cargo xtask vm test`: the VM suite, on the lab `vm up` brought up. It
//! checks, on real kernels and virtio NICs, what the netns labs cannot:
//!
//! 1. the swarm formed at boot from the package, over the VMs' NICs;
//! 2. on every node the data plane (pinned links) loaded before the daemon,
//!    which is `Type=notify` and active;
//! 3. a service published through the mesh answers on every VM, and its
//!    tasks see the client's own address;
//! 4. XDP runs in native (driver) mode on virtio-net;
//! 5. a node reboots: the data plane is loaded before the daemon again, the
//!    node rejoins, its tasks run again and its published port answers;
//! 6. a package upgrade under traffic swaps the programs with zero failed
//!    requests.
//!
//! Each step prints what it checked and how long it took; the first
//! failure stops the suite with what was seen.

use std::time::Instant;

use anyhow::{Result, bail};

use super::layout::Dirs;
use super::node;
use super::ssh::Ssh;
use super::suite_checks::{self as checks, Lab};
use super::suite_faults;

/// `cargo xtask vm test` options.
#[derive(clap::Args)]
pub struct TestArgs {
    /// Skip the node reboot.
    #[arg(long)]
    pub skip_reboot: bool,
    /// Skip the package upgrade under traffic.
    #[arg(long)]
    pub skip_upgrade: bool,
}

/// Runs the suite.
pub fn run(dirs: &Dirs, args: &TestArgs) -> Result<()> {
    let nodes = node::running(dirs);
    if nodes.len() < 2 {
        bail!("the VM suite needs a lab of 2 or more nodes: `cargo xtask vm up` first");
    }
    let lab = Lab {
        dirs: dirs.clone(),
        ssh: Ssh::new(&dirs.key()),
        nodes,
    };
    let started = Instant::now();
    step("swarm formed over the VMs' NICs", || checks::swarm(&lab))?;
    step("data plane before the daemon at boot", || {
        checks::boot_order_all(&lab)
    })?;
    step("service published through the mesh", || {
        checks::service(&lab)
    })?;
    step("mesh answers on every VM with the client's address", || {
        checks::mesh(&lab)
    })?;
    step("native XDP on virtio-net", || checks::native_xdp(&lab))?;
    if !args.skip_reboot {
        step("node reboot: back in the swarm with its tasks", || {
            suite_faults::reboot(&lab)
        })?;
    }
    if !args.skip_upgrade {
        step("package upgrade under traffic", || {
            suite_faults::upgrade(&lab)
        })?;
    }
    println!("vm test: all passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Runs one check, printing its name, outcome and time.
fn step(name: &str, check: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("\n== {name}");
    let started = Instant::now();
    match check() {
        Ok(()) => {
            println!("ok: {name} ({:.0?})", started.elapsed());
            Ok(())
        }
        Err(err) => bail!("FAILED: {name} ({:.0?}): {err:#}", started.elapsed()),
    }
}
