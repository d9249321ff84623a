//! Whether the kernel's OOM killer ended a container: the `oom_kill`
//! count of its memory cgroup, which runc leaves in place until the
//! container is deleted. cgroup v1 keeps it in `memory.oom_control`, v2 in
//! `memory.events`; both are tried, under every mount where the memory
//! controller may live (this machine kind has a hybrid layout: v1 memory
//! controller, v2 at `/sys/fs/cgroup/unified`).

use std::fs;
use std::path::Path;

/// Where the memory controller may be mounted, with the file holding the
/// `oom_kill` count there.
const LOCATIONS: [(&str, &str); 3] = [
    ("/sys/fs/cgroup/memory", "memory.oom_control"),
    ("/sys/fs/cgroup", "memory.events"),
    ("/sys/fs/cgroup/unified", "memory.events"),
];

/// Whether a process of the container in cgroup `path` (relative to each
/// controller's root, as in the OCI spec) was OOM-killed. `false` when no
/// count can be read (the cgroup is gone, or no memory controller).
pub(crate) fn oom_killed(path: &str) -> bool {
    let relative = path.trim_start_matches('/');
    LOCATIONS.iter().any(|(root, file)| {
        let file = Path::new(root).join(relative).join(file);
        fs::read_to_string(file).is_ok_and(|text| oom_kill_count(&text) > 0)
    })
}

/// The `oom_kill N` line of a `memory.oom_control` / `memory.events` file.
fn oom_kill_count(text: &str) -> u64 {
    text.lines()
        .filter_map(|line| line.strip_prefix("oom_kill "))
        .find_map(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::oom_kill_count;

    #[test]
    fn the_oom_kill_count_is_read_from_either_cgroup_version() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        let v2 = "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(oom_kill_count(v1), 2);
        assert_eq!(oom_kill_count(v2), 1);
        assert_eq!(oom_kill_count("oom_kill_disable 0\nunder_oom 0\n"), 0);
        assert_eq!(oom_kill_count(""), 0);
    }
}
