//! Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4): every
//! backend gets a permutation of the table's slots from two hashes of its
//! name, and the backends take turns claiming their next free preferred
//! slot until the table is full. Each backend ends up with `M/N` slots
//! (±1), and adding or removing one backend moves few other slots.
//!
//! Backends are identified by a *name* (their address, `ip:port`) that is
//! the same on every node; the table stores node-local backend ids. So two
//! nodes with the same backend set send the same flow to the same address,
//! whatever ids they allocated. The hashes are fixed functions of the name
//! bytes: the same on every machine, process and build.

use shoal_common::lb::{MAGLEV_SIZE, flow_hash};

/// A backend as the table builder sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MaglevBackend {
    /// Stable name shared by every node, e.g. `10.10.0.5:8080`.
    pub name: String,
    /// The node-local backend id the table's slots hold.
    pub id: u32,
}

/// Seed of the hash that picks a backend's first slot (offset).
const OFFSET_SEED: u64 = 0x6f66_6673_6574_2d31;
/// Seed of the hash that picks a backend's stride (skip).
const SKIP_SEED: u64 = 0x736b_6970_2d73_6432;

/// A seeded 64-bit hash of `bytes`: FNV-1a over the seed and the bytes,
/// then MurmurHash3's 64-bit finaliser so every input bit reaches every
/// output bit (FNV-1a alone leaves the two seeded variants correlated).
fn hash64(seed: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.to_le_bytes().iter().chain(bytes) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The table of [`MAGLEV_SIZE`] slots for `backends`; empty when there are
/// none. The result does not depend on the order of `backends`; a name
/// listed twice counts once (the lowest id wins).
pub fn build(backends: &[MaglevBackend]) -> Vec<u32> {
    build_sized(backends, MAGLEV_SIZE)
}

/// [`build`] with a table of `size` slots; `size` must be prime for every
/// permutation to reach every slot.
pub fn build_sized(backends: &[MaglevBackend], size: u32) -> Vec<u32> {
    let mut sorted = backends.to_vec();
    sorted.sort();
    sorted.dedup_by(|b, a| a.name == b.name);
    if sorted.is_empty() || size == 0 {
        return Vec::new();
    }
    let m = u64::from(size);
    // (offset, skip) per backend: its permutation is offset + j·skip mod M.
    let perms: Vec<(u64, u64)> = sorted
        .iter()
        .map(|b| {
            let offset = hash64(OFFSET_SEED, b.name.as_bytes()) % m;
            let skip = hash64(SKIP_SEED, b.name.as_bytes()) % (m - 1).max(1) + 1;
            (offset, skip)
        })
        .collect();
    let mut next = vec![0u64; sorted.len()];
    let mut slots: Vec<Option<u32>> = vec![None; size as usize];
    let mut filled = 0usize;
    loop {
        for (i, backend) in sorted.iter().enumerate() {
            let (offset, skip) = perms[i];
            let mut slot = ((offset + next[i] * skip) % m) as usize;
            while slots[slot].is_some() {
                next[i] += 1;
                slot = ((offset + next[i] * skip) % m) as usize;
            }
            slots[slot] = Some(backend.id);
            next[i] += 1;
            filled += 1;
            if filled == slots.len() {
                return slots.into_iter().map(Option::unwrap_or_default).collect();
            }
        }
    }
}

/// The backend id a flow goes to: `table[flow_hash(..) % len]`, exactly as
/// the eBPF programs pick it. Addresses in network byte order, ports in
/// host order (as [`flow_hash`] takes them). `None` for an empty table.
pub fn pick(
    table: &[u32],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    proto: u8,
) -> Option<u32> {
    let len = u32::try_from(table.len()).ok().filter(|&l| l > 0)?;
    let slot = flow_hash(src, dst, sport, dport, proto) % len;
    table.get(slot as usize).copied()
}

#[cfg(test)]
#[path = "maglev_tests.rs"]
mod tests;
