//! The raft RPC server: accepts mutual-TLS connections from managers and
//! hands their RPCs to the local raft node.
//!
//! Every connection is authorised once, right after the handshake, with
//! [`Authorizer`] requiring [`Role::Manager`]; a refused peer gets one
//! `Denied` reply and is disconnected, and no RPC of it reaches raft.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::StoreError;
use super::typ;
use super::wire::{self, Reply, Request};
use shoal_security::ca::Role;
use shoal_security::tls::Authorizer;

/// Longest a TLS handshake, or a refused peer's first request, may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counters of what the server saw, for tests and diagnostics.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Snapshot chunks received.
    pub snapshot_chunks: AtomicU64,
    /// Connections refused by authorisation.
    pub denied: AtomicU64,
}

/// A running raft RPC server; stops (closing its port and every
/// connection) when stopped or dropped.
pub struct RaftServer {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
    context: Arc<Context>,
    task: JoinHandle<()>,
}

impl RaftServer {
    /// Binds `listen` (port 0 picks a free port).
    pub async fn bind(listen: SocketAddr) -> Result<TcpListener, StoreError> {
        TcpListener::bind(listen)
            .await
            .map_err(|source| StoreError::Io {
                action: "bind raft listener",
                source,
            })
    }

    /// Serves raft RPCs arriving on `listener` to `raft`.
    pub fn spawn(
        listener: TcpListener,
        raft: typ::Raft,
        tls: Arc<rustls::ServerConfig>,
        authorizer: Authorizer,
    ) -> Result<Self, StoreError> {
        let addr = listener.local_addr().map_err(|source| StoreError::Io {
            action: "read raft listener address",
            source,
        })?;
        let stats = Arc::new(ServerStats::default());
        let context = Arc::new(Context {
            raft,
            acceptor: TlsAcceptor::from(tls),
            authorizer,
            stats: stats.clone(),
        });
        let task = tokio::spawn(accept_loop(listener, context.clone()));
        Ok(Self {
            addr,
            stats,
            context,
            task,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Snapshot chunks received so far.
    pub fn snapshot_chunks_received(&self) -> u64 {
        self.stats.snapshot_chunks.load(Ordering::Relaxed)
    }

    /// Serves a connection whose TLS handshake another listener has done
    /// (a port shared with other protocols, told apart by ALPN): the peer is
    /// authorised as a manager exactly as on the raft port, then its RPCs go
    /// to raft. The returned future runs until the peer disconnects; the
    /// caller owns it (and so decides when to abort it).
    pub fn serve_accepted(
        &self,
        stream: TlsStream<TcpStream>,
        peer: SocketAddr,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        serve_established(stream, peer.to_string(), self.context.clone())
    }

    /// Stops accepting and drops every connection.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for RaftServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftServer")
            .field("addr", &self.addr)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Drop for RaftServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Context {
    raft: typ::Raft,
    acceptor: TlsAcceptor,
    authorizer: Authorizer,
    stats: Arc<ServerStats>,
}

/// Accepts connections; the connection tasks live in a `JoinSet` owned by
/// this task, so aborting it aborts them all.
async fn accept_loop(listener: TcpListener, context: Arc<Context>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(serve_connection(tcp, peer, context.clone()));
                }
                Err(err) => {
                    log::warn!("raft server: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(tcp: TcpStream, peer: SocketAddr, context: Arc<Context>) {
    let peer = peer.to_string();
    let _ = tcp.set_nodelay(true);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, context.acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            log::debug!("raft server: TLS handshake with {peer} failed: {err}");
            return;
        }
        Err(_) => {
            log::debug!("raft server: TLS handshake with {peer} timed out");
            return;
        }
    };
    serve_established(stream, peer, context).await;
}

/// Authorises the peer of an established TLS stream and serves its RPCs.
async fn serve_established(stream: TlsStream<TcpStream>, peer: String, context: Arc<Context>) {
    match context.authorizer.authorize_stream(&stream, Role::Manager) {
        Ok(identity) => {
            log::debug!(
                "raft server: manager {} connected from {peer}",
                identity.node_id
            );
            if let Err(err) = serve_rpcs(stream, &peer, &context).await {
                log::debug!("raft server: connection from {peer} ended: {err}");
            }
        }
        Err(err) => {
            context.stats.denied.fetch_add(1, Ordering::Relaxed);
            log::warn!("raft server: refused {peer}: {err}");
            deny(stream, &peer, err.to_string()).await;
        }
    }
}

/// Answers the refused peer's first request with `Denied`, then closes.
async fn deny(mut stream: TlsStream<TcpStream>, peer: &str, reason: String) {
    let answer = async {
        wire::read_request(&mut stream, peer).await?;
        wire::write_reply(&mut stream, &Reply::Denied { reason })
            .await
            .map_err(|source| StoreError::Transport {
                addr: peer.to_owned(),
                source,
            })
    };
    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, answer).await;
}

async fn serve_rpcs(
    mut stream: TlsStream<TcpStream>,
    peer: &str,
    context: &Context,
) -> Result<(), StoreError> {
    loop {
        let request = match wire::read_request(&mut stream, peer).await {
            Ok(request) => request,
            Err(StoreError::Transport { source, .. })
                if source.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        let reply = match request {
            Request::AppendEntries(rpc) => {
                Reply::AppendEntries(context.raft.append_entries(rpc).await)
            }
            Request::Vote(rpc) => Reply::Vote(context.raft.vote(rpc).await),
            Request::InstallSnapshot(rpc) => {
                context
                    .stats
                    .snapshot_chunks
                    .fetch_add(1, Ordering::Relaxed);
                Reply::InstallSnapshot(context.raft.install_snapshot(rpc).await)
            }
        };
        wire::write_reply(&mut stream, &reply)
            .await
            .map_err(|source| StoreError::Transport {
                addr: peer.to_owned(),
                source,
            })?;
    }
}
