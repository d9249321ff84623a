//! A test harness: several raft managers in one process on 127.0.0.1, with
//! real certificates from a test CA and real mutual TLS between them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::{Command, MembershipView, NodeConfig, NodeId, RaftNode, RaftTls, Response, StoreError};
use shoal_security::ca::{
    CertValidity, DEFAULT_NODE_CERT_EXPIRY, DEFAULT_ROOT_EXPIRY, Role, RootCa,
};
use shoal_security::seal::DataKey;

pub(super) const CLUSTER: &str = "raftcluster";
pub(super) use shoal_model::test_support::PATIENCE;
/// How long a write waits for a quorum in tests.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Fast timing for tests: 50 ms heartbeats, 150–300 ms elections.
pub(super) fn fast_raft_config() -> openraft::Config {
    openraft::Config {
        cluster_name: CLUSTER.to_owned(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        install_snapshot_timeout: 1000,
        ..Default::default()
    }
}

/// Issues manager (or other role) TLS material from the test CA.
pub(super) fn tls_for(ca: &RootCa, node_name: &str, role: Role) -> RaftTls {
    let validity = CertValidity::from_now(DEFAULT_NODE_CERT_EXPIRY).expect("validity");
    let (key, cert) = ca
        .issue_with_new_key(node_name, role, validity)
        .expect("issue node certificate");
    RaftTls::new(ca.cert(), &cert, &key).expect("raft TLS")
}

/// A put command.
pub(super) fn put(table: &str, key: &str, value: serde_json::Value) -> Command {
    Command::Put {
        table: table.to_owned(),
        key: key.to_owned(),
        value,
    }
}

/// A free port on 127.0.0.1 below the kernel's ephemeral range (read from
/// `ip_local_port_range`, 32768 and up by default), so that no outgoing
/// connection (of this or another test process) takes it while its node is
/// stopped and the node can restart on it.
fn unused_port_below_ephemeral_range() -> SocketAddr {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let low = 10_000.min(ephemeral_start / 2);
    for _ in 0..1000 {
        let port = rand::random_range(low..ephemeral_start);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// Per-node state that survives a restart.
struct Identity {
    addr: Option<SocketAddr>,
    data_key: DataKey,
    tls: RaftTls,
}

/// Several managers in one process.
pub(super) struct TestCluster {
    pub(super) ca: RootCa,
    root: tempfile::TempDir,
    raft_config: openraft::Config,
    identities: BTreeMap<NodeId, Identity>,
    nodes: BTreeMap<NodeId, RaftNode>,
}

impl TestCluster {
    /// An empty cluster whose nodes will use `raft_config`.
    pub(super) fn new(raft_config: openraft::Config) -> Self {
        Self {
            ca: RootCa::create(CLUSTER, DEFAULT_ROOT_EXPIRY).expect("root CA"),
            root: tempfile::tempdir().expect("temp dir"),
            raft_config,
            identities: BTreeMap::new(),
            nodes: BTreeMap::new(),
        }
    }

    /// Three voters: node 1 initialises, 2 and 3 join as learners and are
    /// promoted.
    pub(super) async fn three_managers(raft_config: openraft::Config) -> Self {
        let mut cluster = Self::new(raft_config);
        for id in 1..=3 {
            cluster.start(id).await;
        }
        cluster.node(1).initialize().await.expect("initialize");
        cluster.wait_leader(&[1]).await;
        for id in 2..=3 {
            cluster.add_learner(id).await;
        }
        cluster.promote(2).await;
        cluster.promote(3).await;
        cluster
    }

    /// A running node that believes it leads, if any.
    pub(super) fn current_leader(&self) -> Option<NodeId> {
        self.running()
            .into_iter()
            .find(|id| self.node(*id).metrics().state == openraft::ServerState::Leader)
    }

    /// Runs `op` on the current leader, retrying while leadership moves or
    /// quorum is briefly lost (tests run on loaded machines).
    pub(super) async fn on_leader<T>(
        &self,
        what: &str,
        op: impl AsyncFn(&RaftNode) -> Result<T, StoreError>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(leader) = self.current_leader() {
                match op(self.node(leader)).await {
                    Ok(value) => return value,
                    Err(err) if err.is_retryable() => {}
                    Err(err) => panic!("{what} failed: {err:?}"),
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: no leader succeeded"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Adds running node `id` as a learner, through whichever node leads.
    pub(super) async fn add_learner(&self, id: NodeId) {
        let addr = self.node(id).advertised_addr();
        self.on_leader("add learner", async |leader| {
            leader.add_learner(id, addr.clone()).await
        })
        .await;
    }

    /// Promotes `id` to voter, through whichever node leads.
    pub(super) async fn promote(&self, id: NodeId) {
        self.on_leader("promote", async |leader| leader.promote(id).await)
            .await;
    }

    /// Demotes `id` to learner, through whichever node leads.
    pub(super) async fn demote(&self, id: NodeId) {
        self.on_leader("demote", async |leader| leader.demote(id).await)
            .await;
    }

    /// Waits until every running node sees `expected` as the membership.
    pub(super) async fn wait_membership(&self, expected: &MembershipView) {
        for id in self.running() {
            self.eventually(&format!("node {id} to see {expected:?}"), || {
                (self.node(id).membership() == *expected).then_some(())
            })
            .await;
        }
    }

    /// The raft data directory of node `id`.
    pub(super) fn data_dir(&self, id: NodeId) -> std::path::PathBuf {
        self.root.path().join(format!("node-{id}"))
    }

    /// The directory holding every node's data.
    pub(super) fn root_dir(&self) -> &std::path::Path {
        self.root.path()
    }

    /// Starts node `id` (again, with its old address, key and data, if it
    /// ran before).
    pub(super) async fn start(&mut self, id: NodeId) {
        let ca = &self.ca;
        let identity = self.identities.entry(id).or_insert_with(|| Identity {
            addr: None,
            data_key: DataKey::generate(),
            tls: tls_for(ca, &format!("manager-{id}"), Role::Manager),
        });
        let listen = *identity
            .addr
            .get_or_insert_with(unused_port_below_ephemeral_range);
        let mut config = NodeConfig::new(id, listen, self.root.path().join(format!("node-{id}")));
        config.raft = self.raft_config.clone();
        config.write_timeout = WRITE_TIMEOUT;
        config.membership_timeout = PATIENCE;
        let node = RaftNode::start(config, identity.data_key.clone(), &identity.tls)
            .await
            .expect("start raft node");
        identity.addr = Some(node.addr());
        self.nodes.insert(id, node);
    }

    /// Shuts node `id` down (its data stays).
    pub(super) async fn stop(&mut self, id: NodeId) {
        let node = self.nodes.remove(&id).expect("node is running");
        node.shutdown().await.expect("shutdown");
    }

    /// The running node `id`.
    pub(super) fn node(&self, id: NodeId) -> &RaftNode {
        self.nodes.get(&id).expect("node is running")
    }

    /// IDs of running nodes.
    pub(super) fn running(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// Waits until every running node in `among` agrees on one leader from
    /// `among`, and returns it.
    pub(super) async fn wait_leader(&self, among: &[NodeId]) -> NodeId {
        self.eventually("a leader agreed on", || {
            let leaders: Vec<Option<NodeId>> =
                among.iter().map(|id| self.node(*id).leader()).collect();
            let first = leaders.first().copied().flatten()?;
            let agreed = leaders.iter().all(|leader| *leader == Some(first));
            let leader_is_leading = among.contains(&first)
                && self.node(first).metrics().state == openraft::ServerState::Leader;
            (agreed && leader_is_leading).then_some(first)
        })
        .await
    }

    /// Proposes on whichever running node leads, retrying while leadership
    /// moves.
    pub(super) async fn propose(&self, command: Command) -> Response {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let leader = self
                .running()
                .into_iter()
                .find(|id| self.node(*id).metrics().state == openraft::ServerState::Leader);
            if let Some(leader) = leader {
                match self.node(leader).store().propose(command.clone()).await {
                    Ok(response) => return response,
                    Err(err) if err.is_retryable() => {}
                    Err(err) => panic!("propose failed: {err:?}"),
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no leader accepted the write"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until node `id` has `table/key` = `expected`.
    pub(super) async fn wait_value(
        &self,
        id: NodeId,
        table: &str,
        key: &str,
        expected: &serde_json::Value,
    ) {
        let store = self.node(id).store().clone();
        self.eventually(&format!("node {id} to have {table}/{key}"), || {
            (store.read(table, key).as_ref() == Some(expected)).then_some(())
        })
        .await;
    }

    /// Polls `check` until it returns `Some`, panicking after [`PATIENCE`].
    pub(super) async fn eventually<T>(&self, what: &str, check: impl FnMut() -> Option<T>) -> T {
        shoal_model::test_support::eventually(what, check).await
    }

    /// Shuts every node down.
    pub(super) async fn shutdown(mut self) {
        for id in self.running() {
            self.stop(id).await;
        }
    }
}
