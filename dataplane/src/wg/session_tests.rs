//! Two nodes' sessions talking to each other through real boringtun
//! handshakes and ciphers, datagrams carried by a queue (as the workers
//! would carry them over UDP), across rotations of the preshared key.

use std::{
    collections::VecDeque,
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use boringtun::noise::{Tunn, TunnResult};

use super::*;

const ADDRS: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2)];

fn psk(generation: u64, byte: u8) -> PresharedKey {
    PresharedKey {
        generation,
        key: [byte; 32],
    }
}

/// An IPv4 packet from `src` carrying `seq` (boringtun checks the header).
fn packet(src: Ipv4Addr, seq: u32) -> Vec<u8> {
    let mut p = vec![0u8; 28];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&28u16.to_be_bytes());
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&ADDRS[0].octets());
    p[24..28].copy_from_slice(&seq.to_be_bytes());
    p
}

/// Two ends and the datagrams between them.
struct Pair {
    ends: [Sessions; 2],
    keys: [PrivateKey; 2],
    wire: VecDeque<(usize, Vec<u8>)>,
    delivered: [Vec<u32>; 2],
}

impl Pair {
    fn new(psk: Option<&PresharedKey>) -> Pair {
        let keys = [
            PrivateKey::generate().unwrap(),
            PrivateKey::generate().unwrap(),
        ];
        let ends = [0, 1].map(|i| {
            let keys = SessionKeys {
                private: keys[i].clone(),
                peer: keys[1 - i].public_key(),
            };
            Sessions::new(keys, psk, 10 + i as u32)
        });
        Pair {
            ends,
            keys,
            wire: VecDeque::new(),
            delivered: [Vec::new(), Vec::new()],
        }
    }

    /// `from` sends packet `seq` to the other end; everything is delivered.
    fn send(&mut self, from: usize, seq: u32) {
        let mut out = vec![0u8; 2048];
        if let TunnResult::WriteToNetwork(d) =
            self.ends[from].encapsulate(&packet(ADDRS[from], seq), &mut out)
        {
            self.wire.push_back((1 - from, d.to_vec()));
        }
        self.pump();
    }

    /// Both ends' timers at `now`.
    fn tick(&mut self, now: Instant) {
        for i in 0..2 {
            let mut out = vec![0u8; 2048];
            if let TunnResult::WriteToNetwork(d) = self.ends[i].update_timers(now, &mut out) {
                self.wire.push_back((1 - i, d.to_vec()));
            }
        }
        self.pump();
    }

    /// Deliver every datagram on the wire, and whatever that makes the
    /// ends send, as the receive worker does.
    fn pump(&mut self) {
        while let Some((to, datagram)) = self.wire.pop_front() {
            let mut out = vec![0u8; 2048];
            let tunn = self.ends[to].session_for(&datagram);
            let src = Some(IpAddr::V4(ADDRS[1 - to]));
            match tunn.decapsulate(src, &datagram, &mut out) {
                TunnResult::WriteToTunnelV4(p, _) => {
                    let seq = u32::from_be_bytes(p[24..28].try_into().unwrap());
                    self.delivered[to].push(seq);
                }
                TunnResult::WriteToNetwork(reply) => {
                    self.wire.push_back((1 - to, reply.to_vec()));
                    let mut more = vec![0u8; 2048];
                    while let TunnResult::WriteToNetwork(q) = tunn.decapsulate(None, &[], &mut more)
                    {
                        self.wire.push_back((1 - to, q.to_vec()));
                    }
                }
                _ => {}
            }
        }
    }

    fn offer(&mut self, psk: Option<&PresharedKey>, at: Instant) {
        for (i, end) in self.ends.iter_mut().enumerate() {
            let index = 100 + i as u32 + 2 * psk.map_or(0, |p| p.generation) as u32;
            end.offer(psk, || at, || index);
        }
    }
}

/// Whether a node holding `key` (end 1's static key) and preshared key
/// `psk` completes a handshake with end 0 of `pair`.
fn handshake_completes(pair: &mut Pair, psk: &PresharedKey) -> bool {
    let mut rogue = Tunn::new(
        pair.keys[1].secret(),
        pair.keys[0].public_key().key(),
        Some(psk.key),
        None,
        4000,
        None,
    );
    let mut out = vec![0u8; 2048];
    let TunnResult::WriteToNetwork(init) = rogue.format_handshake_initiation(&mut out, true) else {
        panic!("no handshake initiation");
    };
    let init = init.to_vec();
    let mut reply = vec![0u8; 2048];
    let tunn = pair.ends[0].session_for(&init);
    let TunnResult::WriteToNetwork(response) = tunn.decapsulate(None, &init, &mut reply) else {
        return false;
    };
    let response = response.to_vec();
    let _ = rogue.decapsulate(None, &response, &mut out);
    rogue.time_since_last_handshake().is_some()
}

#[test]
fn a_rotation_under_traffic_loses_no_packet_and_ends_on_the_new_key() {
    let first = psk(1, 0x11);
    let mut pair = Pair::new(Some(&first));
    let t0 = Instant::now();
    pair.send(0, 0);
    assert_eq!(
        pair.delivered[1],
        vec![0],
        "the first packet waits for the handshake"
    );
    let second = psk(2, 0x22);
    pair.offer(Some(&second), t0 + Duration::from_secs(2));
    assert!(
        pair.ends[0].rotating(),
        "a busy pair waits for its switch time"
    );
    assert_eq!(pair.ends[0].current.generation, 1);
    let mut sent = 1;
    for step in 0..200u32 {
        pair.tick(t0 + Duration::from_millis(100 * u64::from(step)));
        pair.send(0, step + 1);
        pair.send(1, step + 1);
        sent += 1;
    }
    let expected: Vec<u32> = (0..sent).collect();
    assert_eq!(
        pair.delivered[1], expected,
        "every packet one way arrived, in order"
    );
    assert_eq!(
        pair.delivered[0],
        expected[1..],
        "every packet the other way arrived"
    );
    for end in &pair.ends {
        assert_eq!(end.current.generation, 2, "both ends use the new key");
        assert!(end.current.established());
        assert!(
            !end.rotating(),
            "the previous session is gone after its grace"
        );
    }
    assert!(
        !handshake_completes(&mut pair, &first),
        "the old key no longer completes a handshake"
    );
    assert!(handshake_completes(&mut pair, &second), "the new key does");
}

#[test]
fn a_peer_that_learns_the_key_later_loses_nothing_meanwhile() {
    let mut pair = Pair::new(Some(&psk(1, 0x11)));
    let t0 = Instant::now();
    pair.send(0, 0);
    let second = psk(2, 0x22);
    // End 0 switches at 1 s; end 1 hears of the key only at 5 s: end 0's
    // first handshake on the new key is answered with the old one and fails.
    pair.ends[0].offer(Some(&second), || t0 + Duration::from_secs(1), || 200);
    let mut sent = 1;
    for step in 0..300u32 {
        let now = t0 + Duration::from_millis(100 * u64::from(step));
        if step == 50 {
            pair.ends[1].offer(Some(&second), || now, || 201);
        }
        pair.tick(now);
        pair.send(0, step + 1);
        pair.send(1, step + 1);
        sent += 1;
        if step == 40 {
            assert_eq!(pair.ends[0].current.generation, 2);
            assert!(
                !pair.ends[0].current.established(),
                "the peer still has the old key"
            );
        }
    }
    let expected: Vec<u32> = (0..sent).collect();
    assert_eq!(
        pair.delivered[1], expected,
        "nothing lost while the peer lagged"
    );
    assert_eq!(pair.delivered[0], expected[1..]);
    for end in &pair.ends {
        assert_eq!(end.current.generation, 2);
        assert!(!end.rotating());
    }
}

#[test]
fn an_idle_pair_takes_a_new_key_at_once() {
    let mut pair = Pair::new(Some(&psk(1, 0x11)));
    pair.offer(
        Some(&psk(2, 0x22)),
        Instant::now() + Duration::from_secs(60),
    );
    for end in &pair.ends {
        assert_eq!(end.current.generation, 2);
        assert!(
            !end.rotating(),
            "nothing to keep alive, nothing to wait for"
        );
    }
    pair.send(1, 7);
    assert_eq!(pair.delivered[0], vec![7]);
}

#[test]
fn a_withdrawn_key_ends_the_session() {
    let first = psk(1, 0x11);
    let mut pair = Pair::new(Some(&first));
    pair.send(0, 1);
    assert!(pair.ends[0].current.established());
    pair.ends[0].offer(None, Instant::now, || 50);
    assert_eq!(pair.ends[0].current.generation, 0);
    assert!(
        !pair.ends[0].current.established(),
        "no session outlives its key"
    );
}

#[test]
fn both_ends_derive_the_same_switch_time_and_pairs_spread() {
    let keys: Vec<PublicKey> = (0..6)
        .map(|_| PrivateKey::generate().unwrap().public_key())
        .collect();
    let mut delays = Vec::new();
    for a in &keys {
        for b in &keys {
            let d = switch_delay(a, b, 7);
            assert_eq!(d, switch_delay(b, a, 7), "the same instant on both ends");
            assert!(d < SWITCH_SPREAD);
            delays.push(d);
        }
    }
    delays.sort();
    delays.dedup();
    assert!(
        delays.len() > 3,
        "pairs do not all switch at once: {delays:?}"
    );
}
