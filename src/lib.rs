#![doc = include_str!("../README.md")]
//!
//! This facade re-exports the engine ([`lobby_core`]) and the in-memory store
//! ([`lobby_memory`]); durable stores live in `lobby-sled` and `lobby-postgres`.

pub use lobby_core::*;
pub use lobby_memory::MemoryStore;
