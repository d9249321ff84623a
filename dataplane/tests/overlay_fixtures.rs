//! Packet fixtures for the overlay data path: `shoal_task_tc` (what a task
//! sends: ARP answers, local delivery, VXLAN encapsulation, anti-spoofing)
//! and the VXLAN decapsulation in `shoal_underlay_tc`. Expected frames are
//! built independently with etherparse, never by the code under test.
//!
//! Task fixtures run in a private network namespace of the test thread, on
//! veth pairs standing in for the tasks' host-side veths: the program keys its
//! task table by `skb->ifindex`, which a test run takes from a real device.
//! Needs root: it loads the programs and runs them with `BPF_PROG_TEST_RUN`.
#![expect(
    clippy::unwrap_used,
    reason = "test setup: a failure to build a frame or a namespace should panic"
)]

mod support;

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    ArpEthIpv4Packet, ArpOperation, EtherType, Ethernet2Header, IpNumber, Ipv4Header, UdpHeader,
};
use shoal_common::{
    DropReason, Stat,
    overlay::{
        ENDPOINT_REMOTE, Endpoint, TaskIface, VXLAN_FLAG_VNI, VXLAN_OVERHEAD, VXLAN_PORT,
        vxlan_source_port,
    },
};
use support::{
    BROADCAST_MAC, ETH_LEN, ETH_MIN_FRAME, Fixture, Harness, IPV4_LEN, OverlayMaps, Pkt,
    PrivateNetns, Program,
};

// Network A and network B use the same subnet: only the VNI separates them.
const VNI_A: u32 = 0x12_34_56;
const VNI_B: u32 = 0x00_10_01;
const SUBNET: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 0);
const PREFIX: u8 = 24;

/// The task sending (network A), behind the device `task-a`.
const TASK_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const TASK_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x02];
const TASK_HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x00, 0x00, 0x00, 0x02];
/// A task on this node in network A.
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 3);
const PEER_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x03];
const PEER_HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x00, 0x00, 0x00, 0x03];
const PEER_IFINDEX: u32 = 4242;
/// A task on another node in network A.
const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 4);
const REMOTE_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x04];
/// An address in the subnet that only network B has (on another node).
const B_ONLY_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 9);
const B_ONLY_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x01, 0x00, 0x09];
/// A task in network B on this node, behind the device `task-b`.
const TASK_B_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const TASK_B_MAC: [u8; 6] = [0x02, 0x42, 0x0b, 0x01, 0x00, 0x02];
const TASK_B_HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x00, 0x00, 0x0b, 0x02];
/// In the subnet, no endpoint anywhere.
const NOBODY_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 200);
const OUTSIDE_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);

const THIS_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OTHER_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const THIRD_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// A node of the swarm that runs no task this node knows of (a peer only).
const TASKLESS_NODE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 4);
/// An underlay address that is no node of the swarm.
const STRANGER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);
const UNDERLAY_IFINDEX: u32 = 7;
const UNDERLAY_MAC: [u8; 6] = [0x02, 0xee, 0x00, 0x00, 0x00, 0x01];
const OTHER_NODE_MAC: [u8; 6] = [0x02, 0xee, 0x00, 0x00, 0x00, 0x02];
const CUSTOM_PORT: u16 = 4790;

const IPPROTO_TCP: u8 = 6;
const VXLAN_LEN: usize = 8;

/// The ifindexes of the test's stand-in devices.
#[derive(Clone, Copy)]
struct Devices {
    /// Host side of the network-A task.
    task_a: u32,
    /// Host side of the network-B task.
    task_b: u32,
}

fn task_iface() -> TaskIface {
    TaskIface {
        vni: VNI_A,
        ip: TASK_IP.octets(),
        mac: TASK_MAC,
        host_mac: TASK_HOST_MAC,
    }
}

fn task_b_iface() -> TaskIface {
    TaskIface {
        vni: VNI_B,
        ip: TASK_B_IP.octets(),
        mac: TASK_B_MAC,
        host_mac: TASK_B_HOST_MAC,
    }
}

/// The node with both networks, both tasks, a local peer, a remote task in
/// A, and B's only other address on a third node.
fn node(dev: Devices, port: u16) -> OverlayMaps {
    OverlayMaps::new()
        .node(UNDERLAY_IFINDEX, THIS_NODE, port)
        .network(VNI_A, SUBNET, PREFIX)
        .network(VNI_B, SUBNET, PREFIX)
        .task_iface(dev.task_a, task_iface())
        .task_iface(dev.task_b, task_b_iface())
        .local_endpoint(VNI_A, TASK_IP, TASK_MAC, dev.task_a, TASK_HOST_MAC)
        .local_endpoint(VNI_A, PEER_IP, PEER_MAC, PEER_IFINDEX, PEER_HOST_MAC)
        .remote_endpoint(VNI_A, REMOTE_IP, REMOTE_MAC, OTHER_NODE)
        .local_endpoint(VNI_B, TASK_B_IP, TASK_B_MAC, dev.task_b, TASK_B_HOST_MAC)
        .remote_endpoint(VNI_B, B_ONLY_IP, B_ONLY_MAC, THIRD_NODE)
}

fn default_node(dev: Devices) -> OverlayMaps {
    node(dev, VXLAN_PORT)
}

/// A frame from the network-A task: its MAC to its host-side MAC.
fn from_task(pkt: Pkt) -> Pkt {
    pkt.macs(TASK_MAC, TASK_HOST_MAC)
}

/// A fixture for a frame the network-A task sends.
fn on_task(fixture: Fixture, dev: Devices) -> Fixture {
    fixture.on_ifindex(dev.task_a)
}

/// The ARP reply a task should get: `wanted` is at `host_mac`.
fn arp_reply(host_mac: [u8; 6], wanted: Ipv4Addr, asker_mac: [u8; 6], asker: Ipv4Addr) -> Vec<u8> {
    let arp = ArpEthIpv4Packet {
        operation: ArpOperation::REPLY,
        sender_mac: host_mac,
        sender_ipv4: wanted.octets(),
        target_mac: asker_mac,
        target_ipv4: asker.octets(),
    };
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2(host_mac, asker_mac)
        .arp(arp.to_arp_packet())
        .write_to_vec(&mut out)
        .unwrap();
    out
}

/// `frame` with its Ethernet addresses replaced.
fn with_macs(frame: &[u8], src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[0..6].copy_from_slice(&dst);
    out[6..12].copy_from_slice(&src);
    out
}

/// The outer headers of a VXLAN frame.
#[derive(Clone)]
struct Outer {
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    ip_src: Ipv4Addr,
    ip_dst: Ipv4Addr,
    options: Vec<u8>,
    sport: u16,
    dport: u16,
    flags: u8,
    vni: u32,
}

impl Outer {
    /// VXLAN from the other node to this one, as a kernel vxlan device or
    /// another shoal node would send it.
    fn to_this_node(vni: u32) -> Self {
        Self {
            eth_src: OTHER_NODE_MAC,
            eth_dst: UNDERLAY_MAC,
            ip_src: OTHER_NODE,
            ip_dst: THIS_NODE,
            options: Vec::new(),
            sport: 51_234,
            dport: VXLAN_PORT,
            flags: VXLAN_FLAG_VNI,
            vni,
        }
    }

    fn vxlan_header(&self) -> [u8; VXLAN_LEN] {
        let vni = self.vni.to_be_bytes();
        assert_eq!(vni[0], 0, "VNIs have 24 bits");
        [self.flags, 0, 0, 0, vni[1], vni[2], vni[3], 0]
    }

    /// Ethernet/IPv4 (DF, ID 0, TTL 64, checksum by etherparse)/UDP
    /// (checksum 0) carrying `udp_payload`.
    fn udp_frame(&self, udp_payload: &[u8]) -> Vec<u8> {
        let udp_len = UdpHeader::LEN + udp_payload.len();
        let mut ip = Ipv4Header::new(
            u16::try_from(udp_len).unwrap(),
            64,
            IpNumber::UDP,
            self.ip_src.octets(),
            self.ip_dst.octets(),
        )
        .unwrap();
        ip.dont_fragment = true;
        ip.identification = 0;
        ip.options = self.options.as_slice().try_into().unwrap();
        ip.total_len = u16::try_from(ip.header_len() + udp_len).unwrap();
        ip.header_checksum = ip.calc_header_checksum();
        let udp = UdpHeader {
            source_port: self.sport,
            destination_port: self.dport,
            length: u16::try_from(udp_len).unwrap(),
            checksum: 0,
        };
        let eth = Ethernet2Header {
            source: self.eth_src,
            destination: self.eth_dst,
            ether_type: EtherType::IPV4,
        };
        let mut out = eth.to_bytes().to_vec();
        out.extend_from_slice(&ip.to_bytes());
        out.extend_from_slice(&udp.to_bytes());
        out.extend_from_slice(udp_payload);
        out
    }

    /// The whole VXLAN frame around `inner` (an Ethernet frame).
    fn wrap(&self, inner: &[u8]) -> Vec<u8> {
        let mut payload = self.vxlan_header().to_vec();
        payload.extend_from_slice(inner);
        self.udp_frame(&payload)
    }
}

/// What the task program must make of `input` (from the network-A task,
/// Ethernet/IPv4) for remote endpoint `ep_mac` on `node_ip`: RFC 7348 on
/// UDP `port`, the original Ethernet header in front, the IP packet
/// unchanged inside.
fn encapsulated(
    input: &[u8],
    iface: &TaskIface,
    ep_mac: [u8; 6],
    node_ip: Ipv4Addr,
    port: u16,
) -> Vec<u8> {
    let sliced = etherparse::SlicedPacket::from_ethernet(input).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = &sliced.net else {
        panic!("encapsulated() wants an IPv4 frame");
    };
    let (sport, dport) = match &sliced.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => (t.source_port(), t.destination_port()),
        Some(etherparse::TransportSlice::Udp(u)) => (u.source_port(), u.destination_port()),
        _ => (0, 0),
    };
    let h = ip.header();
    let src_port = vxlan_source_port(h.source(), h.destination(), sport, dport, h.protocol().0);
    let mut inner = Ethernet2Header {
        source: iface.mac,
        destination: ep_mac,
        ether_type: EtherType::IPV4,
    }
    .to_bytes()
    .to_vec();
    inner.extend_from_slice(&input[ETH_LEN..]);
    let outer = Outer {
        eth_src: input[6..12].try_into().unwrap(),
        eth_dst: input[0..6].try_into().unwrap(),
        ip_src: THIS_NODE,
        ip_dst: node_ip,
        options: Vec::new(),
        sport: src_port,
        dport: port,
        flags: VXLAN_FLAG_VNI,
        vni: iface.vni,
    };
    let out = outer.wrap(&inner);
    assert_eq!(out.len(), input.len() + VXLAN_OVERHEAD as usize);
    // The outer header checksum as etherparse verifies it.
    let outer_ip = etherparse::Ipv4HeaderSlice::from_slice(&out[ETH_LEN..]).unwrap();
    assert_eq!(
        outer_ip.header_checksum(),
        outer_ip.to_header().calc_header_checksum()
    );
    out
}

/// What decapsulation must make of a VXLAN frame for local endpoint
/// `ep_mac` (host side `host_mac`): the outer Ethernet header, readdressed,
/// then the inner IP packet.
fn decapsulated(vxlan_frame: &[u8], inner: &[u8], ep_mac: [u8; 6], host_mac: [u8; 6]) -> Vec<u8> {
    let mut out = with_macs(&vxlan_frame[..ETH_LEN], host_mac, ep_mac);
    out.extend_from_slice(&inner[ETH_LEN..]);
    out
}

fn arp_fixtures(dev: Devices) -> Vec<Fixture> {
    let ask = |target| from_task(Pkt::arp_request(TASK_IP, target)).macs(TASK_MAC, BROADCAST_MAC);
    let padded = ask(PEER_IP).pad_to(ETH_MIN_FRAME).build();
    let mut padded_reply = arp_reply(TASK_HOST_MAC, PEER_IP, TASK_MAC, TASK_IP);
    padded_reply.resize(ETH_MIN_FRAME, 0);
    vec![
        Fixture::redirect(
            "ARP who-has a local peer: answered in place, is-at the host-side MAC, back out to the task",
            ask(PEER_IP).build(),
            Stat::ArpReply,
        )
        .output(arp_reply(TASK_HOST_MAC, PEER_IP, TASK_MAC, TASK_IP)),
        Fixture::redirect(
            "ARP who-has a remote task: the same answer, the data plane decides later",
            ask(REMOTE_IP).build(),
            Stat::ArpReply,
        )
        .output(arp_reply(TASK_HOST_MAC, REMOTE_IP, TASK_MAC, TASK_IP)),
        Fixture::redirect(
            "ARP who-has an unused address in the subnet: answered too (no endpoint lookup)",
            ask(NOBODY_IP).build(),
            Stat::ArpReply,
        )
        .output(arp_reply(TASK_HOST_MAC, NOBODY_IP, TASK_MAC, TASK_IP)),
        Fixture::redirect(
            "ARP request padded to a 60-byte frame: answered, the padding stays",
            padded,
            Stat::ArpReply,
        )
        .output(padded_reply),
        Fixture::drop(
            "ARP who-has an address outside the task's subnet: not answered",
            ask(OUTSIDE_IP).build(),
            DropReason::ArpNotAnswered,
        ),
        Fixture::drop(
            "gratuitous ARP (who-has its own address): not answered",
            ask(TASK_IP).build(),
            DropReason::ArpNotAnswered,
        ),
        Fixture::drop(
            "ARP probe (RFC 5227: sender 0.0.0.0) for the task's own address: an answer would say it is taken",
            from_task(Pkt::arp_request(Ipv4Addr::UNSPECIFIED, TASK_IP))
                .macs(TASK_MAC, BROADCAST_MAC)
                .build(),
            DropReason::ArpNotAnswered,
        ),
        Fixture::drop(
            "ARP reply from the task: not a request, not answered",
            from_task(Pkt::arp_reply(TASK_IP, PEER_IP)).build(),
            DropReason::ArpNotAnswered,
        ),
        Fixture::drop(
            "ARP cut inside its header (frame ends 20 bytes in): not answered",
            ask(PEER_IP).truncate(ETH_LEN + 20).build(),
            DropReason::ArpNotAnswered,
        ),
    ]
    .into_iter()
    .map(|f| on_task(f.maps(default_node(dev)), dev))
    .chain([on_task(
        Fixture::drop(
            "ARP on a task interface whose network is not (yet) configured",
            ask(PEER_IP).build(),
            DropReason::UnknownVni,
        )
        .maps(OverlayMaps::new().task_iface(dev.task_a, task_iface())),
        dev,
    )])
    .collect()
}

fn local_fixtures(dev: Devices) -> Vec<Fixture> {
    let tcp = from_task(Pkt::tcp(TASK_IP, 40_000, PEER_IP, 80))
        .syn()
        .payload(b"GET /");
    let icmp = from_task(Pkt::icmp_echo(TASK_IP, PEER_IP)).payload(b"ping");
    let opts = from_task(Pkt::udp(TASK_IP, 5353, PEER_IP, 53))
        .ipv4_options(&[1, 1, 1, 0])
        .payload(b"q");
    let local = |desc, pkt: Pkt| {
        let input = pkt.build();
        let output = with_macs(&input, PEER_HOST_MAC, PEER_MAC);
        Fixture::redirect(desc, input, Stat::LocalDelivery).output(output)
    };
    vec![
        local(
            "TCP SYN to a task on this node: readdressed to the peer, redirected into its namespace",
            tcp.clone(),
        )
        .maps(default_node(dev)),
        local("ICMP echo to a task on this node", icmp).maps(default_node(dev)),
        local(
            "UDP with IPv4 options to a task on this node: options untouched",
            opts,
        )
        .maps(default_node(dev)),
        local(
            "local delivery needs no node settings (before dp apply wrote them)",
            tcp,
        )
        .maps(
            OverlayMaps::new()
                .task_iface(dev.task_a, task_iface())
                .local_endpoint(VNI_A, PEER_IP, PEER_MAC, PEER_IFINDEX, PEER_HOST_MAC),
        ),
    ]
    .into_iter()
    .map(|f| on_task(f, dev))
    .collect()
}

fn encap_fixtures(dev: Devices) -> Vec<Fixture> {
    let iface = task_iface();
    let remote = |desc, pkt: Pkt, port| {
        let input = pkt.build();
        let output = encapsulated(&input, &iface, REMOTE_MAC, OTHER_NODE, port);
        on_task(
            Fixture::redirect(desc, input, Stat::Encap)
                .output(output)
                .maps(node(dev, port)),
            dev,
        )
    };
    let udp = from_task(Pkt::udp(TASK_IP, 40_000, REMOTE_IP, 53)).payload(b"query");
    let tcp = from_task(Pkt::tcp(TASK_IP, 40_001, REMOTE_IP, 443))
        .syn()
        .payload(b"hello");
    let b_task = Pkt::udp(TASK_B_IP, 40_000, B_ONLY_IP, 53)
        .macs(TASK_B_MAC, TASK_B_HOST_MAC)
        .payload(b"b");
    let b_input = b_task.build();
    let b_output = encapsulated(
        &b_input,
        &task_b_iface(),
        B_ONLY_MAC,
        THIRD_NODE,
        VXLAN_PORT,
    );
    vec![
        remote(
            "UDP to a task on another node: VXLAN to its node on 4789, VNI of the network",
            udp.clone(),
            VXLAN_PORT,
        ),
        remote(
            "TCP SYN to a remote task on a custom data-path port (4790)",
            tcp,
            CUSTOM_PORT,
        ),
        remote(
            "ICMP echo to a remote task: no ports, source port from addresses and protocol",
            from_task(Pkt::icmp_echo(TASK_IP, REMOTE_IP)).payload(&[0x5a; 56]),
            VXLAN_PORT,
        ),
        remote(
            "UDP with IPv4 options to a remote task: the inner packet travels unchanged",
            udp.clone().ipv4_options(&[1; 8]),
            VXLAN_PORT,
        ),
        remote(
            "a non-first fragment to a remote task: no L4 ports, still encapsulated",
            from_task(Pkt::ipv4(TASK_IP, REMOTE_IP, IPPROTO_TCP))
                .payload(&[0xab; 32])
                .fragment(1480, false),
            VXLAN_PORT,
        ),
        remote(
            "the first fragment of a 4000-byte UDP datagram (offset 0, MF; the UDP length \
             covers the whole datagram): encapsulated, not malformed-l4",
            from_task(Pkt::udp(TASK_IP, 40_001, REMOTE_IP, 9))
                .payload(&[0x33; 1472])
                .fragment(0, true)
                .udp_len(4008),
            VXLAN_PORT,
        ),
        remote(
            "a short UDP frame padded to 60 bytes: the padding travels in the inner frame",
            from_task(Pkt::udp(TASK_IP, 1, REMOTE_IP, 2)).pad_to(ETH_MIN_FRAME),
            VXLAN_PORT,
        ),
        remote(
            "1400 bytes of payload to a remote task: lengths beyond one byte",
            from_task(Pkt::udp(TASK_IP, 40_000, REMOTE_IP, 9)).payload(&[0x11; 1400]),
            VXLAN_PORT,
        ),
        Fixture::redirect(
            "the network-B task to B's address: its own device, its own VNI on the wire",
            b_input,
            Stat::Encap,
        )
        .output(b_output)
        .maps(default_node(dev))
        .on_ifindex(dev.task_b),
        on_task(
            Fixture::drop(
                "remote destination before dp apply wrote the node settings",
                udp.build(),
                DropReason::NoNodeConfig,
            )
            .maps(
                OverlayMaps::new()
                    .network(VNI_A, SUBNET, PREFIX)
                    .task_iface(dev.task_a, task_iface())
                    .remote_endpoint(VNI_A, REMOTE_IP, REMOTE_MAC, OTHER_NODE),
            ),
            dev,
        ),
    ]
}

/// The WireGuard TAP device's ifindex in the encrypted fixtures.
const WG_IFINDEX: u32 = 4343;

/// Network A encrypted: a frame to a remote task is wrapped in VXLAN as
/// always but redirected to the WireGuard device, never to the underlay;
/// without that device it is dropped.
fn wg_steering_fixtures(dev: Devices) -> Vec<Fixture> {
    let iface = task_iface();
    let udp = from_task(Pkt::udp(TASK_IP, 40_000, REMOTE_IP, 53)).payload(b"secret");
    let input = udp.build();
    let output = encapsulated(&input, &iface, REMOTE_MAC, OTHER_NODE, VXLAN_PORT);
    let encrypted = || default_node(dev).encrypted(VNI_A);
    let b_input = Pkt::udp(TASK_B_IP, 40_000, B_ONLY_IP, 53)
        .macs(TASK_B_MAC, TASK_B_HOST_MAC)
        .payload(b"b")
        .build();
    let b_output = encapsulated(
        &b_input,
        &task_b_iface(),
        B_ONLY_MAC,
        THIRD_NODE,
        VXLAN_PORT,
    );
    vec![
        on_task(
            Fixture::redirect(
                "encrypted network: the VXLAN frame goes to the WireGuard device",
                input.clone(),
                Stat::WgEncap,
            )
            .output(output)
            .maps(encrypted().wg_ifindex(WG_IFINDEX)),
            dev,
        ),
        on_task(
            Fixture::drop(
                "encrypted network without a WireGuard device: dropped, never sent in clear",
                input,
                DropReason::NoWgDevice,
            )
            .maps(encrypted()),
            dev,
        ),
        Fixture::redirect(
            "the clear network B beside the encrypted A: plain VXLAN on the underlay",
            b_input,
            Stat::Encap,
        )
        .output(b_output)
        .maps(encrypted().wg_ifindex(WG_IFINDEX))
        .on_ifindex(dev.task_b),
    ]
}

fn task_drop_fixtures(dev: Devices) -> Vec<Fixture> {
    let udp_to = |dst| from_task(Pkt::udp(TASK_IP, 40_000, dst, 53)).payload(b"abcd");
    let drop = |desc, pkt: Pkt, reason| {
        on_task(
            Fixture::drop(desc, pkt.build(), reason).maps(default_node(dev)),
            dev,
        )
    };
    let odd_kind = Endpoint {
        kind: ENDPOINT_REMOTE + 1,
        ifindex: PEER_IFINDEX,
        node_ip: OTHER_NODE.octets(),
        mac: PEER_MAC,
        host_mac: PEER_HOST_MAC,
    };
    vec![
        drop(
            "a destination in the subnet with no endpoint",
            udp_to(NOBODY_IP),
            DropReason::UnknownEndpoint,
        ),
        drop(
            "a destination outside the subnet, on a network without egress (--internal)",
            udp_to(OUTSIDE_IP),
            DropReason::NoEgress,
        ),
        drop(
            "network isolation: an address that exists only in network B, asked from network A",
            udp_to(B_ONLY_IP),
            DropReason::UnknownEndpoint,
        ),
        drop(
            "a source address that is not the task's own (a peer's)",
            from_task(Pkt::udp(PEER_IP, 40_000, REMOTE_IP, 53)),
            DropReason::SpoofedSource,
        ),
        drop(
            "a spoofed source to a local peer: checked before any lookup",
            from_task(Pkt::tcp(OUTSIDE_IP, 1, PEER_IP, 80)),
            DropReason::SpoofedSource,
        ),
        drop(
            "IPv6: the overlay is IPv4-only",
            Pkt::udp6(
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2),
                40_000,
                Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3),
                53,
            )
            .macs(TASK_MAC, TASK_HOST_MAC),
            DropReason::UnsupportedL3,
        ),
        drop(
            "an unknown ethertype (0x88b5, local experimental)",
            udp_to(PEER_IP).ethertype(0x88b5),
            DropReason::UnsupportedL3,
        ),
        drop(
            "IPv4 with IHL 4",
            udp_to(PEER_IP).ipv4_ihl(4),
            DropReason::MalformedIpv4,
        ),
        drop(
            "an IPv6 packet labelled IPv4",
            Pkt::udp6(Ipv6Addr::LOCALHOST, 1, Ipv6Addr::LOCALHOST, 2)
                .macs(TASK_MAC, TASK_HOST_MAC)
                .ethertype(0x0800),
            DropReason::MalformedIpv4,
        ),
        drop(
            "IPv4 total length past the end of the frame",
            udp_to(REMOTE_IP).ipv4_total_len(200),
            DropReason::TruncatedIpv4,
        ),
        drop(
            "IHL 7 but the frame ends inside the options",
            udp_to(REMOTE_IP)
                .ipv4_options(&[1; 8])
                .truncate(ETH_LEN + IPV4_LEN + 4),
            DropReason::TruncatedIpv4,
        ),
        drop(
            "TCP header cut to 10 bytes",
            from_task(Pkt::tcp(TASK_IP, 1, REMOTE_IP, 2)).truncate_l4(10),
            DropReason::TruncatedL4,
        ),
        drop(
            "UDP length past the IP payload",
            udp_to(REMOTE_IP).udp_len(100),
            DropReason::MalformedL4,
        ),
        on_task(
            Fixture::drop(
                "an endpoint of neither kind: not forwarded",
                udp_to(PEER_IP).build(),
                DropReason::UnknownEndpoint,
            )
            .maps(
                OverlayMaps::new()
                    .node(UNDERLAY_IFINDEX, THIS_NODE, VXLAN_PORT)
                    .task_iface(dev.task_a, task_iface())
                    .endpoint(VNI_A, PEER_IP, odd_kind),
            ),
            dev,
        ),
        Fixture::drop(
            "a frame on a device with no task record (the loopback, while task-a has one)",
            udp_to(PEER_IP).build(),
            DropReason::NoTaskIface,
        )
        .maps(default_node(dev))
        .on_ifindex(1),
        on_task(
            Fixture::drop(
                "a frame on a task device before dp apply wrote anything",
                udp_to(PEER_IP).build(),
                DropReason::NoTaskIface,
            ),
            dev,
        ),
        Fixture::drop(
            "ARP on a device with no task record: nothing is answered",
            Pkt::arp_request(TASK_IP, PEER_IP).build(),
            DropReason::NoTaskIface,
        )
        .maps(default_node(dev))
        .on_ifindex(1),
    ]
}

/// Frames for the VXLAN receive path: the inner packets other nodes send.
fn decap_fixtures() -> Vec<Fixture> {
    let dev = Devices {
        task_a: PEER_IFINDEX,
        task_b: PEER_IFINDEX + 1,
    };
    let maps = || default_node(dev);
    let inner_to = |dst| {
        Pkt::udp(REMOTE_IP, 40_000, dst, 53)
            .macs(REMOTE_MAC, PEER_MAC)
            .payload(b"answer")
    };
    let good_inner = inner_to(PEER_IP).build();
    let outer = Outer::to_this_node(VNI_A);
    let good = outer.wrap(&good_inner);
    let decap_to = |desc, outer: &Outer, inner: &[u8], ep_mac, host_mac| {
        let input = outer.wrap(inner);
        let output = decapsulated(&input, inner, ep_mac, host_mac);
        let delivered = output.len();
        Fixture::redirect(desc, input, Stat::Decap)
            .output(output)
            .counter_bytes(Stat::Decap, delivered)
            .maps(maps())
    };
    let decap =
        |desc, outer: &Outer, inner: &[u8]| decap_to(desc, outer, inner, PEER_MAC, PEER_HOST_MAC);
    let pass = |desc, input: Vec<u8>| Fixture::pass(desc, input).maps(maps());
    let drop = |desc, input: Vec<u8>, reason| Fixture::drop(desc, input, reason).maps(maps());
    let with = |edit: &dyn Fn(&mut Outer)| {
        let mut o = outer.clone();
        edit(&mut o);
        o
    };
    let vxlan_hdr = outer.vxlan_header();
    let mut cut_inner_eth = vxlan_hdr.to_vec();
    cut_inner_eth.extend_from_slice(&good_inner[..10]);
    let tcp_inner = Pkt::tcp(REMOTE_IP, 40_000, TASK_IP, 22)
        .macs(REMOTE_MAC, TASK_MAC)
        .syn()
        .build();
    vec![
        decap(
            "VXLAN for a local task: unwrapped, readdressed, into the task's namespace",
            &outer,
            &good_inner,
        ),
        decap_to(
            "VXLAN for another local task, TCP inside",
            &outer,
            &tcp_inner,
            TASK_MAC,
            TASK_HOST_MAC,
        ),
        decap(
            "outer IPv4 with 8 bytes of options: all of the outer headers go",
            &with(&|o| o.options = vec![1; 8]),
            &good_inner,
        )
        .counts(Stat::Ipv4Options),
        decap(
            "inner IPv4 with options: the inner packet is delivered unchanged",
            &outer,
            &inner_to(PEER_IP).ipv4_options(&[1, 1, 1, 0]).build(),
        ),
        decap(
            "VXLAN with reserved bits set: only the I flag matters",
            &with(&|o| o.flags = VXLAN_FLAG_VNI | 0x04),
            &good_inner,
        ),
        decap(
            "VXLAN from the third node (a peer through its remote endpoint): unwrapped",
            &with(&|o| o.ip_src = THIRD_NODE),
            &good_inner,
        ),
        decap(
            "VXLAN from a node with no tasks here, listed as a peer: unwrapped",
            &with(&|o| o.ip_src = TASKLESS_NODE),
            &good_inner,
        )
        .maps(maps().peer(TASKLESS_NODE)),
        drop(
            "VXLAN for a local task from an address that is no peer: dropped untouched",
            with(&|o| o.ip_src = STRANGER).wrap(&good_inner),
            DropReason::UnknownPeer,
        ),
        drop(
            "VXLAN from a node with no tasks here that is not listed as a peer",
            with(&|o| o.ip_src = TASKLESS_NODE).wrap(&good_inner),
            DropReason::UnknownPeer,
        ),
        pass(
            "VXLAN to another underlay address: not for this node, passed",
            with(&|o| o.ip_dst = THIRD_NODE).wrap(&good_inner),
        ),
        pass(
            "VXLAN to this node on another port (4790 while 4789 is configured): passed",
            with(&|o| o.dport = CUSTOM_PORT).wrap(&good_inner),
        ),
        Fixture::pass(
            "VXLAN before dp apply wrote the node settings: passed to the stack",
            good.clone(),
        )
        .maps(
            OverlayMaps::new()
                .network(VNI_A, SUBNET, PREFIX)
                .local_endpoint(VNI_A, PEER_IP, PEER_MAC, PEER_IFINDEX, PEER_HOST_MAC),
        ),
        drop(
            "VXLAN for a VNI this node has no network for",
            with(&|o| o.vni = 0x00_77_77).wrap(&good_inner),
            DropReason::UnknownVni,
        ),
        drop(
            "VXLAN without the I flag",
            with(&|o| o.flags = 0).wrap(&good_inner),
            DropReason::MalformedVxlan,
        ),
        drop(
            "UDP payload of 4 bytes: the VXLAN header is cut short",
            outer.udp_frame(&vxlan_hdr[..4]),
            DropReason::MalformedVxlan,
        ),
        drop(
            "VXLAN header, then 10 bytes of inner Ethernet",
            outer.udp_frame(&cut_inner_eth),
            DropReason::MalformedVxlan,
        ),
        drop(
            "inner Ethernet, then 10 bytes of IPv4",
            outer.wrap(&good_inner[..ETH_LEN + 10]),
            DropReason::TruncatedIpv4,
        ),
        drop(
            "inner IPv4 whose total length runs past the frame",
            outer.wrap(&inner_to(PEER_IP).ipv4_total_len(300).build()),
            DropReason::TruncatedIpv4,
        ),
        drop(
            "inner IPv4 with IHL 4",
            outer.wrap(&inner_to(PEER_IP).ipv4_ihl(4).build()),
            DropReason::MalformedIpv4,
        ),
        drop(
            "inner TCP header cut to 8 bytes",
            outer.wrap(
                &Pkt::tcp(REMOTE_IP, 1, PEER_IP, 2)
                    .macs(REMOTE_MAC, PEER_MAC)
                    .truncate_l4(8)
                    .build(),
            ),
            DropReason::TruncatedL4,
        ),
        drop(
            "inner ARP: the overlay carries IPv4 only",
            outer.wrap(&Pkt::arp_request(REMOTE_IP, PEER_IP).build()),
            DropReason::UnsupportedL3,
        ),
        drop(
            "inner destination with no endpoint",
            outer.wrap(&inner_to(NOBODY_IP).build()),
            DropReason::UnknownEndpoint,
        ),
        drop(
            "inner destination that lives on another node: never sent back out",
            outer.wrap(&inner_to(REMOTE_IP).build()),
            DropReason::UnknownEndpoint,
        ),
        drop(
            "network isolation: VNI B carrying a packet for an address only network A has here",
            with(&|o| o.vni = VNI_B).wrap(&good_inner),
            DropReason::UnknownEndpoint,
        ),
    ]
}

#[test]
fn task_fixtures() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = Devices {
        task_a: netns.add_veth("task-a").unwrap(),
        task_b: netns.add_veth("task-b").unwrap(),
    };
    assert!(dev.task_a > 1 && dev.task_b != dev.task_a);
    let mut harness = Harness::load();
    let fixtures: Vec<Fixture> = [
        arp_fixtures(dev),
        local_fixtures(dev),
        encap_fixtures(dev),
        wg_steering_fixtures(dev),
        task_drop_fixtures(dev),
    ]
    .into_iter()
    .flatten()
    .collect();
    harness.run_table(&[Program::TaskTc], &fixtures);
}

#[test]
fn decap_fixtures_on_underlay_tc() {
    let mut harness = Harness::load();
    harness.run_table(&[Program::UnderlayTc], &decap_fixtures());
}

/// Network A encrypted: clear VXLAN for it on the underlay is dropped; the
/// same frame written back by the WireGuard worker (on the TAP device's
/// program) is unwrapped and delivered; clear network B is unaffected.
#[test]
fn encrypted_vni_fixtures() {
    let dev = Devices {
        task_a: PEER_IFINDEX,
        task_b: PEER_IFINDEX + 1,
    };
    let maps = || default_node(dev).encrypted(VNI_A).wg_ifindex(WG_IFINDEX);
    let inner = Pkt::udp(REMOTE_IP, 40_000, PEER_IP, 53)
        .macs(REMOTE_MAC, PEER_MAC)
        .payload(b"answer")
        .build();
    let frame = Outer::to_this_node(VNI_A).wrap(&inner);
    let delivered = decapsulated(&frame, &inner, PEER_MAC, PEER_HOST_MAC);
    let b_inner = Pkt::udp(B_ONLY_IP, 40_000, TASK_B_IP, 53)
        .macs(B_ONLY_MAC, TASK_B_MAC)
        .payload(b"b")
        .build();
    let b_frame = Outer::to_this_node(VNI_B).wrap(&b_inner);
    let b_delivered = decapsulated(&b_frame, &b_inner, TASK_B_MAC, TASK_B_HOST_MAC);
    let mut harness = Harness::load();
    harness.run_table(
        &[Program::UnderlayTc],
        &[
            Fixture::drop(
                "clear VXLAN on the underlay for an encrypted VNI: dropped and counted",
                frame.clone(),
                DropReason::ClearOnEncrypted,
            )
            .maps(maps()),
            Fixture::redirect(
                "clear VXLAN for the clear network B beside it: delivered",
                b_frame,
                Stat::Decap,
            )
            .counter_bytes(Stat::Decap, b_delivered.len())
            .output(b_delivered)
            .maps(maps()),
        ],
    );
    harness.run_table(
        &[Program::WgTc],
        &[Fixture::redirect(
            "the same frame out of WireGuard (TAP device): unwrapped and delivered",
            frame,
            Stat::Decap,
        )
        .counter_bytes(Stat::Decap, delivered.len())
        .output(delivered)
        .maps(maps())],
    );
}

/// The program's VXLAN output read back by etherparse, field by field: a
/// second opinion on the byte-exact fixtures (a frame etherparse cannot
/// parse as Ethernet/IPv4/UDP would fail here with a clearer message).
#[test]
fn encapsulated_frame_parses_as_vxlan() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = Devices {
        task_a: netns.add_veth("task-a").unwrap(),
        task_b: netns.add_veth("task-b").unwrap(),
    };
    let input = from_task(Pkt::tcp(TASK_IP, 40_000, REMOTE_IP, 443))
        .syn()
        .build();
    let expected = encapsulated(&input, &task_iface(), REMOTE_MAC, OTHER_NODE, VXLAN_PORT);
    let fixture = on_task(
        Fixture::redirect("probe", input.clone(), Stat::Encap)
            .output(expected.clone())
            .maps(default_node(dev)),
        dev,
    );
    let mut harness = Harness::load();
    harness.run(&fixture, Program::TaskTc).unwrap();

    let outer = etherparse::SlicedPacket::from_ethernet(&expected).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = outer.net else {
        panic!("outer not IPv4")
    };
    let h = ip.header();
    assert!(h.dont_fragment() && !h.more_fragments());
    assert_eq!((h.identification(), h.ttl()), (0, 64));
    assert_eq!(h.source_addr(), THIS_NODE);
    assert_eq!(h.destination_addr(), OTHER_NODE);
    let Some(etherparse::TransportSlice::Udp(udp)) = outer.transport else {
        panic!("outer not UDP")
    };
    assert_eq!(udp.destination_port(), VXLAN_PORT);
    assert_eq!(udp.checksum(), 0);
    assert!((0xc000..=0xffff).contains(&udp.source_port()));
    let vxlan = udp.payload();
    assert_eq!(vxlan[0], VXLAN_FLAG_VNI);
    assert_eq!(vxlan[4..7], VNI_A.to_be_bytes()[1..]);
    let inner = etherparse::SlicedPacket::from_ethernet(&vxlan[VXLAN_LEN..]).unwrap();
    let Some(etherparse::LinkSlice::Ethernet2(eth)) = inner.link else {
        panic!("no inner Ethernet")
    };
    assert_eq!((eth.destination(), eth.source()), (REMOTE_MAC, TASK_MAC));
    assert_eq!(&vxlan[VXLAN_LEN + ETH_LEN..], &input[ETH_LEN..]);
}
