//! `cargo xtask bench dns`: the embedded resolver next to dnsmasq serving
//! the same record, both asked from inside one task over loopback (shoal
//! on 127.0.0.11, dnsmasq on 127.0.0.12 in the task's namespace), by 1
//! and 8 clients sending one query at a time: a service name, `tasks.NAME`
//! of a 3-task service; then a name shoal forwards to the lab world's
//! dnsmasq.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use shoal_netns_tests::dns_kit::{running_task, start_world_resolver, world_resolver_addr};
use shoal_netns_tests::lab::raw::in_netns;
use shoal_netns_tests::services_kit::ServiceLab;

use super::overlay::{build_shoal, workspace_root};
use super::report::{self, Machine, busy_warning};

/// How long one client waits for an answer before counting a loss.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// Arguments of `cargo xtask bench dns`.
#[derive(Args)]
pub struct DnsArgs {
    /// Queries each client sends per case.
    #[arg(long, default_value_t = 5000)]
    queries: usize,
    /// Where to write the report (default: BENCHMARKS.md at the workspace root).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// One case's numbers.
struct Case {
    what: String,
    clients: usize,
    qps: f64,
    p50_us: f64,
    p99_us: f64,
    lost: usize,
}

/// Runs the benchmark and writes the report.
pub fn run(args: DnsArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces and containers: run as root");
    }
    build_shoal().context("building shoal")?;
    let machine = Machine::probe()?;
    let upstream = world_resolver_addr().to_string();
    let mut lab = ServiceLab::with_daemon_args(1, &["--dns-upstream", &upstream]);
    let world = lab.client("world");
    let upstream_ip = Ipv4Addr::new(198, 51, 100, 7);
    start_world_resolver(
        &world,
        world.state_dir(),
        &[(upstream_ip, "upstream.example")],
    );
    lab.cli(&["network", "create", "bench"])?;
    for (name, replicas) in [("db", "3"), ("client", "1")] {
        lab.cli(&[
            "service",
            "create",
            "-d",
            "--name",
            name,
            "--replicas",
            replicas,
            "--network",
            "bench",
            "web:1",
        ])?;
        lab.wait_running(name, replicas.parse()?);
    }
    let vip = lab.vip("db", "bench");
    let netns = format!("shoal-{}", running_task(&lab, "client").id);
    let shoal = SocketAddr::from(([127, 0, 0, 11], 53));
    let local = SocketAddr::from(([127, 0, 0, 12], 53));
    let task_ips = answers(&netns, shoal, "tasks.db")?;
    if task_ips.len() != 3 {
        bail!("tasks.db answered {task_ips:?}, not the 3 tasks of db");
    }
    let mut dnsmasq = task_dnsmasq(&netns, &vip, &task_ips)?;
    let mut cases = Vec::new();
    for clients in [1, 8] {
        for (what, server, name) in [
            ("cluster name, shoal", shoal, "db"),
            ("same record, dnsmasq", local, "db"),
            ("tasks.NAME (3 tasks), shoal", shoal, "tasks.db"),
            ("same records, dnsmasq", local, "tasks.db"),
            (
                "forwarded to the world's dnsmasq, shoal",
                shoal,
                "upstream.example",
            ),
        ] {
            let case = measure(&netns, server, name, clients, args.queries)
                .with_context(|| format!("{what}, {clients} clients"))?;
            println!(
                "   {what}, {clients} clients: {:.0} q/s, p50 {:.0} µs, p99 {:.0} µs, {} lost",
                case.qps, case.p50_us, case.p99_us, case.lost
            );
            cases.push(Case {
                what: what.to_owned(),
                ..case
            });
        }
    }
    let _ = dnsmasq.kill();
    let _ = dnsmasq.wait();
    let section = render(&machine, &cases, args.queries);
    println!("\n{section}");
    let path = args
        .output
        .unwrap_or_else(|| workspace_root().join("BENCHMARKS.md"));
    report::write_section(&path, &section)
}

/// dnsmasq on 127.0.0.12:53 in the task's namespace answering `db` with
/// the service's VIP and `tasks.db` with its tasks' addresses, as the
/// embedded resolver does.
fn task_dnsmasq(netns: &str, vip: &str, task_ips: &[Ipv4Addr]) -> Result<Child> {
    let status = Command::new("ip")
        .args(["-n", netns, "addr", "add", "127.0.0.12/8", "dev", "lo"])
        .status()?;
    if !status.success() {
        bail!("adding 127.0.0.12 in {netns}");
    }
    let child = Command::new("ip")
        .args(["netns", "exec", netns, "dnsmasq", "--keep-in-foreground"])
        .args([
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--pid-file=",
        ])
        .args(["--user=root", "--listen-address=127.0.0.12", "--port=53"])
        .arg(format!("--host-record=db,{vip}"))
        .args(
            task_ips
                .iter()
                .map(|ip| format!("--host-record=tasks.db,{ip}")),
        )
        .spawn()
        .context("starting dnsmasq")?;
    std::thread::sleep(Duration::from_millis(500));
    Ok(child)
}

/// `clients` threads in `netns`, each sending `queries` A queries for
/// `name` to `server` one at a time.
fn measure(
    netns: &str,
    server: SocketAddr,
    name: &str,
    clients: usize,
    queries: usize,
) -> Result<Case> {
    let name = Name::from_ascii(format!("{name}."))?;
    let started = Instant::now();
    let results = in_netns(netns, move || {
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                let name = name.clone();
                std::thread::spawn(move || client(server, &name, queries))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().map_err(|_| anyhow::anyhow!("a client panicked"))?)
            .collect::<Result<Vec<_>>>()
    })??;
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<f64> = results
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .collect();
    let lost = results.iter().map(|(_, lost)| lost).sum();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
    };
    Ok(Case {
        what: String::new(),
        clients,
        qps: latencies.len() as f64 / elapsed,
        p50_us: at(0.5).unwrap_or(f64::NAN),
        p99_us: at(0.99).unwrap_or(f64::NAN),
        lost,
    })
}

/// The A records `server` answers for `name`, asked from `netns`.
fn answers(netns: &str, server: SocketAddr, name: &str) -> Result<Vec<Ipv4Addr>> {
    let name = Name::from_ascii(format!("{name}."))?;
    in_netns(netns, move || -> Result<Vec<Ipv4Addr>> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.connect(server)?;
        socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name, RecordType::A));
        socket.send(&message.to_vec()?)?;
        let mut buf = [0u8; 1500];
        let len = socket.recv(&mut buf)?;
        let answer = Message::from_vec(&buf[..len])?;
        Ok(answer
            .answers
            .iter()
            .filter_map(|record| match &record.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect())
    })?
}

/// One client: latencies (µs) of answered queries, and how many were lost.
fn client(server: SocketAddr, name: &Name, queries: usize) -> Result<(Vec<f64>, usize)> {
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut latencies = Vec::with_capacity(queries);
    let mut lost = 0;
    let mut buf = [0u8; 1500];
    for id in 0..queries {
        let mut message = Message::query();
        message.metadata.id = id as u16;
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name.clone(), RecordType::A));
        let bytes = message.to_vec()?;
        let sent = Instant::now();
        socket.send(&bytes)?;
        loop {
            match socket.recv(&mut buf) {
                Ok(len) if len >= 2 && buf[..2] == bytes[..2] => {
                    latencies.push(sent.elapsed().as_secs_f64() * 1e6);
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    lost += 1;
                    break;
                }
            }
        }
    }
    Ok((latencies, lost))
}

fn render(machine: &Machine, cases: &[Case], queries: usize) -> String {
    let mut out = String::from("## dns\n\n");
    out.push_str(&format!(
        "`cargo xtask bench dns` on {} ({}, {} cores, {} GiB, kernel {}, load {} at start). \
         One node, one task: the embedded resolver (127.0.0.11, served by the daemon from the \
         node's namespace) next to dnsmasq on 127.0.0.12 in the same task namespace answering \
         the same records (a service's VIP; `tasks.db`: its 3 tasks' addresses); each client sends {queries} A queries one at a time over UDP. \
         Forwarded: shoal relays to the lab world's dnsmasq on the underlay.\n\n",
        machine.date, machine.cpu, machine.cores, machine.mem_gib, machine.kernel, machine.load
    ));
    if let Some(warning) = busy_warning(machine) {
        out.push_str(&format!("{warning}\n\n"));
    }
    out.push_str("| case | clients | queries/s | p50 | p99 | lost |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    for case in cases {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} µs | {:.0} µs | {} |\n",
            case.what, case.clients, case.qps, case.p50_us, case.p99_us, case.lost
        ));
    }
    out
}
