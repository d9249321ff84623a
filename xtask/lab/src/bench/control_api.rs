//! A minimal HTTP/1.1 client over a daemon's API socket, one keep-alive
//! connection: the benchmark times the control plane, not a CLI process
//! start.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

/// How long one API call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// One keep-alive connection to a daemon's API socket.
pub struct Api {
    reader: BufReader<UnixStream>,
}

impl Api {
    /// Connects to `socket`.
    pub fn connect(socket: &Path) -> Result<Self> {
        Self::connect_within(socket, CALL_TIMEOUT)
    }

    /// Connects to `socket`; a call may take up to `timeout`.
    pub fn connect_within(socket: &Path, timeout: Duration) -> Result<Self> {
        let stream = UnixStream::connect(socket)
            .with_context(|| format!("connecting to {}", socket.display()))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Self {
            reader: BufReader::new(stream),
        })
    }

    /// `node update --label-add <label>` of `node`; an error carries the
    /// API's message.
    pub fn add_label(&mut self, node: &str, label: &str) -> Result<()> {
        let body = serde_json::json!({ "labels": [{ "Add": label }] }).to_string();
        self.call_ok("POST", &format!("/nodes/{node}/update"), Some(&body))
            .map(drop)
    }

    /// `method path` with a JSON `body`; the answer's body if the status
    /// is 2xx, else an error carrying the API's message.
    pub fn call_ok(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<Vec<u8>> {
        let (status, answer) = self.call(method, path, body)?;
        if !status.starts_with('2') {
            bail!("{status}: {}", String::from_utf8_lossy(&answer).trim());
        }
        Ok(answer)
    }

    /// `method path` with a JSON `body`: the status code and the body.
    fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<(String, Vec<u8>)> {
        let body = body.unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: shoal\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader.get_mut().write_all(request.as_bytes())?;
        let mut status = String::new();
        self.reader.read_line(&mut status)?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("the daemon closed the connection");
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().context("Content-Length")?;
            }
        }
        let mut answer = vec![0; length];
        self.reader.read_exact(&mut answer)?;
        let code = status.split_whitespace().nth(1).unwrap_or_default();
        Ok((code.to_owned(), answer))
    }
}
