//! A bulk import of people, run as a job: its options, its progress and its totals.

use sea_orm::entity::prelude::*;

use crate::enums::{ImportFormat, ImportMail, ImportState};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub format: ImportFormat,
    pub dry_run: bool,
    pub atomic: bool,
    pub mail: ImportMail,
    pub state: ImportState,
    pub rows_total: i32,
    pub rows_done: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub errors: i32,
    /// Why a failed import failed.
    pub failure: Option<String>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
