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

/// `url` with the password (and any query string, which may carry one)
/// replaced by `***`: `postgres://user:***@host:5432/db`.
pub fn redact_url(url: &str) -> String {
    let (without_query, had_query) = match url.split_once('?') {
        Some((head, _)) => (head, true),
        None => (url, false),
    };
    let mut out = match without_query.split_once("://") {
        Some((scheme, rest)) => {
            // The user info ends at the last '@': a password may hold '/' or
            // '@' unencoded, and hiding too much is better than too little.
            match rest.rsplit_once('@') {
                Some((userinfo, host_and_path)) => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                    if userinfo.contains(':') {
                        format!("{scheme}://{user}:***@{host_and_path}")
                    } else {
                        format!("{scheme}://{user}@{host_and_path}")
                    }
                }
                None => format!("{scheme}://{rest}"),
            }
        }
        None => without_query.to_owned(),
    };
    if had_query {
        out.push_str("?***");
    }
    out
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
        if word.contains("://") && word.contains('@') {
            // Keep any leading punctuation (quotes, brackets) in place.
            let start = word.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(0);
            out.push_str(&word[..start]);
            out.push_str(&redact_url(&word[start..]));
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
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://audit:s3cr%40t@db.example:5432/audit"),
            "postgres://audit:***@db.example:5432/audit"
        );
        assert_eq!(
            redact_url("postgres://audit@db/audit?password=x&sslmode=require"),
            "postgres://audit@db/audit?***"
        );
        assert_eq!(redact_url("postgres://db/audit"), "postgres://db/audit");
        assert_eq!(
            redact_url("postgres://u:pa/ss@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db"),
            "postgres://u:***@h/db"
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
        assert_eq!(redact("plain words stay"), "plain words stay");
    }
}
