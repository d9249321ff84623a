//! The load balancer's maps (names and capacities: `shoal_common::maps`).

use aya_ebpf::{
    btf_maps::{Array as BtfArray, HashOfMaps},
    macros::{btf_map, map},
    maps::{Array, HashMap, LruHashMap},
};
use shoal_common::{
    lb::{
        Backend, CtEntry, FlowKey, LbConfig, MAGLEV_MAP_FLAGS, MAGLEV_SIZE, ReplyEntry, Service,
        ServiceKey,
    },
    maps,
};

/// (VNI, VIP, port, protocol) or published port → service.
#[map(name = "shoal_svc_v2")]
static SHOAL_SVC_V2: HashMap<ServiceKey, Service> = HashMap::pinned(maps::SERVICES_CAPACITY, 0);

/// VIP → how many networks have it: read only on a task's way to a drop.
#[map(name = "shoal_vips_v1")]
static SHOAL_VIPS_V1: HashMap<[u8; 4], u32> = HashMap::pinned(maps::SERVICES_CAPACITY, 0);

/// A service's Maglev table: slot → backend id.
type MaglevTable = BtfArray<u32, { MAGLEV_SIZE as usize }, { MAGLEV_MAP_FLAGS as usize }>;

/// Service id → its Maglev table. BTF-defined (map-in-map); the loader pins
/// it by name like the others.
#[btf_map(name = "shoal_maglev_v1")]
static SHOAL_MAGLEV_V1: HashOfMaps<u32, MaglevTable, { maps::SERVICES_CAPACITY as usize }> =
    HashOfMaps::new();

/// Backend id → backend.
#[map(name = "shoal_be_v1")]
static SHOAL_BE_V1: HashMap<u32, Backend> = HashMap::pinned(maps::BACKENDS_CAPACITY, 0);

/// Client → service flows at the translating node.
#[map(name = "shoal_ct_v2")]
pub static SHOAL_CT_V2: LruHashMap<FlowKey, CtEntry> =
    LruHashMap::pinned(maps::CONNTRACK_CAPACITY, 0);

/// Backend → client replies: undo the translation, or send back the way it came.
#[map(name = "shoal_rep_v2")]
pub static SHOAL_REP_V2: LruHashMap<FlowKey, ReplyEntry> =
    LruHashMap::pinned(maps::CONNTRACK_CAPACITY, 0);

/// Conntrack timeouts.
#[map(name = "shoal_lbcfg_v1")]
static SHOAL_LBCFG_V1: Array<LbConfig> = Array::pinned(1, 0);

/// The service at `key`.
#[inline(always)]
pub fn service(key: &ServiceKey) -> Option<Service> {
    // SAFETY: the value is copied out immediately.
    unsafe { SHOAL_SVC_V2.get(key).copied() }
}

/// Whether `ip` is the VIP of a service on some network.
#[inline(always)]
pub fn is_vip(ip: [u8; 4]) -> bool {
    // SAFETY: only the presence of the entry is used.
    unsafe { SHOAL_VIPS_V1.get(ip).is_some() }
}

/// The backend id in slot `slot` of service `id`'s Maglev table.
#[inline(always)]
pub fn maglev_pick(id: u32, slot: u32) -> Option<u32> {
    // SAFETY: the value is copied out immediately; tables are swapped whole.
    unsafe { SHOAL_MAGLEV_V1.get_value(&id, &slot).copied() }
}

/// The backend with this id.
#[inline(always)]
pub fn backend(id: u32) -> Option<Backend> {
    // SAFETY: the value is copied out immediately.
    unsafe { SHOAL_BE_V1.get(id).copied() }
}

/// Conntrack timeouts (defaults where unset).
#[inline(always)]
pub fn lb_config() -> LbConfig {
    SHOAL_LBCFG_V1.get(0).copied().unwrap_or_default()
}
