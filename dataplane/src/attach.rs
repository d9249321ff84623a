//! Attaching programs to interfaces with pinned links, so they stay attached
//! after the attaching process exits. Re-attaching swaps the program inside
//! the existing link atomically (an upgrade never leaves the NIC bare).

use std::{
    io,
    path::{Path, PathBuf},
};

use aya::programs::{
    LinkOrder, ProgramError, SchedClassifier, TcAttachType, Xdp, XdpMode,
    links::{FdLink, LinkError, PinnedLink},
    tc::TcAttachOptions,
};
use serde::Serialize;
use shoal_common::maps::programs;

use crate::{
    object::{Loaded, ObjectError},
    pins::PinPaths,
};

/// Where on the underlay NIC the receive program runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    /// XDP (driver mode where the NIC supports it, else generic).
    Xdp,
    /// TCX ingress: after the skb exists, GRO/TSO untouched.
    Tc,
}

impl Hook {
    fn program(self) -> &'static str {
        match self {
            Hook::Xdp => programs::UNDERLAY_XDP,
            Hook::Tc => programs::UNDERLAY_TC,
        }
    }

    /// The pin file name of this hook's link on `iface`.
    pub fn link_name(self, iface: &str) -> String {
        match self {
            Hook::Xdp => format!("underlay_xdp_{iface}"),
            Hook::Tc => format!("underlay_tc_{iface}"),
        }
    }
}

/// Errors attaching or detaching.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// Loading the object failed.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// The object lacks a program it should have (a build mismatch).
    #[error("program {0} missing from the eBPF object")]
    MissingProgram(&'static str),
    /// The kernel refused to load or attach the program.
    #[error("{program} on {iface}: {source}")]
    Program {
        /// Program name.
        program: &'static str,
        /// Interface name.
        iface: String,
        /// aya's error, with the verifier log when there is one.
        source: ProgramError,
    },
    /// A pinned link could not be read, created or removed.
    #[error("link pin {path}: {source}")]
    Pin {
        /// The pin file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
}

/// What an attach did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachOutcome {
    /// A new link was created and pinned.
    Attached,
    /// The pinned link existed; its program was swapped atomically.
    Replaced,
}

/// Attach the underlay receive program to `iface` at `hook` and pin the link.
pub fn attach_underlay(
    pins: &PinPaths,
    iface: &str,
    hook: Hook,
) -> Result<AttachOutcome, AttachError> {
    let mut loaded = Loaded::load(pins)?;
    let path = pins.links().join(hook.link_name(iface));
    let program = hook.program();
    let prog = loaded
        .ebpf
        .program_mut(program)
        .ok_or(AttachError::MissingProgram(program))?;
    let err = |source| AttachError::Program {
        program,
        iface: iface.to_owned(),
        source,
    };
    let existing = open_pinned(&path)?;
    let outcome = if existing.is_some() {
        AttachOutcome::Replaced
    } else {
        AttachOutcome::Attached
    };
    let fd_link = match hook {
        Hook::Xdp => {
            let xdp: &mut Xdp = prog.try_into().map_err(err)?;
            xdp.load().map_err(err)?;
            let id = match existing {
                Some(old) => {
                    xdp.attach_to_link(FdLink::from(old).try_into().map_err(link_err(&path))?)
                }
                None => xdp.attach(iface, XdpMode::Default),
            }
            .map_err(err)?;
            FdLink::try_from(xdp.take_link(id).map_err(err)?).map_err(link_err(&path))?
        }
        Hook::Tc => {
            let tc: &mut SchedClassifier = prog.try_into().map_err(err)?;
            tc.load().map_err(err)?;
            let id = match existing {
                Some(old) => {
                    tc.attach_to_link(FdLink::from(old).try_into().map_err(link_err(&path))?)
                }
                None => tc.attach_with_options(
                    iface,
                    TcAttachType::Ingress,
                    TcAttachOptions::TcxOrder(LinkOrder::default()),
                ),
            }
            .map_err(err)?;
            FdLink::try_from(tc.take_link(id).map_err(err)?).map_err(link_err(&path))?
        }
    };
    if outcome == AttachOutcome::Attached {
        pin_at(fd_link, &path)?;
    }
    Ok(outcome)
}

/// Detach the underlay program from `iface`; `Ok(false)` if none was attached.
pub fn detach_underlay(pins: &PinPaths, iface: &str, hook: Hook) -> Result<bool, AttachError> {
    // Unpinning drops the last reference once our fd closes: detached.
    unpin_link(&pins.links().join(hook.link_name(iface)))
}

/// The pinned links of this node, by file name.
pub fn pinned_links(pins: &PinPaths) -> Result<Vec<String>, AttachError> {
    let dir = pins.links();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(AttachError::Pin { path: dir, source }),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Attach loaded TC program `prog` at TCX ingress of `iface` and pin the
/// link at `path`, unless a link is pinned there already (then nothing
/// changes). Returns whether it attached.
pub(crate) fn ensure_tcx_ingress(
    prog: &mut SchedClassifier,
    program: &'static str,
    iface: &str,
    path: &Path,
) -> Result<bool, AttachError> {
    if open_pinned(path)?.is_some() {
        return Ok(false);
    }
    let err = |source| AttachError::Program {
        program,
        iface: iface.to_owned(),
        source,
    };
    let id = prog
        .attach_with_options(
            iface,
            TcAttachType::Ingress,
            TcAttachOptions::TcxOrder(LinkOrder::default()),
        )
        .map_err(err)?;
    let link = FdLink::try_from(prog.take_link(id).map_err(err)?).map_err(link_err(path))?;
    pin_at(link, path)?;
    Ok(true)
}

/// Attach loaded XDP program `prog` to `iface` (driver mode where the NIC
/// has it, else generic) and pin the link at `path`, unless a link is
/// pinned there already. Returns whether it attached.
pub(crate) fn ensure_xdp(
    prog: &mut Xdp,
    program: &'static str,
    iface: &str,
    path: &Path,
) -> Result<bool, AttachError> {
    if open_pinned(path)?.is_some() {
        return Ok(false);
    }
    let err = |source| AttachError::Program {
        program,
        iface: iface.to_owned(),
        source,
    };
    let id = prog.attach(iface, XdpMode::Default).map_err(err)?;
    let link = FdLink::try_from(prog.take_link(id).map_err(err)?).map_err(link_err(path))?;
    pin_at(link, path)?;
    Ok(true)
}

/// Pin `link` at `path`, so it outlives this process.
fn pin_at(link: FdLink, path: &Path) -> Result<(), AttachError> {
    link.pin(path).map_err(|e| AttachError::Pin {
        path: path.to_owned(),
        source: io::Error::other(e),
    })?;
    Ok(())
}

/// Remove the link pinned at `path` (detaching it); `Ok(false)` if none.
pub(crate) fn unpin_link(path: &Path) -> Result<bool, AttachError> {
    match open_pinned(path)? {
        None => Ok(false),
        Some(link) => {
            link.unpin().map_err(|source| AttachError::Pin {
                path: path.to_owned(),
                source,
            })?;
            Ok(true)
        }
    }
}

fn open_pinned(path: &Path) -> Result<Option<PinnedLink>, AttachError> {
    match PinnedLink::from_pin(path) {
        Ok(link) => Ok(Some(link)),
        Err(LinkError::SyscallError(e)) if e.io_error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AttachError::Pin {
            path: path.to_path_buf(),
            source: io::Error::other(e),
        }),
    }
}

fn link_err(path: &Path) -> impl Fn(LinkError) -> AttachError + '_ {
    move |e| AttachError::Pin {
        path: path.to_path_buf(),
        source: io::Error::other(e),
    }
}
