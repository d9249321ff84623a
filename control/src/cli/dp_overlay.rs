//! `shoal dp apply|endpoints|tunnels`: the overlay's desired state and what
//! the pinned tables hold.

use std::{collections::BTreeMap, net::Ipv4Addr, path::Path};

use anyhow::Context as _;
use serde::Serialize;
use shoal_common::overlay::{ENDPOINT_LOCAL, Endpoint, EndpointKey};
use shoal_dataplane::{
    PinPaths,
    node::{self, ApplyReport, DesiredState},
    overlay::{state::Mac, tables::Tables},
};

use super::output::{Format, Table, print};

/// `shoal dp apply FILE`.
pub fn apply(pins: &PinPaths, file: &Path, format: Format) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let state: DesiredState =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    let report = node::apply(pins, &state)?;
    print(format, &report, apply_table)
}

fn apply_table(r: &ApplyReport) -> Table {
    let mut t = Table::new(&["TABLE", "ADDED", "UPDATED", "REMOVED"]);
    for (name, c) in [
        ("networks", r.overlay.networks),
        ("task-ifaces", r.overlay.task_ifaces),
        ("endpoints", r.overlay.endpoints),
        ("peers", r.overlay.peers),
        ("services", r.lb.services),
        ("backends", r.lb.backends),
        ("maglev-tables", r.lb.maglev_tables),
    ] {
        t.row(vec![
            name.into(),
            c.added.to_string(),
            c.updated.to_string(),
            c.removed.to_string(),
        ]);
    }
    let (added, removed) = (r.overlay.veths_created.len(), r.overlay.veths_removed.len());
    t.row(vec![
        "task-veths".into(),
        added.to_string(),
        "0".into(),
        removed.to_string(),
    ]);
    t
}

/// One row of `dp endpoints`.
#[derive(Serialize)]
struct EndpointRow {
    vni: u32,
    ip: Ipv4Addr,
    mac: String,
    kind: &'static str,
    /// Local: host-side ifindex; remote: node underlay address.
    via: String,
}

fn endpoint_row(key: &EndpointKey, ep: &Endpoint) -> EndpointRow {
    let local = ep.kind == ENDPOINT_LOCAL;
    EndpointRow {
        vni: key.vni,
        ip: Ipv4Addr::from(key.ip),
        mac: Mac(ep.mac).to_string(),
        kind: if local { "local" } else { "remote" },
        via: if local {
            format!("ifindex {}", ep.ifindex)
        } else {
            Ipv4Addr::from(ep.node_ip).to_string()
        },
    }
}

/// `shoal dp endpoints`.
pub fn endpoints(pins: &PinPaths, format: Format) -> anyhow::Result<()> {
    let tables = Tables::open(pins)?;
    let rows: Vec<EndpointRow> = tables
        .endpoint_entries()?
        .iter()
        .map(|(k, ep)| endpoint_row(k, ep))
        .collect();
    print(format, &rows, |rows| {
        let mut t = Table::new(&["VNI", "IP", "MAC", "KIND", "VIA"]);
        for r in rows {
            t.row(vec![
                r.vni.to_string(),
                r.ip.to_string(),
                r.mac.clone(),
                r.kind.into(),
                r.via.clone(),
            ]);
        }
        t
    })
}

/// One row of `dp tunnels`: a remote node and what this node sends it.
#[derive(Serialize)]
struct TunnelRow {
    node: Ipv4Addr,
    vnis: Vec<u32>,
    endpoints: usize,
}

/// `shoal dp tunnels`.
pub fn tunnels(pins: &PinPaths, format: Format) -> anyhow::Result<()> {
    let tables = Tables::open(pins)?;
    let mut by_node: BTreeMap<Ipv4Addr, TunnelRow> = BTreeMap::new();
    for (key, ep) in tables.endpoint_entries()? {
        if ep.kind == ENDPOINT_LOCAL {
            continue;
        }
        let node = Ipv4Addr::from(ep.node_ip);
        let row = by_node.entry(node).or_insert(TunnelRow {
            node,
            vnis: Vec::new(),
            endpoints: 0,
        });
        if !row.vnis.contains(&key.vni) {
            row.vnis.push(key.vni);
        }
        row.endpoints += 1;
    }
    let rows: Vec<TunnelRow> = by_node.into_values().collect();
    let local = tables.node_config()?;
    print(format, &rows, |rows| {
        let mut t = Table::new(&["LOCAL", "REMOTE NODE", "VNIS", "ENDPOINTS"]);
        let from = local.map_or("-".to_owned(), |c| {
            Ipv4Addr::from(c.underlay_ip).to_string()
        });
        for r in rows {
            let vnis: Vec<String> = r.vnis.iter().map(u32::to_string).collect();
            t.row(vec![
                from.clone(),
                r.node.to_string(),
                vnis.join(","),
                r.endpoints.to_string(),
            ]);
        }
        t
    })
}
