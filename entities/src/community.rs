//! A residential community, such as Huashenmiao.

use sea_orm::entity::prelude::*;

use crate::enums::VolunteerApproval;
use crate::json::LocalizedText;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "communities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: LocalizedText,
    pub time_zone: String,
    pub default_locale: String,
    /// How long before a shift or event its reminder goes out.
    pub reminder_lead_minutes: i32,
    /// Whether volunteers who apply themselves may sign up at once or wait for an organizer.
    pub volunteer_approval: VolunteerApproval,
    /// ISO 3166-1 alpha-2; residents of another nationality are its foreign residents.
    pub country: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Bumped on every change; the resource's ETag.
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::person::Entity")]
    Person,
    #[sea_orm(has_many = "super::station::Entity")]
    Station,
    #[sea_orm(has_many = "super::event::Entity")]
    Event,
}

impl Related<super::person::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Person.def()
    }
}

impl Related<super::station::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Station.def()
    }
}

impl Related<super::event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Event.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
