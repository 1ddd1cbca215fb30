//! `/v1/stations`

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entities::enums::StationKind;
use entities::json::LocalizedText;
use entities::{community, station};
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde::Deserialize;
use uuid::Uuid;

use super::{Created, Deleted, Fetched, Result, Tag, check_if_match, etag};
use crate::auth::{Caller, OptionalApiKey, StaffKey};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::qr::QrImage;
use crate::state::AppState;
use crate::store::save_versioned;
use crate::time::now;
use crate::validate::Checks;

/// A service station.
#[derive(Object)]
pub struct Station {
    pub id: Uuid,
    pub community_id: Uuid,
    pub kind: StationKind,
    /// The name in several languages, keyed by locale.
    pub name: BTreeMap<String, String>,
    pub description: BTreeMap<String, String>,
    pub location: Option<String>,
    /// IANA time zone; the community's unless set.
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<station::Model> for Station {
    fn from(m: station::Model) -> Self {
        Self {
            id: m.id,
            community_id: m.community_id,
            kind: m.kind,
            name: m.name.0,
            description: m.description.0,
            location: m.location,
            time_zone: m.time_zone,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct StationCreate {
    pub community_id: Uuid,
    pub kind: StationKind,
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub name: BTreeMap<String, String>,
    #[oai(default)]
    #[serde(default)]
    #[oai(validator(max_properties = 20, max_length = 4000))]
    pub description: BTreeMap<String, String>,
    #[oai(validator(min_length = 1, max_length = 500))]
    pub location: Option<String>,
    /// Defaults to the community's time zone.
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_+/-]*$"))]
    pub time_zone: Option<String>,
}

#[derive(Object, Deserialize, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct StationPatch {
    pub kind: Option<StationKind>,
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub name: Option<BTreeMap<String, String>>,
    #[oai(validator(max_properties = 20, max_length = 4000))]
    pub description: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[oai(validator(min_length = 1, max_length = 500))]
    pub location: MaybeUndefined<String>,
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_+/-]*$"))]
    pub time_zone: Option<String>,
}

fn check_station(checks: &mut Checks, s: &station::Model) {
    checks.localized("name", &s.name.0, true);
    checks.localized("description", &s.description.0, false);
    checks.time_zone("time_zone", &s.time_zone);
}

fn tagged(model: station::Model) -> (Json<Station>, String) {
    let tag = etag(model.version);
    (Json(model.into()), tag)
}

/// Loads a station the caller may change.
async fn managed(state: &AppState, caller: &Caller, id: Uuid) -> Result<station::Model> {
    let station = station::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("station"))?;
    caller.require_manage(station.community_id)?;
    Ok(station)
}

pub struct StationsApi;

#[OpenApi(prefix_path = "/v1/stations", tag = "Tag::Stations")]
impl StationsApi {
    /// Open a station (admin, or the community's organizers).
    #[oai(path = "/", method = "post", operation_id = "createStation")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<StationCreate>,
    ) -> Result<Created<Station>> {
        let body = body.0;
        caller.require_manage(body.community_id)?;
        let mut checks = Checks::default();
        let community = community::Entity::find_by_id(body.community_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::invalid("community_id", "not_found", "no such community"))?;
        let now = now();
        let model = station::Model {
            id: Uuid::now_v7(),
            community_id: community.id,
            kind: body.kind,
            name: LocalizedText(body.name),
            description: LocalizedText(body.description),
            location: body.location,
            time_zone: body.time_zone.unwrap_or(community.time_zone),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        check_station(&mut checks, &model);
        checks.finish()?;
        let model = model
            .into_active_model()
            .reset_all()
            .insert(&state.db)
            .await?;
        let (body, tag) = tagged(model);
        Ok(Created::Created(body, tag))
    }

    /// List stations. Public: no key needed.
    #[oai(path = "/", method = "get", operation_id = "listStations")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        auth: OptionalApiKey,
        community_id: Query<Option<Uuid>>,
        kind: Query<Option<StationKind>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Station>>> {
        auth.caller(req)?;
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = station::Entity::find();
        if let Some(community) = community_id.0 {
            select = select.filter(station::Column::CommunityId.eq(community));
        }
        if let Some(kind) = kind.0 {
            select = select.filter(station::Column::Kind.eq(kind));
        }
        let rows = page
            .by_id(select, station::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Station::from,
        )))
    }

    /// Get one station. Public: no key needed.
    #[oai(path = "/:id", method = "get", operation_id = "getStation")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        auth: OptionalApiKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Station>> {
        auth.caller(req)?;
        let station = station::Entity::find_by_id(id.0)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("station"))?;
        let (body, tag) = tagged(station);
        Ok(Fetched::Ok(body, tag))
    }

    /// A QR code of the station's page on the residents' front-end (`HUASHEN_FRONTEND_URL`),
    /// for posters: SVG, or PNG with `Accept: image/png`. Public.
    #[oai(
        path = "/:id/qr.svg",
        method = "get",
        operation_id = "getStationQrCode"
    )]
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
        auth.caller(req)?;
        let station = station::Entity::find_by_id(id.0)
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::not_found("station"))?;
        QrImage::of_page(
            &state.settings.frontend,
            &format!("stations/{}", station.id),
            size.0,
            accept.0.as_deref(),
        )
    }

    /// Change a station (admin, or the community's organizers).
    #[oai(path = "/:id", method = "patch", operation_id = "updateStation")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<StationPatch>,
    ) -> Result<Fetched<Station>> {
        let current = managed(&state, &caller, id.0).await?;
        let patch = body.0;
        let mut next = current.clone();
        if let Some(kind) = patch.kind {
            next.kind = kind;
        }
        if let Some(name) = patch.name {
            next.name = LocalizedText(name);
        }
        if let Some(description) = patch.description {
            next.description = LocalizedText(description);
        }
        patch.location.update_to(&mut next.location);
        if let Some(zone) = patch.time_zone {
            next.time_zone = zone;
        }
        let mut checks = Checks::default();
        check_station(&mut checks, &next);
        checks.finish()?;
        check_if_match(if_match.0.as_deref(), current.version)?;
        next.version = current.version + 1;
        next.updated_at = now();
        save_versioned(
            &state.db,
            next.clone().into_active_model(),
            current.id,
            current.version,
        )
        .await?;
        let (body, tag) = tagged(next);
        Ok(Fetched::Ok(body, tag))
    }

    /// Close a station that has no shifts (admin, organizers).
    #[oai(path = "/:id", method = "delete", operation_id = "deleteStation")]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let current = managed(&state, &caller, id.0).await?;
        station::Entity::delete_by_id(current.id)
            .exec(&state.db)
            .await
            .map_err(|e| ApiError::from(e).or_referenced("the station still has shifts"))?;
        Ok(Deleted::NoContent)
    }
}

impl poem_openapi::types::Example for StationCreate {
    fn example() -> Self {
        Self {
            community_id: super::example_id(1),
            kind: StationKind::ForeignFriends,
            name: super::example_text("外国友人服务站", "Foreign Friends Service Station"),
            description: super::example_text(
                "为外籍居民提供咨询与帮助",
                "Advice and help for foreign residents",
            ),
            location: Some("Building 3, ground floor".to_owned()),
            time_zone: None,
        }
    }
}

impl poem_openapi::types::Example for StationPatch {
    fn example() -> Self {
        Self {
            location: MaybeUndefined::Value("Community centre, room 101".to_owned()),
            ..Self::default()
        }
    }
}
