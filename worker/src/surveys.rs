//! Surveys going out: when an open survey's `opens_at` has come, the planner writes one
//! invitation per person of its audience and mails each a one-time link at the bulk
//! rate; `reminder_after_days` later it reminds those who have not answered.

use chrono::{DateTime, Duration, Utc};
use entities::enums::{RegistrationStatus, SubjectType, SurveyAudience, SurveyState};
use entities::{community, person, survey, survey_invitation};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::audience;
use crate::kinds::MailKind;
use crate::locale::choose;
use crate::planner::Due;

/// Where a survey stands at `now`: an open survey past `closes_at` is closed.
pub fn state_at(survey: &survey::Model, now: DateTime<Utc>) -> SurveyState {
    match survey.state {
        SurveyState::Open if now >= survey.closes_at => SurveyState::Closed,
        state => state,
    }
}

/// Whether the survey takes answers at `now`.
pub fn answerable(survey: &survey::Model, now: DateTime<Utc>) -> bool {
    state_at(survey, now) == SurveyState::Open && survey.opens_at <= now
}

/// Invites the audiences of surveys that have opened and reminds those who have not
/// answered; returns the ledger rows written.
pub async fn plan(
    db: &DatabaseConnection,
    per_minute: u32,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let mut written = 0;
    let opened = survey::Entity::find()
        .filter(survey::Column::State.eq(SurveyState::Open))
        .filter(survey::Column::OpensAt.lte(now))
        .filter(survey::Column::ClosesAt.gt(now))
        .filter(survey::Column::InvitedAt.is_null())
        .order_by_asc(survey::Column::OpensAt)
        .all(db)
        .await?;
    for survey in opened {
        written += invite(db, &survey, per_minute, now).await?;
    }
    let reminding = survey::Entity::find()
        .filter(survey::Column::State.eq(SurveyState::Open))
        .filter(survey::Column::ClosesAt.gt(now))
        .filter(survey::Column::InvitedAt.is_not_null())
        .filter(survey::Column::ReminderAfterDays.is_not_null())
        .all(db)
        .await?;
    for survey in reminding {
        written += remind(db, &survey, per_minute, now).await?;
    }
    Ok(written)
}

/// The people a survey asks.
fn audience(survey: &survey::Model, community: &community::Model) -> Select<person::Entity> {
    match survey.audience {
        SurveyAudience::Residents => audience::people(community.id),
        SurveyAudience::ForeignResidents => audience::foreign_residents(community),
        SurveyAudience::Volunteers => {
            audience::people(community.id).filter(person::Column::IsVolunteer.eq(true))
        }
        SurveyAudience::EventAttendees => audience::at_event(
            community.id,
            survey.audience_event_id.unwrap_or_default(),
            [RegistrationStatus::CheckedIn],
        ),
    }
}

fn mail(
    kind: MailKind,
    survey: &survey::Model,
    community: &community::Model,
    invitation: Uuid,
    person: Uuid,
    locale: &str,
    now: DateTime<Utc>,
) -> (Due, String) {
    let locale =
        choose(&survey.title, locale, &community.default_locale).unwrap_or(crate::locale::FALLBACK);
    let due = Due {
        kind,
        community_id: survey.community_id,
        recipient: person,
        subject_type: SubjectType::SurveyInvitation,
        subject_id: invitation,
        dedupe_key: format!("{}:{invitation}", kind.as_str()),
        due_at: now,
    };
    (due, locale.to_owned())
}

async fn invite(
    db: &DatabaseConnection,
    survey: &survey::Model,
    per_minute: u32,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let txn = db.begin().await?;
    let claimed = survey::Entity::update_many()
        .col_expr(survey::Column::InvitedAt, Expr::value(now))
        .filter(survey::Column::Id.eq(survey.id))
        .filter(survey::Column::InvitedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(0);
    }
    let Some(community) = community::Entity::find_by_id(survey.community_id)
        .one(&txn)
        .await?
    else {
        return Ok(0);
    };
    let readers: Vec<(Uuid, String)> = audience(survey, &community)
        .order_by_asc(person::Column::Id)
        .select_only()
        .column(person::Column::Id)
        .column(person::Column::Locale)
        .into_tuple()
        .all(&txn)
        .await?;
    let invitations: Vec<(Uuid, Uuid, String)> = readers
        .into_iter()
        .map(|(person, locale)| (Uuid::now_v7(), person, locale))
        .collect();
    for batch in invitations.chunks(500) {
        let rows = batch
            .iter()
            .map(|(id, person, _)| survey_invitation::ActiveModel {
                id: Set(*id),
                survey_id: Set(survey.id),
                person_id: Set(*person),
                token_hash: Set(None),
                reminder_token_hash: Set(None),
                created_at: Set(now),
                reminded_at: Set(None),
                answered_at: Set(None),
            });
        survey_invitation::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    survey_invitation::Column::SurveyId,
                    survey_invitation::Column::PersonId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    let mails = invitations
        .iter()
        .map(|(id, person, locale)| {
            mail(
                MailKind::SurveyInvitation,
                survey,
                &community,
                *id,
                *person,
                locale,
                now,
            )
        })
        .collect();
    let written = crate::bulk::enqueue(&txn, mails, per_minute, now).await?;
    txn.commit().await?;
    tracing::info!(survey = %survey.id, invited = written, "survey invitations queued");
    Ok(written as usize)
}

async fn remind(
    db: &DatabaseConnection,
    survey: &survey::Model,
    per_minute: u32,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let days = survey.reminder_after_days.unwrap_or_default();
    let txn = db.begin().await?;
    let due: Vec<(Uuid, Uuid, String)> = survey_invitation::Entity::find()
        .filter(survey_invitation::Column::SurveyId.eq(survey.id))
        .filter(survey_invitation::Column::AnsweredAt.is_null())
        .filter(survey_invitation::Column::RemindedAt.is_null())
        .filter(survey_invitation::Column::CreatedAt.lte(now - Duration::days(days.into())))
        .inner_join(person::Entity)
        .order_by_asc(survey_invitation::Column::Id)
        .select_only()
        .column(survey_invitation::Column::Id)
        .column(survey_invitation::Column::PersonId)
        .column(person::Column::Locale)
        .into_tuple()
        .all(&txn)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let Some(community) = community::Entity::find_by_id(survey.community_id)
        .one(&txn)
        .await?
    else {
        return Ok(0);
    };
    survey_invitation::Entity::update_many()
        .col_expr(survey_invitation::Column::RemindedAt, Expr::value(now))
        .filter(survey_invitation::Column::Id.is_in(due.iter().map(|(id, _, _)| *id)))
        .exec(&txn)
        .await?;
    let mails = due
        .iter()
        .map(|(id, person, locale)| {
            mail(
                MailKind::SurveyReminder,
                survey,
                &community,
                *id,
                *person,
                locale,
                now,
            )
        })
        .collect();
    let written = crate::bulk::enqueue(&txn, mails, per_minute, now).await?;
    txn.commit().await?;
    Ok(written as usize)
}

/// A fresh one-time link for `invitation` in a mail of `kind`, its hash stored in place
/// of the one an earlier attempt at the same mail made; `None` once it was answered.
pub async fn issue_link(
    db: &DatabaseConnection,
    kind: MailKind,
    invitation: &survey_invitation::Model,
) -> Result<Option<String>, DbErr> {
    let token = entities::token::new_token(24);
    let hash = entities::token::hash_token(&token);
    let column = if kind == MailKind::SurveyReminder {
        survey_invitation::Column::ReminderTokenHash
    } else {
        survey_invitation::Column::TokenHash
    };
    let issued = survey_invitation::Entity::update_many()
        .col_expr(column, Expr::value(hash))
        .filter(survey_invitation::Column::Id.eq(invitation.id))
        .filter(survey_invitation::Column::AnsweredAt.is_null())
        .exec(db)
        .await?;
    Ok((issued.rows_affected == 1).then_some(token))
}

/// The invitation a link's token belongs to.
pub fn by_token(token: &str) -> Select<survey_invitation::Entity> {
    let hash = entities::token::hash_token(token);
    survey_invitation::Entity::find().filter(
        sea_orm::Condition::any()
            .add(survey_invitation::Column::TokenHash.eq(hash.clone()))
            .add(survey_invitation::Column::ReminderTokenHash.eq(hash)),
    )
}
