//! `cargo xtask vm up`: the image (cached), shoal's package, the underlay
//! namespace, N VMs booted, then `vagrant/provision.sh` on each over ssh —
//! the same script, with the same arguments, the Vagrantfile runs — which
//! installs the package, enables its units and forms the swarm (node1
//! initialises it, the others join). From then on every boot of a node
//! loads the data plane, then starts the daemon, which rejoins the swarm.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::image;
use super::layout::{Dirs, MAX_NODES, node_addr, node_name};
use super::net;
use super::node::{self, Accel};
use super::package;
use super::ssh::Ssh;

/// `cargo xtask vm up` options.
#[derive(clap::Args)]
pub struct UpArgs {
    /// How many VMs (node1 is the manager).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// How qemu runs the guests: `tcg` works everywhere; `kvm` where
    /// /dev/kvm can run a guest (it could not on the machine this was
    /// written on).
    #[arg(long, value_enum, default_value = "tcg")]
    pub accel: Accel,
}

/// How long a node may take to answer ssh after qemu started it.
const BOOT_LIMIT: Duration = Duration::from_secs(300);

/// Brings the lab up.
pub fn run(dirs: &Dirs, args: &UpArgs) -> Result<()> {
    if args.nodes == 0 || args.nodes > MAX_NODES {
        bail!("--nodes must be 1 to {MAX_NODES}");
    }
    if !node::running(dirs).is_empty() {
        bail!("the VM lab is already up: `cargo xtask vm down` first");
    }
    let started = Instant::now();
    let image = image::ensure(dirs)?;
    let deb = package::build(dirs, package::VERSION, &dirs.repo.join("target/debian"))?;
    let ssh = Ssh::new(&dirs.key());
    net::create(args.nodes)?;
    let booting = Instant::now();
    for index in 1..=args.nodes {
        node::boot(dirs, &image, index, args.accel)?;
        println!("vm: {} booting at {}", node_name(index), node_addr(index));
    }
    for index in 1..=args.nodes {
        ssh.wait(node_addr(index), BOOT_LIMIT)?;
    }
    println!(
        "vm: {} nodes answer ssh after {:.0?}",
        args.nodes,
        booting.elapsed()
    );
    for index in 1..=args.nodes {
        provision(dirs, &ssh, index, &deb)?;
    }
    println!(
        "vm: lab up in {:.0?}: `cargo xtask vm ssh node1 shoal node ls`; `cargo xtask vm test`; \
         `cargo xtask vm down`",
        started.elapsed()
    );
    Ok(())
}

/// Copies the package and provision.sh to node `index` and runs it there.
pub fn provision(dirs: &Dirs, ssh: &Ssh, index: usize, deb: &Path) -> Result<()> {
    let addr = node_addr(index);
    let name = node_name(index);
    let started = Instant::now();
    println!("vm: provisioning {name}");
    ssh.copy(addr, deb, "/tmp/shoal.deb")?;
    ssh.copy(addr, &dirs.vagrant("provision.sh"), "/tmp/provision.sh")?;
    let script = format!("bash /tmp/provision.sh {name} {addr} {}", node_addr(1));
    xtask::sh::run(&mut ssh.command(addr, &script))?;
    println!("vm: {name} provisioned in {:.0?}", started.elapsed());
    Ok(())
}
