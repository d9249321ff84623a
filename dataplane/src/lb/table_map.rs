//! One Maglev table as a kernel map: a standalone array whose slot 0 holds
//! the ring size (one of [`MAGLEV_SIZES`]) and the next `size` slots the
//! backend ids, created with [`MAGLEV_MAP_FLAGS`] (`BPF_F_MMAPABLE`, so
//! userspace fills and reads it through one shared mapping instead of a
//! syscall per slot; `BPF_F_INNER_MAP`, so every size fits the outer map).
//! A new table is filled completely before it is inserted into the outer
//! map, so packets only ever see whole tables.

use std::{
    ffi::c_void,
    io,
    os::fd::{AsFd as _, AsRawFd as _},
    ptr,
};

use aya::maps::{Array, IterableMap as _, Map, MapData, MapError};
use shoal_common::lb::{MAGLEV_HEADER_SLOTS, MAGLEV_MAP_FLAGS, MAGLEV_SIZES};

/// Errors creating, filling or reading a table.
#[derive(Debug, thiserror::Error)]
pub enum TableMapError {
    /// Creating the array or a slot operation failed.
    #[error("Maglev table: {0}")]
    Map(#[from] MapError),
    /// The table's ring is not one of the sizes the programs expect.
    #[error("Maglev table content has {len} slots, not one of {MAGLEV_SIZES:?}")]
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
    slots: usize,
}

impl Mapping {
    /// Map the values of `map` (an mmap-able array of `slots` slots).
    fn new(map: &MapData, slots: usize, writable: bool) -> io::Result<Self> {
        let len = slots * SLOT_STRIDE;
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
        Ok(Self { ptr, len, slots })
    }

    fn slot_ptr(&self, slot: usize) -> *mut u32 {
        assert!(slot < self.slots && slot * SLOT_STRIDE + 4 <= self.len);
        // SAFETY: in bounds (checked above), 8-byte aligned (page + 8·slot).
        unsafe { self.ptr.cast::<u8>().add(slot * SLOT_STRIDE).cast::<u32>() }
    }

    fn read(&self) -> Vec<u32> {
        (0..self.slots)
            // SAFETY: in bounds and aligned; another writer can only be a
            // userspace process filling a table not yet published.
            .map(|slot| unsafe { ptr::read_volatile(self.slot_ptr(slot)) })
            .collect()
    }

    fn write(&self, slots: &[u32]) {
        for (slot, id) in slots.iter().enumerate() {
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

/// The array content for `table`: its size, then its slots.
fn with_header(table: &[u32]) -> Result<Vec<u32>, TableMapError> {
    let size = u32::try_from(table.len())
        .ok()
        .filter(|size| MAGLEV_SIZES.contains(size))
        .ok_or(TableMapError::Size { len: table.len() })?;
    let mut slots = Vec::with_capacity(table.len() + MAGLEV_HEADER_SLOTS as usize);
    slots.push(size);
    slots.extend_from_slice(table);
    Ok(slots)
}

/// A new table holding `table` (a ring of one of [`MAGLEV_SIZES`]), not
/// yet visible to any program.
pub fn create(table: &[u32]) -> Result<Array<MapData, u32>, TableMapError> {
    let slots = with_header(table)?;
    let entries = u32::try_from(slots.len()).unwrap_or(u32::MAX);
    let mut array = Array::<MapData, u32>::create(entries, MAGLEV_MAP_FLAGS)?;
    match Mapping::new(array.map(), slots.len(), true) {
        Ok(mapping) => mapping.write(&slots),
        Err(e) => {
            log::debug!("Maglev table: mmap failed ({e}); filling slot by slot");
            for (slot, id) in (0..).zip(&slots) {
                array.set(slot, id, 0)?;
            }
        }
    }
    Ok(array)
}

/// The ring of a table found in the outer map; `None` if it is not a
/// table of this layout (another size, flags or header: it gets rebuilt).
pub fn read(map: MapData) -> Result<Option<Vec<u32>>, TableMapError> {
    let info = map.info()?;
    let entries = info.max_entries();
    let size = entries.saturating_sub(MAGLEV_HEADER_SLOTS);
    let shaped = MAGLEV_SIZES.contains(&size)
        && info.value_size() == 4
        && info.map_flags() == MAGLEV_MAP_FLAGS;
    if !shaped {
        return Ok(None);
    }
    let slots = match Mapping::new(&map, entries as usize, false) {
        Ok(mapping) => mapping.read(),
        Err(_) => {
            let array = Array::<MapData, u32>::try_from(Map::Array(map))?;
            array.iter().collect::<Result<Vec<_>, _>>()?
        }
    };
    let header = MAGLEV_HEADER_SLOTS as usize;
    Ok((slots.first() == Some(&size)).then(|| slots[header..].to_vec()))
}
