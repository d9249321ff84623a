//! Shared support for the data-plane integration tests: a packet builder and
//! the `BPF_PROG_TEST_RUN` fixture harness. Each test binary that says
//! `mod support;` compiles its own copy and uses a subset of it.
#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses a different subset of the support code"
)]

pub mod builder;
pub mod harness;
pub mod lb;
pub mod netns;
pub mod overlay;
pub mod scenario;

pub use builder::{BROADCAST_MAC, ETH_LEN, ETH_MIN_FRAME, IPV4_LEN, Pkt};
pub use harness::{Fixture, Harness, Program, UNDERLAY_PROGRAMS};
pub use lb::LbMaps;
pub use netns::PrivateNetns;
pub use overlay::OverlayMaps;
pub use scenario::Scenario;
