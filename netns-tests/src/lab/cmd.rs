//! Running external commands (mostly `ip`) and turning failures into structured errors.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

/// Errors from running an external command.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    /// The program could not be started at all (missing binary, permissions).
    #[error("failed to start `{command}`")]
    Spawn {
        /// The command line, for the message.
        command: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The program ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line, for the message.
        command: String,
        /// The exit status.
        status: ExitStatus,
        /// Captured standard output (some tools report errors there).
        stdout: String,
        /// Captured standard error, trimmed.
        stderr: String,
    },
    /// A background process's log file could not be created.
    #[error("cannot create log file {path}")]
    LogFile {
        /// The log file path.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An empty argument vector was given where a program name was required.
    #[error("empty command line")]
    Empty,
}

impl CmdError {
    /// The exit code, if the command ran and exited with one.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Self::Failed { status, .. } => status.code(),
            _ => None,
        }
    }
}

/// Builds `ip netns exec <netns> <args...>`.
pub fn netns_command<S: AsRef<OsStr>>(netns: &str, args: &[S]) -> Result<Command, CmdError> {
    if args.is_empty() {
        return Err(CmdError::Empty);
    }
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns]).args(args);
    Ok(cmd)
}

/// Builds `nsenter --net=/run/netns/<netns> -- <args...>`: only the network namespace
/// changes. Unlike `ip netns exec`, which remounts /sys privately (hiding the host's
/// /sys/fs/bpf), the process keeps the host's mounts, so bpffs pins persist.
pub fn nsenter_net_command<S: AsRef<OsStr>>(netns: &str, args: &[S]) -> Result<Command, CmdError> {
    if args.is_empty() {
        return Err(CmdError::Empty);
    }
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/run/netns/{netns}"))
        .arg("--")
        .args(args);
    Ok(cmd)
}

/// Runs `cmd` to completion with stdin closed, returning its stdout on success.
pub fn output(mut cmd: Command) -> Result<String, CmdError> {
    let command = describe(&cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| CmdError::Spawn {
            command: command.clone(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        Err(CmdError::Failed {
            command,
            status: out.status,
            stdout,
            stderr,
        })
    }
}

/// Runs `ip <args...>` in the root namespace (used with `-n <netns>` to reach into one).
pub fn ip<S: AsRef<OsStr>>(args: &[S]) -> Result<String, CmdError> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    output(cmd)
}

/// Renders a command line for error messages.
pub fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_command_shape() {
        let cmd = netns_command("shlab12c-n1", &["ping", "-c1", "198.18.0.12"]).unwrap();
        assert_eq!(
            describe(&cmd),
            "ip netns exec shlab12c-n1 ping -c1 198.18.0.12"
        );
        assert!(matches!(
            netns_command::<&str>("x", &[]),
            Err(CmdError::Empty)
        ));
    }

    #[test]
    fn failure_is_structured() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo oops >&2; exit 3"]);
        match output(cmd) {
            Err(err @ CmdError::Failed { .. }) => {
                assert_eq!(err.exit_code(), Some(3));
                let CmdError::Failed { stdout, stderr, .. } = err else {
                    unreachable!()
                };
                assert_eq!(stdout, "out\n");
                assert_eq!(stderr, "oops");
            }
            other => panic!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn missing_program_is_spawn_error() {
        let cmd = Command::new("/nonexistent/shoal-no-such-binary");
        assert!(matches!(output(cmd), Err(CmdError::Spawn { .. })));
    }
}
