//! UDP GSO sends and GRO receives over loopback.

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;

use super::super::batch::Batch;
use super::*;

fn v4(socket: &UdpSocket) -> SocketAddrV4 {
    match socket.local_addr().unwrap() {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => panic!("IPv4 expected"),
    }
}

/// Queue datagrams of `sizes` (each filled with its index) to `to`.
fn queue(batch: &mut GsoBatch, fd: RawFd, to: SocketAddrV4, sizes: &[usize], first: u8) {
    for (i, &size) in sizes.iter().enumerate() {
        assert_eq!(batch.prepare(fd, to), 0);
        batch.tail()[..size].fill(first + i as u8);
        assert_eq!(batch.commit(fd, size), 0);
    }
}

/// Every datagram `rx` gets until `want` arrived, split by the GRO size:
/// (first byte, length), and how many slots held more than one.
fn receive(rx: &UdpSocket, want: usize) -> (Vec<(u8, usize)>, usize) {
    // A datagram that never comes fails the test instead of hanging it.
    rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut batch = Batch::new();
    let (mut got, mut coalesced) = (Vec::new(), 0);
    while got.len() < want {
        let n = batch.recv(rx.as_raw_fd()).unwrap();
        for i in 0..n {
            let (data, _) = batch.datagram(i);
            let size = batch.segment_size(i);
            coalesced += usize::from(size < data.len());
            got.extend(data.chunks(size).map(|d| (d[0], d.len())));
        }
    }
    (got, coalesced)
}

#[test]
fn equal_datagrams_leave_in_one_send_and_arrive_apart() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut batch = GsoBatch::new();
    // A run of five 100-byte datagrams ended by a shorter one, then a
    // longer one (a new run), then one to another peer.
    queue(
        &mut batch,
        tx.as_raw_fd(),
        v4(&rx),
        &[100, 100, 100, 100, 100, 40, 300],
        0,
    );
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    queue(&mut batch, tx.as_raw_fd(), v4(&other), &[50], 9);
    assert_eq!(batch.flush(tx.as_raw_fd()), 0);
    assert!(batch.gso, "loopback takes UDP_SEGMENT");
    let (got, coalesced) = receive(&rx, 7);
    assert_eq!(
        got,
        [
            (0, 100),
            (1, 100),
            (2, 100),
            (3, 100),
            (4, 100),
            (5, 40),
            (6, 300)
        ]
    );
    assert_eq!(coalesced, 0, "without UDP_GRO each datagram is its own");
    assert_eq!(receive(&other, 1).0, [(9, 50)]);
}

#[test]
fn gro_hands_over_a_run_that_splits_back_into_its_datagrams() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    enable_gro(rx.as_raw_fd()).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut batch = GsoBatch::new();
    queue(
        &mut batch,
        tx.as_raw_fd(),
        v4(&rx),
        &[1200, 1200, 1200, 700],
        0,
    );
    assert_eq!(batch.flush(tx.as_raw_fd()), 0);
    let (got, coalesced) = receive(&rx, 4);
    assert_eq!(got, [(0, 1200), (1, 1200), (2, 1200), (3, 700)]);
    assert_eq!(coalesced, 1, "one slot held the whole run");
}
