//! Opening the database, SQLite or PostgreSQL, and starting write transactions.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// The embedded default: one SQLite file beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/huashen.db";

/// Opens `url` and brings the schema up to date.
///
/// SQLite files are created if missing and opened in WAL mode with foreign keys on and
/// a busy timeout, so concurrent writers wait their turn instead of failing.
pub async fn connect_and_migrate(url: &str) -> anyhow::Result<DatabaseConnection> {
    let db = connect(url).await?;
    Migrator::up(&db, None)
        .await
        .context("running migrations")?;
    Ok(db)
}

pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        create_parent_dir(url)?;
        options.max_connections(8).map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
        });
    } else {
        options.max_connections(16);
    }
    Database::connect(options)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so a read-then-write cannot be invalidated by another writer.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Runs a write transaction again, up to three times, when the database reports
/// contention; other outcomes are returned as they are.
pub async fn retry_contended<T, F, Fut>(mut attempt: F) -> Result<T, crate::error::ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::error::ApiError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(crate::error::ApiError::Busy) if tries < 3 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20 * tries)).await;
            }
            outcome => return outcome,
        }
    }
}

fn create_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
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
