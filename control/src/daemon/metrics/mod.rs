//! Prometheus metrics of one daemon (`shoal daemon --metrics-addr`), off
//! by default. Everything is read at scrape time — the data plane's pinned
//! counters and flow tables, raft's own metrics, the store's tasks and
//! nodes on managers — so nothing is counted twice and nothing runs when
//! nobody scrapes:
//!
//! - `snapshot`: what one scrape reads (and what this node cannot
//!   answer: a worker has no store, a node without a loaded data plane has
//!   no counters);
//! - `encode`: the snapshot in Prometheus' text exposition format, through
//!   `prometheus-client`;
//! - `serve`: the HTTP listener (`GET /metrics`).

mod encode;
mod serve;
mod snapshot;

pub(crate) use serve::serve;
