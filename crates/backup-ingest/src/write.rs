//! How a batch of observations is written: current rows, history and
//! bookkeeping, in one transaction.
//!
//! The layout is SQL:2011 system versioning (migration 0009): a job's
//! current version is its row in `copy_jobs`, the open interval
//! `[last_changed_at, NULL)`; `copy_job_history` holds only superseded
//! versions, closed. A new job is one row in one `COPY`; a change moves the
//! old current row into the history, closed at the new observation's time,
//! and replaces it.
//!
//! 1. In Rust: one observation per key (the latest), and the content hash
//!    of each, before the transaction.
//! 2. `pg_advisory_xact_lock` on the batch's targets (a few hash buckets of
//!    account and region), so that concurrent writers of the same jobs take
//!    turns; the statements that follow see what the previous holder committed.
//! 3. One query looks up the batch's keys and compares the hashes: it sends
//!    back the current rows (hash, times, versions) of the observations that
//!    are not plainly unchanged, and the positions of those that are in one
//!    array (a re-read of unchanged jobs costs no row per job), and among
//!    those the ones whose listed text the row does not know yet, whose
//!    `text_digest` is then set (see [`crate::text`]); a second query reads,
//!    for observations older than their current row only,
//!    the history versions around the observation time (two primary-key
//!    probes each); the current row is the latest version of all.
//! 4. In Rust: each observation is classified ([`Class`]) and every row to
//!    write is computed.
//! 5. Superseded current rows move into the history (one
//!    `INSERT ... SELECT` from `copy_jobs`); new and changed current rows,
//!    and versions placed in the past, go to the tables with binary `COPY`
//!    (a changed current row is deleted and copied anew),
//!    streamed in chunks as they are encoded so that PostgreSQL works while
//!    Rust encodes; the few interval edits and bookkeeping changes of older
//!    observations are set-based updates over arrays. A job seen again with
//!    its current content writes nothing at all (the run's coverage records
//!    that the target was listed), so a re-read of unchanged jobs is one
//!    read per batch.
//!
//! A writer that bypasses the lock and inserts a job this batch thinks is new
//! makes the transaction fail with a unique violation; it is retried (as are
//! deadlocks and serialization failures), and then sees the job.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use backup_model::Timestamp;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::Row as _;

use crate::error::StoreError;
use crate::rows::{
    copy_current_statement, copy_history_statement, hash_storable, Bookkeeping, CopyPayload,
    DbTime, JobKey, RowEncoder, MEMBER_COLUMNS,
};
use crate::store::{BatchOutcome, Observation};

/// How many times a batch is tried when it collides with a concurrent writer.
const ATTEMPTS: u32 = 5;
/// The `classid` of the two-key advisory locks that serialize batch writers
/// ("ba"). Session locks of whole runs use the one-key form, a separate space.
const WRITE_LOCK_CLASS: i32 = 0x6261;
/// Targets hash into this many write locks.
const WRITE_LOCK_BUCKETS: u64 = 128;

/// One observation to write: its key and the hash of its content (`None`
/// until computed, and for observations that cannot be stored).
struct Staged<'a> {
    key: JobKey,
    obs: &'a Observation,
    hash: Option<[u8; 16]>,
    /// The digest of the JSON text the job was decoded from, when known.
    text_digest: Option<[u8; 16]>,
}

/// Bytes of `COPY` data sent at a time.
const COPY_CHUNK: usize = 256 * 1024;

/// The stored state of a job's current row.
#[derive(Debug, Clone, Copy)]
struct Current {
    hash: [u8; 16],
    book: Bookkeeping,
}

/// The versions around an older observation's time, the current row
/// included (the latest version, open).
#[derive(Debug, Clone, Copy, Default)]
struct Around {
    /// The version in force at that time (latest valid_from <= t).
    at: Option<(Timestamp, [u8; 16])>,
    /// The first version after it: valid_from, open (the current row), hash.
    next: Option<(Timestamp, bool, [u8; 16])>,
}

/// What an observation (time t, content H) is, against the stored state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// No current row: insert it (the history gets nothing).
    New,
    /// H is the current content: nothing to write.
    Seen,
    /// New content observed later than the current row: a new version; the
    /// current row goes into the history.
    Changed,
    /// Older than the current row, and the version in force at t has H:
    /// nothing to do.
    SameThen,
    /// Older, and the next version has H: it started at t, earlier than we knew.
    Extend,
    /// Older, in a closed interval or before the first version: a version of
    /// its own from t to the next version, cutting the one in force at t.
    Insert,
    /// Older, inside the current version's interval but before its latest
    /// sighting: [.., t) current content, [t, observed_at) H, then the current
    /// content again from observed_at.
    Reopen,
    /// Different content observed at the very instant another version was:
    /// which came first is unknowable, so it is rejected.
    Conflict,
}

/// The writes a batch needs, computed from the stored state.
#[derive(Default)]
struct Plan<'a> {
    outcome: BatchOutcome,
    /// Per staged observation: its new current row, if any.
    current: Vec<Option<Bookkeeping>>,
    /// Per staged observation: its new history row (valid_from, valid_to), if any.
    history: Vec<Option<(Timestamp, Timestamp)>>,
    /// Current rows replaced (deleted, then copied anew).
    replaced: KeyList<'a>,
    /// Current versions copied into the history, closed at `archive_to`
    /// (Changed, Reopen).
    archives: KeyList<'a>,
    archive_to: Vec<DbTime>,
    /// History rows whose valid_to becomes `times`.
    closes: KeyTimes<'a>,
    /// History rows whose valid_from moves back to `times`.
    extends: KeyTimes<'a>,
    /// Current rows whose bookkeeping changes.
    seen: KeyList<'a>,
    seen_book: Vec<Bookkeeping>,
}

/// Keys as three parallel arrays, for `unnest`.
#[derive(Default)]
struct KeyList<'a> {
    accounts: Vec<&'a str>,
    regions: Vec<&'a str>,
    ids: Vec<&'a str>,
}

impl<'a> KeyList<'a> {
    fn push(&mut self, key: &'a JobKey) {
        self.accounts.push(&key.account_id);
        self.regions.push(&key.region);
        self.ids.push(&key.copy_job_id);
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Keys with a history row's valid_from and a new time.
#[derive(Default)]
struct KeyTimes<'a> {
    keys: KeyList<'a>,
    valid_from: Vec<DbTime>,
    times: Vec<DbTime>,
}

impl<'a> KeyTimes<'a> {
    fn push(&mut self, key: &'a JobKey, valid_from: Timestamp, time: Timestamp) {
        self.keys.push(key);
        self.valid_from.push(DbTime(valid_from));
        self.times.push(DbTime(time));
    }
}

/// Writes `batch` (see the module docs).
///
/// `text_digests` is empty, or holds for each observation the digest of the
/// JSON text its job was decoded from (see [`crate::text`]), stored with a
/// current row written from it.
pub(crate) async fn write_batch(
    pool: &PgPool,
    run_id: i64,
    batch: &[Observation],
    text_digests: &[Option<[u8; 16]>],
) -> Result<BatchOutcome, StoreError> {
    let mut outcome = BatchOutcome::default();

    // One observation per key: the latest (the later in the batch on a tie).
    let mut latest: HashMap<JobKey, usize> = HashMap::with_capacity(batch.len());
    for (i, obs) in batch.iter().enumerate() {
        let Some(key) = JobKey::of(&obs.account_id, &obs.region, &obs.job) else {
            outcome
                .rejected
                .push((format!("#{i}"), "the job has no CopyJobId".to_owned()));
            continue;
        };
        match latest.entry(key) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(mut slot) => {
                outcome.duplicates += 1;
                if obs.observed_at >= batch[*slot.get()].observed_at {
                    slot.insert(i);
                }
            }
        }
    }
    let mut chosen: Vec<(JobKey, usize)> = latest.into_iter().collect();
    // Key order: rows are written in it, which keeps index inserts local.
    chosen.sort_unstable();
    let mut staged: Vec<Staged<'_>> = chosen
        .into_iter()
        .map(|(key, i)| Staged {
            key,
            obs: &batch[i],
            hash: None,
            text_digest: text_digests.get(i).copied().flatten(),
        })
        .collect();
    if staged.is_empty() {
        return Ok(outcome);
    }

    let mut encoder = RowEncoder::new();
    let mut hashed = false;
    let mut attempt = 1;
    loop {
        match attempt_batch(pool, run_id, &mut staged, &mut hashed, &mut encoder).await {
            Ok(done) => {
                outcome += done;
                break;
            }
            Err(AttemptError::Retry(why)) if attempt < ATTEMPTS => {
                tracing::debug!(attempt, reason = %why, "batch collided with another writer; retrying");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e.into_store_error()),
        }
    }
    for s in staged.iter().filter(|s| s.hash.is_none()) {
        // Name the member that holds the NUL.
        let why = encoder
            .push_job(&mut Vec::new(), &s.key, &s.obs.job, &[0; 16])
            .err()
            .map_or_else(|| "the job contains a NUL character".to_owned(), |u| u.0);
        outcome.rejected.push((s.key.copy_job_id.clone(), why));
    }
    Ok(outcome)
}

/// Computes the content hash of every staged observation (`None` for one
/// that cannot be stored).
fn hash_all(staged: &mut [Staged<'_>]) {
    let mut scratch = Vec::with_capacity(4096);
    for s in staged {
        s.hash = hash_storable(&s.obs.job, &mut scratch);
    }
}

/// One attempt: a transaction from lock to commit.
async fn attempt_batch(
    pool: &PgPool,
    run_id: i64,
    staged: &mut [Staged<'_>],
    hashed: &mut bool,
    encoder: &mut RowEncoder,
) -> Result<BatchOutcome, AttemptError> {
    // READ COMMITTED whatever the server's default: each statement after the
    // lock must see what the previous holder of the lock committed.
    // The lookup compares the hashes on the server, so they come first,
    // outside the transaction.
    if !*hashed {
        hash_all(staged);
        *hashed = true;
    }
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await
        .map_err(AttemptError::db("starting a transaction"))?;
    let conn: &mut PgConnection = &mut tx;

    // Every statement of the transaction looks rows up by key: index probes
    // in nested loops are always the right plan, whatever the statistics say
    // (a hash join would read the whole table for a batch). Set with the lock,
    // in the same round trip.
    let buckets = lock_buckets(staged);
    sqlx::query(
        "SELECT set_config('enable_hashjoin', 'off', true), \
                set_config('enable_mergejoin', 'off', true), \
                count(pg_advisory_xact_lock($1, b)) \
         FROM unnest($2::int4[]) AS b",
    )
    .bind(WRITE_LOCK_CLASS)
    .bind(&buckets)
    .execute(&mut *conn)
    .await
    .map_err(AttemptError::db("taking the write locks"))?;

    let keys = key_arrays(staged);
    let (current, seen, new_text) = read_current(conn, &keys, staged).await?;

    let around = read_around(conn, staged, &current).await?;
    let plan = make_plan(staged, &current, &seen, &around);
    let outcome = apply_plan(conn, run_id, staged, plan, encoder).await?;
    remember_texts(conn, staged, &new_text).await?;

    tx.commit()
        .await
        .map_err(AttemptError::db("committing the batch"))?;
    Ok(outcome)
}

/// The write-lock buckets of the batch's targets, sorted (a fixed order
/// keeps two writers from deadlocking).
fn lock_buckets(staged: &[Staged<'_>]) -> Vec<i32> {
    let mut buckets: Vec<i32> = staged
        .iter()
        .map(|s| {
            let name = format!("{}\u{1f}{}", s.key.account_id, s.key.region);
            (xxhash_rust::xxh3::xxh3_64(name.as_bytes()) % WRITE_LOCK_BUCKETS) as i32
        })
        .collect();
    buckets.sort_unstable();
    buckets.dedup();
    buckets
}

fn key_arrays<'s>(staged: &'s [Staged<'_>]) -> KeyList<'s> {
    let mut keys = KeyList::default();
    for s in staged {
        keys.push(&s.key);
    }
    keys
}

/// The current rows of the batch's keys, by position in `staged`, and which
/// observations are plainly their current row seen again.
///
/// An observation whose hash is its current row's, at or after the start of
/// the current version, is unchanged whatever else the row holds
/// ([`classify`] says `Seen`): the server tells those apart and sends only
/// their positions, in one array, so that a re-read of unchanged jobs
/// costs no row per job on the wire or in the client. Other rows come whole.
///
/// Of the unchanged ones, those whose text is known and not the one the row
/// remembers come back too (the third vector), so that the row learns it:
/// rows written before the text was kept, or whose text changed without its
/// content (another member order), are then recognised by their text the
/// next time.
async fn read_current(
    conn: &mut PgConnection,
    keys: &KeyList<'_>,
    staged: &[Staged<'_>],
) -> Result<(Vec<Option<Current>>, Vec<bool>, Vec<bool>), AttemptError> {
    let context = "reading current rows";
    // A job that cannot be stored has no hash: an empty one matches nothing.
    let hashes: Vec<&[u8]> = staged
        .iter()
        .map(|s| s.hash.as_ref().map_or(&[][..], |h| &h[..]))
        .collect();
    // An unknown text: empty, never remembered.
    let digests: Vec<&[u8]> = staged
        .iter()
        .map(|s| s.text_digest.as_ref().map_or(&[][..], |d| &d[..]))
        .collect();
    let times: Vec<DbTime> = staged.iter().map(|s| DbTime(s.obs.observed_at)).collect();
    let rows = sqlx::query(
        "WITH j AS MATERIALIZED (
             SELECT k.i, c.content_hash, c.observed_at, c.first_seen_at, c.last_seen_at,
                    c.last_changed_at, c.versions,
                    c.content_hash = k.h AND k.t >= c.last_changed_at AS seen,
                    k.d <> '' AND c.text_digest IS DISTINCT FROM k.d AS new_text
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[],
                         $6::bytea[])
                  WITH ORDINALITY AS k(account_id, region, copy_job_id, h, t, d, i)
             JOIN copy_jobs c
               ON c.account_id = k.account_id AND c.region = k.region
              AND c.copy_job_id = k.copy_job_id)
         SELECT i, content_hash, observed_at, first_seen_at, last_seen_at, last_changed_at,
                versions, NULL::int8[], NULL::int8[]
         FROM j WHERE NOT seen
         UNION ALL
         SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, array_agg(i),
                array_agg(i) FILTER (WHERE new_text)
         FROM j WHERE seen",
    )
    .bind(&keys.accounts)
    .bind(&keys.regions)
    .bind(&keys.ids)
    .bind(&hashes)
    .bind(&times)
    .bind(&digests)
    .fetch_all(&mut *conn)
    .await
    .map_err(AttemptError::db(context))?;
    let len = staged.len();
    let mut current = vec![None; len];
    let mut seen = vec![false; len];
    let mut new_text = vec![false; len];
    let position = |i: i64| {
        usize::try_from(i - 1)
            .ok()
            .filter(|&i| i < len)
            .ok_or_else(|| AttemptError::fatal(context, "row number out of range"))
    };
    for row in rows {
        let i: Option<i64> = row.try_get(0).map_err(AttemptError::db(context))?;
        let Some(i) = i else {
            let positions: Option<Vec<i64>> = row.try_get(7).map_err(AttemptError::db(context))?;
            for i in positions.unwrap_or_default() {
                seen[position(i)?] = true;
            }
            let positions: Option<Vec<i64>> = row.try_get(8).map_err(AttemptError::db(context))?;
            for i in positions.unwrap_or_default() {
                new_text[position(i)?] = true;
            }
            continue;
        };
        let hash: Vec<u8> = row.try_get(1).map_err(AttemptError::db(context))?;
        let time = |n: usize| -> Result<Timestamp, AttemptError> {
            Ok(row
                .try_get::<DbTime, _>(n)
                .map_err(AttemptError::db(context))?
                .0)
        };
        current[position(i)?] = Some(Current {
            hash: to_hash(&hash, context)?,
            book: Bookkeeping {
                observed_at: time(2)?,
                first_seen_at: time(3)?,
                last_seen_at: time(4)?,
                last_changed_at: time(5)?,
                versions: row.try_get(6).map_err(AttemptError::db(context))?,
            },
        });
    }
    Ok((current, seen, new_text))
}

/// Stores the text digests of unchanged jobs whose row does not know their
/// text yet (see [`read_current`]): one statement, only the digest column.
async fn remember_texts(
    conn: &mut PgConnection,
    staged: &[Staged<'_>],
    new_text: &[bool],
) -> Result<(), AttemptError> {
    let mut keys = KeyList::default();
    let mut digests: Vec<&[u8]> = Vec::new();
    for (s, _) in staged.iter().zip(new_text).filter(|(_, &new)| new) {
        if let Some(digest) = &s.text_digest {
            keys.push(&s.key);
            digests.push(digest);
        }
    }
    if digests.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE copy_jobs c SET text_digest = v.d
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS v(a, r, i, d)
         WHERE c.account_id = v.a AND c.region = v.r AND c.copy_job_id = v.i",
    )
    .bind(&keys.accounts)
    .bind(&keys.regions)
    .bind(&keys.ids)
    .bind(&digests)
    .execute(&mut *conn)
    .await
    .map_err(AttemptError::db("remembering the text of unchanged jobs"))?;
    Ok(())
}

/// Whether an observation needs the history around its time to be placed:
/// it is older than its current row, and not simply the current content seen
/// within the current version's interval.
fn needs_history(s: &Staged<'_>, current: Option<&Current>) -> bool {
    match (current, s.hash) {
        (Some(c), Some(hash)) => {
            let t = s.obs.observed_at;
            t < c.book.observed_at && !(hash == c.hash && t >= c.book.last_changed_at)
        }
        _ => false,
    }
}

/// For observations that need it, the versions around their time.
async fn read_around(
    conn: &mut PgConnection,
    staged: &[Staged<'_>],
    current: &[Option<Current>],
) -> Result<Vec<Around>, AttemptError> {
    let context = "reading history";
    let mut around = vec![Around::default(); staged.len()];
    let mut keys = KeyList::default();
    let mut times = Vec::new();
    let mut positions = Vec::new();
    for (i, s) in staged.iter().enumerate() {
        if !needs_history(s, current[i].as_ref()) {
            continue;
        }
        match current[i].as_ref() {
            // Within the current version: no history needed to place it.
            Some(c) if s.obs.observed_at >= c.book.last_changed_at => {
                around[i] = with_current(Around::default(), s.obs.observed_at, c);
            }
            _ => {
                keys.push(&s.key);
                times.push(DbTime(s.obs.observed_at));
                positions.push(i);
            }
        }
    }
    if positions.is_empty() {
        return Ok(around);
    }
    let rows = sqlx::query(
        "SELECT k.i, at.valid_from, at.content_hash, nx.valid_from, nx.content_hash
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) WITH ORDINALITY
              AS k(account_id, region, copy_job_id, t, i)
         LEFT JOIN LATERAL (
             SELECT h.valid_from, h.content_hash FROM copy_job_history h
             WHERE h.account_id = k.account_id AND h.region = k.region
               AND h.copy_job_id = k.copy_job_id AND h.valid_from <= k.t
             ORDER BY h.valid_from DESC LIMIT 1) at ON true
         LEFT JOIN LATERAL (
             SELECT h.valid_from, h.content_hash FROM copy_job_history h
             WHERE h.account_id = k.account_id AND h.region = k.region
               AND h.copy_job_id = k.copy_job_id AND h.valid_from > k.t
             ORDER BY h.valid_from LIMIT 1) nx ON true",
    )
    .bind(&keys.accounts)
    .bind(&keys.regions)
    .bind(&keys.ids)
    .bind(&times)
    .fetch_all(&mut *conn)
    .await
    .map_err(AttemptError::db(context))?;
    for row in rows {
        let i: i64 = row.try_get(0).map_err(AttemptError::db(context))?;
        let position = usize::try_from(i - 1)
            .ok()
            .and_then(|i| positions.get(i).copied())
            .ok_or_else(|| AttemptError::fatal(context, "row number out of range"))?;
        let at_from: Option<DbTime> = row.try_get(1).map_err(AttemptError::db(context))?;
        let at_hash: Option<Vec<u8>> = row.try_get(2).map_err(AttemptError::db(context))?;
        let next_from: Option<DbTime> = row.try_get(3).map_err(AttemptError::db(context))?;
        let next_hash: Option<Vec<u8>> = row.try_get(4).map_err(AttemptError::db(context))?;
        let history = Around {
            at: match (at_from, at_hash) {
                (Some(from), Some(hash)) => Some((from.0, to_hash(&hash, context)?)),
                _ => None,
            },
            next: match (next_from, next_hash) {
                (Some(from), Some(hash)) => Some((from.0, false, to_hash(&hash, context)?)),
                _ => None,
            },
        };
        let Some(c) = current[position].as_ref() else {
            continue;
        };
        around[position] = with_current(history, staged[position].obs.observed_at, c);
    }
    Ok(around)
}

/// The versions around time `t` from the history's, with the current row as
/// the latest version, open from its `last_changed_at` (every history
/// version starts before it).
fn with_current(history: Around, t: Timestamp, c: &Current) -> Around {
    let current = (c.book.last_changed_at, c.hash);
    if t >= c.book.last_changed_at {
        Around {
            at: Some(current),
            next: None,
        }
    } else {
        Around {
            at: history.at,
            next: history
                .next
                .filter(|(from, _, _)| *from < c.book.last_changed_at)
                .or(Some((current.0, true, current.1))),
        }
    }
}

/// Classifies an observation at `t` with content `hash`.
fn classify(t: Timestamp, hash: [u8; 16], current: Option<&Current>, around: &Around) -> Class {
    let Some(c) = current else {
        return Class::New;
    };
    let seen_or = |other| if hash == c.hash { Class::Seen } else { other };
    if t > c.book.observed_at {
        return seen_or(Class::Changed);
    }
    if t == c.book.observed_at {
        return seen_or(Class::Conflict);
    }
    if hash == c.hash && t >= c.book.last_changed_at {
        return Class::Seen;
    }
    match (around.at, around.next) {
        (Some((_, at_hash)), _) if at_hash == hash => seen_or(Class::SameThen),
        (Some((at_from, _)), _) if at_from == t => Class::Conflict,
        (_, Some((_, _, next_hash))) if next_hash == hash => Class::Extend,
        (_, None) => Class::Reopen,
        (_, Some(_)) => Class::Insert,
    }
}

/// Computes every write of the batch.
fn make_plan<'s>(
    staged: &'s [Staged<'_>],
    current: &[Option<Current>],
    seen: &[bool],
    around: &[Around],
) -> Plan<'s> {
    let mut plan = Plan {
        current: vec![None; staged.len()],
        history: vec![None; staged.len()],
        ..Plan::default()
    };
    for (i, s) in staged.iter().enumerate() {
        // Observations that cannot be stored are reported by the caller.
        let Some(hash) = s.hash else { continue };
        if seen[i] {
            // Found unchanged by the lookup: as `Class::Seen` below.
            plan.outcome.unchanged += 1;
            continue;
        }
        let t = s.obs.observed_at;
        let cur = current[i].as_ref();
        let class = classify(t, hash, cur, &around[i]);
        let mut write_current = None;
        let mut write_history = None;
        match (class, cur) {
            (Class::New, _) => {
                plan.outcome.new += 1;
                write_current = Some(Bookkeeping {
                    observed_at: t,
                    first_seen_at: t,
                    last_seen_at: t,
                    last_changed_at: t,
                    versions: 1,
                });
            }
            (Class::Changed, Some(c)) => {
                plan.outcome.changed += 1;
                plan.replaced.push(&s.key);
                plan.archives.push(&s.key);
                plan.archive_to.push(DbTime(t));
                write_current = Some(Bookkeeping {
                    observed_at: t,
                    first_seen_at: c.book.first_seen_at.min(t),
                    last_seen_at: c.book.last_seen_at.max(t),
                    last_changed_at: t,
                    versions: c.book.versions + 1,
                });
            }
            (Class::Seen, Some(_)) => {
                // The content is the current row's: nothing is written. A
                // sighting of an unchanged job is proven by the run's
                // coverage (the target was listed completely through a
                // time), not by a row per job: a full re-read of unchanged
                // jobs writes no tuple. `observed_at` and `last_seen_at`
                // stay those of the latest observation that was written.
                plan.outcome.unchanged += 1;
            }
            (Class::SameThen, _) => plan.outcome.stale += 1,
            (Class::Extend, Some(c)) => {
                let Some((next_from, next_open, _)) = around[i].next else {
                    continue;
                };
                if hash == c.hash {
                    plan.outcome.unchanged += 1;
                } else {
                    plan.outcome.stale += 1;
                }
                if let Some((at_from, _)) = around[i].at {
                    plan.closes.push(&s.key, at_from, t);
                }
                // An open next version is the current row: its start is
                // its last_changed_at, set below.
                if !next_open {
                    plan.extends.push(&s.key, next_from, t);
                }
                plan.seen.push(&s.key);
                plan.seen_book.push(Bookkeeping {
                    first_seen_at: c.book.first_seen_at.min(t),
                    last_changed_at: if next_open { t } else { c.book.last_changed_at },
                    ..c.book
                });
            }
            (Class::Insert, Some(c)) => {
                let Some((next_from, _, _)) = around[i].next else {
                    continue;
                };
                plan.outcome.stale += 1;
                if let Some((at_from, _)) = around[i].at {
                    plan.closes.push(&s.key, at_from, t);
                }
                write_history = Some((t, next_from));
                plan.seen.push(&s.key);
                plan.seen_book.push(Bookkeeping {
                    first_seen_at: c.book.first_seen_at.min(t),
                    versions: c.book.versions + 1,
                    ..c.book
                });
            }
            (Class::Reopen, Some(c)) => {
                // The current version, [last_changed_at, t), goes into the
                // history; [t, observed_at) is this observation's content;
                // the current row stays, from observed_at.
                plan.outcome.stale += 1;
                plan.archives.push(&s.key);
                plan.archive_to.push(DbTime(t));
                write_history = Some((t, c.book.observed_at));
                plan.seen.push(&s.key);
                plan.seen_book.push(Bookkeeping {
                    last_changed_at: c.book.observed_at,
                    versions: c.book.versions + 2,
                    ..c.book
                });
            }
            (Class::Conflict, _) => plan.outcome.rejected.push((
                s.key.copy_job_id.clone(),
                format!("a different version of this job is already recorded as observed at {t}"),
            )),
            // Every class but New has a current row.
            (_, None) => continue,
        }
        plan.current[i] = write_current;
        plan.history[i] = write_history;
    }
    plan
}

async fn apply_plan(
    conn: &mut PgConnection,
    run_id: i64,
    staged: &[Staged<'_>],
    plan: Plan<'_>,
    encoder: &mut RowEncoder,
) -> Result<BatchOutcome, AttemptError> {
    // Before anything changes a current row: its version, closed, into the
    // history.
    if plan.archives.len() > 0 {
        let done = sqlx::query(&ARCHIVE)
            .bind(&plan.archives.accounts)
            .bind(&plan.archives.regions)
            .bind(&plan.archives.ids)
            .bind(&plan.archive_to)
            .execute(&mut *conn)
            .await
            .map_err(AttemptError::db("moving superseded versions into history"))?
            .rows_affected();
        check_count(
            "moving superseded versions into history",
            done,
            plan.archives.len(),
        )?;
    }
    if plan.closes.keys.len() > 0 {
        let done = update_times(
            conn,
            CLOSE_INTERVALS,
            &plan.closes,
            "closing history intervals",
        )
        .await?;
        check_count("closing history intervals", done, plan.closes.keys.len())?;
    }
    if plan.extends.keys.len() > 0 {
        let done = update_times(
            conn,
            EXTEND_INTERVALS,
            &plan.extends,
            "extending history intervals",
        )
        .await?;
        check_count("extending history intervals", done, plan.extends.keys.len())?;
    }
    if plan.replaced.len() > 0 {
        let done = sqlx::query(
            "DELETE FROM copy_jobs c
             USING unnest($1::text[], $2::text[], $3::text[]) AS k(account_id, region, copy_job_id)
             WHERE c.account_id = k.account_id AND c.region = k.region
               AND c.copy_job_id = k.copy_job_id",
        )
        .bind(&plan.replaced.accounts)
        .bind(&plan.replaced.regions)
        .bind(&plan.replaced.ids)
        .execute(&mut *conn)
        .await
        .map_err(AttemptError::db("replacing changed jobs"))?
        .rows_affected();
        check_count("replacing changed jobs", done, plan.replaced.len())?;
    }
    // The content fields of each row, encoded once for both tables.
    let mut fields = EncodedRows::new(staged.len());
    if plan.current.iter().any(Option::is_some) {
        let context = "writing current rows";
        let mut copy = conn
            .copy_in_raw(&COPY_CURRENT)
            .await
            .map_err(AttemptError::db(context))?;
        let mut payload = CopyPayload::new(COPY_CHUNK + 8192);
        let mut result = Ok(());
        for (i, book) in plan.current.iter().enumerate() {
            let Some(book) = book else { continue };
            match fields.get(i, &staged[i], encoder) {
                Ok(row) => payload.push_current(row, book, run_id, staged[i].text_digest.as_ref()),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            if payload.pending().len() >= COPY_CHUNK {
                if let Err(e) = copy.send(payload.pending()).await {
                    result = Err(AttemptError::db(context)(e));
                    break;
                }
                payload.clear();
            }
        }
        finish_copy(copy, payload, result, context).await?;
    }
    if plan.history.iter().any(Option::is_some) {
        let context = "writing history";
        let mut copy = conn
            .copy_in_raw(&COPY_HISTORY)
            .await
            .map_err(AttemptError::db(context))?;
        let mut payload = CopyPayload::new(COPY_CHUNK + 8192);
        let mut result = Ok(());
        for (i, interval) in plan.history.iter().enumerate() {
            let Some((from, to)) = interval else { continue };
            match fields.get(i, &staged[i], encoder) {
                Ok(row) => payload.push_history(row, *from, Some(*to), run_id),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            if payload.pending().len() >= COPY_CHUNK {
                if let Err(e) = copy.send(payload.pending()).await {
                    result = Err(AttemptError::db(context)(e));
                    break;
                }
                payload.clear();
            }
        }
        finish_copy(copy, payload, result, context).await?;
    }
    if plan.seen.len() > 0 {
        let book = |f: fn(&Bookkeeping) -> Timestamp| -> Vec<DbTime> {
            plan.seen_book.iter().map(|b| DbTime(f(b))).collect()
        };
        let done = sqlx::query(
            "UPDATE copy_jobs c SET observed_at = v.observed_at, first_seen_at = v.first_seen_at,
                 last_seen_at = v.last_seen_at, last_changed_at = v.last_changed_at,
                 versions = v.versions
             FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                         $6::timestamptz[], $7::timestamptz[], $8::int4[])
                  AS v(account_id, region, copy_job_id, observed_at, first_seen_at, last_seen_at,
                       last_changed_at, versions)
             WHERE c.account_id = v.account_id AND c.region = v.region
               AND c.copy_job_id = v.copy_job_id",
        )
        .bind(&plan.seen.accounts)
        .bind(&plan.seen.regions)
        .bind(&plan.seen.ids)
        .bind(book(|b| b.observed_at))
        .bind(book(|b| b.first_seen_at))
        .bind(book(|b| b.last_seen_at))
        .bind(book(|b| b.last_changed_at))
        .bind(
            plan.seen_book
                .iter()
                .map(|b| b.versions)
                .collect::<Vec<i32>>(),
        )
        .execute(&mut *conn)
        .await
        .map_err(AttemptError::db("updating sightings"))?
        .rows_affected();
        check_count("updating sightings", done, plan.seen.len())?;
    }
    Ok(plan.outcome)
}

async fn update_times(
    conn: &mut PgConnection,
    sql: &str,
    rows: &KeyTimes<'_>,
    context: &'static str,
) -> Result<u64, AttemptError> {
    Ok(sqlx::query(sql)
        .bind(&rows.keys.accounts)
        .bind(&rows.keys.regions)
        .bind(&rows.keys.ids)
        .bind(&rows.valid_from)
        .bind(&rows.times)
        .execute(&mut *conn)
        .await
        .map_err(AttemptError::db(context))?
        .rows_affected())
}

/// Sends the rest of a `COPY` and ends it, or aborts it after an error.
async fn finish_copy(
    mut copy: sqlx::postgres::PgCopyIn<&mut PgConnection>,
    mut payload: CopyPayload,
    result: Result<(), AttemptError>,
    context: &'static str,
) -> Result<(), AttemptError> {
    if let Err(e) = result {
        let _ = copy.abort("the batch could not be encoded").await;
        return Err(e);
    }
    payload.end();
    if let Err(e) = copy.send(payload.pending()).await {
        let _ = copy.abort("sending failed").await;
        return Err(AttemptError::db(context)(e));
    }
    let copied = copy.finish().await.map_err(AttemptError::db(context))?;
    check_count(context, copied, payload.rows() as usize)
}

/// The content fields of staged observations, encoded on first use.
struct EncodedRows {
    bytes: Vec<u8>,
    /// Per staged observation: where its fields are in `bytes`.
    spans: Vec<Option<(usize, usize)>>,
}

impl EncodedRows {
    fn new(len: usize) -> Self {
        EncodedRows {
            bytes: Vec::with_capacity(len * 1600),
            spans: vec![None; len],
        }
    }

    fn get(
        &mut self,
        i: usize,
        staged: &Staged<'_>,
        encoder: &mut RowEncoder,
    ) -> Result<&[u8], AttemptError> {
        let (start, end) = match self.spans[i] {
            Some(span) => span,
            None => {
                let hash = staged.hash.unwrap_or_default();
                let start = self.bytes.len();
                encoder
                    .push_job(&mut self.bytes, &staged.key, &staged.obs.job, &hash)
                    // The hash was checked storable; this cannot happen.
                    .map_err(|u| AttemptError::fatal("encoding a job", &u.0))?;
                let span = (start, self.bytes.len());
                self.spans[i] = Some(span);
                span
            }
        };
        Ok(&self.bytes[start..end])
    }
}

fn to_hash(bytes: &[u8], context: &'static str) -> Result<[u8; 16], AttemptError> {
    bytes
        .try_into()
        .map_err(|_| AttemptError::fatal(context, "a content_hash is not 16 bytes"))
}

fn check_count(context: &'static str, done: u64, expected: usize) -> Result<(), AttemptError> {
    if done == expected as u64 {
        Ok(())
    } else {
        // The history of some job does not look as its current row says:
        // refuse to write rather than make it worse.
        Err(AttemptError::fatal(
            context,
            &format!("history is inconsistent: {done} rows affected, {expected} expected"),
        ))
    }
}

/// An attempt's failure: retried, or given up.
enum AttemptError {
    /// A collision with a concurrent writer.
    Retry(String),
    Fatal(StoreError),
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptError::Retry(why) => f.write_str(why),
            AttemptError::Fatal(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl AttemptError {
    fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> AttemptError {
        move |source| {
            if let sqlx::Error::Database(e) = &source {
                // deadlock_detected, serialization_failure, and unique_violation
                // (a concurrent insert of a job we found new).
                if matches!(e.code().as_deref(), Some("40P01" | "40001" | "23505")) {
                    return AttemptError::Retry(e.message().to_owned());
                }
            }
            AttemptError::Fatal(StoreError::Database { context, source })
        }
    }

    fn fatal(context: &'static str, message: &str) -> AttemptError {
        AttemptError::Fatal(StoreError::Database {
            context,
            source: sqlx::Error::Protocol(message.to_owned()),
        })
    }

    fn into_store_error(self) -> StoreError {
        match self {
            AttemptError::Retry(why) => StoreError::Database {
                context: "writing a batch (concurrent writers kept colliding)",
                source: sqlx::Error::Protocol(why),
            },
            AttemptError::Fatal(e) => e,
        }
    }
}

static COPY_CURRENT: LazyLock<String> = LazyLock::new(copy_current_statement);
static COPY_HISTORY: LazyLock<String> = LazyLock::new(copy_history_statement);

/// Ends history intervals: (key, valid_from) gets valid_to.
const CLOSE_INTERVALS: &str = "UPDATE copy_job_history h SET valid_to = v.t
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
         AS v(account_id, region, copy_job_id, valid_from, t)
    WHERE h.account_id = v.account_id AND h.region = v.region
      AND h.copy_job_id = v.copy_job_id AND h.valid_from = v.valid_from";

/// Moves versions' starts back: (key, valid_from) starts at t instead.
const EXTEND_INTERVALS: &str = "UPDATE copy_job_history h SET valid_from = v.t
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
         AS v(account_id, region, copy_job_id, valid_from, t)
    WHERE h.account_id = v.account_id AND h.region = v.region
      AND h.copy_job_id = v.copy_job_id AND h.valid_from = v.valid_from";

/// Copies current versions into the history, closed at a given time: each
/// keeps its start (last_changed_at), its writer and its gone_at.
static ARCHIVE: LazyLock<String> = LazyLock::new(|| {
    let members = MEMBER_COLUMNS
        .split(',')
        .map(|c| format!("c.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO copy_job_history (account_id, region, copy_job_id, valid_from, valid_to,
            run_id, {MEMBER_COLUMNS}, gone_at)
        SELECT c.account_id, c.region, c.copy_job_id, c.last_changed_at, v.valid_to, c.run_id,
            {members}, c.gone_at
        FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
             AS v(account_id, region, copy_job_id, valid_to)
        JOIN copy_jobs c
          ON c.account_id = v.account_id AND c.region = v.region AND c.copy_job_id = v.copy_job_id"
    )
});

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn current(hash: u8, observed: &str, changed: &str) -> Current {
        Current {
            hash: [hash; 16],
            book: Bookkeeping {
                observed_at: t(observed),
                first_seen_at: t("2026-01-01T00:00:00Z"),
                last_seen_at: t(observed),
                last_changed_at: t(changed),
                versions: 2,
            },
        }
    }

    #[test]
    fn the_current_row_is_the_latest_version() {
        let c = current(1, "2026-01-01T10:00:00Z", "2026-01-01T08:00:00Z");
        let history = Around {
            at: Some((t("2026-01-01T05:00:00Z"), [3; 16])),
            next: None,
        };
        // Before the current version: the history's version, then the current.
        let before = with_current(history, t("2026-01-01T07:00:00Z"), &c);
        assert_eq!(before.at, history.at);
        assert_eq!(
            before.next,
            Some((t("2026-01-01T08:00:00Z"), true, [1; 16]))
        );
        // A closed version between stays the next one.
        let between = Around {
            next: Some((t("2026-01-01T07:30:00Z"), false, [4; 16])),
            ..history
        };
        let placed = with_current(between, t("2026-01-01T07:00:00Z"), &c);
        assert_eq!(placed.next, between.next);
        // Within the current version: it is the one in force, nothing after.
        let within = with_current(history, t("2026-01-01T09:00:00Z"), &c);
        assert_eq!(within.at, Some((t("2026-01-01T08:00:00Z"), [1; 16])));
        assert_eq!(within.next, None);
        assert_eq!(
            classify(t("2026-01-01T09:00:00Z"), [2; 16], Some(&c), &within),
            Class::Reopen
        );
        assert_eq!(
            classify(t("2026-01-01T07:00:00Z"), [1; 16], Some(&c), &before),
            Class::Extend
        );
    }

    #[test]
    fn classes() {
        let c = current(1, "2026-01-01T10:00:00Z", "2026-01-01T08:00:00Z");
        let none = Around::default();
        let at = |s: &str, hash: u8| Some((t(s), [hash; 16]));
        assert_eq!(
            classify(t("2026-01-01T11:00:00Z"), [1; 16], None, &none),
            Class::New
        );
        assert_eq!(
            classify(t("2026-01-01T11:00:00Z"), [1; 16], Some(&c), &none),
            Class::Seen
        );
        assert_eq!(
            classify(t("2026-01-01T11:00:00Z"), [2; 16], Some(&c), &none),
            Class::Changed
        );
        assert_eq!(
            classify(t("2026-01-01T10:00:00Z"), [2; 16], Some(&c), &none),
            Class::Conflict
        );
        assert_eq!(
            classify(t("2026-01-01T09:00:00Z"), [1; 16], Some(&c), &none),
            Class::Seen
        );
        // Inside the current interval, other content: reopen.
        let inside = Around {
            at: at("2026-01-01T08:00:00Z", 1),
            next: None,
        };
        assert_eq!(
            classify(t("2026-01-01T09:00:00Z"), [2; 16], Some(&c), &inside),
            Class::Reopen
        );
        // Before the first version, which has other content: insert.
        let before = Around {
            at: None,
            next: Some((t("2026-01-01T08:00:00Z"), true, [1; 16])),
        };
        assert_eq!(
            classify(t("2026-01-01T07:00:00Z"), [2; 16], Some(&c), &before),
            Class::Insert
        );
        // The current content before its first sighting: extend.
        assert_eq!(
            classify(t("2026-01-01T07:00:00Z"), [1; 16], Some(&c), &before),
            Class::Extend
        );
        // An older version in force then with that content: nothing.
        let old = Around {
            at: at("2026-01-01T06:00:00Z", 3),
            next: Some((t("2026-01-01T08:00:00Z"), true, [1; 16])),
        };
        assert_eq!(
            classify(t("2026-01-01T07:00:00Z"), [3; 16], Some(&c), &old),
            Class::SameThen
        );
        // Another version recorded at that very instant.
        assert_eq!(
            classify(t("2026-01-01T06:00:00Z"), [4; 16], Some(&c), &old),
            Class::Conflict
        );
    }
}
