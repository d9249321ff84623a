//! Addresses overlay tests deal in: IPv4 prefixes (`10.10.0.2/24`) and MAC
//! addresses, with Docker's rule for deriving a task's MAC from its IP.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Errors parsing an address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddrError {
    /// Not `a.b.c.d/len` with `len` in 0..=32.
    #[error("`{0}` is not an IPv4 prefix like 10.10.0.2/24")]
    InvalidCidr(String),
    /// Not six colon-separated hex bytes.
    #[error("`{0}` is not a MAC address like 02:42:0a:0a:00:02")]
    InvalidMac(String),
}

/// An IPv4 address with a prefix length: an interface address or a subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address (host or network).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

impl Cidr {
    /// `addr/prefix`; `None` if `prefix > 32`.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then_some(Self { addr, prefix })
    }

    /// The network this address is in (host bits cleared).
    pub fn network(self) -> Self {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        Self {
            addr: Ipv4Addr::from(u32::from(self.addr) & mask),
            prefix: self.prefix,
        }
    }

    /// Host `n` of this address's network with the same prefix, e.g. host 1 is
    /// the gateway shoal puts on a subnet.
    pub fn host(self, n: u32) -> Self {
        let net = self.network();
        Self {
            addr: Ipv4Addr::from(u32::from(net.addr).wrapping_add(n)),
            prefix: self.prefix,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddrError::InvalidCidr(s.to_owned());
        let (addr, prefix) = s.split_once('/').ok_or_else(err)?;
        let addr = addr.parse().map_err(|_| err())?;
        let prefix = prefix.parse().map_err(|_| err())?;
        Self::new(addr, prefix).ok_or_else(err)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Docker's MAC for a task IP: `02:42` followed by the four IPv4 bytes
    /// (locally administered, unicast).
    pub fn from_ip(ip: Ipv4Addr) -> Self {
        let [a, b, c, d] = ip.octets();
        Self([0x02, 0x42, a, b, c, d])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddr {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddrError::InvalidMac(s.to_owned());
        let mut bytes = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut bytes {
            let part = parts.next().filter(|p| p.len() == 2).ok_or_else(err)?;
            *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        match parts.next() {
            Some(_) => Err(err()),
            None => Ok(Self(bytes)),
        }
    }
}

impl serde::Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_prints_and_derives() {
        let c: Cidr = "10.10.0.2/24".parse().unwrap();
        assert_eq!(c.to_string(), "10.10.0.2/24");
        assert_eq!(c.network().to_string(), "10.10.0.0/24");
        assert_eq!(c.host(1).to_string(), "10.10.0.1/24");
        assert_eq!("0.0.0.0/0".parse::<Cidr>().unwrap().network().prefix, 0);
        for bad in ["10.10.0.2", "10.10.0.2/33", "10.10.0/24", "x/24"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mac_parses_prints_and_derives_from_ip() {
        let mac = MacAddr::from_ip(Ipv4Addr::new(10, 10, 0, 2));
        assert_eq!(mac.to_string(), "02:42:0a:0a:00:02");
        assert_eq!("02:42:0a:0a:00:02".parse::<MacAddr>(), Ok(mac));
        for bad in [
            "02:42:0a:0a:00",
            "02:42:0a:0a:00:02:03",
            "2:42:0a:0a:00:02",
            "zz:42:0a:0a:00:02",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }
}
