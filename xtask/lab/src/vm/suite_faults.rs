//! The VM suite's disruptive checks: a node reboot, and a package upgrade
//! under traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};

use super::layout::{node_addr, node_name};
use super::package;
use super::suite_checks::{Lab, boot_order, eventually, mesh_on, running_tasks, who, xdp_on};

/// The last node reboots (`systemctl reboot`): it comes back with the data
/// plane loaded before the daemon, the manager lists it ready, a task runs
/// on it again and its published port answers.
pub fn reboot(lab: &Lab) -> Result<()> {
    let index = *lab.nodes.last().context("no nodes")?;
    let name = node_name(index);
    let boot_id = |lab: &Lab| lab.on(index, "cat /proc/sys/kernel/random/boot_id");
    let before = boot_id(lab)?;
    // The connection drops as the node goes down: its exit status says nothing.
    let _ = lab.on(index, "systemctl reboot");
    println!("  {name} rebooting");
    eventually(&format!("{name} back up"), Duration::from_secs(300), || {
        let now = boot_id(lab)?;
        ensure!(now != before, "{name} has not rebooted yet");
        Ok(())
    })?;
    println!("  {name} is back (new boot id)");
    // ssh answers before the daemon said READY=1 (`activating`).
    eventually(
        &format!("{name}'s units active"),
        Duration::from_secs(300),
        || boot_order(lab, index),
    )?;
    eventually(
        &format!("{name} ready and running a task"),
        Duration::from_secs(300),
        || {
            let nodes = running_tasks(lab)?;
            ensure!(nodes.contains(&name), "tasks run on {nodes:?}");
            Ok(())
        },
    )?;
    println!("  a web task runs on {name} again");
    mesh_on(index)
}

/// Requests to every node's published port, one after another, until
/// `stop`: `(answered, failures)`.
fn traffic(lab: &Lab, stop: &AtomicBool) -> (usize, Vec<String>) {
    let mut answered = 0;
    let mut failures = Vec::new();
    for &index in lab.nodes.iter().cycle() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match who(node_addr(index)) {
            Ok(_) => answered += 1,
            Err(err) => failures.push(format!("node{index}: {err:#}")),
        }
    }
    (answered, failures)
}

/// node1's package is upgraded (`dpkg -i` of a newer version: its postinst
/// reloads the data plane in place, then restarts the daemon) while a
/// client sends requests to every node: not one fails, the XDP program is
/// a new one, the daemon is active again.
pub fn upgrade(lab: &Lab) -> Result<()> {
    let version = format!("{}+vmtest", package::VERSION);
    let deb = package::build(&lab.dirs, &version, &lab.dirs.root.join("upgrade"))?;
    lab.ssh.copy(node_addr(1), &deb, "/tmp/shoal-upgrade.deb")?;
    let (_, old_prog) = xdp_on(lab, 1)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, failures) = std::thread::scope(|scope| -> Result<(usize, Vec<String>)> {
        let client = scope.spawn(|| traffic(lab, &stop));
        // Traffic flows before, during and after the upgrade.
        std::thread::sleep(Duration::from_secs(5));
        let upgraded = lab.on(
            1,
            "dpkg -i /tmp/shoal-upgrade.deb && systemctl is-active shoal.service",
        );
        std::thread::sleep(Duration::from_secs(10));
        stop.store(true, Ordering::Relaxed);
        let result = client.join().expect("the traffic thread panicked");
        upgraded.context("dpkg -i on node1")?;
        Ok(result)
    })?;
    let installed = lab.on(1, "dpkg-query -W -f '${Version}' shoal")?;
    ensure!(
        installed == version,
        "node1 has shoal {installed}, not {version}"
    );
    let (_, new_prog) = xdp_on(lab, 1)?;
    ensure!(
        new_prog != old_prog,
        "node1's XDP program is still {old_prog}"
    );
    println!(
        "  node1 upgraded to {installed}: XDP program {old_prog} → {new_prog}; \
         {answered} requests answered, {} failed",
        failures.len()
    );
    ensure!(
        failures.is_empty() && answered > 0,
        "{} failed requests: {:?}",
        failures.len(),
        failures
    );
    eventually(
        "the swarm after the upgrade",
        Duration::from_secs(120),
        || super::suite_checks::swarm(lab),
    )
}
