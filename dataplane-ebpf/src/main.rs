//! shoal's eBPF programs. Entry points are thin: each calls a `try_*`
//! function returning `Result<Action, DropReason>` and turns it into the
//! hook's verdict, counting what happened (DESIGN.md §5.3).
#![no_std]
#![no_main]

mod arp;
mod csum;
mod ct;
mod deliver;
mod egress;
mod egress_icmp;
mod egress_maps;
mod egress_port;
mod icmp;
mod lb;
mod lb_maps;
mod mem;
mod mesh;
mod monitor;
mod nat;
mod overlay_maps;
mod parse;
mod proto;
mod reject;
mod stats;
mod task;
mod underlay;
mod unreachable;
mod verdict;
mod vxlan;
mod xdp_fast;

use aya_ebpf::{
    macros::{classifier, xdp},
    programs::{TcContext, XdpContext},
};
use shoal_common::monitor::MonitorProgram;

/// XDP on the underlay NIC: the same checks, plus (fast path on) VXLAN
/// decapsulation for local tasks that need no translation.
#[xdp]
pub fn shoal_underlay_xdp(ctx: XdpContext) -> u32 {
    let rx_bytes = mem::Packet::len(&ctx);
    let result = underlay::try_underlay_xdp(&ctx);
    verdict::xdp(&ctx, MonitorProgram::UnderlayXdp, rx_bytes, result)
}

/// TC (TCX) ingress on the underlay NIC: the same checks, plus VXLAN
/// decapsulation for local tasks.
#[classifier]
pub fn shoal_underlay_tc(ctx: TcContext) -> i32 {
    let rx_bytes = ctx.len();
    let result = mem::pull_headers(&ctx).and_then(|()| underlay::try_underlay_tc(&ctx));
    verdict::tc(&ctx, MonitorProgram::UnderlayTc, rx_bytes, result)
}

/// TC (TCX) ingress on a task's host-side veth: what the task sends.
#[classifier]
pub fn shoal_task_tc(ctx: TcContext) -> i32 {
    let rx_bytes = ctx.len();
    let result = mem::pull_headers(&ctx).and_then(|()| task::try_task_ingress(&ctx));
    verdict::tc(&ctx, MonitorProgram::TaskTc, rx_bytes, result)
}

/// TC (TCX) ingress on the WireGuard TAP device: decrypted VXLAN frames.
#[classifier]
pub fn shoal_wg_tc(ctx: TcContext) -> i32 {
    let rx_bytes = ctx.len();
    let result = mem::pull_headers(&ctx).and_then(|()| underlay::try_wg_tc(&ctx));
    verdict::tc(&ctx, MonitorProgram::WgTc, rx_bytes, result)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // SAFETY: the verifier rejects any program with a reachable panic path,
    // so a loaded program can never get here.
    unsafe { core::hint::unreachable_unchecked() }
}

/// GPL-compatible licence: required for the helpers these programs call.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
