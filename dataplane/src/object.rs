//! The eBPF object embedded in the binary, and loading it with the node's
//! pinned maps.

use aya::{Ebpf, EbpfLoader};
use shoal_common::maps;

use crate::pins::{PinPaths, PinsError};

/// The eBPF object built from `dataplane-ebpf/` by this crate's build script.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/shoal-ebpf"));

/// Errors loading the object.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The node's pin directory could not be prepared.
    #[error(transparent)]
    Pins(#[from] PinsError),
    /// The kernel or aya refused the object.
    #[error("loading the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
}

/// A loaded object whose maps are the node's pinned maps.
pub struct Loaded {
    /// The loaded object.
    pub ebpf: Ebpf,
    /// Debug builds: the aya-log reader for the programs' log lines.
    #[cfg(debug_assertions)]
    logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
}

impl Loaded {
    /// Load the object, reusing the node's pinned maps (creating them the
    /// first time). Programs are not loaded into the kernel until attached.
    pub fn load(pins: &PinPaths) -> Result<Self, ObjectError> {
        pins.prepare()?;
        let maglev = pins.map(maps::MAGLEV);
        #[cfg_attr(
            not(debug_assertions),
            expect(unused_mut, reason = "only debug builds' logger borrows it mutably")
        )]
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(pins.maps())
            // BTF-defined maps carry no pinning attribute: pin them by name too.
            .map_pin_path(maps::MAGLEV, maglev)
            .load(EBPF_OBJECT)?;
        #[cfg(debug_assertions)]
        let logger = aya_log::EbpfLogger::init(&mut ebpf)
            .inspect_err(|e| log::debug!("aya-log not active: {e}"))
            .ok();
        Ok(Self {
            ebpf,
            #[cfg(debug_assertions)]
            logger,
        })
    }

    /// Debug builds: print pending eBPF log lines through `log`.
    pub fn flush_logs(&mut self) {
        #[cfg(debug_assertions)]
        if let Some(logger) = self.logger.as_mut() {
            logger.flush();
        }
    }
}
