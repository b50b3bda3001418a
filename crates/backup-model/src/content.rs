//! The content form: what a job's content hash is computed from.
//!
//! A history row is written when a job's content changes, so the content hash
//! must change with what AWS sent and with nothing else: not with the order
//! in which this version of the model writes members, not with whether it
//! knows a member or an enum value, not with the layout of the input. The
//! content form is therefore a function of the JSON text alone, applied to
//! the job's canonical encoding, and knows nothing of the model:
//!
//! - no white space; the members of every object sorted by name (byte order
//!   of the UTF-8 text); members whose value is `null` left out (the model
//!   reads `null` as absent);
//! - strings written by serde_json from their unescaped text (`"\u00e9"` and
//!   `"é"` are the same), except that a string the model reads as a
//!   timestamp (see [`Timestamp::parse_rfc3339`]) becomes a number;
//! - numbers, timestamps included, as their exact decimal value: the digits
//!   without leading or trailing zeros and a power of ten (`1516925490.087`
//!   is `1516925490087e-3`, `100` and `1.0e2` are `1e2`, `-0.0` is `0`).
//!   Known timestamps are written by the model as RFC 3339 strings and so
//!   take the same form as an epoch number sent for a member it does not
//!   know yet.
//!
//! [`CONTENT_FORM_VERSION`] names this definition; it changes whenever the
//! definition does, so that stored hashes can be recomputed.

use crate::timestamp::Timestamp;

/// The version of the content form's definition (see the module docs).
pub const CONTENT_FORM_VERSION: u16 = 1;

/// Why a text has no content form: it is not one JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentFormError {
    offset: usize,
    message: &'static str,
}

impl ContentFormError {
    /// The byte offset in the text where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl std::fmt::Display for ContentFormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for ContentFormError {}

/// Appends the content form of the JSON value in `json` to `out`.
///
/// The text must be one well-formed JSON value (surrounding white space is
/// allowed); on error `out` is left as it was.
pub fn write_content_form(json: &[u8], out: &mut Vec<u8>) -> Result<(), ContentFormError> {
    write_form(json, out, true)
}

/// The form in which two JSON texts are equal exactly when they are the
/// same JSON value: as the content form, but strings stay strings and
/// members whose value is `null` stay.
pub(crate) fn write_value_form(json: &[u8], out: &mut Vec<u8>) -> Result<(), ContentFormError> {
    write_form(json, out, false)
}

fn write_form(json: &[u8], out: &mut Vec<u8>, content: bool) -> Result<(), ContentFormError> {
    let start = out.len();
    let mut parser = Parser {
        text: json,
        at: 0,
        depth: 0,
        content,
    };
    let result = parser
        .skip_ws()
        .and_then(|()| parser.value(out))
        .and_then(|()| {
            parser.skip_ws()?;
            if parser.at == json.len() {
                Ok(())
            } else {
                Err(parser.error("text after the value"))
            }
        });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The deepest nesting the content form follows (the decoder refuses deeper
/// input first: serde_json's own limit is 128).
const MAX_DEPTH: u32 = 256;

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    depth: u32,
    /// The content form (timestamps as numbers, null members left out), or
    /// the value form.
    content: bool,
}

impl Parser<'_> {
    fn error(&self, message: &'static str) -> ContentFormError {
        ContentFormError {
            offset: self.at,
            message,
        }
    }

    fn skip_ws(&mut self) -> Result<(), ContentFormError> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.at) {
            self.at += 1;
        }
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn expect(&mut self, b: u8, message: &'static str) -> Result<(), ContentFormError> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    fn value(&mut self, out: &mut Vec<u8>) -> Result<(), ContentFormError> {
        match self.peek() {
            Some(b'{') => self.object(out),
            Some(b'[') => self.array(out),
            Some(b'"') => {
                let text = self.string()?;
                match timestamp_of(&text).filter(|_| self.content) {
                    Some(t) => write_millis(t.as_millis(), out),
                    None => write_string(&text, out),
                }
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(b't') => self.literal(b"true", out),
            Some(b'f') => self.literal(b"false", out),
            Some(b'n') => self.literal(b"null", out),
            _ => Err(self.error("expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Result<(), ContentFormError> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            out.extend_from_slice(word);
            Ok(())
        } else {
            Err(self.error("expected true, false or null"))
        }
    }

    fn nest(&mut self) -> Result<(), ContentFormError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        Ok(())
    }

    fn object(&mut self, out: &mut Vec<u8>) -> Result<(), ContentFormError> {
        self.nest()?;
        self.at += 1;
        // (name, content form of the value) of each member, sorted after.
        let mut members: Vec<(String, Vec<u8>)> = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.skip_ws()?;
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a member name"));
                }
                let name = self.string()?;
                self.skip_ws()?;
                self.expect(b':', "expected ':'")?;
                self.skip_ws()?;
                let mut value = Vec::new();
                self.value(&mut value)?;
                if value != b"null" || !self.content {
                    members.push((name, value));
                }
                self.skip_ws()?;
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or '}'")),
                }
            }
        }
        members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.push(b'{');
        for (i, (name, value)) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(name, out);
            out.push(b':');
            out.extend_from_slice(value);
        }
        out.push(b'}');
        self.depth -= 1;
        Ok(())
    }

    fn array(&mut self, out: &mut Vec<u8>) -> Result<(), ContentFormError> {
        self.nest()?;
        self.at += 1;
        out.push(b'[');
        self.skip_ws()?;
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            let mut first = true;
            loop {
                if !first {
                    out.push(b',');
                }
                first = false;
                self.skip_ws()?;
                self.value(out)?;
                self.skip_ws()?;
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or ']'")),
                }
            }
        }
        out.push(b']');
        self.depth -= 1;
        Ok(())
    }

    /// Reads a string token and returns its text, unescaped.
    fn string(&mut self) -> Result<String, ContentFormError> {
        let start = self.at;
        self.at += 1;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("the text ends inside a string"));
            };
            self.at += 1;
            match b {
                b'\\' => {
                    // Skip the escaped byte; `\uXXXX` is checked by serde_json.
                    escaped = true;
                    self.at += 1;
                }
                b'"' => break,
                _ => {}
            }
        }
        let token = self
            .text
            .get(start..self.at)
            .ok_or_else(|| self.error("the text ends inside a string"))?;
        if !escaped {
            if let Ok(text) = std::str::from_utf8(&token[1..token.len() - 1]) {
                if !text.bytes().any(|b| b < 0x20) {
                    return Ok(text.to_owned());
                }
            }
        }
        serde_json::from_slice(token).map_err(|_| ContentFormError {
            offset: start,
            message: "invalid string",
        })
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), ContentFormError> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let int_start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        let int_digits = &self.text[int_start..self.at];
        if int_digits.is_empty() || (int_digits.len() > 1 && int_digits[0] == b'0') {
            return Err(self.error("invalid number"));
        }
        let mut frac_digits: &[u8] = &[];
        if self.peek() == Some(b'.') {
            self.at += 1;
            let frac_start = self.at;
            while let Some(b'0'..=b'9') = self.peek() {
                self.at += 1;
            }
            frac_digits = &self.text[frac_start..self.at];
            if frac_digits.is_empty() {
                return Err(self.error("invalid number"));
            }
        }
        let mut exponent: i64 = 0;
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            let exp_negative = match self.peek() {
                Some(b'-') => {
                    self.at += 1;
                    true
                }
                Some(b'+') => {
                    self.at += 1;
                    false
                }
                _ => false,
            };
            let exp_start = self.at;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                exponent = exponent
                    .saturating_mul(10)
                    .saturating_add(i64::from(d - b'0'));
                self.at += 1;
            }
            if self.at == exp_start {
                return Err(self.error("invalid number"));
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        debug_assert!(self.at > start);
        write_decimal(negative, int_digits, frac_digits, exponent, out);
        Ok(())
    }
}

/// The instant a string denotes, when the model would read it as a timestamp.
fn timestamp_of(text: &str) -> Option<Timestamp> {
    // Every accepted form starts with a four-digit year (after white space);
    // most strings are refused on their first byte, before any trimming.
    match text.as_bytes().first() {
        Some(b'0'..=b'9') => {}
        Some(b) if b.is_ascii_whitespace() || *b == 0x0b || !b.is_ascii() => {}
        _ => return None,
    }
    let trimmed = text.trim_start();
    let bytes = trimmed.as_bytes();
    if bytes.len() < 10 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    Timestamp::parse_rfc3339(text).ok()
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    // serde_json escapes only '"', '\\' and control characters: a string
    // without them is written as it is (most are).
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Writes `millis / 1000` in the normal form of numbers.
fn write_millis(millis: i64, out: &mut Vec<u8>) {
    let digits = millis.unsigned_abs().to_string();
    write_decimal(millis < 0, digits.as_bytes(), &[], -3, out);
}

/// Writes `±int.frac × 10^exponent` as its digits without leading or
/// trailing zeros and the power of ten: `[-]DIGITS[eEXP]`.
fn write_decimal(negative: bool, int: &[u8], frac: &[u8], exponent: i64, out: &mut Vec<u8>) {
    let digits = int.iter().chain(frac.iter()).copied();
    let mut all: Vec<u8> = digits.skip_while(|&d| d == b'0').collect();
    let mut exponent = exponent.saturating_sub(frac.len() as i64);
    while all.last() == Some(&b'0') {
        all.pop();
        exponent = exponent.saturating_add(1);
    }
    if all.is_empty() {
        out.push(b'0');
        return;
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&all);
    if exponent != 0 {
        out.push(b'e');
        out.extend_from_slice(exponent.to_string().as_bytes());
    }
}

/// Writes a value's content form straight from the model's types: the same
/// bytes as [`write_content_form`] of the value's canonical encoding (a
/// property test holds the two together), without writing that encoding
/// and parsing it again.
pub(crate) trait WriteContent {
    fn write_content(&self, out: &mut Vec<u8>);
}

impl WriteContent for String {
    fn write_content(&self, out: &mut Vec<u8>) {
        write_text_content(self, out);
    }
}

impl WriteContent for i64 {
    fn write_content(&self, out: &mut Vec<u8>) {
        let mut buf = [0; 20];
        let digits = format_u64(self.unsigned_abs(), &mut buf);
        write_decimal(*self < 0, digits, &[], 0, out);
    }
}

impl WriteContent for bool {
    fn write_content(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl WriteContent for Timestamp {
    fn write_content(&self, out: &mut Vec<u8>) {
        // Years 1000 to 9999 are written with four digits, which
        // `timestamp_of` reads back to the same millisecond; other years
        // take the long way, through the text the canonical encoding has.
        const FIRST: i64 = -30_610_224_000_000; // 1000-01-01T00:00:00Z
        const LAST: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
        let millis = self.as_millis();
        if (FIRST..=LAST).contains(&millis) {
            write_millis(millis, out);
        } else {
            let text = serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            write_text_content(&text, out);
        }
    }
}

impl WriteContent for crate::CopyJobState {
    fn write_content(&self, out: &mut Vec<u8>) {
        write_text_content(self.as_str(), out);
    }
}

impl WriteContent for crate::LifecycleDeleteAfterEvent {
    fn write_content(&self, out: &mut Vec<u8>) {
        write_text_content(self.as_str(), out);
    }
}

impl WriteContent for crate::ChildJobsInState {
    fn write_content(&self, out: &mut Vec<u8>) {
        // The map is ordered by state; the content form by name.
        let mut counts: Vec<(&str, i64)> = self.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        counts.sort_by(|a, b| a.0.cmp(b.0));
        out.push(b'{');
        for (i, (name, count)) in counts.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(name, out);
            out.push(b':');
            count.write_content(out);
        }
        out.push(b'}');
    }
}

impl<T: WriteContent> WriteContent for Vec<T> {
    fn write_content(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item.write_content(out);
        }
        out.push(b']');
    }
}

/// The content form of a string value: a number when the model would read
/// the text as a timestamp, else the string.
pub(crate) fn write_text_content(text: &str, out: &mut Vec<u8>) {
    match timestamp_of(text) {
        Some(t) => write_millis(t.as_millis(), out),
        None => write_string(text, out),
    }
}

/// Writes the name of an object's member (after a comma unless it is the
/// first).
pub(crate) fn write_member_name(first: &mut bool, name: &str, out: &mut Vec<u8>) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    write_string(name, out);
    out.push(b':');
}

/// Writes a known member's name, given quoted and with its colon (the names
/// of the service model need no escapes).
pub(crate) fn write_known_name(first: &mut bool, quoted: &str, out: &mut Vec<u8>) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    out.extend_from_slice(quoted.as_bytes());
}

/// Writes an unknown member (left out when its value is `null`). Its text
/// was checked when it was kept, so it has a content form.
pub(crate) fn write_unknown_member(
    first: &mut bool,
    name: &str,
    raw: &serde_json::value::RawValue,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    scratch.clear();
    if write_content_form(raw.get().as_bytes(), scratch).is_ok() && scratch[..] != *b"null" {
        write_member_name(first, name, out);
        out.extend_from_slice(scratch);
    }
}

/// The decimal digits of `n`, written at the end of `buf`.
fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(json: &str) -> String {
        let mut out = Vec::new();
        write_content_form(json.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_take_one_normal_form() {
        for (input, expected) in [
            ("0", "0"),
            ("-0.0", "0"),
            ("100", "1e2"),
            ("1.0e2", "1e2"),
            ("1E+2", "1e2"),
            ("1516925490.087", "1516925490087e-3"),
            ("1516925490.0870", "1516925490087e-3"),
            ("0.001", "1e-3"),
            ("-12.5", "-125e-1"),
            (
                "123456789012345678901234567890",
                "12345678901234567890123456789e1",
            ),
            (
                "0.1000000000000000055511151231257827",
                "1000000000000000055511151231257827e-34",
            ),
        ] {
            assert_eq!(form(input), expected, "{input}");
        }
    }

    #[test]
    fn objects_are_sorted_nulls_dropped_and_strings_unescaped() {
        assert_eq!(
            form(" { \"b\" : [ 1 , null ] , \"a\" : null , \"\\u00e9\" : \"\\u00e9\\n\" } "),
            "{\"b\":[1,null],\"é\":\"é\\n\"}"
        );
    }

    #[test]
    fn timestamps_as_strings_or_numbers_agree() {
        assert_eq!(form("\"2018-01-26T00:11:30.087Z\""), "1516925490087e-3");
        assert_eq!(
            form("\"2018-01-26T00:11:30.087000+00:00\""),
            "1516925490087e-3"
        );
        assert_eq!(form("1516925490.087"), "1516925490087e-3");
        assert_eq!(form("\"1970-01-01T00:00:00Z\""), "0");
        assert_eq!(form("\"not 2018\""), "\"not 2018\"");
    }

    #[test]
    fn bad_text_is_refused_whole() {
        let mut out = b"kept".to_vec();
        for bad in ["", "{", "[1,]", "{\"a\"}", "01", "1.", "\"x", "1 2", "nul"] {
            assert!(
                write_content_form(bad.as_bytes(), &mut out).is_err(),
                "{bad}"
            );
            assert_eq!(out, b"kept");
        }
    }
}
