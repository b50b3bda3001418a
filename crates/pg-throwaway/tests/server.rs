//! Starts real servers: each test takes about a second.

use std::net::TcpStream;
use std::process::Command;

use pg_throwaway::TempPostgres;

/// Runs `SELECT` through psql over TCP with `password`, as a client would.
fn query_over_tcp(
    pg: &TempPostgres,
    db: &str,
    password: &str,
    sql: &str,
) -> Result<String, String> {
    let output = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-w",
        ])
        .args(["-p", &pg.port().to_string(), "-d", db, "-c", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .expect("psql runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn serves_tcp_with_password_auth_and_creates_databases() {
    let pg = TempPostgres::start().expect("server starts");
    assert_eq!(
        pg.url(),
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres",
            pg.password(),
            pg.port()
        )
    );

    let url = pg.create_database("audit_test").expect("database created");
    assert_eq!(url, pg.url_for("audit_test"));
    assert_eq!(
        query_over_tcp(
            &pg,
            "audit_test",
            pg.password(),
            "SELECT current_database()"
        )
        .unwrap(),
        "audit_test"
    );
    assert_eq!(
        query_over_tcp(&pg, "audit_test", pg.password(), "SHOW server_version_num").unwrap()[..2],
        *"15"
    );

    let err = query_over_tcp(&pg, "audit_test", "wrong-password", "SELECT 1").unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");

    // Quoting: a name that needs it.
    pg.create_database(r#"odd "name" x"#)
        .expect("quoted database created");
    assert!(pg
        .run_sql("postgres", "SELECT datname FROM pg_database")
        .unwrap()
        .contains(r#"odd "name" x"#));
    assert!(pg.create_database("").is_err());
}

#[test]
fn debug_hides_the_password() {
    let pg = TempPostgres::start().expect("server starts");
    let shown = format!("{pg:?}");
    assert!(!shown.contains(pg.password()), "{shown}");
    assert!(shown.contains(&pg.port().to_string()), "{shown}");
}

#[test]
fn stops_and_starts_again_on_the_same_port() {
    let mut pg = TempPostgres::start().expect("server starts");
    let port = pg.port();
    pg.create_database("kept").unwrap();
    pg.run_sql("kept", "CREATE TABLE t AS SELECT 42 AS answer")
        .unwrap();

    pg.stop().expect("server stops");
    assert!(!pg.is_running());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens once stopped"
    );
    assert!(pg.run_sql("kept", "SELECT 1").is_err());

    pg.start_again().expect("server starts again");
    assert_eq!(pg.port(), port);
    assert_eq!(
        query_over_tcp(&pg, "kept", pg.password(), "SELECT answer FROM t").unwrap(),
        "42"
    );
}

#[test]
fn drop_stops_the_server_and_removes_the_directory() {
    let pg = TempPostgres::start().expect("server starts");
    let port = pg.port();
    let dir = pg.data_dir().to_path_buf();
    assert!(dir.join("PG_VERSION").exists());
    drop(pg);
    assert!(!dir.exists(), "{} is removed", dir.display());
    assert!(dir.parent().is_some_and(|root| !root.exists()));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn two_servers_run_side_by_side() {
    let a = TempPostgres::start().expect("first server starts");
    let b = TempPostgres::start().expect("second server starts");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.password(), b.password());
    assert_eq!(
        query_over_tcp(&b, "postgres", b.password(), "SELECT 1").unwrap(),
        "1"
    );
    assert!(query_over_tcp(&b, "postgres", a.password(), "SELECT 1").is_err());
}

/// The child half of `a_forgotten_server_is_cleaned_up_when_its_process_exits`:
/// starts a server, prints where it is, and exits without dropping it, as a
/// test binary with a server in a `static` does.
#[test]
fn forgotten_server_child() {
    if std::env::var_os("PG_THROWAWAY_FORGET").is_none() {
        return;
    }
    let pg = TempPostgres::start().expect("server starts");
    println!("FORGOTTEN {} {}", pg.port(), pg.data_dir().display());
    std::mem::forget(pg);
    std::process::exit(0);
}

#[test]
fn a_forgotten_server_is_cleaned_up_when_its_process_exits() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "forgotten_server_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PG_THROWAWAY_FORGET", "1")
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("FORGOTTEN ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("child printed no server: {stdout}"));
    let (port, dir) = line.split_once(' ').unwrap();
    let port: u16 = port.parse().unwrap();
    let dir = std::path::PathBuf::from(dir);

    // The watchdog polls once a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (dir.exists() || TcpStream::connect(("127.0.0.1", port)).is_ok())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(!dir.exists(), "{} is removed", dir.display());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server is stopped"
    );
}

#[test]
fn debris_of_a_dead_process_is_removed() {
    // No process has pid 4194304 + 1 (above Linux's pid_max).
    let debris = std::env::temp_dir().join("pg-throwaway-4194305-0-deadbeef");
    std::fs::create_dir_all(debris.join("data")).unwrap();
    std::fs::write(debris.join("data").join("PG_VERSION"), "15\n").unwrap();
    let _pg = TempPostgres::start().expect("server starts");
    assert!(!debris.exists(), "debris is removed");
}
