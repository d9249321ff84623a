//! One peer's WireGuard sessions across rotations of the swarm's
//! preshared key.
//!
//! WireGuard mixes the preshared key into the handshake, so a new key
//! takes effect only through a new handshake, and a boringtun `Tunn` keeps
//! its key for life: a rotation builds a second `Tunn` for the new key next
//! to the one carrying traffic (make before break):
//!
//! - an idle pair (no session) switches at once: nothing to keep alive;
//! - a busy pair switches at a time both ends derive from their public keys
//!   and the key's generation, spread over [`SWITCH_SPREAD`], so a
//!   rotation's handshakes do not all start in the same instant; a
//!   handshake initiation from the peer while a switch is pending switches
//!   at once (the peer has moved on);
//! - until the new session is established, traffic keeps flowing on the
//!   previous one; the previous one then decrypts stragglers for
//!   [`PREVIOUS_GRACE`] and is dropped, and with it the old key: a
//!   handshake made with it no longer completes.

use std::time::{Duration, Instant};

use boringtun::noise::{Tunn, TunnResult};

use super::{PresharedKey, PrivateKey, PublicKey};

/// Longest delay between receiving a new key and switching to it.
pub(crate) const SWITCH_SPREAD: Duration = Duration::from_secs(8);
/// How long the previous session still decrypts once the new one carries
/// traffic (packets already in flight, a peer still finishing its switch).
pub(crate) const PREVIOUS_GRACE: Duration = Duration::from_secs(10);

/// WireGuard message types (the first byte of every datagram).
const HANDSHAKE_INIT: u8 = 1;
const HANDSHAKE_RESPONSE: u8 = 2;
const COOKIE_REPLY: u8 = 3;
const DATA: u8 = 4;

/// A `Tunn` and the generation of the preshared key it was built with
/// (0: none).
pub(crate) struct Session {
    pub(crate) generation: u64,
    index: u32,
    pub(crate) tunn: Tunn,
}

impl Session {
    fn new(keys: &SessionKeys, psk: Option<&PresharedKey>, index: u32) -> Session {
        let tunn = Tunn::new(
            keys.private.secret(),
            keys.peer.key(),
            psk.map(|p| p.key),
            None,
            index,
            None,
        );
        Session {
            generation: psk.map_or(0, |p| p.generation),
            index,
            tunn,
        }
    }

    fn established(&self) -> bool {
        self.tunn.time_since_last_handshake().is_some()
    }
}

/// The static keys of one node pair.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    pub(crate) private: PrivateKey,
    pub(crate) peer: PublicKey,
}

/// A newer key waiting for its switch time.
struct Pending {
    psk: PresharedKey,
    at: Instant,
    index: u32,
}

/// A peer's sessions: the current one, the one it replaced (while
/// traffic moves over), and a newer key waiting for its switch time.
pub(crate) struct Sessions {
    keys: SessionKeys,
    pub(crate) current: Session,
    pub(crate) previous: Option<Session>,
    pending: Option<Pending>,
    /// When the current session was first seen established with a previous
    /// one still kept.
    settled_at: Option<Instant>,
}

impl Sessions {
    /// Sessions for `keys` with the preshared key `psk`; `index` names the
    /// first session (it must differ from every other session's of this
    /// node).
    pub(crate) fn new(keys: SessionKeys, psk: Option<&PresharedKey>, index: u32) -> Sessions {
        let current = Session::new(&keys, psk, index);
        Sessions {
            keys,
            current,
            previous: None,
            pending: None,
            settled_at: None,
        }
    }

    /// The generation of the key the next handshake will use.
    pub(crate) fn wanted_generation(&self) -> u64 {
        self.pending
            .as_ref()
            .map_or(self.current.generation, |p| p.psk.generation)
    }

    /// Whether a rotation is under way (a switch pending, or the previous
    /// session still kept).
    pub(crate) fn rotating(&self) -> bool {
        self.pending.is_some() || self.previous.is_some()
    }

    /// Take `psk` as the pair's key: at once on an idle pair, else at
    /// `switch_at()`; `index()` names the new session (both asked only
    /// when the key is new).
    pub(crate) fn offer(
        &mut self,
        psk: Option<&PresharedKey>,
        switch_at: impl FnOnce() -> Instant,
        index: impl FnOnce() -> u32,
    ) {
        if psk.map_or(0, |p| p.generation) == self.wanted_generation() {
            return;
        }
        match psk {
            Some(psk) if self.current.established() => {
                self.pending = Some(Pending {
                    psk: psk.clone(),
                    at: switch_at(),
                    index: index(),
                });
            }
            // Idle, or the key was withdrawn: no session may outlive it.
            _ => *self = Sessions::new(self.keys.clone(), psk, index()),
        }
    }

    /// Encrypt `src` on the current session once it is established, on the
    /// previous one until then.
    pub(crate) fn encapsulate<'a>(&mut self, src: &[u8], dst: &'a mut [u8]) -> TunnResult<'a> {
        match &mut self.previous {
            Some(previous) if !self.current.established() && previous.established() => {
                previous.tunn.encapsulate(src, dst)
            }
            _ => self.current.tunn.encapsulate(src, dst),
        }
    }

    /// The session a received datagram belongs to: a handshake initiation
    /// goes to the current key (switching first if a switch is pending);
    /// anything else to the session its receiver index names.
    pub(crate) fn session_for(&mut self, datagram: &[u8]) -> &mut Tunn {
        let receiver = match datagram.first() {
            Some(&HANDSHAKE_INIT) => {
                self.switch();
                None
            }
            Some(&HANDSHAKE_RESPONSE) => read_u32(datagram, 8),
            Some(&COOKIE_REPLY) | Some(&DATA) => read_u32(datagram, 4),
            _ => None,
        };
        match (&mut self.previous, receiver) {
            // boringtun numbers a Tunn's sessions `index << 8 | n`.
            (Some(previous), Some(r)) if r >> 8 == previous.index => &mut previous.tunn,
            _ => &mut self.current.tunn,
        }
    }

    /// The timers at `now`: a due switch, the end of the previous session's
    /// grace, a handshake for a new session while the previous one carries
    /// the traffic, then boringtun's own timers (retries, rekeying).
    pub(crate) fn update_timers<'a>(&mut self, now: Instant, dst: &'a mut [u8]) -> TunnResult<'a> {
        if self.pending.as_ref().is_some_and(|p| p.at <= now) {
            self.switch();
        }
        if self.previous.is_some() {
            if self.current.established() {
                let settled = *self.settled_at.get_or_insert(now);
                if now.duration_since(settled) >= PREVIOUS_GRACE {
                    self.previous = None;
                    self.settled_at = None;
                }
            } else {
                // (The length, then the slice again: returning the borrow
                // from one branch only is beyond today's borrow checker.)
                let init = match self.current.tunn.format_handshake_initiation(dst, false) {
                    TunnResult::WriteToNetwork(init) => Some(init.len()),
                    _ => None,
                };
                if let Some(len) = init {
                    return TunnResult::WriteToNetwork(&mut dst[..len]);
                }
            }
        }
        self.current.tunn.update_timers(dst)
    }

    /// Move to the pending key now, keeping the current session as the
    /// previous one.
    fn switch(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let next = Session::new(&self.keys, Some(&pending.psk), pending.index);
        self.previous = Some(std::mem::replace(&mut self.current, next));
        self.settled_at = None;
    }

    /// Time since the last handshake, bytes sent and received (both
    /// sessions).
    pub(crate) fn stats(&self) -> (Option<Duration>, usize, usize) {
        let (since, tx, rx, _, _) = self.current.tunn.stats();
        let (old_since, old_tx, old_rx) = self
            .previous
            .as_ref()
            .map(|p| {
                let (since, tx, rx, _, _) = p.tunn.stats();
                (since, tx, rx)
            })
            .unwrap_or_default();
        (since.or(old_since), tx + old_tx, rx + old_rx)
    }
}

fn read_u32(datagram: &[u8], at: usize) -> Option<u32> {
    let bytes = datagram.get(at..at + 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// When a busy pair switches to the key of `generation`: the same instant
/// on both nodes (derived from both public keys, in either order), spread
/// over [`SWITCH_SPREAD`] across pairs.
pub(crate) fn switch_delay(a: &PublicKey, b: &PublicKey, generation: u64) -> Duration {
    let (a, b) = (a.to_string(), b.to_string());
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    // FNV-1a: the same on every node (std's hasher is seeded per process).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = low
        .bytes()
        .chain(high.bytes())
        .chain(generation.to_le_bytes());
    for byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let spread = SWITCH_SPREAD.as_millis() as u64;
    Duration::from_millis(hash % spread)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
