//! The archive: where retention moves closed conversations and old events, out of the hot set
//! that listings, totals, indexes and the event feed cover, but still readable by id, by room
//! and by history ([`Store::archived_inquiry`](super::Store::archived_inquiry),
//! [`Store::archived_events`](super::Store::archived_events)).
//!
//! Which records leave, and when, is the engine's decision (`Engine::retire`); a store only
//! applies a [`Retirement`], all-or-nothing, checking each inquiry's version as a commit does.

use std::str::FromStr;
use std::time::Duration;

use crate::event::{Event, EventSeq};
use crate::ids::{InquiryId, RoomId};
use crate::model::{Inquiry, InquiryStatus};

use super::{Record, RecordKey, StoreError, Version, Versioned};

/// What happens to what leaves the hot set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RetentionAction {
    /// Moved to the store's archive: gone from listings, totals and the feed, still readable
    /// by `getOne`, history and export.
    #[default]
    Archive,
    /// Deleted for good.
    Delete,
}

impl RetentionAction {
    /// The name `--retention-action` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Archive => "archive",
            Self::Delete => "delete",
        }
    }
}

/// One batch of retention, applied all-or-nothing by [`Store::retire`](super::Store::retire).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retirement {
    /// Archive or delete.
    pub action: RetentionAction,
    /// Closed inquiries, each with the version it was read at: the batch fails with
    /// [`StoreError::Conflict`] if one has changed or is gone. Every event about each of them
    /// leaves with it, so a conversation and its history are always in the same place.
    pub inquiries: Vec<(InquiryId, Version)>,
    /// Events about no stored inquiry (about none at all, or about one already retired), by
    /// number. A number no longer in the hot log is skipped, so two servers retiring the same
    /// event do not fail; an event about an inquiry still in the hot set is refused
    /// ([`StoreError::InvalidCommit`]).
    pub events: Vec<EventSeq>,
}

impl Retirement {
    /// Checks what every store must reject before touching anything: an inquiry or an event
    /// named twice.
    pub fn validate(&self) -> Result<(), StoreError> {
        let mut inquiries = std::collections::HashSet::new();
        if let Some((id, _)) = self.inquiries.iter().find(|(id, _)| !inquiries.insert(id)) {
            return Err(StoreError::InvalidCommit(format!("inquiry {id} is retired twice")));
        }
        let mut events = std::collections::HashSet::new();
        if let Some(seq) = self.events.iter().find(|seq| !events.insert(**seq)) {
            return Err(StoreError::InvalidCommit(format!("event {} is retired twice", seq.0)));
        }
        Ok(())
    }
}

/// For store authors: checks one of a [`Retirement`]'s inquiries against what is stored now
/// (`current`, as read under the store's commit lock or transaction) and returns it. Fails with
/// [`StoreError::Conflict`] if it is gone or at another version, and with
/// [`StoreError::InvalidCommit`] if it is not closed: only finished conversations retire.
pub fn check_retired_inquiry(
    id: &InquiryId,
    expected: Version,
    current: Option<Versioned<Record>>,
) -> Result<Versioned<Inquiry>, StoreError> {
    let key = RecordKey::Inquiry(id.clone());
    let Some(found) = current.filter(|found| found.version == expected) else {
        return Err(StoreError::Conflict { key });
    };
    match found.value {
        Record::Inquiry(inquiry) if inquiry.status == InquiryStatus::Closed => {
            Ok(Versioned { version: found.version, value: inquiry })
        }
        Record::Inquiry(inquiry) => Err(StoreError::InvalidCommit(format!(
            "{key} is {}, not closed: it cannot retire",
            inquiry.status.as_str()
        ))),
        other => Err(StoreError::Corrupt(format!("{key} holds a {} record", other.kind().as_str()))),
    }
}

/// For store authors: checks that `event`, named in a [`Retirement`]'s `events`, is not about an
/// inquiry still in the hot set (`is_hot` says which are, as read under the store's lock).
pub fn check_retired_event(
    event: &Event,
    is_hot: impl FnOnce(&InquiryId) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    match &event.event.inquiry {
        Some(id) if is_hot(id)? => Err(StoreError::InvalidCommit(format!(
            "event {} is about inquiry {id}, which is still in the hot set: it retires with it",
            event.seq.0
        ))),
        _ => Ok(()),
    }
}

/// What a [`Retirement`] moved (or deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetirementReceipt {
    /// Inquiries.
    pub inquiries: usize,
    /// Events, those that went with their inquiries included.
    pub events: usize,
}

/// How an archived inquiry is looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArchiveKey {
    /// By its id.
    Inquiry(InquiryId),
    /// By its room (`inquiries.getOne`). A room id reused by a later conversation finds the one
    /// archived last.
    Room(RoomId),
}

/// How long closed conversations stay in the hot set: `30d`, `12h`, `90m`, `3600s` or a number
/// of seconds; `0` keeps everything forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RetentionAge(Option<Duration>);

impl RetentionAge {
    /// Keep everything (the default).
    pub const FOREVER: RetentionAge = RetentionAge(None);

    /// Closed conversations leave once they have not changed for `age`.
    pub fn after(age: Duration) -> Self {
        Self((!age.is_zero()).then_some(age))
    }

    /// The age, or `None` for forever.
    pub fn age(self) -> Option<Duration> {
        self.0
    }
}

impl std::fmt::Display for RetentionAge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(age) = self.0 else { return f.write_str("0") };
        let seconds = age.as_secs();
        match [(86_400, 'd'), (3_600, 'h'), (60, 'm')].into_iter().find(|(unit, _)| seconds % unit == 0) {
            Some((unit, suffix)) => write!(f, "{}{suffix}", seconds / unit),
            None => write!(f, "{seconds}s"),
        }
    }
}

/// A retention age that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a retention age: use a number with d, h, m or s (30d, 12h), or 0 to keep forever")]
pub struct RetentionAgeError(String);

impl FromStr for RetentionAge {
    type Err = RetentionAgeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || RetentionAgeError(text.to_owned());
        let trimmed = text.trim();
        let (digits, unit) = match trimmed.char_indices().last() {
            Some((at, suffix)) if suffix.is_ascii_alphabetic() => (&trimmed[..at], suffix),
            _ => (trimmed, 's'),
        };
        let multiplier: u64 = match unit {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(error()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error());
        }
        let count: u64 = digits.parse().map_err(|_| error())?;
        // Ten thousand years is forever in practice; anything longer is a typo, and keeps the
        // cut-off arithmetic far from overflowing.
        let seconds = count.checked_mul(multiplier).filter(|s| *s <= 10_000 * 365 * 86_400).ok_or_else(error)?;
        Ok(Self::after(Duration::from_secs(seconds)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_with_units_and_print_back() {
        for (text, seconds, printed) in [
            ("30d", 2_592_000, "30d"),
            ("12h", 43_200, "12h"),
            ("90m", 5_400, "90m"),
            ("45", 45, "45s"),
            ("7200s", 7_200, "2h"),
        ] {
            let age: RetentionAge = text.parse().unwrap();
            assert_eq!(age.age(), Some(Duration::from_secs(seconds)), "{text}");
            assert_eq!(age.to_string(), printed);
        }
        assert_eq!("0".parse::<RetentionAge>().unwrap(), RetentionAge::FOREVER);
        assert_eq!("0d".parse::<RetentionAge>().unwrap().age(), None);
    }

    #[test]
    fn bad_ages_are_refused_with_the_text() {
        for text in ["", "d", "30x", "-1d", "1.5d", "30 d", "99999999999999999999d", "3w"] {
            let error = text.parse::<RetentionAge>().unwrap_err();
            assert!(error.to_string().contains(&format!("'{text}'")), "{error}");
        }
    }

    #[test]
    fn a_retirement_naming_something_twice_is_invalid() {
        let id = InquiryId::new("i1").unwrap();
        let twice = Retirement { inquiries: vec![(id.clone(), Version(1)), (id, Version(2))], ..Default::default() };
        assert!(matches!(twice.validate(), Err(StoreError::InvalidCommit(_))));
        let events = Retirement { events: vec![EventSeq(3), EventSeq(3)], ..Default::default() };
        assert!(matches!(events.validate(), Err(StoreError::InvalidCommit(_))));
    }
}
