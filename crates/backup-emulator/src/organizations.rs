//! Just enough of AWS Organizations (JSON 1.1 protocol) to find an
//! organization's accounts: `ListAccounts`.
//!
//! The organization is the configured accounts plus
//! [`Organization::suspended_accounts`]; those are listed with `State` (and
//! the retired `Status`) `SUSPENDED`, the others `ACTIVE`. Only the management
//! account may list them, as in AWS; another caller gets
//! `AccessDeniedException`. Pages are at most [`Organization::page_size`]
//! long, whatever `MaxResults` asks (AWS too may return fewer than asked), so
//! that clients must follow `NextToken`.

use backup_model::Timestamp;
use serde_json::{json, Value};

use crate::rng::{hash2, hash_str, Rng};
use crate::Organization;

/// The `X-Amz-Target` prefix of Organizations calls.
pub(crate) const TARGET_PREFIX: &str = "AWSOrganizationsV20161128.";

/// The most accounts one ListAccounts page may hold (the service's limit).
pub(crate) const MAX_RESULTS: usize = 20;

/// What an Organizations call answered: HTTP status and JSON body.
#[derive(Debug)]
pub(crate) struct OrgReply {
    pub status: u16,
    pub body: Vec<u8>,
    /// Whether the call was refused for lack of permission.
    pub denied: bool,
}

/// A JSON 1.1 error: `__type` names it, `Message` says why.
pub(crate) fn error(status: u16, code: &str, message: &str) -> OrgReply {
    OrgReply {
        status,
        body: serde_json::to_vec(&json!({ "__type": code, "Message": message }))
            .unwrap_or_default(),
        denied: code == "AccessDeniedException",
    }
}

fn invalid_input(message: &str) -> OrgReply {
    error(400, "InvalidInputException", message)
}

/// One member account.
#[derive(Debug, Clone)]
struct Member {
    id: String,
    suspended: bool,
    /// Epoch seconds with milliseconds, as the JSON 1.1 protocol writes times.
    joined: f64,
}

/// The organization the emulator answers for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Directory {
    id: String,
    management: String,
    members: Vec<Member>,
    page_size: usize,
    /// Salts page tokens, so a token from elsewhere is recognised as foreign.
    salt: u64,
}

impl Directory {
    /// The configured accounts (in order), then suspended accounts not among
    /// them. Join times are synthetic, before `start`, and fixed by the seed.
    pub(crate) fn new(
        seed: u64,
        accounts: &[String],
        config: &Organization,
        start: Timestamp,
    ) -> Directory {
        let mut rng = Rng::new(hash_str(seed, "organization"));
        let id = format!("o-{}", rng.hex(10));
        let management = config
            .management_account
            .clone()
            .or_else(|| accounts.first().cloned())
            .unwrap_or_default();
        let mut ids: Vec<&String> = accounts.iter().collect();
        ids.extend(
            config
                .suspended_accounts
                .iter()
                .filter(|a| !accounts.contains(a)),
        );
        let members = ids
            .into_iter()
            .enumerate()
            .map(|(n, account)| {
                // Joined one to three years before the start, in order.
                let days = 1095 - (n as i64 * 7) % 730 - rng.below(5) as i64;
                let joined_ms =
                    start.as_millis() - days * 86_400_000 - rng.below(86_400_000) as i64;
                Member {
                    id: account.clone(),
                    suspended: config.suspended_accounts.contains(account),
                    joined: joined_ms as f64 / 1000.0,
                }
            })
            .collect();
        Directory {
            id,
            management,
            members,
            page_size: config.page_size.clamp(1, MAX_RESULTS),
            salt: hash2(seed, hash_str(0, "list-accounts")),
        }
    }

    fn token(&self, offset: usize) -> String {
        let check = hash2(self.salt, offset as u64) as u32;
        format!("{offset:x}.{check:08x}")
    }

    fn offset_of(&self, token: &str) -> Option<usize> {
        let (offset, _) = token.split_once('.')?;
        let offset = usize::from_str_radix(offset, 16).ok()?;
        (self.token(offset) == token && offset <= self.members.len()).then_some(offset)
    }

    fn account(&self, member: &Member) -> Value {
        let state = if member.suspended {
            "SUSPENDED"
        } else {
            "ACTIVE"
        };
        json!({
            "Id": member.id,
            "Arn": format!(
                "arn:aws:organizations::{}:account/{}/{}",
                self.management, self.id, member.id
            ),
            "Email": format!("aws+{}@example.com", member.id),
            "Name": if member.id == self.management {
                "management".to_owned()
            } else {
                format!("workload-{}", member.id)
            },
            "Status": state,
            "State": state,
            "JoinedMethod": if member.id == self.management { "INVITED" } else { "CREATED" },
            "JoinedTimestamp": member.joined,
        })
    }

    /// Answers ListAccounts for a caller of `account`.
    pub(crate) fn list_accounts(&self, caller_account: &str, body: &[u8]) -> OrgReply {
        if caller_account != self.management {
            return error(
                400,
                "AccessDeniedException",
                "You don't have permissions to access this resource.",
            );
        }
        let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            match serde_json::from_slice(body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return error(
                        400,
                        "SerializationException",
                        "the body is not a JSON object",
                    )
                }
            }
        };
        let max_results = match request.get("MaxResults") {
            None | Some(Value::Null) => MAX_RESULTS,
            Some(v) => match v.as_u64() {
                Some(n @ 1..=20) => n as usize,
                _ => {
                    return invalid_input(&format!(
                        "1 validation error detected: Value '{v}' at 'maxResults' failed to \
                         satisfy constraint: Member must have value between 1 and 20"
                    ))
                }
            },
        };
        let offset = match request.get("NextToken") {
            None | Some(Value::Null) => 0,
            Some(Value::String(t)) => match self.offset_of(t) {
                Some(offset) => offset,
                None => return invalid_input("The specified NextToken is not valid."),
            },
            Some(_) => return invalid_input("NextToken must be a string."),
        };
        let end = (offset + max_results.min(self.page_size)).min(self.members.len());
        let accounts: Vec<Value> = self.members[offset..end]
            .iter()
            .map(|m| self.account(m))
            .collect();
        let mut answer = json!({ "Accounts": accounts });
        if end < self.members.len() {
            answer["NextToken"] = Value::String(self.token(end));
        }
        OrgReply {
            status: 200,
            body: serde_json::to_vec(&answer).unwrap_or_default(),
            denied: false,
        }
    }
}

/// Answers an Organizations call named by `X-Amz-Target` (without the prefix).
pub(crate) fn call(
    directory: &Directory,
    operation: &str,
    caller_account: &str,
    body: &[u8],
) -> OrgReply {
    match operation {
        "ListAccounts" => directory.list_accounts(caller_account, body),
        other => error(
            400,
            "UnknownOperationException",
            &format!("The emulator serves Organizations ListAccounts only, not {other}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANAGEMENT: &str = "111111111111";

    fn directory(page_size: usize) -> Directory {
        let accounts = ["111111111111", "222222222222", "333333333333"].map(String::from);
        Directory::new(
            5,
            &accounts,
            &Organization {
                suspended_accounts: vec!["333333333333".into(), "444444444444".into()],
                page_size,
                management_account: None,
            },
            Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap(),
        )
    }

    fn page(dir: &Directory, body: Value) -> Value {
        let reply = dir.list_accounts(MANAGEMENT, &serde_json::to_vec(&body).unwrap());
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        serde_json::from_slice(&reply.body).unwrap()
    }

    #[test]
    fn pages_follow_tokens_to_every_member() {
        let dir = directory(2);
        let mut token = Value::Null;
        let mut seen = Vec::new();
        loop {
            let answer = page(&dir, json!({ "NextToken": token, "MaxResults": 20 }));
            let accounts = answer["Accounts"].as_array().unwrap();
            assert!(accounts.len() <= 2);
            for a in accounts {
                seen.push((a["Id"].as_str().unwrap().to_owned(), a["State"].clone()));
                assert_eq!(a["State"], a["Status"]);
            }
            match answer.get("NextToken") {
                Some(t) => token = t.clone(),
                None => break,
            }
        }
        let ids: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "111111111111",
                "222222222222",
                "333333333333",
                "444444444444"
            ]
        );
        assert_eq!(seen[1].1, "ACTIVE");
        assert_eq!(seen[2].1, "SUSPENDED");
        assert_eq!(seen[3].1, "SUSPENDED");
        // MaxResults smaller than the page size wins.
        let one = page(&directory(20), json!({ "MaxResults": 1 }));
        assert_eq!(one["Accounts"].as_array().unwrap().len(), 1);
        assert!(one["NextToken"].is_string());
    }

    #[test]
    fn bad_requests_and_other_callers_are_refused() {
        let dir = directory(20);
        let denied = dir.list_accounts("222222222222", b"{}");
        assert_eq!(denied.status, 400);
        assert!(denied.denied);
        assert!(String::from_utf8_lossy(&denied.body).contains("AccessDeniedException"));
        for body in [
            json!({ "MaxResults": 0 }),
            json!({ "MaxResults": 21 }),
            json!({ "NextToken": "1.deadbeef" }),
            json!({ "NextToken": "junk" }),
        ] {
            let reply = dir.list_accounts(MANAGEMENT, &serde_json::to_vec(&body).unwrap());
            assert_eq!(reply.status, 400, "{body}");
            assert!(String::from_utf8_lossy(&reply.body).contains("InvalidInputException"));
        }
        assert_eq!(dir.list_accounts(MANAGEMENT, b"").status, 200);
        let unknown = call(&dir, "DescribeAccount", MANAGEMENT, b"{}");
        assert!(String::from_utf8_lossy(&unknown.body).contains("UnknownOperationException"));
    }
}
