//! Output for people and programs: JSON Lines and tables on stdout, progress
//! bars and log lines on stderr, drawn so that they do not tear each other.

use std::ffi::OsStr;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::time::Duration;

use crate::args::{JobFormat, JobOutput};
use backup_model::CopyJob;
use backup_report::human_bytes;
use backup_report::table::{shorten_middle, terminal_width};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Canonical CopyJob JSON, one object per line, buffered.
pub struct JsonLines {
    out: BufWriter<Stdout>,
    buf: Vec<u8>,
}

impl JsonLines {
    pub fn stdout() -> Self {
        JsonLines {
            out: BufWriter::with_capacity(1 << 16, io::stdout()),
            buf: Vec::with_capacity(4096),
        }
    }

    pub fn write_job(&mut self, job: &CopyJob) -> io::Result<()> {
        self.buf.clear();
        job.write_json(&mut self.buf);
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Prints jobs as `--format` (or `--output`) and `--wide` ask.
pub enum Printer {
    /// JSON Lines.
    Json(JsonLines),
    /// A table.
    Table(JobTable),
}

impl Printer {
    pub fn new(output: &JobOutput) -> Self {
        match output.format {
            JobFormat::Json => Printer::Json(JsonLines::stdout()),
            JobFormat::Table => Printer::Table(JobTable::stdout(output.wide)),
        }
    }

    /// Prints a job read from `account` and `region` (`-` when unknown).
    pub fn write(&mut self, account: &str, region: &str, job: &CopyJob) -> io::Result<()> {
        match self {
            Printer::Json(out) => out.write_job(job),
            Printer::Table(out) => out.write(account, region, job),
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Printer::Json(out) => out.flush(),
            Printer::Table(out) => out.flush(),
        }
    }
}

/// A column of the job table: its heading, its width (`None`: the rest of
/// the line) and how a job fills it.
struct JobColumn {
    heading: &'static str,
    width: Option<usize>,
    right: bool,
    value: fn(&str, &str, &CopyJob) -> String,
}

fn text(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

/// The columns people read first: they fit 100 characters.
static MAIN: [JobColumn; 7] = [
    JobColumn {
        heading: "ACCOUNT",
        width: Some(12),
        right: false,
        value: |account, _, job| job.account_id.as_deref().unwrap_or(account).to_owned(),
    },
    JobColumn {
        heading: "REGION",
        width: Some(14),
        right: false,
        value: |_, region, _| region.to_owned(),
    },
    JobColumn {
        heading: "STATE",
        width: Some(9),
        right: false,
        value: |_, _, job| {
            job.state
                .as_ref()
                .map_or_else(|| "-".into(), |s| s.to_string())
        },
    },
    JobColumn {
        heading: "CREATED",
        width: Some(19),
        right: false,
        value: |_, _, job| {
            job.creation_date
                .map_or_else(|| "-".into(), |t| t.to_string()[..19].replacen('T', " ", 1))
        },
    },
    JobColumn {
        heading: "SIZE",
        width: Some(10),
        right: true,
        value: |_, _, job| {
            job.backup_size_in_bytes
                .map_or_else(|| "-".into(), |b| human_bytes(i128::from(b)))
        },
    },
    JobColumn {
        heading: "TYPE",
        width: Some(9),
        right: false,
        value: |_, _, job| text(job.resource_type.as_deref()),
    },
    JobColumn {
        heading: "RESOURCE",
        width: None,
        right: false,
        value: |_, _, job| text(job.resource_name.as_deref().or(job.resource_arn.as_deref())),
    },
];

/// With `--wide`: the job id and the message, in full.
static WIDE: [JobColumn; 2] = [
    JobColumn {
        heading: "COPY JOB ID",
        width: Some(36),
        right: false,
        value: |_, _, job| text(job.copy_job_id.as_deref()),
    },
    JobColumn {
        heading: "MESSAGE",
        width: None,
        right: false,
        value: |_, _, job| text(job.status_message.as_deref()),
    },
];

/// A table of jobs for people, printed row by row as jobs arrive: fixed
/// columns, the resource shortened in the middle to fit the terminal's
/// width (or COLUMNS, or 100). `wide` adds the job id and the message and
/// shortens nothing.
pub struct JobTable {
    out: BufWriter<Stdout>,
    header_written: bool,
    wide: bool,
    width: usize,
}

impl JobTable {
    pub fn stdout(wide: bool) -> Self {
        JobTable {
            out: BufWriter::new(io::stdout()),
            header_written: false,
            wide,
            width: terminal_width(),
        }
    }

    fn columns(&self) -> Vec<&'static JobColumn> {
        if self.wide {
            let mut all: Vec<&JobColumn> = MAIN.iter().collect();
            all.insert(2, &WIDE[0]);
            all.push(&WIDE[1]);
            all
        } else {
            MAIN.iter().collect()
        }
    }

    fn line(&self, cells: &[(&JobColumn, String)]) -> String {
        let fixed: usize = cells
            .iter()
            .filter_map(|(c, _)| c.width)
            .map(|w| w + 1)
            .sum();
        let rest = self.width.saturating_sub(fixed).max(12);
        let mut line = String::new();
        for (i, (column, value)) in cells.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            match column.width {
                Some(w) if column.right => {
                    line.push_str(&format!("{:>w$}", shorten_middle(value, w)))
                }
                Some(w) => line.push_str(&format!("{:<w$}", shorten_middle(value, w))),
                None if self.wide => line.push_str(value),
                None => line.push_str(&shorten_middle(value, rest)),
            }
        }
        line.trim_end().to_owned()
    }

    pub fn write(&mut self, account: &str, region: &str, job: &CopyJob) -> io::Result<()> {
        let columns = self.columns();
        if !self.header_written {
            self.header_written = true;
            let headings: Vec<(&JobColumn, String)> =
                columns.iter().map(|c| (*c, c.heading.to_owned())).collect();
            let line = self.line(&headings);
            writeln!(self.out, "{line}")?;
        }
        let cells: Vec<(&JobColumn, String)> = columns
            .iter()
            .map(|c| (*c, (c.value)(account, region, job)))
            .collect();
        let line = self.line(&cells);
        writeln!(self.out, "{line}")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Whether stderr gets colours: only on a terminal, and never when
/// `NO_COLOR` is set to something (<https://no-color.org>).
pub fn colour_wanted(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Progress bars on a terminal's stderr; nothing otherwise (log lines then
/// say what happened).
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
    colour: bool,
}

impl Progress {
    pub fn new(quiet: bool, colour: bool) -> Self {
        let multi = (!quiet && io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { multi, colour }
    }

    /// Whether bars are drawn (a terminal, not quiet).
    pub fn is_visible(&self) -> bool {
        self.multi.is_some()
    }

    /// A writer for log lines: each line is written while the bars are
    /// hidden, then the bars are drawn again below it, so that a line never
    /// lands in the middle of a bar.
    pub fn log_writer(&self) -> LogWriter {
        LogWriter {
            multi: self.multi.clone(),
        }
    }

    /// A spinner with a message, for one target.
    pub fn spinner(&self, prefix: String) -> ProgressBar {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                let template = if self.colour {
                    "{spinner} {prefix:.bold} {wide_msg} {elapsed}"
                } else {
                    "{spinner} {prefix} {wide_msg} {elapsed}"
                };
                bar.set_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(prefix);
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            }
            None => ProgressBar::hidden(),
        }
    }
}

/// Writes log lines to stderr around the progress bars (see
/// [`Progress::log_writer`]).
#[derive(Clone)]
pub struct LogWriter {
    multi: Option<MultiProgress>,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &self.multi {
            Some(multi) => multi.suspend(|| io::stderr().lock().write_all(buf)),
            None => io::stderr().lock().write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(!colour_wanted(false, None), "a file or a pipe gets none");
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(
            colour_wanted(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
    }

    #[test]
    fn job_table_lines_fit_the_width() {
        let job: CopyJob = serde_json::from_value(serde_json::json!({
            "AccountId": "123456789012",
            "CopyJobId": "0123456789abcdef0123456789abcdef0123",
            "State": "COMPLETED",
            "CreationDate": "2026-03-01T10:00:00.000Z",
            "BackupSizeInBytes": 123456789,
            "ResourceType": "EBS",
            "ResourceArn": "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123456789abcdef0-with-a-long-tail",
        }))
        .unwrap();
        for width in [100, 120] {
            let table = JobTable {
                out: BufWriter::new(io::stdout()),
                header_written: true,
                wide: false,
                width,
            };
            let cells: Vec<(&JobColumn, String)> = table
                .columns()
                .iter()
                .map(|c| (*c, (c.value)("-", "eu-west-1", &job)))
                .collect();
            let line = table.line(&cells);
            assert!(line.chars().count() <= width, "{line}");
            assert!(line.ends_with("long-tail"), "{line}");
        }
    }
}
