//! An API key or a session key: a random secret, stored only as its SHA-256 hash,
//! with a role.

use sea_orm::entity::prelude::*;

use crate::enums::Role;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// The first characters of the secret, to tell keys apart in lists.
    pub prefix: String,
    #[sea_orm(unique)]
    pub secret_hash: String,
    pub role: Role,
    /// Set for organizer keys (their community) and volunteer keys.
    pub community_id: Option<Uuid>,
    /// Set for volunteer keys: the one person the key acts for.
    pub person_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// Set for session keys (a person signed in by email); unset keys do not expire.
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
