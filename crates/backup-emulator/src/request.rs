//! Reading requests: query strings, form bodies, the SigV4 credential scope,
//! and the ListCopyJobs parameters.

use std::time::Duration;

use backup_model::{CopyJobState, Timestamp};

use crate::catalog::Filter;

/// The query names of ListCopyJobs, exactly as the service model's
/// `locationName`s spell them.
pub const LIST_COPY_JOBS_QUERY_NAMES: &[&str] = &[
    "accountId",
    "completeAfter",
    "completeBefore",
    "createdAfter",
    "createdBefore",
    "destinationVaultArn",
    "messageCategory",
    "parentJobId",
    "resourceArn",
    "resourceType",
    "sourceRecoveryPointArn",
    "state",
    "maxResults",
    "nextToken",
];

/// The request URI of ListCopyJobs in the service model.
pub const LIST_COPY_JOBS_URI: &str = "/copy-jobs/";
/// The request URI of DescribeCopyJob in the service model.
pub const DESCRIBE_COPY_JOB_URI: &str = "/copy-jobs/{copyJobId}";

/// Decodes `%XX` escapes; with `plus_is_space`, `+` too (form bodies). Bad
/// escapes are kept literally, and invalid UTF-8 is replaced, as lenient
/// servers do.
pub(crate) fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| char::from(b).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `a=1&b=2` into decoded pairs, in order.
pub(crate) fn parse_pairs(text: &str, plus_is_space: bool) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(k, plus_is_space),
                percent_decode(v, plus_is_space),
            )
        })
        .collect()
}

/// The access key and region of a SigV4 `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=AKID/20260126/us-east-1/backup/aws4_request, ...`).
pub(crate) fn credential_scope(authorization: &str) -> Option<(&str, &str)> {
    let rest = &authorization[authorization.find("Credential=")? + "Credential=".len()..];
    let credential = rest.split([',', ' ']).next()?;
    let mut parts = credential.split('/');
    let key = parts.next()?;
    let _date = parts.next()?;
    let region = parts.next()?;
    (!key.is_empty() && !region.is_empty()).then_some((key, region))
}

/// The account an access key stands for: `ASIA` + 12-digit account + 4
/// characters (the keys the emulator's AssumeRole hands out) name their
/// account; any other key is the default account's.
pub(crate) fn account_of_key(key: &str) -> Option<&str> {
    let account = key.strip_prefix("ASIA")?.get(..12)?;
    (key.len() == 20 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Whether `s` is a 12-digit account id.
pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Reads a duration such as `2h`, `30m`, `45s`, `7d`, `1w`, `250ms`, or a
/// sequence of them (`1h30m`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(backup_emulator::parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(backup_emulator::parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("invalid duration {text:?}: expected e.g. 45s, 30m, 2h, 7d or 1h30m");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_secs_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        let ms = n.checked_mul(unit_secs_ms).ok_or_else(bad)?;
        total = total
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// A ListCopyJobs request that failed validation, with the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadParameter {
    pub name: &'static str,
    pub message: String,
}

/// The parsed parameters of one ListCopyJobs call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListParams {
    pub filter: Filter,
    pub max_results: usize,
    pub next_token: Option<String>,
}

/// Reads a timestamp query value: ISO 8601 (what the SDK sends) or epoch
/// seconds, possibly fractional.
fn parse_time(name: &'static str, value: &str) -> Result<Timestamp, BadParameter> {
    let bad = || BadParameter {
        name,
        message: format!(
            "Invalid value '{value}' for {name}: expected an ISO 8601 date-time or epoch seconds"
        ),
    };
    // A date such as 2026-01-01 is no number, so trying the number first is safe.
    let numeric = value
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if let (true, Ok(secs)) = (numeric, value.parse::<f64>()) {
        return Timestamp::from_secs_f64(secs).map_err(|_| bad());
    }
    Timestamp::parse_rfc3339(value).map_err(|_| bad())
}

/// Validates and reads the ListCopyJobs query. The first occurrence of a
/// repeated name wins; unknown names are ignored, as AWS does. `extra_state`
/// is a state the service knows beyond the model (the emulator's unknown
/// ending), accepted as a filter as a newer service would accept it.
pub(crate) fn list_params(
    pairs: &[(String, String)],
    extra_state: Option<&str>,
) -> Result<ListParams, BadParameter> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let text = |name: &str| get(name).map(str::to_owned);
    let time = |name: &'static str| get(name).map(|v| parse_time(name, v)).transpose();

    let account_id = text("accountId");
    if let Some(a) = &account_id {
        if !is_account_id(a) {
            return Err(BadParameter {
                name: "accountId",
                message: format!("Invalid value '{a}' for accountId: must match ^[0-9]{{12}}$"),
            });
        }
    }
    let resource_type = text("resourceType");
    if let Some(r) = &resource_type {
        let ok = (1..=50).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(BadParameter {
                name: "resourceType",
                message: format!(
                    "Invalid value '{r}' for resourceType: must match ^[a-zA-Z0-9\\-\\_\\.]{{1,50}}$"
                ),
            });
        }
    }
    let state = match get("state") {
        None => None,
        Some(s) if CopyJobState::values().contains(&s) || extra_state == Some(s) => {
            Some(CopyJobState::from(s))
        }
        Some(s) => {
            return Err(BadParameter {
                name: "state",
                message: format!(
                    "Invalid value '{s}' for state: must be one of {}",
                    CopyJobState::values().join(", ")
                ),
            })
        }
    };
    // ANY and AGGREGATE_ALL are documented to mean "every category".
    let message_category = text("messageCategory")
        .filter(|c| !c.eq_ignore_ascii_case("ANY") && !c.eq_ignore_ascii_case("AGGREGATE_ALL"));
    let max_results = match get("maxResults") {
        None => 1000,
        Some(v) => match v.parse::<i64>() {
            Ok(n @ 1..=1000) => n as usize,
            _ => {
                return Err(BadParameter {
                    name: "maxResults",
                    message: format!(
                        "Invalid value '{v}' for maxResults: must be between 1 and 1000"
                    ),
                })
            }
        },
    };
    let filter = Filter {
        account_id,
        complete_after: time("completeAfter")?,
        complete_before: time("completeBefore")?,
        created_after: time("createdAfter")?,
        created_before: time("createdBefore")?,
        destination_vault_arn: text("destinationVaultArn"),
        message_category,
        parent_job_id: text("parentJobId"),
        resource_arn: text("resourceArn"),
        resource_type,
        source_recovery_point_arn: text("sourceRecoveryPointArn"),
        state,
    };
    Ok(ListParams {
        filter,
        max_results,
        next_token: text("nextToken").filter(|t| !t.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        parse_pairs(q, false)
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("2026-01-01T00%3A00%3A00Z", false),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(percent_decode("a+b%20c", false), "a+b c");
        assert_eq!(percent_decode("a+b%20c", true), "a b c");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(percent_decode("%E2%9C%93", false), "\u{2713}");
        assert_eq!(
            parse_pairs("Action=AssumeRole&RoleArn=arn%3Aaws&x", true),
            vec![
                ("Action".into(), "AssumeRole".into()),
                ("RoleArn".into(), "arn:aws".into()),
                ("x".into(), String::new())
            ]
        );
    }

    #[test]
    fn credential_scope_and_accounts() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260126/eu-west-1/backup/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(credential_scope(auth), Some(("AKIDEXAMPLE", "eu-west-1")));
        assert_eq!(credential_scope("Bearer x"), None);
        assert_eq!(
            credential_scope("AWS4-HMAC-SHA256 Credential=AK/2026"),
            None
        );
        assert_eq!(account_of_key("ASIA210987654321ABCD"), Some("210987654321"));
        assert_eq!(account_of_key("ASIA2109876543ABCDEF"), None);
        assert_eq!(account_of_key("AKIA210987654321ABCD"), None);
        assert_eq!(account_of_key("ASIA210987654321"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1d2h"), Ok(Duration::from_secs(93_600)));
        for bad in ["", "h", "5", "5y", "-5m", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_parameters() {
        let p = list_params(
            &pairs("createdAfter=2026-01-01T00%3A00%3A00Z&completeBefore=1767225600.5&state=FAILED&maxResults=7&messageCategory=ANY&bogus=1"),
            None,
        )
        .unwrap();
        assert_eq!(p.max_results, 7);
        assert_eq!(p.filter.state, Some(CopyJobState::Failed));
        assert_eq!(p.filter.message_category, None);
        assert_eq!(
            p.filter.created_after,
            Some(Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap())
        );
        assert_eq!(
            p.filter.complete_before,
            Some(Timestamp::from_millis(1_767_225_600_500).unwrap())
        );
        assert_eq!(list_params(&pairs(""), None).unwrap().max_results, 1000);
        for (q, name) in [
            ("maxResults=0", "maxResults"),
            ("maxResults=1001", "maxResults"),
            ("maxResults=x", "maxResults"),
            ("state=ABORTED", "state"),
            ("state=failed", "state"),
            ("accountId=12345", "accountId"),
            ("resourceType=a%20b", "resourceType"),
            ("createdAfter=yesterday", "createdAfter"),
            ("completeAfter=", "completeAfter"),
        ] {
            assert_eq!(list_params(&pairs(q), None).unwrap_err().name, name, "{q}");
        }
        // The first of repeated names wins; epoch seconds may be negative.
        let p = list_params(&pairs("state=RUNNING&state=junk&createdBefore=-1"), None).unwrap();
        assert!(list_params(&pairs("state=CANCELLED"), None).is_err());
        let p2 = list_params(&pairs("state=CANCELLED"), Some("CANCELLED")).unwrap();
        assert_eq!(p2.filter.state, Some(CopyJobState::from("CANCELLED")));
        assert_eq!(p.filter.state, Some(CopyJobState::Running));
        assert_eq!(
            p.filter.created_before,
            Some(Timestamp::from_secs(-1).unwrap())
        );
    }
}
