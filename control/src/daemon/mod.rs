//! `shoal daemon`: one per node. It serves the REST/JSON API on a Unix
//! socket for the CLI, the control listener (control RPCs over mTLS and,
//! on managers, raft, split by ALPN) on the swarm's listen address, and
//! runs the node's agent (its tasks' containers and data plane).
//!
//! - [`core`]: the phases (in no swarm / locked / active) and handles;
//! - `boot`: start-up from the state directory, unlock, activation, the
//!   heartbeat loop and role changes;
//! - `swarm`: init, join, leave; `roles`: joining raft; `calls`: the JSON
//!   codec and reaching any manager;
//! - `leader`: running work on the raft leader, forwarding, quorum reports;
//! - `grant`: admitting joiners and renewing certificates; `renew`: the
//!   renewal loop; `heartbeat`: node liveness; `ops`: node and token changes;
//!   `service_ops`: service, network and secret changes and task reports
//!   (through [`crate::manager`]); `http_services`: their routes (`http_configs`: configs');
//! - `listener`: every node's control listener; `http`: the API; `keys`:
//!   the stored data key under autolock; `agent_link`: the agent's calls to
//!   the managers; `http_images`: the node's image routes; `http_api`: what
//!   the API's routes share; `lock`: one daemon per state directory;
//!   `supervise`: restarting failed background components; `metrics`:
//!   Prometheus metrics on `--metrics-addr`; `engine`: Docker's Engine API
//!   (its paths under `/v1.NN`, `/_ping`, `/version`, `/info`).

mod addr;
mod agent_link;
mod boot;
mod calls;
mod core;
mod engine;
mod error;
mod grant;
mod heartbeat;
mod http;
mod http_api;
mod http_configs;
mod http_images;
mod http_logs;
mod http_registry;
mod http_services;
mod http_volumes;
mod keys;
mod leader;
mod listener;
mod lock;
mod log_view;
mod metrics;
mod notify;
mod ops;
mod renew;
mod roles;
mod service_images;
mod service_ops;
mod state;
mod supervise;
mod swarm;
mod task_logs;
mod views;
mod wireguard;

pub use addr::DEFAULT_PORT;
pub use core::DaemonOptions;
pub use error::DaemonError;
pub use heartbeat::{DOWN_AFTER, ENGINE_VERSION, HEARTBEAT_INTERVAL};
pub use renew::renewal_due;
pub use state::{NodeState, StatePaths};

use std::os::unix::fs::PermissionsExt;

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn run(opts: DaemonOptions) -> Result<(), DaemonError> {
    std::fs::create_dir_all(&opts.state_dir)
        .map_err(DaemonError::io("create state directory", &opts.state_dir))?;
    std::fs::set_permissions(&opts.state_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(DaemonError::io("restrict", &opts.state_dir))?;
    // Before anything else is touched: a second daemon on this directory
    // must leave the first one's socket, containers and raft alone.
    let _lock = lock::StateLock::acquire(&opts.state_dir)?;
    if let Some(parent) = opts.socket.parent() {
        std::fs::create_dir_all(parent).map_err(DaemonError::io("create", parent))?;
    }
    match std::fs::remove_file(&opts.socket) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            return Err(DaemonError::io("remove stale socket", &opts.socket)(err));
        }
        _ => {}
    }
    let mut runtime_config = crate::runtime::RuntimeConfig::new(&opts.state_dir);
    // This very binary (even once a package upgrade replaced the file) is
    // every container's log shim.
    runtime_config.log_shim = Some("/proc/self/exe".into());
    let runtime = crate::runtime::Runtime::open(runtime_config)?;
    let daemon = core::Daemon::new(opts.clone(), std::sync::Arc::new(runtime));
    boot::boot(&daemon).await?;
    let listener = tokio::net::UnixListener::bind(&opts.socket)
        .map_err(DaemonError::io("bind API socket", &opts.socket))?;
    std::fs::set_permissions(&opts.socket, std::fs::Permissions::from_mode(0o660))
        .map_err(DaemonError::io("restrict", &opts.socket))?;
    let metrics = match opts.metrics_addr {
        Some(addr) => Some(metrics::serve(daemon.clone(), addr).await?),
        None => None,
    };
    log::info!("API listening on unix://{}", opts.socket.display());
    notify::tell(&format!(
        "READY=1\nSTATUS=API on unix://{}\nMAINPID={}",
        opts.socket.display(),
        std::process::id()
    ));
    axum::serve(listener, http::router(daemon.clone()))
        .with_graceful_shutdown(async {
            shutdown_signal().await;
            notify::tell("STOPPING=1");
        })
        .await
        .map_err(DaemonError::io("serve API on", &opts.socket))?;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    if let Ok(active) = daemon.active() {
        active.stop().await;
    }
    let _ = std::fs::remove_file(&opts.socket);
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
