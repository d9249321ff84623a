//! `shoal dp monitor`: the programs' drop (and, on request, trace) events
//! as they happen, one line each, like `cilium monitor`. Switches the
//! events on for as long as it runs; Ctrl-C or SIGTERM switches them off,
//! and a listener killed outright stops costing anything when its lease
//! (`shoal_dataplane::monitor::LEASE`) runs out.

use std::{
    ffi::CStr,
    io::Write as _,
    net::Ipv4Addr,
    os::fd::AsRawFd as _,
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use clap::Args;
use serde::Serialize;
use shoal_dataplane::monitor::{Event, Flow, LEASE, Monitor, MonitorFilter};

use shoal_dataplane::PinPaths;

use super::output::Format;

/// How long one wait for events lasts: the bound on noticing a signal.
const POLL_MS: i32 = 200;

/// Set by SIGINT/SIGTERM: leave the loop and switch the events off.
static STOP: AtomicBool = AtomicBool::new(false);

/// Event types `--type` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventType {
    /// Every dropped packet, with its reason.
    Drop,
    /// Packets the programs passed or redirected (use --from/--to to narrow).
    Trace,
}

/// `shoal dp monitor` arguments.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Event types to show; repeat for both. Default: drop.
    #[arg(long = "type", value_enum)]
    types: Vec<EventType>,
    /// Only packets from ADDR[:PORT] (outer or, in VXLAN, inner header).
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = parse_addr_port)]
    from: Option<(Ipv4Addr, u16)>,
    /// Only packets to ADDR[:PORT] (outer or, in VXLAN, inner header).
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = parse_addr_port)]
    to: Option<(Ipv4Addr, u16)>,
    /// Output format: lines for people, or one JSON object per line.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// `ADDR` or `ADDR:PORT`; a port of 0 means any.
fn parse_addr_port(s: &str) -> Result<(Ipv4Addr, u16), String> {
    let (addr, port) = match s.split_once(':') {
        Some((addr, port)) => (
            addr,
            port.parse().map_err(|e| format!("port {port:?}: {e}"))?,
        ),
        None => (s, 0),
    };
    let addr = addr
        .parse()
        .map_err(|e| format!("IPv4 address {addr:?}: {e}"))?;
    Ok((addr, port))
}

impl MonitorArgs {
    fn filter(&self) -> MonitorFilter {
        let trace = self.types.contains(&EventType::Trace);
        MonitorFilter {
            drops: self.types.is_empty() || self.types.contains(&EventType::Drop),
            trace,
            from: self.from,
            to: self.to,
        }
    }
}

/// Run `shoal dp monitor` until Ctrl-C, SIGTERM or a closed stdout.
pub fn monitor(pins: &PinPaths, args: MonitorArgs) -> anyhow::Result<()> {
    install_signal_handlers();
    let mut monitor = Monitor::start(pins, args.filter())?;
    eprintln!(
        "listening for events on {} (Ctrl-C to quit)",
        pins.root().display()
    );
    let mut out = std::io::stdout().lock();
    let mut renewed = Instant::now();
    while !STOP.load(Ordering::Relaxed) {
        wait_readable(&monitor);
        while let Some(event) = monitor.next_event() {
            let line = render(&event, args.format)?;
            // A closed pipe (`| head`) ends the monitor like Ctrl-C.
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                STOP.store(true, Ordering::Relaxed);
                break;
            }
        }
        if renewed.elapsed() >= LEASE / 4 {
            monitor.renew()?;
            renewed = Instant::now();
        }
    }
    monitor.stop()?;
    eprintln!("events switched off");
    Ok(())
}

/// Wait until events are waiting or [`POLL_MS`] passed; a signal ends the
/// wait early (EINTR), which is all the caller needs to know.
fn wait_readable(monitor: &Monitor) {
    let mut pfd = libc::pollfd {
        fd: monitor.fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd we own; the result only says whether to read.
    unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
}

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe { libc::signal(sig, handler) };
    }
}

/// The name of device `ifindex` in this network namespace, if it has one.
fn ifname(ifindex: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf holds IF_NAMESIZE bytes, as if_indextoname requires.
    let name = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if name.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// An event as `--format json` prints it: the decoded event and its
/// device's name.
#[derive(Serialize)]
struct JsonEvent<'a> {
    #[serde(flatten)]
    event: &'a Event,
    ifname: Option<String>,
}

fn render(event: &Event, format: Format) -> anyhow::Result<String> {
    let name = ifname(event.ifindex);
    Ok(match format {
        Format::Json => serde_json::to_string(&JsonEvent {
            event,
            ifname: name,
        })?,
        Format::Table => line(event, name.as_deref()),
    })
}

/// `xx drop (malformed-l4) underlay-xdp ifindex 2 (eth0) udp 1.2.3.4:5 -> ...`
fn line(event: &Event, ifname: Option<&str>) -> String {
    let what = match event.reason {
        Some(reason) => format!("xx drop ({reason})"),
        None => format!("-> trace ({})", event.verdict),
    };
    let mut line = format!(
        "{what} {} ifindex {} ({}) ",
        event.program,
        event.ifindex,
        ifname.unwrap_or("?")
    );
    match &event.flow {
        Some(flow) => line.push_str(&flow_text(flow)),
        None => line.push_str("no IPv4 header"),
    }
    if let Some(vni) = event.vni {
        line.push_str(&format!(" vni {vni}"));
    }
    if let Some(inner) = &event.inner {
        line.push_str(&format!(" [{}]", flow_text(inner)));
    }
    line.push_str(&format!(" len {}", event.len));
    line
}

fn flow_text(f: &Flow) -> String {
    if f.sport == 0 && f.dport == 0 {
        format!("{} {} -> {}", f.proto, f.src, f.dst)
    } else {
        format!("{} {}:{} -> {}:{}", f.proto, f.src, f.sport, f.dst, f.dport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(proto: &str, sport: u16, dport: u16) -> Flow {
        Flow {
            proto: proto.to_owned(),
            src: Ipv4Addr::new(10, 0, 1, 2),
            dst: Ipv4Addr::new(10, 0, 1, 3),
            sport,
            dport,
        }
    }

    fn drop_event() -> Event {
        Event {
            kind: "drop",
            reason: Some("malformed-l4"),
            verdict: "drop",
            program: "underlay-xdp",
            ifindex: 2,
            len: 60,
            flow: Some(flow("udp", 1234, 80)),
            vni: None,
            inner: None,
        }
    }

    #[test]
    fn addresses_parse_with_and_without_a_port() {
        let a = Ipv4Addr::new(10, 0, 1, 2);
        assert_eq!(parse_addr_port("10.0.1.2"), Ok((a, 0)));
        assert_eq!(parse_addr_port("10.0.1.2:80"), Ok((a, 80)));
        assert!(parse_addr_port("10.0.1.2:http").is_err());
        assert!(parse_addr_port("web:80").is_err());
    }

    #[test]
    fn a_drop_line_names_reason_program_device_and_flow() {
        assert_eq!(
            line(&drop_event(), Some("eth0")),
            "xx drop (malformed-l4) underlay-xdp ifindex 2 (eth0) udp 10.0.1.2:1234 -> 10.0.1.3:80 len 60"
        );
    }

    #[test]
    fn a_trace_line_shows_the_verdict_vni_and_inner_flow() {
        let event = Event {
            kind: "trace",
            reason: None,
            verdict: "redirect",
            vni: Some(4097),
            inner: Some(flow("icmp", 0, 0)),
            ..drop_event()
        };
        assert_eq!(
            line(&event, None),
            "-> trace (redirect) underlay-xdp ifindex 2 (?) udp 10.0.1.2:1234 -> 10.0.1.3:80 \
             vni 4097 [icmp 10.0.1.2 -> 10.0.1.3] len 60"
        );
    }

    #[test]
    fn json_is_one_object_with_the_reason_and_device_name() {
        let text = serde_json::to_string(&JsonEvent {
            event: &drop_event(),
            ifname: Some("eth0".into()),
        })
        .unwrap();
        assert!(!text.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["reason"], "malformed-l4");
        assert_eq!(v["ifname"], "eth0");
        assert_eq!(v["flow"]["dport"], 80);
    }

    #[test]
    fn the_default_type_is_drop_and_trace_is_opt_in() {
        let filter = |types: Vec<EventType>| {
            MonitorArgs {
                types,
                from: None,
                to: None,
                format: Format::Table,
            }
            .filter()
        };
        let f = filter(vec![]);
        assert!(f.drops && !f.trace);
        let f = filter(vec![EventType::Trace]);
        assert!(!f.drops && f.trace);
        let f = filter(vec![EventType::Trace, EventType::Drop]);
        assert!(f.drops && f.trace);
    }
}
