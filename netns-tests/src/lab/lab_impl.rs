//! [`Lab`]: owns the namespaces of one lab and tears them down on drop.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::cmd::{self, CmdError};
use super::naming::{
    self, BRIDGE_NAME, CLIENT_HOST_BASE, LabId, NameError, UNDERLAY_IFACE, UNDERLAY_PREFIX_LEN,
};
use super::node::{Node, NodeKind, ProcessRegistry};
use super::teardown::{self, TeardownError};

/// Errors from creating, attaching to or tearing down a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// An `ip` (or other) command failed while creating the topology.
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// A name or address rule was violated (too many nodes, bad client name…).
    #[error(transparent)]
    Name(#[from] NameError),
    /// The lab id already has namespaces on this host.
    #[error("lab id {0} is already in use")]
    IdInUse(LabId),
    /// A client with this name already exists in the lab.
    #[error("client `{0}` already exists")]
    DuplicateClient(String),
    /// A member (client or bare namespace) with this name already exists in the lab.
    #[error("namespace `{0}` already exists in the lab")]
    DuplicateNetns(String),
    /// No namespace of this lab exists on the host.
    #[error("no lab {0} on this host")]
    NoSuchLab(LabId),
    /// A state directory could not be created.
    #[error("cannot create state directory {path}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Tearing the lab down failed (it was still attempted in full).
    #[error(transparent)]
    Teardown(#[from] TeardownError),
}

/// A running lab: a switch namespace with a bridge, nodes and clients.
///
/// Dropping it (also while unwinding from a panic) kills spawned processes,
/// deletes the namespaces, removes the nodes' bpffs pins and the state
/// directories, unless [`Lab::into_persistent`] was called.
#[derive(Debug)]
pub struct Lab {
    id: LabId,
    nodes: Vec<Node>,
    clients: Vec<Node>,
    /// Bare namespaces from [`Lab::add_netns`] (tasks): full names, creation order.
    bare: Vec<String>,
    /// Members whose creation started but did not finish; torn down too.
    pending: Vec<Node>,
    procs: ProcessRegistry,
    persistent: bool,
}

impl Lab {
    /// An empty lab that owns (and will tear down) whatever is added to it.
    pub(crate) fn empty(id: LabId) -> Self {
        let procs = Arc::new(Mutex::new(Vec::new()));
        Self {
            id,
            nodes: Vec::new(),
            clients: Vec::new(),
            bare: Vec::new(),
            pending: Vec::new(),
            procs,
            persistent: false,
        }
    }

    /// Re-opens a lab left running (e.g. by `cargo xtask lab up`). The returned
    /// handle does not tear the lab down on drop; call [`Lab::teardown`] for that.
    pub fn attach(id: &LabId) -> Result<Self, LabError> {
        let namespaces = teardown::lab_netns(id)?;
        if namespaces.is_empty() {
            return Err(LabError::NoSuchLab(id.clone()));
        }
        let mut lab = Self::empty(id.clone());
        lab.persistent = true;
        for ns in namespaces {
            let Some((_, member)) = LabId::split_netns_name(&ns) else {
                continue;
            };
            if ns == id.switch_netns() {
                continue;
            }
            // A namespace without an underlay address is a bare one (a task),
            // even if an overlay gave it an `eth0` of its own.
            let Some(addr) = underlay_addr(&ns)? else {
                lab.bare.push(ns);
                continue;
            };
            let kind = match naming::parse_node_member(member) {
                Some(index) => NodeKind::Node(index),
                None => NodeKind::Client(usize::from(
                    addr.octets()[3].saturating_sub(CLIENT_HOST_BASE),
                )),
            };
            let node = lab.member(ns, kind, addr);
            match kind {
                NodeKind::Node(_) => lab.nodes.push(node),
                NodeKind::Client(_) => lab.clients.push(node),
            }
        }
        lab.nodes.sort_by_key(|n| n.kind_index());
        lab.clients.sort_by_key(|n| n.kind_index());
        Ok(lab)
    }

    /// This lab's id; every namespace is named `<id>-…`.
    pub fn id(&self) -> &LabId {
        &self.id
    }

    /// Name of the switch namespace (holding bridge `br0`).
    pub fn switch_netns(&self) -> String {
        self.id.switch_netns()
    }

    /// All shoal nodes, in index order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node `index` (1-based), if it exists.
    pub fn node(&self, index: usize) -> Option<&Node> {
        self.nodes.iter().find(|n| n.kind == NodeKind::Node(index))
    }

    /// All clients, in creation order.
    pub fn clients(&self) -> &[Node] {
        &self.clients
    }

    /// Any member (node or client) by namespace name or by member name (`n2`, `c1`).
    pub fn member_by_name(&self, name: &str) -> Option<&Node> {
        let full = format!("{}-{name}", self.id);
        self.nodes
            .iter()
            .chain(&self.clients)
            .find(|n| n.name == name || n.name == full)
    }

    /// Adds a client namespace `<id>-<name>` on the underlay at 198.18.0.(200+k)/24,
    /// `k` being the 1-based client count. Names are 1..=6 chars of [a-z0-9].
    pub fn add_client(&mut self, name: &str) -> Result<&Node, LabError> {
        let ns = self.id.client_netns(name)?;
        if self.clients.iter().any(|c| c.name == ns) {
            return Err(LabError::DuplicateClient(name.to_owned()));
        }
        let index = self.clients.len() + 1;
        let addr = naming::client_addr(index)?;
        let client = self.create_member(ns, name, NodeKind::Client(index), addr)?;
        self.clients.push(client);
        Ok(&self.clients[index - 1])
    }

    /// Bare namespaces added with [`Lab::add_netns`], by full name.
    pub fn bare_netns(&self) -> &[String] {
        &self.bare
    }

    /// Whether `netns` (a full namespace name) belongs to this lab.
    pub fn owns_netns(&self, netns: &str) -> bool {
        LabId::split_netns_name(netns).is_some_and(|(id, _)| id == self.id)
            && (self.bare.iter().any(|n| n == netns)
                || self
                    .nodes
                    .iter()
                    .chain(&self.clients)
                    .any(|n| n.name == netns))
    }

    /// Adds a bare namespace `<id>-<name>` (only `lo`, up; no underlay), e.g. a
    /// task's namespace for an overlay to plug into. It is torn down with the
    /// lab. Names follow the client rules (1..=6 chars of [a-z0-9], not `sw` or
    /// `n<i>`). Returns the full namespace name.
    pub fn add_netns(&mut self, name: &str) -> Result<String, LabError> {
        let ns = self.id.client_netns(name)?;
        if self.owns_netns(&ns) {
            return Err(LabError::DuplicateNetns(name.to_owned()));
        }
        cmd::ip(&["netns", "add", &ns])?;
        // Registered before anything else can fail, so teardown finds it.
        self.bare.push(ns.clone());
        cmd::ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Keeps the lab running after this handle is dropped and returns its id
    /// (for `cargo xtask lab up`; tear down later with [`super::cleanup_by_id`]).
    pub fn into_persistent(mut self) -> LabId {
        self.persistent = true;
        self.id.clone()
    }

    /// Tears the lab down now, reporting the first failure.
    pub fn teardown(mut self) -> Result<(), LabError> {
        self.persistent = true; // Drop must not repeat the work.
        self.teardown_inner().map_err(LabError::from)
    }

    pub(crate) fn create_switch(&mut self) -> Result<(), LabError> {
        let sw = self.id.switch_netns();
        cmd::ip(&["netns", "add", &sw])?;
        cmd::ip(&["-n", &sw, "link", "set", "lo", "up"])?;
        cmd::ip(&["-n", &sw, "link", "add", BRIDGE_NAME, "type", "bridge"])?;
        // A switch forwards frames, it does not judge them: keep br_netfilter
        // (on by default in every new namespace) from dropping malformed IPv4
        // that tests send on purpose.
        let script = "for f in /proc/sys/net/bridge/bridge-nf-call-*; do \
                      [ -e \"$f\" ] && echo 0 > \"$f\"; done; true";
        cmd::output(cmd::netns_command(&sw, &["sh", "-c", script])?)?;
        cmd::ip(&["-n", &sw, "link", "set", BRIDGE_NAME, "up"])?;
        Ok(())
    }

    pub(crate) fn add_node(&mut self, index: usize) -> Result<(), LabError> {
        let ns = self.id.node_netns(index)?;
        let addr = naming::node_addr(index)?;
        let node =
            self.create_member(ns, &naming::node_member(index), NodeKind::Node(index), addr)?;
        self.nodes.push(node);
        Ok(())
    }

    /// Creates namespace `ns` with `eth0` at `addr`, whose peer `port` is a
    /// bridge port in the switch namespace. The veth pair is created inside the
    /// switch namespace so nothing ever appears in the root namespace.
    fn create_member(
        &mut self,
        ns: String,
        port: &str,
        kind: NodeKind,
        addr: Ipv4Addr,
    ) -> Result<Node, LabError> {
        let sw = self.id.switch_netns();
        cmd::ip(&["netns", "add", &ns])?;
        // Registered before anything else can fail, so teardown finds it.
        let node = self.member(ns.clone(), kind, addr);
        self.pending.push(node.clone());
        cmd::ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        cmd::ip(&[
            "-n",
            &sw,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            UNDERLAY_IFACE,
            "netns",
            &ns,
        ])?;
        cmd::ip(&["-n", &sw, "link", "set", port, "master", BRIDGE_NAME, "up"])?;
        let cidr = format!("{addr}/{UNDERLAY_PREFIX_LEN}");
        cmd::ip(&["-n", &ns, "addr", "add", &cidr, "dev", UNDERLAY_IFACE])?;
        cmd::ip(&["-n", &ns, "link", "set", UNDERLAY_IFACE, "up"])?;
        std::fs::create_dir_all(&node.state_dir).map_err(|source| LabError::StateDir {
            path: node.state_dir.clone(),
            source,
        })?;
        self.pending.retain(|n| n.name != ns);
        Ok(node)
    }

    fn member(&self, ns: String, kind: NodeKind, addr: Ipv4Addr) -> Node {
        let state_dir = self.id.state_root().join(&ns);
        Node {
            name: ns,
            kind,
            addr,
            state_dir,
            procs: Arc::clone(&self.procs),
        }
    }

    fn teardown_inner(&mut self) -> Result<(), TeardownError> {
        let mut first_err = None;
        let mut children =
            std::mem::take(&mut *self.procs.lock().unwrap_or_else(PoisonError::into_inner));
        for child in &mut children {
            // Already-exited children make kill fail; wait reaps either way.
            let _ = child.kill();
            let _ = child.wait();
        }
        let members = self.nodes.iter().chain(&self.clients).chain(&self.pending);
        for member in members {
            teardown::keep_first(
                &mut first_err,
                teardown::remove_containers(&member.state_dir).map_err(Into::into),
            );
            teardown::keep_first(
                &mut first_err,
                teardown::delete_netns(&member.name).map_err(Into::into),
            );
            teardown::keep_first(&mut first_err, teardown::remove_pins(&member.name));
        }
        for ns in &self.bare {
            teardown::keep_first(
                &mut first_err,
                teardown::delete_netns(ns).map_err(Into::into),
            );
        }
        let sw = self.id.switch_netns();
        teardown::keep_first(
            &mut first_err,
            teardown::delete_netns(&sw).map_err(Into::into),
        );
        teardown::keep_first(&mut first_err, teardown::remove_dir(&self.id.state_root()));
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.persistent {
            return;
        }
        if let Err(e) = self.teardown_inner() {
            eprintln!("shoal lab {}: teardown incomplete: {e}", self.id);
        }
    }
}

impl Node {
    fn kind_index(&self) -> usize {
        match self.kind {
            NodeKind::Node(i) | NodeKind::Client(i) => i,
        }
    }
}

/// The IPv4 address of `eth0` in `ns` inside the underlay subnet, from
/// `ip -j addr`; `None` if there is no `eth0` or no such address (a bare namespace).
fn underlay_addr(ns: &str) -> Result<Option<Ipv4Addr>, LabError> {
    let links = cmd::ip(&["-j", "-n", ns, "link", "show"])?;
    if !json_array(&links)
        .iter()
        .any(|l| l.get("ifname").and_then(|v| v.as_str()) == Some(UNDERLAY_IFACE))
    {
        return Ok(None);
    }
    let out = cmd::ip(&["-j", "-n", ns, "-4", "addr", "show", "dev", UNDERLAY_IFACE])?;
    Ok(json_array(&out)
        .iter()
        .filter_map(|link| link.get("addr_info")?.as_array())
        .flatten()
        .filter_map(|a| a.get("local")?.as_str()?.parse::<Ipv4Addr>().ok())
        .find(|a| naming::in_underlay(*a)))
}

fn json_array(out: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(out).unwrap_or_default()
}
