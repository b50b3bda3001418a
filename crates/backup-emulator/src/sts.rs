//! Just enough of AWS STS (query protocol, XML answers) for cross-account
//! fetching: `AssumeRole` and `GetCallerIdentity`.
//!
//! The credentials it hands out are not secrets: their access key id encodes
//! the role's account (`ASIA` + 12 digits + 4 characters), which is how later
//! SigV4-signed Backup calls are attributed to that account.

use backup_model::Timestamp;

use crate::request::is_account_id;
use crate::rng::{hash2, hash_str, Rng};

const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// What an STS call answered: HTTP status and XML body.
#[derive(Debug)]
pub(crate) struct StsReply {
    pub status: u16,
    pub body: String,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An STS error document, as the query protocol returns them.
pub(crate) fn error(status: u16, code: &str, message: &str, request_id: &str) -> StsReply {
    StsReply {
        status,
        body: format!(
            "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            escape(code),
            escape(message),
            escape(request_id)
        ),
    }
}

/// `arn:aws:iam::ACCOUNT:role/PATH/NAME` → (account, role name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, _partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let path = resource.strip_prefix("role/")?;
    let name = path.rsplit('/').next()?;
    (arn_word == "arn" && service == "iam" && is_account_id(account) && !name.is_empty())
        .then_some((account, name))
}

/// The account of the role an AssumeRole request asks for, if its ARN is valid.
pub(crate) fn role_account(params: &[(String, String)]) -> Option<&str> {
    let arn = params.iter().find(|(k, _)| k == "RoleArn")?.1.as_str();
    parse_role_arn(arn).map(|(account, _)| account)
}

/// Credentials issued by [`assume_role`], kept so GetCallerIdentity can name
/// the role behind an access key.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_key_id: String,
    pub assumed_role_arn: String,
}

/// Which AssumeRole requests the roles' trust policies allow.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Trust<'a> {
    /// Roles of these accounts trust nobody.
    pub deny_accounts: &'a [String],
    /// When set, every role's trust policy requires this `sts:ExternalId`.
    pub external_id: Option<&'a str>,
    /// Who is asking, for the error message.
    pub caller_arn: &'a str,
}

/// Answers AssumeRole. `serial` makes every issued key distinct.
pub(crate) fn assume_role(
    params: &[(String, String)],
    serial: u64,
    request_id: &str,
    trust: &Trust<'_>,
) -> Result<(StsReply, Issued), StsReply> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let invalid = |message: String| error(400, "ValidationError", &message, request_id);
    let role_arn = get("RoleArn").ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null".into())
    })?;
    let session = get("RoleSessionName").ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null".into())
    })?;
    let valid_session = (2..=64).contains(&session.len())
        && session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=,.@-_".contains(&b));
    if !valid_session {
        return Err(invalid(format!(
            "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let (account, role_name) =
        parse_role_arn(role_arn).ok_or_else(|| invalid(format!("{role_arn} is invalid")))?;
    let duration: i64 = match get("DurationSeconds") {
        None => 3600,
        Some(d) => match d.parse::<i64>() {
            Ok(n @ 900..=43_200) => n,
            _ => {
                return Err(invalid(format!(
                    "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200"
                )))
            }
        },
    };

    // The request is valid; now the role's trust policy decides, and STS
    // says the same thing whichever condition failed.
    let denied = trust.deny_accounts.iter().any(|a| a == account)
        || trust
            .external_id
            .is_some_and(|want| get("ExternalId") != Some(want));
    if denied {
        return Err(error(
            403,
            "AccessDenied",
            &format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                trust.caller_arn
            ),
            request_id,
        ));
    }

    let mut rng = Rng::new(hash2(hash_str(serial, role_arn), hash_str(0, session)));
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut upper = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(ALNUM[rng.below(ALNUM.len() as u64) as usize]))
            .collect()
    };
    let access_key_id = format!("ASIA{account}{}", upper(4));
    let role_id = format!("AROA{}", upper(17));
    let secret = format!("{}{}", upper(20), upper(20).to_lowercase());
    let token = format!("FwoGZXIvYXdzE{}", upper(120));
    // The SDK compares expiry with the real clock, not the emulator's.
    let expiration = Timestamp::now().add_millis(duration * 1000);
    let assumed_role_arn = format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}");
    let body = format!(
        "<AssumeRoleResponse xmlns=\"{NS}\">\
         <AssumeRoleResult>\
         <AssumedRoleUser><AssumedRoleId>{role_id}:{s}</AssumedRoleId><Arn>{arn}</Arn></AssumedRoleUser>\
         <Credentials><AccessKeyId>{access_key_id}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>\
         <SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
         </AssumeRoleResult>\
         <ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>\
         </AssumeRoleResponse>",
        s = escape(session),
        arn = escape(&assumed_role_arn),
        rid = escape(request_id),
    );
    Ok((
        StsReply { status: 200, body },
        Issued {
            access_key_id,
            assumed_role_arn,
        },
    ))
}

/// Answers GetCallerIdentity for a caller known by account, ARN and key.
pub(crate) fn caller_identity(
    account: &str,
    arn: &str,
    user_id: &str,
    request_id: &str,
) -> StsReply {
    StsReply {
        status: 200,
        body: format!(
            "<GetCallerIdentityResponse xmlns=\"{NS}\"><GetCallerIdentityResult>\
             <Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>{}</RequestId>\
             </ResponseMetadata></GetCallerIdentityResponse>",
            escape(arn),
            escape(user_id),
            escape(account),
            escape(request_id)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::account_of_key;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn assumed_keys_name_the_role_account() {
        let p = params(&[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::210987654321:role/path/Audit"),
            ("RoleSessionName", "audit-session"),
        ]);
        let (reply, issued) = assume_role(&p, 1, "rid", &Trust::default()).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(account_of_key(&issued.access_key_id), Some("210987654321"));
        assert_eq!(
            issued.assumed_role_arn,
            "arn:aws:sts::210987654321:assumed-role/Audit/audit-session"
        );
        assert!(reply.body.contains("<Expiration>"));
        let (_, again) = assume_role(&p, 2, "rid", &Trust::default()).unwrap();
        assert_ne!(again.access_key_id, issued.access_key_id);
    }

    #[test]
    fn bad_requests_are_validation_errors() {
        for p in [
            params(&[("RoleSessionName", "s1")]),
            params(&[
                ("RoleArn", "arn:aws:iam::12:role/x"),
                ("RoleSessionName", "s1"),
            ]),
            params(&[
                ("RoleArn", "arn:aws:s3:::bucket"),
                ("RoleSessionName", "s1"),
            ]),
            params(&[
                ("RoleArn", "arn:aws:iam::123456789012:role/x"),
                ("RoleSessionName", "a b"),
            ]),
            params(&[
                ("RoleArn", "arn:aws:iam::123456789012:role/x"),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "60"),
            ]),
        ] {
            let reply = assume_role(&p, 1, "rid", &Trust::default()).unwrap_err();
            assert_eq!(reply.status, 400);
            assert!(
                reply.body.contains("<Code>ValidationError</Code>"),
                "{}",
                reply.body
            );
        }
        assert!(error(400, "X", "a<b", "r").body.contains("a&lt;b"));
    }

    #[test]
    fn trust_policies_refuse_accounts_and_external_ids() {
        let role = "arn:aws:iam::210987654321:role/Audit";
        let base = [
            ("Action", "AssumeRole"),
            ("RoleArn", role),
            ("RoleSessionName", "s1"),
        ];
        let denied = ["210987654321".to_owned()];
        let trust = Trust {
            deny_accounts: &denied,
            external_id: None,
            caller_arn: "arn:aws:iam::111111111111:user/me",
        };
        let reply = assume_role(&params(&base), 1, "rid", &trust).unwrap_err();
        assert_eq!(reply.status, 403);
        assert!(
            reply.body.contains("<Code>AccessDenied</Code>"),
            "{}",
            reply.body
        );
        assert!(reply.body.contains("user/me is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::210987654321:role/Audit"));

        let trust = Trust {
            deny_accounts: &[],
            external_id: Some("tenant-7"),
            ..trust
        };
        assert_eq!(
            assume_role(&params(&base), 1, "rid", &trust)
                .unwrap_err()
                .status,
            403
        );
        let mut wrong = base.to_vec();
        wrong.push(("ExternalId", "tenant-8"));
        assert_eq!(
            assume_role(&params(&wrong), 1, "rid", &trust)
                .unwrap_err()
                .status,
            403
        );
        let mut right = base.to_vec();
        right.push(("ExternalId", "tenant-7"));
        assert!(assume_role(&params(&right), 1, "rid", &trust).is_ok());
    }
}
