//! The VM suite's checks on a running lab (see `suite.rs` for the list):
//! each says what it saw when it fails.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::Value;
use shoal_netns_tests::services_kit::{build_test_images, test_image_archives};
use xtask::sh;

use super::layout::{Dirs, HOST_ADDR, node_addr, node_name};
use super::net;
use super::ssh::Ssh;

/// The port the suite's service publishes through the mesh.
pub const PUBLISHED: u16 = 8080;

/// The lab the suite runs on.
pub struct Lab {
    /// Where the lab keeps things.
    pub dirs: Dirs,
    /// The way into the VMs.
    pub ssh: Ssh,
    /// The running nodes' indexes (node1 is the manager).
    pub nodes: Vec<usize>,
}

impl Lab {
    /// Runs `script` on node `index`.
    pub fn on(&self, index: usize, script: &str) -> Result<String> {
        self.ssh.run(node_addr(index), script)
    }

    /// `shoal ARGS --format json` on the manager, parsed.
    fn json(&self, args: &str) -> Result<Vec<Value>> {
        let out = self.on(1, &format!("shoal {args} --format json"))?;
        serde_json::from_str(&out).with_context(|| format!("`shoal {args}` printed {out:?}"))
    }
}

/// Retries `check` every 2 s until it returns `Ok` or `limit` passes; then
/// the last error, naming `what` was awaited.
pub fn eventually<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(err) if Instant::now() > deadline => {
                return Err(err.context(format!("waited {limit:?} for {what}")));
            }
            Err(_) => std::thread::sleep(Duration::from_secs(2)),
        }
    }
}

fn field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

/// Every node listed by the manager, all ready.
pub fn swarm(lab: &Lab) -> Result<()> {
    let nodes = eventually("every node ready", Duration::from_secs(180), || {
        let nodes = lab.json("node ls")?;
        let ready = nodes
            .iter()
            .filter(|n| field(n, "status") == "ready")
            .count();
        ensure!(
            nodes.len() == lab.nodes.len() && ready == nodes.len(),
            "{ready} of {} listed nodes ready, {} VMs",
            nodes.len(),
            lab.nodes.len()
        );
        Ok(nodes)
    })?;
    for node in &nodes {
        println!(
            "  {:<6} {:<6} {}",
            field(node, "hostname"),
            field(node, "status"),
            field(node, "manager_status")
        );
    }
    for &index in &lab.nodes {
        let link = lab.on(index, "ip -br -4 addr show dev eth0")?;
        ensure!(
            link.contains(&format!("{}/", node_addr(index))),
            "node{index}'s eth0: {link}"
        );
    }
    println!("  every node's underlay is its virtio NIC eth0 in 198.18.1.0/24");
    Ok(())
}

/// On node `index`: both units active, the daemon `Type=notify`, and the
/// data plane's unit active before the daemon's process started.
pub fn boot_order(lab: &Lab, index: usize) -> Result<()> {
    let show = |unit: &str, property: &str| -> Result<String> {
        let out = lab.on(
            index,
            &format!("systemctl show -p {property} --value {unit}"),
        )?;
        Ok(out.trim().to_owned())
    };
    let active = lab.on(
        index,
        "systemctl is-active shoal-dataplane.service shoal.service",
    )?;
    ensure!(
        active.split_whitespace().all(|s| s == "active"),
        "units: {active}"
    );
    let kind = show("shoal.service", "Type")?;
    ensure!(kind == "notify", "shoal.service is Type={kind}");
    let loaded: u64 = show("shoal-dataplane.service", "ActiveEnterTimestampMonotonic")?.parse()?;
    let daemon: u64 = show("shoal.service", "ExecMainStartTimestampMonotonic")?.parse()?;
    ensure!(
        loaded > 0 && loaded <= daemon,
        "data plane active at {loaded} µs, daemon started at {daemon} µs after boot"
    );
    let status = lab.on(index, "shoal dp status")?;
    let links = status.lines().skip(1).count();
    println!(
        "  node{index}: data plane loaded {:.1} s after boot, daemon started {:.1} s (notify, active); \
         {links} pinned links",
        loaded as f64 / 1e6,
        daemon as f64 / 1e6,
    );
    ensure!(links > 0, "no pinned link on node{index}:\n{status}");
    Ok(())
}

/// [`boot_order`] on every node.
pub fn boot_order_all(lab: &Lab) -> Result<()> {
    lab.nodes
        .iter()
        .try_for_each(|&index| boot_order(lab, index))
}

/// The suite's image on every node, then (unless it exists) an overlay
/// network and the service `web`, global (one task per node, so a node
/// that reboots gets its task back: a replicated task would have moved
/// while the node was down, and nothing moves it back), publishing
/// [`PUBLISHED`]; waits until every task runs.
pub fn service(lab: &Lab) -> Result<()> {
    let images = lab.dirs.root.join("images");
    build_test_images(&images).context("building the web image")?;
    let archive = test_image_archives(&images).remove(0);
    for &index in &lab.nodes {
        lab.ssh.copy(node_addr(index), &archive, "/tmp/web-1.tar")?;
        lab.on(index, "shoal image load -i /tmp/web-1.tar")?;
    }
    let replicas = lab.nodes.len();
    if lab.on(1, "shoal service inspect web").is_err() {
        lab.on(1, "shoal network create --driver overlay front")?;
        lab.on(
            1,
            &format!(
                "shoal service create --detach --name web --mode global --network front \
                 -p {PUBLISHED}:80 web:1"
            ),
        )?;
    }
    let tasks = eventually("every replica running", Duration::from_secs(240), || {
        let running = running_tasks(lab)?;
        ensure!(
            running.len() == replicas,
            "{} of {replicas} running",
            running.len()
        );
        Ok(running)
    })?;
    println!(
        "  web (global): {replicas} tasks running on {}",
        tasks.join(", ")
    );
    Ok(())
}

/// The nodes (host names) of `web`'s running tasks, one entry per task.
pub fn running_tasks(lab: &Lab) -> Result<Vec<String>> {
    let tasks = lab.json("service ps web")?;
    Ok(tasks
        .iter()
        .filter(|t| t["desired_state"] == "running" && t["status"]["state"] == "running")
        .map(|t| field(t, "node_hostname").to_owned())
        .collect())
}

/// One request to `addr`'s published port from the lab's namespace: the
/// answering task's host name and the client address it saw.
pub fn who(addr: Ipv4Addr) -> Result<(String, String)> {
    let url = format!("http://{addr}:{PUBLISHED}/cgi-bin/who");
    let out = sh::output(net::command("curl").args(["-sS", "--max-time", "3", &url]))?;
    match out.split_whitespace().collect::<Vec<_>>().as_slice() {
        [host, client, _version] => {
            let client = client.trim_start_matches('[').trim_end_matches(']');
            Ok((
                (*host).to_owned(),
                client.trim_start_matches("::ffff:").to_owned(),
            ))
        }
        _ => bail!("unexpected answer {out:?} from {url}"),
    }
}

/// Three requests to node `index`'s published port, each answered by a
/// task that saw the lab's own address.
pub fn mesh_on(index: usize) -> Result<()> {
    for _ in 0..3 {
        let addr = node_addr(index);
        let (task, client) = eventually("an answer", Duration::from_secs(60), || who(addr))?;
        ensure!(
            client == HOST_ADDR.to_string(),
            "task {task} saw the client as {client}, not {HOST_ADDR}"
        );
        println!("  {addr}:{PUBLISHED} answered by task {task}, which saw the client as {client}");
    }
    Ok(())
}

/// [`mesh_on`] every node.
pub fn mesh(lab: &Lab) -> Result<()> {
    lab.nodes.iter().try_for_each(|&index| mesh_on(index))
}

/// The XDP program on node `index`'s eth0: `(mode, program id)`, the mode
/// as `ip link` shows it (`xdp` is the driver's native hook, `xdpgeneric`
/// the skb fallback).
pub fn xdp_on(lab: &Lab, index: usize) -> Result<(String, String)> {
    let link = lab.on(index, "ip -d link show dev eth0")?;
    let mut words = link.split_whitespace();
    while let Some(word) = words.next() {
        if let Some(mode) = word.strip_prefix("prog/") {
            let id = words
                .find_map(|w| w.parse::<u32>().ok())
                .unwrap_or_default();
            return Ok((mode.to_owned(), id.to_string()));
        }
    }
    bail!("no XDP program on node{index}'s eth0:\n{link}")
}

/// Every node's XDP program is in virtio-net's native hook.
pub fn native_xdp(lab: &Lab) -> Result<()> {
    for &index in &lab.nodes {
        let (mode, id) = xdp_on(lab, index)?;
        let driver = lab.on(index, "readlink /sys/class/net/eth0/device/driver")?;
        let driver = driver
            .trim()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        ensure!(
            mode == "xdp",
            "node{index}: XDP program {id} in mode {mode} on {driver}"
        );
        println!(
            "  {}: XDP program {id} attached natively (driver {driver})",
            node_name(index)
        );
    }
    Ok(())
}
