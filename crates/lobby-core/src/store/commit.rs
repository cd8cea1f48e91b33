//! How a store applies a commit: the writes and events it carries, and the checks every store
//! makes before applying one (shape, versions, unique keys), written once here.

use crate::event::{Event, NewEvent};

use super::{Record, RecordKey, StoreError, UniqueKey, Version};

/// One write in a [`Commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The record written.
    pub key: RecordKey,
    /// The version the writer read; `None` means "must not exist yet".
    pub expected: Option<Version>,
    /// The new value; `None` deletes the record.
    pub value: Option<Record>,
}

impl Write {
    /// Creates `record`, which must not exist yet.
    pub fn create(record: Record) -> Self {
        Self { key: record.key(), expected: None, value: Some(record) }
    }

    /// Replaces the record read at `read_at` with `record`.
    pub fn update(read_at: Version, record: Record) -> Self {
        Self { key: record.key(), expected: Some(read_at), value: Some(record) }
    }

    /// Deletes the record read at `read_at`.
    pub fn delete(key: RecordKey, read_at: Version) -> Self {
        Self { key, expected: Some(read_at), value: None }
    }
}

/// Writes and events applied all-or-nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commit {
    /// The writes, applied together or not at all.
    pub writes: Vec<Write>,
    /// The events to number and record with them.
    pub events: Vec<NewEvent>,
}

impl Commit {
    /// Checks what every store must reject before touching anything: a write whose value lives
    /// under another key, or two writes to one key.
    pub fn validate(&self) -> Result<(), StoreError> {
        let mut seen = std::collections::BTreeSet::new();
        for write in &self.writes {
            if let Some(value) = &write.value {
                if value.key() != write.key {
                    return Err(StoreError::InvalidCommit(format!(
                        "write to {} carries a record for {}",
                        write.key,
                        value.key()
                    )));
                }
            }
            if !seen.insert(&write.key) {
                return Err(StoreError::InvalidCommit(format!("two writes to {}", write.key)));
            }
            if write.expected.is_none() && write.value.is_none() {
                return Err(StoreError::InvalidCommit(format!("delete of {} without a version", write.key)));
            }
        }
        Ok(())
    }
}

/// For store authors: checks every write against the version its record has now — `current`
/// gives it, as read under the commit's lock or transaction (`None`: the record does not
/// exist) — and returns the version each write leaves: `stamp` for a create or an update, the
/// version it had for a delete. Fails with [`StoreError::Conflict`] on the first write whose
/// expected version is not the current one.
///
/// `stamp` must be greater than every version the store ever gave (a store-wide counter, bumped
/// once per commit), which is what keeps a key from seeing a version twice. Call this before
/// [`plan_unique_keys`]: a conflict wins over a duplicate.
pub fn plan_versions(
    writes: &[Write],
    mut current: impl FnMut(&RecordKey) -> Result<Option<Version>, StoreError>,
    stamp: Version,
) -> Result<Vec<Version>, StoreError> {
    writes
        .iter()
        .map(|write| {
            let version = current(&write.key)?;
            if version != write.expected {
                return Err(StoreError::Conflict { key: write.key.clone() });
            }
            Ok(match (version, &write.value) {
                (Some(version), None) => version,
                _ => stamp,
            })
        })
        .collect()
}

/// What a successful commit produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReceipt {
    /// The new version of each write, in order (for a delete, the version it had).
    pub versions: Vec<Version>,
    /// The events as numbered, in order.
    pub events: Vec<Event>,
}

/// The unique-key changes a commit makes: keys to release and keys to claim.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UniqueKeyChanges {
    /// Keys the commit's records no longer hold.
    pub release: Vec<UniqueKey>,
    /// Keys the commit's records newly hold, and their owners.
    pub claim: Vec<(UniqueKey, RecordKey)>,
}

/// For store authors: works out which unique keys a commit releases and claims, and fails with
/// [`StoreError::Duplicate`] if a claimed key belongs to another record that keeps it, or two
/// writes claim it. `current_keys` gives the unique keys of each write's current record (as
/// read under the commit's lock or transaction; none if it does not exist), typically
/// `record.unique_keys()`; `owner_of` looks up a key's current owner.
pub fn plan_unique_keys(
    writes: &[Write],
    mut current_keys: impl FnMut(&RecordKey) -> Result<Vec<UniqueKey>, StoreError>,
    mut owner_of: impl FnMut(&UniqueKey) -> Result<Option<RecordKey>, StoreError>,
) -> Result<UniqueKeyChanges, StoreError> {
    let mut changes = UniqueKeyChanges::default();
    for write in writes {
        let old = current_keys(&write.key)?;
        let new = write.value.as_ref().map(|r| r.unique_keys()).unwrap_or_default();
        changes.release.extend(old.iter().filter(|k| !new.contains(k)).cloned());
        changes.claim.extend(new.into_iter().filter(|k| !old.contains(k)).map(|k| (k, write.key.clone())));
    }
    // Sets, not scans of the lists: a restore commits every record at once, and a scan per
    // claim made that quadratic (minutes at 100,000 records).
    let released: std::collections::BTreeSet<&UniqueKey> = changes.release.iter().collect();
    let mut claimed = std::collections::BTreeSet::new();
    for (key, claimant) in &changes.claim {
        if !claimed.insert(key) {
            return Err(StoreError::Duplicate { key: key.clone() });
        }
        if let Some(owner) = owner_of(key)? {
            if &owner != claimant && !released.contains(key) {
                return Err(StoreError::Duplicate { key: key.clone() });
            }
        }
    }
    Ok(changes)
}
