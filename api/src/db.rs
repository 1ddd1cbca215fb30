//! Write transactions: how every change that must not race begins, and what it does
//! when the database is contended.

use std::time::Duration;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

pub use migration::database::{DEFAULT_DATABASE_URL, connect, connect_and_migrate, redact};

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
