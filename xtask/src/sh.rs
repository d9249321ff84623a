//! Running external commands from xtask: one place that turns a failed command into an
//! error naming it, so callers never check exit statuses by hand.

use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// Renders a command the way a shell user would type it, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|arg| arg.to_string_lossy().into_owned()));
    let env: Vec<String> = cmd
        .get_envs()
        // PATH is an implementation detail of how we find tools; it only adds noise.
        .filter(|(key, _)| *key != "PATH")
        .filter_map(|(key, value)| Some(format!("{}={}", key.to_string_lossy(), value?.display())))
        .collect();
    if env.is_empty() {
        words.join(" ")
    } else {
        format!("{} {}", env.join(" "), words.join(" "))
    }
}

/// Runs `cmd` with inherited stdin/stdout/stderr; a non-zero exit is an error naming the command.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout; a non-zero exit is an error naming the command and
/// carrying its stderr.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}` printed non-UTF-8", describe(cmd)))
}

/// Whether `cmd` starts and exits zero, with all its output discarded: for presence checks.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
