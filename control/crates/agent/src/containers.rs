//! Task ↔ container: the container spec a task runs as, how a failed
//! create is reported, and a task's captured output.

use base64::Engine as _;

use super::{AgentError, dns};
use shoal_model::assignment::AssignedTask;
use shoal_model::spec::{ConfigRef, MountKind, SecretRef, TaskState, TaskTemplate};
use shoal_runtime::image::ImageError;
use shoal_runtime::log_reader::LogPosition;
use shoal_runtime::{
    BindMount, ContainerFile, ContainerSpec, Resources, Runtime, RuntimeError, SecretFile,
    TmpfsMount, Ulimit, VolumeMount,
};

/// The CPU period a `nano_cpus` quota is expressed in (the kernel's
/// default, as Docker uses).
const CPU_PERIOD_US: u64 = 100_000;

/// The container a task runs as: its id is the task ID, its hostname the
/// spec's `--hostname` or else the task ID's first 12 characters, its resolv.conf, hosts and
/// hostname files Docker's; the service's args replace the image's CMD (as Docker's do).
pub(crate) fn container_spec(assigned: &AssignedTask) -> Result<ContainerSpec, AgentError> {
    let template = &assigned.task.spec;
    let secrets = template
        .secrets
        .iter()
        .map(|wanted| secret_file(assigned, wanted))
        .collect::<Result<Vec<_>, _>>()?;
    let hostname = assigned.task.hostname();
    let mut files = vec![
        etc_file(
            "/etc/resolv.conf",
            dns::files::resolv_conf(&template.container),
        ),
        etc_file("/etc/hosts", dns::files::hosts(&assigned.task, &hostname)),
        etc_file("/etc/hostname", dns::files::hostname(&hostname)),
    ];
    for wanted in &template.configs {
        files.push(config_file(assigned, wanted)?);
    }
    let mut spec = ContainerSpec {
        id: assigned.task.id.clone(),
        image: template.image.clone(),
        args: (!template.args.is_empty()).then(|| template.args.clone()),
        env: template.env.clone(),
        hostname: Some(hostname),
        files,
        resources: limits(template),
        secrets,
        seccomp_unconfined: template.seccomp_unconfined,
        ..ContainerSpec::default()
    };
    add_mounts(template, &mut spec);
    add_process_options(template, &mut spec);
    if template.container.init {
        spec.init = Some(node_init()?);
    }
    spec.validate()?;
    Ok(spec)
}

/// The template's `--mount`s as the runtime's bind, volume and tmpfs
/// mounts (a volume is created on this node on first use).
fn add_mounts(template: &TaskTemplate, spec: &mut ContainerSpec) {
    for mount in &template.mounts {
        let target = mount.target.clone();
        match mount.kind {
            MountKind::Bind => spec.mounts.push(BindMount {
                source: mount.source.clone().into(),
                target,
                read_only: mount.read_only,
            }),
            MountKind::Volume => spec.volumes.push(VolumeMount {
                name: mount.source.clone(),
                target,
                read_only: mount.read_only,
                no_copy: mount.no_copy,
            }),
            MountKind::Tmpfs => spec.tmpfs.push(TmpfsMount {
                target,
                size_bytes: mount.tmpfs_size,
                mode: mount.tmpfs_mode,
                read_only: mount.read_only,
            }),
        }
    }
}

/// Entrypoint, user, workdir, read-only root, stop signal and grace,
/// capabilities, sysctls and ulimits, as the template gives them.
fn add_process_options(template: &TaskTemplate, spec: &mut ContainerSpec) {
    let options = &template.container;
    spec.entrypoint.clone_from(&options.entrypoint);
    spec.user.clone_from(&options.user);
    spec.workdir.clone_from(&options.workdir);
    spec.read_only_rootfs = options.read_only;
    spec.stop_signal.clone_from(&options.stop_signal);
    spec.stop_grace = options.stop_grace_period.map(|span| span.0);
    spec.cap_add.clone_from(&options.cap_add);
    spec.cap_drop.clone_from(&options.cap_drop);
    spec.sysctls.clone_from(&options.sysctls);
    spec.ulimits = options
        .ulimits
        .iter()
        .map(|u| Ulimit {
            name: u.name.clone(),
            soft: u.soft,
            hard: u.hard,
        })
        .collect();
}

fn etc_file(target: &str, contents: String) -> ContainerFile {
    ContainerFile::new(target, contents.into_bytes())
}

/// The file of config `wanted`: its data from the assignment, its path,
/// owner and mode from the spec (a read-only bind mount, as Docker's).
fn config_file(assigned: &AssignedTask, wanted: &ConfigRef) -> Result<ContainerFile, AgentError> {
    let name = wanted.source.as_str();
    let config = assigned
        .configs
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| AgentError::ConfigNotFound {
            name: name.to_owned(),
        })?;
    let contents = base64::engine::general_purpose::STANDARD
        .decode(&config.data_b64)
        .map_err(|source| AgentError::ConfigEncoding {
            name: name.to_owned(),
            source,
        })?;
    Ok(ContainerFile {
        target: wanted.target.clone(),
        contents,
        uid: wanted.uid,
        gid: wanted.gid,
        mode: wanted.mode,
    })
}

/// The file of secret `wanted`: its data from the assignment, its path
/// (relative to `/run/secrets`), owner and mode from the spec.
fn secret_file(assigned: &AssignedTask, wanted: &SecretRef) -> Result<SecretFile, AgentError> {
    let name = wanted.source.as_str();
    let secret = assigned
        .secrets
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| AgentError::SecretNotFound {
            name: name.to_owned(),
        })?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(&secret.data_b64)
        .map_err(|source| AgentError::SecretEncoding {
            name: name.to_owned(),
            source,
        })?;
    Ok(SecretFile {
        name: wanted.target.clone(),
        data,
        uid: wanted.uid,
        gid: wanted.gid,
        mode: wanted.mode,
    })
}

/// cgroup limits from the task's limits (its reservations only count for
/// scheduling): CPUs as a quota per period, memory as a hard limit, and
/// the pids limit (a default one unless the spec says 0).
fn limits(template: &TaskTemplate) -> Resources {
    let wanted = &template.limits;
    let mut limits = Resources {
        pids_limit: template
            .effective_pids_limit()
            .map(|limit| i64::try_from(limit).unwrap_or(i64::MAX)),
        ..Resources::default()
    };
    if wanted.nano_cpus > 0 {
        let quota = u128::from(wanted.nano_cpus) * u128::from(CPU_PERIOD_US) / 1_000_000_000;
        // At least 1 ms per period: the kernel refuses smaller quotas.
        limits.cpu_quota_us = Some(i64::try_from(quota.max(1_000)).unwrap_or(i64::MAX));
        limits.cpu_period_us = Some(CPU_PERIOD_US);
    }
    if wanted.memory_bytes > 0 {
        limits.memory_limit_bytes = Some(i64::try_from(wanted.memory_bytes).unwrap_or(i64::MAX));
    }
    limits
}

/// The node's init for `--init`: Debian's static tini (a static binary,
/// so it runs in any image).
const NODE_INIT: &str = "/usr/bin/tini-static";

fn node_init() -> Result<std::path::PathBuf, AgentError> {
    let path = std::path::Path::new(NODE_INIT);
    match path.is_file() {
        true => Ok(path.to_owned()),
        false => Err(AgentError::NoInit { path: NODE_INIT }),
    }
}

/// How a task that could not be created is reported: a failed pull, a
/// missing image (or a spec this node cannot run) rejects it (the
/// orchestrator replaces it after the restart delay), anything else fails
/// it.
pub(crate) fn create_failure(err: &AgentError) -> (TaskState, String) {
    match err {
        AgentError::Pull { image, source } => (
            TaskState::Rejected,
            super::images::pull_failure(image, source),
        ),
        AgentError::Runtime(RuntimeError::Image(ImageError::NotFound { reference })) => {
            (TaskState::Rejected, format!("No such image: {reference}"))
        }
        AgentError::SecretNotFound { .. }
        | AgentError::SecretEncoding { .. }
        | AgentError::ConfigNotFound { .. }
        | AgentError::ConfigEncoding { .. }
        | AgentError::NoInit { .. }
        | AgentError::Runtime(
            RuntimeError::InvalidId { .. }
            | RuntimeError::InvalidSpec { .. }
            | RuntimeError::NoCommand { .. }
            | RuntimeError::BindSourceMissing { .. }
            | RuntimeError::Volume(_)
            | RuntimeError::Image(_),
        ) => (TaskState::Rejected, full_message(err)),
        _ => (TaskState::Failed, full_message(err)),
    }
}

pub(crate) use shoal_model::error_chain::full_message;

/// The captured output (stdout and stderr) of task `task_id`'s container
/// on this node (only the last `tail` lines when given, read from the
/// end) and where a follower goes on from.
pub fn task_logs(
    runtime: &Runtime,
    task_id: &str,
    tail: Option<usize>,
) -> Result<(String, LogPosition), RuntimeError> {
    let (bytes, position) = runtime.logs_tail(task_id, tail)?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), position))
}

/// Up to `max` bytes of whole lines task `task_id`'s container logged
/// after `position` (`service logs --follow`), and the next position.
pub fn task_logs_since(
    runtime: &Runtime,
    task_id: &str,
    position: LogPosition,
    max: usize,
) -> Result<(String, LogPosition), RuntimeError> {
    let (bytes, position) = runtime.logs_since(task_id, position, max)?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), position))
}

#[cfg(test)]
mod tests {

    use super::*;
    use shoal_model::assignment::AssignedSecret;
    use shoal_model::spec::{ServiceSpec, Task, TaskStatus};

    fn assigned(secrets: &[&str], given: Vec<AssignedSecret>) -> AssignedTask {
        let mut template = ServiceSpec::new("web", "busybox").task;
        template.args = vec!["httpd".to_owned(), "-f".to_owned()];
        template.env = vec!["A=1".to_owned()];
        template.secrets = secrets.iter().map(|s| SecretRef::named(s)).collect();
        template.limits.nano_cpus = 500_000_000;
        template.limits.memory_bytes = 64 << 20;
        // Reservations are the scheduler's business, not limits.
        template.resources.memory_bytes = 1 << 30;
        AssignedTask {
            task: Task {
                id: "t1".to_owned(),
                service_id: "s".to_owned(),
                slot: 1,
                node_id: Some("n".to_owned()),
                desired_state: TaskState::Running,
                status: TaskStatus::default(),
                spec: template,
                spec_version: 1,
                networks: Vec::new(),
            },
            name: "web.1".to_owned(),
            secrets: given,
            configs: Vec::new(),
        }
    }

    #[test]
    fn configs_become_read_only_files_at_their_targets() {
        let mut task = assigned(&[], Vec::new());
        task.configs = vec![shoal_model::assignment::AssignedConfig {
            name: "site".to_owned(),
            data_b64: "bGlzdGVuIDgwOw==".to_owned(),
        }];
        task.task.spec.configs = vec![
            ConfigRef::named("site"),
            "source=site,target=/etc/nginx/site.conf,uid=101,gid=102,mode=0440"
                .parse()
                .unwrap(),
        ];
        let spec = container_spec(&task).unwrap();
        let configs: Vec<_> = spec
            .files
            .iter()
            .skip(3)
            .map(|f| {
                (
                    f.target.as_str(),
                    f.contents.as_slice(),
                    f.uid,
                    f.gid,
                    f.mode,
                )
            })
            .collect();
        assert_eq!(
            configs,
            [
                ("/site", &b"listen 80;"[..], 0, 0, 0o444),
                ("/etc/nginx/site.conf", &b"listen 80;"[..], 101, 102, 0o440),
            ]
        );
        task.configs.clear();
        let missing = container_spec(&task).unwrap_err();
        assert!(
            matches!(missing, AgentError::ConfigNotFound { .. }),
            "{missing}"
        );
        assert_eq!(create_failure(&missing).0, TaskState::Rejected);
    }

    #[test]
    fn a_task_becomes_a_container_named_after_it() {
        let secret = AssignedSecret {
            name: "pw".to_owned(),
            data_b64: "aHVudGVyMg==".to_owned(),
        };
        let spec = container_spec(&assigned(&["pw"], vec![secret])).unwrap();
        assert_eq!(spec.id, "t1");
        assert_eq!(
            spec.hostname.as_deref(),
            Some("t1"),
            "the task ID, as Docker's"
        );
        let hosts = String::from_utf8(spec.files[1].contents.clone()).unwrap();
        assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
        assert_eq!(spec.files[0].target, "/etc/resolv.conf");
        assert_eq!(
            spec.files[0].contents,
            b"nameserver 127.0.0.11\noptions ndots:0\n"
        );
        assert_eq!(spec.files[2].contents, b"t1\n");
        assert_eq!(spec.args.unwrap(), ["httpd", "-f"]);
        assert_eq!(spec.env, ["A=1"]);
        assert_eq!(spec.resources.cpu_quota_us, Some(50_000));
        assert_eq!(spec.resources.cpu_period_us, Some(100_000));
        assert_eq!(spec.resources.memory_limit_bytes, Some(64 << 20));
        assert_eq!(spec.secrets[0].data, b"hunter2");
        assert_eq!(
            spec.secrets[0].mode, 0o444,
            "readable by a non-root task user"
        );
        assert_eq!(
            spec.resources.pids_limit,
            Some(4096),
            "the default pids limit"
        );
        assert!(!spec.seccomp_unconfined);
    }

    #[test]
    fn secret_targets_owners_modes_and_limits_come_from_the_spec() {
        let secret = AssignedSecret {
            name: "pw".to_owned(),
            data_b64: "aHVudGVyMg==".to_owned(),
        };
        let mut task = assigned(&[], vec![secret]);
        let template = &mut task.task.spec;
        template.secrets = vec![
            "source=pw,target=app/key,uid=1000,mode=0400"
                .parse()
                .unwrap(),
        ];
        template.pids_limit = Some(0);
        template.seccomp_unconfined = true;
        let spec = container_spec(&task).unwrap();
        let file = &spec.secrets[0];
        assert_eq!(
            (file.name.as_str(), file.uid, file.gid, file.mode),
            ("app/key", 1000, 0, 0o400)
        );
        assert_eq!(spec.resources.pids_limit, None, "--limit-pids 0: unlimited");
        assert!(spec.seccomp_unconfined);
        task.task.spec.pids_limit = Some(100);
        assert_eq!(
            container_spec(&task).unwrap().resources.pids_limit,
            Some(100)
        );
    }

    #[test]
    fn no_args_keeps_the_image_cmd() {
        let mut task = assigned(&[], Vec::new());
        task.task.spec.args.clear();
        assert_eq!(container_spec(&task).unwrap().args, None);
    }

    #[test]
    fn a_missing_secret_or_image_rejects_the_task() {
        let err = container_spec(&assigned(&["pw"], Vec::new())).unwrap_err();
        assert_eq!(
            create_failure(&err),
            (TaskState::Rejected, "secret not found: pw".to_owned())
        );
        let missing = AgentError::Runtime(RuntimeError::Image(ImageError::NotFound {
            reference: "nginx:1".to_owned(),
        }));
        assert_eq!(
            create_failure(&missing),
            (TaskState::Rejected, "No such image: nginx:1".to_owned())
        );
    }
}
