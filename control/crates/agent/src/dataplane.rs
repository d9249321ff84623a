//! The node's data-plane [`DesiredState`] from its assignment and the task
//! containers it has: overlay networks, task interfaces, remote tasks,
//! service VIPs with their backends, and published ports.

use std::collections::{BTreeSet, HashSet};
use std::net::Ipv4Addr;

use shoal_dataplane::lb::state::{
    BackendSpec, Protocol as DpProtocol, PublishMode as DpPublishMode, PublishedPort, ServicePort,
    ServiceSpec,
};
use shoal_dataplane::node::DesiredState;
use shoal_dataplane::overlay::state::{
    LocalEndpoint, NetworkSpec, RemoteEndpoint, Subnet, Underlay,
};

use shoal_model::assignment::{AssignedTask, Assignment, LbService};
use shoal_model::cluster::{INGRESS_NETWORK, VirtualIp};
use shoal_model::spec::{PortConfig, Protocol, PublishMode};

/// A task of this node whose container exists and has not stopped.
#[derive(Debug, Clone, Copy)]
pub struct LocalTask<'a> {
    /// The task.
    pub task: &'a AssignedTask,
    /// Its container's network namespace: the name under `/run/netns`.
    pub netns: &'a str,
}

/// The endpoint ID of a task's interface on `network`.
pub fn endpoint_id(task_id: &str, network: &str) -> String {
    format!("{task_id}@{network}")
}

/// The load balancer's name for a service's VIP on one network.
pub fn service_entry_name(service: &str, network: &str) -> String {
    format!("{service}@{network}")
}

/// The node's desired data-plane state. Rows that would make the state
/// invalid (a network with a bad subnet, an address seen twice) are left
/// out rather than failing the whole node.
pub fn desired_state(
    assignment: &Assignment,
    local: &[LocalTask<'_>],
    underlay: Underlay,
) -> DesiredState {
    let networks = networks(assignment);
    let known = |name: &str| networks.iter().any(|n| n.name == name);
    let mut taken: HashSet<(String, Ipv4Addr)> = HashSet::new();
    let mut endpoints = Vec::new();
    let is_ingress = |name: &str| {
        assignment
            .networks
            .iter()
            .any(|n| n.ingress && n.name == name)
    };
    for task in local {
        let mut attached: Vec<_> = task
            .task
            .task
            .networks
            .iter()
            .filter(|a| known(&a.network))
            .collect();
        // The ingress attachment is eth0 and carries the default route: a
        // task answers mesh clients (any address) from its ingress
        // address, and the data plane drops a source address that is not
        // the sending interface's.
        attached.sort_by_key(|a| !is_ingress(&a.network));
        for (index, attachment) in attached.into_iter().enumerate() {
            let Some(ip) = attachment.ip else { continue };
            if !taken.insert((attachment.network.clone(), ip)) {
                continue;
            }
            endpoints.push(LocalEndpoint {
                id: endpoint_id(&task.task.task.id, &attachment.network),
                netns: task.netns.to_owned(),
                ifname: format!("eth{index}"),
                network: attachment.network.clone(),
                ip,
                mac: None,
            });
        }
    }
    let remote_endpoints = assignment
        .remote_tasks
        .iter()
        .filter(|r| known(&r.network) && taken.insert((r.network.clone(), r.ip)))
        .map(|r| RemoteEndpoint {
            network: r.network.clone(),
            ip: r.ip,
            mac: None,
            node: r.node_addr,
        })
        .collect();
    let local_ids: BTreeSet<&str> = local.iter().map(|t| t.task.task.id.as_str()).collect();
    let mut state = DesiredState {
        underlay,
        networks,
        endpoints,
        remote_endpoints,
        peers: assignment.peers.clone(),
        ..DesiredState::default()
    };
    for service in &assignment.services {
        add_service(&mut state, service, &local_ids);
    }
    state
}

/// Overlay networks whose subnet the data plane accepts.
fn networks(assignment: &Assignment) -> Vec<NetworkSpec> {
    assignment
        .networks
        .iter()
        .filter_map(|n| match n.subnet.parse::<Subnet>() {
            Ok(subnet) => Some(NetworkSpec {
                name: n.name.clone(),
                vni: n.vni,
                subnet,
                internal: n.internal,
                encrypted: n.encrypted,
            }),
            Err(err) => {
                log::warn!("network {}: not programmed: {err}", n.name);
                None
            }
        })
        .collect()
}

/// One load-balancer entry per VIP of `service`, and its published ports.
fn add_service(state: &mut DesiredState, service: &LbService, local_ids: &BTreeSet<&str>) {
    let ports = service_ports(&service.ports);
    for vip in &service.vips {
        if state.network(&vip.network).is_none() {
            continue;
        }
        let mut seen = HashSet::new();
        let backends = service
            .backends
            .iter()
            .filter(|b| b.network == vip.network && seen.insert(b.ip))
            .map(|b| BackendSpec {
                ip: b.ip,
                network: b.network.clone(),
                draining: b.draining,
            })
            .collect();
        state.services.push(ServiceSpec {
            name: service_entry_name(&service.name, &vip.network),
            vip: vip.ip,
            network: Some(vip.network.clone()),
            ports: ports.clone(),
            backends,
        });
    }
    for port in service.ports.iter().filter(|p| p.published != 0) {
        let Some(entry) = published_entry(service, port, local_ids) else {
            continue;
        };
        let published = PublishedPort {
            port: port.published,
            protocol: protocol(port.protocol),
            service: service_entry_name(&service.name, &entry.network),
            target: port.target,
            mode: match port.mode {
                PublishMode::Ingress => DpPublishMode::Ingress,
                PublishMode::Host => DpPublishMode::Host,
            },
        };
        let duplicate = state
            .published
            .iter()
            .any(|p| p.port == published.port && p.protocol == published.protocol);
        if !duplicate && state.network(&entry.network).is_some() {
            state.published.push(published);
        }
    }
}

/// The VIP entry a published port leads to: the ingress network's for the
/// routing mesh; for host mode, only on a node running one of the
/// service's tasks, a network one of those tasks is on.
fn published_entry<'a>(
    service: &'a LbService,
    port: &PortConfig,
    local_ids: &BTreeSet<&str>,
) -> Option<&'a VirtualIp> {
    match port.mode {
        PublishMode::Ingress => service.vips.iter().find(|v| v.network == INGRESS_NETWORK),
        PublishMode::Host => {
            let local_networks: BTreeSet<&str> = service
                .backends
                .iter()
                .filter(|b| local_ids.contains(b.task_id.as_str()))
                .map(|b| b.network.as_str())
                .collect();
            let mut candidates = service
                .vips
                .iter()
                .filter(|v| local_networks.contains(v.network.as_str()));
            let first = candidates.clone().next();
            candidates.find(|v| v.network == INGRESS_NETWORK).or(first)
        }
    }
}

/// The VIP answers on every port, TCP and UDP, as Swarm's VIPs do (a
/// service needs no published port to be reached by other tasks); the
/// target ports get entries of their own, which published (mesh) ports
/// lead to.
fn service_ports(ports: &[PortConfig]) -> Vec<ServicePort> {
    let mut seen = HashSet::new();
    let targets = ports
        .iter()
        .filter(|p| p.target != 0 && seen.insert((p.target, p.protocol)))
        .map(|p| ServicePort {
            port: p.target,
            target: Some(p.target),
            protocol: protocol(p.protocol),
        });
    let every_port = [DpProtocol::Tcp, DpProtocol::Udp].map(|protocol| ServicePort {
        port: 0,
        target: None,
        protocol,
    });
    targets.chain(every_port).collect()
}

fn protocol(protocol: Protocol) -> DpProtocol {
    match protocol {
        Protocol::Tcp => DpProtocol::Tcp,
        Protocol::Udp => DpProtocol::Udp,
    }
}

#[cfg(test)]
#[path = "dataplane_tests.rs"]
mod tests;
