//! What `cargo xtask bench scale` reads from /proc: a daemon's CPU time and
//! memory, and the bytes through a namespace's underlay interface.

use std::time::Instant;

use anyhow::{Context as _, Result};
use shoal_netns_tests::lab::Node;

/// A process's CPU time at an instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    ticks: u64,
    at: Instant,
}

impl CpuMark {
    /// Reads `pid`'s user + system time now.
    pub fn take(pid: u32) -> Result<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        Ok(Self {
            ticks: cpu_ticks(&stat).context("parsing /proc/PID/stat")?,
            at: Instant::now(),
        })
    }

    /// CPUs used on average since `earlier` (1.0 = one core busy).
    pub fn cpus_since(&self, earlier: &CpuMark) -> f64 {
        // SAFETY: sysconf has no memory-safety preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let wall = self.at.duration_since(earlier.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        self.ticks.saturating_sub(earlier.ticks) as f64 / hz / wall
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line; the
/// command name in parentheses may hold spaces, so fields count from the
/// last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `pid`'s resident and peak resident memory, MiB.
pub fn memory_mib(pid: u32) -> Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    Ok((kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0))
}

/// Bytes received plus sent on `node`'s `eth0`, from its namespace's
/// `/proc/net/dev`.
pub fn underlay_bytes(node: &Node) -> Result<u64> {
    let dev = node
        .exec(&["cat", "/proc/net/dev"])
        .context("reading /proc/net/dev in the simulator's namespace")?;
    iface_bytes(&dev, "eth0").context("no eth0 in /proc/net/dev")
}

/// Received + transmitted bytes of `iface` in a `/proc/net/dev` text.
pub fn iface_bytes(dev: &str, iface: &str) -> Option<u64> {
    let line = dev
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{iface}:")))?;
    let fields: Vec<&str> = line.split_once(':')?.1.split_whitespace().collect();
    let rx: u64 = fields.first()?.parse().ok()?;
    let tx: u64 = fields.get(8)?.parse().ok()?;
    Some(rx + tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "42 (shoal (x) d) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn interface_bytes_add_both_directions() {
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes\n\
                   lo: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n  eth0: 1000 5 0 0 0 0 0 0 2500 7 0 0 0 0 0 0\n";
        assert_eq!(iface_bytes(dev, "eth0"), Some(3500));
        assert_eq!(iface_bytes(dev, "eth1"), None);
    }
}
