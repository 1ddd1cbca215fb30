//! A notice to residents: subject and Markdown body per locale, an audience, and when
//! it goes out. Its mails are rows of the ledger (kind `notice`, subject the notice).

use sea_orm::entity::prelude::*;

use crate::enums::{NoticeAudience, NoticeState};
use crate::json::LocalizedText;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub subject: LocalizedText,
    /// Markdown.
    pub body: LocalizedText,
    pub audience: NoticeAudience,
    /// The station, shift or event the audience is drawn from, if any.
    pub audience_id: Option<Uuid>,
    pub send_at: DateTimeUtc,
    pub state: NoticeState,
    /// Ledger rows written when the notice went out.
    pub recipients: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub cancelled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
