//! How long `node::apply_services` takes for N services (BENCHMARKS.md,
//! "dp apply at scale"): the install from nothing, an unchanged re-apply,
//! and a change of one service's backend, each timed in wall-clock and
//! CPU seconds, with the report (tables created, kernel memory). Services
//! look like `bench lb`'s extra ones: a VIP each, one TCP port, on the same
//! two backends; with `distinct`, each has a backend of its own (so no two
//! share a table). Needs root; uses throwaway pins (`apply-scale`).
//! `fresh` instead times one unchanged apply in this new process onto the
//! pins a `keep` run left (what `shoal dp apply` does: no table digests
//! cached yet), then removes them.
//!
//! `cargo run -p shoal-dataplane --example apply_scale -- 10000 [distinct] [keep|fresh]`
#![expect(
    clippy::unwrap_used,
    reason = "a measuring tool: any setup error ends it loudly"
)]

use std::time::Instant;

use serde_json::{Value, json};
use shoal_dataplane::{
    PinPaths,
    node::{self, DesiredState},
    object::Loaded,
};

/// CPU seconds (user + system) this process has used.
fn cpu_s() -> f64 {
    // SAFETY: getrusage fills the struct we own; zeroes are a valid start.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// Service `i`: VIP 10.10.(100 + i / 250).(1 + i % 250), port 80.
fn service(i: usize, distinct: bool) -> Value {
    let (hi, lo) = (100 + i / 250, 1 + i % 250);
    let first = if distinct {
        format!("10.10.{}.{}", 1 + i / 200, 2 + i % 200)
    } else {
        "10.10.0.11".to_owned()
    };
    json!({"name": format!("s{i}"), "vip": format!("10.10.{hi}.{lo}"),
        "ports": [{"port": 80, "target": 8080, "protocol": "tcp"}],
        "backends": [{"ip": first, "network": "front"}, {"ip": "10.10.0.12", "network": "front"}]})
}

fn state(n: usize, distinct: bool) -> Value {
    json!({
        "underlay": {"iface": "lo"},
        "networks": [{"name": "front", "vni": 4097, "subnet": "10.10.0.0/16"}],
        "services": (0..n).map(|i| service(i, distinct)).collect::<Vec<_>>(),
        "published": [],
    })
}

fn timed(what: &str, pins: &PinPaths, state: &Value) {
    let state: DesiredState = serde_json::from_value(state.clone()).unwrap();
    let (start, cpu) = (Instant::now(), cpu_s());
    let r = node::apply_services(pins, &state).unwrap();
    println!(
        "{what}: {:.2} s wall, {:.2} s CPU; {} map writes, {} tables created, {} held, {} bytes",
        start.elapsed().as_secs_f64(),
        cpu_s() - cpu,
        r.map_writes(),
        r.maglev_maps_created,
        r.maglev_maps,
        r.maglev_bytes
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(10_000, |s| s.parse().unwrap());
    let has = |word: &str| args.iter().any(|a| a == word);
    let desired = state(n, has("distinct"));
    let pins = PinPaths::for_node("apply-scale").unwrap();
    if has("fresh") {
        timed("unchanged apply, fresh process", &pins, &desired);
        pins.remove_all().unwrap();
        return;
    }
    pins.remove_all().unwrap();
    drop(Loaded::load(&pins).unwrap());
    timed(&format!("install {n}"), &pins, &desired);
    timed("unchanged re-apply", &pins, &desired);
    if has("keep") {
        return;
    }
    let mut changed = desired;
    changed["services"][5]["backends"][0]["ip"] = json!("10.10.0.99");
    timed("one backend changed", &pins, &changed);
    pins.remove_all().unwrap();
}
