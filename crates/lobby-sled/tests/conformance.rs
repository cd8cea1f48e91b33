//! The conformance suite every store passes, on a fresh temporary sled database per case.

lobby_conformance::store_conformance_tests!(lobby_sled::SledStore::temporary().expect("temp store"));
