//! A volunteer's place (or place in line) on a shift.

use sea_orm::entity::prelude::*;

use crate::enums::{CancelReason, SignupStatus};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "shift_signups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shift_id: Uuid,
    pub person_id: Uuid,
    pub status: SignupStatus,
    /// 1-based while waitlisted, otherwise empty.
    pub waitlist_position: Option<i32>,
    pub hours_credited: Option<f64>,
    /// When the sign-up last moved from the waitlist to confirmed.
    pub promoted_at: Option<DateTimeUtc>,
    /// `withdrawn` (the person or an organizer) or `shift_cancelled`.
    pub cancel_reason: Option<CancelReason>,
    /// The shift's times, kept with the sign-up so that PostgreSQL itself refuses a
    /// second confirmed place of the same person at the same time.
    pub shift_starts_at: DateTimeUtc,
    pub shift_ends_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::shift::Entity",
        from = "Column::ShiftId",
        to = "super::shift::Column::Id"
    )]
    Shift,
    #[sea_orm(
        belongs_to = "super::person::Entity",
        from = "Column::PersonId",
        to = "super::person::Column::Id"
    )]
    Person,
}

impl Related<super::shift::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Shift.def()
    }
}

impl Related<super::person::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Person.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
