//! The embedded DNS resolver: every task asks 127.0.0.11:53 (its
//! `/etc/resolv.conf` says so), inside its own network namespace, where
//! the agent has bound a UDP and a TCP socket for it.
//!
//! - `records`: the cluster's names per network, from the assignment;
//! - `answer`: one query → a local answer, or forward (hickory-proto);
//! - `upstream`: forwarding to the node's resolvers, UDP and TCP;
//! - `server`: one task's listeners; `bind`: making them in its netns;
//! - `files`: the task's `/etc/resolv.conf`, `/etc/hosts`, `/etc/hostname`.
//!
//! [`Dns::sync`] runs in every reconcile pass: the records are swapped
//! whole for each new assignment (nothing is patched, so nothing goes
//! stale), and listeners follow the node's live containers.

mod answer;
mod bind;
pub(crate) mod files;
mod records;
mod server;
mod upstream;

pub use bind::RESOLVER_IP;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use records::Records;
use shoal_model::assignment::Assignment;

/// Why a task's resolver could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The task's network namespace could not be entered.
    #[error("cannot enter network namespace {}", path.display())]
    Netns {
        /// The namespace's path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// 127.0.0.11:53 could not be bound in it.
    #[error("cannot bind 127.0.0.11:53 in {}", path.display())]
    Bind {
        /// The namespace's path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The binding thread panicked.
    #[error("the thread binding the resolver's sockets panicked")]
    BindPanicked,
}

/// A task's listeners: served until dropped.
struct Listener {
    netns: PathBuf,
    _serving: JoinSet<()>,
}

/// The node's resolver: records and the listeners of its live tasks.
pub(crate) struct Dns {
    records: watch::Sender<Arc<Records>>,
    version: Option<u64>,
    upstreams: Arc<[SocketAddr]>,
    listeners: HashMap<String, Listener>,
    /// The last setup error per task (logged once, not every pass).
    errors: HashMap<String, String>,
}

impl Dns {
    /// A resolver forwarding to `upstreams`.
    pub(crate) fn new(upstreams: Vec<SocketAddr>) -> Dns {
        Dns {
            records: watch::Sender::new(Arc::default()),
            version: None,
            upstreams: upstreams.into(),
            listeners: HashMap::new(),
            errors: HashMap::new(),
        }
    }

    /// Brings the records up to `assignment` and the listeners to the
    /// tasks in `live` (task ID, netns path): new ones bound, gone ones
    /// closed.
    pub(crate) async fn sync(&mut self, assignment: &Assignment, live: &[(String, PathBuf)]) {
        if self.version != Some(assignment.version) {
            self.records
                .send_replace(Arc::new(Records::build(assignment)));
            self.version = Some(assignment.version);
        }
        let records = self.records.borrow().clone();
        let wanted: HashMap<&str, &Path> = live
            .iter()
            .filter(|(id, _)| records.has_caller(id))
            .map(|(id, netns)| (id.as_str(), netns.as_path()))
            .collect();
        self.listeners
            .retain(|id, l| wanted.get(id.as_str()) == Some(&l.netns.as_path()));
        self.errors.retain(|id, _| wanted.contains_key(id.as_str()));
        for (id, netns) in wanted {
            if !self.listeners.contains_key(id) {
                let upstreams = self.upstreams_of(assignment, id);
                self.listen(id, netns, upstreams).await;
            }
        }
    }

    /// Where task `id`'s outside names go: its `--dns` servers (port 53),
    /// else the node's resolvers.
    fn upstreams_of(&self, assignment: &Assignment, id: &str) -> Arc<[SocketAddr]> {
        let own: Vec<SocketAddr> = assignment
            .tasks
            .iter()
            .find(|t| t.task.id == id)
            .map(|t| t.task.spec.container.dns_nameservers.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|ip| SocketAddr::new(ip, 53))
            .collect();
        if own.is_empty() {
            self.upstreams.clone()
        } else {
            own.into()
        }
    }

    async fn listen(&mut self, task_id: &str, netns: &Path, upstreams: Arc<[SocketAddr]>) {
        let path = netns.to_owned();
        let bound = tokio::task::spawn_blocking(move || bind::bind_in(&path))
            .await
            .unwrap_or(Err(DnsError::BindPanicked));
        let context = server::Context {
            task_id: task_id.to_owned(),
            records: self.records.subscribe(),
            upstreams,
        };
        let served = bound.and_then(|(udp, tcp)| {
            server::serve(udp, tcp, context).map_err(|source| DnsError::Bind {
                path: netns.to_owned(),
                source,
            })
        });
        match served {
            Ok(serving) => {
                self.errors.remove(task_id);
                self.listeners.insert(
                    task_id.to_owned(),
                    Listener {
                        netns: netns.to_owned(),
                        _serving: serving,
                    },
                );
            }
            Err(err) => {
                let message = shoal_model::error_chain::full_message(&err);
                if self.errors.get(task_id) != Some(&message) {
                    log::warn!("dns for task {task_id}: {message}");
                    self.errors.insert(task_id.to_owned(), message);
                }
            }
        }
    }
}

/// The nameservers of a resolv.conf text (port 53), in order: the node's
/// upstream resolvers unless the daemon is given others.
pub fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|addr| addr.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_come_from_resolv_conf_in_order() {
        let text = "# c\nsearch lab\nnameserver 198.18.9.1\nnameserver  ::1\nnameserver bogus\noptions ndots:1\n";
        assert_eq!(
            nameservers(text),
            [
                "198.18.9.1:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }
}
