//! Network-namespace labs for shoal's multi-node integration suites.
//!
//! A [`lab::Lab`] is a set of network namespaces joined by a Linux bridge
//! ("the underlay"): one namespace per shoal node plus optional client
//! namespaces. Everything lives inside namespaces the lab creates; nothing is
//! added to the root namespace and no namespace has a route out.
//!
//! It owns the lab harness and kits the suites share. It may depend on
//! `shoal-runtime`, the data plane, and `shoal-ctl`/`shoal-security` (to
//! speak the control RPC as another node would); it runs the `shoal`
//! binary rather than linking the daemon.

pub mod dns_kit;
pub mod docker_kit;
pub mod lab;
pub mod linearizability;
pub mod overlay_kit;
pub mod scenario;
pub mod services_kit;
pub mod skip;
pub mod swarm_kit;

pub use skip::require_root;
