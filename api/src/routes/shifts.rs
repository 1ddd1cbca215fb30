//! `/v1/shifts`

use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::ShiftStatus;
use entities::json::TagList;
use entities::{shift, station};
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Created, Deleted, Fetched, Result, Tag, check_if_match, etag};
use crate::auth::{Caller, OptionalApiKey, StaffKey};
use crate::body::JsonBody;
use crate::db::{begin_write, retry_contended};
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::public;
use crate::qr::QrImage;
use crate::reply::{DirectJson, rfc3339};
use crate::signups;
use crate::state::AppState;
use crate::time::now;
use crate::validate::Checks;

/// A time slot at a station.
#[derive(Object, Serialize)]
pub struct Shift {
    pub id: Uuid,
    pub station_id: Uuid,
    pub community_id: Uuid,
    #[serde(serialize_with = "rfc3339")]
    pub starts_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub ends_at: DateTime<Utc>,
    /// Most volunteers confirmed at once; the rest wait in line.
    pub capacity: i32,
    /// Fewer confirmed than this and the shift is understaffed.
    pub min_volunteers: i32,
    pub languages_wanted: Vec<String>,
    pub skills_wanted: Vec<String>,
    pub notes: Option<String>,
    pub status: ShiftStatus,
    /// The recurring series this shift belongs to, if any.
    pub series_id: Option<Uuid>,
    pub confirmed_count: i32,
    pub waitlist_count: i32,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<shift::Model> for Shift {
    fn from(m: shift::Model) -> Self {
        Self {
            id: m.id,
            station_id: m.station_id,
            community_id: m.community_id,
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            capacity: m.capacity,
            min_volunteers: m.min_volunteers,
            languages_wanted: m.languages_wanted.0,
            skills_wanted: m.skills_wanted.0,
            notes: m.notes,
            status: m.status,
            series_id: m.series_id,
            confirmed_count: m.confirmed_count,
            waitlist_count: m.waitlist_count,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ShiftCreate {
    pub station_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
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
}

#[derive(Object, Deserialize, Clone, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ShiftPatch {
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
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
    #[serde(default)]
    #[oai(validator(max_length = 4000))]
    pub notes: MaybeUndefined<String>,
}

impl ShiftPatch {
    /// `current` with this patch's fields applied.
    fn apply(&self, current: &shift::Model) -> shift::Model {
        let patch = self.clone();
        let mut next = current.clone();
        if let Some(t) = patch.starts_at {
            next.starts_at = t.trunc_subsecs(6);
        }
        if let Some(t) = patch.ends_at {
            next.ends_at = t.trunc_subsecs(6);
        }
        if let Some(capacity) = patch.capacity {
            next.capacity = capacity;
        }
        if let Some(min) = patch.min_volunteers {
            next.min_volunteers = min;
        }
        if let Some(languages) = patch.languages_wanted {
            next.languages_wanted = TagList(languages);
        }
        if let Some(skills) = patch.skills_wanted {
            next.skills_wanted = TagList(skills);
        }
        patch.notes.update_to(&mut next.notes);
        next
    }
}

fn check_shift(checks: &mut Checks, s: &shift::Model) {
    checks.interval(s.starts_at, s.ends_at);
    checks.ensure(
        (0..=s.capacity.max(0)).contains(&s.min_volunteers),
        "min_volunteers",
        "range",
        "min_volunteers must be between 0 and the capacity",
    );
    checks.languages("languages_wanted", &s.languages_wanted.0);
    checks.tags("skills_wanted", &s.skills_wanted.0);
}

fn tagged(model: shift::Model) -> (Json<Shift>, String) {
    let tag = etag(model.version);
    (Json(model.into()), tag)
}

/// Loads a shift of a community the caller can read; others are 404.
/// Loads a shift the caller may see: any of its community's, or without a key a
/// public one (`crate::public`).
async fn visible(state: &AppState, caller: Option<&Caller>, id: Uuid) -> Result<shift::Model> {
    shift::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|s| match caller {
            Some(caller) => caller.can_read(s.community_id),
            None => public::shift_is_public(s, now()),
        })
        .ok_or_else(|| ApiError::not_found("shift"))
}

pub struct ShiftsApi;

#[OpenApi(prefix_path = "/v1/shifts", tag = "Tag::Shifts")]
impl ShiftsApi {
    /// Create a shift at a station (admin, or the community's organizers).
    #[oai(path = "/", method = "post", operation_id = "createShift")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<ShiftCreate>,
    ) -> Result<Created<Shift>> {
        let body = body.0;
        let mut checks = Checks::default();
        let station = station::Entity::find_by_id(body.station_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::invalid("station_id", "not_found", "no such station"))?;
        caller.require_manage(station.community_id)?;
        let now = now();
        let model = shift::Model {
            id: Uuid::now_v7(),
            station_id: station.id,
            community_id: station.community_id,
            starts_at: body.starts_at.trunc_subsecs(6),
            ends_at: body.ends_at.trunc_subsecs(6),
            capacity: body.capacity,
            min_volunteers: body.min_volunteers.unwrap_or(1.min(body.capacity)),
            languages_wanted: TagList(body.languages_wanted),
            skills_wanted: TagList(body.skills_wanted),
            notes: body.notes,
            status: ShiftStatus::Scheduled,
            confirmed_count: 0,
            waitlist_count: 0,
            cancelled_at: None,
            series_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        check_shift(&mut checks, &model);
        checks.finish()?;
        let model = model
            .into_active_model()
            .reset_all()
            .insert(&state.db)
            .await?;
        let (body, tag) = tagged(model);
        Ok(Created::Created(body, tag))
    }

    /// List shifts by start time, in the caller's community (all for admins). Public:
    /// without a key, only scheduled shifts that have not begun.
    #[oai(path = "/", method = "get", operation_id = "listShifts")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        auth: OptionalApiKey,
        station_id: Query<Option<Uuid>>,
        community_id: Query<Option<Uuid>>,
        /// Shifts starting at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Shifts starting before this time.
        to: Query<Option<DateTime<Utc>>>,
        /// `true`: only shifts with places left; `false`: only full ones.
        has_free_places: Query<Option<bool>>,
        status: Query<Option<ShiftStatus>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<DirectJson<Page<Shift>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = shift::Entity::find();
        let scope = match auth.caller(req)? {
            Some(caller) => caller.list_scope(community_id.0)?,
            None => {
                select = select.filter(public::public_shifts(now()));
                community_id.0
            }
        };
        if let Some(community) = scope {
            select = select.filter(shift::Column::CommunityId.eq(community));
        }
        if let Some(station) = station_id.0 {
            select = select.filter(shift::Column::StationId.eq(station));
        }
        if let Some(from) = from.0 {
            select = select.filter(shift::Column::StartsAt.gte(from));
        }
        if let Some(to) = to.0 {
            select = select.filter(shift::Column::StartsAt.lt(to));
        }
        if let Some(free) = has_free_places.0 {
            use sea_orm::sea_query::ExprTrait as _;
            let confirmed = Expr::col(shift::Column::ConfirmedCount);
            let capacity = Expr::col(shift::Column::Capacity);
            select = select.filter(if free {
                confirmed.lt(capacity)
            } else {
                confirmed.gte(capacity)
            });
        }
        if let Some(status) = status.0 {
            select = select.filter(shift::Column::Status.eq(status));
        }
        let rows = page
            .by_time(select, shift::Column::StartsAt, shift::Column::Id)
            .read(&state.reads, shift::Model::from_row)
            .await?;
        Ok(DirectJson(page.finish(
            rows,
            |m| Cursor {
                at: Some(m.starts_at),
                id: m.id,
            },
            Shift::from,
        )))
    }

    /// Get one shift. Public while it is scheduled and has not begun.
    #[oai(path = "/:id", method = "get", operation_id = "getShift")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        auth: OptionalApiKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Shift>> {
        let caller = auth.caller(req)?;
        let (body, tag) = tagged(visible(&state, caller.as_ref(), id.0).await?);
        Ok(Fetched::Ok(body, tag))
    }

    /// A QR code of the shift's page on the residents' front-end (`HUASHEN_FRONTEND_URL`),
    /// for posters: SVG, or PNG with `Accept: image/png`. Public for scheduled shifts that have not begun.
    #[oai(path = "/:id/qr.svg", method = "get", operation_id = "getShiftQrCode")]
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
        let shift = visible(&state, caller.as_ref(), id.0).await?;
        QrImage::of_page(
            &state.settings.frontend,
            &format!("shifts/{}", shift.id),
            size.0,
            accept.0.as_deref(),
        )
    }

    /// Change a shift (admin, organizers). Capacity cannot drop below the confirmed
    /// count; raising it confirms waitlisted volunteers in the same transaction.
    #[oai(path = "/:id", method = "patch", operation_id = "updateShift")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<ShiftPatch>,
    ) -> Result<Fetched<Shift>> {
        let patch = body.0;
        let changed = retry_contended(|| async {
            let txn = begin_write(&state.db).await?;
            let current = shift::Entity::find_by_id(id.0)
                .lock_exclusive()
                .one(&txn)
                .await?
                .filter(|s| caller.can_read(s.community_id))
                .ok_or_else(|| ApiError::not_found("shift"))?;
            caller.require_manage(current.community_id)?;
            if current.status == ShiftStatus::Cancelled {
                return Err(ApiError::conflict("the shift is cancelled"));
            }
            let mut next = patch.apply(&current);
            let mut checks = Checks::default();
            check_shift(&mut checks, &next);
            checks.finish()?;
            check_if_match(if_match.0.as_deref(), current.version)?;
            if next.capacity < current.confirmed_count {
                return Err(ApiError::conflict(format!(
                    "{} volunteers are confirmed; capacity cannot be lower",
                    current.confirmed_count
                )));
            }
            if (next.starts_at, next.ends_at) != (current.starts_at, current.ends_at) {
                signups::reschedule(&txn, &next).await?;
            }
            let now = now();
            next.version = current.version + 1;
            next.updated_at = now;
            signups::promote_waitlist(&txn, &mut next, now).await?;
            let next = next.into_active_model().reset_all().update(&txn).await?;
            txn.commit().await?;
            Ok(next)
        })
        .await?;
        let (body, tag) = tagged(changed);
        Ok(Fetched::Ok(body, tag))
    }

    /// Cancel a shift and every sign-up on it (admin, organizers).
    #[oai(path = "/:id/cancel", method = "post", operation_id = "cancelShift")]
    async fn cancel(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Shift>> {
        let shift = signups::cancel_shift(&state.db, &caller, id.0, now()).await?;
        let (body, tag) = tagged(shift);
        Ok(Fetched::Ok(body, tag))
    }

    /// Delete a shift nobody has signed up for (admin, organizers).
    #[oai(path = "/:id", method = "delete", operation_id = "deleteShift")]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let current = visible(&state, Some(&caller), id.0).await?;
        caller.require_manage(current.community_id)?;
        shift::Entity::delete_by_id(current.id)
            .exec(&state.db)
            .await
            .map_err(|e| {
                ApiError::from(e).or_referenced("volunteers have signed up for the shift")
            })?;
        Ok(Deleted::NoContent)
    }
}

impl poem_openapi::types::Example for ShiftCreate {
    fn example() -> Self {
        Self {
            station_id: super::example_id(2),
            starts_at: super::example_time(9),
            ends_at: super::example_time(12),
            capacity: 4,
            min_volunteers: Some(2),
            languages_wanted: vec!["zh".to_owned(), "en".to_owned()],
            skills_wanted: vec!["translation".to_owned()],
            notes: Some("Help residents fill in forms.".to_owned()),
        }
    }
}

impl poem_openapi::types::Example for ShiftPatch {
    fn example() -> Self {
        Self {
            capacity: Some(6),
            notes: MaybeUndefined::Null,
            ..Self::default()
        }
    }
}
