//! `shoal daemon`: run this node's daemon in the foreground.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use shoal_control::daemon::{self, DaemonOptions};
use shoal_control::runtime::image::InsecureRegistries;

use super::api_conn::{default_node_name, default_socket};

/// `shoal daemon` options.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// State directory (certificates, the sealed raft store); default
    /// /var/lib/shoal/<node>.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// API socket; default /run/shoal/<node>.sock.
    #[arg(long)]
    socket: Option<PathBuf>,
    /// This node's name (HOSTNAME in `node ls`); default $SHOAL_NODE, then
    /// the host name.
    #[arg(long)]
    node_name: Option<String>,
    /// Whose data-plane pins the agent programs (/sys/fs/bpf/shoal/<name>,
    /// as `shoal dp --node` names them); default $SHOAL_NODE (what `shoal
    /// dp` defaults to as well, so both see the same pins), then the node
    /// name.
    #[arg(long, env = "SHOAL_NODE")]
    dp_node: Option<String>,
    /// Where bpffs is (or gets) mounted.
    #[arg(long, env = "SHOAL_BPFFS", default_value = shoal_dataplane::pins::BPFFS_ROOT)]
    bpffs: PathBuf,
    /// Serve Prometheus metrics on this address (`GET /metrics`, plain
    /// HTTP, e.g. 127.0.0.1:9323); off unless given.
    #[arg(long)]
    metrics_addr: Option<std::net::SocketAddr>,
    /// A registry pulled from over plain http when it does not speak TLS,
    /// and allowed to redirect to http: `host[:port]` or an IP network
    /// (`10.0.0.0/8`); repeatable. `localhost` and 127.0.0.0/8 always are
    /// (Docker's `--insecure-registry`).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]|CIDR")]
    insecure_registries: Vec<String>,
    /// Resolvers the tasks' embedded DNS forwards other names to
    /// (`IP[:PORT]`, repeatable or comma-separated); default the
    /// nameservers of the host's /etc/resolv.conf.
    #[arg(
        long = "dns-upstream",
        env = "SHOAL_DNS_UPSTREAM",
        value_delimiter = ','
    )]
    dns_upstreams: Vec<String>,
    /// Images no task of this node used for this long are removed (with
    /// the layers only they hold); `0s` keeps every image.
    #[arg(long, value_name = "SPAN", default_value = "24h", value_parser = super::parse::span)]
    image_gc_grace: shoal_control::spec::Span,
    /// The XDP fast path: VXLAN for a task on this node is unwrapped and
    /// delivered by the underlay's XDP program, before the kernel builds
    /// an skb; anything else still goes through TC. Off by default.
    #[arg(long, env = "SHOAL_XDP_FAST_PATH")]
    xdp_fast_path: bool,
}

/// The `--dns-upstream` addresses (port 53 unless given), or the host's
/// nameservers.
fn dns_upstreams(given: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    if given.is_empty() {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        return Ok(shoal_control::agent::nameservers(&text));
    }
    given
        .iter()
        .map(|text| {
            text.parse::<SocketAddr>()
                .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| anyhow::anyhow!("--dns-upstream {text:?}: expected IP or IP:PORT"))
        })
        .collect()
}

/// Runs the daemon until SIGINT/SIGTERM.
pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    let node_name = match args.node_name {
        Some(name) => name,
        None => default_node_name()?,
    };
    let opts = DaemonOptions {
        state_dir: args
            .state_dir
            .unwrap_or_else(|| PathBuf::from(format!("/var/lib/shoal/{node_name}"))),
        socket: args.socket.unwrap_or_else(|| default_socket(&node_name)),
        dp_node: args.dp_node.unwrap_or_else(|| node_name.clone()),
        bpffs: args.bpffs,
        metrics_addr: args.metrics_addr,
        insecure_registries: InsecureRegistries::parse(&args.insecure_registries)?,
        dns_upstreams: dns_upstreams(&args.dns_upstreams)?,
        image_gc_grace: (!args.image_gc_grace.is_zero())
            .then(|| std::time::Duration::from_millis(args.image_gc_grace.as_millis())),
        xdp_fast_path: args.xdp_fast_path,
        node_name,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(daemon::run(opts))?;
    Ok(())
}
