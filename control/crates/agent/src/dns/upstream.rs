//! Forwarding a query that is not the cluster's to the node's upstream
//! resolvers, from the node's own network namespace (the sockets are made
//! by the daemon's threads, which never leave it).
//!
//! The query goes out as the task sent it (its ID, EDNS and all) on a
//! fresh socket per query, so answers cannot be mixed up between tasks;
//! the answer comes back unchanged. A UDP query is forwarded over UDP, so
//! a truncated upstream answer reaches the task truncated and the task
//! retries over TCP, which is forwarded over TCP.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// How long one upstream server gets to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest DNS message over UDP (EDNS allows up to 65535 bytes).
const MAX_UDP: usize = 65_535;

/// The upstream answer to `query`, trying each server in turn; `None`
/// when none answered.
pub(crate) async fn forward(query: &[u8], upstreams: &[SocketAddr], tcp: bool) -> Option<Vec<u8>> {
    for server in upstreams {
        let exchange = async {
            if tcp {
                over_tcp(query, *server).await
            } else {
                over_udp(query, *server).await
            }
        };
        match timeout(UPSTREAM_TIMEOUT, exchange).await {
            Ok(Ok(answer)) => return Some(answer),
            Ok(Err(err)) => log::debug!("dns upstream {server}: {err}"),
            Err(_) => log::debug!("dns upstream {server}: no answer in time"),
        }
    }
    None
}

async fn over_udp(query: &[u8], server: SocketAddr) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, 0, 0, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(query).await?;
    let mut buf = vec![0; MAX_UDP];
    loop {
        let len = socket.recv(&mut buf).await?;
        // The same ID as the query, else a stray datagram: keep waiting.
        if len >= 2 && query.len() >= 2 && buf[..2] == query[..2] {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}

async fn over_tcp(query: &[u8], server: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    write_framed(&mut stream, query).await?;
    read_framed(&mut stream)
        .await?
        .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
}

/// Writes one DNS-over-TCP message (two-byte length first).
pub(crate) async fn write_framed(
    stream: &mut (impl AsyncWriteExt + Unpin),
    message: &[u8],
) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}

/// Reads one DNS-over-TCP message; `None` at a clean end of stream.
pub(crate) async fn read_framed(
    stream: &mut (impl AsyncReadExt + Unpin),
) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let mut message = vec![0; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).await?;
    Ok(Some(message))
}
