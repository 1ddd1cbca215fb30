//! A plan for regular care of a resident: a call or a visit every so many days,
//! assigned to a volunteer or organizer (日常一个电).

use sea_orm::entity::prelude::*;

use crate::enums::CareKind;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "care_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The resident cared for.
    pub person_id: Uuid,
    pub community_id: Uuid,
    /// `call` or `visit`.
    pub kind: CareKind,
    pub every_days: i32,
    /// Who makes the call or visit, and is reminded of it.
    pub assignee_id: Uuid,
    pub next_due_on: Date,
    pub notes: Option<String>,
    pub ended_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
