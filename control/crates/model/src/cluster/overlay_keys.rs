//! The swarm's preshared key for encrypted overlay networks, and when the
//! key manager rotates it.
//!
//! Every WireGuard session between two nodes mixes this key into its
//! handshake on top of the nodes' own key pairs, so a rotation renews
//! every pair's session keys without new node keys. Like Swarm's network
//! keys it is one per swarm: shoal's tunnels are per node pair and carry
//! every encrypted network between the two. A rotation is due when the
//! interval has passed since the current key was made — counted from the
//! key's own creation time, kept in raft, so a leader change does not reset
//! it —, when a node was removed since, or on request (`network update
//! --rotate-keys`).

use serde::{Deserialize, Serialize};

/// Table holding the one [`OverlayKeyRing`].
pub const OVERLAY_KEYS: &str = "overlay_keys";
/// Key of the [`OverlayKeyRing`] in [`OVERLAY_KEYS`].
pub const OVERLAY_KEYS_KEY: &str = "ring";
/// Default time between scheduled rotations: 12 hours, as Swarm's.
pub const DEFAULT_KEY_ROTATION_SECS: u64 = 12 * 3600;
/// Keys kept: the current one and the one before (nodes still switching).
const KEPT: usize = 2;

/// Why a key was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RotationCause {
    /// The swarm's first encrypted network.
    First,
    /// The rotation interval passed.
    Schedule,
    /// An operator asked for it.
    Request,
    /// A node was removed: its sessions must not outlive it.
    NodeRemoved,
}

/// One key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayKey {
    /// 1 for the first key, one more for each rotation.
    pub generation: u64,
    /// 32 random bytes, base64.
    pub key: String,
    /// When it was made (seconds since the epoch).
    pub created_at: u64,
    /// Why it was made.
    pub cause: RotationCause,
}

impl std::fmt::Debug for OverlayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverlayKey")
            .field("generation", &self.generation)
            .field("created_at", &self.created_at)
            .field("cause", &self.cause)
            .finish_non_exhaustive()
    }
}

/// The swarm's keys, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OverlayKeyRing {
    /// The current key first, then the one it replaced.
    pub keys: Vec<OverlayKey>,
    /// The latest node removal (seconds since the epoch) the current key
    /// already post-dates.
    #[serde(default)]
    pub removals_covered: u64,
}

impl OverlayKeyRing {
    /// The key sessions use now.
    pub fn current(&self) -> Option<&OverlayKey> {
        self.keys.first()
    }

    /// Why a rotation is due at `now` (seconds), if it is: `interval`
    /// seconds after the current key was made, or a node removal (the
    /// latest at `last_removal`) the current key does not cover yet.
    pub fn due(&self, now: u64, interval: u64, last_removal: Option<u64>) -> Option<RotationCause> {
        let Some(current) = self.current() else {
            return Some(RotationCause::First);
        };
        if last_removal.is_some_and(|removed| removed > self.removals_covered) {
            return Some(RotationCause::NodeRemoved);
        }
        (now >= current.created_at.saturating_add(interval.max(1)))
            .then_some(RotationCause::Schedule)
    }

    /// Make a new current key (`random` bytes) at `now`, keeping the one it
    /// replaces; `last_removal` is covered from now on.
    pub fn rotate(
        &mut self,
        random: [u8; 32],
        cause: RotationCause,
        now: u64,
        last_removal: Option<u64>,
    ) {
        let generation = self.current().map_or(1, |k| k.generation + 1);
        self.keys.insert(
            0,
            OverlayKey {
                generation,
                key: base64_encode(&random),
                created_at: now,
                cause,
            },
        );
        self.keys.truncate(KEPT);
        self.removals_covered = self.removals_covered.max(last_removal.unwrap_or(0));
    }
}

/// 32 fresh random bytes for a key.
pub fn random_key() -> [u8; 32] {
    rand::random()
}

/// Standard base64 with padding (what WireGuard tools print keys in).
fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_then_rotations_by_schedule_removal_and_never_twice() {
        let mut ring = OverlayKeyRing::default();
        assert_eq!(ring.due(1000, 3600, None), Some(RotationCause::First));
        ring.rotate([1; 32], RotationCause::First, 1000, Some(500));
        assert_eq!(ring.current().map(|k| k.generation), Some(1));
        assert_eq!(
            ring.due(1000, 3600, Some(500)),
            None,
            "an old removal is covered"
        );
        assert_eq!(ring.due(4599, 3600, Some(500)), None);
        assert_eq!(
            ring.due(4600, 3600, Some(500)),
            Some(RotationCause::Schedule)
        );
        assert_eq!(
            ring.due(1001, 3600, Some(1001)),
            Some(RotationCause::NodeRemoved)
        );
        ring.rotate([2; 32], RotationCause::NodeRemoved, 1001, Some(1001));
        assert_eq!(
            ring.due(1001, 3600, Some(1001)),
            None,
            "one rotation per removal"
        );
        ring.rotate([3; 32], RotationCause::Request, 1002, Some(1001));
        let generations: Vec<u64> = ring.keys.iter().map(|k| k.generation).collect();
        assert_eq!(
            generations,
            vec![3, 2],
            "the current key and the one before"
        );
        assert_ne!(ring.keys[0].key, ring.keys[1].key);
    }

    #[test]
    fn keys_are_32_bytes_of_standard_base64() {
        assert_eq!(
            base64_encode(b"any carnal pleas"),
            "YW55IGNhcm5hbCBwbGVhcw=="
        );
        assert_eq!(base64_encode(&[0xff; 32]).len(), 44);
        assert_ne!(random_key(), random_key());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let mut ring = OverlayKeyRing::default();
        ring.rotate([7; 32], RotationCause::First, 1, None);
        let shown = format!("{ring:?}");
        assert!(!shown.contains(&ring.keys[0].key), "{shown}");
    }
}
