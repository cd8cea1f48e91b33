//! Rates (`200/h`, `3.5/min`, `0.05/s`) and durations (`250ms`, `20s`, `3min`, `1.5h`) as people
//! write them, parsed into SI units. A bare number is refused: "20" could mean seconds or minutes.

use std::fmt;

use crate::SimError;

/// Arrivals per second. Never negative, always finite.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate(f64);

impl Rate {
    /// Parses `<number>/s`, `<number>/min` or `<number>/h`; `field` names the input in errors.
    pub fn parse(field: &str, text: &str) -> Result<Self, SimError> {
        let text = text.trim();
        let Some((number, unit)) = text.split_once('/') else {
            return Err(SimError::invalid(field, format!("{text:?} is not a rate: write e.g. 200/h, 3/min or 0.05/s")));
        };
        let per_second = match unit.trim() {
            "s" | "sec" => 1.0,
            "min" | "m" => 1.0 / 60.0,
            "h" | "hour" => 1.0 / 3600.0,
            other => {
                return Err(SimError::invalid(field, format!("unknown rate unit {other:?}: use /s, /min or /h")));
            }
        };
        let value = parse_number(field, number)?;
        Ok(Self(value * per_second))
    }

    /// A rate of `per_second` arrivals per second.
    pub fn per_second(field: &str, per_second: f64) -> Result<Self, SimError> {
        check_number(field, per_second)?;
        Ok(Self(per_second))
    }

    /// Arrivals per second.
    pub fn as_per_second(self) -> f64 {
        self.0
    }

    /// Arrivals per hour.
    pub fn as_per_hour(self) -> f64 {
        self.0 * 3600.0
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/h", trim_float(self.as_per_hour()))
    }
}

/// A length of time in seconds. Never negative, always finite.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Seconds(f64);

impl Seconds {
    /// Zero seconds.
    pub const ZERO: Seconds = Seconds(0.0);

    /// Parses `<number>ms`, `<number>s`, `<number>min` or `<number>h`; `0` alone is also accepted.
    pub fn parse(field: &str, text: &str) -> Result<Self, SimError> {
        let text = text.trim();
        if text == "0" {
            return Ok(Self::ZERO);
        }
        let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "min" | "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(SimError::invalid(
                    field,
                    format!("{text:?} has no unit: write e.g. 180s, 3min, 1.5h or 500ms"),
                ))
            }
            other => {
                return Err(SimError::invalid(field, format!("unknown duration unit {other:?}: use ms, s, min or h")))
            }
        };
        let value = parse_number(field, number)?;
        Ok(Self(value * scale))
    }

    /// `seconds` seconds.
    pub fn new(field: &str, seconds: f64) -> Result<Self, SimError> {
        check_number(field, seconds)?;
        Ok(Self(seconds))
    }

    /// The length in seconds.
    pub fn as_secs(self) -> f64 {
        self.0
    }

    /// The length in whole milliseconds, rounded.
    pub fn as_millis(self) -> i64 {
        (self.0 * 1000.0).round() as i64
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s >= 3600.0 && (s / 3600.0).fract() == 0.0 {
            write!(f, "{}h", trim_float(s / 3600.0))
        } else if s >= 60.0 && (s / 60.0).fract() == 0.0 {
            write!(f, "{}min", trim_float(s / 60.0))
        } else {
            write!(f, "{}s", trim_float(s))
        }
    }
}

fn parse_number(field: &str, text: &str) -> Result<f64, SimError> {
    let text = text.trim();
    let value: f64 = text.parse().map_err(|_| SimError::invalid(field, format!("{text:?} is not a number")))?;
    check_number(field, value)?;
    Ok(value)
}

fn check_number(field: &str, value: f64) -> Result<(), SimError> {
    if !value.is_finite() {
        return Err(SimError::invalid(field, "must be a finite number"));
    }
    if value < 0.0 {
        return Err(SimError::invalid(field, format!("must not be negative (got {value})")));
    }
    Ok(())
}

/// `3.0` → `3`, `2.50` → `2.5`.
pub(crate) fn trim_float(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_three_units() {
        assert_eq!(Rate::parse("r", "200/h").unwrap().as_per_hour(), 200.0);
        assert!((Rate::parse("r", "3/min").unwrap().as_per_second() - 0.05).abs() < 1e-12);
        assert_eq!(Rate::parse("r", "0.5/s").unwrap().as_per_second(), 0.5);
        assert_eq!(Rate::parse("r", "200/h").unwrap().to_string(), "200/h");
    }

    #[test]
    fn bad_rates_name_the_field() {
        for bad in ["-3/h", "200", "200/day", "abc/h", "inf/s", "NaN/h"] {
            let error = Rate::parse("--arrival-rate", bad).unwrap_err();
            assert!(error.to_string().starts_with("--arrival-rate: "), "{bad}: {error}");
            assert!(error.is_bad_input());
        }
        assert!(Rate::parse("r", "-3/h").unwrap_err().to_string().contains("negative"));
    }

    #[test]
    fn durations_take_four_units() {
        assert_eq!(Seconds::parse("d", "250ms").unwrap().as_millis(), 250);
        assert_eq!(Seconds::parse("d", "20s").unwrap().as_secs(), 20.0);
        assert_eq!(Seconds::parse("d", "3min").unwrap().as_secs(), 180.0);
        assert_eq!(Seconds::parse("d", "1.5h").unwrap().as_secs(), 5400.0);
        assert_eq!(Seconds::parse("d", "0").unwrap(), Seconds::ZERO);
        assert_eq!(Seconds::parse("d", "180s").unwrap().to_string(), "3min");
    }

    #[test]
    fn bad_durations_name_the_field() {
        for bad in ["20", "-5s", "5 days", "s", ""] {
            let error = Seconds::parse("--handle-time", bad).unwrap_err();
            assert!(error.to_string().starts_with("--handle-time: "), "{bad}: {error}");
        }
    }
}
