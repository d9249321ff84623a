//! What `shoal dp monitor` costs the programs, in ns per packet as
//! `BPF_PROG_TEST_RUN` times them (`repeat` runs, the kernel's average):
//! nobody listening, drops on (passed packets then pay the one config
//! lookup), trace on with a filter the packet misses, and events actually
//! written (the ring drained between batches so `output` never fails).
//! A measurement, not a check: ignored by default, figures go to
//! BENCHMARKS.md. Run it on an idle machine:
//! `cargo test -p shoal-dataplane --test monitor_cost -- --ignored --nocapture`
//! Needs root.
#![expect(
    clippy::unwrap_used,
    reason = "a measurement: a failing map access or test run should panic"
)]

mod support;

use std::net::Ipv4Addr;

use aya::{TestRun, TestRunOptions, programs::Xdp};
use shoal_common::maps::programs;
use shoal_dataplane::monitor::{Monitor, MonitorFilter};
use support::{Harness, Pkt};

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);
/// Test runs per batch: fewer than the ring holds (~4,600 events), so a
/// batch that emits every packet never finds the ring full.
const BATCH: u32 = 4_000;
/// Batches per measurement, and measurements (interleaved) per mode.
const BATCHES: u32 = 50;
const ROUNDS: usize = 5;

/// The listener settings a mode runs under.
struct Mode {
    name: &'static str,
    filter: Option<MonitorFilter>,
}

fn modes() -> [Mode; 4] {
    let drops = MonitorFilter {
        drops: true,
        ..MonitorFilter::default()
    };
    [
        Mode {
            name: "nobody listening",
            filter: None,
        },
        Mode {
            name: "drops on",
            filter: Some(drops),
        },
        Mode {
            name: "drops + trace, filter misses",
            filter: Some(MonitorFilter {
                trace: true,
                to: Some((Ipv4Addr::new(203, 0, 113, 1), 0)),
                ..drops
            }),
        },
        Mode {
            name: "drops + trace, every packet",
            filter: Some(MonitorFilter {
                trace: true,
                ..drops
            }),
        },
    ]
}

/// Mean ns per run of the XDP program on `input` over [`BATCHES`] batches,
/// draining the ring after each.
fn ns_per_packet(h: &mut Harness, monitor: &mut Monitor, input: &[u8]) -> f64 {
    let mut total_ns = 0u128;
    for _ in 0..BATCHES {
        monitor.renew().unwrap();
        let prog: &Xdp = h
            .ebpf()
            .program(programs::UNDERLAY_XDP)
            .unwrap()
            .try_into()
            .unwrap();
        let mut out = vec![0u8; input.len() + 64];
        let opts = TestRunOptions {
            data_in: Some(input),
            data_out: Some(&mut out),
            repeat: BATCH,
            ..Default::default()
        };
        total_ns += prog.test_run(opts).unwrap().duration.as_nanos();
        while monitor.next_event().is_some() {}
    }
    total_ns as f64 / f64::from(BATCHES)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[ignore = "a measurement for BENCHMARKS.md, not a check; run by hand with --ignored --nocapture"]
fn monitor_cost_per_packet() {
    let mut h = Harness::load();
    let pass = Pkt::udp(CLIENT, 40_000, SERVER, 53).payload(b"q").build();
    let drop = Pkt::udp(CLIENT, 40_000, SERVER, 53)
        .payload(b"q")
        .udp_len(4)
        .build();
    let mut monitor = Monitor::start(h.pins(), MonitorFilter::default()).unwrap();
    let modes = modes();
    for (what, input) in [("passed UDP", &pass), ("dropped UDP (malformed-l4)", &drop)] {
        let mut samples = vec![Vec::new(); modes.len()];
        for _ in 0..ROUNDS {
            for (mode, sample) in modes.iter().zip(&mut samples) {
                monitor = match mode.filter {
                    None => {
                        drop_monitor(monitor);
                        Monitor::start(h.pins(), MonitorFilter::default()).unwrap()
                    }
                    Some(filter) => {
                        drop_monitor(monitor);
                        Monitor::start(h.pins(), filter).unwrap()
                    }
                };
                sample.push(ns_per_packet(&mut h, &mut monitor, input));
            }
        }
        for (mode, sample) in modes.iter().zip(samples) {
            println!(
                "{what:28} {:30} {:6.1} ns/packet (median of {ROUNDS}: {sample:.1?})",
                mode.name,
                median(sample.clone())
            );
        }
    }
}

/// Close a monitor (switching its events off) before the next one opens.
fn drop_monitor(monitor: Monitor) {
    drop(monitor);
}
