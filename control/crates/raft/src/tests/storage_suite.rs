//! openraft's storage test suite against the sealed redb storage.

use openraft::testing::{StoreBuilder, Suite};

use crate::typ::{self, TypeConfig};
use crate::{LogStore, StateMachine, open_storage};
use shoal_security::seal::DataKey;

/// Builds a fresh store in a temporary directory (removed with the guard).
struct DiskBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for DiskBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), typ::StorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = open_storage(dir.path(), DataKey::generate()).expect("open storage");
        Ok((dir, storage.log_store, storage.state_machine))
    }
}

#[test]
fn openraft_storage_suite_passes() {
    Suite::test_all(DiskBuilder).expect("storage suite");
}
