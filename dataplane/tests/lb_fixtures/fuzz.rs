//! Random and mutated frames through every program (bounded: a few
//! thousand runs, a couple of seconds). Whatever arrives, a program must
//! end in a verdict of its hook (pass, redirect or drop), count the frame
//! once as `rx`, and count exactly one outcome for it: `pass` for a pass,
//! one drop reason for a drop, neither for a redirect (the redirecting
//! path counts its own). The verifier already rules out out-of-bounds
//! access; this checks the accounting that `shoal dp stats` shows.
//!
//! The seed is random per run and printed on failure; `SHOAL_FUZZ_SEED`
//! replays one.

use super::*;
use shoal_dataplane::{Hook, StatsReport};
use support::harness::Verdict;

/// Frames per program and map setup.
const FRAMES: usize = 1_500;

fn seed() -> u64 {
    std::env::var("SHOAL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// Well-formed frames each program has a real path for: task traffic to a
/// VIP and to peers, ARP, mesh clients, tunnelled requests and replies.
fn templates() -> Vec<Vec<u8>> {
    let inner = inner_frame(
        OTHER_NODE_MAC,
        CLIENT_MAC,
        &Pkt::tcp(MESH_CLIENT, 40_000, CLIENT, TARGET_WEB).syn(),
    );
    vec![
        from_client(Pkt::tcp(CLIENT, 40_000, VIP, WEB))
            .syn()
            .payload(b"GET")
            .build(),
        from_client(Pkt::udp(CLIENT, 40_001, VIP, DNS))
            .payload(b"q")
            .build(),
        from_client(Pkt::icmp_echo(CLIENT, BE1))
            .payload(&[0x5a; 16])
            .build(),
        from_client(Pkt::tcp(CLIENT, 40_002, BE_REMOTE, TARGET_WEB))
            .syn()
            .build(),
        from_client(Pkt::udp(CLIENT, 40_003, REMOTE_VIP, WEB))
            .payload(&[1; 40])
            .fragment(0, true)
            .udp_len(3000)
            .build(),
        from_router(Pkt::tcp(MESH_CLIENT, 40_004, THIS_NODE, PUB_LOCAL))
            .syn()
            .build(),
        from_router(Pkt::udp(MESH_CLIENT, 40_005, THIS_NODE, PUB_REMOTE)).build(),
        vxlan_frame(
            (OTHER_NODE_MAC, UNDERLAY_MAC),
            (OTHER_NODE, THIS_NODE),
            49_152,
            &inner,
        ),
    ]
}

/// A frame: pure noise, or a template with bytes flipped, cut or added.
fn frame(rng: &mut StdRng, templates: &[Vec<u8>]) -> Vec<u8> {
    if rng.random_ratio(1, 8) {
        let len = rng.random_range(0..200);
        return (0..len).map(|_| rng.random()).collect();
    }
    let mut f = templates[rng.random_range(0..templates.len())].clone();
    for _ in 0..rng.random_range(1..=6) {
        match rng.random_range(0..4) {
            0 | 1 if !f.is_empty() => {
                let at = rng.random_range(0..f.len());
                f[at] = rng.random();
            }
            2 if !f.is_empty() => f.truncate(rng.random_range(0..f.len())),
            _ => f.extend((0..rng.random_range(1..64)).map(|_| rng.random::<u8>())),
        }
    }
    f
}

/// The accounting every run must show (see the module doc).
fn accounted(
    hook: Hook,
    code: u32,
    before: &StatsReport,
    after: &StatsReport,
) -> Result<(), String> {
    let delta = |stat| after.packets(stat) - before.packets(stat);
    let (rx, pass, drops) = (
        delta(Stat::Rx),
        delta(Stat::Pass),
        after.dropped() - before.dropped(),
    );
    let drop_code = match hook {
        Hook::Xdp => 1,
        Hook::Tc => 2,
    };
    let ok = rx == 1
        && match code {
            c if c == Verdict::Pass.code(hook) => pass == 1 && drops == 0,
            c if c == drop_code => pass == 0 && drops == 1,
            c if c == Verdict::Redirect.code(hook) => pass == 0 && drops == 0,
            _ => false,
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{hook:?} verdict {code}: rx +{rx}, pass +{pass}, drops +{drops}"
        ))
    }
}

#[test]
fn random_and_mutated_frames_end_in_a_counted_verdict_on_every_program() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let mut harness = Harness::load();
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let templates = templates();
    let maps = (node(dev, &[]), services());
    for prog in Program::ALL {
        let inputs: Vec<Vec<u8>> = (0..FRAMES).map(|_| frame(&mut rng, &templates)).collect();
        let ifindex = match prog {
            Program::TaskTc => Some(dev.client),
            Program::UnderlayTc | Program::UnderlayXdp | Program::WgTc => None,
        };
        let hook = prog.hook();
        let ran = harness
            .run_each(&maps, prog, ifindex, &inputs, |_, code, before, after| {
                accounted(hook, code, before, after)
            })
            .unwrap_or_else(|e| panic!("seed {seed} (SHOAL_FUZZ_SEED={seed} replays it): {e}"));
        assert!(
            ran > FRAMES / 2,
            "{}: only {ran} of {FRAMES} frames ran (seed {seed})",
            prog.name()
        );
    }
}
