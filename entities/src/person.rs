//! A resident or volunteer of a community.

use sea_orm::entity::prelude::*;

use crate::enums::PersonStatus;
use crate::json::TagList;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub full_name: String,
    /// As given; uniqueness is checked on `email_normalized`.
    pub email: String,
    /// Lower-cased email, unique per community.
    pub email_normalized: String,
    pub phone: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub nationality: String,
    /// BCP 47 tag, e.g. `zh-CN`, `en`.
    pub locale: String,
    /// IANA time zone.
    pub time_zone: String,
    pub birthday: Option<Date>,
    /// `MM-DD` of the birthday, indexed so the planner finds today's birthdays.
    pub birthday_md: Option<String>,
    pub languages: TagList,
    pub skills: TagList,
    pub is_volunteer: bool,
    /// Receives the organizer digest.
    pub is_organizer: bool,
    pub moved_in_on: Option<Date>,
    pub moving_out_on: Option<Date>,
    pub notify_reminders: bool,
    pub notify_birthday: bool,
    pub notify_feedback: bool,
    pub notify_notices: bool,
    pub notify_surveys: bool,
    /// Set once the person's data was erased; the row stays so totals stay right.
    pub erased_at: Option<DateTimeUtc>,
    /// SHA-256 of the secret in the person's calendar feed URL; empty when revoked.
    pub calendar_token_hash: Option<String>,
    /// `pending` while an applicant volunteer awaits an organizer's approval.
    pub status: PersonStatus,
    /// When the person proved the address is theirs (an emailed code); unset for
    /// applicants who have not yet.
    pub email_verified_at: Option<DateTimeUtc>,
    /// The version of the consent text the person accepted when applying, and when.
    pub consent_version: Option<String>,
    pub consent_at: Option<DateTimeUtc>,
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
}

impl Related<super::community::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Community.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
