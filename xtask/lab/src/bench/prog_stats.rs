//! Where the time goes, per eBPF program: with `kernel.bpf_stats_enabled`
//! the kernel counts each program's runs and their total run time;
//! `bpftool prog show` reads them. A snapshot before and after a
//! measurement gives each of shoal's programs its runs and nanoseconds per
//! run (one run is one packet through that hook) — no hardware counters
//! needed, which these VMs do not have.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context as _, Result};

/// Runs and total run time of one program (summed over every instance of
/// the same name, e.g. one per lab node).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgTime {
    /// Times it ran.
    pub runs: u64,
    /// Nanoseconds it ran in total.
    pub ns: u64,
}

/// Per-packet cost of one program over a measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgCost {
    /// The program's name (`shoal_…`, as the kernel keeps it: 15 chars).
    pub name: String,
    /// Packets it saw.
    pub runs: u64,
    /// Nanoseconds per packet.
    pub ns_per_run: f64,
}

/// Turns the kernel's run-time accounting on until dropped (then back to
/// what it was).
pub struct StatsOn {
    before: String,
}

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl StatsOn {
    /// Switches the accounting on.
    pub fn enable() -> Result<StatsOn> {
        let before = std::fs::read_to_string(SYSCTL).context("reading bpf_stats_enabled")?;
        std::fs::write(SYSCTL, "1").context("enabling bpf_stats")?;
        Ok(StatsOn {
            before: before.trim().to_owned(),
        })
    }
}

impl Drop for StatsOn {
    fn drop(&mut self) {
        let _ = std::fs::write(SYSCTL, &self.before);
    }
}

/// The run counts of every loaded program whose name starts with `shoal`.
pub fn snapshot() -> Result<BTreeMap<String, ProgTime>> {
    let out = Command::new("bpftool")
        .args(["-j", "prog", "show"])
        .output()
        .context("running bpftool prog show")?;
    anyhow::ensure!(out.status.success(), "bpftool prog show failed");
    parse(&out.stdout)
}

/// `bpftool -j prog show` output, summed by name.
fn parse(json: &[u8]) -> Result<BTreeMap<String, ProgTime>> {
    let progs: Vec<serde_json::Value> = serde_json::from_slice(json).context("bpftool's JSON")?;
    let mut times: BTreeMap<String, ProgTime> = BTreeMap::new();
    for prog in progs {
        let Some(name) = prog["name"].as_str().filter(|n| n.starts_with("shoal")) else {
            continue;
        };
        let time = times.entry(name.to_owned()).or_default();
        time.runs += prog["run_cnt"].as_u64().unwrap_or(0);
        time.ns += prog["run_time_ns"].as_u64().unwrap_or(0);
    }
    Ok(times)
}

/// What ran between `before` and `after`, busiest first.
pub fn costs(
    before: &BTreeMap<String, ProgTime>,
    after: &BTreeMap<String, ProgTime>,
) -> Vec<ProgCost> {
    let mut costs: Vec<ProgCost> = after
        .iter()
        .filter_map(|(name, a)| {
            let b = before.get(name).copied().unwrap_or_default();
            let runs = a.runs.saturating_sub(b.runs);
            let ns = a.ns.saturating_sub(b.ns);
            (runs > 0).then(|| ProgCost {
                name: name.clone(),
                runs,
                #[expect(clippy::cast_precision_loss, reason = "a ratio for a report")]
                ns_per_run: ns as f64 / runs as f64,
            })
        })
        .collect();
    costs.sort_by_key(|c| std::cmp::Reverse(c.runs));
    costs
}

/// The costs as a markdown table.
pub fn render(costs: &[ProgCost]) -> String {
    let mut s = String::from("| program | packets | ns/packet |\n|---|---:|---:|\n");
    for c in costs {
        s.push_str(&format!(
            "| {} | {} | {:.0} |\n",
            c.name, c.runs, c.ns_per_run
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_per_program_name_summed_over_instances() {
        let before = parse(
            br#"[{"name":"shoal_underlay","run_cnt":10,"run_time_ns":1000},
                 {"name":"shoal_underlay","run_cnt":5,"run_time_ns":500},
                 {"name":"other","run_cnt":99,"run_time_ns":99}]"#,
        )
        .unwrap();
        assert_eq!(before.len(), 1, "only shoal's programs");
        let after = parse(
            br#"[{"name":"shoal_underlay","run_cnt":20,"run_time_ns":2500},
                 {"name":"shoal_underlay","run_cnt":15,"run_time_ns":2000},
                 {"name":"shoal_task_tc","run_cnt":4,"run_time_ns":400}]"#,
        )
        .unwrap();
        let costs = costs(&before, &after);
        assert_eq!(costs.len(), 2);
        assert_eq!(
            (costs[0].name.as_str(), costs[0].runs),
            ("shoal_underlay", 20)
        );
        assert!((costs[0].ns_per_run - 150.0).abs() < 1e-9, "{costs:?}");
        assert!((costs[1].ns_per_run - 100.0).abs() < 1e-9);
        assert!(render(&costs).contains("| shoal_underlay | 20 | 150 |"));
    }
}
