//! `cargo xtask bench encrypted`: an encrypted overlay network's speed, in
//! one run next to the same swarm's clear overlay and boringtun-cli as a
//! plain WireGuard tunnel.
//!
//! ```text
//!   n1: task cli ── secure (encrypted): VXLAN → shoal-wg0 → WireGuard UDP ──► n2: task srv
//!               └─ plain (clear):     VXLAN UDP 4789 ────────────────────────►
//!   bta ── boringtun-cli ── veth ── boringtun-cli ── btb   (the baseline)
//! ```
//!
//! The shoal rows are two daemons of a lab swarm with real containers
//! (`ServiceLab`), the release `shoal` — the path a user gets, daemon,
//! agent, `WgDevice` and eBPF programs included.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use shoal_netns_tests::overlay_kit::encrypted::{
    add_secure_and_plain, addr_on, netns, the_task, wg_status,
};
use shoal_netns_tests::services_kit::ServiceLab;

use super::measure::Pair;
use super::overlay::{RunOptions, build_shoal, connected, measure_row};
use super::report::{self, Machine, OverlayRun};

const BORINGTUN: &str = "boringtun-cli";
const CLEAR: &str = "shoal clear overlay";
const ENCRYPTED: &str = "shoal encrypted overlay";
/// First line of the section in BENCHMARKS.md.
const TITLE: &str = "## Encrypted overlay (`cargo xtask bench encrypted`)";
/// At least this much must have crossed the WireGuard path for the
/// encrypted row to count as measured on it.
const MIN_WG_BYTES: u64 = 10 << 20;

/// Arguments of `cargo xtask bench encrypted`.
#[derive(Args)]
pub struct EncryptedArgs {
    #[command(flatten)]
    run: RunOptions,
}

/// Runs the benchmark and writes the report.
pub fn run(args: EncryptedArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces and containers: run as root");
    }
    let boringtun = super::encrypted_baseline::ensure_tools()?;
    build_shoal().context("building shoal")?;
    let plan = args.run.plan();
    let machine = Machine::probe()?;
    let mut lab = ServiceLab::new(2);
    let (clear, secure) = shoal_pairs(&lab)?;
    let baseline = super::encrypted_baseline::start(&mut lab.lab, &boringtun)
        .and_then(|b| {
            connected(
                b.pair.sender.clone(),
                b.pair.receiver.clone(),
                b.pair.receiver_ip,
            )?;
            Ok(b)
        })
        .map_err(|e| format!("{e:#}"));
    let bt_pair = baseline
        .as_ref()
        .map(|b| b.pair.clone())
        .map_err(Clone::clone);
    let bt_row = measure_row(BORINGTUN, bt_pair, plan);
    drop(baseline);
    let clear_row = measure_row(CLEAR, Ok(clear), plan);
    let before = wg_tx_bytes(&lab);
    let mut enc_row = measure_row(ENCRYPTED, Ok(secure), plan);
    let after = wg_tx_bytes(&lab);
    if after.saturating_sub(before) < MIN_WG_BYTES {
        enc_row.result = Err(format!(
            "n1's WireGuard path sent {} bytes during the measurement: not measured on it",
            after.saturating_sub(before)
        ));
    }
    let run = OverlayRun {
        machine,
        secs: plan.secs,
        reps: plan.reps,
        rows: vec![bt_row, clear_row, enc_row],
        ratios: vec![(ENCRYPTED, BORINGTUN), (ENCRYPTED, CLEAR)],
        profiles: Vec::new(),
        title: TITLE,
        method: METHOD,
    };
    let mut section = report::render_overlay(&run);
    section.push_str(&format!(
        "\nWireGuard drop counters on n1 / n2 after the run: {}\n",
        wg_counters(&lab)
    ));
    section.push_str(&format!(
        "\nSuper-frames written into the TAP device on n1 / n2 (decrypted segments of one \
         stream joined, `rx_super_frames`): {}\n",
        wg_field(&lab, "rx_super_frames")
    ));
    args.run.write_report("encrypted", &section)
}

/// Networks `secure` (encrypted) and `plain`, task `cli` on n1 and `srv`
/// on n2 on both: the (clear, encrypted) pairs from cli to srv.
fn shoal_pairs(lab: &ServiceLab) -> Result<(Pair, Pair)> {
    add_secure_and_plain(lab)?;
    let (cli, srv) = (the_task(lab, "cli"), the_task(lab, "srv"));
    let clear = connected(netns(&cli), netns(&srv), addr_on(&srv, "plain"))?;
    let secure = connected(netns(&cli), netns(&srv), addr_on(&srv, "secure"))?;
    Ok((clear, secure))
}

/// n1's `shoal dp peers`: bytes sent to its peers (0 if unreadable).
fn wg_tx_bytes(lab: &ServiceLab) -> u64 {
    wg_status(lab, 0).unwrap_or_default()["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["tx_bytes"].as_u64())
        .sum()
}

/// Both nodes' WireGuard drop counters, as `dp peers` shows them.
fn wg_counters(lab: &ServiceLab) -> String {
    wg_field(lab, "counters")
}

/// One field of both nodes' `dp peers` status, "n1 / n2".
fn wg_field(lab: &ServiceLab, field: &str) -> String {
    (0..2)
        .map(|i| wg_status(lab, i).unwrap_or_default()[field].to_string())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// How the numbers come about, under the machine line.
const METHOD: &str = "\
One run measures three paths between two namespaces, one after the other:
**boringtun-cli** (a plain WireGuard tunnel: boringtun-cli in each of two
namespaces joined by one veth pair, configured with `wg set`; tunnel MTU
1420), **shoal clear overlay** and **shoal encrypted overlay** (a two-node
lab swarm of release `shoal` daemons; task `cli` on n1 and `srv` on n2, both
on a clear network and on an `--opt encrypted` one; the encrypted row only
counts if n1's WireGuard path (`shoal dp peers`) carried its traffic). TCP:
`iperf3 -J` with 1 and 4 streams, receiver-side rate. Request/response:
`wrk -t1 -c16 --latency -H 'Connection: close'` fetching 1 KiB from
xtask's own HTTP server (one connection per request). Ratios above 1 mean more throughput or requests
(or a longer p99) than the denominator.
";
