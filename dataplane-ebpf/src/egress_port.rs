//! Which NAT port a task's new egress flow gets. As Linux's NAT does, the
//! task's own source port is kept when the node can spare it: the remote
//! end then sees the ports the task's stack chose, so a server's TIME_WAIT
//! from an earlier connection of the same task is recycled the way it
//! would be without NAT (a port shared by several tasks in turn is not:
//! their SYNs are refused by the server's TIME_WAIT until it expires).
//! Otherwise — the port is below 1024, another task's flow to the same
//! remote end holds it, or one of the node's own sockets does — the flow's
//! hash picks a port of the NAT range and the next ones are probed.

use aya_ebpf::{
    bindings::{BPF_F_CURRENT_NETNS, bpf_sock_tuple, bpf_sock_tuple__bindgen_ty_1__bindgen_ty_1},
    helpers::{bpf_sk_lookup_udp, bpf_sk_release, bpf_skc_lookup_tcp},
    programs::TcContext,
};
use shoal_common::{
    egress::{NAT_PORT_PROBES, nat_port},
    lb::{FlowKey, flow_hash},
};

use crate::{
    egress_maps,
    proto::{IPPROTO_TCP, IPPROTO_UDP},
};

/// Lowest task port kept as the NAT port (Linux's NAT keeps privileged
/// ports privileged; shoal simply never hands them out).
const KEEP_PORT_MIN: u16 = 1024;

/// The NAT port for new flow `key` leaving from `node_ip`, with its reverse
/// key; `None` when every port tried is taken.
#[inline(always)]
pub fn choose(
    ctx: &TcContext,
    key: &FlowKey,
    node_ip: [u8; 4],
    now: u64,
) -> Option<([u8; 2], FlowKey)> {
    if may_keep(key) {
        let rkey = reverse_key(key, node_ip, key.sport);
        if egress_maps::live_reverse(&rkey, now).is_none() && !node_socket(ctx, &rkey) {
            return Some((key.sport, rkey));
        }
    }
    let hash = flow_hash(
        key.src,
        key.dst,
        u16::from_be_bytes(key.sport),
        u16::from_be_bytes(key.dport),
        key.proto,
    ) ^ key.vni;
    for probe in 0..NAT_PORT_PROBES {
        let port = nat_port(hash.wrapping_add(probe)).to_be_bytes();
        let rkey = reverse_key(key, node_ip, port);
        if egress_maps::live_reverse(&rkey, now).is_none() {
            return Some((port, rkey));
        }
    }
    None
}

/// Whether the task's own port may be tried: TCP or UDP (an ICMP echo
/// identifier always comes from the NAT range) and not privileged.
#[inline(always)]
fn may_keep(key: &FlowKey) -> bool {
    (key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP)
        && u16::from_be_bytes(key.sport) >= KEEP_PORT_MIN
}

/// The reverse key a forward flow gets with NAT port `port`.
#[inline(always)]
pub fn reverse_key(key: &FlowKey, node_ip: [u8; 4], port: [u8; 2]) -> FlowKey {
    let remote_port = if key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP {
        key.dport
    } else {
        [0; 2]
    };
    FlowKey {
        src: key.dst,
        dst: node_ip,
        sport: remote_port,
        dport: port,
        proto: key.proto,
        _pad: [0; 3],
        vni: 0,
    }
}

/// Whether one of the node's own sockets would take the replies of
/// `rkey` (an established, listening or TIME_WAIT TCP socket, a bound UDP
/// socket): then the port is the node's, not the task's.
#[inline(always)]
fn node_socket(ctx: &TcContext, rkey: &FlowKey) -> bool {
    let mut tuple = bpf_sock_tuple {
        __bindgen_anon_1: aya_ebpf::bindings::bpf_sock_tuple__bindgen_ty_1 {
            ipv4: bpf_sock_tuple__bindgen_ty_1__bindgen_ty_1 {
                saddr: u32::from_ne_bytes(rkey.src),
                daddr: u32::from_ne_bytes(rkey.dst),
                sport: u16::from_ne_bytes(rkey.sport),
                dport: u16::from_ne_bytes(rkey.dport),
            },
        },
    };
    let size = core::mem::size_of::<bpf_sock_tuple__bindgen_ty_1__bindgen_ty_1>() as u32;
    let netns = BPF_F_CURRENT_NETNS as u64;
    let skb = ctx.skb.skb.cast();
    // SAFETY: helper calls with a tuple on the stack; a socket found is
    // released before returning, as the verifier requires.
    unsafe {
        let sk = if rkey.proto == IPPROTO_TCP {
            bpf_skc_lookup_tcp(skb, &mut tuple, size, netns, 0)
        } else {
            bpf_sk_lookup_udp(skb, &mut tuple, size, netns, 0)
        };
        if sk.is_null() {
            return false;
        }
        bpf_sk_release(sk.cast());
    }
    true
}
