//! [`Runtime`]: containers run by runc, one bundle directory each.
//!
//! ```text
//! <state>/containers/<id>/config.json   OCI runtime config (the bundle)
//!                        /rootfs        overlayfs: image layers + upper/work
//!                        /secrets       tmpfs bind-mounted at /run/secrets
//!                        /console.log   the container's stdout and stderr
//!                        /exit.json     how it ended
//!                        /meta.json     image reference and netns
//! <state>/runc/                         runc's own state (--root)
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{self, HostPaths};
use super::image::ImageStore;
use super::log_reader::LogPosition;
use super::reaper::Reaper;
use super::runc::{Output, Runc};
use super::spec::{Container, ContainerSpec, ContainerState, ExitStatus, Status};
use super::volumes::Volumes;
use super::{RuntimeError, netns, oom, rootfs, sys};

/// How long `delete` waits for a killed init to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a deleted container's log shim gets to write its last lines.
const SHIM_EXIT_WAIT: Duration = Duration::from_secs(2);
/// How long `state` waits for the status of a just-stopped container.
const STATUS_GRACE: Duration = Duration::from_secs(2);

/// Where a runtime keeps its state and which runc it uses.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// State directory (images/ and containers/ go below).
    pub state_dir: PathBuf,
    /// The runc binary.
    pub runc: PathBuf,
    /// runc's state root.
    pub runc_root: PathBuf,
    /// cgroup parent of every container (`<parent>/<id>` under each
    /// controller).
    pub cgroup_parent: String,
    /// The executable run as each container's log shim (`<exe> log-shim
    /// <log>`, [`crate::log_shim`]): the shoal binary in a daemon. Without
    /// one runc writes the log file itself, and lines carry no time or
    /// stream.
    pub log_shim: Option<PathBuf>,
}

impl RuntimeConfig {
    /// Defaults under `state_dir`: `runc` from PATH, its root in
    /// `<state_dir>/runc`, cgroups under `shoal/`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            state_dir: state_dir.to_owned(),
            runc: PathBuf::from("runc"),
            runc_root: state_dir.join("runc"),
            cgroup_parent: "shoal".to_owned(),
            log_shim: None,
        }
    }
}

/// What the runtime remembers about a container beyond runc's state.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    image: String,
    netns: PathBuf,
    netns_name: Option<String>,
    pid: u32,
    /// The named volumes it mounts (a volume in use cannot be removed).
    #[serde(default)]
    volumes: Vec<String>,
    /// The signal that stops it (SIGTERM when unset).
    #[serde(default)]
    stop_signal: Option<i32>,
    /// Its own grace period before SIGKILL, milliseconds.
    #[serde(default)]
    stop_grace_ms: Option<u64>,
    /// Its log shim's pid, when it has one.
    #[serde(default)]
    shim_pid: Option<u32>,
}

/// The container runtime of a node.
#[derive(Debug)]
pub struct Runtime {
    config: RuntimeConfig,
    images: ImageStore,
    runc: Runc,
    reaper: Arc<Reaper>,
    volumes: Volumes,
}

impl Runtime {
    /// Opens the runtime. Makes this process a child subreaper so that it
    /// can collect the exit status of the containers it starts.
    pub fn open(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        sys::set_child_subreaper().map_err(|source| RuntimeError::Subreaper { source })?;
        let images = ImageStore::open(&config.state_dir)?;
        for dir in [
            config.state_dir.join("containers"),
            config.runc_root.clone(),
        ] {
            fs::create_dir_all(&dir).map_err(RuntimeError::io("create", &dir))?;
        }
        Ok(Self {
            runc: Runc::new(config.runc.clone(), config.runc_root.clone()),
            volumes: Volumes::new(&config.state_dir),
            config,
            images,
            reaper: Arc::default(),
        })
    }

    /// The node's image store.
    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    /// The bundle directory of container `id`.
    pub fn bundle(&self, id: &str) -> PathBuf {
        self.config.state_dir.join("containers").join(id)
    }

    /// Creates a container: rootfs, secrets, netns, bundle, `runc create`.
    /// Its process exists but waits for [`Runtime::start`]; attach its
    /// network in between. On error nothing is left behind.
    pub fn create(&self, spec: &ContainerSpec) -> Result<Container, RuntimeError> {
        spec.validate()?;
        let bundle = self.bundle(&spec.id);
        if bundle.exists() || self.runc.exists(&spec.id) {
            return Err(RuntimeError::AlreadyExists {
                id: spec.id.clone(),
            });
        }
        let image = self.images.resolve(&spec.image)?;
        fs::create_dir_all(&bundle).map_err(RuntimeError::io("create", &bundle))?;
        let result = self.assemble(spec, &image, &bundle);
        if result.is_err() {
            // Best effort: the error that matters is the one returned.
            let _ = self.cleanup(&spec.id);
        }
        result
    }

    /// `runc create` with the container's output going to a new log shim
    /// (or straight to the log file without one): the init's pid and the
    /// shim's.
    fn runc_create(&self, id: &str, bundle: &Path) -> Result<(u32, Option<u32>), RuntimeError> {
        let log = bundle.join(crate::logs::LOG_FILE);
        let Some(exe) = &self.config.log_shim else {
            return Ok((self.runc.create(id, bundle, Output::File(&log))?, None));
        };
        let shim = crate::log_shim::spawn(exe, &log)?;
        // If runc fails, dropping the write ends ends the shim.
        let pid = self
            .runc
            .create(id, bundle, Output::Pipes(shim.stdout, shim.stderr))?;
        Ok((pid, Some(shim.pid)))
    }

    fn assemble(
        &self,
        spec: &ContainerSpec,
        image: &super::image::Image,
        bundle: &Path,
    ) -> Result<Container, RuntimeError> {
        rootfs::mount_overlay(bundle, &image.layers)?;
        let volumes = self.prepare_mounts(spec, bundle)?;
        let secrets = rootfs::mount_secrets(bundle, &spec.secrets)?;
        let files = rootfs::write_files(bundle, &spec.files)?;
        let (netns, netns_name) = match &spec.netns {
            Some(path) => (path.clone(), None),
            None => {
                let name = netns::netns_name(&spec.id);
                (netns::create(&name)?, Some(name))
            }
        };
        let host = HostPaths {
            secrets: secrets.as_deref(),
            files: &files,
            volumes: &volumes,
            netns: &netns,
            cgroup: self.cgroup(&spec.id),
            rootfs: &bundle.join("rootfs"),
        };
        let oci = config::build(spec, image, &host)?;
        let json = serde_json::to_vec_pretty(&oci).map_err(RuntimeError::json("config.json"))?;
        let config_path = bundle.join("config.json");
        fs::write(&config_path, json).map_err(RuntimeError::io("write", &config_path))?;
        let (pid, shim_pid) = self.runc_create(&spec.id, bundle)?;
        self.reaper.watch(&spec.id, pid, bundle.join("exit.json"))?;
        let meta = Meta {
            image: spec.image.clone(),
            netns: netns.clone(),
            netns_name: netns_name.clone(),
            pid,
            volumes: spec.volumes.iter().map(|v| v.name.clone()).collect(),
            stop_signal: spec
                .stop_signal
                .as_deref()
                .map(super::process::signal)
                .transpose()?,
            stop_grace_ms: spec
                .stop_grace
                .map(|g| u64::try_from(g.as_millis()).unwrap_or(u64::MAX)),
            shim_pid,
        };
        let meta_path = bundle.join("meta.json");
        let json = serde_json::to_vec(&meta).map_err(RuntimeError::json("meta.json"))?;
        fs::write(&meta_path, json).map_err(RuntimeError::io("write", &meta_path))?;
        Ok(Container {
            id: spec.id.clone(),
            pid,
            netns,
            netns_name,
            bundle: bundle.to_owned(),
        })
    }

    /// Starts a created container's process.
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.meta(id)?;
        self.runc.start(id)
    }

    /// [`Runtime::create`] then [`Runtime::start`].
    pub fn run(&self, spec: &ContainerSpec) -> Result<Container, RuntimeError> {
        let container = self.create(spec)?;
        self.start(&container.id)?;
        Ok(container)
    }

    /// Checks bind sources and makes the spec's volumes ready (a volume
    /// created now gets the image's files at its target, unless
    /// `no_copy`); their data directories, in the spec's order.
    fn prepare_mounts(
        &self,
        spec: &ContainerSpec,
        bundle: &Path,
    ) -> Result<Vec<PathBuf>, RuntimeError> {
        if let Some(bind) = spec.mounts.iter().find(|b| !b.source.exists()) {
            return Err(RuntimeError::BindSourceMissing {
                path: bind.source.clone(),
            });
        }
        let mut paths = Vec::with_capacity(spec.volumes.len());
        for volume in &spec.volumes {
            let (data, created) = self.volumes.ensure(&volume.name)?;
            if created && !volume.no_copy {
                let in_image = bundle.join("rootfs").join(&volume.target[1..]);
                self.volumes
                    .copy_up(&volume.name, &in_image, &volume.target)?;
            }
            paths.push(data);
        }
        Ok(paths)
    }

    /// The node's named volumes.
    pub fn volumes(&self) -> &Volumes {
        &self.volumes
    }

    /// Removes volume `name`, unless a container on the node mounts it.
    pub fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        let users = self
            .list()?
            .into_iter()
            .filter(|c| {
                self.meta(&c.id)
                    .is_ok_and(|m| m.volumes.iter().any(|v| v == name))
            })
            .map(|c| c.id)
            .collect();
        Ok(self.volumes.remove(name, users)?)
    }

    /// Container `id`'s cgroup path, relative to each controller's root.
    fn cgroup(&self, id: &str) -> String {
        format!("/{}/{id}", self.config.cgroup_parent)
    }

    fn meta(&self, id: &str) -> Result<Meta, RuntimeError> {
        let path = self.bundle(id).join("meta.json");
        let bytes = fs::read(&path).map_err(|_| RuntimeError::NotFound { id: id.to_owned() })?;
        serde_json::from_slice(&bytes).map_err(RuntimeError::json(path.display().to_string()))
    }

    /// The state of container `id`: runc's status and pid, and the exit
    /// status once stopped.
    pub fn state(&self, id: &str) -> Result<ContainerState, RuntimeError> {
        let meta = self.meta(id)?;
        let runc = self.runc.state(id)?;
        let status = runc.as_ref().map_or(Status::Stopped, |s| s.status);
        let pid = runc
            .as_ref()
            .filter(|_| status != Status::Stopped)
            .and_then(|s| u32::try_from(s.pid).ok())
            .filter(|pid| *pid != 0);
        let exit = if status == Status::Stopped {
            self.exit_status(id, STATUS_GRACE)
        } else {
            None
        };
        let oom_killed = status == Status::Stopped && oom::oom_killed(&self.cgroup(id));
        Ok(ContainerState {
            id: id.to_owned(),
            image: meta.image,
            status,
            pid,
            exit,
            oom_killed,
            netns: meta.netns,
        })
    }

    fn exit_status(&self, id: &str, timeout: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.reaper.wait(id, timeout) {
            return status;
        }
        let bytes = fs::read(self.bundle(id).join("exit.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Waits up to `timeout` for container `id` to stop; its exit status,
    /// or `None` if it still runs (or ended unobserved).
    pub fn wait(&self, id: &str, timeout: Duration) -> Result<Option<ExitStatus>, RuntimeError> {
        self.meta(id)?;
        Ok(self.exit_status(id, timeout))
    }

    /// Runs `argv` inside running container `id` (a health check) and
    /// returns its exit code; an error if it did not end within `timeout`.
    pub fn exec(&self, id: &str, argv: &[String], timeout: Duration) -> Result<i32, RuntimeError> {
        self.meta(id)?;
        if argv.is_empty() {
            return Err(RuntimeError::InvalidSpec {
                field: "exec command",
                value: String::new(),
                reason: "empty",
            });
        }
        let pid_file = self
            .bundle(id)
            .join(format!("exec-{:016x}.pid", rand::random::<u64>()));
        self.runc.exec(id, argv, timeout, &pid_file)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the container's init.
    pub fn kill(&self, id: &str, signal: i32) -> Result<(), RuntimeError> {
        self.meta(id)?;
        self.runc.kill(id, signal)
    }

    /// Its stop signal (SIGTERM unless the spec named another), then
    /// SIGKILL if it still runs after its own grace period (else `grace`).
    pub fn stop(&self, id: &str, grace: Duration) -> Result<Option<ExitStatus>, RuntimeError> {
        if self.state(id)?.status == Status::Stopped {
            return Ok(self.exit_status(id, Duration::ZERO));
        }
        let meta = self.meta(id)?;
        let grace = meta.stop_grace_ms.map_or(grace, Duration::from_millis);
        self.kill(id, meta.stop_signal.unwrap_or(libc::SIGTERM))?;
        if let Some(status) = self.wait(id, grace)? {
            return Ok(Some(status));
        }
        if self.state(id)?.status != Status::Stopped {
            self.kill(id, libc::SIGKILL)?;
        }
        self.wait(id, REAP_TIMEOUT)
    }

    /// The container's output kept so far (stdout and stderr interleaved;
    /// at most about twice [`crate::logs::LOG_MAX_BYTES`]).
    pub fn logs(&self, id: &str) -> Result<Vec<u8>, RuntimeError> {
        crate::logs::read(&self.log_dir(id)?)
    }

    /// Where deleted containers' logs are kept.
    fn kept_logs(&self) -> PathBuf {
        self.config.state_dir.join("logs")
    }

    /// Where container `id`'s logs are: its bundle while it exists, then
    /// the kept copy ([`crate::logs::keep`]).
    fn log_dir(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        if self.meta(id).is_ok() {
            return Ok(self.bundle(id));
        }
        let kept = self.kept_logs().join(id);
        if super::spec::relative_clean(id) && kept.join(crate::logs::LOG_FILE).exists() {
            return Ok(kept);
        }
        Err(RuntimeError::NotFound { id: id.to_owned() })
    }

    /// The last `lines` lines of a container's logs (all when `None`) and
    /// the position after them ([`crate::log_reader::tail`]).
    pub fn logs_tail(
        &self,
        id: &str,
        lines: Option<usize>,
    ) -> Result<(Vec<u8>, LogPosition), RuntimeError> {
        crate::log_reader::tail(&self.log_dir(id)?, lines)
    }

    /// Up to `max` bytes of whole lines a container logged after
    /// `position`, and the position after them
    /// ([`crate::log_reader::read_since`]).
    pub fn logs_since(
        &self,
        id: &str,
        position: LogPosition,
        max: usize,
    ) -> Result<(Vec<u8>, LogPosition), RuntimeError> {
        crate::log_reader::read_since(&self.log_dir(id)?, position, max)
    }

    /// Rotates every container's log that passed `max_bytes`
    /// ([`crate::logs::rotate`]); returns how many it rotated.
    pub fn rotate_logs(&self, max_bytes: u64) -> Result<usize, RuntimeError> {
        let mut rotated = 0;
        for container in self.list()? {
            rotated += usize::from(crate::logs::rotate(&self.bundle(&container.id), max_bytes)?);
        }
        Ok(rotated)
    }

    /// Every container of this runtime, by id.
    pub fn list(&self) -> Result<Vec<ContainerState>, RuntimeError> {
        let dir = self.config.state_dir.join("containers");
        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir).map_err(RuntimeError::io("list", &dir))? {
            let entry = entry.map_err(RuntimeError::io("list", &dir))?;
            ids.push(entry.file_name().to_string_lossy().into_owned());
        }
        ids.sort();
        ids.iter()
            .filter(|id| self.bundle(id).join("meta.json").exists())
            .map(|id| self.state(id))
            .collect()
    }

    /// Deletes a container whatever its state: kills it, `runc delete`,
    /// unmounts, removes its netns (if the runtime made it) and bundle.
    pub fn delete(&self, id: &str) -> Result<(), RuntimeError> {
        if !self.bundle(id).exists() && !self.runc.exists(id) {
            return Err(RuntimeError::NotFound { id: id.to_owned() });
        }
        self.cleanup(id)
    }

    /// Every teardown step, each tried even if an earlier one failed; the
    /// first error is returned.
    fn cleanup(&self, id: &str) -> Result<(), RuntimeError> {
        let bundle = self.bundle(id);
        let mut first = self.runc.delete(id).err();
        if self.reaper.watches(id) {
            self.reaper.wait(id, REAP_TIMEOUT);
            self.reaper.forget(id);
        }
        let mut note = |r: Result<(), RuntimeError>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        note(rootfs::unmount(&bundle));
        if let Some(name) = self.meta(id).ok().and_then(|m| m.netns_name) {
            note(netns::delete(&name));
        } else {
            // A create that failed before recording its netns: the name is
            // derived from the id and only this runtime uses it.
            note(netns::delete(&netns::netns_name(id)));
        }
        if let Some(pid) = self.meta(id).ok().and_then(|m| m.shim_pid) {
            // The container's processes are gone: its shim writes the last
            // lines and ends; wait for it so the kept log is whole.
            let deadline = std::time::Instant::now() + SHIM_EXIT_WAIT;
            let alive = || i32::try_from(pid).is_ok_and(sys::pid_alive);
            while alive() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if bundle.exists() {
            note(crate::logs::keep(&bundle, &self.kept_logs(), id));
            note(fs::remove_dir_all(&bundle).map_err(RuntimeError::io("remove", &bundle)));
        }
        first.map_or(Ok(()), Err)
    }
}
