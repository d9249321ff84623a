//! The underlay receive path: every frame arriving on a node's underlay NIC.
//! Today it validates and classifies; the overlay and mesh issues hang VXLAN
//! decapsulation and published-port handling off the same parse.

use shoal_common::{DropReason, Stat};

use crate::{
    mem::Packet,
    parse::{Frame, L4, parse_frame},
    stats::count,
    verdict::Action,
};

/// Validate a frame's headers and count what it is.
#[inline(always)]
pub fn try_underlay_rx<P: Packet>(ctx: &P) -> Result<Action, DropReason> {
    let bytes = ctx.len();
    let ip = match parse_frame(ctx)? {
        Frame::NotIpv4 => {
            count(Stat::NotIpv4, bytes);
            return Ok(Action::Pass);
        }
        Frame::Ipv4(ip) => ip,
    };
    if ip.has_options {
        count(Stat::Ipv4Options, bytes);
    }
    match ip.l4 {
        L4::Fragment => count(Stat::Fragment, bytes),
        L4::Other(_) => count(Stat::OtherL4, bytes),
        L4::Tcp { .. } | L4::Udp { .. } | L4::Icmp => {}
    }
    Ok(Action::Pass)
}
