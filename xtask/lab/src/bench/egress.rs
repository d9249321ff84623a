//! `cargo xtask bench egress`: a task reaching a "world" host outside the
//! swarm, through shoal's eBPF masquerade, next to the kernel's own
//! routing + nftables masquerade on the same node in the same run.
//!
//! ```text
//!   shoal task netns ──veth── n1 (eBPF SNAT to 198.18.0.11) ──underlay── world
//!   nft "task" netns ──veth── n1 (ip_forward + nft masquerade) ──underlay── world
//! ```
//!
//! Both paths leave through the same node and underlay to the same world
//! host; the nftables path is a plain namespace routed by the node's kernel
//! (Docker's bridge-less equivalent of its MASQUERADE rule). Figures: TCP
//! on one stream (iperf3) and new connections per second (wrk with
//! `Connection: close` against xtask's own HTTP server), the median of a few
//! interleaved runs.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use shoal_netns_tests::services_kit::{ServiceLab, is_running};
use shoal_netns_tests::swarm_kit::field;

use super::measure::{self, Pair, median};
use super::overlay::{build_shoal, workspace_root};
use super::report::{self, Machine, busy_warning};
use xtask::sh;

/// The nftables path's task-side and node-side addresses (a /30 of the
/// benchmarking range, off the underlay's /24).
const NFT_TASK: &str = "198.19.250.2";
const NFT_NODE: &str = "198.19.250.1";

/// Arguments of `cargo xtask bench egress`.
#[derive(Args)]
pub struct EgressArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Runs per measurement (the report shows their median).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Where to write the report (default: BENCHMARKS.md at the workspace root).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// One path's medians.
struct Figures {
    gbps: f64,
    new_conns: f64,
    p99_ms: f64,
}

/// Runs the benchmark and writes the report.
pub fn run(args: EgressArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces and containers: run as root");
    }
    build_shoal().context("building shoal")?;
    let machine = Machine::probe()?;
    let mut lab = ServiceLab::new(1);
    let world = lab.client("world");
    lab.cli(&["network", "create", "bench"])?;
    lab.cli(&[
        "service",
        "create",
        "-d",
        "--name",
        "egress",
        "--network",
        "bench",
        "web:1",
    ])?;
    lab.wait_running("egress", 1);
    let task = lab
        .tasks("egress")
        .into_iter()
        .find(is_running)
        .context("no running task")?;
    let shoal = Pair {
        sender: format!("shoal-{}", field(&task, "id")),
        receiver: world.name().to_owned(),
        receiver_ip: world.addr(),
    };
    let node = lab.nodes[0].lab_node().name().to_owned();
    let nft_ns = lab.lab.add_netns("nft")?;
    nft_path(&node, &nft_ns, world.state_dir())?;
    let nft = Pair {
        sender: nft_ns,
        ..shoal.clone()
    };
    let mut results = Vec::new();
    for (name, pair) in [
        ("shoal eBPF masquerade", &shoal),
        ("nftables masquerade", &nft),
    ] {
        let figures = measure_path(pair, &args).with_context(|| format!("measuring {name}"))?;
        println!(
            "   {name}: {:.2} Gbit/s, {:.0} new conn/s, p99 {:.2} ms",
            figures.gbps, figures.new_conns, figures.p99_ms
        );
        results.push((name, figures));
    }
    let drops = dp_drops(lab.nodes[0].lab_node());
    let section = render(&machine, &results, &args, &drops);
    println!("\n{section}");
    let path = args
        .output
        .unwrap_or_else(|| workspace_root().join("BENCHMARKS.md"));
    report::write_section(&path, &section)
}

/// The baseline: `nft_ns` on a veth into `node`, routed by the node's
/// kernel and masqueraded by nftables on its underlay interface.
fn nft_path(node: &str, nft_ns: &str, dir: &std::path::Path) -> Result<()> {
    let ip = |args: &[&str]| sh::run(std::process::Command::new("ip").args(args));
    ip(&[
        "-n", node, "link", "add", "nfth", "type", "veth", "peer", "name", "nftt", "netns", nft_ns,
    ])?;
    ip(&[
        "-n",
        node,
        "addr",
        "add",
        &format!("{NFT_NODE}/30"),
        "dev",
        "nfth",
    ])?;
    ip(&["-n", node, "link", "set", "nfth", "up"])?;
    ip(&[
        "-n",
        nft_ns,
        "addr",
        "add",
        &format!("{NFT_TASK}/30"),
        "dev",
        "nftt",
    ])?;
    ip(&["-n", nft_ns, "link", "set", "nftt", "up"])?;
    ip(&["-n", nft_ns, "route", "add", "default", "via", NFT_NODE])?;
    sh::run(std::process::Command::new("ip").args([
        "netns",
        "exec",
        node,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
    ]))?;
    let rules = format!(
        "table ip bench_egress {{\n  chain post {{\n    type nat hook postrouting priority srcnat;\n    \
         ip saddr {NFT_TASK}/32 oifname \"eth0\" masquerade\n  }}\n}}\n"
    );
    super::lb_nft::load(node, dir, &rules)?;
    Ok(())
}

/// The node's non-zero drop counters after the runs (`reason packets`),
/// so a missed target shows where packets went.
fn dp_drops(node: &shoal_netns_tests::lab::Node) -> Vec<String> {
    let Ok(json) = node.shoal(&["dp", "stats", "--format", "json"]) else {
        return vec!["(dp stats unreadable)".to_owned()];
    };
    let report: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["drop"] == true && r["packets"].as_u64().unwrap_or(0) > 0)
        .map(|r| format!("{} {}", r["counter"].as_str().unwrap_or("?"), r["packets"]))
        .collect()
}

/// Medians of `reps` runs of each figure on `pair`.
fn measure_path(pair: &Pair, args: &EgressArgs) -> Result<Figures> {
    let (mut gbps, mut conns, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.reps {
        gbps.push(measure::tcp_throughput(pair, 1, args.secs)?);
        let (rps, p99_ms) = measure::request_response(pair, args.secs)?;
        conns.push(rps);
        p99.push(p99_ms);
    }
    Ok(Figures {
        gbps: median(gbps),
        new_conns: median(conns),
        p99_ms: median(p99),
    })
}

fn render(
    machine: &Machine,
    results: &[(&str, Figures)],
    args: &EgressArgs,
    drops: &[String],
) -> String {
    let mut out = String::from("## egress\n\n");
    out.push_str(&format!(
        "`cargo xtask bench egress` on {} ({}, {} cores, {} GiB, kernel {}, load {} at start). \
         A task on a one-node swarm reaches a world host on the underlay: through shoal's eBPF \
         masquerade, and from a plain namespace routed by the same node's kernel with an \
         nftables masquerade rule. Median of {} runs of {} s each; new connections are wrk \
         requests with `Connection: close` to xtask's own HTTP server.\n\n",
        machine.date,
        machine.cpu,
        machine.cores,
        machine.mem_gib,
        machine.kernel,
        machine.load,
        args.reps,
        args.secs
    ));
    if let Some(warning) = busy_warning(machine) {
        out.push_str(&format!("{warning}\n\n"));
    }
    out.push_str("| path | TCP 1 stream | new connections/s | p99 |\n|---|---:|---:|---:|\n");
    for (name, f) in results {
        out.push_str(&format!(
            "| {name} | {:.2} Gbit/s | {:.0} | {:.2} ms |\n",
            f.gbps, f.new_conns, f.p99_ms
        ));
    }
    if let [(_, shoal), (_, nft)] = results {
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.2}x", a / b)
            } else {
                "n/a".into()
            }
        };
        let met = |a: f64, b: f64| {
            if b > 0.0 && a / b >= 1.0 {
                "met"
            } else {
                "missed"
            }
        };
        out.push_str(&format!(
            "\nshoal / nftables: TCP 1 stream {} ({} the ≥ 1.0x target), new connections {} ({}).\n",
            ratio(shoal.gbps, nft.gbps),
            met(shoal.gbps, nft.gbps),
            ratio(shoal.new_conns, nft.new_conns),
            met(shoal.new_conns, nft.new_conns),
        ));
    }
    let drops = if drops.is_empty() {
        "none".to_owned()
    } else {
        drops.join(", ")
    };
    out.push_str(&format!(
        "\nshoal's drops on the node over the whole run: {drops}.\n"
    ));
    out
}
