//! Choosing and opening a store: `sled` (embedded, the default, under `--data-dir`), `memory`,
//! and later `postgres://…`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lobby_memory::MemoryStore;

use crate::SharedStore;

/// Makes acknowledged writes durable.
pub type FlushFn = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// An open store, with how to flush it and a description for logs.
#[derive(Clone)]
pub struct StoreHandle {
    store: SharedStore,
    flush: Option<FlushFn>,
    description: String,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle").field("description", &self.description).finish_non_exhaustive()
    }
}

impl StoreHandle {
    pub fn new(store: SharedStore, description: impl Into<String>, flush: Option<FlushFn>) -> Self {
        Self { store, flush, description: description.into() }
    }

    /// A fresh in-memory store (nothing survives the process).
    pub fn memory() -> Self {
        Self::new(Arc::new(MemoryStore::new()), "memory (not persistent)", None)
    }

    pub fn store(&self) -> SharedStore {
        Arc::clone(&self.store)
    }

    pub fn flush(&self) -> Result<(), String> {
        self.flush.as_ref().map_or(Ok(()), |flush| flush())
    }

    pub fn description(&self) -> &str {
        &self.description
    }
}

/// Which store to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// The embedded sled store in a directory.
    Sled {
        path: PathBuf,
    },
    Memory,
    /// A PostgreSQL connection URL (`postgres://…` or `postgresql://…`).
    Postgres {
        url: String,
    },
}

impl StoreSpec {
    /// From `--store` (`sled`, `memory`, `postgres://…`) and `--data-dir`.
    pub fn parse(store: &str, data_dir: &Path) -> Result<Self, String> {
        match store {
            "sled" => Ok(Self::Sled { path: data_dir.to_owned() }),
            "memory" => Ok(Self::Memory),
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres { url: url.to_owned() })
            }
            other => Err(format!("unknown store {other:?}: use sled, memory or postgres://…")),
        }
    }

    pub fn open(&self) -> Result<StoreHandle, String> {
        match self {
            Self::Memory => Ok(StoreHandle::memory()),
            Self::Sled { path } => open_sled(path),
            // The PostgreSQL store plugs in here: open `lobby_postgres::PostgresStore` from `url`
            // and wrap it in a `StoreHandle` (no flush needed: every commit is a transaction).
            Self::Postgres { .. } => Err("the PostgreSQL store is not part of this build yet".to_owned()),
        }
    }
}

fn open_sled(path: &Path) -> Result<StoreHandle, String> {
    Err(format!("the sled store is not part of this build yet (wanted {}); use --store memory", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_specs() {
        let dir = Path::new("./lobby-data");
        assert_eq!(StoreSpec::parse("sled", dir).unwrap(), StoreSpec::Sled { path: dir.to_owned() });
        assert_eq!(StoreSpec::parse("memory", dir).unwrap(), StoreSpec::Memory);
        assert!(matches!(StoreSpec::parse("postgres://u@h/db", dir).unwrap(), StoreSpec::Postgres { .. }));
        assert!(StoreSpec::parse("mongo", dir).is_err());
    }
}
