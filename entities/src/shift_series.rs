//! A recurring shift: an RFC 5545 RRULE at a local time of day, expanded into shifts.

use sea_orm::entity::prelude::*;

use crate::json::TagList;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "shift_series")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub station_id: Uuid,
    pub community_id: Uuid,
    /// The rule, e.g. `FREQ=WEEKLY;BYDAY=WE`, without DTSTART, UNTIL or COUNT.
    pub rrule: String,
    /// The first day the rule may fall on.
    pub starts_on: Date,
    /// Local time of day, `HH:MM`, in `time_zone`.
    pub start_time: String,
    pub duration_minutes: i32,
    pub capacity: i32,
    pub min_volunteers: i32,
    pub languages_wanted: TagList,
    pub skills_wanted: TagList,
    pub notes: Option<String>,
    /// The station's time zone: 19:00 stays 19:00 across DST changes.
    pub time_zone: String,
    pub until: Option<Date>,
    pub count: Option<i32>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
