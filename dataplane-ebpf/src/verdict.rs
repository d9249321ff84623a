//! Turning a `try_*` result into a hook verdict, counting it on the way.

use aya_ebpf::{
    EbpfContext,
    bindings::{TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, xdp_action},
    programs::{TcContext, XdpContext},
};
use shoal_common::{DropReason, Stat};

use crate::{mem::Packet, stats::count};

/// What a program decided for a packet it did not drop.
#[derive(Clone, Copy)]
pub enum Action {
    /// Hand the packet to the kernel stack unchanged.
    Pass,
    /// A redirect helper has taken the packet (TC only).
    Redirect,
}

/// Check a redirect helper's return value: `TC_ACT_REDIRECT` on success.
#[inline(always)]
pub fn redirected(rc: i64, failed: DropReason) -> Result<(), DropReason> {
    if rc == i64::from(TC_ACT_REDIRECT) {
        Ok(())
    } else {
        Err(failed)
    }
}

/// Count and convert for XDP.
#[inline(always)]
pub fn xdp(ctx: &XdpContext, result: Result<Action, DropReason>) -> u32 {
    match record(ctx, result) {
        Ok(Action::Pass) => xdp_action::XDP_PASS,
        Ok(Action::Redirect) => xdp_action::XDP_REDIRECT,
        Err(_) => xdp_action::XDP_DROP,
    }
}

/// Count and convert for TC.
#[inline(always)]
pub fn tc(ctx: &TcContext, result: Result<Action, DropReason>) -> i32 {
    match record(ctx, result) {
        Ok(Action::Pass) => TC_ACT_OK,
        Ok(Action::Redirect) => TC_ACT_REDIRECT,
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
        // The path that redirected counted what it did (encap, decap, ...).
        Ok(Action::Redirect) => {}
        Err(reason) => {
            count(Stat::Drop(reason), bytes);
            #[cfg(feature = "debug-log")]
            aya_log_ebpf::debug!(ctx, "drop reason={}", reason as u32);
        }
    }
    result
}
