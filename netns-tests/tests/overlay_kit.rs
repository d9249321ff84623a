//! The overlay test kit against real namespaces: bare task namespaces, the raw
//! veth floor and Swarm's kernel VXLAN path, with real traffic (needs root).
#![expect(clippy::unwrap_used, reason = "tests fail loudly on any setup error")]

use std::net::Ipv4Addr;

use shoal_netns_tests::lab::cmd::{self, netns_command};
use shoal_netns_tests::lab::{Lab, lab_netns};
use shoal_netns_tests::overlay_kit::{
    Capture, Cidr, MacAddr, Peer, TaskIface, VXLAN_OVERHEAD, VethError, kernel_vxlan,
    raw_veth_pair, tcp_transfer, vxlan_vnis,
};

fn run_in(netns: &str, args: &[&str]) -> String {
    cmd::output(netns_command(netns, args).unwrap()).unwrap()
}

fn ping(netns: &str, target: Ipv4Addr) {
    run_in(netns, &["ping", "-c1", "-W2", &target.to_string()]);
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

#[test]
fn bare_namespaces_belong_to_the_lab() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(1).build().unwrap();
    let t1 = lab.add_netns("t1").unwrap();
    let t2 = lab.add_netns("t2").unwrap();
    assert_eq!(t1, format!("{}-t1", lab.id()));
    assert!(lab.add_netns("t1").is_err(), "duplicate accepted");
    assert!(lab.add_netns("sw").is_err(), "reserved name accepted");
    let links = run_in(&t1, &["ip", "-br", "link"]);
    assert!(
        links.starts_with("lo ") && links.lines().count() == 1,
        "{links}"
    );
    assert!(
        links.contains("UNKNOWN") || links.contains("UP"),
        "lo down: {links}"
    );

    // An overlay `eth0` does not make a task look like an underlay member.
    raw_veth_pair(&lab, &t1, &t2, cidr("10.30.0.1/24"), cidr("10.30.0.2/24")).unwrap();
    let id = lab.into_persistent();
    let attached = Lab::attach(&id).unwrap();
    assert_eq!(attached.nodes().len(), 1);
    assert!(attached.clients().is_empty());
    assert_eq!(attached.bare_netns().len(), 2);
    attached.teardown().unwrap();
    assert!(lab_netns(&id).unwrap().is_empty());
}

#[test]
fn raw_veth_pair_carries_a_checked_transfer() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(0).build().unwrap();
    let a = lab.add_netns("ra").unwrap();
    let b = lab.add_netns("rb").unwrap();
    let stranger = format!("{}-zz", lab.id());
    assert!(matches!(
        raw_veth_pair(
            &lab,
            &a,
            &stranger,
            cidr("10.30.0.1/24"),
            cidr("10.30.0.2/24")
        ),
        Err(VethError::ForeignNetns(_))
    ));
    raw_veth_pair(&lab, &a, &b, cidr("10.30.0.1/24"), cidr("10.30.0.2/24")).unwrap();
    ping(&a, Ipv4Addr::new(10, 30, 0, 2));
    let (sent, received) = tcp_transfer(&a, &b, Ipv4Addr::new(10, 30, 0, 2), 4 << 20).unwrap();
    assert_eq!(sent, received);
}

/// Task `ip` on `netns`, with Docker's MAC for it, in 10.10.0.0/24.
fn task(netns: &str, ip: Ipv4Addr) -> TaskIface {
    TaskIface {
        netns: netns.to_owned(),
        addr: Cidr::new(ip, 24).unwrap(),
        mac: MacAddr::from_ip(ip),
        mtu: 1500 - VXLAN_OVERHEAD,
    }
}

#[test]
fn kernel_vxlan_joins_tasks_on_two_nodes() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    const VNI: u32 = 4097;
    let mut lab = Lab::builder().nodes(2).build().unwrap();
    let t1 = lab.add_netns("t1").unwrap();
    let t2 = lab.add_netns("t2").unwrap();
    let (n1, n2) = (lab.node(1).unwrap(), lab.node(2).unwrap());
    let (ip1, ip2) = (Ipv4Addr::new(10, 10, 0, 2), Ipv4Addr::new(10, 10, 0, 3));
    let peer = |ip, node: Ipv4Addr| Peer {
        ip,
        mac: MacAddr::from_ip(ip),
        node,
    };
    let built = kernel_vxlan::attach(n1, VNI, &task(&t1, ip1), &[peer(ip2, n2.addr())]).unwrap();
    assert_eq!(built.vxlan, "vxlan4097");
    kernel_vxlan::attach(n2, VNI, &task(&t2, ip2), &[peer(ip1, n1.addr())]).unwrap();
    let mtu = run_in(&t1, &["cat", "/sys/class/net/eth0/mtu"]);
    assert_eq!(mtu.trim(), "1450");

    let pcap = n1.state_dir().join("underlay.pcapng");
    let capture = Capture::start(&lab.switch_netns(), "br0", "udp port 4789", &pcap).unwrap();
    ping(&t1, ip2);
    ping(&t2, ip1);
    let (sent, received) = tcp_transfer(&t1, &t2, ip2, 8 << 20).unwrap();
    assert_eq!(sent, received);
    let pcap = capture.stop().unwrap();

    let vnis = vxlan_vnis(&pcap).unwrap();
    assert!(vnis.len() > 100, "only {} VXLAN frames", vnis.len());
    assert!(vnis.iter().all(|&v| v == VNI), "foreign VNI in {vnis:?}");
}
