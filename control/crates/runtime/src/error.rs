//! Errors of the [`crate`] module (containers).

use std::io;
use std::path::PathBuf;

use super::image::ImageError;
use super::volumes::VolumeError;

/// Why a container operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The container id is not usable as a runc id and netns name.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId {
        /// The id given.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A container with this id exists already.
    #[error("container {id} already exists")]
    AlreadyExists {
        /// The id.
        id: String,
    },
    /// No container with this id.
    #[error("no such container: {id}")]
    NotFound {
        /// The id.
        id: String,
    },
    /// The image could not be resolved.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A volume could not be made ready (or removed).
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// A bind mount's source does not exist on the node (Docker's words).
    #[error("invalid mount config for type \"bind\": bind source path does not exist: {}", path.display())]
    BindSourceMissing {
        /// The source path.
        path: PathBuf,
    },
    /// Neither the spec nor the image give a command to run.
    #[error("no command to run: image {image} has no entrypoint or cmd and none was given")]
    NoCommand {
        /// The image reference.
        image: String,
    },
    /// A part of the spec is malformed.
    #[error("invalid container spec: {field} {value:?}: {reason}")]
    InvalidSpec {
        /// Which field.
        field: &'static str,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A mount or unmount failed.
    #[error("cannot {action} {path}: {source}")]
    Mount {
        /// "mount overlay", "unmount", ...
        action: &'static str,
        /// The mount point.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A helper program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A helper program (`ip`, `runc`) failed.
    #[error("`{command}` failed ({status}): {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it said (its error output, or runc's log).
        message: String,
    },
    /// The container's process could not be started (`runc create`
    /// failed): `cause` is runc's reason in Docker's words (`exec:
    /// "/bin/x": stat /bin/x: no such file or directory`), without the
    /// internal command line, which goes to the daemon's log.
    #[error("starting container failed: {cause}")]
    StartFailed {
        /// The container.
        id: String,
        /// Why, as runc's init reported it.
        cause: String,
    },
    /// A command run in a container (`runc exec`) did not end in time.
    #[error("command in container {id} still running after {timeout:?}")]
    ExecTimeout {
        /// The container.
        id: String,
        /// How long it was given.
        timeout: std::time::Duration,
    },
    /// A JSON document could not be written or read.
    #[error("{document}: {source}")]
    Json {
        /// Which document.
        document: String,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// This process could not become the reaper of container processes.
    #[error("cannot become child subreaper: {source}")]
    Subreaper {
        /// The underlying error.
        source: io::Error,
    },
}

impl RuntimeError {
    /// A [`RuntimeError::Io`] for `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// A [`RuntimeError::Mount`] for `path`.
    pub(crate) fn mount(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Mount {
            action,
            path,
            source,
        }
    }

    /// A [`RuntimeError::Json`] for `document`.
    pub(crate) fn json(document: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Self {
        let document = document.into();
        move |source| Self::Json { document, source }
    }
}
