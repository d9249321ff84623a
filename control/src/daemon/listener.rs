//! Every node's control listener: TLS on the listen address, raft RPCs and
//! control RPCs told apart by ALPN. Managers serve both; workers serve only
//! control requests a manager sends a node ([`CtlRequest::TaskLogs`]).
//! Callers are authorised per request from their certificate: by role,
//! refused when removed from the swarm.
//!
//! Limits, so that connections nobody finishes cannot crowd out the ones
//! that matter: at most [`MAX_PENDING_HANDSHAKES`] connections (and
//! [`MAX_PENDING_HANDSHAKES_PER_IP`] from one address) may be in their TLS
//! handshake at once, beyond that new ones are closed at once; a handshake
//! gets [`HANDSHAKE_TIMEOUT`]. On a control connection the next request
//! must start within [`CTL_IDLE_TIMEOUT`] and arrive whole within
//! [`FRAME_READ_TIMEOUT`] (frames over `MAX_FRAME_LEN` are refused). Raft
//! connections get no idle limit: openraft keeps one open per peer and
//! reuses it for as long as it works.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::DaemonError;
use super::core::{Active, Manager};
use super::task_logs::task_logs;
use super::{calls, grant, heartbeat, leader};
use crate::ca::{NodeIdentity, Role};
use crate::cluster::NodeRole;
use crate::ctl::{
    ALPN_CTL, ALPN_RAFT, ASSIGNMENT_WAIT, CtlReply, CtlRequest, LeaderCall, RemoteFailure,
    read_frame_within, write_frame,
};
use crate::tls::{Authorizer, ClientAuth, TlsError, live_server_config};

/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections in their TLS handshake at once; more are closed at
/// once (a swarm's nodes reconnect a few at a time).
pub const MAX_PENDING_HANDSHAKES: usize = 256;
/// Most connections from one IP address in their handshake at once, so
/// that one host cannot take every handshake slot.
pub const MAX_PENDING_HANDSHAKES_PER_IP: usize = 32;
/// Longest a control connection may sit between two requests (nodes
/// heartbeat every second; a pooled connection closed here is reopened by
/// the caller).
pub const CTL_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Longest a request frame may take to arrive once started.
pub const FRAME_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Counts connections in their handshake, overall and per address.
#[derive(Default)]
struct Handshakes {
    by_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place among [`Handshakes`], given back on drop.
struct HandshakeSlot {
    handshakes: Arc<Handshakes>,
    ip: IpAddr,
}

impl Handshakes {
    /// A slot for a connection from `ip`, if the limits allow one.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<HandshakeSlot> {
        let mut by_ip = self.by_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let total: usize = by_ip.values().sum();
        let from_ip = by_ip.get(&ip).copied().unwrap_or(0);
        if total >= MAX_PENDING_HANDSHAKES || from_ip >= MAX_PENDING_HANDSHAKES_PER_IP {
            return None;
        }
        by_ip.insert(ip, from_ip + 1);
        Some(HandshakeSlot {
            handshakes: self.clone(),
            ip,
        })
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut by_ip = self
            .handshakes
            .by_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = by_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

/// Binds the listen address and serves it until the node stops. Raft is
/// offered only by managers.
pub(crate) async fn spawn(active: &Arc<Active>) -> Result<(), DaemonError> {
    let listen = active.node_state().listen_addr;
    let tcp = TcpListener::bind(&listen)
        .await
        .map_err(DaemonError::io("bind control listener on", &listen))?;
    let protocols: &[&[u8]] = match active.manager {
        Some(_) => &[ALPN_RAFT, ALPN_CTL],
        None => &[ALPN_CTL],
    };
    let config = live_server_config(
        &active.ca,
        active.live.clone(),
        ClientAuth::Optional,
        protocols,
    )?;
    let acceptor = TlsAcceptor::from(config);
    let handle = tokio::spawn(accept_loop(tcp, acceptor, active.clone()));
    active.track(handle.abort_handle());
    Ok(())
}

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, active: Arc<Active>) {
    let mut connections = JoinSet::new();
    let handshakes = Arc::new(Handshakes::default());
    loop {
        tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(slot) = handshakes.admit(peer.ip()) else {
                        log::debug!("control listener: too many handshakes, closing {peer}");
                        continue;
                    };
                    let acceptor = acceptor.clone();
                    connections.spawn(serve(stream, peer, slot, acceptor, active.clone()));
                }
                Err(err) => {
                    log::warn!("control listener: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: HandshakeSlot,
    acceptor: TlsAcceptor,
    active: Arc<Active>,
) {
    let _ = tcp.set_nodelay(true);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            log::debug!("control listener: handshake with {peer} failed: {err}");
            return;
        }
        Err(_) => return,
    };
    drop(slot);
    let certs = peer_certs(&stream);
    match (stream.get_ref().1.alpn_protocol(), active.manager.clone()) {
        (Some(ALPN_RAFT), Some(manager)) => {
            match authorize_raft(&active, &manager, certs.as_deref()) {
                Ok(_) => manager.raft.server().serve_accepted(stream, peer).await,
                Err(err) => log::warn!("refused raft peer {peer}: {}", err.full_message()),
            }
        }
        (Some(ALPN_CTL), manager) => serve_ctl(stream, peer, certs, active, manager).await,
        _ => log::debug!("control listener: {peer} asked for no protocol served here"),
    }
}

fn peer_certs(stream: &TlsStream<TcpStream>) -> Option<Vec<CertificateDer<'static>>> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
}

/// Checks a raft peer: a manager certificate of this cluster, not removed.
/// (A manager that is joining has no replicated rows yet, so the node
/// record cannot be required here.)
fn authorize_raft(
    active: &Active,
    manager: &Manager,
    certs: Option<&[CertificateDer<'static>]>,
) -> Result<NodeIdentity, DaemonError> {
    let identity = Authorizer::new(active.ca.cluster_id())
        .authorize(certs, Role::Manager)
        .map_err(|source| DaemonError::Denied { source })?;
    if manager.is_removed(&identity.node_id) {
        return Err(DaemonError::Removed {
            node_id: identity.node_id,
        });
    }
    Ok(identity)
}

/// Checks the caller's certificate: the cluster, the role, not removed,
/// and for manager calls a manager role in the store too (a demoted node's
/// old manager certificate is not enough).
fn authorize(
    active: &Active,
    manager: &Manager,
    certs: Option<&[CertificateDer<'static>]>,
    required: Role,
) -> Result<NodeIdentity, DaemonError> {
    let identity = Authorizer::new(active.ca.cluster_id())
        .authorize(certs, required)
        .map_err(|source| DaemonError::Denied { source })?;
    let removed = || DaemonError::Removed {
        node_id: identity.node_id.clone(),
    };
    if manager.is_removed(&identity.node_id) {
        return Err(removed());
    }
    let record = manager.node(&identity.node_id).ok_or_else(removed)?;
    let manager_in_store =
        record.role == NodeRole::Manager || record.desired_role == NodeRole::Manager;
    if required == Role::Manager && !manager_in_store {
        return Err(DaemonError::Denied {
            source: TlsError::RoleNotAllowed {
                node_id: identity.node_id,
                role: Role::Worker,
                required,
            },
        });
    }
    Ok(identity)
}

async fn serve_ctl(
    mut stream: TlsStream<TcpStream>,
    peer: SocketAddr,
    certs: Option<Vec<CertificateDer<'static>>>,
    active: Arc<Active>,
    manager: Option<Arc<Manager>>,
) {
    let peer_text = peer.to_string();
    loop {
        let read = read_frame_within::<_, CtlRequest>(
            &mut stream,
            &peer_text,
            CTL_IDLE_TIMEOUT,
            FRAME_READ_TIMEOUT,
        );
        let request = match read.await {
            Ok(request) => request,
            Err(err) => {
                log::debug!("control connection from {peer} closed: {err}");
                return;
            }
        };
        let certs = certs.as_deref();
        let answer = match &manager {
            Some(manager) => handle(&active, manager, certs, peer, request).await,
            None => handle_on_worker(&active, certs, request).await,
        };
        let reply: CtlReply = answer.map_err(|err| {
            log::debug!("control call from {peer}: {}", err.full_message());
            RemoteFailure {
                status: err.status(),
                message: err.full_message(),
            }
        });
        if write_frame(&mut stream, &peer_text, &reply).await.is_err() {
            return;
        }
    }
}

async fn handle(
    active: &Arc<Active>,
    manager: &Manager,
    certs: Option<&[CertificateDer<'static>]>,
    peer: SocketAddr,
    request: CtlRequest,
) -> Result<serde_json::Value, DaemonError> {
    match request {
        CtlRequest::Join(rpc) => {
            // Refused here, not after a trip to the leader.
            grant::precheck(active, manager, &rpc)?;
            let observed_ip = peer.ip().to_string();
            leader::submit(active, LeaderCall::Join { rpc, observed_ip }).await
        }
        CtlRequest::Heartbeat(mut report) => {
            let identity = authorize(active, manager, certs, Role::Worker)?;
            heartbeat::check_report(&report)?;
            // The certificate says when it expires, not the caller.
            report.cert_not_after = identity.not_after.unix_timestamp();
            let node_id = identity.node_id;
            leader::submit(active, LeaderCall::Heartbeat { node_id, report }).await
        }
        CtlRequest::Renew { csr_der } => {
            let node_id = authorize(active, manager, certs, Role::Worker)?.node_id;
            calls::to_json(&grant::renew(manager, &node_id, &csr_der)?)
        }
        CtlRequest::Leader(call) => {
            authorize(active, manager, certs, Role::Manager)?;
            leader::submit(active, call).await
        }
        CtlRequest::Ping => {
            authorize(active, manager, certs, Role::Worker)?;
            Ok(serde_json::Value::Null)
        }
        CtlRequest::Assignments { known } => {
            let node_id = authorize(active, manager, certs, Role::Worker)?.node_id;
            let assignment = crate::dispatcher::next_assignment(
                &node_id,
                known,
                ASSIGNMENT_WAIT,
                &manager.views,
                manager.store(),
            )
            .await
            .map_err(|source| DaemonError::Dispatch { source })?;
            calls::to_json(&assignment)
        }
        CtlRequest::TaskStatus(reports) => {
            let node_id = authorize(active, manager, certs, Role::Worker)?.node_id;
            leader::submit(active, LeaderCall::TaskStatus { node_id, reports }).await
        }
        CtlRequest::TaskLogs {
            task_id,
            tail,
            after,
        } => {
            authorize(active, manager, certs, Role::Manager)?;
            task_logs(active, task_id, tail, after).await
        }
    }
}

/// A worker serves managers only the requests about its own tasks; the
/// rest belongs to managers (503, so callers try another node).
async fn handle_on_worker(
    active: &Arc<Active>,
    certs: Option<&[CertificateDer<'static>]>,
    request: CtlRequest,
) -> Result<serde_json::Value, DaemonError> {
    match request {
        CtlRequest::TaskLogs {
            task_id,
            tail,
            after,
        } => {
            // No store here to look the caller up in: its certificate
            // (signed by the cluster CA, manager role) is the authority.
            Authorizer::new(active.ca.cluster_id())
                .authorize(certs, Role::Manager)
                .map_err(|source| DaemonError::Denied { source })?;
            task_logs(active, task_id, tail, after).await
        }
        _ => Err(DaemonError::NotManager),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_slots_are_capped_per_address_and_overall() {
        let handshakes = Arc::new(Handshakes::default());
        let ip = |i: u32| IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        let mut held: Vec<HandshakeSlot> = (0..MAX_PENDING_HANDSHAKES_PER_IP)
            .map(|_| handshakes.admit(ip(1)).expect("a slot"))
            .collect();
        assert!(handshakes.admit(ip(1)).is_none(), "one address is capped");
        assert!(handshakes.admit(ip(2)).is_some(), "others are not");
        held.pop();
        assert!(
            handshakes.admit(ip(1)).is_some(),
            "a finished slot is reused"
        );
        let mut next = 2;
        while held.len() < MAX_PENDING_HANDSHAKES {
            if let Some(slot) = handshakes.admit(ip(next)) {
                held.push(slot);
            } else {
                next += 1;
            }
        }
        assert!(
            handshakes.admit(ip(next + 1)).is_none(),
            "the total is capped"
        );
        drop(held);
        assert!(handshakes.by_ip.lock().expect("lock").is_empty());
    }
}
