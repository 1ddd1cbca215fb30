//! Opening Huashen's database, SQLite or PostgreSQL, at the current schema.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use anyhow::Context;
use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm_migration::sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Migrator;

/// The embedded default: one SQLite file beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/huashen.db";

/// Opens `url` and brings the schema up to date.
pub async fn connect_and_migrate(url: &str) -> anyhow::Result<DatabaseConnection> {
    let migrating = connect_for_migrations(url).await?;
    Migrator::up(&migrating, None)
        .await
        .context("running migrations")?;
    migrating
        .close()
        .await
        .context("closing the migrations' connection")?;
    connect(url).await
}

/// Opens `url` over a single connection, for changing the schema.
///
/// SQLite checks that a table, index or column does not exist yet against the schema
/// the connection read last, and a pooled connection that sat idle while another one
/// changed the schema has not read it again: it refuses a valid `CREATE INDEX` with
/// "index … already exists" just after the index was dropped. One connection always
/// knows its own changes.
pub async fn connect_for_migrations(url: &str) -> anyhow::Result<DatabaseConnection> {
    open(url, 1).await
}

/// How long a pooled connection may sit unused before it is checked on being taken.
pub const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Opens `url` as it is, without migrating.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let connections = if is_sqlite(url) { 8 } else { 16 };
    open(url, connections).await
}

/// Opens a pool of `connections` to `url`. SQLite files are created if missing and
/// opened in WAL mode with foreign keys on and a busy timeout, so concurrent writers
/// wait their turn instead of failing.
async fn open(url: &str, connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings every connection as it goes back to the pool; pinging it again when
        // it is taken out a moment later costs each request a round trip and tells
        // nothing new. Only a connection idle long enough for the server or a firewall
        // to have dropped it is pinged first.
        .test_before_acquire_if_idle_for(CHECK_IF_IDLE_FOR);
    if is_sqlite(url) {
        create_parent_dir(url)?;
        options.map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
        });
    }
    Database::connect(options)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))
}

/// How long a writer waits for its turn before it asks SQLite for the lock anyway (and
/// SQLite's own busy timeout takes over).
const TURN_WAIT: Duration = Duration::from_secs(30);

/// This process's turn to write to the SQLite file behind `db`; `None` on PostgreSQL,
/// which has no such turn. SQLite lets one writer in at a time and has the others poll,
/// sleeping 1, 2, 5, 10… ms, so under load some wait far longer than their place in line;
/// waiting here instead serves them in order. The API's write transactions take it, and
/// so do the mail worker's ledger writes (`huashen_worker::ledger_db`, the planner's
/// pages).
pub async fn write_turn(db: &DatabaseConnection) -> Option<OwnedSemaphorePermit> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    static TURNS: LazyLock<Mutex<HashMap<PathBuf, Arc<Semaphore>>>> =
        LazyLock::new(Default::default);
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    let turns = {
        let mut turns = TURNS.lock().ok()?;
        // Looked up by reference: a write should not allocate a path.
        match turns.get(file) {
            Some(turn) => turn.clone(),
            None => turns
                .entry(file.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(1)))
                .clone(),
        }
    };
    tokio::time::timeout(TURN_WAIT, turns.acquire_owned())
        .await
        .ok()?
        .ok()
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// The file of a SQLite `url`; `None` for other databases and in-memory ones.
pub fn sqlite_path(url: &str) -> Option<&std::path::Path> {
    let path = url
        .strip_prefix("sqlite:")?
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(std::path::Path::new(path))
}

fn create_parent_dir(url: &str) -> anyhow::Result<()> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

/// The URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
