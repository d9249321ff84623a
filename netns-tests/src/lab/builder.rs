//! [`LabBuilder`]: how many nodes, then `build()`.

use super::lab_impl::{Lab, LabError};
use super::naming::{LabId, MAX_NODES, NameError};
use super::teardown;

impl Lab {
    /// Starts configuring a new lab (here, not beside `Lab`, so the lab does
    /// not import its builder back).
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }
}

/// How many times to draw a fresh id if the drawn one is already in use.
const ID_ATTEMPTS: usize = 8;

/// Configures and creates a [`Lab`]; obtain with [`Lab::builder`].
#[derive(Debug, Clone)]
pub struct LabBuilder {
    nodes: usize,
    id: Option<LabId>,
}

impl Default for LabBuilder {
    fn default() -> Self {
        Self { nodes: 1, id: None }
    }
}

impl LabBuilder {
    /// Number of shoal nodes (`n1..=nN`); default 1.
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// Uses a fixed lab id instead of a random one (it must not be in use).
    pub fn id(mut self, id: LabId) -> Self {
        self.id = Some(id);
        self
    }

    /// Creates the switch, the nodes and their state directories. On error,
    /// whatever was already created is torn down again.
    pub fn build(self) -> Result<Lab, LabError> {
        if self.nodes > MAX_NODES {
            return Err(NameError::NodeIndexOutOfRange(self.nodes).into());
        }
        let id = match self.id {
            Some(id) if teardown::lab_netns(&id)?.is_empty() => id,
            Some(id) => return Err(LabError::IdInUse(id)),
            None => fresh_id()?,
        };
        // `Lab` owns the teardown from here on, so a failure below cleans up.
        let mut lab = Lab::empty(id);
        lab.create_switch()?;
        for index in 1..=self.nodes {
            lab.add_node(index)?;
        }
        Ok(lab)
    }
}

fn fresh_id() -> Result<LabId, LabError> {
    let mut id = LabId::generate();
    for _ in 1..ID_ATTEMPTS {
        if teardown::lab_netns(&id)?.is_empty() && !id.state_root().exists() {
            return Ok(id);
        }
        id = LabId::generate();
    }
    Err(LabError::IdInUse(id))
}
