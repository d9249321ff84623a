//! `cargo xtask bench lb`: shoal's service load balancing against
//! nftables in one lab run — east-west (a task to a VIP), the same VIP
//! among 10 to 10,000 services, and the routing mesh (an underlay client
//! to a published port, backends on the node or on another one).

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use shoal_netns_tests::scenario::Cluster;

use super::lb_load::{BACKEND_PORT, Load, Measured, Mode, Target, url};
use super::lb_nft::{self, EastWest};
use super::lb_report::{self as rep, EwRow, LbRun, MeshRow, ScaleRow};
use super::lb_shoal::{self, ShoalLb};
use super::overlay::{build_shoal, workspace_root};
use super::report::{self, Machine};

/// Seconds per run and runs per measurement, normally and with `--quick`.
const FULL: (u64, usize) = (5, 3);
const QUICK: (u64, usize) = (1, 1);

/// Arguments of `cargo xtask bench lb`.
#[derive(Args)]
pub struct LbArgs {
    /// 1-second measurements, for a smoke test; the report goes to
    /// target/bench/lb-quick.md unless --output says otherwise.
    #[arg(long)]
    quick: bool,
    /// Runs per measurement, the report showing their median (default 3; 1 with --quick).
    #[arg(long, value_name = "N")]
    reps: Option<usize>,
    /// Service counts for the scale runs.
    #[arg(long, value_delimiter = ',', default_value = "10,1000,10000")]
    services: Vec<usize>,
    /// Where to write the report (default: BENCHMARKS.md at the workspace root).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// The lab and both systems' paths.
struct Bench {
    cluster: Cluster,
    shoal: ShoalLb,
    nft: EastWest,
    /// The underlay client namespace.
    outside: String,
    load: Load,
}

/// Runs the benchmark and writes the report.
pub fn run(args: LbArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces: run as root");
    }
    build_shoal().context("building shoal")?;
    let (secs, reps) = if args.quick { QUICK } else { FULL };
    let reps = args.reps.unwrap_or(reps).max(1);
    let machine = Machine::probe()?;
    let mut bench = Bench::build(secs, reps)?;
    // Each program's run count and time (bpf_stats) while the bench runs.
    let stats = super::prog_stats::StatsOn::enable();
    println!(
        "== lab {}: {reps} run(s) of {secs} s per measurement",
        bench.cluster.lab.id()
    );
    let east_west = bench.east_west();
    let mesh = bench.mesh()?;
    // Before the scale runs, which measure the east-west VIP again.
    let profiles = profiles(&bench.load.profiles());
    drop(stats);
    let scale = bench.scale(&args.services);
    let run = LbRun {
        machine,
        secs,
        reps,
        east_west,
        scale,
        mesh,
        profiles,
    };
    let section = rep::render(&run);
    println!("\n{section}");
    let path = match (&args.output, args.quick) {
        (Some(path), _) => path.clone(),
        (None, true) => workspace_root().join("target/bench/lb-quick.md"),
        (None, false) => workspace_root().join("BENCHMARKS.md"),
    };
    report::write_section(&path, &section)
}

/// The paths on which shoal's programs ran, busiest program first.
fn profiles(all: &super::lb_load::Profiles) -> Vec<rep::PathProfile> {
    let none = Default::default();
    all.iter()
        .map(|((path, mode), times)| rep::PathProfile {
            path,
            mode: match mode {
                Mode::KeepAlive => "keep-alive",
                Mode::NewConn => "new conn",
            },
            costs: super::prog_stats::costs(&none, times),
        })
        .filter(|p| !p.costs.is_empty())
        .collect()
}

impl Bench {
    fn build(secs: u64, reps: usize) -> Result<Self> {
        let mut cluster = Cluster::new(4).context("building the lab")?;
        let shoal = lb_shoal::build(&mut cluster)?;
        let nft = lb_nft::east_west(&mut cluster.lab)?;
        let backends: Vec<_> = nft.backends.iter().map(|b| b.1).collect();
        let dir = cluster.lab.id().state_root();
        lb_nft::load(&nft.router, &dir, &lb_nft::east_west_rules(1, &backends))?;
        let outside = cluster.lab.add_client("c1")?.name().to_owned();
        let load = Load::new(secs, reps);
        Ok(Self {
            cluster,
            shoal,
            nft,
            outside,
            load,
        })
    }

    /// The shoal VIP and nftables DNAT targets, the measured service.
    fn vip_targets(&self) -> [Target; 2] {
        let shoal_backends = self
            .shoal
            .backends
            .iter()
            .map(|t| t.netns.clone())
            .collect();
        let nft_backends = self.nft.backends.iter().map(|b| b.0.clone()).collect();
        [
            Target {
                name: rep::VIP_SHOAL,
                client: self.shoal.client.netns.clone(),
                url: url(lb_shoal::VIP, lb_shoal::VIP_PORT),
                backends: shoal_backends,
            },
            Target {
                name: rep::NFT_DNAT,
                client: self.nft.client.clone(),
                url: url(lb_nft::VIP, lb_nft::VIP_PORT),
                backends: nft_backends,
            },
        ]
    }

    /// Direct, VIP, routed direct and nftables DNAT in both modes.
    fn east_west(&self) -> Vec<EwRow> {
        let b1 = &self.shoal.backends[0];
        let (nb1, nb1_ip) = &self.nft.backends[0];
        let [vip, dnat] = self.vip_targets();
        let targets = [
            Target {
                name: rep::DIRECT_SHOAL,
                client: self.shoal.client.netns.clone(),
                url: url(b1.ip, BACKEND_PORT),
                backends: vec![b1.netns.clone()],
            },
            vip,
            Target {
                name: rep::DIRECT_ROUTED,
                client: self.nft.client.clone(),
                url: url(nb1_ip, BACKEND_PORT),
                backends: vec![nb1.clone()],
            },
            dnat,
        ];
        println!("== east-west");
        let keepalive = self.load.measure_all(&targets, Mode::KeepAlive);
        let newconn = self.load.measure_all(&targets, Mode::NewConn);
        targets
            .iter()
            .zip(keepalive.into_iter().zip(newconn))
            .map(|(t, (keepalive, newconn))| EwRow {
                name: t.name,
                keepalive,
                newconn,
            })
            .collect()
    }

    /// Published ports: shoal on nodes 1 (backends there) and 2 (VXLAN to
    /// node 1), nftables ingress on nodes 3 (backends there) and 4.
    fn mesh(&mut self) -> Result<Vec<MeshRow>> {
        let lab = &self.cluster.lab;
        let (n3, n4) = (
            lab.node(3).context("no node 3")?.clone(),
            lab.node(4).context("no node 4")?.clone(),
        );
        let nft = lb_nft::mesh(&mut self.cluster.lab, &n3, &n4).map_err(|e| format!("{e:#}"));
        let shoal_backends: Vec<String> = self
            .shoal
            .backends
            .iter()
            .map(|t| t.netns.clone())
            .collect();
        let mut targets = Vec::new();
        for (name, node) in [(rep::MESH_SHOAL_LOCAL, 1), (rep::MESH_SHOAL_REMOTE, 2)] {
            let addr = lb_shoal::node_addr(&self.cluster, node)?;
            targets.push(self.outside_target(name, addr, shoal_backends.clone()));
        }
        if let Ok(mesh) = &nft {
            let backends: Vec<String> = mesh.backends.iter().map(|b| b.0.clone()).collect();
            for (name, node) in [(rep::MESH_NFT_LOCAL, &n3), (rep::MESH_NFT_REMOTE, &n4)] {
                targets.push(self.outside_target(name, node.addr(), backends.clone()));
            }
        }
        println!("== routing mesh");
        let measured = self.load.measure_all(&targets, Mode::NewConn);
        let mut rows: Vec<MeshRow> = targets
            .iter()
            .zip(measured)
            .map(|(t, newconn)| MeshRow {
                name: t.name,
                newconn,
            })
            .collect();
        if let Err(e) = nft {
            for name in [rep::MESH_NFT_LOCAL, rep::MESH_NFT_REMOTE] {
                let newconn = Err(format!("setup: {e}"));
                rows.push(MeshRow { name, newconn });
            }
        }
        Ok(rows)
    }

    fn outside_target(
        &self,
        name: &'static str,
        node: std::net::Ipv4Addr,
        backends: Vec<String>,
    ) -> Target {
        Target {
            name,
            client: self.outside.clone(),
            url: url(node, lb_shoal::MESH_PORT),
            backends,
        }
    }

    /// The measured VIP among `counts` services, on both systems.
    fn scale(&mut self, counts: &[usize]) -> Vec<ScaleRow> {
        let mut rows = Vec::new();
        for &count in counts {
            println!("== {count} services");
            let shoal = lb_shoal::set_service_count(&mut self.cluster, &self.shoal, count)
                .map(|t| (t.change.as_secs_f64(), Some(t.again.as_secs_f64())))
                .map_err(|e| format!("{e:#}"));
            let nft = self.load_nft(count).map_err(|e| format!("{e:#}"));
            println!("setup: shoal {shoal:?}, nftables {nft:?}");
            let [vip, dnat] = self.vip_targets();
            let mut targets = Vec::new();
            if shoal.is_ok() {
                targets.push(vip);
            }
            if nft.is_ok() {
                targets.push(dnat);
            }
            let keepalive = self.load.measure_all(&targets, Mode::KeepAlive);
            let newconn = self.load.measure_all(&targets, Mode::NewConn);
            let mut measured = targets.iter().zip(keepalive.into_iter().zip(newconn));
            for (system, setup) in [(rep::SHOAL, shoal), (rep::NFTABLES, nft)] {
                let (keepalive, newconn): (Measured, Measured) = match &setup {
                    Ok(_) => measured.next().map(|(_, m)| m).unwrap_or_else(|| {
                        (Err("not measured".into()), Err("not measured".into()))
                    }),
                    Err(e) => (Err(e.clone()), Err(e.clone())),
                };
                rows.push(ScaleRow {
                    system,
                    services: count,
                    setup,
                    keepalive,
                    newconn,
                });
            }
        }
        rows
    }

    /// Replaces the router's rules with `count` services; seconds `nft -f` took.
    fn load_nft(&self, count: usize) -> Result<(f64, Option<f64>)> {
        let backends: Vec<_> = self.nft.backends.iter().map(|b| b.1).collect();
        let rules = lb_nft::east_west_rules(count, &backends);
        let dir = self.cluster.lab.id().state_root();
        let took = lb_nft::load(&self.nft.router, &dir, &rules)?;
        Ok((took.as_secs_f64(), None))
    }
}
