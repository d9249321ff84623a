//! Address arguments: `--listen-addr`, `--advertise-addr`, and picking an
//! address to advertise when none is given.

use std::net::{IpAddr, SocketAddr};

use super::DaemonError;

/// Default port of the control listener (Swarm's).
pub const DEFAULT_PORT: u16 = 2377;

/// Parses `--listen-addr`: `IP:PORT`, `IP` (port 2377) or `:PORT`.
pub fn parse_listen(value: &str) -> Result<SocketAddr, DaemonError> {
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    if let Some(port) = value.strip_prefix(':').and_then(|p| p.parse::<u16>().ok()) {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    Err(DaemonError::BadAddress {
        what: "listen address",
        value: value.to_owned(),
        expected: "IP:PORT, IP or :PORT",
    })
}

/// The address to advertise: `--advertise-addr` (`IP` takes the listen
/// port), else the listen IP if it is specific, else `fallback_ip`.
pub fn advertise(
    given: Option<&str>,
    listen: SocketAddr,
    fallback_ip: impl FnOnce() -> Result<IpAddr, DaemonError>,
) -> Result<SocketAddr, DaemonError> {
    match given {
        Some(value) => {
            if let Ok(addr) = value.parse::<SocketAddr>() {
                return Ok(addr);
            }
            value
                .parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, listen.port()))
                .map_err(|_| DaemonError::BadAddress {
                    what: "advertise address",
                    value: value.to_owned(),
                    expected: "IP or IP:PORT",
                })
        }
        None if !listen.ip().is_unspecified() => Ok(listen),
        None => Ok(SocketAddr::new(fallback_ip()?, listen.port())),
    }
}

/// The one non-loopback IPv4 address of this host (its network namespace).
pub fn only_ipv4() -> Result<IpAddr, DaemonError> {
    let candidates = host_ipv4s()?;
    match candidates.as_slice() {
        [one] => Ok(IpAddr::V4(*one)),
        many => Err(DaemonError::NoAdvertiseAddr { found: many.len() }),
    }
}

fn host_ipv4s() -> Result<Vec<std::net::Ipv4Addr>, DaemonError> {
    let mut addrs: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `addrs` with a list we free below.
    if unsafe { libc::getifaddrs(&mut addrs) } != 0 {
        return Err(DaemonError::io("list interface addresses of", "this host")(
            std::io::Error::last_os_error(),
        ));
    }
    let mut found = Vec::new();
    let mut cursor = addrs;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned.
        let entry = unsafe { &*cursor };
        if !entry.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr of the family it names.
            let family = unsafe { (*entry.ifa_addr).sa_family };
            if i32::from(family) == libc::AF_INET {
                // SAFETY: AF_INET addresses are sockaddr_in.
                let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !ip.is_loopback() {
                    found.push(ip);
                }
            }
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: `addrs` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(addrs) };
    Ok(found)
}

/// The control address of a joining node: `--advertise-addr` if given
/// (an IP takes the listen port), else the address the manager saw it
/// connect from, with its listen port.
pub fn joiner_addr(
    given: Option<&str>,
    observed_ip: &str,
    listen_port: u16,
) -> Result<String, DaemonError> {
    let listen = SocketAddr::from(([0, 0, 0, 0], listen_port));
    let fallback = || {
        observed_ip
            .parse::<IpAddr>()
            .map_err(|_| DaemonError::BadAddress {
                what: "peer address",
                value: observed_ip.to_owned(),
                expected: "an IP",
            })
    };
    advertise(given, listen, fallback).map(|addr| addr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_and_advertise_addresses_parse_like_docker() {
        assert_eq!(
            parse_listen("0.0.0.0:2377").ok(),
            "0.0.0.0:2377".parse().ok()
        );
        assert_eq!(
            parse_listen("198.18.0.11").ok(),
            "198.18.0.11:2377".parse().ok()
        );
        assert_eq!(parse_listen(":4000").ok(), "0.0.0.0:4000".parse().ok());
        assert!(parse_listen("nope").is_err());
        let listen = "0.0.0.0:2377".parse().expect("addr");
        let never = || -> Result<IpAddr, DaemonError> { panic!("not needed") };
        assert_eq!(
            advertise(Some("10.0.0.1"), listen, never).ok(),
            "10.0.0.1:2377".parse().ok()
        );
        assert_eq!(
            advertise(Some("10.0.0.1:7000"), listen, never).ok(),
            "10.0.0.1:7000".parse().ok()
        );
        assert!(advertise(Some("host name"), listen, never).is_err());
        let fallback = || Ok("10.9.9.9".parse().expect("ip"));
        assert_eq!(
            advertise(None, listen, fallback).ok(),
            "10.9.9.9:2377".parse().ok()
        );
        assert_eq!(
            joiner_addr(None, "198.18.0.12", 2377).ok(),
            Some("198.18.0.12:2377".to_owned())
        );
    }
}
