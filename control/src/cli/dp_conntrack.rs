//! `shoal dp conntrack`: the flows the load balancer translated and the
//! reply entries that undo or return them, with how long each has been idle.

use std::io::Write as _;

use serde::Serialize;
use shoal_common::egress::SnatEntry;
use shoal_common::lb::{
    CT_CLOSING, CT_DATAGRAM, CT_ESTABLISHED, CT_HALF_CLOSED, CT_SYN_SENT, CtEntry, FlowKey,
    MESH_VNI, REPLY_RETURN_PATH, REPLY_REV_NAT, ReplyEntry,
};
use shoal_dataplane::{
    PinPaths,
    lb::tables::{FlowTables, monotonic_ns},
};

use super::{
    dp_lb::{endpoint, protocol},
    output::{Format, Table},
};

/// A forward conntrack entry.
#[derive(Serialize)]
struct FlowRow {
    client: String,
    /// The client's network (part of the flow's key); `None`: a mesh
    /// client, from outside every network.
    client_vni: Option<u32>,
    service: String,
    protocol: String,
    backend_id: u32,
    backend: String,
    /// The backend's network.
    vni: u32,
    state: &'static str,
    idle_s: u64,
}

/// A reply entry.
#[derive(Serialize)]
struct ReplyRow {
    from: String,
    to: String,
    protocol: String,
    /// The network the reply travels on (the backend's; part of the key).
    vni: u32,
    kind: &'static str,
    /// Rev NAT: the address the client used; return path: the node and VNI.
    restore: String,
    idle_s: u64,
}

/// An egress flow: a task's traffic to outside, sent with the node's
/// address and a NAT port.
#[derive(Serialize)]
struct EgressRow {
    task: String,
    /// The task's network.
    vni: u32,
    remote: String,
    protocol: String,
    /// NAT port (ICMP echo: identifier) on the node's address.
    nat_port: u16,
    state: &'static str,
    idle_s: u64,
}

#[derive(Serialize)]
struct Report {
    flows: Vec<FlowRow>,
    replies: Vec<ReplyRow>,
    egress: Vec<EgressRow>,
}

fn egress_row(k: &FlowKey, e: &SnatEntry, now: u64) -> EgressRow {
    EgressRow {
        task: endpoint(k.src, k.sport),
        vni: k.vni,
        remote: endpoint(k.dst, k.dport),
        protocol: protocol(k.proto),
        nat_port: u16::from_be_bytes(e.nat_port),
        state: state_word(e.state),
        idle_s: idle_s(now, e.last_seen_ns),
    }
}

fn state_word(state: u8) -> &'static str {
    match state {
        CT_SYN_SENT => "syn-sent",
        CT_ESTABLISHED => "established",
        CT_HALF_CLOSED => "half-closed",
        CT_CLOSING => "closing",
        CT_DATAGRAM => "datagram",
        _ => "unknown",
    }
}

/// Seconds since `last_seen_ns` on the programs' clock.
fn idle_s(now_ns: u64, last_seen_ns: u64) -> u64 {
    now_ns.saturating_sub(last_seen_ns) / 1_000_000_000
}

fn flow_row(k: &FlowKey, e: &CtEntry, now: u64) -> FlowRow {
    FlowRow {
        client: endpoint(k.src, k.sport),
        client_vni: (k.vni != MESH_VNI).then_some(k.vni),
        service: endpoint(k.dst, k.dport),
        protocol: protocol(k.proto),
        backend_id: e.backend_id,
        backend: endpoint(e.backend_ip, e.backend_port),
        vni: e.vni,
        state: state_word(e.state),
        idle_s: idle_s(now, e.last_seen_ns),
    }
}

fn reply_row(k: &FlowKey, e: &ReplyEntry, now: u64) -> ReplyRow {
    let (kind, restore) = match e.kind {
        REPLY_REV_NAT => ("rev-nat", endpoint(e.orig_ip, e.orig_port)),
        REPLY_RETURN_PATH => (
            "return-path",
            format!(
                "node {} vni {}",
                std::net::Ipv4Addr::from(e.via_node),
                e.vni
            ),
        ),
        _ => ("unknown", "-".into()),
    };
    ReplyRow {
        from: endpoint(k.src, k.sport),
        to: endpoint(k.dst, k.dport),
        protocol: protocol(k.proto),
        vni: k.vni,
        kind,
        restore,
        idle_s: idle_s(now, e.last_seen_ns),
    }
}

/// `shoal dp conntrack`.
pub fn conntrack(pins: &PinPaths, format: Format) -> anyhow::Result<()> {
    let tables = FlowTables::open(pins)?;
    let now = monotonic_ns();
    let report = Report {
        flows: tables
            .flows()?
            .iter()
            .map(|(k, e)| flow_row(k, e, now))
            .collect(),
        replies: tables
            .replies()?
            .iter()
            .map(|(k, e)| reply_row(k, e, now))
            .collect(),
        egress: tables
            .egress()?
            .iter()
            .map(|(k, e)| egress_row(k, e, now))
            .collect(),
    };
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Table => render(&report),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// Both tables, flows first, separated by a blank line.
fn render(report: &Report) -> String {
    let mut flows = Table::new(&[
        "CLIENT", "FROM", "SERVICE", "PROTO", "BACKEND", "ID", "VNI", "STATE", "IDLE",
    ]);
    for r in &report.flows {
        flows.row(vec![
            r.client.clone(),
            r.client_vni
                .map_or_else(|| "mesh".to_owned(), |v| format!("vni {v}")),
            r.service.clone(),
            r.protocol.clone(),
            r.backend.clone(),
            r.backend_id.to_string(),
            r.vni.to_string(),
            r.state.into(),
            format!("{}s", r.idle_s),
        ]);
    }
    let mut replies = Table::new(&[
        "REPLY FROM",
        "TO",
        "PROTO",
        "VNI",
        "KIND",
        "RESTORE",
        "IDLE",
    ]);
    for r in &report.replies {
        replies.row(vec![
            r.from.clone(),
            r.to.clone(),
            r.protocol.clone(),
            r.vni.to_string(),
            r.kind.into(),
            r.restore.clone(),
            format!("{}s", r.idle_s),
        ]);
    }
    let mut egress = Table::new(&[
        "EGRESS FROM",
        "VNI",
        "TO",
        "PROTO",
        "NAT PORT",
        "STATE",
        "IDLE",
    ]);
    for r in &report.egress {
        egress.row(vec![
            r.task.clone(),
            r.vni.to_string(),
            r.remote.clone(),
            r.protocol.clone(),
            r.nat_port.to_string(),
            r.state.into(),
            format!("{}s", r.idle_s),
        ]);
    }
    format!(
        "{}\n{}\n{}",
        flows.render(),
        replies.render(),
        egress.render()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_show_who_went_where_and_how_long_ago() {
        let key = FlowKey {
            src: [10, 10, 0, 50],
            dst: [10, 10, 0, 100],
            sport: 40000u16.to_be_bytes(),
            dport: 80u16.to_be_bytes(),
            proto: 6,
            _pad: [0; 3],
            vni: 4097,
        };
        let entry = CtEntry {
            last_seen_ns: 1_000_000_000,
            backend_id: 3,
            backend_ip: [10, 10, 0, 5],
            backend_port: 8080u16.to_be_bytes(),
            state: CT_HALF_CLOSED,
            fins: 1,
            vni: 4097,
        };
        let row = flow_row(&key, &entry, 91_500_000_000);
        assert_eq!(
            (
                row.client.as_str(),
                row.service.as_str(),
                row.backend.as_str()
            ),
            ("10.10.0.50:40000", "10.10.0.100:80", "10.10.0.5:8080")
        );
        assert_eq!(
            (row.state, row.idle_s, row.protocol.as_str()),
            ("half-closed", 90, "tcp")
        );
        let text = render(&Report {
            flows: vec![row],
            replies: Vec::new(),
            egress: Vec::new(),
        });
        assert!(text.starts_with("CLIENT "), "{text}");
        assert!(
            text.contains("10.10.0.50:40000   vni 4097   10.10.0.100:80"),
            "the client's network: {text}"
        );
        assert!(
            text.contains("10.10.0.5:8080   3    4097   half-closed   90s"),
            "{text}"
        );
    }

    #[test]
    fn replies_say_what_they_restore() {
        let key = FlowKey {
            src: [10, 10, 0, 5],
            dst: [192, 0, 2, 7],
            sport: 8080u16.to_be_bytes(),
            dport: 5555u16.to_be_bytes(),
            proto: 6,
            _pad: [0; 3],
            vni: 4097,
        };
        let entry = ReplyEntry {
            last_seen_ns: 5,
            kind: REPLY_RETURN_PATH,
            via_node: [198, 18, 0, 11],
            vni: 4097,
            ..Default::default()
        };
        let row = reply_row(&key, &entry, 4);
        assert_eq!(row.kind, "return-path");
        assert_eq!(row.restore, "node 198.18.0.11 vni 4097");
        assert_eq!(
            row.idle_s, 0,
            "a clock behind the entry is not negative idle"
        );
    }

    #[test]
    fn egress_flows_show_the_task_the_remote_end_and_the_nat_port() {
        let key = FlowKey {
            src: [10, 0, 1, 5],
            dst: [198, 18, 0, 200],
            sport: 40000u16.to_be_bytes(),
            dport: 80u16.to_be_bytes(),
            proto: 6,
            _pad: [0; 3],
            vni: 4097,
        };
        let entry = SnatEntry {
            last_seen_ns: 2_000_000_000,
            nat_port: 61234u16.to_be_bytes(),
            state: CT_ESTABLISHED,
            ..Default::default()
        };
        let row = egress_row(&key, &entry, 5_000_000_000);
        assert_eq!(
            (
                row.task.as_str(),
                row.remote.as_str(),
                row.nat_port,
                row.vni
            ),
            ("10.0.1.5:40000", "198.18.0.200:80", 61234, 4097)
        );
        let text = render(&Report {
            flows: Vec::new(),
            replies: Vec::new(),
            egress: vec![row],
        });
        assert!(text.contains("EGRESS FROM"), "{text}");
        assert!(
            text.contains(
                "10.0.1.5:40000   4097   198.18.0.200:80   tcp     61234      established   3s"
            ),
            "{text}"
        );
    }
}
