//! The "Control-plane scale" section of BENCHMARKS.md: what one run of
//! `cargo xtask bench scale` measured, next to Docker's 2015 figures.

use std::fmt::Write as _;
use std::time::Duration;

use super::control_report::percentile;
use super::report::{Machine, busy_warning};

/// First line of the section; merging replaces the section it starts.
pub const SCALE_TITLE: &str = "## Control-plane scale (`cargo xtask bench scale`)";

/// p50 and p99 of a set of latencies, ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// How many samples.
    pub samples: usize,
}

impl Spread {
    /// The spread of `latencies` (NaN when empty).
    pub fn of(latencies: &[Duration]) -> Self {
        Self {
            p50_ms: percentile(latencies, 50.0),
            p99_ms: percentile(latencies, 99.0),
            samples: latencies.len(),
        }
    }
}

/// The leader daemon's use of the machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaderUse {
    /// CPU while the nodes joined, in CPUs (1.0 = one core busy).
    pub join_cpus: f64,
    /// CPU from the first service create to all tasks running.
    pub tasks_cpus: f64,
    /// CPU at rest (every task running, nodes beating).
    pub rest_cpus: f64,
    /// Resident memory at the end, MiB.
    pub rss_mib: f64,
    /// Peak resident memory, MiB.
    pub peak_rss_mib: f64,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct ScaleRun {
    /// The machine.
    pub machine: Machine,
    /// Which `shoal` binary ran the managers (release unless told).
    pub binary: String,
    /// Simulated nodes asked for.
    pub nodes: usize,
    /// The swarm's heartbeat period, seconds.
    pub heartbeat_secs: u64,
    /// Tasks asked for.
    pub tasks: usize,
    /// Services they were spread over.
    pub services: usize,
    /// Nodes that got a certificate.
    pub joined: usize,
    /// Start of the joins → every certificate granted, s.
    pub join_s: f64,
    /// Start of the joins → every node Ready in `node ls`, s.
    pub ready_s: Option<f64>,
    /// First `service create` → the leader's store shows every task
    /// running, s.
    pub running_s: Option<f64>,
    /// Tasks the leader's `/tasks` shows running at the end.
    pub running_in_store: usize,
    /// Whether another manager led at the end (CPU and memory are the
    /// first leader's).
    pub leader_changed: bool,
    /// `service create` sent → the task in its node's assignment.
    pub scheduling: Spread,
    /// `service create` on the leader, while the fleet runs.
    pub create: Spread,
    /// `GET /nodes` on the leader, at rest.
    pub node_ls: Spread,
    /// `GET /services` on the leader, at rest.
    pub service_ls: Spread,
    /// The leader's CPU and memory.
    pub leader: LeaderUse,
    /// Bytes (both ways) between the simulated nodes and the managers,
    /// per node per minute, at rest.
    pub bytes_per_node_min: f64,
    /// Failed calls seen by the nodes: heartbeats, assignment polls,
    /// report batches.
    pub failures: (usize, usize, usize),
}

/// The section as Markdown.
pub fn render(run: &ScaleRun) -> String {
    let m = &run.machine;
    let mut out = format!("{SCALE_TITLE}\n\n");
    let _ = write!(
        out,
        "`cargo xtask bench scale --nodes {} --tasks {} --heartbeat {}` on {} ({}, {} cores, {} GiB, kernel {}, \
         load {} at start), managers running the {} `shoal` binary. Three real manager daemons in a \
         lab; one process in its own namespace simulates the nodes, each a real node to the \
         managers: its own key and certificate from a real join, mTLS connections, a heartbeat each \
         {} s (the swarm's `--dispatcher-heartbeat`), the assignment long poll, its tasks reported preparing → starting → running \
         (no containers). Tasks come from {} services (`sim:1`, no networks, no ports).\n\n",
        run.nodes,
        run.tasks,
        run.heartbeat_secs,
        m.date,
        m.cpu,
        m.cores,
        m.mem_gib,
        m.kernel,
        m.load,
        run.binary,
        run.heartbeat_secs,
        run.services,
    );
    if busy_warning(m).is_some() {
        let _ = write!(
            out,
            "**Busy machine:** load {} on {} CPUs when the run started: managers, simulator \
             and other work shared the cores, so the numbers are an upper bound of the control \
             plane's cost here.\n\n",
            m.load, m.cores
        );
    }
    out.push_str("| measure | value |\n|---|---:|\n");
    let secs = |v: Option<f64>| v.map_or("not reached".to_owned(), |s| format!("{s:.1} s"));
    let rows = [
        (
            "nodes joined (certificate granted)",
            format!("{} of {}", run.joined, run.nodes),
        ),
        (
            "join all nodes (every certificate granted)",
            format!("{:.1} s", run.join_s),
        ),
        (
            "join all nodes (every node Ready in `node ls`)",
            secs(run.ready_s),
        ),
        (
            "create services → all tasks running in the store",
            secs(run.running_s),
        ),
        (
            "tasks running in the store at the end",
            format!("{} of {}", run.running_in_store, run.tasks),
        ),
        (
            "scheduling delay p50 / p99 (create → task in its node's assignment)",
            spread(&run.scheduling),
        ),
        (
            "`service create` (on the leader) p50 / p99",
            spread(&run.create),
        ),
        (
            "`node ls` (`GET /nodes` on the leader) p50 / p99",
            spread(&run.node_ls),
        ),
        (
            "`service ls` (`GET /services` on the leader) p50 / p99",
            spread(&run.service_ls),
        ),
        (
            "leader CPU while joining / creating tasks / at rest",
            format!(
                "{:.2} / {:.2} / {:.2} CPUs",
                run.leader.join_cpus, run.leader.tasks_cpus, run.leader.rest_cpus
            ),
        ),
        (
            "leader memory at the end (peak)",
            format!(
                "{:.0} MiB ({:.0} MiB)",
                run.leader.rss_mib, run.leader.peak_rss_mib
            ),
        ),
        (
            "control traffic at rest, per node",
            format!("{:.1} KiB/min", run.bytes_per_node_min / 1024.0),
        ),
        (
            "failed heartbeats / assignment polls / report batches",
            format!(
                "{} / {} / {}",
                run.failures.0, run.failures.1, run.failures.2
            ),
        ),
    ];
    for (measure, value) in rows {
        let _ = writeln!(out, "| {measure} | {value} |");
    }
    if run.leader_changed {
        out.push_str(
            "\nThe leader changed during the run (elections under load); CPU and memory \
             are those of the first leader.\n",
        );
    }
    out.push_str(
        "\nDocker's 2015 figures for reference (1,000 nodes, 30,000 tasks, a 4-CPU manager): \
         p99 scheduling delay 400 ms, p99 API response 360 ms.\n",
    );
    out
}

fn spread(s: &Spread) -> String {
    if s.samples == 0 {
        return "no samples".to_owned();
    }
    format!(
        "{:.1} / {:.1} ms ({} samples)",
        s.p50_ms, s.p99_ms, s.samples
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            date: "2026-12-07".to_owned(),
            kernel: "6.18".to_owned(),
            cpu: "test CPU".to_owned(),
            cores: 2,
            mem_gib: 8,
            load: "0.10 0.10 0.10".to_owned(),
        }
    }

    #[test]
    fn the_spread_takes_nearest_rank_percentiles() {
        let latencies: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Spread::of(&latencies);
        assert_eq!((s.p50_ms, s.p99_ms, s.samples), (50.0, 99.0, 100));
        assert!(Spread::of(&[]).p50_ms.is_nan());
    }

    #[test]
    fn the_section_starts_with_its_title_and_shows_what_was_not_reached() {
        let run = ScaleRun {
            machine: machine(),
            binary: "release".to_owned(),
            nodes: 100,
            heartbeat_secs: 1,
            tasks: 1000,
            services: 10,
            joined: 100,
            join_s: 3.31,
            ready_s: Some(4.0),
            running_s: None,
            running_in_store: 990,
            leader_changed: true,
            scheduling: Spread::of(&[Duration::from_millis(120)]),
            create: Spread::of(&[Duration::from_millis(30)]),
            node_ls: Spread::of(&[]),
            service_ls: Spread::of(&[Duration::from_millis(2)]),
            leader: LeaderUse::default(),
            bytes_per_node_min: 2048.0,
            failures: (1, 2, 3),
        };
        let text = render(&run);
        assert!(text.starts_with(SCALE_TITLE));
        assert!(text.contains("| join all nodes (every certificate granted) | 3.3 s |"));
        assert!(
            text.contains("| create services → all tasks running in the store | not reached |")
        );
        assert!(text.contains("| tasks running in the store at the end | 990 of 1000 |"));
        assert!(text.contains("no samples"));
        assert!(text.contains("| control traffic at rest, per node | 2.0 KiB/min |"));
        assert!(!text.contains("Busy machine"));
        assert!(text.contains("The leader changed during the run"));
    }
}
