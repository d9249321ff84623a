//! The baseline with no overlay at all: two task namespaces joined by one veth pair.

use crate::lab::Lab;
use crate::lab::cmd::{self, CmdError};

use super::addr::Cidr;

/// Interface name of the veth end in each task namespace.
pub const TASK_IFACE: &str = "eth0";

/// Errors joining two namespaces.
#[derive(Debug, thiserror::Error)]
pub enum VethError {
    /// The namespace is not one this lab created (we only touch our own).
    #[error("namespace {0} does not belong to the lab")]
    ForeignNetns(String),
    /// An `ip` command failed.
    #[error(transparent)]
    Cmd(#[from] CmdError),
}

/// Joins task namespaces `a` and `b` (full names, e.g. from [`Lab::add_netns`])
/// with one veth pair, `eth0` on both sides, addressed `ip_a` and `ip_b`; the
/// MTU stays the veth default (1500).
pub fn raw_veth_pair(lab: &Lab, a: &str, b: &str, ip_a: Cidr, ip_b: Cidr) -> Result<(), VethError> {
    for ns in [a, b] {
        if !lab.owns_netns(ns) {
            return Err(VethError::ForeignNetns(ns.to_owned()));
        }
    }
    // Created inside `a` with the peer moved straight into `b`: nothing ever
    // appears in the root namespace.
    cmd::ip(&[
        "-n", a, "link", "add", TASK_IFACE, "type", "veth", "peer", "name", TASK_IFACE, "netns", b,
    ])?;
    for (ns, ip) in [(a, ip_a), (b, ip_b)] {
        cmd::ip(&["-n", ns, "addr", "add", &ip.to_string(), "dev", TASK_IFACE])?;
        cmd::ip(&["-n", ns, "link", "set", TASK_IFACE, "up"])?;
    }
    Ok(())
}
