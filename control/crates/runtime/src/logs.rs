//! Container logs with a size cap. runc writes a container's stdout and
//! stderr straight into `console.log` (opened for appending, so no process
//! of ours has to stay in the path and a daemon restart loses nothing).
//! When a container is deleted its log files are [`keep`]t under the state
//! dir (`logs/<id>/`), the last [`KEPT_LOGS`] of them, so the output of an
//! ended task (a failed one above all) can still be read.
//! [`rotate`] keeps it bounded the way logrotate's `copytruncate` does:
//! once the file passes [`LOG_MAX_BYTES`], its content moves to
//! `console.log.1` (replacing the previous one) and the file is emptied in
//! place; the container's appending writes go on at the new end. Lines
//! written between the copy and the truncation can be lost; that is the
//! price of not standing between runc and the file. A container's logs
//! thus take at most about twice [`LOG_MAX_BYTES`] on disk and in memory.

use std::fs::{self, OpenOptions};
use std::path::Path;

use crate::RuntimeError;

/// The log file runc writes, inside a container's bundle.
pub const LOG_FILE: &str = "console.log";
/// The previous part, after a rotation.
pub const ROTATED_LOG_FILE: &str = "console.log.1";
/// Size at which `console.log` is rotated.
pub const LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// Rotates the log in `bundle` if it passed `max_bytes`; returns whether it
/// did.
pub fn rotate(bundle: &Path, max_bytes: u64) -> Result<bool, RuntimeError> {
    let current = bundle.join(LOG_FILE);
    let size = match fs::metadata(&current) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(RuntimeError::io("inspect", &current)(err)),
    };
    if size <= max_bytes {
        return Ok(false);
    }
    let rotated = bundle.join(ROTATED_LOG_FILE);
    fs::copy(&current, &rotated).map_err(RuntimeError::io("copy", &current))?;
    OpenOptions::new()
        .write(true)
        .open(&current)
        .and_then(|file| file.set_len(0))
        .map_err(RuntimeError::io("truncate", &current))?;
    Ok(true)
}

/// How many deleted containers' logs are kept (the oldest go first).
pub const KEPT_LOGS: usize = 256;

/// Moves the log files of `bundle` (a container being deleted) to
/// `kept_root/<id>/`, then drops the oldest kept logs past [`KEPT_LOGS`].
pub fn keep(bundle: &Path, kept_root: &Path, id: &str) -> Result<(), RuntimeError> {
    if !bundle.join(LOG_FILE).exists() {
        return Ok(());
    }
    let dir = kept_root.join(id);
    fs::create_dir_all(&dir).map_err(RuntimeError::io("create", &dir))?;
    for name in [ROTATED_LOG_FILE, LOG_FILE] {
        let from = bundle.join(name);
        if from.exists() {
            fs::rename(&from, dir.join(name)).map_err(RuntimeError::io("move", &from))?;
        }
    }
    prune(kept_root, KEPT_LOGS)
}

/// Removes the oldest kept logs (by modification time) beyond `max`.
fn prune(kept_root: &Path, max: usize) -> Result<(), RuntimeError> {
    let entries = fs::read_dir(kept_root).map_err(RuntimeError::io("list", kept_root))?;
    let mut kept: Vec<(std::time::SystemTime, std::path::PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if kept.len() <= max {
        return Ok(());
    }
    kept.sort();
    for (_, dir) in &kept[..kept.len() - max] {
        fs::remove_dir_all(dir).map_err(RuntimeError::io("remove", dir))?;
    }
    Ok(())
}

/// Everything the logs in `bundle` hold, oldest first.
pub fn read(bundle: &Path) -> Result<Vec<u8>, RuntimeError> {
    let mut out = Vec::new();
    for name in [ROTATED_LOG_FILE, LOG_FILE] {
        let path = bundle.join(name);
        match fs::read(&path) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && name != LOG_FILE => {}
            Err(err) => return Err(RuntimeError::io("read", &path)(err)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn a_log_past_the_cap_moves_aside_and_appending_goes_on_in_the_emptied_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // As runc holds it: one descriptor opened for appending, kept open.
        let mut writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join(LOG_FILE))
            .expect("open log");
        writer.write_all(b"one\ntwo\n").expect("write");
        assert!(!rotate(dir.path(), 100).expect("rotate"), "under the cap");
        writer.write_all(&[b'x'; 200]).expect("write");
        writer.write_all(b"\n").expect("write");
        assert!(rotate(dir.path(), 100).expect("rotate"), "past the cap");
        writer.write_all(b"after\n").expect("write");
        let current = fs::read(dir.path().join(LOG_FILE)).expect("read");
        assert_eq!(
            current, b"after\n",
            "appends land at the start of the emptied file"
        );
        let all = read(dir.path()).expect("read all");
        assert!(all.starts_with(b"one\ntwo\nxxx"));
        assert!(all.ends_with(b"x\nafter\n"));
        // A second rotation replaces the first part: the total stays bounded.
        writer.write_all(&[b'y'; 200]).expect("write");
        assert!(rotate(dir.path(), 100).expect("rotate"));
        let all = read(dir.path()).expect("read all");
        assert!(!all.starts_with(b"one"), "the oldest part is gone");
        assert!(all.len() < 300, "{} bytes kept", all.len());
    }

    #[test]
    fn a_deleted_containers_logs_are_kept_up_to_the_cap() {
        let root = tempfile::tempdir().expect("tempdir");
        let kept = root.path().join("logs");
        for id in ["a", "b", "c"] {
            let bundle = root.path().join(id);
            fs::create_dir_all(&bundle).expect("bundle");
            fs::write(bundle.join(LOG_FILE), format!("{id} failed\n")).expect("log");
            keep(&bundle, &kept, id).expect("kept");
            assert!(!bundle.join(LOG_FILE).exists(), "moved out of the bundle");
            // Distinct modification times for the pruning order.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(read(&kept.join("c")).expect("read"), b"c failed\n");
        prune(&kept, 2).expect("prune");
        assert!(!kept.join("a").exists(), "the oldest went");
        assert!(kept.join("b").exists() && kept.join("c").exists());
    }
}
