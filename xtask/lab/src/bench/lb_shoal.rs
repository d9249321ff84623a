//! shoal's side of the load-balancing benchmark, on lab nodes 1 and 2: a
//! client task and two backend tasks on node 1 (so the VIP path is the
//! local one, no VXLAN, like the routed baseline), service `web` on a VIP,
//! port 8000 published on every node (node 1 has the backends, node 2 must
//! reach them over VXLAN), and any number of extra services on the same
//! backends for the scale runs.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use shoal_dataplane::lb::state::{BackendSpec, Protocol, PublishMode, ServicePort, ServiceSpec};
use shoal_netns_tests::scenario::{Cluster, Task};

use super::lb_load::BACKEND_PORT;

/// The overlay network (a /16: room for 10,000 VIPs).
const NET: &str = "front";
const VNI: u32 = 4097;
const SUBNET: &str = "10.10.0.0/16";
/// The measured service.
const SERVICE: &str = "web";
/// Its VIP and port.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 100);
pub const VIP_PORT: u16 = 80;
/// Published (ingress) port of `web` on every node.
pub const MESH_PORT: u16 = 8000;
/// Nodes running shoal: 1 holds the tasks, 2 only forwards.
const SHOAL_NODES: [usize; 2] = [1, 2];

/// shoal's tasks on the lab.
pub struct ShoalLb {
    /// The client task (node 1).
    pub client: Task,
    /// The backend tasks (node 1).
    pub backends: Vec<Task>,
}

/// Adds the tasks and `web` to `cluster`, publishes it and applies nodes 1 and 2.
pub fn build(cluster: &mut Cluster) -> Result<ShoalLb> {
    cluster.network(NET, VNI, SUBNET);
    let backends = vec![
        cluster.task("b1", 1, NET, "10.10.0.11")?,
        cluster.task("b2", 1, NET, "10.10.0.12")?,
    ];
    let client = cluster.task("cl", 1, NET, "10.10.0.50")?;
    let refs: Vec<&Task> = backends.iter().collect();
    cluster.service(SERVICE, &VIP.to_string(), VIP_PORT, BACKEND_PORT, &refs);
    cluster.publish(MESH_PORT, SERVICE, VIP_PORT, PublishMode::Ingress);
    for node in SHOAL_NODES {
        cluster
            .apply(node)
            .with_context(|| format!("shoal dp apply on node {node}"))?;
    }
    Ok(ShoalLb { client, backends })
}

/// How long `shoal dp apply` took on node 1 for a new service count.
#[derive(Debug, Clone, Copy)]
pub struct ApplyTimes {
    /// The apply that installed the count (from the previous count).
    pub change: Duration,
    /// Applying the same state again (nothing to change).
    pub again: Duration,
}

/// Gives node 1 `count` services in all (`web` and `count - 1` extra ones:
/// one TCP port each, on the same two backends, each its own VIP) and
/// times the apply and a repeated one.
pub fn set_service_count(cluster: &mut Cluster, lb: &ShoalLb, count: usize) -> Result<ApplyTimes> {
    cluster.services.retain(|s| s.name == SERVICE);
    cluster
        .services
        .extend((1..count).map(|i| extra_service(i, &lb.backends)));
    let timed = |cluster: &Cluster| -> Result<Duration> {
        let start = Instant::now();
        cluster
            .apply(1)
            .with_context(|| format!("shoal dp apply with {count} services"))?;
        Ok(start.elapsed())
    };
    let change = timed(cluster)?;
    let again = timed(cluster)?;
    Ok(ApplyTimes { change, again })
}

/// Extra service `i` (1-based): VIP 10.10.(100 + i / 250).(1 + i % 250), port 80.
fn extra_service(i: usize, backends: &[Task]) -> ServiceSpec {
    let (hi, lo) = (100 + i / 250, 1 + i % 250);
    ServiceSpec {
        name: format!("extra{i}"),
        vip: Ipv4Addr::new(
            10,
            10,
            u8::try_from(hi).unwrap_or(u8::MAX),
            u8::try_from(lo).unwrap_or(u8::MAX),
        ),
        network: None,
        ports: vec![ServicePort {
            port: VIP_PORT,
            target: Some(BACKEND_PORT),
            protocol: Protocol::Tcp,
        }],
        backends: backends
            .iter()
            .map(|t| BackendSpec {
                ip: t.ip,
                network: t.network.clone(),
                draining: false,
            })
            .collect(),
    }
}

/// Underlay address of lab node `index`.
pub fn node_addr(cluster: &Cluster, index: usize) -> Result<Ipv4Addr> {
    Ok(cluster
        .lab
        .node(index)
        .with_context(|| format!("lab has no node {index}"))?
        .addr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_vips_are_distinct_and_in_the_subnet() {
        let vips: std::collections::BTreeSet<Ipv4Addr> =
            (1..10_000).map(|i| extra_service(i, &[]).vip).collect();
        assert_eq!(vips.len(), 9_999);
        assert!(!vips.contains(&VIP));
        assert!(vips.iter().all(|v| v.octets()[..2] == [10, 10]));
        assert!(
            vips.iter()
                .all(|v| v.octets()[2] >= 100 && v.octets()[3] != 0)
        );
    }
}
