//! Orchestrator tests on a small simulated cluster: the orchestrator, the
//! real scheduler and "agents" that move tasks to their desired state.

mod global;
mod replicated;
mod update;

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::scheduler;
use shoal_model::node::NodeStatus;
use shoal_model::spec::{SchedNode, ServiceMode, ServiceSpec};

/// A service, its nodes and tasks, and a clock.
struct Sim {
    service: Service,
    nodes: Vec<SchedNode>,
    tasks: Vec<Task>,
    now: Timestamp,
    next_id: u64,
}

impl Sim {
    fn new(spec: ServiceSpec, nodes: &[&str]) -> Sim {
        Sim {
            service: Service::new("svc", spec),
            nodes: nodes.iter().map(|id| SchedNode::worker(id)).collect(),
            tasks: Vec::new(),
            now: Timestamp(1_000_000),
            next_id: 0,
        }
    }

    fn replicated(replicas: u64, nodes: &[&str]) -> Sim {
        let mut spec = ServiceSpec::new("web", "nginx:1");
        spec.mode = ServiceMode::Replicated { replicas };
        Sim::new(spec, nodes)
    }

    fn advance(&mut self, by: Duration) {
        self.now = self.now.after(by);
    }

    /// Runs the orchestrator once and applies its actions.
    fn reconcile(&mut self) -> Plan {
        let mut next = self.next_id;
        let mut ids = || {
            next += 1;
            format!("t{next}")
        };
        let plan = reconcile(&self.service, &self.nodes, &self.tasks, self.now, &mut ids)
            .expect("valid service");
        self.next_id = next;
        apply_actions(&mut self.tasks, &plan.actions);
        plan
    }

    /// Runs one update step and applies it (actions and status).
    fn update_step(&mut self) -> UpdateStep {
        let mut next = self.next_id;
        let mut ids = || {
            next += 1;
            format!("t{next}")
        };
        let step = next_update_step(&self.service, &self.tasks, self.now, &mut ids);
        self.next_id = next;
        if let UpdateStep::Advance(actions) = &step {
            apply_actions(&mut self.tasks, actions);
        }
        apply_update_step(&mut self.service, &step, self.now);
        step
    }

    /// Schedules, then lets every agent on a ready node converge.
    fn schedule_and_run(&mut self) {
        let services = BTreeMap::from([(self.service.id.clone(), self.service.clone())]);
        let decisions = scheduler::schedule(&self.nodes, &services, &self.tasks);
        scheduler::apply_decisions(&mut self.tasks, &decisions, self.now);
        let ready: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.status.is_ready())
            .map(|n| n.id.clone())
            .collect();
        for task in &mut self.tasks {
            let on_ready = task.node_id.as_ref().is_some_and(|n| ready.contains(n));
            if !on_ready
                || task.status.state.is_terminal()
                || task.status.state < TaskState::Assigned
            {
                continue;
            }
            let target = task.desired_state;
            if target == TaskState::Shutdown || target > TaskState::Running {
                set_state(task, TaskState::Shutdown, self.now);
            } else if task.status.state != target {
                set_state(task, target, self.now);
            }
        }
    }

    /// Reconcile, schedule and run until nothing changes.
    fn settle(&mut self) {
        for _ in 0..20 {
            let before = self.tasks.clone();
            self.reconcile();
            self.schedule_and_run();
            if self.tasks == before {
                return;
            }
        }
        panic!("did not settle: {:#?}", self.tasks);
    }

    /// Like a driver: reconcile, update step, schedule and run; jump the
    /// clock to the update's wake-up; until the update is over.
    fn drive_update(&mut self) -> Vec<UpdateStep> {
        let mut steps = Vec::new();
        for _ in 0..200 {
            self.reconcile();
            let step = self.update_step();
            steps.push(step.clone());
            match step {
                UpdateStep::Idle => return steps,
                UpdateStep::Wait { until: Some(until) } => self.now = self.now.max(until),
                _ => {}
            }
            self.schedule_and_run();
        }
        panic!("update did not finish: {steps:#?}");
    }

    fn fail(&mut self, task_id: &str, state: TaskState) {
        let now = self.now;
        let task = self
            .tasks
            .iter_mut()
            .find(|t| t.id == task_id)
            .expect("task");
        set_state(task, state, now);
    }

    /// Running tasks per node.
    fn running_per_node(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for task in self
            .tasks
            .iter()
            .filter(|t| t.status.state == TaskState::Running)
        {
            *counts
                .entry(task.node_id.clone().unwrap_or_default())
                .or_default() += 1;
        }
        counts
    }

    /// Slots with a wanted task, ascending.
    fn wanted_slots(&self) -> Vec<u64> {
        let mut slots: Vec<u64> = self
            .tasks
            .iter()
            .filter(|t| t.is_wanted())
            .map(|t| t.slot)
            .collect();
        slots.sort_unstable();
        slots.dedup();
        slots
    }

    /// The one wanted task of `slot`.
    fn in_slot(&self, slot: u64) -> &Task {
        let wanted: Vec<&Task> = self
            .tasks
            .iter()
            .filter(|t| t.is_wanted() && t.slot == slot)
            .collect();
        assert_eq!(wanted.len(), 1, "slot {slot}: {wanted:#?}");
        wanted[0]
    }

    fn node_mut(&mut self, id: &str) -> &mut SchedNode {
        self.nodes.iter_mut().find(|n| n.id == id).expect("node")
    }
}

fn set_state(task: &mut Task, state: TaskState, now: Timestamp) {
    task.status.state = state;
    task.status.timestamp = now;
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}
