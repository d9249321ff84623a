//! Programming the node's data plane: applies each new desired state (in
//! a blocking thread, one at a time), retries a failed apply with backoff,
//! and publishes what is in force so task starts can wait for their
//! interfaces.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use shoal_dataplane::PinPaths;
use shoal_dataplane::node::DesiredState;
use tokio::sync::watch;

use super::AgentError;
use super::containers::full_message;

/// First wait after a failed apply; doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// One interface of `ip -j -4 addr show`.
#[derive(Deserialize)]
struct IfaceAddrs {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<AddrInfo>,
}

#[derive(Deserialize)]
struct AddrInfo {
    #[serde(default)]
    local: Option<Ipv4Addr>,
}

/// The interface holding `ip`: the node's underlay.
pub(crate) fn find_underlay(ip: Ipv4Addr) -> Result<String, AgentError> {
    let output = Command::new("ip")
        .args(["-j", "-4", "addr", "show"])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| AgentError::Addresses { source })?;
    if !output.status.success() {
        return Err(AgentError::Addresses {
            source: std::io::Error::other(String::from_utf8_lossy(&output.stderr).into_owned()),
        });
    }
    let ifaces: Vec<IfaceAddrs> = serde_json::from_slice(&output.stdout)
        .map_err(|source| AgentError::AddressesOutput { source })?;
    ifaces
        .into_iter()
        .find(|iface| iface.addr_info.iter().any(|a| a.local == Some(ip)))
        .map(|iface| iface.ifname)
        .ok_or(AgentError::NoUnderlay { ip })
}

/// Whether a state has nothing to program: a node that never had
/// networks or services leaves its kernel alone.
fn is_empty(state: &DesiredState) -> bool {
    state.networks.is_empty()
        && state.endpoints.is_empty()
        && state.services.is_empty()
        && state.published.is_empty()
}

/// Applies every new state of `desired` to the pins and publishes each
/// state in force on `applied`. Runs until `desired` closes.
pub(crate) async fn program(
    pins: PinPaths,
    mut desired: watch::Receiver<Option<DesiredState>>,
    applied: watch::Sender<Option<DesiredState>>,
) {
    let mut in_force: Option<DesiredState> = None;
    let mut retry = RETRY_FIRST;
    let mut last_error = String::new();
    loop {
        let want = desired.borrow_and_update().clone();
        let pending = want.filter(|w| in_force.as_ref() != Some(w));
        let mut failed = false;
        if let Some(want) = pending {
            match apply(&pins, &want, in_force.is_none()).await {
                Ok(()) => {
                    log::debug!("data plane programmed");
                    in_force = Some(want.clone());
                    applied.send_replace(Some(want));
                    retry = RETRY_FIRST;
                    last_error.clear();
                }
                Err(err) => {
                    failed = true;
                    let message = full_message(&err);
                    if message != last_error {
                        log::warn!("programming the data plane: {message} (retrying)");
                        last_error = message;
                    }
                }
            }
        }
        if failed {
            tokio::select! {
                _ = tokio::time::sleep(retry) => {}
                changed = desired.changed() => if changed.is_err() { return },
            }
            retry = (retry * 2).min(RETRY_MAX);
        } else if desired.changed().await.is_err() {
            return;
        }
    }
}

async fn apply(pins: &PinPaths, state: &DesiredState, first: bool) -> Result<(), AgentError> {
    if first && is_empty(state) {
        return Ok(());
    }
    let pins = pins.clone();
    let state = state.clone();
    tokio::task::spawn_blocking(move || shoal_dataplane::node::apply(&pins, &state))
        .await
        .map_err(|_| AgentError::Panicked {
            what: "data plane apply",
        })??;
    Ok(())
}
