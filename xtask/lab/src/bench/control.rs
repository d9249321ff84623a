//! `cargo xtask bench control`: the control plane on labs of real
//! `shoal daemon`s (3 and 5 managers): leader failover time, and commit
//! latency and throughput of sequential writes through the leader's API.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use shoal_netns_tests::swarm_kit::{SwarmNode, all_ready, leader_of, managers};

use super::control_api::Api;
use super::control_report::{self as rep, ControlRun, SizeRow};
use super::overlay::{build_shoal, workspace_root};
use super::report::{self, Machine};

/// Longest a failover may take before the run gives up on it.
const FAILOVER_LIMIT: Duration = Duration::from_secs(30);
/// Writes before timing starts (connections, caches).
const WARMUP: usize = 10;

/// Arguments of `cargo xtask bench control`.
#[derive(Args)]
pub struct ControlArgs {
    /// One run of 50 writes per size, for a smoke test; the report goes to
    /// target/bench/control-quick.md unless --output says otherwise.
    #[arg(long)]
    quick: bool,
    /// Runs per size, the report showing their median (default 3).
    #[arg(long, value_name = "N")]
    reps: Option<usize>,
    /// Sequential writes timed per run (default 300).
    #[arg(long, value_name = "N")]
    writes: Option<usize>,
    /// Lab sizes, in managers.
    #[arg(long, value_delimiter = ',', default_value = "3,5")]
    managers: Vec<usize>,
    /// Where to write the report (default: BENCHMARKS.md at the workspace root).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs the benchmark and writes the report.
pub fn run(args: ControlArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces: run as root");
    }
    build_shoal().context("building shoal")?;
    let (reps, writes) = if args.quick { (1, 50) } else { (3, 300) };
    let reps = args.reps.unwrap_or(reps).max(1);
    let writes = args.writes.unwrap_or(writes).max(10);
    let machine = Machine::probe()?;
    let mut rows = Vec::new();
    for &n in &args.managers {
        println!("== {n} managers: {reps} run(s), {writes} writes each");
        rows.push(size(n, reps, writes)?);
    }
    let section = rep::render(&ControlRun {
        machine,
        reps,
        writes,
        rows,
    });
    println!("\n{section}");
    let path = match (&args.output, args.quick) {
        (Some(path), _) => path.clone(),
        (None, true) => workspace_root().join("target/bench/control-quick.md"),
        (None, false) => workspace_root().join("BENCHMARKS.md"),
    };
    report::write_section(&path, &section)
}

/// All runs on one lab of `n` managers.
fn size(n: usize, reps: usize, writes: usize) -> Result<SizeRow> {
    let (lab, mut nodes) = managers(n);
    println!("   lab {}", lab.id());
    let mut row = SizeRow::new(n);
    for rep in 0..reps {
        let leader = leader_of(&nodes);
        let latencies = commit_latencies(&nodes[leader], writes, rep)?;
        let total: Duration = latencies.iter().sum();
        row.push_latencies(&latencies, total);
        let failover = failover(&mut nodes, leader, rep)?;
        println!(
            "   run {}: failover {:.2} s, p50 {:.2} ms, p99 {:.2} ms",
            rep + 1,
            failover.as_secs_f64(),
            rep::percentile(&latencies, 50.0),
            rep::percentile(&latencies, 99.0),
        );
        row.failover_s.push(failover.as_secs_f64());
        nodes[leader].start().context("restarting the old leader")?;
        for node in &nodes {
            all_ready(node, n);
        }
    }
    Ok(row)
}

/// Sequential label writes through the leader's API, each timed.
fn commit_latencies(leader: &SwarmNode, writes: usize, rep: usize) -> Result<Vec<Duration>> {
    let mut api = Api::connect(&leader.socket())?;
    let mut latencies = Vec::with_capacity(writes);
    for i in 0..WARMUP + writes {
        let label = format!("bench=r{rep}-w{i}");
        let start = Instant::now();
        api.add_label(&leader.name, &label)
            .with_context(|| format!("write {i} through the leader {}", leader.name))?;
        if i >= WARMUP {
            latencies.push(start.elapsed());
        }
    }
    Ok(latencies)
}

/// Kills the leader's daemon and times the first acknowledged write
/// through a surviving manager (forwarded to whichever leader it finds).
fn failover(nodes: &mut [SwarmNode], leader: usize, rep: usize) -> Result<Duration> {
    let survivor = nodes[(leader + 1) % nodes.len()].clone();
    let mut api = Api::connect(&survivor.socket())?;
    nodes[leader].kill();
    let killed = Instant::now();
    let label = format!("failover={rep}");
    loop {
        match api.add_label(&survivor.name, &label) {
            Ok(()) => return Ok(killed.elapsed()),
            Err(err) => {
                if killed.elapsed() > FAILOVER_LIMIT {
                    bail!("no write acknowledged {FAILOVER_LIMIT:?} after the kill: {err:#}");
                }
                std::thread::sleep(Duration::from_millis(10));
                api = Api::connect(&survivor.socket())?;
            }
        }
    }
}
