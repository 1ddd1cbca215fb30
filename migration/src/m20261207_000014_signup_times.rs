//! A sign-up carries its shift's times, so that "a volunteer cannot hold two overlapping
//! confirmed shifts" is a rule of the table itself on PostgreSQL: an exclusion
//! constraint (`btree_gist`) refuses a second confirmed row of the same person whose
//! times overlap, whichever transactions race. A sign-up then needs no lock on the
//! person: its own look at their other shifts may miss one being confirmed meanwhile,
//! and the constraint catches that. SQLite lets one writer in at a time, and the check
//! the API makes before writing suffices.
//!
//! A database where someone already holds two such places (possible before, when two
//! changes raced) is not migrated: the migration names them, to be cancelled first.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ShiftSignups {
    Table,
    ShiftStartsAt,
    ShiftEndsAt,
}

/// The exclusion constraint's name, by which the API knows its refusals.
pub const SIGNUP_OVERLAP: &str = "ex_shift_signups_person_overlap";

/// Confirmed places of one person at overlapping times, as `person shift shift`.
const OVERLAPPING: &str = "SELECT a.person_id::text, a.shift_id::text, b.shift_id::text \
     FROM shift_signups a JOIN shift_signups b \
     ON b.person_id = a.person_id AND b.id > a.id \
     WHERE a.status = 'confirmed' AND b.status = 'confirmed' \
     AND a.shift_starts_at < b.shift_ends_at AND b.shift_starts_at < a.shift_ends_at \
     LIMIT 20";

fn on_postgres(manager: &SchemaManager<'_>) -> bool {
    manager.get_database_backend() == DbBackend::Postgres
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds a NOT NULL column only with a default; every row gets its
        // shift's times right after. (SQLite keeps the default: a row written without
        // the times would start in 1970 and clash with nothing there. Every sign-up is
        // written through `shift_signup::Model`, which has them.)
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
            let found = db
                .query_all_raw(Statement::from_string(DbBackend::Postgres, OVERLAPPING))
                .await?;
            if !found.is_empty() {
                let mut pairs = Vec::new();
                for row in found {
                    let (person, one, other): (String, String, String) =
                        row.try_get_many_by_index()?;
                    pairs.push(format!("person {person} on shifts {one} and {other}"));
                }
                return Err(DbErr::Migration(format!(
                    "some volunteers hold confirmed places on shifts at overlapping times, \
                     which this version refuses: {}. Cancel one of each pair (or record \
                     attendance, for shifts that are over) and migrate again",
                    pairs.join("; ")
                )));
            }
            db.execute_unprepared(&format!(
                "ALTER TABLE shift_signups \
                 ALTER COLUMN shift_starts_at DROP DEFAULT, \
                 ALTER COLUMN shift_ends_at DROP DEFAULT; \
                 CREATE EXTENSION IF NOT EXISTS btree_gist; \
                 ALTER TABLE shift_signups ADD CONSTRAINT {SIGNUP_OVERLAP} EXCLUDE USING gist \
                 (person_id WITH =, tstzrange(shift_starts_at, shift_ends_at) WITH &&) \
                 WHERE (status = 'confirmed')"
            ))
            .await?;
        }
        Ok(())
    }

    /// Leaves `btree_gist` installed: other objects may use it.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if on_postgres(manager) {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE shift_signups DROP CONSTRAINT {SIGNUP_OVERLAP}"
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
