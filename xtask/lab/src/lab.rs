//! `cargo xtask lab up|down|exec|ls`: network-namespace labs that outlive the command,
//! for poking at shoal by hand. Tests build their own labs through the same library.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use shoal_netns_tests::lab::{self, Lab, LabId};

/// Where `lab up` records the id of the lab it left running.
const CURRENT_LAB_FILE: &str = "/tmp/shoal-lab-current";

/// Arguments of `cargo xtask lab`.
#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    cmd: LabCmd,
}

#[derive(Subcommand)]
enum LabCmd {
    /// Build a lab that stays running; its id goes to /tmp/shoal-lab-current.
    Up {
        /// Number of shoal nodes.
        #[arg(long, short, default_value_t = 3)]
        nodes: usize,
        /// Add a client namespace with this name (repeatable; 1-6 chars of [a-z0-9]).
        #[arg(long = "client", value_name = "NAME")]
        clients: Vec<String>,
    },
    /// Tear down lab ID, or every shoal lab on this host if no ID is given.
    Down {
        /// Lab id, e.g. shlab12c.
        id: Option<String>,
    },
    /// Run CMD inside NODE's namespace (NODE: full name like shlab12c-n1, or n1/c1 in
    /// the current lab).
    Exec {
        /// Namespace name, or member name within the current lab.
        node: String,
        /// Command and arguments.
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// List the shoal labs on this host with their members.
    Ls,
}

/// Runs `cargo xtask lab …`; `exec` exits with the command's own exit code.
pub fn run(args: LabArgs) -> Result<()> {
    match args.cmd {
        LabCmd::Up { nodes, clients } => up(nodes, &clients),
        LabCmd::Down { id } => down(id.as_deref()),
        LabCmd::Exec { node, cmd } => exec(&node, &cmd),
        LabCmd::Ls => ls(),
    }
}

fn up(nodes: usize, clients: &[String]) -> Result<()> {
    let mut lab = Lab::builder()
        .nodes(nodes)
        .build()
        .context("building the lab")?;
    for client in clients {
        lab.add_client(client)
            .with_context(|| format!("adding client {client}"))?;
    }
    print_lab(&lab);
    let id = lab.into_persistent();
    std::fs::write(CURRENT_LAB_FILE, format!("{id}\n"))
        .with_context(|| format!("writing {CURRENT_LAB_FILE}"))?;
    println!();
    println!("enter a node:  ip netns exec {id}-n1 bash");
    println!("   or:         cargo xtask lab exec n1 -- ip addr");
    println!("tear down:     cargo xtask lab down {id}");
    Ok(())
}

fn down(id: Option<&str>) -> Result<()> {
    let ids = match id {
        Some(id) => vec![LabId::parse(id)?],
        None => lab::list_labs().context("listing labs")?,
    };
    if ids.is_empty() {
        println!("no shoal labs running");
    }
    for id in &ids {
        lab::cleanup_by_id(id).with_context(|| format!("tearing down lab {id}"))?;
        println!("lab {id}: torn down");
    }
    if current_lab().is_some_and(|current| id.is_none() || ids.contains(&current)) {
        std::fs::remove_file(CURRENT_LAB_FILE)
            .with_context(|| format!("removing {CURRENT_LAB_FILE}"))?;
    }
    Ok(())
}

fn exec(node: &str, cmd: &[String]) -> Result<()> {
    let id = match LabId::split_netns_name(node) {
        Some((id, _)) => id,
        None => current_lab().with_context(|| {
            format!("`{node}` is not a lab namespace and no current lab in {CURRENT_LAB_FILE}")
        })?,
    };
    let lab = Lab::attach(&id)?;
    let Some(member) = lab.member_by_name(node) else {
        bail!("lab {id} has no member `{node}`");
    };
    // nsenter --net keeps the host's mounts (bpffs pins stay visible and
    // persistent); SHOAL_NODE makes `shoal dp ...` pick the node's pins.
    let status = shoal_netns_tests::lab::cmd::nsenter_net_command(member.name(), cmd)?
        .env("SHOAL_NODE", member.name())
        .status()
        .with_context(|| format!("running {cmd:?} in {}", member.name()))?;
    if !status.success() {
        // Pass the command's own exit code through, like `ip netns exec` would; the
        // attached lab is persistent, so skipping its destructor loses nothing.
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}

fn ls() -> Result<()> {
    let ids = lab::list_labs().context("listing labs")?;
    if ids.is_empty() {
        println!("no shoal labs running");
    }
    let current = current_lab();
    for id in ids {
        let marker = if current.as_ref() == Some(&id) {
            " (current)"
        } else {
            ""
        };
        println!("lab {id}{marker}");
        match Lab::attach(&id) {
            Ok(lab) => print_members(&lab),
            Err(e) => println!("  (incomplete: {e}; `cargo xtask lab down {id}` removes it)"),
        }
    }
    Ok(())
}

fn print_lab(lab: &Lab) {
    println!("lab {} (switch namespace {})", lab.id(), lab.switch_netns());
    print_members(lab);
}

fn print_members(lab: &Lab) {
    for member in lab.nodes().iter().chain(lab.clients()) {
        println!(
            "  {:<15} {:<15} state {}",
            member.name(),
            member.addr(),
            member.state_dir().display()
        );
    }
    for netns in lab.bare_netns() {
        println!("  {netns:<15} (task namespace, no underlay)");
    }
}

/// The id recorded by the last `lab up`, if the file exists and holds a valid id.
fn current_lab() -> Option<LabId> {
    let text = std::fs::read_to_string(Path::new(CURRENT_LAB_FILE)).ok()?;
    LabId::parse(text.trim()).ok()
}
