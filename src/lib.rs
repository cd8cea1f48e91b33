//! # lobby
//!
//! An embeddable routing engine for livechat inquiries: the queue of customer conversations
//! waiting for a support agent, with Rocket.Chat's wire format. This facade re-exports the
//! engine ([`lobby_core`]) and the in-memory store ([`lobby_memory`]); durable stores live in
//! `lobby-sled` and `lobby-postgres`.

pub use lobby_core::*;
pub use lobby_memory::MemoryStore;
