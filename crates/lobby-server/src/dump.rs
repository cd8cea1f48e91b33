//! Backup, restore and moving a store: a versioned JSON Lines dump of every record and every
//! event, written by `lobby-server export`, read by `lobby-server import`, and used by
//! `lobby-server migrate` without a file in between.
//!
//! ```no_run
//! use lobby_server::dump::{self, ExportOptions, Progress, Source, TargetPolicy};
//!
//! # fn main() -> Result<(), dump::DumpError> {
//! let store = lobby_memory::MemoryStore::new();
//! let written = dump::export_file(Source::Store(&store), "backup.jsonl.zst".as_ref(), ExportOptions::default(), &Progress::hidden())?;
//! println!("{written}");
//! let restored = lobby_memory::MemoryStore::new();
//! let dump = dump::read_file("backup.jsonl.zst".as_ref(), &Progress::hidden())?;
//! dump::import(dump, &restored, TargetPolicy::MustBeEmpty, &Progress::hidden())?;
//! # Ok(())
//! # }
//! ```
//!
//! ## The format, version 2
//!
//! UTF-8, one JSON value per line, every line ending in `\n` (compressed with zstd when the
//! file name ends in `.zst`):
//!
//! 1. the header: `{"format":"lobby-dump","version":2,"lobby":"0.1.0"}` (the Lobby that wrote
//!    it);
//! 2. every record, `{"record":{"kind":"inquiry","value":{…}}}`, kind by kind (inquiries,
//!    users, agents, departments, visitors), by id (byte-wise) within a kind. The value is the
//!    record as the stores keep it (users carry their password and login-token hashes).
//!    Versions are not kept: they are the store's business, and a restored store starts its
//!    own;
//! 3. every archived inquiry (retention's archive), `{"archived":{"kind":"inquiry","value":{…}}}`,
//!    by id;
//! 4. every event, hot or archived, in sequence order: `{"event":{"seq":1,…}}` or
//!    `{"archived-event":{"seq":2,…}}`. Numbers increase; they have gaps only where retention
//!    deleted events (`--retention-action delete`). An archived event is about no conversation
//!    in the hot set, and an event about an archived conversation is archived;
//! 5. the end line, `{"end":{"records":R,"events":E,"sha256":"…"}}`: the counts (archived
//!    inquiries among the records, archived events among the events), and the SHA-256 of every
//!    byte before this line. A dump without it is cut short and is refused.
//!
//! Version 1 is version 2 without archive lines and without gaps; this build reads both.
//!
//! The same store contents always give the same bytes, whichever store they come from (the
//! header carries no time and no store name): a backup of a restored store is byte-identical to
//! the backup it was restored from.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lobby_core::{
    Commit, Event, EventQuery, EventSeq, Inquiry, InquiryId, InquiryStatus, NewEvent, Record, RecordKey, RecordKind,
    RetentionAction, Retirement, Store, StoreError, UniqueKey, Version, Write as RecordWrite,
};
use lobby_postgres::{PostgresSnapshot, PostgresStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::stores::OpenedStore;

/// The `format` of the header line.
pub const FORMAT: &str = "lobby-dump";
/// The format version this build writes; it reads this one and every one before.
pub const FORMAT_VERSION: u64 = 2;
/// The Lobby version written in headers.
pub const LOBBY_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The longest line read: far above any record the limits let in, far below a memory problem.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Events read per call while exporting.
const EVENT_PAGE: usize = 10_000;

/// Why an export, import or migration failed. Every failure before the import's single commit
/// leaves the target as it was.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// A dump file could not be opened or created.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// `export --to` names a file that exists, without `--force`.
    #[error("{} already exists; use --force to overwrite it", path.display())]
    FileExists {
        /// The file.
        path: PathBuf,
    },
    /// Writing the dump failed (a full disk, say); no file was left under the target name.
    #[error("writing the dump failed: {0}")]
    Write(#[source] std::io::Error),
    /// Reading the dump failed: an I/O error, or a compressed stream that is damaged or ends
    /// early.
    #[error("line {line}: reading failed: {source}")]
    Read {
        /// The line being read.
        line: u64,
        /// What the reader said.
        #[source]
        source: std::io::Error,
    },
    /// A line is not what a dump has at that place.
    #[error("line {line}: {problem}")]
    Line {
        /// The line, from 1.
        line: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// The dump stops before its end line.
    #[error(
        "the dump ends after line {lines} without its end line: it is cut short (an interrupted export or a partial copy)"
    )]
    Truncated {
        /// Complete lines read.
        lines: u64,
    },
    /// The dump is in a format version newer than this build reads.
    #[error(
        "line 1: the dump is in format version {version}, written by Lobby {lobby}; this Lobby ({LOBBY_VERSION}) reads version {FORMAT_VERSION}: import it with a newer lobby-server"
    )]
    NewerFormat {
        /// The dump's format version.
        version: u64,
        /// The Lobby that wrote it.
        lobby: String,
    },
    /// The target store holds records or events, without `--force`.
    #[error("the target store is not empty (it holds {holds}); use --force to replace its contents")]
    TargetNotEmpty {
        /// What it holds, in words.
        holds: String,
    },
    /// `--force` on a target that has an archive: replacing it is not supported.
    #[error("the target store has archived conversations; import into an empty store instead")]
    TargetHasArchive,
    /// The records and events were written but moving the archived ones to the archive failed:
    /// nothing is lost, but they are in the hot set.
    #[error("the dump was written, but archiving its {inquiries} archived conversations failed ({source}); they are in the hot set, where the next retention pass finds them")]
    ArchiveFailed {
        /// How many should have been archived.
        inquiries: usize,
        /// Why it failed.
        #[source]
        source: StoreError,
    },
    /// Someone wrote to the target store during the import; the import's commit was refused.
    #[error("the target store changed during the import ({0}); nothing was written: stop its servers and try again")]
    TargetChanged(#[source] StoreError),
    /// A store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// After a migration, the target does not hold what the source held.
    #[error("verification failed: {0}")]
    Verify(String),
}

/// How a dump file is compressed: chosen by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain JSON Lines.
    None,
    /// zstd (the name ends in `.zst`).
    Zstd,
}

impl Compression {
    /// `.zst` means zstd; anything else, none.
    pub fn for_path(path: &Path) -> Self {
        match path.extension() {
            Some(extension) if extension == "zst" => Self::Zstd,
            _ => Self::None,
        }
    }
}

/// Progress bars on stderr, drawn only when stderr is a terminal.
#[derive(Debug, Clone)]
pub struct Progress {
    draw: bool,
}

impl Progress {
    /// Bars when stderr is a terminal; nothing when it is piped or redirected.
    pub fn on_terminal() -> Self {
        Self { draw: std::io::stderr().is_terminal() }
    }

    /// No bars (tests, libraries).
    pub fn hidden() -> Self {
        Self { draw: false }
    }

    /// A counter of `unit` for the step `message`.
    fn counter(&self, message: &str, unit: &str) -> ProgressBar {
        if !self.draw {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
        let template = format!("{{spinner}} {{msg}}: {{human_pos}} {unit} ({{per_sec}}, {{elapsed}})");
        bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(125));
        bar
    }
}

/// What a dump holds: counts and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSummary {
    /// Records of each kind in the hot set.
    pub records: BTreeMap<RecordKind, u64>,
    /// Archived inquiries.
    pub archived: u64,
    /// Events, hot and archived.
    pub events: u64,
    /// Archived events among them.
    pub archived_events: u64,
    /// The SHA-256 of every line before the end line, in hex (as written in the end line).
    pub sha256: String,
}

impl DumpSummary {
    /// Records of every kind together, archived inquiries included.
    pub fn record_count(&self) -> u64 {
        self.records.values().sum::<u64>() + self.archived
    }
}

impl std::fmt::Display for DumpSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for kind in RecordKind::ALL {
            write!(f, "{} {}, ", self.records.get(&kind).copied().unwrap_or(0), kind.plural())?;
        }
        if self.archived + self.archived_events > 0 {
            write!(f, "{} archived inquiries, ", self.archived)?;
            write!(f, "{} events ({} archived) (sha256 {})", self.events, self.archived_events, self.sha256)
        } else {
            write!(f, "{} events (sha256 {})", self.events, self.sha256)
        }
    }
}

/// The header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version.
    pub version: u64,
    /// The Lobby that wrote the dump.
    pub lobby: String,
}

/// The end line's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    records: u64,
    events: u64,
    sha256: String,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum LineOut<'a> {
    Record(&'a Record),
    Archived(&'a Record),
    Event(&'a Event),
    ArchivedEvent(&'a Event),
    End(&'a Trailer),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
// Read one line at a time; the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum LineIn {
    Record(Record),
    Archived(Record),
    Event(Event),
    ArchivedEvent(Event),
    End(Trailer),
}

/// Where an export reads from.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// Any store, read through the [`Store`] trait kind by kind, then the events. Consistent
    /// only if nothing writes meanwhile: true of a sled store, which one process at a time may
    /// open, and of a memory store nobody else holds.
    Store(&'a dyn Store),
    /// A PostgreSQL store, read in one snapshot ([`PostgresStore::snapshot`]): consistent
    /// while its servers keep running.
    Postgres(&'a PostgresStore),
}

impl<'a> Source<'a> {
    /// The consistent way to read `opened`.
    pub fn of(opened: &'a OpenedStore) -> Self {
        match opened {
            OpenedStore::Memory(store) => Source::Store(&**store),
            OpenedStore::Sled(store) => Source::Store(&**store),
            OpenedStore::Postgres(store) => Source::Postgres(store),
        }
    }

    /// The store itself, for writing.
    pub fn store(&self) -> &'a dyn Store {
        match *self {
            Source::Store(store) => store,
            Source::Postgres(store) => store,
        }
    }

    /// Runs `read` on a consistent reader of the whole store.
    fn read<T>(self, read: impl FnOnce(&mut dyn Reader) -> Result<T, DumpError>) -> Result<T, DumpError> {
        match self {
            Source::Store(store) => read(&mut TraitReader(store)),
            // The closure's own errors (writing the file) travel inside the snapshot's Ok.
            Source::Postgres(store) => store.snapshot(|snapshot| Ok(read(snapshot)))?,
        }
    }
}

/// What an export needs from a store.
trait Reader {
    fn records(&mut self, kind: RecordKind) -> Result<Vec<Record>, StoreError>;
    fn events(&mut self, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError>;
    fn archived_inquiries(&mut self, after: Option<&InquiryId>, limit: usize) -> Result<Vec<Inquiry>, StoreError>;
    fn archived_events(&mut self, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError>;
}

struct TraitReader<'a>(&'a dyn Store);

impl Reader for TraitReader<'_> {
    fn records(&mut self, kind: RecordKind) -> Result<Vec<Record>, StoreError> {
        Ok(self.0.scan(kind)?.into_iter().map(|stored| stored.value).collect())
    }

    fn events(&mut self, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.0.events(&EventQuery::all().after(after).limit(limit))
    }

    fn archived_inquiries(&mut self, after: Option<&InquiryId>, limit: usize) -> Result<Vec<Inquiry>, StoreError> {
        Ok(self.0.archived_inquiries(after, limit)?.into_iter().map(|stored| stored.value).collect())
    }

    fn archived_events(&mut self, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.0.archived_events(&EventQuery::all().after(after).limit(limit))
    }
}

impl Reader for PostgresSnapshot<'_> {
    fn records(&mut self, kind: RecordKind) -> Result<Vec<Record>, StoreError> {
        PostgresSnapshot::records(self, kind)
    }

    fn events(&mut self, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError> {
        PostgresSnapshot::events(self, after, limit)
    }

    fn archived_inquiries(&mut self, after: Option<&InquiryId>, limit: usize) -> Result<Vec<Inquiry>, StoreError> {
        Ok(PostgresSnapshot::archived_inquiries(self, after, limit)?.into_iter().map(|stored| stored.value).collect())
    }

    fn archived_events(&mut self, after: EventSeq, limit: usize) -> Result<Vec<Event>, StoreError> {
        PostgresSnapshot::archived_events(self, after, limit)
    }
}

/// Writes lines and keeps the running checksum and counts.
struct DumpWriter<'w> {
    out: &'w mut dyn Write,
    hasher: Sha256,
    records: BTreeMap<RecordKind, u64>,
    archived: u64,
    events: u64,
    archived_events: u64,
    line: Vec<u8>,
}

impl<'w> DumpWriter<'w> {
    fn new(out: &'w mut dyn Write) -> Result<Self, DumpError> {
        let mut writer = Self {
            out,
            hasher: Sha256::new(),
            records: BTreeMap::new(),
            archived: 0,
            events: 0,
            archived_events: 0,
            line: Vec::new(),
        };
        let header = Header { format: FORMAT.to_owned(), version: FORMAT_VERSION, lobby: LOBBY_VERSION.to_owned() };
        writer.write(&header)?;
        Ok(writer)
    }

    fn write(&mut self, value: &impl Serialize) -> Result<(), DumpError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(|e| DumpError::Write(e.into()))?;
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.out.write_all(&self.line).map_err(DumpError::Write)
    }

    fn record(&mut self, record: &Record) -> Result<(), DumpError> {
        *self.records.entry(record.kind()).or_default() += 1;
        self.write(&LineOut::Record(record))
    }

    fn archived(&mut self, record: &Record) -> Result<(), DumpError> {
        self.archived += 1;
        self.write(&LineOut::Archived(record))
    }

    fn event(&mut self, event: &Event, archived: bool) -> Result<(), DumpError> {
        self.events += 1;
        if archived {
            self.archived_events += 1;
            self.write(&LineOut::ArchivedEvent(event))
        } else {
            self.write(&LineOut::Event(event))
        }
    }

    fn finish(mut self) -> Result<DumpSummary, DumpError> {
        let sha256 = hex::encode(self.hasher.clone().finalize());
        let records = self.records.values().sum::<u64>() + self.archived;
        self.write(&LineOut::End(&Trailer { records, events: self.events, sha256: sha256.clone() }))?;
        self.out.flush().map_err(DumpError::Write)?;
        Ok(DumpSummary {
            records: self.records,
            archived: self.archived,
            events: self.events,
            archived_events: self.archived_events,
            sha256,
        })
    }
}

/// Writes every record and event of `source` to `out` as a dump.
pub fn export(source: Source<'_>, out: &mut dyn Write, progress: &Progress) -> Result<DumpSummary, DumpError> {
    source.read(|reader| {
        let mut writer = DumpWriter::new(out)?;
        let bar = progress.counter("exporting records", "records");
        for kind in RecordKind::ALL {
            let mut records = reader.records(kind)?;
            // Stores list in key order already; sorting here makes the bytes independent of
            // how a store compares text.
            records.sort_by(|a, b| a.key().id().as_bytes().cmp(b.key().id().as_bytes()));
            for record in &records {
                writer.record(record)?;
                bar.inc(1);
            }
        }
        let mut after: Option<InquiryId> = None;
        loop {
            let page = reader.archived_inquiries(after.as_ref(), EVENT_PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for inquiry in page {
                writer.archived(&Record::Inquiry(inquiry))?;
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        let bar = progress.counter("exporting events", "events");
        // The hot log and the archive, merged by number, a page of each at a time.
        let (mut hot, mut cold) = (EventPages::default(), EventPages::default());
        loop {
            let next_hot = hot.peek(|after| reader.events(after, EVENT_PAGE))?.map(|e| e.seq);
            let next_cold = cold.peek(|after| reader.archived_events(after, EVENT_PAGE))?.map(|e| e.seq);
            let archived = match (next_hot, next_cold) {
                (None, None) => break,
                (Some(h), Some(c)) => c < h,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            let event = if archived { cold.pop() } else { hot.pop() };
            if let Some(event) = event {
                writer.event(&event, archived)?;
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        writer.finish()
    })
}

/// One log read a page at a time, for merging two logs by number.
#[derive(Default)]
struct EventPages {
    page: std::collections::VecDeque<Event>,
    after: EventSeq,
    done: bool,
}

impl EventPages {
    /// The next event, reading a page with `read` when the last one is used up.
    fn peek(
        &mut self,
        read: impl FnOnce(EventSeq) -> Result<Vec<Event>, StoreError>,
    ) -> Result<Option<&Event>, StoreError> {
        if self.page.is_empty() && !self.done {
            let page = read(self.after)?;
            match page.last() {
                Some(last) => self.after = last.seq,
                None => self.done = true,
            }
            self.page.extend(page);
        }
        Ok(self.page.front())
    }

    fn pop(&mut self) -> Option<Event> {
        self.page.pop_front()
    }
}

/// Whether [`export_file`] may replace an existing file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Replace a file already under the name (`--force`).
    pub overwrite: bool,
}

/// Exports to `path`, compressed if it ends in `.zst`. The dump is written to a temporary file
/// beside it, synced to disk, and only then renamed to `path`: a failed export (a full disk)
/// leaves no file under the name, and an existing file stays as it was.
pub fn export_file(
    source: Source<'_>,
    path: &Path,
    options: ExportOptions,
    progress: &Progress,
) -> Result<DumpSummary, DumpError> {
    if !options.overwrite && path.exists() {
        return Err(DumpError::FileExists { path: path.to_owned() });
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let file = File::create(&partial).map_err(|source| DumpError::Open { path: partial.clone(), source })?;
    let written = write_file(source, file, Compression::for_path(path), progress)
        .and_then(|summary| std::fs::rename(&partial, path).map(|()| summary).map_err(DumpError::Write));
    match written {
        Ok(summary) => {
            // The rename is durable once the directory is synced; not every system allows it.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(summary)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

fn write_file(
    source: Source<'_>,
    file: File,
    compression: Compression,
    progress: &Progress,
) -> Result<DumpSummary, DumpError> {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let (summary, out) = match compression {
        Compression::None => (export(source, &mut out, progress)?, out),
        Compression::Zstd => {
            let mut encoder = zstd::Encoder::new(out, 3).map_err(DumpError::Write)?;
            let summary = export(source, &mut encoder, progress)?;
            (summary, encoder.finish().map_err(DumpError::Write)?)
        }
    };
    let file = out.into_inner().map_err(|e| DumpError::Write(e.into_error()))?;
    file.sync_all().map_err(DumpError::Write)?;
    Ok(summary)
}

/// A dump read and checked whole: what [`import`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    /// Its header.
    pub header: Header,
    /// Every record of the hot set, in the dump's order.
    pub records: Vec<Record>,
    /// Every archived inquiry, by id.
    pub archived: Vec<Record>,
    /// Every event, hot and archived, in number order.
    pub events: Vec<Event>,
    /// The numbers of the archived events among them.
    pub archived_events: std::collections::BTreeSet<EventSeq>,
    /// Counts and checksum, as checked against the end line.
    pub summary: DumpSummary,
}

/// Reads a dump and checks all of it: the header (format and version), every line, keys
/// unique, events in increasing order (1, 2, 3, … without gaps in version 1), archived events
/// about no hot conversation and events about archived ones archived, the end line's counts
/// and checksum, nothing after it. Errors name the line.
pub fn read(input: &mut dyn BufRead, progress: &Progress) -> Result<Dump, DumpError> {
    let mut lines = LineReader { input, buf: Vec::new(), number: 0 };
    let Some((_, first)) = lines.next()? else {
        return Err(DumpError::Line { line: 1, problem: "the dump is empty".into() });
    };
    let mut hasher = Sha256::new();
    hasher.update(first);
    let header = read_header(first)?;
    let mut records: Vec<Record> = Vec::new();
    let mut archived: Vec<Record> = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut archived_events = std::collections::BTreeSet::new();
    let mut archived_keys: std::collections::HashSet<RecordKey> = std::collections::HashSet::new();
    let mut counts: BTreeMap<RecordKind, u64> = BTreeMap::new();
    let mut record_lines: HashMap<RecordKey, u64> = HashMap::new();
    let mut unique_lines: HashMap<UniqueKey, (RecordKey, u64)> = HashMap::new();
    let bar = progress.counter("reading the dump", "lines");
    loop {
        let read = lines.number;
        let Some((line, bytes)) = lines.next()? else {
            return Err(DumpError::Truncated { lines: read });
        };
        bar.inc(1);
        let problem = |problem: String| DumpError::Line { line, problem };
        let parsed: LineIn = serde_json::from_slice(bytes.strip_suffix(b"\n").unwrap_or(bytes))
            .map_err(|e| problem(format!("not a dump line ({e})")))?;
        let is_archived = matches!(parsed, LineIn::ArchivedEvent(_));
        match parsed {
            LineIn::Record(record) => {
                if !events.is_empty() || !archived.is_empty() {
                    return Err(problem("a record after the archive or the events: records come first".into()));
                }
                let key = record.key();
                if let Some(first) = record_lines.insert(key.clone(), line) {
                    return Err(problem(format!("{key} appears twice (first on line {first})")));
                }
                for unique in record.unique_keys() {
                    if let Some((owner, first)) = unique_lines.insert(unique.clone(), (key.clone(), line)) {
                        return Err(problem(format!("{key} claims {unique}, which {owner} holds (line {first})")));
                    }
                }
                *counts.entry(record.kind()).or_default() += 1;
                records.push(record);
            }
            LineIn::Archived(record) => {
                if header.version < 2 || !events.is_empty() {
                    return Err(problem("an archived record where it does not belong".into()));
                }
                let key = record.key();
                if record.as_inquiry().map(|i| i.status) != Some(InquiryStatus::Closed) {
                    return Err(problem(format!("{key} is archived but is not a closed inquiry")));
                }
                if let Some(first) = record_lines.insert(key.clone(), line) {
                    return Err(problem(format!("{key} appears twice (first on line {first})")));
                }
                archived_keys.insert(key);
                archived.push(record);
            }
            LineIn::ArchivedEvent(event) if header.version < 2 => {
                return Err(problem(format!("event {}: version 1 has no archived events", event.seq.0)));
            }
            LineIn::Event(event) | LineIn::ArchivedEvent(event) => {
                let last = events.last().map_or(0, |e: &Event| e.seq.0);
                let gapless = header.version < 2;
                if event.seq.0 <= last || (gapless && event.seq.0 != last + 1) {
                    return Err(problem(format!(
                        "event {} after event {last}: events are numbered in increasing order{}",
                        event.seq.0,
                        if gapless { ", 1, 2, 3, … without gaps" } else { "" }
                    )));
                }
                if let Some(about) = &event.event.inquiry {
                    let key = RecordKey::Inquiry(about.clone());
                    let in_archive = archived_keys.contains(&key);
                    if is_archived && record_lines.contains_key(&key) && !in_archive {
                        return Err(problem(format!(
                            "archived event {} is about {key}, which is not archived",
                            event.seq.0
                        )));
                    }
                    if !is_archived && in_archive {
                        return Err(problem(format!(
                            "event {} is about archived {key} but is not archived",
                            event.seq.0
                        )));
                    }
                }
                if is_archived {
                    archived_events.insert(event.seq);
                }
                events.push(event);
            }
            LineIn::End(trailer) => {
                let sha256 = hex::encode(hasher.finalize());
                let record_count = (records.len() + archived.len()) as u64;
                if trailer.records != record_count || trailer.events != events.len() as u64 {
                    return Err(problem(format!(
                        "the end line counts {} records and {} events, the dump holds {record_count} and {}",
                        trailer.records,
                        trailer.events,
                        events.len()
                    )));
                }
                if trailer.sha256 != sha256 {
                    return Err(problem(format!(
                        "checksum mismatch: the lines before hash to {sha256}, the end line says {}; the dump was damaged or edited",
                        trailer.sha256
                    )));
                }
                if let Some((line, _)) = lines.next()? {
                    return Err(DumpError::Line { line, problem: "more after the end line".into() });
                }
                bar.finish_and_clear();
                let summary = DumpSummary {
                    records: counts,
                    archived: archived.len() as u64,
                    events: events.len() as u64,
                    archived_events: archived_events.len() as u64,
                    sha256,
                };
                return Ok(Dump { header, records, archived, events, archived_events, summary });
            }
        }
        hasher.update(bytes);
    }
}

/// Reads and checks a dump file, decompressing it if its name ends in `.zst`.
pub fn read_file(path: &Path, progress: &Progress) -> Result<Dump, DumpError> {
    let file = File::open(path).map_err(|source| DumpError::Open { path: path.to_owned(), source })?;
    let file = BufReader::with_capacity(1 << 20, file);
    match Compression::for_path(path) {
        Compression::None => {
            let mut file = file;
            read(&mut file, progress)
        }
        Compression::Zstd => {
            let decoder = zstd::Decoder::with_buffer(file).map_err(|source| DumpError::Read { line: 1, source })?;
            read(&mut BufReader::with_capacity(1 << 20, decoder), progress)
        }
    }
}

fn read_header(line: &[u8]) -> Result<Header, DumpError> {
    let not_a_dump = || {
        DumpError::Line {
        line: 1,
        problem: format!("not a Lobby dump: the first line must be a header like {{\"format\":\"{FORMAT}\",\"version\":{FORMAT_VERSION},…}}"),
    }
    };
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|_| not_a_dump())?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(not_a_dump());
    }
    let header: Header = serde_json::from_value(value)
        .map_err(|e| DumpError::Line { line: 1, problem: format!("a header without its fields ({e})") })?;
    if header.version > FORMAT_VERSION {
        return Err(DumpError::NewerFormat { version: header.version, lobby: header.lobby });
    }
    if header.version == 0 {
        return Err(DumpError::Line { line: 1, problem: "unknown format version 0".to_owned() });
    }
    Ok(header)
}

struct LineReader<'a> {
    input: &'a mut dyn BufRead,
    buf: Vec<u8>,
    /// Lines read so far.
    number: u64,
}

impl LineReader<'_> {
    /// The next whole line, `\n` included, and its number; `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, &[u8])>, DumpError> {
        self.buf.clear();
        let line = self.number + 1;
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = (&mut *self.input).take(limit).read_until(b'\n', &mut self.buf);
        let read = read.map_err(|source| DumpError::Read { line, source })?;
        if read == 0 {
            return Ok(None);
        }
        if self.buf.last() != Some(&b'\n') {
            let problem = if self.buf.len() > MAX_LINE_BYTES {
                format!("longer than {MAX_LINE_BYTES} bytes")
            } else {
                "cut off before its end: the dump is truncated".to_owned()
            };
            return Err(DumpError::Line { line, problem });
        }
        self.number = line;
        Ok(Some((line, &self.buf)))
    }
}

/// What [`import`] may find in its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPolicy {
    /// Refuse a target that holds any record or event.
    MustBeEmpty,
    /// `--force`: in the same single commit, delete every record of the target that the dump
    /// does not hold and overwrite those it does. The target's events stay; the dump's follow
    /// them, numbered on from the target's last.
    Replace,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// What the dump held (all of it was written).
    pub dump: DumpSummary,
    /// Records of the target that were deleted or overwritten ([`TargetPolicy::Replace`]).
    pub replaced: u64,
    /// The number the first imported event got in the target (1 in an empty one).
    pub first_event: Option<EventSeq>,
    /// The dump's events had gaps (retention deleted some), so the target numbered them 1, 2,
    /// 3, … in the same order.
    pub renumbered: bool,
}

/// Writes a checked dump into `target` in one commit: everything or, on any error, nothing.
/// Then, if the dump has an archive, moves its archived conversations and events into the
/// target's archive with one [`Store::retire`]; should that fail, they stay in the hot set
/// ([`DumpError::ArchiveFailed`]), where the next retention pass finds them.
pub fn import(
    dump: Dump,
    target: &dyn Store,
    policy: TargetPolicy,
    progress: &Progress,
) -> Result<ImportSummary, DumpError> {
    let current = contents(target)?;
    let has_events = !target.events(&EventQuery::all().limit(1))?.is_empty();
    let has_archive = !target.archived_inquiries(None, 1)?.is_empty()
        || !target.archived_events(&EventQuery::all().limit(1))?.is_empty();
    if policy == TargetPolicy::MustBeEmpty && (!current.is_empty() || has_events || has_archive) {
        let mut holds = describe_contents(&current, has_events);
        if has_archive {
            holds = if holds.is_empty() { "an archive".to_owned() } else { format!("{holds}, an archive") };
        }
        return Err(DumpError::TargetNotEmpty { holds });
    }
    if has_archive {
        return Err(DumpError::TargetHasArchive);
    }
    let replaced = current.len() as u64;
    // Archived records are written right after the hot ones: their versions follow them.
    let first_archived = dump.records.len();
    let archived_ids: Vec<InquiryId> =
        dump.archived.iter().filter_map(|r| r.as_inquiry().map(|inquiry| inquiry.id.clone())).collect();
    let mut writes = Vec::with_capacity(dump.records.len() + dump.archived.len() + current.len());
    let mut current = current;
    for record in dump.records.into_iter().chain(dump.archived) {
        writes.push(match current.remove(&record.key()) {
            Some(version) => RecordWrite::update(version, record),
            None => RecordWrite::create(record),
        });
    }
    writes.extend(current.into_iter().map(|(key, version)| RecordWrite::delete(key, version)));
    let archived_count = archived_ids.len();
    let expected_events: Vec<EventSeq> = dump.events.iter().map(|e| e.seq).collect();
    let gapless = expected_events.iter().enumerate().all(|(n, seq)| seq.0 == n as u64 + 1);
    // Archived events about an archived conversation go with it; the others are named.
    let archived_set: std::collections::HashSet<&InquiryId> = archived_ids.iter().collect();
    let loose: Vec<usize> = dump
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| dump.archived_events.contains(&e.seq))
        .filter(|(_, e)| e.event.inquiry.as_ref().is_none_or(|id| !archived_set.contains(id)))
        .map(|(n, _)| n)
        .collect();
    let events: Vec<NewEvent> = dump.events.into_iter().map(|e| e.event).collect();
    let bar = progress.counter("writing in one commit", "records");
    bar.set_position(writes.len() as u64);
    let receipt = target.commit(Commit { writes, events }).map_err(|error| match error {
        StoreError::Conflict { .. } => DumpError::TargetChanged(error),
        other => DumpError::Store(other),
    })?;
    target.flush()?;
    bar.finish_and_clear();
    let numbered: Vec<EventSeq> = receipt.events.iter().map(|e| e.seq).collect();
    if policy == TargetPolicy::MustBeEmpty && gapless && numbered != expected_events {
        return Err(DumpError::Verify(format!(
            "the empty target numbered the imported events from {:?} instead of 1",
            numbered.first().map(|s| s.0)
        )));
    }
    if archived_count > 0 || !loose.is_empty() {
        let versions = &receipt.versions[first_archived..first_archived + archived_count];
        let retirement = Retirement {
            action: RetentionAction::Archive,
            inquiries: archived_ids.into_iter().zip(versions.iter().copied()).collect(),
            events: loose.iter().map(|&n| numbered[n]).collect(),
        };
        target
            .retire(&retirement)
            .and_then(|_| target.flush())
            .map_err(|source| DumpError::ArchiveFailed { inquiries: archived_count, source })?;
    }
    Ok(ImportSummary { dump: dump.summary, replaced, first_event: numbered.first().copied(), renumbered: !gapless })
}

/// Every record key of `store` with its version.
fn contents(store: &dyn Store) -> Result<BTreeMap<RecordKey, Version>, StoreError> {
    let mut keys = BTreeMap::new();
    for kind in RecordKind::ALL {
        keys.extend(store.scan(kind)?.into_iter().map(|stored| (stored.value.key(), stored.version)));
    }
    Ok(keys)
}

fn describe_contents(keys: &BTreeMap<RecordKey, Version>, has_events: bool) -> String {
    let mut counts: BTreeMap<RecordKind, u64> = BTreeMap::new();
    for key in keys.keys() {
        *counts.entry(key.kind()).or_default() += 1;
    }
    let mut parts: Vec<String> = counts.iter().map(|(kind, n)| format!("{n} {}", kind.plural())).collect();
    if has_events {
        parts.push("events".into());
    }
    parts.join(", ")
}

/// What [`migrate`] moved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// What the source held, and its dump's checksum.
    pub source: DumpSummary,
    /// The target read back after the move, and its dump's checksum (equal to the source's
    /// when the target was empty).
    pub target: DumpSummary,
    /// Target records deleted or overwritten ([`TargetPolicy::Replace`]).
    pub replaced: u64,
}

/// Moves every record and event from `source` into `target` (one commit, as [`import`]), then
/// reads the target back and checks it: the same number of records of each kind, each record
/// identical (by SHA-256 of its JSON), and the source's events at the end of the target's log.
pub fn migrate(
    source: Source<'_>,
    target: Source<'_>,
    policy: TargetPolicy,
    progress: &Progress,
) -> Result<MigrateReport, DumpError> {
    let mut bytes = Vec::new();
    export(source, &mut bytes, progress)?;
    let dump = read(&mut bytes.as_slice(), progress)?;
    drop(bytes);
    let expected = Fingerprint::of(&dump);
    let source_summary = dump.summary.clone();
    let imported = import(dump, target.store(), policy, progress)?;

    let mut bytes = Vec::new();
    export(target, &mut bytes, progress)?;
    let written = read(&mut bytes.as_slice(), progress)?;
    let found = Fingerprint::of(&written);
    expected.verify(&found, policy)?;
    Ok(MigrateReport { source: source_summary, target: written.summary, replaced: imported.replaced })
}

/// A digest of each record and each event, to compare two stores' contents.
struct Fingerprint {
    /// Each record's digest, archived ones told apart.
    records: BTreeMap<RecordKey, ([u8; 32], bool)>,
    /// Each event's digest without its number (and whether it is archived), and its number.
    events: Vec<(EventSeq, ([u8; 32], bool))>,
}

impl Fingerprint {
    fn of(dump: &Dump) -> Self {
        let hot = dump.records.iter().map(|r| (r.key(), (digest(r), false)));
        let archived = dump.archived.iter().map(|r| (r.key(), (digest(r), true)));
        Self {
            records: hot.chain(archived).collect(),
            events: dump
                .events
                .iter()
                .map(|e| (e.seq, (digest(&e.event), dump.archived_events.contains(&e.seq))))
                .collect(),
        }
    }

    /// Numbered 1, 2, 3, … without gaps.
    fn gapless(&self) -> bool {
        self.events.iter().enumerate().all(|(n, (seq, _))| seq.0 == n as u64 + 1)
    }

    /// Checks that `found` (the target after the import) holds exactly these records and ends
    /// with these events; numbered alike unless the target had events of its own.
    fn verify(&self, found: &Fingerprint, policy: TargetPolicy) -> Result<(), DumpError> {
        let missing: Vec<String> =
            self.records.keys().filter(|k| !found.records.contains_key(*k)).map(|k| k.to_path()).collect();
        let extra: Vec<String> =
            found.records.keys().filter(|k| !self.records.contains_key(*k)).map(|k| k.to_path()).collect();
        let different: Vec<String> = self
            .records
            .iter()
            .filter(|(key, digest)| found.records.get(*key).is_some_and(|other| other != *digest))
            .map(|(key, _)| key.to_path())
            .collect();
        for (what, keys) in [("missing from", missing), ("only in", extra), ("different in", different)] {
            if !keys.is_empty() {
                let shown: Vec<&str> = keys.iter().take(5).map(String::as_str).collect();
                return Err(DumpError::Verify(format!(
                    "{} record(s) {what} the target: {}{}",
                    keys.len(),
                    shown.join(", "),
                    if keys.len() > 5 { ", …" } else { "" }
                )));
            }
        }
        let tail = found.events.len().checked_sub(self.events.len()).map(|start| &found.events[start..]);
        let same_events = tail.is_some_and(|tail| {
            tail.iter().zip(&self.events).all(|((seq, digest), (expected_seq, expected))| {
                digest == expected && (policy == TargetPolicy::Replace || !self.gapless() || seq == expected_seq)
            })
        });
        if !same_events || (policy == TargetPolicy::MustBeEmpty && found.events.len() != self.events.len()) {
            return Err(DumpError::Verify(format!(
                "the target's event log ({} events) does not end with the source's {} events",
                found.events.len(),
                self.events.len()
            )));
        }
        Ok(())
    }
}

/// The SHA-256 of a value's JSON. Records and events are plain data: serializing them cannot
/// fail (and a failure would show as a mismatch, not pass unseen).
fn digest(value: &impl Serialize) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(value).unwrap_or_default()).into()
}
