//! Internet checksums (RFC 1071) for the segments the send worker cuts
//! out of the TAP's super-frames.

/// The ones' complement sum of `data` (big-endian 16-bit words, an odd
/// last byte padded with zero) added to `sum`, not yet folded.
pub(crate) fn add(mut sum: u64, data: &[u8]) -> u64 {
    // Four bytes at a time: the carries pile up in the upper half of the
    // u64 and are folded once at the end.
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut i = 0;
    while i + 1 < rest.len() {
        sum += u64::from(u16::from_be_bytes([rest[i], rest[i + 1]]));
        i += 2;
    }
    if i < rest.len() {
        sum += u64::from(rest[i]) << 8;
    }
    sum
}

/// `sum` folded to 16 bits and complemented: the value a checksum field
/// holds.
pub(crate) fn finish(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The IPv4 pseudo-header sum of a TCP or UDP segment: the addresses at
/// `ip[12..20]` (an IPv4 header), `protocol` and the L4 length.
pub(crate) fn pseudo_header(ip: &[u8], protocol: u8, l4_len: usize) -> u64 {
    add(0, &ip[12..20]) + u64::from(protocol) + l4_len as u64
}

/// Recompute the header checksum of the IPv4 header at the start of `ip`
/// (its IHL honoured).
pub(crate) fn fix_ipv4_header(ip: &mut [u8]) {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    ip[10..12].fill(0);
    let sum = finish(add(0, &ip[..ihl]));
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3's words sum to 0xddf2 (folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(finish(add(0, &data)), !0xddf2);
        // An odd length pads with a zero byte.
        assert_eq!(finish(add(0, &[0x12])), !0x1200);
        assert_eq!(finish(add(0, &[0x12, 0x34, 0x56])), !(0x1234 + 0x5600));
    }

    #[test]
    fn a_fixed_ipv4_header_verifies() {
        let mut ip = [
            0x45, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 1, 0xde, 0xad, 198, 18, 0, 1, 198, 18, 0, 2,
        ];
        fix_ipv4_header(&mut ip);
        assert_eq!(finish(add(0, &ip)), 0, "a valid header sums to 0xffff");
        assert_ne!(&ip[10..12], &[0xde, 0xad]);
    }
}
