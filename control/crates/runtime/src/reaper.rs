//! Exit statuses of container processes.
//!
//! `runc create` exits once the container's init exists, so the init is
//! orphaned; the runtime makes its process a child subreaper, the init is
//! re-parented to it, and one thread per container waits for exactly that
//! pid (never `waitpid(-1)`, which would steal other children). The status
//! is kept in memory and in `<bundle>/exit.json`.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::RuntimeError;
use super::spec::ExitStatus;
use super::sys::{self, WaitOutcome};

/// How often a process that is not our child is polled for exit.
const POLL: Duration = Duration::from_millis(50);

/// A watched container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// Its process lives.
    Running,
    /// It ended; `None` if the status could not be collected.
    Ended(Option<ExitStatus>),
}

/// Waits for container inits and records how they ended.
#[derive(Debug, Default)]
pub(crate) struct Reaper {
    watches: Mutex<HashMap<String, Watch>>,
    changed: Condvar,
}

impl Reaper {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Watch>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts waiting for `pid`, the init of container `id`; the status is
    /// also written to `exit_file`.
    pub(crate) fn watch(
        self: &Arc<Self>,
        id: &str,
        pid: u32,
        exit_file: PathBuf,
    ) -> Result<(), RuntimeError> {
        self.lock().insert(id.to_owned(), Watch::Running);
        let reaper = Arc::clone(self);
        let key = id.to_owned();
        std::thread::Builder::new()
            .name(format!("reap-{id}"))
            .spawn(move || {
                let status = collect(pid);
                if let Some(status) = status
                    && let Ok(json) = serde_json::to_vec(&status)
                {
                    // Best effort: the in-memory status is authoritative
                    // while this process lives.
                    let _ = fs::write(&exit_file, json);
                }
                reaper.lock().insert(key, Watch::Ended(status));
                reaper.changed.notify_all();
            })
            .map(drop)
            .map_err(|source| RuntimeError::Spawn {
                program: "reaper thread".to_owned(),
                source,
            })
    }

    /// Waits up to `timeout` for container `id` to end. `None`: not
    /// watched here, or still running; `Some(status)` once ended.
    pub(crate) fn wait(&self, id: &str, timeout: Duration) -> Option<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        let mut watches = self.lock();
        loop {
            match watches.get(id) {
                None => return None,
                Some(Watch::Ended(status)) => return Some(*status),
                Some(Watch::Running) => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            watches = self
                .changed
                .wait_timeout(watches, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Whether container `id` is watched by this process.
    pub(crate) fn watches(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// Forgets container `id`.
    pub(crate) fn forget(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// Waits for `pid`; when it is not our child (no subreaper), polls until it
/// is gone and reports the status as unknown.
fn collect(pid: u32) -> Option<ExitStatus> {
    let pid = i32::try_from(pid).ok()?;
    match sys::wait_pid(pid) {
        Ok(WaitOutcome::Exited(code)) => Some(ExitStatus { code, signal: None }),
        Ok(WaitOutcome::Signaled(signal)) => Some(ExitStatus {
            code: 128 + signal,
            signal: Some(signal),
        }),
        Err(_) => {
            while sys::pid_alive(pid) {
                std::thread::sleep(POLL);
            }
            None
        }
    }
}
