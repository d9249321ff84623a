//! Service, network and secret changes and agents' task reports, run on
//! the leader by [`crate::manager`]; this file connects the daemon's
//! manager node to it.

use super::DaemonError;
use super::calls::to_json;
use super::core::Manager;
use crate::ctl::{ApiOp, TaskReport};
use crate::manager::{self, Leadership, api};
use crate::raft::Store;

impl Leadership for Manager {
    fn store(&self) -> &Store {
        Manager::store(self)
    }

    fn is_leader(&self) -> bool {
        Manager::is_leader(self)
    }

    fn writes(&self) -> &tokio::sync::Mutex<()> {
        &self.writes
    }

    fn reports(&self) -> &crate::manager::ReportQueue {
        &self.reports
    }
}

/// Runs a service, network, secret or config operation here, the leader; gives
/// the other operations back (see [`super::ops`]).
pub(crate) async fn run(
    manager: &Manager,
    op: ApiOp,
) -> Result<Result<serde_json::Value, DaemonError>, ApiOp> {
    let done = || Ok(serde_json::Value::Null);
    let result = match op {
        ApiOp::CreateService { spec } => api::create_service(manager, *spec)
            .await
            .map(|r| to_json(&r)),
        ApiOp::UpdateService { target, request } => api::update_service(manager, &target, *request)
            .await
            .map(|r| to_json(&r)),
        ApiOp::RollbackService { target } => api::rollback_service(manager, &target)
            .await
            .map(|r| to_json(&r)),
        ApiOp::RemoveService { target } => {
            api::remove_service(manager, &target).await.map(|()| done())
        }
        ApiOp::CreateNetwork { request } => api::create_network(manager, *request)
            .await
            .map(|r| to_json(&r)),
        ApiOp::RotateNetworkKeys { target } => api::rotate_network_keys(manager, &target)
            .await
            .map(|r| to_json(&r)),
        ApiOp::RemoveNetwork { target } => {
            api::remove_network(manager, &target).await.map(|()| done())
        }
        ApiOp::CreateSecret { request } => api::create_secret(manager, *request)
            .await
            .map(|r| to_json(&r)),
        ApiOp::RemoveSecret { target } => {
            api::remove_secret(manager, &target).await.map(|()| done())
        }
        ApiOp::CreateConfig { request } => api::create_config(manager, *request)
            .await
            .map(|r| to_json(&r)),
        ApiOp::UpdateConfig { request } => api::update_config(manager, *request)
            .await
            .map(|r| to_json(&r)),
        ApiOp::RemoveConfig { target } => {
            api::remove_config(manager, &target).await.map(|()| done())
        }
        other => return Err(other),
    };
    Ok(result.map_err(DaemonError::from).and_then(|json| json))
}

/// Records the task states the agent of `node_id` reports.
pub(crate) async fn task_status(
    manager: &Manager,
    node_id: &str,
    reports: &[TaskReport],
) -> Result<serde_json::Value, DaemonError> {
    let changed = manager::record_reports(manager, node_id, reports).await?;
    log::debug!(
        "node {node_id} reported {} tasks, {changed} changed",
        reports.len()
    );
    Ok(serde_json::Value::Null)
}
