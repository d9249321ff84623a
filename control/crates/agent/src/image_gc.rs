//! The image GC: every [`GC_EVERY`] (or half the grace, if shorter) the
//! node's images are matched against what its tasks need; an image no
//! assigned task and no container on the node used for the grace time is
//! removed with the blobs and layers only it held.
//!
//! "Used" is tracked in memory from when the agent started: an image is
//! first seen in use or not, and its clock starts then, so a daemon
//! restart only delays removals.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_runtime::Runtime;
use shoal_runtime::image::Digest;

use super::Shared;

/// Longest pause between two GC passes.
const GC_EVERY: Duration = Duration::from_secs(60);
/// Shortest pause between two GC passes.
const GC_MIN: Duration = Duration::from_secs(1);

/// When each image of the node was last needed.
#[derive(Debug, Default)]
pub(crate) struct LastUse(HashMap<Digest, Instant>);

impl LastUse {
    /// Records `now` for the images `in_use` and for images seen for the
    /// first time, forgets images gone from the store, and returns the
    /// images unused for at least `grace` (never one in use).
    pub(crate) fn due(
        &mut self,
        images: &[Digest],
        in_use: &BTreeSet<Digest>,
        now: Instant,
        grace: Duration,
    ) -> Vec<Digest> {
        self.0.retain(|digest, _| images.contains(digest));
        let mut due = Vec::new();
        for image in images {
            let last = self.0.entry(image.clone()).or_insert(now);
            if in_use.contains(image) {
                *last = now;
            } else if now.saturating_duration_since(*last) >= grace && !due.contains(image) {
                due.push(image.clone());
            }
        }
        due
    }
}

/// Runs GC passes until dropped.
pub(crate) async fn run(shared: Arc<Shared>, grace: Duration) {
    let every = (grace / 2).clamp(GC_MIN, GC_EVERY);
    let mut last_use = LastUse::default();
    loop {
        tokio::time::sleep(every).await;
        // A task between its image check and its container's creation:
        // skip this pass rather than make starts wait for a GC.
        let Ok(_no_starts) = shared.image_use.try_write() else {
            continue;
        };
        let needed = assigned_images(&shared);
        let runtime = shared.runtime.clone();
        let pass = tokio::task::spawn_blocking(move || {
            let result = gc_pass(&runtime, &needed, &mut last_use, grace);
            (last_use, result)
        })
        .await;
        let Ok((kept, result)) = pass else {
            log::warn!("image GC: a pass panicked");
            last_use = LastUse::default();
            continue;
        };
        last_use = kept;
        match result {
            Ok(removed) => {
                for manifest in removed {
                    log::info!("image GC: removed {manifest} (unused for {grace:?})");
                }
            }
            Err(err) => log::warn!("image GC: {}", shoal_model::error_chain::full_message(&err)),
        }
    }
}

/// The images of every task in the latest assignment.
fn assigned_images(shared: &Shared) -> Vec<String> {
    let assignment = shared.assignment.borrow();
    assignment
        .iter()
        .flat_map(|a| &a.tasks)
        .map(|t| t.task.spec.image.clone())
        .collect()
}

/// One pass: what is in use (resolved to manifests), what is due, and
/// its removal; the manifests removed.
fn gc_pass(
    runtime: &Runtime,
    needed: &[String],
    last_use: &mut LastUse,
    grace: Duration,
) -> Result<Vec<Digest>, shoal_runtime::RuntimeError> {
    let store = runtime.images();
    let containers = runtime.list()?;
    let in_use: BTreeSet<Digest> = needed
        .iter()
        .chain(containers.iter().map(|c| &c.image))
        .filter_map(|image| store.resolve(image).ok())
        .map(|image| image.manifest)
        .collect();
    let images: Vec<Digest> = store.list()?.into_iter().map(|i| i.manifest).collect();
    let due = last_use.due(&images, &in_use, Instant::now(), grace);
    if due.is_empty() {
        return Ok(Vec::new());
    }
    Ok(store.remove_images(&due, &in_use)?.deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::of(&[n])
    }

    #[test]
    fn an_unused_image_goes_after_its_grace_and_a_used_one_never() {
        let grace = Duration::from_secs(3600);
        let start = Instant::now();
        let (used, idle) = (digest(1), digest(2));
        let images = [used.clone(), idle.clone()];
        let in_use = BTreeSet::from([used.clone()]);
        let mut last = LastUse::default();
        assert!(
            last.due(&images, &in_use, start, grace).is_empty(),
            "just seen"
        );
        let almost = start + grace - Duration::from_secs(1);
        assert!(last.due(&images, &in_use, almost, grace).is_empty());
        let later = start + grace * 3;
        assert_eq!(last.due(&images, &in_use, later, grace), [idle]);
    }

    #[test]
    fn the_grace_counts_from_the_last_use() {
        let grace = Duration::from_secs(60);
        let start = Instant::now();
        let image = digest(3);
        let mut last = LastUse::default();
        let used = BTreeSet::from([image.clone()]);
        let unused = BTreeSet::new();
        last.due(std::slice::from_ref(&image), &used, start, grace);
        let stopped = start + grace * 10;
        assert!(
            last.due(std::slice::from_ref(&image), &used, stopped, grace)
                .is_empty()
        );
        let soon = stopped + grace / 2;
        assert!(
            last.due(std::slice::from_ref(&image), &unused, soon, grace)
                .is_empty(),
            "unused for half the grace only"
        );
        let after = stopped + grace;
        assert_eq!(
            last.due(std::slice::from_ref(&image), &unused, after, grace),
            [image]
        );
    }

    #[test]
    fn an_image_gone_from_the_store_is_forgotten_and_timed_afresh() {
        let grace = Duration::from_secs(60);
        let start = Instant::now();
        let image = digest(4);
        let mut last = LastUse::default();
        last.due(std::slice::from_ref(&image), &BTreeSet::new(), start, grace);
        last.due(&[], &BTreeSet::new(), start + grace / 2, grace);
        let back = start + grace;
        assert!(
            last.due(std::slice::from_ref(&image), &BTreeSet::new(), back, grace)
                .is_empty(),
            "loaded again: its clock starts again"
        );
    }
}
