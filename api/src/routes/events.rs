//! `/v1/events`

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::EventStatus;
use entities::json::LocalizedText;
use entities::{community, event};
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{Created, Deleted, Fetched, Result, Tag, check_if_match, etag};
use crate::auth::{Caller, OptionalApiKey, StaffKey};
use crate::body::JsonBody;
use crate::db::{begin_write, retry_contended};
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::qr::QrImage;
use crate::registrations;
use crate::state::AppState;
use crate::time::now;
use crate::validate::Checks;

/// A cultural-exchange event.
#[derive(Object)]
pub struct Event {
    pub id: Uuid,
    pub community_id: Uuid,
    /// The title in several languages, keyed by locale.
    pub title: BTreeMap<String, String>,
    pub description: BTreeMap<String, String>,
    /// Free-form, e.g. `festival`, `language`, `cooking`.
    pub category: String,
    pub venue: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub registration_opens_at: Option<DateTime<Utc>>,
    pub registration_closes_at: Option<DateTime<Utc>>,
    pub status: EventStatus,
    pub registered_count: i32,
    pub waitlist_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<event::Model> for Event {
    fn from(m: event::Model) -> Self {
        Self {
            id: m.id,
            community_id: m.community_id,
            title: m.title.0,
            description: m.description.0,
            category: m.category,
            venue: m.venue,
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            capacity: m.capacity,
            registration_opens_at: m.registration_opens_at,
            registration_closes_at: m.registration_closes_at,
            status: m.status,
            registered_count: m.registered_count,
            waitlist_count: m.waitlist_count,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct EventCreate {
    pub community_id: Uuid,
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub title: BTreeMap<String, String>,
    #[oai(default)]
    #[serde(default)]
    #[oai(validator(max_properties = 20, max_length = 8000))]
    pub description: BTreeMap<String, String>,
    #[oai(validator(min_length = 1, max_length = 64))]
    pub category: String,
    #[oai(validator(min_length = 1, max_length = 500))]
    pub venue: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub capacity: i32,
    pub registration_opens_at: Option<DateTime<Utc>>,
    pub registration_closes_at: Option<DateTime<Utc>>,
}

#[derive(Object, Deserialize, Clone, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct EventPatch {
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub title: Option<BTreeMap<String, String>>,
    #[oai(validator(max_properties = 20, max_length = 8000))]
    pub description: Option<BTreeMap<String, String>>,
    #[oai(validator(min_length = 1, max_length = 64))]
    pub category: Option<String>,
    #[serde(default)]
    #[oai(validator(min_length = 1, max_length = 500))]
    pub venue: MaybeUndefined<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub capacity: Option<i32>,
    #[serde(default)]
    pub registration_opens_at: MaybeUndefined<DateTime<Utc>>,
    #[serde(default)]
    pub registration_closes_at: MaybeUndefined<DateTime<Utc>>,
}

impl EventPatch {
    /// `current` with this patch's fields applied.
    fn apply(&self, current: &event::Model) -> event::Model {
        let patch = self.clone();
        let mut next = current.clone();
        if let Some(title) = patch.title {
            next.title = LocalizedText(title);
        }
        if let Some(description) = patch.description {
            next.description = LocalizedText(description);
        }
        if let Some(category) = patch.category {
            next.category = category;
        }
        patch.venue.update_to(&mut next.venue);
        if let Some(t) = patch.starts_at {
            next.starts_at = t.trunc_subsecs(6);
        }
        if let Some(t) = patch.ends_at {
            next.ends_at = t.trunc_subsecs(6);
        }
        if let Some(capacity) = patch.capacity {
            next.capacity = capacity;
        }
        patch
            .registration_opens_at
            .map_value(|t| t.trunc_subsecs(6))
            .update_to(&mut next.registration_opens_at);
        patch
            .registration_closes_at
            .map_value(|t| t.trunc_subsecs(6))
            .update_to(&mut next.registration_closes_at);
        next
    }
}

fn check_event(checks: &mut Checks, e: &event::Model) {
    checks.localized("title", &e.title.0, true);
    checks.localized("description", &e.description.0, false);
    checks.interval(e.starts_at, e.ends_at);
    if let (Some(opens), Some(closes)) = (e.registration_opens_at, e.registration_closes_at) {
        checks.ensure(
            opens < closes,
            "registration_closes_at",
            "order",
            "registration must close after it opens",
        );
    }
    if let Some(closes) = e.registration_closes_at {
        checks.ensure(
            closes <= e.ends_at,
            "registration_closes_at",
            "order",
            "registration must close by the end of the event",
        );
    }
}

fn tagged(model: event::Model) -> (Json<Event>, String) {
    let tag = etag(model.version);
    (Json(model.into()), tag)
}

/// Loads an event the caller may see; hidden drafts are 404 so they do not leak.
async fn visible(state: &AppState, caller: Option<&Caller>, id: Uuid) -> Result<event::Model> {
    event::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|e| registrations::may_see(caller, e))
        .ok_or_else(|| ApiError::not_found("event"))
}

/// Loads an event the caller may change.
async fn managed(state: &AppState, caller: &Caller, id: Uuid) -> Result<event::Model> {
    let event = visible(state, Some(caller), id).await?;
    caller.require_manage(event.community_id)?;
    Ok(event)
}

pub struct EventsApi;

#[OpenApi(prefix_path = "/v1/events", tag = "Tag::Events")]
impl EventsApi {
    /// Create an event as a draft (admin, or the community's organizers).
    #[oai(path = "/", method = "post", operation_id = "createEvent")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<EventCreate>,
    ) -> Result<Created<Event>> {
        let body = body.0;
        caller.require_manage(body.community_id)?;
        let mut checks = Checks::default();
        let community = community::Entity::find_by_id(body.community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::invalid("community_id", "not_found", "no such community"))?;
        let now = now();
        let model = event::Model {
            id: Uuid::now_v7(),
            community_id: community.id,
            title: LocalizedText(body.title),
            description: LocalizedText(body.description),
            category: body.category,
            venue: body.venue,
            starts_at: body.starts_at.trunc_subsecs(6),
            ends_at: body.ends_at.trunc_subsecs(6),
            capacity: body.capacity,
            registration_opens_at: body.registration_opens_at.map(|t| t.trunc_subsecs(6)),
            registration_closes_at: body.registration_closes_at.map(|t| t.trunc_subsecs(6)),
            status: EventStatus::Draft,
            registered_count: 0,
            waitlist_count: 0,
            cancelled_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        check_event(&mut checks, &model);
        checks.finish()?;
        let model = model
            .into_active_model()
            .reset_all()
            .insert(&state.db)
            .await?;
        let (body, tag) = tagged(model);
        Ok(Created::Created(body, tag))
    }

    /// List events by start time. Public: without a key only published, cancelled and
    /// completed events are listed; organizers also see their drafts.
    #[oai(path = "/", method = "get", operation_id = "listEvents")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        auth: OptionalApiKey,
        community_id: Query<Option<Uuid>>,
        status: Query<Option<EventStatus>>,
        #[oai(validator(max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F]*$"))]
        category: Query<Option<String>>,
        /// Events starting at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Events starting before this time.
        to: Query<Option<DateTime<Utc>>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Event>>> {
        let caller = auth.caller(req)?;
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = event::Entity::find();
        if let Some(community) = community_id.0 {
            select = select.filter(event::Column::CommunityId.eq(community));
        }
        // Drafts only of communities the caller manages.
        let drafts_of = match &caller {
            Some(c) if c.is_admin() => None,
            Some(c) if c.role == entities::enums::Role::Organizer => c.community_id.map(Some),
            _ => Some(None),
        };
        if let Some(managed) = drafts_of {
            let mut visible = sea_orm::Condition::any().add(crate::public::public_events());
            if let Some(community) = managed {
                visible = visible.add(event::Column::CommunityId.eq(community));
            }
            select = select.filter(visible);
        }
        if let Some(status) = status.0 {
            select = select.filter(event::Column::Status.eq(status));
        }
        if let Some(category) = category.0 {
            select = select.filter(event::Column::Category.eq(category));
        }
        if let Some(from) = from.0 {
            select = select.filter(event::Column::StartsAt.gte(from));
        }
        if let Some(to) = to.0 {
            select = select.filter(event::Column::StartsAt.lt(to));
        }
        let rows = page
            .by_time(select, event::Column::StartsAt, event::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor {
                at: Some(m.starts_at),
                id: m.id,
            },
            Event::from,
        )))
    }

    /// Get one event. Public unless it is a draft.
    #[oai(path = "/:id", method = "get", operation_id = "getEvent")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        auth: OptionalApiKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Event>> {
        let caller = auth.caller(req)?;
        let event = visible(&state, caller.as_ref(), id.0).await?;
        let (body, tag) = tagged(event);
        Ok(Fetched::Ok(body, tag))
    }

    /// A QR code of the event's page on the residents' front-end (`HUASHEN_FRONTEND_URL`),
    /// for posters: SVG, or PNG with `Accept: image/png`. Public for events that are not drafts.
    #[oai(path = "/:id/qr.svg", method = "get", operation_id = "getEventQrCode")]
    async fn qr_code(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        auth: OptionalApiKey,
        id: Path<Uuid>,
        /// Width and height in pixels.
        #[oai(validator(minimum(value = "128"), maximum(value = "4096")))]
        size: Query<Option<u32>>,
        #[oai(name = "Accept", validator(max_length = 1000, pattern = "^[ -~]+$"))] accept: Header<
            Option<String>,
        >,
    ) -> Result<QrImage> {
        let caller = auth.caller(req)?;
        let event = visible(&state, caller.as_ref(), id.0).await?;
        QrImage::of_page(
            &state.settings.frontend,
            &format!("events/{}", event.id),
            size.0,
            accept.0.as_deref(),
        )
    }

    /// Change an event (admin, organizers). Capacity cannot drop below the registered
    /// count; raising it registers waitlisted people in the same transaction.
    #[oai(path = "/:id", method = "patch", operation_id = "updateEvent")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<EventPatch>,
    ) -> Result<Fetched<Event>> {
        let patch = body.0;
        let changed = retry_contended(|| async {
            let txn = begin_write(&state.db).await?;
            let current = event::Entity::find_by_id(id.0)
                .lock_exclusive()
                .one(&txn)
                .await?
                .filter(|e| registrations::may_see(Some(&caller), e))
                .ok_or_else(|| ApiError::not_found("event"))?;
            caller.require_manage(current.community_id)?;
            if matches!(
                current.status,
                EventStatus::Cancelled | EventStatus::Completed
            ) {
                return Err(ApiError::conflict(format!(
                    "the event is {}",
                    current.status.as_str()
                )));
            }
            let mut checks = Checks::default();
            let mut next = patch.apply(&current);
            check_event(&mut checks, &next);
            checks.finish()?;
            check_if_match(if_match.0.as_deref(), current.version)?;
            if next.capacity < current.registered_count {
                return Err(ApiError::conflict(format!(
                    "{} people are registered; capacity cannot be lower",
                    current.registered_count
                )));
            }
            let now = now();
            next.version = current.version + 1;
            next.updated_at = now;
            registrations::promote_waitlist(&txn, &mut next, now).await?;
            let next = next.into_active_model().reset_all().update(&txn).await?;
            txn.commit().await?;
            Ok(next)
        })
        .await?;
        let (body, tag) = tagged(changed);
        Ok(Fetched::Ok(body, tag))
    }

    /// Publish a draft: it becomes visible to everyone and open for registration.
    #[oai(path = "/:id/publish", method = "post", operation_id = "publishEvent")]
    async fn publish(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Event>> {
        let event =
            registrations::change_status(&state.db, &caller, id.0, EventStatus::Published, now())
                .await?;
        let (body, tag) = tagged(event);
        Ok(Fetched::Ok(body, tag))
    }

    /// Cancel a draft or published event, and with it every registration.
    #[oai(path = "/:id/cancel", method = "post", operation_id = "cancelEvent")]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Event>> {
        let event =
            registrations::change_status(&state.db, &caller, id.0, EventStatus::Cancelled, now())
                .await?;
        let (body, tag) = tagged(event);
        Ok(Fetched::Ok(body, tag))
    }

    /// Delete a draft (admin, organizers); published events are cancelled instead.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteEvent")]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let current = managed(&state, &caller, id.0).await?;
        if current.status != EventStatus::Draft {
            return Err(ApiError::conflict(
                "only drafts can be deleted; cancel the event instead",
            ));
        }
        event::Entity::delete_by_id(current.id)
            .exec(&state.db)
            .await
            .map_err(|e| ApiError::from(e).or_referenced("people have registered for the event"))?;
        Ok(Deleted::NoContent)
    }
}

impl poem_openapi::types::Example for EventCreate {
    fn example() -> Self {
        Self {
            community_id: super::example_id(1),
            title: super::example_text("中秋包饺子", "Mid-Autumn dumpling party"),
            description: BTreeMap::new(),
            category: "festival".to_owned(),
            venue: Some("Community centre".to_owned()),
            starts_at: super::example_time(18),
            ends_at: super::example_time(20),
            capacity: 40,
            registration_opens_at: None,
            registration_closes_at: None,
        }
    }
}

impl poem_openapi::types::Example for EventPatch {
    fn example() -> Self {
        Self {
            capacity: Some(60),
            ..Self::default()
        }
    }
}
