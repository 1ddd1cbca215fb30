//! `/v1/webhooks`: events pushed to third-party front-ends.

use chrono::{DateTime, Utc};
use entities::enums::{DeliveryStatus, WebhookEventType};
use entities::json::TagList;
use entities::{webhook, webhook_delivery};
use huashen_worker::webhooks::{check_target, new_secret};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;
use uuid::Uuid;

use super::{Deleted, Result, Tag};
use crate::auth::{Caller, StaffKey};
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
    pub event_types: Vec<WebhookEventType>,
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
            event_types: m
                .event_types
                .0
                .iter()
                .filter_map(|t| WebhookEventType::parse(t))
                .collect(),
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
#[oai(example, skip_serializing_if_is_none)]
pub struct WebhookCreate {
    /// Required for admin keys; organizers subscribe for their own community.
    pub community_id: Option<Uuid>,
    /// Where events are posted: `https://…`; loopback and private targets are refused
    /// unless the deployment allows their host.
    #[oai(validator(max_length = 2000, pattern = "^https?://"))]
    pub url: String,
    /// The events to receive, at least one.
    #[oai(validator(min_items = 1, max_items = 10, unique_items))]
    pub event_types: Vec<WebhookEventType>,
}

/// What a webhook receives: a `POST` of this JSON, signed as Standard Webhooks does
/// (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Fetch `data.url` with an
/// API key for the current state of what changed.
#[derive(Object, Deserialize)]
pub struct WebhookPayload {
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub event_type: WebhookEventType,
    /// The delivery's id, also sent as `webhook-id`; receivers drop repeats of it.
    pub id: Uuid,
    pub timestamp: DateTime<Utc>,
    pub data: WebhookPayloadData,
}

#[derive(Object, Deserialize)]
pub struct WebhookPayloadData {
    /// The API path of the changed resource, e.g. `/v1/shifts/{id}/signups`.
    pub url: String,
}

#[derive(Object)]
pub struct Delivery {
    pub id: Uuid,
    pub event_type: WebhookEventType,
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
    #[oai(path = "/", method = "post", operation_id = "createWebhook")]
    async fn create(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
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
        check_target(&body.url, &state.settings.webhook_allowed_hosts)
            .await
            .map_err(|reason| ApiError::invalid("url", "target_refused", reason))?;
        let secret = new_secret();
        let hook = webhook::ActiveModel {
            id: Set(Uuid::now_v7()),
            community_id: Set(community_id),
            url: Set(body.url),
            event_types: Set(TagList(
                body.event_types
                    .iter()
                    .map(|t| t.as_str().to_owned())
                    .collect(),
            )),
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
    #[oai(path = "/", method = "get", operation_id = "listWebhooks")]
    async fn list(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Webhook>>> {
        let page = PageRequest::new(limit.0, cursor.0)?;
        let mut select = webhook::Entity::find();
        if let Some(community) = caller.list_scope(None)? {
            select = select.filter(webhook::Column::CommunityId.eq(community));
        }
        let rows = page
            .by_id(select, webhook::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Webhook::from,
        )))
    }

    /// Remove a webhook and its delivery log.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteWebhook")]
    async fn delete(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
    ) -> Result<Deleted> {
        let hook = managed(&state, &caller, id.0).await?;
        webhook::Entity::delete_by_id(hook.id)
            .exec(&state.db)
            .await?;
        Ok(Deleted::NoContent)
    }

    /// The delivery log of a webhook, oldest first.
    #[oai(
        path = "/:id/deliveries",
        method = "get",
        operation_id = "listWebhookDeliveries"
    )]
    async fn deliveries(
        &self,
        state: poem::web::Data<&AppState>,
        StaffKey(caller): StaffKey,
        id: Path<Uuid>,
        /// Page size, 1–200.
        limit: Query<Option<i64>>,
        /// From `next_cursor` of the previous page.
        #[oai(validator(max_length = 512, pattern = "^[A-Za-z0-9_-]+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<Page<Delivery>>> {
        let hook = managed(&state, &caller, id.0).await?;
        let page = PageRequest::new(limit.0, cursor.0)?;
        let select = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::WebhookId.eq(hook.id));
        let rows = page
            .by_id(select, webhook_delivery::Column::Id)
            .all(&state.reads)
            .await?;
        Ok(Json(page.finish(
            rows,
            |m| Cursor { at: None, id: m.id },
            Delivery::from,
        )))
    }
}

impl poem_openapi::types::Example for WebhookCreate {
    fn example() -> Self {
        Self {
            community_id: Some(super::example_id(1)),
            url: "https://portal.example.cn/hooks/huashen".to_owned(),
            event_types: vec![
                WebhookEventType::SignupCreated,
                WebhookEventType::SignupCancelled,
            ],
        }
    }
}
