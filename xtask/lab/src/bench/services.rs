//! `cargo xtask bench services`: how fast services converge on a lab swarm
//! of real daemons (a manager and two workers) with real runc containers,
//! next to the floor the same machine sets — the same number of containers
//! started back to back by shoal's runtime library alone, no cluster; the
//! scheduler alone on a simulated cluster; and the daemons' memory with 100
//! tasks running.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use shoal_manager::scheduler::bench_schedule;
use shoal_netns_tests::services_kit::{ServiceLab, test_image_archives};
use shoal_runtime::{ContainerSpec, Runtime, RuntimeConfig};

use super::overlay::{build_shoal, workspace_root};
use super::report::{self, Machine, busy_warning};

/// Longest a service may take to converge before the run gives up.
const CONVERGE_LIMIT: Duration = Duration::from_secs(600);

/// Arguments of `cargo xtask bench services`.
#[derive(Args)]
pub struct ServicesArgs {
    /// Service sizes, in replicas.
    #[arg(long, value_delimiter = ',', default_value = "10,100")]
    replicas: Vec<usize>,
    /// Where to write the report (default: BENCHMARKS.md at the workspace root).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// One service size.
struct SizeRow {
    replicas: usize,
    /// `service create` to every replica running.
    shoal_s: f64,
    /// The same number of containers started one after the other by the
    /// runtime library on one node.
    floor_s: f64,
}

/// Runs the benchmark and writes the report.
pub fn run(args: ServicesArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces and containers: run as root");
    }
    build_shoal().context("building shoal")?;
    let machine = Machine::probe()?;
    let lab = ServiceLab::new(3);
    println!("== lab {}: n1 manager, n2 n3 workers", lab.lab.id());
    lab.cli(&["network", "create", "bench"])?;
    let mut rows = Vec::new();
    let mut memory = None;
    for &replicas in &args.replicas {
        let shoal_s = converge(&lab, replicas)?;
        if replicas >= 100 && memory.is_none() {
            memory = Some(daemon_rss_mib(&lab));
        }
        remove(&lab, replicas)?;
        let floor_s = runtime_floor(&lab, replicas)?;
        println!("   {replicas} replicas: shoal {shoal_s:.1} s, runtime floor {floor_s:.1} s");
        rows.push(SizeRow {
            replicas,
            shoal_s,
            floor_s,
        });
    }
    let tasks_per_s = scheduler_rate();
    println!("   scheduler: {tasks_per_s:.0} tasks/s (10,000 tasks on 1,000 nodes)");
    let section = render(&machine, &rows, tasks_per_s, memory.as_deref());
    println!("\n{section}");
    let path = args
        .output
        .unwrap_or_else(|| workspace_root().join("BENCHMARKS.md"));
    report::write_section(&path, &section)
}

/// Creates a service of `replicas` tasks and times until all run.
fn converge(lab: &ServiceLab, replicas: usize) -> Result<f64> {
    let name = format!("bench{replicas}");
    let count = replicas.to_string();
    let started = Instant::now();
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        &name,
        "--replicas",
        &count,
        "--network",
        "bench",
        "web:1",
    ])?;
    loop {
        let running = lab
            .tasks(&name)
            .iter()
            .filter(|t| shoal_netns_tests::services_kit::is_running(t))
            .count();
        if running == replicas {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > CONVERGE_LIMIT {
            bail!("{running} of {replicas} running after {CONVERGE_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the service and waits until its containers are gone.
fn remove(lab: &ServiceLab, replicas: usize) -> Result<()> {
    let name = format!("bench{replicas}");
    lab.cli(&["service", "rm", &name])?;
    let started = Instant::now();
    while task_namespaces_left() {
        if started.elapsed() > CONVERGE_LIMIT {
            bail!("containers of {name} still running after {CONVERGE_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Whether any task network namespace is left (one per container; the
/// benchmark runs alone on the machine).
fn task_namespaces_left() -> bool {
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("shoal-"))
        })
        .unwrap_or(false)
}

/// Starts `count` containers of `web:1` back to back with the runtime
/// library (own state directory, no cluster, no data plane), then removes
/// them: the floor of what creating a service can cost here.
fn runtime_floor(lab: &ServiceLab, count: usize) -> Result<f64> {
    let dir = lab.lab.nodes()[0].state_dir().join("floor");
    let runtime = Runtime::open(RuntimeConfig::new(&dir))?;
    let archive = &test_image_archives(&lab.lab.nodes()[0].state_dir().join("images"))[0];
    runtime.images().load(archive)?;
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..count {
        let spec = ContainerSpec {
            id: format!("floor{i}"),
            image: "web:1".to_owned(),
            ..ContainerSpec::default()
        };
        runtime.run(&spec)?;
        ids.push(spec.id);
    }
    let elapsed = started.elapsed().as_secs_f64();
    for id in ids {
        runtime.stop(&id, Duration::from_secs(5))?;
        runtime.delete(&id)?;
    }
    Ok(elapsed)
}

/// Scheduler placements per second: 10,000 tasks on 1,000 simulated nodes,
/// best of three.
fn scheduler_rate() -> f64 {
    (0..3)
        .map(|_| bench_schedule(1000, 10_000).as_secs_f64())
        .fold(f64::INFINITY, f64::min)
        .recip()
        * 10_000.0
}

/// Resident memory of each daemon (MiB), from /proc.
fn daemon_rss_mib(lab: &ServiceLab) -> String {
    lab.nodes
        .iter()
        .map(|node| {
            let rss = node
                .pid()
                .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
                .and_then(|status| {
                    status
                        .lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                })
                .map_or("n/a".to_owned(), |kib| format!("{:.0}", kib / 1024.0));
            format!("{} {rss} MiB", node.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render(machine: &Machine, rows: &[SizeRow], tasks_per_s: f64, memory: Option<&str>) -> String {
    let mut out = String::from("## services\n\n");
    out.push_str(&format!(
        "`cargo xtask bench services` on {} ({}, {} cores, {} GiB, kernel {}, load {} at start). \
         A lab swarm of one manager and two workers (real daemons, runc containers of a busybox \
         httpd image on an overlay network); the floor starts the same number of containers one \
         after the other with shoal's runtime library alone on one node (no cluster, no network).\n\n",
        machine.date, machine.cpu, machine.cores, machine.mem_gib, machine.kernel, machine.load
    ));
    if let Some(warning) = busy_warning(machine) {
        out.push_str(&format!("{warning}\n\n"));
    }
    out.push_str("| replicas | create → all running (shoal) | runtime floor | shoal / floor |\n");
    out.push_str("|---:|---:|---:|---:|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.1} s | {:.1} s | {:.2}x |\n",
            row.replicas,
            row.shoal_s,
            row.floor_s,
            row.shoal_s / row.floor_s
        ));
    }
    let verdict = if tasks_per_s >= 5000.0 {
        "met"
    } else {
        "missed"
    };
    out.push_str(&format!(
        "\nScheduler alone, 10,000 tasks on 1,000 simulated nodes: **{tasks_per_s:.0} tasks/s** \
         (target ≥ 5,000: {verdict}; Nomad's C2M ran about 1,500/s).\n"
    ));
    if let Some(memory) = memory {
        out.push_str(&format!(
            "\nDaemon resident memory with the 100-replica service running: {memory}.\n"
        ));
    }
    out
}
