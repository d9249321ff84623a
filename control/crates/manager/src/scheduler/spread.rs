//! Spreading: a tree over placement-preference label values whose leaves
//! are min-heaps of nodes keyed by (tasks of this service, tasks in total).
//!
//! Placing a task walks from the root to a leaf, each time taking the child
//! holding the fewest tasks of the service, then pops the leaf's best node:
//! O(depth · log n) per task instead of rescoring every node.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use shoal_model::spec::SpreadPreference;

use super::state::ClusterState;

/// A node's key in a leaf heap: (service tasks, total tasks, node index).
type NodeKey = (u64, u64, usize);

/// One level of the spread tree.
#[derive(Debug)]
pub(super) enum Branch {
    /// Nodes, best first.
    Leaf(BinaryHeap<Reverse<NodeKey>>),
    /// One child per label value; heap of (service tasks below, child).
    Inner {
        /// Subtrees, one per label value (nodes without it form one more).
        children: Vec<Branch>,
        /// Children that may still take tasks, fewest service tasks first.
        heap: BinaryHeap<Reverse<(u64, usize)>>,
    },
}

impl Branch {
    /// Builds the tree for `nodes` (indices into `cluster`), spreading over
    /// `prefs` in order. Returns the tree and its service-task count.
    pub fn build(
        prefs: &[SpreadPreference],
        nodes: Vec<usize>,
        cluster: &ClusterState<'_>,
        service: &str,
    ) -> (Branch, u64) {
        let Some((pref, rest)) = prefs.split_first() else {
            let keys: Vec<Reverse<NodeKey>> = nodes
                .iter()
                .map(|&at| {
                    let key = (
                        cluster.service_tasks(service, at),
                        cluster.nodes[at].total_tasks,
                        at,
                    );
                    Reverse(key)
                })
                .collect();
            let count = keys.iter().map(|Reverse(key)| key.0).sum();
            return (Branch::Leaf(BinaryHeap::from(keys)), count);
        };
        let mut by_value: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
        for at in nodes {
            let value = pref.value_of(cluster.nodes[at].node);
            by_value.entry(value).or_default().push(at);
        }
        let mut children = Vec::with_capacity(by_value.len());
        let mut heap = BinaryHeap::with_capacity(by_value.len());
        let mut total = 0;
        for (child, group) in by_value.into_values().enumerate() {
            let (branch, count) = Branch::build(rest, group, cluster, service);
            children.push(branch);
            heap.push(Reverse((count, child)));
            total += count;
        }
        (Branch::Inner { children, heap }, total)
    }

    /// Picks a node for one task: the first, in spread order, that `fits`.
    /// Nodes that don't fit are dropped for good (placing identical tasks
    /// only ever makes nodes fit less), so each node is rejected at most
    /// once per group.
    pub fn place(&mut self, fits: &mut impl FnMut(usize) -> bool) -> Option<usize> {
        match self {
            Branch::Leaf(heap) => {
                while let Some(Reverse((service_tasks, total, at))) = heap.pop() {
                    if fits(at) {
                        heap.push(Reverse((service_tasks + 1, total + 1, at)));
                        return Some(at);
                    }
                }
                None
            }
            Branch::Inner { children, heap } => {
                while let Some(Reverse((count, child))) = heap.pop() {
                    if let Some(at) = children[child].place(fits) {
                        heap.push(Reverse((count + 1, child)));
                        return Some(at);
                    }
                }
                None
            }
        }
    }
}
