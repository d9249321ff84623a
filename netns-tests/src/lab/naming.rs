//! Pure naming and addressing rules: lab ids, namespace names, underlay addresses.
//!
//! Linux limits interface names to 15 bytes and we keep namespace names (which
//! double as bpffs pin names) within the same limit, so every name built here
//! is checked against [`MAX_NAME_LEN`].

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Every lab id starts with this prefix; `xtask lab down` tears down all of them.
pub const LAB_PREFIX: &str = "shl";
/// Number of random base-36 characters after [`LAB_PREFIX`].
pub const LAB_SUFFIX_LEN: usize = 5;
/// Longest interface / namespace name we create (IFNAMSIZ - 1).
pub const MAX_NAME_LEN: usize = 15;
/// Underlay network: the first /24 of the benchmarking range 198.18.0.0/15.
pub const UNDERLAY_NET: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
/// Prefix length of the underlay network.
pub const UNDERLAY_PREFIX_LEN: u8 = 24;
/// Node `i` gets host part `NODE_HOST_BASE + i`.
pub const NODE_HOST_BASE: u8 = 10;
/// Client `k` (1-based) gets host part `CLIENT_HOST_BASE + k`.
pub const CLIENT_HOST_BASE: u8 = 200;
/// Largest node index: node addresses must stay below the client range.
pub const MAX_NODES: usize = (CLIENT_HOST_BASE - NODE_HOST_BASE - 1) as usize;
/// Largest client index: client addresses must stay below the broadcast address.
pub const MAX_CLIENTS: usize = (254 - CLIENT_HOST_BASE) as usize;
/// Name of the bridge inside the switch namespace.
pub const BRIDGE_NAME: &str = "br0";
/// Name of each node's underlay interface.
pub const UNDERLAY_IFACE: &str = "eth0";
/// Suffix of the switch namespace name (`<id>-sw`).
const SWITCH_SUFFIX: &str = "sw";

/// Errors from building or parsing lab names and addresses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// The string is not `shl` followed by five lowercase base-36 characters.
    #[error("`{0}` is not a lab id (expected `{LAB_PREFIX}` + {LAB_SUFFIX_LEN} chars of [a-z0-9])")]
    InvalidLabId(String),
    /// A client or member name is empty, too long or has characters other than [a-z0-9].
    #[error("invalid member name `{name}`: need 1..={max} chars of [a-z0-9]")]
    InvalidMemberName {
        /// The rejected name.
        name: String,
        /// Longest allowed member name for this lab id.
        max: usize,
    },
    /// The name is reserved for the lab's own namespaces (`sw`, `n<i>`).
    #[error("member name `{0}` is reserved (switch or node name)")]
    ReservedName(String),
    /// Node index outside `1..=MAX_NODES`.
    #[error("node index {0} out of range 1..={MAX_NODES}")]
    NodeIndexOutOfRange(usize),
    /// Client index outside `1..=MAX_CLIENTS`.
    #[error("client index {0} out of range 1..={MAX_CLIENTS}")]
    ClientIndexOutOfRange(usize),
}

/// A lab's unique id, e.g. `shlab12c`; all its namespaces are named `<id>-…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabId(String);

impl LabId {
    /// Generates a fresh id from the pid, the clock, a process-wide counter and
    /// std's per-process random hash keys, so concurrent runs do not collide.
    pub fn generate() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        hasher.write_u128(nanos);
        Self::from_seed(hasher.finish())
    }

    /// Deterministically derives an id from a seed (base-36 digits of the seed).
    pub fn from_seed(mut seed: u64) -> Self {
        const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut id = String::from(LAB_PREFIX);
        for _ in 0..LAB_SUFFIX_LEN {
            id.push(char::from(ALPHABET[(seed % 36) as usize]));
            seed /= 36;
        }
        Self(id)
    }

    /// Parses and validates an id string.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let valid = s.len() == LAB_PREFIX.len() + LAB_SUFFIX_LEN
            && s.starts_with(LAB_PREFIX)
            && s.bytes().all(is_name_byte);
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::InvalidLabId(s.to_owned()))
        }
    }

    /// Splits a namespace name `<id>-<member>` into its lab id and member name;
    /// `None` if the name does not belong to a shoal lab.
    pub fn split_netns_name(netns: &str) -> Option<(Self, &str)> {
        let (id, member) = netns.split_once('-')?;
        let id = Self::parse(id).ok()?;
        (!member.is_empty()).then_some((id, member))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Namespace name of the switch holding the bridge.
    pub fn switch_netns(&self) -> String {
        self.member_netns(SWITCH_SUFFIX)
    }

    /// Namespace name (and bpffs pin name) of node `index` (1-based).
    pub fn node_netns(&self, index: usize) -> Result<String, NameError> {
        check_node_index(index)?;
        Ok(self.member_netns(&node_member(index)))
    }

    /// Namespace name of a client called `name`.
    pub fn client_netns(&self, name: &str) -> Result<String, NameError> {
        validate_client_name(self, name)?;
        Ok(self.member_netns(name))
    }

    /// Directory holding all per-member state directories of this lab.
    pub fn state_root(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/tmp/shoal-lab-{}", self.0))
    }

    fn member_netns(&self, member: &str) -> String {
        format!("{}-{member}", self.0)
    }
}

impl fmt::Display for LabId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The member part of node `index`'s names: `n<i>`; also the switch-side veth name.
pub fn node_member(index: usize) -> String {
    format!("n{index}")
}

/// Parses a member name `n<i>` back into the node index.
pub fn parse_node_member(member: &str) -> Option<usize> {
    let digits = member.strip_prefix('n')?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Underlay address of node `index` (1-based): 198.18.0.(10+i).
pub fn node_addr(index: usize) -> Result<Ipv4Addr, NameError> {
    check_node_index(index)?;
    Ok(host_addr(NODE_HOST_BASE as usize + index))
}

/// Underlay address of client `index` (1-based): 198.18.0.(200+k).
pub fn client_addr(index: usize) -> Result<Ipv4Addr, NameError> {
    if !(1..=MAX_CLIENTS).contains(&index) {
        return Err(NameError::ClientIndexOutOfRange(index));
    }
    Ok(host_addr(CLIENT_HOST_BASE as usize + index))
}

/// Whether `addr` lies in the underlay network (198.18.0.0/24).
pub fn in_underlay(addr: Ipv4Addr) -> bool {
    let mask = u32::MAX << (32 - u32::from(UNDERLAY_PREFIX_LEN));
    u32::from(addr) & mask == u32::from(UNDERLAY_NET)
}

fn host_addr(host: usize) -> Ipv4Addr {
    let [a, b, c, _] = UNDERLAY_NET.octets();
    // Callers bound `host` to 11..=254, so the cast cannot truncate.
    Ipv4Addr::new(a, b, c, host as u8)
}

fn check_node_index(index: usize) -> Result<(), NameError> {
    if (1..=MAX_NODES).contains(&index) {
        Ok(())
    } else {
        Err(NameError::NodeIndexOutOfRange(index))
    }
}

fn validate_client_name(id: &LabId, name: &str) -> Result<(), NameError> {
    let max = MAX_NAME_LEN - id.as_str().len() - 1;
    if name.is_empty() || name.len() > max || !name.bytes().all(is_name_byte) {
        return Err(NameError::InvalidMemberName {
            name: name.to_owned(),
            max,
        });
    }
    if name == SWITCH_SUFFIX || parse_node_member(name).is_some() {
        return Err(NameError::ReservedName(name.to_owned()));
    }
    Ok(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let ids: Vec<LabId> = (0..200).map(|_| LabId::generate()).collect();
        for id in &ids {
            assert_eq!(LabId::parse(id.as_str()).as_ref(), Ok(id));
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn from_seed_is_deterministic() {
        assert_eq!(LabId::from_seed(0).as_str(), "shl00000");
        assert_eq!(LabId::from_seed(35).as_str(), "shlz0000");
        assert_eq!(LabId::from_seed(36).as_str(), "shl01000");
    }

    #[test]
    fn parse_rejects_bad_ids() {
        for bad in [
            "",
            "shl",
            "shl1234",
            "shl123456",
            "abc12345",
            "shlABCDE",
            "shl12-45",
        ] {
            assert!(LabId::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn all_names_fit_ifnamsiz() {
        let id = LabId::from_seed(u64::MAX);
        assert!(id.switch_netns().len() <= MAX_NAME_LEN);
        assert!(id.node_netns(MAX_NODES).unwrap().len() <= MAX_NAME_LEN);
        assert!(id.client_netns("abcdef").unwrap().len() <= MAX_NAME_LEN);
        assert!(id.client_netns("abcdefg").is_err());
    }

    #[test]
    fn node_names_and_addresses() {
        let id = LabId::parse("shlab12c").unwrap();
        assert_eq!(id.switch_netns(), "shlab12c-sw");
        assert_eq!(id.node_netns(3).unwrap(), "shlab12c-n3");
        assert_eq!(node_addr(1).unwrap(), Ipv4Addr::new(198, 18, 0, 11));
        assert_eq!(
            node_addr(MAX_NODES).unwrap(),
            Ipv4Addr::new(198, 18, 0, 199)
        );
        assert_eq!(node_addr(0), Err(NameError::NodeIndexOutOfRange(0)));
        assert!(node_addr(MAX_NODES + 1).is_err());
    }

    #[test]
    fn client_names_and_addresses() {
        let id = LabId::parse("shlab12c").unwrap();
        assert_eq!(client_addr(1).unwrap(), Ipv4Addr::new(198, 18, 0, 201));
        assert_eq!(
            client_addr(MAX_CLIENTS).unwrap(),
            Ipv4Addr::new(198, 18, 0, 254)
        );
        assert!(client_addr(0).is_err());
        assert!(client_addr(MAX_CLIENTS + 1).is_err());
        assert!(matches!(
            id.client_netns("sw"),
            Err(NameError::ReservedName(_))
        ));
        assert!(matches!(
            id.client_netns("n2"),
            Err(NameError::ReservedName(_))
        ));
        assert!(id.client_netns("n0x").is_ok());
        assert!(id.client_netns("C1").is_err());
    }

    #[test]
    fn underlay_membership() {
        assert!(in_underlay(Ipv4Addr::new(198, 18, 0, 11)));
        assert!(!in_underlay(Ipv4Addr::new(198, 18, 1, 11)));
        assert!(!in_underlay(Ipv4Addr::new(10, 10, 0, 2)));
    }

    #[test]
    fn split_netns_names() {
        let (id, member) = LabId::split_netns_name("shlab12c-n2").unwrap();
        assert_eq!((id.as_str(), member), ("shlab12c", "n2"));
        assert!(LabId::split_netns_name("shlab12c-").is_none());
        assert!(LabId::split_netns_name("other-n2").is_none());
        assert!(LabId::split_netns_name("shlab12c").is_none());
        assert_eq!(parse_node_member("n12"), Some(12));
        assert_eq!(parse_node_member("n01"), None);
        assert_eq!(parse_node_member("c1"), None);
    }
}
