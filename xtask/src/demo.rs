//! `cargo xtask demo`: shoal's main job, end to end on one machine. A lab of
//! nodes joined by an underlay; an overlay network with a task on every
//! node; a service with a VIP and a published port; requests from a client
//! on the underlay to every node's published port, answered by tasks on
//! several nodes that see the client's own address; then what the data
//! plane holds (`shoal dp services`, `dp endpoints`, `dp stats`).

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::Command,
};

use anyhow::{Context as _, Result};
use clap::Args;
use shoal_dataplane::lb::state::PublishMode;
use shoal_netns_tests::scenario::{Cluster, connect_from};

use crate::{setup, sh};

/// The published port the demo's service answers on, on every node.
const PUBLISHED: u16 = 8000;

/// Arguments of `cargo xtask demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Number of nodes.
    #[arg(long, short, default_value_t = 3)]
    nodes: usize,
    /// Leave the lab running afterwards (tear down with `cargo xtask lab down ID`).
    #[arg(long)]
    keep: bool,
}

/// Run the demo.
pub fn run(args: DemoArgs) -> Result<()> {
    setup::run()?;
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--package", "shoal-control", "--bin", "shoal"]);
    sh::run(&mut build)?;

    let mut cluster = Cluster::new(args.nodes).context("building the lab")?;
    cluster.network("front", 4097, "10.10.0.0/24");
    let mut tasks = Vec::new();
    for i in 1..=args.nodes {
        tasks.push(cluster.task(
            &format!("web{i}"),
            i,
            "front",
            &format!("10.10.0.{}", 10 + i),
        )?);
    }
    let refs: Vec<_> = tasks.iter().collect();
    cluster.service("web", "10.10.0.100", 80, 8080, &refs);
    cluster.publish(PUBLISHED, "web", 80, PublishMode::Ingress);
    cluster
        .apply_all()
        .context("shoal dp apply on every node")?;
    for task in &tasks {
        cluster.serve(task, 8080)?;
    }
    let client = cluster.lab.add_client("c1")?.clone();
    println!(
        "\n== lab {}: {} nodes on 198.18.0.0/24, overlay 'front' (VNI 4097, 10.10.0.0/24),",
        cluster.lab.id(),
        args.nodes
    );
    println!(
        "   service 'web' at 10.10.0.100:80 → tasks :8080, published on every node at :{PUBLISHED}"
    );
    println!(
        "\nrequests from client {} to each node's published port:",
        client.addr()
    );
    for node in cluster.lab.nodes() {
        for _ in 0..3 {
            let to = SocketAddr::new(node.addr().into(), PUBLISHED);
            let answer = hello(client.name(), to)?;
            println!("  {to:<20} answered by {answer}");
        }
    }
    let n1 = cluster.lab.node(1).context("node 1")?;
    for cmd in [["dp", "services"], ["dp", "endpoints"], ["dp", "stats"]] {
        println!(
            "\n$ shoal {}        # on {}\n{}",
            cmd.join(" "),
            n1.name(),
            n1.shoal(&cmd)?
        );
    }
    if args.keep {
        let id = cluster.lab.into_persistent();
        println!(
            "lab {id} left running: `cargo xtask lab exec n1 -- shoal dp stats`; `cargo xtask lab down {id}`"
        );
    }
    Ok(())
}

/// The first line a task's server says: its name and the peer it sees.
fn hello(netns: &str, to: SocketAddr) -> Result<String> {
    let stream = connect_from(netns, to)?.with_context(|| format!("connecting to {to}"))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let (task, peer) = (words.next().unwrap_or("?"), words.next().unwrap_or("?"));
    Ok(format!("{task} (it sees the client as {peer})"))
}
