//! A person's data: everything Huashen holds about them, and erasing it.
//!
//! Erasure anonymises rather than deletes, so volunteer hours and attendance totals
//! stay right: the person's row keeps its id and its sign-ups, but loses every
//! personal detail; upcoming places are given up (moving the waitlists on),
//! feedback and survey answers are detached from them, their keys, sessions, codes,
//! feedback and survey links stop working and mail still queued for them is skipped. Each export and erasure is audited.

use chrono::{DateTime, Utc};
use entities::enums::{NotificationStatus, PersonStatus, RegistrationStatus, SignupStatus};
use entities::json::TagList;
use entities::{
    api_key, audit_entry, email_challenge, event, event_registration, feedback, notification,
    person, shift, shift_signup, survey_invitation, survey_response,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{registrations, signups};

/// The name an erased person is shown under.
pub const ERASED_NAME: &str = "(erased)";
/// ISO 3166-1 user-assigned code for "unknown", kept for erased people.
pub const UNKNOWN_COUNTRY: &str = "ZZ";

/// Records that `caller` did `action` to `person`'s data.
pub async fn audit(
    db: &impl ConnectionTrait,
    caller: &Caller,
    action: &str,
    person: &person::Model,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    audit_entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        action: Set(action.to_owned()),
        api_key_id: Set(caller.key_id),
        community_id: Set(person.community_id),
        person_id: Set(person.id),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Everything held about a person, gathered for an export.
pub struct Holdings {
    pub person: person::Model,
    pub signups: Vec<(shift_signup::Model, Option<shift::Model>)>,
    pub registrations: Vec<(event_registration::Model, Option<event::Model>)>,
    pub feedback: Vec<feedback::Model>,
    pub survey_responses: Vec<survey_response::Model>,
    pub notifications: Vec<notification::Model>,
    pub api_keys: Vec<api_key::Model>,
}

pub async fn holdings(
    db: &DatabaseConnection,
    person: person::Model,
) -> Result<Holdings, ApiError> {
    let id = person.id;
    Ok(Holdings {
        signups: shift_signup::Entity::find()
            .find_also_related(shift::Entity)
            .filter(shift_signup::Column::PersonId.eq(id))
            .all(db)
            .await?,
        registrations: event_registration::Entity::find()
            .find_also_related(event::Entity)
            .filter(event_registration::Column::PersonId.eq(id))
            .all(db)
            .await?,
        feedback: feedback::Entity::find()
            .filter(feedback::Column::PersonId.eq(id))
            .all(db)
            .await?,
        survey_responses: survey_response::Entity::find()
            .filter(survey_response::Column::PersonId.eq(id))
            .all(db)
            .await?,
        notifications: notification::Entity::find()
            .filter(notification::Column::RecipientId.eq(id))
            .all(db)
            .await?,
        api_keys: api_key::Entity::find()
            .filter(api_key::Column::PersonId.eq(id))
            .all(db)
            .await?,
        person,
    })
}

/// Erases `person`'s personal data (see the module documentation). Erasing twice
/// changes nothing more.
pub async fn erase(
    db: &DatabaseConnection,
    caller: &Caller,
    person: person::Model,
    now: DateTime<Utc>,
    self_cancel_lead: chrono::Duration,
) -> Result<person::Model, ApiError> {
    if person.erased_at.is_some() {
        return Ok(person);
    }
    // Give up upcoming places first, each in its own transaction that moves the line on.
    // An organizer acts here, so no cancellation deadline applies.
    let organizer = Caller {
        role: entities::enums::Role::Admin,
        ..caller.clone()
    };
    let places = shift_signup::Entity::find()
        .find_also_related(shift::Entity)
        .filter(shift_signup::Column::PersonId.eq(person.id))
        .filter(
            shift_signup::Column::Status.is_in([SignupStatus::Confirmed, SignupStatus::Waitlisted]),
        )
        .filter(shift::Column::EndsAt.gt(now))
        .all(db)
        .await?;
    for (signup, _) in places {
        signups::cancel(
            db,
            &organizer,
            signup.shift_id,
            person.id,
            now,
            self_cancel_lead,
        )
        .await?;
    }
    let seats = event_registration::Entity::find()
        .find_also_related(event::Entity)
        .filter(event_registration::Column::PersonId.eq(person.id))
        .filter(event_registration::Column::Status.is_in([
            RegistrationStatus::Registered,
            RegistrationStatus::Waitlisted,
        ]))
        .filter(event::Column::EndsAt.gt(now))
        .all(db)
        .await?;
    for (registration, _) in seats {
        registrations::cancel(db, &organizer, registration.event_id, person.id, now).await?;
    }

    let txn = db.begin().await?;
    feedback::Entity::update_many()
        .col_expr(
            feedback::Column::PersonId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(feedback::Column::ExpiresAt, Expr::value(now))
        .filter(feedback::Column::PersonId.eq(person.id))
        .filter(feedback::Column::SubmittedAt.is_null())
        .exec(&txn)
        .await?;
    feedback::Entity::update_many()
        .col_expr(
            feedback::Column::PersonId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(feedback::Column::PersonId.eq(person.id))
        .exec(&txn)
        .await?;
    survey_response::Entity::update_many()
        .col_expr(
            survey_response::Column::PersonId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            survey_response::Column::InvitationId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(survey_response::Column::PersonId.eq(person.id))
        .exec(&txn)
        .await?;
    survey_invitation::Entity::delete_many()
        .filter(survey_invitation::Column::PersonId.eq(person.id))
        .exec(&txn)
        .await?;
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .filter(api_key::Column::PersonId.eq(person.id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    email_challenge::Entity::delete_many()
        .filter(email_challenge::Column::PersonId.eq(person.id))
        .exec(&txn)
        .await?;
    notification::Entity::update_many()
        .col_expr(
            notification::Column::Status,
            Expr::value(NotificationStatus::Skipped),
        )
        .col_expr(
            notification::Column::SkipReason,
            Expr::value("the recipient's data was erased"),
        )
        .col_expr(notification::Column::UpdatedAt, Expr::value(now))
        .filter(notification::Column::RecipientId.eq(person.id))
        .filter(notification::Column::Status.eq(NotificationStatus::Queued))
        .exec(&txn)
        .await?;
    let erased_email = format!("erased-{}@erased.invalid", person.id);
    let mut active = person.clone().into_active_model();
    active.full_name = Set(ERASED_NAME.to_owned());
    active.email = Set(erased_email.clone());
    active.email_normalized = Set(erased_email);
    active.phone = Set(None);
    active.nationality = Set(UNKNOWN_COUNTRY.to_owned());
    active.birthday = Set(None);
    active.birthday_md = Set(None);
    active.languages = Set(TagList::default());
    active.skills = Set(TagList::default());
    active.is_organizer = Set(false);
    active.moved_in_on = Set(None);
    active.moving_out_on = Set(None);
    active.notify_reminders = Set(false);
    active.notify_birthday = Set(false);
    active.notify_feedback = Set(false);
    active.notify_notices = Set(false);
    active.notify_surveys = Set(false);
    active.erased_at = Set(Some(now));
    // Nothing awaits approval any more.
    active.status = Set(PersonStatus::Active);
    active.calendar_token_hash = Set(None);
    active.updated_at = Set(now);
    active.version = Set(person.version + 1);
    let erased = active.update(&txn).await?;
    audit(&txn, caller, "erase", &erased, now).await?;
    txn.commit().await?;
    Ok(erased)
}
