//! Running the worker continuously on apalis: a cron job plans and dispatches every
//! minute (and once at start), and the `mail` queue delivers one ledger row per job.
//!
//! The queue lives in the same database as everything else (apalis-sqlite or
//! apalis-postgres). A job only names a ledger row; the sender's claim on the row is
//! what makes delivery happen at most once, so a job pushed twice is harmless, and a
//! row whose job was lost in a crash is dispatched again by the next planning run.
//! Retries with backoff are the ledger's business; apalis retries a job only when
//! the sender itself failed (say, the database was unreachable).

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use chrono::Utc;
use sea_orm::{DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Worker, planner, sender};

/// The job of the `mail` queue: deliver this ledger row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendMail {
    pub notification_id: Uuid,
}

pub const MAIL_QUEUE: &str = "mail";
/// Attempts apalis makes at a job whose sender failed outright.
const JOB_ATTEMPTS: usize = 3;
/// How often an idle mail worker looks for new jobs.
const POLL: Duration = Duration::from_secs(1);
/// How often a mail worker reports alive. Seen once: an idle worker that fetched
/// nothing more until its next heartbeat (apalis 1.0's default is 30 s), so a sign-in
/// code waited that long; a short heartbeat bounds such a wait.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// Heartbeats missed before a worker's jobs count as orphaned: 30 s, as with the
/// defaults. A job taken over twice is harmless (the sender claims the ledger row).
const MISSED_HEARTBEATS: usize = 10;

/// The `mail` queue on whichever database Huashen uses. The api pushes to it too, for
/// mail that must go out at once rather than at the next planning run.
#[derive(Clone)]
pub enum MailQueue {
    Sqlite(SqliteStorage<SendMail>),
    Postgres(PostgresStorage<SendMail>),
}

impl MailQueue {
    /// The queue in `db`, its tables created if missing.
    pub async fn open(db: &DatabaseConnection) -> anyhow::Result<Self> {
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool().clone();
                // Only the migrations: `setup` would also relax the pool's durability pragmas.
                SqliteStorage::<()>::migrations().run(&pool).await?;
                let config = apalis_sqlite::Config::default()
                    .queue(MAIL_QUEUE)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(MISSED_HEARTBEATS);
                Ok(Self::Sqlite(SqliteStorage::new(&pool).with_config(config)))
            }
            DbBackend::Postgres => {
                let pool = db.get_postgres_connection_pool().clone();
                PostgresStorage::<()>::setup(&pool).await?;
                let config = apalis_postgres::Config::default()
                    .queue(MAIL_QUEUE)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(MISSED_HEARTBEATS);
                Ok(Self::Postgres(
                    PostgresStorage::new(&pool).with_config(config),
                ))
            }
            other => anyhow::bail!("no job queue for {other:?}"),
        }
    }

    /// Queues a delivery job for each ledger row.
    pub async fn push(&self, ids: Vec<Uuid>) -> anyhow::Result<()> {
        let tasks = ids.into_iter().map(|notification_id| {
            TaskBuilder::new(SendMail { notification_id })
                .max_attempts(JOB_ATTEMPTS)
                .build()
        });
        match self {
            Self::Sqlite(storage) => {
                let mut storage = storage.clone();
                for task in tasks {
                    storage
                        .push_task(task)
                        .await
                        .map_err(|e| anyhow::anyhow!("queueing mail: {e}"))?;
                }
            }
            Self::Postgres(storage) => {
                let mut storage = storage.clone();
                for task in tasks {
                    storage
                        .push_task(task)
                        .await
                        .map_err(|e| anyhow::anyhow!("queueing mail: {e}"))?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Runner {
    worker: Worker,
    queue: MailQueue,
}

/// Plans what is due now and queues a job for every row ready to send.
async fn plan_and_dispatch(runner: &Runner) -> anyhow::Result<()> {
    let now = Utc::now();
    let planned = planner::plan(&runner.worker.db, runner.worker.plan_settings(), now).await?;
    let due = sender::due_ids(&runner.worker.db, now, 1000).await?;
    if planned > 0 || !due.is_empty() {
        tracing::info!(planned, queued = due.len(), "planned and queued mail");
    }
    runner.queue.push(due).await?;
    crate::webhooks::deliver_due(&runner.worker, now).await?;
    crate::housekeeping::prune(&runner.worker.db, now).await?;
    Ok(())
}

async fn on_tick(_tick: Tick, runner: Data<Runner>) -> Result<(), BoxDynError> {
    plan_and_dispatch(&runner).await.map_err(Into::into)
}

async fn on_send_mail(job: SendMail, runner: Data<Runner>) -> Result<(), BoxDynError> {
    let outcome =
        sender::send_notification(&runner.worker, job.notification_id, Utc::now()).await?;
    tracing::debug!(id = %job.notification_id, ?outcome, "mail job done");
    Ok(())
}

/// Runs the planner on `schedule` (a six-field cron expression, seconds first) and the
/// mail queue until `shutdown` completes; jobs in flight are finished first.
pub async fn run(
    worker: Worker,
    schedule: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let schedule = cron::Schedule::from_str(schedule)
        .map_err(|e| anyhow::anyhow!("plan schedule `{schedule}`: {e}"))?;
    let runner = Runner {
        queue: MailQueue::open(&worker.db).await?,
        worker,
    };
    plan_and_dispatch(&runner).await?;
    // Names must be unique among live workers on one database.
    let instance = Uuid::now_v7().simple().to_string();
    let mail_name = format!("huashen-mail-{instance}");
    let plan_name = format!("huashen-plan-{instance}");

    macro_rules! mail_worker {
        ($storage:expr) => {{
            let storage = $storage.clone();
            let runner = runner.clone();
            let name = mail_name.clone();
            move |_restarts: usize| {
                WorkerBuilder::new(name.as_str())
                    .backend(storage.clone().poll_with_interval(POLL))
                    .catch_panic()
                    .concurrency(4)
                    .data(runner.clone())
                    .build(on_send_mail)
            }
        }};
    }
    let monitor = match &runner.queue {
        MailQueue::Sqlite(storage) => Monitor::new().register(mail_worker!(storage)),
        MailQueue::Postgres(storage) => Monitor::new().register(mail_worker!(storage)),
    };
    let monitor = monitor
        .register({
            let runner = runner.clone();
            move |_restarts: usize| {
                WorkerBuilder::new(plan_name.as_str())
                    .backend(CronScheduler::new(schedule.clone()))
                    .catch_panic()
                    .data(runner.clone())
                    .build(on_tick)
            }
        })
        .should_restart(|context, error| {
            tracing::warn!(worker = context.name(), %error, restarts = context.restarts(), "worker stopped; restarting");
            true
        })
        .shutdown_timeout(Duration::from_secs(30));
    monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await?;
    Ok(())
}
