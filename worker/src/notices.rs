//! Notices going out. When a notice's time has come, the planner writes one ledger row
//! per recipient in one transaction, each in the language of the notice its reader
//! reads best, and spaces their due times at the notice rate (after any notice mail
//! still queued), so that thousands of residents do not trip the SMTP server and the
//! rate holds however many workers send.

use chrono::{DateTime, Duration, Utc};
use entities::enums::{
    NoticeAudience, NoticeState, NotificationStatus, PersonStatus, RegistrationStatus,
    SignupStatus, SubjectType,
};
use entities::{community, event_registration, notice, notification, person, shift, shift_signup};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};
use uuid::Uuid;

use crate::kinds::MailKind;
use crate::locale::choose;
use crate::planner::{Due, ledger_row};

/// Notice mails per minute unless `HUASHEN_NOTICE_RATE` says otherwise.
pub const DEFAULT_RATE: u32 = 120;

/// Rows written per statement.
const BATCH: usize = 500;

/// Sends out every scheduled notice whose time has come; returns the rows written.
pub async fn plan(
    db: &DatabaseConnection,
    per_minute: u32,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let due = notice::Entity::find()
        .filter(notice::Column::State.eq(NoticeState::Scheduled))
        .filter(notice::Column::SendAt.lte(now))
        .order_by_asc(notice::Column::SendAt)
        .order_by_asc(notice::Column::Id)
        .all(db)
        .await?;
    let mut written = 0;
    for notice in due {
        written += send_out(db, &notice, per_minute, now).await?;
    }
    Ok(written)
}

/// The time between two notice mails.
pub fn interval(per_minute: u32) -> Duration {
    Duration::microseconds(60_000_000 / i64::from(std::cmp::max(per_minute, 1)))
}

async fn send_out(
    db: &DatabaseConnection,
    notice: &notice::Model,
    per_minute: u32,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let txn = db.begin().await?;
    // Whoever moves it on from `scheduled` sends it; a cancellation may have come first.
    let claimed = notice::Entity::update_many()
        .col_expr(notice::Column::State, Expr::value(NoticeState::Sending))
        .col_expr(notice::Column::UpdatedAt, Expr::value(now))
        .filter(notice::Column::Id.eq(notice.id))
        .filter(notice::Column::State.eq(NoticeState::Scheduled))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(0);
    }
    let Some(community) = community::Entity::find_by_id(notice.community_id)
        .one(&txn)
        .await?
    else {
        return Ok(0);
    };
    let readers: Vec<(Uuid, String)> = audience(notice, &community)
        .order_by_asc(person::Column::Id)
        .select_only()
        .column(person::Column::Id)
        .column(person::Column::Locale)
        .into_tuple()
        .all(&txn)
        .await?;
    let tail: Option<DateTime<Utc>> = notification::Entity::find()
        .select_only()
        .expr(notification::Column::DueAt.max())
        .filter(notification::Column::Kind.eq(MailKind::Notice))
        .filter(notification::Column::Status.eq(NotificationStatus::Queued))
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(&txn)
        .await?
        .flatten();
    let step = interval(per_minute);
    let first = tail.map_or(now, |tail| std::cmp::max(tail + step, now));
    let rows: Vec<_> = readers
        .iter()
        .enumerate()
        .map(|(i, (person, locale))| {
            let locale = choose(&notice.body, locale, &community.default_locale).unwrap_or("en");
            let due = Due {
                kind: MailKind::Notice,
                community_id: notice.community_id,
                recipient: *person,
                subject_type: SubjectType::Notice,
                subject_id: notice.id,
                dedupe_key: format!("notice:{}:{person}", notice.id),
                due_at: first + step * i as i32,
            };
            ledger_row(&due, locale, now)
                .into_active_model()
                .reset_all()
        })
        .collect();
    let mut written = 0;
    for batch in rows.chunks(BATCH) {
        written += notification::Entity::insert_many(batch.to_vec())
            .on_conflict(
                OnConflict::column(notification::Column::DedupeKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    notice::Entity::update_many()
        .col_expr(notice::Column::Recipients, Expr::value(written as i32))
        .filter(notice::Column::Id.eq(notice.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(notice = %notice.id, recipients = written, "notice sent out");
    Ok(written as usize)
}

/// The people a notice goes to: not erased, their address confirmed.
fn audience(notice: &notice::Model, community: &community::Model) -> Select<person::Entity> {
    let people = person::Entity::find()
        .filter(person::Column::CommunityId.eq(notice.community_id))
        .filter(person::Column::ErasedAt.is_null())
        .filter(person::Column::Status.ne(PersonStatus::Unverified));
    let of = notice.audience_id.unwrap_or_default();
    match notice.audience {
        NoticeAudience::Community => people,
        NoticeAudience::ForeignResidents => {
            people.filter(person::Column::Nationality.ne(community.country.clone()))
        }
        NoticeAudience::StationVolunteers => people.filter(
            person::Column::Id.in_subquery(
                Query::select()
                    .column(shift_signup::Column::PersonId)
                    .from(shift_signup::Entity)
                    .inner_join(
                        shift::Entity,
                        Expr::col((shift::Entity, shift::Column::Id))
                            .equals((shift_signup::Entity, shift_signup::Column::ShiftId)),
                    )
                    .and_where(shift::Column::StationId.eq(of))
                    .and_where(shift_signup::Column::Status.ne(SignupStatus::Cancelled))
                    .to_owned(),
            ),
        ),
        NoticeAudience::Shift => people.filter(
            person::Column::Id.in_subquery(
                Query::select()
                    .column(shift_signup::Column::PersonId)
                    .from(shift_signup::Entity)
                    .and_where(shift_signup::Column::ShiftId.eq(of))
                    .and_where(
                        shift_signup::Column::Status
                            .is_in([SignupStatus::Confirmed, SignupStatus::Waitlisted]),
                    )
                    .to_owned(),
            ),
        ),
        NoticeAudience::Event => people.filter(
            person::Column::Id.in_subquery(
                Query::select()
                    .column(event_registration::Column::PersonId)
                    .from(event_registration::Entity)
                    .and_where(event_registration::Column::EventId.eq(of))
                    .and_where(event_registration::Column::Status.is_in([
                        RegistrationStatus::Registered,
                        RegistrationStatus::Waitlisted,
                        RegistrationStatus::CheckedIn,
                    ]))
                    .to_owned(),
            ),
        ),
    }
}
