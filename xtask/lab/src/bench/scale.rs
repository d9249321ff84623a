//! `cargo xtask bench scale`: the control plane with many nodes. Three real
//! manager daemons in a lab; thousands of simulated nodes in one process
//! (`scale_fleet`, `scale_node`) join, beat and run tasks as far as the
//! managers can tell. Measures the time to join them all, to get every
//! task of T running, scheduling delay, `node ls`/`service ls` response
//! times, the leader's CPU and memory, and control traffic per node.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use shoal_model::api::TaskView;
use shoal_model::spec::TaskState;
use shoal_netns_tests::swarm_kit::{SwarmNode, leader_of, managers};
use shoal_security::token::JoinToken;

use super::control_api::Api;
use super::overlay::{build_shoal, workspace_root};
use super::report::{self, Machine};
use super::scale_fleet::{self, FleetPlan};
use super::scale_probe::{CpuMark, memory_mib, underlay_bytes};
use super::scale_report::{self as rep, LeaderUse, ScaleRun, Spread};
use super::scale_stats::Fleet;

/// Longest a phase (joining, converging) may take before the run gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(900);
/// How often the store is asked whether every task runs.
const STORE_POLL: Duration = Duration::from_secs(1);
/// How often a long wait prints the fleet's counters.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// API calls timed per list.
const API_SAMPLES: usize = 50;
/// Patience for one API call: a busy leader answers late, and a late
/// answer is a measurement, not a failure.
const API_TIMEOUT: Duration = Duration::from_secs(120);

/// Arguments of `cargo xtask bench scale`.
#[derive(Args)]
pub struct ScaleArgs {
    /// Simulated nodes.
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// Tasks in total.
    #[arg(long, default_value_t = 1000)]
    tasks: usize,
    /// Most tasks per service (services are created until the total is
    /// reached).
    #[arg(long, default_value_t = 100)]
    per_service: usize,
    /// Seconds at rest over which control traffic and CPU are measured.
    #[arg(long, default_value_t = 30)]
    rest: u64,
    /// The swarm's heartbeat period, seconds (`swarm update
    /// --dispatcher-heartbeat`; shoal's default 1, Swarm's 5).
    #[arg(long, default_value_t = 1)]
    heartbeat: u64,
    /// Worker threads of the simulator's runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Run the managers from this `shoal` binary instead of building the
    /// release one (e.g. target/debug/shoal; the report says which).
    #[arg(long, value_name = "PATH")]
    shoal: Option<PathBuf>,
    /// Where to write the report (default: BENCHMARKS.md at the workspace root).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs the benchmark and writes the report.
pub fn run(args: ScaleArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces: run as root");
    }
    let binary = match &args.shoal {
        Some(path) => {
            // SAFETY: single-threaded here; nothing reads the environment concurrently.
            unsafe { std::env::set_var("SHOAL_BIN", path) };
            path.display().to_string()
        }
        None => {
            build_shoal().context("building shoal")?;
            "release".to_owned()
        }
    };
    raise_fd_limit();
    let machine = Machine::probe()?;
    let (mut lab, nodes) = managers(3);
    println!("== lab {}: 3 managers", lab.id());
    let leader = &nodes[leader_of(&nodes)];
    let pid = leader.pid().context("the leader's pid")?;
    let sim = lab
        .add_client("sim")
        .context("the simulator's namespace")?
        .clone();
    let plan = fleet_plan(&args, leader, &nodes)?;
    // Tasks go to the simulated nodes only, as on a swarm whose managers
    // run none.
    for node in &nodes {
        leader.cli(&["node", "update", "--availability", "drain", &node.name])?;
    }
    let period = format!("{}s", args.heartbeat);
    leader.cli(&["swarm", "update", "--dispatcher-heartbeat", &period])?;
    let mut api = Api::connect_within(&leader.socket(), API_TIMEOUT)?;
    let start_cpu = CpuMark::take(pid)?;
    let started = Instant::now();
    let running = scale_fleet::start(&sim, plan);
    let fleet = running.fleet.clone();
    let measured = measure(&args, &mut api, &fleet, &sim, pid, (start_cpu, started));
    let stopped = running.stop();
    let mut run = measured?;
    stopped?;
    run.machine = machine;
    run.binary = binary;
    // CPU and memory are the first leader's: say so if it lost the lead.
    run.leader_changed = nodes[leader_of(&nodes)].name != leader.name;
    let section = rep::render(&run);
    println!("\n{section}");
    let path = args
        .output
        .unwrap_or_else(|| workspace_root().join("BENCHMARKS.md"));
    report::write_section(&path, &section)
}

/// The join token and managers the simulated nodes use.
fn fleet_plan(args: &ScaleArgs, leader: &SwarmNode, nodes: &[SwarmNode]) -> Result<FleetPlan> {
    let token = leader.cli(&["swarm", "join-token", "worker", "-q"])?;
    let token = token.trim().to_owned();
    let parsed = JoinToken::from_str(&token).context("the worker token")?;
    Ok(FleetPlan {
        nodes: args.nodes,
        ca_digest: *parsed.ca_digest(),
        token,
        managers: nodes.iter().map(SwarmNode::control_addr).collect(),
        threads: args.threads,
    })
}

/// The phases, in order, while the fleet runs.
fn measure(
    args: &ScaleArgs,
    api: &mut Api,
    fleet: &Fleet,
    sim: &shoal_netns_tests::lab::Node,
    pid: u32,
    (start_cpu, started): (CpuMark, Instant),
) -> Result<ScaleRun> {
    let (join_s, ready_s) = join_phase(args, api, fleet, started)?;
    let joined_cpu = CpuMark::take(pid)?;
    let joined = fleet.counts().joined;
    println!(
        "   joined {joined} of {} in {join_s:.1} s, ready {ready_s:?}",
        args.nodes
    );
    let (creates, create_times) = create_services(args, api)?;
    let running_s = wait_running(args, api, fleet, &creates)?;
    let tasks_cpu = CpuMark::take(pid)?;
    println!("   all tasks running: {running_s:?}");
    let scheduling = scheduling_delays(fleet, &creates);
    let bytes_before = underlay_bytes(sim)?;
    std::thread::sleep(Duration::from_secs(args.rest));
    let bytes = underlay_bytes(sim)?.saturating_sub(bytes_before);
    let rest_cpu = CpuMark::take(pid)?;
    let node_ls = time_calls(api, "/nodes")?;
    let service_ls = time_calls(api, "/services")?;
    let states = task_states(api)?;
    println!("   at the end: {states:?}");
    let running_in_store = states.get("running").copied().unwrap_or(0);
    let (rss_mib, peak_rss_mib) = memory_mib(pid)?;
    let counts = fleet.counts();
    let minutes = args.rest as f64 / 60.0;
    Ok(ScaleRun {
        machine: Machine::probe()?,
        binary: String::new(),
        nodes: args.nodes,
        heartbeat_secs: args.heartbeat,
        tasks: args.tasks,
        services: creates.len(),
        joined,
        join_s,
        ready_s,
        running_s,
        running_in_store,
        leader_changed: false,
        scheduling,
        create: Spread::of(&create_times),
        node_ls,
        service_ls,
        leader: LeaderUse {
            join_cpus: joined_cpu.cpus_since(&start_cpu),
            tasks_cpus: tasks_cpu.cpus_since(&joined_cpu),
            rest_cpus: rest_cpu.cpus_since(&tasks_cpu),
            rss_mib,
            peak_rss_mib,
        },
        bytes_per_node_min: bytes as f64 / counts.joined.max(1) as f64 / minutes,
        failures: (
            counts.heartbeat_failures,
            counts.assignment_failures,
            counts.report_failures,
        ),
    })
}

/// Waits for every node's certificate, then for every node Ready in the
/// leader's `node ls` (3 managers + the fleet): both times from `started`.
fn join_phase(
    args: &ScaleArgs,
    api: &mut Api,
    fleet: &Fleet,
    started: Instant,
) -> Result<(f64, Option<f64>)> {
    loop {
        let counts = fleet.counts();
        if counts.joined + counts.join_failures >= args.nodes {
            break;
        }
        if started.elapsed() > PHASE_LIMIT {
            bail!(
                "{} of {} nodes joined after {PHASE_LIMIT:?}",
                counts.joined,
                args.nodes
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let join_s = started.elapsed().as_secs_f64();
    if let Some(err) = fleet.first_join_error() {
        println!("   a join failed: {err}");
    }
    let want = fleet.counts().joined + 3;
    while started.elapsed() < PHASE_LIMIT {
        let nodes: Vec<serde_json::Value> =
            serde_json::from_slice(&api.call_ok("GET", "/nodes", None)?)?;
        let ready = nodes.iter().filter(|n| n["status"] == "ready").count();
        if ready >= want {
            return Ok((join_s, Some(started.elapsed().as_secs_f64())));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok((join_s, None))
}

/// Creates services of at most `per_service` tasks until `tasks` in all;
/// returns each service's name and when its create was sent, and how long
/// each create took to answer.
fn create_services(
    args: &ScaleArgs,
    api: &mut Api,
) -> Result<(HashMap<String, Instant>, Vec<Duration>)> {
    let mut creates = HashMap::new();
    let mut times = Vec::new();
    let mut left = args.tasks;
    while left > 0 {
        let replicas = left.min(args.per_service.max(1));
        let name = format!("svc{}", creates.len());
        let body = serde_json::json!({
            "name": name,
            "image": "sim:1",
            "mode": { "replicated": { "replicas": replicas } },
        })
        .to_string();
        let sent = Instant::now();
        api.call_ok("POST", "/services/create", Some(&body))
            .with_context(|| format!("creating {name}"))?;
        times.push(sent.elapsed());
        creates.insert(name, sent);
        left -= replicas;
    }
    Ok((creates, times))
}

/// Waits until the leader's store shows every task running (wanted and
/// reported so): first create → the poll that saw it, s (None past the
/// limit). Polled every [`STORE_POLL`]; the fleet's counters are printed
/// on the way.
fn wait_running(
    args: &ScaleArgs,
    api: &mut Api,
    fleet: &Fleet,
    creates: &HashMap<String, Instant>,
) -> Result<Option<f64>> {
    let first = creates.values().min().copied().unwrap_or_else(Instant::now);
    let mut progress = Instant::now();
    while first.elapsed() < PHASE_LIMIT {
        let states = task_states(api)?;
        if progress.elapsed() > PROGRESS_EVERY {
            println!(
                "   {:.0} s: store {states:?}; fleet {:?}",
                first.elapsed().as_secs_f64(),
                fleet.counts()
            );
            progress = Instant::now();
        }
        if states.get("running").copied().unwrap_or(0) >= args.tasks {
            return Ok(Some(first.elapsed().as_secs_f64()));
        }
        std::thread::sleep(STORE_POLL);
    }
    println!("   not all running: {:?}", task_states(api)?);
    Ok(None)
}

/// Create sent → task in its node's assignment, for every task seen.
fn scheduling_delays(fleet: &Fleet, creates: &HashMap<String, Instant>) -> Spread {
    let delays: Vec<Duration> = fleet
        .seen()
        .iter()
        .filter_map(|(task, at)| {
            let service = task.rsplit_once('.').map_or(task.as_str(), |(s, _)| s);
            Some(at.saturating_duration_since(*creates.get(service)?))
        })
        .collect();
    Spread::of(&delays)
}

/// Times [`API_SAMPLES`] sequential `GET path` calls.
fn time_calls(api: &mut Api, path: &str) -> Result<Spread> {
    let mut latencies = Vec::with_capacity(API_SAMPLES);
    for _ in 0..API_SAMPLES {
        let start = Instant::now();
        api.call_ok("GET", path, None)
            .with_context(|| format!("GET {path}"))?;
        latencies.push(start.elapsed());
    }
    Ok(Spread::of(&latencies))
}

/// How many tasks wanted running the leader's store shows in each state.
fn task_states(api: &mut Api) -> Result<BTreeMap<&'static str, usize>> {
    let tasks: Vec<TaskView> =
        serde_json::from_slice(&api.call_ok("GET", "/tasks", None)?).context("GET /tasks")?;
    let mut states = BTreeMap::new();
    for task in tasks
        .iter()
        .filter(|t| t.task.desired_state == TaskState::Running)
    {
        *states.entry(task.task.status.state.name()).or_default() += 1;
    }
    Ok(states)
}

/// Raises this process's open-file limit to its hard limit: every
/// simulated node holds two connections (the managers inherit it too).
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
