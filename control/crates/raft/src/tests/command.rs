//! Applying commands and diffing tables.

use std::collections::BTreeMap;

use serde_json::json;

use super::cluster::put;
use crate::command::{apply_changes, apply_command, diff_tables};
use crate::{Change, Command, Tables};

fn run(tables: &Tables, command: Command) -> Vec<Change> {
    let mut overlay = BTreeMap::new();
    let mut changes = Vec::new();
    apply_command(tables, &mut overlay, command, &mut changes);
    changes
}

#[test]
fn a_batch_sees_its_own_earlier_writes() {
    let tables = Tables::new();
    let changes = run(
        &tables,
        Command::Batch(vec![
            put("t", "k", json!(1)),
            Command::Delete {
                table: "t".to_owned(),
                key: "k".to_owned(),
            },
            Command::Delete {
                table: "t".to_owned(),
                key: "k".to_owned(),
            },
        ]),
    );
    assert_eq!(
        changes.len(),
        2,
        "the second delete changes nothing: {changes:?}"
    );
    let mut applied = tables.clone();
    apply_changes(&mut applied, &changes);
    assert!(applied.is_empty(), "an emptied table disappears");
}

#[test]
fn deleting_a_missing_key_changes_nothing() {
    let mut tables = Tables::new();
    apply_changes(&mut tables, &run(&Tables::new(), put("t", "a", json!(1))));
    let changes = run(
        &tables,
        Command::Delete {
            table: "t".to_owned(),
            key: "b".to_owned(),
        },
    );
    assert!(changes.is_empty());
}

#[test]
fn the_diff_turns_old_into_new() {
    let mut old = Tables::new();
    apply_changes(
        &mut old,
        &run(
            &Tables::new(),
            Command::Batch(vec![
                put("t", "same", json!(1)),
                put("t", "gone", json!(2)),
                put("t", "changed", json!(3)),
            ]),
        ),
    );
    let mut new = Tables::new();
    apply_changes(
        &mut new,
        &run(
            &Tables::new(),
            Command::Batch(vec![
                put("t", "same", json!(1)),
                put("t", "changed", json!(4)),
                put("u", "added", json!(5)),
            ]),
        ),
    );
    let diff = diff_tables(&old, &new);
    assert_eq!(diff.len(), 3, "{diff:?}");
    let mut patched = old.clone();
    apply_changes(&mut patched, &diff);
    assert_eq!(patched, new);
}
