//! Docker's `filters` query parameter: JSON mapping a filter name to its
//! values, either `{"service": {"web": true}}` (what current clients send)
//! or `{"service": ["web"]}` (older clients).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

/// The query string's `filters`, if any.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FilterQuery {
    #[serde(default)]
    filters: Option<String>,
}

/// Parsed filters: name → accepted values.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Filters(BTreeMap<String, BTreeSet<String>>);

/// A `filters` value that is not Docker's JSON shape.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid filter: {reason}")]
pub(crate) struct FilterError {
    reason: String,
}

impl FilterQuery {
    /// The parsed filters (none given: no filter).
    pub(crate) fn parse(&self) -> Result<Filters, FilterError> {
        let Some(text) = self.filters.as_deref().filter(|t| !t.is_empty()) else {
            return Ok(Filters::default());
        };
        let bad = |reason: &str| FilterError {
            reason: reason.to_owned(),
        };
        let map: BTreeMap<String, Value> =
            serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let mut filters = BTreeMap::new();
        for (name, values) in map {
            let set: BTreeSet<String> = match values {
                Value::Object(values) => values
                    .into_iter()
                    .filter(|(_, on)| on.as_bool() == Some(true))
                    .map(|(v, _)| v)
                    .collect(),
                Value::Array(values) => values
                    .into_iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| bad("values must be strings"))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(bad("each filter must map to values")),
            };
            filters.insert(name, set);
        }
        Ok(Filters(filters))
    }
}

impl Filters {
    /// Whether `name` passes: no such filter, or any of `candidates`
    /// among its values.
    pub(crate) fn accepts<'a>(
        &self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        match self.0.get(name) {
            None => true,
            Some(values) => candidates.into_iter().any(|c| values.contains(c)),
        }
    }

    /// Whether `value` passes a prefix filter `name` (Docker's `id` and
    /// `name` filters match prefixes): no such filter, or a value of it
    /// that `value` starts with.
    pub(crate) fn accepts_prefix(&self, name: &str, value: &str) -> bool {
        match self.0.get(name) {
            None => true,
            Some(values) => values.iter().any(|v| value.starts_with(v.as_str())),
        }
    }

    /// Whether `labels` pass the `label` filter: every value given, `KEY`
    /// (the label is set) or `KEY=VALUE`, holds (Docker's AND).
    pub(crate) fn accepts_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.get("label").is_none_or(|wanted| {
            wanted.iter().all(|w| match w.split_once('=') {
                Some((key, value)) => labels.get(key).is_some_and(|have| have == value),
                None => labels.contains_key(w.as_str()),
            })
        })
    }

    /// Whether filter `name` was given.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The filter names given that are not in `known` (Docker refuses them).
    pub(crate) fn unknown(&self, known: &[&str]) -> Option<String> {
        self.0
            .keys()
            .find(|k| !known.contains(&k.as_str()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Filters, FilterError> {
        FilterQuery {
            filters: Some(text.to_owned()),
        }
        .parse()
    }

    #[test]
    fn both_shapes_parse_and_filter() {
        let new = parse(r#"{"service":{"web":true,"db":false}}"#).unwrap_or_default();
        let old = parse(r#"{"service":["web"]}"#).unwrap_or_default();
        assert_eq!(new, old);
        assert!(new.accepts("service", ["x", "web"]));
        assert!(!new.accepts("service", ["db"]));
        assert!(new.accepts("node", ["anything"]));
        assert_eq!(new.unknown(&["service"]), None);
        assert_eq!(new.unknown(&["node"]), Some("service".to_owned()));
        assert!(parse("not json").is_err());
        assert!(parse(r#"{"service":"web"}"#).is_err());
        assert_eq!(FilterQuery::default().parse(), Ok(Filters::default()));
    }

    #[test]
    fn label_filters_need_every_label_given() {
        let labels = BTreeMap::from([
            ("com.docker.stack.namespace".to_owned(), "app".to_owned()),
            ("tier".to_owned(), "front".to_owned()),
        ]);
        let passes = |text: &str| parse(text).unwrap_or_default().accepts_labels(&labels);
        assert!(passes(
            r#"{"label":{"com.docker.stack.namespace=app":true}}"#
        ));
        assert!(passes(
            r#"{"label":{"tier":true,"com.docker.stack.namespace=app":true}}"#
        ));
        assert!(!passes(
            r#"{"label":{"com.docker.stack.namespace=other":true}}"#
        ));
        assert!(!passes(r#"{"label":{"tier":true,"missing":true}}"#));
        assert!(passes("{}"));
    }
}
