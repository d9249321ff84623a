//! Tests of the replicated store.

mod storage_suite;
