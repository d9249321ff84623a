//! Tests of the replicated store.

mod at_rest;
mod authz;
mod cluster;
mod command;
mod membership;
mod replication;
mod storage_suite;
mod watch;
