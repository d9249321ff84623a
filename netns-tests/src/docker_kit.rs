//! The stock `docker` client against a lab node's shoal socket: the
//! clients to try and one call.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::swarm_kit::SwarmNode;

/// The `docker` clients to try: Debian's (what setup installs) and the
/// first on PATH, each once.
pub fn docker_clients() -> Vec<PathBuf> {
    let mut clients: Vec<PathBuf> = Vec::new();
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("docker"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for candidate in std::iter::once(PathBuf::from("/usr/bin/docker")).chain(on_path) {
        let Ok(real) = candidate.canonicalize() else {
            continue;
        };
        if !clients.contains(&real) {
            clients.push(real);
        }
        if clients.len() == 2 {
            break;
        }
    }
    assert!(
        !clients.is_empty(),
        "no docker client (setup installs docker.io)"
    );
    clients
}

/// `docker -H unix://<node's socket> args...`: stdout, or stderr as the error.
pub fn docker(client: &Path, node: &SwarmNode, args: &[&str]) -> Result<String, String> {
    let out = docker_output(client, node, args)?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(text(&out.stderr))
    }
}

/// `docker -H unix://<node's socket> args...` as it ended: status, stdout
/// and stderr apart.
pub fn docker_output(
    client: &Path,
    node: &SwarmNode,
    args: &[&str],
) -> Result<std::process::Output, String> {
    let config = tempfile::tempdir().map_err(|e| e.to_string())?;
    Command::new(client)
        .arg("--config")
        .arg(config.path())
        .arg("-H")
        .arg(format!("unix://{}", node.socket().display()))
        .args(args)
        .env_remove("DOCKER_HOST")
        .output()
        .map_err(|e| format!("{}: {e}", client.display()))
}
