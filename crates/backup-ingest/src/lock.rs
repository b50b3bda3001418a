//! The per-target ingest lock: a PostgreSQL session advisory lock, so that
//! two runs never ingest the same account and region at once, wherever they
//! run.
//!
//! The locks of every target a process holds live on **one** database
//! session ([`LockSession`]), whatever the number of targets in flight: a
//! target costs a `pg_try_advisory_lock` and a `pg_advisory_unlock` on it,
//! not a connection. A target whose lock another run holds waits without a
//! session of its own, trying again with a growing pause (up to
//! [`MAX_RETRY_PAUSE`]) until `--lock-timeout`. If the shared session is
//! lost (ended by an operator or a failover, the server gone), every lock it
//! held is lost with it: every target it guarded is stopped
//! ([`TargetLock::guard`]), and the next target to lock opens a new session.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection as _;
use tokio::sync::{watch, Mutex, Notify};
use tokio::time::Instant;

use crate::error::StoreError;

/// The longest pause between two tries of a lock another run holds.
pub(crate) const MAX_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The advisory lock key of a target: the first 8 bytes of the xxh3 hash of a
/// name that says what it is, so `pg_locks` shows the same number every time.
pub fn target_lock_key(account: &str, region: &str) -> i64 {
    let name = format!("backup-audit ingest {account} {region}");
    i64::from_be_bytes(xxhash_rust::xxh3::xxh3_64(name.as_bytes()).to_be_bytes())
}

/// How to open the lock session and report its failures.
pub(crate) struct SessionSettings {
    pub connect: PgConnectOptions,
    pub connect_timeout: Duration,
    pub heartbeat: Duration,
    /// Turns a failed connection attempt into an error without secrets.
    pub connect_error: Box<dyn Fn(sqlx::Error) -> StoreError + Send + Sync>,
    /// The error of a connection attempt that got no answer in time.
    pub no_answer: Box<dyn Fn() -> StoreError + Send + Sync>,
}

/// The one database session that holds the ingest locks of a process's
/// targets (see the module's documentation).
pub(crate) struct LockSession {
    settings: SessionSettings,
    /// The session; statements on it take turns.
    state: Mutex<SessionState>,
    /// The keys this process holds, with the session (generation) holding
    /// each: a key taken here is not taken again here until released, though
    /// PostgreSQL would grant it again to the same session.
    held: StdMutex<HashMap<i64, u64>>,
    /// Locks dropped without [`TargetLock::release`], to unlock.
    dropped: StdMutex<Vec<(u64, i64)>>,
    /// Wakes a target waiting for a key this process releases.
    released: Notify,
}

struct SessionState {
    conn: Option<PgConnection>,
    generation: Arc<Generation>,
    /// When the session last answered: its locks were held then.
    last_answer: Option<Instant>,
    next_id: u64,
}

/// One session's life: when it is lost, so is every lock taken on it.
struct Generation {
    id: u64,
    /// `Some(reason)` once the session is lost.
    lost: watch::Sender<Option<String>>,
}

impl Generation {
    fn new(id: u64) -> Arc<Generation> {
        Arc::new(Generation {
            id,
            lost: watch::channel(None).0,
        })
    }

    fn lost_reason(&self) -> Option<String> {
        self.lost.borrow().clone()
    }
}

impl LockSession {
    pub(crate) fn new(settings: SessionSettings) -> LockSession {
        LockSession {
            settings,
            state: Mutex::new(SessionState {
                conn: None,
                // Generation 0 never has a session.
                generation: Generation::new(0),
                last_answer: None,
                next_id: 1,
            }),
            held: StdMutex::new(HashMap::new()),
            dropped: StdMutex::new(Vec::new()),
            released: Notify::new(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<i64, u64>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tries once to take `key`: `None` when this process or another run
    /// holds it.
    async fn try_take(&self, key: i64) -> Result<Option<Arc<Generation>>, StoreError> {
        {
            let mut held = self.held();
            if held.contains_key(&key) {
                return Ok(None);
            }
            // Reserved here while PostgreSQL is asked (generation 0: none yet).
            held.insert(key, 0);
        }
        let taken = self.try_take_on_session(key).await;
        if !matches!(taken, Ok(Some(_))) {
            self.held().remove(&key);
            self.released.notify_waiters();
        }
        taken
    }

    async fn try_take_on_session(&self, key: i64) -> Result<Option<Arc<Generation>>, StoreError> {
        let mut state = self.state.lock().await;
        self.unlock_dropped(&mut state).await;
        // A session found dead is replaced once: the lock is then tried on
        // the new one.
        for attempt in 0..2 {
            let opened = self.ensure_session(&mut state).await?;
            let conn = state.conn.as_mut().expect("a session was just ensured");
            let asked = Instant::now();
            let result: Result<bool, sqlx::Error> =
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(conn)
                    .await;
            match result {
                Ok(got) => {
                    state.last_answer = Some(asked);
                    if !got {
                        return Ok(None);
                    }
                    // Known as held before the session's next check.
                    self.held().insert(key, state.generation.id);
                    return Ok(Some(state.generation.clone()));
                }
                Err(source) => {
                    let error = StoreError::Database {
                        context: "taking the ingest lock",
                        source,
                    };
                    if !error.is_connection_problem() || opened || attempt == 1 {
                        if error.is_connection_problem() {
                            self.lose(&mut state, error.to_string());
                        }
                        return Err(error);
                    }
                    self.lose(&mut state, error.to_string());
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Opens a session when there is none; whether it did.
    async fn ensure_session(&self, state: &mut SessionState) -> Result<bool, StoreError> {
        if state.conn.is_some() {
            return Ok(false);
        }
        let settings = &self.settings;
        let conn = match tokio::time::timeout(
            settings.connect_timeout,
            PgConnection::connect_with(&settings.connect),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err((settings.connect_error)(e)),
            Err(_) => return Err((settings.no_answer)()),
        };
        state.conn = Some(conn);
        state.generation = Generation::new(state.next_id);
        state.next_id += 1;
        state.last_answer = Some(Instant::now());
        tracing::debug!(
            generation = state.generation.id,
            "ingest lock session opened"
        );
        Ok(true)
    }

    /// Unlocks the keys of locks dropped without being released.
    async fn unlock_dropped(&self, state: &mut SessionState) {
        let dropped = std::mem::take(&mut *self.dropped.lock().unwrap_or_else(|e| e.into_inner()));
        for (generation, key) in dropped {
            let _ = self.unlock_on(state, generation, key).await;
        }
    }

    /// Unlocks `key` if the session of `generation` still holds it, and
    /// forgets it here.
    async fn unlock_on(
        &self,
        state: &mut SessionState,
        generation: u64,
        key: i64,
    ) -> Result<(), StoreError> {
        let mut result = Ok(());
        if state.generation.id == generation {
            if let Some(conn) = state.conn.as_mut() {
                let asked = Instant::now();
                match sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(key)
                    .execute(conn)
                    .await
                {
                    Ok(_) => state.last_answer = Some(asked),
                    Err(source) => {
                        let error = StoreError::Database {
                            context: "releasing the ingest lock",
                            source,
                        };
                        if error.is_connection_problem() {
                            // Its locks went with it.
                            self.lose(state, error.to_string());
                        } else {
                            result = Err(error);
                        }
                    }
                }
            }
        }
        let mut held = self.held();
        if held.get(&key) == Some(&generation) {
            held.remove(&key);
        }
        drop(held);
        self.released.notify_waiters();
        result
    }

    async fn release(&self, generation: u64, key: i64) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        self.unlock_dropped(&mut state).await;
        self.unlock_on(&mut state, generation, key).await
    }

    /// Makes sure the session of `generation` answered at or after `since`
    /// (asking it when it did not): its locks were held then. One question
    /// answers for every lock of the session, so many targets ending at once
    /// cost one round trip. A session that does not answer within `limit`,
    /// or no longer holds its keys, is lost.
    async fn check(
        &self,
        generation: &Arc<Generation>,
        since: Instant,
        limit: Duration,
    ) -> Result<(), String> {
        if let Some(reason) = generation.lost_reason() {
            return Err(reason);
        }
        let mut state = self.state.lock().await;
        if let Some(reason) = generation.lost_reason() {
            return Err(reason);
        }
        if state.generation.id != generation.id || state.conn.is_none() {
            return Err("its session was replaced".to_owned());
        }
        if state.last_answer.is_some_and(|at| at >= since) {
            return Ok(());
        }
        let keys: Vec<i64> = self
            .held()
            .iter()
            .filter(|(_, g)| **g == generation.id)
            .map(|(key, _)| *key)
            .collect();
        let conn = state.conn.as_mut().expect("checked above");
        let asked = Instant::now();
        let held = tokio::time::timeout(
            limit,
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                 AND pid = pg_backend_pid() AND granted \
                 AND ((classid::bigint << 32) | objid::bigint) = ANY($1)",
            )
            .bind(&keys)
            .fetch_one(conn),
        )
        .await;
        let reason = match held {
            Ok(Ok(n)) if n == keys.len() as i64 => {
                state.last_answer = Some(asked);
                return Ok(());
            }
            Ok(Ok(n)) => format!("its session holds {n} of its {} locks", keys.len()),
            Ok(Err(e)) => format!("checking the ingest lock's session: {e}"),
            Err(_) => format!("its session did not answer within {limit:?}"),
        };
        self.lose(&mut state, reason.clone());
        Err(reason)
    }

    /// Closes the session (its locks go with it).
    pub(crate) async fn close(&self) {
        let mut state = self.state.lock().await;
        if let Some(conn) = state.conn.take() {
            let _ = conn.close().await;
        }
        let _ = state
            .generation
            .lost
            .send(Some("the store was closed".to_owned()));
    }
}

impl LockSession {
    /// Marks the current session lost: every lock on it stops its work, and
    /// its keys are free to be taken again (on a new session).
    fn lose(&self, state: &mut SessionState, reason: String) {
        tracing::error!(%reason, "ingest lock session lost");
        state.conn = None;
        state.last_answer = None;
        state.generation.lost.send_replace(Some(reason));
        let lost = state.generation.id;
        self.held().retain(|_, generation| *generation != lost);
        self.released.notify_waiters();
    }
}

/// Holds the ingest lock of one target until released or dropped.
///
/// The lock belongs to the process's shared lock session: dropping this
/// value unlocks it there even if [`release`](Self::release) was never
/// called. If the session is lost, so is the lock: [`verify`](Self::verify)
/// tells, and [`guard`](Self::guard) stops the work it runs.
pub struct TargetLock {
    session: Arc<LockSession>,
    generation: Arc<Generation>,
    account: String,
    region: String,
    key: i64,
    heartbeat: Duration,
    released: bool,
}

impl fmt::Debug for TargetLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetLock")
            .field("account", &self.account)
            .field("region", &self.region)
            .field("key", &self.key)
            .field("session", &self.generation.id)
            .field("lost", &self.generation.lost_reason().is_some())
            .finish()
    }
}

impl TargetLock {
    /// Takes the lock on the shared session, waiting up to `timeout` for
    /// another holder (another run, or another caller of this process) to
    /// let go.
    pub(crate) async fn acquire(
        session: &Arc<LockSession>,
        account: &str,
        region: &str,
        timeout: Duration,
    ) -> Result<TargetLock, StoreError> {
        let key = target_lock_key(account, region);
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(50);
        let generation = loop {
            // Registered before trying, so a release in between still wakes us.
            let released = session.released.notified();
            if let Some(generation) = session.try_take(key).await? {
                break generation;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::LockTimeout {
                    account: account.to_owned(),
                    region: region.to_owned(),
                    waited: timeout,
                });
            }
            // Another run's release is seen by trying again; a release of
            // this process wakes the waiter at once.
            let _ = tokio::time::timeout(pause.min(deadline - now), released).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        };
        tracing::debug!(account, region, key, "ingest lock taken");
        Ok(TargetLock {
            session: session.clone(),
            generation,
            account: account.to_owned(),
            region: region.to_owned(),
            key,
            heartbeat: session.settings.heartbeat.max(Duration::from_millis(10)),
            released: false,
        })
    }

    /// Runs `work` while the lock is held: its session is checked every
    /// heartbeat interval (one check serves every lock of the session) and
    /// once more when `work` ends. When the session is lost (ended by an
    /// operator or a failover, the server gone), `work` is stopped where it
    /// is (dropped: an open batch transaction rolls back) and
    /// [`StoreError::LockLost`] returned, so a run never records a
    /// checkpoint or goes on writing once another run may hold the target.
    pub async fn guard<F: Future>(&mut self, work: F) -> Result<F::Output, StoreError> {
        let mut work = std::pin::pin!(work);
        let mut lost = self.generation.lost.subscribe();
        let mut ticks = tokio::time::interval(self.heartbeat);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: the lock was just verified by taking it.
        ticks.tick().await;
        loop {
            if let Some(reason) = lost.borrow_and_update().clone() {
                return Err(self.lost(reason));
            }
            tokio::select! {
                output = &mut work => {
                    // The session answered after the work ended: the lock
                    // was held all along.
                    self.heartbeat(Instant::now()).await?;
                    return Ok(output);
                }
                _ = ticks.tick() => {
                    // Any answer within the last interval will do.
                    let since = Instant::now().checked_sub(self.heartbeat).unwrap_or_else(Instant::now);
                    self.heartbeat(since).await?;
                }
                _ = lost.changed() => {}
            }
        }
    }

    /// The session answered at or after `since`, within one heartbeat
    /// interval (a session that does not answer is as good as lost).
    async fn heartbeat(&mut self, since: Instant) -> Result<(), StoreError> {
        let limit = self.heartbeat.max(Duration::from_secs(5));
        self.session
            .check(&self.generation, since, limit)
            .await
            .map_err(|reason| self.lost(reason))
    }

    fn lost(&self, reason: String) -> StoreError {
        tracing::error!(account = %self.account, region = %self.region, %reason, "ingest lock lost");
        StoreError::LockLost {
            account: self.account.clone(),
            region: self.region.clone(),
            reason,
        }
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
    /// holds it), asking it now.
    pub async fn verify(&mut self) -> Result<(), StoreError> {
        let limit = self.heartbeat.max(Duration::from_secs(5));
        self.session
            .check(&self.generation, Instant::now(), limit)
            .await
            .map_err(|reason| StoreError::Connect {
                target: "the ingest lock's session".to_owned(),
                message: reason,
            })
    }

    /// Releases the lock.
    pub async fn release(mut self) -> Result<(), StoreError> {
        self.released = true;
        let result = self.session.release(self.generation.id, self.key).await;
        if result.is_ok() {
            tracing::debug!(account = %self.account, region = %self.region, "ingest lock released");
        }
        result
    }
}

impl Drop for TargetLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        // Unlocked by the next statement on the session, which is sent
        // now when a runtime is at hand.
        self.session
            .dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((self.generation.id, self.key));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let session = self.session.clone();
            runtime.spawn(async move {
                let mut state = session.state.lock().await;
                session.unlock_dropped(&mut state).await;
            });
        }
    }
}
