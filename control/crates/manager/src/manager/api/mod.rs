//! Service, network, secret and config operations, run on the leader for the REST
//! API. Each takes the write lock, loads the tables, checks the request
//! (a refused request changes nothing) and proposes the changed rows in one
//! batch; the manager loop does the rest (allocation, tasks).

mod configs;
mod networks;
mod secrets;
mod services;

pub use configs::{CONFIG_MAX_BYTES, create_config, remove_config, update_config};
pub use networks::{create_network, remove_network, rotate_network_keys};
pub use secrets::{SECRET_MAX_BYTES, create_secret, remove_secret};
pub use services::{create_service, remove_service, rollback_service, update_service};

use super::tables::resolve;
use super::{ClusterTables, Leadership, ManagerError};
use shoal_raft::Command;

/// The tables as applied on this manager.
pub fn load<L: Leadership>(leader: &L) -> ClusterTables {
    let (snapshot, _) = leader.store().snapshot_and_watch();
    ClusterTables::load(&snapshot.tables)
}

/// Proposes the rows that differ between `before` and `after`.
async fn commit<L: Leadership>(
    leader: &L,
    before: &ClusterTables,
    after: &ClusterTables,
) -> Result<(), ManagerError> {
    let commands = after.diff(before)?;
    if !commands.is_empty() {
        leader.store().propose(Command::Batch(commands)).await?;
    }
    Ok(())
}

/// Checks a network or secret name: a letter or digit first and last,
/// letters, digits, `-`, `_` and `.` between, at most 64 characters
/// (Docker's rule; secret names become file names).
fn check_object_name(kind: &'static str, name: &str) -> Result<(), ManagerError> {
    let inner_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= 64
        && bytes.iter().all(|b| inner_ok(*b))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if valid {
        Ok(())
    } else {
        Err(ManagerError::InvalidName {
            kind,
            name: name.to_owned(),
            rule: "1-64 of a-z, A-Z, 0-9, '-', '_', '.', starting and ending with a letter or digit",
        })
    }
}
