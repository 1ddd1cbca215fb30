//! How the ledger's statements reach the database: on PostgreSQL planned for their own
//! values every time, on SQLite in this process's turn to write.
//!
//! PostgreSQL plans a prepared statement afresh for its first five runs on a connection
//! and may then keep one generic plan for the connection's life. The ledger can grow
//! from a handful of rows to thousands within one dispatch (a notice to everyone), and
//! a plan kept from when it was small reads the whole table for every claim or mark:
//! 5.8 ms a claim of 32 rows on one connection against 0.9–1.6 ms on the others, in a
//! run of 10,000 mails. Statements sent through `LedgerDb` are not kept, so each is
//! planned against the table as it is.
//!
//! SQLite lets one writer in at a time and has the others sleep and try again (1 ms, then
//! 2, 5…): the sender's claims and marks and the planner's pages met and slept about 600
//! times in 10,000 mails. On SQLite each statement waits for the process's turn to write
//! instead (`write_turn`, shared with the API's writes), reads too: they are one in a few
//! hundred of the ledger's statements.

use std::sync::Arc;

use migration::database::write_turn;
use sea_orm::sqlx::{self, Postgres, query::Query};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult,
    RuntimeErr, Statement, Values,
};
use sea_query_sqlx::SqlxValues;

pub struct LedgerDb<'a>(pub &'a DatabaseConnection);

impl LedgerDb<'_> {
    /// Where statements PostgreSQL does not keep are sent, if the database is PostgreSQL.
    fn postgres(&self) -> Option<&sqlx::PgPool> {
        (self.0.get_database_backend() == DbBackend::Postgres)
            .then(|| self.0.get_postgres_connection_pool())
    }
}

/// `stmt` as a statement PostgreSQL plans for its values and does not keep.
fn unkept(stmt: &Statement) -> Query<'_, Postgres, SqlxValues> {
    let values = SqlxValues(stmt.values.clone().unwrap_or(Values(Vec::new())));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values).persistent(false)
}

/// `err` as sea-orm reports it: no connection, or `failed` for the statement's own.
fn reported(err: sqlx::Error, failed: fn(RuntimeErr) -> DbErr) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        err => failed(RuntimeErr::SqlxError(Arc::new(err))),
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for LedgerDb<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let Some(pool) = self.postgres() else {
            let _turn = write_turn(self.0).await;
            return self.0.execute_raw(stmt).await;
        };
        let done = unkept(&stmt).execute(pool).await;
        done.map(ExecResult::from)
            .map_err(|err| reported(err, DbErr::Exec))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        if self.postgres().is_none() {
            let _turn = write_turn(self.0).await;
            return self.0.query_one_raw(stmt).await;
        }
        Ok(self.query_all_raw(stmt).await?.into_iter().next())
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let Some(pool) = self.postgres() else {
            let _turn = write_turn(self.0).await;
            return self.0.query_all_raw(stmt).await;
        };
        let rows = unkept(&stmt).fetch_all(pool).await;
        rows.map(|rows| rows.into_iter().map(QueryResult::from).collect())
            .map_err(|err| reported(err, DbErr::Query))
    }
}
