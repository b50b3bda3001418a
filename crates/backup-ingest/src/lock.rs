//! The per-target ingest lock: a PostgreSQL session advisory lock held on a
//! connection of its own, so that two runs never ingest the same account and
//! region at once, wherever they run.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::Connection as _;

use crate::error::StoreError;

/// The advisory lock key of a target: the first 8 bytes of the xxh3 hash of a
/// name that says what it is, so `pg_locks` shows the same number every time.
pub fn target_lock_key(account: &str, region: &str) -> i64 {
    let name = format!("backup-audit ingest {account} {region}");
    i64::from_be_bytes(xxhash_rust::xxh3::xxh3_64(name.as_bytes()).to_be_bytes())
}

/// Holds the ingest lock of one target until released or dropped.
///
/// The lock belongs to a dedicated database session: dropping this value
/// closes that connection, which releases the lock even if
/// [`release`](Self::release) was never called. If the connection is lost,
/// so is the lock: [`verify`](Self::verify) tells, and
/// [`guard`](Self::guard) stops the work it runs.
pub struct TargetLock {
    conn: Option<PgConnection>,
    account: String,
    region: String,
    key: i64,
    heartbeat: Duration,
}

impl fmt::Debug for TargetLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetLock")
            .field("account", &self.account)
            .field("region", &self.region)
            .field("key", &self.key)
            .field("held", &self.conn.is_some())
            .finish()
    }
}

impl TargetLock {
    /// Takes the lock on `conn`, waiting up to `timeout` for another holder
    /// to let go.
    pub(crate) async fn acquire(
        mut conn: PgConnection,
        account: &str,
        region: &str,
        timeout: Duration,
        heartbeat: Duration,
    ) -> Result<TargetLock, StoreError> {
        let key = target_lock_key(account, region);
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await
            .map_err(StoreError::db("taking the ingest lock"))?;
        if !got {
            if timeout.is_zero() {
                return Err(lock_timeout(account, region, timeout));
            }
            // lock_timeout bounds the wait on the server, without polling;
            // the session's statement_timeout must not cut it shorter.
            // SET takes no bind parameters; set_config does.
            let millis = timeout.as_millis().clamp(1, i64::MAX as u128).to_string();
            sqlx::query(
                "SELECT set_config('lock_timeout', $1, false), \
                 set_config('statement_timeout', '0', false)",
            )
            .bind(&millis)
            .execute(&mut conn)
            .await
            .map_err(StoreError::db("taking the ingest lock"))?;
            let waited = sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(key)
                .execute(&mut conn)
                .await;
            match waited {
                Ok(_) => {}
                // lock_not_available
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
                    return Err(lock_timeout(account, region, timeout));
                }
                Err(source) => {
                    return Err(StoreError::Database {
                        context: "taking the ingest lock",
                        source,
                    })
                }
            }
            // Back to the session's own settings (those it started with).
            for reset in ["RESET lock_timeout", "RESET statement_timeout"] {
                sqlx::query(reset)
                    .execute(&mut conn)
                    .await
                    .map_err(StoreError::db("taking the ingest lock"))?;
            }
        }
        tracing::debug!(account, region, key, "ingest lock taken");
        Ok(TargetLock {
            conn: Some(conn),
            account: account.to_owned(),
            region: region.to_owned(),
            key,
            heartbeat: heartbeat.max(Duration::from_millis(10)),
        })
    }

    /// Runs `work` while the lock is held: its session is checked every
    /// heartbeat interval and once more when `work` ends. When the check
    /// fails (the session was ended by an operator or a failover, the
    /// server went away), `work` is stopped where it is (dropped: an open
    /// batch transaction rolls back) and [`StoreError::LockLost`] returned,
    /// so a run never records a checkpoint or goes on writing once another
    /// run may hold the target.
    pub async fn guard<F: Future>(&mut self, work: F) -> Result<F::Output, StoreError> {
        let mut work = std::pin::pin!(work);
        let mut ticks = tokio::time::interval(self.heartbeat);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: the lock was just verified by taking it.
        ticks.tick().await;
        loop {
            tokio::select! {
                output = &mut work => {
                    self.heartbeat().await?;
                    return Ok(output);
                }
                _ = ticks.tick() => self.heartbeat().await?,
            }
        }
    }

    /// [`verify`](Self::verify) within one heartbeat interval (a session
    /// that does not answer is as good as lost), as [`StoreError::LockLost`].
    async fn heartbeat(&mut self) -> Result<(), StoreError> {
        let limit = self.heartbeat.max(Duration::from_secs(5));
        let reason = match tokio::time::timeout(limit, self.verify()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("its session did not answer within {limit:?}"),
        };
        tracing::error!(account = %self.account, region = %self.region, %reason, "ingest lock lost");
        // The session is useless now; dropping it closes what is left.
        self.conn = None;
        Err(StoreError::LockLost {
            account: self.account.clone(),
            region: self.region.clone(),
            reason,
        })
    }

    /// The target's account.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The target's region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Checks that the session holding the lock is still alive (and so still
    /// holds it).
    pub async fn verify(&mut self) -> Result<(), StoreError> {
        let conn = self.conn.as_mut().ok_or_else(|| StoreError::Connect {
            target: "the ingest lock's session".to_owned(),
            message: "the lock was released".to_owned(),
        })?;
        let held: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
             AND pid = pg_backend_pid() AND granted \
             AND ((classid::bigint << 32) | objid::bigint) = $1)",
        )
        .bind(self.key)
        .fetch_one(conn)
        .await
        .map_err(StoreError::db("checking the ingest lock's session"))?;
        if held {
            Ok(())
        } else {
            Err(StoreError::Connect {
                target: "the ingest lock's session".to_owned(),
                message: "the lock is no longer held".to_owned(),
            })
        }
    }

    /// Releases the lock and closes its connection.
    pub async fn release(mut self) -> Result<(), StoreError> {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut conn)
                .await;
            // Closing the session releases the lock whatever happened above.
            let _ = conn.close().await;
            unlocked.map_err(StoreError::db("releasing the ingest lock"))?;
            tracing::debug!(account = %self.account, region = %self.region, "ingest lock released");
        }
        Ok(())
    }
}

fn lock_timeout(account: &str, region: &str, waited: Duration) -> StoreError {
    StoreError::LockTimeout {
        account: account.to_owned(),
        region: region.to_owned(),
        waited,
    }
}
