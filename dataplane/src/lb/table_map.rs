//! One Maglev table as a kernel map: a standalone array of
//! [`MAGLEV_SIZE`] backend ids, created with [`MAGLEV_MAP_FLAGS`]
//! (`BPF_F_MMAPABLE`) so userspace fills and reads it through one shared
//! mapping instead of 16381 syscalls. A new table is filled completely
//! before it is inserted into the outer map, so packets only ever see
//! whole tables.

use std::{
    ffi::c_void,
    io,
    os::fd::{AsFd as _, AsRawFd as _},
    ptr,
};

use aya::maps::{Array, IterableMap as _, Map, MapData, MapError};
use shoal_common::lb::{MAGLEV_MAP_FLAGS, MAGLEV_SIZE};

/// Errors creating, filling or reading a table.
#[derive(Debug, thiserror::Error)]
pub enum TableMapError {
    /// Creating the array or a slot operation failed.
    #[error("Maglev table: {0}")]
    Map(#[from] MapError),
    /// The table has the wrong number of slots for its content.
    #[error("Maglev table content has {len} slots, the map {MAGLEV_SIZE}")]
    Size {
        /// Slots given.
        len: usize,
    },
}

/// Bytes between two values in an array map's mmap-ed area: the kernel
/// stores values rounded up to 8 bytes (`round_up(value_size, 8)`).
const SLOT_STRIDE: usize = 8;

/// A shared mapping of an array map's values, unmapped on drop.
struct Mapping {
    ptr: *mut c_void,
    len: usize,
}

impl Mapping {
    /// Map the values of `map` (an mmap-able array of [`MAGLEV_SIZE`] slots).
    fn new(map: &MapData, writable: bool) -> io::Result<Self> {
        let len = MAGLEV_SIZE as usize * SLOT_STRIDE;
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let fd = map.fd().as_fd().as_raw_fd();
        // SAFETY: a fresh mapping the kernel places; checked for failure;
        // it lives until `drop` unmaps it.
        let ptr = unsafe { libc::mmap(ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { ptr, len })
    }

    fn slot_ptr(&self, slot: usize) -> *mut u32 {
        debug_assert!(slot * SLOT_STRIDE + 4 <= self.len);
        // SAFETY: in bounds (slot < MAGLEV_SIZE), 8-byte aligned (page + 8·slot).
        unsafe { self.ptr.cast::<u8>().add(slot * SLOT_STRIDE).cast::<u32>() }
    }

    fn read(&self) -> Vec<u32> {
        (0..MAGLEV_SIZE as usize)
            // SAFETY: in bounds and aligned; another writer can only be a
            // userspace process filling a table not yet published.
            .map(|slot| unsafe { ptr::read_volatile(self.slot_ptr(slot)) })
            .collect()
    }

    fn write(&self, table: &[u32]) {
        for (slot, id) in table.iter().enumerate() {
            // SAFETY: in bounds and aligned; the map is ours and unpublished.
            unsafe { ptr::write_volatile(self.slot_ptr(slot), *id) };
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly the region `new` mapped.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// A new table holding `table` (exactly [`MAGLEV_SIZE`] ids), not yet
/// visible to any program.
pub fn create(table: &[u32]) -> Result<Array<MapData, u32>, TableMapError> {
    if table.len() != MAGLEV_SIZE as usize {
        return Err(TableMapError::Size { len: table.len() });
    }
    let mut array = Array::<MapData, u32>::create(MAGLEV_SIZE, MAGLEV_MAP_FLAGS)?;
    match Mapping::new(array.map(), true) {
        Ok(mapping) => mapping.write(table),
        Err(e) => {
            log::debug!("Maglev table: mmap failed ({e}); filling slot by slot");
            for (slot, id) in (0..).zip(table) {
                array.set(slot, id, 0)?;
            }
        }
    }
    Ok(array)
}

/// The content of a table found in the outer map; `None` if it is not a
/// table of this layout (another size or flags: it gets rebuilt).
pub fn read(map: MapData) -> Result<Option<Vec<u32>>, TableMapError> {
    let info = map.info()?;
    let shaped = info.max_entries() == MAGLEV_SIZE
        && info.value_size() == 4
        && info.map_flags() == MAGLEV_MAP_FLAGS;
    if !shaped {
        return Ok(None);
    }
    if let Ok(mapping) = Mapping::new(&map, false) {
        return Ok(Some(mapping.read()));
    }
    let array = Array::<MapData, u32>::try_from(Map::Array(map))?;
    Ok(Some(array.iter().collect::<Result<Vec<_>, _>>()?))
}
