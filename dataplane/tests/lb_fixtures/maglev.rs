//! The program's Maglev pick equals the userspace reference
//! (`maglev::pick` over the table `maglev::build` made), for the VIP key on
//! the task path and the mesh key (0.0.0.0) on the underlay path.

use super::*;

const T_MAGLEV: u32 = 9;
const FLOWS: usize = 600;
const SEED: u64 = 0x5ea1_0a7b;

/// Seven local backends, ids 101..=107, at 10.1.0.31-37:8080.
fn backends() -> Vec<(u32, Ipv4Addr)> {
    (0..7u8)
        .map(|i| (101 + u32::from(i), Ipv4Addr::new(10, 1, 0, 31 + i)))
        .collect()
}

fn table() -> Vec<u32> {
    let named: Vec<MaglevBackend> = backends()
        .iter()
        .map(|(id, ip)| MaglevBackend {
            name: format!("{ip}:{TARGET_WEB}"),
            id: *id,
        })
        .collect();
    maglev::build(&named)
}

const VIPS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 1, 0, 100),
    Ipv4Addr::new(10, 1, 0, 103),
    Ipv4Addr::new(10, 1, 0, 104),
];
const PORTS: [u16; 2] = [80, 8443];
const PROTOS: [u8; 2] = [PROTO_TCP, PROTO_UDP];
const PUBLISHED: [u16; 2] = [31_000, 31_001];

/// Every VIP, port and protocol above, and the published ports, on one table.
fn setup(dev: Devices) -> (OverlayMaps, LbMaps) {
    let ips: Vec<Ipv4Addr> = backends().iter().map(|(_, ip)| *ip).collect();
    let mut lb = LbMaps::new().table(T_MAGLEV, table());
    for (id, ip) in backends() {
        lb = lb.backend(id, ip, TARGET_WEB, VNI);
    }
    for vip in VIPS {
        for port in PORTS {
            for proto in PROTOS {
                lb = lb.service(VNI, vip, port, proto, T_MAGLEV, 7);
            }
        }
    }
    for port in PUBLISHED {
        for proto in PROTOS {
            lb = lb.published(port, proto, T_MAGLEV, 7);
        }
    }
    (node(dev, &ips), lb)
}

fn segment(proto: u8, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Pkt {
    match proto {
        PROTO_TCP => Pkt::tcp(src, sport, dst, dport).syn(),
        _ => Pkt::udp(src, sport, dst, dport).payload(b"maglev"),
    }
}

struct Case {
    /// Task path: the sending task's device; mesh: `None`.
    ifindex: Option<u32>,
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    proto: u8,
}

/// Run `case` through `prog`; the id of the backend the program chose, and
/// the reference's.
fn run_case(sc: &mut Scenario<'_>, prog: Program, case: &Case, tbl: &[u32]) -> (u32, u32) {
    let key_ip = if case.ifindex.is_some() {
        case.dst
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    let want = maglev::pick(
        tbl,
        case.src.octets(),
        key_ip.octets(),
        case.sport,
        case.dport,
        case.proto,
    )
    .unwrap();
    let (_, want_ip) = backends().into_iter().find(|(id, _)| *id == want).unwrap();
    let input = segment(case.proto, case.src, case.sport, case.dst, case.dport);
    let expected = to_fake(
        segment(case.proto, case.src, case.sport, want_ip, TARGET_WEB),
        want_ip,
    );
    let (input, stat) = match case.ifindex {
        Some(_) if case.src == CLIENT => (from_client(input), Stat::LocalDelivery),
        Some(_) => (from_be1(input), Stat::LocalDelivery),
        None => (from_router(input), Stat::ServiceIn),
    };
    let mut fixture = Fixture::redirect("maglev flow", input.build(), stat)
        .output(expected.build())
        .counts(Stat::NewFlow);
    if let Some(ifindex) = case.ifindex {
        fixture = fixture.counts(Stat::ServiceIn).on_ifindex(ifindex);
    }
    let (result, out) = sc.harness_run(prog, &fixture);
    let out = out.expect("the program ran");
    let (ip, port) = destination(&out);
    assert_eq!(port, TARGET_WEB);
    let got = backends()
        .into_iter()
        .find(|(_, b)| *b == ip)
        .map_or(0, |(id, _)| id);
    if got == want {
        result.unwrap_or_else(|report| panic!("{report}"));
    }
    (got, want)
}

fn check(sc: &mut Scenario<'_>, prog: Program, cases: &[Case], tbl: &[u32]) {
    let mut wrong = Vec::new();
    let mut chosen = HashSet::new();
    for case in cases {
        let (got, want) = run_case(sc, prog, case, tbl);
        chosen.insert(got);
        if got != want {
            wrong.push(format!(
                "{}:{} -> {}:{}/{}: program chose {got}, reference {want}",
                case.src, case.sport, case.dst, case.dport, case.proto
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} flows picked another backend than the reference:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    assert_eq!(
        chosen.len(),
        7,
        "every backend gets some of {} flows",
        cases.len()
    );
}

#[test]
fn maglev_pick_equals_the_userspace_reference() {
    let netns = PrivateNetns::enter().expect("a private network namespace (needs root)");
    let dev = devices(&netns);
    let tbl = table();
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut seen = HashSet::new();
    let mut vip_cases = Vec::new();
    while vip_cases.len() < FLOWS {
        let (ifindex, src) = if rng.random_bool(0.5) {
            (dev.client, CLIENT)
        } else {
            (dev.backend, BE1)
        };
        let case = Case {
            ifindex: Some(ifindex),
            src,
            sport: rng.random_range(1024..=u16::MAX),
            dst: VIPS[rng.random_range(0..VIPS.len())],
            dport: PORTS[rng.random_range(0..PORTS.len())],
            proto: PROTOS[rng.random_range(0..PROTOS.len())],
        };
        if seen.insert((case.src, case.sport, case.dst, case.dport, case.proto)) {
            vip_cases.push(case);
        }
    }
    let mut mesh_cases = Vec::new();
    while mesh_cases.len() < FLOWS {
        let case = Case {
            ifindex: None,
            src: Ipv4Addr::from(rng.random::<u32>() | 0x0100_0000),
            sport: rng.random_range(1..=u16::MAX),
            dst: THIS_NODE,
            dport: PUBLISHED[rng.random_range(0..PUBLISHED.len())],
            proto: PROTOS[rng.random_range(0..PROTOS.len())],
        };
        if seen.insert((case.src, case.sport, case.dst, case.dport, case.proto)) {
            mesh_cases.push(case);
        }
    }

    let mut harness = Harness::load();
    let mut sc = Scenario::start(&mut harness, "Maglev", setup(dev));
    check(&mut sc, Program::TaskTc, &vip_cases, &tbl);
    check(&mut sc, Program::UnderlayTc, &mesh_cases, &tbl);
    assert_eq!(LbMaps::conntrack_len(sc.ebpf()), 2 * FLOWS);
}
