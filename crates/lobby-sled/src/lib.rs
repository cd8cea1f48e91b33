//! # lobby-sled
//!
//! A durable, embedded [`Store`] on [sled](https://docs.rs/sled/0.34) 0.34: the default for a
//! single Lobby server that keeps its data on local disk.
//!
//! Every [`Commit`] is checked (versions, unique keys) under one in-process lock and applied in
//! one sled transaction across all trees, so after a crash a commit is either entirely there or
//! entirely absent. With [`Durability::FlushEveryCommit`] (the default) a commit is flushed to
//! disk before [`Store::commit`] returns; with [`Durability::Periodic`] sled flushes in the
//! background and the last ~500 ms of acknowledged commits can be lost on power loss or kill.
//!
//! Listings use the same in-memory [`lobby_index::InquiryIndex`] as `lobby-memory`, rebuilt
//! from disk at open (see `docs/stores.md` for the cost), so a page at any offset costs
//! O(log n + page) and totals are O(1); only the 50-odd records on the page are read from disk.
//!
//! What retention archives ([`Store::retire`]) goes to a second sled database in `archive/`
//! inside the same directory, opened on first use, so opening and memory follow the hot set.
//!
//! sled allows one process per database: a second [`SledStore::open`] of the same path fails
//! with [`SledError::Locked`].
//!
//! ```
//! use lobby_core::{Actor, Engine, ListRequest, NewInquiry, VisitorId, VisitorSummary};
//! use lobby_sled::SledStore;
//!
//! let engine = Engine::new(SledStore::temporary()?);
//! let visitor = VisitorSummary::new(VisitorId::new("v1")?, "guest-1", "token-1");
//! let inquiry = engine.enqueue(&Actor::System, NewInquiry::new(visitor, "Marcos"))?;
//! engine.dispatch(&Actor::System)?; // manual selection: releases it to agents
//! let page = engine.list(&Actor::System, &ListRequest::default())?;
//! assert_eq!((page.total, page.items[0].id.clone()), (1, inquiry.id));
//! engine.store().check_integrity()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod archive;
mod codec;
mod commit;
mod error;
mod group_flush;
mod integrity;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lobby_core::{
    ArchiveKey, Commit, CommitReceipt, DueRecord, Event, EventQuery, FeedHub, Inquiry, InquiryFilter, InquiryId,
    InquiryQuery, InquirySort, IntegrityReport, Page, Record, RecordKey, RecordKind, Retirement, RetirementReceipt,
    Store, StoreError, Subscription, Timestamp, UniqueKey, Version, Versioned,
};
use lobby_index::InquiryIndex;
use parking_lot::{Mutex, RwLock};

pub use error::SledError;

/// How long sled's background flusher waits between flushes. Its default; named because the
/// [`Durability::Periodic`] guarantee is stated in terms of it.
const BACKGROUND_FLUSH_MS: u64 = 500;

/// The on-disk layout this code reads and writes, stored in `meta`.
const FORMAT_VERSION: u64 = 1;
const META_FORMAT: &[u8] = b"format-version";
/// The sequence number the next event gets. Kept apart from the events themselves so numbers are
/// never reused even if old events are one day pruned.
const META_NEXT_SEQ: &[u8] = b"next-event-seq";
/// The version the next commit stamps its records with (see `lobby_core::plan_versions`).
/// Databases written before it existed get one above their highest version when opened.
const META_NEXT_VERSION: &[u8] = b"next-version";

/// When an acknowledged commit is on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `commit` returns only after sled has flushed (and fsynced) the commit. Survives a kill or
    /// a power loss. Costs one flush per commit.
    #[default]
    FlushEveryCommit,
    /// sled flushes in the background about every 500 ms. Acknowledged commits from the last
    /// ~500 ms may be lost on power loss or kill (never partially: each commit is atomic);
    /// trades durability for throughput.
    Periodic,
}

/// How to open a [`SledStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SledConfig {
    pub durability: Durability,
    /// The most memory sled's page cache may use, in MiB ([`SledConfig::DEFAULT_CACHE_MB`]
    /// unless set). It bounds sled's own cache only: the store's index of every inquiry is
    /// held in addition (see "Memory and open time" in docs/stores.md).
    pub cache_mb: u64,
}

impl SledConfig {
    /// sled's own default, 1 GiB.
    pub const DEFAULT_CACHE_MB: u64 = 1024;
}

impl Default for SledConfig {
    fn default() -> Self {
        SledConfig { durability: Durability::default(), cache_mb: Self::DEFAULT_CACHE_MB }
    }
}

struct Trees {
    /// `kind/id` → JSON `{version, record}`.
    records: sled::Tree,
    /// `kind/value` → the owner's `kind/id`.
    unique: sled::Tree,
    /// Big-endian sequence number → JSON event.
    events: sled::Tree,
    /// Length-prefixed inquiry id + big-endian sequence number → nothing; makes an inquiry's
    /// history a prefix scan instead of a scan of every event.
    events_by_inquiry: sled::Tree,
    /// Due time + kind + id → nothing: every record with a deadline, by its earliest one.
    deadlines: sled::Tree,
    meta: sled::Tree,
}

/// What only a committer touches, behind the commit lock.
pub(crate) struct CommitState {
    next_seq: u64,
    next_stamp: Version,
    /// Set when a commit got into sled but its outcome could not be confirmed; from then on
    /// memory and disk may disagree, so no more commits until the store is reopened.
    failed: Option<String>,
}

/// A [`Store`] on a sled database. Share it between threads with an `Arc` (or through the
/// `Engine`).
pub struct SledStore {
    db: sled::Db,
    trees: Trees,
    durability: Durability,
    config: SledConfig,
    path: PathBuf,
    /// What retention archived: a database of its own, opened on first use
    /// (see the `archive` module).
    archive: Mutex<Option<std::sync::Arc<archive::ArchiveDb>>>,
    /// Retirements take turns (they share one intent key); commits do not wait for them.
    retiring: Mutex<()>,
    /// Serialises commits: versions and unique keys are checked against exactly what is on disk.
    commit: Mutex<CommitState>,
    /// The index of every inquiry. Its write lock is held while a commit is applied to sled and
    /// to the index, so a reader holding the read lock sees disk and index agree — a listing never
    /// pairs ids from one state with records from another.
    index: RwLock<InquiryIndex>,
    feed: FeedHub,
    /// Shares flushes between concurrent committers, and publishes to `feed` what they made
    /// durable.
    group_flush: group_flush::GroupFlush,
    /// Last, so the database is closed before its directory is removed.
    _temp_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the database in the directory `path` and loads every inquiry's sort
    /// and filter fields into memory. Fails with [`SledError::Locked`] if another process has it
    /// open.
    pub fn open(path: impl AsRef<Path>, config: SledConfig) -> Result<SledStore, SledError> {
        Self::open_in(path.as_ref(), config, None)
    }

    /// [`SledStore::open`], waiting up to `ceiling` while the database is locked. sled releases
    /// its file lock asynchronously after the last handle is dropped (its background threads let
    /// go a little later), so a process that closes a store and opens it again — tests, a
    /// migration that reads then writes — should use this; another process holding the lock still
    /// gets [`SledError::Locked`] once the ceiling passes.
    pub fn open_waiting(path: impl AsRef<Path>, config: SledConfig, ceiling: Duration) -> Result<SledStore, SledError> {
        let started = Instant::now();
        loop {
            match Self::open(path.as_ref(), config) {
                Err(SledError::Locked { .. }) if started.elapsed() < ceiling => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    /// A store in a fresh temporary directory that is removed when the store is dropped. For
    /// tests and examples; it uses [`Durability::Periodic`], since its data dies with it anyway.
    pub fn temporary() -> Result<SledStore, SledError> {
        Self::temporary_with(SledConfig { durability: Durability::Periodic, ..SledConfig::default() })
    }

    /// [`SledStore::temporary`] with a chosen configuration, e.g. to test the flushing path.
    pub fn temporary_with(config: SledConfig) -> Result<SledStore, SledError> {
        let dir = tempfile::Builder::new()
            .prefix("lobby-sled-")
            .tempdir()
            .map_err(|source| SledError::Io { path: std::env::temp_dir(), source })?;
        let path = dir.path().to_owned();
        Self::open_in(&path, config, Some(dir))
    }

    fn open_in(path: &Path, config: SledConfig, temp_dir: Option<tempfile::TempDir>) -> Result<SledStore, SledError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(config.cache_mb.saturating_mul(1024 * 1024))
            .flush_every_ms(Some(BACKGROUND_FLUSH_MS))
            .open()
            .map_err(|error| open_error(path, error))?;
        let trees = Trees {
            records: db.open_tree("records")?,
            unique: db.open_tree("unique")?,
            events: db.open_tree("events")?,
            events_by_inquiry: db.open_tree("events_by_inquiry")?,
            deadlines: db.open_tree("deadlines")?,
            meta: db.open_tree("meta")?,
        };
        match trees.meta.get(META_FORMAT)? {
            Some(found) => {
                let found = codec::decode_seq("meta/format-version", &found)?;
                if found != FORMAT_VERSION {
                    return Err(SledError::UnsupportedFormat { found });
                }
            }
            None => {
                trees.meta.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes())?;
                db.flush()?;
            }
        }
        let next_seq = next_event_seq(&trees)?;
        let next_stamp = next_version(&trees)?;
        let index = load_index(&trees.records)?;
        let store = SledStore {
            db,
            trees,
            durability: config.durability,
            config,
            path: path.to_owned(),
            archive: Mutex::new(None),
            retiring: Mutex::new(()),
            commit: Mutex::new(CommitState { next_seq, next_stamp, failed: None }),
            index: RwLock::new(index),
            feed: FeedHub::default(),
            group_flush: group_flush::GroupFlush::default(),
            _temp_dir: temp_dir,
        };
        store.finish_interrupted_retirement()?;
        Ok(store)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Writes everything committed so far to disk. Only useful with [`Durability::Periodic`]:
    /// under `FlushEveryCommit` every acknowledged commit already is.
    pub fn flush(&self) -> Result<(), SledError> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes sled uses on disk (its log and snapshot files).
    pub fn size_on_disk(&self) -> Result<u64, SledError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Reads everything and reports every inconsistency: the checks every store gets from
    /// [`Store::check_integrity`], plus sled's own (the in-memory index against the records, the
    /// unique-key tree, the per-inquiry event index, the counters in `meta`). O(records +
    /// events); commits wait while it runs. `Err` only when the check cannot run (I/O).
    pub fn check_integrity(&self) -> Result<IntegrityReport, SledError> {
        // Holding the commit lock keeps everything still; reads take the index lock themselves
        // (a committer takes the commit lock first, so none can be waiting for the index).
        let state = self.commit.lock();
        integrity::check(self, state.next_seq, state.next_stamp)
    }

    fn read_record(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, SledError> {
        let path = codec::record_key(key);
        self.trees.records.get(&path)?.map(|bytes| codec::decode_record(&path, &bytes)).transpose()
    }

    fn read_owner(&self, key: &UniqueKey) -> Result<Option<RecordKey>, SledError> {
        let path = codec::unique_key(key);
        self.trees.unique.get(&path)?.map(|bytes| codec::decode_owner(&path, &bytes)).transpose()
    }

    /// What `query` asks of one log (`events` and its per-inquiry index, hot or archived).
    fn read_events(
        &self,
        events: &sled::Tree,
        by_inquiry: &sled::Tree,
        query: &EventQuery,
    ) -> Result<Vec<Event>, SledError> {
        // Held so that no commit or retirement lands between reading the index and the events.
        let _index = self.index.read();
        let mut found = Vec::new();
        if query.limit == 0 {
            return Ok(found);
        }
        let Some(first) = query.after.0.checked_add(1) else { return Ok(found) };
        match &query.inquiry {
            Some(id) => {
                let prefix = codec::inquiry_events_prefix(id);
                let start = codec::inquiry_event_key(id, first);
                for entry in by_inquiry.range(start..) {
                    let (key, _) = entry?;
                    if !key.starts_with(&prefix) {
                        break;
                    }
                    let (_, seq) = codec::decode_inquiry_event_key(&key)?;
                    let key = codec::event_key(seq);
                    let stored = events.get(key)?.map(|bytes| codec::decode_event(&key, &bytes)).transpose()?;
                    let event = stored.ok_or_else(|| {
                        SledError::Inconsistent(format!("events_by_inquiry names event {seq}, which is not stored"))
                    })?;
                    if query.matches(&event) {
                        found.push(event);
                        if found.len() == query.limit {
                            break;
                        }
                    }
                }
            }
            None => {
                for entry in events.range(codec::event_key(first)..) {
                    let (key, value) = entry?;
                    let event = codec::decode_event(&key, &value)?;
                    if query.matches(&event) {
                        found.push(event);
                        if found.len() == query.limit {
                            break;
                        }
                    }
                }
            }
        }
        Ok(found)
    }
}

pub(crate) fn open_error(path: &Path, error: sled::Error) -> SledError {
    if let sled::Error::Io(io) = &error {
        let text = io.to_string();
        if io.kind() == std::io::ErrorKind::WouldBlock || text.contains("could not acquire lock") {
            return SledError::Locked { path: path.to_owned(), detail: text };
        }
    }
    error.into()
}

/// Builds the index from every stored inquiry: most of the open time (see docs/stores.md).
/// Serial on purpose: a scan thread feeding decoder threads measured no faster on two cores
/// under load, and used more memory and CPU.
fn load_index(records: &sled::Tree) -> Result<InquiryIndex, SledError> {
    let mut index = InquiryIndex::default();
    for entry in records.scan_prefix(codec::kind_prefix(RecordKind::Inquiry)) {
        let (key, value) = entry?;
        index.upsert(&decode_inquiry(&key, &value)?);
    }
    Ok(index)
}

fn decode_inquiry(key: &[u8], value: &[u8]) -> Result<Inquiry, SledError> {
    match codec::decode_record(key, value)?.value {
        Record::Inquiry(inquiry) => Ok(inquiry),
        // decode_record checked that the record is filed under its own key, so this means the
        // prefix scan and `RecordKey::to_path` disagree: report it rather than trust either.
        other => Err(SledError::Corrupt {
            location: format!("records/{}", String::from_utf8_lossy(key)),
            reason: format!("holds a {} record", other.kind().as_str()),
        }),
    }
}

/// What `meta` says, or, for a database from before versions were stamped store-wide, one
/// above the highest version of any record (written back, so this scan happens once).
fn next_version(trees: &Trees) -> Result<Version, SledError> {
    if let Some(bytes) = trees.meta.get(META_NEXT_VERSION)? {
        return Ok(Version(codec::decode_seq("meta/next-version", &bytes)?.max(1)));
    }
    let mut highest = Version(0);
    for entry in trees.records.iter() {
        let (key, value) = entry?;
        highest = highest.max(codec::decode_record(&key, &value)?.version);
    }
    let next = highest.next();
    trees.meta.insert(META_NEXT_VERSION, &next.0.to_be_bytes())?;
    Ok(next)
}

/// The larger of what `meta` says and one past the last stored event: they are written in the
/// same transaction, but the log is the ground truth for "never reuse a number". (Archived
/// events are below `meta`'s number, which every commit that numbered them wrote.)
fn next_event_seq(trees: &Trees) -> Result<u64, SledError> {
    let from_meta = match trees.meta.get(META_NEXT_SEQ)? {
        Some(bytes) => codec::decode_seq("meta/next-event-seq", &bytes)?,
        None => 1,
    };
    let from_log = match trees.events.last()? {
        Some((key, _)) => codec::decode_seq("events", &key)?.saturating_add(1),
        None => 1,
    };
    Ok(from_meta.max(from_log).max(1))
}

impl Store for SledStore {
    fn get(&self, key: &RecordKey) -> Result<Option<Versioned<Record>>, StoreError> {
        // One sled read is atomic against a commit's transaction; no lock needed.
        Ok(self.read_record(key)?)
    }

    fn find(&self, key: &UniqueKey) -> Result<Option<Versioned<Record>>, StoreError> {
        // Two reads: hold off commits so the owner cannot change in between.
        let _index = self.index.read();
        let Some(owner) = self.read_owner(key)? else { return Ok(None) };
        let record = self
            .read_record(&owner)?
            .ok_or_else(|| SledError::Inconsistent(format!("{key} belongs to {owner}, which does not exist")))?;
        if !record.value.unique_keys().contains(key) {
            return Err(SledError::Inconsistent(format!("{key} belongs to {owner}, which does not claim it")).into());
        }
        Ok(Some(record))
    }

    fn scan(&self, kind: RecordKind) -> Result<Vec<Versioned<Record>>, StoreError> {
        let _index = self.index.read();
        let mut found = Vec::new();
        for entry in self.trees.records.scan_prefix(codec::kind_prefix(kind)) {
            let (key, value) = entry.map_err(SledError::from)?;
            found.push(codec::decode_record(&key, &value)?);
        }
        Ok(found)
    }

    fn list_inquiries(&self, query: &InquiryQuery) -> Result<Page<Inquiry>, StoreError> {
        let index = self.index.read();
        let (ids, total) = index.page(query);
        let mut items = Vec::with_capacity(ids.len());
        for id in &ids {
            match self.read_record(&RecordKey::Inquiry(id.clone()))? {
                Some(Versioned { value: Record::Inquiry(inquiry), .. }) => items.push(inquiry),
                // decode_record checked that the record under an inquiry key is that inquiry.
                Some(_) => return Err(SledError::Inconsistent(format!("{id} is not an inquiry")).into()),
                None => {
                    return Err(SledError::Inconsistent(format!("the index lists {id}, which is not stored")).into())
                }
            }
        }
        Ok(Page { items, total })
    }

    fn count_before(
        &self,
        filter: &InquiryFilter,
        sort: InquirySort,
        inquiry: &InquiryId,
    ) -> Result<Option<usize>, StoreError> {
        Ok(self.index.read().count_before(filter, sort, inquiry))
    }

    fn due(&self, at: Timestamp, limit: usize) -> Result<Vec<DueRecord>, StoreError> {
        let mut found = Vec::new();
        for entry in self.trees.deadlines.range(..codec::deadlines_after(at)).take(limit) {
            let (key, _) = entry.map_err(SledError::from)?;
            found.push(codec::decode_deadline_key(&key)?);
        }
        Ok(found)
    }

    fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        self.commit_inner(commit)
    }

    fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
        Ok(SledStore::check_integrity(self)?)
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        Ok(self.read_events(&self.trees.events, &self.trees.events_by_inquiry, query)?)
    }

    fn retire(&self, retirement: &Retirement) -> Result<RetirementReceipt, StoreError> {
        self.retire_inner(retirement)
    }

    fn archived_inquiry(&self, key: &ArchiveKey) -> Result<Option<Versioned<Inquiry>>, StoreError> {
        Ok(self.archived_inquiry_inner(key)?)
    }

    fn archived_inquiries(
        &self,
        after: Option<&InquiryId>,
        limit: usize,
    ) -> Result<Vec<Versioned<Inquiry>>, StoreError> {
        Ok(self.archived_inquiries_inner(after, limit)?)
    }

    fn archived_events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        Ok(self.archived_events_inner(query)?)
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Under Periodic, commits from the last ~500 ms may not be on disk yet; a graceful
        // shutdown calls this so none are lost.
        Ok(SledStore::flush(self)?)
    }

    fn subscribe(&self) -> Result<Subscription, StoreError> {
        // Events are published in groups, in order, under the group flush's lock; subscribing
        // while holding it means the feed starts exactly between two groups.
        let _publishing = self.group_flush.hold_publishing();
        Ok(self.feed.subscribe())
    }
}
