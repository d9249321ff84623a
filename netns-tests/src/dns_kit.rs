//! DNS in a services lab: asking the embedded resolver from inside a task
//! (busybox `nslookup` through the task's own /etc/resolv.conf, run with
//! `runc exec`), reading task addresses from `service ps`, and a "world"
//! resolver (dnsmasq in a client namespace) the nodes forward to.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::lab::Node;
use crate::lab::naming::client_addr;
use crate::services_kit::{ServiceLab, is_running};
use crate::swarm_kit::{SwarmNode, field};

/// The world resolver's address: the lab's first client namespace.
pub fn world_resolver_addr() -> Ipv4Addr {
    client_addr(1).expect("client 1 has an address")
}

/// A running task: where and what.
#[derive(Debug, Clone)]
pub struct TaskRef {
    /// Task ID (its container's ID).
    pub id: String,
    /// `node_hostname` (`n2`).
    pub node: String,
}

/// `command` inside task `task`'s container (its mounts, its netns):
/// `runc exec` against the node's runc root; stdout and stderr together.
pub fn exec_in_task(nodes: &[SwarmNode], task: &TaskRef, command: &[&str]) -> String {
    let node = nodes
        .iter()
        .find(|n| n.name == task.node)
        .unwrap_or_else(|| panic!("no node {}", task.node));
    let root = node.state_dir().join("runc");
    let output = Command::new("runc")
        .arg("--root")
        .arg(&root)
        .arg("exec")
        .arg(&task.id)
        .args(command)
        .output()
        .expect("run runc exec");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text += &String::from_utf8_lossy(&output.stderr);
    text
}

/// What `nslookup NAME` printed, read: the addresses found, or the whole
/// output when the name was not found (it names NXDOMAIN then).
pub fn nslookup(nodes: &[SwarmNode], task: &TaskRef, name: &str) -> Result<Vec<Ipv4Addr>, String> {
    let out = exec_in_task(nodes, task, &["nslookup", name]);
    let mut addrs: Vec<Ipv4Addr> = out
        .lines()
        .filter_map(|line| line.strip_prefix("Address:"))
        .filter_map(|addr| addr.trim().parse().ok())
        .collect();
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        Err(out)
    } else {
        Ok(addrs)
    }
}

/// The running tasks of `service`.
pub fn running_tasks(lab: &ServiceLab, service: &str) -> Vec<Value> {
    lab.tasks(service).into_iter().filter(is_running).collect()
}

/// The first running task of `service`.
pub fn running_task(lab: &ServiceLab, service: &str) -> TaskRef {
    let task = running_tasks(lab, service)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{service} has no running task"));
    TaskRef {
        id: field(&task, "id").to_owned(),
        node: field(&task, "node_hostname").to_owned(),
    }
}

/// The addresses of `service`'s running tasks on `network`, sorted.
pub fn task_addrs(lab: &ServiceLab, service: &str, network: &str) -> Vec<Ipv4Addr> {
    let mut addrs: Vec<Ipv4Addr> = running_tasks(lab, service)
        .iter()
        .flat_map(|task| task["networks"].as_array().cloned().unwrap_or_default())
        .filter(|attachment| attachment["network"] == network)
        .filter_map(|attachment| attachment["ip"].as_str()?.parse().ok())
        .collect();
    addrs.sort();
    addrs
}

/// Starts dnsmasq in `world` answering from a hosts file in `dir`: every
/// `(address, name)` of `records`; nothing else (no upstream of its own).
pub fn start_world_resolver(world: &Node, dir: &Path, records: &[(Ipv4Addr, &str)]) {
    let hosts = dir.join("world-hosts");
    let text: String = records
        .iter()
        .map(|(ip, name)| format!("{ip} {name}\n"))
        .collect();
    std::fs::write(&hosts, text).expect("write the world's hosts file");
    let listen = format!("--listen-address={}", world.addr());
    let addn = format!("--addn-hosts={}", hosts.display());
    world
        .spawn(&[
            "dnsmasq",
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--pid-file=",
            "--user=root",
            "--log-facility=-",
            &listen,
            &addn,
        ])
        .expect("start dnsmasq");
}
