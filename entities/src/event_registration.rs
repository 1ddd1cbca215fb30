//! A resident's registration (or place in line) for an event.

use sea_orm::entity::prelude::*;

use crate::enums::{CancelReason, RegistrationStatus};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event_registrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    pub person_id: Uuid,
    pub status: RegistrationStatus,
    pub waitlist_position: Option<i32>,
    pub checked_in_at: Option<DateTimeUtc>,
    /// When the registration last moved from the waitlist to registered.
    pub promoted_at: Option<DateTimeUtc>,
    /// `withdrawn` (the person or an organizer) or `event_cancelled`.
    pub cancel_reason: Option<CancelReason>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::event::Entity",
        from = "Column::EventId",
        to = "super::event::Column::Id"
    )]
    Event,
    #[sea_orm(
        belongs_to = "super::person::Entity",
        from = "Column::PersonId",
        to = "super::person::Column::Id"
    )]
    Person,
}

impl Related<super::event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Event.def()
    }
}

impl Related<super::person::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Person.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
