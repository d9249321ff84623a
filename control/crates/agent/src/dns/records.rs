//! [`Records`]: what the embedded resolver knows, built from one
//! assignment (pure), and the answer to one name for one caller.
//!
//! Names live per network: a caller is answered only from the networks
//! its task is attached to, so a service on a network it is not on never
//! resolves for it (Docker's rule).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;

use shoal_model::assignment::{Assignment, LbService};
use shoal_model::spec::EndpointMode;

/// The prefix whose names resolve to a service's task addresses.
const TASKS_PREFIX: &str = "tasks.";

/// The cluster's names as of one assignment.
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// (network, lower-case name) → addresses, in a stable order.
    names: HashMap<(String, String), Vec<Ipv4Addr>>,
    /// Every name of any network: a name here that the caller cannot see
    /// is answered NXDOMAIN, never forwarded.
    known: HashSet<String>,
    /// (network, address) → its name, for PTR queries.
    reverse: HashMap<(String, Ipv4Addr), String>,
    /// This node's tasks (the callers) → the networks they are on.
    callers: HashMap<String, Vec<String>>,
}

/// The resolver's answer to one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The name's addresses on the caller's networks.
    Found(Vec<Ipv4Addr>),
    /// A cluster name without an address for this caller: NXDOMAIN now.
    NxDomain,
    /// Not a cluster name: ask the node's upstream resolvers.
    Forward,
}

impl Records {
    /// The records of `assignment`: every service's name and aliases (to
    /// its VIPs, or to its tasks in dnsrr mode), `tasks.NAME`, and each
    /// running task's name and hostname; draining tasks are left out.
    pub(crate) fn build(assignment: &Assignment) -> Records {
        let mut records = Records::default();
        for service in &assignment.services {
            records.add_service(service);
        }
        for assigned in &assignment.tasks {
            let networks = assigned
                .task
                .networks
                .iter()
                .map(|a| a.network.clone())
                .collect();
            records.callers.insert(assigned.task.id.clone(), networks);
        }
        for addrs in records.names.values_mut() {
            let mut seen = BTreeSet::new();
            addrs.retain(|ip| seen.insert(*ip));
        }
        records
    }

    fn add_service(&mut self, service: &LbService) {
        let aliases = |network: &str| service.aliases.get(network).into_iter().flatten();
        if service.endpoint_mode == EndpointMode::Vip {
            for vip in &service.vips {
                self.add(&vip.network, &service.name, vip.ip);
                for alias in aliases(&vip.network) {
                    self.add(&vip.network, alias, vip.ip);
                }
                self.add_reverse(&vip.network, vip.ip, &service.name);
            }
        }
        for backend in service.backends.iter().filter(|b| !b.draining) {
            let network = backend.network.as_str();
            let ip = backend.ip;
            let mut names = vec![format!("{TASKS_PREFIX}{}", service.name)];
            names.extend(aliases(network).map(|a| format!("{TASKS_PREFIX}{a}")));
            if service.endpoint_mode == EndpointMode::Dnsrr {
                names.push(service.name.clone());
                names.extend(aliases(network).cloned());
            }
            names.push(backend.task_name.clone());
            names.push(backend.hostname.clone());
            for name in names.iter().filter(|n| !n.is_empty()) {
                self.add(network, name, ip);
            }
            self.add_reverse(network, ip, &backend.task_name);
        }
        // A service without running tasks still has cluster names: its
        // `tasks.` name (and a dnsrr name) is NXDOMAIN, not forwarded.
        self.known.insert(format!(
            "{TASKS_PREFIX}{}",
            service.name.to_ascii_lowercase()
        ));
        self.known.insert(service.name.to_ascii_lowercase());
    }

    fn add(&mut self, network: &str, name: &str, ip: Ipv4Addr) {
        let name = name.to_ascii_lowercase();
        self.known.insert(name.clone());
        self.names
            .entry((network.to_owned(), name))
            .or_default()
            .push(ip);
    }

    fn add_reverse(&mut self, network: &str, ip: Ipv4Addr, name: &str) {
        if !name.is_empty() {
            self.reverse
                .entry((network.to_owned(), ip))
                .or_insert_with(|| name.to_owned());
        }
    }

    /// Whether `task_id` is a task of this node the resolver serves.
    pub(crate) fn has_caller(&self, task_id: &str) -> bool {
        self.callers.contains_key(task_id)
    }

    /// The answer to `name` (no trailing dot, any case) for the task
    /// `caller`: the union of its networks' addresses for the name.
    pub(crate) fn lookup(&self, caller: &str, name: &str) -> Lookup {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut found: Vec<Ipv4Addr> = Vec::new();
        for network in self.callers.get(caller).into_iter().flatten() {
            if let Some(addrs) = self.names.get(&(network.clone(), name.clone())) {
                for ip in addrs {
                    if !found.contains(ip) {
                        found.push(*ip);
                    }
                }
            }
        }
        if !found.is_empty() {
            Lookup::Found(found)
        } else if self.is_cluster_name(&name) {
            Lookup::NxDomain
        } else {
            Lookup::Forward
        }
    }

    /// The name of `ip` on one of `caller`'s networks (for PTR).
    pub(crate) fn reverse(&self, caller: &str, ip: Ipv4Addr) -> Option<&str> {
        self.callers
            .get(caller)
            .into_iter()
            .flatten()
            .find_map(|network| self.reverse.get(&(network.clone(), ip)))
            .map(String::as_str)
    }

    /// A name the cluster owns: one of its names on any network, any
    /// `tasks.` name, or a single label (no public name has one; asking
    /// the world would only turn a quick NXDOMAIN into a slow one).
    fn is_cluster_name(&self, name: &str) -> bool {
        self.known.contains(name) || name.starts_with(TASKS_PREFIX) || !name.contains('.')
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
