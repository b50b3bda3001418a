//! Least privilege and secrets: the documented roles work and hold no more
//! than they need, and no password or credential reaches output or storage.

use backup_emulator::Faults;
use pg_throwaway::TempPostgres;

use crate::support::*;

const INGEST_PASSWORD: &str = "ingest-Pw-0d9f";
const REPORT_PASSWORD: &str = "report-Pw-77a1";

fn role_url(pg: &TempPostgres, role: &str, password: &str, db: &str) -> String {
    format!("postgres://{role}:{password}@127.0.0.1:{}/{db}", pg.port())
}

/// Runs sql/roles.sql as the owner, stopping at the first error.
fn create_roles(pg: &TempPostgres, db: &str) {
    let roles = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/roles.sql");
    let out = pg
        .psql_command(db)
        .args(["-v", "ON_ERROR_STOP=1"])
        .args(["-v", &format!("ingest_password='{INGEST_PASSWORD}'")])
        .args(["-v", &format!("report_password='{REPORT_PASSWORD}'")])
        .args(["-f", roles])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "roles.sql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts that `sql` is refused for lack of privilege.
async fn refused(pool: &sqlx::PgPool, sql: &str) {
    let e = match sqlx::query(sql).execute(pool).await {
        Ok(done) => panic!("{sql}: allowed ({} rows)", done.rows_affected()),
        Err(e) => e,
    };
    let text = e.to_string();
    assert!(
        text.contains("permission denied") || text.contains("must be owner"),
        "{sql}: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn documented_roles_can_do_their_job_and_nothing_more() {
    // Roles are cluster-wide: a server of its own.
    let pg = TempPostgres::start().unwrap();
    let owner_url = pg.create_database("audit").unwrap();
    migrate(&owner_url).await;
    // A database created before PostgreSQL 15 lets everyone create tables
    // in `public`; roles.sql must take that back.
    pg.run_sql("audit", "GRANT CREATE ON SCHEMA public TO PUBLIC")
        .unwrap();
    create_roles(&pg, "audit");

    let ingest_url = role_url(&pg, "backup_audit_ingest", INGEST_PASSWORD, "audit");
    let report_url = role_url(&pg, "backup_audit_report", REPORT_PASSWORD, "audit");
    let emu = emulator(150, &["us-east-1"], Faults::default()).await;

    // The ingest role ingests (staging tables, locks, runs, checkpoints)...
    let out = run(&mut ingest_cmd(&ingest_url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pool = connect(&report_url).await;
    assert_exact(&pool, &emu, "us-east-1").await;
    // Later runs replace changed jobs' current rows, close history intervals
    // and add history; a full run reconciles what AWS no longer returns.
    for _ in 0..2 {
        emu.advance_clock(std::time::Duration::from_secs(6 * 3600));
        let out = run(&mut ingest_cmd(&ingest_url, &emu, &["us-east-1"])).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert_exact(&pool, &emu, "us-east-1").await;
    }
    let changed: i64 = sqlx::query_scalar("SELECT count(*) FROM copy_jobs WHERE versions > 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(changed > 0, "later runs recorded changed jobs");
    // A week later, with a retention of a day, the jobs still open have aged
    // out of AWS: the run reconciles them (described, then marked gone).
    let open = count(
        &pool,
        "SELECT count(*) FROM copy_jobs WHERE state IN ('CREATED', 'RUNNING')",
    )
    .await;
    assert!(open > 0, "open jobs to reconcile");
    emu.set_retention(Some(std::time::Duration::from_secs(86_400)));
    emu.advance_clock(std::time::Duration::from_secs(7 * 86_400));
    let out = run(&mut ingest_cmd(&ingest_url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM copy_jobs WHERE gone_at IS NOT NULL"
        )
        .await,
        open,
        "the reconciliation marked the open jobs gone"
    );
    assert_no_duplicate_history(&pool).await;
    // A re-read of the same jobs in other text reads the window's texts,
    // lists it in slices and records each job's new text; the next one
    // recognises them all by it.
    emu.set_faults(Faults {
        spaced_json: true,
        ..Faults::default()
    });
    let reread = || async {
        let out = run(ingest_cmd(&ingest_url, &emu, &["us-east-1"]).args([
            "--since",
            "2000-01-01T00:00:00Z",
            "--summary",
            "json",
        ]))
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
        let summary = summary(&out);
        (
            summary["jobs_seen"].as_i64().unwrap(),
            summary["jobs_same_text"].as_i64().unwrap(),
        )
    };
    let (seen, same_text) = reread().await;
    assert!(seen > 0);
    assert_eq!(same_text, 0);
    assert_eq!(reread().await, (seen, seen));

    // ...but cannot change the schema, rewrite or erase history.
    let ingest = connect(&ingest_url).await;
    for forbidden in [
        "CREATE TABLE sneaky (x int)",
        "CREATE VIEW sneaky AS SELECT 1",
        "UPDATE copy_job_history SET state = 'COMPLETED'",
        "UPDATE copy_job_history SET backup_size_in_bytes = 0",
        "UPDATE copy_job_history SET run_id = 0",
        "UPDATE copy_jobs SET state = 'COMPLETED'",
        "UPDATE copy_jobs SET creation_date = now()",
        "UPDATE ingest_runs SET account_id = '000000000000'",
        "DELETE FROM copy_job_history",
        "TRUNCATE copy_job_history",
        "DELETE FROM ingest_runs",
        "DROP VIEW copy_jobs_json",
        "TRUNCATE copy_jobs",
    ] {
        refused(&ingest, forbidden).await;
    }
    view_refuses_writes(&ingest).await;
    let out = run(binary().args(["migrate", "--database-url", &ingest_url])).await;
    assert_eq!(out.status.code(), Some(2), "only the owner migrates");
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );

    // The report role reads everything and writes nothing.
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM copy_jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(jobs > 0);
    for forbidden in [
        "UPDATE copy_jobs SET state = 'COMPLETED'",
        "UPDATE copy_job_history SET valid_to = now()",
        "DELETE FROM copy_job_history",
        "INSERT INTO ingest_checkpoints VALUES ('1', 'x', now(), 1, now())",
        "DELETE FROM ingest_runs",
        "TRUNCATE copy_jobs",
        "CREATE TABLE sneaky (x int)",
    ] {
        refused(&pool, forbidden).await;
    }
    view_refuses_writes(&pool).await;
    assert!(
        count(
            &pool,
            "SELECT count(*) FROM copy_job_snapshots WHERE valid_to IS NULL"
        )
        .await
            > 0
    );
    assert!(count(&pool, "SELECT count(*) FROM copy_job_history").await > 0);
}

/// `copy_job_snapshots` is a view over the history and the current rows:
/// nobody writes through it, whatever their privileges.
async fn view_refuses_writes(pool: &sqlx::PgPool) {
    for sql in [
        "UPDATE copy_job_snapshots SET state = 'COMPLETED'",
        "UPDATE copy_job_snapshots SET valid_to = now()",
        "DELETE FROM copy_job_snapshots",
        "INSERT INTO copy_job_snapshots (account_id, region, copy_job_id, valid_from, \
         account_id_in_job, content_hash) VALUES ('1', 'r', 'x', now(), false, '\\x00')",
    ] {
        let e = match sqlx::query(sql).execute(pool).await {
            Ok(done) => panic!("{sql}: allowed ({} rows)", done.rows_affected()),
            Err(e) => e,
        };
        let text = e.to_string();
        assert!(
            text.contains("permission denied") || text.contains("view"),
            "{sql}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_help_logs_or_the_runs_table() {
    let url = database();
    migrate(&url).await;
    let emu = emulator(20, &["us-east-1"], Faults::default()).await;
    let secret_key = "SecretAccessKey-never-print-me";
    let session = "SessionToken-never-print-me";
    let out = run(ingest_cmd(&url, &emu, &["us-east-1"])
        .args(["-vv", "--external-id", "ExternalId-never-print-me"])
        .env("AWS_SECRET_ACCESS_KEY", secret_key)
        .env("AWS_SESSION_TOKEN", session))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    for secret in [
        secret_key,
        session,
        "ExternalId-never-print-me",
        postgres().password(),
    ] {
        assert!(!all.contains(secret), "{secret} appeared in the output");
    }

    let help = run(binary()
        .args(["ingest", "--help"])
        .env("DATABASE_URL", &url))
    .await;
    assert!(!String::from_utf8_lossy(&help.stdout).contains(postgres().password()));

    let pool = connect(&url).await;
    let rows: Vec<String> = sqlx::query_scalar("SELECT row_to_json(r)::text FROM ingest_runs r")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        for secret in [secret_key, session, postgres().password()] {
            assert!(!row.contains(secret), "ingest_runs holds a secret: {row}");
        }
    }
}

/// Makes a CA and a server certificate for `localhost` signed by it.
fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=backup-audit test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=some other CA",
        "-keyout",
        "other.key",
        "-out",
        "other.crt",
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_verify_full_works_and_a_wrong_ca_is_refused() {
    let pg = TempPostgres::start().unwrap();
    pg.create_database("tls").unwrap();
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    // The server reads its key from its data directory, owned by its user.
    for file in ["server.crt", "server.key"] {
        let target = pg.data_dir().join(file);
        std::fs::copy(certs.path().join(file), &target).unwrap();
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let owner = std::fs::metadata(pg.data_dir()).unwrap();
        std::os::unix::fs::chown(
            &target,
            Some(std::os::unix::fs::MetadataExt::uid(&owner)),
            Some(std::os::unix::fs::MetadataExt::gid(&owner)),
        )
        .unwrap();
    }
    pg.run_sql("postgres", "ALTER SYSTEM SET ssl = on").unwrap();
    pg.run_sql("postgres", "SELECT pg_reload_conf()").unwrap();
    // The reload is asynchronous: wait until the server reports TLS on.
    for _ in 0..50 {
        if pg.run_sql("postgres", "SHOW ssl").unwrap().trim() == "on" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let base = format!(
        "postgres://postgres:{}@localhost:{}/tls",
        pg.password(),
        pg.port()
    );
    let ca = certs.path().join("ca.crt");
    let good = format!("{base}?sslmode=verify-full&sslrootcert={}", ca.display());
    let out = run(binary().args(["migrate", "--database-url", &good])).await;
    assert!(
        out.status.success(),
        "verify-full against the right CA: {}",
        stderr(&out)
    );
    let pool = connect(&good).await;
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(encrypted, "the connection is encrypted");

    let other = certs.path().join("other.crt");
    let bad = format!("{base}?sslmode=verify-full&sslrootcert={}", other.display());
    let out = run(binary().args(["migrate", "--database-url", &bad])).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a server the CA did not sign is refused"
    );
    let err = stderr(&out).to_lowercase();
    assert!(err.contains("certificate") || err.contains("tls"), "{err}");
    assert!(!err.contains(pg.password()));
}

/// What a database holds, to tell whether anything touched it.
async fn fingerprint(pool: &sqlx::PgPool) -> Vec<String> {
    let mut seen = Vec::new();
    for sql in [
        "SELECT count(*)::text FROM copy_jobs",
        "SELECT count(*)::text FROM copy_job_snapshots",
        "SELECT coalesce(string_agg(DISTINCT account_id, ','), '') FROM copy_jobs",
        "SELECT coalesce(string_agg(id || ' ' || run_group || ' ' || status, ',' ORDER BY id), '') FROM ingest_runs",
        "SELECT coalesce(string_agg(account_id || region || listed_through::text, ','), '') FROM ingest_checkpoints",
        "SELECT count(*)::text FROM _sqlx_migrations",
    ] {
        seen.push(sqlx::query_scalar(sql).fetch_one(pool).await.unwrap());
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_never_writes_into_a_database_it_did_not_create() {
    // A database with real audit data, named by DATABASE_URL as the README
    // tells operators to export it.
    let url = database();
    migrate(&url).await;
    let emu = emulator(30, &["us-east-1"], Faults::default()).await;
    let out = run(&mut ingest_cmd(&url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pool = connect(&url).await;
    let before = fingerprint(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("demo.html");

    // DATABASE_URL is not the demo's: it runs on a throwaway server.
    let out = run(binary()
        .args(["demo", "--quiet", "--jobs", "5", "--out"])
        .arg(&html)
        .env("DATABASE_URL", &url))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(html.exists());
    assert_eq!(fingerprint(&pool).await, before, "DATABASE_URL untouched");

    // Named explicitly, a database holding anything but demo data is refused.
    let out = run(binary()
        .args(["demo", "--quiet", "--jobs", "5", "--out"])
        .arg(&html)
        .args(["--database-url", &url]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not demo data"), "{err}");
    assert!(!err.contains(postgres().password()), "{err}");
    assert_eq!(fingerprint(&pool).await, before, "--database-url untouched");

    // A database with other tables is not the demo's either.
    let other = database();
    let other_pool = connect(&other).await;
    sqlx::query("CREATE TABLE invoices (id int)")
        .execute(&other_pool)
        .await
        .unwrap();
    let out = run(binary()
        .args(["demo", "--quiet", "--jobs", "5", "--out"])
        .arg(&html)
        .args(["--database-url", &other]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        count(
            &other_pool,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        .await,
        1,
        "nothing created beside the table"
    );

    // An empty database may be given, and the demo may run on it again.
    let empty = database();
    for _ in 0..2 {
        let out = run(binary()
            .args(["demo", "--quiet", "--jobs", "5", "--out"])
            .arg(&html)
            .args(["--database-url", &empty]))
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_the_credentials_do_not_belong_to_is_refused_before_reading() {
    const OTHER: &str = "210987654321";
    let url = database();
    migrate(&url).await;
    // The test credentials are the emulator's first account's.
    let emu = emulator_with(backup_emulator::EmulatorConfig {
        seed: 3,
        jobs_per_target: 20,
        accounts: vec![ACCOUNT.to_owned(), OTHER.to_owned()],
        regions: vec!["us-east-1".to_owned()],
        start: clock_start(),
        ..backup_emulator::EmulatorConfig::default()
    })
    .await;
    let pool = connect(&url).await;

    let out = run(ingest_cmd(&url, &emu, &["us-east-1"]).args(["--account", OTHER])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(OTHER) && err.contains(ACCOUNT), "{err}");
    assert!(err.contains("--role-arn"), "{err}");
    for table in ["ingest_runs", "ingest_checkpoints", "copy_jobs"] {
        assert_eq!(
            count(&pool, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    assert_eq!(emu.stats().list_calls, 0, "nothing was read");
    // One mismatch among several accounts is enough.
    let out = run(ingest_cmd(&url, &emu, &["us-east-1"]).args([
        "--account",
        ACCOUNT,
        "--account",
        OTHER,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(count(&pool, "SELECT count(*) FROM ingest_runs").await, 0);

    // The credentials' own account is read, as before.
    let out = run(ingest_cmd(&url, &emu, &["us-east-1"]).args(["--account", ACCOUNT])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact(&pool, &emu, "us-east-1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_is_hidden_wherever_the_url_or_environment_puts_it() {
    let url = database();
    let pg = postgres();
    let db = url.rsplit('/').next().unwrap().to_owned();
    let base = format!("postgres://postgres@127.0.0.1:{}/{db}", pg.port());
    let wrong = "Wr0ng-Query-Pw";
    // sqlx takes the password from the query string too: the right one works.
    let right = format!("{base}?sslmode=disable&password={}", pg.password());
    let out = run(binary().args(["migrate", "--database-url", &right])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(pg.password()), "{}", stderr(&out));

    let emu = emulator(5, &["us-east-1"], Faults::default()).await;
    let cases: Vec<(String, Vec<(&str, String)>)> = vec![
        // In the query string, on the command line and in DATABASE_URL.
        (format!("{base}?password={wrong}&sslmode=disable"), vec![]),
        (format!("{base}?sslmode=disable&PassWord={wrong}"), vec![]),
        // In the user info, percent-encoded.
        (
            format!(
                "postgres://postgres:{}%40x@127.0.0.1:{}/{db}",
                wrong,
                pg.port()
            ),
            vec![],
        ),
        // In the environment, as libpq and sqlx read it.
        (base.clone(), vec![("PGPASSWORD", wrong.to_owned())]),
    ];
    for (bad, env) in cases {
        for args in [
            vec!["-vv", "migrate", "--database-url", &bad],
            vec!["-vv", "report", "summary", "--database-url", &bad],
        ] {
            let mut cmd = binary();
            cmd.args(&args);
            for (k, v) in &env {
                cmd.env(k, v);
            }
            let out = run(&mut cmd).await;
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
            assert!(
                all.contains("password") || all.contains("authentication"),
                "{args:?}: {all}"
            );
            assert!(!all.contains(wrong), "{args:?} printed the password: {all}");
        }
        let mut cmd = ingest_cmd(&bad, &emu, &["us-east-1"]);
        cmd.arg("-vv");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = run(&mut cmd).await;
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(!stderr(&out).contains(wrong), "ingest: {}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_url_reaches_aws_backup_only() {
    let url = database();
    migrate(&url).await;
    // `backup` stands for a VPC endpoint of AWS Backup; `rest` for STS and
    // Organizations, reached the SDK's way (AWS_ENDPOINT_URL, which
    // aws-config applies to every service without one of its own).
    // It refuses STS and Organizations, as a VPC endpoint of AWS Backup does.
    let backup = emulator(
        40,
        &["us-east-1"],
        Faults {
            backup_only: true,
            ..Faults::default()
        },
    )
    .await;
    let rest = emulator(40, &["us-east-1"], Faults::default()).await;
    let out = run(binary()
        .args([
            "ingest",
            "--quiet",
            "--initial-backoff-ms",
            "5",
            "--region",
            "us-east-1",
        ])
        .arg("--endpoint-url")
        .arg(backup.endpoint_url())
        .args(["--role-arn", "arn:aws:iam::{account}:role/BackupAudit"])
        .arg("--accounts-from-organization")
        .env("AWS_ENDPOINT_URL", rest.endpoint_url())
        .env("DATABASE_URL", &url))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (b, r) = (backup.stats(), rest.stats());
    assert_eq!(
        (b.sts_calls, b.organizations_calls),
        (0, 0),
        "STS and Organizations were called at the AWS Backup endpoint"
    );
    assert!(
        r.assume_role_calls > 0 && r.organizations_calls > 0,
        "{r:?}"
    );
    assert_eq!(r.list_calls, 0, "{r:?}");
    assert!(b.list_calls > 0, "{b:?}");
    let pool = connect(&url).await;
    assert_exact(&pool, &backup, "us-east-1").await;

    // The per-service setting sends STS elsewhere than every other service.
    let sts = emulator(1, &["us-east-1"], Faults::default()).await;
    let out = run(binary()
        .args(["list", "--region", "us-east-1", "--account", ACCOUNT])
        .args(["--role-arn", "arn:aws:iam::{account}:role/BackupAudit"])
        .arg("--endpoint-url")
        .arg(backup.endpoint_url())
        .env("AWS_ENDPOINT_URL", rest.endpoint_url())
        .env("AWS_ENDPOINT_URL_STS", sts.endpoint_url()))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(sts.stats().assume_role_calls > 0);
    assert_eq!(rest.stats().assume_role_calls, r.assume_role_calls);
    assert_eq!(backup.stats().sts_calls, 0);
}
