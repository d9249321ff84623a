//! What the API shows of services, tasks and secrets.

use std::cmp::Reverse;

use super::{ClusterTables, ManagerError, nodes, tables};
use shoal_model::api::{ConfigView, SecretView, ServiceView, TaskView};
use shoal_model::cluster::{ConfigRecord, NodeStatus, SecretRecord};
use shoal_model::spec::{Constraint, Service, ServiceMode, Task, TaskState};

/// A service with its endpoint and task counts (never its registry login).
pub fn service_view(tables: &ClusterTables, mut service: Service) -> ServiceView {
    service.spec.task = service.spec.task.without_registry_auth();
    if let Some(previous) = service.previous_spec.as_mut() {
        previous.task = std::mem::take(&mut previous.task).without_registry_auth();
    }
    let running = tables
        .tasks
        .values()
        .filter(|t| t.service_id == service.id)
        .filter(|t| t.desired_state == TaskState::Running && t.status.state == TaskState::Running)
        .count() as u64;
    let desired = match service.spec.mode {
        ServiceMode::Replicated { replicas } => replicas,
        ServiceMode::Global => global_nodes(tables, &service),
    };
    ServiceView {
        endpoint: tables.endpoints.get(&service.id).cloned(),
        running,
        desired,
        created_at: service.created_at_secs,
        updated_at: service.updated_at_secs,
        service,
    }
}

/// Nodes a global service runs on: those taking tasks that satisfy its
/// constraints.
fn global_nodes(tables: &ClusterTables, service: &Service) -> u64 {
    let Ok(constraints) = Constraint::parse_all(&service.spec.task.placement.constraints) else {
        return 0;
    };
    nodes::views(&tables.nodes)
        .iter()
        .filter(|node| node.takes_new_tasks() && Constraint::all_match(&constraints, node))
        .count() as u64
}

/// A task with its display name (`web.1`, or `web.<node id>` for a global
/// service), its service's name and its node's hostname (never its
/// registry login).
pub fn task_view(tables: &ClusterTables, mut task: Task) -> TaskView {
    task.spec = task.spec.without_registry_auth();
    let service = tables.services.get(&task.service_id);
    let service_name = service.map_or_else(|| task.service_id.clone(), |s| s.spec.name.clone());
    let global = service.is_some_and(|s| s.spec.mode == ServiceMode::Global) || task.slot == 0;
    let name = if global {
        format!(
            "{service_name}.{}",
            task.node_id.as_deref().unwrap_or_default()
        )
    } else {
        format!("{service_name}.{}", task.slot)
    };
    let node = task.node_id.as_ref().and_then(|id| tables.nodes.get(id));
    TaskView {
        name,
        service_name,
        node_hostname: node.map(|node| node.hostname.clone()),
        node_down: node.is_some_and(|node| node.status == NodeStatus::Down),
        task,
    }
}

/// Tasks of the service `service` names (all tasks when `None`), sorted by
/// name, newest first within a name.
pub fn task_views(
    tables: &ClusterTables,
    service: Option<&str>,
) -> Result<Vec<TaskView>, ManagerError> {
    let service_id = match service {
        Some(query) => Some(
            tables::resolve(&tables.services, query, "service", |s| &s.spec.name)?
                .id
                .clone(),
        ),
        None => None,
    };
    let mut views: Vec<TaskView> = tables
        .tasks
        .values()
        .filter(|t| service_id.as_ref().is_none_or(|id| t.service_id == *id))
        .map(|t| task_view(tables, t.clone()))
        .collect();
    views.sort_by_key(|v| {
        (
            v.name.clone(),
            Reverse(v.task.status.timestamp),
            v.task.id.clone(),
        )
    });
    Ok(views)
}

/// A secret without its value.
pub fn secret_view(record: &SecretRecord) -> SecretView {
    SecretView {
        id: record.id.clone(),
        name: record.name.clone(),
        labels: record.labels.clone(),
        created_at: record.created_at,
    }
}

/// A config with its value.
pub fn config_view(record: &ConfigRecord) -> ConfigView {
    ConfigView {
        id: record.id.clone(),
        name: record.name.clone(),
        data_b64: record.data_b64.clone(),
        labels: record.labels.clone(),
        created_at: record.created_at,
        updated_at: record.updated_at,
        version: record.version,
    }
}
