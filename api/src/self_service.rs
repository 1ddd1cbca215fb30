//! People acting for themselves: the emailed one-time codes that sign them in or
//! confirm an address, the mail that carries them, and what a confirmed address
//! changes.
//!
//! A code's mail is written to the ledger in the same transaction as its challenge and
//! its job is queued at once, so it goes out within seconds; the secrets themselves
//! are made by the sender when it renders the mail, and only their hashes are stored.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use entities::enums::{ChallengePurpose, MailKind, PersonStatus, SubjectType, VolunteerApproval};
use entities::{api_key, community, email_challenge, person, token};
use huashen_worker::locale::mail_locale;
use huashen_worker::planner::{Due, enqueue};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use crate::auth::create_session;
use crate::db::begin_write;
use crate::error::ApiError;
use crate::state::AppState;

/// Sign-in and applications answer no sooner than this after the request arrived,
/// whether a mail was written or not, so their timing does not tell either.
const ANSWER_FLOOR: StdDuration = StdDuration::from_millis(300);

/// Waits out the rest of [`ANSWER_FLOOR`] since `started`.
pub async fn answer_alike(started: Instant) {
    tokio::time::sleep_until((started + ANSWER_FLOOR).into()).await;
}

/// Writes the ledger row of a mail of `kind` to `recipient`, due now, unless one with
/// `dedupe_key` exists; returns its id when written.
pub async fn write_mail(
    db: &impl ConnectionTrait,
    recipient: &person::Model,
    kind: MailKind,
    subject: (SubjectType, Uuid),
    dedupe_key: String,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, ApiError> {
    let default_locale = community::Entity::find_by_id(recipient.community_id)
        .one(db)
        .await?
        .map(|c| c.default_locale)
        .unwrap_or_default();
    let due = Due {
        kind,
        community_id: recipient.community_id,
        recipient: recipient.id,
        subject_type: subject.0,
        subject_id: subject.1,
        dedupe_key,
        due_at: now,
    };
    let locale = mail_locale(&recipient.locale, &default_locale);
    Ok(enqueue(db, &due, locale, now).await?)
}

/// Queues delivery of ledger rows already committed. A failure only delays them to the
/// worker's next planning run, which dispatches every due row.
pub async fn dispatch(state: &AppState, ids: impl IntoIterator<Item = Uuid>) {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    if ids.is_empty() {
        return;
    }
    if let Err(err) = state.mail.push_mail(ids).await {
        tracing::warn!(error = %err, "queueing mail failed; the planner will send it");
    }
}

/// The purposes a code answers in `/v1/sign-in/verify`.
const SIGN_IN_PURPOSES: [ChallengePurpose; 2] =
    [ChallengePurpose::SignIn, ChallengePurpose::VerifyEmail];

/// Starts a challenge for `person` and writes its mail; an earlier live code of the
/// same kind stops working, so only the newest mail counts. Returns the ledger row.
pub async fn start_challenge(
    db: &impl ConnectionTrait,
    person: &person::Model,
    purpose: ChallengePurpose,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, ApiError> {
    let replaced = match purpose {
        ChallengePurpose::ChangeEmail => vec![ChallengePurpose::ChangeEmail],
        _ => SIGN_IN_PURPOSES.to_vec(),
    };
    email_challenge::Entity::update_many()
        .col_expr(email_challenge::Column::UsedAt, Expr::value(now))
        .filter(email_challenge::Column::PersonId.eq(person.id))
        .filter(email_challenge::Column::Purpose.is_in(replaced))
        .filter(email_challenge::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    let challenge = email_challenge::ActiveModel {
        id: Set(Uuid::now_v7()),
        community_id: Set(person.community_id),
        person_id: Set(person.id),
        purpose: Set(purpose),
        email: Set(email.to_owned()),
        code_hash: Set(None),
        token_hash: Set(None),
        failed_attempts: Set(0),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(email_challenge::VALID_MINUTES)),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    let kind = match purpose {
        ChallengePurpose::SignIn => MailKind::SignIn,
        ChallengePurpose::VerifyEmail | ChallengePurpose::ChangeEmail => MailKind::VerifyEmail,
    };
    write_mail(
        db,
        person,
        kind,
        (SubjectType::EmailChallenge, challenge.id),
        format!("{}:{}", kind.as_str(), challenge.id),
        now,
    )
    .await
}

/// Marks `challenge` used if it still may be: single use, even when two requests race.
async fn use_up(
    db: &impl ConnectionTrait,
    challenge: &email_challenge::Model,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let used = email_challenge::Entity::update_many()
        .col_expr(email_challenge::Column::UsedAt, Expr::value(now))
        .filter(email_challenge::Column::Id.eq(challenge.id))
        .filter(email_challenge::Column::UsedAt.is_null())
        .filter(email_challenge::Column::ExpiresAt.gt(now))
        .filter(email_challenge::Column::FailedAttempts.lt(email_challenge::MAX_FAILED_ATTEMPTS))
        .exec(db)
        .await?;
    if used.rows_affected == 1 {
        Ok(())
    } else {
        Err(ApiError::CodeRejected)
    }
}

/// Answers the newest live challenge of `person_id` among `purposes` with `code`.
/// A wrong code counts against the challenge; the fifth kills it.
pub async fn answer_code(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    purposes: &[ChallengePurpose],
    code: &str,
    now: DateTime<Utc>,
) -> Result<email_challenge::Model, ApiError> {
    let newest = email_challenge::Entity::find()
        .filter(email_challenge::Column::PersonId.eq(person_id))
        .filter(email_challenge::Column::Purpose.is_in(purposes.to_vec()))
        .filter(email_challenge::Column::UsedAt.is_null())
        .order_by_desc(email_challenge::Column::CreatedAt)
        .one(db)
        .await?
        .ok_or(ApiError::CodeRejected)?;
    let Some(stored) = &newest.code_hash else {
        return Err(ApiError::CodeRejected);
    };
    if *stored != token::hash_code(&newest.id.to_string(), code) {
        email_challenge::Entity::update_many()
            .col_expr(
                email_challenge::Column::FailedAttempts,
                Expr::col(email_challenge::Column::FailedAttempts).add(1),
            )
            .filter(email_challenge::Column::Id.eq(newest.id))
            .exec(db)
            .await?;
        return Err(ApiError::CodeRejected);
    }
    use_up(db, &newest, now).await?;
    Ok(newest)
}

/// Answers a sign-in challenge by the token of its link.
pub async fn answer_token(
    db: &impl ConnectionTrait,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<email_challenge::Model, ApiError> {
    let challenge = email_challenge::Entity::find()
        .filter(email_challenge::Column::TokenHash.eq(token::hash_token(secret)))
        .filter(email_challenge::Column::Purpose.is_in(SIGN_IN_PURPOSES.to_vec()))
        .one(db)
        .await?
        .ok_or(ApiError::CodeRejected)?;
    use_up(db, &challenge, now).await?;
    Ok(challenge)
}

/// A signed-in person: their session key's secret and what it is.
pub struct Session {
    pub secret: String,
    pub key: api_key::Model,
    pub person: person::Model,
}

/// Signs in the person of an answered sign-in challenge. Their address is now
/// confirmed: an applicant becomes active, or pending where an organizer approves
/// volunteers.
pub async fn sign_in(
    state: &AppState,
    challenge: &email_challenge::Model,
    now: DateTime<Utc>,
) -> Result<Session, ApiError> {
    let txn = begin_write(&state.db).await?;
    let person = person::Entity::find_by_id(challenge.person_id)
        .one(&txn)
        .await?
        .filter(|p| p.erased_at.is_none())
        .ok_or(ApiError::CodeRejected)?;
    let person = if person.email_verified_at.is_none() || person.status == PersonStatus::Unverified
    {
        let community = community::Entity::find_by_id(person.community_id)
            .one(&txn)
            .await?
            .ok_or(ApiError::CodeRejected)?;
        let status = match person.status {
            PersonStatus::Unverified
                if person.is_volunteer
                    && community.volunteer_approval == VolunteerApproval::Organizer =>
            {
                PersonStatus::Pending
            }
            PersonStatus::Unverified => PersonStatus::Active,
            other => other,
        };
        let version = person.version;
        let mut active = person.into_active_model();
        active.email_verified_at = Set(Some(now));
        active.status = Set(status);
        active.updated_at = Set(now);
        active.version = Set(version + 1);
        active.update(&txn).await?
    } else {
        person
    };
    let (key, secret) = create_session(&txn, &person, state.settings.session_lifetime).await?;
    txn.commit().await?;
    Ok(Session {
        secret,
        key,
        person,
    })
}

/// The live person of `community_id` whose address is `email`, if any.
pub async fn person_by_email(
    db: &impl ConnectionTrait,
    community_id: Uuid,
    email: &str,
) -> Result<Option<person::Model>, ApiError> {
    Ok(person::Entity::find()
        .filter(person::Column::CommunityId.eq(community_id))
        .filter(person::Column::EmailNormalized.eq(normalize_email(email)))
        .filter(person::Column::ErasedAt.is_null())
        .one(db)
        .await?)
}

/// How addresses are compared: trimmed, any case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Sends a sign-in code to `person` now: the challenge and its mail in one transaction,
/// then the job.
pub async fn send_code(
    state: &AppState,
    person: &person::Model,
    purpose: ChallengePurpose,
    email: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let txn = begin_write(&state.db).await?;
    let mail = start_challenge(&txn, person, purpose, email, now).await?;
    txn.commit().await?;
    dispatch(state, mail).await;
    Ok(())
}
