//! The value types of report rows that need more than a primitive: instants
//! and byte sums. Each decodes from PostgreSQL, serializes for CSV and JSON,
//! and tells the table renderer (through its newtype name) how people read it.

use std::fmt;

use backup_ingest::DbTime;
use backup_model::Timestamp;
use serde::{Serialize, Serializer};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::Postgres;

/// The newtype name by which [`Time`] announces itself to a serializer.
pub(crate) const TIME: &str = "backup_report::Time";
/// The newtype name by which [`Bytes`] announces itself to a serializer.
pub(crate) const BYTES: &str = "backup_report::Bytes";

/// An instant of a report row: RFC 3339 UTC with milliseconds in CSV and
/// JSON, to the second in tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time(pub Timestamp);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(TIME, &self.0)
    }
}

impl sqlx::Type<Postgres> for Time {
    fn type_info() -> PgTypeInfo {
        <DbTime as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DbTime as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for Time {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Time(<DbTime as sqlx::Decode<Postgres>>::decode(value)?.0))
    }
}

impl sqlx::Encode<'_, Postgres> for Time {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DbTime as sqlx::Encode<Postgres>>::encode_by_ref(&DbTime(self.0), buf)
    }
}

/// A sum of byte sizes. Each size is an `i64` (the API's `Long`), but a sum
/// of them is not: PostgreSQL sums `bigint` into `numeric`, and this keeps
/// the exact value as an `i128` (enough for 2^64 jobs of the largest size).
/// CSV and JSON write it as a plain integer, whatever its size; tables in
/// binary units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub i128);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(BYTES, &self.0)
    }
}

impl sqlx::Type<Postgres> for Bytes {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_name("numeric")
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        use sqlx::TypeInfo as _;
        ["numeric", "int8", "int4"]
            .iter()
            .any(|name| ty.name().eq_ignore_ascii_case(name))
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for Bytes {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        use sqlx::{TypeInfo as _, ValueRef as _};
        let type_name = value.type_info().name().to_ascii_lowercase();
        match value.format() {
            PgValueFormat::Text => Ok(Bytes(value.as_str()?.trim().parse()?)),
            PgValueFormat::Binary if type_name == "int8" => Ok(Bytes(i128::from(
                <i64 as sqlx::Decode<Postgres>>::decode(value)?,
            ))),
            PgValueFormat::Binary if type_name == "int4" => Ok(Bytes(i128::from(
                <i32 as sqlx::Decode<Postgres>>::decode(value)?,
            ))),
            PgValueFormat::Binary => decode_numeric(value.as_bytes()?).map(Bytes),
        }
    }
}

/// The binary `numeric` of PostgreSQL as a whole number: a digit count, the
/// weight (power of 10000) of the first digit, a sign, a display scale, then
/// base-10000 digits. A fraction or a value beyond `i128` is an error, never
/// a rounded number.
fn decode_numeric(bytes: &[u8]) -> Result<i128, BoxDynError> {
    let word = |i: usize| -> Result<u16, BoxDynError> {
        let pair = bytes.get(i * 2..i * 2 + 2).ok_or("numeric is truncated")?;
        Ok(u16::from_be_bytes([pair[0], pair[1]]))
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    if sign == 0xC000 {
        return Err("numeric is NaN".into());
    }
    let mut value: i128 = 0;
    for i in 0..ndigits {
        let digit = i128::from(word(4 + i)?);
        let power = weight - i as i32;
        if power < 0 {
            if digit != 0 {
                return Err("a byte sum has a fraction".into());
            }
            continue;
        }
        value = value
            .checked_mul(10_000)
            .and_then(|v| v.checked_add(digit))
            .ok_or("a byte sum is beyond i128")?;
    }
    // Trailing zero digits are not stored: the last digit's weight may be
    // above zero.
    let last_power = weight - ndigits as i32 + 1;
    for _ in 0..last_power.max(0) {
        value = value
            .checked_mul(10_000)
            .ok_or("a byte sum is beyond i128")?;
    }
    Ok(if sign == 0x4000 { -value } else { value })
}

/// Bytes as people read them, in binary units: `0 B`, `3.0 MiB`, `8.0 EiB`.
pub fn human_bytes(bytes: i128) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration in seconds as people read it: `42.2s`, `12m 05s`, `3h 20m`.
pub fn human_seconds(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-".to_owned();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let whole = seconds.round() as i64;
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m {s:02}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `numeric` in binary, as PostgreSQL sends it.
    fn numeric(weight: i16, sign: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [digits.len() as u16, weight as u16, sign, 0] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numeric_sums_decode_exactly() {
        // 3 * (2^63 - 8) = 27670116110564327400 = 2767 0116 1105 6432 7400
        let sum = numeric(4, 0, &[2767, 116, 1105, 6432, 7400]);
        assert_eq!(decode_numeric(&sum).unwrap(), 3 * i128::from(i64::MAX - 7));
        // 10^8 is stored as the single digit 1 of weight 2.
        assert_eq!(decode_numeric(&numeric(2, 0, &[1])).unwrap(), 100_000_000);
        assert_eq!(decode_numeric(&numeric(0, 0x4000, &[42])).unwrap(), -42);
        assert_eq!(decode_numeric(&numeric(0, 0, &[])).unwrap(), 0);
        assert!(decode_numeric(&numeric(0, 0, &[1, 5000])).is_err());
        assert!(decode_numeric(&numeric(0, 0xC000, &[])).is_err());
        assert!(decode_numeric(&numeric(40, 0, &[1])).is_err());
    }

    #[test]
    fn people_read_sizes_and_durations() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(human_bytes(3 * i128::from(i64::MAX)), "24.0 EiB");
        assert_eq!(human_seconds(42.25), "42.2s");
        assert_eq!(human_seconds(725.0), "12m 05s");
        assert_eq!(human_seconds(12_000.0), "3h 20m");
    }
}
