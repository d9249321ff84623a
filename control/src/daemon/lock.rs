//! One daemon per state directory: `shoal daemon` holds an exclusive lock
//! on `<state-dir>/daemon.lock` for as long as it runs. A second daemon on
//! the same directory exits with a clear error before it touches anything
//! (the API socket, the containers, raft), instead of running a second
//! agent over the same containers.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::AsRawFd as _;
use std::path::Path;

use super::DaemonError;

/// The lock file inside the state directory.
pub const LOCK_FILE: &str = "daemon.lock";

/// The held lock; released when dropped (or when the process dies: the
/// kernel drops `flock` locks with their last file descriptor).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock of `state_dir` and records this process's ID in it.
    pub fn acquire(state_dir: &Path) -> Result<Self, DaemonError> {
        let path = state_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(DaemonError::io("open", &path))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(DaemonError::StateDirInUse {
                    state_dir: state_dir.to_owned(),
                    holder: holder.trim().to_owned(),
                });
            }
            return Err(DaemonError::io("lock", &path)(err));
        }
        let record = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())
        };
        record(&mut file).map_err(DaemonError::io("write", &path))?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::StateLock;
    use crate::daemon::DaemonError;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_until_the_first_goes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = StateLock::acquire(dir.path()).expect("first lock");
        match StateLock::acquire(dir.path()) {
            Err(DaemonError::StateDirInUse { holder, .. }) => {
                assert_eq!(holder, std::process::id().to_string());
            }
            other => panic!("second lock: {other:?}"),
        }
        drop(first);
        StateLock::acquire(dir.path()).expect("free again once the first is gone");
    }
}
