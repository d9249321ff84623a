//! The nftables baselines of the load-balancing benchmark.
//!
//! East-west: a client namespace and two backend namespaces, each joined to
//! a router namespace by its own veth pair, routed plainly; the router does
//! kube-proxy's nftables-mode DNAT (a `daddr . proto . dport` verdict map
//! per service, a `numgen random` verdict map over endpoint chains, `dnat`
//! in each endpoint chain). Routing mesh: Swarm's ingress shape on lab
//! nodes 3 and 4 — DNAT plus masquerade in the receiving node's namespace,
//! backends on node 3 behind the kernel VXLAN + bridge path, which node 4
//! joins with an address of its own on the overlay.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use shoal_netns_tests::lab::cmd::{self as labcmd, netns_command};
use shoal_netns_tests::lab::{Lab, Node};
use shoal_netns_tests::overlay_kit::{
    Cidr, MacAddr, Peer, TaskIface, VXLAN_OVERHEAD, kernel_vxlan,
};

use super::lb_load::BACKEND_PORT;
use xtask::sh;

/// The measured service's VIP and port on the router.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 50, 0, 100);
pub const VIP_PORT: u16 = 80;
/// Published port on nodes 3 and 4.
pub const MESH_PORT: u16 = 8000;
/// Our nftables table, in the router and in nodes 3 and 4.
const TABLE: &str = "shoalbench";
/// VNI of the kernel overlay behind the mesh baseline.
const MESH_VNI: u32 = 4096;

/// The east-west baseline's namespaces.
pub struct EastWest {
    /// Router doing the DNAT.
    pub router: String,
    /// Client.
    pub client: String,
    /// Backends, with their addresses.
    pub backends: Vec<(String, Ipv4Addr)>,
}

/// Builds the east-west baseline: client 10.40.1.2, backends 10.41.0.2
/// and 10.42.0.2, each on its own /24 to the router (.1).
pub fn east_west(lab: &mut Lab) -> Result<EastWest> {
    let router = lab.add_netns("rt")?;
    sysctl_forward(&router)?;
    let client = lab.add_netns("nc")?;
    wire(&router, &client, "vc", [10, 40, 1])?;
    let mut backends = Vec::new();
    for (name, third) in [("nb1", 41), ("nb2", 42)] {
        let ns = lab.add_netns(name)?;
        wire(&router, &ns, &format!("v{name}"), [10, third, 0])?;
        backends.push((ns, Ipv4Addr::new(10, third, 0, 2)));
    }
    Ok(EastWest {
        router,
        client,
        backends,
    })
}

/// A veth `router_if` in `router` (`prefix.1/24`) to `eth0` in `ns`
/// (`prefix.2/24`, default route via the router).
fn wire(router: &str, ns: &str, router_if: &str, prefix: [u8; 3]) -> Result<()> {
    let [a, b, c] = prefix;
    let (gw, addr) = (format!("{a}.{b}.{c}.1"), format!("{a}.{b}.{c}.2"));
    labcmd::ip(&[
        "-n", router, "link", "add", router_if, "type", "veth", "peer", "name", "eth0", "netns", ns,
    ])?;
    labcmd::ip(&[
        "-n",
        router,
        "addr",
        "add",
        &format!("{gw}/24"),
        "dev",
        router_if,
    ])?;
    labcmd::ip(&["-n", router, "link", "set", router_if, "up"])?;
    labcmd::ip(&[
        "-n",
        ns,
        "addr",
        "add",
        &format!("{addr}/24"),
        "dev",
        "eth0",
    ])?;
    labcmd::ip(&["-n", ns, "link", "set", "eth0", "up"])?;
    labcmd::ip(&["-n", ns, "route", "add", "default", "via", &gw])?;
    Ok(())
}

fn sysctl_forward(netns: &str) -> Result<()> {
    let mut cmd = netns_command(netns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
    sh::output(&mut cmd).map(drop)
}

/// Extra service `i`'s VIP: 10.50.(1 + i / 250).(1 + i % 250).
fn extra_vip(i: usize) -> Ipv4Addr {
    let hi = u8::try_from(1 + i / 250).unwrap_or(u8::MAX);
    let lo = u8::try_from(1 + i % 250).unwrap_or(u8::MAX);
    Ipv4Addr::new(10, 50, hi, lo)
}

/// kube-proxy-shaped rules for `count` services (the measured one and
/// `count - 1` extra ones) over `backends`, replacing any earlier table.
pub fn east_west_rules(count: usize, backends: &[Ipv4Addr]) -> String {
    let mut elements = Vec::with_capacity(count);
    let mut chains = String::new();
    for i in 0..count {
        let vip = if i == 0 { VIP } else { extra_vip(i) };
        elements.push(format!("{vip} . tcp . {VIP_PORT} : goto svc{i}"));
        chains += &chain(
            &format!("svc{i}"),
            &pick(&format!("ep{i}-"), backends.len()),
        );
        for (j, b) in backends.iter().enumerate() {
            chains += &chain(&format!("ep{i}-{j}"), &dnat(*b));
        }
    }
    let map = format!(
        "  map service-ips {{\n    type ipv4_addr . inet_proto . inet_service : verdict\n    \
         elements = {{ {} }}\n  }}\n",
        elements.join(",\n      ")
    );
    let hook = chain(
        "prerouting",
        "type nat hook prerouting priority dstnat; policy accept;\n    \
         ip daddr . meta l4proto . th dport vmap @service-ips",
    );
    table(&format!("{map}{hook}{chains}"))
}

/// A fresh table `TABLE` holding `body` (replacing the old one atomically).
fn table(body: &str) -> String {
    format!("table ip {TABLE}\ndelete table ip {TABLE}\ntable ip {TABLE} {{\n{body}}}\n")
}

/// One chain, one statement per line.
fn chain(name: &str, body: &str) -> String {
    format!("  chain {name} {{\n    {body}\n  }}\n")
}

/// The endpoint statement: DNAT to `backend`.
fn dnat(backend: Ipv4Addr) -> String {
    format!("meta l4proto tcp dnat to {backend}:{BACKEND_PORT}")
}

/// `numgen random mod n vmap { 0 : goto <prefix>0, … }`.
fn pick(prefix: &str, n: usize) -> String {
    let arms: Vec<String> = (0..n).map(|j| format!("{j} : goto {prefix}{j}")).collect();
    format!("numgen random mod {n} vmap {{ {} }}", arms.join(", "))
}

/// Swarm-ingress-shaped rules for a node at `node`: its `MESH_PORT` is
/// DNATed to `backends` and masqueraded out of `bridge`.
pub fn mesh_rules(node: Ipv4Addr, backends: &[Ipv4Addr], bridge: &str) -> String {
    let pre = chain(
        "prerouting",
        &format!(
            "type nat hook prerouting priority dstnat; policy accept;\n    \
             ip daddr {node} tcp dport {MESH_PORT} goto svc"
        ),
    );
    let post = chain(
        "postrouting",
        &format!(
            "type nat hook postrouting priority srcnat; policy accept;\n    \
             oifname \"{bridge}\" ct status dnat masquerade"
        ),
    );
    let mut chains = chain("svc", &pick("ep", backends.len()));
    for (j, b) in backends.iter().enumerate() {
        chains += &chain(&format!("ep{j}"), &dnat(*b));
    }
    table(&format!("{pre}{post}{chains}"))
}

/// Loads `rules` with `nft -f` in `netns` (the file goes to `dir`); returns how long it took.
pub fn load(netns: &str, dir: &Path, rules: &str) -> Result<Duration> {
    let file = dir.join(format!("{netns}.nft"));
    std::fs::write(&file, rules).with_context(|| format!("writing {}", file.display()))?;
    let mut nft = netns_command(netns, &["nft", "-f", &file.to_string_lossy()])?;
    let start = Instant::now();
    sh::output(&mut nft).with_context(|| format!("loading {}", file.display()))?;
    Ok(start.elapsed())
}

/// The mesh baseline's backends (on node 3), by namespace and address.
pub struct Mesh {
    /// Backends.
    pub backends: Vec<(String, Ipv4Addr)>,
}

/// Builds the mesh baseline on nodes `n3` (backends, bridge address
/// 10.20.0.253) and `n4` (bridge address 10.20.0.254, reaching them over
/// VXLAN) and loads both nodes' ingress rules.
pub fn mesh(lab: &mut Lab, n3: &Node, n4: &Node) -> Result<Mesh> {
    let mtu = 1500 - VXLAN_OVERHEAD;
    let ips = [Ipv4Addr::new(10, 20, 0, 11), Ipv4Addr::new(10, 20, 0, 12)];
    let (gw3, gw4) = (Ipv4Addr::new(10, 20, 0, 253), Ipv4Addr::new(10, 20, 0, 254));
    let (bridge, _) = kernel_vxlan::ensure_network(n3, MESH_VNI, mtu)?;
    kernel_vxlan::ensure_network(n4, MESH_VNI, mtu)?;
    bridge_address(n3, &bridge, gw3)?;
    bridge_address(n4, &bridge, gw4)?;
    let mut backends = Vec::new();
    for (name, ip) in ["mb1", "mb2"].into_iter().zip(ips) {
        let ns = lab.add_netns(name)?;
        let addr = Cidr {
            addr: ip,
            prefix: 24,
        };
        let task = TaskIface {
            netns: ns.clone(),
            addr,
            mac: MacAddr::from_ip(ip),
            mtu,
        };
        kernel_vxlan::plug_task(n3, &bridge, &task)?;
        let to_n4 = Peer {
            ip: gw4,
            mac: MacAddr::from_ip(gw4),
            node: n4.addr(),
        };
        kernel_vxlan::add_peer(n3, MESH_VNI, &ns, &to_n4)?;
        reach_from(n4, &bridge, ip, n3.addr())?;
        backends.push((ns, ip));
    }
    let dir = lab.id().state_root();
    for node in [n3, n4] {
        sysctl_forward(node.name())?;
        load(node.name(), &dir, &mesh_rules(node.addr(), &ips, &bridge))?;
    }
    Ok(Mesh { backends })
}

/// Gives `bridge` on `node` the address `ip`/24 and the MAC derived from it.
fn bridge_address(node: &Node, bridge: &str, ip: Ipv4Addr) -> Result<()> {
    let (ns, mac) = (node.name(), MacAddr::from_ip(ip).to_string());
    labcmd::ip(&["-n", ns, "link", "set", bridge, "address", &mac])?;
    labcmd::ip(&["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", bridge])?;
    Ok(())
}

/// Static entries on `node` for a backend at `ip` behind the node at `via`:
/// FDB on the VXLAN device, permanent neighbour on the bridge.
fn reach_from(node: &Node, bridge: &str, ip: Ipv4Addr, via: Ipv4Addr) -> Result<()> {
    let mac = MacAddr::from_ip(ip).to_string();
    let vxlan = format!("vxlan{MESH_VNI}");
    node.exec(&[
        "bridge",
        "fdb",
        "append",
        &mac,
        "dev",
        &vxlan,
        "dst",
        &via.to_string(),
    ])?;
    let ip = ip.to_string();
    labcmd::ip(&[
        "-n",
        node.name(),
        "neigh",
        "replace",
        &ip,
        "lladdr",
        &mac,
        "dev",
        bridge,
        "nud",
        "permanent",
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn east_west_rules_map_every_service() {
        let b = [Ipv4Addr::new(10, 41, 0, 2), Ipv4Addr::new(10, 42, 0, 2)];
        let rules = east_west_rules(3, &b);
        assert!(rules.contains("10.50.0.100 . tcp . 80 : goto svc0"));
        assert!(rules.contains("10.50.1.3 . tcp . 80 : goto svc2"));
        assert!(rules.contains(
            "chain svc1 {\n    numgen random mod 2 vmap { 0 : goto ep1-0, 1 : goto ep1-1 }\n  }"
        ));
        assert!(rules.contains("chain ep2-1 {\n    meta l4proto tcp dnat to 10.42.0.2:8080\n"));
        assert!(rules.starts_with("table ip shoalbench\ndelete table ip shoalbench\n"));
        let vips: std::collections::BTreeSet<_> = (1..10_000).map(extra_vip).collect();
        assert_eq!(vips.len(), 9_999);
        assert!(!vips.contains(&VIP));
    }

    #[test]
    fn mesh_rules_dnat_and_masquerade() {
        let rules = mesh_rules(
            Ipv4Addr::new(198, 18, 0, 13),
            &[Ipv4Addr::new(10, 20, 0, 11)],
            "br4096",
        );
        assert!(rules.contains("ip daddr 198.18.0.13 tcp dport 8000 goto svc"));
        assert!(rules.contains("oifname \"br4096\" ct status dnat masquerade"));
        assert!(rules.contains("chain ep0 {\n    meta l4proto tcp dnat to 10.20.0.11:8080\n"));
    }
}
