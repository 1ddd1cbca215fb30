//! The delivery ledger: one row per mail that is due, with its fate.

use sea_orm::entity::prelude::*;

use crate::enums::{MailKind, NotificationStatus, SubjectType};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    /// welcome, shift_reminder, birthday, …
    pub kind: MailKind,
    pub recipient_id: Option<Uuid>,
    pub subject_type: SubjectType,
    pub subject_id: Uuid,
    /// At most one notification per key, e.g. `birthday:{person}:{year}`.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub locale: String,
    pub status: NotificationStatus,
    pub due_at: DateTimeUtc,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub skip_reason: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    /// A sender holds the row until then; afterwards it may be taken again.
    pub locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
