use serde::Deserialize;
use shoal_common::lb::{PROTO_TCP, PROTO_UDP};

use super::*;
use crate::{
    lb::state::{ConntrackSpec, PublishedPort},
    overlay::state::{LocalEndpoint, NetworkSpec},
};

/// The parts of a desired state a plan reads, owned (the whole state is
/// the node's, above this module).
#[derive(Deserialize)]
struct State {
    networks: Vec<NetworkSpec>,
    endpoints: Vec<LocalEndpoint>,
    services: Vec<ServiceSpec>,
    published: Vec<PublishedPort>,
    #[serde(default)]
    conntrack: ConntrackSpec,
}

impl State {
    fn view(&self) -> LbView<'_> {
        LbView {
            vxlan_port: shoal_common::overlay::VXLAN_PORT,
            networks: &self.networks,
            endpoints: &self.endpoints,
            remote_endpoints: &[],
            services: &self.services,
            published: &self.published,
            conntrack: &self.conntrack,
        }
    }
}

fn state() -> State {
    let json = r#"{"networks": [{"name": "front", "vni": 4097, "subnet": "10.10.0.0/24"}],
        "endpoints": [{"id": "t1", "netns": "t1", "network": "front", "ip": "10.10.0.5"}],
        "services": [{"name": "web", "vip": "10.10.0.100",
            "ports": [{"port": 80, "target": 8080}, {"port": 53, "protocol": "udp"}],
            "backends": [{"ip": "10.10.0.5", "network": "front"},
                         {"ip": "10.10.0.6", "network": "front"},
                         {"ip": "10.10.0.7", "network": "front", "draining": true}]}],
        "published": [{"port": 8080, "service": "web", "target": 80},
                      {"port": 5353, "protocol": "udp", "service": "web", "target": 53, "mode": "host"}]}"#;
    let s: State = serde_json::from_str(json).unwrap();
    s.view().validate().unwrap();
    s
}

fn ips(backends: &[PlannedBackend]) -> Vec<(String, u16, bool)> {
    backends
        .iter()
        .map(|b| (b.addr.ip.to_string(), b.addr.port, b.active))
        .collect()
}

#[test]
fn vip_ports_and_published_ports_become_service_entries() {
    let p = plan(&state().view());
    let vip = Ipv4Addr::new(10, 10, 0, 100);
    let keys: Vec<ServiceKey> = p.services.keys().copied().collect();
    assert_eq!(keys.len(), 4);
    let web80 = &p.services[&service_key(4097, vip, 80, PROTO_TCP)];
    assert_eq!(
        ips(web80),
        [
            ("10.10.0.5".into(), 8080, true),
            ("10.10.0.6".into(), 8080, true),
            ("10.10.0.7".into(), 8080, false)
        ]
    );
    assert!(web80.iter().all(|b| b.addr.vni == 4097));
    let mesh = &p.services[&service_key(MESH_VNI, Ipv4Addr::UNSPECIFIED, 8080, PROTO_TCP)];
    assert_eq!(
        ips(mesh),
        ips(web80),
        "ingress: every backend, target port of port 80"
    );
    let host = &p.services[&service_key(MESH_VNI, Ipv4Addr::UNSPECIFIED, 5353, PROTO_UDP)];
    assert_eq!(
        ips(host),
        [("10.10.0.5".into(), 53, true)],
        "host: local tasks only"
    );
}

#[test]
fn backends_are_shared_by_address_and_active_if_any_entry_uses_them() {
    let p = plan(&state().view());
    let addrs = p.backend_addrs();
    assert_eq!(addrs.len(), 6, "three tasks × two target ports");
    let ids: BTreeMap<BackendAddr, u32> = addrs.iter().zip(1..).map(|(a, i)| (*a, i)).collect();
    let values = p.backend_values(&ids);
    let drained = BackendAddr {
        ip: Ipv4Addr::new(10, 10, 0, 7),
        port: 8080,
        vni: 4097,
    };
    assert_eq!(values[&ids[&drained]].state, BACKEND_DRAINING);
    assert_eq!(values[&ids[&drained]].port, 8080u16.to_be_bytes());
    assert_eq!(
        values
            .values()
            .filter(|b| b.state == BACKEND_ACTIVE)
            .count(),
        4
    );
}

#[test]
fn tables_hold_active_backends_and_services_count_them() {
    let p = plan(&state().view());
    let sids: BTreeMap<ServiceKey, u32> =
        p.services.keys().zip(1..).map(|(k, i)| (*k, i)).collect();
    let bids: BTreeMap<BackendAddr, u32> = p
        .backend_addrs()
        .iter()
        .zip(1..)
        .map(|(a, i)| (*a, i))
        .collect();
    let tables = p.tables(&sids, &bids);
    let services = p.service_values(&sids);
    for (key, svc) in &services {
        let table = &tables[&svc.id];
        let distinct: BTreeSet<u32> = table.iter().copied().collect();
        assert_eq!(distinct.len() as u32, svc.active_backends, "{key:?}");
        for id in distinct {
            let addr = bids.iter().find(|(_, i)| **i == id).unwrap().0;
            assert_ne!(
                addr.ip,
                Ipv4Addr::new(10, 10, 0, 7),
                "draining is not in a table"
            );
        }
    }
}

#[test]
fn a_service_without_active_backends_has_an_empty_table() {
    let mut s = state();
    for b in &mut s.services[0].backends {
        b.draining = true;
    }
    let p = plan(&s.view());
    let sids: BTreeMap<ServiceKey, u32> =
        p.services.keys().zip(1..).map(|(k, i)| (*k, i)).collect();
    let bids = p
        .backend_addrs()
        .iter()
        .zip(1..)
        .map(|(a, i)| (*a, i))
        .collect();
    assert!(p.tables(&sids, &bids).values().all(Vec::is_empty));
    assert!(
        p.service_values(&sids)
            .values()
            .all(|s| s.active_backends == 0)
    );
}

#[test]
fn the_same_vip_on_two_networks_gets_an_entry_per_network() {
    let json = r#"{"networks": [{"name": "a", "vni": 11, "subnet": "10.10.0.0/24"},
                                {"name": "b", "vni": 12, "subnet": "10.10.0.0/24"}],
        "endpoints": [],
        "services": [{"name": "web@a", "vip": "10.10.0.100", "network": "a",
                      "ports": [{"port": 80}], "backends": [{"ip": "10.10.0.5", "network": "a"}]},
                     {"name": "web@b", "vip": "10.10.0.100", "network": "b",
                      "ports": [{"port": 80}], "backends": [{"ip": "10.10.0.6", "network": "b"}]}],
        "published": []}"#;
    let s: State = serde_json::from_str(json).unwrap();
    s.view().validate().unwrap();
    let p = plan(&s.view());
    let vip = Ipv4Addr::new(10, 10, 0, 100);
    let on_a = &p.services[&service_key(11, vip, 80, PROTO_TCP)];
    let on_b = &p.services[&service_key(12, vip, 80, PROTO_TCP)];
    assert_eq!(ips(on_a), [("10.10.0.5".into(), 80, true)]);
    assert_eq!(ips(on_b), [("10.10.0.6".into(), 80, true)]);
    assert_eq!(
        p.vip_values(),
        [(vip.octets(), 2)].into_iter().collect(),
        "one VIP, on two networks"
    );
}
