//! The reports of backup-audit: the queries, their typed rows, and one
//! renderer per format, the way ripgrep keeps its output formats in
//! `grep-printer`.
//!
//! - [`query`]: the report queries against the database `backup-ingest`
//!   writes (read-only: this crate never writes). Each returns rows of a
//!   struct with `#[derive(sqlx::FromRow, Serialize)]`: the fields are the
//!   query's columns, the CSV header and the JSON keys, named once.
//! - [`table`] (comfy-table, fitted to the terminal), [`csv`] (with a guard
//!   against formula injection) and [`json`]: any [`Row`], through its
//!   `Serialize` derive ([`cells`] reads a row as named, typed cells).
//! - [`html`]: the self-contained page of charts and tables for auditors.
//!
//! It does not parse command lines or pick defaults from the terminal beyond
//! the table width: the `backup-audit report` command does that, and hands
//! the rows and a [`Format`] to [`print`].

pub mod cells;
pub mod csv;
pub mod html;
pub mod json;
pub mod query;
pub mod table;
mod values;

use std::io::{self, Write};

pub use query::{
    AccountRow, CountRow, CoverageRow, DailyRow, DurationRow, FailureRow, HistogramBin,
    ReportFilter, Row, StaleRow, SummaryRow, VaultRow,
};
pub use table::{Columns, TableOptions};
pub use values::{human_bytes, human_seconds, Bytes, Time};

/// How rows are printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    Table(TableOptions),
    /// Comma-separated values with a header row, every column.
    Csv,
    /// One JSON array of objects, every column.
    Json,
}

/// Prints `rows` in `format`.
pub fn print<R: Row>(out: &mut impl Write, format: &Format, rows: &[R]) -> io::Result<()> {
    match format {
        Format::Table(options) => table::write_table(out, rows, options),
        Format::Csv => csv::write_csv(out, rows),
        Format::Json => json::write_json(out, rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<SummaryRow> {
        vec![
            SummaryRow {
                state: Some("COMPLETED".into()),
                jobs: 3,
                bytes: Bytes(3 * 1024 * 1024),
            },
            SummaryRow {
                state: None,
                jobs: 1,
                bytes: Bytes(0),
            },
        ]
    }

    fn printed<R: Row>(format: &Format, rows: &[R]) -> String {
        let mut out = Vec::new();
        print(&mut out, format, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn table() -> Format {
        Format::Table(TableOptions {
            columns: Columns::Default,
            width: Some(80),
        })
    }

    #[test]
    fn formats_print_the_same_values() {
        assert_eq!(
            printed(&Format::Json, &rows()),
            "[\n{\"state\":\"COMPLETED\",\"jobs\":3,\"bytes\":3145728},\n{\"state\":null,\"jobs\":1,\"bytes\":0}\n]\n"
        );
        assert_eq!(
            printed(&Format::Csv, &rows()),
            "state,jobs,bytes\nCOMPLETED,3,3145728\n,1,0\n"
        );
        assert_eq!(
            printed(&table(), &rows()),
            "STATE      JOBS    BYTES\nCOMPLETED     3  3.0 MiB\n-             1      0 B\n"
        );
    }

    #[test]
    fn empty_reports_are_empty_not_errors() {
        let none: [SummaryRow; 0] = [];
        assert_eq!(printed(&Format::Json, &none), "[]\n");
        assert_eq!(printed(&Format::Csv, &none), "state,jobs,bytes\n");
        assert_eq!(printed(&table(), &none), "STATE  JOBS  BYTES\n");
    }

    #[test]
    fn sums_beyond_i64_are_written_whole() {
        let huge = [SummaryRow {
            state: Some("COMPLETED".into()),
            jobs: 3,
            bytes: Bytes(3 * i128::from(i64::MAX)),
        }];
        assert!(printed(&Format::Json, &huge).contains("\"bytes\":27670116110564327421}"));
        assert!(printed(&Format::Csv, &huge).contains("COMPLETED,3,27670116110564327421\n"));
        assert!(printed(&table(), &huge).contains("24.0 EiB"));
    }

    #[test]
    fn every_row_type_names_its_columns_in_snake_case() {
        fn check<R: Row>() {
            let names = cells::names::<R>();
            assert!(!names.is_empty());
            for name in &names {
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{name} is not snake_case"
                );
            }
            for name in R::TABLE_COLUMNS {
                assert!(names.contains(name), "{name} is a default table column");
            }
        }
        check::<SummaryRow>();
        check::<FailureRow>();
        check::<DailyRow>();
        check::<DurationRow>();
        check::<VaultRow>();
        check::<AccountRow>();
        check::<StaleRow>();
        check::<CoverageRow>();
    }

    #[test]
    fn a_failures_table_fits_its_width() {
        let row = FailureRow {
            copy_job_id: "E5A1".repeat(9),
            account_id: "123456789012".into(),
            region: "ap-southeast-2".into(),
            state: "FAILED".into(),
            message_category: Some("ACCESS_DENIED".into()),
            status_message: Some(
                "The destination vault's access policy does not allow copies from this account"
                    .into(),
            ),
            resource_name: Some("a-resource-with-a-long-name".into()),
            resource_type: Some("EBS".into()),
            ..FailureRow::default()
        };
        for width in [70, 80, 120, 200] {
            let format = Format::Table(TableOptions {
                columns: Columns::Default,
                width: Some(width),
            });
            let text = printed(&format, std::slice::from_ref(&row));
            assert!(
                text.lines().all(|l| l.chars().count() <= width),
                "{width}:\n{text}"
            );
            // One line for the row, under headings wrapped at `_` if need be.
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines.len() <= 3, "{width}:\n{text}");
            assert!(lines[lines.len() - 1].contains("FAILED"), "{text}");
            assert!(
                text.contains("ACCOUNT") && text.contains("MESSAGE"),
                "{text}"
            );
        }
        let all = Format::Table(TableOptions {
            columns: Columns::All,
            width: Some(1000),
        });
        assert!(printed(&all, &[row]).contains("COPY_JOB_ID"));
    }
}
