//! Object IDs and fixed-width base36 (`0-9a-z`) of big-endian unsigned
//! integers, as Go's `big.Int.Text(36)` zero-padded on the left (Swarm's
//! token and ID encoding).

/// A fresh object ID: 25 lower-case base36 characters from 128 random
/// bits (Swarm's shape). Mints node, cluster, service, network and secret
/// IDs.
pub fn new_id() -> String {
    let random: [u8; 16] = rand::random();
    encode(&random, 25)
}

/// The base36 alphabet, lower case as Go prints it.
const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Encodes `bytes` (a big-endian number) in base36, left-padded with `0` to
/// `width` characters. Numbers needing more digits than `width` are not cut.
pub fn encode(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::with_capacity(width);
    while number.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in &mut number {
            let current = (remainder << 8) | u32::from(*byte);
            // current < 36 * 256, so the quotient fits a byte.
            *byte = u8::try_from(current / 36).unwrap_or(u8::MAX);
            remainder = current % 36;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    digits.resize(digits.len().max(width), b'0');
    digits.reverse();
    digits.into_iter().map(char::from).collect()
}

/// The value of one base36 digit, lower case only.
pub fn digit_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'z' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes base36 into a big-endian `N`-byte number; `None` on a character
/// outside `0-9a-z` or a value that does not fit in `N` bytes.
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut number = [0u8; N];
    for c in text.bytes() {
        let mut carry = u32::from(digit_value(c)?);
        for byte in number.iter_mut().rev() {
            let current = u32::from(*byte) * 36 + carry;
            *byte = (current & 0xff) as u8;
            carry = current >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(encode(&[0], 3), "000");
        assert_eq!(encode(&[35], 1), "z");
        assert_eq!(encode(&[1, 0], 0), "74"); // 256 = 7*36 + 4
        assert_eq!(encode(&[0xff; 16], 25), "f5lxx1zz5pnorynqglhzmsp33");
    }

    #[test]
    fn round_trip_and_overflow() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37 + 11) as u8);
        let text = encode(&bytes, 50);
        assert_eq!(text.len(), 50);
        assert_eq!(decode::<32>(&text), Some(bytes));
        assert_eq!(decode::<32>(&"z".repeat(50)), None, "36^50 > 2^256");
        assert_eq!(decode::<1>("A"), None);
        assert_eq!(encode(&[0xff; 32], 50).len(), 50);
    }
}
