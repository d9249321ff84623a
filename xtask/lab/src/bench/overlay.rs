//! `cargo xtask bench overlay`: task-to-task throughput and request/response
//! over three paths in one lab run — a raw veth pair (the floor), Docker
//! Swarm's kernel VXLAN + bridge path, and shoal's overlay (`shoal dp apply`).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use shoal_dataplane::node::DesiredState;
use shoal_dataplane::overlay::state::{
    LocalEndpoint, NetworkSpec, RemoteEndpoint, Subnet, Underlay,
};
use shoal_netns_tests::lab::cmd::netns_command;
use shoal_netns_tests::lab::{Lab, Node};
use shoal_netns_tests::overlay_kit::{
    Capture, Cidr, MacAddr, Peer, TaskIface, VXLAN_OVERHEAD, VXLAN_PORT, kernel_vxlan,
    raw_veth_pair, vxlan_vnis, write_desired_state,
};

use super::measure::{self, Pair};
use super::report::{self, Machine, Metrics, OverlayRun, Row};
use xtask::sh;

const RAW: &str = "raw veth";
const KERNEL: &str = "kernel vxlan";
const SHOAL: &str = "shoal";
const SHOAL_WIRE: &str = "shoal TC, wire csum";
const SHOAL_XDP: &str = "shoal XDP, wire csum";
/// Frames node 4 must have unwrapped at XDP over the XDP row for it to
/// count as measured on that path (one TCP run alone sends far more).
const MIN_XDP_DECAPS: u64 = 10_000;
/// Seconds per run and runs per measurement, normally and with `--quick`.
const FULL: Plan = Plan { secs: 5, reps: 3 };
const QUICK: Plan = Plan { secs: 1, reps: 1 };
/// MTU of the lab's underlay links.
const UNDERLAY_MTU: u32 = 1500;
/// VNI of the kernel path's network and of shoal's.
const KERNEL_VNI: u32 = 4096;
const SHOAL_VNI: u32 = 4097;
/// shoal's tasks: on node 3 (sender) and node 4 (receiver).
const SHOAL_IP_A: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 2);
const SHOAL_IP_B: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 3);
/// Underlay interface of every lab node.
const UNDERLAY_IFACE: &str = "eth0";

/// How long and how often an overlay-style benchmark measures, and where
/// its report goes (`bench overlay`, `bench encrypted`).
#[derive(Args)]
pub struct RunOptions {
    /// 1-second measurements, for a smoke test; the report goes to
    /// target/bench/<bench>-quick.md unless --output says otherwise.
    #[arg(long)]
    quick: bool,
    /// Runs per measurement, the report showing their median (default 3; 1 with --quick).
    #[arg(long, value_name = "N")]
    reps: Option<usize>,
    /// Where to write the report (default: BENCHMARKS.md at the workspace root).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl RunOptions {
    /// Seconds per run and runs per measurement these options ask for.
    pub(super) fn plan(&self) -> Plan {
        let mut plan = if self.quick { QUICK } else { FULL };
        plan.reps = self.reps.unwrap_or(plan.reps).max(1);
        plan
    }

    /// Prints `section` and writes it: into BENCHMARKS.md (merged with the
    /// other sections), or alone into `--output` / the quick-run file of
    /// bench `name`.
    pub(super) fn write_report(&self, name: &str, section: &str) -> Result<()> {
        println!("\n{section}");
        let path = match (&self.output, self.quick) {
            (Some(path), _) => path.clone(),
            (None, true) => workspace_root().join(format!("target/bench/{name}-quick.md")),
            (None, false) => workspace_root().join("BENCHMARKS.md"),
        };
        report::write_section(&path, section)
    }
}

/// Arguments of `cargo xtask bench overlay`.
#[derive(Args)]
pub struct OverlayArgs {
    #[command(flatten)]
    run: RunOptions,
}

/// Runs the benchmark and writes the report.
pub fn run(args: OverlayArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces: run as root");
    }
    let shoal = build_shoal().map_err(|e| format!("building shoal: {e:#}"));
    let plan = args.run.plan();
    let machine = Machine::probe()?;
    let mut lab = Lab::builder()
        .nodes(4)
        .build()
        .context("building the lab")?;
    println!(
        "== lab {}: {} run(s) of {} s per measurement",
        lab.id(),
        plan.reps,
        plan.secs
    );
    let raw = raw_pair(&mut lab).map_err(|e| format!("{e:#}"));
    let raw = measure_row(RAW, raw, plan);
    let kernel = kernel_pair(&mut lab).map_err(|e| format!("{e:#}"));
    let kernel = measure_row(KERNEL, kernel, plan);
    let pair = shoal.and_then(|()| shoal_pair(&mut lab).map_err(|e| format!("{e:#}")));
    let (shoal, tc_profile) = profiled_row(SHOAL, pair.clone(), plan);
    let wire = pair.and_then(|p| {
        wire_checksums(&lab)
            .map(|()| p)
            .map_err(|e| format!("{e:#}"))
    });
    let (wire_row, wire_profile) = profiled_row(SHOAL_WIRE, wire.clone(), plan);
    let xdp = wire.and_then(|p| {
        apply_shoal(&lab, &p.sender, &p.receiver, true)
            .map(|()| p)
            .map_err(|e| format!("{e:#}"))
    });
    let decaps_before = xdp_decaps(&lab);
    let (mut xdp, xdp_profile) = profiled_row(SHOAL_XDP, xdp, plan);
    let decaps = xdp_decaps(&lab).saturating_sub(decaps_before);
    if xdp.result.is_ok() && decaps < MIN_XDP_DECAPS {
        xdp.result = Err(format!(
            "node 4 unwrapped {decaps} frames at XDP during the measurement: not measured on it"
        ));
    }
    let run = OverlayRun {
        machine,
        secs: plan.secs,
        reps: plan.reps,
        rows: vec![raw, kernel, shoal, wire_row, xdp],
        ratios: vec![
            (KERNEL, RAW),
            (SHOAL, RAW),
            (SHOAL, KERNEL),
            (SHOAL_XDP, SHOAL_WIRE),
            (SHOAL_XDP, KERNEL),
        ],
        profiles: vec![
            (SHOAL, tc_profile),
            (SHOAL_WIRE, wire_profile),
            (SHOAL_XDP, xdp_profile),
        ],
        title: report::OVERLAY_TITLE,
        method: report::OVERLAY_METHOD,
    };
    args.run
        .write_report("overlay", &report::render_overlay(&run))
}

/// Builds the release `shoal` and points the lab's `node.shoal()` at it.
pub(super) fn build_shoal() -> Result<()> {
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "--release",
        "-p",
        "shoal-control",
        "--bin",
        "shoal",
    ]);
    sh::run(&mut build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    // SAFETY: xtask is single-threaded here; nothing reads the environment concurrently.
    unsafe { std::env::set_var("SHOAL_BIN", target.join("release/shoal")) };
    Ok(())
}

pub(super) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How long and how often each measurement runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// Seconds per run.
    pub secs: u64,
    /// Runs per measurement; the report shows their median.
    pub reps: usize,
}

/// Measures one path, or records why it could not be built.
pub(super) fn measure_row(path: &'static str, pair: Result<Pair, String>, plan: Plan) -> Row {
    let pair = match pair {
        Ok(pair) => pair,
        Err(e) => {
            println!("{path}: n/a: {e}");
            return Row {
                path,
                result: Err(e),
            };
        }
    };
    let show = |what: &str, m: &Result<f64, String>| match m {
        Ok(v) => println!("{path}: {what} {v:.2}"),
        Err(e) => println!("{path}: {what} n/a: {e}"),
    };
    let tcp = |streams| {
        repeat(plan.reps, || {
            measure::tcp_throughput(&pair, streams, plan.secs)
        })
        .map(measure::median)
    };
    let tcp1 = tcp(1);
    show("TCP 1 stream Gbit/s", &tcp1);
    let tcp4 = tcp(4);
    show("TCP 4 streams Gbit/s", &tcp4);
    let rr = repeat(plan.reps, || measure::request_response(&pair, plan.secs));
    let (rps, p99_ms) = match rr {
        Ok(runs) => (
            Ok(measure::median(runs.iter().map(|r| r.0).collect())),
            Ok(measure::median(runs.iter().map(|r| r.1).collect())),
        ),
        Err(e) => (Err(e.clone()), Err(e)),
    };
    show("req/s", &rps);
    show("p99 ms", &p99_ms);
    Row {
        path,
        result: Ok(Metrics {
            tcp1,
            tcp4,
            rps,
            p99_ms,
        }),
    }
}

/// [`measure_row`] with each shoal program's runs and run time over it
/// (bpf_stats); no profile if the kernel will not count.
fn profiled_row(
    path: &'static str,
    pair: Result<Pair, String>,
    plan: Plan,
) -> (Row, Vec<super::prog_stats::ProgCost>) {
    let stats = super::prog_stats::StatsOn::enable();
    let before = super::prog_stats::snapshot();
    let row = measure_row(path, pair, plan);
    let profile = match (&stats, before, super::prog_stats::snapshot()) {
        (Ok(_), Ok(before), Ok(after)) => super::prog_stats::costs(&before, &after),
        _ => Vec::new(),
    };
    (row, profile)
}

/// Runs `f` `reps` times; every run must succeed (a flaky path is reported, not hidden).
fn repeat<T>(reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<Vec<T>, String> {
    (1..=reps)
        .map(|i| {
            f().map_err(|e| match reps {
                1 => format!("{e:#}"),
                _ => format!("run {i}/{reps}: {e:#}"),
            })
        })
        .collect()
}

/// Two task namespaces joined by one veth pair.
fn raw_pair(lab: &mut Lab) -> Result<Pair> {
    let (a, b) = (lab.add_netns("ra")?, lab.add_netns("rb")?);
    let (ip_a, ip_b) = (Ipv4Addr::new(10, 30, 0, 1), Ipv4Addr::new(10, 30, 0, 2));
    raw_veth_pair(lab, &a, &b, cidr24(ip_a), cidr24(ip_b))?;
    connected(a, b, ip_b)
}

/// A task on node 1 and one on node 2, joined by the kernel's VXLAN + bridge path.
fn kernel_pair(lab: &mut Lab) -> Result<Pair> {
    let (a, b) = (lab.add_netns("ka")?, lab.add_netns("kb")?);
    let (n1, n2) = (member(lab, 1)?, member(lab, 2)?);
    let (ip_a, ip_b) = (Ipv4Addr::new(10, 20, 0, 2), Ipv4Addr::new(10, 20, 0, 3));
    for (node, ns, ip, peer_ip, peer_node) in [
        (&n1, &a, ip_a, ip_b, n2.addr()),
        (&n2, &b, ip_b, ip_a, n1.addr()),
    ] {
        let task = TaskIface {
            netns: ns.clone(),
            addr: cidr24(ip),
            mac: MacAddr::from_ip(ip),
            mtu: UNDERLAY_MTU - VXLAN_OVERHEAD,
        };
        let peer = Peer {
            ip: peer_ip,
            mac: MacAddr::from_ip(peer_ip),
            node: peer_node,
        };
        kernel_vxlan::attach(node, KERNEL_VNI, &task, &[peer])
            .with_context(|| format!("kernel vxlan on {}", node.name()))?;
    }
    on_the_wire(lab, &a, ip_b, KERNEL_VNI)?;
    connected(a, b, ip_b)
}

/// A task on node 3 and one on node 4, joined by shoal's overlay: each node
/// gets its desired state through `shoal dp apply`.
fn shoal_pair(lab: &mut Lab) -> Result<Pair> {
    let (a, b) = (lab.add_netns("sa")?, lab.add_netns("sb")?);
    apply_shoal(lab, &a, &b, false)?;
    connected(a, b, SHOAL_IP_B)
}

/// `shoal dp apply` on nodes 3 and 4 for tasks `a` (node 3) and `b` (node
/// 4), the XDP fast path on or off; then the pings must cross as VXLAN.
fn apply_shoal(lab: &Lab, a: &str, b: &str, xdp_fast_path: bool) -> Result<()> {
    let (n3, n4) = (member(lab, 3)?, member(lab, 4)?);
    let (ip_a, ip_b) = (SHOAL_IP_A, SHOAL_IP_B);
    for (node, ns, ip, peer_ip, peer_node) in [
        (&n3, a, ip_a, ip_b, n4.addr()),
        (&n4, b, ip_b, ip_a, n3.addr()),
    ] {
        let mut state = shoal_state(ns, ip, peer_ip, peer_node);
        state.underlay.xdp_fast_path = xdp_fast_path;
        let file = write_desired_state(node, "overlay.json", &state)?;
        node.shoal(&["dp", "apply", &file.to_string_lossy()])
            .with_context(|| format!("shoal dp apply on {}", node.name()))?;
    }
    on_the_wire(lab, a, ip_b, SHOAL_VNI)
}

/// Nodes 3 and 4's underlay veths stop offloading transmit checksums:
/// frames then carry complete checksums, as on a real wire.
fn wire_checksums(lab: &Lab) -> Result<()> {
    for index in [3, 4] {
        let node = member(lab, index)?;
        let mut cmd = node.command(&["ethtool", "-K", UNDERLAY_IFACE, "tx", "off"])?;
        sh::output(&mut cmd).with_context(|| format!("ethtool on {}", node.name()))?;
    }
    Ok(())
}

/// Frames node 4 unwrapped at XDP so far (0 if unreadable).
fn xdp_decaps(lab: &Lab) -> u64 {
    let Some(node) = lab.node(4) else {
        return 0;
    };
    let Ok(json) = node.shoal(&["dp", "stats", "--format", "json"]) else {
        return 0;
    };
    let json: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    json["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["counter"] == "xdp-decap"))
        .and_then(|r| r["packets"].as_u64())
        .unwrap_or(0)
}

/// One node's desired state: network "front", one local task, one remote.
fn shoal_state(netns: &str, ip: Ipv4Addr, peer_ip: Ipv4Addr, peer_node: Ipv4Addr) -> DesiredState {
    const NET: &str = "front";
    DesiredState {
        underlay: Underlay {
            iface: UNDERLAY_IFACE.into(),
            addr: None,
            vxlan_port: VXLAN_PORT,
            wg_iface: None,
            xdp_fast_path: false,
        },
        networks: vec![NetworkSpec {
            name: NET.into(),
            vni: SHOAL_VNI,
            subnet: Subnet {
                addr: cidr24(ip).network().addr,
                prefix_len: 24,
            },
            internal: false,
            encrypted: false,
        }],
        endpoints: vec![LocalEndpoint {
            id: netns.rsplit('-').next().unwrap_or(netns).into(),
            netns: netns.into(),
            ifname: "eth0".into(),
            network: NET.into(),
            ip,
            mac: None,
        }],
        remote_endpoints: vec![RemoteEndpoint {
            network: NET.into(),
            ip: peer_ip,
            mac: None,
            node: peer_node,
        }],
        ..Default::default()
    }
}

fn member(lab: &Lab, index: usize) -> Result<Node> {
    lab.node(index)
        .cloned()
        .with_context(|| format!("lab has no node {index}"))
}

fn cidr24(ip: Ipv4Addr) -> Cidr {
    Cidr {
        addr: ip,
        prefix: 24,
    }
}

/// Checks that pings from `sender` to `ip` cross the underlay switch as
/// standard VXLAN frames with `vni`, as tshark decodes them: a path measured
/// as "overlay" must really be one.
fn on_the_wire(lab: &Lab, sender: &str, ip: Ipv4Addr, vni: u32) -> Result<()> {
    let file = lab.id().state_root().join(format!("vni{vni}.pcapng"));
    let capture = Capture::start(&lab.switch_netns(), "br0", "udp", &file)?;
    let target = ip.to_string();
    let mut ping = netns_command(sender, &["ping", "-c3", "-i0.2", "-W2", &target])?;
    let pinged = sh::output(&mut ping);
    let vnis = vxlan_vnis(&capture.stop()?)?;
    pinged.with_context(|| format!("no connectivity from {sender} to {ip}"))?;
    if vnis.is_empty() || vnis.iter().any(|&v| v != vni) {
        bail!("expected VXLAN frames with VNI {vni} on the underlay, tshark decoded VNIs {vnis:?}");
    }
    Ok(())
}

/// The pair, once the sender reaches the receiver at all.
pub(super) fn connected(sender: String, receiver: String, receiver_ip: Ipv4Addr) -> Result<Pair> {
    let ip = receiver_ip.to_string();
    let mut ping = netns_command(&sender, &["ping", "-c3", "-i0.2", "-W2", &ip])?;
    sh::output(&mut ping).with_context(|| format!("no connectivity from {sender} to {ip}"))?;
    Ok(Pair {
        sender,
        receiver,
        receiver_ip,
    })
}
