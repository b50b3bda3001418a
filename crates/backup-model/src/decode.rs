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
//! The layout does not matter: compact, pretty, one value per line (Python's
//! `json.dumps(indent=0)`), CRLF line ends all give the same jobs.
//!
//! Decoding is strict. Every record must be a copy job, that is an object
//! with a `CopyJobId`: an empty object or an AWS error body
//! (`{"__type":"AccessDeniedException",...}`) is an error of kind
//! [`DecodeErrorKind::NotACopyJob`]. Invalid JSON is an error wherever it is,
//! and an object that names a member twice, at any depth, is an error of kind
//! [`DecodeErrorKind::DuplicateMember`] with that member's path.
//!
//! Memory is bounded by the largest record, not by the input: a lightweight
//! structural scanner cuts the input into one job at a time, and each job is
//! then decoded from its own bytes. A record is a job, or a document that is
//! not a page streamed job by job; a record longer than
//! [`Decoder::max_record_size`] ([`DEFAULT_MAX_RECORD_SIZE`] unless set) is
//! skipped with an error of kind [`DecodeErrorKind::TooLarge`], without being
//! held in memory. The jobs of a ListCopyJobs page whose first member is
//! `CopyJobs` (as the service and the AWS CLI write it) are streamed; a page
//! with another member first is one record.
//!
//! Because the scanner has already found where a job ends, a job with a bad
//! member is reported and skipped while the jobs around it still decode. Only
//! broken JSON structure (a missing bracket, a truncated file) ends the
//! current document; after such an error only, the decoder resumes at the
//! next line that starts with `{` or `[`, which recovers JSON Lines input line
//! by line.
//!
//! Errors carry the line and column in the whole input and the member path,
//! such as `CopyJobs[3].BackupSizeInBytes`. The path comes from
//! `serde_path_to_error`, used only on the slow path after a fast decode failed,
//! so valid input pays nothing for it.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};
use std::sync::Arc;

use serde_json::value::RawValue;

use crate::types::{CopyJob, DUPLICATE_MEMBER};

/// The largest record a [`Decoder`] reads unless told otherwise: 16 MiB.
///
/// A job is a few kilobytes; the largest ListCopyJobs page (1000 jobs) is a
/// few megabytes.
pub const DEFAULT_MAX_RECORD_SIZE: usize = 16 << 20;

/// A position in the input: 1-based line and 1-based column (in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct Position {
    /// The line, counting from 1.
    pub line: u64,
    /// The column in bytes, counting from 1.
    pub column: u64,
}

impl Position {
    /// The position at `line` and `column`, both counting from 1.
    pub const fn new(line: u64, column: u64) -> Self {
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A decoded job and where it began in the input.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Record {
    /// The job.
    pub job: CopyJob,
    /// Where the job's JSON object began.
    pub position: Position,
}

/// What went wrong while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input could not be read.
    Io,
    /// The input is not well-formed JSON, or not one of the accepted shapes.
    Syntax,
    /// The JSON is well formed but a member has the wrong type or value.
    Data,
    /// A well-formed object that is not a copy job: it has no `CopyJobId`
    /// (an empty object, or an AWS error body such as
    /// `{"__type":"AccessDeniedException","message":"..."}`).
    NotACopyJob,
    /// An object names the same member twice; the path names the member.
    DuplicateMember,
    /// A record is longer than the decoder's maximum record size.
    TooLarge,
}

/// A decoding failure, with where it happened.
#[derive(Debug, Clone)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    position: Position,
    path: String,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for DecodeError {
    /// Equal when kind, position, path and message are (the source is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.position == other.position
            && self.path == other.path
            && self.message == other.message
    }
}

impl Eq for DecodeError {}

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

    fn new(
        kind: DecodeErrorKind,
        position: Position,
        path: &str,
        message: impl Into<String>,
    ) -> Self {
        DecodeError {
            kind,
            position,
            path: path.to_owned(),
            message: message.into(),
            source: None,
        }
    }

    fn syntax(position: Position, message: impl Into<String>) -> Self {
        Self::new(DecodeErrorKind::Syntax, position, "", message)
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

impl std::error::Error for DecodeError {
    /// The I/O error, or serde_json's error, behind this one.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

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
    /// Inside a top-level ListCopyJobs object, after its `CopyJobs` array;
    /// the names of the members seen so far.
    EnvelopeRest { names: Vec<String> },
}

/// A streaming iterator over the jobs in an input; see the module docs.
#[derive(Debug)]
pub struct Decoder<R> {
    input: Input<R>,
    state: State,
    pending: VecDeque<Result<Record, DecodeError>>,
    buf: Vec<u8>,
    /// Where the record being scanned into `buf` began (from its first byte).
    record_start: Option<Position>,
    max_record_size: usize,
    done: bool,
}

/// What [`Input::scan_value`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// The whole value is in the buffer.
    Complete,
    /// The value was longer than the limit: it was read past, not kept.
    TooLarge,
}

impl<R: BufRead> Decoder<R> {
    /// A decoder over `reader`. Wrap files in a `BufReader`.
    pub fn new(reader: R) -> Self {
        Decoder {
            input: Input {
                reader,
                replay: Vec::new(),
                replay_at: 0,
                position: Position { line: 1, column: 1 },
            },
            state: State::Top,
            pending: VecDeque::new(),
            buf: Vec::with_capacity(4096),
            record_start: None,
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
            done: false,
        }
    }

    /// Sets the largest record, in bytes, that is read (see the module docs);
    /// a longer one is an error of kind [`DecodeErrorKind::TooLarge`].
    #[must_use]
    pub fn max_record_size(mut self, bytes: usize) -> Self {
        self.max_record_size = bytes.max(2);
        self
    }

    fn too_large(&self, start: Position, path: &str) -> DecodeError {
        DecodeError::new(
            DecodeErrorKind::TooLarge,
            start,
            path,
            format!(
                "the record is longer than the maximum record size of {} bytes; it was skipped",
                self.max_record_size
            ),
        )
    }

    /// Scans one value into `self.buf` (cleared first) as a record that
    /// begins at the current position.
    fn scan_record(&mut self) -> Result<(Position, Scan), DecodeError> {
        let start = self.input.position;
        self.buf.clear();
        self.record_start = Some(start);
        let scan = self
            .input
            .scan_value(&mut self.buf, ScanState::Fresh, self.max_record_size)?;
        self.record_start = None;
        Ok((start, scan))
    }

    /// Advances the scanner by one member or element, queueing what it found.
    fn step(&mut self) -> Result<(), DecodeError> {
        match &mut self.state {
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
                let index = *index;
                let in_envelope = matches!(self.state, State::EnvelopeJobs { .. });
                if index > 0 {
                    match self.input.skip_ws()? {
                        Some(b',') => self.input.bump(None)?,
                        Some(b']') => {
                            self.input.bump(None)?;
                            self.state = if in_envelope {
                                State::EnvelopeRest {
                                    names: vec!["CopyJobs".to_owned()],
                                }
                            } else {
                                State::Top
                            };
                            return Ok(());
                        }
                        _ => return Err(self.input.unexpected("',' or ']'")),
                    }
                }
                self.element_start()?;
                let prefix = if in_envelope {
                    format!("CopyJobs[{index}]")
                } else {
                    format!("[{index}]")
                };
                let (start, scan) = self.scan_record()?;
                match scan {
                    Scan::Complete => self.decode_job(start, &prefix),
                    Scan::TooLarge => {
                        let error = self.too_large(start, &prefix);
                        self.pending.push_back(Err(error));
                    }
                }
                match &mut self.state {
                    State::TopArray { index } | State::EnvelopeJobs { index } => *index += 1,
                    _ => {}
                }
            }
            State::EnvelopeRest { .. } => match self.input.skip_ws()? {
                Some(b'}') => {
                    self.input.bump(None)?;
                    self.state = State::Top;
                }
                Some(b',') => {
                    self.input.bump(None)?;
                    self.input.skip_ws()?;
                    let key_at = self.input.position;
                    self.buf.clear();
                    let key = self.read_key()?;
                    if let State::EnvelopeRest { names } = &mut self.state {
                        if names.contains(&key) {
                            return Err(DecodeError::new(
                                DecodeErrorKind::DuplicateMember,
                                key_at,
                                &key,
                                "duplicate member name",
                            ));
                        }
                        names.push(key.clone());
                    }
                    self.input.skip_ws()?;
                    let (start, scan) = self.scan_record()?;
                    match scan {
                        Scan::Complete => self.envelope_member(&key, start),
                        Scan::TooLarge => {
                            let error = self.too_large(start, &key);
                            self.pending.push_back(Err(error));
                        }
                    }
                }
                _ => return Err(self.input.unexpected("',' or '}'")),
            },
        }
        Ok(())
    }

    /// Checks a member of a streamed ListCopyJobs page other than
    /// `CopyJobs`, whose value is in `self.buf`: valid JSON with no duplicate
    /// names; `NextToken` a string. A `CopyJob` member is decoded as a job.
    fn envelope_member(&mut self, key: &str, start: Position) {
        let result = match key {
            "NextToken" => decode_tracked::<Option<String>>(&self.buf, start, key).map(|_| ()),
            "CopyJob" => {
                self.decode_job(start, key);
                return;
            }
            _ => decode_tracked::<Box<RawValue>>(&self.buf, start, key).and_then(|raw| {
                crate::raw::tidy(raw).map(|_| ()).map_err(|path| {
                    DecodeError::new(
                        DecodeErrorKind::DuplicateMember,
                        start,
                        &crate::raw::join(key, &path),
                        "duplicate member name",
                    )
                })
            }),
        };
        if let Err(e) = result {
            self.pending.push_back(Err(e));
        }
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
        // A member name is a record of its own for the size limit.
        if self
            .input
            .scan_value(&mut self.buf, ScanState::Fresh, self.max_record_size)?
            == Scan::TooLarge
        {
            return Err(self.too_large(at, ""));
        }
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
        self.record_start = Some(start);
        self.input.bump(Some(&mut self.buf))?;
        match self.input.skip_ws_into(Some(&mut self.buf))? {
            Some(b'}') => {
                self.input.bump(Some(&mut self.buf))?;
                self.record_start = None;
                self.decode_document(start);
                return Ok(());
            }
            Some(b'"') => {}
            _ => return Err(self.input.unexpected("a member name or '}'")),
        }
        let key = self.read_key()?;
        let next = self.input.skip_ws_into(Some(&mut self.buf))?;
        if key == "CopyJobs" && next == Some(b'[') {
            self.record_start = None;
            self.input.bump(None)?;
            self.state = State::EnvelopeJobs { index: 0 };
            if self.input.skip_ws()? == Some(b']') {
                self.input.bump(None)?;
                self.state = State::EnvelopeRest { names: vec![key] };
            }
            return Ok(());
        }
        // The rest of the object, as one value nested one level deep.
        let limit = self.max_record_size;
        let scan = self
            .input
            .scan_value(&mut self.buf, ScanState::Inside, limit)?;
        self.record_start = None;
        match scan {
            Scan::Complete => self.decode_document(start),
            Scan::TooLarge => {
                let error = self.too_large(start, "");
                self.pending.push_back(Err(error));
            }
        }
        Ok(())
    }

    /// Decodes a top-level object in `self.buf` that began at `start`: a
    /// DescribeCopyJob body, a ListCopyJobs page, or a bare job.
    fn decode_document(&mut self, start: Position) {
        let bytes = &self.buf[..];
        // Most documents are jobs (JSON Lines); only an object that mentions
        // an envelope member is looked at more closely.
        if contains(bytes, b"\"CopyJobs\"") || contains(bytes, b"\"CopyJob\"") {
            match probe(bytes) {
                Ok(Some(envelope)) => {
                    decode_envelope(bytes, start, envelope, &mut self.pending);
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    // Broken JSON or a duplicate top-level name: the slow
                    // path says where.
                    let error = decode_tracked::<CopyJob>(bytes, start, "")
                        .err()
                        .unwrap_or_else(|| {
                            DecodeError::syntax(start, format!("invalid document: {e}"))
                        });
                    self.pending.push_back(Err(error));
                    return;
                }
            }
        }
        self.decode_job(start, "");
    }

    /// Decodes the job in `self.buf`, which began at `start`, and queues it
    /// (or its error).
    fn decode_job(&mut self, start: Position, prefix: &str) {
        let record = job_record(&self.buf, start, prefix);
        self.pending.push_back(record);
    }

    /// After a structural error: resume at the next line that starts with
    /// `{` or `[`, the start of the next JSON Lines record, looking first in
    /// the bytes of the record that was being read when the error came.
    fn resync(&mut self) {
        self.state = State::Top;
        if let Some(start) = self.record_start.take() {
            let found = (1..self.buf.len())
                .find(|&i| self.buf[i - 1] == b'\n' && matches!(self.buf[i], b'{' | b'['));
            if let Some(at) = found {
                let mut position = start;
                track(&mut position, &self.buf[..at]);
                let mut rest = self.buf.split_off(at);
                // Bytes not yet replayed still come first.
                rest.extend_from_slice(&self.input.replay[self.input.replay_at..]);
                self.input.replay = rest;
                self.input.replay_at = 0;
                self.input.position = position;
                return;
            }
        }
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
            if let Err(mut error) = self.step() {
                // The input ended inside a record: say where the record began,
                // which is where a person looks for the damage.
                if error.kind == DecodeErrorKind::Syntax && self.input.at_end() {
                    if let Some(start) = self.record_start {
                        error.position = start;
                        error.message =
                            "the input ends inside this record (truncated JSON)".to_owned();
                    }
                }
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

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The members of a top-level object that make it an envelope.
#[derive(Debug, Default)]
struct Envelope<'a> {
    copy_jobs: Option<&'a RawValue>,
    copy_job: Option<&'a RawValue>,
    next_token: Option<&'a RawValue>,
    /// Other members (of the envelope: AWS may add some), checked for
    /// duplicate names inside.
    others: Vec<(String, &'a RawValue)>,
}

/// Reads a top-level object's members without decoding them: `Some` when it
/// is an envelope (a `CopyJobs` or `CopyJob` member and no CopyJob member),
/// `None` when it is to be decoded as a job. Fails on invalid JSON or a
/// duplicate member name.
fn probe(bytes: &[u8]) -> Result<Option<Envelope<'_>>, String> {
    use serde::de::{Deserializer as _, MapAccess, Visitor};

    struct ProbeVisitor;

    impl<'de> Visitor<'de> for ProbeVisitor {
        type Value = (Envelope<'de>, bool);

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut envelope = Envelope::default();
            let mut names: Vec<String> = Vec::new();
            let mut job_member = false;
            while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                let value: &'de RawValue = map.next_value()?;
                if names.iter().any(|n| *n == name) {
                    return Err(serde::de::Error::custom(format_args!(
                        "{DUPLICATE_MEMBER}{name}"
                    )));
                }
                names.push(name.clone().into_owned());
                match &*name {
                    "CopyJobs" => envelope.copy_jobs = Some(value),
                    "CopyJob" => envelope.copy_job = Some(value),
                    "NextToken" => envelope.next_token = Some(value),
                    other => {
                        job_member |= CopyJob::MEMBERS.contains(&other);
                        envelope.others.push((other.to_owned(), value));
                    }
                }
            }
            Ok((envelope, job_member))
        }
    }

    let mut de = serde_json::Deserializer::from_slice(bytes);
    let (envelope, job_member) = (&mut de)
        .deserialize_map(ProbeVisitor)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    let is_envelope = (envelope.copy_jobs.is_some() || envelope.copy_job.is_some()) && !job_member;
    Ok(is_envelope.then_some(envelope))
}

/// Queues each job of an envelope that began at `start` (or each job's
/// error), in the order they appear, then the errors of its other members.
fn decode_envelope(
    bytes: &[u8],
    start: Position,
    envelope: Envelope<'_>,
    pending: &mut VecDeque<Result<Record, DecodeError>>,
) {
    // The raw values borrow from `bytes`, so their offsets there are known.
    let position_of = |raw: &RawValue| {
        let offset = (raw.get().as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
        let mut position = start;
        track(&mut position, &bytes[..offset.min(bytes.len())]);
        position
    };
    let mut jobs: Vec<(String, &RawValue)> = Vec::new();
    let mut errors: Vec<DecodeError> = Vec::new();
    if let Some(raw) = envelope.copy_jobs {
        match serde_json::from_str::<Option<Vec<&RawValue>>>(raw.get()) {
            Ok(list) => {
                for (i, raw) in list.into_iter().flatten().enumerate() {
                    jobs.push((format!("CopyJobs[{i}]"), raw));
                }
            }
            Err(e) => errors.push(data_error(
                e,
                Some(String::new()),
                position_of(raw),
                "CopyJobs",
            )),
        }
    }
    if let Some(raw) = envelope.copy_job {
        if raw.get() != "null" {
            jobs.push(("CopyJob".to_owned(), raw));
        }
    }
    if let Some(raw) = envelope.next_token {
        if let Err(e) = serde_json::from_str::<Option<String>>(raw.get()) {
            errors.push(data_error(e, None, position_of(raw), "NextToken"));
        }
    }
    for (name, raw) in &envelope.others {
        if let Err(path) = crate::raw::tidy((**raw).to_owned()) {
            errors.push(DecodeError::new(
                DecodeErrorKind::DuplicateMember,
                position_of(raw),
                &crate::raw::join(name, &path),
                "duplicate member name",
            ));
        }
    }
    // Members may come in any order; report the jobs in input order.
    jobs.sort_by_key(|(_, raw)| raw.get().as_ptr() as usize);
    for (path, raw) in jobs {
        pending.push_back(job_record(raw.get().as_bytes(), position_of(raw), &path));
    }
    pending.extend(errors.into_iter().map(Err));
}

/// The job in `bytes`, which began at `start`, or why it is not one.
fn job_record(bytes: &[u8], start: Position, prefix: &str) -> Result<Record, DecodeError> {
    match decode_job_fast(bytes) {
        Ok(job) if job.copy_job_id.is_some() => Ok(Record {
            job,
            position: start,
        }),
        Ok(job) => Err(not_a_copy_job(&job, start, prefix)),
        Err(_) => Err(decode_job_slow(bytes, start, prefix)),
    }
}

/// The error for an object with no `CopyJobId`, saying what it looks like.
fn not_a_copy_job(job: &CopyJob, start: Position, prefix: &str) -> DecodeError {
    let text = |name: &str| {
        job.unknown_members
            .get(name)
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    };
    let message = if let Some(kind) = text("__type").or_else(|| text("code")) {
        let detail = text("message")
            .or_else(|| text("Message"))
            .unwrap_or_default();
        format!("not a copy job: an AWS error response ({kind}: {detail})")
    } else if job.is_empty() {
        "not a copy job: the object is empty".to_owned()
    } else {
        "not a copy job: the object has no CopyJobId".to_owned()
    };
    DecodeError::new(DecodeErrorKind::NotACopyJob, start, prefix, message)
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
    let mut kind = if error.is_data() {
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
    let mut message = match full.rfind(" at line ") {
        Some(at) if line > 0 => full[..at].to_owned(),
        _ => full,
    };
    let mut path = path.filter(|p| !p.is_empty());
    // A duplicate name: the error's text ends with the member's path below
    // the structure being read.
    if let Some(member) = message.strip_prefix(DUPLICATE_MEMBER) {
        kind = DecodeErrorKind::DuplicateMember;
        path = Some(match path {
            None => member.to_owned(),
            Some(p) if member.starts_with('[') => format!("{p}{member}"),
            Some(p) => format!("{p}.{member}"),
        });
        message = "duplicate member name".to_owned();
    }
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
        source: Some(Arc::new(error)),
    }
}

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
    /// Bytes read already that are to be read again first (after an error,
    /// see `Decoder::resync`).
    replay: Vec<u8>,
    replay_at: usize,
    position: Position,
}

/// The next bytes: those to replay, else the reader's.
fn fill<'a, R: BufRead>(
    reader: &'a mut R,
    replay: &'a [u8],
    replay_at: usize,
) -> io::Result<&'a [u8]> {
    if replay_at < replay.len() {
        Ok(&replay[replay_at..])
    } else {
        reader.fill_buf()
    }
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
        let mut error = DecodeError::new(DecodeErrorKind::Io, self.position, "", e.to_string());
        error.source = Some(Arc::new(e));
        error
    }

    /// Whether every byte of the input has been read.
    fn at_end(&mut self) -> bool {
        matches!(self.peek(), Ok(None))
    }

    /// Consumes `n` bytes of what [`fill`] gave.
    fn consume(&mut self, n: usize) {
        if self.replay_at < self.replay.len() {
            self.replay_at += n;
            if self.replay_at >= self.replay.len() {
                self.replay = Vec::new();
                self.replay_at = 0;
            }
        } else {
            self.reader.consume(n);
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, DecodeError> {
        loop {
            match fill(&mut self.reader, &self.replay, self.replay_at) {
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
            self.consume(1);
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
            let buf = match fill(&mut self.reader, &self.replay, self.replay_at) {
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
            self.consume(n);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Consumes through the next newline; false at the end of the input.
    fn skip_line(&mut self) -> Result<bool, DecodeError> {
        loop {
            let buf = match fill(&mut self.reader, &self.replay, self.replay_at) {
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
            self.consume(n);
            if found {
                return Ok(true);
            }
        }
    }

    /// Copies one JSON value into `out`, following only its structure
    /// (brackets and strings); the JSON parser validates the rest.
    ///
    /// When `out` would grow past `limit` bytes, the rest of the value is read
    /// past without being kept and the result is [`Scan::TooLarge`].
    fn scan_value(
        &mut self,
        out: &mut Vec<u8>,
        start: ScanState,
        limit: usize,
    ) -> Result<Scan, DecodeError> {
        let mut too_large = false;
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
                Some(b'}' | b']' | b',' | b':') | None => return Err(self.unexpected("a value")),
                Some(_) => bare = true,
            },
        }
        loop {
            let buf = match fill(&mut self.reader, &self.replay, self.replay_at) {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            };
            if buf.is_empty() {
                if bare {
                    return Ok(if too_large {
                        Scan::TooLarge
                    } else {
                        Scan::Complete
                    });
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
            if !too_large && out.len() + i > limit {
                too_large = true;
                out.clear();
            }
            if !too_large {
                out.extend_from_slice(&buf[..i]);
            }
            if line_end.is_some() {
                self.position.line += 1;
                self.position.column = 1;
            } else {
                self.position.column += i as u64;
            }
            self.consume(i);
            if done {
                return Ok(if too_large {
                    Scan::TooLarge
                } else {
                    Scan::Complete
                });
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
