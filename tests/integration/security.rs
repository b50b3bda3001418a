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

#[tokio::test(flavor = "multi_thread")]
async fn documented_roles_can_do_their_job_and_nothing_more() {
    // Roles are cluster-wide: a server of its own.
    let pg = TempPostgres::start().unwrap();
    let owner_url = pg.create_database("audit").unwrap();
    migrate(&owner_url).await;
    let roles = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/roles.sql");
    let out = pg
        .psql_command("audit")
        .args(["-v", &format!("ingest_password='{INGEST_PASSWORD}'")])
        .args(["-v", &format!("report_password='{REPORT_PASSWORD}'")])
        .args(["-f", roles])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ingest_url = role_url(&pg, "backup_audit_ingest", INGEST_PASSWORD, "audit");
    let report_url = role_url(&pg, "backup_audit_report", REPORT_PASSWORD, "audit");
    let emu = emulator(150, &["us-east-1"], Faults::default()).await;

    // The ingest role ingests (staging tables, locks, runs, checkpoints)...
    let out = run(&mut ingest_cmd(&ingest_url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pool = connect(&report_url).await;
    assert_exact(&pool, &emu, "us-east-1").await;
    // Later runs replace changed jobs' current rows and add history.
    emu.advance_clock(std::time::Duration::from_secs(6 * 3600));
    let out = run(&mut ingest_cmd(&ingest_url, &emu, &["us-east-1"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact(&pool, &emu, "us-east-1").await;
    let changed: i64 = sqlx::query_scalar("SELECT count(*) FROM copy_jobs WHERE versions > 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(changed > 0, "the second run recorded changed jobs");

    // ...but cannot change the schema or erase history.
    let ingest = connect(&ingest_url).await;
    for forbidden in [
        "CREATE TABLE sneaky (x int)",
        "DELETE FROM copy_job_snapshots",
        "DROP VIEW copy_jobs_json",
        "TRUNCATE copy_jobs",
    ] {
        let e = sqlx::query(forbidden).execute(&ingest).await.unwrap_err();
        assert!(
            e.to_string().contains("permission denied") || e.to_string().contains("must be owner"),
            "{forbidden}: {e}"
        );
    }
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
        "INSERT INTO ingest_checkpoints VALUES ('1', 'x', now(), 1, now())",
        "DELETE FROM ingest_runs",
    ] {
        let e = sqlx::query(forbidden).execute(&pool).await.unwrap_err();
        assert!(
            e.to_string().contains("permission denied"),
            "{forbidden}: {e}"
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
