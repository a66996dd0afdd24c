//! A throw-away PostgreSQL server for tests, and a fresh migrated database per test.
//!
//! [`PgServer::shared`] starts one server per test binary (or uses `DATABASE_URL`); every test then asks
//! it for its own database with [`PgServer::database`], so tests run in parallel without seeing each
//! other's rows. Databases are cloned with `CREATE DATABASE … TEMPLATE` from a template migrated once
//! per migrator, which costs a file copy (~20 ms) instead of replaying every migration.
//!
//! The server is configured for tests, not durability: `fsync` and `full_page_writes` are off (and
//! `synchronous_commit` too unless [`Durability::CrashSafe`] is asked for), authentication is `trust`,
//! it listens on 127.0.0.1 on a free port and keeps its unix socket in its own temporary directory.
//! `pg_stat_statements` is preloaded when the installation ships it, so a test can count the
//! statements the database really executed. [`PgServer::start`] gives a dedicated server whose
//! [`stop`](PgServer::stop), [`kill`](PgServer::kill) and [`restart`](PgServer::restart) let a test
//! take the database away from a running service; [`PgServer::start_with`] pins the port and the
//! folder (the local lab).
//!
//! With `DATABASE_URL` set, the databases (`testkit_<pid>_<n>`) stay on that server after the tests:
//! dropping them needs an async connection that a `Drop` cannot make. A throw-away server takes them
//! along when it goes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::OnceCell;

use crate::launcher::{self, Launcher};
use crate::process::{Placement, chown, command_as, find_binary, run, running_as_root};
use crate::{Error, Result};

const INSTALL_HINT: &str =
    "`apt-get install postgresql` (Debian/Ubuntu), or enter the Nix devShell";
/// PostgreSQL refuses to run as root; when the tests do, the server runs as this Debian system user.
const SERVER_USER: &str = "postgres";

/// A PostgreSQL server the tests may use: one this process started, or an existing one.
pub struct PgServer {
    admin: PgConnectOptions,
    local: Option<Local>,
    /// One template database per migrator (keyed by its address), created on first use.
    templates: Mutex<HashMap<usize, Arc<OnceCell<String>>>>,
}

/// The parts of a server this process started itself.
struct Local {
    /// `pg_ctl` daemonises the postmaster: the launcher runs `pg_ctl stop` from `Drop` and its watchdog.
    launcher: Launcher,
    data: PathBuf,
    pg_ctl: PathBuf,
    user: Option<&'static str>,
}

/// A database of its own for one test. It is not dropped afterwards: the server is throw-away.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// The database name (`testkit_<pid>_<n>`).
    pub name: String,
    options: PgConnectOptions,
}

impl TestDb {
    /// A `postgres://` URL for this database, for services configured by `DATABASE_URL`.
    pub fn url(&self) -> String {
        self.options.to_url_lossy().to_string()
    }

    /// Connection options for this database.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// A single new connection, for assertions that look at the database directly.
    pub async fn connect(&self) -> Result<PgConnection> {
        Ok(PgConnection::connect_with(&self.options).await?)
    }
}

impl PgServer {
    /// The server shared by every test of this binary: `DATABASE_URL`'s server when that is set,
    /// otherwise one started on first use and stopped by the watchdog when the binary exits.
    pub fn shared() -> Result<&'static PgServer> {
        static SHARED: OnceLock<Result<PgServer, String>> = OnceLock::new();
        launcher::shared(&SHARED, "DATABASE_URL", Self::existing, Self::start)
    }

    /// Uses an existing server; `url` must allow `CREATE DATABASE`.
    pub fn existing(url: &str) -> Result<Self> {
        let admin = PgConnectOptions::from_str(url)
            .map_err(|e| Error(format!("DATABASE_URL is not a valid PostgreSQL URL: {e}")))?;
        Ok(Self {
            admin,
            local: None,
            templates: Mutex::default(),
        })
    }

    /// Starts a dedicated server in a fresh temporary directory (blocking: initdb takes ~1 s).
    pub fn start() -> Result<Self> {
        Self::start_with(&Placement::default(), Durability::Fast)
    }

    /// Starts a dedicated server where `placement` says (the local lab: a fixed port, its state
    /// folder), keeping data written there by an earlier run, with the given commit durability.
    pub fn start_with(placement: &Placement, durability: Durability) -> Result<Self> {
        let bin_dirs = candidate_bin_dirs();
        let initdb = find_binary("initdb", &bin_dirs, INSTALL_HINT)?;
        let pg_ctl = find_binary("pg_ctl", &bin_dirs, INSTALL_HINT)?;
        let user = if running_as_root() {
            let known = Command::new("id").arg(SERVER_USER).output();
            if !known.is_ok_and(|o| o.status.success()) {
                return Err(Error(format!(
                    "tests run as root and PostgreSQL refuses root; the `{SERVER_USER}` system user is \
                     missing — {INSTALL_HINT} creates it"
                )));
            }
            Some(SERVER_USER)
        } else {
            None
        };

        // Armed before the server exists, so no failure below can leak a postmaster. `-m immediate`:
        // a throw-away server has nothing worth a checkpoint.
        let launcher = Launcher::daemon(placement, "testkit-pg", |dir| {
            let mut stop = vec![];
            if let Some(user) = user {
                stop.extend([
                    "setpriv".into(),
                    format!("--reuid={user}"),
                    format!("--regid={user}"),
                    "--init-groups".into(),
                    "--".into(),
                ]);
            }
            stop.push(pg_ctl.display().to_string());
            stop.extend(["stop", "-w", "-m", "immediate", "-D"].map(String::from));
            stop.push(dir.join("data").display().to_string());
            stop
        })?;
        let data = launcher.dir().join("data");
        let socket_dir = launcher.dir().join("socket");
        std::fs::create_dir_all(&socket_dir)?;
        if let Some(user) = user {
            chown(launcher.dir(), user)?;
        }
        let initialised = data.join("PG_VERSION").is_file();
        if !initialised {
            run(
                command_as(user, &initdb).arg("-D").arg(&data).args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "-N",
                ]),
                "initdb",
            )?;
        }

        let local = Local {
            launcher,
            data,
            pg_ctl,
            user,
        };
        let port = placement.first_port(|port| {
            write_config(&local.data, &socket_dir, port, &initdb, durability)?;
            local.pg_ctl_start()?;
            Ok(port)
        })?;
        let admin = PgConnectOptions::new_without_pgpass()
            .host("127.0.0.1")
            .port(port)
            .username("postgres")
            .database("postgres")
            .ssl_mode(PgSslMode::Disable);
        Ok(Self {
            admin,
            local: Some(local),
            templates: Mutex::default(),
        })
    }

    /// Connection options for the server's `postgres` database (superuser on a local server).
    pub fn admin_options(&self) -> PgConnectOptions {
        self.admin.clone()
    }

    /// A new, empty database with `migrator` applied.
    pub async fn database(&self, migrator: &'static Migrator) -> Result<TestDb> {
        let template = self.template(migrator).await?;
        let name = unique_name();
        let mut admin = PgConnection::connect_with(&self.admin).await?;
        // Names are generated by us (`testkit_<pid>_<n>`): identifiers cannot be bind parameters.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        Ok(TestDb {
            options: self.admin.clone().database(&name),
            name,
        })
    }

    /// Creates (once) the template database for `migrator`.
    async fn template(&self, migrator: &'static Migrator) -> Result<String> {
        let cell = {
            let mut templates = self
                .templates
                .lock()
                .map_err(|_| Error("poisoned".into()))?;
            let key = std::ptr::from_ref(migrator) as usize;
            Arc::clone(templates.entry(key).or_default())
        };
        let name = cell
            .get_or_try_init(|| async {
                let name = unique_name();
                let mut admin = PgConnection::connect_with(&self.admin).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                // The connection must be closed before the template is copied: PostgreSQL refuses
                // to copy a database somebody is connected to.
                let mut conn =
                    PgConnection::connect_with(&self.admin.clone().database(&name)).await?;
                migrator
                    .run(&mut conn)
                    .await
                    .map_err(|e| Error(format!("migrating the template database: {e}")))?;
                conn.close().await?;
                Ok::<_, Error>(name)
            })
            .await?;
        Ok(name.clone())
    }

    /// Stops a dedicated server (fast shutdown: open connections are terminated). Data is kept.
    pub fn stop(&self) -> Result<()> {
        let local = self.local()?;
        run(
            command_as(local.user, &local.pg_ctl)
                .args(["stop", "-w", "-m", "fast", "-D"])
                .arg(&local.data),
            "pg_ctl stop",
        )
    }

    /// Kills a dedicated server the way a crash does: SIGKILL to the postmaster, whose backends then
    /// exit by themselves when they notice it is gone. The next start runs crash recovery from the WAL.
    pub fn kill(&self) -> Result<()> {
        let local = self.local()?;
        let pid_file = std::fs::read_to_string(local.data.join("postmaster.pid")).map_err(|e| {
            Error(format!(
                "postmaster.pid unreadable (server not running?): {e}"
            ))
        })?;
        let pid = pid_file
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        run(
            Command::new("kill").args(["-9", &pid]),
            "kill -9 of the postmaster",
        )
    }

    /// Starts a stopped (or killed) dedicated server again, on the same port with the same data.
    /// After a kill its backends may still hold the shared memory for a moment, so a refused start
    /// is retried for a few seconds.
    pub fn restart(&self) -> Result<()> {
        let local = self.local()?;
        let mut attempts = 0;
        loop {
            match local.pg_ctl_start() {
                Ok(()) => return Ok(()),
                Err(e) if attempts >= 20 => return Err(e),
                Err(_) => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
            }
        }
    }

    fn local(&self) -> Result<&Local> {
        launcher::started(&self.local, "server")
    }
}

impl Local {
    fn pg_ctl_start(&self) -> Result<()> {
        let log = self.launcher.dir().join("postgres.log");
        run(
            command_as(self.user, &self.pg_ctl)
                .args(["start", "-w", "-t", "60", "-s", "-D"])
                .arg(&self.data)
                .arg("-l")
                .arg(&log),
            "pg_ctl start",
        )
        .map_err(|e| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            Error(format!("{e}\npostgres log:\n{tail}"))
        })
    }
}

/// Where PostgreSQL binaries live besides `PATH`: Debian's versioned directories (newest first), then
/// `/usr/local/bin`.
fn candidate_bin_dirs() -> Vec<PathBuf> {
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    let mut dirs: Vec<PathBuf> = versioned.into_iter().map(|(_, dir)| dir).collect();
    dirs.push("/usr/local/bin".into());
    dirs
}

/// How much a commit survives. Neither setting survives a machine crash (`fsync` is off); both
/// survive a test killing the server, except as noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous_commit = off`: a commit returns before its WAL is written, so a killed server
    /// may lose the last few hundred milliseconds of acknowledged commits. Fast; for tests that never
    /// kill the server.
    Fast,
    /// `synchronous_commit = on`: a commit returns once its WAL is written, so an acknowledged write
    /// survives `kill -9` of the server (the fault drills rely on it).
    CrashSafe,
}

/// Test settings, appended to `postgresql.conf` (a later line wins, so rewriting the port is fine).
fn write_config(
    data: &Path,
    socket_dir: &Path,
    port: u16,
    initdb: &Path,
    durability: Durability,
) -> Result<()> {
    use std::io::Write;
    // Debian keeps extensions in <prefix>/lib next to bin/; `initdb` may be a symlink into it.
    let bin = std::fs::canonicalize(initdb)?;
    let has_pgss = bin
        .parent()
        .and_then(Path::parent)
        .is_some_and(|prefix| prefix.join("lib/pg_stat_statements.so").is_file());
    let preload = if has_pgss { "pg_stat_statements" } else { "" };
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))?;
    writeln!(
        conf,
        "\n# testkit\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
         unix_socket_directories = '{}'\nfsync = off\nfull_page_writes = off\n\
         synchronous_commit = {}\nmax_connections = 300\ntimezone = 'UTC'\n\
         shared_preload_libraries = '{preload}'\npg_stat_statements.track_utility = off\n",
        socket_dir.display(),
        match durability {
            Durability::Fast => "off",
            Durability::CrashSafe => "on",
        }
    )?;
    Ok(())
}

fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "testkit_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_names_the_package_to_install() {
        let err = find_binary(
            "initdb-that-does-not-exist",
            &candidate_bin_dirs(),
            INSTALL_HINT,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("apt-get install postgresql"), "{err}");
        assert!(err.contains("initdb-that-does-not-exist"), "{err}");
    }
}
