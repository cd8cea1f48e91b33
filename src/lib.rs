#![doc = include_str!("../README.md")]
//!
//! ## This crate
//!
//! A facade: the engine ([`lobby_core`]) and the in-memory store ([`MemoryStore`]) always; the
//! other stores and the server behind one feature each:
//!
//! | feature | re-exports | for |
//! |---|---|---|
//! | `sled` | [`lobby_sled`] as `lobby::sled` | one server with its data on local disk |
//! | `postgres` | [`lobby_postgres`] as `lobby::postgres` | several servers sharing one queue |
//! | `server` | [`lobby_server`] as `lobby::server` (and both stores) | the REST API in your own binary |

pub use lobby_core::*;
pub use lobby_memory::MemoryStore;

/// The embedded, durable store (feature `sled`).
#[cfg(feature = "sled")]
pub use lobby_sled as sled;

/// The PostgreSQL store (feature `postgres`).
#[cfg(feature = "postgres")]
pub use lobby_postgres as postgres;

/// The Rocket.Chat-compatible REST server (feature `server`).
#[cfg(feature = "server")]
pub use lobby_server as server;
