//! Errors of the [`crate::allocator`] module.

use std::net::Ipv4Addr;

use shoal_model::spec::Protocol;

use super::Ipv4Net;

/// Why an allocation failed. Exhaustion errors are retryable once
/// something is released; conflicts need a different request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocatorError {
    /// Not `a.b.c.d/n`.
    #[error("invalid subnet {text:?}: expected a.b.c.d/prefix")]
    InvalidSubnet {
        /// The text given.
        text: String,
    },
    /// The address has host bits set.
    #[error("invalid subnet {given}: host bits are set, did you mean {expected}?")]
    SubnetHostBits {
        /// The subnet given.
        given: String,
        /// The network it lies in.
        expected: Ipv4Net,
    },
    /// Too large or too small for a network.
    #[error("invalid subnet {subnet}: the prefix must be between /8 and /30")]
    SubnetSize {
        /// The subnet.
        subnet: Ipv4Net,
    },
    /// An explicit subnet overlaps another network's.
    #[error("subnet {subnet} overlaps subnet {existing} of network {network:?}")]
    SubnetOverlap {
        /// The subnet asked for.
        subnet: Ipv4Net,
        /// The network already holding an overlapping subnet.
        network: String,
        /// That network's subnet.
        existing: Ipv4Net,
    },
    /// The default address pool has no free subnet left.
    #[error(
        "could not find an available, non-overlapping IPv4 address pool among the defaults ({pool} in /{size}s)"
    )]
    PoolExhausted {
        /// The pool.
        pool: Ipv4Net,
        /// Size of its subnets.
        size: u8,
    },
    /// Every VXLAN network identifier is taken.
    #[error("no free VXLAN network identifier in {first}..={last}")]
    VniExhausted {
        /// Lowest VNI handed out.
        first: u32,
        /// Highest VNI handed out.
        last: u32,
    },
    /// A network of that name exists.
    #[error("network with name {name} already exists")]
    NetworkExists {
        /// The name.
        name: String,
    },
    /// No network of that name.
    #[error("network {name} not found")]
    UnknownNetwork {
        /// The name.
        name: String,
    },
    /// A network still has addresses handed out.
    #[error("network {name} has active endpoints ({addresses} addresses in use)")]
    NetworkInUse {
        /// The name.
        name: String,
        /// Addresses still allocated.
        addresses: usize,
    },
    /// No free address left in a network.
    #[error("no available IPv4 addresses on network {network} ({subnet})")]
    AddressesExhausted {
        /// The network.
        network: String,
        /// Its subnet.
        subnet: Ipv4Net,
    },
    /// An address outside the network's subnet, or one of its reserved
    /// addresses (network, gateway, broadcast).
    #[error("address {ip} is not assignable on network {network} ({subnet})")]
    AddressNotAssignable {
        /// The network.
        network: String,
        /// The address.
        ip: Ipv4Addr,
        /// The network's subnet.
        subnet: Ipv4Net,
    },
    /// An address asked for explicitly is taken.
    #[error("address {ip} on network {network} is already in use by {owner}")]
    AddressInUse {
        /// The network.
        network: String,
        /// The address.
        ip: Ipv4Addr,
        /// Who holds it.
        owner: String,
    },
    /// Releasing an address that is not allocated.
    #[error("address {ip} on network {network} is not allocated")]
    AddressNotAllocated {
        /// The network.
        network: String,
        /// The address.
        ip: Ipv4Addr,
    },
    /// An ingress port held by another service.
    #[error("port '{port}' is already in use by service '{service_id}' as an ingress port")]
    PortInUse {
        /// The port.
        port: u16,
        /// Its protocol.
        protocol: Protocol,
        /// The service holding it.
        service_id: String,
    },
    /// The same published port twice in one request.
    #[error("duplicate published port {port}/{protocol:?}")]
    DuplicatePort {
        /// The port.
        port: u16,
        /// Its protocol.
        protocol: Protocol,
    },
    /// The dynamic range has no free port left.
    #[error("no free {protocol:?} port in the dynamic range {first}-{last}")]
    DynamicPortsExhausted {
        /// The protocol.
        protocol: Protocol,
        /// Start of the range.
        first: u16,
        /// End of the range.
        last: u16,
    },
}
