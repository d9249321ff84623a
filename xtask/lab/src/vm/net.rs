//! The lab's underlay: a network namespace holding a bridge with the host's
//! lab address and one TAP per VM. Nothing else is in it — no uplink, no
//! default route — and nothing in the root namespace routes into it, so
//! the VMs reach each other and the lab's namespace only.

use std::process::Command;

use anyhow::Result;
use xtask::sh;

use super::layout::{BRIDGE, HOST_ADDR, NETNS, PREFIX_LEN, tap_name};

/// `ip -n NETNS ARGS…`.
fn ip(args: &[&str]) -> Result<()> {
    sh::run(Command::new("ip").args(["-n", NETNS]).args(args))
}

/// Whether `ip -n NETNS link show DEVICE` finds it (quietly).
fn has_link(device: &str) -> bool {
    sh::succeeds(Command::new("ip").args(["-n", NETNS, "link", "show", device]))
}

/// Whether the lab's namespace exists.
pub fn exists() -> bool {
    sh::output(Command::new("ip").args(["netns", "list"])).is_ok_and(|list| {
        list.lines()
            .any(|l| l.split_whitespace().next() == Some(NETNS))
    })
}

/// Creates the namespace, its bridge and `nodes` TAPs (node 1 to `nodes`).
pub fn create(nodes: usize) -> Result<()> {
    if !exists() {
        sh::run(Command::new("ip").args(["netns", "add", NETNS]))?;
    }
    ip(&["link", "set", "lo", "up"])?;
    if !has_link(BRIDGE) {
        ip(&["link", "add", BRIDGE, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{HOST_ADDR}/{PREFIX_LEN}"),
            "dev",
            BRIDGE,
        ])?;
    }
    ip(&["link", "set", BRIDGE, "up"])?;
    for index in 1..=nodes {
        let tap = tap_name(index);
        if !has_link(&tap) {
            ip(&["tuntap", "add", &tap, "mode", "tap"])?;
        }
        ip(&["link", "set", &tap, "master", BRIDGE, "up"])?;
    }
    Ok(())
}

/// Deletes the namespace (and with it the bridge and the TAPs).
pub fn destroy() -> Result<()> {
    if exists() {
        sh::run(Command::new("ip").args(["netns", "delete", NETNS]))?;
    }
    Ok(())
}

/// A command run inside the lab's namespace.
pub fn command(program: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", NETNS, program]);
    cmd
}
