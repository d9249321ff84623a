//! Services on a lab swarm: a manager and workers with real daemons, test
//! images built from busybox and loaded on every node, a client namespace
//! on the underlay that calls published ports, and readers of
//! `service ps` / `service ls` JSON.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use shoal_runtime::image::{ExtraFile, ImageError, build_busybox_image};

use crate::lab::cmd::CmdError;
use crate::lab::{Lab, Node};
use crate::swarm_kit::{SwarmNode, all_ready, eventually, field, init, swarm_lab_with};

/// The port the web images listen on inside their tasks.
pub const WEB_PORT: u16 = 80;

/// A swarm lab for services: node 1 is the manager, the rest workers.
pub struct ServiceLab {
    /// The lab (its namespaces go when it drops).
    pub lab: Lab,
    /// The nodes, `n1` first.
    pub nodes: Vec<SwarmNode>,
    /// Directory of the built image archives.
    images: PathBuf,
    /// The worker join token.
    token: String,
    /// The manager's join address.
    at: String,
    /// Held for the lab's life: service labs of one test binary run one at
    /// a time (three daemons and their containers each on a 2-CPU
    /// machine; heartbeats must not starve).
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// Serialises [`ServiceLab`]s within one test binary.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The CGI script of the web images: answers `<hostname> <client address>
/// <version>` so tests see which task answered whom.
fn who_script(version: &str) -> String {
    format!(
        "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$(hostname) $REMOTE_ADDR {version}\"\n"
    )
}

/// Failures preparing a services lab.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// The image directory could not be created.
    #[error("cannot create {}", dir.display())]
    ImageDir {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An image could not be built.
    #[error("cannot build a test image")]
    Image(#[from] ImageError),
}

/// The archives [`build_test_images`] writes into `dir`.
pub fn test_image_archives(dir: &Path) -> Vec<PathBuf> {
    ["web-1", "web-2", "web-broken"]
        .iter()
        .map(|name| dir.join(format!("{name}.tar")))
        .collect()
}

/// Builds the test images into `dir` as OCI archives: `web:1` and `web:2`
/// (busybox httpd on port 80 whose `/cgi-bin/who` answers `<hostname>
/// <client address> <version>`) and `web:broken` (exits 3 at once).
pub fn build_test_images(dir: &Path) -> Result<(), KitError> {
    std::fs::create_dir_all(dir).map_err(|source| KitError::ImageDir {
        dir: dir.to_owned(),
        source,
    })?;
    let archives = test_image_archives(dir);
    for (version, archive) in ["1", "2"].iter().zip(&archives) {
        let script = ExtraFile {
            mode: 0o755,
            ..ExtraFile::new("www/cgi-bin/who", who_script(version))
        };
        let index = ExtraFile::new("www/index.html", format!("web {version}\n"));
        build_busybox_image(
            &format!("web:{version}"),
            &[script, index],
            &["httpd", "-f", "-p", "80", "-h", "/www"],
            archive,
        )?;
    }
    build_busybox_image(
        "web:broken",
        &[],
        &["sh", "-c", "echo broken; exit 3"],
        &archives[2],
    )?;
    Ok(())
}

impl ServiceLab {
    /// A swarm of `n` nodes (n1 initialised as the manager, the others
    /// joined as workers), all ready, with the images `web:1`, `web:2`
    /// (answering with their version) and `web:broken` (exits at once)
    /// loaded on every node.
    pub fn new(n: usize) -> ServiceLab {
        ServiceLab::partly_joined(n, n)
    }

    /// Like [`ServiceLab::new`] with `n` daemons of which only the first
    /// `joined` are in the swarm (see [`ServiceLab::join`]).
    pub fn partly_joined(n: usize, joined: usize) -> ServiceLab {
        ServiceLab::build(n, joined, &[], true)
    }

    /// Like [`ServiceLab::new`] with daemons run with `daemon_args`.
    pub fn with_daemon_args(n: usize, daemon_args: &[&str]) -> ServiceLab {
        ServiceLab::build(n, n, daemon_args, true)
    }

    /// A swarm of `n` nodes whose image stores start empty (nothing
    /// loaded): images come from a registry.
    pub fn without_images(n: usize) -> ServiceLab {
        ServiceLab::build(n, n, &[], false)
    }

    fn build(n: usize, joined: usize, daemon_args: &[&str], load: bool) -> ServiceLab {
        // A test that panicked while holding the lock leaves nothing behind
        // (its lab is torn down on unwind), so a poisoned lock is fine.
        let serial = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (lab, nodes) = swarm_lab_with(n, daemon_args);
        let (token, at, _) = init(&nodes[0], &[]);
        let images = lab.nodes()[0].state_dir().join("images");
        let service_lab = ServiceLab {
            lab,
            nodes,
            images,
            token,
            at,
            _serial: serial,
        };
        if load {
            service_lab.build_images();
            for node in &service_lab.nodes {
                service_lab.load_images(node);
            }
        }
        for index in 1..joined {
            service_lab.join(index);
        }
        all_ready(&service_lab.nodes[0], joined);
        service_lab
    }

    /// Joins node `index` (0-based) as a worker.
    pub fn join(&self, index: usize) {
        self.nodes[index]
            .cli(&["swarm", "join", "--token", &self.token, &self.at])
            .expect("join as worker");
    }

    fn build_images(&self) {
        build_test_images(&self.images).expect("build the test images");
    }

    /// `shoal image load` of every test image on `node`.
    pub fn load_images(&self, node: &SwarmNode) {
        for archive in test_image_archives(&self.images) {
            let archive = archive.to_str().expect("utf-8 path");
            node.cli(&["image", "load", "-i", archive])
                .expect("image load");
        }
    }

    /// A service `ticker` of two tasks (one per node of a two-node lab),
    /// each printing `tick N` every second; waits until both run.
    pub fn create_ticker(&self) {
        self.cli(&[
            "service",
            "create",
            "-d",
            "--name",
            "ticker",
            "--replicas",
            "2",
            "web:1",
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done",
        ])
        .expect("service create ticker");
        assert_eq!(self.wait_running("ticker", 2).len(), 2, "one task per node");
    }

    /// The manager (n1).
    pub fn manager(&self) -> &SwarmNode {
        &self.nodes[0]
    }

    /// Runs a CLI command on the manager.
    pub fn cli(&self, args: &[&str]) -> Result<String, CmdError> {
        self.manager().cli(args)
    }

    /// Underlay addresses of all nodes.
    pub fn node_addrs(&self) -> Vec<Ipv4Addr> {
        self.nodes.iter().map(|n| n.lab_node().addr()).collect()
    }

    /// Adds a client namespace on the underlay.
    pub fn client(&mut self, name: &str) -> Node {
        self.lab.add_client(name).expect("client").clone()
    }

    /// `service ps SERVICE --format json`: every task, history included.
    pub fn tasks(&self, service: &str) -> Vec<Value> {
        let out = self
            .cli(&["service", "ps", service, "--format", "json"])
            .expect("service ps");
        serde_json::from_str(&out).unwrap_or_default()
    }

    /// `service inspect SERVICE --format json`: the service's object.
    pub fn inspect(&self, service: &str) -> Value {
        let out = self
            .cli(&["service", "inspect", service, "--format", "json"])
            .expect("service inspect");
        let value: Value = serde_json::from_str(&out).expect("inspect JSON");
        match value {
            Value::Array(mut services) if !services.is_empty() => services.swap_remove(0),
            other => other,
        }
    }

    /// The VIP of `service` on `network`.
    pub fn vip(&self, service: &str, network: &str) -> String {
        let inspected = self.inspect(service);
        inspected["endpoint"]["vips"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["network"] == network)
            .and_then(|v| v["ip"].as_str())
            .unwrap_or_else(|| panic!("{service} has no VIP on {network}: {inspected}"))
            .to_owned()
    }

    /// Tasks wanted and running, as `node hostname → count`.
    pub fn running_per_node(&self, service: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for task in self.tasks(service) {
            if is_running(&task) {
                let node = field(&task, "node_hostname").to_owned();
                *counts.entry(node).or_default() += 1;
            }
        }
        counts
    }

    /// Waits until `service` has exactly `count` running tasks, and returns
    /// them per node.
    pub fn wait_running(&self, service: &str, count: usize) -> BTreeMap<String, usize> {
        eventually(&format!("{count} running tasks of {service}"), || {
            let per_node = self.running_per_node(service);
            let total: usize = per_node.values().sum();
            (total == count).then_some(per_node)
        })
    }
}

impl ServiceLab {
    /// Waits until every node's data plane balances published `port`
    /// (`dp mesh`) among `count` active backends: the agents program what
    /// the store says a moment after it says it (seconds on a busy machine).
    pub fn wait_mesh_backends(&self, port: u16, count: u64) {
        eventually(
            &format!("every node's mesh on :{port} with {count} backends"),
            || {
                self.nodes
                    .iter()
                    .all(|node| {
                        let out = node
                            .lab_node()
                            .shoal(&["dp", "mesh", "--format", "json"])
                            .unwrap_or_default();
                        let rows: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
                        rows.iter()
                            .any(|r| r["port"] == u64::from(port) && r["active_backends"] == count)
                    })
                    .then_some(())
            },
        )
    }
}

/// Whether a `service ps` JSON row is wanted and observed running.
pub fn is_running(task: &Value) -> bool {
    task["desired_state"] == "running" && task["status"]["state"] == "running"
}

/// The image a `service ps` JSON row runs.
pub fn task_image(task: &Value) -> &str {
    task["spec"]["image"].as_str().unwrap_or_default()
}

/// One HTTP GET of `/cgi-bin/who` at `addr:port` from `client` (curl, 3 s
/// limit): the body's words `(hostname, client address, version)`.
pub fn who(client: &Node, addr: Ipv4Addr, port: u16) -> Result<(String, String, String), String> {
    let url = format!("http://{addr}:{port}/cgi-bin/who");
    let out = client
        .exec(&["curl", "-sS", "--max-time", "3", &url])
        .map_err(|e| e.to_string())?;
    let words: Vec<&str> = out.split_whitespace().collect();
    match words.as_slice() {
        [host, client, version] => Ok((
            (*host).to_owned(),
            plain_ipv4(client),
            (*version).to_owned(),
        )),
        _ => Err(format!("unexpected answer {out:?}")),
    }
}

/// `198.18.0.201` from httpd's `[::ffff:198.18.0.201]` (it listens on
/// an IPv6 socket and sees IPv4 clients as mapped addresses).
fn plain_ipv4(addr: &str) -> String {
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    addr.strip_prefix("::ffff:").unwrap_or(addr).to_owned()
}

/// `curl` of `url` (3 s limit) from inside the network namespace of task
/// `task_id`, as a task of the swarm would call it.
pub fn get_from_task(task_id: &str, url: &str) -> std::process::Output {
    let netns = format!("shoal-{task_id}");
    std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &netns,
            "curl",
            "-sS",
            "--max-time",
            "3",
            url,
        ])
        .output()
        .expect("run curl in the task's namespace")
}

/// A background load: `client` requests a URL in a loop until stopped;
/// counts answers and failures (curl errors and non-200 statuses).
pub struct Load {
    log: PathBuf,
    stop_file: PathBuf,
}

impl Load {
    /// Starts requesting `http://addr:port/cgi-bin/who` from `client`, one
    /// request at a time, each on a fresh connection.
    pub fn start(client: &Node, addr: Ipv4Addr, port: u16) -> Load {
        let dir = client.state_dir();
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let log = dir.join(format!("load-{n}.log"));
        let stop_file = dir.join(format!("load-{n}.stop"));
        let url = format!("http://{addr}:{port}/cgi-bin/who");
        let script = format!(
            "while [ ! -e {stop} ]; do \
               code=$(curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 {url}); \
               echo \"$code\" >> {log}; \
             done; echo end >> {log}",
            stop = stop_file.display(),
            log = log.display()
        );
        client.spawn(&["sh", "-c", &script]).expect("start load");
        Load { log, stop_file }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `(answered with 200, failed)` so far.
    pub fn counts(&self) -> (usize, usize) {
        let lines = self.lines();
        let results = lines.iter().filter(|l| *l != "end");
        let (ok, failed): (Vec<_>, Vec<_>) = results.partition(|l| *l == "200");
        (ok.len(), failed.len())
    }

    /// Stops the load after the request in flight and returns the counts.
    pub fn stop(self) -> (usize, usize) {
        std::fs::write(&self.stop_file, b"").expect("stop file");
        eventually("the load to stop", || {
            self.lines().iter().any(|l| l == "end").then_some(())
        });
        self.counts()
    }
}

/// Looks up a node by hostname.
pub fn node_named<'a>(nodes: &'a [SwarmNode], name: &str) -> &'a SwarmNode {
    nodes
        .iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
}
