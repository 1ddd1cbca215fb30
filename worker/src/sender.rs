//! The sender: delivers one ledger row, at most once per dedupe key.
//!
//! A sender first claims the row with one conditional `UPDATE` (status `queued`, due,
//! and not held by another sender), holding it for a short lease that it renews while
//! it works. Two workers on one database therefore never send the same row, and a row
//! held by a process that died is free again one lease later. The sender then checks
//! the mail is still wanted, renders it in the reader's language and sends it.
//!
//! The one window where a mail can go out twice: the SMTP server accepted it and the
//! process died before the row was marked `sent`. The lease then expires and the row
//! is sent again. The window is as short as one `UPDATE` after the server's answer.

use chrono::{DateTime, Duration, Utc};
use entities::enums::{
    EventStatus, NoticeState, NotificationStatus, PersonStatus, RegistrationStatus, ShiftStatus,
    SignupStatus, SubjectType,
};
use entities::json::LocalizedText;
use entities::{
    care_plan, community, email_challenge, event, event_registration, feedback, notice,
    notification, person, shift, shift_signup, station, survey, survey_invitation,
};
use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{StreamExt as _, TryStreamExt as _, future, stream};
use lettre::message::Mailbox;
use minijinja::Value;
use sea_orm::sea_query::{Expr, ExprTrait as _, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use tokio::sync::{AcquireError, Notify, Semaphore, SemaphorePermit};
use uuid::Uuid;

use crate::format::{date, date_time, time, zone};
use crate::kinds::{MailKind, grace};
use crate::ledger_db::LedgerDb;
use crate::locale::pick;
use crate::mailer::SendError;
use crate::{Worker, digest};

/// What became of one attempt at a ledger row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Will be tried again after a pause.
    Retrying(String),
    Failed(String),
    Skipped(String),
    Missed(String),
    /// Not due, already done, or held by another sender.
    NotClaimed,
}

/// What the sender decided about a claimed row.
enum Decision {
    Send { to: Mailbox, context: Value },
    Skip(String),
    Miss(String),
}

/// A row a sender may take at `now`: queued and `due_and_free`.
fn ready(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(notification::Column::Status.eq(NotificationStatus::Queued))
        .add(due_and_free(now))
}

/// A row due at `now` and not held by another sender.
fn due_and_free(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(notification::Column::DueAt.lte(now))
        .add(
            Condition::any()
                .add(notification::Column::LockedUntil.is_null())
                .add(notification::Column::LockedUntil.lte(now)),
        )
}

/// Rows the sender should work on now.
pub async fn due_ids(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Uuid>, DbErr> {
    notification::Entity::find()
        .select_only()
        .column(notification::Column::Id)
        .filter(ready(now))
        .order_by_asc(notification::Column::DueAt)
        .limit(limit)
        .into_tuple()
        .all(&LedgerDb(db))
        .await
}

/// Rows `dispatch` looks up at a time. While mail goes out, a look-up costs PostgreSQL
/// about as much for 256 rows as for 2,048 (3.2 and 3.6 ms, BENCHMARKS.md): a large page
/// makes them rare. Sign-in codes wait for no page: a job of their own sends each.
const DISPATCH_PAGE: u64 = 2048;

/// Mails a sender may have sent and not yet marked, per mail it may send at once.
pub const UNMARKED_PER_SEND: usize = 2;

/// Rows `dispatch` claims and works on at once, per mail it may send at once: while some
/// are being sent, the others are being read or recorded, so sending does not wait for
/// the ledger's round trips.
const IN_FLIGHT_PER_SEND: usize = 4;

/// Where `dispatch` is in the rows due.
#[derive(Default)]
struct Pages {
    /// Rows of the current page not yet claimed, the next one last.
    left: Vec<Uuid>,
    /// Whether a page was read, and whether this sender got any row of it.
    read: bool,
    got_any: bool,
}

/// Sends every row that is due, `mail_concurrency` at a time, page after page until no
/// row is left that this worker can claim or `stopping()` says so; `now()` is the time
/// rows are claimed at. Returns what became of the rows it claimed.
///
/// Rows are claimed a few times `mail_concurrency` at a time and their readers read
/// together; outcomes that finish while one is being written go into the ledger
/// together.
pub async fn dispatch(
    worker: &Worker,
    now: impl Fn() -> DateTime<Utc> + Sync,
    stopping: impl Fn() -> bool + Sync,
) -> anyhow::Result<Vec<Outcome>> {
    let concurrency = worker.settings.mail_concurrency.max(1);
    let in_flight = concurrency * IN_FLIGHT_PER_SEND;
    let sending = Arc::new(Sending {
        worker: worker.clone(),
        recorder: Recorder::new(worker.settings.lease),
        slots: Slots::new(concurrency),
    });
    let (now, stopping) = (&now, &stopping);
    let claimed = stream::try_unfold(Pages::default(), move |mut pages| async move {
        let db = &worker.db;
        loop {
            if stopping() {
                return Ok(None);
            }
            if pages.left.is_empty() {
                // Every row of the last page was taken by another sender: leave the
                // rest to it.
                if pages.read && !pages.got_any {
                    return Ok(None);
                }
                pages.left = due_ids(db, now(), DISPATCH_PAGE).await?;
                pages.left.reverse();
                (pages.read, pages.got_any) = (true, false);
                if pages.left.is_empty() {
                    return Ok(None);
                }
            }
            let ids = pages
                .left
                .split_off(pages.left.len().saturating_sub(in_flight));
            let at = now();
            let rows = claim(db, ids, at, worker.settings.lease).await?;
            if rows.is_empty() {
                continue;
            }
            pages.got_any = true;
            let batch = Arc::new(Batch::read(db, &rows).await?);
            let since = std::time::Instant::now();
            let claimed: Vec<anyhow::Result<Claimed>> = rows
                .into_iter()
                .map(|row| {
                    let batch = batch.clone();
                    Ok(Claimed {
                        row,
                        batch,
                        at,
                        since,
                    })
                })
                .collect();
            return anyhow::Ok(Some((stream::iter(claimed), pages)));
        }
    })
    // Boxed: the compiler cannot otherwise see that the spawned dispatcher is `Send`.
    .boxed();
    claimed
        .try_flatten()
        .map_ok(|claimed| sending.clone().spawn(claimed))
        .try_buffer_unordered(in_flight)
        .try_filter(|outcome| future::ready(*outcome != Outcome::NotClaimed))
        .try_collect()
        .await
}

/// When the next queued row falls due or is free again after `now`, if any is waiting.
pub async fn next_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let queued = || {
        notification::Entity::find()
            .filter(notification::Column::Status.eq(NotificationStatus::Queued))
    };
    let due: Option<DateTime<Utc>> = queued()
        .select_only()
        .column_as(notification::Column::DueAt.min(), "at")
        .filter(notification::Column::DueAt.gt(now))
        .into_tuple()
        .one(&LedgerDb(db))
        .await?
        .flatten();
    let freed: Option<DateTime<Utc>> = queued()
        .select_only()
        .column_as(notification::Column::LockedUntil.min(), "at")
        .filter(notification::Column::LockedUntil.gt(now))
        .into_tuple()
        .one(&LedgerDb(db))
        .await?
        .flatten();
    Ok(due.into_iter().chain(freed).min())
}

/// Takes the rows `ids` for `lease` if they are queued, due and free, counts the
/// attempt, and returns those taken as they now stand.
pub async fn claim(
    db: &DatabaseConnection,
    ids: Vec<Uuid>,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Vec<notification::Model>, DbErr> {
    claiming(ids, now, lease)
        .exec_with_returning(&LedgerDb(db))
        .await
}

/// The `UPDATE` of `claim`: rows that are still `ready`, their status compared as
/// `still_queued` does.
pub fn claiming(
    ids: Vec<Uuid>,
    now: DateTime<Utc>,
    lease: Duration,
) -> sea_orm::UpdateMany<notification::Entity> {
    use notification::Column;
    notification::Entity::update_many()
        .col_expr(Column::LockedUntil, Expr::value(now + lease))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.is_in(ids))
        .filter(still_queued())
        .filter(due_and_free(now))
}

/// For rows named by id: queued, compared through an expression no index covers. The
/// primary key is always the cheapest way to find a handful of rows, but with
/// statistics from when few rows were queued (or none at all, on SQLite) both databases
/// would look them up by status instead, walking every queued row: N² steps for N mails.
fn still_queued() -> sea_orm::sea_query::SimpleExpr {
    let status = Func::coalesce([Expr::col(notification::Column::Status), Expr::value("")]);
    Expr::expr(status).eq(NotificationStatus::Queued.as_str())
}

/// Holds `row` for another `lease` from `now` if it is still held as claimed: `false`
/// when its hold ran out and another sender took it meanwhile.
pub async fn retake(
    db: &DatabaseConnection,
    row: &notification::Model,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, DbErr> {
    let held = notification::Entity::update_many()
        .col_expr(notification::Column::LockedUntil, Expr::value(now + lease))
        .filter(notification::Column::Id.eq(row.id))
        .filter(still_queued())
        .filter(notification::Column::LockedUntil.eq(row.locked_until))
        .exec(&LedgerDb(db))
        .await?;
    Ok(held.rows_affected == 1)
}

/// Pause before attempt `attempts + 1`: 1, 2, 4, 8… minutes, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    Duration::minutes(1i64 << attempts.clamp(1, 7).saturating_sub(1)).min(Duration::hours(1))
}

/// Delivers the ledger row `id` if it is due and nobody else holds it.
pub async fn send_notification(
    worker: &Worker,
    id: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let db = &worker.db;
    let Some(row) = claim(db, vec![id], now, worker.settings.lease).await?.pop() else {
        return Ok(Outcome::NotClaimed);
    };
    let batch = Arc::new(Batch::read(db, std::slice::from_ref(&row)).await?);
    let claimed = Claimed {
        row,
        batch,
        at: now,
        since: std::time::Instant::now(),
    };
    let recorder = Recorder::new(worker.settings.lease);
    handle(worker, &recorder, &Slots::new(1), claimed).await
}

/// How many mails a sender may have on the wire at once, and how many sent but not yet
/// marked in the ledger: what a crash can repeat. The second is larger so that sending
/// goes on while outcomes are being written.
struct Slots {
    sending: Semaphore,
    unmarked: Semaphore,
    concurrency: usize,
    /// Told when a mail stops being sent or its outcome starts waiting to be written,
    /// for a ledger write waiting for more outcomes.
    moved: Notify,
}

impl Slots {
    fn new(concurrency: usize) -> Self {
        Self {
            sending: Semaphore::new(concurrency),
            unmarked: Semaphore::new(concurrency * UNMARKED_PER_SEND),
            concurrency,
            moved: Notify::new(),
        }
    }

    async fn send(&self) -> Result<SendingSlot<'_>, AcquireError> {
        Ok(SendingSlot {
            permit: Some(self.sending.acquire().await?),
            slots: self,
        })
    }

    /// Whether no mail is being sent, so no outcome is on its way.
    fn quiet(&self) -> bool {
        self.sending.available_permits() == self.concurrency
    }
}

/// A mail's place on the wire; giving it back tells the ledger writer.
struct SendingSlot<'a> {
    permit: Option<SemaphorePermit<'a>>,
    slots: &'a Slots,
}

impl Drop for SendingSlot<'_> {
    fn drop(&mut self) {
        // Given back before telling, so that whoever looks sees it free.
        drop(self.permit.take());
        self.slots.moved.notify_waiters();
    }
}

/// What the rows `dispatch` claimed are sent with, shared by the tasks sending them.
struct Sending {
    worker: Worker,
    recorder: Recorder,
    slots: Slots,
}

impl Sending {
    /// Delivers `claimed` in a task of its own, so that the runtime's threads share the
    /// work of many mails rather than one thread doing all of it.
    async fn spawn(self: Arc<Self>, claimed: Claimed) -> anyhow::Result<Outcome> {
        tokio::spawn(
            async move { handle(&self.worker, &self.recorder, &self.slots, claimed).await },
        )
        .await?
    }
}

/// A row this sender holds, with what was read for its batch.
struct Claimed {
    row: notification::Model,
    batch: Arc<Batch>,
    /// The time it was claimed at.
    at: DateTime<Utc>,
    since: std::time::Instant,
}

/// Delivers a claimed row once `slots` allow, and records the outcome.
async fn handle(
    worker: &Worker,
    recorder: &Recorder,
    slots: &Slots,
    claimed: Claimed,
) -> anyhow::Result<Outcome> {
    let Claimed {
        row,
        batch,
        at: now,
        since,
    } = claimed;
    let db = &worker.db;
    let lease = worker.settings.lease;
    let _unmarked = slots.unmarked.acquire().await?;
    let sending = slots.send().await?;
    // A row that waited long for a free sender makes sure it is still ours.
    let waited = Duration::from_std(since.elapsed()).unwrap_or_default();
    if waited >= lease / 3 && !retake(db, &row, now + waited, lease).await? {
        return Ok(Outcome::NotClaimed);
    }
    let outcome = holding(db, row.id, now, lease, deliver(worker, &row, &batch, now)).await;
    drop(sending);
    let outcome = match outcome {
        Outcome::Retrying(reason) if row.attempts >= worker.settings.max_attempts => {
            Outcome::Failed(format!("gave up after {} attempts: {reason}", row.attempts))
        }
        other => other,
    };
    recorder.record(db, slots, &row, &outcome, now).await?;
    Ok(outcome)
}

/// Runs `work` while renewing the hold on row `id` every third of `lease`, so the row
/// stays ours while the SMTP server is slow and is free soon after this process dies.
async fn holding<T>(
    db: &DatabaseConnection,
    id: Uuid,
    now: DateTime<Utc>,
    lease: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    let started = std::time::Instant::now();
    let every = (lease / 3)
        .to_std()
        .unwrap_or_default()
        .max(std::time::Duration::from_millis(100));
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = renew.tick() => {
                let until = now + Duration::from_std(started.elapsed()).unwrap_or_default() + lease;
                let renewed = notification::Entity::update_many()
                    .col_expr(notification::Column::LockedUntil, Expr::value(until))
                    .filter(notification::Column::Id.eq(id))
                    .filter(still_queued())
                    .exec(&LedgerDb(db))
                    .await;
                if let Err(err) = renewed {
                    tracing::warn!(error = %err, "renewing the hold on a mail failed");
                }
            }
        }
    }
}

/// Decides, renders and sends the mail of `row`.
async fn deliver(
    worker: &Worker,
    row: &notification::Model,
    batch: &Batch,
    now: DateTime<Utc>,
) -> Outcome {
    match decide(worker, row, batch, now).await {
        Err(err) => Outcome::Retrying(format!("preparing the mail: {err:#}")),
        Ok(Decision::Skip(reason)) => Outcome::Skipped(reason),
        Ok(Decision::Miss(reason)) => Outcome::Missed(reason),
        Ok(Decision::Send { to, context }) => {
            match worker.templates.render(row.kind, &row.locale, &context) {
                Err(err) => Outcome::Failed(format!("rendering: {err:#}")),
                Ok(mail) => match worker
                    .mailer
                    .send(&worker.settings.from, to.clone(), &mail)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(kind = row.kind.as_str(), domain = %to.email.domain(), "mail sent");
                        Outcome::Sent
                    }
                    Err(SendError::Permanent(reason)) => Outcome::Failed(reason),
                    Err(SendError::Transient(reason)) => Outcome::Retrying(reason),
                },
            }
        }
    }
}

/// Writes outcomes into the ledger and releases their rows. Outcomes that arrive while
/// a write is under way or held back wait and go into the next write together, so a
/// busy sender writes once for as many mails as it sends at once; each caller returns
/// once its own outcome is written.
struct Recorder {
    waiting: std::sync::Mutex<Vec<Written>>,
    writing: tokio::sync::Mutex<()>,
    /// How long a write waits for more outcomes at most: a tenth of the hold on a row, so
    /// that a row sent is marked long before its hold can run out, however long a slow
    /// server keeps another mail on the wire.
    patience: std::time::Duration,
}

impl Recorder {
    fn new(lease: Duration) -> Self {
        Self {
            waiting: std::sync::Mutex::default(),
            writing: tokio::sync::Mutex::default(),
            patience: (lease / 10).to_std().unwrap_or_default(),
        }
    }
}

/// An outcome waiting to be written, and whom to tell when it is.
struct Written {
    row: Uuid,
    change: Change,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// What a row's outcome changes in it; rows with equal changes are updated together.
#[derive(Clone, PartialEq)]
struct Change {
    /// The state the row moves to; a retry stays queued.
    status: Option<NotificationStatus>,
    /// Why, unless the mail was sent.
    why: Option<Why>,
    locked_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

#[derive(Clone, PartialEq)]
enum Why {
    Error(String),
    Skipped(String),
}

impl Change {
    fn of(row: &notification::Model, outcome: &Outcome, now: DateTime<Utc>) -> Option<Self> {
        let (status, why) = match outcome {
            Outcome::Sent => (Some(NotificationStatus::Sent), None),
            Outcome::Retrying(reason) => (None, Some(Why::Error(reason.clone()))),
            Outcome::Failed(reason) => (
                Some(NotificationStatus::Failed),
                Some(Why::Error(reason.clone())),
            ),
            Outcome::Skipped(reason) => (
                Some(NotificationStatus::Skipped),
                Some(Why::Skipped(reason.clone())),
            ),
            Outcome::Missed(reason) => (
                Some(NotificationStatus::Missed),
                Some(Why::Skipped(reason.clone())),
            ),
            Outcome::NotClaimed => return None,
        };
        Some(Self {
            status,
            why,
            // A retry is not taken again before its pause is over; anything else is released.
            locked_until: status.is_none().then(|| now + backoff(row.attempts)),
            now,
        })
    }

    fn update(&self, rows: Vec<Uuid>) -> sea_orm::UpdateMany<notification::Entity> {
        use notification::Column;
        let mut update = notification::Entity::update_many()
            .col_expr(Column::UpdatedAt, Expr::value(self.now))
            .col_expr(Column::LockedUntil, Expr::value(self.locked_until))
            .filter(Column::Id.is_in(rows));
        if let Some(status) = self.status {
            update = update.col_expr(Column::Status, Expr::value(status));
        }
        match &self.why {
            Some(Why::Error(reason)) => update.col_expr(Column::LastError, Expr::value(reason)),
            Some(Why::Skipped(reason)) => update.col_expr(Column::SkipReason, Expr::value(reason)),
            None => update
                .col_expr(Column::SentAt, Expr::value(self.now))
                .col_expr(Column::LastError, Expr::value(Option::<String>::None)),
        }
    }
}

impl Recorder {
    async fn record(
        &self,
        db: &DatabaseConnection,
        slots: &Slots,
        row: &notification::Model,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let Some(change) = Change::of(row, outcome, now) else {
            return Ok(());
        };
        let (done, mut written) = tokio::sync::oneshot::channel();
        self.lock_waiting().push(Written {
            row: row.id,
            change,
            done,
        });
        slots.moved.notify_waiters();
        let turn = self.writing.lock().await;
        // The write before ours may have taken ours along.
        if let Ok(result) = written.try_recv() {
            return result.map_err(anyhow::Error::msg);
        }
        // Each write costs about as much however many rows it marks: wait until it
        // carries as many as may be sent at once, until no mail on the wire can add one,
        // or until patience runs out.
        let patience = tokio::time::sleep(self.patience);
        tokio::pin!(patience);
        loop {
            let moved = slots.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if slots.quiet() || self.lock_waiting().len() >= slots.concurrency {
                break;
            }
            tokio::select! {
                _ = moved => {}
                _ = &mut patience => break,
            }
        }
        let batch = std::mem::take(&mut *self.lock_waiting());
        let result = write_changes(db, &batch)
            .await
            .map_err(|err| err.to_string());
        for entry in batch {
            // Whoever waits for it is told; one that gave up does not need to be.
            let _ = entry.done.send(result.clone());
        }
        drop(turn);
        written
            .await
            .map_err(|_| anyhow::anyhow!("the ledger write was interrupted"))?
            .map_err(anyhow::Error::msg)
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, Vec<Written>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes the changes of `batch`, one `UPDATE` per distinct change. Each row's outcome
/// stands on its own: if one `UPDATE` fails, the rows written before it keep theirs and
/// the rest are sent again once their hold runs out.
async fn write_changes(db: &DatabaseConnection, batch: &[Written]) -> Result<(), DbErr> {
    let mut groups: Vec<(&Change, Vec<Uuid>)> = Vec::new();
    for entry in batch {
        match groups
            .iter_mut()
            .find(|(change, _)| **change == entry.change)
        {
            Some((_, rows)) => rows.push(entry.row),
            None => groups.push((&entry.change, vec![entry.row])),
        }
    }
    for (change, rows) in groups {
        change.update(rows).exec(&LedgerDb(db)).await?;
    }
    Ok(())
}

/// The reader and what they read in: name, address, time zone, community name.
struct Reader {
    person: person::Model,
    community: community::Model,
    locale: String,
}

impl Reader {
    fn zone(&self) -> chrono_tz::Tz {
        zone(&self.person.time_zone)
    }

    fn text(&self, text: &LocalizedText) -> String {
        pick(text, &self.locale, &self.community.default_locale)
    }

    fn at(&self, instant: DateTime<Utc>) -> String {
        date_time(instant, self.zone(), &self.locale)
    }

    fn context(&self, specific: Vec<(&'static str, Value)>) -> Value {
        let common = [
            ("name", Value::from(self.person.full_name.clone())),
            ("community", Value::from(self.text(&self.community.name))),
        ];
        Value::from_iter(common.into_iter().chain(specific))
    }
}

/// What the rows claimed together have in common, read once for all of them: their
/// readers with their communities, and the stations a welcome letter lists.
struct Batch {
    readers: HashMap<Uuid, (person::Model, Option<community::Model>)>,
    stations: HashMap<Uuid, Vec<station::Model>>,
}

impl Batch {
    async fn read(db: &DatabaseConnection, rows: &[notification::Model]) -> Result<Self, DbErr> {
        let people: Vec<Uuid> = rows.iter().filter_map(|row| row.recipient_id).collect();
        let readers: HashMap<_, _> = person::Entity::find()
            .find_also_related(community::Entity)
            .filter(person::Column::Id.is_in(people))
            .all(db)
            .await?
            .into_iter()
            .map(|(person, community)| (person.id, (person, community)))
            .collect();
        let welcomed: Vec<Uuid> = rows
            .iter()
            .filter(|row| row.kind == MailKind::Welcome)
            .filter_map(|row| readers.get(&row.recipient_id?))
            .map(|(person, _)| person.community_id)
            .collect();
        let mut stations: HashMap<Uuid, Vec<station::Model>> = HashMap::new();
        if !welcomed.is_empty() {
            for station in station::Entity::find()
                .filter(station::Column::CommunityId.is_in(welcomed))
                .order_by_asc(station::Column::Id)
                .all(db)
                .await?
            {
                stations
                    .entry(station.community_id)
                    .or_default()
                    .push(station);
            }
        }
        Ok(Self { readers, stations })
    }
}

async fn decide(
    worker: &Worker,
    row: &notification::Model,
    batch: &Batch,
    now: DateTime<Utc>,
) -> anyhow::Result<Decision> {
    let db = &worker.db;
    let kind = row.kind;
    let reader = row.recipient_id.and_then(|id| batch.readers.get(&id));
    let Some((person, community)) = reader.cloned() else {
        return Ok(Decision::Skip("the recipient no longer exists".to_owned()));
    };
    if person.erased_at.is_some() {
        return Ok(Decision::Skip("the recipient's data was erased".to_owned()));
    }
    let Some(community) = community else {
        return Ok(Decision::Skip("the community no longer exists".to_owned()));
    };
    if now > row.due_at + grace(kind) {
        return Ok(Decision::Miss(format!(
            "due at {}, past its grace",
            row.due_at.to_rfc3339()
        )));
    }
    let challenge = match kind {
        MailKind::SignIn | MailKind::VerifyEmail => {
            let Some(challenge) = live_challenge(db, row.subject_id, now).await? else {
                return Ok(Decision::Skip(
                    "the code was used, replaced or has expired".to_owned(),
                ));
            };
            Some(challenge)
        }
        _ if person.status == PersonStatus::Unverified => {
            return Ok(Decision::Skip(
                "the recipient has not confirmed the address".to_owned(),
            ));
        }
        _ => None,
    };
    let opted_out = match kind {
        MailKind::ShiftReminder | MailKind::EventReminder => !person.notify_reminders,
        MailKind::Birthday => !person.notify_birthday,
        MailKind::FeedbackRequest => !person.notify_feedback,
        MailKind::Notice => !person.notify_notices,
        MailKind::SurveyInvitation | MailKind::SurveyReminder => !person.notify_surveys,
        _ => false,
    };
    if opted_out {
        return Ok(Decision::Skip("the recipient opted out".to_owned()));
    }
    let address = challenge.as_ref().map_or(&person.email, |c| &c.email);
    let Ok(to) = format!(
        "{} <{}>",
        person.full_name.replace(['<', '>', '"'], ""),
        address
    )
    .parse::<Mailbox>() else {
        return Ok(Decision::Skip(
            "the recipient's address is not usable".to_owned(),
        ));
    };
    let reader = Reader {
        locale: row.locale.clone(),
        person,
        community,
    };
    let context = match kind {
        MailKind::Welcome => {
            let stations = batch.stations.get(&reader.community.id);
            let names: Vec<String> = stations
                .into_iter()
                .flatten()
                .map(|s| reader.text(&s.name))
                .collect();
            let moved_in = reader
                .person
                .moved_in_on
                .map(|d| date(d, &reader.locale))
                .unwrap_or_default();
            reader.context(vec![
                ("moved_in_on", moved_in.into()),
                ("stations", Value::from(names)),
            ])
        }
        MailKind::Birthday | MailKind::VolunteerApproved => reader.context(vec![]),
        MailKind::SignIn | MailKind::VerifyEmail => {
            let Some(challenge) = challenge else {
                return Ok(Decision::Skip("the code no longer exists".to_owned()));
            };
            let Some((code, url)) = issue_code(worker, &challenge).await? else {
                return Ok(Decision::Skip("the code was used meanwhile".to_owned()));
            };
            reader.context(vec![
                ("code", code.into()),
                ("sign_in_url", url.into()),
                ("valid_minutes", email_challenge::VALID_MINUTES.into()),
            ])
        }
        MailKind::Farewell => {
            let Some(day) = reader.person.moving_out_on else {
                return Ok(Decision::Skip("the moving-out date was removed".to_owned()));
            };
            reader.context(vec![("moving_out_on", date(day, &reader.locale).into())])
        }
        MailKind::ShiftReminder | MailKind::WaitlistPromoted | MailKind::ShiftCancelled
            if row.subject_type == SubjectType::ShiftSignup =>
        {
            let Some((signup, shift, station)) = shift_of(db, row.subject_id).await? else {
                return Ok(Decision::Skip("the sign-up no longer exists".to_owned()));
            };
            let still_on =
                signup.status == SignupStatus::Confirmed && shift.status == ShiftStatus::Scheduled;
            if kind != MailKind::ShiftCancelled && !still_on {
                return Ok(Decision::Skip(
                    "the sign-up or the shift was cancelled".to_owned(),
                ));
            }
            if now >= shift.starts_at {
                return Ok(Decision::Miss("the shift has begun".to_owned()));
            }
            let name = reader.text(&station.name);
            let starts_at = reader.at(shift.starts_at);
            match kind {
                MailKind::ShiftReminder => reader.context(vec![
                    ("station", name.into()),
                    ("starts_at", starts_at.into()),
                    ("ends_at", time(shift.ends_at, reader.zone()).into()),
                    (
                        "location",
                        station.location.clone().unwrap_or_default().into(),
                    ),
                ]),
                MailKind::WaitlistPromoted => reader.context(vec![
                    ("activity", name.into()),
                    ("starts_at", starts_at.into()),
                ]),
                _ => reader.context(vec![
                    ("station", name.into()),
                    ("starts_at", starts_at.into()),
                ]),
            }
        }
        MailKind::EventReminder
        | MailKind::WaitlistPromoted
        | MailKind::EventCancelled
        | MailKind::FeedbackRequest => {
            let Some((registration, event)) = event_of(db, row.subject_id).await? else {
                return Ok(Decision::Skip(
                    "the registration no longer exists".to_owned(),
                ));
            };
            let title = reader.text(&event.title);
            let starts_at = reader.at(event.starts_at);
            match kind {
                MailKind::EventCancelled => reader.context(vec![
                    ("event", title.into()),
                    ("starts_at", starts_at.into()),
                ]),
                MailKind::FeedbackRequest => {
                    if registration.status != RegistrationStatus::CheckedIn {
                        return Ok(Decision::Skip("the person did not check in".to_owned()));
                    }
                    let Some(url) = feedback_link(worker, &registration, now).await? else {
                        return Ok(Decision::Skip("feedback was already given".to_owned()));
                    };
                    reader.context(vec![("event", title.into()), ("feedback_url", url.into())])
                }
                _ => {
                    if registration.status != RegistrationStatus::Registered
                        || event.status != EventStatus::Published
                    {
                        return Ok(Decision::Skip(
                            "the registration or the event was cancelled".to_owned(),
                        ));
                    }
                    if now >= event.starts_at {
                        return Ok(Decision::Miss("the event has begun".to_owned()));
                    }
                    if kind == MailKind::EventReminder {
                        let venue = event.venue.clone().unwrap_or_default();
                        reader.context(vec![
                            ("event", title.into()),
                            ("starts_at", starts_at.into()),
                            ("venue", venue.into()),
                        ])
                    } else {
                        reader.context(vec![
                            ("activity", title.into()),
                            ("starts_at", starts_at.into()),
                        ])
                    }
                }
            }
        }
        MailKind::ShiftReminder | MailKind::ShiftCancelled => {
            return Ok(Decision::Skip(format!(
                "a {} about a {}",
                kind.as_str(),
                row.subject_type.as_str()
            )));
        }
        MailKind::CareDue => {
            let Some(plan) = care_plan::Entity::find_by_id(row.subject_id)
                .one(db)
                .await?
            else {
                return Ok(Decision::Skip("the care plan no longer exists".to_owned()));
            };
            let due_on = row
                .due_at
                .with_timezone(&zone(&reader.community.time_zone))
                .date_naive();
            if plan.ended_at.is_some() || plan.next_due_on > due_on {
                return Ok(Decision::Skip(
                    "the care plan ended or the care was given".to_owned(),
                ));
            }
            let resident = person::Entity::find_by_id(plan.person_id).one(db).await?;
            let today = now.with_timezone(&reader.zone()).date_naive();
            reader.context(vec![
                (
                    "resident",
                    resident.map(|p| p.full_name).unwrap_or_default().into(),
                ),
                (
                    "visit",
                    (plan.kind == entities::enums::CareKind::Visit).into(),
                ),
                ("due_on", date(plan.next_due_on, &reader.locale).into()),
                ("overdue", (plan.next_due_on < today).into()),
            ])
        }
        MailKind::Notice => {
            let Some(notice) = notice::Entity::find_by_id(row.subject_id).one(db).await? else {
                return Ok(Decision::Skip("the notice no longer exists".to_owned()));
            };
            if notice.state == NoticeState::Cancelled {
                return Ok(Decision::Skip("the notice was cancelled".to_owned()));
            }
            let body = reader.text(&notice.body);
            reader.context(vec![
                ("subject", reader.text(&notice.subject).into()),
                (
                    "body_html",
                    Value::from_safe_string(crate::markdown::to_html(&body)),
                ),
                ("body", body.into()),
            ])
        }
        MailKind::SurveyInvitation | MailKind::SurveyReminder => {
            let Some(invitation) = survey_invitation::Entity::find_by_id(row.subject_id)
                .one(db)
                .await?
            else {
                return Ok(Decision::Skip("the invitation no longer exists".to_owned()));
            };
            let survey = survey::Entity::find_by_id(invitation.survey_id)
                .one(db)
                .await?
                .filter(|survey| crate::surveys::answerable(survey, now));
            let Some(survey) = survey else {
                return Ok(Decision::Skip("the survey is closed".to_owned()));
            };
            if invitation.answered_at.is_some() {
                return Ok(Decision::Skip("the survey was answered".to_owned()));
            }
            let Some(token) = crate::surveys::issue_link(db, kind, &invitation).await? else {
                return Ok(Decision::Skip("the survey was answered".to_owned()));
            };
            let closes_on = survey.closes_at.with_timezone(&reader.zone()).date_naive();
            let url = worker
                .settings
                .frontend
                .page(&format!("survey-invitations/{token}"));
            reader.context(vec![
                ("title", reader.text(&survey.title).into()),
                ("intro", reader.text(&survey.intro).into()),
                ("survey_url", url.into()),
                ("closes_on", date(closes_on, &reader.locale).into()),
                ("questions", survey.questions.0.len().into()),
            ])
        }
        MailKind::Digest => {
            if !reader.person.is_organizer {
                return Ok(Decision::Skip(
                    "the recipient no longer organizes".to_owned(),
                ));
            }
            let specific = digest::contents(
                db,
                &reader.community,
                &reader.locale,
                reader.zone(),
                row.due_at,
            )
            .await?;
            reader.context(specific)
        }
    };
    Ok(Decision::Send { to, context })
}

async fn shift_of(
    db: &DatabaseConnection,
    signup_id: Uuid,
) -> Result<Option<(shift_signup::Model, shift::Model, station::Model)>, DbErr> {
    let Some((signup, Some(shift))) = shift_signup::Entity::find_by_id(signup_id)
        .find_also_related(shift::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let station = station::Entity::find_by_id(shift.station_id)
        .one(db)
        .await?;
    Ok(station.map(|station| (signup, shift, station)))
}

async fn event_of(
    db: &DatabaseConnection,
    registration_id: Uuid,
) -> Result<Option<(event_registration::Model, event::Model)>, DbErr> {
    Ok(
        match event_registration::Entity::find_by_id(registration_id)
            .find_also_related(event::Entity)
            .one(db)
            .await?
        {
            Some((registration, Some(event))) => Some((registration, event)),
            _ => None,
        },
    )
}

/// The challenge `id` if it can still be answered at `now`.
async fn live_challenge(
    db: &DatabaseConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<email_challenge::Model>, DbErr> {
    Ok(email_challenge::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|c| {
            c.used_at.is_none()
                && c.expires_at > now
                && c.failed_attempts < email_challenge::MAX_FAILED_ATTEMPTS
        }))
}

/// Makes the code and link of `challenge` and stores their hashes: the secrets exist
/// only in the mail. A retried delivery makes new ones, so an earlier, undelivered
/// mail's code stops working. `None` when the challenge was used meanwhile.
async fn issue_code(
    worker: &Worker,
    challenge: &email_challenge::Model,
) -> Result<Option<(String, String)>, DbErr> {
    let code = entities::token::new_code();
    let token = entities::token::new_token(24);
    let issued = email_challenge::Entity::update_many()
        .col_expr(
            email_challenge::Column::CodeHash,
            Expr::value(entities::token::hash_code(&challenge.id.to_string(), &code)),
        )
        .col_expr(
            email_challenge::Column::TokenHash,
            Expr::value(entities::token::hash_token(&token)),
        )
        .filter(email_challenge::Column::Id.eq(challenge.id))
        .filter(email_challenge::Column::UsedAt.is_null())
        .exec(&worker.db)
        .await?;
    Ok((issued.rows_affected == 1)
        .then(|| (code, worker.settings.sign_in_url.replace("{token}", &token))))
}

/// A fresh one-time feedback link for `registration`, valid 30 days; `None` when
/// feedback was already given. Only the token's hash is stored.
async fn feedback_link(
    worker: &Worker,
    registration: &event_registration::Model,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbErr> {
    let token = entities::token::new_token(24);
    let existing = feedback::Entity::find()
        .filter(feedback::Column::RegistrationId.eq(registration.id))
        .one(&worker.db)
        .await?;
    let expires_at = now + Duration::days(feedback::TOKEN_DAYS);
    match existing {
        Some(given) if given.submitted_at.is_some() => return Ok(None),
        Some(pending) => {
            let mut active = pending.into_active_model();
            active.token_hash = Set(entities::token::hash_token(&token));
            active.expires_at = Set(expires_at);
            active.update(&worker.db).await?;
        }
        None => {
            feedback::ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(registration.event_id),
                registration_id: Set(registration.id),
                person_id: Set(Some(registration.person_id)),
                token_hash: Set(entities::token::hash_token(&token)),
                rating: Set(None),
                comment: Set(None),
                submitted_at: Set(None),
                expires_at: Set(expires_at),
                created_at: Set(now),
            }
            .insert(&worker.db)
            .await?;
        }
    }
    Ok(Some(
        worker.settings.feedback_url.replace("{token}", &token),
    ))
}
