//! Packet captures with tshark inside a lab namespace, and decoding them: the
//! proof that an overlay puts standard VXLAN on the wire.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::lab::cmd::{self, CmdError};

/// How long tshark may take to start capturing, or to finish after SIGINT.
/// Grace period after tshark says it is capturing.
const CAPTURE_SETTLE: Duration = Duration::from_millis(300);
const CAPTURE_WAIT: Duration = Duration::from_secs(15);
/// What tshark prints on stderr once its capture runs.
const STARTED_MARKER: &str = "Capturing on";

/// Errors capturing or decoding packets.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// tshark could not be started or failed while decoding.
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// The capture log could not be created or read.
    #[error("capture log {path}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// tshark did not report a running capture in time (log attached).
    #[error("tshark did not start capturing within {CAPTURE_WAIT:?}: {log}")]
    NotStarted {
        /// What tshark printed.
        log: String,
    },
    /// tshark did not exit in time after SIGINT.
    #[error("tshark did not stop within {CAPTURE_WAIT:?}")]
    NotStopped,
    /// Waiting for tshark failed.
    #[error("waiting for tshark")]
    Wait(#[source] std::io::Error),
    /// A decoded field was not a number.
    #[error("tshark printed `{0}` where a VNI was expected")]
    BadField(String),
}

/// A running tshark capture; [`Capture::stop`] ends it and keeps the file.
/// Dropping it without `stop` kills tshark.
#[derive(Debug)]
pub struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    /// Starts `tshark -i <iface> -f <filter> -w <file>` in `netns` and returns
    /// once tshark says it is capturing. `file` should lie in a lab state
    /// directory so the lab removes it.
    pub fn start(
        netns: &str,
        iface: &str,
        filter: &str,
        file: &Path,
    ) -> Result<Self, CaptureError> {
        let log = file.with_extension("log");
        let log_err = |source| CaptureError::Log {
            path: log.clone(),
            source,
        };
        let stderr = File::create(&log).map_err(log_err)?;
        let file_s = file.to_string_lossy();
        let mut command =
            cmd::netns_command(netns, &["tshark", "-i", iface, "-f", filter, "-w", &file_s])?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = command.spawn().map_err(|source| CmdError::Spawn {
            command: cmd::describe(&command),
            source,
        })?;
        let capture = Self {
            child,
            file: file.to_owned(),
        };
        let deadline = Instant::now() + CAPTURE_WAIT;
        loop {
            let text = std::fs::read_to_string(&log).map_err(log_err)?;
            if text.contains(STARTED_MARKER) {
                // tshark announces the capture a moment before its filter is
                // live; frames sent right away were seen to go missing.
                std::thread::sleep(CAPTURE_SETTLE);
                return Ok(capture);
            }
            if Instant::now() >= deadline {
                return Err(CaptureError::NotStarted { log: text });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the capture (SIGINT, so tshark flushes the file) and returns the file.
    pub fn stop(mut self) -> Result<PathBuf, CaptureError> {
        // Frames sent just before stop are still on their way to the file.
        std::thread::sleep(CAPTURE_SETTLE);
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        let deadline = Instant::now() + CAPTURE_WAIT;
        while self.child.try_wait().map_err(CaptureError::Wait)?.is_none() {
            if Instant::now() >= deadline {
                return Err(CaptureError::NotStopped);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(self.file.clone())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // Already-exited tshark makes kill fail; wait reaps either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The VNI of every frame in `file` that tshark decodes as VXLAN, in order.
pub fn vxlan_vnis(file: &Path) -> Result<Vec<u32>, CaptureError> {
    let file_s = file.to_string_lossy();
    let mut command = std::process::Command::new("tshark");
    command.args([
        "-r",
        &file_s,
        "-Y",
        "vxlan",
        "-T",
        "fields",
        "-e",
        "vxlan.vni",
    ]);
    let out = cmd::output(command)?;
    parse_vnis(&out)
}

fn parse_vnis(out: &str) -> Result<Vec<u32>, CaptureError> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().map_err(|_| CaptureError::BadField(l.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vni_fields() {
        assert_eq!(parse_vnis("4097\n4097\n\n").unwrap(), [4097, 4097]);
        assert!(matches!(parse_vnis("x\n"), Err(CaptureError::BadField(_))));
    }
}
