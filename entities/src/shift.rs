//! A shift at a station: a time slot that volunteers sign up for.

use sea_orm::entity::prelude::*;
use sea_orm::sqlx::types::Json;
use sea_orm::{FromQueryResult, QueryResult};

use crate::cells::Cells;
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
    /// Each sign-up keeps a copy of the times (for PostgreSQL's overlap constraint):
    /// new times go through `signups::reschedule` in the API, which moves them.
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

impl Model {
    /// A row of `Entity::find()` read by position (see `cells`): the shift list's reader.
    pub fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        let Some(cells) = Cells::of::<Column>(row) else {
            return Self::from_query_result(row, "");
        };
        Ok(Self {
            id: cells.get(0)?,
            station_id: cells.get(1)?,
            community_id: cells.get(2)?,
            starts_at: cells.get(3)?,
            ends_at: cells.get(4)?,
            capacity: cells.get(5)?,
            min_volunteers: cells.get(6)?,
            languages_wanted: cells.get::<Json<TagList>>(7)?.0,
            skills_wanted: cells.get::<Json<TagList>>(8)?.0,
            notes: cells.get(9)?,
            status: ShiftStatus::try_from_value(&cells.get(10)?)?,
            confirmed_count: cells.get(11)?,
            waitlist_count: cells.get(12)?,
            cancelled_at: cells.get(13)?,
            series_id: cells.get(14)?,
            created_at: cells.get(15)?,
            updated_at: cells.get(16)?,
            version: cells.get(17)?,
        })
    }
}
