//! Turning a `try_*` result into a hook verdict, counting it on the way.

use aya_ebpf::{
    EbpfContext,
    bindings::{TC_ACT_OK, TC_ACT_SHOT, xdp_action},
    programs::{TcContext, XdpContext},
};
use shoal_common::{DropReason, Stat};

use crate::{mem::Packet, stats::count};

/// What a program decided for a packet it did not drop.
#[derive(Clone, Copy)]
pub enum Action {
    /// Hand the packet to the kernel stack unchanged.
    Pass,
}

/// Count and convert for XDP.
#[inline(always)]
pub fn xdp(ctx: &XdpContext, result: Result<Action, DropReason>) -> u32 {
    match record(ctx, result) {
        Ok(Action::Pass) => xdp_action::XDP_PASS,
        Err(_) => xdp_action::XDP_DROP,
    }
}

/// Count and convert for TC.
#[inline(always)]
pub fn tc(ctx: &TcContext, result: Result<Action, DropReason>) -> i32 {
    match record(ctx, result) {
        Ok(Action::Pass) => TC_ACT_OK,
        Err(_) => TC_ACT_SHOT,
    }
}

#[inline(always)]
fn record<P: Packet + EbpfContext>(
    ctx: &P,
    result: Result<Action, DropReason>,
) -> Result<Action, DropReason> {
    let bytes = ctx.len();
    count(Stat::Rx, bytes);
    match result {
        Ok(Action::Pass) => count(Stat::Pass, bytes),
        Err(reason) => {
            count(Stat::Drop(reason), bytes);
            #[cfg(feature = "debug-log")]
            aya_log_ebpf::debug!(ctx, "drop reason={}", reason as u32);
        }
    }
    result
}
