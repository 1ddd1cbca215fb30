//! Reading a row's cells by position, for the lists read most often.
//!
//! sea-orm's derived reader looks each column up by name, checks its type, and for
//! every NULL formats an error message that `Option` then throws away. A row of
//! `Entity::find()` holds the entity's columns in `Column` order, so a model read that
//! often can be read cell by cell instead (see `shift::Model::from_row`).

use std::sync::Arc;

use sea_orm::sqlx::postgres::{PgRow, Postgres};
use sea_orm::sqlx::sqlite::{Sqlite, SqliteRow};
use sea_orm::sqlx::{self, Decode, Row};
use sea_orm::{DbErr, IdenStatic, QueryResult, RuntimeErr};

/// The cells of one row, on either database.
pub enum Cells<'a> {
    Postgres(&'a PgRow),
    Sqlite(&'a SqliteRow),
}

impl<'a> Cells<'a> {
    /// The cells of `row`, a row of the columns `C` in their order (checked in debug
    /// builds); `None` on a database without cells.
    pub fn of<C: sea_orm::Iterable + IdenStatic>(row: &'a QueryResult) -> Option<Self> {
        let cells = match (row.try_as_pg_row(), row.try_as_sqlite_row()) {
            (Some(row), _) => Self::Postgres(row),
            (_, Some(row)) => Self::Sqlite(row),
            _ => return None,
        };
        debug_assert_eq!(
            cells.names(),
            C::iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "the row's columns, in order"
        );
        Some(cells)
    }

    fn names(&self) -> Vec<&str> {
        use sqlx::Column as _;
        match self {
            Self::Postgres(row) => row.columns().iter().map(|c| c.name()).collect(),
            Self::Sqlite(row) => row.columns().iter().map(|c| c.name()).collect(),
        }
    }

    /// The cell at `index`, decoded as `T` (`Option<T>` for a column that may be NULL).
    pub fn get<T>(&self, index: usize) -> Result<T, DbErr>
    where
        T: for<'r> Decode<'r, Postgres> + for<'r> Decode<'r, Sqlite>,
    {
        // The column types are the migrations'; `Cells::of` checked the order.
        match self {
            Self::Postgres(row) => row.try_get_unchecked(index),
            Self::Sqlite(row) => row.try_get_unchecked(index),
        }
        .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))))
    }
}
