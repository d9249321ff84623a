//! BENCHMARKS.md: the machine a run was on, the overlay results table, ratios
//! between paths, and merging the section into the file without touching the
//! other benchmarks' sections.

use std::fmt::Write as _;
use std::process::Command;

use anyhow::{Context as _, Result};

use xtask::sh;

/// First line of the overlay section; merging replaces the section it starts.
pub const OVERLAY_TITLE: &str = "## Overlay (`cargo xtask bench overlay`)";
/// The file's header, above every section.
const HEADER: &str = "# Benchmarks

Measured by `cargo xtask bench <target>`: shoal side by side with the kernel
baseline in the same run, inside network namespaces on one machine. Each
section names its machine, kernel and date; rerun the target to refresh it.
";
/// Longest error text shown in a table cell.
const MAX_ERROR_LEN: usize = 160;

/// One number, or why it could not be measured.
pub type Metric = Result<f64, String>;

/// What one path measured.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// TCP throughput, one stream, Gbit/s.
    pub tcp1: Metric,
    /// TCP throughput, four streams, Gbit/s.
    pub tcp4: Metric,
    /// HTTP requests per second.
    pub rps: Metric,
    /// 99th-percentile request latency, ms.
    pub p99_ms: Metric,
}

/// One table row: a path and its metrics, or why the path could not be built.
#[derive(Debug, Clone)]
pub struct Row {
    /// The path's name, e.g. "raw veth".
    pub path: &'static str,
    /// Its metrics, or the setup error.
    pub result: Result<Metrics, String>,
}

/// Where and when a run happened.
#[derive(Debug, Clone)]
pub struct Machine {
    /// UTC date, YYYY-MM-DD.
    pub date: String,
    /// `uname -r`.
    pub kernel: String,
    /// CPU model name.
    pub cpu: String,
    /// CPUs available to the run.
    pub cores: usize,
    /// Total memory, GiB.
    pub mem_gib: u64,
    /// 1, 5 and 15 minute load averages when the run started (other work
    /// on the machine skews the numbers).
    pub load: String,
}

impl Machine {
    /// Reads the date, kernel release, CPU and memory of this machine.
    pub fn probe() -> Result<Self> {
        let date = sh::output(Command::new("date").args(["-u", "+%Y-%m-%d"]))?;
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .context("reading the kernel release")?;
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").context("reading /proc/cpuinfo")?;
        let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
        let loadavg = std::fs::read_to_string("/proc/loadavg").context("reading /proc/loadavg")?;
        Ok(Self {
            date: date.trim().to_owned(),
            kernel: kernel.trim().to_owned(),
            cpu: proc_field(&cpuinfo, "model name")
                .unwrap_or("unknown CPU")
                .to_owned(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            mem_gib: proc_field(&meminfo, "MemTotal")
                .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kib| (kib + (1 << 19)) >> 20),
            load: loadavg
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        })
    }
}

/// The value of `key: value` in a /proc text file.
fn proc_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
}

/// Everything the overlay section shows.
#[derive(Debug, Clone)]
pub struct OverlayRun {
    /// Where and when.
    pub machine: Machine,
    /// Seconds per run.
    pub secs: u64,
    /// Runs per measurement (the table shows their median).
    pub reps: usize,
    /// Rows, in table order.
    pub rows: Vec<Row>,
    /// Ratio rows: (numerator path, denominator path).
    pub ratios: Vec<(&'static str, &'static str)>,
    /// Per-program cost over each profiled row: the row's path and its
    /// programs (empty without bpf_stats).
    pub profiles: Vec<(&'static str, Vec<super::prog_stats::ProgCost>)>,
    /// The section's first line (merging replaces the section it starts).
    pub title: &'static str,
    /// How the numbers come about, under the machine line.
    pub method: &'static str,
}

/// Renders a paths-side-by-side section (`bench overlay`, `bench
/// encrypted`; title line first).
pub fn render_overlay(run: &OverlayRun) -> String {
    let m = &run.machine;
    let mut s = format!("{}\n\n", run.title);
    let _ = writeln!(
        s,
        "{}, Linux {}, {} ({} CPUs), {} GiB, load average {} at the start; \
         median of {} run(s) of {} s per measurement.\n",
        m.date, m.kernel, m.cpu, m.cores, m.mem_gib, m.load, run.reps, run.secs
    );
    if let Some(warning) = busy_warning(m) {
        let _ = writeln!(s, "{warning}\n");
    }
    s.push_str(run.method);
    s.push_str("\n| path | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | req/s | p99 ms |\n");
    s.push_str("|---|---:|---:|---:|---:|\n");
    for row in &run.rows {
        let cells = match &row.result {
            Ok(x) => [
                cell(&x.tcp1, 2),
                cell(&x.tcp4, 2),
                cell(&x.rps, 0),
                cell(&x.p99_ms, 2),
            ],
            Err(e) => [na(e), "n/a".into(), "n/a".into(), "n/a".into()],
        };
        let _ = writeln!(s, "| {} | {} |", row.path, cells.join(" | "));
    }
    s.push_str("\n| ratio | TCP 1 stream | TCP 4 streams | req/s | p99 |\n");
    s.push_str("|---|---:|---:|---:|---:|\n");
    for &(num, den) in &run.ratios {
        let cells = [0, 1, 2, 3].map(|i| ratio(run, num, den, i));
        let _ = writeln!(s, "| {num} / {den} | {} |", cells.join(" | "));
    }
    for (path, profile) in run.profiles.iter().filter(|(_, p)| !p.is_empty()) {
        let _ = write!(
            s,
            "\nWhere shoal's time goes, per program, over every measurement of the \
             **{path}** row (`kernel.bpf_stats_enabled=1`: run count and run time per \
             program, summed over the lab's nodes; one run is one packet at that hook):\n\n",
        );
        s.push_str(&super::prog_stats::render(profile));
    }
    s
}

/// How the overlay numbers come about, under the machine line.
pub const OVERLAY_METHOD: &str = "\
One lab run measures these paths between two task namespaces, one after the
other: **raw veth** (the two namespaces joined by one veth pair, MTU 1500, the
floor), **kernel vxlan** (Docker Swarm's kernel data path on two lab nodes:
Linux bridge + VXLAN device without learning + veth, static FDB and neighbour
entries, task MTU 1450) and **shoal** (`shoal dp apply` of the same topology on
two other lab nodes, TC only). Then the same shoal nodes twice more: **shoal TC,
wire csum** (the nodes' underlay veths stop offloading transmit checksums, so
frames carry complete checksums as on a real wire — what the XDP path needs,
since a frame redirected at XDP loses the skb's partial-checksum state) and
**shoal XDP, wire csum** (the same, plus the XDP fast path on: `xdp_fast_path`
in the desired state; the row counts only if node 4's `xdp-decap` counter
shows the stream went that way). Nodes are namespaces on a bridge underlay, so the overlay
paths also cross two more veths and a bridge; before an overlay path is
measured, tshark on that bridge must decode its pings as VXLAN with the path's
VNI. TCP: `iperf3 -J` with 1 and 4
streams, receiver-side rate. Request/response: `wrk -t1 -c16 --latency -H
'Connection: close'` fetching 1 KiB from xtask's own HTTP server (one
connection per request; not busybox httpd, whose listen backlog of 9
overflows).
Ratios above 1 mean more throughput or requests (or a longer p99) than the
denominator.
";

/// A warning when other work kept the CPUs busy as the run started (1-minute
/// load above half the CPUs): the numbers then measure contention as much as
/// the data paths.
pub fn busy_warning(m: &Machine) -> Option<String> {
    let load: f64 = m.load.split_whitespace().next()?.parse().ok()?;
    (load > m.cores as f64 / 2.0).then(|| {
        format!(
            "**Busy machine:** 1-minute load {load:.2} on {} CPUs when the run started; \
             the paths competed with other work, so absolute numbers and ratios are \
             noisy. Rerun on an idle machine for the data-path cost.",
            m.cores
        )
    })
}

fn cell(metric: &Metric, decimals: usize) -> String {
    match metric {
        Ok(v) => format!("{v:.decimals$}"),
        Err(e) => na(e),
    }
}

pub fn na(error: &str) -> String {
    let mut text: String = error
        .chars()
        .map(|c| match c {
            '|' => '/',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    if text.chars().count() > MAX_ERROR_LEN {
        text = text.chars().take(MAX_ERROR_LEN).collect::<String>() + "…";
    }
    format!("n/a: {text}")
}

fn metric(run: &OverlayRun, path: &str, index: usize) -> Option<f64> {
    let row = run.rows.iter().find(|r| r.path == path)?;
    let x = row.result.as_ref().ok()?;
    [&x.tcp1, &x.tcp4, &x.rps, &x.p99_ms][index].clone().ok()
}

fn ratio(run: &OverlayRun, num: &str, den: &str, index: usize) -> String {
    match (metric(run, num, index), metric(run, den, index)) {
        (Some(n), Some(d)) if d > 0.0 => format!("{:.2}x", n / d),
        _ => "n/a".into(),
    }
}

/// Merges `section` into the file at `path` (creating it and its directory),
/// keeping every other section.
pub fn write_section(path: &std::path::Path, section: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    std::fs::write(path, merge(&existing, section))
        .with_context(|| format!("writing {}", path.display()))?;
    println!("report written to {}", path.display());
    Ok(())
}

/// `existing` (the current BENCHMARKS.md) with the header rewritten and the
/// section starting with `section`'s first line replaced (or appended); every
/// other section is kept as it is.
pub fn merge(existing: &str, section: &str) -> String {
    let title = section.lines().next().unwrap_or_default();
    let mut sections: Vec<String> = Vec::new();
    for line in existing.lines() {
        if line.starts_with("## ") {
            sections.push(String::new());
        }
        if let Some(current) = sections.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    let section = format!("{}\n", section.trim_end());
    match sections
        .iter_mut()
        .find(|s| s.lines().next() == Some(title))
    {
        Some(old) => *old = section,
        None => sections.push(section),
    }
    let body: Vec<String> = sections.iter().map(|s| s.trim_end().to_owned()).collect();
    format!("{HEADER}\n{}\n", body.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> OverlayRun {
        let ok = |a, b, c, d| Metrics {
            tcp1: Ok(a),
            tcp4: Ok(b),
            rps: Ok(c),
            p99_ms: Ok(d),
        };
        OverlayRun {
            machine: Machine {
                date: "2025-01-02".into(),
                kernel: "6.18.0".into(),
                cpu: "AMD EPYC".into(),
                cores: 2,
                mem_gib: 24,
                load: "0.10 0.20 0.30".into(),
            },
            secs: 5,
            reps: 3,
            rows: vec![
                Row {
                    path: "raw veth",
                    result: Ok(ok(40.0, 50.0, 20000.0, 2.0)),
                },
                Row {
                    path: "kernel vxlan",
                    result: Ok(ok(27.2, 30.0, 15000.0, 3.0)),
                },
                Row {
                    path: "shoal",
                    result: Err("`shoal dp apply x` failed | no such\ncommand".into()),
                },
            ],
            ratios: vec![("kernel vxlan", "raw veth"), ("shoal", "raw veth")],
            profiles: Vec::new(),
            title: OVERLAY_TITLE,
            method: OVERLAY_METHOD,
        }
    }

    #[test]
    fn renders_rows_ratios_and_errors() {
        let text = render_overlay(&run());
        assert!(text.starts_with(OVERLAY_TITLE));
        assert!(text.contains(
            "2025-01-02, Linux 6.18.0, AMD EPYC (2 CPUs), 24 GiB, load average 0.10 0.20 0.30 at the start; median of 3 run(s) of 5 s"
        ));
        assert!(text.contains("| raw veth | 40.00 | 50.00 | 20000 | 2.00 |"));
        assert!(
            text.contains("| shoal | n/a: `shoal dp apply x` failed / no such command | n/a |")
        );
        assert!(text.contains("| kernel vxlan / raw veth | 0.68x | 0.60x | 0.75x | 1.50x |"));
        assert!(text.contains("| shoal / raw veth | n/a | n/a | n/a | n/a |"));
    }

    #[test]
    fn warns_about_a_busy_machine() {
        let mut run = run();
        assert!(!render_overlay(&run).contains("Busy machine"));
        run.machine.load = "4.20 3.00 2.00".into();
        assert!(render_overlay(&run).contains("**Busy machine:** 1-minute load 4.20 on 2 CPUs"));
    }

    #[test]
    fn merge_replaces_only_its_section() {
        let stub = "# Benchmarks\n\nNo benchmark exists yet.\n";
        let first = merge(stub, "## Overlay (`cargo xtask bench overlay`)\n\nold\n");
        assert!(first.starts_with(HEADER) && first.ends_with("\n\nold\n"));
        assert!(!first.contains("No benchmark"));
        let with_lb = format!("{first}\n## LB\n\nlb numbers\n");
        let second = merge(
            &with_lb,
            "## Overlay (`cargo xtask bench overlay`)\n\nnew\n",
        );
        assert!(
            second.contains("\n\nnew\n\n## LB\n\nlb numbers\n"),
            "{second}"
        );
        assert!(!second.contains("old"));
    }

    #[test]
    fn reads_proc_fields() {
        assert_eq!(
            proc_field("model name\t: AMD EPYC\n", "model name"),
            Some("AMD EPYC")
        );
        assert_eq!(
            proc_field("MemTotal:  24000000 kB\n", "MemTotal"),
            Some("24000000 kB")
        );
    }
}
