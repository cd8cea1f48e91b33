//! Choosing and opening a store: `sled` (embedded, the default, under `--data-dir`, or
//! `sled:PATH`), `memory`, and `postgres://…` (several servers sharing one queue).

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

/// Where the server runs the engine's calls on a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineCalls {
    /// On tokio's blocking pool: for stores whose calls may wait on a disk or the network
    /// (sled's flushes and page reads, PostgreSQL's round trips).
    BlockingPool,
    /// On the request's own task: for a store whose every call is a short operation in memory
    /// under its lock (the memory store), where handing the call to the pool and back costs
    /// more than the call (two thread switches each way; see docs/performance.md, "The serving
    /// path over HTTP"). The longest wait it can add to the runtime's thread is the engine's
    /// back-off after repeated write conflicts (under 1 ms).
    Inline,
}

/// An open store, a description for logs, and where its calls run.
#[derive(Clone)]
pub struct StoreHandle {
    store: SharedStore,
    description: String,
    calls: EngineCalls,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle")
            .field("description", &self.description)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl StoreHandle {
    /// A handle whose engine calls run on the blocking pool, right for any store.
    pub fn new(store: SharedStore, description: impl Into<String>) -> Self {
        Self { store, description: description.into(), calls: EngineCalls::BlockingPool }
    }

    /// A handle on a memory store: its calls run inline.
    pub fn in_memory(store: Arc<MemoryStore>, description: impl Into<String>) -> Self {
        Self { store, description: description.into(), calls: EngineCalls::Inline }
    }

    /// A fresh in-memory store (nothing survives the process).
    pub fn memory() -> Self {
        Self::in_memory(Arc::new(MemoryStore::new()), "memory (not persistent)")
    }

    /// Where the server runs the engine's calls on this store.
    pub fn calls(&self) -> EngineCalls {
        self.calls
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
    /// The embedded sled store in a directory, opened with `config` (by default
    /// `SledConfig::default()`; see [`StoreSpec::with_sled_cache_mb`]).
    Sled {
        path: PathBuf,
        config: SledConfig,
    },
    Memory,
    /// A PostgreSQL connection URL (`postgres://…` or `postgresql://…`), and the schema from
    /// its `schema=` parameter (`None`: the store's default, `lobby`).
    Postgres {
        url: String,
        schema: Option<String>,
    },
}

impl StoreSpec {
    /// From `--store` and `--data-dir`: `sled` (in `data_dir`), `sled:PATH`, `memory`, or a
    /// `postgres://…` URL, optionally with `schema=NAME` among its parameters
    /// (`postgres://u@host/db?schema=lobby_staging`), which is taken out before connecting.
    pub fn parse(store: &str, data_dir: &Path) -> Result<Self, OpenStoreError> {
        match store {
            "sled" => Ok(Self::Sled { path: data_dir.to_owned(), config: SledConfig::default() }),
            "memory" => Ok(Self::Memory),
            path if path.starts_with("sled:") && path.len() > "sled:".len() => {
                Ok(Self::Sled { path: PathBuf::from(&path["sled:".len()..]), config: SledConfig::default() })
            }
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let (url, schema) = take_schema(url);
                Ok(Self::Postgres { url, schema })
            }
            other => Err(OpenStoreError::UnknownStore(other.to_owned())),
        }
    }

    /// Limits sled's page cache to `mb` MiB (`--cache-mb`); other stores ignore it.
    pub fn with_sled_cache_mb(mut self, mb: u64) -> Self {
        if let Self::Sled { config, .. } = &mut self {
            config.cache_mb = mb;
        }
        self
    }

    /// Opens the store (for sled, taking its directory's lock; for PostgreSQL, connecting and
    /// migrating).
    pub fn open(&self) -> Result<StoreHandle, OpenStoreError> {
        Ok(self.open_store()?.into_handle())
    }

    /// Opens the store as its own type, for what only one kind of store can do (a PostgreSQL
    /// snapshot).
    pub fn open_store(&self) -> Result<OpenedStore, OpenStoreError> {
        match self {
            Self::Memory => Ok(OpenedStore::Memory(Arc::new(MemoryStore::new()))),
            Self::Sled { path, config } => SledStore::open(path, *config)
                .map(|store| OpenedStore::Sled(Arc::new(store)))
                .map_err(|source| OpenStoreError::Sled { path: path.to_owned(), source }),
            Self::Postgres { url, schema } => {
                let mut config = PostgresConfig::default();
                if let Some(schema) = schema {
                    config.schema = schema.clone();
                }
                let store = PostgresStore::connect(url, config).map_err(OpenStoreError::Postgres)?;
                Ok(OpenedStore::Postgres(Arc::new(store)))
            }
        }
    }

    /// Where the store lives, for messages: never the URL, which may carry a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Memory => "memory".to_owned(),
            Self::Sled { path, .. } => format!("sled at {}", path.display()),
            Self::Postgres { schema, .. } => format!("postgres (schema {})", schema.as_deref().unwrap_or("lobby")),
        }
    }
}

/// An open store of a known kind.
#[derive(Clone)]
pub enum OpenedStore {
    /// In memory.
    Memory(Arc<MemoryStore>),
    /// The embedded sled store (holding its directory's lock).
    Sled(Arc<SledStore>),
    /// PostgreSQL.
    Postgres(Arc<PostgresStore>),
}

impl std::fmt::Debug for OpenedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Memory(_) => "OpenedStore::Memory",
            Self::Sled(_) => "OpenedStore::Sled",
            Self::Postgres(_) => "OpenedStore::Postgres",
        })
    }
}

impl OpenedStore {
    /// The store, whatever its kind.
    pub fn store(&self) -> SharedStore {
        match self {
            Self::Memory(store) => Arc::clone(store) as SharedStore,
            Self::Sled(store) => Arc::clone(store) as SharedStore,
            Self::Postgres(store) => Arc::clone(store) as SharedStore,
        }
    }

    /// A handle for the server, described for its logs.
    pub fn into_handle(self) -> StoreHandle {
        match self {
            Self::Memory(store) => StoreHandle::in_memory(store, "memory (not persistent)"),
            Self::Sled(store) => sled_handle(store),
            Self::Postgres(store) => {
                // The URL may carry a password: describe the store by its schema only.
                let description = format!("postgres (schema {})", store.schema());
                StoreHandle::new(store, description)
            }
        }
    }
}

/// Takes `schema=NAME` out of a URL's parameters: the store's option, not libpq's.
fn take_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_owned(), None) };
    let mut schema = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("schema=") {
            Some(name) => {
                schema = Some(name.to_owned());
                false
            }
            None => !pair.is_empty(),
        })
        .collect();
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    (url, schema)
}

/// A handle on an open sled store.
pub fn sled_handle(store: Arc<SledStore>) -> StoreHandle {
    let description = format!("sled at {}", store.path().display());
    StoreHandle::new(store, description)
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
        // sled may wait on the disk: its calls go to the blocking pool.
        assert_eq!(handle.calls(), EngineCalls::BlockingPool);
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
        assert_eq!(handle.calls(), EngineCalls::BlockingPool);
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
        assert_eq!(
            StoreSpec::parse("sled", dir).unwrap(),
            StoreSpec::Sled { path: dir.to_owned(), config: SledConfig::default() }
        );
        assert_eq!(StoreSpec::parse("memory", dir).unwrap(), StoreSpec::Memory);
        assert_eq!(StoreSpec::Memory.open().unwrap().calls(), EngineCalls::Inline);
        let small = SledConfig { cache_mb: 64, ..SledConfig::default() };
        assert_eq!(
            StoreSpec::parse("sled", dir).unwrap().with_sled_cache_mb(64),
            StoreSpec::Sled { path: dir.to_owned(), config: small }
        );
        assert_eq!(StoreSpec::parse("memory", dir).unwrap().with_sled_cache_mb(64), StoreSpec::Memory);
        assert!(matches!(StoreSpec::parse("postgres://u@h/db", dir).unwrap(), StoreSpec::Postgres { .. }));
        assert!(matches!(StoreSpec::parse("mongo", dir), Err(OpenStoreError::UnknownStore(name)) if name == "mongo"));
        assert!(matches!(StoreSpec::parse("sled:", dir), Err(OpenStoreError::UnknownStore(_))));
        assert_eq!(
            StoreSpec::parse("sled:/srv/lobby", dir).unwrap(),
            StoreSpec::Sled { path: "/srv/lobby".into(), config: SledConfig::default() }
        );
        assert_eq!(
            StoreSpec::parse("postgres://u@h/db?sslmode=require&schema=lobby_two&connect_timeout=3", dir).unwrap(),
            StoreSpec::Postgres {
                url: "postgres://u@h/db?sslmode=require&connect_timeout=3".into(),
                schema: Some("lobby_two".into())
            }
        );
        assert_eq!(
            StoreSpec::parse("postgres://u@h/db?schema=s", dir).unwrap(),
            StoreSpec::Postgres { url: "postgres://u@h/db".into(), schema: Some("s".into()) }
        );
    }
}
