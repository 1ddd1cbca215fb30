//! Care given to a resident: a call, a visit, flowers in hard times (慰问一束花), a
//! farewell gift.

use sea_orm::entity::prelude::*;

use crate::enums::CareKind;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "care_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub community_id: Uuid,
    /// The plan this fulfils, if any; logging it moves the plan's next due date.
    pub care_plan_id: Option<Uuid>,
    pub kind: CareKind,
    pub happened_on: Date,
    /// Who gave the care.
    pub by_person_id: Option<Uuid>,
    pub outcome: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
