//! `node::apply_services` against real pinned maps: what SERVICES, BACKENDS and MAGLEV
//! hold after an apply (tables compared with the Maglev builder, read both
//! through the mmap-ed area and slot by slot through syscalls), that a
//! re-apply changes nothing, that ids stay put, that draining keeps a
//! backend's entry but takes it out of the tables, and that removal leaves
//! nothing behind. The last test runs the whole `node::apply` in a
//! private network namespace with a veth underlay (this kernel has no
//! dummy driver). Needs root.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test: setup errors fail it loudly"
)]

use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    sync::atomic::{AtomicU32, Ordering},
};

use aya::maps::{Array, HashOfMaps, Map, MapData};
use serde_json::{Value, json};
use shoal_common::{
    lb::{BACKEND_ACTIVE, BACKEND_DRAINING, Backend, MAGLEV_SIZE, PROTO_TCP, Service, ServiceKey},
    maps,
};
use shoal_dataplane::{
    PinPaths,
    lb::{
        self,
        maglev::{self, MaglevBackend},
        tables::LbTables,
    },
    node::{self, DesiredState},
    object::Loaded,
};

/// A throwaway node whose pins are removed on drop, panics included.
struct Node(PinPaths);

impl Node {
    fn new() -> Self {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(unsafe { libc::geteuid() }, 0, "these tests need root");
        static N: AtomicU32 = AtomicU32::new(0);
        // A random part too, so a killed earlier run's pins are never reused.
        let name = format!(
            "lbtest-{}-{}-{:08x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let pins = PinPaths::for_node(&name).unwrap();
        pins.remove_all().unwrap();
        // Loading pins every map of the object, the Maglev outer map included.
        drop(Loaded::load(&pins).unwrap());
        Node(pins)
    }

    fn apply(&self, state: &Value) -> lb::LbReport {
        let state: DesiredState = serde_json::from_value(state.clone()).unwrap();
        node::apply_services(&self.0, &state).unwrap()
    }

    fn tables(&self) -> LbTables {
        LbTables::open(&self.0).unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.remove_all();
    }
}

fn backend(last: u8, draining: bool) -> Value {
    json!({"ip": format!("10.10.0.{last}"), "network": "front", "draining": draining})
}

fn state(web: Vec<Value>, with_api: bool) -> Value {
    let mut services = vec![json!({"name": "web", "vip": "10.10.0.100",
        "ports": [{"port": 80, "target": 8080, "protocol": "tcp"}], "backends": web})];
    let mut published = vec![json!({"port": 8080, "service": "web", "target": 80})];
    if with_api {
        services.push(json!({"name": "api", "vip": "10.10.0.101",
            "ports": [{"port": 53, "protocol": "udp"}], "backends": [backend(8, false)]}));
        published.push(json!({"port": 5353, "protocol": "udp", "service": "api", "target": 53, "mode": "host"}));
    }
    json!({
        "underlay": {"iface": "lo"},
        "networks": [{"name": "front", "vni": 4097, "subnet": "10.10.0.0/24"}],
        "services": services, "published": published,
        "conntrack": {"tcp_established_s": 86400}
    })
}

fn web3() -> Vec<Value> {
    vec![backend(5, false), backend(6, false), backend(7, false)]
}

/// A VIP entry on front (VNI 4097) or, with 0.0.0.0, a published port.
fn key(ip: [u8; 4], port: u16, proto: u8) -> ServiceKey {
    ServiceKey {
        ip,
        port: port.to_be_bytes(),
        proto,
        _pad: 0,
        vni: if ip == [0; 4] { 0 } else { 4097 },
    }
}

const WEB: ServiceKey = ServiceKey {
    ip: [10, 10, 0, 100],
    port: 80u16.to_be_bytes(),
    proto: PROTO_TCP,
    _pad: 0,
    vni: 4097,
};

fn services(t: &LbTables) -> BTreeMap<ServiceKey, Service> {
    t.service_entries().unwrap().into_iter().collect()
}

fn backends(t: &LbTables) -> BTreeMap<u32, Backend> {
    t.backend_entries().unwrap().into_iter().collect()
}

/// The id of the backend at 10.10.0.`last`:`port`.
fn backend_id(t: &LbTables, last: u8, port: u16) -> u32 {
    let all = backends(t);
    let found = all
        .iter()
        .find(|(_, b)| b.ip == [10, 10, 0, last] && b.port == port.to_be_bytes());
    *found.unwrap().0
}

/// Every service with active backends has the table the Maglev builder
/// makes from its active backends' names and ids; the rest have none.
fn check_tables(t: &LbTables) {
    let all = backends(t);
    for (key, svc) in services(t) {
        let table = t.table(svc.id).unwrap();
        if svc.active_backends == 0 {
            assert_eq!(table, None, "{key:?}: no active backend, no table");
            continue;
        }
        let table = table.unwrap().unwrap();
        let ids: std::collections::BTreeSet<u32> = table.iter().copied().collect();
        assert_eq!(ids.len() as u32, svc.active_backends, "{key:?}");
        let list: Vec<MaglevBackend> = ids
            .iter()
            .map(|id| {
                let b = all[id];
                assert_eq!(
                    b.state, BACKEND_ACTIVE,
                    "only active backends are in tables"
                );
                let name = format!("{}:{}", Ipv4Addr::from(b.ip), u16::from_be_bytes(b.port));
                MaglevBackend { name, id: *id }
            })
            .collect();
        assert_eq!(table, maglev::build(&list), "{key:?}: the builder's table");
    }
}

#[test]
fn services_backends_and_tables_are_applied_and_reapplied_as_a_noop() {
    let node = Node::new();
    let report = node.apply(&state(web3(), true));
    assert_eq!(
        (report.services.added, report.backends.added),
        (4, 4),
        "{report:?}"
    );
    // web VIP, web mesh :8080, api VIP; api's host-mode :5353 has no local task.
    assert_eq!(report.maglev_tables.added, 3, "{report:?}");
    assert!(report.conntrack_config_changed);

    let t = node.tables();
    let svcs = services(&t);
    assert_eq!(svcs.len(), 4);
    assert_eq!(svcs[&WEB].active_backends, 3);
    assert_eq!(svcs[&key([0; 4], 8080, PROTO_TCP)].active_backends, 3);
    assert_eq!(svcs[&key([0; 4], 5353, 17)].active_backends, 0);
    let b5 = backends(&t)[&backend_id(&t, 5, 8080)];
    assert_eq!((b5.vni, b5.state), (4097, BACKEND_ACTIVE));
    assert_eq!(t.config().unwrap().tcp_established_s, 86400);
    check_tables(&t);

    // What the programs read: the pinned outer map, slot by slot.
    let outer = MapData::from_pin(node.0.map(maps::MAGLEV)).unwrap();
    let outer: HashOfMaps<MapData, u32, Array<MapData, u32>> =
        HashOfMaps::try_from(Map::HashOfMaps(outer)).unwrap();
    let inner = outer.get(&svcs[&WEB].id, 0).unwrap();
    assert_eq!(inner.len(), MAGLEV_SIZE);
    let mapped = t.table(svcs[&WEB].id).unwrap().unwrap().unwrap();
    for slot in (0..MAGLEV_SIZE).step_by(97).chain([MAGLEV_SIZE - 1]) {
        assert_eq!(
            inner.get(&slot, 0).unwrap(),
            mapped[slot as usize],
            "slot {slot}"
        );
    }
    // A flow goes where the userspace reference says.
    let id = maglev::pick(&mapped, [10, 10, 0, 50], WEB.ip, 40000, 80, PROTO_TCP).unwrap();
    assert!(backends(&t).contains_key(&id));

    let again = node.apply(&state(web3(), true));
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(services(&node.tables()), svcs, "ids unchanged");
}

#[test]
fn draining_removing_and_adding_keep_ids_and_tables_right() {
    let node = Node::new();
    node.apply(&state(web3(), true));
    let t = node.tables();
    let (svcs, bes) = (services(&t), backends(&t));
    let id6 = backend_id(&t, 6, 8080);
    let id8 = backend_id(&t, 8, 53);

    // Drain .6: both web tables rebuilt without it, its entry stays.
    let drained = vec![backend(5, false), backend(6, true), backend(7, false)];
    let report = node.apply(&state(drained.clone(), true));
    assert_eq!(report.maglev_tables.updated, 2, "{report:?}");
    assert_eq!(report.backends.updated, 1, "{report:?}");
    let t = node.tables();
    assert_eq!(backends(&t)[&id6].state, BACKEND_DRAINING);
    assert_eq!(services(&t)[&WEB].active_backends, 2);
    assert!(
        !t.table(svcs[&WEB].id)
            .unwrap()
            .unwrap()
            .unwrap()
            .contains(&id6)
    );
    check_tables(&t);
    assert!(node.apply(&state(drained.clone(), true)).is_noop());

    // Remove api and its published port: two entries, one backend, one table.
    let report = node.apply(&state(drained.clone(), false));
    assert_eq!(report.services.removed, 2, "{report:?}");
    assert_eq!(
        (report.backends.removed, report.maglev_tables.removed),
        (1, 1),
        "{report:?}"
    );
    let t = node.tables();
    assert!(!backends(&t).contains_key(&id8));
    assert_eq!(
        t.table(svcs[&key([10, 10, 0, 101], 53, 17)].id).unwrap(),
        None
    );
    assert_eq!(
        services(&t)[&WEB],
        Service {
            id: svcs[&WEB].id,
            active_backends: 2
        }
    );
    for (id, b) in backends(&t) {
        assert_eq!(bes[&id].ip, b.ip, "backend {id} kept its id");
    }
    check_tables(&t);

    // A new backend takes the lowest free id: the one api's backend had.
    let mut grown = drained;
    grown.push(backend(9, false));
    node.apply(&state(grown, false));
    let t = node.tables();
    assert_eq!(backend_id(&t, 9, 8080), id8);
    assert_eq!(services(&t)[&WEB].active_backends, 3);
    check_tables(&t);

    // No services: everything goes.
    let mut empty = state(vec![], false);
    empty["services"] = json!([]);
    empty["published"] = json!([]);
    node.apply(&empty);
    let t = node.tables();
    assert!(services(&t).is_empty() && backends(&t).is_empty());
    assert!(t.table_ids().unwrap().is_empty());
}

#[test]
fn a_service_whose_backends_all_drain_loses_its_table_but_not_its_id() {
    let node = Node::new();
    node.apply(&state(vec![backend(5, false)], false));
    let id = services(&node.tables())[&WEB].id;
    let report = node.apply(&state(vec![backend(5, true)], false));
    assert_eq!(report.maglev_tables.removed, 2, "{report:?}");
    let t = node.tables();
    assert_eq!(
        services(&t)[&WEB],
        Service {
            id,
            active_backends: 0
        }
    );
    assert_eq!(t.table(id).unwrap(), None);
    let report = node.apply(&state(vec![backend(5, false)], false));
    assert_eq!(report.maglev_tables.added, 2, "{report:?}");
    check_tables(&node.tables());
}

/// The whole `node::apply`, which calls the load balancer after the
/// endpoints: in a private network namespace (on its own thread) with a
/// veth underlay (this kernel has no dummy driver), so nothing is attached
/// to the host's interfaces.
#[test]
fn node_apply_programs_the_services_too() {
    let node = Node::new();
    let pins = node.0.clone();
    std::thread::spawn(move || {
        // SAFETY: unshare affects only this thread's network namespace.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
        for args in [
            "link add u0 type veth peer name u1",
            "addr add 198.18.0.1/24 dev u0",
            "link set u0 up",
            "link set u1 up",
        ] {
            let ok = std::process::Command::new("ip")
                .args(args.split(' '))
                .status()
                .unwrap();
            assert!(ok.success(), "ip {args}");
        }
        let mut s = state(web3(), true);
        s["underlay"]["iface"] = json!("u0");
        let s: DesiredState = serde_json::from_value(s).unwrap();
        let report = node::apply(&pins, &s).unwrap();
        assert_eq!(report.lb.services.added, 4, "{report:?}");
        assert_eq!(report.lb.maglev_tables.added, 3, "{report:?}");
        let again = node::apply(&pins, &s).unwrap();
        assert!(again.is_noop(), "{again:?}");
    })
    .join()
    .unwrap();
    check_tables(&node.tables());
}
