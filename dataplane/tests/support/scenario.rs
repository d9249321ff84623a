//! A scenario: several fixtures run in order against one map setup, with
//! the flow state the programs leave between them (conntrack, replies)
//! kept and readable, for behaviour that spans packets — a flow's second
//! packet, a reply, a TCP close.

use aya::Ebpf;
use shoal_common::lb::{CtEntry, FlowKey, ReplyEntry};

use super::{
    harness::{Fixture, Harness, MapSetup, Program, Ran},
    lb::LbMaps,
};

/// One map setup applied for a sequence of runs; undone on drop.
pub struct Scenario<'h> {
    harness: &'h mut Harness,
    setup: Box<dyn MapSetup>,
    name: &'static str,
}

impl<'h> Scenario<'h> {
    /// Apply `setup` for a scenario called `name` (printed on failure).
    pub fn start(
        harness: &'h mut Harness,
        name: &'static str,
        setup: impl MapSetup + 'static,
    ) -> Self {
        if let Err(e) = setup.apply(harness.ebpf()) {
            let _ = setup.undo(harness.ebpf());
            panic!("scenario {name:?}: map setup failed: {e}");
        }
        Self {
            harness,
            setup: Box::new(setup),
            name,
        }
    }

    /// Run `fixture` (whose own map setup should be empty) on `prog`; panic
    /// with the report if anything differs. Returns the program's output.
    pub fn run(&mut self, prog: Program, fixture: &Fixture) -> Vec<u8> {
        let (result, output) = self.harness.run_capturing(fixture, prog);
        if let Err(report) = result {
            panic!("scenario {:?}: {report}", self.name);
        }
        output.unwrap_or_else(|| panic!("scenario {:?}: no output", self.name))
    }

    /// Run `fixture` on `prog` and hand back the report and the output
    /// without panicking, for callers that explain a failure better.
    pub fn harness_run(
        &mut self,
        prog: Program,
        fixture: &Fixture,
    ) -> (Result<Ran, String>, Option<Vec<u8>>) {
        self.harness.run_capturing(fixture, prog)
    }

    /// The loaded object.
    pub fn ebpf(&mut self) -> &mut Ebpf {
        self.harness.ebpf()
    }

    /// The conntrack entry for `key`; panics if there is none.
    pub fn ct(&mut self, key: &FlowKey) -> CtEntry {
        let name = self.name;
        LbMaps::conntrack(self.ebpf(), key)
            .unwrap_or_else(|| panic!("scenario {name:?}: no conntrack entry for {key:?}"))
    }

    /// The reply entry for `key`, if any.
    pub fn reply(&mut self, key: &FlowKey) -> Option<ReplyEntry> {
        LbMaps::reply_entry(self.ebpf(), key)
    }
}

impl Drop for Scenario<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.setup.undo(self.harness.ebpf()) {
            eprintln!("scenario {:?}: map teardown failed: {e}", self.name);
        }
    }
}
