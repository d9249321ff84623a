//! What the load-balancing maps should hold for a desired state, before
//! ids are assigned: a pure function of the state, so it is tested without
//! a kernel.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    net::Ipv4Addr,
};

use shoal_common::lb::{
    BACKEND_ACTIVE, BACKEND_DRAINING, Backend, MAGLEV_SIZE, MESH_VNI, Service, ServiceKey,
};

use super::{
    maglev::{self, MaglevBackend},
    state::{PublishMode, ServicePort, ServiceSpec, published_target},
    view::LbView,
};

/// A backend as [`shoal_common::maps::BACKENDS`] identifies it: the socket
/// a flow is translated to. Services reaching the same socket share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackendAddr {
    /// Task address.
    pub ip: Ipv4Addr,
    /// Target port (host order).
    pub port: u16,
    /// VNI the task is reached on.
    pub vni: u32,
}

impl BackendAddr {
    /// The same address read back from a map value.
    pub fn from_value(b: &Backend) -> Self {
        Self {
            ip: Ipv4Addr::from(b.ip),
            port: u16::from_be_bytes(b.port),
            vni: b.vni,
        }
    }

    /// The map value in `state` ([`BACKEND_ACTIVE`] or [`BACKEND_DRAINING`]).
    pub fn value(&self, state: u32) -> Backend {
        Backend {
            ip: self.ip.octets(),
            port: self.port.to_be_bytes(),
            _pad: [0; 2],
            vni: self.vni,
            state,
        }
    }

    /// The Maglev name: the same on every node, whatever id it has there.
    pub fn maglev_name(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// One backend of one service entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedBackend {
    /// Its address.
    pub addr: BackendAddr,
    /// In the Maglev table (not draining).
    pub active: bool,
}

/// The load-balancing content of a desired state: every service entry (VIP
/// ports and published ports) with its backends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Service entry → its backends.
    pub services: BTreeMap<ServiceKey, Vec<PlannedBackend>>,
}

/// The key of a VIP port on network `vni` or (with `0.0.0.0` and
/// [`MESH_VNI`]) a published port.
pub fn service_key(vni: u32, ip: Ipv4Addr, port: u16, proto: u8) -> ServiceKey {
    ServiceKey {
        ip: ip.octets(),
        port: port.to_be_bytes(),
        proto,
        _pad: 0,
        vni,
    }
}

/// The plan for a validated `state`.
pub fn plan(state: &LbView) -> Plan {
    let mut services = BTreeMap::new();
    for svc in state.services {
        let vni = state.vip_network(svc).map_or(0, |n| n.vni);
        for port in &svc.ports {
            let key = service_key(vni, svc.vip, port.port, port.protocol.number());
            services.insert(key, backends(state, svc, port, false));
        }
    }
    for p in state.published {
        let Some(svc) = state.services.iter().find(|s| s.name == p.service) else {
            continue;
        };
        let Some(port) = published_target(svc, p) else {
            continue;
        };
        let key = service_key(MESH_VNI, Ipv4Addr::UNSPECIFIED, p.port, p.protocol.number());
        let local_only = p.mode == PublishMode::Host;
        services.insert(key, backends(state, svc, &port, local_only));
    }
    Plan { services }
}

fn backends(
    state: &LbView,
    svc: &ServiceSpec,
    port: &ServicePort,
    local_only: bool,
) -> Vec<PlannedBackend> {
    let local: HashSet<(&str, Ipv4Addr)> = state
        .endpoints
        .iter()
        .map(|e| (e.network.as_str(), e.ip))
        .collect();
    svc.backends
        .iter()
        .filter(|b| !local_only || local.contains(&(b.network.as_str(), b.ip)))
        .map(|b| PlannedBackend {
            addr: BackendAddr {
                ip: b.ip,
                port: port.target_port(),
                vni: state.network(&b.network).map_or(0, |n| n.vni),
            },
            active: !b.draining,
        })
        .collect()
}

impl Plan {
    /// The [`shoal_common::maps::VIPS`] content: every VIP with the number
    /// of networks that have a service entry on it.
    pub fn vip_values(&self) -> BTreeMap<[u8; 4], u32> {
        let pairs: BTreeSet<([u8; 4], u32)> = self
            .services
            .keys()
            .filter(|k| k.ip != [0; 4])
            .map(|k| (k.ip, k.vni))
            .collect();
        let mut out = BTreeMap::new();
        for (ip, _) in pairs {
            *out.entry(ip).or_insert(0) += 1;
        }
        out
    }

    /// Every backend address, for id assignment.
    pub fn backend_addrs(&self) -> BTreeSet<BackendAddr> {
        self.services.values().flatten().map(|b| b.addr).collect()
    }

    /// The [`shoal_common::maps::BACKENDS`] content: active if any entry
    /// still sends it new flows, draining otherwise.
    pub fn backend_values(&self, ids: &BTreeMap<BackendAddr, u32>) -> BTreeMap<u32, Backend> {
        let mut out: BTreeMap<u32, Backend> = BTreeMap::new();
        for b in self.services.values().flatten() {
            let Some(&id) = ids.get(&b.addr) else {
                continue;
            };
            let state = if b.active {
                BACKEND_ACTIVE
            } else {
                BACKEND_DRAINING
            };
            let entry = out.entry(id).or_insert_with(|| b.addr.value(state));
            if b.active {
                entry.state = BACKEND_ACTIVE;
            }
        }
        out
    }

    /// The [`shoal_common::maps::SERVICES`] content.
    pub fn service_values(&self, ids: &BTreeMap<ServiceKey, u32>) -> BTreeMap<ServiceKey, Service> {
        self.services
            .iter()
            .filter_map(|(key, backends)| {
                let id = *ids.get(key)?;
                let active = backends.iter().filter(|b| b.active).count();
                let active_backends = u32::try_from(active).unwrap_or(u32::MAX);
                Some((
                    *key,
                    Service {
                        id,
                        active_backends,
                    },
                ))
            })
            .collect()
    }

    /// The Maglev table of each service id (empty: no active backend).
    pub fn tables(
        &self,
        service_ids: &BTreeMap<ServiceKey, u32>,
        backend_ids: &BTreeMap<BackendAddr, u32>,
    ) -> BTreeMap<u32, Vec<u32>> {
        self.services
            .iter()
            .filter_map(|(key, backends)| {
                let active: Vec<MaglevBackend> = backends
                    .iter()
                    .filter(|b| b.active)
                    .filter_map(|b| {
                        Some(MaglevBackend {
                            name: b.addr.maglev_name(),
                            id: *backend_ids.get(&b.addr)?,
                        })
                    })
                    .collect();
                Some((
                    *service_ids.get(key)?,
                    maglev::build_sized(&active, MAGLEV_SIZE),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
