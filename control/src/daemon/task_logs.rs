//! The node's side of `service logs`: a task's output read by the agent
//! (the last lines from the end, or the whole lines after a follower's
//! cursor, at most [`MAX_LOG_CHUNK`] bytes), answered as
//! [`TaskLogsAnswer`] to the manager that asked.

use super::DaemonError;
use super::calls::on_runtime;
use super::core::Active;
use crate::ctl::{LogCursor, MAX_LOG_CHUNK, TaskLogsAnswer};
use crate::runtime::Runtime;
use crate::runtime::log_reader::{LogPosition, RotatedId};

/// The wire cursor of a runtime log position.
fn cursor_of(position: LogPosition) -> LogCursor {
    LogCursor {
        offset: position.offset,
        rotated_len: position.rotated.len,
        rotated_mtime_ns: position.rotated.mtime_ns,
        in_rotated: position.in_rotated,
    }
}

/// The runtime log position of a wire cursor.
fn position_of(cursor: LogCursor) -> LogPosition {
    LogPosition {
        offset: cursor.offset,
        rotated: RotatedId {
            len: cursor.rotated_len,
            mtime_ns: cursor.rotated_mtime_ns,
        },
        in_rotated: cursor.in_rotated,
    }
}

/// Task `task_id`'s output on this node: what came after `after`, else
/// the last `tail` lines (all when `None`).
pub(crate) async fn task_logs(
    active: &Active,
    task_id: String,
    tail: Option<usize>,
    after: Option<LogCursor>,
) -> Result<serde_json::Value, DaemonError> {
    let read = move |runtime: &Runtime| {
        Ok(match after {
            Some(cursor) => crate::agent::task_logs_since(
                runtime,
                &task_id,
                position_of(cursor),
                MAX_LOG_CHUNK,
            )?,
            None => crate::agent::task_logs(runtime, &task_id, tail)?,
        })
    };
    let (text, position) = on_runtime(&active.runtime, "reading task logs", read).await?;
    super::calls::to_json(&TaskLogsAnswer {
        text,
        cursor: cursor_of(position),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_carries_the_whole_position_there_and_back() {
        let position = LogPosition {
            offset: 7,
            rotated: RotatedId {
                len: 11,
                mtime_ns: 13,
            },
            in_rotated: true,
        };
        assert_eq!(position_of(cursor_of(position)), position);
    }
}
