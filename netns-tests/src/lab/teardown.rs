//! Finding and tearing down labs: namespaces, their processes, pins and state.
//!
//! Used by [`super::Lab`]'s `Drop` and by `cargo xtask lab down` for labs left running.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::cmd::{self, CmdError};
use super::naming::LabId;

/// Where bpffs is mounted unless `$SHOAL_BPFFS` says otherwise (as for `shoal`).
pub const DEFAULT_BPFFS: &str = "/sys/fs/bpf";
/// Directory under bpffs holding each node's pins: `<bpffs>/shoal/<node name>/…`.
pub const SHOAL_PIN_DIR: &str = "shoal";

/// Errors from tearing a lab down. Teardown is best effort: it keeps going and
/// reports the first failure.
#[derive(Debug, thiserror::Error)]
pub enum TeardownError {
    /// An `ip` command failed (listing or deleting namespaces).
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// A directory (bpffs pins or state) could not be removed.
    #[error("cannot remove {path}")]
    Remove {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// All network namespace names on the host.
pub fn list_netns() -> Result<Vec<String>, CmdError> {
    let out = cmd::ip(&["netns", "list"])?;
    Ok(parse_netns_list(&out))
}

/// Ids of all labs that have at least one namespace on the host.
pub fn list_labs() -> Result<Vec<LabId>, CmdError> {
    let ids: BTreeSet<LabId> = list_netns()?
        .iter()
        .filter_map(|ns| LabId::split_netns_name(ns).map(|(id, _)| id))
        .collect();
    Ok(ids.into_iter().collect())
}

/// Namespace names belonging to lab `id`.
pub fn lab_netns(id: &LabId) -> Result<Vec<String>, CmdError> {
    Ok(list_netns()?
        .into_iter()
        .filter(|ns| LabId::split_netns_name(ns).is_some_and(|(owner, _)| &owner == id))
        .collect())
}

/// Tears down everything of lab `id` found on the host: processes in its
/// namespaces, the namespaces, their bpffs pins and the lab's state directory.
pub fn cleanup_by_id(id: &LabId) -> Result<(), TeardownError> {
    let mut first_err = None;
    for ns in lab_netns(id)? {
        keep_first(
            &mut first_err,
            remove_containers(&id.state_root().join(&ns)).map_err(TeardownError::from),
        );
        keep_first(
            &mut first_err,
            delete_netns(&ns).map_err(TeardownError::from),
        );
        if !ns.ends_with("-sw") {
            keep_first(&mut first_err, remove_pins(&ns));
        }
    }
    keep_first(&mut first_err, remove_dir(&id.state_root()));
    first_err.map_or(Ok(()), Err)
}

/// Removes the containers a node's daemon left under `state_dir` (a killed
/// daemon cannot): every runc root found there (`<dir>/runc`, at most
/// three levels down) has its containers force-deleted and their task
/// namespaces (`shoal-<id>`) emptied and deleted. Best effort: a container
/// runc no longer knows still loses its namespace.
pub(crate) fn remove_containers(state_dir: &Path) -> Result<(), CmdError> {
    let mut first_err = None;
    for root in runc_roots(state_dir, 3) {
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for id in entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
        {
            let mut runc = std::process::Command::new("runc");
            runc.arg("--root")
                .arg(&root)
                .args(["delete", "--force", &id]);
            // A container whose init is gone is deleted all the same.
            let _ = cmd::output(runc);
            let netns = format!("shoal-{id}");
            if let Err(err) = delete_netns(&netns) {
                first_err.get_or_insert(err);
            }
        }
    }
    unmount_under(state_dir);
    first_err.map_or(Ok(()), Err)
}

/// Lazily unmounts everything mounted below `dir` (container root
/// filesystems), deepest first, so the directory can be removed.
fn unmount_under(dir: &Path) {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in points {
        let mut umount = std::process::Command::new("umount");
        umount.args(["-l", point]);
        // Already gone (a parent went first) is fine.
        let _ = cmd::output(umount);
    }
}

/// Directories named `runc` under `dir`, down to `depth` levels.
fn runc_roots(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut roots = Vec::new();
    for entry in entries.flatten().filter(|e| e.path().is_dir()) {
        if entry.file_name() == "runc" {
            roots.push(entry.path());
        } else if depth > 0 {
            roots.extend(runc_roots(&entry.path(), depth - 1));
        }
    }
    roots
}

/// Kills every process in `netns` and deletes it; a missing namespace is fine.
pub(crate) fn delete_netns(netns: &str) -> Result<(), CmdError> {
    // A namespace with live processes would outlive `ip netns del`, keeping its
    // veths (and the traffic through them) around.
    if let Ok(pids) = cmd::ip(&["netns", "pids", netns]) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<libc::pid_t>().ok())
        {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    match cmd::ip(&["netns", "del", netns]) {
        Err(CmdError::Failed { ref stderr, .. }) if stderr.contains("No such file") => Ok(()),
        other => other.map(drop),
    }
}

/// Directory of `node`'s bpffs pins: `$SHOAL_BPFFS` (default /sys/fs/bpf) + `/shoal/<node>`.
pub fn pin_dir(node: &str) -> PathBuf {
    let bpffs =
        std::env::var_os("SHOAL_BPFFS").map_or_else(|| PathBuf::from(DEFAULT_BPFFS), PathBuf::from);
    bpffs.join(SHOAL_PIN_DIR).join(node)
}

/// Removes `node`'s pin directory (see [`pin_dir`]); missing is fine.
pub(crate) fn remove_pins(node: &str) -> Result<(), TeardownError> {
    remove_dir(&pin_dir(node))
}

/// Removes a directory tree; missing is fine.
pub(crate) fn remove_dir(path: &Path) -> Result<(), TeardownError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(TeardownError::Remove {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Records `result`'s error in `first` unless one is already recorded.
pub(crate) fn keep_first<E>(first: &mut Option<E>, result: Result<(), E>) {
    if let Err(e) = result {
        first.get_or_insert(e);
    }
}

/// Parses `ip netns list` output: `name` or `name (id: N)` per line.
fn parse_netns_list(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_netns_list() {
        let out = "shlab12c-n2 (id: 4)\nshlab12c-sw (id: 1)\nplain\n\n";
        assert_eq!(
            parse_netns_list(out),
            ["shlab12c-n2", "shlab12c-sw", "plain"]
        );
    }

    #[test]
    fn keep_first_keeps_first() {
        let mut first = None;
        keep_first(&mut first, Ok(()));
        keep_first(&mut first, Err(1));
        keep_first(&mut first, Err(2));
        assert_eq!(first, Some(1));
    }
}
