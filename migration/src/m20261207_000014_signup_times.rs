//! A sign-up carries its shift's times, so that "a volunteer cannot hold two overlapping
//! confirmed shifts" is a rule of the table itself on PostgreSQL: an exclusion
//! constraint (`btree_gist`) refuses a second confirmed row of the same person whose
//! times overlap, whichever transactions race. A sign-up then needs no lock on the
//! person and no look at their other shifts while it holds the shift's lock. SQLite
//! lets one writer in at a time, and the check the API makes before writing suffices.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ShiftSignups {
    Table,
    ShiftStartsAt,
    ShiftEndsAt,
}

const OVERLAP: &str = "ex_shift_signups_person_overlap";

fn on_postgres(manager: &SchemaManager<'_>) -> bool {
    manager.get_database_backend() == DbBackend::Postgres
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds a NOT NULL column only with a default; every row gets its
        // shift's times right after.
        for column in [ShiftSignups::ShiftStartsAt, ShiftSignups::ShiftEndsAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ShiftSignups::Table)
                        .add_column(
                            ColumnDef::new(column)
                                .timestamp_with_time_zone()
                                .not_null()
                                .default("1970-01-01 00:00:00+00:00"),
                        )
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE shift_signups SET \
             shift_starts_at = (SELECT starts_at FROM shifts WHERE shifts.id = shift_signups.shift_id), \
             shift_ends_at = (SELECT ends_at FROM shifts WHERE shifts.id = shift_signups.shift_id)",
        )
        .await?;
        if on_postgres(manager) {
            db.execute_unprepared(&format!(
                "ALTER TABLE shift_signups \
                 ALTER COLUMN shift_starts_at DROP DEFAULT, \
                 ALTER COLUMN shift_ends_at DROP DEFAULT; \
                 CREATE EXTENSION IF NOT EXISTS btree_gist; \
                 ALTER TABLE shift_signups ADD CONSTRAINT {OVERLAP} EXCLUDE USING gist \
                 (person_id WITH =, tstzrange(shift_starts_at, shift_ends_at) WITH &&) \
                 WHERE (status = 'confirmed')"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if on_postgres(manager) {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE shift_signups DROP CONSTRAINT {OVERLAP}"
                ))
                .await?;
        }
        for column in [ShiftSignups::ShiftStartsAt, ShiftSignups::ShiftEndsAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ShiftSignups::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
