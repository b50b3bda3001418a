//! JSON: one array of objects, one object per line, keys as the fields are
//! named. Byte sums are plain integers however large (beyond 2^63 when the
//! sizes add up so): read them as big integers or decimals, not doubles.

use std::io::{self, Write};

use crate::query::Row;

/// Writes `rows` as `[` one object per line `]`.
pub fn write_json<R: Row>(out: &mut impl Write, rows: &[R]) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "[]");
    }
    writeln!(out, "[")?;
    for (i, row) in rows.iter().enumerate() {
        serde_json::to_writer(&mut *out, row)?;
        writeln!(out, "{}", if i + 1 < rows.len() { "," } else { "" })?;
    }
    writeln!(out, "]")
}
