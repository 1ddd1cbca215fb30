//! `/v1/api-keys`

use chrono::{DateTime, Utc};
use entities::api_key;
use entities::enums::Role;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde::Deserialize;
use uuid::Uuid;

use super::{Deleted, Result, Tag};
use crate::auth::{self, Caller, NewKey, StaffKey};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::state::AppState;
use crate::time::now;

/// An API key, without its secret.
#[derive(Object)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    pub role: Role,
    pub community_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Set for sessions (a person signed in by email); other keys do not expire.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyInfo {
    fn from(m: api_key::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            role: m.role,
            community_id: m.community_id,
            person_id: m.person_id,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
            expires_at: m.expires_at,
        }
    }
}

/// A new key with its secret: shown this once, stored only as a hash.
#[derive(Object)]
pub struct NewApiKey {
    #[oai(flatten)]
    pub key: ApiKeyInfo,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

#[derive(Object, Deserialize)]
#[oai(example, skip_serializing_if_is_none)]
pub struct ApiKeyCreate {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    pub role: Role,
    /// Required for organizer keys.
    pub community_id: Option<Uuid>,
    /// Required for volunteer keys: the person the key acts for.
    pub person_id: Option<Uuid>,
}

#[derive(ApiResponse)]
pub enum KeyCreated {
    /// Created; the secret is in the body and nowhere else.
    #[oai(status = 201)]
    Created(Json<NewApiKey>),
}

/// Admins manage every key; organizers only volunteer keys of their community.
fn may_manage(caller: &Caller, key: &api_key::Model) -> bool {
    caller.is_admin()
        || (key.role == Role::Volunteer && key.community_id.is_some_and(|c| caller.can_manage(c)))
}

pub struct ApiKeysApi;

#[OpenApi(prefix_path = "/v1/api-keys", tag = "Tag::ApiKeys")]
impl ApiKeysApi {
    /// Create a key (admin; organizers may create volunteer keys for their community).
    #[oai(path = "/", method = "post", operation_id = "createApiKey")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        body: JsonBody<ApiKeyCreate>,
    ) -> Result<KeyCreated> {
        let body = body.0;
        if !caller.is_admin() {
            if body.role != Role::Volunteer || caller.role != Role::Organizer {
                return Err(ApiError::forbidden("only admins create this kind of key"));
            }
            let person = match body.person_id {
                Some(id) => {
                    entities::person::Entity::find_by_id(id)
                        .one(&state.db)
                        .await?
                }
                None => None,
            };
            if person.is_some_and(|p| !caller.can_manage(p.community_id)) {
                return Err(ApiError::forbidden(
                    "the person belongs to another community",
                ));
            }
        }
        let (model, secret) = auth::create_key(
            &state.db,
            NewKey {
                name: body.name,
                role: body.role,
                community_id: body.community_id,
                person_id: body.person_id,
            },
        )
        .await?;
        Ok(KeyCreated::Created(Json(NewApiKey {
            key: model.into(),
            secret,
        })))
    }

    /// List keys (admin: all; organizers: their community's volunteer keys).
    #[oai(path = "/", method = "get", operation_id = "listApiKeys")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<ApiKeyInfo>>> {
        if !caller.is_admin() && caller.role != Role::Organizer {
            return Err(ApiError::forbidden("volunteer keys cannot list keys"));
        }
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = api_key::Entity::find();
        if !caller.is_admin() {
            select = select
                .filter(api_key::Column::Role.eq(Role::Volunteer))
                .filter(api_key::Column::CommunityId.eq(caller.community_id));
        }
        let rows = page
            .by_id(select, api_key::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            ApiKeyInfo::from,
        )))
    }

    /// Revoke a key; it stops working at once on this server, and within
    /// `KEY_CACHE_SECONDS` (5) on other replicas of the deployment.
    #[oai(path = "/:id", method = "delete", operation_id = "revokeApiKey")]
    async fn revoke(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let key = api_key::Entity::find_by_id(id.0)
            .one(&state.db)
            .await?
            .filter(|k| may_manage(&caller, k))
            .ok_or_else(|| ApiError::not_found("API key"))?;
        if key.revoked_at.is_none() {
            let mut active = key.into_active_model();
            active.revoked_at = Set(Some(now()));
            active.update(&state.db).await?;
            state.keys.forget_all();
        }
        Ok(Deleted::NoContent)
    }
}

impl poem_openapi::types::Example for ApiKeyCreate {
    fn example() -> Self {
        Self {
            name: "Wang Fang's phone".to_owned(),
            role: Role::Volunteer,
            community_id: None,
            person_id: Some(super::example_id(3)),
        }
    }
}
