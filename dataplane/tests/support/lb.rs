//! A [`MapSetup`] for the load balancer's maps (`shoal_svc_v2`, `shoal_vips_v1`,
//! `shoal_be_v1`, `shoal_maglev_v1`, `shoal_lbcfg_v1`, and seeded entries of
//! `shoal_ct_v2` / `shoal_rep_v2`), plus readers for the flow state the
//! programs write.
//!
//! Like [`super::OverlayMaps`], `apply` refuses to overwrite what is there
//! (and wants both flow maps empty), and `undo` removes its entries — and
//! every flow entry, since the programs create those — so a fixture that
//! leaks state fails the next one instead of changing its meaning.

use std::{error::Error, net::Ipv4Addr};

use aya::{
    Ebpf,
    maps::{Array, HashMap, HashOfMaps, MapData},
};
use shoal_common::{
    egress::{SnatEntry, SnatRevEntry},
    lb::{
        BACKEND_ACTIVE, BACKEND_DRAINING, Backend, CtEntry, FlowKey, LbConfig, MAGLEV_MAP_FLAGS,
        MAGLEV_SIZE, MESH_VNI, ReplyEntry, Service, ServiceKey,
    },
    maps,
};

use super::{
    harness::MapSetup,
    overlay::{Res, hash_map, insert_all, remove_all},
};

/// Load-balancer map entries for one fixture (or one scenario of several).
#[derive(Clone, Debug, Default)]
pub struct LbMaps {
    services: Vec<(ServiceKey, Service)>,
    vips: Vec<([u8; 4], u32)>,
    backends: Vec<(u32, Backend)>,
    tables: Vec<(u32, Vec<u32>)>,
    config: Option<LbConfig>,
    conntrack: Vec<(FlowKey, CtEntry)>,
    replies: Vec<(FlowKey, ReplyEntry)>,
}

/// A flow key on network `vni` ([`MESH_VNI`] for a mesh client's flow) as
/// the maps store it (addresses and ports in network order).
pub fn flow_key(
    vni: u32,
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    proto: u8,
) -> FlowKey {
    FlowKey {
        src: src.octets(),
        dst: dst.octets(),
        sport: sport.to_be_bytes(),
        dport: dport.to_be_bytes(),
        proto,
        _pad: [0; 3],
        vni,
    }
}

/// The same flow seen from the other end (on the same network).
pub fn reversed(key: &FlowKey) -> FlowKey {
    FlowKey {
        src: key.dst,
        dst: key.src,
        sport: key.dport,
        dport: key.sport,
        ..*key
    }
}

/// Now on the clock conntrack uses (`bpf_ktime_get_ns` is CLOCK_MONOTONIC).
pub fn monotonic_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; CLOCK_MONOTONIC always exists.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    u64::try_from(ts.tv_sec).expect("monotonic seconds are positive") * 1_000_000_000
        + u64::try_from(ts.tv_nsec).expect("nanoseconds are positive")
}

impl LbMaps {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// A VIP service `ip:port/proto` on network `vni` using Maglev table `id`.
    pub fn service(
        mut self,
        vni: u32,
        ip: Ipv4Addr,
        port: u16,
        proto: u8,
        id: u32,
        active_backends: u32,
    ) -> Self {
        let key = ServiceKey {
            ip: ip.octets(),
            port: port.to_be_bytes(),
            proto,
            _pad: 0,
            vni,
        };
        self.services.push((
            key,
            Service {
                id,
                active_backends,
            },
        ));
        self
    }

    /// A published port (routing mesh): the service key with address 0.0.0.0.
    pub fn published(self, port: u16, proto: u8, id: u32, active_backends: u32) -> Self {
        self.service(
            MESH_VNI,
            Ipv4Addr::UNSPECIFIED,
            port,
            proto,
            id,
            active_backends,
        )
    }

    /// `ip` is a VIP on `networks` networks (`shoal_vips_v1`).
    pub fn vip(mut self, ip: Ipv4Addr, networks: u32) -> Self {
        self.vips.push((ip.octets(), networks));
        self
    }

    /// Backend `id`: task `ip:port` on network `vni`, taking new flows.
    pub fn backend(self, id: u32, ip: Ipv4Addr, port: u16, vni: u32) -> Self {
        self.backend_in_state(id, ip, port, vni, BACKEND_ACTIVE)
    }

    /// Backend `id`, draining.
    pub fn draining_backend(self, id: u32, ip: Ipv4Addr, port: u16, vni: u32) -> Self {
        self.backend_in_state(id, ip, port, vni, BACKEND_DRAINING)
    }

    fn backend_in_state(mut self, id: u32, ip: Ipv4Addr, port: u16, vni: u32, state: u32) -> Self {
        self.backends.push((
            id,
            Backend {
                ip: ip.octets(),
                port: port.to_be_bytes(),
                _pad: [0; 2],
                vni,
                state,
            },
        ));
        self
    }

    /// Maglev table `id` with exactly [`MAGLEV_SIZE`] slots.
    pub fn table(mut self, id: u32, slots: Vec<u32>) -> Self {
        assert_eq!(slots.len(), MAGLEV_SIZE as usize, "a Maglev table's size");
        self.tables.push((id, slots));
        self
    }

    /// Maglev table `id` sending every slot to backend `backend`.
    pub fn single_backend_table(self, id: u32, backend: u32) -> Self {
        self.table(id, vec![backend; MAGLEV_SIZE as usize])
    }

    /// Conntrack timeouts (`None`, the default: the map's zeroed entry,
    /// meaning the built-in defaults).
    pub fn config(mut self, config: LbConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// A conntrack entry already present before the run.
    pub fn flow(mut self, key: FlowKey, entry: CtEntry) -> Self {
        self.conntrack.push((key, entry));
        self
    }

    /// A reply entry already present before the run.
    pub fn reply(mut self, key: FlowKey, entry: ReplyEntry) -> Self {
        self.replies.push((key, entry));
        self
    }

    /// The conntrack entry for `key`, if any.
    pub fn conntrack(ebpf: &Ebpf, key: &FlowKey) -> Option<CtEntry> {
        let map = ebpf.map(maps::CONNTRACK).expect("no map shoal_ct_v2");
        let map = HashMap::<_, FlowKey, CtEntry>::try_from(map).expect("shoal_ct_v2 is a hash");
        map.get(key, 0).ok()
    }

    /// The reply entry for `key`, if any.
    pub fn reply_entry(ebpf: &Ebpf, key: &FlowKey) -> Option<ReplyEntry> {
        let map = ebpf.map(maps::REPLIES).expect("no map shoal_rep_v2");
        let map = HashMap::<_, FlowKey, ReplyEntry>::try_from(map).expect("shoal_rep_v2 is a hash");
        map.get(key, 0).ok()
    }

    /// The egress (SNAT) forward entry for `key`, if any.
    pub fn snat(ebpf: &Ebpf, key: &FlowKey) -> Option<SnatEntry> {
        let map = ebpf.map(maps::SNAT).expect("no map shoal_snat_v1");
        let map = HashMap::<_, FlowKey, SnatEntry>::try_from(map).expect("an LRU hash");
        map.get(key, 0).ok()
    }

    /// The egress reverse entry for `key`, if any.
    pub fn snat_rev(ebpf: &Ebpf, key: &FlowKey) -> Option<SnatRevEntry> {
        let map = ebpf.map(maps::SNAT_REV).expect("no map shoal_snatrev_v1");
        let map = HashMap::<_, FlowKey, SnatRevEntry>::try_from(map).expect("an LRU hash");
        map.get(key, 0).ok()
    }

    /// How many conntrack entries there are.
    pub fn conntrack_len(ebpf: &Ebpf) -> usize {
        let map = ebpf.map(maps::CONNTRACK).expect("no map shoal_ct_v2");
        let map = HashMap::<_, FlowKey, CtEntry>::try_from(map).expect("shoal_ct_v2 is a hash");
        map.keys().count()
    }
}

fn config_map(ebpf: &mut Ebpf) -> Result<Array<&mut MapData, LbConfig>, Box<dyn Error>> {
    let map = ebpf
        .map_mut(maps::LB_CONFIG)
        .ok_or("no map shoal_lbcfg_v1")?;
    Ok(Array::try_from(map)?)
}

/// The outer Maglev map: service id → inner table.
type MaglevOuter<'a> = HashOfMaps<&'a mut MapData, u32, Array<MapData, u32>>;

fn maglev_map(ebpf: &mut Ebpf) -> Result<MaglevOuter<'_>, Box<dyn Error>> {
    let map = ebpf.map_mut(maps::MAGLEV).ok_or("no map shoal_maglev_v1")?;
    Ok(HashOfMaps::try_from(map)?)
}

/// A filled inner table, not yet visible to any program.
fn inner_table(slots: &[u32]) -> Result<Array<MapData, u32>, Box<dyn Error>> {
    let mut table = Array::<MapData, u32>::create(MAGLEV_SIZE, MAGLEV_MAP_FLAGS)?;
    for (slot, id) in (0..).zip(slots) {
        table.set(slot, id, 0)?;
    }
    Ok(table)
}

/// Remove every entry of an LRU flow map.
fn clear<V: aya::Pod>(ebpf: &mut Ebpf, name: &str) -> Res {
    let mut map = hash_map::<FlowKey, V>(ebpf, name)?;
    let keys = map.keys().collect::<Result<Vec<_>, _>>()?;
    for key in keys {
        map.remove(&key)?;
    }
    Ok(())
}

/// Insert seeded flow entries into a map that must be empty.
fn seed<V: aya::Pod>(ebpf: &mut Ebpf, name: &str, entries: &[(FlowKey, V)]) -> Res {
    let mut map = hash_map::<FlowKey, V>(ebpf, name)?;
    if map.keys().next().is_some() {
        return Err(format!("{name}: entries left behind by an earlier fixture").into());
    }
    for (key, value) in entries {
        map.insert(key, value, 0)?;
    }
    Ok(())
}

impl MapSetup for LbMaps {
    fn apply(&self, ebpf: &mut Ebpf) -> Res {
        if let Some(config) = &self.config {
            let mut map = config_map(ebpf)?;
            if map.get(&0, 0)? != LbConfig::default() {
                return Err("shoal_lbcfg_v1 left set by an earlier fixture".into());
            }
            map.set(0, config, 0)?;
        }
        insert_all(ebpf, maps::SERVICES, &self.services)?;
        insert_all(ebpf, maps::VIPS, &self.vips)?;
        insert_all(ebpf, maps::BACKENDS, &self.backends)?;
        for (id, slots) in &self.tables {
            let table = inner_table(slots)?;
            let mut outer = maglev_map(ebpf)?;
            if outer.get(id, 0).is_ok() {
                return Err(format!("shoal_maglev_v1: table {id} left behind").into());
            }
            // The outer map holds its own reference; our fd closes on drop.
            outer.insert(id, &table, 0)?;
        }
        seed(ebpf, maps::CONNTRACK, &self.conntrack)?;
        seed(ebpf, maps::REPLIES, &self.replies)
    }

    fn undo(&self, ebpf: &mut Ebpf) -> Res {
        if self.config.is_some() {
            config_map(ebpf)?.set(0, LbConfig::default(), 0)?;
        }
        remove_all(ebpf, maps::SERVICES, &self.services)?;
        remove_all(ebpf, maps::VIPS, &self.vips)?;
        remove_all(ebpf, maps::BACKENDS, &self.backends)?;
        let mut outer = maglev_map(ebpf)?;
        for (id, _) in &self.tables {
            outer.remove(id)?;
        }
        clear::<CtEntry>(ebpf, maps::CONNTRACK)?;
        clear::<SnatEntry>(ebpf, maps::SNAT)?;
        clear::<SnatRevEntry>(ebpf, maps::SNAT_REV)?;
        clear::<ReplyEntry>(ebpf, maps::REPLIES)
    }
}
