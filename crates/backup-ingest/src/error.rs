//! The errors of the database layer, and the redaction that keeps secrets out
//! of them.

use std::time::Duration;

/// Why a database operation failed.
///
/// No variant holds a database password: connection errors carry the target
/// without it (see [`redact_url`]), and text that came from elsewhere is passed
/// through [`redact`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL cannot be used.
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl {
        /// The URL with its password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server refused the user name or password.
    #[error("could not log in to {target}: {message}")]
    Authentication {
        /// Where we tried to connect, without the password.
        target: String,
        /// What the server said.
        message: String,
    },
    /// The server could not be reached or did not answer in time.
    #[error("could not connect to {target}: {message}")]
    Connect {
        /// Where we tried to connect, without the password.
        target: String,
        /// What went wrong.
        message: String,
    },
    /// The schema is behind this program's migrations.
    #[error("the database schema is not up to date (pending: {}): run `backup-audit migrate`", .pending.join(", "))]
    PendingMigrations {
        /// The migrations not yet applied.
        pending: Vec<String>,
    },
    /// Applying migrations failed.
    #[error("applying migrations failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Another process holds the ingest lock of a target.
    #[error("another run holds the ingest lock of account {account} region {region}; gave up after {waited:?}")]
    LockTimeout {
        /// The target's account.
        account: String,
        /// The target's region.
        region: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The session holding a target's ingest lock ended during the run: the
    /// run stopped, since another may now hold the target.
    #[error("lost the ingest lock of account {account} region {region} ({reason}); the run stopped and its checkpoint did not move")]
    LockLost {
        /// The target's account.
        account: String,
        /// The target's region.
        region: String,
        /// Why the check failed.
        reason: String,
    },
    /// A run id that does not exist or is already finished.
    #[error("ingest run {0} does not exist or is already finished")]
    UnknownRun(i64),
    /// A query failed.
    #[error("database error while {context}")]
    Database {
        /// What we were doing.
        context: &'static str,
        /// The driver's error (it never contains the URL).
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { context, source }
    }

    /// The message followed by its causes (`database error while recording
    /// the start of a run: canceling statement due to lock timeout`),
    /// redacted: for a report or a stored error, which have no room for a
    /// chain of causes.
    pub fn detail(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        redact(&text)
    }

    /// The SQLSTATE of a database error, if this is one.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            StoreError::Database {
                source: sqlx::Error::Database(e),
                ..
            } => e.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// Whether the connection and the server disagreed on the protocol (a
    /// connection left out of step by a statement cut short).
    pub fn is_protocol_error(&self) -> bool {
        matches!(
            self,
            StoreError::Database {
                source: sqlx::Error::Protocol(_),
                ..
            }
        )
    }

    /// Whether the error is about reaching the database (connection lost,
    /// pool timed out, server shutting down) rather than about the data: the
    /// caller may retry later.
    pub fn is_connection_problem(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Database { source, .. } => match source {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_) => true,
                // admin_shutdown, crash_shutdown, cannot_connect_now
                sqlx::Error::Database(e) => {
                    matches!(e.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// Query parameters whose value is a secret: sqlx's and libpq's `password`,
/// `sslpassword` (the client key's passphrase), and anything named like a
/// token or secret. Compared without regard to case.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "passphrase", "secret", "token"]
        .iter()
        .any(|k| name.contains(k))
}

/// `url` with every password in it replaced by `***`: the user info's
/// (`postgres://user:***@host/db`) and those of the query string
/// (`?password=***`, `sslpassword=***`); the rest (host, database, `sslmode`)
/// stays readable. The URL is parsed (the `url` crate, by the WHATWG rules),
/// not searched: a password holding `@`, `/` or `?` is still found. Text
/// that does not parse as a URL is hidden but for its scheme.
pub fn redact_url(url: &str) -> String {
    let hidden = || match url.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            format!("{scheme}://***")
        }
        _ => "***".to_owned(),
    };
    if !url.contains("://") {
        return hidden();
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return hidden();
    };
    if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
        return hidden();
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_secret_name(&name) {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // A fragment means nothing to a database URL; it could hold anything.
    if parsed.fragment().is_some() {
        parsed.set_fragment(Some("***"));
    }
    parsed.to_string()
}

/// The passwords a database URL carries, as written and decoded as the
/// driver reads them: the user info's and the query string's. For scrubbing
/// messages that might quote them.
pub fn url_passwords(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if let Some(password) = parsed.password() {
        found.push(password.to_owned());
        found.push(percent_decode(password));
    }
    for (name, value) in parsed.query_pairs() {
        if is_secret_name(&name) {
            found.push(value.into_owned());
        }
    }
    found.retain(|p| !p.is_empty());
    found.sort();
    found.dedup();
    found
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The environment variables libpq and sqlx read a password from.
const PASSWORD_VARIABLES: [&str; 1] = ["PGPASSWORD"];

/// `text` with the given secrets, the password of `PGPASSWORD` and anything
/// [`redact`] finds replaced by `***`. For messages about a connection,
/// which may echo a password in any form.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let from_env = PASSWORD_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok());
    let mut all: Vec<String> = secrets.iter().cloned().chain(from_env).collect();
    // Longest first, so that a secret containing another goes whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in all.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), "***");
    }
    redact(&out)
}

/// `text` with the passwords of any URLs in it, and anything that looks like
/// an AWS secret, replaced by `***`. For messages stored in the database or
/// logged, which may quote a URL or a configuration line.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if let Some(scheme_at) = word.find("://") {
            // Keep punctuation around the URL (quotes, brackets) in place.
            let start = word[..scheme_at]
                .char_indices()
                .rev()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || "+-.".contains(*c)))
                .map_or(0, |(p, c)| p + c.len_utf8());
            let end = word
                .char_indices()
                .rev()
                .find(|(_, c)| !"'\"`)]}>,;.".contains(*c))
                .map_or(start, |(p, c)| p + c.len_utf8())
                .max(start);
            out.push_str(&word[..start]);
            out.push_str(&redact_url(&word[start..end]));
            out.push_str(&word[end..]);
        } else if let Some(eq) = secret_assignment(word) {
            out.push_str(&word[..=eq]);
            out.push_str("***");
        } else if looks_like_access_key_id(word) {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
    }
    out
}

/// `password=...`, `aws_secret_access_key=...`, `token=...`: the position of '='.
fn secret_assignment(word: &str) -> Option<usize> {
    let eq = word.find(['=', ':'])?;
    let key = word[..eq].to_ascii_lowercase();
    let secret = ["password", "passwd", "secret", "token", "session_token"]
        .iter()
        .any(|k| key.contains(k));
    (secret && eq + 1 < word.len()).then_some(eq)
}

/// AKIA/ASIA followed by 16 upper-case letters or digits.
fn looks_like_access_key_id(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    word.len() == 20
        && (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords_wherever_they_stand() {
        // In the user info, encoded or not, with '@' and '/' inside.
        assert_eq!(
            redact_url("postgres://audit:s3cr%40t@db.example:5432/audit"),
            "postgres://audit:***@db.example:5432/audit"
        );
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db"),
            "postgres://u:***@h/db"
        );
        // In the query string, under any case, the rest kept.
        assert_eq!(
            redact_url("postgres://audit@db/audit?password=x&sslmode=require"),
            "postgres://audit@db/audit?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/audit?sslmode=verify-full&PassWord=x%26y&sslpassword=k"),
            "postgres://db/audit?sslmode=verify-full&PassWord=***&sslpassword=***"
        );
        // Both at once.
        assert_eq!(
            redact_url("postgresql://u:a@h/d?password=b"),
            "postgresql://u:***@h/d?password=***"
        );
        // Nothing to hide.
        assert_eq!(redact_url("postgres://db/audit"), "postgres://db/audit");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        // Not a URL the parser accepts: hidden but for the scheme.
        assert_eq!(redact_url("postgres://u:pa/ss@h/db"), "postgres://***");
        assert_eq!(redact_url("u:secret@h/db"), "***");
    }

    #[test]
    fn passwords_of_a_url_are_found_decoded() {
        assert_eq!(
            url_passwords("postgres://u:p%40ss@h/db?password=q%26r&sslmode=require"),
            ["p%40ss", "p@ss", "q&r"]
        );
        assert!(url_passwords("postgres://u@h/db").is_empty());
        assert_eq!(
            scrub(
                "bad p@ss and p%40ss here",
                &url_passwords("postgres://u:p%40ss@h/db")
            ),
            "bad *** and *** here"
        );
    }

    #[test]
    fn messages_lose_secrets() {
        let text = "failed: 'postgres://a:hunter2@h/db' AKIAABCDEFGHIJKLMNOP password=hunter2 ok";
        let clean = redact(text);
        assert!(!clean.contains("hunter2"), "{clean}");
        assert!(!clean.contains("AKIAABCDEFGHIJKLMNOP"), "{clean}");
        assert!(
            clean.starts_with("failed: 'postgres://a:***@h/db'"),
            "{clean}"
        );
        assert!(clean.ends_with(" ok"), "{clean}");
        let text = "url=(postgres://h/db?password=hunter2), é";
        let clean = redact(text);
        assert_eq!(clean, "url=(postgres://h/db?password=***), é");
        assert_eq!(redact("plain words stay"), "plain words stay");
    }
}
