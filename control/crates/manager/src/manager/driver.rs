//! The manager loop: runs on every manager, acts while it leads. A pass
//! runs when the store changes (debounced), when a restart or update timer
//! runs out, and at least every second.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::outcome::PassOutcome;
use super::pass::run_pass;
use super::{ClusterTables, Leadership, ManagerError};
use shoal_model::spec::Timestamp;
use shoal_raft::{AppliedChanges, Command};

/// Longest time between two passes.
const MAX_IDLE: Duration = Duration::from_secs(1);
/// Changes arriving within this time of the first are handled by one pass.
const DEBOUNCE: Duration = Duration::from_millis(20);
/// Wait before a loop that panicked is started again.
const RESTART_PAUSE: Duration = Duration::from_secs(1);
/// Distinct error messages remembered (so each is logged once) before the
/// memory is cleared.
const REMEMBERED_ERRORS: usize = 1000;

/// The current time as the orchestrator counts it.
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    Timestamp(millis)
}

/// Runs the manager loop until the task is aborted; a loop that panics is
/// logged and started again (the daemon stays up).
pub async fn run<L: Leadership>(leader: Arc<L>) {
    loop {
        let driver = tokio::spawn(drive(leader.clone()));
        match driver.await {
            Ok(()) => return,
            Err(err) if err.is_panic() => {
                log::error!("manager loop panicked, restarting it: {err}");
                tokio::time::sleep(RESTART_PAUSE).await;
            }
            Err(_) => return,
        }
    }
}

/// Remembers errors so that each distinct one is logged once, and counts
/// them all.
#[derive(Debug, Default)]
struct ErrorLog {
    seen: HashSet<String>,
    total: u64,
}

impl ErrorLog {
    fn record(&mut self, err: &ManagerError) {
        self.total += 1;
        let message = full_message(err);
        if self.seen.len() >= REMEMBERED_ERRORS {
            self.seen.clear();
        }
        if self.seen.insert(message.clone()) {
            log::warn!("manager: {message} ({} errors so far)", self.total);
        } else {
            log::debug!("manager: {message}");
        }
    }
}

pub(crate) use shoal_model::error_chain::full_message;

async fn drive<L: Leadership>(leader: Arc<L>) {
    let mut errors = ErrorLog::default();
    let (_, mut changes) = leader.store().snapshot_and_watch();
    loop {
        let mut wake_at = None;
        if leader.is_leader() {
            match pass_once(&*leader).await {
                Ok(outcome) => {
                    outcome.errors.iter().for_each(|err| errors.record(err));
                    wake_at = outcome.wake_at;
                }
                Err(err) => errors.record(&err),
            }
        }
        if wait(&mut changes, wake_at).await {
            changes = leader.store().snapshot_and_watch().1;
        }
    }
}

/// One pass under the write lock: load, compute, propose what changed.
/// Returns when the pass wants to run again and what failed in it.
pub async fn pass_once<L: Leadership>(leader: &L) -> Result<PassOutcome, ManagerError> {
    let _writes = leader.writes().lock().await;
    let (snapshot, _) = leader.store().snapshot_and_watch();
    let before = ClusterTables::load(&snapshot.tables);
    let (after, outcome) = run_pass(&before, now(), &mut shoal_model::ids::new_id);
    let commands = after.diff(&before)?;
    if !commands.is_empty() {
        leader.store().propose(Command::Batch(commands)).await?;
    }
    Ok(outcome)
}

/// Waits for a store change (then lets more arrive for [`DEBOUNCE`]), for
/// `wake_at`, or for [`MAX_IDLE`]. Returns whether the change stream closed
/// and must be taken again.
async fn wait(
    changes: &mut broadcast::Receiver<AppliedChanges>,
    wake_at: Option<Timestamp>,
) -> bool {
    let idle = match wake_at {
        Some(at) => Duration::from_millis(at.0.saturating_sub(now().0)).min(MAX_IDLE),
        None => MAX_IDLE,
    };
    let closed = tokio::select! {
        received = changes.recv() => matches!(received, Err(broadcast::error::RecvError::Closed)),
        () = tokio::time::sleep(idle) => false,
    };
    if closed {
        tokio::time::sleep(idle).await;
        return true;
    }
    tokio::time::sleep(DEBOUNCE).await;
    // Everything that arrived meanwhile is covered by the next pass.
    loop {
        match changes.try_recv() {
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => return false,
        }
    }
}
