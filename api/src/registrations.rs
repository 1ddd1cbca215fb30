//! Event registrations: capacity, the waitlist, check-ins and no-shows.
//!
//! The same discipline as shift sign-ups: each change is one transaction that first
//! locks the event row, so the capacity check and the insert are one atomic step.

use chrono::{DateTime, Utc};
use entities::enums::{CancelReason, EventStatus, RegistrationStatus, WebhookEventType};
use entities::{event, event_registration, person};
use huashen_worker::webhooks;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::{begin_write, retry_contended};
use crate::error::ApiError;

/// A cancelled registration and the people it made room for.
pub struct CancelOutcome {
    pub registration: event_registration::Model,
    pub promoted: Vec<event_registration::Model>,
}

/// Records `event_type` about `person_id`'s registration for `event` for the
/// community's webhooks, in the transaction of the change it reports.
async fn record(
    txn: &DatabaseTransaction,
    event: &event::Model,
    event_type: WebhookEventType,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let path = format!("/v1/events/{}/registrations/{person_id}", event.id);
    webhooks::emit(txn, event.community_id, event_type, &path, now).await?;
    Ok(())
}

/// Drafts are seen only by those who may manage the community.
pub fn may_see(caller: Option<&Caller>, event: &event::Model) -> bool {
    crate::public::event_is_public(event)
        || caller.is_some_and(|c| c.can_manage(event.community_id))
}

/// Locks and loads an event the caller may see (drafts only for its managers).
async fn lock_event(
    txn: &DatabaseTransaction,
    caller: &Caller,
    id: Uuid,
) -> Result<event::Model, ApiError> {
    event::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .filter(|e| caller.can_read(e.community_id) && may_see(Some(caller), e))
        .ok_or_else(|| ApiError::not_found("event"))
}

async fn save_counts(
    txn: &DatabaseTransaction,
    event: &event::Model,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    event::Entity::update_many()
        .col_expr(
            event::Column::RegisteredCount,
            Expr::value(event.registered_count),
        )
        .col_expr(
            event::Column::WaitlistCount,
            Expr::value(event.waitlist_count),
        )
        .col_expr(
            event::Column::Version,
            Expr::col(event::Column::Version).add(1),
        )
        .col_expr(event::Column::UpdatedAt, Expr::value(now))
        .filter(event::Column::Id.eq(event.id))
        .exec(txn)
        .await?;
    Ok(())
}

async fn close_gap(
    txn: &DatabaseTransaction,
    event_id: Uuid,
    position: i32,
) -> Result<(), ApiError> {
    event_registration::Entity::update_many()
        .col_expr(
            event_registration::Column::WaitlistPosition,
            Expr::col(event_registration::Column::WaitlistPosition).sub(1),
        )
        .filter(event_registration::Column::EventId.eq(event_id))
        .filter(event_registration::Column::Status.eq(RegistrationStatus::Waitlisted))
        .filter(event_registration::Column::WaitlistPosition.gt(position))
        .exec(txn)
        .await?;
    Ok(())
}

/// Registers the first in line while places are free, and records
/// `registration.promoted` for each.
pub async fn promote_waitlist(
    txn: &DatabaseTransaction,
    event: &mut event::Model,
    now: DateTime<Utc>,
) -> Result<Vec<event_registration::Model>, ApiError> {
    let free = std::cmp::min(
        event.capacity - event.registered_count,
        event.waitlist_count,
    );
    if free <= 0 {
        return Ok(Vec::new());
    }
    let first = event_registration::Entity::find()
        .filter(event_registration::Column::EventId.eq(event.id))
        .filter(event_registration::Column::Status.eq(RegistrationStatus::Waitlisted))
        .order_by_asc(event_registration::Column::WaitlistPosition)
        .limit(free as u64)
        .all(txn)
        .await?;
    let mut promoted = Vec::with_capacity(first.len());
    for registration in first {
        let mut active = registration.into_active_model();
        active.status = Set(RegistrationStatus::Registered);
        active.waitlist_position = Set(None);
        active.promoted_at = Set(Some(now));
        active.updated_at = Set(now);
        let registration = active.update(txn).await?;
        record(
            txn,
            event,
            WebhookEventType::RegistrationPromoted,
            registration.person_id,
            now,
        )
        .await?;
        promoted.push(registration);
    }
    let moved = promoted.len() as i32;
    // Everyone still in line moves up by the number promoted.
    event_registration::Entity::update_many()
        .col_expr(
            event_registration::Column::WaitlistPosition,
            Expr::col(event_registration::Column::WaitlistPosition).sub(moved),
        )
        .filter(event_registration::Column::EventId.eq(event.id))
        .filter(event_registration::Column::Status.eq(RegistrationStatus::Waitlisted))
        .exec(txn)
        .await?;
    event.registered_count += moved;
    event.waitlist_count -= moved;
    Ok(promoted)
}

/// Registers `person_id` for a published event within its registration window.
pub async fn register(
    db: &DatabaseConnection,
    caller: &Caller,
    event_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<event_registration::Model, ApiError> {
    retry_contended(|| register_once(db, caller, event_id, person_id, now)).await
}

async fn register_once(
    db: &DatabaseConnection,
    caller: &Caller,
    event_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<event_registration::Model, ApiError> {
    let txn = begin_write(db).await?;
    let mut event = lock_event(&txn, caller, event_id).await?;
    caller.require_acting_for(event.community_id, person_id)?;
    let person = person::Entity::find_by_id(person_id)
        .one(&txn)
        .await?
        .filter(|p| p.community_id == event.community_id)
        .ok_or_else(|| {
            ApiError::Unprocessable("no such person in the event's community".to_owned())
        })?;
    if event.status != EventStatus::Published {
        return Err(ApiError::conflict(format!(
            "the event is {}",
            event.status.as_str()
        )));
    }
    if event.registration_opens_at.is_some_and(|opens| now < opens) {
        return Err(ApiError::conflict("registration has not opened yet"));
    }
    if event
        .registration_closes_at
        .is_some_and(|closes| now >= closes)
        || now >= event.starts_at
    {
        return Err(ApiError::conflict("registration is closed"));
    }
    let existing = event_registration::Entity::find()
        .filter(event_registration::Column::EventId.eq(event.id))
        .filter(event_registration::Column::PersonId.eq(person.id))
        .one(&txn)
        .await?;
    if let Some(existing) = &existing
        && existing.status != RegistrationStatus::Cancelled
    {
        return Err(ApiError::conflict(format!(
            "the person is already registered for this event ({})",
            existing.status.as_str()
        )));
    }
    let (status, waitlist_position) = if event.registered_count < event.capacity {
        event.registered_count += 1;
        (RegistrationStatus::Registered, None)
    } else {
        event.waitlist_count += 1;
        (RegistrationStatus::Waitlisted, Some(event.waitlist_count))
    };
    let registration = match existing {
        Some(cancelled) => {
            let mut active = cancelled.into_active_model();
            active.status = Set(status);
            active.waitlist_position = Set(waitlist_position);
            active.checked_in_at = Set(None);
            active.cancel_reason = Set(None);
            active.updated_at = Set(now);
            active.update(&txn).await?
        }
        None => {
            event_registration::ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(event.id),
                person_id: Set(person.id),
                status: Set(status),
                waitlist_position: Set(waitlist_position),
                checked_in_at: Set(None),
                promoted_at: Set(None),
                cancel_reason: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    save_counts(&txn, &event, now).await?;
    record(
        &txn,
        &event,
        WebhookEventType::RegistrationCreated,
        person.id,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(registration)
}

/// Cancels a registration and promotes from the waitlist in the same transaction.
/// Cancelling twice returns the cancelled registration.
pub async fn cancel(
    db: &DatabaseConnection,
    caller: &Caller,
    event_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<CancelOutcome, ApiError> {
    retry_contended(|| async {
        let txn = begin_write(db).await?;
        let mut event = lock_event(&txn, caller, event_id).await?;
        caller.require_acting_for(event.community_id, person_id)?;
        let registration = event_registration::Entity::find()
            .filter(event_registration::Column::EventId.eq(event.id))
            .filter(event_registration::Column::PersonId.eq(person_id))
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::not_found("registration"))?;
        match registration.status {
            RegistrationStatus::Cancelled => {
                return Ok(CancelOutcome {
                    registration,
                    promoted: Vec::new(),
                });
            }
            RegistrationStatus::CheckedIn | RegistrationStatus::NoShow => {
                return Err(ApiError::conflict(
                    "attendance is already recorded for this registration",
                ));
            }
            RegistrationStatus::Registered | RegistrationStatus::Waitlisted => {}
        }
        if event.ends_at <= now {
            return Err(ApiError::conflict("the event is over"));
        }
        let was = registration.status;
        let position = registration.waitlist_position;
        let mut active = registration.into_active_model();
        active.status = Set(RegistrationStatus::Cancelled);
        active.waitlist_position = Set(None);
        active.cancel_reason = Set(Some(CancelReason::Withdrawn));
        active.updated_at = Set(now);
        let registration = active.update(&txn).await?;
        let mut promoted = Vec::new();
        if was == RegistrationStatus::Registered {
            event.registered_count -= 1;
            promoted = promote_waitlist(&txn, &mut event, now).await?;
        } else {
            event.waitlist_count -= 1;
            if let Some(position) = position {
                close_gap(&txn, event.id, position).await?;
            }
        }
        save_counts(&txn, &event, now).await?;
        record(
            &txn,
            &event,
            WebhookEventType::RegistrationCancelled,
            person_id,
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(CancelOutcome {
            registration,
            promoted,
        })
    })
    .await
}

/// Marks a registered person as arrived; checking in twice changes nothing.
pub async fn check_in(
    db: &DatabaseConnection,
    caller: &Caller,
    event_id: Uuid,
    person_id: Uuid,
    now: DateTime<Utc>,
) -> Result<event_registration::Model, ApiError> {
    retry_contended(|| async {
        let txn = begin_write(db).await?;
        let event = lock_event(&txn, caller, event_id).await?;
        caller.require_manage(event.community_id)?;
        if !matches!(
            event.status,
            EventStatus::Published | EventStatus::Completed
        ) {
            return Err(ApiError::conflict(format!(
                "the event is {}",
                event.status.as_str()
            )));
        }
        let registration = event_registration::Entity::find()
            .filter(event_registration::Column::EventId.eq(event.id))
            .filter(event_registration::Column::PersonId.eq(person_id))
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::not_found("registration"))?;
        let registration = match registration.status {
            RegistrationStatus::CheckedIn => registration,
            RegistrationStatus::Registered | RegistrationStatus::NoShow => {
                let mut active = registration.into_active_model();
                active.status = Set(RegistrationStatus::CheckedIn);
                active.checked_in_at = Set(Some(now));
                active.updated_at = Set(now);
                active.update(&txn).await?
            }
            other => {
                return Err(ApiError::conflict(format!(
                    "only registered people check in; this registration is {}",
                    other.as_str()
                )));
            }
        };
        txn.commit().await?;
        Ok(registration)
    })
    .await
}

/// After the event, marks everyone registered who did not check in as a no-show.
/// Returns how many were marked.
pub async fn mark_no_shows(
    db: &DatabaseConnection,
    caller: &Caller,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, ApiError> {
    retry_contended(|| async {
        let txn = begin_write(db).await?;
        let event = lock_event(&txn, caller, event_id).await?;
        caller.require_manage(event.community_id)?;
        if event.ends_at > now {
            return Err(ApiError::conflict(
                "no-shows are marked once the event has ended",
            ));
        }
        let marked = event_registration::Entity::update_many()
            .col_expr(
                event_registration::Column::Status,
                Expr::value(RegistrationStatus::NoShow),
            )
            .col_expr(event_registration::Column::UpdatedAt, Expr::value(now))
            .filter(event_registration::Column::EventId.eq(event.id))
            .filter(event_registration::Column::Status.eq(RegistrationStatus::Registered))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(marked)
    })
    .await
}

/// Moves an event from `draft` to `published`, or from either to `cancelled`; the
/// same status again changes nothing. Cancelling also cancels every registration.
pub async fn change_status(
    db: &DatabaseConnection,
    caller: &Caller,
    event_id: Uuid,
    to: EventStatus,
    now: DateTime<Utc>,
) -> Result<event::Model, ApiError> {
    retry_contended(|| async {
        let txn = begin_write(db).await?;
        let mut event = lock_event(&txn, caller, event_id).await?;
        caller.require_manage(event.community_id)?;
        if event.status == to {
            return Ok(event);
        }
        let allowed = matches!(
            (event.status, to),
            (EventStatus::Draft, EventStatus::Published)
                | (
                    EventStatus::Draft | EventStatus::Published,
                    EventStatus::Cancelled
                )
        );
        if !allowed {
            return Err(ApiError::conflict(format!(
                "a {} event cannot become {}",
                event.status.as_str(),
                to.as_str()
            )));
        }
        if to == EventStatus::Cancelled {
            event_registration::Entity::update_many()
                .col_expr(
                    event_registration::Column::Status,
                    Expr::value(RegistrationStatus::Cancelled),
                )
                .col_expr(
                    event_registration::Column::WaitlistPosition,
                    Expr::value(Option::<i32>::None),
                )
                .col_expr(
                    event_registration::Column::CancelReason,
                    Expr::value(CancelReason::EventCancelled),
                )
                .col_expr(event_registration::Column::UpdatedAt, Expr::value(now))
                .filter(event_registration::Column::EventId.eq(event.id))
                .filter(event_registration::Column::Status.is_in([
                    RegistrationStatus::Registered,
                    RegistrationStatus::Waitlisted,
                ]))
                .exec(&txn)
                .await?;
            event.registered_count = 0;
            event.waitlist_count = 0;
            event.cancelled_at = Some(now);
        }
        event.status = to;
        event.version += 1;
        event.updated_at = now;
        let event = event.into_active_model().reset_all().update(&txn).await?;
        let event_type = match to {
            EventStatus::Cancelled => Some(WebhookEventType::EventCancelled),
            EventStatus::Published => Some(WebhookEventType::EventPublished),
            EventStatus::Draft | EventStatus::Completed => None,
        };
        if let Some(event_type) = event_type {
            let path = format!("/v1/events/{}", event.id);
            webhooks::emit(&txn, event.community_id, event_type, &path, now).await?;
        }
        txn.commit().await?;
        Ok(event)
    })
    .await
}
