//! Connection tracking for translated flows: which backend a flow got, and
//! how long it may stay idle given its TCP state. Timeouts follow the state,
//! so an idle established connection or a long CLOSE_WAIT is not cut (the
//! IPVS limits Swarm users hit: moby#31208, moby#29655).

use crate::proto::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};
use aya_ebpf::{helpers::bpf_ktime_get_ns, programs::TcContext};
use shoal_common::lb::{
    CT_CLOSING, CT_DATAGRAM, CT_ESTABLISHED, CT_FIN_BACKEND, CT_FIN_CLIENT, CT_HALF_CLOSED,
    CT_SYN_SENT,
};

use crate::{
    mem::ptr_at,
    parse::{Ipv4Packet, L4},
};

/// Offset of the flags byte in the TCP header.
const TCP_FLAGS_OFF: usize = 13;

/// Nanoseconds on the clock conntrack uses.
#[inline(always)]
pub fn now_ns() -> u64 {
    // SAFETY: plain helper call.
    unsafe { bpf_ktime_get_ns() }
}

/// TCP flags of `ip` (0 for other protocols or when unreadable).
#[inline(always)]
pub fn tcp_flags(ctx: &TcContext, ip: &Ipv4Packet) -> u8 {
    if !matches!(ip.l4, L4::Tcp { .. }) {
        return 0;
    }
    match ptr_at::<u8, _>(
        ctx,
        ip.l4_off + TCP_FLAGS_OFF,
        shoal_common::DropReason::TruncatedL4,
    ) {
        // SAFETY: bounds-checked by ptr_at.
        Ok(p) => unsafe { *p },
        Err(_) => 0,
    }
}

/// Whether a flow's TCP flags open a new connection (SYN without ACK).
#[inline(always)]
pub fn is_syn(flags: u8) -> bool {
    flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

/// The state a new flow starts in.
#[inline(always)]
pub fn initial_state(ip: &Ipv4Packet, flags: u8) -> u8 {
    match ip.l4 {
        L4::Tcp { .. } if is_syn(flags) => CT_SYN_SENT,
        // A mid-stream packet (conntrack lost or expired): it is established.
        L4::Tcp { .. } => CT_ESTABLISHED,
        _ => CT_DATAGRAM,
    }
}

/// The state after a packet with `flags`; `from_client` tells the direction.
/// Returns `(state, fins)`.
#[inline(always)]
pub fn advance(state: u8, fins: u8, flags: u8, from_client: bool) -> (u8, u8) {
    if state == CT_DATAGRAM {
        return (state, fins);
    }
    if flags & TCP_RST != 0 {
        return (CT_CLOSING, fins);
    }
    let mut fins = fins;
    if flags & TCP_FIN != 0 {
        fins |= if from_client {
            CT_FIN_CLIENT
        } else {
            CT_FIN_BACKEND
        };
    }
    let state = if fins == CT_FIN_CLIENT | CT_FIN_BACKEND {
        CT_CLOSING
    } else if fins != 0 {
        CT_HALF_CLOSED
    } else if state == CT_SYN_SENT && !from_client {
        CT_ESTABLISHED
    } else {
        state
    };
    (state, fins)
}
