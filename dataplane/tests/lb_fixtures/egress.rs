//! Egress: source NAT of a task's traffic to outside the cluster
//! (`shoal_task_tc`), reverse NAT of the replies arriving on the underlay
//! (`shoal_underlay_tc`), the node's own address, `--internal` networks.
//!
//! ```text
//!   task 10.1.0.2:40000 ─► shoal_task_tc: src → 192.0.2.1:P ─► underlay ─► world 198.51.100.7:80
//!   task 10.1.0.2:40000 ◄─ redirect_peer ◄─ shoal_underlay_tc: dst → task ◄─ world's reply to :P
//! ```
//!
//! P is the task's own port when the node can spare it; otherwise (and
//! for ICMP echo identifiers) the first port the flow's hash picks in
//! 61000-65535 (the maps start empty), computed here from the shared hash.

use shoal_common::{
    egress::nat_port,
    lb::{PROTO_TCP as TCP, PROTO_UDP, flow_hash},
};

use super::*;

const WORLD: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const ICMP: u8 = 1;

fn overlay(dev: Devices, egress: bool) -> OverlayMaps {
    let maps = node(dev, &[]);
    if egress { maps.egress(VNI) } else { maps }
}

/// The NAT port the client's fresh flow gets from the range (first probe).
fn first_port(sport: u16, dst: Ipv4Addr, dport: u16, proto: u8) -> u16 {
    first_port_of(CLIENT, sport, dst, dport, proto)
}

/// The NAT port task `src`'s fresh flow gets from the range (first probe).
fn first_port_of(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, proto: u8) -> u16 {
    let hash = flow_hash(src.octets(), dst.octets(), sport, dport, proto) ^ VNI;
    nat_port(hash)
}

#[test]
fn tcp_to_the_world_leaves_with_the_node_address_and_replies_come_back() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(
        &mut harness,
        "TCP egress",
        (overlay(dev, true), LbMaps::new()),
    );
    let port = 40_000;

    let out = sc.run(
        Program::TaskTc,
        &Fixture::redirect(
            "SYN to a world address: source NAT to the node's address, the task's own port kept",
            from_client(Pkt::tcp(CLIENT, 40_000, WORLD, 80))
                .syn()
                .build(),
            Stat::Snat,
        )
        .output(
            from_client(Pkt::tcp(THIS_NODE, port, WORLD, 80))
                .syn()
                .build(),
        )
        .on_ifindex(dev.client),
    );
    assert_checksums(&out, false);
    let key = flow_key(VNI, CLIENT, 40_000, WORLD, 80, TCP);
    let entry = LbMaps::snat(sc.ebpf(), &key).expect("a forward entry");
    assert_eq!(
        (entry.nat_port, entry.state),
        (port.to_be_bytes(), CT_SYN_SENT)
    );
    let rkey = flow_key(0, WORLD, 80, THIS_NODE, port, TCP);
    let rev = LbMaps::snat_rev(sc.ebpf(), &rkey).expect("a reverse entry");
    assert_eq!(
        (rev.task_ip, rev.task_port, rev.vni),
        (CLIENT.octets(), 40_000u16.to_be_bytes(), VNI)
    );

    let out = sc.run(
        Program::UnderlayTc,
        &Fixture::redirect(
            "the world's SYN-ACK to the NAT port: back to the task's address and port, \
             into the task",
            from_router(Pkt::tcp(WORLD, 80, THIS_NODE, port))
                .syn()
                .ack(1_001)
                .build(),
            Stat::RevSnat,
        )
        .output(
            to_client(Pkt::tcp(WORLD, 80, CLIENT, 40_000))
                .syn()
                .ack(1_001)
                .build(),
        ),
    );
    assert_checksums(&out, false);
    let entry = LbMaps::snat(sc.ebpf(), &key).expect("the forward entry");
    assert_eq!(entry.state, CT_ESTABLISHED, "the reply advanced the flow");

    sc.run(
        Program::UnderlayTc,
        &Fixture::pass(
            "the same segment to another port of the node: not a reply, the node's own",
            from_router(Pkt::tcp(WORLD, 80, THIS_NODE, port + 1))
                .syn()
                .ack(1_001)
                .build(),
        ),
    );
}

#[test]
fn icmp_echo_to_the_world_is_translated_both_ways() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(
        &mut harness,
        "ICMP egress",
        (overlay(dev, true), LbMaps::new()),
    );
    let id = first_port(7, WORLD, 0, ICMP);

    sc.run(
        Program::TaskTc,
        &Fixture::redirect(
            "echo request id 7: the node's address and a NAT identifier",
            from_client(Pkt::icmp_echo_id(CLIENT, WORLD, 7)).build(),
            Stat::Snat,
        )
        .output(from_client(Pkt::icmp_echo_id(THIS_NODE, WORLD, id)).build())
        .on_ifindex(dev.client),
    );
    sc.run(
        Program::UnderlayTc,
        &Fixture::redirect(
            "echo reply to the NAT identifier: back to the task with id 7",
            from_router(Pkt::icmp_echo_reply(WORLD, THIS_NODE, id)).build(),
            Stat::RevSnat,
        )
        .output(to_client(Pkt::icmp_echo_reply(WORLD, CLIENT, 7)).build()),
    );
    sc.run(
        Program::UnderlayTc,
        &Fixture::pass(
            "an echo reply with another identifier is the node's",
            from_router(Pkt::icmp_echo_reply(WORLD, THIS_NODE, id ^ 1)).build(),
        ),
    );
}

#[test]
fn internal_networks_have_no_egress_and_the_node_itself_is_reachable() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let internal = [Fixture::drop(
        "a task of an --internal network sends to the world: no-egress",
        from_client(Pkt::tcp(CLIENT, 40_001, WORLD, 80))
            .syn()
            .build(),
        DropReason::NoEgress,
    )
    .on_ifindex(dev.client)
    .maps((overlay(dev, false), LbMaps::new()))];
    harness.run_table(&[Program::TaskTc], &internal);

    let syn_to_node = from_client(Pkt::tcp(CLIENT, 40_002, THIS_NODE, 22)).syn();
    let allowed = [
        Fixture::pass(
            "a task calls its own node: to the node's stack, untranslated",
            syn_to_node.build(),
        )
        .counts(Stat::ToHost)
        .output(syn_to_node.build())
        .on_ifindex(dev.client)
        .maps((overlay(dev, true), LbMaps::new())),
        Fixture::drop(
            "an address of the task's own subnet that no task has is no way out",
            from_client(Pkt::tcp(CLIENT, 40_003, Ipv4Addr::new(10, 1, 0, 99), 80))
                .syn()
                .build(),
            DropReason::UnknownEndpoint,
        )
        .on_ifindex(dev.client)
        .maps((overlay(dev, true), LbMaps::new())),
    ];
    harness.run_table(&[Program::TaskTc], &allowed);
}

/// An ICMP "port unreachable" from `from` to `to` quoting `quote` (the
/// offending packet's IPv4 header and first 8 L4 bytes).
fn port_unreachable(from: Ipv4Addr, to: Ipv4Addr, quote: &[u8]) -> Pkt {
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(quote);
    let sum = support::builder::internet_checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    Pkt::ipv4(from, to, ICMP).payload(&icmp)
}

/// The IPv4 header and 8 L4 bytes of a frame.
fn quote_of(frame: &[u8]) -> Vec<u8> {
    frame[ETH_LEN..ETH_LEN + 28].to_vec()
}

#[test]
fn an_icmp_error_about_an_egress_flow_reaches_the_task_translated() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(
        &mut harness,
        "ICMP error",
        (overlay(dev, true), LbMaps::new()),
    );
    let port = 41_000;
    let sent = Pkt::udp(THIS_NODE, port, WORLD, 53).payload(b"query");
    sc.run(
        Program::TaskTc,
        &Fixture::redirect(
            "a datagram to the world's port 53: translated (its port kept)",
            from_client(Pkt::udp(CLIENT, 41_000, WORLD, 53))
                .payload(b"query")
                .build(),
            Stat::Snat,
        )
        .output(from_client(sent.clone()).build())
        .on_ifindex(dev.client),
    );
    // What the task sent, as it sent it; the quoted UDP checksum is left
    // as it was (receivers do not check it).
    let mut want_quote = quote_of(
        &Pkt::udp(CLIENT, 41_000, WORLD, 53)
            .payload(b"query")
            .build(),
    );
    let got_quote = quote_of(&sent.build());
    want_quote[26..28].copy_from_slice(&got_quote[26..28]);
    sc.run(
        Program::UnderlayTc,
        &Fixture::redirect(
            "the world's port unreachable about it: to the task, quoting the task's packet",
            from_router(port_unreachable(WORLD, THIS_NODE, &got_quote)).build(),
            Stat::RevSnat,
        )
        .output(to_client(port_unreachable(WORLD, CLIENT, &want_quote)).build()),
    );
    sc.run(
        Program::UnderlayTc,
        &Fixture::pass(
            "one quoting another NAT port is the node's",
            from_router(port_unreachable(
                WORLD,
                THIS_NODE,
                &quote_of(&Pkt::udp(THIS_NODE, port ^ 1, WORLD, 53).build()),
            ))
            .build(),
        ),
    );
}

#[test]
fn a_port_held_by_another_task_or_by_the_node_comes_from_the_nat_range() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    // The node's own sockets on the ports the tasks will use next.
    let _tcp = std::net::TcpListener::bind("0.0.0.0:40001").expect("a TCP listener");
    let _udp = std::net::UdpSocket::bind("0.0.0.0:40002").expect("a UDP socket");
    let mut harness = Harness::load();
    let mut sc = Scenario::start(
        &mut harness,
        "NAT port choice",
        (overlay(dev, true), LbMaps::new()),
    );
    sc.run(
        Program::TaskTc,
        &Fixture::redirect(
            "the client's SYN from port 40000: its port kept",
            from_client(Pkt::tcp(CLIENT, 40_000, WORLD, 80))
                .syn()
                .build(),
            Stat::Snat,
        )
        .output(
            from_client(Pkt::tcp(THIS_NODE, 40_000, WORLD, 80))
                .syn()
                .build(),
        )
        .on_ifindex(dev.client),
    );
    let other = first_port_of(BE1, 40_000, WORLD, 80, TCP);
    sc.run(
        Program::TaskTc,
        &Fixture::redirect(
            "another task's SYN from the same port to the same server: a port of the range",
            from_be1(Pkt::tcp(BE1, 40_000, WORLD, 80)).syn().build(),
            Stat::Snat,
        )
        .output(
            from_be1(Pkt::tcp(THIS_NODE, other, WORLD, 80))
                .syn()
                .build(),
        )
        .on_ifindex(dev.backend),
    );
    let tcp = first_port(40_001, WORLD, 80, TCP);
    sc.run(
        Program::TaskTc,
        &Fixture::redirect(
            "a SYN from a port the node listens on: a port of the range",
            from_client(Pkt::tcp(CLIENT, 40_001, WORLD, 80))
                .syn()
                .build(),
            Stat::Snat,
        )
        .output(
            from_client(Pkt::tcp(THIS_NODE, tcp, WORLD, 80))
                .syn()
                .build(),
        )
        .on_ifindex(dev.client),
    );
    let udp = first_port(40_002, WORLD, 53, PROTO_UDP);
    sc.run(
        Program::TaskTc,
        &Fixture::redirect(
            "a datagram from a port a node socket is bound to: a port of the range",
            from_client(Pkt::udp(CLIENT, 40_002, WORLD, 53))
                .payload(b"q")
                .build(),
            Stat::Snat,
        )
        .output(
            from_client(Pkt::udp(THIS_NODE, udp, WORLD, 53))
                .payload(b"q")
                .build(),
        )
        .on_ifindex(dev.client),
    );
}

#[test]
fn a_syn_reusing_a_closed_flows_ports_starts_a_new_connection_on_the_same_port() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(
        &mut harness,
        "port reuse",
        (overlay(dev, true), LbMaps::new()),
    );
    let syn = || {
        from_client(Pkt::tcp(CLIENT, 40_000, WORLD, 80))
            .syn()
            .build()
    };
    let nat_syn = || {
        from_client(Pkt::tcp(THIS_NODE, 40_000, WORLD, 80))
            .syn()
            .build()
    };
    sc.run(
        Program::TaskTc,
        &Fixture::redirect("first connection", syn(), Stat::Snat)
            .output(nat_syn())
            .on_ifindex(dev.client),
    );
    sc.run(
        Program::TaskTc,
        &Fixture::redirect(
            "the task resets it",
            from_client(Pkt::tcp(CLIENT, 40_000, WORLD, 80))
                .rst()
                .build(),
            Stat::Snat,
        )
        .output(
            from_client(Pkt::tcp(THIS_NODE, 40_000, WORLD, 80))
                .rst()
                .build(),
        )
        .on_ifindex(dev.client),
    );
    let key = flow_key(VNI, CLIENT, 40_000, WORLD, 80, TCP);
    let entry = LbMaps::snat(sc.ebpf(), &key).expect("the forward entry");
    assert_eq!(entry.state, CT_CLOSING, "a reset closes the flow");
    sc.run(
        Program::TaskTc,
        &Fixture::redirect("a new SYN on the same ports", syn(), Stat::Snat)
            .output(nat_syn())
            .on_ifindex(dev.client),
    );
    let entry = LbMaps::snat(sc.ebpf(), &key).expect("the forward entry");
    assert_eq!(
        (entry.state, entry.fins),
        (CT_SYN_SENT, 0),
        "tracked as a new connection"
    );
}
