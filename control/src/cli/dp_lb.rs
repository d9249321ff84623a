//! `shoal dp services|backends|mesh`: what the load balancer's
//! pinned maps hold. Names and publish modes live in the desired state,
//! not in the maps; these commands show what the data path acts on.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::Ipv4Addr,
};

use serde::Serialize;
use shoal_common::lb::{
    BACKEND_ACTIVE, BACKEND_DRAINING, Backend, MESH_VNI, PROTO_TCP, PROTO_UDP, Service, ServiceKey,
};
use shoal_dataplane::{PinPaths, lb::tables::LbTables};

use super::output::{Format, Table, print};

/// Backend addresses shown in a table cell before "+N more".
const CELL_BACKENDS: usize = 4;

/// One backend as the commands show it.
#[derive(Clone, Serialize)]
struct BackendRow {
    id: u32,
    ip: Ipv4Addr,
    port: u16,
    vni: u32,
    state: &'static str,
}

fn backend_row(id: u32, b: &Backend) -> BackendRow {
    BackendRow {
        id,
        ip: Ipv4Addr::from(b.ip),
        port: u16::from_be_bytes(b.port),
        vni: b.vni,
        state: match b.state {
            BACKEND_ACTIVE => "active",
            BACKEND_DRAINING => "draining",
            _ => "unknown",
        },
    }
}

/// One service entry: a VIP port or a published (mesh) port.
#[derive(Serialize)]
struct ServiceRow {
    /// `None` for a published port (any of the node's addresses).
    vip: Option<Ipv4Addr>,
    /// The VIP's network, the only one whose tasks it answers; `None` for a
    /// published port (mesh clients come from outside every network).
    vni: Option<u32>,
    port: u16,
    protocol: String,
    id: u32,
    active_backends: u32,
    /// Backends in the Maglev table, by id.
    backends: Vec<BackendRow>,
}

impl ServiceRow {
    fn address(&self) -> String {
        match self.vip {
            Some(vip) => format!("{vip}:{}/{}", port_text(self.port), self.protocol),
            None => format!("mesh :{}/{}", self.port, self.protocol),
        }
    }

    fn backend_cell(&self) -> String {
        let mut shown: Vec<String> = self
            .backends
            .iter()
            .take(CELL_BACKENDS)
            .map(|b| format!("{}:{}", b.ip, port_text(b.port)))
            .collect();
        if self.backends.len() > CELL_BACKENDS {
            shown.push(format!("+{} more", self.backends.len() - CELL_BACKENDS));
        }
        if shown.is_empty() {
            "-".into()
        } else {
            shown.join(",")
        }
    }
}

/// A protocol number as a word.
pub(super) fn protocol(proto: u8) -> String {
    match proto {
        PROTO_TCP => "tcp".into(),
        PROTO_UDP => "udp".into(),
        other => other.to_string(),
    }
}

/// A port as the tables show it: `*` for a VIP's every-port entry (and its
/// backends, which keep the flow's port).
fn port_text(port: u16) -> String {
    if port == 0 {
        "*".to_owned()
    } else {
        port.to_string()
    }
}

/// `ip:port` from map bytes (both network order).
pub(super) fn endpoint(ip: [u8; 4], port: [u8; 2]) -> String {
    format!("{}:{}", Ipv4Addr::from(ip), u16::from_be_bytes(port))
}

/// Every service entry with the backends its table holds.
fn service_rows(t: &LbTables) -> anyhow::Result<Vec<ServiceRow>> {
    let backends: BTreeMap<u32, Backend> = t.backend_entries()?.into_iter().collect();
    let mut rows = Vec::new();
    for (key, svc) in t.service_entries()? {
        let ids: BTreeSet<u32> = t
            .table(svc.id)?
            .flatten()
            .unwrap_or_default()
            .into_iter()
            .collect();
        rows.push(service_row(&key, &svc, &ids, &backends));
    }
    Ok(rows)
}

fn service_row(
    key: &ServiceKey,
    svc: &Service,
    ids: &BTreeSet<u32>,
    backends: &BTreeMap<u32, Backend>,
) -> ServiceRow {
    let ip = Ipv4Addr::from(key.ip);
    ServiceRow {
        vip: (!ip.is_unspecified()).then_some(ip),
        vni: (key.vni != MESH_VNI).then_some(key.vni),
        port: u16::from_be_bytes(key.port),
        protocol: protocol(key.proto),
        id: svc.id,
        active_backends: svc.active_backends,
        backends: ids
            .iter()
            .filter_map(|id| backends.get(id).map(|b| backend_row(*id, b)))
            .collect(),
    }
}

/// `shoal dp services`.
pub fn services(pins: &PinPaths, format: Format) -> anyhow::Result<()> {
    let rows = service_rows(&LbTables::open(pins)?)?;
    print(format, &rows, |rows| {
        let mut t = Table::new(&["SERVICE", "VNI", "ID", "ACTIVE", "BACKENDS"]);
        for r in rows {
            t.row(vec![
                r.address(),
                r.vni.map_or_else(|| "-".to_owned(), |v| v.to_string()),
                r.id.to_string(),
                r.active_backends.to_string(),
                r.backend_cell(),
            ]);
        }
        t
    })
}

/// `shoal dp backends`.
pub fn backends(pins: &PinPaths, format: Format) -> anyhow::Result<()> {
    let tables = LbTables::open(pins)?;
    let rows: Vec<BackendRow> = tables
        .backend_entries()?
        .iter()
        .map(|(id, b)| backend_row(*id, b))
        .collect();
    print(format, &rows, |rows| {
        let mut t = Table::new(&["ID", "BACKEND", "VNI", "STATE"]);
        for r in rows {
            t.row(vec![
                r.id.to_string(),
                format!("{}:{}", r.ip, r.port),
                r.vni.to_string(),
                r.state.into(),
            ]);
        }
        t
    })
}

/// One row of `dp mesh`: a published port.
#[derive(Serialize)]
struct MeshRow {
    #[serde(flatten)]
    entry: ServiceRow,
    /// VIP entries whose backends include all of this port's: the service
    /// it publishes (the maps hold no names).
    serves: Vec<String>,
}

/// `shoal dp mesh`.
pub fn mesh(pins: &PinPaths, format: Format) -> anyhow::Result<()> {
    let all = service_rows(&LbTables::open(pins)?)?;
    let (published, vips): (Vec<ServiceRow>, Vec<ServiceRow>) =
        all.into_iter().partition(|r| r.vip.is_none());
    let rows: Vec<MeshRow> = published
        .into_iter()
        .map(|entry| {
            let serves = serving_vips(&entry, &vips);
            MeshRow { entry, serves }
        })
        .collect();
    print(format, &rows, |rows| {
        let mut t = Table::new(&["PUBLISHED", "ID", "SERVES", "ACTIVE", "BACKENDS"]);
        for r in rows {
            let serves = if r.serves.is_empty() {
                "-".to_owned()
            } else {
                r.serves.join(",")
            };
            t.row(vec![
                format!("{}/{}", r.entry.port, r.entry.protocol),
                r.entry.id.to_string(),
                serves,
                r.entry.active_backends.to_string(),
                r.entry.backend_cell(),
            ]);
        }
        t
    })
}

/// The VIP entries whose backend addresses include all of `entry`'s.
fn serving_vips(entry: &ServiceRow, vips: &[ServiceRow]) -> Vec<String> {
    let addrs = |r: &ServiceRow| -> BTreeSet<(Ipv4Addr, u16, u32)> {
        r.backends.iter().map(|b| (b.ip, b.port, b.vni)).collect()
    };
    let mine = addrs(entry);
    if mine.is_empty() {
        return Vec::new();
    }
    vips.iter()
        .filter(|v| v.protocol == entry.protocol && mine.is_subset(&addrs(v)))
        .map(ServiceRow::address)
        .collect()
}

#[cfg(test)]
#[path = "dp_lb_tests.rs"]
mod tests;
