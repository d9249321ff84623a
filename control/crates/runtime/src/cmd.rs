//! Running helper programs (`ip`, `runc`) and turning failures into
//! [`RuntimeError::Command`].

use std::process::{Command, Output, Stdio};

use super::RuntimeError;

/// The command line, for messages.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` to completion with its output captured; an unsuccessful
/// exit is an error carrying its stderr.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, RuntimeError> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| RuntimeError::Spawn {
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })?;
    if output.status.success() {
        return Ok(output);
    }
    Err(RuntimeError::Command {
        command: describe(cmd),
        status: output.status.to_string(),
        message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}
