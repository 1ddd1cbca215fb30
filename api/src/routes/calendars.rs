//! iCalendar (RFC 5545) feeds for phones and calendar programs.
//!
//! A person's own feed is reached with a per-person secret in the URL, so a phone can
//! subscribe without an API key; stations' shifts and communities' published events are
//! public. Times are in UTC, UIDs stable, SEQUENCE follows the resource's version,
//! and cancelled shifts and events stay in the feed as `STATUS:CANCELLED` so phones
//! remove them.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use entities::enums::{CancelReason, EventStatus, RegistrationStatus, ShiftStatus, SignupStatus};
use entities::{community, event, event_registration, person, shift, shift_signup, station, token};
use huashen_worker::locale::{mail_locale, pick};
use icalendar::{Calendar, Component, EventLike};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use super::{Deleted, Result, Tag};
use crate::auth::ApiKey;
use crate::error::ApiError;
use crate::state::AppState;
use crate::time::now;

/// How far back feeds reach.
const HISTORY_DAYS: i64 = 30;

#[derive(ApiResponse)]
pub enum Ics {
    /// An iCalendar feed.
    #[oai(status = 200, content_type = "text/calendar; charset=utf-8")]
    Ok(PlainText<String>),
}

/// A person's feed address, with its secret: shown once.
#[derive(Object)]
pub struct CalendarToken {
    pub token: String,
    /// Subscribe to this, e.g. `/v1/calendars/people/{id}.ics?token=…`.
    pub path: String,
}

/// `"{uuid}.ics"` → the uuid.
fn feed_id(file: &str) -> Result<Uuid> {
    file.strip_suffix(".ics")
        .and_then(|id| Uuid::from_str(id).ok())
        .ok_or_else(|| ApiError::not_found("calendar"))
}

/// One calendar entry.
struct Entry {
    uid: String,
    summary: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    location: Option<String>,
    sequence: i32,
    cancelled: bool,
}

fn calendar(name: &str, entries: Vec<Entry>) -> Ics {
    let mut calendar = Calendar::new();
    calendar.name(name);
    for entry in entries {
        let mut event = icalendar::Event::new();
        event
            .uid(&entry.uid)
            .summary(&entry.summary)
            .starts(entry.starts_at)
            .ends(entry.ends_at)
            .sequence(entry.sequence.max(0) as u32)
            .status(if entry.cancelled {
                icalendar::EventStatus::Cancelled
            } else {
                icalendar::EventStatus::Confirmed
            });
        if let Some(location) = &entry.location {
            event.location(location);
        }
        calendar.push(event.done());
    }
    Ics::Ok(PlainText(calendar.done().to_string()))
}

fn shift_entry(
    shift: &shift::Model,
    station: &station::Model,
    locale: &str,
    default_locale: &str,
    cancelled: bool,
) -> Entry {
    Entry {
        uid: format!("shift-{}@huashen", shift.id),
        summary: pick(&station.name, locale, default_locale),
        starts_at: shift.starts_at,
        ends_at: shift.ends_at,
        location: station.location.clone(),
        sequence: shift.version - 1,
        cancelled,
    }
}

fn event_entry(event: &event::Model, locale: &str, default_locale: &str, cancelled: bool) -> Entry {
    Entry {
        uid: format!("event-{}@huashen", event.id),
        summary: pick(&event.title, locale, default_locale),
        starts_at: event.starts_at,
        ends_at: event.ends_at,
        location: event.venue.clone(),
        sequence: event.version - 1,
        cancelled,
    }
}

async fn community_of(state: &AppState, id: Uuid) -> Result<community::Model> {
    community::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("community"))
}

pub struct CalendarsApi;

#[OpenApi(tag = "Tag::Calendars")]
impl CalendarsApi {
    /// A person's confirmed shifts and registered events. Reached with the person's
    /// calendar token rather than an API key, so a phone can subscribe.
    #[oai(
        path = "/v1/calendars/people/:file",
        method = "get",
        operation_id = "getPersonCalendar"
    )]
    async fn person(
        &self,
        state: poem::web::Data<&AppState>,
        /// The person's id followed by `.ics`.
        #[oai(validator(max_length = 64))]
        file: Path<String>,
        /// The person's calendar token.
        #[oai(validator(max_length = 128))]
        token: Query<String>,
    ) -> Result<Ics> {
        let id = feed_id(&file.0)?;
        let person = person::Entity::find_by_id(id)
            .filter(person::Column::CalendarTokenHash.eq(token::hash_token(&token.0)))
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("calendar"))?;
        let community = community_of(&state, person.community_id).await?;
        let locale = mail_locale(&person.locale, &community.default_locale);
        let since = now() - Duration::days(HISTORY_DAYS);
        let signups = shift_signup::Entity::find()
            .find_also_related(shift::Entity)
            .filter(shift_signup::Column::PersonId.eq(person.id))
            .filter(
                Condition::any()
                    .add(
                        shift_signup::Column::Status
                            .is_in([SignupStatus::Confirmed, SignupStatus::Attended]),
                    )
                    .add(shift_signup::Column::CancelReason.eq(CancelReason::ShiftCancelled)),
            )
            .filter(shift::Column::EndsAt.gte(since))
            .order_by_asc(shift::Column::StartsAt)
            .all(&state.db)
            .await?;
        let stations: std::collections::HashMap<Uuid, station::Model> = station::Entity::find()
            .filter(station::Column::CommunityId.eq(community.id))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        let mut entries: Vec<Entry> = signups
            .iter()
            .filter_map(|(_, shift)| {
                let shift = shift.as_ref()?;
                let station = stations.get(&shift.station_id)?;
                Some(shift_entry(
                    shift,
                    station,
                    locale,
                    &community.default_locale,
                    shift.status == ShiftStatus::Cancelled,
                ))
            })
            .collect();
        let registrations = event_registration::Entity::find()
            .find_also_related(event::Entity)
            .filter(event_registration::Column::PersonId.eq(person.id))
            .filter(
                Condition::any()
                    .add(event_registration::Column::Status.is_in([
                        RegistrationStatus::Registered,
                        RegistrationStatus::CheckedIn,
                    ]))
                    .add(event_registration::Column::CancelReason.eq(CancelReason::EventCancelled)),
            )
            .filter(event::Column::EndsAt.gte(since))
            .order_by_asc(event::Column::StartsAt)
            .all(&state.db)
            .await?;
        entries.extend(registrations.iter().filter_map(|(_, event)| {
            let event = event.as_ref()?;
            Some(event_entry(
                event,
                locale,
                &community.default_locale,
                event.status == EventStatus::Cancelled,
            ))
        }));
        Ok(calendar(&person.full_name, entries))
    }

    /// A station's shifts. Public.
    #[oai(
        path = "/v1/calendars/stations/:file",
        method = "get",
        operation_id = "getStationCalendar"
    )]
    async fn station(
        &self,
        state: poem::web::Data<&AppState>,
        /// The station's id followed by `.ics`.
        #[oai(validator(max_length = 64))]
        file: Path<String>,
        /// Language of the titles; the community's default unless given.
        #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
        locale: Query<Option<String>>,
    ) -> Result<Ics> {
        let station = station::Entity::find_by_id(feed_id(&file.0)?)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("calendar"))?;
        let community = community_of(&state, station.community_id).await?;
        let locale = locale.0.unwrap_or_else(|| community.default_locale.clone());
        let shifts = shift::Entity::find()
            .filter(shift::Column::StationId.eq(station.id))
            .filter(shift::Column::EndsAt.gte(now() - Duration::days(HISTORY_DAYS)))
            .order_by_asc(shift::Column::StartsAt)
            .all(&state.db)
            .await?;
        let entries = shifts
            .iter()
            .map(|s| {
                shift_entry(
                    s,
                    &station,
                    &locale,
                    &community.default_locale,
                    s.status == ShiftStatus::Cancelled,
                )
            })
            .collect();
        Ok(calendar(
            &pick(&station.name, &locale, &community.default_locale),
            entries,
        ))
    }

    /// A community's published events (and cancelled ones, marked so). Public.
    #[oai(
        path = "/v1/calendars/communities/:id/events.ics",
        method = "get",
        operation_id = "getCommunityEventsCalendar"
    )]
    async fn events(
        &self,
        state: poem::web::Data<&AppState>,
        id: Path<Uuid>,
        /// Language of the titles; the community's default unless given.
        #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
        locale: Query<Option<String>>,
    ) -> Result<Ics> {
        let community = community_of(&state, id.0).await?;
        let locale = locale.0.unwrap_or_else(|| community.default_locale.clone());
        let events = event::Entity::find()
            .filter(event::Column::CommunityId.eq(community.id))
            .filter(event::Column::Status.ne(EventStatus::Draft))
            .filter(event::Column::EndsAt.gte(now() - Duration::days(HISTORY_DAYS)))
            .order_by_asc(event::Column::StartsAt)
            .all(&state.db)
            .await?;
        let entries = events
            .iter()
            .map(|e| {
                event_entry(
                    e,
                    &locale,
                    &community.default_locale,
                    e.status == EventStatus::Cancelled,
                )
            })
            .collect();
        Ok(calendar(
            &pick(&community.name, &locale, &community.default_locale),
            entries,
        ))
    }

    /// Create or replace a person's calendar token (the person's own key, or
    /// organizers); the previous address stops working.
    #[oai(
        path = "/v1/people/:id/calendar-token",
        method = "post",
        tag = "Tag::People",
        operation_id = "createCalendarToken"
    )]
    async fn create_token(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<CalendarToken>> {
        let person = super::people::visible(&state, &caller, id.0).await?;
        if person.erased_at.is_some() {
            return Err(ApiError::conflict("the person's data was erased"));
        }
        let token = token::new_token(24);
        let mut active = person.into_active_model();
        active.calendar_token_hash = Set(Some(token::hash_token(&token)));
        let person = active.update(&state.db).await?;
        Ok(Json(CalendarToken {
            path: format!("/v1/calendars/people/{}.ics?token={token}", person.id),
            token,
        }))
    }

    /// Revoke a person's calendar token.
    #[oai(
        path = "/v1/people/:id/calendar-token",
        method = "delete",
        tag = "Tag::People",
        operation_id = "revokeCalendarToken"
    )]
    async fn revoke_token(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let person = super::people::visible(&state, &caller, id.0).await?;
        let mut active = person.into_active_model();
        active.calendar_token_hash = Set(None);
        active.update(&state.db).await?;
        Ok(Deleted::NoContent)
    }
}
