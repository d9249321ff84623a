//! `cargo xtask bench <target>`: shoal measured side by side with the kernel
//! baseline in one run; results go to BENCHMARKS.md.

mod control;
mod control_api;
mod control_report;
mod dns;
mod egress;
mod encrypted;
mod encrypted_baseline;
mod keepalive;
mod lb;
mod lb_load;
mod lb_nft;
mod lb_report;
mod lb_shoal;
mod measure;
mod overlay;
mod prog_stats;
mod report;
mod scale;
mod scale_fleet;
mod scale_node;
mod scale_probe;
mod scale_report;
mod scale_stats;
mod services;

use anyhow::Result;
use clap::{Args, Subcommand};

/// Arguments of `cargo xtask bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(Subcommand)]
enum BenchTarget {
    /// Task-to-task TCP throughput and HTTP request/response: raw veth, kernel
    /// VXLAN + bridge (Swarm's data path), shoal's overlay.
    Overlay(overlay::OverlayArgs),
    /// Service load balancing against nftables: task to VIP (keep-alive and
    /// new connections), 10 to 10,000 services, the routing mesh.
    Lb(lb::LbArgs),
    /// The control plane on 3 and 5 managers: leader failover time, commit
    /// latency and writes/s through the leader's API.
    Control(control::ControlArgs),
    /// Services on a lab swarm with real containers: create → all running
    /// for 10 and 100 replicas next to the runtime's own floor, the
    /// scheduler alone, daemon memory at 100 tasks.
    Services(services::ServicesArgs),
    /// Control-plane scale: thousands of simulated nodes (real joins,
    /// mTLS, heartbeats, assignments, task reports) against 3 manager
    /// daemons; join time, time to all tasks running, scheduling delay,
    /// `node ls`/`service ls` latency, leader CPU and memory.
    Scale(scale::ScaleArgs),
    /// The embedded DNS next to dnsmasq serving the same record, asked
    /// from inside a task; and a forwarded name.
    Dns(dns::DnsArgs),
    /// An encrypted overlay network (shoal's userspace WireGuard path)
    /// next to the clear overlay and boringtun-cli as a plain WireGuard
    /// tunnel: TCP 1 and 4 streams, request/response rate and p99.
    Encrypted(encrypted::EncryptedArgs),
    /// A task reaching a world host through shoal's eBPF masquerade, next
    /// to the node's kernel routing + nftables masquerade.
    Egress(egress::EgressArgs),
    /// A minimal keep-alive HTTP server the `lb` benchmark runs in backend
    /// namespaces (busybox httpd closes every connection).
    #[command(hide = true)]
    HttpKeepalive(keepalive::KeepaliveArgs),
}

/// Runs `cargo xtask bench …`.
pub fn run(args: BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Overlay(args) => overlay::run(args),
        BenchTarget::Lb(args) => lb::run(args),
        BenchTarget::Control(args) => control::run(args),
        BenchTarget::Services(args) => services::run(args),
        BenchTarget::Scale(args) => scale::run(args),
        BenchTarget::Dns(args) => dns::run(args),
        BenchTarget::Egress(args) => egress::run(args),
        BenchTarget::Encrypted(args) => encrypted::run(args),
        BenchTarget::HttpKeepalive(args) => keepalive::run(args),
    }
}
