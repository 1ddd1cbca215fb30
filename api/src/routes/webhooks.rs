//! `/v1/webhooks`: events pushed to third-party front-ends.

use chrono::{DateTime, Utc};
use entities::enums::DeliveryStatus;
use entities::json::TagList;
use entities::{webhook, webhook_delivery};
use huashen_worker::webhooks::{EVENT_TYPES, check_target, new_secret};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;
use uuid::Uuid;

use super::{Deleted, Result, Tag};
use crate::auth::{ApiKey, Caller};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::state::AppState;
use crate::time::now;

#[derive(Object)]
pub struct Webhook {
    pub id: Uuid,
    pub community_id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    /// Set when the receiver answered 410 Gone.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<webhook::Model> for Webhook {
    fn from(m: webhook::Model) -> Self {
        Self {
            id: m.id,
            community_id: m.community_id,
            url: m.url,
            event_types: m.event_types.0,
            disabled_at: m.disabled_at,
            disabled_reason: m.disabled_reason,
            created_at: m.created_at,
        }
    }
}

/// A new webhook with its signing secret, shown this once.
#[derive(Object)]
pub struct NewWebhook {
    #[oai(flatten)]
    pub webhook: Webhook,
    /// Verify `webhook-signature` with it (Standard Webhooks: HMAC-SHA256 over
    /// `webhook-id.webhook-timestamp.body`).
    pub secret: String,
}

#[derive(Object, Deserialize)]
pub struct WebhookCreate {
    /// Required for admin keys; organizers subscribe for their own community.
    pub community_id: Option<Uuid>,
    pub url: String,
    /// Some of: signup.created, signup.cancelled, signup.promoted, registration.created,
    /// registration.cancelled, registration.promoted, event.published, event.cancelled,
    /// shift.cancelled, feedback.submitted.
    pub event_types: Vec<String>,
}

#[derive(Object)]
pub struct Delivery {
    pub id: Uuid,
    pub event_type: String,
    /// The body as sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<webhook_delivery::Model> for Delivery {
    fn from(m: webhook_delivery::Model) -> Self {
        Self {
            id: m.id,
            event_type: m.event_type,
            payload: m.payload,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_status: m.last_status,
            last_error: m.last_error,
            delivered_at: m.delivered_at,
            created_at: m.created_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum WebhookCreated {
    /// Subscribed; the secret is in the body and nowhere else.
    #[oai(status = 201)]
    Created(Json<NewWebhook>),
}

async fn managed(state: &AppState, caller: &Caller, id: Uuid) -> Result<webhook::Model> {
    webhook::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|w| caller.can_manage(w.community_id))
        .ok_or_else(|| ApiError::not_found("webhook"))
}

pub struct WebhooksApi;

#[OpenApi(prefix_path = "/v1/webhooks", tag = "Tag::Webhooks")]
impl WebhooksApi {
    /// Subscribe a URL to events of a community (organizers, admins). Targets in
    /// loopback or private ranges are refused unless the operator allows their host.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        body: JsonBody<WebhookCreate>,
    ) -> Result<WebhookCreated> {
        let body = body.0;
        let Some(community_id) = caller.list_scope(body.community_id)? else {
            return Err(ApiError::invalid(
                "community_id",
                "required",
                "admins name the community",
            ));
        };
        caller.require_manage(community_id)?;
        if body.event_types.is_empty() {
            return Err(ApiError::invalid(
                "event_types",
                "required",
                "subscribe to at least one event type",
            ));
        }
        if let Some(unknown) = body
            .event_types
            .iter()
            .find(|t| !EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(ApiError::invalid(
                "event_types",
                "invalid_choice",
                format!("`{unknown}` is not an event type"),
            ));
        }
        if body.url.len() > 2000 {
            return Err(ApiError::invalid(
                "url",
                "length",
                "at most 2000 characters",
            ));
        }
        check_target(&body.url, &state.settings.webhook_allowed_hosts)
            .await
            .map_err(|reason| ApiError::invalid("url", "target_refused", reason))?;
        let secret = new_secret();
        let hook = webhook::ActiveModel {
            id: Set(Uuid::now_v7()),
            community_id: Set(community_id),
            url: Set(body.url),
            event_types: Set(TagList(body.event_types)),
            secret: Set(secret.clone()),
            disabled_at: Set(None),
            disabled_reason: Set(None),
            created_at: Set(now()),
        }
        .insert(&state.db)
        .await?;
        Ok(WebhookCreated::Created(Json(NewWebhook {
            webhook: hook.into(),
            secret,
        })))
    }

    /// List webhooks (admin: all; organizers: their community's).
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Webhook>>> {
        if caller.role == entities::enums::Role::Volunteer {
            return Err(ApiError::forbidden("webhooks are for organizers"));
        }
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = webhook::Entity::find();
        if let Some(community) = caller.list_scope(None)? {
            select = select.filter(webhook::Column::CommunityId.eq(community));
        }
        let rows = page
            .by_id(select, webhook::Column::Id)
            .all(&state.db)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Webhook::from,
        )))
    }

    /// Remove a webhook and its delivery log.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let hook = managed(&state, &caller, id.0).await?;
        webhook::Entity::delete_by_id(hook.id)
            .exec(&state.db)
            .await?;
        Ok(Deleted::NoContent)
    }

    /// The delivery log of a webhook, oldest first.
    #[oai(path = "/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        state: poem::web::Data<&AppState>,
        ApiKey(caller): ApiKey,
        id: Path<Uuid>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Delivery>>> {
        let hook = managed(&state, &caller, id.0).await?;
        let page = PageRequest::new(limit.0, cursor.0)?;
        let select = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::WebhookId.eq(hook.id));
        let rows = page
            .by_id(select, webhook_delivery::Column::Id)
            .all(&state.db)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Delivery::from,
        )))
    }
}
