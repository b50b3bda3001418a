//! CSV with a header row, every column, raw values (bytes, seconds, RFC 3339
//! times), written by the csv crate's serializer.
//!
//! A text cell that a spreadsheet would read as a formula (it starts with
//! `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading
//! `'`, as OWASP advises against CSV injection: a status message or resource
//! name comes from AWS accounts the reader may not control. Numbers are
//! never changed, and JSON keeps every value as it is.

use std::io::{self, Write};

use serde::Serialize;

use crate::cells::{cells, names, Cell};
use crate::query::Row;

/// A value as CSV writes it.
#[derive(Serialize)]
#[serde(untagged)]
enum Field {
    Empty,
    Text(String),
    Int(i128),
    Bool(bool),
}

impl From<Cell> for Field {
    fn from(cell: Cell) -> Field {
        match cell {
            Cell::Null => Field::Empty,
            Cell::Text(s) => Field::Text(guard(s)),
            Cell::Time(s) => Field::Text(s),
            Cell::Int(n) | Cell::Bytes(n) => Field::Int(n),
            // NaN and infinities have no CSV spelling; JSON writes null.
            // The digits JSON writes (the shortest that read back the same).
            Cell::Float(f) => {
                serde_json::Number::from_f64(f).map_or(Field::Empty, |n| Field::Text(n.to_string()))
            }
            Cell::Bool(b) => Field::Bool(b),
        }
    }
}

/// `text`, with a `'` in front when a spreadsheet would take it for a formula.
pub fn guard(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// Writes `rows` as CSV: a header of the field names (also when there is no
/// row), then one record per row.
pub fn write_csv<R: Row>(out: &mut impl Write, rows: &[R]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(names::<R>())?;
    for row in rows {
        let record: Vec<Field> = cells(row)
            .map_err(io::Error::other)?
            .into_iter()
            .map(|(_, cell)| Field::from(cell))
            .collect();
        writer.serialize(record)?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_guarded() {
        for text in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(text.to_owned()), format!("'{text}"));
        }
        assert_eq!(guard("Access denied".into()), "Access denied");
        assert_eq!(guard(String::new()), "");
    }
}
