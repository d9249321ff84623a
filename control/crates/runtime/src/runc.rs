//! The `runc` command line: create (detached, the container's stdio on a
//! log file), start, state, kill, delete.

use std::fs::{self, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::spec::Status;
use super::{RuntimeError, cmd};

/// How often a running `runc exec` is checked for its end.
const EXEC_POLL: Duration = Duration::from_millis(20);
/// How long runc gets to exit after its timed-out command was killed.
const EXEC_KILL_GRACE: Duration = Duration::from_secs(5);

/// `runc state` output (the fields used).
#[derive(Debug, Deserialize)]
pub(crate) struct RuncState {
    /// Init pid (0 once stopped).
    pub pid: i64,
    /// Lifecycle state.
    pub status: Status,
}

/// One runc binary and state root.
#[derive(Debug, Clone)]
pub(crate) struct Runc {
    binary: PathBuf,
    root: PathBuf,
}

/// A runc `--log` line.
#[derive(Deserialize)]
struct LogLine {
    level: String,
    msg: String,
}

/// Where a container's stdout and stderr go.
#[derive(Debug)]
pub(crate) enum Output<'a> {
    /// Appended to this file by the container itself (no timestamps).
    File(&'a Path),
    /// The write ends of a log shim's pipes ([`crate::log_shim`]).
    Pipes(OwnedFd, OwnedFd),
}

impl Output<'_> {
    /// The container's stdout and stderr.
    fn stdio(self) -> Result<(Stdio, Stdio), RuntimeError> {
        match self {
            Output::File(path) => {
                let open = || {
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(RuntimeError::io("open", path))
                };
                Ok((open()?.into(), open()?.into()))
            }
            Output::Pipes(out, err) => Ok((out.into(), err.into())),
        }
    }
}

impl Runc {
    /// runc `binary` keeping its state under `root`.
    pub(crate) fn new(binary: PathBuf, root: PathBuf) -> Self {
        Self { binary, root }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(&self.root);
        // The daemon runs under systemd as `Type=notify`, so it inherits
        // NOTIFY_SOCKET; runc given one proxies sd_notify for the container
        // and `runc start` waits for the container's READY=1, which a plain
        // process never sends: every task hung in "starting" on the VM lab.
        cmd.env_remove("NOTIFY_SOCKET");
        cmd
    }

    /// Whether runc knows the container.
    pub(crate) fn exists(&self, id: &str) -> bool {
        self.root.join(id).join("state.json").exists()
    }

    /// `runc create`: the container's init waits for `start`. Its stdout
    /// and stderr are `output`, stdin is /dev/null. Returns the init pid.
    pub(crate) fn create(
        &self,
        id: &str,
        bundle: &Path,
        output: Output<'_>,
    ) -> Result<u32, RuntimeError> {
        let pid_file = bundle.join("init.pid");
        let runc_log = bundle.join("runc.log");
        let (out, err) = output.stdio()?;
        let mut cmd = self.command();
        cmd.arg("--log")
            .arg(&runc_log)
            .args(["--log-format", "json", "create", "--bundle"]);
        cmd.arg(bundle).arg("--pid-file").arg(&pid_file).arg(id);
        let status = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|source| RuntimeError::Spawn {
                program: self.binary.display().to_string(),
                source,
            })?;
        if !status.success() {
            let message = last_error(&runc_log);
            log::debug!("`{}` failed ({status}): {message}", cmd::describe(&cmd));
            return Err(RuntimeError::StartFailed {
                id: id.to_owned(),
                cause: start_cause(&message).to_owned(),
            });
        }
        let pid = fs::read_to_string(&pid_file).map_err(RuntimeError::io("read", &pid_file))?;
        pid.trim().parse().map_err(|_| RuntimeError::InvalidSpec {
            field: "runc pid file",
            value: pid.clone(),
            reason: "not a pid",
        })
    }

    /// `runc start`.
    pub(crate) fn start(&self, id: &str) -> Result<(), RuntimeError> {
        cmd::run(self.command().args(["start", id])).map(drop)
    }

    /// `runc state`; `None` when runc does not know the container.
    pub(crate) fn state(&self, id: &str) -> Result<Option<RuncState>, RuntimeError> {
        if !self.exists(id) {
            return Ok(None);
        }
        let out = cmd::run(self.command().args(["state", id]))?;
        serde_json::from_slice(&out.stdout)
            .map(Some)
            .map_err(RuntimeError::json(format!("runc state {id}")))
    }

    /// `runc exec`: runs `argv` in the container (its environment and
    /// working directory) with no stdio, and waits up to `timeout` for it.
    /// The exit code, 128 + signal when a signal ended it. `pid_file` is
    /// scratch space for the command's pid.
    pub(crate) fn exec(
        &self,
        id: &str,
        argv: &[String],
        timeout: Duration,
        pid_file: &Path,
    ) -> Result<i32, RuntimeError> {
        let spawn_error = |source| RuntimeError::Spawn {
            program: self.binary.display().to_string(),
            source,
        };
        let mut cmd = self.command();
        cmd.args(["exec", "--pid-file"])
            .arg(pid_file)
            .arg(id)
            .args(argv);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(spawn_error)?;
        let deadline = Instant::now() + timeout;
        let mut killed = false;
        loop {
            if let Some(status) = child.try_wait().map_err(spawn_error)? {
                let _ = fs::remove_file(pid_file);
                if killed {
                    return Err(RuntimeError::ExecTimeout {
                        id: id.to_owned(),
                        timeout,
                    });
                }
                return Ok(status
                    .code()
                    .or_else(|| status.signal().map(|signal| 128 + signal))
                    .unwrap_or(-1));
            }
            if Instant::now() >= deadline && !killed {
                // Kill the command, not runc: runc reaps it and exits. Were
                // runc killed instead, the command would become this
                // process's unreaped child and keep the container's pid
                // namespace (and so its init) from ever going away.
                kill_pid_in(pid_file);
                killed = true;
            }
            if Instant::now() >= deadline + EXEC_KILL_GRACE {
                let _ = child.kill();
            }
            std::thread::sleep(EXEC_POLL);
        }
    }

    /// `runc kill` with a signal number.
    pub(crate) fn kill(&self, id: &str, signal: i32) -> Result<(), RuntimeError> {
        cmd::run(self.command().args(["kill", id, &signal.to_string()])).map(drop)
    }

    /// `runc delete --force` (kills a live container first); nothing when
    /// runc does not know it.
    pub(crate) fn delete(&self, id: &str) -> Result<(), RuntimeError> {
        if !self.exists(id) {
            return Ok(());
        }
        cmd::run(self.command().args(["delete", "--force", id])).map(drop)
    }
}

/// SIGKILL to the pid written in `pid_file`, if it was written yet.
fn kill_pid_in(pid_file: &Path) {
    let pid = fs::read_to_string(pid_file)
        .ok()
        .and_then(|text| text.trim().parse::<libc::pid_t>().ok())
        .filter(|pid| *pid > 0);
    if let Some(pid) = pid {
        // SAFETY: kill(2) with a pid runc just reported; no memory involved.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// The last error runc logged, or a pointer to the log.
/// runc's reason without the prefixes that only say which runc step
/// failed ("runc create failed: unable to start container process: "), so
/// what is left reads like Docker's `starting container failed: …`.
fn start_cause(message: &str) -> &str {
    const PREFIXES: [&str; 3] = [
        "runc create failed: ",
        "unable to start container process: ",
        "error during container init: ",
    ];
    PREFIXES.iter().fold(message, |rest, prefix| {
        rest.strip_prefix(prefix).unwrap_or(rest)
    })
}

fn last_error(runc_log: &Path) -> String {
    let text = fs::read_to_string(runc_log).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<LogLine>(l).ok())
        .find(|l| l.level == "error" || l.level == "fatal")
        .map(|l| l.msg)
        .unwrap_or_else(|| format!("see {}", runc_log.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_never_sees_the_daemons_notify_socket() {
        let runc = Runc::new("runc".into(), "/run/test-runc".into());
        let cmd = runc.command();
        let notify = cmd
            .get_envs()
            .find(|(key, _)| *key == std::ffi::OsStr::new("NOTIFY_SOCKET"));
        assert_eq!(
            notify,
            Some((std::ffi::OsStr::new("NOTIFY_SOCKET"), None)),
            "runc proxies sd_notify when it inherits NOTIFY_SOCKET, and `runc start` then \
             waits for a READY=1 the task never sends"
        );
    }
}
