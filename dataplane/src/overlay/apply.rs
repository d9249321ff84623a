//! Reconcile a node's overlay with its part of the desired state (an
//! [`OverlayView`]): diff against what the pinned maps and the links hold and
//! change only the difference, so running it twice changes nothing and a
//! restart loses nothing.

use std::collections::{BTreeMap, HashSet};

use aya::programs::{SchedClassifier, Xdp};
use serde::Serialize;
use shoal_common::{
    egress::EGRESS_ALLOWED,
    maps,
    overlay::{
        ENDPOINT_LOCAL, ENDPOINT_REMOTE, Endpoint, EndpointKey, NETWORK_ENCRYPTED,
        NODE_XDP_FAST_PATH, Network, NodeConfig, PEER_NODE, Peer, TaskIface, VXLAN_OVERHEAD,
        WG_OVERHEAD,
    },
};

use super::{
    state::{LocalEndpoint, Mac, StateError, Underlay},
    tables::{Changes, Tables, TablesError, sync},
    view::OverlayView,
};
use crate::{
    attach::{AttachError, Hook, ensure_tcx_ingress, ensure_xdp, unpin_link},
    iproute::{self, IprouteError, Netns, TaskIfaceConfig},
    object::{Loaded, ObjectError},
    pins::PinPaths,
};

/// Prefix of host-side task veth names (and of their link pins).
const HOST_VETH_PREFIX: &str = "sh";
/// Prefix of task link pin names.
const TASK_LINK_PREFIX: &str = "task_";

/// Errors applying the overlay's part of a desired state.
#[derive(Debug, thiserror::Error)]
pub enum OverlayApplyError {
    /// The state is invalid; nothing was changed.
    #[error("invalid desired state: {0}")]
    State(#[from] StateError),
    /// The underlay interface does not exist or has no IPv4 address.
    #[error("underlay interface {iface}: {why}")]
    Underlay {
        /// Interface name.
        iface: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A task namespace does not exist.
    #[error("endpoint {endpoint}: network namespace {netns} does not exist")]
    NoNetns {
        /// Endpoint id.
        endpoint: String,
        /// Namespace as given.
        netns: String,
    },
    /// Loading the eBPF object failed.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// Attaching a program failed.
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// A map operation failed.
    #[error(transparent)]
    Tables(#[from] TablesError),
    /// Configuring links or addresses failed.
    #[error(transparent)]
    Iproute(#[from] IprouteError),
}

/// What an overlay apply changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OverlayReport {
    /// MTU set on task interfaces (underlay MTU − VXLAN overhead).
    pub task_mtu: u32,
    /// MTU set on task interfaces of encrypted networks (WireGuard's
    /// overhead taken off as well).
    pub encrypted_task_mtu: u32,
    /// WireGuard device program newly attached.
    pub wg_attached: bool,
    /// Node settings rewritten.
    pub node_config_changed: bool,
    /// Underlay program newly attached.
    pub underlay_attached: bool,
    /// Underlay XDP program newly attached (the fast path is on).
    pub xdp_attached: bool,
    /// Networks table.
    pub networks: Changes,
    /// Task interfaces table.
    pub task_ifaces: Changes,
    /// Endpoints table.
    pub endpoints: Changes,
    /// Peers table (the nodes VXLAN is accepted from).
    pub peers: Changes,
    /// Egress table (networks that are not `--internal`).
    pub egress: Changes,
    /// Host-side veths created.
    pub veths_created: Vec<String>,
    /// Host-side veths removed (no longer desired).
    pub veths_removed: Vec<String>,
}

impl OverlayReport {
    /// Whether the apply changed nothing at all.
    pub fn is_noop(&self) -> bool {
        !self.node_config_changed
            && !self.underlay_attached
            && !self.xdp_attached
            && !self.wg_attached
            && self.networks.is_empty()
            && self.task_ifaces.is_empty()
            && self.endpoints.is_empty()
            && self.peers.is_empty()
            && self.egress.is_empty()
            && self.veths_created.is_empty()
            && self.veths_removed.is_empty()
    }
}

/// The host-side veth name of a task interface: stable across runs.
pub fn host_veth_name(netns: &str, ifname: &str) -> String {
    // FNV-1a: short, stable, no dependency.
    let mut h: u32 = 0x811c_9dc5;
    for b in netns.bytes().chain([b'/']).chain(ifname.bytes()) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("{HOST_VETH_PREFIX}{h:08x}")
}

/// Apply the overlay part of a validated desired state to the node whose
/// pins are `pins`: underlay program and settings, networks, task
/// interfaces and endpoints. Stale task veths are left to
/// [`remove_stale_task_ifaces`], which the caller runs after the services.
pub fn apply(pins: &PinPaths, view: &OverlayView) -> Result<OverlayReport, OverlayApplyError> {
    check_netns_exist(view)?;
    let (node_config, mtu) = underlay_config(view.underlay)?;
    let mut report = OverlayReport {
        task_mtu: mtu - VXLAN_OVERHEAD,
        encrypted_task_mtu: encrypted_task_mtu(mtu),
        ..Default::default()
    };
    let mut loaded = Loaded::load(pins)?;
    let mut tables = Tables::open(pins)?;

    let iface = &view.underlay.iface;
    let underlay_link = pins.links().join(Hook::Tc.link_name(iface));
    let prog = tc_program(&mut loaded, maps::programs::UNDERLAY_TC)?;
    report.underlay_attached =
        ensure_tcx_ingress(prog, maps::programs::UNDERLAY_TC, iface, &underlay_link)?;
    if let Some(wg) = view
        .underlay
        .wg_iface
        .as_deref()
        .filter(|_| node_config.wg_ifindex != 0)
    {
        let wg_link = pins.links().join(Hook::Tc.link_name(wg));
        let prog = tc_program(&mut loaded, maps::programs::WG_TC)?;
        report.wg_attached = ensure_tcx_ingress(prog, maps::programs::WG_TC, wg, &wg_link)?;
    }
    report.networks = sync(
        &mut tables.networks,
        maps::NETWORKS,
        &desired_networks(view),
    )?;
    report.egress = sync(&mut tables.egress, maps::EGRESS, &desired_egress(view))?;

    let task_prog = tc_program(&mut loaded, maps::programs::TASK_TC)?;
    let mtus = TaskMtus {
        clear: report.task_mtu,
        encrypted: report.encrypted_task_mtu,
    };
    let local = local_endpoints(pins, task_prog, view, mtus)?;
    // Only now, with GRO on in every task interface (the fast path's
    // redirects need it), may the settings switch the fast path on.
    report.node_config_changed = tables.set_node_config(node_config)?;
    report.xdp_attached = ensure_underlay_xdp(&mut loaded, pins, view.underlay)?;
    report.veths_created = local.created;
    let mut endpoints = local.endpoints;
    endpoints.extend(remote_endpoints(view));
    report.task_ifaces = sync(&mut tables.ifaces, maps::TASK_IFACES, &local.ifaces)?;
    report.endpoints = sync(&mut tables.endpoints, maps::ENDPOINTS, &endpoints)?;
    report.peers = sync(
        &mut tables.peers,
        maps::PEERS,
        &desired_peers(view, node_config.underlay_ip),
    )?;
    Ok(report)
}

/// The task interfaces of this node, as the maps hold them.
struct LocalTables {
    /// Host ifindex → task interface.
    ifaces: BTreeMap<u32, TaskIface>,
    /// Their endpoint entries.
    endpoints: BTreeMap<EndpointKey, Endpoint>,
    /// Host-side veths created.
    created: Vec<String>,
}

/// The MTU of a task interface, by its network's kind.
#[derive(Clone, Copy)]
struct TaskMtus {
    clear: u32,
    encrypted: u32,
}

/// The task MTU of encrypted networks on an underlay of `mtu`: the VXLAN
/// packet WireGuard carries must fit the underlay with WireGuard's
/// overhead, rounded down to 16 bytes (WireGuard may pad its plaintext to
/// a multiple of 16).
pub fn encrypted_task_mtu(mtu: u32) -> u32 {
    (mtu.saturating_sub(WG_OVERHEAD) & !15)
        .saturating_sub(VXLAN_OVERHEAD)
        .max(68)
}

/// Create and configure every task interface of `view`.
fn local_endpoints(
    pins: &PinPaths,
    prog: &mut SchedClassifier,
    view: &OverlayView,
    mtus: TaskMtus,
) -> Result<LocalTables, OverlayApplyError> {
    let mut out = LocalTables {
        ifaces: BTreeMap::new(),
        endpoints: BTreeMap::new(),
        created: Vec::new(),
    };
    let mut routed = HashSet::new();
    for ep in view.endpoints {
        let default_route = routed.insert(ep.netns.clone());
        let encrypted = view.network(&ep.network).is_some_and(|n| n.encrypted);
        let mtu = if encrypted {
            mtus.encrypted
        } else {
            mtus.clear
        };
        let (ifindex, iface, created) =
            ensure_task_iface(pins, prog, view, ep, mtu, default_route)?;
        out.created.extend(created);
        out.ifaces.insert(ifindex, iface);
        out.endpoints.insert(
            EndpointKey {
                vni: iface.vni,
                ip: iface.ip,
            },
            Endpoint {
                kind: ENDPOINT_LOCAL,
                ifindex,
                node_ip: [0; 4],
                mac: iface.mac,
                host_mac: iface.host_mac,
            },
        );
    }
    Ok(out)
}

/// The endpoint entries of the tasks on other nodes.
fn remote_endpoints(view: &OverlayView) -> BTreeMap<EndpointKey, Endpoint> {
    view.remote_endpoints
        .iter()
        .map(|remote| {
            let vni = view.network(&remote.network).map_or(0, |n| n.vni);
            let mac = remote.mac.unwrap_or_else(|| Mac::for_ip(remote.ip)).0;
            let key = EndpointKey {
                vni,
                ip: remote.ip.octets(),
            };
            let value = Endpoint {
                kind: ENDPOINT_REMOTE,
                ifindex: 0,
                node_ip: remote.node.octets(),
                mac,
                host_mac: [0; 6],
            };
            (key, value)
        })
        .collect()
}

fn check_netns_exist(view: &OverlayView) -> Result<(), OverlayApplyError> {
    for ep in view.endpoints {
        if !Netns::parse(&ep.netns).path().exists() {
            return Err(OverlayApplyError::NoNetns {
                endpoint: ep.id.clone(),
                netns: ep.netns.clone(),
            });
        }
    }
    Ok(())
}

/// The node settings and the underlay MTU.
fn underlay_config(underlay: &Underlay) -> Result<(NodeConfig, u32), OverlayApplyError> {
    let iface = &underlay.iface;
    let missing = |why| OverlayApplyError::Underlay {
        iface: iface.clone(),
        why,
    };
    let link = iproute::link(None, iface)?.ok_or_else(|| missing("no such interface"))?;
    let addr = match underlay.addr {
        Some(addr) => addr,
        None => iproute::first_ipv4(iface)?.ok_or_else(|| missing("no IPv4 address"))?,
    };
    if link.mtu <= VXLAN_OVERHEAD + 68 {
        return Err(missing("MTU too small for VXLAN"));
    }
    let wg_ifindex = match underlay.wg_iface.as_deref() {
        Some(wg) => iproute::link(None, wg)?.map_or(0, |l| l.ifindex),
        None => 0,
    };
    let cfg = NodeConfig {
        underlay_ifindex: link.ifindex,
        underlay_ip: addr.octets(),
        vxlan_port: underlay.vxlan_port.to_be_bytes(),
        _pad: [0; 2],
        wg_ifindex,
        flags: if underlay.xdp_fast_path {
            NODE_XDP_FAST_PATH
        } else {
            0
        },
        underlay_mtu: link.mtu,
    };
    Ok((cfg, link.mtu))
}

/// With the fast path on, the XDP program on the underlay NIC. Switching
/// it off leaves an attached one in place: it then only validates.
fn ensure_underlay_xdp(
    loaded: &mut Loaded,
    pins: &PinPaths,
    underlay: &Underlay,
) -> Result<bool, OverlayApplyError> {
    if !underlay.xdp_fast_path {
        return Ok(false);
    }
    let name = maps::programs::UNDERLAY_XDP;
    let iface = &underlay.iface;
    let err = |source| AttachError::Program {
        program: name,
        iface: iface.clone(),
        source,
    };
    let prog: &mut Xdp = loaded
        .ebpf
        .program_mut(name)
        .ok_or(AttachError::MissingProgram(name))?
        .try_into()
        .map_err(err)?;
    if prog.fd().is_err() {
        prog.load().map_err(err)?;
    }
    let path = pins.links().join(Hook::Xdp.link_name(iface));
    Ok(ensure_xdp(prog, name, iface, &path)?)
}

fn tc_program<'a>(
    loaded: &'a mut Loaded,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, OverlayApplyError> {
    let prog: &mut SchedClassifier = loaded
        .ebpf
        .program_mut(name)
        .ok_or(AttachError::MissingProgram(name))?
        .try_into()
        .map_err(|source| AttachError::Program {
            program: name,
            iface: String::new(),
            source,
        })?;
    if prog.fd().is_err() {
        prog.load().map_err(|source| AttachError::Program {
            program: name,
            iface: String::new(),
            source,
        })?;
    }
    Ok(prog)
}

/// The peers table: every node VXLAN is accepted from, but never this node
/// (`own`: its underlay address) — a frame claiming to be from it is forged.
fn desired_peers(view: &OverlayView, own: [u8; 4]) -> BTreeMap<[u8; 4], Peer> {
    view.peer_addrs()
        .into_iter()
        .filter(|ip| ip.octets() != own)
        .map(|ip| (ip.octets(), Peer { kind: PEER_NODE }))
        .collect()
}

/// The networks whose tasks may leave the cluster (all but `--internal`).
fn desired_egress(view: &OverlayView) -> BTreeMap<u32, u32> {
    view.networks
        .iter()
        .filter(|n| !n.internal)
        .map(|n| (n.vni, EGRESS_ALLOWED))
        .collect()
}

fn desired_networks(view: &OverlayView) -> BTreeMap<u32, Network> {
    view.networks
        .iter()
        .map(|n| {
            (
                n.vni,
                Network {
                    subnet: n.subnet.addr.octets(),
                    mask: n.subnet.mask().octets(),
                    flags: if n.encrypted { NETWORK_ENCRYPTED } else { 0 },
                },
            )
        })
        .collect()
}

/// Create (if needed) and configure one task interface; returns the host
/// ifindex, its table entry and the veth name if it was created.
fn ensure_task_iface(
    pins: &PinPaths,
    prog: &mut SchedClassifier,
    view: &OverlayView,
    ep: &LocalEndpoint,
    mtu: u32,
    default_route: bool,
) -> Result<(u32, TaskIface, Option<String>), OverlayApplyError> {
    let netns = Netns::parse(&ep.netns);
    let host = host_veth_name(&ep.netns, &ep.ifname);
    let created = if iproute::link(None, &host)?.is_none() {
        iproute::create_veth(&host, &ep.ifname, &netns)?;
        Some(host.clone())
    } else {
        None
    };
    let net = view
        .network(&ep.network)
        .ok_or_else(|| StateError::UnknownNetwork {
            endpoint: ep.id.clone(),
            network: ep.network.clone(),
        })?;
    let mac = ep.mac.unwrap_or_else(|| Mac::for_ip(ep.ip)).0;
    iproute::configure_task_iface(
        &netns,
        &TaskIfaceConfig {
            ifname: &ep.ifname,
            mac,
            ip: ep.ip,
            prefix_len: net.subnet.prefix_len,
            mtu,
            default_via: default_route.then(|| net.subnet.gateway()),
            gro: view.underlay.xdp_fast_path,
        },
    )?;
    iproute::set_up(&host, mtu)?;
    // The node answers a task that calls it (egress to the node's own
    // address reaches its stack untranslated) back through this veth.
    iproute::route_to_task(&host, ep.ip, mac)?;
    let link = iproute::link(None, &host)?.ok_or(OverlayApplyError::Underlay {
        iface: host.clone(),
        why: "vanished",
    })?;
    let pin = pins.links().join(format!("{TASK_LINK_PREFIX}{host}"));
    ensure_tcx_ingress(prog, maps::programs::TASK_TC, &host, &pin)?;
    let iface = TaskIface {
        vni: net.vni,
        ip: ep.ip.octets(),
        mac,
        host_mac: link.mac,
    };
    Ok((link.ifindex, iface, created))
}

/// Detach and delete task veths that are pinned but no longer in `view`;
/// returns their names.
pub fn remove_stale_task_ifaces(
    pins: &PinPaths,
    view: &OverlayView,
) -> Result<Vec<String>, OverlayApplyError> {
    let wanted: HashSet<String> = view
        .endpoints
        .iter()
        .map(|ep| host_veth_name(&ep.netns, &ep.ifname))
        .collect();
    let mut removed = Vec::new();
    for pin in crate::attach::pinned_links(pins)? {
        let Some(host) = pin.strip_prefix(TASK_LINK_PREFIX) else {
            continue;
        };
        if wanted.contains(host) {
            continue;
        }
        unpin_link(&pins.links().join(&pin))?;
        if iproute::link(None, host)?.is_some() {
            iproute::delete_link(host)?;
        }
        removed.push(host.to_owned());
    }
    Ok(removed)
}
