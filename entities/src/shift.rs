//! A shift at a station: a time slot that volunteers sign up for.

use sea_orm::entity::prelude::*;

use crate::enums::ShiftStatus;
use crate::json::TagList;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "shifts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub station_id: Uuid,
    /// The station's community, kept here so scope checks and filters need no join.
    pub community_id: Uuid,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub capacity: i32,
    pub min_volunteers: i32,
    pub languages_wanted: TagList,
    pub skills_wanted: TagList,
    pub notes: Option<String>,
    pub status: ShiftStatus,
    /// Maintained in the same transaction as the sign-ups they count.
    pub confirmed_count: i32,
    pub waitlist_count: i32,
    pub cancelled_at: Option<DateTimeUtc>,
    /// The series this shift was expanded from, if any.
    pub series_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::station::Entity",
        from = "Column::StationId",
        to = "super::station::Column::Id"
    )]
    Station,
    #[sea_orm(has_many = "super::shift_signup::Entity")]
    ShiftSignup,
}

impl Related<super::station::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Station.def()
    }
}

impl Related<super::shift_signup::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ShiftSignup.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
