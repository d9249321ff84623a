//! A linearizability checker for one register (Wing & Gong's search with
//! Lowe's memoisation): small histories of reads and writes of unique
//! values, each with invoke and complete times.
//!
//! A write whose outcome is unknown (timed out, failed after it may have
//! been proposed) has no completion: it may take effect at any point after
//! its invocation, or never. Failed reads have no effect and are left out
//! of a history by whoever records it.

use std::collections::HashSet;

/// The largest history the checker takes (one bit per operation).
pub const MAX_OPS: usize = 128;

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Wrote this value.
    Write(u64),
    /// Read this value (`None`: the register was never written).
    Read(Option<u64>),
}

/// One operation of a history. Times are from any one monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// What it did.
    pub kind: OpKind,
    /// When the client invoked it.
    pub invoke: u64,
    /// When the client saw it acknowledged; `None`: outcome unknown
    /// (only for writes).
    pub complete: Option<u64>,
}

impl Op {
    /// An acknowledged write.
    pub fn write(value: u64, invoke: u64, complete: u64) -> Self {
        Self {
            kind: OpKind::Write(value),
            invoke,
            complete: Some(complete),
        }
    }

    /// A write whose outcome is unknown.
    pub fn unknown_write(value: u64, invoke: u64) -> Self {
        Self {
            kind: OpKind::Write(value),
            invoke,
            complete: None,
        }
    }

    /// A completed read.
    pub fn read(value: Option<u64>, invoke: u64, complete: u64) -> Self {
        Self {
            kind: OpKind::Read(value),
            invoke,
            complete: Some(complete),
        }
    }
}

/// Why a history was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// No order of the operations explains what the reads saw.
    #[error("the history is not linearizable ({ops} operations, {states} states searched)")]
    NotLinearizable {
        /// Operations in the history.
        ops: usize,
        /// Search states visited.
        states: usize,
    },
    /// Too many operations for the checker.
    #[error("history of {0} operations is larger than {MAX_OPS}")]
    TooLarge(usize),
    /// An operation with an unknown outcome that is not a write.
    #[error("operation {0} is a read without a completion")]
    IncompleteRead(usize),
}

/// Finds a linearization of `history`: the indices of the operations in
/// an order that respects real time and register semantics. Unknown
/// writes that never took effect are left out of it.
pub fn check(history: &[Op]) -> Result<Vec<usize>, CheckError> {
    if history.len() > MAX_OPS {
        return Err(CheckError::TooLarge(history.len()));
    }
    if let Some(i) = history
        .iter()
        .position(|op| op.complete.is_none() && matches!(op.kind, OpKind::Read(_)))
    {
        return Err(CheckError::IncompleteRead(i));
    }
    let required: u128 = history
        .iter()
        .enumerate()
        .filter(|(_, op)| op.complete.is_some())
        .fold(0, |bits, (i, _)| bits | 1 << i);
    let mut search = Search {
        history,
        required,
        seen: HashSet::new(),
        order: Vec::new(),
    };
    if search.step(0, None) {
        Ok(search.order)
    } else {
        Err(CheckError::NotLinearizable {
            ops: history.len(),
            states: search.seen.len(),
        })
    }
}

struct Search<'a> {
    history: &'a [Op],
    required: u128,
    seen: HashSet<(u128, Option<u64>)>,
    order: Vec<usize>,
}

impl Search<'_> {
    /// Depth-first: `done` operations are linearized, the register holds
    /// `value`.
    fn step(&mut self, done: u128, value: Option<u64>) -> bool {
        if done & self.required == self.required {
            return true;
        }
        if !self.seen.insert((done, value)) {
            return false;
        }
        // No pending operation may start after one still pending completed.
        let horizon = self
            .history
            .iter()
            .enumerate()
            .filter(|(i, _)| done & (1 << i) == 0)
            .filter_map(|(_, op)| op.complete)
            .min()
            .unwrap_or(u64::MAX);
        for (i, op) in self.history.iter().enumerate() {
            if done & (1 << i) != 0 || op.invoke > horizon {
                continue;
            }
            let next = match op.kind {
                OpKind::Write(v) => Some(v),
                OpKind::Read(seen) if seen == value => value,
                OpKind::Read(_) => continue,
            };
            self.order.push(i);
            if self.step(done | 1 << i, next) {
                return true;
            }
            self.order.pop();
        }
        false
    }
}

/// Acknowledged writes missing from `order`, a linearization of
/// `history`. In a register's linearization every write but the last is
/// overwritten by a later one, so a write is lost exactly when it is not
/// linearized; end the history with a read of the final value to make
/// "the last write is the final value" part of the check.
pub fn lost_acked_writes(history: &[Op], order: &[usize]) -> Vec<u64> {
    history
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match (op.kind, op.complete) {
            (OpKind::Write(v), Some(_)) if !order.contains(&i) => Some(v),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[path = "linearizability_tests.rs"]
mod tests;
