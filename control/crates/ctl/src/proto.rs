//! Messages of the control RPC.

use serde::{Deserialize, Serialize};

use shoal_model::cluster::{NodeRole, NodeUpdate};
use shoal_model::spec::TaskReport;

/// ALPN protocol of the control RPC.
pub const ALPN_CTL: &[u8] = b"shoal-ctl/1";
/// ALPN protocol of raft RPCs on the shared port.
pub const ALPN_RAFT: &[u8] = b"shoal-raft/1";

/// Longest engine version a node may report (join or heartbeat), in
/// bytes: a version string is a few dozen; anything longer is refused
/// before it can reach the raft log (it is written on every change).
pub const MAX_ENGINE_VERSION_LEN: usize = 128;
/// Longest hostname a joining node may report, in bytes (a DNS name's
/// limit).
pub const MAX_HOSTNAME_LEN: usize = 253;

/// A request from one node to a manager.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CtlRequest {
    /// Join with a token (no client certificate needed).
    Join(JoinRpc),
    /// "I am alive" (any node).
    Heartbeat(HeartbeatReport),
    /// Issue a new certificate for the caller's node ID (any node).
    Renew {
        /// CSR for the caller's (possibly new) key, DER.
        csr_der: Vec<u8>,
    },
    /// Run on the raft leader (managers only; a follower forwards it).
    Leader(LeaderCall),
    /// Reachability probe (any node).
    Ping,
    /// The caller's assignment (any node; answered by any manager from its
    /// applied store). When `known` equals the current assignment's
    /// version the manager waits (up to [`ASSIGNMENT_WAIT`]) for a change
    /// before answering: a long poll.
    Assignments {
        /// Version of the assignment the node holds, if any.
        known: Option<u64>,
    },
    /// Observed states of the caller's tasks (any node; the node ID is
    /// taken from the caller's certificate and the batch is passed to the
    /// leader as [`LeaderCall::TaskStatus`]).
    TaskStatus(Vec<TaskReport>),
    /// The captured output of a task running on the called node (managers
    /// only: `service logs` fans out from a manager to the task's node).
    TaskLogs {
        /// The task.
        task_id: String,
        /// Only the last `tail` lines (all when `None`).
        tail: Option<usize>,
        /// `service logs --follow`: instead, the whole lines logged after
        /// this cursor (from an earlier answer), at most
        /// [`MAX_LOG_CHUNK`] bytes.
        #[serde(default)]
        after: Option<LogCursor>,
    },
}

/// Most bytes of log lines one [`CtlRequest::TaskLogs`] answer with a
/// cursor carries: a follower's memory stays bounded on both ends.
pub const MAX_LOG_CHUNK: usize = 64 * 1024;

/// Where a follower of a task's logs is on the task's node (opaque to
/// the manager: it sends back what the node answered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCursor {
    /// Byte offset in the file being read.
    pub offset: u64,
    /// Size of the rotated part when the cursor was taken.
    pub rotated_len: u64,
    /// Its modification time (ns since the epoch) then.
    pub rotated_mtime_ns: u64,
    /// Whether the rotated part is being finished.
    pub in_rotated: bool,
}

/// A node's answer to [`CtlRequest::TaskLogs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLogsAnswer {
    /// The log text.
    pub text: String,
    /// Where to follow on from.
    pub cursor: LogCursor,
}

/// Longest a manager holds an unchanged assignment request open.
pub const ASSIGNMENT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a joining node sends once it trusts the manager.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRpc {
    /// The whole join token (its secret decides the role).
    pub token: String,
    /// CSR for the node's key, DER.
    pub csr_der: Vec<u8>,
    /// The node's name.
    pub hostname: String,
    /// `--advertise-addr` as given (IP or IP:port), if any.
    pub advertise_addr: Option<String>,
    /// Port of the node's `--listen-addr`.
    pub listen_port: u16,
    /// The node's shoal version.
    pub engine_version: String,
    /// Its WireGuard public key and port (the private key stays on it).
    #[serde(default)]
    pub wireguard: Option<shoal_model::node::NodeWireGuard>,
}

/// What a node gets for a valid join token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinGrant {
    /// Its node ID.
    pub node_id: String,
    /// Its role.
    pub role: NodeRole,
    /// Its raft ID (used if it is or becomes a manager).
    pub raft_id: u64,
    /// Its certificate, PEM.
    pub cert_pem: String,
    /// The cluster CA certificate, PEM.
    pub ca_pem: String,
    /// The address it is known by.
    pub addr: String,
    /// Control addresses of the managers.
    pub managers: Vec<String>,
    /// The unlock key, for a manager joining an autolocked swarm.
    pub unlock_key: Option<String>,
    /// Lifetime of node certificates, seconds.
    pub cert_expiry_secs: u64,
}

/// Contents of a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatReport {
    /// shoal version.
    pub engine_version: String,
    /// Expiry of the node's certificate (seconds since the epoch). Only
    /// informative: the manager that receives the heartbeat records the
    /// expiry of the certificate the caller presented instead.
    pub cert_not_after: i64,
    /// The node's capacity (CPUs as nano-CPUs, memory in bytes), what
    /// tasks' reservations are scheduled against; absent from older nodes.
    #[serde(default)]
    pub resources: Option<shoal_model::node::NodeResources>,
}

/// Answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatAck {
    /// The leader's control address.
    pub leader_addr: Option<String>,
    /// Control addresses of all managers.
    pub managers: Vec<String>,
    /// The role the node should have.
    pub desired_role: NodeRole,
    /// Lifetime of node certificates, seconds.
    pub cert_expiry_secs: u64,
    /// How often the node is to beat, milliseconds (absent from a manager
    /// of an older version: the node keeps its default).
    #[serde(default)]
    pub heartbeat_period_ms: Option<u64>,
}

/// A renewed certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenewGrant {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The role it carries (the node's desired role).
    pub role: NodeRole,
    /// The unlock key, only for a node being promoted to manager (it
    /// writes its new data key wrapped by it) while autolock is on.
    pub unlock_key: Option<String>,
}

/// Work only the raft leader does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LeaderCall {
    /// Admit a joining node.
    Join {
        /// The request.
        rpc: JoinRpc,
        /// The joiner's IP as the first manager saw it.
        observed_ip: String,
    },
    /// Record a heartbeat of `node_id` (verified by the first manager).
    Heartbeat {
        /// The node.
        node_id: String,
        /// Its report.
        report: HeartbeatReport,
    },
    /// The manager `node_id` has started raft: add it as a learner, then
    /// make it a voter.
    AddManager {
        /// The node.
        node_id: String,
    },
    /// A change asked for through the API.
    Api(ApiOp),
    /// Observed task states from the agent of `node_id` (verified by the
    /// first manager); the leader applies those of tasks assigned to it.
    TaskStatus {
        /// The reporting node.
        node_id: String,
        /// The states.
        reports: Vec<TaskReport>,
    },
    /// Confirm leadership with a quorum and answer the log index a
    /// linearizable read must see applied (the read index).
    ReadIndex,
}

/// API changes that go through the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ApiOp {
    /// `node update`.
    UpdateNode {
        /// ID, prefix or hostname.
        target: String,
        /// The change.
        update: NodeUpdate,
    },
    /// `node rm`.
    RemoveNode {
        /// ID, prefix or hostname.
        target: String,
        /// `--force`.
        force: bool,
    },
    /// `node promote`.
    Promote {
        /// ID, prefix or hostname.
        target: String,
    },
    /// `node demote`.
    Demote {
        /// ID, prefix or hostname.
        target: String,
    },
    /// `swarm join-token --rotate`.
    RotateToken {
        /// Whose token.
        role: NodeRole,
    },
    /// `swarm unlock-key --rotate`.
    RotateUnlockKey,
    /// `swarm update`: autolock on or off, node certificate lifetime.
    UpdateSwarm {
        /// Autolock wanted, if it changes.
        autolock: Option<bool>,
        /// New node certificate lifetime, seconds.
        cert_expiry_secs: Option<u64>,
        /// New interval between scheduled rotations of the encrypted
        /// networks' key, seconds.
        #[serde(default)]
        key_rotation_secs: Option<u64>,
        /// New heartbeat period of the nodes, milliseconds.
        #[serde(default)]
        heartbeat_period_ms: Option<u64>,
    },
    /// `network update --rotate-keys`.
    RotateNetworkKeys {
        /// ID, prefix or name of an encrypted network.
        target: String,
    },
    /// `service create`.
    CreateService {
        /// The spec (validated by the leader).
        spec: Box<shoal_model::spec::ServiceSpec>,
    },
    /// `service update` and `service scale`.
    UpdateService {
        /// ID, prefix or name.
        target: String,
        /// The new spec and the version it was read at.
        request: Box<shoal_model::api::ServiceUpdateRequest>,
    },
    /// `service rollback`.
    RollbackService {
        /// ID, prefix or name.
        target: String,
    },
    /// `service rm`.
    RemoveService {
        /// ID, prefix or name.
        target: String,
    },
    /// `network create`.
    CreateNetwork {
        /// The request.
        request: Box<shoal_model::api::NetworkCreateRequest>,
    },
    /// `network rm`.
    RemoveNetwork {
        /// ID, prefix or name.
        target: String,
    },
    /// `secret create`.
    CreateSecret {
        /// The request.
        request: Box<shoal_model::api::SecretCreateRequest>,
    },
    /// `secret rm`.
    RemoveSecret {
        /// ID, prefix or name.
        target: String,
    },
    /// `config create`.
    CreateConfig {
        /// The request.
        request: Box<shoal_model::api::ConfigCreateRequest>,
    },
    /// A config's label change.
    UpdateConfig {
        /// The request.
        request: Box<shoal_model::api::ConfigUpdateRequest>,
    },
    /// `config rm`.
    RemoveConfig {
        /// ID, prefix or name.
        target: String,
    },
}

/// An error as the answering node reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteFailure {
    /// HTTP-style status (400 bad input, 403 refused, 503 unavailable...).
    pub status: u16,
    /// The message for the operator.
    pub message: String,
}

/// The answer to every request.
pub type CtlReply = Result<serde_json::Value, RemoteFailure>;
