//! Table-driven packet fixtures through `BPF_PROG_TEST_RUN` (DESIGN.md §4.2).
//!
//! A [`Harness`] loads the embedded object once, with its maps pinned under a
//! throwaway node (`/sys/fs/bpf/shoal/fixture-<pid>-<n>`, removed when the
//! harness drops, panics included), loads every program into the kernel (so
//! the verifier's verdict on each is checked by every fixture binary) and
//! runs every [`Fixture`] of a table through the [`Program`]s the table
//! names. For each run it checks the verdict, the output bytes and the exact
//! counter deltas: every counter a fixture does not name must stay
//! unchanged, so a drop counted under the wrong reason fails. All fixtures run; the failures are reported
//! together at the end.
//!
//! TC fixtures can name the ingress device ([`Fixture::on_ifindex`]): the
//! harness then passes a `struct __sk_buff` with `ifindex` set as the test
//! run's context. The kernel resolves it to a device of the calling thread's
//! network namespace (ifindex 1 and 0 mean its loopback; any other must
//! exist, or the run fails with ENODEV) and the program reads that device's
//! index as `skb->ifindex`. [`netns::PrivateNetns`](super::netns) gives a
//! test thread a namespace of its own with veth devices to name.
//!
//! Some inputs the kernel will not hand to a program at all (a test run
//! answers EINVAL: frames under 14 bytes, and on 6.18 skb runs of IPv4
//! frames under 34 bytes). A fixture names the hooks where that is allowed;
//! the refusal is then printed as a note, anywhere else it is a failure.
//!
//! `SHOAL_FIXTURE=<substring>` runs only the fixtures whose description
//! contains it.

use std::{
    error::Error,
    fmt::Write as _,
    io,
    sync::atomic::{AtomicU32, Ordering},
};

use aya::{
    Ebpf, TestRun, TestRunOptions,
    programs::{SchedClassifier, Xdp},
};
use shoal_common::{DropReason, Stat, maps::programs};
use shoal_dataplane::{Hook, PinPaths, StatsReport, object::Loaded, stats::read_stats_loaded};

/// A program of the object that fixtures can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// `shoal_underlay_xdp`.
    UnderlayXdp,
    /// `shoal_underlay_tc`.
    UnderlayTc,
    /// `shoal_task_tc`.
    TaskTc,
    /// `shoal_wg_tc`.
    WgTc,
}

impl Program {
    /// Every program, in load order.
    pub const ALL: [Program; 4] = [
        Program::UnderlayXdp,
        Program::UnderlayTc,
        Program::TaskTc,
        Program::WgTc,
    ];

    /// The program's name in the object.
    pub fn name(self) -> &'static str {
        match self {
            Program::UnderlayXdp => programs::UNDERLAY_XDP,
            Program::UnderlayTc => programs::UNDERLAY_TC,
            Program::TaskTc => programs::TASK_TC,
            Program::WgTc => programs::WG_TC,
        }
    }

    /// The hook type it runs at, which decides how verdicts are encoded.
    pub fn hook(self) -> Hook {
        match self {
            Program::UnderlayXdp => Hook::Xdp,
            Program::UnderlayTc | Program::TaskTc | Program::WgTc => Hook::Tc,
        }
    }
}

/// The underlay receive path at both hooks: tables of checks that must hold
/// for XDP and TC alike.
pub const UNDERLAY_PROGRAMS: [Program; 2] = [Program::UnderlayXdp, Program::UnderlayTc];

/// What the program decided, independent of the hook's encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Handed on to the stack (`XDP_PASS`, `TC_ACT_OK`).
    Pass,
    /// Dropped (`XDP_DROP`, `TC_ACT_SHOT`).
    Drop,
    /// Taken by a redirect helper (`XDP_REDIRECT`, `TC_ACT_REDIRECT`).
    Redirect,
}

impl Verdict {
    /// The program's return value for this verdict on `hook`.
    pub fn code(self, hook: Hook) -> u32 {
        match (hook, self) {
            (Hook::Xdp, Verdict::Pass) => 2,     // XDP_PASS
            (Hook::Xdp, Verdict::Drop) => 1,     // XDP_DROP
            (Hook::Xdp, Verdict::Redirect) => 4, // XDP_REDIRECT
            (Hook::Tc, Verdict::Pass) => 0,      // TC_ACT_OK
            (Hook::Tc, Verdict::Drop) => 2,      // TC_ACT_SHOT
            (Hook::Tc, Verdict::Redirect) => 7,  // TC_ACT_REDIRECT
        }
    }
}

/// A readable name for a return value of `hook`.
fn code_name(hook: Hook, code: u32) -> &'static str {
    match (hook, code) {
        (Hook::Xdp, 0) => "XDP_ABORTED",
        (Hook::Xdp, 1) => "XDP_DROP",
        (Hook::Xdp, 2) => "XDP_PASS",
        (Hook::Xdp, 3) => "XDP_TX",
        (Hook::Xdp, 4) => "XDP_REDIRECT",
        (Hook::Tc, 0) => "TC_ACT_OK",
        (Hook::Tc, 2) => "TC_ACT_SHOT",
        (Hook::Tc, 7) => "TC_ACT_REDIRECT",
        (Hook::Tc, u32::MAX) => "TC_ACT_UNSPEC",
        _ => "?",
    }
}

/// Map entries a fixture needs before its packet runs (endpoints, services,
/// ...). `undo` must leave the maps as `apply` found them, so fixtures do not
/// leak state into each other; both run around every hook's run.
pub trait MapSetup {
    /// Write the fixture's entries.
    fn apply(&self, ebpf: &mut Ebpf) -> Result<(), Box<dyn Error>>;
    /// Remove them again.
    fn undo(&self, ebpf: &mut Ebpf) -> Result<(), Box<dyn Error>>;
}

/// The empty setup: no configuration map entries at all.
pub struct NoMaps;

impl MapSetup for NoMaps {
    fn apply(&self, _: &mut Ebpf) -> Result<(), Box<dyn Error>> {
        Ok(())
    }
    fn undo(&self, _: &mut Ebpf) -> Result<(), Box<dyn Error>> {
        Ok(())
    }
}

/// Two setups applied in order and undone in reverse order.
impl<A: MapSetup, B: MapSetup> MapSetup for (A, B) {
    fn apply(&self, ebpf: &mut Ebpf) -> Result<(), Box<dyn Error>> {
        self.0.apply(ebpf)?;
        if let Err(e) = self.1.apply(ebpf) {
            let _ = self.0.undo(ebpf);
            return Err(e);
        }
        Ok(())
    }
    fn undo(&self, ebpf: &mut Ebpf) -> Result<(), Box<dyn Error>> {
        let second = self.1.undo(ebpf);
        self.0.undo(ebpf)?;
        second
    }
}

/// One row of a fixture table.
pub struct Fixture {
    /// What the packet is and why the verdict is right; printed on failure.
    pub description: &'static str,
    /// The frame handed to the program.
    pub input: Vec<u8>,
    /// Map entries around the run.
    pub maps: Box<dyn MapSetup>,
    /// Expected verdict.
    pub verdict: Verdict,
    /// Expected frame after the program; `None`: unchanged input.
    pub output: Option<Vec<u8>>,
    /// Expected counter deltas in packets; every other counter must stay put.
    /// Each counted packet adds the input's length to the counter's bytes
    /// unless [`Fixture::counter_bytes`] says otherwise.
    pub counters: Vec<(Stat, u64)>,
    /// Counters whose packets count another length than the input's (a
    /// path that counts the frame it produced), bytes per packet.
    pub counter_bytes: Vec<(Stat, u64)>,
    /// TC: the ingress device the test run pretends the frame arrived on
    /// (`__sk_buff.ifindex`); `None`: no context, the kernel's default
    /// (the loopback device).
    pub ifindex: Option<u32>,
    /// Hooks on which the kernel may refuse the input itself (the test run
    /// fails with EINVAL before the program runs), and why. Such a refusal
    /// is reported as a note, not a failure; a run that does happen is
    /// checked in full.
    pub kernel_may_refuse: Vec<(Hook, &'static str)>,
}

impl Fixture {
    /// A fixture expecting the packet to pass, counted `rx` and `pass`.
    pub fn pass(description: &'static str, input: Vec<u8>) -> Self {
        Self::new(description, input, Verdict::Pass, Stat::Pass)
    }

    /// A fixture expecting a drop for `reason`, counted `rx` and the reason.
    pub fn drop(description: &'static str, input: Vec<u8>, reason: DropReason) -> Self {
        Self::new(description, input, Verdict::Drop, Stat::Drop(reason))
    }

    /// A fixture expecting a redirect, counted `rx` and `outcome` (what the
    /// path did: encap, local-delivery, ...).
    pub fn redirect(description: &'static str, input: Vec<u8>, outcome: Stat) -> Self {
        Self::new(description, input, Verdict::Redirect, outcome)
    }

    fn new(description: &'static str, input: Vec<u8>, verdict: Verdict, outcome: Stat) -> Self {
        Self {
            description,
            input,
            maps: Box::new(NoMaps),
            verdict,
            output: None,
            counters: vec![(Stat::Rx, 1), (outcome, 1)],
            counter_bytes: Vec::new(),
            ifindex: None,
            kernel_may_refuse: Vec::new(),
        }
    }

    /// Also expect `stat` to count this packet once.
    pub fn counts(mut self, stat: Stat) -> Self {
        self.counters.push((stat, 1));
        self
    }

    /// Expect `stat` to count `bytes` per packet instead of the input's
    /// length.
    pub fn counter_bytes(mut self, stat: Stat, bytes: usize) -> Self {
        self.counter_bytes.push((stat, bytes as u64));
        self
    }

    /// TC: run as if the frame arrived on device `ifindex`.
    pub fn on_ifindex(mut self, ifindex: u32) -> Self {
        self.ifindex = Some(ifindex);
        self
    }

    /// Expect the program to rewrite the frame into `output`.
    pub fn output(mut self, output: Vec<u8>) -> Self {
        self.output = Some(output);
        self
    }

    /// Map entries this fixture needs.
    pub fn maps(mut self, setup: impl MapSetup + 'static) -> Self {
        self.maps = Box::new(setup);
        self
    }

    /// Accept the kernel refusing this input on `hook` (EINVAL from
    /// `BPF_PROG_TEST_RUN`), for the reason given.
    pub fn kernel_may_refuse(mut self, hook: Hook, why: &'static str) -> Self {
        self.kernel_may_refuse.push((hook, why));
        self
    }

    fn expected_packets(&self, stat: Stat) -> u64 {
        self.counters
            .iter()
            .filter(|(s, _)| *s == stat)
            .map(|(_, n)| n)
            .sum()
    }

    fn expected_bytes_per_packet(&self, stat: Stat) -> u64 {
        self.counter_bytes
            .iter()
            .find(|(s, _)| *s == stat)
            .map_or(self.input.len() as u64, |(_, b)| *b)
    }
}

/// Removes the throwaway node's pins when dropped, panics included.
struct PinGuard(PinPaths);

impl Drop for PinGuard {
    fn drop(&mut self) {
        if let Err(e) = self.0.remove_all() {
            eprintln!("leaving {}: {e}", self.0.root().display());
        }
    }
}

/// The loaded object and its programs, ready for test runs.
pub struct Harness {
    // Field order is drop order: close the object's fds, then unpin.
    loaded: Loaded,
    pins: PinGuard,
}

impl Harness {
    /// Load the object with maps pinned under a fresh throwaway node and load
    /// every program into the kernel. Needs root.
    pub fn load() -> Self {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "packet fixtures need root (BPF_PROG_TEST_RUN, bpffs pins)"
        );
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // A random part too: a killed earlier run with the same pid leaves pins
        // behind, and loading would reuse its pinned maps and their entries.
        let node = format!(
            "fixture-{}-{}-{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let pins = PinGuard(PinPaths::for_node(&node).expect("valid node name"));
        pins.0.remove_all().expect("clearing stale pins");
        let mut loaded = Loaded::load(&pins.0).expect("loading the eBPF object");
        let ebpf = &mut loaded.ebpf;
        for prog in Program::ALL {
            let loaded = match prog.hook() {
                Hook::Xdp => program_mut::<Xdp>(ebpf, prog.name()).load(),
                Hook::Tc => program_mut::<SchedClassifier>(ebpf, prog.name()).load(),
            };
            if let Err(e) = loaded {
                panic!("the verifier rejects {}: {e:#?}", prog.name());
            }
        }
        Self { loaded, pins }
    }

    /// The throwaway node's pins.
    pub fn pins(&self) -> &PinPaths {
        &self.pins.0
    }

    /// The loaded object, for map access outside fixtures.
    pub fn ebpf(&mut self) -> &mut Ebpf {
        &mut self.loaded.ebpf
    }

    /// Run every fixture on each of `programs`; panic listing every failure.
    pub fn run_table(&mut self, programs: &[Program], fixtures: &[Fixture]) {
        let filter = std::env::var("SHOAL_FIXTURE").ok();
        let mut failures = Vec::new();
        let (mut checked, mut refused) = (0, 0);
        for fixture in fixtures {
            if filter
                .as_deref()
                .is_some_and(|f| !fixture.description.contains(f))
            {
                continue;
            }
            for &prog in programs {
                match self.run(fixture, prog) {
                    Ok(Ran::Checked) => checked += 1,
                    Ok(Ran::Refused(why)) => {
                        refused += 1;
                        eprintln!(
                            "note: the kernel refused {:?} on {}, as allowed: {why}",
                            fixture.description,
                            prog.name()
                        );
                    }
                    Err(report) => failures.push(report),
                }
            }
        }
        let runs = checked + refused + failures.len();
        assert!(runs > 0, "no fixture matched SHOAL_FIXTURE={filter:?}");
        assert!(
            failures.is_empty(),
            "{} of {runs} fixture runs failed:\n\n{}",
            failures.len(),
            failures.join("\n")
        );
        eprintln!("{checked} fixture runs checked, {refused} refused by the kernel as allowed");
    }

    /// Run one fixture on one program; `Err` carries the failure report.
    pub fn run(&mut self, fixture: &Fixture, prog: Program) -> Result<Ran, String> {
        self.run_capturing(fixture, prog).0
    }

    /// [`Harness::run`], also handing back the frame the program left
    /// (`None` if the program did not run), for checks beyond byte equality.
    pub fn run_capturing(
        &mut self,
        fixture: &Fixture,
        prog: Program,
    ) -> (Result<Ran, String>, Option<Vec<u8>>) {
        let mut captured = None;
        let result = self.run_inner(fixture, prog, &mut captured);
        (result, captured)
    }

    /// Runs `prog` on every one of `inputs` with `maps` applied once around
    /// all of them and no expectations, for fuzzing: `check` gets each input,
    /// the verdict and the counters before and after, and says what is wrong.
    /// Inputs the kernel refuses to run are skipped; returns how many ran.
    pub fn run_each(
        &mut self,
        maps: &dyn MapSetup,
        prog: Program,
        ifindex: Option<u32>,
        inputs: &[Vec<u8>],
        mut check: impl FnMut(&[u8], u32, &StatsReport, &StatsReport) -> Result<(), String>,
    ) -> Result<usize, String> {
        let ebpf = &mut self.loaded.ebpf;
        maps.apply(ebpf)
            .map_err(|e| format!("map setup failed: {e}"))?;
        let mut ran = 0;
        let mut failure = None;
        for input in inputs {
            match run_program(ebpf, prog, input, ifindex) {
                Ok((before, code, _, after)) => {
                    ran += 1;
                    if let Err(e) = check(input, code, &before, &after) {
                        failure = Some(format!("{} on {:02x?}: {e}", prog.name(), input));
                        break;
                    }
                }
                Err(RunError::Refused(_)) => {}
                Err(RunError::Other(e)) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let undone = maps.undo(ebpf);
        self.loaded.flush_logs();
        undone.map_err(|e| format!("map teardown failed: {e}"))?;
        failure.map_or(Ok(ran), Err)
    }

    /// Run `prog` once on `input` with `maps` applied around the run and
    /// no expectations: what it returned, the frame it left and which
    /// counters moved, for comparing two programs (the XDP and TC
    /// equivalence table).
    pub fn run_raw(
        &mut self,
        maps: &dyn MapSetup,
        prog: Program,
        input: &[u8],
    ) -> Result<RawRun, String> {
        let ebpf = &mut self.loaded.ebpf;
        if let Err(e) = maps.apply(ebpf) {
            let _ = maps.undo(ebpf);
            return Err(format!("map setup failed: {e}"));
        }
        let outcome = run_program(ebpf, prog, input, None);
        let undone = maps.undo(ebpf);
        self.loaded.flush_logs();
        let (before, code, output, after) = outcome.map_err(|e| match e {
            RunError::Refused(e) | RunError::Other(e) => e,
        })?;
        undone.map_err(|e| format!("map teardown failed: {e}"))?;
        let counters = before
            .rows
            .iter()
            .zip(&after.rows)
            .map(|(b, a)| {
                let packets = a.packets.wrapping_sub(b.packets);
                let bytes = a.bytes.wrapping_sub(b.bytes);
                (stat_named(b.counter), packets, bytes)
            })
            .filter(|(_, packets, bytes)| *packets != 0 || *bytes != 0)
            .collect();
        Ok(RawRun {
            code,
            output,
            counters,
        })
    }

    fn run_inner(
        &mut self,
        fixture: &Fixture,
        prog: Program,
        captured: &mut Option<Vec<u8>>,
    ) -> Result<Ran, String> {
        let head = format!("fixture {:?} on {}:\n", fixture.description, prog.name());
        let hook = prog.hook();
        let ebpf = &mut self.loaded.ebpf;
        if let Err(e) = fixture.maps.apply(ebpf) {
            // Best effort: take back whatever part of the setup went in.
            let _ = fixture.maps.undo(ebpf);
            return Err(format!("{head}  map setup failed: {e}\n"));
        }
        let outcome = run_program(ebpf, prog, &fixture.input, fixture.ifindex);
        let undone = fixture.maps.undo(ebpf);
        self.loaded.flush_logs();
        let (before, code, output, after) = match outcome {
            Ok(outcome) => outcome,
            Err(RunError::Refused(e)) => {
                let allowed = fixture.kernel_may_refuse.iter().find(|(h, _)| *h == hook);
                return match allowed {
                    Some((_, why)) => Ok(Ran::Refused(why)),
                    None => Err(format!(
                        "{head}  BPF_PROG_TEST_RUN refused the input: {e}\n"
                    )),
                };
            }
            Err(RunError::Other(e)) => return Err(format!("{head}  {e}\n")),
        };
        undone.map_err(|e| format!("{head}  map teardown failed: {e}\n"))?;

        let mut report = String::new();
        let want = fixture.verdict.code(hook);
        if code != want {
            let _ = writeln!(
                report,
                "  verdict: expected {:?} = {want} ({}), got {code} ({})",
                fixture.verdict,
                code_name(hook, want),
                code_name(hook, code)
            );
        }
        let expected_output = fixture.output.as_deref().unwrap_or(&fixture.input);
        if output != expected_output {
            let _ = writeln!(report, "  output differs (-expected +actual):");
            report.push_str(&hex_diff(expected_output, &output));
        }
        *captured = Some(output);
        report.push_str(&counter_diff(fixture, &before, &after));
        if report.is_empty() {
            Ok(Ran::Checked)
        } else {
            Err(format!("{head}{report}"))
        }
    }
}

/// One run of [`Harness::run_raw`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRun {
    /// The program's return code.
    pub code: u32,
    /// The frame it left.
    pub output: Vec<u8>,
    /// Counters that moved: stat, packets, bytes.
    pub counters: Vec<(Stat, u64, u64)>,
}

/// How a fixture run that did not fail ended.
#[derive(Debug)]
pub enum Ran {
    /// The program ran and everything matched.
    Checked,
    /// The kernel refused the input, as the fixture allows; why.
    Refused(&'static str),
}

enum RunError {
    /// `BPF_PROG_TEST_RUN` answered EINVAL: the kernel would not run the
    /// program on this input.
    Refused(String),
    /// Anything else: counters unreadable, other syscall errors.
    Other(String),
}

type RunOutcome = (StatsReport, u32, Vec<u8>, StatsReport);

/// The kernel's floor for `BPF_PROG_TEST_RUN` packet data (`ETH_HLEN`).
const TEST_RUN_MIN_DATA: usize = 14;
/// XDP metadata put in front of frames below that floor: the smallest
/// legal amount (metadata comes in 4-byte units, at most 32 bytes).
const XDP_META_LEN: usize = 4;

/// Read the counters, run the program once on `input` (TC: arriving on
/// device `ifindex` if given), read them again.
fn run_program(
    ebpf: &Ebpf,
    prog: Program,
    input: &[u8],
    ifindex: Option<u32>,
) -> Result<RunOutcome, RunError> {
    let hook = prog.hook();
    let stats = |ebpf: &Ebpf| {
        read_stats_loaded(ebpf).map_err(|e| RunError::Other(format!("counters: {e}")))
    };
    // The kernel refuses data shorter than an Ethernet header on every hook
    // (bpf_test_init: EINVAL). For XDP, try metadata + frame with a
    // `struct xdp_md` whose `data` starts after the metadata, so the
    // program's data..data_end is the frame alone. Older kernels run that;
    // Linux 6.18 wants 14 bytes after the metadata as well and refuses it,
    // which fixtures for such frames must allow (`kernel_may_refuse`).
    let meta = if hook == Hook::Xdp && input.len() < TEST_RUN_MIN_DATA {
        XDP_META_LEN
    } else {
        0
    };
    let mut data_in = vec![0u8; meta];
    data_in.extend_from_slice(input);
    let xdp_md = xdp_md(meta, data_in.len());
    let sk_buff = ifindex.map(sk_buff_on);
    let ctx_in = match hook {
        Hook::Xdp => {
            assert!(ifindex.is_none(), "XDP fixtures cannot name an ifindex");
            (meta > 0).then_some(&xdp_md[..])
        }
        Hook::Tc => sk_buff.as_ref().map(|c| &c[..]),
    };
    let before = stats(ebpf)?;
    // Room for programs that grow the frame (encapsulation) by up to a page.
    let mut out = vec![0u8; data_in.len() + 4096];
    let opts = TestRunOptions {
        data_in: Some(&data_in),
        data_out: Some(&mut out),
        ctx_in,
        ..Default::default()
    };
    let result = match hook {
        Hook::Xdp => program::<Xdp>(ebpf, prog.name()).test_run(opts),
        Hook::Tc => program::<SchedClassifier>(ebpf, prog.name()).test_run(opts),
    }
    .map_err(|e| {
        let os = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        let text = format!("BPF_PROG_TEST_RUN failed: {e}: {os:?}");
        if os.and_then(io::Error::raw_os_error) == Some(libc::EINVAL) {
            RunError::Refused(text)
        } else {
            RunError::Other(text)
        }
    })?;
    // XDP output starts at the metadata.
    let output = out[meta..result.data_size_out as usize].to_vec();
    let after = stats(ebpf)?;
    Ok((before, result.return_value, output, after))
}

/// A `struct xdp_md` (six `u32`s, host order) for a test run whose packet
/// data starts `meta` bytes into `len` bytes of input.
fn xdp_md(meta: usize, len: usize) -> [u8; 24] {
    let fields = [meta as u32, len as u32, 0, 0, 0, 0]; // data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    let mut md = [0u8; 24];
    for (chunk, field) in md.chunks_exact_mut(4).zip(fields) {
        chunk.copy_from_slice(&field.to_ne_bytes());
    }
    md
}

/// Offset of `ifindex` in `struct __sk_buff` (after len, pkt_type, mark,
/// queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto, priority,
/// ingress_ifindex: ten `u32`s).
const SK_BUFF_IFINDEX_OFFSET: usize = 40;

/// The head of a `struct __sk_buff` up to and including `ifindex`, all
/// other fields zero. The kernel accepts a shorter context than its struct
/// (the rest reads as zero) and rejects non-zero fields it does not take
/// from userspace, so this is the smallest valid context naming a device.
fn sk_buff_on(ifindex: u32) -> [u8; SK_BUFF_IFINDEX_OFFSET + 4] {
    let mut ctx = [0u8; SK_BUFF_IFINDEX_OFFSET + 4];
    ctx[SK_BUFF_IFINDEX_OFFSET..].copy_from_slice(&ifindex.to_ne_bytes());
    ctx
}

fn program<'a, P>(ebpf: &'a Ebpf, name: &str) -> &'a P
where
    &'a P: TryFrom<&'a aya::programs::Program, Error = aya::programs::ProgramError>,
{
    ebpf.program(name)
        .unwrap_or_else(|| panic!("program {name} missing from the object"))
        .try_into()
        .unwrap_or_else(|e| panic!("program {name} has another type: {e}"))
}

fn program_mut<'a, P>(ebpf: &'a mut Ebpf, name: &str) -> &'a mut P
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    ebpf.program_mut(name)
        .unwrap_or_else(|| panic!("program {name} missing from the object"))
        .try_into()
        .unwrap_or_else(|e| panic!("program {name} has another type: {e}"))
}

/// Every counter whose delta differs from the fixture's expectation, or an
/// empty string. Shows the whole expectation when anything is off.
fn counter_diff(fixture: &Fixture, before: &StatsReport, after: &StatsReport) -> String {
    let mut wrong = false;
    let mut table = String::new();
    for (b, a) in before.rows.iter().zip(&after.rows) {
        let stat = stat_named(b.counter);
        let want = fixture.expected_packets(stat);
        let want_bytes = want * fixture.expected_bytes_per_packet(stat);
        let got = a.packets.wrapping_sub(b.packets);
        let got_bytes = a.bytes.wrapping_sub(b.bytes);
        let off = got != want || got_bytes != want_bytes;
        wrong |= off;
        if off || want != 0 {
            let _ = writeln!(
                table,
                "    {} {:<20} expected +{want} ({want_bytes} B), got +{got} ({got_bytes} B)",
                if off { "!" } else { " " },
                b.counter,
            );
        }
    }
    if wrong {
        format!("  counters (! = wrong):\n{table}")
    } else {
        String::new()
    }
}

fn stat_named(name: &str) -> Stat {
    Stat::OBSERVATIONS
        .into_iter()
        .chain(DropReason::ALL.into_iter().map(Stat::Drop))
        .find(|s| s.name() == name)
        .unwrap_or_else(|| panic!("report row {name} is no Stat"))
}

/// A 16-bytes-a-row hex diff of the rows that differ, lengths included.
pub fn hex_diff(expected: &[u8], actual: &[u8]) -> String {
    let mut out = String::new();
    if expected.len() != actual.len() {
        let _ = writeln!(
            out,
            "    length: expected {}, got {}",
            expected.len(),
            actual.len()
        );
    }
    let rows = expected.len().max(actual.len()).div_ceil(16);
    for row in 0..rows {
        let range = row * 16..(row + 1) * 16;
        let e = expected
            .get(range.start..range.end.min(expected.len()))
            .unwrap_or(&[]);
        let a = actual
            .get(range.start..range.end.min(actual.len()))
            .unwrap_or(&[]);
        if e == a {
            continue;
        }
        let hex = |bytes: &[u8]| {
            bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let marks: String = (0..16)
            .map(|i| if e.get(i) == a.get(i) { "   " } else { "^^ " })
            .collect();
        let _ = writeln!(out, "    {:04x} - {}", range.start, hex(e));
        let _ = writeln!(out, "    {:04x} + {}", range.start, hex(a));
        let _ = writeln!(out, "           {}", marks.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_diff_shows_only_differing_rows_and_marks_bytes() {
        let expected: Vec<u8> = (0..40).collect();
        let mut actual = expected.clone();
        actual[17] = 0xff;
        actual.push(0xaa);
        let diff = hex_diff(&expected, &actual);
        assert!(diff.contains("length: expected 40, got 41"), "{diff}");
        assert!(diff.contains("0010 - 10 11 12"), "{diff}");
        assert!(diff.contains("0010 + 10 ff 12"), "{diff}");
        assert!(diff.contains("0020 + 20 21 22 23 24 25 26 27 aa"), "{diff}");
        assert!(!diff.contains("0000"), "unchanged first row shown:\n{diff}");
        assert_eq!(hex_diff(&expected, &expected), "");
    }

    #[test]
    fn sk_buff_context_sets_only_the_ifindex() {
        let ctx = sk_buff_on(7);
        assert_eq!(ctx.len(), 44);
        assert_eq!(ctx[40..], 7u32.to_ne_bytes());
        assert!(ctx[..40].iter().all(|b| *b == 0));
    }

    #[test]
    fn xdp_md_puts_data_after_the_metadata() {
        let md = xdp_md(4, 17);
        assert_eq!(md[..4], 4u32.to_ne_bytes());
        assert_eq!(md[4..8], 17u32.to_ne_bytes());
        assert!(md[8..].iter().all(|b| *b == 0));
    }
}
