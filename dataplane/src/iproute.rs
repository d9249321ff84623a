//! Links, addresses and routes, through iproute2's JSON interface. The one
//! place the data plane changes kernel network configuration outside BPF.

use std::{
    io,
    net::Ipv4Addr,
    path::PathBuf,
    process::{Command, Stdio},
};

use serde_json::Value;

/// Errors running iproute2.
#[derive(Debug, thiserror::Error)]
pub enum IprouteError {
    /// The command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: io::Error,
    },
    /// The command failed.
    #[error("`{command}` failed: {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Its JSON output was not what iproute2 prints.
    #[error("unexpected output from `{command}`")]
    Output {
        /// The command line.
        command: String,
    },
}

/// A network namespace a task lives in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Netns {
    /// A name under /run/netns.
    Named(String),
    /// The namespace of a process (e.g. a container's init).
    Pid(u32),
}

impl Netns {
    /// `"1234"` is a process id, anything else a name under /run/netns.
    pub fn parse(s: &str) -> Netns {
        s.parse()
            .map_or_else(|_| Netns::Named(s.to_owned()), Netns::Pid)
    }

    /// The namespace file.
    pub fn path(&self) -> PathBuf {
        match self {
            Netns::Named(name) => PathBuf::from("/run/netns").join(name),
            Netns::Pid(pid) => PathBuf::from(format!("/proc/{pid}/ns/net")),
        }
    }

    /// How `ip link ... netns X` names it.
    fn ip_arg(&self) -> String {
        match self {
            Netns::Named(name) => name.clone(),
            Netns::Pid(pid) => pid.to_string(),
        }
    }
}

/// What the data plane needs to know about a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub ifindex: u32,
    /// MAC address.
    pub mac: [u8; 6],
    /// MTU.
    pub mtu: u32,
}

/// Run `ip ARGS` in this process's namespace, or inside `netns`.
fn ip(netns: Option<&Netns>, args: &[&str]) -> Result<String, IprouteError> {
    let mut cmd = match netns {
        None => Command::new("ip"),
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", ns.path().display()))
                .arg("--")
                .arg("ip");
            c
        }
    };
    cmd.args(args);
    run(cmd)
}

fn run(mut cmd: Command) -> Result<String, IprouteError> {
    let command = format!("{cmd:?}").replace('"', "");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| IprouteError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(IprouteError::Failed { command, stderr });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The link called `name`, or `None` if there is none.
pub fn link(netns: Option<&Netns>, name: &str) -> Result<Option<LinkInfo>, IprouteError> {
    let json = match ip(netns, &["-j", "link", "show", "dev", name]) {
        Ok(json) => json,
        Err(IprouteError::Failed { stderr, .. }) if stderr.contains("does not exist") => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let bad = || IprouteError::Output {
        command: format!("ip -j link show dev {name}"),
    };
    let value: Value = serde_json::from_str(&json).map_err(|_| bad())?;
    let link = value.get(0).ok_or_else(bad)?;
    let ifindex = link["ifindex"].as_u64().ok_or_else(bad)? as u32;
    let mtu = link["mtu"].as_u64().ok_or_else(bad)? as u32;
    let mac = parse_mac(link["address"].as_str().ok_or_else(bad)?).ok_or_else(bad)?;
    Ok(Some(LinkInfo { ifindex, mac, mtu }))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let bytes: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

/// The first IPv4 address on `name` (this namespace).
pub fn first_ipv4(name: &str) -> Result<Option<Ipv4Addr>, IprouteError> {
    let json = ip(None, &["-j", "-4", "addr", "show", "dev", name])?;
    let bad = || IprouteError::Output {
        command: format!("ip -j -4 addr show dev {name}"),
    };
    let value: Value = serde_json::from_str(&json).map_err(|_| bad())?;
    let addr = value
        .get(0)
        .and_then(|l| l["addr_info"].get(0))
        .and_then(|a| a["local"].as_str())
        .map(|a| a.parse().map_err(|_| bad()))
        .transpose()?;
    Ok(addr)
}

/// Create a veth pair: `host` here, `peer` inside `netns`.
pub fn create_veth(host: &str, peer: &str, netns: &Netns) -> Result<(), IprouteError> {
    let ns = netns.ip_arg();
    ip(
        None,
        &[
            "link", "add", host, "type", "veth", "peer", "name", peer, "netns", &ns,
        ],
    )
    .map(drop)
}

/// Bring `name` (this namespace) up with `mtu`.
pub fn set_up(name: &str, mtu: u32) -> Result<(), IprouteError> {
    ip(
        None,
        &["link", "set", "dev", name, "mtu", &mtu.to_string(), "up"],
    )
    .map(drop)
}

/// Route `ip` (a task's address) to host-side veth `host`, with its MAC
/// as a permanent neighbour: the node's answers to a task that called the
/// node go straight back into the task (the veth answers no ARP of the
/// node's). Idempotent. Two networks' tasks with the same address on one
/// node share the route: the last one written wins.
pub fn route_to_task(host: &str, task_ip: Ipv4Addr, mac: [u8; 6]) -> Result<(), IprouteError> {
    let dst = format!("{task_ip}/32");
    ip(None, &["route", "replace", &dst, "dev", host])?;
    let lladdr = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let addr = task_ip.to_string();
    let args = [
        "neigh",
        "replace",
        &addr,
        "lladdr",
        &lladdr,
        "dev",
        host,
        "nud",
        "permanent",
    ];
    ip(None, &args)?;
    Ok(())
}

/// Delete link `name` (this namespace); deleting one end of a veth deletes both.
pub fn delete_link(name: &str) -> Result<(), IprouteError> {
    ip(None, &["link", "del", "dev", name]).map(drop)
}

/// How a task interface is configured inside its namespace.
pub struct TaskIfaceConfig<'a> {
    /// Interface name in the task.
    pub ifname: &'a str,
    /// Its MAC.
    pub mac: [u8; 6],
    /// Address and prefix length.
    pub ip: Ipv4Addr,
    /// Prefix length of the network.
    pub prefix_len: u8,
    /// Derived MTU.
    pub mtu: u32,
    /// Default route via this gateway, if this is the task's primary network.
    pub default_via: Option<Ipv4Addr>,
    /// Turn GRO on: it gives a veth the NAPI context that frames the XDP
    /// fast path redirects into its peer need (without it the kernel drops
    /// them). Off leaves the setting as it is.
    pub gro: bool,
}

/// Configure a task interface inside its namespace; every step is a
/// replace, so running it again changes nothing.
pub fn configure_task_iface(netns: &Netns, cfg: &TaskIfaceConfig<'_>) -> Result<(), IprouteError> {
    let m = cfg.mac;
    let mac = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    );
    let cidr = format!("{}/{}", cfg.ip, cfg.prefix_len);
    let mtu = cfg.mtu.to_string();
    let ns = Some(netns);
    ip(ns, &["link", "set", "dev", "lo", "up"])?;
    ip(
        ns,
        &[
            "link", "set", "dev", cfg.ifname, "address", &mac, "mtu", &mtu, "up",
        ],
    )?;
    ip(ns, &["addr", "replace", &cidr, "dev", cfg.ifname])?;
    if let Some(gw) = cfg.default_via {
        ip(
            ns,
            &[
                "route",
                "replace",
                "default",
                "via",
                &gw.to_string(),
                "dev",
                cfg.ifname,
            ],
        )?;
    }
    if cfg.gro {
        let mut ethtool = Command::new("nsenter");
        ethtool
            .arg(format!("--net={}", netns.path().display()))
            .args(["--", "ethtool", "-K", cfg.ifname, "gro", "on"]);
        run(ethtool)?;
    }
    // The overlay is IPv4; IPv6 link-local chatter would only be dropped.
    let mut sysctl = Command::new("nsenter");
    sysctl
        .arg(format!("--net={}", netns.path().display()))
        .args([
            "--",
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", cfg.ifname),
        ]);
    run(sysctl).map(drop)
}
