//! A service station of a community (Foreign Friends Service Station, English Corner…).

use sea_orm::entity::prelude::*;

use crate::enums::StationKind;
use crate::json::LocalizedText;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub kind: StationKind,
    pub name: LocalizedText,
    pub description: LocalizedText,
    pub location: Option<String>,
    pub time_zone: String,
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
    #[sea_orm(has_many = "super::shift::Entity")]
    Shift,
}

impl Related<super::community::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Community.def()
    }
}

impl Related<super::shift::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Shift.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
