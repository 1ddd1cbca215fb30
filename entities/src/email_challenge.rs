//! An emailed one-time code and link: to sign in, to confirm an applicant's address,
//! or to confirm a new address. The secrets are made when the mail is rendered and
//! only their SHA-256 is stored.

use sea_orm::entity::prelude::*;

use crate::enums::ChallengePurpose;

/// How long a code or link works.
pub const VALID_MINUTES: i64 = 15;
/// Wrong codes after which a challenge is dead.
pub const MAX_FAILED_ATTEMPTS: i32 = 5;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "email_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub person_id: Uuid,
    pub purpose: ChallengePurpose,
    /// Where the code goes: the person's address, or the new one for `change_email`.
    pub email: String,
    /// Unset until the mail is rendered.
    pub code_hash: Option<String>,
    #[sea_orm(unique)]
    pub token_hash: Option<String>,
    pub failed_attempts: i32,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// Set when the code was used, or when a newer code replaced it.
    pub used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
