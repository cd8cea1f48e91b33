//! Timestamps as Rocket.Chat writes them: RFC 3339, UTC, milliseconds, `Z`
//! (`2019-06-11T19:01:57.424Z`), and clocks that the embedder (or a test) provides.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with millisecond precision, the resolution of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 1970-01-01T00:00:00.000Z.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The latest instant: "no deadline before the end of time".
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// [`Timestamp::EPOCH`], as a function (for serde defaults).
    pub fn epoch() -> Self {
        Self::EPOCH
    }

    /// `duration` later, saturating at the end of time.
    pub fn plus(self, duration: std::time::Duration) -> Self {
        self.plus_millis(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
    }

    /// Milliseconds since the Unix epoch.
    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// From chrono's UTC time, truncated to milliseconds.
    pub fn from_datetime(datetime: DateTime<Utc>) -> Self {
        Self(datetime.timestamp_millis())
    }

    /// Out-of-range instants (beyond year ±262,000) clamp to the epoch rather than panic.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0).single().unwrap_or_default()
    }

    /// Parses RFC 3339 (any offset; converted to UTC, truncated to milliseconds).
    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text).ok().map(|d| Self::from_datetime(d.with_timezone(&Utc)))
    }

    /// Milliseconds from `earlier` to `self`, never negative.
    pub fn millis_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0).max(0) as u64
    }

    /// `millis` later (earlier when negative), saturating at the ends of time.
    pub fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {text:?}")))
    }
}

/// Where the engine gets "now". Injected so that tests and replays are deterministic.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(Utc::now())
    }
}

/// A clock that moves only when told to; each reading advances it by `step` milliseconds so
/// that successive events still have distinct, increasing times.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
    step: i64,
}

impl ManualClock {
    /// A clock at `start` that moves `step_millis` with every reading (0: stands still).
    pub fn new(start: Timestamp, step_millis: i64) -> Self {
        Self { millis: AtomicI64::new(start.as_millis()), step: step_millis }
    }

    /// Moves the clock `millis` forward (backward when negative).
    pub fn advance(&self, millis: i64) {
        self.millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.millis.fetch_add(self.step, Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_wire_format() {
        let text = "2019-06-11T19:01:57.424Z";
        let ts = Timestamp::parse(text).unwrap();
        assert_eq!(ts.to_string(), text);
        assert_eq!(serde_json::to_string(&ts).unwrap(), format!("\"{text}\""));
    }

    #[test]
    fn offsets_are_normalised_to_utc_and_bad_text_is_an_error() {
        assert_eq!(Timestamp::parse("2019-06-11T21:01:57.424+02:00").unwrap().to_string(), "2019-06-11T19:01:57.424Z");
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert_eq!(Timestamp::from_millis(i64::MAX).to_string(), "1970-01-01T00:00:00.000Z");
    }
}
