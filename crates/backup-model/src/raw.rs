//! The JSON text of unknown members: kept exactly as sent, without the white
//! space between tokens, and refused when an object in it names a member
//! twice (which JSON parsers resolve in different ways, so the value would
//! mean different things to different readers).

use serde_json::value::RawValue;

/// Checks the JSON text of one value and keeps it without white space.
pub(crate) fn checked(json: &str) -> Result<Box<RawValue>, String> {
    let raw = RawValue::from_string(json.trim().to_owned()).map_err(|e| e.to_string())?;
    tidy(raw).map_err(|path| format!("duplicate member name: {path}"))
}

/// `raw` without white space between tokens; the error is the path, relative
/// to the value, of a member whose name appears twice in its object
/// (`.a[2].b`, or empty for the value itself).
pub(crate) fn tidy(raw: Box<RawValue>) -> Result<Box<RawValue>, String> {
    let text = raw.get();
    let bytes = text.as_bytes();
    // Scalars cannot hold either; most unknown members are scalars.
    let compound = matches!(bytes.first(), Some(b'{' | b'['));
    if !compound {
        return Ok(raw);
    }
    let mut has_space = false;
    check(bytes, &mut has_space)?;
    if !has_space {
        return Ok(raw);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            out.push(c);
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    // Only white space between tokens was removed: still one JSON value.
    RawValue::from_string(out).map_err(|_| String::new())
}

/// `name` followed by a relative path from [`tidy`].
pub(crate) fn join(name: &str, path: &str) -> String {
    format!("{name}{path}")
}

/// One open object or array while checking.
struct Open {
    /// Member names seen so far (objects only).
    names: Option<Vec<String>>,
    /// The path segment of the value being read inside it.
    segment: String,
    /// The index of the next element (arrays only).
    index: usize,
}

/// Walks valid JSON text, noting white space between tokens and failing on
/// the first duplicate member name with its path.
fn check(bytes: &[u8], has_space: &mut bool) -> Result<(), String> {
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    // Whether the next string in an object is a member name.
    let mut expect_name = false;
    let path = |stack: &[Open], last: &str| -> String {
        let mut p: String = stack.iter().map(|o| o.segment.as_str()).collect();
        p.push_str(last);
        p
    };
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                *has_space = true;
                i += 1;
            }
            b'{' => {
                stack.push(Open {
                    names: Some(Vec::new()),
                    segment: String::new(),
                    index: 0,
                });
                expect_name = true;
                i += 1;
            }
            b'[' => {
                stack.push(Open {
                    names: None,
                    segment: "[0]".to_owned(),
                    index: 0,
                });
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    if top.names.is_some() {
                        expect_name = true;
                    } else {
                        top.index += 1;
                        top.segment = format!("[{}]", top.index);
                    }
                }
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                let mut escaped = false;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => {
                            escaped = true;
                            i += 2;
                        }
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
                if expect_name {
                    expect_name = false;
                    let token = &bytes[start..i.min(bytes.len())];
                    let name: String = if escaped {
                        serde_json::from_slice(token).map_err(|_| String::new())?
                    } else {
                        String::from_utf8_lossy(&token[1..token.len() - 1]).into_owned()
                    };
                    let segment = format!(".{name}");
                    if let Some(top) = stack.last_mut() {
                        let names = top.names.get_or_insert_with(Vec::new);
                        if names.contains(&name) {
                            return Err(path(&stack[..stack.len() - 1], &segment));
                        }
                        names.push(name);
                        top.segment = segment;
                    }
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tidy_text(json: &str) -> Result<String, String> {
        let raw = RawValue::from_string(json.to_owned()).unwrap();
        tidy(raw).map(|r| r.get().to_owned())
    }

    #[test]
    fn white_space_goes_and_everything_else_stays() {
        assert_eq!(
            tidy_text("{ \"b\" : [ 1.50 , 1E+400 ] ,\r\n \"a b\" : \"x y\" }").unwrap(),
            "{\"b\":[1.50,1E+400],\"a b\":\"x y\"}"
        );
        assert_eq!(
            tidy_text("123456789012345678901234567890").unwrap(),
            "123456789012345678901234567890"
        );
    }

    #[test]
    fn duplicate_names_are_found_with_their_path() {
        assert_eq!(tidy_text(r#"{"a":1,"a":2}"#), Err(".a".to_owned()));
        assert_eq!(
            tidy_text(r#"{"a":[{"x":1},{"y":1,"y":2}]}"#),
            Err(".a[1].y".to_owned())
        );
        assert_eq!(
            tidy_text(r#"{"a":{"b":1},"c":{"b":1}}"#).map(|_| ()),
            Ok(())
        );
        assert_eq!(tidy_text(r#"{"\u0061":1,"a":2}"#), Err(".a".to_owned()));
    }
}
