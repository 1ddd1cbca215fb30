//! A cultural-exchange event residents register for.

use sea_orm::entity::prelude::*;

use crate::enums::EventStatus;
use crate::json::LocalizedText;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub title: LocalizedText,
    pub description: LocalizedText,
    pub category: String,
    pub venue: Option<String>,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub capacity: i32,
    pub registration_opens_at: Option<DateTimeUtc>,
    pub registration_closes_at: Option<DateTimeUtc>,
    pub status: EventStatus,
    pub registered_count: i32,
    pub waitlist_count: i32,
    pub cancelled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::community::Entity",
        from = "Column::CommunityId",
        to = "super::community::Column::Id"
    )]
    Community,
    #[sea_orm(has_many = "super::event_registration::Entity")]
    EventRegistration,
}

impl Related<super::community::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Community.def()
    }
}

impl Related<super::event_registration::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EventRegistration.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
