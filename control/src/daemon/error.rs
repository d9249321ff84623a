//! Errors of the [`crate::daemon`] module, each with the HTTP status the
//! API answers it with.

use std::path::PathBuf;

use crate::ca::CaError;
use crate::cluster::ClusterError;
use crate::ctl::CtlError;
use crate::manager::ManagerError;
use crate::raft::StoreError;
use crate::runtime::RuntimeError;
use crate::runtime::image::{AccessError, ImageError, RegistryError};
use crate::runtime::volumes::VolumeError;
use crate::seal::{KeyParseError, SealError};
use crate::tls::TlsError;
use crate::token::TokenError;

/// Everything the daemon can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The node is not in a swarm.
    #[error(
        "this node is not part of a swarm: run \"shoal swarm init\" or \"shoal swarm join\" first"
    )]
    NotInSwarm,
    /// The node already is in a swarm.
    #[error(
        "this node is already part of a swarm: use \"shoal swarm leave\" to leave it and join another one"
    )]
    AlreadyInSwarm,
    /// A worker was asked for manager state.
    #[error(
        "this node is not a swarm manager: worker nodes can't be used to view or modify cluster state; run this on a manager"
    )]
    NotManager,
    /// An autolocked manager has not been unlocked yet.
    #[error(
        "swarm is encrypted and needs to be unlocked before it can be used: run \"shoal swarm unlock\""
    )]
    Locked,
    /// `swarm unlock` on a node that is not locked.
    #[error("this node is not locked")]
    NotLocked,
    /// The unlock key does not open the stored data key.
    #[error("invalid unlock key: it does not open this manager's data key")]
    WrongUnlockKey,
    /// The node's stored WireGuard key is malformed.
    #[error("WireGuard key file {path}: {source}")]
    BadWireGuardKey {
        /// The key file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: shoal_dataplane::wg::KeyError,
    },
    /// The WireGuard key is sealed and the data key is not at hand.
    #[error("WireGuard key file {path} is sealed (autolock): unlock the swarm first")]
    SealedWireGuardKey {
        /// The key file.
        path: std::path::PathBuf,
    },
    /// A manager's assignment update did not apply to the assignment held
    /// (the next poll asks for the whole assignment).
    #[error("assignment update")]
    AssignmentUpdate {
        /// Why.
        #[source]
        source: crate::assignment_update::UpdateError,
    },
    /// The node has no WireGuard key (it could not be read: said earlier).
    #[error("this node has no WireGuard key")]
    NoWireGuardKey,
    /// The WireGuard path could not start.
    #[error(transparent)]
    WireGuard {
        /// Why.
        #[from]
        source: shoal_dataplane::wg::WgError,
    },
    /// The unlock key is malformed.
    #[error("malformed unlock key")]
    BadUnlockKey {
        /// Why.
        #[source]
        source: KeyParseError,
    },
    /// `swarm update --key-rotation 0`.
    #[error("the key rotation interval must be at least one second")]
    BadKeyRotation,
    /// `swarm update --dispatcher-heartbeat` outside its range.
    #[error("a heartbeat period of {ms} ms is refused: give 100ms to 1h")]
    BadHeartbeatPeriod {
        /// What was asked, milliseconds.
        ms: u64,
    },
    /// A node reported a free-form field longer than its bound.
    #[error("{field} is {len} bytes long; at most {max} are accepted")]
    FieldTooLong {
        /// The field (`engine_version`, `hostname`).
        field: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The join token is malformed.
    #[error("invalid join token")]
    BadToken {
        /// Why.
        #[source]
        source: TokenError,
    },
    /// An address argument is malformed.
    #[error("invalid {what} {value:?}: expected {expected}")]
    BadAddress {
        /// Which argument.
        what: &'static str,
        /// The value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// No single address to advertise could be chosen.
    #[error(
        "could not choose an IP address to advertise ({found} candidates): use --advertise-addr"
    )]
    NoAdvertiseAddr {
        /// How many non-loopback IPv4 addresses the node has.
        found: usize,
    },
    /// The role argument is neither worker nor manager.
    #[error("unknown role {role:?}: expected worker or manager")]
    BadRole {
        /// The value.
        role: String,
    },
    /// A rule of the cluster refuses the change.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The manager refuses a service, network or secret change (or failed
    /// at it).
    #[error(transparent)]
    Manager(ManagerError),
    /// The caller is not allowed.
    #[error("permission denied: {source}")]
    Denied {
        /// The authorisation error.
        #[source]
        source: TlsError,
    },
    /// The calling node has been removed from the swarm.
    #[error("node {node_id} has been removed from the swarm")]
    Removed {
        /// The node.
        node_id: String,
    },
    /// No leader can be reached with a quorum.
    #[error("no quorum: {reachable} of {total} managers reachable, {needed} needed")]
    NoQuorum {
        /// Managers that answered (this one included).
        reachable: usize,
        /// Managers in the swarm.
        total: usize,
        /// Quorum.
        needed: usize,
    },
    /// Managers are reachable but no leader was elected in time.
    #[error("no leader elected yet ({reachable} of {total} managers reachable): try again")]
    NoLeader {
        /// Managers that answered (this one included).
        reachable: usize,
        /// Managers in the swarm.
        total: usize,
    },
    /// The leader got the call but did not answer in time: what it asked
    /// for may or may not have been done.
    #[error("the leader did not answer in time: the change may or may not have been made")]
    LeaderUnanswered {
        /// The timed-out call.
        #[source]
        source: CtlError,
    },
    /// `unlock-key` asked of a swarm without autolock.
    #[error("autolock is not enabled on this swarm")]
    AutolockOff,
    /// The cluster record is missing from the store.
    #[error("the swarm's cluster record is missing from the store")]
    NoClusterRecord,
    /// Another node answered with an error: its own status and message.
    #[error("{message}")]
    Remote {
        /// HTTP status.
        status: u16,
        /// The message.
        message: String,
    },
    /// A control RPC failed.
    #[error(transparent)]
    Ctl(CtlError),
    /// The replicated store failed.
    #[error("cluster store")]
    Store(#[from] StoreError),
    /// Certificates.
    #[error("certificate authority")]
    Ca(#[from] CaError),
    /// TLS configuration.
    #[error("TLS")]
    Tls(#[from] TlsError),
    /// Sealing.
    #[error("data key")]
    Seal(#[from] SealError),
    /// A stored row or message could not be decoded.
    #[error("cannot decode {what}")]
    Codec {
        /// What.
        what: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The container runtime failed (or has no such container).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// An image could not be loaded or pulled, or the image store read.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The registry logins or settings could not be read or written.
    #[error(transparent)]
    RegistryAccess(#[from] AccessError),
    /// `shoal login`: the registry refused the login or could not be
    /// reached.
    #[error("login to {registry} failed")]
    RegistryLogin {
        /// `host[:port]`.
        registry: String,
        /// Why.
        #[source]
        source: RegistryError,
    },
    /// An uploaded image archive exceeds the size limit.
    #[error("image archive larger than {limit} bytes")]
    ArchiveTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The node's assignment could not be built.
    #[error("cannot build the node's assignment")]
    Dispatch {
        /// Why.
        #[source]
        source: crate::dispatcher::DispatchError,
    },
    /// A joining node's control port is a port a service publishes.
    #[error(
        "port {port} is published by service {service}: a node's control port cannot be a published port (the routing mesh would capture it); join with another --listen-addr/--advertise-addr port"
    )]
    ControlPortPublished {
        /// The port.
        port: u16,
        /// The service publishing it.
        service: String,
    },
    /// The metrics listener could not bind its address.
    #[error("cannot serve metrics on {addr}: {source}")]
    MetricsBind {
        /// The `--metrics-addr`.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A `service logs` query that cannot be honoured.
    #[error(transparent)]
    LogView(#[from] super::log_view::LogViewError),
    /// A request body that is not JSON of the expected shape.
    #[error("invalid request body: {reason}")]
    BadRequestBody {
        /// What the decoder said.
        reason: String,
    },
    /// Another daemon holds the state directory's lock.
    #[error(
        "another shoal daemon (pid {holder}) is using the state directory {}: stop it first, or give this one its own --state-dir",
        state_dir.display()
    )]
    StateDirInUse {
        /// The state directory.
        state_dir: PathBuf,
        /// The process ID recorded by the holder.
        holder: String,
    },
    /// A background task doing the work panicked.
    #[error("{what} failed unexpectedly")]
    TaskPanicked {
        /// What it was doing.
        what: &'static str,
    },
    /// Local I/O.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path or address.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl From<ManagerError> for DaemonError {
    fn from(err: ManagerError) -> Self {
        match err {
            // Kept as a store error so that leader forwarding sees a moved
            // leader and retries.
            ManagerError::Store(store) => DaemonError::Store(store),
            other => DaemonError::Manager(other),
        }
    }
}

impl From<CtlError> for DaemonError {
    fn from(err: CtlError) -> Self {
        match err {
            CtlError::Remote { status, message } => DaemonError::Remote { status, message },
            other => DaemonError::Ctl(other),
        }
    }
}

impl DaemonError {
    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            DaemonError::BadUnlockKey { .. }
            | DaemonError::BadKeyRotation
            | DaemonError::BadHeartbeatPeriod { .. }
            | DaemonError::BadToken { .. }
            | DaemonError::FieldTooLong { .. }
            | DaemonError::BadAddress { .. }
            | DaemonError::NoAdvertiseAddr { .. }
            | DaemonError::BadRole { .. }
            | DaemonError::BadRequestBody { .. }
            | DaemonError::LogView(_)
            | DaemonError::ControlPortPublished { .. }
            | DaemonError::WrongUnlockKey => 400,
            DaemonError::Cluster(ClusterError::NodeNotFound { .. }) => 404,
            DaemonError::Cluster(_) => 400,
            DaemonError::Manager(err) => err.status(),
            DaemonError::Denied { .. } | DaemonError::Removed { .. } => 403,
            DaemonError::AlreadyInSwarm | DaemonError::NotLocked => 409,
            DaemonError::NotInSwarm
            | DaemonError::NotManager
            | DaemonError::Locked
            | DaemonError::NoQuorum { .. }
            | DaemonError::NoLeader { .. } => 503,
            DaemonError::AutolockOff => 400,
            DaemonError::LeaderUnanswered { .. } => 504,
            DaemonError::Ctl(CtlError::CaMismatch { .. } | CtlError::NotManager { .. }) => 400,
            DaemonError::Ctl(_) => 502,
            DaemonError::Remote { status, .. } => *status,
            DaemonError::Store(err) if err.is_retryable() => 503,
            DaemonError::Runtime(RuntimeError::NotFound { .. }) => 404,
            DaemonError::Runtime(RuntimeError::Volume(err)) => match err {
                VolumeError::NotFound { .. } => 404,
                VolumeError::InUse { .. } => 409,
                VolumeError::InvalidName { .. } => 400,
                _ => 500,
            },
            DaemonError::Runtime(RuntimeError::Image(err)) | DaemonError::Image(err) => {
                image_status(err)
            }
            DaemonError::ArchiveTooLarge { .. } => 413,
            DaemonError::RegistryLogin { source, .. } => match source {
                RegistryError::CredentialsRefused { .. } | RegistryError::LoginRequired { .. } => {
                    401
                }
                err if err.is_retryable() => 502,
                _ => 400,
            },
            _ => 500,
        }
    }

    /// The message with its causes, as the operator sees it.
    pub fn full_message(&self) -> String {
        crate::error_chain::full_message(self)
    }

    /// Wraps an I/O error on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DaemonError::Io {
            action,
            path,
            source,
        }
    }

    /// Wraps a serde_json error decoding `what`.
    pub(crate) fn codec(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| DaemonError::Codec { what, source }
    }
}

/// The HTTP status of an image error: the caller's archive or reference is
/// at fault unless the store itself failed (500) or the registry could not
/// be reached (502).
fn image_status(err: &ImageError) -> u16 {
    match err {
        ImageError::NotFound { .. }
        | ImageError::Registry {
            source: RegistryError::ManifestUnknown { .. },
            ..
        } => 404,
        ImageError::Registry { source, .. } if source.is_retryable() => 502,
        ImageError::InUse { .. } => 409,
        ImageError::Io { .. } => 500,
        _ => 400,
    }
}
