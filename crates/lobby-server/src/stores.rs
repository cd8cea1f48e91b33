//! Choosing and opening a store: `sled` (embedded, the default, under `--data-dir`), `memory`,
//! and `postgres://…` (several servers sharing one queue).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lobby_core::StoreError;
use lobby_memory::MemoryStore;
use lobby_postgres::{PostgresConfig, PostgresError, PostgresStore};
use lobby_sled::{SledConfig, SledError, SledStore};

use crate::SharedStore;

/// Why a store could not be chosen or opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// `--store` names no known store.
    #[error("unknown store {0:?}: use sled, memory or postgres://…")]
    UnknownStore(String),
    /// The sled database could not be opened (locked by another process, corrupt, I/O).
    #[error("cannot open the sled store in {}: {source}", path.display())]
    Sled {
        /// The database directory.
        path: PathBuf,
        /// What sled said.
        #[source]
        source: SledError,
    },
    /// The PostgreSQL store could not connect or migrate.
    #[error("cannot open the PostgreSQL store: {0}")]
    Postgres(#[source] PostgresError),
}

/// An open store and a description for logs.
#[derive(Clone)]
pub struct StoreHandle {
    store: SharedStore,
    description: String,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle").field("description", &self.description).finish_non_exhaustive()
    }
}

impl StoreHandle {
    pub fn new(store: SharedStore, description: impl Into<String>) -> Self {
        Self { store, description: description.into() }
    }

    /// A fresh in-memory store (nothing survives the process).
    pub fn memory() -> Self {
        Self::new(Arc::new(MemoryStore::new()), "memory (not persistent)")
    }

    pub fn store(&self) -> SharedStore {
        Arc::clone(&self.store)
    }

    /// Makes every acknowledged write durable (graceful shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.store.flush()
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
    pub fn parse(store: &str, data_dir: &Path) -> Result<Self, OpenStoreError> {
        match store {
            "sled" => Ok(Self::Sled { path: data_dir.to_owned() }),
            "memory" => Ok(Self::Memory),
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres { url: url.to_owned() })
            }
            other => Err(OpenStoreError::UnknownStore(other.to_owned())),
        }
    }

    /// Opens the store (for sled, taking its directory's lock; for PostgreSQL, connecting and
    /// migrating).
    pub fn open(&self) -> Result<StoreHandle, OpenStoreError> {
        match self {
            Self::Memory => Ok(StoreHandle::memory()),
            Self::Sled { path } => open_sled(path),
            Self::Postgres { url } => open_postgres(url),
        }
    }
}

fn open_sled(path: &Path) -> Result<StoreHandle, OpenStoreError> {
    let store = SledStore::open(path, SledConfig::default())
        .map_err(|source| OpenStoreError::Sled { path: path.to_owned(), source })?;
    Ok(sled_handle(Arc::new(store)))
}

/// A handle on an open sled store.
pub fn sled_handle(store: Arc<SledStore>) -> StoreHandle {
    let description = format!("sled at {}", store.path().display());
    StoreHandle::new(store, description)
}

fn open_postgres(url: &str) -> Result<StoreHandle, OpenStoreError> {
    let store = PostgresStore::connect(url, PostgresConfig::default()).map_err(OpenStoreError::Postgres)?;
    // The URL may carry a password: describe the store by its schema only.
    let description = format!("postgres (schema {})", store.schema());
    Ok(StoreHandle::new(Arc::new(store), description))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sled_stores_persist_between_opens() {
        let dir = tempfile::tempdir().unwrap();
        let spec = StoreSpec::parse("sled", dir.path()).unwrap();
        let handle = spec.open().unwrap();
        assert!(handle.description().starts_with("sled at "));
        let engine = lobby_core::Engine::new(handle.store());
        let details = lobby_core::VisitorDetails { token: "t".into(), ..Default::default() };
        engine.register_visitor(&details).unwrap();
        handle.flush().unwrap();
        // sled allows one process (and one open) per directory.
        assert!(spec.open().is_err());
        drop((engine, handle));
        // sled releases its lock a little after the last handle goes; wait for it (bounded).
        let reopened = SledStore::open_waiting(dir.path(), SledConfig::default(), Duration::from_secs(60)).unwrap();
        let engine = lobby_core::Engine::new(Arc::new(reopened));
        assert!(engine.visitor_by_token("t").unwrap().is_some());
    }

    #[test]
    fn postgres_urls_open_the_postgres_store() {
        let Ok(url) = std::env::var("LOBBY_TEST_POSTGRES_URL") else {
            assert!(std::env::var_os("CI").is_none(), "CI must provide LOBBY_TEST_POSTGRES_URL");
            eprintln!("skipped: LOBBY_TEST_POSTGRES_URL not set");
            return;
        };
        let handle = StoreSpec::parse(&url, Path::new(".")).unwrap().open().unwrap();
        assert_eq!(handle.description(), "postgres (schema lobby)");
        let engine = lobby_core::Engine::new(handle.store());
        let token = format!("server-test-{}", std::process::id());
        let details = lobby_core::VisitorDetails { token: token.clone(), ..Default::default() };
        engine.register_visitor(&details).unwrap();
        assert!(engine.visitor_by_token(&token).unwrap().is_some());
        handle.flush().unwrap();
        let refused = StoreSpec::parse("postgres://nobody@127.0.0.1:1/none", Path::new(".")).unwrap().open();
        assert!(matches!(refused, Err(OpenStoreError::Postgres(_))), "{refused:?}");
    }

    #[test]
    fn store_specs() {
        let dir = Path::new("./lobby-data");
        assert_eq!(StoreSpec::parse("sled", dir).unwrap(), StoreSpec::Sled { path: dir.to_owned() });
        assert_eq!(StoreSpec::parse("memory", dir).unwrap(), StoreSpec::Memory);
        assert!(matches!(StoreSpec::parse("postgres://u@h/db", dir).unwrap(), StoreSpec::Postgres { .. }));
        assert!(matches!(StoreSpec::parse("mongo", dir), Err(OpenStoreError::UnknownStore(name)) if name == "mongo"));
    }
}
