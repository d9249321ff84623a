//! One task's listeners: UDP and TCP on 127.0.0.11:53 inside the task's
//! network namespace, served by the daemon's runtime. The socket a query
//! arrives on names the calling task, which is how the resolver knows
//! which networks' names it may see.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;

use super::answer::{Reply, answer, server_failure};
use super::records::Records;
use super::upstream::{forward, read_framed, write_framed};

/// A TCP client idle this long is disconnected.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Largest query accepted over UDP.
const MAX_QUERY: usize = 4096;

/// What every query of one task is answered from.
pub(crate) struct Context {
    /// The calling task.
    pub(crate) task_id: String,
    /// The latest records.
    pub(crate) records: watch::Receiver<Arc<Records>>,
    /// The node's upstream resolvers.
    pub(crate) upstreams: Arc<[SocketAddr]>,
}

impl Context {
    /// The answer to `query`: local, forwarded, or SERVFAIL when no
    /// upstream answered; `None` to say nothing.
    async fn reply(&self, query: &[u8], udp: bool) -> Option<Vec<u8>> {
        let local = {
            let records = self.records.borrow().clone();
            answer(&records, &self.task_id, query, udp)
        };
        match local {
            Reply::Local(bytes) => Some(bytes),
            Reply::Drop => None,
            Reply::Forward => match forward(query, &self.upstreams, !udp).await {
                Some(bytes) => Some(bytes),
                None => server_failure(query),
            },
        }
    }
}

/// Serves one task's sockets until the returned set is dropped.
pub(crate) fn serve(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    context: Context,
) -> std::io::Result<JoinSet<()>> {
    let udp = Arc::new(UdpSocket::from_std(udp)?);
    let tcp = TcpListener::from_std(tcp)?;
    let context = Arc::new(context);
    let mut tasks = JoinSet::new();
    tasks.spawn(serve_udp(udp, context.clone()));
    tasks.spawn(serve_tcp(tcp, context));
    Ok(tasks)
}

/// Each datagram is answered by its own task (a forwarded one may wait
/// for upstream); the tasks end with the listener's.
async fn serve_udp(socket: Arc<UdpSocket>, context: Arc<Context>) {
    let mut inflight = JoinSet::new();
    let mut buf = vec![0; MAX_QUERY];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                log::debug!("dns {}: udp receive: {err}", context.task_id);
                continue;
            }
        };
        let query = buf[..len].to_vec();
        let (socket, context) = (socket.clone(), context.clone());
        inflight.spawn(async move {
            if let Some(reply) = context.reply(&query, true).await
                && let Err(err) = socket.send_to(&reply, from).await
            {
                log::debug!("dns {}: udp send: {err}", context.task_id);
            }
        });
        // Reap finished answers so the set does not grow.
        while inflight.try_join_next().is_some() {}
    }
}

async fn serve_tcp(listener: TcpListener, context: Arc<Context>) {
    let mut clients = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                clients.spawn(serve_tcp_client(stream, context.clone()));
            }
            Err(err) => log::debug!("dns {}: tcp accept: {err}", context.task_id),
        }
        while clients.try_join_next().is_some() {}
    }
}

/// Answers framed queries on one connection, in order, until the client
/// closes it or stays idle.
async fn serve_tcp_client(mut stream: TcpStream, context: Arc<Context>) {
    loop {
        let query = match timeout(TCP_IDLE, read_framed(&mut stream)).await {
            Ok(Ok(Some(query))) => query,
            _ => return,
        };
        let Some(reply) = context.reply(&query, false).await else {
            return;
        };
        if write_framed(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}
