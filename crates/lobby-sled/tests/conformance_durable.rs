//! The conformance suite again with a flush on every commit, the configuration servers run.

use lobby_sled::{SledConfig, SledStore};

lobby_conformance::store_conformance_tests!(SledStore::temporary_with(SledConfig::default()).expect("temp store"));
