use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

use super::*;
use shoal_model::assignment::{AssignedTask, Assignment, LbBackend, LbService};
use shoal_model::spec::{
    EndpointMode, NetworkAttachment, ServiceSpec, Task, TaskState, TaskStatus,
};

/// Records with one caller `c` on `front` and a dnsrr service `big` of
/// `tasks` tasks there.
fn records(tasks: u8) -> Records {
    let backends = (1..=tasks)
        .map(|n| LbBackend {
            task_id: format!("t{n}"),
            network: "front".to_owned(),
            ip: Ipv4Addr::new(10, 0, 1, n),
            draining: false,
            task_name: format!("big.{n}.t{n}"),
            hostname: format!("big.{n}"),
        })
        .collect();
    let mut spec = ServiceSpec::new("c", "busybox").task;
    spec.networks = vec!["front".to_owned()];
    let caller = AssignedTask {
        task: Task {
            id: "c".to_owned(),
            service_id: "s".to_owned(),
            slot: 1,
            node_id: None,
            desired_state: TaskState::Running,
            status: TaskStatus::default(),
            spec,
            spec_version: 1,
            networks: vec![NetworkAttachment {
                network: "front".to_owned(),
                ip: None,
            }],
        },
        name: "c.1".to_owned(),
        secrets: Vec::new(),
        configs: Vec::new(),
    };
    Records::build(&Assignment {
        tasks: vec![caller],
        services: vec![LbService {
            id: "big".to_owned(),
            name: "big".to_owned(),
            vips: Vec::new(),
            ports: Vec::new(),
            backends,
            endpoint_mode: EndpointMode::Dnsrr,
            aliases: BTreeMap::new(),
        }],
        ..Assignment::default()
    })
}

fn query(name: &str, kind: RecordType, edns: bool) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = 4242;
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
    if edns {
        let mut opt = Edns::new();
        opt.set_max_payload(1232);
        message.set_edns(opt);
    }
    message.to_vec().unwrap()
}

fn local(reply: Reply) -> Message {
    match reply {
        Reply::Local(bytes) => Message::from_vec(&bytes).unwrap(),
        other => panic!("expected a local answer, got {other:?}"),
    }
}

fn addresses(message: &Message) -> Vec<Ipv4Addr> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

#[test]
fn a_cluster_name_is_answered_with_its_addresses_and_the_query_id() {
    let reply = local(answer(
        &records(2),
        "c",
        &query("big.", RecordType::A, false),
        true,
    ));
    assert_eq!(reply.metadata.id, 4242);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        addresses(&reply),
        [Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 0, 1, 2)]
    );
    let aaaa = local(answer(
        &records(2),
        "c",
        &query("big.", RecordType::AAAA, false),
        true,
    ));
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(
        aaaa.answers.is_empty(),
        "no IPv6 addresses: no data, not an error"
    );
}

#[test]
fn unknown_cluster_names_are_nxdomain_and_others_forwarded() {
    let reply = local(answer(
        &records(1),
        "c",
        &query("tasks.nope.", RecordType::A, false),
        true,
    ));
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        answer(
            &records(1),
            "c",
            &query("www.example.org.", RecordType::A, false),
            true
        ),
        Reply::Forward
    );
    assert_eq!(
        answer(&records(1), "c", b"\x01\x02garbage", true),
        Reply::Drop
    );
}

#[test]
fn a_big_answer_is_truncated_over_udp_and_whole_over_tcp() {
    let q = query("big.", RecordType::A, false);
    let udp = local(answer(&records(60), "c", &q, true));
    assert!(udp.metadata.truncation, "60 A records exceed 512 bytes");
    assert!(udp.answers.is_empty());
    let tcp = local(answer(&records(60), "c", &q, false));
    assert!(!tcp.metadata.truncation);
    assert_eq!(addresses(&tcp).len(), 60);
    let edns = local(answer(
        &records(60),
        "c",
        &query("big.", RecordType::A, true),
        true,
    ));
    assert!(!edns.metadata.truncation, "EDNS 1232 bytes hold 60 records");
    assert_eq!(addresses(&edns).len(), 60);
}

#[test]
fn ptr_of_a_task_address_names_the_task() {
    let reply = local(answer(
        &records(2),
        "c",
        &query("2.1.0.10.in-addr.arpa.", RecordType::PTR, false),
        true,
    ));
    match &reply.answers[0].data {
        RData::PTR(ptr) => assert_eq!(ptr.0.to_ascii(), "big.2.t2."),
        other => panic!("expected a PTR, got {other:?}"),
    }
}
