//! `/v1/events/{id}/registrations`, check-ins and no-shows.

use chrono::{DateTime, Utc};
use entities::enums::RegistrationStatus;
use entities::{event, event_registration};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use uuid::Uuid;

use super::{Result, Tag};
use crate::auth::{ApiKey, StaffKey};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::registrations;
use crate::state::AppState;
use crate::time::now;

/// A resident's registration (or place in line) for an event.
#[derive(Object)]
pub struct Registration {
    pub id: Uuid,
    pub event_id: Uuid,
    pub person_id: Uuid,
    pub status: RegistrationStatus,
    /// 1-based place in line while waitlisted.
    pub waitlist_position: Option<i32>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<event_registration::Model> for Registration {
    fn from(m: event_registration::Model) -> Self {
        Self {
            id: m.id,
            event_id: m.event_id,
            person_id: m.person_id,
            status: m.status,
            waitlist_position: m.waitlist_position,
            checked_in_at: m.checked_in_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Who registers, or checks in.
#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct PersonRef {
    pub person_id: Uuid,
}

#[derive(Object)]
pub struct RegistrationCancellation {
    pub registration: Registration,
    pub promoted: Vec<Registration>,
}

#[derive(Object)]
pub struct NoShows {
    /// Registrations marked `no_show` by this call.
    pub marked: u64,
}

#[derive(ApiResponse)]
pub enum RegistrationCreated {
    /// Registered, or waitlisted with a place in line.
    #[oai(status = 201)]
    Created(Json<Registration>),
}

pub struct RegistrationsApi;

#[OpenApi(tag = "Tag::Events")]
impl RegistrationsApi {
    /// Register for a published event while registration is open. Volunteer keys register
    /// their own person; organizers anyone of their community. Accepts `Idempotency-Key`.
    #[oai(
        path = "/v1/events/:id/registrations",
        method = "post",
        operation_id = "createRegistration"
    )]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        body: JsonBody<PersonRef>,
    ) -> Result<RegistrationCreated> {
        let registration =
            registrations::register(&state.db, &caller, id.0, body.0.person_id, now()).await?;
        Ok(RegistrationCreated::Created(Json(registration.into())))
    }

    /// List an event's registrations (organizers), oldest first.
    #[oai(
        path = "/v1/events/:id/registrations",
        method = "get",
        operation_id = "listRegistrations"
    )]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        status: Query<Option<RegistrationStatus>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Registration>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let event = event::Entity::find_by_id(id.0)
            .one(&state.db)
            .await?
            .filter(|e| caller.can_read(e.community_id))
            .ok_or_else(|| ApiError::not_found("event"))?;
        caller.require_manage(event.community_id)?;
        let mut select = event_registration::Entity::find()
            .filter(event_registration::Column::EventId.eq(event.id));
        if let Some(status) = status.0 {
            select = select.filter(event_registration::Column::Status.eq(status));
        }
        let rows = page
            .by_id(select, event_registration::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Registration::from,
        )))
    }

    /// Cancel a registration; the first in line moves up in the same transaction.
    #[oai(
        path = "/v1/events/:id/registrations/:person_id",
        method = "delete",
        operation_id = "cancelRegistration"
    )]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        person_id: Path<Uuid>,
    ) -> Result<Json<RegistrationCancellation>> {
        let outcome = registrations::cancel(&state.db, &caller, id.0, person_id.0, now()).await?;
        Ok(Json(RegistrationCancellation {
            registration: outcome.registration.into(),
            promoted: outcome
                .promoted
                .into_iter()
                .map(Registration::from)
                .collect(),
        }))
    }

    /// Check a registered person in (organizers); checking in twice changes nothing.
    /// Accepts `Idempotency-Key`.
    #[oai(
        path = "/v1/events/:id/check-ins",
        method = "post",
        operation_id = "checkIn"
    )]
    async fn check_in(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        body: JsonBody<PersonRef>,
    ) -> Result<Json<Registration>> {
        let registration =
            registrations::check_in(&state.db, &caller, id.0, body.0.person_id, now()).await?;
        Ok(Json(registration.into()))
    }

    /// After the event, mark everyone registered who did not check in as `no_show`.
    #[oai(
        path = "/v1/events/:id/no-shows",
        method = "post",
        operation_id = "markNoShows"
    )]
    async fn no_shows(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Json<NoShows>> {
        let marked = registrations::mark_no_shows(&state.db, &caller, id.0, now()).await?;
        Ok(Json(NoShows { marked }))
    }
}

impl poem_openapi::types::Example for PersonRef {
    fn example() -> Self {
        Self {
            person_id: super::example_id(3),
        }
    }
}
