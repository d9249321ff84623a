//! Docker Swarm's kernel data path, built by hand on a lab node: the baseline
//! shoal's overlay is measured against.
//!
//! libnetwork's overlay driver gives each network a Linux bridge with a VXLAN
//! device enslaved to it, plugs each task in with a veth pair, and programs
//! every remote task statically: a forwarding entry on the VXLAN device (task
//! MAC → remote node) and a permanent neighbour entry (task IP → task MAC), so
//! neither learning nor flooding is needed. libnetwork puts the neighbour entry
//! on the VXLAN device and answers ARP by proxy; we put it in the task's
//! namespace, which gives the same data path without proxy ARP. The node's
//! namespace stands in for libnetwork's per-network sandbox.

use std::net::Ipv4Addr;

use crate::lab::Node;
use crate::lab::cmd::{self, CmdError};

use super::addr::{Cidr, MacAddr};
use super::desired::VXLAN_PORT;
use super::veth::TASK_IFACE;

/// Largest VXLAN network identifier (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;

/// Errors building the kernel data path.
#[derive(Debug, thiserror::Error)]
pub enum KernelVxlanError {
    /// The VNI does not fit in 24 bits.
    #[error("VNI {0} out of range 0..={MAX_VNI}")]
    InvalidVni(u32),
    /// An `ip` or `bridge` command failed.
    #[error(transparent)]
    Cmd(#[from] CmdError),
}

/// The task side of an attachment: which namespace, and how its `eth0` looks.
#[derive(Debug, Clone)]
pub struct TaskIface {
    /// Existing task namespace (e.g. from [`crate::lab::Lab::add_netns`]).
    pub netns: String,
    /// Address and prefix of the task's `eth0`.
    pub addr: Cidr,
    /// MAC of the task's `eth0`.
    pub mac: MacAddr,
    /// MTU of the task's `eth0`, the veth and the VXLAN device (1450 on a
    /// 1500-byte underlay).
    pub mtu: u32,
}

/// A task on another node, programmed statically.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The remote task's overlay address.
    pub ip: Ipv4Addr,
    /// The remote task's MAC.
    pub mac: MacAddr,
    /// Underlay address of the node running it.
    pub node: Ipv4Addr,
}

/// Names of the devices [`attach`] created or reused in the node namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelVxlan {
    /// The network's bridge, `br<vni>`.
    pub bridge: String,
    /// The network's VXLAN device, `vxlan<vni>`.
    pub vxlan: String,
    /// The host end of the task's veth pair.
    pub host_veth: String,
}

/// Builds the kernel overlay for `task` on `node`: the network's bridge and
/// VXLAN device (created once per VNI, reused afterwards), a veth from the
/// bridge into the task namespace, and the static entries for every peer.
pub fn attach(
    node: &Node,
    vni: u32,
    task: &TaskIface,
    peers: &[Peer],
) -> Result<KernelVxlan, KernelVxlanError> {
    let (bridge, vxlan) = ensure_network(node, vni, task.mtu)?;
    let host_veth = plug_task(node, &bridge, task)?;
    for peer in peers {
        add_peer(node, vni, &task.netns, peer)?;
    }
    Ok(KernelVxlan {
        bridge,
        vxlan,
        host_veth,
    })
}

/// Creates the bridge `br<vni>` and, enslaved to it, `vxlan<vni>` (VNI `vni`,
/// UDP 4789, local address the node's underlay address, no learning) unless
/// they exist. Returns their names.
pub fn ensure_network(
    node: &Node,
    vni: u32,
    mtu: u32,
) -> Result<(String, String), KernelVxlanError> {
    if vni > MAX_VNI {
        return Err(KernelVxlanError::InvalidVni(vni));
    }
    let ns = node.name();
    let (bridge, vxlan) = (format!("br{vni}"), format!("vxlan{vni}"));
    if cmd::ip(&["-n", ns, "link", "show", &vxlan]).is_ok() {
        return Ok((bridge, vxlan));
    }
    let (mtu, vni_s, port, local) = (
        mtu.to_string(),
        vni.to_string(),
        VXLAN_PORT.to_string(),
        node.addr().to_string(),
    );
    cmd::ip(&["-n", ns, "link", "add", &bridge, "type", "bridge"])?;
    // Measure the data path, not netfilter: like the lab's switch, keep
    // br_netfilter (on in every new namespace once loaded) off this bridge.
    node.sh("for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e \"$f\" ] && echo 0 > \"$f\"; done; true")?;
    cmd::ip(&["-n", ns, "link", "set", &bridge, "up"])?;
    cmd::ip(&[
        "-n",
        ns,
        "link",
        "add",
        &vxlan,
        "mtu",
        &mtu,
        "type",
        "vxlan",
        "id",
        &vni_s,
        "dstport",
        &port,
        "local",
        &local,
        "nolearning",
    ])?;
    cmd::ip(&["-n", ns, "link", "set", &vxlan, "master", &bridge, "up"])?;
    Ok((bridge, vxlan))
}

/// Creates the task's veth pair: the host end on `bridge`, `eth0` in the task
/// namespace with the task's address, MAC and MTU. Returns the host end's name.
pub fn plug_task(node: &Node, bridge: &str, task: &TaskIface) -> Result<String, KernelVxlanError> {
    let ns = node.name();
    let host_veth = host_veth_name(&task.netns);
    let (mtu, mac, addr) = (
        task.mtu.to_string(),
        task.mac.to_string(),
        task.addr.to_string(),
    );
    cmd::ip(&[
        "-n",
        ns,
        "link",
        "add",
        &host_veth,
        "mtu",
        &mtu,
        "type",
        "veth",
        "peer",
        "name",
        TASK_IFACE,
        "netns",
        &task.netns,
    ])?;
    cmd::ip(&["-n", ns, "link", "set", &host_veth, "master", bridge, "up"])?;
    let t = task.netns.as_str();
    cmd::ip(&[
        "-n", t, "link", "set", TASK_IFACE, "address", &mac, "mtu", &mtu,
    ])?;
    cmd::ip(&["-n", t, "addr", "add", &addr, "dev", TASK_IFACE])?;
    cmd::ip(&["-n", t, "link", "set", TASK_IFACE, "up"])?;
    Ok(host_veth)
}

/// Programs one remote task: `bridge fdb append <mac> dev vxlan<vni> dst <node>`
/// on the node and `ip neigh replace <ip> lladdr <mac> nud permanent` in the
/// task namespace.
pub fn add_peer(
    node: &Node,
    vni: u32,
    task_netns: &str,
    peer: &Peer,
) -> Result<(), KernelVxlanError> {
    let (mac, ip, dst) = (
        peer.mac.to_string(),
        peer.ip.to_string(),
        peer.node.to_string(),
    );
    let vxlan = format!("vxlan{vni}");
    node.exec(&["bridge", "fdb", "append", &mac, "dev", &vxlan, "dst", &dst])?;
    cmd::ip(&[
        "-n",
        task_netns,
        "neigh",
        "replace",
        &ip,
        "lladdr",
        &mac,
        "dev",
        TASK_IFACE,
        "nud",
        "permanent",
    ])?;
    Ok(())
}

/// Host-side veth name for a task namespace: `ve` + the member part of the
/// name (`shlab12c-t1` → `vet1`), cut to the 15-byte interface name limit.
pub fn host_veth_name(task_netns: &str) -> String {
    let member = task_netns.rsplit('-').next().unwrap_or(task_netns);
    let mut name = format!("ve{member}");
    name.truncate(15);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_veth_names_fit() {
        assert_eq!(host_veth_name("shlab12c-t1"), "vet1");
        assert_eq!(host_veth_name("plain"), "veplain");
        assert_eq!(host_veth_name("averyveryverylongname").len(), 15);
    }
}
