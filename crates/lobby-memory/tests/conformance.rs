//! The shared conformance suite, on the memory store.
use lobby_memory::MemoryStore;

lobby_conformance::store_conformance_tests!(MemoryStore::new());
