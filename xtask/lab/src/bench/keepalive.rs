//! A minimal HTTP/1.1 server that keeps connections open, for the
//! keep-alive measurements: busybox httpd answers every request with
//! `Connection: close`, so against it wrk reconnects for each request and a
//! "keep-alive" run would measure new connections again. This one answers
//! every `GET` with the same 1 KiB body and keeps the connection unless the
//! request says `Connection: close`. Run inside a namespace as the hidden
//! `cargo xtask bench http-keepalive --port N`.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;

/// Bytes in every response body (the same size as the busybox file).
pub const BODY_LEN: usize = 1024;

/// Arguments of the hidden `cargo xtask bench http-keepalive`.
#[derive(Args)]
pub struct KeepaliveArgs {
    /// TCP port to listen on (all addresses).
    #[arg(long)]
    port: u16,
}

/// Serves until killed: one thread per connection.
pub fn run(args: KeepaliveArgs) -> Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", args.port))
        .with_context(|| format!("binding TCP port {}", args.port))?;
    let response: Arc<[u8]> = response().into();
    for stream in listener.incoming() {
        // A failed accept (e.g. the client reset first) ends only that connection.
        let Ok(stream) = stream else { continue };
        let response = Arc::clone(&response);
        std::thread::spawn(move || {
            let _ = serve(stream, &response);
        });
    }
    Ok(())
}

/// The one response: headers, then [`BODY_LEN`] bytes of `x`.
fn response() -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {BODY_LEN}\r\n\r\n"
    )
    .into_bytes();
    out.extend(std::iter::repeat_n(b'x', BODY_LEN));
    out
}

/// Answers each request on `stream` until the client closes or asks to.
fn serve(mut stream: TcpStream, response: &[u8]) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = request_end(&pending) {
            let close = wants_close(&pending[..end]);
            stream.write_all(response)?;
            if close {
                return Ok(());
            }
            pending.drain(..end);
        }
    }
}

/// Length of the first complete request head in `bytes` (bodies are not expected).
fn request_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Whether a request head carries `Connection: close`.
fn wants_close(head: &[u8]) -> bool {
    String::from_utf8_lossy(head).lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("connection")
                && value.trim().eq_ignore_ascii_case("close")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_request_heads_and_close() {
        let two = b"GET /f HTTP/1.1\r\nHost: a\r\n\r\nGET /f HTTP/1.1\r\nConnection: Close\r\n\r\n";
        let first = request_end(two).unwrap();
        assert!(!wants_close(&two[..first]));
        let second = request_end(&two[first..]).unwrap();
        assert!(wants_close(&two[first..first + second]));
        assert_eq!(request_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn response_has_the_body_length() {
        let r = response();
        let head_len = request_end(&r).unwrap();
        assert_eq!(r.len() - head_len, BODY_LEN);
    }
}
