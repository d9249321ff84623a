//! One network's allocation: VNI, subnet, gateway and the addresses of
//! its tasks and VIPs.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{AllocatorError, Ipv4Net};

/// What the allocator gave a network, and who holds which address in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAllocation {
    /// Network name.
    pub name: String,
    /// VXLAN network identifier.
    pub vni: u32,
    /// The subnet.
    pub subnet: Ipv4Net,
    /// The gateway (first host address; tasks route through it).
    pub gateway: Ipv4Addr,
    /// Address → holder (a task ID, or `vip:<service ID>`).
    #[serde(default)]
    pub addresses: BTreeMap<Ipv4Addr, String>,
    /// Service ID → its virtual IP on this network.
    #[serde(default)]
    pub vips: BTreeMap<String, Ipv4Addr>,
    /// Offset the next search starts at, so a freed address is handed out
    /// again only after the rest of the subnet (stale ARP and DNS entries
    /// get time to expire).
    #[serde(default)]
    pub next_offset: u32,
}

impl NetworkAllocation {
    /// A network with nothing allocated.
    pub fn new(name: &str, vni: u32, subnet: Ipv4Net) -> NetworkAllocation {
        NetworkAllocation {
            name: name.to_owned(),
            vni,
            subnet,
            gateway: subnet.nth(1),
            addresses: BTreeMap::new(),
            vips: BTreeMap::new(),
            next_offset: 2,
        }
    }

    /// Whether `offset` may be handed out: not the network address, the
    /// gateway or the broadcast address.
    fn assignable(&self, offset: u64) -> bool {
        offset >= 2 && offset + 1 < self.subnet.size()
    }

    /// Hands out the next free address to `owner`, searching from where the
    /// last search ended and wrapping around once.
    pub fn allocate(&mut self, owner: &str) -> Result<Ipv4Addr, AllocatorError> {
        let size = self.subnet.size();
        let start = u64::from(self.next_offset);
        for step in 0..size {
            let offset = (start + step) % size;
            if !self.assignable(offset) {
                continue;
            }
            let Ok(offset) = u32::try_from(offset) else {
                continue;
            };
            let ip = self.subnet.nth(offset);
            if self.addresses.contains_key(&ip) {
                continue;
            }
            self.addresses.insert(ip, owner.to_owned());
            self.next_offset = offset.wrapping_add(1);
            return Ok(ip);
        }
        Err(AllocatorError::AddressesExhausted {
            network: self.name.clone(),
            subnet: self.subnet,
        })
    }

    /// Gives `ip` to `owner` (an explicit address, or restoring state).
    pub fn reserve(&mut self, ip: Ipv4Addr, owner: &str) -> Result<(), AllocatorError> {
        let offset = self.subnet.offset_of(ip);
        if !offset.is_some_and(|offset| self.assignable(u64::from(offset))) {
            return Err(AllocatorError::AddressNotAssignable {
                network: self.name.clone(),
                ip,
                subnet: self.subnet,
            });
        }
        if let Some(holder) = self.addresses.get(&ip) {
            return Err(AllocatorError::AddressInUse {
                network: self.name.clone(),
                ip,
                owner: holder.clone(),
            });
        }
        self.addresses.insert(ip, owner.to_owned());
        Ok(())
    }

    /// Takes `ip` back.
    pub fn release(&mut self, ip: Ipv4Addr) -> Result<(), AllocatorError> {
        match self.addresses.remove(&ip) {
            Some(_) => Ok(()),
            None => Err(AllocatorError::AddressNotAllocated {
                network: self.name.clone(),
                ip,
            }),
        }
    }
}
