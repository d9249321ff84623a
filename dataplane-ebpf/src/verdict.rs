//! Turning a `try_*` result into a hook verdict, counting it on the way.

use aya_ebpf::{
    EbpfContext,
    bindings::{TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, xdp_action},
    programs::{TcContext, XdpContext},
};
use shoal_common::{
    DropReason, Stat,
    monitor::{MonitorProgram, VERDICT_PASS, VERDICT_REDIRECT},
};

use crate::{mem::Packet, monitor, monitor::Ingress, stats::count};

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

/// Count and convert for XDP; `rx_bytes` is the frame's length as it
/// arrived, measured before the program changed it.
#[inline(always)]
pub fn xdp(
    ctx: &XdpContext,
    program: MonitorProgram,
    rx_bytes: u32,
    result: Result<Action, DropReason>,
) -> u32 {
    match record(ctx, program, rx_bytes, result) {
        Ok(Action::Pass) => xdp_action::XDP_PASS,
        Ok(Action::Redirect) => xdp_action::XDP_REDIRECT,
        Err(_) => xdp_action::XDP_DROP,
    }
}

/// Count and convert for TC; `rx_bytes` as for [`xdp`]: encapsulation and
/// decapsulation change the length, and `rx` and drops count what arrived.
#[inline(always)]
pub fn tc(
    ctx: &TcContext,
    program: MonitorProgram,
    rx_bytes: u32,
    result: Result<Action, DropReason>,
) -> i32 {
    match record(ctx, program, rx_bytes, result) {
        Ok(Action::Pass) => TC_ACT_OK,
        Ok(Action::Redirect) => TC_ACT_REDIRECT,
        Err(_) => TC_ACT_SHOT,
    }
}

/// Count the verdict and, while `shoal dp monitor` listens, emit its event.
#[inline(always)]
fn record<P: EbpfContext + Packet + Ingress>(
    ctx: &P,
    program: MonitorProgram,
    bytes: u32,
    result: Result<Action, DropReason>,
) -> Result<Action, DropReason> {
    count(Stat::Rx, bytes);
    match result {
        Ok(Action::Pass) => {
            count(Stat::Pass, bytes);
            monitor::trace(ctx, program, VERDICT_PASS);
        }
        // The path that redirected counted what it did (encap, decap, ...).
        Ok(Action::Redirect) => monitor::trace(ctx, program, VERDICT_REDIRECT),
        Err(reason) => {
            count(Stat::Drop(reason), bytes);
            monitor::drop(ctx, program, reason, bytes);
            #[cfg(feature = "debug-log")]
            aya_log_ebpf::debug!(ctx, "drop reason={}", reason as u32);
        }
    }
    result
}
