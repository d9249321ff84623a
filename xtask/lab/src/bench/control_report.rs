//! The control plane section of BENCHMARKS.md: failover time, commit
//! latency and throughput per lab size, and the targets met or missed.

use std::fmt::Write as _;
use std::time::Duration;

use super::report::{Machine, busy_warning};

/// First line of the section; merging replaces the section it starts.
pub const TITLE: &str = "## Control plane (`cargo xtask bench control`)";
/// Failover target, seconds (Swarm's default election takes ~10 s).
const FAILOVER_TARGET_S: f64 = 2.0;
/// Commit latency target at the 99th percentile, ms.
const P99_TARGET_MS: f64 = 10.0;

/// Every run of one lab size.
#[derive(Debug, Clone)]
pub struct SizeRow {
    /// Managers in the lab.
    pub managers: usize,
    /// Kill to first acknowledged write, per run, s.
    pub failover_s: Vec<f64>,
    /// Median commit latency per run, ms.
    pub p50_ms: Vec<f64>,
    /// 99th-percentile commit latency per run, ms.
    pub p99_ms: Vec<f64>,
    /// Sequential writes per second per run.
    pub writes_per_s: Vec<f64>,
}

impl SizeRow {
    /// No runs yet.
    pub fn new(managers: usize) -> Self {
        Self {
            managers,
            failover_s: Vec::new(),
            p50_ms: Vec::new(),
            p99_ms: Vec::new(),
            writes_per_s: Vec::new(),
        }
    }

    /// Adds one run's write latencies (taking `total` in all).
    pub fn push_latencies(&mut self, latencies: &[Duration], total: Duration) {
        self.p50_ms.push(percentile(latencies, 50.0));
        self.p99_ms.push(percentile(latencies, 99.0));
        let secs = total.as_secs_f64();
        if secs > 0.0 {
            self.writes_per_s.push(latencies.len() as f64 / secs);
        }
    }
}

/// A whole run of the benchmark.
#[derive(Debug, Clone)]
pub struct ControlRun {
    /// Where and when.
    pub machine: Machine,
    /// Runs per size.
    pub reps: usize,
    /// Writes timed per run.
    pub writes: usize,
    /// One row per lab size.
    pub rows: Vec<SizeRow>,
}

/// The `p`th percentile of `latencies` in ms (nearest rank).
pub fn percentile(latencies: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * ms.len() as f64).ceil() as usize;
    ms[rank.clamp(1, ms.len()) - 1]
}

/// The median of `values` (NaN if empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn verdict(value: f64, target: f64) -> &'static str {
    if value < target { "met" } else { "**missed**" }
}

const METHOD: &str = "\
Each lab size is one lab of real `shoal daemon`s (release build), one manager
per network namespace on a bridge underlay, mTLS between them; all on this one
machine, so the network adds tens of microseconds and the numbers are CPU and
disk bound. **Commit latency**: sequential `POST /nodes/{id}/update` (a label
change) on the leader's API socket over one keep-alive connection, each write a
raft entry acknowledged after a quorum committed it and the leader applied it;
p50/p99 over the timed writes of a run, writes/s = writes / total time.
**Failover**: SIGKILL of the leader's daemon, then the same write through a
surviving manager (it forwards to whichever leader it finds, retrying) until
one is acknowledged; the time includes noticing the leader is gone (heartbeats
every 100 ms; a follower campaigns after the old leader's lease of 800 ms plus
its own election timeout randomised in 400-800 ms). The old leader is
restarted and every manager ready before the next run. Each cell is the median
over runs.
";

/// The section, markdown.
pub fn render(run: &ControlRun) -> String {
    let m = &run.machine;
    let mut s = format!("{TITLE}\n\n");
    let _ = writeln!(
        s,
        "{}, Linux {}, {} ({} CPUs), {} GiB, load average {} at the start; \
         median of {} run(s), {} writes per run.\n",
        m.date, m.kernel, m.cpu, m.cores, m.mem_gib, m.load, run.reps, run.writes
    );
    if let Some(warning) = busy_warning(m) {
        let _ = writeln!(s, "{warning}\n");
    }
    s.push_str(METHOD);
    s.push_str(
        "\n| Managers | Failover (s) | Commit p50 (ms) | Commit p99 (ms) | Writes/s |\n\
         |---:|---:|---:|---:|---:|\n",
    );
    for row in &run.rows {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.2} | {:.0} |",
            row.managers,
            median(&row.failover_s),
            median(&row.p50_ms),
            median(&row.p99_ms),
            median(&row.writes_per_s)
        );
    }
    s.push_str("\nTargets:\n\n");
    for row in &run.rows {
        let failover = median(&row.failover_s);
        let p99 = median(&row.p99_ms);
        let _ = writeln!(
            s,
            "- {} managers: failover {failover:.2} s < {FAILOVER_TARGET_S} s (Swarm's default \
             election ~10 s): {}; commit p99 {p99:.2} ms < {P99_TARGET_MS} ms: {}.",
            row.managers,
            verdict(failover, FAILOVER_TARGET_S),
            verdict(p99, P99_TARGET_MS)
        );
    }
    let _ = writeln!(
        s,
        "\nPer-run failovers (s): {}.",
        run.rows
            .iter()
            .map(|r| {
                let runs: Vec<String> = r.failover_s.iter().map(|f| format!("{f:.2}")).collect();
                format!("{} managers {}", r.managers, runs.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            date: "2026-11-25".to_owned(),
            kernel: "6.1".to_owned(),
            cpu: "CPU".to_owned(),
            cores: 8,
            mem_gib: 16,
            load: "0.10 0.10 0.10".to_owned(),
        }
    }

    #[test]
    fn percentiles_and_medians() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert!((percentile(&ms, 50.0) - 50.0).abs() < 1e-9);
        assert!((percentile(&ms, 99.0) - 99.0).abs() < 1e-9);
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < 1e-9);
        assert!((median(&[4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-9);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn renders_rows_and_verdicts() {
        let mut three = SizeRow::new(3);
        three.failover_s = vec![1.5, 1.2, 1.9];
        three.push_latencies(&[Duration::from_millis(2); 10], Duration::from_millis(20));
        let mut five = SizeRow::new(5);
        five.failover_s = vec![2.5];
        five.push_latencies(&[Duration::from_millis(12); 10], Duration::from_millis(120));
        let text = render(&ControlRun {
            machine: machine(),
            reps: 3,
            writes: 10,
            rows: vec![three, five],
        });
        assert!(text.starts_with(TITLE), "{text}");
        assert!(text.contains("| 3 | 1.50 | 2.00 | 2.00 | 500 |"), "{text}");
        assert!(text.contains("3 managers: failover 1.50 s < 2 s"), "{text}");
        assert!(text.contains("5 managers: failover 2.50 s < 2 s (Swarm's default election ~10 s): **missed**; commit p99 12.00 ms < 10 ms: **missed**."), "{text}");
    }
}
