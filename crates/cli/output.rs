//! Output for people and programs: JSON Lines and tables on stdout, progress
//! on stderr.

use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::time::Duration;

use backup_model::CopyJob;
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

/// Bytes as people read them (binary units).
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
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

/// A table of jobs for people, printed row by row as jobs arrive.
pub struct JobTable {
    out: BufWriter<Stdout>,
    header_written: bool,
}

impl JobTable {
    pub fn stdout() -> Self {
        JobTable {
            out: BufWriter::new(io::stdout()),
            header_written: false,
        }
    }

    pub fn write(&mut self, account: &str, region: &str, job: &CopyJob) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            writeln!(
                self.out,
                "{:<12} {:<14} {:<36} {:<9} {:<24} {:>10} {:<9} RESOURCE",
                "ACCOUNT", "REGION", "COPY JOB ID", "STATE", "CREATED", "SIZE", "TYPE"
            )?;
        }
        let dash = || "-".to_owned();
        writeln!(
            self.out,
            "{:<12} {:<14} {:<36} {:<9} {:<24} {:>10} {:<9} {}",
            job.account_id.as_deref().unwrap_or(account),
            region,
            job.copy_job_id.as_deref().unwrap_or("-"),
            job.state.as_ref().map_or_else(dash, |s| s.to_string()),
            job.creation_date.map_or_else(dash, |t| t.to_string()),
            job.backup_size_in_bytes.map_or_else(dash, human_bytes),
            job.resource_type.as_deref().unwrap_or("-"),
            job.resource_name
                .as_deref()
                .or(job.resource_arn.as_deref())
                .unwrap_or("-"),
        )
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Progress bars on a terminal's stderr; nothing otherwise (log lines then
/// say what happened).
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let multi = (!quiet && io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { multi }
    }

    /// Whether bars are drawn (a terminal, not quiet).
    pub fn is_visible(&self) -> bool {
        self.multi.is_some()
    }

    /// A spinner with a message, for one target.
    pub fn spinner(&self, prefix: String) -> ProgressBar {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed}")
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
