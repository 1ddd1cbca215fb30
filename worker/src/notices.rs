//! Notices going out. When a notice's time has come, the planner writes one ledger row
//! per recipient in one transaction, each in the language of the notice its reader
//! reads best, spaced at the bulk rate.

use chrono::{DateTime, Utc};
use entities::enums::{NoticeAudience, NoticeState, RegistrationStatus, SignupStatus, SubjectType};
use entities::{community, notice, person};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select, TransactionTrait,
};
use uuid::Uuid;

use crate::audience;
use crate::kinds::MailKind;
use crate::locale::choose;
use crate::planner::Due;

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
    let mails = readers
        .into_iter()
        .map(|(person, locale)| {
            let locale = choose(&notice.body, &locale, &community.default_locale)
                .unwrap_or(crate::locale::FALLBACK);
            let due = Due {
                kind: MailKind::Notice,
                community_id: notice.community_id,
                recipient: person,
                subject_type: SubjectType::Notice,
                subject_id: notice.id,
                dedupe_key: format!("notice:{}:{person}", notice.id),
                due_at: now,
            };
            (due, locale.to_owned())
        })
        .collect();
    let written = crate::bulk::enqueue(&txn, mails, per_minute, now).await?;
    notice::Entity::update_many()
        .col_expr(notice::Column::Recipients, Expr::value(written as i32))
        .filter(notice::Column::Id.eq(notice.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(notice = %notice.id, recipients = written, "notice sent out");
    Ok(written as usize)
}

/// The people a notice goes to.
fn audience(notice: &notice::Model, community: &community::Model) -> Select<person::Entity> {
    let of = notice.audience_id.unwrap_or_default();
    match notice.audience {
        NoticeAudience::Community => audience::people(community.id),
        NoticeAudience::ForeignResidents => audience::foreign_residents(community),
        NoticeAudience::StationVolunteers => audience::at_station(community.id, of),
        NoticeAudience::Shift => audience::on_shift(
            community.id,
            of,
            [SignupStatus::Confirmed, SignupStatus::Waitlisted],
        ),
        NoticeAudience::Event => audience::at_event(
            community.id,
            of,
            [
                RegistrationStatus::Registered,
                RegistrationStatus::Waitlisted,
                RegistrationStatus::CheckedIn,
            ],
        ),
    }
}
