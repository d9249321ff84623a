//! The raft RPC client: one mutual-TLS connection per peer and replication
//! stream, reused across calls and re-established after any failure.

use std::error::Error;
use std::time::Duration;

use openraft::error::{NetworkError, RPCError, RemoteError, Unreachable};
use openraft::network::RPCOption;
use openraft::{RaftNetwork, RaftNetworkFactory};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::StoreError;
use super::typ::{self, NodeId, TypeConfig};
use super::wire::{self, Reply, Request};
use shoal_security::tls::MANAGER_SERVER_NAME;

/// Longest a TCP connect plus TLS handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates [`PeerClient`]s for openraft.
#[derive(Clone)]
pub struct NetworkFactory {
    connector: TlsConnector,
}

impl NetworkFactory {
    /// A factory connecting with `client` (see [`shoal_security::tls::client_config`]).
    pub fn new(client: std::sync::Arc<rustls::ClientConfig>) -> Self {
        Self {
            connector: TlsConnector::from(client),
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &typ::Node) -> PeerClient {
        PeerClient {
            target,
            addr: node.addr.clone(),
            connector: self.connector.clone(),
            stream: None,
        }
    }
}

/// A connection to one peer's raft server.
pub struct PeerClient {
    target: NodeId,
    addr: String,
    connector: TlsConnector,
    stream: Option<TlsStream<TcpStream>>,
}

impl PeerClient {
    async fn connect(&self) -> Result<TlsStream<TcpStream>, StoreError> {
        let connect_error = |source| StoreError::Connect {
            addr: self.addr.clone(),
            source,
        };
        let server_name = ServerName::try_from(MANAGER_SERVER_NAME)
            .map_err(|e| connect_error(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        let handshake = async {
            let tcp = TcpStream::connect(&self.addr)
                .await
                .map_err(connect_error)?;
            tcp.set_nodelay(true).map_err(connect_error)?;
            self.connector
                .connect(server_name, tcp)
                .await
                .map_err(connect_error)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| StoreError::RpcTimeout {
                addr: self.addr.clone(),
                timeout: CONNECT_TIMEOUT,
            })?
    }

    /// Sends `request` and waits for the reply, within `ttl`.
    ///
    /// A failure on a reused connection (the peer may have restarted since)
    /// is retried once on a fresh one: raft RPCs may be repeated safely.
    async fn call(&mut self, request: Request, ttl: Duration) -> Result<Reply, StoreError> {
        let call = async {
            let reused = self.stream.is_some();
            match self.exchange(&request).await {
                Err(StoreError::Transport { .. }) if reused => self.exchange(&request).await,
                other => other,
            }
        };
        let result = match tokio::time::timeout(ttl, call).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::RpcTimeout {
                addr: self.addr.clone(),
                timeout: ttl,
            }),
        };
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, request: &Request) -> Result<Reply, StoreError> {
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => self.connect().await?,
        };
        wire::write_request(&mut stream, request)
            .await
            .map_err(|source| StoreError::Transport {
                addr: self.addr.clone(),
                source,
            })?;
        match wire::read_reply(&mut stream, &self.addr).await? {
            Reply::Denied { reason } => Err(StoreError::Denied {
                addr: self.addr.clone(),
                reason,
            }),
            reply => {
                self.stream = Some(stream);
                Ok(reply)
            }
        }
    }

    fn unexpected(&self, sent: &'static str) -> StoreError {
        StoreError::UnexpectedResponse {
            addr: self.addr.clone(),
            sent,
        }
    }
}

/// Maps a transport failure to openraft's RPC error: connection failures
/// and timeouts make the peer "unreachable" (openraft backs off), the rest
/// are network errors (retried at once).
fn rpc_error<E: Error>(err: StoreError) -> typ::RpcError<E> {
    match err {
        StoreError::Connect { .. } | StoreError::RpcTimeout { .. } => {
            RPCError::Unreachable(Unreachable::new(&err))
        }
        _ => RPCError::Network(NetworkError::new(&err)),
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: typ::AppendEntriesRequest,
        option: RPCOption,
    ) -> Result<typ::AppendEntriesResponse, typ::RpcError> {
        match self
            .call(Request::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(Reply::AppendEntries(Ok(response))) => Ok(response),
            Ok(Reply::AppendEntries(Err(remote))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, remote)))
            }
            Ok(_) => Err(rpc_error(self.unexpected("AppendEntries"))),
            Err(err) => Err(rpc_error(err)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: typ::InstallSnapshotRequest,
        option: RPCOption,
    ) -> Result<typ::InstallSnapshotResponse, typ::RpcError<typ::InstallSnapshotError>> {
        match self
            .call(Request::InstallSnapshot(rpc), option.hard_ttl())
            .await
        {
            Ok(Reply::InstallSnapshot(Ok(response))) => Ok(response),
            Ok(Reply::InstallSnapshot(Err(remote))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, remote)))
            }
            Ok(_) => Err(rpc_error(self.unexpected("InstallSnapshot"))),
            Err(err) => Err(rpc_error(err)),
        }
    }

    async fn vote(
        &mut self,
        rpc: typ::VoteRequest,
        option: RPCOption,
    ) -> Result<typ::VoteResponse, typ::RpcError> {
        match self.call(Request::Vote(rpc), option.hard_ttl()).await {
            Ok(Reply::Vote(Ok(response))) => Ok(response),
            Ok(Reply::Vote(Err(remote))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, remote)))
            }
            Ok(_) => Err(rpc_error(self.unexpected("Vote"))),
            Err(err) => Err(rpc_error(err)),
        }
    }
}
