//! The load-balancing section of BENCHMARKS.md: machine, method, the raw
//! tables (east-west, scale, routing mesh) and the ratios against the
//! issue's targets, each marked met or missed.

use std::fmt::Write as _;

use super::lb_load::Measured;
use super::report::{self, Machine};

/// First line of the section; merging replaces the section it starts.
pub const TITLE: &str = "## Load balancing (`cargo xtask bench lb`)";

/// East-west row names.
pub const DIRECT_SHOAL: &str = "direct to a backend, shoal overlay";
pub const VIP_SHOAL: &str = "shoal VIP";
pub const DIRECT_ROUTED: &str = "direct to a backend, routed";
pub const NFT_DNAT: &str = "nftables DNAT";
/// Routing-mesh row names.
pub const MESH_SHOAL_LOCAL: &str = "shoal, backends on the node";
pub const MESH_SHOAL_REMOTE: &str = "shoal, backends on another node";
pub const MESH_NFT_LOCAL: &str = "nftables ingress, backends on the node";
pub const MESH_NFT_REMOTE: &str = "nftables ingress, backends on another node";
/// Scale systems.
pub const SHOAL: &str = "shoal";
pub const NFTABLES: &str = "nftables";

/// A path measured in both modes.
#[derive(Debug, Clone)]
pub struct EwRow {
    pub name: &'static str,
    pub keepalive: Measured,
    pub newconn: Measured,
}

/// One service count of one system.
#[derive(Debug, Clone)]
pub struct ScaleRow {
    pub system: &'static str,
    pub services: usize,
    /// Seconds to install the count, and to apply it again unchanged (shoal).
    pub setup: Result<(f64, Option<f64>), String>,
    pub keepalive: Measured,
    pub newconn: Measured,
}

/// A routing-mesh path (new connections only).
#[derive(Debug, Clone)]
pub struct MeshRow {
    pub name: &'static str,
    pub newconn: Measured,
}

/// Everything the section shows.
#[derive(Debug, Clone)]
pub struct LbRun {
    pub machine: Machine,
    pub secs: u64,
    pub reps: usize,
    pub east_west: Vec<EwRow>,
    pub scale: Vec<ScaleRow>,
    pub mesh: Vec<MeshRow>,
    /// shoal's programs per path and mode: runs and ns per run.
    pub profiles: Vec<PathProfile>,
}

/// What shoal's eBPF programs spent on one path in one mode.
#[derive(Debug, Clone)]
pub struct PathProfile {
    pub path: &'static str,
    pub mode: &'static str,
    pub costs: Vec<super::prog_stats::ProgCost>,
}

/// Renders the section (title line first).
pub fn render(run: &LbRun) -> String {
    let m = &run.machine;
    let mut s = format!("{TITLE}\n\n");
    let _ = writeln!(
        s,
        "{}, Linux {}, {} ({} CPUs), {} GiB, load average {} at the start; \
         median of {} run(s) of {} s per measurement.\n",
        m.date, m.kernel, m.cpu, m.cores, m.mem_gib, m.load, run.reps, run.secs
    );
    if let Some(warning) = report::busy_warning(m) {
        let _ = writeln!(s, "{warning}\n");
    }
    s.push_str(METHOD);
    render_east_west(&mut s, run);
    render_scale(&mut s, run);
    render_mesh(&mut s, run);
    render_ratios(&mut s, run);
    render_profiles(&mut s, run);
    s
}

/// Per path and mode, each of shoal's programs that ran: packets and ns per
/// packet (`kernel.bpf_stats_enabled`, `bpftool prog show`).
fn render_profiles(s: &mut String, run: &LbRun) {
    if run.profiles.is_empty() {
        return;
    }
    s.push_str(
        "\n### Where the time goes: shoal's eBPF programs per path\n\n\
         Each program's runs and run time over every run of a path (the kernel's \
         `bpf_stats`; one run is one packet through that hook), east-west and mesh \
         paths; nftables paths run none of them.\n\n",
    );
    s.push_str("| path | load | program | packets | ns/packet |\n|---|---|---|---:|---:|\n");
    for p in &run.profiles {
        for c in &p.costs {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.0} |",
                p.path, p.mode, c.name, c.runs, c.ns_per_run
            );
        }
    }
}

const METHOD: &str = include_str!("lb_method.md");

fn render_east_west(s: &mut String, run: &LbRun) {
    s.push_str("\n### East-west: task to service\n\n");
    s.push_str(
        "| path | keep-alive req/s | p50 ms | p99 ms | new conn req/s | p50 ms | p99 ms |\n",
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for row in &run.east_west {
        let cells = [stats(&row.keepalive), stats(&row.newconn)];
        let _ = writeln!(s, "| {} | {} |", row.name, cells.join(" | "));
    }
}

fn render_scale(s: &mut String, run: &LbRun) {
    s.push_str("\n### Scale: the same service among N\n\n");
    s.push_str(
        "| system | services | install s | re-apply s | keep-alive req/s | p99 ms | new conn req/s | p99 ms |\n",
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in &run.scale {
        let setup = match &row.setup {
            Ok((install, again)) => {
                let again = again.map_or_else(|| "—".into(), |a| format!("{a:.2}"));
                format!("{install:.2} | {again}")
            }
            Err(e) => format!("{} | n/a", report::na(e)),
        };
        let cells = [short(&row.keepalive), short(&row.newconn)];
        let _ = writeln!(
            s,
            "| {} | {} | {setup} | {} |",
            row.system,
            row.services,
            cells.join(" | ")
        );
    }
}

fn render_mesh(s: &mut String, run: &LbRun) {
    s.push_str("\n### Routing mesh: underlay client to a published port\n\n");
    s.push_str("| path | new conn req/s | p50 ms | p99 ms |\n|---|---:|---:|---:|\n");
    for row in &run.mesh {
        let _ = writeln!(s, "| {} | {} |", row.name, stats(&row.newconn));
    }
}

/// `req/s | p50 | p99`.
fn stats(m: &Measured) -> String {
    match m {
        Ok(x) => format!("{:.0} | {:.2} | {:.2}", x.rps, x.p50_ms, x.p99_ms),
        Err(e) => format!("{} | n/a | n/a", report::na(e)),
    }
}

/// `req/s | p99`.
fn short(m: &Measured) -> String {
    match m {
        Ok(x) => format!("{:.0} | {:.2}", x.rps, x.p99_ms),
        Err(e) => format!("{} | n/a", report::na(e)),
    }
}

/// Which number of a measurement a ratio compares.
#[derive(Clone, Copy)]
enum Stat {
    Rps,
    P99,
}

fn pick(m: &Measured, stat: Stat) -> Option<f64> {
    let x = m.as_ref().ok()?;
    Some(match stat {
        Stat::Rps => x.rps,
        Stat::P99 => x.p99_ms,
    })
}

/// One ratio line: label, numerator, denominator, and the minimum the
/// issue asks for (if any).
struct Ratio {
    label: String,
    num: Option<f64>,
    den: Option<f64>,
    at_least: Option<f64>,
}

fn render_ratios(s: &mut String, run: &LbRun) {
    s.push_str("\n### Ratios and targets\n\n");
    s.push_str("| ratio | value | target | |\n|---|---:|---:|---|\n");
    let mut missed = Vec::new();
    for r in ratios(run) {
        let value = match (r.num, r.den) {
            (Some(n), Some(d)) if d > 0.0 => Some(n / d),
            _ => None,
        };
        let (target, verdict) = match (r.at_least, value) {
            (None, _) => ("—".to_owned(), ""),
            (Some(t), None) => (format!("≥ {t:.2}x"), "not measured"),
            (Some(t), Some(v)) if v >= t => (format!("≥ {t:.2}x"), "met"),
            (Some(t), Some(_)) => (format!("≥ {t:.2}x"), "**missed**"),
        };
        if verdict != "met" && r.at_least.is_some() {
            missed.push(r.label.clone());
        }
        let value = value.map_or_else(|| "n/a".into(), |v| format!("{v:.2}x"));
        let _ = writeln!(s, "| {} | {value} | {target} | {verdict} |", r.label);
    }
    if missed.is_empty() {
        s.push_str("\nEvery target was met in this run.\n");
    } else {
        let _ = writeln!(s, "\nTargets missed in this run: {}.", missed.join("; "));
    }
}

fn ratios(run: &LbRun) -> Vec<Ratio> {
    let ew = |name: &str, keepalive: bool, stat: Stat| {
        let row = run.east_west.iter().find(|r| r.name == name)?;
        pick(
            if keepalive {
                &row.keepalive
            } else {
                &row.newconn
            },
            stat,
        )
    };
    let mesh =
        |name: &str, stat: Stat| pick(&run.mesh.iter().find(|r| r.name == name)?.newconn, stat);
    let ratio = |label: &str, num, den, at_least| Ratio {
        label: label.into(),
        num,
        den,
        at_least,
    };
    let mut out = vec![
        ratio(
            "shoal VIP / direct (shoal), keep-alive req/s",
            ew(VIP_SHOAL, true, Stat::Rps),
            ew(DIRECT_SHOAL, true, Stat::Rps),
            Some(0.95),
        ),
        ratio(
            "shoal VIP / nftables DNAT, new conn req/s",
            ew(VIP_SHOAL, false, Stat::Rps),
            ew(NFT_DNAT, false, Stat::Rps),
            Some(1.2),
        ),
        ratio(
            "shoal VIP / nftables DNAT, keep-alive req/s",
            ew(VIP_SHOAL, true, Stat::Rps),
            ew(NFT_DNAT, true, Stat::Rps),
            None,
        ),
        ratio(
            "shoal VIP / nftables DNAT, new conn p99",
            ew(VIP_SHOAL, false, Stat::P99),
            ew(NFT_DNAT, false, Stat::P99),
            None,
        ),
        ratio(
            "shoal VIP / direct (shoal), new conn req/s",
            ew(VIP_SHOAL, false, Stat::Rps),
            ew(DIRECT_SHOAL, false, Stat::Rps),
            None,
        ),
        ratio(
            "nftables DNAT / direct (routed), keep-alive req/s",
            ew(NFT_DNAT, true, Stat::Rps),
            ew(DIRECT_ROUTED, true, Stat::Rps),
            None,
        ),
        ratio(
            "nftables DNAT / direct (routed), new conn req/s",
            ew(NFT_DNAT, false, Stat::Rps),
            ew(DIRECT_ROUTED, false, Stat::Rps),
            None,
        ),
    ];
    out.extend(scale_ratios(run));
    out.extend([
        ratio(
            "mesh, local backends: shoal / nftables, new conn req/s",
            mesh(MESH_SHOAL_LOCAL, Stat::Rps),
            mesh(MESH_NFT_LOCAL, Stat::Rps),
            Some(1.2),
        ),
        ratio(
            "mesh, remote backends: shoal / nftables, new conn req/s",
            mesh(MESH_SHOAL_REMOTE, Stat::Rps),
            mesh(MESH_NFT_REMOTE, Stat::Rps),
            Some(1.2),
        ),
        ratio(
            "mesh, local backends: shoal / nftables, p99",
            mesh(MESH_SHOAL_LOCAL, Stat::P99),
            mesh(MESH_NFT_LOCAL, Stat::P99),
            None,
        ),
        ratio(
            "mesh, remote backends: shoal / nftables, p99",
            mesh(MESH_SHOAL_REMOTE, Stat::P99),
            mesh(MESH_NFT_REMOTE, Stat::P99),
            None,
        ),
    ]);
    out
}

/// Largest against smallest service count, per system and mode; shoal's
/// req/s must stay within 5% ("flat").
fn scale_ratios(run: &LbRun) -> Vec<Ratio> {
    let mut out = Vec::new();
    for system in [SHOAL, NFTABLES] {
        let rows: Vec<&ScaleRow> = run.scale.iter().filter(|r| r.system == system).collect();
        let (Some(lo), Some(hi)) = (
            rows.iter().min_by_key(|r| r.services),
            rows.iter().max_by_key(|r| r.services),
        ) else {
            continue;
        };
        if lo.services == hi.services {
            continue;
        }
        let target = (system == SHOAL).then_some(0.95);
        for (mode, num, den) in [
            ("keep-alive", &hi.keepalive, &lo.keepalive),
            ("new conn", &hi.newconn, &lo.newconn),
        ] {
            out.push(Ratio {
                label: format!(
                    "{system}, {} / {} services, {mode} req/s",
                    hi.services, lo.services
                ),
                num: pick(num, Stat::Rps),
                den: pick(den, Stat::Rps),
                at_least: target,
            });
        }
    }
    out
}
