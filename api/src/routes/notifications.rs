//! `/v1/notifications`: the delivery ledger, for organizers to see what went out.

use chrono::{DateTime, Utc};
use entities::enums::{MailKind, NotificationStatus, SubjectType};
use entities::notification;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use uuid::Uuid;

use super::{Result, Tag};
use crate::auth::{Caller, StaffKey};
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::state::AppState;
use crate::time::now;

/// One mail in the ledger and its fate.
#[derive(Object)]
pub struct Notification {
    pub id: Uuid,
    pub community_id: Uuid,
    pub kind: MailKind,
    pub recipient_id: Option<Uuid>,
    pub subject_type: SubjectType,
    pub subject_id: Uuid,
    /// Unique: the same fact never yields two mails.
    pub dedupe_key: String,
    pub locale: String,
    pub status: NotificationStatus,
    pub due_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Why it was skipped or missed.
    pub skip_reason: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<notification::Model> for Notification {
    fn from(m: notification::Model) -> Self {
        Self {
            id: m.id,
            community_id: m.community_id,
            kind: m.kind,
            recipient_id: m.recipient_id,
            subject_type: m.subject_type,
            subject_id: m.subject_id,
            dedupe_key: m.dedupe_key,
            locale: m.locale,
            status: m.status,
            due_at: m.due_at,
            attempts: m.attempts,
            last_error: m.last_error,
            skip_reason: m.skip_reason,
            sent_at: m.sent_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<notification::Model> {
    notification::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|n| caller.can_manage(n.community_id))
        .ok_or_else(|| ApiError::not_found("notification"))
}

pub struct NotificationsApi;

#[OpenApi(prefix_path = "/v1/notifications", tag = "Tag::Notifications")]
impl NotificationsApi {
    /// The ledger, newest planned last (admin: all; organizers: their community).
    #[oai(path = "/", method = "get", operation_id = "listNotifications")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        community_id: Query<Option<Uuid>>,
        kind: Query<Option<MailKind>>,
        status: Query<Option<NotificationStatus>>,
        /// Mails to this person.
        person_id: Query<Option<Uuid>>,
        /// Planned at or after this time.
        since: Query<Option<DateTime<Utc>>>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Notification>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = notification::Entity::find();
        if let Some(community) = caller.list_scope(community_id.0)? {
            select = select.filter(notification::Column::CommunityId.eq(community));
        }
        if let Some(kind) = kind.0 {
            select = select.filter(notification::Column::Kind.eq(kind));
        }
        if let Some(status) = status.0 {
            select = select.filter(notification::Column::Status.eq(status));
        }
        if let Some(person) = person_id.0 {
            select = select.filter(notification::Column::RecipientId.eq(person));
        }
        if let Some(since) = since.0 {
            select = select.filter(notification::Column::CreatedAt.gte(since));
        }
        let rows = page
            .by_id(select, notification::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Notification::from,
        )))
    }

    /// One mail of the ledger.
    #[oai(path = "/:id", method = "get", operation_id = "getNotification")]
    async fn get(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Json<Notification>> {
        Ok(Json(visible(&state, &caller, id.0).await?.into()))
    }

    /// Queue a failed mail again; the worker sends it on its next run.
    #[oai(
        path = "/:id/retry",
        method = "post",
        operation_id = "retryNotification"
    )]
    async fn retry(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Json<Notification>> {
        let row = visible(&state, &caller, id.0).await?;
        if row.status != NotificationStatus::Failed {
            return Err(ApiError::conflict(format!(
                "only failed mails are retried; this one is {}",
                row.status.as_str()
            )));
        }
        let now = now();
        let mut active = row.into_active_model();
        active.status = Set(NotificationStatus::Queued);
        active.attempts = Set(0);
        active.due_at = Set(now);
        active.locked_until = Set(None);
        active.updated_at = Set(now);
        Ok(Json(active.update(&state.db).await?.into()))
    }
}
