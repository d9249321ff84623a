//! End-to-end checks of the lab harness itself (needs root and iproute2).

use std::path::Path;

use shoal_netns_tests::lab::cmd::{nsenter_net_command, output};
use shoal_netns_tests::lab::{Lab, LabId, lab_netns, list_labs, pin_dir};

fn netns_of(id: &LabId) -> Vec<String> {
    lab_netns(id).expect("ip netns list")
}

#[test]
fn three_nodes_and_a_client_share_the_underlay() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(3).build().unwrap();
    let id = lab.id().clone();
    assert_eq!(netns_of(&id).len(), 4, "switch + 3 nodes");
    assert!(list_labs().unwrap().contains(&id));

    let n1 = lab.node(1).unwrap();
    let n3 = lab.node(3).unwrap();
    assert_eq!(n1.name(), format!("{id}-n1"));
    assert_eq!(n3.addr().to_string(), "198.18.0.13");
    assert!(n1.state_dir().is_dir());
    n1.ping(n3.addr()).unwrap();

    // No route out: only the connected underlay subnet.
    let routes = n1.exec(&["ip", "-4", "route"]).unwrap();
    assert!(
        !routes.contains("default"),
        "unexpected default route: {routes}"
    );

    let err = n1.exec(&["sh", "-c", "echo nope >&2; exit 7"]).unwrap_err();
    assert_eq!(err.exit_code(), Some(7));

    let n2_addr = lab.node(2).unwrap().addr();
    let client = lab.add_client("c1").unwrap();
    assert_eq!(client.addr().to_string(), "198.18.0.201");
    client.ping(n2_addr).unwrap();
    // Clients get no state beyond the underlay; `sh` runs scripts in them too.
    assert_eq!(
        client
            .sh("ip -4 -o addr show dev eth0 | wc -l")
            .unwrap()
            .trim(),
        "1"
    );

    let state_root = id.state_root();
    drop(lab);
    assert!(
        netns_of(&id).is_empty(),
        "namespaces left: {:?}",
        netns_of(&id)
    );
    assert!(!state_root.exists());
}

#[test]
fn spawned_processes_die_with_the_lab() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let lab = Lab::builder().nodes(2).build().unwrap();
    let n1 = lab.node(1).unwrap();
    let server = n1
        .spawn(&["socat", "TCP-LISTEN:7000,reuseaddr,fork", "EXEC:cat"])
        .unwrap();
    let n2 = lab.node(2).unwrap();
    let target = format!("{}:7000", n1.addr());
    let reply = n2
        .sh(&format!("for i in 1 2 3 4 5 6 7 8 9 10; do echo hi | socat -T2 - TCP:{target} && exit 0; sleep 0.2; done; exit 1"))
        .unwrap();
    assert_eq!(reply.trim(), "hi");
    let proc_dir = format!("/proc/{}", server.pid);
    assert!(Path::new(&proc_dir).exists());
    drop(lab);
    assert!(
        !Path::new(&proc_dir).exists(),
        "spawned process survived the lab"
    );
}

#[test]
fn a_panicking_test_still_cleans_up() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let lab = Lab::builder().nodes(2).build().unwrap();
        tx.send(lab.id().clone()).unwrap();
        panic!("deliberate panic inside a lab test");
    })
    .join();
    assert!(result.is_err());
    let id = rx.recv().unwrap();
    assert!(
        netns_of(&id).is_empty(),
        "namespaces left: {:?}",
        netns_of(&id)
    );
    assert!(!id.state_root().exists());
}

#[test]
fn persistent_labs_can_be_attached_and_torn_down() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    let mut lab = Lab::builder().nodes(2).build().unwrap();
    lab.add_client("cli").unwrap();
    let id = lab.into_persistent();
    assert_eq!(netns_of(&id).len(), 4);

    let attached = Lab::attach(&id).unwrap();
    assert_eq!(attached.nodes().len(), 2);
    assert_eq!(attached.node(2).unwrap().addr().to_string(), "198.18.0.12");
    let client = attached.member_by_name("cli").unwrap();
    assert_eq!(client.addr().to_string(), "198.18.0.201");
    drop(attached);
    assert_eq!(netns_of(&id).len(), 4, "attach must not tear down on drop");

    Lab::attach(&id).unwrap().teardown().unwrap();
    assert!(netns_of(&id).is_empty());
    assert!(!id.state_root().exists());
}

#[test]
fn pins_are_removed_and_shoal_sees_host_bpffs() {
    if !shoal_netns_tests::require_root() {
        return;
    }
    // bpffs is mounted by whoever first needs it; on a fresh machine that may be us.
    shoal_dataplane::pins::ensure_bpffs(Path::new("/sys/fs/bpf")).unwrap();
    let lab = Lab::builder().nodes(1).build().unwrap();
    let node = lab.node(1).unwrap();
    let pins = pin_dir(node.name());
    std::fs::create_dir_all(pins.join("maps")).unwrap();
    // `shoal` runs like this: in the node's netns, but with the host's /sys/fs/bpf.
    let probe = format!("ip -br link show eth0 && test -d {}", pins.display());
    let cmd = nsenter_net_command(node.name(), &["sh", "-c", &probe]).unwrap();
    assert!(output(cmd).unwrap().starts_with("eth0"));
    assert!(
        node.shoal_command(&["--version"])
            .get_args()
            .any(|a| a == "--version")
    );
    drop(lab);
    assert!(!pins.exists(), "pins left at {}", pins.display());
}
