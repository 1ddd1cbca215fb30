//! Feedback on an event, given through a one-time token sent by mail.

use sea_orm::entity::prelude::*;

/// How long a feedback link stays valid.
pub const TOKEN_DAYS: i64 = 30;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "feedback")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    #[sea_orm(unique)]
    pub registration_id: Uuid,
    /// Empty once the person's data has been erased.
    pub person_id: Option<Uuid>,
    /// `token::hash_token` of the token; the token itself is only ever in the mail.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub rating: Option<i32>,
    pub comment: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::event::Entity",
        from = "Column::EventId",
        to = "super::event::Column::Id"
    )]
    Event,
}

impl Related<super::event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Event.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
