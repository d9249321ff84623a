//! A [`Snapshot`] in Prometheus' text exposition format. A fresh registry
//! per scrape: every value is read at scrape time, so nothing is kept
//! between scrapes and counters are the data plane's own totals.

use prometheus_client::encoding::text::encode as encode_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::snapshot::{ClusterCounts, FlowCounts, RaftGauges, Snapshot};

type Labels = Vec<(&'static str, String)>;

/// The exposition of `snapshot`, every name prefixed `shoal_`.
pub(crate) fn encode(snapshot: &Snapshot) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("shoal");
    register_dp(&mut registry, snapshot);
    if let Some(flows) = snapshot.flows {
        register_flows(&mut registry, flows);
    }
    if let Some(raft) = snapshot.raft {
        register_raft(&mut registry, raft);
    }
    if let Some(cluster) = &snapshot.cluster {
        register_cluster(&mut registry, cluster);
    }
    let mut text = String::new();
    encode_text(&mut text, &registry)?;
    Ok(text)
}

fn gauge(value: u64) -> Gauge {
    let gauge = Gauge::default();
    gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
    gauge
}

fn counters(registry: &mut Registry, name: &str, help: &str, rows: &[(Labels, u64)]) {
    let family = Family::<Labels, Counter>::default();
    for (labels, value) in rows {
        family.get_or_create(labels).inc_by(*value);
    }
    registry.register(name, help, family);
}

fn gauges(registry: &mut Registry, name: &str, help: &str, rows: &[(Labels, u64)]) {
    let family = Family::<Labels, Gauge>::default();
    for (labels, value) in rows {
        family
            .get_or_create(labels)
            .set(i64::try_from(*value).unwrap_or(i64::MAX));
    }
    registry.register(name, help, family);
}

fn register_dp(registry: &mut Registry, snapshot: &Snapshot) {
    let loaded = u64::from(snapshot.dp.is_some());
    registry.register(
        "dp_loaded",
        "Whether this node's data plane is loaded (its pinned counters readable)",
        gauge(loaded),
    );
    let Some(report) = &snapshot.dp else { return };
    let (drops, seen): (Vec<_>, Vec<_>) = report.rows.iter().partition(|row| row.drop);
    let rows =
        |rows: &[&shoal_dataplane::stats::StatRow], key, bytes: bool| -> Vec<(Labels, u64)> {
            rows.iter()
                .map(|r| {
                    let value = if bytes { r.bytes } else { r.packets };
                    (vec![(key, r.counter.to_owned())], value)
                })
                .collect()
        };
    let help = "Packets the data plane counted, by counter";
    counters(registry, "dp_packets", help, &rows(&seen, "counter", false));
    let help = "Bytes the data plane counted, by counter";
    counters(registry, "dp_bytes", help, &rows(&seen, "counter", true));
    let help = "Packets the data plane dropped, by reason";
    counters(registry, "dp_drops", help, &rows(&drops, "reason", false));
    let help = "Bytes the data plane dropped, by reason";
    counters(
        registry,
        "dp_dropped_bytes",
        help,
        &rows(&drops, "reason", true),
    );
}

fn register_flows(registry: &mut Registry, flows: FlowCounts) {
    let help = "Entries in the load balancer's conntrack table";
    registry.register("dp_conntrack_entries", help, gauge(flows.conntrack));
    let help = "Entries in the load balancer's reply (reverse NAT, return path) table";
    registry.register("dp_reply_entries", help, gauge(flows.replies));
}

fn register_raft(registry: &mut Registry, raft: RaftGauges) {
    let rows: [(&str, &str, u64); 6] = [
        ("raft_term", "This manager's current raft term", raft.term),
        (
            "raft_leader",
            "Whether this manager is the raft leader",
            u64::from(raft.is_leader),
        ),
        (
            "raft_has_leader",
            "Whether this manager knows a raft leader",
            u64::from(raft.has_leader),
        ),
        (
            "raft_last_log_index",
            "Index of the last raft log entry this manager holds",
            raft.last_log_index,
        ),
        (
            "raft_last_applied_index",
            "Index of the last raft entry applied to this manager's store",
            raft.last_applied_index,
        ),
        (
            "raft_apply_lag",
            "Raft entries this manager holds but has not applied yet",
            raft.last_log_index.saturating_sub(raft.last_applied_index),
        ),
    ];
    for (name, help, value) in rows {
        registry.register(name, help, gauge(value));
    }
}

fn register_cluster(registry: &mut Registry, cluster: &ClusterCounts) {
    let tasks: Vec<(Labels, u64)> = cluster
        .tasks
        .iter()
        .map(|((service, state), n)| {
            (
                vec![("service", service.clone()), ("state", (*state).to_owned())],
                *n,
            )
        })
        .collect();
    gauges(
        registry,
        "tasks",
        "Tasks in the store, by service and state",
        &tasks,
    );
    let nodes: Vec<(Labels, u64)> = cluster
        .nodes
        .iter()
        .map(|((role, status, availability), n)| {
            let labels = vec![
                ("role", (*role).to_owned()),
                ("status", (*status).to_owned()),
                ("availability", (*availability).to_owned()),
            ];
            (labels, *n)
        })
        .collect();
    gauges(
        registry,
        "nodes",
        "Nodes in the swarm, by role, status and availability",
        &nodes,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_nodes_and_raft_are_exposed_with_their_labels() {
        let mut cluster = ClusterCounts::default();
        cluster.tasks.insert(("web".to_owned(), "running"), 3);
        cluster.tasks.insert(("web".to_owned(), "failed"), 1);
        cluster.nodes.insert(("worker", "down", "active"), 2);
        let snapshot = Snapshot {
            raft: Some(RaftGauges {
                term: 4,
                is_leader: true,
                has_leader: true,
                last_log_index: 10,
                last_applied_index: 7,
            }),
            cluster: Some(cluster),
            ..Snapshot::default()
        };
        let text = encode(&snapshot).expect("encode");
        for line in [
            r#"shoal_tasks{service="web",state="running"} 3"#,
            r#"shoal_tasks{service="web",state="failed"} 1"#,
            r#"shoal_nodes{role="worker",status="down",availability="active"} 2"#,
            "shoal_raft_term 4",
            "shoal_raft_leader 1",
            "shoal_raft_apply_lag 3",
            "shoal_dp_loaded 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        // No data plane: no made-up counters.
        assert!(!text.contains("shoal_dp_drops"), "{text}");
    }
}
