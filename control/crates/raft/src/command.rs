//! What the replicated store stores and how proposals change it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole store: table name → key → JSON value.
pub type Tables = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

/// A change proposed through raft; applied in log order on every manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Sets `table/key` to `value` (creating the table if needed).
    Put {
        /// Table name.
        table: String,
        /// Key within the table.
        key: String,
        /// New value.
        value: serde_json::Value,
    },
    /// Removes `table/key`; removing a missing key changes nothing.
    Delete {
        /// Table name.
        table: String,
        /// Key within the table.
        key: String,
    },
    /// Several commands applied atomically, in order, in one log entry.
    Batch(Vec<Command>),
}

/// What applying a log entry returns to the proposer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The log index the command was applied at.
    pub index: u64,
}

/// One effective change to the tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// `table/key` now holds `value`.
    Put {
        /// Table name.
        table: String,
        /// Key within the table.
        key: String,
        /// The new value.
        value: serde_json::Value,
    },
    /// `table/key` was removed.
    Delete {
        /// Table name.
        table: String,
        /// Key within the table.
        key: String,
    },
}

impl Change {
    /// The table this change belongs to.
    pub fn table(&self) -> &str {
        match self {
            Change::Put { table, .. } | Change::Delete { table, .. } => table,
        }
    }

    /// The key this change belongs to.
    pub fn key(&self) -> &str {
        match self {
            Change::Put { key, .. } | Change::Delete { key, .. } => key,
        }
    }
}

/// The changes one log entry (or one installed snapshot) made, as sent to
/// watchers.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedChanges {
    /// The log index whose application made these changes.
    pub index: u64,
    /// The changes, in order.
    pub changes: Vec<Change>,
}

/// Applies `command` on top of `tables` (read-only) plus `overlay` (the
/// writes earlier in the same apply batch), recording the effective changes.
///
/// `overlay` maps `(table, key)` to the value after the batch so far
/// (`None` = deleted), so a delete after a put in the same batch is seen.
pub(crate) fn apply_command(
    tables: &Tables,
    overlay: &mut BTreeMap<(String, String), Option<serde_json::Value>>,
    command: Command,
    changes: &mut Vec<Change>,
) {
    match command {
        Command::Put { table, key, value } => {
            overlay.insert((table.clone(), key.clone()), Some(value.clone()));
            changes.push(Change::Put { table, key, value });
        }
        Command::Delete { table, key } => {
            let slot = (table, key);
            let exists = match overlay.get(&slot) {
                Some(current) => current.is_some(),
                None => tables
                    .get(&slot.0)
                    .is_some_and(|rows| rows.contains_key(&slot.1)),
            };
            if exists {
                let (table, key) = slot.clone();
                overlay.insert(slot, None);
                changes.push(Change::Delete { table, key });
            }
        }
        Command::Batch(commands) => {
            for command in commands {
                apply_command(tables, overlay, command, changes);
            }
        }
    }
}

/// Applies effective changes to the in-memory tables.
pub(crate) fn apply_changes(tables: &mut Tables, changes: &[Change]) {
    for change in changes {
        match change {
            Change::Put { table, key, value } => {
                tables
                    .entry(table.clone())
                    .or_default()
                    .insert(key.clone(), value.clone());
            }
            Change::Delete { table, key } => {
                if let Some(rows) = tables.get_mut(table) {
                    rows.remove(key);
                    if rows.is_empty() {
                        tables.remove(table);
                    }
                }
            }
        }
    }
}

/// The changes that turn `old` into `new` (used when a snapshot replaces the
/// state machine, so watchers still see a stream of changes).
pub(crate) fn diff_tables(old: &Tables, new: &Tables) -> Vec<Change> {
    let mut changes = Vec::new();
    for (table, rows) in old {
        for key in rows.keys() {
            let still_there = new.get(table).is_some_and(|r| r.contains_key(key));
            if !still_there {
                changes.push(Change::Delete {
                    table: table.clone(),
                    key: key.clone(),
                });
            }
        }
    }
    for (table, rows) in new {
        for (key, value) in rows {
            let old_value = old.get(table).and_then(|r| r.get(key));
            if old_value != Some(value) {
                changes.push(Change::Put {
                    table: table.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
    }
    changes
}
