//! `/v1/audit-log`: who exported or erased whose personal data.

use chrono::{DateTime, Utc};
use entities::audit_entry;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{Result, Tag};
use crate::auth::StaffKey;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::state::AppState;

#[derive(Object)]
pub struct AuditEntry {
    pub id: Uuid,
    /// `export` or `erase`.
    pub action: String,
    /// The API key that did it.
    pub api_key_id: Uuid,
    pub community_id: Uuid,
    pub person_id: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<audit_entry::Model> for AuditEntry {
    fn from(m: audit_entry::Model) -> Self {
        Self {
            id: m.id,
            action: m.action,
            api_key_id: m.api_key_id,
            community_id: m.community_id,
            person_id: m.person_id,
            created_at: m.created_at,
        }
    }
}

pub struct AuditApi;

#[OpenApi(tag = "Tag::People")]
impl AuditApi {
    /// Every export and erasure of personal data, oldest first (admin).
    #[oai(path = "/v1/audit-log", method = "get", operation_id = "listAuditLog")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        person_id: Query<Option<Uuid>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<AuditEntry>>> {
        caller.require_admin()?;
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = audit_entry::Entity::find();
        if let Some(person) = person_id.0 {
            select = select.filter(audit_entry::Column::PersonId.eq(person));
        }
        let rows = page
            .by_id(select, audit_entry::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            AuditEntry::from,
        )))
    }
}
