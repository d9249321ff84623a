//! One simulated node of `cargo xtask bench scale`: a real join (its own
//! key, a CSR, the certificate the CA issues), then what a worker's daemon
//! does on the control RPC, without containers: a heartbeat each second,
//! the assignment long poll, and its tasks' states reported as the agent
//! reports them (preparing, starting, running; shutdown when told to stop).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use shoal_ctl::{
    ALPN_CTL, ASSIGNMENT_WAIT, CtlError, CtlPool, CtlRequest, HeartbeatAck, HeartbeatReport,
    JoinGrant, JoinRpc, TaskReport, bootstrap_call,
};
use shoal_model::assignment::Assignment;
use shoal_model::assignment_update::AssignmentUpdate;
use shoal_model::node::NodeResources;
use shoal_model::spec::{TaskState, TaskStatus, Timestamp};
use shoal_security::ca::{CaCert, CaDigest, NodeCertificate, NodeKey};
use shoal_security::tls::client_config;

use super::scale_stats::Fleet;

/// The version simulated nodes report (the workspace's, as a real node's).
const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// How often a node reports until an answer gives the swarm's period, as
/// a daemon does.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Patience for a join (the leader writes the node and issues its
/// certificate) and for other calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Slack on top of the manager's long-poll wait, as the agent allows.
const ASSIGNMENT_MARGIN: Duration = Duration::from_secs(5);
/// How long a delivered running report is trusted before it is sent again
/// while the assignment does not show it yet (the agent's `RESEND_AFTER`).
const RESEND_AFTER: Duration = Duration::from_secs(10);
/// Joins tried before a node gives up.
const JOIN_ATTEMPTS: usize = 5;

/// What a simulated node needs to join.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    /// The worker join token.
    pub token: String,
    /// The CA digest in the token, pinned for the join.
    pub ca_digest: CaDigest,
    /// The manager it joins through.
    pub manager: String,
    /// Its hostname.
    pub hostname: String,
    /// Its advertised address (`IP:port`).
    pub advertise: String,
}

/// A joined node: its mTLS connections and the managers it knows.
struct Session {
    pool: CtlPool,
    /// Leader first once a heartbeat named it, as a daemon keeps them.
    managers: Mutex<Vec<String>>,
    /// Expiry of its certificate, reported in heartbeats.
    cert_not_after: i64,
}

/// Runs node `plan` until the runtime stops: joins, then beats and follows
/// its assignment.
pub async fn run(plan: JoinPlan, fleet: Arc<Fleet>) {
    let session = match join_with_retries(&plan, &fleet).await {
        Ok(session) => Arc::new(session),
        Err(err) => {
            fleet.join_failed(&format!("{err:#}"));
            return;
        }
    };
    fleet.joined();
    let beats = tokio::spawn(heartbeats(session.clone(), fleet.clone()));
    follow_assignments(&session, &fleet).await;
    beats.abort();
}

async fn join_with_retries(plan: &JoinPlan, fleet: &Fleet) -> Result<Session> {
    let mut last = None;
    for attempt in 0..JOIN_ATTEMPTS {
        let _permit = fleet.join_permit().await;
        match join(plan).await {
            Ok(session) => return Ok(session),
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(500) * (attempt as u32 + 1)).await;
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no join attempted")))
}

/// A real join: key, CSR, the grant's certificate checked against the
/// pinned CA, and an mTLS client configuration for everything after.
async fn join(plan: &JoinPlan) -> Result<Session> {
    let key = NodeKey::generate()?;
    let rpc = JoinRpc {
        token: plan.token.clone(),
        csr_der: key.csr_der("joining-node")?,
        hostname: plan.hostname.clone(),
        advertise_addr: Some(plan.advertise.clone()),
        listen_port: 2377,
        engine_version: ENGINE_VERSION.to_owned(),
        wireguard: None,
    };
    let value = bootstrap_call(
        &plan.manager,
        plan.ca_digest,
        &CtlRequest::Join(rpc),
        CALL_TIMEOUT,
    )
    .await?;
    let grant: JoinGrant = serde_json::from_value(value).context("join grant")?;
    let ca = CaCert::from_pem(&grant.ca_pem)?;
    if ca.digest() != plan.ca_digest {
        bail!("the grant's CA is not the token's");
    }
    let der = CertificateDer::from_pem_slice(grant.cert_pem.as_bytes())
        .context("the granted certificate")?;
    let cert = NodeCertificate::from_der(der.to_vec());
    let cert_not_after = cert.identity()?.not_after.unix_timestamp();
    let mut config = (*client_config(&ca, &cert, &key)?).clone();
    config.alpn_protocols = vec![ALPN_CTL.to_vec()];
    let mut managers = vec![plan.manager.clone()];
    managers.extend(grant.managers.into_iter().filter(|m| *m != plan.manager));
    Ok(Session {
        pool: CtlPool::new(Arc::new(config)),
        managers: Mutex::new(managers),
        cert_not_after,
    })
}

impl Session {
    /// Sends `request` to the first manager that answers, as a daemon's
    /// `call_managers` does (a retryable failure tries the next).
    async fn call(&self, request: &CtlRequest, timeout: Duration) -> Result<serde_json::Value> {
        let managers = self
            .managers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut last: Option<CtlError> = None;
        for addr in &managers {
            match self.pool.call(addr, request, timeout).await {
                Ok(value) => return Ok(value),
                Err(err) if err.is_retryable() => last = Some(err),
                Err(err) => return Err(err.into()),
            }
        }
        Err(last.map_or_else(|| anyhow::anyhow!("no manager"), Into::into))
    }

    /// Keeps the managers leader first, from a heartbeat's answer.
    fn remember(&self, ack: HeartbeatAck) {
        let mut managers: Vec<String> = ack.leader_addr.into_iter().collect();
        for m in ack.managers {
            if !managers.contains(&m) {
                managers.push(m);
            }
        }
        if !managers.is_empty() {
            *self.managers.lock().unwrap_or_else(PoisonError::into_inner) = managers;
        }
    }
}

/// A heartbeat each second, with a capacity of 4 CPUs and 8 GiB.
async fn heartbeats(session: Arc<Session>, fleet: Arc<Fleet>) {
    let resources = NodeResources {
        nano_cpus: 4_000_000_000,
        memory_bytes: 8 << 30,
    };
    let mut period = HEARTBEAT_INTERVAL;
    loop {
        let request = CtlRequest::Heartbeat(HeartbeatReport {
            engine_version: ENGINE_VERSION.to_owned(),
            cert_not_after: session.cert_not_after,
            resources: Some(resources),
        });
        let ack = session
            .call(&request, CALL_TIMEOUT)
            .await
            .and_then(|v| serde_json::from_value::<HeartbeatAck>(v).context("heartbeat ack"));
        match ack {
            Ok(ack) => {
                period = ack
                    .heartbeat_period_ms
                    .map_or(HEARTBEAT_INTERVAL, Duration::from_millis);
                session.remember(ack);
            }
            Err(_) => fleet.heartbeat_failed(),
        }
        tokio::time::sleep(period).await;
    }
}

/// What the node knows of its tasks.
#[derive(Default)]
struct Tasks {
    /// Tasks seen in an assignment at least once.
    seen: HashSet<String>,
    /// When a running (or shutdown) report of a task was acknowledged.
    delivered: HashMap<String, (TaskState, Instant)>,
}

/// The long poll: each new assignment is acted on as the agent would.
async fn follow_assignments(session: &Session, fleet: &Fleet) {
    let mut held: Option<Assignment> = None;
    let mut tasks = Tasks::default();
    loop {
        let known = held.as_ref().map(|a| a.version);
        let request = CtlRequest::Assignments { known };
        let answer = session
            .call(&request, ASSIGNMENT_WAIT + ASSIGNMENT_MARGIN)
            .await
            .and_then(|v| serde_json::from_value::<AssignmentUpdate>(v).context("assignment"))
            .and_then(|update| update.apply(held.as_ref()).context("assignment update"));
        match answer {
            Ok(assignment) => {
                fleet.assignment_received();
                act_on(session, fleet, &mut tasks, &assignment).await;
                held = Some(assignment);
            }
            Err(_) => {
                // The next poll asks for the whole assignment.
                held = None;
                fleet.assignment_failed();
                tokio::time::sleep(HEARTBEAT_INTERVAL).await;
            }
        }
    }
}

/// Notes new tasks, then reports the states the assignment does not show
/// yet: a task to run goes preparing → starting → running (three batches,
/// as a fast agent sends them), a task to stop goes to shutdown.
async fn act_on(session: &Session, fleet: &Fleet, tasks: &mut Tasks, assignment: &Assignment) {
    let now = Instant::now();
    let mut start = Vec::new();
    let mut stop = Vec::new();
    for assigned in &assignment.tasks {
        let task = &assigned.task;
        if tasks.seen.insert(task.id.clone()) {
            fleet.task_seen(&assigned.name, now);
        }
        let want = match task.desired_state {
            TaskState::Running => TaskState::Running,
            _ => TaskState::Shutdown,
        };
        let recent = tasks
            .delivered
            .get(&task.id)
            .is_some_and(|(state, at)| *state == want && at.elapsed() < RESEND_AFTER);
        if task.status.state == want || recent || task.status.state.is_terminal() {
            continue;
        }
        match want {
            TaskState::Running => start.push(task.id.clone()),
            _ => stop.push(task.id.clone()),
        }
    }
    let ids: HashSet<&str> = assignment
        .tasks
        .iter()
        .map(|t| t.task.id.as_str())
        .collect();
    tasks.delivered.retain(|id, _| ids.contains(id.as_str()));
    tasks.seen.retain(|id| ids.contains(id.as_str()));
    if !start.is_empty() {
        let steps = [
            (TaskState::Preparing, "preparing"),
            (TaskState::Starting, "starting"),
            (TaskState::Running, "started"),
        ];
        if report_steps(session, fleet, &start, &steps).await {
            fleet.running_acknowledged(start.len());
            mark(tasks, &start, TaskState::Running);
        }
    }
    if !stop.is_empty()
        && report_steps(session, fleet, &stop, &[(TaskState::Shutdown, "shutdown")]).await
    {
        mark(tasks, &stop, TaskState::Shutdown);
    }
}

fn mark(tasks: &mut Tasks, ids: &[String], state: TaskState) {
    let now = Instant::now();
    for id in ids {
        tasks.delivered.insert(id.clone(), (state, now));
    }
}

/// Sends one batch per step for `ids`; false if any failed (the next
/// assignment still shows the old state and they are sent again).
async fn report_steps(
    session: &Session,
    fleet: &Fleet,
    ids: &[String],
    steps: &[(TaskState, &str)],
) -> bool {
    for (state, message) in steps {
        let reports = ids
            .iter()
            .map(|id| TaskReport {
                task_id: id.clone(),
                status: TaskStatus {
                    state: *state,
                    message: (*message).to_owned(),
                    err: None,
                    timestamp: now_timestamp(),
                },
            })
            .collect();
        if session
            .call(&CtlRequest::TaskStatus(reports), CALL_TIMEOUT)
            .await
            .is_err()
        {
            fleet.report_failed();
            return false;
        }
    }
    true
}

/// The current time as tasks record it.
fn now_timestamp() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    Timestamp(millis)
}
