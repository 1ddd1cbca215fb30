//! Shift sign-ups: capacity, the waitlist and attendance, each change one transaction.
//!
//! Every write locks the shift row first (`SELECT … FOR UPDATE` on PostgreSQL; on
//! SQLite the transaction is `BEGIN IMMEDIATE`, which already excludes other writers),
//! so the capacity check and the write are one atomic step. On PostgreSQL the common
//! sign-up is a single statement that does the same (`sign_up_in_one_statement`).
//!
//! A volunteer holds no two overlapping confirmed shifts: each write that confirms
//! someone looks first (`overlapping`), and on PostgreSQL the table itself refuses the
//! second of two that race (an exclusion constraint over the shift's times, which every
//! sign-up carries). The refused transaction is run again (`ApiError::Busy`), and then
//! sees the other place.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use entities::enums::{CancelReason, PersonStatus, ShiftStatus, SignupStatus, WebhookEventType};
use entities::json::TagList;
use entities::{person, shift, shift_signup, webhook};
use huashen_worker::webhooks;
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait as _, IntoCondition as _, LockType, Query,
    SelectStatement, SubQueryStatement, UpdateStatement, WithClause, WithQuery,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic as _, IntoActiveModel,
    Iterable as _, JoinType, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Set,
    Statement, StatementBuilder, Value,
};
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::{begin_write, retry_contended};
use crate::error::ApiError;

/// A sign-up as it was saved, with advice that did not stop it.
pub struct SignupOutcome {
    pub signup: shift_signup::Model,
    /// E.g. the shift wants a language the person does not speak.
    pub warnings: Vec<String>,
}

/// A cancelled sign-up and the people it made room for.
pub struct CancelOutcome {
    pub signup: shift_signup::Model,
    pub promoted: Vec<shift_signup::Model>,
}

/// Records `event_type` about `person_id`'s sign-up for `shift` for the community's
/// webhooks, in the transaction of the change it reports.
async fn record(
    txn: &DatabaseTransaction,
    shift: &shift::Model,
    event_type: WebhookEventType,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let path = format!("/v1/shifts/{}/signups/{person_id}", shift.id);
    webhooks::emit(txn, shift.community_id, event_type, &path, now).await?;
    Ok(())
}

/// Locks and loads a shift the caller can see.
async fn lock_shift(
    txn: &DatabaseTransaction,
    caller: &Caller,
    id: Uuid,
) -> Result<shift::Model, ApiError> {
    shift::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .filter(|s| caller.can_read(s.community_id))
        .ok_or_else(|| ApiError::not_found("shift"))
}

/// A shift, locked, with a person of its community: their sign-up for it in any
/// state, a confirmed shift of theirs at the same time, and whether the community has
/// any enabled webhook (so a change with nobody to tell skips looking for them).
struct Locked {
    shift: shift::Model,
    person: Volunteer,
    existing: Option<shift_signup::Model>,
    clash: Option<Uuid>,
    webhooks: bool,
}

/// What a sign-up decides on about the person: the rest of their row is not read.
struct Volunteer {
    status: PersonStatus,
    is_volunteer: bool,
    languages: TagList,
}

impl FromQueryResult for Locked {
    fn from_query_result(row: &QueryResult, _: &str) -> Result<Self, DbErr> {
        Ok(Self {
            shift: shift::Model::from_query_result(row, "")?,
            person: Volunteer {
                status: row.try_get("", "person_status")?,
                is_volunteer: row.try_get("", "person_is_volunteer")?,
                languages: row.try_get("", "person_languages")?,
            },
            existing: match row.try_get::<Option<Uuid>>(SIGNUP, "id")? {
                Some(_) => Some(shift_signup::Model::from_query_result(row, SIGNUP)?),
                None => None,
            },
            clash: row.try_get("", "clash")?,
            webhooks: row.try_get("", "webhooks")?,
        })
    }
}

/// The prefix of the columns of `Locked::existing`.
const SIGNUP: &str = "signup_";

/// Locks and loads a shift the caller can see, with a person of its community the
/// caller may act for and where they stand (`Locked`), in one statement.
///
/// On PostgreSQL, a statement that waited for the shift's lock reads the shift as the
/// transaction before it left it, but the person's sign-ups as they were when it began.
/// A sign-up or place it missed, the unique (shift, person) index and the overlap
/// constraint catch, and `sign_up` runs again; one that has gone meanwhile, `sign_up`
/// looks for again before it refuses (`standing_now`).
async fn lock_shift_for(
    txn: &DatabaseTransaction,
    caller: &Caller,
    shift_id: Uuid,
    person_id: Uuid,
) -> Result<Locked, ApiError> {
    let same_community = shift::Entity::belongs_to(person::Entity)
        .from(shift::Column::CommunityId)
        .to(person::Column::CommunityId)
        .into();
    let their_signup = shift::Entity::belongs_to(shift_signup::Entity)
        .from(shift::Column::Id)
        .to(shift_signup::Column::ShiftId)
        .on_condition(move |_, signups| {
            Expr::col((signups, shift_signup::Column::PersonId))
                .eq(person_id)
                .into_condition()
        })
        .into();
    let clash = overlapping(
        Expr::val(person_id),
        Expr::col((shift::Entity, shift::Column::Id)),
        Expr::col((shift::Entity, shift::Column::StartsAt)),
        Expr::col((shift::Entity, shift::Column::EndsAt)),
    );
    let enabled_webhooks = live_webhooks(Expr::col((shift::Entity, shift::Column::CommunityId)));
    let mut select = shift::Entity::find_by_id(shift_id)
        .join(JoinType::InnerJoin, same_community)
        .join(JoinType::LeftJoin, their_signup)
        .filter(person::Column::Id.eq(person_id))
        .column_as(person::Column::Status, "person_status")
        .column_as(person::Column::IsVolunteer, "person_is_volunteer")
        .column_as(person::Column::Languages, "person_languages")
        .expr_as(SubQueryStatement::SelectStatement(clash), "clash")
        .expr_as(Expr::exists(enabled_webhooks), "webhooks");
    for column in shift_signup::Column::iter() {
        select = select.column_as(
            Expr::col((shift_signup::Entity, column)),
            format!("{SIGNUP}{}", column.as_str()),
        );
    }
    // Only the shift's row: the person's stays free for their other sign-ups.
    QueryTrait::query(&mut select).lock_with_tables(LockType::Update, [shift::Entity]);
    let statement = select.build(txn.get_database_backend());
    let found = Locked::find_by_statement(statement).one(txn).await?;
    if let Some(locked) = found
        && caller.can_read(locked.shift.community_id)
    {
        caller.require_acting_for(locked.shift.community_id, person_id)?;
        return Ok(locked);
    }
    // Nothing found: say why, in the order the checks above make them.
    let shift = lock_shift(txn, caller, shift_id).await?;
    caller.require_acting_for(shift.community_id, person_id)?;
    Err(ApiError::Unprocessable(
        "no such person in the shift's community".to_owned(),
    ))
}

/// The enabled webhooks of `community`, for an `EXISTS`.
fn live_webhooks(community: Expr) -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(webhook::Entity)
        .cond_where(webhooks::live_in(community))
        .to_owned()
}

/// A shift other than `shift` on which `person` holds a confirmed place at a
/// time overlapping `starts`..`ends`: the rule PostgreSQL's exclusion constraint keeps.
/// (A cancelled shift holds no confirmed place: cancelling it cancels them.)
fn overlapping(person: Expr, shift: Expr, starts: Expr, ends: Expr) -> SelectStatement {
    let other = Alias::new("other");
    let column = |c: shift_signup::Column| Expr::col((other.clone(), c));
    Query::select()
        .expr(column(shift_signup::Column::ShiftId))
        .from_as(shift_signup::Entity, other.clone())
        .and_where(column(shift_signup::Column::PersonId).eq(person))
        .and_where(column(shift_signup::Column::Status).eq(SignupStatus::Confirmed.as_str()))
        .and_where(column(shift_signup::Column::ShiftId).ne(shift))
        .and_where(column(shift_signup::Column::ShiftStartsAt).lt(ends))
        .and_where(column(shift_signup::Column::ShiftEndsAt).gt(starts))
        .limit(1)
        .to_owned()
}

/// The id of a confirmed shift of `person_id` that overlaps `shift`, if any.
async fn overlapping_shift(
    txn: &DatabaseTransaction,
    person_id: Uuid,
    shift: &shift::Model,
) -> Result<Option<Uuid>, ApiError> {
    let query = overlapping(
        Expr::val(person_id),
        Expr::val(shift.id),
        Expr::val(shift.starts_at),
        Expr::val(shift.ends_at),
    );
    Ok(match txn.query_one(&query).await? {
        Some(row) => Some(row.try_get("", "shift_id")?),
        None => None,
    })
}

/// `person_id`'s sign-up for `shift` and a confirmed place of theirs at the same time,
/// read afresh: a refusal rests on what holds now, not on what the locking statement
/// saw when it began.
async fn standing_now(
    txn: &DatabaseTransaction,
    person_id: Uuid,
    shift: &shift::Model,
) -> Result<(Option<shift_signup::Model>, Option<Uuid>), ApiError> {
    let existing = signup_of(txn, shift.id, person_id).await?;
    Ok((existing, overlapping_shift(txn, person_id, shift).await?))
}

/// `person_id`'s sign-up for `shift_id`, in any state.
async fn signup_of(
    txn: &DatabaseTransaction,
    shift_id: Uuid,
    person_id: Uuid,
) -> Result<Option<shift_signup::Model>, DbErr> {
    shift_signup::Entity::find()
        .filter(shift_signup::Column::ShiftId.eq(shift_id))
        .filter(shift_signup::Column::PersonId.eq(person_id))
        .one(txn)
        .await
}

/// Saves the shift's counters and bumps its version: its representation changed,
/// and a concurrent `PATCH` must not act on the old counts.
async fn save_counts(
    txn: &DatabaseTransaction,
    shift: &shift::Model,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    txn.execute(&counts_update(shift, now)).await?;
    Ok(())
}

/// The statement of `save_counts`.
fn counts_update(shift: &shift::Model, now: DateTime<Utc>) -> UpdateStatement {
    shift::Entity::update_many()
        .col_expr(
            shift::Column::ConfirmedCount,
            Expr::value(shift.confirmed_count),
        )
        .col_expr(
            shift::Column::WaitlistCount,
            Expr::value(shift.waitlist_count),
        )
        .col_expr(
            shift::Column::Version,
            Expr::col(shift::Column::Version).add(1),
        )
        .col_expr(shift::Column::UpdatedAt, Expr::value(now))
        .filter(shift::Column::Id.eq(shift.id))
        .into_query()
}

/// Runs `write` and `save_counts`: as one statement on PostgreSQL, the counters in its
/// `WITH`, so the shift's lock is held for one round trip fewer (SQLite allows no
/// writes in a `WITH`, and has no round trips to save). Returns how many rows `write`
/// changed.
async fn write_with_counts<S>(
    txn: &DatabaseTransaction,
    write: S,
    shift: &shift::Model,
    now: DateTime<Utc>,
) -> Result<u64, ApiError>
where
    S: StatementBuilder + Into<SubQueryStatement>,
{
    let written = if txn.get_database_backend() == DbBackend::Postgres {
        let counts = CommonTableExpression::new()
            .query(counts_update(shift, now))
            .table_name("counted")
            .to_owned();
        txn.execute(&WithClause::new().cte(counts).to_owned().query(write))
            .await?
    } else {
        let written = txn.execute(&write).await?;
        save_counts(txn, shift, now).await?;
        written
    };
    Ok(written.rows_affected())
}

/// Closes the gap left by the waitlisted sign-up that stood at `position`.
async fn close_gap(
    txn: &DatabaseTransaction,
    shift_id: Uuid,
    position: i32,
) -> Result<(), ApiError> {
    shift_signup::Entity::update_many()
        .col_expr(
            shift_signup::Column::WaitlistPosition,
            Expr::col(shift_signup::Column::WaitlistPosition).sub(1),
        )
        .filter(shift_signup::Column::ShiftId.eq(shift_id))
        .filter(shift_signup::Column::Status.eq(SignupStatus::Waitlisted))
        .filter(shift_signup::Column::WaitlistPosition.gt(position))
        .exec(txn)
        .await?;
    Ok(())
}

/// Confirms waitlisted volunteers, first in line first, while places are free, and
/// records `signup.promoted` for each. Someone who meanwhile holds an overlapping
/// confirmed shift keeps their place in line.
pub async fn promote_waitlist(
    txn: &DatabaseTransaction,
    shift: &mut shift::Model,
    now: DateTime<Utc>,
) -> Result<Vec<shift_signup::Model>, ApiError> {
    let mut promoted = Vec::new();
    if shift.confirmed_count >= shift.capacity || shift.waitlist_count == 0 {
        return Ok(promoted);
    }
    let line = shift_signup::Entity::find()
        .filter(shift_signup::Column::ShiftId.eq(shift.id))
        .filter(shift_signup::Column::Status.eq(SignupStatus::Waitlisted))
        .order_by_asc(shift_signup::Column::WaitlistPosition)
        .all(txn)
        .await?;
    let mut freed_positions = Vec::new();
    for candidate in line {
        if shift.confirmed_count >= shift.capacity {
            break;
        }
        if overlapping_shift(txn, candidate.person_id, shift)
            .await?
            .is_some()
        {
            continue;
        }
        freed_positions.extend(candidate.waitlist_position);
        let mut active = candidate.into_active_model();
        active.status = Set(SignupStatus::Confirmed);
        active.waitlist_position = Set(None);
        active.promoted_at = Set(Some(now));
        active.updated_at = Set(now);
        let signup = active.update(txn).await?;
        record(
            txn,
            shift,
            WebhookEventType::SignupPromoted,
            signup.person_id,
            now,
        )
        .await?;
        promoted.push(signup);
        shift.confirmed_count += 1;
        shift.waitlist_count -= 1;
    }
    // From the back, so each earlier position is still where it was.
    for position in freed_positions.into_iter().rev() {
        close_gap(txn, shift.id, position).await?;
    }
    Ok(promoted)
}

/// Moves the sign-ups of `shift` (locked) to its new times, refusing times that would
/// give one of its confirmed volunteers two overlapping confirmed shifts.
pub async fn reschedule(txn: &DatabaseTransaction, shift: &shift::Model) -> Result<(), ApiError> {
    let confirmed: Vec<Uuid> = shift_signup::Entity::find()
        .select_only()
        .column(shift_signup::Column::PersonId)
        .filter(shift_signup::Column::ShiftId.eq(shift.id))
        .filter(shift_signup::Column::Status.eq(SignupStatus::Confirmed))
        .into_tuple()
        .all(txn)
        .await?;
    for person_id in confirmed {
        if let Some(other) = overlapping_shift(txn, person_id, shift).await? {
            return Err(ApiError::conflict(format!(
                "volunteer {person_id} would then have two shifts at the same time (the other is {other})"
            )));
        }
    }
    shift_signup::Entity::update_many()
        .col_expr(
            shift_signup::Column::ShiftStartsAt,
            Expr::value(shift.starts_at),
        )
        .col_expr(
            shift_signup::Column::ShiftEndsAt,
            Expr::value(shift.ends_at),
        )
        .filter(shift_signup::Column::ShiftId.eq(shift.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Signs `person_id` up for `shift_id`: confirmed while places remain, else waitlisted.
///
/// # Errors
/// 404 unknown shift; 403 not allowed to act for the person, or the person awaits
/// approval; 422 the person is not a volunteer of the shift's community; 409 the shift is cancelled or has started, the
/// person is already signed up, or holds an overlapping confirmed shift.
pub async fn sign_up(
    db: &DatabaseConnection,
    caller: &Caller,
    shift_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<SignupOutcome, ApiError> {
    let (outcome, path) = match sign_up_in_one_statement(db, caller, shift_id, person_id, now).await
    {
        Ok(Some(done)) => (Ok(done), "one_statement"),
        // Not the common case, or a race the table refused: the transaction decides.
        Ok(None) | Err(ApiError::Busy | ApiError::Duplicate) => (
            retry_contended(|| sign_up_once(db, caller, shift_id, person_id, now)).await,
            "transaction",
        ),
        Err(err) => (Err(err), "one_statement"),
    };
    let counted = match &outcome {
        Ok(o) => o.signup.status.as_str(),
        Err(_) => "refused",
    };
    metrics::counter!("huashen_signups_total", "outcome" => counted, "path" => path).increment(1);
    outcome
}

/// On PostgreSQL, the common sign-up in one statement, one round trip instead of a
/// transaction's four: an active volunteer of the shift's community, a shift neither
/// cancelled nor started, no sign-up of theirs for it in any state, no confirmed shift
/// of theirs at the same time, and no webhook to tell. The statement locks the shift,
/// places the person as `sign_up_once` does (confirmed while places are free, else next
/// in line), writes the sign-up and the counters, and returns what it did; `None` when
/// any of that does not hold, for `sign_up_once` to decide and say why. A sign-up or
/// place it could not see yet is refused by the unique (shift, person) index or the
/// overlap constraint as in `sign_up_once`, and nothing is written.
///
/// What it accepts must stay within what `sign_up_once` accepts: a rule added there is
/// added here too (the suite's refusals run through here first on PostgreSQL).
async fn sign_up_in_one_statement(
    db: &DatabaseConnection,
    caller: &Caller,
    shift_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<SignupOutcome>, ApiError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    // What the key may do is known without reading once the shift is confined to the
    // key's community.
    let community = match caller.community_id {
        _ if caller.is_admin() => None,
        Some(own) if caller.require_acting_for(own, person_id).is_ok() => Some(own),
        _ => return Ok(None),
    };
    let signup_id = Uuid::now_v7();
    let statement = OneStatement::bound(shift_id, person_id, signup_id, community, now);
    let Some(row) = db.query_one_raw(statement).await? else {
        return Ok(None);
    };
    let wanted: TagList = row.try_get("", "languages_wanted")?;
    let spoken: TagList = row.try_get("", "person_languages")?;
    let signup = shift_signup::Model {
        id: signup_id,
        shift_id,
        person_id,
        status: row.try_get("", "status")?,
        waitlist_position: row.try_get("", "waitlist_position")?,
        hours_credited: None,
        promoted_at: None,
        cancel_reason: None,
        shift_starts_at: row.try_get("", "starts_at")?,
        shift_ends_at: row.try_get("", "ends_at")?,
        created_at: now,
        updated_at: now,
    };
    Ok(Some(SignupOutcome {
        signup,
        warnings: language_warnings(&wanted, &spoken),
    }))
}

/// The statement of `sign_up_in_one_statement`, confined to `community` if given.
fn sign_up_statement(
    shift_id: Uuid,
    person_id: Uuid,
    signup_id: Uuid,
    community: Option<Uuid>,
    now: DateTime<Utc>,
) -> WithQuery {
    let (locked, placed) = (Alias::new("locked"), Alias::new("placed"));
    let mut lock = Query::select();
    lock.columns([
        shift::Column::Id,
        shift::Column::CommunityId,
        shift::Column::StartsAt,
        shift::Column::EndsAt,
        shift::Column::Capacity,
        shift::Column::ConfirmedCount,
        shift::Column::WaitlistCount,
        shift::Column::LanguagesWanted,
    ])
    .from(shift::Entity)
    .and_where(shift::Column::Id.eq(shift_id))
    .and_where(shift::Column::Status.ne(ShiftStatus::Cancelled.as_str()))
    .and_where(shift::Column::StartsAt.gt(now))
    .lock(LockType::Update);
    if let Some(community) = community {
        lock.and_where(shift::Column::CommunityId.eq(community));
    }

    let shift_col = |c: shift::Column| Expr::col((locked.clone(), c));
    let free = || shift_col(shift::Column::ConfirmedCount).lt(shift_col(shift::Column::Capacity));
    let their_signup = Query::select()
        .expr(Expr::val(1))
        .from(shift_signup::Entity)
        .and_where(
            Expr::col((shift_signup::Entity, shift_signup::Column::ShiftId))
                .eq(shift_col(shift::Column::Id)),
        )
        .and_where(shift_signup::Column::PersonId.eq(person_id))
        .to_owned();
    let clash = overlapping(
        Expr::val(person_id),
        shift_col(shift::Column::Id),
        shift_col(shift::Column::StartsAt),
        shift_col(shift::Column::EndsAt),
    );
    let enabled_webhooks = live_webhooks(shift_col(shift::Column::CommunityId));
    let place = Query::select()
        .expr_as(shift_col(shift::Column::Id), "shift_id")
        .expr_as(shift_col(shift::Column::StartsAt), "starts_at")
        .expr_as(shift_col(shift::Column::EndsAt), "ends_at")
        .expr_as(
            shift_col(shift::Column::LanguagesWanted),
            "languages_wanted",
        )
        .expr_as(
            Expr::col((person::Entity, person::Column::Languages)),
            "person_languages",
        )
        .expr_as(
            Expr::case(free(), SignupStatus::Confirmed.as_str())
                .finally(SignupStatus::Waitlisted.as_str()),
            "status",
        )
        .expr_as(
            Expr::case(free(), Option::<i32>::None)
                .finally(shift_col(shift::Column::WaitlistCount).add(1)),
            "waitlist_position",
        )
        .expr_as(
            shift_col(shift::Column::ConfirmedCount).add(Expr::case(free(), 1).finally(0)),
            "confirmed_count",
        )
        .expr_as(
            shift_col(shift::Column::WaitlistCount).add(Expr::case(free(), 0).finally(1)),
            "waitlist_count",
        )
        .from(locked.clone())
        .join(
            JoinType::InnerJoin,
            person::Entity,
            Expr::col((person::Entity, person::Column::CommunityId))
                .equals((locked.clone(), shift::Column::CommunityId)),
        )
        .and_where(person::Column::Id.eq(person_id))
        .and_where(person::Column::Status.eq(PersonStatus::Active.as_str()))
        .and_where(person::Column::IsVolunteer.eq(true))
        .and_where(Expr::exists(their_signup).not())
        .and_where(Expr::exists(clash).not())
        .and_where(Expr::exists(enabled_webhooks).not())
        .to_owned();

    let placed_col = |name: &str| Expr::col((placed.clone(), Alias::new(name)));
    let mut insert = Query::insert();
    insert
        .into_table(shift_signup::Entity)
        .columns([
            shift_signup::Column::Id,
            shift_signup::Column::ShiftId,
            shift_signup::Column::PersonId,
            shift_signup::Column::Status,
            shift_signup::Column::WaitlistPosition,
            shift_signup::Column::ShiftStartsAt,
            shift_signup::Column::ShiftEndsAt,
            shift_signup::Column::CreatedAt,
            shift_signup::Column::UpdatedAt,
        ])
        .select_from(
            Query::select()
                .expr(Expr::val(signup_id))
                .expr(placed_col("shift_id"))
                .expr(Expr::val(person_id))
                .expr(placed_col("status"))
                .expr(placed_col("waitlist_position"))
                .expr(placed_col("starts_at"))
                .expr(placed_col("ends_at"))
                .expr(Expr::val(now))
                .expr(Expr::val(now))
                .from(placed.clone())
                .to_owned(),
        )
        .expect("as many values as columns");
    let count = Query::update()
        .table(shift::Entity)
        .value(shift::Column::ConfirmedCount, placed_col("confirmed_count"))
        .value(shift::Column::WaitlistCount, placed_col("waitlist_count"))
        .value(
            shift::Column::Version,
            Expr::col((shift::Entity, shift::Column::Version)).add(1),
        )
        .value(shift::Column::UpdatedAt, now)
        .from(placed.clone())
        .and_where(
            Expr::col((shift::Entity, shift::Column::Id)).equals((placed.clone(), "shift_id")),
        )
        .to_owned();
    WithClause::new()
        .cte(
            CommonTableExpression::new()
                .query(lock)
                .table_name(locked)
                .to_owned(),
        )
        .cte(
            CommonTableExpression::new()
                .query(place)
                .table_name(placed.clone())
                .to_owned(),
        )
        .cte(
            CommonTableExpression::new()
                .query(insert)
                .table_name("inserted")
                .to_owned(),
        )
        .cte(
            CommonTableExpression::new()
                .query(count)
                .table_name("counted")
                .to_owned(),
        )
        .to_owned()
        .query(
            Query::select()
                .columns(["status", "waitlist_position", "starts_at", "ends_at"].map(Alias::new))
                .columns(["languages_wanted", "person_languages"].map(Alias::new))
                .from(placed)
                .to_owned(),
        )
}

/// The SQL of `sign_up_statement`, built once per shape: sea-query takes about as long
/// to build a statement this size as PostgreSQL takes to run it. It is built with
/// stand-ins for the request's values, and `bound` puts the values in their places.
struct OneStatement {
    sql: String,
    values: Vec<Value>,
}

/// What `OneStatement` is built with: values no request carries, and none of the
/// statement's constants.
mod stand_in {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    pub const SHIFT: Uuid = Uuid::from_u128(1);
    pub const PERSON: Uuid = Uuid::from_u128(2);
    pub const SIGNUP: Uuid = Uuid::from_u128(3);
    pub const COMMUNITY: Uuid = Uuid::from_u128(4);
    pub const NOW: DateTime<Utc> = DateTime::UNIX_EPOCH;
}

impl OneStatement {
    /// The statement for a request's values, its SQL built once for its shape (any
    /// community, or the key's).
    fn bound(
        shift_id: Uuid,
        person_id: Uuid,
        signup_id: Uuid,
        community: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Statement {
        static ANY: OnceLock<OneStatement> = OnceLock::new();
        static ONE: OnceLock<OneStatement> = OnceLock::new();
        let built = match community {
            None => ANY.get_or_init(|| Self::build(None)),
            Some(_) => ONE.get_or_init(|| Self::build(Some(stand_in::COMMUNITY))),
        };
        let stand_ins = [
            (Value::from(stand_in::SHIFT), Value::from(shift_id)),
            (Value::from(stand_in::PERSON), Value::from(person_id)),
            (Value::from(stand_in::SIGNUP), Value::from(signup_id)),
            (Value::from(stand_in::COMMUNITY), Value::from(community)),
            (Value::from(stand_in::NOW), Value::from(now)),
        ];
        let values = built.values.iter().map(|value| {
            stand_ins
                .iter()
                .find(|(stand_in, _)| stand_in == value)
                .map_or_else(|| value.clone(), |(_, real)| real.clone())
        });
        Statement::from_sql_and_values(DbBackend::Postgres, built.sql.clone(), values)
    }

    fn build(community: Option<Uuid>) -> Self {
        let statement = DbBackend::Postgres.build(&sign_up_statement(
            stand_in::SHIFT,
            stand_in::PERSON,
            stand_in::SIGNUP,
            community,
            stand_in::NOW,
        ));
        Self {
            sql: statement.sql,
            values: statement.values.map(|v| v.0).unwrap_or_default(),
        }
    }
}

async fn sign_up_once(
    db: &DatabaseConnection,
    caller: &Caller,
    shift_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<SignupOutcome, ApiError> {
    let txn = begin_write(db).await?;
    let Locked {
        mut shift,
        person,
        existing,
        clash,
        webhooks,
    } = lock_shift_for(&txn, caller, shift_id, person_id).await?;
    if person.status != PersonStatus::Active {
        return Err(ApiError::forbidden(
            "this volunteer's application awaits an organizer's approval (or the address \
             is not yet confirmed); sign-ups open once it is approved",
        ));
    }
    if !person.is_volunteer {
        return Err(ApiError::Unprocessable(
            "the person is not a volunteer".to_owned(),
        ));
    }
    if shift.status == ShiftStatus::Cancelled {
        return Err(ApiError::conflict("the shift is cancelled"));
    }
    if shift.starts_at <= now {
        return Err(ApiError::conflict("the shift has already started"));
    }
    let holds = |signup: &shift_signup::Model| signup.status != SignupStatus::Cancelled;
    let (existing, clash) = if existing.as_ref().is_some_and(holds) || clash.is_some() {
        standing_now(&txn, person_id, &shift).await?
    } else {
        (existing, clash)
    };
    if let Some(existing) = existing.as_ref().filter(|e| holds(e)) {
        return Err(ApiError::conflict(format!(
            "the person is already signed up for this shift ({})",
            existing.status.as_str()
        )));
    }
    if let Some(other) = clash {
        return Err(ApiError::conflict(format!(
            "the person already has a confirmed shift at the same time: {other}"
        )));
    }
    let (status, waitlist_position) = if shift.confirmed_count < shift.capacity {
        shift.confirmed_count += 1;
        (SignupStatus::Confirmed, None)
    } else {
        shift.waitlist_count += 1;
        (SignupStatus::Waitlisted, Some(shift.waitlist_count))
    };
    let renewed = existing.is_some();
    let signup = match existing {
        Some(cancelled) => shift_signup::Model {
            status,
            waitlist_position,
            hours_credited: None,
            cancel_reason: None,
            shift_starts_at: shift.starts_at,
            shift_ends_at: shift.ends_at,
            updated_at: now,
            ..cancelled
        },
        None => shift_signup::Model {
            id: Uuid::now_v7(),
            shift_id: shift.id,
            person_id,
            status,
            waitlist_position,
            hours_credited: None,
            promoted_at: None,
            cancel_reason: None,
            shift_starts_at: shift.starts_at,
            shift_ends_at: shift.ends_at,
            created_at: now,
            updated_at: now,
        },
    };
    let active = signup.clone().into_active_model().reset_all();
    // What the lock's statement could not see (see `lock_shift_for`) shows here: the
    // sign-up renewed or made meanwhile, or a confirmed place at the same time. Then
    // all of it is undone and run again, and the next run sees it.
    let written = if renewed {
        let update = shift_signup::Entity::update_many()
            .set(active)
            .filter(shift_signup::Column::Id.eq(signup.id))
            .filter(shift_signup::Column::Status.eq(SignupStatus::Cancelled));
        write_with_counts(&txn, update.into_query(), &shift, now).await
    } else {
        let insert = shift_signup::Entity::insert(active);
        write_with_counts(&txn, insert.into_query(), &shift, now).await
    };
    match written {
        Ok(1) => {}
        Ok(_) | Err(ApiError::Duplicate) => return Err(ApiError::Busy),
        Err(err) => return Err(err),
    }
    if webhooks {
        record(
            &txn,
            &shift,
            WebhookEventType::SignupCreated,
            person_id,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(SignupOutcome {
        signup,
        warnings: language_warnings(&shift.languages_wanted, &person.languages),
    })
}

/// Advice when the shift wants languages of which `spoken` holds none.
fn language_warnings(wanted: &TagList, spoken: &TagList) -> Vec<String> {
    let wanted = &wanted.0;
    let speaks = |lang: &String| {
        spoken
            .0
            .iter()
            .any(|spoken| spoken == lang || spoken.split('-').next() == lang.split('-').next())
    };
    if wanted.is_empty() || wanted.iter().any(speaks) {
        Vec::new()
    } else {
        vec![format!(
            "the shift wants a speaker of {}; the person's languages are {}",
            wanted.join(", "),
            if spoken.0.is_empty() {
                "not recorded".to_owned()
            } else {
                spoken.0.join(", ")
            }
        )]
    }
}

/// Cancels a sign-up and, in the same transaction, promotes from the waitlist.
///
/// Volunteers may cancel their own until `self_cancel_lead` before the start;
/// organizers at any time before the end. Cancelling twice returns the cancelled sign-up.
pub async fn cancel(
    db: &DatabaseConnection,
    caller: &Caller,
    shift_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
    self_cancel_lead: Duration,
) -> Result<CancelOutcome, ApiError> {
    retry_contended(|| cancel_once(db, caller, shift_id, person_id, now, self_cancel_lead)).await
}

async fn cancel_once(
    db: &DatabaseConnection,
    caller: &Caller,
    shift_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
    self_cancel_lead: Duration,
) -> Result<CancelOutcome, ApiError> {
    let txn = begin_write(db).await?;
    let mut shift = lock_shift(&txn, caller, shift_id).await?;
    caller.require_acting_for(shift.community_id, person_id)?;
    let signup = signup_of(&txn, shift.id, person_id)
        .await?
        .ok_or_else(|| ApiError::not_found("sign-up"))?;
    match signup.status {
        SignupStatus::Cancelled => {
            return Ok(CancelOutcome {
                signup,
                promoted: Vec::new(),
            });
        }
        SignupStatus::Attended | SignupStatus::NoShow => {
            return Err(ApiError::conflict(
                "attendance is already recorded for this sign-up",
            ));
        }
        SignupStatus::Confirmed | SignupStatus::Waitlisted => {}
    }
    if shift.ends_at <= now {
        return Err(ApiError::conflict("the shift is over"));
    }
    if !caller.can_manage(shift.community_id) && now > shift.starts_at - self_cancel_lead {
        return Err(ApiError::conflict(format!(
            "sign-ups can be cancelled up to {} minutes before the start; ask an organizer",
            self_cancel_lead.num_minutes()
        )));
    }
    let was = signup.status;
    let position = signup.waitlist_position;
    let mut active = signup.into_active_model();
    active.status = Set(SignupStatus::Cancelled);
    active.waitlist_position = Set(None);
    active.cancel_reason = Set(Some(CancelReason::Withdrawn));
    active.updated_at = Set(now);
    let signup = active.update(&txn).await?;
    let mut promoted = Vec::new();
    if was == SignupStatus::Confirmed {
        shift.confirmed_count -= 1;
        promoted = promote_waitlist(&txn, &mut shift, now).await?;
    } else {
        shift.waitlist_count -= 1;
        if let Some(position) = position {
            close_gap(&txn, shift.id, position).await?;
        }
    }
    save_counts(&txn, &shift, now).await?;
    record(
        &txn,
        &shift,
        WebhookEventType::SignupCancelled,
        person_id,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(CancelOutcome { signup, promoted })
}

/// Cancels a shift and every sign-up on it.
pub async fn cancel_shift(
    db: &DatabaseConnection,
    caller: &Caller,
    shift_id: Uuid,
    now: DateTime<Utc>,
) -> Result<shift::Model, ApiError> {
    retry_contended(|| async {
        let txn = begin_write(db).await?;
        let mut shift = lock_shift(&txn, caller, shift_id).await?;
        caller.require_manage(shift.community_id)?;
        if shift.status == ShiftStatus::Cancelled {
            return Ok(shift);
        }
        if shift.ends_at <= now {
            return Err(ApiError::conflict("the shift is over"));
        }
        shift_signup::Entity::update_many()
            .col_expr(
                shift_signup::Column::Status,
                Expr::value(SignupStatus::Cancelled),
            )
            .col_expr(
                shift_signup::Column::WaitlistPosition,
                Expr::value(Option::<i32>::None),
            )
            .col_expr(
                shift_signup::Column::CancelReason,
                Expr::value(CancelReason::ShiftCancelled),
            )
            .col_expr(shift_signup::Column::UpdatedAt, Expr::value(now))
            .filter(shift_signup::Column::ShiftId.eq(shift.id))
            .filter(
                shift_signup::Column::Status
                    .is_in([SignupStatus::Confirmed, SignupStatus::Waitlisted]),
            )
            .exec(&txn)
            .await?;
        shift.status = ShiftStatus::Cancelled;
        shift.cancelled_at = Some(now);
        shift.confirmed_count = 0;
        shift.waitlist_count = 0;
        shift.version += 1;
        shift.updated_at = now;
        let shift = shift.into_active_model().reset_all().update(&txn).await?;
        let path = format!("/v1/shifts/{}", shift.id);
        webhooks::emit(
            &txn,
            shift.community_id,
            WebhookEventType::ShiftCancelled,
            &path,
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(shift)
    })
    .await
}

/// Records whether a confirmed volunteer came, and the hours to credit.
pub async fn record_attendance(
    db: &DatabaseConnection,
    caller: &Caller,
    shift_id: Uuid,
    person_id: Uuid,
    attended: bool,
    hours: Option<f64>,
    now: DateTime<Utc>,
) -> Result<shift_signup::Model, ApiError> {
    retry_contended(|| async {
        let txn = begin_write(db).await?;
        let shift = lock_shift(&txn, caller, shift_id).await?;
        caller.require_manage(shift.community_id)?;
        if shift.starts_at > now {
            return Err(ApiError::conflict(
                "attendance is recorded once the shift has started",
            ));
        }
        let signup = signup_of(&txn, shift.id, person_id)
            .await?
            .ok_or_else(|| ApiError::not_found("sign-up"))?;
        if !matches!(
            signup.status,
            SignupStatus::Confirmed | SignupStatus::Attended | SignupStatus::NoShow
        ) {
            return Err(ApiError::conflict(format!(
                "only confirmed volunteers have attendance; this sign-up is {}",
                signup.status.as_str()
            )));
        }
        let length = (shift.ends_at - shift.starts_at).num_minutes() as f64 / 60.0;
        let credited = match (attended, hours) {
            (false, _) => 0.0,
            (true, Some(hours)) => hours,
            (true, None) => (length * 100.0).round() / 100.0,
        };
        let mut active = signup.into_active_model();
        active.status = Set(if attended {
            SignupStatus::Attended
        } else {
            SignupStatus::NoShow
        });
        active.hours_credited = Set(Some(credited));
        active.updated_at = Set(now);
        let signup = active.update(&txn).await?;
        txn.commit().await?;
        Ok(signup)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statement built once and bound is the one built for the request itself.
    #[test]
    fn one_statement_binds_each_value_in_its_place() {
        let now = Utc::now();
        let (shift, person, signup) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        for community in [None, Some(Uuid::now_v7())] {
            let bound = OneStatement::bound(shift, person, signup, community, now);
            let built = DbBackend::Postgres
                .build(&sign_up_statement(shift, person, signup, community, now));
            assert_eq!(bound.sql, built.sql);
            assert_eq!(bound.values, built.values);
        }
    }
}
