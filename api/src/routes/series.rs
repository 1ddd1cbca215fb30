//! `/v1/shift-series`: recurring shifts from an RFC 5545 RRULE.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use entities::enums::ShiftStatus;
use entities::json::TagList;
use entities::{shift, shift_series, station};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::Deserialize;
use uuid::Uuid;

use super::shifts::Shift;
use super::{Created, Deleted, Fetched, Result, Tag, check_if_match, etag};
use crate::auth::{ApiKey, Caller, StaffKey};
use crate::body::JsonBody;
use crate::db::{begin_write, retry_contended};
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::series::{self, NewSeries, SeriesError};
use crate::signups;
use crate::state::AppState;
use crate::time::now;
use crate::validate::Checks;

/// A recurring shift.
#[derive(Object)]
pub struct ShiftSeries {
    pub id: Uuid,
    pub station_id: Uuid,
    pub community_id: Uuid,
    /// E.g. `FREQ=WEEKLY;BYDAY=WE`.
    pub rrule: String,
    pub starts_on: NaiveDate,
    /// Local time of day, `HH:MM`, in `time_zone`.
    pub start_time: String,
    pub duration_minutes: i32,
    pub capacity: i32,
    pub min_volunteers: i32,
    pub languages_wanted: Vec<String>,
    pub skills_wanted: Vec<String>,
    pub notes: Option<String>,
    pub time_zone: String,
    pub until: Option<NaiveDate>,
    pub count: Option<i32>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<shift_series::Model> for ShiftSeries {
    fn from(m: shift_series::Model) -> Self {
        Self {
            id: m.id,
            station_id: m.station_id,
            community_id: m.community_id,
            rrule: m.rrule,
            starts_on: m.starts_on,
            start_time: m.start_time,
            duration_minutes: m.duration_minutes,
            capacity: m.capacity,
            min_volunteers: m.min_volunteers,
            languages_wanted: m.languages_wanted.0,
            skills_wanted: m.skills_wanted.0,
            notes: m.notes,
            time_zone: m.time_zone,
            until: m.until,
            count: m.count,
            cancelled_at: m.cancelled_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A new series and the shifts it expanded into.
#[derive(Object)]
pub struct SeriesWithShifts {
    pub series: ShiftSeries,
    pub shifts: Vec<Shift>,
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SeriesCreate {
    pub station_id: Uuid,
    /// The rule's parts without DTSTART, UNTIL or COUNT, e.g. `FREQ=WEEKLY;BYDAY=WE`.
    #[oai(validator(min_length = 6, max_length = 500))]
    pub rrule: String,
    /// The first day the rule may fall on.
    pub starts_on: NaiveDate,
    /// Local time of day in the station's time zone, `HH:MM`.
    #[oai(validator(min_length = 4, max_length = 5, pattern = "^[0-9]{1,2}:[0-9]{2}$"))]
    pub start_time: String,
    #[oai(validator(minimum(value = "15"), maximum(value = "1440")))]
    pub duration_minutes: i32,
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub capacity: i32,
    /// Defaults to 1.
    #[oai(validator(minimum(value = "0"), maximum(value = "10000")))]
    pub min_volunteers: Option<i32>,
    #[oai(default)]
    #[serde(default)]
    #[oai(validator(
        max_items = 50,
        max_length = 35,
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    ))]
    pub languages_wanted: Vec<String>,
    #[oai(default)]
    #[serde(default)]
    #[oai(validator(max_items = 50, max_length = 64))]
    pub skills_wanted: Vec<String>,
    #[oai(validator(max_length = 4000))]
    pub notes: Option<String>,
    /// The last day (local) a shift may fall on; at most a year after `starts_on`.
    pub until: Option<NaiveDate>,
    /// How many shifts at most.
    #[oai(validator(minimum(value = "1"), maximum(value = "366")))]
    pub count: Option<u16>,
}

/// Changes applied to every future shift of the series.
#[derive(Object, Deserialize, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct SeriesPatch {
    #[oai(validator(minimum(value = "1"), maximum(value = "10000")))]
    pub capacity: Option<i32>,
    #[oai(validator(minimum(value = "0"), maximum(value = "10000")))]
    pub min_volunteers: Option<i32>,
    #[oai(validator(
        max_items = 50,
        max_length = 35,
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    ))]
    pub languages_wanted: Option<Vec<String>>,
    #[oai(validator(max_items = 50, max_length = 64))]
    pub skills_wanted: Option<Vec<String>>,
    /// `null` clears the notes.
    #[oai(validator(max_length = 4000))]
    #[serde(default)]
    pub notes: MaybeUndefined<String>,
}

fn tagged(model: shift_series::Model) -> (Json<ShiftSeries>, String) {
    let tag = etag(model.version);
    (Json(model.into()), tag)
}

fn series_error(err: SeriesError) -> ApiError {
    match err {
        SeriesError::Rule(message) => ApiError::invalid("rrule", "invalid_rrule", message),
        SeriesError::TooFar => {
            ApiError::invalid("until", "range", "a series reaches at most a year ahead")
        }
    }
}

async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<shift_series::Model> {
    shift_series::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|s| caller.can_read(s.community_id))
        .ok_or_else(|| ApiError::not_found("shift series"))
}

/// The series' shifts that have not begun and still take place.
async fn future_shifts(
    txn: &impl sea_orm::ConnectionTrait,
    series_id: Uuid,
    now: DateTime<Utc>,
    lock: bool,
) -> Result<Vec<shift::Model>> {
    let mut select = shift::Entity::find()
        .filter(shift::Column::SeriesId.eq(series_id))
        .filter(shift::Column::Status.eq(ShiftStatus::Scheduled))
        .filter(shift::Column::StartsAt.gt(now))
        .order_by_asc(shift::Column::StartsAt);
    if lock {
        select = select.lock_exclusive();
    }
    Ok(select.all(txn).await?)
}

pub struct SeriesApi;

#[OpenApi(prefix_path = "/v1/shift-series", tag = "Tag::Shifts")]
impl SeriesApi {
    /// Create a recurring shift (admin, organizers): the rule expands at once into
    /// shifts at the local time of day in the station's time zone, at most a year ahead.
    #[oai(path = "/", method = "post", operation_id = "createShiftSeries")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<SeriesCreate>,
    ) -> Result<Created<SeriesWithShifts>> {
        let body = body.0;
        let mut checks = Checks::default();
        let start_time = NaiveTime::parse_from_str(&body.start_time, "%H:%M");
        checks.ensure(
            start_time.is_ok(),
            "start_time",
            "format",
            "use HH:MM, e.g. 19:00",
        );
        let min_volunteers = body.min_volunteers.unwrap_or(1.min(body.capacity));
        checks.ensure(
            (0..=body.capacity).contains(&min_volunteers),
            "min_volunteers",
            "range",
            "min_volunteers must be between 0 and the capacity",
        );
        checks.languages("languages_wanted", &body.languages_wanted);
        checks.tags("skills_wanted", &body.skills_wanted);
        if let Some(until) = body.until {
            checks.ensure(
                until >= body.starts_on,
                "until",
                "order",
                "until must not be before starts_on",
            );
        }
        let station = station::Entity::find_by_id(body.station_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::invalid("station_id", "not_found", "no such station"))?;
        caller.require_manage(station.community_id)?;
        checks.finish()?;
        let new = NewSeries {
            rrule: body.rrule.trim().to_owned(),
            starts_on: body.starts_on,
            start_time: start_time.unwrap_or_default(),
            duration_minutes: body.duration_minutes,
            capacity: body.capacity,
            min_volunteers,
            languages_wanted: body.languages_wanted,
            skills_wanted: body.skills_wanted,
            notes: body.notes,
            until: body.until,
            count: body.count,
        };
        let txn = state.db.begin().await?;
        let (series, shifts) = series::create(&txn, &station, new, now())
            .await
            .map_err(series_error)?;
        txn.commit().await?;
        let tag = etag(series.version);
        Ok(Created::Created(
            Json(SeriesWithShifts {
                series: series.into(),
                shifts: shifts.into_iter().map(Shift::from).collect(),
            }),
            tag,
        ))
    }

    /// List series, in the caller's community (all for admins).
    #[oai(path = "/", method = "get", operation_id = "listShiftSeries")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        station_id: Query<Option<Uuid>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<ShiftSeries>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = shift_series::Entity::find();
        if let Some(community) = caller.list_scope(None)? {
            select = select.filter(shift_series::Column::CommunityId.eq(community));
        }
        if let Some(station) = station_id.0 {
            select = select.filter(shift_series::Column::StationId.eq(station));
        }
        let rows = page
            .by_id(select, shift_series::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            ShiftSeries::from,
        )))
    }

    /// Get one series.
    #[oai(path = "/:id", method = "get", operation_id = "getShiftSeries")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<ShiftSeries>> {
        let (body, tag) = tagged(visible(&state, &caller, id.0).await?);
        Ok(Fetched::Ok(body, tag))
    }

    /// Change every future shift of the series. A capacity below a shift's confirmed
    /// volunteers is refused (409); a higher one moves waitlists on.
    #[oai(path = "/:id", method = "patch", operation_id = "updateShiftSeries")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<SeriesPatch>,
    ) -> Result<Fetched<ShiftSeries>> {
        let patch = body.0;
        let mut checks = Checks::default();
        if let Some(languages) = &patch.languages_wanted {
            checks.languages("languages_wanted", languages);
        }
        if let Some(skills) = &patch.skills_wanted {
            checks.tags("skills_wanted", skills);
        }
        checks.finish()?;
        let changed = retry_contended(|| async {
            let txn = begin_write(&state.db).await?;
            let current = shift_series::Entity::find_by_id(id.0)
                .lock_exclusive()
                .one(&txn)
                .await?
                .filter(|s| caller.can_read(s.community_id))
                .ok_or_else(|| ApiError::not_found("shift series"))?;
            caller.require_manage(current.community_id)?;
            if current.cancelled_at.is_some() {
                return Err(ApiError::conflict("the series is cancelled"));
            }
            let mut next = current.clone();
            next.capacity = patch.capacity.unwrap_or(current.capacity);
            next.min_volunteers = patch.min_volunteers.unwrap_or(current.min_volunteers);
            if !(0..=next.capacity).contains(&next.min_volunteers) {
                return Err(ApiError::invalid(
                    "min_volunteers",
                    "range",
                    "min_volunteers must be between 0 and the capacity",
                ));
            }
            check_if_match(if_match.0.as_deref(), current.version)?;
            if let Some(languages) = &patch.languages_wanted {
                next.languages_wanted = TagList(languages.clone());
            }
            if let Some(skills) = &patch.skills_wanted {
                next.skills_wanted = TagList(skills.clone());
            }
            patch.notes.clone().update_to(&mut next.notes);
            let now = now();
            for shift in future_shifts(&txn, current.id, now, true).await? {
                if shift.confirmed_count > next.capacity {
                    return Err(ApiError::conflict(format!(
                        "shift {} has {} confirmed volunteers; capacity cannot be lower",
                        shift.id, shift.confirmed_count
                    )));
                }
                let mut changed = shift.clone();
                changed.capacity = next.capacity;
                changed.min_volunteers = next.min_volunteers;
                changed.languages_wanted = next.languages_wanted.clone();
                changed.skills_wanted = next.skills_wanted.clone();
                changed.notes = next.notes.clone();
                changed.version = shift.version + 1;
                changed.updated_at = now;
                signups::promote_waitlist(&txn, &mut changed, now).await?;
                changed.into_active_model().reset_all().update(&txn).await?;
            }
            next.version = current.version + 1;
            next.updated_at = now;
            let next = next.into_active_model().reset_all().update(&txn).await?;
            txn.commit().await?;
            Ok(next)
        })
        .await?;
        let (body, tag) = tagged(changed);
        Ok(Fetched::Ok(body, tag))
    }

    /// Cancel the series: every future shift is cancelled, and those signed up are told.
    #[oai(path = "/:id", method = "delete", operation_id = "cancelShiftSeries")]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let current = visible(&state, &caller, id.0).await?;
        caller.require_manage(current.community_id)?;
        let now = now();
        for shift in future_shifts(&state.db, current.id, now, false).await? {
            signups::cancel_shift(&state.db, &caller, shift.id, now).await?;
        }
        if current.cancelled_at.is_none() {
            let mut active = current.into_active_model();
            active.cancelled_at = sea_orm::Set(Some(now));
            active.updated_at = sea_orm::Set(now);
            active.update(&state.db).await?;
        }
        Ok(Deleted::NoContent)
    }
}

impl poem_openapi::types::Example for SeriesCreate {
    fn example() -> Self {
        Self {
            station_id: super::example_id(2),
            rrule: "FREQ=WEEKLY;BYDAY=WE".to_owned(),
            starts_on: super::example_time(0).date_naive(),
            start_time: "19:00".to_owned(),
            duration_minutes: 90,
            capacity: 6,
            min_volunteers: Some(2),
            languages_wanted: vec!["en".to_owned()],
            skills_wanted: Vec::new(),
            notes: Some("English Corner".to_owned()),
            until: None,
            count: Some(12),
        }
    }
}

impl poem_openapi::types::Example for SeriesPatch {
    fn example() -> Self {
        Self {
            capacity: Some(8),
            ..Self::default()
        }
    }
}
