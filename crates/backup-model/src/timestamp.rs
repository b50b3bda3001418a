//! Timestamps held to the millisecond, as the AWS Backup API documents them.
//!
//! The wire format (rest-json) sends epoch seconds as a JSON number
//! (`1516925490.087`); the AWS CLI prints ISO 8601 strings
//! (`2018-01-26T00:11:30.087000+00:00`). Both decode to the same [`Timestamp`],
//! which always encodes as RFC 3339 in UTC with milliseconds
//! (`2018-01-26T00:11:30.087Z`).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// The first instant that can be written with a four-digit year (`0001-01-01`).
const MIN_MILLIS: i64 = -62_135_596_800_000;
/// The last instant that can be written with a four-digit year (`9999-12-31T23:59:59.999Z`).
const MAX_MILLIS: i64 = 253_402_300_799_999;

/// An instant in UTC, held as whole milliseconds since the Unix epoch.
///
/// The range is the one RFC 3339 can write with a four-digit year, so every
/// value that decodes also encodes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    millis: i64,
}

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    message: String,
}

impl TimestampError {
    fn new(message: impl Into<String>) -> Self {
        TimestampError {
            message: message.into(),
        }
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// The Unix epoch, `1970-01-01T00:00:00.000Z`.
    pub const UNIX_EPOCH: Timestamp = Timestamp { millis: 0 };

    /// Builds a timestamp from milliseconds since the epoch, if it is in range.
    pub fn from_millis(millis: i64) -> Result<Self, TimestampError> {
        if (MIN_MILLIS..=MAX_MILLIS).contains(&millis) {
            Ok(Timestamp { millis })
        } else {
            Err(TimestampError::new(format!(
                "timestamp {millis} ms is outside the years 0001 to 9999"
            )))
        }
    }

    /// Builds a timestamp from whole seconds since the epoch.
    pub fn from_secs(secs: i64) -> Result<Self, TimestampError> {
        secs.checked_mul(1000)
            .ok_or_else(|| TimestampError::new(format!("timestamp {secs} s is out of range")))
            .and_then(Self::from_millis)
    }

    /// Builds a timestamp from fractional epoch seconds, rounding to the nearest
    /// millisecond so that `1516925490.087` (which is `...490.0869998...` as a
    /// binary float) stays `.087`.
    pub fn from_secs_f64(secs: f64) -> Result<Self, TimestampError> {
        if !secs.is_finite() {
            return Err(TimestampError::new(format!(
                "timestamp {secs} is not a number of seconds"
            )));
        }
        let millis = (secs * 1000.0).round();
        if millis < MIN_MILLIS as f64 || millis > MAX_MILLIS as f64 {
            return Err(TimestampError::new(format!(
                "timestamp {secs} s is outside the years 0001 to 9999"
            )));
        }
        Self::from_millis(millis as i64)
    }

    /// Builds a timestamp from seconds and nanoseconds, rounding to the nearest
    /// millisecond (the form the AWS SDK's `DateTime` holds).
    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Result<Self, TimestampError> {
        let millis = secs
            .checked_mul(1000)
            .and_then(|m| m.checked_add(i64::from((nanos + 500_000) / 1_000_000)))
            .ok_or_else(|| TimestampError::new(format!("timestamp {secs} s is out of range")))?;
        Self::from_millis(millis)
    }

    /// The current time of the system clock, to the millisecond.
    pub fn now() -> Self {
        let millis = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(MAX_MILLIS),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(-MIN_MILLIS),
        };
        Timestamp {
            millis: millis.clamp(MIN_MILLIS, MAX_MILLIS),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.millis
    }

    /// Whole seconds since the epoch (rounded towards negative infinity) and the
    /// milliseconds past that second.
    pub fn as_secs_and_millis(self) -> (i64, u32) {
        (
            self.millis.div_euclid(1000),
            self.millis.rem_euclid(1000) as u32,
        )
    }

    /// Fractional epoch seconds, the wire format of the rest-json protocol.
    pub fn as_secs_f64(self) -> f64 {
        self.millis as f64 / 1000.0
    }

    /// This instant moved by `millis` (negative moves back), saturating at the
    /// ends of the range.
    pub fn add_millis(self, millis: i64) -> Self {
        Timestamp {
            millis: self
                .millis
                .saturating_add(millis)
                .clamp(MIN_MILLIS, MAX_MILLIS),
        }
    }

    /// Reads an ISO 8601 / RFC 3339 date-time.
    ///
    /// Accepted: `2018-01-26T00:11:30.087Z`, `2018-01-26T00:11:30.087000+00:00`,
    /// a space instead of `T`, any number of fractional digits (rounded to the
    /// millisecond), offsets `Z`, `+HH:MM`, `+HHMM` or `+HH`, seconds omitted
    /// (`2018-01-26T00:11Z`), and a bare date (`2018-01-26`, midnight UTC). A
    /// date-time without an offset is taken as UTC.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        parse_iso8601(text.trim()).ok_or_else(|| {
            TimestampError::new(format!(
                "invalid timestamp {text:?}: expected RFC 3339 such as 2018-01-26T00:11:30.087Z"
            ))
        })
    }

    /// Reads a point in time given either as RFC 3339 or as an age before `now`:
    /// a whole number followed by `s`, `m`, `h`, `d` or `w` (`30m`, `12h`, `7d`).
    pub fn parse_time_or_age(text: &str, now: Timestamp) -> Result<Self, TimestampError> {
        let text = text.trim();
        if let Some(age) = parse_age_millis(text) {
            return Ok(now.add_millis(-age));
        }
        Self::parse_rfc3339(text).map_err(|_| {
            TimestampError::new(format!(
                "invalid time {text:?}: expected RFC 3339 (2026-01-31T00:00:00Z) or an age such as 30m, 12h, 7d"
            ))
        })
    }

    /// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` into a fixed buffer.
    fn format(self, out: &mut [u8; 24]) {
        let days = self.millis.div_euclid(86_400_000);
        let ms_of_day = self.millis.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let secs_of_day = ms_of_day / 1000;
        let ms = ms_of_day % 1000;
        let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
        let digits = |out: &mut [u8], value: i64| {
            let mut v = value;
            for slot in out.iter_mut().rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        digits(&mut out[0..4], year);
        out[4] = b'-';
        digits(&mut out[5..7], i64::from(month));
        out[7] = b'-';
        digits(&mut out[8..10], i64::from(day));
        out[10] = b'T';
        digits(&mut out[11..13], h);
        out[13] = b':';
        digits(&mut out[14..16], m);
        out[16] = b':';
        digits(&mut out[17..19], s);
        out[19] = b'.';
        digits(&mut out[20..23], ms);
        out[23] = b'Z';
    }
}

/// Parses `7d`, `12h`, `30m`, `45s`, `2w` into milliseconds.
fn parse_age_millis(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let number = &text[..text.len() - unit.len_utf8()];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = number.parse().ok()?;
    let scale = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 24];
        self.format(&mut buf);
        // The buffer holds only ASCII digits and separators.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

impl From<Timestamp> for SystemTime {
    /// The same instant (every timestamp is within `SystemTime`'s range on
    /// the platforms Rust supports with 64-bit seconds).
    fn from(t: Timestamp) -> SystemTime {
        let magnitude = std::time::Duration::from_millis(t.millis.unsigned_abs());
        if t.millis >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = TimestampError;

    /// The instant rounded to the nearest millisecond; an error outside the
    /// years 0001 to 9999.
    fn try_from(t: SystemTime) -> Result<Self, TimestampError> {
        let out_of_range = || TimestampError::new("the time is outside the years 0001 to 9999");
        let millis = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => {
                i64::try_from((d.as_nanos() + 500_000) / 1_000_000).map_err(|_| out_of_range())?
            }
            Err(e) => {
                let d = e.duration();
                -i64::try_from((d.as_nanos() + 499_999) / 1_000_000).map_err(|_| out_of_range())?
            }
        };
        Self::from_millis(millis)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        self.format(&mut buf);
        let text = std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;

        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("epoch seconds as a number or an RFC 3339 string")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Timestamp::from_secs(v).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                let secs = i64::try_from(v).map_err(|_| E::custom("timestamp is out of range"))?;
                Timestamp::from_secs(secs).map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                Timestamp::from_secs_f64(v).map_err(E::custom)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(TimestampVisitor)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// A small cursor over ASCII bytes for the date-time grammar.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn number(&mut self, width: usize) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + width)?;
        let mut value = 0u32;
        for &b in digits {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.pos += width;
        Some(value)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
}

fn parse_iso8601(text: &str) -> Option<Timestamp> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = c.number(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.number(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.number(2)?;
    if year == 0
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year.into(), month)
    {
        return None;
    }
    let mut millis = days_from_civil(year.into(), month, day) * 86_400_000;
    if c.peek().is_none() {
        return Timestamp::from_millis(millis).ok();
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.number(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.number(2)?;
    let mut second = 0;
    if c.eat(b':') {
        second = c.number(2)?;
    }
    // A leap second (60) is accepted and folded into the next second.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    millis += i64::from(hour * 3600 + minute * 60 + second) * 1000;
    if c.eat(b'.') || c.eat(b',') {
        let start = c.pos;
        let mut frac_ms = 0i64;
        let mut round_up = false;
        while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
            let n = c.pos - start;
            if n < 3 {
                frac_ms = frac_ms * 10 + i64::from(b - b'0');
            } else if n == 3 {
                round_up = b >= b'5';
            }
            c.pos += 1;
        }
        let n = c.pos - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            frac_ms *= 10;
        }
        millis += frac_ms + i64::from(round_up);
    }
    let offset_minutes: i64 = match c.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let oh = c.number(2)?;
            c.eat(b':');
            let om = if c.peek().is_some() { c.number(2)? } else { 0 };
            if oh > 23 || om > 59 {
                return None;
            }
            let total = i64::from(oh * 60 + om);
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        Some(_) => return None,
    };
    if c.peek().is_some() {
        return None;
    }
    Timestamp::from_millis(millis - offset_minutes * 60_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> String {
        Timestamp::parse_rfc3339(text).unwrap().to_string()
    }

    #[test]
    fn epoch_seconds_round_to_the_millisecond() {
        let t = Timestamp::from_secs_f64(1516925490.087).unwrap();
        assert_eq!(t.to_string(), "2018-01-26T00:11:30.087Z");
        assert_eq!(t.as_millis(), 1_516_925_490_087);
        let sdk_like = Timestamp::from_secs_nanos(1_516_925_490, 86_999_893).unwrap();
        assert_eq!(sdk_like, t);
        assert_eq!(
            Timestamp::from_secs(0).unwrap().to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn iso_forms_agree() {
        let want = "2018-01-26T00:11:30.087Z";
        for form in [
            "2018-01-26T00:11:30.087Z",
            "2018-01-26T00:11:30.087000+00:00",
            "2018-01-26 00:11:30.0869999Z",
            "2018-01-26T02:11:30.087+02:00",
            "2018-01-26T02:11:30.087+0200",
            "2018-01-25T23:11:30.087-01",
            "2018-01-26T00:11:30.087",
        ] {
            assert_eq!(ts(form), want, "{form}");
        }
        assert_eq!(ts("2018-01-26"), "2018-01-26T00:00:00.000Z");
        assert_eq!(ts("2018-01-26T00:11Z"), "2018-01-26T00:11:00.000Z");
        assert_eq!(ts("2016-12-31T23:59:60Z"), "2017-01-01T00:00:00.000Z");
        assert_eq!(ts("1999-12-31T23:59:59.9996Z"), "2000-01-01T00:00:00.000Z");
    }

    #[test]
    fn bad_dates_are_rejected() {
        for bad in [
            "",
            "2018-02-30T00:00:00Z",
            "2018-13-01T00:00:00Z",
            "2018-01-26T24:00:00Z",
            "2018-01-26T00:00:00.Z",
            "2018-01-26T00:00:00Zjunk",
            "yesterday",
            "0000-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn civil_round_trip_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        let t = Timestamp::from_millis(-1).unwrap();
        assert_eq!(t.to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            Timestamp::from_millis(MAX_MILLIS).unwrap().to_string(),
            "9999-12-31T23:59:59.999Z"
        );
        assert!(Timestamp::from_millis(MAX_MILLIS + 1).is_err());
    }

    #[test]
    fn ages_count_back_from_now() {
        let now = Timestamp::parse_rfc3339("2026-01-08T00:00:00Z").unwrap();
        let back = |s| Timestamp::parse_time_or_age(s, now).unwrap().to_string();
        assert_eq!(back("7d"), "2026-01-01T00:00:00.000Z");
        assert_eq!(back("12h"), "2026-01-07T12:00:00.000Z");
        assert_eq!(back("30m"), "2026-01-07T23:30:00.000Z");
        assert_eq!(back("1w"), "2026-01-01T00:00:00.000Z");
        assert_eq!(back("2025-12-31T00:00:00Z"), "2025-12-31T00:00:00.000Z");
        assert!(Timestamp::parse_time_or_age("7x", now).is_err());
        assert!(Timestamp::parse_time_or_age("d", now).is_err());
    }
}
