//! Business hours: a department's weekly opening times in its own time zone, with daylight
//! saving handled by the time-zone database (chrono-tz). Pure: whether it is open at an
//! instant, and when that next changes — which is a deadline like any other.
//!
//! ```
//! use lobby_core::hours::{BusinessHours, TimeOfDay, WeeklyInterval, WhenClosed, Weekday};
//! use lobby_core::Timestamp;
//!
//! let monday = WeeklyInterval { day: Weekday::Mon, open: TimeOfDay::hm(9, 0)?, close: TimeOfDay::hm(17, 0)? };
//! let hours = BusinessHours::new("Europe/Lisbon", vec![monday], WhenClosed::Refuse)?;
//! // Monday 2026-11-30, 08:59:59.999 in Lisbon (UTC+0 in winter), then 09:00.
//! let before = Timestamp::from_millis(1_796_029_199_999);
//! assert!(!hours.is_open(before));
//! assert_eq!(hours.next_change(before), Some(Timestamp::from_millis(1_796_029_200_000)));
//! # Ok::<(), lobby_core::CoreError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};

/// The day of the week, chrono's (re-exported so embedders need not depend on chrono).
pub use chrono::Weekday;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::CoreError;

/// The most intervals one department may have (a week of split shifts).
pub const MAX_INTERVALS: usize = 7 * 8;

/// A department's weekly opening times. Built only through [`BusinessHours::new`] (or by
/// deserializing, which checks the same), so a stored schedule is always valid: a known time
/// zone, and intervals that are neither inverted nor overlapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Schedule", into = "Schedule")]
pub struct BusinessHours {
    timezone: Tz,
    intervals: Vec<WeeklyInterval>,
    when_closed: WhenClosed,
}

/// One opening on one day of the week, in the department's local time. `close` may be `24:00`;
/// an opening across midnight is two intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyInterval {
    /// The day (`"monday"` … `"sunday"` on the wire).
    #[serde(with = "weekday_name")]
    pub day: Weekday,
    /// Opens at (`"09:00"`).
    pub open: TimeOfDay,
    /// Closes at (`"17:30"`, up to `"24:00"`).
    pub close: TimeOfDay,
}

/// A time of day to the minute, `00:00` to `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

/// A department's last applied opening or closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursState {
    /// Open (`true`) or closed.
    pub open: bool,
    /// When that was applied; the next change is looked for after this instant.
    pub since: Timestamp,
}

/// What happens to a new conversation for a department that is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhenClosed {
    /// Refused with Rocket.Chat's `no-agent-online`.
    #[default]
    Refuse,
    /// Accepted; it waits in the queue until the department opens.
    Queue,
}

impl TimeOfDay {
    /// `hours:minutes`, from `00:00` to `24:00`.
    pub fn hm(hours: u16, minutes: u16) -> Result<Self, CoreError> {
        let total = hours * 60 + minutes;
        if minutes >= 60 || total > 24 * 60 {
            return Err(CoreError::invalid("time", format!("{hours:02}:{minutes:02} is not a time of day")));
        }
        Ok(Self(total))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    fn millis(self) -> i64 {
        i64::from(self.0) * 60_000
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl FromStr for TimeOfDay {
    type Err = CoreError;
    fn from_str(text: &str) -> Result<Self, CoreError> {
        let bad = || CoreError::invalid("time", format!("{text:?} is not a time of day (HH:MM)"));
        let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
        if hours.len() != 2 || minutes.len() != 2 {
            return Err(bad());
        }
        Self::hm(hours.parse().map_err(|_| bad())?, minutes.parse().map_err(|_| bad())?)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl BusinessHours {
    /// A schedule in the IANA time zone `timezone` (`"America/Sao_Paulo"`). Refuses, naming the
    /// field, an unknown zone, an interval that closes before it opens, two intervals that
    /// overlap, and more than [`MAX_INTERVALS`] intervals. Intervals are kept in week order.
    pub fn new(timezone: &str, mut intervals: Vec<WeeklyInterval>, when_closed: WhenClosed) -> Result<Self, CoreError> {
        let timezone: Tz = timezone
            .parse()
            .map_err(|_| CoreError::invalid("businessHours.timezone", format!("unknown time zone {timezone:?}")))?;
        if intervals.len() > MAX_INTERVALS {
            return Err(CoreError::invalid("businessHours.intervals", format!("at most {MAX_INTERVALS} intervals")));
        }
        for (n, interval) in intervals.iter().enumerate() {
            if interval.open >= interval.close {
                let reason = format!(
                    "interval {n} ({}) opens at {} but closes at {}",
                    weekday_name::name(interval.day),
                    interval.open,
                    interval.close
                );
                return Err(CoreError::invalid("businessHours.intervals", reason));
            }
        }
        intervals.sort_by_key(|i| (i.day.num_days_from_monday(), i.open));
        for pair in intervals.windows(2) {
            if pair[0].day == pair[1].day && pair[1].open < pair[0].close {
                let reason = format!(
                    "{} {}–{} overlaps {}–{}",
                    weekday_name::name(pair[0].day),
                    pair[0].open,
                    pair[0].close,
                    pair[1].open,
                    pair[1].close
                );
                return Err(CoreError::invalid("businessHours.intervals", reason));
            }
        }
        Ok(Self { timezone, intervals, when_closed })
    }

    /// The time zone's name.
    pub fn timezone(&self) -> &str {
        self.timezone.name()
    }

    /// The intervals, in week order (Monday first).
    pub fn intervals(&self) -> &[WeeklyInterval] {
        &self.intervals
    }

    /// What happens to new conversations while closed.
    pub fn when_closed(&self) -> WhenClosed {
        self.when_closed
    }

    /// Whether the department is open at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = self.local(at);
        let day = local.weekday();
        let millis = i64::from(local.num_seconds_from_midnight()) * 1000 + i64::from(local.nanosecond() / 1_000_000);
        self.intervals.iter().any(|i| i.day == day && i.open.millis() <= millis && millis < i.close.millis())
    }

    /// The first instant after `after` at which [`BusinessHours::is_open`] changes; `None` if it
    /// never does (no intervals, or open all week). Daylight saving is the zone's: an opening
    /// time that does not exist that day (the clock jumps over it) opens when the jump ends; one
    /// that happens twice opens the first time.
    pub fn next_change(&self, after: Timestamp) -> Option<Timestamp> {
        let now_open = self.is_open(after);
        let start = self.local(after).date_naive() - Duration::days(1);
        let mut boundaries: Vec<Timestamp> = Vec::new();
        for offset in 0..9 {
            let date = start + Duration::days(offset);
            for interval in self.intervals.iter().filter(|i| i.day == date.weekday()) {
                for time in [interval.open, interval.close] {
                    if let Some(instant) = self.instant(date, time) {
                        if instant > after {
                            boundaries.push(instant);
                        }
                    }
                }
            }
        }
        boundaries.sort_unstable();
        boundaries.into_iter().find(|&instant| self.is_open(instant) != now_open)
    }

    fn local(&self, at: Timestamp) -> DateTime<Tz> {
        let utc = DateTime::from_timestamp_millis(at.as_millis()).unwrap_or_default();
        utc.with_timezone(&self.timezone)
    }

    /// The instant of local `time` on `date` (24:00 is the next midnight).
    fn instant(&self, date: NaiveDate, time: TimeOfDay) -> Option<Timestamp> {
        let midnight = NaiveDateTime::new(date, NaiveTime::MIN);
        let mut local = midnight + Duration::minutes(i64::from(time.minutes()));
        // A local time in a daylight-saving gap does not exist: move on to where the gap ends.
        for _ in 0..=180 {
            match self.timezone.from_local_datetime(&local) {
                LocalResult::Single(t) => return Some(Timestamp::from_millis(t.timestamp_millis())),
                LocalResult::Ambiguous(first, _) => return Some(Timestamp::from_millis(first.timestamp_millis())),
                LocalResult::None => local += Duration::minutes(1),
            }
        }
        None
    }
}

/// How business hours look on the wire and in storage.
/// Business hours as written (the wire form), before they are checked: what
/// `BusinessHours::try_from` takes. `{"timezone": "Europe/Lisbon", "intervals": [{"day":
/// "monday", "open": "09:00", "close": "17:00"}], "whenClosed": "refuse"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// An IANA time zone name.
    pub timezone: String,
    /// The weekly openings.
    pub intervals: Vec<WeeklyInterval>,
    /// What happens to new conversations while closed (`"refuse"` when absent).
    #[serde(default)]
    pub when_closed: WhenClosed,
}

impl TryFrom<Schedule> for BusinessHours {
    type Error = CoreError;
    fn try_from(schedule: Schedule) -> Result<Self, CoreError> {
        BusinessHours::new(&schedule.timezone, schedule.intervals, schedule.when_closed)
    }
}

impl From<BusinessHours> for Schedule {
    fn from(hours: BusinessHours) -> Self {
        Schedule {
            timezone: hours.timezone.name().to_owned(),
            intervals: hours.intervals,
            when_closed: hours.when_closed,
        }
    }
}

/// Week days by their English names in lower case (`"monday"`).
mod weekday_name {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    const NAMES: [(&str, Weekday); 7] = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];

    pub fn name(day: Weekday) -> &'static str {
        NAMES.iter().find(|(_, d)| *d == day).map_or("?", |(name, _)| name)
    }

    pub fn serialize<S: Serializer>(day: &Weekday, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(name(*day))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Weekday, D::Error> {
        let text = String::deserialize(deserializer)?;
        NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, day)| *day)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a day of the week (monday … sunday)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::from_millis(DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis())
    }

    fn interval(day: Weekday, open: &str, close: &str) -> WeeklyInterval {
        WeeklyInterval { day, open: open.parse().unwrap(), close: close.parse().unwrap() }
    }

    fn weekdays(zone: &str, open: &str, close: &str) -> BusinessHours {
        let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
        BusinessHours::new(zone, days.map(|d| interval(d, open, close)).to_vec(), WhenClosed::Refuse).unwrap()
    }

    #[test]
    fn opens_and_closes_to_the_millisecond_in_local_time() {
        let hours = weekdays("America/Sao_Paulo", "09:00", "17:00");
        // Monday 2026-11-30, São Paulo is UTC-3.
        assert!(!hours.is_open(at("2026-11-30T11:59:59.999Z")));
        assert!(hours.is_open(at("2026-11-30T12:00:00.000Z")));
        assert!(hours.is_open(at("2026-11-30T19:59:59.999Z")));
        assert!(!hours.is_open(at("2026-11-30T20:00:00.000Z")));
        assert_eq!(hours.next_change(at("2026-11-30T12:00:00.000Z")), Some(at("2026-11-30T20:00:00.000Z")));
        // Friday evening: next opening is Monday morning.
        assert_eq!(hours.next_change(at("2026-12-04T20:00:00.000Z")), Some(at("2026-12-07T12:00:00.000Z")));
    }

    #[test]
    fn daylight_saving_moves_the_utc_instant_and_gaps_open_when_they_end() {
        let hours = weekdays("America/New_York", "09:00", "17:00");
        // Friday 2026-03-06 is EST (UTC-5); Monday 2026-03-09 is EDT (UTC-4).
        assert_eq!(hours.next_change(at("2026-03-06T22:00:00Z")), Some(at("2026-03-09T13:00:00Z")));
        // Sunday 2026-03-08 02:30 does not exist in New York: it opens at 03:00 EDT.
        let sunday =
            BusinessHours::new("America/New_York", vec![interval(Weekday::Sun, "02:30", "04:00")], WhenClosed::Queue)
                .unwrap();
        assert_eq!(sunday.next_change(at("2026-03-08T05:00:00Z")), Some(at("2026-03-08T07:00:00Z")));
        // Sunday 2026-11-01 01:30 happens twice: it opens the first time (EDT, UTC-4).
        let fall =
            BusinessHours::new("America/New_York", vec![interval(Weekday::Sun, "01:30", "12:00")], WhenClosed::Queue)
                .unwrap();
        assert_eq!(fall.next_change(at("2026-11-01T04:00:00Z")), Some(at("2026-11-01T05:30:00Z")));
    }

    #[test]
    fn adjacent_intervals_make_one_opening_and_a_full_week_never_changes() {
        let split = BusinessHours::new(
            "UTC",
            vec![interval(Weekday::Mon, "09:00", "12:00"), interval(Weekday::Mon, "12:00", "17:00")],
            WhenClosed::Refuse,
        )
        .unwrap();
        assert_eq!(split.next_change(at("2026-11-30T10:00:00Z")), Some(at("2026-11-30T17:00:00Z")));
        let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
        let always =
            BusinessHours::new("UTC", days.map(|d| interval(d, "00:00", "24:00")).to_vec(), WhenClosed::Refuse)
                .unwrap();
        assert!(always.is_open(at("2026-11-30T00:00:00Z")));
        assert_eq!(always.next_change(at("2026-11-30T00:00:00Z")), None);
        let never = BusinessHours::new("UTC", vec![], WhenClosed::Refuse).unwrap();
        assert_eq!(never.next_change(at("2026-11-30T00:00:00Z")), None);
    }

    #[test]
    fn bad_schedules_are_refused_naming_the_field() {
        let field = |result: Result<BusinessHours, CoreError>| match result {
            Err(CoreError::InvalidInput { field, reason }) => format!("{field}: {reason}"),
            other => panic!("expected a validation error, got {other:?}"),
        };
        let unknown = BusinessHours::new("Mars/Olympus", vec![], WhenClosed::Refuse);
        assert_eq!(field(unknown), "businessHours.timezone: unknown time zone \"Mars/Olympus\"");
        let inverted = BusinessHours::new("UTC", vec![interval(Weekday::Tue, "17:00", "09:00")], WhenClosed::Refuse);
        assert_eq!(field(inverted), "businessHours.intervals: interval 0 (tuesday) opens at 17:00 but closes at 09:00");
        let overlapping = vec![interval(Weekday::Wed, "09:00", "13:00"), interval(Weekday::Wed, "12:00", "18:00")];
        let overlap = BusinessHours::new("UTC", overlapping, WhenClosed::Refuse);
        assert_eq!(field(overlap), "businessHours.intervals: wednesday 09:00–13:00 overlaps 12:00–18:00");
        assert!("24:01".parse::<TimeOfDay>().is_err() && "9:00".parse::<TimeOfDay>().is_err());
        let json = r#"{"timezone":"UTC","intervals":[{"day":"funday","open":"09:00","close":"10:00"}]}"#;
        assert!(serde_json::from_str::<BusinessHours>(json).unwrap_err().to_string().contains("funday"));
    }

    #[test]
    fn round_trips_through_json() {
        let hours = weekdays("Europe/Lisbon", "08:30", "24:00");
        let json = serde_json::to_value(&hours).unwrap();
        assert_eq!(json["intervals"][0], serde_json::json!({"day": "monday", "open": "08:30", "close": "24:00"}));
        assert_eq!(json["whenClosed"], "refuse");
        assert_eq!(serde_json::from_value::<BusinessHours>(json).unwrap(), hours);
    }
}
