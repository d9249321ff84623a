//! shoal's developer tasks, the light half: what `cargo xtask` needs before
//! anything is installed (setup, running commands). It must never depend on
//! a crate that builds eBPF, so that `cargo xtask setup` compiles on a fresh
//! machine; `cargo xtask test` checks that (see `bootstrap`).

pub mod bootstrap;
pub mod cycles;
pub mod deb;
pub mod layers;
pub mod setup;
pub mod sh;
