//! Answering one DNS message from [`Records`] with hickory-proto: A (and
//! PTR) queries for cluster names are answered here; anything else that
//! is not the cluster's goes upstream.

use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::records::{Lookup, Records};

/// TTL of the resolver's own answers: 0, so no client keeps an address
/// the cluster has since moved (Swarm's stale-entry bugs); asking again
/// costs a loopback round trip.
const TTL: u32 = 0;
/// Largest UDP answer without EDNS (RFC 1035).
const CLASSIC_UDP: usize = 512;

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Send these bytes back.
    Local(Vec<u8>),
    /// Not the cluster's: forward the query as received.
    Forward,
    /// Unparseable (or not a query): say nothing.
    Drop,
}

/// The reply to `query` from task `caller`; `udp` limits the answer's size
/// (a bigger one is truncated, so the client retries over TCP).
pub(crate) fn answer(records: &Records, caller: &str, query: &[u8], udp: bool) -> Reply {
    let Ok(request) = Message::from_vec(query) else {
        return Reply::Drop;
    };
    if request.metadata.message_type != MessageType::Query {
        return Reply::Drop;
    }
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    let [question] = request.queries.as_slice() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return encode(&response, &request, udp);
    };
    if request.metadata.op_code != OpCode::Query {
        response.metadata.response_code = ResponseCode::NotImp;
        return encode(&response, &request, udp);
    }
    let name = question.name().to_lowercase();
    if question.query_type() == RecordType::PTR {
        return match reverse_ip(&name).and_then(|ip| records.reverse(caller, ip)) {
            Some(target) => match Name::from_ascii(format!("{target}.")) {
                Ok(target) => {
                    response.metadata.authoritative = true;
                    let rdata = RData::PTR(PTR(target));
                    response.add_answer(Record::from_rdata(question.name().clone(), TTL, rdata));
                    encode(&response, &request, udp)
                }
                Err(_) => Reply::Forward,
            },
            None => Reply::Forward,
        };
    }
    match records.lookup(caller, &name.to_ascii()) {
        Lookup::Forward => Reply::Forward,
        Lookup::NxDomain => {
            response.metadata.authoritative = true;
            response.metadata.response_code = ResponseCode::NXDomain;
            encode(&response, &request, udp)
        }
        Lookup::Found(addrs) => {
            response.metadata.authoritative = true;
            // Other types (AAAA, ...) of a cluster name: no data, no error.
            if question.query_type() == RecordType::A {
                for ip in addrs {
                    let rdata = RData::A(A(ip));
                    response.add_answer(Record::from_rdata(question.name().clone(), TTL, rdata));
                }
            }
            encode(&response, &request, udp)
        }
    }
}

/// A SERVFAIL for `query` (no upstream answered); `None` if unparseable.
pub(crate) fn server_failure(query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let mut response = Message::error_msg(
        request.metadata.id,
        request.metadata.op_code,
        ResponseCode::ServFail,
    );
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    response.to_vec().ok()
}

/// The encoded response, truncated (TC, no records) when over UDP it
/// would exceed what the client accepts.
fn encode(response: &Message, request: &Message, udp: bool) -> Reply {
    let mut response = response.clone();
    if let Some(edns) = &request.edns {
        let mut ours = edns.clone();
        ours.set_max_payload(edns.max_payload().max(CLASSIC_UDP as u16));
        response.set_edns(ours);
    }
    let Ok(bytes) = response.to_vec() else {
        return Reply::Drop;
    };
    let limit = request.edns.as_ref().map_or(CLASSIC_UDP, |e| {
        usize::from(e.max_payload()).max(CLASSIC_UDP)
    });
    if !udp || bytes.len() <= limit {
        return Reply::Local(bytes);
    }
    match response.truncate().to_vec() {
        Ok(bytes) => Reply::Local(bytes),
        Err(_) => Reply::Drop,
    }
}

/// The IPv4 address of a `d.c.b.a.in-addr.arpa.` name.
fn reverse_ip(name: &Name) -> Option<Ipv4Addr> {
    let text = name.to_ascii();
    let digits = text.trim_end_matches('.').strip_suffix(".in-addr.arpa")?;
    let mut octets = digits.split('.').map(|o| o.parse::<u8>().ok());
    let [d, c, b, a] = [
        octets.next()??,
        octets.next()??,
        octets.next()??,
        octets.next()??,
    ];
    if octets.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::new(a, b, c, d))
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
