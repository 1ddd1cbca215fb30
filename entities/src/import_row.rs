//! What became of one row of an import.

use sea_orm::entity::prelude::*;

use crate::enums::RowOutcome;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "import_rows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub import_id: Uuid,
    /// The row's number among the data rows, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub row: i32,
    pub outcome: RowOutcome,
    pub email: Option<String>,
    pub person_id: Option<Uuid>,
    /// The row's errors as JSON: `[{field, code, message}]`.
    pub errors: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
