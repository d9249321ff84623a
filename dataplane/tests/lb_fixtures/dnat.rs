//! A task to a VIP: DNAT, conntrack, reverse NAT of the replies, TCP
//! states; malformed and fragmented packets to a VIP.
//!
//! Checksums: a test run's skb is never CHECKSUM_PARTIAL or
//! CHECKSUM_COMPLETE (`__sk_buff` offers no `ip_summed`), so the fixtures
//! see the full checksum arithmetic but not `BPF_F_PSEUDO_HDR`'s effect on
//! offloaded checksums; removing that flag survives them. The labs' real
//! TCP through veths and VXLAN cover it.

use super::*;

fn web_syn(sport: u16) -> Pkt {
    from_client(Pkt::tcp(CLIENT, sport, VIP, WEB)).syn()
}

fn setup(dev: Devices) -> (OverlayMaps, LbMaps) {
    (node(dev, &[]), services())
}

#[test]
fn dnat_tcp_syn_then_conntrack_hit() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "TCP to a VIP", setup(dev));
    let since = monotonic_now_ns();

    let input = web_syn(40_000).payload(b"GET");
    let expected = to_be1(Pkt::tcp(CLIENT, 40_000, BE1, TARGET_WEB))
        .syn()
        .payload(b"GET");
    let out = sc.run(
        Program::TaskTc,
        &dnat(
            "SYN to VIP:80: DNAT to backend 10.1.0.11:8080, new flow, delivered",
            input,
            expected,
            true,
        )
        .on_ifindex(dev.client),
    );
    assert_checksums(&out, false);
    let key = flow_key(VNI, CLIENT, 40_000, VIP, WEB, PROTO_TCP);
    let ct = sc.ct(&key);
    assert_ct(&ct, (ID_BE1_WEB, BE1, TARGET_WEB), CT_SYN_SENT, 0, since);
    let reply_key = flow_key(VNI, BE1, TARGET_WEB, CLIENT, 40_000, PROTO_TCP);
    assert_rev_nat(sc.reply(&reply_key), (VIP, WEB));
    assert!(sc.reply(&reversed(&key)).is_none(), "keyed by the backend");

    let ack = from_client(Pkt::tcp(CLIENT, 40_000, VIP, WEB))
        .seq(1_001)
        .ack(5_001)
        .payload(b"more");
    let expected = to_be1(Pkt::tcp(CLIENT, 40_000, BE1, TARGET_WEB))
        .seq(1_001)
        .ack(5_001)
        .payload(b"more");
    let out = sc.run(
        Program::TaskTc,
        &dnat(
            "second packet of the flow: conntrack hit, no new flow",
            ack,
            expected,
            false,
        )
        .on_ifindex(dev.client),
    );
    assert_checksums(&out, false);
    let ct2 = sc.ct(&key);
    assert_ct(
        &ct2,
        (ID_BE1_WEB, BE1, TARGET_WEB),
        CT_SYN_SENT,
        0,
        ct.last_seen_ns,
    );
    assert_eq!(LbMaps::conntrack_len(sc.ebpf()), 1);
}

#[test]
fn dnat_udp_and_zero_checksum() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "UDP to a VIP", setup(dev));
    let since = monotonic_now_ns();

    let query = |sport| from_client(Pkt::udp(CLIENT, sport, VIP, DNS)).payload(b"query");
    let answer_to = |sport| to_be1(Pkt::udp(CLIENT, sport, BE1, TARGET_DNS)).payload(b"query");
    let out = sc.run(
        Program::TaskTc,
        &dnat(
            "UDP to VIP:53: DNAT to 10.1.0.11:5353, checksum updated",
            query(41_000),
            answer_to(41_000),
            true,
        )
        .on_ifindex(dev.client),
    );
    assert_checksums(&out, false);
    let key = flow_key(VNI, CLIENT, 41_000, VIP, DNS, PROTO_UDP);
    assert_ct(
        &sc.ct(&key),
        (ID_BE1_DNS, BE1, TARGET_DNS),
        CT_DATAGRAM,
        0,
        since,
    );
    let reply_key = flow_key(VNI, BE1, TARGET_DNS, CLIENT, 41_000, PROTO_UDP);
    assert_rev_nat(sc.reply(&reply_key), (VIP, DNS));

    let out = sc.run(
        Program::TaskTc,
        &dnat(
            "UDP with checksum 0 (none): DNAT, the checksum stays 0",
            query(41_001).udp_checksum(0),
            answer_to(41_001).udp_checksum(0),
            true,
        )
        .on_ifindex(dev.client),
    );
    assert_checksums(&out, true);

    sc.run(
        Program::TaskTc,
        &dnat(
            "second datagram of the first flow: conntrack hit",
            query(41_000),
            answer_to(41_000),
            false,
        )
        .on_ifindex(dev.client),
    );
    assert_eq!(sc.ct(&key).state, CT_DATAGRAM);
}

/// A segment of the flow `sport` as the client sends it and as the backend
/// gets it.
fn client_seg(sport: u16, f: impl Fn(Pkt) -> Pkt) -> (Pkt, Pkt) {
    (
        f(from_client(Pkt::tcp(CLIENT, sport, VIP, WEB))),
        f(to_be1(Pkt::tcp(CLIENT, sport, BE1, TARGET_WEB))),
    )
}

/// A segment of the flow `sport` as the backend sends it and as the client
/// gets it.
fn backend_seg(sport: u16, f: impl Fn(Pkt) -> Pkt) -> (Pkt, Pkt) {
    (
        f(from_be1(Pkt::tcp(BE1, TARGET_WEB, CLIENT, sport))),
        f(to_client(Pkt::tcp(VIP, WEB, CLIENT, sport))),
    )
}

struct Flow<'s, 'h> {
    sc: &'s mut Scenario<'h>,
    dev: Devices,
    sport: u16,
}

impl Flow<'_, '_> {
    fn client(&mut self, what: &'static str, new: bool, f: impl Fn(Pkt) -> Pkt) {
        let (input, output) = client_seg(self.sport, f);
        let out = self.sc.run(
            Program::TaskTc,
            &dnat(what, input, output, new).on_ifindex(self.dev.client),
        );
        assert_checksums(&out, false);
    }

    fn backend(&mut self, what: &'static str, f: impl Fn(Pkt) -> Pkt) {
        let (input, output) = backend_seg(self.sport, f);
        let fixture = Fixture::redirect(what, input.build(), Stat::LocalDelivery)
            .output(output.build())
            .counts(Stat::RevNat)
            .on_ifindex(self.dev.backend);
        let out = self.sc.run(Program::TaskTc, &fixture);
        assert_checksums(&out, false);
    }

    fn state(&mut self) -> (u8, u8) {
        let ct = self
            .sc
            .ct(&flow_key(VNI, CLIENT, self.sport, VIP, WEB, PROTO_TCP));
        assert_eq!(ct.backend_id, ID_BE1_WEB);
        (ct.state, ct.fins)
    }
}

#[test]
fn reverse_nat_and_tcp_states() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "TCP states", setup(dev));

    // Client closes first, then the backend.
    let mut f = Flow {
        sc: &mut sc,
        dev,
        sport: 42_000,
    };
    f.client("flow 1: SYN", true, Pkt::syn);
    assert_eq!(f.state(), (CT_SYN_SENT, 0));
    f.backend(
        "flow 1: the backend's SYN-ACK: source back to VIP:80, counted rev-nat",
        |p| p.syn().seq(5_000).ack(1_001),
    );
    assert_eq!(f.state(), (CT_ESTABLISHED, 0));
    f.client("flow 1: ACK", false, |p| p.seq(1_001).ack(5_001));
    assert_eq!(f.state(), (CT_ESTABLISHED, 0));
    f.client("flow 1: client FIN", false, |p| {
        p.seq(1_001).ack(5_001).fin()
    });
    assert_eq!(f.state(), (CT_HALF_CLOSED, CT_FIN_CLIENT));
    f.backend("flow 1: the backend keeps sending (CLOSE_WAIT)", |p| {
        p.seq(5_001).ack(1_002).payload(b"late data")
    });
    assert_eq!(f.state(), (CT_HALF_CLOSED, CT_FIN_CLIENT));
    f.backend("flow 1: backend FIN", |p| p.seq(5_010).ack(1_002).fin());
    assert_eq!(f.state(), (CT_CLOSING, CT_FIN_CLIENT | CT_FIN_BACKEND));

    // Backend closes first, the client resets.
    let mut f = Flow {
        sc: &mut sc,
        dev,
        sport: 42_001,
    };
    f.client("flow 2: SYN", true, Pkt::syn);
    f.backend("flow 2: SYN-ACK", |p| p.syn().seq(7_000).ack(1_001));
    f.backend("flow 2: backend FIN", |p| p.seq(7_001).ack(1_001).fin());
    assert_eq!(f.state(), (CT_HALF_CLOSED, CT_FIN_BACKEND));
    f.client("flow 2: client RST", false, |p| p.seq(1_001).rst());
    assert_eq!(f.state().0, CT_CLOSING);

    // The backend resets.
    let mut f = Flow {
        sc: &mut sc,
        dev,
        sport: 42_002,
    };
    f.client("flow 3: SYN", true, Pkt::syn);
    f.backend("flow 3: SYN-ACK", |p| p.syn().seq(9_000).ack(1_001));
    assert_eq!(f.state(), (CT_ESTABLISHED, 0));
    f.backend("flow 3: backend RST", |p| p.seq(9_001).ack(1_001).rst());
    assert_eq!(f.state(), (CT_CLOSING, 0));
}

#[test]
fn malformed_and_fragmented_to_a_vip() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let maps = || setup(dev);
    let fixtures = [
        Fixture::drop(
            "a non-first fragment to VIP: no ports, not translated, no endpoint",
            from_client(Pkt::ipv4(CLIENT, VIP, PROTO_TCP))
                .payload(&[0xab; 32])
                .fragment(1480, false)
                .build(),
            DropReason::UnknownEndpoint,
        ),
        Fixture::drop(
            "TCP to VIP:80 with a 10-byte TCP header: the parser's truncated-l4",
            web_syn(40_100).truncate_l4(10).build(),
            DropReason::TruncatedL4,
        ),
        Fixture::drop(
            "TCP to VIP:80 with data offset 3: the parser's malformed-l4",
            web_syn(40_101).tcp_doff(3).build(),
            DropReason::MalformedL4,
        ),
        Fixture::drop(
            "UDP to VIP:53 whose length runs past the packet: malformed-l4",
            from_client(Pkt::udp(CLIENT, 40_102, VIP, DNS))
                .udp_len(200)
                .build(),
            DropReason::MalformedL4,
        ),
        Fixture::drop(
            "TCP to the VIP on a port without a service: not translated",
            from_client(Pkt::tcp(CLIENT, 40_103, VIP, 81)).syn().build(),
            DropReason::UnknownEndpoint,
        ),
        Fixture::drop(
            "UDP to VIP:80 (the service is TCP): not translated",
            from_client(Pkt::udp(CLIENT, 40_104, VIP, WEB)).build(),
            DropReason::UnknownEndpoint,
        ),
    ]
    .map(|f| f.maps(maps()).on_ifindex(dev.client));
    harness.run_table(&[Program::TaskTc], &fixtures);

    let underlay = [Fixture::pass(
        "a non-first fragment to a published port: not translated, passed to the host",
        from_router(Pkt::ipv4(MESH_CLIENT, THIS_NODE, PROTO_TCP))
            .payload(&[0xab; 32])
            .fragment(1480, false)
            .build(),
    )
    .counts(Stat::Fragment)
    .maps(maps())];
    harness.run_table(&[Program::UnderlayTc], &underlay);

    // As the agent programs every VIP: an every-port entry per protocol.
    let every_port = || {
        let (overlay, lb) = setup(dev);
        (overlay, lb.service(VNI, VIP, 0, PROTO_TCP, T_WEB, 1))
    };
    let vip_fragment = [Fixture::drop(
        "a non-first fragment to a VIP with an every-port entry: its own reason, not \
         unknown-endpoint (it cannot be matched to its datagram's backend)",
        from_client(Pkt::ipv4(CLIENT, VIP, PROTO_TCP))
            .payload(&[0xab; 32])
            .fragment(1480, false)
            .build(),
        DropReason::FragmentToVip,
    )
    .maps(every_port())
    .on_ifindex(dev.client)];
    harness.run_table(&[Program::TaskTc], &vip_fragment);
}
