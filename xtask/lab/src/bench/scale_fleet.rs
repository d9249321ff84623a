//! The simulated nodes of `cargo xtask bench scale` together: one tokio
//! runtime in the simulator's namespace running every node as a task.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use shoal_netns_tests::lab::Node;
use shoal_security::ca::CaDigest;

use super::scale_node::{self, JoinPlan};
use super::scale_stats::Fleet;

/// First advertised address of the simulated nodes: a block outside the
/// lab's underlay that nothing routes (managers never dial workers
/// unless asked for a task's logs, and these run no task).
const SIM_ADDR_BASE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);

/// What the simulated nodes join with.
#[derive(Debug, Clone)]
pub struct FleetPlan {
    /// How many nodes.
    pub nodes: usize,
    /// The worker join token.
    pub token: String,
    /// Its CA digest.
    pub ca_digest: CaDigest,
    /// The managers' control addresses; node `i` joins through `i mod len`.
    pub managers: Vec<String>,
    /// Runtime worker threads.
    pub threads: usize,
}

/// The fleet running in its own thread.
pub struct RunningFleet {
    /// Its counters.
    pub fleet: Arc<Fleet>,
    thread: std::thread::JoinHandle<Result<()>>,
}

impl RunningFleet {
    /// Stops every node (their connections close with the runtime) and
    /// waits for the thread.
    pub fn stop(self) -> Result<()> {
        self.fleet.request_stop();
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the simulator thread panicked"))?
    }
}

/// Starts `plan.nodes` simulated nodes in `netns`'s namespace; they join
/// and run until [`RunningFleet::stop`].
pub fn start(netns: &Node, plan: FleetPlan) -> RunningFleet {
    let fleet = Arc::new(Fleet::new());
    let shared = fleet.clone();
    let netns = netns.clone();
    let thread = std::thread::spawn(move || {
        netns
            .run_in(move || run(plan, shared))
            .context("entering the simulator's namespace")?
    });
    RunningFleet { fleet, thread }
}

/// The runtime, built in the namespace (its worker threads inherit it).
fn run(plan: FleetPlan, fleet: Arc<Fleet>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads.max(1))
        .enable_all()
        .build()
        .context("the simulator's runtime")?;
    runtime.block_on(async {
        for i in 0..plan.nodes {
            let join = JoinPlan {
                token: plan.token.clone(),
                ca_digest: plan.ca_digest,
                manager: plan.managers[i % plan.managers.len()].clone(),
                hostname: format!("sim{i}"),
                advertise: format!("{}:2377", sim_addr(i)),
            };
            tokio::spawn(scale_node::run(join, fleet.clone()));
        }
        while !fleet.stopping() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// The advertised address of simulated node `i`: 198.19.0.1 onwards.
pub fn sim_addr(i: usize) -> Ipv4Addr {
    let offset = u32::try_from(i).unwrap_or(u32::MAX);
    Ipv4Addr::from(u32::from(SIM_ADDR_BASE).saturating_add(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_nodes_get_consecutive_addresses_in_their_block() {
        assert_eq!(sim_addr(0), Ipv4Addr::new(198, 19, 0, 1));
        assert_eq!(sim_addr(254), Ipv4Addr::new(198, 19, 0, 255));
        assert_eq!(sim_addr(255), Ipv4Addr::new(198, 19, 1, 0));
    }
}
