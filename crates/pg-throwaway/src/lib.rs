//! Starts a private, throwaway PostgreSQL server for tests and for the
//! `backup-audit demo` command.
//!
//! [`TempPostgres::start`] runs `initdb` into a fresh directory under the
//! system temp dir and starts the server with `pg_ctl` on `127.0.0.1` and a
//! free port, with password authentication (scram-sha-256) for TCP and a
//! generated password for the superuser `postgres`. Unix sockets live in the
//! data directory, where only this server's user can reach them.
//! Dropping the value stops the server and removes the directory.
//!
//! PostgreSQL refuses to run as root, and sessions and CI do run as root: then
//! `initdb` and `pg_ctl` run as the `postgres` user through `runuser`, in a
//! directory that user owns.
//!
//! A server held in a `static` is never dropped, and a test binary can be
//! killed. So each server has a watchdog, a small shell loop in its own
//! process group that stops the server and removes its directory once the
//! process that started it is gone. Directories that a previous run left
//! behind anyway (the watchdog killed too) are cleaned up by the next start.
//!
//! This crate is for tests and demos only: durability is switched off
//! (`fsync = off`) to make them fast.
//!
//! It is not a PostgreSQL client: it shells out to `psql` for the little SQL it
//! needs (creating databases).

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The prefix of every directory this crate creates under the temp dir.
const DIR_PREFIX: &str = "pg-throwaway-";
/// How many ports to try when the one picked is taken before the server binds it.
const START_ATTEMPTS: u32 = 5;
/// The user the server runs as when we are root.
const SERVER_USER: &str = "postgres";
/// The superuser that `initdb` creates and that [`TempPostgres::url`] names.
const SUPERUSER: &str = "postgres";

/// Settings appended to `postgresql.conf`: a quiet server, tuned for tests
/// rather than safety.
const SERVER_SETTINGS: &str = "
# Added by pg-throwaway: a disposable server for tests; nothing here is durable.
listen_addresses = '127.0.0.1'
unix_socket_permissions = 0700
max_connections = 100
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 4GB
checkpoint_timeout = 30min
log_min_messages = warning
log_min_error_statement = panic
password_encryption = 'scram-sha-256'
";

/// Why the server could not be set up, started or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PostgreSQL program is not on the `PATH`.
    #[error("`{program}` is not on the PATH: install the PostgreSQL 15 server (initdb, pg_ctl) and client (psql)")]
    NotFound {
        /// The program looked for.
        program: &'static str,
    },
    /// We run as root but there is no user to run the server as.
    #[error("running as root, but there is no `postgres` user to run the server as (PostgreSQL refuses to run as root)")]
    NoServerUser,
    /// A program could not be started at all.
    #[error("could not run `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A program ran and failed.
    #[error("`{program}` failed ({status}): {output}")]
    Failed {
        /// The program and its subcommand.
        program: String,
        /// Its exit status.
        status: String,
        /// The end of what it printed (and of the server log, for `pg_ctl start`).
        output: String,
    },
    /// A file or directory operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A database name that cannot be used.
    #[error("invalid database name {0:?}: it must be 1 to 63 bytes without NUL")]
    InvalidName(String),
    /// The server is stopped (after [`TempPostgres::stop`]).
    #[error("the server is stopped")]
    Stopped,
}

/// A private PostgreSQL server that lives as long as this value.
///
/// `Debug` shows the port and directory, never the password.
pub struct TempPostgres {
    root: PathBuf,
    data: PathBuf,
    port: u16,
    password: String,
    programs: Programs,
    /// The user the server runs as, when it is not us (we are root).
    run_as: Option<String>,
    running: bool,
    watchdog: Option<Child>,
}

#[derive(Debug, Clone)]
struct Programs {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    psql: PathBuf,
    runuser: Option<PathBuf>,
}

impl fmt::Debug for TempPostgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempPostgres")
            .field("port", &self.port)
            .field("data_dir", &self.data)
            .field("run_as", &self.run_as)
            .field("running", &self.running)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl TempPostgres {
    /// Creates a fresh cluster and starts a server on a free port of 127.0.0.1.
    ///
    /// Takes about a second. Directories that earlier runs left behind (their
    /// process is gone) are removed first, and their servers stopped.
    pub fn start() -> Result<TempPostgres, Error> {
        let temp = std::env::temp_dir();
        remove_debris(&temp);

        let run_as = if effective_uid_is_root() {
            Some(SERVER_USER.to_owned())
        } else {
            None
        };
        let programs = Programs {
            initdb: find_program("initdb")?,
            pg_ctl: find_program("pg_ctl")?,
            psql: find_program("psql")?,
            runuser: match run_as {
                Some(_) => Some(find_program("runuser")?),
                None => None,
            },
        };
        let owner = match &run_as {
            Some(user) => Some(lookup_user(user).ok_or(Error::NoServerUser)?),
            None => None,
        };

        let root = temp.join(unique_dir_name());
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .map_err(|source| io_error(format!("creating {}", root.display()), source))?;
        let data = root.join("data");
        let mut server = TempPostgres {
            root,
            data,
            port: 0,
            password: random_password(),
            programs,
            run_as,
            running: false,
            watchdog: None,
        };
        // From here on, dropping `server` removes the directory.
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&server.root, Some(uid), Some(gid)).map_err(|source| {
                io_error(
                    format!("giving {} to {SERVER_USER}", server.root.display()),
                    source,
                )
            })?;
        }
        server.watchdog = server.spawn_watchdog();
        server.init_cluster(owner)?;
        server.start_on_free_port()?;
        tracing::debug!(port = server.port, dir = %server.root.display(), "throwaway PostgreSQL started");
        Ok(server)
    }

    /// The URL of the `postgres` database, with the password:
    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The URL of database `db` on this server (the name is percent-encoded).
    pub fn url_for(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{}",
            self.password,
            self.port,
            percent_encode(db)
        )
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, Error> {
        if name.is_empty() || name.len() > 63 || name.contains('\0') {
            return Err(Error::InvalidName(name.to_owned()));
        }
        let sql = format!("CREATE DATABASE {}", quote_ident(name));
        self.run_sql("postgres", &sql)?;
        Ok(self.url_for(name))
    }

    /// Runs `sql` in database `db` through `psql` (over the Unix socket, as the
    /// superuser) and returns what it printed, unaligned and without headers.
    pub fn run_sql(&self, db: &str, sql: &str) -> Result<String, Error> {
        if !self.running {
            return Err(Error::Stopped);
        }
        let output = self.psql_command(db).arg("-c").arg(sql).output();
        let output = checked("psql", output)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// A `psql` command connected to database `db` as the superuser over the
    /// Unix socket, with `-X -q -A -t -v ON_ERROR_STOP=1`: add `-c`, `-f` or
    /// stdin and run it.
    pub fn psql_command(&self, db: &str) -> Command {
        let mut cmd = Command::new(&self.programs.psql);
        clear_pg_env(&mut cmd);
        cmd.arg("-X")
            .arg("-q")
            .arg("-A")
            .arg("-t")
            .args(["-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(&self.data)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", SUPERUSER])
            .arg("-d")
            .arg(db)
            .stdin(Stdio::null());
        cmd
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The password of the superuser `postgres`.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The data directory, which also holds the Unix socket.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Whether the server is running (it is, unless [`stop`](Self::stop) was called).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Stops the server (`pg_ctl stop -m fast`), keeping its data, so a test
    /// can see what happens when the database goes away mid-run.
    pub fn stop(&mut self) -> Result<(), Error> {
        if !self.running {
            return Ok(());
        }
        self.pg_ctl_stop("fast")?;
        self.running = false;
        Ok(())
    }

    /// Starts the server again on the same data directory and port.
    pub fn start_again(&mut self) -> Result<(), Error> {
        if self.running {
            return Ok(());
        }
        self.pg_ctl_start(self.port)?;
        self.running = true;
        Ok(())
    }

    fn init_cluster(&self, owner: Option<(u32, u32)>) -> Result<(), Error> {
        let pwfile = self.root.join("pwfile");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&pwfile)
            .map_err(|source| io_error(format!("creating {}", pwfile.display()), source))?;
        file.write_all(self.password.as_bytes())
            .map_err(|source| io_error(format!("writing {}", pwfile.display()), source))?;
        drop(file);
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).map_err(|source| {
                io_error(
                    format!("giving {} to {SERVER_USER}", pwfile.display()),
                    source,
                )
            })?;
        }
        let mut cmd = self.server_command(&self.programs.initdb);
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-U", SUPERUSER])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]);
        let result = checked("initdb", cmd.output());
        let _ = fs::remove_file(&pwfile);
        result?;

        let conf = self.data.join("postgresql.conf");
        let socket_dir = self.data.display().to_string().replace('\'', "''");
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(|source| io_error(format!("opening {}", conf.display()), source))?;
        writeln!(
            file,
            "{SERVER_SETTINGS}unix_socket_directories = '{socket_dir}'"
        )
        .map_err(|source| io_error(format!("writing {}", conf.display()), source))?;
        Ok(())
    }

    fn start_on_free_port(&mut self) -> Result<(), Error> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            match self.pg_ctl_start(port) {
                Ok(()) => {
                    self.port = port;
                    self.running = true;
                    return Ok(());
                }
                Err(e) if is_port_collision(&e) => {
                    tracing::debug!(
                        port,
                        "port taken before the server bound it; trying another"
                    );
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or(Error::Stopped))
    }

    fn pg_ctl_start(&self, port: u16) -> Result<(), Error> {
        let log = self.root.join("server.log");
        let mut cmd = self.server_command(&self.programs.pg_ctl);
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-p {port}"))
            .arg("start");
        match checked("pg_ctl start", cmd.output()) {
            Ok(_) => Ok(()),
            Err(Error::Failed {
                program,
                status,
                output,
            }) => {
                // pg_ctl says little; the reason is in the server log.
                let tail = read_tail(&log, 2000);
                Err(Error::Failed {
                    program,
                    status,
                    output: format!("{output}\nserver log:\n{tail}"),
                })
            }
            Err(e) => Err(e),
        }
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), Error> {
        let mut cmd = self.server_command(&self.programs.pg_ctl);
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-m", mode, "stop"]);
        checked("pg_ctl stop", cmd.output()).map(drop)
    }

    /// A command for a server program, run as the server's user when we are root.
    fn server_command(&self, program: &Path) -> Command {
        let mut cmd = match (&self.run_as, &self.programs.runuser) {
            (Some(user), Some(runuser)) => {
                let mut cmd = Command::new(runuser);
                cmd.args(["-u", user, "--"]).arg(program);
                cmd
            }
            _ => Command::new(program),
        };
        clear_pg_env(&mut cmd);
        // The server's user may not be able to enter our working directory.
        cmd.current_dir(&self.root).stdin(Stdio::null());
        cmd
    }

    /// Starts a shell loop, in its own process group so that a Ctrl-C aimed at
    /// the tests does not reach it, that stops the server and removes the
    /// directory once this process is gone. It exits by itself when the
    /// directory disappears (a normal drop).
    fn spawn_watchdog(&self) -> Option<Child> {
        const SCRIPT: &str = r#"
owner=$1 root=$2 data=$3 pg_ctl=$4 runuser=$5 user=$6
while kill -0 "$owner" 2>/dev/null && [ -d "$root" ]; do sleep 1; done
if [ -d "$root" ]; then
  if [ -n "$runuser" ]; then
    (cd "$root" && "$runuser" -u "$user" -- "$pg_ctl" -D "$data" -m immediate -w stop)
  else
    "$pg_ctl" -D "$data" -m immediate -w stop
  fi
  rm -rf "$root"
fi
"#;
        let runuser = self
            .programs
            .runuser
            .as_deref()
            .map(Path::as_os_str)
            .unwrap_or(OsStr::new(""));
        let user = self.run_as.as_deref().unwrap_or("");
        let mut cmd = Command::new("sh");
        clear_pg_env(&mut cmd);
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("pg-throwaway-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.root)
            .arg(&self.data)
            .arg(&self.programs.pg_ctl)
            .arg(runuser)
            .arg(user)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        match cmd.spawn() {
            Ok(child) => Some(child),
            Err(e) => {
                tracing::warn!(error = %e, "no watchdog for the throwaway server: it is stopped on drop only");
                None
            }
        }
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        if self.running {
            if let Err(e) = self.pg_ctl_stop("immediate") {
                tracing::warn!(error = %e, "could not stop the throwaway server");
            }
            self.running = false;
        }
        if let Err(e) = fs::remove_dir_all(&self.root) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(error = %e, dir = %self.root.display(), "could not remove the throwaway server's directory");
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            // We started it; its pid is ours to end.
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Removes directories of earlier runs whose process is gone, stopping a
/// server still running in them first. Best effort: what cannot be removed is
/// left for the next run.
fn remove_debris(temp: &Path) {
    let Ok(entries) = fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let root = entry.path();
        let data = root.join("data");
        if data.join("postmaster.pid").exists() {
            stop_orphan(&root, &data);
        }
        match fs::remove_dir_all(&root) {
            Ok(()) => {
                tracing::debug!(dir = %root.display(), "removed a throwaway server left by an earlier run")
            }
            Err(e) => {
                tracing::debug!(dir = %root.display(), error = %e, "could not remove an earlier throwaway server")
            }
        }
    }
}

fn stop_orphan(root: &Path, data: &Path) {
    let Ok(pg_ctl) = find_program("pg_ctl") else {
        return;
    };
    let mut cmd = if effective_uid_is_root() {
        let Ok(runuser) = find_program("runuser") else {
            return;
        };
        let mut cmd = Command::new(runuser);
        cmd.args(["-u", SERVER_USER, "--"]).arg(pg_ctl);
        cmd
    } else {
        Command::new(pg_ctl)
    };
    clear_pg_env(&mut cmd);
    cmd.current_dir(root)
        .arg("-D")
        .arg(data)
        .args(["-w", "-t", "30", "-m", "immediate", "stop"])
        .stdin(Stdio::null());
    let _ = cmd.output();
}

/// Checks the outcome of `Command::output`, turning a failure into an error
/// that carries the end of what the program printed.
fn checked(program: &str, output: io::Result<Output>) -> Result<Output, Error> {
    let output = output.map_err(|source| Error::Spawn {
        program: program.to_owned(),
        source,
    })?;
    if output.status.success() {
        return Ok(output);
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(Error::Failed {
        program: program.to_owned(),
        status: output.status.to_string(),
        output: tail(text.trim(), 2000).to_owned(),
    })
}

fn is_port_collision(error: &Error) -> bool {
    match error {
        Error::Failed { output, .. } => {
            output.contains("Address already in use")
                || output.contains("could not create any TCP/IP sockets")
                || output.contains("could not create lock file")
        }
        _ => false,
    }
}

/// Asks the kernel for a free port. Another process can take it before the
/// server binds it; the caller retries then.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|source| io_error("finding a free port on 127.0.0.1".to_owned(), source))?;
    let port = listener
        .local_addr()
        .map_err(|source| io_error("finding a free port on 127.0.0.1".to_owned(), source))?
        .port();
    Ok(port)
}

fn find_program(program: &'static str) -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or(Error::NotFound { program })
}

/// Whether we run with effective uid 0, read from `/proc` (no `unsafe` libc call).
fn effective_uid_is_root() -> bool {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

/// The uid and gid of `user`, from `/etc/passwd`.
fn lookup_user(user: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

fn unique_dir_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .subsec_nanos();
    format!("{DIR_PREFIX}{}-{n}-{nanos:08x}", std::process::id())
}

/// 32 hex digits from the kernel's random source (only hex, so the password
/// needs no escaping in a URL).
fn random_password() -> String {
    let mut bytes = [0u8; 16];
    let from_kernel = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if from_kernel.is_err() {
        // Not a secret worth much anyway: the server listens on loopback only
        // and lives for one test run.
        use std::hash::{BuildHasher, Hasher};
        let state = std::collections::hash_map::RandomState::new();
        for chunk in bytes.chunks_mut(8) {
            let mut hasher = state.build_hasher();
            hasher.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_nanos(),
            );
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Drops `PG*` variables (PGDATA, PGPORT, PGHOST, PGOPTIONS, ...) so the
/// environment cannot point a program at another server.
fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("PG")) {
            cmd.env_remove(key);
        }
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn read_tail(path: &Path, max: usize) -> String {
    fs::read(path)
        .map(|bytes| tail(&String::from_utf8_lossy(&bytes), max).to_owned())
        .unwrap_or_default()
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn io_error(context: String, source: io::Error) -> Error {
    Error::Io { context, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_encoded() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(percent_encode("t_1-x"), "t_1-x");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn tails_cut_at_char_boundaries() {
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }

    #[test]
    fn passwords_are_hex() {
        let p = random_password();
        assert_eq!(p.len(), 32);
        assert!(p.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(p, random_password());
    }
}
