use super::*;

fn backend(last: u8, port: u16) -> Backend {
    Backend {
        ip: [10, 10, 0, last],
        port: port.to_be_bytes(),
        _pad: [0; 2],
        vni: 4097,
        state: BACKEND_ACTIVE,
    }
}

fn key(ip: [u8; 4], port: u16) -> ServiceKey {
    ServiceKey {
        ip,
        port: port.to_be_bytes(),
        proto: PROTO_TCP,
        _pad: 0,
        vni: if ip == [0; 4] { MESH_VNI } else { 4097 },
    }
}

fn row(ip: [u8; 4], port: u16, ids: &[u32], backends: &BTreeMap<u32, Backend>) -> ServiceRow {
    let svc = Service {
        id: 7,
        active_backends: ids.len() as u32,
    };
    service_row(
        &key(ip, port),
        &svc,
        &ids.iter().copied().collect(),
        backends,
    )
}

fn pool() -> BTreeMap<u32, Backend> {
    (1..=6u8)
        .map(|i| (u32::from(i), backend(i + 4, 8080)))
        .collect()
}

#[test]
fn vip_and_mesh_entries_read_like_addresses() {
    let backends = pool();
    let vip = row([10, 10, 0, 100], 80, &[1, 2], &backends);
    assert_eq!(vip.address(), "10.10.0.100:80/tcp");
    assert_eq!(vip.backend_cell(), "10.10.0.5:8080,10.10.0.6:8080");
    let mesh = row([0; 4], 8080, &[], &backends);
    assert_eq!(mesh.address(), "mesh :8080/tcp");
    assert_eq!(mesh.backend_cell(), "-");
    let json = serde_json::to_value(&mesh).unwrap();
    assert!(json["vip"].is_null());
    assert!(json["vni"].is_null(), "mesh entries belong to no network");
    let json = serde_json::to_value(&vip).unwrap();
    assert_eq!(json["vni"], 4097, "a VIP answers its network only");
}

#[test]
fn long_backend_lists_are_cut_in_tables_only() {
    let backends = pool();
    let vip = row([10, 10, 0, 100], 80, &[1, 2, 3, 4, 5, 6], &backends);
    assert!(
        vip.backend_cell().ends_with(",+2 more"),
        "{}",
        vip.backend_cell()
    );
    assert_eq!(vip.backends.len(), 6);
}

#[test]
fn a_published_port_names_the_vip_it_serves() {
    let backends = pool();
    let vips = vec![
        row([10, 10, 0, 100], 80, &[1, 2, 3], &backends),
        row([10, 10, 0, 101], 80, &[4], &backends),
    ];
    let host_mode = row([0; 4], 8080, &[2], &backends);
    assert_eq!(serving_vips(&host_mode, &vips), ["10.10.0.100:80/tcp"]);
    let nothing_local = row([0; 4], 8081, &[], &backends);
    assert!(serving_vips(&nothing_local, &vips).is_empty());
}
