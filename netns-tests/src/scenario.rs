//! Clusters of tasks, networks and services on a lab, described once and
//! turned into each node's desired state (`shoal dp apply`): a task's node
//! holds it as a local endpoint, every other node as a remote one.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpStream},
    process::Child,
    time::Duration,
};

use serde_json::Value;
use shoal_dataplane::{
    lb::state::{
        BackendSpec, ConntrackSpec, Protocol, PublishMode, PublishedPort, ServicePort, ServiceSpec,
    },
    node::DesiredState,
    overlay::state::{LocalEndpoint, NetworkSpec, RemoteEndpoint, Underlay},
};

use crate::lab::{
    Lab, LabError, Node, NodeKind,
    cmd::{self, CmdError},
    raw::{self, RawError},
};

/// Errors building or applying a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The lab failed.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// A command failed (including `shoal dp apply`).
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// Running code inside a namespace failed.
    #[error(transparent)]
    Raw(#[from] RawError),
    /// A node index or name that the scenario does not have.
    #[error("no {what} {name}")]
    Unknown {
        /// What was looked up.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// Writing the desired-state file failed.
    #[error("writing desired state: {0}")]
    Io(#[from] std::io::Error),
    /// `shoal dp apply` printed something that is not its JSON report.
    #[error("unexpected apply report: {0}")]
    Report(#[from] serde_json::Error),
}

/// A task: a namespace on a node with an address on a network.
#[derive(Clone, Debug)]
pub struct Task {
    /// Short name (also the namespace suffix).
    pub name: String,
    /// Its namespace.
    pub netns: String,
    /// 1-based node index.
    pub node: usize,
    /// Network name.
    pub network: String,
    /// Address on the network.
    pub ip: Ipv4Addr,
    /// Interface name inside the namespace.
    pub ifname: String,
}

/// A lab plus what should run on it.
pub struct Cluster {
    /// The lab (dropped last: tears everything down).
    pub lab: Lab,
    /// Overlay networks.
    pub networks: Vec<NetworkSpec>,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// Services.
    pub services: Vec<ServiceSpec>,
    /// Published ports.
    pub published: Vec<PublishedPort>,
    /// Conntrack timeouts.
    pub conntrack: ConntrackSpec,
    /// VXLAN data-path port.
    pub vxlan_port: u16,
    /// The XDP fast path on every node (`Underlay::xdp_fast_path`).
    pub xdp_fast_path: bool,
}

impl Cluster {
    /// A lab of `nodes` nodes with nothing on it yet.
    pub fn new(nodes: usize) -> Result<Self, ScenarioError> {
        Ok(Self {
            lab: Lab::builder().nodes(nodes).build()?,
            networks: Vec::new(),
            tasks: Vec::new(),
            services: Vec::new(),
            published: Vec::new(),
            conntrack: ConntrackSpec::default(),
            vxlan_port: 4789,
            xdp_fast_path: false,
        })
    }

    /// Add an overlay network.
    pub fn network(&mut self, name: &str, vni: u32, subnet: &str) -> &mut Self {
        let subnet = subnet
            .parse()
            .unwrap_or_else(|e| panic!("bad subnet {subnet}: {e}"));
        self.networks.push(NetworkSpec {
            name: name.into(),
            vni,
            subnet,
            internal: false,
            encrypted: false,
        });
        self
    }

    /// Add a task (creates its namespace).
    pub fn task(
        &mut self,
        name: &str,
        node: usize,
        network: &str,
        ip: &str,
    ) -> Result<Task, ScenarioError> {
        let netns = self.lab.add_netns(name)?;
        let ip = ip.parse().map_err(|_| ScenarioError::Unknown {
            what: "address",
            name: ip.into(),
        })?;
        let task = Task {
            name: name.into(),
            netns,
            node,
            network: network.into(),
            ip,
            ifname: "eth0".into(),
        };
        self.tasks.push(task.clone());
        Ok(task)
    }

    /// Give `task`'s namespace a second interface `ifname` on `network`.
    pub fn second_iface(
        &mut self,
        task: &Task,
        ifname: &str,
        network: &str,
        ip: &str,
    ) -> Result<Task, ScenarioError> {
        let ip = ip.parse().map_err(|_| ScenarioError::Unknown {
            what: "address",
            name: ip.into(),
        })?;
        let name = format!("{}-{ifname}", task.name);
        let iface = Task {
            name,
            ifname: ifname.into(),
            network: network.into(),
            ip,
            ..task.clone()
        };
        self.tasks.push(iface.clone());
        Ok(iface)
    }

    /// Add (or replace) a TCP service `name` on `vip:port` → backends' `target`.
    pub fn service(
        &mut self,
        name: &str,
        vip: &str,
        port: u16,
        target: u16,
        backends: &[&Task],
    ) -> &mut Self {
        self.services.retain(|s| s.name != name);
        self.services.push(ServiceSpec {
            name: name.into(),
            vip: vip.parse().unwrap_or_else(|e| panic!("bad VIP {vip}: {e}")),
            // The backends' network: two networks may share a subnet.
            network: backends.first().map(|t| t.network.clone()),
            ports: vec![
                ServicePort {
                    port,
                    target: Some(target),
                    protocol: Protocol::Tcp,
                },
                ServicePort {
                    port,
                    target: Some(target),
                    protocol: Protocol::Udp,
                },
            ],
            backends: backends
                .iter()
                .map(|t| BackendSpec {
                    ip: t.ip,
                    network: t.network.clone(),
                    draining: false,
                })
                .collect(),
        });
        self
    }

    /// Mark `task` draining (or not) in service `name`.
    pub fn set_draining(&mut self, name: &str, task: &Task, draining: bool) -> &mut Self {
        for svc in self.services.iter_mut().filter(|s| s.name == name) {
            for be in svc.backends.iter_mut().filter(|b| b.ip == task.ip) {
                be.draining = draining;
            }
        }
        self
    }

    /// Publish `port` (TCP and UDP) on every node for service port `target`.
    pub fn publish(
        &mut self,
        port: u16,
        service: &str,
        target: u16,
        mode: PublishMode,
    ) -> &mut Self {
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            self.published.push(PublishedPort {
                port,
                protocol,
                service: service.into(),
                target,
                mode,
            });
        }
        self
    }

    /// Node `index`'s desired state.
    pub fn state_for(&self, index: usize) -> Result<DesiredState, ScenarioError> {
        let mut remote = Vec::new();
        for t in self.tasks.iter().filter(|t| t.node != index) {
            let node = self
                .lab
                .node(t.node)
                .ok_or_else(|| unknown("node", t.node))?;
            remote.push(RemoteEndpoint {
                network: t.network.clone(),
                ip: t.ip,
                mac: None,
                node: node.addr(),
            });
        }
        Ok(DesiredState {
            underlay: Underlay {
                iface: "eth0".into(),
                addr: None,
                vxlan_port: self.vxlan_port,
                wg_iface: None,
                xdp_fast_path: self.xdp_fast_path,
            },
            networks: self.networks.clone(),
            endpoints: self
                .tasks
                .iter()
                .filter(|t| t.node == index)
                .map(|t| LocalEndpoint {
                    id: t.name.clone(),
                    netns: t.netns.clone(),
                    ifname: t.ifname.clone(),
                    network: t.network.clone(),
                    ip: t.ip,
                    mac: None,
                })
                .collect(),
            remote_endpoints: remote,
            // Every other node, tasks or not: mesh requests come from any.
            peers: self
                .lab
                .nodes()
                .iter()
                .filter(|n| n.kind() != NodeKind::Node(index))
                .map(Node::addr)
                .collect(),
            services: self.services.clone(),
            published: self.published.clone(),
            conntrack: self.conntrack,
        })
    }

    /// `shoal dp apply` on node `index`; its JSON report.
    pub fn apply(&self, index: usize) -> Result<Value, ScenarioError> {
        self.apply_state(index, &self.state_for(index)?)
    }

    /// `shoal dp apply` of `state` (e.g. a deliberately broken one) on node `index`.
    pub fn apply_state(&self, index: usize, state: &DesiredState) -> Result<Value, ScenarioError> {
        let node = self.lab.node(index).ok_or_else(|| unknown("node", index))?;
        let path = node.state_dir().join("desired.json");
        std::fs::write(&path, serde_json::to_vec_pretty(state)?)?;
        let path = path.to_string_lossy().into_owned();
        Ok(serde_json::from_str(
            &node.shoal(&["dp", "apply", &path, "--format", "json"])?,
        )?)
    }

    /// Apply on every node. With the XDP fast path, the nodes' underlay
    /// veths first stop offloading transmit checksums (see
    /// [`Cluster::wire_checksums`]).
    pub fn apply_all(&self) -> Result<(), ScenarioError> {
        if self.xdp_fast_path {
            self.wire_checksums()?;
        }
        for index in 1..=self.lab.nodes().len() {
            self.apply(index)?;
        }
        Ok(())
    }

    /// Make every node's underlay veth put complete checksums on the lab's
    /// "wire", as a real NIC does: a veth otherwise hands the receiver an
    /// skb whose checksum is still to be filled in, state that a frame
    /// redirected at XDP loses (the task would drop it as corrupt).
    pub fn wire_checksums(&self) -> Result<(), ScenarioError> {
        for node in self
            .lab
            .nodes()
            .iter()
            .filter(|n| matches!(n.kind(), NodeKind::Node(_)))
        {
            cmd::output(node.command(&["ethtool", "-K", "eth0", "tx", "off"])?)?;
        }
        Ok(())
    }

    /// Start a TCP+UDP echo server in `task` on `port` that first says
    /// `<task name> <peer address>`, then echoes what it reads.
    pub fn serve(&self, task: &Task, port: u16) -> Result<Vec<Child>, ScenarioError> {
        let tcp = format!("TCP-LISTEN:{port},fork,reuseaddr");
        let udp = format!("UDP-RECVFROM:{port},fork,reuseaddr");
        let hello = format!("SYSTEM:echo {} $SOCAT_PEERADDR; cat", task.name);
        let hello_udp = format!("SYSTEM:echo {} $SOCAT_PEERADDR", task.name);
        let mut servers = Vec::new();
        for (listen, reply) in [(tcp, &hello), (udp, &hello_udp)] {
            let mut command = cmd::netns_command(&task.netns, &["socat", &listen, reply])?;
            command
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null());
            servers.push(command.spawn().map_err(|source| CmdError::Spawn {
                command: listen.clone(),
                source,
            })?);
        }
        crate::overlay_kit::wait_listening(&task.netns, port, Duration::from_secs(10)).map_err(
            |e| ScenarioError::Unknown {
                what: "listener",
                name: e.to_string(),
            },
        )?;
        Ok(servers)
    }
}

fn unknown(what: &'static str, index: usize) -> ScenarioError {
    ScenarioError::Unknown {
        what,
        name: index.to_string(),
    }
}

/// Open a TCP connection from inside `netns`; the socket stays in that
/// namespace while this process uses it.
pub fn connect_from(
    netns: &str,
    to: SocketAddr,
) -> Result<std::io::Result<TcpStream>, ScenarioError> {
    Ok(raw::in_netns(netns, move || {
        TcpStream::connect_timeout(&to, Duration::from_secs(3))
    })?)
}
