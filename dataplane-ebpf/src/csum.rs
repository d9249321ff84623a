//! Internet checksums computed in the program.

/// The IPv4 header checksum (RFC 791) of a 20-byte header whose checksum
/// field is zero, in network byte order.
#[inline(always)]
pub fn ipv4_header(hdr: &[u8; 20]) -> [u8; 2] {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < 20 {
        sum += u32::from(u16::from_be_bytes([hdr[i], hdr[i + 1]]));
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    (!(sum as u16)).to_be_bytes()
}

/// The TCP checksum of a 20-byte header without payload whose checksum
/// field is zero, with the IPv4 pseudo-header, in network byte order.
#[inline(always)]
pub fn tcp_ipv4(src: &[u8; 4], dst: &[u8; 4], tcp: &[u8; 20]) -> [u8; 2] {
    let word = |a: u8, b: u8| u32::from(u16::from_be_bytes([a, b]));
    let mut sum =
        word(src[0], src[1]) + word(src[2], src[3]) + word(dst[0], dst[1]) + word(dst[2], dst[3]);
    sum += 6 + 20;
    let mut i = 0;
    while i < 20 {
        sum += word(tcp[i], tcp[i + 1]);
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    (!(sum as u16)).to_be_bytes()
}
