//! Reusable builders for overlay tests and benchmarks.
//!
//! - [`desired`]: writing a node's desired state (the data plane's own type)
//!   into its state directory for `shoal dp apply FILE`;
//! - [`kernel_vxlan`]: Docker Swarm's kernel data path (bridge + VXLAN device +
//!   veth, static FDB and neighbour entries) on a lab node, the baseline;
//! - [`veth`]: two task namespaces joined by one veth pair, the no-overlay floor;
//! - [`transfer`]: a checksummed TCP transfer between two namespaces;
//! - [`capture`]: tshark captures and VXLAN decoding;
//! - [`probe`]: waiting for a server to listen;
//! - [`addr`]: IPv4 prefixes and MAC addresses;
//! - [`encrypted`]: an encrypted network's two-node lab and its checks.
//!
//! Task namespaces come from [`crate::lab::Lab::add_netns`].

pub mod addr;
pub mod capture;
pub mod desired;
pub mod encrypted;
pub mod kernel_vxlan;
pub mod probe;
pub mod stats;
pub mod transfer;
pub mod veth;

pub use addr::{AddrError, Cidr, MacAddr};
pub use capture::{Capture, CaptureError, vxlan_vnis};
pub use desired::{DesiredError, VXLAN_OVERHEAD, VXLAN_PORT, write_desired_state};
pub use kernel_vxlan::{KernelVxlan, KernelVxlanError, Peer, TaskIface};
pub use probe::{ProbeError, wait_listening};
pub use stats::dp_counter;
pub use transfer::{TRANSFER_PORT, TransferError, tcp_transfer};
pub use veth::{VethError, raw_veth_pair};
