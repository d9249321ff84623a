//! `shoal dp ...`: the network engineer's view of this node's data plane.

use clap::{Args, Subcommand};
use serde::Serialize;
use shoal_dataplane::{
    AttachOutcome, Hook, PinPaths, StatsReport,
    attach::{attach_underlay, detach_underlay, pinned_links},
    stats::read_stats,
};

use super::output::{Format, Table, print};

/// Which node's pins to use.
#[derive(Debug, Args)]
pub struct NodeArg {
    /// Node name: the bpffs pin directory /sys/fs/bpf/shoal/<node>.
    /// Defaults to $SHOAL_NODE, then the host name.
    #[arg(long, env = "SHOAL_NODE")]
    node: Option<String>,
    /// Where bpffs is (or gets) mounted.
    #[arg(long, env = "SHOAL_BPFFS", default_value = shoal_dataplane::pins::BPFFS_ROOT)]
    bpffs: std::path::PathBuf,
}

impl NodeArg {
    fn pins(&self) -> anyhow::Result<PinPaths> {
        let name = match &self.node {
            Some(name) => name.clone(),
            None => hostname()?,
        };
        Ok(PinPaths::under(&self.bpffs, &name)?)
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
/// Hook point of the underlay program.
pub enum HookArg {
    /// XDP on the NIC.
    Xdp,
    /// TCX ingress.
    Tc,
}

impl From<HookArg> for Hook {
    fn from(h: HookArg) -> Hook {
        match h {
            HookArg::Xdp => Hook::Xdp,
            HookArg::Tc => Hook::Tc,
        }
    }
}

/// `shoal dp` subcommands.
#[derive(Debug, Subcommand)]
pub enum DpCommand {
    /// Load the underlay program onto an interface; the link stays pinned
    /// after this command exits. Re-running swaps the program atomically.
    Attach {
        #[command(flatten)]
        node: NodeArg,
        /// Underlay interface.
        #[arg(long)]
        iface: String,
        /// Hook point.
        #[arg(long, value_enum, default_value = "xdp")]
        hook: HookArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Remove the underlay program from an interface.
    Detach {
        #[command(flatten)]
        node: NodeArg,
        /// Underlay interface.
        #[arg(long)]
        iface: String,
        /// Hook point.
        #[arg(long, value_enum, default_value = "xdp")]
        hook: HookArg,
    },
    /// Packet, byte and drop counters, summed over CPUs.
    Stats {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Make this node's overlay match a desired-state file (JSON); running it
    /// again with the same file changes nothing.
    Apply {
        #[command(flatten)]
        node: NodeArg,
        /// Desired state: underlay, networks, endpoints, remote endpoints,
        /// services, published ports, conntrack timeouts.
        file: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Overlay endpoints this node knows: local tasks and remote ones.
    Endpoints {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// WireGuard peers of encrypted networks: public key, endpoint, last
    /// handshake, bytes in and out (and the path's drop counters in JSON).
    Peers {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// VXLAN tunnels: the remote nodes this node sends to, per VNI.
    Tunnels {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Service entries (VIP ports and published ports), their Maglev
    /// table ids and the backends in their tables.
    Services {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Backends by id: address, target port, VNI, active or draining.
    Backends {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Translated flows (client → service → backend) and reply entries,
    /// with their idle time.
    Conntrack {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// The routing mesh: published ports, the VIP each serves, its backends.
    Mesh {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Drop events (reason, device, addresses and ports) as they happen,
    /// and with `--type trace` the packets passed or redirected; one line
    /// (or JSON object) each, until Ctrl-C.
    Monitor {
        #[command(flatten)]
        node: NodeArg,
        #[command(flatten)]
        args: super::dp_monitor::MonitorArgs,
    },
    /// What is loaded on this node: pin directory and attached links.
    Status {
        #[command(flatten)]
        node: NodeArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Serialize)]
struct AttachReport {
    iface: String,
    hook: Hook,
    outcome: AttachOutcome,
}

#[derive(Serialize)]
struct StatusReport {
    pin_dir: String,
    links: Vec<String>,
}

/// Run a `dp` subcommand.
pub fn run(cmd: DpCommand) -> anyhow::Result<()> {
    match cmd {
        DpCommand::Attach {
            node,
            iface,
            hook,
            format,
        } => {
            let outcome = attach_underlay(&node.pins()?, &iface, hook.into())?;
            let report = AttachReport {
                iface,
                hook: hook.into(),
                outcome,
            };
            print(format, &report, |r| {
                let mut t = Table::new(&["INTERFACE", "HOOK", "RESULT"]);
                t.row(vec![
                    r.iface.clone(),
                    json_word(&r.hook),
                    json_word(&r.outcome),
                ]);
                t
            })
        }
        DpCommand::Detach { node, iface, hook } => {
            if !detach_underlay(&node.pins()?, &iface, hook.into())? {
                anyhow::bail!("nothing attached to {iface} at that hook");
            }
            Ok(())
        }
        DpCommand::Stats { node, format } => {
            let report = read_stats(&node.pins()?)?;
            print(format, &report, stats_table)
        }
        DpCommand::Apply { node, file, format } => {
            super::dp_overlay::apply(&node.pins()?, &file, format)
        }
        DpCommand::Endpoints { node, format } => {
            super::dp_overlay::endpoints(&node.pins()?, format)
        }
        DpCommand::Peers { node, format } => super::dp_wg::peers(&node.pins()?, format),
        DpCommand::Tunnels { node, format } => super::dp_overlay::tunnels(&node.pins()?, format),
        DpCommand::Services { node, format } => super::dp_lb::services(&node.pins()?, format),
        DpCommand::Backends { node, format } => super::dp_lb::backends(&node.pins()?, format),
        DpCommand::Conntrack { node, format } => {
            super::dp_conntrack::conntrack(&node.pins()?, format)
        }
        DpCommand::Mesh { node, format } => super::dp_lb::mesh(&node.pins()?, format),
        DpCommand::Monitor { node, args } => super::dp_monitor::monitor(&node.pins()?, args),
        DpCommand::Status { node, format } => status(&node.pins()?, format),
    }
}

/// `shoal dp status`.
fn status(pins: &PinPaths, format: Format) -> anyhow::Result<()> {
    let report = StatusReport {
        pin_dir: pins.root().display().to_string(),
        links: pinned_links(pins)?,
    };
    print(format, &report, |r| {
        let mut t = Table::new(&["PIN DIRECTORY", "LINK"]);
        for link in &r.links {
            t.row(vec![r.pin_dir.clone(), link.clone()]);
        }
        t
    })
}

fn stats_table(report: &StatsReport) -> Table {
    let mut t = Table::new(&["COUNTER", "PACKETS", "BYTES"]);
    for row in &report.rows {
        let name = if row.drop {
            format!("drop/{}", row.counter)
        } else {
            row.counter.to_owned()
        };
        t.row(vec![name, row.packets.to_string(), row.bytes.to_string()]);
    }
    t
}

/// A serde enum's lower-case name, as JSON shows it.
fn json_word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn hostname() -> anyhow::Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")?;
    Ok(name.trim().to_owned())
}
