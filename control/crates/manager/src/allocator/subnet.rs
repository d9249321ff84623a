//! [`Ipv4Net`]: an IPv4 subnet (`10.0.1.0/24`).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::AllocatorError;

/// An IPv4 subnet: a network address with no host bits set, and a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// Swarm's default address pool, 10.0.0.0/8.
    pub const DEFAULT_POOL: Ipv4Net = Ipv4Net {
        addr: Ipv4Addr::new(10, 0, 0, 0),
        prefix: 8,
    };

    /// `addr/prefix`; fails when host bits are set or the prefix is over 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Ipv4Net, AllocatorError> {
        if prefix > 32 {
            return Err(AllocatorError::InvalidSubnet {
                text: format!("{addr}/{prefix}"),
            });
        }
        let net = Ipv4Net { addr, prefix };
        let network = Ipv4Addr::from(u32::from(addr) & net.mask());
        if network != addr {
            return Err(AllocatorError::SubnetHostBits {
                given: format!("{addr}/{prefix}"),
                expected: Ipv4Net {
                    addr: network,
                    prefix,
                },
            });
        }
        Ok(net)
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn mask(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// Number of addresses (network and broadcast included).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// The address `offset` places after the network address.
    pub fn nth(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr).wrapping_add(offset))
    }

    /// `ip`'s offset from the network address, if inside.
    pub fn offset_of(&self, ip: Ipv4Addr) -> Option<u32> {
        self.contains(ip)
            .then(|| u32::from(ip) - u32::from(self.addr))
    }

    /// The `index`-th subnet of length `prefix` inside this one.
    pub fn subnet(&self, prefix: u8, index: u32) -> Option<Ipv4Net> {
        let count = 1u64 << (prefix.checked_sub(self.prefix)?);
        if u64::from(index) >= count {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let start = u64::from(u32::from(self.addr)) + u64::from(index) * step;
        let addr = Ipv4Addr::from(u32::try_from(start).ok()?);
        Some(Ipv4Net { addr, prefix })
    }
}

impl FromStr for Ipv4Net {
    type Err = AllocatorError;

    fn from_str(text: &str) -> Result<Ipv4Net, AllocatorError> {
        let invalid = || AllocatorError::InvalidSubnet {
            text: text.to_owned(),
        };
        let (addr, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        Ipv4Net::new(addr, prefix)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Ipv4Net {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ipv4Net, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
