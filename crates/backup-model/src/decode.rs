//! One decoding entry point for every shape in which copy jobs are found.
//!
//! [`Decoder`] reads, from any [`BufRead`], a sequence of JSON documents (one
//! document, concatenated documents, or JSON Lines), each being one of:
//!
//! - `{"CopyJob": {...}}`: a DescribeCopyJob body or `aws backup describe-copy-job`;
//! - `{"CopyJobs": [...], "NextToken": ...}`: a ListCopyJobs page or
//!   `aws backup list-copy-jobs` output;
//! - a bare CopyJob object;
//! - a JSON array of CopyJob objects.
//!
//! Memory stays bounded by the largest single job, not by the input: a
//! lightweight structural scanner cuts the input into one job at a time, and
//! each job is then decoded from its own bytes. Because the scanner has already
//! found where a job ends, a job with a bad member is reported and skipped while
//! the jobs around it still decode. Only broken JSON structure (a missing
//! bracket, a truncated file) ends the current document; the decoder then
//! resumes at the next line that starts with `{` or `[`, which recovers JSON
//! Lines input line by line.
//!
//! Errors carry the line and column in the whole input and the member path,
//! such as `CopyJobs[3].BackupSizeInBytes`. The path comes from
//! `serde_path_to_error`, used only on the slow path after a fast decode failed,
//! so valid input pays nothing for it.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};

use crate::types::CopyJob;

/// A position in the input: 1-based line and 1-based column (in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The line, counting from 1.
    pub line: u64,
    /// The column in bytes, counting from 1.
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A decoded job and where it began in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The job.
    pub job: CopyJob,
    /// Where the job's JSON object began.
    pub position: Position,
}

/// What went wrong while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input could not be read.
    Io,
    /// The input is not well-formed JSON, or not one of the accepted shapes.
    Syntax,
    /// The JSON is well formed but a member has the wrong type or value.
    Data,
}

/// A decoding failure, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    position: Position,
    path: String,
    message: String,
}

impl DecodeError {
    /// What kind of failure this is.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// Where in the input the failure was found.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The member path, such as `CopyJobs[3].BackupSizeInBytes`; empty when the
    /// failure is not inside a member.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The failure itself, without position or path.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn syntax(position: Position, message: impl Into<String>) -> Self {
        DecodeError {
            kind: DecodeErrorKind::Syntax,
            position,
            path: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    /// `line 4, column 21: CopyJobs[3].BackupSizeInBytes: invalid type: ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: ",
            self.position.line, self.position.column
        )?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes every job in `bytes`, failing on the first error.
///
/// For input that may hold bad records among good ones, iterate a [`Decoder`]
/// instead: it reports each bad record and goes on.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<CopyJob>, DecodeError> {
    Decoder::new(bytes).map(|r| r.map(|r| r.job)).collect()
}

/// Where the scanner is in the input's structure.
#[derive(Debug)]
enum State {
    /// Between top-level documents.
    Top,
    /// Inside a top-level array of jobs.
    TopArray { index: usize },
    /// Inside the `CopyJobs` array of a top-level ListCopyJobs object.
    EnvelopeJobs { index: usize },
    /// Inside a top-level ListCopyJobs object, after its `CopyJobs` array.
    EnvelopeRest,
}

/// A streaming iterator over the jobs in an input; see the module docs.
#[derive(Debug)]
pub struct Decoder<R> {
    input: Input<R>,
    state: State,
    pending: VecDeque<Result<Record, DecodeError>>,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Decoder<R> {
    /// A decoder over `reader`. Wrap files in a `BufReader`.
    pub fn new(reader: R) -> Self {
        Decoder {
            input: Input {
                reader,
                position: Position { line: 1, column: 1 },
            },
            state: State::Top,
            pending: VecDeque::new(),
            buf: Vec::with_capacity(4096),
            done: false,
        }
    }

    /// Advances the scanner by one member or element, queueing what it found.
    fn step(&mut self) -> Result<(), DecodeError> {
        match self.state {
            State::Top => {
                let Some(b) = self.input.skip_ws()? else {
                    self.done = true;
                    return Ok(());
                };
                match b {
                    b'[' => {
                        self.input.bump(None)?;
                        self.state = State::TopArray { index: 0 };
                        if self.input.skip_ws()? == Some(b']') {
                            self.input.bump(None)?;
                            self.state = State::Top;
                        }
                    }
                    b'{' => self.top_object()?,
                    // A UTF-8 byte order mark before the first document.
                    0xEF if self.input.position == (Position { line: 1, column: 1 }) => {
                        for expected in [0xEF, 0xBB, 0xBF] {
                            if self.input.peek()? != Some(expected) {
                                return Err(self.input.unexpected("a JSON object or array"));
                            }
                            self.input.bump(None)?;
                        }
                        self.input.position.column = 1;
                    }
                    _ => return Err(self.input.unexpected("a JSON object or array")),
                }
            }
            State::TopArray { index } | State::EnvelopeJobs { index } => {
                if index > 0 {
                    match self.input.skip_ws()? {
                        Some(b',') => self.input.bump(None)?,
                        Some(b']') => {
                            self.input.bump(None)?;
                            self.state = match self.state {
                                State::EnvelopeJobs { .. } => State::EnvelopeRest,
                                _ => State::Top,
                            };
                            return Ok(());
                        }
                        _ => return Err(self.input.unexpected("',' or ']'")),
                    }
                }
                let start = self.element_start()?;
                let prefix = match self.state {
                    State::EnvelopeJobs { .. } => format!("CopyJobs[{index}]"),
                    _ => format!("[{index}]"),
                };
                self.buf.clear();
                self.input.scan_value(&mut self.buf, ScanState::Fresh)?;
                self.decode_object(start, &prefix);
                match &mut self.state {
                    State::TopArray { index } | State::EnvelopeJobs { index } => *index += 1,
                    _ => {}
                }
            }
            State::EnvelopeRest => match self.input.skip_ws()? {
                Some(b'}') => {
                    self.input.bump(None)?;
                    self.state = State::Top;
                }
                Some(b',') => {
                    self.input.bump(None)?;
                    self.input.skip_ws()?;
                    self.buf.clear();
                    let key = self.read_key()?;
                    self.input.skip_ws()?;
                    let start = self.input.position;
                    self.buf.clear();
                    self.input.scan_value(&mut self.buf, ScanState::Fresh)?;
                    if key == "CopyJob" {
                        self.decode_object(start, "CopyJob");
                    }
                }
                _ => return Err(self.input.unexpected("',' or '}'")),
            },
        }
        Ok(())
    }

    /// The position of the next element, which must start an object.
    fn element_start(&mut self) -> Result<Position, DecodeError> {
        match self.input.skip_ws()? {
            Some(b'{') => Ok(self.input.position),
            _ => Err(self.input.unexpected("a CopyJob object")),
        }
    }

    /// Reads `"key":` into `self.buf` and returns the key.
    fn read_key(&mut self) -> Result<String, DecodeError> {
        let at = self.input.position;
        if self.input.peek()? != Some(b'"') {
            return Err(self.input.unexpected("a member name"));
        }
        let from = self.buf.len();
        self.input.scan_value(&mut self.buf, ScanState::Fresh)?;
        let key: String =
            serde_json::from_slice(&self.buf[from..]).map_err(|e| data_error(e, None, at, ""))?;
        if self.input.skip_ws_into(Some(&mut self.buf))? != Some(b':') {
            return Err(self.input.unexpected("':'"));
        }
        self.input.bump(Some(&mut self.buf))?;
        Ok(key)
    }

    /// A top-level object: a ListCopyJobs page whose first member is
    /// `CopyJobs` streams its jobs; any other object (a DescribeCopyJob body, a
    /// bare job, or a page with `CopyJobs` later) is read whole and decoded.
    fn top_object(&mut self) -> Result<(), DecodeError> {
        let start = self.input.position;
        self.buf.clear();
        self.input.bump(Some(&mut self.buf))?;
        match self.input.skip_ws_into(Some(&mut self.buf))? {
            Some(b'}') => {
                self.input.bump(Some(&mut self.buf))?;
                self.decode_object(start, "");
                return Ok(());
            }
            Some(b'"') => {}
            _ => return Err(self.input.unexpected("a member name or '}'")),
        }
        let key = self.read_key()?;
        let next = self.input.skip_ws_into(Some(&mut self.buf))?;
        if key == "CopyJobs" && next == Some(b'[') {
            self.input.bump(None)?;
            self.state = State::EnvelopeJobs { index: 0 };
            if self.input.skip_ws()? == Some(b']') {
                self.input.bump(None)?;
                self.state = State::EnvelopeRest;
            }
            return Ok(());
        }
        // The rest of the object, as one value nested one level deep.
        self.input.scan_value(&mut self.buf, ScanState::Inside)?;
        self.decode_object(start, "");
        Ok(())
    }

    /// Decodes the object in `self.buf`, which began at `start`, and queues its
    /// jobs (or its error).
    fn decode_object(&mut self, start: Position, prefix: &str) {
        let bytes = &self.buf[..];
        match decode_job_fast(bytes) {
            Ok(mut job) => {
                if is_envelope(&mut job) {
                    decode_envelope(bytes, start, prefix, &mut self.pending);
                } else {
                    self.pending.push_back(Ok(Record {
                        job,
                        position: start,
                    }));
                }
            }
            Err(_) => self
                .pending
                .push_back(Err(decode_job_slow(bytes, start, prefix))),
        }
    }

    /// After a structural error: skip to the next line that starts with `{`
    /// or `[`, the start of the next JSON Lines record.
    fn resync(&mut self) {
        self.state = State::Top;
        if self.input.position.column == 1 && matches!(self.input.peek(), Ok(Some(b'{' | b'['))) {
            return;
        }
        loop {
            match self.input.skip_line() {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    self.done = true;
                    return;
                }
            }
            match self.input.peek() {
                Ok(Some(b'{' | b'[')) => return,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    self.done = true;
                    return;
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for Decoder<R> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            if let Err(error) = self.step() {
                if error.kind == DecodeErrorKind::Io {
                    self.done = true;
                } else {
                    self.resync();
                }
                return Some(Err(error));
            }
        }
    }
}

/// An object with no known CopyJob member but a `CopyJobs` or `CopyJob`
/// member is an envelope (a ListCopyJobs page or a DescribeCopyJob body), not
/// a job. Its other members (`NextToken`, or members AWS adds to the
/// envelope) are not part of any job and are dropped, as when a page is
/// streamed.
fn is_envelope(job: &mut CopyJob) -> bool {
    if !(job.unknown_members.contains_key("CopyJobs")
        || job.unknown_members.contains_key("CopyJob"))
    {
        return false;
    }
    // Set the unknown members aside to ask whether any known member is present.
    let unknown = std::mem::take(&mut job.unknown_members);
    let no_known_member = job.is_empty();
    job.unknown_members = unknown;
    no_known_member
}

/// The members of an envelope, each job left as its own bytes so that one bad
/// job does not hide the others.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "CopyJobs", borrow, default)]
    copy_jobs: Option<Vec<&'a serde_json::value::RawValue>>,
    #[serde(rename = "CopyJob", borrow, default)]
    copy_job: Option<&'a serde_json::value::RawValue>,
}

/// Decodes an envelope that began at `start` and queues each of its jobs (or
/// each job's error), in the order they appear.
fn decode_envelope(
    bytes: &[u8],
    start: Position,
    prefix: &str,
    pending: &mut VecDeque<Result<Record, DecodeError>>,
) {
    let envelope = match decode_tracked::<Envelope<'_>>(bytes, start, prefix) {
        Ok(envelope) => envelope,
        Err(e) => {
            pending.push_back(Err(e));
            return;
        }
    };
    let join = |member: &str| {
        if prefix.is_empty() {
            member.to_owned()
        } else {
            format!("{prefix}.{member}")
        }
    };
    let mut jobs: Vec<(String, &serde_json::value::RawValue)> = Vec::new();
    for (i, raw) in envelope.copy_jobs.into_iter().flatten().enumerate() {
        jobs.push((join(&format!("CopyJobs[{i}]")), raw));
    }
    if let Some(raw) = envelope.copy_job {
        jobs.push((join("CopyJob"), raw));
    }
    // Members may come in any order; report the jobs in input order.
    jobs.sort_by_key(|(_, raw)| raw.get().as_ptr() as usize);
    for (path, raw) in jobs {
        // The raw value borrows from `bytes`, so its offset there is known.
        let offset = (raw.get().as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
        let mut position = start;
        track(&mut position, &bytes[..offset.min(bytes.len())]);
        let job_bytes = raw.get().as_bytes();
        pending.push_back(match decode_job_fast(job_bytes) {
            Ok(job) => Ok(Record { job, position }),
            Err(_) => Err(decode_job_slow(job_bytes, position, &path)),
        });
    }
}

/// Decodes one job's bytes, without tracking the member path.
fn decode_job_fast(bytes: &[u8]) -> serde_json::Result<CopyJob> {
    // Checking the whole object's UTF-8 once is cheaper than serde_json
    // checking each string on its own, which it skips for a `&str`.
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// Decodes a job again, after the fast decode failed, to say where and why.
fn decode_job_slow(bytes: &[u8], start: Position, prefix: &str) -> DecodeError {
    decode_tracked::<CopyJob>(bytes, start, prefix)
        .err()
        .unwrap_or_else(|| DecodeError::syntax(start, "the object decoded only on the second try"))
}

/// Decodes `bytes` with member-path tracking, mapping positions to the input.
fn decode_tracked<'de, T: serde::Deserialize<'de>>(
    bytes: &'de [u8],
    start: Position,
    prefix: &str,
) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { None } else { Some(path) };
        data_error(e.into_inner(), path, start, prefix)
    })?;
    de.end().map_err(|e| data_error(e, None, start, prefix))?;
    Ok(value)
}

/// Turns a serde_json error inside an element that began at `start` into a
/// [`DecodeError`] positioned in the whole input.
fn data_error(
    error: serde_json::Error,
    path: Option<String>,
    start: Position,
    prefix: &str,
) -> DecodeError {
    let kind = if error.is_data() {
        DecodeErrorKind::Data
    } else {
        DecodeErrorKind::Syntax
    };
    let (line, column) = (error.line() as u64, error.column() as u64);
    let position = if line <= 1 {
        Position {
            line: start.line,
            column: start.column + column.saturating_sub(1),
        }
    } else {
        // serde_json says column 0 when the error is the newline itself (a raw
        // line break inside a string); columns here count from 1.
        Position {
            line: start.line + line - 1,
            column: column.max(1),
        }
    };
    let full = error.to_string();
    let message = match full.rfind(" at line ") {
        Some(at) if line > 0 => full[..at].to_owned(),
        _ => full,
    };
    let path = match (prefix.is_empty(), path) {
        (true, None) => String::new(),
        (true, Some(p)) => p,
        (false, None) => prefix.to_owned(),
        (false, Some(p)) if p.starts_with('[') => format!("{prefix}{p}"),
        (false, Some(p)) => format!("{prefix}.{p}"),
    };
    DecodeError {
        kind,
        position,
        path,
        message,
    }
}

/// The bytes at which [`Input::scan_value`] must stop and look, inside a
/// string, between strings, and in a bare value (a number or literal).
const STOP_IN_STRING: [bool; 256] = stop_table(b"\"\\\n");
const STOP_IN_STRUCTURE: [bool; 256] = stop_table(b"\"{}[]\n");
const STOP_IN_BARE: [bool; 256] = stop_table(b" \t\n\r,]}");

/// The index of the first `"`, `\\` or line feed in `bytes`.
///
/// Most of a job's bytes are inside strings, so this looks at eight bytes at a
/// time: `x - 0x01..01 & !x & 0x80..80` is non-zero exactly when a byte of `x`
/// is zero, and its lowest set bit marks the first such byte.
fn find_string_stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for (k, chunk) in chunks.by_ref().enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let found = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | zero_bytes(w ^ (ONES * u64::from(b'\n')));
        if found != 0 {
            return Some(k * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let rest = chunks.remainder();
    rest.iter()
        .position(|&b| STOP_IN_STRING[usize::from(b)])
        .map(|n| bytes.len() - rest.len() + n)
}

const fn stop_table(stops: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < stops.len() {
        table[stops[i] as usize] = true;
        i += 1;
    }
    table
}

/// How [`Input::scan_value`] starts.
#[derive(Debug, Clone, Copy)]
enum ScanState {
    /// At the first byte of a value.
    Fresh,
    /// Inside an object or array whose opening bracket was already read.
    Inside,
}

/// A buffered reader that knows its line and column.
#[derive(Debug)]
struct Input<R> {
    reader: R,
    position: Position,
}

fn track(position: &mut Position, bytes: &[u8]) {
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(last) => {
            position.line += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            position.column = (bytes.len() - last) as u64;
        }
        None => position.column += bytes.len() as u64,
    }
}

impl<R: BufRead> Input<R> {
    fn io_error(&self, e: io::Error) -> DecodeError {
        DecodeError {
            kind: DecodeErrorKind::Io,
            position: self.position,
            path: String::new(),
            message: e.to_string(),
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, DecodeError> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    fn unexpected(&mut self, expected: &str) -> DecodeError {
        let found = match self.peek() {
            Ok(Some(b)) if b.is_ascii_graphic() => format!("'{}'", b as char),
            Ok(Some(b)) => format!("byte 0x{b:02x}"),
            Ok(None) => "the end of the input".to_owned(),
            Err(e) => return e,
        };
        DecodeError::syntax(self.position, format!("expected {expected}, found {found}"))
    }

    /// Consumes one byte, copying it to `capture`.
    fn bump(&mut self, capture: Option<&mut Vec<u8>>) -> Result<(), DecodeError> {
        if let Some(b) = self.peek()? {
            if let Some(out) = capture {
                out.push(b);
            }
            track(&mut self.position, &[b]);
            self.reader.consume(1);
        }
        Ok(())
    }

    fn skip_ws(&mut self) -> Result<Option<u8>, DecodeError> {
        self.skip_ws_into(None)
    }

    /// Skips white space (copying it to `capture`) and peeks at the next byte.
    fn skip_ws_into(
        &mut self,
        mut capture: Option<&mut Vec<u8>>,
    ) -> Result<Option<u8>, DecodeError> {
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            };
            if buf.is_empty() {
                return Ok(None);
            }
            let n = buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(buf.len());
            let next = buf.get(n).copied();
            track(&mut self.position, &buf[..n]);
            if let Some(out) = capture.as_deref_mut() {
                out.extend_from_slice(&buf[..n]);
            }
            self.reader.consume(n);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Consumes through the next newline; false at the end of the input.
    fn skip_line(&mut self) -> Result<bool, DecodeError> {
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            };
            if buf.is_empty() {
                return Ok(false);
            }
            let (n, found) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            track(&mut self.position, &buf[..n]);
            self.reader.consume(n);
            if found {
                return Ok(true);
            }
        }
    }

    /// Copies one JSON value into `out`, following only its structure
    /// (brackets and strings); the JSON parser validates the rest.
    fn scan_value(&mut self, out: &mut Vec<u8>, start: ScanState) -> Result<(), DecodeError> {
        let mut depth: u32 = 0;
        let mut in_string = false;
        let mut escape = false;
        let mut bare = false;
        match start {
            ScanState::Inside => depth = 1,
            ScanState::Fresh => match self.peek()? {
                Some(b'{' | b'[') => {
                    depth = 1;
                    self.bump(Some(out))?;
                }
                Some(b'"') => {
                    in_string = true;
                    self.bump(Some(out))?;
                }
                Some(_) => bare = true,
                None => return Err(self.unexpected("a value")),
            },
        }
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            };
            if buf.is_empty() {
                if bare {
                    return Ok(());
                }
                return Err(DecodeError::syntax(
                    self.position,
                    "the input ends inside a value (truncated JSON)",
                ));
            }
            let mut done = false;
            let mut line_end = None;
            let mut i = 0;
            while i < buf.len() {
                // Skip the bytes that cannot change the scanner's state (most
                // of them) with one table lookup each. The byte after a
                // backslash is always looked at.
                if !escape {
                    let next = if in_string {
                        find_string_stop(&buf[i..])
                    } else {
                        let stops = if bare {
                            &STOP_IN_BARE
                        } else {
                            &STOP_IN_STRUCTURE
                        };
                        buf[i..].iter().position(|&b| stops[usize::from(b)])
                    };
                    match next {
                        Some(n) => i += n,
                        None => {
                            i = buf.len();
                            break;
                        }
                    }
                }
                let b = buf[i];
                if b == b'\n' && !bare {
                    // Stop at each line end to look at the next line's first byte.
                    line_end = Some(i);
                    i += 1;
                    break;
                }
                if in_string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            i += 1;
                            done = true;
                            break;
                        }
                    }
                } else if bare {
                    if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}') {
                        done = true;
                        break;
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                done = true;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            // The bytes taken hold no line break but the one that ended the
            // line, if any (a bare value stops before a line break), so the
            // position moves without looking at them again.
            let mut before_newline = self.position;
            if let Some(at) = line_end {
                before_newline.column += at as u64;
            }
            out.extend_from_slice(&buf[..i]);
            if line_end.is_some() {
                self.position.line += 1;
                self.position.column = 1;
            } else {
                self.position.column += i as u64;
            }
            self.reader.consume(i);
            if done {
                return Ok(());
            }
            // JSON never puts `{` or `[` at the start of a line inside a value
            // that a tool printed, but JSON Lines starts every record there: a
            // value still open at that point is a broken record.
            if line_end.is_some() && matches!(self.peek()?, Some(b'{' | b'[')) {
                return Err(DecodeError::syntax(
                    before_newline,
                    "the line ends inside a value and the next line starts a new record (truncated JSON?)",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(input: &str) -> Vec<Result<String, String>> {
        Decoder::new(input.as_bytes())
            .map(|r| match r {
                Ok(rec) => Ok(rec.job.copy_job_id.unwrap_or_default()),
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    #[test]
    fn every_shape_decodes() {
        let ok = |v: &[&str]| v.iter().map(|s| Ok(s.to_string())).collect::<Vec<_>>();
        assert_eq!(ids(r#"{"CopyJob":{"CopyJobId":"a"}}"#), ok(&["a"]));
        assert_eq!(
            ids(r#"{"CopyJobs":[{"CopyJobId":"a"},{"CopyJobId":"b"}],"NextToken":"t"}"#),
            ok(&["a", "b"])
        );
        assert_eq!(
            ids(r#"{"NextToken":"t","CopyJobs":[{"CopyJobId":"a"}]}"#),
            ok(&["a"])
        );
        assert_eq!(ids(r#"{"CopyJobId":"a"}"#), ok(&["a"]));
        assert_eq!(
            ids("[{\"CopyJobId\":\"a\"},\n {\"CopyJobId\":\"b\"}]"),
            ok(&["a", "b"])
        );
        assert_eq!(
            ids("{\"CopyJobId\":\"a\"}\n{\"CopyJob\":{\"CopyJobId\":\"b\"}}\n[]\n{\"CopyJobs\":[]}\n"),
            ok(&["a", "b"])
        );
        assert_eq!(ids("  \n"), ok(&[]));
        assert_eq!(ids("\u{feff}{\"CopyJobId\":\"a\"}"), ok(&["a"]));
    }

    #[test]
    fn a_bad_member_is_named_and_the_rest_still_decodes() {
        let input = "{\"CopyJobs\": [\n  {\"CopyJobId\": \"a\"},\n  {\"CopyJobId\": \"b\", \"BackupSizeInBytes\": \"huge\"},\n  {\"CopyJobId\": \"c\"}\n]}";
        let got = ids(input);
        assert_eq!(got[0], Ok("a".into()));
        assert_eq!(
            got[1],
            Err("line 3, column 48: CopyJobs[1].BackupSizeInBytes: invalid type: string \"huge\", expected i64".into())
        );
        assert_eq!(got[2], Ok("c".into()));
    }

    #[test]
    fn string_stops_are_found_eight_bytes_at_a_time() {
        let naive = |b: &[u8]| b.iter().position(|&c| matches!(c, b'"' | b'\\' | b'\n'));
        let mut text: Vec<u8> =
            b"plain ascii, then \xc3\xa9\xff\x80 high bytes and \x00 \x01 \x21 \x5b \x5d".to_vec();
        text.extend((0u8..=255).filter(|b| !matches!(b, b'"' | b'\\' | b'\n')));
        for stop in [b'"', b'\\', b'\n'] {
            for at in 0..text.len() {
                let mut bytes = text.clone();
                bytes[at] = stop;
                for start in 0..at.min(17) {
                    assert_eq!(find_string_stop(&bytes[start..]), naive(&bytes[start..]));
                }
            }
        }
        assert_eq!(find_string_stop(&text), None);
        assert_eq!(find_string_stop(b""), None);
    }

    #[test]
    fn broken_json_lines_recover_at_the_next_line() {
        let input = "{\"CopyJobId\":\"a\"}\n{\"CopyJobId\": \"b\",\n{\"CopyJobId\":\"c\"}\n";
        let got = ids(input);
        assert_eq!(got[0], Ok("a".into()));
        assert!(got[1].is_err(), "{got:?}");
        assert_eq!(got.last(), Some(&Ok("c".into())));
        let truncated = ids("{\"CopyJobs\":[{\"CopyJobId\":\"a\"},{\"CopyJobId\":\"b");
        assert_eq!(truncated[0], Ok("a".into()));
        assert!(truncated[1].as_ref().unwrap_err().contains("truncated"));
        assert!(ids("42")[0].is_err());
    }
}
