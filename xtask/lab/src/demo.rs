//! `cargo xtask demo`: shoal's main job, end to end on one machine. A lab of
//! nodes joined by an underlay, each running `shoal daemon`; `swarm init`
//! on the first and `swarm join` on the others; a small web image loaded
//! on every node; an overlay network; a replicated service publishing a
//! port through the routing mesh; requests from a client on the underlay to
//! every node's published port, answered by tasks on several nodes that see
//! the client's own address; then `service ps` and what the data plane
//! holds (`shoal dp services`).

use std::process::Command;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use shoal_netns_tests::lab::Node;
use shoal_netns_tests::services_kit::{build_test_images, test_image_archives, who};
use shoal_netns_tests::swarm_kit::{SwarmNode, all_ready, swarm_lab};

use xtask::sh;

/// The published port the demo's service answers on, on every node.
const PUBLISHED: u16 = 8080;

/// Arguments of `cargo xtask demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Number of nodes (the first is the manager).
    #[arg(long, short, default_value_t = 3)]
    nodes: usize,
    /// Replicas of the demo service.
    #[arg(long, default_value_t = 6)]
    replicas: usize,
    /// Leave the lab running afterwards (tear down with `cargo xtask lab down ID`).
    #[arg(long)]
    keep: bool,
}

/// Runs `shoal <args>` on `node`, printing the command and its output.
fn show(node: &SwarmNode, args: &[&str]) -> Result<String> {
    println!("\n$ shoal {}        # on {}", args.join(" "), node.name);
    let out = node
        .cli(args)
        .with_context(|| format!("shoal {}", args.join(" ")))?;
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(out)
}

/// Run the demo.
pub fn run(args: DemoArgs) -> Result<()> {
    if args.nodes < 2 {
        bail!("the demo needs at least 2 nodes");
    }
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--package", "shoal-control", "--bin", "shoal"]);
    sh::run(&mut build)?;

    let (mut lab, nodes) = swarm_lab(args.nodes);
    println!(
        "== lab {}: {} nodes on the underlay 198.18.0.0/24, a daemon on each",
        lab.id(),
        args.nodes
    );
    let manager = &nodes[0];
    let addr = manager.lab_node().addr().to_string();
    show(manager, &["swarm", "init", "--advertise-addr", &addr])?;
    let token = manager.cli(&["swarm", "join-token", "worker", "-q"])?;
    let at = manager.control_addr();
    for node in &nodes[1..] {
        show(node, &["swarm", "join", "--token", token.trim(), &at])?;
    }
    all_ready(manager, nodes.len());
    show(manager, &["node", "ls"])?;

    let images = lab.nodes()[0].state_dir().join("images");
    build_test_images(&images).context("building the demo images")?;
    for node in &nodes {
        for archive in test_image_archives(&images).iter().take(1) {
            let archive = archive.to_str().context("image path")?;
            show(node, &["image", "load", "-i", archive])?;
        }
    }
    show(
        manager,
        &["network", "create", "--driver", "overlay", "front"],
    )?;
    let replicas = args.replicas.to_string();
    let publish = format!("{PUBLISHED}:80");
    show(
        manager,
        &[
            "service",
            "create",
            "--name",
            "web",
            "--replicas",
            &replicas,
            "--network",
            "front",
            "-p",
            &publish,
            "web:1",
        ],
    )?;
    show(manager, &["service", "ls"])?;
    show(manager, &["service", "ps", "web"])?;

    let client = lab.add_client("c1")?.clone();
    let shown = requests(&client, &nodes).and_then(|()| {
        println!("\n$ shoal dp services        # on {}", manager.name);
        println!("{}", manager.lab_node().shoal(&["dp", "services"])?);
        Ok(())
    });
    if args.keep {
        let socket = manager.socket();
        let id = lab.into_persistent();
        println!(
            "lab {id} left running: `cargo xtask lab exec n1 -- shoal service -H unix://{} ps web`; \
             `cargo xtask lab down {id}`",
            socket.display()
        );
    }
    shown
}

/// Requests from `client` to every node's published port, three each.
fn requests(client: &Node, nodes: &[SwarmNode]) -> Result<()> {
    println!(
        "\n== requests from client {} to every node's published port :{PUBLISHED}",
        client.addr()
    );
    for node in nodes {
        let node_addr = node.lab_node().addr();
        for _ in 0..3 {
            let (task, peer, _) = answer(client, node_addr)?;
            println!(
                "  {node_addr}:{PUBLISHED:<6} answered by task {task:<8} which sees the client as {peer}"
            );
        }
    }
    Ok(())
}

/// One answer through the mesh, retried for a while (the first requests
/// may race the last data-plane update).
fn answer(client: &Node, addr: std::net::Ipv4Addr) -> Result<(String, String, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match who(client, addr, PUBLISHED) {
            Ok(answer) => return Ok(answer),
            Err(err) if std::time::Instant::now() > deadline => {
                bail!("no answer from {addr}:{PUBLISHED}: {err}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(300)),
        }
    }
}
