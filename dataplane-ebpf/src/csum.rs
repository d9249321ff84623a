//! Internet checksums (RFC 1071) computed in the program, for headers it
//! writes from scratch.

/// Add the 16-bit big-endian words of `bytes` (N even) to `sum`.
#[inline(always)]
pub fn add_words<const N: usize>(mut sum: u32, bytes: &[u8; N]) -> u32 {
    let mut i = 0;
    while i + 1 < N {
        sum += u32::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
        i += 2;
    }
    sum
}

/// Fold a 32-bit sum into the one's-complement checksum, network order.
#[inline(always)]
pub fn finish(mut sum: u32) -> [u8; 2] {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    (!(sum as u16)).to_be_bytes()
}

/// The IPv4 header checksum (RFC 791) of a 20-byte header whose checksum
/// field is zero, in network byte order.
#[inline(always)]
pub fn ipv4_header(hdr: &[u8; 20]) -> [u8; 2] {
    finish(add_words(0, hdr))
}

/// The TCP checksum of a 20-byte header without payload whose checksum
/// field is zero, with the IPv4 pseudo-header, in network byte order.
#[inline(always)]
pub fn tcp_ipv4(src: &[u8; 4], dst: &[u8; 4], tcp: &[u8; 20]) -> [u8; 2] {
    let pseudo = add_words(add_words(0, src), dst) + 6 + 20;
    finish(add_words(pseudo, tcp))
}
