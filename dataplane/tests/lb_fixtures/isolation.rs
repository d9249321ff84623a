//! VIP isolation: a VIP answers only tasks on its service's network, and
//! two networks sharing a subnet, a VIP and task addresses keep their
//! services and flows apart (the VNI is part of the service key and of both
//! conntrack keys).
//!
//! ```text
//!   network A (VNI 0x2a01, 10.1.0.0/24)      network B (VNI 0x2b01, 10.1.0.0/24)
//!   task-a  client 10.1.0.2                  task-c  client 10.1.0.2
//!   task-b  backend 10.1.0.11:8080           task-d  backend 10.1.0.11:8080
//!   VIP 10.1.0.100:80 → A's backend          VIP 10.1.0.100:80 → B's backend
//!                                            VIP 10.1.0.110:80 (B only)
//! ```

use super::*;

const VNI_B: u32 = 0x00_2b_01;
/// B's client and backend: A's addresses, other MACs.
const CLIENT_B_MAC: [u8; 6] = [0x02, 0x42, 0x0b, 0x01, 0x00, 0x02];
const CLIENT_B_HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x0b, 0x00, 0x00, 0x02];
const BE1_B_MAC: [u8; 6] = [0x02, 0x42, 0x0b, 0x01, 0x00, 0x0b];
const BE1_B_HOST_MAC: [u8; 6] = [0x02, 0x5e, 0x0b, 0x00, 0x00, 0x0b];
/// A VIP only network B has.
const B_ONLY_VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 110);
/// An address of the subnet that is nothing on either network.
const NOBODY: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 111);
const ID_BE1_B: u32 = 61;
const T_B: u32 = 20;

/// Devices of network B's tasks.
#[derive(Clone, Copy)]
struct DevicesB {
    client: u32,
    backend: u32,
}

fn iface_b(ip: Ipv4Addr, mac: [u8; 6], host_mac: [u8; 6]) -> TaskIface {
    TaskIface {
        vni: VNI_B,
        ..iface(ip, mac, host_mac)
    }
}

/// Network A as every fixture has it, plus network B mirroring it.
fn setup(dev: Devices, dev_b: DevicesB) -> (OverlayMaps, LbMaps) {
    let overlay = node(dev, &[])
        .network(VNI_B, SUBNET, 24)
        .task_iface(
            dev_b.client,
            iface_b(CLIENT, CLIENT_B_MAC, CLIENT_B_HOST_MAC),
        )
        .task_iface(dev_b.backend, iface_b(BE1, BE1_B_MAC, BE1_B_HOST_MAC))
        .local_endpoint(VNI_B, CLIENT, CLIENT_B_MAC, dev_b.client, CLIENT_B_HOST_MAC)
        .local_endpoint(VNI_B, BE1, BE1_B_MAC, dev_b.backend, BE1_B_HOST_MAC);
    let lb = services()
        .backend(ID_BE1_B, BE1, TARGET_WEB, VNI_B)
        .service(VNI_B, VIP, WEB, PROTO_TCP, T_B, 1)
        .service(VNI_B, B_ONLY_VIP, WEB, PROTO_TCP, T_B, 1)
        .single_backend_table(T_B, ID_BE1_B)
        .vip(VIP, 2)
        .vip(B_ONLY_VIP, 1);
    (overlay, lb)
}

fn start(netns: &PrivateNetns) -> (Devices, DevicesB) {
    let dev = devices(netns);
    let dev_b = DevicesB {
        client: netns.add_veth("task-c").unwrap(),
        backend: netns.add_veth("task-d").unwrap(),
    };
    (dev, dev_b)
}

#[test]
fn a_vip_answers_only_tasks_of_its_own_network() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let (dev, dev_b) = start(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "VIP isolation", setup(dev, dev_b));

    let to_b_only = from_client(Pkt::tcp(CLIENT, 46_000, B_ONLY_VIP, WEB)).syn();
    sc.run(
        Program::TaskTc,
        &Fixture::drop(
            "a task on A sends a SYN to a VIP only B has: dropped as not-a-member, \
             never translated to B's backend",
            to_b_only.build(),
            DropReason::NotAMember,
        )
        .on_ifindex(dev.client),
    );
    assert_eq!(
        LbMaps::conntrack_len(sc.ebpf()),
        0,
        "a refused packet must leave no conntrack entry"
    );

    let to_nobody = from_client(Pkt::tcp(CLIENT, 46_001, NOBODY, WEB)).syn();
    sc.run(
        Program::TaskTc,
        &Fixture::drop(
            "a SYN to an address that is no VIP on any network stays unknown-endpoint",
            to_nobody.build(),
            DropReason::UnknownEndpoint,
        )
        .on_ifindex(dev.client),
    );

    let from_b = Pkt::tcp(CLIENT, 46_002, B_ONLY_VIP, WEB)
        .syn()
        .macs(CLIENT_B_MAC, CLIENT_B_HOST_MAC);
    let expected = Pkt::tcp(CLIENT, 46_002, BE1, TARGET_WEB)
        .syn()
        .macs(BE1_B_HOST_MAC, BE1_B_MAC);
    sc.run(
        Program::TaskTc,
        &dnat(
            "the same SYN from a task on B: translated to B's backend",
            from_b,
            expected,
            true,
        )
        .on_ifindex(dev_b.client),
    );
}

#[test]
fn the_same_vip_and_addresses_on_two_networks_do_not_collide() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let (dev, dev_b) = start(&netns);
    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "one VIP, two networks", setup(dev, dev_b));
    let since = monotonic_now_ns();

    sc.run(
        Program::TaskTc,
        &dnat(
            "client 10.1.0.2 on A to VIP:80: A's backend (A's MACs)",
            from_client(Pkt::tcp(CLIENT, 45_000, VIP, WEB)).syn(),
            to_be1(Pkt::tcp(CLIENT, 45_000, BE1, TARGET_WEB)).syn(),
            true,
        )
        .on_ifindex(dev.client),
    );
    sc.run(
        Program::TaskTc,
        &dnat(
            "client 10.1.0.2 on B, same source port, to the same VIP:80: B's backend, \
             a flow of its own (not A's conntrack entry)",
            Pkt::tcp(CLIENT, 45_000, VIP, WEB)
                .syn()
                .macs(CLIENT_B_MAC, CLIENT_B_HOST_MAC),
            Pkt::tcp(CLIENT, 45_000, BE1, TARGET_WEB)
                .syn()
                .macs(BE1_B_HOST_MAC, BE1_B_MAC),
            true,
        )
        .on_ifindex(dev_b.client),
    );
    let key_a = flow_key(VNI, CLIENT, 45_000, VIP, WEB, PROTO_TCP);
    let key_b = flow_key(VNI_B, CLIENT, 45_000, VIP, WEB, PROTO_TCP);
    let ct_a = sc.ct(&key_a);
    let ct_b = sc.ct(&key_b);
    assert_eq!((ct_a.backend_id, ct_a.vni), (ID_BE1_WEB, VNI), "A's flow");
    assert_eq!((ct_b.backend_id, ct_b.vni), (ID_BE1_B, VNI_B), "B's flow");
    assert!(ct_b.last_seen_ns >= since);
    let reply_b = flow_key(VNI_B, BE1, TARGET_WEB, CLIENT, 45_000, PROTO_TCP);
    let entry = sc.reply(&reply_b).expect("B's reply entry");
    assert_eq!(
        entry.flow_vni, VNI_B,
        "B's reply leads to B's flow: {entry:?}"
    );

    let syn_ack = |p: Pkt| p.syn().ack(1);
    let fixture = Fixture::redirect(
        "B's backend answers: reverse NAT from VIP:80, delivered to B's client only",
        syn_ack(Pkt::tcp(BE1, TARGET_WEB, CLIENT, 45_000))
            .macs(BE1_B_MAC, BE1_B_HOST_MAC)
            .build(),
        Stat::LocalDelivery,
    )
    .output(
        syn_ack(Pkt::tcp(VIP, WEB, CLIENT, 45_000))
            .macs(CLIENT_B_HOST_MAC, CLIENT_B_MAC)
            .build(),
    )
    .counts(Stat::RevNat)
    .on_ifindex(dev_b.backend);
    let out = sc.run(Program::TaskTc, &fixture);
    assert_checksums(&out, false);
    assert_eq!(
        sc.ct(&key_b).state,
        CT_ESTABLISHED,
        "B's reply advanced B's flow"
    );
    assert_eq!(
        sc.ct(&key_a).state,
        CT_SYN_SENT,
        "A's flow, with the same addresses and ports, untouched by B's reply"
    );
}
