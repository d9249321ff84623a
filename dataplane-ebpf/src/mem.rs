//! The one bounds-checked accessor for packet memory, shared by XDP and TC.

use aya_ebpf::programs::{TcContext, XdpContext};
use shoal_common::DropReason;

/// Headers we may need to read linearly, worst case a VXLAN frame: outer
/// Ethernet + IPv4 with options + UDP + VXLAN, then inner Ethernet + IPv4
/// with options + TCP with options.
const MAX_HEADER_BYTES: u32 = 14 + 60 + 8 + 8 + 14 + 60 + 60;

/// A packet whose bytes live between `start()` and `end()`.
pub trait Packet {
    /// Address of the first byte.
    fn start(&self) -> usize;
    /// Address one past the last byte.
    fn end(&self) -> usize;
    /// Bytes between start and end.
    #[inline(always)]
    fn len(&self) -> u32 {
        (self.end() - self.start()) as u32
    }
}

impl Packet for XdpContext {
    #[inline(always)]
    fn start(&self) -> usize {
        self.data()
    }
    #[inline(always)]
    fn end(&self) -> usize {
        self.data_end()
    }
}

impl Packet for TcContext {
    #[inline(always)]
    fn start(&self) -> usize {
        self.data()
    }
    #[inline(always)]
    fn end(&self) -> usize {
        self.data_end()
    }
    #[inline(always)]
    fn len(&self) -> u32 {
        TcContext::len(self)
    }
}

/// A pointer to a `T` at `offset`, or `short` if the packet ends first.
#[inline(always)]
pub fn ptr_at<T, P: Packet>(
    ctx: &P,
    offset: usize,
    short: DropReason,
) -> Result<*const T, DropReason> {
    let start = ctx.start();
    let end = ctx.end();
    if start + offset + core::mem::size_of::<T>() > end {
        return Err(short);
    }
    Ok((start + offset) as *const T)
}

/// A mutable pointer to a `T` at `offset`, or `short` if the packet ends first.
#[inline(always)]
pub fn ptr_at_mut<T, P: Packet>(
    ctx: &P,
    offset: usize,
    short: DropReason,
) -> Result<*mut T, DropReason> {
    ptr_at::<T, P>(ctx, offset, short).map(|p| p as *mut T)
}

/// Make the first headers of an skb linear so [`ptr_at`] can see them.
#[inline(always)]
pub fn pull_headers(ctx: &TcContext) -> Result<(), DropReason> {
    let want = core::cmp::min(ctx.len(), MAX_HEADER_BYTES);
    ctx.pull_data(want).map_err(|_| DropReason::PullFailed)
}
