//! One measurement between two task namespaces: iperf3 TCP throughput and wrk
//! request/response against busybox httpd. Every server is a child we own,
//! every client is bounded by `timeout(1)`.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use shoal_netns_tests::lab::cmd::netns_command;
use shoal_netns_tests::overlay_kit::wait_listening;

use xtask::sh;

/// iperf3's default port.
const IPERF_PORT: u16 = 5201;
/// Port busybox httpd serves on.
const HTTP_PORT: u16 = 8080;
/// Grace on top of a run's own duration before `timeout` ends it.
const GRACE_SECS: u64 = 20;
/// How long a server may take to listen.
const LISTEN_WAIT: Duration = Duration::from_secs(10);

/// Sender and receiver of one path under test.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Namespace running the clients (iperf3 -c, wrk).
    pub sender: String,
    /// Namespace running the servers.
    pub receiver: String,
    /// Receiver's address as the sender reaches it.
    pub receiver_ip: Ipv4Addr,
}

/// A server process inside a namespace, killed when dropped.
pub(super) struct Server(Child);

impl Server {
    /// Starts `args` in `netns` and waits until it listens on TCP `port`.
    pub(super) fn start(netns: &str, args: &[&str], port: u16) -> Result<Self> {
        let mut command = netns_command(netns, args)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command
            .spawn()
            .with_context(|| format!("starting `{}`", sh::describe(&command)))?;
        let server = Self(child);
        wait_listening(netns, port, LISTEN_WAIT)?;
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM rather than SIGKILL: `timeout(1)` passes it on to the server
        // it wraps instead of leaving it orphaned on the port.
        if let Ok(pid) = libc::pid_t::try_from(self.0.id()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        // A one-off server may have exited already; wait reaps either way.
        let _ = self.0.wait();
    }
}

/// A client command in `netns`, ended by `timeout` after `secs` + grace.
pub(super) fn bounded(netns: &str, secs: u64, args: &[&str]) -> Result<Command> {
    let limit = (secs + GRACE_SECS).to_string();
    let mut full = vec!["timeout", limit.as_str()];
    full.extend_from_slice(args);
    Ok(netns_command(netns, &full)?)
}

/// TCP throughput in Gbit/s with `streams` parallel streams over `secs` seconds,
/// as the receiver counted it.
pub fn tcp_throughput(pair: &Pair, streams: u32, secs: u64) -> Result<f64> {
    let limit = (secs + 2 * GRACE_SECS).to_string();
    let _server = Server::start(
        &pair.receiver,
        &["timeout", &limit, "iperf3", "-s", "-1"],
        IPERF_PORT,
    )?;
    let (ip, streams, t) = (
        pair.receiver_ip.to_string(),
        streams.to_string(),
        secs.to_string(),
    );
    let mut client = bounded(
        &pair.sender,
        secs,
        &["iperf3", "-c", &ip, "-P", &streams, "-t", &t, "-J"],
    )?;
    let json = sh::output(&mut client)?;
    Ok(parse_iperf_bps(&json)? / 1e9)
}

/// Requests per second and 99th-percentile latency (ms) of `wrk -t1 -c16`
/// fetching 1 KiB with a new connection per request (`Connection:
/// close`) for `secs` seconds, from xtask's own server (`bench
/// http-keepalive`): busybox httpd's listen backlog of 9 overflows under
/// concurrent new connections, and the retransmitted handshakes would be
/// the p99.
pub fn request_response(pair: &Pair, secs: u64) -> Result<(f64, f64)> {
    let port = HTTP_PORT.to_string();
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let exe = exe.to_string_lossy();
    let _server = Server::start(
        &pair.receiver,
        &[&*exe, "bench", "http-keepalive", "--port", &port],
        HTTP_PORT,
    )?;
    let url = format!("http://{}:{HTTP_PORT}/f", pair.receiver_ip);
    let duration = format!("{secs}s");
    let args = [
        "wrk",
        "-t1",
        "-c16",
        "-d",
        &duration,
        "--latency",
        "-H",
        "Connection: close",
        &url,
    ];
    let mut client = bounded(&pair.sender, secs, &args)?;
    parse_wrk(&sh::output(&mut client)?)
}

/// The median of `values` (the mean of the middle two for an even count; 0 if empty).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// `end.sum_received.bits_per_second` from `iperf3 -J` output.
fn parse_iperf_bps(json: &str) -> Result<f64> {
    let value: serde_json::Value = serde_json::from_str(json).context("iperf3 printed no JSON")?;
    if let Some(err) = value.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3: {err}");
    }
    value
        .pointer("/end/sum_received/bits_per_second")
        .and_then(serde_json::Value::as_f64)
        .context("iperf3 JSON has no end.sum_received.bits_per_second")
}

/// What one `wrk --latency` run reports.
#[derive(Debug, Clone, Copy)]
pub(super) struct WrkStats {
    /// Requests per second.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th-percentile latency, ms.
    pub p99_ms: f64,
}

/// Requests/sec and the 99% latency in ms from `wrk --latency` output; a run
/// with failed requests is an error, not a number.
fn parse_wrk(out: &str) -> Result<(f64, f64)> {
    parse_wrk_stats(out).map(|s| (s.rps, s.p99_ms))
}

/// Requests/sec and the 50% and 99% latencies from `wrk --latency` output;
/// a run with failed requests is an error, not a number.
pub(super) fn parse_wrk_stats(out: &str) -> Result<WrkStats> {
    if let Some(line) = out
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        bail!("wrk: {}", line.trim());
    }
    let field = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .with_context(|| format!("no `{prefix}` in wrk output:\n{out}"))
    };
    Ok(WrkStats {
        rps: field("Requests/sec:")?
            .parse()
            .context("wrk Requests/sec is not a number")?,
        p50_ms: duration_ms(field("50%")?)?,
        p99_ms: duration_ms(field("99%")?)?,
    })
}

/// A wrk duration (`850.00us`, `1.23ms`, `1.02s`, `2.00m`) in milliseconds.
fn duration_ms(text: &str) -> Result<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in wrk duration `{text}`"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("bad wrk duration `{text}`"))?;
    let scale = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        _ => bail!("unknown unit in wrk duration `{text}`"),
    };
    Ok(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 5s test @ http://10.30.0.2:8080/f
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  304.12us   5.55ms   80.00%
    Req/Sec    15.00k     1.00k   16.00k    70.00%
  Latency Distribution
     50%    0.98ms
     75%    1.10ms
     90%    1.30ms
     99%  850.00us
  75000 requests in 5.00s, 80.00MB read
Requests/sec:  14998.50
Transfer/sec:     16.00MB
";

    #[test]
    fn parses_wrk() {
        let (rps, p99) = parse_wrk(WRK).unwrap();
        assert!((rps - 14998.5).abs() < 1e-9);
        assert!((p99 - 0.85).abs() < 1e-9);
        let stats = parse_wrk_stats(WRK).unwrap();
        assert!((stats.p50_ms - 0.98).abs() < 1e-9);
        let failed = WRK.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 3\nRequests/sec",
        );
        assert!(parse_wrk(&failed).is_err());
    }

    #[test]
    fn medians() {
        assert!((median(vec![3.0, 1.0, 2.0]) - 2.0).abs() < 1e-9);
        assert!((median(vec![4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-9);
        assert!(median(Vec::new()).abs() < 1e-9);
    }

    #[test]
    fn parses_wrk_durations() {
        assert!((duration_ms("1.50s").unwrap() - 1500.0).abs() < 1e-9);
        assert!((duration_ms("2.00m").unwrap() - 120_000.0).abs() < 1e-9);
        assert!(duration_ms("12").is_err());
        assert!(duration_ms("1.0h").is_err());
    }

    #[test]
    fn parses_iperf_json() {
        let json = r#"{"end": {"sum_received": {"bits_per_second": 2.5e10}}}"#;
        assert!((parse_iperf_bps(json).unwrap() - 2.5e10).abs() < 1.0);
        assert!(parse_iperf_bps(r#"{"error": "unable to connect"}"#).is_err());
        assert!(parse_iperf_bps("nope").is_err());
    }
}
