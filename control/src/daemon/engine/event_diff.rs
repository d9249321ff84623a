//! Docker's swarm events derived from the store's applied changes: a row
//! of the services, nodes, networks, secrets or configs table that
//! appears is a `create`, one that changes an `update`, one that goes a
//! `remove`. What the stream has seen of each object (its name, for the
//! `remove` that no longer carries it, and its last row) is [`Known`].

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cluster::{CONFIGS, NETWORKS, NODES, SECRETS, SERVICES};
use crate::raft::{Change, Tables};

/// The tables that make events, with Docker's event type for each.
const EVENT_TABLES: [(&str, &str); 5] = [
    (SERVICES, "service"),
    (NODES, "node"),
    (NETWORKS, "network"),
    (SECRETS, "secret"),
    (CONFIGS, "config"),
];

/// One event, before it gets its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// Docker's type: `service`, `node`, `network`, `secret`, `config`.
    pub(crate) kind: &'static str,
    /// `create`, `update` or `remove`.
    pub(crate) action: &'static str,
    /// The object's ID.
    pub(crate) id: String,
    /// Its name (a node's hostname).
    pub(crate) name: String,
}

/// The event type of `table`, if its rows make events.
fn kind_of(table: &str) -> Option<&'static str> {
    EVENT_TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, kind)| *kind)
}

/// The name of a row of `kind`, where that kind keeps it.
fn name_of(kind: &str, row: &Value) -> String {
    let name = match kind {
        "service" => &row["spec"]["name"],
        "node" => &row["hostname"],
        _ => &row["name"],
    };
    name.as_str().unwrap_or_default().to_owned()
}

/// Every object of the event tables the stream has seen: (type, ID) →
/// (name, row).
#[derive(Debug, Default)]
pub(crate) struct Known(BTreeMap<(&'static str, String), (String, Value)>);

impl Known {
    /// What `tables` hold now (the stream's starting point: no events).
    pub(crate) fn from_tables(tables: &Tables) -> Known {
        let mut known = Known::default();
        for (table, kind) in EVENT_TABLES {
            for (id, row) in tables.get(table).into_iter().flatten() {
                let entry = (name_of(kind, row), row.clone());
                known.0.insert((kind, id.clone()), entry);
            }
        }
        known
    }

    /// The event `change` makes, if any (a row written unchanged makes
    /// none), remembering the row.
    pub(crate) fn apply(&mut self, change: &Change) -> Option<Event> {
        let kind = kind_of(change.table())?;
        let key = (kind, change.key().to_owned());
        match change {
            Change::Put { value, .. } => {
                let name = name_of(kind, value);
                let before = self.0.insert(key.clone(), (name.clone(), value.clone()));
                let action = match before {
                    None => "create",
                    Some((_, row)) if row == *value => return None,
                    Some(_) => "update",
                };
                Some(event(kind, action, key.1, name))
            }
            Change::Delete { .. } => {
                let (name, _) = self.0.remove(&key)?;
                Some(event(kind, "remove", key.1, name))
            }
        }
    }

    /// The events that bring the stream from what it knew to `tables`
    /// (after it fell behind the store's change feed and missed some).
    pub(crate) fn catch_up(&mut self, tables: &Tables) -> Vec<Event> {
        let now = Known::from_tables(tables);
        let mut events = Vec::new();
        for ((kind, id), (name, row)) in &now.0 {
            match self.0.get(&(*kind, id.clone())) {
                None => events.push(event(kind, "create", id.clone(), name.clone())),
                Some((_, before)) if before != row => {
                    events.push(event(kind, "update", id.clone(), name.clone()));
                }
                Some(_) => {}
            }
        }
        for ((kind, id), (name, _)) in &self.0 {
            if !now.0.contains_key(&(*kind, id.clone())) {
                events.push(event(kind, "remove", id.clone(), name.clone()));
            }
        }
        *self = now;
        events
    }
}

fn event(kind: &'static str, action: &'static str, id: String, name: String) -> Event {
    Event {
        kind,
        action,
        id,
        name,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn put(table: &str, key: &str, value: Value) -> Change {
        Change::Put {
            table: table.to_owned(),
            key: key.to_owned(),
            value,
        }
    }

    fn summary(event: Option<Event>) -> Option<(&'static str, &'static str, String)> {
        event.map(|e| (e.kind, e.action, e.name))
    }

    #[test]
    fn rows_appearing_changing_and_going_are_create_update_remove() {
        let mut known = Known::default();
        let web =
            |replicas: u64| json!({"id": "s1", "spec": {"name": "web", "replicas": replicas}});
        let created = known.apply(&put(SERVICES, "s1", web(1)));
        assert_eq!(summary(created), Some(("service", "create", "web".into())));
        assert_eq!(known.apply(&put(SERVICES, "s1", web(1))), None, "unchanged");
        let updated = known.apply(&put(SERVICES, "s1", web(2)));
        assert_eq!(summary(updated), Some(("service", "update", "web".into())));
        let removed = known.apply(&Change::Delete {
            table: SERVICES.to_owned(),
            key: "s1".to_owned(),
        });
        assert_eq!(
            summary(removed),
            Some(("service", "remove", "web".into())),
            "the remove names what was removed"
        );
        let task = known.apply(&put("tasks", "t1", json!({"id": "t1"})));
        assert_eq!(task, None, "tasks make no events (Docker's neither)");
    }

    #[test]
    fn each_kind_is_named_where_it_keeps_its_name() {
        let mut known = Known::default();
        let node = known.apply(&put(NODES, "n1", json!({"hostname": "n1-host"})));
        assert_eq!(summary(node), Some(("node", "create", "n1-host".into())));
        let config = known.apply(&put(CONFIGS, "c1", json!({"name": "site"})));
        assert_eq!(summary(config), Some(("config", "create", "site".into())));
    }

    #[test]
    fn catching_up_reports_what_changed_meanwhile() {
        let mut tables = Tables::new();
        let mut rows = BTreeMap::new();
        rows.insert("a".to_owned(), json!({"name": "kept"}));
        rows.insert("b".to_owned(), json!({"name": "gone"}));
        tables.insert(NETWORKS.to_owned(), rows.clone());
        let mut known = Known::from_tables(&tables);
        rows.remove("b");
        rows.insert("c".to_owned(), json!({"name": "new"}));
        tables.insert(NETWORKS.to_owned(), rows);
        let mut events: Vec<_> = known
            .catch_up(&tables)
            .into_iter()
            .map(|e| (e.action, e.name))
            .collect();
        events.sort();
        assert_eq!(
            events,
            [("create", "new".to_owned()), ("remove", "gone".to_owned())]
        );
    }
}
