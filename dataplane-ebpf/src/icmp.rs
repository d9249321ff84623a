//! ICMP errors about translated flows (a backend's "port unreachable", a
//! router's "time exceeded"): the client must see them come from the
//! address it talked to, quoting the packet it sent — or it cannot match
//! them to its socket.

use aya_ebpf::programs::TcContext;
use shoal_common::{
    DropReason, Stat,
    lb::{FlowKey, REPLY_REV_NAT, ReplyEntry},
};

use crate::{
    lb_maps::SHOAL_REP_V2,
    parse::{Ipv4Packet, L4},
    proto::{IPPROTO_TCP, IPPROTO_UDP},
    stats::count,
};

/// ICMP types whose body quotes the packet that caused them.
pub(crate) const ICMP_DEST_UNREACH: u8 = 3;
pub(crate) const ICMP_TIME_EXCEEDED: u8 = 11;
/// Offsets from the ICMP header: its checksum, then the quoted IPv4
/// header (after the 8-byte ICMP header) and its fields.
const ICMP_CSUM_OFF: usize = 2;
pub(crate) const QUOTE_OFF: usize = 8;
const QUOTED_CSUM_OFF: usize = QUOTE_OFF + 10;
pub(crate) const QUOTED_SRC_OFF: usize = QUOTE_OFF + 12;
const QUOTED_DST_OFF: usize = QUOTE_OFF + 16;
pub(crate) const QUOTED_SPORT_OFF: usize = QUOTE_OFF + 20;
const QUOTED_DPORT_OFF: usize = QUOTE_OFF + 22;

/// An ICMP error and the reply-table key of the flow it quotes.
pub struct Quoted {
    /// Key of the quoted flow's replies (backend → client).
    pub key: FlowKey,
}

/// If `ip` (on network `vni`) is an ICMP error quoting a TCP/UDP packet
/// (IPv4 without options), the reply key of that packet's flow.
#[inline(always)]
pub fn quoted(ctx: &TcContext, ip: &Ipv4Packet, vni: u32) -> Option<Quoted> {
    if !matches!(ip.l4, L4::Icmp) {
        return None;
    }
    let head: [u8; 1] = ctx.load(ip.l4_off).ok()?;
    if head[0] != ICMP_DEST_UNREACH && head[0] != ICMP_TIME_EXCEEDED {
        return None;
    }
    let q: [u8; 24] = ctx.load(ip.l4_off + QUOTE_OFF).ok()?;
    if q[0] != 0x45 || (q[9] != IPPROTO_TCP && q[9] != IPPROTO_UDP) {
        return None;
    }
    // The quoted packet went client → backend; replies run backend → client.
    let key = FlowKey {
        src: [q[16], q[17], q[18], q[19]],
        dst: [q[12], q[13], q[14], q[15]],
        sport: [q[22], q[23]],
        dport: [q[20], q[21]],
        proto: q[9],
        _pad: [0; 3],
        vni,
    };
    Some(Quoted { key })
}

/// The reply entry for an ICMP error's quoted flow.
#[inline(always)]
pub fn reply_for(quoted: &Quoted) -> Option<ReplyEntry> {
    // SAFETY: the value is copied out immediately.
    unsafe { SHOAL_REP_V2.get(quoted.key).copied() }
}

/// Undo the translation inside an ICMP error: the quoted destination goes
/// back to the VIP (or published address) and port, and if the backend
/// itself sent the error, so does the outer source. Checksums follow.
#[inline(always)]
pub fn rev_nat(
    ctx: &TcContext,
    ip: &Ipv4Packet,
    quoted: &Quoted,
    reply: &ReplyEntry,
) -> Result<(), DropReason> {
    if reply.kind != REPLY_REV_NAT {
        return Err(DropReason::NatFailed);
    }
    let fail = |_| DropReason::NatFailed;
    rewrite_quoted(
        ctx,
        ip,
        (QUOTED_DST_OFF, QUOTED_DPORT_OFF),
        (quoted.key.src, quoted.key.sport),
        (reply.orig_ip, reply.orig_port),
    )?;
    let new_dst = u64::from(u32::from_ne_bytes(reply.orig_ip));
    if ip.src == quoted.key.src {
        let old_src = u64::from(u32::from_ne_bytes(ip.src));
        ctx.l3_csum_replace(ip.l3_off + 10, old_src, new_dst, 4)
            .map_err(fail)?;
        ctx.store(ip.l3_off + 12, &reply.orig_ip, 0).map_err(fail)?;
    }
    count(Stat::RevNat, ctx.len());
    Ok(())
}

/// One end of the packet quoted in an ICMP error rewritten from `old` to
/// `new` (address, port): the address and port at `offs` (from the ICMP
/// header), the quoted IPv4 header checksum, and the ICMP checksum over
/// all three changes. The quoted transport checksum is left as it is (the
/// quote may be cut short; the kernel's NAT does the same).
#[inline(always)]
pub(crate) fn rewrite_quoted(
    ctx: &TcContext,
    ip: &Ipv4Packet,
    offs: (usize, usize),
    old: ([u8; 4], [u8; 2]),
    new: ([u8; 4], [u8; 2]),
) -> Result<(), DropReason> {
    let fail = |_| DropReason::NatFailed;
    let icmp_csum = ip.l4_off + ICMP_CSUM_OFF;
    let (old_addr, new_addr) = (
        u64::from(u32::from_ne_bytes(old.0)),
        u64::from(u32::from_ne_bytes(new.0)),
    );
    let (old_port, new_port) = (
        u64::from(u16::from_ne_bytes(old.1)),
        u64::from(u16::from_ne_bytes(new.1)),
    );
    let old_qcsum: [u8; 2] = ctx.load(ip.l4_off + QUOTED_CSUM_OFF).map_err(fail)?;
    ctx.l3_csum_replace(ip.l4_off + QUOTED_CSUM_OFF, old_addr, new_addr, 4)
        .map_err(fail)?;
    let new_qcsum: [u8; 2] = ctx.load(ip.l4_off + QUOTED_CSUM_OFF).map_err(fail)?;
    let (old_q, new_q) = (
        u64::from(u16::from_ne_bytes(old_qcsum)),
        u64::from(u16::from_ne_bytes(new_qcsum)),
    );
    ctx.l4_csum_replace(icmp_csum, old_q, new_q, 2)
        .map_err(fail)?;
    ctx.l4_csum_replace(icmp_csum, old_addr, new_addr, 4)
        .map_err(fail)?;
    ctx.l4_csum_replace(icmp_csum, old_port, new_port, 2)
        .map_err(fail)?;
    ctx.store(ip.l4_off + offs.0, &new.0, 0).map_err(fail)?;
    ctx.store(ip.l4_off + offs.1, &new.1, 0).map_err(fail)?;
    Ok(())
}
