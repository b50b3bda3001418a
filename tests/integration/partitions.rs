//! The history partitioned by month, then system-versioned (migration 0009:
//! superseded versions in `copy_job_history`, the view `copy_job_snapshots`
//! over it and `copy_jobs`): upgrading a database that has history, views and
//! role grants keeps all of them; rows of months without a partition wait in
//! the DEFAULT partition until `migrate` makes one; and bounded queries read
//! only their months, by key with index probes.

use std::collections::BTreeSet;
use std::time::Duration;

use backup_emulator::Faults;
use backup_ingest::{Observation, Store};
use backup_model::Timestamp;
use pg_throwaway::TempPostgres;

use crate::support::*;

const INGEST_PASSWORD: &str = "ingest-Pw-3c1e";
const REPORT_PASSWORD: &str = "report-Pw-8b2d";

fn t(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// A UTC month `offset` months from the month of `now`: its first day
/// (`YYYY-MM-01`) and its partition's suffix (`YYYY_MM`). The tests place
/// their data relative to "now" so that they mean the same whatever the date:
/// `migrate` makes partitions from last month to twelve months ahead of the
/// server's clock.
fn month(now: Timestamp, offset: i32) -> (String, String) {
    let text = now.to_string();
    let year: i32 = text[0..4].parse().unwrap();
    let month: i32 = text[5..7].parse().unwrap();
    let index = year * 12 + (month - 1) + offset;
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    (format!("{y:04}-{m:02}-01"), format!("{y:04}_{m:02}"))
}

/// `day` (1-based) of the month `offset` months from `now`'s, at `time`.
fn day(now: Timestamp, offset: i32, day: u32, time: &str) -> String {
    let (first, _) = month(now, offset);
    format!("{}{day:02}T{time}Z", &first[..8])
}

#[test]
fn months_are_counted_across_years() {
    let now = t("2026-11-30T23:59:59Z");
    assert_eq!(month(now, 0).1, "2026_11");
    assert_eq!(month(now, 2).0, "2027-01-01");
    assert_eq!(month(now, -11).1, "2025_12");
    assert_eq!(month(now, -23).1, "2024_12");
    assert_eq!(day(now, -12, 20, "10:00:00"), "2025-11-20T10:00:00Z");
    assert_eq!(month(t("2029-12-01T00:00:00Z"), 1).1, "2030_01");
}

/// The database `url` migrated up to, not including, migration `before`.
async fn migrate_before(url: &str, before: &str) {
    let all = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < before {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let pool = connect(url).await;
    migrator.run(&pool).await.unwrap();
    pool.close().await;
}

/// Copies the rows of `table` from database `from` into `to`, in the columns
/// `to` has: history written by the current code (which writes the current
/// schema) moved into a database of an older schema.
fn copy_rows(pg: &TempPostgres, from: &str, to: &str, table: &str) {
    let columns = pg
        .run_sql(
            to,
            &format!(
                "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) \
                 FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{table}'"
            ),
        )
        .unwrap();
    let columns = columns.trim();
    let rows = pg
        .run_sql(
            from,
            &format!("COPY (SELECT {columns} FROM {table}) TO STDOUT"),
        )
        .unwrap();
    let mut load = pg
        .psql_command(to)
        .args(["-c", &format!("COPY {table} ({columns}) FROM STDIN")])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut load.stdin.take().unwrap(), rows.as_bytes()).unwrap();
    let out = load.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "copying {table}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// sql/roles.sql as it was in the release before the partitioning.
const ROLES_BEFORE_PARTITIONING: &str = "
CREATE ROLE backup_audit_ingest LOGIN PASSWORD :ingest_password;
CREATE ROLE backup_audit_report LOGIN PASSWORD :report_password;
GRANT CONNECT, TEMPORARY ON DATABASE :\"DBNAME\" TO backup_audit_ingest;
GRANT CONNECT ON DATABASE :\"DBNAME\" TO backup_audit_report;
GRANT USAGE ON SCHEMA public TO backup_audit_ingest, backup_audit_report;
GRANT SELECT, INSERT, UPDATE ON copy_jobs, copy_job_snapshots, ingest_runs, ingest_checkpoints
    TO backup_audit_ingest;
GRANT DELETE ON copy_jobs TO backup_audit_ingest;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO backup_audit_ingest;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO backup_audit_ingest, backup_audit_report;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO backup_audit_ingest, backup_audit_report;
";

/// Runs a roles script as the owner of database `audit`, stopping at the
/// first error.
fn run_roles_script(pg: &TempPostgres, script: &std::path::Path) {
    let out = pg
        .psql_command("audit")
        .args(["-v", "ON_ERROR_STOP=1"])
        .args(["-v", &format!("ingest_password='{INGEST_PASSWORD}'")])
        .args(["-v", &format!("report_password='{REPORT_PASSWORD}'")])
        .arg("-f")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes what the emulator serves now as observed at `at`.
async fn observe(store: &Store, emu: &backup_emulator::Emulator, at: &str) {
    observe_as(store, emu, at, false).await;
}

/// Writes what the emulator serves now, each job with another StatusMessage
/// (a change), as observed at `at`.
async fn observe_changed(store: &Store, emu: &backup_emulator::Emulator, at: &str) {
    observe_as(store, emu, at, true).await;
}

async fn observe_as(store: &Store, emu: &backup_emulator::Emulator, at: &str, changed: bool) {
    let batch: Vec<Observation> = emu
        .jobs(ACCOUNT, "us-east-1")
        .into_iter()
        .map(|mut job| {
            if changed {
                job.status_message = Some(format!("changed at {at}"));
            }
            job
        })
        .map(|job| Observation {
            account_id: ACCOUNT.to_owned(),
            region: "us-east-1".to_owned(),
            observed_at: t(at),
            job,
        })
        .collect();
    let outcome = store.write_batch(1, &batch).await.unwrap();
    assert!(outcome.rejected.is_empty(), "{outcome:?}");
}

/// A history row as readers compare it across the upgrade: every member of
/// the job and its interval. The bookkeeping that later migrations add or
/// recompute (the hash version and the hash itself, re-hashed by `migrate`;
/// `gone_at`, NULL for these rows) is left out.
const HISTORY_ROW: &str = "(to_jsonb(s) - 'content_hash' - 'hash_version' - 'gone_at')::text";

/// The table of history rows, before 0009 (copy_job_snapshots, every version)
/// and after (copy_job_history, superseded versions): its privileges are
/// compared across the upgrade under the old name.
const HISTORY_TABLE: &str =
    "coalesce(to_regclass('copy_job_history'), to_regclass('copy_job_snapshots'))";

/// Digests of everything a reader of the history sees: the rows, the as-of
/// functions, the views over the history, and who may use them.
async fn what_readers_see(pool: &sqlx::PgPool, now: Timestamp) -> Vec<String> {
    let mut seen = Vec::new();
    let early = month(now, -10).0;
    let late = day(now, -9, 20, "00:00:00");
    for sql in [
        format!("SELECT md5(string_agg({HISTORY_ROW}, ',' ORDER BY {HISTORY_ROW})) FROM copy_job_snapshots s"),
        "SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM copy_job_snapshots_json s".to_owned(),
        format!("SELECT md5(string_agg({HISTORY_ROW}, ',' ORDER BY {HISTORY_ROW})) FROM copy_jobs_as_of('{early}') s"),
        format!("SELECT md5(string_agg({HISTORY_ROW}, ',' ORDER BY {HISTORY_ROW})) FROM copy_jobs_as_of('{late}') s"),
        format!("SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM copy_jobs_json_as_of('{late}') s"),
        "SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM report_state_transitions s".to_owned(),
        "SELECT string_agg(format('%s %s %s', replace(c.relname, 'copy_job_history', 'copy_job_snapshots'),
                                  pg_get_userbyid(a.grantee), a.privilege_type), '; '
                ORDER BY c.relname, pg_get_userbyid(a.grantee), a.privilege_type)
         FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid IN (to_regclass('copy_job_snapshots_json'), to_regclass('report_state_transitions'), HISTORY)".to_owned(),
        "SELECT string_agg(format('%s %s', a.attname, pg_get_userbyid(p.grantee)), '; '
                ORDER BY a.attname, pg_get_userbyid(p.grantee))
         FROM pg_attribute a, aclexplode(a.attacl) p
         WHERE a.attrelid = HISTORY AND p.privilege_type = 'UPDATE'".to_owned(),
        "SELECT string_agg(format('%s %s', p.proname, coalesce(pg_get_userbyid(nullif(a.grantee, 0)), 'PUBLIC')), '; '
                ORDER BY p.proname, coalesce(pg_get_userbyid(nullif(a.grantee, 0)), 'PUBLIC'))
         FROM pg_proc p, aclexplode(p.proacl) a
         WHERE p.proname IN ('copy_jobs_as_of', 'copy_jobs_json_as_of')".to_owned(),
    ] {
        let sql = sql.replace("HISTORY", HISTORY_TABLE);
        let digest: Option<String> = sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap();
        seen.push(format!("{digest:?}"));
    }
    seen
}

async fn rows_per_partition(pool: &sqlx::PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT tableoid::regclass::text, count(*) FROM copy_job_history GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The partitions a query's plan reads.
async fn partitions_read(pool: &sqlx::PgPool, sql: &str) -> BTreeSet<String> {
    let plan: String = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {sql}"))
        .fetch_one(pool)
        .await
        .map(|v: serde_json::Value| v.to_string())
        .unwrap();
    plan.split("\"Relation Name\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| name.starts_with("copy_job_history"))
        .map(str::to_owned)
        .collect()
}

/// The plan of `sql` when a sequential scan is the last resort: one appears
/// only where no index can serve.
async fn plan_without_seqscan(pool: &sqlx::PgPool, sql: &str) -> String {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrading_keeps_history_views_and_grants_and_roles_still_work() {
    upgrade_at(Timestamp::now(), "0003").await;
}

/// From a database of 0008 (partitioned, every version in
/// copy_job_snapshots) to system versioning.
#[tokio::test(flavor = "multi_thread")]
async fn upgrading_to_system_versioning_keeps_every_version() {
    upgrade_at(Timestamp::now(), "0009").await;
}

/// The upgrade from the schema before migration `before`, with every month
/// placed relative to `now` (the server's clock, which decides the
/// partitions `migrate` makes ahead).
async fn upgrade_at(now: Timestamp, before: &str) {
    // Roles are cluster-wide: a server of its own.
    let pg = TempPostgres::start().unwrap();
    let owner_url = pg.create_database("audit").unwrap();
    migrate_before(&owner_url, before).await;

    // History over three months a year ago, before partitioning: jobs first
    // seen in the first, some changed in the third and fourth. The
    // emulator's clock is after them, so that the ingest below is the latest,
    // and still months before `now`: older than any partition made ahead.
    let (first, second, third) = (month(now, -12), month(now, -10), month(now, -9));
    let emu = emulator_with(backup_emulator::EmulatorConfig {
        seed: 11,
        jobs_per_target: 150,
        accounts: vec![ACCOUNT.to_owned()],
        regions: vec!["us-east-1".to_owned(), "eu-west-1".to_owned()],
        start: t(&format!("{}T00:00:00Z", month(now, -8).0)),
        history: Duration::from_secs(2 * 86_400),
        ..backup_emulator::EmulatorConfig::default()
    })
    .await;
    // Written by the current code into a database of the current schema,
    // then moved into the old one.
    let scratch_url = pg.create_database("scratch").unwrap();
    migrate(&scratch_url).await;
    let store = Store::connect(&scratch_url, Default::default())
        .await
        .unwrap();
    observe(&store, &emu, &day(now, -12, 20, "10:00:00")).await;
    emu.advance_clock(Duration::from_secs(6 * 3600));
    observe(&store, &emu, &day(now, -10, 15, "10:00:00")).await;
    emu.advance_clock(Duration::from_secs(6 * 3600));
    observe(&store, &emu, &day(now, -9, 27, "10:00:00")).await;
    store.close().await;
    for table in ["copy_jobs", "copy_job_snapshots"] {
        copy_rows(&pg, "scratch", "audit", table);
    }

    // The roles exist and hold the grants of their release (table-wide,
    // as sql/roles.sql made them then) before the upgrade.
    let old_roles = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(old_roles.path(), ROLES_BEFORE_PARTITIONING).unwrap();
    std::fs::set_permissions(
        old_roles.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    run_roles_script(&pg, old_roles.path());

    let owner = connect(&owner_url).await;
    let versions = count(&owner, "SELECT count(*) FROM copy_job_snapshots").await;
    let jobs = count(&owner, "SELECT count(*) FROM copy_jobs").await;
    assert!(
        versions > jobs,
        "some jobs changed: {versions} versions of {jobs} jobs"
    );
    let seen_before = what_readers_see(&owner, now).await;
    // Superseded versions go to the history table's partitions of their
    // months; the open ones are the current rows.
    let closed_months: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT 'copy_job_history_' || to_char(valid_from AT TIME ZONE 'UTC', 'YYYY_MM')
         FROM copy_job_snapshots WHERE valid_to IS NOT NULL ORDER BY 1",
    )
    .fetch_all(&owner)
    .await
    .unwrap();

    let out = run(binary().args(["migrate", "--database-url", &owner_url])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    if before == "0003" {
        assert!(stderr(&out).contains("applied 0003"), "{}", stderr(&out));
    }
    assert!(stderr(&out).contains("applied 0009"), "{}", stderr(&out));

    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'copy_job_history'::regclass"
        )
        .await,
        1
    );
    assert_eq!(
        what_readers_see(&owner, now).await,
        seen_before,
        "nothing changed for readers"
    );
    // Whoever read the history table reads the view that replaced it.
    let readers: Vec<bool> = sqlx::query_scalar(
        "SELECT has_table_privilege(r, 'copy_job_snapshots', 'SELECT')
         FROM unnest(ARRAY['backup_audit_report', 'backup_audit_ingest']) r",
    )
    .fetch_all(&owner)
    .await
    .unwrap();
    assert_eq!(readers, [true, true]);
    let placed = rows_per_partition(&owner).await;
    let names: Vec<&str> = placed.iter().map(|(name, _)| name.as_str()).collect();
    let partition = |m: &(String, String)| format!("copy_job_history_{}", m.1);
    assert_eq!(
        names, closed_months,
        "each month's superseded versions in its own partition, none in DEFAULT"
    );
    assert_eq!(
        placed.iter().map(|(_, n)| n).sum::<i64>(),
        versions - jobs,
        "the open versions left the history: they are the current rows"
    );
    // 0003 made a partition for every month that had versions; 0009 keeps
    // them, even where only open versions (now current rows) were.
    let kept: &[&(String, String)] = if before == "0003" {
        &[&first, &second, &third]
    } else {
        &[]
    };
    for m in kept {
        let made = count(
            &owner,
            &format!(
                "SELECT count(*) FROM pg_class WHERE relname = '{}'",
                partition(m)
            ),
        )
        .await;
        assert_eq!(made, 1, "{}", partition(m));
    }
    assert_eq!(
        count(&owner, "SELECT count(*) FROM copy_job_snapshots").await,
        versions
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM copy_jobs WHERE run_id IS NULL"
        )
        .await,
        0,
        "every current row has the run of its open version"
    );
    // Every partition has the primary key and the BRIN index on valid_from.
    let indexed = count(
        &owner,
        &format!(
            "SELECT count(*) FROM pg_indexes WHERE tablename = '{}'
               AND (indexdef LIKE '%USING btree (account_id, region, copy_job_id, valid_from)%'
                    OR indexdef LIKE '%USING brin (valid_from)%')",
            partition(&first)
        ),
    )
    .await;
    assert_eq!(indexed, 2);

    // A bounded query reads only its months; a job's as-of is also pruned.
    let read = partitions_read(
        &owner,
        &format!(
            "SELECT * FROM copy_job_snapshots WHERE valid_from >= '{}' AND valid_from < '{}'",
            second.0,
            month(now, -9).0
        ),
    )
    .await;
    assert_eq!(read, BTreeSet::from([partition(&second)]));
    let job = emu.jobs(ACCOUNT, "us-east-1")[0]
        .copy_job_id
        .clone()
        .unwrap();
    let read = partitions_read(
        &owner,
        &format!(
            "SELECT * FROM copy_jobs_as_of('{}') WHERE account_id = '{ACCOUNT}' \
             AND region = 'us-east-1' AND copy_job_id = '{job}'",
            day(now, -10, 20, "00:00:00")
        ),
    )
    .await;
    // The months up to the instant, and DEFAULT (which may hold any month
    // without a partition); none after it.
    let expected = [
        partition(&first),
        partition(&second),
        "copy_job_history_default".to_owned(),
    ];
    assert_eq!(read, BTreeSet::from(expected));
    // Both branches of the view are read by index, never whole: by key (the
    // primary keys), and by time window (BRIN on valid_from and on
    // copy_jobs.last_changed_at).
    let key =
        format!("account_id = '{ACCOUNT}' AND region = 'us-east-1' AND copy_job_id = '{job}'");
    let at = day(now, -10, 20, "00:00:00");
    for sql in [
        format!("SELECT * FROM copy_jobs_as_of('{at}') WHERE {key}"),
        format!("SELECT * FROM copy_jobs_json_as_of('{at}') WHERE {key}"),
        format!(
            "SELECT job FROM copy_job_snapshots_json WHERE {key} AND valid_from <= '{at}' \
             ORDER BY valid_from DESC LIMIT 1"
        ),
        format!("SELECT * FROM report_state_transitions WHERE {key}"),
        format!(
            "SELECT * FROM copy_job_snapshots WHERE valid_from >= '{}' AND valid_from < '{}'",
            second.0,
            month(now, -9).0
        ),
    ] {
        let plan = plan_without_seqscan(&owner, &sql).await;
        assert!(!plan.contains("Seq Scan"), "{sql}: {plan}");
        assert!(plan.contains("copy_jobs"), "{sql}: {plan}");
    }

    // After the upgrade the roles script is run again, as the operations
    // guide says: the roles stay, the grants become this release's.
    run_roles_script(
        &pg,
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/roles.sql")),
    );

    // The ingest role writes through the parent: a region of new jobs
    // (copy_jobs only), then their changes (superseded versions routed to
    // DEFAULT: the emulator's month, eight months back, has no partition)...
    let ingest_url = format!(
        "postgres://backup_audit_ingest:{INGEST_PASSWORD}@127.0.0.1:{}/audit",
        pg.port()
    );
    let out = run(&mut ingest_cmd(&ingest_url, &emu, &["eu-west-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact(&owner, &emu, "eu-west-1").await;
    emu.advance_clock(Duration::from_secs(6 * 3600));
    let out = run(&mut ingest_cmd(&ingest_url, &emu, &["eu-west-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact(&owner, &emu, "eu-west-1").await;
    assert!(
        count(
            &owner,
            "SELECT count(*) FROM copy_job_history_default WHERE region = 'eu-west-1'"
        )
        .await
            > 0
    );
    assert_no_duplicate_history(&owner).await;
    // ...and the interval edits of the write path, including one that moves
    // a version's start into an earlier month, hence another partition.
    let ingest = connect(&ingest_url).await;
    let mut tx = ingest.begin().await.unwrap();
    let moved: Vec<String> = sqlx::query_scalar(
        "WITH first AS (SELECT account_id, region, copy_job_id, min(valid_from) AS valid_from
                        FROM copy_job_history GROUP BY 1, 2, 3 ORDER BY 3 LIMIT 1)
         UPDATE copy_job_history s SET valid_from = s.valid_from - interval '45 days'
         FROM first f
         WHERE (s.account_id, s.region, s.copy_job_id, s.valid_from)
             = (f.account_id, f.region, f.copy_job_id, f.valid_from)
         RETURNING s.tableoid::regclass::text",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(moved.len(), 1);
    let closed = sqlx::query(
        "UPDATE copy_job_history SET valid_to = valid_from + interval '1 second'
         WHERE valid_from < $1::timestamptz",
    )
    .bind(&second.0)
    .execute(&mut *tx)
    .await
    .unwrap();
    assert!(closed.rows_affected() > 0);
    tx.rollback().await.unwrap();
    // It can still neither erase history nor change the partitions.
    for forbidden in [
        "DELETE FROM copy_job_history".to_owned(),
        "UPDATE copy_job_history SET state = 'COMPLETED'".to_owned(),
        format!("DELETE FROM {}", partition(&first)),
        format!("TRUNCATE {}", partition(&first)),
        "SELECT copy_job_snapshots_maintain_partitions(12)".to_owned(),
        "SELECT copy_job_snapshots_add_partitions('2040-01-01', '2040-01-01')".to_owned(),
        format!(
            "ALTER TABLE copy_job_history DETACH PARTITION {}",
            partition(&first)
        ),
    ] {
        let forbidden = forbidden.as_str();
        let e = sqlx::query(forbidden).execute(&ingest).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("permission denied") || text.contains("must be owner"),
            "{forbidden}: {text}"
        );
    }
    let report_url = format!(
        "postgres://backup_audit_report:{REPORT_PASSWORD}@127.0.0.1:{}/audit",
        pg.port()
    );
    let report = connect(&report_url).await;
    assert!(count(&report, "SELECT count(*) FROM copy_jobs_as_of(now())").await > 0);
    assert!(count(&report, "SELECT count(*) FROM report_state_transitions").await > 0);
    assert!(
        count(
            &report,
            "SELECT count(*) FROM copy_job_snapshots WHERE valid_to IS NOT NULL"
        )
        .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_of_months_without_a_partition_wait_in_default_until_migrate() {
    waiting_rows_at(Timestamp::now()).await;
}

/// Rows of a month three years after `now` (beyond every partition made
/// ahead) wait in DEFAULT until `migrate` makes their month's partition.
async fn waiting_rows_at(now: Timestamp) {
    let url = database();
    migrate(&url).await;
    let pool = connect(&url).await;
    let this_month = count(
        &pool,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'copy_job_history'::regclass
           AND inhrelid::regclass::text = 'copy_job_history_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')",
    )
    .await;
    assert_eq!(this_month, 1, "a fresh schema has this month's partition");

    // Years ahead: no partition, so the DEFAULT one takes the superseded
    // versions (new jobs are current rows only; a change of each moves its
    // first version into the history).
    let ahead = backup_ingest::PARTITION_MONTHS_AHEAD as i32 + 24;
    let far = month(now, ahead);
    let far_partition = format!("copy_job_history_{}", far.1);
    let emu = emulator(40, &["us-east-1"], Faults::default()).await;
    let store = Store::connect(&url, Default::default()).await.unwrap();
    observe(&store, &emu, &day(now, ahead, 5, "05:00:00")).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_history").await,
        0
    );
    observe_changed(&store, &emu, &day(now, ahead, 5, "07:00:00")).await;
    let waiting = count(&pool, "SELECT count(*) FROM copy_job_history_default").await;
    assert_eq!(waiting, emu.jobs(ACCOUNT, "us-east-1").len() as i64);
    let before = what_readers_see(&pool, now).await;

    let out = run(binary().args(["migrate", "--database-url", &url])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("made partition {far_partition}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM copy_job_history_default").await,
        0
    );
    assert_eq!(rows_per_partition(&pool).await, [(far_partition, waiting)]);
    assert_eq!(what_readers_see(&pool, now).await, before);

    // Nothing left to do: a second migrate makes nothing.
    let out = run(binary().args(["migrate", "--database-url", &url])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("made partition"), "{}", stderr(&out));
    // Writes to the new partition go on through the parent.
    emu.advance_clock(Duration::from_secs(3600));
    observe(&store, &emu, &day(now, ahead, 6, "05:00:00")).await;
    assert_no_duplicate_history(&pool).await;
}
