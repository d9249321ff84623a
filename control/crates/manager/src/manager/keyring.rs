//! The key manager: keeps the encrypted networks' preshared key current.
//! A pass rotates it when [`OverlayKeyRing::due`] says so — on the swarm's
//! schedule, counted from the key's creation time in raft (a new leader
//! finds the same deadline), and after a node removal — and only while an
//! encrypted network exists; `network update --rotate-keys` rotates at once.

use super::ClusterTables;
use shoal_model::cluster::{DEFAULT_KEY_ROTATION_SECS, OverlayKeyRing, RotationCause, random_key};
use shoal_model::spec::Timestamp;

/// Rotates the key if a rotation is due at `now` and an encrypted network
/// exists; returns why it rotated.
pub fn rotate_if_due(state: &mut ClusterTables, now: Timestamp) -> Option<RotationCause> {
    if !state.networks.values().any(|n| n.encrypted) {
        return None;
    }
    let interval = match state.key_rotation_secs {
        0 => DEFAULT_KEY_ROTATION_SECS,
        secs => secs,
    };
    let secs = now.0 / 1000;
    let ring = state
        .overlay_keys
        .get_or_insert_with(OverlayKeyRing::default);
    let cause = ring.due(secs, interval, state.last_removal)?;
    ring.rotate(random_key(), cause, secs, state.last_removal);
    log::info!(
        "rotated the encrypted networks' key to generation {} ({cause:?})",
        ring.current().map_or(0, |k| k.generation)
    );
    Some(cause)
}

/// Rotates the key now, on an operator's request.
pub fn rotate_now(state: &mut ClusterTables, now: Timestamp) -> u64 {
    let ring = state
        .overlay_keys
        .get_or_insert_with(OverlayKeyRing::default);
    ring.rotate(
        random_key(),
        RotationCause::Request,
        now.0 / 1000,
        state.last_removal,
    );
    ring.current().map_or(0, |k| k.generation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_model::cluster::NetworkRecord;

    fn encrypted() -> NetworkRecord {
        let mut network: NetworkRecord = serde_json::from_value(serde_json::json!({
            "id": "n1", "name": "secure", "driver": "overlay", "vni": 4097, "subnet": "10.0.9.0/24",
            "gateway": "10.0.9.1", "created_at": 0
        }))
        .expect("a network record");
        network.encrypted = true;
        network
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp(secs * 1000)
    }

    #[test]
    fn a_key_appears_with_the_first_encrypted_network_and_rotates_on_schedule() {
        let mut state = ClusterTables {
            key_rotation_secs: 600,
            ..ClusterTables::default()
        };
        assert_eq!(
            rotate_if_due(&mut state, at(100)),
            None,
            "no encrypted network, no key"
        );
        state.networks.insert("n1".into(), encrypted());
        assert_eq!(
            rotate_if_due(&mut state, at(100)),
            Some(RotationCause::First)
        );
        assert_eq!(rotate_if_due(&mut state, at(699)), None);
        // A new leader loads the same ring: the deadline is the key's.
        let reloaded = state.clone();
        let mut state = reloaded;
        assert_eq!(
            rotate_if_due(&mut state, at(700)),
            Some(RotationCause::Schedule)
        );
        assert_eq!(
            state
                .overlay_keys
                .as_ref()
                .and_then(|r| r.current())
                .map(|k| k.generation),
            Some(2)
        );
    }

    #[test]
    fn a_removal_rotates_once_and_a_request_at_once() {
        let mut state = ClusterTables::default();
        state.networks.insert("n1".into(), encrypted());
        rotate_if_due(&mut state, at(100));
        state.last_removal = Some(150);
        assert_eq!(
            rotate_if_due(&mut state, at(150)),
            Some(RotationCause::NodeRemoved)
        );
        assert_eq!(
            rotate_if_due(&mut state, at(151)),
            None,
            "that removal is covered"
        );
        assert_eq!(rotate_now(&mut state, at(152)), 3);
    }
}
