//! Linearizability of the control plane's store, on real daemons: three
//! managers, three clients writing unique values to one register (the
//! label `reg` of node n1) through random managers and reading it, the
//! leader's daemon killed and restarted meanwhile; then a search for a
//! linearization of what the clients saw.
//!
//! Reads: `node ls --consistent` through random managers. The serving
//! manager first gets a read index from the leader (confirmed by a
//! quorum), waits until it has applied that far, then answers from its
//! own state; so followers serve linearizable reads too, and every read
//! that succeeds counts. Failed reads are dropped (a read changes
//! nothing). Writes: any failure counts as "outcome unknown" (a write may
//! commit after its client gave up, e.g. across the failover).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use shoal_netns_tests::linearizability::{Op, OpKind, check, lost_acked_writes};
use shoal_netns_tests::swarm_kit::{
    SwarmNode, all_ready, eventually, field, leader_of, three_managers,
};

const CLIENTS: u64 = 3;
const OPS_PER_CLIENT: u64 = 40;
const REGISTER_NODE: &str = "n1";

/// A small splitmix64: which manager, read or write.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % sides
    }
}

/// A consistent read of the register through `node`: the value, and
/// whether a follower served it.
fn read_consistent(node: &SwarmNode) -> Option<(Option<u64>, bool)> {
    let out = node
        .cli(&["node", "ls", "--consistent", "--format", "json"])
        .ok()?;
    let list: Vec<Value> = serde_json::from_str(&out).ok()?;
    let me = list.iter().find(|n| n["is_self"] == true)?;
    let by_follower = field(me, "manager_status") != "Leader";
    let register = list
        .iter()
        .find(|n| field(n, "hostname") == REGISTER_NODE)?;
    let value = register["labels"]["reg"]
        .as_str()
        .and_then(|v| v.parse().ok());
    Some((value, by_follower))
}

fn nanos(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What the clients recorded.
#[derive(Default)]
struct Record {
    history: Vec<Op>,
    /// Reads a follower served.
    follower_reads: usize,
}

/// One client: `OPS_PER_CLIENT` reads and writes through random managers.
fn client(id: u64, managers: &[SwarmNode], t0: Instant, record: &Mutex<Record>) {
    let mut dice = Dice(nanos(t0) ^ id);
    for k in 0..OPS_PER_CLIENT {
        let invoke = nanos(t0);
        let node = &managers[usize::try_from(dice.roll(3)).unwrap_or(0)];
        let (op, by_follower) = if dice.roll(2) == 0 {
            let value = id * 1000 + k + 1;
            let label = format!("reg={value}");
            let done = node.cli(&["node", "update", "--label-add", &label, REGISTER_NODE]);
            let op = match done {
                Ok(_) => Op::write(value, invoke, nanos(t0)),
                Err(err) => {
                    eprintln!("write {value} via {}: {err}", node.name);
                    Op::unknown_write(value, invoke)
                }
            };
            (Some(op), false)
        } else {
            match read_consistent(node) {
                Some((value, by_follower)) => {
                    (Some(Op::read(value, invoke, nanos(t0))), by_follower)
                }
                None => (None, false),
            }
        };
        if let Some(op) = op {
            let mut record = record.lock().expect("record");
            record.history.push(op);
            record.follower_reads += usize::from(by_follower);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn register_history_is_linearizable_across_a_leader_crash() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let started = Instant::now();
    let (_lab, mut nodes) = three_managers();
    let managers = nodes.clone();
    let record = Mutex::new(Record::default());
    let t0 = Instant::now();
    let down = std::thread::scope(|scope| {
        for id in 0..CLIENTS {
            let (managers, record) = (&managers, &record);
            scope.spawn(move || {
                client(id, managers, t0, record);
                eprintln!("client {id} done at {:?}", t0.elapsed());
            });
        }
        std::thread::sleep(Duration::from_millis(1000));
        let leader = leader_of(&nodes);
        nodes[leader].kill();
        let killed = nanos(t0);
        eprintln!("killed {} at {:?}", nodes[leader].name, t0.elapsed());
        std::thread::sleep(Duration::from_millis(1500));
        nodes[leader].start().expect("restart the old leader");
        eprintln!("restarted {} at {:?}", nodes[leader].name, t0.elapsed());
        killed..nanos(t0)
    });

    // Settled: everyone back, one leader; a final read at the leader.
    for node in &nodes {
        all_ready(node, 3);
    }
    let invoke = nanos(t0);
    let (last, _) = eventually("a consistent read", || {
        nodes.iter().find_map(read_consistent)
    });
    let Record {
        mut history,
        follower_reads,
    } = record.into_inner().expect("record");
    history.push(Op::read(last, invoke, nanos(t0)));

    let writes = history
        .iter()
        .filter(|op| matches!(op.kind, OpKind::Write(_)))
        .count();
    let unknown = history.iter().filter(|op| op.complete.is_none()).count();
    eprintln!(
        "{} operations: {writes} writes ({unknown} unknown), {} reads ({follower_reads} served by followers); final {last:?}",
        history.len(),
        history.len() - writes
    );
    assert!(writes > 10 && history.len() - writes > 10, "{history:?}");
    assert!(
        follower_reads > 5,
        "only {follower_reads} reads served by followers"
    );
    // The survivors kept committing while the old leader was down.
    assert!(
        history.iter().any(|op| op.complete.is_some()
            && matches!(op.kind, OpKind::Write(_))
            && down.contains(&op.invoke)),
        "no write was acknowledged while the old leader was down"
    );
    let order = match check(&history) {
        Ok(order) => order,
        Err(err) => panic!("{err}: {history:#?}"),
    };
    let lost = lost_acked_writes(&history, &order);
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(last.is_some(), "the register was never written");
    eprintln!("took {:?}", started.elapsed());
}
