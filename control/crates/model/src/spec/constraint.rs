//! Placement constraints (`node.labels.zone==a`) and spread preferences
//! (`spread=node.labels.zone`).

use std::fmt;
use std::str::FromStr;

use super::{SchedNode, SpecError};

/// One parsed placement constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// What of the node is compared.
    pub key: ConstraintKey,
    /// Equal or not equal.
    pub op: ConstraintOp,
    /// The value compared against (case-insensitively, as Swarm does).
    pub value: String,
}

/// The node attribute a constraint looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKey {
    /// `node.id`.
    NodeId,
    /// `node.hostname`.
    Hostname,
    /// `node.role` (`manager` / `worker`).
    Role,
    /// `node.labels.<name>`; a missing label compares as the empty string.
    Label(String),
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintOp {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
}

const LABEL_PREFIX: &str = "node.labels.";

impl FromStr for Constraint {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Constraint, SpecError> {
        let bad_operator = || SpecError::ConstraintOperator {
            constraint: text.to_owned(),
        };
        let (key, op, value) = match (text.split_once("=="), text.split_once("!=")) {
            (Some((key, value)), None) => (key, ConstraintOp::Eq, value),
            (None, Some((key, value))) => (key, ConstraintOp::Ne, value),
            _ => return Err(bad_operator()),
        };
        if value.contains("==") || value.contains("!=") {
            return Err(bad_operator());
        }
        let (key, value) = (key.trim(), value.trim());
        let key = parse_key(key)?;
        if value.is_empty() || !value.chars().all(valid_value_char) {
            return Err(SpecError::ConstraintValue {
                value: value.to_owned(),
            });
        }
        Ok(Constraint {
            key,
            op,
            value: value.to_owned(),
        })
    }
}

fn valid_value_char(c: char) -> bool {
    c.is_alphanumeric() || "-_.:/@".contains(c)
}

fn parse_key(key: &str) -> Result<ConstraintKey, SpecError> {
    let lower = key.to_ascii_lowercase();
    match lower.as_str() {
        "node.id" => Ok(ConstraintKey::NodeId),
        "node.hostname" => Ok(ConstraintKey::Hostname),
        "node.role" => Ok(ConstraintKey::Role),
        _ => match key.get(..LABEL_PREFIX.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(LABEL_PREFIX) => {
                let label = &key[LABEL_PREFIX.len()..];
                if label.is_empty() || !label.chars().all(valid_value_char) {
                    return Err(SpecError::ConstraintKey {
                        key: key.to_owned(),
                    });
                }
                Ok(ConstraintKey::Label(label.to_owned()))
            }
            _ => Err(SpecError::ConstraintKey {
                key: key.to_owned(),
            }),
        },
    }
}

impl Constraint {
    /// Parses every constraint of a list.
    pub fn parse_all(constraints: &[String]) -> Result<Vec<Constraint>, SpecError> {
        constraints.iter().map(|text| text.parse()).collect()
    }

    /// Whether `node` satisfies this constraint.
    pub fn matches(&self, node: &SchedNode) -> bool {
        let actual = match &self.key {
            ConstraintKey::NodeId => node.id.as_str(),
            ConstraintKey::Hostname => node.hostname.as_str(),
            ConstraintKey::Role => node.role.as_str(),
            ConstraintKey::Label(label) => node.labels.get(label).map_or("", String::as_str),
        };
        let equal = actual.eq_ignore_ascii_case(&self.value);
        equal == (self.op == ConstraintOp::Eq)
    }

    /// Whether `node` satisfies all of `constraints`.
    pub fn all_match(constraints: &[Constraint], node: &SchedNode) -> bool {
        constraints
            .iter()
            .all(|constraint| constraint.matches(node))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            ConstraintKey::NodeId => f.write_str("node.id")?,
            ConstraintKey::Hostname => f.write_str("node.hostname")?,
            ConstraintKey::Role => f.write_str("node.role")?,
            ConstraintKey::Label(label) => write!(f, "{LABEL_PREFIX}{label}")?,
        }
        let op = match self.op {
            ConstraintOp::Eq => "==",
            ConstraintOp::Ne => "!=",
        };
        write!(f, "{op}{}", self.value)
    }
}

/// A `spread=node.labels.<name>` placement preference: tasks are spread
/// evenly over the label's values first (nodes without the label form one
/// more group), then over the nodes within a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpreadPreference {
    /// The label whose values are spread over.
    pub label: String,
}

impl FromStr for SpreadPreference {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<SpreadPreference, SpecError> {
        let Some((strategy, descriptor)) = text.split_once('=') else {
            return Err(SpecError::PreferenceSyntax {
                preference: text.to_owned(),
            });
        };
        if !strategy.trim().eq_ignore_ascii_case("spread") {
            return Err(SpecError::UnknownPreference {
                strategy: strategy.to_owned(),
            });
        }
        match parse_key(descriptor.trim()) {
            Ok(ConstraintKey::Label(label)) => Ok(SpreadPreference { label }),
            _ => Err(SpecError::SpreadDescriptor {
                descriptor: descriptor.to_owned(),
            }),
        }
    }
}

impl SpreadPreference {
    /// Parses every preference of a list.
    pub fn parse_all(preferences: &[String]) -> Result<Vec<SpreadPreference>, SpecError> {
        preferences.iter().map(|text| text.parse()).collect()
    }

    /// The node's value of the label (`None` when it has no such label).
    pub fn value_of<'n>(&self, node: &'n SchedNode) -> Option<&'n str> {
        node.labels.get(&self.label).map(String::as_str)
    }
}
