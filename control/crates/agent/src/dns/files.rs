//! The name files every task gets, as Docker writes them: resolv.conf
//! pointing at the embedded resolver, hosts with the task's own
//! addresses and its `--host` lines, hostname.

use shoal_model::spec::{ContainerOptions, Task};

use super::RESOLVER_IP;

/// `/etc/resolv.conf`: the embedded resolver only (it forwards outside
/// names to the task's `--dns` servers, else the node's); the task's
/// search domains; `ndots:0` so a dotted name is tried as it is first
/// (Docker's options for swarm tasks) unless the task sets its own, then
/// its `--dns-option`s.
pub(crate) fn resolv_conf(options: &ContainerOptions) -> String {
    let mut text = String::new();
    if !options.dns_search.is_empty() {
        text += &format!("search {}\n", options.dns_search.join(" "));
    }
    text += &format!("nameserver {RESOLVER_IP}\n");
    let mut opts: Vec<&str> = Vec::new();
    if !options.dns_options.iter().any(|o| o.starts_with("ndots:")) {
        opts.push("ndots:0");
    }
    opts.extend(options.dns_options.iter().map(String::as_str));
    text += &format!("options {}\n", opts.join(" "));
    text
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
    for line in &task.spec.container.hosts {
        let mut words = line.split_whitespace();
        let ip = words.next().unwrap_or_default();
        text += &format!("{ip}\t{}\n", words.collect::<Vec<_>>().join(" "));
    }
    text
}

/// `/etc/hostname`.
pub(crate) fn hostname(hostname: &str) -> String {
    format!("{hostname}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_keeps_the_embedded_resolver_and_adds_the_tasks_options() {
        assert_eq!(
            resolv_conf(&ContainerOptions::default()),
            "nameserver 127.0.0.11\noptions ndots:0\n"
        );
        let options = ContainerOptions {
            dns_search: vec!["example.lab".into(), "lab".into()],
            dns_options: vec!["ndots:2".into(), "timeout:1".into()],
            ..ContainerOptions::default()
        };
        assert_eq!(
            resolv_conf(&options),
            "search example.lab lab\nnameserver 127.0.0.11\noptions ndots:2 timeout:1\n"
        );
    }
}
