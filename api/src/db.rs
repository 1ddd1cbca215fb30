//! Write transactions: how every change that must not race begins, and what it does
//! when the database is contended.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use migration::database::{
    CHECK_IF_IDLE_FOR, DEFAULT_DATABASE_URL, connect, connect_and_migrate, redact,
};

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so a read-then-write cannot be invalidated by another writer,
/// after waiting its turn among this process's writers.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    let turn = match db.get_database_backend() {
        DbBackend::Sqlite => write_turn(db).await,
        _ => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTxn { txn, _turn: turn })
}

/// How long a writer waits for its turn before it asks SQLite for the lock anyway (and
/// SQLite's own busy timeout takes over).
const TURN_WAIT: Duration = Duration::from_secs(30);

/// This process's turn to write to the SQLite file behind `db`. SQLite lets one writer
/// in at a time and has the others poll, sleeping longer each time, so under load some
/// wait far longer than their place in line; waiting here instead serves them in order.
async fn write_turn(db: &DatabaseConnection) -> Option<OwnedSemaphorePermit> {
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

/// A transaction begun by `begin_write`: use it as any transaction; on SQLite it holds
/// this process's turn to write until it is committed, rolled back or dropped.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedSemaphorePermit>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
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
