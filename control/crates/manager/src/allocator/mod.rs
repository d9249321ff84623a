//! The allocator: VXLAN network identifiers, overlay subnets, task
//! addresses, service VIPs and published ingress ports.
//!
//! [`Allocator`] is plain data (serde), so the manager can keep it in the
//! store and rebuild nothing on a leader change. Every operation either
//! succeeds completely or changes nothing.
//!
//! - VNIs start at 4096 (below is left for VLAN-like local use, as Swarm
//!   does) and go up to 2^24 − 1.
//! - Subnets come from the default pool 10.0.0.0/8 in /24s unless a
//!   network asks for one (`--subnet`); explicit subnets may not overlap
//!   any other network, and pool subnets skip them.
//! - Addresses skip the network, gateway (first host) and broadcast
//!   addresses; freed ones come back after the rest of the subnet.
//! - Ingress ports are unique cluster-wide per protocol; port 0 gets one
//!   from 30000–32767.

mod error;
mod network;
mod ports;
mod subnet;

pub use error::AllocatorError;
pub use network::NetworkAllocation;
pub use ports::{DYNAMIC_PORT_FIRST, DYNAMIC_PORT_LAST, PortHolder, PortTable};
pub use subnet::Ipv4Net;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use shoal_model::spec::{PortConfig, Task};

/// Lowest VNI handed out.
pub const VNI_FIRST: u32 = 4096;
/// Highest VNI (24 bits).
pub const VNI_LAST: u32 = (1 << 24) - 1;
/// Prefix length of subnets taken from the pool.
pub const POOL_SUBNET_PREFIX: u8 = 24;

/// Everything allocated in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocator {
    /// The default address pool.
    pub pool: Ipv4Net,
    /// Networks by name.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkAllocation>,
    /// Ingress ports.
    #[serde(default)]
    pub ports: PortTable,
    /// Where the next VNI search starts.
    #[serde(default)]
    pub next_vni: u32,
    /// Index (in /24s) where the next pool search starts.
    #[serde(default)]
    pub next_pool_index: u32,
}

impl Default for Allocator {
    fn default() -> Self {
        Allocator::new(Ipv4Net::DEFAULT_POOL)
    }
}

impl Allocator {
    /// An empty allocator drawing subnets from `pool`.
    pub fn new(pool: Ipv4Net) -> Allocator {
        Allocator {
            pool,
            networks: BTreeMap::new(),
            ports: PortTable::default(),
            next_vni: VNI_FIRST,
            next_pool_index: 0,
        }
    }

    /// A network's allocation.
    pub fn network(&self, name: &str) -> Result<&NetworkAllocation, AllocatorError> {
        self.networks
            .get(name)
            .ok_or_else(|| AllocatorError::UnknownNetwork {
                name: name.to_owned(),
            })
    }

    fn network_mut(&mut self, name: &str) -> Result<&mut NetworkAllocation, AllocatorError> {
        self.networks
            .get_mut(name)
            .ok_or_else(|| AllocatorError::UnknownNetwork {
                name: name.to_owned(),
            })
    }

    /// Creates network `name` with a VNI and `subnet` (or the next free
    /// /24 of the pool).
    pub fn create_network(
        &mut self,
        name: &str,
        subnet: Option<Ipv4Net>,
    ) -> Result<&NetworkAllocation, AllocatorError> {
        if self.networks.contains_key(name) {
            return Err(AllocatorError::NetworkExists {
                name: name.to_owned(),
            });
        }
        let (subnet, next_pool_index) = match subnet {
            Some(subnet) => (self.check_explicit_subnet(subnet)?, self.next_pool_index),
            None => self.free_pool_subnet()?,
        };
        let vni = self.free_vni()?;
        self.next_vni = if vni == VNI_LAST { VNI_FIRST } else { vni + 1 };
        self.next_pool_index = next_pool_index;
        let network = NetworkAllocation::new(name, vni, subnet);
        Ok(self.networks.entry(name.to_owned()).or_insert(network))
    }

    /// Removes a network; it must have no task addresses left (VIPs are
    /// released with it).
    pub fn remove_network(&mut self, name: &str) -> Result<(), AllocatorError> {
        let network = self.network(name)?;
        let in_use = network.addresses.len() - network.vips.len();
        if in_use > 0 {
            return Err(AllocatorError::NetworkInUse {
                name: name.to_owned(),
                addresses: in_use,
            });
        }
        self.networks.remove(name);
        Ok(())
    }

    /// Forgets network `name` even if task addresses remain in it: the
    /// caller checked that no service uses it any more, so those tasks are
    /// being stopped (a later release finds no network and does nothing,
    /// and a network created again under the name starts empty).
    pub fn drop_network(&mut self, name: &str) -> Result<(), AllocatorError> {
        self.network(name)?;
        self.networks.remove(name);
        Ok(())
    }

    fn check_explicit_subnet(&self, subnet: Ipv4Net) -> Result<Ipv4Net, AllocatorError> {
        if !(8..=30).contains(&subnet.prefix()) {
            return Err(AllocatorError::SubnetSize { subnet });
        }
        match self.overlapping(&subnet) {
            Some(other) => Err(AllocatorError::SubnetOverlap {
                subnet,
                network: other.name.clone(),
                existing: other.subnet,
            }),
            None => Ok(subnet),
        }
    }

    fn overlapping(&self, subnet: &Ipv4Net) -> Option<&NetworkAllocation> {
        self.networks.values().find(|n| n.subnet.overlaps(subnet))
    }

    /// The next pool /24 no network overlaps, and the index after it.
    fn free_pool_subnet(&self) -> Result<(Ipv4Net, u32), AllocatorError> {
        let exhausted = AllocatorError::PoolExhausted {
            pool: self.pool,
            size: POOL_SUBNET_PREFIX,
        };
        let prefix = POOL_SUBNET_PREFIX.max(self.pool.prefix());
        let count = 1u64 << (prefix - self.pool.prefix());
        for step in 0..count {
            let index = (u64::from(self.next_pool_index) + step) % count;
            let index = u32::try_from(index).map_err(|_| exhausted.clone())?;
            let Some(candidate) = self.pool.subnet(prefix, index) else {
                continue;
            };
            if self.overlapping(&candidate).is_none() {
                let next = u32::try_from((u64::from(index) + 1) % count).unwrap_or(0);
                return Ok((candidate, next));
            }
        }
        Err(exhausted)
    }

    fn free_vni(&self) -> Result<u32, AllocatorError> {
        let used: std::collections::HashSet<u32> = self.networks.values().map(|n| n.vni).collect();
        let start = self.next_vni.clamp(VNI_FIRST, VNI_LAST);
        (start..=VNI_LAST)
            .chain(VNI_FIRST..start)
            .find(|vni| !used.contains(vni))
            .ok_or(AllocatorError::VniExhausted {
                first: VNI_FIRST,
                last: VNI_LAST,
            })
    }

    /// Hands the next free address of `network` to `owner`.
    pub fn allocate_address(
        &mut self,
        network: &str,
        owner: &str,
    ) -> Result<Ipv4Addr, AllocatorError> {
        self.network_mut(network)?.allocate(owner)
    }

    /// Gives the specific address `ip` of `network` to `owner`.
    pub fn reserve_address(
        &mut self,
        network: &str,
        ip: Ipv4Addr,
        owner: &str,
    ) -> Result<(), AllocatorError> {
        self.network_mut(network)?.reserve(ip, owner)
    }

    /// Takes an address back.
    pub fn release_address(&mut self, network: &str, ip: Ipv4Addr) -> Result<(), AllocatorError> {
        self.network_mut(network)?.release(ip)
    }

    /// The VIP of `service_id` on `network`, allocated on first use.
    pub fn allocate_vip(
        &mut self,
        network: &str,
        service_id: &str,
    ) -> Result<Ipv4Addr, AllocatorError> {
        let net = self.network_mut(network)?;
        if let Some(vip) = net.vips.get(service_id) {
            return Ok(*vip);
        }
        let vip = net.allocate(&format!("vip:{service_id}"))?;
        net.vips.insert(service_id.to_owned(), vip);
        Ok(vip)
    }

    /// Releases the VIP of `service_id` on `network` (if it has one).
    pub fn release_vip(&mut self, network: &str, service_id: &str) -> Result<(), AllocatorError> {
        let net = self.network_mut(network)?;
        match net.vips.remove(service_id) {
            Some(vip) => net.release(vip),
            None => Ok(()),
        }
    }

    /// Gives every attachment of `task` without an address one (owner: the
    /// task ID); on failure the addresses given so far are taken back.
    pub fn allocate_task(&mut self, task: &mut Task) -> Result<(), AllocatorError> {
        let mut given = Vec::new();
        let cursors: Vec<(String, u32)> = self
            .networks
            .values()
            .map(|n| (n.name.clone(), n.next_offset))
            .collect();
        for (i, attachment) in task.networks.iter().enumerate() {
            if attachment.ip.is_some() {
                continue;
            }
            match self.allocate_address(&attachment.network, &task.id) {
                Ok(ip) => given.push((i, ip)),
                Err(error) => {
                    for (i, ip) in given {
                        if let Some(net) = self.networks.get_mut(&task.networks[i].network) {
                            net.addresses.remove(&ip);
                        }
                    }
                    for (name, cursor) in cursors {
                        if let Some(net) = self.networks.get_mut(&name) {
                            net.next_offset = cursor;
                        }
                    }
                    return Err(error);
                }
            }
        }
        for (i, ip) in given {
            task.networks[i].ip = Some(ip);
        }
        Ok(())
    }

    /// Takes back every address of `task` (networks already gone are
    /// skipped).
    pub fn release_task(&mut self, task: &Task) {
        for attachment in &task.networks {
            if let (Some(ip), Some(net)) =
                (attachment.ip, self.networks.get_mut(&attachment.network))
                && net.addresses.get(&ip) == Some(&task.id)
            {
                net.addresses.remove(&ip);
            }
        }
    }

    /// Gives `service_id` its ingress ports (see [`PortTable::allocate`]).
    pub fn allocate_ports(
        &mut self,
        service_id: &str,
        requested: &[PortConfig],
    ) -> Result<Vec<PortConfig>, AllocatorError> {
        self.ports.allocate(service_id, requested)
    }

    /// Releases every ingress port of `service_id`.
    pub fn release_ports(&mut self, service_id: &str) {
        self.ports.release(service_id);
    }
}

#[cfg(test)]
mod tests;
