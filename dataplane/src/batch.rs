//! Batched map operations (`BPF_MAP_*_BATCH`, which aya 0.14 does not
//! wrap). Every write to a map-in-map from userspace ends with the kernel
//! waiting for an RCU grace period (`maybe_wait_bpf_programs` →
//! `synchronize_rcu`), several milliseconds on a busy machine: one insert
//! per service made installing 10,000 services take over 80 s; a batch
//! waits once for all its elements. Reading a hash map in batches takes a
//! few syscalls instead of two per entry.

use aya::Pod;
use std::{
    io,
    os::fd::{AsRawFd as _, BorrowedFd},
    ptr,
};

/// `BPF_MAP_LOOKUP_BATCH` (`enum bpf_cmd`).
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
/// `BPF_MAP_UPDATE_BATCH`.
const BPF_MAP_UPDATE_BATCH: libc::c_long = 26;
/// `BPF_MAP_DELETE_BATCH`.
const BPF_MAP_DELETE_BATCH: libc::c_long = 27;

/// Inner-map fds handed to the kernel in one batch: bounded so a large
/// apply stays far below the process's open-file limit (the caller holds
/// one fd per element until the batch is written).
pub const MAX_BATCH: usize = 256;

/// Errors of a batched operation.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The kernel refused the batch; `done` elements were applied first.
    #[error("{op} failed after {done} element(s): {source}")]
    Syscall {
        /// Which command.
        op: &'static str,
        /// Elements applied before the failure.
        done: u32,
        /// The kernel's error.
        source: io::Error,
    },
}

/// The `batch` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// Run batch command `cmd`; returns how many elements it processed.
fn bpf_batch(cmd: libc::c_long, attr: &mut BatchAttr) -> io::Result<u32> {
    let size = std::mem::size_of::<BatchAttr>();
    // SAFETY: `attr` is a valid, exclusively borrowed `bpf_attr.batch` of
    // `size` bytes; the pointers in it point at buffers the caller keeps
    // alive and sized for `count` elements.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, ptr::from_mut(attr), size) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(attr.count)
}

fn map_fd(map: BorrowedFd<'_>) -> u32 {
    u32::try_from(map.as_raw_fd()).unwrap_or(u32::MAX)
}

/// Point each `keys[i]` of the hash-of-maps `map` at inner map fd
/// `fds[i]`, one grace period for all (at most [`MAX_BATCH`] elements).
pub fn update(map: BorrowedFd<'_>, keys: &[u32], fds: &[u32]) -> Result<(), BatchError> {
    debug_assert_eq!(keys.len(), fds.len());
    let mut attr = BatchAttr {
        keys: keys.as_ptr() as u64,
        values: fds.as_ptr() as u64,
        count: u32::try_from(keys.len().min(fds.len())).unwrap_or(0),
        map_fd: map_fd(map),
        ..BatchAttr::default()
    };
    bpf_batch(BPF_MAP_UPDATE_BATCH, &mut attr).map_err(|source| BatchError::Syscall {
        op: "BPF_MAP_UPDATE_BATCH",
        done: attr.count,
        source,
    })?;
    Ok(())
}

/// Delete `keys` from `map`, one grace period for all.
pub fn delete(map: BorrowedFd<'_>, keys: &[u32]) -> Result<(), BatchError> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut attr = BatchAttr {
        keys: keys.as_ptr() as u64,
        count: u32::try_from(keys.len()).unwrap_or(0),
        map_fd: map_fd(map),
        ..BatchAttr::default()
    };
    bpf_batch(BPF_MAP_DELETE_BATCH, &mut attr).map_err(|source| BatchError::Syscall {
        op: "BPF_MAP_DELETE_BATCH",
        done: attr.count,
        source,
    })?;
    Ok(())
}

/// Entries read per `BPF_MAP_LOOKUP_BATCH` call.
const LOOKUP_CHUNK: usize = 4096;

/// Every (key, value) of the hash map `map` (for a hash of maps the value
/// is the inner map's id, so nothing is opened). `K` and `V` must be the
/// map's key and value types (sizes checked by the kernel).
pub fn lookup_all<K: Pod, V: Pod>(map: BorrowedFd<'_>) -> Result<Vec<(K, V)>, BatchError> {
    // SAFETY (both): `Pod` types are valid for any bytes, zeroes included.
    let mut keys: Vec<K> = vec![unsafe { std::mem::zeroed() }; LOOKUP_CHUNK];
    let mut values: Vec<V> = vec![unsafe { std::mem::zeroed() }; LOOKUP_CHUNK];
    let mut out = Vec::new();
    // The batch token of a hash map is a bucket index (u32); 8 bytes of
    // room in case a map type wants more.
    let (mut token, mut first) = (0u64, true);
    loop {
        let mut next = 0u64;
        let mut attr = BatchAttr {
            in_batch: if first {
                0
            } else {
                ptr::from_ref(&token) as u64
            },
            out_batch: ptr::from_mut(&mut next) as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: LOOKUP_CHUNK as u32,
            map_fd: map_fd(map),
            ..BatchAttr::default()
        };
        let result = bpf_batch(BPF_MAP_LOOKUP_BATCH, &mut attr);
        let got = (attr.count as usize).min(LOOKUP_CHUNK);
        out.extend(
            keys[..got]
                .iter()
                .copied()
                .zip(values[..got].iter().copied()),
        );
        match result {
            Ok(_) => {}
            // ENOENT: the walk reached the end (with the last entries).
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
            Err(source) => {
                return Err(BatchError::Syscall {
                    op: "BPF_MAP_LOOKUP_BATCH",
                    done: u32::try_from(out.len()).unwrap_or(u32::MAX),
                    source,
                });
            }
        }
        (token, first) = (next, false);
    }
}
