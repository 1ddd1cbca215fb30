//! A front-end's subscription to events of one community.

use sea_orm::entity::prelude::*;

use crate::json::TagList;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub url: String,
    /// E.g. `signup.created`, `event.cancelled`.
    pub event_types: TagList,
    /// `whsec_…`: signs every delivery (HMAC-SHA256, as Standard Webhooks does).
    pub secret: String,
    /// Set when the receiver answered 410 Gone, or an organizer turned it off.
    pub disabled_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
