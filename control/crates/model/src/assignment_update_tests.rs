use std::net::Ipv4Addr;

use super::*;
use crate::assignment::WgPeer;

fn versioned(mut a: Assignment) -> Assignment {
    a.version = a.digest();
    a
}

/// An assignment of a node in a swarm of `nodes` nodes (peers only).
fn with_peers(nodes: u8) -> Assignment {
    let addrs: Vec<Ipv4Addr> = (1..=nodes).map(|i| Ipv4Addr::new(198, 18, 1, i)).collect();
    versioned(Assignment {
        node_id: "n0".into(),
        data_path_port: 4789,
        wg_peers: addrs
            .iter()
            .map(|addr| WgPeer {
                addr: *addr,
                public_key: format!("key-of-{addr}-padded-to-a-wireguard-key-length"),
                port: 51820,
            })
            .collect(),
        peers: addrs,
        ..Assignment::default()
    })
}

#[test]
fn a_splice_rebuilds_the_new_list_from_the_old_one() {
    let cases: [(&[u32], &[u32]); 8] = [
        (&[], &[]),
        (&[], &[1, 2]),
        (&[1, 2, 3], &[]),
        (&[1, 2, 3], &[1, 2, 3]),
        (&[1, 2, 3], &[0, 1, 2, 3]),
        (&[1, 2, 3], &[1, 2, 9, 3]),
        (&[1, 2, 3], &[1, 3]),
        (&[1, 2, 2, 2, 3], &[1, 2, 2, 3]),
    ];
    for (old, new) in cases {
        let splice = Splice::between(old, new);
        assert_eq!(
            splice.apply(old).as_deref(),
            Some(new),
            "{old:?} -> {new:?}"
        );
        assert!(splice.middle.len() <= new.len());
    }
    let one_in = Splice::between(&[1, 2, 3, 4], &[1, 2, 7, 3, 4]);
    assert_eq!(one_in.middle, [7], "only the difference travels");
    assert_eq!(one_in.apply(&[1]), None, "does not fit a shorter list");
}

#[test]
fn a_join_reaches_a_node_as_one_peer_and_rebuilds_the_full_assignment() {
    let before = with_peers(200);
    let mut joined = with_peers(201);
    joined.version = joined.digest();
    let update = AssignmentUpdate::between(Some(&before), &joined);
    let delta_bytes = serde_json::to_vec(&update).unwrap().len();
    let full_bytes = serde_json::to_vec(&AssignmentUpdate::Full(Box::new(joined.clone())))
        .unwrap()
        .len();
    assert!(
        delta_bytes * 20 < full_bytes,
        "a delta of one peer is {delta_bytes} bytes, the full assignment {full_bytes}"
    );
    let rebuilt = update.apply(Some(&before)).unwrap();
    assert_eq!(
        rebuilt, joined,
        "the delta applied equals the full assignment"
    );
}

#[test]
fn an_unchanged_answer_keeps_what_the_node_holds() {
    let held = with_peers(3);
    let update = AssignmentUpdate::between(Some(&held), &held);
    assert_eq!(
        update,
        AssignmentUpdate::Unchanged {
            version: held.version
        }
    );
    assert_eq!(update.apply(Some(&held)).unwrap(), held);
    let none = AssignmentUpdate::Unchanged {
        version: held.version,
    }
    .apply(None);
    assert!(matches!(none, Err(UpdateError::WrongBase { .. })));
}

#[test]
fn a_delta_for_another_version_or_one_that_rebuilds_wrong_is_refused() {
    let (a, b, c) = (with_peers(3), with_peers(4), with_peers(5));
    let delta = AssignmentUpdate::between(Some(&a), &b);
    let err = delta.clone().apply(Some(&c)).unwrap_err();
    assert!(matches!(err, UpdateError::WrongBase { .. }), "{err}");
    let AssignmentUpdate::Delta(mut tampered) = delta else {
        panic!("a delta");
    };
    tampered.peers.middle.push(Ipv4Addr::new(10, 9, 9, 9));
    let err = AssignmentUpdate::Delta(tampered)
        .apply(Some(&a))
        .unwrap_err();
    assert!(matches!(err, UpdateError::Digest { .. }), "{err}");
}
