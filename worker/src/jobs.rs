//! Running the worker continuously on apalis: a cron job plans every minute (and once at
//! start) and wakes the dispatcher, which sends whatever is due, `mail_concurrency` at
//! a time, until nothing is left, then sleeps until the next row falls due or the next
//! plan. The `mail` queue takes mail the api wants out at once (a sign-in code), one
//! ledger row per job, and (in `huashen serve`) the `imports` queue runs bulk imports.
//!
//! The queues live in the same database as everything else (apalis-sqlite or
//! apalis-postgres). A job only names a ledger row; the sender's claim on the row is
//! what makes delivery happen at most once, so a job pushed twice, or a row the
//! dispatcher reaches first, is harmless, and a row whose job was lost in a crash is
//! sent by the dispatcher. Retries with backoff are the ledger's business; apalis
//! retries a job only when the sender itself failed (say, the database was unreachable).

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use chrono::Utc;
use sea_orm::{DatabaseConnection, DbBackend};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::{Outcome, Worker, planner, sender};

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

/// A queue of jobs `T` on whichever database Huashen uses.
pub enum Queue<T> {
    Sqlite(SqliteStorage<T>),
    Postgres(PostgresStorage<T>),
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Sqlite(storage) => Self::Sqlite(storage.clone()),
            Self::Postgres(storage) => Self::Postgres(storage.clone()),
        }
    }
}

/// The queue of mail deliveries. The api pushes to it too, for mail that must go out at
/// once rather than at the next planning run.
pub type MailQueue = Queue<SendMail>;

impl<T: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static> Queue<T> {
    /// The queue `name` in `db`, its tables created if missing.
    pub async fn open(db: &DatabaseConnection, name: &str) -> anyhow::Result<Self> {
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool().clone();
                // Only the migrations: `setup` would also relax the pool's durability pragmas.
                SqliteStorage::<()>::migrations().run(&pool).await?;
                let config = apalis_sqlite::Config::default()
                    .queue(name)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(MISSED_HEARTBEATS);
                Ok(Self::Sqlite(SqliteStorage::new(&pool).with_config(config)))
            }
            DbBackend::Postgres => {
                let pool = db.get_postgres_connection_pool().clone();
                PostgresStorage::<()>::setup(&pool).await?;
                let config = apalis_postgres::Config::default()
                    .queue(name)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(MISSED_HEARTBEATS);
                Ok(Self::Postgres(
                    PostgresStorage::new(&pool).with_config(config),
                ))
            }
            other => anyhow::bail!("no job queue for {other:?}"),
        }
    }

    /// Queues `jobs`.
    pub async fn push(&self, jobs: Vec<T>) -> anyhow::Result<()> {
        let tasks = jobs
            .into_iter()
            .map(|job| TaskBuilder::new(job).max_attempts(JOB_ATTEMPTS).build());
        match self {
            Self::Sqlite(storage) => {
                let mut storage = storage.clone();
                for task in tasks {
                    storage
                        .push_task(task)
                        .await
                        .map_err(|e| anyhow::anyhow!("queueing a job: {e}"))?;
                }
            }
            Self::Postgres(storage) => {
                let mut storage = storage.clone();
                for task in tasks {
                    storage
                        .push_task(task)
                        .await
                        .map_err(|e| anyhow::anyhow!("queueing a job: {e}"))?;
                }
            }
        }
        Ok(())
    }
}

impl MailQueue {
    /// The mail queue in `db`.
    pub async fn mail(db: &DatabaseConnection) -> anyhow::Result<Self> {
        Self::open(db, MAIL_QUEUE).await
    }

    /// Queues a delivery job for each ledger row.
    pub async fn push_mail(&self, ids: Vec<Uuid>) -> anyhow::Result<()> {
        self.push(
            ids.into_iter()
                .map(|notification_id| SendMail { notification_id })
                .collect(),
        )
        .await
    }
}

/// The job of the `imports` queue: run this import.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunImport {
    pub import_id: Uuid,
}

pub const IMPORT_QUEUE: &str = "imports";

/// Runs an import; the api provides it, since imports follow the api's rules.
pub type ImportRunner =
    Arc<dyn Fn(Uuid) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Runner {
    worker: Worker,
    /// Wakes the dispatcher.
    wake: Arc<Notify>,
}

async fn on_run_import(job: RunImport, runner: Data<ImportRunner>) -> Result<(), BoxDynError> {
    runner(job.import_id).await.map_err(Into::into)
}

/// Plans what is due now and wakes the dispatcher to send it.
async fn plan_and_dispatch(runner: &Runner) -> anyhow::Result<()> {
    let now = Utc::now();
    let worker = &runner.worker;
    let wake = Some(&*runner.wake);
    let planned = planner::plan_waking(&worker.db, worker.plan_settings(), now, wake).await?;
    if planned > 0 {
        tracing::info!(planned, "planned mail");
    }
    runner.wake.notify_one();
    crate::webhooks::deliver_due(&runner.worker, now).await?;
    crate::housekeeping::prune(&runner.worker.db, now).await?;
    Ok(())
}

/// Longest the dispatcher sleeps without being woken: a row can fall due without a
/// plan (a retry's pause ends), and another worker may have died holding rows.
const DISPATCH_IDLE: Duration = Duration::from_secs(60);

/// Sends what is due until `stop` turns true; woken by `wake`, by the next row falling
/// due, or after `DISPATCH_IDLE`.
async fn dispatch_loop(worker: Worker, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        let stopping = || *stop.borrow();
        let nap = match sender::dispatch(&worker, Utc::now, stopping).await {
            Ok(outcomes) => {
                if !outcomes.is_empty() {
                    let sent = outcomes.iter().filter(|o| **o == Outcome::Sent).count();
                    tracing::info!(sent, handled = outcomes.len(), "dispatched mail");
                }
                match sender::next_due(&worker.db, Utc::now()).await {
                    Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or_default(),
                    Ok(None) => DISPATCH_IDLE,
                    Err(err) => {
                        tracing::warn!(error = %err, "looking for the next mail failed");
                        POLL
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "dispatching mail failed");
                POLL
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(nap.min(DISPATCH_IDLE)) => {}
            // Nobody left to say stop: the worker is gone.
            changed = stop.changed() => if changed.is_err() { return },
        }
        if *stop.borrow() {
            return;
        }
    }
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

/// A worker on `$storage` running `$job` with `$data`, `$concurrency` at a time.
macro_rules! queue_worker {
    ($name:expr, $storage:expr, $data:expr, $job:expr, $concurrency:expr) => {{
        let storage = $storage.clone();
        let data = $data.clone();
        let name = $name.clone();
        move |_restarts: usize| {
            WorkerBuilder::new(name.as_str())
                .backend(storage.clone().poll_with_interval(POLL))
                .catch_panic()
                .concurrency($concurrency)
                .data(data.clone())
                .build($job)
        }
    }};
}

/// Runs only the `imports` queue until `shutdown` completes: for api processes that send
/// no mail (`huashen serve --no-worker`), so imports run wherever the api runs.
pub async fn run_imports(
    db: &DatabaseConnection,
    import: ImportRunner,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let queue = Queue::<RunImport>::open(db, IMPORT_QUEUE).await?;
    let name = format!("huashen-import-{}", Uuid::now_v7().simple());
    let monitor = match &queue {
        Queue::Sqlite(storage) => {
            Monitor::new().register(queue_worker!(name, storage, import, on_run_import, 1))
        }
        Queue::Postgres(storage) => {
            Monitor::new().register(queue_worker!(name, storage, import, on_run_import, 1))
        }
    };
    monitor
        .shutdown_timeout(Duration::from_secs(30))
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await?;
    Ok(())
}

/// Runs the planner on `schedule` (a six-field cron expression, seconds first) and the
/// mail queue until `shutdown` completes; jobs in flight are finished first. With
/// `imports`, this process also runs the `imports` queue.
pub async fn run(
    worker: Worker,
    schedule: &str,
    imports: Option<ImportRunner>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let schedule = cron::Schedule::from_str(schedule)
        .map_err(|e| anyhow::anyhow!("plan schedule `{schedule}`: {e}"))?;
    let queue = MailQueue::mail(&worker.db).await?;
    let concurrency = worker.settings.mail_concurrency.max(1);
    let runner = Runner {
        wake: Arc::new(Notify::new()),
        worker,
    };
    let imports = match imports {
        Some(import) => Some((
            Queue::<RunImport>::open(&runner.worker.db, IMPORT_QUEUE).await?,
            import,
        )),
        None => None,
    };
    let (stop, stopping) = watch::channel(false);
    let stop = Arc::new(stop);
    // Started first, so that a long first plan is sent page by page as it is written.
    let dispatcher = tokio::spawn(dispatch_loop(
        runner.worker.clone(),
        runner.wake.clone(),
        stopping,
    ));
    if let Err(err) = plan_and_dispatch(&runner).await {
        let _ = stop.send(true);
        dispatcher.await?;
        return Err(err);
    }
    // Names must be unique among live workers on one database.
    let instance = Uuid::now_v7().simple().to_string();
    let mail_name = format!("huashen-mail-{instance}");
    let plan_name = format!("huashen-plan-{instance}");
    let import_name = format!("huashen-import-{instance}");

    let monitor = match &queue {
        Queue::Sqlite(storage) => Monitor::new().register(queue_worker!(
            mail_name,
            storage,
            runner,
            on_send_mail,
            concurrency
        )),
        Queue::Postgres(storage) => Monitor::new().register(queue_worker!(
            mail_name,
            storage,
            runner,
            on_send_mail,
            concurrency
        )),
    };
    // One import at a time per process: each is a long stream of writes.
    let monitor = match &imports {
        Some((Queue::Sqlite(storage), import)) => monitor.register(queue_worker!(
            import_name,
            storage,
            import,
            on_run_import,
            1
        )),
        Some((Queue::Postgres(storage), import)) => monitor.register(queue_worker!(
            import_name,
            storage,
            import,
            on_run_import,
            1
        )),
        None => monitor,
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
    let signal = stop.clone();
    let ran = monitor
        .run_with_signal(async move {
            shutdown.await;
            let _ = signal.send(true);
            Ok(())
        })
        .await;
    // The dispatcher finishes the mails it has begun.
    let _ = stop.send(true);
    dispatcher.await?;
    ran?;
    Ok(())
}
