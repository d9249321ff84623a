use super::*;

#[test]
fn sequential_history_is_linearizable() {
    let history = [
        Op::read(None, 0, 1),
        Op::write(1, 2, 3),
        Op::read(Some(1), 4, 5),
        Op::write(2, 6, 7),
        Op::read(Some(2), 8, 9),
    ];
    let order = check(&history).expect("linearizable");
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
    assert!(lost_acked_writes(&history, &order).is_empty());
}

#[test]
fn overlapping_operations_may_go_either_way() {
    // The read overlaps both writes and sees the first: w2 then w1 then r.
    let history = [
        Op::write(1, 0, 10),
        Op::write(2, 1, 9),
        Op::read(Some(1), 2, 11),
        Op::read(Some(1), 12, 13),
    ];
    let order = check(&history).expect("linearizable");
    assert_eq!(order.iter().position(|i| *i == 1), Some(0));
}

#[test]
fn stale_read_after_a_completed_write_is_rejected() {
    let history = [
        Op::write(1, 0, 1),
        Op::write(2, 2, 3),
        Op::read(Some(1), 4, 5),
    ];
    assert!(matches!(
        check(&history),
        Err(CheckError::NotLinearizable { .. })
    ));
    let never_written = [Op::write(1, 0, 1), Op::read(None, 2, 3)];
    assert!(check(&never_written).is_err());
}

#[test]
fn reads_may_not_go_back_in_time() {
    // Two reads in sequence, both concurrent with the write: new then old.
    let history = [
        Op::write(1, 0, 1),
        Op::write(2, 2, 20),
        Op::read(Some(2), 3, 4),
        Op::read(Some(1), 5, 6),
    ];
    assert!(check(&history).is_err());
}

#[test]
fn unknown_writes_may_apply_late_or_never() {
    // Seen long after its invocation.
    let late = [
        Op::unknown_write(7, 0),
        Op::write(8, 1, 2),
        Op::read(Some(8), 3, 4),
        Op::read(Some(7), 5, 6),
    ];
    let order = check(&late).expect("applied late");
    assert!(lost_acked_writes(&late, &order).is_empty());
    // Never seen.
    let never = [Op::unknown_write(7, 0), Op::read(None, 3, 4)];
    assert_eq!(check(&never).expect("never applied"), vec![1]);
    // But not before it was invoked.
    let early = [Op::read(Some(7), 0, 1), Op::unknown_write(7, 2)];
    assert!(check(&early).is_err());
}

#[test]
fn a_lost_acknowledged_write_is_caught() {
    // Acknowledged 1, then the final read sees the value before it.
    let history = [
        Op::write(5, 0, 1),
        Op::write(6, 2, 3),
        Op::read(Some(5), 4, 5),
    ];
    assert!(check(&history).is_err());
    let order = [0, 2];
    assert_eq!(lost_acked_writes(&history, &order), vec![6]);
}

#[test]
fn bad_histories_are_refused() {
    let big: Vec<Op> = (0..=MAX_OPS as u64).map(|i| Op::write(i, i, i)).collect();
    assert_eq!(check(&big), Err(CheckError::TooLarge(MAX_OPS + 1)));
    let incomplete = [Op {
        kind: OpKind::Read(None),
        invoke: 0,
        complete: None,
    }];
    assert_eq!(check(&incomplete), Err(CheckError::IncompleteRead(0)));
}

#[test]
fn many_concurrent_clients_stay_fast() {
    // 3 clients, 40 operations each, all overlapping their neighbours.
    let mut history = Vec::new();
    let mut value = None;
    for step in 0..120u64 {
        let t = step * 10;
        if step % 3 == 0 {
            history.push(Op::write(step, t, t + 25));
            value = Some(step);
        } else if step % 7 == 0 {
            history.push(Op::unknown_write(1000 + step, t));
        } else {
            history.push(Op::read(value, t + 26, t + 27));
        }
    }
    check(&history).expect("linearizable");
}
