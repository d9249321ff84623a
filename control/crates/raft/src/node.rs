//! [`RaftNode`]: one manager's raft instance with its storage, RPC server
//! and [`Store`] handle.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::network_client::NetworkFactory;
use super::network_server::RaftServer;
use super::store::Store;
use super::typ::{self, NodeId};
use super::{StoreError, open_storage};
use shoal_security::ca::{CaCert, NodeCertificate, NodeKey};
use shoal_security::seal::DataKey;
use shoal_security::tls::{self, Authorizer, ClientAuth};

/// Default time a write may wait for a quorum before [`StoreError::NoQuorum`].
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a membership change (which may wait for a learner to catch
/// up) may take.
pub const DEFAULT_MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(120);

/// How long [`RaftNode::shutdown`] waits for the database to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS side of a raft node: server and client configs from the node's
/// certificate, and the authoriser for incoming RPCs.
#[derive(Clone)]
pub struct RaftTls {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    authorizer: Authorizer,
}

impl RaftTls {
    /// Configs for a manager holding `cert` and `key`, issued by `ca`.
    pub fn new(ca: &CaCert, cert: &NodeCertificate, key: &NodeKey) -> Result<Self, StoreError> {
        let tls_error = |source| StoreError::Tls { source };
        Ok(Self {
            server: tls::server_config(ca, cert, key, ClientAuth::Required).map_err(tls_error)?,
            client: tls::client_config(ca, cert, key).map_err(tls_error)?,
            authorizer: Authorizer::new(ca.cluster_id()),
        })
    }

    /// Configs built elsewhere, e.g. with certificate resolvers that swap a
    /// renewed certificate in without restarting raft, or with ALPN set
    /// for a port shared with other protocols.
    pub fn from_configs(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
        authorizer: Authorizer,
    ) -> Self {
        Self {
            server,
            client,
            authorizer,
        }
    }
}

/// openraft settings for shoal: failover under 2 s and 1 MiB snapshot
/// chunks.
///
/// openraft 0.9 lets a follower that saw a leader start an election only
/// after the leader's lease (`election_timeout_max`) plus its own random
/// timeout have passed without a heartbeat: 1.3-1.6 s here, about ten
/// heartbeats, so a loaded machine does not start spurious elections.
///
/// openraft also gives every AppendEntries one heartbeat interval to be
/// answered, and sends the same entries again after a timeout: with 300
/// entries per request (its default) a join storm's backlog took longer
/// than 100 ms to ship and store on a loaded follower every time, so the
/// followers never caught up and elections followed (1,000 simulated nodes
/// on 2 cores). Hence 150 ms and at most 32 entries per request.
pub fn default_raft_config() -> openraft::Config {
    openraft::Config {
        cluster_name: "shoal".to_owned(),
        heartbeat_interval: 150,
        election_timeout_min: 500,
        election_timeout_max: 800,
        max_payload_entries: 32,
        install_snapshot_timeout: 2000,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(10_000),
        max_in_snapshot_log_to_keep: 500,
        snapshot_max_chunk_size: 1024 * 1024,
        ..Default::default()
    }
}

/// How to start a [`RaftNode`].
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's raft ID.
    pub node_id: NodeId,
    /// Where the RPC server listens.
    pub listen: SocketAddr,
    /// The address peers should dial (`host:port`); defaults to the bound
    /// address, which is wrong when listening on a wildcard address.
    pub advertise: Option<String>,
    /// Directory of the node's raft database.
    pub data_dir: PathBuf,
    /// openraft's settings.
    pub raft: openraft::Config,
    /// How long a write waits for a quorum.
    pub write_timeout: Duration,
    /// How long a membership change may take.
    pub membership_timeout: Duration,
}

impl NodeConfig {
    /// A configuration with [`default_raft_config`] and default timeouts.
    pub fn new(node_id: NodeId, listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            node_id,
            listen,
            advertise: None,
            data_dir: data_dir.into(),
            raft: default_raft_config(),
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            membership_timeout: DEFAULT_MEMBERSHIP_TIMEOUT,
        }
    }
}

/// A running raft node.
pub struct RaftNode {
    pub(crate) id: NodeId,
    pub(crate) raft: typ::Raft,
    pub(crate) store: Store,
    pub(crate) server: RaftServer,
    pub(crate) membership_timeout: Duration,
    advertise: Option<String>,
    closed: super::vault::DatabaseClosed,
}

impl RaftNode {
    /// Opens the node's storage, starts raft and the RPC server.
    ///
    /// A new node is not part of any cluster until it is initialised
    /// ([`RaftNode::initialize`]) or added by a leader.
    pub async fn start(
        config: NodeConfig,
        data_key: DataKey,
        tls: &RaftTls,
    ) -> Result<Self, StoreError> {
        let raft_config = config
            .raft
            .validate()
            .map_err(|source| StoreError::Config {
                source: Box::new(source),
            })?;
        let storage = open_storage(&config.data_dir, data_key)?;
        let listener = RaftServer::bind(config.listen).await?;
        let network = NetworkFactory::new(tls.client.clone());
        let raft = typ::Raft::new(
            config.node_id,
            Arc::new(raft_config),
            network,
            storage.log_store,
            storage.state_machine,
        )
        .await?;
        let server = match RaftServer::spawn(
            listener,
            raft.clone(),
            tls.server.clone(),
            tls.authorizer.clone(),
        ) {
            Ok(server) => server,
            Err(err) => {
                let _ = raft.shutdown().await;
                return Err(err);
            }
        };
        Ok(Self {
            id: config.node_id,
            store: Store::new(raft.clone(), storage.shared, config.write_timeout),
            closed: storage.closed,
            raft,
            server,
            membership_timeout: config.membership_timeout,
            advertise: config.advertise,
        })
    }

    /// This node's raft ID.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The address of this node's RPC server.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The address peers should dial: the advertised one, else the bound one.
    pub fn advertised_addr(&self) -> String {
        self.advertise
            .clone()
            .unwrap_or_else(|| self.addr().to_string())
    }

    /// The store handle.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The openraft instance (metrics, waits, low-level calls).
    pub fn raft(&self) -> &typ::Raft {
        &self.raft
    }

    /// The RPC server.
    pub fn server(&self) -> &RaftServer {
        &self.server
    }

    /// Current raft metrics.
    pub fn metrics(&self) -> typ::RaftMetrics {
        self.raft.metrics().borrow().clone()
    }

    /// Stops the RPC server and raft, and waits until the database is
    /// closed (raft's helper tasks let go of it shortly after the core), so
    /// the node can be started again on the same directory.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        self.server.stop();
        self.raft
            .shutdown()
            .await
            .map_err(|source| StoreError::Shutdown { source })?;
        drop(self.store);
        drop(self.raft);
        // The receiver resolves (with a "sender dropped" error) on close.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.closed)
            .await
            .map_err(|_| StoreError::StillOpen {
                waited: CLOSE_TIMEOUT,
            })?;
        Ok(())
    }
}
