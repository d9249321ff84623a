use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::*;
use shoal_model::spec::{
    NetworkAttachment, Protocol, PublishMode, ServiceSpec, TaskState, TaskStatus,
};

fn net(text: &str) -> Ipv4Net {
    text.parse().expect(text)
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().expect(text)
}

#[test]
fn networks_get_distinct_vnis_and_pool_subnets_skipping_explicit_ones() {
    let mut alloc = Allocator::default();
    let a = alloc.create_network("a", None).expect("a").clone();
    assert_eq!(
        (a.vni, a.subnet, a.gateway),
        (4096, net("10.0.0.0/24"), ip("10.0.0.1"))
    );
    let b = alloc
        .create_network("b", Some(net("10.0.1.0/24")))
        .expect("b")
        .clone();
    assert_eq!((b.vni, b.subnet), (4097, net("10.0.1.0/24")));
    let c = alloc.create_network("c", None).expect("c").clone();
    assert_eq!(
        c.subnet,
        net("10.0.2.0/24"),
        "the pool skips the explicit subnet"
    );
    let d = alloc
        .create_network("d", Some(net("192.168.0.0/16")))
        .expect("d")
        .clone();
    assert_eq!(d.gateway, ip("192.168.0.1"));
    assert_eq!(
        alloc.create_network("a", None).map(|_| ()),
        Err(AllocatorError::NetworkExists { name: "a".into() })
    );
}

#[test]
fn bad_and_overlapping_subnets_are_refused() {
    let mut alloc = Allocator::default();
    alloc.create_network("a", None).expect("a");
    let overlap = alloc
        .create_network("x", Some(net("10.0.0.0/16")))
        .map(|_| ());
    assert_eq!(
        overlap,
        Err(AllocatorError::SubnetOverlap {
            subnet: net("10.0.0.0/16"),
            network: "a".into(),
            existing: net("10.0.0.0/24"),
        })
    );
    let error = "10.0.0.1/24".parse::<Ipv4Net>().expect_err("host bits");
    assert_eq!(
        error.to_string(),
        "invalid subnet 10.0.0.1/24: host bits are set, did you mean 10.0.0.0/24?"
    );
    for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0/24", "x/8"] {
        assert!(
            matches!(
                bad.parse::<Ipv4Net>(),
                Err(AllocatorError::InvalidSubnet { .. })
            ),
            "{bad}"
        );
    }
    let tiny = alloc
        .create_network("t", Some(net("172.16.0.0/31")))
        .map(|_| ());
    assert_eq!(
        tiny,
        Err(AllocatorError::SubnetSize {
            subnet: net("172.16.0.0/31")
        })
    );
}

#[test]
fn the_pool_runs_out_with_a_clear_error() {
    let mut alloc = Allocator::new(net("10.9.0.0/23"));
    alloc.create_network("a", None).expect("a");
    alloc.create_network("b", None).expect("b");
    let error = alloc
        .create_network("c", None)
        .map(|_| ())
        .expect_err("exhausted");
    assert_eq!(
        error,
        AllocatorError::PoolExhausted {
            pool: net("10.9.0.0/23"),
            size: 24
        }
    );
    alloc.remove_network("a").expect("remove");
    assert_eq!(
        alloc.create_network("c", None).expect("c").subnet,
        net("10.9.0.0/24")
    );
}

#[test]
fn vnis_wrap_around_and_skip_used_ones() {
    let mut alloc = Allocator::default();
    alloc.create_network("first", None).expect("first");
    alloc.next_vni = VNI_LAST;
    assert_eq!(
        alloc.create_network("last", None).expect("last").vni,
        VNI_LAST
    );
    assert_eq!(
        alloc.create_network("wrapped", None).expect("wrapped").vni,
        VNI_FIRST + 1
    );
}

#[test]
fn addresses_are_never_handed_out_twice_and_freed_ones_come_back() {
    let mut alloc = Allocator::default();
    alloc.create_network("a", None).expect("a");
    let mut seen = HashSet::new();
    for i in 0..253 {
        let addr = alloc
            .allocate_address("a", &format!("t{i}"))
            .expect("free address");
        assert!(seen.insert(addr), "{addr} handed out twice");
        assert!(![ip("10.0.0.0"), ip("10.0.0.1"), ip("10.0.0.255")].contains(&addr));
    }
    assert_eq!(
        alloc.allocate_address("a", "late"),
        Err(AllocatorError::AddressesExhausted {
            network: "a".into(),
            subnet: net("10.0.0.0/24")
        })
    );
    alloc
        .release_address("a", ip("10.0.0.77"))
        .expect("release");
    assert_eq!(alloc.allocate_address("a", "late"), Ok(ip("10.0.0.77")));
    assert_eq!(
        alloc.release_address("a", ip("10.0.0.1")),
        Err(AllocatorError::AddressNotAllocated {
            network: "a".into(),
            ip: ip("10.0.0.1")
        })
    );
}

#[test]
fn a_freed_address_waits_until_the_rest_of_the_subnet_was_used() {
    let mut alloc = Allocator::default();
    alloc.create_network("a", None).expect("a");
    for i in 0..5 {
        alloc
            .allocate_address("a", &format!("t{i}"))
            .expect("address");
    }
    alloc.release_address("a", ip("10.0.0.2")).expect("release");
    assert_eq!(alloc.allocate_address("a", "next"), Ok(ip("10.0.0.7")));
}

#[test]
fn explicit_addresses_are_checked() {
    let mut alloc = Allocator::default();
    alloc.create_network("a", None).expect("a");
    alloc
        .reserve_address("a", ip("10.0.0.9"), "t1")
        .expect("reserve");
    assert_eq!(
        alloc.reserve_address("a", ip("10.0.0.9"), "t2"),
        Err(AllocatorError::AddressInUse {
            network: "a".into(),
            ip: ip("10.0.0.9"),
            owner: "t1".into()
        })
    );
    for bad in ["10.0.0.0", "10.0.0.1", "10.0.0.255", "10.0.1.5"] {
        let result = alloc.reserve_address("a", ip(bad), "t3");
        assert!(
            matches!(result, Err(AllocatorError::AddressNotAssignable { .. })),
            "{bad}"
        );
    }
}

#[test]
fn vips_are_stable_per_service_and_released() {
    let mut alloc = Allocator::default();
    alloc.create_network("a", None).expect("a");
    let vip = alloc.allocate_vip("a", "web").expect("vip");
    assert_eq!(alloc.allocate_vip("a", "web"), Ok(vip));
    assert_ne!(alloc.allocate_vip("a", "db").expect("db"), vip);
    alloc
        .remove_network("a")
        .map(|_| ())
        .expect("only VIPs left");
    alloc.create_network("a", None).expect("a again");
    let vip = alloc.allocate_vip("a", "web").expect("vip");
    alloc.release_vip("a", "web").expect("release");
    assert!(!alloc.network("a").expect("a").addresses.contains_key(&vip));
}

fn task(networks: &[&str]) -> Task {
    Task {
        id: "t1".into(),
        service_id: "web".into(),
        slot: 1,
        node_id: None,
        desired_state: TaskState::Running,
        status: TaskStatus::default(),
        spec: ServiceSpec::new("web", "nginx").task,
        spec_version: 1,
        networks: networks
            .iter()
            .map(|n| NetworkAttachment {
                network: (*n).into(),
                ip: None,
            })
            .collect(),
    }
}

#[test]
fn task_allocation_is_all_or_nothing() {
    let mut alloc = Allocator::default();
    alloc.create_network("front", None).expect("front");
    alloc
        .create_network("full", Some(net("172.20.0.0/30")))
        .expect("full");
    alloc
        .allocate_address("full", "someone")
        .expect("the one address");
    let mut t = task(&["front", "full"]);
    let before = alloc.clone();
    assert!(matches!(
        alloc.allocate_task(&mut t),
        Err(AllocatorError::AddressesExhausted { .. })
    ));
    assert_eq!(alloc, before, "a failed allocation changes nothing");
    assert!(t.networks.iter().all(|a| a.ip.is_none()));
    let mut t = task(&["front"]);
    alloc.allocate_task(&mut t).expect("allocate");
    assert_eq!(t.networks[0].ip, Some(ip("10.0.0.2")));
    assert!(matches!(
        alloc.remove_network("front"),
        Err(AllocatorError::NetworkInUse { addresses: 1, .. })
    ));
    alloc.release_task(&t);
    assert!(alloc.network("front").expect("front").addresses.is_empty());
}

#[test]
fn a_dropped_network_ignores_its_stopping_tasks_and_starts_empty_again() {
    let mut alloc = Allocator::new(net("10.0.0.0/16"));
    alloc
        .create_network("front", Some(net("10.0.0.0/29")))
        .expect("front");
    let mut t = task(&["front"]);
    alloc.allocate_task(&mut t).expect("allocate");
    alloc
        .drop_network("front")
        .expect("dropped with a task address");
    assert!(alloc.network("front").is_err());
    alloc
        .create_network("front", Some(net("10.0.0.0/29")))
        .expect("created again");
    alloc.release_task(&t);
    let mut again = task(&["front"]);
    again.id = "t2".into();
    alloc.allocate_task(&mut again).expect("allocate");
    assert_eq!(
        again.networks[0].ip, t.networks[0].ip,
        "the new network starts empty"
    );
    alloc.release_task(&t);
    assert_eq!(
        alloc.network("front").expect("front").addresses.len(),
        1,
        "the old task's release does not free the new task's address"
    );
}

fn port(published: u16, target: u16, protocol: Protocol, mode: PublishMode) -> PortConfig {
    PortConfig {
        published,
        target,
        protocol,
        mode,
    }
}

#[test]
fn ingress_ports_are_unique_cluster_wide() {
    let mut alloc = Allocator::default();
    let tcp = port(8080, 80, Protocol::Tcp, PublishMode::Ingress);
    alloc.allocate_ports("a", &[tcp]).expect("a");
    let error = alloc.allocate_ports("b", &[tcp]).expect_err("conflict");
    assert_eq!(
        error.to_string(),
        "port '8080' is already in use by service 'a' as an ingress port"
    );
    let udp = port(8080, 80, Protocol::Udp, PublishMode::Ingress);
    let host = port(8080, 80, Protocol::Tcp, PublishMode::Host);
    assert_eq!(alloc.allocate_ports("b", &[udp, host]), Ok(vec![udp, host]));
    assert_eq!(
        alloc.allocate_ports("a", &[tcp]),
        Ok(vec![tcp]),
        "re-allocating keeps a's own port"
    );
    let other = port(9090, 90, Protocol::Tcp, PublishMode::Ingress);
    assert_eq!(
        alloc.allocate_ports("c", &[other, other]),
        Err(AllocatorError::DuplicatePort {
            port: 9090,
            protocol: Protocol::Tcp
        })
    );
    alloc.release_ports("a");
    assert!(alloc.allocate_ports("c", &[tcp]).is_ok());
}

#[test]
fn port_zero_gets_a_dynamic_port_that_sticks() {
    let mut alloc = Allocator::default();
    let dynamic = port(0, 80, Protocol::Tcp, PublishMode::Ingress);
    let got = alloc.allocate_ports("a", &[dynamic]).expect("a");
    assert_eq!(got[0].published, DYNAMIC_PORT_FIRST);
    let explicit = port(30001, 80, Protocol::Tcp, PublishMode::Ingress);
    alloc
        .allocate_ports("b", &[explicit])
        .expect("b takes 30001 explicitly");
    assert_eq!(
        alloc.allocate_ports("c", &[dynamic]).expect("c")[0].published,
        30002
    );
    let again = alloc.allocate_ports(
        "a",
        &[dynamic, port(0, 443, Protocol::Tcp, PublishMode::Ingress)],
    );
    let again = again.expect("a again");
    assert_eq!((again[0].published, again[1].published), (30000, 30003));
    assert!(matches!(
        alloc.allocate_ports("d", &[port(30000, 1, Protocol::Tcp, PublishMode::Ingress)]),
        Err(AllocatorError::PortInUse { .. })
    ));
}

#[test]
fn the_dynamic_range_runs_out() {
    let mut alloc = Allocator::default();
    let count = usize::from(DYNAMIC_PORT_LAST - DYNAMIC_PORT_FIRST) + 1;
    let all: Vec<PortConfig> = (1..=count as u16)
        .map(|target| port(0, target, Protocol::Udp, PublishMode::Ingress))
        .collect();
    alloc.allocate_ports("hog", &all).expect("whole range");
    let error = alloc.allocate_ports("late", &[port(0, 53, Protocol::Udp, PublishMode::Ingress)]);
    assert!(matches!(
        error,
        Err(AllocatorError::DynamicPortsExhausted { .. })
    ));
    let tcp = alloc.allocate_ports("late", &[port(0, 53, Protocol::Tcp, PublishMode::Ingress)]);
    assert_eq!(
        tcp.expect("tcp is separate")[0].published,
        DYNAMIC_PORT_FIRST
    );
}

#[test]
fn state_round_trips_through_json() {
    let mut alloc = Allocator::default();
    alloc.create_network("a", None).expect("a");
    alloc.allocate_address("a", "t1").expect("t1");
    alloc.allocate_vip("a", "web").expect("vip");
    alloc
        .allocate_ports("web", &[port(0, 80, Protocol::Tcp, PublishMode::Ingress)])
        .expect("ports");
    let json = serde_json::to_value(&alloc).expect("serialize");
    assert_eq!(json["networks"]["a"]["subnet"], "10.0.0.0/24");
    assert_eq!(json["networks"]["a"]["addresses"]["10.0.0.2"], "t1");
    let back: Allocator = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, alloc);
}
