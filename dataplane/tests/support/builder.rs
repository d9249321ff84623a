//! A fluent packet builder for fixtures. `etherparse` writes well-formed
//! Ethernet/IPv4/IPv6/ARP/TCP/UDP/ICMP with correct lengths and checksums;
//! the mutators on top break exactly one field each, named after the field,
//! so a malformed fixture reads as "a good packet, except ...".
//!
//! Build order: well-formed packet → field edits (in call order; the IPv4
//! header checksum is recomputed after each IPv4 edit, the L4 checksum is
//! adjusted incrementally after each L4 edit) → Ethernet padding → truncation.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    ArpEthIpv4Packet, ArpOperation, IpFragOffset, IpHeaders, IpNumber, Ipv4Header, Ipv6Header,
    PacketBuilder, PacketBuilderStep, TcpHeader,
};

/// Ethernet header length.
pub const ETH_LEN: usize = 14;
/// Minimum IPv4 header length.
pub const IPV4_LEN: usize = 20;
/// Smallest Ethernet frame without FCS; shorter frames get padded on the wire.
pub const ETH_MIN_FRAME: usize = 60;

/// Source MAC of a built frame unless [`Pkt::macs`] says otherwise (also
/// the ARP sender's hardware address).
pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// Destination MAC of a built frame unless [`Pkt::macs`] says otherwise.
pub const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// The Ethernet broadcast address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// A frame under construction. Cheap to clone, so a fixture can derive its
/// expected output from its input.
#[derive(Clone, Debug)]
pub struct Pkt {
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    net: Net,
    payload: Vec<u8>,
    edits: Vec<Edit>,
    pad_to: Option<usize>,
    truncate: Option<usize>,
}

#[derive(Clone, Debug)]
enum Net {
    Ipv4 { ip: Box<Ipv4Header>, l4: L4 },
    Ipv6 { ip: Box<Ipv6Header>, l4: L4 },
    Arp(ArpEthIpv4Packet),
}

#[derive(Clone, Debug)]
enum L4 {
    Tcp(Box<TcpHeader>),
    Udp {
        sport: u16,
        dport: u16,
    },
    IcmpEcho {
        id: u16,
        seq: u16,
    },
    IcmpEchoReply {
        id: u16,
        seq: u16,
    },
    /// No L4 header of ours: the payload is the whole IP payload.
    Raw(IpNumber),
}

/// One field overwritten after serialisation.
#[derive(Clone, Copy, Debug)]
enum Edit {
    EtherType(u16),
    Ipv4Version(u8),
    Ipv4Ihl(u8),
    Ipv4TotalLen(u16),
    Ipv4Proto(u8),
    /// Cut the IP payload to this many bytes and shrink the total length.
    Ipv4PayloadLen(usize),
    TcpDoff(u8),
    UdpLen(u16),
    UdpChecksum(u16),
}

impl Pkt {
    fn ipv4_with(src: Ipv4Addr, dst: Ipv4Addr, l4: L4) -> Self {
        // Lengths, protocol and checksum are filled in by the builder.
        let ip = Ipv4Header::new(0, 64, IpNumber::TCP, src.octets(), dst.octets())
            .expect("an empty payload always fits");
        Self::with_net(Net::Ipv4 {
            ip: Box::new(ip),
            l4,
        })
    }

    fn with_net(net: Net) -> Self {
        Self {
            src_mac: SRC_MAC,
            dst_mac: DST_MAC,
            net,
            payload: Vec::new(),
            edits: Vec::new(),
            pad_to: None,
            truncate: None,
        }
    }

    /// Ethernet/IPv4/TCP (flags: none set; add [`Pkt::syn`]).
    pub fn tcp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Self {
        let tcp = TcpHeader::new(sport, dport, 1_000, 64_240);
        Self::ipv4_with(src, dst, L4::Tcp(Box::new(tcp)))
    }

    /// Ethernet/IPv4/UDP.
    pub fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Self {
        Self::ipv4_with(src, dst, L4::Udp { sport, dport })
    }

    /// Ethernet/IPv4/ICMP echo request (id 1, sequence 1).
    pub fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr) -> Self {
        Self::ipv4_with(src, dst, L4::IcmpEcho { id: 1, seq: 1 })
    }

    /// Ethernet/IPv4/ICMP echo request with identifier `id` (sequence 1).
    pub fn icmp_echo_id(src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> Self {
        Self::ipv4_with(src, dst, L4::IcmpEcho { id, seq: 1 })
    }

    /// Ethernet/IPv4/ICMP echo reply with identifier `id` (sequence 1).
    pub fn icmp_echo_reply(src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> Self {
        Self::ipv4_with(src, dst, L4::IcmpEchoReply { id, seq: 1 })
    }

    /// Ethernet/IPv4 with protocol `proto` and no L4 header: the payload is
    /// the IP payload (an unparsed protocol, or a non-first fragment's data).
    pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> Self {
        Self::ipv4_with(src, dst, L4::Raw(IpNumber(proto)))
    }

    /// Ethernet/IPv6/UDP.
    pub fn udp6(src: Ipv6Addr, sport: u16, dst: Ipv6Addr, dport: u16) -> Self {
        let ip = Ipv6Header {
            hop_limit: 64,
            source: src.octets(),
            destination: dst.octets(),
            ..Default::default()
        };
        Self::with_net(Net::Ipv6 {
            ip: Box::new(ip),
            l4: L4::Udp { sport, dport },
        })
    }

    /// Ethernet/ARP who-has `target` from `sender`.
    pub fn arp_request(sender: Ipv4Addr, target: Ipv4Addr) -> Self {
        Self::with_net(Net::Arp(ArpEthIpv4Packet {
            operation: ArpOperation::REQUEST,
            sender_mac: SRC_MAC,
            sender_ipv4: sender.octets(),
            target_mac: [0; 6],
            target_ipv4: target.octets(),
        }))
    }

    /// Ethernet/ARP is-at: `sender` is at [`SRC_MAC`], told to `target`
    /// (at [`DST_MAC`]).
    pub fn arp_reply(sender: Ipv4Addr, target: Ipv4Addr) -> Self {
        Self::with_net(Net::Arp(ArpEthIpv4Packet {
            operation: ArpOperation::REPLY,
            sender_mac: SRC_MAC,
            sender_ipv4: sender.octets(),
            target_mac: DST_MAC,
            target_ipv4: target.octets(),
        }))
    }

    /// The Ethernet source and destination MACs (ARP: the sender's hardware
    /// address follows the source MAC).
    pub fn macs(mut self, src: [u8; 6], dst: [u8; 6]) -> Self {
        self.src_mac = src;
        self.dst_mac = dst;
        if let Net::Arp(arp) = &mut self.net {
            arp.sender_mac = src;
        }
        self
    }

    /// Application payload after the L4 header.
    pub fn payload(mut self, bytes: &[u8]) -> Self {
        self.payload = bytes.to_vec();
        self
    }

    /// Set the TCP SYN flag.
    pub fn syn(mut self) -> Self {
        match &mut self.net {
            Net::Ipv4 {
                l4: L4::Tcp(tcp), ..
            } => tcp.syn = true,
            _ => panic!("syn() on a packet that is not IPv4/TCP"),
        }
        self
    }

    /// Set the TCP ACK flag and acknowledgment number.
    pub fn ack(mut self, ack: u32) -> Self {
        let tcp = self.tcp_header();
        tcp.ack = true;
        tcp.acknowledgment_number = ack;
        self
    }

    /// Set the TCP sequence number (default 1000).
    pub fn seq(mut self, seq: u32) -> Self {
        self.tcp_header().sequence_number = seq;
        self
    }

    /// Set the TCP FIN flag.
    pub fn fin(mut self) -> Self {
        self.tcp_header().fin = true;
        self
    }

    /// Set the TCP RST flag.
    pub fn rst(mut self) -> Self {
        self.tcp_header().rst = true;
        self
    }

    /// Set the TCP window (default 64240).
    pub fn window(mut self, window: u16) -> Self {
        self.tcp_header().window_size = window;
        self
    }

    /// Overwrite the UDP checksum (0: "no checksum", RFC 768).
    pub fn udp_checksum(self, checksum: u16) -> Self {
        self.edit(Edit::UdpChecksum(checksum))
    }

    /// IPv4 header options (a multiple of 4 bytes, at most 40); IHL, total
    /// length and header checksum follow.
    pub fn ipv4_options(mut self, options: &[u8]) -> Self {
        self.ipv4_header().options = options
            .try_into()
            .expect("IPv4 options must be a multiple of 4 bytes, at most 40");
        self
    }

    /// Make this a fragment at byte `offset` (a multiple of 8) with the
    /// more-fragments flag as given; clears don't-fragment.
    pub fn fragment(mut self, offset: u16, more_fragments: bool) -> Self {
        assert_eq!(offset % 8, 0, "fragment offsets count 8-byte units");
        let ip = self.ipv4_header();
        ip.dont_fragment = false;
        ip.more_fragments = more_fragments;
        ip.identification = 0x5ea1;
        ip.fragment_offset = IpFragOffset::try_new(offset / 8).expect("offset below 65536");
        self
    }

    /// Overwrite the IPv4 protocol number (the L4 header stays as built).
    pub fn ip_proto(self, proto: u8) -> Self {
        self.edit(Edit::Ipv4Proto(proto))
    }

    /// Overwrite the IPv4 version nibble.
    pub fn ipv4_version(self, version: u8) -> Self {
        assert!(version < 16);
        self.edit(Edit::Ipv4Version(version))
    }

    /// Overwrite the IPv4 IHL nibble (header length in 4-byte words).
    pub fn ipv4_ihl(self, ihl: u8) -> Self {
        assert!(ihl < 16);
        self.edit(Edit::Ipv4Ihl(ihl))
    }

    /// Overwrite the IPv4 total length.
    pub fn ipv4_total_len(self, total_len: u16) -> Self {
        self.edit(Edit::Ipv4TotalLen(total_len))
    }

    /// Cut the IP payload (L4 header and data) to `len` bytes, with the IPv4
    /// total length saying so: a consistent IP packet whose L4 header is short.
    pub fn truncate_l4(self, len: usize) -> Self {
        self.edit(Edit::Ipv4PayloadLen(len))
    }

    /// Overwrite the TCP data offset (header length in 4-byte words).
    pub fn tcp_doff(self, doff: u8) -> Self {
        assert!(doff < 16);
        self.edit(Edit::TcpDoff(doff))
    }

    /// Overwrite the UDP length field.
    pub fn udp_len(self, len: u16) -> Self {
        self.edit(Edit::UdpLen(len))
    }

    /// Overwrite the Ethernet type.
    pub fn ethertype(self, ether_type: u16) -> Self {
        self.edit(Edit::EtherType(ether_type))
    }

    /// Append zero bytes after the packet up to a `len`-byte frame, as a NIC
    /// pads short frames (no effect on a longer frame).
    pub fn pad_to(mut self, len: usize) -> Self {
        self.pad_to = Some(len);
        self
    }

    /// Cut the whole frame to `len` bytes, leaving every header field as it
    /// was (so lengths now claim more than the frame holds).
    pub fn truncate(mut self, len: usize) -> Self {
        self.truncate = Some(len);
        self
    }

    /// The frame's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
        match &self.net {
            Net::Arp(arp) => eth
                .arp(arp.to_arp_packet())
                .write_to_vec(&mut out)
                .expect("ARP serialises"),
            Net::Ipv4 { ip, l4 } => {
                let step = eth.ip(IpHeaders::Ipv4((**ip).clone(), Default::default()));
                write_l4(step, l4, &self.payload, &mut out);
            }
            Net::Ipv6 { ip, l4 } => {
                let step = eth.ip(IpHeaders::Ipv6((**ip).clone(), Default::default()));
                write_l4(step, l4, &self.payload, &mut out);
            }
        }
        for edit in &self.edits {
            self.apply(*edit, &mut out);
        }
        if let Some(len) = self.pad_to
            && out.len() < len
        {
            out.resize(len, 0);
        }
        if let Some(len) = self.truncate {
            assert!(
                len <= out.len(),
                "truncate({len}) of a {}-byte frame",
                out.len()
            );
            out.truncate(len);
        }
        out
    }

    fn edit(mut self, edit: Edit) -> Self {
        self.edits.push(edit);
        self
    }

    fn tcp_header(&mut self) -> &mut TcpHeader {
        match &mut self.net {
            Net::Ipv4 {
                l4: L4::Tcp(tcp), ..
            } => tcp,
            _ => panic!("a TCP mutator on a packet that is not IPv4/TCP"),
        }
    }

    fn ipv4_header(&mut self) -> &mut Ipv4Header {
        match &mut self.net {
            Net::Ipv4 { ip, .. } => ip,
            _ => panic!("an IPv4 mutator on a packet that is not IPv4"),
        }
    }

    /// Length of the IPv4 header as built (before any IHL edit).
    fn ipv4_header_len(&self) -> usize {
        match &self.net {
            Net::Ipv4 { ip, .. } => ip.header_len(),
            _ => panic!("an IPv4 mutator on a packet that is not IPv4"),
        }
    }

    fn apply(&self, edit: Edit, out: &mut Vec<u8>) {
        let l3 = ETH_LEN;
        let ip_len = || self.ipv4_header_len();
        let l4 = || l3 + self.ipv4_header_len();
        match edit {
            Edit::EtherType(t) => out[12..14].copy_from_slice(&t.to_be_bytes()),
            Edit::Ipv4Version(v) => out[l3] = (v << 4) | (out[l3] & 0x0f),
            Edit::Ipv4Ihl(ihl) => out[l3] = (out[l3] & 0xf0) | ihl,
            Edit::Ipv4TotalLen(len) => out[l3 + 2..l3 + 4].copy_from_slice(&len.to_be_bytes()),
            Edit::Ipv4Proto(p) => out[l3 + 9] = p,
            Edit::Ipv4PayloadLen(len) => {
                let total = ip_len() + len;
                assert!(
                    l3 + total <= out.len(),
                    "truncate_l4({len}) grows the packet"
                );
                out.truncate(l3 + total);
                let total = u16::try_from(total).expect("IPv4 total length fits 16 bits");
                out[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            }
            Edit::TcpDoff(doff) => {
                let at = l4();
                let old = word(out, at + 12);
                out[at + 12] = (doff << 4) | (out[at + 12] & 0x0f);
                let new = word(out, at + 12);
                adjust_checksum(out, at + 16, old, new);
            }
            Edit::UdpLen(len) => {
                let at = l4();
                let old = word(out, at + 4);
                out[at + 4..at + 6].copy_from_slice(&len.to_be_bytes());
                // The length is summed twice: in the header and in the
                // pseudo-header.
                adjust_checksum(out, at + 6, old, len);
                adjust_checksum(out, at + 6, old, len);
            }
            Edit::UdpChecksum(checksum) => {
                let at = l4();
                out[at + 6..at + 8].copy_from_slice(&checksum.to_be_bytes());
            }
        }
        if matches!(
            edit,
            Edit::Ipv4Version(_)
                | Edit::Ipv4Ihl(_)
                | Edit::Ipv4TotalLen(_)
                | Edit::Ipv4Proto(_)
                | Edit::Ipv4PayloadLen(_)
        ) {
            let header = &mut out[l3..l3 + ip_len()];
            header[10..12].fill(0);
            let sum = internet_checksum(header);
            header[10..12].copy_from_slice(&sum.to_be_bytes());
        }
    }
}

fn write_l4(step: PacketBuilderStep<IpHeaders>, l4: &L4, payload: &[u8], out: &mut Vec<u8>) {
    let written = match l4 {
        L4::Tcp(tcp) => step.tcp_header((**tcp).clone()).write_to_vec(out, payload),
        L4::Udp { sport, dport } => step.udp(*sport, *dport).write_to_vec(out, payload),
        L4::IcmpEcho { id, seq } => step
            .icmpv4_echo_request(*id, *seq)
            .write_to_vec(out, payload),
        L4::IcmpEchoReply { id, seq } => {
            step.icmpv4_echo_reply(*id, *seq).write_to_vec(out, payload)
        }
        L4::Raw(proto) => step.write_to_vec(out, *proto, payload),
    };
    written.expect("etherparse serialises a well-formed packet");
}

fn word(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

/// RFC 1624 incremental update of the checksum at `csum_at` after one
/// 16-bit word of the summed data changed from `old` to `new`.
fn adjust_checksum(buf: &mut [u8], csum_at: usize, old: u16, new: u16) {
    let mut sum = u32::from(!word(buf, csum_at)) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let sum = !(sum as u16);
    buf[csum_at..csum_at + 2].copy_from_slice(&sum.to_be_bytes());
}

/// The RFC 1071 checksum of `data` (its checksum field must be zero to
/// compute one, or left in place to verify: a correct one then gives 0).
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

    fn ipv4_header_ok(frame: &[u8]) -> bool {
        let ihl = usize::from(frame[ETH_LEN] & 0x0f) * 4;
        internet_checksum(&frame[ETH_LEN..ETH_LEN + ihl]) == 0
    }

    #[test]
    fn good_packets_parse_back_with_valid_checksums() {
        let frame = Pkt::tcp(A, 40_000, B, 80).syn().payload(b"hi").build();
        let parsed = SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(TransportSlice::Tcp(tcp)) = parsed.transport else {
            panic!("not TCP")
        };
        assert!(tcp.syn());
        assert_eq!(tcp.payload(), b"hi");
        let Some(NetSlice::Ipv4(ip)) = parsed.net else {
            panic!("not IPv4")
        };
        let expected = tcp
            .to_header()
            .calc_checksum_ipv4(&ip.header().to_header(), b"hi")
            .unwrap();
        assert_eq!(tcp.checksum(), expected);
        assert!(ipv4_header_ok(&frame));
        assert_eq!(frame.len(), ETH_LEN + IPV4_LEN + 20 + 2);
    }

    #[test]
    fn options_move_the_l4_header_and_keep_the_header_valid() {
        let frame = Pkt::udp(A, 1, B, 2).ipv4_options(&[1, 1, 1, 0]).build();
        assert_eq!(frame[ETH_LEN], 0x46);
        assert_eq!(word(&frame, ETH_LEN + 2), 24 + 8);
        assert!(ipv4_header_ok(&frame));
        assert_eq!(
            word(&frame, ETH_LEN + 24),
            1,
            "UDP source port after options"
        );
    }

    #[test]
    fn field_edits_keep_the_ipv4_checksum_right() {
        for frame in [
            Pkt::udp(A, 1, B, 2).ipv4_total_len(19).build(),
            Pkt::udp(A, 1, B, 2).ip_proto(47).build(),
            Pkt::udp(A, 1, B, 2).ipv4_version(6).build(),
            Pkt::tcp(A, 1, B, 2).truncate_l4(10).build(),
        ] {
            let hdr = &frame[ETH_LEN..ETH_LEN + IPV4_LEN];
            assert_eq!(internet_checksum(hdr), 0, "{frame:02x?}");
        }
        let frame = Pkt::tcp(A, 1, B, 2).truncate_l4(10).build();
        assert_eq!(frame.len(), ETH_LEN + IPV4_LEN + 10);
        assert_eq!(word(&frame, ETH_LEN + 2), 30);
    }

    #[test]
    fn l4_edits_adjust_the_l4_checksum_reversibly() {
        let good = Pkt::udp(A, 1, B, 2).payload(b"abcd").build();
        let broken = Pkt::udp(A, 1, B, 2).payload(b"abcd").udp_len(4).build();
        assert_eq!(word(&broken, ETH_LEN + IPV4_LEN + 4), 4);
        assert_ne!(broken, good, "checksum moved with the length");
        let restored = Pkt::udp(A, 1, B, 2).payload(b"abcd").udp_len(4).udp_len(12);
        assert_eq!(restored.build(), good);

        let good = Pkt::tcp(A, 1, B, 2).build();
        let broken = Pkt::tcp(A, 1, B, 2).tcp_doff(3).build();
        assert_eq!(broken[ETH_LEN + IPV4_LEN + 12] >> 4, 3);
        assert_eq!(Pkt::tcp(A, 1, B, 2).tcp_doff(3).tcp_doff(5).build(), good);
    }

    #[test]
    fn fragments_padding_and_truncation() {
        let frame = Pkt::ipv4(A, B, 6)
            .payload(&[0; 16])
            .fragment(1480, true)
            .build();
        let flags_offset = word(&frame, ETH_LEN + 6);
        assert_eq!(flags_offset, 0x2000 | (1480 / 8));
        assert!(ipv4_header_ok(&frame));

        let frame = Pkt::udp(A, 1, B, 2).pad_to(ETH_MIN_FRAME).build();
        assert_eq!(frame.len(), ETH_MIN_FRAME);
        assert_eq!(word(&frame, ETH_LEN + 2), 28);

        assert_eq!(Pkt::arp_request(A, B).truncate(13).build().len(), 13);
        assert_eq!(word(&Pkt::arp_request(A, B).build(), 12), 0x0806);
        assert_eq!(
            word(&Pkt::arp_request(A, B).ethertype(0x0800).build(), 12),
            0x0800
        );
    }
}
