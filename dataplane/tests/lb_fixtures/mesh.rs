//! The routing mesh: a client outside the cluster to the node's underlay
//! address on a published port. Local backends get the DNAT'd packet,
//! remote ones get it through VXLAN — with the client's own source address
//! (no SNAT). Replies go back the way the request came.

use super::*;

fn setup(dev: Devices) -> (OverlayMaps, LbMaps) {
    (node(dev, &[]), services())
}

fn client_syn(sport: u16, port: u16) -> Pkt {
    from_router(Pkt::tcp(MESH_CLIENT, sport, THIS_NODE, port)).syn()
}

/// The source address of the (inner) IPv4 packet starting at `l3`.
fn source_at(frame: &[u8], l3: usize) -> Ipv4Addr {
    Ipv4Addr::from(<[u8; 4]>::try_from(&frame[l3 + 12..l3 + 16]).unwrap())
}

#[test]
fn mesh_to_a_local_backend_and_its_reply() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "mesh, local backend", setup(dev));
    let since = monotonic_now_ns();

    let fixture = Fixture::redirect(
        "SYN to node:30080: DNAT to the local backend, source stays the client's",
        client_syn(51_000, PUB_LOCAL).build(),
        Stat::ServiceIn,
    )
    .output(
        to_be1(Pkt::tcp(MESH_CLIENT, 51_000, BE1, TARGET_WEB))
            .syn()
            .build(),
    )
    .counts(Stat::NewFlow);
    let out = sc.run(Program::UnderlayTc, &fixture);
    assert_checksums(&out, false);
    assert_eq!(source_at(&out, ETH_LEN), MESH_CLIENT, "no SNAT");
    let key = flow_key(
        MESH_VNI,
        MESH_CLIENT,
        51_000,
        THIS_NODE,
        PUB_LOCAL,
        PROTO_TCP,
    );
    assert_ct(
        &sc.ct(&key),
        (ID_BE1_WEB, BE1, TARGET_WEB),
        CT_SYN_SENT,
        0,
        since,
    );
    let reply_key = flow_key(VNI, BE1, TARGET_WEB, MESH_CLIENT, 51_000, PROTO_TCP);
    assert_rev_nat(sc.reply(&reply_key), (THIS_NODE, PUB_LOCAL));

    let syn_ack = |pkt: Pkt| pkt.syn().seq(6_000).ack(1_001);
    let fixture = Fixture::redirect(
        "the backend's SYN-ACK to the mesh client: from node:30080, out of the underlay",
        syn_ack(from_be1(Pkt::tcp(BE1, TARGET_WEB, MESH_CLIENT, 51_000))).build(),
        Stat::RevNat,
    )
    .output(
        syn_ack(from_be1(Pkt::tcp(
            THIS_NODE,
            PUB_LOCAL,
            MESH_CLIENT,
            51_000,
        )))
        .build(),
    )
    .on_ifindex(dev.backend);
    let out = sc.run(Program::TaskTc, &fixture);
    assert_checksums(&out, false);
    assert_eq!(sc.ct(&key).state, CT_ESTABLISHED);
}

#[test]
fn mesh_to_a_remote_backend_and_the_reply_through_vxlan() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "mesh, remote backend", setup(dev));

    let input = client_syn(51_001, PUB_REMOTE).payload(b"hi");
    let translated = Pkt::tcp(MESH_CLIENT, 51_001, BE_REMOTE, TARGET_WEB)
        .syn()
        .payload(b"hi");
    // The outer source port hashes the flow as it arrived (before DNAT).
    let sport = vxlan_source_port(
        MESH_CLIENT.octets(),
        THIS_NODE.octets(),
        51_001,
        PUB_REMOTE,
        PROTO_TCP,
    );
    let expected = vxlan_frame(
        (ROUTER_MAC, UNDERLAY_MAC),
        (THIS_NODE, OTHER_NODE),
        sport,
        &inner_frame(node_mac(THIS_NODE), BE_REMOTE_MAC, &translated),
    );
    let input = input.build();
    assert_eq!(expected.len(), input.len() + VXLAN_OVERHEAD as usize);
    let fixture = Fixture::redirect(
        "SYN to node:30081: DNAT to the backend on the other node, VXLAN there, client source kept",
        input,
        Stat::Encap,
    )
    .output(expected)
    .counts(Stat::ServiceIn)
    .counts(Stat::NewFlow);
    let out = sc.run(Program::UnderlayTc, &fixture);
    let inner_l3 = ETH_LEN + 20 + 8 + VXLAN_LEN + ETH_LEN;
    assert_checksums(&out[inner_l3 - ETH_LEN..], false);
    assert_eq!(source_at(&out, inner_l3), MESH_CLIENT, "no SNAT");
    let key = flow_key(
        MESH_VNI,
        MESH_CLIENT,
        51_001,
        THIS_NODE,
        PUB_REMOTE,
        PROTO_TCP,
    );
    assert_eq!(sc.ct(&key).backend_id, ID_REMOTE);

    // The remote backend's node sends the reply back through VXLAN.
    let syn_ack = |pkt: Pkt| pkt.syn().seq(8_000).ack(1_003);
    let reply = syn_ack(Pkt::tcp(BE_REMOTE, TARGET_WEB, MESH_CLIENT, 51_001));
    let input = vxlan_frame(
        (OTHER_NODE_MAC, UNDERLAY_MAC),
        (OTHER_NODE, THIS_NODE),
        50_000,
        &inner_frame(BE_REMOTE_MAC, node_mac(OTHER_NODE), &reply),
    );
    let output = syn_ack(
        Pkt::tcp(THIS_NODE, PUB_REMOTE, MESH_CLIENT, 51_001).macs(OTHER_NODE_MAC, UNDERLAY_MAC),
    )
    .build();
    let fixture = Fixture::redirect(
        "the decapped reply on the translating node: from node:30081, out of the underlay",
        input,
        Stat::Decap,
    )
    .output(output.clone())
    .counter_bytes(Stat::Decap, output.len())
    .counts(Stat::RevNat)
    .counter_bytes(Stat::RevNat, output.len());
    let out = sc.run(Program::UnderlayTc, &fixture);
    assert_checksums(&out, false);
    assert_eq!(sc.ct(&key).state, CT_ESTABLISHED);
}

#[test]
fn mesh_request_from_another_node_returns_the_way_it_came() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "mesh, return path", setup(dev));

    // Another node translated MESH_CLIENT → its node:port to our BE1.
    let request = Pkt::tcp(MESH_CLIENT, 51_002, BE1, TARGET_WEB).syn();
    let input = vxlan_frame(
        (OTHER_NODE_MAC, UNDERLAY_MAC),
        (OTHER_NODE, THIS_NODE),
        50_001,
        &inner_frame(node_mac(OTHER_NODE), BE1_MAC, &request),
    );
    let output = to_be1(request.clone()).macs(BE1_HOST_MAC, BE1_MAC).build();
    let fixture = Fixture::redirect(
        "a decapped mesh request for a local backend: delivered, return path recorded",
        input,
        Stat::Decap,
    )
    .output(output.clone())
    .counter_bytes(Stat::Decap, output.len());
    sc.run(Program::UnderlayTc, &fixture);
    let reply_key = flow_key(VNI, BE1, TARGET_WEB, MESH_CLIENT, 51_002, PROTO_TCP);
    let entry = sc.reply(&reply_key).expect("a return-path entry");
    assert_eq!(entry.kind, REPLY_RETURN_PATH, "{entry:?}");
    assert_eq!(
        (entry.via_node, entry.vni),
        (OTHER_NODE.octets(), VNI),
        "{entry:?}"
    );
    assert_eq!(
        LbMaps::conntrack_len(sc.ebpf()),
        0,
        "nothing translated here"
    );

    let syn_ack = |pkt: Pkt| pkt.syn().seq(4_000).ack(1_001);
    let reply = syn_ack(from_be1(Pkt::tcp(BE1, TARGET_WEB, MESH_CLIENT, 51_002)));
    let input = reply.build();
    let sport = vxlan_source_port(
        BE1.octets(),
        MESH_CLIENT.octets(),
        TARGET_WEB,
        51_002,
        PROTO_TCP,
    );
    let expected = vxlan_frame(
        (BE1_MAC, BE1_HOST_MAC),
        (THIS_NODE, OTHER_NODE),
        sport,
        &inner_frame(BE1_MAC, node_mac(THIS_NODE), &reply),
    );
    let fixture = Fixture::redirect(
        "the backend's reply: VXLAN back to the node the request came from, untouched",
        input.clone(),
        Stat::Encap,
    )
    .output(expected)
    .counts(Stat::ReturnPath)
    .counter_bytes(Stat::ReturnPath, input.len() + VXLAN_OVERHEAD as usize)
    .on_ifindex(dev.backend);
    sc.run(Program::TaskTc, &fixture);

    // A request from a task on the other node is plain overlay traffic.
    let request = Pkt::tcp(BE_REMOTE, 51_003, BE1, TARGET_WEB).syn();
    let input = vxlan_frame(
        (OTHER_NODE_MAC, UNDERLAY_MAC),
        (OTHER_NODE, THIS_NODE),
        50_002,
        &inner_frame(BE_REMOTE_MAC, BE1_MAC, &request),
    );
    let output = to_be1(request).build();
    let fixture = Fixture::redirect(
        "decapped overlay traffic from a remote task: no return path recorded",
        input,
        Stat::Decap,
    )
    .output(output.clone())
    .counter_bytes(Stat::Decap, output.len());
    sc.run(Program::UnderlayTc, &fixture);
    let key = flow_key(VNI, BE1, TARGET_WEB, BE_REMOTE, 51_003, PROTO_TCP);
    assert!(sc.reply(&key).is_none());
}

#[test]
fn mesh_request_from_a_non_peer_plants_no_return_path() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "mesh, forged request", setup(dev));

    // A forged "mesh request" for BE1: were it unwrapped, BE1's replies to
    // MESH_CLIENT would be tunnelled to the forger.
    let stranger = Ipv4Addr::new(192, 0, 2, 66);
    let request = Pkt::tcp(MESH_CLIENT, 51_004, BE1, TARGET_WEB).syn();
    let input = vxlan_frame(
        (OTHER_NODE_MAC, UNDERLAY_MAC),
        (stranger, THIS_NODE),
        50_003,
        &inner_frame(node_mac(stranger), BE1_MAC, &request),
    );
    let fixture = Fixture::drop(
        "a tunnelled mesh request from an address that is no peer: dropped",
        input,
        DropReason::UnknownPeer,
    );
    sc.run(Program::UnderlayTc, &fixture);
    let reply_key = flow_key(VNI, BE1, TARGET_WEB, MESH_CLIENT, 51_004, PROTO_TCP);
    assert!(
        sc.reply(&reply_key).is_none(),
        "a non-peer's frame planted a return-path entry"
    );
}
