//! One event sent (or to be sent) to one webhook.

use sea_orm::entity::prelude::*;

use crate::enums::{DeliveryStatus, WebhookEventType};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_type: WebhookEventType,
    /// The JSON body, exactly as signed and sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the worker may try (again); also holds a delivery while it is under way.
    pub next_attempt_at: DateTimeUtc,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
