//! An encrypted overlay network on real containers in a two-node lab
//! swarm, and what its suites check with: marker servers, marker round
//! trips, captures searched for the marker or decoded as WireGuard, and
//! the WireGuard peers a node's `shoal dp peers` shows.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::lab::cmd;
use crate::services_kit::{ServiceLab, is_running};
use crate::swarm_kit::field;

/// What the tests send between the tasks; must never be on the wire.
pub const MARKER: &str = "shoal-wg-marker-7f3a9c";
/// shoal's WireGuard port.
pub const WG_PORT: u16 = 51820;
/// Where the marker servers listen inside srv: TCP.
pub const TCP_PORT: u16 = 7100;
/// Where the marker servers listen inside srv: UDP.
pub const UDP_PORT: u16 = 7101;

/// Two nodes; networks `secure` (encrypted) and `plain`; task `cli` on n1
/// and `srv` on n2, both on both networks.
pub fn encrypted_lab() -> ServiceLab {
    let lab = ServiceLab::new(2);
    add_secure_and_plain(&lab).unwrap_or_else(|e| panic!("the encrypted lab: {e}"));
    lab
}

/// In `lab` (two nodes or more): networks `secure` (encrypted) and
/// `plain`, task `cli` on n1 and `srv` on n2, both on both networks.
pub fn add_secure_and_plain(lab: &ServiceLab) -> Result<(), cmd::CmdError> {
    lab.cli(&["network", "create", "--opt", "encrypted", "secure"])?;
    lab.cli(&["network", "create", "plain"])?;
    for (name, node) in [("srv", "n2"), ("cli", "n1")] {
        let constraint = format!("node.hostname=={node}");
        lab.cli(&[
            "service",
            "create",
            "-d",
            "--name",
            name,
            "--network",
            "secure",
            "--network",
            "plain",
            "--constraint",
            &constraint,
            "web:1",
        ])?;
        lab.wait_running(name, 1);
    }
    Ok(())
}

/// The running task of `service`.
pub fn the_task(lab: &ServiceLab, service: &str) -> Value {
    lab.tasks(service)
        .into_iter()
        .find(is_running)
        .unwrap_or_else(|| panic!("no running task of {service}"))
}

/// The task's network namespace (as `ip netns` names it).
pub fn netns(task: &Value) -> String {
    format!("shoal-{}", field(task, "id"))
}

/// The task's address on `network`.
pub fn addr_on(task: &Value, network: &str) -> Ipv4Addr {
    task["networks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["network"] == network)
        .and_then(|a| a["ip"].as_str())
        .and_then(|ip| ip.parse().ok())
        .unwrap_or_else(|| panic!("no address on {network} in {task}"))
}

/// The VNI of `network`.
pub fn vni_of(lab: &ServiceLab, network: &str) -> u32 {
    let out = lab
        .cli(&["network", "inspect", network, "--format", "json"])
        .unwrap_or_else(|e| panic!("network inspect {network}: {e}"));
    let json: Value = serde_json::from_str(&out).unwrap_or_default();
    let record = if json.is_array() { &json[0] } else { &json };
    record["vni"]
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or_else(|| panic!("no VNI in {out}"))
}

/// Runs `script` in namespace `ns` (sh -c), returning stdout.
pub fn sh_in(ns: &str, script: &str) -> Result<String, cmd::CmdError> {
    cmd::output(cmd::netns_command(ns, &["sh", "-c", script])?)
}

/// Background processes (marker servers, traffic loops) killed and reaped
/// when dropped.
pub struct Background(pub Vec<Child>);

impl Drop for Background {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawns `script` in namespace `ns` with its output discarded.
pub fn spawn_in(ns: &str, script: &str) -> Child {
    let mut command = cmd::netns_command(ns, &["sh", "-c", script])
        .unwrap_or_else(|e| panic!("command in {ns}: {e}"));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn in {ns}: {e}"))
}

/// Starts the marker servers in srv's namespace (TCP and UDP, each
/// echoing back what it got).
pub fn start_echo_servers(srv_ns: &str) -> Background {
    let tcp = format!("exec socat TCP-LISTEN:{TCP_PORT},reuseaddr,fork EXEC:cat");
    let udp = format!("exec socat UDP-RECVFROM:{UDP_PORT},reuseaddr,fork EXEC:cat");
    Background(vec![spawn_in(srv_ns, &tcp), spawn_in(srv_ns, &udp)])
}

/// The marker sent from cli to srv over TCP and over UDP, each answered.
pub fn marker_round_trips(cli_ns: &str, to: Ipv4Addr) -> bool {
    let tcp = format!("echo {MARKER} | socat -T2 - TCP:{to}:{TCP_PORT}");
    let udp = format!("echo {MARKER} | socat -T2 - UDP:{to}:{UDP_PORT}");
    [tcp, udp]
        .iter()
        .all(|script| sh_in(cli_ns, script).is_ok_and(|out| out.contains(MARKER)))
}

/// Whether the bytes of `file` contain `needle`.
pub fn file_contains(file: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    bytes
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// How many frames of `file` tshark decodes as WireGuard on [`WG_PORT`].
pub fn wireguard_frames(file: &Path) -> usize {
    let file = file.to_string_lossy();
    let decode = format!("udp.port=={WG_PORT},wg");
    let out = std::process::Command::new("tshark")
        .args(["-r", &file, "-d", &decode, "-Y", "wg", "-T", "fields"])
        .args(["-e", "wg.type"])
        .output()
        .unwrap_or_else(|e| panic!("tshark: {e}"));
    assert!(out.status.success(), "tshark failed on {file}");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// What node `index` of `lab` shows of its WireGuard path (`dp peers`:
/// peers and drop counters), if its daemon has written it yet.
pub fn wg_status(lab: &ServiceLab, index: usize) -> Option<Value> {
    let out = lab.nodes[index]
        .lab_node()
        .shoal(&["dp", "peers", "--format", "json"])
        .ok()?;
    serde_json::from_str(&out).ok()
}

/// The WireGuard peers node `index` of `lab` shows (`dp peers`), if its
/// daemon has written them yet.
pub fn wg_peers(lab: &ServiceLab, index: usize) -> Option<Vec<Value>> {
    wg_status(lab, index)?["peers"].as_array().cloned()
}
