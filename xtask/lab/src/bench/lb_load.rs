//! HTTP load for the load-balancing benchmark: wrk from a client namespace
//! to an address that spreads over backend namespaces, in two modes —
//! keep-alive and a new connection per request, both against our
//! [`super::keepalive`] server. The paths of one comparison are measured
//! interleaved, run by run, so a change in the machine's load hits them
//! alike. Each run also records what shoal's eBPF programs spent on it
//! (`bpf_stats`), per path and mode.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use anyhow::{Context as _, Result};

use super::measure::{self, Server, WrkStats};
use super::prog_stats::{self, ProgTime};
use xtask::sh;

/// Port every backend serves on.
pub const BACKEND_PORT: u16 = 8080;
/// wrk connections (one thread).
const CONNECTIONS: &str = "32";

/// How requests reach the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// 32 connections kept open, requests back to back.
    KeepAlive,
    /// `Connection: close`: a TCP handshake (and a new LB flow) per request.
    NewConn,
}

/// One path: where wrk runs, what it fetches, which namespaces serve it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Row name in the report.
    pub name: &'static str,
    /// Namespace running wrk.
    pub client: String,
    /// `http://addr:port/f`.
    pub url: String,
    /// Namespaces that must serve [`BACKEND_PORT`] during the run.
    pub backends: Vec<String>,
}

/// A path's median over the runs, or why it could not be measured.
pub type Measured = Result<WrkStats, String>;

/// What shoal's programs ran over every run of one path in one mode:
/// runs and run time per program name.
pub type Profiles = BTreeMap<(&'static str, Mode), BTreeMap<String, ProgTime>>;

/// How wrk runs and what the servers serve.
#[derive(Debug)]
pub struct Load {
    /// Seconds per wrk run.
    pub secs: u64,
    /// Runs per path; the report shows their median.
    pub reps: usize,
    profiles: Mutex<Profiles>,
}

impl Load {
    /// `reps` runs of `secs` seconds per path.
    pub fn new(secs: u64, reps: usize) -> Self {
        Self {
            secs,
            reps,
            profiles: Mutex::default(),
        }
    }

    /// The programs' time per path and mode so far.
    pub fn profiles(&self) -> Profiles {
        self.profiles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// One run, its program time added to the path's profile (when
    /// bpftool answers both times).
    fn profiled(&self, target: &Target, mode: Mode) -> Result<WrkStats> {
        let before = prog_stats::snapshot().ok();
        let stats = self.once(target, mode)?;
        if let (Some(before), Ok(after)) = (before, prog_stats::snapshot()) {
            let mut profiles = self.profiles.lock().unwrap_or_else(PoisonError::into_inner);
            let profile = profiles.entry((target.name, mode)).or_default();
            for (name, a) in after {
                let b = before.get(&name).copied().unwrap_or_default();
                let sum = profile.entry(name).or_default();
                sum.runs += a.runs.saturating_sub(b.runs);
                sum.ns += a.ns.saturating_sub(b.ns);
            }
        }
        Ok(stats)
    }

    /// Measures every target in `mode`, interleaved run by run; a target
    /// whose run fails is reported as failed (not averaged over).
    pub fn measure_all(&self, targets: &[Target], mode: Mode) -> Vec<Measured> {
        let mut runs: Vec<Result<Vec<WrkStats>, String>> = vec![Ok(Vec::new()); targets.len()];
        for rep in 1..=self.reps {
            for (target, runs) in targets.iter().zip(runs.iter_mut()) {
                let Ok(done) = runs else { continue };
                match self.profiled(target, mode) {
                    Ok(stats) => {
                        println!(
                            "{} [{mode:?} {rep}/{}]: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                            target.name, self.reps, stats.rps, stats.p50_ms, stats.p99_ms
                        );
                        done.push(stats);
                    }
                    Err(e) => {
                        println!(
                            "{} [{mode:?} {rep}/{}]: failed: {e:#}",
                            target.name, self.reps
                        );
                        *runs = Err(format!("run {rep}/{}: {e:#}", self.reps));
                    }
                }
            }
        }
        runs.into_iter().map(|r| r.map(median_stats)).collect()
    }

    /// One wrk run against `target`, its servers started for it.
    fn once(&self, target: &Target, mode: Mode) -> Result<WrkStats> {
        let _servers = target
            .backends
            .iter()
            .map(|ns| self.server(ns, mode))
            .collect::<Result<Vec<_>>>()?;
        let duration = format!("{}s", self.secs);
        let mut args = vec![
            "wrk",
            "-t1",
            "-c",
            CONNECTIONS,
            "-d",
            &duration,
            "--latency",
        ];
        if mode == Mode::NewConn {
            args.extend(["-H", "Connection: close"]);
        }
        args.push(&target.url);
        let mut wrk = measure::bounded(&target.client, self.secs, &args)?;
        measure::parse_wrk_stats(&sh::output(&mut wrk)?)
    }

    /// The server, listening in `netns`: xtask's own for both modes (it
    /// closes when the request says `Connection: close`). Not busybox
    /// httpd: its listen backlog of 9 overflows under 32 concurrent new
    /// connections, and the SYNs and handshakes the kernel drops then come
    /// back as 200 ms-1 s retransmissions in the p99 of whichever path
    /// delivers its SYNs in the tightest bursts (seen as
    /// `TcpExtListenOverflows` in the backend's namespace and
    /// `TcpExtTCPSynRetrans` in the client's, on a plain veth pair too).
    fn server(&self, netns: &str, _mode: Mode) -> Result<Server> {
        let port = BACKEND_PORT.to_string();
        let exe = std::env::current_exe().context("locating the xtask binary")?;
        let exe = exe.to_string_lossy();
        let args = [&*exe, "bench", "http-keepalive", "--port", &port];
        Server::start(netns, &args, BACKEND_PORT)
    }
}

/// The median of each statistic over the runs.
fn median_stats(runs: Vec<WrkStats>) -> WrkStats {
    let pick = |f: fn(&WrkStats) -> f64| measure::median(runs.iter().map(f).collect());
    WrkStats {
        rps: pick(|s| s.rps),
        p50_ms: pick(|s| s.p50_ms),
        p99_ms: pick(|s| s.p99_ms),
    }
}

/// `http://ip:port/f`.
pub fn url(ip: impl std::fmt::Display, port: u16) -> String {
    format!("http://{ip}:{port}/f")
}
