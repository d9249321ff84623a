//! Network namespaces of containers: `ip netns add shoal-<id>` before the
//! container exists, so the data plane can attach the task's interface
//! before its process starts.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{RuntimeError, cmd};

/// Where `ip netns` keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// The name of the namespace the runtime creates for container `id`.
pub fn netns_name(id: &str) -> String {
    format!("shoal-{id}")
}

/// The path of a named namespace.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Creates the namespace `name` with its loopback up.
pub(crate) fn create(name: &str) -> Result<PathBuf, RuntimeError> {
    cmd::run(Command::new("ip").args(["netns", "add", name]))?;
    cmd::run(Command::new("ip").args(["-n", name, "link", "set", "lo", "up"]))?;
    Ok(netns_path(name))
}

/// Deletes the namespace `name` if it exists.
pub(crate) fn delete(name: &str) -> Result<(), RuntimeError> {
    if !netns_path(name).exists() {
        return Ok(());
    }
    cmd::run(Command::new("ip").args(["netns", "delete", name])).map(drop)
}
