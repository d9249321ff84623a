//! Only managers of this cluster may make raft RPCs.

use std::time::Duration;

use openraft::network::RPCOption;
use openraft::{RaftNetwork, RaftNetworkFactory};

use super::cluster::{CLUSTER, TestCluster, fast_raft_config};
use crate::typ::{self, VoteRequest};
use crate::{NetworkFactory, PeerClient};
use shoal_security::ca::{
    CertValidity, DEFAULT_NODE_CERT_EXPIRY, DEFAULT_ROOT_EXPIRY, Role, RootCa,
};
use shoal_security::tls;

async fn client_for(ca: &RootCa, name: &str, role: Role, target_addr: String) -> PeerClient {
    let validity = CertValidity::from_now(DEFAULT_NODE_CERT_EXPIRY).expect("validity");
    let (key, cert) = ca.issue_with_new_key(name, role, validity).expect("issue");
    let client = tls::client_config(ca.cert(), &cert, &key).expect("client config");
    NetworkFactory::new(client)
        .new_client(1, &typ::Node::new(target_addr))
        .await
}

fn vote_for_term(term: u64) -> VoteRequest {
    VoteRequest::new(typ::Vote::new(term, 9), None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_and_strangers_cannot_make_raft_calls() {
    let mut cluster = TestCluster::new(fast_raft_config());
    cluster.start(1).await;
    cluster.node(1).initialize().await.expect("initialize");
    cluster.wait_leader(&[1]).await;
    let addr = cluster.node(1).addr().to_string();
    let option = RPCOption::new(Duration::from_secs(5));

    let mut worker = client_for(&cluster.ca, "worker-1", Role::Worker, addr.clone()).await;
    worker
        .vote(vote_for_term(100), option.clone())
        .await
        .expect_err("a worker may not vote");
    assert_eq!(
        cluster
            .node(1)
            .server()
            .stats()
            .denied
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    let other_ca = RootCa::create("othercluster", DEFAULT_ROOT_EXPIRY).expect("other CA");
    let mut stranger = client_for(&other_ca, "manager-9", Role::Manager, addr.clone()).await;
    stranger
        .vote(vote_for_term(200), option.clone())
        .await
        .expect_err("a manager of another cluster is refused in the handshake");

    assert!(
        cluster.node(1).metrics().current_term < 100,
        "no refused RPC reached raft"
    );

    // A manager of this cluster gets an answer (a refusal to vote for a
    // stale term is still an answer).
    let mut manager = client_for(&cluster.ca, "manager-5", Role::Manager, addr).await;
    let response = manager
        .vote(vote_for_term(0), option)
        .await
        .expect("a manager is served");
    assert!(!response.vote_granted);
    assert_eq!(CLUSTER, cluster.ca.cert().cluster_id());
    cluster.shutdown().await;
}
