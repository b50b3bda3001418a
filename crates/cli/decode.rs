//! `backup-audit decode`: any input shape in, canonical JSON Lines out.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;

use backup_model::Decoder;
use clap::Args;

use crate::args::JobOutput;
use crate::output::Printer;
use crate::Outcome;

#[derive(Debug, Args)]
#[command(
    after_help = "Accepted in each file, mixed freely: DescribeCopyJob bodies or \
`aws backup describe-copy-job` output ({\"CopyJob\": ...}), ListCopyJobs pages or \
`aws backup list-copy-jobs` output ({\"CopyJobs\": [...]}), bare CopyJob objects, JSON arrays \
of them, and JSON Lines of any of these, in any layout (compact, pretty, one value per line, \
CRLF). Timestamps may be epoch seconds or ISO 8601.\n\n\
Decoding is strict: an object without a CopyJobId (an empty object, an AWS error body), \
invalid JSON anywhere, a member named twice and a record longer than --max-record-size are \
errors. A bad record is reported on stderr as FILE:LINE:COLUMN: MEMBER.PATH: message and \
skipped; the rest is still decoded and the exit code is 1."
)]
pub struct DecodeArgs {
    /// Files to read; `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The longest record read, in bytes (a job, or a page whose CopyJobs
    /// member is not first); a longer one is reported and skipped, never
    /// held in memory.
    #[arg(long, value_name = "BYTES", default_value_t = backup_model::DEFAULT_MAX_RECORD_SIZE)]
    pub max_record_size: usize,

    #[command(flatten)]
    pub output: JobOutput,
}

pub fn run(args: &DecodeArgs) -> anyhow::Result<Outcome> {
    let mut out = Printer::new(&args.output);
    let mut failures = 0u64;
    let stdin = [PathBuf::from("-")];
    let files = if args.files.is_empty() {
        &stdin[..]
    } else {
        &args.files[..]
    };
    for path in files {
        let name = path.display().to_string();
        let result = if name == "-" {
            decode_one(
                "<stdin>",
                BufReader::new(io::stdin().lock()),
                args.max_record_size,
                &mut out,
            )
        } else {
            match File::open(path) {
                Ok(file) => decode_one(
                    &name,
                    BufReader::with_capacity(1 << 16, file),
                    args.max_record_size,
                    &mut out,
                ),
                Err(e) => {
                    eprintln!("{name}: cannot open: {e}");
                    failures += 1;
                    continue;
                }
            }
        };
        match result {
            Ok(bad) => failures += bad,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Outcome::Done),
            Err(e) => return Err(e.into()),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(Outcome::from_failures(failures))
}

/// Decodes one input; returns how many records failed. Errors are output errors.
fn decode_one(
    name: &str,
    reader: impl io::BufRead,
    max_record_size: usize,
    out: &mut Printer,
) -> io::Result<u64> {
    let mut failures = 0;
    for record in Decoder::new(reader).max_record_size(max_record_size) {
        match record {
            Ok(record) => out.write("-", "-", &record.job)?,
            Err(e) => {
                failures += 1;
                let at = e.position();
                if e.path().is_empty() {
                    eprintln!("{name}:{}:{}: {}", at.line, at.column, e.message());
                } else {
                    eprintln!(
                        "{name}:{}:{}: {}: {}",
                        at.line,
                        at.column,
                        e.path(),
                        e.message()
                    );
                }
            }
        }
    }
    Ok(failures)
}
