//! Tables for people: the columns that matter first, fitted to the width of
//! the terminal (or `COLUMNS`, or 100 characters), one line per row, long
//! values shortened in the middle (an ARN's account and name are what tell
//! rows apart), sizes in binary units and durations in h/m/s. Drawn by
//! comfy-table.

use std::io::{self, Write};

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};

use crate::cells::{cells, names, Cell};
use crate::query::Row;
use crate::values::{human_bytes, human_seconds};

/// The width used when neither the terminal nor `COLUMNS` tells one.
pub const DEFAULT_WIDTH: usize = 100;
/// No value is shown longer than this, however wide the terminal.
const CELL_MAX: usize = 64;
/// Columns are not narrowed below this (nor below their heading, while the
/// headings fit).
const CELL_MIN: usize = 6;
/// Spaces between two columns.
const GAP: usize = 2;
/// Values up to this long (ids, regions, states, times) are the last to be
/// shortened: long free text (messages, names) gives way first.
const KEEP: usize = 16;

/// Which columns a table shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Columns {
    /// The row type's first columns ([`Row::TABLE_COLUMNS`]).
    #[default]
    Default,
    /// Every column.
    All,
    /// These, in this order.
    Named(Vec<String>),
}

/// How a table is laid out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// Which columns.
    pub columns: Columns,
    /// The line width to fit; [`terminal_width`] when `None`.
    pub width: Option<usize>,
}

/// The width of the terminal on stdout, else `COLUMNS`, else
/// [`DEFAULT_WIDTH`].
pub fn terminal_width() -> usize {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
        return usize::from(w);
    }
    width_from(std::env::var("COLUMNS").ok().as_deref())
}

/// `COLUMNS` as a width, [`DEFAULT_WIDTH`] when unset or not a number.
fn width_from(columns: Option<&str>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w >= 20)
        .unwrap_or(DEFAULT_WIDTH)
}

/// The columns of `R` a table shows, checked against its fields: an unknown
/// name is an error that lists the known ones.
pub fn select_columns<R: Row>(columns: &Columns) -> Result<Vec<&'static str>, String> {
    let all = names::<R>();
    match columns {
        Columns::All => Ok(all),
        Columns::Default if R::TABLE_COLUMNS.is_empty() => Ok(all),
        Columns::Default => Ok(R::TABLE_COLUMNS.to_vec()),
        Columns::Named(wanted) => wanted
            .iter()
            .map(|name| {
                all.iter()
                    .copied()
                    .find(|c| *c == name.as_str())
                    .ok_or_else(|| {
                        format!("no column {name:?}; the columns are {}", all.join(", "))
                    })
            })
            .collect(),
    }
}

/// Writes `rows` as a table.
pub fn write_table<R: Row>(
    out: &mut impl Write,
    rows: &[R],
    options: &TableOptions,
) -> io::Result<()> {
    let shown = select_columns::<R>(&options.columns)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let width = options.width.unwrap_or_else(terminal_width);
    let mut body: Vec<Vec<Cell>> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut named = cells(row).map_err(io::Error::other)?;
        body.push(
            shown
                .iter()
                .map(|c| {
                    named
                        .iter_mut()
                        .find(|(name, _)| name == c)
                        .map_or(Cell::Null, |(_, cell)| std::mem::replace(cell, Cell::Null))
                })
                .collect(),
        );
    }
    let headings: Vec<String> = shown.iter().map(|c| c.to_ascii_uppercase()).collect();
    let texts: Vec<Vec<String>> = body
        .iter()
        .map(|row| {
            row.iter()
                .zip(&shown)
                .map(|(cell, c)| for_people(c, cell))
                .collect()
        })
        .collect();
    let widths = fit(&headings, &texts, width);

    let mut table = Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headings.iter().zip(&widths).map(|(h, w)| heading(h, *w)));
    for row in &texts {
        table.add_row(row.iter().zip(&widths).map(|(t, w)| shorten_middle(t, *w)));
    }
    let numeric: Vec<bool> = (0..shown.len())
        .map(|i| {
            body.iter()
                .any(|r| matches!(r[i], Cell::Int(_) | Cell::Float(_) | Cell::Bytes(_)))
        })
        .collect();
    for (i, column) in table.column_iter_mut().enumerate() {
        // The fixed width includes the padding, which is the gap to the next
        // column.
        let gap = if i + 1 == shown.len() { 0 } else { GAP };
        column.set_padding((0, gap as u16));
        column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
            u16::try_from(widths[i] + gap).unwrap_or(u16::MAX),
        )));
        if numeric[i] {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// A cell as people read it.
fn for_people(column: &str, cell: &Cell) -> String {
    match cell {
        Cell::Float(f) if column.ends_with("_seconds") => human_seconds(*f),
        Cell::Null => "-".to_owned(),
        Cell::Text(s) => s.replace(['\n', '\r', '\t'], " "),
        Cell::Int(n) => n.to_string(),
        Cell::Bytes(n) => human_bytes(*n),
        Cell::Float(f) => format!("{f:.2}"),
        Cell::Bool(b) => b.to_string(),
        // 2026-03-01T10:00:00.000Z -> 2026-03-01 10:00 (UTC; CSV and JSON
        // have the milliseconds).
        Cell::Time(t) => t.get(..16).unwrap_or(t).replacen('T', " ", 1),
    }
}

/// Column widths: each column's longest value (at most [`CELL_MAX`]) or
/// heading, then the widest narrowed one character at a time until the line
/// fits `width`, in passes that give way in this order: long free text down
/// to [`KEEP`] characters; headings, wrapped at `_`; then everything down
/// to [`CELL_MIN`].
fn fit(headings: &[String], rows: &[Vec<String>], width: usize) -> Vec<usize> {
    let count = |s: &str| s.chars().count();
    let values: Vec<usize> = (0..headings.len())
        .map(|i| {
            rows.iter()
                .map(|r| count(&r[i]).min(CELL_MAX))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut widths: Vec<usize> = headings
        .iter()
        .zip(&values)
        .map(|(h, v)| count(h).max(*v))
        .collect();
    let budget = width.saturating_sub(GAP * headings.len().saturating_sub(1));
    let longest_word = |h: &str| h.split('_').map(count).max().unwrap_or(0);
    for pass in 0..4 {
        let floor = |i: usize| {
            let heading = match pass {
                0 => count(&headings[i]),
                _ => longest_word(&headings[i]),
            };
            match pass {
                0 | 1 => heading.max(values[i].min(KEEP)),
                2 => heading.max(CELL_MIN),
                _ => CELL_MIN,
            }
        };
        while widths.iter().sum::<usize>() > budget {
            let widest = (0..widths.len())
                .filter(|&i| widths[i] > floor(i))
                .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
            match widest {
                Some(i) => widths[i] -= 1,
                None => break,
            }
        }
    }
    widths
}

/// A heading in a column `width` wide: whole when it fits, else one word a
/// line (`MESSAGE_CATEGORY` as `MESSAGE` over `CATEGORY`), each word
/// shortened to fit.
fn heading(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    text.split('_')
        .map(|word| shorten_middle(word, width))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` in at most `max` characters, its middle replaced by `…`.
pub fn shorten_middle(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    if max <= 1 {
        return "…".chars().take(max).collect();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let mut out: String = text.chars().take(head).collect();
    out.push('…');
    out.extend(text.chars().skip(count - tail));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_from_cols_or_the_default() {
        assert_eq!(width_from(Some("120")), 120);
        assert_eq!(width_from(Some("wide")), DEFAULT_WIDTH);
        assert_eq!(width_from(None), DEFAULT_WIDTH);
    }

    #[test]
    fn long_values_keep_both_ends() {
        let arn = "arn:aws:backup:eu-central-1:999999999999:backup-vault:a-very-long-vault-name-for-disaster-recovery";
        let short = shorten_middle(arn, 32);
        assert_eq!(short.chars().count(), 32);
        assert!(short.starts_with("arn:aws:backup:") && short.ends_with("isaster-recovery"));
        assert_eq!(shorten_middle("abc", 3), "abc");
    }

    #[test]
    fn widths_fit_the_line() {
        let headings: Vec<String> = ["A", "MESSAGE", "RESOURCE_NAME"].map(String::from).to_vec();
        let rows = vec![vec!["x".repeat(10), "m".repeat(200), "r".repeat(40)]];
        let widths = fit(&headings, &rows, 60);
        assert_eq!(widths.iter().sum::<usize>() + 2 * GAP, 60);
        assert_eq!(widths[0], 10, "narrow columns stay whole");
        let widths = fit(&headings, &rows, 20);
        assert!(widths.iter().all(|w| *w >= CELL_MIN));
    }
}
