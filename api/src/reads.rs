//! Where the lists are read: on PostgreSQL through connections of their own.
//!
//! sqlx's pool sends every connection a `Sync` as it goes back to the pool and waits
//! for PostgreSQL's answer, in case a cancelled query left part of a reply unread: for a
//! page, one statement, that is a second round trip and a task of its own; without it
//! the list answers about a sixth more requests (BENCHMARKS.md). Here a connection goes
//! back only when its statement was read to the end, and is closed otherwise, so it
//! needs no such check. On SQLite, whose connections are in-process, the pool reads.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr,
    Statement, Values,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::db::CHECK_IF_IDLE_FOR;

/// Connections for lists, beside the pool's. Two CPUs' worth of PostgreSQL is kept busy
/// by far fewer than the requests in flight; 8 measured as well as 16.
const LANES: usize = 8;

#[derive(Clone)]
pub struct Reads {
    db: DatabaseConnection,
    lanes: Option<Arc<Lanes>>,
}

impl Reads {
    /// Lists read on `db`; on PostgreSQL, connections opened, waited for, checked and
    /// retired as the pool's own are.
    pub fn new(db: &DatabaseConnection) -> Self {
        let max_lifetime = match db.get_database_backend() {
            DbBackend::Postgres => db
                .get_postgres_connection_pool()
                .options()
                .get_max_lifetime(),
            _ => None,
        };
        Self::with_lifetime(db, max_lifetime)
    }

    fn with_lifetime(db: &DatabaseConnection, max_lifetime: Option<Duration>) -> Self {
        let lanes = (db.get_database_backend() == DbBackend::Postgres).then(|| {
            let pool = db.get_postgres_connection_pool();
            Arc::new(Lanes {
                options: (*pool.connect_options()).clone(),
                idle: Mutex::default(),
                free: Semaphore::new(LANES),
                wait: pool.options().get_acquire_timeout(),
                max_lifetime,
            })
        });
        Self {
            db: db.clone(),
            lanes,
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The rows of one `SELECT`. A read is safe to repeat, so one that meets a broken
    /// connection (PostgreSQL restarted, say) is tried once more on a new one.
    pub async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let Some(lanes) = &self.lanes else {
            return self.db.query_all_raw(stmt).await;
        };
        let mut lane = lanes.take().await?;
        let rows = match lane.fetch_all(&stmt).await {
            Err(err) if lane.reused && crate::error::is_unavailable(&err) => {
                // Whatever broke this connection has likely broken the idle ones too.
                lanes.forget_idle();
                lane.reconnect(&lanes.options).await?;
                lane.fetch_all(&stmt).await?
            }
            rows => rows?,
        };
        lane.give_back();
        Ok(rows.into_iter().map(QueryResult::from).collect())
    }
}

struct Lanes {
    options: PgConnectOptions,
    idle: Mutex<Vec<Idle>>,
    free: Semaphore,
    /// How long a request waits for a connection.
    wait: Duration,
    /// A connection this old is closed after its statement rather than kept: a
    /// long-lived backend's memory grows, and after a failover a new connection may find
    /// a better server.
    max_lifetime: Option<Duration>,
}

impl Lanes {
    /// A connection to use: an idle one (pinged first if idle long), or a new one.
    async fn take(&self) -> Result<Lane<'_>, DbErr> {
        let permit = tokio::time::timeout(self.wait, self.free.acquire())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        let idle = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
        let reused = match idle {
            // As the pool's: the server or a firewall may have dropped a connection idle long.
            Some(idle) if idle.since.elapsed() < CHECK_IF_IDLE_FOR => Some(idle),
            Some(mut idle) => idle.connection.ping().await.is_ok().then_some(idle),
            None => None,
        };
        let mut lane = Lane {
            connection: None,
            opened: Instant::now(),
            reused: reused.is_some(),
            lanes: self,
            _permit: permit,
        };
        match reused {
            Some(idle) => (lane.connection, lane.opened) = (Some(idle.connection), idle.opened),
            None => lane.reconnect(&self.options).await?,
        }
        Ok(lane)
    }

    fn forget_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// A connection waiting for the next request.
struct Idle {
    connection: PgConnection,
    opened: Instant,
    since: Instant,
}

/// A connection in use. Dropped without `give_back` (an error, or a request that went
/// away mid-statement), it is closed rather than returned.
struct Lane<'a> {
    connection: Option<PgConnection>,
    opened: Instant,
    /// Taken from the idle ones rather than opened for this request.
    reused: bool,
    lanes: &'a Lanes,
    _permit: SemaphorePermit<'a>,
}

impl Lane<'_> {
    async fn fetch_all(&mut self, stmt: &Statement) -> Result<Vec<sqlx::postgres::PgRow>, DbErr> {
        let connection = self
            .connection
            .as_mut()
            .ok_or(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        let values = SqlxValues(stmt.values.clone().unwrap_or(Values(Vec::new())));
        sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values)
            .fetch_all(connection)
            .await
            .map_err(|err| DbErr::Query(RuntimeErr::SqlxError(Arc::new(err))))
    }

    async fn reconnect(&mut self, options: &PgConnectOptions) -> Result<(), DbErr> {
        self.connection = None;
        self.reused = false;
        let connection = options
            .connect()
            .await
            .map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(err))))?;
        (self.connection, self.opened) = (Some(connection), Instant::now());
        Ok(())
    }

    /// Returns the connection, its statement read to the end, for the next request
    /// (unless it has served its time).
    fn give_back(mut self) {
        if self
            .lanes
            .max_lifetime
            .is_some_and(|lifetime| self.opened.elapsed() >= lifetime)
        {
            return;
        }
        if let (Some(connection), Ok(mut idle)) = (self.connection.take(), self.lanes.idle.lock()) {
            idle.push(Idle {
                connection,
                opened: self.opened,
                since: Instant::now(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use huashen_tests::{Backend, TestDatabase};

    async fn backend_pid(reads: &Reads) -> i32 {
        let sql = "SELECT pg_backend_pid()";
        let rows = reads
            .query_all(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap();
        rows[0].try_get_by_index(0).unwrap()
    }

    #[tokio::test]
    async fn connections_are_kept_until_they_have_served_their_time() {
        let database = TestDatabase::create(Backend::Postgres).await;
        let db = crate::db::connect(&database.url).await.unwrap();
        let kept = Reads::new(&db);
        let first = backend_pid(&kept).await;
        assert_eq!(backend_pid(&kept).await, first);
        let retired = Reads::with_lifetime(&db, Some(Duration::ZERO));
        let first = backend_pid(&retired).await;
        assert_ne!(backend_pid(&retired).await, first);
        db.close().await.unwrap();
    }
}
