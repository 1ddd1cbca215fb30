//! `/v1/communities`

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entities::community;
use entities::enums::VolunteerApproval;
use entities::json::LocalizedText;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{Created, Deleted, Fetched, Result, Tag, check_if_match, etag};
use crate::auth::{ApiKey, Caller, StaffKey};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::state::AppState;
use crate::store::save_versioned;
use crate::time::now;
use crate::validate::Checks;

/// A residential community.
#[derive(Object)]
pub struct Community {
    pub id: Uuid,
    /// Short unique name for URLs, e.g. `huashenmiao`.
    pub slug: String,
    /// The name in several languages, keyed by locale.
    pub name: BTreeMap<String, String>,
    /// IANA time zone, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    /// The locale for texts when a person's own is missing, e.g. `zh-CN`.
    pub default_locale: String,
    /// How long before a shift or event its reminder is sent, in minutes.
    pub reminder_lead_minutes: i32,
    /// Whether volunteers who apply themselves may sign up for shifts at once
    /// (`automatic`) or after an organizer approves them (`organizer`).
    pub volunteer_approval: VolunteerApproval,
    /// ISO 3166-1 alpha-2; residents of another nationality are its foreign residents.
    pub country: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<community::Model> for Community {
    fn from(m: community::Model) -> Self {
        Self {
            id: m.id,
            slug: m.slug,
            name: m.name.0,
            time_zone: m.time_zone,
            default_locale: m.default_locale,
            reminder_lead_minutes: m.reminder_lead_minutes,
            volunteer_approval: m.volunteer_approval,
            country: m.country,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CommunityCreate {
    #[oai(validator(min_length = 2, max_length = 64, pattern = "^[a-z0-9-]+$"))]
    pub slug: String,
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub name: BTreeMap<String, String>,
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_+/-]*$"))]
    pub time_zone: String,
    #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
    pub default_locale: String,
    /// 30 minutes to 7 days; 1440 (a day) unless given.
    #[oai(validator(minimum(value = "30"), maximum(value = "10080")))]
    pub reminder_lead_minutes: Option<i32>,
    /// `automatic` unless given.
    pub volunteer_approval: Option<VolunteerApproval>,
    /// ISO 3166-1 alpha-2; `CN` unless given.
    #[oai(validator(min_length = 2, max_length = 2, pattern = "^[A-Z]{2}$"))]
    pub country: Option<String>,
}

#[derive(Object, Deserialize, Default)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CommunityPatch {
    #[oai(validator(min_length = 2, max_length = 64, pattern = "^[a-z0-9-]+$"))]
    pub slug: Option<String>,
    #[oai(validator(max_properties = 20, max_length = 200))]
    pub name: Option<BTreeMap<String, String>>,
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z][A-Za-z0-9_+/-]*$"))]
    pub time_zone: Option<String>,
    #[oai(validator(max_length = 35, pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
    pub default_locale: Option<String>,
    #[oai(validator(minimum(value = "30"), maximum(value = "10080")))]
    pub reminder_lead_minutes: Option<i32>,
    pub volunteer_approval: Option<VolunteerApproval>,
    /// ISO 3166-1 alpha-2.
    #[oai(validator(min_length = 2, max_length = 2, pattern = "^[A-Z]{2}$"))]
    pub country: Option<String>,
}

/// Huashen was built for communities in China.
pub const DEFAULT_COUNTRY: &str = "CN";

/// Reminders go out a day ahead unless the community says otherwise.
pub const DEFAULT_REMINDER_LEAD_MINUTES: i32 = 24 * 60;

fn tagged(model: community::Model) -> (Json<Community>, String) {
    let tag = etag(model.version);
    (Json(model.into()), tag)
}

/// Loads a community the caller may read; others are 404 so their existence does not leak.
/// The communities an overview covers: the one `requested` (404 if there is none), the
/// caller's own, or for an admin who names none, every community, in a stable order.
pub async fn in_scope(
    db: &DatabaseConnection,
    caller: &Caller,
    requested: Option<Uuid>,
) -> Result<(Option<Uuid>, Vec<community::Model>)> {
    let community_id = caller.list_scope(requested)?;
    let mut select = community::Entity::find().order_by_asc(community::Column::Id);
    if let Some(id) = community_id {
        select = select.filter(community::Column::Id.eq(id));
    }
    let communities = select.all(db).await?;
    if community_id.is_some() && communities.is_empty() {
        return Err(ApiError::not_found("community"));
    }
    Ok((community_id, communities))
}

async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<community::Model> {
    community::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|c| caller.can_read(c.id))
        .ok_or_else(|| ApiError::not_found("community"))
}

pub struct CommunitiesApi;

#[OpenApi(prefix_path = "/v1/communities", tag = "Tag::Communities")]
impl CommunitiesApi {
    /// Create a community (admin).
    #[oai(path = "/", method = "post", operation_id = "createCommunity")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<CommunityCreate>,
    ) -> Result<Created<Community>> {
        caller.require_admin()?;
        let body = body.0;
        let mut checks = Checks::default();
        checks.localized("name", &body.name, true);
        checks.time_zone("time_zone", &body.time_zone);
        checks.locale("default_locale", &body.default_locale);
        let country = body.country.unwrap_or_else(|| DEFAULT_COUNTRY.to_owned());
        checks.country("country", &country);
        checks.finish()?;
        let now = now();
        let model = community::ActiveModel {
            id: Set(Uuid::now_v7()),
            slug: Set(body.slug),
            name: Set(LocalizedText(body.name)),
            time_zone: Set(body.time_zone),
            default_locale: Set(body.default_locale),
            reminder_lead_minutes: Set(body
                .reminder_lead_minutes
                .unwrap_or(DEFAULT_REMINDER_LEAD_MINUTES)),
            volunteer_approval: Set(body
                .volunteer_approval
                .unwrap_or(VolunteerApproval::Automatic)),
            country: Set(country),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
        }
        .insert(&state.db)
        .await
        .map_err(|e| {
            ApiError::from(e).or_unique("slug", "a community with this slug already exists")
        })?;
        let (body, tag) = tagged(model);
        Ok(Created::Created(body, tag))
    }

    /// List communities: all for admins, their own for other keys.
    #[oai(path = "/", method = "get", operation_id = "listCommunities")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Community>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = community::Entity::find();
        if let Some(own) = caller.list_scope(None)? {
            select = select.filter(community::Column::Id.eq(own));
        }
        let rows = page
            .by_id(select, community::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Community::from,
        )))
    }

    /// Get one community.
    #[oai(path = "/:id", method = "get", operation_id = "getCommunity")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
    ) -> Result<Fetched<Community>> {
        let (body, tag) = tagged(visible(&state, &caller, id.0).await?);
        Ok(Fetched::Ok(body, tag))
    }

    /// Change a community (admin, or its organizers).
    #[oai(path = "/:id", method = "patch", operation_id = "updateCommunity")]
    async fn update(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// The ETag last read; the change is refused with 412 if it is stale.
        #[oai(name = "If-Match", validator(max_length = 200))]
        if_match: Header<Option<String>>,
        body: JsonBody<CommunityPatch>,
    ) -> Result<Fetched<Community>> {
        let current = visible(&state, &caller, id.0).await?;
        caller.require_manage(current.id)?;
        let patch = body.0;
        let mut checks = Checks::default();
        let mut next = current.clone();
        if let Some(slug) = patch.slug {
            next.slug = slug;
        }
        if let Some(name) = patch.name {
            checks.localized("name", &name, true);
            next.name = LocalizedText(name);
        }
        if let Some(zone) = patch.time_zone {
            checks.time_zone("time_zone", &zone);
            next.time_zone = zone;
        }
        if let Some(locale) = patch.default_locale {
            checks.locale("default_locale", &locale);
            next.default_locale = locale;
        }
        if let Some(lead) = patch.reminder_lead_minutes {
            next.reminder_lead_minutes = lead;
        }
        if let Some(approval) = patch.volunteer_approval {
            next.volunteer_approval = approval;
        }
        if let Some(country) = patch.country {
            checks.country("country", &country);
            next.country = country;
        }
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
        .await
        .map_err(|e| e.or_unique("slug", "a community with this slug already exists"))?;
        let (body, tag) = tagged(next);
        Ok(Fetched::Ok(body, tag))
    }

    /// Delete an empty community (admin); one that still has people, stations or events is a 409.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteCommunity")]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        caller.require_admin()?;
        let current = visible(&state, &caller, id.0).await?;
        community::Entity::delete_by_id(current.id)
            .exec(&state.db)
            .await
            .map_err(|e| {
                ApiError::from(e).or_referenced(
                    "the community still has people, stations, shifts, events or keys",
                )
            })?;
        Ok(Deleted::NoContent)
    }
}

impl poem_openapi::types::Example for CommunityCreate {
    fn example() -> Self {
        Self {
            slug: "huashenmiao".to_owned(),
            name: super::example_text("花神庙社区", "Huashenmiao Community"),
            time_zone: "Asia/Shanghai".to_owned(),
            default_locale: "zh-CN".to_owned(),
            reminder_lead_minutes: Some(1440),
            volunteer_approval: Some(VolunteerApproval::Organizer),
            country: Some("CN".to_owned()),
        }
    }
}

impl poem_openapi::types::Example for CommunityPatch {
    fn example() -> Self {
        Self {
            reminder_lead_minutes: Some(720),
            ..Self::default()
        }
    }
}
