//! `cargo xtask demo`: shoal's main job, end to end on one machine. Today it
//! brings up a multi-node lab, loads the data plane on every node, sends real
//! traffic from a client to every node and shows what each node's data plane
//! counted. It grows with the product (cluster, overlay, service, mesh).

use std::{net::UdpSocket, process::Command};

use anyhow::{Context as _, Result};
use clap::Args;
use shoal_netns_tests::lab::{Lab, Node};

use crate::{setup, sh};

/// Arguments of `cargo xtask demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Number of nodes.
    #[arg(long, short, default_value_t = 3)]
    nodes: usize,
    /// Leave the lab running afterwards (tear down with `cargo xtask lab down`).
    #[arg(long)]
    keep: bool,
}

/// Run the demo.
pub fn run(args: DemoArgs) -> Result<()> {
    setup::run()?;
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--package", "shoal-control", "--bin", "shoal"]);
    sh::run(&mut build)?;

    let mut lab = Lab::builder()
        .nodes(args.nodes)
        .build()
        .context("building the lab")?;
    lab.add_client("c1").context("adding the client")?;
    println!(
        "\n== lab {}: {} nodes and a client on 198.18.0.0/24",
        lab.id(),
        args.nodes
    );
    for node in lab.nodes() {
        let out = node.shoal(&["dp", "attach", "--iface", "eth0"])?;
        println!(
            "\n$ shoal dp attach --iface eth0        # on {} ({})\n{out}",
            node.name(),
            node.addr()
        );
    }
    let client = &lab.clients()[0];
    for node in lab.nodes() {
        send_datagrams(client, node, 100)?;
    }
    println!(
        "\nsent 100 UDP datagrams from {} to every node",
        client.addr()
    );
    for node in lab.nodes() {
        let out = node.shoal(&["dp", "stats"])?;
        println!("\n$ shoal dp stats        # on {}\n{out}", node.name());
    }
    if args.keep {
        let id = lab.into_persistent();
        println!(
            "lab {id} left running: `cargo xtask lab exec n1 -- shoal dp stats`; `cargo xtask lab down {id}`"
        );
    }
    Ok(())
}

fn send_datagrams(from: &Node, to: &Node, count: usize) -> Result<()> {
    let target = (to.addr(), 9);
    from.run_in(move || -> std::io::Result<()> {
        let sock = UdpSocket::bind("0.0.0.0:0")?;
        for i in 0..count {
            sock.send_to(format!("hello {i}").as_bytes(), target)?;
        }
        Ok(())
    })?
    .context("sending datagrams")
}
