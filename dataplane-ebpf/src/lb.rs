//! Service load balancing: a packet to a VIP or published port gets a
//! backend — from conntrack if the flow is known, else by Maglev — and its
//! destination rewritten; replies are rewritten back, or (mesh replies on
//! the backend's node) told which node to return to. Where packets then go
//! is `task`'s and `mesh`'s business.

use aya_ebpf::programs::TcContext;
use shoal_common::{
    DropReason, Stat,
    lb::{
        ANY_PORT, Backend, CT_ESTABLISHED, CT_SYN_SENT, CtEntry, FlowKey, MAGLEV_SIZE, MESH_VNI,
        REPLY_RETURN_PATH, REPLY_REV_NAT, ReplyEntry, ServiceKey, flow_hash,
    },
};

use crate::{
    ct, icmp,
    lb_maps::{self, SHOAL_CT_V2, SHOAL_REP_V2},
    nat::{self, End},
    parse::{Ipv4Packet, L4},
    stats::count,
};

/// Where a translated packet now goes.
#[derive(Clone, Copy)]
pub struct Target {
    /// Backend address, network order.
    pub ip: [u8; 4],
    /// VNI the backend is reached on.
    pub vni: u32,
}

/// What to do with a reply that matched the reply table.
#[derive(Clone, Copy)]
pub enum Reply {
    /// Rewritten back to the VIP/published address: route it on.
    Translated,
    /// Send it through VXLAN to `via_node` on `vni`, untouched.
    ReturnPath {
        /// Underlay address of the node that translated the request.
        via_node: [u8; 4],
        /// VNI to send on.
        vni: u32,
    },
}

/// The flow key of `ip` as it travels on network `vni`, with its ports in
/// host order.
#[inline(always)]
pub fn flow_of(ip: &Ipv4Packet, vni: u32) -> Option<(FlowKey, u16, u16)> {
    let (sport, dport) = match ip.l4 {
        L4::Tcp { sport, dport } | L4::Udp { sport, dport } => (sport, dport),
        _ => return None,
    };
    let key = FlowKey {
        src: ip.src,
        dst: ip.dst,
        sport: sport.to_be_bytes(),
        dport: dport.to_be_bytes(),
        proto: ip.proto,
        _pad: [0; 3],
        vni,
    };
    Some((key, sport, dport))
}

/// Who sent a packet that may go to a service.
#[derive(Clone, Copy)]
pub enum Sender {
    /// A task on the network with this VNI: only that network's VIPs
    /// answer it.
    Task(u32),
    /// A client of the routing mesh: only published ports answer it.
    Mesh,
}

/// If `ip` goes to a service — VIP `ip.dst` on the sending task's network,
/// or from a mesh client a published port on this node — translate it to a
/// backend. `Ok(None)`: not a service (of that network).
#[inline(always)]
pub fn try_translate(
    ctx: &TcContext,
    ip: &Ipv4Packet,
    sender: Sender,
) -> Result<Option<Target>, DropReason> {
    let (mesh, vni) = match sender {
        Sender::Task(vni) => (false, vni),
        Sender::Mesh => (true, MESH_VNI),
    };
    let Some((flow, sport, dport)) = flow_of(ip, vni) else {
        return refuse_fragment_to_vip(ip, sender);
    };
    let key_ip = if mesh { [0; 4] } else { ip.dst };
    let key = ServiceKey {
        ip: key_ip,
        port: flow.dport,
        proto: ip.proto,
        _pad: 0,
        vni,
    };
    let Some(service) = lb_maps::service(&key).or_else(|| {
        // A VIP answers on every port its service has no entry for.
        let any = ServiceKey {
            port: ANY_PORT,
            ..key
        };
        if mesh { None } else { lb_maps::service(&any) }
    }) else {
        return Ok(None);
    };
    let now = ct::now_ns();
    let flags = ct::tcp_flags(ctx, ip);
    let entry = match known_flow(&flow, now, flags) {
        Some(entry) => entry,
        None => {
            if service.active_backends == 0 {
                return Err(DropReason::NoBackend);
            }
            let slot = flow_hash(ip.src, key_ip, sport, dport, ip.proto) % MAGLEV_SIZE;
            let (id, backend) = pick_backend(service.id, slot, ip.src, service.active_backends)?;
            let entry = CtEntry {
                last_seen_ns: now,
                backend_id: id,
                backend_ip: backend.ip,
                backend_port: if backend.port == ANY_PORT {
                    flow.dport
                } else {
                    backend.port
                },
                state: ct::initial_state(ip, flags),
                fins: 0,
                vni: backend.vni,
            };
            // LRU insert: never fails for lack of room, but may for lack
            // of memory; the packet still goes on, the failure is counted.
            if SHOAL_CT_V2.insert(flow, entry, 0).is_err() {
                count(Stat::CtInsertFailed, ctx.len());
            }
            count(Stat::NewFlow, ctx.len());
            entry
        }
    };
    remember_reply(&flow, &entry, now, ctx.len());
    nat::rewrite(
        ctx,
        ip,
        End::Destination,
        entry.backend_ip,
        entry.backend_port,
    )?;
    count(Stat::ServiceIn, ctx.len());
    Ok(Some(Target {
        ip: entry.backend_ip,
        vni: entry.vni,
    }))
}

/// A packet without ports: a non-first fragment to a VIP (every VIP has an
/// every-port entry per protocol) is dropped with its own reason, since it
/// cannot be matched to its datagram's backend; anything else is not a
/// service packet. Fragments to a published port are the host's.
#[inline(always)]
fn refuse_fragment_to_vip(ip: &Ipv4Packet, sender: Sender) -> Result<Option<Target>, DropReason> {
    let Sender::Task(vni) = sender else {
        return Ok(None);
    };
    if !matches!(ip.l4, L4::Fragment) {
        return Ok(None);
    }
    let any = ServiceKey {
        ip: ip.dst,
        port: ANY_PORT,
        proto: ip.proto,
        _pad: 0,
        vni,
    };
    match lb_maps::service(&any) {
        Some(_) => Err(DropReason::FragmentToVip),
        None => Ok(None),
    }
}

/// How many further Maglev slots a hairpin flow tries (see [`pick_backend`]):
/// with two backends the chance that all land on the sender is 2^-16.
const HAIRPIN_PROBES: u32 = 16;

/// The backend for a new flow from `src` hashed to `slot`. A task calling
/// its own service must not get itself: the reply to a packet from its own
/// address to its own address never leaves it, so the client would see an
/// unrelated source and the connection fails. When the ring gives the
/// sender and other backends exist, the following slots are tried (Maglev
/// spreads each backend over the ring, so a neighbouring slot is another
/// backend); only a service whose sole backend is the sender keeps it.
#[inline(always)]
fn pick_backend(
    service_id: u32,
    slot: u32,
    src: [u8; 4],
    active: u32,
) -> Result<(u32, Backend), DropReason> {
    let id = lb_maps::maglev_pick(service_id, slot).ok_or(DropReason::NoBackend)?;
    let backend = lb_maps::backend(id).ok_or(DropReason::StaleBackend)?;
    if backend.ip != src || active < 2 {
        return Ok((id, backend));
    }
    for probe in 1..=HAIRPIN_PROBES {
        let next = (slot + probe) % MAGLEV_SIZE;
        let Some(other_id) = lb_maps::maglev_pick(service_id, next) else {
            break;
        };
        if let Some(other) = lb_maps::backend(other_id)
            && other.ip != src
        {
            return Ok((other_id, other));
        }
    }
    Ok((id, backend))
}

/// The flow's conntrack entry if it is live and its backend still exists;
/// refreshes it with this packet.
#[inline(always)]
fn known_flow(flow: &FlowKey, now: u64, flags: u8) -> Option<CtEntry> {
    let entry = SHOAL_CT_V2.get_ptr_mut(flow)?;
    // SAFETY: a map value pointer; we update it in place.
    let entry = unsafe { &mut *entry };
    let cfg = lb_maps::lb_config();
    if cfg.expired(entry.state, entry.last_seen_ns, now)
        || lb_maps::backend(entry.backend_id).is_none()
    {
        return None;
    }
    // A SYN on an entry past the handshake is a new connection that reuses
    // a finished one's ports: it is balanced afresh, never sent to a
    // draining backend for the old flow's sake. (A retransmitted SYN keeps
    // the backend its first one got.)
    if ct::is_syn(flags) && entry.state != CT_SYN_SENT {
        return None;
    }
    let (state, fins) = ct::advance(entry.state, entry.fins, flags, true);
    entry.state = state;
    entry.fins = fins;
    entry.last_seen_ns = now;
    Some(*entry)
}

/// Make sure the backend's replies get translated back (`bytes`: the
/// packet's length, for the failure counter).
#[inline(always)]
fn remember_reply(flow: &FlowKey, entry: &CtEntry, now: u64, bytes: u32) {
    let reply_key = FlowKey {
        src: entry.backend_ip,
        dst: flow.src,
        sport: entry.backend_port,
        dport: flow.sport,
        proto: flow.proto,
        _pad: [0; 3],
        vni: entry.vni,
    };
    if let Some(existing) = SHOAL_REP_V2.get_ptr_mut(reply_key) {
        // SAFETY: a map value pointer; we update it in place.
        let existing = unsafe { &mut *existing };
        if existing.kind == REPLY_REV_NAT
            && existing.orig_ip == flow.dst
            && existing.orig_port == flow.dport
            && existing.flow_vni == flow.vni
        {
            existing.last_seen_ns = now;
            return;
        }
    }
    let reply = ReplyEntry {
        last_seen_ns: now,
        kind: REPLY_REV_NAT,
        orig_ip: flow.dst,
        orig_port: flow.dport,
        flow_vni: flow.vni,
        ..Default::default()
    };
    if SHOAL_REP_V2.insert(reply_key, reply, 0).is_err() {
        count(Stat::CtInsertFailed, bytes);
    }
}

/// Whether `ip`, on network `vni`, matches the reply table (no side
/// effects): checked before a tunnelled frame for no local task is
/// unwrapped, so anything else is dropped untouched.
#[inline(always)]
pub fn is_reply(ctx: &TcContext, ip: &Ipv4Packet, vni: u32) -> bool {
    if let Some(quoted) = icmp::quoted(ctx, ip, vni) {
        return icmp::reply_for(&quoted).is_some();
    }
    // SAFETY: only the presence of the entry is used.
    flow_of(ip, vni).is_some_and(|(key, _, _)| unsafe { SHOAL_REP_V2.get(key).is_some() })
}

/// If `ip`, sent on network `vni`, is a reply of a translated flow, handle
/// it: rewrite its source back (and advance the flow's TCP state), or say
/// where to send it.
#[inline(always)]
pub fn try_reply(ctx: &TcContext, ip: &Ipv4Packet, vni: u32) -> Result<Option<Reply>, DropReason> {
    let Some((key, _, _)) = flow_of(ip, vni) else {
        return try_icmp_error(ctx, ip, vni);
    };
    // SAFETY: the value is copied out immediately.
    let Some(reply) = (unsafe { SHOAL_REP_V2.get(key).copied() }) else {
        return Ok(None);
    };
    match reply.kind {
        // Only while the translated flow is alive: a stale entry must not
        // rewrite a later, direct connection that reuses the same ports.
        REPLY_REV_NAT if track_reply(ctx, ip, &key, &reply) => {
            nat::rewrite(ctx, ip, End::Source, reply.orig_ip, reply.orig_port)?;
            count(Stat::RevNat, ctx.len());
            Ok(Some(Reply::Translated))
        }
        // Refreshed by every request that comes through the tunnel.
        REPLY_RETURN_PATH
            if !lb_maps::lb_config().expired(CT_ESTABLISHED, reply.last_seen_ns, ct::now_ns()) =>
        {
            Ok(Some(Reply::ReturnPath {
                via_node: reply.via_node,
                vni: reply.vni,
            }))
        }
        _ => Ok(None),
    }
}

/// An ICMP error about a translated flow: translated back like the flow's
/// replies, or sent back the way the flow came.
#[inline(always)]
fn try_icmp_error(ctx: &TcContext, ip: &Ipv4Packet, vni: u32) -> Result<Option<Reply>, DropReason> {
    let Some(quoted) = icmp::quoted(ctx, ip, vni) else {
        return Ok(None);
    };
    let Some(reply) = icmp::reply_for(&quoted) else {
        return Ok(None);
    };
    match reply.kind {
        REPLY_REV_NAT => {
            icmp::rev_nat(ctx, ip, &quoted, &reply)?;
            Ok(Some(Reply::Translated))
        }
        REPLY_RETURN_PATH => Ok(Some(Reply::ReturnPath {
            via_node: reply.via_node,
            vni: reply.vni,
        })),
        _ => Ok(None),
    }
}

/// Advance the forward entry's TCP state with a reply packet; `false` if
/// the forward flow is gone or timed out.
#[inline(always)]
fn track_reply(ctx: &TcContext, ip: &Ipv4Packet, key: &FlowKey, reply: &ReplyEntry) -> bool {
    let forward = FlowKey {
        src: key.dst,
        dst: reply.orig_ip,
        sport: key.dport,
        dport: reply.orig_port,
        vni: reply.flow_vni,
        ..*key
    };
    let Some(entry) = SHOAL_CT_V2.get_ptr_mut(forward) else {
        return false;
    };
    // SAFETY: a map value pointer; we update it in place.
    let entry = unsafe { &mut *entry };
    let now = ct::now_ns();
    if lb_maps::lb_config().expired(entry.state, entry.last_seen_ns, now) {
        return false;
    }
    let (state, fins) = ct::advance(entry.state, entry.fins, ct::tcp_flags(ctx, ip), false);
    entry.state = state;
    entry.fins = fins;
    entry.last_seen_ns = now;
    true
}
