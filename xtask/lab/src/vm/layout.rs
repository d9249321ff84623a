//! Where the VM lab keeps things and how its nodes are named and addressed:
//! everything under `target/vm/`, the underlay 198.18.1.0/24 inside the
//! network namespace `shoal-vm`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The network namespace holding the underlay: a bridge, one TAP per VM,
/// the host's lab address, no other link and no route out.
pub const NETNS: &str = "shoal-vm";
/// The underlay bridge inside [`NETNS`].
pub const BRIDGE: &str = "shoal-br";
/// The host's address on the underlay (inside [`NETNS`]): the clients of the
/// suite's requests.
pub const HOST_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
/// The underlay's prefix length.
pub const PREFIX_LEN: u8 = 24;
/// The most nodes a lab holds (addresses .11 to .(10 + MAX_NODES)).
pub const MAX_NODES: usize = 9;

/// `node1`, `node2`, … (1-based, as in the Vagrantfile).
pub fn node_name(index: usize) -> String {
    format!("node{index}")
}

/// Node `index`'s underlay address: 198.18.1.(10 + index).
pub fn node_addr(index: usize) -> Ipv4Addr {
    let last = u8::try_from(10 + index).unwrap_or(u8::MAX);
    Ipv4Addr::new(198, 18, 1, last)
}

/// The TAP device of node `index` inside [`NETNS`].
pub fn tap_name(index: usize) -> String {
    format!("shoal-tap{index}")
}

/// The lab's directories under the repository's `target/`.
#[derive(Clone)]
pub struct Dirs {
    /// `target/vm`.
    pub root: PathBuf,
    /// The repository.
    pub repo: PathBuf,
}

impl Dirs {
    /// The lab's directories for the repository at `repo`.
    pub fn new(repo: &Path) -> Dirs {
        Dirs {
            root: repo.join("target/vm"),
            repo: repo.to_owned(),
        }
    }

    /// The lab's ssh key (generated on first use; its public half is in
    /// the image).
    pub fn key(&self) -> PathBuf {
        self.root.join("id_ed25519")
    }

    /// Node `name`'s directory: its disk overlay, pid file, console log.
    pub fn node(&self, name: &str) -> PathBuf {
        self.root.join("nodes").join(name)
    }

    /// A file of the repository's `vagrant/` directory.
    pub fn vagrant(&self, file: &str) -> PathBuf {
        self.repo.join("vagrant").join(file)
    }
}
