//! The name files every task gets, as Docker writes them: resolv.conf
//! pointing at the embedded resolver, hosts with the task's own
//! addresses, hostname.

use shoal_model::spec::Task;

use super::RESOLVER_IP;

/// `/etc/resolv.conf`: the embedded resolver only; `ndots:0` so a dotted
/// name is tried as it is first (Docker's options for swarm tasks).
pub(crate) fn resolv_conf() -> String {
    format!("nameserver {RESOLVER_IP}\noptions ndots:0\n")
}

/// `/etc/hosts`: Docker's localhost lines, then one line per address of
/// the task with its hostname.
pub(crate) fn hosts(task: &Task, hostname: &str) -> String {
    let mut text = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for ip in task.networks.iter().filter_map(|a| a.ip) {
        text += &format!("{ip}\t{hostname}\n");
    }
    text
}

/// `/etc/hostname`.
pub(crate) fn hostname(hostname: &str) -> String {
    format!("{hostname}\n")
}
