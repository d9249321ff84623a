//! Packet fixtures for service load balancing and the routing mesh:
//! `shoal_task_tc` (a task to a VIP: Maglev pick or conntrack hit, DNAT,
//! reverse NAT of the backend's replies, TCP reset when a service has no
//! backend) and `shoal_underlay_tc` (a client to a published port on the
//! node's underlay address, VXLAN to a remote backend without SNAT, the
//! return path of mesh replies). Expected frames are built independently
//! with etherparse; checksums of what the programs wrote are re-verified
//! with etherparse's own computation; conntrack and reply entries are read
//! back from the maps.
//!
//! Task fixtures run in a private network namespace of the test thread, on
//! veth pairs standing in for the tasks' host-side veths. Needs root.
#![expect(
    clippy::unwrap_used,
    reason = "test setup: a failure to build a frame or a namespace should panic"
)]

mod support;

use std::{collections::HashSet, net::Ipv4Addr};

use etherparse::{
    EtherType, Ethernet2Header, IpNumber, Ipv4Header, NetSlice, SlicedPacket, TcpHeader,
    TransportSlice, UdpHeader,
};
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use shoal_common::{
    DropReason, Stat,
    lb::{
        CT_CLOSING, CT_DATAGRAM, CT_ESTABLISHED, CT_FIN_BACKEND, CT_FIN_CLIENT, CT_HALF_CLOSED,
        CT_SYN_SENT, CtEntry, DEFAULT_TCP_ESTABLISHED_S, DEFAULT_TCP_HALF_CLOSED_S, LbConfig,
        MESH_VNI, PROTO_TCP, PROTO_UDP, REPLY_RETURN_PATH, REPLY_REV_NAT, ReplyEntry,
    },
    overlay::{TaskIface, VXLAN_FLAG_VNI, VXLAN_OVERHEAD, VXLAN_PORT, vxlan_source_port},
};
use shoal_dataplane::lb::maglev::{self, MaglevBackend};
use support::{
    ETH_LEN, Fixture, Harness, LbMaps, OverlayMaps, Pkt, PrivateNetns, Program, Scenario,
    lb::{flow_key, monotonic_now_ns, reversed},
};

const VNI: u32 = 0x00_2a_01;
const SUBNET: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 0);

/// The client task, behind the device `task-a`.
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const CLIENT_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x02];
const CLIENT_HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x00, 0x00, 0x00, 0x02];
/// Backend 11 (and 12, another port of the same task), behind `task-b`.
const BE1: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 11);
const BE1_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x0b];
const BE1_HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x00, 0x00, 0x00, 0x0b];
/// Backend 21, a task on another node.
const BE_REMOTE: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 21);
const BE_REMOTE_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x15];
/// Backends 41 (active) and 42 (draining) of the drain service; local.
const BE_ACTIVE: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 41);
const BE_DRAINING: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 42);
/// Local tasks without a device of their own (redirect_peer does not check).
const FAKE_IFINDEX_BASE: u32 = 3000;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 100);
const EMPTY_VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 101);
const REMOTE_VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 102);
const DRAIN_VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 105);
const WEB: u16 = 80;
const DNS: u16 = 53;
const TARGET_WEB: u16 = 8080;
const TARGET_DNS: u16 = 5353;

const THIS_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OTHER_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const UNDERLAY_IFINDEX: u32 = 7;
const UNDERLAY_MAC: [u8; 6] = [0x02, 0xee, 0x00, 0x00, 0x00, 0x01];
const OTHER_NODE_MAC: [u8; 6] = [0x02, 0xee, 0x00, 0x00, 0x00, 0x02];
const ROUTER_MAC: [u8; 6] = [0x02, 0xee, 0x00, 0x00, 0x00, 0xfe];
/// A client outside the cluster.
const MESH_CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
/// Published ports: to backend 11 (local), to backend 21 (remote), none.
const PUB_LOCAL: u16 = 30_080;
const PUB_REMOTE: u16 = 30_081;
const PUB_EMPTY: u16 = 30_082;

/// Backend ids.
const ID_BE1_WEB: u32 = 11;
const ID_BE1_DNS: u32 = 12;
const ID_REMOTE: u32 = 21;
const ID_ACTIVE: u32 = 41;
const ID_DRAINING: u32 = 42;
/// Maglev table ids.
const T_WEB: u32 = 1;
const T_DNS: u32 = 2;
const T_REMOTE: u32 = 4;
const T_DRAIN: u32 = 10;

/// Bytes of a TCP reset frame: Ethernet + IPv4 + TCP, no options.
const RESET_LEN: usize = 54;
const VXLAN_LEN: usize = 8;

#[derive(Clone, Copy)]
struct Devices {
    client: u32,
    backend: u32,
}

fn devices(netns: &PrivateNetns) -> Devices {
    Devices {
        client: netns.add_veth("task-a").unwrap(),
        backend: netns.add_veth("task-b").unwrap(),
    }
}

fn iface(ip: Ipv4Addr, mac: [u8; 6], host_mac: [u8; 6]) -> TaskIface {
    TaskIface {
        vni: VNI,
        ip: ip.octets(),
        mac,
        host_mac,
    }
}

/// The MAC of a fake local task `ip` and of its host side.
fn fake_macs(ip: Ipv4Addr) -> ([u8; 6], [u8; 6]) {
    let o = ip.octets();
    (
        [0x02, 0x42, o[0], o[1], o[2], o[3]],
        [0x02, 0x5e, 0, 0, o[2], o[3]],
    )
}

fn fake_ifindex(ip: Ipv4Addr) -> u32 {
    FAKE_IFINDEX_BASE + u32::from(ip.octets()[3])
}

/// The node: the client and backend 11 as local tasks on real devices,
/// backend 21 on the other node, `fakes` as local tasks without devices.
fn node(dev: Devices, fakes: &[Ipv4Addr]) -> OverlayMaps {
    let mut maps = OverlayMaps::new()
        .node(UNDERLAY_IFINDEX, THIS_NODE, VXLAN_PORT)
        .network(VNI, SUBNET, 24)
        .task_iface(dev.client, iface(CLIENT, CLIENT_MAC, CLIENT_HOST_MAC))
        .task_iface(dev.backend, iface(BE1, BE1_MAC, BE1_HOST_MAC))
        .local_endpoint(VNI, CLIENT, CLIENT_MAC, dev.client, CLIENT_HOST_MAC)
        .local_endpoint(VNI, BE1, BE1_MAC, dev.backend, BE1_HOST_MAC)
        .remote_endpoint(VNI, BE_REMOTE, BE_REMOTE_MAC, OTHER_NODE);
    for &ip in fakes {
        let (mac, host_mac) = fake_macs(ip);
        maps = maps.local_endpoint(VNI, ip, mac, fake_ifindex(ip), host_mac);
    }
    maps
}

/// The services every fixture can use.
fn services() -> LbMaps {
    LbMaps::new()
        .backend(ID_BE1_WEB, BE1, TARGET_WEB, VNI)
        .backend(ID_BE1_DNS, BE1, TARGET_DNS, VNI)
        .backend(ID_REMOTE, BE_REMOTE, TARGET_WEB, VNI)
        .service(VNI, VIP, WEB, PROTO_TCP, T_WEB, 1)
        .service(VNI, VIP, DNS, PROTO_UDP, T_DNS, 1)
        .service(VNI, EMPTY_VIP, WEB, PROTO_TCP, 3, 0)
        .service(VNI, EMPTY_VIP, DNS, PROTO_UDP, 3, 0)
        .service(VNI, REMOTE_VIP, WEB, PROTO_TCP, T_REMOTE, 1)
        .published(PUB_LOCAL, PROTO_TCP, T_WEB, 1)
        .published(PUB_REMOTE, PROTO_TCP, T_REMOTE, 1)
        .published(PUB_EMPTY, PROTO_TCP, 7, 0)
        .single_backend_table(T_WEB, ID_BE1_WEB)
        .single_backend_table(T_DNS, ID_BE1_DNS)
        .single_backend_table(T_REMOTE, ID_REMOTE)
}

/// The drain service: backend 41 holds the whole table, 42 drains.
fn drain_service(lb: LbMaps) -> LbMaps {
    lb.backend(ID_ACTIVE, BE_ACTIVE, TARGET_WEB, VNI)
        .draining_backend(ID_DRAINING, BE_DRAINING, TARGET_WEB, VNI)
        .service(VNI, DRAIN_VIP, WEB, PROTO_TCP, T_DRAIN, 1)
        .service(VNI, DRAIN_VIP, DNS, PROTO_UDP, T_DRAIN, 1)
        .single_backend_table(T_DRAIN, ID_ACTIVE)
}

fn from_client(pkt: Pkt) -> Pkt {
    pkt.macs(CLIENT_MAC, CLIENT_HOST_MAC)
}
fn to_client(pkt: Pkt) -> Pkt {
    pkt.macs(CLIENT_HOST_MAC, CLIENT_MAC)
}
fn from_be1(pkt: Pkt) -> Pkt {
    pkt.macs(BE1_MAC, BE1_HOST_MAC)
}
fn to_be1(pkt: Pkt) -> Pkt {
    pkt.macs(BE1_HOST_MAC, BE1_MAC)
}
fn to_fake(pkt: Pkt, ip: Ipv4Addr) -> Pkt {
    let (mac, host_mac) = fake_macs(ip);
    pkt.macs(host_mac, mac)
}
fn from_router(pkt: Pkt) -> Pkt {
    pkt.macs(ROUTER_MAC, UNDERLAY_MAC)
}

/// The MAC shoal puts on frames a node itself sends into the overlay.
fn node_mac(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x53, o[0], o[1], o[2], o[3]]
}

/// A DNAT'd packet to a local backend: counted in, new flow (or not), delivered.
fn dnat(description: &'static str, input: Pkt, output: Pkt, new_flow: bool) -> Fixture {
    let fixture = Fixture::redirect(description, input.build(), Stat::LocalDelivery)
        .output(output.build())
        .counts(Stat::ServiceIn);
    if new_flow {
        fixture.counts(Stat::NewFlow)
    } else {
        fixture
    }
}

/// Every checksum in an Ethernet/IPv4/TCP-or-UDP frame, recomputed by
/// etherparse; a UDP checksum of 0 must be `udp_zero_ok`.
fn assert_checksums(frame: &[u8], udp_zero_ok: bool) {
    let sliced = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &sliced.net else {
        panic!("not IPv4: {frame:02x?}")
    };
    let header = ip.header().to_header();
    assert_eq!(
        ip.header().header_checksum(),
        header.calc_header_checksum(),
        "IPv4 header checksum of {frame:02x?}"
    );
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let want = tcp
                .to_header()
                .calc_checksum_ipv4(&header, tcp.payload())
                .unwrap();
            assert_eq!(tcp.checksum(), want, "TCP checksum of {frame:02x?}");
        }
        Some(TransportSlice::Udp(udp)) if udp.checksum() == 0 => {
            assert!(udp_zero_ok, "UDP checksum 0 in {frame:02x?}");
        }
        Some(TransportSlice::Udp(udp)) => {
            assert!(!udp_zero_ok, "UDP checksum should have stayed 0");
            let want = udp
                .to_header()
                .calc_checksum_ipv4(&header, udp.payload())
                .unwrap();
            assert_eq!(udp.checksum(), want, "UDP checksum of {frame:02x?}");
        }
        other => panic!("not TCP/UDP: {other:?}"),
    }
}

/// Destination address and port of an Ethernet/IPv4/TCP-or-UDP frame.
fn destination(frame: &[u8]) -> (Ipv4Addr, u16) {
    let sliced = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &sliced.net else {
        panic!("not IPv4")
    };
    let port = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => t.destination_port(),
        Some(TransportSlice::Udp(u)) => u.destination_port(),
        _ => panic!("not TCP/UDP"),
    };
    (ip.header().destination_addr(), port)
}

/// An RFC 7348 frame: outer Ethernet `eth_src` → `eth_dst`, IPv4 (DF, ID 0,
/// TTL 64) `ip_src` → `ip_dst`, UDP `sport` → 4789 (checksum 0), VNI, then
/// `inner` (an Ethernet frame).
fn vxlan_frame(
    (eth_src, eth_dst): ([u8; 6], [u8; 6]),
    (ip_src, ip_dst): (Ipv4Addr, Ipv4Addr),
    sport: u16,
    inner: &[u8],
) -> Vec<u8> {
    let vni = VNI.to_be_bytes();
    let mut payload = vec![VXLAN_FLAG_VNI, 0, 0, 0, vni[1], vni[2], vni[3], 0];
    payload.extend_from_slice(inner);
    let udp_len = UdpHeader::LEN + payload.len();
    let mut ip = Ipv4Header::new(
        u16::try_from(udp_len).unwrap(),
        64,
        IpNumber::UDP,
        ip_src.octets(),
        ip_dst.octets(),
    )
    .unwrap();
    ip.dont_fragment = true;
    ip.header_checksum = ip.calc_header_checksum();
    let udp = UdpHeader {
        source_port: sport,
        destination_port: VXLAN_PORT,
        length: u16::try_from(udp_len).unwrap(),
        checksum: 0,
    };
    let mut out = Ethernet2Header {
        source: eth_src,
        destination: eth_dst,
        ether_type: EtherType::IPV4,
    }
    .to_bytes()
    .to_vec();
    out.extend_from_slice(&ip.to_bytes());
    out.extend_from_slice(&udp.to_bytes());
    out.extend_from_slice(&payload);
    out
}

/// An inner Ethernet frame: `src` → `dst` around the IP packet of `pkt`.
fn inner_frame(src: [u8; 6], dst: [u8; 6], pkt: &Pkt) -> Vec<u8> {
    let mut out = Ethernet2Header {
        source: src,
        destination: dst,
        ether_type: EtherType::IPV4,
    }
    .to_bytes()
    .to_vec();
    out.extend_from_slice(&pkt.build()[ETH_LEN..]);
    out
}

/// The TCP reset a refused segment gets: `from:sport` → `to:dport`, MACs
/// `src_mac` → `dst_mac`, IPv4 DF/ID 0/TTL 64, window 0; RST with `seq`,
/// plus ACK of `ack` if given.
fn reset(
    (src_mac, dst_mac): ([u8; 6], [u8; 6]),
    (from, sport): (Ipv4Addr, u16),
    (to, dport): (Ipv4Addr, u16),
    seq: u32,
    ack: Option<u32>,
) -> Vec<u8> {
    let mut ip = Ipv4Header::new(20, 64, IpNumber::TCP, from.octets(), to.octets()).unwrap();
    ip.dont_fragment = true;
    ip.identification = 0;
    ip.header_checksum = ip.calc_header_checksum();
    let mut tcp = TcpHeader::new(sport, dport, seq, 0);
    tcp.rst = true;
    if let Some(ack) = ack {
        tcp.ack = true;
        tcp.acknowledgment_number = ack;
    }
    tcp.checksum = tcp.calc_checksum_ipv4(&ip, &[]).unwrap();
    let mut out = Ethernet2Header {
        source: src_mac,
        destination: dst_mac,
        ether_type: EtherType::IPV4,
    }
    .to_bytes()
    .to_vec();
    out.extend_from_slice(&ip.to_bytes());
    out.extend_from_slice(&tcp.to_bytes());
    assert_eq!(out.len(), RESET_LEN);
    out
}

/// Assert a conntrack entry's backend and state (and that it was touched
/// between `since` and now).
fn assert_ct(entry: &CtEntry, backend: (u32, Ipv4Addr, u16), state: u8, fins: u8, since: u64) {
    assert_eq!(
        (entry.backend_id, entry.backend_ip, entry.backend_port),
        (backend.0, backend.1.octets(), backend.2.to_be_bytes()),
        "conntrack backend of {entry:?}"
    );
    assert_eq!(
        (entry.state, entry.fins),
        (state, fins),
        "state of {entry:?}"
    );
    assert_eq!(entry.vni, VNI);
    let now = monotonic_now_ns();
    assert!(
        (since..=now).contains(&entry.last_seen_ns),
        "last_seen {} not in [{since}, {now}]",
        entry.last_seen_ns
    );
}

fn assert_rev_nat(entry: Option<ReplyEntry>, orig: (Ipv4Addr, u16)) {
    let entry = entry.expect("a reply entry");
    assert_eq!(entry.kind, REPLY_REV_NAT, "{entry:?}");
    assert_eq!(
        (entry.orig_ip, entry.orig_port),
        (orig.0.octets(), orig.1.to_be_bytes()),
        "{entry:?}"
    );
}

#[path = "lb_fixtures/dnat.rs"]
mod dnat;
#[path = "lb_fixtures/drain.rs"]
mod drain;
#[path = "lb_fixtures/egress.rs"]
mod egress;
#[path = "lb_fixtures/fuzz.rs"]
mod fuzz;
#[path = "lb_fixtures/isolation.rs"]
mod isolation;
#[path = "lb_fixtures/maglev.rs"]
mod maglev_pick;
#[path = "lb_fixtures/mesh.rs"]
mod mesh;
#[path = "lb_fixtures/refuse.rs"]
mod refuse;
