//! Group commit of the agents' task reports: every report batch that
//! arrives while the leader's write lock is taken waits in a
//! [`ReportQueue`]; whoever gets the lock next takes every waiting batch,
//! applies them all and proposes them as one raft entry, then answers each.
//! The number of raft entries then grows with how often the lock frees up,
//! not with the number of reporting nodes, and no node waits behind a
//! queue of proposals one per node.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use shoal_model::cluster::TASKS;
use shoal_model::spec::{Task, TaskReport};
use shoal_raft::Command;

use super::status::apply_report;
use super::tables::put;
use super::{Leadership, ManagerError, driver};

/// What one report call gets back: how many of its tasks moved.
type Reply = Result<usize, Arc<ManagerError>>;

/// One node's report batch, waiting for a commit.
struct Waiting {
    node_id: String,
    reports: Vec<TaskReport>,
    reply: oneshot::Sender<Reply>,
}

/// Report batches waiting for the write lock.
#[derive(Default)]
pub struct ReportQueue {
    waiting: Mutex<Vec<Waiting>>,
}

impl ReportQueue {
    /// Batches waiting now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Records the reports of the agent of `node_id` (on the leader), in one
/// raft entry with every other batch waiting meanwhile. Reports of unknown
/// tasks or of tasks assigned elsewhere are ignored. Returns how many of
/// this node's tasks changed.
pub async fn record_reports<L: Leadership>(
    leader: &L,
    node_id: &str,
    reports: &[TaskReport],
) -> Result<usize, ManagerError> {
    let (reply, mut answer) = oneshot::channel();
    leader.reports().lock().push(Waiting {
        node_id: node_id.to_owned(),
        reports: reports.to_vec(),
        reply,
    });
    let writes = leader.writes().lock().await;
    // Another caller may have committed this batch while we waited.
    if let Ok(done) = answer.try_recv() {
        return done.map_err(ManagerError::Shared);
    }
    let batch = std::mem::take(&mut *leader.reports().lock());
    let outcome = commit(leader, &batch).await;
    drop(writes);
    match outcome {
        Ok(counts) => {
            for (waiting, count) in batch.into_iter().zip(counts) {
                let _ = waiting.reply.send(Ok(count));
            }
        }
        Err(err) => {
            let err = Arc::new(err);
            for waiting in batch {
                let _ = waiting.reply.send(Err(err.clone()));
            }
        }
    }
    match answer.await {
        Ok(done) => done.map_err(ManagerError::Shared),
        // Taken by a call that was cancelled before it answered.
        Err(_) => Err(ManagerError::ReportsLost),
    }
}

/// Applies every waiting batch to the stored tasks and proposes the moved
/// ones in one entry; how many tasks each batch moved.
async fn commit<L: Leadership>(leader: &L, batch: &[Waiting]) -> Result<Vec<usize>, ManagerError> {
    let now = driver::now();
    let mut changed: BTreeMap<String, Task> = BTreeMap::new();
    let mut counts = Vec::with_capacity(batch.len());
    for waiting in batch {
        let mut count = 0;
        for report in &waiting.reports {
            let stored = changed
                .get(&report.task_id)
                .cloned()
                .or_else(|| read_task(leader, &report.task_id));
            let Some(mut task) = stored else {
                continue;
            };
            if apply_report(&mut task, &waiting.node_id, report, now) {
                count += 1;
                changed.insert(task.id.clone(), task);
            }
        }
        counts.push(count);
    }
    if !changed.is_empty() {
        let commands = changed
            .values()
            .map(|task| put(TASKS, &task.id, task))
            .collect::<Result<Vec<Command>, ManagerError>>()?;
        leader.store().propose(Command::Batch(commands)).await?;
    }
    Ok(counts)
}

fn read_task<L: Leadership>(leader: &L, id: &str) -> Option<Task> {
    let value = leader.store().read(TASKS, id)?;
    serde_json::from_value::<Task>(value)
        .inspect_err(|err| log::warn!("task status: task row {id}: {err}"))
        .ok()
}
