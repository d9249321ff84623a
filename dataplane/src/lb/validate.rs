//! Validation of the load balancer's part of a desired state: services,
//! their ports and backends, and published ports, checked against the
//! networks and tasks of the same state.

use std::{collections::HashSet, net::Ipv4Addr};

use super::{
    state::{LbStateError, Protocol, ServiceSpec, published_target},
    view::LbView,
};
use crate::overlay::state::NetworkSpec;

impl LbView<'_> {
    /// Check the services, published ports and conntrack settings (the
    /// networks and endpoints already checked by the overlay).
    pub fn validate(&self) -> Result<(), LbStateError> {
        validate(self)
    }
}

fn validate(state: &LbView) -> Result<(), LbStateError> {
    let taken = task_addresses(state);
    let (mut names, mut keys) = (HashSet::new(), HashSet::new());
    for svc in state.services {
        if svc.name.is_empty() {
            return Err(LbStateError::EmptyName { vip: svc.vip });
        }
        if !names.insert(svc.name.as_str()) {
            return Err(LbStateError::Duplicate {
                what: "service",
                value: svc.name.clone(),
            });
        }
        let net = vip_network(state, svc, &taken)?;
        validate_ports(svc, net, &mut keys)?;
        validate_backends(state, svc, net)?;
    }
    validate_published(state)
}

/// The network of `svc`'s VIP, checked against the tasks' addresses.
fn vip_network<'a>(
    state: &LbView<'a>,
    svc: &ServiceSpec,
    taken: &HashSet<(&str, Ipv4Addr)>,
) -> Result<&'a NetworkSpec, LbStateError> {
    let net = state.vip_network(svc)?;
    if taken.contains(&(net.name.as_str(), svc.vip)) {
        return Err(LbStateError::VipTaken {
            service: svc.name.clone(),
            vip: svc.vip,
            network: net.name.clone(),
        });
    }
    Ok(net)
}

/// Every task address: endpoints, remote endpoints and backends.
fn task_addresses<'a>(state: &LbView<'a>) -> HashSet<(&'a str, Ipv4Addr)> {
    let endpoints = state.endpoints.iter().map(|e| (e.network.as_str(), e.ip));
    let remotes = state
        .remote_endpoints
        .iter()
        .map(|e| (e.network.as_str(), e.ip));
    let backends = state
        .services
        .iter()
        .flat_map(|s| s.backends.iter().map(|b| (b.network.as_str(), b.ip)));
    endpoints.chain(remotes).chain(backends).collect()
}

/// A VIP port is unique per network: the same VIP and port may exist on
/// two networks (each answers only its own tasks).
fn validate_ports<'a>(
    svc: &ServiceSpec,
    net: &'a NetworkSpec,
    keys: &mut HashSet<(&'a str, Ipv4Addr, u16, Protocol)>,
) -> Result<(), LbStateError> {
    for p in &svc.ports {
        let any_port = p.port == 0 && p.target.is_none();
        for (what, port) in [("port", p.port), ("target port", p.target_port())] {
            if port == 0 && !any_port {
                return Err(LbStateError::PortZero {
                    owner: format!("service {}", svc.name),
                    what,
                });
            }
        }
        if !keys.insert((net.name.as_str(), svc.vip, p.port, p.protocol)) {
            return Err(LbStateError::Duplicate {
                what: "service address",
                value: format!("{}:{}/{} on {}", svc.vip, p.port, p.protocol, net.name),
            });
        }
    }
    Ok(())
}

fn validate_backends(
    state: &LbView,
    svc: &ServiceSpec,
    vip_net: &NetworkSpec,
) -> Result<(), LbStateError> {
    let mut seen = HashSet::new();
    for b in &svc.backends {
        let net = state
            .network(&b.network)
            .ok_or_else(|| LbStateError::UnknownNetwork {
                service: svc.name.clone(),
                ip: b.ip,
                network: b.network.clone(),
            })?;
        if !net.subnet.is_task_address(b.ip) {
            return Err(LbStateError::BackendOutsideSubnet {
                service: svc.name.clone(),
                ip: b.ip,
                network: net.name.clone(),
                subnet: net.subnet,
            });
        }
        if net.name != vip_net.name {
            return Err(LbStateError::BackendOffVipNetwork {
                service: svc.name.clone(),
                ip: b.ip,
                network: net.name.clone(),
                vip: svc.vip,
                vip_network: vip_net.name.clone(),
            });
        }
        if !seen.insert(b.ip) {
            return Err(LbStateError::Duplicate {
                what: "backend",
                value: format!("{}/{}", svc.name, b.ip),
            });
        }
    }
    Ok(())
}

fn validate_published(state: &LbView) -> Result<(), LbStateError> {
    let mut seen = HashSet::new();
    for p in state.published {
        let owner = format!("published port {}/{}", p.port, p.protocol);
        for (what, port) in [("port", p.port), ("target", p.target)] {
            if port == 0 {
                return Err(LbStateError::PortZero {
                    owner: owner.clone(),
                    what,
                });
            }
        }
        if p.protocol == Protocol::Udp && p.port == state.vxlan_port {
            return Err(LbStateError::VxlanPort { port: p.port });
        }
        if !seen.insert((p.port, p.protocol)) {
            return Err(LbStateError::Duplicate {
                what: "published port",
                value: format!("{}/{}", p.port, p.protocol),
            });
        }
        let svc = state
            .services
            .iter()
            .find(|s| s.name == p.service)
            .ok_or_else(|| LbStateError::UnknownService {
                port: p.port,
                protocol: p.protocol,
                service: p.service.clone(),
            })?;
        if published_target(svc, p).is_none() {
            return Err(LbStateError::UnknownTarget {
                port: p.port,
                protocol: p.protocol,
                service: svc.name.clone(),
                target: p.target,
            });
        }
    }
    Ok(())
}
